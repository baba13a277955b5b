-- spec/support/fdguard.lua, the busted helper every run loads: it makes
-- `finally` keep every function a test gives it (busted itself keeps the
-- last one only), so that what a spec closes there is never left to the
-- collector.

local ran = {}

describe("finally, with the descriptor guard loaded", function()
  it("takes several functions in one test", function()
    finally(function() ran[#ran + 1] = "first" end)
    finally(function() ran[#ran + 1] = "second" end)
  end)

  it("has run each of them, the last one first", function()
    assert.same({"second", "first"}, ran)
  end)
end)
