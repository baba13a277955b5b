-- sockit.core: the two kinds of errors (raised programmer errors, returned
-- fail tuples), code names and their messages, and the clock functions.

local env = require("support.env")
local net = require("support.net")
local core = env.core()

-- a port on 127.0.0.1 where nothing listens
local closed_port = net.freeport

-- pack a call's results with their count
local function pack(...)
  return {n = select("#", ...), ...}
end

describe("sockit.core fail tuples", function()
  it("have exactly three values: nil, message, code", function()
    local c = assert(core.socket("inet", "stream"))
    finally(function() core.close(c) end)
    local r = pack(core.connect(c, "127.0.0.1", closed_port()))
    assert.are.equal(3, r.n)
    assert.is_nil(r[1])
    assert.is_string(r[2])
    assert.are.equal("ECONNREFUSED", r[3])
    r = pack(core.getaddrinfo("localhost", 80, {numeric = true}))
    assert.are.equal(3, r.n)
    assert.are.equal("EAI_NONAME", r[3])
    r = pack(core.getservbyname("sockit-no-such-service"))
    assert.are.equal(3, r.n)
    assert.are.equal("EAI_SERVICE", r[3])
  end)

  describe("codes", function()
    -- each entry makes one failure happen and names the code it must give
    local failures = {
      {"ECONNREFUSED", function(keep)
        local c = keep(assert(core.socket("inet", "stream")))
        return core.connect(c, "127.0.0.1", closed_port())
      end},
      {"EAI_NONAME", function(keep)
        local c = keep(assert(core.socket("inet", "stream")))
        return core.connect(c, "localhost", 80)
      end},
      {"EAI_SERVICE", function()
        return core.getaddrinfo("127.0.0.1", "sockit-no-such-service", {type = "stream"})
      end},
      {"ENOENT", function(keep)
        local c = keep(assert(core.socket("unix", "stream")))
        return core.connect(c, "/nonexistent-sockit-dir/sock")
      end},
      {"EADDRINUSE", function(keep)
        local a = keep(assert(core.socket("inet", "stream")))
        local b = keep(assert(core.socket("inet", "stream")))
        assert(core.bind(a, "127.0.0.1", 0))
        assert(core.listen(a))
        return core.bind(b, "127.0.0.1", select(2, core.getsockname(a)))
      end},
      {"ENOTCONN", function(keep)
        local s = keep(assert(core.socket("inet", "stream")))
        return core.getpeername(s)
      end},
      {"EAGAIN", function(keep)
        local a, b = assert(core.socketpair())
        keep(a); keep(b)
        core.settimeout(a, 0)
        return core.recv(a, 10)
      end},
      {"ETIMEDOUT", function(keep)
        local a, b = assert(core.socketpair())
        keep(a); keep(b)
        core.settimeout(a, 0.01)
        return core.recv(a, 10)
      end},
      {"EINPROGRESS", function(keep)
        local l = keep(assert(core.socket("inet", "stream")))
        assert(core.bind(l, "127.0.0.1", 0))
        assert(core.listen(l))
        local c = keep(assert(core.socket("inet", "stream")))
        core.settimeout(c, 0)
        return core.connect(c, "127.0.0.1", select(2, core.getsockname(l)))
      end},
      {"EOPNOTSUPP", function(keep)
        local s = keep(assert(core.socket("unix", "stream")))
        return core.setoption(s, "nodelay", true)
      end},
      {"ENOPROTOOPT", function(keep)
        local u = keep(assert(core.socket("inet", "dgram")))
        return core.setoption(u, "nodelay", true)
      end},
      {"EINVAL", function(keep)
        local s = keep(assert(core.socket("inet", "stream")))
        return core.setoption(s, "keepidle", 0)
      end},
    }

    for _, case in ipairs(failures) do
      local want, make = case[1], case[2]
      it(want .. " is a plain uppercase name whose message is strerror's", function()
        local socks = {}
        finally(function()
          for _, s in ipairs(socks) do core.close(s) end
        end)
        local r = pack(make(function(s) socks[#socks + 1] = s; return s end))
        assert.are.equal(3, r.n)
        assert.is_nil(r[1])
        local msg, code = r[2], r[3]
        assert.are.equal(want, code)
        assert.matches("^E[A-Z0-9_]+$", code)
        assert.is_string(msg)
        assert.is_true(#msg > 0)
        assert.are.equal(core.strerror(code), msg)
      end)
    end
  end)
end)

describe("sockit.core.strerror", function()
  it("gives the system text a real failure carries", function()
    local c = assert(core.socket("inet", "stream"))
    finally(function() core.close(c) end)
    local _, msg, code = core.connect(c, "127.0.0.1", closed_port())
    assert.are.equal("ECONNREFUSED", code)
    assert.are.equal(msg, core.strerror("ECONNREFUSED"))
  end)

  it("takes an errno number", function()
    -- 111 is ECONNREFUSED on Linux
    assert.are.equal(core.strerror("ECONNREFUSED"), core.strerror(111))
    assert.are_not.equal(core.strerror(111), core.strerror(2))
    assert.are.equal(core.strerror("ENOENT"), core.strerror(2))
  end)

  it("takes getaddrinfo code names", function()
    local _, msg = core.getaddrinfo("localhost", 80, {numeric = true})
    assert.are.equal(msg, core.strerror("EAI_NONAME"))
    assert.are_not.equal(core.strerror("EAI_NONAME"), core.strerror("EAI_SERVICE"))
  end)

  it("raises on an unknown code name (a programmer error)", function()
    assert.error_matches(function() core.strerror("ENOSUCHERROR") end, "bad argument #1")
    assert.error_matches(function() core.strerror("econnrefused") end, "bad argument #1")
    assert.error_matches(function() core.strerror("") end, "bad argument #1")
  end)

  it("raises on anything but a name or a number", function()
    assert.error_matches(function() core.strerror() end, "bad argument #1")
    assert.error_matches(function() core.strerror({}) end, "bad argument #1")
    assert.error_matches(function() core.strerror(true) end, "bad argument #1")
    assert.error_matches(function() core.strerror(1.5) end, "bad argument #1")
  end)
end)

describe("sockit.core closed handles", function()
  local calls = {
    {"bind", "127.0.0.1", 0}, {"connect", "127.0.0.1", 80}, {"listen"},
    {"accept"}, {"send", "x"}, {"recv", 1}, {"recv_into"},
    {"sendto", "x", "127.0.0.1", 80}, {"recvfrom", 1}, {"shutdown"},
    {"wait", "r", 0}, {"getsockname"}, {"getpeername"},
    {"setoption", "nodelay", true}, {"getoption", "nodelay"},
    {"settimeout", 1}, {"gettimeout"}, {"detach"},
  }
  for _, call in ipairs(calls) do
    it(call[1] .. " raises, naming the closed socket", function()
      local s = assert(core.socket("inet", "stream"))
      core.close(s)
      local f = core[call[1]]
      assert.is_function(f)
      assert.error_matches(function() f(s, table.unpack(call, 2)) end,
                           "bad argument #1 .*closed socket")
      -- the handle is checked first, even when the other arguments are wrong
      assert.error_matches(function() f(s, {}, {}, {}) end, "closed socket")
    end)
  end

  it("close, fileno, type and tostring still work", function()
    local s = assert(core.socket("inet", "stream"))
    assert.is_true(core.close(s))
    assert.is_true(core.close(s))
    assert.are.equal(-1, core.fileno(s))
    assert.are.equal("closed socket", core.type(s))
    assert.are.equal("sockit.socket (closed)", tostring(s))
  end)
end)

describe("sockit.core.monotime", function()
  it("is a float that increases", function()
    local t1 = core.monotime()
    assert.are.equal("float", math.type(t1))
    assert.is_true(t1 >= 0)
    local t2 = core.monotime()
    assert.is_true(t2 >= t1)
    assert.is_true(core.sleep(0.01))
    local t3 = core.monotime()
    assert.are.equal("float", math.type(t3))
    assert.is_true(t3 > t2)
  end)
end)

describe("sockit.core.sleep", function()
  it("returns true", function()
    assert.is_true(core.sleep(0.01))
    assert.is_true(core.sleep(0))
    assert.is_true(core.sleep(0.0))
  end)

  it("raises on a negative, missing or non-numeric duration", function()
    assert.error_matches(function() core.sleep(-1) end, "bad argument #1")
    assert.error_matches(function() core.sleep("x") end, "bad argument #1")
    assert.error_matches(function() core.sleep() end, "bad argument #1")
    assert.error_matches(function() core.sleep({}) end, "bad argument #1")
  end)
end)
