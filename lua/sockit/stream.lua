-- sockit.stream: a buffered byte stream over a connected sockit.core
-- socket, read and written like a Lua file.
--
-- Received bytes wait in the stream's reader, a sockit.core reader (a C
-- buffer, reader.c) made at the first read. A read works on an offset
-- from the first unread byte and consumes only once every format of the
-- call has its value, so a call that fails consumes nothing: what it
-- received stays in the reader for the next one. The reader's bound read
-- method, stored as the stream's `read` field, returns a buffered line
-- without entering Lua, sends read(n) to `counted`, and everything else
-- here.
--
-- A stream over TLS has a sockit.tls connection, `tlsconn`, through which
-- it receives (into the same reader) and sends; every other line of the
-- stream is the same. Its calls wait as sockit.core's do (wait.call),
-- for the direction the connection asks for.

local compat = require("sockit.compat")
local core = require("sockit.core")
local object = require("sockit.object")
local util = require("sockit.util")
local wait = require("sockit.wait")

local unpack, pack = compat.unpack, compat.pack
local concat = table.concat
local find, sub, format = string.find, string.sub, string.format
local math_type, tointeger, min = compat.mathtype, compat.tointeger, math.min
local select, type = select, type
local recv, recv_into, recvn, send = core.recv, core.recv_into, core.recvn,
                                     core.send
local strerror, newreader, monotime = core.strerror, core.reader,
                                      core.monotime
local call, deadline_of, intask = wait.call, wait.deadline, wait.intask
local hold, held = wait.hold, wait.held
local running = coroutine.running

-- outside() -> true outside a task. In the main coroutine (running()
-- gives nil there on Lua 5.1, true as its second value after) the
-- loop is not asked: measured, 200 instructions less a call.
local function outside()
  local co, main = running()
  return main or co == nil or not intask()
end
local argerror = util.argerror
local tlsopts = require("sockit.tlsopts")

local MAXLINE = 64 * 1024     -- default line limit, line end not counted
local BLOCK = 64 * 1024       -- what one fill of the reader asks for
local RECVMAX = core.RECVMAX  -- the most one core.recv gives

local methods, mt, check = object.class("sockit.stream", "stream",
  {"settimeout", "gettimeout", "setoption", "getoption", "peer", "sockname"})

local M = {}

-- the TLS transport: sockit.tls's calls, taking the socket first as
-- wait.call gives it
local function tlsrecv(_, conn, r, n) return conn:recv_into(r, n) end
local function tlsrecvcount(_, conn, r, n) return conn:recv(r, n) end
local function tlssend(_, conn, data, i) return conn:send(data, i) end
local function tlshandshake(_, conn) return conn:handshake() end

-- new(sock, timeout, maxline) -> a stream owning sock. `closed` is nil
-- until it closes and `timeout` is set only when there is one: an idle
-- stream is then two fields (a constructor sizes the table for every
-- field it names, nil or not). Measured: 160 bytes of heap with its
-- socket, against 216 with closed = false.
function M.new(sock, timeout, maxline)
  local self = setmetatable({socket = sock, maxline = maxline or MAXLINE},
                            mt)
  if timeout ~= nil then self.timeout = timeout end
  return self
end


---------------------------------------------------------------- reading
--
-- Each reader takes the stream, the offset where the previous formats of
-- the call stopped, its format argument and the deadline, and returns
-- one of
--   true, value, offset     the format's value and the offset after it
--   true, nil, offset       no value (end of stream; for "n", no numeral
--                           either): the call stops there, as file:read
--   nil, msg, code          a failure: the call returns it

-- A count or "a" as a call's only format, on a plain stream: one
-- core.recvn receives into the reader and takes the value out, waiting
-- in C outside a task (inside one it returns EAGAIN, its bytes kept in
-- the reader, and the loop waits). Measured under callgrind, 64 KiB sent
-- and read over a socket pair: read(65536) costs 3,750 instructions a
-- round over core.recv's, against 9,200 when the waiting and the copy
-- through the reader were in Lua.
local function taken(self, n)
  local v, msg, code = call(self.socket, "r", recvn,
                            deadline_of(self.timeout), self.reader, n)
  if v == nil and msg then return nil, msg, code end
  return v
end

-- stream:read(n) for a positive integer n, as the bound read method of
-- a plain stream calls it, the stream known to be its owner and open
-- (closing the stream or starting TLS on it takes that method away).
-- Outside a task without a timeout, recvn is the blocking call
-- wait.call would make, without its Lua calls (measured: 1,200
-- instructions less per read).
local function counted(self, n)
  if self.timeout ~= nil or not outside() then return taken(self, n) end
  local sock = self.socket
  if held[sock] ~= -1 then hold(sock, nil) end
  return recvn(sock, self.reader, n)
end

-- the stream's bound read method: read(n) goes to counted on a plain
-- stream only
local function bind(self, r)
  self.read = r:bind(methods.read, self, not self.tlsconn and counted or nil)
end

-- the stream's reader, made with its bound read method at the first read
-- (an idle stream has neither)
local function reader(self)
  local r = self.reader
  if not r then
    r = newreader(self.maxline)
    self.reader = r
    bind(self, r)
  end
  return r
end

-- the stream's TLS handshake, done (true) or its fail tuple: see
-- handshaken below
local shaken

-- receives more bytes into the reader: true, false at end of stream, or
-- the fail tuple
local function fill(self, deadline, want)
  local conn, n, msg, code = self.tlsconn
  if conn then
    if not self.shaken then
      n, msg, code = shaken(self, deadline)
      if not n then return nil, msg, code end
    end
    n, msg, code = call(self.socket, "r", tlsrecv, deadline, conn,
                        self.reader, want)
  else
    n, msg, code = call(self.socket, "r", recv_into, deadline, self.reader,
                        want)
  end
  if not n then return nil, msg, code end
  return n > 0
end

local function toolong()
  return nil, strerror("EMSGSIZE"), "EMSGSIZE"
end

-- the value of a format that met the end of stream after the `have`
-- bytes from offset off: them, or nil when there are none
local function rest(self, off, have)
  if have == 0 then return true, nil, off end
  return true, self.reader:sub(off, have), off + have
end

-- "l" (keepend false) and "L". The line limit counts neither "\n" nor
-- a "\r" before it; each scan resumes where the last one stopped.
local function readline(self, off, keepend, deadline)
  local r, from = self.reader, 0
  while true do
    local line, x = r:line(off, keepend, from)
    if line then return true, line, x end
    if line == false then return toolong() end
    from = x
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then return rest(self, off, x) end
  end
end

-- A count of BLOCK or more as a call's only format over TLS, nothing
-- buffered (a plain stream's goes to core.recvn): the connection
-- decrypts through the reader's free space and hands over a string of
-- the count, or leaves fewer bytes in
-- the reader for readcount's fills (measured against the C client, 25
-- alternating runs: 0.84x through the reader, 0.86x this way; see
-- bench/README.md).
local function tlsdirect(self, n, deadline)
  if not self.shaken then
    local ok, msg, code = shaken(self, deadline)
    if not ok then return nil, msg, code end
  end
  local got, msg, code = call(self.socket, "r", tlsrecvcount, deadline,
                              self.tlsconn, self.reader, min(n, RECVMAX))
  if not got then return nil, msg, code end
  if got == 0 then return true, nil, 0 end
  if type(got) == "string" then
    if #got == n then return true, got, 0 end
    self.reader:append(got)  -- a count over RECVMAX
  end
end

-- a byte count; 0 tests for the end of stream, as file:read(0)
local function readcount(self, off, n, deadline, only)
  local r = self.reader
  if only and n >= BLOCK and #r == 0 and self.tlsconn then
    local ok, v, x = tlsdirect(self, n, deadline)
    if ok ~= nil or v ~= nil then return ok, v, x end
  end
  if n == 0 then
    if #r > off then return true, "", off end
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    return true, ok and "" or nil, off
  end
  while #r - off < n do
    -- a large count's fill asks for what is missing, a MiB at most (a
    -- count from the peer reserves no memory before its bytes arrive)
    local want = n >= BLOCK and min(n - (#r - off), RECVMAX) or nil
    local ok, msg, code = fill(self, deadline, want)
    if ok == nil then return nil, msg, code end
    if not ok then return rest(self, off, #r - off) end
  end
  return true, r:sub(off, n), off + n
end

-- "a": everything to the end of stream, "" if nothing is left
local function readall(self, off, deadline)
  local r = self.reader
  while true do
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then return true, r:sub(off, #r - off), #r end
  end
end

-- "n": white space, then a numeral read as a number; a string that is
-- not one gives nil (fail) and is consumed, as with files. Both together
-- are bounded by the line limit.
local function readnumber(self, off, deadline)
  local r, start, limit = self.reader, off, self.maxline
  while true do  -- skip white space
    local s = r:skipspace(off)
    if s then
      off = s
      break
    end
    off = #r
    if off - start > limit then return toolong() end
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then return true, nil, off end
  end
  local eof = false
  while true do  -- until the numeral's end is buffered
    local e, v = r:number(off, eof)
    if e then
      if e - start > limit then return toolong() end
      return true, v, e
    end
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    eof = not ok
  end
end

-- the format letter of a string format, "*" allowed in front
local function letter(fmt)
  local c = sub(fmt, 1, 1)
  if c == "*" then c = sub(fmt, 2, 2) end
  return c
end

local function readone(self, off, fmt, deadline, only)
  if type(fmt) == "number" then
    return readcount(self, off, tointeger(fmt), deadline, only)
  end
  local c = letter(fmt)
  if c == "l" then return readline(self, off, false, deadline)
  elseif c == "L" then return readline(self, off, true, deadline)
  elseif c == "a" then return readall(self, off, deadline)
  else return readnumber(self, off, deadline) end
end

-- raises on a bad format among the n arguments, as file:read does
local function checkformats(fname, n, ...)
  for i = 1, n do
    local fmt = select(i, ...)
    if type(fmt) == "number" then
      local k = tointeger(fmt)
      if not k then
        argerror(i, fname, "number has no integer representation")
      elseif k < 0 then
        argerror(i, fname, "size must not be negative")
      end
    elseif type(fmt) ~= "string" then
      argerror(i, fname, "string expected, got " ..
               (fmt == nil and "nil" or type(fmt)))
    elseif not find("lLan", letter(fmt), 1, true) or letter(fmt) == "" then
      argerror(i, fname, "invalid format")
    end
  end
end

-- the value of a call's only format, its bytes consumed; or the fail
-- tuple, nothing consumed
local function single(self, ok, v, x)
  if not ok then return nil, v, x end
  self.reader:consume(x)
  return v
end

local function readformats(self, n, ...)
  local deadline, r = deadline_of(self.timeout), self.reader
  if n == 1 then return single(self, readone(self, 0, ..., deadline, true)) end
  local out, off = {}, 0
  for i = 1, n do
    local ok, v, x = readone(self, off, select(i, ...), deadline)
    if not ok then return nil, v, x end
    out[i], off = v, x
    if v == nil then
      n = i
      break
    end
  end
  r:consume(off)
  return unpack(out, 1, n)
end

-- stream:read(...) -> one value per format ("l", "L", "a", "n", counts;
-- "l" without any), or nil, msg, code consuming nothing. After the first
-- read, stream:read is the reader's bound method, which takes read("l")
-- of a buffered line itself and calls this for the rest.
function methods:read(...)
  check(self, "read")
  reader(self)
  local n = select("#", ...)
  if n == 0 then return readformats(self, 1, "l") end
  local fmt = ...
  if n == 1 and math_type(fmt) == "integer" and fmt >= 0 then
    -- a count alone (bulk data) needs no more checks: measured, 2,500
    -- instructions less per read
    if fmt > 0 and not self.tlsconn then return taken(self, fmt) end
    return single(self, readcount(self, 0, fmt, deadline_of(self.timeout),
                                  true))
  end
  checkformats("read", n, ...)
  if n == 1 and letter(fmt) == "a" and not self.tlsconn then
    return taken(self, nil)
  end
  return readformats(self, n, ...)
end

-- stream:read_some(n) -> up to n bytes: the buffered ones, or else what
-- one receive gives; nil at end of stream
function methods:read_some(n)
  check(self, "read_some")
  n = util.integer(n, 1, "read_some", 1)
  local r = self.reader
  if self.tlsconn and not (r and #r > 0) then
    r = reader(self)
    local ok, msg, code = fill(self, deadline_of(self.timeout))
    if not ok then return nil, msg, code end
  end
  if r and #r > 0 then
    local data = r:sub(0, n)
    r:consume(#data)
    return data
  end
  local data, msg, code = wait.once(self.socket, "r", recv, self.timeout, n)
  if not data then return nil, msg, code end
  if data == "" then return nil end
  return data
end

-- stream:unread(data) -> stream: data goes back in front of the buffered
-- bytes, so the next read sees it first (a reader that took too much
-- gives back the rest)
function methods:unread(data)
  check(self, "unread")
  util.string(data, 1, "unread")
  if data ~= "" then
    local r = reader(self)
    local buffered = r:sub(0, #r)
    r:consume(#r):append(data):append(buffered)
  end
  return self
end

-- a timeout or failure inside a for loop raises, as io.lines does
local function raising(v, ...)
  if v == nil and select("#", ...) > 0 and (...) ~= nil then
    local msg, code = ...
    util.error(format("%s (%s)", msg, code))
  end
  return v, ...
end

-- stream:lines(...) -> iterator over stream:read(...), "l" without formats
function methods:lines(...)
  check(self, "lines")
  local n = select("#", ...)
  if n == 0 then
    -- the reader's bound iterator takes a buffered line without a Lua
    -- call: measured, that doubles the lines per second of a for loop
    return reader(self):bind(function()
      local line, msg, code = self:read("l")
      if line == nil and msg then raising(nil, msg, code) end
      return line
    end)
  end
  checkformats("lines", n, ...)
  local fmts = pack(...)
  return function() return raising(self:read(unpack(fmts, 1, n))) end
end


---------------------------------------------------------------- writing

-- a number as file:write prints it (a double always as "%.14g")
local function numeral_string(v, arg)
  local t = math_type(v)
  if t == "integer" and not compat.doubles then return format("%d", v) end
  if t then return format("%.14g", v) end
  argerror(arg, "write", "string expected, got " ..
           (v == nil and "nil" or type(v)))
end

local function join(n, ...)
  local t = {...}
  for i = 1, n do
    if type(t[i]) ~= "string" then t[i] = numeral_string(t[i], i) end
  end
  return concat(t, "", 1, n)
end

-- sends data from byte sent + 1 on: self, or nil, msg, code, sent
local function sendall(self, data, sent, deadline)
  local sock, len, conn = self.socket, #data, self.tlsconn
  if conn and not self.shaken then
    local ok, msg, code = shaken(self, deadline)
    if not ok then return nil, msg, code, sent end
  end
  while sent < len do
    local k, msg, code
    if conn then k, msg, code = call(sock, "w", tlssend, deadline, conn, data,
                                     sent + 1)
    else k, msg, code = call(sock, "w", send, deadline, data, sent + 1) end
    if not k then return nil, msg, code, sent end
    sent = sent + k
  end
  return self
end

-- stream:write(...) -> stream, or nil, msg, code, sent: the arguments
-- joined once, then sent in as few calls as the socket takes
function methods:write(...)
  -- the test inline where it passes: this runs once per write
  if getmetatable(self) ~= mt or self.closed then check(self, "write") end
  local n = select("#", ...)
  local data = ...
  if n ~= 1 then data = join(n, ...)
  elseif type(data) ~= "string" then data = numeral_string(data, 1) end
  if #data == 0 then return self end
  if self.timeout == nil and not self.tlsconn and outside() then
    -- a plain stream without a timeout, outside a task: the blocking send
    -- wait.call would make, without its Lua calls
    local sock = self.socket
    if held[sock] ~= -1 then hold(sock, nil) end
    local k, msg, code = send(sock, data)
    if not k then return nil, msg, code, 0 end
    if k == #data then return self end
    return sendall(self, data, k, deadline_of(nil))
  end
  return sendall(self, data, 0, deadline_of(self.timeout))
end


---------------------------------------------------------------- descriptors

-- the descriptors to send: integers, sockit.core sockets, or sockit
-- objects (a stream, server or UDP socket), as sockit.core takes them
local function descriptors(fds)
  if type(fds) ~= "table" or getmetatable(fds) ~= nil then
    argerror(2, "sendfds", "table expected, got " .. type(fds))
  end
  local list = {}
  for i = 1, #fds do
    local fd = fds[i]
    if type(fd) == "table" and fd.socket ~= nil then fd = fd.socket end
    list[i] = fd
  end
  return list
end

-- descriptors travel beside the bytes, where TLS cannot protect them, and
-- a raw message would corrupt the TLS stream: refused
local function plain(self, fname)
  if self.tlsconn then util.error(fname .. ": not on a stream over TLS") end
end

-- core.sendmsg, its raise told as sendfds's
local function sendmsg(sock, data, fds)
  return object.reraise("sendfds", pcall(core.sendmsg, sock, data, fds))
end

-- stream:sendfds(data, fds) -> stream, or nil, msg, code, sent: data
-- written as write does, the descriptors of the list fds (at most 253)
-- going with its first byte; a Unix stream only
function methods:sendfds(data, fds)
  check(self, "sendfds")
  plain(self, "sendfds")
  util.string(data, 1, "sendfds")
  if data == "" then argerror(1, "sendfds", "data must not be empty") end
  fds = descriptors(fds)
  local deadline = deadline_of(self.timeout)
  local k, msg, code = call(self.socket, "w", sendmsg, deadline, data, fds)
  if not k then return nil, msg, code, 0 end
  return sendall(self, data, k, deadline)
end

-- stream:recvfds(n [, maxfds]) -> data, fds [, true]: up to n bytes as
-- read_some gives them, with the list of descriptors that came with them
-- (integers, close-on-exec: wrap one with sockit.core.fromfd or close it
-- with sockit.core.closefd); true when descriptors past maxfds (default
-- 253) were closed. nil at end of stream. Bytes already buffered by a
-- read come first, without descriptors: a peer that sends descriptors is
-- read with recvfds only.
function methods:recvfds(n, maxfds)
  check(self, "recvfds")
  plain(self, "recvfds")
  n = util.integer(n, 1, "recvfds", 1)
  if maxfds ~= nil then maxfds = util.integer(maxfds, 2, "recvfds", 0, 253) end
  local r = self.reader
  if r and #r > 0 then return self:read_some(n), {} end
  local data, fds, cut = wait.once(self.socket, "r", core.recvmsg,
                                   self.timeout, n, maxfds)
  if data == nil then return nil, fds, cut end
  if data == "" then return nil end
  if cut then return data, fds, cut end
  return data, fds
end


---------------------------------------------------------------- sendfile

local CHUNK = 0x7ffff000  -- the most one sendfile(2) sends on Linux

-- the bytes from offset to the end of the file, or count of them:
-- sent, or nil, msg, code, sent
local function sendfrom(self, file, offset, count)
  local sock, deadline, sent = self.socket, deadline_of(self.timeout), 0
  while count == nil or sent < count do
    local want = count and min(count - sent, CHUNK) or CHUNK
    local k, msg, code = call(sock, "w", core.sendfile, deadline, file,
                              offset + sent, want)
    if not k then return nil, msg, code, sent end
    if k == 0 then break end  -- the end of the file
    sent = sent + k
  end
  return sent
end

-- Over TLS the kernel cannot encrypt: the file is read and written
-- through the connection, a block at a time.
local function copyfrom(self, file, offset, count)
  local deadline, sent = deadline_of(self.timeout), 0
  local ok, msg = file:seek("set", offset)
  if not ok then return nil, msg, "ESPIPE", 0 end  -- a pipe: no offsets
  while count == nil or sent < count do
    local data = file:read(count and min(count - sent, BLOCK) or BLOCK)
    if data == nil then break end
    local code, k
    ok, msg, code, k = sendall(self, data, 0, deadline)
    if not ok then return nil, msg, code, sent + k end
    sent = sent + #data
  end
  return sent
end

-- stream:sendfile(file [, offset [, count]]) -> bytes sent, or nil, msg,
-- code, sent: the bytes of file (a path or an open Lua file) from offset
-- (default 0), count of them or up to the file's end, sent by the kernel
-- with sendfile(2), no Lua string made. A file shorter than count sends
-- what it has. The stream's timeout bounds the whole call.
function methods:sendfile(file, offset, count)
  check(self, "sendfile")
  local path = type(file) == "string"
  if not path and io.type(file) ~= "file" then
    argerror(1, "sendfile", "path or open file expected, got " ..
             (io.type(file) or type(file)))
  end
  offset = offset == nil and 0 or util.integer(offset, 2, "sendfile", 0)
  if count ~= nil then count = util.integer(count, 3, "sendfile", 0) end
  local from = self.tlsconn and copyfrom or sendfrom
  if not path then return from(self, file, offset, count) end
  local f = io.open(file, "rb")
  -- the failure to open, told with its code as sockit.core tells it
  if not f then return core.sendfile(self.socket, file, offset, 0) end
  local r, msg, code, sent = from(self, f, offset, count)
  f:close()
  return r, msg, code, sent
end


---------------------------------------------------------------- the rest

-- stream:close() -> true; closing twice is fine. A task waiting on the
-- stream wakes with nil, msg, "ECANCELED".
local close = methods.close
function methods:close()
  local conn = self.tlsconn
  if conn then conn:close() end
  close(self)
  local r = self.reader
  if r then
    r:consume(#r)
    self.read = nil  -- the class's read, which raises on a closed stream
  end
  return true
end

local hows = {r = true, w = true, rw = true}

-- stream:shutdown([how]) -> true or the fail tuple; how "r", "w", "rw"
function methods:shutdown(how)
  check(self, "shutdown")
  if how ~= nil and not hows[how] then
    argerror(1, "shutdown", format("invalid option '%s'", tostring(how)))
  end
  return core.shutdown(self.socket, how)
end

---------------------------------------------------------------- TLS

-- handshake(self [, deadline]) -> true or the fail tuple: the TLS
-- handshake of a stream over TLS, under the deadline (by default, that
-- of the stream's timeout from now); `shaken` is true once it is done
function M.handshake(self, deadline)
  if deadline == nil then deadline = deadline_of(self.timeout) end
  local ok, msg, code = call(self.socket, "r", tlshandshake, deadline,
                             self.tlsconn)
  if ok then self.shaken = true end
  return ok, msg, code
end

-- the handshake run by this task, which then wakes the tasks waiting for
-- it (the set `shaking` while it runs)
local function shake(self, deadline)
  local waiting = {}
  self.shaking = waiting
  local ok, msg, code = M.handshake(self, deadline)
  self.shaking = nil
  for co in pairs(waiting) do wait.wake(co) end
  return ok, msg, code
end

-- A server stream's handshake runs at its first read or write. Two tasks
-- of the stream (a reader and a writer) would both drive it, each waiting
-- on the socket: the second one waits for the first one's handshake
-- instead, under its own deadline, and then goes on, or runs it again to
-- get the fail tuple of a failed one (a connection keeps its failure).
function shaken(self, deadline)
  local co = wait.current()
  while not self.shaken do
    if self.closed then return nil, strerror("ECANCELED"), "ECANCELED" end
    local waiting = self.shaking
    if not (waiting and co) then return shake(self, deadline) end
    if deadline == 0 then return nil, strerror("EAGAIN"), "EAGAIN" end
    local t = deadline and deadline - monotime() or math.huge
    if t <= 0 then return wait.timedout() end
    waiting[co] = true
    wait.sleep(t)
    waiting[co] = nil
  end
  return true
end

-- secure(self, ctx, name, arg, fname) -> self, now over TLS with a
-- connection from ctx (a client checking name); no handshake yet
function M.secure(self, ctx, name, arg, fname)
  self.tlsconn = tlsopts.connection(ctx, self.socket, name, arg, fname)
  if self.reader then bind(self, self.reader) end
  return self
end

-- stream:starttls([opts | context]) -> stream, or the fail tuple: the
-- stream goes on over TLS (a client by default, checking the name it
-- connected to), once the handshake is done under its timeout. Writes
-- are never held back, so nothing is left to flush first; bytes received
-- and not read yet refuse the upgrade (EPROTO, the stream as it was):
-- they came before the handshake, and must never read as protected.
function methods:starttls(opts)
  check(self, "starttls")
  if self.tlsconn then util.error("starttls: the stream is over TLS already") end
  if opts == nil then opts = true end
  local ctx = tlsopts.context(opts, nil, 1, "starttls")
  local r = self.reader
  if r and #r > 0 then
    return nil, "plaintext received before the TLS handshake", "EPROTO"
  end
  M.secure(self, ctx, self.host, 1, "starttls")
  local ok, msg, code = M.handshake(self)
  if not ok then return nil, msg, code end
  return self
end

-- stream:tls() -> nil on a plain stream; else {version, cipher, alpn,
-- servername, verified, peer}, peer = {subject, issuer, notbefore,
-- notafter, names} or nil
function methods:tls()
  check(self, "tls")
  local conn = self.tlsconn
  if not conn then return nil end
  return conn:info()
end

-- stream:setmaxline(n) -> stream
function methods:setmaxline(n)
  check(self, "setmaxline")
  self.maxline = util.integer(n, 1, "setmaxline", 1)
  if self.reader then self.reader:setmaxline(self.maxline) end
  return self
end

return M
