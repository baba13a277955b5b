-- sockit.connect: names, every address in turn, one deadline, options.
--
-- Names that must not reach any name server (a name with two addresses,
-- a name that does not exist, a name server that never answers) are given
-- to a child process in private mount and network namespaces, where
-- /etc/hosts, /etc/nsswitch.conf and /etc/resolv.conf are the spec's.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

after_each(function() files.cleanup() end)

local raised = errs.raised

-- a sockit server on host, port 0: server, port
local function server(host)
  local srv = assert(sockit.listen(host or "127.0.0.1", 0))
  finally(function() srv:close() end)
  srv:settimeout(10)  -- a safety net only: accept never waits that long
  local _, port = srv:address()
  return srv, port
end

local function connect(...)
  return net.closing(finally, sockit.connect(...))
end

-- A listener whose accept queue is full: loopback drops further SYNs, so
-- a new connection stays pending. -> port
local function full_listener()
  local _, port = net.full_listener(finally, 64, 0.2)
  return port
end

-- System tools run without a preloaded sanitizer runtime (make asan sets
-- LD_PRELOAD for the Lua processes only).
local PLAIN = "env -u LD_PRELOAD "

local function shell_ok(cmd)
  return os.execute(cmd .. " >/dev/null 2>&1") == true
end

local namespaces = shell_ok(PLAIN .. "unshare -m true")
local netns = namespaces and
  shell_ok(PLAIN .. "unshare -mn " .. PLAIN .. "ip link set lo up")

-- Starts `code` in a child lua5.4 in a new mount namespace (and a new
-- network namespace with only loopback up when `loopback`), where each file
-- of `etc` ({["/etc/hosts"] = text}) replaces the system's. -> popen handle
local function spawn_isolated(code, etc, args, loopback)
  local dir = files.tmpdir()
  local cmds = {}
  if loopback then cmds[#cmds + 1] = PLAIN .. "ip link set lo up" end
  local i = 0
  for target, text in pairs(etc) do
    i = i + 1
    local path = dir .. "/file" .. i
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    cmds[#cmds + 1] = PLAIN .. "mount --bind " .. env.quote(path) .. " "
      .. env.quote(target)
  end
  local script = dir .. "/child.lua"
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local run = {"exec env", "LD_PRELOAD=" .. env.quote(os.getenv("LD_PRELOAD") or ""),
               "LUA_PATH=" .. env.quote(env.LUA_PATH),
               "LUA_CPATH=" .. env.quote(env.LUA_CPATH), "LUA_INIT=",
               env.quote(env.lua), env.quote(script)}
  for _, a in ipairs(args or {}) do run[#run + 1] = env.quote(a) end
  cmds[#cmds + 1] = table.concat(run, " ")
  local cmd = ("%sunshare %s sh -c %s 2>&1"):format(PLAIN,
    loopback and "-mn" or "-m", env.quote(table.concat(cmds, " && ")))
  return assert(io.popen(cmd))
end

local NSSWITCH = "hosts: files\n"

describe("sockit.connect", function()
  it("connects to a numeric address and gives a stream", function()
    local srv, port = server()
    local s = assert(connect("127.0.0.1", port))
    local conn, host, cport = assert(srv:accept())
    finally(function() conn:close() end)
    assert.equal("sockit.stream", getmetatable(s).__name)
    assert.equal("127.0.0.1", host)
    assert.equal(select(2, s:sockname()), cport)
    assert.same({"127.0.0.1", port}, {s:peer()})
    assert(s:write("ping\n"))
    assert.equal("ping", conn:read("l"))
  end)

  it("connects to IPv6 loopback", function()
    local srv, port = server("::1")
    local s = assert(connect("::1", port))
    local conn, host = assert(srv:accept())
    conn:close()
    assert.equal("::1", host)
    assert.equal("::1", s:peer())
  end)

  it("resolves a name", function()
    local _, port = server()
    local s = assert(connect("localhost", port))
    assert.same({"127.0.0.1", port}, {s:peer()})
  end)

  it("takes a service name for the port", function()
    -- the first of a few well-known services whose port is free here
    local srv, name, port
    for _, svc in ipairs({"smtp", "http-alt", "gopher", "finger", "tproxy"}) do
      port = core.getservbyname(svc)
      srv = port and sockit.listen("127.0.0.1", port)
      if srv then name = svc break end
    end
    assert(srv, "no well-known port is free on 127.0.0.1")
    finally(function() srv:close() end)
    local s = assert(connect("127.0.0.1", name))
    assert.equal(port, select(2, s:peer()))
    local s2 = assert(connect("localhost", tostring(port)))
    assert.equal(port, select(2, s2:peer()))
  end)

  it("sets nodelay unless told not to", function()
    local _, port = server()
    local s = assert(connect("127.0.0.1", port))
    assert.is_true(s.socket:getoption("nodelay"))
    local s2 = assert(connect("127.0.0.1", port, {nodelay = false}))
    assert.is_false(s2.socket:getoption("nodelay"))
  end)

  it("binds the local end to opts.bind", function()
    local _, port = server()
    local s = assert(connect("127.0.0.1", port, {bind = {"127.0.0.1", 0}}))
    assert.equal("127.0.0.1", s:sockname())
    local lport = net.freeport()
    local s2 = assert(connect("127.0.0.1", port, {bind = {"*", lport}}))
    assert.equal(lport, select(2, s2:sockname()))
  end)

  it("keeps to opts.family", function()
    local _, port = server()
    assert(connect("127.0.0.1", port, {family = "inet"}))
    errs.fails("EAI_ADDRFAMILY", connect("127.0.0.1", port, {family = "inet6"}))
  end)

  it("makes opts.timeout the stream's timeout", function()
    local srv, port = server()
    local s = assert(connect("127.0.0.1", port, {timeout = 0.05}))
    local conn = assert(srv:accept())
    finally(function() conn:close() end)
    errs.fails("ETIMEDOUT", s:read("l"))
    assert(conn:write("late\n"))
    assert.equal("late", s:read("l"))
  end)

  it("passes maxline to the stream", function()
    local srv, port = server()
    local s = assert(connect("127.0.0.1", port, {maxline = 3}))
    local conn = assert(srv:accept())
    finally(function() conn:close() end)
    assert(conn:write("four\n"))
    errs.fails("EMSGSIZE", s:read("l"))
  end)

  it("fails with ECONNREFUSED when nothing listens", function()
    errs.fails("ECONNREFUSED", connect("127.0.0.1", net.freeport()))
    errs.fails("ECONNREFUSED", connect("::1", net.freeport("::1")))
  end)

  it("fails with ETIMEDOUT when the timeout passes", function()
    local port = full_listener()
    errs.fails("ETIMEDOUT", connect("127.0.0.1", port, {timeout = 0.1}))
  end)

  it("fails with the code of a bad local address", function()
    local srv, port = server()
    local _, lport = srv:address()
    -- the listening port itself is taken
    errs.fails("EADDRINUSE", connect("127.0.0.1", port,
                                  {bind = {"127.0.0.1", lport}}))
  end)

  it("fails with EAI_SERVICE for an unknown service", function()
    errs.fails("EAI_SERVICE", connect("127.0.0.1", "no-such-service-here"))
  end)

  it("raises on bad arguments", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local s = sockit.connect(nil, 80); return s end)
    assert.matches(":" .. line .. ": bad argument #1 to 'connect'", err)
    assert.matches("#2 to 'connect' %(port out of range%)",
                   raised(sockit.connect, "127.0.0.1", 65536))
    assert.matches("#2 to 'connect'", raised(sockit.connect, "127.0.0.1", -1))
    assert.matches("#2 to 'connect'", raised(sockit.connect, "127.0.0.1", 1.5))
    assert.matches("#2 to 'connect'", raised(sockit.connect, "127.0.0.1"))
    assert.matches("#3 to 'connect'", raised(sockit.connect, "127.0.0.1", 1, 5))
    assert.matches("#3 to 'connect' %(option 'timeout'",
                   raised(sockit.connect, "127.0.0.1", 1, {timeout = 0}))
    assert.matches("#3 to 'connect'",
                   raised(sockit.connect, "127.0.0.1", 1, {timeout = "1"}))
    assert.matches("#3 to 'connect' %(option 'family'",
                   raised(sockit.connect, "127.0.0.1", 1, {family = "unix"}))
    assert.matches("#3 to 'connect' %(option 'bind'",
                   raised(sockit.connect, "127.0.0.1", 1, {bind = "x"}))
    assert.matches("#3 to 'connect' %(option 'nodelay'",
                   raised(sockit.connect, "127.0.0.1", 1, {nodelay = 1}))
  end)

  it("blocks without a timeout, a negative one meaning the same", function()
    local srv, port = server()
    local s = assert(connect("127.0.0.1", port, {timeout = -1}))
    local conn = assert(srv:accept())
    finally(function() conn:close() end)
    assert(conn:write("x\n"))
    assert.equal("x", s:read("l"))
    assert.is_false(fds.nonblocking(s.socket:fileno()))
  end)
end)

describe("sockit.connect with names of its own", function()
  local hosts = "::1 dual.test\n127.0.0.1 dual.test\n127.0.0.1 localhost\n"

  it("tries every address until one connects", function()
    if not namespaces then
      pending("unshare -m is not permitted here: no private /etc/hosts")
      return
    end
    local srv, port = server("127.0.0.1")   -- IPv4 only: ::1 refuses
    local child = spawn_isolated([[
      local core = require("sockit.core")
      local sockit = require("sockit")
      local port = tonumber(...)
      local order = {}
      for _, a in ipairs(assert(core.getaddrinfo("dual.test", port,
                                                 {type = "stream"}))) do
        order[#order + 1] = a.host
      end
      print(table.concat(order, " "))
      local s = assert(sockit.connect("dual.test", port, {timeout = 10}))
      print(s:peer())
      assert(s:write("through dual.test\n"))
      s:close()
    ]], {["/etc/hosts"] = hosts, ["/etc/nsswitch.conf"] = NSSWITCH}, {port})
    local conn = srv:accept()
    local line = conn and conn:read("l")
    if conn then conn:close() end
    local out = child:read("a")
    child:close()
    -- the name gives ::1 first, so the IPv4 address was the second try
    assert.equal("::1 127.0.0.1\n127.0.0.1\t" .. port .. "\n", out)
    assert.equal("through dual.test", line)
  end)

  it("returns the failure of the last address", function()
    if not namespaces then
      pending("unshare -m is not permitted here: no private /etc/hosts")
      return
    end
    local child = spawn_isolated([[
      local sockit = require("sockit")
      print(select(3, sockit.connect("dual.test", tonumber(...))))
      print(select(3, sockit.connect("nowhere.test", 80)))
      print(select(3, sockit.connect("nowhere.test", 80, {timeout = 5})))
      -- the message names the host, so a lookup failure reads apart
      local _, msg = sockit.connect("nowhere.test", 80)
      print(msg:find("nowhere.test: ", 1, true))
    ]], {["/etc/hosts"] = hosts, ["/etc/nsswitch.conf"] = NSSWITCH},
        {net.freeport()})
    local out = child:read("a")
    child:close()
    assert.equal("ECONNREFUSED\nEAI_NONAME\nEAI_NONAME\n1\t14\n", out)
  end)

  it("counts name resolution in the timeout", function()
    if not netns then
      pending("unshare -mn is not permitted here: no private name server")
      return
    end
    -- a name server on the private loopback that reads and never answers
    local child = spawn_isolated([[
      local core = require("sockit.core")
      local sockit = require("sockit")
      local dns = assert(core.socket("inet", "dgram"))
      assert(dns:bind("127.0.0.1", 53))
      print(select(2, sockit.connect("slow.test", 80, {timeout = 0.3})))
      -- the lookup's thread goes on after connect gives up: under a slow
      -- machine (valgrind) its query may come after the 0.3 s
      dns:settimeout(30)
      print(dns:recvfrom(512) and "asked" or "not asked")
    ]], {["/etc/hosts"] = "127.0.0.1 localhost\n",
         ["/etc/nsswitch.conf"] = "hosts: files dns\n",
         ["/etc/resolv.conf"] = "nameserver 127.0.0.1\n"}, nil, true)
    local out = child:read("a")
    child:close()
    assert.equal("lookup of slow.test timed out\tETIMEDOUT\nasked\n", out)
  end)
end)

describe("sockit.connect's bind option", function()
  it("takes a local address by name, and a port as a numeric string", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    for _, bind in ipairs({{"localhost", 0}, {"127.0.0.1", "0"}}) do
      local c = assert(sockit.connect("127.0.0.1", port, {bind = bind, timeout = 5}))
      local host, lport = c:sockname()
      assert.equal("127.0.0.1", host)
      assert.is_true(lport > 0)
      c:close()
    end
  end)

  it("fails with the code of a local address that does not resolve", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local ok, _, code = sockit.connect("127.0.0.1", port,
                                       {bind = {"::1", 0}, family = "inet"})
    assert.is_nil(ok)
    assert.is_string(code)
    assert.matches("^EAI_", code)
  end)
end)
