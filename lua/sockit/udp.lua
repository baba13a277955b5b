-- sockit.udp: datagram sockets (UDP over IPv4 and IPv6).

local core = require("sockit.core")
local object = require("sockit.object")
local util = require("sockit.util")
local wait = require("sockit.wait")

local math_type = require("sockit.compat").mathtype
local recvfrom, sendto = core.recvfrom, core.sendto
local once, intask, hold, holds = wait.once, wait.intask, wait.hold,
  wait.held

local MAXDATAGRAM = 65536  -- recv and recvfrom without a size

local methods, mt, check = object.class("sockit.udp", "socket",
  {"settimeout", "gettimeout", "setoption", "getoption", "peer", "sockname"})

local M = {}

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

-- held(self) -> true outside a task, the socket's timeout then the
-- object's: wait.hold sets it only when it is not the one the socket
-- holds already, so a loop of recvfrom or sendto makes one C call per
-- datagram, not two (with wait.once, recvfrom was 0.75x LuaSocket's,
-- make bench). Inside a task wait.once makes the call.
local function held(self)
  if intask() then return false end
  local sock, timeout = self.socket, self.timeout
  if holds[sock] ~= (timeout or -1) then hold(sock, timeout) end
  return true
end

-- call(self, dir, op, ...) -> op(socket, ...) with the object's timeout
local function call(self, dir, op, ...)
  if held(self) then return op(self.socket, ...) end
  return once(self.socket, dir, op, self.timeout, ...)
end

-- the first value of a call, or its fail tuple
local function first(v, msg, code)
  if v ~= nil then return v end
  return nil, msg, code
end

-- the first address of a name for this socket's family, for datagrams
local function lookup(self, host, port)
  local list, msg, code = util.lookup(host, port, wait.resolve(host, port,
    {type = "dgram", family = self.family}, nil))
  if not list then return nil, msg, code end
  return list[1].host, list[1].port
end

-- addressed(self, fname, op, data, host, port) -> op(socket, data, host,
-- port) with the object's timeout, for the method fname: host a numeric
-- address or a name, port a number or a service name, looked up when
-- they are names
local function addressed(self, fname, op, data, host, port)
  if type(host) ~= "string" then util.string(host, 2, fname) end
  if math_type(port) ~= "integer" or port < 0 or port > 65535 then
    port = util.port(port, 3, fname)
  end
  if math_type(port) == "integer" then
    local n, msg, code = call(self, "w", op, data, host, port)
    if n then return n end
    if code ~= "EAI_NONAME" then return nil, msg, code end
  end
  local h, p, code = lookup(self, host, port)
  if not h then return nil, p, code end
  return first(call(self, "w", op, data, h, p))
end

-- udp:sendto(data, host, port) -> bytes sent; host may be a name, port a
-- service name
function methods:sendto(data, host, port)
  -- checks and a numeric address inline where they pass: this runs once
  -- per datagram, and addressed alone costs 270 more instructions of
  -- 6,330 (callgrind)
  if getmetatable(self) ~= mt or self.closed then check(self, "sendto") end
  if type(data) ~= "string" then checkdata(data, "sendto") end
  if type(host) == "string" and math_type(port) == "integer" and port >= 0
     and port <= 65535 then
    local n, msg, code = call(self, "w", sendto, data, host, port)
    if n then return n end
    if code ~= "EAI_NONAME" then return nil, msg, code end
  end
  return addressed(self, "sendto", sendto, data, host, port)
end

-- udp:recvfrom([n]) -> data, host, port [, true when the datagram was
-- longer than n and was cut]; IPv4 senders reach a dual-stack socket as
-- ::ffff:a.b.c.d and are shown as a.b.c.d
function methods:recvfrom(n)
  if getmetatable(self) ~= mt or self.closed then check(self, "recvfrom") end
  if math_type(n) ~= "integer" or n < 1 then n = checksize(n, "recvfrom") end
  local data, host, port, cut
  if held(self) then data, host, port, cut = recvfrom(self.socket, n)
  else data, host, port, cut = once(self.socket, "r", recvfrom, self.timeout, n)
  end
  if data == nil then return nil, host, port end
  if self.dualstack then host = util.host(host) end
  if cut then return data, host, port, cut end
  return data, host, port
end

-- udp:send(data) -> bytes sent, to the peer fixed by opts.connect
function methods:send(data)
  check(self, "send")
  checkdata(data, "send")
  return first(call(self, "w", core.send, data))
end

-- udp:recv([n]) -> data, from the peer fixed by opts.connect
function methods:recv(n)
  check(self, "recv")
  n = checksize(n, "recv")
  return first(call(self, "r", core.recv, n))
end

-- core.sendmmsg, its raise told as sendmany's
local function sendmmsg(sock, list, host, port)
  return object.reraise("sendmany", pcall(core.sendmmsg, sock, list, host,
                                          port))
end

-- udp:sendmany(list) -> datagrams sent: each entry of the list (1 to
-- 1024 of them) is {data, host, port}, host a numeric address, or {data}
-- on a connected socket; one system call sends them in order, and may
-- send only the first ones when the socket's buffer is full.
-- udp:sendmany(list, host, port) -> the same for a list of strings, all
-- to host, port (names as sendto takes them); udp:sendmany(list) of
-- strings once connected
function methods:sendmany(list, host, port)
  check(self, "sendmany")
  if host == nil and port == nil then
    return first(call(self, "w", sendmmsg, list))
  end
  return addressed(self, "sendmany", sendmmsg, list, host, port)
end

local BATCH = getmetatable(core.batch(1, 1))
local recvmmsg = core.recvmmsg

-- udp:recvmany(max [, size]) -> list of {data, host, port} (cut = true
-- on a datagram longer than size, default 65536): at least one datagram,
-- at most max (1 to 1024), as many as one system call gives.
-- udp:recvmany(batch) -> count: the same into a sockit.batch, reused
-- from call to call, which keeps the datagrams in C until asked for
function methods:recvmany(max, size)
  if getmetatable(self) ~= mt or self.closed then check(self, "recvmany") end
  if getmetatable(max) == BATCH then
    return first(call(self, "r", recvmmsg, max, self.dualstack))
  end
  max = util.integer(max, 1, "recvmany", 1, 1024)
  if size ~= nil then size = util.integer(size, 2, "recvmany", 1, 65536) end
  local list, msg, code = call(self, "r", recvmmsg, max, size)
  if not list then return nil, msg, code end
  if self.dualstack then
    for i = 1, #list do list[i][2] = util.host(list[i][2]) end
  end
  return list
end


-- the first address of host, port for a datagram socket of `family`
local function resolve(host, port, family, passive)
  local list, msg, code = util.lookup(host, port, wait.resolve(host, port,
    {type = "dgram", family = family, passive = passive}, nil))
  if not list then return nil, msg, code end
  return list[1]
end

-- A socket without a family given or implied by an address is IPv6 taking
-- IPv4 too, so it can send to both; IPv4 where there is no IPv6.
-- -> socket, the family its lookups ask for (nil: either); or the fail
-- tuple
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

-- bind to the local address, then connect to the peer, as opts say
local function setup(sock, localaddr, peer)
  local ok, msg, code = true, nil, nil
  if localaddr then
    ok, msg, code = core.bind(sock, localaddr.host, localaddr.port)
  end
  if ok and peer then
    ok, msg, code = core.connect(sock, peer.host, peer.port)
  end
  return ok, msg, code
end

-- the local address of opts.bind {host, port}: "*" is the wildcard of
-- whatever family the socket gets, so only its port is resolved
local function localaddress(bind, family)
  if bind[1] ~= "*" then return resolve(bind[1], bind[2], family, true) end
  if math_type(bind[2]) == "integer" then return {host = "*", port = bind[2]} end
  local a, msg, code = resolve(nil, bind[2], "inet", true)
  if not a then return nil, msg, code end
  return {host = "*", port = a.port}
end

-- open(family, bind, connect) -> udp or the fail tuple; bind and connect
-- are {host, port} or nil, checked by the caller
function M.open(family, bind, connect)
  local peer, localaddr, msg, code
  if connect then
    peer, msg, code = resolve(connect[1], connect[2], family, false)
    if not peer then return nil, msg, code end
    family = family or peer.family
  end
  if bind then
    localaddr, msg, code = localaddress(bind, family)
    if not localaddr then return nil, msg, code end
    if bind[1] ~= "*" then family = family or localaddr.family end
  end
  local sock, lookupfamily
  sock, lookupfamily, code = socket(family)
  if not sock then return nil, lookupfamily, code end
  local ok
  ok, msg, code = setup(sock, localaddr, peer)
  if not ok then
    core.close(sock)
    return nil, msg, code
  end
  return setmetatable({socket = sock, closed = false, timeout = nil,
                       family = lookupfamily,
                       dualstack = lookupfamily == nil}, mt)
end

return M
