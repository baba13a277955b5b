-- Shared helpers for the busted specs.
--
--   local H = dofile("spec/support/helpers.lua")
--   local core = H.core()
--
-- Specs run from the repository root. The helpers use the sockit.core the
-- runner's paths find (build/ or build-asan/), fall back to build/, and
-- give child processes the same modules.

local H = {}

local function cwd()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir
end

H.root = os.getenv("SOCKIT_ROOT") or cwd()
H.lua = os.getenv("LUA") or "lua5.4"

-- Where sockit.core comes from: whatever the runner configured (busted's
-- cpath, LUA_CPATH: build/ or build-asan/), else the work tree's build/.
local function prepend(path, dirs)
  if path:find(dirs, 1, true) then return path end
  return dirs .. path
end
local sofile = package.searchpath("sockit.core", package.cpath)
if not sofile then
  package.cpath = prepend(package.cpath, H.root .. "/build/?.so;")
  sofile = H.root .. "/build/sockit/core.so"
end
if sofile:sub(1, 1) ~= "/" then sofile = H.root .. "/" .. sofile end
H.sofile = sofile
if not package.searchpath("sockit", package.path) then
  package.path = prepend(package.path, H.root .. "/lua/?.lua;" .. H.root
                         .. "/lua/?/init.lua;")
end

-- The same modules for a child lua5.4.
H.LUA_PATH = H.root .. "/lua/?.lua;" .. H.root .. "/lua/?/init.lua;;"
H.LUA_CPATH = sofile:gsub("/sockit/core%.so$", "") .. "/?.so;;"

-- The C module; raises if it is not built.
function H.core()
  return require("sockit.core")
end

-- Shell-quotes one word.
function H.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local pid
-- This process's id, read from /proc (Lua has no getpid).
function H.pid()
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
function H.fdcount()
  local p = assert(io.popen("ls -l /proc/" .. H.pid() .. "/fd"))
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
function H.fd_for_path(target)
  local p = assert(io.popen("cd /proc/" .. H.pid() .. "/fd && for f in *; do"
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
function H.fdflags(fd)
  local f = io.open("/proc/self/fdinfo/" .. fd)
  if not f then return nil end
  local flags = f:read("a"):match("flags:%s*(%d+)")
  f:close()
  return tonumber(flags, 8)
end

H.O_NONBLOCK = 2048  -- 04000 on Linux
H.O_CLOEXEC = 524288  -- 02000000: fdinfo shows close-on-exec this way

function H.nonblocking(fd)
  return H.fdflags(fd) & H.O_NONBLOCK ~= 0
end

function H.cloexec(fd)
  return H.fdflags(fd) & H.O_CLOEXEC ~= 0
end

local tmpdirs = {}
-- A fresh temporary directory, removed by H.cleanup().
function H.tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/sockit-spec.XXXXXX"))
  local dir = p:read("l")
  p:close()
  assert(dir and #dir > 0, "mktemp -d failed")
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

-- A path for a Unix socket inside a fresh temporary directory.
function H.tmppath(name)
  return H.tmpdir() .. "/" .. (name or "sock")
end

-- An abstract-namespace name no other process uses.
function H.abstract(prefix)
  return string.format("\0%s-%d-%08x", prefix or "sockit-spec", H.pid(),
                       math.random(0, 0x7fffffff))
end

-- A FIFO opened for reading and writing (so the open never blocks), which
-- `defer` (the test's `finally`) closes: the file, which writes into it,
-- and its descriptor number, for what takes a descriptor that is not a
-- socket.
function H.fifo(defer)
  local path = H.tmppath("fifo")
  assert(os.execute("mkfifo " .. H.quote(path)))
  local f = assert(io.open(path, "r+"))
  defer(function() f:close() end)
  return f, assert(H.fd_for_path(path))
end

-- Removes every directory made by H.tmpdir().
function H.cleanup()
  for i = #tmpdirs, 1, -1 do
    os.execute("rm -rf " .. H.quote(tmpdirs[i]))
    tmpdirs[i] = nil
  end
end

-- Whatever a spec forgot to clean up goes when the helpers are collected
-- (at the latest when the Lua state closes).
H.sentinel = setmetatable({}, {__gc = function() H.cleanup() end})

-- Writes `code` to a temporary file and starts it in a child lua5.4 with
-- the work tree's module paths; returns the io.popen handle (mode "r":
-- read the child's stdout, `close` gives ok, "exit", status).
-- `args` are passed as the script's arguments (...).
function H.spawn(code, args)
  local script = H.tmpdir() .. "/child.lua"
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  -- a child waiting for a peer that a failed spec never started must not
  -- hang the whole run: it gets a deadline (exit status 124 past it)
  local cmd = {"timeout", "-k", "5", os.getenv("SOCKIT_CHILD_TIMEOUT") or "300",
               "env", "LUA_PATH=" .. H.quote(H.LUA_PATH),
               "LUA_CPATH=" .. H.quote(H.LUA_CPATH),
               "LUA_INIT=", H.quote(H.lua), H.quote(script)}
  for _, a in ipairs(args or {}) do cmd[#cmd + 1] = H.quote(a) end
  cmd[#cmd + 1] = "2>&1"
  return assert(io.popen(table.concat(cmd, " ")))
end

-- Runs `code` in a child lua5.4 to the end: output, ok, how, status.
function H.run(code, args)
  local p = H.spawn(code, args)
  local out = p:read("a")
  local ok, how, status = p:close()
  return out, ok, how, status
end

-- A port that nothing listens on right now (bound, then closed).
function H.freeport(host)
  local core = H.core()
  host = host or "127.0.0.1"
  local s = core.socket(host:find(":") and "inet6" or "inet", "stream")
  assert(s:bind(host, 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- A listening TCP socket on host (default 127.0.0.1), port 0: sock, port.
function H.listener(host, backlog)
  local core = H.core()
  host = host or "127.0.0.1"
  local s = core.socket(host:find(":") and "inet6" or "inet", "stream")
  assert(s:bind(host, 0))
  assert(s:listen(backlog))
  local _, port = s:getsockname()
  return s, port
end

-- A connected TCP pair over loopback: client, server side.
function H.tcppair(host)
  local core = H.core()
  host = host or "127.0.0.1"
  local l, port = H.listener(host)
  local c = core.socket(host:find(":") and "inet6" or "inet", "stream")
  assert(c:connect(host, port))
  local a = assert(l:accept())
  l:close()
  return c, a
end

-- Reads exactly n bytes from a blocking socket (or fewer at end of stream).
function H.recvall(s, n)
  local parts, got = {}, 0
  while got < n do
    local data, err, code = s:recv(n - got)
    if not data then return nil, err, code end
    if data == "" then break end
    parts[#parts + 1] = data
    got = got + #data
  end
  return table.concat(parts)
end

-- Sends all of data on a blocking socket.
function H.sendall(s, data)
  local i = 1
  while i <= #data do
    local n, err, code = s:send(data, i)
    if not n then return nil, err, code end
    i = i + n
  end
  return true
end

-- Checks a fail tuple: nil, a message string, then the expected code.
-- Gives back the message for further checks.
function H.fails(code, ...)
  local n = select("#", ...)
  local v, msg, got = ...
  assert(v == nil, "expected a fail tuple, got " .. tostring(v), 2)
  assert(type(msg) == "string" and #msg > 0,
         "fail tuple without a message (" .. tostring(msg) .. ")", 2)
  assert(n == 3, "fail tuple of " .. n .. " values", 2)
  if type(code) == "table" then
    for _, c in ipairs(code) do
      if c == got then return msg end
    end
    error(("expected code in {%s}, got %s (%s)"):format(
      table.concat(code, ", "), tostring(got), msg), 2)
  end
  assert(got == code, ("expected code %s, got %s (%s)"):format(
    code, tostring(got), msg), 2)
  return msg
end

-- `n` bytes of varied content (every byte value, zeros included).
function H.bytes(n, seed)
  seed = seed or 7
  local t = {}
  for i = 1, 256 do t[i] = string.char((i * 31 + seed) % 256) end
  local block = table.concat(t)
  return block:rep(n // 256 + 1):sub(1, n)
end

-- The error message `fn(...)` raised; fails if it returned instead.
function H.raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return err
end

-- A socketpair that `defer` (the test's `finally`) closes: a, b.
function H.pair(defer, stype)
  local a, b = H.core().socketpair(stype)
  defer(function() a:close(); b:close() end)
  return a, b
end

-- A backlog-0 listener with a full queue (new connects stay pending): listener, port, fill.
function H.full_listener(defer, tries, pause)
  local core = H.core()
  local l, port = H.listener("127.0.0.1", 0)
  local fill = {}
  defer(function()
    for _, c in ipairs(fill) do c:close() end
    l:close()
  end)
  for _ = 1, tries do
    local c = core.socket("inet", "stream"):settimeout(0)
    fill[#fill + 1] = c
    local ok, _, code = c:connect("127.0.0.1", port)
    assert(ok or code == "EINPROGRESS", code)
    -- a connection the listener took completes at once over loopback
    if not c:wait("w", pause) then return l, port, fill end
  end
  error("the accept queue of a backlog-0 listener never filled")
end

-- The soft limit on descriptors this process (and its children) may open.
function H.nofile()
  local sh = assert(io.popen("ulimit -n"))
  local n = sh:read("l")
  sh:close()
  return n == "unlimited" and math.huge or tonumber(n)
end

-- The whole content of a file, read in binary mode.
function H.read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

-- Writes `data` to a file in binary mode, replacing what it held.
function H.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- Shell prefix giving a command the work tree's module paths.
H.ENV = ("env LUA_PATH=%s LUA_CPATH=%s LUA_INIT= "):format(
  H.quote(H.LUA_PATH), H.quote(H.LUA_CPATH))
-- Shell prefix that runs a Lua script (append its path and arguments).
H.LUA = H.ENV .. H.quote(H.lua) .. " "

-- Starts `cmd` via `echo $$; exec`, reading pid and first line "listening HOST PORT".
function H.start(cmd)
  local pipe = assert(io.popen("echo $$; exec " .. cmd, "r"))
  local child = { pipe = pipe, pid = tonumber(pipe:read("l")) }
  child.line = pipe:read("l")
  local host, port = (child.line or ""):match("^listening (%S+) (%d+)$")
  child.host, child.port = host, tonumber(port)
  return child
end

-- Waits for an H.start child to end by itself: ok, how, status as io.close gives.
function H.wait(child)
  local pipe = child.pipe
  child.pipe = nil
  return pipe:close()
end

-- Kills an H.start child (if any, and still running) and waits for it.
function H.stop(child)
  if child and child.pipe then
    os.execute("kill " .. child.pid .. " 2>/dev/null")
    H.wait(child)
  end
end

-- Runs shell command `cmd` to the end with `input` on stdin: status, stdout, stderr.
function H.exec(cmd, input)
  local dir = H.tmpdir()
  H.write_file(dir .. "/in", input or "")
  local pipe = assert(io.popen(("%s <%s 2>%s"):format(
    cmd, H.quote(dir .. "/in"), H.quote(dir .. "/err"))))
  local out = pipe:read("a")
  local _, _, status = pipe:close()
  return status, out, H.read_file(dir .. "/err")
end

-- Starts `cmd` (stdin `input` or /dev/null) -> finish() giving status, stdout, stderr.
function H.background(cmd, input)
  local dir = H.tmpdir()
  local stdin = "/dev/null"
  if input then
    stdin = H.quote(dir .. "/in")
    H.write_file(dir .. "/in", input)
  end
  local pipe = assert(io.popen(("%s <%s >%s 2>%s"):format(
    cmd, stdin, H.quote(dir .. "/out"), H.quote(dir .. "/err"))))
  return function()
    local _, _, status = pipe:close()
    return status, H.read_file(dir .. "/out"), H.read_file(dir .. "/err")
  end
end

return H
