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
# Libraries the GPU machine may lack (it has no network): FFTW 3 for the
# spectral_residual plugin and OpenEXR's C API (OpenEXRCore) for
# dvren_foveate, carried by bench/prepare_carry.sh as headers in $C/include
# and shared libraries in $C/lib; ahead of the system's on every path.
CARRY_CFLAGS="-I$C/include"
CARRY_LDFLAGS="-L$C/lib"
export LD_LIBRARY_PATH=$C/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The full-size CT-head fit to 35 dB held-out PSNR, the same for fit_volume and
# examples/python/fit_ct_head.py (the two take the same options).
FIT_CT_GPU=(--device cuda --size 256 --views 64 --heldout 8 --steps 3000 --batch 65536 --eval-every 100 --until-target)

# Seconds since $1 (a date +%s.%N), one decimal.
since() { python3 -c "import time; print(round(time.time() - $1, 1))"; }

# Starts the build of every plugin as build.sh builds them (each folder
# plugins/<name>/ holding <name>.c; the libraries of plugins/<name>/LIBS,
# else -lm) into $B/plugins, with .carry's headers and libraries, and copies
# their device sources beside them. $1: extra compiler flags (warnings). The
# compiles run in the background: the caller waits (wait), then checks that
# the .so files exist.
build_plugins() {
  local d p libs
  for d in plugins/*/; do
    p=$(basename "$d")
    [ -f plugins/$p/$p.c ] || continue
    libs=-lm
    [ -f plugins/$p/LIBS ] && libs=$(cat plugins/$p/LIBS)
    rm -f $B/plugins/$p.so
    cc -std=c11 -O2 ${1:-} -I$ROOT -I$ROOT/tools $CARRY_CFLAGS -shared -fPIC -fvisibility=hidden -Wl,--no-undefined \
      plugins/$p/*.c -o $B/plugins/$p.so $CARRY_LDFLAGS $libs &
    [ ! -f plugins/$p/${p}_device.h ] || cp plugins/$p/${p}_device.h $B/plugins/
  done
}
# The plugins build_plugins makes, one name a line.
plugin_names() { local d; for d in plugins/*/; do d=$(basename "$d"); [ -f plugins/$d/$d.c ] && echo $d; done; }
# cuFFT, which spectral_residual loads at run time on the GPU: when the
# loader knows none, the CUDA toolkit's or a Python package's copy, exported
# as DVREN_CUFFT_LIBRARY (read by the plugin). Logs through the caller's say().
find_cufft() {
  local f
  [ -z "${DVREN_CUFFT_LIBRARY:-}" ] || return 0
  ldconfig -p 2>/dev/null | grep -q 'libcufft\.so' && return 0
  f=$(ls /usr/local/cuda*/lib64/libcufft.so.* /usr/local/cuda*/targets/*/lib/libcufft.so.* 2>/dev/null | head -n 1)
  [ -n "$f" ] || f=$(python3 -c 'import glob, site
for d in site.getsitepackages():
    for p in sorted(glob.glob(d + "/nvidia/**/libcufft.so*", recursive=True)): print(p)' 2>/dev/null | head -n 1)
  if [ -n "$f" ]; then export DVREN_CUFFT_LIBRARY=$f; say "cuFFT: the loader knows none; DVREN_CUFFT_LIBRARY=$f"
  else say "cuFFT: none found (spectral_residual on the GPU will fail)"; fi
}
