-- The connects of the Happy Eyeballs specs' children: each case is
-- {name, opts}, connected to port with a 1 s timeout, first outside a
-- task, then each in a task of its own, all at once. report(i, ...)
-- makes the line of case i of what sockit.connect returned; the lines
-- are printed, "outside" ones, then "inside" ones, in the cases' order.
--
--   require("support.eyecases")(CASES, port, report)

local sockit = require("sockit")

return function(cases, port, report)
  local function run(i)
    local opts = {timeout = 1}
    for k, v in pairs(cases[i][2]) do opts[k] = v end
    return report(i, sockit.connect(cases[i][1], port, opts))
  end
  for i = 1, #cases do print("outside " .. run(i)) end
  local lines = {}
  for i = 1, #cases do
    sockit.spawn(function() lines[i] = "inside " .. run(i) end)
  end
  sockit.run()
  print(table.concat(lines, "\n"))
end
