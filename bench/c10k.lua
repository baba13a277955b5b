-- c10k.lua: ten thousand loopback connections held at once by sockit's
-- scheduler, each doing echo round trips.
--
--   make bench-c10k     (or: lua5.4 bench/c10k.lua from the repository root)
--   CONNS=n             connections (default 10000)
--   ROUNDS=n            round trips per connection (default 20)
--   LIMIT=s             seconds before the run gives up (default 300)
--
-- This process is the server: sockit.serve, a task per connection echoing
-- lines. A second process (this script again, with "client" as its first
-- argument) opens the connections, a task each; once all are up, a task
-- per connection does its round trips, and once all are done, they close. Two processes,
-- since each end of a connection takes a descriptor and one process may
-- not have twice as many as the limit allows.
--
-- Printed: connections held at once (counted by the server), round trips
-- per second (the client's clock, from the first round trip to the last
-- reply, all connections being up), and memory per connection: the growth of the
-- server's resident set size (and of its Lua heap) from before the first
-- connection to the moment all are held, divided by the connections.
-- Exits non-zero unless every connection was served.

local sockit = require("sockit")
local core = require("sockit.core")

local function env(name, default)
  local v = tonumber(os.getenv(name) or "")
  return v and v % 1 == 0 and v or default
end

local LINE = ("x"):rep(31) .. "\n"   -- one round trip: 32 bytes each way
local TIMEOUT = 60                    -- any one wait for the peer

-- resident set size of this process, in KiB
local function rss()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("*a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

local function nofile()
  local p = assert(io.popen("ulimit -n"))
  local n = p:read("*l")
  p:close()
  return n == "unlimited" and math.huge or tonumber(n)
end


---------------------------------------------------------------- client

-- client(port, conns, rounds): prints "result key=value..." at the end.
-- No task polls: the task of the last connection to come up starts the
-- round trips of all, and the last one done closes them all.
local function client(port, conns, rounds)
  local up, done, failed, inflight = 0, 0, 0, 0
  local held, nheld = {}, 0
  local first_err
  local t_go, t_done
  local rss0 = rss()
  local rss_held

  local function fail(msg, code)
    failed = failed + 1
    first_err = first_err or (tostring(msg) .. " (" .. tostring(code) .. ")")
  end

  local function finish()
    done = done + 1
    if done < conns then return end
    t_done = core.monotime()
    for _, c in pairs(held) do c:close() end
  end

  local function trips(c)
    for _ = 1, rounds do
      local ok, msg, code = c:write(LINE)
      if ok then ok, msg, code = c:read("L") end
      if ok ~= LINE then
        fail(msg or "wrong echo", code)
        break
      end
    end
    finish()
  end

  local function connected()
    up = up + 1
    if up < conns then return end
    rss_held = rss()
    t_go = core.monotime()
    for _, c in pairs(held) do sockit.spawn(trips, c) end
    -- the connections that failed are done already
    for _ = 1, conns - nheld do finish() end
  end

  local function connection(i)
    local c, msg, code = sockit.connect("127.0.0.1", port, {timeout = TIMEOUT})
    inflight = inflight - 1
    if c then
      held[i], nheld = c, nheld + 1
    else
      fail(msg, code)
    end
    connected()
  end

  -- a few hundred connects at a time: a burst of ten thousand SYNs would
  -- overflow the listener's queue, and the dropped ones wait a second to
  -- be sent again
  sockit.spawn(function()
    for i = 1, conns do
      while inflight >= 256 do sockit.sleep(0.001) end
      inflight = inflight + 1
      sockit.spawn(connection, i)
    end
  end)
  sockit.run()
  local secs = (t_done or core.monotime()) - (t_go or core.monotime())
  print(("result failed=%d rounds=%d seconds=%.6f rss_held_kb=%d rss0_kb=%d cpu=%.3f%s"):format(
    failed, (conns - failed) * rounds, secs, rss_held or 0, rss0, os.clock(),
    first_err and (" error=" .. first_err:gsub("%s", "_")) or ""))
end


---------------------------------------------------------------- server

local function echo(s)
  s:settimeout(TIMEOUT)
  while true do
    local line = s:read("L")
    if not line then return end
    if not s:write(line) then return end
  end
end

local function server(conns, rounds, limit)
  local need = conns + 64
  if nofile() < need then
    io.stderr:write(("c10k: ulimit -n is %s, %d connections need %d descriptors "
      .. "in each process (make bench-c10k raises it)\n"):format(
      tostring(nofile()), conns, need))
    os.exit(1)
  end
  local active, peak, served = 0, 0, 0
  local rss_held, heap_held
  collectgarbage("collect")
  local rss0, heap0 = rss(), collectgarbage("count")
  local finished = false

  local srv
  srv = assert(sockit.serve("127.0.0.1", 0, function(s)
    active = active + 1
    if active > peak then
      peak = active
      if peak == conns then
        rss_held, heap_held = rss(), collectgarbage("count")
      end
    end
    echo(s)
    active = active - 1
    served = served + 1
    if served == conns then
      finished = true
      srv:close()
    end
  end, {backlog = 4096}))
  local _, port = srv:address()

  local started = core.monotime()
  local cmd = ("exec %s %s client %d %d %d"):format(arg[-1] or "lua5.4",
    arg[0], port, conns, rounds)
  local child = assert(io.popen(cmd, "r"))

  -- a run that cannot finish stops at the limit
  sockit.spawn(function()
    while not finished and core.monotime() - started < limit do
      sockit.sleep(0.2)
    end
    if not finished then
      io.stderr:write(("c10k: gave up after %d s: %d of %d connections served\n")
        :format(limit, served, conns))
      srv:close()
      os.exit(1)
    end
  end)
  sockit.run()
  local out = child:read("*a")
  local ok = child:close()
  local r = {}
  for k, v in (out:match("result (.*)") or ""):gmatch("([%w_]+)=(%S+)") do r[k] = v end
  local failed, trips, secs = tonumber(r.failed), tonumber(r.rounds), tonumber(r.seconds)
  if not ok or not failed then
    io.stderr:write("c10k: the client process failed:\n", out)
    os.exit(1)
  end

  print(("c10k: %d connections held at once (server peak %d), %d served, "
    .. "%d failed"):format(conns - failed, peak, served, failed))
  print(("  echo round trips: %d in %.2f s, %.0f per second"):format(
    trips, secs, secs > 0 and trips / secs or 0))
  if rss_held then
    print(("  server memory per connection: %.1f KiB resident (%+.1f MiB for %d), "
      .. "%.1f KiB of Lua heap"):format((rss_held - rss0) / conns,
      (rss_held - rss0) / 1024, conns, (heap_held - heap0) / conns))
  end
  local crss, crss0 = tonumber(r.rss_held_kb), tonumber(r.rss0_kb)
  if crss and crss > 0 then
    print(("  client memory per connection: %.1f KiB resident"):format(
      (crss - crss0) / conns))
  end
  print(("  whole run: %.2f s; CPU time (user + system): server %.2f s, client %.2f s")
    :format(core.monotime() - started, os.clock(), tonumber(r.cpu) or 0))
  if r.error then print("  first failure: " .. r.error:gsub("_", " ")) end
  if failed > 0 or served ~= conns or peak ~= conns then os.exit(1) end
end


if arg[1] == "client" then
  client(tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]))
else
  server(env("CONNS", 10000), env("ROUNDS", 20), env("LIMIT", 300))
end
