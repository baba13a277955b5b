-- echo_server.lua: a TCP server that sends back every byte it receives.
--
--   lua5.4 examples/echo_server.lua [--host H] [--port P] [--count N]
--
-- Its first line on stdout is "listening <host> <port>" (use --port 0 to let
-- the system pick a free port). It serves one client at a time, and exits
-- after N clients with --count N. Try it with:
--
--   lua5.4 examples/echo_server.lua --port 7007 &
--   socat - TCP:127.0.0.1:7007

local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local function parse_args(argv)
  local opts = { host = "127.0.0.1", port = 7007 }
  for i = 1, #argv, 2 do
    local name, value = argv[i], argv[i + 1]
    if name == "--host" and value then
      opts.host = value
    elseif (name == "--port" or name == "--count") and integer(value) then
      opts[name:sub(3)] = integer(value)
    else
      io.stderr:write("usage: echo_server.lua [--host H] [--port P] [--count N]\n")
      os.exit(2)
    end
  end
  return opts
end

-- Copies whatever arrives back to the client until it closes its side.
-- read_some returns as soon as some bytes are there, so an interactive
-- client sees its echo at once, without waiting for a full buffer.
local function echo(conn)
  while true do
    local data, err, code = conn:read_some(16384)
    if not data then return err, code end          -- nil, nil at end of stream
    local ok
    ok, err, code = conn:write(data)
    if not ok then return err, code end
  end
end

local function main(argv)
  local opts = parse_args(argv)
  local server = assert(sockit.listen(opts.host, opts.port))
  local host, port = server:address()
  print(("listening %s %d"):format(host, port))
  io.stdout:flush()

  local served = 0
  while not opts.count or served < opts.count do
    local conn, peer, peer_port = server:accept()
    if conn then
      local err, code = echo(conn)
      if err then
        io.stderr:write("echo_server: ", peer, " ", peer_port, ": ", err, " (", code, ")\n")
      end
      conn:close()
      served = served + 1
    else
      io.stderr:write("echo_server: accept: ", tostring(peer), "\n")
    end
  end
  server:close()
end

main(arg)
