-- luacheck configuration (make check)
std = "lua54"
max_line_length = 100
codes = true

files["spec"] = {
  std = "+busted",
  read_globals = {"jit"},  -- LuaJIT's module, where the specs run on it
}

-- the 5.1 names the compatibility module falls back on
files["lua/sockit/compat.lua"] = {
  read_globals = {"unpack", "jit"},
}
