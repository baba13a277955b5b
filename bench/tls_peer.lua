-- tls_peer.lua: the Lua clients of the TLS benchmarks, sockit's and
-- LuaSec's (Debian's lua-sec), against bench/tls_baseline.c's server.
--
--   lua5.4 bench/tls_peer.lua sink sockit|luasec PORT BYTES CAFILE
--   lua5.4 bench/tls_peer.lua handshake sockit|luasec PORT COUNT CAFILE
--
-- Each prints "result key=value..." and exits non-zero if it saw the wrong
-- amount of data. Both check the server's certificate against CAFILE;
-- sockit also checks that it names 127.0.0.1 (LuaSec has no such check).

local CHUNK = 65536

local role, lib, port, count, cafile = arg[1], arg[2], tonumber(arg[3]),
  tonumber(arg[4]), arg[5]
local monotime = require("sockit.core").monotime

local clients = {}

function clients.sockit()
  local sockit = require("sockit")
  local ctx = require("sockit.tls").context({cafile = cafile})
  local function connect()
    return assert(sockit.connect("127.0.0.1", port, {tls = ctx}))
  end
  -- bytes until the end of the stream
  local function drain(conn)
    local total = 0
    while true do
      local data, err = conn:read(CHUNK)
      if not data then assert(not err, err) break end
      total = total + #data
    end
    return total
  end
  return connect, drain
end

function clients.luasec()
  local socket, ssl = require("socket"), require("ssl")
  local ctx = assert(ssl.newcontext({mode = "client", protocol = "any",
    verify = "peer", cafile = cafile, options = {"all"}}))
  local function connect()
    local tcp = assert(socket.tcp())
    assert(tcp:connect("127.0.0.1", port))
    tcp:setoption("tcp-nodelay", true)
    local conn = assert(ssl.wrap(tcp, ctx))
    assert(conn:dohandshake())
    return conn
  end
  local function drain(conn)
    local total = 0
    while true do
      local data, err, partial = conn:receive(CHUNK)
      if not data then
        assert(err == "closed", err)
        return total + #partial
      end
      total = total + #data
    end
  end
  return connect, drain
end

local connect, drain = assert(clients[lib], "unknown library")()
local t0, c0 = monotime(), os.clock()
if role == "sink" then
  local conn = connect()
  local total = drain(conn)
  conn:close()
  io.write(("result bytes=%d wall=%.9f cpu=%.9f\n"):format(total,
    monotime() - t0, os.clock() - c0))
  os.exit(total == count and 0 or 1)
elseif role == "handshake" then
  for _ = 1, count do connect():close() end
  io.write(("result handshakes=%d wall=%.9f cpu=%.9f\n"):format(count,
    monotime() - t0, os.clock() - c0))
else
  io.stderr:write("usage: see the top of bench/tls_peer.lua\n")
  os.exit(2)
end
