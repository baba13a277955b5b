-- core.poller and core.resolve: the two pieces the scheduler waits with.
--
-- Every case runs against the module busted loaded (epoll on Linux), and
-- the last block runs this same file again in a child busted against the
-- poll(2) fallback (make build-poll, build/poll/sockit/core.so): one Lua
-- state cannot hold both, since they share the metatable names.

local env = require("support.env")
local fds = require("support.fds")
local errs = require("support.errs")
local it54 = require("support.lua54")(it, pending)
local files = require("support.files")
local core = env.core()

local BACKEND = os.getenv("SOCKIT_POLLER_BACKEND") or "epoll"

-- a socketpair closed at the end of the test
local function pair()
  local a, b = assert(core.socketpair())
  finally(function()
    a:close()
    b:close()
  end)
  return a, b
end

local function poller()
  local p = assert(core.poller())
  finally(function() p:close() end)
  return p
end

-- every ready entry of the last wait, as obj -> events
local function readyset(p, n)
  local t = {}
  for i = 1, n do
    local obj, ev = p:ready(i)
    t[obj] = ev
  end
  return t
end

local nofile = fds.nofile

describe("core.poller()", function()
  it("makes a poller of the " .. BACKEND .. " backend, watching nothing", function()
    local p = poller()
    assert.are.equal("sockit.poller (" .. BACKEND .. ", 0 watched)", tostring(p))
    assert.are.equal(0, p:wait(0))
  end)
end)

describe("poller:add", function()
  it("reports a socket readable once data arrives, as the same object", function()
    local p = poller()
    local a, b = pair()
    assert.is_true(p:add(a, "r"))
    assert.are.equal(0, p:wait(0))
    assert(b:send("x"))
    assert.are.equal(1, p:wait(5))
    local obj, ev = p:ready(1)
    assert.is_true(rawequal(a, obj))
    assert.are.equal("r", ev)
  end)

  it("reports a connected socket writable at once, and both for rw", function()
    local p = poller()
    local a, b = pair()
    assert(p:add(a, "w"))
    assert(p:add(b, "rw"))
    assert.are.equal(2, p:wait(5))
    local set = readyset(p, 2)
    assert.are.equal("w", set[a])
    assert.are.equal("w", set[b])
    assert(a:send("x"))
    assert.are.equal(2, p:wait(5))
    assert.are.equal("rw", readyset(p, 2)[b])
  end)

  it("fails with EEXIST for an object already watched", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "r"))
    errs.fails("EEXIST", p:add(a, "w"))
    assert.matches("1 watched", tostring(p))
  end)

  it("raises for unknown events, a closed socket, or anything else", function()
    local p = poller()
    local a = pair()
    assert.has_error(function() p:add(a, "x") end)
    assert.has_error(function() p:add(a) end)
    assert.has_error(function() p:add("a", "r") end)
    assert.has_error(function() p:add(io.stdout, "r") end)
    local c = core.socket("inet", "stream")
    c:close()
    local ok, err = pcall(p.add, p, c, "r")
    assert.is_false(ok)
    assert.matches("closed", err)
  end)

  it("watches more descriptors than select's 1024", function()
    local n = 1100
    assert(nofile() >= 2 * n + 64,
           "ulimit -n is too low for this test: run it through make test")
    local p = poller()
    local pairs_ = {}
    finally(function()
      for _, s in ipairs(pairs_) do s[1]:close(); s[2]:close() end
    end)
    for i = 1, n do
      local a, b = assert(core.socketpair())
      pairs_[i] = {a, b}
      assert(p:add(a, "r"))
    end
    assert.is_true(pairs_[n][1]:fileno() > 1024)
    assert.are.equal(0, p:wait(0))
    assert(pairs_[n][2]:send("x"))
    assert(pairs_[7][2]:send("x"))
    assert.are.equal(2, p:wait(5))
    local set = readyset(p, 2)
    assert.are.equal("r", set[pairs_[n][1]])
    assert.are.equal("r", set[pairs_[7][1]])
  end)
end)

local function fifo() return files.fifo(finally) end

describe("poller:add with a descriptor number", function()
  it("watches what is not a socket (a pipe), reported as its number", function()
    local p = poller()
    local f, fd = fifo()
    assert.is_true(p:add(fd, "r"))
    assert.are.equal(0, p:wait(0))
    f:write("x")
    f:flush()
    assert.are.equal(1, p:wait(5))
    local obj, ev = p:ready(1)
    assert.are.equal(fd, obj)
    assert.are.equal("r", ev)
    assert.are.equal("x", core.read(fd, 10))
    assert.are.equal(0, p:wait(0))
  end)

  it("is modified and removed by its number; it stays open", function()
    local p = poller()
    local _, fd = fifo()
    assert(p:add(fd, "r"))
    errs.fails("EEXIST", p:add(fd, "w"))
    assert.is_true(p:modify(fd, "w"))
    assert.are.equal(1, p:wait(5))
    assert.are.equal("w", select(2, p:ready(1)))
    assert.is_true(p:remove(fd))
    errs.fails("ENOENT", p:remove(fd))
    assert.is_truthy(fds.flags(fd))
  end)

  it("fails with EEXIST for the number of a socket watched, until it closes", function()
    local p = poller()
    local a = pair()
    local fd = a:fileno()
    assert(p:add(a, "r"))
    errs.fails("EEXIST", p:add(fd, "r"))
    errs.fails("ENOENT", p:remove(fd))
    local f, fifofd = fifo()
    assert(p:add(fifofd, "r"))
    f:write("x")
    f:flush()
    assert.are.equal(1, p:wait(5))
    assert.are.equal(fifofd, (p:ready(1)))
  end)

  it("raises for a negative number, a fraction or one past int", function()
    local p = poller()
    assert.matches("invalid descriptor", errs.raised(p.add, p, -1, "r"))
    assert.matches("invalid descriptor", errs.raised(p.add, p, 2^31, "r"))
    assert.matches("integer representation", errs.raised(p.add, p, 1.5, "r"))
    assert.matches("descriptor expected", errs.raised(p.add, p, "0", "r"))
  end)
end)

describe("poller:modify", function()
  it("changes the events watched", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "r"))
    assert.are.equal(0, p:wait(0))
    assert.is_true(p:modify(a, "w"))
    assert.are.equal(1, p:wait(5))
    local obj, ev = p:ready(1)
    assert.is_true(rawequal(a, obj))
    assert.are.equal("w", ev)
  end)

  it("fails with ENOENT for an object not watched", function()
    local p = poller()
    local a = pair()
    errs.fails("ENOENT", p:modify(a, "r"))
  end)

  it("raises for unknown events", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "r"))
    assert.has_error(function() p:modify(a, "write") end)
  end)
end)

describe("poller:remove", function()
  it("stops reporting the object", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "w"))
    assert.is_true(p:remove(a))
    assert.are.equal(0, p:wait(0))
    assert.matches("0 watched", tostring(p))
    errs.fails("ENOENT", p:remove(a))
  end)

  it("forgets a socket closed since it was added", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "r"))
    a:close()
    assert.is_true(p:remove(a))
    assert.matches("0 watched", tostring(p))
    errs.fails("ENOENT", p:remove(a))
  end)

  it("reports nothing for a socket closed while watched, on every backend", function()
    local p = poller()
    local a, b = pair()
    local c, d = pair()
    assert(p:add(a, "rw"))
    assert(p:add(c, "r"))
    a:close()
    assert(d:send("x"))
    assert.are.equal(1, p:wait(5))
    assert.is_true(rawequal(c, (p:ready(1))))
    assert.is_true(p:remove(a))
    b:close()
  end)

  it("lets a new socket with a closed one's number be added", function()
    local p = poller()
    local a = core.socketpair()
    local fd = a:fileno()
    assert(p:add(a, "r"))
    a:close()
    -- the lowest free number is the one a held
    local c, d = pair()
    local new = c:fileno() == fd and c or d
    assert.are.equal(fd, new:fileno())
    assert.is_true(p:add(new, "w"))
    assert.are.equal(1, p:wait(5))
    local obj = p:ready(1)
    assert.is_true(rawequal(new, obj))
  end)
end)

describe("poller:wait", function()
  it("returns 0 when the timeout passes without events", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "r"))
    assert.are.equal(0, p:wait(0.01))
  end)

  it("counts every ready entry", function()
    local p = poller()
    local socks = {}
    for i = 1, 5 do
      local a, b = pair()
      socks[i] = a
      assert(p:add(a, "r"))
      assert(b:send("x"))
    end
    assert.are.equal(5, p:wait(5))
    local set = readyset(p, 5)
    for i = 1, 5 do assert.are.equal("r", set[socks[i]]) end
  end)
end)

describe("poller:ready", function()
  it("raises for an index outside the last wait's entries", function()
    local p = poller()
    local a = pair()
    assert(p:add(a, "w"))
    assert.are.equal(1, p:wait(5))
    assert.has_error(function() p:ready(0) end)
    assert.has_error(function() p:ready(2) end)
    assert.has_error(function() p:ready("x") end)
  end)

  it("shows a hang-up as every event, whatever was watched", function()
    local p = poller()
    local a, b = pair()
    assert(p:add(a, "r"))
    b:close()
    assert.are.equal(1, p:wait(5))
    local obj, ev = p:ready(1)
    assert.is_true(rawequal(a, obj))
    assert.are.equal("rw", ev)
  end)
end)

describe("a poller holding a handle", function()
  it("keeps it open when nothing else refers to it", function()
    local p = poller()
    local fd, b
    do
      local a
      a, b = core.socketpair()
      finally(function() b:close() end)
      fd = a:fileno()
      assert(p:add(a, "r"))
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_not_nil(fds.flags(fd))
    assert(b:send("x"))
    assert.are.equal(1, p:wait(5))
    local obj = p:ready(1)
    assert.are.equal("socket", core.type(obj))
    assert.are.equal(fd, obj:fileno())
    assert.are.equal("x", obj:recv(1))
    obj = nil  -- luacheck: ignore 311
    -- once the poller lets go, the collector closes it
    p:close()
    collectgarbage("collect")
    collectgarbage("collect")
    assert.is_nil(fds.flags(fd))
  end)
end)

describe("poller:close", function()
  it("may run twice, and the methods raise afterwards", function()
    local p = assert(core.poller())
    local a = pair()
    assert(p:add(a, "r"))
    assert.is_true(p:close())
    assert.is_true(p:close())
    assert.are.equal("sockit.poller (closed)", tostring(p))
    for _, f in ipairs({function() p:add(a, "w") end,
                        function() p:wait(0) end,
                        function() p:remove(a) end}) do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches("closed poller", err)
    end
  end)

  it54("runs for a to-be-closed poller", [[
    local assert, core = ...
    local p
    do
      local q <close> = assert(core.poller())
      p = q
    end
    assert.are.equal("sockit.poller (closed)", tostring(p))
  ]], assert, core)
end)

describe("core.resolve", function()
  local isolated = os.getenv("SOCKIT_ISOLATED") == "1"

  it("signals its end through the poller, then gives getaddrinfo's list", function()
    local p = poller()
    local req = assert(core.resolve("localhost", 80, {type = "stream", family = "inet"}))
    finally(function() req:cancel() end)
    assert.is_true(req:fileno() >= 0)
    assert(p:add(req, "r"))
    assert.are.equal(1, p:wait(30))
    local obj, ev = p:ready(1)
    assert.is_true(rawequal(req, obj))
    assert.are.equal("r", ev)
    local list = assert(req:result())
    assert.are.equal("127.0.0.1", list[1].host)
    assert.are.equal(80, list[1].port)
    assert.are.equal("inet", list[1].family)
  end)

  it("gives EAGAIN until it is done, and the list after", function()
    local p = poller()
    local req = assert(core.resolve("127.0.0.1", "smtp", {type = "stream"}))
    finally(function() req:cancel() end)
    local list, _, code = req:result()
    if not list then
      assert.are.equal("EAGAIN", code)
      assert(p:add(req, "r"))
      assert.are.equal(1, p:wait(30))
      list = assert(req:result())
    end
    assert.are.equal("127.0.0.1", list[1].host)
    assert.are.equal(25, list[1].port)
  end)

  it("fails like getaddrinfo for a name nobody knows", function()
    if not isolated then
      pending("needs the isolated hosts file (make test)")
      return
    end
    local p = poller()
    local req = assert(core.resolve("no-such-host.invalid", 80))
    finally(function() req:cancel() end)
    assert(p:add(req, "r"))
    assert.are.equal(1, p:wait(30))
    errs.fails("EAI_NONAME", req:result())
  end)

  it("fails with ECANCELED once cancelled, and cannot be watched", function()
    local p = poller()
    local req = assert(core.resolve("localhost", 80))
    assert.is_true(req:cancel())
    assert.is_true(req:cancel())
    assert.are.equal(-1, req:fileno())
    errs.fails("ECANCELED", req:result())
    assert.has_error(function() p:add(req, "r") end)
  end)

  it("can be removed from the poller while its lookup runs", function()
    local p = poller()
    local req = assert(core.resolve("localhost", 80))
    assert(p:add(req, "r"))
    assert.is_true(p:remove(req))
    req:cancel()
    assert.are.equal(0, p:wait(0))
  end)
end)

describe("a poller's onclose", function()
  it("is called with a watched socket closed by core.close", function()
    local seen = {}
    local p = assert(core.poller(function(obj) seen[#seen + 1] = obj end))
    finally(function() p:close() end)
    local a, b = pair()
    assert.is_true(p:add(a, "r"))
    assert.are.equal(1, b:send("x"))
    core.close(a)
    assert.are.same({a}, seen)
    assert.are.equal(0, p:wait(0))     -- never reported
    assert.is_true(p:remove(a))        -- held until removed, as before
  end)

  it("is not called for a socket removed before its close", function()
    local calls = 0
    local p = assert(core.poller(function() calls = calls + 1 end))
    finally(function() p:close() end)
    local a = pair()
    assert.is_true(p:add(a, "r"))
    assert.is_true(p:remove(a))
    a:close()
    assert.are.equal(0, calls)
  end)

  it("is not called once the poller is closed", function()
    local calls = 0
    local p = assert(core.poller(function() calls = calls + 1 end))
    local a = pair()
    assert.is_true(p:add(a, "r"))
    p:close()
    a:close()
    assert.are.equal(0, calls)
  end)

  it("is called once for each poller watching the socket", function()
    local calls = 0
    local function count() calls = calls + 1 end
    local p, q = assert(core.poller(count)), assert(core.poller(count))
    finally(function()
      p:close()
      q:close()
    end)
    local a = pair()
    assert.is_true(p:add(a, "r"))
    assert.is_true(q:add(a, "w"))
    a:close()
    assert.are.equal(2, calls)
    a:close()
    assert.are.equal(2, calls)
  end)

  it("must be a function", function()
    assert.has_error(function() core.poller(42) end)
  end)
end)

describe("core.close on a socket a task waits on", function()
  it("wakes the task with ECANCELED and run() returns", function()
    local sockit = require("sockit")
    local a = pair()
    local s = sockit.stream(a)
    local r
    sockit.spawn(function() r = table.pack(s:read("l")) end)
    sockit.spawn(function() core.close(a) end)
    assert.is_true(sockit.run())
    errs.fails("ECANCELED", table.unpack(r, 1, r.n))
  end)
end)

if BACKEND == "epoll" then
  describe("the poll(2) fallback", function()
    it("passes this file's cases too (make build-poll)", function()
      local make = os.getenv("MAKE") or "make"
      -- make runs without make asan's preloaded sanitizer runtime; the
      -- child busted gets it back
      assert(os.execute("env -u LD_PRELOAD " .. make
                        .. " -s --no-print-directory build-poll >/dev/null"),
             "make build-poll failed")
      local busted = assert(io.popen("command -v busted")):read("l")
      assert(busted, "busted not found")
      local build = env.root .. "/" .. (os.getenv("BUILD") or "build")
      local cpath = build .. "/poll/?.so;;"
      local cmd = table.concat({
        "cd", env.quote(env.root), "&&",
        "timeout -k 5 600 env",
        "SOCKIT_POLLER_BACKEND=poll",
        "LUA_CPATH=" .. env.quote(cpath),
        "LUA_PATH=" .. env.quote(env.LUA_PATH),
        env.quote(env.lua), env.quote(busted), "--ignore-lua",
        "--cpath=" .. env.quote(build .. "/poll/?.so"),
        "-o", "plainTerminal", "spec/poller_spec.lua", "2>&1"}, " ")
      local p = assert(io.popen(cmd))
      local out = p:read("a")
      local ok = p:close()
      assert(ok, "the poller spec under poll(2) failed:\n" .. out)
      assert.matches("0 failures / 0 errors", out)
      assert.matches("[1-9]%d* successes", out)
    end)
  end)
end
