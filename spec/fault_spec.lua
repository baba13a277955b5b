-- Faults from real peers on loopback: connection resets in the middle of
-- a read and of a write, half-closed connections, a peer that dribbles
-- bytes or never reads, a peer that sends 100 MB without a newline, a
-- listener whose backlog is full, and system calls interrupted by EINTR
-- (injected into a child lua5.4 with strace). Each test says what must
-- happen, and that no byte received before the fault is lost.
--
-- Peers are sockets of this process where the order of events is fixed
-- anyway, and child lua5.4 processes where the peer must act while we
-- are blocked in a call. Child scripts bound their own lifetime, so a
-- library that misbehaves makes a test fail, never hang.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

-- The child peer's prologue: connects to 127.0.0.1, port `...`.
local CONNECT = [[
local core = require("sockit.core")
local port = tonumber((...))
local s = assert(core.socket("inet", "stream"))
assert(core.connect(s, "127.0.0.1", port))
]]

-- Starts `code` (after CONNECT) in a child lua5.4, waits for it to
-- connect and returns the accepted socket and the child.
local function child_peer(code, ...)
  local l, port = net.listener()
  core.settimeout(l, 60)  -- a child that never connects fails the test
  local child = proc.spawn(CONNECT .. code, {port, ...})
  local s, msg, err = core.accept(l)
  core.close(l)
  if not s then
    local out = child:read("a")
    child:close()
    error(("the peer did not connect (%s, %s): %s"):format(msg, err, out))
  end
  return s, child
end

-- The child's output once it has ended, and whether it exited with 0.
local function finish(child)
  local out = child:read("a")
  local ok, how, status = child:close()
  return out, ok == true and how == "exit" and status == 0
end

-- Waits until `n` bytes sent by the peer are in our socket's receive
-- queue (peeking consumes nothing), so a reset that follows cannot take
-- them with it: a reset drops what the peer had not sent yet.
local function arrived(s, n)
  local timeout = core.gettimeout(s)
  core.settimeout(s, 30)
  repeat
    local d = assert(core.recv(s, n, "peek"))
    assert(d ~= "", "end of stream before the data arrived")
    if #d < n then core.wait(s, "r", 0.01) end
  until #d >= n
  core.settimeout(s, timeout)
end

-- n bytes of letters and digits (no newline), the same at every offset
-- of the period: pattern(n, off) starts at byte `off` of the sequence.
local PERIOD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
local function pattern(n, off)
  off = (off or 0) % #PERIOD
  return PERIOD:rep(math.floor((n + off) / #PERIOD) + 1):sub(off + 1, off + n)
end

describe("a connection reset by the peer (SO_LINGER 0, then close)", function()
  after_each(files.cleanup)

  it("reaches core.recv after the data sent before it, then end of stream", function()
    local c, a = net.tcppair()
    finally(function() core.close(c) end)
    assert.are.equal(12, core.send(a, "before fault"))
    arrived(c, 12)
    assert(core.setoption(a, "linger", 0))
    core.close(a)
    assert.are.equal("before fault", net.recvall(c, 12))
    errs.fails("ECONNRESET", core.recv(c, 100))
    assert.are.equal("", core.recv(c, 100))
  end)

  it("fails a Stream read waiting for a line with ECONNRESET, keeping the bytes before it",
     function()
    local s, child = child_peer([[
      assert(core.send(s, "a partial line") == 14)
      -- a pause, so that the reader is likely waiting when the reset comes;
      -- the outcome must be the same either way
      core.wait(s, "r", 0.2)
      assert(core.setoption(s, "linger", 0))
      core.close(s)
      io.write("reset\n")
    ]])
    local st = sockit.stream(s)
    finally(function() st:close() end)
    errs.fails("ECONNRESET", st:read("l"))
    assert.are.equal("a partial line", st:read(14))
    assert.is_nil(st:read("l"))
    local out, ok = finish(child)
    assert.are.equal("reset\n", out)
    assert.is_true(ok)
  end)

  it("fails a Stream read('a') with ECONNRESET and keeps what it received", function()
    local c, a = net.tcppair()
    local data = net.bytes(60000)
    local st = sockit.stream(c)
    finally(function() st:close() end)
    assert(net.sendall(a, data))
    arrived(c, #data)
    assert(core.setoption(a, "linger", 0))
    core.close(a)
    errs.fails("ECONNRESET", st:read("a"))
    assert.is_true(data == st:read(#data), "the data before the reset changed")
    assert.are.equal("", st:read("a"))
  end)

  it("fails a Stream write of megabytes with EPIPE or ECONNRESET and the count sent",
     function()
    local want = 100000
    local s, child = child_peer([[
      local want = tonumber(select(2, ...))
      local got, n = {}, 0
      while n < want do
        local d = assert(core.recv(s, want - n))
        if d == "" then break end
        got[#got + 1] = d
        n = n + #d
      end
      assert(core.setoption(s, "linger", 0))
      core.close(s)
      io.write(table.concat(got))  -- after the reset: the writer reads this last
    ]], want)
    local data = net.bytes(16 * 1024 * 1024)
    local st = sockit.stream(s)
    finally(function() st:close() end)
    local r = table.pack(st:write(data))
    local out, ok = finish(child)
    assert.is_true(ok, "the peer failed")
    assert.is_nil(r[1])
    assert.is_string(r[2])
    assert.is_truthy(r[3] == "EPIPE" or r[3] == "ECONNRESET", tostring(r[3]))
    local sent = r[4]
    assert.is_true(sent >= want and sent < #data, "sent " .. tostring(sent))
    -- what the peer received is the start of what was written, unchanged
    assert.is_true(data:sub(1, want) == out, "the peer received other bytes")
  end)
end)

describe("a half-closed connection", function()
  after_each(files.cleanup)

  it("the peer stops writing: every line arrives, then end of stream, and we can still write",
     function()
    local c, a = net.tcppair()
    finally(function() core.close(a) end)
    local st = sockit.stream(c)
    finally(function() st:close() end)
    assert(net.sendall(a, "first\nsecond\nno newline"))
    assert(core.shutdown(a, "w"))
    assert.are.equal("first", st:read("l"))
    assert.are.same({"second\n", "no newline"}, {st:read("L", "a")})
    assert.is_nil(st:read("l"))
    assert.is_nil(st:read(1))
    assert.are.equal("", st:read("a"))
    assert.are.equal(st, st:write("reply after the peer's end"))
    assert.are.equal("reply after the peer's end", net.recvall(a, 26))
  end)

  it("we stop writing: the peer reads to end of stream and its answer still arrives",
     function()
    local c, a = net.tcppair()
    finally(function() core.close(a) end)
    local st = sockit.stream(c)
    finally(function() st:close() end)
    local request = net.bytes(300000)
    assert.are.equal(st, st:write(request))
    assert(st:shutdown("w"))
    assert.is_true(request == net.recvall(a, #request + 1))  -- stops at the end
    assert.are.equal("", core.recv(a, 1))
    assert(net.sendall(a, "the answer\n"))
    core.close(a)
    assert.are.equal("the answer", st:read("l"))
    assert.is_nil(st:read("l"))
    -- writing after our own shutdown fails with a code, not a signal
    local r = table.pack(st:write("more"))
    assert.is_nil(r[1])
    assert.are.equal("EPIPE", r[3])
    assert.are.equal(0, r[4])
  end)

  it("we stop reading: reads see end of stream and writing goes on", function()
    local c, a = net.tcppair()
    finally(function() core.close(a) end)
    local st = sockit.stream(c)
    finally(function() st:close() end)
    assert(st:shutdown("r"))
    assert.is_nil(st:read("l"))
    assert.are.equal("", st:read("a"))
    assert.are.equal(st, st:write("still writing"))
    assert.are.equal("still writing", net.recvall(a, 13))
  end)
end)

-- A child that sends one digit every few milliseconds (a readiness wait
-- on its own socket paces it) until we send it something, then a newline;
-- it prints how many digits it sent. It gives up after a minute.
local DRIBBLER = [[
  local limit = core.monotime() + 60
  local sent = 0
  while core.monotime() < limit and not core.wait(s, "r", 0.005) do
    assert(core.send(s, tostring(sent % 10)) == 1)
    sent = sent + 1
  end
  assert(core.send(s, "\n"))
  io.write(sent, "\n")
  -- takes "stop" before closing: a close with unread bytes would send a
  -- reset, which may overtake the line on its way
  local got = 0
  while got < 4 do
    local d = core.recv(s, 4 - got)
    if not d or d == "" then break end
    got = got + #d
  end
  core.close(s)
]]

local function digits(n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = tostring(i % 10) end
  return table.concat(t)
end

describe("a peer that dribbles one byte every few milliseconds", function()
  after_each(files.cleanup)

  it("gives a whole line within a generous read timeout", function()
    local s, child = child_peer([[
      for i = 0, 39 do
        core.wait(s, "r", 0.005)
        assert(core.send(s, tostring(i % 10)) == 1)
      end
      assert(core.send(s, "\n") == 1)
      core.close(s)
    ]])
    local st = sockit.stream(s, {timeout = 60})
    finally(function() st:close() end)
    assert.are.equal(digits(40), st:read("l"))
    assert.is_nil(st:read("l"))
    local _, ok = finish(child)
    assert.is_true(ok)
  end)

  it("times out read('l') as a whole call, though every byte comes in time, losing none",
     function()
    local s, child = child_peer(DRIBBLER)
    local st = sockit.stream(s, {timeout = 0.3})
    finally(function() st:close() end)
    -- the line never ends while we do not answer: the deadline covers the
    -- call, so it must pass even though no single wait is longer than 5 ms
    errs.fails("ETIMEDOUT", st:read("l"))
    assert.are.equal(st, st:write("stop"))
    st:settimeout(nil)
    local line = st:read("l")
    local out, ok = finish(child)
    assert.is_true(ok, out)
    local n = assert(tonumber(out))
    assert.is_true(n > 0)
    assert.are.equal(digits(n), line)
  end)
end)

describe("a peer that never reads", function()
  after_each(files.cleanup)

  it("makes a Stream write of megabytes fail with ETIMEDOUT and the count sent", function()
    local c, a = net.tcppair()
    finally(function() core.close(a) end)
    local data = net.bytes(32 * 1024 * 1024)
    local st = sockit.stream(c, {timeout = 0.2})
    local r = table.pack(st:write(data))
    assert.is_nil(r[1])
    assert.are.equal("ETIMEDOUT", r[3])
    local sent = r[4]
    assert.is_true(sent > 0 and sent < #data, "sent " .. tostring(sent))
    st:close()
    -- the peer gets exactly the bytes counted as sent, then end of stream
    local got = net.recvall(a, #data)
    assert.are.equal(sent, #got)
    assert.is_true(data:sub(1, sent) == got, "the peer received other bytes")
  end)

  it("makes core.send with timeout 0 fail with EAGAIN once the buffers are full", function()
    local c, a = net.tcppair()
    finally(function()
      core.close(a)
      core.close(c)
    end)
    core.settimeout(c, 0)
    local block, sent, code = net.bytes(65536), 0, nil
    for _ = 1, 10000 do
      local n, _, e = core.send(c, block)
      if not n then
        code = e
        break
      end
      sent = sent + n
    end
    assert.are.equal("EAGAIN", code)
    assert.is_true(sent > 0)
  end)
end)

describe("a peer sending 100 MB without a newline", function()
  after_each(files.cleanup)

  it("fails read('l') with EMSGSIZE within the line limit's memory, and loses no byte",
     function()
    local total = 100 * 1024 * 1024
    local s, child = child_peer([[
      local period = select(2, ...)
      local chunk = period:rep(math.floor(1024 * 1024 / #period))
      for _ = 1, 100 do
        local i = 1
        while i <= #chunk do i = i + assert(core.send(s, chunk, i)) end
      end
      core.close(s)
    ]], PERIOD)
    local st = sockit.stream(s, {timeout = 60})
    finally(function() st:close() end)
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count")
    errs.fails("EMSGSIZE", st:read("l"))
    collectgarbage()
    collectgarbage()
    local grown = collectgarbage("count") - base
    -- the buffer holds about the line limit (64 KiB) and one receive more
    assert.is_true(grown < 1024, ("memory grew by %.0f KiB"):format(grown))
    errs.fails("EMSGSIZE", st:read("l"))  -- again, with nothing consumed
    -- every byte is still there, in order: drain and compare
    local got = 0
    while true do
      local piece = st:read_some(1024 * 1024)
      if piece == nil then break end
      assert(piece == pattern(#piece, got), "bytes differ at offset " .. got)
      got = got + #piece
    end
    assert.are.equal(total, got)
    local out, ok = finish(child)
    assert.is_true(ok, out)
  end)
end)

describe("a listener whose backlog is full", function()
  after_each(files.cleanup)

  it("(TCP) makes the next connect time out, and the queued ones still work", function()
    local l = core.socket("inet", "stream")
    assert(core.bind(l, "127.0.0.1", 0))
    assert(core.listen(l, 1))
    local _, port = core.getsockname(l)
    local clients = {}
    finally(function()
      core.close(l)
      for _, c in ipairs(clients) do core.close(c) end
    end)
    local code
    for _ = 1, 16 do
      local c = core.socket("inet", "stream")
      core.settimeout(c, 0.5)
      local ok, _, e = core.connect(c, "127.0.0.1", port)
      if not ok then
        core.close(c)
        code = e
        break
      end
      clients[#clients + 1] = c
    end
    -- the kernel drops a SYN while the accept queue is full
    assert.are.equal("ETIMEDOUT", code)
    assert.is_true(#clients >= 1)
    core.settimeout(l, 10)
    for i, c in ipairs(clients) do
      core.settimeout(c, nil)
      assert(net.sendall(c, "client " .. i))
    end
    for i = 1, #clients do
      local a = assert(core.accept(l))
      assert.are.equal("client " .. i, net.recvall(a, #("client " .. i)))
      core.close(a)
    end
    -- with room again, a new client gets in
    local c = core.socket("inet", "stream")
    clients[#clients + 1] = c
    core.settimeout(c, 10)
    assert.is_true(core.connect(c, "127.0.0.1", port))
  end)

  it("(Unix) fails a connect with EAGAIN at timeout 0 and ETIMEDOUT with a timeout", function()
    local path = files.tmppath()
    local l = core.socket("unix", "stream")
    assert(core.bind(l, path))
    assert(core.listen(l, 1))
    local clients = {}
    finally(function()
      core.close(l)
      for _, c in ipairs(clients) do core.close(c) end
    end)
    local code
    for _ = 1, 16 do
      local c = core.socket("unix", "stream")
      core.settimeout(c, 0)
      local ok, _, e = core.connect(c, path)
      if not ok then
        core.close(c)
        code = e
        break
      end
      clients[#clients + 1] = c
    end
    assert.are.equal("EAGAIN", code)
    assert.is_true(#clients >= 1)
    local c = core.socket("unix", "stream")
    clients[#clients + 1] = c
    core.settimeout(c, 0.2)
    errs.fails("ETIMEDOUT", core.connect(c, path))
    -- the queued connections work, and accepting one makes room for one more
    core.settimeout(clients[1], nil)
    assert(net.sendall(clients[1], "queued"))
    local a = assert(core.accept(l))
    assert.are.equal("queued", net.recvall(a, 6))
    core.close(a)
    local d = core.socket("unix", "stream")
    clients[#clients + 1] = d
    core.settimeout(d, 0)
    assert.is_true(core.connect(d, path))
  end)
end)

---------------------------------------------------------------- EINTR

-- strace can make one system call of a child fail with EINTR without
-- running it (fault injection, strace 4.15 or later): what a signal
-- handler does to a blocking call, at a chosen call. connect is left out:
-- an injected EINTR skips the call, where a real one leaves the connection
-- going on, so the two cannot be compared.
local STRACE
do
  local p = assert(io.popen("command -v strace 2>/dev/null"))
  STRACE = p:read("l")
  p:close()
end

-- Runs `code` in a child lua5.4 under strace with the first `syscall`
-- failing with EINTR: output, exited with 0, strace's log.
local function interrupted(syscall, code)
  local dir = files.tmpdir()
  local script, log = dir .. "/child.lua", dir .. "/strace.log"
  local f = assert(io.open(script, "w"))
  f:write("local core = require('sockit.core')\n", code)
  f:close()
  -- strace itself runs without the sanitizer runtimes make asan preloads
  -- (it is not under test); the child it starts gets them back, without
  -- the leak check, which cannot work under ptrace
  local preload, asan = os.getenv("LD_PRELOAD"), os.getenv("ASAN_OPTIONS")
  local child = ""
  if preload then
    child = "env LD_PRELOAD=" .. env.quote(preload) .. " ASAN_OPTIONS="
            .. env.quote((asan and asan .. ":" or "") .. "detect_leaks=0")
  end
  local cmd = table.concat({
    "LUA_PATH=" .. env.quote(env.LUA_PATH), "LUA_CPATH=" .. env.quote(env.LUA_CPATH),
    "LUA_INIT=", "env -u LD_PRELOAD", env.quote(STRACE), "-o", env.quote(log),
    "-e", "trace=" .. syscall, "-e", "inject=" .. syscall .. ":error=EINTR:when=1",
    child, env.quote(env.lua), env.quote(script), "2>&1"}, " ")
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, how, status = p:close()
  local lf = io.open(log)
  local text = lf and lf:read("a") or ""
  if lf then lf:close() end
  return out, ok == true and how == "exit" and status == 0, text
end

-- The EINTR cases: the system call, the child's code, its expected output.
local EINTR_CASES = {
  {"recv", "recvfrom", [[
    local a, b = core.socketpair()
    assert(core.send(b, "hello\0world"))
    io.write(assert(core.recv(a, 100)))
  ]], "hello\0world"},
  {"Stream read('l')", "recvfrom", [[
    local a, b = core.socketpair()
    assert(core.send(b, "first line\nsecond"))
    local st = require("sockit").stream(a)
    io.write(st:read("l"), "|", st:read(6))
  ]], "first line|second"},
  {"send", "sendto", [[
    local a, b = core.socketpair()
    io.write(assert(core.send(a, "payload")), " ", assert(core.recv(b, 100)))
    core.settimeout(b, 0)
    io.write(" ", select(3, core.recv(b, 100)))  -- sent once, not twice
  ]], "7 payload EAGAIN"},
  {"accept", "accept4", [[
    local l = assert(core.socket("inet", "stream"))
    assert(core.bind(l, "127.0.0.1", 0))
    assert(core.listen(l))
    local c = assert(core.socket("inet", "stream"))
    assert(core.connect(c, "127.0.0.1", select(2, core.getsockname(l))))
    assert(core.send(c, "hi"))
    local a = assert(core.accept(l))
    io.write(assert(core.recv(a, 10)))
  ]], "hi"},
  {"recvfrom", "recvmsg", [[
    local a, b = core.socketpair("dgram")
    assert(core.send(b, "datagram"))
    local data, from = core.recvfrom(a, 100)
    io.write(data, "|", from)
  ]], "datagram|"},
  {"wait with a timeout", "ppoll", [[
    local a, b = core.socketpair()
    assert(core.send(b, "x"))
    io.write(tostring(core.wait(a, "r", 30)), " ", core.recv(a, 1))
  ]], "true x"},
  {"connect with a timeout, waiting in ppoll", "ppoll", [[
    local l = assert(core.socket("inet", "stream"))
    assert(core.bind(l, "127.0.0.1", 0))
    assert(core.listen(l))
    local c = assert(core.socket("inet", "stream"))
    core.settimeout(c, 30)
    io.write(tostring(core.connect(c, "127.0.0.1", select(2, core.getsockname(l)))))
    local a = assert(core.accept(l))
    assert(core.send(c, "!"))
    io.write(core.recv(a, 1))
  ]], "true!"},
  {"poller:wait", "epoll_pwait", [[
    local a, b = core.socketpair()
    assert(core.send(b, "x"))
    local p = assert(core.poller())
    assert(p:add(a, "r"))
    local first = p:wait(30)   -- interrupted: no fail tuple, maybe 0 ready
    local second = p:wait(30)
    io.write(type(first), " ", second, " ", tostring(p:ready(1) == a))
  ]], "number 1 true"},
  {"sleep", "ppoll", [[
    io.write(tostring(core.sleep(0.01)))
  ]], "true"},
}

describe("a system call interrupted by a signal (EINTR, injected with strace)", function()
  after_each(files.cleanup)

  for _, case in ipairs(EINTR_CASES) do
    local name, syscall, code, expected = case[1], case[2], case[3], case[4]
    it(("is retried by %s, which returns what it would have (%s)"):format(name, syscall),
       function()
      if not STRACE then
        pending("strace is not installed")
        return
      end
      local out, ok, log = interrupted(syscall, code)
      if log:find("PTRACE", 1, true) or out:find("ptrace", 1, true) then
        pending("strace cannot trace here: " .. out)
        return
      end
      assert.is_truthy(log:find("EINTR", 1, true) and log:find("INJECTED", 1, true),
                       "strace injected nothing:\n" .. log .. out)
      assert.is_true(ok, out)
      assert.are.equal(expected, out)
    end)
  end
end)
