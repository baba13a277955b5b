-- sockit.core: descriptors passed over Unix sockets (sendmsg, recvmsg,
-- closefd) and batched datagrams (sendmmsg, recvmmsg).

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local proc = require("support.proc")
local errs = require("support.errs")
local core = env.core()

after_each(function() files.cleanup() end)

-- a socketpair of `stype`, closed after the spec
local function pair(stype)
  local a, b = assert(core.socketpair(stype))
  finally(function() a:close(); b:close() end)
  return a, b
end

-- n socketpairs: the list of first ends and the list of their peers
local function pairs_of(n)
  local ends, peers = {}, {}
  for i = 1, n do ends[i], peers[i] = pair() end
  return ends, peers
end

-- wraps each received descriptor, closed after the spec
local function wrap(list)
  local socks = {}
  for i, fd in ipairs(list) do
    socks[i] = assert(core.fromfd(fd))
  end
  finally(function() for _, s in ipairs(socks) do s:close() end end)
  return socks
end

-- each received copy writes, and the peer of the original reads it
local function used_across(socks, peers)
  for i, s in ipairs(socks) do
    assert.equal(#("copy " .. i), s:send("copy " .. i))
  end
  for i, p in ipairs(peers) do
    assert.equal("copy " .. i, p:recv(100))
  end
end

local function passes(n)
  local a, b = pair()
  local ends, peers = pairs_of(n)
  assert.equal(1, a:sendmsg("x", ends))
  for _, e in ipairs(ends) do e:close() end  -- the copies stay open
  local data, list, cut = b:recvmsg(10)
  assert.equal("x", data)
  assert.is_nil(cut)
  assert.equal(n, #list)
  used_across(wrap(list), peers)
end

describe("core.sendmsg and core.recvmsg", function()
  it("pass 3 sockets in one message, usable on the other side", function()
    passes(3)
  end)

  it("pass 200 sockets in one message", function()
    passes(200)
  end)

  it("take descriptors as integers and sockets alike", function()
    local a, b = pair()
    local c, d = pair()
    assert.equal(2, a:sendmsg("hi", {c:fileno(), c}))
    local data, list = b:recvmsg(10)
    assert.equal("hi", data)
    assert.equal(2, #list)
    assert.are_not.equal(list[1], list[2])
    local socks = wrap(list)
    assert(socks[1]:send("one,"))
    assert(socks[2]:send("two"))
    assert.equal("one,two", d:recv(100))
  end)

  it("give received descriptors close-on-exec", function()
    local a, b = pair()
    local c = pair()
    assert(a:sendmsg("x", {c}))
    local _, list = b:recvmsg(1)
    wrap(list)
    assert.is_true(fds.cloexec(list[1]))
  end)

  it("give an empty list when no descriptor came", function()
    local a, b = pair()
    assert.equal(5, a:sendmsg("plain"))
    local data, list, cut = b:recvmsg(10)
    assert.equal("plain", data)
    assert.same({}, list)
    assert.is_nil(cut)
  end)

  it("give an empty string at the end of stream", function()
    local a, b = pair()
    a:close()
    local data, list = b:recvmsg(10)
    assert.equal("", data)
    assert.same({}, list)
  end)

  it("pass a pipe's descriptor", function()
    local a, b = pair()
    local fifo = files.tmpdir() .. "/fifo"
    assert(os.execute("mkfifo " .. env.quote(fifo)))
    local f = assert(io.open(fifo, "r+"))  -- read-write: opens at once
    finally(function() f:close() end)
    local fd = assert(fds.for_path(fifo))
    assert(a:sendmsg("p", {fd}))
    local _, list = b:recvmsg(1)
    assert.equal(1, #list)
    finally(function() core.closefd(list[1]) end)
    assert.are_not.equal(fd, list[1])
    -- the received descriptor is the same pipe: written through it, the
    -- bytes come out of the original
    local w = assert(io.open("/proc/self/fd/" .. list[1], "w"))
    w:write("through the copy\n")
    w:close()
    assert.equal("through the copy", f:read("l"))
  end)

  it("pass a socket to another process", function()
    local path = files.tmppath()
    local l = core.socket("unix", "stream")
    finally(function() l:close() end)
    assert(l:bind(path))
    assert(l:listen())
    local child = proc.spawn([[
      local core = require("sockit.core")
      local s = core.socket("unix", "stream")
      assert(s:connect(...))
      local data, list = assert(s:recvmsg(10))
      local c = assert(core.fromfd(list[1]))
      assert(c:send("from the child, " .. data))
      c:close()
      s:close()
    ]], {path})
    local s = assert(l:accept())
    finally(function() s:close() end)
    local c, d = pair()
    assert.equal(5, s:sendmsg("hello", {c}))
    c:close()
    assert.equal("from the child, hello", d:recv(100))
    assert.equal("", child:read("a"))
    assert.is_true(child:close())
  end)

  -- sends `sent` sockets, receives at most maxfds: the rest are closed
  -- (the count of open descriptors is back where it was once the
  -- received ones are closed), and the cut is told
  local function truncates(sent, maxfds)
    local a, b = pair()
    local ends = pairs_of(sent)
    collectgarbage()
    local before = fds.count()
    assert(a:sendmsg("x", ends))
    local data, list, cut = b:recvmsg(10, maxfds)
    assert.equal("x", data)
    assert.equal(maxfds, #list)
    assert.is_true(cut)
    for _, fd in ipairs(list) do assert.is_true(core.closefd(fd)) end
    assert.equal(before, fds.count())
  end

  it("close the descriptors past maxfds, and say so", function()
    truncates(5, 2)
  end)

  it("close what the kernel delivers past an odd maxfds", function()
    -- room for one descriptor is room for two, aligned: the second one
    -- arrives, and is closed
    truncates(3, 1)
  end)

  it("take no descriptor with maxfds 0", function()
    truncates(1, 0)
  end)

  for _, stype in ipairs({"seqpacket", "dgram"}) do
    it("pass descriptors over a " .. stype .. " socket", function()
      local a, b = pair(stype)
      local ends, peers = pairs_of(4)
      assert.equal(7, a:sendmsg("message", ends))
      local data, list, cut = b:recvmsg(100)
      assert.equal("message", data)
      assert.is_nil(cut)
      used_across(wrap(list), peers)
    end)

    it("say a " .. stype .. " message was cut", function()
      local a, b = pair(stype)
      local c = pair()
      assert(a:sendmsg("a long message", {c}))
      local data, list, cut = b:recvmsg(6)
      assert.equal("a long", data)
      wrap(list)
      assert.equal(1, #list)
      assert.is_true(cut)
    end)
  end

  it("fail with EBADF for a closed descriptor and send nothing", function()
    local a, b = pair()
    local live = pair()
    local c, d = core.socketpair()
    local fd = c:fileno()
    c:close()  -- and no descriptor opens after it to take its number
    d:close()
    errs.fails("EBADF", a:sendmsg("x", {live, fd}))
    b:settimeout(0)
    errs.fails("EAGAIN", b:recvmsg(10))
  end)

  it("fail with EBADF for a descriptor that was never open", function()
    local a, b = pair()
    errs.fails("EBADF", a:sendmsg("x", {1000000}))
    b:settimeout(0)
    errs.fails("EAGAIN", b:recvmsg(10))
  end)

  it("time out as the socket's timeout says", function()
    local _, b = pair()
    b:settimeout(0.01)
    errs.fails("ETIMEDOUT", b:recvmsg(10))
  end)
end)

describe("core.closefd", function()
  it("closes a received descriptor once", function()
    local a, b = pair()
    local c = pair()
    assert(a:sendmsg("x", {c}))
    local _, list = b:recvmsg(1)
    assert.is_true(core.closefd(list[1]))
    errs.fails("EBADF", core.closefd(list[1]))
  end)
end)

-- a bound datagram socket of `family` on its loopback address
local function udp(family)
  local s = assert(core.socket(family or "inet", "dgram"))
  finally(function() s:close() end)
  assert(s:bind(family == "inet6" and "::1" or "127.0.0.1", 0))
  return s, select(2, s:getsockname())
end

-- two Unix datagram sockets bound in a new directory, at /s and /r:
-- them and the directory
local function unixdgram()
  local dir = files.tmpdir()
  local s = core.socket("unix", "dgram")
  local r = core.socket("unix", "dgram")
  finally(function() s:close(); r:close() end)
  assert(s:bind(dir .. "/s"))
  assert(r:bind(dir .. "/r"))
  return s, r, dir
end

describe("core.sendmmsg and core.recvmmsg", function()
  it("send to many peers in one call, each datagram with its address",
     function()
    local s = udp()
    local r1, p1 = udp()
    local r2, p2 = udp()
    local _, sport = s:getsockname()
    assert.equal(3, s:sendmmsg({{"one", "127.0.0.1", p1},
                                {"two", "127.0.0.1", p2},
                                {"three", "127.0.0.1", p1}}))
    local l1 = assert(r1:recvmmsg(10))
    local l2 = assert(r2:recvmmsg(10))
    assert.same({{"one", "127.0.0.1", sport}, {"three", "127.0.0.1", sport}},
                l1)
    assert.same({{"two", "127.0.0.1", sport}}, l2)
  end)

  it("receive at most max datagrams", function()
    local s = udp()
    local r, port = udp()
    local list = {}
    for i = 1, 5 do list[i] = {"d" .. i, "127.0.0.1", port} end
    assert.equal(5, s:sendmmsg(list))
    local got = assert(r:recvmmsg(3))
    assert.equal(3, #got)
    assert.equal("d1", got[1][1])
    got = assert(r:recvmmsg(3))
    assert.same({"d4", "d5"}, {got[1][1], got[2][1]})
  end)

  it("mark a datagram longer than size as cut", function()
    local s = udp()
    local r, port = udp()
    assert.equal(2, s:sendmmsg({{"short", "127.0.0.1", port},
                                {"much longer", "127.0.0.1", port}}))
    local got = assert(r:recvmmsg(2, 5))
    assert.equal("short", got[1][1])
    assert.is_nil(got[1].cut)
    assert.equal("much ", got[2][1])
    assert.is_true(got[2].cut)
  end)

  it("work over IPv6", function()
    local s = udp("inet6")
    local r, port = udp("inet6")
    assert.equal(1, s:sendmmsg({{"six", "::1", port}}))
    local got = assert(r:recvmmsg(4))
    assert.equal("six", got[1][1])
    assert.equal("::1", got[1][2])
  end)

  it("work over Unix datagram sockets, with paths", function()
    local s, r, dir = unixdgram()
    assert.equal(2, s:sendmmsg({{"a", dir .. "/r"}, {"b", dir .. "/r"}}))
    assert.same({{"a", dir .. "/s"}, {"b", dir .. "/s"}}, r:recvmmsg(8))
  end)

  it("send on a connected socket without addresses", function()
    local a, b = pair("dgram")
    assert.equal(2, a:sendmmsg({{"x"}, {"yz"}}))
    local got = assert(b:recvmmsg(8))
    assert.same({"x", "yz"}, {got[1][1], got[2][1]})
  end)

  it("time out as the socket's timeout says", function()
    local r = udp()
    r:settimeout(0.01)
    errs.fails("ETIMEDOUT", r:recvmmsg(4))
  end)
end)

-- the datagrams of a batch as {data, host, port [, true]} lists
local function contents(b)
  local out = {}
  for i = 1, #b do out[i] = {b:get(i)} end
  return out
end

describe("core.recvmmsg into a batch", function()
  it("fills the batch in place and returns the count", function()
    local s, sport = udp()
    local r, port = udp()
    local b = core.batch(4, 64)
    assert.equal(0, #b)
    assert.equal(3, s:sendmmsg({{"one", "127.0.0.1", port},
                                {"", "127.0.0.1", port},
                                {"three", "127.0.0.1", port}}))
    assert.equal(3, r:recvmmsg(b))
    assert.equal(3, #b)
    assert.same({{"one", "127.0.0.1", sport}, {"", "127.0.0.1", sport},
                 {"three", "127.0.0.1", sport}}, contents(b))
    assert.same({5}, {b:len(3)})
    assert.same({"127.0.0.1", sport}, {b:peer(2)})
    assert.equal("sockit.batch (3 of 4 datagrams)", tostring(b))
  end)

  it("holds only the datagrams of the last receive", function()
    local s, sport = udp()
    local r, port = udp()
    local b = core.batch(8, 16)
    assert.equal(3, s:sendmmsg({{"a", "127.0.0.1", port},
                                {"b", "127.0.0.1", port},
                                {"c", "127.0.0.1", port}}))
    assert.equal(3, r:recvmmsg(b))
    assert.equal(5, s:sendto("later", "127.0.0.1", port))
    assert.equal(1, r:recvmmsg(b))
    assert.same({{"later", "127.0.0.1", sport}}, contents(b))
    assert.has_error(function() b:get(2) end)
  end)

  it("receives at most its max, the rest left queued", function()
    local s = udp()
    local r, port = udp()
    local list = {}
    for i = 1, 5 do list[i] = {"d" .. i, "127.0.0.1", port} end
    assert.equal(5, s:sendmmsg(list))
    local b = core.batch(3, 8)
    assert.equal(3, r:recvmmsg(b))
    assert.equal(2, r:recvmmsg(b))
    assert.same({"d4", "d5"}, {b:get(1), (b:get(2))})
  end)

  it("marks a datagram longer than its size as cut", function()
    local s = udp()
    local r, port = udp()
    assert.equal(2, s:sendmmsg({{"short", "127.0.0.1", port},
                                {"much longer", "127.0.0.1", port}}))
    local b = core.batch(2, 5)
    assert.equal(2, r:recvmmsg(b))
    assert.equal(3, select("#", b:get(1)))
    assert.same({5}, {b:len(1)})
    assert.same({"much ", "127.0.0.1", select(2, s:getsockname()), true},
                {b:get(2)})
    assert.same({5, true}, {b:len(2)})
  end)

  it("tells each sender apart, hosts and ports", function()
    local s4, p4 = udp()
    local s6, p6 = udp("inet6")
    local t4, q4 = udp()
    local r = assert(core.socket("inet6", "dgram"))
    finally(function() r:close() end)
    assert(r:setoption("ipv6only", false))
    assert(r:bind("::", 0))
    local _, port = r:getsockname()
    assert(s4:sendto("a", "127.0.0.1", port))
    assert(s6:sendto("b", "::1", port))
    assert(t4:sendto("c", "127.0.0.1", port))
    assert(s4:sendto("d", "127.0.0.1", port))
    -- loopback queues a datagram within its sendto: one receive takes all
    local b = core.batch(8, 8)
    assert.equal(4, r:recvmmsg(b))
    assert.same({{"a", "::ffff:127.0.0.1", p4}, {"b", "::1", p6},
                 {"c", "::ffff:127.0.0.1", q4}, {"d", "::ffff:127.0.0.1", p4}},
                contents(b))
    assert(s4:sendto("e", "127.0.0.1", port))
    assert(s6:sendto("f", "::1", port))
    assert(t4:sendto("g", "127.0.0.1", port))
    assert.equal(3, r:recvmmsg(b, true))
    assert.same({{"e", "127.0.0.1", p4}, {"f", "::1", p6},
                 {"g", "127.0.0.1", q4}}, contents(b))
  end)

  it("works over Unix datagram sockets, with paths", function()
    local s, r, dir = unixdgram()
    assert.equal(2, s:sendmmsg({{"a", dir .. "/r"}, {"b", dir .. "/r"}}))
    local b = core.batch(4, 4)
    assert.equal(2, r:recvmmsg(b))
    assert.same({{"a", dir .. "/s"}, {"b", dir .. "/s"}}, contents(b))
    assert.same({dir .. "/s"}, {b:peer(1)})
  end)

  it("gives an empty path for a sender without one", function()
    local a, c = pair("dgram")
    assert.equal(2, a:sendmmsg({{"x"}, {"yz"}}))
    local b = core.batch(4, 4)
    assert.equal(2, c:recvmmsg(b))
    assert.same({{"x", ""}, {"yz", ""}}, contents(b))
  end)

  it("is left empty by a receive that times out", function()
    local s = udp()
    local r, port = udp()
    local b = core.batch(2, 4)
    assert(s:sendto("x", "127.0.0.1", port))
    assert.equal(1, r:recvmmsg(b))
    r:settimeout(0.01)
    errs.fails("ETIMEDOUT", r:recvmmsg(b))
    assert.equal(0, #b)
    assert.has_error(function() b:get(1) end)
  end)
end)

-- n datagrams of len bytes (the last of lastlen), each telling its number
local function numbered(n, len, lastlen)
  local out = {}
  for i = 1, n do
    local tag = ("%03d:"):format(i)
    out[i] = tag .. ("x"):rep((i == n and lastlen or len) - #tag)
  end
  return out
end

-- the data of the next n datagrams r receives, in order, and the
-- sender of each (its port, or its path)
local function receive(r, n)
  local got, from = {}, {}
  while #got < n do
    for _, dgram in ipairs(assert(r:recvmmsg(n - #got))) do
      got[#got + 1], from[#from + 1] = dgram[1], dgram[3] or dgram[2]
    end
  end
  return got, from
end

-- sends the datagrams of `data` to port in one sendmmsg (to no address
-- when port is nil) and checks r receives each whole, in order
local function roundtrip(s, r, data, host, port)
  local list = {}
  for i, d in ipairs(data) do list[i] = {d, port and host, port} end
  assert.equal(#data, s:sendmmsg(list))
  assert.same(data, (receive(r, #data)))
end

-- sends the list of strings `data` in one sendmmsg to the address given
-- after it (none: the connected peer) and checks r receives each whole,
-- in order, from s
local function sendstrings(s, r, data, ...)
  assert.equal(#data, s:sendmmsg(data, ...))
  local got, from = receive(r, #data)
  assert.same(data, got)
  local host, port = s:getsockname()
  for i = 1, #data do assert.equal(port or host, from[i]) end
end

-- one peer, one length: a single send the kernel cuts up (UDP_SEGMENT)
describe("core.sendmmsg of datagrams to one peer", function()
  it("delivers each datagram whole, a shorter last one too, either form",
     function()
    for _, send in ipairs({roundtrip, sendstrings}) do
      local s = udp()
      local r, port = udp()
      send(s, r, numbered(64, 512, 512), "127.0.0.1", port)
      send(s, r, numbered(40, 100, 7), "127.0.0.1", port)
    end
  end)

  it("delivers them over IPv6 and on a connected socket, either form",
     function()
    for _, send in ipairs({roundtrip, sendstrings}) do
      local s = udp("inet6")
      local r, port = udp("inet6")
      send(s, r, numbered(10, 1000, 999), "::1", port)
      assert(s:connect("::1", port))
      send(s, r, numbered(10, 64, 64))
    end
  end)

  it("delivers lengths one send cannot carry one by one", function()
    local s = udp()
    local r, port = udp()
    local data = numbered(5, 300, 300)
    data[3] = "short"  -- a short one before the last
    roundtrip(s, r, data, "127.0.0.1", port)
    roundtrip(s, r, numbered(3, 100, 200), "127.0.0.1", port)  -- longer last
    roundtrip(s, r, numbered(65, 10, 10), "127.0.0.1", port)   -- too many
    roundtrip(s, r, numbered(4, 2000, 2000), "127.0.0.1", port)  -- too long
  end)
end)

describe("core.sendmmsg of a list of strings", function()
  it("sends them one by one where one send cannot carry them", function()
    local s = udp()
    local r, port = udp()
    local data = numbered(5, 300, 300)
    data[3] = ""  -- an empty one before the last: not segmented
    sendstrings(s, r, data, "127.0.0.1", port)
    sendstrings(s, r, numbered(100, 8, 8), "127.0.0.1", port)  -- too many
  end)

  it("sends them over Unix datagram sockets, to a path", function()
    local s, r, dir = unixdgram()
    sendstrings(s, r, {"a", "bc", "def"}, dir .. "/r")
  end)

  it("sends them on a connected socketpair", function()
    local a, b = pair("dgram")
    assert.equal(3, a:sendmmsg({"x", "", "yz"}))
    assert.same({"x", "", "yz"}, (receive(b, 3)))
  end)

  it("sends only the first ones when the buffer is full", function()
    local a, b = pair("dgram")
    assert(a:setoption("sndbuf", 1))  -- the least: a few datagrams
    a:settimeout(0)
    local data = numbered(64, 1000, 1000)
    local n = assert(a:sendmmsg(data))
    assert.is_true(n >= 1 and n < #data)
    errs.fails("EAGAIN", a:sendmmsg(data))
    local got = receive(b, n)
    while #got < #data do
      local rest = {table.unpack(data, #got + 1)}
      local more = receive(b, assert(a:sendmmsg(rest)))
      for i = 1, #more do got[#got + 1] = more[i] end
    end
    assert.same(data, got)
  end)

  it("fails without sending when the address is not numeric", function()
    local s = udp()
    local r, port = udp()
    errs.fails("EAI_NONAME", s:sendmmsg({"x"}, "localhost", port))
    r:settimeout(0)
    errs.fails("EAGAIN", r:recvmmsg(1))
  end)
end)
