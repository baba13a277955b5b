-- The e-mail examples: examples/smtp_sink.lua, examples/sendmail.lua and
-- examples/demo.lua, run as child processes against each other, against
-- Debian's aiosmtpd (an SMTP server written elsewhere) and against scripted
-- servers this spec plays itself.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local servers = require("support.tlsservers")
local sockit = require("sockit")

local q = env.quote
local LUA = env.LUA

local read_file = files.read
local start, wait, stop, run = proc.start, proc.wait, proc.stop, proc.exec
local background = proc.background

local function sendmail(port, args)
  return LUA .. "examples/sendmail.lua --host 127.0.0.1 --port " .. port .. " " .. args
end

-- A body with the lines SMTP transparency is about: leading dots, a lone
-- dot, two dots, a line that is only "..", an empty line, a CRLF line.
local BODY = table.concat({
  "Hello Bob,",
  ".",
  ".leading dot",
  "..two dots",
  "..",
  "",
  "a line ending in CRLF\r",
  "last line, no newline",
}, "\n")
local BODY_WIRE = table.concat({
  "Hello Bob,", ".", ".leading dot", "..two dots", "..", "",
  "a line ending in CRLF", "last line, no newline", "",
}, "\r\n")

-- Checks the whole message data byte for byte; Date and Message-ID vary,
-- so their form is checked and their value taken from the message.
local function check_message(data, subject, to)
  local date = data:match("^Date: ([^\r\n]*)\r\n")
  local msgid = data:match("\r\nMessage%-ID: ([^\r\n]*)\r\n")
  assert.is_truthy(date and date:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %+0000$"))
  assert.is_truthy(msgid and msgid:match("^<[^@<>]+@[^@<>]+>$"))
  local expected = "Date: " .. date .. "\r\n"
    .. "From: alice@example.org\r\n"
    .. "To: " .. to .. "\r\n"
    .. "Subject: " .. subject .. "\r\n"
    .. "Message-ID: " .. msgid .. "\r\n"
    .. "\r\n"
    .. BODY_WIRE
  assert.are.equal(expected, data)
end

-- Splits what smtp_sink.lua stored into its messages.
local function parse_sink_output(text)
  local messages = {}
  local pos = 1
  while pos <= #text do
    local head_end, n, host = select(2, text:find("^=== message (%d+) from (%S+) port %d+\n", pos))
    assert.is_truthy(head_end, "bad sink output at " .. pos)
    local m = { n = tonumber(n), host = host, rcpts = {} }
    pos = head_end + 1
    local s, e, from = text:find("^MAIL FROM:(%b<>)\n", pos)
    assert.is_truthy(s)
    m.from, pos = from, e + 1
    while true do
      local rs, re, rcpt = text:find("^RCPT TO:(%b<>)\n", pos)
      if not rs then break end
      m.rcpts[#m.rcpts + 1], pos = rcpt, re + 1
    end
    local ds, de, size = text:find("^DATA (%d+) bytes\n", pos)
    assert.is_truthy(ds)
    m.data = text:sub(de + 1, de + tonumber(size))
    pos = de + tonumber(size) + 1
    local es, ee = text:find("^=== end of message " .. n .. "\n", pos)
    assert.is_truthy(es)
    pos = ee + 1
    messages[#messages + 1] = m
  end
  return messages
end

-- One SMTP reply read by the spec acting as a client: code, lines.
local function reply(conn)
  local lines, code = {}, nil
  repeat
    local line = assert(conn:read("L"))
    local c, sep = line:match("^(%d%d%d)([ -]?)")
    assert.is_truthy(c, "not a reply line: " .. line)
    assert.is_truthy(line:sub(-2) == "\r\n", "reply line without CRLF")
    assert.is_truthy(code == nil or c == code, "code changed inside a multi-line reply")
    code = c
    lines[#lines + 1] = line:sub(1, -3)
  until sep ~= "-"
  return tonumber(code), lines
end

local function cmd(conn, line)
  assert(conn:write(line, "\r\n"))
  return (reply(conn))
end

describe("examples/smtp_sink.lua", function()
  local sink, out, conn

  before_each(function()
    out = files.tmpdir() .. "/mail"
    sink = start(LUA .. "examples/smtp_sink.lua --port 0 --out " .. q(out))
    assert.is_truthy(sink.port, "the sink did not start: " .. tostring(sink.line))
    conn = assert(sockit.connect("127.0.0.1", sink.port))
    assert.are.equal(220, (reply(conn)))
  end)

  after_each(function()
    if conn then conn:close() end
    stop(sink)
    files.cleanup()
  end)

  it("prints the port it picked on its first line", function()
    assert.are.equal("127.0.0.1", sink.host)
    assert.is_true(sink.port > 0)
  end)

  it("answers EHLO with a multi-line 250 reply", function()
    assert(conn:write("EHLO client.example\r\n"))
    local code, lines = reply(conn)
    assert.are.equal(250, code)
    assert.is_true(#lines > 1)
    for i = 1, #lines - 1 do assert.are.equal("250-", lines[i]:sub(1, 4)) end
    assert.are.equal("250 ", lines[#lines]:sub(1, 4))
  end)

  it("accepts HELO and lower-case commands", function()
    assert.are.equal(250, cmd(conn, "helo client.example"))
    assert.are.equal(250, cmd(conn, "mail from:<a@example.org>"))
    assert.are.equal(250, cmd(conn, "rcpt to:<b@example.org>"))
  end)

  it("wants a domain after EHLO and HELO", function()
    assert.are.equal(501, cmd(conn, "EHLO"))
    assert.are.equal(501, cmd(conn, "HELO"))
  end)

  it("rejects MAIL before EHLO/HELO with 503", function()
    assert.are.equal(503, cmd(conn, "MAIL FROM:<a@example.org>"))
  end)

  it("rejects RCPT before MAIL with 503", function()
    assert.are.equal(250, cmd(conn, "EHLO client.example"))
    assert.are.equal(503, cmd(conn, "RCPT TO:<b@example.org>"))
  end)

  it("rejects DATA without a recipient with 503", function()
    assert.are.equal(250, cmd(conn, "EHLO client.example"))
    assert.are.equal(503, cmd(conn, "DATA"))
    assert.are.equal(250, cmd(conn, "MAIL FROM:<a@example.org>"))
    assert.are.equal(503, cmd(conn, "DATA"))
  end)

  it("rejects a second MAIL in one transaction with 503", function()
    assert.are.equal(250, cmd(conn, "EHLO client.example"))
    assert.are.equal(250, cmd(conn, "MAIL FROM:<a@example.org>"))
    assert.are.equal(503, cmd(conn, "MAIL FROM:<c@example.org>"))
  end)

  it("answers malformed MAIL and RCPT with 501", function()
    assert.are.equal(250, cmd(conn, "EHLO client.example"))
    assert.are.equal(501, cmd(conn, "MAIL a@example.org"))
    assert.are.equal(250, cmd(conn, "MAIL FROM:<>"))
    assert.are.equal(501, cmd(conn, "RCPT TO:<>"))
    assert.are.equal(501, cmd(conn, "RCPT b@example.org"))
  end)

  it("answers unknown commands with 500 and unimplemented ones with 502", function()
    assert.are.equal(500, cmd(conn, "FOO bar"))
    assert.are.equal(500, cmd(conn, ""))
    assert.are.equal(500, cmd(conn, "12345"))
    assert.are.equal(502, cmd(conn, "VRFY bob"))
    -- The session goes on after them.
    assert.are.equal(250, cmd(conn, "NOOP"))
  end)

  it("forgets the transaction on RSET", function()
    assert.are.equal(250, cmd(conn, "EHLO client.example"))
    assert.are.equal(250, cmd(conn, "MAIL FROM:<a@example.org>"))
    assert.are.equal(250, cmd(conn, "RCPT TO:<b@example.org>"))
    assert.are.equal(250, cmd(conn, "RSET"))
    assert.are.equal(503, cmd(conn, "DATA"))
    assert.are.equal(503, cmd(conn, "RCPT TO:<b@example.org>"))
    -- A new transaction starts cleanly after it.
    assert.are.equal(250, cmd(conn, "MAIL FROM:<c@example.org>"))
  end)

  it("closes the connection after 221 on QUIT", function()
    assert.are.equal(221, cmd(conn, "QUIT"))
    assert.is_nil(conn:read("l"))
  end)

  it("answers a line over the stream's line limit with 500 and hangs up", function()
    assert(conn:write(("x"):rep(100000), "\r\n"))
    assert.are.equal(500, (reply(conn)))
    -- The sink closes with part of the line unread, so the kernel may end
    -- the connection with a reset rather than a clean end of stream.
    local line, _, code = conn:read("l")
    assert.is_nil(line)
    assert.is_true(code == nil or code == "ECONNRESET")
  end)

  it("stores a pipelined message with its envelope, dots unstuffed", function()
    -- All commands in one write: the sink must answer them in order.
    assert(conn:write("EHLO client.example\r\n",
                      "MAIL FROM:<a@example.org> BODY=8BITMIME\r\n",
                      "RCPT TO:<b@example.org>\r\n",
                      "RCPT TO:<c@example.org>\r\n",
                      "DATA\r\n",
                      "Subject: dots\r\n\r\n",
                      "..one\r\n", "...two\r\n", "..\r\n", "plain\r\n",
                      ".\r\n",
                      "QUIT\r\n"))
    local codes = {}
    for i = 1, 7 do codes[i] = (reply(conn)) end
    assert.are.same({ 250, 250, 250, 250, 354, 250, 221 }, codes)
    assert.is_nil(conn:read("l"))
    conn:close()
    conn = nil
    stop(sink)
    local messages = parse_sink_output(read_file(out))
    assert.are.equal(1, #messages)
    assert.are.equal("<a@example.org>", messages[1].from)
    assert.are.same({ "<b@example.org>", "<c@example.org>" }, messages[1].rcpts)
    assert.are.equal("127.0.0.1", messages[1].host)
    assert.are.equal("Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nplain\r\n", messages[1].data)
  end)
end)

describe("examples/smtp_sink.lua --count", function()
  after_each(files.cleanup)

  it("exits by itself after N messages", function()
    local out = files.tmpdir() .. "/mail"
    local sink = start(LUA .. "examples/smtp_sink.lua --port 0 --count 2 --out " .. q(out))
    finally(function() stop(sink) end)
    assert.is_truthy(sink.port)
    for i = 1, 2 do
      local status, _, err = run(sendmail(sink.port,
        "--from alice@example.org --to bob@example.org --subject " .. q("n" .. i)), BODY)
      assert.are.equal(0, status, err)
    end
    local ok, how, status = wait(sink)
    assert.are.same({ true, "exit", 0 }, { ok, how, status })
    local messages = parse_sink_output(read_file(out))
    assert.are.same({ 1, 2 }, { messages[1].n, messages[2].n })
    check_message(messages[2].data, "n2", "bob@example.org")
  end)
end)

describe("examples/sendmail.lua", function()
  after_each(files.cleanup)

  it("delivers a message to the sink byte for byte", function()
    local out = files.tmpdir() .. "/mail"
    local sink = start(LUA .. "examples/smtp_sink.lua --port 0 --count 1 --out " .. q(out))
    finally(function() stop(sink) end)
    assert.is_truthy(sink.port)
    local status, _, err = run(sendmail(sink.port,
      "--from alice@example.org --to bob@example.org --to carol@example.org"
      .. " --subject " .. q("Greetings")), BODY)
    assert.are.equal(0, status, err)
    assert.are.same({ true, "exit", 0 }, { wait(sink) })
    local messages = parse_sink_output(read_file(out))
    assert.are.equal(1, #messages)
    assert.are.equal("<alice@example.org>", messages[1].from)
    assert.are.same({ "<bob@example.org>", "<carol@example.org>" }, messages[1].rcpts)
    check_message(messages[1].data, "Greetings", "bob@example.org, carol@example.org")
  end)

  it("takes the body from --body", function()
    local out = files.tmpdir() .. "/mail"
    local sink = start(LUA .. "examples/smtp_sink.lua --port 0 --count 1 --out " .. q(out))
    finally(function() stop(sink) end)
    local status, _, err = run(sendmail(sink.port,
      "--from alice@example.org --to bob@example.org --subject s --body " .. q(BODY)))
    assert.are.equal(0, status, err)
    wait(sink)
    check_message(parse_sink_output(read_file(out))[1].data, "s", "bob@example.org")
  end)

  describe("against aiosmtpd, a server written elsewhere", function()
    local server, out

    before_each(function()
      server = servers.smtp_store()
      out = server.mail
    end)

    after_each(function()
      servers.stop(server)
    end)

    it("delivers the message byte for byte, dot lines included", function()
      local status, _, err = run(sendmail(server.port,
        "--from alice@example.org --to bob@example.org --to carol@example.org"
        .. " --subject " .. q("From sockit")), BODY)
      assert.are.equal(0, status, err)
      local text = read_file(out)
      local head, size, first = text:match("^(.-)DATA (%d+) bytes\n()")
      assert.are.equal("MAIL FROM:<alice@example.org>\n"
        .. "RCPT TO:<bob@example.org>\nRCPT TO:<carol@example.org>\n", head)
      local data = text:sub(first)
      assert.are.equal(tonumber(size), #data)
      check_message(data, "From sockit", "bob@example.org, carol@example.org")
    end)

    it("sends several messages, one connection each", function()
      for i = 1, 3 do
        local status, _, err = run(sendmail(server.port,
          "--from alice@example.org --to bob@example.org --subject m" .. i), BODY)
        assert.are.equal(0, status, err)
      end
      local _, count = read_file(out):gsub("MAIL FROM:<alice@example.org>\n", "")
      assert.are.equal(3, count)
    end)
  end)

  describe("against a scripted server", function()
    local listener, port

    before_each(function()
      listener = assert(sockit.listen("127.0.0.1", 0))
      port = select(2, listener:address())
    end)

    after_each(function()
      listener:close()
      files.cleanup()
    end)

    -- Starts sendmail, accepts its connection and plays `script`, a list of
    -- {expected command pattern or false, reply [, reply after the data]};
    -- gives the commands the client sent, sendmail's status and stderr.
    -- Both sides time out after 10 s, so a broken exchange fails quickly.
    local function session(script, args)
      local finish = background(sendmail(port, args or
        "--from alice@example.org --to bob@example.org --subject s"
        .. " --helo client.example --timeout 10"), BODY)
      local conn = assert(listener:accept())
      conn:settimeout(10)
      local sent = {}
      for _, step in ipairs(script) do
        local pattern, answer = step[1], step[2]
        if pattern then
          local line = conn:read("L")
          if not line then break end
          sent[#sent + 1] = line
          assert.is_truthy(line:match(pattern), "unexpected command " .. line)
        end
        if answer then assert(conn:write(answer)) end
        if step[3] then
          -- After 354: the message, up to the lone dot, then the last reply.
          repeat local line = assert(conn:read("L")) until line == ".\r\n"
          assert(conn:write(step[3]))
        end
      end
      conn:close()
      local status, _, err = finish()
      return sent, status, err
    end

    it("reads multi-line replies and falls back to HELO when EHLO is refused", function()
      local sent, status, err = session({
        { false, "220-first greeting line\r\n220-second\r\n220 ready\r\n" },
        { "^EHLO client%.example\r\n$", "502 5.5.1 EHLO not supported\r\n" },
        { "^HELO client%.example\r\n$", "250 hello\r\n" },
        { "^MAIL FROM:<alice@example%.org>\r\n$", "250 ok\r\n" },
        { "^RCPT TO:<bob@example%.org>\r\n$", "251 will forward\r\n" },
        { "^DATA\r\n$", "354 go ahead\r\n", "250-queued\r\n250 as 12\r\n" },
        { "^QUIT\r\n$", "221 bye\r\n" },
      })
      assert.are.equal(0, status, err)
      assert.are.equal(6, #sent)
    end)

    it("fails with status 1 when a recipient is refused", function()
      local sent, status, err = session({
        { false, "220 ready\r\n" },
        { "^EHLO ", "250-hello\r\n250 SIZE 1000\r\n" },
        { "^MAIL ", "250 ok\r\n" },
        { "^RCPT ", "550 5.1.1 no such user\r\n" },
        { "^QUIT\r\n$", "221 bye\r\n" },
      })
      assert.are.equal(1, status)
      assert.is_truthy(err:find("550", 1, true))
      -- It stops at the refusal: no DATA is sent.
      assert.are.equal(3, #sent)
    end)

    it("fails with status 1 when the server greets with 554", function()
      local sent, status = session({ { false, "554 go away\r\n" } })
      assert.are.equal(1, status)
      assert.are.equal(0, #sent)
    end)

    it("fails with status 1 when the server hangs up", function()
      local _, status = session({ { false, "220 ready\r\n" }, { "^EHLO " } })
      assert.are.equal(1, status)
    end)

    it("fails with status 1 on a malformed reply", function()
      local _, status = session({ { false, "hello there\r\n" } })
      assert.are.equal(1, status)
    end)

    it("fails when a multi-line reply changes its code", function()
      local _, status = session({ { false, "220-ready\r\n250 odd\r\n" } })
      assert.are.equal(1, status)
    end)
  end)

  it("fails with status 1 and ECONNREFUSED when nothing listens", function()
    local args = "--from a@example.org --to b@example.org"
    local status, _, err = run(sendmail(net.freeport(), args), "")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("ECONNREFUSED", 1, true))
  end)

  it("fails with status 2 on a usage error", function()
    local status = run(LUA .. "examples/sendmail.lua --to b@example.org", "")
    assert.are.equal(2, status)
    status = run(LUA .. "examples/sendmail.lua --from a@example.org --to "
      .. q("b@example.org\r\nRCPT TO:<c@example.org>"), "")
    assert.are.equal(2, status)
  end)
end)

describe("examples/demo.lua", function()
  it("runs the round trip and exits 0", function()
    local status, out, err = run(LUA .. "examples/demo.lua")
    assert.are.equal(0, status, err)
    assert.is_truthy(out:find("DATA %d+ bytes\n"))
    assert.is_truthy(out:find("\n%. <%- this dot"))
  end)
end)
