-- luacheck: ignore 122 (it fills in the standard library, on purpose)
-- The Lua 5.3/5.4 library functions the specs use, where the interpreter
-- lacks them (Lua 5.1, LuaJIT, 5.2); a no-op on 5.3 and 5.4. The busted
-- helper (fdguard.lua) loads it first. The sockit layer never relies on it:
-- it has lua/sockit/compat.lua.

local compat = require("sockit.compat")

table.pack = table.pack or compat.pack
table.unpack = table.unpack or compat.unpack
math.type = math.type or compat.mathtype
math.tointeger = math.tointeger or compat.tointeger
-- the exact integers of a double
math.maxinteger = math.maxinteger or 2 ^ 53 - 1
math.mininteger = math.mininteger or -(2 ^ 53 - 1)

-- file:read("a") and friends: 5.1 and 5.2 want the "*", and plain 5.1
-- has no "L" (a line with its end), which a seekable file can give
local mt = getmetatable(io.stdout).__index
local read = mt.read
local noL = _VERSION == "Lua 5.1" and not jit

local function readL(f)
  local line = read(f, "*l")
  local pos = line and f:seek()
  if pos and pos > 0 then
    f:seek("set", pos - 1)
    if read(f, 1) == "\n" then line = line .. "\n" end
  end
  return line
end

if _VERSION == "Lua 5.1" or _VERSION == "Lua 5.2" then
  mt.read = function(f, ...)
    local n, out = select("#", ...), {}
    if n == 0 then return read(f) end
    for i = 1, n do
      local fmt = select(i, ...)
      if type(fmt) == "string" then fmt = fmt:gsub("^%*?", "*") end
      if noL and fmt == "*L" then out[i] = readL(f) else out[i] = read(f, fmt) end
      if out[i] == nil then return table.unpack(out, 1, i) end
    end
    return table.unpack(out, 1, n)
  end
end

if _VERSION == "Lua 5.1" or _VERSION == "Lua 5.2" then
  io.read = function(...) return io.input():read(...) end
end

-- os.execute(cmd) -> true|nil, "exit"|"signal", n, as since 5.2
if type(os.execute()) == "number" then
  local execute = os.execute
  os.execute = function(cmd)
    local status = execute(cmd)
    if cmd == nil then return status ~= 0 end
    local code, sig = math.floor(status / 256), status % 256
    if sig ~= 0 then return nil, "signal", sig end
    return code == 0 or nil, "exit", code
  end
end

-- a popen'd command's close -> true|nil, "exit"|"signal", n, as since 5.2:
-- where close tells only true, the shell writes the command's status to a
-- file that close reads (a status past 128 is 128 + a signal's number)
local probe = io.popen("exit 3")
if select(3, probe:close()) ~= 3 then
  local popen, close, remove = io.popen, mt.close, os.remove
  local statusfile = setmetatable({}, {__mode = "k"})
  io.popen = function(cmd, mode)
    local file = os.tmpname()
    -- the outer shell's own stderr (its "Terminated" notes) goes nowhere
    local f, msg = popen(("exec 3>&2 2>/dev/null; sh -c %s 2>&3 3>&-; echo $? >%s")
      :format("'" .. cmd:gsub("'", "'\\''") .. "'", file), mode)
    if f then statusfile[f] = file else remove(file) end
    return f, msg
  end
  mt.close = function(f, ...)
    local file = statusfile[f]
    if not file then return close(f, ...) end
    statusfile[f] = nil
    close(f)
    local h = io.open(file)
    local n = tonumber(h and h:read("*l"))
    if h then h:close() end
    remove(file)
    if n == nil then return nil, "exit", -1 end
    if n > 128 then return nil, "signal", n - 128 end
    return n == 0 or nil, "exit", n
  end
end

-- string.pack and string.unpack for what the specs' fake DNS server uses:
-- big-endian unsigned integers, ">I2", ">I4", "B"
if not string.pack then
  local char, byte = string.char, string.byte
  local function sizes(fmt)
    local list = {}
    for c, n in fmt:gmatch("([IB])(%d*)") do
      list[#list + 1] = c == "B" and 1 or tonumber(n)
    end
    return list
  end
  string.pack = function(fmt, ...)
    local out, args = {}, {...}
    for i, size in ipairs(sizes(fmt)) do
      local v, bytes = args[i], {}
      for k = size, 1, -1 do
        bytes[k] = char(v % 256)
        v = math.floor(v / 256)
      end
      out[i] = table.concat(bytes)
    end
    return table.concat(out)
  end
  string.unpack = function(fmt, s, pos)
    pos = pos or 1
    local values = {}
    for i, size in ipairs(sizes(fmt)) do
      local v = 0
      for k = pos, pos + size - 1 do v = v * 256 + byte(s, k) end
      values[i], pos = v, pos + size
    end
    values[#values + 1] = pos
    return table.unpack(values)
  end
end
