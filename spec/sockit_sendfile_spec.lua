-- sockit: stream:sendfile and core.sendfile, the kernel copying a file to
-- a socket.

local env = require("support.env")
local files = require("support.files")
local proc = require("support.proc")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

local MiB = 1024 * 1024

after_each(function() files.cleanup() end)

-- a connected pair of streams over a socketpair, closed after the spec
local function streams(opts)
  local a, b = core.socketpair()
  local sa, sb = sockit.stream(a, opts), sockit.stream(b)
  finally(function() sa:close(); sb:close() end)
  return sa, sb
end

-- a file holding `data` in a temporary directory: its path
local function file(data)
  local path = files.tmpdir() .. "/file"
  files.write(path, data)
  return path
end

-- the first word of what `cmd` prints
local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  assert(p:close())
  return out:match("^(%S+)")
end

describe("stream:sendfile", function()
  it("sends a 100 MB file that the reader checks by sha256", function()
    local path = files.tmpdir() .. "/big"
    assert(os.execute(("head -c %d /dev/urandom > %s"):format(100 * MiB,
                      env.quote(path))))
    -- sha256sum and python3 run without the sanitizer runtimes make asan
    -- preloads: not under test
    local want = run("env -u LD_PRELOAD sha256sum " .. env.quote(path))
    local srv = assert(sockit.listen("127.0.0.1", 0))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local reader = "env -u LD_PRELOAD python3 -c %s %d"
    local finish = proc.background(reader:format(env.quote([[
import hashlib, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
h, n = hashlib.sha256(), 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
print(h.hexdigest(), n)
]]), port))
    local conn = assert(srv:accept())
    assert.equal(100 * MiB, conn:sendfile(path))
    conn:close()
    local status, out = finish()
    assert.equal(0, status)
    assert.equal(want .. " " .. 100 * MiB, out:match("^(.-)\n"))
    os.remove(path)
  end)

  it("sends from offset, count bytes", function()
    local a, b = streams()
    local path = file("0123456789")
    assert.equal(4, a:sendfile(path, 3, 4))
    assert.equal(7, a:sendfile(path, 3))
    assert.equal(10, a:sendfile(path))
    a:close()
    assert.equal("34563456789" .. "0123456789", b:read("a"))
  end)

  it("sends what there is of a file shorter than count", function()
    local a, b = streams()
    assert.equal(10, a:sendfile(file("0123456789"), 0, 1000))
    assert.equal(2, a:sendfile(file("0123456789"), 8, 1000))
    a:close()
    assert.equal("012345678989", b:read("a"))
  end)

  it("sends nothing from past the end, or for count 0", function()
    local a, b = streams()
    local path = file("0123456789")
    assert.equal(0, a:sendfile(path, 10))
    assert.equal(0, a:sendfile(path, 100, 5))
    assert.equal(0, a:sendfile(path, 0, 0))
    a:close()
    assert.equal("", b:read("a"))
  end)

  it("sends an open Lua file, its pending writes first, its position kept",
     function()
    local a, b = streams()
    local f = assert(io.tmpfile())
    finally(function() f:close() end)
    f:write("written, not flushed")
    assert.equal(20, a:sendfile(f))
    assert.equal(20, f:seek())
    assert.equal(7, a:sendfile(f, 9, 7))
    a:close()
    assert.equal("written, not flushednot flu", b:read("a"))
  end)

  it("gives the count so far when the peer stops reading", function()
    local path = files.tmpdir() .. "/big"
    assert(os.execute(("head -c %d /dev/zero > %s"):format(32 * MiB,
                      env.quote(path))))
    local a = streams({timeout = 0.05})
    local v, msg, code, sent = a:sendfile(path)
    errs.fails("ETIMEDOUT", v, msg, code)
    assert.is_true(sent > 0 and sent < 32 * MiB)
  end)

  it("fails on a file it cannot open, with the code", function()
    local a = streams()
    errs.fails("ENOENT", a:sendfile("/nonexistent/file"))
  end)

  it("runs inside a task while another task reads", function()
    local a, b = streams()
    local data = ("line of text\n"):rep(100000)
    local path = file(data)
    local sent, got
    sockit.spawn(function()
      sent = a:sendfile(path)
      a:close()
    end)
    sockit.spawn(function() got = b:read("a") end)
    sockit.run()
    assert.equal(#data, sent)
    assert.equal(data, got)
  end)
end)

describe("core.sendfile", function()
  it("is one system call: a part of a large file, then the rest", function()
    local a, b = core.socketpair()
    finally(function() a:close(); b:close() end)
    a:settimeout(0)
    local path = files.tmpdir() .. "/big"
    assert(os.execute(("head -c %d /dev/zero > %s"):format(16 * MiB,
                      env.quote(path))))
    local n = assert(core.sendfile(a, path, 0, 16 * MiB))
    assert.is_true(n > 0 and n < 16 * MiB)
    errs.fails("EAGAIN", core.sendfile(a, path, n, 16 * MiB - n))
  end)
end)
