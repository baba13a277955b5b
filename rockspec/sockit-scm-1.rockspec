package = "sockit"
version = "scm-1"

source = {
   url = "git+https://example.org/sockit/sockit.git",
   branch = "main",
}

description = {
   summary = "BSD sockets for Lua 5.4: a thin C binding and a buffered Lua layer",
   detailed = [[
sockit.core binds the BSD socket API one call to one system call: TCP, UDP
and Unix sockets over IPv4 and IPv6, timeouts, options, name resolution and
an epoll poller. sockit, in Lua, adds connect-by-name, buffered streams that
read like Lua files, servers, UDP and a coroutine scheduler.
]],
   homepage = "https://example.org/sockit",
   license = "MIT",
}

dependencies = {
   "lua >= 5.4, < 5.5",
}

build = {
   type = "builtin",
   modules = {
      ["sockit.core"] = {
         -- every csrc/*.c; `make rockcheck` fails when one is missing
         sources = {
            "csrc/address.c",
            "csrc/buffer.c",
            "csrc/core.c",
            "csrc/errors.c",
            "csrc/io.c",
            "csrc/options.c",
            "csrc/socket.c",
            "csrc/time.c",
         },
         defines = { "_GNU_SOURCE" },
         incdirs = { "csrc" },
      },
   },
}
