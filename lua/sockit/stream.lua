-- sockit.stream: a buffered byte stream over a connected sockit.core
-- socket, read and written like a Lua file.
--
-- Received bytes wait in one string, `buf`, from index `pos` on. A read
-- works on an offset from `pos` and moves `pos` only once every format of
-- the call has its value, so a call that fails consumes nothing: what it
-- received stays in `buf` for the next one. The buffer is compacted only
-- when new bytes arrive, which copies it anyway; a line costs one find and
-- one sub.

local compat = require("sockit.compat")
local core = require("sockit.core")
local object = require("sockit.object")
local util = require("sockit.util")
local wait = require("sockit.wait")

local concat, unpack, pack = table.concat, compat.unpack, compat.pack
local byte, find, sub, format = string.byte, string.find, string.sub,
                                string.format
local math_type, tointeger, min = compat.mathtype, compat.tointeger, math.min
local select, type = select, type
local recv, send, strerror = core.recv, core.send, core.strerror
local call, deadline_of = wait.call, wait.deadline
local argerror = util.argerror

local BLOCK = 64 * 1024       -- asked of one recv that refills the buffer
local RECVMAX = core.RECVMAX    -- the most one core.recv gives
local MAXLINE = 64 * 1024     -- default line limit, line end not counted
local MAXNUMERAL = 200        -- longest numeral "n" reads, as liolib

local methods, mt, check = object.class("sockit.stream", "stream",
  {"settimeout", "gettimeout", "setoption", "getoption", "peer", "sockname"})

local M = {}

-- new(sock, timeout, maxline) -> a stream owning sock
function M.new(sock, timeout, maxline)
  return setmetatable({socket = sock, buf = "", pos = 1, closed = false,
                       timeout = timeout, maxline = maxline or MAXLINE}, mt)
end


---------------------------------------------------------------- reading
--
-- Each reader takes the stream, the offset from `pos` where the previous
-- formats of the call stopped, its format argument and the deadline, and
-- returns one of
--   true, value, offset     the format's value and the offset after it
--   true, nil, offset       no value (end of stream; for "n", no numeral
--                           either): the call stops there, as file:read
--   nil, msg, code          a failure: the call returns it
-- Only fill, keep and finish move bytes within the buffer, and they keep
-- every byte after `pos`, so offsets stay valid across them.

-- receives up to BLOCK more bytes into the buffer, dropping the consumed
-- part: true, false at end of stream, or the fail tuple
local function fill(self, deadline)
  local data, msg, code = call(self.socket, recv, deadline, BLOCK)
  if not data then return nil, msg, code end
  if data == "" then return false end
  local buf, pos = self.buf, self.pos
  if pos > #buf then self.buf = data
  elseif pos == 1 then self.buf = buf .. data
  else self.buf = sub(buf, pos) .. data end
  self.pos = 1
  return true
end

-- a failure after receiving `parts[2..]` outside the buffer: they join it
local function keep(self, parts, msg, code)
  parts[1] = sub(self.buf, self.pos)
  self.buf, self.pos = concat(parts), 1
  return nil, msg, code
end

-- the value `s` of a format read past the end of the buffer. While other
-- formats follow, s goes back into the buffer (a later failure must leave
-- it there); after the last one, the buffer is simply used up.
local function finish(self, off, s, more)
  local buf, pos = self.buf, self.pos
  if not more then return true, s, #buf - pos + 1 end
  self.buf, self.pos = sub(buf, pos, pos + off - 1) .. s, 1
  return true, s, off + #s
end

local function toolong()
  return nil, strerror("EMSGSIZE"), "EMSGSIZE"
end

-- the value of a format that met the end of stream after the `have`
-- bytes from offset off: them, or nil when there are none
local function rest(self, off, have)
  if have == 0 then return true, nil, off end
  return true, sub(self.buf, self.pos + off), off + have
end

-- the index of the last byte of a line whose "\n" is at e, the line
-- starting at p, without its end: "\r\n" or "\n"
local function lastbyte(buf, p, e)
  if e > p and byte(buf, e - 1) == 13 then return e - 2 end
  return e - 1
end

-- "l" (chop the line end) and "L". The line limit counts neither "\n" nor
-- a "\r" before it.
local function readline(self, off, chop, deadline)
  local buf, maxline = self.buf, self.maxline
  local p = self.pos + off
  local from = p
  while true do
    local e = find(buf, "\n", from, true)
    if e then
      local last = lastbyte(buf, p, e)
      if last - p >= maxline then return toolong() end
      return true, sub(buf, p, chop and last or e), off + e - p + 1
    end
    local have = #buf - p + 1
    -- no line end in more than maxline bytes (but a last "\r" may be
    -- waiting for its "\n"): stop receiving
    if have > maxline and (have > maxline + 1 or byte(buf, -1) ~= 13) then
      return toolong()
    end
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then return rest(self, off, have) end
    buf, p = self.buf, self.pos + off
    from = p + have
  end
end

-- a count too large for the buffer: receive the rest straight, in calls
-- of up to the bytes missing
local function readdirect(self, off, n, deadline, more)
  local buf = self.buf
  local p = self.pos + off
  local parts, got = {sub(buf, p)}, #buf - p + 1
  while got < n do
    local data, msg, code = call(self.socket, recv, deadline,
                                 min(n - got, RECVMAX))
    if not data then return keep(self, parts, msg, code) end
    if data == "" then break end
    -- one receive gave it all: no copy into a joined string
    if #data == n then return finish(self, off, data, more) end
    parts[#parts + 1] = data
    got = got + #data
  end
  if got == 0 then return true, nil, off end
  return finish(self, off, concat(parts), more)
end

-- a byte count; 0 tests for the end of stream, as file:read(0)
local function readcount(self, off, n, deadline, more)
  local buf = self.buf
  local p = self.pos + off
  local have = #buf - p + 1
  if n == 0 then
    if have > 0 then return true, "", off end
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    return true, ok and "" or nil, off
  end
  while have < n and n - have < BLOCK do
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then return rest(self, off, have) end
    buf, p = self.buf, self.pos + off
    have = #buf - p + 1
  end
  if have >= n then return true, sub(buf, p, p + n - 1), off + n end
  return readdirect(self, off, n, deadline, more)
end

-- "a": everything to the end of stream, "" if nothing is left
local function readall(self, off, deadline, more)
  local parts = {sub(self.buf, self.pos + off)}
  local size = BLOCK
  while true do
    local data, msg, code = call(self.socket, recv, deadline, size)
    if not data then return keep(self, parts, msg, code) end
    if data == "" then break end
    parts[#parts + 1] = data
    if #data == size and size < RECVMAX then size = size * 2 end
  end
  return finish(self, off, concat(parts), more)
end

-- i + 1 if the byte at i is one of `set`, else i
local function accept(s, i, set)
  local c = sub(s, i, i)
  if c ~= "" and find(set, c, 1, true) then return i + 1 end
  return i
end

-- the index after the digits at i, and their count
local function digits(s, i, hex)
  local _, e = find(s, hex and "^%x*" or "^%d*", i)
  return e + 1, e + 1 - i
end

-- the index after the numeral at i, accepted as liolib's read_number does
local function numeral(s, i)
  local count, hex = 0, false
  i = accept(s, i, "-+")
  local j = accept(s, i, "0")
  if j > i then
    i, j = j, accept(s, j, "xX")
    if j > i then i, hex = j, true else count = 1 end
  end
  local n
  i, n = digits(s, i, hex)
  count = count + n
  j = accept(s, i, ".")
  if j > i then
    i, n = digits(s, j, hex)
    count = count + n
  end
  if count > 0 then
    j = accept(s, i, hex and "pP" or "eE")
    if j > i then i = digits(s, accept(s, j, "-+"), false) end
  end
  return i
end

-- "n": white space, then a numeral read as a number; a string that is
-- not one gives nil (fail) and is consumed, as with files
local function readnumber(self, off, deadline)
  while true do  -- skip white space
    local buf, pos = self.buf, self.pos
    local s = find(buf, "[^ \t\n\v\f\r]", pos + off)
    if s then
      off = s - pos
      break
    end
    off = #buf - pos + 1
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then return true, nil, off end
  end
  while true do  -- until the numeral's end is in the buffer
    local buf = self.buf
    local p = self.pos + off
    if find(buf, "[^%x%.xXpP+-]", p) or #buf - p >= MAXNUMERAL then break end
    local ok, msg, code = fill(self, deadline)
    if ok == nil then return nil, msg, code end
    if not ok then break end
  end
  local buf = self.buf
  local p = self.pos + off
  local e = numeral(buf, p)
  if e - p > MAXNUMERAL then return true, nil, off + e - p end
  return true, tonumber(sub(buf, p, e - 1)), off + e - p
end

-- the format letter of a string format, "*" allowed in front
local function letter(fmt)
  local c = sub(fmt, 1, 1)
  if c == "*" then c = sub(fmt, 2, 2) end
  return c
end

local function readone(self, off, fmt, deadline, more)
  if type(fmt) == "number" then
    return readcount(self, off, tointeger(fmt), deadline, more)
  end
  local c = letter(fmt)
  if c == "l" then return readline(self, off, true, deadline)
  elseif c == "L" then return readline(self, off, false, deadline)
  elseif c == "a" then return readall(self, off, deadline, more)
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

-- the call reached its end: move pos past what its formats took
local function commit(self, off)
  local pos = self.pos + off
  if pos > #self.buf then self.buf, pos = "", 1 end
  self.pos = pos
end

local function readformats(self, n, ...)
  local deadline = deadline_of(self.timeout)
  if n == 1 then
    local ok, v, x = readone(self, 0, ..., deadline, false)
    if not ok then return nil, v, x end
    commit(self, x)
    return v
  end
  local out, off = {}, 0
  for i = 1, n do
    local ok, v, x = readone(self, off, select(i, ...), deadline, i < n)
    if not ok then return nil, v, x end
    out[i], off = v, x
    if v == nil then
      n = i
      break
    end
  end
  commit(self, off)
  return unpack(out, 1, n)
end

-- stream:read(...) -> one value per format ("l", "L", "a", "n", counts;
-- "l" without any), or nil, msg, code consuming nothing
function methods:read(...)
  local fmt = ...
  -- the hot case first: read("l") with the line buffered. A closed
  -- stream's buffer is empty and a bad self has none, so their checks
  -- wait for the slow path.
  if fmt == "l" and select("#", ...) == 1 then
    local buf, pos = self and self.buf, self and self.pos
    local e = buf and find(buf, "\n", pos, true)
    if e and e - pos <= self.maxline then
      self.pos = e + 1
      -- lastbyte inline: a call here costs a third of the line rate
      if byte(buf, e - 1) == 13 and e > pos then e = e - 1 end
      return sub(buf, pos, e - 1)
    end
  end
  check(self, "read")
  local n = select("#", ...)
  if n == 0 then return readformats(self, 1, "l") end
  checkformats("read", n, ...)
  return readformats(self, n, ...)
end

-- stream:read_some(n) -> up to n bytes: the buffered ones, or else what
-- one receive gives; nil at end of stream
function methods:read_some(n)
  check(self, "read_some")
  n = util.integer(n, 1, "read_some", 1)
  local buf, pos = self.buf, self.pos
  if pos <= #buf then
    local e = min(pos + n - 1, #buf)
    commit(self, e - pos + 1)
    return sub(buf, pos, e)
  end
  local data, msg, code = wait.once(self.socket, recv, self.timeout, n)
  if not data then return nil, msg, code end
  if data == "" then return nil end
  return data
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
    -- a buffered line is taken here, without a method call per line:
    -- measured, that doubles the lines per second of a for loop
    return function()
      local buf, pos = self.buf, self.pos
      local e = find(buf, "\n", pos, true)
      if e and e - pos <= self.maxline then
        self.pos = e + 1
        if byte(buf, e - 1) == 13 and e > pos then e = e - 1 end
        return sub(buf, pos, e - 1)
      end
      local line, msg, code = self:read("l")
      if line == nil and msg then raising(nil, msg, code) end
      return line
    end
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

-- stream:write(...) -> stream, or nil, msg, code, sent: the arguments
-- joined once, then sent in as few calls as the socket takes
function methods:write(...)
  check(self, "write")
  local n = select("#", ...)
  local data = ...
  if n ~= 1 then data = join(n, ...)
  elseif type(data) ~= "string" then data = numeral_string(data, 1) end
  local len = #data
  if len == 0 then return self end
  local sock, deadline, sent = self.socket, deadline_of(self.timeout), 0
  repeat
    local k, msg, code = call(sock, send, deadline, data, sent + 1)
    if not k then return nil, msg, code, sent end
    sent = sent + k
  until sent >= len
  return self
end


---------------------------------------------------------------- the rest

-- stream:close() -> true; closing twice is fine. A task waiting on the
-- stream wakes with nil, msg, "ECANCELED".
local close = methods.close
function methods:close()
  close(self)
  self.buf, self.pos = "", 1
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

-- stream:setmaxline(n) -> stream
function methods:setmaxline(n)
  check(self, "setmaxline")
  self.maxline = util.integer(n, 1, "setmaxline", 1)
  return self
end

return M
