-- sockit.proto: trying a protocol by hand, then scripting it.
--
--   local proto = require("sockit.proto")
--   local conn = proto.wrap(assert(sockit.connect("localhost", 6379)))
--   conn:sendline("PING")
--   print(assert(conn:expect("^%+(%a+)\r\n", 5)))     --> PONG
--   conn:interact()                  -- the terminal takes over
--
-- wrap() gives a Stream three methods of its own: expect, sendline and
-- interact. interact() is the session bin/sockit runs: standard input is
-- read in one task (sockit.readfd), what the peer sends is shown in
-- another, lines starting with ":" are commands, and a transcript can be
-- written as a script that replays the session. Everything here uses the
-- public sockit API, but for two calls of the layer's own (wait.cancel,
-- stream.handshake), and parses on Lua 5.1 to 5.4.

local sockit = require("sockit")
local compat = require("sockit.compat")
local core = require("sockit.core")
local stream = require("sockit.stream")
local wait = require("sockit.wait")

local byte, char, find, format, gsub, sub =
  string.byte, string.char, string.find, string.format, string.gsub,
  string.sub
local concat = table.concat
local unpack = compat.unpack
local monotime = core.monotime

local proto = {}

local BLOCK = 64 * 1024          -- asked of one read while expecting
local EXPECTMAX = 1024 * 1024    -- the most expect holds without a match
local HEARDMAX = 64 * 1024       -- received text kept for the transcript
local LONGLINE = 64 * 1024       -- a line this long goes out before its end

-- stream -> its session: eol, hex, tty, log, input, offset, heard, bol
local sessions = setmetatable({}, {__mode = "k"})

local function argerror(arg, fname, msg)
  error(format("bad argument #%d to '%s' (%s)", arg, fname, msg), 3)
end

local function session(conn, fname)
  local s = type(conn) == "table" and sessions[conn]
  if not s then argerror(0, fname, "stream wrapped by proto.wrap expected") end
  return s
end


---------------------------------------------------------------- text

-- proto.quote(s) -> a Lua string literal for any bytes, readable as text
-- (\r, \n, \ddd)
local ESCAPES = {["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                 ["\\"] = "\\\\", ['"'] = '\\"'}
function proto.quote(s)
  return '"' .. gsub(s, '[%c"\\\128-\255]', function(c)
    return ESCAPES[c] or format("\\%03d", byte(c))
  end) .. '"'
end
local quote = proto.quote

-- the escapes of a Lua string that are one letter
local UNESCAPES = {n = "\n", r = "\r", t = "\t", a = "\a", b = "\b",
                   f = "\f", v = "\v", ["\\"] = "\\", ['"'] = '"',
                   ["'"] = "'"}
-- the bytes of the escape after a backslash at i, and the index after it
local function escape(text, i)
  local digits = text:match("^%d%d?%d?", i)
  if digits then
    local n = tonumber(digits)
    if n > 255 then error("decimal escape too large", 0) end
    return char(n), i + #digits
  end
  local c = sub(text, i, i)
  if c == "x" then
    local hex = text:match("^%x%x", i + 1)
    if not hex then error("\\x needs two hexadecimal digits", 0) end
    return char(tonumber(hex, 16)), i + 3
  end
  local e = UNESCAPES[c]
  if not e then error("invalid escape \\" .. c, 0) end
  return e, i + 1
end

-- proto.unescape(text) -> the bytes text stands for, in the escapes of a
-- Lua string (\n \r \t \0 \\ \" \xHH \ddd ...), quotes around it dropped
function proto.unescape(text)
  local q = sub(text, 1, 1)
  if (q == '"' or q == "'") and #text > 1 and sub(text, -1) == q then
    text = sub(text, 2, -2)
  end
  local out, i = {}, 1
  while true do
    local b = find(text, "\\", i, true)
    out[#out + 1] = sub(text, i, (b or 0) - 1)
    if not b then return concat(out) end
    local bytes, after = escape(text, b + 1)
    out[#out + 1], i = bytes, after
  end
end

-- the Lua pattern that matches `s` literally
local function literal(s)
  return (gsub(s, "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- hexdump -C lines for `data`, the first byte at `offset`. A full line
-- is one format of its 16 bytes (measured: twice as fast as building
-- its hex digits with gsub, the way the last, short line is built).
local LINE = "%08x  " .. ("%02x "):rep(8) .. " " .. ("%02x "):rep(8) .. " |"
local HEX = {}
for i = 0, 255 do HEX[char(i)] = format("%02x ", i) end

local function shortline(data, offset)
  local hex = gsub(sub(data, 1, 8), ".", HEX)
  if #data > 8 then hex = hex .. " " .. gsub(sub(data, 9), ".", HEX) end
  return format("%08x  %-49s |%s|\n", offset, hex,
                (gsub(data, "[^\32-\126]", ".")))
end

local function hexdump(data, offset)
  local out, n = {}, #data
  local full = n - n % 16
  local text = gsub(data, "[^\32-\126]", ".")
  for i = 1, full, 16 do
    out[#out + 1] = format(LINE, offset + i - 1, byte(data, i, i + 15))
    out[#out + 1] = sub(text, i, i + 15)
    out[#out + 1] = "|\n"
  end
  if full < n then out[#out + 1] = shortline(sub(data, full + 1), offset + full) end
  return concat(out)
end

-- what a message shows of received text: its last 200 bytes, quoted
local function shown(text)
  if #text > 200 then return "..." .. quote(sub(text, -200)) end
  return quote(text)
end


---------------------------------------------------------------- transcript

local function logline(s, line)
  if s.log then
    s.log:write(line, "\n")
    s.log:flush()
  end
end

-- what arrived since the last send goes into the transcript: each line as
-- a comment, then an expect of the last one, so a replay waits for it
local function logheard(s)
  local heard = s.heard
  if heard == "" or not s.log then return end
  s.heard = ""
  local last
  if sub(heard, -1) ~= "\n" then heard = heard .. "\n" end
  for line in heard:gmatch("([^\n]*)\n") do
    logline(s, "-- < " .. sub(quote(line), 2, -2))
    if line ~= "" and line ~= "\r" then last = line end
  end
  if last then
    last = gsub(last, "\r$", "")
    if #last > 60 then last = sub(last, -60) end
    logline(s, format("conn:expect(%s)", quote(literal(last))))
  end
end

-- log(s, code): the Lua line that replays a send, after what was heard
local function logsend(s, code)
  if not s.log then return end
  logheard(s)
  logline(s, code)
end

local function heard(s, data)
  if not s.log then return end
  local h = s.heard .. data
  if #h > HEARDMAX then h = sub(h, -HEARDMAX) end
  s.heard = h
end

-- startlog(s, file, what): the transcript goes to the open file `file`;
-- `what` is the command line it replays with
local function startlog(s, file, what)
  if s.log then
    logheard(s)
    s.log:close()
  end
  s.log, s.heard = file, ""
  if file then
    logline(s, "-- sockit transcript, a script for sockit -e" ..
            (what and (": " .. what) or ""))
  end
end


---------------------------------------------------------------- helpers

local function packn(...)
  return {n = select("#", ...), ...}
end

-- conn:expect(pattern [, timeout]) -> the pattern's captures, or the text
-- read up to the end of its match; or nil, msg, code, received. Reads
-- until `pattern` (a Lua pattern) matches what arrived; the bytes after
-- the match stay for the next read. timeout (seconds) covers the whole
-- call; without it, the stream's timeout. On a timeout, or when the
-- stream ends first (code "EOF"), nothing is consumed, and msg shows what
-- did arrive.
local function expect(conn, pattern, timeout)
  local s = session(conn, "expect")
  if type(pattern) ~= "string" then argerror(1, "expect", "string expected") end
  if timeout ~= nil and type(timeout) ~= "number" then
    argerror(2, "expect", "number expected")
  end
  local saved = conn:gettimeout()
  if timeout == nil then timeout = saved end
  if timeout and timeout < 0 then timeout = nil end
  local deadline = timeout and monotime() + timeout
  local got = ""
  while true do
    local m = packn(find(got, pattern))
    if m[1] then
      conn:unread(sub(got, m[2] + 1))
      heard(s, sub(got, 1, m[2]))
      if s.log then logsend(s, format("conn:expect(%s)", quote(pattern))) end
      if m.n > 2 then return unpack(m, 3, m.n) end
      return sub(got, 1, m[2])
    end
    local data, msg, code
    if #got > EXPECTMAX then
      msg, code = core.strerror("EMSGSIZE"), "EMSGSIZE"
    else
      local left = deadline and deadline - monotime()
      if left and left <= 0 then
        msg, code = core.strerror("ETIMEDOUT"), "ETIMEDOUT"
      else
        conn:settimeout(left)
        data, msg, code = conn:read_some(BLOCK)
        conn:settimeout(saved)
        if not data and not msg then msg, code = "end of stream", "EOF" end
      end
    end
    if not data then
      conn:unread(got)
      return nil, format("%s before %s matched (received %s)", msg,
                         quote(pattern), shown(got)), code, got
    end
    got = got .. data
  end
end

-- conn:sendline(line) -> conn, or the fail tuple of write: line and the
-- session's line end ("\n", or "\r\n" from wrap's eol)
local function sendline(conn, line)
  local s = session(conn, "sendline")
  if type(line) ~= "string" and type(line) ~= "number" then
    argerror(1, "sendline", "string expected")
  end
  logsend(s, format("conn:sendline(%s)", quote(tostring(line))))
  return conn:write(line, s.eol)
end


---------------------------------------------------------------- showing

local function notice(s, text)
  if s.notices then io.stderr:write("sockit: " .. text .. "\n") end
end

-- on a terminal, each received line starts with "< "
local function marked(s, data)
  local text = gsub(data, "\n(.)", "\n< %1")
  if s.bol then text = "< " .. text end
  s.bol = sub(data, -1) == "\n"
  return text
end

local function show(s, data)
  heard(s, data)
  local out = s.output
  if s.hex then out:write(hexdump(data, s.offset))
  elseif s.tty then out:write(marked(s, data))
  else out:write(data) end
  out:flush()
  s.offset = s.offset + #data
end


---------------------------------------------------------------- TLS

-- a time of a certificate (seconds since the epoch), in UTC
local function date(t)
  if type(t) ~= "number" then return tostring(t) end
  return os.date("!%Y-%m-%d %H:%M:%S UTC", t)
end

-- proto.tlsinfo(conn) -> a few lines about the TLS session of conn (from
-- conn:tls()): protocol, cipher, whether the peer was verified and its
-- certificate; nil on a plain stream
function proto.tlsinfo(conn)
  local info = type(conn) == "table" and type(conn.tls) == "function"
               and conn:tls()
  if not info then return nil end
  local lines = {format("TLS %s %s, %s", tostring(info.version),
                        tostring(info.cipher),
                        info.verified and "certificate verified"
                        or "certificate NOT verified")}
  local peer = info.peer
  if peer then
    lines[#lines + 1] = "subject: " .. tostring(peer.subject)
    lines[#lines + 1] = "issuer: " .. tostring(peer.issuer)
    lines[#lines + 1] = format("valid: %s to %s", date(peer.notbefore),
                               date(peer.notafter))
    if peer.names and #peer.names > 0 then
      lines[#lines + 1] = "names: " .. concat(peer.names, ", ")
    end
  else
    lines[#lines + 1] = "no certificate from the peer"
  end
  if info.alpn then lines[#lines + 1] = "alpn: " .. info.alpn end
  return concat(lines, "\n")
end

-- the exchanges that ask a server to start TLS: each sends its command
-- with CRLF and reads the replies, shown as notices
local function said(s, conn, line)
  notice(s, "> " .. line)
  local ok, msg, code = conn:write(line, "\r\n")
  if not ok then return nil, msg, code end
  return true
end

local function heardline(s, conn)
  local line, msg, code = conn:read("l")
  if not line then
    if msg then return nil, msg, code end
    return nil, "end of stream before TLS started", "EOF"
  end
  notice(s, "< " .. line)
  return line
end

local function refused(line)
  return nil, "the server refused: " .. line, "EPROTO"
end

-- a reply of SMTP or FTP: "NNN-" lines up to the "NNN " one; all its
-- text, if its code is `want`
local function coded(s, conn, want)
  local line, msg, code = heardline(s, conn)
  if not line then return nil, msg, code end
  local lines, n = {line}, line:match("^(%d%d%d)%-")
  while n do  -- FTP's inner lines need not start with the code
    line, msg, code = heardline(s, conn)
    if not line then return nil, msg, code end
    lines[#lines + 1] = line
    if line:match("^%d%d%d ") == n .. " " or line == n then n = nil end
  end
  if line:sub(1, 3) ~= want then return refused(line) end
  return concat(lines, "\n")
end

-- every step of an exchange in turn: a string is a line to send, a
-- function reads and checks a reply; the first failure ends it
local function steps(s, conn, list)
  for _, step in ipairs(list) do
    local ok, msg, code
    if type(step) == "string" then ok, msg, code = said(s, conn, step)
    else ok, msg, code = step(s, conn) end
    if not ok then return nil, msg, code end
  end
  return true
end

local function want(n)
  return function(s, conn) return coded(s, conn, n) end
end

local function smtpcaps(s, conn)
  local text, msg, code = coded(s, conn, "250")
  if not text then return nil, msg, code end
  if not text:upper():find("STARTTLS", 1, true) then
    return nil, "the server does not offer STARTTLS", "EPROTO"
  end
  return true
end

-- a POP3 reply: "+OK ..." or the refusal
local function pop3ok(s, conn)
  local line, msg, code = heardline(s, conn)
  if not line then return nil, msg, code end
  if line:sub(1, 3) ~= "+OK" then return refused(line) end
  return true
end

-- IMAP: the untagged greeting, then the tagged reply to a001
local function imapgreeting(s, conn)
  local line, msg, code = heardline(s, conn)
  if not line then return nil, msg, code end
  if not line:match("^%* OK") then return refused(line) end
  return true
end

local function imaptagged(s, conn)
  while true do
    local line, msg, code = heardline(s, conn)
    if not line then return nil, msg, code end
    local status = line:match("^a001 (%a+)")
    if status then
      if status:upper() ~= "OK" then return refused(line) end
      return true
    end
  end
end

local EXCHANGES = {
  smtp = {want("220"), "EHLO localhost", smtpcaps, "STARTTLS", want("220")},
  imap = {imapgreeting, "a001 STARTTLS", imaptagged},
  pop3 = {pop3ok, "STLS", pop3ok},
  ftp = {want("220"), "AUTH TLS", want("234")},
}

-- proto.starttls(conn, protocol [, opts]) -> conn, or nil, msg, code.
-- Has the server start TLS in its protocol's own way (protocol "smtp",
-- "imap", "pop3" or "ftp": EHLO then STARTTLS, a001 STARTTLS, STLS,
-- AUTH TLS), reading its greeting first, then upgrades the stream with
-- conn:starttls(opts) (opts true or nil: the defaults). A refusal fails
-- with code "EPROTO", the end of the stream with "EOF".
function proto.starttls(conn, protocol, opts)
  local s = session(conn, "starttls")
  local exchange = EXCHANGES[protocol]
  if not exchange then
    argerror(2, "starttls", "protocol smtp, imap, pop3 or ftp expected")
  end
  local ok, msg, code = steps(s, conn, exchange)
  if not ok then return nil, msg, code end
  if opts == true then opts = nil end
  ok, msg, code = conn:starttls(opts)
  if not ok then return nil, msg, code end
  return conn
end


---------------------------------------------------------------- commands

local commands = {}

function commands.quit(_, conn)
  conn:close()
  return "quit"
end

function commands.hex(s)
  s.hex = not s.hex
  notice(s, "hex dump " .. (s.hex and "on" or "off"))
end

function commands.send(s, conn, arg)
  local ok, data = pcall(proto.unescape, arg)
  if not ok then return notice(s, ":send: " .. data) end
  logsend(s, format("conn:write(%s)", quote(data)))
  local sent, msg, code = conn:write(data)
  if not sent then return "fail", msg, code end
end

-- load(code, name, env) on every Lua: 5.2+ takes env, 5.1 sets it after
local function compile(code, name, env)
  if setfenv then  -- luacheck: ignore 113
    local f, err = loadstring(code, name)  -- luacheck: ignore 113
    if f then setfenv(f, env) end  -- luacheck: ignore 113
    return f, err
  end
  return load(code, name, "t", env)
end

local function results(ok, ...)
  if not ok then return nil, ... end
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  return concat(t, "\t")
end

-- the environment of :lua, kept for the session: its globals stay
local function luaenv(s, conn)
  if not s.env then
    s.env = setmetatable({conn = conn, sockit = sockit}, {__index = _G})
  end
  return s.env
end

function commands.lua(s, conn, arg)
  local env = luaenv(s, conn)
  local f, err = compile("return " .. arg, "=:lua", env)
  if not f then f, err = compile(arg, "=:lua", env) end
  if not f then return notice(s, err) end
  local text
  text, err = results(sockit.pcall(f))  -- f may wait
  if not text then return notice(s, tostring(err)) end
  logline(s, "-- :lua " .. arg)
  if text ~= "" then
    s.output:write(text, "\n")
    s.output:flush()
  end
end

function commands.log(s, _, arg)
  if arg == "" then
    startlog(s, nil)
    return notice(s, "transcript closed")
  end
  local file, err = io.open(arg, "w")
  if not file then return notice(s, err) end
  startlog(s, file)
  notice(s, "transcript to " .. arg)
end

-- :tls upgrades in place: the output task, waiting to read the plain
-- stream, is woken (ECANCELED, s.paused) and waits while the handshake
-- runs here (s.upgrading)
function commands.tls(s, conn)
  if not s.tls then return notice(s, ":tls: no TLS for this session") end
  if not pcall(require, "sockit.tls") then
    return notice(s, ":tls: TLS is not available (sockit.tls not built)")
  end
  if conn:tls() then return notice(s, ":tls: the stream is TLS already") end
  s.upgrading, s.paused = true, true
  wait.cancel(conn.socket)
  local ok, msg, code = conn:starttls(s.tls ~= true and s.tls or nil)
  s.upgrading = false
  if s.outtask then wait.wake(s.outtask) end
  if ok then
    s.output:write(proto.tlsinfo(conn), "\n")
    s.output:flush()
    logline(s, "-- :tls")
  elseif code == "EPROTO" then  -- refused, the stream as it was
    notice(s, format(":tls: %s (%s)", tostring(msg), tostring(code)))
  else
    return "fail", msg, code
  end
end

local HELP = [[
:send "TEXT"  send TEXT exactly, escapes allowed (\r \n \0 \xHH \ddd)
:hex          hex dump of what arrives, on or off
:lua CODE     run Lua with conn (the stream) and sockit in scope
:log FILE     write a transcript, a script for sockit -e (":log" stops)
:tls          start TLS now (the server told to first), show the certificate
:quit         close the connection and end
::TEXT        send the line ":TEXT"]]

function commands.help(s)
  s.output:write(HELP, "\n")
  s.output:flush()
end

-- the command on a line of input -> what, msg, code when the input must
-- stop ("quit", "fail")
local function command(s, conn, line)
  local name, arg = line:match("^:(%a*)%s*(.-)%s*$")
  local f = commands[name or ""]
  if not f then
    return notice(s, format("unknown command %s (:help lists them)", line))
  end
  return f(s, conn, arg)
end

-- sends the parts gathered from the input in one write
local function flush(conn, out)
  if #out == 0 then return true end
  local ok, msg, code = conn:write(concat(out))
  for i = #out, 1, -1 do out[i] = nil end
  if not ok then return nil, msg, code end
  return true
end

-- the bytes of a line sent, and its transcript; a line that began as
-- a long one (s.midline) has its start sent already
local function gather(s, out, bytes, ending)
  if s.log then
    if s.midline or ending == "" then
      logsend(s, format("conn:write(%s)", quote(bytes .. ending)))
    else
      logsend(s, format("conn:sendline(%s)", quote(bytes)))
    end
  end
  out[#out + 1] = bytes
  out[#out + 1] = ending
  s.midline = ending == ""
end

-- feed(s, conn, text) -> what, msg, code when the input must stop. Each
-- whole line of text goes to the peer with the line end, or runs as a
-- command (":"; "::" sends one ":"), in order; the lines between two
-- commands go out in one write. The partial last line waits in s.pending,
-- unless it is long: then it goes as it is, its end when that comes.
local function feed(s, conn, text)
  local out, from = {}, 1
  while true do
    local e = find(text, "\n", from, true)
    if not e then break end
    local line = sub(text, from, byte(text, e - 1) == 13 and e - 2 or e - 1)
    from = e + 1
    local iscommand = not s.midline and sub(line, 1, 1) == ":"
    if iscommand and sub(line, 2, 2) == ":" then
      line, iscommand = sub(line, 2), false
    end
    if not iscommand then gather(s, out, line, s.eol) end
    if iscommand or s.datagram then  -- a datagram a line
      local ok, msg, code = flush(conn, out)
      if not ok then return "fail", msg, code end
    end
    if iscommand then
      local what, msg, code = command(s, conn, line)
      if what then return what, msg, code end
    end
  end
  local rest = sub(text, from)
  if #rest >= LONGLINE then  -- a "\r" at its end may be a line end's
    local keep = byte(rest, -1) == 13 and 1 or 0
    gather(s, out, sub(rest, 1, #rest - keep), "")
    rest = sub(rest, #rest - keep + 1)
  end
  s.pending = rest
  local ok, msg, code = flush(conn, out)
  if not ok then return "fail", msg, code end
end

-- the end of input: what is left goes, then the stream is half-closed
local function finish(s, conn)
  if s.pending ~= "" then
    gather(s, {}, s.pending, "")
    conn:write(s.pending)
  end
  logsend(s, 'conn:shutdown("w")')
  notice(s, "end of input; waiting for the peer to close")
  return "eof", conn:shutdown("w")
end

-- the input task: standard input until its end, a :quit, a failure or
-- the end of the session (`s.over`, when run wakes its wait with
-- ECANCELED)
local function input(s, conn)
  s.pending, s.midline = "", false
  while not s.over do
    local data, msg, code = sockit.readfd(s.input, BLOCK)
    if s.over then break end
    if data then
      local what
      what, msg, code = feed(s, conn, s.pending .. data)
      if what then return what, msg, code end
    elseif msg == nil then
      return finish(s, conn)
    else
      return "fail", msg, code
    end
  end
end

-- the output side: what arrives is shown until the peer closes, the
-- stream is closed (ECANCELED) or fails. A wait that :tls cancelled
-- (s.paused) goes on once the upgrade is over, parked until then.
local function output(s, conn)
  s.outtask = wait.current()
  while not conn.closed do  -- closed by the input task after a failure
    local data, msg, code = conn:read_some(BLOCK)
    if data then
      show(s, data)
    elseif code == "ECANCELED" and s.paused then
      s.paused = nil
      while s.upgrading do wait.sleep(math.huge) end
    elseif msg and code ~= "ECANCELED" then
      return nil, msg, code
    else
      return true
    end
  end
  return true
end

local function reportfail(what, msg, code)
  io.stderr:write(format("sockit: %s: %s (%s)\n", what, tostring(msg),
                         tostring(code)))
end

-- the session in the running task, the input in a task of its own ->
-- true, or the fail tuple of the side that failed
local function run(s, conn)
  local failure
  -- a TLS server's stream shakes hands at its first read or write: here,
  -- before two tasks read and write it at once
  if conn.tlsconn then
    local ok, msg, code = stream.handshake(conn)
    if not ok then
      reportfail("TLS handshake", msg, code)
      return nil, msg, code
    end
  end
  s.over = false
  sockit.spawn(function()
    local what, msg, code = input(s, conn)
    if what == "fail" then
      reportfail("send", msg, code)
      failure = {msg, code}
      conn:close()
    end
  end)
  local ok, msg, code = output(s, conn)
  s.over = true
  wait.cancel(s.input)  -- the input task, waiting for a line, ends now
  logheard(s)
  if not ok then reportfail("receive", msg, code) end
  notice(s, "connection closed")
  if ok and failure then return nil, failure[1], failure[2] end
  return ok, msg, code
end

-- isatty(fd) -> true when descriptor fd is a terminal
local function isatty(fd)
  local ok = os.execute("test -t " .. fd)
  return ok == true or ok == 0
end

-- conn:interact() -> true once the session is over, or the fail tuple of
-- the failure that ended it. Standard input goes to the peer line by line
-- (lines starting with ":" are commands), what arrives is shown, until
-- the peer closes, the input ends (then the stream is half-closed and the
-- peer's end awaited) or :quit. Inside a coroutine (a task) it runs in
-- that task; outside one it runs the scheduler until the session is over.
local function interact(conn)
  local s = session(conn, "interact")
  if s.tty == nil then s.tty = isatty(1) end
  if s.notices == nil then s.notices = isatty(s.input) end
  local saved = conn:gettimeout()
  conn:settimeout(nil)
  local ok, msg, code
  if coroutine.running() and compat.isyieldable() then
    ok, msg, code = run(s, conn)
  else
    sockit.spawn(function() ok, msg, code = run(s, conn) end)
    sockit.run()
  end
  pcall(conn.settimeout, conn, saved)  -- unless :quit closed it
  return ok, msg, code
end


---------------------------------------------------------------- wrap

local WRAP = {eol = "string", hex = "boolean", tty = "boolean",
              input = "number", output = "userdata", log = "string",
              notices = "boolean", datagram = "boolean", tls = "table"}

-- proto.wrap(stream [, opts]) -> stream, with conn:expect, conn:sendline
-- and conn:interact. opts: eol (the line end sendline adds, "\n" by
-- default), hex (show what arrives as a hex dump), log (a path: the
-- transcript), input (the descriptor read, 0), output (a file, io.stdout),
-- tty (mark received lines; default: whether stdout is a terminal),
-- notices (say what happens on stderr; default: whether input is one),
-- datagram (each line of input is a write of its own, for UDP).
function proto.wrap(conn, opts)
  if type(conn) ~= "table" or type(conn.read_some) ~= "function" then
    argerror(1, "wrap", "stream expected")
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    if WRAP[k] == nil then argerror(2, "wrap", "unknown option '" .. tostring(k) .. "'") end
    if type(v) ~= WRAP[k] and not (k == "tls" and type(v) == "boolean") then
      argerror(2, "wrap", format("option '%s': %s expected", k, WRAP[k]))
    end
  end
  local s = {eol = opts.eol or "\n", hex = opts.hex or false,
             tls = opts.tls == nil or opts.tls,
             tty = opts.tty, notices = opts.notices,
             datagram = opts.datagram or false,
             input = opts.input or 0, output = opts.output or io.stdout,
             offset = 0, heard = "", bol = true}
  if opts.log then
    local file, err = io.open(opts.log, "w")
    if not file then return nil, err end
    startlog(s, file)
  end
  sessions[conn] = s
  conn.expect, conn.sendline, conn.interact = expect, sendline, interact
  return conn
end

-- proto.log(conn, file, what): the transcript of conn's session goes to
-- the open file `file` from now on (nil stops it); `what` names the
-- command line that replays it, for its first line
function proto.log(conn, file, what)
  startlog(session(conn, "log"), file, what)
end

-- proto.close(conn): ends the transcript, with what was heard last
function proto.close(conn)
  local s = session(conn, "close")
  startlog(s, nil)
end

return proto
