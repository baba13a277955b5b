-- unix_echo.lua: a line echo server on a Unix domain socket, and its client.
--
--   lua5.4 examples/unix_echo.lua server PATH [--count N]
--   lua5.4 examples/unix_echo.lua client PATH LINE...
--
-- Unix sockets connect processes on the same machine through a path in the
-- file system. The server prints "listening PATH" when it is ready, answers
-- each line with the same line, and exits after N clients with --count N
-- (it removes the socket file when it stops). The client sends each LINE,
-- prints each answer, and exits 0 when all came back equal.

local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local function usage()
  io.stderr:write("usage: unix_echo.lua server PATH [--count N]\n",
                  "       unix_echo.lua client PATH LINE...\n")
  os.exit(2)
end

local function serve(conn)
  -- lines() raises on an error, like io.lines; pcall keeps the server up.
  local ok, err = pcall(function()
    for line in conn:lines("L") do
      assert(conn:write(line))
    end
  end)
  if not ok then io.stderr:write("unix_echo: ", tostring(err), "\n") end
end

local function server(path, argv)
  local count
  if argv[3] == "--count" then
    count = integer(argv[4]) or usage()
  elseif argv[3] then
    usage()
  end

  -- unlink = true removes a socket file a previous run left behind.
  local srv = assert(sockit.listen_unix(path, { unlink = true }))
  print("listening " .. path)
  io.stdout:flush()
  local served = 0
  while not count or served < count do
    local conn = srv:accept()
    if conn then
      serve(conn)
      conn:close()
      served = served + 1
    end
  end
  srv:close()
  os.remove(path)
end

local function client(path, argv)
  if #argv < 3 then usage() end
  local conn, err, code = sockit.connect_unix(path)
  if not conn then
    io.stderr:write("unix_echo: cannot connect to ", path, ": ", err, " (", code, ")\n")
    os.exit(1)
  end
  local status = 0
  for i = 3, #argv do
    assert(conn:write(argv[i], "\n"))
    local answer
    answer, err, code = conn:read("l")
    if answer == argv[i] then
      print(answer)
    else
      local why = answer and "answer differs" or ("%s (%s)"):format(err, code)
      io.stderr:write("unix_echo: ", why, "\n")
      status = 1
    end
  end
  conn:close()
  os.exit(status)
end

local mode, path = arg[1], arg[2]
if mode == "server" and path then
  server(path, arg)
elseif mode == "client" and path then
  client(path, arg)
else
  usage()
end
