-- The examples over TLS, run as child processes against real servers with
-- the test PKI: examples/https_get.lua against nginx, examples/sendmail.lua
-- against aiosmtpd with STARTTLS (the command, and its SMTP class with
-- AUTH) and against a server injecting plaintext after STARTTLS.
-- Pending, with the reason, where sockit.tls is not built.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local servers = require("support.tlsservers")

local q = env.quote
local run = proc.exec

local tlsspec = require("support.tlsspec")
local pki = tlsspec.pki
local describe_tls, defer = tlsspec.helpers(describe, pending, after_each)

describe_tls("examples/https_get.lua against nginx", function()
  local nginx

  lazy_setup(function() nginx = servers.nginx(pki) end)
  lazy_teardown(function() servers.stop(nginx) end)

  local function https_get(url, cafile)
    return run(env.LUA .. "examples/https_get.lua " .. q(url) .. " "
               .. (cafile and q(cafile) or ""))
  end

  for _, host in ipairs({"127.0.0.1", "[::1]", "localhost"}) do
    it("gets 5 MB from " .. host .. " and says so", function()
      local status, out, err = https_get(("https://%s:%d/big.bin"):format(host, nginx.port),
                                         pki.root.cert)
      assert.are.equal(0, status, err)
      assert.are.equal("HTTP/1.1 200 OK\nTLSv1.3\n5000000 bytes\n", out)
    end)
  end

  it("exits 1 on 404", function()
    local status, out = https_get(("https://127.0.0.1:%d/missing"):format(nginx.port),
                                  pki.root.cert)
    assert.are.equal(1, status)
    assert.is_truthy(out:find("^HTTP/1%.1 404"))
  end)

  it("exits 1 with ECERT when the root is not trusted", function()
    local status, out, err = https_get(("https://127.0.0.1:%d/small.txt"):format(nginx.port))
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.is_truthy(err:find("(ECERT)", 1, true))
  end)

  it("exits 2 without an https URL", function()
    assert.are.equal(2, (https_get("http://127.0.0.1/")))
  end)
end)

describe_tls("examples/sendmail.lua with STARTTLS", function()
  after_each(files.cleanup)

  local BODY = "Hello Bob,\n.\n..two dots\nlast line"

  local function sendmail(port, args, password)
    return run((password and "SMTP_PASSWORD=" .. q(password) .. " " or "")
      .. env.LUA .. "examples/sendmail.lua --host localhost --port " .. port
      .. " --from alice@example.org --to bob@example.org --timeout 30 " .. args, BODY)
  end

  it("delivers through aiosmtpd, which requires STARTTLS", function()
    local server = servers.aiosmtpd(pki)
    defer(function() servers.stop(server) end)
    local status, _, err = sendmail(server.port,
      "--subject " .. q("over tls") .. " --cafile " .. q(pki.root.cert))
    assert.are.equal(0, status, err)
    -- aiosmtpd's handler printed the message before it answered 250
    local log = servers.log(server)
    assert.is_truthy(log:find("Subject: over tls", 1, true), log)
    assert.is_truthy(log:find("\n..two dots", 1, true), log)
  end)

  it("refuses a server whose certificate it cannot check", function()
    local server = servers.aiosmtpd(pki)
    defer(function() servers.stop(server) end)
    local status, _, err = sendmail(server.port, "--subject s")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("(ECERT)", 1, true), err)
  end)

  describe("and AUTH PLAIN", function()
    local server

    before_each(function() server = servers.smtp_auth(pki) end)
    after_each(function() servers.stop(server) end)

    it("logs in and delivers byte for byte", function()
      local status, _, err = sendmail(server.port, "--subject auth --user alice --cafile "
        .. q(pki.root.cert), "open sesame")
      assert.are.equal(0, status, err)
      local text = files.read(server.mail)
      local head, size, first = text:match("^(.-)DATA (%d+) bytes\n()")
      assert.are.equal("AUTH alice\nMAIL FROM:<alice@example.org>\n"
        .. "RCPT TO:<bob@example.org>\n", head)
      local data = text:sub(first)
      assert.are.equal(tonumber(size), #data)
      assert.is_truthy(data:find("\r\nSubject: auth\r\n", 1, true))
      assert.are.equal("Hello Bob,\r\n.\r\n..two dots\r\nlast line\r\n",
                       data:match("\r\n\r\n(.*)$"))
    end)

    it("fails with status 1 on a wrong password", function()
      local status, _, err = sendmail(server.port, "--user alice --cafile "
        .. q(pki.root.cert), "open barley")
      assert.are.equal(1, status)
      assert.is_truthy(err:find("535", 1, true), err)
    end)

    it("fails with status 1 when the server wants a login it was not given", function()
      local status, _, err = sendmail(server.port, "--cafile " .. q(pki.root.cert))
      assert.are.equal(1, status)
      assert.is_truthy(err:find("530", 1, true), err)
    end)

    it("wants the password in SMTP_PASSWORD", function()
      local status = sendmail(server.port, "--user alice --cafile " .. q(pki.root.cert))
      assert.are.equal(2, status)
    end)
  end)

  it("refuses plaintext injected after the STARTTLS reply, with EPROTO", function()
    local server = servers.injector()
    defer(function() servers.stop(server) end)
    local status, _, err = sendmail(server.port, "--user alice --cafile "
      .. q(pki.root.cert), "open sesame")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("(EPROTO)", 1, true), err)
    assert.is_falsy(err:find("AUTH", 1, true))
  end)
end)
