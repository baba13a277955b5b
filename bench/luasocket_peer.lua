-- luasocket_peer.lua: the LuaSocket side of the benchmarks; same roles,
-- arguments and output as sockit_peer.lua (see run.lua).
local socket = require "socket"

local CHUNK = 65536

local role, mode = arg[1], arg[2]
local a3, a4, a5 = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])

local function report(fmt, ...)
  io.write("result ", string.format(fmt, ...), "\n")
end

local function acceptone()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  io.write("port ", port, "\n")
  io.stdout:flush()
  local c = assert(server:accept())
  server:close()
  return c
end

local function connectto(port)
  return assert(socket.connect("127.0.0.1", port))
end

local roles = {}

-- sink receive BYTES: receive(64 KiB) until the peer closes
function roles.sink(expect)
  local c = acceptone()
  local t0, c0, total = socket.gettime(), os.clock(), 0
  while true do
    local data, err, partial = c:receive(CHUNK)
    if not data then
      assert(err == "closed", err)
      total = total + #partial
      break
    end
    total = total + #data
  end
  report("bytes=%d wall=%.9f cpu=%.9f", total, socket.gettime() - t0,
    os.clock() - c0)
  return total == expect
end

-- source send PORT BYTES CHUNK
function roles.source(port, bytes, chunk)
  local c = connectto(port)
  local t0, c0 = socket.gettime(), os.clock()
  local data = string.rep("x", chunk)
  while bytes > 0 do
    local piece = bytes >= chunk and data or data:sub(1, bytes)
    assert(c:send(piece))
    bytes = bytes - #piece
  end
  c:close()
  report("wall=%.9f cpu=%.9f", socket.gettime() - t0, os.clock() - c0)
  return true
end

-- lines receive COUNT [HEAPMB]: receive("*l") until the peer closes,
-- with about HEAPMB MB of live heap
function roles.lines(expect, heapmb)
  local keep = {}
  for i = 1, (heapmb or 0) * 1024 * 1024 // 100 do keep[i] = {i} end
  local c = acceptone()
  local t0, c0, count = socket.gettime(), os.clock(), 0
  while c:receive("*l") do count = count + 1 end
  report("lines=%d wall=%.9f cpu=%.9f", count, socket.gettime() - t0,
    os.clock() - c0)
  return count == expect and #keep >= 0
end

function roles.pong()
  local c = acceptone()
  c:setoption("tcp-nodelay", true)
  local c0, rounds = os.clock(), 0
  -- checked as baseline.c checks, without a call to assert per call
  while true do
    local b = c:receive(1)
    if not b then break end
    if c:send(b) ~= 1 then error("send failed") end
    rounds = rounds + 1
  end
  report("rounds=%d cpu=%.9f", rounds, os.clock() - c0)
  return true
end

-- ping PORT ROUNDS
function roles.ping(port, rounds)
  local c = connectto(port)
  c:setoption("tcp-nodelay", true)
  local t0, c0 = socket.gettime(), os.clock()
  for _ = 1, rounds do
    if c:send("x") ~= 1 or c:receive(1) ~= "x" then error("ping failed") end
  end
  c:close()
  report("wall=%.9f cpu=%.9f", socket.gettime() - t0, os.clock() - c0)
  return true
end

-- udpsink recvfrom COUNT SIZE: count datagrams until 0.1 s without one
function roles.udpsink(_, size)
  local u = socket.udp()
  assert(u:setsockname("127.0.0.1", 0))
  local _, port = u:getsockname()
  io.write("port ", port, "\n")
  io.stdout:flush()
  assert(u:receivefrom(size))
  local t0, c0, t1, got = socket.gettime(), os.clock(), 0, 1
  u:settimeout(0.1)
  while u:receivefrom(size) do
    got = got + 1
    t1 = socket.gettime()
  end
  report("got=%d span=%.9f cpu=%.9f", got, t1 - t0, os.clock() - c0)
  return got > 1
end

-- udpsource sendto PORT COUNT SIZE
function roles.udpsource(port, count, size)
  local u = socket.udp()
  local data = string.rep("u", size)
  local t0, c0 = socket.gettime(), os.clock()
  for _ = 1, count do assert(u:sendto(data, "127.0.0.1", port)) end
  report("sent=%d wall=%.9f cpu=%.9f", count, socket.gettime() - t0,
    os.clock() - c0)
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

-- memory tcp COUNT: bytes per idle tcp object
function roles.memory(count)
  local keep = {}
  for i = 1, count do keep[i] = false end
  local warm = assert(socket.tcp())
  local heap0, rss0 = usage()
  for i = 1, count do keep[i] = assert(socket.tcp()) end
  local heap1, rss1 = usage()
  report("heap=%.1f rss=%.1f", (heap1 - heap0) / count, (rss1 - rss0) / count)
  return warm and #keep == count
end

local fn = roles[role]
if not fn or not mode then
  io.stderr:write("usage: luasocket_peer.lua ROLE MODE ARGS...\n")
  os.exit(2)
end
os.exit(fn(a3, a4, a5) and 0 or 1)
