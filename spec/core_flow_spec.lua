-- sockit.core: the classic client flow with raw calls, against an SMTP-like
-- server running in a child process on a loopback port.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local errs = require("support.errs")
local core = env.core()

after_each(function() files.cleanup() end)

-- Prints its port, greets one client, answers HELO and QUIT, then prints
-- the client's address and every line it received (in hex, one a line).
local server = [[
local core = require("sockit.core")
local l = core.socket("inet", "stream")
assert(l:setoption("reuseaddr", true))
assert(l:bind("127.0.0.1", 0))
assert(l:listen())
local _, port = l:getsockname()
io.stdout:write(port, "\n")
io.stdout:flush()

local c, host, cport = assert(l:accept())
l:close()
local pending = ""
local function line()
  while not pending:find("\r\n", 1, true) do
    local s = assert(c:recv(1024))
    if s == "" then return nil end
    pending = pending .. s
  end
  local i = pending:find("\r\n", 1, true)
  local l1 = pending:sub(1, i + 1)
  pending = pending:sub(i + 2)
  return l1
end
local function reply(s)
  local i = 1
  while i <= #s do i = i + assert(c:send(s, i)) end
end

local got = {}
reply("220 sockit.test ESMTP ready\r\n")
while true do
  local l1 = line()
  if not l1 then break end
  got[#got + 1] = l1
  if l1:match("^HELO ") then
    reply("250 sockit.test greets " .. l1:sub(6, -3) .. "\r\n")
  elseif l1 == "QUIT\r\n" then
    reply("221 bye\r\n")
    break
  else
    reply("500 what?\r\n")
  end
end
c:close()
print(host, cport)
for _, l1 in ipairs(got) do
  print((l1:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)))
end
]]

-- Reads one CRLF-terminated line with raw recv calls.
local function readline(s, pending)
  while not pending:find("\r\n", 1, true) do
    local data = assert(s:recv(1024))
    if data == "" then return nil, pending end
    pending = pending .. data
  end
  local i = pending:find("\r\n", 1, true)
  return pending:sub(1, i + 1), pending:sub(i + 2)
end

describe("the classic client flow", function()
  it("resolves localhost and smtp with the classic helpers", function()
    assert.equal("127.0.0.1", core.gethostbyname("localhost"))
    assert.equal(25, core.getservbyname("smtp", "tcp"))
    assert.equal(25, core.getservbyname("smtp"))
    assert.equal(53, core.getservbyname("domain", "udp"))
    errs.fails("EAI_SERVICE", core.getservbyname("no-such-service-here"))
  end)

  it("talks to a server with socket, connect, send, recv and close",
     function()
    local child = proc.spawn(server)
    local port = tonumber(child:read("l"))
    assert.is_not_nil(port, "the server did not start")

    local host = core.gethostbyname("localhost")
    assert.equal("127.0.0.1", host)
    assert.equal(25, core.getservbyname("smtp", "tcp"))
    local s = core.socket("inet", "stream")
    assert(s:connect(host, port))
    local myhost, myport = s:getsockname()

    local pending, l1 = ""
    l1, pending = readline(s, pending)
    assert.equal("220 sockit.test ESMTP ready\r\n", l1)
    assert.equal(8, s:send("HELO x\r\n"))
    l1, pending = readline(s, pending)
    assert.equal("250 sockit.test greets x\r\n", l1)
    -- two commands in one send: the server sees two lines
    assert.equal(16, s:send("NOOP\r\nHELO \0y\0\r\n"))
    l1, pending = readline(s, pending)
    assert.equal("500 what?\r\n", l1)
    l1, pending = readline(s, pending)
    assert.equal("250 sockit.test greets \0y\0\r\n", l1)
    assert.equal(6, s:send("QUIT\r\n"))
    l1, pending = readline(s, pending)
    assert.equal("221 bye\r\n", l1)
    assert.equal("", pending)
    assert.equal("", s:recv(100))   -- the server closed
    assert.is_true(s:close())

    local out = child:read("a")
    assert.is_true(child:close(), out)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(myhost .. "\t" .. myport, lines[1])
    local received = {}
    for i = 2, #lines do
      received[#received + 1] = lines[i]:gsub("%x%x", function(x)
        return string.char(tonumber(x, 16))
      end)
    end
    assert.same({"HELO x\r\n", "NOOP\r\n", "HELO \0y\0\r\n", "QUIT\r\n"},
                received)
  end)
end)
