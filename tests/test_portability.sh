#!/usr/bin/env bash
# tests/test_portability.sh - dvren builds cleanly with every compiler and
# language mode it promises (docs: STYLE.md, "A compile test builds the
# headers as C11, C17 and C++ with all warnings").
#
#   header_*    dvren.h as C11/C17 (gcc, clang) and C++17 (g++, clang++), with
#               and without DVREN_IMPLEMENTATION, and under DVREN_STATIC
#   device_*    the single-source device code (kernels/ + every plugin's
#               *_device.h + the march template bound to direct calls), the way
#               NVRTC will see it, checked as C++17 and as C11
#   mingw_*     Windows cross build: dvren.h, each plugin as a DLL exporting
#               only dvren_plugin_entry, dvren_render.exe (with cJSON's source
#               fetched from Debian by apt-get into $DVREN_BUILD/third_party)
#   clang_*     plugins and tools warning-free with clang
#
# Run from the repository root: bash tests/test_portability.sh. Prints one
# "PASS|FAIL|SKIP test_portability/<case>" line per case; a FAIL line is
# followed by the first lines of the compiler's output, indented. Needs no
# Python; a missing compiler is a SKIP. Variables: DVREN_BUILD (build folder,
# default build; only the cJSON cache lives there), TMPDIR.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
NAME=test_portability
T=$(mktemp -d "${TMPDIR:-/tmp}/dvren-port.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$T"' EXIT

WARN="-Wall -Wextra -Werror"
MINGW=x86_64-w64-mingw32
PLUGINS=()
# libraries a plugin links: plugins/<name>/LIBS, as build.sh reads it (dense_grid: zlib for
# .npz; spectral_residual: FFTW), else libm
plugin_libs() { if [ -f plugins/$1/LIBS ]; then cat plugins/$1/LIBS; else echo "-lm"; fi; }
# the same for the Windows cross build: the -l libraries alone (no -ldl: LoadLibrary is in
# kernel32; no ELF linker options); prints the first library without a MinGW build
# installed and returns 1 when there is one (FFTW: none in Debian), so the case is skipped
mingw_plugin_libs() {
    local a out="" lib=/usr/$MINGW/lib
    for a in $(plugin_libs "$1"); do
        case $a in
            -ldl | -Wl,*) ;;
            -lm | -lpthread) out="$out $a" ;;
            -l*) [ -e "$lib/lib${a#-l}.a" ] || [ -e "$lib/lib${a#-l}.dll.a" ] || { echo "lib${a#-l}"; return 1; }
                 out="$out $a" ;;
            *) out="$out $a" ;;
        esac
    done
    echo "$out"
}
for d in plugins/*/; do
    d=${d%/}
    ls "$d"/*.c >/dev/null 2>&1 && PLUGINS+=("${d#plugins/}")
done

pass() { echo "PASS $NAME/$1"; }
skip() { echo "SKIP $NAME/$1: $2"; }
# fail CASE REASON [LOG]: the first diagnostic goes on the FAIL line, the first
# lines of the log follow, indented (run.sh keeps them in its log).
nfail=0
fail() {
    nfail=$((nfail + 1))
    local first=""
    if [ -n "${3:-}" ] && [ -s "$3" ]; then
        first=$(grep -m1 -E 'error|warning|undefined' "$3" || head -n 1 "$3")
        echo "FAIL $NAME/$1: $2: $first"
        head -n 15 "$3" | sed 's/^/    /'
    else
        echo "FAIL $NAME/$1: $2"
    fi
}
have() { command -v "$1" >/dev/null 2>&1; }
# check CASE WHAT command...: PASS when the command succeeds silently; any
# compiler output at all (a warning that -Werror does not catch, a note) fails.
check() {
    local c=$1 what=$2 log="$T/$1.log"
    shift 2
    if ! "$@" >"$log" 2>&1; then
        fail "$c" "$what failed" "$log"
    elif [ -s "$log" ]; then
        fail "$c" "$what printed diagnostics" "$log"
    else
        pass "$c"
    fi
}
# g++ -> gxx, clang++ -> clangxx (case names are plain words)
cname() { local n=${1//+/x}; echo "${n//-/_}"; }

# ================================================================ dvren.h
# the implementation with the CUDA backend (no CUDA SDK needed to build it)
printf '#define DVREN_IMPLEMENTATION\n#include "dvren.h"\n#define DVREN_CUDA_IMPLEMENTATION\n#include "dvren_cuda.h"\n' > "$T/impl.c"
printf '#include "dvren.h"\n' > "$T/api.c"
# DVREN_STATIC makes every API function static, so the ones this translation
# unit never calls are "defined but not used": -Wno-unused-function is the
# expected price of a private copy (stb does the same), not a defect.
printf '#define DVREN_STATIC\n#define DVREN_IMPLEMENTATION\n#include "dvren.h"\n' > "$T/static.c"

for cc in gcc clang; do
    for std in c11 c17; do
        c=header_impl_$(cname $cc)_$std
        if have $cc; then
            check $c "$cc -std=$std" $cc -std=$std -O2 $WARN -pedantic -I"$ROOT" -c "$T/impl.c" -o "$T/$c.o"
        else skip $c "$cc not installed"; fi
    done
done
for cxx in g++ clang++; do
    c=header_impl_$(cname $cxx)_cxx17
    if have $cxx; then
        check $c "$cxx -std=c++17" $cxx -x c++ -std=c++17 -O2 $WARN -pedantic -I"$ROOT" -c "$T/impl.c" -o "$T/$c.o"
    else skip $c "$cxx not installed"; fi
done
for cc in gcc clang; do
    c=header_api_$(cname $cc)_c11
    if have $cc; then
        check $c "$cc -std=c11 (API only)" $cc -std=c11 $WARN -pedantic -I"$ROOT" -c "$T/api.c" -o "$T/$c.o"
    else skip $c "$cc not installed"; fi
done
for cxx in g++ clang++; do
    c=header_api_$(cname $cxx)_cxx17
    if have $cxx; then
        check $c "$cxx -std=c++17 (API only)" $cxx -x c++ -std=c++17 $WARN -pedantic -I"$ROOT" -c "$T/api.c" -o "$T/$c.o"
    else skip $c "$cxx not installed"; fi
done
# gcc's flow analysis (maybe-uninitialized, format-truncation) changes with
# the optimisation level, and users build at all of them
for cc in gcc clang; do
    for o in O0 O1 O3 Os; do
        c=header_impl_$(cname $cc)_$o
        if have $cc; then
            check $c "$cc -std=c11 -$o" $cc -std=c11 -$o $WARN -pedantic -I"$ROOT" -c "$T/impl.c" -o "$T/$c.o"
        else skip $c "$cc not installed"; fi
    done
done
# the opt-outs (DVREN_NO_GRADCHECK, DVREN_NO_CHECKPOINT) leave a header that
# builds clean, and a copy renamed with DVREN_HEADER_FILE finds itself
for cc in gcc clang; do
    c=header_optout_$(cname $cc)
    if have $cc; then
        check $c "$cc -std=c11 -DDVREN_NO_GRADCHECK -DDVREN_NO_CHECKPOINT" $cc -std=c11 -O2 $WARN -pedantic \
            -DDVREN_NO_GRADCHECK -DDVREN_NO_CHECKPOINT -I"$ROOT" -c "$T/impl.c" -o "$T/$c.o"
    else skip $c "$cc not installed"; fi
done
if have gcc; then
    mkdir -p "$T/renamed"
    cp dvren.h "$T/renamed/my_dvren.h"
    printf '#define DVREN_IMPLEMENTATION\n#define DVREN_HEADER_FILE "my_dvren.h"\n#include "my_dvren.h"\nint main(void) { return dvren_dtype_size(DVREN_DTYPE_F32) == 4 ? 0 : 1; }\n' > "$T/renamed/main.c"
    check header_renamed "a renamed copy (DVREN_HEADER_FILE)" gcc -std=c11 -O1 $WARN -c "$T/renamed/main.c" -o "$T/renamed.o"
else skip header_renamed "gcc not installed"; fi
for cc in gcc clang; do
    c=header_static_$(cname $cc)_c11
    if have $cc; then
        check $c "$cc -std=c11 DVREN_STATIC" $cc -std=c11 -O2 $WARN -pedantic -Wno-unused-function -I"$ROOT" \
            -c "$T/static.c" -o "$T/$c.o"
    else skip $c "$cc not installed"; fi
done

# ================================================================ device code
# One translation unit as the CUDA backend will hand it to NVRTC: the device
# vocabulary, every plugin's per-sample code, then the march template with its
# binding macros bound to direct calls (the fused kernel). -pedantic matters:
# without it g++ quietly accepts C-only constructs (compound literals,
# designated initialisers) that NVRTC rejects.
{
    echo '#include "kernels/dvren_device.h"'
    for h in plugins/*/*_device.h; do echo "#include \"$h\""; done
    cat <<'EOF'
#define DVREN_STAGES_PARAM
#define DVREN_STAGES_ARG
#define DVREN_FIELD_EVAL(P, p, out) dense_grid_eval((P), (p), (out))
#define DVREN_FIELD_EVAL_CHANNEL(P, p, c) dense_grid_eval_channel((P), (p), (c))
#define DVREN_SHADER_DENSITY(P, ch, dt) emission_absorption_density_dt((P), (ch), (dt))
#define DVREN_SHADER_COLOR(P, ch, grad, dir, rgb) emission_absorption_color((P), (ch), (grad), (dir), (rgb))
#define DVREN_SAMPLER_BEGIN(P, budget, o, d, t0, t1, rng, state) \
    uniform_begin((P), (budget), (o), (d), (t0), (t1), (rng), (state))
#define DVREN_SAMPLER_NEXT(P, state, t, dt) uniform_next((P), (state), (t), (dt))
/* surfaces (ABI 1.3): the block world's entries, so that they compile here too */
#define DVREN_SAMPLER_SURFACE(P, b, st, o, d, h, w) dda_surface((P), (b), (st), (o), (d), (h), (w))
#define DVREN_SHADER_SURFACE_COLOR(P, ch, h, d, rgb) terrain_surface_color((P), (ch), (h), (d), (rgb))
#define DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, h, d, g, dch) terrain_surface_color_bwd((P), (ch), (h), (d), (g), (dch))
#define DVREN_MARCH_BACKWARD
#define DVREN_FIELD_EVAL_BWD(P, p, g) dense_grid_eval_bwd((P), (p), (g))
#define DVREN_SHADER_DENSITY_BWD(P, ch, dt, g, dch) emission_absorption_density_dt_bwd((P), (ch), (dt), (g), (dch))
#define DVREN_SHADER_COLOR_BWD(P, ch, gr, d, g, dch, dgr) emission_absorption_color_bwd((P), (ch), (gr), (d), (g), (dch), (dgr))
#include "kernels/dvren_march.h"

/* stands in for the fused kernel: makes every template function used */
#ifdef __cplusplus
extern "C"
#endif
void dvren_port_kernel(const dvren_march_args* A, uint32_t x, uint32_t y);
#ifdef __cplusplus
extern "C"
#endif
void dvren_port_kernel(const dvren_march_args* A, uint32_t x, uint32_t y)
{
    dvren_render_pixel(A, x, y);
    dvren_backward_pixel(A, x, y);
}
EOF
} > "$T/device.c"
if have g++; then
    check device_gxx_cxx17 "g++ -std=c++17 (device code)" \
        g++ -x c++ -std=c++17 $WARN -pedantic -fsyntax-only -I"$ROOT" "$T/device.c"
else skip device_gxx_cxx17 "g++ not installed"; fi
if have gcc; then
    check device_gcc_c11 "gcc -std=c11 (device code)" gcc -x c -std=c11 $WARN -pedantic -fsyntax-only -I"$ROOT" "$T/device.c"
else skip device_gcc_c11 "gcc not installed"; fi

# ================================================================ MinGW
# cJSON for Windows: Debian packages cJSON only for Linux, so its source
# package is fetched with apt-get (a private sources list and lists folder,
# nothing in /etc or /var touched) and cached under $DVREN_BUILD/third_party.
# Never vendored. Prints the path of the unpacked source folder, or the
# reason it could not on stderr.
fetch_cjson() {
    local cache="$B/third_party/cjson" tarball dl uri suite key src
    mkdir -p "$cache" || { echo "cannot create $cache" >&2; return 1; }
    tarball=$(ls "$cache"/cjson_*.orig.tar.gz 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$tarball" ]; then
        have apt-get || { echo "apt-get not found" >&2; return 1; }
        dl=$(mktemp -d "$cache/dl.XXXXXX") || return 1
        # the machine's own Debian mirror and release, else deb.debian.org
        read -r uri suite < <(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' \
            'Identifier: Packages' 'Component: main' 2>/dev/null | grep -v -- '-\(updates\|security\|backports\) *$' | head -n 1)
        if [ -z "${uri:-}" ]; then
            uri=http://deb.debian.org/debian/
            suite=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-stable}")
        fi
        key=""
        [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] && key="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        echo "deb-src $key$uri $suite main" > "$dl/sources.list"
        mkdir -p "$dl/lists/partial" "$dl/cache"
        local opts=(-q -o "Dir::Etc::SourceList=$dl/sources.list" -o Dir::Etc::SourceParts=/nonexistent
            -o "Dir::State::Lists=$dl/lists" -o "Dir::Cache=$dl/cache" -o Acquire::Retries=0
            -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30)
        # as root apt drops to user _apt, which cannot write our folder
        [ "$(id -u)" -eq 0 ] && opts+=(-o APT::Sandbox::User=root)
        (cd "$dl" && apt-get "${opts[@]}" update && apt-get "${opts[@]}" source --download-only cjson) >"$dl/apt.log" 2>&1
        tarball=$(ls "$dl"/cjson_*.orig.tar.gz 2>/dev/null | head -n 1)
        if [ -z "$tarball" ]; then
            echo "apt-get could not download cJSON's source from $uri $suite (no network?): $(grep -m1 -E '^(W: Failed to fetch|E:)' "$dl/apt.log" | tr -s ' ')" >&2
            rm -rf "$dl"
            return 1
        fi
        mv -f "$tarball" "$cache/" # atomic: a concurrent run sees all or nothing
        tarball="$cache/$(basename "$tarball")"
        rm -rf "$dl"
    fi
    if ! mkdir -p "$T/cjson" || ! tar -xzf "$tarball" -C "$T/cjson"; then
        echo "cannot unpack $tarball" >&2
        return 1
    fi
    src=$(dirname "$(ls "$T"/cjson/*/cJSON.c 2>/dev/null | head -n 1)")
    [ -f "$src/cJSON.c" ] || { echo "no cJSON.c in $tarball" >&2; return 1; }
    echo "$src"
}

if ! have $MINGW-gcc; then
    why="$MINGW-gcc not installed (Debian package gcc-mingw-w64-x86-64)"
    skip mingw_header "$why"
    for p in "${PLUGINS[@]}"; do skip mingw_plugin_$p "$why"; done
    skip mingw_dvren_render "$why"
else
    check mingw_header "$MINGW-gcc -std=c11" \
        $MINGW-gcc -std=c11 -O2 $WARN -pedantic -I"$ROOT" -c "$T/impl.c" -o "$T/mingw_impl.o"

    for p in "${PLUGINS[@]}"; do
        c=mingw_plugin_$p
        log="$T/$c.log"
        if ! libs=$(mingw_plugin_libs $p); then
            skip $c "$p links $libs, which has no MinGW build here"
            continue
        fi
        if ! $MINGW-gcc -std=c11 -O2 $WARN -I"$ROOT" -shared -Wl,--no-undefined plugins/$p/*.c \
            -o "$T/$p.dll" $libs >"$log" 2>&1 || [ -s "$log" ]; then
            fail $c "$p.dll does not build cleanly" "$log"
            continue
        fi
        # the named exports: the lines after "[Ordinal/Name Pointer] Table"
        exports=$($MINGW-objdump -p "$T/$p.dll" 2>"$log" |
            awk '/\[Ordinal\/Name Pointer\] Table/ { on = 1; next } on && NF == 0 { on = 0 } on { print $NF }' | tr '\n' ' ')
        if [ "$exports" = "dvren_plugin_entry " ]; then
            pass $c
        elif [[ " $exports" == *" dvren_plugin_entry "* ]]; then
            fail $c "$p.dll exports more than dvren_plugin_entry: $exports(mark only the entry DVREN_PLUGIN_EXPORT)"
        else
            fail $c "$p.dll does not export dvren_plugin_entry (exports: ${exports:-none})" "$log"
        fi
    done

    c=mingw_dvren_render
    if [ ! -f /usr/include/stb/stb_image_write.h ]; then
        skip $c "stb headers not installed (Debian package libstb-dev)"
    elif ! cjson=$(fetch_cjson 2>"$T/cjson.err"); then
        skip $c "no cJSON source for Windows: $(head -n 1 "$T/cjson.err")"
    else
        mkdir -p "$T/inc/cjson" "$T/inc/stb"
        cp "$cjson/cJSON.h" "$T/inc/cjson/"
        cp /usr/include/stb/stb_image_write.h /usr/include/stb/stb_image.h "$T/inc/stb/"
        log="$T/$c.log"
        # third-party units without our warning set; ours with it
        if ! $MINGW-gcc -std=c11 -O2 -c "$cjson/cJSON.c" -o "$T/mingw_cjson.o" >"$log" 2>&1; then
            fail $c "cJSON.c does not build with $MINGW-gcc" "$log"
        elif ! $MINGW-gcc -std=c11 -O2 -I"$T/inc" -c tools/stb_impl.c -o "$T/mingw_stb.o" >"$log" 2>&1; then
            fail $c "tools/stb_impl.c does not build with $MINGW-gcc" "$log"
        else
            check $c "$MINGW-gcc dvren_render.exe" $MINGW-gcc -std=c11 -O2 $WARN -I"$ROOT" -I"$ROOT/tools" -I"$T/inc" \
                tools/dvren_render.c "$T/mingw_stb.o" "$T/mingw_cjson.o" -o "$T/dvren_render.exe"
        fi
    fi
fi

# ================================================================ clang
if ! have clang; then
    for p in "${PLUGINS[@]}"; do skip clang_plugin_$p "clang not installed"; done
    skip clang_dvren_render "clang not installed"
else
    for p in "${PLUGINS[@]}"; do
        check clang_plugin_$p "clang $p.so" clang -std=c11 -O2 $WARN -I"$ROOT" -shared -fPIC -fvisibility=hidden \
            -Wl,--no-undefined plugins/$p/*.c -o "$T/clang_$p.so" $(plugin_libs $p)
    done
    c=clang_dvren_render
    if [ ! -f /usr/include/cjson/cJSON.h ] || [ ! -f /usr/include/stb/stb_image_write.h ]; then
        skip $c "cJSON or stb headers not installed (Debian packages libcjson-dev, libstb-dev)"
    elif ! clang -std=c11 -O2 -c tools/stb_impl.c -o "$T/clang_stb.o" >"$T/$c.log" 2>&1; then
        fail $c "tools/stb_impl.c does not build with clang" "$T/$c.log"
    else
        check $c "clang dvren_render" clang -std=c11 -O2 $WARN -I"$ROOT" -I"$ROOT/tools" tools/dvren_render.c \
            "$T/clang_stb.o" -o "$T/clang_dvren_render" -lcjson -ldl -lm -lpthread
    fi
fi
[ "$nfail" -eq 0 ]
