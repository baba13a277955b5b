-- luacheck configuration (make check)
std = "lua54"
max_line_length = 100
codes = true

files["spec"] = {
  std = "+busted",
}
