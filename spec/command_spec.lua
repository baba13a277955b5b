-- bin/sockit, the command: driven through pipes and through a
-- pseudo-terminal (spec/support/ptydrive.py plays the user at the
-- keyboard), against real servers on free loopback ports: redis-server,
-- nginx, examples/smtp_sink.lua, curl as the client of `sockit listen`,
-- and peers this spec plays itself.

local env = require("support.env")
local files = require("support.files")
local net = require("support.net")
local proc = require("support.proc")
local servers = require("support.tlsservers")
local core = env.core()

local q = env.quote
local read_file, write_file = files.read, files.write

-- The sanitizer runtimes `make asan` preloads go to the command only: the
-- servers, python3 and curl are not under test.
local PRELOAD = os.getenv("LD_PRELOAD")
local SOCKIT = (PRELOAD and ("env LD_PRELOAD=" .. q(PRELOAD) .. " ") or "")
  .. env.ENV .. q(env.lua) .. " bin/sockit "
local CLEAN = "env -u LD_PRELOAD "
local PYTHON = CLEAN .. "/usr/bin/python3 "
local HAS_TLS, TLS = pcall(require, "sockit.tls")

after_each(files.cleanup)

-- runs the command to its end with `input` on stdin (pipes, no terminal):
-- status, stdout, stderr
local function sockit(args, input)
  return proc.exec(SOCKIT .. args, input)
end

-- runs the command on a pseudo-terminal, steps being ptydrive's
-- arguments: what the terminal showed, and the exit status
local function pty(args, steps)
  local cmd = PYTHON .. "spec/support/ptydrive.py " .. steps
    .. " -- " .. SOCKIT .. args
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local status = out:match("\nexit (%d+)\n$")
  assert(status, "the command did not end as expected:\n" .. out)
  return out, tonumber(status)
end

-- Starts `cmd` (shell) in the background, its output (stderr and, without
-- an `out` file, stdout) read by line until one matches `ready`: the
-- child, with pid, and the captures.
local function start(cmd, ready, out)
  local pipe = assert(io.popen("echo $$; exec " .. cmd .. " 2>&1" ..
                               (out and (" >" .. q(out)) or "")))
  local child = {pipe = pipe, pid = tonumber(pipe:read("l"))}
  local seen = {}
  for line in pipe:lines() do
    seen[#seen + 1] = line
    local m = {line:match(ready)}
    if m[1] then return child, table.unpack(m) end
  end
  pipe:close()
  error(cmd .. " did not start:\n" .. table.concat(seen, "\n"))
end

local function stop(child)
  if child and child.pipe then
    os.execute("kill " .. child.pid .. " 2>/dev/null")
    child.pipe:close()
    child.pipe = nil
  end
end

-- a listener this spec plays the server with; its port
local function listener()
  local l, port = net.listener()
  finally(function() l:close() end)
  return l, port
end


describe("sockit, its command line", function()
  it("prints its usage for --help and exits 0", function()
    local status, out = sockit("--help")
    assert.are.equal(0, status)
    assert.matches("usage: sockit connect HOST PORT", out, 1, true)
  end)

  it("says what is wrong in one line, exit status 2", function()
    for _, args in ipairs({"", "conect x 1", "connect x", "connect x 1 2",
                           "connect x 70000", "connect x 1.5",
                           "connect x 1 --bogus", "connect x 1 --crlf --lf",
                           "connect x 1 --timeout 0", "connect x 1 -e",
                           "udp x 1 -e s.lua", "unix /p --tls",
                           "connect x 1 --starttls http",
                           "listen 1 --cert c.pem", "connect x 1 -- a",
                           "connect x 1 --tls --starttls smtp",
                           "connect x 1 --cafile c.pem --insecure",
                           "udp x 1 --insecure", "listen 1 --cafile c.pem",
                           "unix /p --starttls smtp"}) do
      local status, out, err = sockit(args)
      assert.are.equal(2, status, args)
      assert.are.equal("", out)
      assert.matches("^sockit: [^\n]+\n$", err)
    end
  end)

  it("says TLS is not available where sockit.tls is not built, exit status 1", function()
    -- where it is built, the command runs as if it were not
    local hide = "package.preload['sockit.tls'] = function() "
      .. "error(\"module 'sockit.tls' not found\") end"
    local cmd = HAS_TLS and SOCKIT:gsub(" bin/sockit $",
      " -e " .. q(hide) .. " bin/sockit ") or SOCKIT
    for _, args in ipairs({"connect x 1 --tls", "connect x 1 --starttls smtp",
                           "listen 1 --tls --cert c.pem --key k.pem"}) do
      local status, _, err = proc.exec(cmd .. args)
      assert.are.equal(1, status)
      assert.matches("^sockit: TLS is not available: [^\n]+\n$", err)
    end
  end)

  it("fails to connect in one line naming the address, exit status 1", function()
    local port = net.freeport()
    local status, out, err = sockit("connect 127.0.0.1 " .. port)
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.are.equal(("sockit: connect 127.0.0.1:%d: %s (ECONNREFUSED)\n"):format(
      port, core.strerror("ECONNREFUSED")), err)
    status, out, err = sockit("unix " .. q(files.tmpdir() .. "/none"))
    assert.are.equal("", out)
    assert.are.equal(1, status)
    assert.matches("%(ENOENT%)\n$", err)
  end)

  it("parses on Lua 5.1 as well (no syntax of 5.2 and later)", function()
    for _, file in ipairs({"bin/sockit", "lua/sockit/proto.lua"}) do
      local status, _, err = proc.exec(CLEAN .. "lua5.1 -e " ..
        q(("assert(loadfile(%q))"):format(file)))
      assert.are.equal(0, status, err)
    end
  end)
end)


describe("sockit connect against redis-server", function()
  local redis, port

  lazy_setup(function()
    local dir = files.tmpdir()
    port = net.freeport()
    redis = start(CLEAN .. "redis-server --port " .. port ..
      " --bind 127.0.0.1 --save '' --appendonly no --dir " .. q(dir),
      "Ready to accept connections")
  end)

  lazy_teardown(function()
    stop(redis)
    files.cleanup()
  end)

  it("sends each line of a pipe and prints the plain replies", function()
    local status, out, err = sockit("connect 127.0.0.1 " .. port,
                                    "PING\nECHO sockit\n")
    assert.are.equal(0, status, err)
    assert.are.equal("+PONG\r\n$6\r\nsockit\r\n", out)
    assert.are.equal("", err)
  end)

  it("runs a pipelined -e script with expect", function()
    local script = files.tmpdir() .. "/pipeline.lua"
    write_file(script, [[
      for i = 1, 3 do conn:sendline("INCR spec:counter") end
      conn:sendline("GET spec:counter")
      local last
      for _ = 1, 3 do last = assert(conn:expect("^:(%d+)\r\n", 10)) end
      local n = assert(conn:expect("^%$(%d+)\r\n", 10))
      print(last, conn:read(tonumber(n)))
      conn:sendline("DEL spec:counter")
      assert(conn:expect(":1\r\n", 10))
    ]])
    local status, out, err = sockit("connect 127.0.0.1 " .. port ..
                                    " -e " .. q(script))
    assert.are.equal(0, status, err)
    assert.are.equal("3\t3\n", out)
  end)

  it("runs examples/redis_ping.lua, with and without its arguments", function()
    local status, out, err = sockit("connect 127.0.0.1 " .. port ..
                                    " -e examples/redis_ping.lua")
    assert.are.equal(0, status, err)
    assert.are.equal("PONG\nhello\ndeleted 1 key\n", out)
    status, out, err = sockit("connect 127.0.0.1 " .. port ..
                              " -e examples/redis_ping.lua -- spec:ping bonjour")
    assert.are.equal(0, status, err)
    assert.are.equal("PONG\nbonjour\ndeleted 1 key\n", out)
  end)

  it("fails a script whose expect times out, exit status 1", function()
    local script = files.tmpdir() .. "/wait.lua"
    write_file(script, 'conn:sendline("PING")\nassert(conn:expect("PANG", 0.2))\n')
    local status, _, err = sockit("connect 127.0.0.1 " .. port ..
                                  " -e " .. q(script))
    assert.are.equal(1, status)
    assert.matches('"%+PONG\\r\\n"', err)
  end)

  it("marks what arrives on a terminal, and ends on Ctrl-C", function()
    local out, status = pty("connect 127.0.0.1 " .. port,
      "--expect connected --send 'PING\\r' --expect '< +PONG' --intr")
    assert.are.equal(130, status)
    assert.matches("< +PONG", out, 1, true)
  end)

  it("half-closes at the end of input on a terminal and ends with the server", function()
    local out, status = pty("connect 127.0.0.1 " .. port,
      "--expect connected --send 'ECHO tty\\r' --expect '< tty' --eof")
    assert.are.equal(0, status)
    assert.matches("connection closed", out, 1, true)
  end)

  it("hands a script's session to the terminal with conn:interact()", function()
    local script = files.tmpdir() .. "/hand.lua"
    write_file(script, [[
      conn:sendline("PING")
      assert(conn:expect("+PONG\r\n", 10))
      print("scripted")
      conn:interact()
      print("back in the script")
    ]])
    local out, status = pty("connect 127.0.0.1 " .. port .. " -e " .. q(script),
      "--expect scripted --send 'ECHO byhand\r' --expect '< byhand' --eof")
    assert.are.equal(0, status)
    assert.matches("back in the script", out, 1, true)
  end)

  it("ends when the server closes, the terminal still open", function()
    local out, status = pty("connect 127.0.0.1 " .. port,
      "--expect connected --send 'QUIT\\r' --expect '< +OK'")
    assert.are.equal(0, status)
    assert.matches("connection closed", out, 1, true)
  end)

  it("ends a script waiting in expect on Ctrl-C", function()
    local script = files.tmpdir() .. "/stuck.lua"
    write_file(script, 'print("waiting")\nconn:expect("never")\n')
    local _, status = pty("connect 127.0.0.1 " .. port .. " -e " .. q(script),
                          "--expect waiting --intr")
    assert.are.equal(130, status)
  end)

  it("runs :lua with conn in scope, :send with escapes, :hex and :quit", function()
    local out, status = pty("connect 127.0.0.1 " .. port,
      "--expect connected --send ':lua select(2, conn:peer())\\r' --expect " ..
      port .. " --send ':send \"PING\\\\r\\\\n\"\\r' --expect '< +PONG' " ..
      "--send ':hex\\r' --send 'PING\\r' --expect '|+PONG..|' --send ':quit\\r'")
    assert.are.equal(0, status)
    assert.matches("00000007  2b 50 4f 4e 47 0d 0a", out, 1, true)
  end)

  it("writes a transcript that replays as a script", function()
    local log = files.tmpdir() .. "/session.lua"
    local status, out = sockit("connect 127.0.0.1 " .. port .. " --log " ..
                               q(log), "SET spec:t 1\nGET spec:t\n")
    assert.are.equal(0, status)
    assert.are.equal("+OK\r\n$1\r\n1\r\n", out)
    local text = read_file(log)
    assert.matches('conn:sendline("GET spec:t")', text, 1, true)
    local err
    status, out, err = sockit("connect 127.0.0.1 " .. port .. " -e " .. q(log))
    assert.are.equal(0, status, err)
    assert.are.equal("", out)
  end)

  it("starts a transcript with :log in the middle of a session", function()
    local log = files.tmpdir() .. "/later.lua"
    local status = sockit("connect 127.0.0.1 " .. port,
                          "ECHO before\n:log " .. log .. "\nECHO after\n")
    assert.are.equal(0, status)
    local text = read_file(log)
    assert.matches('conn:sendline("ECHO after")', text, 1, true)
    -- its reply may come after :log, the line sent before does not
    assert.is_nil(text:find('sendline("ECHO before")', 1, true))
  end)
end)


describe("sockit connect against the SMTP sink", function()
  it("holds an SMTP session with --crlf", function()
    local sink, port = start(env.LUA .. "examples/smtp_sink.lua --port 0",
                             "^listening %S+ (%d+)$")
    finally(function() stop(sink) end)
    local status, out, err = sockit("connect 127.0.0.1 " .. port .. " --crlf",
                                    "HELO spec\nNOOP\nQUIT\n")
    assert.are.equal(0, status, err)
    assert.matches("^220 [^\n]*\r\n250 [^\n]*\r\n250 [^\n]*\r\n221 [^\n]*\r\n$", out)
  end)
end)


describe("sockit connect against nginx", function()
  it("gets a page with GET / HTTP/1.0", function()
    local nginx = servers.nginx_http(function(www)
      write_file(www .. "/index.html", "hello from nginx\n")
    end)
    finally(function() servers.stop(nginx) end)
    local port = nginx.port
    local status, out, err = sockit("connect 127.0.0.1 " .. port .. " --crlf",
                                    "GET / HTTP/1.0\n\n")
    assert.are.equal(0, status, err)
    assert.matches("^HTTP/1%.1 200 OK\r\n", out)
    assert.matches("\r\n\r\nhello from nginx\n$", out)
  end)
end)


-- `sockit listen 127.0.0.1 0 --crlf` with `args`, answering `text` as
-- an HTTP/1.0 response to the one request of `curl` (a command line
-- without the URL) for `url` (its port a %d): curl's status and body,
-- what the command said on stderr after it was ready, and the request
local function curled(args, text, curl, url)
  local dir = files.tmpdir()
  write_file(dir .. "/answer", "HTTP/1.0 200 OK\nContent-Type: text/plain\n\n" ..
                               text)
  local server, port = start(SOCKIT .. "listen 127.0.0.1 0 --crlf " .. args ..
    " <" .. q(dir .. "/answer"), "^sockit: listening on 127%.0%.0%.1 port (%d+)$",
    dir .. "/request")
  finally(function() stop(server) end)
  local status, body = proc.exec(CLEAN .. curl .. " " .. url:format(port))
  local rest = server.pipe:read("a")
  local ok = server.pipe:close()
  server.pipe = nil
  assert.is_true(ok, rest)
  return status, body, rest, read_file(dir .. "/request")
end

describe("sockit listen", function()
  it("shows curl's request and answers it from its input", function()
    local status, body, said, request = curled("", "hello from sockit\n",
      "curl -sS", "http://127.0.0.1:%d/spec")
    assert.are.equal(0, status)
    assert.are.equal("hello from sockit\r\n", body)
    assert.matches("^sockit: connection from 127%.0%.0%.1 port %d+\n", said)
    assert.matches("^GET /spec HTTP/1%.1\r\n", request)
  end)
end)


describe("sockit and peers of this spec", function()
  -- runs the command in the background against a listener here: the
  -- accepted socket, and finish() -> status, stdout, stderr
  local function against(args, input)
    local l, port = listener()
    local finish = proc.background(SOCKIT .. args:format(port), input)
    local c = assert(l:accept())
    return c, finish
  end

  it("shows binary data as a hex dump with --hex", function()
    local c, finish = against("connect 127.0.0.1 %d --hex")
    local bytes = {}
    for i = 0, 31 do bytes[#bytes + 1] = string.char(i * 8 % 256) end
    assert(net.sendall(c, table.concat(bytes) .. "AB"))
    c:close()
    local status, out = finish()
    assert.are.equal(0, status)
    assert.are.equal(
      "00000000  00 08 10 18 20 28 30 38  40 48 50 58 60 68 70 78  |.... (08@HPX`hpx|\n" ..
      "00000010  80 88 90 98 a0 a8 b0 b8  c0 c8 d0 d8 e0 e8 f0 f8  |................|\n" ..
      "00000020  41 42                                             |AB|\n", out)
  end)

  it("gives a -e script the words after -- as arg and ..., as lua does", function()
    local script = files.tmpdir() .. "/args.lua"
    write_file(script, [[
      local n = select("#", ...)
      conn:sendline(table.concat({arg[0], #arg, n, ...}, "|"))
      conn:sendline(table.concat(arg, "|"))
    ]])
    local c, finish = against("connect 127.0.0.1 %d -e " .. q(script) ..
                              " -- one 'two words' -e --hex")
    assert.are.equal(script .. "|4|4|one|two words|-e|--hex\n" ..
                     "one|two words|-e|--hex\n", net.recvall(c, 1000))
    c:close()
    local status, _, err = finish()
    assert.are.equal(0, status, err)
  end)

  it("ends when the server closes while its input pipe stays open", function()
    -- python3 holds the command's standard input open until it has ended
    local l, port = listener()
    local driver = assert(io.popen(PYTHON .. "-c " .. q([=[
import subprocess, sys
p = subprocess.Popen(["sh", "-c", sys.argv[1]], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE)
out = p.stdout.read()
print("exit %d %s" % (p.wait(30), out.decode()))
p.stdin.close()
]=]) .. " " .. q(SOCKIT .. "connect 127.0.0.1 " .. port)))
    local c = assert(l:accept())
    assert(net.sendall(c, "bye\n"))
    c:close()
    local out = driver:read("a")
    assert.is_true((driver:close()))
    assert.are.equal("exit 0 bye\n\n", out)
  end)

  it("reports a connection reset in one line, exit status 1", function()
    local c, finish = against("connect 127.0.0.1 %d", "")
    assert.are.equal("", net.recvall(c, 1))  -- its input ended: half-closed
    assert(c:setoption("linger", 0))
    c:close()
    local status, out, err = finish()
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.matches("^sockit: receive: [^\n]+ %(ECONNRESET%)\n$", err)
  end)

  it("sends LF by default, CRLF with --crlf, bytes with :send, : with ::", function()
    for _, case in ipairs({{"", "a\nb\n"}, {" --crlf", "a\r\nb\r\n"}}) do
      local c, finish = against("connect 127.0.0.1 %d" .. case[1], "a\r\nb\n")
      assert.are.equal(case[2], net.recvall(c, 100))
      c:close()
      assert.are.equal(0, (finish()))
    end
    local c, finish = against("connect 127.0.0.1 %d",
                              ':send "\\0\\x01\\r\\n"\n::colon\n')
    assert.are.equal("\0\1\r\n:colon\n", net.recvall(c, 100))
    c:close()
    assert.are.equal(0, (finish()))
  end)

  it("passes large input through: many lines, and lines longer than its buffer", function()
    local long = ("x"):rep(300000)
    local many = (("y"):rep(99) .. "\n"):rep(20000)
    local c, finish = against("connect 127.0.0.1 %d --crlf",
                              long .. "\r\n" .. many .. long)
    local want = long .. "\r\n" .. many:gsub("\n", "\r\n") .. long
    assert.are.equal(want, net.recvall(c, #want + 1))
    c:close()
    assert.are.equal(0, (finish()))
  end)

  it("talks to a Unix socket", function()
    local path = files.tmpdir() .. "/sock"
    local l = assert(core.socket("unix", "stream"))
    finally(function() l:close() end)
    assert(l:bind(path))
    assert(l:listen())
    local finish = proc.background(SOCKIT .. "unix " .. q(path), "over unix\n")
    local c = assert(l:accept())
    assert.are.equal("over unix\n", net.recvall(c, 100))
    assert(c:send("reply\n"))
    c:close()
    local status, out = finish()
    assert.are.equal(0, status)
    assert.are.equal("reply\n", out)
  end)

  it("sends a datagram per line with udp and shows the replies", function()
    local u = assert(core.socket("inet", "dgram"))
    finally(function() u:close() end)
    assert(u:bind("127.0.0.1", 0))
    local _, port = u:getsockname()
    local finish = proc.background(SOCKIT .. "udp 127.0.0.1 " .. port ..
                                " --timeout 0.5", "one\ntwo\n")
    for _, want in ipairs({"one\n", "two\n"}) do
      local data, host, from = assert(u:recvfrom(100))
      assert.are.equal(want, data)
      assert(u:sendto(data:upper(), host, from))
    end
    local status, out = finish()
    assert.are.equal(0, status)
    assert.are.equal("ONE\nTWO\n", out)
  end)
end)


---------------------------------------------------------------- TLS
-- Against real TLS servers started with the test PKI (support.pki,
-- support.tlsservers): openssl s_server, aiosmtpd with STARTTLS, a
-- python3 server for the STARTTLS of IMAP, POP3 and FTP, and curl as the
-- client of `sockit listen --tls`. Pending where sockit.tls is not built.

local function describe_tls(name, body)
  describe(name, function()
    if not HAS_TLS then
      pending("sockit.tls is not built: " .. tostring(TLS):match("[^\n]*"))
      return
    end
    body()
  end)
end

local pki
if HAS_TLS then pki = require("support.pki").get() end

-- A python3 server for one client, speaking the plain start of `protocol`
-- (imap, pop3, ftp) up to its STARTTLS, then TLS (Python's ssl module),
-- where it answers each line with "tls: " and the line in capitals. With
-- "refuse" it refuses the STARTTLS.
local STARTTLS_PEER = [=[
import socket, ssl, sys
proto, cert, key, mode = sys.argv[1:5]
GREETING = {"imap": b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
            "pop3": b"+OK POP3 ready\r\n",
            "ftp": b"220-sockit spec FTP\r\n  a line of the greeting\r\n220 ready\r\n"}
COMMAND = {"imap": b"a001 STARTTLS", "pop3": b"STLS", "ftp": b"AUTH TLS"}
GO = {"imap": b"* OK an untagged line first\r\na001 OK begin TLS now\r\n",
      "pop3": b"+OK begin TLS\r\n", "ftp": b"234 AUTH TLS OK\r\n"}
NO = {"imap": b"a001 NO not today\r\n", "pop3": b"-ERR not today\r\n",
      "ftp": b"534 not today\r\n"}
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print("listening 127.0.0.1 %d" % s.getsockname()[1], flush=True)
c, _ = s.accept()
def line():
    got = b""
    while not got.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            break
        got += b
    return got.rstrip(b"\r\n")
c.sendall(GREETING[proto])
command = line()
if command != COMMAND[proto] or mode == "refuse":
    c.sendall(NO[proto] if command == COMMAND[proto] else b"bad command\r\n")
    c.close()
    sys.exit(0)
c.sendall(GO[proto])
t = ctx.wrap_socket(c, server_side=True)
buf = b""
while True:
    data = t.recv(4096)
    if not data:
        break
    buf += data
    while b"\n" in buf:
        one, buf = buf.split(b"\n", 1)
        t.sendall(b"tls: " + one.rstrip(b"\r").upper() + b"\n")
try:
    t.unwrap()  # close_notify: the end of the stream, not a truncation
except (OSError, ssl.SSLError):
    pass
c.close()
]=]

local function starttls_peer(protocol, mode)
  local dir = files.tmpdir()
  write_file(dir .. "/peer.py", STARTTLS_PEER)
  return start(PYTHON .. "-u " .. q(dir .. "/peer.py") .. " " .. protocol ..
               " " .. q(pki.leaf.cert) .. " " .. q(pki.leaf.key) .. " " ..
               (mode or "go"), "^listening %S+ (%d+)$")
end

describe_tls("sockit connect --tls against openssl s_server", function()
  local server

  lazy_setup(function() server = servers.s_server(pki.leaf) end)
  lazy_teardown(function() servers.stop(server) end)

  it("gets a page over TLS, the certificate verified with --cafile", function()
    local status, out, err = sockit("connect 127.0.0.1 " .. server.port ..
      " --tls --cafile " .. q(pki.root.cert) .. " --crlf", "GET / HTTP/1.0\n\n")
    assert.are.equal(0, status, err)
    assert.matches("^HTTP/1%.0 200 ok\r\n", out)
    assert.are.equal("", err)
  end)

  it("fails in one line on a certificate it cannot verify (ECERT), exit status 1", function()
    local status, out, err = sockit("connect 127.0.0.1 " .. server.port ..
                                    " --tls", "")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.matches(("^sockit: connect 127%%.0%%.0%%.1:%d: [^\n]+ %%(ECERT%%)\n$")
                   :format(server.port), err)
  end)

  it("connects with --insecure, and says on stderr that nothing was verified", function()
    local status, out, err = sockit("connect 127.0.0.1 " .. server.port ..
      " --tls --insecure --crlf", "GET / HTTP/1.0\n\n")
    assert.are.equal(0, status, err)
    assert.matches("^HTTP/1%.0 200 ok\r\n", out)
    assert.are.equal("sockit: --insecure: the server's certificate is not verified\n", err)
  end)

  it("shows the certificate it verified on a terminal", function()
    local out, status = pty("connect 127.0.0.1 " .. server.port ..
      " --tls --cafile " .. q(pki.root.cert) .. " --crlf",
      "--expect 'certificate verified' --send 'GET / HTTP/1.0\\r\\r' " ..
      "--expect '< HTTP/1.0 200 ok'")
    assert.are.equal(0, status)
    assert.matches("sockit: TLS TLSv1%.[23] [^\n]+, certificate verified", out)
    assert.matches("subject: [^\n]*localhost", out)
    assert.matches("issuer: [^\n]*sockit test root", out)
  end)
end)

describe_tls("sockit connect --tls against a certificate for another name", function()
  it("fails with ECERT although the CA is trusted", function()
    local server = servers.s_server(pki.wrongname)
    finally(function() servers.stop(server) end)
    local status, _, err = sockit("connect 127.0.0.1 " .. server.port ..
      " --tls --cafile " .. q(pki.root.cert), "")
    assert.are.equal(1, status)
    assert.matches("%(ECERT%)\n$", err)
  end)
end)

describe_tls("sockit connect --starttls smtp against aiosmtpd", function()
  local server

  lazy_setup(function() server = servers.aiosmtpd(pki) end)
  lazy_teardown(function() servers.stop(server) end)

  it("says EHLO, STARTTLS, then holds the session over TLS", function()
    local status, out, err = sockit("connect 127.0.0.1 " .. server.port ..
      " --starttls smtp --cafile " .. q(pki.root.cert) .. " --crlf",
      "EHLO spec\nQUIT\n")
    assert.are.equal(0, status, err)
    -- what came before TLS is not shown: the first reply is to EHLO
    assert.matches("^250%-[^\n]*\r\n", out)
    assert.matches("\r\n221 [^\n]*\r\n$", out)
    assert.is_nil(out:find("STARTTLS", 1, true))  -- offered only in plain
    assert.are.equal("", err)
  end)

  it("fails on a certificate it cannot verify (ECERT), exit status 1", function()
    local status, _, err = sockit("connect 127.0.0.1 " .. server.port ..
                                  " --starttls smtp", "QUIT\n")
    assert.are.equal(1, status)
    assert.matches(("^sockit: starttls 127%%.0%%.0%%.1:%d: [^\n]+ %%(ECERT%%)\n$")
                   :format(server.port), err)
  end)

  it("upgrades a terminal session in place with :tls", function()
    local out, status = pty("connect 127.0.0.1 " .. server.port ..
      " --cafile " .. q(pki.root.cert) .. " --crlf",
      "--expect '< 220 ' --send 'EHLO spec\\r' --expect '< 250 ' " ..
      "--send 'STARTTLS\\r' --expect '< 220 ' --send ':tls\\r' " ..
      "--expect 'certificate verified' --send 'EHLO again\\r' " ..
      "--expect '< 250 ' --send 'QUIT\\r' --expect '< 221 '")
    assert.are.equal(0, status, out)
    assert.matches("\nTLS TLSv1%.[23] [^\n]+, certificate verified", out)
    assert.matches("subject: [^\n]*localhost", out)
    assert.matches("valid: %d%d%d%d%-%d%d%-%d%d [%d:]+ UTC to ", out)
  end)
end)

describe_tls("sockit connect --starttls smtp against the SMTP sink", function()
  it("fails when the server does not offer STARTTLS (EPROTO)", function()
    local sink, port = start(env.LUA .. "examples/smtp_sink.lua --port 0",
                             "^listening %S+ (%d+)$")
    finally(function() stop(sink) end)
    local status, out, err = sockit("connect 127.0.0.1 " .. port ..
                                    " --starttls smtp", "")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.matches("does not offer STARTTLS %(EPROTO%)\n$", err)
  end)
end)

describe_tls("sockit connect --starttls against a server that injects plaintext", function()
  it("refuses to start TLS with bytes already received (EPROTO)", function()
    local server = servers.injector()
    finally(function() servers.stop(server) end)
    local status, out, err = sockit("connect 127.0.0.1 " .. server.port ..
      " --starttls smtp --cafile " .. q(pki.root.cert), "QUIT\n")
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.matches("%(EPROTO%)\n$", err)
  end)
end)

describe_tls("sockit connect --starttls imap, pop3 and ftp", function()
  for _, protocol in ipairs({"imap", "pop3", "ftp"}) do
    it("speaks " .. protocol .. "'s own exchange, then TLS", function()
      local peer, port = starttls_peer(protocol)
      finally(function() stop(peer) end)
      local status, out, err = sockit("connect 127.0.0.1 " .. port ..
        " --starttls " .. protocol .. " --cafile " .. q(pki.root.cert),
        "hello\nagain\n")
      assert.are.equal(0, status, err)
      assert.are.equal("tls: HELLO\ntls: AGAIN\n", out)
    end)

    it("fails when the " .. protocol .. " server refuses (EPROTO)", function()
      local peer, port = starttls_peer(protocol, "refuse")
      finally(function() stop(peer) end)
      local status, out, err = sockit("connect 127.0.0.1 " .. port ..
        " --starttls " .. protocol .. " --cafile " .. q(pki.root.cert), "")
      assert.are.equal(1, status)
      assert.are.equal("", out)
      assert.matches("not today %(EPROTO%)\n$", err)
    end)
  end
end)

describe_tls("sockit listen --tls", function()
  it("answers curl over TLS from its input", function()
    local status, body, _, request = curled("--tls --cert " .. q(pki.leaf.cert)
      .. " --key " .. q(pki.leaf.key), "hello over tls\n",
      "curl -sS --max-time 20 --cacert " .. q(pki.root.cert),
      "https://127.0.0.1:%d/over-tls")
    assert.are.equal(0, status)
    assert.are.equal("hello over tls\r\n", body)
    assert.matches("^GET /over%-tls HTTP/1%.1\r\n", request)
  end)

  it("needs --cert and --key, files that exist", function()
    local status, _, err = sockit("listen 0 --tls --cert " ..
      q(pki.leaf.cert) .. " --key /nonexistent/key.pem")
    assert.are.equal(1, status)
    assert.matches("^sockit: [^\n]*/nonexistent/key%.pem[^\n]*\n$", err)
  end)
end)
