-- core.resolvers: the cap on lookups running at once. Past it, requests
-- wait in a queue; one cancelled there never runs.

local env = require("support.env")
local files = require("support.files")
local netns = require("support.netns")
local core = env.core()

local isolated = os.getenv("SOCKIT_ISOLATED") == "1"

after_each(function() files.cleanup() end)

-- waits for every request of `reqs` with a poller -> their results
local function results(reqs)
  local p = assert(core.poller())
  finally(function() p:close() end)
  local byreq, left = {}, #reqs
  for _, r in ipairs(reqs) do assert.is_true(p:add(r, "r")) end
  while left > 0 do
    local n = assert(p:wait(60))
    assert.is_true(n > 0, "no lookup ended within 60 s")
    for i = 1, n do
      local r = p:ready(i)
      byreq[r] = table.pack(r:result())
      assert.is_true(p:remove(r))
      left = left - 1
    end
  end
  local list = {}
  for i, r in ipairs(reqs) do
    list[i] = byreq[r]
    r:cancel()
  end
  return list
end

describe("core.resolvers", function()
  local saved
  before_each(function() saved = core.resolvers() end)
  after_each(function() core.resolvers(saved) end)

  it("gives the cap, 32 by default, and sets it", function()
    assert.are.equal(32, saved)
    assert.are.equal(32, core.resolvers(3))
    assert.are.equal(3, core.resolvers())
    assert.are.equal(3, core.resolvers(2^3))
    assert.are.equal(8, core.resolvers())
  end)

  it("raises on a count that is not an integer from 1 to 1024", function()
    for _, bad in ipairs({0, -1, 1025, 1.5, "x", 0/0, math.huge}) do
      assert.has_error(function() core.resolvers(bad) end)
    end
    assert.are.equal(saved, core.resolvers())
  end)

  it("runs every lookup past the cap, in turn", function()
    if not isolated then
      pending("needs the isolated hosts file (make test)")
      return
    end
    core.resolvers(2)
    local reqs = {}
    for i = 1, 40 do
      reqs[i] = assert(core.resolve("localhost", 80 + i, {family = "inet"}))
    end
    for i, r in ipairs(results(reqs)) do
      assert.are.equal("127.0.0.1", r[1][1].host)
      assert.are.equal(80 + i, r[1][1].port)
    end
  end)

  it("lets lookups waiting in the queue be cancelled and collected", function()
    core.resolvers(1)
    for _ = 1, 20 do
      assert(core.resolve("localhost", "80")):cancel()
      assert(core.resolve("localhost", "80"))  -- dropped: __gc cancels
    end
    collectgarbage()
    core.resolvers(32)
    local r = assert(core.resolve("127.0.0.1", "80", {numeric = true}))
    assert.are.equal("127.0.0.1", results({r})[1][1][1].host)
  end)
end)

-- 300 lookups of names a silent DNS server never answers, in a child
-- with its own network namespace (nothing but loopback) and resolv.conf:
-- the child's thread count stays at the cap, and once they are all
-- cancelled a name from the hosts file resolves as soon as the running
-- lookups give up (the cancelled ones never run: 300 of them, four at a
-- time, would take minutes).
describe("lookups against a silent DNS server", function()
  it("run at most the cap at once, and the cancelled ones never run", function()
    if not netns.available() or not isolated then
      pending("needs network and mount namespaces (root, unshare, ip)")
      return
    end
    local dir = files.tmpdir()
    files.write(dir .. "/nsswitch.conf", "hosts: files dns\n")
    files.write(dir .. "/resolv.conf",
                 "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    files.write(dir .. "/child.lua", [==[
local core = require("sockit.core")
local CAP = 4

local function threads()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("Threads:%s*(%d+)"))
end

local dns = assert(core.socket("inet", "dgram"))
assert(dns:bind("127.0.0.1", 53))  -- never read: every query goes unanswered
core.resolvers(CAP)
local reqs, most = {}, 0
for i = 1, 300 do
  reqs[i] = assert(core.resolve("silent" .. i .. ".test", "80"))
  most = math.max(most, threads())
end
print("cap", CAP)
print("most threads", most)
for _, r in ipairs(reqs) do r:cancel() end

local r = assert(core.resolve("localhost", "80", {family = "inet"}))
local p = assert(core.poller())
assert(p:add(r, "r"))
print("ready", p:wait(60))
local list, _, code = r:result()
print("result", list and list[1].host or code)
r:cancel()
p:close()
dns:close()
-- a thread ends once the queue is empty: the lookups still running give
-- up after resolv.conf's one-second timeout, and the process is left
-- with its main thread (exiting with none running also keeps the exit
-- free of threads still inside getaddrinfo)
local idle = assert(core.poller())
for _ = 1, 200 do  -- 20 s at most
  if threads() == 1 then break end
  idle:wait(0.1)
end
idle:close()
print("threads after", threads())
]==])
    local out, ok = netns.run(dir)
    assert(ok, "the child failed:\n" .. out)
    local cap = tonumber(out:match("cap\t(%d+)"))
    local most = tonumber(out:match("most threads\t(%d+)"))
    -- the main thread, the pool, and one thread of the pool that has
    -- counted itself out but not yet ended
    assert.is_true(most >= 2 and most <= cap + 2, out)
    assert.matches("ready\t1", out)
    assert.matches("result\t127.0.0.1", out)
    assert.matches("threads after\t1\n", out)
  end)
end)
