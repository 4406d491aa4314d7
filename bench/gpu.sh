#!/usr/bin/env bash
# bench/gpu.sh - everything dvren checks and measures on a GPU, in one call:
# builds, runs the GPU tests, checks CPU/GPU parity on every example scene,
# times dvren against the PyTorch peer in the same run, measures the JIT and
# profiles the main kernel once with Nsight Compute. Prints a short table
# last (bench/gpu_report.py). Everything goes to build-gpu/run/; the summaries
# (8 files, the device tool's limit; the CSV curves ride in the fit logs) are copied to $OUT when it is set (the device tool's folder).
#
#   bash bench/prepare_carry.sh      # here: peer script, data, cJSON/stb sources -> .carry/
#   (device tool) run: bash bench/gpu.sh      carry: [".carry"]
#
# Variables: GPU_QUICK=1 skips the variant sweep and ncu; NCU=0 skips ncu;
# FOVEATE=1 also runs the foveation benchmark (bench/foveate.sh, which also
# runs alone; it reuses this run's lego fit).
set -uo pipefail
. "$(dirname "$0")/gpu_env.sh"
mkdir -p $B/tests/mock
export DVREN_TEST_TMP=$(mktemp -d)
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools -I$ROOT/tests -I$C/include"
LIBS="-ldl -lm -lpthread"
say() { echo "[gpu.sh $(date +%T)] $*" >&2; }
t_start=$(date +%s)

# ---------------------------------------------------------------- machine
say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm --format=csv | tee $R/gpu.txt
nproc >> $R/gpu.txt
# the device's copy of the tree has no .git: the caller passes DVREN_COMMIT
echo "${DVREN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}" > $R/commit.txt

# ---------------------------------------------------------------- build
say "build"
build_plugins "-Wall -Wextra -Werror"  # every plugins/<name>/<name>.c with its LIBS (gpu_env.sh)
for m in tests/mock_plugins/*.c; do
  cc $CFLAGS -shared -fPIC -fvisibility=hidden "$m" -o $B/tests/mock/$(basename "$m" .c).so -lm &
done
cc -std=c11 -O2 -I$C/include -c tools/stb_impl.c -o $B/stb.o &
cc -std=c11 -O2 -I$C/include/cjson -c $C/src/cJSON.c -o $B/cjson.o &
cc $CFLAGS tests/test_cuda.c -o $B/test_cuda $LIBS &
cc $CFLAGS tests/test_autodiff.c -o $B/test_autodiff $LIBS &
cc $CFLAGS tests/test_saliency.c -o $B/test_saliency $LIBS &
cc $CFLAGS tests/test_saliency_plugins.c -o $B/test_saliency_plugins $LIBS &
wait
cc $CFLAGS bench/gpu_bench.c $B/cjson.o -o $B/gpu_bench $LIBS || say "gpu_bench does not build"
cc $CFLAGS examples/fit_volume.c $B/stb.o $B/cjson.o -o $B/fit_volume $LIBS || say "fit_volume does not build"
cc $CFLAGS tools/dvren_render.c $B/stb.o $B/cjson.o -o $B/dvren_render $LIBS || { say "dvren_render does not build"; exit 1; }
# the foveation pipeline writes EXR through OpenEXR's C API (from .carry when the machine lacks it)
cc $CFLAGS tools/dvren_foveate.c $B/stb.o $B/cjson.o -o $B/dvren_foveate $CARRY_LDFLAGS -lOpenEXRCore $LIBS ||
  say "dvren_foveate does not build"
for f in $B/plugins/dense_grid.so $B/test_cuda $B/gpu_bench $B/dvren_render; do
  [ -e "$f" ] || { say "build failed: $f missing"; exit 1; }
done
for p in $(plugin_names); do [ -e $B/plugins/$p.so ] || say "plugin $p does not build"; done

# ---------------------------------------------------------------- GPU tests
say "tests (tests/test_cuda.c)"
DVREN_PLUGIN_PATH=$B/plugins DVREN_TEST_MOCK_DIR=$B/tests/mock timeout 240 $B/test_cuda | tee $R/test_cuda.txt
say "tests (tests/test_autodiff.c on the GPU: gradient checks against the CPU's float64, determinism, training ops)"
DVREN_TEST_DEVICE=cuda DVREN_PLUGIN_PATH=$B/plugins DVREN_TEST_MOCK_DIR=$B/tests/mock timeout 300 $B/test_autodiff \
  | tee $R/test_autodiff_gpu.txt | grep -v "^# .*checked" || true

find_cufft  # gpu_env.sh
say "tests (tests/test_saliency.c, tests/test_saliency_plugins.c: the saliency models on the GPU against the CPU)"
for t in test_saliency test_saliency_plugins; do
  DVREN_PLUGIN_PATH=$B/plugins DVREN_TEST_MOCK_DIR=$B/tests/mock timeout 240 $B/$t | tee $R/$t.txt
done
say "foveation pipeline on the GPU (tools/dvren_foveate, CT head at 640 x 480)"
DVREN_PLUGIN_PATH=$B/plugins timeout 240 $B/dvren_foveate examples/ct_head_foveate.json --device cuda --out $R/foveate_ct \
  --width 640 --height 480 > $R/foveate_ct.txt 2>&1; echo "dvren_foveate --device cuda: exit $?" | tee -a $R/foveate_ct.txt
grep -E '^\[(timer|env)\]|\[ERROR\]' $R/foveate_ct.txt | tail -12

# ---------------------------------------------------------------- compute-sanitizer
# every kernel at a small size: the forward and backward march (both
# gradient modes) and the training module (loss, TV, Adam through a short fit)
if command -v compute-sanitizer >/dev/null; then
  say "compute-sanitizer: memcheck, racecheck, initcheck"
  : > $R/sanitizer.txt
  for tool in memcheck racecheck initcheck; do
    for args in "--mode fwd" "--mode fwdbwd" "--mode fwdbwd --deterministic 1"; do
      timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 $B/gpu_bench --res 32 --width 48 --height 40 \
        --samples 32 --reps 1 $args > $R/san_one.txt 2>&1
      echo "$tool gpu_bench $args: exit $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $R/san_one.txt | tail -1)" | tee -a $R/sanitizer.txt
    done
    DVREN_PLUGIN_PATH=$B/plugins timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 $B/fit_volume --device cuda \
      --size 24 --views 4 --heldout 1 --steps 3 --batch 256 --eval-every 3 --csv $R/san_fit.csv --png $R/san_fit.png > $R/san_one.txt 2>&1
    echo "$tool fit_volume (loss, TV, Adam): exit $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $R/san_one.txt | tail -1)" | tee -a $R/sanitizer.txt
  done
fi

# ---------------------------------------------------------------- parity of the example scenes
say "parity: example scenes, CPU vs CUDA (dvren_render --npy)"
: > $R/parity.jsonl
for s in examples/*.json bench/peer_scene.json; do
  n=$(basename "$s" .json)
  $B/dvren_render "$s" -q --device cpu --npy $R/cpu_$n -o $R/cpu_$n.png --width 256 --height 256 || say "cpu $n failed"
  $B/dvren_render "$s" -q --device cuda --npy $R/gpu_$n -o $R/gpu_$n.png --width 256 --height 256 || say "cuda $n failed"
  python3 - "$R" "$n" >> $R/parity.jsonl <<'EOF'
import json, sys, numpy as np
r, n = sys.argv[1], sys.argv[2]
out = {"scene": n}
try:
    worst = 0.0
    aa = np.load(f"{r}/cpu_{n}_alpha.npy"); ab = np.load(f"{r}/gpu_{n}_alpha.npy")
    # early ray termination: where rounding makes one device stop a sample
    # earlier, outputs differ by less than the threshold (absolute)
    flip = np.load(f"{r}/cpu_{n}_samples.npy") != np.load(f"{r}/gpu_{n}_samples.npy")
    out["ert_flips"] = int(flip.sum()); out["ert_abs"] = 0.0
    for k in ("rgb", "alpha", "depth", "transmittance"):
        a = np.load(f"{r}/cpu_{n}_{k}.npy").astype(np.float64)
        b = np.load(f"{r}/gpu_{n}_{k}.npy").astype(np.float64)
        f = flip[..., None] if a.ndim == 3 else flip
        f = np.broadcast_to(f, a.shape)
        if k != "depth" and f.any():
            out["ert_abs"] = max(out["ert_abs"], float(np.abs(b - a)[f].max()))
        e = (np.abs(b - a) / np.maximum(np.abs(a), 0.01))[~f]
        if k == "depth":  # depth is only defined where something was hit
            e = (np.abs(b - a) / np.maximum(np.abs(a), 0.01))[(aa > 0.01) & (ab > 0.01)]
        out[k] = float(e.max())
        out[k + "_p999"] = float(np.quantile(e, 0.999))
        worst = max(worst, out[k])
    h = (np.load(f"{r}/cpu_{n}_hit.npy") != np.load(f"{r}/gpu_{n}_hit.npy")).sum()
    s = np.abs(np.load(f"{r}/cpu_{n}_samples.npy").astype(np.int64) - np.load(f"{r}/gpu_{n}_samples.npy").astype(np.int64))
    out.update(max_rel=worst, hit_diff=int(h), samples_diff_pixels=int((s > 0).sum()))
except Exception as ex:
    out["error"] = str(ex)
print(json.dumps(out))
EOF
done
rm -f $R/*_depth.npy $R/*_transmittance.npy $R/*_hit.npy $R/*_samples.npy $R/*_alpha.npy

# ---------------------------------------------------------------- peer and dvren, same run
say "peer: PyTorch, full size (fwd)"
python3 $C/torch_dense_grid.py --mode fwd > $R/peer_fwd.json 2> $R/peer_fwd.err || say "peer failed: $(tail -3 $R/peer_fwd.err)"
cat $R/peer_fwd.json
say "dvren: full size"
: > $R/dvren.jsonl
run_bench() { # label args...
  local label=$1; shift
  local line
  line=$($B/gpu_bench "$@" 2>>$R/bench.err) || { say "gpu_bench $label failed: $(tail -2 $R/bench.err)"; return; }
  echo "{\"label\": \"$label\", \"result\": $line}" | tee -a $R/dvren.jsonl
}
rm -rf $B/kcache_cold
run_bench jit_cold --cache $B/kcache_cold --reps 5
run_bench jit_warm --cache $B/kcache_cold --reps 5
run_bench f32 --storage f32
run_bench u16 --storage u16
run_bench f32_ert --storage f32 --ert 1e-3
run_bench u16_ert --storage u16 --ert 1e-3
run_bench f32_1080p --storage f32 --width 1920 --height 1080
run_bench u16_1080p_ert --storage u16 --width 1920 --height 1080 --ert 1e-3
run_bench f32_reduced --res 128 --width 256 --height 256 --samples 128

# ---------------------------------------------------------------- forward + backward (issue 4)
say "peer: PyTorch, full size (fwdbwd)"
python3 $C/torch_dense_grid.py --mode fwdbwd > $R/peer_fwdbwd.json 2> $R/peer_fwdbwd.err || say "peer fwdbwd failed: $(tail -3 $R/peer_fwdbwd.err)"
cat $R/peer_fwdbwd.json
run_bench fwdbwd --mode fwdbwd --storage f32
run_bench fwdbwd_det --mode fwdbwd --storage f32 --deterministic 1
run_bench fwdbwd_reduced --mode fwdbwd --res 128 --width 256 --height 256 --samples 128
DVREN_BENCH_LOG=1 $B/gpu_bench --mode fwdbwd --reps 1 2>&1 | grep -E "registers|backward" | head -4
say "fit: CT head on the GPU, time to 35 dB"
t0=$(date +%s.%N)
DVREN_PLUGIN_PATH=$B/plugins timeout 150 $B/fit_volume "${FIT_CT_GPU[@]}" --csv $R/fit_gpu.csv --png $R/fit_gpu.png \
  2> $R/fit_gpu.log
echo "fit exit status $? after $(since $t0) s (process wall)" >> $R/fit_gpu.log
# the CI's configuration (tests/test_fit.sh: ground truth averaged over 2^3 voxels, 64 x 64 views), on the GPU
DVREN_PLUGIN_PATH=$B/plugins timeout 80 $B/fit_volume --device cuda --size 64 --downsample 2 --steps 1200 --batch 8192 \
  --eval-every 100 --until-target --csv $R/fit_small.csv --png $R/fit_small.png 2>> $R/fit_gpu.log
echo "fit (CI size) exit status $?" >> $R/fit_gpu.log
tail -12 $R/fit_gpu.log
say "fit: the lego scene's real views (16 training, 4 held out, 800 x 800), on the GPU"
rm -f $R/lego_fit.json
DVREN_PLUGIN_PATH=$B/plugins timeout 120 $B/fit_volume --device cuda --images $C/data/lego/transforms_train.json \
  --size 800 --heldout 4 --grid 256 --steps 3000 --batch 65536 --eval-every 500 --target 25 \
  --csv $R/lego_fit.csv --png $R/lego_fit.png --save $R/lego_fit 2> $R/lego_fit.log
echo "lego fit exit status $?" >> $R/lego_fit.log
tail -4 $R/lego_fit.log

# ---------------------------------------------------------------- foveation (issue 11), FOVEATE=1
if [ "${FOVEATE:-0}" = 1 ]; then
  [ -s $R/lego_fit.json ] && export FOVEATE_LEGO=$R/lego_fit.json  # the fitted lego scene, saved just above
  # already built above; its files stay in $R/foveate and its table joins this run's summary below
  # (with everything else gpu.sh does, the call may pass the device tool's 10 minutes: run it alone then)
  OUT= FOVEATE_NO_BUILD=1 bash bench/foveate.sh
fi

# ---------------------------------------------------------------- Python (python/, issue 10)
bash bench/gpu_python.sh
$B/gpu_bench --res 256 --npy $R/dvren_full >/dev/null 2>&1
python3 - "$C" "$R" >> $R/peer_fwd.json <<'EOF'
import importlib.util, json, sys, numpy as np, torch
c, r = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("peer", f"{c}/torch_dense_grid.py"); p = importlib.util.module_from_spec(spec); spec.loader.exec_module(p)
g = p.make_grid(256, "cuda"); o, d, a, b, h = p.make_rays(800, 800, "cuda")
img = p.render(g, o, d, a, b, h, 256).double().cpu().numpy().reshape(800, 800, 3)
ours = np.load(f"{r}/dvren_full_rgb.npy").astype(np.float64)
e = np.abs(ours - img)
print(json.dumps({"peer_vs_dvren_full": {"max_abs": float(e.max()), "max_rel": float((e / np.maximum(np.abs(img), 0.01)).max()), "peer_mean": float(img.mean()), "dvren_mean": float(ours.mean())}}))
EOF

if [ "${GPU_QUICK:-0}" != 1 ]; then
  say "variants: thread block shape, register cap"
  for blk in 8x8 32x4 16x16; do DVREN_CUDA_BLOCK=$blk run_bench block_$blk --storage f32 --reps 11; done
  for rr in 64 96; do DVREN_CUDA_NVRTC_OPTIONS="--maxrregcount=$rr" run_bench maxreg_$rr --storage u16 --reps 11; done
  DVREN_CUDA_NVRTC_OPTIONS="--fmad=true" run_bench fmad_on --storage f32 --reps 11
  DVREN_CUDA_NVRTC_OPTIONS="--fmad=true" run_bench fmad_on_u16 --storage u16 --reps 11
  for blk in 8x8 32x4; do DVREN_CUDA_BLOCK=$blk run_bench u16_block_$blk --storage u16 --reps 11; done
  if [ "${NCU:-1}" != 0 ] && command -v ncu >/dev/null; then
    say "ncu: one pass on dvren_forward (f32 and u16, full size)"
    for st in f32 u16; do
    timeout 200 ncu --clock-control none --kernel-name dvren_forward --launch-skip 3 --launch-count 1 \
      --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,l1tex__throughput.avg.pct_of_peak_sustained_active,l1tex__t_sector_hit_rate.pct,lts__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sector_hit_rate.pct,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,smsp__average_warp_latency_issue_stalled_lg_throttle.ratio,smsp__average_warp_latency_issue_stalled_long_scoreboard.ratio,launch__registers_per_thread,launch__occupancy_limit_registers,l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum \
      $B/gpu_bench --storage $st --reps 1 >> $R/ncu.txt 2>&1 || say "ncu failed: $(tail -3 $R/ncu.txt)"
    done
    # which part of L1 is the limit
    timeout 120 ncu --clock-control none --kernel-name dvren_forward --launch-skip 3 --launch-count 1 \
      --metrics breakdown:l1tex__throughput.avg.pct_of_peak_sustained_active,breakdown:sm__throughput.avg.pct_of_peak_sustained_active \
      $B/gpu_bench --storage u16 --reps 1 >> $R/ncu.txt 2>&1 || say "ncu breakdown failed"
    grep -E "dvren_forward|gpu__time|throughput|hit_rate|warps_active|inst_executed|pipe_fma|stalled|registers|occupancy|bytes_read|wavefronts|requests|sectors|l1tex__|sm__" $R/ncu.txt | head -80
  fi
fi
say "done in $(( $(date +%s) - t_start )) s"
python3 bench/gpu_report.py "$R" | tee $R/summary.md
if [ -n "${OUT:-}" ]; then
  # at most 8 files come back
  cat $R/test_cuda.txt $R/test_autodiff_gpu.txt $R/sanitizer.txt > $R/tests.txt 2>/dev/null
  cat $R/peer_fwd.json $R/peer_fwdbwd.json $R/gpu.txt $R/parity.jsonl > $R/peer.txt 2>/dev/null
  cat $R/fit_gpu.csv >> $R/fit_gpu.log 2>/dev/null
  cat $R/lego_fit.csv >> $R/lego_fit.log 2>/dev/null
  cat $R/fit_py.log >> $R/python.txt 2>/dev/null
  cat $R/python.txt >> $R/tests.txt
  files="summary.md tests.txt dvren.jsonl peer.txt fit_gpu.log fit_gpu.png lego_fit.log lego_fit.png"
  if [ "${FOVEATE:-0}" = 1 ] && [ -f $R/foveate/foveate.md ]; then
    # within the 8 files: the foveation table joins the summary, its points and logs replace lego_fit.png
    cat $R/foveate/foveate.md >> $R/summary.md
    cat $R/foveate/foveate.md $R/foveate/foveate_points.csv $R/foveate/foveate.json $R/foveate/foveate.log \
      > $R/foveate.txt 2>/dev/null
    files="${files% lego_fit.png} foveate.txt"
  fi
  for f in $files; do
    [ -f $R/$f ] && cp $R/$f "$OUT/"
  done
fi
