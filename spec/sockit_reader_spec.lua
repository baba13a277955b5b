-- sockit: the Stream's reader (csrc/reader.c): the edges of its fills
-- (a line, a "\r\n" or a numeral cut between two receives), end of
-- stream inside each format, a failing fill after partial data, the line
-- limit's exact bounds, one copy of a long line and a buffer that
-- shrinks back.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

after_each(function() files.cleanup() end)

-- what one fill of an empty reader asks for (reader.c's BLOCK)
local BLOCK = 64 * 1024

-- a raw socket to write with and a Stream (timeout 0: a fill that would
-- wait fails with EAGAIN instead) reading the other end
local function pair(maxline)
  local a, b = core.socketpair()
  local s = sockit.stream(b, {timeout = 0, maxline = maxline})
  finally(function() a:close(); s:close() end)
  return a, s
end

-- the rest of the data the peer sent, then it shuts its side
local function sendall(a, data, eof)
  net.sendall(a, data)
  if eof then a:shutdown("w") end
end

describe("the reader's fills", function()
  it("joins a line received in several fills", function()
    local a, s = pair(200000)
    local line = net.bytes(BLOCK + 30000):gsub("\n", "x")
    sendall(a, line .. "\nnext\n")
    assert.equal(line, s:read("l"))
    assert.equal("next", s:read("l"))
  end)

  it("drops a \"\\r\\n\" whose \"\\r\" ends one fill, \"\\n\" the next",
     function()
    local a, s = pair(2 * BLOCK)
    local line = ("y"):rep(BLOCK - 1)
    sendall(a, line .. "\r\nz\n")
    assert.equal(line, s:read("l"))
    assert.equal("z", s:read("l"))
    sendall(a, line .. "\r\nz\n")
    assert.equal(line .. "\r\n", s:read("L"))
  end)

  it("reads a numeral cut between two fills", function()
    local a, s = pair(2 * BLOCK)
    sendall(a, (" "):rep(BLOCK - 3) .. "12345.5 -0x10\n")
    assert.equal(12345.5, s:read("n"))
    assert.equal(-16, s:read("n"))
    assert.equal("", s:read("l"))
  end)

  it("reads a count and \"a\" across many fills", function()
    local a, s = pair()
    local data = net.bytes(BLOCK + 32768 + 17)
    sendall(a, data, true)
    assert.equal(data:sub(1, BLOCK + 1), s:read(BLOCK + 1))
    assert.equal(data:sub(BLOCK + 2), s:read("a"))
    assert.equal("", s:read("a"))
  end)

  it("takes no more than a large count misses, after a partial receive",
     function()
    local a, b = core.socketpair()
    local sa, sb = sockit.stream(a), sockit.stream(b)
    finally(function() sa:close(); sb:close() end)
    local data, got, left = net.bytes(BLOCK + 1000), nil, nil
    sockit.spawn(function()
      got = assert(sb:read(#data))
      left = #sb.reader
    end)
    sockit.spawn(function()
      assert(sa:write(data:sub(1, 1000)))
      sockit.sleep(0)
      assert(sa:write(data:sub(1001), "next"))
    end)
    sockit.run()
    assert.equal(data, got)
    -- "next" stayed with the kernel: the next count starts on an empty
    -- reader, and takes the path without a copy through it
    assert.equal(0, left)
    assert.equal("next", sb:read(4))
  end)

  it("keeps every byte when a fill fails after partial data", function()
    local a, s = pair()
    sendall(a, "first\nsec")
    errs.fails("EAGAIN", s:read("l", "l"))
    errs.fails("EAGAIN", s:read(20))
    errs.fails("EAGAIN", s:read("L", "a"))
    sendall(a, "ond\n42")
    errs.fails("EAGAIN", s:read("l", "l", "n"))
    sendall(a, " ", true)
    local x, y, z = s:read("l", "l", "n")
    assert.same({"first", "second", 42}, {x, y, z})
    assert.equal(" ", s:read("l"))
    assert.is_nil(s:read("l"))
  end)

  it("yields inside a task while a line arrives in pieces", function()
    local a, b = core.socketpair()
    local sa, sb = sockit.stream(a), sockit.stream(b)
    finally(function() sa:close(); sb:close() end)
    local got = {}
    sockit.spawn(function()
      -- the iterator called, not a for loop: plain Lua 5.1 cannot yield
      -- from a for loop's iterator
      local nextline = sb:lines()
      local line = nextline()
      while line do
        got[#got + 1] = line
        line = nextline()
      end
    end)
    sockit.spawn(function()
      for _, piece in ipairs({"one\ntw", "o\r", "\nthree", "\n"}) do
        assert(sa:write(piece))
        sockit.sleep(0)
      end
      sa:shutdown("w")
    end)
    sockit.run()
    assert.same({"one", "two", "three"}, got)
  end)
end)

describe("core.recvn", function()
  -- a socket pair, the second end at timeout 0, and a reader
  local function raw()
    local a, b = core.socketpair()
    finally(function() a:close(); b:close() end)
    core.settimeout(b, 0)
    return a, b, core.reader(100)
  end

  it("keeps what it received when it must wait, and goes on from there",
     function()
    local a, b, r = raw()
    local data = net.bytes(2000)
    sendall(a, data:sub(1, 1200))
    errs.fails("EAGAIN", core.recvn(b, r, 2000))
    assert.equal(1200, #r)
    sendall(a, data:sub(1201) .. "x")
    assert.equal(data, core.recvn(b, r, 2000))
    -- a small count reads ahead, as a fill does
    assert.equal(1, #r)
    assert.equal("x", core.recvn(b, r, 1))
    assert.equal(0, #r)
  end)

  it("takes no more than a large count misses", function()
    local a, b, r = raw()
    local data = net.bytes(BLOCK + 10)
    sendall(a, data:sub(1, 10))
    errs.fails("EAGAIN", core.recvn(b, r, #data))
    sendall(a, data:sub(11) .. "tail")
    assert.equal(data, core.recvn(b, r, #data))
    assert.equal(0, #r)
    assert.equal("tail", core.recv(b, 10))
  end)

  it("gives the rest at the end of stream, then nil; \"a\" gives \"\"",
     function()
    local a, b, r = raw()
    sendall(a, "abc", true)
    assert.equal("abc", core.recvn(b, r, 10))
    assert.is_nil(core.recvn(b, r, 10))
    assert.equal("", core.recvn(b, r))
    local c, d, q = raw()
    local data = net.bytes(3 * BLOCK + 5)
    sendall(c, data:sub(1, 100))
    errs.fails("EAGAIN", core.recvn(d, q))
    assert.equal(100, #q)
    sendall(c, data:sub(101), true)
    assert.equal(data, core.recvn(d, q))
    assert.equal(0, #q)
  end)

  it("raises on a bad reader or count", function()
    local _, b, r = raw()
    assert.error_matches(function() core.recvn(b, "x", 1) end,
                         "bad argument #2")
    assert.error_matches(function() core.recvn(b, r, 0) end,
                         "bad argument #3")
    assert.error_matches(function() core.recvn(b, r, 1.5) end,
                         "bad argument #3")
  end)

  it("takes a Stream's count from pieces sent by another task", function()
    local a, b = core.socketpair()
    local sa, sb = sockit.stream(a), sockit.stream(b)
    finally(function() sa:close(); sb:close() end)
    local data, got = net.bytes(3 * BLOCK + 7), {}
    sockit.spawn(function()
      got[1] = assert(sb:read(#data))
      got[2] = assert(sb:read("a"))
    end)
    sockit.spawn(function()
      for i = 1, #data, 50000 do
        assert(sa:write(data:sub(i, i + 49999)))
        sockit.sleep(0)
      end
      assert(sa:write("end"))
      sa:shutdown("w")
    end)
    sockit.run()
    assert.same({data, "end"}, got)
  end)
end)

describe("end of stream inside each format", function()
  local cases = {
    {"l", "abc", "abc"}, {"L", "abc\r", "abc\r"}, {"l", "abc\r", "abc\r"},
    {5, "abc", "abc"}, {"n", "  12", 12}, {"n", "  0x1p", nil},
    {"a", "abc", "abc"},
  }
  for _, case in ipairs(cases) do
    local fmt, data, want = case[1], case[2], case[3]
    it(("read(%q) on %q, then end of stream"):format(fmt, data), function()
      local a, s = pair()
      sendall(a, data, true)
      assert.equal(want, s:read(fmt))
      if fmt == "a" then assert.equal("", s:read(fmt))
      else assert.is_nil(s:read(fmt)) end
    end)
  end

  it("gives nil for \"n\" after white space only", function()
    local a, s = pair()
    sendall(a, " \t\r\n ", true)
    assert.is_nil(s:read("n"))
    assert.is_nil(s:read(1))
  end)
end)

describe("the line limit", function()
  it("takes a line exactly maxline long and refuses one a byte longer",
     function()
    local a, s = pair(10)
    sendall(a, "0123456789\n0123456789\r\n0123456789a\n")
    assert.equal("0123456789", s:read("l"))
    assert.equal("0123456789\r\n", s:read("L"))
    errs.fails("EMSGSIZE", s:read("l"))
    assert.equal("0123456789a\n", s:read(12))
  end)

  it("refuses a longer line before its end arrives", function()
    local a, s = pair(10)
    sendall(a, "0123456789\r")
    errs.fails("EAGAIN", s:read("l"))  -- the "\r" may be the line's end
    sendall(a, "x")
    errs.fails("EMSGSIZE", s:read("l"))
    assert.equal("0123456789\rx", s:read(12))
  end)

  it("bounds the white space and numeral of \"n\"", function()
    local a, s = pair(10)
    sendall(a, ("       12345\n"))
    errs.fails("EMSGSIZE", s:read("n"))
    assert.equal("  ", s:read(2))  -- 5 spaces and 5 digits: the limit
    assert.equal(12345, s:read("n"))
    sendall(a, (" "):rep(20))
    errs.fails("EMSGSIZE", s:read("n"))
    assert.equal(21, #s:read(21))
  end)

  it("follows setmaxline after the first read", function()
    local a, s = pair(4)
    sendall(a, "ab\nabcdef\n")
    assert.equal("ab", s:read("l"))
    errs.fails("EMSGSIZE", s:read("l"))
    s:setmaxline(6)
    assert.equal("abcdef", s:read("l"))
  end)
end)

describe("the reader's memory", function()
  it("holds one copy of a 32 MiB line, and frees it once read", function()
    local size = 32 * 1024 * 1024
    local l, port = net.listener()
    local child = proc.spawn([[
      local core = require("sockit.core")
      local s = core.socket("inet", "stream")
      assert(s:connect("127.0.0.1", tonumber(...)))
      local chunk = ("x"):rep(1024 * 1024)
      for _ = 1, 32 do
        local i = 1
        while i <= #chunk do i = i + assert(s:send(chunk, i)) end
      end
      assert(s:recv(1) == "!")  -- the reader has it all: now the line end
      assert(s:send("\ntail"))
      s:close()
    ]], {port})
    l:settimeout(10)
    local c = assert(l:accept())
    l:close()
    local s = sockit.stream(c, {maxline = size, timeout = 0})
    finally(function() s:close(); child:close() end)
    -- a count fills without scanning: every byte of the line arrives
    repeat
      assert(core.wait(s.socket, "r", 10))
      errs.fails("EAGAIN", s:read(size + 1))
    until #s.reader == size
    -- grown by half from 64 KiB: one copy, never two
    assert.is_true(s.reader:capacity() < 2 * size)
    assert(c:send("!"))
    s:settimeout(10)
    local line = assert(s:read("l"))
    assert.equal(size, #line)
    assert.is_true(s.reader:capacity() < 4096)
    assert.equal("tail", s:read("a"))
    assert.equal(0, s.reader:capacity())
  end)

  -- A task reads fmt while another writes size bytes of `byte`, waits
  -- until the reader holds all of them, notes the reader's capacity and
  -- the heap's growth, then sends tail (and for "a" the end of stream).
  local function whileread(fmt, size, byte, tail)
    local a, b = core.socketpair()
    local w, s = sockit.stream(a), sockit.stream(b, {maxline = size + 64})
    finally(function() w:close(); s:close() end)
    local data, got, cap, grown = byte:rep(size), nil, nil, nil
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count") * 1024
    sockit.spawn(function() got = assert(s:read(fmt)) end)
    sockit.spawn(function()
      assert(w:write(data))
      while #s.reader < size do sockit.sleep(0) end
      cap = s.reader:capacity()
      collectgarbage()
      collectgarbage()
      grown = collectgarbage("count") * 1024 - base
      assert(w:write(tail))
      if fmt == "a" then w:shutdown("w") end
    end)
    sockit.run()
    return got, s, cap, grown
  end

  it("holds one copy of 8 MiB read by \"a\"", function()
    local size = 8 * 1024 * 1024
    local got, s, cap, grown = whileread("a", size, "a", "end")
    assert.equal(size + 3, #got)
    assert.is_true(cap < 2 * size)
    assert.is_true(grown < 2 * size, ("heap grew %d bytes"):format(grown))
    assert.equal(0, s.reader:capacity())
  end)

  it("holds one copy of 8 MiB of white space before \"n\"", function()
    local size = 8 * 1024 * 1024
    local got, s, cap, grown = whileread("n", size, " ", "42 ")
    assert.equal(42, got)
    assert.is_true(cap < 2 * size)
    assert.is_true(grown < 2 * size, ("heap grew %d bytes"):format(grown))
    assert.is_true(s.reader:capacity() < 4096)
  end)

  it("is not there while a Stream is idle: 1,000 of them hold no buffer",
     function()
    local count, streams = 1000, {}
    finally(function()
      for _, s in ipairs(streams) do s:close() end
    end)
    for i = 1, count + 1 do streams[i] = false end
    streams[count + 1] = sockit.stream(assert(core.socket("inet", "stream")))
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count") * 1024
    for i = 1, count do
      streams[i] = sockit.stream(assert(core.socket("inet", "stream")))
    end
    collectgarbage()
    collectgarbage()
    local each = (collectgarbage("count") * 1024 - base) / count
    -- 160 bytes on Lua 5.4, 336 on LuaJIT; a buffer would be 64 KiB
    assert.is_true(each < 512, ("%d bytes per idle stream"):format(each))
    assert.is_nil(streams[1].reader)
  end)

  -- a socketpair holds less than 10 MB: a task writes while one reads
  local function tenmegabytes(fmt, tail)
    local a, b = core.socketpair()
    local w, s = sockit.stream(a), sockit.stream(b)
    finally(function() w:close(); s:close() end)
    local data, got = ("z"):rep(10 * 1000 * 1000), nil
    sockit.spawn(function()
      assert(w:write(data, tail))
      if fmt == "a" then w:shutdown("w") end
    end)
    sockit.spawn(function() got = assert(s:read(fmt)) end)
    sockit.run()
    return s, data, got
  end

  it("gives a 10 MB block back after a count that needed it", function()
    local s, data, got = tenmegabytes(10 * 1000 * 1000, "tail")
    assert.equal(data, got)
    assert.is_true(s.reader:capacity() < 4096)
    assert.equal("tail", s:read(4))
    assert.equal(0, s.reader:capacity())
  end)

  it("gives a 10 MB block back after \"a\"", function()
    local s, data, got = tenmegabytes("a", "tail")
    assert.equal(data .. "tail", got)
    assert.equal(0, s.reader:capacity())
  end)
end)

describe("a Stream's fields", function()
  it("are the documented ones, and a collected stream frees its reader",
     function()
    local a, b = core.socketpair()
    local s = sockit.stream(b)
    local seen = {}
    for k in pairs(s) do seen[#seen + 1] = k end
    table.sort(seen)
    assert.same({"maxline", "socket"}, seen)
    assert(a:send("x\n"))
    assert.equal("x", s:read())
    seen = {}
    for k in pairs(s) do seen[#seen + 1] = k end
    table.sort(seen)
    assert.same({"maxline", "read", "reader", "socket"}, seen)
    local weak = setmetatable({s.reader}, {__mode = "v"})
    s:close()
    s = nil  -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
    a:close()
  end)
end)
