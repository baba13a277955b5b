-- Specs of to-be-closed variables, whose syntax only Lua 5.4 parses: the
-- body is Lua source compiled at run time, and elsewhere the spec shows as
-- pending with the reason.
--
--   local it54 = require("support.lua54")(it, pending)
--   it54("closes s at the end of its scope", [[
--     local assert, core = ...
--     do local s <close> = core.socket("inet", "stream") end
--   ]], assert, core)

return function(it, pending)
  return function(name, source, ...)
    if _VERSION ~= "Lua 5.4" then
      return pending(name .. " (to-be-closed variables need Lua 5.4)")
    end
    local body = assert(load(source, "=" .. name))
    local n, args = select("#", ...), {...}
    return it(name, function() return body(table.unpack(args, 1, n)) end)
  end
end
