-- rockload.lua TREE [VERSION]: loads sockit.core, sockit and sockit.tls
-- from the LuaRocks tree TREE alone and, given VERSION, checks the first
-- two modules' _VERSION against it.
local tree, version = arg[1], arg[2]
local lv = _VERSION:match("%d+%.%d+")
package.path = ("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua"):format(
  tree, lv, tree, lv)
package.cpath = ("%s/lib/lua/%s/?.so"):format(tree, lv)
-- package.searchpath, which Lua 5.1 lacks
local function where(name, path)
  local file = name:gsub("%.", "/")
  for pattern in path:gmatch("[^;]+") do
    local f = pattern:gsub("%?", file)
    local h = io.open(f)
    if h then h:close() return f end
  end
end
for _, name in ipairs({"sockit.core", "sockit"}) do
  local m = require(name)
  if version and m._VERSION ~= version then
    error(("%s._VERSION is %s, not %s"):format(name, tostring(m._VERSION), version))
  end
  print(("%s %s loads from %s"):format(name, tostring(m._VERSION),
    where(name, name == "sockit" and package.path or package.cpath)))
end
local tls = require("sockit.tls")
assert(tls.type(tls.context()) == "context", "sockit.tls makes no context")
print(("sockit.tls (%s) loads from %s"):format(tls.OPENSSL_VERSION,
  where("sockit.tls", package.cpath)))
