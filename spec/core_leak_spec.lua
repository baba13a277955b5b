-- sockit.core: no descriptor leaks (counted in /proc/self/fd), no
-- descriptor inherited by a child process, and no death by SIGPIPE.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local it54 = require("support.lua54")(it, pending)
local core = env.core()

local N = 1000
local PID = fds.pid()
local fdcount = fds.count

-- run 'source' in a child lua5.4 that loads sockit from the work tree;
-- returns its output and how it ended ("exit"/"signal", number)
local function run_child(source)
  local out, _, how, status = proc.run(source)
  return out, how, status
end

local closed_port = net.freeport

describe("sockit.core descriptors", function()
  before_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("are not leaked by 1000 socket/close cycles", function()
    local before = fdcount()
    for _ = 1, N do
      local s = assert(core.socket("inet", "stream"))
      assert.is_true(core.close(s))
      local u = assert(core.socket("inet6", "dgram"))
      core.close(u)
      local a, b = assert(core.socketpair())
      core.close(a)
      core.close(b)
    end
    assert.are.equal(before, fdcount())
  end)

  it("are not leaked by 1000 refused connects", function()
    local port = closed_port()
    local before = fdcount()
    local refused = 0
    for _ = 1, N do
      local c = assert(core.socket("inet", "stream"))
      local ok, _, code = core.connect(c, "127.0.0.1", port)
      if ok == nil and code == "ECONNREFUSED" then refused = refused + 1 end
      core.close(c)
    end
    assert.are.equal(N, refused)
    assert.are.equal(before, fdcount())
  end)

  it("are not leaked by 1000 refused connects with a timeout", function()
    local port = closed_port()
    local before = fdcount()
    local refused = 0
    for _ = 1, N do
      local c = assert(core.socket("inet", "stream"))
      core.settimeout(c, 5)
      local ok, _, code = core.connect(c, "127.0.0.1", port)
      if ok == nil and code == "ECONNREFUSED" then refused = refused + 1 end
      core.close(c)
    end
    assert.are.equal(N, refused)
    assert.are.equal(before, fdcount())
  end)

  it("are not leaked by 1000 accept/close pairs", function()
    local l = assert(core.socket("inet", "stream"))
    finally(function() core.close(l) end)
    assert(core.bind(l, "127.0.0.1", 0))
    assert(core.listen(l))
    local _, port = core.getsockname(l)
    local before = fdcount()
    for _ = 1, N do
      local c = assert(core.socket("inet", "stream"))
      assert(core.connect(c, "127.0.0.1", port))
      local a = assert(core.accept(l))
      core.close(a)
      core.close(c)
    end
    assert.are.equal(before, fdcount())
  end)

  it("are not leaked by 1000 Unix accept/close pairs", function()
    local name = "\0sockit-leak-" .. PID .. "-" .. math.random(1e9)
    local l = assert(core.socket("unix", "stream"))
    finally(function() core.close(l) end)
    assert(core.bind(l, name))
    assert(core.listen(l))
    local before = fdcount()
    for _ = 1, N do
      local c = assert(core.socket("unix", "stream"))
      assert(core.connect(c, name))
      local a, path = assert(core.accept(l))
      assert.are.equal("", path)
      core.close(a)
      core.close(c)
    end
    assert.are.equal(before, fdcount())
  end)

  it("of 1000 handles dropped to the garbage collector are closed", function()
    local before = fdcount()
    local l = assert(core.socket("inet", "stream"))
    assert(core.bind(l, "127.0.0.1", 0))
    assert(core.listen(l))
    local _, port = core.getsockname(l)
    for _ = 1, N do
      core.socket("inet", "dgram")
      core.socketpair()
      local c = assert(core.socket("inet", "stream"))
      assert(core.connect(c, "127.0.0.1", port))
      core.accept(l)
    end
    l = nil  -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, fdcount())
  end)

  it54("are closed by a to-be-closed variable", [[
    local assert, core, fdcount, N = ...
    local before = fdcount()
    for _ = 1, N do
      local s <close> = assert(core.socket("inet", "stream"))
      assert.are.equal("socket", core.type(s))
    end
    assert.are.equal(before, fdcount())
  ]], assert, core, fdcount, N)

  it("are not leaked by 1000 failed getaddrinfo calls", function()
    local before = fdcount()
    local failed = 0
    for i = 1, N do
      local ok, _, code
      if i % 2 == 0 then
        ok, _, code = core.getaddrinfo("localhost", 80, {numeric = true})
      else
        ok, _, code = core.getaddrinfo("127.0.0.1", "sockit-no-such-service",
                                       {type = "stream"})
      end
      if ok == nil and (code == "EAI_NONAME" or code == "EAI_SERVICE") then
        failed = failed + 1
      end
      -- and calls that raise while holding nothing
      pcall(core.getaddrinfo, "127.0.0.1", 80, {bogus = true})
    end
    assert.are.equal(N, failed)
    assert.are.equal(before, fdcount())
  end)

  it("are not inherited by a child process (close-on-exec)", function()
    local l = assert(core.socket("inet", "stream"))
    local c = assert(core.socket("inet", "stream"))
    local a, b = assert(core.socketpair())
    local socks = {l, c, a, b}
    finally(function()
      for _, s in ipairs(socks) do core.close(s) end
    end)
    assert(core.bind(l, "127.0.0.1", 0))
    assert(core.listen(l))
    assert(core.connect(c, "127.0.0.1", select(2, core.getsockname(l))))
    local acc = assert(core.accept(l))
    socks[#socks + 1] = acc
    local p = assert(io.popen("ls -l /proc/self/fd"))
    local listing = p:read("a")
    p:close()
    assert.matches("\n", listing)
    for _, s in ipairs(socks) do
      local fd = core.fileno(s)
      assert.is_true(fd > 2)
      assert.is_nil(listing:match("[^%d]" .. fd .. " %-> socket:"),
                    "descriptor " .. fd .. " leaked into a child")
    end
  end)
end)

describe("sockit.core writing to a closed peer", function()
  after_each(files.cleanup)

  it("returns EPIPE instead of killing the process with SIGPIPE", function()
    local out, how, status = run_child([[
      local core = require("sockit.core")
      local a, b = assert(core.socketpair())
      core.close(b)
      local code
      for _ = 1, 100 do
        local n, _, c = core.send(a, string.rep("x", 65536))
        if n == nil then code = c break end
      end
      io.write("code=", tostring(code), "\n")
      io.write("alive\n")
    ]])
    assert.are.equal("code=EPIPE\nalive\n", out)
    assert.are.equal("exit", how)
    assert.are.equal(0, status)
  end)

  it("returns EPIPE or ECONNRESET on a TCP connection the peer closed", function()
    local out, how, status = run_child([[
      local core = require("sockit.core")
      local l = assert(core.socket("inet", "stream"))
      assert(core.bind(l, "127.0.0.1", 0))
      assert(core.listen(l))
      local c = assert(core.socket("inet", "stream"))
      assert(core.connect(c, "127.0.0.1", select(2, core.getsockname(l))))
      local a = assert(core.accept(l))
      core.close(a)
      local code
      for _ = 1, 1000 do
        local n, _, e = core.send(c, string.rep("x", 65536))
        if n == nil then code = e break end
      end
      io.write("code=", tostring(code), "\n")
      io.write("alive\n")
    ]])
    assert.is_truthy(out == "code=EPIPE\nalive\n" or out == "code=ECONNRESET\nalive\n",
                     "child said: " .. out)
    assert.are.equal("exit", how)
    assert.are.equal(0, status)
  end)

  it("a datagram socketpair whose peer closed fails with a code, without a signal", function()
    local out, how, status = run_child([[
      local core = require("sockit.core")
      local a, b = assert(core.socketpair("dgram"))
      core.close(b)
      local n, _, code = core.send(a, "x")
      io.write(tostring(n), " ", tostring(code), "\n")
    ]])
    assert.matches("^nil E[A-Z]+\n$", out)
    assert.are.equal("exit", how)
    assert.are.equal(0, status)
  end)
end)
