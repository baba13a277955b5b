-- The work tree the specs run in: where sockit's modules are, for this
-- process and for the child processes specs start.
--
--   local env = require("support.env")
--   local core = env.core()
--
-- Specs run from the repository root (.busted puts spec/ on package.path,
-- so spec/support/x.lua is require("support.x")). sockit.core is the one the
-- runner's paths find (busted's cpath, LUA_CPATH: build/, build-asan/ or
-- build-trap/), else the work tree's build/; children get the same modules.

local env = {}

local function cwd()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir
end

env.root = os.getenv("SOCKIT_ROOT") or cwd()
env.lua = os.getenv("LUA") or "lua5.4"

local function prepend(path, dirs)
  if path:find(dirs, 1, true) then return path end
  return dirs .. path
end
local sofile = package.searchpath("sockit.core", package.cpath)
if not sofile then
  package.cpath = prepend(package.cpath, env.root .. "/build/?.so;")
  sofile = env.root .. "/build/sockit/core.so"
end
if sofile:sub(1, 1) ~= "/" then sofile = env.root .. "/" .. sofile end
env.sofile = sofile
if not package.searchpath("sockit", package.path) then
  package.path = prepend(package.path, env.root .. "/lua/?.lua;" .. env.root
                         .. "/lua/?/init.lua;")
end

-- The same modules for a child lua5.4.
env.LUA_PATH = env.root .. "/lua/?.lua;" .. env.root .. "/lua/?/init.lua;;"
env.LUA_CPATH = sofile:gsub("/sockit/core%.so$", "") .. "/?.so;;"

-- The C module; raises if it is not built.
function env.core()
  return require("sockit.core")
end

-- Shell-quotes one word.
function env.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- LUA_INIT of a child: before 5.3 it loads the specs' polyfill first
-- (support.polyfill), as the busted helper does here
env.init = ""
if _VERSION == "Lua 5.1" or _VERSION == "Lua 5.2" then
  env.init = ("package.path = %q .. package.path; require('support.polyfill')")
    :format(env.root .. "/spec/?.lua;")
end

-- Shell prefix giving a command the work tree's module paths.
env.ENV = ("env LUA_PATH=%s LUA_CPATH=%s LUA_INIT=%s "):format(
  env.quote(env.LUA_PATH), env.quote(env.LUA_CPATH), env.quote(env.init))
-- Shell prefix that runs a Lua script (append its path and arguments).
env.LUA = env.ENV .. env.quote(env.lua) .. " "

return env
