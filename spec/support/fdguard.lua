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
