-- The scheduler: sockit.spawn, sockit.run, sockit.sleep, and every sockit
-- call that waits, inside tasks.
--
-- Streams that wait for a peer carry a timeout of a few seconds: a
-- scheduler that failed to run the other tasks then fails the test with
-- ETIMEDOUT instead of hanging the run.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local net = require("support.net")
local proc = require("support.proc")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")
local wait = require("sockit.wait")
local it54 = require("support.lua54")(it, pending)

local SAFETY = 20  -- seconds, the timeout of streams that wait for a peer

-- two sockit streams over a socketpair, closed at the end of the test
local function streams(timeout)
  local a, b = assert(core.socketpair())
  local sa = sockit.stream(a, {timeout = timeout or SAFETY})
  local sb = sockit.stream(b, {timeout = timeout or SAFETY})
  finally(function()
    sa:close()
    sb:close()
  end)
  return sa, sb
end

-- runs the loop; the errors of tasks are collected, not raised
local function runall()
  local errors = {}
  assert.is_true(sockit.run(function(err, task)
    errors[#errors + 1] = {err = err, task = task}
  end))
  return errors
end

-- runs the loop and fails on the first task error, with its traceback
local function run()
  assert.is_true(sockit.run())
end

describe("sockit.spawn and sockit.run", function()
  it("run returns true at once when there is no task", function()
    assert.is_true(sockit.run())
  end)

  it("runs the tasks in the order they were spawned, with their arguments", function()
    local seen = {}
    for i = 1, 5 do
      sockit.spawn(function(a, b, c)
        seen[#seen + 1] = ("%d %s %s %s"):format(i, a, b, tostring(c))
      end, "x", i * 10, nil)
    end
    run()
    assert.are.same({"1 x 10 nil", "2 x 20 nil", "3 x 30 nil", "4 x 40 nil",
                     "5 x 50 nil"}, seen)
  end)

  it("gives each task as a coroutine, dead once it returned", function()
    local inside
    local task = sockit.spawn(function() inside = wait.current() end)
    assert.are.equal("thread", type(task))
    assert.are.equal("suspended", coroutine.status(task))
    run()
    assert.are.equal(task, inside)
    assert.are.equal("dead", coroutine.status(task))
    assert.is_nil(wait.current())
  end)

  it("takes callable tables", function()
    local called = false
    sockit.spawn(setmetatable({}, {__call = function() called = true end}))
    run()
    assert.is_true(called)
  end)

  it("starts a task spawned by a task once the spawner yields", function()
    local seen = {}
    sockit.spawn(function()
      seen[#seen + 1] = "parent starts"
      sockit.spawn(function() seen[#seen + 1] = "child" end)
      seen[#seen + 1] = "parent goes on"
      sockit.sleep(0)
      seen[#seen + 1] = "parent ends"
    end)
    run()
    assert.are.same({"parent starts", "parent goes on", "child", "parent ends"}, seen)
  end)

  it("lets the other tasks run at a plain coroutine.yield()", function()
    local seen = {}
    for _, name in ipairs({"a", "b"}) do
      sockit.spawn(function()
        for i = 1, 3 do
          seen[#seen + 1] = name .. i
          coroutine.yield("anything")
        end
      end)
    end
    run()
    assert.are.same({"a1", "b1", "a2", "b2", "a3", "b3"}, seen)
  end)

  it("raises for a task that is not callable", function()
    assert.has_error(function() sockit.spawn() end,
                     "bad argument #1 to 'spawn' (function expected, got no value)")
    assert.has_error(function() sockit.spawn(42) end,
                     "bad argument #1 to 'spawn' (function expected, got number)")
  end)

  it("raises for an error handler that is not callable", function()
    assert.has_error(function() sockit.run("print") end,
                     "bad argument #1 to 'run' (function expected, got string)")
  end)

  it("raises when run is called inside a task", function()
    sockit.spawn(function() sockit.run() end)
    local errors = runall()
    assert.are.equal(1, #errors)
    assert.matches("sockit.run called inside a task", errors[1].err)
  end)

  it("does not treat a coroutine inside a task as the task", function()
    local inner
    sockit.spawn(function()
      inner = coroutine.wrap(function() return wait.current() end)()
    end)
    run()
    assert.is_nil(inner)
  end)
end)

describe("tasks on socketpairs", function()
  it("pass a token around a ring of 200 tasks, 10 times", function()
    local n, rounds = 200, 10
    local ring = {}
    for i = 1, n do ring[i] = {streams()} end
    -- task i reads from pair i - 1 and writes to pair i: each waits for
    -- the one before it, so only tasks that interleave get anywhere
    local final
    for i = 1, n do
      sockit.spawn(function()
        local left, right = ring[(i - 2) % n + 1][2], ring[i][1]
        if i == 1 then assert(right:write("0\n")) end
        for r = 1, rounds do
          local v = assert(left:read("n"))
          if i == 1 and r == rounds then
            final = v
          else
            assert(right:write(v + 1, "\n"))
          end
        end
      end)
    end
    run()
    assert.are.equal(n * rounds - 1, final)
  end)

  it("move a megabyte each way on 50 pairs at once, writers waiting for room", function()
    local size = 1024 * 1024
    local data = net.bytes(size)
    local got = {}
    for i = 1, 50 do
      local a, b = streams()
      sockit.spawn(function() assert(a:write(data)); a:shutdown("w") end)
      sockit.spawn(function() assert(b:write(data:reverse())); b:shutdown("w") end)
      sockit.spawn(function() got[i * 2 - 1] = assert(b:read("a")) end)
      sockit.spawn(function() got[i * 2] = assert(a:read("a")) end)
    end
    run()
    local rev = data:reverse()
    for i = 1, 100 do
      assert(got[i] == (i % 2 == 1 and data or rev), "pair " .. math.ceil(i / 2) .. " garbled")
    end
  end)

  it("echo lines between 500 pairs, every reply in order", function()
    local n, lines = 500, 20
    local ok = 0
    for i = 1, n do
      local a, b = streams()
      sockit.spawn(function()
        -- no b:lines(): Lua 5.1 cannot yield inside a for loop's iterator
        local line = b:read("l")
        while line do
          assert(b:write(line, "\n"))
          line = b:read("l")
        end
        b:close()
      end)
      sockit.spawn(function()
        for k = 1, lines do
          assert(a:write(("%d:%d\n"):format(i, k)))
          assert.are.equal(("%d:%d"):format(i, k), a:read("l"))
        end
        a:shutdown("w")
        assert.are.same({n = 1}, table.pack(a:read("l")))
        ok = ok + 1
      end)
    end
    run()
    assert.are.equal(n, ok)
  end)

  it("read_some and read with counts wait in the loop too", function()
    local a, b = streams()
    local got = {}
    sockit.spawn(function()
      got[1] = assert(b:read_some(100))
      got[2] = assert(b:read(5))
    end)
    sockit.spawn(function()
      assert(a:write("hello"))
      sockit.sleep(0)
      assert(a:write("12"))
      sockit.sleep(0)
      assert(a:write("345"))
    end)
    run()
    assert.are.same({"hello", "12345"}, got)
  end)
end)

describe("sockit.sleep", function()
  it("wakes sleeping tasks in the order of their deadlines", function()
    local order = {}
    for i, s in ipairs({0.06, 0.02, 0.04, 0.0, 0.01}) do
      sockit.spawn(function()
        sockit.sleep(s)
        order[#order + 1] = i
      end)
    end
    run()
    assert.are.same({4, 5, 2, 3, 1}, order)
  end)

  it("lets every other task run for sleep(0)", function()
    local seen = {}
    for _, name in ipairs({"a", "b", "c"}) do
      sockit.spawn(function()
        for i = 1, 2 do
          seen[#seen + 1] = name .. i
          assert.is_true(sockit.sleep(0))
        end
      end)
    end
    run()
    assert.are.same({"a1", "b1", "c1", "a2", "b2", "c2"}, seen)
  end)

  it("in a task sleeps forever from 1e9 seconds on: the task ends with the loop", function()
    local woke, other = 0, false
    for _, s in ipairs({math.huge, 1e300, 2e9}) do
      sockit.spawn(function()
        sockit.sleep(s)
        woke = woke + 1
      end)
    end
    sockit.spawn(function()
      sockit.sleep(0.01)
      other = true
    end)
    run()
    assert.is_true(other)
    assert.are.equal(0, woke)
    -- nothing is left for a later run
    run()
    assert.are.equal(0, woke)
  end)

  it54("a task sleeping forever closes its to-be-closed variables as it ends", [[
    local assert, sockit, run = ...
    local closed = 0
    for _, s in ipairs({math.huge, 1e300, 2e9}) do
      sockit.spawn(function()
        local _ <close> = setmetatable({}, {__close = function() closed = closed + 1 end})
        sockit.sleep(s)
      end)
    end
    run()
    assert.are.equal(3, closed)
    run()
    assert.are.equal(3, closed)
  ]], assert, sockit, run)

  it("outside a task sleeps forever from 1e9 seconds on, raising nothing", function()
    -- the child is still asleep when `timeout` ends it (status 124)
    for _, s in ipairs({"math.huge", "2e9"}) do
      local status, _, err = proc.exec(("timeout 0.3 %s -e %s"):format(env.LUA,
        env.quote("require('sockit').sleep(" .. s .. ")")))
      assert.are.equal(124, status, err)
    end
  end)

  it("outside a task simply sleeps and returns true", function()
    assert.is_true(sockit.sleep(0.001))
    assert.is_true(sockit.sleep(0))
    assert.is_true(sockit.sleep(-1))
  end)

  it("raises for a non-number or NaN", function()
    assert.has_error(function() sockit.sleep() end,
                     "bad argument #1 to 'sleep' (number expected, got no value)")
    assert.has_error(function() sockit.sleep("1") end,
                     "bad argument #1 to 'sleep' (number expected, got string)")
    assert.has_error(function() sockit.sleep(0 / 0) end,
                     "bad argument #1 to 'sleep' (number is NaN)")
  end)
end)

describe("timeouts inside tasks", function()
  it("a read times out while the other tasks keep running", function()
    local a, b = streams()
    -- long enough for two turns of the loop under valgrind and LuaJIT
    a:settimeout(0.25)
    local ticks, done, r = 0, false, nil
    sockit.spawn(function()
      while not done do
        ticks = ticks + 1
        sockit.sleep(0)
      end
    end)
    sockit.spawn(function()
      assert(b:write("partial"))
      r = table.pack(a:read("l"))
      done = true
    end)
    run()
    errs.fails("ETIMEDOUT", table.unpack(r, 1, r.n))
    assert.is_true(ticks > 1)
    -- the bytes received stay buffered
    a:settimeout(0)
    assert.are.equal("partial", a:read(7))
  end)

  it("a write times out with the count of bytes that went out", function()
    local a = streams(0.05)
    local r
    sockit.spawn(function() r = table.pack(a:write(("x"):rep(8 * 1024 * 1024))) end)
    run()
    assert.is_nil(r[1])
    assert.are.equal("ETIMEDOUT", r[3])
    assert.is_true(r[4] > 0 and r[4] < 8 * 1024 * 1024)
  end)

  it("accept and udp receive time out", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    local u = assert(sockit.udp({bind = {"127.0.0.1", 0}}))
    finally(function()
      srv:close()
      u:close()
    end)
    srv:settimeout(0.02)
    u:settimeout(0.02)
    local r1, r2
    sockit.spawn(function() r1 = table.pack(srv:accept()) end)
    sockit.spawn(function() r2 = table.pack(u:recvfrom()) end)
    run()
    errs.fails("ETIMEDOUT", table.unpack(r1, 1, r1.n))
    errs.fails("ETIMEDOUT", table.unpack(r2, 1, r2.n))
  end)

  it("timeout 0 gives EAGAIN without waiting", function()
    local a = streams(0)
    local r
    sockit.spawn(function() r = table.pack(a:read("l")) end)
    run()
    errs.fails("EAGAIN", table.unpack(r, 1, r.n))
  end)

  it("a wait woken by data leaves no timer behind to wake a later wait", function()
    local a, b = streams()
    a:settimeout(0.02)
    local first, second
    sockit.spawn(function()
      first = a:read("l")
      -- no timeout now: only data may end this read
      a:settimeout(nil)
      second = table.pack(a:read("l"))
    end)
    sockit.spawn(function()
      assert(b:write("one\n"))
      sockit.sleep(0.1)
      assert(b:write("two\n"))
    end)
    run()
    assert.are.equal("one", first)
    assert.are.same({"two", n = 1}, second)
  end)

  it("a connect waits in the loop and keeps its deadline", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local refused = net.freeport()
    local r1, r2
    sockit.spawn(function()
      local c = assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
      r1 = {c:peer()}
      c:close()
    end)
    sockit.spawn(function()
      r2 = table.pack(sockit.connect("127.0.0.1", refused, {timeout = SAFETY}))
    end)
    run()
    assert.are.same({"127.0.0.1", port}, r1)
    errs.fails("ECONNREFUSED", table.unpack(r2, 1, r2.n))
  end)
end)

describe("closing a socket another task waits on", function()
  it("wakes a reader with ECANCELED", function()
    local a = streams()
    local r, after
    sockit.spawn(function()
      r = table.pack(a:read("l"))
      -- the task goes on, and its read's deadline does not come back
      sockit.sleep(0.01)
      after = true
    end)
    sockit.spawn(function() a:close() end)
    run()
    errs.fails("ECANCELED", table.unpack(r, 1, r.n))
    assert.is_true(after)
    assert.has_error(function() a:read("l") end, "attempt to use a closed stream")
  end)

  it("wakes a writer waiting for room with ECANCELED and the count sent", function()
    local a = streams()
    local r
    sockit.spawn(function() r = table.pack(a:write(("x"):rep(8 * 1024 * 1024))) end)
    sockit.spawn(function() a:close() end)
    run()
    assert.is_nil(r[1])
    assert.are.equal("ECANCELED", r[3])
    assert.is_true(r[4] > 0)
  end)

  it("wakes a task in accept, and one in a udp receive", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    local u = assert(sockit.udp({bind = {"127.0.0.1", 0}}))
    finally(function()
      srv:close()
      u:close()
    end)
    local r1, r2
    sockit.spawn(function() r1 = table.pack(srv:accept()) end)
    sockit.spawn(function() r2 = table.pack(u:recvfrom()) end)
    sockit.spawn(function()
      srv:close()
      u:close()
    end)
    run()
    errs.fails("ECANCELED", table.unpack(r1, 1, r1.n))
    errs.fails("ECANCELED", table.unpack(r2, 1, r2.n))
  end)

  it("wakes both a reader and a writer of the same socket", function()
    local a = streams()
    local r, w
    sockit.spawn(function() r = table.pack(a:read("l")) end)
    sockit.spawn(function() w = table.pack(a:write(("y"):rep(8 * 1024 * 1024))) end)
    sockit.spawn(function() a:close() end)
    run()
    errs.fails("ECANCELED", table.unpack(r, 1, r.n))
    assert.are.equal("ECANCELED", w[3])
  end)
end)

describe("a task's error", function()
  it("is raised from run with the task's traceback", function()
    local function explode()
      error("boom")
    end
    sockit.spawn(function()
      explode()
    end)
    local ok, err = pcall(sockit.run)
    assert.is_false(ok)
    assert.matches("sched_spec.lua:%d+: boom", err)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("explode", err, 1, true)
  end)

  it("leaves the other tasks to a later run", function()
    local a, b = streams()
    local got
    sockit.spawn(function() got = a:read("l") end)
    sockit.spawn(function() error("first") end)
    local ok, err = pcall(sockit.run)
    assert.is_false(ok)
    assert.matches("first", err)
    assert.is_nil(got)
    assert(b:write("later\n"))
    run()
    assert.are.equal("later", got)
  end)

  it("is raised as it is when it is not a string", function()
    local e = setmetatable({}, {__tostring = function() return "custom" end})
    sockit.spawn(function() error(e) end)
    local ok, err = pcall(sockit.run)
    assert.is_false(ok)
    assert.are.equal(e, err)
  end)

  it("goes to onerror, with the task and its traceback, and the rest runs on", function()
    local calls, done = {}, 0
    local bad
    bad = sockit.spawn(function()
      sockit.sleep(0)
      error("handled")
    end)
    for _ = 1, 3 do
      sockit.spawn(function()
        sockit.sleep(0.01)
        done = done + 1
      end)
    end
    assert.is_true(sockit.run(function(err, task, tb)
      calls[#calls + 1] = {err = err, task = task, tb = tb}
    end))
    assert.are.equal(1, #calls)
    assert.matches("handled", calls[1].err)
    assert.are.equal(bad, calls[1].task)
    assert.matches("stack traceback:", calls[1].tb, 1, true)
    assert.matches("sched_spec.lua", calls[1].tb, 1, true)
    assert.are.equal(3, done)
  end)

  it54("closes the task's to-be-closed variables", [[
    local assert, sockit, streams, runall = ...
    local a = streams()
    sockit.spawn(function()
      local s <close> = a
      error("with a stream open")
    end)
    local errors = runall()
    assert.are.equal(1, #errors)
    assert.are.equal("sockit.stream (closed)", tostring(a))
  ]], assert, sockit, streams, runall)

  it("raised again by onerror leaves run", function()
    sockit.spawn(function() error("inner") end)
    local ok, err = pcall(sockit.run, function(e) error("outer: " .. e, 0) end)
    assert.is_false(ok)
    assert.matches("^outer: .*inner", err)
    -- the loop is usable again
    local ran = false
    sockit.spawn(function() ran = true end)
    run()
    assert.is_true(ran)
  end)
end)

describe("two tasks waiting on one socket", function()
  it("raise in the second reader", function()
    local a = streams()
    local first
    sockit.spawn(function() first = table.pack(a:read("l")) end)
    local second = sockit.spawn(function() a:read("l") end)
    sockit.spawn(function()
      sockit.sleep(0)
      a:close()
    end)
    local errors = runall()
    assert.are.equal(1, #errors)
    assert.are.equal(second, errors[1].task)
    assert.matches("another task is already reading this socket", errors[1].err)
    assert.matches("sched_spec.lua", errors[1].err, 1, true)
    errs.fails("ECANCELED", table.unpack(first, 1, first.n))
  end)

  it("raise in the second writer", function()
    local a = streams()
    local big = ("z"):rep(8 * 1024 * 1024)
    sockit.spawn(function() a:write(big) end)
    local second = sockit.spawn(function() a:write(big) end)
    sockit.spawn(function()
      sockit.sleep(0)
      a:close()
    end)
    local errors = runall()
    assert.are.equal(1, #errors)
    assert.are.equal(second, errors[1].task)
    assert.matches("another task is already writing this socket", errors[1].err)
  end)

  it("are fine as one reader and one writer", function()
    local a, b = streams()
    local size = 4 * 1024 * 1024
    local line, echoed
    sockit.spawn(function() line = a:read("l") end)
    sockit.spawn(function() assert(a:write(("w"):rep(size))) end)
    sockit.spawn(function()
      echoed = #assert(b:read(size))
      assert(b:write("done\n"))
    end)
    run()
    assert.are.equal("done", line)
    assert.are.equal(size, echoed)
  end)
end)

describe("sockit.pcall", function()
  it("lets a task wait inside it, and returns what the function returns", function()
    local a, b = streams()
    local r
    sockit.spawn(function()
      r = table.pack(sockit.pcall(function(s)
        local line = s:read("l")
        sockit.sleep(0)
        return line, s:read("l")
      end, b))
    end)
    sockit.spawn(function()
      assert(a:write("one\n"))
      sockit.sleep(0.01)
      assert(a:write("two\n"))
    end)
    run()
    assert.are.same({n = 3, true, "one", "two"}, r)
  end)

  it("catches an error raised after a wait, and the task goes on", function()
    local a, b = streams()
    local r, after
    sockit.spawn(function()
      r = table.pack(sockit.pcall(function()
        b:read("l")
        error({code = 42})
      end))
      after = b:read("l")
    end)
    sockit.spawn(function() assert(a:write("x\ny\n")) end)
    run()
    assert.is_false(r[1])
    assert.are.same({code = 42}, r[2])
    assert.are.equal("y", after)
  end)

  it("is pcall outside a task", function()
    assert.are.same({n = 2, true, 7}, table.pack(sockit.pcall(function(x) return x end, 7)))
    local ok, err = sockit.pcall(error, "boom", 0)
    assert.is_false(ok)
    assert.are.equal("boom", err)
  end)
end)

describe("a task inside a C function's callback", function()
  -- Lua 5.1 and 5.2 have no coroutine.isyieldable: sockit cannot tell
  local it_yieldable = coroutine.isyieldable and it or function(name)
    pending(name .. " (no coroutine.isyieldable to tell a C function's"
            .. " callback apart)")
  end
  it_yieldable("waits with sockit.core instead of failing to yield", function()
    local a = streams(0.02)
    local r
    sockit.spawn(function()
      ("x"):gsub("x", function()
        assert.is_false(coroutine.isyieldable())
        r = table.pack(a:read("l"))
      end)
    end)
    run()
    errs.fails("ETIMEDOUT", table.unpack(r, 1, r.n))
  end)
end)

describe("a stream used in tasks and then outside", function()
  it("blocks again outside any task", function()
    local x, y = assert(core.socketpair())
    local a, b = sockit.stream(x), sockit.stream(y)
    finally(function()
      a:close()
      b:close()
    end)
    sockit.spawn(function()
      assert(b:write("in\n"))
      assert.are.equal("in", a:read("l"))
    end)
    run()
    assert(b:write("out\n"))
    assert.are.equal("out", a:read("l"))
    assert.is_nil(x:gettimeout())
    assert.is_false(fds.nonblocking(x:fileno()))
  end)
end)

describe("a Unix connect to a full backlog inside a task", function()
  it("waits in the loop until the server has room, or times out", function()
    local path = files.tmppath("full.sock")
    local l = core.socket("unix", "stream")
    local fill, taken = {}, {}
    finally(function()
      for _, c in ipairs(fill) do c:close() end
      for _, c in ipairs(taken) do c:close() end
      l:close()
    end)
    assert(l:bind(path))
    assert(l:listen(0))
    local code
    repeat
      local c = core.socket("unix", "stream"):settimeout(0)
      fill[#fill + 1] = c
      local ok, _, err = c:connect(path)
      code = err
    until not ok
    assert.are.equal("EAGAIN", code)
    local late, connected
    sockit.spawn(function()
      late = table.pack(sockit.connect_unix(path, {timeout = 0.05}))
      sockit.spawn(function()
        -- runs while the connect below waits: it makes room
        sockit.sleep(0.02)
        taken[#taken + 1] = assert(l:accept())
      end)
      local c = assert(sockit.connect_unix(path, {timeout = SAFETY}))
      connected = true
      c:close()
    end)
    run()
    errs.fails("ETIMEDOUT", table.unpack(late, 1, late.n))
    assert.is_true(connected)
    assert.are.equal(1, #taken)
  end)
end)

describe("name lookups inside a task", function()
  local isolated = os.getenv("SOCKIT_ISOLATED") == "1"

  it("connect to a name, on the resolver thread", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local peer
    sockit.spawn(function()
      local c = assert(sockit.connect("localhost", port, {family = "inet", timeout = SAFETY}))
      peer = {c:peer()}
      c:close()
    end)
    sockit.spawn(function()
      local s = assert(srv:accept())
      s:close()
    end)
    run()
    assert.are.same({"127.0.0.1", port}, peer)
  end)

  it("fail with EAI_NONAME for an unknown name", function()
    if not isolated then
      pending("needs the isolated hosts file (make test)")
      return
    end
    local r
    sockit.spawn(function() r = table.pack(sockit.connect("no-such-host.invalid", 80)) end)
    run()
    errs.fails("EAI_NONAME", table.unpack(r, 1, r.n))
  end)

  -- The lookup of "slow.test" goes to a DNS server on 127.0.0.1:53 that
  -- is itself a task of the same loop, in a child process with its own
  -- network namespace (nothing but loopback) and its own resolv.conf and
  -- nsswitch.conf (bind mounts in its own mount namespace). The server
  -- answers a query only after a ticking task has ticked five more times.
  -- If the lookup stalled the loop, neither could run and the lookup
  -- would fail when the resolver gives up: the connect succeeding is the
  -- proof, the ticks counted during the lookup the evidence.
  it("do not stall the other tasks while a slow DNS server answers", function()
    -- system tools run without make asan's preloaded sanitizer runtime
    if not require("support.netns").available() then
      pending("needs network and mount namespaces (root, unshare, ip)")
      return
    end
    local dir = files.tmpdir()
    local function put(name, text)
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write(text)
      f:close()
    end
    put("nsswitch.conf", "hosts: files dns\n")
    put("resolv.conf", "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
    put("child.lua", [==[
local sockit = require("sockit")

-- the answer to a DNS query: slow.test is 127.0.0.1, nothing else exists
local function answer(q)
  local id, _, qd = string.unpack(">I2I2I2", q)
  local i, labels = 13, {}
  while q:byte(i) > 0 do
    local n = q:byte(i)
    labels[#labels + 1] = q:sub(i + 1, i + n)
    i = i + n + 1
  end
  local qtype = string.unpack(">I2", q, i + 1)
  local question = q:sub(13, i + 4)
  local name = table.concat(labels, "."):lower()
  if name ~= "slow.test" then
    return string.pack(">I2I2I2I2I2I2", id, 0x8183, qd, 0, 0, 0) .. question
  end
  if qtype ~= 1 then
    return string.pack(">I2I2I2I2I2I2", id, 0x8180, qd, 0, 0, 0) .. question
  end
  return string.pack(">I2I2I2I2I2I2", id, 0x8180, qd, 1, 0, 0) .. question
    .. string.pack(">I2I2I2I4I2BBBB", 0xc00c, 1, 1, 60, 4, 127, 0, 0, 1)
end

local dns = assert(sockit.udp({bind = {"127.0.0.1", 53}}))
local ticks, done, queries = 0, false, 0

sockit.spawn(function()
  while not done do
    ticks = ticks + 1
    sockit.sleep(0.005)
  end
end)

sockit.spawn(function()
  while true do
    local q, host, port = dns:recvfrom(512)
    if not q then return end
    queries = queries + 1
    local start = ticks
    while ticks < start + 5 do sockit.sleep(0.005) end
    dns:sendto(answer(q), host, port)
  end
end)

local srv = assert(sockit.serve("127.0.0.1", 0, function(s)
  s:write("hello from the server\n")
end))
local _, port = srv:address()

sockit.spawn(function()
  local before = ticks
  local c, msg, code = sockit.connect("slow.test", port,
                                      {family = "inet", timeout = 60})
  print("ticks during the lookup", ticks - before)
  print("queries", queries)
  if c then
    print("peer", c:peer())
    print("line", c:read("l"))
    c:close()
  else
    print("failed", msg, code)
  end
  done = true
  dns:close()
  srv:close()
end)

sockit.run()
print("run returned")
]==])
    local out, ok = require("support.netns").run(dir)
    assert(ok, "the child failed:\n" .. out)
    assert.matches("peer\t127.0.0.1\t%d+", out)
    assert.matches("line\thello from the server", out)
    assert.matches("run returned", out)
    local ticks = tonumber(out:match("ticks during the lookup\t(%d+)"))
    local queries = tonumber(out:match("queries\t(%d+)"))
    assert.is_true(queries >= 1, out)
    assert.is_true(ticks >= 5 * queries, out)
  end)
end)
