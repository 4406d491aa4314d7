#!/usr/bin/env bash
# tests/test_splat_plyfile.sh - dvren's 3DGS PLY files read by plyfile (PyPI,
# pinned in tests/requirements-plyfile.txt, in a cached venv from
# tests/python_env.sh), the reader of the 3DGS code base: build/fit_splats
# writes fitted.ply (SH degree 0, 300 Gaussians) through
# dvren_splat_ply_save; tests/splat_plyfile_check.py checks the element,
# count, property order and types, writes the data back with plyfile and
# requires the same bytes. SKIP when the venv cannot be made (no network).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
NAME=test_splat_plyfile
DATA=${DVREN_DATA:-../shared/data}
NPZ=$DATA/gaussians/test_garden.npz
[ -x "$B/fit_splats" ] || { echo "FAIL $NAME/binary: $B/fit_splats is not built (run ./build.sh first)"; exit 1; }
[ -f "$NPZ" ] || { echo "SKIP $NAME: no $NPZ (set DVREN_DATA)"; exit 0; }
. tests/python_env.sh
VENV=$(dvren_python_env "$ROOT/tests/requirements-plyfile.txt" 2>/tmp/dvren-plyfile-venv.$$) ||
  { echo "SKIP $NAME: no Python environment with plyfile ($(tail -1 /tmp/dvren-plyfile-venv.$$))"; rm -f /tmp/dvren-plyfile-venv.$$; exit 0; }
rm -f /tmp/dvren-plyfile-venv.$$
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-plyfile.XXXXXX") || exit 1
trap 'rm -rf "$TOP"' EXIT
if ! "$B/fit_splats" --data "$NPZ" --count 300 --scale 0.1 --steps 0 --out "$TOP/fit" > "$TOP/log" 2>&1; then
  echo "FAIL $NAME/write: fit_splats failed"; tail -5 "$TOP/log"; exit 1
fi
if out=$("$VENV/bin/python" tests/splat_plyfile_check.py "$TOP/fit/fitted.ply" "$TOP/back.ply" 300 0 2>&1); then
  echo "PASS $NAME/plyfile_reads_and_rewrites_the_same_bytes ($out)"
else
  echo "FAIL $NAME/plyfile: $out"; exit 1
fi
