#!/usr/bin/env bash
# bench/foveate.sh - the foveation benchmark of issue 11 ("Targets") on the
# GPU machine, about 4 minutes on an H200: builds what it needs (every
# plugin, fit_volume, dvren_foveate, bench/foveate), fits the lego scene's
# real views and keeps the fit as a scene (fit_volume --save), then runs
# bench/foveate (the top of bench/foveate.c says what it measures) on
#   ct_head  examples/ct_head_foveate.json at 1024 x 1024
#   lego     the fitted lego scene at its views' 800 x 800
# each with the whole pipeline (dvren_foveate preview + saliency + final) at
# 1920 x 1080 timed twice. Prints the tables last (foveate.md). Everything goes
# to build-gpu/run/foveate/; with $OUT set (the device tool's folder) these
# 8 files come back: foveate.md (the tables), foveate_points.csv (every
# ladder point), foveate.json (the summaries), foveate.log (all output),
# and per scene the map over the preview and the final's rays per pixel at
# 1920 x 1080 (NAME_importance.png, NAME_final_spp.png).
#
#   bash bench/prepare_carry.sh      # here: data, cJSON, FFTW, OpenEXRCore -> .carry/
#   (device tool) run: bash bench/foveate.sh      carry: [".carry"]
#
# Variables: FOVEATE_STEP_SCALES (2,8,16,32: the budget's max_step_scale
# values, one foveated search each); FOVEATE_DEVICE (cuda; cpu checks the script on a machine
# without a GPU, FOVEATE_SMALL=1 making everything tiny); FOVEATE_LEGO (a
# saved lego scene to use instead of fitting one: bench/gpu.sh passes its
# own); FOVEATE_NO_BUILD=1 (the plugins, fit_volume and dvren_foveate are
# already built in build-gpu/, as bench/gpu.sh leaves them).
set -uo pipefail
. "$(dirname "$0")/gpu_env.sh"
F=$R/foveate
mkdir -p $F
LOG=$F/foveate.log
: > $LOG
say() { echo "[foveate.sh $(date +%T)] $*" | tee -a $LOG >&2; }
t_start=$(date +%s)
DEV=${FOVEATE_DEVICE:-cuda}
# the budget's largest step multiplier where importance is lowest: one foveated search per value
STEP_SCALES=${FOVEATE_STEP_SCALES:-2,8,16,32}
export DVREN_PLUGIN_PATH=$B/plugins
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools $CARRY_CFLAGS"
LIBS="-ldl -lm -lpthread"
if [ "${FOVEATE_SMALL:-0}" = 1 ]; then
  # a check of the script, not a measurement: tiny sizes, short ladders
  CT_SIZE="--width 48 --height 48"; LEGO_SIZE="--width 50 --height 50"; PIPE=64x48
  LADDER="--ref-spp 64 --max-spp 8 --reps 1 --target 32 --preview-size 48"
  LEGO_FIT=(--size 50 --heldout 4 --grid 32 --steps 40 --batch 4096 --eval-every 40)
else
  CT_SIZE="--width 1024 --height 1024"; LEGO_SIZE="--width 800 --height 800"; PIPE=1920x1080
  LADDER="--ref-spp 2048 --max-spp 8 --reps 3 --target 40"
  LEGO_FIT=(--size 800 --heldout 4 --grid 256 --steps 3000 --batch 65536 --eval-every 500 --target 25)
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader | tee -a $LOG
echo "commit ${DVREN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}" | tee -a $LOG

# ---------------------------------------------------------------- build
say "build"
if [ "${FOVEATE_NO_BUILD:-0}" != 1 ]; then
  build_plugins "-Wall -Wextra -Werror"  # every plugin with its LIBS (gpu_env.sh)
  cc -std=c11 -O2 -I$C/include -c tools/stb_impl.c -o $B/stb.o &
  cc -std=c11 -O2 -I$C/include/cjson -c $C/src/cJSON.c -o $B/cjson.o &
  wait
  cc $CFLAGS examples/fit_volume.c $B/stb.o $B/cjson.o -o $B/fit_volume $LIBS 2>> $LOG &
  cc $CFLAGS tools/dvren_foveate.c $B/stb.o $B/cjson.o -o $B/dvren_foveate $CARRY_LDFLAGS -lOpenEXRCore $LIBS 2>> $LOG &
fi
cc $CFLAGS bench/foveate.c $B/stb.o $B/cjson.o -o $B/foveate $LIBS 2>> $LOG &
wait
for f in $B/foveate $B/dvren_foveate $B/fit_volume $(plugin_names | sed "s|^|$B/plugins/|; s|$|.so|"); do
  [ -e "$f" ] || { say "build failed: $f is missing ($LOG has the compiler's messages)"; tail -20 $LOG >&2; exit 1; }
done

[ "$DEV" = cuda ] && find_cufft  # gpu_env.sh: DVREN_CUFFT_LIBRARY when the loader knows no cuFFT

# ---------------------------------------------------------------- the fitted lego scene
LEGO=${FOVEATE_LEGO:-}
if [ -z "$LEGO" ] || [ ! -s "$LEGO" ]; then
  say "fit: the lego scene's real views on $DEV, kept as a scene (fit_volume --save)"
  rm -f $F/lego_fit.json
  timeout 200 $B/fit_volume --device $DEV --images $DVREN_DATA/lego/transforms_train.json "${LEGO_FIT[@]}" \
    --csv $F/lego_fit.csv --png $F/lego_fit.png --save $F/lego_fit 2>> $LOG
  echo "lego fit exit status $?" >> $LOG
  grep -h "held-out PSNR .* after" $LOG | tail -1 >&2
  LEGO=$F/lego_fit.json
fi
[ -s "$LEGO" ] || say "no lego scene: the fit did not save one ($LOG)"

# ---------------------------------------------------------------- the benchmark, per scene
run_scene() { # name scene size-options
  local name=$1 scene=$2; shift 2
  say "bench/foveate: $name ($scene) on $DEV"
  timeout 400 $B/foveate --scene "$scene" --name $name --device $DEV --out $F --tool $B/dvren_foveate \
    $LADDER --max-step-scale "$STEP_SCALES" "$@" --pipeline $PIPE 2>> $LOG || say "bench/foveate $name failed: $(tail -3 $LOG)"
}
rm -rf $F/*.md $F/*_points.csv $F/ct_head.json $F/lego.json $F/*_pipeline $F/*_pipeline_*  # the tool's logs append
run_scene ct_head examples/ct_head_foveate.json $CT_SIZE
[ -s "$LEGO" ] && run_scene lego "$LEGO" $LEGO_SIZE

# ---------------------------------------------------------------- report
{
  echo "## bench/foveate.sh, commit ${DVREN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}, device $DEV"
  cat $F/ct_head.md $F/lego.md 2>/dev/null
} > $F/foveate.md
{ head -n 1 -q $F/*_points.csv 2>/dev/null | head -n 1; tail -q -n +2 $F/*_points.csv 2>/dev/null; } > $F/foveate_points.csv
cat $F/ct_head.json $F/lego.json > $F/foveate.json 2>/dev/null
for n in ct_head lego; do
  cp $F/${n}_pipeline/user_importance_preview.png $F/${n}_importance.png 2>/dev/null
  cp $F/${n}_pipeline_$PIPE/final_spp.png $F/${n}_final_spp.png 2>/dev/null
  for d in $F/${n}_pipeline $F/${n}_pipeline_$PIPE; do  # the tool's own logs, for what failed and its timers
    [ -f $d/dvren_pipeline.log ] && { echo "==== $d/dvren_pipeline.log"; cat $d/dvren_pipeline.log; } >> $LOG
  done
done
say "done in $(( $(date +%s) - t_start )) s"
cat $F/foveate.md
if [ -n "${OUT:-}" ]; then
  for f in foveate.md foveate_points.csv foveate.json foveate.log ct_head_importance.png ct_head_final_spp.png \
    lego_importance.png lego_final_spp.png; do
    [ -f $F/$f ] && cp $F/$f "$OUT/"
  done
fi
