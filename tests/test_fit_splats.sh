#!/usr/bin/env bash
# tests/test_fit_splats.sh - examples/fit_splats on the CPU: 5,000 Gaussians
# of the garden test scene fitted to its three views at a quarter of their
# size must gain at least 6 dB of PSNR over 120 Adam steps (measured: 16.9 ->
# 31.6 dB with 20,000 Gaussians at half size over 300 steps) and write
# curve.csv (a header and one row per step), compare.png and a fitted.ply
# of 5,000 vertices; an unreachable --target-psnr exits 2; bad options and a
# missing data file exit 1 naming the problem.
# Run from the repository root after ./build.sh. Prints PASS|FAIL|SKIP lines.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/fit_splats
NAME=test_fit_splats
DATA=${DVREN_DATA:-../shared/data}
NPZ=$DATA/gaussians/test_garden.npz
[ -x "$BIN" ] || { echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"; exit 1; }
[ -f "$NPZ" ] || { echo "SKIP $NAME: no $NPZ (set DVREN_DATA)"; exit 0; }
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-fit-splats.XXXXXX") || exit 1
trap 'rm -rf "$TOP"' EXIT
nfail=0
fail() { echo "FAIL $NAME/$1: $2"; sed 's/^/    /' "$TOP/err" 2>/dev/null | tail -8; nfail=$((nfail + 1)); }

if "$BIN" --data "$NPZ" --count 5000 --scale 0.25 --steps 120 --eval-every 40 --out "$TOP/run" > "$TOP/log" 2> "$TOP/err"; then
  line=$(grep "psnr .* -> " "$TOP/log")
  gain=$(echo "$line" | sed -E 's/.*psnr ([0-9.]+) dB -> ([0-9.]+) dB.*/\1 \2/' | awk '{printf "%.2f", $2 - $1}')
  if awk -v g="$gain" 'BEGIN { exit !(g >= 6) }'; then echo "PASS $NAME/psnr_gain ($line)"
  else fail psnr_gain "gained $gain dB (< 6): $line"; fi
  rows=$(($(wc -l < "$TOP/run/curve.csv") - 1))
  [ "$(head -1 "$TOP/run/curve.csv")" = "step,loss,psnr" ] && [ "$rows" = 121 ] && echo "PASS $NAME/curve" ||
    fail curve "header '$(head -1 "$TOP/run/curve.csv")', $rows rows (expected 121)"
  head -c 8 "$TOP/run/compare.png" | od -An -tx1 | grep -q "89 50 4e 47" && echo "PASS $NAME/compare_png" ||
    fail compare_png "not a PNG"
  grep -aq "element vertex 5000" "$TOP/run/fitted.ply" && echo "PASS $NAME/fitted_ply" ||
    fail fitted_ply "no 'element vertex 5000' in the header"
else
  fail run "exit status $?"
fi
"$BIN" --data "$NPZ" --count 500 --scale 0.1 --steps 2 --eval-every 1 --target-psnr 150 --out "$TOP/t" > /dev/null 2> "$TOP/err"
st=$?
[ $st = 2 ] && grep -q "target-psnr" "$TOP/err" && echo "PASS $NAME/target_unreached" || fail target_unreached "status $st"
"$BIN" --steps -3 > /dev/null 2> "$TOP/err"; st=$?
[ $st = 1 ] && grep -q -- "--steps" "$TOP/err" && echo "PASS $NAME/bad_option" || fail bad_option "status $st"
"$BIN" --data "$TOP/missing.npz" > /dev/null 2> "$TOP/err"; st=$?
[ $st = 1 ] && grep -q "missing.npz" "$TOP/err" && echo "PASS $NAME/missing_data" || fail missing_data "status $st"
exit $((nfail > 0))
