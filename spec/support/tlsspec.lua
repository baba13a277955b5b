-- What the TLS specs share: sockit.tls if it is built, the test PKI, a
-- describe that is one pending spec saying why when sockit.tls is missing,
-- and deferred clean-ups.
--
--   local tlsspec = require("support.tlsspec")
--   local tls, pki = tlsspec.tls, tlsspec.pki
--   local describe_tls, defer = tlsspec.helpers(describe, pending, after_each)
--
-- (busted's functions are passed in: a spec file has them in its own
-- environment, a required module does not.)

local tlsspec = {}

local built, tls = pcall(require, "sockit.tls")
if built then
  tlsspec.tls = tls
  tlsspec.pki = require("support.pki").get()
end

-- For one spec file: describe_tls(name, body), which is describe or one
-- pending spec giving the reason; and defer(fn), which runs fn after the
-- test (busted keeps one `finally` a test), the last deferred first, every
-- one even when one fails.
function tlsspec.helpers(describe, pending, after_each)
  local function describe_tls(name, body)
    describe(name, function()
      if not built then
        pending("sockit.tls is not built: " .. tostring(tls):match("[^\n]*"))
        return
      end
      body()
    end)
  end
  local deferred = {}
  after_each(function()
    local ok, err = true, nil
    for i = #deferred, 1, -1 do
      local done, why = pcall(deferred[i])
      if ok and not done then ok, err = false, why end
      deferred[i] = nil
    end
    assert(ok, err)
  end)
  return describe_tls, function(fn) deferred[#deferred + 1] = fn end
end

return tlsspec
