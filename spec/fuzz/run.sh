#!/bin/sh
# Builds and runs the fuzz target spec/fuzz/fuzz_core.c (make fuzz).
#
#   FUZZ_SECONDS=60 spec/fuzz/run.sh
#
# With clang's libFuzzer (clang and libclang-rt-N-dev; installed with
# apt-get when missing and run as root), the target is built with
# -fsanitize=fuzzer,address,undefined and fuzzed, coverage-guided, for
# FUZZ_SECONDS; its corpus is kept in build/fuzz/corpus between runs.
# Without it, the same target is built with $ASAN_CC under ASan and UBSan
# and run by its own seeded random driver for FUZZ_SECONDS.
#
# libFuzzer starts from build/fuzz/corpus and the hand-made inputs in
# spec/fuzz/seeds/ (one per kind of call, with sound arguments). The inputs
# in spec/fuzz/regressions/ (what earlier runs found) are replayed first,
# each on its own. SOCKIT_FUZZ_TRACE=1 makes the target print every call
# and its results, to read what an input does. The target runs in build/fuzz/work, in a
# private network namespace with only a loopback interface where the
# kernel allows one (unshare -n); the harness itself refuses any address
# outside loopback and any name lookup, namespace or not. The last line
# says how many inputs ran; the exit status is non-zero if any failed.
set -u

cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CC=${FUZZ_CC:-clang}
ASAN_CC=${ASAN_CC:-gcc}
LUA_INCDIR=${LUA_INCDIR:-/usr/include/lua5.4}
LUA_LIB=${LUA_LIB:--llua5.4}
out=$root/build/fuzz
bin=$out/fuzz_core

WRAP="-Wl,--wrap=connect,--wrap=bind,--wrap=sendto,--wrap=setsockopt"
WRAP="$WRAP,--wrap=getaddrinfo,--wrap=getnameinfo"
SANITIZE="-fno-sanitize-recover=undefined -fno-omit-frame-pointer"

has_libfuzzer() {
  command -v "$FUZZ_CC" >/dev/null 2>&1 || return 1
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)%s\n' \
    ' { (void)d; (void)n; return 0; }' > "$out/probe.c"
  "$FUZZ_CC" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" >/dev/null 2>&1
}

# clang, then the runtime package of its major version
install_libfuzzer() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  [ "$FUZZ_CC" = clang ] || return 1
  echo "fuzz: installing clang's libFuzzer" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2 || return 1
  command -v clang >/dev/null 2>&1 ||
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
      clang >&2 || return 1
  major=$(clang -dumpversion | cut -d. -f1)
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
    "libclang-rt-$major-dev" >&2
}

# sockit.core's sources: the tls*.c files are sockit.tls, another module
core=$(ls csrc/*.c | grep -v '^csrc/tls')

mkdir -p "$out/corpus" || exit 1
if has_libfuzzer || { install_libfuzzer && has_libfuzzer; }; then
  mode=libfuzzer
  echo "fuzz: $FUZZ_CC -fsanitize=fuzzer,address,undefined"
  "$FUZZ_CC" -g -O1 -fsanitize=fuzzer,address,undefined $SANITIZE \
    -I"$LUA_INCDIR" -Icsrc spec/fuzz/fuzz_core.c $core -o "$bin" \
    $LUA_LIB -pthread -lm $WRAP || exit 1
else
  mode=random
  echo "fuzz: no libFuzzer; a random driver under $ASAN_CC -fsanitize=address,undefined"
  "$ASAN_CC" -g -O1 -fsanitize=address,undefined $SANITIZE -DSOCKIT_FUZZ_MAIN \
    -I"$LUA_INCDIR" -Icsrc spec/fuzz/fuzz_core.c $core -o "$bin" \
    $LUA_LIB -pthread -lm $WRAP || exit 1
fi

# A private network namespace where there is one: only "lo", brought up.
if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then
  netns="unshare -n sh -c 'ip link set lo up && exec \"\$@\"' sh"
  echo "fuzz: in a private network namespace (loopback only)"
else
  netns=""
  echo "fuzz: no private network namespace here; the harness's own checks keep" \
       "every call on loopback"
fi

rm -rf "$out/work" && mkdir -p "$out/work" && cd "$out/work" || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
replayed=0
for f in "$root"/spec/fuzz/regressions/*; do
  [ -f "$f" ] || continue
  replayed=$((replayed + 1))
  if [ $mode = libfuzzer ]; then
    eval "$netns" '"$bin" "$f"' >"$out/replay.log" 2>&1
  else
    eval "$netns" '"$bin" -replay "$f"' >"$out/replay.log" 2>&1
  fi || {
    failed=$((failed + 1))
    echo "fuzz: regression input ${f#"$root"/} fails:" >&2
    grep -aE 'fuzz:|ERROR|SUMMARY|runtime error' "$out/replay.log" | head -n 20 >&2
  }
done
[ $replayed -eq 0 ] || echo "fuzz: $replayed regression inputs replayed, $failed failed"

log=$out/fuzz.log
start=$(date +%s)
if [ $mode = libfuzzer ]; then
  eval "$netns" '"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
    "$out/corpus" "$root/spec/fuzz/seeds"' >"$log" 2>&1
else
  eval "$netns" '"$bin" "$FUZZ_SECONDS" "${FUZZ_SEED:-$(date +%s)}"' >"$log" 2>&1
fi
status=$?
grep -aE 'fuzz:|ERROR|SUMMARY|runtime error|artifact|Test unit' "$log" | head -n 40
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
[ -n "$runs" ] ||
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
elapsed=$(($(date +%s) - start))
if [ $mode = libfuzzer ]; then
  mode="libFuzzer, corpus of $(ls "$out/corpus" | wc -l) inputs"
else
  mode="random driver"
fi
echo "fuzz: ${runs:-?} executions in $elapsed s ($mode), exit status $status" \
     "(log in build/fuzz/fuzz.log)"
if [ $status -ne 0 ]; then
  echo "fuzz: a finding; the input is in build/fuzz/ (crash-*, timeout-*, leak-*):" \
       "add it to spec/fuzz/regressions/ and the case to spec/badinput_spec.lua" >&2
  exit 1
fi
[ $failed -eq 0 ]
