-- sockit.core: the name services (getaddrinfo, getnameinfo and the classic
-- lookups). Names used here come from /etc/hosts and /etc/services, except
-- lookups of a name under .invalid, which no resolver can answer. Those run
-- only under spec/support/isolate (make test), where names come from a
-- fixed hosts file and no query can leave the machine.

local env = require("support.env")
local core = env.core()
local it_isolated = os.getenv("SOCKIT_ISOLATED") == "1" and it or pending

local function find(list, pred)
  for _, e in ipairs(list) do
    if pred(e) then return e end
  end
end

local function all(list, pred)
  for _, e in ipairs(list) do
    if not pred(e) then return false end
  end
  return true
end

-- a lookup that needs a resolver fails with EAI_NONAME, or EAI_AGAIN where
-- no resolver answers at all
local function assert_unknown_name(ok, msg, code)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.is_truthy(code == "EAI_NONAME" or code == "EAI_AGAIN",
                   "unexpected code " .. tostring(code))
end

describe("sockit.core.getaddrinfo", function()
  it("gives stream and dgram entries for a numeric host and a port", function()
    local list = assert(core.getaddrinfo("127.0.0.1", 80))
    assert.is_table(list)
    assert.is_true(#list >= 2)
    assert.is_true(all(list, function(e)
      return e.family == "inet" and e.host == "127.0.0.1" and e.port == 80
             and math.type(e.protocol) == "integer"
             and (e.type == "stream" or e.type == "dgram")
    end))
    local stream = find(list, function(e) return e.type == "stream" end)
    local dgram = find(list, function(e) return e.type == "dgram" end)
    assert.is_table(stream)
    assert.is_table(dgram)
    assert.are.equal(6, stream.protocol)   -- IPPROTO_TCP
    assert.are.equal(17, dgram.protocol)   -- IPPROTO_UDP
    assert.is_nil(stream.canonname)
  end)

  it("resolves localhost and a service name with a type hint", function()
    local list = assert(core.getaddrinfo("localhost", "http", {type = "stream"}))
    assert.is_true(#list >= 1)
    assert.is_true(all(list, function(e)
      return e.type == "stream" and e.port == 80
             and (e.family == "inet" or e.family == "inet6")
    end))
    assert.is_table(find(list, function(e)
      return e.host == "127.0.0.1" or e.host == "::1"
    end))
  end)

  it("takes a service name from /etc/services", function()
    local list = assert(core.getaddrinfo("127.0.0.1", "smtp", {type = "stream"}))
    assert.are.equal(1, #list)
    assert.are.equal(25, list[1].port)
  end)

  it("takes a family hint", function()
    local list = assert(core.getaddrinfo("::1", 80, {family = "inet6"}))
    assert.is_true(#list >= 1)
    assert.is_true(all(list, function(e)
      return e.family == "inet6" and e.host == "::1" and e.port == 80
    end))
    local ok, _, code = core.getaddrinfo("127.0.0.1", 80, {family = "inet6", numeric = true})
    assert.is_nil(ok)
    assert.matches("^EAI_", code)
  end)

  it("gives the wildcard for a nil host with passive", function()
    local v4 = assert(core.getaddrinfo(nil, 8080,
                                       {passive = true, family = "inet", type = "stream"}))
    assert.are.equal(1, #v4)
    assert.are.equal("0.0.0.0", v4[1].host)
    assert.are.equal(8080, v4[1].port)
    local v6 = assert(core.getaddrinfo(nil, 8080,
                                       {passive = true, family = "inet6", type = "stream"}))
    assert.are.equal(1, #v6)
    assert.are.equal("::", v6[1].host)
  end)

  it("gives the loopback address for a nil host without passive", function()
    local v4 = assert(core.getaddrinfo(nil, 8080, {family = "inet", type = "dgram"}))
    assert.are.equal("127.0.0.1", v4[1].host)
    assert.are.equal("dgram", v4[1].type)
  end)

  it("takes numeric hosts only with the numeric hint", function()
    local list = assert(core.getaddrinfo("127.0.0.1", 80, {numeric = true, type = "stream"}))
    assert.are.equal("127.0.0.1", list[1].host)
    local ok, msg, code = core.getaddrinfo("localhost", 80, {numeric = true})
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.are.equal("EAI_NONAME", code)
  end)

  it("gives the canonical name with the canonname hint", function()
    local list = assert(core.getaddrinfo("localhost", 80, {canonname = true, type = "stream"}))
    assert.is_string(list[1].canonname)
    assert.is_true(#list[1].canonname > 0)
  end)

  it("fails with EAI_SERVICE for an unknown service", function()
    local ok, msg, code = core.getaddrinfo("127.0.0.1", "sockit-no-such-service",
                                           {type = "stream"})
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.are.equal("EAI_SERVICE", code)
  end)

  it_isolated("fails with EAI_NONAME (or EAI_AGAIN) for a name nobody knows", function()
    assert_unknown_name(core.getaddrinfo("nonexistent.invalid", 80))
  end)

  it("raises on an unknown hint name", function()
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", 80, {bogus = true}) end,
                         "bad argument #3")
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", 80, {[1] = "stream"}) end,
                         "bad argument #3")
  end)

  it("raises on a hint of the wrong type or value", function()
    local cases = {
      {family = "inet7"}, {family = 2}, {type = "raw"}, {type = true},
      {passive = "yes"}, {numeric = 1}, {canonname = "yes"},
    }
    for _, hints in ipairs(cases) do
      assert.has_error(function() core.getaddrinfo("127.0.0.1", 80, hints) end)
    end
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", 80, "stream") end,
                         "bad argument #3")
  end)

  it("raises on a bad port or service", function()
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", 65536) end,
                         "bad argument #2")
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", -1) end,
                         "bad argument #2")
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", 1.5) end,
                         "bad argument #2")
    assert.error_matches(function() core.getaddrinfo("127.0.0.1", {}) end,
                         "bad argument #2")
  end)

  it("raises on a host that is not a string", function()
    assert.error_matches(function() core.getaddrinfo({}, 80) end, "bad argument #1")
  end)
end)

describe("sockit.core.getnameinfo", function()
  it("gives a numeric host and a service name", function()
    local host, serv = core.getnameinfo("127.0.0.1", 25,
                                        {numericserv = false, numerichost = true})
    assert.are.equal("127.0.0.1", host)
    assert.are.equal("smtp", serv)
  end)

  it("gives the service of the dgram table with dgram", function()
    local host, serv = core.getnameinfo("127.0.0.1", 53,
                                        {numerichost = true, dgram = true})
    assert.are.equal("127.0.0.1", host)
    assert.are.equal("domain", serv)
  end)

  it("gives numbers with numerichost and numericserv", function()
    local host, serv = core.getnameinfo("::1", 25,
                                        {numerichost = true, numericserv = true})
    assert.are.equal("::1", host)
    assert.are.equal("25", serv)
  end)

  it("gives a name for 127.0.0.1 from /etc/hosts", function()
    local host, serv = core.getnameinfo("127.0.0.1", 80)
    assert.is_string(host)
    assert.is_true(#host > 0)
    assert.are.equal("http", serv)
  end)

  it("fails with EAI_NONAME for a host name (it takes numeric hosts)", function()
    local ok, msg, code = core.getnameinfo("localhost", 80)
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.are.equal("EAI_NONAME", code)
  end)

  it("raises on a bad port, an unknown flag or a flag of the wrong type", function()
    assert.error_matches(function() core.getnameinfo("127.0.0.1", 70000) end,
                         "bad argument #2")
    assert.error_matches(function() core.getnameinfo("127.0.0.1", 25, {bogus = true}) end,
                         "bad argument #3")
    assert.error_matches(function() core.getnameinfo("127.0.0.1", 25, {numerichost = 1}) end,
                         "bad argument #3")
    assert.error_matches(function() core.getnameinfo("127.0.0.1", 25, "numerichost") end,
                         "bad argument #3")
  end)
end)

describe("sockit.core.gethostbyname", function()
  it("gives the first IPv4 address of localhost", function()
    assert.are.equal("127.0.0.1", core.gethostbyname("localhost"))
  end)

  it("gives a numeric IPv4 host back", function()
    assert.are.equal("127.0.0.1", core.gethostbyname("127.0.0.1"))
  end)

  it_isolated("fails with EAI_NONAME (or EAI_AGAIN) for an unknown name", function()
    assert_unknown_name(core.gethostbyname("nonexistent.invalid"))
  end)

  it("raises without a name", function()
    assert.error_matches(function() core.gethostbyname() end, "bad argument #1")
    assert.error_matches(function() core.gethostbyname({}) end, "bad argument #1")
  end)
end)

describe("sockit.core.getservbyname", function()
  it("gives the port of a service", function()
    assert.are.equal(25, core.getservbyname("smtp", "tcp"))
    assert.are.equal(25, core.getservbyname("smtp"))
    assert.are.equal(53, core.getservbyname("domain", "udp"))
    assert.are.equal(80, core.getservbyname("http"))
    assert.are.equal("integer", math.type(core.getservbyname("smtp")))
  end)

  it("fails with EAI_SERVICE for an unknown service", function()
    local ok, msg, code = core.getservbyname("sockit-no-such-service")
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.are.equal("EAI_SERVICE", code)
  end)

  it("raises on a protocol other than tcp and udp", function()
    assert.error_matches(function() core.getservbyname("smtp", "sctp") end,
                         "bad argument #2")
    assert.error_matches(function() core.getservbyname("smtp", {}) end,
                         "bad argument #2")
    assert.error_matches(function() core.getservbyname() end, "bad argument #1")
  end)
end)

describe("sockit.core.gethostname", function()
  it("is a non-empty string", function()
    local name = core.gethostname()
    assert.is_string(name)
    assert.is_true(#name > 0)
    assert.is_nil(name:find("\0", 1, true))
  end)

  it("agrees with the kernel's hostname", function()
    local f = io.open("/proc/sys/kernel/hostname")
    if not f then return end
    local kernel = f:read("l")
    f:close()
    assert.are.equal(kernel, core.gethostname())
  end)
end)
