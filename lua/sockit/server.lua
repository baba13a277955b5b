-- sockit.server: listening sockets (TCP and Unix) and the Server object.

local compat = require("sockit.compat")
local core = require("sockit.core")
local loop = require("sockit.loop")
local object = require("sockit.object")
local stream = require("sockit.stream")
local util = require("sockit.util")
local wait = require("sockit.wait")

local methods, mt, check = object.class("sockit.server", "server",
  {"settimeout", "gettimeout", "setoption", "getoption"})

local M = {}

-- new(sock, opts) -> a server owning the listening sock; opts.nodelay,
-- opts.maxline and opts.timeout apply to the streams it accepts
local function new(sock, opts)
  local tcp = core.getoption(sock, "family") ~= "unix"
  return setmetatable({socket = sock, closed = false, timeout = nil,
                       nodelay = tcp and opts.nodelay ~= false,
                       maxline = opts.maxline,
                       streamtimeout = util.timeout(opts.timeout)}, mt)
end

-- server:accept() -> stream, host, port / stream, path
function methods:accept()
  check(self, "accept")
  local sock, host, port = wait.once(self.socket, core.accept, self.timeout)
  if not sock then return nil, host, port end
  local s = stream.new(sock, self.streamtimeout, self.maxline)
  if port == nil then return s, host end
  -- a refused option leaves the connection as usable as before
  if self.nodelay then core.setoption(sock, "nodelay", true) end
  return s, util.host(host), port
end

-- server:address() -> host, port / path
function methods:address()
  check(self, "address")
  return object.address(core.getsockname(self.socket))
end


---------------------------------------------------------------- serve

-- accept failures that say nothing about the listening socket: the next
-- connection may well do
local retry = {ECONNABORTED = true, EPROTO = true, EPERM = true,
               EINTR = true, ETIMEDOUT = true, EAGAIN = true}

-- failures for want of descriptors or memory: the listener stays
-- readable, so waiting for it would spin; pause instead
local starved = {EMFILE = true, ENFILE = true, ENOBUFS = true,
                 ENOMEM = true}

-- accepts until the server closes, a task per connection
local function acceptor(self, handler)
  local pause = 0.01
  while not self.closed do
    local s, host, port = methods.accept(self)
    if s then
      loop.closing(loop.spawn(handler, s, host, port), s)
      pause = 0.01
    elseif port == "ECANCELED" then
      return
    elseif starved[port] then
      loop.sleep(pause)
      if pause < 1 then pause = pause * 2 end
    elseif not retry[port] then
      error(("sockit.serve: accept failed: %s (%s)"):format(host, port), 0)
    end
  end
end

-- serve(server, handler) -> server, with a task accepting its clients:
-- each connection gets a task calling handler(stream, host, port), and
-- its stream closes when the handler returns or raises
function M.serve(self, handler)
  loop.spawn(acceptor, self, handler)
  return self
end


-- bind and listen a new socket of `family`; v6only sets ipv6only when
-- not nil. -> socket or the fail tuple
local function open(family, host, port, opts, v6only)
  local sock, msg, code = core.socket(family, "stream")
  if not sock then return nil, msg, code end
  local ok = true
  if opts.reuseaddr ~= false then
    ok, msg, code = core.setoption(sock, "reuseaddr", true)
  end
  if ok and v6only ~= nil then
    ok, msg, code = core.setoption(sock, "ipv6only", v6only)
  end
  if ok then ok, msg, code = core.bind(sock, host, port) end
  if ok then ok, msg, code = core.listen(sock, opts.backlog) end
  if ok then return sock end
  core.close(sock)
  return nil, msg, code
end

-- the port number of a service name ("http", "8080")
local function portnumber(port)
  if compat.mathtype(port) == "integer" then return port end
  local list, msg, code = util.lookup(nil, port, core.getaddrinfo(nil, port,
    {type = "stream", passive = true, family = "inet"}))
  if not list then return nil, msg, code end
  return list[1].port
end

-- "*": IPv6 taking IPv4 clients too, or IPv4 where there is no IPv6
local function wildcard(port, opts, family)
  if family then
    return open(family, "*", port, opts, family == "inet6" or nil)
  end
  local sock, msg, code = open("inet6", "*", port, opts, false)
  if sock or (code ~= "EAFNOSUPPORT" and code ~= "EADDRNOTAVAIL") then
    return sock, msg, code
  end
  return open("inet", "*", port, opts)
end

-- listen(host, port, opts, family) -> server or the fail tuple;
-- the arguments are checked by the caller
function M.listen(host, port, opts, family)
  local sock, msg, code
  if host == "*" then
    port, msg, code = portnumber(port)
    if not port then return nil, msg, code end
    sock, msg, code = wildcard(port, opts, family)
  else
    local list
    list, msg, code = util.lookup(host, port, wait.resolve(host, port,
      {type = "stream", passive = true, family = family}, nil))
    if not list then return nil, msg, code end
    for _, a in ipairs(list) do
      sock, msg, code = open(a.family, a.host, a.port, opts)
      if sock then break end
    end
  end
  if not sock then return nil, msg, code end
  return new(sock, opts)
end

-- A stale socket file refuses connections; a live server answers (or is
-- busy: EAGAIN) and keeps its file.
local function removestale(path)
  local probe = core.socket("unix", "stream")
  if not probe then return end
  core.settimeout(probe, 0)
  local _, _, code = core.connect(probe, path)
  core.close(probe)
  if code == "ECONNREFUSED" then os.remove(path) end
end

-- listen_unix(path, opts) -> server or the fail tuple
function M.listen_unix(path, opts)
  if opts.unlink and path:byte(1) ~= 0 then removestale(path) end
  local sock, msg, code = core.socket("unix", "stream")
  if not sock then return nil, msg, code end
  local ok
  ok, msg, code = core.bind(sock, path)
  if ok then ok, msg, code = core.listen(sock, opts.backlog) end
  if not ok then
    core.close(sock)
    return nil, msg, code
  end
  return new(sock, opts)
end

return M
