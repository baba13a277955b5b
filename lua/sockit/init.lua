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
local server = require("sockit.server")
local stream = require("sockit.stream")
local tlsopts = require("sockit.tlsopts")
local udp = require("sockit.udp")
local util = require("sockit.util")
local wait = require("sockit.wait")

local sockit = {}

sockit._VERSION = core._VERSION

-- the names each options table takes; any other raises
local STREAM = util.names({"timeout", "maxline"})
local CONNECT = util.names({"timeout", "maxline", "family", "nodelay", "bind",
                            "happy_eyeballs", "attempt_delay", "tls"})
local LISTEN = util.names({"timeout", "maxline", "family", "nodelay",
                           "backlog", "reuseaddr", "tls"})
local LISTEN_UNIX = util.names({"timeout", "maxline", "backlog", "unlink",
                                "tls"})
local UDP = util.names({"family", "bind", "connect"})
local SERVE = util.names({"timeout", "maxline", "family", "nodelay",
                          "backlog", "reuseaddr", "max", "onerror", "tls"})
local SERVE_UNIX = util.names({"timeout", "maxline", "backlog", "unlink",
                               "max", "onerror", "tls"})

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

-- the stream s, over TLS once its handshake is done by the deadline; or
-- the fail tuple, s closed
local function secure(s, ctx, host, deadline)
  stream.secure(s, ctx, util.host(host), 3, "connect")
  local ok, msg, code = stream.handshake(s, deadline)
  if ok then return s end
  s:close()
  return nil, msg, code
end

-- the options of each attempt of connect: nodelay, bind ({host, port} or
-- nil) and the delay between two attempts (nil: one at a time)
local function attemptopts(opts)
  local o = {nodelay = util.option(opts, "nodelay", "boolean", 3, "connect")}
  if opts.bind ~= nil then
    o.bind = {util.address(opts.bind, 3, "connect", "bind")}
  end
  local eyeballs = util.option(opts, "happy_eyeballs", "boolean", 3, "connect")
  local delay = util.option(opts, "attempt_delay", "number", 3, "connect")
  if delay and (delay ~= delay or delay < 0) then
    util.argerror(3, "connect", "option 'attempt_delay': value out of range")
  end
  if eyeballs ~= false then o.delay = delay or 0.25 end
  return o
end

-- sets sock up for an attempt on address a (nodelay, then bind, in the
-- family of the attempt) -> true or the fail tuple
local function prepare(sock, a, o, deadline)
  local ok, msg, code = true, nil, nil
  if o.nodelay ~= false then
    ok, msg, code = core.setoption(sock, "nodelay", true)
  end
  if ok and o.bind then
    local list
    list, msg, code = resolve(o.bind[1], o.bind[2],
      {type = "stream", family = a.family, passive = true}, deadline)
    ok = nil
    if list then ok, msg, code = core.bind(sock, list[1].host, list[1].port) end
  end
  return ok, msg, code
end

-- a socket for an attempt on address a -> sock or the fail tuple
local function opensocket(a, o, deadline)
  local sock, msg, code = core.socket(a.family, "stream")
  if not sock then return nil, msg, code end
  local ok
  ok, msg, code = prepare(sock, a, o, deadline)
  if ok then return sock end
  core.close(sock)
  return nil, msg, code
end

-- each address in turn, each attempt waiting up to the deadline -> the
-- connected socket, or the fail tuple of the last attempt
local function sequential(list, o, deadline)
  local msg, code
  for _, a in ipairs(list) do
    local sock, ok
    sock, msg, code = opensocket(a, o, deadline)
    if sock then
      ok, msg, code = wait.connect(sock, deadline, a.host, a.port)
      if ok then return sock end
      core.close(sock)
      -- the next address would fail the same way
      if deadline and core.monotime() >= deadline then break end
    end
  end
  return nil, msg, code
end

local function closeall(socks)
  for i = #socks, 1, -1 do
    core.close(socks[i])
    socks[i] = nil
  end
end

-- Looks at each pending attempt: a failed one closes, and the first that
-- connected leaves the list, the others closed. -> the winner or false,
-- and the failure of the last attempt that failed (else msg, code).
local function settle(pending, msg, code)
  local i = 1
  while pending[i] do
    local sock = pending[i]
    local ok, m, c = wait.connected(sock)
    if ok then
      table.remove(pending, i)
      closeall(pending)
      return sock
    elseif ok == nil then
      core.close(sock)
      table.remove(pending, i)
      msg, code = m, c
    else
      i = i + 1
    end
  end
  return false, msg, code
end

-- starts an attempt on address a -> true, sock once connected; false,
-- sock while it is pending; or the fail tuple
local function start(a, o, deadline)
  local sock, msg, code = opensocket(a, o, deadline)
  if not sock then return nil, msg, code end
  local ok
  ok, msg, code = wait.connect(sock, 0, a.host, a.port)
  if ok then return true, sock end
  if code == "EINPROGRESS" then return false, sock end
  core.close(sock)
  return nil, msg, code
end

-- RFC 8305, section 3: when the A answer comes first, the IPv4 addresses
-- wait this long for the AAAA one (its "Resolution Delay")
local RESOLUTION_DELAY = 0.05

-- The addresses of a connect as they come in: those of each family in
-- the resolver's order, how many of each were taken, the family taken
-- last, and the lookups still running (each with its family).
local function candidates(host, port, list)
  local c = {host = host, port = port, inet6 = {}, inet = {},
             taken = {inet6 = 0, inet = 0}, last = "inet", reqs = {},
             family = {}}
  for _, a in ipairs(list) do
    local fam = c[a.family == "inet6" and "inet6" or "inet"]
    fam[#fam + 1] = a
  end
  return c
end

-- RFC 8305, section 4: the families in turn, IPv6 first, addresses that
-- come in late joining the turns. -> the family of the next address, or
-- nil and maybe the time until which IPv4 waits for the AAAA answer
local function nextfamily(c, now)
  local fam = c.last == "inet" and "inet6" or "inet"
  if c.taken[fam] >= #c[fam] then fam = c.last end
  if c.taken[fam] >= #c[fam] then return nil end
  if fam == "inet" and c.hold then
    if now < c.hold then return nil, c.hold end
    c.hold = nil
  end
  return fam
end

local function take(c, fam)
  c.last = fam
  c.taken[fam] = c.taken[fam] + 1
  return c[fam][c.taken[fam]]
end

-- stops and forgets the lookup at index i of c.reqs
local function droplookup(c, i)
  local req = table.remove(c.reqs, i)
  wait.cancel(req)
  req:cancel()
  return req
end

-- takes in the lookups that have ended: their addresses, or their
-- failure; an A answer before the AAAA one starts the Resolution Delay
local function collect(c, now)
  local i = 1
  while c.reqs[i] do
    local list, msg, code = c.reqs[i]:result()
    if code == "EAGAIN" then
      i = i + 1
    else
      local fam = c.family[droplookup(c, i)]
      for _, a in ipairs(list or {}) do c[fam][#c[fam] + 1] = a end
      if not list then c.msg, c.code = msg, code end
      if fam == "inet6" then c.hold = nil
      elseif list and c.reqs[1] then c.hold = now + RESOLUTION_DELAY end
    end
  end
end

-- the end of a race: the attempts closed, the lookups stopped
local function finish(c, pending, ...)
  closeall(pending)
  while c.reqs[1] do droplookup(c, 1) end
  return ...
end

-- the failure of a race that ran out of addresses: the last attempt's,
-- or the lookups' when no attempt was made
local function exhausted(c, msg, code)
  if code then return nil, msg, code end
  return util.lookup(c.host, c.port, nil, c.msg, c.code)
end

-- at the deadline: the lookup timed out, or the attempts did
local function expired(c, tried)
  if tried then return wait.timedout() end
  return util.lookup(c.host, c.port, nil, nil, "ETIMEDOUT")
end

-- waits for a pending attempt to end or a lookup to, until wake -> true
-- or the fail tuple (ETIMEDOUT at wake)
local function waitsome(pending, reqs, wake)
  if reqs[1] == nil then return wait.writable(pending, wake) end
  local objs, dirs = {}, {}
  for i, sock in ipairs(pending) do objs[i], dirs[i] = sock, "w" end
  for _, req in ipairs(reqs) do
    objs[#objs + 1], dirs[#dirs + 1] = req, "r"
  end
  return wait.writable(objs, wake, dirs)
end

-- RFC 8305, sections 3 and 5: the next attempt starts o.delay seconds
-- after the previous one, or as soon as an attempt fails, while earlier
-- ones are still pending; addresses join as their lookups end; the first
-- to connect wins and the rest close. Every attempt ends at the one
-- deadline. -> the connected socket, or the fail tuple of the last
-- attempt (ETIMEDOUT at the deadline), or of the lookups. pending: the
-- attempts under way
local function attempts(c, pending, o, deadline)
  local tried = false
  local nextat, msg, code = 0, nil, nil
  while true do
    local now = core.monotime()
    if deadline and now >= deadline then
      return finish(c, pending, expired(c, tried))
    end
    collect(c, now)
    local fam, hold = nextfamily(c, now)
    if fam and (pending[1] == nil or now >= nextat) then
      tried = true
      local done, s, e = start(take(c, fam), o, deadline)
      if done then return finish(c, pending, s) end
      if done == false then
        pending[#pending + 1] = s
        nextat = core.monotime() + o.delay
      else
        msg, code, nextat = s, e, 0
      end
    elseif pending[1] == nil and c.reqs[1] == nil then
      return exhausted(c, msg, code)
    else
      local wake = deadline
      local at = fam and nextat or hold
      if at and not (deadline and deadline < at) then wake = at end
      local woke, m, e = waitsome(pending, c.reqs, wake)
      if not woke and e ~= "ETIMEDOUT" then
        return finish(c, pending, nil, m, e)
      end
      local n, sock = #pending
      sock, msg, code = settle(pending, msg, code)
      if sock then return finish(c, pending, sock) end
      if #pending < n then nextat = 0 end
    end
  end
end

-- attempts(c, {}, o, deadline); an error raised meanwhile (Ctrl-C) goes
-- on once the attempts under way are closed and the lookups stopped
local function race(c, o, deadline)
  local pending = {}
  local ok, sock, msg, code = wait.pcall(attempts, c, pending, o, deadline)
  if ok then return sock, msg, code end
  finish(c, pending)
  error(sock, 0)
end

-- RFC 8305, section 3: the AAAA lookup, then the A one, each on
-- core.resolve's threads, so that the attempts start with the first
-- answer -> candidates with both lookups running, or the fail tuple
local function lookups(host, port)
  local c = candidates(host, port, {})
  for _, fam in ipairs({"inet6", "inet"}) do
    local req, msg, code = core.resolve(host, port,
                                        {type = "stream", family = fam})
    if not req then
      return finish(c, {}, util.lookup(host, port, nil, msg, code))
    end
    c.reqs[#c.reqs + 1], c.family[req] = req, fam
  end
  return c
end

-- connect to a name of either family: a numeric address at once, else
-- the lookups of both families in the race -> socket or the fail tuple
local function eyeballs(host, port, o, deadline)
  local list, msg, code = core.getaddrinfo(host, port,
                                           {type = "stream", numeric = true})
  if list then
    if list[2] then return race(candidates(host, port, list), o, deadline) end
    return sequential(list, o, deadline)
  end
  if code ~= "EAI_NONAME" then
    return util.lookup(host, port, nil, msg, code)
  end
  local c
  c, msg, code = lookups(host, port)
  if not c then return nil, msg, code end
  return race(c, o, deadline)
end

-- sockit.connect(host, port [, opts]) -> stream, or the fail of the last
-- address tried. opts: timeout (one deadline for the lookup and every
-- attempt, then the stream's timeout), family, nodelay (default true),
-- bind = {host, port}, maxline, happy_eyeballs (default true: RFC 8305's
-- lookups of each family and staggered attempts; false looks up both at
-- once and tries one address at a time), attempt_delay (seconds between
-- two attempts, default 0.25), tls (true, options of sockit.tls.context or
-- a client context: the handshake, checking host, is part of the connect,
-- under its timeout).
function sockit.connect(host, port, opts)
  util.string(host, 1, "connect")
  port = util.port(port, 2, "connect")
  opts = util.opts(opts, 3, "connect", CONNECT)
  local timeout, maxline = connectopts(opts, 3, "connect")
  local family = util.family(opts, 3, "connect")
  local o = attemptopts(opts)
  local ctx = opts.tls and tlsopts.context(opts.tls, "client", 3, "connect",
                                           "option 'tls': ")
  local deadline = wait.deadline(timeout)
  local sock, list, msg, code
  if o.delay and not family then
    sock, msg, code = eyeballs(host, port, o, deadline)
  else
    list, msg, code = resolve(host, port, {type = "stream", family = family},
                              deadline)
    if not list then return nil, msg, code end
    if o.delay and list[2] then
      sock, msg, code = race(candidates(host, port, list), o, deadline)
    else
      sock, msg, code = sequential(list, o, deadline)
    end
  end
  if not sock then return nil, msg, code end
  local s = stream.new(sock, timeout, maxline)
  s.host = host  -- the name starttls checks
  if not ctx then return s end
  return secure(s, ctx, host, deadline)
end

-- sockit.connect_unix(path [, opts]) -> stream; opts: timeout, maxline
function sockit.connect_unix(path, opts)
  util.path(path, 1, "connect_unix")
  opts = util.opts(opts, 2, "connect_unix", STREAM)
  local timeout, maxline = connectopts(opts, 2, "connect_unix")
  local sock, msg, code = core.socket("unix", "stream")
  if not sock then return nil, msg, code end
  local ok
  ok, msg, code = wait.connect(sock, wait.deadline(timeout), path)
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
  local tls = opts.tls and tlsopts.context(opts.tls, "server", arg, fname,
                                           "option 'tls': ")
  return {backlog = backlog, timeout = timeout, maxline = maxline, tls = tls,
          nodelay = util.option(opts, "nodelay", "boolean", arg, fname),
          reuseaddr = util.option(opts, "reuseaddr", "boolean", arg, fname),
          unlink = util.option(opts, "unlink", "boolean", arg, fname)}
end

-- sockit.listen(host, port [, opts]) -> server. host "*" is every
-- address, IPv6 and IPv4; port 0 picks a free port. opts: backlog,
-- family, reuseaddr (default true), nodelay, maxline and timeout for the
-- accepted streams, tls (options of sockit.tls.context, or a server
-- context: each accepted stream speaks TLS, its handshake at its first
-- read or write).
function sockit.listen(host, port, opts)
  util.string(host, 1, "listen")
  port = util.port(port, 2, "listen")
  opts = util.opts(opts, 3, "listen", LISTEN)
  return server.listen(host, port, serveropts(opts, 3, "listen"),
                       util.family(opts, 3, "listen"))
end

-- sockit.listen_unix(path [, opts]) -> server. opts: backlog, maxline,
-- timeout, unlink (remove a stale socket file first), tls
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

-- sockit.batch(max [, size]) -> a reusable batch for udp:recvmany
sockit.batch = core.batch

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

-- sockit.readfd(fd, n [, timeout]) -> up to n bytes from the descriptor
-- number fd, which need not be a socket (0 is standard input); nil at end
-- of file. In a task the others run while it waits.
function sockit.readfd(fd, n, timeout)
  fd = util.integer(fd, 1, "readfd", 0)
  n = util.integer(n, 2, "readfd", 1)
  timeout = util.timeout(timeout, 3, "readfd")
  local ok, msg, code = wait.readablefd(fd, wait.deadline(timeout))
  if not ok then return nil, msg, code end
  local data
  data, msg, code = core.read(fd, n)
  if data == "" then return nil end
  return data, msg, code
end


---------------------------------------------------------------- scheduler

-- sockit.spawn(fn, ...) -> task, a coroutine that runs fn(...) once
-- sockit.run runs; inside it, sockit calls that would block let the other
-- tasks run instead
sockit.spawn = wait.spawn

-- sockit.run([onerror]) -> true once no task is left. A task's error is
-- raised from here with the task's traceback, unless onerror(err, task,
-- traceback) is given.
sockit.run = wait.run

-- sockit.sleep(s) -> true; in a task, the other tasks run meanwhile
sockit.sleep = wait.sleep

-- the handler of serve and serve_unix (argument arg)
local function checkhandler(handler, arg, fname)
  if not wait.callable(handler) then
    util.argerror(arg, fname, "function expected, got " ..
                  (handler == nil and "no value" or type(handler)))
  end
end

-- the options of serve and serve_unix: those of listen and listen_unix,
-- max and onerror, checked and as server.listen and server.serve take them
local function serveopts(opts, arg, fname)
  local o = serveropts(opts, arg, fname)
  o.max = util.option(opts, "max", "integer", arg, fname)
  if o.max and o.max < 1 then
    util.argerror(arg, fname, "option 'max': value out of range")
  end
  o.onerror = opts.onerror
  if o.onerror ~= nil and not wait.callable(o.onerror) then
    util.argerror(arg, fname, "option 'onerror': function expected, got "
                  .. type(o.onerror))
  end
  return o
end

-- sockit.pcall(f, ...) -> true, ... | false, err: pcall, inside which a
-- task may wait on every Lua version (plain Lua 5.1's pcall cannot yield)
sockit.pcall = wait.pcall

-- sockit.serve(host, port, handler [, opts]) -> server, accepting in a
-- task: each client gets a task calling handler(stream, host, port), and
-- its stream closes when the handler returns or raises. A handler's error
-- ends its connection only, reported to opts.onerror(err, host, port) or
-- stderr. opts: those of listen, max (connections at once), onerror.
-- server:shutdown or server:close stops the accepting.
function sockit.serve(host, port, handler, opts)
  util.string(host, 1, "serve")
  port = util.port(port, 2, "serve")
  checkhandler(handler, 3, "serve")
  opts = util.opts(opts, 4, "serve", SERVE)
  local o = serveopts(opts, 4, "serve")
  local srv, msg, code = server.listen(host, port, o,
                                       util.family(opts, 4, "serve"))
  if not srv then return nil, msg, code end
  return server.serve(srv, handler, o)
end

-- sockit.serve_unix(path, handler [, opts]) -> server: serve on a Unix
-- socket; opts: those of listen_unix, max, onerror
function sockit.serve_unix(path, handler, opts)
  util.path(path, 1, "serve_unix")
  checkhandler(handler, 2, "serve_unix")
  opts = util.opts(opts, 3, "serve_unix", SERVE_UNIX)
  local o = serveopts(opts, 3, "serve_unix")
  local srv, msg, code = server.listen_unix(path, o)
  if not srv then return nil, msg, code end
  return server.serve(srv, handler, o)
end

return sockit
