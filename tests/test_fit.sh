#!/usr/bin/env bash
# tests/test_fit.sh - examples/fit_volume on the CPU at the CI's size: a
# dense grid fitted from 64 views of the CT head (ground truth averaged over
# 2^3 voxels, 64 x 64 pixels) must reach 35 dB PSNR on 8 held-out views, and
# write its curve (CSV) and side-by-side PNG; the fit kept with --save renders
# through its scene file with build/dvren_render as the fit rendered that
# view; bad options and an unwritable
# output fail with a message and leave no image behind.
# Run from the repository root after ./build.sh. Prints PASS|FAIL|SKIP lines.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/fit_volume
NAME=test_fit
export DVREN_PLUGIN_PATH=${DVREN_PLUGIN_PATH:-$B/plugins}
DATA=${DVREN_DATA:-../shared/data}
[ -x "$BIN" ] || { echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"; exit 1; }
[ -f "$DATA/ct_head/quarter.nhdr" ] || { echo "SKIP $NAME/fit: no CT head under $DATA"; exit 0; }
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-fit.XXXXXX") || exit 1
trap 'rm -rf "$TOP"' EXIT
nfail=0
fail() { echo "FAIL $NAME/$1: $2"; sed 's/^/    /' "$TOP/err" | tail -8; nfail=$((nfail + 1)); }

# ---- the fit reaches 35 dB on held-out views
if "$BIN" --device cpu --size 64 --downsample 2 --steps 1200 --batch 8192 --eval-every 100 --until-target \
    --csv "$TOP/curve.csv" --png "$TOP/side.png" --save "$TOP/ct" 2> "$TOP/err"; then
  last=$(tail -n 1 "$TOP/curve.csv" | cut -d, -f4)
  rows=$(($(wc -l < "$TOP/curve.csv") - 1))
  if [ "$(head -n 1 "$TOP/curve.csv")" != "step,seconds,loss,heldout_psnr_db,rays_per_s" ]; then
    fail fit_reaches_35db "CSV header: $(head -n 1 "$TOP/curve.csv")"
  elif ! awk -v p="$last" 'BEGIN { exit !(p >= 35.0) }'; then
    fail fit_reaches_35db "last held-out PSNR $last < 35"
  elif [ ! -s "$TOP/side.png" ] || [ "$(head -c 8 "$TOP/side.png" | od -An -c | tr -d ' ')" != "211PNG\r\n032\n" ]; then
    fail fit_reaches_35db "no PNG written"
  else
    echo "# held-out PSNR $last dB after $((rows * 100)) steps or fewer ($(grep -o 'reached.*' "$TOP/err" | head -1))"
    echo "PASS $NAME/fit_reaches_35db"
  fi
else
  fail fit_reaches_35db "exit status $? (2: the target was not reached)"
fi

# ---- --save: the scene file (look-at camera, the fit's box, step and
# shader) renders the fitted grid as the fit did (2e-6 seen; 1e-3 allowed)
if [ ! -s "$TOP/ct.json" ] || [ ! -s "$TOP/ct.npy" ] || [ ! -s "$TOP/ct_heldout.npy" ]; then
  fail saved_scene_renders "fit_volume --save wrote: $(cd "$TOP" && ls ct* 2>/dev/null | tr '\n' ' ')"
elif ! "$B/dvren_render" "$TOP/ct.json" -q --npy "$TOP/saved" -o "$TOP/saved.png" 2> "$TOP/err"; then
  fail saved_scene_renders "dvren_render $TOP/ct.json failed"
elif ! command -v python3 > /dev/null; then
  echo "SKIP $NAME/saved_scene_renders: no python3 to compare the .npy files"
elif python3 tests/npy_close.py "$TOP/saved_rgb.npy" "$TOP/ct_heldout.npy" 1e-3 > "$TOP/cmp" 2> "$TOP/err"; then
  echo "# saved scene vs the fit's render: $(cat "$TOP/cmp")"
  echo "PASS $NAME/saved_scene_renders"
else
  cat "$TOP/cmp" >> "$TOP/err"
  fail saved_scene_renders "dvren_render of the saved scene differs from the fit's render of the view"
fi

# ---- bad input: a message naming the problem, exit 1, no image
"$BIN" --device gpu --png "$TOP/bad.png" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "cpu or cuda" "$TOP/err" && [ ! -e "$TOP/bad.png" ]; then echo "PASS $NAME/bad_device";
else fail bad_device "exit $st"; fi
"$BIN" --steps 2>"$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "needs a value\|incomplete" "$TOP/err"; then echo "PASS $NAME/missing_value";
else fail missing_value "exit $st"; fi
"$BIN" --size 16 --downsample 2 --steps 2 --csv "$TOP/no/such/dir/c.csv" --png "$TOP/bad2.png" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "no/such/dir" "$TOP/err" && [ ! -e "$TOP/bad2.png" ]; then echo "PASS $NAME/unwritable_csv";
else fail unwritable_csv "exit $st"; fi
"$BIN" --volume "$TOP/missing.nhdr" --png "$TOP/bad3.png" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "missing.nhdr" "$TOP/err" && [ ! -e "$TOP/bad3.png" ]; then echo "PASS $NAME/missing_volume";
else fail missing_volume "exit $st"; fi
"$BIN" --size 16 --downsample 2 --steps 2 --csv "$TOP/s.csv" --png "$TOP/s.png" --save "$TOP/no/such/dir/fit" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q -- "--save.*no/such/dir/fit" "$TOP/err" && [ -z "$(ls "$TOP/no" 2>/dev/null)" ]; then
  echo "PASS $NAME/unwritable_save"
else fail unwritable_save "exit $st"; fi

# ---- --help; no target asked for: exit 0 whatever the PSNR; the default
# names carry the data's name; the side-by-side image is large enough to judge
"$BIN" --help > "$TOP/help" 2> "$TOP/err"
st=$?
if [ $st -eq 0 ] && grep -q "^usage: fit_volume" "$TOP/help" && grep -q -- "--images" "$TOP/help" && [ ! -s "$TOP/err" ]; then
  echo "PASS $NAME/help"
else fail help "exit $st"; fi
mkdir -p "$TOP/w/out"
ABS_DATA=$(cd "$DATA" && pwd)
(cd "$TOP/w" && DVREN_DATA=$ABS_DATA "$BIN" --size 16 --downsample 2 --steps 2 --eval-every 1) 2> "$TOP/err"
st=$?
png_w=$(od -A n -t u1 -j 16 -N 4 "$TOP/w/out/fit_ct_head.png" 2>/dev/null | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
if [ $st -ne 0 ]; then fail no_target_exit_0 "exit $st without --target (a 2-step fit cannot reach 35 dB, but none was asked for)"
elif [ ! -f "$TOP/w/out/fit_ct_head_curve.csv" ] || [ ! -f "$TOP/w/out/fit_ct_head.png" ]; then
  fail no_target_exit_0 "default outputs are not out/fit_ct_head{_curve.csv,.png}: $(ls "$TOP/w/out" | tr '\n' ' ')"
elif [ "${png_w:-0}" -lt 1024 ]; then fail no_target_exit_0 "side-by-side PNG is ${png_w:-?} pixels wide, expected >= 1024 (4 views >= 256 each)"
else echo "PASS $NAME/no_target_exit_0"; fi
"$BIN" --size 16 --downsample 2 --steps 2 --target 99 --csv "$TOP/t.csv" --png "$TOP/t.png" 2> "$TOP/err"
st=$?
if [ $st -eq 2 ]; then echo "PASS $NAME/target_missed_exit_2"; else fail target_missed_exit_2 "exit $st, expected 2"; fi
exit $((nfail > 0))
