#!/usr/bin/env bash
# tests/test_compose_cli.sh - dvren_compose (tools/dvren_compose.c): splat
# objects placed by a JSON scene and written as one PLY, and bad input.
#
# Run from the repository root after ./build.sh: bash tests/test_compose_cli.sh.
# The input PLYs are written at run time by a Python script using only the
# standard library (struct); the expected output values are worked out in
# that script from x' = s R x + t with R written out by hand (a quarter
# turn about z), not by dvren. Prints one "PASS|FAIL|SKIP
# test_compose_cli/<case>" line per case. The real-data case
# ($DVREN_DATA/gaussians/pc_short.ply) is SKIPped when it is absent.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_compose
NAME=test_compose_cli
PY=${DVREN_PYTHON:-python3}
DATA=${DVREN_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
PC=$DATA/gaussians/pc_short.ply

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "SKIP $NAME/all: no $PY to make the test PLYs"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-compose.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
nfail=0
. tests/shell_harness.sh

cat >"$TOP/g.py" <<'PY'
import math, struct, sys

def write_ply(path, verts, deg):
    """verts: dicts x y z f_dc(3) f_rest(3K, channel-major) opacity scale(3) rot(4)."""
    K = (deg + 1) ** 2 - 1
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += ["f_rest_%d" % k for k in range(3 * K)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    head = "ply\nformat binary_little_endian 1.0\nelement vertex %d\n" % len(verts)
    head += "".join("property float %s\n" % n for n in names) + "end_header\n"
    body = b""
    for v in verts:
        vals = list(v["p"]) + [0, 0, 0] + list(v["dc"]) + list(v["rest"]) + [v["op"]] + list(v["ls"]) + list(v["q"])
        body += struct.pack("<%df" % len(vals), *vals)
    open(path, "wb").write(head.encode() + body)

def read_ply(path):
    data = open(path, "rb").read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode().split("\n")
    n = int([l for l in lines if l.startswith("element vertex")][0].split()[2])
    names = [l.split()[2] for l in lines if l.startswith("property")]
    out = []
    for i in range(n):
        vals = struct.unpack_from("<%df" % len(names), data, end + 4 * len(names) * i)
        out.append(dict(zip(names, vals)))
    return names, out

if sys.argv[1] == "gen":
    d = sys.argv[2]
    # a: degree 1, two Gaussians; b: degree 0, one Gaussian
    a = [dict(p=(1, 0, 0), dc=(0.1, 0.2, 0.3), rest=[0, 0, 0.5] + [0] * 6, op=1.0, ls=(math.log(0.3), math.log(0.1), math.log(0.1)), q=(1, 0, 0, 0)),
         dict(p=(0, 0, 1), dc=(0.4, 0.5, 0.6), rest=[0] * 9, op=0.5, ls=(-2, -2, -2), q=(1, 0, 0, 0))]
    b = [dict(p=(0, 0, 0), dc=(0.7, 0.8, 0.9), rest=[], op=2.0, ls=(-1, -1, -1), q=(0, 1, 0, 0))]
    write_ply(d + "/a.ply", a, 1)
    write_ply(d + "/b.ply", b, 0)
elif sys.argv[1] == "check":
    # a moved by scale 2, a quarter turn about z (x -> y, y -> -x), translation (1, 2, 3);
    # b by translation (-5, 0, 0) only
    names, v = read_ply(sys.argv[2])
    bad = []
    def near(what, got, want, tol=1e-5):
        if abs(got - want) > tol: bad.append("%s = %g, expected %g" % (what, got, want))
    if len(v) != 3: bad.append("%d vertices, expected 3" % len(v))
    if "f_rest_8" not in names or "f_rest_9" in names: bad.append("not SH degree 1: %s" % names)
    if not bad:
        for k, want in zip("xyz", (1, 4, 3)): near("v0." + k, v[0][k], want)
        for k, want in zip("xyz", (1, 2, 5)): near("v1." + k, v[1][k], want)
        for k, want in zip("xyz", (-5, 0, 0)): near("v2." + k, v[2][k], want)
        near("v0.scale_0", v[0]["scale_0"], math.log(0.6))
        near("v0.scale_1", v[0]["scale_1"], math.log(0.2))
        # the quarter turn's quaternion (cos 45, 0, 0, sin 45) times identity
        near("v0.rot_0", v[0]["rot_0"], math.sqrt(0.5)); near("v0.rot_3", v[0]["rot_3"], math.sqrt(0.5))
        # band 1 of R (3DGS order y z x, basis -C1 y, C1 z, -C1 x): the x coefficient becomes the y one
        near("v0.f_rest_0", v[0]["f_rest_0"], 0.5); near("v0.f_rest_2", v[0]["f_rest_2"], 0.0)
        near("v0.f_dc_2", v[0]["f_dc_2"], 0.3)
        near("v2.f_dc_0", v[2]["f_dc_0"], 0.7)
        for k in range(9): near("v2.f_rest_%d (padded)" % k, v[2]["f_rest_%d" % k], 0.0, 0)
        near("v2.rot_1", v[2]["rot_1"], 1.0)
        near("v2.opacity", v[2]["opacity"], 2.0)
    print("; ".join(bad))
PY

stderr_has() { grep -qF -- "$1" "$ERR" || problem "stderr lacks '$1' ($2): $(head -c 300 "$ERR")"; }
no_output() { [ ! -e "$W/out.ply" ] || problem "an output file was left behind"; ls "$W" | grep -q '\.tmp' && problem "a temporary file was left behind"; }
scene() { cat >"$W/scene.json"; }

"$PY" "$TOP/g.py" gen "$TOP" || { echo "FAIL $NAME/setup: cannot write the input PLYs"; exit 1; }
OBJ_A='{"name": "a", "file": "a.ply", "scale": 2, "rotation": {"axis_angle_deg": [0, 0, 1, 90]}, "translation": [1, 2, 3]}'
OBJ_B='{"file": "b.ply", "translation": [-5, 0, 0]}'

# ---------------------------------------------------------------- success
for rot in '{"axis_angle_deg": [0, 0, 1, 90]}' '{"quaternion": [0.7071067811865476, 0, 0, 0.7071067811865476]}' \
    '{"euler_deg": [0, 0, 90]}' '{"quaternion": [-2, 0, 0, -2]}'; do
    case $rot in *axis*) c=axis_angle ;; *euler*) c=euler ;; *-2*) c=quaternion_unnormalised_negative ;; *) c=quaternion ;; esac
    begin "two_objects_$c"
    cp "$TOP/a.ply" "$TOP/b.ply" "$W/"
    scene <<EOF
{"objects": [{"name": "a", "file": "a.ply", "scale": 2, "rotation": $rot, "translation": [1, 2, 3]}, $OBJ_B]}
EOF
    run scene.json -o out.ply
    expect_rc 0
    if [ -f "$W/out.ply" ]; then
        msg=$("$PY" "$TOP/g.py" check "$W/out.ply")
        [ -z "$msg" ] || problem "$msg"
    else
        problem "no out.ply"
    fi
    grep -q "3 Gaussians, SH degree 1, from 2 objects" "$OUT" || problem "stdout: $(cat "$OUT")"
    finish
done

begin relative_to_json_folder
mkdir -p "$W/sub"
cp "$TOP/a.ply" "$TOP/b.ply" "$W/sub/"
cat >"$W/sub/scene.json" <<EOF
{"objects": [$OBJ_A, $OBJ_B]}
EOF
run sub/scene.json -o out.ply
expect_rc 0
[ -f "$W/out.ply" ] || problem "no out.ply"
finish

# ---------------------------------------------------------------- bad input
bad_case() { # case json field-text problem-text
    begin "$1"
    cp "$TOP/a.ply" "$TOP/b.ply" "$W/"
    printf '%s\n' "$2" >"$W/scene.json"
    run scene.json -o out.ply
    expect_rc 1
    stderr_has "scene.json" "the scene file"
    stderr_has "$3" "the field"
    stderr_has "$4" "the problem"
    no_output
    finish
}
bad_case missing_file '{"objects": [{"file": "nope.ply"}]}' "objects[0].file" "nope.ply"
bad_case zero_quaternion '{"objects": [{"file": "a.ply", "rotation": {"quaternion": [0, 0, 0, 0]}}]}' \
    "objects[0].rotation.quaternion" "must not be zero"
bad_case negative_scale '{"objects": [{"file": "a.ply"}, {"file": "b.ply", "scale": -1.5}]}' "objects[1].scale" "> 0"
bad_case unknown_key '{"objects": [{"file": "a.ply", "scael": 2}]}' "objects[0]" "unknown key 'scael'"
bad_case unknown_top_key '{"objects": [{"file": "a.ply"}], "camera": 1}' "(top level)" "unknown key 'camera'"
bad_case two_rotations '{"objects": [{"file": "a.ply", "rotation": {"quaternion": [1,0,0,0], "euler_deg": [0,0,0]}}]}' \
    "objects[0].rotation" "exactly one"
bad_case short_translation '{"objects": [{"file": "a.ply", "translation": [1, 2]}]}' "objects[0].translation" "3 numbers"
bad_case zero_axis '{"objects": [{"file": "a.ply", "rotation": {"axis_angle_deg": [0, 0, 0, 30]}}]}' \
    "objects[0].rotation.axis_angle_deg" "axis"
bad_case no_objects '{"objects": []}' "objects" "non-empty"
bad_case named_object '{"objects": [{"name": "chair", "file": "a.ply", "scale": 0}]}' 'objects[0] ("chair").scale' "> 0"
bad_case json_syntax '{"objects": [' "scene.json" "JSON syntax error"
bad_case not_a_ply '{"objects": [{"file": "scene.json"}]}' "objects[0].file" "splat_ply"

begin no_output_argument
cp "$TOP/a.ply" "$W/"
echo '{"objects": [{"file": "a.ply"}]}' >"$W/scene.json"
run scene.json
expect_rc 1
stderr_has "-o out.ply" "the missing option"
finish

begin missing_scene
run nope.json -o out.ply
expect_rc 1
stderr_has "nope.json" "the scene file"
no_output
finish

begin unwritable_output
cp "$TOP/a.ply" "$W/"
echo '{"objects": [{"file": "a.ply"}]}' >"$W/scene.json"
run scene.json -o no/such/dir/out.ply
expect_rc 1
stderr_has "no/such/dir/out.ply" "the output path"
finish

# ---------------------------------------------------------------- real data
begin pc_short_lenient
if [ ! -f "$PC" ]; then
    echo "SKIP $NAME/$CASE: no $PC (set DVREN_DATA)"
else
    printf '{"objects": [{"file": "%s", "rotation": {"euler_deg": [10, 20, 30]}}, {"file": "%s", "translation": [3, 0, 0]}]}\n' \
        "$PC" "$PC" >"$W/scene.json"
    run scene.json -o out.ply
    expect_rc 1
    stderr_has "--lenient" "the hint"
    no_output
    run scene.json -o out.ply --lenient
    expect_rc 0
    grep -q "200 Gaussians, SH degree 3, from 2 objects" "$OUT" || problem "stdout: $(cat "$OUT")"
    finish
fi

[ "$nfail" -eq 0 ]
