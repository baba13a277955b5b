-- Descriptors that are not sockets: core.read and sockit.readfd, what
-- the command reads its standard input with. FIFOs stand for pipes and
-- terminals (poll-able, never at end of file while we hold the writer);
-- regular files are what epoll refuses.

local env = require("support.env")
local fds = require("support.fds")
local files = require("support.files")
local errs = require("support.errs")
local core = env.core()
local sockit = require("sockit")

local function fifo() return files.fifo(finally) end

-- a regular file holding `data`, open for reading: its descriptor number
local function file(data)
  local path = files.tmppath("file")
  files.write(path, data)
  local f = assert(io.open(path, "rb"))
  finally(function() f:close() end)
  return assert(fds.for_path(path))
end

after_each(files.cleanup)

describe("core.read", function()
  it("reads at most n bytes from a descriptor, then \"\" at end of file", function()
    local fd = file("abcdef")
    assert.are.equal("abc", core.read(fd, 3))
    assert.are.equal("def", core.read(fd, 100))
    assert.are.equal("", core.read(fd, 100))
  end)

  it("reads what a pipe holds without waiting for more", function()
    local f, fd = fifo()
    f:write("x\0y")
    f:flush()
    assert.are.equal("x\0y", core.read(fd, 4096))
  end)

  it("fails with EISDIR on a directory and EBADF on a closed number", function()
    local dir = files.tmpdir()
    local d = assert(io.open(dir))
    finally(function() d:close() end)
    errs.fails("EISDIR", core.read(assert(fds.for_path(dir)), 1))
    local s = core.socket("inet", "stream")
    local n = s:fileno()
    s:close()
    errs.fails("EBADF", core.read(n, 1))
  end)

  it("raises on a negative descriptor or a size below 1", function()
    assert.matches("invalid descriptor", errs.raised(core.read, -1, 1))
    assert.matches("at least 1", errs.raised(core.read, 0, 0))
  end)
end)

describe("sockit.readfd", function()
  it("reads a file outside a task, nil at its end", function()
    local fd = file("hello")
    assert.are.equal("hel", sockit.readfd(fd, 3))
    assert.are.equal("lo", sockit.readfd(fd, 10))
    assert.is_nil(sockit.readfd(fd, 10))
  end)

  it("times out on an empty pipe (ETIMEDOUT), or says EAGAIN for 0", function()
    local _, fd = fifo()
    errs.fails("ETIMEDOUT", sockit.readfd(fd, 10, 0.01))
    errs.fails("EAGAIN", sockit.readfd(fd, 10, 0))
  end)

  it("waits in a task while the other tasks run", function()
    local f, fd = fifo()
    local got, order = nil, {}
    sockit.spawn(function()
      order[#order + 1] = "reader waits"
      got = sockit.readfd(fd, 10)
      order[#order + 1] = "reader got"
    end)
    sockit.spawn(function()
      order[#order + 1] = "writer runs"
      f:write("ping")
      f:flush()
    end)
    sockit.run()
    assert.are.equal("ping", got)
    assert.are.same({"reader waits", "writer runs", "reader got"}, order)
  end)

  it("times out in a task too, and reads a file there at once", function()
    local _, fd = fifo()
    local ffd = file("data")
    local r = {}
    sockit.spawn(function()
      r[1] = {sockit.readfd(fd, 10, 0.01)}
      r[2] = {sockit.readfd(fd, 10, 0)}
      r[3] = {sockit.readfd(ffd, 10)}  -- epoll refuses a file: it is ready
      r[4] = {sockit.readfd(ffd, 10)}
    end)
    sockit.run()
    errs.fails("ETIMEDOUT", table.unpack(r[1], 1, 3))
    errs.fails("EAGAIN", table.unpack(r[2], 1, 3))
    assert.are.same({"data"}, r[3])
    assert.are.same({}, r[4])
  end)

  it("fails with EBADF on a number that is not open", function()
    errs.fails("EBADF", sockit.readfd(1000000, 1, 0))
    errs.fails("EBADF", sockit.readfd(1000000, 1))
  end)

  it("raises on a bad descriptor, size or timeout", function()
    assert.matches("#1", errs.raised(sockit.readfd, "0", 1))
    assert.matches("#2", errs.raised(sockit.readfd, 0, 0))
    assert.matches("#3", errs.raised(sockit.readfd, 0, 1, "soon"))
  end)
end)
