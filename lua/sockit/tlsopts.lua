-- sockit.tlsopts: the `tls =` option of the layer and starttls's
-- argument (internal): sockit.tls, loaded at the first use, and the
-- context an option names.
--
-- An option is true (a client context with every default: one per Lua
-- state, so connections made with it resume their sessions), a table of
-- options for sockit.tls.context (made into a new context each time), or
-- a context.

local util = require("sockit.util")

local pcall, tostring, type = pcall, tostring, type

local M = {}

local tls        -- sockit.tls, once loaded
local default    -- the context of tls = true, once made

-- tls = ... where sockit.tls was not built: a configuration error, raised
local function load(arg, fname, prefix)
  if tls then return tls end
  local ok, m = pcall(require, "sockit.tls")
  if ok then
    tls = m
    return m
  end
  util.argerror(arg, fname, prefix .. "sockit.tls is not available " ..
    "(build sockit with OpenSSL's headers: Debian package libssl-dev): " ..
    tostring(m):match("^[^\n]*"))
end

-- a raise of sockit.tls.context, told as the option of fname's argument
local function made(arg, fname, prefix, ok, ctx)
  if ok then return ctx end
  local why = tostring(ctx):match("^bad argument #%d+ to '[^']*' %((.*)%)$")
  if not why then util.error(tostring(ctx)) end
  util.argerror(arg, fname, prefix .. why)
end

-- the options of a server without a mode: a copy saying so
local function asserver(opts)
  if opts.mode ~= nil then return opts end
  local copy = {}
  for k, v in pairs(opts) do copy[k] = v end
  copy.mode = "server"
  return copy
end

-- context(v, mode, arg, fname [, prefix]) -> the context of option v, of
-- mode "client" or "server" (nil: either); raises for anything else.
-- prefix starts each message ("option 'tls': ").
function M.context(v, mode, arg, fname, prefix)
  prefix = prefix or ""
  local t = load(arg, fname, prefix)
  local ctx
  if v == true and mode ~= "server" then
    default = default or t.context()
    ctx = default
  elseif type(v) == "table" then
    if mode == "server" then v = asserver(v) end
    ctx = made(arg, fname, prefix, pcall(t.context, v))
  elseif t.type(v) == "context" then
    ctx = v
  elseif v == true then
    util.argerror(arg, fname, prefix .. "a server needs options with a " ..
                  "certificate and key, or a context")
  else
    util.argerror(arg, fname, prefix .. "true, table or sockit.tls.context " ..
                  "expected, got " .. type(v))
  end
  if mode and ctx:mode() ~= mode then
    util.argerror(arg, fname, prefix .. "a " .. mode .. " context expected")
  end
  return ctx
end

-- connection(ctx, sock, name, arg, fname) -> a sockit.tls connection over
-- sock; a raise of sockit.tls (a client without a name) as fname's
function M.connection(ctx, sock, name, arg, fname)
  return made(arg, fname, "", pcall(tls.connection, ctx, sock, name))
end

return M
