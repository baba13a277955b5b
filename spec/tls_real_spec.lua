-- sockit's TLS against real servers and real clients, each started on a
-- free loopback port with the test PKI (support.pki): nginx with ssl,
-- openssl s_server (TLS 1.1, bad certificates), redis-server --tls-port,
-- aiosmtpd's STARTTLS, a plaintext injector; sockit's own TLS server
-- checked with curl and openssl s_client; faults from python3 peers.
-- Pending, with the reason, where sockit.tls is not built.

local env = require("support.env")
local errs = require("support.errs")
local files = require("support.files")
local net = require("support.net")
local proc = require("support.proc")
local servers = require("support.tlsservers")
local sockit = require("sockit")
local core = env.core()

local q = env.quote
local CLEAN = "env -u LD_PRELOAD "

local tlsspec = require("support.tlsspec")
local tls, pki = tlsspec.tls, tlsspec.pki
local describe_tls, defer = tlsspec.helpers(describe, pending, after_each)

-- Reads an HTTP response: status code, headers (lower-case names), body
-- (Content-Length bytes).
local function response(conn)
  local status = assert(conn:read("l"))
  local code = assert(tonumber(status:match("^HTTP/1%.%d (%d%d%d)")), status)
  local headers = {}
  while true do
    local line = assert(conn:read("l"))
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    headers[name:lower()] = value
  end
  local body = assert(conn:read(tonumber(headers["content-length"])))
  return code, headers, body
end

local function get(conn, path, close)
  assert(conn:write("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n",
                    close and "Connection: close\r\n" or "", "\r\n"))
  return response(conn)
end

describe_tls("a TLS client against nginx", function()
  local nginx, big

  lazy_setup(function()
    nginx = servers.nginx(pki)
    big = files.read(nginx.www .. "/big.bin")
  end)

  lazy_teardown(function()
    servers.stop(nginx)
  end)

  for _, host in ipairs({"127.0.0.1", "::1", "localhost"}) do
    it("downloads 5 MB byte for byte over " .. host, function()
      local conn = assert(sockit.connect(host, nginx.port,
        {tls = {cafile = pki.root.cert}, timeout = 30}))
      defer(function() conn:close() end)
      local code, _, body = get(conn, "/big.bin", true)
      assert.are.equal(200, code)
      assert.are.equal(#big, #body)
      assert.is_true(big == body)
      assert.is_nil(conn:read("l"))
    end)
  end

  it("sends two requests on one kept-alive stream", function()
    local conn = assert(sockit.connect("127.0.0.1", nginx.port,
      {tls = {cafile = pki.root.cert}, timeout = 30}))
    defer(function() conn:close() end)
    local code, headers, body = get(conn, "/small.txt")
    assert.are.equal(200, code)
    assert.are_not.equal("close", headers.connection)
    assert.are.equal("hello over tls\n", body)
    code, headers, body = get(conn, "/big.bin", true)
    assert.are.equal(200, code)
    assert.are.equal("close", headers.connection)
    assert.is_true(big == body)
  end)

  it("describes the session with stream:tls()", function()
    local conn = assert(sockit.connect("localhost", nginx.port,
      {tls = {cafile = pki.root.cert}, timeout = 30}))
    defer(function() conn:close() end)
    local info = conn:tls()
    assert.are.equal("TLSv1.3", info.version)
    assert.is_true(info.verified)
    assert.are.equal("localhost", info.servername)
    assert.are.equal("string", type(info.cipher))
    assert.is_truthy(info.peer.subject:find("localhost", 1, true))
    assert.is_truthy(info.peer.issuer:find("sockit test root", 1, true))
    local names = {}
    for _, n in ipairs(info.peer.names) do names[n] = true end
    assert.is_true(names.localhost and names["127.0.0.1"] and true)
  end)

  it("keeps to max_version", function()
    local conn = assert(sockit.connect("127.0.0.1", nginx.port,
      {tls = {cafile = pki.root.cert, max_version = "tls1.2"}, timeout = 30}))
    defer(function() conn:close() end)
    assert.are.equal("TLSv1.2", conn:tls().version)
    assert.are.equal(200, (get(conn, "/small.txt")))
  end)

  it("shares one context between connections", function()
    local ctx = tls.context({cafile = pki.root.cert})
    for _ = 1, 3 do
      local conn = assert(sockit.connect("127.0.0.1", nginx.port,
        {tls = ctx, timeout = 30}))
      local code, _, body = get(conn, "/small.txt", true)
      conn:close()
      assert.are.equal(200, code)
      assert.are.equal("hello over tls\n", body)
    end
  end)

  it("trusts the system store only by default: a private root fails", function()
    errs.fails("ECERT", sockit.connect("127.0.0.1", nginx.port,
      {tls = true, timeout = 30}))
  end)
end)

describe_tls("a TLS client against openssl s_server", function()
  after_each(files.cleanup)

  it("refuses a server that speaks TLS 1.1 only, with ETLS", function()
    local server = servers.s_server_tls11(pki)
    defer(function() servers.stop(server) end)
    errs.fails("ETLS", sockit.connect("127.0.0.1", server.port,
      {tls = {cafile = pki.root.cert}, timeout = 30}))
    -- even with verification off: the version floor is not a check to skip
    errs.fails("ETLS", sockit.connect("127.0.0.1", server.port,
      {tls = {verify = false}, timeout = 30}))
  end)

  -- GET / from s_server -www: its status page
  local function status_page(conn)
    assert(conn:write("GET / HTTP/1.0\r\n\r\n"))
    return conn:read("l")
  end

  local bad = {
    {"an expired certificate", "expired", "127.0.0.1"},
    {"a certificate for another name", "wrongname", "localhost"},
    {"a self-signed certificate", "selfsigned", "127.0.0.1"},
    {"a certificate from an untrusted root", "other_leaf", "127.0.0.1"},
    {"a certificate without the IP address connected to", "nameonly", "127.0.0.1"},
  }
  for _, case in ipairs(bad) do
    local what, cert, host = case[1], case[2], case[3]
    it("rejects " .. what .. " with ECERT, accepts it with verify = false", function()
      local server = servers.s_server(pki[cert])
      defer(function() servers.stop(server) end)
      local opts = {tls = {cafile = pki.root.cert}, timeout = 30, family = "inet"}
      local msg = errs.fails("ECERT", sockit.connect(host, server.port, opts))
      assert.are.equal("string", type(msg))
      local conn = assert(sockit.connect(host, server.port,
        {tls = {verify = false}, timeout = 30, family = "inet"}))
      defer(function() conn:close() end)
      assert.is_false(conn:tls().verified)
      assert.are.equal("HTTP/1.0 200 ok", status_page(conn))
    end)
  end

  it("checks the name given as servername instead of the host", function()
    local server = servers.s_server(pki.wrongname)
    defer(function() servers.stop(server) end)
    local conn = assert(sockit.connect("127.0.0.1", server.port,
      {tls = {cafile = pki.root.cert, servername = "wrong.example"}, timeout = 30}))
    defer(function() conn:close() end)
    assert.is_true(conn:tls().verified)
    assert.are.equal("HTTP/1.0 200 ok", status_page(conn))
  end)

  for _, version in ipairs({"1_2", "1_3"}) do
    it("resumes the session of a reused context, TLS " .. version, function()
      local server = servers.s_server(pki.leaf, "-tls" .. version)
      defer(function() servers.stop(server) end)
      -- {resumed} of a connection made from ctx that reads the page
      local function resumed(ctx)
        local conn = assert(sockit.connect("127.0.0.1", server.port,
          {tls = ctx, timeout = 30}))
        defer(function() conn:close() end)
        assert.are.equal("HTTP/1.0 200 ok", status_page(conn))
        conn:read("a")  -- the rest, and the session tickets before it
        local info = conn:tls()
        conn:close()  -- s_server serves one client at a time
        assert.are.equal("TLSv" .. version:gsub("_", "."), info.version)
        assert.is_true(info.verified)
        return info.resumed
      end
      local ctx = tls.context({cafile = pki.root.cert})
      assert.is_false(resumed(ctx))
      assert.is_true(resumed(ctx))
      assert.is_true(resumed(ctx))
      assert.is_false(resumed(tls.context({cafile = pki.root.cert})))
    end)
  end

  it("checks a name-only certificate by name", function()
    local server = servers.s_server(pki.nameonly)
    defer(function() servers.stop(server) end)
    local conn = assert(sockit.connect("localhost", server.port,
      {tls = {cafile = pki.root.cert}, timeout = 30, family = "inet"}))
    defer(function() conn:close() end)
    assert.are.equal("HTTP/1.0 200 ok", status_page(conn))
  end)
end)

describe_tls("a TLS client against redis-server --tls-port", function()
  local redis

  lazy_setup(function() redis = servers.redis(pki) end)
  lazy_teardown(function() servers.stop(redis) end)

  local function bulk(s)
    return "$" .. #s .. "\r\n" .. s .. "\r\n"
  end
  local function command(...)
    local parts = {"*" .. select("#", ...) .. "\r\n"}
    for i = 1, select("#", ...) do parts[#parts + 1] = bulk(select(i, ...)) end
    return table.concat(parts)
  end

  it("stores and reads back a binary value over RESP", function()
    local conn = assert(sockit.connect("127.0.0.1", redis.port,
      {tls = {cafile = pki.root.cert}, timeout = 30}))
    defer(function() conn:close() end)
    local t = {}
    for i = 0, 255 do t[#t + 1] = string.char(i) end
    local value = table.concat(t):rep(1000) .. "\r\n$-1\r\n"
    assert(conn:write(command("SET", "sockit:bin", value)))
    assert.are.equal("+OK", conn:read("l"))
    assert(conn:write(command("GET", "sockit:bin")))
    assert.are.equal("$" .. #value, conn:read("l"))
    local got, crlf = conn:read(#value, 2)
    assert.is_true(got == value)
    assert.are.equal("\r\n", crlf)
    assert(conn:write(command("DEL", "sockit:bin")))
    assert.are.equal(":1", conn:read("l"))
  end)

  it("answers 1000 pipelined commands in order", function()
    local conn = assert(sockit.connect("localhost", redis.port,
      {tls = {cafile = pki.root.cert}, timeout = 30, family = "inet"}))
    defer(function() conn:close() end)
    local batch = {}
    for i = 1, 1000 do batch[i] = command("INCR", "sockit:n") end
    assert(conn:write(table.concat(batch)))
    for i = 1, 1000 do assert.are.equal(":" .. i, conn:read("l")) end
    assert(conn:write(command("DEL", "sockit:n")))
    assert.are.equal(":1", conn:read("l"))
  end)
end)

describe_tls("stream:starttls against SMTP servers", function()
  -- one reply, single or multi-line: code, last line
  local function reply(conn)
    local line
    repeat line = assert(conn:read("l")) until line:sub(4, 4) ~= "-"
    return tonumber(line:sub(1, 3)), line
  end

  local function upto_starttls(port)
    local conn = assert(sockit.connect("127.0.0.1", port, {timeout = 30}))
    assert.are.equal(220, (reply(conn)))
    assert(conn:write("EHLO client.example\r\n"))
    assert.are.equal(250, (reply(conn)))
    assert(conn:write("STARTTLS\r\n"))
    return conn
  end

  it("upgrades a session with aiosmtpd", function()
    local server = servers.aiosmtpd(pki)
    defer(function() servers.stop(server) end)
    local conn = upto_starttls(server.port)
    defer(function() conn:close() end)
    assert.are.equal(220, (reply(conn)))
    assert(conn:starttls({cafile = pki.root.cert}))
    assert.is_true(conn:tls().verified)
    assert(conn:write("EHLO client.example\r\n"))
    assert.are.equal(250, (reply(conn)))
    assert(conn:write("QUIT\r\n"))
    assert.are.equal(221, (reply(conn)))
  end)

  it("refuses to upgrade over buffered plaintext with EPROTO", function()
    local server = servers.injector()
    defer(function() servers.stop(server) end)
    local conn = upto_starttls(server.port)
    defer(function() conn:close() end)
    assert.are.equal("220 go ahead", conn:read("l"))
    errs.fails("EPROTO", conn:starttls({cafile = pki.root.cert}))
    -- the stream is left as it was: plain, the injected bytes still there
    assert.is_nil(conn:tls())
    assert.are.equal("250-injected", conn:read("l"))
    assert.are.equal("250 AUTH PLAIN", conn:read("l"))
    assert(conn:write("QUIT\r\n"))
    assert.are.equal("221 bye", conn:read("l"))
  end)
end)

-- A sockit TLS server in a child process: for each connection it reads an
-- HTTP request and answers with a body "<request line> <TLS version>
-- <client certificate subject or ->"; what failed goes to the log file,
-- one fail code a line.
local SERVER = [[
local sockit = require("sockit")
local cert, key, cafile, log = ...
local opts = {certificate = cert, key = key}
if cafile ~= "" then opts.verify, opts.cafile = true, cafile end
local out = assert(io.open(log, "a"))
out:setvbuf("line")
local server = assert(sockit.serve("127.0.0.1", 0, function(conn)
  local request, _, code = conn:read("l")
  if not request then out:write(tostring(code), "\n") return end
  repeat local line = conn:read("l") until not line or line == ""
  local info = conn:tls()
  local body = ("%s %s %s\n"):format(request, info.version,
    info.peer and info.peer.subject or "-")
  conn:write("HTTP/1.1 200 OK\r\nContent-Length: ", #body,
             "\r\nConnection: close\r\n\r\n", body)
end, {tls = opts, timeout = 30,
      onerror = function(err) out:write("error ", tostring(err), "\n") end}))
print("listening 127.0.0.1 " .. select(2, server:address()))
io.stdout:flush()
sockit.run()
]]

-- Starts the server above; `cafile` asks clients for certificates.
local function tls_server(cafile)
  local dir = files.tmpdir()
  files.write(dir .. "/server.lua", SERVER)
  local child = proc.start(("%s%s %s %s %s %s"):format(env.LUA, q(dir .. "/server.lua"),
    q(pki.leaf.cert), q(pki.leaf.key), q(cafile or ""), q(dir .. "/log")))
  assert(child.port, "the TLS server did not start: " .. tostring(child.line))
  child.logfile = dir .. "/log"
  return child
end

local function curl(args)
  return proc.exec(CLEAN .. "curl -sS --max-time 30 " .. args)
end

local function s_client(port, args, input)
  return proc.exec(("%sopenssl s_client -connect 127.0.0.1:%d -CAfile %s"
    .. " -verify_return_error -verify_hostname localhost -ign_eof %s"):format(
      CLEAN, port, q(pki.root.cert), args), input)
end

describe_tls("sockit's TLS server, with curl and openssl s_client as clients", function()
  local server

  lazy_setup(function() server = tls_server() end)
  lazy_teardown(function()
    proc.stop(server)
    files.cleanup()
  end)

  it("answers curl --cacert", function()
    local status, out, err = curl(("--cacert %s https://localhost:%d/x"):format(
      q(pki.root.cert), server.port))
    assert.are.equal(0, status, err)
    assert.are.equal("GET /x HTTP/1.1 TLSv1.3 -\n", out)
  end)

  it("answers curl limited to TLS 1.2", function()
    local status, out, err = curl(("--tls-max 1.2 --cacert %s https://127.0.0.1:%d/y"):format(
      q(pki.root.cert), server.port))
    assert.are.equal(0, status, err)
    assert.are.equal("GET /y HTTP/1.1 TLSv1.2 -\n", out)
  end)

  for _, version in ipairs({"1_2", "1_3"}) do
    it("passes openssl s_client -verify_return_error -tls" .. version, function()
      local status, out, err = s_client(server.port, "-tls" .. version,
        "GET /s HTTP/1.0\r\n\r\n")
      assert.are.equal(0, status, err)
      assert.is_truthy(out:find("Verify return code: 0 (ok)", 1, true))
      assert.is_truthy(out:find("GET /s HTTP/1.0 TLSv" .. version:gsub("_", ".") .. " -\n",
        1, true))
    end)
  end

  it("refuses a TLS 1.1 client", function()
    local status = s_client(server.port, "-tls1_1 -cipher DEFAULT@SECLEVEL=0",
      "GET / HTTP/1.0\r\n\r\n")
    assert.are_not.equal(0, status)
  end)

  it("serves others while a silent client holds a connection", function()
    local silent = core.socket("inet", "stream")
    defer(function() silent:close() end)
    assert(silent:connect("127.0.0.1", server.port))
    for i = 1, 3 do
      local status, out, err = curl(("--cacert %s https://127.0.0.1:%d/%d"):format(
        q(pki.root.cert), server.port, i))
      assert.are.equal(0, status, err)
      assert.are.equal("GET /" .. i .. " HTTP/1.1 TLSv1.3 -\n", out)
    end
  end)

  it("rejects a plaintext client, whose request it never answers", function()
    local conn = assert(sockit.connect("127.0.0.1", server.port, {timeout = 30}))
    defer(function() conn:close() end)
    assert(conn:write("GET / HTTP/1.0\r\n\r\n"))
    local rest = conn:read("a")
    assert.is_falsy(rest and rest:find("HTTP/", 1, true))
    -- its handshake failed as a TLS failure (a fail code or an error of the
    -- connection's task, as serve reports them); the server goes on
    local status, out = curl(("--cacert %s https://127.0.0.1:%d/after"):format(
      q(pki.root.cert), server.port))
    assert.are.equal(0, status)
    assert.are.equal("GET /after HTTP/1.1 TLSv1.3 -\n", out)
    local log = files.read(server.logfile)
    assert.is_truthy(log:find("ETLS", 1, true), log)
  end)
end)

describe_tls("sockit's TLS server with mutual TLS", function()
  local server

  lazy_setup(function() server = tls_server(pki.root.cert) end)
  lazy_teardown(function()
    proc.stop(server)
    files.cleanup()
  end)

  local function with_cert(entry)
    return ("--cacert %s --cert %s --key %s https://127.0.0.1:%d/m"):format(
      q(pki.root.cert), q(entry.cert), q(entry.key), server.port)
  end

  it("serves a client whose certificate comes from the trusted root", function()
    local status, out, err = curl(with_cert(pki.client))
    assert.are.equal(0, status, err)
    assert.is_truthy(out:find("^GET /m HTTP/1%.1 TLSv1%.3 .*sockit client"))
  end)

  it("serves a sockit client with a certificate", function()
    local conn = assert(sockit.connect("127.0.0.1", server.port, {timeout = 30,
      tls = {cafile = pki.root.cert, certificate = pki.client.cert, key = pki.client.key}}))
    defer(function() conn:close() end)
    local code, _, body = get(conn, "/c", true)
    assert.are.equal(200, code)
    assert.is_truthy(body:find("sockit client", 1, true))
  end)

  it("refuses a client without a certificate", function()
    local status, out = curl(("--cacert %s https://127.0.0.1:%d/none"):format(
      q(pki.root.cert), server.port))
    assert.are_not.equal(0, status)
    assert.are.equal("", out)
    local conn = sockit.connect("127.0.0.1", server.port,
      {tls = {cafile = pki.root.cert}, timeout = 30})
    if conn then
      -- in TLS 1.3 the client learns of it at its first read
      defer(function() conn:close() end)
      conn:write("GET / HTTP/1.0\r\n\r\n")
      errs.fails({"ETLS", "ECONNRESET", "EPIPE"}, conn:read("l"))
    end
  end)

  it("refuses a client whose certificate comes from another root", function()
    local status, out = curl(with_cert(pki.other_client))
    assert.are_not.equal(0, status)
    assert.are.equal("", out)
  end)
end)

describe_tls("many TLS connections in tasks", function()
  it("serves 200 concurrent clients, each echoing its own lines", function()
    -- no conn:lines(): Lua 5.1 cannot yield inside a for loop's iterator
    local server = assert(sockit.serve("127.0.0.1", 0, function(conn)
      local line = conn:read("l")
      while line do
        conn:write(line, "\n")
        line = conn:read("l")
      end
    end, {tls = {certificate = pki.leaf.cert, key = pki.leaf.key}, timeout = 60,
          backlog = 256}))
    local _, port = server:address()
    local ctx = tls.context({cafile = pki.root.cert})
    local done, connected = 0, 0
    local all = {}
    for i = 1, 200 do
      sockit.spawn(function()
        local conn = assert(sockit.connect("127.0.0.1", port, {tls = ctx, timeout = 60}))
        all[#all + 1] = conn
        connected = connected + 1
        -- everyone connects before anyone talks: 200 sessions at once
        while connected < 200 do sockit.sleep(0) end
        for j = 1, 3 do
          assert(conn:write(i, ":", j, "\n"))
          assert.are.equal(i .. ":" .. j, conn:read("l"))
        end
        conn:close()
        done = done + 1
        if done == 200 then server:shutdown() end
      end)
    end
    defer(function()
      for _, c in ipairs(all) do c:close() end
      server:close()
    end)
    assert.is_true(sockit.run())
    assert.are.equal(200, done)
  end)
end)

describe_tls("TLS faults from the peer", function()
  it("fails with ETLS when the peer closes without close_notify", function()
    local peer = servers.tls_peer(pki, "drop")
    defer(function() servers.stop(peer) end)
    local conn = assert(sockit.connect("127.0.0.1", peer.port,
      {tls = {cafile = pki.root.cert}, timeout = 30}))
    defer(function() conn:close() end)
    assert.are.equal("hello", conn:read("l"))
    errs.fails("ETLS", conn:read("l"))
  end)

  it("fails a write with ECONNRESET or EPIPE on a reset, and no signal", function()
    local peer = servers.tls_peer(pki, "reset")
    defer(function() servers.stop(peer) end)
    -- in a child, so that a SIGPIPE would show as its death
    local out, ok, how, status = proc.run([[
      local sockit = require("sockit")
      local port, cafile = ...
      local conn = assert(sockit.connect("127.0.0.1", tonumber(port),
        {tls = {cafile = cafile}, timeout = 30}))
      local block = ("x"):rep(65536)
      for _ = 1, 1000 do
        local ok, _, code = conn:write(block)
        if not ok then print(code) break end
      end
      conn:close()
    ]], {tostring(peer.port), pki.root.cert})
    assert.are.same({true, "exit", 0}, {ok, how, status}, out)
    assert.is_truthy(out == "ECONNRESET\n" or out == "EPIPE\n", out)
  end)
end)

-- README, TLS: shutdown("w") ends the TCP stream only, no close_notify,
-- so that a peer which takes close_notify as the end of everything still
-- sends what it has left (close() is the end with close_notify: see
-- tls_stream_spec's "the end of a TLS stream")
describe_tls("shutdown('w') over TLS, against python's ssl", function()
  local peer
  setup(function() peer = servers.tls_peer(pki, "count") end)
  teardown(function() servers.stop(peer) end)

  local function connect()
    local conn = assert(sockit.connect("127.0.0.1", peer.port,
      {tls = {cafile = pki.root.cert}, timeout = 30}))
    defer(function() conn:close() end)
    return conn
  end

  it("half-closes: the peer reads every byte, then answers", function()
    local conn = connect()
    local data = net.bytes(200000, 5)
    assert(conn:write(data))
    assert.is_true(conn:shutdown("w"))
    assert.are.equal("200000", conn:read("l"))
    errs.fails("ETLS", conn:read("l"))  -- python's end: no close_notify
  end)

  it("half-closes in tasks as well", function()
    local got
    sockit.spawn(function()
      local conn = connect()
      assert(conn:write("abc"))
      assert.is_true(conn:shutdown("w"))
      got = conn:read("l")
    end)
    assert.is_true(sockit.run())
    assert.are.equal("3", got)
  end)
end)
