-- sockit.core: Ctrl-C. In every standalone interpreter (lua5.1 to lua5.4,
-- luajit), one SIGINT interrupts a call blocked without a timeout (or with
-- one) as it interrupts Lua code: the interpreter's hook raises
-- "interrupted!". Before 5.4 the handler restarts system calls, so there
-- such a call waits in poll (see SOCKIT_DONTWAIT). The child prints
-- "ready" and blocks; the spec waits until it sleeps in the kernel, sends
-- ONE SIGINT, and checks that this alone ended it.

local env = require("support.env")
local files = require("support.files")
local core = env.core()

after_each(function() files.cleanup() end)

local PRELUDE = [[
local core = require("sockit.core")
io.stdout:write("ready\n")
io.stdout:flush()
]]

-- the state letter of process `pid` ("S" sleeping, "Z" ended), or nil
local function state(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("a")  -- nil when the process went after the open
  f:close()
  return s and s:match("^%d+ %b() (%a)")
end

-- polls `cond` up to `tries` times, 10 ms apart -> whether it held
local function eventually(cond, tries)
  for _ = 1, tries do
    if cond() then return true end
    core.sleep(0.01)
  end
  return false
end

-- the shell words that preload spec/support/sigwindow.c (built into
-- `dir`), set to raise SIGINT before the first sleep in one of `names`.
-- It goes first: under make asan, ASan's own poll interceptors would
-- otherwise take the calls (and ASan wants to be first unless told).
local function window(dir, names)
  local so = dir .. "/sigwindow.so"
  -- the compiler without make asan's runtimes, whose leak check fails it
  os.execute(("env -u LD_PRELOAD %s -shared -fPIC -o %s %s -ldl"):format(
    os.getenv("CC") or "cc", env.quote(so),
    env.quote(env.root .. "/spec/support/sigwindow.c")))
  assert(io.open(so), "sigwindow.so was not built"):close()
  return ('LD_PRELOAD=%s"${LD_PRELOAD:+ $LD_PRELOAD}" SIGWINDOW=%s '
    .. 'ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" ')
    :format(env.quote(so), env.quote(names))
end

-- runs `code` after PRELUDE in a child lua5.4; once it is blocked (or
-- at once when `busy`: then the code prints "ready" itself), sends one
-- SIGINT; with `names`, sends none: the child raises its own in the
-- window before a sleep (see window) -> ended (true if that one signal
-- ended it), status, stderr
local function interrupt(code, busy, names)
  local dir = files.tmpdir()
  files.write(dir .. "/child.lua", busy and code or PRELUDE .. code)
  local pipe = assert(io.popen(("echo $$; exec env %s%s%s 2>%s </dev/null"):format(
    names and window(dir, names) or "", env.LUA, env.quote(dir .. "/child.lua"),
    env.quote(dir .. "/err"))))
  local pid = tonumber(pipe:read("l"))
  assert.equal("ready", pipe:read("l"))
  if not names then
    assert.is_true(busy or eventually(function() return state(pid) == "S" end,
                                      500), "the child never blocked")
    os.execute("kill -INT " .. pid)
  end
  local ended = eventually(function()  -- a zombie until the pipe closes
    local st = state(pid)
    return st == nil or st == "Z"
  end, 1000)
  if not ended then os.execute("kill -KILL " .. pid) end
  local _, _, status = pipe:close()
  return ended, status, files.read(dir .. "/err")
end

local function check(code, busy, names)
  local ended, status, err = interrupt(code .. "\nprint('returned')\n", busy,
                                       names)
  assert.is_true(ended, "one SIGINT did not end the child")
  assert.equal(1, status)
  assert.matches("interrupted!", err, 1, true)
end

describe("one SIGINT", function()
  it("interrupts recv blocked without a timeout", function()
    check("local a, b = core.socketpair()\na:recv(1)")
  end)

  it("interrupts recv blocked with a timeout", function()
    check("local a, b = core.socketpair()\na:settimeout(1e6)\na:recv(1)")
  end)

  it("interrupts accept blocked without a timeout", function()
    check([[
local s = core.socket("inet", "stream")
assert(s:bind("127.0.0.1", 0))
assert(s:listen())
s:accept()]])
  end)

  it("interrupts send blocked on a full buffer", function()
    -- full first, so the signal comes before any byte goes (a send that
    -- sent some returns their count, interrupted or not)
    check([[
local a, b = core.socketpair()
a:settimeout(0)
local chunk = string.rep("x", 65536)
while a:send(chunk) do end
a:settimeout(nil)
a:send(chunk)]])
  end)

  it("interrupts a Unix connect blocked on a full backlog", function()
    local path = files.tmppath("l")
    check(([[
local l = core.socket("unix", "stream")
assert(l:bind(%q))
assert(l:listen(0))
local held = {}
repeat  -- fill the backlog: a non-blocking connect then fails at once
  local c = core.socket("unix", "stream"):settimeout(0)
  held[#held + 1] = c
until not c:connect(%q)
core.socket("unix", "stream"):connect(%q)]]):format(path, path, path))
  end)

  it("interrupts recvfrom and wait", function()
    check("local a, b = core.socketpair('dgram')\na:recvfrom(10)")
    check("local a, b = core.socketpair()\na:wait('r')")
  end)

  it("interrupts recvmsg and recvmmsg", function()
    check("local a, b = core.socketpair()\na:recvmsg(10, 1)")
    check("local a, b = core.socketpair('dgram')\na:recvmmsg(4)")
  end)

  it("interrupts sendfile blocked on a full buffer", function()
    local file = files.tmppath("f")
    files.write(file, string.rep("x", 65536))
    check(([[
local a, b = core.socketpair()
a:settimeout(0)
local chunk = string.rep("x", 65536)
while a:send(chunk) do end
a:settimeout(nil)
a:sendfile(%q, 0, 65536)]]):format(file))
  end)

  it("interrupts core.sleep", function()
    check("core.sleep(1e6)")
  end)

  it("interrupts a poller's wait", function()
    check("local p = core.poller()\np:wait()")
  end)
end)


-- a child's prelude: sockit, and busy(), a function that says "ready" and
-- then computes and yields for ever
local BUSY = [[
local sockit = require("sockit")
if jit then jit.off() end
local function work()
  local x = 0
  for i = 1, 100000 do x = x + i end
  return x
end
local function busy()
  io.stdout:write("ready\n")
  io.stdout:flush()
  while true do
    work()
    coroutine.yield()
  end
end
]]

describe("one SIGINT in a scheduler task", function()
  -- LuaJIT runs the hook in whichever coroutine runs, here nearly always
  -- the task (and never in compiled code: the child turns the JIT off)
  it("ends run() even when run() has an onerror", function()
    check(BUSY .. [[
sockit.spawn(busy)
sockit.run(function(err) io.stderr:write("onerror: ", tostring(err), "\n") end)]],
          true)
  end)

  it("ends a server whose handler is busy when it comes", function()
    check(BUSY .. [[
local srv = sockit.serve("127.0.0.1", 0, busy, {onerror = function(err)
  io.stderr:write("onerror: ", err, "\n")
end})
local _, port = srv:address()
sockit.spawn(function() sockit.connect("127.0.0.1", port):read("a") end)
sockit.run()]], true)
  end)
end)


-- Ctrl-C after the call last looked at the interpreter's hook and before
-- it sleeps: the handler sets the hook and wakes nothing, so the sleep
-- must let SIGINT in atomically (ppoll, epoll_pwait), or it goes on
-- forever. The preloaded spec/support/sigwindow.c raises SIGINT there.
describe("one SIGINT just before a call sleeps", function()
  local POLL = "poll,ppoll"

  it("interrupts recv with a timeout", function()
    check("local a, b = core.socketpair()\na:settimeout(1e6)\na:recv(1)",
          false, POLL)
  end)

  it("interrupts recv without a timeout, below 5.4", function()
    if _VERSION == "Lua 5.4" then
      pending("5.4 blocks in recv itself, which takes no mask (README, Ctrl-C)")
      return
    end
    check("local a, b = core.socketpair()\na:recv(1)", false, POLL)
  end)

  it("interrupts wait and core.sleep", function()
    check("local a, b = core.socketpair()\na:wait('r')", false, POLL)
    check("core.sleep(1e6)", false, POLL .. ",nanosleep")
  end)

  it("interrupts a poller's wait", function()
    check("local p = core.poller()\np:wait()", false, "epoll_wait,epoll_pwait")
  end)

  it("ends a scheduler waiting for a stream", function()
    check([[
local sockit = require("sockit")
local a, b = core.socketpair()
sockit.spawn(function() sockit.stream(a):read("l") end)
sockit.run()]], false, "epoll_wait,epoll_pwait")
  end)
end)
