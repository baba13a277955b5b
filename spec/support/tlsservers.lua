-- Real TLS servers for the specs, each started on a free loopback port with
-- a certificate of the test PKI (support.pki): nginx with ssl, openssl
-- s_server, redis-server --tls-port, aiosmtpd with STARTTLS, and a small
-- python3 server that injects plaintext after its STARTTLS reply.
--
--   local servers = require("support.tlsservers")
--   local nginx = servers.nginx(pki)   -- nginx.port, nginx.www
--   ...
--   servers.stop(nginx)
--
-- None of them is under test: they run without the sanitizer runtimes that
-- make asan preloads.

local env = require("support.env")
local files = require("support.files")
local net = require("support.net")

local q = env.quote
local CLEAN = "env -u LD_PRELOAD "
local PYTHON = "/usr/bin/python3 -u"

local servers = {}

-- A directory of our own: support.files removes its ones after each spec,
-- these servers live as long as a describe block.
local function tmpdir()
  return files.mkdtemp("sockit-server")
end

-- Starts `cmd` and reads what it prints (stdout and stderr) up to the first
-- line holding `ready`; the rest goes to dir/log, so a chatty server never
-- blocks on a full pipe. Gives the child: pid, dir, log, and port when
-- the line was "listening HOST PORT".
local function start(cmd, ready, dir)
  dir = dir or tmpdir()
  local log = dir .. "/log"
  -- (the shell's own stderr, where it reports the server killed, is muted)
  local sh = ("exec 2>/dev/null; sh -c %s 2>&1 | { read -r pid; echo \"$pid\"; "
    .. "while IFS= read -r l; do printf '%%s\\n' \"$l\"; "
    .. "case $l in *%s*) break;; esac; done; exec cat >%s; }"):format(
      q("echo $$; exec " .. CLEAN .. cmd), q(ready), q(log))
  local pipe = assert(io.popen(sh))
  local child = {pipe = pipe, pid = tonumber(pipe:read("l")), dir = dir, log = log}
  local seen = {}
  for line in pipe:lines() do
    seen[#seen + 1] = line
    if line:find(ready, 1, true) then
      child.port = tonumber(line:match("^listening %S+ (%d+)$"))
      return child
    end
  end
  pipe:close()
  os.execute("rm -rf " .. q(dir))
  error(cmd .. " did not start:\n" .. table.concat(seen, "\n"))
end

-- Stops a server (if started and still running) and removes its directory.
function servers.stop(child)
  if child and child.pipe then
    os.execute("kill " .. child.pid .. " 2>/dev/null")
    child.pipe:close()
    child.pipe = nil
    os.execute("rm -rf " .. q(child.dir))
  end
end

-- What the server printed after it was ready.
function servers.log(child)
  local f = io.open(child.log, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

local NGINX_CONF = [[
daemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log stderr notice;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path %s/tmp/body;
  proxy_temp_path %s/tmp/proxy;
  fastcgi_temp_path %s/tmp/fastcgi;
  uwsgi_temp_path %s/tmp/uwsgi;
  scgi_temp_path %s/tmp/scgi;
  types { application/octet-stream bin; text/plain txt; }
  keepalive_requests 100;
  server {
    listen 127.0.0.1:%d ssl;
    listen [::1]:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_protocols TLSv1.2 TLSv1.3;
    root %s/www;
  }
}
]]

-- nginx serving dir/www over TLS on 127.0.0.1 and ::1 (one port) with the
-- certificate `cert` (default: the localhost leaf). www holds big.bin
-- (5 MB of random bytes) and small.txt. With "error_log stderr notice" it
-- says "start worker process" once its sockets listen.
function servers.nginx(pki, cert)
  cert = cert or pki.leaf
  local dir = tmpdir()
  local www = dir .. "/www"
  assert(os.execute(("mkdir -p %s %s/tmp"):format(q(www), q(dir))))
  local urandom = assert(io.open("/dev/urandom", "rb"))
  files.write(www .. "/big.bin", urandom:read(5 * 1000 * 1000))
  urandom:close()
  files.write(www .. "/small.txt", "hello over tls\n")
  -- nginx's workers drop root privileges: they must be able to read
  assert(os.execute("chmod -R a+rX " .. q(dir)))
  local port = net.dual_stack_port()
  files.write(dir .. "/nginx.conf", NGINX_CONF:format(dir, dir, dir, dir, dir,
    dir, port, port, cert.cert, cert.key, dir))
  local child = start(("/usr/sbin/nginx -e stderr -p %s -c %s"):format(
    q(dir .. "/"), q(dir .. "/nginx.conf")), "start worker process", dir)
  child.port, child.www = port, www
  return child
end

-- openssl s_server on 127.0.0.1 with `cert` ({cert=, key=}), answering
-- HTTP GETs with its status page (-www); `args` are more options. It says
-- "ACCEPT" once it listens.
function servers.s_server(cert, args)
  local port = net.freeport()
  local child = start(("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -www %s")
    :format(port, q(cert.cert), q(cert.key), args or ""), "ACCEPT")
  child.port = port
  return child
end

-- s_server speaking TLS 1.1 only. OpenSSL 3 refuses TLS 1.1's SHA-1
-- signatures at its default security level 1: level 0 lets it serve.
function servers.s_server_tls11(pki)
  return servers.s_server(pki.leaf, "-tls1_1 -cipher DEFAULT@SECLEVEL=0")
end

-- redis-server with TLS only (--port 0) on 127.0.0.1, clients not asked
-- for certificates.
function servers.redis(pki)
  local dir = tmpdir()
  local port = net.freeport()
  local child = start(("redis-server --port 0 --tls-port %d --bind 127.0.0.1"
    .. " --tls-cert-file %s --tls-key-file %s --tls-ca-cert-file %s"
    .. " --tls-auth-clients no --save '' --appendonly no --dir %s"):format(
      port, q(pki.leaf.cert), q(pki.leaf.key), q(pki.root.cert), q(dir)),
    "Ready to accept connections", dir)
  child.port = port
  return child
end

-- Debian's aiosmtpd command with STARTTLS required (its default with
-- --tlscert/--tlskey); its Debugging handler prints each message to the
-- log. -d makes it say "Server is listening" once it listens.
function servers.aiosmtpd(pki)
  local port = net.freeport()
  local child = start(("/usr/bin/python3 -u -m aiosmtpd -n -d -l 127.0.0.1:%d"
    .. " --tlscert %s --tlskey %s"):format(port, q(pki.leaf.cert), q(pki.leaf.key)),
    "Server is listening")
  child.port = port
  return child
end

-- aiosmtpd's SMTP class, STARTTLS and AUTH required (user alice, password
-- "open sesame"); each message is stored in dir/mail as "AUTH login",
-- the envelope, "DATA n bytes" and the data as received.
local SMTP_AUTH = [[
import asyncio, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cert, key, out = sys.argv[1:4]

def authenticator(server, session, envelope, mechanism, data):
    ok = (isinstance(data, LoginPassword) and data.login == b"alice"
          and data.password == b"open sesame")
    # handled=False: aiosmtpd answers a failure with 535 itself
    return AuthResult(success=ok, handled=False,
                      auth_data=data.login if ok else None)

class Store:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "ab") as f:
            f.write(b"AUTH %s\n" % session.auth_data)
            f.write(b"MAIL FROM:<%s>\n" % envelope.mail_from.encode())
            for rcpt in envelope.rcpt_tos:
                f.write(b"RCPT TO:<%s>\n" % rcpt.encode())
            f.write(b"DATA %d bytes\n" % len(envelope.original_content))
            f.write(envelope.original_content)
        return "250 Message accepted for delivery"

async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    def factory():
        return SMTP(Store(), hostname="localhost", tls_context=ctx,
                    require_starttls=True, authenticator=authenticator,
                    auth_required=True, auth_require_tls=True)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(factory, "127.0.0.1", 0)
    print("listening 127.0.0.1 %d" % srv.sockets[0].getsockname()[1])
    await srv.serve_forever()

asyncio.run(main())
]]

-- Starts the python3 program `code` with `args` (words, quoted here); it
-- says "listening HOST PORT" once it listens.
local function python(code, args)
  local dir = tmpdir()
  files.write(dir .. "/server.py", code)
  local words = {PYTHON, q(dir .. "/server.py")}
  for _, a in ipairs(args) do
    words[#words + 1] = q((a:gsub("^DIR/", dir .. "/")))
  end
  return start(table.concat(words, " "), "listening", dir)
end

function servers.smtp_auth(pki)
  local child = python(SMTP_AUTH, {pki.leaf.cert, pki.leaf.key, "DIR/mail"})
  child.mail = child.dir .. "/mail"
  return child
end

-- The loop of the python3 servers below: a listener on 127.0.0.1 that
-- says where, then each client in turn as c.
local ACCEPTING = [[
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print("listening 127.0.0.1 %d" % s.getsockname()[1])
while True:
    c, _ = s.accept()
]]

-- An SMTP server that answers STARTTLS with 220 and, in the same write,
-- plaintext replies a client must never take as protected.
local INJECTOR = "import socket\n" .. ACCEPTING .. [[
    try:
        c.sendall(b"220 localhost ESMTP\r\n")
        for line in c.makefile("rb"):
            verb = line.strip().upper()
            if verb.startswith(b"EHLO"):
                c.sendall(b"250-localhost\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n")
            elif verb == b"STARTTLS":
                c.sendall(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
            elif verb == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"500 no\r\n")
    except OSError:
        pass
    c.close()
]]

function servers.injector()
  return python(INJECTOR, {})
end

-- A python3 TLS server that misbehaves once the handshake is done, for
-- each connection: "drop" sends "hello\n" then closes the socket without
-- close_notify; "reset" reads nothing and resets the connection (linger 0).
-- "count" reads to the end (close_notify or not), then replies "N\n" (N
-- the bytes read) and closes as "drop" does.
local TLS_PEER = [[
import socket, ssl, struct, sys
cert, key, mode = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)

def count(t):
    n = 0
    while True:
        d = t.recv(65536)
        if not d:
            return b"%d\n" % n
        n += len(d)
]] .. ACCEPTING .. [[
    try:
        t = ctx.wrap_socket(c, server_side=True)
        if mode == "count":
            t.sendall(count(t))
        elif mode == "drop":
            t.sendall(b"hello\n")
        else:
            t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw = socket.socket(fileno=t.detach())
        raw.close()
    except (OSError, ssl.SSLError):
        c.close()
]]

function servers.tls_peer(pki, mode)
  return python(TLS_PEER, {pki.leaf.cert, pki.leaf.key, mode})
end

return servers
