-- smtp_sink.lua: a small SMTP server that accepts every message and prints it.
--
--   lua5.4 examples/smtp_sink.lua [--host H] [--port P] [--count N] [--out FILE]
--
-- It speaks the part of RFC 5321 a mail client needs (EHLO/HELO, MAIL, RCPT,
-- DATA, RSET, NOOP, QUIT) and serves one connection at a time. Its first line
-- on stdout is "listening <host> <port>", so a parent process started with
-- --port 0 learns which port the system picked. Each accepted message is then
-- written to FILE (or stdout) as:
--
--   === message 1 from 127.0.0.1 port 40124
--   MAIL FROM:<alice@example.org>
--   RCPT TO:<bob@example.org>
--   DATA 142 bytes
--   <exactly 142 bytes: the message, CRLF line endings, dots unstuffed>
--   === end of message 1
--
-- With --count N it exits once N messages were accepted and that client has
-- finished its session.

local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local USAGE = "usage: smtp_sink.lua [--host H] [--port P] [--count N] [--out FILE]\n"

local function parse_args(argv)
  local opts = { host = "127.0.0.1", port = 2525 }
  local i = 1
  while i <= #argv do
    local name, value = argv[i], argv[i + 1]
    if value == nil then
      io.stderr:write(USAGE)
      os.exit(2)
    elseif name == "--host" or name == "--out" then
      opts[name:sub(3)] = value
    elseif name == "--port" or name == "--count" then
      opts[name:sub(3)] = integer(value)
      if not opts[name:sub(3)] then
        io.stderr:write("smtp_sink: ", name, " wants an integer\n")
        os.exit(2)
      end
    else
      io.stderr:write(USAGE)
      os.exit(2)
    end
    i = i + 2
  end
  return opts
end

-- A session is one client connection. It keeps the envelope being built
-- (sender and recipients) and writes each finished message to `out`.
local Session = {}
Session.__index = Session

local function new_session(stream, host, port, out, counter)
  return setmetatable({
    stream = stream, host = host, port = port, out = out,
    counter = counter, greeted = false,
    from = nil, rcpts = {},
  }, Session)
end

function Session:reply(...)
  return self.stream:write(...)
end

function Session:reset()
  self.from, self.rcpts = nil, {}
end

-- "FROM:<addr> [parameters]" gives "<addr>"; the keyword is case-insensitive
-- and ESMTP parameters after the path are accepted and ignored.
local function path_arg(arg, keyword)
  if arg:sub(1, #keyword + 1):upper() ~= keyword .. ":" then return nil end
  return arg:sub(#keyword + 2):match("^%s*(<[^>]*>)")
end

local commands = {}

function commands.HELO(s, arg)
  if arg == "" then return s:reply("501 Syntax: HELO hostname\r\n") end
  s.greeted = true
  s:reset()
  return s:reply("250 sockit-sink\r\n")
end

function commands.EHLO(s, arg)
  if arg == "" then return s:reply("501 Syntax: EHLO hostname\r\n") end
  s.greeted = true
  s:reset()
  -- A multi-line reply: every line but the last has a "-" after the code.
  return s:reply("250-sockit-sink greets ", arg, "\r\n",
                 "250-8BITMIME\r\n",
                 "250-PIPELINING\r\n",
                 "250 HELP\r\n")
end

function commands.MAIL(s, arg)
  if not s.greeted then return s:reply("503 Send EHLO or HELO first\r\n") end
  if s.from then return s:reply("503 Nested MAIL command\r\n") end
  local path = path_arg(arg, "FROM")
  if not path then return s:reply("501 Syntax: MAIL FROM:<address>\r\n") end
  s.from = path
  return s:reply("250 OK\r\n")
end

function commands.RCPT(s, arg)
  if not s.from then return s:reply("503 Need MAIL before RCPT\r\n") end
  local path = path_arg(arg, "TO")
  if not path or path == "<>" then
    return s:reply("501 Syntax: RCPT TO:<address>\r\n")
  end
  s.rcpts[#s.rcpts + 1] = path
  return s:reply("250 OK\r\n")
end

function commands.DATA(s, arg)
  if not s.from then return s:reply("503 Need MAIL command\r\n") end
  if #s.rcpts == 0 then return s:reply("503 Need RCPT command\r\n") end
  if arg ~= "" then return s:reply("501 Syntax: DATA\r\n") end
  local ok, err, code = s:reply("354 End data with <CR><LF>.<CR><LF>\r\n")
  if not ok then return nil, err, code end
  local lines = {}
  while true do
    local line, rerr, rcode = s.stream:read("l")  -- "l" drops the CRLF
    if not line then return nil, rerr, rcode end
    if line == "." then break end
    -- Dot-unstuffing (RFC 5321 4.5.2): the client doubled every leading dot.
    if line:sub(1, 1) == "." then line = line:sub(2) end
    lines[#lines + 1] = line .. "\r\n"
  end
  s:store(table.concat(lines))
  s:reset()
  return s:reply("250 OK: message ", s.counter.n, " accepted\r\n")
end

function commands.RSET(s, arg)
  if arg ~= "" then return s:reply("501 Syntax: RSET\r\n") end
  s:reset()
  return s:reply("250 OK\r\n")
end

function commands.NOOP(s)
  return s:reply("250 OK\r\n")
end

function commands.QUIT(s)
  s.done = true
  return s:reply("221 Bye\r\n")
end

-- Known commands this sink does not implement get 502, not 500.
for _, name in ipairs({ "VRFY", "EXPN", "HELP", "TURN", "ETRN", "STARTTLS", "AUTH" }) do
  commands[name] = function(s) return s:reply("502 Command not implemented\r\n") end
end

function Session:store(data)
  local counter = self.counter
  counter.n = counter.n + 1
  local out = self.out
  out:write(("=== message %d from %s port %s\n"):format(counter.n, self.host, self.port))
  out:write("MAIL FROM:", self.from, "\n")
  for _, rcpt in ipairs(self.rcpts) do out:write("RCPT TO:", rcpt, "\n") end
  out:write(("DATA %d bytes\n"):format(#data), data)
  out:write(("=== end of message %d\n"):format(counter.n))
  out:flush()
end

-- Runs the dialogue until QUIT, end of stream or an error.
function Session:run()
  local ok, err, code = self:reply("220 sockit-sink ESMTP ready\r\n")
  while ok and not self.done do
    local line
    line, err, code = self.stream:read("l")
    if not line then
      if code == "EMSGSIZE" then self:reply("500 Line too long\r\n") end
      break
    end
    local verb, arg = line:match("^(%a+)%s?(.*)$")
    local handler = verb and commands[verb:upper()]
    if handler then
      ok, err, code = handler(self, arg)
    else
      ok, err, code = self:reply("500 Command not recognized\r\n")
    end
  end
  if err and code ~= nil then
    io.stderr:write("smtp_sink: ", self.host, ": ", err, " (", code, ")\n")
  end
end

local function main(argv)
  local opts = parse_args(argv)
  local out = io.stdout
  if opts.out then out = assert(io.open(opts.out, "ab")) end

  local server = assert(sockit.listen(opts.host, opts.port))
  local host, port = server:address()
  io.stdout:write(("listening %s %d\n"):format(host, port))
  io.stdout:flush()

  local counter = { n = 0 }
  while not opts.count or counter.n < opts.count do
    local stream, peer, peer_port = server:accept()
    if stream then
      -- RFC 5321 4.5.3.2 suggests five minutes before giving up on a client.
      stream:settimeout(300)
      new_session(stream, peer, peer_port, out, counter):run()
      stream:close()
    else
      io.stderr:write("smtp_sink: accept: ", tostring(peer), "\n")
    end
  end
  server:close()
  if out ~= io.stdout then out:close() end
end

main(arg)
