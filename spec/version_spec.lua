-- The version: defined once in csrc/sockit.h, given by both modules.
local env = require("support.env")
local files = require("support.files")
local core = env.core()
local sockit = require("sockit")

local defined = files.read(env.root .. "/csrc/sockit.h")
  :match('\n#define SOCKIT_VERSION%s+"([^"]*)"')

describe("_VERSION", function()
  it("is defined once in csrc/sockit.h as MAJOR.MINOR.PATCH", function()
    assert.is_string(defined)
    assert.truthy(defined:match("^%d+%.%d+%.%d+$"), defined)
  end)

  it("of sockit.core is the one sockit.h defines", function()
    assert.equal(defined, core._VERSION)
  end)

  it("of sockit is sockit.core's", function()
    assert.equal(core._VERSION, sockit._VERSION)
  end)
end)
