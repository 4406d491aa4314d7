#!/usr/bin/env bash
# bench/blocks.sh - issue 12's GPU run, on the GPU machine, in one call:
#   bash bench/prepare_carry.sh                          # here: data (voxels), cJSON/stb sources -> .carry/
#   run: DVREN_COMMIT=<sha> bash bench/blocks.sh         # there, with carry [".carry"]
# Builds the plugins and bench/blocks.c, checks the GPU against the CPU on
# the terrain world (bench_blocks --parity: image, surface ids, depth,
# logits' gradient), then times the block world (dda) and the dense-grid
# march of the same world on the GPU at 512 x 512 and 1920 x 1080 for the
# 64 x 48 x 64 terrain and two .vox models, and the CPU (all cores) on the
# terrain. Results in build-gpu/run/blocks_*; the tables last.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
say() { echo "[blocks] $*" >&2; }
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -I$ROOT -I$ROOT/tools $CARRY_CFLAGS"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $R/blocks_gpu.txt
echo "${DVREN_COMMIT:-unknown}" >> $R/blocks_gpu.txt
build_plugins "-Wall -Wextra -Werror" 2>$R/blocks_build.log
cc -std=c11 -O2 -I$C/include/cjson -c $C/src/cJSON.c -o $B/cjson.o
wait
# block_world reads JSON worlds through cJSON: with the carried source where the machine has no libcjson
[ -f $B/plugins/block_world.so ] ||
  cc $CFLAGS -I$C/include/cjson -shared -fPIC -fvisibility=hidden plugins/block_world/*.c $C/src/cJSON.c \
    -o $B/plugins/block_world.so -lm || { say "block_world does not build"; cat $R/blocks_build.log; exit 1; }
cc $CFLAGS -I$C/include/cjson bench/blocks.c $B/cjson.o -o $B/bench_blocks -ldl -lm -lpthread ||
  { say "bench_blocks does not build"; exit 1; }
export DVREN_PLUGIN_PATH=$B/plugins
rc=0
say "parity (GPU vs CPU)"
$B/bench_blocks --parity | tee $R/blocks_parity.json || rc=1
for w in terrain $C/data/voxels/obj_house3.vox $C/data/voxels/scene_theater.vox; do
  say "GPU: $w"
  $B/bench_blocks --device cuda --world $w --reps 50 > $R/blocks_cuda_$(basename $w .vox).txt || rc=1
done
say "CPU: terrain"
$B/bench_blocks --device cpu --world terrain --reps 5 --no-dense > $R/blocks_cpu_terrain.txt || rc=1
cat $R/blocks_parity.json
for f in $R/blocks_cuda_*.txt $R/blocks_cpu_terrain.txt; do grep '^|' $f | grep -v -- '---' | grep -v '^| world' ; done
exit $rc
