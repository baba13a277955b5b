-- examples/echo_server.lua, examples/udp_echo.lua and examples/unix_echo.lua,
-- run as child processes, with clients from this spec, from socat, and from
-- the examples themselves.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local net = require("support.net")
local sockit = require("sockit")
local core = env.core()

local q = env.quote
local LUA = env.LUA
local read_file, write_file = files.read, files.write
local start, wait, stop, run = proc.start, proc.wait, proc.stop, proc.exec

describe("examples/echo_server.lua", function()
  local server

  after_each(function()
    stop(server)
    files.cleanup()
  end)

  it("echoes binary data back to a sockit client, then exits after --count", function()
    server = start(LUA .. "examples/echo_server.lua --port 0 --count 2")
    assert.are.equal("127.0.0.1", server.host)
    for i = 1, 2 do
      local conn = assert(sockit.connect("127.0.0.1", server.port))
      local data = net.bytes(1000 + i, i)
      assert(conn:write(data))
      assert.are.equal(data, conn:read(#data))
      assert(conn:write("line\0with zero\n"))
      assert.are.equal("line\0with zero", conn:read("l"))
      -- Shutting our side down ends the echo: the server closes too.
      assert(conn:shutdown("w"))
      assert.are.equal("", conn:read("a"))
      conn:close()
    end
    assert.are.same({ true, "exit", 0 }, { wait(server) })
  end)

  it("echoes 4 MB to socat, which sends and receives at once", function()
    server = start(LUA .. "examples/echo_server.lua --port 0 --count 1")
    local dir = files.tmpdir()
    write_file(dir .. "/in", net.bytes(4 * 1024 * 1024 + 3, 11))
    -- -t: once its input is sent, socat waits for the echo to end. It runs
    -- without the sanitizer runtimes `make asan` preloads: not under test.
    local cmd = ("env -u LD_PRELOAD socat -t 60 - TCP:127.0.0.1:%d <%s >%s"):format(
      server.port, q(dir .. "/in"), q(dir .. "/out"))
    assert(os.execute(cmd))
    assert.are.equal(read_file(dir .. "/in"), read_file(dir .. "/out"))
    assert.are.same({ true, "exit", 0 }, { wait(server) })
  end)

  it("listens on ::1", function()
    server = start(LUA .. "examples/echo_server.lua --host ::1 --port 0 --count 1")
    assert.are.equal("::1", server.host)
    local conn = assert(sockit.connect("::1", server.port))
    assert(conn:write("over IPv6\n"))
    assert.are.equal("over IPv6", conn:read("l"))
    conn:close()
    assert.are.same({ true, "exit", 0 }, { wait(server) })
  end)

  it("exits 2 on a bad option", function()
    assert.are.equal(2, (run(LUA .. "examples/echo_server.lua --port x")))
  end)
end)

describe("examples/udp_echo.lua", function()
  local server

  after_each(function()
    stop(server)
    files.cleanup()
  end)

  it("echoes datagrams to its own client", function()
    server = start(LUA .. "examples/udp_echo.lua server --port 0 --count 3")
    assert.is_truthy(server.port, server.line)
    local status, out, err = run(LUA .. ("examples/udp_echo.lua client 127.0.0.1 %d one %s three")
      :format(server.port, q("two words")))
    assert.are.equal(0, status, err)
    assert.are.equal("one\ntwo words\nthree\n", out)
    assert.are.same({ true, "exit", 0 }, { wait(server) })
  end)

  it("answers a sockit.core client, binary and empty datagrams included, over ::1", function()
    server = start(LUA .. "examples/udp_echo.lua server --host ::1 --port 0 --count 2")
    assert.are.equal("::1", server.host)
    local sock = core.socket("inet6", "dgram")
    assert(sock:bind("::1", 0))
    sock:settimeout(10)
    local data = net.bytes(1400, 5)
    assert(sock:sendto(data, "::1", server.port))
    local got, host, port = sock:recvfrom(2000)
    assert.are.equal(data, got)
    assert.are.same({ "::1", server.port }, { host, port })
    assert(sock:sendto("", "::1", server.port))
    assert.are.equal("", (sock:recvfrom(10)))
    sock:close()
    assert.are.same({ true, "exit", 0 }, { wait(server) })
  end)

  it("client exits 1 with ECONNREFUSED when no server is there", function()
    local s = core.socket("inet", "dgram")
    assert(s:bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    local status, _, err = run(LUA .. "examples/udp_echo.lua client 127.0.0.1 " .. port .. " hello")
    assert.are.equal(1, status)
    assert.is_truthy(err:find("ECONNREFUSED", 1, true))
  end)

  it("exits 2 without a mode", function()
    assert.are.equal(2, (run(LUA .. "examples/udp_echo.lua")))
  end)
end)

describe("examples/unix_echo.lua", function()
  local server

  after_each(function()
    stop(server)
    files.cleanup()
  end)

  local function start_unix(path, count)
    local child = start(LUA .. "examples/unix_echo.lua server " .. q(path) .. " --count " .. count)
    assert.are.equal("listening " .. path, child.line)
    return child
  end

  it("echoes lines to its own client and removes its socket file", function()
    local path = files.tmppath("echo.sock")
    server = start_unix(path, 1)
    local status, out, err = run(LUA .. "examples/unix_echo.lua client " .. q(path)
      .. " first " .. q("second line") .. " " .. q(""))
    assert.are.equal(0, status, err)
    assert.are.equal("first\nsecond line\n\n", out)
    assert.are.same({ true, "exit", 0 }, { wait(server) })
    assert.is_nil(io.open(path))
  end)

  it("answers a sockit client line by line, keeping a last line without newline", function()
    local path = files.tmppath("echo.sock")
    server = start_unix(path, 2)
    for _ = 1, 2 do
      local conn = assert(sockit.connect_unix(path))
      assert(conn:write("a\nb\0c\n"))
      assert.are.same({ "a\n", "b\0c\n" }, { conn:read("L", "L") })
      assert(conn:write("no newline"))
      assert(conn:shutdown("w"))
      assert.are.equal("no newline", conn:read("a"))
      conn:close()
    end
    assert.are.same({ true, "exit", 0 }, { wait(server) })
  end)

  it("replaces a stale socket file", function()
    local path = files.tmppath("echo.sock")
    local stale = core.socket("unix", "stream")
    assert(stale:bind(path))
    stale:close()
    server = start_unix(path, 1)
    local status = run(LUA .. "examples/unix_echo.lua client " .. q(path) .. " x")
    assert.are.equal(0, status)
  end)

  it("client fails when nobody listens", function()
    local status, _, err = run(LUA .. "examples/unix_echo.lua client "
      .. q(files.tmppath("nobody.sock")) .. " x")
    assert.are_not.equal(0, status)
    assert.is_truthy(err:find("ENOENT", 1, true))
  end)
end)
