#!/usr/bin/env bash
# tests/test_fit_images.sh - examples/fit_volume --images on the CPU at the
# CI's size: a dense grid fitted to 16 of the lego scene's real views (NeRF
# synthetic, 100 x 100 after filtering) must reach 23 dB PSNR on the 4
# held-out views (an all-black guess scores 12.6 dB), with its curve and
# side-by-side PNG; the fit kept with --save renders through its scene file
# with build/dvren_render as the fit rendered that view; malformed transforms files and images fail with a
# message naming the file and the field, exit 1, and leave no image behind.
# Run from the repository root after ./build.sh. Prints PASS|FAIL|SKIP lines.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/fit_volume
NAME=test_fit_images
export DVREN_PLUGIN_PATH=${DVREN_PLUGIN_PATH:-$B/plugins}
DATA=${DVREN_DATA:-../shared/data}
case $DATA in /*) ;; *) DATA=$ROOT/$DATA ;; esac
[ -x "$BIN" ] || { echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"; exit 1; }
[ -f "$DATA/lego/transforms_train.json" ] || { echo "SKIP $NAME/fit: no lego scene under $DATA"; exit 0; }
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-fiti.XXXXXX") || exit 1
trap 'rm -rf "$TOP"' EXIT
nfail=0
fail() { echo "FAIL $NAME/$1: $2"; sed 's/^/    /' "$TOP/err" | tail -8; nfail=$((nfail + 1)); }

# ---- the fit learns the scene: 23 dB on held-out views (RGB and alpha supervised)
if "$BIN" --device cpu --images "$DATA/lego/transforms_train.json" --size 100 --heldout 4 --grid 64 --steps 300 \
    --batch 4096 --eval-every 100 --target 23 --csv "$TOP/curve.csv" --png "$TOP/side.png" --save "$TOP/lego" \
    2> "$TOP/err"; then
  last=$(tail -n 1 "$TOP/curve.csv" | cut -d, -f4)
  if ! grep -q "20 of its 100 frames have images" "$TOP/err"; then
    fail lego_reaches_23db "the tool did not say how many frames have images"
  elif ! grep -q "16 training and 4 held-out views, 100 x 100" "$TOP/err"; then
    fail lego_reaches_23db "wrong split or size"
  elif ! awk -v p="$last" 'BEGIN { exit !(p >= 23.0) }'; then
    fail lego_reaches_23db "last held-out PSNR $last < 23"
  elif [ ! -s "$TOP/side.png" ]; then
    fail lego_reaches_23db "no PNG written"
  else
    echo "# lego held-out PSNR $last dB ($(grep -o 'model grid.*' "$TOP/err" | head -1))"
    echo "PASS $NAME/lego_reaches_23db"
  fi
else
  fail lego_reaches_23db "exit status $? (2: 23 dB not reached)"
fi

# ---- --save: the scene file renders the fitted grid from the first held-out
# view as the fit itself did (the same rays up to float32 rounding of the
# camera: 2e-5 seen; 1e-3 allowed)
if [ ! -s "$TOP/lego.json" ] || [ ! -s "$TOP/lego.npy" ] || [ ! -s "$TOP/lego_heldout.npy" ]; then
  fail saved_scene_renders "fit_volume --save wrote: $(cd "$TOP" && ls lego* 2>/dev/null | tr '\n' ' ')"
elif ! "$B/dvren_render" "$TOP/lego.json" -q --npy "$TOP/saved" -o "$TOP/saved.png" 2> "$TOP/err"; then
  fail saved_scene_renders "dvren_render $TOP/lego.json failed"
elif ! command -v python3 > /dev/null; then
  echo "SKIP $NAME/saved_scene_renders: no python3 to compare the .npy files"
elif python3 tests/npy_close.py "$TOP/saved_rgb.npy" "$TOP/lego_heldout.npy" 1e-3 > "$TOP/cmp" 2> "$TOP/err"; then
  echo "# saved scene vs the fit's render: $(cat "$TOP/cmp")"
  echo "PASS $NAME/saved_scene_renders"
else
  cat "$TOP/cmp" >> "$TOP/err"
  fail saved_scene_renders "dvren_render of the saved scene differs from the fit's render of the view"
fi

# ---- bad input
M0='[[-0.9999,0.0042,-0.0133,-0.0538],[-0.0140,-0.2997,0.9539,3.8455],[0.0,0.9540,0.2997,1.2081],[0,0,0,1]]'
mkdir -p "$TOP/s"
ln -s "$DATA/lego/train" "$TOP/s/train"
printf 'not a png' > "$TOP/s/garbage.png"
bad() { # name json-text expected-message [extra options]
  local name=$1 text=$2 want=$3 st
  shift 3
  printf '%s' "$text" > "$TOP/s/t.json"
  "$BIN" --images "$TOP/s/t.json" --size 100 --steps 2 --heldout 1 --csv "$TOP/c.csv" --png "$TOP/bad.png" "$@" \
    2> "$TOP/err"
  st=$?
  if [ $st -eq 1 ] && grep -q -- "$want" "$TOP/err" && [ ! -e "$TOP/bad.png" ]; then echo "PASS $NAME/$name"
  else fail "$name" "exit $st, expected 1 and a message with '$want'"; fi
}
"$BIN" --images "$TOP/none.json" --png "$TOP/bad.png" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "cannot read.*none.json" "$TOP/err" && [ ! -e "$TOP/bad.png" ]; then echo "PASS $NAME/missing_json"
else fail missing_json "exit $st"; fi
bad not_json '{"camera_angle_x": 0.69, "frames": [' "not valid JSON"
bad no_fov '{"frames": [{"file_path": "./train/r_0", "transform_matrix": '"$M0"'}]}' '"camera_angle_x" must be a number'
bad fov_range '{"camera_angle_x": 4, "frames": [{"file_path": "./train/r_0", "transform_matrix": '"$M0"'}]}' \
  '"camera_angle_x" must be a number in (0, pi)'
bad no_frames '{"camera_angle_x": 0.69, "frames": []}' '"frames" must be a non-empty array'
bad no_file '{"camera_angle_x": 0.69, "frames": [{"transform_matrix": '"$M0"'}]}' 'frames\[0\].file_path'
bad short_matrix '{"camera_angle_x": 0.69, "frames": [{"file_path": "./train/r_0", "transform_matrix": [[1,0,0,0]]}]}' \
  'frames\[0\].transform_matrix must be 4 rows'
bad not_rigid '{"camera_angle_x": 0.69, "frames": [{"file_path": "./train/r_0", "transform_matrix": [[2,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}]}' \
  'frames\[0\].transform_matrix is not a rigid'
bad bad_last_row '{"camera_angle_x": 0.69, "frames": [{"file_path": "./train/r_0", "transform_matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,1,1]]}]}' \
  'the last row must be 0 0 0 1'
bad corrupt_png '{"camera_angle_x": 0.69, "frames": [{"file_path": "./garbage.png", "transform_matrix": '"$M0"'}]}' \
  "garbage.png.*cannot decode"
bad no_images '{"camera_angle_x": 0.69, "frames": [{"file_path": "./train/r_1", "transform_matrix": '"$M0"'}]}' \
  "none of its 1 frames has its image"
bad size_not_divisor '{"camera_angle_x": 0.69, "frames": [{"file_path": "./train/r_0", "transform_matrix": '"$M0"'}]}' \
  "must divide its width" --size 300
bad no_training_view '{"camera_angle_x": 0.69, "frames": [{"file_path": "./train/r_0", "transform_matrix": '"$M0"'}]}' \
  "leaves no training view"
# PNG headers that claim more than the file holds are refused before stb
# allocates what they claim (a 16384 x 16384 header with 100 bytes of data
# would cost 1 GiB; an IDAT length of 1.8 GB would be realloc'ed first)
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
forged_png() { # file width height idat-length idat-bytes-present
  { printf '\x89PNG\r\n\x1a\n'; printf "$(be32 13)IHDR$(be32 "$2")$(be32 "$3")\x08\x06\x00\x00\x00"; printf '\0\0\0\0'
    printf "$(be32 "$4")IDAT"; head -c "$5" /dev/zero; printf '\0\0\0\0'; } > "$1"
}
forged_png "$TOP/s/huge.png" 16384 16384 100 100
bad png_huge_header '{"camera_angle_x": 0.69, "frames": [{"file_path": "./huge.png", "transform_matrix": '"$M0"'}]}' \
  "huge.png.*16384 x 16384"
forged_png "$TOP/s/long_idat.png" 64 64 1800000000 64
bad png_long_chunk '{"camera_angle_x": 0.69, "frames": [{"file_path": "./long_idat.png", "transform_matrix": '"$M0"'}]}' \
  "long_idat.png.*IDAT.*claims 1800000000 bytes"
# found by fuzzing: a last chunk whose header is whole but whose CRC is cut off
forged_png "$TOP/s/cut.png" 64 64 1800000000 0
head -c -4 "$TOP/s/cut.png" > "$TOP/s/cut2.png"
bad png_cut_chunk '{"camera_angle_x": 0.69, "frames": [{"file_path": "./cut2.png", "transform_matrix": '"$M0"'}]}' \
  "cut2.png.*IDAT.*claims 1800000000 bytes"
forged_png "$TOP/s/thin.png" 4000 4000 100 100
bad png_too_little_data '{"camera_angle_x": 0.69, "frames": [{"file_path": "./thin.png", "transform_matrix": '"$M0"'}]}' \
  "thin.png.*4000 x 4000.*only 100 bytes"
"$BIN" --alpha-weight 1 --png "$TOP/bad.png" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "alpha-weight needs --images" "$TOP/err" && [ ! -e "$TOP/bad.png" ]; then
  echo "PASS $NAME/alpha_without_images"
else fail alpha_without_images "exit $st"; fi
"$BIN" --images "$DATA/lego/transforms_train.json" --tv-color -1 --png "$TOP/bad.png" 2> "$TOP/err"
st=$?
if [ $st -eq 1 ] && grep -q "tv-color, --alpha-weight >= 0" "$TOP/err" && [ ! -e "$TOP/bad.png" ]; then
  echo "PASS $NAME/negative_weight"
else fail negative_weight "exit $st"; fi
exit $((nfail > 0))
