#!/usr/bin/env bash
# tests/test_align_cli.sh - dvren_align (tools/dvren_align.c): image
# registration from the command line, on real images moved by known
# shifts, the real frame pair and the real camera RAW file, and every kind
# of bad input.
#
# Run from the repository root after ./build.sh: bash tests/test_align_cli.sh.
# The inputs are made at run time by a Python script using only the
# standard library (it decodes the real PPM frames and the 16-bit PNG
# mosaic with tests/image_io.py, rolls them circularly by whole pixels, and
# writes PPM, PNG, .npy and the manifests byte by byte), so the expected shifts come
# from the rolls, not from dvren. A roll of the content by (sy, sx) pixels
# (np.roll's sense: down and right) registers as (dy, dx) = (-sy, -sx)
# (docs/registration.md, sign convention). Prints one "PASS|FAIL|SKIP
# test_align_cli/<case>" line per case; a FAIL line is followed by the
# first lines of the program's stderr, indented. Cases on the real data
# ($DVREN_DATA/registration, $DVREN_DATA/raw) are SKIPped when it is absent.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_align
NAME=test_align_cli
PY=${DVREN_PYTHON:-python3}
DATA=${DVREN_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
REG=$DATA/registration
KDC=$DATA/raw/RAW_KODAK_DC50.KDC

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "SKIP $NAME/all: no $PY to make the test images"
    exit 0
fi
if [ ! -f "$REG/frame10.ppm" ] || [ ! -f "$REG/frame11.ppm" ] || [ ! -f "$REG/bayer_small.png" ]; then
    echo "SKIP $NAME/all: no $REG/frame10.ppm, frame11.ppm, bayer_small.png (set DVREN_DATA; ../shared/data/README.md)"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-align.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
D=$TOP/in
mkdir -p "$D"
nfail=0

# ---------------------------------------------------------------- images
# g.py gen TESTS REG DIR: writes the inputs (below), decoding the real images
# with TESTS/image_io.py (this folder's); g.py rows OUT: the rows of a CSV or
# JSON output as "file key=value ..." lines (JSON null -> "", true -> 1).
cat >"$TOP/g.py" <<'PY'
import json, struct, sys, zlib

def roll(raster, w, h, px, sy, sx):
    """np.roll(image, (sy, sx), axis=(0, 1)) of a (h, w) raster of px-byte pixels."""
    rows = [raster[y * w * px:(y + 1) * w * px] for y in range(h)]
    k = (sx % w) * px
    rows = [r[len(r) - k:] + r[:len(r) - k] for r in rows]
    k = sy % h
    rows = rows[h - k:] + rows[:h - k]
    return b"".join(rows)

def write_ppm(path, w, h, raster):
    open(path, "wb").write(b"P6\n# made by test_align_cli\n%d %d\n255\n" % (w, h) + raster)

def write_png(path, w, h, c, bps, raster):
    """Filter 0 on every row; raster big-endian as PNG stores it."""
    stride = w * c * bps
    raw = b"".join(b"\0" + raster[y * stride:(y + 1) * stride] for y in range(h))
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8 * bps, 2 if c == 3 else 0, 0, 0, 0)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) +
                           chunk(b"IEND", b""))

def write_npy(path, descr, shape, data):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data)

def be16_to_le(raster):
    n = len(raster) // 2
    return struct.pack("<%dH" % n, *struct.unpack(">%dH" % n, raster))

# Fujifilm's X-Trans cell as dvren.h documents dvren_cfa_xtrans_default (colour of (y % 6, x % 6))
XTRANS = ["GBGGRG", "RGRBGB", "GBGGRG", "GRGGBG", "BGBRGR", "GRGGBG"]

def gen(reg, d):
    w, h, c, maxval, f10 = read_pnm(reg + "/frame10.ppm")
    assert (w, h, c, maxval) == (640, 480, 3, 255)
    _, _, _, _, f11 = read_pnm(reg + "/frame11.ppm")
    # RGB frames rolled by whole pixels: PPM, .npy and PNG, all uint8 (H, W, 3)
    write_ppm(d + "/r1.ppm", w, h, roll(f10, w, h, 3, 5, -7))
    write_npy(d + "/r2.npy", "|u1", (h, w, 3), roll(f10, w, h, 3, -12, 3))
    write_png(d + "/r3.png", w, h, 3, 1, roll(f10, w, h, 3, 0, 20))
    write_ppm(d + "/s1.ppm", w, h, roll(f11, w, h, 3, -4, 9))
    # a grey frame (the mean of R, G, B) as uint16 .npy: another dtype than the PPMs
    grey = bytes(sum(f10[3 * i:3 * i + 3]) // 3 for i in range(w * h))
    write_npy(d + "/grey16.npy", "<u2", (h, w), struct.pack("<%dH" % (w * h), *(v * 256 for v in grey)))
    # a frame of another size: the top 240 rows
    write_ppm(d + "/half.ppm", w, h // 2, f10[:w * (h // 2) * 3])
    # the real GRBG mosaic (16-bit grey PNG), rolled by even and odd amounts: PNG and .npy (uint16)
    bw, bh, bc, maxval, bay = read_png(reg + "/bayer_small.png")  # 16-bit samples big-endian, as in the file
    assert (bw, bh, bc, maxval) == (256, 344, 1, 65535)
    write_npy(d + "/b0.npy", "<u2", (bh, bw), be16_to_le(bay))
    write_png(d + "/b_even.png", bw, bh, 1, 2, roll(bay, bw, bh, 2, 4, -6))
    write_npy(d + "/b_even.npy", "<u2", (bh, bw), be16_to_le(roll(bay, bw, bh, 2, -10, 8)))
    write_npy(d + "/b_odd.npy", "<u2", (bh, bw), be16_to_le(roll(bay, bw, bh, 2, 3, 1)))
    write_png(d + "/b_odd.png", bw, bh, 1, 2, roll(bay, bw, bh, 2, 0, -5))
    # an X-Trans mosaic made from frame 10 (each pixel keeps the colour its site filters), float32 .npy
    mos = [float(f10[3 * (y * w + x) + "RGB".index(XTRANS[y % 6][x % 6])]) for y in range(h) for x in range(w)]
    mraw = struct.pack("<%df" % (w * h), *mos)
    write_npy(d + "/x0.npy", "<f4", (h, w), mraw)
    write_npy(d + "/x6.npy", "<f4", (h, w), roll(mraw, w, h, 4, 6, -12))
    write_npy(d + "/x1.npy", "<f4", (h, w), roll(mraw, w, h, 4, 1, 2))
    # not images
    open(d + "/garbage.png", "wb").write(b"\x89PNG\r\n\x1a\n" + b"this is not a PNG stream" * 4)
    open(d + "/empty.ppm", "wb").write(b"")

def rows(path):
    if path.endswith(".json"):
        for r in json.load(open(path))["results"]:
            vals = []
            for k, v in r.items():
                if k in ("scene", "file"):
                    continue
                vals.append("%s=%s" % (k, "" if v is None else 1 if v is True else 0 if v is False else v))
            print(r["file"], *vals)
    else:
        import csv
        for r in csv.DictReader(open(path, newline="")):
            print(r["file"], *("%s=%s" % (k, v) for k, v in r.items() if k not in ("scene", "file")))

if sys.argv[1] == "gen":  # gen TESTS REG DIR: TESTS is the repository's tests/ folder
    sys.path.insert(0, sys.argv[2])
    from image_io import read_png, read_pnm  # tests/image_io.py: PPM and PNG in pure Python
    gen(sys.argv[3], sys.argv[4])
elif sys.argv[1] == "rows":
    rows(sys.argv[2])
elif sys.argv[1] == "json":  # json FILE EXPR: prints eval(EXPR) with j the parsed file
    j = json.load(open(sys.argv[2]))
    print(eval(sys.argv[3]))
PY
if ! "$PY" "$TOP/g.py" gen "$ROOT/tests" "$REG" "$D" 2>"$TOP/gen.err"; then
    echo "FAIL $NAME/setup: making the test images failed: $(head -c 300 "$TOP/gen.err")"
    exit 1
fi

# ---------------------------------------------------------------- helpers
. "$(dirname "$0")/shell_harness.sh" # begin, problem, finish, run, expect_rc
# run, as the harness's, plus: a sanitizer's report in stderr is a problem (a build of
# dvren_align under -fsanitize=address,undefined: DVREN_BUILD=<its folder>)
run() {
    (cd "$W" && "$BIN" "$@") >"$OUT" 2>"$ERR"
    RC=$?
    ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$ERR" ||
        problem "a sanitizer report for '$*': $(grep -m 1 -E 'Sanitizer|runtime error:' "$ERR")"
}
# val FILE KEY [OUTPUT]: the value of column KEY in the row of FILE (default output $W/out.csv)
val() {
    "$PY" "$TOP/g.py" rows "${3:-$W/out.csv}" 2>>"$ERR" |
        awk -v f="$1" -v k="$2" '$1 == f { for (i = 2; i <= NF; ++i) { split($i, a, "="); if (a[1] == k) { print substr($i, length(k) + 2); exit } } }'
}
# is FILE KEY EXPECTED [OUTPUT]: the value is exactly EXPECTED
is() {
    local v
    v=$(val "$1" "$2" "${4:-}")
    [ "$v" = "$3" ] || problem "$1 $2 is '$v', expected '$3'"
}
# near FILE KEY EXPECTED TOL [OUTPUT]: |value - EXPECTED| <= TOL
near() {
    local v
    v=$(val "$1" "$2" "${5:-}")
    awk -v v="$v" -v e="$3" -v t="$4" 'BEGIN { d = v - e; if (v == "" || d > t || -d > t) exit 1 }' ||
        problem "$1 $2 is '$v', expected $3 +- $4"
}
stderr_has() { grep -qiE -- "$1" "$ERR" || problem "stderr does not mention $2: $(head -c 300 "$ERR")"; }
no_files() { [ -z "$(ls -A "$W")" ] || problem "left files behind: $(ls -A "$W" | tr '\n' ' ')"; }
manifest() { printf '%b' "$2" >"$D/$1"; }

# ---------------------------------------------------------------- the real frame pair
# ../shared/data/README.md, "Image registration": on grey, the integer peak of the
# unwindowed normalised cross-power is (3, 1), and (-3, -1) with the frames swapped
begin frame_pair
run --ref "$REG/frame10.ppm" "$REG/frame11.ppm" --grey --method integer --window none -o out.csv
expect_rc 0
is "$REG/frame11.ppm" dy 3
is "$REG/frame11.ppm" dx 1
# the peak's height without the normalisation's epsilon (as the README computes it)
run --ref "$REG/frame10.ppm" "$REG/frame11.ppm" --grey --method integer --window none --epsilon 0 -o out.csv
expect_rc 0
is "$REG/frame11.ppm" dy 3
is "$REG/frame11.ppm" dx 1
is "$REG/frame11.ppm" dy_r ""
is "$REG/frame11.ppm" cfa_aligned 1
near "$REG/frame11.ppm" peak 0.086 0.01
stderr_has "scene frame10: 1 image of 640 x 480 RGB \(grey\), pattern NONE, batch size 1" "the progress line"
run --ref "$REG/frame11.ppm" "$REG/frame10.ppm" --grey --method integer --window none -o out.csv
expect_rc 0
is "$REG/frame10.ppm" dy -3
is "$REG/frame10.ppm" dx -1
# The motion is not a pure shift: under a Hann window (the default) the centre of the
# frame dominates and the integer peak is (0, -2), height about 0.158 without epsilon
# (found with NumPy: np.hanning(480) x np.hanning(640) on both grey frames, the same
# cross-power), and (0, 2) swapped. On stdout without -o.
run --ref "$REG/frame10.ppm" "$REG/frame11.ppm" --grey --method integer --epsilon 0
expect_rc 0
[ "$(sed -n 1p "$OUT")" = "scene,file,dy,dx,peak,confidence,dy_r,dx_r,dy_g,dx_g,dy_b,dx_b,cfa_dy,cfa_dx,cfa_aligned,time_ms" ] ||
    problem "stdout's header is '$(sed -n 1p "$OUT")'"
cp "$OUT" "$W/out.csv"
is "$REG/frame11.ppm" dy 0
is "$REG/frame11.ppm" dx -2
near "$REG/frame11.ppm" peak 0.158 0.01
run --ref "$REG/frame11.ppm" "$REG/frame10.ppm" --grey --method integer -o out.csv
is "$REG/frame10.ppm" dy 0
is "$REG/frame10.ppm" dx 2
rm -f "$W/out.csv"
no_files
finish

# ---------------------------------------------------------------- RGB frames rolled by whole pixels
# a CSV manifest with its columns in another order, paths relative to its folder, three formats in one scene
begin rgb_rolls
manifest rgb.csv 'moving,scene,reference\nr1.ppm,frames,f10.ppm\n\n"r2.npy",frames,f10.ppm\nr3.png , frames, f10.ppm\n'
ln -s "$REG/frame10.ppm" "$D/f10.ppm"
run "$D/rgb.csv" --method integer -o out.csv
expect_rc 0
is r1.ppm dy -5; is r1.ppm dx 7
is r2.npy dy 12; is r2.npy dx -3
is r3.png dy 0; is r3.png dx -20
for c in r g b; do is r1.ppm dy_$c -5; is r1.ppm dx_$c 7; done
is r1.ppm cfa_dy -5
is r1.ppm cfa_aligned 1
near r1.ppm peak 1 0.6
near r1.ppm confidence 0.75 0.25
[ "$(grep -c '^frames,' "$W/out.csv")" = 3 ] || problem "not three rows of scene 'frames'"
stderr_has "scene frames: 3 images of 640 x 480 RGB, pattern NONE" "the progress line"
# upsampled (the default) without a window and without the epsilon of the normalisation:
# a circular roll is an exact delta of height 1 in the correlation, found exactly
run "$D/rgb.csv" --window none --epsilon 0 -o out.csv
expect_rc 0
is r1.ppm dy -5; is r1.ppm dx 7
is r2.npy dy 12; is r2.npy dx -3
is r3.png dx -20
near r1.ppm peak 1 0.001
near r2.npy peak 1 0.001
# upsampled with the Hann window (the default), parabolic, --grey, one thread: the same shifts
for opts in "" "--method parabolic" "--upsample 20" "--grey --threads 1"; do
    # shellcheck disable=SC2086
    run "$D/rgb.csv" $opts -o out.csv
    expect_rc 0
    near r1.ppm dy -5 0.02 ; near r1.ppm dx 7 0.02
    near r2.npy dy 12 0.02 ; near r2.npy dx -3 0.02
    near r3.png dy 0 0.02 ; near r3.png dx -20 0.02
done
is r1.ppm dy_r "" # (--grey: one plane, no colours)
finish

# ---------------------------------------------------------------- the real GRBG mosaic
begin bayer_rolls
manifest bayer.csv "scene,reference,moving\nbayer,$REG/bayer_small.png,b_even.png\nbayer,$REG/bayer_small.png,b_even.npy\nbayer,$REG/bayer_small.png,b_odd.npy\nbayer,$REG/bayer_small.png,b_odd.png\nbayer,$REG/bayer_small.png,b0.npy\n"
run "$D/bayer.csv" --pattern GRBG -o out.csv
expect_rc 0
# even rolls: every plane rolls by whole plane pixels; the CFA stays aligned
near b_even.png dy -4 0.02; near b_even.png dx 6 0.02
is b_even.png cfa_dy -4; is b_even.png cfa_dx 6; is b_even.png cfa_aligned 1
near b_even.npy dy 10 0.02; near b_even.npy dx -8 0.02
is b_even.npy cfa_aligned 1
for c in r g b; do near b_even.png dy_$c -4 0.05; near b_even.png dx_$c 6 0.05; done
# odd rolls: half a plane pixel; the shift does not keep the pattern aligned
near b_odd.npy dy -3 0.25; near b_odd.npy dx -1 0.25
is b_odd.npy cfa_aligned 0
near b_odd.png dy 0 0.25; near b_odd.png dx 5 0.25
is b_odd.png cfa_aligned 0
# the reference itself (as .npy): no shift at all
is b0.npy dy 0; is b0.npy dx 0; is b0.npy cfa_aligned 1
stderr_has "scene bayer: 5 images of 256 x 344, pattern GRBG" "the progress line"
# a band limit for aliased planes: the same even shifts
run "$D/bayer.csv" --pattern GRBG --band 0.4 -o out.csv
expect_rc 0
near b_even.png dy -4 0.02; near b_even.png dx 6 0.02
is b_even.png cfa_aligned 1
# exact with the integer method
run "$D/bayer.csv" --pattern grbg --method integer -o out.csv
expect_rc 0
is b_even.png dy -4; is b_even.png dx 6
is b_even.npy dy 10; is b_even.npy dx -8
# without --pattern a PNG is no mosaic: one plane, period 1
run "$D/bayer.csv" --method integer -o out.json
expect_rc 0
is b_even.png dy -4 "$W/out.json"
[ "$("$PY" "$TOP/g.py" json "$W/out.json" 'j["scenes"][0]["pattern"]' 2>&1)" = NONE ] || problem "pattern auto of a PNG is not NONE"
finish

# ---------------------------------------------------------------- X-Trans
begin xtrans_rolls
run --ref "$D/x0.npy" "$D/x6.npy" "$D/x1.npy" --pattern xtrans -o out.json
expect_rc 0
near "$D/x6.npy" dy -6 0.02 "$W/out.json"; near "$D/x6.npy" dx 12 0.02 "$W/out.json"
is "$D/x6.npy" cfa_aligned 1 "$W/out.json"
is "$D/x6.npy" cfa_dy -6 "$W/out.json"
# a roll by (1, 2): the planes (1/6 of the mosaic's resolution) see 1/6 and 2/6 of a
# plane pixel; only the alignment is checked here (accuracy: the plugin's tests)
is "$D/x1.npy" cfa_aligned 0 "$W/out.json"
[ "$("$PY" "$TOP/g.py" json "$W/out.json" 'j["scenes"][0]["pattern"], j["scenes"][0]["dtype"]' 2>&1)" = "('XTRANS', 'float32')" ] ||
    problem "the scene's pattern and dtype: $("$PY" "$TOP/g.py" json "$W/out.json" 'j["scenes"][0]' 2>&1)"
finish

# ---------------------------------------------------------------- the camera RAW file
if [ -f "$KDC" ]; then
    begin raw_kdc
    run --ref "$KDC" "$KDC" -o out.json
    expect_rc 0
    is "$KDC" dy 0 "$W/out.json"; is "$KDC" dx 0 "$W/out.json"
    is "$KDC" cfa_aligned 1 "$W/out.json"
    near "$KDC" peak 0.5 0.5 "$W/out.json"
    got=$("$PY" "$TOP/g.py" json "$W/out.json" '(j["scenes"][0]["pattern"], j["scenes"][0]["width"], j["scenes"][0]["height"], j["scenes"][0]["dtype"])' 2>&1)
    [ "$got" = "('GRBG', 768, 512, 'uint16')" ] || problem "the KDC scene is $got, expected GRBG 768 x 512 uint16"
    stderr_has "scene RAW_KODAK_DC50: 1 image of 768 x 512, pattern GRBG" "the progress line"
    # its own pattern given: fine; none: the mosaic as one plane
    run --ref "$KDC" "$KDC" --pattern GRBG -o out.csv
    expect_rc 0
    run --ref "$KDC" "$KDC" --pattern none -o out.csv
    expect_rc 0
    is "$KDC" dy 0
    # identical mosaics, no window, no epsilon: every plane's peak is 1
    run --ref "$KDC" "$KDC" --window none --epsilon 0 -o out.csv
    expect_rc 0
    near "$KDC" peak 1 0.001
    for c in r g b; do is "$KDC" dy_$c 0; done
    # another pattern than the file's: an error naming the file and both patterns
    rm -f "$W/out.csv" "$W/out.json"
    run --ref "$KDC" "$KDC" --pattern RGGB -o out.csv
    expect_rc 1
    stderr_has "RAW_KODAK_DC50\.KDC: the RAW file's pattern is GRBG, --pattern says RGGB" "the file and both patterns"
    no_files
    finish
else
    echo "SKIP $NAME/raw_kdc: no $KDC"
fi

# ---------------------------------------------------------------- a JSON manifest, JSON output
begin json_manifest
manifest m.json '{"scenes": [\n  {"name": "ten", "reference": "f10.ppm", "moving": ["r1.ppm", "r2.npy"]},\n  {"name": "eleven", "reference": "'"$REG"'/frame11.ppm", "moving": ["s1.ppm"]}\n]}\n'
run "$D/m.json" --method integer -o out.json
expect_rc 0
is r1.ppm dy -5 "$W/out.json"; is r1.ppm dx 7 "$W/out.json"
is r2.npy dy 12 "$W/out.json"
is s1.ppm dy 4 "$W/out.json"; is s1.ppm dx -9 "$W/out.json"
is s1.ppm dy_g 4 "$W/out.json"
got=$("$PY" "$TOP/g.py" json "$W/out.json" '[(s["name"], s["reference"], s["images"], s["batch_size"] >= 1) for s in j["scenes"]], [r["scene"] for r in j["results"]], sorted(j["results"][0])' 2>&1)
[ "$got" = "([('ten', 'f10.ppm', 2, True), ('eleven', '$REG/frame11.ppm', 1, True)], ['ten', 'ten', 'eleven'], ['cfa_aligned', 'cfa_dx', 'cfa_dy', 'confidence', 'dx', 'dx_b', 'dx_g', 'dx_r', 'dy', 'dy_b', 'dy_g', 'dy_r', 'file', 'peak', 'scene', 'time_ms'])" ] ||
    problem "the JSON output: $got"
[ "$(grep -c '^dvren_align: scene ' "$ERR")" = 2 ] || problem "not one progress line per scene"
# the parameters in effect: given, else the plugin's documented defaults (upsampled, 100, hann)
got=$("$PY" "$TOP/g.py" json "$W/out.json" '(j["format"], j["device"], j["method"], j["upsample"], j["window"], j["band"], j["pattern"], j["grey"])' 2>&1)
[ "$got" = "('dvren.align/1', 'cpu', 'integer', 100, 'hann', 0, 'auto', False)" ] || problem "the JSON header: $got"
finish

# ---------------------------------------------------------------- memory limit: smaller batches, the same shifts
begin memory_limit
run "$D/rgb.csv" --grey -o full.json
expect_rc 0
peak=$("$PY" "$TOP/g.py" json "$W/full.json" 'j["scenes"][0]["peak_bytes"]' 2>>"$ERR")
batch=$("$PY" "$TOP/g.py" json "$W/full.json" 'j["scenes"][0]["batch_size"]' 2>>"$ERR")
[ "$batch" = 3 ] || problem "without a limit the batch is '$batch', not all 3 images"
lim=$((peak * 3 / 4))
run "$D/rgb.csv" --grey --memory-limit "$lim" -o part.json
expect_rc 0
got=$("$PY" "$TOP/g.py" json "$W/part.json" '(j["scenes"][0]["batch_size"] < 3, j["scenes"][0]["batches"] > 1, j["scenes"][0]["peak_bytes"] <= '"$lim"', j["scenes"][0]["limit_bytes"])' 2>&1)
[ "$got" = "(True, True, True, $lim)" ] || problem "with --memory-limit $lim (3/4 of $peak): $got"
a=$("$PY" "$TOP/g.py" rows "$W/full.json" | sed 's/ time_ms=.*//'); b=$("$PY" "$TOP/g.py" rows "$W/part.json" | sed 's/ time_ms=.*//')
[ -n "$a" ] && [ "$a" = "$b" ] || problem "the shifts differ with smaller batches"
# suffixes
run "$D/rgb.csv" --grey --memory-limit 1G -o g.json
expect_rc 0
[ "$("$PY" "$TOP/g.py" json "$W/g.json" 'j["scenes"][0]["limit_bytes"]' 2>&1)" = 1073741824 ] || problem "1G is not 2^30 bytes"
# too small for one image: an error saying what one needs, no file
run "$D/rgb.csv" --memory-limit 1K -o small.csv
expect_rc 1
stderr_has "scene 'frames'" "the scene"
[ -e "$W/small.csv" ] && problem "small.csv was written"
finish

# ---------------------------------------------------------------- bad input
begin bad_files
# unreadable, missing, empty, not an image: each names the file (and the manifest's line)
manifest missing.csv 'scene,reference,moving\nframes,f10.ppm,r1.ppm\nframes,f10.ppm,nothere.png\n'
run "$D/missing.csv" -o out.csv
expect_rc 1
stderr_has "missing\.csv:3: image: '[^']*nothere\.png'" "the manifest's line and the file"
manifest garbage.csv 'scene,reference,moving\nframes,f10.ppm,garbage.png\n'
run "$D/garbage.csv" -o out.csv
expect_rc 1
stderr_has "garbage\.csv:2: image: '[^']*garbage\.png'" "the file that is not a PNG"
run --ref "$D/empty.ppm" "$D/r1.ppm" -o out.csv
expect_rc 1
stderr_has "empty\.ppm" "the empty file"
# sizes, dtypes, channels that differ within a scene: the file that differs, and the reference
run --ref "$REG/frame10.ppm" "$D/r1.ppm" "$D/half.ppm" -o out.csv
expect_rc 1
stderr_has "half\.ppm: 640 x 240, 3 channels, but the scene's reference .*frame10\.ppm is 640 x 480" "the size"
run --ref "$D/b0.npy" "$D/grey16.npy" -o out.csv
expect_rc 1
stderr_has "grey16\.npy: 640 x 480, 1 channel, but the scene's reference .*b0\.npy is 256 x 344" "the size"
run --ref "$D/grey16.npy" "$D/half.ppm" -o out.csv
expect_rc 1
stderr_has "half\.ppm: 640 x 240, 3 channels" "the channels"
manifest dtype.json '{"scenes": [{"name": "d", "reference": "x0.npy", "moving": ["x6.npy", "grey16.npy"]}]}'
run "$D/dtype.json" -o out.csv
expect_rc 1
stderr_has "dtype\.json: scene 'd': .*grey16\.npy: samples are uint16, but the scene's reference .*x0\.npy has float32" \
    "the scene, the file and the dtypes"
# a pattern for an RGB image
run --ref "$REG/frame10.ppm" "$D/r1.ppm" --pattern RGGB -o out.csv
expect_rc 1
stderr_has "frame10\.ppm: --pattern RGGB needs a single-channel mosaic, the image has 3 channels" "the RGB file"
# the second scene fails after the first succeeded: still no output
manifest two.csv 'scene,reference,moving\nok,f10.ppm,r1.ppm\nbad,f10.ppm,half.ppm\n'
run "$D/two.csv" -o out.csv
expect_rc 1
stderr_has "two\.csv:3: .*half\.ppm: 640 x 240" "the line and the file"
grep -q "^dvren_align: scene ok: " "$ERR" || problem "no progress line for the scene that succeeded"
# an output that exists is left as it was
echo old >"$W/keep.csv"
run "$D/two.csv" -o keep.csv
expect_rc 1
[ "$(cat "$W/keep.csv")" = old ] || problem "keep.csv was changed"
rm -f "$W/keep.csv"
# an output folder that does not exist
run --ref "$REG/frame10.ppm" "$D/r1.ppm" -o nofolder/out.csv
expect_rc 1
stderr_has "nofolder/out\.csv" "the output"
no_files
finish

begin bad_manifests
manifest h1.csv 'scene,reference\ns,f10.ppm\n'
run "$D/h1.csv" -o out.csv
expect_rc 1
stderr_has "h1\.csv:1: header: no column 'moving'" "the missing column"
manifest h2.csv 'scene,reference,moving,extra\ns,f10.ppm,r1.ppm,x\n'
run "$D/h2.csv" -o out.csv
expect_rc 1
stderr_has "h2\.csv:1: header: unknown column 'extra'" "the unknown column"
manifest r1.csv 'scene,reference,moving\n\ns,f10.ppm,r1.ppm\ns,f10.ppm\n'
run "$D/r1.csv" -o out.csv
expect_rc 1
stderr_has "r1\.csv:4: 2 fields, the header has 3" "the short row's line"
manifest r2.csv 'scene,reference,moving\ns,,r1.ppm\n'
run "$D/r2.csv" -o out.csv
expect_rc 1
stderr_has "r2\.csv:2: field 'reference' is empty" "the empty field"
manifest r3.csv 'scene,reference,moving\ns,f10.ppm,r1.ppm\ns,r2.npy,r3.png\n'
run "$D/r3.csv" -o out.csv
expect_rc 1
stderr_has "r3\.csv:3: scene 's' has reference 'r2\.npy' here but 'f10\.ppm' on line 2" "the second reference"
manifest r4.csv 'scene,reference,moving\ns,f10.ppm,"r1.ppm\n'
run "$D/r4.csv" -o out.csv
expect_rc 1
stderr_has "r4\.csv:2: a quote that is not closed" "the quote"
manifest r6.csv 'scene,reference,moving\ns,"f10.ppm" x,r1.ppm\n'
run "$D/r6.csv" -o out.csv
expect_rc 1
stderr_has "r6\.csv:2: text after a closing quote" "the text after the quote"
manifest r5.csv 'scene,reference,moving\n'
run "$D/r5.csv" -o out.csv
expect_rc 1
stderr_has "r5\.csv: no rows" "the empty manifest"
manifest j1.json '{"scenes": [{"name": "s", "moving": ["r1.ppm"]}]}'
run "$D/j1.json" -o out.csv
expect_rc 1
stderr_has "j1\.json: scenes\[0\]\.reference: missing" "the missing field"
manifest j2.json '{"scenes": [{"name": "s", "reference": "f10.ppm", "moving": []}]}'
run "$D/j2.json" -o out.csv
expect_rc 1
stderr_has "j2\.json: scenes\[0\]\.moving: empty" "the empty list"
manifest j3.json '{"scenes": [{"name": "s", "reference": "f10.ppm", "moving": ["r1.ppm"], "mask": 1}]}'
run "$D/j3.json" -o out.csv
expect_rc 1
stderr_has "j3\.json: scenes\[0\]: unknown key 'mask'" "the unknown key"
manifest j4.json '{"scenes": [{"name": "s", "reference": "f10.ppm", "moving": ["r1.ppm"]},\n {"name": "s", "reference": "f10.ppm", "moving": [7]}]}'
run "$D/j4.json" -o out.csv
expect_rc 1
stderr_has "j4\.json: scenes\[1\]\.name: scene 's' is given twice" "the repeated scene"
manifest j5.json '{"scenes": [\n{"name": "s",\n "reference": "f10.ppm" "moving": []}]}'
run "$D/j5.json" -o out.csv
expect_rc 1
stderr_has "j5\.json:3: not valid JSON" "the line of the syntax error"
run "$D/nothere.json" -o out.csv
expect_rc 1
stderr_has "nothere\.json: the manifest: cannot open" "the missing manifest"
no_files
finish

begin bad_usage
for args in "" "--ref $D/r1.ppm" "--pattern RGBG --ref $D/r1.ppm $D/r2.npy" "--method cubic --ref $D/r1.ppm $D/r2.npy" \
    "--window blackman $D/rgb.csv" "--upsample 0 $D/rgb.csv" "--upsample 1001 $D/rgb.csv" "--epsilon 2 $D/rgb.csv" \
    "--band -0.1 $D/rgb.csv" "--epsilon nan $D/rgb.csv" "--memory-limit 12Q $D/rgb.csv" "--threads x $D/rgb.csv" \
    "--device tpu $D/rgb.csv" "$D/rgb.csv -o out.txt" "$D/rgb.csv --frobnicate" "$D/rgb.txt" "$D/rgb.csv $D/m.json" \
    "$D/rgb.csv --ref $D/r1.ppm $D/r2.npy" "$D/rgb.csv -o"; do
    # shellcheck disable=SC2086
    run $args
    [ "$RC" -eq 2 ] || problem "'$args': exit status $RC, expected 2"
done
run --pattern RGBG --ref "$D/r1.ppm" "$D/r2.npy"
stderr_has "--pattern 'RGBG' is not one of" "the unknown pattern"
run --frobnicate
stderr_has "unknown option '--frobnicate'" "the unknown option"
no_files
run --help
expect_rc 0
grep -q '^usage: dvren_align' "$OUT" || problem "--help prints no usage"
finish

# ---------------------------------------------------------------- the GPU: an error, never the CPU instead
begin device_cuda
run --ref "$REG/frame10.ppm" "$D/r1.ppm" --device cuda -o out.csv
if [ "$RC" -eq 0 ]; then
    # a machine with a GPU: the same shift as the CPU's
    near "$D/r1.ppm" dy -5 0.02; near "$D/r1.ppm" dx 7 0.02
else
    expect_rc 1
    stderr_has "--device cuda: " "the device"
    no_files
fi
finish

[ "$nfail" -eq 0 ]
