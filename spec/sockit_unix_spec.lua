-- sockit.listen_unix and sockit.connect_unix: Unix stream sockets, by
-- path and in the abstract namespace, and stale socket files.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

after_each(function() files.cleanup() end)

local raised = errs.raised

local function closing(obj, ...)
  if obj then finally(function() obj:close() end) end
  return obj, ...
end

local function exists(path)
  return os.execute("test -S " .. env.quote(path)) == true
end

describe("sockit.listen_unix", function()
  it("listens on a path and accepts streams", function()
    local path = files.tmppath()
    local srv = assert(closing(sockit.listen_unix(path)))
    assert.equal(path, srv:address())
    assert.is_true(exists(path))
    local c = assert(closing(sockit.connect_unix(path)))
    local s, peer = assert(closing(srv:accept()))
    assert.equal("", peer)    -- the client has no name
    assert.equal("sockit.stream", getmetatable(s).__name)
    assert(c:write("over unix\n"))
    assert.equal("over unix", s:read("l"))
    assert(s:write("and back\n"))
    assert.equal("and back", c:read("l"))
    assert.equal(path, c:peer())
  end)

  it("listens in the abstract namespace", function()
    local name = files.abstract()
    local srv = assert(closing(sockit.listen_unix(name)))
    assert.equal(name, srv:address())
    local c = assert(closing(sockit.connect_unix(name)))
    local s = assert(closing(srv:accept()))
    assert(c:write("x"))
    assert.equal("x", s:read(1))
  end)

  it("fails with EADDRINUSE on a stale file unless told to unlink it",
     function()
    local path = files.tmppath()
    local old = assert(sockit.listen_unix(path))
    old:close()                       -- the file stays behind
    assert.is_true(exists(path))
    errs.fails("ECONNREFUSED", sockit.connect_unix(path))
    errs.fails("EADDRINUSE", sockit.listen_unix(path))
    local srv = assert(closing(sockit.listen_unix(path, {unlink = true})))
    local c = assert(closing(sockit.connect_unix(path)))
    assert(closing(srv:accept()))
    assert(c:write("fresh"))
  end)

  it("does not unlink the file of a server that is alive", function()
    local path = files.tmppath()
    local live = assert(closing(sockit.listen_unix(path)))
    errs.fails("EADDRINUSE", sockit.listen_unix(path, {unlink = true}))
    assert.is_true(exists(path))
    -- the live server still gets its clients (the probe among them)
    live:settimeout(0)
    local probe = live:accept()
    if probe then probe:close() end
    assert(closing(sockit.connect_unix(path)))
    assert(closing(live:accept()))
  end)

  it("takes a backlog and maxline for its streams", function()
    local path = files.tmppath()
    local srv = assert(closing(sockit.listen_unix(path, {backlog = 1,
                                                         maxline = 2})))
    local c = assert(closing(sockit.connect_unix(path)))
    local s = assert(closing(srv:accept()))
    assert(c:write("abc\n"))
    errs.fails("EMSGSIZE", s:read("l"))
  end)

  it("fails with ENOENT in a directory that does not exist", function()
    errs.fails("ENOENT", sockit.listen_unix(files.tmpdir() .. "/no/such/sock"))
  end)

  it("raises on bad arguments", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local err = raised(function() local s = sockit.listen_unix(5); return s end)
    assert.matches(":" .. line .. ": bad argument #1 to 'listen_unix'", err)
    assert.matches("#2 to 'listen_unix'", raised(sockit.listen_unix, "p", 1))
    assert.matches("#2 to 'listen_unix' %(option 'unlink'",
                   raised(sockit.listen_unix, "p", {unlink = "yes"}))
    assert.matches("#2 to 'listen_unix' %(option 'backlog'",
                   raised(sockit.listen_unix, "p", {backlog = -2}))
    assert.matches("#1 to 'listen_unix' %(path too long%)",
                   raised(sockit.listen_unix, "/tmp/" .. ("x"):rep(200)))
    assert.matches("#1 to 'connect_unix' %(path contains a zero byte%)",
                   raised(sockit.connect_unix, "/tmp/a\0b"))
  end)
end)

describe("sockit.connect_unix", function()
  it("fails with ENOENT when there is no such file", function()
    errs.fails("ENOENT", sockit.connect_unix(files.tmpdir() .. "/none"))
  end)

  it("fails with ECONNREFUSED on a name nobody listens on", function()
    errs.fails("ECONNREFUSED", sockit.connect_unix(files.abstract()))
  end)

  it("makes opts.timeout the stream's timeout", function()
    local path = files.tmppath()
    local srv = assert(closing(sockit.listen_unix(path)))
    local c = assert(closing(sockit.connect_unix(path, {timeout = 0.05,
                                                        maxline = 10})))
    assert(closing(srv:accept()))
    errs.fails("ETIMEDOUT", c:read("l"))
  end)

  it("raises on bad arguments", function()
    assert.matches("#1 to 'connect_unix'", raised(sockit.connect_unix))
    assert.matches("#2 to 'connect_unix'",
                   raised(sockit.connect_unix, "p", "opts"))
    assert.matches("#2 to 'connect_unix' %(option 'timeout'",
                   raised(sockit.connect_unix, "p", {timeout = 0}))
  end)

  it("leaves no descriptor behind when it fails", function()
    -- no collection during the count: it would close what earlier tests
    -- left behind, and hide a handle left open here
    collectgarbage("collect")
    collectgarbage("collect")
    collectgarbage("stop")
    finally(function() collectgarbage("restart") end)
    local before = fds.count()
    for _ = 1, 20 do errs.fails("ENOENT", sockit.connect_unix("/nonexistent")) end
    assert.equal(before, fds.count())
  end)
end)

describe("the core socket of a Unix server", function()
  it("is a listening Unix stream socket", function()
    local srv = assert(closing(sockit.listen_unix(files.tmppath())))
    assert.equal("unix", srv.socket:getoption("family"))
    assert.equal("stream", srv.socket:getoption("type"))
    assert.equal("socket", core.type(srv.socket))
  end)
end)
