-- sockit.serve: a server task and its client tasks in one process.

local env = require("support.env")
local fds = require("support.fds")
local net = require("support.net")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

local SAFETY = 30  -- seconds, the timeout of streams that wait for a peer

local function run()
  assert.is_true(sockit.run())
end

local nofile = fds.nofile

-- serve on 127.0.0.1 and a free port -> server, port
local function serve(handler, opts)
  local srv = assert(sockit.serve("127.0.0.1", 0, handler, opts))
  finally(function() srv:close() end)
  local _, port = srv:address()
  return srv, port
end

local function connect(port)
  return assert(sockit.connect("127.0.0.1", port, {timeout = SAFETY}))
end

describe("sockit.serve", function()
  it("runs the handler in a task per client, with the client's address", function()
    local seen
    local srv, port = serve(function(s, host, p)
      s:settimeout(SAFETY)
      seen = {host = host, port = p}
      -- no s:lines(): Lua 5.1 cannot yield inside a for loop's iterator
      local line = s:read("l")
      while line do
        assert(s:write(line:upper(), "\n"))
        line = s:read("l")
      end
    end)
    local reply, mine
    sockit.spawn(function()
      local c = connect(port)
      mine = select(2, c:sockname())
      assert(c:write("hello\n"))
      reply = c:read("l")
      c:close()
      srv:close()
    end)
    run()
    assert.are.equal("HELLO", reply)
    assert.are.same({host = "127.0.0.1", port = mine}, seen)
  end)

  it("closes the stream when the handler returns", function()
    local kept
    local srv, port = serve(function(s)
      kept = s
      assert(s:write("bye\n"))
    end)
    local got
    sockit.spawn(function()
      local c = connect(port)
      got = table.pack(c:read("l", "l"))
      c:close()
      srv:close()
    end)
    run()
    assert.are.same({"bye", nil, n = 2}, got)
    assert.are.equal("sockit.stream (closed)", tostring(kept))
  end)

  it("closes the stream when the handler raises, and the error goes to onerror", function()
    local kept, reported
    local srv, port = serve(function(s)
      kept = s
      error("handler failed")
    end, {onerror = function(err, host, p)
      reported = {err = err, host = host, port = p}
    end})
    local got, mine
    sockit.spawn(function()
      local c = connect(port)
      mine = select(2, c:sockname())
      got = table.pack(c:read("l"))
      c:close()
      srv:close()
    end)
    local errors = {}
    assert.is_true(sockit.run(function(err) errors[#errors + 1] = err end))
    assert.are.same({}, errors)
    assert.matches("sched_serve_spec.lua:%d+: handler failed", reported.err)
    assert.are.equal("127.0.0.1", reported.host)
    assert.are.equal(mine, reported.port)
    assert.are.equal("sockit.stream (closed)", tostring(kept))
    -- end of stream, not a failure
    assert.are.same({n = 1}, got)
  end)

  it("never lets a handler's error reach run, and serves the next client", function()
    local n = 0
    local srv, port = serve(function(s)
      n = n + 1
      if n == 1 then error({"not even a string"}) end
      assert(s:write("second\n"))
    end, {onerror = function() end})
    local reply
    sockit.spawn(function()
      local c = connect(port)
      c:read("a")
      c:close()
      c = connect(port)
      reply = c:read("l")
      c:close()
      srv:close()
    end)
    run()
    assert.are.equal("second", reply)
  end)

  it("stops accepting once the server is closed, and run returns", function()
    local srv, port = serve(function() end)
    sockit.spawn(function() srv:close() end)
    run()
    local c = core.socket("inet", "stream")
    finally(function() c:close() end)
    errs.fails("ECONNREFUSED", c:connect("127.0.0.1", port))
  end)

  it("may start inside a task", function()
    local reply
    sockit.spawn(function()
      local srv = assert(sockit.serve("127.0.0.1", 0, function(s)
        assert(s:write("from inside\n"))
      end))
      local _, port = srv:address()
      local c = connect(port)
      reply = c:read("l")
      c:close()
      srv:close()
    end)
    run()
    assert.are.equal("from inside", reply)
  end)

  it("on every address shows IPv4 clients as IPv4", function()
    local host
    local srv = assert(sockit.serve("*", 0, function(_, h) host = h end))
    finally(function() srv:close() end)
    local _, port = srv:address()
    sockit.spawn(function()
      local c = connect(port)
      c:read("a")
      c:close()
      srv:close()
    end)
    run()
    assert.are.equal("127.0.0.1", host)
  end)

  it("gives the accepted streams the options' line limit", function()
    local r
    local srv, port = serve(function(s)
      s:settimeout(SAFETY)
      r = table.pack(s:read("l"))
    end, {maxline = 4})
    sockit.spawn(function()
      local c = connect(port)
      assert(c:write("too long\n"))
      c:read("a")
      c:close()
      srv:close()
    end)
    run()
    errs.fails("EMSGSIZE", table.unpack(r, 1, r.n))
  end)

  it("fails with EADDRINUSE on a port another socket listens on", function()
    local l, port = net.listener("127.0.0.1")
    finally(function() l:close() end)
    errs.fails("EADDRINUSE", sockit.serve("127.0.0.1", port, function() end))
    -- no accepting task was left behind
    run()
  end)

  it("raises for a bad host, port, handler or options", function()
    local f = function() end
    assert.has_error(function() sockit.serve(1, 0, f) end,
                     "bad argument #1 to 'serve' (string expected, got number)")
    assert.has_error(function() sockit.serve("127.0.0.1", 70000, f) end,
                     "bad argument #2 to 'serve' (port out of range)")
    assert.has_error(function() sockit.serve("127.0.0.1", 0) end,
                     "bad argument #3 to 'serve' (function expected, got no value)")
    assert.has_error(function() sockit.serve("127.0.0.1", 0, "f") end,
                     "bad argument #3 to 'serve' (function expected, got string)")
    assert.has_error(function() sockit.serve("127.0.0.1", 0, f, 5) end,
                     "bad argument #4 to 'serve' (table expected, got number)")
    assert.has_error(function() sockit.serve("127.0.0.1", 0, f, {backlog = -1}) end,
                     "bad argument #4 to 'serve' (option 'backlog': value out of range)")
  end)
end)

describe("sockit.serve with 2,000 clients", function()
  it("holds every connection at once in one process", function()
    local n = 2000
    local limit = nofile()
    assert(limit >= 2 * n + 200, ("ulimit -n is %s: %d clients and their server "
      .. "connections need %d descriptors (make test raises the limit)"):format(
      tostring(limit), n, 2 * n + 200))
    local active, peak, served = 0, 0, 0
    local srv, port = serve(function(s)
      s:settimeout(SAFETY)
      active = active + 1
      if active > peak then peak = active end
      local line = assert(s:read("l"))
      assert(s:write(line, "\n"))
      -- the client closes once every client has its reply
      assert.are.same({n = 1}, table.pack(s:read("l")))
      active = active - 1
      served = served + 1
    end, {backlog = 4096})
    local echoed, wrong, closed = 0, 0, 0
    for i = 1, n do
      sockit.spawn(function()
        local c = connect(port)
        assert(c:write("client ", i, "\n"))
        if c:read("l") ~= "client " .. i then wrong = wrong + 1 end
        echoed = echoed + 1
        while echoed < n do sockit.sleep(0.01) end
        c:close()
        closed = closed + 1
        if closed == n then srv:close() end
      end)
    end
    run()
    assert.are.equal(n, echoed)
    assert.are.equal(0, wrong)
    assert.are.equal(n, served)
    assert.are.equal(n, peak)
  end)
end)
