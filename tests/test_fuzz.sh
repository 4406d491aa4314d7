#!/usr/bin/env bash
# tests/test_fuzz.sh - builds every libFuzzer target and runs each briefly.
#
#   bash tests/test_fuzz.sh [SECONDS]   (./build.sh test runs it with 3; ./build.sh fuzz [SECONDS], default 60)
#
# Prints one line per target: PASS, FAIL (with the reproducer's path), or
# SKIP when clang or its libFuzzer runtime is missing.
#
# Convention for fuzz targets (add yours the same way):
#   - tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput; it includes
#     what it needs (the dense_grid targets compile the plugin's loaders in
#     through tests/fuzz/fuzz_dense_grid.h, with a small host of their own).
#   - It is built with
#       clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
#             -I<root> -I<root>/tools -I<root>/tests  fuzz_<name>.c  -ldl -lm -lpthread -lcjson -lz
#     (-fno-sanitize-recover=all: undefined behaviour stops the run like a crash).
#   - Its seed corpus is tests/fuzz/corpus/<name>/: small files (a few KiB per
#     target in all), committed. A run works on a copy, so what the fuzzer
#     finds never lands in the repository; add a finding to the corpus (and
#     a regression test to tests/test_loaders.c) by hand.
#     Binary formats that would be data files in the repository (.vox)
#     get their seeds from tests/fuzz/seeds_<name>.py instead, run into
#     the working copy.
#   - A target writes files only in a private temporary folder, and small ones.
#   - Limits: -rss_limit_mb=1024 -malloc_limit_mb=256 (a larger single
#     allocation is a failure: loaders must refuse sizes their input cannot
#     back), -timeout=5 (seconds per input: a hang is a failure). Crash
#     reproducers go to build/fuzz/artifacts/; rerun one with
#     build/fuzz/fuzz_<name> <file>.
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
SECONDS_EACH=${1:-3}
# The short runs of ./build.sh test start from a fixed seed, so CI repeats
# the same inputs and stays green or red for a reason; ./build.sh fuzz sets
# DVREN_FUZZ_SEED=0 (libFuzzer: a random seed each run) to explore.
SEED=${DVREN_FUZZ_SEED:-1}
CLANG=${FUZZ_CC:-clang}
FLAGS="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$ROOT -I$ROOT/tools -I$ROOT/tests"
LINK="-ldl -lm -lpthread -lcjson -lz"
OUT=$B/fuzz
ART=$OUT/artifacts
mkdir -p $OUT $ART
targets=(tests/fuzz/fuzz_*.c)

skip_all() {
  local t
  for t in "${targets[@]}"; do echo "SKIP $(basename "$t" .c): $1"; done
  exit 0
}
command -v "$CLANG" >/dev/null || skip_all "no $CLANG (apt-get install clang)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) { (void)d; (void)n; return 0; }\n' > $probe/p.c
$CLANG -fsanitize=fuzzer,address,undefined $probe/p.c -o $probe/p 2>/dev/null ||
  skip_all "$CLANG cannot link -fsanitize=fuzzer (libclang_rt.fuzzer missing)"

for src in "${targets[@]}"; do
  name=$(basename "$src" .c)
  short=${name#fuzz_}
  log=$OUT/$name.log
  if ! $CLANG $FLAGS "$src" -o $OUT/$name $LINK 2>$log; then
    echo "FAIL $name: does not build (see $log)"; continue
  fi
  corpus=$probe/corpus_$short
  mkdir -p $corpus
  [ -d tests/fuzz/corpus/$short ] && cp tests/fuzz/corpus/$short/* $corpus/ 2>/dev/null
  # seeds of formats whose files are binary data are generated, not committed
  [ -f tests/fuzz/seeds_$short.py ] && python3 tests/fuzz/seeds_$short.py $corpus 2>>$log
  # the outer timeout only guards against libFuzzer itself wedging
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    timeout $((SECONDS_EACH + 60)) ./$OUT/$name -seed=$SEED -max_total_time=$SECONDS_EACH -rss_limit_mb=1024 \
    -malloc_limit_mb=256 -timeout=5 -max_len=8192 -artifact_prefix=$ART/$name- -print_final_stats=1 \
    $corpus >$log 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' $log | grep -o '[0-9]*$')
    echo "PASS $name: ${runs:-?} inputs in ${SECONDS_EACH}s"
  else
    repro=$(grep -o 'Test unit written to [^ ]*' $log | tail -1 | sed 's/Test unit written to //')
    what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [^ ]*( [^ ]*)?|runtime error: .*' $log | head -1)
    echo "FAIL $name: ${what:-exit status $rc}; reproducer: ${repro:-none written} (rerun: ./$OUT/$name ${repro:-}; log $log)"
  fi
done
