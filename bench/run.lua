-- run.lua: sockit's benchmarks against a C baseline and LuaSocket.
--
--   make bench          (or: lua5.4 bench/run.lua from the repository root)
--   QUICK=1             a smoke pass: tiny sizes, one round
--   OUT=path            where the JSON goes (default bench/results.json)
--   CC=cc               the compiler for bench/baseline.c
--   ONLY=pattern        only the benchmarks whose group matches, e.g. "lines"
--
-- Every side of a benchmark is its own process (baseline.c,
-- sockit_peer.lua, luasocket_peer.lua; for TLS tls_baseline.c and
-- tls_peer.lua, with LuaSec), pinned with taskset, talking over
-- 127.0.0.1. A listening side prints "port N", then every side prints
-- "result key=value...". The machine may be noisy, so each round runs all
-- contenders of a benchmark back to back, in an order that rotates from
-- run to run, and the table shows medians of the per-run ratios.
-- Exits non-zero when a benchmark could not run, not when a target is missed.

local function env(name, default)
  local v = os.getenv(name)
  return (v and v ~= "") and v or default
end

local QUICK = env("QUICK", "0") ~= "0"
local OUT = env("OUT", "bench/results.json")
local CC = env("CC", "cc")
local LUA = arg[-1] or "lua5.4"
local BASELINE = "build/bench-baseline"
local FILE = "build/bench-file"       -- served by the sendfile benchmark
local TLS_BASELINE = "build/bench-tls-baseline"
local TLS_DIR = "build/bench-tls"     -- the TLS server's certificate and key
local LIMIT = QUICK and 20 or 60   -- seconds any one process may take
local CHUNK = 65536

-- 'reps' runs of the short, noisy benchmarks (bulk, ping-pong) per round
local N = QUICK and {
  rounds = 1, reps = 1, bulk = 4 * 1024 * 1024, lines = 20000, line = 24,
  pings = 2000, datagrams = 2000, dgram = 512, handles = 1000,
  file = 8 * 1024 * 1024, tls = 4 * 1024 * 1024, handshakes = 50,
} or {
  rounds = 11, reps = 3, bulk = 32 * 1024 * 1024, lines = 1000000, line = 24,
  pings = 10000, datagrams = 51200, dgram = 512, handles = 10000,
  file = 100 * 1024 * 1024, tls = 64 * 1024 * 1024, handshakes = 500,
}

-- Peers find the work tree's modules when run.lua is started by hand.
local PATHS = os.getenv("LUA_CPATH") and ""
  or "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' "
local C = BASELINE
local SOCKIT = PATHS .. LUA .. " bench/sockit_peer.lua"
local LUASOCKET = PATHS .. LUA .. " bench/luasocket_peer.lua"
local TLSPEER = PATHS .. LUA .. " bench/tls_peer.lua"

local function shell(cmd)
  local f = assert(io.popen(cmd))
  local out = f:read("*a")
  f:close()
  return out
end

local NCPU = tonumber(shell("nproc 2>/dev/null")) or 1
local CPU0, CPU1 = 0, NCPU > 1 and 1 or 0

-- Processes ---------------------------------------------------------------

-- Starts 'cmd' on 'cpu'; the shell tells the pid first, so a peer left
-- waiting for a partner that failed can be stopped.
local function start(cpu, cmd)
  local line = ("timeout %d taskset -c %d %s & echo \"pid $!\"; wait $!")
    :format(LIMIT, cpu, cmd)
  return {f = assert(io.popen(line)), cmd = cmd}
end

local function fail(p, what)
  error(("%s: %s"):format(p.cmd, what), 0)
end

-- the first "key N" line the process prints, after its pid line
local function expect(p, key)
  for _ = 1, 2 do
    local line = p.f:read("*l")
    if not line then fail(p, "exited before telling its " .. key) end
    local k, v = line:match("^(%a+) (%d+)$")
    if k == "pid" then p.pid = v end
    if k == key then return v end
  end
  fail(p, "did not tell its " .. key)
end

-- waits for the process and returns its "result" fields as numbers
local function finish(p)
  local out = p.f:read("*a")
  local ok, _, code = p.f:close()
  local fields = out:match("result ([^\n]*)")
  if not ok or not fields then fail(p, "failed, exit status " .. code) end
  local r = {}
  for k, v in fields:gmatch("(%a+)=(%S+)") do r[k] = tonumber(v) end
  return r
end

-- a listening peer and a connecting one ("PORT" in its command, and
-- "CONTROL" for the receiver's control port when the server has one)
local function pair(server, client)
  local s = start(server.cpu, server.cmd)
  local port = expect(s, "port")
  local control = server.control and expect(s, "control") or ""
  local ok, cres = pcall(finish, start(client.cpu,
    (client.cmd:gsub("PORT", port):gsub("CONTROL", control))))
  if not ok then
    if s.pid then os.execute("kill " .. s.pid .. " 2>/dev/null") end
    pcall(finish, s)
    error(cres, 0)
  end
  return finish(s), cres
end

local function single(cpu, cmd)
  local p = start(cpu, cmd)
  expect(p, "pid")
  return finish(p)
end

-- Benchmarks --------------------------------------------------------------
-- Each group maps a contender's name to a function that runs it once and
-- returns its figure (and details for the JSON).

local function source(cpu, lines)
  local line = lines and (" " .. N.line) or ""
  local bytes = lines and N.lines * N.line or N.bulk
  return {cpu = cpu, cmd = ("%s source c PORT %d %d%s")
    :format(C, bytes, CHUNK, line)}
end

-- A bulk run's figure, from its receiver's and sender's results: bytes
-- per second of wall time; and in the JSON, bytes per CPU second of the
-- two sides together. On one CPU shared with other programs, the wall
-- time counts theirs too, which pulls every ratio towards 1x; the CPU
-- rate does not (see bench/README.md).
local function rate(s, c)
  return N.bulk / s.wall, {cpu_rate = N.bulk / (s.cpu + c.cpu)}
end

-- bytes per second into a receiver, fed by the C sender
local function receiving(rx, tx, cmd)
  return function()
    return rate(pair({cpu = rx, cmd = ("%s %d"):format(cmd, N.bulk)},
      source(tx)))
  end
end

-- bytes per second out of a sender, drained by the C receiver
local function sending(rx, tx, cmd)
  return function()
    return rate(pair({cpu = rx, cmd = ("%s sink c %d"):format(C, N.bulk)},
      {cpu = tx, cmd = ("%s PORT %d %d"):format(cmd, N.bulk, CHUNK)}))
  end
end

-- bytes per second from a sender to a receiver of the same library
local function streaming(rx, tx, peer, rmode, smode)
  return function()
    return rate(pair({cpu = rx, cmd = ("%s sink %s %d"):format(peer, rmode,
      N.bulk)}, {cpu = tx, cmd = ("%s source %s PORT %d %d"):format(peer,
      smode, N.bulk, CHUNK)}))
  end
end

local function bulk(rx, tx)
  return {
    receive = {
      c = receiving(rx, tx, C .. " sink c"),
      copy = receiving(rx, tx, C .. " sink copy"),
      recv = receiving(rx, tx, SOCKIT .. " sink recv"),
      recv_into = receiving(rx, tx, SOCKIT .. " sink recv_into"),
    },
    send = {
      c = sending(rx, tx, C .. " source c"),
      send = sending(rx, tx, SOCKIT .. " source send"),
    },
    stream = {
      luasocket = streaming(rx, tx, LUASOCKET, "receive", "send"),
      stream = streaming(rx, tx, SOCKIT, "stream", "stream"),
      recv = streaming(rx, tx, SOCKIT, "recv", "send"),
      c = streaming(rx, tx, C, "c", "c"),
    },
  }
end

-- lines per CPU second of the reader (the C sender is the same for both),
-- with heapmb MB of live heap in the reader
local function lines(peer, mode, heapmb)
  return function()
    local s = pair({cpu = CPU1, cmd = ("%s lines %s %d %d"):format(peer, mode,
      N.lines, heapmb or 0)}, source(CPU0, true))
    return N.lines / s.cpu, {lines_per_wall_s = N.lines / s.wall}
  end
end

-- CPU seconds of a Stream reading one line of mib MiB, which the end of
-- stream ends (the C sender sends no newline without a line length)
local function longline(mib)
  return function()
    local bytes = mib * 1024 * 1024
    local s = pair({cpu = CPU1, cmd = ("%s longline stream %d"):format(
      SOCKIT, bytes)}, {cpu = CPU0, cmd = ("%s source c PORT %d %d")
      :format(C, bytes, CHUNK)})
    return s.cpu, {wall = s.wall}
  end
end

-- CPU seconds of both processes per round trip, both on one CPU
local function pingpong(peer, mode)
  return function()
    local s, c = pair({cpu = CPU0, cmd = ("%s pong %s"):format(peer, mode)},
      {cpu = CPU0, cmd = ("%s ping %s PORT %d"):format(peer, mode, N.pings)})
    if s.rounds ~= N.pings then error("pong saw " .. s.rounds .. " rounds") end
    return (s.cpu + c.cpu) / N.pings, {wall_per_round_trip = c.wall / N.pings}
  end
end

-- bytes per idle handle: the larger of the Lua heap and RSS growth
local function memory(peer, mode)
  return function()
    local r = single(CPU0, ("ulimit -n %d 2>/dev/null; %s memory %s %d")
      :format(N.handles + 64, peer, mode, N.handles))
    return math.max(r.heap, r.rss), {heap = r.heap, rss = r.rss}
  end
end

-- Datagrams go in bursts of 256 that the receiver's buffer holds whole,
-- each acknowledged on a control port (see baseline.c): every receiver
-- finds a full queue, and no datagram is dropped.

-- a receiver on CPU1 and a sender on CPU0 -> the receiver's result and
-- the sender's
local function datagrams(rx, rmode, tx, tmode)
  local s, c = pair({cpu = CPU1, control = true, cmd = ("%s udpsink %s %d %d")
    :format(rx, rmode, N.datagrams, N.dgram)}, {cpu = CPU0, cmd =
    ("%s udpsource %s PORT %d %d CONTROL"):format(tx, tmode, N.datagrams,
    N.dgram)})
  if s.got ~= N.datagrams then
    error(("%d of %d datagrams received"):format(s.got, N.datagrams), 0)
  end
  return s, c
end

-- datagrams per CPU second of a sender, into the C receiver
local function udpsend(peer, mode)
  return function()
    local _, c = datagrams(C, "batch", peer, mode)
    return N.datagrams / c.cpu, {per_wall_s = N.datagrams / c.wall}
  end
end

-- datagrams per CPU second of a receiver, from the C sender doing
-- 64 datagrams per sendmmsg
local function udpreceive(peer, mode)
  return function()
    local s = datagrams(peer, mode, C, "batch")
    return N.datagrams / s.cpu, {per_wall_s = N.datagrams / s.span}
  end
end

local function udp(measure)
  return {c = measure(C, "c"), luasocket = measure(LUASOCKET, "udp"),
    sockit = measure(SOCKIT, "udp")}
end

-- the batched calls against C doing the same batches (64 datagrams a
-- call; sending, one sendmsg with UDP_SEGMENT, as udp:sendmany does for
-- datagrams to one peer) and against LuaSocket's one datagram a call
local function batched(measure, cmode, gso)
  return {c = measure(C, cmode), mmsg = gso and measure(C, "batch") or nil,
    luasocket = measure(LUASOCKET, "udp"), sockit = measure(SOCKIT, "batch")}
end

-- sending, sockit's figure is sendmany of a list of strings to one
-- peer; for reference, sendmany's list of {data, host, port} tables
local function batchedsend()
  local t = batched(udpsend, "gso", true)
  t.sockit, t.list = udpsend(SOCKIT, "strings"), t.sockit
  return t
end

-- receiving, sockit's figure is recvmany into a reused sockit.batch;
-- for reference, the same with each datagram's data, host and port
-- taken out, and recvmany's list of tables
local function batchedreceive()
  local t = batched(udpreceive, "batch")
  t.sockit, t.get, t.list = udpreceive(SOCKIT, "into"),
    udpreceive(SOCKIT, "get"), t.sockit
  return t
end

-- bytes per second out of a server sending FILE to the C receiver
local function serving(peer, mode)
  return function()
    local _, c = pair({cpu = CPU1, cmd = ("%s sink c %d"):format(C, N.file)},
      {cpu = CPU0, cmd = ("%s filesource %s PORT %s"):format(peer, mode,
      FILE)})
    return N.file / c.wall, {cpu = c.cpu}
  end
end

-- TLS: the C OpenSSL server (TLS 1.3, AES-128-GCM, no resumption) on one
-- CPU, the client measured on the other, each contender's figure in units
-- (bytes received, or full handshakes with a P-256 certificate and X25519)
-- per CPU second of the client: the server's cost is the same for every
-- client, and the client's own time is what the library decides.
-- 'server' is tls_baseline's role ("source" or "accept"), 'role' the
-- clients' ("sink" or "handshake").
local function tls(server, role, units)
  local function measure(program, lib)
    return function()
      local _, c = pair({cpu = CPU0, cmd = ("%s %s %s/cert.pem %s/key.pem %d")
        :format(TLS_BASELINE, server, TLS_DIR, TLS_DIR, units)}, {cpu = CPU1,
        cmd = ("%s %s %s PORT %d %s/cert.pem"):format(program, role, lib,
        units, TLS_DIR)})
      return units / c.cpu, {per_wall_s = units / c.wall}
    end
  end
  return {c = measure(TLS_BASELINE, "c"), sockit = measure(TLSPEER, "sockit"),
    luasec = measure(TLSPEER, "luasec")}
end

local cross, same = bulk(CPU1, CPU0), bulk(CPU0, CPU0)

local groups = {
  {name = "receive, 2 CPUs", run = cross.receive, reps = N.reps},
  {name = "receive, 1 CPU", run = same.receive, reps = N.reps},
  {name = "send, 2 CPUs", run = cross.send, reps = N.reps},
  {name = "send, 1 CPU", run = same.send, reps = N.reps},
  {name = "stream, 2 CPUs", run = cross.stream, reps = N.reps},
  {name = "stream, 1 CPU", run = same.stream, reps = N.reps},
  {name = "lines", run = {luasocket = lines(LUASOCKET, "receive"),
    stream = lines(SOCKIT, "stream"), iter = lines(SOCKIT, "iter")}},
  {name = "lines, 6 MB heap", run = {
    luasocket = lines(LUASOCKET, "receive", 6),
    stream = lines(SOCKIT, "stream", 6)}},
  {name = "long line", run = {mib8 = longline(8), mib32 = longline(32)}},
  {name = "ping-pong", reps = N.reps, run = {c = pingpong(C, "c"),
    core = pingpong(SOCKIT, "core"), luasocket = pingpong(LUASOCKET, "tcp")}},
  {name = "memory", run = {luasocket = memory(LUASOCKET, "tcp"),
    core = memory(SOCKIT, "core"), stream = memory(SOCKIT, "stream")}},
  {name = "udp send", run = udp(udpsend)},
  {name = "udp receive", run = udp(udpreceive)},
  {name = "udp send, batched", run = batchedsend()},
  {name = "udp receive, batched", run = batchedreceive()},
  {name = "sendfile", run = {c = serving(C, "c"),
    sendfile = serving(SOCKIT, "sendfile"), copy = serving(SOCKIT, "copy")}},
  {name = "tls bulk", tls = true, reps = N.reps, run = tls("source", "sink", N.tls)},
  {name = "tls handshakes", tls = true, run = tls("accept", "handshake", N.handshakes)},
}

-- Rows of the table: a contender against a baseline of the same group.
-- 'higher' says whether a higher figure is better; 'target' bounds the
-- ratio, or with 'absolute' the figure itself.
local GBs = {unit = "B/s", scale = 1e9, suffix = " GB/s"}
local rows = {}
for _, setting in ipairs{"2 CPUs", "1 CPU"} do
  local function g(kind) return kind .. ", " .. setting end
  local where = " (" .. setting .. ")"
  table.insert(rows, {measure = "bulk TCP, `recv` 64 KiB into a new string"
    .. where, group = g"receive", contender = "recv", baseline = "c",
    higher = true, target = 0.85, fmt = GBs})
  -- what the copy into a new string costs C, and sockit against C
  -- doing that same work
  table.insert(rows, {measure = "bulk TCP, C `recv` and a copy of each "
    .. "receive into fresh memory, for reference" .. where,
    group = g"receive", contender = "copy", baseline = "c", higher = true,
    fmt = GBs})
  table.insert(rows, {measure = "bulk TCP, `recv` 64 KiB into a new string, "
    .. "against C copying each receive into fresh memory" .. where,
    group = g"receive", contender = "recv", baseline = "copy", higher = true,
    fmt = GBs})
  table.insert(rows, {measure = "bulk TCP, `recv_into` a reused buffer"
    .. where, group = g"receive", contender = "recv_into", baseline = "c",
    higher = true, target = 0.97, fmt = GBs})
  table.insert(rows, {measure = "bulk TCP, `core.send` 64 KiB strings"
    .. where, group = g"send", contender = "send", baseline = "c",
    higher = true, target = 0.97, fmt = GBs})
  table.insert(rows, {measure = "bulk TCP, `Stream:write`/`Stream:read(n)`"
    .. where, group = g"stream", contender = "stream",
    baseline = "luasocket", higher = true, target = 2, fmt = GBs})
  table.insert(rows, {measure = "bulk TCP, `Stream:write`/`Stream:read(n)` "
    .. "against `core.send`/`core.recv`" .. where, group = g"stream",
    contender = "stream", baseline = "recv", higher = true, target = 0.9,
    fmt = GBs})
  table.insert(rows, {measure = "bulk TCP, C `send`/`recv`, for reference"
    .. where, group = g"stream", contender = "c", baseline = "luasocket",
    higher = true, fmt = GBs})
end
local LINES = {unit = "lines/CPU-s", scale = 1e6, suffix = " M lines/s"}
table.insert(rows, {measure = "1 M short lines, `Stream:read(\"l\")`, "
  .. "reader CPU time", group = "lines", contender = "stream", baseline = "luasocket",
  higher = true, target = 2, fmt = LINES})
table.insert(rows, {measure = "1 M short lines, `for l in stream:lines()`, "
  .. "reader CPU time", group = "lines", contender = "iter",
  baseline = "luasocket", higher = true, target = 2, fmt = LINES})
table.insert(rows, {measure = "1 M short lines, `Stream:read(\"l\")` with "
  .. "6 MB of live heap", group = "lines, 6 MB heap", contender = "stream",
  baseline = "luasocket", higher = true, target = 1.6, fmt = LINES})
table.insert(rows, {measure = "one 32 MiB line against one 8 MiB line, "
  .. "reader CPU time (linear: 4x)", group = "long line", contender = "mib32",
  baseline = "mib8", higher = false, target = 5,
  fmt = {unit = "CPU-s", scale = 1e-3, suffix = " ms"}})
local RT = {unit = "CPU-s/round trip", scale = 1e-6, suffix = " µs"}
table.insert(rows, {measure = "1-byte ping-pong, `core.send`/`core.recv`, "
  .. "CPU per round trip (1 CPU)", group = "ping-pong", contender = "core",
  baseline = "c", higher = false, target = 1.10, fmt = RT})
table.insert(rows, {measure = "1-byte ping-pong, LuaSocket, for reference",
  group = "ping-pong", contender = "luasocket", baseline = "c",
  higher = false, fmt = RT})
local BYTES = {unit = "B/handle", scale = 1, suffix = " B", digits = 0,
  parts = {"heap", "rss"}}
table.insert(rows, {measure = "memory per idle `sockit.core` socket",
  group = "memory", contender = "core", baseline = "luasocket",
  higher = false, target = 64, absolute = true, fmt = BYTES})
table.insert(rows, {measure = "memory per idle `Stream` (with its socket)",
  group = "memory", contender = "stream", baseline = "luasocket",
  higher = false, target = 256, absolute = true, fmt = BYTES})
local UDPFMT = {unit = "datagrams/CPU-s", scale = 1e3, suffix = " k/CPU-s"}
for _, way in ipairs{"send", "receive"} do
  local call = way == "send" and "sendto" or "recvfrom"
  local whose = way == "send" and "sender" or "receiver"
  table.insert(rows, {measure = ("UDP %s, 512-byte datagrams, `udp:%s`, "
    .. "%s CPU time"):format(way, call, whose), group = "udp " .. way,
    contender = "sockit", baseline = "luasocket", higher = true,
    target = 1.5, fmt = UDPFMT})
  table.insert(rows, {measure = ("UDP %s, C `%s`, for reference"):format(
    way, call), group = "udp " .. way, contender = "c",
    baseline = "luasocket", higher = true, fmt = UDPFMT})
end

for _, way in ipairs{"send", "receive"} do
  local call = way == "send" and "sendmany" or "recvmany"
  local whose = way == "send" and "sender" or "receiver"
  local group = "udp " .. way .. ", batched"
  local measure = ("UDP %s, 512-byte datagrams, `udp:%s`, 64 a call%s, %s "
    .. "CPU time"):format(way, call, way == "send" and
    ", a list of strings to one peer" or " into a `sockit.batch`", whose)
  table.insert(rows, {measure = measure, group = group, contender = "sockit",
    baseline = "luasocket", higher = true, target = 1.5, fmt = UDPFMT})
  table.insert(rows, {measure = measure, group = group, contender = "sockit",
    baseline = "c", higher = true, target = 0.8, fmt = UDPFMT})
  if way == "send" then
    table.insert(rows, {measure = "UDP send, `udp:sendmany` of a list of "
      .. "`{data, host, port}` tables, for reference", group = group,
      contender = "list", baseline = "luasocket", higher = true,
      fmt = UDPFMT})
    table.insert(rows, {measure = "UDP send, `udp:sendmany` of a list of "
      .. "tables against C's batches, for reference", group = group,
      contender = "list", baseline = "c", higher = true, fmt = UDPFMT})
    table.insert(rows, {measure = "UDP send, C `sendmmsg` (no segmentation "
      .. "offload), for reference", group = group, contender = "mmsg",
      baseline = "luasocket", higher = true, fmt = UDPFMT})
  end
  if way == "receive" then
    table.insert(rows, {measure = "UDP receive, `udp:recvmany` into a "
      .. "`sockit.batch`, then `batch:get(i)` for each, for reference",
      group = group, contender = "get", baseline = "luasocket",
      higher = true, fmt = UDPFMT})
    table.insert(rows, {measure = "UDP receive, `udp:recvmany` returning a "
      .. "list of tables, for reference", group = group, contender = "list",
      baseline = "luasocket", higher = true, fmt = UDPFMT})
  end
  table.insert(rows, {measure = ("UDP %s, C's batches, for reference")
    :format(way), group = group, contender = "c", baseline = "luasocket",
    higher = true, fmt = UDPFMT})
end
local FILEMB = ("%d MB"):format(math.floor(N.file / (1024 * 1024)))
table.insert(rows, {measure = ("serving a %s file, `stream:sendfile`")
  :format(FILEMB), group = "sendfile", contender = "sendfile",
  baseline = "c", higher = true, target = 0.9, fmt = GBs})
table.insert(rows, {measure = ("serving a %s file, read into strings and "
  .. "`stream:write`, for reference"):format(FILEMB), group = "sendfile",
  contender = "copy", baseline = "c", higher = true, fmt = GBs})

local TLSMB = ("%d MiB"):format(N.tls // (1024 * 1024))
local TLSGB = {unit = "B/CPU-s", scale = 1e9, suffix = " GB/CPU-s"}
local HS = {unit = "handshakes/CPU-s", scale = 1, suffix = "/CPU-s", digits = 0}
table.insert(rows, {measure = ("TLS 1.3 bulk, AES-128-GCM, %s in `Stream:read` "
  .. "64 KiB, receiver CPU time"):format(TLSMB), group = "tls bulk",
  contender = "sockit", baseline = "c", higher = true, target = 0.9, fmt = TLSGB})
table.insert(rows, {measure = ("TLS 1.3 bulk, AES-128-GCM, %s, receiver CPU time")
  :format(TLSMB), group = "tls bulk", contender = "sockit",
  baseline = "luasec", higher = true, target = 1.5, fmt = TLSGB})
table.insert(rows, {measure = "TLS 1.3 bulk, C `SSL_read`, for reference",
  group = "tls bulk", contender = "c", baseline = "luasec", higher = true,
  fmt = TLSGB})
table.insert(rows, {measure = "TLS 1.3 full handshakes (P-256 certificate), "
  .. "client CPU time", group = "tls handshakes", contender = "sockit",
  baseline = "luasec", higher = true, target = 1.2, fmt = HS})
table.insert(rows, {measure = "TLS 1.3 full handshakes, against C OpenSSL, "
  .. "for reference", group = "tls handshakes", contender = "sockit",
  baseline = "c", higher = true, fmt = HS})

-- ONLY=pattern keeps the groups whose name matches (a Lua pattern)
local function keep(list, match)
  local out = {}
  for _, x in ipairs(list) do
    if match(x) then out[#out + 1] = x end
  end
  return out
end

local ONLY = env("ONLY", nil)
if ONLY then
  groups = keep(groups, function(g) return g.name:find(ONLY) end)
  rows = keep(rows, function(row) return row.group:find(ONLY) end)
end

-- Running -----------------------------------------------------------------

local function sorted(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function median(list)
  local s = {}
  for i = 1, #list do s[i] = list[i] end
  table.sort(s)
  local m = math.floor(#s / 2)
  return #s % 2 == 1 and s[m + 1] or (s[m] + s[m + 1]) / 2
end

local function build()
  local cmd = ("mkdir -p build && %s -O2 -std=c99 -Wall -Wextra -o %s "
    .. "bench/baseline.c bench/baseline_util.c"):format(CC, BASELINE)
  io.stderr:write(cmd, "\n")
  if not os.execute(cmd) then
    io.stderr:write("bench: cannot build the C baseline\n")
    os.exit(1)
  end
end

-- figures[group][name] = {figure per run}, details likewise
local figures, details, errors = {}, {}, {}

-- one run of each contender of 'g', the order rotated by 'turn'
local function rungroup(g, turn)
  local names = sorted(g.run)
  figures[g.name] = figures[g.name] or {}
  details[g.name] = details[g.name] or {}
  for k = 0, #names - 1 do
    local name = names[(k + turn) % #names + 1]
    local key = g.name .. "/" .. name
    if not errors[key] then
      local ok, v, more = pcall(g.run[name])
      if ok then
        figures[g.name][name] = figures[g.name][name] or {}
        table.insert(figures[g.name][name], v)
        details[g.name][name] = details[g.name][name] or {}
        table.insert(details[g.name][name], more)
      else
        errors[key] = v
        io.stderr:write("\nbench: ", key, ": ", v, "\n")
      end
      io.stderr:write(".")
    end
  end
end

local function runround(r)
  for _, g in ipairs(groups) do
    local reps = g.reps or 1
    for i = 1, reps do rungroup(g, (r - 1) * reps + i - 1) end
  end
end

local function summarize(row)
  local fig = figures[row.group]
  local a, b = fig[row.contender], fig[row.baseline]
  local err = errors[row.group .. "/" .. row.contender]
    or errors[row.group .. "/" .. row.baseline]
  if err or not a or not b or #a ~= #b then
    return {error = err or "missing rounds"}
  end
  local ratios = {}
  for i = 1, #a do ratios[i] = a[i] / b[i] end
  local s = {value = median(a), baseline = median(b), ratio = median(ratios),
    ratios = ratios}
  if row.target then
    local x = row.absolute and s.value or s.ratio
    if row.higher and not row.absolute then s.met = x >= row.target
    else s.met = x <= row.target end
  end
  return s
end

-- Output ------------------------------------------------------------------

local function show(fmt, v)
  local x = v / fmt.scale
  if fmt.digits == 0 or x >= 1000 then  -- %.3g would print 1.19e+03
    return ("%d%s"):format(math.floor(x + 0.5), fmt.suffix)
  end
  return ("%.3g%s"):format(x, fmt.suffix)
end

local NAMES = {c = "C", copy = "C and a copy", mmsg = "C `sendmmsg`",
  luasocket = "LuaSocket", recv = "`core.recv`", mib8 = "8 MiB line",
  luasec = "LuaSec"}

-- a figure, followed by the medians of its parts ("heap 56, rss 50")
local function figure(row, name, v)
  local text, list = show(row.fmt, v), details[row.group][name]
  if not row.fmt.parts or not list then return text end
  local parts = {}
  for i, part in ipairs(row.fmt.parts) do
    local values = {}
    for j, d in ipairs(list) do values[j] = d[part] end
    parts[i] = ("%s %d"):format(part, math.floor(median(values) + 0.5))
  end
  return ("%s (%s)"):format(text, table.concat(parts, ", "))
end

local function cells(row, s)
  if s.error then
    return {row.measure, "error", NAMES[row.baseline], "", "", "no run"}
  end
  local target = "—"
  if row.target then
    local op = (row.higher and not row.absolute) and "≥ " or "≤ "
    target = op .. (row.absolute and show(row.fmt, row.target)
      or ("%.2fx"):format(row.target))
  end
  local met = s.met == nil and "—" or (s.met and "yes" or "no")
  return {row.measure, figure(row, row.contender, s.value), ("%s %s"):format(
    figure(row, row.baseline, s.baseline), NAMES[row.baseline]),
    ("%.2fx"):format(s.ratio), target, met}
end

local function printtable(summaries)
  print("| measure | sockit | baseline | ratio | target | met |")
  print("|---|---|---|---|---|---|")
  for i, row in ipairs(rows) do
    print("| " .. table.concat(cells(row, summaries[i]), " | ") .. " |")
  end
  print(("\nratio: median of the per-run ratios sockit/baseline; %d "
    .. "round(s), %d run(s) per round for bulk and ping-pong; figures: "
    .. "medians; JSON: %s"):format(N.rounds, N.reps, OUT))
end

local function json(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "number" then
    -- an integral value prints whole (Lua 5.1, LuaJIT and 5.2 have no
    -- integer subtype)
    return v ~= v and "null" or (v % 1 == 0 and math.abs(v) < 2 ^ 53
      and ("%d"):format(v) or ("%.6g"):format(v))
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return ("\\u%04x"):format(c:byte()) end) .. '"'
  elseif t ~= "table" then
    return tostring(v)
  end
  local inner, parts = indent .. "  ", {}
  if #v > 0 or next(v) == nil then
    for _, x in ipairs(v) do parts[#parts + 1] = inner .. json(x, inner) end
    return "[\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "]"
  end
  for _, k in ipairs(sorted(v)) do
    parts[#parts + 1] = ("%s%s: %s"):format(inner, json(k), json(v[k], inner))
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

local function report(summaries)
  local out = {quick = QUICK, rounds = N.rounds, sizes = N, cpus = NCPU,
    date = os.date("!%Y-%m-%dT%H:%M:%SZ"), rows = {}}
  for i, row in ipairs(rows) do
    local s = summaries[i]
    table.insert(out.rows, {measure = row.measure, unit = row.fmt.unit,
      contender = row.contender, baseline_name = NAMES[row.baseline],
      value = s.value, baseline = s.baseline, ratio = s.ratio,
      ratios = s.ratios, target = row.target, met = s.met, error = s.error,
      higher_is_better = row.higher, target_is_absolute = row.absolute,
      details = details[row.group] and details[row.group][row.contender],
      baseline_details = details[row.group]
        and details[row.group][row.baseline]})
  end
  local f = assert(io.open(OUT, "w"))
  f:write(json(out), "\n")
  f:close()
end

-- the file the sendfile benchmark serves, made for the run and removed
local function makefile()
  local cmd = ("head -c %d /dev/urandom > %s"):format(N.file, FILE)
  if not os.execute(cmd) then
    io.stderr:write("bench: cannot make ", FILE, "\n")
    os.exit(1)
  end
end

-- The TLS benchmarks need libssl's headers, sockit.tls and LuaSec; without
-- one of them they are left out, with the reason, rather than failed.
local function tlsready()
  local missing
  if not os.execute("[ -e /usr/include/openssl/ssl.h ]") then
    missing = "libssl's headers (libssl-dev)"
  elseif not os.execute(PATHS .. LUA .. " -e 'require\"sockit.tls\"' 2>/dev/null") then
    missing = "sockit.tls (make builds it with libssl-dev)"
  elseif not os.execute(LUA .. " -e 'require\"ssl\"' 2>/dev/null") then
    missing = "LuaSec (lua-sec)"
  end
  if missing then return nil, missing end
  local cmd = ("%s -O2 -std=c99 -Wall -Wextra -o %s bench/tls_baseline.c bench/baseline_util.c"
    .. " -lssl -lcrypto"
    .. " && mkdir -p %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
    .. " -nodes -keyout %s/key.pem -out %s/cert.pem -subj /CN=localhost -days 2"
    .. " -addext subjectAltName=IP:127.0.0.1 2>/dev/null"):format(CC, TLS_BASELINE,
      TLS_DIR, TLS_DIR, TLS_DIR)
  io.stderr:write(cmd, "\n")
  if not os.execute(cmd) then return nil, "cannot build bench/tls_baseline.c" end
  return true
end

local function droptls(why)
  io.stderr:write("bench: the TLS benchmarks are left out: no ", why, "\n")
  groups = keep(groups, function(g) return not g.tls end)
  rows = keep(rows, function(row) return not row.group:find("^tls") end)
end

build()
makefile()
if #keep(groups, function(g) return g.tls end) > 0 then
  local ok, why = tlsready()
  if not ok then droptls(why) end
end
local t0 = os.time()
for r = 1, N.rounds do runround(r) end
os.remove(FILE)
io.stderr:write(("\n%d round(s) in %d s\n"):format(N.rounds,
  os.time() - t0))
local summaries, failed = {}, false
for i, row in ipairs(rows) do
  summaries[i] = summarize(row)
  failed = failed or summaries[i].error ~= nil
end
printtable(summaries)
report(summaries)
os.exit(failed and 1 or 0)
