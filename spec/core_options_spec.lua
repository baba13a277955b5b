-- sockit.core: setoption and getoption, every option of the contract set
-- and read back, the get-only ones, and what raises or fails.

local env = require("support.env")
local fds = require("support.fds")
local core = env.core()

-- the real uid and gid, from /proc/self/status
local function myids()
  local f = assert(io.open("/proc/self/status"))
  local status = f:read("a")
  f:close()
  return tonumber(status:match("\nUid:%s+(%d+)")), tonumber(status:match("\nGid:%s+(%d+)"))
end

local function assert_fail(code, ok, msg, got, ...)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.are.equal(code, got)
  assert.are.equal(0, select("#", ...))
end

local function socket(family, type)
  return assert(core.socket(family, type))
end

describe("sockit.core.setoption and getoption", function()
  local socks

  before_each(function() socks = {} end)
  after_each(function()
    for _, s in ipairs(socks) do core.close(s) end
  end)

  local function new(family, type)
    local s = socket(family, type)
    socks[#socks + 1] = s
    return s
  end

  describe("boolean options", function()
    local cases = {
      {"reuseaddr", "inet", "stream"},
      {"reuseport", "inet", "stream"},
      {"keepalive", "inet", "stream"},
      {"nodelay", "inet", "stream"},
      {"nodelay", "inet6", "stream"},
      {"broadcast", "inet", "dgram"},
      {"ipv6only", "inet6", "stream"},
      {"multicast_loop", "inet", "dgram"},
    }
    for _, case in ipairs(cases) do
      local name, family, type = case[1], case[2], case[3]
      it(name .. " is set and read back on an " .. family .. " " .. type .. " socket", function()
        local s = new(family, type)
        assert.is_true(core.setoption(s, name, true))
        assert.is_true(core.getoption(s, name))
        assert.is_true(core.setoption(s, name, false))
        assert.is_false(core.getoption(s, name))
        assert.is_true(core.setoption(s, name, true))
        assert.is_true(core.getoption(s, name))
      end)
    end

    it("reads false or true, never a number", function()
      local s = new("inet", "stream")
      assert.are.equal("boolean", type(core.getoption(s, "keepalive")))
      assert.is_false(core.getoption(s, "keepalive"))
    end)

    it("works as a method", function()
      local s = new("inet", "stream")
      assert.is_true(s:setoption("nodelay", true))
      assert.is_true(s:getoption("nodelay"))
    end)
  end)

  describe("integer options", function()
    local cases = {
      {"rcvlowat", "inet", "stream", 10},
      {"keepidle", "inet", "stream", 30},
      {"keepintvl", "inet", "stream", 5},
      {"keepcnt", "inet", "stream", 4},
      {"ttl", "inet", "stream", 42},
      {"ttl", "inet", "dgram", 7},
      {"ttl", "inet6", "stream", 42},
      {"ttl", "inet6", "dgram", 7},
      {"multicast_ttl", "inet", "dgram", 3},
    }
    for _, case in ipairs(cases) do
      local name, family, type, value = case[1], case[2], case[3], case[4]
      it(name .. " is set and read back on an " .. family .. " " .. type .. " socket", function()
        local s = new(family, type)
        assert.is_true(core.setoption(s, name, value))
        local got = core.getoption(s, name)
        assert.are.equal("integer", math.type(got))
        assert.are.equal(value, got)
      end)
    end

    for _, name in ipairs({"rcvbuf", "sndbuf"}) do
      it(name .. " reads back at least as large as set", function()
        local s = new("inet", "stream")
        assert.is_true(core.setoption(s, name, 65536))
        local got = core.getoption(s, name)
        assert.are.equal("integer", math.type(got))
        assert.is_true(got >= 65536)
      end)
    end

    it("ttl on inet6 is the unicast hop limit, not IP_TTL", function()
      local s = new("inet6", "stream")
      assert.is_true(core.setoption(s, "ttl", 200))
      assert.are.equal(200, core.getoption(s, "ttl"))
    end)
  end)

  describe("linger", function()
    it("is seconds or false", function()
      local s = new("inet", "stream")
      assert.is_false(core.getoption(s, "linger"))
      assert.is_true(core.setoption(s, "linger", 5))
      assert.are.equal(5, core.getoption(s, "linger"))
      assert.is_true(core.setoption(s, "linger", 0))
      assert.are.equal(0, core.getoption(s, "linger"))
      assert.is_true(core.setoption(s, "linger", false))
      assert.is_false(core.getoption(s, "linger"))
    end)

    it("raises on true or a string", function()
      local s = new("inet", "stream")
      assert.error_matches(function() core.setoption(s, "linger", true) end, "bad argument #3")
      assert.error_matches(function() core.setoption(s, "linger", "5") end, "bad argument #3")
    end)
  end)

  describe("multicast membership", function()
    local membership = {group = "239.1.2.3", interface = "127.0.0.1"}

    it("joins and leaves a group on loopback, or fails with a code", function()
      local u = new("inet", "dgram")
      assert.is_true(core.bind(u, "0.0.0.0", 0))
      local ok, msg, code = core.setoption(u, "add_membership", membership)
      if ok ~= nil then
        -- Linux loopback accepts the group
        assert.is_true(ok)
        assert.is_true(core.setoption(u, "drop_membership", membership))
        -- leaving twice: no longer a member
        assert_fail("EADDRNOTAVAIL", core.setoption(u, "drop_membership", membership))
      else
        -- a kernel without multicast on loopback says so with a code
        assert.is_string(msg)
        assert.is_truthy(code == "ENODEV" or code == "EADDRNOTAVAIL"
                         or code == "ENOPROTOOPT", "unexpected code " .. tostring(code))
      end
    end)

    it("fails with EINVAL for a group that is not multicast", function()
      local u = new("inet", "dgram")
      assert_fail("EINVAL", core.setoption(u, "add_membership",
                                           {group = "127.0.0.1", interface = "127.0.0.1"}))
    end)

    it("fails with EPROTO on a TCP socket", function()
      local s = new("inet", "stream")
      assert_fail("EPROTO", core.setoption(s, "add_membership", membership))
    end)

    it("raises when the value is not a table or lacks its group", function()
      local u = new("inet", "dgram")
      assert.error_matches(function() core.setoption(u, "add_membership", "239.1.2.3") end,
                           "bad argument #3")
      assert.error_matches(function()
        core.setoption(u, "add_membership", {interface = "127.0.0.1"})
      end, "bad argument #3")
      assert.error_matches(function() core.setoption(u, "drop_membership", true) end,
                           "bad argument #3")
    end)
  end)

  describe("get-only options", function()
    it("error is false on a fresh socket", function()
      local s = new("inet", "stream")
      assert.is_false(core.getoption(s, "error"))
    end)

    it("error is ECONNREFUSED after a refused non-blocking connect, then false", function()
      local l = new("inet", "stream")
      assert.is_true(core.bind(l, "127.0.0.1", 0))
      local _, port = core.getsockname(l)
      core.close(l)  -- the port is now closed: connecting is refused
      local c = new("inet", "stream")
      core.settimeout(c, 0)
      local ok, _, code = core.connect(c, "127.0.0.1", port)
      assert.is_nil(ok)
      assert.are.equal("EINPROGRESS", code)
      assert.is_true(core.wait(c, "w", 5))
      assert.are.equal("ECONNREFUSED", core.getoption(c, "error"))
      -- reading SO_ERROR clears it
      assert.is_false(core.getoption(c, "error"))
    end)

    it("type names the socket type", function()
      assert.are.equal("stream", core.getoption(new("inet", "stream"), "type"))
      assert.are.equal("dgram", core.getoption(new("inet6", "dgram"), "type"))
      assert.are.equal("seqpacket", core.getoption(new("unix", "seqpacket"), "type"))
    end)

    it("family names the address family", function()
      assert.are.equal("inet", core.getoption(new("inet", "stream"), "family"))
      assert.are.equal("inet6", core.getoption(new("inet6", "dgram"), "family"))
      assert.are.equal("unix", core.getoption(new("unix", "stream"), "family"))
    end)

    it("acceptconn is false before listen and true after", function()
      local s = new("inet", "stream")
      assert.is_false(core.getoption(s, "acceptconn"))
      assert.is_true(core.bind(s, "127.0.0.1", 0))
      assert.is_true(core.listen(s))
      assert.is_true(core.getoption(s, "acceptconn"))
    end)

    it("peercred gives this process's pid, uid and gid on a socketpair", function()
      local a, b = assert(core.socketpair())
      socks[#socks + 1] = a
      socks[#socks + 1] = b
      local cred = core.getoption(a, "peercred")
      assert.is_table(cred)
      local uid, gid = myids()
      assert.are.equal(fds.pid(), cred.pid)
      assert.are.equal(uid, cred.uid)
      assert.are.equal(gid, cred.gid)
      assert.are.same(cred, core.getoption(b, "peercred"))
    end)

    for _, name in ipairs({"error", "type", "family", "acceptconn", "peercred"}) do
      it(name .. " raises when set", function()
        local s = new("unix", "stream")
        assert.error_matches(function() core.setoption(s, name, false) end, "bad argument #2")
      end)
    end
  end)

  describe("programmer errors", function()
    it("an unknown option name raises with argument #2", function()
      local s = new("inet", "stream")
      assert.error_matches(function() core.setoption(s, "nodelayy", true) end, "bad argument #2")
      assert.error_matches(function() core.getoption(s, "nodelayy") end, "bad argument #2")
      assert.error_matches(function() core.getoption(s, 1) end, "bad argument #2")
      assert.error_matches(function() core.getoption(s) end, "bad argument #2")
    end)

    it("a value of the wrong type raises with argument #3", function()
      local s = new("inet", "stream")
      local cases = {
        {"nodelay", "yes"}, {"nodelay", 1}, {"nodelay", nil}, {"rcvbuf", true},
        {"rcvbuf", 1.5}, {"keepidle", "thirty"}, {"ttl", {}},
      }
      for _, case in ipairs(cases) do
        local name, value = case[1], case[2]
        assert.error_matches(function() core.setoption(s, name, value) end, "bad argument #3")
      end
    end)

    it("a closed socket raises before anything else", function()
      local s = socket("inet", "stream")
      core.close(s)
      assert.error_matches(function() core.setoption(s, "nodelay", true) end, "closed socket")
      assert.error_matches(function() core.getoption(s, "nodelay") end, "closed socket")
      assert.error_matches(function() core.getoption(s, "nosuchoption") end, "closed socket")
    end)

    it("something that is not a socket raises with argument #1", function()
      assert.error_matches(function() core.setoption({}, "nodelay", true) end, "bad argument #1")
      assert.error_matches(function() core.getoption(io.stdout, "nodelay") end, "bad argument #1")
    end)
  end)

  describe("options the kernel refuses", function()
    it("nodelay on a Unix socket fails with EOPNOTSUPP", function()
      local s = new("unix", "stream")
      assert_fail("EOPNOTSUPP", core.setoption(s, "nodelay", true))
      assert_fail("EOPNOTSUPP", core.getoption(s, "nodelay"))
    end)

    it("ttl on a Unix socket fails with EOPNOTSUPP", function()
      local s = new("unix", "dgram")
      assert_fail("EOPNOTSUPP", core.setoption(s, "ttl", 5))
    end)

    it("nodelay on a UDP socket fails with ENOPROTOOPT", function()
      local u = new("inet", "dgram")
      assert_fail("ENOPROTOOPT", core.setoption(u, "nodelay", true))
    end)

    it("keepidle 0 fails with EINVAL", function()
      local s = new("inet", "stream")
      assert_fail("EINVAL", core.setoption(s, "keepidle", 0))
    end)

    it("ttl 256 fails with EINVAL", function()
      local s = new("inet", "stream")
      assert_fail("EINVAL", core.setoption(s, "ttl", 256))
    end)
  end)
end)
