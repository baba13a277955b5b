-- sockit.wait: every place where the sockit layer may wait (internal).
--
-- A deadline is an absolute time on core.monotime(), or one of two marks:
-- nil waits forever and 0 never waits (a timeout of 0: the caller gets
-- EAGAIN as from sockit.core). A deadline that has passed gives ETIMEDOUT.
--
-- Outside a scheduler task, sockit.core does the waiting: the socket's
-- timeout is set to the time left before each core call, so a call without
-- a deadline is a plain blocking system call. Inside a task (sockit.loop)
-- the socket's timeout is 0 and a call that would block waits in the loop
-- instead, which runs the other tasks meanwhile. A task that cannot yield
-- just then (inside a C function's callback) waits with sockit.core, as
-- outside.

local compat = require("sockit.compat")
local core = require("sockit.core")
local loop = require("sockit.loop")

local monotime = core.monotime
local settimeout = core.settimeout
local strerror = core.strerror
local running, isyieldable = coroutine.running, compat.isyieldable
local tasks, loopwait, fail = loop.tasks, loop.wait, loop.fail

local wait = {}

-- current() -> the running scheduler task, or nil outside one
wait.current = loop.current

-- cancel(obj): obj (a socket) is about to close: a task waiting on it
-- wakes with ECANCELED, and the loop forgets it
wait.cancel = loop.cancel

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

---------------------------------------------------------------- in a task

-- the readiness each core call waits for when it would block
local direction = {
  [core.recv] = "r", [core.recv_into] = "r", [core.recvfrom] = "r",
  [core.accept] = "r",
  [core.send] = "w", [core.sendto] = "w", [core.connect] = "w",
}

-- inloop(obj, dir, deadline) -> true or the fail tuple: the loop waits
-- for obj, or sockit.core does where the task cannot yield
local function inloop(obj, dir, deadline)
  if not isyieldable() then
    local t, passed = left(deadline)
    if passed then return timedout() end
    return core.wait(obj, dir, t or -1)
  end
  local why, msg, code = loopwait(obj, dir, deadline)
  if why == nil then
    if msg then return nil, msg, code end
    return true
  end
  return fail(why)
end

-- A connect in progress is done once the socket is writable: SO_ERROR
-- tells how it went, and a socket without a peer yet was woken early.
local function connected(sock, deadline)
  while true do
    local ok, msg, code = inloop(sock, "w", deadline)
    if not ok then return nil, msg, code end
    local err = core.getoption(sock, "error")
    if err then return nil, strerror(err), err end
    ok, msg, code = core.getpeername(sock)
    if ok then return true end
    if code ~= "ENOTCONN" then return nil, msg, code end
  end
end

-- A Unix listener with a full backlog refuses at once (EAGAIN) and tells
-- nobody when it has room: try again after a growing pause.
local function unixconnect(sock, deadline, ...)
  local pause = 0.001
  while true do
    local ok, msg, code = core.connect(sock, ...)
    if ok or code ~= "EAGAIN" then return ok, msg, code end
    local t, passed = left(deadline)
    if passed then return timedout() end
    loop.sleep(t and t < pause and t or pause)
    if pause < 0.1 then pause = pause * 2 end
  end
end

-- call(sock, op, deadline, ...) inside a task: op at timeout 0 until it
-- does not need to wait, the waits in the loop
local function taskcall(sock, op, deadline, ...)
  settimeout(sock, 0)
  while true do
    local a, b, c, d = op(sock, ...)
    if a ~= nil or (c ~= "EAGAIN" and c ~= "EINPROGRESS") or deadline == 0 then
      return a, b, c, d
    end
    if op == core.connect then
      if c == "EAGAIN" then return unixconnect(sock, deadline, ...) end
      return connected(sock, deadline)
    end
    local ok, msg, code = inloop(sock, direction[op] or "rw", deadline)
    if not ok then return nil, msg, code end
  end
end


---------------------------------------------------------------- waiting

-- call(sock, op, deadline, ...) -> op(sock, ...) with the socket's timeout
-- set to what is left before the deadline; op is a sockit.core function
-- (recv, send, accept, connect, recvfrom, sendto...).
function wait.call(sock, op, deadline, ...)
  if tasks[running()] then return taskcall(sock, op, deadline, ...) end
  local t, passed = left(deadline)
  settimeout(sock, t)
  if passed then return expired(op(sock, ...)) end
  return op(sock, ...)
end
local call = wait.call

-- once(sock, op, timeout, ...) -> op(sock, ...) with the socket's timeout
-- set to timeout: for a call that is one core call, whose timeout is then
-- its deadline (nil waits forever, 0 never waits)
function wait.once(sock, op, timeout, ...)
  if tasks[running()] then
    return call(sock, op, wait.deadline(timeout), ...)
  end
  settimeout(sock, timeout)
  return op(sock, ...)
end

-- ready(sock, events, deadline) -> true or the fail tuple
local function ready(sock, events, deadline)
  local t, passed = left(deadline)
  if passed then return expired(core.wait(sock, events, 0)) end
  return core.wait(sock, events, t or -1)
end

-- the same in a task: the loop may wake it early (a descriptor number
-- reused within one turn), so readiness is checked again
local function taskready(sock, events, deadline)
  local ok, msg, code = core.wait(sock, events, 0)
  while code == "EAGAIN" and deadline ~= 0 do
    ok, msg, code = inloop(sock, events, deadline)
    if ok then ok, msg, code = core.wait(sock, events, 0) end
  end
  return ok, msg, code
end

-- readable(sock, deadline), writable(sock, deadline) -> true or the fail
-- tuple: wait until the socket is ready without doing any I/O
function wait.readable(sock, deadline)
  if tasks[running()] then return taskready(sock, "r", deadline) end
  return ready(sock, "r", deadline)
end

function wait.writable(sock, deadline)
  if tasks[running()] then return taskready(sock, "w", deadline) end
  return ready(sock, "w", deadline)
end

-- A name given as a numeric address resolves at once, without a thread.
local function numeric(host, service, hints)
  local h = {numeric = true}
  for k, v in pairs(hints) do h[k] = v end
  return core.getaddrinfo(host, service, h)
end

-- closing(obj, close, ...) -> ...: close(obj), then the rest
local function closing(obj, close, ...)
  close(obj)
  return ...
end

-- the end of the lookup req, which the loop waits for
local function taskresult(req, deadline)
  local ok, msg, code
  repeat
    ok, msg, code = inloop(req, "r", deadline)
    if not ok then
      loop.cancel(req)
      return nil, msg, code
    end
    ok, msg, code = req:result()
  until ok or code ~= "EAGAIN"
  loop.cancel(req)
  return ok, msg, code
end

-- a lookup on core.resolve's thread, whose end the loop waits for
local function taskresolve(host, service, hints, deadline)
  local req, msg, code = core.resolve(host, service, hints)
  if not req then return nil, msg, code end
  return closing(req, req.cancel, taskresult(req, deadline))
end

-- the end of the lookup req, waited for with a poller of its own
local function blockresult(req, poller, deadline)
  local msg, code
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

-- resolve(host, service, hints, deadline) -> list of addresses or the
-- fail tuple, as core.getaddrinfo. A lookup that is not of a numeric
-- address runs on core.resolve's thread inside a task, so the other tasks
-- go on meanwhile, and outside one when a deadline bounds it; otherwise
-- it blocks (a lookup cannot do without waiting: deadline 0 is nil here).
function wait.resolve(host, service, hints, deadline)
  local intask = tasks[running()] and isyieldable()
  if deadline == 0 then deadline = nil end
  if deadline == nil and not intask then
    return core.getaddrinfo(host, service, hints)
  end
  local list, msg, code = numeric(host, service, hints)
  if list or code ~= "EAI_NONAME" then return list, msg, code end
  if intask then return taskresolve(host, service, hints, deadline) end
  local req
  req, msg, code = core.resolve(host, service, hints)
  if not req then return nil, msg, code end
  local poller
  poller, msg, code = core.poller()
  if not poller then return closing(req, req.cancel, nil, msg, code) end
  return closing(req, req.cancel,
                 closing(poller, poller.close, blockresult(req, poller, deadline)))
end

return wait
