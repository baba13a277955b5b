-- sockit.udp: datagram sockets over IPv4 and IPv6 loopback, bound,
-- connected and dual-stack.

local env = require("support.env")
local files = require("support.files")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")
local it54 = require("support.lua54")(it, pending)

after_each(function() files.cleanup() end)

local raised = errs.raised

local function udp(opts)
  local u, msg, code = sockit.udp(opts)
  if u then finally(function() u:close() end) end
  return u, msg, code
end

-- a bound socket with a safety timeout: a lost datagram fails the test
-- instead of hanging it
local function bound(host)
  local u = assert(udp({bind = {host, 0}}))
  u:settimeout(5)
  local _, port = u:sockname()
  return u, port
end

describe("sockit.udp", function()
  it("round-trips datagrams over IPv4", function()
    local a, pa = bound("127.0.0.1")
    local b, pb = bound("127.0.0.1")
    assert.equal(5, a:sendto("hello", "127.0.0.1", pb))
    local data, host, port = b:recvfrom()
    assert.equal("hello", data)
    assert.equal("127.0.0.1", host)
    assert.equal(pa, port)
    assert.equal(5, b:sendto("again", host, port))
    assert.same({"again", "127.0.0.1", pb}, {a:recvfrom(100)})
  end)

  it("round-trips datagrams over IPv6", function()
    local a, pa = bound("::1")
    local b, pb = bound("::1")
    assert(a:sendto("six", "::1", pb))
    assert.same({"six", "::1", pa}, {b:recvfrom()})
    assert(b:sendto("back", "::1", pa))
    assert.same({"back", "::1", pb}, {a:recvfrom()})
  end)

  it("is dual-stack without a family and shows IPv4 peers as such",
     function()
    local u = assert(udp({bind = {"*", 0}}))
    u:settimeout(5)
    local host, port = u:sockname()
    assert.equal("::", host)
    assert.is_false(u.socket:getoption("ipv6only"))
    local v4, p4 = bound("127.0.0.1")
    local v6, p6 = bound("::1")
    assert(v4:sendto("from four", "127.0.0.1", port))
    assert.same({"from four", "127.0.0.1", p4}, {u:recvfrom()})
    assert(v6:sendto("from six", "::1", port))
    assert.same({"from six", "::1", p6}, {u:recvfrom()})
    -- and it sends to both families
    assert(u:sendto("to four", "127.0.0.1", p4))
    assert.equal("to four", v4:recvfrom())
    assert(u:sendto("to six", "::1", p6))
    assert.equal("to six", v6:recvfrom())
  end)

  it("sends to a name and a port given as a string", function()
    -- a name gives one address to send to: the first of its family
    local b, pb = bound("127.0.0.1")
    local u = assert(udp({family = "inet"}))
    assert(u:sendto("named", "localhost", tostring(pb)))
    assert.equal("named", b:recvfrom())
    assert(u:sendto("named too", "localhost", pb))
    assert.equal("named too", b:recvfrom())
    local first = core.getaddrinfo("localhost", nil, {type = "dgram"})[1]
    local c, pc = bound(first.host)
    local dual = assert(udp())
    assert(dual:sendto("first", "localhost", pc))
    assert.equal("first", c:recvfrom())
  end)

  it("binds one family with opts.family", function()
    local u = assert(udp({family = "inet"}))
    assert.equal("inet", u.socket:getoption("family"))
    local u6 = assert(udp({family = "inet6", bind = {"*", 0}}))
    assert.equal("::", u6:sockname())
  end)

  it("cuts a datagram longer than n and says so", function()
    local a = bound("127.0.0.1")
    local b, pb = bound("127.0.0.1")
    assert(a:sendto("0123456789", "127.0.0.1", pb))
    local data, host, _, cut = b:recvfrom(4)
    assert.equal("0123", data)
    assert.equal("127.0.0.1", host)
    assert.is_true(cut)
  end)

  it("sends and receives empty datagrams", function()
    local a = bound("127.0.0.1")
    local b, pb = bound("127.0.0.1")
    assert.equal(0, a:sendto("", "127.0.0.1", pb))
    assert.equal("", b:recvfrom())
  end)

  it("fails with ETIMEDOUT after its timeout and EAGAIN at 0", function()
    local u = bound("127.0.0.1")
    assert.equal(u, u:settimeout(0.05))
    errs.fails("ETIMEDOUT", u:recvfrom())
    u:settimeout(0)
    errs.fails("EAGAIN", u:recvfrom(10))
  end)

  it("fails with EAI_SERVICE on an unknown service", function()
    local u = assert(udp())
    errs.fails("EAI_SERVICE", u:sendto("x", "127.0.0.1", "no-such-service-here"))
    errs.fails("EAI_SERVICE", sockit.udp({bind = {"*", "no-such-service-here"}}))
  end)

  it("fails with EADDRINUSE on a port in use", function()
    local _, port = bound("127.0.0.1")
    errs.fails("EADDRINUSE", sockit.udp({bind = {"127.0.0.1", port}}))
  end)

  it("fails with EDESTADDRREQ sending without a peer", function()
    local u = assert(udp())
    errs.fails("EDESTADDRREQ", u:send("to nobody"))
  end)

  it("raises on bad arguments", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local u = sockit.udp(5); return u end)
    assert.matches(":" .. line .. ": bad argument #1 to 'udp'", err)
    assert.matches("#1 to 'udp' %(option 'bind'",
                   raised(sockit.udp, {bind = {"127.0.0.1"}}))
    assert.matches("#1 to 'udp' %(option 'connect'",
                   raised(sockit.udp, {connect = {"127.0.0.1", 70000}}))
    assert.matches("#1 to 'udp' %(option 'family'",
                   raised(sockit.udp, {family = "unix"}))
    local u = assert(udp())
    assert.matches("#1 to 'sendto'", raised(u.sendto, u, {}, "::1", 1))
    assert.matches("#2 to 'sendto'", raised(u.sendto, u, "x", nil, 1))
    assert.matches("#3 to 'sendto'", raised(u.sendto, u, "x", "::1", -1))
    assert.matches("#1 to 'recvfrom'", raised(u.recvfrom, u, 0))
    assert.matches("#1 to 'recv'", raised(u.recv, u, 1.5))
    assert.matches("#1 to 'send'", raised(u.send, u, 1))
    assert.matches("#1 to 'settimeout'", raised(u.settimeout, u, "x"))
  end)

  it("waits with its own timeout again after calls inside a task",
     function()
    local a = bound("127.0.0.1")
    local b, pb = bound("127.0.0.1")
    b:settimeout(0.05)
    assert(a:sendto("x", "127.0.0.1", pb))
    assert.equal("x", (b:recvfrom()))
    -- inside a task a call runs at timeout 0 and waits in the loop
    for _, call in ipairs{function() return b:recvfrom() end,
                          function() return b:recvmany(4) end,
                          function() return b:recv() end} do
      sockit.spawn(function()
        assert(a:sendto("y", "127.0.0.1", pb))
        assert(call())
      end)
      sockit.run()
      errs.fails("ETIMEDOUT", b:recvfrom())
    end
  end)
end)

describe("a connected sockit.udp", function()
  it("sends and receives with its peer", function()
    local srv, ps = bound("127.0.0.1")
    local u = assert(udp({connect = {"127.0.0.1", ps}}))
    u:settimeout(5)
    local h, p = u:sockname()
    assert.equal("127.0.0.1", h)
    assert.same({"127.0.0.1", ps}, {u:peer()})
    assert.equal(4, u:send("ping"))
    local data, host, port = srv:recvfrom()
    assert.equal("ping", data)
    assert.same({"127.0.0.1", p}, {host, port})
    assert(srv:sendto("pong", host, port))
    assert.equal("pong", u:recv())
    assert(srv:sendto("pong", host, port))
    assert.equal("po", u:recv(2))
  end)

  it("connects by name and binds too", function()
    local srv, ps = bound("::1")
    local u = assert(udp({connect = {"::1", ps}, bind = {"::1", 0}}))
    u:settimeout(5)
    assert.equal("::1", u:sockname())
    assert(u:send("six"))
    assert.equal("six", srv:recvfrom())
    local srv4, p4 = bound("127.0.0.1")
    local u4 = assert(udp({connect = {"localhost", p4}, family = "inet"}))
    assert(u4:send("four"))
    assert.equal("four", srv4:recvfrom())
  end)

  it("fails with ECONNREFUSED when nothing listens at the peer", function()
    local u = assert(udp({connect = {"127.0.0.1", net.freeport()}}))
    u:settimeout(5)
    assert(u:send("lost"))
    errs.fails("ECONNREFUSED", u:recv())
  end)

  it("fails with ENOTCONN asking an unconnected socket for its peer",
     function()
    local u = assert(udp())
    errs.fails("ENOTCONN", u:peer())
  end)
end)

describe("closing a sockit.udp", function()
  it("is fine twice and makes other calls raise", function()
    local u = assert(sockit.udp())
    assert.matches("^sockit%.udp %(fd %d+%)$", tostring(u))
    assert.equal("sockit.udp", getmetatable(u).__name)
    assert.is_true(u:close())
    assert.is_true(u:close())
    assert.equal("sockit.udp (closed)", tostring(u))
    for _, m in ipairs({"sendto", "recvfrom", "send", "recv", "settimeout",
                        "sockname", "peer"}) do
      assert.matches("attempt to use a closed socket", raised(u[m], u, "x"))
    end
  end)

  it54("happens at the end of a <close> block", [[
    local assert, sockit, core = ...
    local sock
    do
      local u <close> = assert(sockit.udp())
      sock = u.socket
    end
    assert.equal("closed socket", core.type(sock))
  ]], assert, sockit, core)
end)
