-- rocksources.lua ROCKSPEC FILE...: checks that ROCKSPEC's build.modules
-- list every FILE (the csrc/*.c and lua/sockit/*.lua of the tree) and
-- nothing else; the rockspec lists its sources by hand.
local spec = {}
local chunk = assert(loadfile(arg[1], "t", spec))
if setfenv then setfenv(chunk, spec) end  -- Lua 5.1's loadfile takes no env
chunk()
local listed, bad = {}, 0
for _, m in pairs(spec.build.modules) do
  for _, f in ipairs(type(m) == "table" and m.sources or {m}) do
    listed[f] = true
  end
end
for i = 2, #arg do
  if not listed[arg[i]] then
    io.stderr:write(arg[1], " does not list ", arg[i], "\n"); bad = bad + 1
  end
  listed[arg[i]] = nil
end
for f in pairs(listed) do
  io.stderr:write(arg[1], " lists ", f, ", which does not exist\n"); bad = bad + 1
end
os.exit(bad == 0 and 0 or 1)
