-- sockit.core: addresses, connecting, sending and receiving, waiting.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()

local MiB = 1024 * 1024

after_each(function() files.cleanup() end)

-- A pair that nothing else can disturb, with a wide send buffer.
local function pair(stype)
  return net.pair(finally, stype)
end

local function tcppair(host)
  local c, a = net.tcppair(host)
  finally(function() c:close(); a:close() end)
  return c, a
end

describe("core.bind", function()
  it("picks a free port for port 0 and getsockname tells it", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.is_true(s:bind("127.0.0.1", 0))
    local host, port = s:getsockname()
    assert.equal("127.0.0.1", host)
    assert.is_true(math.type(port) == "integer" and port > 0 and port < 65536)
  end)

  it("binds the given port", function()
    local port = net.freeport()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.is_true(core.bind(s, "127.0.0.1", port))
    assert.same({"127.0.0.1", port}, {s:getsockname()})
  end)

  it("takes '*' as the wildcard address", function()
    local s4 = core.socket("inet", "stream")
    local s6 = core.socket("inet6", "dgram")
    finally(function() s4:close(); s6:close() end)
    assert.is_true(s4:bind("*", 0))
    assert.equal("0.0.0.0", (s4:getsockname()))
    assert.is_true(s6:bind("*", 0))
    assert.equal("::", (s6:getsockname()))
  end)

  it("binds ::1 on an inet6 socket", function()
    local s = core.socket("inet6", "stream")
    finally(function() s:close() end)
    assert.is_true(s:bind("::1", 0))
    assert.equal("::1", (s:getsockname()))
  end)

  it("takes an IPv4 literal on an inet6 socket as v4-mapped", function()
    local s = core.socket("inet6", "stream")
    finally(function() s:close() end)
    assert.is_true(s:bind("127.0.0.1", 0))
    assert.equal("::ffff:127.0.0.1", (s:getsockname()))
  end)

  it("fails with EADDRINUSE on a port already bound", function()
    local a = core.socket("inet", "stream")
    local b = core.socket("inet", "stream")
    finally(function() a:close(); b:close() end)
    assert(a:bind("127.0.0.1", 0))
    assert(a:listen())
    local _, port = a:getsockname()
    errs.fails("EADDRINUSE", b:bind("127.0.0.1", port))
  end)

  it("fails with EAI_NONAME on a host name", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    errs.fails("EAI_NONAME", s:bind("localhost", 0))
    errs.fails("EAI_NONAME", s:bind("no such host", 0))
  end)

  it("fails with EADDRNOTAVAIL on an address that is not local", function()
    -- 127.0.0.0/8 is all loopback; ::2 is nobody's address here
    local s = core.socket("inet6", "stream")
    finally(function() s:close() end)
    errs.fails("EADDRNOTAVAIL", s:bind("::2", 0))
  end)

  it("raises on a port outside 0..65535 or not an integer", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    for _, port in ipairs({-1, 65536, 1.5, "http", math.huge}) do
      assert.error_matches(function() core.bind(s, "127.0.0.1", port) end,
                           "bad argument #3", nil,
                           "port " .. tostring(port))
    end
    assert.error_matches(function() core.bind(s, "127.0.0.1") end,
                         "bad argument #3")
  end)

  it("raises on a host that is not a string", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.error_matches(function() core.bind(s, {}, 0) end,
                         "bad argument #2")
    assert.error_matches(function() core.bind(s) end, "bad argument #2")
  end)
end)

describe("core.listen", function()
  it("listens with the default backlog", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert(s:bind("127.0.0.1", 0))
    assert.is_false(s:getoption("acceptconn"))
    assert.is_true(s:listen())
    assert.is_true(s:getoption("acceptconn"))
  end)

  it("takes a backlog", function()
    local s = core.socket("inet6", "stream")
    finally(function() s:close() end)
    assert(s:bind("::1", 0))
    assert.is_true(core.listen(s, 5))
    assert.is_true(s:getoption("acceptconn"))
  end)

  it("fails with EOPNOTSUPP on a datagram socket", function()
    local s = core.socket("inet", "dgram")
    finally(function() s:close() end)
    errs.fails("EOPNOTSUPP", s:listen())
  end)

  it("raises on a backlog that is not an integer", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.error_matches(function() core.listen(s, "many") end,
                         "bad argument #2")
    assert.error_matches(function() core.listen(s, 1.5) end,
                         "bad argument #2")
  end)
end)

describe("core.accept", function()
  for _, host in ipairs({"127.0.0.1", "::1"}) do
    it("gives the socket, host and port of a client on " .. host, function()
      local l, port = net.listener(host)
      local c = core.socket(host == "::1" and "inet6" or "inet", "stream")
      finally(function() l:close(); c:close() end)
      assert.is_true(c:connect(host, port))
      local a, peer, peerport = l:accept()
      finally(function() a:close() end)
      assert.equal("socket", core.type(a))
      assert.equal(host, peer)
      assert.same({host, peerport}, {c:getsockname()})
      assert.same({host, port}, {a:getsockname()})
      assert.same({host, peerport}, {a:getpeername()})
    end)
  end

  it("gives a blocking, close-on-exec socket without timeout", function()
    local l, port = net.listener()
    local c = core.socket("inet", "stream")
    finally(function() l:close(); c:close() end)
    l:settimeout(5)
    assert(c:connect("127.0.0.1", port))
    local a = assert(core.accept(l))
    finally(function() a:close() end)
    assert.is_nil(a:gettimeout())
    assert.is_false(fds.nonblocking(a:fileno()))
    assert.is_true(fds.cloexec(a:fileno()))
    assert.equal(5, l:gettimeout())
  end)

  it("gives an empty path for an unnamed Unix client", function()
    local path = files.tmppath()
    local l = core.socket("unix", "stream")
    local c = core.socket("unix", "stream")
    finally(function() l:close(); c:close() end)
    assert(l:bind(path))
    assert(l:listen())
    assert(c:connect(path))
    local a, peer = l:accept()
    finally(function() a:close() end)
    assert.equal("socket", core.type(a))
    assert.equal("", peer)
  end)

  it("gives the path of a bound Unix client", function()
    local dir = files.tmpdir()
    local l = core.socket("unix", "seqpacket")
    local c = core.socket("unix", "seqpacket")
    finally(function() l:close(); c:close() end)
    assert(l:bind(dir .. "/server"))
    assert(l:listen())
    assert(c:bind(dir .. "/client"))
    assert(c:connect(dir .. "/server"))
    local a, peer = l:accept()
    finally(function() a:close() end)
    assert.equal(dir .. "/client", peer)
    assert.equal(dir .. "/client", a:getpeername())
  end)

  it("accepts on a listener taken over with fromfd", function()
    local l, port = net.listener()
    local l2 = core.fromfd(l:detach())
    local c = core.socket("inet", "stream")
    finally(function() l2:close(); c:close() end)
    assert.is_true(l2:getoption("acceptconn"))
    assert(c:connect("127.0.0.1", port))
    local a, host = l2:accept()
    finally(function() a:close() end)
    assert.equal("127.0.0.1", host)
    assert.equal(2, c:send("ok"))
    assert.equal("ok", a:recv(10))
  end)

  it("fails with EINVAL on a socket that does not listen", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert(s:bind("127.0.0.1", 0))
    errs.fails("EINVAL", s:accept())
  end)
end)

describe("core.connect", function()
  it("connects over IPv4 and IPv6 loopback", function()
    for _, host in ipairs({"127.0.0.1", "::1"}) do
      local l, port = net.listener(host)
      local c = core.socket(host == "::1" and "inet6" or "inet", "stream")
      assert.is_true(core.connect(c, host, port))
      assert.same({host, port}, {c:getpeername()})
      local a = assert(l:accept())
      a:close(); c:close(); l:close()
    end
  end)

  it("connects an inet6 socket to an IPv4 listener", function()
    local l, port = net.listener("127.0.0.1")
    local c = core.socket("inet6", "stream")
    finally(function() l:close(); c:close() end)
    assert.is_true(c:connect("127.0.0.1", port))
    assert.same({"::ffff:127.0.0.1", port}, {c:getpeername()})
  end)

  it("fails with ECONNREFUSED on a closed port", function()
    for _, host in ipairs({"127.0.0.1", "::1"}) do
      local port = net.freeport(host)
      local c = core.socket(host == "::1" and "inet6" or "inet", "stream")
      errs.fails("ECONNREFUSED", c:connect(host, port))
      c:close()
    end
  end)

  it("fails with ECONNREFUSED on a closed port with a timeout", function()
    local port = net.freeport()
    local c = core.socket("inet", "stream"):settimeout(5)
    finally(function() c:close() end)
    errs.fails("ECONNREFUSED", c:connect("127.0.0.1", port))
  end)

  it("fails with EAI_NONAME on a host name", function()
    local c = core.socket("inet", "stream")
    finally(function() c:close() end)
    errs.fails("EAI_NONAME", c:connect("localhost", 80))
  end)

  it("fails with ENOENT on a Unix path that does not exist", function()
    local c = core.socket("unix", "stream")
    finally(function() c:close() end)
    errs.fails("ENOENT", c:connect(files.tmpdir() .. "/nothing"))
  end)

  it("raises on a bad port", function()
    local c = core.socket("inet", "stream")
    finally(function() c:close() end)
    for _, port in ipairs({-1, 65536, 2.5, "smtp"}) do
      assert.error_matches(function() c:connect("127.0.0.1", port) end,
                           "bad argument")
      assert.error_matches(function() core.connect(c, "127.0.0.1", port) end,
                           "bad argument #3")
    end
  end)
end)

describe("core.send and core.recv", function()
  for _, host in ipairs({"127.0.0.1", "::1"}) do
    it("carry data both ways over TCP on " .. host, function()
      local c, a = tcppair(host)
      assert.equal(6, c:send("hello\n"))
      assert.equal("hello\n", net.recvall(a, 6))
      assert.equal(4, core.send(a, "back"))
      assert.equal("back", net.recvall(c, 4))
    end)
  end

  it("send takes i and j as string.sub does", function()
    local a, b = pair()
    local data = "hello world"
    local cases = {
      {{7}, "world"}, {{-5}, "world"}, {{1, 5}, "hello"}, {{2, -2}, "ello worl"},
      {{0}, data}, {{-100, 3}, "hel"}, {{5, 5}, "o"}, {{1, 100}, data},
      {{nil, 4}, "hell"},
    }
    for _, c in ipairs(cases) do
      local i, j = c[1][1], c[1][2]
      assert.equal(#c[2], a:send(data, i, j))
      assert.equal(c[2], b:recv(100))
    end
  end)

  it("send of an empty range sends nothing and returns 0", function()
    local a, b = pair()
    b:settimeout(0)
    assert.equal(0, a:send("hello", 4, 3))
    assert.equal(0, a:send("hello", 6))
    assert.equal(0, a:send("hello", 100, 200))
    assert.equal(0, a:send("hello", -1, -2))
    errs.fails("EAGAIN", b:recv(10))
  end)

  it("send raises on data that is not a string and on bad indices",
     function()
    local a = pair()
    assert.error_matches(function() core.send(a, {}) end, "bad argument #2")
    assert.error_matches(function() core.send(a, nil) end, "bad argument #2")
    assert.error_matches(function() core.send(a) end, "bad argument #2")
    assert.error_matches(function() core.send(a, "x", 1.5) end,
                         "bad argument #3")
    assert.error_matches(function() core.send(a, "x", "y") end,
                         "bad argument #3")
    assert.error_matches(function() core.send(a, "x", 1, {}) end,
                         "bad argument #4")
  end)

  it("recv gives at most n bytes", function()
    local a, b = pair()
    assert.equal(6, a:send("abcdef"))
    assert.equal("abcd", b:recv(4))
    assert.equal("e", core.recv(b, 1))
    assert.equal("f", b:recv(100))
  end)

  it("recv with 'peek' leaves the data", function()
    local a, b = pair()
    a:send("abcdef")
    assert.equal("abc", b:recv(3, "peek"))
    assert.equal("abcdef", b:recv(100, "peek"))
    assert.equal("abcdef", b:recv(100))
  end)

  it("recv gives '' after the peer closed (end of stream)", function()
    local c, a = tcppair()
    c:send("last")
    c:close()
    assert.equal("last", net.recvall(a, 4))
    assert.equal("", a:recv(10))
    assert.equal("", a:recv(10))
  end)

  it("recv raises on a size that is not an integer >= 1", function()
    local a = pair()
    for _, n in ipairs({0, -1, 1.5, 1e300, -math.huge, math.huge, "x"}) do
      assert.error_matches(function() core.recv(a, n) end, "bad argument #2",
                           nil, "n = " .. tostring(n))
    end
    assert.error_matches(function() core.recv(a) end, "bad argument #2")
    assert.error_matches(function() core.recv(a, 1, "look") end,
                         "bad argument #3")
  end)

  it("recv with a huge n gives what is there", function()
    local a, b = pair()
    a:send("xyz")
    assert.equal("xyz", b:recv(2^40))
    a:send("uvw")
    assert.equal("uvw", b:recv(math.maxinteger))
  end)

  it("recv of 64 KiB takes one call when the data is there", function()
    local a, b = pair()
    assert(a:setoption("sndbuf", 256 * 1024))
    assert(b:setoption("rcvbuf", 256 * 1024))
    local data = net.bytes(65536)
    assert.equal(65536, a:send(data))
    local got = b:recv(65536)
    assert.equal(65536, #got)
    assert.is_true(got == data)
  end)

  it("carry zero bytes", function()
    local a, b = pair()
    assert.equal(3, a:send("\0a\0"))
    assert.equal("\0a\0", b:recv(10))
    local c, d = tcppair()
    assert.equal(4, c:send("\0\0\0\0"))
    assert.equal("\0\0\0\0", net.recvall(d, 4))
  end)

  it("carry 16 MiB intact through a socketpair", function()
    local a, b = pair()
    a:settimeout(0)
    b:settimeout(0)
    local data = net.bytes(16 * MiB, 11)
    local i, parts, got = 1, {}, 0
    while got < #data do
      local sent = false
      if i <= #data then
        local n, _, code = a:send(data, i, i + MiB - 1)
        if n then
          i, sent = i + n, n > 0
        else
          assert.equal("EAGAIN", code)
        end
      end
      local s, _, code = b:recv(MiB)
      if s then
        assert.is_true(#s > 0)
        parts[#parts + 1] = s
        got = got + #s
      else
        assert.equal("EAGAIN", code)
        if not sent then assert.is_true(b:wait("r", 10)) end
      end
    end
    local all = table.concat(parts)
    assert.equal(#data, #all)
    assert.is_true(all == data)
    errs.fails("EAGAIN", b:recv(1))
  end)

  it("send is partial, then EAGAIN, on a full non-blocking socket",
     function()
    local c, a = tcppair()
    assert(c:setoption("sndbuf", 64 * 1024))
    assert(a:setoption("rcvbuf", 64 * 1024))
    c:settimeout(0)
    local chunk = net.bytes(100001)
    local total, partial, code = 0, false, nil
    for _ = 1, 10000 do
      local n, _, err = c:send(chunk)
      if not n then code = err; break end
      assert.is_true(n > 0 and n <= #chunk)
      if n < #chunk then partial = true end
      total = total + n
    end
    assert.equal("EAGAIN", code)
    assert.is_true(partial)
    assert.is_true(total > 0)
    -- every byte that was accepted arrives
    c:shutdown("w")
    local got = 0
    repeat
      local s = assert(a:recv(MiB))
      got = got + #s
    until s == ""
    assert.equal(total, got)
  end)

  it("fail with ENOTCONN on a socket that is not connected", function()
    local l = net.listener()
    finally(function() l:close() end)
    errs.fails("ENOTCONN", l:recv(10))
  end)

  it("work on a connected UDP socket", function()
    local r = core.socket("inet", "dgram")
    local c = core.socket("inet", "dgram")
    finally(function() r:close(); c:close() end)
    assert(r:bind("127.0.0.1", 0))
    local _, port = r:getsockname()
    assert.is_true(c:connect("127.0.0.1", port))
    assert.equal(4, c:send("ping"))
    local data, host, cport = r:recvfrom(10)
    assert.equal("ping", data)
    assert.equal(4, r:sendto("pong", host, cport))
    assert.equal("pong", c:recv(10))
  end)

  it("recv fails with ECONNREFUSED on a connected UDP socket nobody hears",
     function()
    local port = net.freeport()
    local c = core.socket("inet", "dgram")
    finally(function() c:close() end)
    assert.is_true(c:connect("127.0.0.1", port))
    assert.equal(1, c:send("x"))
    c:settimeout(10)   -- the ICMP error comes back over loopback at once
    errs.fails("ECONNREFUSED", c:recv(10))
  end)

  it("fail with EAGAIN at timeout 0 when nothing is there", function()
    local a, b = pair()
    b:settimeout(0)
    errs.fails("EAGAIN", b:recv(10))
    errs.fails("EAGAIN", b:recv(10, "peek"))
    a:send("x")
    assert.equal("x", b:recv(10))
  end)
end)

describe("core.buffer", function()
  it("starts empty with its capacity", function()
    local buf = core.buffer(16)
    assert.equal(0, #buf)
    assert.equal(16, buf:capacity())
    assert.equal("", buf:tostring())
    assert.equal("sockit.buffer", getmetatable(buf).__name)
  end)

  it("raises on a capacity below 1 or not an integer", function()
    for _, cap in ipairs({0, -1, 1.5, "big"}) do
      assert.error_matches(function() core.buffer(cap) end, "bad argument #1",
                           nil, "capacity " .. tostring(cap))
    end
    assert.error_matches(function() core.buffer() end, "bad argument #1")
  end)

  it("tostring takes i and j as string.sub does", function()
    local a, b = pair()
    local buf = core.buffer(32)
    a:send("hello world")
    assert.equal(11, b:recv_into(buf))
    assert.equal(11, #buf)
    assert.equal("hello world", buf:tostring())
    assert.equal("world", buf:tostring(7))
    assert.equal("world", buf:tostring(-5))
    assert.equal("ello", buf:tostring(2, 5))
    assert.equal("hello worl", buf:tostring(1, -2))
    assert.equal("", buf:tostring(5, 4))
    assert.equal("hello world", buf:tostring(-100, 100))
  end)
end)

describe("core.recv_into", function()
  it("fills the buffer from its start and returns the count", function()
    local a, b = pair()
    local buf = core.buffer(64)
    a:send("hello")
    assert.equal(5, core.recv_into(b, buf))
    assert.equal("hello", buf:tostring())
    a:send("ab")
    assert.equal(2, b:recv_into(buf))
    assert.equal(2, #buf)
    assert.equal("ab", buf:tostring())
  end)

  it("takes at most n bytes, and at most the capacity", function()
    local a, b = pair()
    local buf = core.buffer(4)
    a:send("abcdefgh")
    assert.equal(4, b:recv_into(buf, 100))
    assert.equal("abcd", buf:tostring())
    assert.equal(2, b:recv_into(buf, 2))
    assert.equal("ef", buf:tostring())
    assert.equal(2, b:recv_into(buf))
    assert.equal("gh", buf:tostring())
  end)

  it("returns 0 at the end of stream", function()
    local a, b = pair()
    local buf = core.buffer(8)
    a:send("x")
    a:close()
    assert.equal(1, b:recv_into(buf))
    assert.equal(0, b:recv_into(buf))
    assert.equal(0, #buf)
  end)

  it("carries zeros and big blocks", function()
    local a, b = pair()
    assert(a:setoption("sndbuf", 256 * 1024))
    local buf = core.buffer(65536)
    local data = net.bytes(65536, 3)
    assert.equal(65536, a:send(data))
    local got = {}
    local n = 0
    while n < #data do
      local k = assert(b:recv_into(buf))
      got[#got + 1] = buf:tostring()
      n = n + k
    end
    assert.is_true(table.concat(got) == data)
  end)

  it("fails with EAGAIN at timeout 0", function()
    local _, b = pair()
    b:settimeout(0)
    errs.fails("EAGAIN", b:recv_into(core.buffer(8)))
  end)

  it("raises on something that is not a buffer, or a bad n", function()
    local _, b = pair()
    local buf = core.buffer(8)
    assert.error_matches(function() core.recv_into(b, "string") end,
                         "bad argument #2")
    assert.error_matches(function() core.recv_into(b) end, "bad argument #2")
    assert.error_matches(function() core.recv_into(b, buf, 0) end,
                         "bad argument #3")
    assert.error_matches(function() core.recv_into(b, buf, 1.5) end,
                         "bad argument #3")
  end)

  it("send sends the content of a buffer", function()
    local a, b = pair()
    local buf = core.buffer(16)
    a:send("payload\0x")
    assert.equal(9, b:recv_into(buf))
    assert.equal(9, b:send(buf))
    assert.equal("payload\0x", a:recv(100))
    assert.equal(3, core.send(b, buf, 2, 4))
    assert.equal("ayl", a:recv(100))
  end)
end)

describe("core.sendto and core.recvfrom", function()
  for _, host in ipairs({"127.0.0.1", "::1"}) do
    local family = host == "::1" and "inet6" or "inet"

    local function udp()
      local r = core.socket(family, "dgram")
      local s = core.socket(family, "dgram")
      finally(function() r:close(); s:close() end)
      assert(r:bind(host, 0))
      assert(s:bind(host, 0))
      local _, rport = r:getsockname()
      local _, sport = s:getsockname()
      return r, rport, s, sport
    end

    it("carry a datagram with its source on " .. host, function()
      local r, rport, s, sport = udp()
      assert.equal(5, s:sendto("hello", host, rport))
      local t = table.pack(r:recvfrom(100))
      assert.same({n = 3, "hello", host, sport}, t)
      assert.equal(5, core.sendto(s, "again", host, rport))
      assert.same({"again", host, sport}, {core.recvfrom(r, 100)})
    end)

    it("carry an empty datagram on " .. host, function()
      local r, rport, s, sport = udp()
      assert.equal(0, s:sendto("", host, rport))
      assert.same({"", host, sport}, {r:recvfrom(100)})
    end)

    it("cut a datagram longer than n and say so on " .. host, function()
      local r, rport, s, sport = udp()
      assert.equal(8, s:sendto("abcdefgh", host, rport))
      assert.same({"abc", host, sport, true}, {r:recvfrom(3)})
      assert.equal(3, s:sendto("xyz", host, rport))
      assert.same({"xyz", host, sport}, {r:recvfrom(3)})
    end)

    it("fail with EAGAIN at timeout 0 on " .. host, function()
      local r = udp()
      r:settimeout(0)
      errs.fails("EAGAIN", r:recvfrom(10))
    end)
  end

  it("carry IPv4 datagrams on an inet6 socket as v4-mapped", function()
    local r = core.socket("inet6", "dgram")
    local s = core.socket("inet", "dgram")
    finally(function() r:close(); s:close() end)
    assert(r:bind("*", 0))
    local _, port = r:getsockname()
    assert(s:bind("127.0.0.1", 0))
    local _, sport = s:getsockname()
    assert.equal(2, s:sendto("v4", "127.0.0.1", port))
    assert.same({"v4", "::ffff:127.0.0.1", sport}, {r:recvfrom(10)})
    assert.equal(5, r:sendto("reply", "127.0.0.1", sport))
    assert.same({"reply", "127.0.0.1", port}, {s:recvfrom(10)})
  end)

  it("carry a 65507-byte datagram over IPv4", function()
    local r = core.socket("inet", "dgram")
    local s = core.socket("inet", "dgram")
    finally(function() r:close(); s:close() end)
    assert(r:bind("127.0.0.1", 0))
    assert(r:setoption("rcvbuf", 256 * 1024))
    local _, port = r:getsockname()
    local data = net.bytes(65507, 5)
    assert.equal(65507, s:sendto(data, "127.0.0.1", port))
    local got, host = r:recvfrom(65536)
    assert.equal("127.0.0.1", host)
    assert.equal(65507, #got)
    assert.is_true(got == data)
  end)

  it("fail with EMSGSIZE on a datagram too long for IPv4", function()
    local s = core.socket("inet", "dgram")
    finally(function() s:close() end)
    errs.fails("EMSGSIZE", s:sendto(("x"):rep(65508), "127.0.0.1", 9))
  end)

  it("sendto fails with EAI_NONAME on a host name", function()
    local s = core.socket("inet", "dgram")
    finally(function() s:close() end)
    errs.fails("EAI_NONAME", s:sendto("x", "localhost", 9))
  end)

  it("raise on bad arguments", function()
    local s = core.socket("inet", "dgram")
    finally(function() s:close() end)
    assert.error_matches(function() core.sendto(s, {}, "127.0.0.1", 9) end,
                         "bad argument #2")
    assert.error_matches(function() core.sendto(s, "x", "127.0.0.1", 70000)
                         end, "bad argument #4")
    assert.error_matches(function() core.sendto(s, "x", "127.0.0.1") end,
                         "bad argument #4")
    assert.error_matches(function() core.recvfrom(s, 0) end,
                         "bad argument #2")
    assert.error_matches(function() core.recvfrom(s, 2.5) end,
                         "bad argument #2")
  end)

  it("carry Unix datagrams with the sender's path", function()
    local dir = files.tmpdir()
    local rpath, spath = dir .. "/r", dir .. "/s"
    local r = core.socket("unix", "dgram")
    local s = core.socket("unix", "dgram")
    local anon = core.socket("unix", "dgram")
    finally(function() r:close(); s:close(); anon:close() end)
    assert(r:bind(rpath))
    assert(s:bind(spath))
    assert.equal(4, s:sendto("from", rpath))
    assert.same({"from", spath}, {r:recvfrom(100)})
    assert.equal(4, anon:sendto("anon", rpath))
    assert.same({"anon", ""}, {r:recvfrom(100)})
    assert.equal(6, s:sendto("longer", rpath))
    assert.same({"lon", spath, true}, {r:recvfrom(3)})
  end)

  it("sendto fails with ENOENT on a Unix path that does not exist",
     function()
    local s = core.socket("unix", "dgram")
    finally(function() s:close() end)
    errs.fails("ENOENT", s:sendto("x", files.tmpdir() .. "/nobody"))
  end)
end)

describe("Unix sockets", function()
  for _, stype in ipairs({"stream", "seqpacket"}) do
    it("carry a " .. stype .. " conversation over a path", function()
      local path = files.tmppath("srv")
      local l = core.socket("unix", stype)
      local c = core.socket("unix", stype)
      finally(function() l:close(); c:close() end)
      assert.is_true(l:bind(path))
      assert.is_true(l:listen())
      assert.equal(path, l:getsockname())
      assert.is_true(c:connect(path))
      assert.equal(path, c:getpeername())
      assert.equal("", c:getsockname())
      local a, peer = l:accept()
      finally(function() a:close() end)
      assert.equal("", peer)
      assert.equal(path, a:getsockname())
      assert.equal(5, c:send("hello"))
      assert.equal(3, c:send("bye"))
      if stype == "seqpacket" then
        assert.equal("hello", a:recv(100))
        assert.equal("bye", a:recv(100))
      else
        assert.equal("hellobye", net.recvall(a, 8))
      end
      assert.equal(2, a:send("ok"))
      assert.equal("ok", c:recv(100))
      c:close()
      assert.equal("", a:recv(100))
    end)
  end

  it("fail with EADDRINUSE on a path that exists", function()
    local path = files.tmppath()
    local a = core.socket("unix", "stream")
    local b = core.socket("unix", "stream")
    finally(function() a:close(); b:close() end)
    assert(a:bind(path))
    errs.fails("EADDRINUSE", b:bind(path))
  end)

  it("work in the abstract namespace with the exact name", function()
    local name = files.abstract()
    local l = core.socket("unix", "stream")
    local c = core.socket("unix", "stream")
    finally(function() l:close(); c:close() end)
    assert.is_true(l:bind(name))
    assert(l:listen())
    local got = l:getsockname()
    assert.equal(#name, #got)
    assert.is_true(got == name)
    assert.is_true(c:connect(name))
    assert.is_true(c:getpeername() == name)
    local a = assert(l:accept())
    finally(function() a:close() end)
    assert.equal(3, c:send("abc"))
    assert.equal("abc", a:recv(10))
  end)

  it("take an abstract name of 108 bytes", function()
    local name = files.abstract() .. "-"
    name = name .. ("x"):rep(108 - #name)
    local s = core.socket("unix", "dgram")
    finally(function() s:close() end)
    assert.is_true(s:bind(name))
    assert.is_true(s:getsockname() == name)
  end)

  it("raise on a path longer than sun_path", function()
    local s = core.socket("unix", "stream")
    finally(function() s:close() end)
    local long = "/tmp/" .. ("x"):rep(200)
    assert.error_matches(function() core.bind(s, long) end, "bad argument #2")
    assert.error_matches(function() core.connect(s, long) end,
                         "bad argument #2")
    assert.error_matches(function() core.bind(s, "\0" .. ("x"):rep(108)) end,
                         "bad argument #2")
    assert.error_matches(function() core.bind(s, ("y"):rep(109)) end,
                         "bad argument #2")
    local d = core.socket("unix", "dgram")
    finally(function() d:close() end)
    assert.error_matches(function() core.sendto(d, "x", long) end,
                         "bad argument #3")
  end)

  it("raise on a path with a NUL after its first byte", function()
    local s = core.socket("unix", "stream")
    finally(function() s:close() end)
    assert.error_matches(function() core.bind(s, "/tmp/a\0b") end,
                         "bad argument #2")
    assert.error_matches(function() core.connect(s, "/tmp/a\0") end,
                         "bad argument #2")
  end)
end)

describe("core.shutdown", function()
  it("'w' makes the peer read the end of stream; reading goes on",
     function()
    local c, a = tcppair()
    assert.is_true(c:shutdown("w"))
    assert.equal("", a:recv(10))
    assert.equal(5, a:send("still"))
    assert.equal("still", net.recvall(c, 5))
  end)

  it("'r' ends reading on this side only", function()
    local a, b = pair()
    assert.is_true(core.shutdown(a, "r"))
    assert.equal("", a:recv(10))
    assert.equal(2, a:send("hi"))
    assert.equal("hi", b:recv(10))
  end)

  it("'rw', the default, ends both ways", function()
    for _, shut in ipairs({function(s) return s:shutdown("rw") end,
                           function(s) return s:shutdown() end}) do
      local a, b = core.socketpair()
      assert.is_true(shut(a))
      assert.equal("", b:recv(10))
      assert.equal("", a:recv(10))
      errs.fails("EPIPE", a:send("x"))
      a:close(); b:close()
    end
  end)

  it("fails with ENOTCONN on a socket that is not connected", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    errs.fails("ENOTCONN", s:shutdown())
  end)

  it("raises on a bad how", function()
    local a = pair()
    assert.error_matches(function() core.shutdown(a, "x") end,
                         "bad argument #2")
    assert.error_matches(function() core.shutdown(a, 1) end,
                         "bad argument #2")
  end)
end)

describe("core.wait", function()
  it("is true for 'r' when data is there, and for 'w' with room", function()
    local a, b = pair()
    assert.is_true(a:wait("w", 0))
    a:send("x")
    assert.is_true(b:wait("r", 0))
    assert.is_true(core.wait(b, "r"))
    assert.is_true(b:wait("rw", 1))
  end)

  it("waits without limit for a negative timeout", function()
    local a, b = pair()
    b:settimeout(0)
    a:send("x")
    assert.is_true(b:wait("r", -1))
    assert.is_true(core.wait(a, "w", -1))
  end)

  it("fails with ETIMEDOUT when nothing comes in time", function()
    local _, b = pair()
    errs.fails("ETIMEDOUT", b:wait("r", 0.05))
  end)

  it("fails with EAGAIN with timeout 0", function()
    local _, b = pair()
    errs.fails("EAGAIN", b:wait("r", 0))
  end)

  it("uses the socket's timeout when none is given", function()
    local _, b = pair()
    b:settimeout(0)
    errs.fails("EAGAIN", b:wait("r"))
    b:settimeout(0.05)
    errs.fails("ETIMEDOUT", b:wait("r"))
  end)

  it("is true for 'r' at the end of stream", function()
    local a, b = core.socketpair()
    finally(function() b:close() end)
    a:close()
    assert.is_true(b:wait("r", 0))
  end)

  it("raises on bad events or timeout", function()
    local a = pair()
    assert.error_matches(function() core.wait(a, "x") end, "bad argument #2")
    assert.error_matches(function() core.wait(a) end, "bad argument #2")
    assert.error_matches(function() core.wait(a, "r", "soon") end,
                         "bad argument #3")
  end)
end)

describe("core.getsockname and core.getpeername", function()
  for _, host in ipairs({"127.0.0.1", "::1"}) do
    it("give both ends of a TCP connection on " .. host, function()
      local c, a = tcppair(host)
      local ch, cp = core.getsockname(c)
      local ah, ap = a:getsockname()
      assert.equal(host, ch)
      assert.equal(host, ah)
      assert.same({ch, cp}, {a:getpeername()})
      assert.same({ah, ap}, {core.getpeername(c)})
      assert.are_not.equal(cp, ap)
    end)
  end

  it("give the address of an unbound socket", function()
    local s = core.socket("inet", "stream")
    finally(function() s:close() end)
    assert.same({"0.0.0.0", 0}, {s:getsockname()})
  end)

  it("getpeername fails with ENOTCONN on an unconnected socket", function()
    local s = core.socket("inet", "stream")
    local u = core.socket("unix", "stream")
    local d = core.socket("inet6", "dgram")
    finally(function() s:close(); u:close(); d:close() end)
    errs.fails("ENOTCONN", s:getpeername())
    errs.fails("ENOTCONN", u:getpeername())
    errs.fails("ENOTCONN", d:getpeername())
  end)
end)

describe("sending to a closed peer", function()
  it("fails with EPIPE or ECONNRESET and the process lives", function()
    local c, a = tcppair()
    a:close()
    local code
    for _ = 1, 1000 do
      local n, _, err = c:send("data after close")
      if not n then code = err; break end
    end
    assert.is_truthy(code == "EPIPE" or code == "ECONNRESET",
                     "code " .. tostring(code))
    local x, y = pair()
    y:close()
    errs.fails("EPIPE", x:send("x"))
  end)

  it("does not kill a child process either", function()
    local out, ok, how, status = proc.run([[
      local core = require("sockit.core")
      local a, b = core.socketpair()
      b:close()
      local _, _, code = a:send("x")
      print(code)
      local l = core.socket("inet", "stream")
      assert(l:bind("127.0.0.1", 0))
      assert(l:listen())
      local c = core.socket("inet", "stream")
      assert(c:connect(l:getsockname()))
      local s = assert(l:accept())
      s:close()
      for _ = 1, 1000 do
        local n, _, err = c:send("more")
        if not n then code = err; break end
      end
      print(code)
      print("alive")
    ]])
    assert.is_true(ok, "child: " .. tostring(how) .. " " .. tostring(status)
                   .. "\n" .. out)
    assert.equal("exit", how)
    assert.equal(0, status)
    local first, second, last = out:match("^(%S+)\n(%S+)\n(%S+)\n$")
    assert.equal("EPIPE", first)
    assert.is_truthy(second == "EPIPE" or second == "ECONNRESET", out)
    assert.equal("alive", last)
  end)
end)
