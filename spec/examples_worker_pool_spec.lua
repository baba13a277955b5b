-- examples/worker_pool.lua, run as a child process: its workers serve
-- connections the listener accepted and passed to them.

local env = require("support.env")
local proc = require("support.proc")
local sockit = require("sockit")

describe("examples/worker_pool.lua", function()
  local server

  after_each(function() proc.stop(server) end)

  it("deals the connections out to its workers in turn", function()
    server = proc.start(env.LUA .. "examples/worker_pool.lua 0 2 4")
    assert.equal("127.0.0.1", server.host)
    local answers = {}
    for i = 1, 4 do
      local conn = assert(sockit.connect("127.0.0.1", server.port,
                                         {timeout = 30}))
      assert(conn:write("hello ", i, "\n"))
      answers[i] = conn:read("l")
      conn:close()
    end
    assert.same({"1: HELLO 1", "2: HELLO 2", "1: HELLO 3", "2: HELLO 4"},
                answers)
    assert.same({true, "exit", 0}, {proc.wait(server)})
  end)
end)
