-- sockit.serve against clients that misbehave: a server never dies
-- because of one client. Real programs play the clients (python3), and a
-- child process serves where stderr or the descriptor limit matter.

local env = require("support.env")
local errs = require("support.errs")
local files = require("support.files")
local net = require("support.net")
local proc = require("support.proc")
local core = env.core()
local sockit = require("sockit")

local SAFETY = 30  -- seconds, the timeout of streams that wait for a peer
local PYTHON = "env -u LD_PRELOAD python3"

-- one misbehaving client, by its first argument, on 127.0.0.1 port arg 2
local CLIENT = [[
import socket, struct, sys
how, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection(("127.0.0.1", port))
c.settimeout(30)
def drain():
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
if how == "reset":      # half a line, then a reset (SO_LINGER 0)
    c.sendall(b"half a li")
    c.recv(1)           # the server's "ready": it is inside lines()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
elif how == "flood":    # one endless line, until the server gives up
    try:
        while True:
            c.sendall(b"x" * 65536)
    except OSError:
        pass
elif how == "silent":   # nothing at all, until the server gives up
    drain()
elif how == "halfclose":
    c.sendall(b"one\ntwo\n")
    c.shutdown(socket.SHUT_WR)
    sys.stdout.write(c.makefile().read())
c.close()
]]

local function client(how, port)
  local script = files.tmpdir() .. "/client.py"
  files.write(script, CLIENT)
  return proc.background(("%s %s %s %d"):format(PYTHON, env.quote(script), how,
                                              port))
end

-- the code at the end of an error raised by a stream: "msg (CODE)"
local function code(err)
  return type(err) == "string" and err:match("%((E[%u%d_]+)%)$") or nil
end

-- the README's example with a line limit and a timeout, reporting to a
-- list and to `signal`, a socket that gets a byte per report
local function upper(errors, signal)
  return function(err, host, port)
    errors[#errors + 1] = {err = err, host = host, port = port}
    signal:send("!")
  end, function(c)
    assert(c:write("ready\n"))
    -- the iterator called, not a for loop: plain Lua 5.1 cannot yield
    -- from a for loop's iterator
    local nextline = c:lines()
    local line = nextline()
    while line do
      c:write(line:upper(), "\n")
      line = nextline()
    end
  end
end

describe("a served client that misbehaves", function()
  it("ends its own connection only: reset, endless line, silence, half-close", function()
    local errors = {}
    local a, b = core.socketpair()
    local onerror, handler = upper(errors, a)
    local srv = assert(sockit.serve("127.0.0.1", 0, handler,
      {timeout = 1, maxline = 1000, onerror = onerror}))
    finally(function() a:close(); b:close(); srv:close() end)
    local _, port = srv:address()
    local done = {}
    for _, how in ipairs({"reset", "flood", "silent", "halfclose"}) do
      done[how] = client(how, port)
    end
    local reply
    sockit.spawn(function()
      local signal = sockit.stream(b, {timeout = SAFETY})
      assert(signal:read(3))  -- three reports
      local c = assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
      assert(c:read("l"))
      assert(c:write("still here\n"))
      reply = c:read("l")
      c:close()
      srv:close()
    end)
    assert.is_true(sockit.run())
    assert.are.equal("STILL HERE", reply)
    local codes = {}
    for _, e in ipairs(errors) do
      codes[#codes + 1] = code(e.err)
      assert.are.equal("127.0.0.1", e.host)
      assert.is_number(e.port)
    end
    table.sort(codes)
    assert.are.same({"ECONNRESET", "EMSGSIZE", "ETIMEDOUT"}, codes)
    for how, finish in pairs(done) do
      local status, out, err = finish()
      assert.are.equal(0, status, how .. ": " .. err)
      if how == "halfclose" then
        assert.are.equal("ready\nONE\nTWO\n", out)
      end
    end
  end)
end)

-- serves in a child process whose stderr is read: the handler fails by
-- the first line each client sends
local REPORTER = [[
local sockit = require("sockit")
local srv = assert(sockit.serve("127.0.0.1", 0, function(c)
  local line = c:read("l")
  if line == "bug" then local t = nil; return t.field end
  if line == "stall" then
    local nextline = c:lines()  -- not a for loop, for plain Lua 5.1
    while nextline() do end
  end
  c:write("fine\n")
end, {timeout = 0.2}))
local _, port = srv:address()
sockit.spawn(function()
  for _, first in ipairs({"bug", "stall", "nice"}) do
    local c = assert(sockit.connect("127.0.0.1", port, {timeout = 30}))
    c:write(first, "\n")
    io.stdout:write(first, " ", tostring(c:read("a")), "\n")
    c:close()
  end
  srv:shutdown()
end)
assert(sockit.run())
io.stdout:write("run returned\n")
]]

describe("a served handler's error without onerror", function()
  it("is one report on stderr naming the peer, with a traceback for a bug", function()
    local dir = files.tmpdir()
    files.write(dir .. "/server.lua", REPORTER)
    local status, out, err = proc.exec(env.LUA .. env.quote(dir .. "/server.lua"))
    assert.are.equal(0, status, err)
    assert.are.equal("bug \nstall \nnice fine\n\nrun returned\n", out)
    local reports = {}
    for line in err:gmatch("[^\n]+") do
      if line:find("^sockit%.serve: ") then reports[#reports + 1] = line end
    end
    assert.are.equal(2, #reports, err)
    assert.matches("^sockit%.serve: 127%.0%.0%.1:%d+: .*attempt to index", reports[1])
    assert.matches("^sockit%.serve: 127%.0%.0%.1:%d+: .*%(ETIMEDOUT%)$", reports[2])
    -- the bug has its traceback, the stream's failure none
    local _, tracebacks = err:gsub("stack traceback:", "")
    assert.are.equal(1, tracebacks)
    assert.is_true(err:find("stack traceback:", 1, true) < err:find("ETIMEDOUT", 1, true))
  end)
end)

-- serves with a low descriptor limit: descriptors are held until the
-- first accept failure, then freed a little later
local STARVED = [[
local core = require("sockit.core")
local sockit = require("sockit")
local reports, served, hog = {}, 0, {}
local srv
srv = assert(sockit.serve("127.0.0.1", 0, function(c)
  served = served + 1
  c:write("hello\n")
  c:read("a")
  if served == 3 then srv:shutdown() end
end, {onerror = function(err)
  reports[#reports + 1] = err
  if #reports == 1 then
    -- several more accepts fail meanwhile: one report for all of them
    sockit.spawn(function()
      sockit.sleep(0.3)
      for _, s in ipairs(hog) do s:close() end
    end)
  end
end}))
-- once the loop waits for clients (its poller open), no descriptor is left
sockit.spawn(function()
  while true do
    local s = core.socket("inet", "stream")
    if not s then break end
    hog[#hog + 1] = s
  end
  print("listening 127.0.0.1 " .. select(2, srv:address()))
  io.stdout:flush()
end)
assert(sockit.run())
print(#reports, reports[1])
]]

-- The interpreter itself, where make valgrind runs each lua5.4 through
-- a wrapper: valgrind keeps descriptors of its own above the limit its
-- client sees, and closes the connection each accept gets there, so a
-- descriptor limit cannot be played under it.
local function interpreter()
  local f = io.open(env.lua)
  if not f then return env.lua end
  local text = f:read("a")
  f:close()
  return text:match('^#!/bin/sh\nexec %S*valgrind .- (%S+) "%$@"') or env.lua
end

describe("accept failures of a served server", function()
  it("back off, are reported once a burst, and serving resumes", function()
    local dir = files.tmpdir()
    files.write(dir .. "/server.lua", STARVED)
    local lua = env.ENV .. env.quote(interpreter()) .. " "
    local child = proc.start("sh -c " .. env.quote("ulimit -n 32 && exec " ..
                          lua .. env.quote(dir .. "/server.lua")) .. " 2>&1")
    local clients = {}
    finally(function()
      for _, c in ipairs(clients) do c:close() end
      proc.stop(child)
    end)
    assert.is_number(child.port, child.line)
    for i = 1, 3 do
      local c = core.socket("inet", "stream")
      clients[i] = c
      assert(c:connect("127.0.0.1", child.port))
      c:settimeout(SAFETY)
    end
    for _, c in ipairs(clients) do
      assert.are.equal("hello\n", net.recvall(c, 6))
      c:close()
    end
    local last = child.pipe:read("a")
    assert.is_true(proc.wait(child))
    local n, err = last:match("^(%d+)\t(.-)\n$")
    assert.are.equal("1", n, last)
    assert.matches("^accept failed: .*%(EMFILE%)$", err)
  end)
end)

describe("serve's max option", function()
  it("accepts no more connections at once than max", function()
    local active, peak, served = 0, 0, 0
    local srv = assert(sockit.serve("127.0.0.1", 0, function(c)
      active = active + 1
      if active > peak then peak = active end
      c:settimeout(SAFETY)
      local line = c:read("l")
      c:write(line, "\n")
      active = active - 1
      served = served + 1
    end, {max = 2}))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local connected, replies, nreplies = 0, {}, 0
    for i = 1, 3 do
      sockit.spawn(function()
        local c = assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
        connected = connected + 1
        -- every client is connected (the kernel took all three) before
        -- anyone sends: without max, three handlers would be running
        while connected < 3 do sockit.sleep(0) end
        c:write("client ", i, "\n")
        replies[i] = c:read("l")
        nreplies = nreplies + 1
        c:close()
        if nreplies == 3 then srv:close() end
      end)
    end
    assert.is_true(sockit.run())
    assert.are.equal(2, peak)
    assert.are.equal(3, served)
    assert.are.same({"client 1", "client 2", "client 3"}, replies)
  end)

  it("raises for a bad max, onerror or an unknown option", function()
    local f = function() end
    assert.has_error(function() sockit.serve("127.0.0.1", 0, f, {max = 0}) end,
                     "bad argument #4 to 'serve' (option 'max': value out of range)")
    assert.has_error(function() sockit.serve("127.0.0.1", 0, f, {onerror = 1}) end,
      "bad argument #4 to 'serve' (option 'onerror': function expected, got number)")
    assert.has_error(function() sockit.serve("127.0.0.1", 0, f, {timout = 1}) end,
                     "bad argument #4 to 'serve' (unknown option 'timout')")
    assert.has_error(function() sockit.serve_unix("x", f, {family = "inet"}) end,
                     "bad argument #3 to 'serve_unix' (unknown option 'family')")
    assert.has_error(function() sockit.serve_unix("x") end,
                     "bad argument #2 to 'serve_unix' (function expected, got no value)")
  end)
end)

describe("server:shutdown", function()
  -- a server whose handlers say "ready", then wait for a line (no
  -- timeout) and record how their read ended -> server, port, results
  local function waiting()
    local results = {}
    local srv = assert(sockit.serve("127.0.0.1", 0, function(c)
      assert(c:write("ready\n"))
      results[#results + 1] = table.pack(c:read("l"))
    end))
    finally(function() srv:close() end)
    local _, port = srv:address()
    return srv, port, results
  end

  -- a client of port whose handler is running
  local function ready(port)
    local c = assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
    assert.are.equal("ready", c:read("l"))
    return c
  end

  it("stops accepting at once and waits for the handlers within grace", function()
    local srv, port, results = waiting()
    local refused, returned
    sockit.spawn(function()
      local c = ready(port)
      sockit.spawn(function()
        local probe = core.socket("inet", "stream")
        refused = table.pack(probe:connect("127.0.0.1", port))
        probe:close()
        c:write("last words\n")
        c:close()
      end)
      returned = srv:shutdown(SAFETY)
    end)
    assert.is_true(sockit.run())
    assert.is_true(returned)
    assert.are.equal("ECONNREFUSED", refused[3])
    assert.are.same({{"last words", n = 1}}, results)
  end)

  -- a handler waits when stop(srv, results) runs in a client's task (or,
  -- with outside, when outside(srv) runs in run's onerror): its read
  -- fails with ECANCELED
  local function cancelled(stop, outside)
    local srv, port, results = waiting()
    local c
    sockit.spawn(function()
      c = ready(port)
      stop(srv, results)
    end)
    assert.is_true(sockit.run(outside and function() outside(srv) end))
    c:close()
    errs.fails("ECANCELED", table.unpack(results[1], 1, results[1].n))
  end

  it("closes the streams left after grace: their calls fail with ECANCELED", function()
    cancelled(function(srv, results)
      assert.is_true(srv:shutdown(0.05))
      assert.are.equal(1, #results)
    end)
  end)

  it("from a handler of the same server keeps that handler's connection", function()
    local after
    local srv
    srv = assert(sockit.serve("127.0.0.1", 0, function(c)
      assert.is_true(srv:shutdown(SAFETY))
      after = c:write("shut down\n") ~= nil
    end))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local reply
    sockit.spawn(function()
      local c = assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
      reply = c:read("l")
      c:close()
    end)
    assert.is_true(sockit.run())
    assert.is_true(after)
    assert.are.equal("shut down", reply)
  end)

  it("outside a task closes every stream at once; the handlers end in run", function()
    -- run's onerror is called outside any task: a way in
    cancelled(function() error("stop") end, function(srv)
      assert.is_true(srv:shutdown())
    end)
  end)

  it("on a server that does not serve, closes it; twice is fine", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    assert.is_true(srv:shutdown())
    assert.is_true(srv:shutdown())
    assert.are.equal("sockit.server (closed)", tostring(srv))
  end)

  it("raises for a bad grace", function()
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    assert.has_error(function() srv:shutdown(-1) end,
      "bad argument #1 to 'shutdown' (non-negative number expected, got -1)")
    assert.has_error(function() srv:shutdown("1") end,
      "bad argument #1 to 'shutdown' (non-negative number expected, got string)")
  end)
end)

describe("sockit.serve_unix", function()
  it("serves on a Unix path, the peer's path given as host", function()
    local path = files.tmppath("serve.sock")
    local peer
    local srv = assert(sockit.serve_unix(path, function(c, host, port)
      peer = {host, port}
      c:write("over unix\n")
    end))
    finally(function() srv:close() end)
    local reply
    sockit.spawn(function()
      local c = assert(sockit.connect_unix(path, {timeout = SAFETY}))
      reply = c:read("l")
      c:close()
      srv:close()
    end)
    assert.is_true(sockit.run())
    assert.are.equal("over unix", reply)
    assert.are.same({""}, peer)
  end)

  it("fails with EADDRINUSE on a stale file, unless unlink removes it", function()
    local path = files.tmppath("stale.sock")
    local old = core.socket("unix", "stream")
    assert(old:bind(path))
    old:close()
    errs.fails("EADDRINUSE", sockit.serve_unix(path, function() end))
    local srv = assert(sockit.serve_unix(path, function() end, {unlink = true}))
    srv:close()
    assert.is_true(sockit.run())
  end)
end)
