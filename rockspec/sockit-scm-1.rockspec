package = "sockit"
version = "scm-1"

source = {
  -- for `luarocks make` in a checkout, which builds the files in place and
  -- fetches nothing: no public repository exists to name, so the URL is the
  -- checkout itself. The release rockspec (make dist) names its archive.
  url = ".",
}

description = {
  summary = "Sockets for Lua 5.1-5.4 and LuaJIT: the BSD socket API and a script-friendly layer",
  detailed = [[
sockit.core is a thin, complete binding of the BSD socket API (TCP, UDP,
Unix sockets, options, name resolution, timeouts, an epoll poller).
sockit is a pure-Lua layer on top: connect by name, buffered line reading,
servers, UDP, Unix sockets and a coroutine scheduler for many connections.
sockit.tls adds TLS through OpenSSL, secure by default, to the same streams.
Failures return nil, message, code, where code is the errno name.
]],
  license = "MIT",
}

supported_platforms = { "linux" }

dependencies = {
  "lua >= 5.1, < 5.5",
}

-- sockit.tls links OpenSSL (libssl and libcrypto, 1.1.1 or later; Debian:
-- libssl-dev); sockit.core does not
external_dependencies = {
  OPENSSL = {
    header = "openssl/ssl.h",
    library = "ssl",
  },
}

build = {
  type = "builtin",
  modules = {
    ["sockit.core"] = {
      sources = {
        "csrc/address.c",
        "csrc/batch.c",
        "csrc/buffer.c",
        "csrc/class.c",
        "csrc/core.c",
        "csrc/errors.c",
        "csrc/io.c",
        "csrc/msg.c",
        "csrc/options.c",
        "csrc/poller.c",
        "csrc/reader.c",
        "csrc/resolve.c",
        "csrc/socket.c",
        "csrc/time.c",
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "csrc" },
      -- the resolver thread (part of libc since glibc 2.34, harmless there)
      libraries = { "pthread" },
    },
    ["sockit.tls"] = {
      sources = {
        "csrc/tls.c",
        "csrc/tls_bio.c",
        "csrc/tls_conn.c",
        "csrc/tls_context.c",
        "csrc/tls_info.c",
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "csrc", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)" },
      libraries = { "ssl", "crypto" },
    },
    ["sockit"] = "lua/sockit/init.lua",
    ["sockit.compat"] = "lua/sockit/compat.lua",
    ["sockit.loop"] = "lua/sockit/loop.lua",
    ["sockit.object"] = "lua/sockit/object.lua",
    ["sockit.proto"] = "lua/sockit/proto.lua",
    ["sockit.server"] = "lua/sockit/server.lua",
    ["sockit.stream"] = "lua/sockit/stream.lua",
    ["sockit.tlsopts"] = "lua/sockit/tlsopts.lua",
    ["sockit.udp"] = "lua/sockit/udp.lua",
    ["sockit.util"] = "lua/sockit/util.lua",
    ["sockit.wait"] = "lua/sockit/wait.lua",
  },
  install = {
    bin = { sockit = "bin/sockit" },
  },
}
