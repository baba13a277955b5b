# sockit: build, test and install the Lua 5.4 socket library.
#   make            build build/sockit/core.so (build-poll: build/poll/, poll(2));
#                   LUA=lua5.1|lua5.2|lua5.3|luajit: build/<5.x|luajit>/ instead
#   make test       run every spec against it (SPECS=spec/x_spec.lua for some)
#   make asan       the same under ASan and UBSan, then (with clang) under
#                   clang's UBSan with float-cast-overflow (.ci/asan)
#   make valgrind   the same under valgrind's memcheck (.ci/valgrind)
#   make fuzz       fuzz the address and option code for FUZZ_SECONDS (60)
#   make check      luacheck and the documentation check
#   make rockcheck  build and load the rock in a scratch tree (.ci/rockcheck)
#   make dist       dist/sockit-X.Y.Z.tar.gz, its rockspec and .src.rock
#   make distcheck  make dist, then install the .src.rock offline and load it
#   make demo | bench | install | clean
#   make bench-c10k 10,000 loopback connections held by the scheduler (CONNS=n)
# Targets first run .ci/deps: it installs missing Debian packages, or names them.

# LUA (lua5.1|lua5.2|lua5.3|lua5.4|luajit) sets the version, headers and build.
LUA         ?= lua5.4
JIT         := $(findstring luajit,$(notdir $(LUA)))
LUA_VERSION ?= $(if $(JIT),5.1,$(patsubst lua%,%,$(notdir $(LUA))))
LUA_INCDIR  ?= /usr/include/$(if $(JIT),luajit-2.1,lua$(LUA_VERSION))
BUILD       ?= build$(if $(filter-out 5.4,$(LUA_VERSION))$(JIT),/$(or $(JIT),$(LUA_VERSION)))
CFLAGS      ?= -O2 -g
LIBFLAG     ?= -shared
PREFIX      ?= /usr/local
LUA_CMODDIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_LMODDIR ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BUSTED      ?= busted
LUACHECK    ?= luacheck
LUAROCKS    ?= luarocks
VALGRIND    ?= valgrind
ASAN_CC     ?= gcc
TRAP_CC     ?= clang
SPECS       ?= spec
# resolve.c runs getaddrinfo on a thread (in libc itself since glibc 2.34)
LIBS        ?= -pthread
# The one version number, defined in csrc/sockit.h.
VERSION := $(shell sed -n 's/^.define SOCKIT_VERSION *"\([^"]*\)".*/\1/p' csrc/sockit.h)
WARNINGS := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wcast-qual -Wpointer-arith
ALL_CFLAGS = $(WARNINGS) $(if $(filter 1,$(WERROR)),-Werror) -fPIC \
             -I$(LUA_INCDIR) -Icsrc $(CFLAGS)
ASAN_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined -O1 -g
ASAN_LDFLAGS = -fsanitize=address,undefined
# clang checks float-to-int casts (GCC's UBSan does not); any report aborts
TRAP_CFLAGS = -fsanitize=undefined,float-cast-overflow \
              -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g
SRCS    := $(filter-out csrc/tls%,$(wildcard csrc/*.c))
TLSSRCS := $(wildcard csrc/tls*.c)
HDRS    := $(wildcard csrc/*.h)
LUAMODS := $(wildcard lua/sockit/*.lua)

# Programs run from the work tree with these paths; specs run where names
# resolve from a fixed hosts file only (spec/support/isolate).
RUN_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(BUILD)/?.so;;'
ISOLATE = spec/support/isolate
# The scheduler specs open thousands of descriptors.
RAISE_NOFILE = ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"
DEPS = @.ci/deps
export CC LUA LUA_INCDIR LUA_VERSION BUILD BUSTED LUAROCKS VALGRIND ASAN_CC TRAP_CC \
       SPECS ISOLATE VERSION

.PHONY: all build build-poll asan-build trap-build deps-build test asan valgrind \
        fuzz check rockcheck dist distcheck install demo bench bench-c10k clean FORCE

all: build
build: $(BUILD)/all
build-poll: $(BUILD)/poll/sockit/core.so
asan-build: build-asan/all
trap-build: build-trap/all
deps-build:
	$(DEPS) build

# One object tree per variant: $(call variant,DIR,COMPILER,CFLAGS,LDFLAGS).
# Objects are rebuilt when the flags change (WERROR=1, CFLAGS=...); the
# modules never link against liblua: the host's symbols resolve them.
# DIR/all is sockit.core, and sockit.tls where OpenSSL is (.ci/tlsbuild).
define variant
$(1)/obj/.flags: FORCE
	@mkdir -p $$(@D)
	@echo '$(2) $$(ALL_CFLAGS) $(3)' | cmp -s - $$@ || \
	  echo '$(2) $$(ALL_CFLAGS) $(3)' > $$@
$(1)/obj/%.o: csrc/%.c $$(HDRS) $(1)/obj/.flags | deps-build
	$(2) $$(ALL_CFLAGS) $(3) -c -o $$@ $$<
$(1)/sockit/core.so: $$(SRCS:csrc/%.c=$(1)/obj/%.o)
	@mkdir -p $$(@D)
	$(2) $$(LIBFLAG) $(4) -o $$@ $$^ $$(LDFLAGS) $$(LIBS)
$(1)/sockit/tls.so: $$(TLSSRCS:csrc/%.c=$(1)/obj/%.o)
	$(2) $$(LIBFLAG) $(4) -o $$@ $$^ $$(LDFLAGS) -lssl -lcrypto
$(1)/all: $(1)/sockit/core.so FORCE
	@CFLAGS='$$(CFLAGS)' .ci/tlsbuild $(1) $$(MAKE)
endef
$(eval $(call variant,$(BUILD),$$(CC)))
$(eval $(call variant,$(BUILD)/poll,$$(CC),-DSOCKIT_USE_POLL))
$(eval $(call variant,build-asan,$$(ASAN_CC),$$(ASAN_CFLAGS),$$(ASAN_LDFLAGS)))
$(eval $(call variant,build-trap,$$(TRAP_CC),$$(TRAP_CFLAGS),$$(TRAP_CFLAGS)))

test: build
	$(DEPS) test
	$(RAISE_NOFILE); $(RUN_ENV) $(ISOLATE) $(BUSTED) --lua=$(LUA) --cpath='$(BUILD)/?.so' $(SPECS)

# The trap build is made only where $(TRAP_CC) exists; .ci/asan says so.
asan:
	$(DEPS) asan
	@$(MAKE) --no-print-directory asan-build \
	  $(if $(shell command -v $(TRAP_CC)),trap-build)
	@$(RAISE_NOFILE); .ci/asan

valgrind: build
	$(DEPS) valgrind
	@$(RAISE_NOFILE); .ci/valgrind

fuzz: deps-build
	spec/fuzz/run.sh

check: build
	$(DEPS) check
	$(LUACHECK) $$([ -t 1 ] || echo --no-color) $(wildcard lua spec examples bench bin/sockit)
	.ci/doccheck

rockcheck:
	$(DEPS) rock
	@.ci/rockcheck $(SRCS) $(TLSSRCS) $(LUAMODS)

dist distcheck:
	$(DEPS) dist
	@.ci/$@

install: build
	@.ci/install $(DESTDIR)$(LUA_CMODDIR) $(DESTDIR)$(LUA_LMODDIR) $(DESTDIR)$(PREFIX)/bin

demo: build
	$(DEPS) demo
	$(RUN_ENV) $(LUA) examples/demo.lua

# bench/run.lua reads QUICK, OUT and CC from the environment (bench/README.md).
bench: build
	$(DEPS) bench
	$(RAISE_NOFILE); $(RUN_ENV) $(LUA) bench/run.lua

# A server and its clients in two processes, since each end takes a descriptor.
bench-c10k: build
	$(RAISE_NOFILE); $(RUN_ENV) $(LUA) bench/c10k.lua

clean:
	rm -rf build build-asan build-trap dist

FORCE:
