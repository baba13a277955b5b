-- sockit.server: listening sockets (TCP and Unix) and the Server object.

local compat = require("sockit.compat")
local core = require("sockit.core")
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
                       maxline = opts.maxline, tls = opts.tls,
                       streamtimeout = util.timeout(opts.timeout)}, mt)
end

-- server:accept() -> stream, host, port / stream, path
function methods:accept()
  check(self, "accept")
  local sock, host, port = wait.once(self.socket, "r", core.accept, self.timeout)
  if not sock then return nil, host, port end
  local s = stream.new(sock, self.streamtimeout, self.maxline)
  if self.tls then stream.secure(s, self.tls, nil, 0, "accept") end
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
--
-- A served server has a `serving` table: the handler and the options of
-- serve, the task accepting (`acceptor`), each connection's task mapped to
-- its stream (`conns`, `n` of them), and the tasks waiting in shutdown.
-- A connection task ends its connection only: whatever its handler
-- raises goes to onerror or stderr, never to run().

local PAUSE, MAXPAUSE = 0.01, 1  -- seconds, the back-off of accept

-- accept failures that say nothing about the listening socket and call
-- for no report: try again at once
local quiet = {EINTR = true, EAGAIN = true, ETIMEDOUT = true}

-- a client gone before its accept: the next one may well do
local aborted = {ECONNABORTED = true, EPROTO = true, EPERM = true}

-- failure(err) -> true for an error raised by a stream, as lines()
-- raises a fail tuple: "message (CODE)", CODE a known code name
local function failure(err)
  local code = type(err) == "string" and err:match("%((E[%u%d_]+)%)$")
  return code ~= nil and pcall(core.strerror, code)
end

-- the message handler of a handler's call: a bug gets its traceback
-- (from the coroutine it failed in, when wait.xpcall gives one)
local function traced(err, thread)
  if failure(err) then return {err} end
  if thread then return {err, debug.traceback(thread, tostring(err))} end
  return {err, debug.traceback(tostring(err), 2)}
end

-- "host:port", "[v6host]:port", a path, or "unix client" for an unnamed
-- Unix peer
local function peername(host, port)
  if port == nil then return host ~= "" and host or "unix client" end
  if host:find(":", 1, true) then return ("[%s]:%d"):format(host, port) end
  return ("%s:%d"):format(host, port)
end

-- one failure of a connection, or of accept, to opts.onerror or stderr
local function report(st, err, text, host, port)
  if st.onerror then return st.onerror(err, host, port) end
  io.stderr:write(("sockit.serve: %s: %s\n"):format(peername(host, port),
                  text or tostring(err)))
end

-- wakes the tasks that wait for a connection to end
local function ended(st, co)
  st.conns[co], st.n = nil, st.n - 1
  wait.wake(st.acceptor)
  for w in pairs(st.waiting) do wait.wake(w) end
end

-- a TLS connection's handshake, in its own task before its handler:
-- true, or false once the stream is closed. A failure is the client's
-- doing (a scanner, a plaintext client, a distrusted certificate), as a
-- reset is, which serve never reports by itself: it goes to onerror only.
local function handshake(st, s, host, port)
  local ok, msg, code = stream.handshake(s)
  if ok then return true end
  s:close()
  ended(st, wait.current())
  if st.onerror then
    st.onerror(("TLS handshake failed: %s (%s)"):format(msg, code), host,
               port)
  end
  return false
end

local function connection(st, s, host, port)
  if s.tlsconn and not handshake(st, s, host, port) then return end
  local ok, e = wait.xpcall(st.handler, traced, s, host, port)
  s:close()
  ended(st, wait.current())
  -- a Ctrl-C that LuaJIT's hook raised in the handler ends the run
  if not ok and wait.interrupted(e[1]) then error(e[1], 0) end
  -- the failures of a stream shutdown closed are its doing, not news
  if not ok and not (st.forced and e[2] == nil) then
    report(st, e[1], e[2], host, port)
  end
end

-- accept failed with code: reported once a burst (failures without a
-- connection accepted nor a quiet spell between them), then a pause where
-- waiting for the listener would spin (no descriptor, no memory)
local function refused(self, st, msg, code, pause)
  if quiet[code] then return PAUSE end
  local now = core.monotime()
  if now - st.failed > 2 * MAXPAUSE then
    local host, port = methods.address(self)
    report(st, ("accept failed: %s (%s)"):format(msg, code), nil, host, port)
  end
  st.failed = now
  if aborted[code] or self.closed then return PAUSE end
  wait.sleep(pause)
  return pause < MAXPAUSE and pause * 2 or MAXPAUSE
end

-- accepts until the server closes, a task per connection, and no more
-- than st.max at once; a connection that ends wakes it
local function acceptor(self, st)
  local pause = PAUSE
  while not self.closed do
    if st.max and st.n >= st.max then
      wait.sleep(math.huge)
    else
      local s, host, port = methods.accept(self)
      if s then
        st.failed, pause = -math.huge, PAUSE
        local co = wait.spawn(connection, st, s, host, port)
        wait.closing(co, s)  -- should the task never end its connection
        st.conns[co] = s
        st.n = st.n + 1
      elseif port ~= "ECANCELED" then
        pause = refused(self, st, host, port, pause)
      end
    end
  end
end

-- serve(server, handler, opts) -> server, with a task accepting its
-- clients: each connection gets a task calling handler(stream, host,
-- port), and its stream closes when the handler returns or raises.
-- opts: max, onerror (the caller checked them).
function M.serve(self, handler, opts)
  local st = {handler = handler, onerror = opts.onerror, max = opts.max,
              conns = {}, n = 0, waiting = {}, failed = -math.huge,
              forced = false}
  self.serving = st
  st.acceptor = wait.spawn(acceptor, self, st)
  return self
end

-- waits in sleep until st has at most `keep` connections or `deadline`
-- passes (nil: no deadline)
local function drain(st, keep, deadline)
  local co = wait.current()
  st.waiting[co] = true
  while st.n > keep do
    local t = deadline and deadline - core.monotime() or math.huge
    if t <= 0 then break end
    wait.sleep(t)
  end
  st.waiting[co] = nil
end

-- server:shutdown([grace]) -> true: stops accepting, lets the handlers
-- run for up to grace seconds (default 10), closes the streams left and
-- returns once their handlers ended. Outside a task it cannot wait:
-- grace is 0 and the handlers end in the next run().
function methods:shutdown(grace)
  if getmetatable(self) ~= mt then check(self, "shutdown") end
  if grace == nil then grace = 10 end
  if type(grace) ~= "number" or grace ~= grace or grace < 0 then
    util.argerror(1, "shutdown", "non-negative number expected, got " ..
                  (type(grace) == "number" and tostring(grace) or type(grace)))
  end
  local st = self.serving
  methods.close(self)
  if not st then return true end
  wait.wake(st.acceptor)
  local me = wait.current()
  local waits = me ~= nil and compat.isyieldable()
  -- a handler shutting down its own server: its own connection stays
  local keep = st.conns[me] and 1 or 0
  if waits and grace > 0 then drain(st, keep, core.monotime() + grace) end
  if st.n > keep then
    st.forced = true
    for co, s in pairs(st.conns) do
      if co ~= me then s:close() end
    end
  end
  if waits then drain(st, keep, nil) end
  return true
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
