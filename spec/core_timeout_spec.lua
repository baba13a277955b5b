-- sockit.core: timeouts. A call that cannot finish in time fails with
-- ETIMEDOUT; with timeout 0 it fails at once with EAGAIN (EINPROGRESS for
-- connect); with no timeout it blocks.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()

after_each(function() files.cleanup() end)

local function pair(stype)
  return net.pair(finally, stype)
end

-- A listener whose accept queue is full, so that loopback drops further
-- SYNs and a new connection stays pending: listener, port, the sockets
-- that fill the queue.
local function full_listener()
  return net.full_listener(finally, 32, 0.1)
end

describe("recv with a timeout", function()
  it("fails with ETIMEDOUT when the peer stays silent", function()
    local _, b = pair()
    b:settimeout(0.05)
    errs.fails("ETIMEDOUT", b:recv(10))
    errs.fails("ETIMEDOUT", b:recv(10, "peek"))
    errs.fails("ETIMEDOUT", b:recv_into(core.buffer(8)))
  end)

  it("fails with EAGAIN at timeout 0", function()
    local _, b = pair()
    b:settimeout(0)
    errs.fails("EAGAIN", b:recv(10))
    errs.fails("EAGAIN", b:recv_into(core.buffer(8)))
  end)

  it("gives the data that is there whatever the timeout", function()
    local a, b = pair()
    for _, t in ipairs({0, 0.05, 5}) do
      b:settimeout(t)
      a:send("now")
      assert.equal("now", b:recv(10))
    end
  end)

  it("gives data that arrives before the deadline", function()
    -- a child process connects and sends while recv waits
    local l, port = net.listener()
    finally(function() l:close() end)
    local child = proc.spawn([[
      local core = require("sockit.core")
      local c = core.socket("inet", "stream")
      assert(c:connect("127.0.0.1", tonumber(...)))
      assert(c:send("in time"))
      assert(c:recv(1) == "")
      print("done")
    ]], {port})
    l:settimeout(30)
    local a = assert(l:accept())
    finally(function() a:close() end)
    a:settimeout(30)
    assert.equal("in time", net.recvall(a, 7))
    a:close()
    assert.equal("done\n", child:read("a"))
    assert.is_true(child:close())
  end)

  it("fails with ETIMEDOUT again on the next call (the timeout stays)",
     function()
    local a, b = pair()
    b:settimeout(0.02)
    errs.fails("ETIMEDOUT", b:recv(10))
    assert.equal(0.02, b:gettimeout())
    errs.fails("ETIMEDOUT", b:recv(10))
    assert.is_nil(a:gettimeout())
    a:send("x")
    assert.equal("x", b:recv(10))
  end)
end)

describe("recvfrom with a timeout", function()
  it("fails with ETIMEDOUT, then EAGAIN at timeout 0", function()
    local r = core.socket("inet", "dgram")
    finally(function() r:close() end)
    assert(r:bind("127.0.0.1", 0))
    r:settimeout(0.05)
    errs.fails("ETIMEDOUT", r:recvfrom(10))
    r:settimeout(0)
    errs.fails("EAGAIN", r:recvfrom(10))
  end)
end)

describe("send with a timeout", function()
  local function fill(s)
    local chunk = net.bytes(65536)
    for _ = 1, 10000 do
      local n, _, code = s:send(chunk)
      if not n then return code end
    end
    return "never full"
  end

  it("fails with ETIMEDOUT when the peer does not read", function()
    local a = pair()
    a:settimeout(0.05)
    assert.equal("ETIMEDOUT", fill(a))
  end)

  it("fails with EAGAIN at timeout 0", function()
    local a = pair()
    a:settimeout(0)
    assert.equal("EAGAIN", fill(a))
    errs.fails("EAGAIN", a:send("x"))
  end)
end)

describe("accept with a timeout", function()
  it("fails with EAGAIN at timeout 0", function()
    local l = net.listener()
    finally(function() l:close() end)
    l:settimeout(0)
    errs.fails("EAGAIN", l:accept())
  end)

  it("fails with ETIMEDOUT when nobody connects", function()
    local l = net.listener("::1")
    finally(function() l:close() end)
    l:settimeout(0.05)
    errs.fails("ETIMEDOUT", l:accept())
  end)

  it("accepts a waiting client at timeout 0", function()
    local l, port = net.listener()
    local c = core.socket("inet", "stream")
    finally(function() l:close(); c:close() end)
    assert(c:connect("127.0.0.1", port))
    l:settimeout(0)
    local a, host = l:accept()
    finally(function() if a then a:close() end end)
    assert.equal("socket", core.type(a))
    assert.equal("127.0.0.1", host)
    assert.is_nil(a:gettimeout())
  end)
end)

describe("connect with a timeout", function()
  it("at timeout 0 is in progress or done, and completes", function()
    local l, port = net.listener()
    local c = core.socket("inet", "stream"):settimeout(0)
    finally(function() l:close(); c:close() end)
    local ok, msg, code = c:connect("127.0.0.1", port)
    if not ok then errs.fails("EINPROGRESS", ok, msg, code) end
    assert.is_true(c:wait("w", 10))
    assert.is_false(c:getoption("error"))
    assert.same({"127.0.0.1", port}, {c:getpeername()})
    local a = assert(l:accept())
    a:close()
  end)

  it("at timeout 0 on a closed port reports ECONNREFUSED", function()
    local port = net.freeport()
    local c = core.socket("inet", "stream"):settimeout(0)
    finally(function() c:close() end)
    local ok, msg, code = c:connect("127.0.0.1", port)
    if code == "EINPROGRESS" then
      assert.is_true(c:wait("w", 10))
      assert.equal("ECONNREFUSED", c:getoption("error"))
    else
      errs.fails("ECONNREFUSED", ok, msg, code)
    end
  end)

  it("at timeout 0 fails with EINPROGRESS when the peer is slow", function()
    local _, port = full_listener()
    local c = core.socket("inet", "stream"):settimeout(0)
    finally(function() c:close() end)
    errs.fails("EINPROGRESS", c:connect("127.0.0.1", port))
    errs.fails("EAGAIN", c:wait("w", 0))
    assert.is_false(c:getoption("error"))
  end)

  it("fails with ETIMEDOUT when the handshake does not finish in time",
     function()
    local _, port = full_listener()
    local c = core.socket("inet", "stream"):settimeout(0.2)
    finally(function() c:close() end)
    errs.fails("ETIMEDOUT", c:connect("127.0.0.1", port))
    assert.equal(0.2, c:gettimeout())
    assert.is_true(fds.nonblocking(c:fileno()))
  end)

  it("fails with ECONNREFUSED before the deadline on a closed port",
     function()
    local port = net.freeport("::1")
    local c = core.socket("inet6", "stream"):settimeout(10)
    finally(function() c:close() end)
    errs.fails("ECONNREFUSED", c:connect("::1", port))
  end)
end)

describe("blocking mode", function()
  it("comes back with settimeout(nil) after timeouts", function()
    local l, port = net.listener()
    finally(function() l:close() end)
    l:settimeout(0)
    errs.fails("EAGAIN", l:accept())
    l:settimeout(0.02)
    errs.fails("ETIMEDOUT", l:accept())
    assert.is_true(fds.nonblocking(l:fileno()))
    l:settimeout(nil)
    assert.is_false(fds.nonblocking(l:fileno()))
    assert.is_nil(l:gettimeout())
    -- accept and recv block until a child process connects and writes
    local child = proc.spawn([[
      local core = require("sockit.core")
      local c = core.socket("inet", "stream")
      assert(c:connect("127.0.0.1", tonumber(...)))
      assert(c:send("blocking works"))
      c:close()
      print("sent")
    ]], {port})
    local a = assert(l:accept())
    finally(function() a:close() end)
    assert.equal("blocking works", net.recvall(a, 14))
    assert.equal("", a:recv(10))
    assert.equal("sent\n", child:read("a"))
    assert.is_true(child:close())
  end)

  it("sends more than the buffers hold while a child reads", function()
    local l, port = net.listener()
    finally(function() l:close() end)
    local child = proc.spawn([[
      local core = require("sockit.core")
      local c = core.socket("inet", "stream")
      assert(c:connect("127.0.0.1", tonumber(...)))
      local n = 0
      repeat
        local s = assert(c:recv(65536))
        n = n + #s
      until s == ""
      print(n)
    ]], {port})
    local a = assert(l:accept())
    finally(function() a:close() end)
    a:settimeout(0.01)
    a:settimeout(nil)
    local data = net.bytes(8 * 1024 * 1024)
    assert.is_true(net.sendall(a, data))
    a:close()
    assert.equal(#data .. "\n", child:read("a"))
    assert.is_true(child:close())
  end)
end)
