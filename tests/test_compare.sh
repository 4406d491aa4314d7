#!/usr/bin/env bash
# tests/test_compare.sh - dvren_compare (tools/dvren_compare.c): its figures
# against values computed here in closed form, its exit statuses, its
# messages and its output files.
#
# Run from the repository root after ./build.sh: bash tests/test_compare.sh.
# The images are made by a small Python script using only the standard
# library (PNG written with zlib, 8 and 16 bits; .npy written by hand), so
# nothing depends on the renderer. Prints one "PASS|FAIL|SKIP
# test_compare/<case>" line per case; a FAIL line is followed by the first
# lines of the program's stderr, indented.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_compare
NAME=test_compare
PY=${DVREN_PYTHON:-python3}

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "SKIP $NAME/all: no $PY to make the test images"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-compare.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
D=$TOP/img
mkdir -p "$D"
nfail=0

# ---------------------------------------------------------------- images
# img.py gen DIR: writes every test image; img.py pixel FILE X Y: prints
# that pixel's samples of an 8-bit non-interlaced PNG (undoing the
# filters, PNG specification section 9).
cat >"$TOP/img.py" <<'PY'
import math, struct, sys, zlib

def png(path, w, h, ch, bits, f):
    """f(x, y) -> tuple of ch samples; colour type from ch (0 gray, 4 gray+alpha, 2 RGB, 6 RGBA)."""
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            for v in f(x, y):
                raw += struct.pack(">H", v) if bits == 16 else bytes([v])
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, ctype, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")
    open(path, "wb").write(data)

def npy(path, descr, shape, values):
    fmt = {"<f4": "<f", "<f8": "<d", "|u1": "B", "<u2": "<H"}[descr]
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"".join(struct.pack(fmt, v) for v in values))

def base(x, y):
    return ((x * 3 + y * 2) % 200, (x * 5 + y) % 200, (x + y * 4) % 200)

def disc(r, alpha):
    def f(x, y):
        inside = (x + 0.5 - 32) ** 2 + (y + 0.5 - 32) ** 2 < r * r
        c = (200, 100, 50) if inside else (0, 0, 0)
        return c + ((255 if inside else 0),) if alpha else c
    return f

def g16(x, y):
    return tuple((x * 1021 + y * 777 + c * 3333) % 65536 for c in range(3))

def gen(d):
    W, H = 64, 48
    png(d + "/base.png", W, H, 3, 8, base)
    png(d + "/off.png", W, H, 3, 8, lambda x, y: (base(x, y)[0], base(x, y)[1] + 10, base(x, y)[2]))
    png(d + "/roi.png", W, H, 3, 8, lambda x, y: base(x, y) if x < 32 else (0, 0, 0))
    png(d + "/gray.png", W, H, 1, 8, lambda x, y: (base(x, y)[0],))
    png(d + "/grayrgb.png", W, H, 3, 8, lambda x, y: (base(x, y)[0],) * 3)
    png(d + "/big.png", 80, H, 3, 8, lambda x, y: (0, 0, 0))
    png(d + "/disc_a.png", 64, 64, 4, 8, disc(20, True))
    png(d + "/disc_b.png", 64, 64, 4, 8, disc(12, True))
    png(d + "/disc_a_rgb.png", 64, 64, 3, 8, disc(20, False))
    png(d + "/disc_b_rgb.png", 64, 64, 3, 8, disc(12, False))
    png(d + "/g16.png", W, H, 3, 16, g16)
    png(d + "/g8.png", W, H, 3, 8, lambda x, y: tuple(int(v / 257.0 + 0.5) for v in g16(x, y)))
    flat = [v / 255.0 for y in range(H) for x in range(W) for v in base(x, y)]
    npy(d + "/f32.npy", "<f4", (H, W, 3), flat)
    npy(d + "/f64.npy", "<f8", (H, W, 3), [v + 0.05 if i % 3 == 0 else v for i, v in enumerate(flat)])
    npy(d + "/u1.npy", "|u1", (H, W), [base(x, y)[0] for y in range(H) for x in range(W)])
    npy(d + "/u16.npy", "<u2", (H, W, 3), [v for y in range(H) for x in range(W) for v in g16(x, y)])
    npy(d + "/bad_shape.npy", "<f4", (H, W, 5), [0.0] * (H * W * 5))
    open(d + "/notes.txt", "w").write("not an image\n")

def pixel(path, x, y):
    data = open(path, "rb").read()
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        if t == b"IHDR": hdr = struct.unpack(">IIBBBBB", data[pos + 8:pos + 21])
        if t == b"IDAT": idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, bits, ctype = hdr[0], hdr[1], hdr[2], hdr[3]
    bpp = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    raw, stride, prev, rows, o = zlib.decompress(idat), w * bpp, None, [], 0
    for _ in range(h):
        ft, line = raw[o], bytearray(raw[o + 1:o + 1 + stride]); o += 1 + stride
        prev = prev or bytearray(stride)
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            if ft == 1: line[i] = (line[i] + a) & 255
            elif ft == 2: line[i] = (line[i] + b) & 255
            elif ft == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line); prev = line
    print(" ".join(str(v) for v in rows[y][x * bpp:(x + 1) * bpp]))

if sys.argv[1] == "gen": gen(sys.argv[2])
else: pixel(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
PY
if ! "$PY" "$TOP/img.py" gen "$D" 2>"$TOP/gen.err"; then
    echo "FAIL $NAME/setup: making the test images failed: $(head -c 300 "$TOP/gen.err")"
    exit 1
fi
head -c 300 "$D/base.png" >"$D/truncated.png"
n=$(wc -c <"$D/g16.png")
head -c $((n / 2)) "$D/g16.png" >"$D/half.png"

# ---------------------------------------------------------------- helpers
. "$(dirname "$0")/shell_harness.sh" # begin, problem, finish, run, expect_rc
# val KEY: the value of "KEY value" in the output
val() { awk -v k="$1" '$1 == k { print $2; exit }' "$OUT"; }
# near KEY EXPECTED TOL: |value - expected| <= tol
near() {
    local v
    v=$(val "$1")
    [ -n "$v" ] || { problem "no '$1' line"; return; }
    awk -v v="$v" -v e="$2" -v t="$3" 'BEGIN { d = v - e; if (d < 0) d = -d; exit !(d <= t) }' ||
        problem "$1 = $v, expected $2 +- $3"
}
is() { [ "$(val "$1")" = "$2" ] || problem "$1 is '$(val "$1")', expected '$2'"; }
stderr_has() { grep -qiE -- "$1" "$ERR" || problem "stderr does not mention $2: $(head -c 200 "$ERR")"; }
no_files() { [ -z "$(ls -A "$W")" ] || problem "left files behind: $(ls -A "$W" | tr '\n' ' ')"; }
calc() { awk "BEGIN { printf \"%.9f\", $1 }"; }

# ---------------------------------------------------------------- figures
begin identical
run "$D/base.png" "$D/base.png" --min-psnr 100 --max-error 0 --min-geometry 1
expect_rc 0
is psnr inf
is mse 0
is max_error 0
is geometry_match 1
is width 64
is height 48
is channels 3
is status pass
finish

# a constant offset d = 10/255 on G only: MSE = d^2 / 3, PSNR = 10 log10(3 / d^2)
begin offset_png8
run "$D/base.png" "$D/off.png"
expect_rc 0
near mse "$(calc '(10 / 255) ^ 2 / 3')" 1e-9
near psnr "$(calc '10 * log(3 * 255 ^ 2 / 100) / log(10)')" 1e-4
near max_error "$(calc '10 / 255')" 1e-7
near mean_abs_error "$(calc '10 / 255 / 3')" 1e-7
is max_error_channel g
is a png8-rgb
finish

# float32 against float64 .npy, d = 0.05 on R (floats are not scaled)
begin offset_npy
run "$D/f32.npy" "$D/f64.npy"
expect_rc 0
near psnr "$(calc '10 * log(3 / 0.0025) / log(10)')" 1e-3
near max_error 0.05 1e-6
is max_error_channel r
is a npy-f4-rgb
is b npy-f8-rgb
finish

# --peak: PSNR = 10 log10(peak^2 / MSE)
begin peak
run "$D/f32.npy" "$D/f64.npy" --peak 2
expect_rc 0
near psnr "$(calc '10 * log(4 * 3 / 0.0025) / log(10)')" 1e-3
finish

# a PNG against a .npy of the same values, gray against R = G = B
begin mixed_inputs
run "$D/u1.npy" "$D/gray.png"
expect_rc 0
is psnr inf
is channels 1
run "$D/gray.png" "$D/grayrgb.png"
expect_rc 0
is psnr inf
is channels 3
run "$D/base.png" "$D/f32.npy"
expect_rc 0
near max_error 0 1e-7
finish

# 16-bit against its 8-bit rounding: error at most half an 8-bit step
begin png16_vs_png8
run "$D/g16.png" "$D/g8.png"
expect_rc 0
is a png16-rgb
is b png8-rgb
near max_error "$(calc '0.25 / 255')" "$(calc '0.25 / 255 + 1e-6')"
awk -v p="$(val psnr)" 'BEGIN { exit !(p > 10 * log(255 ^ 2 / 0.25) / log(10)) }' ||
    problem "psnr $(val psnr) under the half-step bound 54.15 dB"
run "$D/g16.png" "$D/u16.npy"
expect_rc 0
is psnr inf
finish

# two discs (radius 20 and 12 pixels): they disagree on the ring between
# them, so the match is 1 - pi (20^2 - 12^2) / 64^2, within a half-pixel
# band along both circles (pi (20 + 12) / 64^2)
begin geometry_discs
run "$D/disc_a.png" "$D/disc_b.png"
expect_rc 0
is coverage alpha
near geometry_match "$(calc '1 - 3.14159265 * (400 - 144) / 4096')" "$(calc '3.14159265 * 32 / 4096')"
near coverage_a "$(calc '3.14159265 * 400 / 4096')" "$(calc '3.14159265 * 20 / 4096')"
run "$D/disc_a_rgb.png" "$D/disc_b_rgb.png"
expect_rc 0
is coverage nonblack
near geometry_match "$(calc '1 - 3.14159265 * (400 - 144) / 4096')" "$(calc '3.14159265 * 32 / 4096')"
run "$D/disc_a_rgb.png" "$D/disc_b_rgb.png" --coverage-threshold 0.9
is geometry_match 1
finish

# --roi: only the left half, where the two agree
begin roi
run "$D/base.png" "$D/roi.png" --roi 0,0,32,48
expect_rc 0
is psnr inf
is width 32
run "$D/base.png" "$D/roi.png" --roi 30,0,4,4
expect_rc 0
[ "$(val psnr)" != inf ] || problem "a region across the change gives inf"
[ "$(val max_error_x)" -ge 32 ] 2>/dev/null || problem "max_error_x $(val max_error_x) is not in image coordinates (>= 32)"
run "$D/base.png" "$D/roi.png" --roi 60,0,8,8
expect_rc 2
stderr_has 'roi.*outside' "the region outside the image"
finish

begin json
run "$D/base.png" "$D/base.png" --json
expect_rc 0
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["psnr"] == "inf" and d["width"] == 64 and d["status"] == "pass" and d["failed"] == []' "$OUT" 2>>"$ERR" ||
    problem "not the expected JSON: $(head -c 300 "$OUT")"
run "$D/base.png" "$D/off.png" --json --min-psnr 50 --max-error 0.5
expect_rc 1
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert abs(d["mse"] - (10 / 255) ** 2 / 3) < 1e-9 and d["failed"] == ["min_psnr"]' "$OUT" 2>>"$ERR" ||
    problem "not the expected JSON: $(head -c 300 "$OUT")"
finish

# ---------------------------------------------------------------- thresholds
begin thresholds
run "$D/base.png" "$D/off.png" --min-psnr 30 --max-error 0.05 --min-geometry 0.99
expect_rc 0
is failed none
run "$D/base.png" "$D/off.png" --min-psnr 40
expect_rc 1
is failed min_psnr
stderr_has 'psnr' "the failed threshold"
run "$D/base.png" "$D/off.png" --max-error 0.01
expect_rc 1
is failed max_error
run "$D/disc_a.png" "$D/disc_b.png" --min-geometry 0.9 --min-psnr 60 --max-error=1
expect_rc 1
is failed min_psnr,min_geometry
is status fail
finish

# ---------------------------------------------------------------- outputs
# --diff: G = |d| * scale = 40 everywhere, R = B = 0; --masks: gray PNGs
begin diff_masks
run "$D/base.png" "$D/off.png" --diff d.png --diff-scale 4 --masks m
expect_rc 0
for f in d.png m_a.png m_b.png; do
    [ "$(od -A n -t x1 -N 8 "$W/$f" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a ] || problem "$f is not a PNG"
done
px=$("$PY" "$TOP/img.py" pixel "$W/d.png" 5 7 2>>"$ERR")
[ "$px" = "0 40 0" ] || problem "diff pixel (5, 7) is '$px', expected '0 40 0'"
px=$("$PY" "$TOP/img.py" pixel "$W/m_a.png" 5 7 2>>"$ERR")
[ "$px" = "255" ] || problem "mask pixel (5, 7) is '$px', expected '255'"
run "$D/disc_a.png" "$D/disc_b.png" --masks disc
px=$("$PY" "$TOP/img.py" pixel "$W/disc_b.png" 0 0 2>>"$ERR")
[ "$px" = "0" ] || problem "mask of the empty corner is '$px', expected '0'"
ls "$W" | grep -q tmp && problem "temporary files left: $(ls "$W")"
finish

# ---------------------------------------------------------------- bad input
begin missing_file
run "$D/base.png" "$D/nothere.png" --diff d.png
expect_rc 2
stderr_has 'nothere\.png.*(no such|cannot open)' "the missing file"
no_files
finish

begin truncated_png
run "$D/truncated.png" "$D/base.png" --diff d.png --masks m
expect_rc 2
stderr_has 'truncated\.png.*truncated or corrupt' "the truncated file"
no_files
run "$D/g16.png" "$D/half.png" --diff d.png
expect_rc 2
stderr_has 'half\.png.*truncated or corrupt' "the file cut in its image data"
no_files
finish

begin size_mismatch
run "$D/base.png" "$D/big.png" --diff d.png
expect_rc 2
stderr_has 'base\.png.*64 x 48.*big\.png.*80 x 48' "both files and sizes"
no_files
finish

begin bad_inputs
run "$D/notes.txt" "$D/base.png"
expect_rc 2
stderr_has 'notes\.txt.*neither' "a file that is no image"
run "$D/bad_shape.npy" "$D/base.png"
expect_rc 2
stderr_has 'bad_shape\.npy.*C in 1\.\.4' "a .npy of the wrong shape"
run "$D/base.png" "$D/base.png" --frobnicate
expect_rc 2
stderr_has 'unknown option.*frobnicate' "the unknown option"
run "$D/base.png"
expect_rc 2
run "$D/base.png" "$D/base.png" --min-psnr abc
expect_rc 2
stderr_has 'min-psnr' "the option with a bad value"
run "$D/base.png" "$D/off.png" --diff nofolder/d.png
expect_rc 2
stderr_has 'nofolder' "the folder that does not exist"
no_files
run --help
expect_rc 0
finish

[ "$nfail" -eq 0 ]
