# bench/gpu_env.sh - sourced by bench/gpu.sh and bench/gpu_python.sh: the
# folders of a GPU run and the CT-head fit settings both scripts compare.
#   ROOT  the repository; C its .carry/ (bench/prepare_carry.sh); B build-gpu/; R B/run/ (the results)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
C=$ROOT/.carry
B=$ROOT/build-gpu
R=$B/run
mkdir -p $B/plugins $R
[ -d "$C" ] || { echo "bench: no .carry/ (run bench/prepare_carry.sh and carry it)" >&2; exit 2; }
export DVREN_DATA=$C/data DVREN_CACHE_DIR=$B/kcache PYTHONUNBUFFERED=1

# The full-size CT-head fit to 35 dB held-out PSNR, the same for fit_volume and
# examples/python/fit_ct_head.py (the two take the same options).
FIT_CT_GPU=(--device cuda --size 256 --views 64 --heldout 8 --steps 3000 --batch 65536 --eval-every 100 --until-target)

# Seconds since $1 (a date +%s.%N), one decimal.
since() { python3 -c "import time; print(round(time.time() - $1, 1))"; }
