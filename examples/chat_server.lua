-- chat_server.lua: a line-based chat room, every client in its own task.
--
--   lua5.4 examples/chat_server.lua [--host H] [--port P] [--max-queue BYTES]
--
-- Its first line on stdout is "listening <host> <port>" (--port 0 lets the
-- system pick a free port). Talk to it with a few terminals:
--
--   lua5.4 examples/chat_server.lua --port 7008 &
--   socat - TCP:127.0.0.1:7008
--
-- The first line a client sends is its name; every later line goes to the
-- others as "name: line". "/who" lists the room, "/quit" leaves. Lines
-- from the server itself start with "* ".
--
-- Each client has an outbox, written out by a task of its own, so a client
-- that reads slowly never holds up the one talking (and two tasks never
-- write to one socket at once). A client whose outbox grows past
-- --max-queue bytes is dropped.

local sockit = require("sockit")

-- the integer a string spells, or nil (math.tointeger, which Lua 5.1 lacks)
local function integer(s)
  local n = tonumber(s)
  if n and n % 1 == 0 then return n end
  return nil
end

local MAXLINE = 1024

local function parse_args(argv)
  local opts = {host = "127.0.0.1", port = 7008, ["max-queue"] = 1024 * 1024}
  for i = 1, #argv, 2 do
    local name, value = argv[i], argv[i + 1]
    local n = integer(value)
    if name == "--host" and value then
      opts.host = value
    elseif (name == "--port" or name == "--max-queue") and n then
      opts[name:sub(3)] = n
    else
      io.stderr:write("usage: chat_server.lua [--host H] [--port P] [--max-queue BYTES]\n")
      os.exit(2)
    end
  end
  return opts
end

local room = {}      -- name -> member {name, stream, outbox, queued, writing}
local max_queue

-- Writes out a member's outbox until it is empty or the member has gone
-- (its stream closes then); runs as a task of its own, started by send
-- when the outbox was empty.
local function drain(m)
  while m.outbox[1] and not m.gone do
    local batch = table.concat(m.outbox)
    m.outbox, m.queued = {}, 0
    if not m.stream:write(batch) then break end
  end
  m.writing = false
end

-- Queues a line for a member: never waits.
local function send(m, line)
  if m.gone then return end
  m.outbox[#m.outbox + 1] = line .. "\n"
  m.queued = m.queued + #line + 1
  if m.queued > max_queue then
    -- too slow to keep up: closing wakes its reading task, which leaves
    m.gone = true
    m.stream:close()
  elseif not m.writing then
    m.writing = true
    sockit.spawn(drain, m)
  end
end

local function broadcast(from, line)
  for _, m in pairs(room) do
    if m ~= from then send(m, line) end
  end
end

local function names()
  local list = {}
  for name in pairs(room) do list[#list + 1] = name end
  table.sort(list)
  return table.concat(list, ", ")
end

-- Asks for a name until the client gives one nobody uses -> member, or
-- nil when the client goes first
local function join(stream)
  local prompt = "* name?\n"
  while stream:write(prompt) do
    local name = stream:read("l")
    if not name then return nil end
    name = name:match("^%s*(%S+)%s*$")
    if not name then
      prompt = "* a name is one word; name?\n"
    elseif room[name] then
      prompt = "* name taken; name?\n"
    else
      local m = {name = name, stream = stream, outbox = {}, queued = 0}
      room[name] = m
      broadcast(m, "* " .. name .. " joined")
      send(m, "* hello " .. name .. ", in the room: " .. names())
      return m
    end
  end
  return nil
end

-- The task of one client; sockit.serve closes its stream afterwards.
local function client(stream)
  local m = join(stream)
  if not m then return end
  local line, _, code
  while true do
    line, _, code = stream:read("l")
    if not line or line == "/quit" then break end
    if line == "/who" then
      send(m, "* in the room: " .. names())
    else
      broadcast(m, m.name .. ": " .. line)
    end
  end
  m.gone = true
  room[m.name] = nil
  broadcast(m, "* " .. m.name .. " left")
  -- the last word, unless the outbox's task is still writing (gone,
  -- nothing else starts one)
  if code == "EMSGSIZE" and not m.writing then
    stream:settimeout(5)
    stream:write("* line too long, bye\n")
  end
end

local function main(argv)
  local opts = parse_args(argv)
  max_queue = opts["max-queue"]
  -- a client's failure ends its own connection only: it is reported,
  -- and the room goes on
  local server = assert(sockit.serve(opts.host, opts.port, client,
    {maxline = MAXLINE, onerror = function(err, host, port)
      io.stderr:write("chat_server: ", host, " ", port, ": ", tostring(err), "\n")
    end}))
  local host, port = server:address()
  print(("listening %s %d"):format(host, port))
  io.stdout:flush()
  -- so does a failure of an outbox's task
  sockit.run(function(err)
    io.stderr:write("chat_server: ", tostring(err), "\n")
  end)
end

main(arg)
