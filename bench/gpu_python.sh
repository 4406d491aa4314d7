#!/usr/bin/env bash
# bench/gpu_python.sh - the Python package on a GPU machine (called by
# bench/gpu.sh; runs alone too, after bench/prepare_carry.sh): builds the
# package as pip would (cJSON compiled in: the machine has no libcjson), runs
# python/tests with the GPU tests (shared context, zero copy, streams,
# autograd, a fit), times bench/python_overhead.py on the CPU and the GPU,
# and the CT-head fit driven from PyTorch (examples/python/fit_ct_head.py)
# against fit_volume --device cuda with the same settings. Everything goes
# to build-gpu/run/python.txt and fit_py.log (fit_gpu.log: fit_volume's).
#
#   (device tool) run: bash bench/gpu_python.sh      carry: [".carry"]
set -uo pipefail
. "$(dirname "$0")/gpu_env.sh"
say() { echo "[gpu_python.sh $(date +%T)] $*" >&2; }
: > $R/python.txt
if [ ! -x $B/fit_volume ]; then  # alone: fit_volume for the comparison
  CF="-std=c11 -O2 -I$ROOT -I$ROOT/tools -I$C/include"
  mkdir -p $B/plugins
  build_plugins  # every plugin, with its LIBS (gpu_env.sh)
  wait
  cc -std=c11 -O2 -I$C/include -c tools/stb_impl.c -o $B/stb.o
  cc -std=c11 -O2 -I$C/include/cjson -c $C/src/cJSON.c -o $B/cjson.o
  cc $CF examples/fit_volume.c $B/stb.o $B/cjson.o -o $B/fit_volume -ldl -lm -lpthread
fi
if [ ! -s $R/fit_gpu.log ]; then
  say "fit_volume: CT head on the GPU, time to 35 dB"
  t0=$(date +%s.%N)
  DVREN_PLUGIN_PATH=$B/plugins timeout 150 $B/fit_volume "${FIT_CT_GPU[@]}" --csv $R/fit_gpu.csv --png $R/fit_gpu.png \
    2> $R/fit_gpu.log
  echo "fit exit status $? after $(since $t0) s (process wall)" >> $R/fit_gpu.log
fi
# the package built as pip would (cJSON compiled in: no libcjson here), its
# tests with the GPU ones, the per-call overhead, and the CT-head fit driven
# from PyTorch against fit_volume above, same settings, same run
say "python: package, tests (GPU interop, streams, autograd, fit), overhead, fit from PyTorch"
DVREN_CJSON_SOURCE=$C/src/cJSON.c CFLAGS="$CARRY_CFLAGS -I$C/include/cjson $CARRY_LDFLAGS" python3 python/build_native.py $B/python --with-python \
  > $R/python.txt 2>&1 || say "python package does not build: $(tail -5 $R/python.txt)"
export PYTHONPATH=$B/python:$ROOT/python/tests
timeout 300 python3 -m pytest -q -p dvren_pytest_report -p no:cacheprovider python/tests 2>> $R/python.txt |
  tee -a $R/python.txt | grep -E '(FAIL|SKIP) python/' | head -20
echo "python tests: $(grep -c 'PASS python/' $R/python.txt) passed, $(grep -c 'FAIL python/' $R/python.txt) failed, $(grep -c 'SKIP python/' $R/python.txt) skipped" | tee -a $R/python.txt
for d in cpu cuda; do timeout 120 python3 bench/python_overhead.py --device $d 2>&1 | tail -4 | tee -a $R/python.txt; done
t0=$(date +%s.%N)
timeout 200 python3 examples/python/fit_ct_head.py "${FIT_CT_GPU[@]}" --csv $R/fit_py.csv --png $R/fit_py.png \
  2> $R/fit_py.log
echo "python fit exit status $? after $(since $t0) s (process wall)" >> $R/fit_py.log
tail -3 $R/fit_py.log | tee -a $R/python.txt
grep -h -E "held-out PSNR .* after|exit status" $R/fit_gpu.log | head -2 | sed 's/^/fit_volume: /' | tee -a $R/python.txt
