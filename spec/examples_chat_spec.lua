-- examples/chat_server.lua, run as a child process, with several clients
-- from this spec: plain blocking streams, and scheduler tasks where the
-- clients must talk and listen at the same time.

local env = require("support.env")
local proc = require("support.proc")
local core = env.core()
local sockit = require("sockit")

local TIMEOUT = 20  -- seconds a client waits for the server before failing

-- Starts the server, whose first line tells its port.
local function start(args)
  local server = proc.start(env.LUA .. "examples/chat_server.lua --port 0 " .. (args or ""))
  assert(server.host == "127.0.0.1" and server.port,
         "the chat server did not start: " .. tostring(server.line))
  return server
end

local stop = proc.stop

local streams = {}

-- Closes the clients' streams, then stops the server.
local function teardown(server)
  for i = #streams, 1, -1 do
    streams[i]:close()
    streams[i] = nil
  end
  stop(server)
end

local function connect(port)
  local c = assert(sockit.connect("127.0.0.1", port, {timeout = TIMEOUT}))
  streams[#streams + 1] = c
  return c
end

-- joins as `name` -> stream, and the server's greeting
local function join(port, name)
  local c = connect(port)
  assert.are.equal("* name?", c:read("l"))
  assert(c:write(name, "\n"))
  return c, c:read("l")
end

-- the next line that is not a join notice
local function nextline(c)
  while true do
    local line, msg, code = c:read("l")
    if not line then
      if msg then return nil, msg, code end
      return nil
    end
    if not line:find("^%* %S+ joined$") then return line end
  end
end

describe("examples/chat_server.lua", function()
  local server

  before_each(function() server = start() end)

  after_each(function() teardown(server) end)

  it("greets each client by name with the room, and tells the others", function()
    local alice, hello = join(server.port, "alice")
    assert.are.equal("* hello alice, in the room: alice", hello)
    local _, hello2 = join(server.port, "bob")
    assert.are.equal("* hello bob, in the room: alice, bob", hello2)
    assert.are.equal("* bob joined", alice:read("l"))
  end)

  it("sends each line to the others, never back to its sender", function()
    local alice = join(server.port, "alice")
    local bob = join(server.port, "bob")
    local carol = join(server.port, "carol")
    assert(alice:write("hi all\n"))
    assert.are.equal("alice: hi all", nextline(bob))
    assert.are.equal("alice: hi all", nextline(carol))
    -- alice's own line would come before this answer
    assert(alice:write("/who\n"))
    assert.are.equal("* in the room: alice, bob, carol", nextline(alice))
    assert(carol:write("hello alice\n"))
    assert.are.equal("carol: hello alice", nextline(alice))
    assert.are.equal("carol: hello alice", nextline(bob))
  end)

  it("asks again for a name that is taken or not one word", function()
    join(server.port, "alice")
    local c = connect(server.port)
    assert.are.equal("* name?", c:read("l"))
    assert(c:write("alice\n"))
    assert.are.equal("* name taken; name?", c:read("l"))
    assert(c:write("two words\n"))
    assert.are.equal("* a name is one word; name?", c:read("l"))
    assert(c:write("  alicia \n"))
    assert.are.equal("* hello alicia, in the room: alice, alicia", c:read("l"))
  end)

  it("tells the others when a client quits or drops", function()
    local alice = join(server.port, "alice")
    local bob = join(server.port, "bob")
    local carol = join(server.port, "carol")
    assert(bob:write("/quit\n"))
    assert.are.same({n = 1}, table.pack(nextline(bob)))
    assert.are.equal("* bob left", nextline(alice))
    carol:close()
    assert.are.equal("* carol left", nextline(alice))
    assert(alice:write("/who\n"))
    assert.are.equal("* in the room: alice", nextline(alice))
  end)

  it("ends a client's line that is too long with a notice", function()
    local alice = join(server.port, "alice")
    local bob = join(server.port, "bob")
    assert(bob:write(("x"):rep(5000), "\n"))
    assert.are.equal("* line too long, bye", bob:read("l"))
    assert.is_nil(bob:read("l"))
    assert.are.equal("* bob left", nextline(alice))
  end)

  it("gives every line of 30 clients to the 29 others, in each sender's order", function()
    local n, lines = 30, 5
    local clients = {}
    for i = 1, n do clients[i] = join(server.port, "c" .. i) end
    for i = 1, n do
      for k = 1, lines do assert(clients[i]:write(("line %d from c%d\n"):format(k, i))) end
    end
    for i = 1, n do
      local last = {}
      for _ = 1, (n - 1) * lines do
        local line = assert(nextline(clients[i]))
        local from, k, again = line:match("^c(%d+): line (%d+) from c(%d+)$")
        assert(from and from == again, "unexpected line: " .. line)
        from, k = tonumber(from), tonumber(k)
        assert.are_not.equal(i, from)
        assert.are.equal((last[from] or 0) + 1, k)
        last[from] = k
      end
      for j = 1, n do
        if j ~= i then assert.are.equal(lines, last[j]) end
      end
    end
  end)
end)

describe("examples/chat_server.lua with --max-queue", function()
  local server

  after_each(function() teardown(server) end)

  it("drops a client that does not read, while the others get every line", function()
    server = start("--max-queue 262144")
    -- 8 MB go out: more than the kernel's buffers (a few MB at most, the
    -- slow client's receive buffer being small) and the queue together
    local raw = core.socket("inet", "stream")
    assert(raw:setoption("rcvbuf", 4096))
    core.settimeout(raw, TIMEOUT)
    assert(raw:connect("127.0.0.1", server.port))
    local slow = sockit.stream(raw, {timeout = TIMEOUT})
    streams[#streams + 1] = slow
    assert.are.equal("* name?", slow:read("l"))
    assert(slow:write("slow\n"))
    assert.matches("^%* hello slow", slow:read("l"))
    local alice = join(server.port, "alice")
    local bob = join(server.port, "bob")
    assert.are.equal("* alice joined", slow:read("l"))
    local count, lines, slow_left, bad = 8000, 0, false, nil
    local payload = ("p"):rep(1000)
    -- alice goes at bob's pace, 100 lines ahead at most: bob reads all
    -- the time, and only slow falls behind
    sockit.spawn(function()
      for i = 1, count do
        assert(alice:write(i, " ", payload, "\n"))
        while i - lines >= 100 do sockit.sleep(0) end
      end
    end)
    sockit.spawn(function()
      while lines < count or not slow_left do
        local line = assert(nextline(bob))
        if line == "* slow left" then
          slow_left = true
        else
          lines = lines + 1
          if line ~= ("alice: %d %s"):format(lines, payload) then bad = line end
        end
      end
    end)
    assert.is_true(sockit.run())
    assert.is_nil(bad)
    assert.are.equal(count, lines)
    assert.is_true(slow_left)
    -- what reached the slow client is a prefix of the flood, then the end
    local rest = assert(slow:read("a"))
    assert.is_true(#rest < count * #payload)
  end)
end)
