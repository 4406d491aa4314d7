#!/usr/bin/env bash
# tests/test_mesh_trimesh.sh - dvren's mesh files (tools/dvren_mesh_io.h) read
# by trimesh and pygltflib (PyPI, pinned in tests/requirements-trimesh.txt,
# in a cached venv from tests/python_env.sh). tests/mesh_trimesh_write.c,
# built here, writes an icosphere (642 vertices, 1280 triangles, built
# analytically) as OBJ and PLY, and a two-object scene (sphere, tetra) as
# GLB, plain and Z-up; tests/mesh_trimesh_check.py checks counts, bounds
# (1e-6), watertightness, the volume against the polyhedron's and the
# sphere's, node names and transforms, and the glTF structure (pygltflib's
# validator, buffer views and accessors inside the BIN chunk, POSITION
# min/max). SKIP only when the venv is not cached and cannot be made (no
# network).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
NAME=test_mesh_trimesh
CC=${CC:-cc}
. tests/python_env.sh
VENV=$(dvren_python_env "$ROOT/tests/requirements-trimesh.txt" 2>/tmp/dvren-trimesh-venv.$$) ||
  { echo "SKIP $NAME: no Python environment with trimesh ($(tail -1 /tmp/dvren-trimesh-venv.$$))"; rm -f /tmp/dvren-trimesh-venv.$$; exit 0; }
rm -f /tmp/dvren-trimesh-venv.$$
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-trimesh.XXXXXX") || exit 1
trap 'rm -rf "$TOP"' EXIT
if ! $CC -std=c11 -O1 -Wall -Wextra -Werror -I"$ROOT" -I"$ROOT/tools" tests/mesh_trimesh_write.c -o "$TOP/write" \
    -lcjson -ldl -lm -lpthread 2> "$TOP/cc.log"; then
  echo "FAIL $NAME/build: tests/mesh_trimesh_write.c does not compile"; head -20 "$TOP/cc.log"; exit 1
fi
if ! "$TOP/write" "$TOP" > "$TOP/summary.json" 2> "$TOP/write.log"; then
  echo "FAIL $NAME/write: $(tail -3 "$TOP/write.log")"; exit 1
fi
if out=$("$VENV/bin/python" tests/mesh_trimesh_check.py "$TOP" "$TOP/summary.json" 2>&1); then
  while IFS= read -r line; do
    echo "PASS $NAME/${line%%:*} (${line#*: })"
  done <<< "$out"
else
  echo "FAIL $NAME/check: $(printf '%s\n' "$out" | tail -4 | tr '\n' ' ')"; exit 1
fi
