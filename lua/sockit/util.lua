-- sockit.util: argument checks and small helpers shared by the sockit
-- modules (internal).
--
-- Programmer errors raise in the style of luaL_argerror, at the line of
-- the caller: the first stack level whose code is not one of the sockit
-- modules, however deep inside them the check ran. Argument numbers count
-- from the first argument after `self`, as the C library does for methods.

local core = require("sockit.core")

local getinfo = debug.getinfo
local tointeger = require("sockit.compat").tointeger

local util = {}

-- the directory of the sockit modules, as debug.getinfo shows sources
local here = getinfo(1, "S").source
local dir = here:match("^@(.*[/\\])[^/\\]*$")

-- the error level of the nearest caller outside the sockit modules
local function callerlevel()
  local level = 3  -- the caller of the function that called this one
  while dir do
    local info = getinfo(level, "S")
    if info == nil then return 1 end
    local src = info.source
    -- Lua 5.1 shows a frame a tail call replaced as "tail": not a caller
    if info.what ~= "C" and info.what ~= "tail"
       and src:sub(2, #dir + 1) ~= dir then break end
    level = level + 1
  end
  return level - 1
end

-- error(msg) raised at the caller's line (see above)
function util.error(msg)
  error(msg, callerlevel())
end

-- argerror(arg, fname, msg): raises "bad argument #arg to 'fname' (msg)"
-- self(obj, mt, fname, what): raises unless obj is an open object with the
-- metatable mt; `what` names it in the closed-object message
function util.self(obj, mt, fname, what)
  if getmetatable(obj) ~= mt then
    util.error(("calling '%s' on bad self (%s expected, got %s)")
               :format(fname, mt.__name, type(obj)))
  end
  if obj.closed then util.error("attempt to use a closed " .. what) end
end

function util.argerror(arg, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(arg, fname, msg),
        callerlevel())
end
local argerror = util.argerror

local function typeerror(v, arg, fname, expected)
  argerror(arg, fname, ("%s expected, got %s"):format(expected,
           v == nil and "no value" or type(v)))
end

-- string(v, arg, fname) -> v, a string (numbers are not converted)
function util.string(v, arg, fname)
  if type(v) ~= "string" then typeerror(v, arg, fname, "string") end
  return v
end

-- int(v) -> v as an integer when it is a number with an integer value
-- (2^10 as well as 1024), else nil: math.tointeger's rule, without its
-- conversion of strings
local function int(v)
  if type(v) == "number" then return tointeger(v) end
  return nil
end

-- integer(v, arg, fname [, min [, max]]) -> v as an integer in [min, max]
function util.integer(v, arg, fname, min, max)
  local i = int(v)
  if i == nil then
    if type(v) == "number" then
      argerror(arg, fname, "number has no integer representation")
    end
    typeerror(v, arg, fname, "integer")
  end
  if (min and i < min) or (max and i > max) then
    argerror(arg, fname, "value out of range")
  end
  return i
end

-- names(list) -> a set of option names, for opts
function util.names(list)
  local set = {}
  for _, name in ipairs(list) do set[name] = true end
  return set
end

-- opts(v, arg, fname, names) -> v or an empty table; raises on a key that
-- is not in the set `names` (from util.names)
function util.opts(v, arg, fname, names)
  if v == nil then return {} end
  if type(v) ~= "table" then typeerror(v, arg, fname, "table") end
  for k in pairs(v) do
    if not names[k] then
      argerror(arg, fname, ("unknown option '%s'"):format(tostring(k)))
    end
  end
  return v
end

-- option(opts, key, kind, arg, fname): checks opts[key] is nil or of `kind`
-- ("string", "number", "boolean", "table", "integer"); returns it, an
-- "integer" as an integer.
function util.option(opts, key, kind, arg, fname)
  local v = opts[key]
  if v == nil then return nil end
  local ok
  if kind == "integer" then
    ok = int(v)
    v = ok
  else ok = type(v) == kind end
  if not ok then
    argerror(arg, fname, ("option '%s': %s expected, got %s"):format(
             key, kind, type(opts[key])))
  end
  return v
end

-- family(opts, arg, fname) -> nil, "inet" or "inet6"
function util.family(opts, arg, fname)
  local f = util.option(opts, "family", "string", arg, fname)
  if f ~= nil and f ~= "inet" and f ~= "inet6" then
    argerror(arg, fname, ("option 'family': invalid value '%s'"):format(f))
  end
  return f
end

-- port(v, arg, fname) -> v: an integer 0..65535 or a service name
function util.port(v, arg, fname)
  if type(v) == "string" then return v end
  local i = int(v)
  if i == nil then typeerror(v, arg, fname, "port number or service name") end
  if i < 0 or i > 65535 then argerror(arg, fname, "port out of range") end
  return i
end

-- path(v, arg, fname) -> v, a Unix socket path that fits sun_path; a
-- leading zero byte names the abstract namespace
function util.path(v, arg, fname)
  util.string(v, arg, fname)
  if #v > core.PATHMAX then argerror(arg, fname, "path too long") end
  if v:find("\0", 2, true) then
    argerror(arg, fname, "path contains a zero byte")
  end
  return v
end

-- timeout(v, arg, fname) -> nil (block) or seconds >= 0; negative is nil
function util.timeout(v, arg, fname)
  if v == nil then return nil end
  if type(v) ~= "number" then typeerror(v, arg, fname, "number") end
  if v ~= v then argerror(arg, fname, "timeout is NaN") end
  if v < 0 then return nil end
  return v
end

-- address(v, arg, fname, key) -> host, port from an option {host, port}
function util.address(v, arg, fname, key)
  local port = type(v) == "table" and v[2]
  if type(port) ~= "string" then port = int(port) end
  if type(v) ~= "table" or type(v[1]) ~= "string" or not port then
    argerror(arg, fname, ("option '%s': {host, port} expected"):format(key))
  end
  if type(port) == "number" and (port < 0 or port > 65535) then
    argerror(arg, fname, ("option '%s': port out of range"):format(key))
  end
  return v[1], port
end

-- host(h) -> h, with an IPv4 address seen through an IPv6 socket
-- (::ffff:127.0.0.1) shown as the IPv4 address itself
function util.host(h)
  if type(h) == "string" and h:find("^::[fF][fF][fF][fF]:") then
    return h:match("^::[fF][fF][fF][fF]:(%d+%.%d+%.%d+%.%d+)$") or h
  end
  return h
end

-- lookup(host, service, list, msg, code) -> the list of addresses of a
-- name lookup of host (service), or its fail tuple with a message naming
-- what was looked up, so that a lookup failure reads apart from a
-- connection's: "example.invalid: Name or service not known", "lookup of
-- example.org timed out"
function util.lookup(host, service, list, msg, code)
  if list then return list end
  local name = host
  if code == "EAI_SERVICE" or host == nil then name = service end
  name = tostring(name)
  if code == "ETIMEDOUT" then msg = "lookup of " .. name .. " timed out"
  else msg = name .. ": " .. tostring(msg) end
  return nil, msg, code
end

return util
