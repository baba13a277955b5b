-- udp_echo.lua: a UDP echo server and a client for it.
--
--   lua5.4 examples/udp_echo.lua server [--host H] [--port P] [--count N]
--   lua5.4 examples/udp_echo.lua client HOST PORT MESSAGE...
--
-- The server sends every datagram back to where it came from; its first line
-- on stdout is "listening <host> <port>", and with --count N it exits after
-- N datagrams. The client sends each MESSAGE as one datagram, waits for the
-- echo (two seconds at most, as UDP may lose datagrams) and prints it.
-- Exit status: 0 when every echo came back equal, 1 otherwise.

local core = require("sockit.core")
local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local MAX_DATAGRAM = 65535

local function usage()
  io.stderr:write("usage: udp_echo.lua server [--host H] [--port P] [--count N]\n",
                  "       udp_echo.lua client HOST PORT MESSAGE...\n")
  os.exit(2)
end

local function server(argv)
  local opts = { host = "127.0.0.1", port = 7007 }
  for i = 2, #argv, 2 do
    local name, value = argv[i], argv[i + 1]
    if name == "--host" and value then
      opts.host = value
    elseif (name == "--port" or name == "--count") and integer(value) then
      opts[name:sub(3)] = integer(value)
    else
      usage()
    end
  end

  -- The server uses sockit.core directly: a datagram socket, bound, then
  -- recvfrom/sendto, exactly as in C.
  local family = opts.host:find(":", 1, true) and "inet6" or "inet"
  local sock = core.socket(family, "dgram")
  assert(sock:bind(opts.host, opts.port))
  local host, port = sock:getsockname()
  print(("listening %s %d"):format(host, port))
  io.stdout:flush()

  local echoed = 0
  while not opts.count or echoed < opts.count do
    -- recvfrom tells who sent the datagram: the reply goes back there.
    local data, peer, peer_port = sock:recvfrom(MAX_DATAGRAM)
    if data then
      local ok, err, code = sock:sendto(data, peer, peer_port)
      if not ok then io.stderr:write("udp_echo: ", err, " (", code, ")\n") end
      echoed = echoed + 1
    else
      io.stderr:write("udp_echo: ", peer, " (", peer_port, ")\n")
    end
  end
  sock:close()
end

local function client(argv)
  local host, port = argv[2], integer(argv[3])
  if not host or not port or #argv < 4 then usage() end

  -- A connected UDP socket only receives datagrams from its peer, and a
  -- refused port shows up as ECONNREFUSED on the next recv.
  local udp = assert(sockit.udp({ connect = { host, port } }))
  udp:settimeout(2)
  local status = 0
  for i = 4, #argv do
    local ok, err, code = udp:send(argv[i])
    local reply
    if ok then reply, err, code = udp:recv(MAX_DATAGRAM) end
    if reply == argv[i] then
      print(reply)
    else
      io.stderr:write("udp_echo: ", reply and "echo differs" or err .. " (" .. code .. ")", "\n")
      status = 1
    end
  end
  udp:close()
  os.exit(status)
end

local mode = arg[1]
if mode == "server" then
  server(arg)
elseif mode == "client" then
  client(arg)
else
  usage()
end
