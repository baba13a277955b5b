-- worker_pool.lua: a listener that hands each accepted connection to one
-- of several worker processes, passing the connection itself over a Unix
-- socket (stream:sendfds); the workers answer each client's line in
-- upper case, saying which worker they are.
--
--   lua5.4 examples/worker_pool.lua [PORT [WORKERS [COUNT]]]
--
-- The listener starts WORKERS (default 2) copies of this script as
-- workers, which connect back to it over a Unix socket, then listens on
-- 127.0.0.1 PORT (0 picks one), prints "listening 127.0.0.1 PORT" and
-- deals out the connections in turn. After COUNT connections (default:
-- never) it closes the workers' sockets, which ends them, and exits.

local sockit = require("sockit")
local core = require("sockit.core")

local function usage()
  io.stderr:write("usage: worker_pool.lua [PORT [WORKERS [COUNT]]]\n")
  os.exit(2)
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- a worker: each descriptor that comes over the listener's socket is a
-- client connection, now this process's own
local function worker(path, name)
  local ctl = assert(sockit.connect_unix(path))
  while true do
    local data, fds = ctl:recvfds(1)
    if not data then break end  -- the listener closed it: done
    for _, fd in ipairs(fds) do
      local conn = sockit.stream(assert(core.fromfd(fd)), {timeout = 10})
      local line = conn:read("l")
      if line then conn:write(name, ": ", line:upper(), "\n") end
      conn:close()
    end
  end
  ctl:close()
end

-- starts n workers connected back to a Unix socket at path: their
-- streams, and their processes
local function startworkers(path, n)
  local ctl = assert(sockit.listen_unix(path, {unlink = true}))
  local lua = arg[-1] or "lua5.4"
  local procs, streams = {}, {}
  for i = 1, n do
    procs[i] = assert(io.popen(("%s %s worker %s %d"):format(quote(lua),
                      quote(arg[0]), quote(path), i), "w"))
    streams[i] = assert(ctl:accept())
  end
  ctl:close()
  os.remove(path)
  return streams, procs
end

local function listener(port, n, count)
  local path = os.tmpname()  -- a fresh name; the socket replaces the file
  local workers, procs = startworkers(path, n)
  local srv = assert(sockit.listen("127.0.0.1", port))
  print(("listening 127.0.0.1 %d"):format(select(2, srv:address())))
  io.stdout:flush()
  local served, turn = 0, 0
  while not count or served < count do
    local conn = srv:accept()
    if conn then
      turn = turn % n + 1
      assert(workers[turn]:sendfds("c", {conn}))
      conn:close()  -- the worker holds its own copy
      served = served + 1
    end
  end
  srv:close()
  for i = 1, n do
    workers[i]:close()
    procs[i]:close()
  end
end

if arg[1] == "worker" then
  worker(arg[2], arg[3])
else
  local port = math.tointeger(tonumber(arg[1] or "0")) or usage()
  local n = math.tointeger(tonumber(arg[2] or "2")) or usage()
  local count = arg[3] and (math.tointeger(tonumber(arg[3])) or usage())
  if n < 1 then usage() end
  listener(port, n, count)
end
