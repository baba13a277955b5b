-- sockit.core's limits, as constants the Lua side reads instead of
-- copying them: RECVMAX (the most one recv returns) and PATHMAX (the
-- longest Unix path).

local env = require("support.env")
local files = require("support.files")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()

after_each(function() files.cleanup() end)

describe("core.RECVMAX", function()
  it("is 1 MiB, what recv may return whatever it is asked", function()
    assert.are.equal(1024 * 1024, core.RECVMAX)
    local a, b = net.pair(finally)
    local data = net.bytes(1000)
    assert.are.equal(#data, a:send(data))
    assert.are.equal(data, b:recv(core.RECVMAX * 1024))
  end)
end)

describe("core.PATHMAX", function()
  it("is the longest Unix path bind accepts", function()
    assert.are.equal(108, core.PATHMAX)
    local s = assert(core.socket("unix", "stream"))
    finally(function() s:close() end)
    local long = "\0" .. string.rep("p", core.PATHMAX - 1)  -- abstract
    assert.is_true(s:bind(long))
    local err = errs.raised(core.bind, s, "\0" .. string.rep("p", core.PATHMAX))
    assert.matches("path too long", err, 1, true)
  end)
end)
