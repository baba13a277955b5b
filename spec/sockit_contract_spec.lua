-- The sockit layer's contract across its objects: how many values each
-- public call returns, the methods every object shares (gettimeout,
-- setoption, getoption), and lookup failures that name what was looked
-- up. Unknown option names and integer-valued floats are rows of
-- badinput_spec.lua.

local env = require("support.env")
local files = require("support.files")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

after_each(function() files.cleanup() end)

local raised = errs.raised

-- n, then the values: select("#", ...) kept with them
local function count(...)
  return select("#", ...), ...
end

-- a connected TCP stream pair over loopback, a listening server, a UDP
-- object bound to loopback; all closed after the test
local function tcp()
  local srv = assert(sockit.listen("127.0.0.1", 0))
  local _, port = srv:address()
  local c = assert(sockit.connect("127.0.0.1", port, {timeout = 5}))
  local s = assert(srv:accept())
  finally(function() c:close(); s:close(); srv:close() end)
  return c, s, srv
end

local function udp()
  local u = assert(sockit.udp({bind = {"127.0.0.1", 0}}))
  finally(function() u:close() end)
  return u
end

-- every public call of the layer with the number of values it returns on
-- success; `run(check)` calls check(name, expected, count(call())) for
-- each, so the same table runs outside a task and inside one
local function calls(check)
  local c, s, srv = tcp()
  local _, port = srv:address()
  local u, v = udp(), udp()
  local _, uport = u:sockname()
  local _, vport = v:sockname()
  local path = files.tmppath("contract.sock")

  local c2 = check("sockit.connect", 1, count(sockit.connect("127.0.0.1",
                                                port, {timeout = 5})))
  local s2 = check("server:accept", 3, count(srv:accept()))
  c2:close()
  s2:close()
  check("server:address", 2, count(srv:address()))
  check("sockit.listen", 1, count(sockit.listen("127.0.0.1", 0))):close()
  check("server:settimeout", 1, count(srv:settimeout(5)))
  check("server:gettimeout", 1, count(srv:gettimeout()))
  check("server:setoption", 1, count(srv:setoption("keepalive", false)))
  check("server:getoption", 1, count(srv:getoption("acceptconn")))

  check("stream:write", 1, count(c:write("one\r\ntwo\nthree\n4 5\nrest")))
  check("stream:read l", 1, count(s:read("l")))
  check("stream:read L", 1, count(s:read("L")))
  check("stream:read 2 formats", 2, count(s:read(3, "l")))
  check("stream:read n", 1, count(s:read("n")))
  check("stream:read_some", 1, count(s:read_some(2)))
  check("stream:setmaxline", 1, count(s:setmaxline(100)))
  check("stream:settimeout", 1, count(s:settimeout(5)))
  check("stream:gettimeout", 1, count(s:gettimeout()))
  check("stream:setoption", 1, count(s:setoption("keepalive", true)))
  check("stream:getoption", 1, count(s:getoption("keepalive")))
  check("stream:peer", 2, count(s:peer()))
  check("stream:sockname", 2, count(s:sockname()))
  check("stream:lines", 1, count(s:lines()))
  check("stream:shutdown", 1, count(c:shutdown("w")))
  check("stream:read a", 1, count(s:read("a")))
  check("stream:read at the end", 1, count(s:read("l")))
  check("stream:close", 1, count(c:close()))

  check("udp:sendto", 1, count(u:sendto("x", "127.0.0.1", vport)))
  check("udp:recvfrom", 3, count(v:recvfrom()))
  check("udp:sendto", 1, count(u:sendto("xyz", "localhost", vport)))
  check("udp:recvfrom cut", 4, count(v:recvfrom(1)))
  check("udp:sockname", 2, count(u:sockname()))
  check("udp:settimeout", 1, count(u:settimeout(5)))
  check("udp:gettimeout", 1, count(u:gettimeout()))
  check("udp:setoption", 1, count(u:setoption("broadcast", true)))
  check("udp:getoption", 1, count(u:getoption("broadcast")))
  local w = assert(sockit.udp({connect = {"127.0.0.1", uport}}))
  check("sockit.udp", 1, count(w))
  check("udp:peer", 2, count(w:peer()))
  check("udp:send", 1, count(w:send("y")))
  check("udp:recv", 1, count(u:recv()))
  check("udp:close", 1, count(w:close()))

  local l = assert(sockit.listen_unix(path))
  check("sockit.listen_unix", 1, count(l))
  check("server:address unix", 1, count(l:address()))
  local uc = assert(sockit.connect_unix(path))
  check("sockit.connect_unix", 1, count(uc))
  check("server:accept unix", 2, count(l:accept())):close()
  check("stream:peer unix", 1, count(uc:peer()))
  check("server:close", 1, count(l:close()))
  uc:close()
  local a, b = core.socketpair()
  core.close(b)
  local st = sockit.stream(a)
  check("sockit.stream", 1, count(st))
  st:close()
  check("sockit.sleep", 1, count(sockit.sleep(0)))
end

-- the check of calls(): the count, and no failure among the values;
-- -> the values
local function expect(name, want, n, ...)
  local v, msg, code = ...
  assert(v ~= nil or n == 1, name .. " failed: " .. tostring(msg) .. " "
         .. tostring(code))
  assert.equal(want, n, name .. " returned " .. n .. " values")
  return ...
end

describe("every public call of the layer", function()
  it("returns exactly the values the README names, outside a task",
     function()
    calls(expect)
  end)

  it("returns the same values inside a task", function()
    -- no pcall around the calls: Lua 5.1 cannot yield across it; an error
    -- comes out of run()
    sockit.spawn(function() calls(expect) end)
    assert.equal(1, select("#", sockit.run()))
  end)

  it("returns one value from spawn, serve and run", function()
    assert.equal(1, select("#", sockit.spawn(function() end)))
    local n, srv = count(sockit.serve("127.0.0.1", 0, print))
    assert.equal(1, n)
    srv:close()
    assert.equal(1, select("#", sockit.run()))
  end)
end)

describe("gettimeout, setoption and getoption", function()
  it("work on streams, servers and UDP objects", function()
    local _, c, srv = tcp()
    local u = udp()
    for _, obj in ipairs({c, srv, u}) do
      assert.is_nil(obj:gettimeout())
      assert.equal(obj, obj:settimeout(2.5))
      assert.equal(2.5, obj:gettimeout())
      obj:settimeout(-1)
      assert.is_nil(obj:gettimeout())
      assert.is_true(obj:setoption("rcvbuf", 8192))
      assert.is_true(obj:getoption("rcvbuf") >= 8192)
    end
    assert.equal("stream", c:getoption("type"))
    assert.is_true(srv:getoption("acceptconn"))
    assert.equal("dgram", u:getoption("type"))
  end)

  it("give a stream's own timeout, not its socket's", function()
    local c = tcp()
    c:settimeout(3)
    c:write("x")   -- the stream sets its socket's timeout for the call
    assert.equal(3, c:gettimeout())
  end)

  it("return the fail tuple of an option the kernel refuses", function()
    local a, b = core.socketpair()
    local s = sockit.stream(a)
    finally(function() s:close(); b:close() end)
    errs.fails({"EOPNOTSUPP", "ENOPROTOOPT"}, s:setoption("nodelay", true))
  end)

  it("raise with the argument after self, at the caller's line", function()
    local c = tcp()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local ok = c:setoption("nosuch", 1); return ok end)
    assert.matches(":" .. line .. ": bad argument #1 to 'setoption'", err)
    assert.matches("#2 to 'setoption'", raised(c.setoption, c, "nodelay", 1))
    assert.matches("#1 to 'getoption'", raised(c.getoption, c, 5))
    c:close()
    assert.matches("closed stream", raised(c.getoption, c, "type"))
    assert.matches("closed stream", raised(c.gettimeout, c))
  end)
end)

describe("integer-valued floats", function()
  it("are integers for ports, sizes and limits", function()
    local srv = assert(sockit.listen("127.0.0.1", 0.0, {backlog = 2 ^ 4}))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local c = assert(sockit.connect("127.0.0.1", port + 0.0,
                                    {timeout = 5, maxline = 2 ^ 4}))
    finally(function() c:close() end)
    local s = assert(srv:accept())
    finally(function() s:close() end)
    assert(c:write(("x"):rep(20), "\n"))
    assert(s:write(("y"):rep(20), "\n"))
    errs.fails("EMSGSIZE", c:read("l"))     -- maxline 2^4
    assert.equal(c, c:setmaxline(2.0 ^ 5))
    assert.equal(("y"):rep(20), c:read("l"))
    assert.equal("xxxx", s:read_some(4.0))
    assert.equal(("x"):rep(16), s:read(16.0))
  end)
end)

describe("lookup failures", function()
  it("name the host or the service that was looked up", function()
    local _, msg, code = sockit.connect("127.0.0.1\0junk", net.freeport(),
                                        {timeout = 5})
    assert.equal("EAI_NONAME", code)
    assert.equal(1, msg:find("127.0.0.1\0junk: ", 1, true))
    _, msg, code = sockit.listen("*", "no-such-service")
    assert.equal("EAI_SERVICE", code)
    assert.equal(1, msg:find("no-such-service: ", 1, true))
    local u = udp()
    _, msg, code = u:sendto("x", "127.0.0.1", "no-such-service")
    assert.equal("EAI_SERVICE", code)
    assert.equal(1, msg:find("no-such-service: ", 1, true))
  end)
end)
