# sockit: build, test and install.
#
#   make            build build/sockit/core.so
#   make test       run every spec (installs what the specs need first)
#   make asan       run every spec against an ASan/UBSan build
#   make check      luacheck, plus the README coverage check
#   make rockcheck  build and load the rockspec in a throw-away tree
#   make bench      benchmarks (QUICK=1 for a short run, OUT=file for JSON)
#   make demo       run examples/demo.lua
#   make install    PREFIX=/usr/local DESTDIR=
#
# Every target that needs a tool runs .ci/deps first, which installs what is
# missing (as root, with apt-get) or says exactly what to install.

SHELL := /bin/bash

LUA ?= lua5.4
LUA_VERSION ?= 5.4
LUA_INCDIR ?= /usr/include/lua5.4
CC ?= cc
CFLAGS ?= -O2 -g
LIBFLAG ?= -shared
PREFIX ?= /usr/local
DESTDIR ?=
BUSTED ?= busted
LUACHECK ?= luacheck
LUAROCKS ?= luarocks

WARNINGS := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
	-Wstrict-prototypes -Wcast-qual -Wpointer-arith
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

# _GNU_SOURCE comes from csrc/sockit.h, before any system header.
ALL_CFLAGS = $(CFLAGS) $(WARNINGS) -fPIC -I$(LUA_INCDIR) -Icsrc

SRCS := $(sort $(wildcard csrc/*.c))
HDRS := $(wildcard csrc/*.h)
OBJS := $(patsubst csrc/%.c,build/obj/%.o,$(SRCS))
MODULE := build/sockit/core.so
LUAMODS := $(sort $(wildcard lua/sockit/*.lua))

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -O1 -g
ASAN_OBJS := $(patsubst csrc/%.c,build-asan/obj/%.o,$(SRCS))
ASAN_MODULE := build-asan/sockit/core.so

# How Lua finds the work tree's modules; exported so that child processes a
# spec starts find the same ones.
LUA_PATH_DEV := lua/?.lua;lua/?/init.lua;;
RUN_ENV = LUA_PATH='$(LUA_PATH_DEV)' LUA_CPATH='build/?.so;;'
ASAN_RUN_ENV = LUA_PATH='$(LUA_PATH_DEV)' LUA_CPATH='build-asan/?.so;;'

# The scheduler specs open thousands of descriptors.  Root may raise the hard
# limit; anyone else gets as much as the hard limit allows.
RAISE_NOFILE = { ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; }

DEPS = LUA='$(LUA)' LUA_INCDIR='$(LUA_INCDIR)' CC='$(CC)' .ci/deps

.PHONY: all build test asan check rockcheck bench demo install uninstall clean \
	deps-build deps-asan

all: build

build: $(MODULE)

$(MODULE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(LDFLAGS) -o $@ $(OBJS)

# Order-only: the check runs on every build but never forces a rebuild.
build/obj/%.o: csrc/%.c $(HDRS) Makefile | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

deps-build:
	@$(DEPS) build

# The test deps first, so that a fresh machine gets one apt-get run.
test:
	@$(DEPS) test
	@$(MAKE) --no-print-directory build
	$(RAISE_NOFILE) && $(RUN_ENV) $(BUSTED) --lua=$(LUA) spec/

# lua5.4 itself is not instrumented, so the sanitizer runtimes are preloaded.
# Leak detection is off: LSan reports the allocations lua5.4, busted and the
# servers the specs start (socat, python3, nginx) make and never free at exit,
# which would drown any report about sockit; valgrind covers leaks instead.
ASAN_PRELOAD = $$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)
ASAN_ENV = LD_PRELOAD="$(ASAN_PRELOAD)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

asan:
	@$(DEPS) test
	@$(DEPS) asan
	@$(MAKE) --no-print-directory $(ASAN_MODULE)
	$(RAISE_NOFILE) && $(ASAN_RUN_ENV) $(ASAN_ENV) $(BUSTED) --lua=$(LUA) --run=asan spec/

$(ASAN_MODULE): $(ASAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $(ASAN_OBJS)

build-asan/obj/%.o: csrc/%.c $(HDRS) Makefile | deps-asan
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_FLAGS) $(WARNINGS) -fPIC -I$(LUA_INCDIR) -Icsrc -c -o $@ $<

deps-asan:
	@$(DEPS) asan

check:
	@$(DEPS) check
	$(LUACHECK) lua/ spec/ $(wildcard examples) $(wildcard bench)
	@if [ -e .ci/doccheck ]; then echo ".ci/doccheck"; \
		if [ -x .ci/doccheck ]; then .ci/doccheck; else $(SHELL) .ci/doccheck; fi; fi

# Offline: the rockspec needs nothing but Lua.  The tree is the only place
# the check lets Lua look, so a module that loads came from the rock.
rockcheck:
	@$(DEPS) rock
	@set -e; tree=$$(mktemp -d "$${TMPDIR:-/tmp}/sockit-rock.XXXXXX"); \
	trap 'rm -rf "$$tree"' EXIT; \
	echo "$(LUAROCKS) --lua-version=$(LUA_VERSION) --tree $$tree make rockspec/sockit-scm-1.rockspec"; \
	$(LUAROCKS) --lua-version=$(LUA_VERSION) --tree "$$tree" \
		make rockspec/sockit-scm-1.rockspec LUA_INCDIR='$(LUA_INCDIR)'; \
	LUA_PATH="$$tree/share/lua/$(LUA_VERSION)/?.lua;$$tree/share/lua/$(LUA_VERSION)/?/init.lua" \
	LUA_CPATH="$$tree/lib/lua/$(LUA_VERSION)/?.so" \
	$(LUA) -e ' \
		local core, sockit = require "sockit.core", require "sockit"; \
		assert(type(core) == "table" and type(sockit) == "table"); \
		print("rockcheck: loaded " .. package.searchpath("sockit.core", package.cpath)); \
		print("rockcheck: loaded " .. package.searchpath("sockit", package.path))'

bench:
	@$(DEPS) bench
	@$(MAKE) --no-print-directory build
	@test -e bench/run.lua || { echo "make bench: bench/run.lua does not exist yet" >&2; exit 1; }
	$(RUN_ENV) CC='$(CC)' QUICK='$(QUICK)' OUT='$(OUT)' $(LUA) bench/run.lua

demo:
	@$(DEPS) demo
	@$(MAKE) --no-print-directory build
	@test -e examples/demo.lua || { echo "make demo: examples/demo.lua does not exist yet" >&2; exit 1; }
	$(RUN_ENV) $(LUA) examples/demo.lua

install: build
	install -d '$(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/sockit'
	install -m 755 $(MODULE) '$(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/sockit/core.so'
	install -d '$(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/sockit'
	$(if $(LUAMODS),install -m 644 $(LUAMODS) '$(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/sockit/')

uninstall:
	rm -f '$(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/sockit/core.so'
	rm -f $(patsubst lua/sockit/%,'$(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/sockit/%',$(LUAMODS))
	-rmdir '$(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/sockit' '$(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/sockit'

clean:
	rm -rf build build-asan
