-- sockit: the Stream object, buffered reading like file:read and writing
-- like file:write, over socketpairs and loopback TCP.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")
local it54 = require("support.lua54")(it, pending)

after_each(function() files.cleanup() end)

-- a raw socket for the test to write with and a Stream reading the other
-- end; both closed after the test
local function pair(opts, stype)
  local a, b = core.socketpair(stype)
  local s = sockit.stream(b, opts)
  finally(function() a:close(); s:close() end)
  return a, s
end

-- two Streams over a socketpair
local function streams(stype)
  local a, b = core.socketpair(stype)
  local sa, sb = sockit.stream(a), sockit.stream(b)
  finally(function() sa:close(); sb:close() end)
  return sa, sb
end

-- the message a raise gave, with the line it points at
local raised = errs.raised

-- the fail tuple of a write: nil, msg, code, sent
local function writefail(code, v, msg, got, sent)
  assert.is_nil(v)
  assert.is_string(msg)
  assert.equal(code, got)
  assert.equal("integer", math.type(sent))
  return sent
end

describe("sockit.stream", function()
  it("wraps a connected core socket and owns it", function()
    local a, b = core.socketpair()
    local s = sockit.stream(b)
    assert.equal(b, s.socket)
    assert.equal("sockit.stream", getmetatable(s).__name)
    assert.matches("^sockit%.stream %(fd %d+%)$", tostring(s))
    s:close()
    assert.equal("closed socket", core.type(b))
    assert.equal("sockit.stream (closed)", tostring(s))
    a:close()
  end)

  it("takes the timeout and maxline options", function()
    local a, s = pair({timeout = 0.05, maxline = 4})
    errs.fails("ETIMEDOUT", s:read("l"))
    a:send("12345\n")
    errs.fails("EMSGSIZE", s:read("l"))
  end)

  it("raises on what is not an open core socket", function()
    assert.matches("bad argument #1 to 'stream' %(sockit.socket expected",
                   raised(sockit.stream, {}))
    assert.matches("bad argument #1 to 'stream'", raised(sockit.stream))
    local a, b = core.socketpair()
    b:close()
    assert.matches("closed socket", raised(sockit.stream, b))
    a:close()
    local c, d = core.socketpair()
    assert.matches("bad argument #2 to 'stream'",
                   raised(sockit.stream, c, "x"))
    assert.matches("maxline", raised(sockit.stream, c, {maxline = 0}))
    assert.matches("timeout", raised(sockit.stream, c, {timeout = "1"}))
    c:close(); d:close()
  end)
end)

describe("stream:read", function()
  it("reads lines without and with the newline", function()
    local a, s = pair()
    a:send("one\ntwo\r\nthree\n\nlast")
    assert.equal("one", s:read())
    assert.equal("two\r\n", s:read("L"))
    assert.equal("three", s:read("l"))
    assert.equal("", s:read("l"))
    a:shutdown("w")
    assert.equal("last", s:read("l"))
    assert.is_nil(s:read("l"))
    assert.is_nil(s:read("L"))
  end)

  it("gives the last line without a newline with L too", function()
    local a, s = pair()
    a:send("x\ny")
    a:shutdown("w")
    assert.equal("x\n", s:read("L"))
    assert.equal("y", s:read("L"))
    assert.is_nil(s:read("L"))
  end)

  it("reads byte counts, short at the end of stream, then nil", function()
    local a, s = pair()
    a:send("abcdefgh")
    a:shutdown("w")
    assert.equal("abc", s:read(3))
    assert.equal("d", s:read(1.0))
    assert.equal("efgh", s:read(10))
    assert.is_nil(s:read(1))
  end)

  it("reads everything with a, then an empty string", function()
    local a, s = pair()
    a:send("head\nbody\0with zeros")
    assert.equal("head", s:read("l"))
    a:shutdown("w")
    assert.equal("body\0with zeros", s:read("a"))
    assert.equal("", s:read("a"))
    assert.equal("", s:read("a"))
  end)

  it("tests for the end of stream with a count of 0", function()
    local a, s = pair()
    a:send("z")
    assert.equal("", s:read(0))
    assert.equal("z", s:read(1))
    a:shutdown("w")
    assert.is_nil(s:read(0))
  end)

  it("reads numbers with n as file:read does", function()
    local a, s = pair()
    a:send(" 12 \t-3.5e2\n0x1F 0x1p4 .5 +7 12abc")
    a:shutdown("w")
    local n = s:read("n")
    assert.equal(12, n)
    assert.equal("integer", math.type(n))
    assert.equal(-350.0, s:read("*n"))
    assert.equal(31, s:read("n"))
    assert.equal(16.0, s:read("n"))
    assert.equal(0.5, s:read("n"))
    assert.equal(7, s:read("n"))
    assert.equal(12, s:read("n"))
    assert.is_nil(s:read("n"))      -- "abc" is no numeral
    assert.equal("abc", s:read("a"))
    assert.is_nil(s:read("n"))
  end)

  it("matches file:read on the same bytes for every format", function()
    local text = "1 line\nsecond line\n\n42 0x10\nrest without newline"
    local path = files.tmpdir() .. "/f"
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    local calls = {{"l"}, {"L"}, {"l", "n"}, {"n", "n", "l"}, {3, "l"},
                   {"a"}, {"a"}, {"l"}, {0}, {5}}
    local a, s = pair()
    a:send(text)
    a:shutdown("w")
    f = assert(io.open(path, "rb"))
    for _, fmts in ipairs(calls) do
      local want = table.pack(f:read(table.unpack(fmts)))
      local got = table.pack(s:read(table.unpack(fmts)))
      assert.same(want, got)
    end
    f:close()
  end)

  it("reads several formats in one call", function()
    local a, s = pair()
    a:send("first\nsecond\n0123456789 77\nrest")
    a:shutdown("w")
    local l1, l2, n4, num, nl, all = s:read("l", "L", 4, "n", "L", "a")
    assert.equal("first", l1)
    assert.equal("second\n", l2)
    assert.equal("0123", n4)
    assert.equal(456789, num)
    assert.equal(" 77\n", nl)
    assert.equal("rest", all)
  end)

  it("stops at the first format that meets the end of stream", function()
    local a, s = pair()
    a:send("only\n")
    a:shutdown("w")
    local n = select("#", s:read("l", "l", "l"))
    local v1, v2 = s:read("l", "l")
    assert.equal(2, n)
    assert.is_nil(v1)
    assert.is_nil(v2)
  end)

  it("accepts the * prefix of older Lua versions", function()
    local a, s = pair()
    a:send("x\ny\nz")
    a:shutdown("w")
    assert.equal("x", s:read("*l"))
    assert.equal("y\n", s:read("*L"))
    assert.equal("z", s:read("*a"))
  end)

  it("gathers a line across many small sends", function()
    local a, s = pair({timeout = 0})
    local text = "hello world\nsecond\n"
    local lines = {}
    for i = 1, #text do
      a:send(text, i, i)
      local line, _, code = s:read("l")
      if line then lines[#lines + 1] = line
      else assert.equal("EAGAIN", code) end
    end
    assert.same({"hello world", "second"}, lines)
  end)

  it("reads lines written by another process in small pieces", function()
    local l, port = net.listener()
    local child = proc.spawn([[
      local core = require("sockit.core")
      local port = tonumber(...)
      local s = core.socket("inet", "stream")
      assert(s:connect("127.0.0.1", port))
      local parts = {}
      for i = 1, 3000 do parts[#parts + 1] = ("line %d %s\n"):format(i, ("x"):rep(i % 97)) end
      local text = table.concat(parts)
      local i, k = 1, 1
      while i <= #text do
        local j = math.min(#text, i + k % 13)
        i = i + assert(s:send(text, i, j))
        k = k + 1
      end
      s:close()
    ]], {port})
    l:settimeout(10)  -- a safety net if the child fails: it connects at once
    local c = assert(l:accept())
    l:close()
    local s = sockit.stream(c)
    local n = 0
    for line in s:lines() do
      n = n + 1
      assert.equal(("line %d %s"):format(n, ("x"):rep(n % 97)), line)
    end
    child:close()
    s:close()
    assert.equal(3000, n)
  end)

  it("consumes nothing when a timeout strikes in the middle of a call",
     function()
    local a, s = pair({timeout = 0.05})
    a:send("first line\nabc")
    errs.fails("ETIMEDOUT", s:read("l", 100))
    errs.fails("ETIMEDOUT", s:read("l", 100))
    local rest = ("r"):rep(97)
    a:send(rest)
    local line, block = s:read("l", 100)
    assert.equal("first line", line)
    assert.equal("abc" .. rest, block)
  end)

  it("consumes nothing when a timeout strikes in a, then reads it all",
     function()
    local a, s = pair({timeout = 0.05})
    a:send("x\nyz")
    errs.fails("ETIMEDOUT", s:read("l", "a"))
    a:send("more")
    a:shutdown("w")
    local line, all = s:read("l", "a")
    assert.equal("x", line)
    assert.equal("yzmore", all)
  end)

  it("keeps a large count received so far when the timeout strikes",
     function()
    local w, s = pair({timeout = 0.05})
    local data = net.bytes(150000)
    w:settimeout(0)
    -- a count this large with an empty buffer is received around it
    assert.equal(100000, w:send(data, 1, 100000))
    errs.fails("ETIMEDOUT", s:read(150000))
    assert.equal(50000, w:send(data, 100001))
    local got = s:read(150000)
    assert.equal(#data, #got)
    assert.is_true(data == got)
  end)

  it("fails with EAGAIN at timeout 0 and gives what came later", function()
    local a, s = pair({timeout = 0})
    errs.fails("EAGAIN", s:read("l"))
    errs.fails("EAGAIN", s:read(1))
    errs.fails("EAGAIN", s:read("a"))
    a:send("ok\n")
    assert.equal("ok", s:read("l"))
  end)

  it("returns ECONNRESET from the core unchanged, consuming nothing",
     function()
    local c, srv = net.tcppair()
    local s = sockit.stream(srv)
    finally(function() s:close() end)
    assert(c:send("sent before the reset"))
    assert(c:setoption("linger", 0))
    c:close()
    errs.fails("ECONNRESET", s:read("a"))
    assert.equal("sent before the reset", s:read("a"))
  end)

  it("raises on bad formats, at the caller's line", function()
    local _, s = pair()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local v = s:read("x"); return v end)
    assert.matches(":" .. line .. ": bad argument #1 to 'read' %(invalid format%)",
                   err)
    assert.matches("#2 to 'read' %(invalid format%)", raised(s.read, s, "l", ""))
    assert.matches("#1 to 'read' %(string expected, got table%)",
                   raised(s.read, s, {}))
    assert.matches("#1 to 'read' %(string expected, got nil%)",
                   raised(s.read, s, nil))
    assert.matches("#3 to 'read' %(number has no integer representation%)",
                   raised(s.read, s, 1, 2, 1.5))
    assert.matches("#1 to 'read'", raised(s.read, s, -1))
  end)

  it("raises on a bad format before reading anything", function()
    local a, s = pair()
    a:send("keep\n")
    raised(s.read, s, "l", "?")
    assert.equal("keep", s:read("l"))
  end)
end)

describe("read(\"l\") on CRLF lines", function()
  it("drops the \\r of a \\r\\n and keeps every other \\r", function()
    local a, s = pair()
    a:send("one\r\ntwo\r\n\r\nin\rside\nthree\r\r\nlast\r")
    a:shutdown("w")
    assert.equal("one", s:read("l"))
    assert.equal("two\r\n", s:read("L"))
    assert.equal("", s:read("l"))
    assert.equal("in\rside", s:read())
    assert.equal("three\r", s:read("l"))
    assert.equal("last\r", s:read("l"))   -- a lone \r at the end: kept
    assert.is_nil(s:read("l"))
  end)

  it("drops it in lines(), with and without formats", function()
    local a, s = pair()
    a:send("a\r\nb\nc\r\n")
    a:shutdown("w")
    local got = {}
    for line in s:lines() do got[#got + 1] = line end
    assert.same({"a", "b", "c"}, got)
    local a2, s2 = pair()
    a2:send("x\r\ny\r\n")
    a2:shutdown("w")
    got = {}
    for one, two in s2:lines("l", "L") do got[#got + 1] = one .. "|" .. two end
    assert.same({"x|y\r\n"}, got)
  end)

  it("never takes a \\r already consumed for the one of a line", function()
    local a, s = pair()
    a:send("ab\r\ncd\n")
    assert.equal("ab\r", s:read(3))
    assert.equal("", s:read("l"))
    assert.equal("cd", s:read("l"))
  end)

  it("waits for the \\n of a \\r at the end of what arrived", function()
    local a, s = pair({timeout = 0, maxline = 4})
    a:send("abcd\r")
    errs.fails("EAGAIN", s:read("l"))   -- not EMSGSIZE: the \r may end it
    a:send("\n")
    assert.equal("abcd", s:read("l"))
    a:send("abcd\rx")
    errs.fails("EMSGSIZE", s:read("l"))
  end)

  it("counts neither \\r nor \\n in the line limit", function()
    local a, s = pair({maxline = 3})
    a:send("abc\r\nabc\r\nabcd\r\n")
    assert.equal("abc", s:read("l"))
    assert.equal("abc\r\n", s:read("L"))
    errs.fails("EMSGSIZE", s:read("l"))
    errs.fails("EMSGSIZE", s:read("L"))
  end)
end)

describe("the line limit", function()
  it("fails with EMSGSIZE and keeps the line for a higher limit", function()
    local a, s = pair()
    s:setmaxline(10)
    a:send("0123456789\n0123456789abc\nnext\n")
    assert.equal("0123456789", s:read("l"))  -- newline not counted
    errs.fails("EMSGSIZE", s:read("l"))
    errs.fails("EMSGSIZE", s:read("L"))
    assert.equal(s, s:setmaxline(13))
    assert.equal("0123456789abc", s:read("l"))
    assert.equal("next", s:read("l"))
  end)

  it("fails without waiting for the newline of a line too long", function()
    local a, s = pair({maxline = 8})
    a:send("123456789")    -- no newline: no read could end under the limit
    errs.fails("EMSGSIZE", s:read("l"))
    a:send("\n")
    s:setmaxline(9)
    assert.equal("123456789", s:read("l"))
  end)

  it("stops receiving once the buffer holds more than the limit", function()
    local a, s = pair({maxline = 1000})
    a:settimeout(0)
    local data = ("y"):rep(300000)
    local sent = assert(a:send(data))
    assert.is_true(sent > 2 * 65536)
    errs.fails("EMSGSIZE", s:read("l"))
    -- the rest stays in the socket, not in the stream's memory
    s.socket:settimeout(0)
    assert.is_string(s.socket:recv(1, "peek"))
  end)

  it("is 64 KiB by default", function()
    local a, s = pair()
    local ok = ("k"):rep(65536)
    assert(net.sendall(a, ok .. "\n"))
    assert.equal(ok, s:read("l"))
    assert(net.sendall(a, ok .. "k\n"))
    errs.fails("EMSGSIZE", s:read("l"))
  end)

  it("raises on a bad limit", function()
    local _, s = pair()
    assert.matches("#1 to 'setmaxline'", raised(s.setmaxline, s, 0))
    assert.matches("#1 to 'setmaxline'", raised(s.setmaxline, s, "10"))
  end)
end)

describe("stream:lines", function()
  it("iterates over lines and stops at the end of stream", function()
    local a, s = pair()
    a:send("a\nb\n\nc")
    a:shutdown("w")
    local got = {}
    for line in s:lines() do got[#got + 1] = line end
    assert.same({"a", "b", "", "c"}, got)
  end)

  it("takes formats like io.lines", function()
    local a, s = pair()
    a:send("ab\ncd\nef")
    a:shutdown("w")
    local got = {}
    for x, y in s:lines(1, "L") do got[#got + 1] = x .. "|" .. y end
    assert.same({"a|b\n", "c|d\n", "e|f"}, got)
  end)

  it("raises on a timeout, with the code in the message", function()
    local a, s = pair({timeout = 0.05})
    a:send("one\ntwo\n")
    local got = {}
    local err = raised(function()
      for line in s:lines() do got[#got + 1] = line end
    end)
    assert.same({"one", "two"}, got)
    assert.matches("ETIMEDOUT", err)
  end)

  it("raises on EMSGSIZE", function()
    local a, s = pair({maxline = 2})
    a:send("abc\n")
    assert.matches("EMSGSIZE", raised(function()
      for _ in s:lines() do end
    end))
  end)

  it("raises on a bad format at once", function()
    local _, s = pair()
    assert.matches("bad argument #2 to 'lines'", raised(s.lines, s, "l", "q"))
  end)
end)

describe("stream:read_some", function()
  it("gives buffered bytes first, up to n", function()
    local a, s = pair()
    a:send("line\nabcdef")
    assert.equal("line", s:read("l"))
    assert.equal("abc", s:read_some(3))
    assert.equal("def", s:read_some(100))
  end)

  it("waits only when nothing is buffered", function()
    local a, s = pair({timeout = 0.05})
    errs.fails("ETIMEDOUT", s:read_some(10))
    a:send("xyz")
    assert.equal("xyz", s:read_some(10))
    a:shutdown("w")
    assert.is_nil(s:read_some(10))
  end)

  it("raises on a bad size", function()
    local _, s = pair()
    assert.matches("#1 to 'read_some'", raised(s.read_some, s, 0))
    assert.matches("#1 to 'read_some'", raised(s.read_some, s, 1.5))
    assert.matches("#1 to 'read_some'", raised(s.read_some, s))
  end)
end)

describe("stream:write", function()
  it("writes strings and numbers as file:write does and returns the stream",
     function()
    local sa, sb = streams()
    assert.equal(sa, sa:write("a", 1, " ", 2.5, " ", 3.0, " ", -0.0, "\n"))
    assert.equal(sa, sa:write())
    assert.equal(sa, sa:write(""))
    assert.equal(sa, sa:write(7))
    sa:shutdown("w")
    local path = files.tmpdir() .. "/f"
    local f = assert(io.open(path, "wb"))
    f:write("a", 1, " ", 2.5, " ", 3.0, " ", -0.0, "\n", 7)
    f:close()
    f = assert(io.open(path, "rb"))
    assert.equal(f:read("a"), sb:read("a"))
    f:close()
  end)

  it("sends many arguments in one call", function()
    -- a seqpacket pair keeps the boundary of every send
    local sa, sb = streams("seqpacket")
    local parts = {}
    for i = 1, 1000 do parts[i] = tostring(i) .. "," end
    assert(sa:write(table.unpack(parts)))
    local expected = table.concat(parts)
    assert.equal(expected, sb.socket:recv(1024 * 1024))
  end)

  it("sends 10 MB intact both ways over TCP", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local child = proc.spawn([[
      local sockit = require("sockit")
      local s = assert(sockit.connect("127.0.0.1", tonumber(...)))
      local data = assert(s:read("a"))
      assert(s:write(data))
      s:close()
    ]], {port})
    srv:settimeout(10)  -- a safety net if the child fails: it connects at once
    local conn = assert(srv:accept())
    finally(function() conn:close() end)
    local data = net.bytes(10 * 1024 * 1024, 3)
    assert.equal(conn, conn:write(data))
    assert(conn:shutdown("w"))
    local back = conn:read(#data)
    assert.equal(#data, #back)
    assert.is_true(back == data)
    assert.is_nil(conn:read(1))
    assert.equal("", child:read("a"))
    assert.is_true(child:close())
  end)

  it("fails with EPIPE and the bytes sent once the peer is gone", function()
    local sa, sb = streams()
    sb:close()
    writefail("EPIPE", sa:write("x", "y"))
  end)

  it("without a timeout, gives the bytes sent when the peer goes mid-write",
     function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local child = proc.spawn([[
      local sockit = require("sockit")
      local s = assert(sockit.connect("127.0.0.1", tonumber(...)))
      assert(#s:read(1024 * 1024) == 1024 * 1024)
      s:close()  -- with bytes unread: a reset
    ]], {port})
    srv:settimeout(10)  -- a safety net if the child fails: it connects at once
    local conn = assert(srv:accept())
    finally(function() conn:close() end)
    conn:settimeout(nil)
    local data = net.bytes(64 * 1024 * 1024)
    local v, msg, code, sent = conn:write(data)
    assert.is_nil(v)
    assert.is_string(msg)
    assert.is_truthy(code == "EPIPE" or code == "ECONNRESET", code)
    assert.is_true(sent >= 1024 * 1024 and sent < #data, tostring(sent))
    assert.equal("", child:read("a"))
    assert.is_true(child:close())
  end)

  it("fails with ETIMEDOUT and tells how much went out", function()
    local sa, sb = streams()
    sa:settimeout(0.05)
    local data = net.bytes(4 * 1024 * 1024)
    local sent = writefail("ETIMEDOUT", sa:write(data))
    assert.is_true(sent > 0 and sent < #data)
    sb:settimeout(0.05)
    assert.equal(data:sub(1, sent), sb:read(sent))
    errs.fails("ETIMEDOUT", sb:read(1))
  end)

  it("raises on what is not a string or a number", function()
    local sa = streams()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local v = sa:write("a", {}); return v end)
    assert.matches(":" .. line .. ": bad argument #2 to 'write' %(string expected, got table%)",
                   err)
    assert.matches("#1 to 'write'", raised(sa.write, sa, nil))
    assert.matches("#3 to 'write'", raised(sa.write, sa, 1, "", true))
  end)
end)

describe("closing a stream", function()
  it("is fine twice and makes other calls raise", function()
    local sa = streams()
    assert.is_true(sa:close())
    assert.is_true(sa:close())
    for _, m in ipairs({"read", "read_some", "lines", "write", "shutdown",
                        "settimeout", "setmaxline", "peer", "sockname"}) do
      assert.matches("attempt to use a closed stream",
                     raised(sa[m], sa, 1))
    end
  end)

  it54("happens at the end of a <close> block", [[
    local assert, sockit, core = ...
    local a, b = core.socketpair()
    do
      local s <close> = sockit.stream(b)
      assert.equal("socket", core.type(s.socket))
    end
    assert.equal("closed socket", core.type(b))
    a:settimeout(0)
    assert.equal("", a:recv(1))
    a:close()
  ]], assert, sockit, core)

  it("raises on a bad self", function()
    local sa = streams()
    assert.matches("bad self", raised(sa.read, {}))
    assert.matches("bad self", raised(sa.close, "x"))
  end)
end)

describe("stream:shutdown", function()
  it("ends the peer's reading and keeps this side's", function()
    local sa, sb = streams()
    assert.is_true(sa:shutdown("w"))
    assert.equal("", sb:read("a"))
    assert(sb:write("back"))
    sb:close()
    assert.equal("back", sa:read("a"))
  end)

  it("raises on a bad how", function()
    local sa = streams()
    assert.matches("#1 to 'shutdown' %(invalid option 'x'%)",
                   raised(sa.shutdown, sa, "x"))
  end)

  it("fails with ENOTCONN on a socket that is not connected", function()
    local s = sockit.stream(core.socket("inet", "stream"))
    finally(function() s:close() end)
    errs.fails("ENOTCONN", s:shutdown())
  end)
end)

describe("stream:settimeout", function()
  it("returns the stream and applies to each later call as a whole",
     function()
    local a, s = pair()
    assert.equal(s, s:settimeout(0.05))
    errs.fails("ETIMEDOUT", s:read("l"))
    assert.equal(s, s:settimeout(-1))    -- negative: block again
    a:send("now\n")
    assert.equal("now", s:read("l"))
    assert.equal(s, s:settimeout(nil))
  end)

  it("raises on a bad timeout", function()
    local _, s = pair()
    assert.matches("#1 to 'settimeout'", raised(s.settimeout, s, "1"))
    assert.matches("#1 to 'settimeout'", raised(s.settimeout, s, 0 / 0))
  end)
end)

describe("stream:peer and stream:sockname", function()
  it("give host and port over TCP", function()
    local c, srv = net.tcppair()
    local sc, ss = sockit.stream(c), sockit.stream(srv)
    finally(function() sc:close(); ss:close() end)
    local h, p = ss:peer()
    local h2, p2 = sc:sockname()
    assert.equal("127.0.0.1", h)
    assert.equal(p2, p)
    assert.equal(h2, h)
  end)

  it("give the path, empty when unnamed, over Unix sockets", function()
    local sa = streams()
    assert.equal("", sa:peer())
    assert.equal("", sa:sockname())
  end)

  it("fail with ENOTCONN when not connected", function()
    local s = sockit.stream(core.socket("inet", "stream"))
    finally(function() s:close() end)
    errs.fails("ENOTCONN", s:peer())
  end)
end)

describe("sockit.wait", function()
  local wait = require("sockit.wait")

  it("runs outside any task for now", function()
    assert.is_nil(wait.current())
  end)

  it("waits for a call until a deadline", function()
    local a, b = core.socketpair()
    finally(function() a:close(); b:close() end)
    errs.fails("ETIMEDOUT", wait.call(b, "r", core.recv, wait.deadline(0.02), 1))
    errs.fails("EAGAIN", wait.call(b, "r", core.recv, wait.deadline(0), 1))
    assert.equal(1, wait.call(b, "w", core.send, wait.deadline(1), "x"))
    a:send("xy")
    assert.equal("x", wait.call(b, "r", core.recv, nil, 1))
    -- a deadline already passed still takes what is there, then reports
    -- a timeout, not EAGAIN
    local past = core.monotime() - 1
    assert.equal("y", wait.call(b, "r", core.recv, past, 1))
    errs.fails("ETIMEDOUT", wait.call(b, "r", core.recv, past, 1))
  end)

  it("leaves the core socket blocking when there is no deadline", function()
    local a, b = core.socketpair()
    finally(function() a:close(); b:close() end)
    a:send("x")
    assert.equal("x", wait.call(b, "r", core.recv, nil, 1))
    assert.is_nil(b:gettimeout())
    assert.is_false(fds.nonblocking(b:fileno()))
  end)
end)
