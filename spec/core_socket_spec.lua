-- sockit.core: socket handles, their life cycle and their timeout setting.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local errs = require("support.errs")
local it54 = require("support.lua54")(it, pending)
local core = env.core()

local families = {"inet", "inet6", "unix"}
local types = {"stream", "dgram", "seqpacket"}

-- The kernel has no default protocol for some pairs (inet seqpacket is
-- SCTP, often not loaded): those fail, they do not raise.
local unsupported = {"EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EAFNOSUPPORT"}

after_each(function() files.cleanup() end)

describe("core.socket", function()
  for _, family in ipairs(families) do
    for _, stype in ipairs(types) do
      it("creates a " .. family .. " " .. stype .. " socket", function()
        local s, msg, code = core.socket(family, stype)
        if not s and family ~= "unix" and stype == "seqpacket" then
          errs.fails(unsupported, s, msg, code)
          return
        end
        assert.is_not_nil(s, msg)
        finally(function() s:close() end)
        assert.equal("socket", core.type(s))
        assert.equal(family, core.getoption(s, "family"))
        assert.equal(stype, core.getoption(s, "type"))
        assert.is_true(s:fileno() >= 0)
        assert.is_not_nil(fds.flags(s:fileno()))
      end)
    end
  end

  it("opens the descriptor close-on-exec", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.is_true(fds.cloexec(s:fileno()))
  end)

  it("opens the descriptor blocking (no timeout)", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.is_false(fds.nonblocking(s:fileno()))
    assert.is_nil(s:gettimeout())
  end)

  it("takes a protocol number", function()
    local tcp = assert(core.socket("inet", "stream", 6))
    local udp = assert(core.socket("inet6", "dgram", 17))
    finally(function() tcp:close(); udp:close() end)
    assert.equal("stream", tcp:getoption("type"))
    assert.equal("dgram", udp:getoption("type"))
  end)

  it("fails with EPROTONOSUPPORT for a protocol that does not fit", function()
    -- UDP (17) is no stream protocol
    errs.fails("EPROTONOSUPPORT", core.socket("inet", "stream", 17))
  end)

  it("raises on an unknown family, type or a bad protocol", function()
    assert.error_matches(function() core.socket("ipx", "stream") end,
                         "bad argument #1")
    assert.error_matches(function() core.socket("INET", "stream") end,
                         "bad argument #1")
    assert.error_matches(function() core.socket() end, "bad argument #1")
    assert.error_matches(function() core.socket("inet", "raw") end,
                         "bad argument #2")
    assert.error_matches(function() core.socket("inet") end,
                         "bad argument #2")
    assert.error_matches(function() core.socket("inet", "stream", "tcp") end,
                         "bad argument #3")
    assert.error_matches(function() core.socket("inet", "stream", 1.5) end,
                         "bad argument #3")
  end)
end)

describe("core.socketpair", function()
  it("gives two connected Unix stream sockets by default", function()
    local a, b = core.socketpair()
    finally(function() a:close(); b:close() end)
    for _, s in ipairs({a, b}) do
      assert.equal("socket", core.type(s))
      assert.equal("unix", s:getoption("family"))
      assert.equal("stream", s:getoption("type"))
      assert.is_true(fds.cloexec(s:fileno()))
    end
    assert.are_not.equal(a:fileno(), b:fileno())
    assert.equal(5, a:send("hello"))
    assert.equal("hello", b:recv(100))
    assert.equal(3, b:send("abc"))
    assert.equal("abc", a:recv(100))
  end)

  it("keeps datagram boundaries with dgram", function()
    local a, b = core.socketpair("dgram")
    finally(function() a:close(); b:close() end)
    assert.equal("dgram", a:getoption("type"))
    assert.equal(3, a:send("one"))
    assert.equal(3, a:send("two"))
    assert.equal("one", b:recv(100))
    assert.equal("two", b:recv(100))
  end)

  it("keeps record boundaries with seqpacket", function()
    local a, b = core.socketpair("seqpacket")
    finally(function() a:close(); b:close() end)
    assert.equal("seqpacket", b:getoption("type"))
    assert.equal(5, a:send("first"))
    assert.equal(6, a:send("second"))
    assert.equal("first", b:recv(100))
    assert.equal("second", b:recv(100))
    a:close()
    assert.equal("", b:recv(100))
  end)

  it("raises on an unknown type", function()
    assert.error_matches(function() core.socketpair("bogus") end,
                         "bad argument #1")
    assert.error_matches(function() core.socketpair(1) end,
                         "bad argument #1")
  end)
end)

describe("core.close", function()
  it("returns true and is idempotent", function()
    local s = core.socket("inet", "stream")
    local fd = s:fileno()
    assert.is_true(s:close())
    assert.is_nil(fds.flags(fd))
    assert.is_true(s:close())
    assert.is_true(core.close(s))
  end)

  it("raises on something that is not a socket", function()
    assert.error_matches(function() core.close({}) end, "bad argument #1")
    assert.error_matches(function() core.close(io.stdout) end,
                         "bad argument #1")
    assert.error_matches(function() core.close() end, "bad argument #1")
  end)

  it("makes the peer of a pair see the end of stream", function()
    local a, b = core.socketpair()
    finally(function() b:close() end)
    a:close()
    assert.equal("", b:recv(10))
  end)
end)

describe("a closed socket", function()
  local calls = {
    {"send", "x"},
    {"recv", 1},
    {"recv_into", "BUFFER"},
    {"connect", "127.0.0.1", 1},
    {"bind", "127.0.0.1", 0},
    {"listen"},
    {"accept"},
    {"sendto", "x", "127.0.0.1", 9},
    {"recvfrom", 10},
    {"shutdown", "rw"},
    {"wait", "r", 0},
    {"getsockname"},
    {"getpeername"},
    {"setoption", "reuseaddr", true},
    {"getoption", "type"},
    {"settimeout", 1},
    {"gettimeout"},
    {"detach"},
  }

  local function closed()
    local s = core.socket("inet", "stream")
    s:close()
    return s
  end

  for _, call in ipairs(calls) do
    local name = call[1]
    it("raises on " .. name, function()
      local s = closed()
      local args = {table.unpack(call, 2)}
      for i, v in ipairs(args) do
        if v == "BUFFER" then args[i] = core.buffer(16) end
      end
      assert.error_matches(function() core[name](s, table.unpack(args)) end,
                           "closed socket")
      assert.error_matches(function() s[name](s, table.unpack(args)) end,
                           "closed socket")
    end)
  end

  it("complains about the socket before the other arguments", function()
    local s = closed()
    assert.error_matches(function() s:recv("bad") end, "closed socket")
    assert.error_matches(function() s:recv() end, "closed socket")
    assert.error_matches(function() s:send(nil) end, "closed socket")
    assert.error_matches(function() s:send({}) end, "closed socket")
    assert.error_matches(function() s:connect({}) end, "closed socket")
    assert.error_matches(function() s:bind("127.0.0.1", -1) end,
                         "closed socket")
    assert.error_matches(function() s:settimeout("x") end, "closed socket")
    assert.error_matches(function() s:setoption("nosuchoption", 1) end,
                         "closed socket")
    assert.error_matches(function() s:wait("bogus") end, "closed socket")
    assert.error_matches(function() s:shutdown("bogus") end, "closed socket")
  end)

  it("still answers close, fileno, type and tostring", function()
    local s = closed()
    assert.is_true(s:close())
    assert.equal(-1, s:fileno())
    assert.equal("closed socket", core.type(s))
    assert.equal("sockit.socket (closed)", tostring(s))
  end)
end)

describe("core.fileno", function()
  it("gives the descriptor, then -1 once closed", function()
    local s = core.socket("inet", "dgram")
    local fd = s:fileno()
    assert.is_true(math.type(fd) == "integer" and fd >= 0)
    assert.is_not_nil(fds.flags(fd))
    assert.equal(fd, core.fileno(s))
    s:close()
    assert.equal(-1, s:fileno())
    assert.equal(-1, core.fileno(s))
  end)

  it("raises on something that is not a socket", function()
    assert.error_matches(function() core.fileno(io.stdout) end,
                         "bad argument #1")
    assert.error_matches(function() core.fileno(3) end, "bad argument #1")
  end)
end)

describe("core.type", function()
  it("tells sockets, closed sockets and anything else apart", function()
    local s = core.socket("unix", "stream")
    assert.equal("socket", core.type(s))
    s:close()
    assert.equal("closed socket", core.type(s))
    assert.is_nil(core.type(io.stdout))
    assert.is_nil(core.type({}))
    assert.is_nil(core.type(nil))
    assert.is_nil(core.type("socket"))
    assert.is_nil(core.type(42))
    assert.is_nil(core.type(core.buffer(4)))
  end)
end)

describe("tostring of a socket", function()
  it("names family, type and the real descriptor", function()
    local cases = {{"inet", "stream"}, {"inet6", "dgram"},
                   {"unix", "seqpacket"}, {"unix", "dgram"}}
    for _, c in ipairs(cases) do
      local s = core.socket(c[1], c[2])
      local want = ("sockit.socket (%s %s, fd %d)"):format(c[1], c[2],
                                                           s:fileno())
      assert.equal(want, tostring(s))
      s:close()
      assert.equal("sockit.socket (closed)", tostring(s))
    end
  end)

  it("has the registered metatable name", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    local mt = getmetatable(s)
    assert.equal("sockit.socket", mt.__name)
    assert.equal(mt, debug.getregistry()["sockit.socket"])
  end)
end)

describe("a to-be-closed socket", function()
  it54("is closed when its scope ends", [[
    local assert, core, fds = ...
    local saved, fd
    do
      local s <close> = core.socket("inet", "stream")
      saved, fd = s, s:fileno()
      assert.is_not_nil(fds.flags(fd))
    end
    assert.equal(-1, saved:fileno())
    assert.equal("closed socket", core.type(saved))
    assert.is_nil(fds.flags(fd))
  ]], assert, core, fds)

  it54("is closed when its scope ends by an error", [[
    local assert, core = ...
    local saved
    local ok = pcall(function()
      local s <close> = core.socket("inet", "stream")
      saved = s
      error("boom")
    end)
    assert.is_false(ok)
    assert.equal(-1, saved:fileno())
  ]], assert, core)

  it54("may already be closed at the end of its scope", [[
    local assert, core = ...
    assert.has_no.errors(function()
      local s <close> = core.socket("inet", "stream")
      s:close()
    end)
  ]], assert, core)
end)

describe("collecting sockets", function()
  it("closes their descriptors", function()
    collectgarbage()
    collectgarbage()
    local before = fds.count()
    do
      local keep = {}
      for i = 1, 10 do keep[i] = core.socket("inet", "stream") end
      for _ = 1, 5 do
        local a, b = core.socketpair()
        keep[#keep + 1] = a
        keep[#keep + 1] = b
      end
      keep[1]:close()   -- collecting a closed handle is fine too
      assert.equal(before + 19, fds.count())
    end
    collectgarbage()
    collectgarbage()
    assert.equal(before, fds.count())
  end)
end)

describe("core.detach", function()
  it("gives the descriptor away and leaves the handle closed", function()
    local a, b = core.socketpair()
    finally(function() b:close() end)
    local want = a:fileno()
    local fd = a:detach()
    assert.equal(want, fd)
    assert.equal(-1, a:fileno())
    assert.equal("closed socket", core.type(a))
    assert.is_true(a:close())
    assert.is_not_nil(fds.flags(fd))   -- still open
    local c = core.fromfd(fd)
    finally(function() c:close() end)
    assert.equal(fd, c:fileno())
    assert.equal(4, c:send("ping"))
    assert.equal("ping", b:recv(10))
    assert.equal(4, b:send("pong"))
    assert.equal("pong", c:recv(10))
  end)

  it("leaves the descriptor open when the handle is collected", function()
    local fd
    do
      local s = core.socket("inet", "stream")
      fd = s:detach()
    end
    collectgarbage()
    collectgarbage()
    assert.is_not_nil(fds.flags(fd))
    core.fromfd(fd):close()
    assert.is_nil(fds.flags(fd))
  end)
end)

describe("core.fromfd", function()
  local cases = {{"inet", "stream"}, {"inet", "dgram"}, {"inet6", "stream"},
                 {"inet6", "dgram"}, {"unix", "stream"}, {"unix", "dgram"},
                 {"unix", "seqpacket"}}
  for _, c in ipairs(cases) do
    it("reads family and type of a " .. c[1] .. " " .. c[2]
       .. " socket from the kernel", function()
      local s = core.socket(c[1], c[2])
      local fd = s:detach()
      local t = core.fromfd(fd)
      finally(function() t:close() end)
      assert.equal("socket", core.type(t))
      assert.equal(c[1], t:getoption("family"))
      assert.equal(c[2], t:getoption("type"))
      assert.equal(("sockit.socket (%s %s, fd %d)"):format(c[1], c[2], fd),
                   tostring(t))
    end)
  end

  it("gives a blocking descriptor no timeout", function()
    local s = core.socket("inet", "stream")
    local t = core.fromfd(s:detach())
    finally(function() t:close() end)
    assert.is_nil(t:gettimeout())
  end)

  it("gives a non-blocking descriptor timeout 0", function()
    local s = core.socket("inet", "stream"):settimeout(2.5)
    assert.is_true(fds.nonblocking(s:fileno()))
    local t = core.fromfd(s:detach())
    finally(function() t:close() end)
    assert.equal(0, t:gettimeout())
    assert.is_true(fds.nonblocking(t:fileno()))
  end)

  it("sets close-on-exec and owns the descriptor", function()
    local s = core.socket("unix", "stream")
    local fd = s:detach()
    local t = core.fromfd(fd)
    assert.is_true(fds.cloexec(fd))
    t:close()
    assert.is_nil(fds.flags(fd))
  end)

  it("fails with EBADF on a descriptor that is not open", function()
    local s = core.socket("inet", "stream")
    local fd = s:detach()
    core.fromfd(fd):close()
    errs.fails("EBADF", core.fromfd(fd))
  end)

  it("fails with ENOTSOCK on a regular file and leaves it open", function()
    local dir = files.tmpdir()
    local path = dir .. "/plain"
    local f = assert(io.open(path, "w"))
    local fd = fds.for_path(path)
    assert.is_not_nil(fd, "descriptor of the file not found")
    errs.fails("ENOTSOCK", core.fromfd(fd))
    assert.is_not_nil(fds.flags(fd))
    assert.truthy(f:write("still mine"))
    assert.is_true(f:close())
  end)

  it("raises on a descriptor that is not an integer", function()
    assert.error_matches(function() core.fromfd("x") end, "bad argument #1")
    assert.error_matches(function() core.fromfd(1.5) end, "bad argument #1")
    assert.error_matches(function() core.fromfd() end, "bad argument #1")
  end)
end)

describe("core.settimeout and core.gettimeout", function()
  it("start with no timeout", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.is_nil(s:gettimeout())
    assert.is_nil(core.gettimeout(s))
  end)

  it("return the socket for chaining and keep the value", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.equal(s, s:settimeout(0))
    assert.equal(0, s:gettimeout())
    assert.equal(s, core.settimeout(s, 1.5))
    assert.equal(1.5, s:gettimeout())
    assert.equal(0.25, s:settimeout(0.25):gettimeout())
    assert.equal(3, s:settimeout(3):gettimeout())
  end)

  it("treat nil and a negative number as no timeout", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    s:settimeout(1)
    assert.is_nil(s:settimeout(-1):gettimeout())
    s:settimeout(1)
    assert.is_nil(s:settimeout(-0.5):gettimeout())
    s:settimeout(1)
    assert.is_nil(s:settimeout(nil):gettimeout())
  end)

  it("make the descriptor non-blocking only while there is a timeout",
     function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    local fd = s:fileno()
    assert.is_false(fds.nonblocking(fd))
    s:settimeout(0)
    assert.is_true(fds.nonblocking(fd))
    s:settimeout(nil)
    assert.is_false(fds.nonblocking(fd))
    s:settimeout(0.5)
    assert.is_true(fds.nonblocking(fd))
    s:settimeout(-1)
    assert.is_false(fds.nonblocking(fd))
  end)

  it("are per socket", function()
    local a, b = core.socketpair()
    finally(function() a:close(); b:close() end)
    a:settimeout(0)
    assert.equal(0, a:gettimeout())
    assert.is_nil(b:gettimeout())
  end)

  it("raise on a timeout that is not a number", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.error_matches(function() core.settimeout(s, "x") end,
                         "bad argument #2")
    assert.error_matches(function() core.settimeout(s, {}) end,
                         "bad argument #2")
    assert.error_matches(function() core.settimeout(s, true) end,
                         "bad argument #2")
    assert.is_nil(s:gettimeout())
    assert.error_matches(function() core.settimeout({}, 1) end,
                         "bad argument #1")
    assert.error_matches(function() core.gettimeout(io.stdout) end,
                         "bad argument #1")
  end)
end)
