-- sockit.core: edge cases of ranges, datagram calls on stream sockets,
-- option values and error names.

local env = require("support.env")
local net = require("support.net")
local core = env.core()

describe("core.send with an empty range", function()
  it("sends nothing and returns 0, as string.sub selects nothing", function()
    local a, b = assert(core.socketpair())
    for _, range in ipairs({{1, 0}, {1, -10}, {4, -1}, {3, 2}, {0, 0}}) do
      assert.are.equal(0, a:send("abc", range[1], range[2]))
    end
    assert(a:send("!"))
    assert.are.equal("!", b:recv(100))
    a:close()
    b:close()
  end)

  it("selects the same bytes as string.sub for every pair of positions", function()
    -- Debian 12's LuaJIT 2.1.0-beta3 compiles string.sub with a negative
    -- range wrongly in this loop (("abcde"):sub(-1, -7) == "e"): this
    -- function is interpreted there
    if jit then jit.off(true, true) end
    local a, b = assert(core.socketpair())
    local data = "abcde"
    for i = -7, 7 do
      for j = -7, 7 do
        local want = data:sub(i, j)
        assert.are.equal(#want, a:send(data, i, j))
        if #want > 0 then assert.are.equal(want, b:recv(100)) end
      end
    end
    a:close()
    b:close()
  end)
end)

describe("buffer:tostring", function()
  it("cuts as string.sub cuts", function()
    local a, b = assert(core.socketpair())
    local buf = core.buffer(16)
    assert(a:send("abcde"))
    assert.are.equal(5, b:recv_into(buf))
    for i = -7, 7 do
      for j = -7, 7 do
        assert.are.equal(("abcde"):sub(i, j), buf:tostring(i, j))
      end
    end
    a:close()
    b:close()
  end)
end)

describe("core.sendto", function()
  it("takes a number as data, as send does", function()
    local u = assert(core.socket("inet", "dgram"))
    assert(u:bind("127.0.0.1", 0))
    local host, port = u:getsockname()
    assert.are.equal(2, u:sendto(42, host, port))
    assert.are.equal("42", (u:recvfrom(10)))
    u:close()
  end)
end)

describe("core.recvfrom on a connected stream socket", function()
  it("returns the data and no sender", function()
    local c, s = net.tcppair()
    assert(c:send("hi"))
    local data, host, extra = s:recvfrom(10)
    assert.are.equal("hi", data)
    assert.is_nil(host)
    assert.is_nil(extra)
    c:close()
    s:close()
  end)
end)

describe("add_membership on an IPv4 socket", function()
  it("raises for an interface given as an index, which IPv4 does not take", function()
    local u = assert(core.socket("inet", "dgram"))
    assert.error_matches(function()
      core.setoption(u, "add_membership", {group = "239.1.2.3", interface = 1})
    end, "bad argument #3")
    u:close()
  end)
end)

describe("error code names", function()
  it("have one name per code: EAGAIN, never its alias EWOULDBLOCK", function()
    assert.error_matches(function() core.strerror("EWOULDBLOCK") end, "bad argument #1")
    assert.error_matches(function() core.strerror("EDEADLOCK") end, "bad argument #1")
    assert.is_string(core.strerror("EAGAIN"))
    assert.is_string(core.strerror("EDEADLK"))
  end)
end)
