#!/usr/bin/env bash
# tests/test_saliency_opencv.sh - the spectral_residual saliency plugin
# against its reference, OpenCV contrib's StaticSaliencySpectralResidual
# (PyPI opencv-contrib-python-headless, pinned in tests/requirements-opencv.txt
# and installed by tests/python_env.sh into a cached venv under
# ~/.cache/dvren), on real images:
#
#   lego       a NeRF lego training view ($DVREN_DATA/lego/train/r_0.png, RGBA:
#              both sides drop the alpha channel)
#   frame10    a registration frame ($DVREN_DATA/registration/frame10.ppm)
#   preview    a dvren preview: examples/ct_head.json rendered by dvren_render
#              at 448 x 448, 1 sample per pixel, into the test's folder
#   square     a synthetic pixel-aligned square, whose spectrum has exact
#              zeros (the case where float32 rounding would otherwise decide)
#
# Each image goes through tests/saliency_map.c (built here against
# build/obj/stb.o: PNG or PPM -> linear RGB -> dvren_saliency_compute ->
# .npy) and through OpenCV (cv2.imread(IMREAD_COLOR), computeSaliency). The
# two maps, both at the image's size, are compared at that size and after
# both are resized to 64 x 64 (INTER_AREA): Pearson's r must be >= 0.98 at
# both (it is about 0.9999). Prints one PASS/FAIL/SKIP line per image, with
# the correlations; SKIP for everything when the venv cannot be made (no
# network for PyPI), SKIP per image when its data is absent.
#
# Variables: DVREN_BUILD (default build; needs ./build.sh's plugins, obj/stb.o,
# dvren_render), DVREN_DATA (default ../shared/data), DVREN_SALIENCY_DEVICE
# (cpu, default, or cuda: the plugin's GPU path against OpenCV),
# DVREN_PY_CACHE, DVREN_PYTHON (tests/python_env.sh).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
NAME=test_saliency_opencv
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
DATA=${DVREN_DATA:-$ROOT/../shared/data}
DEVICE=${DVREN_SALIENCY_DEVICE:-cpu}
MIN_R=0.98
T=$(mktemp -d "${DVREN_TEST_TMP:-${TMPDIR:-/tmp}}/saliency-cv.XXXXXX") ||
    { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL $NAME/$1: $2"; nfail=$((nfail + 1)); }

for f in "$B/plugins/spectral_residual.so" "$B/obj/stb.o" "$B/dvren_render"; do
    [ -e "$f" ] || { fail setup "$f is missing: run ./build.sh first"; exit 1; }
done

# the reference's environment
. tests/python_env.sh
if ! VENV=$(dvren_python_env "$ROOT/tests/requirements-opencv.txt" 2>"$T/venv.err"); then
    why=$(tail -n 1 "$T/venv.err")
    for c in lego frame10 preview square; do echo "SKIP $NAME/$c: no OpenCV: $why"; done
    exit 0
fi
PY=$VENV/bin/python

# the C side
if ! ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT" -I"$ROOT/tools" tests/saliency_map.c "$B/obj/stb.o" \
    -o "$T/saliency_map" -ldl -lm -lpthread >"$T/cc.log" 2>&1; then
    fail setup "tests/saliency_map.c does not build: $(head -n 3 "$T/cc.log")"
    exit 1
fi

# the comparison: prints "r_full r_64 opencv_version" or an error
cat >"$T/compare.py" <<'EOF'
import sys
import cv2
import numpy as np

image, npy = sys.argv[1], sys.argv[2]
bgr = cv2.imread(image, cv2.IMREAD_COLOR)
if bgr is None:
    sys.exit("OpenCV cannot read " + image)
ok, ref = cv2.saliency.StaticSaliencySpectralResidual_create().computeSaliency(bgr)
if not ok:
    sys.exit("computeSaliency failed")
ours = np.load(npy)
if ours.shape != ref.shape or ours.dtype != np.float32:
    sys.exit("dvren's map is %s %s, OpenCV's %s" % (ours.shape, ours.dtype, ref.shape))
if not (np.isfinite(ours).all() and ours.min() >= 0 and ours.max() <= 1):
    sys.exit("dvren's map has values outside [0, 1]: %g .. %g" % (np.nanmin(ours), np.nanmax(ours)))

def pearson(a, b):
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])

small = lambda m: cv2.resize(m, (64, 64), interpolation=cv2.INTER_AREA)
print("%.6f %.6f %s" % (pearson(ours, ref), pearson(small(ours), small(ref)), cv2.__version__))
EOF

# the images
"$PY" - "$T/square.png" <<'EOF' || fail square "cannot write the synthetic image"
import sys
import cv2
import numpy as np
img = np.full((128, 128, 3), 89, np.uint8)  # linear 0.1 in sRGB
img[30:46, 80:96] = 255
cv2.imwrite(sys.argv[1], img)
EOF
if [ -f "$DATA/ct_head/quarter.nhdr" ]; then
    DVREN_DATA=$DATA DVREN_PLUGIN_PATH=$B/plugins "$B/dvren_render" examples/ct_head.json -o "$T/preview.png" \
        --width 448 --height 448 --spp 1 -q >"$T/render.log" 2>&1 ||
        fail preview "dvren_render examples/ct_head.json failed: $(head -n 3 "$T/render.log")"
fi

check() { # case image
    local c=$1 img=$2 out r_full r_small ver
    if [ ! -f "$img" ]; then
        echo "SKIP $NAME/$c: $img is absent (set DVREN_DATA)"
        return
    fi
    if ! DVREN_PLUGIN_PATH=$B/plugins "$T/saliency_map" "$img" "$T/$c.npy" --device "$DEVICE" >"$T/$c.log" 2>&1; then
        fail "$c" "saliency_map failed: $(head -n 3 "$T/$c.log")"
        return
    fi
    if ! out=$("$PY" "$T/compare.py" "$img" "$T/$c.npy" 2>&1); then
        fail "$c" "comparison failed: $(echo "$out" | tail -n 1)"
        return
    fi
    read -r r_full r_small ver <<<"$out"
    if awk -v a="$r_full" -v b="$r_small" -v m="$MIN_R" 'BEGIN { exit !(a >= m && b >= m) }'; then
        echo "PASS $NAME/$c: Pearson r = $r_full (full size), $r_small (64x64) against OpenCV $ver ($DEVICE)"
    else
        fail "$c" "Pearson r = $r_full (full size), $r_small (64x64) against OpenCV $ver ($DEVICE): below $MIN_R"
    fi
}

check lego "$DATA/lego/train/r_0.png"
check frame10 "$DATA/registration/frame10.ppm"
if [ -f "$DATA/ct_head/quarter.nhdr" ]; then
    [ -f "$T/preview.png" ] && check preview "$T/preview.png"
else
    echo "SKIP $NAME/preview: $DATA/ct_head/quarter.nhdr is absent (set DVREN_DATA)"
fi
[ -f "$T/square.png" ] && check square "$T/square.png"
[ "$nfail" -eq 0 ]
