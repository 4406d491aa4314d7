#!/usr/bin/env bash
# tests/test_cli.sh - the dvren_render command line: what it writes, and how it
# fails (exit status, a message that names the key or file and says what is
# wrong, and no file left behind: outputs are written only after a
# successful render, each atomically).
#
# Run from the repository root after ./build.sh: bash tests/test_cli.sh.
# Uses $DVREN_BUILD/dvren_render (default build/) by absolute path, each case
# in a fresh working folder; DVREN_PLUGIN_PATH is unset, so the program must
# find its plugins beside itself (<build>/plugins). Prints one
# "PASS|FAIL|SKIP test_cli/<case>" line per case; a FAIL line is followed by
# the first lines of the program's stderr, indented. Needs no Python.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_render
NAME=test_cli
unset DVREN_PLUGIN_PATH

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-cli.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
nfail=0

# ---------------------------------------------------------------- helpers
. "$(dirname "$0")/shell_harness.sh" # begin, problem, finish, run, expect_rc
# Everything under the working folder, one path a line.
snapshot() { (cd "$W" && find . -mindepth 1 | LC_ALL=C sort); }
# no_new_files BEFORE: nothing appeared in the working folder since snapshot BEFORE.
no_new_files() {
    local after
    after=$(snapshot)
    [ "$1" = "$after" ] || problem "left files behind: $(comm -13 <(echo "$1") <(echo "$after") | tr "\n" " ")"
}
# run_fails ARGS...: runs it, expecting failure without a crash and without
# any new file (no output, no *.tmp*, no folder) in the working folder.
run_fails() {
    local before
    before=$(snapshot)
    run "$@"
    if [ "$RC" -eq 0 ]; then
        problem "exit status 0, expected failure"
    elif [ "$RC" -ge 128 ]; then
        problem "crashed (exit status $RC)"
    fi
    no_new_files "$before"
}
run_ok() {
    run "$@"
    [ "$RC" -eq 0 ] || problem "exit status $RC, expected 0"
}
# stderr_has REGEX WHAT: the error message must match (extended regex, case-insensitive).
stderr_has() { grep -qiE -- "$1" "$ERR" || problem "stderr does not mention $2"; }
stdout_has() { grep -qiE -- "$1" "$OUT" || problem "stdout does not mention $2"; }

# png_check FILE WIDTH HEIGHT DEPTH COLOUR_TYPE: signature and IHDR
# (PNG specification, 5.2 and 11.2.2: length, "IHDR", width, height
# big-endian, bit depth, colour type 2 = RGB, 6 = RGBA).
png_check() {
    local f=$W/$1 b
    [ -f "$f" ] || { problem "$1 was not written"; return; }
    [ "$(od -A n -t x1 -N 8 "$f" | tr -d ' \n')" = 89504e470d0a1a0a ] || { problem "$1 has no PNG signature"; return; }
    read -r -a b <<<"$(od -A n -t u1 -j 8 -N 18 "$f" | tr '\n' ' ')"
    [ "${#b[@]}" -eq 18 ] || { problem "$1 is too short for an IHDR"; return; }
    [ "${b[4]} ${b[5]} ${b[6]} ${b[7]}" = "73 72 68 82" ] || { problem "$1: first chunk is not IHDR"; return; }
    local w=$(((b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11]))
    local h=$(((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]))
    [ "$w x $h" = "$2 x $3" ] || problem "$1 is $w x $h, expected $2 x $3"
    [ "${b[16]}" = "$4" ] || problem "$1 has bit depth ${b[16]}, expected $4"
    [ "${b[17]}" = "$5" ] || problem "$1 has colour type ${b[17]}, expected $5"
}
# npy_check FILE SHAPE: magic "\x93NUMPY" and the header's shape, e.g. "(24, 32, 3)"
# (NEP 1, the .npy format; spaces are ignored in the comparison).
npy_check() {
    local f=$W/$1 shape
    [ -f "$f" ] || { problem "$1 was not written"; return; }
    [ "$(od -A n -t x1 -N 6 "$f" | tr -d ' \n')" = 934e554d5059 ] || { problem "$1 has no .npy magic"; return; }
    shape=$(head -c 1024 "$f" | tr -d '\000' | grep -a -o "'shape': *([^)]*)" | head -n 1 | tr -d ' ')
    [ "$shape" = "'shape':$2" ] || problem "$1 has ${shape:-no shape}, expected $2"
}

# scene FILE [sed expressions...]: writes the small valid scene (procedural
# 16^3 Marschner-Lobb volume, 32x24 image, img.png) into $W, edited by sed.
scene() {
    local f=$1
    shift
    cat >"$W/$f" <<'EOF'
{
  "field": {"plugin": "dense_grid", "params": {"generator": "marschner_lobb", "dims": [16, 16, 16]}},
  "shader": {"plugin": "emission_absorption", "params": {"sigma_scale": 20, "tf_opacity": [[0, 0], [1, 1]]}},
  "sampler": {"plugin": "uniform", "params": {"jitter": false}},
  "camera": {"type": "perspective", "eye": [2.6, 1.8, 2.9], "target": [0, 0, 0], "up": [0, 0, 1], "fov_y_deg": 40},
  "plan": {"width": 32, "height": 24, "spp": 1},
  "output": {"png": "img.png"}
}
EOF
    local e
    for e in "$@"; do sed -i -e "$e" "$W/$f"; done
}

# ---------------------------------------------------------------- what it writes
begin no_args
run_ok
png_check out/default.png 512 512 8 2
finish

begin scene_png
scene s.json
run_ok s.json
png_check img.png 32 24 8 2
finish

begin scene_png16
scene s.json
run_ok s.json --png16 -o deep.png
png_check deep.png 32 24 16 2
[ -e "$W/img.png" ] && problem "-o did not replace the scene's output.png (img.png written too)"
finish

begin scene_alpha
scene s.json
run_ok s.json --alpha
png_check img.png 32 24 8 6
finish

begin scene_npy
scene s.json
mkdir "$W/np"
run_ok s.json --npy np/r
npy_check np/r_rgb.npy "(24,32,3)"
for o in alpha depth transmittance hit samples; do npy_check np/r_$o.npy "(24,32)"; done
finish

# ---------------------------------------------------------------- how it fails
begin json_syntax
printf '{\n  "plan": {"width": 32, "height": 24},\n  "output": {"png": "img.png",,}\n}\n' >"$W/bad.json"
run_fails bad.json
stderr_has 'bad\.json' "the scene file"
stderr_has 'line 3' "the line of the error (line 3)"
stderr_has 'syntax' "a syntax error"
finish

begin wrong_type_plan
scene s.json 's/"width": 32/"width": "big"/'
run_fails s.json
stderr_has 'plan' "the object (plan)"
stderr_has 'width' "the key (width)"
stderr_has 'number' "the expected type (a number)"
finish

begin wrong_type_dims
scene s.json 's/"dims": \[16, 16, 16\]/"dims": "x"/'
run_fails s.json
stderr_has 'field\.params\.dims' "the key (field.params.dims)"
stderr_has 'array' "the expected type (an array of numbers)"
finish

begin unknown_key_top
scene s.json 's/"plan":/"plna": {}, "plan":/'
run_fails s.json
stderr_has "plna" "the unknown key (plna)"
stderr_has 'known.*camera.*plan|known.*plan.*camera' "the known keys (camera, plan, ...)"
finish

begin unknown_key_camera
scene s.json 's/"fov_y_deg": 40/"fov_deg": 40/'
run_fails s.json
stderr_has 'camera' "the object (camera)"
stderr_has 'fov_deg' "the unknown key (fov_deg)"
stderr_has 'known.*fov_y_deg' "the known keys (fov_y_deg, ...)"
finish

begin unknown_key_field_params
scene s.json 's/"generator":/"fiel": "x.nrrd", "generator":/'
run_fails s.json
stderr_has 'field\.params\.fiel|fiel' "the unknown key (fiel)"
stderr_has 'known.*file' "the known parameters (file, ...)"
finish

begin missing_plugin
scene s.json 's/"plugin": "dense_grid"/"plugin": "no_such_field"/'
run_fails s.json
stderr_has 'no_such_field' "the plugin (no_such_field)"
stderr_has 'DVREN_PLUGIN_PATH' "DVREN_PLUGIN_PATH"
stderr_has 'not found|cannot find|no such' "that it was not found"
finish

begin output_dir_missing_scene
scene s.json 's|"png": "img.png"|"png": "nodir/sub/img.png"|'
run_fails s.json
stderr_has 'nodir/sub' "the folder (nodir/sub)"
stderr_has 'does not exist|no such' "that the folder does not exist"
finish

begin output_dir_missing_option
scene s.json
run_fails s.json -o nodir/x.png
stderr_has 'nodir' "the folder (nodir)"
stderr_has 'does not exist|no such' "that the folder does not exist"
finish

begin output_dir_missing_npy
scene s.json
run_fails s.json --npy nodir/r
stderr_has 'nodir' "the folder (nodir)"
stderr_has 'does not exist|no such' "that the folder does not exist"
finish

# --device cuda must render on CUDA or fail; a CPU render would be a silent
# fallback. Without a GPU (CI) it must fail saying why; with one, success is
# accepted only if the log says device cuda.
begin device_cuda
scene s.json
before=$(snapshot)
run s.json --device cuda
if [ "$RC" -eq 0 ]; then
    grep -qiE 'device cuda' "$ERR" || problem "exit status 0 without a CUDA device in the log (a silent CPU fallback?)"
else
    [ "$RC" -ge 128 ] && problem "crashed (exit status $RC)"
    no_new_files "$before"
    stderr_has 'cuda' "CUDA"
    stderr_has 'no nvidia driver|no (usable|cuda)[a-z -]*(gpu|device)|only the cpu|not (built|available|compiled|supported)|backend' \
        "why CUDA cannot be used"
fi
finish

begin missing_field_file
scene s.json 's/"generator": "marschner_lobb", "dims": \[16, 16, 16\]/"file": "missing_volume.nrrd"/'
run_fails s.json
stderr_has 'missing_volume\.nrrd' "the file (missing_volume.nrrd)"
stderr_has 'cannot open|no such file|does not exist|not found' "that it cannot be opened"
finish

# Numbers too large for an integer (1e300; 1e999 parses as inf) are errors
# naming the key, never cast unchecked.
for kv in 'width:"width": 1e300' 'height:"height": 1e999' 'spp:"spp": 1e300' 'seed:"seed": 1e300' 'seed:"seed": 0.5' \
    'roi:"roi": [0, 0, 1e300, 4]' 'roi:"roi": [-1e999, 0, 4, 4]'; do
    key=${kv%%:*}
    begin "huge_number_$key"
    plan='"width": 32, "height": 24, "spp": 1'
    case $key in
    width | height | spp) plan=$(echo "$plan" | sed "s/\"$key\": [0-9]*/${kv#*:}/") ;;
    *) plan="$plan, ${kv#*:}" ;;
    esac
    scene s.json "s/\"plan\": {.*}/\"plan\": {$plan}/"
    run_fails s.json
    stderr_has "plan.*'$key'" "the key ($key)"
    stderr_has 'integer|number' "what is expected"
    finish
done
for kv in 'threads:"threads": 1e300,' 'index:"gpu": {"index": 1e300},'; do
    key=${kv%%:*}
    begin "huge_number_$key"
    scene s.json "s/^{/{ ${kv#*:}/"
    run_fails s.json
    stderr_has "'$key' must be .*integer" "the key ($key) and what is expected"
    finish
done

# A render whose buffers cannot fit is refused before anything is allocated,
# with the estimate (32768^2 pixels with every output: about 60 GiB).
begin memory_refused
avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null)
if [ -n "$avail_kib" ] && [ "$avail_kib" -gt 60000000 ]; then
    echo "SKIP $NAME/memory_refused: this machine has more than 60 GB available"
else
    scene s.json
    run_fails s.json --width 32768 --height 32768 --npy big
    stderr_has 'needs [0-9.]+ GiB.*[0-9.]+ GiB available' "the estimate and what is available"
    finish
fi

begin threads_zero
scene s.json 's/^{/{ "threads": 1,/'
run_ok s.json --threads 0 -q
png_check img.png 32 24 8 2
finish

# No camera (or "camera": "auto") frames the field's box; a shader preset
# places a transfer function on the field's value range.
begin auto_camera_preset
scene s.json '/"camera"/d' 's/"shader": {.*}},$/"shader": {"preset": "auto"},/'
run_ok s.json
png_check img.png 32 24 8 2
stderr_has 'preset placed on the field.s value range' "the value range"
finish

begin bad_preset
scene s.json 's/"shader": {.*}},$/"shader": {"preset": "ct_skinn"},/'
run_fails s.json
stderr_has 'shader\.preset' "the key (shader.preset)"
stderr_has 'ct_skinn.*auto, ct_skin, ct_bone, mr' "the presets"
finish

# --check-plugin: NVRTC compiles every combination with the plugin, no GPU
begin check_plugin
run --check-plugin uniform --arch sm_86,sm_90 -q
if [ "$RC" -ne 0 ] && grep -qiE 'nvrtc' "$OUT" "$ERR" && ! grep -q '^ok ' "$OUT"; then
    echo "SKIP $NAME/check_plugin: no NVRTC here ($(grep -m 1 -i nvrtc "$OUT" "$ERR" | cut -c1-100))"
else
    [ "$RC" -eq 0 ] || problem "exit status $RC, expected 0"
    stdout_has '^ok dense_grid \+ emission_absorption \+ uniform sm_86' "the sm_86 line"
    stdout_has '^ok dense_grid \+ emission_absorption \+ uniform sm_90' "the sm_90 line"
    finish
fi
# a saliency model's own kernels (dvren.host.cuda/1), for every shipped model with device code
for m in spectral_residual render_error; do
begin check_plugin_$m
run --check-plugin $m --arch sm_86,sm_90 -q
if [ "$RC" -ne 0 ] && grep -qiE 'nvrtc' "$OUT" "$ERR" && ! grep -q '^ok ' "$OUT"; then
    echo "SKIP $NAME/check_plugin_$m: no NVRTC here"
else
    [ "$RC" -eq 0 ] || problem "exit status $RC, expected 0: $(head -c 300 "$OUT")"
    stdout_has "^ok $m sm_86 \\(its kernels\\)" "the sm_86 line"
    stdout_has "^ok $m sm_90 \\(its kernels\\)" "the sm_90 line"
    finish
fi
done
begin check_plugin_unknown
run_fails --check-plugin no_such_plugin -q
stderr_has 'no_such_plugin' "the plugin"
finish

# ---------------------------------------------------------------- informational options
# stdout holds the answer only: the log ([env], [step] lines) goes to stderr
begin describe
run_ok --describe dense_grid
stdout_has 'generator' "the parameter 'generator'"
stdout_has 'storage' "the parameter 'storage'"
grep -qE '^\[|\[(env|step|timer)\]' "$OUT" && problem "stdout has log lines: $(grep -m 1 -E '^\[' "$OUT")"
grep -qvE '^(field|shader|sampler) plugin |^  [a-z0-9_]+ |^      ' "$OUT" && problem "stdout has a line that is not the schema: $(grep -m 1 -vE '^(field|shader|sampler) plugin |^  [a-z0-9_]+ |^      ' "$OUT")"
finish

begin list_plugins
run_ok --list-plugins
for p in dense_grid emission_absorption uniform; do stdout_has "$p" "the plugin $p"; done
grep -qE '^\[|\[(env|step|timer)\]' "$OUT" && problem "stdout has log lines: $(grep -m 1 -E '^\[' "$OUT")"
grep -qvE '^(field|shader|sampler|saliency|registration) +[a-z0-9_]+ |^         ' "$OUT" && problem "stdout has a line that is not a plugin: $(grep -m 1 -vE '^(field|shader|sampler|saliency|registration) +[a-z0-9_]+ |^         ' "$OUT")"
finish

begin help
run_ok --help
stdout_has 'usage' "usage"
finish

begin gradcheck_help
(cd "$W" && "$B/dvren_gradcheck" --help) >"$OUT" 2>"$ERR"
RC=$?
[ "$RC" -eq 0 ] || problem "exit status $RC"
stdout_has '^usage: dvren_gradcheck' "its own usage"
finish

begin unknown_option
run_fails --no-such-option
stderr_has '--no-such-option' "the option"
finish

# ---------------------------------------------------------------- --gradcheck / dvren_gradcheck
# The gradient check of a scene's plugin combination: figures on stdout, exit
# 0 under the 1e-3 bar, no file written; a combination without
# differentiable parameters is an error that says why.
begin gradcheck_f32_grid
scene s.json 's/"dims": \[16, 16, 16\]/"dims": [16, 16, 16], "storage": "f32"/'
before=$(snapshot)
run_ok s.json --gradcheck --width 8 --height 8 --seed 7 -q
stdout_has 'gradcheck s\.json: 2 parameters .* 8x8, spp 1, seed 7: checked [1-9][0-9]* .*fd_error [0-9.e+-]+ \(.*\) f32_error [0-9.e+-]+ .*: ok$' "the figures and 'ok'"
no_new_files "$before"
finish

begin gradcheck_tool_name
if [ ! -x "$B/dvren_gradcheck" ]; then
    problem "$B/dvren_gradcheck is not built"
else
    scene s.json
    (cd "$W" && "$B/dvren_gradcheck" s.json -q) >"$OUT" 2>"$ERR"
    RC=$?
    [ "$RC" -eq 0 ] || problem "exit status $RC, expected 0"
    stdout_has 'gradcheck s\.json: 2 parameters .* 24x24, spp 1, seed 1: .*: ok$' "the grid's and the transfer function's check"
fi
finish

begin gradcheck_no_parameters
scene s.json 's/"generator": "marschner_lobb", "dims": \[16, 16, 16\]/"generator": "peer", "dims": [8, 8, 8], "storage": "u8"/' \
    's/"sigma_scale": 20, "tf_opacity": \[\[0, 0\], \[1, 1\]\]/"sigma_scale": 20, "mode": "channels"/'
run_fails s.json --gradcheck
[ "$RC" -eq 1 ] || problem "exit status $RC, expected 1"
stderr_has 'no differentiable parameter.*storage.*f32' "why there is nothing to check"
finish

# ---------------------------------------------------------------- examples/minimal.c
# The example renders the CT head as its header comment says; it must light a
# good share of the image (the head covers about 40% of it), and without the
# data it must fail with a message naming the file, not write an empty image.
begin minimal_example
CT=${DVREN_DATA:-$ROOT/../shared/data}/ct_head/quarter.nhdr
if [ ! -x "$B/minimal" ]; then
    problem "$B/minimal is not built"
    finish
elif [ ! -f "$CT" ]; then
    echo "SKIP $NAME/minimal_example: no CT head at $CT"
else
    (cd "$W" && "$B/minimal" "$CT" head.png) >"$OUT" 2>"$ERR"
    RC=$?
    [ "$RC" -eq 0 ] || problem "exit status $RC"
    lit=$(sed -n 's/^wrote head.png: \([0-9.]*\)% of the pixels lit$/\1/p' "$OUT")
    [ -n "$lit" ] || problem "no 'wrote head.png: N% of the pixels lit' line"
    [ -n "$lit" ] && awk -v l="$lit" 'BEGIN { exit !(l > 25 && l < 70) }' || problem "lit share $lit% is not in 25..70%"
    [ "$(od -A n -t x1 -N 8 "$W/head.png" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a ] || problem "head.png is not a PNG"
    before=$(snapshot)
    (cd "$W" && "$B/minimal" "$W/no_such_volume.nhdr" none.png) >"$OUT" 2>"$ERR"
    RC=$?
    [ "$RC" -ne 0 ] || problem "a missing volume gave exit status 0"
    stderr_has 'no_such_volume\.nhdr' "the missing file"
    no_new_files "$before"
    finish
fi

# ---------------------------------------------------------------- profiling and replay
# --profile writes per-stage timings, the samples taken and rays/s; the
# samples must add up to what the samples output holds
begin profile
run --width 40 --height 30 -q -o a.png --profile prof.json --npy a
[ "$RC" -eq 0 ] || problem "exit status $RC"
for k in '"stages_ms"' '"render"' '"scene"' '"rays":' '"samples":' '"rays_per_s"' '"peak_host_bytes"'; do
    grep -q "$k" "$W/prof.json" 2>/dev/null || problem "prof.json has no $k"
done
rays=$(sed -n 's/.*"rays":[[:space:]]*\([0-9.e+]*\).*/\1/p' "$W/prof.json")
[ "$rays" = 4800 ] || problem "rays $rays, want 40 x 30 x 4 = 4800"
if command -v python3 >/dev/null; then
    python3 - "$W" <<'PY' >/dev/null 2>&1 || problem "samples in prof.json differ from the sum of a_samples.npy"
import json, sys, struct
w = sys.argv[1]
p = json.load(open(w + "/prof.json"))
b = open(w + "/a_samples.npy", "rb").read()
hl = struct.unpack("<H", b[8:10])[0]
n = sum(struct.unpack("<%dI" % ((len(b) - 10 - hl) // 4), b[10 + hl:]))
assert p["samples"] == n and n > 0, (p["samples"], n)
PY
fi
finish

# --record writes what makes the render repeatable beside the output;
# --replay renders it again (from another folder) and finds rgb bitwise the
# same; a record whose fingerprint was changed is reported (exit 3)
begin record_replay
run --width 32 --height 24 --seed 7 -q -o r.png --record
[ "$RC" -eq 0 ] || problem "exit status $RC"
[ -f "$W/r.png.replay.json" ] || problem "no r.png.replay.json"
for k in '"dvren"' '"plugins"' '"version"' '"device"' '"seed"' '"rgb_fnv1a64"'; do
    grep -q "$k" "$W/r.png.replay.json" 2>/dev/null || problem "the record has no $k"
done
(cd "$TOP" && "$BIN" --replay "$W/r.png.replay.json" -q) >"$OUT" 2>"$ERR"
RC=$?
[ "$RC" -eq 0 ] || problem "replay exit status $RC"
grep -q 'bitwise the same' "$OUT" || problem "replay does not say 'bitwise the same': $(head -c 200 "$OUT")"
sed 's/"rgb_fnv1a64":[[:space:]]*"[0-9a-f]*"/"rgb_fnv1a64": "0123456789abcdef"/' "$W/r.png.replay.json" > "$W/bad.json"
(cd "$TOP" && "$BIN" --replay "$W/bad.json" -q) >"$OUT" 2>"$ERR"
RC=$?
[ "$RC" -eq 3 ] || problem "a changed fingerprint gave exit status $RC, not 3"
grep -q 'DIFFERS' "$OUT" || problem "no 'DIFFERS' for a changed fingerprint"
printf '{"scene": 1}' > "$W/junk.json"
(cd "$TOP" && "$BIN" --replay "$W/junk.json" -q) >"$OUT" 2>"$ERR"
RC=$?
[ "$RC" -eq 1 ] || problem "a record without a scene gave exit status $RC"
stderr_has 'junk\.json: not a replay record' "the file and the problem"
finish

# --log-json: every log line on stderr is one JSON object
begin log_json
run --width 16 --height 16 -o j.png --log-json
[ "$RC" -eq 0 ] || problem "exit status $RC"
[ -s "$ERR" ] || problem "no log lines"
bad=$(grep -v '^{"time_ms": [0-9.]*, "level": "[a-z]*", "tag": "[a-z]*", "message": ".*"}$' "$ERR" | head -n 1)
[ -z "$bad" ] || problem "not a JSON log line: $bad"
finish

[ "$nfail" -eq 0 ]
