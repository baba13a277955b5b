-- sockit.wait: every place where the sockit layer may wait (internal).
--
-- A deadline is an absolute time on core.monotime(), or one of two marks:
-- nil waits forever and 0 never waits (a timeout of 0: the caller gets
-- EAGAIN as from sockit.core). A deadline that has passed gives ETIMEDOUT.
--
-- Outside a scheduler task, sockit.core does the waiting: the socket's
-- timeout is set to the time left before each core call, so a call without
-- a deadline is a plain blocking system call. Inside a task the scheduler
-- keeps its sockets at timeout 0 and waits in its loop instead; wait.current
-- tells the two cases apart, and readable/writable/call/resolve are the
-- functions it takes over.

local core = require("sockit.core")

local monotime = core.monotime
local settimeout = core.settimeout
local strerror = core.strerror

local wait = {}

-- current() -> the running scheduler task, or nil outside one
function wait.current()
  return nil
end

-- deadline(timeout) -> the deadline of a call that starts now
function wait.deadline(timeout)
  if timeout == nil or timeout == 0 then return timeout end
  return monotime() + timeout
end

-- timedout() -> nil, msg, "ETIMEDOUT"
function wait.timedout()
  return nil, strerror("ETIMEDOUT"), "ETIMEDOUT"
end
local timedout = wait.timedout

-- left(deadline) -> the timeout for a core call: nil, 0 or seconds > 0;
-- and true when the deadline has passed
local function left(deadline)
  if deadline == nil or deadline == 0 then return deadline, false end
  local t = deadline - monotime()
  if t > 0 then return t, false end
  return 0, true
end

-- A call at a passed deadline ran at timeout 0: its "would block" is a
-- timeout for the caller.
local function expired(ok, msg, code, ...)
  if ok == nil and (code == "EAGAIN" or code == "EINPROGRESS") then
    return timedout()
  end
  return ok, msg, code, ...
end

-- call(sock, op, deadline, ...) -> op(sock, ...) with the socket's timeout
-- set to what is left before the deadline; op is a sockit.core function
-- (recv, send, accept, connect, recvfrom, sendto...).
function wait.call(sock, op, deadline, ...)
  local t, passed = left(deadline)
  settimeout(sock, t)
  if passed then return expired(op(sock, ...)) end
  return op(sock, ...)
end

-- once(sock, op, timeout, ...) -> op(sock, ...) with the socket's timeout
-- set to timeout: for a call that is one core call, whose timeout is then
-- its deadline (nil waits forever, 0 never waits)
function wait.once(sock, op, timeout, ...)
  settimeout(sock, timeout)
  return op(sock, ...)
end

-- ready(sock, events, deadline) -> true or the fail tuple
local function ready(sock, events, deadline)
  local t, passed = left(deadline)
  if passed then return expired(core.wait(sock, events, 0)) end
  return core.wait(sock, events, t or -1)
end

-- readable(sock, deadline), writable(sock, deadline) -> true or the fail
-- tuple: wait until the socket is ready without doing any I/O
function wait.readable(sock, deadline)
  return ready(sock, "r", deadline)
end

function wait.writable(sock, deadline)
  return ready(sock, "w", deadline)
end

-- A name given as a numeric address resolves at once, without a thread.
local function numeric(host, service, hints)
  local h = {numeric = true}
  for k, v in pairs(hints) do h[k] = v end
  return core.getaddrinfo(host, service, h)
end

-- resolve(host, service, hints, deadline) -> list of addresses or the
-- fail tuple, as core.getaddrinfo. A deadline bounds a slow lookup, which
-- then runs on core.resolve's thread; a lookup cannot do without waiting,
-- so deadline 0 blocks like nil.
function wait.resolve(host, service, hints, deadline)
  if deadline == nil or deadline == 0 then
    return core.getaddrinfo(host, service, hints)
  end
  local list, msg, code = numeric(host, service, hints)
  if list or code ~= "EAI_NONAME" then return list, msg, code end
  local req
  req, msg, code = core.resolve(host, service, hints)
  if not req then return nil, msg, code end
  local _ <close> = req
  local poller
  poller, msg, code = core.poller()
  if not poller then return nil, msg, code end
  local _ <close> = poller
  poller:add(req, "r")
  repeat
    local t, passed = left(deadline)
    if passed then return timedout() end
    local n
    n, msg, code = poller:wait(t)
    if not n then return nil, msg, code end
  until n > 0
  return req:result()
end

return wait
