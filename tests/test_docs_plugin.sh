#!/usr/bin/env bash
# tests/test_docs_plugin.sh - docs/plugins.md works as written.
#
# Extracts the files marked "<!-- file: NAME -->" from docs/plugins.md into a
# fresh folder outside the repository, runs the "<!-- build -->" command there
# (with -Wall -Wextra -Werror added, the include path pointed at this
# checkout), and renders the page's scene with dvren_render. Then checks what
# the renderer cannot fake: the alpha mask is a disc of the sphere's projected
# radius and centre, the colour channels arrive in the image, the parameter
# schema shows in --describe, the documented error and probe output appear.
# The per-sample files of the page are compiled as C11, as C++17 and, where
# libnvrtc is found, by NVRTC for sm_86 and sm_90.
#
# Run from the repository root: bash tests/test_docs_plugin.sh
# Needs: cc, awk, od, sed, grep; optional: c++ (or g++), nm, libnvrtc.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
N=test_docs_plugin
DOC=$ROOT/docs/plugins.md
B=${DVREN_BUILD:-build}
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
R=$B/dvren_render
CC=${CC:-cc}
failed=0

pass() { echo "PASS $N/$1"; }
# One line per result (messages from compilers are joined with " | ").
fail() { local k=$1; shift; echo "FAIL $N/$k: $(printf '%s' "$*" | sed -e ':a' -e 'N; $!ba' -e 's/\n/ | /g')"; failed=1; }
skip() { echo "SKIP $N/$1: $2"; }

# Prints the first ```text block after the first line equal to $2 in file $1.
text_after() {
  awk -v mark="$2" '
    !armed && $0 == mark { armed = 1; next }
    armed && !inb && /^```text/ { inb = 1; next }
    inb && /^```/ { exit }
    inb { print }' "$1"
}

if [ ! -f "$DOC" ]; then fail extract "docs/plugins.md does not exist"; exit 1; fi
if [ ! -x "$R" ]; then fail render "$R is not built (run ./build.sh first)"; exit 1; fi

T=$(mktemp -d "${TMPDIR:-/tmp}/dvren-docs-plugin.XXXXXX") || { fail setup "mktemp failed"; exit 1; }
trap 'rm -rf "$T"' EXIT
case "$T/" in "$ROOT"/*) fail setup "temporary folder $T is inside the repository"; exit 1 ;; esac

# ---- extract: every "<!-- file: NAME -->" block, and the build command
names=$(awk -v dir="$T" '
  /^<!-- file: [A-Za-z0-9_.-]+ -->$/ { name = $3; armed = 1; next }
  /^<!-- build -->$/ { name = ".build_command"; armed = 1; next }
  armed && !inb && /^```/ { inb = 1; out = dir "/" name; printf "" > out; next }
  inb && /^```/ { inb = 0; armed = 0; close(out); print name; next }
  inb { print > out }' "$DOC")
missing=""
for f in sphere_device.h sphere.c sphere.json .build_command; do
  [ -s "$T/$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
  fail extract "docs/plugins.md lacks marked blocks for:$missing (found: $(printf '%s\n' "$names" | tr '\n' ' '))"
  exit 1
fi
pass extract

# ---- build with the documented command, warnings as errors
cmd=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$T/.build_command" | grep -v '^[[:space:]]*$')
if [ "$(printf '%s\n' "$cmd" | wc -l)" -ne 1 ]; then
  fail build "the <!-- build --> block must hold one command, got: $cmd"
  exit 1
fi
case "$cmd" in
  "cc "*) ;;
  *) fail build "the documented command does not start with 'cc ': $cmd"; exit 1 ;;
esac
case "$cmd" in
  *"-I/path/to/dvren "*) ;;
  *) fail build "the documented command has no -I/path/to/dvren: $cmd"; exit 1 ;;
esac
cmd="$CC -Wall -Wextra -Werror ${cmd#cc }"
cmd=${cmd//\/path\/to\/dvren/$ROOT}
out=$(cd "$T" && eval "$cmd" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
  fail build "exit status $rc from: $cmd: $out"
  exit 1
elif [ -n "$out" ]; then
  fail build "the build printed something (warnings?): $out"
elif [ ! -f "$T/sphere.so" ]; then
  fail build "no sphere.so after: $cmd"
  exit 1
else
  pass build
fi

# ---- only dvren_plugin_entry is exported
if command -v nm >/dev/null 2>&1; then
  syms=$(nm -D --defined-only "$T/sphere.so" 2>/dev/null | awk '$2 ~ /^[TtWwiI]$/ { print $3 }' | sort | tr '\n' ' ')
  if [ "$syms" = "dvren_plugin_entry " ]; then pass exports; else fail exports "exported code symbols: '$syms'"; fi
else
  skip exports "nm not found"
fi

# ---- the per-sample files: C11, C++17, NVRTC
CXX=""
for c in ${CXX_CMD:-c++ g++ clang++}; do command -v "$c" >/dev/null 2>&1 && { CXX=$c; break; }; done
sed -n '/^\/\* >>device begin/,/^\/\* >>device end \*\//p' "$ROOT/dvren.h" > "$T/.vocabulary.h"
[ -s "$T/.vocabulary.h" ] || fail device_sources "no '>>device begin/end' section in dvren.h"

cat > "$T/.nvrtc_check.c" <<'EOF'
/* Compiles one CUDA C++ file with NVRTC (found with dlopen) and prints the
 * log. Exit 0: compiled; 1: did not; 77: no NVRTC; 2: usage or I/O. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*create_fn)(void**, const char*, const char*, int, const char* const*, const char* const*);
typedef int (*compile_fn)(void*, int, const char* const*);
typedef int (*logsize_fn)(void*, size_t*);
typedef int (*log_fn)(void*, char*);

int main(int argc, char** argv)
{
    static const char* const libs[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    const char* opts[16];
    void* lib = NULL;
    void* prog = NULL;
    char *src, *log;
    long n;
    size_t ls = 0;
    int i, no = 0, rc;
    FILE* f;
    create_fn create;
    compile_fn compile;
    logsize_fn logsize;
    log_fn getlog;
    if (argc < 2) return 2;
    for (i = 0; i < 3 && !lib; ++i) lib = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 77;
    *(void**)&create = dlsym(lib, "nvrtcCreateProgram");
    *(void**)&compile = dlsym(lib, "nvrtcCompileProgram");
    *(void**)&logsize = dlsym(lib, "nvrtcGetProgramLogSize");
    *(void**)&getlog = dlsym(lib, "nvrtcGetProgramLog");
    if (!create || !compile || !logsize || !getlog) return 77;
    f = fopen(argv[1], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    src = (char*)calloc((size_t)n + 1, 1);
    if (!src || fread(src, 1, (size_t)n, f) != (size_t)n) return 2;
    fclose(f);
    for (i = 2; i < argc && no < 15; ++i) opts[no++] = argv[i];
    opts[no++] = "--std=c++17";
    if (create(&prog, src, argv[1], 0, NULL, NULL) != 0) return 2;
    rc = compile(prog, no, opts);
    logsize(prog, &ls);
    log = (char*)calloc(ls + 1, 1);
    if (log && ls) getlog(prog, log);
    if (log) fputs(log, stdout);
    return rc == 0 ? 0 : 1;
}
EOF
nvrtc=""
if $CC -std=c11 -O1 -w "$T/.nvrtc_check.c" -o "$T/.nvrtc_check" -ldl >/dev/null 2>&1; then
  nvrtc=$T/.nvrtc_check
fi

for dev in $(cd "$T" && ls ./*_device.h 2>/dev/null); do
  dev=${dev#./}
  printf '#include "dvren.h"\n#include "%s"\n' "$dev" > "$T/.check_$dev.c"
  if o=$($CC -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$ROOT" -I"$T" "$T/.check_$dev.c" 2>&1); then
    pass "device_c11/$dev"
  else
    fail "device_c11/$dev" "$o"
  fi
  if [ -n "$CXX" ]; then
    cp "$T/.check_$dev.c" "$T/.check_$dev.cpp"
    if o=$($CXX -std=c++17 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$ROOT" -I"$T" "$T/.check_$dev.cpp" 2>&1); then
      pass "device_cxx17/$dev"
    else
      fail "device_cxx17/$dev" "$o"
    fi
  else
    skip "device_cxx17/$dev" "no C++ compiler (c++, g++, clang++)"
  fi
  if [ -z "$nvrtc" ]; then
    skip "device_nvrtc/$dev" "the NVRTC loader did not build"
    continue
  fi
  # NVRTC sees the vocabulary, then the file (#line: messages name the file's own lines)
  { cat "$T/.vocabulary.h"; printf '#line 1 "%s"\n' "$dev"; cat "$T/$dev"; } > "$T/.check_$dev.cu"
  for arch in sm_86 sm_90; do
    # 177: "declared but never referenced", raised by the vocabulary's unused helpers
    o=$("$nvrtc" "$T/.check_$dev.cu" --gpu-architecture=$arch --diag-suppress=177 2>&1)
    rc=$?
    if [ $rc -eq 77 ]; then
      skip "device_nvrtc/$dev/$arch" "libnvrtc not found"
    elif [ $rc -ne 0 ]; then
      fail "device_nvrtc/$dev/$arch" "$(printf '%s' "$o" | head -c 1500)"
    elif printf '%s' "$o" | grep -qi 'warning'; then
      fail "device_nvrtc/$dev/$arch" "warnings: $(printf '%s' "$o" | head -c 1500)"
    else
      pass "device_nvrtc/$dev/$arch"
    fi
  done
done

# ---- render the page's scene from its folder
render_out=$(cd "$T" && unset DVREN_PLUGIN_PATH && "$R" sphere.json --npy out -q 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
  fail render "dvren_render sphere.json --npy out: exit status $rc: $render_out"
  exit 1
fi
for f in sphere.png out_alpha.npy out_rgb.npy; do
  [ -s "$T/$f" ] || { fail render "no $f written"; exit 1; }
done
pass render

# ---- what the scene says (the disc check below follows from these)
S=$T/sphere.json
num() { sed -n "s/.*\"$1\": *\\(-\\{0,1\\}[0-9][0-9.eE+-]*\\).*/\\1/p" | head -n 1; }
vec3() { sed -n "s/.*\"$1\": *\\[\\([^]]*\\)\\].*/\\1/p" | head -n 1 | tr -d ' '; }
radius=$(num radius < "$S")
center=$(vec3 center < "$S")
color=$(vec3 color < "$S")
cam=$(grep '"camera"' "$S")
plan=$(grep '"plan"' "$S")
oheight=$(printf '%s\n' "$cam" | num height)
eye=$(printf '%s\n' "$cam" | vec3 eye)
target=$(printf '%s\n' "$cam" | vec3 target)
up=$(printf '%s\n' "$cam" | vec3 up)
W=$(printf '%s\n' "$plan" | num width)
H=$(printf '%s\n' "$plan" | num height)
ok_scene=1
for v in radius center color oheight eye target up W H; do
  [ -n "${!v}" ] || { fail scene "cannot read '$v' from sphere.json"; ok_scene=0; }
done
if [ $ok_scene = 1 ]; then
  if ! printf '%s\n' "$cam" | grep -q '"type": *"orthographic"' || [ "$up" != "0,1,0" ] ||
     [ "${eye%,*}" != "${target%,*}" ]; then
    fail scene "the disc check expects an orthographic camera looking down -z with up [0, 1, 0]" \
      "(eye $eye, target $target, up $up)"
    ok_scene=0
  fi
fi

# Reads a little-endian float32 .npy: prints "H W C" of its shape on the
# first line, then one value per line.
npy_values() { # file
  local f=$1 major hl off hdr
  if [ "$(head -c 6 "$f" | tail -c 5)" != "NUMPY" ]; then echo "bad-magic"; return; fi
  major=$(od -A n -t u1 -j 6 -N 1 "$f" | tr -d ' ')
  if [ "$major" = 1 ]; then
    hl=$(od -A n -t u2 -j 8 -N 2 "$f" | tr -d ' '); off=$((10 + hl))
  else
    hl=$(od -A n -t u4 -j 8 -N 4 "$f" | tr -d ' '); off=$((12 + hl))
  fi
  hdr=$(head -c "$off" "$f" | tail -c "$hl")
  case "$hdr" in *"'descr': '<f4'"*) ;; *) echo "not-f4"; return ;; esac
  printf '%s\n' "$hdr" | sed -n "s/.*'shape': *(\\([^)]*\\)).*/\\1/p" | tr -d ' ' | tr ',' ' '
  od -A n -t f4 -v -j "$off" "$f" | tr -s ' \t' '\n\n' | grep -v '^$'
}

if [ $ok_scene = 1 ]; then
  npy_values "$T/out_alpha.npy" > "$T/.alpha"
  npy_values "$T/out_rgb.npy" > "$T/.rgb"
  ashape=$(head -n 1 "$T/.alpha")
  rshape=$(head -n 1 "$T/.rgb")
  if [ "$ashape" != "$H $W" ] || [ "$rshape" != "$H $W 3" ]; then
    fail npy "shapes: alpha ($ashape), rgb ($rshape); expected ($H $W) and ($H $W 3)"
  else
    # Pixel (x, y) has its centre at world (ex + nx hw, ey + ny hh), nx and ny
    # in [-1, 1] (orthographic; pixel (0, 0) top-left; y down).
    # "Well inside" and "well outside" are 2 pixels from the projected circle.
    report=$(tail -n +2 "$T/.alpha" |
      awk -v W="$W" -v H="$H" -v oh="$oheight" -v eye="$eye" -v c="$center" -v r="$radius" '
      BEGIN { split(eye, e, ","); split(c, cc, ","); hh = oh / 2; hw = hh * W / H; px = oh / H; rp = r / px }
      {
        a = $1 + 0; i = n++; x = i % W; y = int(i / W)
        wx = e[1] + ((x + 0.5) * 2 / W - 1) * hw; wy = e[2] + (1 - (y + 0.5) * 2 / H) * hh
        rho = sqrt((wx - cc[1]) ^ 2 + (wy - cc[2]) ^ 2) / px
        at = sprintf("(%d, %d) alpha %g", x, y, a)
        if (rho < rp - 2) { nin++; if (!(a > 0.9) && !bin++) ein = at }
        if (rho > rp + 2) { nout++; if (!(a < 0.01) && !bout++) eout = at }
        if (a > 0.5) { area++; sx += wx; sy += wy }
      }
      END {
        expect = 3.14159265358979 * rp * rp
        printf "n %d\n", n
        printf "inside %d %d %s\n", nin, bin, ein
        printf "outside %d %d %s\n", nout, bout, eout
        printf "area %d %.1f %.4f\n", area, expect, area / expect
        if (area > 0) printf "centre %.3f %.3f\n", (sx / area - cc[1]) / px, (sy / area - cc[2]) / px
        else printf "centre nan nan\n"
      }')
    line() { printf '%s\n' "$report" | grep "^$1 "; }
    read -r _ count <<< "$(line n)"
    if [ "${count:-0}" -ne $((W * H)) ]; then
      fail npy "out_alpha.npy holds ${count:-0} values, expected $((W * H))"
    else
      read -r _ total nbad first <<< "$(line inside)"
      if [ "$total" -lt 100 ]; then fail disc/inside "only $total pixels well inside the disc: is the scene's disc too small?"
      elif [ "$nbad" -ne 0 ]; then fail disc/inside "$nbad of $total pixels well inside the disc have alpha <= 0.9; first $first"
      else pass disc/inside; fi
      read -r _ total nbad first <<< "$(line outside)"
      if [ "$total" -lt 100 ]; then fail disc/outside "only $total pixels well outside the disc"
      elif [ "$nbad" -ne 0 ]; then fail disc/outside "$nbad of $total pixels well outside the disc have alpha >= 0.01; first $first"
      else pass disc/outside; fi
      read -r _ area expect ratio <<< "$(line area)"
      if awk -v q="$ratio" 'BEGIN { exit !(q > 0.97 && q < 1.03) }'; then pass disc/area
      else fail disc/area "$area pixels with alpha > 0.5, pi r^2 = $expect pixels (ratio $ratio, allowed 0.97..1.03)"; fi
      read -r _ dx dy <<< "$(line centre)"
      if awk -v dx="$dx" -v dy="$dy" 'BEGIN { exit !(dx * dx + dy * dy < 0.25) }'; then pass disc/centre
      else fail disc/centre "the disc's centroid is off the projected centre by ($dx, $dy) pixels"; fi
    fi
    # Colour channels reach the image: a constant colour c composites to alpha * c.
    bad=$(awk -v col="$color" '
      BEGIN { split(col, c, ",") }
      NR == FNR { if (FNR > 1) a[FNR - 2] = $1 + 0; next }
      FNR > 1 {
        i = FNR - 2; p = int(i / 3); k = i % 3 + 1
        if (!(a[p] > 0.9)) next
        m++; want = a[p] * c[k]; d = $1 - want; if (d < 0) d = -d
        if (d > 1e-3 && !bad) bad = sprintf("pixel %d channel %d: %g, expected %g", p, k - 1, $1, want)
      }
      END { if (!m) print "no opaque pixels"; else if (bad) print bad }' "$T/.alpha" "$T/.rgb")
    if [ -z "$bad" ]; then pass colour; else fail colour "$bad"; fi
  fi
fi

# ---- the schema shows in --describe, found through DVREN_PLUGIN_PATH
desc=$(cd "$T" && DVREN_PLUGIN_PATH=$T "$R" --describe sphere -q 2>&1)
rc=$?
params=$(grep -o '\.name = "[a-z0-9_]*"' "$T/sphere.c" | sed 's/.*"\(.*\)"/\1/' | grep -vx sphere)
if [ $rc -ne 0 ]; then
  fail describe "dvren_render --describe sphere: exit status $rc: $desc"
elif ! printf '%s\n' "$desc" | grep -q "^field plugin 'sphere' "; then
  fail describe "no \"field plugin 'sphere'\" line in: $desc"
elif [ -z "$params" ]; then
  fail describe "no parameter names found in sphere.c"
else
  miss=""
  for p in $params; do printf '%s\n' "$desc" | grep -q "^  $p " || miss="$miss $p"; done
  if [ -n "$miss" ]; then fail describe "parameters not listed:$miss"; else pass describe; fi
  # the page shows this output: it must be what the program prints
  shown=$(text_after "$DOC" 'DVREN_PLUGIN_PATH=$PWD /path/to/dvren/build/dvren_render --describe sphere')
  if [ "$(printf '%s\n' "$shown" | sed 's/[[:space:]]*$//')" = "$(printf '%s\n' "$desc" | sed 's/[[:space:]]*$//')" ]; then
    pass describe/doc_matches
  else
    fail describe/doc_matches "the page's --describe output differs from the program's: $desc"
  fi
fi

# ---- the plugin loads by name through DVREN_PLUGIN_PATH (no "plugins" key)
sed '/"plugins"/d' "$S" > "$T/by_name.json"
o=$(cd "$T" && DVREN_PLUGIN_PATH=$T "$R" by_name.json -o by_name.png -q 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/by_name.png" ]; then pass search_path; else fail search_path "exit status $rc: $o"; fi

# ---- create() reports a bad parameter relation through host->fail, with a hint
sed 's/"radius": *[0-9.]*/"radius": 0.001/' "$S" > "$T/bad.json"
o=$(cd "$T" && unset DVREN_PLUGIN_PATH && "$R" bad.json -o bad.png -q 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
  fail errors "a radius below edge_width rendered"
elif ! printf '%s\n' "$o" | grep -q "sphere: parameter 'edge_width' = .* is larger than 'radius' = 0.001 (hint: "; then
  fail errors "unexpected message: $o"
elif [ -e "$T/bad.png" ]; then
  fail errors "a failed run left bad.png behind"
else
  pass errors
fi

# ---- the probe program prints what the page shows
if [ -s "$T/probe.c" ]; then
  if o=$(cd "$T" && $CC -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT" probe.c -o probe -ldl -lm -lpthread 2>&1); then
    po=$(cd "$T" && ./probe 2>/dev/null)
    rc=$?
    want=$'(0, 0, 0): density 10, colour 1 1 1\n(0.5, 0, 0): density 5, colour 1 1 1\n(0, 0, 2): density 0, colour 1 1 1'
    if [ $rc -ne 0 ]; then
      fail probe "exit status $rc"
    elif [ "$po" != "$want" ]; then
      fail probe "printed: $po"
    elif ! printf '%s\n' "$po" | while IFS= read -r l; do grep -qxF "$l" "$DOC" || exit 1; done; then
      fail probe "the page does not show the probe's output"
    else
      pass probe
    fi
  else
    fail probe "does not build: $o"
  fi
else
  skip probe "the page has no probe.c"
fi

exit $failed
