-- sockit.listen and the Server object: addresses, dual stack, options,
-- accepting, timeouts, closing.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")
local it54 = require("support.lua54")(it, pending)

after_each(function() files.cleanup() end)

local raised = errs.raised

local function listen(...)
  local srv, msg, code = sockit.listen(...)
  if srv then finally(function() srv:close() end) end
  return srv, msg, code
end

-- a raw client connected to host, port
local function client(family, host, port)
  local c = core.socket(family, "stream")
  finally(function() c:close() end)
  assert(c:connect(host, port))
  return c
end

local function accept(srv)
  local s, host, port = srv:accept()
  if s then finally(function() s:close() end) end
  return s, host, port
end

describe("sockit.listen", function()
  it("listens on a numeric address and port 0 picks a port", function()
    local srv = assert(listen("127.0.0.1", 0))
    local host, port = srv:address()
    assert.equal("127.0.0.1", host)
    assert.is_true(port > 0)
    assert.equal("sockit.server", getmetatable(srv).__name)
    assert.matches("^sockit%.server %(fd %d+%)$", tostring(srv))
    assert.is_true(srv.socket:getoption("acceptconn"))
  end)

  it("accepts a stream with the client's host and port", function()
    local srv = assert(listen("127.0.0.1", 0))
    local _, port = srv:address()
    local c = client("inet", "127.0.0.1", port)
    local s, host, cport = assert(accept(srv))
    assert.equal("sockit.stream", getmetatable(s).__name)
    assert.equal("127.0.0.1", host)
    assert.equal(select(2, c:getsockname()), cport)
    assert(c:send("hi\n"))
    assert.equal("hi", s:read("l"))
    assert(s:write("back\n"))
    assert.equal("back\n", c:recv(100))
  end)

  it("listens on IPv6 and IPv4 with *, showing IPv4 clients as such",
     function()
    local srv = assert(listen("*", 0))
    local host, port = srv:address()
    assert.equal("::", host)
    assert.is_false(srv.socket:getoption("ipv6only"))
    local c4 = client("inet", "127.0.0.1", port)
    local s4, h4, p4 = assert(accept(srv))
    assert.equal("127.0.0.1", h4)
    assert.equal(select(2, c4:getsockname()), p4)
    assert.same({"127.0.0.1", p4}, {s4:peer()})
    assert.same({"127.0.0.1", port}, {s4:sockname()})
    client("inet6", "::1", port)
    local _, h6 = assert(accept(srv))
    assert.equal("::1", h6)
  end)

  it("listens on one family with * and opts.family", function()
    local srv4 = assert(listen("*", 0, {family = "inet"}))
    assert.equal("0.0.0.0", srv4:address())
    local srv6 = assert(listen("*", 0, {family = "inet6"}))
    local host, port = srv6:address()
    assert.equal("::", host)
    assert.is_true(srv6.socket:getoption("ipv6only"))
    local c = core.socket("inet", "stream")
    finally(function() c:close() end)
    errs.fails("ECONNREFUSED", c:connect("127.0.0.1", port))
  end)

  it("resolves a name, listening on its first address", function()
    local first = core.getaddrinfo("localhost", nil, {type = "stream"})[1]
    local srv = assert(listen("localhost", 0))
    local host, port = srv:address()
    assert.equal(first.host, host)
    client(first.family, host, port)
    assert(accept(srv))
  end)

  it("takes a service name for the port", function()
    local port = net.freeport()
    local srv = assert(listen("127.0.0.1", tostring(port)))
    assert.equal(port, select(2, srv:address()))
    local port2 = net.freeport()
    local srv2 = assert(listen("*", tostring(port2)))
    assert.equal(port2, select(2, srv2:address()))
  end)

  it("listens on ::1", function()
    local srv = assert(listen("::1", 0))
    local _, port = srv:address()
    client("inet6", "::1", port)
    local _, host = assert(accept(srv))
    assert.equal("::1", host)
  end)

  it("sets reuseaddr unless told not to", function()
    local srv = assert(listen("127.0.0.1", 0))
    assert.is_true(srv.socket:getoption("reuseaddr"))
    local srv2 = assert(listen("127.0.0.1", 0, {reuseaddr = false}))
    assert.is_false(srv2.socket:getoption("reuseaddr"))
  end)

  it("takes a backlog", function()
    local srv = assert(listen("127.0.0.1", 0, {backlog = 1}))
    local _, port = srv:address()
    client("inet", "127.0.0.1", port)
    assert(accept(srv))
  end)

  it("gives accepted streams nodelay and maxline", function()
    local srv = assert(listen("127.0.0.1", 0, {maxline = 3}))
    local _, port = srv:address()
    local c = client("inet", "127.0.0.1", port)
    local s = assert(accept(srv))
    assert.is_true(s.socket:getoption("nodelay"))
    assert(c:send("long\n"))
    errs.fails("EMSGSIZE", s:read("l"))
    local srv2 = assert(listen("127.0.0.1", 0, {nodelay = false}))
    client("inet", "127.0.0.1", select(2, srv2:address()))
    local s2 = assert(accept(srv2))
    assert.is_false(s2.socket:getoption("nodelay"))
  end)

  it("fails with EADDRINUSE on a port in use", function()
    local srv = assert(listen("127.0.0.1", 0))
    local _, port = srv:address()
    errs.fails("EADDRINUSE", listen("127.0.0.1", port))
    errs.fails("EADDRINUSE", listen("*", port, {family = "inet"}))
  end)

  it("fails with EAI_SERVICE on an unknown service", function()
    errs.fails("EAI_SERVICE", listen("127.0.0.1", "no-such-service-here"))
    errs.fails("EAI_SERVICE", listen("*", "no-such-service-here"))
  end)

  it("fails with EAI_ADDRFAMILY on an address of the other family",
     function()
    errs.fails("EAI_ADDRFAMILY", listen("::1", 0, {family = "inet"}))
  end)

  it("raises on bad arguments", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local s = sockit.listen(1, 0); return s end)
    assert.matches(":" .. line .. ": bad argument #1 to 'listen'", err)
    assert.matches("#2 to 'listen'", raised(sockit.listen, "*", 70000))
    assert.matches("#2 to 'listen'", raised(sockit.listen, "*"))
    assert.matches("#3 to 'listen'", raised(sockit.listen, "*", 0, true))
    assert.matches("#3 to 'listen' %(option 'backlog'",
                   raised(sockit.listen, "*", 0, {backlog = -1}))
    assert.matches("#3 to 'listen' %(option 'backlog'",
                   raised(sockit.listen, "*", 0, {backlog = "8"}))
    assert.matches("#3 to 'listen' %(option 'family'",
                   raised(sockit.listen, "*", 0, {family = "ipx"}))
    assert.matches("#3 to 'listen' %(option 'reuseaddr'",
                   raised(sockit.listen, "*", 0, {reuseaddr = 1}))
  end)
end)

describe("server:accept", function()
  it("fails with ETIMEDOUT after the server's timeout", function()
    local srv = assert(listen("127.0.0.1", 0))
    assert.equal(srv, srv:settimeout(0.05))
    errs.fails("ETIMEDOUT", srv:accept())
  end)

  it("fails with EAGAIN at timeout 0, then accepts what came", function()
    local srv = assert(listen("127.0.0.1", 0))
    srv:settimeout(0)
    errs.fails("EAGAIN", srv:accept())
    client("inet", "127.0.0.1", select(2, srv:address()))
    assert(accept(srv))
  end)

  it("gives blocking streams without a timeout", function()
    local srv = assert(listen("127.0.0.1", 0))
    srv:settimeout(5)
    local c = client("inet", "127.0.0.1", select(2, srv:address()))
    local s = assert(accept(srv))
    assert.is_false(fds.nonblocking(s.socket:fileno()))
    assert(c:send("x\n"))
    assert.equal("x", s:read("l"))
  end)

  it("raises on a bad timeout", function()
    local srv = assert(listen("127.0.0.1", 0))
    assert.matches("#1 to 'settimeout'", raised(srv.settimeout, srv, {}))
  end)
end)

describe("closing a server", function()
  it("is fine twice and makes other calls raise", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    local _, port = srv:address()
    assert.is_true(srv:close())
    assert.is_true(srv:close())
    assert.equal("sockit.server (closed)", tostring(srv))
    for _, m in ipairs({"accept", "address", "settimeout"}) do
      assert.matches("attempt to use a closed server", raised(srv[m], srv))
    end
    local c = core.socket("inet", "stream")
    finally(function() c:close() end)
    errs.fails("ECONNREFUSED", c:connect("127.0.0.1", port))
  end)

  it54("happens at the end of a <close> block", [[
    local assert, sockit, core = ...
    local sock
    do
      local srv <close> = assert(sockit.listen("127.0.0.1", 0))
      sock = srv.socket
    end
    assert.equal("closed socket", core.type(sock))
  ]], assert, sockit, core)

  it("raises on a bad self", function()
    local srv = assert(listen("127.0.0.1", 0))
    assert.matches("bad self", raised(srv.accept, {}))
  end)
end)

describe("sockit.listen's timeout option", function()
  it("becomes the timeout of every accepted stream", function()
    local srv = assert(listen("127.0.0.1", 0, {timeout = 0.05}))
    local _, port = srv:address()
    local c = client("inet", "127.0.0.1", port)
    local s = assert(accept(srv))
    local ok, _, code = s:read("l")
    assert.is_nil(ok)
    assert.equal("ETIMEDOUT", code)
    assert(c:send("late\n"))
    assert.equal("late", s:read("l"))
  end)
end)
