-- Checks of what a call gave back: a fail tuple, or a raised error.
--
--   local errs = require("support.errs")
--   errs.fails("ECONNREFUSED", sock:connect(host, port))

local errs = {}

-- Checks a fail tuple: nil, a message string, then the expected code (or
-- one of a list of codes). Gives back the message for further checks.
function errs.fails(code, ...)
  local n = select("#", ...)
  local v, msg, got = ...
  assert(v == nil, "expected a fail tuple, got " .. tostring(v), 2)
  assert(type(msg) == "string" and #msg > 0,
         "fail tuple without a message (" .. tostring(msg) .. ")", 2)
  assert(n == 3, "fail tuple of " .. n .. " values", 2)
  if type(code) == "table" then
    for _, c in ipairs(code) do
      if c == got then return msg end
    end
    error(("expected code in {%s}, got %s (%s)"):format(
      table.concat(code, ", "), tostring(got), msg), 2)
  end
  assert(got == code, ("expected code %s, got %s (%s)"):format(
    code, tostring(got), msg), 2)
  return msg
end

-- The error message `fn(...)` raised; fails if it returned instead.
function errs.raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error")
  return err
end

return errs
