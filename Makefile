# sockit: build, test and install the Lua 5.4 socket library.
#
#   make            build build/sockit/core.so
#   make test       run every spec (busted) against it (SPECS=spec/x_spec.lua
#                   for some of them)
#   make asan       the same under AddressSanitizer and UBSan
#   make valgrind   the same under valgrind's memcheck (every lua5.4 it starts)
#   make fuzz       fuzz the address and option code for FUZZ_SECONDS (60)
#   make check      luacheck and the documentation check
#   make rockcheck  build and load the rock in a scratch tree
#   make demo | bench | install | clean
#   make bench-c10k 10,000 loopback connections held by the scheduler
#                   (CONNS=n for another count)
#   make build-poll the module with the poll(2) poller, in build/poll/
#
# Targets that need tools first run .ci/deps, which installs the missing
# Debian packages when run as root, or says what to install.

LUA         ?= lua5.4
LUA_VERSION ?= 5.4
LUA_INCDIR  ?= /usr/include/lua5.4
CFLAGS      ?= -O2 -g
LIBFLAG     ?= -shared
PREFIX      ?= /usr/local
DESTDIR     ?=
LUA_CMODDIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_LMODDIR ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BUSTED      ?= busted
LUACHECK    ?= luacheck
LUAROCKS    ?= luarocks
ASAN_CC     ?= gcc
SPECS       ?= spec
WERROR      ?=
# resolve.c runs getaddrinfo on a thread (in libc itself since glibc 2.34)
LIBS        ?= -pthread

export CC LUA LUA_INCDIR

WARNINGS := -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wcast-qual -Wpointer-arith
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
ALL_CFLAGS = $(WARNINGS) -fPIC -I$(LUA_INCDIR) -Icsrc $(CFLAGS)
ASAN_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined -O1 -g

SRCS    := $(wildcard csrc/*.c)
HDRS    := $(wildcard csrc/*.h)
OBJS    := $(SRCS:csrc/%.c=build/obj/%.o)
MODULE  := build/sockit/core.so
AOBJS   := $(SRCS:csrc/%.c=build-asan/obj/%.o)
AMODULE := build-asan/sockit/core.so
LUAMODS := $(wildcard lua/sockit/*.lua)

# The module never links against liblua: the host's symbols resolve it.
LINK = $(CC) $(LIBFLAG) -o $@ $^ $(LDFLAGS) $(LIBS)

# Specs and programs run from the work tree with these paths.
RUN_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;'

# Specs run where names resolve from a fixed hosts file only: no lookup
# leaves the machine (spec/support/isolate).
ISOLATE = spec/support/isolate

# The scheduler specs open thousands of descriptors.
RAISE_NOFILE = ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)"

.PHONY: all build test asan asan-build valgrind fuzz install demo bench \
        check \
        rockcheck bench-c10k build-poll \
        clean FORCE

all: build

build: $(MODULE)

$(OBJS) $(AOBJS): | deps-build

.PHONY: deps-build
deps-build:
	@.ci/deps build

# Objects are rebuilt when the flags change (WERROR=1, CFLAGS=...).
build/obj/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS)' > $@

build-asan/obj/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(ASAN_CC) $(ALL_CFLAGS) $(ASAN_CFLAGS)' | cmp -s - $@ || \
	  echo '$(ASAN_CC) $(ALL_CFLAGS) $(ASAN_CFLAGS)' > $@

build/obj/%.o: csrc/%.c $(HDRS) build/obj/.flags
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build-asan/obj/%.o: csrc/%.c $(HDRS) build-asan/obj/.flags
	$(ASAN_CC) $(ALL_CFLAGS) $(ASAN_CFLAGS) -c -o $@ $<

$(MODULE): $(OBJS)
	@test -n "$(SRCS)" || { echo "make: no csrc/*.c to build" >&2; exit 1; }
	@mkdir -p $(@D)
	$(LINK)

$(AMODULE): $(AOBJS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(LIBFLAG) -fsanitize=address,undefined -o $@ $^ $(LDFLAGS) $(LIBS)

test:
	@.ci/deps test
	@$(MAKE) --no-print-directory build
	$(RAISE_NOFILE); $(RUN_ENV) $(ISOLATE) $(BUSTED) --lua=$(LUA) $(SPECS)

# lua5.4 is not instrumented, so the sanitizer runtimes are preloaded; every
# process the specs start inherits them. ASan writes each report to a file in
# build-asan/reports/, so one from a child process fails the run too; UBSan
# (GCC's runtime ignores log_path) writes to stderr, which is kept in
# build-asan/busted.log and searched.
# Leak detection is on: lua5.4 and busted exit clean under LSan. The other
# programs the specs run (mktemp, socat, python3, nginx...) leak at exit by
# design; a leak report fails the run only when its stacks go through Lua or
# sockit.core, and the others are counted and left in build-asan/reports/.
# The instrumented build uses GCC ($(ASAN_CC)), whose runtimes are preloaded.
ASAN_LIBS = $$($(ASAN_CC) -print-file-name=libasan.so) \
            $$($(ASAN_CC) -print-file-name=libubsan.so)
ASAN_REPORTS = $(CURDIR)/build-asan/reports
ASAN_ENV = LD_PRELOAD="$(ASAN_LIBS)" \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:log_path=$(ASAN_REPORTS)/asan \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_OURS = liblua|/lua5\.[0-9]|sockit/core\.so|csrc/

asan:
	@.ci/deps asan
	@$(MAKE) --no-print-directory asan-build
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@$(RAISE_NOFILE); \
	{ $(ISOLATE) env $(ASAN_ENV) LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build-asan/?.so;;' \
	    $(BUSTED) --lua=$(LUA) --cpath='build-asan/?.so' $(SPECS) 2>&1; \
	  echo $$? > build-asan/busted.status; } | tee build-asan/busted.log; \
	status=$$(cat build-asan/busted.status); reports=0 foreign=0; \
	for f in $(ASAN_REPORTS)/*; do \
	  [ -e "$$f" ] || continue; \
	  if grep -q 'ERROR: LeakSanitizer' "$$f" && ! grep -qE '$(ASAN_OURS)' "$$f"; \
	  then foreign=$$((foreign + 1)); mv "$$f" "$$f.foreign"; continue; fi; \
	  cat "$$f" >&2; reports=$$((reports + 1)); \
	done; \
	ub=$$(grep -c 'runtime error:' build-asan/busted.log); \
	[ $$foreign -eq 0 ] || \
	  echo "make asan: $$foreign leak reports from other programs ignored ($(ASAN_REPORTS)/*.foreign)"; \
	if [ $$((reports + ub)) -ne 0 ]; then \
	  echo "make asan: $$reports ASan/LSan reports above, $$ub UBSan reports in build-asan/busted.log" >&2; \
	  exit 1; \
	fi; \
	exit $$status

# The preloaded runtime must be the one the module was linked against.
asan-build: $(AMODULE)
	@LD_PRELOAD="$(ASAN_LIBS)" LUA_CPATH='build-asan/?.so' \
	  $(LUA) -e 'require "sockit.core"' || \
	  { echo "make asan: the instrumented module does not load" >&2; exit 1; }

# Every spec under valgrind's memcheck. Each lua5.4 the run starts (busted
# itself, the child scripts and examples the specs spawn) goes through a
# wrapper put first on PATH, which execs valgrind; the other programs (sh,
# socat, nginx, python3...) run natively, which keeps the run to a few
# minutes where tracing every child takes several times longer. Each
# process writes build/valgrind/logs/vg.<pid>.log; one with a memory error
# or a definite leak fails the run ("possibly lost" blocks stay in the logs:
# the C library's own, a resolver thread still running at exit). The
# suppressions (spec/valgrind.supp) cover Lua itself only, and say why.
# The descriptor-leak guard (spec/support/fdguard.lua) runs too.
VALGRIND    ?= valgrind
VG_DIR       = $(CURDIR)/build/valgrind
VG_OPTS      = --leak-check=full --errors-for-leak-kinds=definite \
               --error-exitcode=1 --num-callers=40 \
               --suppressions=$(CURDIR)/spec/valgrind.supp \
               --log-file=$(VG_DIR)/logs/vg.%p.log

valgrind:
	@.ci/deps valgrind
	@$(MAKE) --no-print-directory build
	@rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)/bin $(VG_DIR)/logs
	@real=$$(command -v $(LUA)) && busted=$$(command -v $(BUSTED)) || \
	  { echo "make valgrind: $(LUA) or $(BUSTED) not found" >&2; exit 1; }; \
	  wrapper=$(VG_DIR)/bin/$(notdir $(LUA)); \
	  printf '#!/bin/sh\nexec %s %s %s "$$@"\n' '$(VALGRIND)' '$(VG_OPTS)' \
	    "$$real" > "$$wrapper" && chmod 755 "$$wrapper" || exit 1; \
	  $(RAISE_NOFILE); start=$$(date +%s); \
	  PATH="$(VG_DIR)/bin:$$PATH" LUA="$$wrapper" $(RUN_ENV) $(ISOLATE) "$$wrapper" \
	    "$$busted" --ignore-lua --helper=spec/support/fdguard.lua $(SPECS); \
	  status=$$?; bad=0; \
	  for f in $(VG_DIR)/logs/vg.*.log; do \
	    grep -q 'ERROR SUMMARY: [1-9]' "$$f" || continue; \
	    cat "$$f" >&2; bad=$$((bad + 1)); \
	  done; \
	  echo "make valgrind: $$(ls $(VG_DIR)/logs | wc -l) lua processes checked" \
	    "in $$(($$(date +%s) - start)) s, $$bad with errors (logs in $(VG_DIR)/logs)"; \
	  [ $$bad -eq 0 ] || exit 1; \
	  exit $$status

# The poller's poll(2) fallback, built beside the epoll one:
# spec/poller_spec.lua runs its cases against both.
POBJS   := $(SRCS:csrc/%.c=build/poll/obj/%.o)
PMODULE := build/poll/sockit/core.so

build-poll: $(PMODULE)

$(POBJS): | deps-build

build/poll/obj/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) -DSOCKIT_USE_POLL' | cmp -s - $@ || \
	  echo '$(CC) $(ALL_CFLAGS) -DSOCKIT_USE_POLL' > $@

build/poll/obj/%.o: csrc/%.c $(HDRS) build/poll/obj/.flags
	$(CC) $(ALL_CFLAGS) -DSOCKIT_USE_POLL -c -o $@ $<

$(PMODULE): $(POBJS)
	@mkdir -p $(@D)
	$(LINK)

# The scheduler holding 10,000 connections at once: a server and its
# clients, in two processes since each end takes a descriptor.
bench-c10k:
	@.ci/deps build
	@$(MAKE) --no-print-directory build
	$(RAISE_NOFILE); $(RUN_ENV) $(if $(CONNS),CONNS='$(CONNS)') \
	  $(LUA) bench/c10k.lua

# A fuzz target (spec/fuzz/fuzz_core.c) for the C code that turns Lua values
# into socket addresses and option values, linked with csrc/*.c and liblua
# (the module itself never links liblua). spec/fuzz/run.sh builds it with
# clang's libFuzzer, installing clang and its runtime when it can, or else
# with $(ASAN_CC) and a seeded random driver, both under ASan and UBSan;
# it replays spec/fuzz/regressions/ and fuzzes for FUZZ_SECONDS, in a
# network namespace of its own where allowed; the harness refuses any
# address outside loopback and any name lookup. Findings go to build/fuzz/.
FUZZ_SECONDS ?= 60

fuzz:
	@.ci/deps build
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' ASAN_CC='$(ASAN_CC)' \
	  LUA_INCDIR='$(LUA_INCDIR)' spec/fuzz/run.sh

install: build
	install -d $(DESTDIR)$(LUA_CMODDIR)/sockit $(DESTDIR)$(LUA_LMODDIR)/sockit
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_CMODDIR)/sockit/core.so
	$(if $(LUAMODS),install -m 644 $(LUAMODS) $(DESTDIR)$(LUA_LMODDIR)/sockit/)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 bin/sockit $(DESTDIR)$(PREFIX)/bin/sockit

demo:
	@.ci/deps demo
	@$(MAKE) --no-print-directory build
	@test -f examples/demo.lua || \
	  { echo "make demo: examples/demo.lua does not exist yet" >&2; exit 1; }
	$(RUN_ENV) $(LUA) examples/demo.lua

# bench/run.lua reads QUICK and OUT from the environment and may compile
# its C baselines with $(CC).
bench:
	@.ci/deps bench
	@$(MAKE) --no-print-directory build
	@test -f bench/run.lua || \
	  { echo "make bench: bench/run.lua does not exist yet" >&2; exit 1; }
	$(RAISE_NOFILE); $(RUN_ENV) $(if $(QUICK),QUICK='$(QUICK)') \
	  $(if $(OUT),OUT='$(OUT)') $(LUA) bench/run.lua

LINT_DIRS = $(wildcard lua spec examples bench bin/sockit)

check:
	@.ci/deps check
	@echo $(LUACHECK) $(LINT_DIRS)
	@$(LUACHECK) $$([ -t 1 ] || echo --no-color) $(LINT_DIRS)
	@if [ -e .ci/doccheck ]; then \
	  echo .ci/doccheck; \
	  if [ -x .ci/doccheck ]; then .ci/doccheck; \
	  else echo "make check: .ci/doccheck is not executable" >&2; exit 1; fi; \
	fi

# The rockspec lists its sources by hand: check it names every csrc/*.c and
# lua/sockit/*.lua and nothing else, then build a copy of the sources offline
# (luarocks make builds in place) into a scratch tree and load both modules
# from that tree alone.
ROCKSPEC = rockspec/sockit-scm-1.rockspec

define ROCK_SYNC_LUA
local spec = {}
assert(loadfile(arg[1], "t", spec))()
local mods, listed, bad = spec.build.modules, {}, 0
for _, f in ipairs(mods["sockit.core"].sources) do listed[f] = true end
for _, f in pairs(mods) do
  if type(f) == "string" then listed[f] = true end
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
os.exit(bad == 0)
endef

define ROCK_LOAD_LUA
local tree = arg[1]
local function load(name, path)
  local where = assert(package.searchpath(name, path))
  assert(where:find(tree, 1, true), name .. " found outside the tree")
  require(name)
  print("rockcheck: " .. name .. " loads from " .. where)
end
load("sockit.core", package.cpath)
load("sockit", package.path)
endef
export ROCK_SYNC_LUA ROCK_LOAD_LUA

rockcheck:
	@.ci/deps rock
	@printf "%s\n" "$$ROCK_SYNC_LUA" | $(LUA) - $(ROCKSPEC) $(SRCS) $(LUAMODS)
	@tree=$$(mktemp -d "$${TMPDIR:-/tmp}/sockit-rock.XXXXXX") && \
	trap 'rm -rf "$$tree"' EXIT && \
	mkdir "$$tree/src" && cp -R csrc rockspec $(wildcard lua bin) "$$tree/src/" && \
	(cd "$$tree/src" && \
	 $(LUAROCKS) --lua-version=$(LUA_VERSION) make --tree "$$tree" \
	   $(ROCKSPEC) LUA_INCDIR='$(LUA_INCDIR)') && \
	printf "%s\n" "$$ROCK_LOAD_LUA" | \
	LUA_PATH="$$tree/share/lua/$(LUA_VERSION)/?.lua;$$tree/share/lua/$(LUA_VERSION)/?/init.lua" \
	LUA_CPATH="$$tree/lib/lua/$(LUA_VERSION)/?.so" $(LUA) - "$$tree"

clean:
	rm -rf build build-asan

FORCE:
