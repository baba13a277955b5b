-- sockit.wait: every place where the sockit layer may wait (internal),
-- and the layer's only way to the scheduler (sockit.loop).
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
local isyieldable = compat.isyieldable
local intask, loopwait, fail = loop.intask, loop.wait, loop.fail

local wait = {}

-- the scheduler, as sockit exports it: spawn, run, sleep; wake(task) ends
-- a task's sleep early; current() -> the running task or nil
wait.spawn, wait.run, wait.sleep = loop.spawn, loop.run, loop.sleep
wait.wake, wait.current, wait.callable = loop.wake, loop.current,
                                         loop.callable

-- closing(task, obj): obj:close() once the task ends; pcall and xpcall
-- whose function may wait, also on plain Lua 5.1 (see sockit.loop)
wait.closing, wait.pcall, wait.xpcall = loop.closing, loop.pcall,
                                        loop.xpcall

-- cancel(obj): obj (a socket) is about to close: a task waiting on it
-- wakes with ECANCELED, and the loop forgets it
wait.cancel = loop.cancel

-- intask() -> true inside a task, where a call that would block waits in
-- the loop
wait.intask = loop.intask

-- interrupted(err) -> true for the error of a Ctrl-C
wait.interrupted = loop.interrupted

-- deadline(timeout) -> the deadline of a call that starts now
function wait.deadline(timeout)
  if timeout == nil or timeout == 0 then return timeout end
  return monotime() + timeout
end

-- held[sock]: the timeout sock holds, as hold last set it (-1: none,
-- the socket blocks); a socket that is not a key may hold any (the keys
-- are weak: an entry goes with its socket). The layer sets its sockets'
-- timeouts only through hold, so a loop of calls with one timeout makes
-- one C call per call, not two; a hot path may test held[sock] itself
-- first, and call hold only when it differs (callgrind: a Stream
-- read(n) or write spent 300 instructions in core.settimeout, and 300
-- in a call of hold).
local held = setmetatable({}, {__mode = "k"})
wait.held = held

-- hold(sock, timeout): sock's timeout set to timeout (nil: none, else
-- seconds >= 0), unless it holds it already
function wait.hold(sock, timeout)
  local t = timeout or -1
  if held[sock] ~= t then
    settimeout(sock, timeout)
    held[sock] = t
  end
end
local hold = wait.hold

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

-- woken(...) -> true or the fail tuple, from what a wait in the loop
-- returned
local function woken(why, msg, code)
  if why == nil then
    if msg then return nil, msg, code end
    return true
  end
  return fail(why)
end

-- inloop(obj, dir, deadline) -> true or the fail tuple: the loop waits
-- for obj, or sockit.core does where the task cannot yield
local function inloop(obj, dir, deadline)
  if not isyieldable() then
    local t, passed = left(deadline)
    if passed then return timedout() end
    return core.wait(obj, dir, t or -1)
  end
  return woken(loopwait(obj, dir, deadline))
end

-- the direction an op that would block asks for, if it says ("r", "w":
-- a TLS read that must write first), else the caller's
local asked = {r = "r", w = "w"}

-- call(sock, dir, op, deadline, ...) inside a task: op at timeout 0 until
-- it does not need to wait, the waits in the loop
local function taskcall(sock, dir, op, deadline, ...)
  hold(sock, 0)
  while true do
    local a, b, c, d = op(sock, ...)
    if a ~= nil or c ~= "EAGAIN" or deadline == 0 then return a, b, c, d end
    local ok, msg, code = inloop(sock, asked[d] or dir, deadline)
    if not ok then return nil, msg, code end
  end
end


---------------------------------------------------------------- waiting

-- call(sock, dir, op, deadline, ...) -> op(sock, ...), a sockit.core call
-- that waits for readiness `dir` ("r" or "w") when it would block: in the
-- loop inside a task, else in sockit.core, the socket's timeout set to
-- what is left before the deadline. An op whose fail tuple has a fourth
-- value, "r" or "w", after "EAGAIN" is waited for in that direction.
function wait.call(sock, dir, op, deadline, ...)
  if intask() then return taskcall(sock, dir, op, deadline, ...) end
  local t, passed = left(deadline)
  hold(sock, t)
  if passed then return expired(op(sock, ...)) end
  return op(sock, ...)
end
local call = wait.call

-- once(sock, dir, op, timeout, ...) -> op(sock, ...) with the socket's
-- timeout set to timeout: for a call that is one core call, whose timeout
-- is then its deadline (nil waits forever, 0 never waits)
function wait.once(sock, dir, op, timeout, ...)
  if intask() then return call(sock, dir, op, wait.deadline(timeout), ...) end
  hold(sock, timeout)
  return op(sock, ...)
end

-- connected(sock) -> true once the connect in progress on sock has
-- succeeded, false while it is pending, or its fail tuple. A connect is
-- done once the socket is writable: SO_ERROR tells how it went (as in
-- sockit.core), and a socket without a peer yet is still pending (or was
-- woken early: a descriptor number reused within one turn).
function wait.connected(sock)
  local err = core.getoption(sock, "error")
  if err then return nil, strerror(err), err end
  local ok, msg, code = core.getpeername(sock)
  if ok then return true end
  if code == "ENOTCONN" then return false end
  return nil, msg, code
end
local connected = wait.connected

local function completed(sock, deadline)
  while true do
    local ok, msg, code = inloop(sock, "w", deadline)
    if not ok then return nil, msg, code end
    ok, msg, code = connected(sock)
    if ok ~= false then return ok, msg, code end
  end
end

-- A Unix listener with a full backlog refuses at once (EAGAIN) and tells
-- nobody when it has room. sockit.core then blocks in the kernel, which
-- a task must not: it tries again after a growing pause.
local function backlogged(sock, deadline, ...)
  local pause = 0.001
  while true do
    local t, passed = left(deadline)
    if passed then return timedout() end
    loop.sleep(t and t < pause and t or pause)
    if pause < 0.1 then pause = pause * 2 end
    local ok, msg, code = core.connect(sock, ...)
    if ok or code ~= "EAGAIN" then return ok, msg, code end
  end
end

-- connect(sock, deadline, ...) -> true or the fail tuple of
-- core.connect(sock, ...): sockit.core waits for the connection outside a
-- task (its timeout the time left), the loop inside one
function wait.connect(sock, deadline, ...)
  if not intask() then return call(sock, "w", core.connect, deadline, ...) end
  hold(sock, 0)
  local ok, msg, code = core.connect(sock, ...)
  if ok or deadline == 0 then return ok, msg, code end
  if code == "EINPROGRESS" then return completed(sock, deadline) end
  if code == "EAGAIN" then return backlogged(sock, deadline, ...) end
  return nil, msg, code
end

-- closing(obj, close, ...) -> ...: close(obj), then the rest
local function closing(obj, close, ...)
  close(obj)
  return ...
end

-- fdready(poller, fd, deadline) -> true or the fail tuple: poller waits
-- for fd to be readable
local function fdready(poller, fd, deadline)
  local ok, msg, code = poller:add(fd, "r")
  if not ok then
    if code == "EPERM" then return true end
    return nil, msg, code
  end
  local t, passed = left(deadline)
  local n
  n, msg, code = poller:wait(passed and 0 or t)
  if not n then return nil, msg, code end
  if n > 0 then return true end
  if deadline == 0 then return nil, strerror("EAGAIN"), "EAGAIN" end
  return timedout()
end

-- readablefd(fd, deadline) -> true or the fail tuple: waits until the
-- descriptor number fd (standard input, a pipe: not a socket) has
-- something to read, or its end. A descriptor epoll refuses (EPERM: a
-- regular file, /dev/null) never makes a read wait: it is ready now.
-- Outside a task without a deadline, the read itself does the waiting.
function wait.readablefd(fd, deadline)
  if deadline ~= 0 and intask() and isyieldable() then
    local ok, msg, code = inloop(fd, "r", deadline)
    if code == "EPERM" then return true end
    return ok, msg, code
  end
  if deadline == nil then return true end
  local poller, msg, code = core.poller()
  if not poller then return nil, msg, code end
  return closing(poller, poller.close, fdready(poller, fd, deadline))
end

-- writable(objs, deadline [, dirs]) -> true once one of the sockets in
-- the list objs may be writable (or each object ready for its direction
-- in the list dirs, "r" or "w": a core.resolve request is "r"), or the
-- wait was interrupted (the caller looks at each anyway); or the fail
-- tuple, ETIMEDOUT once the deadline passes. The loop waits inside a
-- task, else sockit.core for one socket and a poller of its own for
-- several.
function wait.writable(objs, deadline, dirs)
  if intask() and isyieldable() then
    return woken(loop.waitany(objs, dirs or "w", deadline))
  end
  local t, passed = left(deadline)
  if passed then return timedout() end
  if objs[2] == nil and not dirs then
    return core.wait(objs[1], "w", t or -1)
  end
  local poller, msg, code = core.poller()
  if not poller then return nil, msg, code end
  local ok = true
  for i = 1, #objs do
    if ok then ok, msg, code = poller:add(objs[i], dirs and dirs[i] or "w") end
  end
  -- an error in the wait (Ctrl-C) goes on with the poller closed
  local done = true
  if ok then done, ok, msg, code = pcall(poller.wait, poller, t) end
  poller:close()
  if not done then error(ok, 0) end
  if not ok then return nil, msg, code end
  local _, over = left(deadline)
  if ok == 0 and over then return timedout() end
  return true
end

-- A name given as a numeric address resolves at once, without a thread.
local function numeric(host, service, hints)
  local h = {numeric = true}
  for k, v in pairs(hints) do h[k] = v end
  return core.getaddrinfo(host, service, h)
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
  local yields = intask() and isyieldable()
  if deadline == 0 then deadline = nil end
  if deadline == nil and not yields then
    return core.getaddrinfo(host, service, hints)
  end
  local list, msg, code = numeric(host, service, hints)
  if list or code ~= "EAI_NONAME" then return list, msg, code end
  if yields then return taskresolve(host, service, hints, deadline) end
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
