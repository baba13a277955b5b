-- sockit.compat: the Lua 5.3/5.4 functions the sockit layer uses, on
-- Lua 5.1 (and LuaJIT 2.1), 5.2, 5.3 and 5.4 alike (internal). Where the
-- interpreter has a function, it is the interpreter's own.
--
-- Numbers on 5.1 and 5.2 are doubles: an integer is a number that is
-- integral and exact (magnitude below 2^53), as sockit.core decides too.

local floor, type, select = math.floor, type, select

local compat = {}

local EXACT = 2^53

-- whether every number is a double (5.1, LuaJIT, 5.2): no integer subtype
compat.doubles = math.type == nil

compat.unpack = table.unpack or unpack

compat.pack = table.pack or function(...)
  return {n = select("#", ...), ...}
end

-- math.type(x) -> "integer", "float", or nil for a non-number
compat.mathtype = math.type or function(x)
  if type(x) ~= "number" then return nil end
  if -EXACT < x and x < EXACT and floor(x) == x then return "integer" end
  return "float"
end
local mathtype = compat.mathtype

-- math.tointeger(x) -> x as an integer, or nil (strings are not numbers)
compat.tointeger = math.tointeger or function(x)
  if mathtype(x) == "integer" then return x end
  return nil
end

-- coroutine.isyieldable() -> whether the running code can yield; Lua 5.1
-- cannot tell a pcall apart, so there it means "inside a coroutine"
compat.isyieldable = coroutine.isyieldable or function()
  local co, main = coroutine.running()
  return co ~= nil and not main
end

-- coroutine.close(co): before 5.4 a coroutine has no to-be-closed
-- variables, so closing a dead one has nothing to do
compat.coclose = coroutine.close or function() return true end

-- whether pcall can yield (not on plain Lua 5.1; LuaJIT can)
compat.yieldingpcall = _VERSION ~= "Lua 5.1" or type(jit) == "table"

return compat
