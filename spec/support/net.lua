-- Loopback sockets made with sockit.core, and moving bytes over them.
--
--   local net = require("support.net")
--   local c, a = net.tcppair()

local env = require("support.env")

local net = {}

local function family(host)
  return host:find(":") and "inet6" or "inet"
end

-- A port that nothing listens on right now (bound, then closed).
function net.freeport(host)
  host = host or "127.0.0.1"
  local s = env.core().socket(family(host), "stream")
  assert(s:bind(host, 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- A port that is free on both 127.0.0.1 and ::1 right now.
function net.dual_stack_port()
  local core = env.core()
  for _ = 1, 50 do
    local s6 = core.socket("inet6", "stream")
    assert(s6:bind("::1", 0))
    local _, port = s6:getsockname()
    local s4 = core.socket("inet", "stream")
    local ok = s4:bind("127.0.0.1", port)
    s4:close()
    s6:close()
    if ok then return port end
  end
  error("no port free on both 127.0.0.1 and ::1")
end

-- A listening TCP socket on host (default 127.0.0.1), port 0: sock, port.
function net.listener(host, backlog)
  host = host or "127.0.0.1"
  local s = env.core().socket(family(host), "stream")
  assert(s:bind(host, 0))
  assert(s:listen(backlog))
  local _, port = s:getsockname()
  return s, port
end

-- A connected TCP pair over loopback: client, server side.
function net.tcppair(host)
  host = host or "127.0.0.1"
  local l, port = net.listener(host)
  local c = env.core().socket(family(host), "stream")
  assert(c:connect(host, port))
  local a = assert(l:accept())
  l:close()
  return c, a
end

-- s, ... as given, s closed by `defer` (the test's `finally`) unless nil:
-- for a call that gives an object or the fail tuple.
function net.closing(defer, s, ...)
  if s then defer(function() s:close() end) end
  return s, ...
end

-- A socketpair that `defer` (the test's `finally`) closes: a, b.
function net.pair(defer, stype)
  local a, b = env.core().socketpair(stype)
  defer(function() a:close(); b:close() end)
  return a, b
end

-- A backlog-0 listener on host (default 127.0.0.1) with a full queue (new
-- connects stay pending): listener, port, fill.
function net.full_listener(defer, tries, pause, host)
  host = host or "127.0.0.1"
  local core = env.core()
  local l, port = net.listener(host, 0)
  local fill = {}
  defer(function()
    for _, c in ipairs(fill) do c:close() end
    l:close()
  end)
  for _ = 1, tries do
    local c = core.socket(family(host), "stream"):settimeout(0)
    fill[#fill + 1] = c
    local ok, _, code = c:connect(host, port)
    assert(ok or code == "EINPROGRESS", code)
    -- a connection the listener took completes at once over loopback
    if not c:wait("w", pause) then return l, port, fill end
  end
  error("the accept queue of a backlog-0 listener never filled")
end

-- Reads exactly n bytes from a blocking socket (or fewer at end of stream).
function net.recvall(s, n)
  local parts, got = {}, 0
  while got < n do
    local data, err, code = s:recv(n - got)
    if not data then return nil, err, code end
    if data == "" then break end
    parts[#parts + 1] = data
    got = got + #data
  end
  return table.concat(parts)
end

-- Sends all of data on a blocking socket.
function net.sendall(s, data)
  local i = 1
  while i <= #data do
    local n, err, code = s:send(data, i)
    if not n then return nil, err, code end
    i = i + n
  end
  return true
end

-- `n` bytes of varied content (every byte value, zeros included).
function net.bytes(n, seed)
  seed = seed or 7
  local t = {}
  for i = 1, 256 do t[i] = string.char((i * 31 + seed) % 256) end
  local block = table.concat(t)
  return block:rep(math.floor(n / 256) + 1):sub(1, n)
end

return net
