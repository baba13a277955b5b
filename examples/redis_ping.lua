-- redis_ping.lua: a script for the sockit command, which runs it with
-- `conn` bound to the connection (a Stream wrapped by sockit.proto):
--
--   sockit connect localhost 6379 -e examples/redis_ping.lua [-- KEY VALUE]
--
-- It sets KEY (sockit:example) to VALUE (hello), reads it back and
-- deletes it. It speaks RESP, Redis's protocol, in its simplest form:
-- inline commands, one a line; replies start with "+" (status), "$n" (n
-- bytes follow), ":" (an integer) or "-" (an error).
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

local key, value = arg[1] or "sockit:example", arg[2] or "hello"
assert(not (key .. value):find("%s"), "KEY and VALUE are single words")

conn:sendline("PING")
print(reply())                                   --> PONG
conn:sendline("SET " .. key .. " " .. value)
conn:sendline("GET " .. key)
conn:sendline("DEL " .. key)
assert(reply() == "OK")
print(reply())                                   --> hello
print("deleted " .. reply() .. " key")           --> deleted 1 key
