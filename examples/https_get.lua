-- https_get.lua: GET a URL over TLS and say what came back.
--
--   lua5.4 examples/https_get.lua URL [CAFILE]
--
-- URL is https://host[:port][/path] (port 443 by default; host a name, an
-- IPv4 address or a bracketed IPv6 one). The server's certificate is
-- checked against the system's store, or against CAFILE (a PEM file: the
-- root of a private CA), and must name the host. Prints the status line,
-- the TLS version and the body's length; the body itself is not kept.
-- Exit status: 0 for a 2xx response, 1 otherwise or on an error (a
-- certificate that fails its check gives "ECERT"), 2 for a usage error.

local sockit = require("sockit")

local function fail(what, err, code)
  io.stderr:write("https_get: ", what, ": ", err or "connection closed by the server",
                  code and " (" .. code .. ")" or "", "\n")
  os.exit(1)
end

-- "https://[::1]:8443/a" gives "::1", 8443, "/a", "[::1]:8443".
local function parse_url(url)
  local authority, path = url:match("^[hH][tT][tT][pP][sS]://([^/?#]+)([^#]*)")
  if not authority then return nil end
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  if path == "" then path = "/" end
  return host, tonumber(port) or 443, path, authority
end

-- The response head: status line, then header fields with lower-case names.
local function read_head(conn)
  local status, err, code = conn:read("l")
  if not status then fail("reading the status", err, code) end
  local headers = {}
  while true do
    local line
    line, err, code = conn:read("l")
    if not line then fail("reading the headers", err, code) end
    if line == "" then return status, headers end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then headers[name:lower()] = value end
  end
end

-- Counts the body's bytes: sized, chunked, or up to the end of the stream.
local function body_length(conn, headers)
  local size = tonumber(headers["content-length"])
  if size then
    local body, err, code = conn:read(size)
    if not body or #body < size then fail("reading the body", err, code) end
    return size
  end
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local total = 0
    while true do
      local line, err, code = conn:read("l")
      local n = line and tonumber(line:match("^%x+"), 16)
      if not n then fail("reading a chunk size", err or line, code) end
      if n == 0 then break end
      local chunk, crlf
      chunk, crlf, code = conn:read(n, "l")
      if not chunk or crlf ~= "" then fail("reading a chunk", crlf, code) end
      total = total + n
    end
    repeat local trailer = conn:read("l") until not trailer or trailer == ""
    return total
  end
  local body, err, code = conn:read("a")
  if not body then fail("reading the body", err, code) end
  return #body
end

local function main(url, cafile)
  local host, port, path, authority = parse_url(url or "")
  if not host then
    io.stderr:write("usage: https_get.lua https://host[:port][/path] [CAFILE]\n")
    os.exit(2)
  end
  local conn, err, code = sockit.connect(host, port,
    {tls = cafile and {cafile = cafile} or true, timeout = 30})
  if not conn then fail("connecting to " .. authority, err, code) end
  local ok
  ok, err, code = conn:write("GET ", path, " HTTP/1.1\r\nHost: ", authority,
                             "\r\nConnection: close\r\n\r\n")
  if not ok then fail("sending the request", err, code) end
  local status, headers = read_head(conn)
  local length = body_length(conn, headers)
  print(status)
  print(conn:tls().version)
  print(length .. " bytes")
  conn:close()
  os.exit(status:match("^HTTP/%d%.%d 2%d%d") and 0 or 1)
end

main(...)
