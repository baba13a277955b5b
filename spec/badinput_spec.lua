-- The bad-input catalogue: every public function of sockit.core and
-- sockit, called with what it must refuse. One case a line:
--
--   C(function name, expected outcome, arguments...)
--
-- with the outcome one of
--   R(n [, text])   raises "bad argument #n ..." (n = false: any raise),
--                   the message containing `text`
--   F(code)         returns the fail tuple nil, message, code (a list of
--                   codes when the kernel may give either)
--   OK(v)           returns normally: the first result equals v, or v is a
--                   function that checks the results
--
-- Arguments named S.<fixture> are made fresh for each case (sockets with
-- timeout 0, so nothing here can block) and closed after it. Each case
-- also checks that it leaves no descriptor open. No case resolves a name:
-- hosts are numeric, and getaddrinfo/getnameinfo/resolve run with the
-- numeric flags, so nothing here leaves the machine.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

local NAN, INF = 0 / 0, math.huge
local LONGHOST = ("a"):rep(200)
local LONGPATH = ("p"):rep(109)            -- one byte more than sun_path
local LONGABSTRACT = "\0" .. ("p"):rep(108)

---------------------------------------------------------------- fixtures

-- Each fixture is made by its function; what it returns is closed after
-- the case (anything with a close method, and io files).
local make = {}

local function timeout0(s) core.settimeout(s, 0) return s end

function make.tcp() return timeout0(core.socket("inet", "stream")) end
function make.tcp6() return timeout0(core.socket("inet6", "stream")) end
function make.udp() return timeout0(core.socket("inet", "dgram")) end
function make.udp6() return timeout0(core.socket("inet6", "dgram")) end
function make.unix() return timeout0(core.socket("unix", "stream")) end
function make.unixdgram() return timeout0(core.socket("unix", "dgram")) end

function make.closed()
  local s = core.socket("inet", "stream")
  core.close(s)
  return s
end

-- one end of a connected pair, its peer kept for cleanup
function make.pair(keep)
  local a, b = core.socketpair()
  keep[#keep + 1] = b
  return timeout0(a)
end

-- one end of a pair whose peer sent "data" and closed
function make.pairdata()
  local a, b = core.socketpair()
  assert(core.send(b, "data") == 4)
  core.close(b)
  return timeout0(a)
end

function make.listening()
  local s = core.socket("inet", "stream")
  assert(core.bind(s, "127.0.0.1", 0))
  assert(core.listen(s))
  return timeout0(s)
end

-- the port of a listening socket kept open for the case (in use)
function make.usedport(keep)
  local s = make.listening()
  keep[#keep + 1] = s
  return select(2, core.getsockname(s))
end

-- the port of a bound UDP socket kept open for the case
function make.usedudpport(keep)
  local s = core.socket("inet", "dgram")
  assert(core.bind(s, "127.0.0.1", 0))
  keep[#keep + 1] = s
  return select(2, core.getsockname(s))
end

function make.freeport() return net.freeport() end
function make.freeport6() return net.freeport("::1") end
function make.tmppath() return files.tmppath() end

-- the path of an existing regular file
function make.filepath(keep)
  local path = files.tmppath("file")
  local f = assert(io.open(path, "w"))
  keep[#keep + 1] = f
  return path
end

function make.file() return assert(io.tmpfile()) end
function make.closedfile()
  local f = assert(io.tmpfile())
  f:close()
  return f
end
function make.buffer() return core.buffer(16) end
function make.reader() return core.reader(16) end
function make.batch() return core.batch(4, 16) end

-- a poller watching nothing, and one watching a readable socket
function make.poller() return assert(core.poller()) end
function make.readypoller(keep)
  local p = assert(core.poller())
  local s = make.pairdata()
  keep[#keep + 1] = s
  assert(p:add(s, "r"))
  return p
end
function make.closedpoller()
  local p = assert(core.poller())
  p:close()
  return p
end

function make.request()
  return assert(core.resolve("127.0.0.1", 9, {numeric = true}))
end
function make.cancelled()
  local r = make.request()
  r:cancel()
  return r
end

-- sockit objects
function make.stream(keep)
  return sockit.stream(make.pair(keep), {timeout = 0})
end
function make.streamdata()
  return sockit.stream(make.pairdata(), {timeout = 0})
end
function make.closedstream(keep)
  local st = make.stream(keep)
  st:close()
  return st
end
function make.server()
  return assert(sockit.listen("127.0.0.1", 0)):settimeout(0)
end
function make.closedserver()
  local sv = make.server()
  sv:close()
  return sv
end
function make.udpobj()
  return assert(sockit.udp({bind = {"127.0.0.1", 0}})):settimeout(0)
end
function make.closedudp()
  local u = make.udpobj()
  u:close()
  return u
end

-- S.name stands for a fresh fixture in a case's arguments
local S = setmetatable({}, {__index = function(t, name)
  assert(make[name], "no fixture " .. name)
  local f = {fixture = name}
  rawset(t, name, f)
  return f
end})

local function isfixture(v)
  return type(v) == "table" and getmetatable(v) == nil and v.fixture ~= nil
end

---------------------------------------------------------------- functions

-- "core.recv", "stream:read"... -> the function
local FN = {}
for k, v in pairs(core) do FN["core." .. k] = v end
for k, v in pairs(sockit) do FN["sockit." .. k] = v end
do
  local function methods(prefix, obj)
    for k, v in pairs(getmetatable(obj).__index) do FN[prefix .. ":" .. k] = v end
    if obj.close then obj:close() end
  end
  local keep = {}
  methods("buffer", core.buffer(1))
  methods("batch", core.batch(1))
  methods("poller", core.poller())
  methods("request", make.request())
  methods("stream", make.stream(keep))
  methods("server", make.server())
  methods("udp", make.udpobj())
  for _, s in ipairs(keep) do core.close(s) end
end

---------------------------------------------------------------- outcomes

local function R(n, text) return {kind = "raise", n = n, text = text} end
local function F(code) return {kind = "fail", code = code} end
local function OK(v) return {kind = "ok", value = v} end
-- 2^53 is an integer where Lua has integers (5.3 on); where numbers are
-- doubles (5.1, LuaJIT, 5.2) integers are exact, below 2^53, and it raises
local DOUBLES = _VERSION == "Lua 5.1" or _VERSION == "Lua 5.2"
local function BIG(n, outcome)
  if DOUBLES then return R(n, "no integer representation") end
  return outcome
end
-- the fail tuple of a stream's send, with the count sent before it: 0
local function F0(code)
  return OK(function(v, msg, got, sent)
    assert(v == nil and type(msg) == "string" and got == code and sent == 0,
           ("expected nil, msg, %s, 0, got %s, %s, %s"):format(code,
           tostring(v), tostring(got), tostring(sent)))
  end)
end

local function describe_outcome(e)
  if e.kind == "raise" then
    return e.n and ("raises #" .. e.n) or "raises"
  elseif e.kind == "fail" then
    return "fails " .. (type(e.code) == "table" and table.concat(e.code, "/")
                        or e.code)
  end
  return "returns"
end

local function show(v)
  if isfixture(v) then return v.fixture end
  if type(v) == "string" then
    if #v > 24 then
      return ("%q.. (%d bytes)"):format(v:sub(1, 8), #v):gsub("\\\n", "\\n")
    end
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  end
  if v ~= v then return "nan" end
  if math.type(v) == "float" then
    if v == INF or v == -INF then return v > 0 and "inf" or "-inf" end
    return ("%.17g"):format(v)
  end
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x) end
    table.sort(parts)
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end

---------------------------------------------------------------- running

local cases = {}

-- C(fname, outcome, args...): one row of the catalogue
local function C(fname, outcome, ...)
  assert(FN[fname], "no function " .. fname)
  cases[#cases + 1] = {fname = fname, outcome = outcome,
                       args = table.pack(...)}
end

local function close(v)
  if io.type(v) then
    if io.type(v) == "file" then v:close() end
  elseif core.type(v) then core.close(v)
  elseif type(v) == "table" or type(v) == "userdata" then
    local mt = getmetatable(v)
    local idx = mt and mt.__index
    if type(idx) == "table" and idx.close then v:close()
    elseif type(idx) == "table" and idx.cancel then v:cancel() end
  end
end

local function check_raise(case, ok, msg)
  local e = case.outcome
  assert(not ok, "expected an error, got a return: " .. show(msg))
  assert.is_string(msg, "the error is not a string")
  if e.n then
    assert(msg:find("bad argument #" .. e.n .. " ", 1, true),
           "expected bad argument #" .. e.n .. ", got: " .. msg)
  end
  if e.text then
    assert(msg:find(e.text, 1, true),
           ("expected a message containing %q, got: %s"):format(e.text, msg))
  end
end

-- the value of an argument: fixtures made, tables copied with theirs
local function instantiate(v, keep, made)
  if isfixture(v) then
    local x = make[v.fixture](keep)
    made[#made + 1] = x
    return x
  elseif type(v) == "table" and getmetatable(v) == nil then
    local t = {}
    for k, x in pairs(v) do t[k] = instantiate(x, keep, made) end
    return t
  end
  return v
end

local function run(case)
  local keep, made = {}, {}
  local args = {}
  for i = 1, case.args.n do args[i] = instantiate(case.args[i], keep, made) end
  local r = table.pack(pcall(FN[case.fname], table.unpack(args, 1, case.args.n)))
  for i = 2, r.n do close(r[i]) end
  for _, v in ipairs(made) do close(v) end
  for _, v in ipairs(keep) do close(v) end
  local e = case.outcome
  if e.kind == "raise" then
    check_raise(case, r[1], r[2])
  elseif e.kind == "fail" then
    assert(r[1], "expected the fail tuple, got an error: " .. tostring(r[2]))
    errs.fails(e.code, table.unpack(r, 2, r.n))
  else
    assert(r[1], "expected a return, got an error: " .. tostring(r[2]))
    if type(e.value) == "function" then e.value(table.unpack(r, 2, r.n))
    else assert.are.same(e.value, r[2]) end
  end
end

---------------------------------------------------------------- sockit.core

-- socket(family, type [, protocol])
C("core.socket", R(1), nil, "stream")
C("core.socket", R(1, "invalid option"), "bogus", "stream")
C("core.socket", R(1), 2, "stream")
C("core.socket", R(2), "inet", nil)
C("core.socket", R(2, "invalid option"), "inet", "raw")
C("core.socket", R(2), "inet", {})
C("core.socket", R(3, "integer representation"), "inet", "stream", 1.5)
C("core.socket", R(3), "inet", "stream", "tcp")
C("core.socket", R(3, "out of range"), "inet", "stream", 2 ^ 32)
C("core.socket", R(3, "out of range"), "inet", "stream", -2 ^ 32 + 6)
C("core.socket", F("EPROTONOSUPPORT"), "inet", "dgram", 6)
C("core.socket", F({"EPROTONOSUPPORT", "EINVAL"}), "unix", "stream", 6)

-- socketpair([type])
C("core.socketpair", R(1, "invalid option"), "bogus")
C("core.socketpair", R(1), 1)
C("core.socketpair", R(1), {})

-- fromfd(fd)
C("core.fromfd", R(1), nil)
C("core.fromfd", R(1, "invalid descriptor"), -1)
C("core.fromfd", R(1, "integer representation"), 1.5)
C("core.fromfd", R(1), "x")
C("core.fromfd", R(1, "invalid descriptor"), 2 ^ 31)
C("core.fromfd", R(1, "invalid descriptor"), math.mininteger)
C("core.fromfd", F("EBADF"), 1000000)

-- read(fd, n)
C("core.read", R(1), nil, 1)
C("core.read", R(1), "x", 1)
C("core.read", R(1, "invalid descriptor"), -1, 1)
C("core.read", R(1, "invalid descriptor"), 2 ^ 31, 1)
C("core.read", R(1, "integer representation"), 1.5, 1)
C("core.read", R(2), 0, nil)
C("core.read", R(2, "at least 1"), 0, 0)
C("core.read", R(2, "integer representation"), 0, 1.5)
C("core.read", F("EBADF"), 1000000, 1)

-- type(x)
C("core.type", R(1))
C("core.type", OK(nil), nil)
C("core.type", OK(nil), S.file)
C("core.type", OK(nil), S.buffer)
C("core.type", OK("closed socket"), S.closed)

-- connect(s, host, port) / connect(s, path)
C("core.connect", R(1), nil, "127.0.0.1", 9)
C("core.connect", R(1, "sockit.socket expected"), S.file, "127.0.0.1", 9)
C("core.connect", R(1, "sockit.socket expected"), S.buffer, "127.0.0.1", 9)
C("core.connect", R(2), S.tcp, nil, 9)
C("core.connect", R(2), S.tcp, {}, 9)
C("core.connect", R(3), S.tcp, "127.0.0.1", nil)
C("core.connect", R(3, "out of range"), S.tcp, "127.0.0.1", -1)
C("core.connect", R(3, "out of range"), S.tcp, "127.0.0.1", 65536)
C("core.connect", R(3, "integer representation"), S.tcp, "127.0.0.1", 1.5)
C("core.connect", R(3), S.tcp, "127.0.0.1", "http")
C("core.connect", R(3, "out of range"), S.tcp, "127.0.0.1", math.maxinteger)
C("core.connect", R(3, "integer representation"), S.tcp, "127.0.0.1", INF)
C("core.connect", R(3, "integer representation"), S.tcp, "127.0.0.1", NAN)
C("core.connect", F("EAI_NONAME"), S.tcp, "", 9)
C("core.connect", F("EAI_NONAME"), S.tcp, LONGHOST, 9)
C("core.connect", F("EAI_NONAME"), S.tcp, "http", 9)
C("core.connect", F("EAI_NONAME"), S.tcp, "*", 9)
C("core.connect", F("EAI_NONAME"), S.tcp, "127.0.0.1\0junk", 9)
C("core.connect", F({"EAI_NONAME", "EAI_ADDRFAMILY", "EAI_FAMILY"}), S.tcp, "::1", 9)
C("core.connect", F("EAI_NONAME"), S.tcp6, "::1%no-such-interface0", 9)
C("core.connect", R(2), S.unix, nil)
C("core.connect", R(2), S.unix, {})
C("core.connect", R(2, "too long"), S.unix, LONGPATH)
C("core.connect", R(2, "too long"), S.unix, LONGABSTRACT .. "p")
C("core.connect", R(2, "zero byte"), S.unix, "/tmp/a\0b")
C("core.connect", R(2, "zero byte"), S.unix, "\0a\0b")
C("core.connect", F("ENOENT"), S.unix, S.tmppath)
C("core.connect", F("ECONNREFUSED"), S.unix, S.filepath)
C("core.connect", F({"EINVAL", "ENOENT"}), S.unix, "")

-- bind(s, host, port) / bind(s, path)
C("core.bind", R(1, "sockit.socket expected"), S.file, "127.0.0.1", 0)
C("core.bind", R(2), S.tcp, nil, 0)
C("core.bind", R(3, "out of range"), S.tcp, "127.0.0.1", -1)
C("core.bind", R(3, "out of range"), S.tcp, "127.0.0.1", 65536)
C("core.bind", R(3, "integer representation"), S.tcp, "127.0.0.1", 1.5)
C("core.bind", R(3), S.tcp, "127.0.0.1", "http")
C("core.bind", R(3), S.tcp, "*", nil)
C("core.bind", F("EAI_NONAME"), S.tcp, "", 0)
C("core.bind", F("EAI_NONAME"), S.tcp, LONGHOST, 0)
C("core.bind", F("EAI_NONAME"), S.tcp, "localhost", 0)
C("core.bind", F("EADDRINUSE"), S.tcp, "127.0.0.1", S.usedport)
C("core.bind", F("EAI_NONAME"), S.tcp, "127.0.0.1\0junk", 0)
C("core.bind", R(2, "too long"), S.unix, LONGPATH)
C("core.bind", R(2, "too long"), S.unixdgram, LONGABSTRACT .. "p")
C("core.bind", R(2, "zero byte"), S.unix, "a\0b")
C("core.bind", R(2, "zero byte"), S.unix, "\0a\0")
C("core.bind", R(2), S.unix, true)
C("core.bind", F("EADDRINUSE"), S.unix, S.filepath)
C("core.bind", F("ENOENT"), S.unix, "/nonexistent-dir-of-sockit/sock")

-- listen(s [, backlog])
C("core.listen", R(1, "sockit.socket expected"), S.file)
C("core.listen", R(2, "out of range"), S.tcp, -1)
C("core.listen", R(2, "out of range"), S.tcp, 2 ^ 31)
C("core.listen", R(2, "integer representation"), S.tcp, 1.5)
C("core.listen", R(2), S.tcp, "many")
C("core.listen", F("EOPNOTSUPP"), S.udp)

-- accept(s)
C("core.accept", R(1, "sockit.socket expected"), S.file)
C("core.accept", F("EINVAL"), S.tcp)
C("core.accept", F("EOPNOTSUPP"), S.udp)
C("core.accept", F("EAGAIN"), S.listening)

-- send(s, data [, i [, j]])
C("core.send", R(1, "sockit.socket expected"), S.file, "x")
C("core.send", R(2), S.pair, nil)
C("core.send", R(2), S.pair, {})
C("core.send", R(2), S.pair, true)
C("core.send", R(2), S.pair, S.file)
C("core.send", R(3, "integer representation"), S.pair, "abc", 1.5)
C("core.send", R(3), S.pair, "abc", "x")
C("core.send", R(4, "integer representation"), S.pair, "abc", 1, NAN)
C("core.send", BIG(3, OK(0)), S.pair, "abc", 2 ^ 53)
C("core.send", OK(0), S.pair, "abc", math.maxinteger)
C("core.send", OK(3), S.pair, "abc", math.mininteger, math.maxinteger)
C("core.send", OK(0), S.pair, "abc", 3, 2)
C("core.send", OK(0), S.pair, S.buffer)
C("core.send", F({"EPIPE", "ENOTCONN"}), S.tcp, "x")
C("core.send", F({"EDESTADDRREQ", "ENOTCONN"}), S.udp, "x")

-- recv(s, n [, "peek"])
C("core.recv", R(1, "sockit.socket expected"), S.file, 1)
C("core.recv", R(2), S.pair, nil)
C("core.recv", R(2, "at least 1"), S.pair, 0)
C("core.recv", R(2, "at least 1"), S.pair, -1)
C("core.recv", R(2, "at least 1"), S.pair, math.mininteger)
C("core.recv", R(2, "integer representation"), S.pair, 1.5)
C("core.recv", R(2, "integer representation"), S.pair, 1e300)
C("core.recv", R(2, "integer representation"), S.pair, INF)
C("core.recv", R(2, "integer representation"), S.pair, NAN)
C("core.recv", R(2), S.pair, "many")
C("core.recv", R(2), S.pair, {})
C("core.recv", R(3, "invalid option"), S.pair, 1, "peeek")
C("core.recv", R(3), S.pair, 1, true)
C("core.recv", BIG(2, F("EAGAIN")), S.pair, 2 ^ 53)
C("core.recv", F("EAGAIN"), S.pair, math.maxinteger)
C("core.recv", BIG(2, OK("data")), S.pairdata, 2 ^ 53)
C("core.recv", OK("data"), S.pairdata, math.maxinteger, "peek")
C("core.recv", F("ENOTCONN"), S.tcp, 1)

-- buffer(capacity), recv_into(s, buf [, n])
C("core.buffer", R(1), nil)
C("core.buffer", R(1, "out of range"), 0)
C("core.buffer", R(1, "out of range"), -1)
C("core.buffer", R(1, "out of range"), 2 ^ 31)
C("core.buffer", R(1, "out of range"), math.maxinteger)
C("core.buffer", R(1, "integer representation"), 1.5)
C("core.buffer", R(1), "big")
C("core.recv_into", R(1, "sockit.socket expected"), S.buffer, S.buffer)
C("core.recv_into", R(2), S.pair, nil)
C("core.recv_into", R(2), S.pair, "string")
C("core.recv_into", R(2), S.pair, S.file)
C("core.recv_into", R(3, "at least 1"), S.pair, S.buffer, 0)
C("core.recv_into", R(3, "at least 1"), S.pair, S.buffer, -1)
C("core.recv_into", R(3, "integer representation"), S.pair, S.buffer, 1.5)
C("core.recv_into", BIG(3, F("EAGAIN")), S.pair, S.buffer, 2 ^ 53)
C("core.recv_into", OK(4), S.pairdata, S.buffer, math.maxinteger)
C("buffer:tostring", R(1), S.tcp)
C("buffer:tostring", R(1), S.file)
C("buffer:tostring", R(2), S.buffer, "x")
C("buffer:tostring", R(3, "integer representation"), S.buffer, 1, 0.5)
C("buffer:tostring", OK(""), S.buffer, math.mininteger, math.maxinteger)
C("buffer:capacity", R(1), S.closed)

-- sendto(s, data, host, port) / sendto(s, data, path)
C("core.sendto", R(1, "sockit.socket expected"), S.file, "x", "127.0.0.1", 9)
C("core.sendto", R(2), S.udp, nil, "127.0.0.1", 9)
C("core.sendto", R(2), S.udp, {}, "127.0.0.1", 9)
C("core.sendto", R(3), S.udp, "x", nil, 9)
C("core.sendto", R(4), S.udp, "x", "127.0.0.1", nil)
C("core.sendto", R(4, "out of range"), S.udp, "x", "127.0.0.1", -1)
C("core.sendto", R(4, "out of range"), S.udp, "x", "127.0.0.1", 65536)
C("core.sendto", R(4, "integer representation"), S.udp, "x", "127.0.0.1", 1.5)
C("core.sendto", R(4), S.udp, "x", "127.0.0.1", "echo")
C("core.sendto", F("EAI_NONAME"), S.udp, "x", "", 9)
C("core.sendto", F("EAI_NONAME"), S.udp, "x", LONGHOST, 9)
C("core.sendto", F("EAI_NONAME"), S.udp, "x", "*", 9)
C("core.sendto", F("EAI_NONAME"), S.udp, "x", "127.0.0.1\0junk", 9)
C("core.sendto", R(3, "too long"), S.unixdgram, "x", LONGPATH)
C("core.sendto", R(3, "zero byte"), S.unixdgram, "x", "a\0b")
C("core.sendto", F("ENOENT"), S.unixdgram, "x", S.tmppath)
C("core.sendto", F("EMSGSIZE"), S.udp, ("x"):rep(70000), "127.0.0.1", 9)

-- recvfrom(s, n)
C("core.recvfrom", R(1, "sockit.socket expected"), S.file, 1)
C("core.recvfrom", R(2, "at least 1"), S.udp, 0)
C("core.recvfrom", R(2, "at least 1"), S.udp, -1)
C("core.recvfrom", R(2, "integer representation"), S.udp, 1e300)
C("core.recvfrom", R(2), S.udp, nil)
C("core.recvfrom", BIG(2, F("EAGAIN")), S.udp, 2 ^ 53)

-- sendmsg(s, data [, fds]) / recvmsg(s, n [, maxfds]) / closefd(fd)
local TOOMANYFDS = {}
for i = 1, 254 do TOOMANYFDS[i] = 0 end
C("core.sendmsg", R(1, "sockit.socket expected"), S.file, "x")
C("core.sendmsg", R(2), S.pair, nil)
C("core.sendmsg", R(3), S.pair, "x", 5)
C("core.sendmsg", R(3, "index 1"), S.pair, "x", {"0"})
C("core.sendmsg", R(3, "invalid descriptor"), S.pair, "x", {-1})
C("core.sendmsg", R(3, "invalid descriptor"), S.pair, "x", {2 ^ 31})
C("core.sendmsg", R(3, "index 2"), S.pair, "x", {0, 1.5})
C("core.sendmsg", R(3, "253"), S.pair, "x", TOOMANYFDS)
C("core.sendmsg", R(2, "at least one byte"), S.pair, "", {0})
C("core.sendmsg", F("EBADF"), S.pair, "x", {99999})
C("core.sendmsg", OK(1), S.pair, "x", {})
C("core.recvmsg", R(1, "sockit.socket expected"), S.file, 1)
C("core.recvmsg", R(2, "at least 1"), S.pair, 0)
C("core.recvmsg", R(2), S.pair, nil)
C("core.recvmsg", R(3, "out of range"), S.pair, 1, 254)
C("core.recvmsg", R(3, "out of range"), S.pair, 1, -1)
C("core.recvmsg", R(3, "integer representation"), S.pair, 1, 0.5)
C("core.recvmsg", F("EAGAIN"), S.pair, 1)
C("core.recvmsg", OK("data"), S.pairdata, 10, 0)
C("core.closefd", R(1), "x")
C("core.closefd", R(1, "invalid descriptor"), -1)
C("core.closefd", R(1, "invalid descriptor"), 2 ^ 31)
C("core.closefd", F("EBADF"), 99999)

-- sendfile(s, file, offset, count)
C("core.sendfile", R(1, "sockit.socket expected"), S.file, "/", 0, 1)
C("core.sendfile", R(2), S.pair, nil, 0, 1)
C("core.sendfile", R(2), S.pair, {}, 0, 1)
C("core.sendfile", R(2, "closed file"), S.pair, S.closedfile, 0, 1)
C("core.sendfile", R(3), S.pair, S.filepath, nil, 1)
C("core.sendfile", R(3, "negative"), S.pair, S.filepath, -1, 1)
C("core.sendfile", R(4), S.pair, S.filepath, 0, nil)
C("core.sendfile", R(4, "negative"), S.pair, S.filepath, 0, -1)
C("core.sendfile", R(4, "integer representation"), S.pair, S.file, 0, 0.5)
C("core.sendfile", F("ENOENT"), S.pair, "/nonexistent/file", 0, 1)
C("core.sendfile", F("EINVAL"), S.pair, "/", 0, 1)
C("core.sendfile", OK(0), S.pair, S.filepath, 0, 10)
C("core.sendfile", OK(0), S.pair, S.file, 0, 10)

-- sendmmsg(s, list [, host, port | path]) / recvmmsg(s, max [, size])
local TOOMANYDGRAMS = {}
for i = 1, 1025 do TOOMANYDGRAMS[i] = {"x", "127.0.0.1", 9} end
C("core.sendmmsg", R(1, "sockit.socket expected"), S.file, {{"x"}})
C("core.sendmmsg", R(2), S.udp, nil)
C("core.sendmmsg", R(2, "1 to 1024"), S.udp, {})
C("core.sendmmsg", R(2, "1 to 1024"), S.udp, TOOMANYDGRAMS)
C("core.sendmmsg", R(2, "tables"), S.udp, {{"x"}, "y"})
C("core.sendmmsg", R(2, "strings"), S.udp, {"x", {"y"}})
C("core.sendmmsg", R(2, "strings"), S.udp, {"x", 1}, "127.0.0.1", 9)
C("core.sendmmsg", R(2, "strings"), S.udp, {{"x"}}, "127.0.0.1", 9)
C("core.sendmmsg", R(3), S.udp, {"x"}, nil, 9)
C("core.sendmmsg", R(3), S.udp, {"x"}, {}, 9)
C("core.sendmmsg", R(4), S.udp, {"x"}, "127.0.0.1")
C("core.sendmmsg", R(4, "port out of range"), S.udp, {"x"}, "127.0.0.1", 65536)
C("core.sendmmsg", R(3, "path"), S.unixdgram, {"x"}, LONGPATH)
C("core.sendmmsg", F("EAI_NONAME"), S.udp, {"x"}, "localhost", 9)
C("core.sendmmsg", F({"EDESTADDRREQ", "ENOTCONN"}), S.udp, {"x", "y"})
C("core.sendmmsg", F("ENOENT"), S.unixdgram, {"x"}, S.tmppath)
C("core.sendmmsg", OK(2), S.udp, {"x", "y"}, "127.0.0.1", 9)
C("core.sendmmsg", R(2, "data"), S.udp, {{1}})
C("core.sendmmsg", R(2, "host"), S.udp, {{"x", 1, 9}})
C("core.sendmmsg", R(2, "port"), S.udp, {{"x", "127.0.0.1"}})
C("core.sendmmsg", R(2, "port"), S.udp, {{"x", "127.0.0.1", 65536}})
C("core.sendmmsg", R(2, "port"), S.udp, {{"x", "127.0.0.1", "echo"}})
C("core.sendmmsg", R(2, "path"), S.unixdgram, {{"x", LONGPATH}})
C("core.sendmmsg", R(2, "path"), S.unixdgram, {{"x", "a\0b"}})
C("core.sendmmsg", F("EAI_NONAME"), S.udp, {{"x", "", 9}})
C("core.sendmmsg", F("EAI_NONAME"), S.udp, {{"x", "127.0.0.1", 9}, {"x", "*", 9}})
C("core.sendmmsg", F({"EDESTADDRREQ", "ENOTCONN"}), S.udp, {{"x"}})
C("core.sendmmsg", F("EMSGSIZE"), S.udp, {{("x"):rep(70000), "127.0.0.1", 9}})
C("core.sendmmsg", F("ENOENT"), S.unixdgram, {{"x", S.tmppath}})
C("core.recvmmsg", R(1, "sockit.socket expected"), S.file, 1)
C("core.recvmmsg", R(2), S.udp, nil)
C("core.recvmmsg", R(2, "out of range"), S.udp, 0)
C("core.recvmmsg", R(2, "out of range"), S.udp, 1025)
C("core.recvmmsg", R(3, "out of range"), S.udp, 1, 0)
C("core.recvmmsg", R(3, "out of range"), S.udp, 1, 65537)
C("core.recvmmsg", F("EAGAIN"), S.udp, 4)
C("core.recvmmsg", R(2), S.udp, S.buffer)
C("core.recvmmsg", F("EAGAIN"), S.udp, S.batch)

-- batch(max [, size]), batch:get(i), batch:peer(i), batch:len(i)
C("core.batch", R(1), nil)
C("core.batch", R(1, "out of range"), 0)
C("core.batch", R(1, "out of range"), 1025)
C("core.batch", R(2, "out of range"), 1, 0)
C("core.batch", R(2, "out of range"), 1, 65537)
C("core.batch", R(2, "integer representation"), 1, 0.5)
C("batch:get", R(1), S.buffer, 1)
C("batch:get", R(2), S.batch, nil)
C("batch:get", R(2, "no datagram"), S.batch, 1)
C("batch:get", R(2, "no datagram"), S.batch, 0)
C("batch:peer", R(1), S.tcp, 1)
C("batch:peer", R(2, "no datagram"), S.batch, 1)
C("batch:len", R(1), S.file, 1)
C("batch:len", R(2, "no datagram"), S.batch, -1)

-- shutdown(s [, how])
C("core.shutdown", R(1, "sockit.socket expected"), S.file)
C("core.shutdown", R(2, "invalid option"), S.pair, "x")
C("core.shutdown", R(2), S.pair, 1)
C("core.shutdown", F("ENOTCONN"), S.tcp)

-- wait(s, "r"/"w"/"rw" [, timeout])
C("core.wait", R(1, "sockit.socket expected"), S.file, "r")
C("core.wait", R(2), S.pair, nil)
C("core.wait", R(2, "invalid option"), S.pair, "x")
C("core.wait", R(3), S.pair, "r", "soon")
C("core.wait", R(3), S.pair, "r", {})
C("core.wait", R(3, "NaN"), S.pairdata, "r", NAN)
C("core.wait", F("EAGAIN"), S.pair, "r", 0)

-- getsockname(s), getpeername(s)
C("core.getsockname", R(1, "sockit.socket expected"), S.file)
C("core.getpeername", R(1, "sockit.socket expected"), S.file)
C("core.getpeername", F("ENOTCONN"), S.tcp)

-- setoption(s, name, value), getoption(s, name)
C("core.setoption", R(1, "sockit.socket expected"), S.file, "reuseaddr", true)
C("core.setoption", R(2), S.tcp, nil, true)
C("core.setoption", R(2, "invalid option"), S.tcp, "nosuch", true)
C("core.setoption", R(2, "invalid option"), S.tcp, "SO_REUSEADDR", true)
C("core.setoption", R(2), S.tcp, 1, true)
C("core.setoption", R(2, "read-only"), S.tcp, "error", false)
C("core.setoption", R(2, "read-only"), S.tcp, "type", "stream")
C("core.setoption", R(2, "read-only"), S.unix, "peercred", {})
C("core.setoption", R(3), S.tcp, "reuseaddr", nil)
C("core.setoption", R(3), S.tcp, "reuseaddr", 1)
C("core.setoption", R(3), S.tcp, "reuseaddr", "yes")
C("core.setoption", R(3), S.tcp, "rcvbuf", true)
C("core.setoption", R(3), S.tcp, "rcvbuf", "big")
C("core.setoption", R(3, "integer representation"), S.tcp, "rcvbuf", 1.5)
C("core.setoption", R(3, "out of range"), S.tcp, "rcvbuf", 2 ^ 31)
C("core.setoption", R(3, "out of range"), S.tcp, "sndbuf", math.mininteger)
C("core.setoption", R(3), S.tcp, "linger", true)
C("core.setoption", R(3), S.tcp, "linger", "5")
C("core.setoption", R(3, "integer representation"), S.tcp, "linger", 0.5)
C("core.setoption", R(3), S.tcp, "linger", -1)
C("core.setoption", R(3), S.udp, "add_membership", "239.1.2.3")
C("core.setoption", R(3, "group"), S.udp, "add_membership", {})
C("core.setoption", R(3, "group"), S.udp, "add_membership", {group = 1})
C("core.setoption", R(3, "interface"), S.udp, "add_membership",
  {group = "239.1.2.3", interface = 1.5})
C("core.setoption", R(3, "interface"), S.udp, "add_membership",
  {group = "239.1.2.3", interface = true})
C("core.setoption", F("EAI_NONAME"), S.udp, "add_membership",
  {group = "not-a-group", interface = "127.0.0.1"})
C("core.setoption", F("EAI_NONAME"), S.udp, "add_membership",
  {group = "239.1.2.3", interface = "lo"})
C("core.setoption", F({"EINVAL", "EADDRNOTAVAIL"}), S.udp, "drop_membership",
  {group = "127.0.0.1", interface = "127.0.0.1"})
C("core.setoption", F("ENODEV"), S.udp6, "add_membership",
  {group = "ff02::1:3", interface = "no-such-if0"})
C("core.setoption", F("EINVAL"), S.tcp, "ttl", 256)
C("core.setoption", F("EINVAL"), S.tcp, "ttl", 0)
C("core.setoption", F("EINVAL"), S.tcp, "keepidle", 0)
C("core.setoption", F("EINVAL"), S.tcp, "keepcnt", -5)
C("core.setoption", F("ENOPROTOOPT"), S.tcp, "ipv6only", true)
C("core.setoption", F("EOPNOTSUPP"), S.unix, "nodelay", true)
C("core.getoption", R(1, "sockit.socket expected"), S.file, "type")
C("core.getoption", R(2), S.tcp, nil)
C("core.getoption", R(2, "invalid option"), S.tcp, "nosuch")
C("core.getoption", R(2, "write-only"), S.udp, "add_membership")
C("core.getoption", R(2, "write-only"), S.udp, "drop_membership")
C("core.getoption", F({"ENOPROTOOPT", "EOPNOTSUPP"}), S.tcp, "ipv6only")
C("core.getoption", F("EOPNOTSUPP"), S.unix, "keepidle")

-- settimeout(s, t), gettimeout(s)
C("core.settimeout", R(1, "sockit.socket expected"), S.file, 1)
C("core.settimeout", R(2), S.tcp, "soon")
C("core.settimeout", R(2), S.tcp, {})
C("core.settimeout", R(2, "NaN"), S.tcp, NAN)
C("core.gettimeout", R(1, "sockit.socket expected"), S.file)

-- fileno, detach, close on foreign values
C("core.fileno", R(1, "sockit.socket expected"), S.file)
C("core.fileno", R(1), nil)
C("core.fileno", OK(-1), S.closed)
C("core.detach", R(1, "sockit.socket expected"), S.file)
C("core.close", R(1, "sockit.socket expected"), S.file)
C("core.close", R(1), nil)
C("core.close", OK(true), S.closed)

-- every call on a closed handle raises about the handle, argument #1,
-- before looking at the others (which are wrong here on purpose)
C("core.connect", R(1, "closed socket"), S.closed, nil, -1)
C("core.bind", R(1, "closed socket"), S.closed, nil, -1)
C("core.listen", R(1, "closed socket"), S.closed, -1)
C("core.accept", R(1, "closed socket"), S.closed)
C("core.send", R(1, "closed socket"), S.closed, nil)
C("core.recv", R(1, "closed socket"), S.closed, -1)
C("core.recv_into", R(1, "closed socket"), S.closed, nil)
C("core.sendto", R(1, "closed socket"), S.closed, nil, nil)
C("core.recvfrom", R(1, "closed socket"), S.closed, -1)
C("core.wait", R(1, "closed socket"), S.closed, "bogus")
C("core.getsockname", R(1, "closed socket"), S.closed)
C("core.getpeername", R(1, "closed socket"), S.closed)
C("core.setoption", R(1, "closed socket"), S.closed, "nosuch", nil)
C("core.getoption", R(1, "closed socket"), S.closed, "nosuch")
C("core.settimeout", R(1, "closed socket"), S.closed, NAN)
C("core.gettimeout", R(1, "closed socket"), S.closed)
C("core.shutdown", R(1, "closed socket"), S.closed, "bogus")
C("core.detach", R(1, "closed socket"), S.closed)
C("core.sendmsg", R(1, "closed socket"), S.closed, "x", {})
C("core.recvmsg", R(1, "closed socket"), S.closed, 1)
C("core.sendfile", R(1, "closed socket"), S.closed, "/", 0, 1)
C("core.sendmmsg", R(1, "closed socket"), S.closed, {})
C("core.recvmmsg", R(1, "closed socket"), S.closed, 1)

-- getaddrinfo(host, service [, hints]): numeric hosts only
C("core.getaddrinfo", R(1), {}, 9, {numeric = true})
C("core.getaddrinfo", R(2, "out of range"), "127.0.0.1", -1, {numeric = true})
C("core.getaddrinfo", R(2, "out of range"), "127.0.0.1", 65536, {numeric = true})
C("core.getaddrinfo", R(2, "integer representation"), "127.0.0.1", 1.5, {numeric = true})
C("core.getaddrinfo", R(2), "127.0.0.1", {}, {numeric = true})
C("core.getaddrinfo", R(3), "127.0.0.1", 9, "numeric")
C("core.getaddrinfo", R(3, "unknown field"), "127.0.0.1", 9, {numeric = true, bogus = 1})
C("core.getaddrinfo", R(3, "unknown field"), "127.0.0.1", 9, {numeric = true, true})
C("core.getaddrinfo", R(3, "boolean"), "127.0.0.1", 9, {numeric = "yes"})
C("core.getaddrinfo", R(3, "bogus"), "127.0.0.1", 9, {numeric = true, family = "bogus"})
C("core.getaddrinfo", R(3, "raw"), "127.0.0.1", 9, {numeric = true, type = "raw"})
C("core.getaddrinfo", R(3), "127.0.0.1", 9, {numeric = true, family = 2})
C("core.getaddrinfo", F("EAI_NONAME"), "", 9, {numeric = true})
C("core.getaddrinfo", F("EAI_NONAME"), LONGHOST, 9, {numeric = true})
C("core.getaddrinfo", F("EAI_NONAME"), "localhost", 9, {numeric = true})
C("core.getaddrinfo", F("EAI_NONAME"), nil, nil, {numeric = true})
C("core.getaddrinfo", F("EAI_NONAME"), "127.0.0.1\0junk", 9, {numeric = true})
C("core.getaddrinfo", F("EAI_SERVICE"), "127.0.0.1", "9\0junk",
  {numeric = true, type = "stream"})
C("core.getaddrinfo", F("EAI_SERVICE"), "127.0.0.1", "no-such-service",
  {numeric = true, type = "stream"})
C("core.getaddrinfo", F("EAI_SERVICE"), "127.0.0.1", LONGHOST,
  {numeric = true, type = "stream"})
C("core.getaddrinfo", F({"EAI_ADDRFAMILY", "EAI_NONAME", "EAI_FAMILY"}), "::1", 9,
  {numeric = true, family = "inet"})

-- getnameinfo(host, port [, flags]): numeric answers only
C("core.getnameinfo", R(1), nil, 9, {numerichost = true})
C("core.getnameinfo", R(2, "out of range"), "127.0.0.1", 65536, {numerichost = true})
C("core.getnameinfo", R(2, "out of range"), "127.0.0.1", -1, {numerichost = true})
C("core.getnameinfo", R(2), "127.0.0.1", "http", {numerichost = true})
C("core.getnameinfo", R(3), "127.0.0.1", 9, 5)
C("core.getnameinfo", R(3, "unknown field"), "127.0.0.1", 9, {numerichost = true, x = 1})
C("core.getnameinfo", R(3, "boolean"), "127.0.0.1", 9, {numerichost = 1})
C("core.getnameinfo", F("EAI_NONAME"), "", 9, {numerichost = true})
C("core.getnameinfo", F("EAI_NONAME"), LONGHOST, 9, {numerichost = true})
C("core.getnameinfo", F("EAI_NONAME"), "*", 9, {numerichost = true})
C("core.getnameinfo", F("EAI_NONAME"), "127.0.0.1\0junk", 9, {numerichost = true})

-- the other name functions (no case that would query a resolver)
C("core.gethostbyname", R(1), nil)
C("core.gethostbyname", R(1), {})
C("core.getservbyname", R(1), nil)
C("core.getservbyname", R(2, "invalid option"), "smtp", "sctp")
C("core.getservbyname", R(2), "smtp", 6)
C("core.getservbyname", F("EAI_SERVICE"), "no-such-service")
C("core.getservbyname", F("EAI_SERVICE"), LONGHOST, "udp")
C("core.getservbyname", F("EAI_SERVICE"), "smtp\0junk")
C("core.strerror", R(1), nil)
C("core.strerror", R(1), {})
C("core.strerror", R(1, "unknown error code"), "EBOGUS")
C("core.strerror", R(1, "unknown error code"), "")
C("core.strerror", R(1, "unknown error code"), "EPIPE\0junk")
C("core.strerror", R(1, "integer representation"), 1.5)
C("core.strerror", R(1, "out of range"), 2 ^ 32)
C("core.sleep", R(1), nil)
C("core.sleep", R(1, "out of range"), -1)
C("core.sleep", R(1, "out of range"), NAN)
C("core.sleep", R(1, "out of range"), INF)
C("core.sleep", R(1), "later")

-- resolve(host, service [, hints]) and its requests
C("core.resolve", R(1), {}, 9, {numeric = true})
C("core.resolve", R(2, "out of range"), "127.0.0.1", -1, {numeric = true})
C("core.resolve", R(3, "unknown field"), "127.0.0.1", 9, {numeric = true, x = 1})
C("core.resolve", R(3), "127.0.0.1", 9, true)
C("request:result", R(1), S.tcp)
C("request:result", R(1), S.file)
C("request:result", F("ECANCELED"), S.cancelled)
C("request:fileno", OK(-1), S.cancelled)
C("request:cancel", R(1), S.buffer)

-- the poller
C("poller:add", R(1), S.tcp, S.tcp, "r")
C("poller:add", R(1), S.file, S.tcp, "r")
C("poller:add", R(1, "closed poller"), S.closedpoller, S.tcp, "r")
C("poller:add", R(2), S.poller, nil, "r")
C("poller:add", R(2), S.poller, S.file, "r")
C("poller:add", R(2), S.poller, S.buffer, "r")
C("poller:add", R(2, "closed"), S.poller, S.closed, "r")
C("poller:add", R(3), S.poller, S.tcp, nil)
C("poller:add", R(3, "invalid option"), S.poller, S.tcp, "x")
C("poller:add", R(2, "invalid descriptor"), S.poller, -1, "r")
C("poller:add", R(2, "invalid descriptor"), S.poller, 2 ^ 31, "r")
C("poller:add", R(2, "integer representation"), S.poller, 1.5, "r")
C("poller:add", R(2), S.poller, "0", "r")
C("poller:add", F("EBADF"), S.poller, 1000000, "r")
C("poller:modify", R(3, "invalid option"), S.poller, S.tcp, "x")
C("poller:modify", F("ENOENT"), S.poller, 0, "r")
C("poller:remove", F("ENOENT"), S.poller, 0)
C("poller:modify", F("ENOENT"), S.poller, S.tcp, "r")
C("poller:remove", F("ENOENT"), S.poller, S.tcp)
C("poller:remove", R(1, "closed poller"), S.closedpoller, S.tcp)
C("poller:wait", R(2), S.poller, "soon")
C("poller:wait", R(2, "NaN"), S.readypoller, NAN)
C("poller:wait", R(1, "closed poller"), S.closedpoller, 0)
C("poller:ready", R(2, "out of range"), S.poller, 1)
C("poller:ready", R(2, "out of range"), S.poller, 0)
C("poller:ready", R(2, "integer representation"), S.poller, 1.5)
C("poller:ready", R(1, "closed poller"), S.closedpoller, 1)
C("poller:close", R(1), S.tcp)
C("poller:close", OK(true), S.closedpoller)

---------------------------------------------------------------- sockit

-- sockit.connect(host, port [, opts]): numeric hosts only
C("sockit.connect", R(1), nil, 9)
C("sockit.connect", R(1), 127, 9)
C("sockit.connect", R(2), "127.0.0.1", nil)
C("sockit.connect", R(2, "out of range"), "127.0.0.1", -1)
C("sockit.connect", R(2, "out of range"), "127.0.0.1", 65536)
C("sockit.connect", R(2), "127.0.0.1", 1.5)
C("sockit.connect", R(2), "127.0.0.1", {})
C("sockit.connect", R(3), "127.0.0.1", 9, "fast")
C("sockit.connect", R(3, "timeout"), "127.0.0.1", 9, {timeout = 0})
C("sockit.connect", R(3, "timeout"), "127.0.0.1", 9, {timeout = "soon"})
C("sockit.connect", R(3, "timeout"), "127.0.0.1", 9, {timeout = NAN})
C("sockit.connect", R(3, "family"), "127.0.0.1", 9, {family = "unix"})
C("sockit.connect", R(3, "family"), "127.0.0.1", 9, {family = 4})
C("sockit.connect", R(3, "nodelay"), "127.0.0.1", 9, {nodelay = 1})
C("sockit.connect", R(3, "bind"), "127.0.0.1", 9, {bind = "127.0.0.1"})
C("sockit.connect", R(3, "bind"), "127.0.0.1", 9, {bind = {"127.0.0.1", 65536}})
C("sockit.connect", R(3, "maxline"), "127.0.0.1", 9, {maxline = 0})
C("sockit.connect", R(3, "maxline"), "127.0.0.1", 9, {maxline = 1.5})
C("sockit.connect", R(3, "unknown option 'timout'"), "127.0.0.1", 9, {timout = 5})
C("sockit.connect", R(3, "unknown option 'unlink'"), "127.0.0.1", 9, {unlink = true})
C("sockit.connect", R(3, "unknown option '1'"), "127.0.0.1", 9, {5})
C("sockit.connect", R(3, "bind"), "127.0.0.1", 9, {bind = {"127.0.0.1", 0.5}})
C("sockit.connect", F("ECONNREFUSED"), "127.0.0.1", S.freeport)
C("sockit.connect", F("ECONNREFUSED"), "::1", S.freeport6, {timeout = 5})
C("sockit.connect", F("EAI_SERVICE"), "127.0.0.1", "no-such-service")
C("sockit.connect", F("EAI_NONAME"), "127.0.0.1\0junk", S.freeport, {timeout = 5})

-- sockit.listen(host, port [, opts])
C("sockit.listen", R(1), nil, 0)
C("sockit.listen", R(2, "out of range"), "127.0.0.1", 65536)
C("sockit.listen", R(2), "127.0.0.1", 0.5)
C("sockit.listen", R(3), "127.0.0.1", 0, 1)
C("sockit.listen", R(3, "backlog"), "127.0.0.1", 0, {backlog = -1})
C("sockit.listen", R(3, "backlog"), "127.0.0.1", 0, {backlog = 1.5})
C("sockit.listen", R(3, "reuseaddr"), "127.0.0.1", 0, {reuseaddr = "yes"})
C("sockit.listen", R(3, "family"), "127.0.0.1", 0, {family = "ipx"})
C("sockit.listen", R(3, "maxline"), "127.0.0.1", 0, {maxline = -1})
C("sockit.listen", R(3, "unknown option 'backlg'"), "127.0.0.1", 0, {backlg = 5})
C("sockit.listen", R(3, "unknown option 'unlink'"), "127.0.0.1", 0, {unlink = true})
C("sockit.listen", OK(function(srv) assert.equal("integer", math.type(srv.maxline))
  end), "127.0.0.1", 0.0, {backlog = 2 ^ 7, maxline = 2 ^ 10})
C("sockit.listen", F("EADDRINUSE"), "127.0.0.1", S.usedport, {reuseaddr = false})
C("sockit.listen", F("EAI_SERVICE"), "*", "no-such-service")

-- sockit.connect_unix(path [, opts]), sockit.listen_unix(path [, opts])
C("sockit.connect_unix", R(1), nil)
C("sockit.connect_unix", R(1), 42)
C("sockit.connect_unix", R(1, "too long"), LONGPATH)
C("sockit.connect_unix", R(1, "zero byte"), "/tmp/a\0b")
C("sockit.connect_unix", R(2), S.tmppath, "fast")
C("sockit.connect_unix", R(2, "timeout"), S.tmppath, {timeout = 0})
C("sockit.connect_unix", R(2, "unknown option 'family'"), S.tmppath, {family = "inet"})
C("sockit.connect_unix", F("ENOENT"), S.tmppath)
C("sockit.connect_unix", F("ECONNREFUSED"), S.filepath)
C("sockit.listen_unix", R(1), nil)
C("sockit.listen_unix", R(1, "too long"), LONGPATH)
C("sockit.listen_unix", R(1, "zero byte"), "a\0b")
C("sockit.listen_unix", R(2), S.tmppath, "now")
C("sockit.listen_unix", R(2, "unlink"), S.tmppath, {unlink = "yes"})
C("sockit.listen_unix", R(2, "backlog"), S.tmppath, {backlog = -1})
C("sockit.listen_unix", R(2, "unknown option 'nodelay'"), S.tmppath, {nodelay = true})
C("sockit.listen_unix", R(2, "unknown option 'unlnk'"), S.tmppath, {unlnk = true})
C("sockit.listen_unix", F("EADDRINUSE"), S.filepath)
C("sockit.listen_unix", F("ENOENT"), "/nonexistent-dir-of-sockit/sock")

-- sockit.udp([opts])
C("sockit.udp", R(1), "udp")
C("sockit.udp", R(1, "bind"), {bind = "127.0.0.1"})
C("sockit.udp", R(1, "bind"), {bind = {"127.0.0.1", -1}})
C("sockit.udp", R(1, "connect"), {connect = {"127.0.0.1"}})
C("sockit.udp", R(1, "connect"), {connect = {nil, 9}})
C("sockit.udp", R(1, "family"), {family = "unix"})
C("sockit.udp", R(1, "unknown option 'timeout'"), {timeout = 1})
C("sockit.udp", R(1, "unknown option 'bnd'"), {bnd = {"127.0.0.1", 0}})
C("sockit.udp", R(1, "connect"), {connect = {"127.0.0.1", 1.5}})
C("sockit.udp", OK(function(u) assert.equal("sockit.udp",
  getmetatable(u).__name) end), {bind = {"127.0.0.1", 0.0}})
C("sockit.udp", F("EADDRINUSE"), {bind = {"127.0.0.1", S.usedudpport}})

-- sockit.stream(sock [, opts])
C("sockit.readfd", R(1), nil, 1)
C("sockit.readfd", R(1), "0", 1)
C("sockit.readfd", R(1, "out of range"), -1, 1)
C("sockit.readfd", R(1, "integer representation"), 1.5, 1)
C("sockit.readfd", R(2, "out of range"), 0, 0)
C("sockit.readfd", R(2), 0, nil)
C("sockit.readfd", R(3), 0, 1, "soon")
C("sockit.readfd", R(3, "NaN"), 0, 1, NAN)
C("sockit.readfd", F("EBADF"), 1000000, 1, 0)
C("sockit.stream", R(1), nil)
C("sockit.stream", R(1), S.file)
C("sockit.stream", R(1), S.buffer)
C("sockit.stream", R(1, "closed socket"), S.closed)
C("sockit.stream", R(2), S.pair, "opts")
C("sockit.stream", R(2, "timeout"), S.pair, {timeout = "soon"})
C("sockit.stream", R(2, "maxline"), S.pair, {maxline = 0})
C("sockit.stream", R(2, "unknown option 'nodelay'"), S.pair, {nodelay = true})
C("sockit.stream", R(2, "unknown option 'maxlen'"), S.pair, {maxlen = 10})

-- the scheduler (no case here leaves a task or a server behind)
C("sockit.spawn", R(1), nil)
C("sockit.spawn", R(1), 42)
C("sockit.spawn", R(1), {})
C("sockit.sleep", R(1), nil)
C("sockit.sleep", R(1), "soon")
C("sockit.sleep", R(1, "NaN"), NAN)
C("sockit.sleep", OK(true), -1)
C("sockit.run", R(1), "onerror")
C("sockit.run", R(1), 42)
C("sockit.serve", R(1), nil, 0, print)
C("sockit.serve", R(2, "out of range"), "127.0.0.1", -1, print)
C("sockit.serve", R(2), "127.0.0.1", 1.5, print)
C("sockit.serve", R(3), "127.0.0.1", 0, nil)
C("sockit.serve", R(3), "127.0.0.1", 0, "handler")
C("sockit.serve", R(4), "127.0.0.1", 0, print, "opts")
C("sockit.serve", R(4, "backlog"), "127.0.0.1", 0, print, {backlog = -1})
C("sockit.serve", R(4, "unknown option 'timout'"), "127.0.0.1", 0, print, {timout = 1})
C("sockit.serve", F("EADDRINUSE"), "127.0.0.1", S.usedport, print, {reuseaddr = false})

-- Stream methods: arguments count from the one after self
C("stream:read", R(1, "invalid format"), S.stream, "x")
C("stream:read", R(1, "invalid format"), S.stream, "")
C("stream:read", R(1, "negative"), S.stream, -1)
C("stream:read", R(1, "integer representation"), S.stream, 1.5)
C("stream:read", R(1, "integer representation"), S.stream, NAN)
C("stream:read", R(1), S.stream, {})
C("stream:read", R(1), S.stream, true)
C("stream:read", R(2, "invalid format"), S.stream, "l", "x")
C("stream:read", R(3), S.stream, "l", 1, nil)
C("stream:read", BIG(1, F("EAGAIN")), S.stream, 2 ^ 53)
C("stream:read", F("EAGAIN"), S.stream, math.maxinteger)
C("stream:read", BIG(1, OK("data")), S.streamdata, 2 ^ 53)
C("stream:read", OK("data"), S.streamdata, math.maxinteger)
C("stream:unread", R(1), S.stream, nil)
C("stream:unread", R(1), S.stream, 1)
C("stream:unread", R(false, "closed stream"), S.closedstream, "x")
C("stream:read_some", R(1), S.stream, nil)
C("stream:read_some", R(1, "out of range"), S.stream, 0)
C("stream:read_some", R(1, "integer representation"), S.stream, 1.5)
C("stream:read_some", OK("data"), S.streamdata, math.maxinteger)
C("stream:read_some", OK("da"), S.streamdata, 2.0)
C("stream:read_some", OK("data"), S.streamdata, 2 ^ 10)
C("stream:read_some", R(1, "integer representation"), S.stream, 2 ^ 63)
C("stream:read_some", R(1), S.stream, "2")
C("stream:lines", R(1, "invalid format"), S.stream, "x")
C("stream:lines", R(2, "negative"), S.stream, "l", -1)
C("stream:write", R(1), S.stream, {})
C("stream:write", R(1), S.stream, nil)
C("stream:write", R(2), S.stream, "a", true)
C("stream:write", R(3), S.stream, "a", 1, S.file)
C("stream:settimeout", R(1), S.stream, "soon")
C("stream:settimeout", R(1, "NaN"), S.stream, NAN)
C("stream:setmaxline", R(1, "out of range"), S.stream, 0)
C("stream:setmaxline", R(1, "integer representation"), S.stream, 1.5)
C("stream:setmaxline", R(1), S.stream, nil)
C("stream:setmaxline", OK(function(st) assert.equal("integer",
  math.type(st.maxline)) end), S.stream, 2 ^ 20)
C("stream:gettimeout", OK(0), S.stream)
C("stream:setoption", R(1), S.stream, nil, true)
C("stream:setoption", R(1, "invalid option"), S.stream, "nosuch", true)
C("stream:setoption", R(2), S.stream, "keepalive", "yes")
C("stream:setoption", R(1, "read-only"), S.stream, "type", "stream")
C("stream:setoption", F({"EOPNOTSUPP", "ENOPROTOOPT"}), S.stream, "nodelay", true)
C("stream:getoption", R(1), S.stream, 1)
C("stream:getoption", R(1, "invalid option"), S.stream, "nosuch")
C("stream:shutdown", R(1, "invalid option"), S.stream, "x")
C("stream:shutdown", R(1, "invalid option"), S.stream, 1)
C("stream:read", R(false, "closed stream"), S.closedstream, "l")
C("stream:read_some", R(false, "closed stream"), S.closedstream, 1)
C("stream:lines", R(false, "closed stream"), S.closedstream)
C("stream:write", R(false, "closed stream"), S.closedstream, "x")
C("stream:shutdown", R(false, "closed stream"), S.closedstream)
C("stream:settimeout", R(false, "closed stream"), S.closedstream, 1)
C("stream:setmaxline", R(false, "closed stream"), S.closedstream, 10)
C("stream:peer", R(false, "closed stream"), S.closedstream)
C("stream:sockname", R(false, "closed stream"), S.closedstream)
C("stream:gettimeout", R(false, "closed stream"), S.closedstream)
C("stream:setoption", R(false, "closed stream"), S.closedstream, "nosuch", nil)
C("stream:getoption", R(false, "closed stream"), S.closedstream, "nosuch")
C("stream:getoption", R(false, "bad self"), S.server, "type")
C("stream:close", OK(true), S.closedstream)
C("stream:read", R(false, "bad self"), S.file, "l")
C("stream:read", R(false, "bad self"), S.tcp, "l")
C("stream:read", R(false, "bad self"), nil, "l")
C("stream:write", R(false, "bad self"), S.file, "x")
C("stream:close", R(false, "bad self"), S.file)
C("stream:lines", R(false, "bad self"), S.server)
C("stream:sendfds", R(1), S.stream, nil, {})
C("stream:sendfds", R(1, "empty"), S.stream, "", {})
C("stream:sendfds", R(2), S.stream, "x", nil)
C("stream:sendfds", R(2, "index 1"), S.stream, "x", {"0"})
C("stream:sendfds", R(2, "253"), S.stream, "x", TOOMANYFDS)
C("stream:sendfds", F0("EBADF"), S.stream, "x", {99999})
C("stream:sendfds", R(false, "closed stream"), S.closedstream, "x", {})
C("stream:sendfds", R(false, "bad self"), S.file, "x", {})
C("stream:recvfds", R(1), S.stream, nil)
C("stream:recvfds", R(1, "out of range"), S.stream, 0)
C("stream:recvfds", R(2, "out of range"), S.stream, 1, 254)
C("stream:recvfds", R(2, "integer representation"), S.stream, 1, 0.5)
C("stream:recvfds", F("EAGAIN"), S.stream, 1)
C("stream:recvfds", OK("data"), S.streamdata, 10)
C("stream:recvfds", R(false, "closed stream"), S.closedstream, 1)
C("stream:sendfile", R(1), S.stream, nil)
C("stream:sendfile", R(1), S.stream, 5)
C("stream:sendfile", R(1, "closed file"), S.stream, S.closedfile)
C("stream:sendfile", R(2, "out of range"), S.stream, S.filepath, -1)
C("stream:sendfile", R(2, "integer representation"), S.stream, S.filepath, 0.5)
C("stream:sendfile", R(3, "out of range"), S.stream, S.filepath, 0, -1)
C("stream:sendfile", F("ENOENT"), S.stream, "/nonexistent/file")
C("stream:sendfile", F0("EINVAL"), S.stream, "/")
C("stream:sendfile", OK(0), S.stream, S.filepath)
C("stream:sendfile", R(false, "closed stream"), S.closedstream, "/")

-- Server methods
C("server:settimeout", R(1), S.server, "soon")
C("server:settimeout", R(1, "NaN"), S.server, NAN)
C("server:accept", F("EAGAIN"), S.server)
C("server:accept", R(false, "closed server"), S.closedserver)
C("server:address", R(false, "closed server"), S.closedserver)
C("server:settimeout", R(false, "closed server"), S.closedserver, 1)
C("server:close", OK(true), S.closedserver)
C("server:gettimeout", OK(0), S.server)
C("server:setoption", R(1, "invalid option"), S.server, "nosuch", 1)
C("server:setoption", R(2), S.server, "rcvbuf", "big")
C("server:getoption", R(1), S.server, nil)
C("server:gettimeout", R(false, "closed server"), S.closedserver)
C("server:setoption", R(false, "closed server"), S.closedserver, "reuseaddr", true)
C("server:getoption", R(false, "closed server"), S.closedserver, "type")
C("server:getoption", R(false, "bad self"), S.udpobj, "type")
C("server:accept", R(false, "bad self"), S.file)
C("server:accept", R(false, "bad self"), S.stream)
C("server:close", R(false, "bad self"), S.listening)

-- UDP methods
C("udp:sendto", R(1), S.udpobj, nil, "127.0.0.1", 9)
C("udp:sendto", R(1), S.udpobj, {}, "127.0.0.1", 9)
C("udp:sendto", R(2), S.udpobj, "x", nil, 9)
C("udp:sendto", R(3, "out of range"), S.udpobj, "x", "127.0.0.1", -1)
C("udp:sendto", R(3, "out of range"), S.udpobj, "x", "127.0.0.1", 65536)
C("udp:sendto", R(3), S.udpobj, "x", "127.0.0.1", 1.5)
C("udp:sendto", F("EAI_SERVICE"), S.udpobj, "x", "127.0.0.1", "no-such-service")
C("udp:sendto", F("EMSGSIZE"), S.udpobj, ("x"):rep(70000), "127.0.0.1", 9)
C("udp:recvfrom", R(1, "out of range"), S.udpobj, 0)
C("udp:recvfrom", R(1, "integer representation"), S.udpobj, 1.5)
C("udp:recvfrom", F("EAGAIN"), S.udpobj, math.maxinteger)
C("udp:recv", R(1, "out of range"), S.udpobj, -1)
C("udp:send", R(1), S.udpobj, nil)
C("udp:send", F({"EDESTADDRREQ", "ENOTCONN"}), S.udpobj, "x")
C("udp:settimeout", R(1, "NaN"), S.udpobj, NAN)
C("udp:gettimeout", OK(0), S.udpobj)
C("udp:setoption", R(1, "invalid option"), S.udpobj, "nosuch", 1)
C("udp:setoption", R(2), S.udpobj, "broadcast", 1)
C("udp:setoption", F({"ENOPROTOOPT", "EOPNOTSUPP"}), S.udpobj, "nodelay", true)
C("udp:getoption", R(1), S.udpobj, {})
C("udp:recvfrom", F("EAGAIN"), S.udpobj, 2 ^ 10)
C("udp:sendto", OK(1), S.udpobj, "x", "127.0.0.1", 9.0)
C("udp:gettimeout", R(false, "closed socket"), S.closedudp)
C("udp:setoption", R(false, "closed socket"), S.closedudp, "broadcast", true)
C("udp:getoption", R(false, "closed socket"), S.closedudp, "type")
C("udp:sendto", R(false, "closed socket"), S.closedudp, "x", "127.0.0.1", 9)
C("udp:recvfrom", R(false, "closed socket"), S.closedudp)
C("udp:send", R(false, "closed socket"), S.closedudp, "x")
C("udp:recv", R(false, "closed socket"), S.closedudp)
C("udp:sockname", R(false, "closed socket"), S.closedudp)
C("udp:peer", R(false, "closed socket"), S.closedudp)
C("udp:close", OK(true), S.closedudp)
C("udp:sendto", R(false, "bad self"), S.file, "x", "127.0.0.1", 9)
C("udp:recvfrom", R(false, "bad self"), S.stream)
C("udp:sendmany", R(1), S.udpobj, nil)
C("udp:sendmany", R(1, "1 to 1024"), S.udpobj, {})
C("udp:sendmany", R(1, "port"), S.udpobj, {{"x", "127.0.0.1", -1}})
C("udp:sendmany", F("EAI_NONAME"), S.udpobj, {{"x", "", 9}})
C("udp:sendmany", OK(2), S.udpobj, {{"x", "127.0.0.1", 9}, {"y", "127.0.0.1", 9}})
C("udp:sendmany", R(false, "closed socket"), S.closedudp, {{"x"}})
C("udp:sendmany", R(1, "strings"), S.udpobj, {"x", {"y"}}, "127.0.0.1", 9)
C("udp:sendmany", R(1, "tables"), S.udpobj, {{"x"}, "y"})
C("udp:sendmany", R(2), S.udpobj, {"x"}, nil, 9)
C("udp:sendmany", R(2), S.udpobj, {"x"}, 1, 9)
C("udp:sendmany", R(3), S.udpobj, {"x"}, "127.0.0.1")
C("udp:sendmany", R(3, "port out of range"), S.udpobj, {"x"}, "127.0.0.1", 65536)
C("udp:sendmany", R(3), S.udpobj, {"x"}, "127.0.0.1", {})
C("udp:sendmany", F({"EDESTADDRREQ", "ENOTCONN"}), S.udpobj, {"x"})
C("udp:sendmany", OK(2), S.udpobj, {"x", "y"}, "127.0.0.1", 9)
C("udp:sendmany", OK(1), S.udpobj, {"x"}, "localhost", "discard")
C("udp:recvmany", R(1), S.udpobj, nil)
C("udp:recvmany", R(1, "out of range"), S.udpobj, 0)
C("udp:recvmany", R(1, "out of range"), S.udpobj, 1025)
C("udp:recvmany", R(2, "out of range"), S.udpobj, 1, 65537)
C("udp:recvmany", F("EAGAIN"), S.udpobj, 4)
C("udp:recvmany", R(false, "closed socket"), S.closedudp, 1)
C("udp:recvmany", R(1), S.udpobj, S.buffer)
C("udp:recvmany", F("EAGAIN"), S.udpobj, S.batch)
C("udp:recvmany", R(false, "closed socket"), S.closedudp, S.batch)

---------------------------------------------------------------- sockit.tls
-- where it is built: its functions, its connection's methods as
-- "tlsconn:name", and the tls = option of the layer

local has_tls, tls = pcall(require, "sockit.tls")
if has_tls then
  for k, v in pairs(tls) do FN["tls." .. k] = v end
  function make.tlsctx() return tls.context() end
  function make.tlsconn(keep)
    return tls.connection(tls.context(), make.pair(keep), "localhost")
  end
  local keep = {}
  local conn = make.tlsconn(keep)
  for k, v in pairs(getmetatable(conn).__index) do FN["tlsconn:" .. k] = v end
  conn:close()
  for _, x in ipairs(keep) do core.close(x) end

  local NOFILE = "/nonexistent/sockit.pem"
  C("tls.context", R(1), "strict")
  C("tls.context", R(1, "unknown option 'bogus'"), {bogus = true})
  C("tls.context", R(1, "unknown option '1'"), {"verify"})
  C("tls.context", R(1, "option 'verify': boolean expected"), {verify = "yes"})
  C("tls.context", R(1, "option 'mode': invalid value"), {mode = "proxy"})
  C("tls.context", R(1, "option 'cafile': string expected"), {cafile = true})
  C("tls.context", R(1, "option 'cafile': cannot load"), {cafile = NOFILE})
  C("tls.context", R(1, "option 'capath': cannot load"), {capath = NOFILE})
  C("tls.context", R(1, "option 'min_version': invalid value"), {min_version = "tls1.1"})
  C("tls.context", R(1, "option 'max_version': string expected"), {max_version = 1.3})
  C("tls.context", R(1, "option 'max_version': below"),
    {min_version = "tls1.3", max_version = "tls1.2"})
  C("tls.context", R(1, "option 'ciphers'"), {ciphers = "NO-SUCH-CIPHER"})
  C("tls.context", R(1, "option 'ciphersuites'"), {ciphersuites = "NO_SUCH_SUITE"})
  C("tls.context", R(1, "option 'alpn': table expected"), {alpn = "h2"})
  C("tls.context", R(1, "option 'alpn': empty"), {alpn = {}})
  C("tls.context", R(1, "option 'alpn': names"), {alpn = {""}})
  C("tls.context", R(1, "option 'alpn': names"), {alpn = {("x"):rep(256)}})
  C("tls.context", R(1, "option 'alpn': names"), {alpn = {"h2", 2}})
  C("tls.context", R(1, "option 'servername': invalid"), {servername = ""})
  C("tls.context", R(1, "option 'servername': invalid"), {servername = LONGHOST:rep(2)})
  C("tls.context", R(1, "option 'certificate': required"), {mode = "server"})
  C("tls.context", R(1, "option 'key': required"), {certificate = NOFILE})
  C("tls.context", R(1, "option 'certificate': required"), {key = NOFILE})
  C("tls.context", R(1, "option 'certificate': cannot load"),
    {mode = "server", certificate = NOFILE, key = NOFILE})
  C("tls.context", R(1, "option 'verify'"),
    {mode = "server", verify = true, certificate = NOFILE, key = NOFILE})
  C("tls.context", OK(function(ctx) assert.are.equal("client", ctx:mode()) end))
  C("tls.type", OK(nil), 1)
  C("tls.type", OK(nil), S.tcp)
  C("tls.type", OK("context"), S.tlsctx)
  C("tls.type", OK("connection"), S.tlsconn)
  C("tls.connection", R(1), nil, S.tcp)
  C("tls.connection", R(1), S.tcp, S.tcp)
  C("tls.connection", R(2), S.tlsctx, nil)
  C("tls.connection", R(2, "closed socket"), S.tlsctx, S.closed)
  C("tls.connection", R(3, "name"), S.tlsctx, S.tcp)
  C("tls.connection", R(3, "invalid name"), S.tlsctx, S.tcp, "")
  C("tls.connection", R(3, "invalid name"), S.tlsctx, S.tcp, LONGHOST:rep(2))
  C("tlsconn:recv_into", R(1), S.file, S.buffer)
  C("tlsconn:recv_into", R(2, "sockit.reader"), S.tlsconn, S.buffer)
  C("tlsconn:recv_into", R(3, "at least 1"), S.tlsconn, S.reader, 0)
  C("tlsconn:recv_into", R(3), S.tlsconn, S.reader, "x")
  C("tlsconn:recv", R(1), S.tcp, S.reader, 10)
  C("tlsconn:recv", R(2, "sockit.reader"), S.tlsconn, S.buffer, 10)
  C("tlsconn:recv", R(3), S.tlsconn, S.reader)
  C("tlsconn:recv", R(3, "at least 1"), S.tlsconn, S.reader, 0)
  C("tlsconn:recv", R(3), S.tlsconn, S.reader, 1.5)
  C("tlsconn:send", R(2), S.tlsconn, {})
  C("tlsconn:send", R(3, "out of range"), S.tlsconn, "abc", 5)
  C("tlsconn:send", R(3, "out of range"), S.tlsconn, "abc", 0)
  C("tlsconn:send", OK(0), S.tlsconn, "abc", 4)
  C("tlsconn:handshake", R(1), S.tcp)
  C("tlsconn:info", R(1), nil)
  C("tlsconn:close", OK(true), S.tlsconn)

  C("sockit.connect", R(3, "option 'tls': true, table"), "127.0.0.1", 9, {tls = 5})
  C("sockit.connect", R(3, "option 'tls': unknown option 'bogus'"),
    "127.0.0.1", 9, {tls = {bogus = 1}})
  C("sockit.connect", R(3, "option 'tls': option 'verify'"),
    "127.0.0.1", 9, {tls = {verify = 0}})
  C("sockit.listen", R(3, "option 'tls': a server needs"), "127.0.0.1", 0, {tls = true})
  C("sockit.listen", R(3, "option 'tls': option 'certificate'"), "127.0.0.1", 0, {tls = {}})
  C("sockit.listen", R(3, "option 'tls': a server context expected"),
    "127.0.0.1", 0, {tls = S.tlsctx})
  C("sockit.serve", R(4, "option 'tls'"), "127.0.0.1", 0, function() end, {tls = true})
  C("sockit.listen_unix", R(2, "option 'tls'"), "/nonexistent/sock", {tls = 1})
  C("sockit.serve_unix", R(3, "option 'tls'"), "/nonexistent/sock", function() end,
    {tls = "yes"})
  C("stream:starttls", R(1, "unknown option 'bogus'"), S.stream, {bogus = 1})
  C("stream:starttls", R(1, "true, table"), S.stream, 5)
  C("stream:starttls", R(1, "name"), S.stream)
  C("stream:starttls", R(false, "closed"), S.closedstream)
  C("stream:tls", OK(nil), S.stream)
  C("stream:tls", R(false, "closed"), S.closedstream)
end

---------------------------------------------------------------- the specs

local function title(i, case)
  local args = {}
  for k = 1, case.args.n do args[k] = show(case.args[k]) end
  return ("#%d %s(%s) %s"):format(i, case.fname, table.concat(args, ", "),
                                  describe_outcome(case.outcome))
end

describe("the bad-input catalogue", function()
  after_each(files.cleanup)

  for i, case in ipairs(cases) do
    it(title(i, case), function()
      collectgarbage()
      local before = fds.count()
      run(case)
      collectgarbage()
      collectgarbage()
      assert.are.equal(before, fds.count(), "the case left a descriptor open")
    end)
  end
end)
