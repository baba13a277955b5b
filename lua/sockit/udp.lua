-- sockit.udp: datagram sockets (UDP over IPv4 and IPv6).

local core = require("sockit.core")
local stream = require("sockit.stream")
local util = require("sockit.util")
local wait = require("sockit.wait")

local math_type = math.type
local address = stream.address
local recvfrom, sendto = core.recvfrom, core.sendto
local once = wait.once

local MAXDATAGRAM = 65536  -- recv and recvfrom without a size

local methods = {}
local mt = {__index = methods, __name = "sockit.udp"}

local M = {}

local function check(self, fname)
  util.self(self, mt, fname, "socket")
end

local function checkdata(data, fname)
  if type(data) ~= "string" then
    util.argerror(1, fname, "string expected, got " ..
                  (data == nil and "nil" or type(data)))
  end
end

local function checksize(n, fname)
  if n == nil then return MAXDATAGRAM end
  return util.integer(n, 1, fname, 1)
end

-- the first address of a name for this socket's family, for datagrams
local function lookup(self, host, port)
  local list, msg, code = wait.resolve(host, port,
    {type = "dgram", family = self.hint}, nil)
  if not list then return nil, msg, code end
  return list[1].host, list[1].port
end

-- udp:sendto(data, host, port) -> bytes sent; host may be a name, port a
-- service name
function methods:sendto(data, host, port)
  -- checks inline where they pass: this runs once per datagram
  if getmetatable(self) ~= mt or self.closed then check(self, "sendto") end
  if type(data) ~= "string" then checkdata(data, "sendto") end
  if type(host) ~= "string" then util.string(host, 2, "sendto") end
  local numeric = math_type(port) == "integer" and port >= 0 and port <= 65535
  if not numeric then util.port(port, 3, "sendto") end
  local timeout = self.timeout
  if numeric then
    local n, msg, code = once(self.socket, "w", sendto, timeout, data, host, port)
    if n or code ~= "EAI_NONAME" then return n, msg, code end
  end
  local h, p, code = lookup(self, host, port)
  if not h then return nil, p, code end
  return once(self.socket, "w", sendto, timeout, data, h, p)
end

-- IPv4 senders reach a dual-stack socket as ::ffff:a.b.c.d
local function unmapped(data, host, ...)
  if data == nil then return data, host, ... end
  return data, util.host(host), ...
end

-- udp:recvfrom([n]) -> data, host, port [, true when the datagram was
-- longer than n and was cut]
function methods:recvfrom(n)
  if getmetatable(self) ~= mt or self.closed then check(self, "recvfrom") end
  if math_type(n) ~= "integer" or n < 1 then n = checksize(n, "recvfrom") end
  if self.dual then
    return unmapped(once(self.socket, "r", recvfrom, self.timeout, n))
  end
  return once(self.socket, "r", recvfrom, self.timeout, n)
end

-- udp:send(data) -> bytes sent, to the peer fixed by opts.connect
function methods:send(data)
  check(self, "send")
  checkdata(data, "send")
  return once(self.socket, "w", core.send, self.timeout, data)
end

-- udp:recv([n]) -> data, from the peer fixed by opts.connect
function methods:recv(n)
  check(self, "recv")
  n = checksize(n, "recv")
  return once(self.socket, "r", core.recv, self.timeout, n)
end

-- udp:settimeout(t) -> udp
function methods:settimeout(t)
  check(self, "settimeout")
  self.timeout = util.timeout(t, 1, "settimeout")
  return self
end

-- udp:sockname() -> host, port
function methods:sockname()
  check(self, "sockname")
  return address(core.getsockname(self.socket))
end

-- udp:peer() -> host, port of the connected peer
function methods:peer()
  check(self, "peer")
  return address(core.getpeername(self.socket))
end

-- udp:close() -> true; closing twice is fine
function methods:close()
  if getmetatable(self) ~= mt then check(self, "close") end
  return wait.close(self)
end

mt.__close = function(self) methods.close(self) end

mt.__tostring = function(self)
  if self.closed then return "sockit.udp (closed)" end
  return ("sockit.udp (fd %d)"):format(core.fileno(self.socket))
end


-- the first address of host, port for a datagram socket of `family`
local function resolve(host, port, family, passive)
  local list, msg, code = wait.resolve(host, port,
    {type = "dgram", family = family, passive = passive}, nil)
  if not list then return nil, msg, code end
  return list[1]
end

-- A socket without a family given or implied by an address is IPv6 taking
-- IPv4 too, so it can send to both; IPv4 where there is no IPv6.
-- -> socket, the family hint for its lookups; or the fail tuple
local function socket(family)
  local sock, msg, code = core.socket(family or "inet6", "dgram")
  if not sock and not family and code == "EAFNOSUPPORT" then
    family = "inet"
    sock, msg, code = core.socket(family, "dgram")
  end
  if not sock then return nil, msg, code end
  if family then return sock, family end
  local ok
  ok, msg, code = core.setoption(sock, "ipv6only", false)
  if not ok then
    core.close(sock)
    return nil, msg, code
  end
  return sock, nil
end

-- bind, then connect, as opts say
local function setup(sock, bind, peer)
  local ok, msg, code = true, nil, nil
  if bind then ok, msg, code = core.bind(sock, bind.host, bind.port) end
  if ok and peer then
    ok, msg, code = core.connect(sock, peer.host, peer.port)
  end
  return ok, msg, code
end

-- open(family, bind, connect) -> udp or the fail tuple; bind and connect
-- are {host, port} or nil, checked by the caller
function M.open(family, bind, connect)
  local peer, local_, msg, code
  if connect then
    peer, msg, code = resolve(connect[1], connect[2], family, false)
    if not peer then return nil, msg, code end
    family = family or peer.family
  end
  if bind and bind[1] == "*" then
    local_ = {host = "*", port = bind[2]}
    if math_type(bind[2]) ~= "integer" then
      local a
      a, msg, code = resolve(nil, bind[2], "inet", true)
      if not a then return nil, msg, code end
      local_.port = a.port
    end
  elseif bind then
    local_, msg, code = resolve(bind[1], bind[2], family, true)
    if not local_ then return nil, msg, code end
    family = family or local_.family
  end
  local sock, hint
  sock, hint, code = socket(family)
  if not sock then return nil, hint, code end
  local ok
  ok, msg, code = setup(sock, local_, peer)
  if not ok then
    core.close(sock)
    return nil, msg, code
  end
  return setmetatable({socket = sock, closed = false, timeout = nil,
                       hint = hint, dual = hint == nil}, mt)
end

M.metatable = mt

return M
