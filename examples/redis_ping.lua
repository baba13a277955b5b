-- redis_ping.lua: a script for the sockit command, which runs it with
-- `conn` bound to the connection (a Stream wrapped by sockit.proto):
--
--   sockit connect localhost 6379 -e examples/redis_ping.lua
--
-- It speaks RESP, Redis's protocol, in its simplest form: inline
-- commands, one a line; replies start with "+" (status), "$n" (n bytes
-- follow), ":" (an integer) or "-" (an error).
-- luacheck: read globals conn

-- the value of one reply, or raises with the error the server gave
local function reply()
  local kind, rest = assert(conn:expect("^(.)([^\r]*)\r\n", 5))
  if kind == "$" then
    local n = tonumber(rest)
    if n < 0 then return nil end
    return conn:read(n + 2):sub(1, n)
  elseif kind == "-" then
    error(rest, 0)
  end
  return rest
end

conn:sendline("PING")
print(reply())                                   --> PONG
conn:sendline("SET sockit:example hello")
conn:sendline("GET sockit:example")
conn:sendline("DEL sockit:example")
assert(reply() == "OK")
print(reply())                                   --> hello
print("deleted " .. reply() .. " key")           --> deleted 1 key
