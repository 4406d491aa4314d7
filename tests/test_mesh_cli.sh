#!/usr/bin/env bash
# tests/test_mesh_cli.sh - the dvren_mesh tool (tools/dvren_mesh.c): extract,
# convert, compose and blocks, and bad input.
#
# Run from the repository root after ./build.sh: bash tests/test_mesh_cli.sh.
# The inputs are written at run time by Python scripts using only the
# standard library (struct, json): a float32 .npy sphere field, a splat
# PLY, a block world. The expectations are worked out here, not by dvren:
# a closed surface of genus 0 has V - T/2 = 2 and no boundary edge; the
# sphere's vertices lie on its radius and its enclosed volume (the signed
# volume of the triangles, positive when they turn counter-clockwise seen
# from outside) is 4/3 pi r^3 to the grid's accuracy; a quarter turn about
# z is the glTF quaternion (0, 0, sin 45, cos 45); two blocks side by side
# show 10 faces. The files are read back by an independent reader below
# (OBJ lines, the PLY header and records, the GLB's JSON chunk). The CT-head
# cases need $DVREN_DATA/ct_head and are SKIPped without it. Prints one
# "PASS|FAIL|SKIP test_mesh_cli/<case>" line per case.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_mesh
NAME=test_mesh_cli
PY=${DVREN_PYTHON:-python3}
DATA=${DVREN_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
HEAD=$DATA/ct_head/quarter.nhdr
export DVREN_DATA=$DATA

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "SKIP $NAME/all: no $PY to write the inputs and read the outputs"
    exit 0
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-mesh-cli.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
nfail=0
. tests/shell_harness.sh

cat >"$TOP/m.py" <<'PY'
import json, math, struct, sys

def write_npy(path, shape, values):
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join("%d, " % s for s in shape)
    head += " " * ((64 - (10 + len(head) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + struct.pack("<%df" % len(values), *values))

# the sphere: radius R around C (off the grid points, so that no sample equals the level)
N, R, C = 24, 7.5, (11.3, 11.6, 11.45)

def sphere(path, sign):
    vals = []
    for z in range(N):
        for y in range(N):
            for x in range(N):
                d = math.sqrt((x - C[0]) ** 2 + (y - C[1]) ** 2 + (z - C[2]) ** 2)
                vals.append(sign * (R - d))
    write_npy(path, (N, N, N), vals)

def read_ply(path):
    data = open(path, "rb").read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode().split("\n")
    if lines[1] != "format binary_little_endian 1.0":
        raise SystemExit("unexpected PLY format line " + lines[1])
    V = T = 0
    props = []
    element = None
    for l in lines:
        w = l.split()
        if w[:1] == ["element"]:
            element = w[1]
            if element == "vertex": V = int(w[2])
            if element == "face": T = int(w[2])
        elif w[:1] == ["property"] and element == "vertex":
            props.append((w[1], w[2]))
    fmt = "<" + "".join({"float": "f", "uchar": "B"}[t] for t, _ in props)
    size = struct.calcsize(fmt)
    names = [n for _, n in props]
    verts = [dict(zip(names, struct.unpack_from(fmt, data, end + size * i))) for i in range(V)]
    off = end + size * V
    tris = []
    for i in range(T):
        n, a, b, c = struct.unpack_from("<BIII", data, off + 13 * i)
        if n != 3: raise SystemExit("face %d has %d corners" % (i, n))
        tris.append((a, b, c))
    if off + 13 * T != len(data): raise SystemExit("PLY: %d bytes after the faces" % (len(data) - off - 13 * T))
    return verts, tris

def glb_json(path):
    d = open(path, "rb").read()
    magic, version, length = struct.unpack_from("<4sII", d, 0)
    if magic != b"glTF" or version != 2 or length != len(d): raise SystemExit("not a GLB 2.0 of its length")
    n, kind = struct.unpack_from("<II", d, 12)
    if kind != 0x4E4F534A: raise SystemExit("the first chunk is not JSON")
    return json.loads(d[20:20 + n])

def counts(path):
    """(vertices, triangles) as the file itself says."""
    if path.endswith(".obj"):
        lines = open(path).read().split("\n")
        return sum(l.startswith("v ") for l in lines), sum(l.startswith("f ") for l in lines)
    if path.endswith(".ply"):
        v, t = read_ply(path)
        return len(v), len(t)
    j = glb_json(path)
    V = T = 0
    for m in j["meshes"]:
        for p in m["primitives"]:
            V += j["accessors"][p["attributes"]["POSITION"]]["count"]
            T += j["accessors"][p["indices"]]["count"] // 3
    return V, T

def check_sphere(path):
    verts, tris = read_ply(path)
    bad = []
    V, T = len(verts), len(tris)
    if V - T / 2 != 2: bad.append("V - T/2 = %g, a closed genus-0 surface has 2" % (V - T / 2))
    edges = {}
    for t in tris:
        for k in range(3):
            e = tuple(sorted((t[k], t[(k + 1) % 3])))
            edges[e] = edges.get(e, 0) + 1
    if any(c != 2 for c in edges.values()): bad.append("%d edges not shared by exactly two triangles" % sum(c != 2 for c in edges.values()))
    worst = max(abs(math.sqrt((v["x"] - C[0]) ** 2 + (v["y"] - C[1]) ** 2 + (v["z"] - C[2]) ** 2) - R) for v in verts)
    if worst > 0.1: bad.append("a vertex lies %g from the radius" % worst)
    vol = 0.0
    for a, b, c in tris:
        p, q, r = ([verts[i][k] - C[j] for j, k in enumerate("xyz")] for i in (a, b, c))
        vol += (p[0] * (q[1] * r[2] - q[2] * r[1]) - p[1] * (q[0] * r[2] - q[2] * r[0]) + p[2] * (q[0] * r[1] - q[1] * r[0])) / 6
    want = 4 / 3 * math.pi * R ** 3
    if abs(vol / want - 1) > 0.02: bad.append("enclosed volume %g, expected %g (negative: triangles turn the wrong way)" % (vol, want))
    if "nx" in verts[0]:
        # normals point out of the sphere
        inward = sum((v["nx"] * (v["x"] - C[0]) + v["ny"] * (v["y"] - C[1]) + v["nz"] * (v["z"] - C[2])) <= 0 for v in verts)
        if inward: bad.append("%d normals point inwards" % inward)
    print("; ".join(bad) if bad else "ok")

cmd = sys.argv[1]
if cmd == "sphere":
    sphere(sys.argv[2], float(sys.argv[3]))
elif cmd == "check_sphere":
    check_sphere(sys.argv[2])
elif cmd == "counts":
    print("%d %d" % counts(sys.argv[2]))
elif cmd == "splat":
    # one Gaussian at (1, 0, 0), SH degree 0
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
             "rot_0", "rot_1", "rot_2", "rot_3"]
    vals = [1, 0, 0, 0, 0, 0, 0.1, 0.2, 0.3, 1.0, -2, -2, -2, 1, 0, 0, 0]
    head = "ply\nformat binary_little_endian 1.0\nelement vertex 1\n" + "".join("property float %s\n" % n for n in names) + "end_header\n"
    open(sys.argv[2], "wb").write(head.encode() + struct.pack("<%df" % len(vals), *vals))
elif cmd == "splat_mean":
    data = open(sys.argv[2], "rb").read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    names = [l.split()[2] for l in data[:end].decode().split("\n") if l.startswith("property")]
    v = dict(zip(names, struct.unpack_from("<%df" % len(names), data, end)))
    print("%.5f %.5f %.5f" % (v["x"], v["y"], v["z"]))
elif cmd == "nodes":
    j = glb_json(sys.argv[2])
    print(json.dumps({"scene": j["scenes"][j.get("scene", 0)]["nodes"], "nodes": j["nodes"]}))
elif cmd == "check_nodes":
    j = json.loads(open(sys.argv[2]).read())
    nodes = j["nodes"]
    bad = []
    root = nodes[j["scene"][0]]
    s = math.sqrt(0.5)
    if root.get("name") != "z_up_to_y_up" or any(abs(a - b) > 1e-12 for a, b in zip(root.get("rotation", []), [-s, 0, 0, s])):
        bad.append("the root is %s, expected z_up_to_y_up rotated -90 degrees about x" % json.dumps(root)[:120])
    kids = [nodes[k] for k in root.get("children", [])]
    if [k.get("name") for k in kids] != ["a", "b"]: bad.append("children %s, expected a, b" % [k.get("name") for k in kids])
    else:
        a, b = kids
        def near(what, got, want):
            if len(got) != len(want) or any(abs(x - y) > 1e-9 for x, y in zip(got, want)): bad.append("%s %s, expected %s" % (what, got, want))
        near("a.rotation", a.get("rotation", [0, 0, 0, 1]), [0, 0, s, s])
        near("a.translation", a.get("translation", [0, 0, 0]), [1, 2, 3])
        near("a.scale", a.get("scale", [1, 1, 1]), [2, 2, 2])
        near("b.rotation", b.get("rotation", [0, 0, 0, 1]), [0, 0, 0, 1])
        near("b.translation", b.get("translation", [0, 0, 0]), [-5, 0, 0])
        near("b.scale", b.get("scale", [1, 1, 1]), [1, 1, 1])
    print("; ".join(bad) if bad else "ok")
elif cmd == "world":
    # two grass blocks side by side along x, one stone block floating above
    json.dump({"format": "dvren.blocks/1", "size": [4, 4, 4], "scale": 0.5, "origin": [1, 0, 0],
               "blocks": [[0, 0, 0, 1], [1, 0, 0, 1], [3, 3, 3, 3]]}, open(sys.argv[2], "w"))
elif cmd == "check_world":
    verts, tris = read_ply(sys.argv[2])
    bad = []
    if (len(verts), len(tris)) != (64, 32): bad.append("%d vertices, %d triangles; expected 16 faces: 64, 32" % (len(verts), len(tris)))
    # grass top (0.35, 0.62, 0.24) on the +y faces of the two lower blocks, stone grey elsewhere on the upper one
    rgb = lambda c: tuple(int(math.floor(x * 255 + 0.5)) for x in c)
    tops = [v for v in verts if v["ny"] == 1 and v["y"] == 0.5]
    if len(tops) != 8 or any((v["red"], v["green"], v["blue"]) != rgb((0.35, 0.62, 0.24)) for v in tops):
        bad.append("the lower blocks' top faces are not grass-top green")
    for a, b, c in tris:
        p, q, r = ([verts[i][k] for k in "xyz"] for i in (a, b, c))
        n = [(q[1] - p[1]) * (r[2] - p[2]) - (q[2] - p[2]) * (r[1] - p[1]), (q[2] - p[2]) * (r[0] - p[0]) - (q[0] - p[0]) * (r[2] - p[2]),
             (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])]
        if n[0] * verts[a]["nx"] + n[1] * verts[a]["ny"] + n[2] * verts[a]["nz"] <= 0:
            bad.append("a triangle turns clockwise seen from its normal's side"); break
    xs = sorted(set(v["x"] for v in verts))
    if xs[0] != 1 or xs[-1] != 3: bad.append("x spans %g..%g, expected 1..3 (origin 1, scale 0.5, 4 cells)" % (xs[0], xs[-1]))
    print("; ".join(bad) if bad else "ok")
PY

m() { "$PY" "$TOP/m.py" "$@"; }
# the counts dvren_mesh reports for one object: "V T B N"
reported() { sed -n 's/.*: \([0-9]*\) vertices, \([0-9]*\) triangles, \([0-9]*\) boundary edges, \([0-9]*\) non-manifold edges$/\1 \2 \3 \4/p' "$ERR" | head -n 1; }
no_file() { [ ! -e "$1" ] || problem "$(basename "$1") was written although the command failed"; }
names_it() { grep -q -- "$1" "$ERR" || problem "the message does not name '$1': $(head -c 300 "$ERR")"; }

m sphere "$TOP/sphere.npy" 1
m sphere "$TOP/sphere_neg.npy" -1

begin sphere_closed
run extract "$TOP/sphere.npy" --level 0 -o s.ply
expect_rc 0
[ "$(reported)" = "$(m counts "$W/s.ply" 2>&1) 0 0" ] || problem "reported $(reported), the file has $(m counts "$W/s.ply" 2>&1) (and 0 0 boundary/non-manifold edges were expected)"
r=$(m check_sphere "$W/s.ply" 2>&1); [ "$r" = ok ] || problem "$r"
finish

begin sphere_inside_below
# the same surface of the negated field, the inside below the level
run extract "$TOP/sphere_neg.npy" --level 0 --inside-below -o s.ply
expect_rc 0
r=$(m check_sphere "$W/s.ply" 2>&1); [ "$r" = ok ] || problem "$r"
finish

begin sphere_scene_resampled
# through a scene file: the field sampled on a finer grid over its box,
# shaded by a preset's transfer function
cat >"$W/scene.json" <<EOF
{"field": {"plugin": "dense_grid", "params": {"file": "$TOP/sphere.npy", "fit": "physical"}}, "shader": {"preset": "auto"}}
EOF
run extract scene.json --level 0 --res 40 40 40 --colors -o s.ply
expect_rc 0
read -r V T Bd Nm <<<"$(reported)"
[ "${Bd:-x}" = 0 ] && [ "${Nm:-x}" = 0 ] || problem "boundary/non-manifold edges: ${Bd:-?} ${Nm:-?}, expected 0 0"
[ $((V - T / 2)) = 2 ] 2>/dev/null || problem "V - T/2 = $V - $T/2, expected 2"
head -c 400 "$W/s.ply" | grep -q "property uchar red" || problem "--colors: the PLY has no vertex colours"
finish

if [ -f "$HEAD" ]; then
    begin head_formats
    for f in glb ply obj; do
        run extract "$HEAD" --level 500 --name skin -o "skin.$f"
        expect_rc 0
        rep=$(reported)
        got=$(m counts "$W/skin.$f" 2>&1)
        [ "${rep% * *}" = "$got" ] || problem "$f: reported '$rep', the file has '$got'"
        echo "$got" >>"$W/all"
    done
    [ "$(sort -u "$W/all" | wc -l)" = 1 ] || problem "the formats disagree: $(tr '\n' ',' <"$W/all")"
    # the head is cut by the volume's box (its top and neck are open): boundary edges, but no non-manifold edge
    read -r V T Bd Nm <<<"$(reported)"
    [ "${Bd:-0}" -gt 0 ] 2>/dev/null && [ "${Nm:-x}" = 0 ] || problem "boundary ${Bd:-?}, non-manifold ${Nm:-?}: expected > 0 and 0"
    j=$(m nodes "$W/skin.glb" 2>&1)
    echo "$j" | grep -q '"name": "skin"' || problem "the GLB has no node 'skin': ${j:0:200}"
    finish

    begin head_example
    # examples/ct_head_mesh.json: skin and bone as two nodes
    W0=$W
    (cd "$ROOT" && "$BIN" compose examples/ct_head_mesh.json -o "$W0/ct_head.glb") >"$OUT" 2>"$ERR"
    RC=$?
    expect_rc 0
    j=$(m nodes "$W/ct_head.glb" 2>&1)
    echo "$j" | grep -q '"name": "skin"' && echo "$j" | grep -q '"name": "bone"' || problem "nodes: ${j:0:300}"
    finish
else
    echo "SKIP $NAME/head_formats: no $HEAD"
    echo "SKIP $NAME/head_example: no $HEAD"
fi

begin compose_two
m splat "$W/g.ply"
cp "$TOP/sphere.npy" "$W/ball.npy"
cat >"$W/c.json" <<'EOF'
{"objects": [
  {"name": "a", "volume": "ball.npy", "level": 0, "color": [1, 0.5, 0.25], "splats": "g.ply",
   "transform": {"scale": 2, "rotation": {"axis_angle_deg": [0, 0, 1, 90]}, "translation": [1, 2, 3]}},
  {"name": "b", "mesh": "m.ply", "transform": {"translation": [-5, 0, 0]}}
]}
EOF
run extract ball.npy --level 0 -o m.ply
mkdir -p "$W/out"
run compose c.json -o out/c.glb --splats out/c.ply
expect_rc 0
j=$(m nodes "$W/out/c.glb" 2>&1)
echo "$j" >"$W/nodes.json"
r=$(m check_nodes "$W/nodes.json" 2>&1); [ "$r" = ok ] || problem "$r"
# the Gaussian at (1, 0, 0) under x' = 2 Rz(90) x + (1, 2, 3): (1, 4, 3)
mean=$(m splat_mean "$W/out/c.ply" 2>&1)
[ "$mean" = "1.00000 4.00000 3.00000" ] || problem "the merged splat's mean is '$mean', expected 1 4 3"
finish

begin compose_scene_colors
# a scene-file object with the shader's colours: the GLB's mesh has COLOR_0
cat >"$W/scene.json" <<EOF
{"field": {"plugin": "dense_grid", "params": {"file": "$TOP/sphere.npy"}}, "shader": {"preset": "auto"}}
EOF
cat >"$W/c.json" <<'EOF'
{"objects": [{"name": "ball", "scene": "scene.json", "level": 0, "colors": true, "res": [20, 20, 20]}]}
EOF
run compose c.json -o c.glb
expect_rc 0
j=$("$PY" -c 'import json, struct, sys
d = open(sys.argv[1], "rb").read(); n = struct.unpack_from("<I", d, 12)[0]; j = json.loads(d[20:20 + n])
print(sorted(j["meshes"][0]["primitives"][0]["attributes"]))' "$W/c.glb" 2>&1)
[ "$j" = "['COLOR_0', 'NORMAL', 'POSITION']" ] || problem "attributes $j, expected COLOR_0, NORMAL, POSITION"
finish

begin convert_round_trip
run extract "$TOP/sphere.npy" --level 0 -o a.ply
want=$(m counts "$W/a.ply" 2>&1)
run convert a.ply b.obj && run convert b.obj c.glb && run convert c.glb d.ply
expect_rc 0
for f in b.obj c.glb d.ply; do
    got=$(m counts "$W/$f" 2>&1)
    [ "$got" = "$want" ] || problem "$f has '$got', a.ply '$want'"
done
cmp -s "$W/a.ply" "$W/d.ply" || problem "ply -> obj -> glb -> ply changed the file"
finish

begin blocks_world
m world "$W/w.json"
run blocks w.json -o w.ply
expect_rc 0
r=$(m check_world "$W/w.ply" 2>&1); [ "$r" = ok ] || problem "$r"
finish

begin blocks_scene
# a scene file whose field is a block world (examples/blocks_house.json's form)
m world "$W/w.json"
cat >"$W/s.json" <<'EOF'
{"field": {"plugin": "block_world", "params": {"world": "w.json", "mode": "hard"}}, "sampler": {"plugin": "dda"}}
EOF
run blocks s.json -o w.glb
expect_rc 0
[ "$(m counts "$W/w.glb" 2>&1)" = "64 32" ] || problem "the GLB has $(m counts "$W/w.glb" 2>&1), expected 64 32"
finish

# ---- bad input: exit 1, one message naming the file and the field, no file written

begin unknown_key
cat >"$W/c.json" <<EOF
{"objects": [{"name": "a", "volume": "$TOP/sphere.npy", "levle": 0}]}
EOF
run compose c.json -o c.glb
expect_rc 1
names_it "c.json"; names_it "levle"; names_it "objects\[0\]"
no_file "$W/c.glb"
finish

begin unknown_transform_key
cat >"$W/c.json" <<EOF
{"objects": [{"volume": "$TOP/sphere.npy", "level": 0, "transform": {"scale": 1, "rotate": [0, 0, 0, 1]}}]}
EOF
run compose c.json -o c.glb
expect_rc 1
names_it "c.json"; names_it "objects\[0\].transform"; names_it "rotate"
no_file "$W/c.glb"
finish

begin missing_volume
run extract nowhere.nhdr --level 1 -o x.glb
expect_rc 1
names_it "nowhere.nhdr"
no_file "$W/x.glb"
finish

begin missing_mesh
cat >"$W/c.json" <<'EOF'
{"objects": [{"name": "a", "mesh": "nope.obj"}]}
EOF
run compose c.json -o c.glb
expect_rc 1
names_it "c.json"; names_it 'objects\[0\] ("a").mesh'; names_it "nope.obj"
no_file "$W/c.glb"
finish

begin two_sources
cat >"$W/c.json" <<'EOF'
{"objects": [{"mesh": "a.obj", "volume": "b.npy", "level": 1}]}
EOF
run compose c.json -o c.glb
expect_rc 1
names_it "c.json"; names_it "exactly one"
finish

begin bad_level_text
run extract "$TOP/sphere.npy" --level abc -o x.ply
expect_rc 1
names_it "--level"; names_it "abc"
no_file "$W/x.ply"
finish

begin level_without_surface
# the field lies in [-13.3, 7.4]: level 100 crosses nothing
run extract "$TOP/sphere.npy" --level 100 -o x.ply
expect_rc 1
names_it "--level"; names_it "no surface"
no_file "$W/x.ply"
finish

begin bad_level_in_composition_keeps_old_file
# the second object fails after the first was extracted: the old output stays as it was
echo old >"$W/c.glb"
cat >"$W/c.json" <<EOF
{"objects": [{"name": "a", "volume": "$TOP/sphere.npy", "level": 0},
             {"name": "b", "volume": "$TOP/sphere.npy", "level": 1e6}]}
EOF
run compose c.json -o c.glb
expect_rc 1
names_it 'objects\[1\] ("b").level'
[ "$(cat "$W/c.glb")" = old ] || problem "c.glb was changed by a failed run"
finish

begin bad_channel
run extract "$TOP/sphere.npy" --level 0 --channel 3 -o x.ply
expect_rc 1
names_it "--channel"; names_it "1 channel"
no_file "$W/x.ply"
finish

begin bad_extension
run extract "$TOP/sphere.npy" --level 0 -o x.stl
expect_rc 1
names_it "x.stl"
no_file "$W/x.stl"
finish

begin unwritable_output
run extract "$TOP/sphere.npy" --level 0 -o no/such/folder/x.glb
expect_rc 1
names_it "no/such/folder/x.glb"
finish

begin cuda_no_fallback
# --device cuda: marching cubes on the GPU, or an error; never a CPU mesh in disguise
run extract "$TOP/sphere.npy" --level 0 --device cuda -o g.ply
if [ "$RC" -eq 0 ]; then
    # a GPU is there: its mesh must be the CPU's (bit for bit, dvren.h >>meshes)
    run extract "$TOP/sphere.npy" --level 0 -o c.ply
    cmp -s "$W/g.ply" "$W/c.ply" || problem "the GPU's mesh differs from the CPU's"
else
    expect_rc 1
    names_it "cuda"
    no_file "$W/g.ply"
fi
finish

begin splats_without_any
cat >"$W/c.json" <<EOF
{"objects": [{"name": "a", "volume": "$TOP/sphere.npy", "level": 0}]}
EOF
run compose c.json -o c.glb --splats c.ply
expect_rc 1
names_it "splats"
no_file "$W/c.glb"; no_file "$W/c.ply"
finish

begin not_a_block_world_scene
cat >"$W/s.json" <<EOF
{"field": {"plugin": "dense_grid", "params": {"file": "$TOP/sphere.npy"}}}
EOF
run blocks s.json -o w.ply
expect_rc 1
names_it "field.plugin"; names_it "block_world"
no_file "$W/w.ply"
finish

[ "$nfail" -eq 0 ]
