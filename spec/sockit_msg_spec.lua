-- sockit: descriptors over Unix streams (stream:sendfds, stream:recvfds)
-- and batched datagrams (udp:sendmany, udp:recvmany).

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

after_each(function() files.cleanup() end)

-- a connected pair of streams over a socketpair, closed after the spec
local function streams(opts)
  local a, b = core.socketpair()
  local sa, sb = sockit.stream(a, opts), sockit.stream(b, opts)
  finally(function() sa:close(); sb:close() end)
  return sa, sb
end

describe("stream:sendfds and stream:recvfds", function()
  it("pass streams, sockets and descriptors with the data", function()
    local a, b = streams()
    local c1, d1 = streams()
    local c2, d2 = core.socketpair()
    finally(function() c2:close(); d2:close() end)
    assert.equal(a, a:sendfds("hello, world", {c1, c2, c2:fileno()}))
    local data, list = b:recvfds(5)
    assert.equal("hello", data)
    assert.equal(3, #list)
    assert.equal(", world", b:read(7))
    local s1 = sockit.stream(assert(core.fromfd(list[1])))
    local s2 = sockit.stream(assert(core.fromfd(list[2])))
    finally(function() s1:close(); s2:close() end)
    assert.is_true(core.closefd(list[3]))
    s1:write("via a copy\n")
    s2:write("via another\n")
    assert.equal("via a copy", d1:read("l"))
    assert.equal("via another", sockit.stream(d2):read("l"))
  end)

  it("say when descriptors past maxfds were closed", function()
    local a, b = streams()
    local c = streams()
    collectgarbage()
    local before = fds.count()
    a:sendfds("x", {c, c, c})
    local data, list, cut = b:recvfds(1, 1)
    assert.equal("x", data)
    assert.equal(1, #list)
    assert.is_true(cut)
    core.closefd(list[1])
    assert.equal(before, fds.count())
  end)

  it("give buffered bytes first, without descriptors", function()
    local a, b = streams()
    a:write("line\nrest")
    assert.equal("line", b:read("l"))
    assert.same({"rest", {}}, {b:recvfds(10)})
  end)

  it("give nil at the end of stream", function()
    local a, b = streams()
    a:close()
    assert.is_nil(b:recvfds(10))
  end)

  it("time out with the stream's timeout", function()
    local _, b = streams({timeout = 0.01})
    errs.fails("ETIMEDOUT", b:recvfds(10))
  end)

  it("work inside tasks", function()
    local a, b = streams()
    local c, d = streams()
    local got
    sockit.spawn(function()
      local _, list = assert(b:recvfds(10))
      local s = sockit.stream(assert(core.fromfd(list[1])))
      got = s:read("l")
      s:close()
    end)
    sockit.spawn(function()
      sockit.sleep(0)
      a:sendfds("fd", {d})
      c:write("through the passed stream\n")
    end)
    sockit.run()
    assert.equal("through the passed stream", got)
  end)
end)

-- a UDP object bound to a loopback port: it, its port
local function udp()
  local u = assert(sockit.udp({bind = {"127.0.0.1", 0}}))
  finally(function() u:close() end)
  return u, select(2, u:sockname())
end

-- a task sends "a" and "b", lets the other run, then "c"; the other
-- calls receive(r, got) until got holds three datagrams, in order.
-- send(s, list, port) sends the list of strings, {{"a", ...}} without it
local function intasks(receive, send)
  local s = udp()
  local r, port = udp()
  local got = {}
  send = send or function(u, list, to)
    for i, data in ipairs(list) do list[i] = {data, "127.0.0.1", to} end
    return u:sendmany(list)
  end
  sockit.spawn(function()
    while #got < 3 do receive(r, got) end
  end)
  sockit.spawn(function()
    assert.equal(2, send(s, {"a", "b"}, port))
    sockit.sleep(0)
    assert.equal(1, send(s, {"c"}, port))
  end)
  sockit.run()
  assert.same({"a", "b", "c"}, got)
end

describe("udp:sendmany and udp:recvmany", function()
  it("round-trip a batch with the peers' addresses", function()
    local s, sport = udp()
    local r, port = udp()
    local list = {}
    for i = 1, 20 do list[i] = {("datagram %d"):format(i), "127.0.0.1", port} end
    assert.equal(20, s:sendmany(list))
    local got = {}
    while #got < 20 do
      for _, d in ipairs(assert(r:recvmany(8))) do got[#got + 1] = d end
    end
    for i = 1, 20 do
      assert.same({("datagram %d"):format(i), "127.0.0.1", sport}, got[i])
    end
  end)

  it("show IPv4 peers of a dual-stack socket as IPv4", function()
    local s, sport = udp()
    local r = assert(sockit.udp({bind = {"*", 0}}))
    finally(function() r:close() end)
    local _, port = r:sockname()
    assert.equal(1, s:sendmany({{"v4", "127.0.0.1", port}}))
    assert.same({{"v4", "127.0.0.1", sport}}, r:recvmany(4))
  end)

  it("run inside tasks, waiting in the loop", function()
    intasks(function(r, got)
      for _, d in ipairs(assert(r:recvmany(2))) do got[#got + 1] = d[1] end
    end)
  end)

  it("time out with the socket's timeout", function()
    local r = udp()
    r:settimeout(0.01)
    errs.fails("ETIMEDOUT", r:recvmany(4))
  end)
end)

describe("udp:recvmany into a sockit.batch", function()
  it("receives a batch in place, reused from call to call", function()
    local s, sport = udp()
    local r, port = udp()
    local list = {}
    for i = 1, 20 do list[i] = {("datagram %d"):format(i), "127.0.0.1", port} end
    assert.equal(20, s:sendmany(list))
    local b = sockit.batch(8, 64)
    local got = {}
    while #got < 20 do
      local n = assert(r:recvmany(b))
      assert.equal(n, #b)
      for i = 1, n do got[#got + 1] = {b:get(i)} end
    end
    for i = 1, 20 do
      assert.same({("datagram %d"):format(i), "127.0.0.1", sport}, got[i])
    end
  end)

  it("shows IPv4 peers of a dual-stack socket as IPv4", function()
    local s, sport = udp()
    local r = assert(sockit.udp({bind = {"*", 0}}))
    finally(function() r:close() end)
    local _, port = r:sockname()
    assert.equal(1, s:sendmany({{"v4", "127.0.0.1", port}}))
    local b = sockit.batch(4)
    assert.equal(1, r:recvmany(b))
    assert.same({"v4", "127.0.0.1", sport}, {b:get(1)})
    assert.same({"127.0.0.1", sport}, {b:peer(1)})
  end)

  it("runs inside tasks, waiting in the loop", function()
    local b = sockit.batch(2, 8)
    intasks(function(r, got)
      for i = 1, assert(r:recvmany(b)) do got[#got + 1] = (b:get(i)) end
    end)
  end)

  it("times out with the socket's timeout, the batch left empty", function()
    local s = udp()
    local r, port = udp()
    local b = sockit.batch(4, 4)
    assert.equal(1, s:sendmany({{"x", "127.0.0.1", port}}))
    assert.equal(1, r:recvmany(b))
    r:settimeout(0.01)
    errs.fails("ETIMEDOUT", r:recvmany(b))
    assert.equal(0, #b)
  end)
end)

-- n datagrams of len bytes, each telling its number
local function numbered(n, len)
  local out = {}
  for i = 1, n do out[i] = ("%04d"):format(i) .. ("x"):rep(len - 4) end
  return out
end

-- the next n datagrams r receives, each as {data, host, port}
local function receive(r, n)
  local b, got = sockit.batch(64, 2048), {}
  while #got < n do
    for i = 1, assert(r:recvmany(b)) do got[#got + 1] = {b:get(i)} end
  end
  return got
end

describe("udp:sendmany of a list of strings", function()
  it("sends them to one peer, each whole and in order", function()
    local s, sport = udp()
    local r, port = udp()
    for _, len in ipairs({512, 1472, 1473, 8}) do
      local data = numbered(64, len)
      assert.equal(64, s:sendmany(data, "127.0.0.1", port))
      local got = receive(r, 64)
      for i = 1, 64 do assert.same({data[i], "127.0.0.1", sport}, got[i]) end
    end
  end)

  it("takes a host name", function()
    local s, sport = udp()
    local r, port = udp()
    assert.equal(2, s:sendmany({"a", "b"}, "localhost", port))
    assert.same({{"a", "127.0.0.1", sport}, {"b", "127.0.0.1", sport}},
                receive(r, 2))
  end)

  it("sends to the peer of a connected socket", function()
    local r, port = udp()
    local s = assert(sockit.udp({connect = {"127.0.0.1", port}}))
    finally(function() s:close() end)
    local _, sport = s:sockname()
    assert.equal(3, s:sendmany({"one", "", "three"}))
    assert.same({{"one", "127.0.0.1", sport}, {"", "127.0.0.1", sport},
                 {"three", "127.0.0.1", sport}}, receive(r, 3))
  end)

  it("sends from a dual-stack socket to IPv4 and IPv6 peers", function()
    local s = assert(sockit.udp())
    finally(function() s:close() end)
    local r4, p4 = udp()
    local r6 = assert(sockit.udp({bind = {"::1", 0}}))
    finally(function() r6:close() end)
    local _, p6 = r6:sockname()
    assert.equal(2, s:sendmany({"v4", "four"}, "127.0.0.1", p4))
    assert.equal(1, s:sendmany({"v6"}, "::1", p6))
    local _, sport = s:sockname()
    assert.same({{"v4", "127.0.0.1", sport}, {"four", "127.0.0.1", sport}},
                receive(r4, 2))
    assert.same({{"v6", "::1", sport}}, receive(r6, 1))
  end)

  it("runs inside tasks", function()
    intasks(function(r, got)
      for _, d in ipairs(assert(r:recvmany(2))) do got[#got + 1] = d[1] end
    end, function(s, list, port) return s:sendmany(list, "127.0.0.1", port) end)
  end)
end)
