-- http_get.lua: fetch a URL with HTTP/1.1 GET.
--
--   lua5.4 examples/http_get.lua URL [OUTFILE]
--
-- URL is http://host[:port][/path]; host may be a name, an IPv4 address or
-- a bracketed IPv6 address (http://[::1]:8080/file). The status line goes to
-- stderr, the body to OUTFILE or stdout. Bodies sized by Content-Length,
-- chunked bodies and bodies ended by closing the connection are handled.
-- Redirects are not followed. Exit status: 0 for a 2xx or 3xx response,
-- 1 for a 4xx or 5xx response or an error, 2 for a usage error.

local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local BLOCK = 64 * 1024       -- the body is copied in pieces of at most this

local function fail(...)
  io.stderr:write("http_get: ", ...)
  io.stderr:write("\n")
  os.exit(1)
end

-- For a failed read or write; no error message means the server closed.
local function fail_io(what, err, code)
  if err then fail(what, ": ", err, " (", tostring(code), ")") end
  fail(what, ": connection closed by the server")
end

-- "http://[::1]:8080/a?b" gives "::1", 8080, "/a?b", "[::1]:8080".
local function parse_url(url)
  local authority, path = url:match("^[hH][tT][tT][pP]://([^/?#]+)([^#]*)")
  if not authority then return nil end
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  if path == "" then path = "/" elseif path:sub(1, 1) == "?" then path = "/" .. path end
  port = port ~= "" and tonumber(port) or 80
  if port > 65535 then return nil end
  return host, port, path, authority
end

-- Reads one line without its CRLF ("l" drops both); exits on failure.
local function read_line(conn, what)
  local line, err, code = conn:read("l")
  if not line then fail_io("reading " .. what, err, code) end
  return line
end

-- Header names are case-insensitive: they are stored in lower case.
-- A repeated header (other than Set-Cookie) is joined with commas.
local function read_headers(conn)
  local headers = {}
  while true do
    local line = read_line(conn, "the headers")
    if line == "" then return headers end
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if not name then fail("malformed header line: ", line) end
    name = name:lower()
    headers[name] = headers[name] and headers[name] .. ", " .. value or value
  end
end

local function copy_bytes(conn, out, n)
  while n > 0 do
    local piece, err, code = conn:read(math.min(n, BLOCK))
    if not piece then fail_io("reading the body", err, code) end
    out:write(piece)
    n = n - #piece
  end
end

local function copy_until_close(conn, out)
  while true do
    local piece, err, code = conn:read_some(BLOCK)
    if piece == nil then
      if err then fail_io("reading the body", err, code) end
      return
    end
    out:write(piece)
  end
end

-- Chunked transfer coding (RFC 9112 7.1): "<hex size>[;extensions]" CRLF,
-- that many bytes, CRLF; a zero size ends the body, then optional trailer
-- header lines and an empty line.
local function copy_chunked(conn, out)
  while true do
    local line = read_line(conn, "a chunk size")
    local hex = line:match("^(%x+)%s*;?")
    if not hex then fail("malformed chunk size line: ", line) end
    local size = tonumber(hex, 16)
    if size == 0 then break end
    copy_bytes(conn, out, size)
    if read_line(conn, "the end of a chunk") ~= "" then fail("chunk not followed by CRLF") end
  end
  read_headers(conn)          -- the trailer section, ignored
end

-- How the body ends (RFC 9112 6.3): chunked coding first, then
-- Content-Length, else the server closing the connection.
local function copy_body(conn, out, status, headers)
  if status == 204 or status == 304 then return end     -- never a body
  local te = headers["transfer-encoding"]
  if te and te:lower():match("chunked%s*$") then return copy_chunked(conn, out) end
  local length = headers["content-length"]
  if length then
    local n = integer(length)
    if not n or n < 0 then fail("bad Content-Length: ", length) end
    return copy_bytes(conn, out, n)
  end
  return copy_until_close(conn, out)
end

local function main(argv)
  local url, outfile = argv[1], argv[2]
  if not url or argv[3] then
    io.stderr:write("usage: http_get.lua URL [OUTFILE]\n")
    os.exit(2)
  end
  local host, port, path, authority = parse_url(url)
  if not host then fail("not an http:// URL: ", url) end

  local conn, err, code = sockit.connect(host, port, { timeout = 30 })
  if not conn then fail("cannot connect to ", authority, ": ", err, " (", code, ")") end

  local ok
  ok, err, code = conn:write("GET ", path, " HTTP/1.1\r\n",
                             "Host: ", authority, "\r\n",
                             "User-Agent: sockit-http_get\r\n",
                             "Accept: */*\r\n",
                             "Connection: close\r\n\r\n")
  if not ok then fail_io("sending the request", err, code) end

  -- Skip interim 1xx responses (such as "100 Continue") up to the final one.
  local status_line, status, headers
  repeat
    status_line = read_line(conn, "the status line")
    status = tonumber(status_line:match("^HTTP/%d%.%d (%d%d%d)"))
    if not status then fail("not an HTTP response: ", status_line) end
    headers = read_headers(conn)
  until status >= 200
  io.stderr:write(status_line, "\n")

  local out = io.stdout
  if outfile then out = io.open(outfile, "wb") or fail("cannot open ", outfile) end

  copy_body(conn, out, status, headers)
  conn:close()
  if out ~= io.stdout then out:close() else out:flush() end
  os.exit(status < 400 and 0 or 1)
end

main(arg)
