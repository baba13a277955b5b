-- sendmail.lua: send one e-mail message to an SMTP server.
--
--   lua5.4 examples/sendmail.lua --from ADDR --to ADDR [--to ADDR...]
--          [--subject TEXT] [--body TEXT] [--host H] [--port P]
--          [--helo NAME] [--timeout SECONDS] [--cafile PEM] [--user NAME]
--
-- The body is read from stdin unless --body is given. The host defaults to
-- "localhost" and the port to the "smtp" service (25).
--
-- When the server offers STARTTLS the session moves to TLS before anything
-- else is sent, with the server's certificate checked against the system's
-- store (or --cafile) and the name --host; a failed check ends the session.
-- With --user it then logs in with AUTH PLAIN, the password coming from the
-- environment variable SMTP_PASSWORD (a command line is visible to every
-- user of the machine); credentials are never sent without TLS.
--
-- This is the reference example of the classic BSD client flow, written with
-- sockit.core calls one to one: look the host up with gethostbyname, the
-- port with getservbyname, create a socket, connect it. The connected socket
-- is then wrapped in a sockit Stream, which gives buffered line reading for
-- the server's replies.
--
-- Exit status: 0 when the server accepted the message, 1 when anything went
-- wrong (the message on stderr says what), 2 for a usage error.

local core = require("sockit.core")
local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local USAGE = [[
usage: sendmail.lua --from ADDR --to ADDR [--to ADDR...] [--subject TEXT]
                    [--body TEXT] [--host H] [--port P] [--helo NAME]
                    [--timeout SECONDS] [--cafile PEM] [--user NAME]
(the password for --user is taken from the environment: SMTP_PASSWORD)
]]

local function fail(...)
  io.stderr:write("sendmail: ", ...)
  io.stderr:write("\n")
  os.exit(1)
end

local function usage(msg)
  if msg then io.stderr:write("sendmail: ", msg, "\n") end
  io.stderr:write(USAGE)
  os.exit(2)
end

local function parse_args(argv)
  local opts = { host = "localhost", to = {}, subject = "", timeout = 60 }
  local i = 1
  while i <= #argv do
    local name, value = argv[i], argv[i + 1]
    if value == nil then usage("missing value after " .. name) end
    if name == "--to" then
      opts.to[#opts.to + 1] = value
    elseif name == "--port" then
      opts.port = integer(value) or usage("--port wants an integer")
    elseif name == "--timeout" then
      opts.timeout = tonumber(value) or usage("--timeout wants a number")
    elseif name == "--from" or name == "--subject" or name == "--body"
        or name == "--host" or name == "--helo" or name == "--cafile"
        or name == "--user" then
      opts[name:sub(3)] = value
    else
      usage("unknown option " .. name)
    end
    i = i + 2
  end
  if not opts.from or #opts.to == 0 then usage("--from and --to are required") end
  if opts.user then
    opts.password = os.getenv("SMTP_PASSWORD") or usage("--user needs SMTP_PASSWORD set")
  end
  -- A CR or LF in a header or envelope value would let it inject commands.
  local values = { opts.from, opts.subject, opts.helo or "", opts.user or "" }
  for _, to in ipairs(opts.to) do values[#values + 1] = to end
  for _, v in ipairs(values) do
    if v:find("[\r\n]") then usage("line breaks are not allowed in addresses or subject") end
  end
  return opts
end

-- The classic flow: name -> address, service -> port, socket, connect.
local function open_connection(host, port, timeout)
  local addr, err, code = core.gethostbyname(host)
  if not addr then fail("cannot resolve ", host, ": ", err, " (", code, ")") end
  if not port then
    port, err, code = core.getservbyname("smtp", "tcp")
    if not port then fail("no port for the smtp service: ", err, " (", code, ")") end
  end
  local sock = core.socket("inet", "stream")
  sock:settimeout(timeout)
  local ok
  ok, err, code = sock:connect(addr, port)
  if not ok then
    sock:close()
    fail("cannot connect to ", addr, " port ", port, ": ", err, " (", code, ")")
  end
  -- From here on the Stream owns the socket and its timeout.
  local stream = sockit.stream(sock)
  stream:settimeout(timeout)
  return stream
end

-- Reads one reply, single or multi-line ("250-first", "250-second",
-- "250 last"), and returns its code and text (lines joined with "\n").
local function read_reply(conn)
  local code, texts = nil, {}
  repeat
    local line, err, ecode = conn:read("l")
    if not line then
      fail("reading the server's reply: ", err or "connection closed by the server",
           ecode and " (" .. ecode .. ")" or "")
    end
    local lcode, sep, text = line:match("^(%d%d%d)([ -]?)(.*)$")
    if not lcode or (sep == "" and text ~= "") then
      fail("malformed reply line: ", line)
    end
    if code and lcode ~= code then
      fail("reply code changed inside a multi-line reply: ", line)
    end
    code = lcode
    texts[#texts + 1] = text
  until sep ~= "-"
  return tonumber(code), table.concat(texts, "\n")
end

local function send(conn, ...)
  local ok, err, code = conn:write(...)
  if not ok then fail("sending to the server: ", err, " (", code, ")") end
end

-- Sends a command line and checks that its reply code is one of `expected`.
local function command(conn, line, expected)
  if line then send(conn, line, "\r\n") end
  local code, text = read_reply(conn)
  for _, want in ipairs(expected) do
    if code == want then return code, text end
  end
  fail("server refused ", line or "the connection", ": ", code, " ", text)
end

-- The extensions an EHLO reply lists ("STARTTLS", "AUTH" -> "PLAIN LOGIN"),
-- keyed by upper-case keyword; the reply's first line is the greeting.
local function extensions(text)
  local ext, first = {}, true
  for line in text:gmatch("[^\n]+") do
    if not first then
      local keyword, params = line:match("^(%S+)%s*(.*)$")
      if keyword then ext[keyword:upper()] = params:upper() end
    end
    first = false
  end
  return ext
end

-- EHLO, or HELO when the server is too old for it: the extensions.
local function hello(conn, hostname)
  send(conn, "EHLO ", hostname, "\r\n")
  local code, text = read_reply(conn)
  if code == 250 then return extensions(text) end
  command(conn, "HELO " .. hostname, { 250 })
  return {}
end

-- RFC 3207: after 220 to STARTTLS, the handshake; then everything learnt
-- before it is forgotten and the client greets again. starttls refuses
-- ("EPROTO") when the server sent more than its 220 reply: plaintext
-- bytes waiting there could otherwise be read later as if protected.
local function starttls(conn, opts, hostname)
  command(conn, "STARTTLS", { 220 })
  local ok, err, code = conn:starttls({ cafile = opts.cafile, servername = opts.host })
  if not ok then fail("STARTTLS with ", opts.host, " failed: ", err, " (", code, ")") end
  return hello(conn, hostname)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Base64 (RFC 4648) with arithmetic only: Lua 5.1 has no bit operators.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local quad = {}
    for k = 1, 4 do
      local v = math.floor(n / 64 ^ (4 - k)) % 64
      quad[k] = B64:sub(v + 1, v + 1)
    end
    if not c then quad[4] = "=" end
    if not b then quad[3] = "=" end
    out[#out + 1] = table.concat(quad)
  end
  return table.concat(out)
end

-- AUTH PLAIN (RFC 4616): authorization id (empty), user, password.
local function login(conn, opts, ext)
  if not conn:tls() then fail("the server offers no STARTTLS: not sending a password") end
  if not (ext.AUTH and (" " .. ext.AUTH .. " "):find(" PLAIN ", 1, true)) then
    fail("the server does not offer AUTH PLAIN")
  end
  command(conn, "AUTH PLAIN " .. base64("\0" .. opts.user .. "\0" .. opts.password), { 235 })
end

local function angle(addr)
  if addr:match("^<.*>$") then return addr end
  return "<" .. addr .. ">"
end

-- Header block then body, with CRLF line endings and dot-stuffing: a line
-- starting with "." gets one more, so the server cannot take it for the end
-- of the data (RFC 5321 4.5.2). Returns the text to send after DATA.
local function message_text(opts, hostname, body)
  local lines = {
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S +0000"),
    "From: " .. opts.from,
    "To: " .. table.concat(opts.to, ", "),
    "Subject: " .. opts.subject,
    ("Message-ID: <%d.%08x@%s>"):format(os.time(), math.random(0, 0x7fffffff), hostname),
    "",
  }
  -- Split on LF or CRLF; a last line without a newline still counts.
  if body ~= "" and body:sub(-1) ~= "\n" then body = body .. "\n" end
  for line in body:gmatch("(.-)\r?\n") do
    lines[#lines + 1] = line
  end
  for i, line in ipairs(lines) do
    if line:sub(1, 1) == "." then line = "." .. line end
    lines[i] = line .. "\r\n"
  end
  lines[#lines + 1] = ".\r\n"
  return table.concat(lines)
end

local function main(argv)
  local opts = parse_args(argv)
  local body = opts.body or io.read("*a")
  local hostname = opts.helo or core.gethostname()

  local conn = open_connection(opts.host, opts.port, opts.timeout)
  command(conn, nil, { 220 })                 -- the greeting
  local ext = hello(conn, hostname)
  if ext.STARTTLS then ext = starttls(conn, opts, hostname) end
  if opts.user then login(conn, opts, ext) end
  command(conn, "MAIL FROM:" .. angle(opts.from), { 250 })
  for _, rcpt in ipairs(opts.to) do
    command(conn, "RCPT TO:" .. angle(rcpt), { 250, 251 })
  end
  command(conn, "DATA", { 354 })
  send(conn, message_text(opts, hostname, body))
  command(conn, nil, { 250 })                 -- the reply to the final "."
  command(conn, "QUIT", { 221 })
  conn:close()
  io.stderr:write("sendmail: message accepted for ", table.concat(opts.to, ", "), "\n")
end

main(arg)
