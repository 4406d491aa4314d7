#!/usr/bin/env bash
# tests/run.sh - builds and runs every test; ends with "N passed, N failed".
# Called by ./build.sh test after the build. Each test program or script
# prints PASS/FAIL/SKIP lines (tests/harness.h); a program that exits
# non-zero without a FAIL line (a crash) counts as one failure.
#
#   tests/test_*.c    C tests, built against dvren.h, run with the plugins of build/plugins
#   tests/test_*.sh   shell tests (CLI, portability, docs), run from the repository root
#
# Variables: DVREN_SANITIZE=0 skips the AddressSanitizer/UBSan pass;
# DVREN_TESTS="a b" runs only the named tests (file names without extension).
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CC=${CC:-cc}
B=${DVREN_BUILD:-build}
T=$B/tests
mkdir -p $T
export DVREN_DATA=${DVREN_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
export DVREN_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-test.XXXXXX")
trap 'rm -rf "$DVREN_TEST_TMP"' EXIT
LOG=$B/test.log
: > $LOG
pass=0; fail=0; skip=0
CFLAGS_T="-std=c11 -O2 -g -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools -I$ROOT/tests"

wanted() { [ -z "${DVREN_TESTS:-}" ] || [[ " $DVREN_TESTS " == *" $1 "* ]]; }
# extra libraries a C test links, from a line "/* TEST_LIBS: -lcjson */" in its source
test_libs() { sed -n 's|^/\* TEST_LIBS: \(.*\) \*/$|\1|p' "$1" | head -n 1; }

# Runs one command whose output has PASS/FAIL/SKIP lines; tallies them.
tally() { # label command...
  local label=$1; shift
  local out rc
  out=$("$@" 2>>$LOG); rc=$?
  printf '%s\n' "$out" | tee -a $LOG | grep -E '^(PASS|FAIL|SKIP) ' || true
  local p f s
  p=$(printf '%s\n' "$out" | grep -c '^PASS ' || true)
  f=$(printf '%s\n' "$out" | grep -c '^FAIL ' || true)
  s=$(printf '%s\n' "$out" | grep -c '^SKIP ' || true)
  # harness programs exit 1 when a test failed; any other non-zero status
  # (a signal, an abort) means the program died, possibly after some FAIL
  # lines and before the remaining tests ran
  if { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; } || { [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; }; then
    echo "FAIL $label: exited with status $rc (crash?); see $LOG" | tee -a $LOG
    f=$((f + 1))
  fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

# ---- mock plugins for the ABI tests (tests/mock_plugins/*.c -> build/tests/mock/*.so)
mkdir -p $T/mock
export DVREN_TEST_MOCK_DIR=$ROOT/$T/mock
for src in tests/mock_plugins/*.c; do
  $CC -std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -shared -fPIC -fvisibility=hidden "$src" \
    -o $T/mock/$(basename "$src" .c).so -lm 2>>$LOG ||
    { echo "FAIL mock plugin $src does not build (see $LOG)" | tee -a $LOG; fail=$((fail + 1)); }
done

# ---- C tests, normal build
for src in tests/test_*.c; do
  name=$(basename "$src" .c)
  wanted "$name" || continue
  if ! $CC $CFLAGS_T "$src" -o $T/$name $(test_libs "$src") -ldl -lm -lpthread 2>>$LOG; then
    echo "FAIL $name: does not compile (see $LOG)" | tee -a $LOG; fail=$((fail + 1)); continue
  fi
  DVREN_PLUGIN_PATH=$ROOT/$B/plugins tally "$name" ./$T/$name
done

# ---- shell tests
for src in tests/test_*.sh; do
  name=$(basename "$src" .sh)
  wanted "$name" || continue
  tally "$name" bash "$src"
done

# ---- the C tests again under AddressSanitizer + UndefinedBehaviorSanitizer
if [ "${DVREN_SANITIZE:-1}" != 0 ]; then
  if echo 'int main(void){return 0;}' | $CC -fsanitize=address,undefined -x c - -o $T/.san 2>/dev/null && $T/.san; then
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
    mkdir -p $B/san/plugins
    for p in plugins/*/; do
      p=$(basename "$p")
      $CC -std=c11 -O1 -g -Wall -Wextra -Werror -I$ROOT $SAN -shared -fPIC -fvisibility=hidden plugins/$p/*.c \
        -o $B/san/plugins/$p.so $(cat plugins/$p/LIBS 2>/dev/null || echo -lm) 2>>$LOG || echo "FAIL san: plugin $p does not build" | tee -a $LOG
      cp plugins/$p/*_device.h $B/san/plugins/ 2>/dev/null || true # the GPU path reads them beside the library
    done
    for src in tests/test_*.c; do
      name=$(basename "$src" .c)
      wanted "$name" || continue
      grep -q 'NO_SANITIZE' "$src" && continue
      if ! $CC ${CFLAGS_T/-O2/-O1} $SAN "$src" -o $T/$name.san $(test_libs "$src") -ldl -lm -lpthread 2>>$LOG; then
        echo "FAIL $name[san]: does not compile (see $LOG)" | tee -a $LOG; fail=$((fail + 1)); continue
      fi
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 DVREN_SANITIZED=1 \
        DVREN_PLUGIN_PATH=$ROOT/$B/san/plugins tally "$name[san]" \
        bash -c "set -o pipefail; ./$T/$name.san | sed 's/^\(PASS\|FAIL\|SKIP\) \([^/]*\)/\1 \2[san]/'"
    done
  else
    echo "SKIP sanitizers: this compiler cannot build with -fsanitize=address,undefined" | tee -a $LOG
    skip=$((skip + 1))
  fi
fi

echo "($skip skipped; full log in $LOG)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
