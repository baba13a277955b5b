-- sockit.connect's Happy Eyeballs (RFC 8305): with addresses of both
-- families, an attempt that hangs does not hold up the next one.
--
-- On loopback, an IPv6 address hangs where a backlog-0 listener's queue is
-- full (loopback drops the SYN), and "localhost" is ::1 and 127.0.0.1 (as
-- spec/support/isolate makes it). In a private network namespace,
-- 2001:db8::1 and 192.0.2.1 (documentation addresses, known only inside
-- it) are reached through a link whose far end takes no packet for them:
-- every SYN vanishes, as behind a broken route.

local env = require("support.env")
local errs = require("support.errs")
local fds = require("support.fds")
local files = require("support.files")
local net = require("support.net")
local netns = require("support.netns")
local core = env.core()
local sockit = require("sockit")

-- busted runs only the last `finally` of a test: each cleanup goes here
-- instead, which also keeps what it closes alive until the test ends
local cleanups = {}
local function defer(fn) cleanups[#cleanups + 1] = fn end

after_each(function()
  for i = #cleanups, 1, -1 do
    cleanups[i]()
    cleanups[i] = nil
  end
  files.cleanup()
end)

-- "localhost" gives an address of each family here
local function dualstack()
  local list = core.getaddrinfo("localhost", 80, {type = "stream"})
  local seen = {}
  for _, a in ipairs(list or {}) do seen[a.family] = true end
  return seen.inet and seen.inet6
end
local dual = dualstack()

local function needdual()
  if not dual then pending("localhost is not both ::1 and 127.0.0.1 here") end
  return dual
end

-- A port where ::1 hangs (a full queue) and 127.0.0.1 accepts: the
-- IPv4 server, port
local function hanging_ipv6()
  for _ = 1, 10 do
    local _, port = net.full_listener(defer, 64, 0.2, "::1")
    -- timeouts are a safety net only: no call waits that long
    local srv = sockit.listen("127.0.0.1", port, {timeout = 10})
    if srv then
      defer(function() srv:close() end)
      srv:settimeout(10)
      return srv, port
    end
  end
  error("no port free on both ::1 and 127.0.0.1")
end

local function connect(...)
  return net.closing(defer, sockit.connect(...))
end

-- the connections srv accepts carry a line from each stream of the list
-- ss, in whatever order they came
local function carry(srv, ss)
  local want, got = {}, {}
  for i, s in ipairs(ss) do
    assert(s:write("stream " .. i .. "\n"))
    want[i] = "stream " .. i
  end
  for i = 1, #ss do
    local conn, host = assert(srv:accept())
    defer(function() conn:close() end)
    assert.equal("127.0.0.1", host)
    got[i] = conn:read("l")
  end
  table.sort(got)
  assert.same(want, got)
end

local function carries(srv, s) carry(srv, {s}) end

describe("sockit.connect with addresses of both families", function()
  it("connects through IPv4 while the IPv6 attempt hangs", function()
    if not needdual() then return end
    local srv, port = hanging_ipv6()
    local before = fds.count()
    local s = assert(connect("localhost", port, {timeout = 1}))
    -- the stream only: the hanging attempt was closed
    assert.equal(before + 1, fds.count())
    assert.same({"127.0.0.1", port}, {s:peer()})
    carries(srv, s)
  end)

  it("tries one address at a time with happy_eyeballs = false", function()
    if not needdual() then return end
    local _, port = hanging_ipv6()
    local before = fds.count()
    errs.fails("ETIMEDOUT", connect("localhost", port,
                                    {timeout = 1, happy_eyeballs = false}))
    assert.equal(before, fds.count())
  end)

  it("connects through IPv4 inside tasks, several at once", function()
    if not needdual() then return end
    local srv, port = hanging_ipv6()
    local before = fds.count()
    local got = {}
    for i = 1, 3 do
      sockit.spawn(function()
        got[i] = table.pack(sockit.connect("localhost", port, {timeout = 1}))
      end)
    end
    sockit.spawn(function()
      got[4] = table.pack(sockit.connect("localhost", port,
                                         {timeout = 1, happy_eyeballs = false}))
    end)
    sockit.run()
    local ss = {}
    for i = 1, 3 do
      local s = assert(got[i][1], got[i][2])
      defer(function() s:close() end)
      assert.same({"127.0.0.1", port}, {s:peer()})
      ss[i] = s
    end
    carry(srv, ss)
    errs.fails("ETIMEDOUT", table.unpack(got[4], 1, got[4].n))
    -- three streams and the connections accepted for them
    assert.equal(before + 6, fds.count())
  end)

  it("applies bind and nodelay to every attempt", function()
    if not needdual() then return end
    local srv, port = hanging_ipv6()
    -- bind names a local address of each family in turn
    local s = assert(connect("localhost", port, {timeout = 5, nodelay = false,
                                                 bind = {"localhost", 0}}))
    assert.equal("127.0.0.1", s:sockname())
    assert.is_false(s.socket:getoption("nodelay"))
    carries(srv, s)
  end)

  it("returns the failure of the last attempt when every one fails", function()
    if not needdual() then return end
    local port = net.freeport()
    errs.fails("ECONNREFUSED", connect("localhost", port, {timeout = 1}))
    sockit.spawn(function()
      errs.fails("ECONNREFUSED", connect("localhost", port, {timeout = 1}))
    end)
    sockit.run()
  end)

  it("starts every attempt at once with attempt_delay = 0", function()
    if not needdual() then return end
    local srv, port = hanging_ipv6()
    local s = assert(connect("localhost", port,
                             {timeout = 5, attempt_delay = 0}))
    assert.equal("127.0.0.1", s:peer())
    carries(srv, s)
  end)
end)

-- a socketpair whose first end has no room to send: full, peer
local function full_pair()
  local a, b = net.pair(defer)
  a:settimeout(0)
  while a:send(("x"):rep(65536)) do end
  return a, b
end

-- reads everything the socket has, which makes room at its peer
local function drain(s)
  s:settimeout(0)
  while s:recv(65536) do end
end

describe("wait.writable, the wait of the attempts", function()
  local wait = require("sockit.wait")

  it("returns once one socket of several has room, or at the deadline", function()
    local full = full_pair()
    local free = net.pair(defer)
    assert.is_true(wait.writable({full, free}, core.monotime() + 10))
    errs.fails("ETIMEDOUT",
               wait.writable({full}, core.monotime() + 0.05))
    errs.fails("ETIMEDOUT",
               wait.writable({full, (full_pair())}, core.monotime() + 0.05))
    local r = {}
    sockit.spawn(function()
      r[1] = wait.writable({full, free}, core.monotime() + 10)
      r[2] = table.pack(wait.writable({full}, core.monotime() + 0.05))
    end)
    sockit.run()
    assert.is_true(r[1])
    errs.fails("ETIMEDOUT", table.unpack(r[2], 1, r[2].n))
  end)

  it("wakes a task once when one of its sockets closes", function()
    local x = full_pair()
    local y, ypeer = full_pair()
    local other = full_pair()
    local r = {}
    sockit.spawn(function()
      r[1] = table.pack(wait.writable({x, y}))
      -- the room y got meanwhile does not wake this later wait
      r[2] = table.pack(wait.writable({other}, core.monotime() + 0.05))
    end)
    sockit.spawn(function()
      core.close(x)
      drain(ypeer)
    end)
    sockit.run()
    errs.fails("ECANCELED", table.unpack(r[1], 1, r[1].n))
    errs.fails("ETIMEDOUT", table.unpack(r[2], 1, r[2].n))
  end)
end)

describe("sockit.connect's happy_eyeballs and attempt_delay", function()
  it("raise on values of the wrong type or out of range", function()
    local raised = errs.raised
    assert.matches("#3 to 'connect' %(option 'happy_eyeballs'",
      raised(sockit.connect, "127.0.0.1", 1, {happy_eyeballs = 1}))
    for _, d in ipairs({-0.1, 0 / 0, -math.huge}) do
      assert.matches("#3 to 'connect' %(option 'attempt_delay': value out of",
        raised(sockit.connect, "127.0.0.1", 1, {attempt_delay = d}))
    end
    assert.matches("#3 to 'connect' %(option 'attempt_delay'",
      raised(sockit.connect, "127.0.0.1", 1, {attempt_delay = "1"}))
  end)
end)

-- the child in the private network namespace: its /etc/hosts names the
-- dead addresses, and it prints one line per case
local CHILD = [==[
package.path = %q .. package.path
local fds = require("support.fds")
local sockit = require("sockit")
local dir = arg[0]:match("^(.*)/[^/]*$")

local function sh(cmd)
  assert(os.execute("env -u LD_PRELOAD sh -c '" .. cmd .. "'"), cmd)
end
-- a veth pair whose far end has no address: 2001:db8::1 and 192.0.2.1
-- are reached through a neighbour that never answers
sh("ip link add he0 type veth peer name he1 && ip link set he1 up"
   .. " && ip link set he0 up"
   .. " && ip -6 addr add 2001:db8::2/64 dev he0 nodad"
   .. " && ip addr add 192.0.2.2/24 dev he0"
   .. " && ip -6 neigh replace 2001:db8::1 lladdr 02:00:00:00:00:01"
   .. " dev he0 nud permanent"
   .. " && ip neigh replace 192.0.2.1 lladdr 02:00:00:00:00:01"
   .. " dev he0 nud permanent"
   .. " && mount --bind " .. dir .. "/hosts /etc/hosts")

local srv = assert(sockit.listen("127.0.0.1", 0))
local _, port = srv:address()
local before = fds.count()

local CASES = {
  {"dual.test", {}},
  {"dual.test", {happy_eyeballs = false}},
  {"dead6.test", {}},
  {"dead.test", {}},
}

-- one line: the case, then the peer or the failure's code
local function report(i, s, _, code)
  if s then
    local host = s:peer()
    local conn = assert(srv:accept())
    assert(s:write("hello\n"))
    local line = conn:read("l")
    conn:close()
    s:close()
    return ("%%d %%s %%s"):format(i, host, line)
  end
  return ("%%d %%s"):format(i, code)
end

require("support.eyecases")(CASES, port, report)
srv:close()
print("descriptors", before - 1 == fds.count())
]==]

local HOSTS = [[
127.0.0.1 localhost
2001:db8::1 dual.test
127.0.0.1 dual.test
2001:db8::1 dead6.test
2001:db8::1 dead.test
192.0.2.1 dead.test
]]

describe("sockit.connect past a route that swallows packets", function()
  it("connects through IPv4 long before the timeout, or times out", function()
    if not netns.available() then
      pending("needs network and mount namespaces (root, unshare, ip)")
      return
    end
    local dir = files.tmpdir()
    files.write(dir .. "/nsswitch.conf", "hosts: files\n")
    files.write(dir .. "/resolv.conf", "nameserver 127.0.0.1\n")
    files.write(dir .. "/hosts", HOSTS)
    files.write(dir .. "/child.lua",
                CHILD:format(env.root .. "/spec/?.lua;"))
    local out, ok = netns.run(dir)
    assert(ok, "the child failed:\n" .. out)
    local want = {}
    for _, where in ipairs({"outside", "inside"}) do
      want[#want + 1] = where .. " 1 127.0.0.1 hello"
      want[#want + 1] = where .. " 2 ETIMEDOUT"
      want[#want + 1] = where .. " 3 ETIMEDOUT"
      want[#want + 1] = where .. " 4 ETIMEDOUT"
    end
    want[#want + 1] = "descriptors\ttrue"
    assert.equal(table.concat(want, "\n") .. "\n", out)
  end)
end)

-- RFC 8305, section 3: a DNS server of the child's own (dns.lua, in its
-- private network namespace) answers the A and AAAA queries of each name
-- with its own delay, or never: the connect asks each family apart and
-- starts with the first answer, waiting 50 ms (the Resolution Delay) for
-- an AAAA answer that comes after the A one; addresses that come after
-- the first attempts failed are tried too.
local DNS = [==[
local sockit = require("sockit")

-- name -> {A delay, AAAA delay [, A address]}: a number of seconds,
-- false never, "nodata" an empty answer; the addresses are 127.0.0.1 and
-- ::1 unless given (192.0.2.1 has no route here); names not here get
-- NXDOMAIN
local NAMES = {
  ["late6.test"] = {0, 0.01},
  ["slow6.test"] = {0, 1.5},
  ["mute6.test"] = {0, false},
  ["mute4.test"] = {false, 0},
  ["only4.test"] = {0, "nodata"},
  ["noroute4.test"] = {0, 0.3, "\192\0\2\1"},
}
local RDATA = {[1] = "\127\0\0\1", [28] = ("\0"):rep(15) .. "\1"}

local function u16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end
local function be16(n) return string.char(math.floor(n / 256), n % 256) end

-- the query's name (dotted), its type, and where its question ends
local function question(q)
  local labels, i = {}, 13
  while q:byte(i) ~= 0 do
    local n = q:byte(i)
    labels[#labels + 1] = q:sub(i + 1, i + n)
    i = i + n + 1
  end
  return table.concat(labels, "."), u16(q, i + 1), i + 4
end

local function answer(q)
  local name, qtype, qend = question(q)
  local rule = NAMES[name]
  local delay = rule and rule[qtype == 28 and 2 or 1]
  if delay == false then return nil end
  local rdata = rule and delay ~= "nodata"
    and (qtype == 1 and rule[3] or RDATA[qtype])
  local head = q:sub(1, 2) .. (rule and "\129\128" or "\129\131")
    .. be16(1) .. be16(rdata and 1 or 0) .. be16(0) .. be16(0)
  local body = q:sub(13, qend)
  if rdata then
    body = body .. "\192\12" .. be16(qtype) .. be16(1) .. "\0\0\0\60"
      .. be16(#rdata) .. rdata
  end
  return head .. body, tonumber(delay) or 0
end

local u = assert(sockit.udp({bind = {"127.0.0.1", 53}}))
print("ready")
io.stdout:flush()
sockit.spawn(function()  -- a safety net: the child stops it long before
  sockit.sleep(60)
  os.exit(1)
end)
sockit.spawn(function()
  while true do
    local q, host, port = assert(u:recvfrom(512))
    if q == "quit" then os.exit(0) end
    local reply, delay = answer(q)
    if reply then
      sockit.spawn(function()
        sockit.sleep(delay)
        u:sendto(reply, host, port)
      end)
    end
  end
end)
sockit.run()
]==]

local RESOLVING = [==[
package.path = %q .. package.path
local sockit = require("sockit")
local dir = arg[0]:match("^(.*)/[^/]*$")

local dns = assert(io.popen("exec " .. %q .. " " .. dir .. "/dns.lua"))
assert(dns:read("*l") == "ready")

-- a port where both ::1 and 127.0.0.1 listen
local function listeners()
  for _ = 1, 20 do
    local v4 = assert(sockit.listen("127.0.0.1", 0))
    local v6 = sockit.listen("::1", select(2, v4:address()))
    if v6 then return v4, v6, select(2, v4:address()) end
    v4:close()
  end
  error("no port free on both ::1 and 127.0.0.1")
end
local v4, v6, port = listeners()

local CASES = {
  {"late6.test", {}},
  {"slow6.test", {}},
  {"slow6.test", {happy_eyeballs = false}},
  {"mute6.test", {}},
  {"mute4.test", {}},
  {"only4.test", {}},
  {"none.test", {}},
  {"noroute4.test", {}},
}

local function report(i, s, _, code)
  if not s then return ("%%d %%s"):format(i, code) end
  local host = s:peer()
  s:close()
  return ("%%d %%s"):format(i, host)
end

local ok, err = pcall(require("support.eyecases"), CASES, port, report)
v4:close()
v6:close()
local quit = assert(sockit.udp())
assert(quit:sendto("quit", "127.0.0.1", 53))
quit:close()
dns:close()
assert(ok, err)
]==]

describe("sockit.connect's lookups of each family", function()
  it("start with the first answer, waiting 50 ms for a late AAAA",
     function()
    if not netns.available() then
      pending("needs network and mount namespaces (root, unshare, ip)")
      return
    end
    local dir = files.tmpdir()
    files.write(dir .. "/nsswitch.conf", "hosts: dns\n")
    files.write(dir .. "/resolv.conf",
                "nameserver 127.0.0.1\noptions timeout:5 attempts:1\n")
    files.write(dir .. "/dns.lua", DNS)
    files.write(dir .. "/child.lua",
                RESOLVING:format(env.root .. "/spec/?.lua;", env.lua))
    local out, ok = netns.run(dir)
    assert(ok, "the child failed:\n" .. out)
    local want = {}
    for _, where in ipairs({"outside", "inside"}) do
      for _, line in ipairs({"1 ::1", "2 127.0.0.1", "3 ETIMEDOUT",
                             "4 127.0.0.1", "5 ::1", "6 127.0.0.1",
                             "7 EAI_NONAME", "8 ::1"}) do
        want[#want + 1] = where .. " " .. line
      end
    end
    assert.equal(table.concat(want, "\n") .. "\n", out)
  end)
end)

-- A child whose connect to "localhost" hangs in its IPv4 attempt (::1
-- refuses, 127.0.0.1 has a full queue) when one SIGINT comes: the error
-- ends the connect, its attempt already closed.
local INTERRUPTED = [==[
package.path = %q .. package.path
local core = require("sockit.core")
local fds = require("support.fds")
local sockit = require("sockit")
local l = assert(core.socket("inet", "stream"))
assert(l:bind("127.0.0.1", 0))
assert(l:listen(0))
local _, port = l:getsockname()
local fill = {}
repeat  -- until a connect stays pending: the queue is full
  local c = core.socket("inet", "stream"):settimeout(0)
  fill[#fill + 1] = c
  c:connect("127.0.0.1", port)
until not c:wait("w", 0.2)
local before = fds.count()
print("port " .. port)
io.stdout:flush()
local ok, err = pcall(sockit.connect, "localhost", port, {timeout = 60})
print(ok, err)
print("descriptors", fds.count() == before)
]==]

-- how many connects to port are in SYN_SENT, as /proc/net/tcp shows them
local function synsent(port)
  local f = assert(io.open("/proc/net/tcp"))
  local s = f:read("a")
  f:close()
  return select(2, s:gsub((":%04X 02 "):format(port), ""))
end

describe("sockit.connect ended by an error", function()
  it("closes the attempts under way before the error goes on", function()
    if not needdual() then return end
    local dir = files.tmpdir()
    files.write(dir .. "/child.lua",
                INTERRUPTED:format(env.root .. "/spec/?.lua;"))
    local pipe = assert(io.popen(("echo $$; exec %s %s 2>&1 </dev/null")
      :format(env.LUA, env.quote(dir .. "/child.lua"))))
    local pid = tonumber(pipe:read("l"))
    local port = tonumber(pipe:read("l"):match("^port (%d+)$"))
    local tries = 0
    -- the last connect that filled the queue, and the attempt's
    while synsent(port) < 2 and tries < 1000 do
      core.sleep(0.01)
      tries = tries + 1
    end
    os.execute("kill -INT " .. pid)
    local out = pipe:read("a")
    pipe:close()
    assert.matches("^false\t[^\n]*interrupted!\ndescriptors\ttrue\n$", out)
  end)
end)
