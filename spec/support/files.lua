-- Temporary directories, Unix socket paths and whole-file reads and writes.
--
--   local files = require("support.files")
--   ... files.tmppath() ...
--   after_each(files.cleanup)

local env = require("support.env")
local fds = require("support.fds")

local files = {}

-- A fresh directory /tmp/PREFIX.XXXXXX that the caller removes.
function files.mkdtemp(prefix)
  local p = assert(io.popen("mktemp -d /tmp/" .. prefix .. ".XXXXXX"))
  local dir = p:read("l")
  p:close()
  assert(dir and #dir > 0, "mktemp -d failed")
  return dir
end

local tmpdirs = {}
-- A fresh temporary directory, removed by files.cleanup().
function files.tmpdir()
  local dir = files.mkdtemp("sockit-spec")
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

-- A path for a Unix socket inside a fresh temporary directory.
function files.tmppath(name)
  return files.tmpdir() .. "/" .. (name or "sock")
end

-- An abstract-namespace name no other process uses.
function files.abstract(prefix)
  return string.format("\0%s-%d-%08x", prefix or "sockit-spec", fds.pid(),
                       math.random(0, 0x7fffffff))
end

-- A FIFO opened for reading and writing (so the open never blocks), which
-- `defer` (the test's `finally`) closes: the file, which writes into it,
-- and its descriptor number, for what takes a descriptor that is not a
-- socket.
function files.fifo(defer)
  local path = files.tmppath("fifo")
  assert(os.execute("mkfifo " .. env.quote(path)))
  local f = assert(io.open(path, "r+"))
  defer(function() f:close() end)
  return f, assert(fds.for_path(path))
end

-- Removes every directory made by files.tmpdir().
function files.cleanup()
  for i = #tmpdirs, 1, -1 do
    os.execute("rm -rf " .. env.quote(tmpdirs[i]))
    tmpdirs[i] = nil
  end
end

-- Whatever a spec forgot to clean up goes when this module is collected
-- (at the latest when the Lua state closes).
files.sentinel = setmetatable({}, {__gc = function() files.cleanup() end})

-- The whole content of a file, read in binary mode.
function files.read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

-- Writes `data` to a file in binary mode, replacing what it held.
function files.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

return files
