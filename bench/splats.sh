#!/usr/bin/env bash
# bench/splats.sh - issue 14's splat benchmark ("Targets"): dvren's splat
# renderer against gsplat 1.5.3 on the GPU machine, in one call:
#   bash bench/prepare_carry.sh                       # here: test_garden.npz, gsplat's wheels -> .carry/
#   run: DVREN_COMMIT=<sha> bash bench/splats.sh      # there, with carry [".carry"]
#
# Steps. (1) gsplat: its wheel (pure Python) is installed from .carry/wheels
# with pip --no-index --no-deps --target build-gpu/pysite (on PYTHONPATH: the
# machine's own python3, torch and numpy are used; --target rather than a
# venv, because that python3 is itself a venv, whose packages a
# --system-site-packages venv would not see); of its requirements
# (METADATA: ninja, numpy, jaxtyping, rich>=12, torch; its code also imports
# packaging and typing_extensions) the machine's image has all today, and
# only those that do not import are installed from the carried wheels.
# (2) gsplat's CUDA code: 1.5.3 ships sources only and JIT-compiles them on
# first use (gsplat/cuda/_backend.py -> torch.utils.cpp_extension
# _jit_compile, which needs nvcc and a `ninja` executable on PATH) into
# $TORCH_EXTENSIONS_DIR/gsplat_cuda, here build-gpu/torch_extensions (kept
# on a warm machine, so a second call reuses the .so: torch re-runs ninja,
# which finds nothing to do). Set here: TORCH_CUDA_ARCH_LIST = the device's
# capability (9.0 on an H200: one architecture, no PTX), MAX_JOBS = nproc
# (gsplat's default is 10). gsplat deletes a build folder that has no
# gsplat_cuda.so, so a compile cut short by the time limit is first finished
# with ninja on its own build.ninja. The compile's seconds go to the log
# and the table's notes. SPLATS_COMPILE_ONLY=1 stops after it.
# (3) per workload (SPLATS_WORKLOADS, default garden,garden5x5_1080p; the
# workloads are defined in bench/splats_peer.py's header): dvren's
# build-gpu/bench_splats writes the parameter folder, renders, times and
# prints its JSON line; then bench/splats_peer.py renders the same
# parameters with gsplat, times and prints its line. Without bench_splats,
# the parameters come from splats_peer.py --make-params and gsplat runs
# alone. (4) bench/splats_compare.py: PSNR of the images and the table
# (build-gpu/run/splats.md). With the device tool's $OUT, splats.md,
# splats.jsonl and splats.log are copied there after every step.
#
# The interface of bench_splats (bench/splats.c; its header has the details):
#   build-gpu/bench_splats --workload NAME --data .carry/data/gaussians/test_garden.npz
#       --seed S --params DIR --out DIR --iters N --warmup W --device cuda
#   - writes NAME's parameter folder into --params (layout and workload
#     definitions: bench/splats_peer.py's header), cotangent.npy included
#   - renders every camera; writes rgb_<c>.npy (H,W,3) and alpha_<c>.npy
#     (H,W), float32, into --out; and grad_<p>.npy for p in means,
#     log_scales, quats, opacity_logits, colors (the gradient of
#     sum_c sum(rgb_c * cotangent[c])), so that the gradients are compared too
#   - times forward and forward+backward as splats_peer.py does (warm-up,
#     then --iters iterations over all cameras, median ms per frame; peak
#     device memory held during the timed iterations, inputs included)
#   - prints ONE JSON line on stdout: {"renderer": "dvren", "workload": NAME,
#     "images": "<absolute --out>", "n_gaussians", "cameras", "width",
#     "height", "fwd_ms", "fwd_ms_min", "fwdbwd_ms", "fwdbwd_ms_min",
#     "peak_fwd_bytes", "peak_fwdbwd_bytes", "resident_fwd_bytes",
#     "resident_fwdbwd_bytes", "iters", "warmup"}; on failure
#     {"renderer": "dvren", "workload": NAME, "error": "..."} and status != 0
#
# Variables: SPLATS_WORKLOADS, SPLATS_ITERS (timed iterations, default 50),
# SPLATS_WARMUP (default 10), SPLATS_SEED (default 0), SPLATS_COMPILE_ONLY,
# TORCH_CUDA_ARCH_LIST and MAX_JOBS (override the defaults above).
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
say() { echo "[splats $(date +%T)] $*" >&2; }
WORKLOADS=${SPLATS_WORKLOADS:-garden,garden5x5_1080p}
ITERS=${SPLATS_ITERS:-50}
WARMUP=${SPLATS_WARMUP:-10}
SEED=${SPLATS_SEED:-0}
GARDEN=$DVREN_DATA/gaussians/test_garden.npz
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools $CARRY_CFLAGS"
LOG=$R/splats.log
JSONL=$R/splats.jsonl
SITE=$B/pysite
: > $LOG
: > $JSONL
t_start=$(date +%s)
# the results so far, to the device tool's folder
publish() {
  [ -n "${OUT:-}" ] || return 0
  python3 bench/splats_compare.py report $JSONL > $R/splats.md 2>/dev/null
  cp $R/splats.md $JSONL $LOG "$OUT/" 2>/dev/null
  return 0
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  echo "commit ${DVREN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  python3 -c 'import sys, numpy, torch; print("python", sys.version.split()[0], "numpy", numpy.__version__, "torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -1
  nvcc --version 2>/dev/null | tail -1 || echo "no nvcc on PATH"
  echo "cores $(nproc)"; } | tee -a $LOG >&2

# (1) gsplat and what it needs, from .carry/wheels
whl=$(ls $C/wheels/gsplat-1.5.3-*.whl 2>/dev/null | head -n 1)
[ -n "$whl" ] || { say "no gsplat wheel in .carry/wheels (run bench/prepare_carry.sh)"; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE "$whl" >>$LOG 2>&1 ||
  { say "pip could not install $whl (splats.log)"; tail -20 $LOG; exit 1; }
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
# module:wheel-name prefix; installed only when the module does not import
for pair in ninja:ninja rich:rich markdown_it:markdown_it_py mdurl:mdurl pygments:pygments \
  packaging:packaging typing_extensions:typing_extensions jaxtyping:jaxtyping wadler_lindig:wadler_lindig; do
  python3 -c "import ${pair%%:*}" 2>/dev/null && continue
  w=$(ls $C/wheels/${pair#*:}-*.whl 2>/dev/null | head -n 1)
  [ -n "$w" ] || { say "python3 lacks ${pair%%:*} and .carry/wheels has no ${pair#*:} wheel"; exit 2; }
  say "installing $(basename "$w") (python3 lacks ${pair%%:*})"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE "$w" >>$LOG 2>&1 ||
    { say "pip could not install $w (splats.log)"; exit 1; }
done
# torch runs `ninja --version` and `ninja` itself: the executable must be on PATH
if ! command -v ninja >/dev/null; then
  nb=$(python3 -c 'import ninja; print(ninja.BIN_DIR)' 2>/dev/null)
  [ -n "$nb" ] && [ -x "$nb/ninja" ] || { say "no ninja executable (PATH, or the ninja package's BIN_DIR)"; exit 2; }
  export PATH=$nb:$PATH
fi
say "gsplat $(python3 -c 'import gsplat; print(gsplat.__version__, "from", gsplat.__file__)' 2>>$LOG); ninja $(ninja --version)"

# (2) gsplat's JIT compile, timed
export TORCH_EXTENSIONS_DIR=$B/torch_extensions
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$(python3 -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())' 2>/dev/null || echo 9.0)}
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
bd=$TORCH_EXTENSIONS_DIR/gsplat_cuda
reused=no
[ -f $bd/gsplat_cuda.so ] && reused=yes
t0=$(date +%s.%N)
if [ -f $bd/build.ninja ] && [ ! -f $bd/gsplat_cuda.so ]; then
  say "finishing an interrupted gsplat compile in $bd"
  rm -f $bd/lock
  ninja -C $bd -j $MAX_JOBS >>$LOG 2>&1 || say "ninja could not finish it (gsplat starts over)"
fi
say "gsplat: JIT compile (TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST MAX_JOBS=$MAX_JOBS, build folder $bd, existing .so: $reused)"
python3 -c 'import sys
from gsplat.cuda._backend import _C
sys.exit(_C is None)' >>$LOG 2>&1 ||
  { say "gsplat's CUDA extension did not build or load (splats.log)"; tail -40 $LOG; publish; exit 1; }
secs=$(since $t0)
say "gsplat JIT compile and load: $secs s"
echo "{\"renderer\": \"gsplat\", \"stage\": \"compile\", \"seconds\": $secs, \"detail\": \"TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST, MAX_JOBS=$MAX_JOBS, existing .so reused: $reused\"}" >> $JSONL
publish
[ "${SPLATS_COMPILE_ONLY:-0}" = 1 ] && { say "SPLATS_COMPILE_ONLY=1: done in $(( $(date +%s) - t_start )) s"; exit 0; }

rc=0
# (3) dvren's side: bench/splats.c, header-only (dvren.h, dvren_cuda.h, tools/dvren_splat_npz.h: no
# zlib, no cJSON). Without it, gsplat runs alone.
rm -f $B/bench_splats
if [ -f bench/splats.c ]; then
  say "build bench_splats"
  cc $CFLAGS bench/splats.c -o $B/bench_splats $CARRY_LDFLAGS -ldl -lm -lpthread 2>>$LOG ||
    { rc=1; say "bench_splats does not build (splats.log): gsplat runs alone"; }
fi

for w in ${WORKLOADS//,/ }; do
  W=$R/splats/$w
  rm -rf $W
  mkdir -p $W/params $W/dvren $W/gsplat
  if [ -x $B/bench_splats ]; then
    say "$w: dvren"
    # the interface described in this file's header
    $B/bench_splats --workload $w --data $GARDEN --seed $SEED --params $W/params --out $W/dvren \
      --iters $ITERS --warmup $WARMUP --device cuda >> $JSONL 2>>$LOG ||
      { rc=1; say "$w: bench_splats failed (its line has \"error\"; splats.log)"; }
  else
    say "$w: no build-gpu/bench_splats: parameters from splats_peer.py --make-params, gsplat alone"
    python3 bench/splats_peer.py --make-params $w --data $GARDEN --params $W/params --seed $SEED >>$LOG 2>&1 ||
      { rc=1; say "$w: splats_peer.py --make-params failed (splats.log)"; }
  fi
  [ -f $W/params/means.npy ] || { rc=1; say "$w: no parameters in $W/params: skipped"; publish; continue; }
  say "$w: gsplat"
  python3 bench/splats_peer.py --params $W/params --out $W/gsplat --workload $w --iters $ITERS --warmup $WARMUP \
    --seed $SEED --save-grads >> $JSONL 2>>$LOG || { rc=1; say "$w: splats_peer.py failed (its line has \"error\"; splats.log)"; }
  publish
done

# (4) the table
say "done in $(( $(date +%s) - t_start )) s"
grep '"error"' $JSONL >&2
python3 bench/splats_compare.py report $JSONL | tee $R/splats.md || rc=1
publish
exit $rc
