-- demo.lua: the e-mail round trip that `make demo` shows.
--
-- 1. starts examples/smtp_sink.lua on a free loopback port (--port 0) as a
--    child process and reads the port from its first line;
-- 2. sends a message to it with examples/sendmail.lua (the body has a line
--    starting with a dot, which must survive the trip);
-- 3. prints the message as the sink stored it and checks the body;
-- 4. stops the sink. Exit status 0 when all went well.
--
-- Run it from the top of the work tree (the Makefile sets LUA_PATH and
-- LUA_CPATH so that `require("sockit")` finds the work tree's modules).

local LUA = arg[-1] or "lua5.4"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function say(...)
  io.stdout:write("demo: ", ...)
  io.stdout:write("\n")
  io.stdout:flush()
end

local sink = {}          -- pid and pipe of the child, once it runs
local out_file = os.tmpname()

local function cleanup()
  if sink.pid then os.execute("kill " .. sink.pid .. " 2>/dev/null") end
  if sink.pipe then sink.pipe:close() end
  sink = {}
  os.remove(out_file)
end

local function die(...)
  io.stderr:write("demo: ", ...)
  io.stderr:write("\n")
  cleanup()
  os.exit(1)
end

-- The shell prints its pid and then becomes the sink (exec), so the first
-- line is the pid to stop it with, the second the sink's "listening" line.
local function start_sink()
  local cmd = ("echo $$; exec %s examples/smtp_sink.lua --port 0 --count 1 --out %s")
    :format(quote(LUA), quote(out_file))
  sink.pipe = io.popen(cmd, "r")
  sink.pid = tonumber(sink.pipe:read("l"))
  if not sink.pid then die("could not start the sink") end
  local line = sink.pipe:read("l")
  local host, port = (line or ""):match("^listening (%S+) (%d+)$")
  if not host then die("the sink did not start: ", line or "no output") end
  return host, tonumber(port)
end

-- The sink exits by itself after one message; closing the pipe waits for it.
local function stop_sink()
  local ok, how, status = sink.pipe:close()
  sink = {}
  if not ok then die("the sink ended badly (", how, " ", status, ")") end
end

local function send_message(host, port, body)
  local cmd = ("%s examples/sendmail.lua --host %s --port %d --from %s --to %s --subject %s")
    :format(quote(LUA), quote(host), port, quote("alice@example.org"),
            quote("bob@example.org"), quote("Hello from sockit"))
  local pipe = io.popen(cmd, "w")
  pipe:write(body)
  local ok, how, status = pipe:close()
  if not ok then die("sendmail failed (", how, " ", status, ")") end
end

local function main()
  local body = table.concat({
    "Hi Bob,",
    "",
    "this message went through sockit twice: sendmail.lua sent it,",
    "smtp_sink.lua received it. The next line starts with a dot:",
    ". <- this dot was doubled on the wire and undoubled by the sink",
    "",
    "Alice",
  }, "\n") .. "\n"

  say("starting the SMTP sink on a free loopback port")
  local host, port = start_sink()
  say("the sink listens on ", host, " port ", port)

  say("sending a message with sendmail.lua")
  send_message(host, port, body)

  say("waiting for the sink to finish")
  stop_sink()

  local f = io.open(out_file, "rb")
  local stored = f and f:read("*a") or die("the sink wrote nothing")
  f:close()
  say("the sink received:")
  io.stdout:write(stored)

  -- The body as the sink stored it: after the blank line ending the headers.
  local data = stored:match("\nDATA %d+ bytes\n(.*)=== end of message 1\n$")
  local received_body = data and data:match("^.-\r\n\r\n(.*)$")
  if received_body ~= body:gsub("\n", "\r\n") then
    die("the body the sink received differs from the one sent")
  end
  say("the body arrived intact, including the line starting with a dot")
  os.remove(out_file)
end

main()
