-- examples/http_get.lua, run as a child process against Debian's nginx
-- (support.tlsservers starts it on a free port of 127.0.0.1 and ::1) and
-- against scripted servers this spec plays itself.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local servers = require("support.tlsservers")
local sockit = require("sockit")

local q = env.quote
local HTTP_GET = env.LUA .. "examples/http_get.lua "

local write_file = files.write

local function sha256(path)
  local p = assert(io.popen("sha256sum " .. q(path)))
  local sum = p:read("l"):match("^(%x+)")
  p:close()
  return sum
end

-- Starts http_get in the background, stdout and stderr going to files;
-- `finish()` waits for it and gives status, stdout, stderr.
local function background(args)
  return proc.background(HTTP_GET .. args)
end

local function http_get(args)
  return background(args)()
end

-- Reads a request up to its empty line: request line, headers (lower case).
local function read_request(conn)
  local request_line = assert(conn:read("l"))
  local headers = {}
  while true do
    local line = assert(conn:read("l"))
    if line == "" then return request_line, headers end
    local name, value = line:match("^([^:]+):%s*(.*)$")
    headers[name:lower()] = value
  end
end

describe("examples/http_get.lua against nginx", function()
  local nginx, port, www

  lazy_setup(function()
    nginx = servers.nginx_http(function(root)
      assert(os.execute("mkdir -p " .. q(root .. "/chunked")))
      local urandom = assert(io.open("/dev/urandom", "rb"))
      write_file(root .. "/big.bin", urandom:read(3 * 1024 * 1024 + 17))
      -- Text for SSI, which must find no "<!--#" directive in it: hex digits.
      local text = urandom:read(1024 * 1024):gsub(".", function(c)
        return ("%02x"):format(c:byte())
      end)
      urandom:close()
      write_file(root .. "/chunked/big.html", text)
      write_file(root .. "/index.html", "<p>index</p>\n")
      write_file(root .. "/small.txt", "hello from nginx\n")
    end)
    port, www = nginx.port, nginx.www
  end)

  lazy_teardown(function()
    servers.stop(nginx)
    files.cleanup()
  end)

  it("downloads a few MB over IPv4, sized by Content-Length", function()
    local out = files.tmpdir() .. "/big.bin"
    local status, _, err = http_get(("http://127.0.0.1:%d/big.bin %s"):format(port, q(out)))
    assert.are.equal(0, status, err)
    assert.is_truthy(err:find("^HTTP/1%.1 200"))
    assert.are.equal(sha256(www .. "/big.bin"), sha256(out))
  end)

  it("downloads over IPv6 with a bracketed literal in the URL", function()
    local out = files.tmpdir() .. "/big.bin"
    local status, _, err = http_get(("http://[::1]:%d/big.bin %s"):format(port, q(out)))
    assert.are.equal(0, status, err)
    assert.are.equal(sha256(www .. "/big.bin"), sha256(out))
  end)

  it("downloads a chunked body", function()
    -- First make sure nginx does answer this one chunked.
    local conn = assert(sockit.connect("127.0.0.1", port))
    assert(conn:write("GET /chunked/big.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    local _, headers = read_request(conn)
    conn:close()
    assert.are.equal("chunked", headers["transfer-encoding"])
    assert.is_nil(headers["content-length"])

    local out = files.tmpdir() .. "/big.html"
    local status, _, err = http_get(("http://[::1]:%d/chunked/big.html %s"):format(port, q(out)))
    assert.are.equal(0, status, err)
    assert.are.equal(sha256(www .. "/chunked/big.html"), sha256(out))
  end)

  it("writes the body to stdout without OUTFILE", function()
    local status, out = http_get(("http://127.0.0.1:%d/small.txt"):format(port))
    assert.are.equal(0, status)
    assert.are.equal("hello from nginx\n", out)
  end)

  it("asks for / when the URL has no path", function()
    local status, out = http_get(("http://127.0.0.1:%d"):format(port))
    assert.are.equal(0, status)
    assert.are.equal("<p>index</p>\n", out)
  end)

  it("exits 1 on 404 and still reports the status", function()
    local status, _, err = http_get(("http://127.0.0.1:%d/missing"):format(port))
    assert.are.equal(1, status)
    assert.is_truthy(err:find("^HTTP/1%.1 404"))
  end)
end)

describe("examples/http_get.lua against a scripted server", function()
  after_each(files.cleanup)

  -- Runs http_get on `url_path` against a server on `host` that answers
  -- with `response`; gives status, stdout, stderr, request line, headers.
  local function exchange(host, url_path, response)
    local server = assert(sockit.listen(host, 0))
    local _, port = server:address()
    local authority = (host:find(":") and "[" .. host .. "]" or host) .. ":" .. port
    local finish = background(q("http://" .. authority .. url_path))
    local conn = assert(server:accept())
    local request_line, headers = read_request(conn)
    assert(conn:write(response))
    conn:close()
    server:close()
    local status, out, err = finish()
    return status, out, err, request_line, headers, authority
  end

  it("sends a correct HTTP/1.1 request", function()
    local status, _, _, request_line, headers, authority = exchange("127.0.0.1", "/a/b?x=1&y=2",
      "HTTP/1.1 204 No Content\r\n\r\n")
    assert.are.equal(0, status)
    assert.are.equal("GET /a/b?x=1&y=2 HTTP/1.1", request_line)
    assert.are.equal(authority, headers.host)
    assert.are.equal("close", headers.connection)
  end)

  it("sends the bracketed IPv6 literal in Host", function()
    local status, _, _, _, headers, authority = exchange("::1", "/",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert.are.equal(0, status)
    assert.are.equal(authority, headers.host)
    assert.are.equal("[::1]:", headers.host:sub(1, 6))
  end)

  it("decodes chunks with extensions, upper-case sizes and trailers", function()
    local status, out = exchange("127.0.0.1", "/", table.concat({
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      "5\r\nhello\r\n",
      "1;name=value\r\n \r\n",
      "B\r\n\r\nline\0two\n\r\n",
      "0000000003\r\n.\r\n\r\n",
      "0\r\nX-Trailer: yes\r\n\r\n",
    }))
    assert.are.equal(0, status)
    assert.are.equal("hello \r\nline\0two\n.\r\n", out)
  end)

  it("skips an interim 100 Continue response", function()
    local status, out, err = exchange("127.0.0.1", "/", "HTTP/1.1 100 Continue\r\n\r\n"
      .. "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
    assert.are.equal(0, status)
    assert.are.equal("body", out)
    assert.are.equal("HTTP/1.1 200 OK\n", err)
  end)

  it("reads until the server closes when there is no length", function()
    local status, out = exchange("127.0.0.1", "/",
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil\r\nthe end\0")
    assert.are.equal(0, status)
    assert.are.equal("until\r\nthe end\0", out)
  end)

  it("handles an empty body", function()
    local status, out = exchange("127.0.0.1", "/", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert.are.equal(0, status)
    assert.are.equal("", out)
  end)

  it("exits 1 when the body is cut short", function()
    local status = exchange("127.0.0.1", "/", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    assert.are.equal(1, status)
  end)

  it("exits 1 on a malformed chunk size", function()
    local status = exchange("127.0.0.1", "/",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    assert.are.equal(1, status)
  end)

  it("exits 1 on something that is not HTTP", function()
    local status = exchange("127.0.0.1", "/", "SSH-2.0-OpenSSH\r\n\r\n")
    assert.are.equal(1, status)
  end)
end)

describe("examples/http_get.lua failures", function()
  after_each(files.cleanup)

  it("exits 1 with ECONNREFUSED when nothing listens", function()
    local status, _, err = http_get(("http://127.0.0.1:%d/"):format(net.freeport()))
    assert.are.equal(1, status)
    assert.is_truthy(err:find("ECONNREFUSED", 1, true))
  end)

  it("exits 1 on a URL it cannot fetch and 2 without one", function()
    assert.are.equal(1, (http_get(q("https://127.0.0.1/"))))
    assert.are.equal(1, (http_get(q("http://127.0.0.1:99999/"))))
    assert.are.equal(2, (http_get("")))
  end)
end)
