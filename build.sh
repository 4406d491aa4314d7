#!/usr/bin/env bash
# dvren's one build script.
#
#   ./build.sh           install missing packages, build everything (the Python package too), render the default scene
#   ./build.sh test      build, then run every test; ends with "N passed, N failed"
#   ./build.sh gen       regenerate the kernel copies embedded in dvren.h from kernels/
#                        (--check: exit 1 when they are stale, change nothing)
#   ./build.sh bench     build, then run the CPU benchmark (bench/cpu_render)
#   ./build.sh fuzz [S]  build every libFuzzer target (tests/fuzz/fuzz_*.c) and run each for S seconds
#                        (default 60) on a copy of its seed corpus (tests/test_fuzz.sh)
#   ./build.sh python    build the Python package into build/python (python/build_native.py:
#                        libdvren.so, the plugins, python/dvren/*.py); prints how to use and install it
#   ./build.sh clean     remove build/ and out/ (and what pip leaves in python/)
#
# Variables: CC (default cc), CFLAGS (added), DVREN_BUILD (build folder, default
# build), DVREN_DATA (real data, default
# ../shared/data), DVREN_NO_INSTALL=1 (never call apt-get), DVREN_SANITIZE=0
# (skip the AddressSanitizer/UBSan pass of the tests), DVREN_PYTHON (interpreter
# of ./build.sh python and the Python tests, default python3).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
CC=${CC:-cc}
B=${DVREN_BUILD:-build}
WARN="-Wall -Wextra -Werror"
BASE_CFLAGS="-std=c11 -O2 $WARN -I$ROOT -I$ROOT/tools ${CFLAGS:-}"
PLUGIN_FLAGS="-shared -fPIC -fvisibility=hidden -Wl,--no-undefined"
LIBS="-ldl -lm -lpthread"

say() { printf '[build] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
# Debian packages the build needs, with a header each proves it is there.
PKGS=(
  "libcjson-dev:/usr/include/cjson/cJSON.h"
  "libstb-dev:/usr/include/stb/stb_image_write.h"
  "zlib1g-dev:/usr/include/zlib.h"
  "libfftw3-dev:/usr/include/fftw3.h"
  "libopenexr-dev:/usr/include/OpenEXR/openexr.h"
  "libraw-dev:/usr/include/libraw/libraw.h"
)
TEST_PKGS=(
  "gcc-mingw-w64-x86-64:/usr/bin/x86_64-w64-mingw32-gcc"
  "libz-mingw-w64-dev:/usr/x86_64-w64-mingw32/include/zlib.h"
  "clang:/usr/bin/clang"
  "g++:/usr/bin/g++"
  "libosmesa6-dev:/usr/include/GL/osmesa.h"
)
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    [ -e "${p#*:}" ] || missing+=("${p%%:*}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${DVREN_NO_INSTALL:-0}" = 1 ]; then
    say "missing packages: ${missing[*]} (DVREN_NO_INSTALL=1: not installing)"; return 1
  fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; } ||
      { say "apt-get could not install: ${missing[*]}"; return 1; }
  else
    say "please install these Debian packages (as root: apt-get install ${missing[*]})"; return 1
  fi
}

# ---------------------------------------------------------------- gen
# Replaces the text between "/* >>NAME begin" and "/* >>NAME end */" in a
# header with the contents of a file (the embedded copies of kernels/).
embed() { # header name source
  awk -v name="$2" -v src="$3" '
    $0 ~ "^/\\* >>" name " begin" { print; while ((getline line < src) > 0) print line; skip = 1; next }
    $0 ~ "^/\\* >>" name " end \\*/" { skip = 0 }
    !skip { print }' "$1"
}
# Same, but the file becomes a C array of string literals, one per line
# (dvren_cuda.h hands these texts to NVRTC).
embed_strings() { # header name source
  awk -v name="$2" -v src="$3" -v var="$4" '
    $0 ~ "^/\\* >>" name " begin" {
      print
      print "static const char* const " var "[] = {"
      while ((getline line < src) > 0) {
        gsub(/\\/, "&&", line); gsub(/"/, "\\\"", line)
        print "\"" line "\\n\","
      }
      print "0};"
      skip = 1; next
    }
    $0 ~ "^/\\* >>" name " end \\*/" { skip = 0 }
    !skip { print }' "$1"
}
gen_into() { # output-dir: writes the generated headers there
  # one copy of each in dvren.h's >>generated section (the march is read twice: float32, float64)
  embed dvren.h device kernels/dvren_device.h > "$1/dvren.h.1"
  embed "$1/dvren.h.1" march kernels/dvren_march.h > "$1/dvren.h.2"
  embed "$1/dvren.h.2" train kernels/dvren_train.h > "$1/dvren.h.3"
  embed "$1/dvren.h.3" splat kernels/dvren_splat.h > "$1/dvren.h.4"
  embed "$1/dvren.h.4" mc kernels/dvren_mc.h > "$1/dvren.h"
  embed_strings dvren_cuda.h "cuda-src device" kernels/dvren_device.h dvren__cuda_src_device > "$1/c.1"
  embed_strings "$1/c.1" "cuda-src march" kernels/dvren_march.h dvren__cuda_src_march > "$1/c.2"
  embed_strings "$1/c.2" "cuda-src kernel" kernels/dvren_cuda_kernel.h dvren__cuda_src_kernel > "$1/c.3"
  embed_strings "$1/c.3" "cuda-src train" kernels/dvren_train.h dvren__cuda_src_train > "$1/c.4"
  embed_strings "$1/c.4" "cuda-src splat" kernels/dvren_splat.h dvren__cuda_src_splat > "$1/c.5"
  embed_strings "$1/c.5" "cuda-src splat-kernel" kernels/dvren_cuda_splat.h dvren__cuda_src_splat_kernel > "$1/c.5b"
  embed_strings "$1/c.5b" "cuda-src scan" kernels/dvren_cuda_scan.h dvren__cuda_src_scan > "$1/c.6"
  embed_strings "$1/c.6" "cuda-src mc" kernels/dvren_mc.h dvren__cuda_src_mc > "$1/c.7"
  embed_strings "$1/c.7" "cuda-src mc-kernel" kernels/dvren_cuda_mc.h dvren__cuda_src_mc_kernel > "$1/dvren_cuda.h"
  rm -f "$1/dvren.h.1" "$1/dvren.h.2" "$1/dvren.h.3" "$1/dvren.h.4" "$1/c.1" "$1/c.2" "$1/c.3" "$1/c.4" "$1/c.5" "$1/c.5b" "$1/c.6" "$1/c.7"
}
do_gen() { # [--check]: only report whether the headers are stale (exit 1 if so)
  local t f rc=0; t=$(mktemp -d)
  gen_into "$t"
  for f in dvren.h dvren_cuda.h; do
    if ! cmp -s "$t/$f" $f; then
      if [ "${1:-}" = --check ]; then rc=1; else cp "$t/$f" $f; say "regenerated $f from kernels/"; fi
    fi
  done
  rm -rf "$t"
  return $rc
}

# ---------------------------------------------------------------- build
# every folder plugins/<name>/ holding <name>.c (python/build_native.py and tests/run.sh find them the same way)
PLUGINS=()
for p in plugins/*/; do p=${p%/}; p=${p#plugins/}; [ -f plugins/$p/$p.c ] && PLUGINS+=("$p"); done
# the libraries a plugin links: plugins/<name>/LIBS when present (dense_grid: -lz for .npz;
# spectral_residual: FFTW), else libm; read there by tests/run.sh and python/build_native.py too
plugin_libs() { if [ -f plugins/$1/LIBS ]; then cat plugins/$1/LIBS; else echo "-lm"; fi; }
TOOLS=(dvren_render dvren_foveate dvren_compare dvren_blocks dvren_align dvren_compose dvren_mesh)
# libraries a tool links besides cJSON and libc's (dvren_foveate writes EXR through OpenEXR's C API, OpenEXRCore;
# dvren_align reads camera RAW files through LibRaw's thread-safe library, tools/dvren_raw.h)
tool_libs() { case $1 in dvren_foveate) echo "-lOpenEXRCore" ;; dvren_align) echo "-lraw_r" ;; esac; }

build_all() {
  mkdir -p $B/plugins $B/obj out
  # the build never rewrites dvren.h behind your back; the test embedded_kernels fails on a stale copy
  do_gen --check || say "WARNING: dvren.h's copy of kernels/ is stale: run ./build.sh gen"
  local p t
  for p in "${PLUGINS[@]}"; do
    $CC $BASE_CFLAGS $PLUGIN_FLAGS plugins/$p/*.c -o $B/plugins/$p.so $(plugin_libs $p)
  done
  # third-party implementation units, compiled once without our warning set
  [ $B/obj/stb.o -nt tools/stb_impl.c ] ||
    $CC -std=c11 -O2 -c tools/stb_impl.c -o $B/obj/stb.o
  for t in "${TOOLS[@]}"; do
    $CC $BASE_CFLAGS tools/$t.c $B/obj/stb.o -o $B/$t -lcjson $(tool_libs $t) $LIBS
  done
  # dvren_render under the name dvren_gradcheck checks gradients (tools/dvren_render.c)
  cp $B/dvren_render $B/dvren_gradcheck
  $CC $BASE_CFLAGS examples/minimal.c $B/obj/stb.o -o $B/minimal $LIBS
  # the fit example is also the tool dvren_fit
  $CC $BASE_CFLAGS examples/fit_volume.c $B/obj/stb.o -o $B/fit_volume -lcjson $LIBS
  cp $B/fit_volume $B/dvren_fit
  # material recovery on block worlds (docs/blocks.md, "Material optimisation")
  $CC $BASE_CFLAGS examples/fit_blocks.c $B/obj/stb.o -o $B/fit_blocks -lcjson $LIBS
  # Gaussian splats fitted to views with Adam (docs/splats.md, "Fitting")
  $CC $BASE_CFLAGS examples/fit_splats.c $B/obj/stb.o -o $B/fit_splats $LIBS
  $CC $BASE_CFLAGS bench/cpu_render.c -o $B/cpu_render -lcjson $LIBS
  # the foveation benchmark (bench/foveate.sh runs it on the GPU machine); built here so that it keeps compiling
  $CC $BASE_CFLAGS bench/foveate.c $B/obj/stb.o -o $B/foveate -lcjson $LIBS
  # the block-world benchmark (bench/blocks.sh runs it on the GPU machine; --mesa here)
  $CC $BASE_CFLAGS bench/blocks.c -o $B/bench_blocks -lcjson $LIBS
  # the registration benchmark (bench/register.sh runs it on the GPU machine; --device cpu here)
  $CC $BASE_CFLAGS bench/register.c -o $B/bench_register $LIBS
  for p in "${PLUGINS[@]}"; do [ ! -f plugins/$p/${p}_device.h ] || cp plugins/$p/${p}_device.h $B/plugins/; done
  # the Python package (libdvren.so, its plugins, python/dvren/*.py): ./build.sh python says how to use it
  if command -v "${DVREN_PYTHON:-python3}" >/dev/null; then
    "${DVREN_PYTHON:-python3}" python/build_native.py $B/python --with-python > $B/python_build.log 2>&1 ||
      { cat $B/python_build.log >&2; say "the Python package does not build (above)"; return 1; }
  else
    say "no ${DVREN_PYTHON:-python3}: the Python package is not built"
  fi
  say "built: $B/dvren_render (= $B/dvren_gradcheck), $B/dvren_foveate, $B/minimal, $B/fit_volume (= $B/dvren_fit), $B/fit_blocks, $B/cpu_render, plugins in $B/plugins/, the Python package in $B/python/"
}

case "${1:-all}" in
  all)
    ensure_packages "${PKGS[@]}"
    build_all
    say "rendering the default scene"
    ./$B/dvren_render
    say "done: out/default.png"
    ;;
  gen) do_gen "${2:-}" ;;
  test)
    ensure_packages "${PKGS[@]}"
    ensure_packages "${TEST_PKGS[@]}" || say "some test tools are missing: their tests will be skipped"
    build_all
    exec bash tests/run.sh
    ;;
  bench)
    ensure_packages "${PKGS[@]}"
    build_all
    ./$B/cpu_render "${@:2}"
    ;;
  fuzz)
    ensure_packages "${PKGS[@]}"
    ensure_packages "clang:/usr/bin/clang" || say "no clang: the fuzz targets will be skipped"
    DVREN_FUZZ_SEED=${DVREN_FUZZ_SEED:-0} exec bash tests/test_fuzz.sh "${2:-60}"
    ;;
  python)
    # not part of build_all: the C build stays fast and needs no Python
    ensure_packages "${PKGS[@]}"
    do_gen --check || say "WARNING: dvren.h's copy of kernels/ is stale: run ./build.sh gen"
    PKG=$(mkdir -p $B/python && cd $B/python && pwd)
    ${DVREN_PYTHON:-python3} python/build_native.py "$PKG" --with-python
    say "use it from this build (needs numpy):  PYTHONPATH=$PKG ${DVREN_PYTHON:-python3} -c 'import dvren'"
    say "install it (numpy; torch optional):  pip install ./python   (or pip install './python[torch]')"
    ;;
  clean) rm -rf $B out python/build python/dist python/*.egg-info ;;
  *) echo "usage: ./build.sh [test|gen|bench|fuzz [SECONDS]|python|clean]" >&2; exit 2 ;;
esac
