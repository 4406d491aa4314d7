#!/usr/bin/env bash
# tests/test_splat_cli.sh - dvren_render --splats (docs/splats.md, "Command
# line"): gsplat's test_garden.npz rendered through its own camera 0 on the
# CPU at its 648 x 420, checked against the scene's points projected here
# independently (pure Python: the .npz read with zipfile, the pinhole
# projection x = fx X/Z + cx written out); --all-cameras with a rescaled
# image size; a 3DGS .ply with --lenient and a look-at camera; .npy
# outputs; and the refusals (a .ply without a camera, a strict read of a
# file with trailing bytes, a missing file, a camera index past the file's
# cameras, a GPU request without a GPU), each naming what is wrong and
# leaving no file behind.
#
# Run from the repository root after ./build.sh: bash tests/test_splat_cli.sh.
# Uses $DVREN_BUILD/dvren_render (default build/) and the data in $DVREN_DATA
# (default ../shared/data): gaussians/test_garden.npz, gaussians/pc_short.ply.
# Prints one "PASS|FAIL|SKIP test_splat_cli/<case>" line per case. The
# image checks need python3 (standard library only; tests/image_io.py reads
# the PNGs); without it those cases are skipped.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_render
NAME=test_splat_cli
DATA=${DVREN_DATA:-$ROOT/../shared/data}
case $DATA in /*) ;; *) DATA=$ROOT/$DATA ;; esac
GARDEN=$DATA/gaussians/test_garden.npz
PLY=$DATA/gaussians/pc_short.ply
unset DVREN_PLUGIN_PATH

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
if [ ! -f "$GARDEN" ] || [ ! -f "$PLY" ]; then
    echo "SKIP $NAME/all: no $GARDEN or $PLY (set DVREN_DATA)"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-splat-cli.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
nfail=0
PY=$(command -v python3 || true)

. "$(dirname "$0")/shell_harness.sh" # begin, problem, finish, run, expect_rc
snapshot() { (cd "$W" && find . -mindepth 1 | LC_ALL=C sort); }
run_fails() {
    local before after
    before=$(snapshot)
    run "$@"
    if [ "$RC" -eq 0 ]; then
        problem "exit status 0, expected failure"
    elif [ "$RC" -ge 128 ]; then
        problem "crashed (exit status $RC)"
    fi
    after=$(snapshot)
    [ "$before" = "$after" ] || problem "left files behind: $(comm -13 <(echo "$before") <(echo "$after") | tr "\n" " ")"
}
run_ok() {
    run "$@"
    [ "$RC" -eq 0 ] || problem "exit status $RC, expected 0"
}
stderr_has() { grep -qiE -- "$1" "$ERR" || problem "stderr does not mention $2"; }
# png_size FILE: "W H" from the IHDR chunk (bytes 16..23, big-endian), no Python needed
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }
# npy_shape FILE: the shape tuple of an .npy header, e.g. "(420, 648, 3)"
npy_shape() { head -c 128 "$1" | tr -d '\0' | grep -ao "'shape': ([0-9, ]*)" | sed "s/'shape': //"; }

# The independent check of the garden image. The test's own projection of
# every point of means3d with camera 0 (x = fx X/Z + cx, y = fy Y/Z + cy,
# Z > 0, inside [0, W) x [0, H)) must find the 75,154 of 138,766 that the
# data's README gives (a check of the check). Then, over 16 x 16 blocks of
# the image: where 8 or more points of the crop box [-2, 2]^3 (the points
# dvren_render renders) project, the block's mean alpha must exceed 0.5 in
# at least 90% of such blocks; where no such point projects into the block
# or its 8 neighbours, mean alpha must stay below 0.05 (the Gaussians' scales
# are below 0.02 world units, a few pixels at this distance).
cat > "$TOP/garden_check.py" <<'PYEOF'
import ast, struct, sys, zipfile
sys.path.insert(0, sys.argv[3])
from image_io import read_png

def npy(z, name):
    b = z.read(name + ".npy")
    if b[:6] != b"\x93NUMPY":
        raise ValueError(name + ": not an .npy")
    hl = struct.unpack("<H", b[8:10])[0]
    h = ast.literal_eval(b[10:10 + hl].decode("latin-1"))
    fmt = {"<f4": "f", "|u1": "B", "<i8": "q"}[h["descr"]]
    n = 1
    for s in h["shape"]:
        n *= s
    return h["shape"], struct.unpack("<%d%s" % (n, fmt), b[10 + hl:10 + hl + n * struct.calcsize(fmt)])

z = zipfile.ZipFile(sys.argv[1])
(N, _), m = npy(z, "means3d")
_, V = npy(z, "viewmats")
_, K = npy(z, "Ks")
W, H = npy(z, "width")[1][0], npy(z, "height")[1][0]
inside, count = 0, {}
for i in range(N):
    x, y, zz = m[3 * i:3 * i + 3]
    X = V[0] * x + V[1] * y + V[2] * zz + V[3]
    Y = V[4] * x + V[5] * y + V[6] * zz + V[7]
    Z = V[8] * x + V[9] * y + V[10] * zz + V[11]
    if Z <= 0:
        continue
    u, v = K[0] * X / Z + K[2], K[4] * Y / Z + K[5]
    if 0 <= u < W and 0 <= v < H:
        inside += 1
        if -2 <= x <= 2 and -2 <= y <= 2 and -2 <= zz <= 2:
            k = (int(u) // 16, int(v) // 16)
            count[k] = count.get(k, 0) + 1
bad = []
if (N, inside) != (138766, 75154):
    bad.append("the test's projection finds %d of %d points inside camera 0, the README 75154 of 138766" % (inside, N))
w, h, ch, mx, s = read_png(sys.argv[2])
if (w, h, ch, mx) != (W, H, 4, 255):
    bad.append("the PNG is %dx%d with %d channels (maxval %d), expected %dx%d RGBA 8-bit" % (w, h, ch, mx, W, H))
else:
    al = s[3::4]
    full, empty = [], []
    for j in range((h + 15) // 16):
        for i in range((w + 15) // 16):
            px = [al[yy * w + xx] for yy in range(j * 16, min(h, j * 16 + 16)) for xx in range(i * 16, min(w, i * 16 + 16))]
            a = sum(px) / len(px) / 255.0
            if count.get((i, j), 0) >= 8:
                full.append(a)
            elif not any(count.get((i + di, j + dj), 0) for di in (-1, 0, 1) for dj in (-1, 0, 1)):
                empty.append((a, i, j))
    frac = sum(a > 0.5 for a in full) / max(1, len(full))
    if len(full) < 100 or frac < 0.9:
        bad.append("%d blocks with >= 8 projected points, %.3f of them with mean alpha > 0.5 (expected >= 0.9)" % (len(full), frac))
    loud = [e for e in empty if e[0] >= 0.05]
    if not empty or loud:
        bad.append("%d empty blocks, %d with mean alpha >= 0.05 (first: %s)" % (len(empty), len(loud), loud[:1]))
    print("blocks with points: %d, alpha > 0.5 in %.3f; empty blocks: %d" % (len(full), frac, len(empty)))
if bad:
    print("; ".join(bad))
    sys.exit(1)
PYEOF

# ---------------------------------------------------------------- garden camera 0, CPU, 648 x 420
begin garden_camera0
run_ok --splats "$GARDEN" --camera 0 --device cpu --alpha -o g.png
if [ ! -f "$W/g.png" ]; then
    problem "no g.png"
else
    [ "$(png_size "$W/g.png")" = "648 420" ] || problem "g.png is $(png_size "$W/g.png"), expected 648 420"
    if [ -n "$PY" ]; then
        "$PY" "$TOP/garden_check.py" "$GARDEN" "$W/g.png" "$ROOT/tests" >"$TOP/check.out" 2>&1 ||
            problem "coverage: $(tail -n 1 "$TOP/check.out")"
    fi
fi
finish
[ -n "$PY" ] || echo "SKIP $NAME/garden_coverage: no python3 (the coverage part of garden_camera0 was not checked)"

# the same render as .npy: -o X.npy is rgb; --npy P writes P_rgb, P_alpha, P_depth
begin garden_npy
run_ok --splats "$GARDEN" -q -o g.npy --npy p
[ "$(npy_shape "$W/g.npy")" = "(420, 648, 3)" ] || problem "g.npy has shape '$(npy_shape "$W/g.npy")', expected (420, 648, 3)"
[ "$(npy_shape "$W/p_rgb.npy")" = "(420, 648, 3)" ] || problem "p_rgb.npy has shape '$(npy_shape "$W/p_rgb.npy")'"
for o in alpha depth; do
    [ "$(npy_shape "$W/p_$o.npy")" = "(420, 648)" ] || problem "p_$o.npy has shape '$(npy_shape "$W/p_$o.npy")', expected (420, 648)"
done
cmp -s "$W/g.npy" "$W/p_rgb.npy" || problem "g.npy and p_rgb.npy differ"
finish

# every camera, at a quarter of the size (K's rows rescaled): out_0.png .. out_2.png
begin all_cameras
run_ok --splats "$GARDEN" --all-cameras --width 162 --height 105 -q -o out.png
for c in 0 1 2; do
    if [ ! -f "$W/out_$c.png" ]; then problem "no out_$c.png"
    else [ "$(png_size "$W/out_$c.png")" = "162 105" ] || problem "out_$c.png is $(png_size "$W/out_$c.png")"; fi
done
[ ! -e "$W/out_3.png" ] && [ ! -e "$W/out.png" ] || problem "wrote more than out_0..2.png"
cmp -s "$W/out_0.png" "$W/out_1.png" && problem "cameras 0 and 1 gave the same image"
finish

# a 3DGS .ply (SH degree 3, 14,029 trailing bytes) with --lenient and a look-at camera
begin ply_lenient_look_at
run_ok --splats "$PLY" --lenient --look-at -0.5,0.1,-2,-0.5,0.1,1.2 --fov 50 --width 96 --height 64 --alpha -o p.png
stderr_has "ignored 14029 bytes" "the ignored trailing bytes"
if [ ! -f "$W/p.png" ]; then
    problem "no p.png"
else
    [ "$(png_size "$W/p.png")" = "96 64" ] || problem "p.png is $(png_size "$W/p.png"), expected 96 64"
    if [ -n "$PY" ]; then
        # the Gaussians (centroid about (-0.59, 0.13, 1.23), in front of the camera) cover some pixels
        "$PY" -c "import sys; sys.path.insert(0, sys.argv[2]); from image_io import read_png
w, h, c, m, s = read_png(sys.argv[1]); a = s[3::4]; n = sum(x > 0 for x in a)
sys.exit(0 if 0.01 * w * h < n < 0.9 * w * h else 'covered pixels: %d of %d' % (n, w * h))" "$W/p.png" "$ROOT/tests" \
            2>"$TOP/ply.err" || problem "$(tail -n 1 "$TOP/ply.err")"
    fi
fi
# --sh-degree-max 0 changes the view-dependent colours, so the image
run_ok --splats "$PLY" --lenient --look-at -0.5,0.1,-2,-0.5,0.1,1.2 --fov 50 --width 96 --height 64 --alpha --sh-degree-max 0 -o p0.png
[ -f "$W/p0.png" ] && ! cmp -s "$W/p.png" "$W/p0.png" || problem "--sh-degree-max 0 gave no or the same image"
finish

# ---------------------------------------------------------------- refusals
begin ply_without_camera
run_fails --splats "$PLY" --lenient --width 64 --height 48 -o p.png
stderr_has "pc_short.ply.*camera|camera.*(look-at|viewmat)" "that a .ply needs a camera"
finish

begin ply_strict_trailing_bytes
run_fails --splats "$PLY" --look-at 0,0,-2,0,0,1 --fov 50 --width 64 --height 48 -o p.png
stderr_has "pc_short.ply.*14029 bytes after the last vertex" "the file and its 14,029 trailing bytes"
stderr_has "--lenient" "the --lenient hint"
finish

begin missing_file
run_fails --splats "$TOP/no_such_scene.npz" -o g.png
stderr_has "no_such_scene.npz.*(cannot open|no such)" "the missing file by name"
run_fails --splats "$TOP/no_such.ply" --look-at 0,0,-2,0,0,1 --fov 50 --width 64 --height 48 -o p.png
stderr_has "no_such.ply.*(cannot open|no such)" "the missing .ply by name"
finish

begin bad_camera_index
run_fails --splats "$GARDEN" --camera 3 -o g.png
stderr_has "--camera.*camera 3 does not exist.*3 cameras" "the index and the file's 3 cameras"
run_fails --splats "$GARDEN" --camera x -o g.png
stderr_has "--camera needs a non-negative integer" "the bad value"
finish

begin bad_options
run_fails --splats "$TOP/scene.obj" -o g.png
stderr_has "neither a .ply.*nor an .npz" "the unknown extension"
run_fails --splats "$PLY" --lenient --viewmat 1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1 --width 64 --height 48 -o p.png
stderr_has "--viewmat and --K go together" "the missing --K"
run_fails --splats "$PLY" --lenient --look-at 0,0,-2,0,0 --fov 50 --width 64 --height 48 -o p.png
stderr_has "--look-at needs 6 comma-separated numbers" "the short --look-at"
run_fails --splats "$GARDEN" --alpha-max 1.5 -o g.png
stderr_has "--alpha-max needs a number in" "the bad --alpha-max"
run_fails --splats "$GARDEN" -o missing_dir/g.png
stderr_has "folder 'missing_dir' does not exist" "the missing folder"
run_fails --splats "$GARDEN"
stderr_has "nothing to write" "the missing output"
run_fails --camera 1 -o g.png
stderr_has "need --splats" "that --camera needs --splats"
finish

# --volume: a volume scene (a Marschner-Lobb blob placed in the garden, written here) drawn from the
# same camera and composited among the splats by depth; the image differs from the splats alone in
# the blob's part of the frame and nowhere else; a missing or bad volume scene is an error naming --volume
begin volume_layer
cat > "$TOP/blob.json" <<'JSON'
{"field": {"plugin": "dense_grid", "params": {"generator": "marschner_lobb", "dims": [24, 24, 24],
           "bbox": [-0.6, -0.2, -0.6, 0.6, 1.0, 0.6]}},
 "shader": {"plugin": "emission_absorption", "params": {"sigma_scale": 12,
           "tf_opacity": [[0, 0], [0.5, 0], [0.6, 0.6], [1, 1]], "tf_color": [[0, 1, 0.3, 0.1], [1, 1, 0.8, 0.2]]}},
 "sampler": {"plugin": "uniform", "params": {}},
 "camera": {"type": "perspective", "eye": [2, 2, 2], "target": [0, 0, 0], "up": [0, 0, 1], "fov_y_deg": 40},
 "plan": {"width": 32, "height": 32}}
JSON
run_ok --splats "$GARDEN" --width 162 --height 105 -q -o plain.png
run_ok --splats "$GARDEN" --width 162 --height 105 --volume "$TOP/blob.json" -q -o mixed.png
if [ -f "$W/plain.png" ] && [ -f "$W/mixed.png" ] && [ -n "$PY" ]; then
    "$PY" -c "import sys; sys.path.insert(0, sys.argv[3]); from image_io import read_png
w, h, c, m, a = read_png(sys.argv[1]); _, _, _, _, b = read_png(sys.argv[2])
d = [y for y in range(h) if any(abs(a[(y * w + x) * c + k] - b[(y * w + x) * c + k]) > 2 for x in range(w) for k in range(3))]
n = sum(1 for i in range(w * h) if any(abs(a[i * c + k] - b[i * c + k]) > 2 for k in range(3)))
sys.exit(0 if 0.01 * w * h < n < 0.5 * w * h and min(d) > h // 3 else 'changed pixels %d of %d, rows %s..%s' % (n, w * h, min(d or [-1]), max(d or [-1])))" \
        "$W/plain.png" "$W/mixed.png" "$ROOT/tests" 2>"$TOP/mix.err" || problem "$(tail -n 1 "$TOP/mix.err")"
else
    [ -f "$W/mixed.png" ] || problem "no mixed.png"
fi
run_fails --splats "$GARDEN" --volume "$TOP/missing.json" -q -o m2.png
stderr_has "volume.*missing.json" "the missing volume scene"
finish

# a GPU request is a GPU or an error, never the CPU
begin cuda_without_gpu
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "SKIP $NAME/cuda_without_gpu: this machine has a GPU"
else
    run_fails --splats "$GARDEN" --device cuda -o g.png
    stderr_has "cuda" "the CUDA failure"
    finish
fi

exit $((nfail > 0))
