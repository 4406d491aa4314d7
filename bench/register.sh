#!/usr/bin/env bash
# bench/register.sh - issue 13's registration benchmark ("Targets"), on the
# GPU machine, in one call:
#   bash bench/prepare_carry.sh                         # here: the registration frame, FFTW -> .carry/
#   run: DVREN_COMMIT=<sha> bash bench/register.sh      # there, with carry [".carry"]
# Builds the plugins and bench/register.c (build-gpu/bench_register), makes
# the images with CuPy (bench/register_gen.py: 1 reference + 8 moving
# images per size, grey and GRBG, known sub-pixel shifts; in a temporary
# folder, deleted at the end), then per size runs dvren on the GPU
# (bench_register: upsampled 100, parabolic and integer on the grey
# images, the same three on the GRBG mosaics; at the largest size also
# upsampled under a memory limit, to show the batching) and the peers
# (bench/register_peers.py: CuPy batched, OpenCV phaseCorrelate,
# scikit-image phase_cross_correlation) on the same images. Every result
# is a JSON line in build-gpu/run/register.jsonl; the Markdown table
# (register_peers.py report) comes last and goes to register.md. With the
# device tool's $OUT, register.md, register.jsonl and register.log are
# copied there after every step (a run stopped by the tool's time limit
# still brings back what it measured). About 5 minutes on an H200.
#
# Variables: REGISTER_SIZES (default 4000x3000,6000x4000,9504x6336: 12, 24
# and 60 MP), REGISTER_REPS (timed runs after a warm-up, default 3),
# REGISTER_CPU_BUDGET (seconds per CPU peer and size, default 20: beyond
# it the time of the 8 images is extrapolated from those run, and the
# table says so), REGISTER_MEMORY_LIMIT (bytes, default 4000000000, for the
# largest size's batching row; 0 skips it), REGISTER_KEEP=1 keeps the
# images, REGISTER_BLUR=SIGMA blurs them (register_gen.py --blur, default 0),
# REGISTER_DEVICE=cpu and REGISTER_XP=numpy try the script on a
# machine without a GPU (small REGISTER_SIZES).
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
say() { echo "[register $(date +%T)] $*" >&2; }
SIZES=${REGISTER_SIZES:-4000x3000,6000x4000,9504x6336}
REPS=${REGISTER_REPS:-3}
CPU_BUDGET=${REGISTER_CPU_BUDGET:-20}
LIMIT=${REGISTER_MEMORY_LIMIT:-4000000000}
DEVICE=${REGISTER_DEVICE:-cuda}
XP=${REGISTER_XP:-cupy}
BLUR=${REGISTER_BLUR:-0}
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools $CARRY_CFLAGS"
LOG=$R/register.log
JSONL=$R/register.jsonl
: > $LOG
: > $JSONL
t_start=$(date +%s)
# the results so far, to the device tool's folder
publish() {
  [ -n "${OUT:-}" ] || return 0
  python3 bench/register_peers.py report $JSONL > $R/register.md 2>/dev/null
  cp $R/register.md $JSONL $LOG "$OUT/" 2>/dev/null
  return 0
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  echo "commit ${DVREN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  python3 -c 'import sys, numpy; print("python", sys.version.split()[0], "numpy", numpy.__version__)'
  python3 -c 'import cupy; print("cupy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion())' 2>&1 | tail -1
  python3 -c 'import cv2; print("opencv", cv2.__version__)' 2>&1 | tail -1
  python3 -c 'import skimage, scipy; print("scikit-image", skimage.__version__, "scipy", scipy.__version__)' 2>&1 | tail -1
  nproc; } | tee -a $LOG >&2

say "build"
build_plugins "-Wall -Wextra -Werror" 2>>$LOG
wait
[ -f $B/plugins/phase_correlation.so ] || { say "the phase_correlation plugin does not build (register.log)"; tail -20 $LOG; exit 1; }
cc $CFLAGS bench/register.c -o $B/bench_register $CARRY_LDFLAGS -ldl -lm -lpthread 2>>$LOG ||
  { say "bench_register does not build (register.log)"; tail -20 $LOG; exit 1; }
[ "$DEVICE" = cuda ] && find_cufft  # gpu_env.sh: DVREN_CUFFT_LIBRARY when the loader knows no libcufft
export DVREN_PLUGIN_PATH=$B/plugins

DATA=${REGISTER_DATA:-$(mktemp -d "${TMPDIR:-/tmp}/dvren_register.XXXXXX")}
[ "${REGISTER_KEEP:-0}" = 1 ] || trap 'rm -rf "$DATA"' EXIT
say "images: $SIZES into $DATA"
t0=$(date +%s.%N)
python3 bench/register_gen.py --out "$DATA" --sizes "$SIZES" --xp $XP --blur $BLUR --frame $C/data/registration/frame10.ppm 2>>$LOG ||
  { say "register_gen.py failed (register.log)"; tail -20 $LOG; exit 1; }
say "images made in $(since $t0) s"

rc=0
largest=${SIZES##*,}
for s in ${SIZES//,/ }; do
  say "$s: dvren ($DEVICE)"
  $B/bench_register --dir "$DATA/$s" --device $DEVICE --reps $REPS >> $JSONL 2>>$LOG ||
    { rc=1; say "bench_register: a row failed (its line has \"error\"; register.log)"; }
  publish
  if [ "$s" = "$largest" ] && [ "$LIMIT" != 0 ]; then
    say "$s: dvren with memory_limit = $LIMIT bytes"
    $B/bench_register --dir "$DATA/$s" --device $DEVICE --reps $REPS --kind grey --method upsampled \
      --memory-limit $LIMIT --label "memory limit $((LIMIT / 1000000)) MB" >> $JSONL 2>>$LOG || rc=1
    publish
  fi
  say "$s: peers (CuPy batched, OpenCV, scikit-image)"
  python3 bench/register_peers.py run --dir "$DATA/$s" --xp $XP --reps $REPS --cpu-budget $CPU_BUDGET \
    >> $JSONL 2>>$LOG || { rc=1; say "register_peers.py failed (register.log)"; }
  publish
  if [ "$s" = "$largest" ] && [ "$LIMIT" != 0 ] && [ "$XP" = cupy ]; then
    python3 bench/register_peers.py run --dir "$DATA/$s" --xp $XP --reps $REPS --methods cupy --memory-limit $LIMIT \
      >> $JSONL 2>>$LOG || rc=1
  fi
done
say "done in $(( $(date +%s) - t_start )) s"
grep '"error"' $JSONL >&2
python3 bench/register_peers.py report $JSONL | tee $R/register.md
publish
exit $rc
