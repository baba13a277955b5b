-- This process's descriptors and limits, as /proc and the shell show them.
--
--   local fds = require("support.fds")

local fds = {}

local pid
-- This process's id, read from /proc (Lua has no getpid).
function fds.pid()
  if not pid then
    local f = assert(io.open("/proc/self/stat"))
    pid = tonumber(f:read("a"):match("^(%d+)"))
    f:close()
  end
  return pid
end

-- Number of open descriptors of this process, pipes left out: the pipe
-- io.popen lists them through has both ends open or only one, depending on
-- when the child looks, so counting it would make two counts differ.
function fds.count()
  local p = assert(io.popen("ls -l /proc/" .. fds.pid() .. "/fd"))
  local n = 0
  for line in p:lines() do
    if line:find(" -> ", 1, true) and not line:find("-> pipe:", 1, true) then
      n = n + 1
    end
  end
  p:close()
  return n
end

-- Descriptor number whose /proc link is `target` (a file path), or nil.
function fds.for_path(target)
  local p = assert(io.popen("cd /proc/" .. fds.pid() .. "/fd && for f in *; do"
    .. " printf '%s %s\\n' \"$f\" \"$(readlink \"$f\")\"; done"))
  local found
  for line in p:lines() do
    local fd, link = line:match("^(%d+) (.*)$")
    if link == target then found = tonumber(fd) end
  end
  p:close()
  return found
end

-- File status flags of one of our descriptors (from /proc/self/fdinfo),
-- or nil if it is not open.
function fds.flags(fd)
  local f = io.open("/proc/self/fdinfo/" .. fd)
  if not f then return nil end
  local flags = f:read("a"):match("flags:%s*(%d+)")
  f:close()
  return tonumber(flags, 8)
end

fds.O_NONBLOCK = 2048  -- 04000 on Linux
fds.O_CLOEXEC = 524288  -- 02000000: fdinfo shows close-on-exec this way

function fds.nonblocking(fd)
  return math.floor(fds.flags(fd) / fds.O_NONBLOCK) % 2 == 1
end

function fds.cloexec(fd)
  return math.floor(fds.flags(fd) / fds.O_CLOEXEC) % 2 == 1
end

-- The soft limit on descriptors this process (and its children) may open.
function fds.nofile()
  local sh = assert(io.popen("ulimit -n"))
  local n = sh:read("l")
  sh:close()
  return n == "unlimited" and math.huge or tonumber(n)
end

return fds
