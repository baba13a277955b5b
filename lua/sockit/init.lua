-- sockit: sockets for Lua scripts, on top of sockit.core.
--
--   local sockit = require("sockit")
--   local conn = assert(sockit.connect("example.org", 80, {timeout = 10}))
--   conn:write("HEAD / HTTP/1.0\r\nHost: example.org\r\n\r\n")
--   print(conn:read("l"))
--
-- Network failures return nil, message, code (code as "ECONNREFUSED");
-- wrong arguments raise.

local core = require("sockit.core")
local loop = require("sockit.loop")
local server = require("sockit.server")
local stream = require("sockit.stream")
local udp = require("sockit.udp")
local util = require("sockit.util")
local wait = require("sockit.wait")

local sockit = {}

sockit._VERSION = core._VERSION

-- the names each options table takes; any other raises
local STREAM = util.names({"timeout", "maxline"})
local CONNECT = util.names({"timeout", "maxline", "family", "nodelay", "bind"})
local LISTEN = util.names({"timeout", "maxline", "family", "nodelay",
                           "backlog", "reuseaddr"})
local LISTEN_UNIX = util.names({"timeout", "maxline", "backlog", "unlink"})
local UDP = util.names({"family", "bind", "connect"})

-- the options a stream takes: timeout (seconds, nil blocks) and maxline
local function streamopts(opts, arg, fname)
  local maxline = util.option(opts, "maxline", "integer", arg, fname)
  if maxline and maxline < 1 then
    util.argerror(arg, fname, "option 'maxline': value out of range")
  end
  local timeout = util.option(opts, "timeout", "number", arg, fname)
  return util.timeout(timeout, arg, fname), maxline
end

-- the options of connect and connect_unix: timeout 0 is an error there
local function connectopts(opts, arg, fname)
  local timeout, maxline = streamopts(opts, arg, fname)
  if timeout == 0 then
    util.argerror(arg, fname, "option 'timeout': must be nil or above 0")
  end
  return timeout, maxline
end

-- resolve(host, service, hints, deadline) -> list of addresses, or the
-- fail tuple naming what was looked up
local function resolve(host, service, hints, deadline)
  return util.lookup(host, service,
                     wait.resolve(host, service, hints, deadline))
end

-- one attempt to connect sock to address a, bound first to `bind` ({host,
-- port} or nil) -> true or the fail tuple
local function attempt(sock, a, nodelay, bind, deadline)
  local ok, msg, code = true, nil, nil
  if nodelay ~= false then
    ok, msg, code = core.setoption(sock, "nodelay", true)
  end
  if ok and bind then
    -- the local address, by name or number, in the family of this attempt
    local list
    list, msg, code = resolve(bind[1], bind[2],
      {type = "stream", family = a.family, passive = true}, deadline)
    ok = nil
    if list then ok, msg, code = core.bind(sock, list[1].host, list[1].port) end
  end
  if ok then
    ok, msg, code = wait.call(sock, core.connect, deadline, a.host, a.port)
  end
  return ok, msg, code
end

-- sockit.connect(host, port [, opts]) -> stream, or the fail of the last
-- address tried. opts: timeout (one deadline for the lookup and every
-- attempt, then the stream's timeout), family, nodelay (default true),
-- bind = {host, port}, maxline.
function sockit.connect(host, port, opts)
  util.string(host, 1, "connect")
  port = util.port(port, 2, "connect")
  opts = util.opts(opts, 3, "connect", CONNECT)
  local timeout, maxline = connectopts(opts, 3, "connect")
  local family = util.family(opts, 3, "connect")
  local nodelay = util.option(opts, "nodelay", "boolean", 3, "connect")
  local bind = opts.bind
  if bind ~= nil then bind = {util.address(bind, 3, "connect", "bind")} end
  local deadline = wait.deadline(timeout)
  local list, msg, code = resolve(host, port,
    {type = "stream", family = family}, deadline)
  if not list then return nil, msg, code end
  for _, a in ipairs(list) do
    local sock
    sock, msg, code = core.socket(a.family, "stream")
    if sock then
      local ok
      ok, msg, code = attempt(sock, a, nodelay, bind, deadline)
      if ok then return stream.new(sock, timeout, maxline) end
      core.close(sock)
      -- the next address would fail the same way
      if deadline and core.monotime() >= deadline then break end
    end
  end
  return nil, msg, code
end

-- sockit.connect_unix(path [, opts]) -> stream; opts: timeout, maxline
function sockit.connect_unix(path, opts)
  util.path(path, 1, "connect_unix")
  opts = util.opts(opts, 2, "connect_unix", STREAM)
  local timeout, maxline = connectopts(opts, 2, "connect_unix")
  local sock, msg, code = core.socket("unix", "stream")
  if not sock then return nil, msg, code end
  local ok
  ok, msg, code = wait.call(sock, core.connect, wait.deadline(timeout), path)
  if not ok then
    core.close(sock)
    return nil, msg, code
  end
  return stream.new(sock, timeout, maxline)
end

-- the options of listen and listen_unix (argument arg), checked and as
-- server.listen takes them
local function serveropts(opts, arg, fname)
  local backlog = util.option(opts, "backlog", "integer", arg, fname)
  if backlog and backlog < 0 then
    util.argerror(arg, fname, "option 'backlog': value out of range")
  end
  local timeout, maxline = streamopts(opts, arg, fname)
  return {backlog = backlog, timeout = timeout, maxline = maxline,
          nodelay = util.option(opts, "nodelay", "boolean", arg, fname),
          reuseaddr = util.option(opts, "reuseaddr", "boolean", arg, fname),
          unlink = util.option(opts, "unlink", "boolean", arg, fname)}
end

-- sockit.listen(host, port [, opts]) -> server. host "*" is every
-- address, IPv6 and IPv4; port 0 picks a free port. opts: backlog,
-- family, reuseaddr (default true), nodelay, maxline and timeout for the
-- accepted streams.
function sockit.listen(host, port, opts)
  util.string(host, 1, "listen")
  port = util.port(port, 2, "listen")
  opts = util.opts(opts, 3, "listen", LISTEN)
  return server.listen(host, port, serveropts(opts, 3, "listen"),
                       util.family(opts, 3, "listen"))
end

-- sockit.listen_unix(path [, opts]) -> server. opts: backlog, maxline,
-- timeout, unlink (remove a stale socket file first)
function sockit.listen_unix(path, opts)
  util.path(path, 1, "listen_unix")
  opts = util.opts(opts, 2, "listen_unix", LISTEN_UNIX)
  return server.listen_unix(path, serveropts(opts, 2, "listen_unix"))
end

-- sockit.udp([opts]) -> datagram socket. opts: bind = {host, port},
-- connect = {host, port}, family
function sockit.udp(opts)
  opts = util.opts(opts, 1, "udp", UDP)
  local family = util.family(opts, 1, "udp")
  local bind, peer = opts.bind, opts.connect
  if bind ~= nil then bind = {util.address(bind, 1, "udp", "bind")} end
  if peer ~= nil then peer = {util.address(peer, 1, "udp", "connect")} end
  return udp.open(family, bind, peer)
end

-- sockit.stream(sock [, opts]) -> stream owning sock, a connected
-- sockit.core socket; opts: timeout, maxline
function sockit.stream(sock, opts)
  local t = sock ~= nil and core.type(sock)
  if not t then
    util.argerror(1, "stream", "sockit.socket expected, got " .. type(sock))
  elseif t ~= "socket" then
    util.argerror(1, "stream", "attempt to use a closed socket")
  end
  opts = util.opts(opts, 2, "stream", STREAM)
  return stream.new(sock, streamopts(opts, 2, "stream"))
end


---------------------------------------------------------------- scheduler

-- sockit.spawn(fn, ...) -> task, a coroutine that runs fn(...) once
-- sockit.run runs; inside it, sockit calls that would block let the other
-- tasks run instead
sockit.spawn = loop.spawn

-- sockit.run([onerror]) -> true once no task is left. A task's error is
-- raised from here with the task's traceback, unless onerror(err, task,
-- traceback) is given.
sockit.run = loop.run

-- sockit.sleep(s) -> true; in a task, the other tasks run meanwhile
sockit.sleep = loop.sleep

-- sockit.pcall(f, ...) -> true, ... | false, err: pcall, inside which a
-- task may wait on every Lua version (plain Lua 5.1's pcall cannot yield)
sockit.pcall = loop.pcall

-- sockit.serve(host, port, handler [, opts]) -> server, accepting in a
-- task: each client gets a task calling handler(stream, host, port), and
-- its stream closes when the handler returns or raises. opts as listen.
-- Closing the server stops the accepting.
function sockit.serve(host, port, handler, opts)
  util.string(host, 1, "serve")
  port = util.port(port, 2, "serve")
  if not loop.callable(handler) then
    util.argerror(3, "serve", "function expected, got " ..
                  (handler == nil and "no value" or type(handler)))
  end
  opts = util.opts(opts, 4, "serve", LISTEN)
  local srv, msg, code = server.listen(host, port,
    serveropts(opts, 4, "serve"), util.family(opts, 4, "serve"))
  if not srv then return nil, msg, code end
  return server.serve(srv, handler)
end

return sockit
