#!/usr/bin/env bash
# tests/test_blocks_cli.sh - dvren_blocks (tools/dvren_blocks.c): each
# subcommand (info, convert, place, remove, labels) with exact checks of
# its output against values worked out here by hand, its exit statuses
# (0 done, 1 failed operation, 2 bad usage), its messages (file and field
# named) and that a failure leaves no file behind.
#
# Run from the repository root after ./build.sh: bash tests/test_blocks_cli.sh.
# The inputs are made by a small Python script using only the standard
# library (JSON, .npy written by hand, a .vox written byte by byte); the
# outputs are read back by the same script, independently of dvren's
# readers. Prints one "PASS|FAIL|SKIP test_blocks_cli/<case>" line per
# case; a FAIL line is followed by the first lines of the program's stderr,
# indented. The real .vox files of $DVREN_DATA/voxels are checked against
# ../shared/data/README.md's counts (skipped when absent).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_blocks
NAME=test_blocks_cli
PY=${DVREN_PYTHON:-python3}
DATA=${DVREN_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "SKIP $NAME/all: no $PY to make the test worlds"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-blocks.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
D=$TOP/in
mkdir -p "$D"
nfail=0

# ---------------------------------------------------------------- worlds
# w.py gen DIR: writes the inputs; w.py rows FILE: the blocks of a JSON world
# as "x y z l0 l1 ..." lines (numbers as Python prints floats); w.py npy FILE:
# the descr, the shape, then "x y z value" for each non-zero element of a
# uint8 (X, Y, Z) .npy; w.py head FILE: the JSON world without its blocks.
cat >"$TOP/w.py" <<'PY'
import json, struct, sys

def npy(path, descr, shape, raw):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + raw)

def chunk(cid, content):
    return cid + struct.pack("<ii", len(content), 0) + content

def gen(d):
    # two materials; block 0 logits (1.5, -2) -> red, block 1 id 2 -> blue, block 2 id 1 -> red
    json.dump({"format": "dvren.blocks/1", "size": [4, 3, 2], "scale": 0.5, "origin": [1, -2, 3.25],
               "materials": [{"name": "red", "top": [1, 0, 0], "side": [0.5, 0, 0], "bottom": [0.25, 0, 0]},
                             {"name": "blue", "top": [0, 0, 1], "side": [0, 0, 0.5], "bottom": [0, 0, 0.125]}],
               "blocks": [[0, 0, 0, 1.5, -2], [3, 2, 1, 2], [1, 0, 1, 1]]}, open(d + "/w.json", "w"))
    # a 2 x 2 x 1 slab of stone (id 3) in a 3 x 3 x 3 grid, default table: 4 blocks, 16 visible faces
    json.dump({"format": "dvren.blocks/1", "size": [3, 3, 3],
               "blocks": [[0, 0, 0, 3], [1, 0, 0, 3], [0, 0, 1, 3], [1, 0, 1, 3]]}, open(d + "/slab.json", "w"))
    # a label volume (X, Y, Z) = (3, 2, 4): [2][0][0] = 3, [0][1][0] = 1, [1][0][3] = 8, [0][0][1] = 2
    v = bytearray(24)
    for (x, y, z, l) in [(2, 0, 0, 3), (0, 1, 0, 1), (1, 0, 3, 8), (0, 0, 1, 2)]:
        v[(x * 2 + y) * 4 + z] = l
    npy(d + "/lv.npy", "|u1", (3, 2, 4), bytes(v))
    # a block list: rows (2, 0, 1) argmax 5, (0, 3, 0) argmax 1 -> grid (3, 4, 2)
    r0 = [2, 0, 1, 0, 0, 0, 0, 0.25, -7.25, 0, 0]
    r1 = [0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    npy(d + "/bl.npy", "<f4", (2, 11), struct.pack("<22f", *(r0 + r1)))
    npy(d + "/i4.npy", "<i4", (2,), struct.pack("<2i", 1, 2))
    # .vox: one 3 x 2 x 4 model (z up), voxels (0 0 0) c5, (2 1 3) c9, (1 0 2) c5, (2 0 0) c7; palette
    # entry e = (e, 2e, 3e mod 256, 255) except entry 4 (colour 5) = (255, 0, 51)
    pal = bytearray()
    for e in range(256):
        pal += bytes([e, (2 * e) % 256, (3 * e) % 256, 255])
    pal[16:19] = bytes([255, 0, 51])
    vox = [(0, 0, 0, 5), (2, 1, 3, 9), (1, 0, 2, 5), (2, 0, 0, 7)]
    kids = chunk(b"SIZE", struct.pack("<3i", 3, 2, 4)) + chunk(b"XYZI", struct.pack("<i", len(vox)) + b"".join(bytes(q) for q in vox))
    kids += chunk(b"RGBA", bytes(pal))
    open(d + "/m.vox", "wb").write(b"VOX " + struct.pack("<i", 150) + b"MAIN" + struct.pack("<ii", 0, len(kids)) + kids)
    open(d + "/bad.json", "w").write('{"format": "dvren.blocks/1", "size": [2, 2, 2], "blocks": [[0, 0, 0, 1], [0, 0, 0, 2]]}')
    open(d + "/mat.json", "w").write('{"materials": [{"name": "a", "top": [0, 0, 0], "side": [0, 0, 0], "bottom": [0, 0, 0]},'
                                     ' {"name": "b", "top": [1, 1, 1], "side": [1, 1, 1], "bottom": [1, 1, 1]},'
                                     ' {"name": "c", "top": [0, 1, 0], "side": [0, 1, 0], "bottom": [0, 1, 0]}]}')

def num(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))

if sys.argv[1] == "gen":
    gen(sys.argv[2])
elif sys.argv[1] == "rows":
    for r in json.load(open(sys.argv[2]))["blocks"]:
        print(" ".join(num(v) for v in r))
elif sys.argv[1] == "head":
    w = json.load(open(sys.argv[2]))
    print("format", w["format"])
    print("size", *w["size"])
    print("scale", num(w["scale"]))
    print("origin", *(num(v) for v in w["origin"]))
    for m in w["materials"]:
        print("material", m["name"], *(num(v) for v in m["top"] + m["side"] + m["bottom"]))
elif sys.argv[1] == "npy":
    b = open(sys.argv[2], "rb").read()
    assert b[:8] == b"\x93NUMPY\x01\x00"
    n = struct.unpack("<H", b[8:10])[0]
    h = eval(b[10:10 + n].decode())
    X, Y, Z = h["shape"]
    data = b[10 + n:]
    assert len(data) == X * Y * Z and not h["fortran_order"]
    print(h["descr"], X, Y, Z)
    for x in range(X):
        for y in range(Y):
            for z in range(Z):
                if data[(x * Y + y) * Z + z]:
                    print(x, y, z, data[(x * Y + y) * Z + z])
PY
if ! "$PY" "$TOP/w.py" gen "$D" 2>"$TOP/gen.err"; then
    echo "FAIL $NAME/setup: making the test worlds failed: $(head -c 300 "$TOP/gen.err")"
    exit 1
fi

# ---------------------------------------------------------------- helpers
. "$(dirname "$0")/shell_harness.sh" # begin, problem, finish, run, expect_rc
# line KEY: the rest of the first output line starting with KEY
line() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$OUT"; }
is() { [ "$(line "$1")" = "$2" ] || problem "$1 is '$(line "$1")', expected '$2'"; }
# material ID: the rest of the "material ID ..." line
mat() { awk -v k="$1" '$1 == "material" && $2 == k { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$OUT"; }
mat_is() { [ "$(mat "$1")" = "$2" ] || problem "material $1 is '$(mat "$1")', expected '$2'"; }
stderr_has() { grep -qiE -- "$1" "$ERR" || problem "stderr does not mention $2: $(head -c 200 "$ERR")"; }
no_files() { [ -z "$(ls -A "$W")" ] || problem "left files behind: $(ls -A "$W" | tr '\n' ' ')"; }
# rows FILE EXPECTED: the JSON world's blocks, one "x y z l..." per line, joined by '|'
rows_are() {
    local got
    got=$("$PY" "$TOP/w.py" rows "$1" 2>>"$ERR" | paste -sd '|')
    [ "$got" = "$2" ] || problem "$(basename "$1") rows '$got', expected '$2'"
}

# ---------------------------------------------------------------- info
# three blocks, none touching: 18 faces; argmax: red (1.5 > -2), blue (id 2), red (id 1)
begin info_json
run info "$D/w.json"
expect_rc 0
is file "$D/w.json"
is size "4 3 2"
is cells 24
is scale 0.5
is origin "1 -2 3.25"
is materials 2
is blocks 3
is visible_faces 18
mat_is 1 "red blocks 2 top 1 0 0 side 0.5 0 0 bottom 0.25 0 0"
mat_is 2 "blue blocks 1 top 0 0 1 side 0 0 0.5 bottom 0 0 0.125"
no_files
finish

# a 2 x 2 x 1 slab: 4 blocks x 6 - 2 x 4 shared faces = 16; the default table, all stone
begin info_default_table
run info "$D/slab.json"
expect_rc 0
is materials 8
is visible_faces 16
mat_is 3 "stone blocks 4 top 0.5 0.5 0.5 side 0.5 0.5 0.5 bottom 0.5 0.5 0.5"
mat_is 1 "grass blocks 0 top 0.35 0.62 0.24 side 0.45 0.36 0.22 bottom 0.47 0.33 0.2"
[ "$(grep -c '^material ' "$OUT")" -eq 8 ] || problem "not 8 material lines"
# --materials replaces the default table of a world that brings none
run info "$D/slab.json" --materials "$D/mat.json"
expect_rc 0
is materials 3
mat_is 3 "c blocks 4 top 0 1 0 side 0 1 0 bottom 0 1 0"
run info "$D/w.json" --materials "$D/mat.json"
expect_rc 0
is materials 2
run info "$D/lv.npy" --materials "$D/mat.json"
expect_rc 1
stderr_has 'lv\.npy: data: label 8 at \[1\]\[0\]\[3\] is outside 0\.\.3' "the label over the 3 materials"
finish

# the label volume: grid (3, 2, 4), one block each of ids 3, 1, 8, 2; the block list: grid (3, 4, 2)
begin info_npy
run info "$D/lv.npy"
expect_rc 0
is size "3 2 4"
is blocks 4
is visible_faces 24
for id in 1 2 3 8; do [ "$(mat $id | awk '{ print $3 }')" = 1 ] || problem "material $id does not count 1 block"; done
[ "$(mat 4 | awk '{ print $3 }')" = 0 ] || problem "material 4 counts blocks"
run info "$D/bl.npy"
expect_rc 0
is size "3 4 2"
is blocks 2
[ "$(mat 5 | awk '{ print $3 }')" = 1 ] && [ "$(mat 1 | awk '{ print $3 }')" = 1 ] || problem "argmax counts of the block list"
finish

# the .vox: grid (3, 4, 2) after (x, y, z) -> (x, z, 1 - y); materials in order of first use: colours 5, 9, 7
begin info_vox
run info "$D/m.vox"
expect_rc 0
is size "3 4 2"
is materials 3
is blocks 4
is visible_faces 24
mat_is 1 "vox5 blocks 2 top 1 0 0.2 side 1 0 0.2 bottom 1 0 0.2"
[ "$(mat 2 | awk '{ print $1, $2, $3, $5 }')" = "vox9 blocks 1 0.0313726" ] || problem "material 2 is '$(mat 2)' (vox9, 8/255)"
[ "$(mat 3 | awk '{ print $1, $3 }')" = "vox7 1" ] || problem "material 3 is '$(mat 3)'"
finish

# ---------------------------------------------------------------- convert
begin convert
run convert "$D/m.vox" -o m.json
expect_rc 0
[ -s "$W/m.json" ] || problem "no m.json"
rows_are "$W/m.json" "0 0 1 10 0 0|2 3 0 0 10 0|1 2 1 10 0 0|2 0 1 0 0 10"
head=$("$PY" "$TOP/w.py" head "$W/m.json" 2>>"$ERR" | paste -sd '|')
[ "$head" = "format dvren.blocks/1|size 3 4 2|scale 1|origin 0 0 0|material vox5 1 0 0.200000003 1 0 0.200000003 1 0 0.200000003|material vox9 0.0313725509 0.0627451017 0.0941176489 0.0313725509 0.0627451017 0.0941176489 0.0313725509 0.0627451017 0.0941176489|material vox7 0.0235294122 0.0470588244 0.0705882385 0.0235294122 0.0470588244 0.0705882385 0.0235294122 0.0470588244 0.0705882385" ] ||
    problem "m.json's head is '$head'"
# converting the JSON again gives the same bytes
run convert "$W/m.json" -o m2.json
expect_rc 0
cmp -s "$W/m.json" "$W/m2.json" || problem "convert of m.json is not byte-identical"
run convert "$D/lv.npy" -o lv.json --label-logit 4
expect_rc 0
rows_are "$W/lv.json" "2 0 0 0 0 4 0 0 0 0 0|0 1 0 4 0 0 0 0 0 0 0|0 0 1 0 4 0 0 0 0 0 0|1 0 3 0 0 0 0 0 0 0 4"
run convert "$D/bl.npy" -o bl.json
expect_rc 0
rows_are "$W/bl.json" "2 0 1 0 0 0 0 0.25 -7.25 0 0|0 3 0 1 0 0 0 0 0 0 0"
ls "$W" | grep -q tmp && problem "temporary files left: $(ls "$W")"
finish

# ---------------------------------------------------------------- place
begin place
run place "$D/w.json" 2 1 0 2 -o p.json
expect_rc 0
rows_are "$W/p.json" "0 0 0 1.5 -2|3 2 1 0 10|1 0 1 10 0|2 1 0 0 10"
run info "$W/p.json"
is blocks 4
is visible_faces 24
mat_is 2 "blue blocks 2 top 0 0 1 side 0 0 0.5 bottom 0 0 0.125"
is scale 0.5
# logits; a block already there is replaced in place (same index)
run place "$D/w.json" 3 2 1 0.25,-1 -o q.json
expect_rc 0
rows_are "$W/q.json" "0 0 0 1.5 -2|3 2 1 0.25 -1|1 0 1 10 0"
run place "$D/w.json" 0 2 0 1 --label-logit 3 -o r.json
expect_rc 0
# (--label-logit applies to the ids read from w.json too)
rows_are "$W/r.json" "0 0 0 1.5 -2|3 2 1 0 3|1 0 1 3 0|0 2 0 3 0"
# the output may be the input
cp "$D/w.json" "$W/same.json"
run place "$W/same.json" 1 1 1 2 -o "$W/same.json"
expect_rc 0
rows_are "$W/same.json" "0 0 0 1.5 -2|3 2 1 0 10|1 0 1 10 0|1 1 1 0 10"
finish

begin place_errors
run place "$D/w.json" 4 0 0 1 -o p.json
expect_rc 1
stderr_has 'w\.json: position: \(4, 0, 0\) is outside the 4 x 3 x 2 grid' "the position outside the grid"
run place "$D/w.json" -1 0 0 1 -o p.json
expect_rc 1
stderr_has 'w\.json: position: \(-1, 0, 0\) is outside' "a negative coordinate"
run place "$D/w.json" 0 0 0 3 -o p.json
expect_rc 1
stderr_has 'w\.json: material: id 3 is outside 1\.\.2' "the material id out of range"
run place "$D/w.json" 0 0 0 1,2,3 -o p.json
expect_rc 1
stderr_has 'w\.json: logits: 3 given, the world has 2 materials' "the logit count"
run place "$D/w.json" 0 0 0 1,abc -o p.json
expect_rc 2
stderr_has "logit: 'abc'" "the logit that is no number"
run place "$D/w.json" 0 0 0 1,1e39 -o p.json
expect_rc 2
stderr_has "1e39.*finite" "the logit outside float32"
run place "$D/w.json" 0 1.5 0 1 -o p.json
expect_rc 2
stderr_has "Y: '1\.5' is not an integer" "the coordinate"
run place "$D/w.json" 0 0 0 -o p.json
expect_rc 2
stderr_has "place: 4 arguments given, 5 expected" "the missing argument"
run place "$D/w.json" 0 0 0 1 -o p.png
expect_rc 2
stderr_has "p\.png.*\.json" "the output's extension"
no_files
finish

# ---------------------------------------------------------------- remove
# removing block 0: the last block (1, 0, 1) takes index 0
begin remove
run remove "$D/w.json" 0 0 0 -o r.json
expect_rc 0
rows_are "$W/r.json" "1 0 1 10 0|3 2 1 0 10"
run remove "$W/r.json" 3 2 1 -o r.json
expect_rc 0
rows_are "$W/r.json" "1 0 1 10 0"
run info "$W/r.json"
is blocks 1
is visible_faces 6
finish

begin remove_errors
run remove "$D/w.json" 2 2 1 -o r.json
expect_rc 1
stderr_has 'w\.json: position: \(2, 2, 1\) is air' "the air"
run remove "$D/w.json" 0 3 0 -o r.json
expect_rc 1
stderr_has 'position: \(0, 3, 0\) is outside' "the position outside the grid"
run remove "$D/w.json" 0 0 -o r.json
expect_rc 2
run remove "$D/w.json" 0 0 0 0 -o r.json
expect_rc 2
stderr_has "5 arguments given, 4 expected" "the extra argument"
no_files
finish

# ---------------------------------------------------------------- labels
begin labels
run labels "$D/m.vox" -o m.npy
expect_rc 0
got=$("$PY" "$TOP/w.py" npy "$W/m.npy" 2>>"$ERR" | paste -sd '|')
[ "$got" = "|u1 3 4 2|0 0 1 1|1 2 1 1|2 0 1 3|2 3 0 2" ] || problem "m.npy is '$got'"
# a label volume comes back byte for byte
run labels "$D/lv.npy" -o lv.npy
expect_rc 0
cmp -s "$D/lv.npy" "$W/lv.npy" || problem "lv.npy does not come back byte for byte"
run labels "$D/w.json" -o w.npy
expect_rc 0
got=$("$PY" "$TOP/w.py" npy "$W/w.npy" 2>>"$ERR" | paste -sd '|')
[ "$got" = "|u1 4 3 2|0 0 0 1|1 0 1 1|3 2 1 2" ] || problem "w.npy is '$got'"
run labels "$D/w.json" -o w.json
expect_rc 2
stderr_has "must be a \.npy" "the output's extension"
finish

# ---------------------------------------------------------------- bad input
begin bad_input
run info "$D/nothere.json"
expect_rc 1
stderr_has 'nothere\.json: file: cannot open' "the missing file"
run convert "$D/bad.json" -o out.json
expect_rc 1
stderr_has 'bad\.json: blocks\[1\]: position \(0, 0, 0\) is given twice' "the repeated position"
run info "$D/i4.npy"
expect_rc 1
stderr_has "i4\.npy: descr: dtype '<i4'" "the dtype"
run convert "$D/w.json" -o nofolder/out.json
expect_rc 1
stderr_has 'nofolder/out\.json: file: ' "the folder that does not exist"
run info "$D/w.json" --label-logit abc
expect_rc 2
stderr_has "label-logit" "the option with a bad value"
run info "$D/w.json" --label-logit -1
expect_rc 2
run frobnicate "$D/w.json"
expect_rc 2
stderr_has "unknown command 'frobnicate'" "the unknown command"
run info "$D/w.json" --frobnicate
expect_rc 2
stderr_has "unknown option '--frobnicate'" "the unknown option"
run convert "$D/w.json"
expect_rc 2
stderr_has "no output" "the missing -o"
run info "$D/w.json" -o x.json
expect_rc 2
run info
expect_rc 2
run
expect_rc 2
no_files
run --help
expect_rc 0
grep -q '^usage: dvren_blocks' "$OUT" || problem "--help prints no usage"
finish

# ---------------------------------------------------------------- real data
if [ -f "$DATA/voxels/chr_cop1.vox" ]; then
    begin real_vox
    run info "$DATA/voxels/chr_cop1.vox"
    expect_rc 0
    is size "8 11 6"
    is materials 10
    is blocks 267
    sum=$(awk '$1 == "material" { s += $5 } END { print s }' "$OUT")
    [ "$sum" = 267 ] || problem "the per-material counts add up to $sum, not 267"
    grep -v '^file ' "$OUT" >"$TOP/vox.info"
    run convert "$DATA/voxels/chr_cop1.vox" -o cop.json
    expect_rc 0
    run info "$W/cop.json"
    expect_rc 0
    grep -v '^file ' "$OUT" | cmp -s - "$TOP/vox.info" || problem "info of the converted JSON differs from the .vox's"
    finish
else
    echo "SKIP $NAME/real_vox: no $DATA/voxels/chr_cop1.vox"
fi

[ "$nfail" -eq 0 ]
