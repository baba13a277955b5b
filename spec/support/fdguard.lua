-- Descriptor-leak guard for a busted run.
--
--   busted --helper=spec/support/fdguard.lua spec
--   (or helper = "spec/support/fdguard.lua" in .busted)
--
-- Lists the open descriptors of the busted process when each spec file
-- starts and again when it ends, after two full garbage collections (a
-- handle that is no longer reachable has been closed by then). A
-- descriptor open at the end that was not open at the start is an error
-- of that file, reported with what it points to (socket:[...], pipe:[...],
-- a path), so the run fails and names the file that leaked.
--
-- The listing comes from /proc/<pid>/fd, read by a child shell; the pipe
-- that carries the listing back is left out of it, so it is never counted.

require("support.polyfill")
local busted = require("busted")

local function pid()
  local f = assert(io.open("/proc/self/stat"))
  local id = f:read("a"):match("^(%d+)")
  f:close()
  return id
end

local PID = pid()

-- The child compares each link with its own stdout, the listing pipe. It
-- runs without the sanitizer runtimes make asan preloads: not under test.
local LIST = "exec env -u LD_PRELOAD sh -c '"
  .. "self=$(readlink /proc/$$/fd/1); cd /proc/" .. PID .. "/fd && "
  .. "for f in *; do t=$(readlink \"$f\") || continue; "
  .. "[ \"$t\" = \"$self\" ] || printf \"%s %s\\n\" \"$f\" \"$t\"; done'"

-- fd number -> link target, for every descriptor open now
local function snapshot()
  collectgarbage("collect")
  collectgarbage("collect")
  local p = assert(io.popen(LIST))
  local fds = {}
  for line in p:lines() do
    local fd, target = line:match("^(%d+) (.*)$")
    if fd then fds[tonumber(fd)] = target end
  end
  p:close()
  return fds
end

-- "7 -> socket:[1234], 9 -> pipe:[99]" for the descriptors of `after`
-- that `before` does not have, or nil
local function growth(before, after)
  local new = {}
  for fd, target in pairs(after) do
    if before[fd] == nil then new[#new + 1] = fd .. " -> " .. target end
  end
  if #new == 0 then return nil end
  table.sort(new)
  return table.concat(new, ", ")
end

-- busted keeps only the last function a test gives `finally` (busted
-- 2.x, busted/init.lua): what an earlier one closes would be left to the
-- collector, which closes it late or, under valgrind on LuaJIT, after the
-- listing (a leak reported against the wrong cause). Every function given
-- runs here, the last first, and the first error is raised once all ran.
local function runall(fns)
  local failure
  for i = #fns, 1, -1 do
    local ok, err = pcall(fns[i])
    if not ok and failure == nil then failure = {err} end
  end
  if failure then error(failure[1], 0) end
end

busted.subscribe({"test", "start"}, function(element)
  local set = element.env and element.env.finally
  if set then
    local fns = {}
    element.env.finally = function(fn)
      fns[#fns + 1] = fn
      set(function() runall(fns) end)
    end
  end
  return nil, true
end)

local open = {}

busted.subscribe({"file", "start"}, function(file)
  open[file] = snapshot()
  return nil, true
end)

busted.subscribe({"file", "end"}, function(file)
  local before = open[file]
  open[file] = nil
  if before then
    local leaked = growth(before, snapshot())
    if leaked then
      error(("descriptor leak: %s still open after %s: %s"):format(
        leaked:find(",") and "descriptors" or "descriptor", file.name,
        leaked), 0)
    end
  end
  return nil, true
end)
