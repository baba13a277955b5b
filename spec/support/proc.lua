-- Child processes: Lua scripts with the work tree's modules, servers that
-- announce their port, shell commands run to the end or in the background.
--
--   local proc = require("support.proc")

local env = require("support.env")
local files = require("support.files")

local proc = {}
local quote = env.quote

-- Writes `code` to a temporary file and starts it in a child lua5.4 with
-- the work tree's module paths; returns the io.popen handle (mode "r":
-- read the child's stdout, `close` gives ok, "exit", status).
-- `args` are passed as the script's arguments (...).
function proc.spawn(code, args)
  local script = files.tmpdir() .. "/child.lua"
  files.write(script, code)
  -- a child waiting for a peer that a failed spec never started must not
  -- hang the whole run: it gets a deadline (exit status 124 past it)
  local cmd = {"timeout", "-k", "5", os.getenv("SOCKIT_CHILD_TIMEOUT") or "300",
               "env", "LUA_PATH=" .. quote(env.LUA_PATH),
               "LUA_CPATH=" .. quote(env.LUA_CPATH),
               "LUA_INIT=" .. quote(env.init), quote(env.lua), quote(script)}
  for _, a in ipairs(args or {}) do cmd[#cmd + 1] = quote(a) end
  cmd[#cmd + 1] = "2>&1"
  return assert(io.popen(table.concat(cmd, " ")))
end

-- Runs `code` in a child lua5.4 to the end: output, ok, how, status.
function proc.run(code, args)
  local p = proc.spawn(code, args)
  local out = p:read("a")
  local ok, how, status = p:close()
  return out, ok, how, status
end

-- Starts `cmd` via `echo $$; exec`, reading pid and first line "listening HOST PORT".
function proc.start(cmd)
  local pipe = assert(io.popen("echo $$; exec " .. cmd, "r"))
  local child = { pipe = pipe, pid = tonumber(pipe:read("l")) }
  child.line = pipe:read("l")
  local host, port = (child.line or ""):match("^listening (%S+) (%d+)$")
  child.host, child.port = host, tonumber(port)
  return child
end

-- Waits for a proc.start child to end by itself: ok, how, status as io.close gives.
function proc.wait(child)
  local pipe = child.pipe
  child.pipe = nil
  return pipe:close()
end

-- Kills a proc.start child (if any, and still running) and waits for it.
function proc.stop(child)
  if child and child.pipe then
    os.execute("kill " .. child.pid .. " 2>/dev/null")
    proc.wait(child)
  end
end

-- Runs shell command `cmd` to the end with `input` on stdin: status, stdout, stderr.
function proc.exec(cmd, input)
  local dir = files.tmpdir()
  files.write(dir .. "/in", input or "")
  local pipe = assert(io.popen(("%s <%s 2>%s"):format(
    cmd, quote(dir .. "/in"), quote(dir .. "/err"))))
  local out = pipe:read("a")
  local _, _, status = pipe:close()
  return status, out, files.read(dir .. "/err")
end

-- Starts `cmd` (stdin `input` or /dev/null) -> finish() giving status, stdout, stderr.
function proc.background(cmd, input)
  local dir = files.tmpdir()
  local stdin = "/dev/null"
  if input then
    stdin = quote(dir .. "/in")
    files.write(dir .. "/in", input)
  end
  local pipe = assert(io.popen(("%s <%s >%s 2>%s"):format(
    cmd, stdin, quote(dir .. "/out"), quote(dir .. "/err"))))
  return function()
    local _, _, status = pipe:close()
    return status, files.read(dir .. "/out"), files.read(dir .. "/err")
  end
end

return proc
