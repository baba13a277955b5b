-- sockit_peer.lua: the sockit side of the benchmarks. run.lua starts it as
--   lua5.4 bench/sockit_peer.lua ROLE MODE ARGS...
-- A listening role prints "port N" first; every role ends by printing
-- "result key=value..." and exits non-zero if it saw the wrong data.
local core = require "sockit.core"

local CHUNK = 65536

local role, mode = arg[1], arg[2]
local a3, a4, a5 = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])
local now = core.monotime

local function report(fmt, ...)
  io.write("result ", string.format(fmt, ...), "\n")
end

local function tellport(port)
  io.write("port ", port, "\n")
  io.stdout:flush()
end

-- the first client of a listener on 127.0.0.1: a core socket or a Stream
local function acceptone()
  if mode == "stream" then
    local server = assert(require("sockit").listen("127.0.0.1", 0))
    tellport(select(2, server:address()))
    local c = assert(server:accept())
    server:close()
    return c
  end
  local s = assert(core.socket("inet", "stream"))
  assert(s:bind("127.0.0.1", 0))
  assert(s:listen(1))
  tellport(select(2, s:getsockname()))
  local c = assert(s:accept())
  s:close()
  return c
end

local function connectto(port)
  if mode == "stream" then
    return assert(require("sockit").connect("127.0.0.1", port))
  end
  local s = assert(core.socket("inet", "stream"))
  assert(s:connect("127.0.0.1", port))
  return s
end

-- how each mode takes in up to CHUNK bytes: the count, 0 at end of stream
local receivers = {
  recv = function(c)
    return #assert(c:recv(CHUNK))
  end,
  recv_into = function(c, buf)
    return assert(c:recv_into(buf))
  end,
  stream = function(c)
    local data, err = c:read(CHUNK)
    assert(data or not err, err)
    return data and #data or 0
  end,
}

local roles = {}

-- sink recv|recv_into|stream BYTES
function roles.sink(expect)
  local take = assert(receivers[mode], "unknown mode")
  local c = acceptone()
  local buf = mode == "recv_into" and core.buffer(CHUNK)
  local t0, c0, total = now(), os.clock(), 0
  while true do
    local n = take(c, buf)
    if n == 0 then break end
    total = total + n
  end
  report("bytes=%d wall=%.9f cpu=%.9f", total, now() - t0, os.clock() - c0)
  return total == expect
end

local function sendall(c, data)
  local i = 1
  while i <= #data do
    i = i + assert(c:send(data, i))
  end
end

-- source send|stream PORT BYTES CHUNK
function roles.source(port, bytes, chunk)
  local c = connectto(port)
  local t0, c0 = now(), os.clock()
  local data = string.rep("x", chunk)
  local put = mode == "stream" and function(piece) assert(c:write(piece)) end
    or function(piece) sendall(c, piece) end
  while bytes > 0 do
    local piece = bytes >= chunk and data or data:sub(1, bytes)
    put(piece)
    bytes = bytes - #piece
  end
  c:close()
  report("wall=%.9f cpu=%.9f", now() - t0, os.clock() - c0)
  return true
end

-- a live heap of about mb MB (small tables, as a server's state): the
-- collector then has more to traverse per cycle
local function liveheap(mb)
  local keep = {}
  for i = 1, math.floor((mb or 0) * 1024 * 1024 / 100) do keep[i] = {i} end
  return keep
end

-- lines stream|iter COUNT [HEAPMB]: Stream:read("l") (or a for loop over
-- stream:lines()) until the peer closes
function roles.lines(expect, heapmb)
  local keep = liveheap(heapmb)
  local iter = mode == "iter"
  mode = "stream"  -- acceptone makes a Stream either way
  local c = acceptone()
  local t0, c0, count = now(), os.clock(), 0
  if iter then
    for _ in c:lines() do count = count + 1 end
  else
    while c:read("l") do count = count + 1 end
  end
  report("lines=%d wall=%.9f cpu=%.9f", count, now() - t0, os.clock() - c0)
  return count == expect and #keep >= 0
end

-- longline stream BYTES: one line of BYTES bytes (the limit raised)
function roles.longline(expect)
  local c = acceptone()
  c:setmaxline(expect + 1)
  local t0, c0 = now(), os.clock()
  local line = assert(c:read("l"))
  report("bytes=%d wall=%.9f cpu=%.9f", #line, now() - t0, os.clock() - c0)
  return #line == expect
end

-- pong core: echo single bytes until the peer closes
function roles.pong()
  local c = acceptone()
  assert(c:setoption("nodelay", true))
  local c0, rounds = os.clock(), 0
  -- checked as baseline.c checks, without a call to assert per call
  while true do
    local b, err = c:recv(1)
    if b == "" then break end
    if not b or c:send(b) ~= 1 then error(err or "send failed") end
    rounds = rounds + 1
  end
  report("rounds=%d cpu=%.9f", rounds, os.clock() - c0)
  return true
end

-- ping core PORT ROUNDS
function roles.ping(port, rounds)
  local c = connectto(port)
  assert(c:setoption("nodelay", true))
  local t0, c0 = now(), os.clock()
  for _ = 1, rounds do
    if c:send("x") ~= 1 or c:recv(1) ~= "x" then error("ping failed") end
  end
  c:close()
  report("wall=%.9f cpu=%.9f", now() - t0, os.clock() - c0)
  return true
end

-- Datagrams go in bursts that the receiver's buffer holds whole: a burst
-- to the data port, "g" to the control port, then the receiver's "a";
-- "e" ends the last burst (see baseline.c).
local BATCH, BURST = 64, 256
local RCVBUF = 4 * 1024 * 1024  -- asked for; Linux caps it at rmem_max

-- how each mode drains the datagrams queued: the count, nil when none.
-- batch: a list of tables; into: a sockit.batch, reused, as it is;
-- get: the same, then each datagram's data, host and port
local batch
local takers = {
  udp = function(u, size) return u:recvfrom(size) and 1 end,
  batch = function(u, size)
    local list = u:recvmany(BATCH, size)
    return list and #list
  end,
  into = function(u, size)
    batch = batch or require("sockit").batch(BATCH, size)
    return u:recvmany(batch)
  end,
  get = function(u, size)
    batch = batch or require("sockit").batch(BATCH, size)
    local n = u:recvmany(batch)
    for i = 1, n or 0 do
      local data, host, port = batch:get(i)
      if #data ~= size or not host or not port then error("bad datagram") end
    end
    return n
  end,
}

local function bound()
  local u = assert(require("sockit").udp({bind = {"127.0.0.1", 0}}))
  return u, select(2, u:sockname())
end

-- udpsink udp|batch|into|get COUNT SIZE: receive bursts until "e"
function roles.udpsink(_, size)
  local take = assert(takers[mode], "unknown mode")
  local u, port = bound()
  local ctl, control = bound()
  assert(u:setoption("rcvbuf", RCVBUF))
  u:settimeout(0)
  io.write("port ", port, "\ncontrol ", control, "\n")
  io.stdout:flush()
  local got, t0, c0 = 0, nil, nil
  repeat
    local c, host, from = assert(ctl:recvfrom(1))
    t0, c0 = t0 or now(), c0 or os.clock()
    while true do
      local n = take(u, size)
      if not n then break end
      got = got + n
    end
    if c ~= "e" then assert(ctl:sendto("a", host, from)) end
  until c == "e"
  report("got=%d span=%.9f cpu=%.9f", got, now() - t0, os.clock() - c0)
  return got > 1
end

-- how each mode sends up to n datagrams of data to port: the count sent.
-- udp: sendto; batch: sendmany of a list of tables; strings: sendmany of
-- a list of strings to one peer
local function sender(u, data, port)
  local list = {}
  if mode == "strings" then
    return function(n)
      for i = #list + 1, n do list[i] = data end
      for i = n + 1, #list do list[i] = nil end
      return assert(u:sendmany(list, "127.0.0.1", port))
    end
  end
  if mode ~= "batch" then
    return function() return assert(u:sendto(data, "127.0.0.1", port)) and 1 end
  end
  for i = 1, BATCH do list[i] = {data, "127.0.0.1", port} end
  return function(n)
    for i = #list + 1, n do list[i] = {data, "127.0.0.1", port} end
    for i = n + 1, #list do list[i] = nil end
    return assert(u:sendmany(list))
  end
end

-- udpsource udp|batch|strings PORT COUNT SIZE CONTROL
function roles.udpsource(port, count, size)
  local control = tonumber(arg[6])
  local u = assert(require("sockit").udp({family = "inet"}))
  local send = sender(u, string.rep("u", size), port)
  local t0, c0, left = now(), os.clock(), count
  while left > 0 do
    local burst = 0
    while burst < BURST and left > 0 do
      local n = send(left < BATCH and left or BATCH)
      burst, left = burst + n, left - n
    end
    assert(u:sendto(left > 0 and "g" or "e", "127.0.0.1", control))
    if left > 0 then assert(u:recvfrom(1) == "a") end
  end
  report("sent=%d wall=%.9f cpu=%.9f", count, now() - t0, os.clock() - c0)
  return true
end

-- filesource sendfile|copy PORT PATH: the file to a Stream, by
-- stream:sendfile or by reading it into strings and writing those
function roles.filesource(port)
  local c = assert(require("sockit").connect("127.0.0.1", port))
  local path = arg[4]
  local t0, c0 = now(), os.clock()
  if mode == "sendfile" then assert(c:sendfile(path))
  else
    local f = assert(io.open(path, "rb"))
    for piece in f:lines(CHUNK) do assert(c:write(piece)) end
    f:close()
  end
  c:close()
  report("wall=%.9f cpu=%.9f", now() - t0, os.clock() - c0)
  return true
end

-- the Lua heap and the resident set, in bytes, after a full collection
local function usage()
  collectgarbage("collect")
  collectgarbage("collect")
  local f = assert(io.open("/proc/self/status"))
  local rss = f:read("*a"):match("VmRSS:%s*(%d+)")
  f:close()
  return collectgarbage("count") * 1024, tonumber(rss) * 1024
end

local makers = {
  core = function() return assert(core.socket("inet", "stream")) end,
  stream = function()
    return require("sockit").stream(assert(core.socket("inet", "stream")))
  end,
}

-- memory core|stream COUNT: bytes per idle handle
function roles.memory(count)
  local make = assert(makers[mode], "unknown mode")
  local keep = {}
  for i = 1, count do keep[i] = false end
  local warm = make()  -- loads what the first handle needs
  local heap0, rss0 = usage()
  for i = 1, count do keep[i] = make() end
  local heap1, rss1 = usage()
  report("heap=%.1f rss=%.1f", (heap1 - heap0) / count, (rss1 - rss0) / count)
  return warm and #keep == count
end

local fn = roles[role]
if not fn or not mode then
  io.stderr:write("usage: sockit_peer.lua ROLE MODE ARGS...\n")
  os.exit(2)
end
os.exit(fn(a3, a4, a5) and 0 or 1)
