-- sockit.loop: the coroutine scheduler behind sockit.spawn, sockit.run and
-- sockit.sleep (internal; sockit.wait is the only module that talks to it).
-- Its interface: spawn, run, intask, current, wait (for an object),
-- waitany (for the first of several), cancel, sleep and wake.
--
-- A task is a coroutine. A task that must wait registers itself as the
-- reader or writer of one object (a socket or a core.resolve request; of
-- several in waitany), and maybe in the timer heap, then yields; run()
-- resumes it when the poller reports the object ready, when its deadline
-- passes, or when another task closes the object. The waiter learns which
-- from the value it is resumed with: nil (ready), "ETIMEDOUT" or
-- "ECANCELED".
--
-- The hot path builds no table: readers and writers map an object to its
-- waiting coroutine, the timer heap is three flat arrays, and the run queue
-- two. A registration stays in the poller after its waiter wakes, since the
-- waiter nearly always waits again for the same thing; one the poller then
-- reports with nobody waiting is narrowed or removed at that point, and
-- every registration goes when run() returns.

local compat = require("sockit.compat")
local core = require("sockit.core")
local util = require("sockit.util")

local create, resume, yield = coroutine.create, coroutine.resume,
                              coroutine.yield
local running, status = coroutine.running, coroutine.status
local isyieldable, coclose = compat.isyieldable, compat.coclose
local monotime, strerror = core.monotime, core.strerror
local traceback = debug.traceback
local select, type, unpack = select, type, compat.unpack
local floor = math.floor

local loop = {}

-- the token every wait of this module yields: anything else is a plain
-- coroutine.yield() of the task, which only lets the other tasks run
local WAIT = setmetatable({}, {__name = "sockit.loop.wait"})

local tasks, ntasks = {}, 0       -- coroutine -> true for each live task
local sleepers = {}               -- coroutine -> true while in sleep()
local parked, nparked = {}, 0     -- the tasks sleeping without a deadline
local readers, writers = {}, {}   -- object -> the coroutine waiting on it
local lists = {}                  -- coroutine -> the objects of its waitany
local interest = {}               -- object -> "r", "w", "rw" as registered
local closing = {}                -- task -> the object it closes on ending
-- the coroutine of a loop.pcall on plain Lua 5.1 -> the task it runs in
local owner = setmetatable({}, {__mode = "k"})
local poller, p_wait, p_ready     -- created when a task first waits
local active = false              -- run() is running

-- timers: a binary heap of coroutines by deadline; hpos finds a
-- coroutine's slot, so a waiter woken early leaves the heap in O(log n)
local hco, hdl, hpos, hn = {}, {}, {}, 0

-- the run queue: coroutines to resume on the next turn, with the value
-- each is resumed with; entries from qhead to qtail
local qco, qwhy, qhead, qtail = {}, {}, 1, 0



---------------------------------------------------------------- timers

local function up(i, co, t)
  while i > 1 do
    local p = floor(i / 2)
    local pt = hdl[p]
    if pt <= t then break end
    local pco = hco[p]
    hco[i], hdl[i], hpos[pco] = pco, pt, i
    i = p
  end
  hco[i], hdl[i], hpos[co] = co, t, i
end

local function down(i, co, t)
  while true do
    local c = 2 * i
    if c > hn then break end
    if c < hn and hdl[c + 1] < hdl[c] then c = c + 1 end
    local ct = hdl[c]
    if t <= ct then break end
    local cco = hco[c]
    hco[i], hdl[i], hpos[cco] = cco, ct, i
    i = c
  end
  hco[i], hdl[i], hpos[co] = co, t, i
end

local function addtimer(co, t)
  hn = hn + 1
  up(hn, co, t)
end

local function removetimer(co)
  local i = hpos[co]
  hpos[co] = nil
  local lco, lt = hco[hn], hdl[hn]
  hco[hn], hdl[hn] = nil, nil
  hn = hn - 1
  if i > hn then return end
  if i > 1 and hdl[floor(i / 2)] > lt then up(i, lco, lt)
  else down(i, lco, lt) end
end


---------------------------------------------------------------- the queue

local function push(co, why)
  qtail = qtail + 1
  qco[qtail], qwhy[qtail] = co, why
end


---------------------------------------------------------------- tasks

-- closing(task, obj): obj:close() once task ends, by returning or raising
-- (a to-be-closed variable, for every Lua version)
function loop.closing(co, obj)
  closing[co] = obj
end

local function ended(co)
  local obj = closing[co]
  if obj == nil then return end
  closing[co] = nil
  obj:close()
end

-- Ctrl-C: the interpreter's hook raises "interrupted!" where Lua runs
-- next. Lua 5.1-5.4 hook the main thread, so it comes out of run();
-- LuaJIT's hook is global and may fire in a task, whose error then ends
-- run() just the same, past onerror.
local function interrupted(err)
  return type(err) == "string" and err:sub(-12) == "interrupted!"
end
loop.interrupted = interrupted

-- the failure of task co, whose resume returned false, err: its pending
-- to-be-closed variables are closed (the traceback is taken first), then
-- onerror handles it or it is raised from run()
local function failed(co, err, onerror)
  local tb = traceback(co, type(err) == "string" and err or nil)
  coclose(co)
  ended(co)
  if onerror and not interrupted(err) then return onerror(err, co, tb) end
  if type(err) ~= "string" then error(err, 0) end
  error(tb, 0)
end

local onerror_  -- the handler of the current run()

-- resumes co with why; a task that ended leaves the set
local function step(co, why)
  local ok, token = resume(co, why)
  if ok and token == WAIT then return end
  if status(co) ~= "dead" then  -- a plain coroutine.yield()
    push(co, nil)
    return
  end
  tasks[co] = nil
  ntasks = ntasks - 1
  if ok then ended(co) else failed(co, token, onerror_) end
end

-- callable(f) -> true for a function or a value with __call
local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and mt.__call ~= nil
end
loop.callable = callable

-- spawn(fn, ...) -> task: a coroutine running fn(...), started by run()
function loop.spawn(fn, ...)
  if not callable(fn) then
    util.argerror(1, "spawn", "function expected, got " ..
                  (fn == nil and "no value" or type(fn)))
  end
  local co
  local n = select("#", ...)
  if n == 0 then
    co = create(function() return fn() end)
  else
    local args = {...}
    co = create(function() return fn(unpack(args, 1, n)) end)
  end
  tasks[co] = true
  ntasks = ntasks + 1
  push(co, nil)
  return co
end

-- current() -> the running task, or nil outside one
function loop.current()
  local co = running()
  if tasks[co] then return owner[co] or co end
  return nil
end

-- the result of the protected call in co: its yields go on to the task's
-- resumer, and what resumes the task goes back to co; a failure goes
-- through msgh (if any) with co, where the failure left its stack
local function finish(co, msgh, ok, ...)
  if status(co) == "dead" then
    owner[co], tasks[co] = nil, nil
    if ok or msgh == nil then return ok, ... end
    return false, msgh((...), co)
  end
  return finish(co, msgh, resume(co, yield(...)))
end

-- f(...) in a coroutine of its own, which stands for the task
local function protected(task, msgh, f, ...)
  local co = create(function(...) return f(...) end)
  owner[co], tasks[co] = task, true
  return finish(co, msgh, resume(co, ...))
end

-- pcall(f, ...) -> true, results | false, error: pcall, whose f may wait
-- in a task on every version. Plain Lua 5.1 cannot yield across pcall:
-- there f runs in a coroutine of its own, which stands for the task.
function loop.pcall(f, ...)
  local task = loop.current()
  if compat.yieldingpcall or task == nil then return pcall(f, ...) end
  return protected(task, nil, f, ...)
end

-- xpcall(f, msgh, ...) -> true, results | false, msgh(error, thread):
-- xpcall with arguments, whose f may wait in a task on every version.
-- thread is nil where msgh runs where the error was raised (so
-- debug.traceback(msg, 2) shows it); on plain Lua 5.1 in a task it is
-- the coroutine f ran in, ended, its stack kept for
-- debug.traceback(thread, msg).
function loop.xpcall(f, msgh, ...)
  if compat.yieldingpcall then return xpcall(f, msgh, ...) end
  local task = loop.current()
  if task then return protected(task, msgh, f, ...) end
  local args, n = {...}, select("#", ...)  -- 5.1's xpcall takes none
  return xpcall(function() return f(unpack(args, 1, n)) end, msgh)
end

-- intask() -> true inside a task: a call that would block waits in the
-- loop (or, where the task cannot yield, with sockit.core; see wait.lua)
function loop.intask()
  return tasks[running()] == true
end


---------------------------------------------------------------- waiting

-- the events the waiters of obj need, or nil
local function wanted(obj)
  if readers[obj] then return writers[obj] and "rw" or "r" end
  return writers[obj] and "w" or nil
end

-- sets obj's registration to `events` (nil removes it) -> true or the
-- fail tuple
local function register(obj, events)
  local cur = interest[obj]
  if cur == events then return true end
  local ok, msg, code
  if events == nil then ok, msg, code = poller:remove(obj)
  elseif cur == nil then ok, msg, code = poller:add(obj, events)
  else ok, msg, code = poller:modify(obj, events) end
  if ok or events == nil then interest[obj] = events end
  return ok, msg, code
end

local function openpoller()
  local msg, code
  poller, msg, code = core.poller(loop.cancel)  -- core.close wakes waiters too
  if not poller then return nil, msg, code end
  p_wait, p_ready = poller.wait, poller.ready
  return true
end

-- makes sure obj is registered for dir -> true or the fail tuple
local function watch(obj, dir)
  if poller == nil then
    local ok, msg, code = openpoller()
    if not ok then return nil, msg, code end
  end
  local cur = interest[obj]
  if cur == dir or cur == "rw" then return true end
  return register(obj, cur == nil and dir or "rw")
end

local function busy(dir)
  util.error(dir == "r" and "another task is already reading this socket"
             or "another task is already writing this socket")
end

-- wait(obj, dir, deadline) -> nil when obj is ready for dir ("r" or "w"),
-- or "ETIMEDOUT" / "ECANCELED", or nil, msg, code when the poller refuses
-- obj. Only from a task that can yield (see current and isyieldable).
function loop.wait(obj, dir, deadline)
  local co = running()
  co = owner[co] or co
  local map = dir == "r" and readers or writers
  if map[obj] then busy(dir) end
  map[obj] = co
  local ok, msg, code = watch(obj, dir)
  if not ok then
    map[obj] = nil
    return nil, msg, code
  end
  if deadline then addtimer(co, deadline) end
  local why = yield(WAIT)
  if map[obj] == co then map[obj] = nil end
  if hpos[co] then removetimer(co) end
  return why
end

-- co no longer waits on the first n objects of the list objs
local function release(objs, n, co)
  for i = 1, n do
    local obj = objs[i]
    if readers[obj] == co then readers[obj] = nil end
    if writers[obj] == co then writers[obj] = nil end
  end
end

-- waitany(objs, dir, deadline) -> as wait, for the first of the objects
-- in the list objs to be ready for dir, or each for its own direction
-- when dir is a list of them: the task is the waiter of each object
-- until it wakes, however it wakes.
function loop.waitany(objs, dir, deadline)
  local co = running()
  co = owner[co] or co
  local dirs = type(dir) == "table" and dir
  local n = #objs
  for i = 1, n do
    local d = dirs and dirs[i] or dir
    if (d == "r" and readers or writers)[objs[i]] then busy(d) end
  end
  for i = 1, n do
    local d = dirs and dirs[i] or dir
    local map = d == "r" and readers or writers
    map[objs[i]] = co
    local ok, msg, code = watch(objs[i], d)
    if not ok then
      release(objs, i, co)
      return nil, msg, code
    end
  end
  if deadline then addtimer(co, deadline) end
  lists[co] = objs
  local why = yield(WAIT)
  lists[co] = nil
  release(objs, n, co)
  if hpos[co] then removetimer(co) end
  return why
end

-- A task woken by the closing of one object of its waitany stops waiting
-- on the others at once: it is queued, and must not be woken twice.
local function cancelled(co)
  if hpos[co] then removetimer(co) end
  local objs = lists[co]
  if objs then release(objs, #objs, co) end
  push(co, "ECANCELED")
end

-- cancel(obj): obj is closing; whoever waits on it wakes with ECANCELED
-- and the poller forgets it (also for an object nobody waits on)
function loop.cancel(obj)
  if interest[obj] == nil then return end
  local r, w = readers[obj], writers[obj]
  readers[obj], writers[obj] = nil, nil
  if r then cancelled(r) end
  if w then cancelled(w) end
  register(obj, nil)
end

-- sleep(s) -> true; a task yields to the others meanwhile, s <= 0 only
-- lets them run. From FOREVER seconds on, which sockit.core.sleep does
-- not take, a task sleeps until wake(task) or the end of the loop, and
-- any other caller forever.
local FOREVER = 1e9

local function forever()
  while true do core.sleep(FOREVER / 2) end
end

function loop.sleep(s)
  if type(s) ~= "number" then
    util.argerror(1, "sleep", "number expected, got " ..
                  (s == nil and "no value" or type(s)))
  end
  if s ~= s then util.argerror(1, "sleep", "number is NaN") end
  local co = running()
  co = owner[co] or co
  if not tasks[co] or not isyieldable() then
    if s >= FOREVER then forever() end
    if s > 0 then core.sleep(s) end
    return true
  end
  if s >= FOREVER then
    parked[co], nparked = true, nparked + 1
  elseif s > 0 then addtimer(co, monotime() + s)
  else push(co, nil) end
  sleepers[co] = true
  yield(WAIT)
  sleepers[co] = nil
  return true
end

local function unpark(co)
  if parked[co] then parked[co], nparked = nil, nparked - 1 end
end

-- wake(task) -> true if task was in sleep(), which then returns at the
-- next turn; any other task is left as it is
function loop.wake(co)
  if not sleepers[co] then return false end
  if hpos[co] then removetimer(co)
  elseif parked[co] then unpark(co)
  else return true end  -- already queued
  push(co, nil)
  return true
end


---------------------------------------------------------------- run

-- the poller reported obj ready for ev: wake its waiters; a registered
-- direction nobody waits on any more is dropped
local function dispatch(obj, ev)
  local cur = interest[obj]
  if cur == nil then return end  -- removed since the poller's wait
  local stale = false
  if ev ~= "w" and cur ~= "w" then
    local co = readers[obj]
    if co then step(co, nil) else stale = true end
  end
  if ev ~= "r" and cur ~= "r" then
    local co = writers[obj]
    if co then step(co, nil) else stale = true end
  end
  if stale and interest[obj] ~= nil then register(obj, wanted(obj)) end
end

-- resumes the tasks queued before this turn
local function runqueue()
  local last = qtail
  while qhead <= last do
    local i = qhead
    local co, why = qco[i], qwhy[i]
    qco[i], qwhy[i], qhead = nil, nil, i + 1
    step(co, why)
  end
  if qhead > qtail then qhead, qtail = 1, 0 end
end

-- resumes the tasks whose deadline has passed
local function runtimers()
  local now = monotime()
  while hn > 0 and hdl[1] <= now do
    local co = hco[1]
    removetimer(co)
    step(co, "ETIMEDOUT")
  end
end

-- waits for events, a deadline or (with a queue) nothing, and handles
-- the events
local function poll()
  local timeout = -1
  if qhead <= qtail then timeout = 0
  elseif hn > 0 then
    timeout = hdl[1] - monotime()
    if timeout < 0 then timeout = 0 end
  end
  if poller == nil then
    if timeout < 0 then
      error("sockit.run: tasks wait but nothing can wake them", 0)
    end
    if timeout > 0 then core.sleep(timeout) end
    return
  end
  local n, msg, code = p_wait(poller, timeout)
  if not n then
    error(("sockit.run: waiting for events failed: %s (%s)"):format(msg,
          code), 0)
  end
  for i = 1, n do
    local obj, ev = p_ready(poller, i)
    if obj ~= nil then dispatch(obj, ev) end
  end
end

-- with no task left, nothing may keep a handle alive: drop the poller
local function reset()
  if poller then poller:close() end
  poller, p_wait, p_ready = nil, nil, nil
  interest = {}
end

-- Only tasks sleeping forever are left, and nothing can wake them: they
-- end with the loop, their to-be-closed variables closed.
local function endparked(onerror)
  local co = next(parked)
  while co do
    unpark(co)
    sleepers[co], tasks[co], ntasks = nil, nil, ntasks - 1
    local ok, err = coclose(co)
    if ok then ended(co) else failed(co, err, onerror) end
    co = next(parked)
  end
end

local function turns(onerror)
  while ntasks > nparked do
    runqueue()
    if ntasks == nparked then break end
    poll()
    if hn > 0 then runtimers() end
  end
  endparked(onerror)
end

-- run([onerror]) -> true once no task is left, or only tasks sleeping
-- forever (those end). A task's error is raised from here with the task's
-- traceback, the other tasks staying suspended (a later run() goes on with
-- them), unless onerror(err, task, traceback) handles it.
function loop.run(onerror)
  if onerror ~= nil and not callable(onerror) then
    util.argerror(1, "run", "function expected, got " .. type(onerror))
  end
  if tasks[running()] then util.error("sockit.run called inside a task") end
  if active then util.error("sockit.run is already running") end
  active, onerror_ = true, onerror
  -- no task yields across this pcall: they yield to it
  local ok, err = pcall(turns, onerror)
  active, onerror_ = false, nil
  if not ok then error(err, 0) end
  reset()
  return true
end

-- the message and code of a wake-up reason
function loop.fail(why)
  return nil, strerror(why), why
end

return loop
