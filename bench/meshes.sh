#!/usr/bin/env bash
# bench/meshes.sh - issue 15's marching-cubes benchmark ("Targets"): dvren's
# dvren_marching_cubes on the GPU and the CPU against warp-lang's marching
# cubes on the same GPU and scikit-image's (Lewiner) on the CPU, the same
# grids, one run.
#
# HOW TO RUN. warp-lang 1.19.0 is 149 MB as a wheel, more than one call's
# carry (64 MiB), so it travels in two halves, one call each; the GPU
# machine keeps build-gpu/ between calls while it stays warm:
#   bash bench/prepare_carry.sh meshes      # here: .carry_meshes/ (CT head, warp half 1), .carry_meshes2/ (half 2)
#   run: bash bench/meshes.sh                                   carry [".carry_meshes2"]
#        -> keeps half 2 in build-gpu/warp_parts, says half 1 is missing, exit 3
#   run: DVREN_COMMIT=<sha> bash bench/meshes.sh                carry [".carry_meshes"]
#        -> installs warp into build-gpu/pysite_warp, runs everything, prints the table
# The order of the two calls does not matter. Once warp is installed (a warm
# machine), later runs need only .carry_meshes. MESHES_NO_WARP=1 runs dvren and
# scikit-image alone (one call, .carry_meshes or .carry). A fresh machine has
# lost the parts: both calls again. The first call takes seconds; expect 4 to
# 6 minutes for the second at the default sizes (warp's first kernel compile,
# the 512^3 grids on the CPU: about 40 s per grid each for dvren and
# scikit-image); give it timeout_s 600. Results are published grid by grid.
#
# Steps. (1) warp-lang: the halves named in warp.sha256 (the manifest of
# bench/prepare_carry.sh meshes) are copied from .carry_meshes*/ into
# build-gpu/warp_parts/ and checked (sha256); when all are there, joined,
# checked again and unpacked into build-gpu/pysite_warp (PYTHONPATH; warp's
# only requirement, numpy, is the machine's). scikit-image is in the
# machine's image; where it does not import, the wheels carried in
# .carry_meshes2/wheels are installed into build-gpu/pysite_sk.
# (2) build-gpu/bench_meshes from bench/meshes.c (dvren.h, dvren_cuda.h,
# tools/dvren_io.h and dvren_npy.h: no carried library). (3) the inputs:
# `bench/meshes_peer.py inputs` writes ct<N> and gyroid<N> (.npy float32 and
# inputs.json; meshes_peer.py's header defines them) for N in MESHES_SIZES
# into build-gpu/run/meshes/inputs. (4) dvren
# (bench_meshes: GPU and CPU, CPU-vs-GPU identity), then warp, then
# scikit-image, each appending JSON lines to build-gpu/run/meshes.jsonl.
# (5) the table: `bench/meshes_peer.py report` -> build-gpu/run/meshes.md,
# printed last. With the device tool's $OUT, meshes.md, meshes.jsonl and
# meshes.log are copied there after every step.
#
# Variables: MESHES_SIZES (default 256,512), MESHES_ITERS (GPU timed calls,
# default 10), MESHES_WARMUP (default 3), MESHES_CPU_ITERS (dvren CPU, default
# 3), MESHES_ONE_THREAD_ITERS (dvren on one CPU thread, default 2; 0: skip),
# MESHES_ONE_THREAD_MAX (the one-thread runs only for N up to it, default
# 256), MESHES_DVREN_BUDGET_S (seconds of timed dvren calls per variant
# before it stops early, default 30),
# MESHES_SKIMAGE_ITERS (default 3), MESHES_SKIMAGE_BUDGET_S (seconds of timed
# scikit-image calls per grid before it stops early, default 40),
# MESHES_NO_WARP=1, DVREN_COMMIT (for the log).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
B=$ROOT/build-gpu
R=$B/run
mkdir -p $R
say() { echo "[meshes $(date +%T)] $*" >&2; }
export DVREN_CACHE_DIR=$B/kcache PYTHONUNBUFFERED=1 WARP_CACHE_PATH=$B/warp_cache
SIZES=${MESHES_SIZES:-256,512}
ITERS=${MESHES_ITERS:-10}
WARMUP=${MESHES_WARMUP:-3}
CPU_ITERS=${MESHES_CPU_ITERS:-3}
ONE_ITERS=${MESHES_ONE_THREAD_ITERS:-2}
ONE_MAX=${MESHES_ONE_THREAD_MAX:-256}
DV_BUDGET=${MESHES_DVREN_BUDGET_S:-30}
SK_ITERS=${MESHES_SKIMAGE_ITERS:-3}
SK_BUDGET=${MESHES_SKIMAGE_BUDGET_S:-40}
WV=1.19.0
WNAME=warp-lang-$WV-slim.tar.xz
PARTS=$B/warp_parts
SITE=$B/pysite_warp
IN=$R/meshes/inputs
LOG=$R/meshes.log
JSONL=$R/meshes.jsonl
t_start=$(date +%s)
publish() {
  [ -n "${OUT:-}" ] || return 0
  python3 bench/meshes_peer.py report $JSONL > $R/meshes.md 2>/dev/null
  cp $R/meshes.md $JSONL $LOG "$OUT/" 2>/dev/null
  return 0
}
: > $LOG

# (1) warp-lang from the carried halves; scikit-image from the image (its
# fallback wheels kept first: a call that stops at a missing warp half still keeps them)
if [ -d .carry_meshes2/wheels ]; then mkdir -p $B/sk_wheels && cp .carry_meshes2/wheels/*.whl $B/sk_wheels/ 2>/dev/null; fi
if [ "${MESHES_NO_WARP:-0}" != 1 ] && [ ! -f $SITE/.installed-$WV ]; then
  mkdir -p $PARTS
  for d in .carry_meshes .carry_meshes2; do
    [ -f $d/warp.sha256 ] || continue
    cp $d/warp.sha256 $PARTS/
    for f in $d/$WNAME.part*; do [ -f "$f" ] && cp "$f" $PARTS/ && say "warp-lang: $(basename "$f") from $d kept in $PARTS"; done
  done
  [ -f $PARTS/warp.sha256 ] || {
    say "warp-lang: no manifest (warp.sha256) in .carry_meshes or .carry_meshes2: run 'bash bench/prepare_carry.sh meshes' here and carry those folders (this file's header), or MESHES_NO_WARP=1"
    exit 2; }
  missing=""
  mapfile -t lines < <(tail -n +2 $PARTS/warp.sha256)
  for l in "${lines[@]}"; do
    read -r sum size f <<< "$l"
    if [ ! -f $PARTS/$f ] || [ "$(sha256sum < $PARTS/$f | cut -d' ' -f1)" != "$sum" ]; then missing="$missing $f"; fi
  done
  if [ -n "$missing" ]; then
    say "warp-lang: missing or damaged:$missing (part0 travels in .carry_meshes, part1 in .carry_meshes2): call again with that folder in carry while this machine is warm (build-gpu/warp_parts keeps what came); or MESHES_NO_WARP=1"
    exit 3
  fi
  read -r sum size f < $PARTS/warp.sha256
  cat $(for l in "${lines[@]}"; do echo $PARTS/${l##* }; done) > $B/$WNAME
  [ "$(sha256sum < $B/$WNAME | cut -d' ' -f1)" = "$sum" ] || { say "warp-lang: the joined $WNAME does not match its sha256 (parts from two prepare_carry runs?): run prepare_carry.sh meshes again and carry both"; rm -f $B/$WNAME; exit 2; }
  rm -rf $SITE
  mkdir -p $SITE
  if ! tar -xJf $B/$WNAME -C $SITE 2>>$LOG; then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2], filter="data")' $B/$WNAME $SITE 2>>$LOG ||
      { say "warp-lang: could not unpack $B/$WNAME (meshes.log)"; exit 1; }
  fi
  touch $SITE/.installed-$WV
  rm -f $B/$WNAME $PARTS/$WNAME.part*
  say "warp-lang $WV unpacked into $SITE"
fi
if [ "${MESHES_NO_WARP:-0}" != 1 ]; then
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
  python3 -c 'import warp' 2>>$LOG || { say "warp-lang does not import from $SITE (meshes.log)"; tail -5 $LOG; exit 1; }
fi
if ! python3 -c 'import skimage.measure' 2>>$LOG; then
  # the image had it; else the wheels of .carry_meshes2/wheels (kept in build-gpu/sk_wheels between calls)
  w=$(ls $B/sk_wheels/scikit_image-*.whl 2>/dev/null | head -n 1)
  [ -n "$w" ] || { say "python3 lacks scikit-image and no wheel came (carry .carry_meshes2; meshes.log)"; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $B/pysite_sk $B/sk_wheels/*.whl >>$LOG 2>&1 ||
    { say "pip could not install $w (meshes.log)"; exit 1; }
  export PYTHONPATH=$B/pysite_sk${PYTHONPATH:+:$PYTHONPATH}
  python3 -c 'import skimage.measure' 2>>$LOG || { say "scikit-image from $w does not import (meshes.log: a missing need?)"; tail -5 $LOG >&2; exit 2; }
  say "scikit-image installed from $(basename "$w") into $B/pysite_sk"
fi

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  echo "commit ${DVREN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  python3 -c 'import sys, numpy, skimage; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scikit-image", skimage.__version__)' 2>&1 | tail -1
  [ "${MESHES_NO_WARP:-0}" = 1 ] || python3 -c 'import warp; print("warp-lang", warp.config.version, "from", warp.__file__)' 2>&1 | tail -1
  echo "cores $(nproc); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null)"; } | tee -a $LOG >&2

# (2) dvren's side
rc=0
rm -f $B/bench_meshes
say "build bench_meshes"
cc -std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools bench/meshes.c -o $B/bench_meshes -ldl -lm -lpthread 2>>$LOG ||
  { rc=1; say "bench_meshes does not build (meshes.log): the peers run alone"; tail -20 $LOG >&2; }

# (3) the inputs
CT=""
for d in .carry_meshes/data/ct_head .carry/data/ct_head ${DVREN_DATA:+$DVREN_DATA/ct_head} ../shared/data/ct_head; do
  [ -f $d/quarter.nhdr ] && { CT=$d; break; }
done
[ -n "$CT" ] || { say "no CT head (.carry_meshes/data/ct_head: run bench/prepare_carry.sh meshes and carry .carry_meshes)"; exit 2; }
rm -rf $R/meshes
mkdir -p $IN
: > $JSONL
say "inputs ($SIZES) from $CT"
python3 bench/meshes_peer.py inputs --ct-head $CT --out $IN --sizes $SIZES 2>>$LOG ||
  { say "the inputs could not be written (meshes.log)"; tail -20 $LOG >&2; exit 1; }
GRIDS=$(python3 -c 'import json, sys; print(",".join(g["name"] for g in json.load(open(sys.argv[1]))["grids"]))' $IN/inputs.json)

# (4) dvren, warp, scikit-image; grid by grid, so a time limit still leaves whole grids
for g in ${GRIDS//,/ }; do
  if [ -x $B/bench_meshes ]; then
    say "$g: dvren (CPU, then GPU)"
    n=${g//[!0-9]/}
    one=$ONE_ITERS
    [ "$n" -le "$ONE_MAX" ] || one=0
    $B/bench_meshes --inputs $IN --grids $g --iters $ITERS --warmup $WARMUP --cpu-iters $CPU_ITERS \
      --one-thread-iters $one --budget-s $DV_BUDGET >> $JSONL 2>>$LOG || { rc=1; say "$g: bench_meshes failed (its line has \"error\"; meshes.log)"; }
    publish
  fi
  if [ "${MESHES_NO_WARP:-0}" != 1 ]; then
    say "$g: warp-lang"
    python3 bench/meshes_peer.py warp --inputs $IN --grids $g --iters $ITERS --warmup $WARMUP >> $JSONL 2>>$LOG ||
      { rc=1; say "$g: warp failed (its line has \"error\"; meshes.log)"; }
    publish
  fi
  say "$g: scikit-image"
  python3 bench/meshes_peer.py skimage --inputs $IN --grids $g --iters $SK_ITERS --warmup 1 --budget-s $SK_BUDGET >> $JSONL 2>>$LOG ||
    { rc=1; say "$g: scikit-image failed (its line has \"error\"; meshes.log)"; }
  publish
done

# (5) the table
say "done in $(( $(date +%s) - t_start )) s"
grep '"error"' $JSONL >&2
python3 bench/meshes_peer.py report $JSONL | tee $R/meshes.md || rc=1
publish
exit $rc
