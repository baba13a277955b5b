-- TLS streams: a sockit TLS client against a sockit TLS server over
-- loopback, with the test PKI made by the openssl command (support.pki).
-- A stream over TLS reads and writes as a plain one, in tasks and outside
-- them; certificates are checked; starttls refuses buffered plaintext.
-- Pending, with the reason, where sockit.tls is not built.

local errs = require("support.errs")
local files = require("support.files")
local net = require("support.net")
local proc = require("support.proc")
local sockit = require("sockit")

local tlsspec = require("support.tlsspec")
local tls, pki = tlsspec.tls, tlsspec.pki
local describe_tls, defer = tlsspec.helpers(describe, pending, after_each)

local unpack = table.unpack or unpack  -- luacheck: compat
local SAFETY = 30  -- seconds, the timeout of streams that wait for a peer

-- obj, closed after the spec whatever happens
local function closing(obj)
  defer(function() obj:close() end)
  return obj
end

local function with(base, extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function server_tls(extra)
  return with({certificate = pki.leaf.cert, key = pki.leaf.key}, extra)
end

local function client_tls(extra)
  return with({cafile = pki.root.cert}, extra)
end

-- a server on 127.0.0.1 running handler in a task per client, over TLS
-- unless tlsopts is false; its failures go to the list `failures`
-- -> server, port, failures
local function serve(handler, tlsopts, extra)
  local failures = {}
  if tlsopts == nil then tlsopts = server_tls() end
  local srv = assert(sockit.serve("127.0.0.1", 0, handler, with({
    tls = tlsopts or nil, timeout = SAFETY,
    onerror = function(err) failures[#failures + 1] = err end}, extra)))
  closing(srv)
  local _, port = srv:address()
  return srv, port, failures
end

local function connect(port, tlsopts, host, extra)
  return sockit.connect(host or "localhost", port, with({
    tls = tlsopts or client_tls(), timeout = SAFETY}, extra))
end

-- fn in a task, then the loop until every task ended
local function intask(fn)
  sockit.spawn(fn)
  assert.is_true(sockit.run())
end

describe_tls("a TLS stream in tasks", function()
  it("reads every format as a plain stream does", function()
    local srv, port = serve(function(s)
      assert(s:write("line one\r\nline two\n42 3.5 0x10\nabcdefghij"))
    end)
    intask(function()
      local c = assert(connect(port))
      assert.are.equal("line one", c:read("l"))
      assert.are.equal("line two\n", c:read("L"))
      local a, b, x = c:read("n", "n", "n")
      assert.are.same({42, 3.5, 16}, {a, b, x})
      assert.are.equal("\n", c:read(1))
      assert.are.equal("abcd", c:read(4))
      assert.are.equal("ef", c:read_some(2))
      assert.are.equal(c, c:unread("XY"))
      assert.are.equal("XYghij", c:read("a"))
      assert.are.equal("", c:read("a"))
      assert.is_nil(c:read("l"))
      assert.is_nil(c:read(0))
      c:close()
      srv:close()
    end)
  end)

  it("carries megabytes both ways, byte for byte", function()
    local data = net.bytes(3 * 1024 * 1024 + 17, 7)
    local srv, port = serve(function(s)
      local got = s:read(#data)  -- luassert's assert returns more than it got
      assert(s:write(got))
    end)
    local echoed
    intask(function()
      local c = assert(connect(port))
      sockit.spawn(function() assert(c:write(data)) end)
      echoed = c:read(#data)
      c:close()
      srv:close()
    end)
    assert.is_true(echoed == data, "the echo differs")
  end)

  it("reads large counts up to the end of the stream, byte for byte", function()
    local data = net.bytes(300000, 3)
    local srv, port = serve(function(s) assert(s:write("head\n", data)) end)
    local parts
    intask(function()
      local c = assert(connect(port))
      parts = {c:read("l"), c:read(65536)}  -- the first through the reader
      repeat
        local chunk = c:read(100000)
        parts[#parts + 1] = chunk
      until chunk == nil
      assert.is_nil(c:read(65536))
      c:close()
      srv:close()
    end)
    assert.are.equal("head", table.remove(parts, 1))
    assert.are.equal(100000, #parts[2])
    assert.is_true(table.concat(parts) == data, "the bytes differ")
  end)

  it("consumes nothing when a read times out", function()
    local srv, port = serve(function(s)
      assert(s:write("partial"))
      assert.are.equal("go", s:read("l"))
      assert(s:write(" line\n"))
    end)
    intask(function()
      local c = assert(connect(port))
      c:settimeout(0.05)
      errs.fails("ETIMEDOUT", c:read("l"))
      c:settimeout(SAFETY)
      assert(c:write("go\n"))
      assert.are.equal("partial line", c:read("l"))
      c:close()
      srv:close()
    end)
  end)

  it("gives EMSGSIZE for a line over maxline, consuming nothing", function()
    local srv, port = serve(function(s)
      assert(s:write("0123456789ABCDEF\nok\n"))
    end)
    intask(function()
      local c = assert(connect(port, nil, nil, {maxline = 10}))
      errs.fails("EMSGSIZE", c:read("l"))
      assert.are.equal("0123456789ABCDEF\n", c:read(17))
      assert.are.equal("ok", c:read("l"))
      c:close()
      srv:close()
    end)
  end)

  it("refuses to pass descriptors, which TLS cannot protect", function()
    local srv, port = serve(function(s) s:read("l") end)
    intask(function()
      local c = assert(connect(port))
      assert.has_error(function() c:sendfds("x", {0}) end,
                       "sendfds: not on a stream over TLS")
      assert.has_error(function() c:recvfds(1) end,
                       "recvfds: not on a stream over TLS")
      c:close()
      srv:close()
    end)
  end)

  it("sends a file through TLS with sendfile", function()
    local path = files.tmppath("tls-sendfile")
    local content = net.bytes(200 * 1024 + 3, 11)
    files.write(path, content)
    local srv, port = serve(function(s)
      assert.are.equal(#content - 5, s:sendfile(path, 5))
    end)
    closing({close = files.cleanup})
    local got
    intask(function()
      local c = assert(connect(port))
      got = c:read("a")
      c:close()
      srv:close()
    end)
    assert.is_true(got == content:sub(6), "the file differs")
  end)
end)

describe_tls("stream:tls()", function()
  it("describes the session on both ends, nil on a plain stream", function()
    local seen
    local srv, port = serve(function(s)
      assert(s:read("l"))
      seen = s:tls()
    end, server_tls({alpn = {"h2", "http/1.1"}}))
    local info
    intask(function()
      local c = assert(connect(port, client_tls({alpn = {"http/1.1"}})))
      info = c:tls()
      assert(c:write("done\n"))
      assert.is_nil(c:read("l"))
      c:close()
      srv:close()
    end)
    assert.are.equal("TLSv1.3", info.version)
    assert.is_string(info.cipher)
    assert.are.equal("http/1.1", info.alpn)
    assert.are.equal("localhost", info.servername)
    assert.is_true(info.verified)
    assert.are.equal("CN=localhost", info.peer.subject)
    assert.are.equal("CN=sockit test root", info.peer.issuer)
    assert.is_true(info.peer.notbefore < info.peer.notafter)
    assert.are.same({"localhost", "127.0.0.1", "::1"}, info.peer.names)
    assert.are.equal("localhost", seen.servername)
    assert.are.equal("http/1.1", seen.alpn)
    assert.is_nil(seen.peer)
    assert.is_false(seen.verified)
    local a, b = net.pair(function() end)
    assert.is_nil(closing(sockit.stream(a)):tls())
    sockit.stream(b):close()
  end)

  it("tells TLS 1.2 when the client allows no more", function()
    local srv, port = serve(function(s) s:read("l") end)
    intask(function()
      local c = assert(connect(port, client_tls({max_version = "tls1.2"})))
      assert.are.equal("TLSv1.2", c:tls().version)
      c:close()
      srv:close()
    end)
  end)
end)

describe_tls("certificate checks", function()
  local function refused(cert, host, opts)
    local srv, port, failures = serve(function(s) s:read("l") end,
      {certificate = cert.cert, key = cert.key})
    local msg
    intask(function()
      msg = errs.fails("ECERT", connect(port, opts or client_tls(), host))
      srv:close()
    end)
    assert.are.equal(1, #failures)
    return msg
  end

  it("refuses a self-signed certificate with ECERT", function()
    local msg = refused(pki.selfsigned)
    assert.are.equal("certificate verify failed:", msg:sub(1, 26))
  end)

  it("refuses a certificate for another name with ECERT", function()
    refused(pki.leaf, nil, client_tls({servername = "wrong.example"}))
  end)

  it("refuses a certificate without the IP address connected to", function()
    refused(pki.nameonly, "127.0.0.1")
  end)

  it("refuses a private CA's certificate against the system store", function()
    refused(pki.leaf, nil, true)
  end)

  it("connects with verify = false, and says it is not verified", function()
    local srv, port = serve(function(s) s:read("l") end,
      {certificate = pki.selfsigned.cert, key = pki.selfsigned.key})
    intask(function()
      local c = assert(connect(port, {verify = false}))
      assert.is_false(c:tls().verified)
      c:close()
      srv:close()
    end)
  end)

  -- connections to port, each made from ctx or a context of its own
  -- (ctx false) and echoing a line: {client's tls(), server's tls()} each
  local function sessions(n, ctx, version)
    local seen = {}
    local srv, port = serve(function(s)
      assert(s:write(s:read("l"), "\n"))
      seen[#seen + 1] = s:tls()
    end)
    local infos = {}
    intask(function()
      for i = 1, n do
        local c = assert(connect(port, ctx or
                                 client_tls({max_version = version})))
        assert(c:write("n" .. i .. "\n"))
        assert.are.equal("n" .. i, c:read("l"))
        infos[i] = c:tls()
        assert.is_nil(c:read("l"))
        c:close()
      end
      srv:close()
    end)
    for i = 1, n do infos[i] = {infos[i], seen[i]} end
    return infos
  end

  for _, version in ipairs({"tls1.2", "tls1.3"}) do
    it("resumes the session of a reused context, " .. version, function()
      local infos = sessions(3, tls.context(client_tls({max_version = version})))
      for i, pair in ipairs(infos) do
        local client, server = pair[1], pair[2]
        assert.are.equal(i > 1, client.resumed)
        assert.are.equal(i > 1, server.resumed)
        assert.is_true(client.verified)  -- the session's check stands
        assert.are.equal("CN=localhost", client.peer.subject)
      end
    end)
  end

  it("does not resume with a context of its own each time", function()
    for _, pair in ipairs(sessions(2, false)) do
      assert.is_false(pair[1].resumed)
      assert.is_false(pair[2].resumed)
    end
  end)
end)

describe_tls("the end of a TLS stream", function()
  it("is a clean end after close_notify", function()
    local srv, port = serve(function(s) assert(s:write("bye\n")) end)
    intask(function()
      local c = assert(connect(port))
      assert.are.equal("bye", c:read("l"))
      assert.is_nil(c:read("l"))
      c:close()
      srv:close()
    end)
  end)

  it("is ETLS when the peer's socket ends without close_notify", function()
    local srv, port = serve(function(s)
      assert(s:write("bye\n"))
      assert(s:shutdown("w"))  -- the socket's end, no close_notify
      s:read("l")
    end)
    intask(function()
      local c = assert(connect(port))
      assert.are.equal("bye", c:read("l"))
      errs.fails("ETLS", c:read("l"))
      c:close()
      srv:close()
    end)
  end)

  it("fails the handshake of a plaintext client, reported by serve", function()
    local srv, port, failures = serve(function() end)
    intask(function()
      local c = assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
      assert(c:write("GET / HTTP/1.0\r\n\r\n"))
      c:read("a")
      c:close()
      srv:close()
    end)
    assert.are.equal(1, #failures)
    assert.is_truthy(failures[1]:find("(ETLS)", 1, true))
  end)
end)

describe_tls("the lazy handshake of an accepted stream", function()
  -- a TLS listener and, accepted from it in a task, the stream a client
  -- made by connect(port) opened: the client runs in a task of its own
  local function accepted(client)
    local srv = closing(assert(sockit.listen("127.0.0.1", 0,
                                             {tls = server_tls()})))
    srv:settimeout(SAFETY)
    local _, port = srv:address()
    sockit.spawn(client, port)
    return closing(assert(srv:accept()))
  end

  it("is run once for a reader task and a writer task started together", function()
    local got, echoed
    intask(function()
      local s = accepted(function(port)
        local c = closing(assert(connect(port)))
        assert(c:write("from the client\n"))
        echoed = c:read("l")
      end)
      s:settimeout(SAFETY)
      sockit.spawn(function() got = s:read("l") end)
      sockit.spawn(function() assert(s:write("from the server\n")) end)
    end)
    assert.are.equal("from the client", got)
    assert.are.equal("from the server", echoed)
  end)

  it("gives both tasks the fail tuple of a failed one", function()
    local results = {}
    intask(function()
      local s = accepted(function(port)
        local c = closing(assert(sockit.connect("127.0.0.1", port,
                                                {timeout = SAFETY})))
        assert(c:write("GET / HTTP/1.0\r\n\r\n"))
      end)
      s:settimeout(SAFETY)
      sockit.spawn(function() results.read = {s:read("l")} end)
      sockit.spawn(function() results.write = {s:write("never\n")} end)
    end)
    errs.fails("ETLS", unpack(results.read, 1, 3))
    errs.fails("ETLS", unpack(results.write, 1, 3))
    assert.are.equal(0, results.write[4])  -- nothing sent
  end)

  it("lets a waiting task time out under its own deadline", function()
    local res
    intask(function()
      local s = accepted(function(port)  -- a client that never speaks
        closing(assert(sockit.connect("127.0.0.1", port)))
      end)
      s:settimeout(SAFETY)
      sockit.spawn(function()
        errs.fails("ECANCELED", s:read("l"))
      end)
      sockit.spawn(function()
        s:settimeout(0.05)
        res = {s:write("x")}
        s:close()  -- wakes the first task's handshake
      end)
    end)
    errs.fails("ETIMEDOUT", unpack(res, 1, 3))
  end)
end)

describe_tls("a failed handshake in serve", function()
  it("says nothing on stderr without onerror, and the server goes on", function()
    local out = proc.run([[
      local sockit = require("sockit")
      local cert, key, root = ...
      local srv = assert(sockit.serve("127.0.0.1", 0, function(s)
        assert(s:write("served\n"))
      end, {tls = {certificate = cert, key = key}, timeout = 30}))
      local _, port = srv:address()
      sockit.spawn(function()
        for _ = 1, 3 do  -- plaintext clients
          local c = assert(sockit.connect("127.0.0.1", port, {timeout = 30}))
          assert(c:write("GET / HTTP/1.0\r\n\r\n"))
          c:read("a")
          c:close()
        end
        local c = assert(sockit.connect("localhost", port,
                                        {tls = {cafile = root}, timeout = 30}))
        io.write(c:read("l"), "\n")
        c:close()
        srv:shutdown()
      end)
      assert(sockit.run())
    ]], {pki.leaf.cert, pki.leaf.key, pki.root.cert})
    assert.are.equal("served\n", out)
  end)
end)

describe_tls("stream:starttls", function()
  -- a plaintext server that answers STARTTLS with `reply`, then
  -- (without plaintext after it) goes on over TLS, echoing a line
  local function smtpish(reply)
    return serve(function(s)
      assert(s:write("220 ready\r\n"))
      assert.are.equal("STARTTLS", s:read("l"))
      assert(s:write(reply))
      if reply ~= "220 go\r\n" then return end
      assert(s:starttls(server_tls({mode = "server"})))
      assert(s:write(s:read("l"), "\n"))
    end, false)
  end

  local function upto_starttls(port, reply)
    local c = assert(sockit.connect("localhost", port, {timeout = SAFETY}))
    assert.are.equal("220 ready", c:read("l"))
    assert(c:write("STARTTLS\r\n"))
    assert.are.equal(reply, c:read(#reply))
    return c
  end

  it("goes on over TLS, checking the name connected to", function()
    local srv, port = smtpish("220 go\r\n")
    intask(function()
      local c = upto_starttls(port, "220 go\r\n")
      assert.is_nil(c:tls())
      assert.are.equal(c, c:starttls(client_tls()))
      assert.is_true(c:tls().verified)
      assert.are.equal("localhost", c:tls().servername)
      assert(c:write("secret\n"))
      assert.are.equal("secret", c:read("l"))
      c:close()
      srv:close()
    end)
  end)

  it("refuses with EPROTO while plaintext is buffered, the stream as it was", function()
    local srv, port = smtpish("220 go\r\nINJECTED\r\n")
    intask(function()
      local c = upto_starttls(port, "220 go\r\nINJECTED\r\n")
      c:unread("INJECTED\r\n")  -- as if it came in the same receive
      errs.fails("EPROTO", c:starttls(client_tls()))
      assert.is_nil(c:tls())
      assert.are.equal("INJECTED", c:read("l"))
      c:close()
      srv:close()
    end)
  end)
end)

describe_tls("a TLS stream outside tasks", function()
  it("blocks on reads and writes, and lines() reads it", function()
    local srv = closing(assert(sockit.listen("127.0.0.1", 0,
                                             {tls = server_tls()})))
    local _, port = srv:address()
    local child = proc.spawn([[
      local sockit = require("sockit")
      local port, cafile = ...
      local c = assert(sockit.connect("localhost", tonumber(port),
        {tls = {cafile = cafile}, timeout = 30}))
      assert(c:write("one\ntwo\nthree\n"))
      io.write(assert(c:read("a")))
      c:close()
    ]], {port, pki.root.cert})
    srv:settimeout(SAFETY)  -- a safety net should the child fail
    local s = closing(assert(srv:accept()))
    local got = {}
    for line in s:lines() do
      got[#got + 1] = line
      if #got == 3 then break end
    end
    assert.are.same({"one", "two", "three"}, got)
    assert(s:write(("z"):rep(100000)))
    s:close()
    local out = child:read("a")
    assert.is_true(child:close())
    assert.are.equal(("z"):rep(100000), out)
  end)
end)
