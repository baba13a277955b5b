-- sockit.object: what every sockit object (Stream, Server, UDP) shares
-- (internal).
--
-- Each is a table owning one sockit.core socket, `socket`, with `closed`
-- and `timeout` fields. A class gets its metatable and its methods table
-- from class(), with the common methods already in it; its own methods
-- are added to the same table, and may replace a common one (stream:close
-- empties the stream's buffer, then closes as here).

local core = require("sockit.core")
local util = require("sockit.util")
local wait = require("sockit.wait")

local format = string.format
local getmetatable, pcall, tostring = getmetatable, pcall, tostring

local object = {}

-- close(obj) -> true: closes obj.socket once, first waking a task that
-- waits on it (ECANCELED)
function object.close(obj)
  if not obj.closed then
    obj.closed = true
    wait.cancel(obj.socket)
    core.close(obj.socket)
  end
  return true
end

-- address(host, port) -> host, port as a script wants them: an IPv4 host
-- seen through an IPv6 socket shown as IPv4; a path alone; or the fail
-- tuple unchanged
function object.address(h, ...)
  if h == nil then return h, ... end
  if select("#", ...) == 0 then return h end  -- a Unix path
  return util.host(h), ...
end
local address = object.address

-- reraise(fname, pcall(corefn, obj.socket, ...)) -> what corefn gave: a
-- raise of a sockit.core function called with the socket first, told as
-- the method fname's: arguments counted after self, at the caller's line.
function object.reraise(fname, ok, ...)
  if ok then return ... end
  local msg = tostring((...))
  local n, why = msg:match("bad argument #(%d+) to '[^']*' %((.*)%)$")
  if not n then util.error(msg) end
  util.argerror(tonumber(n) - 1, fname, why)
end
local reraise = object.reraise

-- the common methods, each given self checked to be an open object
local common = {}

-- obj:settimeout(t) -> obj; nil (or negative) blocks, 0 never waits, else
-- seconds for each later call as a whole
function common.settimeout(self, t)
  self.timeout = util.timeout(t, 1, "settimeout")
  return self
end

-- obj:gettimeout() -> the timeout settimeout set (nil: none)
function common.gettimeout(self)
  return self.timeout
end

-- obj:setoption(name, value) -> true, as core.setoption on obj.socket
function common.setoption(self, name, value)
  util.string(name, 1, "setoption")
  return reraise("setoption",
                 pcall(core.setoption, self.socket, name, value))
end

-- obj:getoption(name) -> value, as core.getoption on obj.socket
function common.getoption(self, name)
  util.string(name, 1, "getoption")
  return reraise("getoption", pcall(core.getoption, self.socket, name))
end

-- obj:sockname() -> host, port / path
function common.sockname(self)
  return address(core.getsockname(self.socket))
end

-- obj:peer() -> host, port / path of the connected peer
function common.peer(self)
  return address(core.getpeername(self.socket))
end

-- class(name, what, names) -> methods, metatable, check. `name` is the
-- metatable's __name ("sockit.stream"), `what` the word of the
-- closed-object message, `names` the common methods the class takes
-- ({"settimeout", ...}); close, <close> and tostring come with every
-- class. check(self, fname) raises unless self is an open object of it.
function object.class(name, what, names)
  local methods = {}
  local mt = {__index = methods, __name = name}
  -- the test inline, util.self only to raise: every method call checks
  local function check(self, fname)
    if getmetatable(self) ~= mt or self.closed then
      util.self(self, mt, fname, what)
    end
  end
  for _, fname in ipairs(names) do
    local f = common[fname]
    methods[fname] = function(self, ...)
      check(self, fname)
      return f(self, ...)
    end
  end
  -- obj:close() -> true; closing twice is fine. A task waiting on the
  -- object wakes with nil, msg, "ECANCELED".
  function methods:close()
    if getmetatable(self) ~= mt then check(self, "close") end
    return object.close(self)
  end
  mt.__close = function(self) methods.close(self) end
  mt.__tostring = function(self)
    if self.closed then return name .. " (closed)" end
    return format("%s (fd %d)", name, core.fileno(self.socket))
  end
  return methods, mt, check
end

return object
