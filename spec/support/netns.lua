-- Runs dir/child.lua in a child lua5.4 with a network namespace of its
-- own (nothing but loopback, brought up) and a mount namespace where
-- dir/nsswitch.conf and dir/resolv.conf are the system's: for specs that
-- need their own DNS server on 127.0.0.1:53. Root only (unshare, ip).
--
--   local netns = require("support.netns")
--   if not netns.available() then pending(...) return end
--   local out, ok = netns.run(dir)   -- the child's output, and success

local env = require("support.env")

local netns = {}

-- system tools run without make asan's preloaded sanitizer runtime
function netns.available()
  return os.execute("env -u LD_PRELOAD unshare -mn env -u LD_PRELOAD "
                    .. "ip link set lo up >/dev/null 2>&1") == true
end

local INNER = table.concat({
  "ip link set lo up",
  "mount --bind \"$1/nsswitch.conf\" /etc/nsswitch.conf",
  "mount --bind \"$1/resolv.conf\" /etc/resolv.conf",
  "exec env LD_PRELOAD=\"$5\" LUA_PATH=\"$2\" LUA_CPATH=\"$3\" LUA_INIT=\"$6\" "
    .. "\"$4\" \"$1/child.lua\""},
  " && ")

-- gives the child 120 s at most
function netns.run(dir)
  local cmd = table.concat({
    "env -u LD_PRELOAD timeout -k 5 120 unshare -mn sh -c", env.quote(INNER),
    "child", env.quote(dir), env.quote(env.LUA_PATH), env.quote(env.LUA_CPATH),
    env.quote(env.lua), env.quote(os.getenv("LD_PRELOAD") or ""),
    env.quote(env.init), "2>&1"}, " ")
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  return out, p:close()
end

return netns
