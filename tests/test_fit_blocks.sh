#!/usr/bin/env bash
# tests/test_fit_blocks.sh - examples/fit_blocks on the CPU: the materials of
# chr_cop1.vox recovered from 10 views (every block seen by a view gets its
# true material back: 100 %, and --target-accuracy 100 exits 0); the files
# it writes (curve.csv with one row per step and its header, loss.png and
# compare.png as PNG files of the documented sizes, world.json a world that
# build/dvren_blocks reads, of the truth's size and block count, whose
# argmax labels differ from the truth's on exactly the blocks the run
# reports wrong); --patch moves the patch's mean colour towards the target;
# bad input: a missing world, unknown or incomplete options, bad values, an
# unwritable output folder exit 1 with a message naming the problem and
# write nothing; an unreachable --target-accuracy exits 2; --device cuda on
# a machine without a GPU exits 1 (no fallback to the CPU).
# Run from the repository root after ./build.sh. Prints PASS|FAIL|SKIP lines.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/fit_blocks
NAME=test_fit_blocks
export DVREN_PLUGIN_PATH=${DVREN_PLUGIN_PATH:-$B/plugins}
DATA=${DVREN_DATA:-../shared/data}
WORLD=$DATA/voxels/chr_cop1.vox
[ -x "$BIN" ] || { echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"; exit 1; }
[ -f "$WORLD" ] || { echo "SKIP $NAME: no $WORLD (set DVREN_DATA)"; exit 0; }
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-fit-blocks.XXXXXX") || exit 1
trap 'rm -rf "$TOP"' EXIT
nfail=0
fail() { echo "FAIL $NAME/$1: $2"; sed 's/^/    /' "$TOP/err" | tail -8; nfail=$((nfail + 1)); }
# PNG width and height from the IHDR chunk (bytes 16..23, big-endian)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4 "x" $5*16777216 + $6*65536 + $7*256 + $8 }'; }
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -c | tr -d ' ')" = "211PNG\r\n032\n" ]; }

# ---- recovery with the defaults (128 x 128, 300 steps): every visible block gets its true material back
OUT=$TOP/fit
mkdir -p "$OUT"
t0=$(date +%s)
"$BIN" --world "$WORLD" --target-accuracy 100 --out "$OUT" > "$TOP/out" 2> "$TOP/err"
st=$?
t1=$(date +%s)
line=$(grep "visible blocks" "$TOP/out")
# "chr_cop1: recovered R of V visible blocks (P %), A of N blocks (Q %) after S steps, ..."
read -r right vis all n <<< "$(echo "$line" | sed -n 's/.*recovered \([0-9]*\) of \([0-9]*\) visible blocks.*, \([0-9]*\) of \([0-9]*\) blocks.*/\1 \2 \3 \4/p')"
if [ $st -ne 0 ]; then
  fail recovers_visible_blocks "exit status $st (2: under 100 % recovered)"
elif [ -z "${vis:-}" ] || [ "$vis" -lt 100 ] || [ "$right" != "$vis" ] || [ "$n" != 267 ]; then
  cat "$TOP/out" >> "$TOP/err"
  fail recovers_visible_blocks "wanted all of at least 100 visible blocks of 267 recovered, got: $line"
elif ! grep -q "MSE 0.000e+00, max |error| 0.000e+00" "$TOP/out"; then
  cat "$TOP/out" >> "$TOP/err"
  fail recovers_visible_blocks "the recovered world does not render the targets exactly in hard mode"
else
  echo "# $line ($((t1 - t0)) s wall)"
  echo "PASS $NAME/recovers_visible_blocks"
fi

# ---- the files
rows=$(($(wc -l < "$OUT/curve.csv" 2>/dev/null || echo 0) - 1))
if [ "$(head -n 1 "$OUT/curve.csv" 2>/dev/null)" != "step,loss,temperature,visible_accuracy,all_accuracy" ] || [ "$rows" != 300 ]; then
  fail curve_csv "header '$(head -n 1 "$OUT/curve.csv" 2>/dev/null)', $rows rows (want 300)"
elif ! tail -n 1 "$OUT/curve.csv" | awk -F, '{ exit !($1 == 300 && $3 + 0 > 0.0999 && $3 + 0 < 0.1001 && $4 == 1) }'; then
  fail curve_csv "last row '$(tail -n 1 "$OUT/curve.csv")': want step 300, temperature 0.1, visible accuracy 1"
elif ! head -n 2 "$OUT/curve.csv" | tail -n 1 | awk -F, '{ exit !($1 == 1 && $3 == 1.000000 && $2 + 0 > 0) }'; then
  fail curve_csv "first row '$(head -n 2 "$OUT/curve.csv" | tail -n 1)': want step 1, temperature 1, a loss > 0"
else
  echo "PASS $NAME/curve_csv"
fi
# the default 128 px views enlarged twice: 3 x 256 across, 256 high; the plot 720 x 420
if is_png "$OUT/loss.png" && [ "$(png_size "$OUT/loss.png")" = 720x420 ] && is_png "$OUT/compare.png" &&
   [ "$(png_size "$OUT/compare.png")" = 768x256 ]; then
  echo "PASS $NAME/pngs"
else
  fail pngs "loss.png $(png_size "$OUT/loss.png" 2>/dev/null), compare.png $(png_size "$OUT/compare.png" 2>/dev/null)"
fi
# world.json: read back by the tool; its argmax labels differ from the truth's on exactly N - A blocks
if ! "$B/dvren_blocks" info "$OUT/world.json" > "$TOP/info" 2> "$TOP/err"; then
  fail world_json "dvren_blocks info $OUT/world.json failed"
elif ! grep -qx "size 8 11 6" "$TOP/info" || ! grep -qx "blocks 267" "$TOP/info" || ! grep -qx "materials 10" "$TOP/info"; then
  cp "$TOP/info" "$TOP/err"
  fail world_json "not the truth's size, block count or material count"
elif ! "$B/dvren_blocks" labels "$OUT/world.json" -o "$TOP/fit.npy" 2> "$TOP/err" ||
     ! "$B/dvren_blocks" labels "$WORLD" -o "$TOP/truth.npy" 2> "$TOP/err"; then
  fail world_json "dvren_blocks labels failed"
else
  diff=$(cmp -l "$TOP/fit.npy" "$TOP/truth.npy" | wc -l)
  if [ -n "${all:-}" ] && [ "$diff" = $((n - all)) ]; then
    echo "# world.json: $diff of $n blocks differ from the truth (all hidden from the views)"
    echo "PASS $NAME/world_json"
  else
    : > "$TOP/err"
    fail world_json "$diff labels differ from the truth; the run reported $((n - ${all:-0})) wrong"
  fi
fi

# ---- --patch: the patch's mean colour moves towards the target
if "$BIN" --world "$WORLD" --size 64x64 --patch 24,24,16,16 --rgb 0.45,0.3,0.2 --steps 60 --out "$TOP/patch" > "$TOP/out" 2> "$TOP/err" &&
   [ -s "$TOP/patch/patch_world.json" ] && is_png "$TOP/patch/patch.png" &&
   [ "$(png_size "$TOP/patch/patch.png")" = 512x256 ]; then
  d0=$(sed -n 's/^before .*distance \([0-9.]*\).*/\1/p' "$TOP/out")
  d1=$(sed -n 's/^after .*distance \([0-9.]*\).*/\1/p' "$TOP/out")
  if awk -v a="$d0" -v b="$d1" 'BEGIN { exit !(a > 0.05 && b < 0.5 * a) }'; then
    echo "# patch: distance to the target $d0 -> $d1"
    echo "PASS $NAME/patch"
  else
    cat "$TOP/out" >> "$TOP/err"
    fail patch "distance $d0 -> $d1: want it more than halved"
  fi
else
  cat "$TOP/out" >> "$TOP/err"
  fail patch "exit status or files: $(ls "$TOP/patch" 2>/dev/null | tr '\n' ' ')"
fi

# ---- bad input: exit 1, a message naming the problem, no output
bad() { # name, grep pattern, arguments...
  local n=$1 pat=$2
  shift 2
  rm -rf "$TOP/bad"
  "$BIN" "$@" --out "$TOP/bad" > /dev/null 2> "$TOP/err"
  local st=$?
  if [ $st -eq 1 ] && grep -q -- "$pat" "$TOP/err" && [ -z "$(ls "$TOP/bad" 2>/dev/null)" ]; then echo "PASS $NAME/$n";
  else fail "$n" "exit $st, wanted 1 and a message matching '$pat', no files"; fi
}
bad missing_world "$TOP/missing.vox" --world "$TOP/missing.vox"
bad unknown_option "unknown option '--bogus'" --world "$WORLD" --bogus 1
bad bad_size "--size '12'" --world "$WORLD" --size 12
bad bad_temperature "--temperature" --world "$WORLD" --temperature 1,0
bad bad_device "cpu or cuda" --world "$WORLD" --device gpu
bad bad_mode "softmax or gumbel" --world "$WORLD" --mode hard
bad bad_views "--views" --world "$WORLD" --views 0,0
bad patch_outside "does not lie inside" --world "$WORLD" --size 32x32 --patch 20,20,16,16
"$BIN" --world "$WORLD" --steps 2 --out "$TOP/no/such/dir" > /dev/null 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "no/such/dir" "$TOP/err" && [ ! -e "$TOP/no" ]; then echo "PASS $NAME/unwritable_out";
else fail unwritable_out "exit $st"; fi

"$BIN" --world "$WORLD" --steps > /dev/null 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "'--steps' needs a value" "$TOP/err"; then echo "PASS $NAME/missing_value";
else fail missing_value "exit $st"; fi

# ---- an unreachable target: exit 2 (the files are still written)
"$BIN" --world "$WORLD" --size 32x32 --steps 2 --target-accuracy 100 --out "$TOP/short" > /dev/null 2> "$TOP/err"
st=$?
if [ $st -eq 2 ] && grep -q "under the target" "$TOP/err" && [ -s "$TOP/short/world.json" ]; then echo "PASS $NAME/target_not_reached";
else fail target_not_reached "exit $st, wanted 2"; fi

# ---- --device cuda without a GPU: an error, never the CPU
if command -v nvidia-smi > /dev/null && nvidia-smi > /dev/null 2>&1; then
  echo "SKIP $NAME/cuda_without_gpu: this machine has a GPU"
else
  rm -rf "$TOP/bad"
  "$BIN" --world "$WORLD" --device cuda --steps 2 --out "$TOP/bad" > /dev/null 2> "$TOP/err"
  st=$?
  if [ $st -eq 1 ] && grep -q -- "--device cuda" "$TOP/err" && [ -z "$(ls "$TOP/bad" 2>/dev/null)" ]; then
    echo "PASS $NAME/cuda_without_gpu"
  else
    fail cuda_without_gpu "exit $st, wanted 1 and no files"
  fi
fi
exit $((nfail > 0))
