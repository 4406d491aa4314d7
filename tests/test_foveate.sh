#!/usr/bin/env bash
# tests/test_foveate.sh - the foveated-rendering pipeline tool dvren_foveate
# (tools/dvren_foveate.c, tools/dvren_foveate.h) on the CPU: what each stage
# writes (names, formats, sizes), the log's tags, the preview's bitwise
# reproducibility, a budget that follows the importance map, model
# combination, and how it fails (a missing artefact between stages, --device
# cuda without a GPU, bad configuration values, unknown models): exit status
# != 0, an [ERROR] line that names the problem, and no artefact left behind.
#
# Run from the repository root after ./build.sh: bash tests/test_foveate.sh.
# The scene is procedural (dense_grid's Marschner-Lobb generator, 32^3) and
# small (48 x 32 final, 32 x 48 preview... every run takes well under a
# second), and the saliency model is the test's own "mock_luma" (a plugin
# compiled here from the source below: the preview's luminance, to a
# power), so that the test needs neither data nor the shipped models; with
# build/plugins/render_error.so present, it is combined with mock_luma once,
# and with $DVREN_DATA the CT head example runs once at a tiny size.
# Prints one "PASS|FAIL|SKIP test_foveate/<case>" line per case. Needs no Python.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=${DVREN_BUILD:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
BIN=$B/dvren_foveate
NAME=test_foveate
CC=${CC:-cc}

if [ ! -x "$BIN" ]; then
    echo "FAIL $NAME/binary: $BIN is not built (run ./build.sh first)"
    exit 1
fi
TOP=$(mktemp -d "${TMPDIR:-/tmp}/dvren-foveate.XXXXXX") || { echo "FAIL $NAME/setup: mktemp failed"; exit 1; }
trap 'rm -rf "$TOP"' EXIT
nfail=0

# ---------------------------------------------------------------- the test's saliency model
mkdir -p "$TOP/plugins"
cat > "$TOP/mock_luma.c" <<'EOF'
/* saliency model "mock_luma": map = (Y / max Y) ^ power, Y the Rec. 709
 * luminance of the preview (host memory only); "fail": compute() fails. */
#include "dvren.h"
#include <math.h>

typedef struct luma { double power; int fail; } luma;

static const dvren_param_desc luma_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "power", .doc = "exponent", .unit = "", .default_number = 1.0,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE, .min_value = 0.0),
    DVREN_PARAM(.type = DVREN_PARAM_BOOL, .name = "fail", .doc = "fail in compute()", .unit = "", .default_number = 0),
};
static dvren_status luma_create(const dvren_host* h, const dvren_params* p, void** out)
{
    luma* l = (luma*)h->alloc(h, sizeof *l);
    if (!l) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    l->power = h->param_number(p, "power");
    l->fail = h->param_number(p, "fail") != 0.0;
    *out = l;
    return DVREN_OK;
}
static void luma_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(luma)); }
static dvren_status luma_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h; (void)inst;
    info->block_size = 0;
    return DVREN_OK;
}
static dvren_status luma_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h; (void)inst; (void)buffers; (void)block;
    return DVREN_OK;
}
static dvren_status luma_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in, float* map)
{
    const luma* l = (const luma*)inst;
    size_t n = (size_t)in->width * in->height, i;
    float mx = 0.0f;
    if (l->fail) return h->fail(h, DVREN_ERROR_IO, NULL, "asked to fail (params.fail)");
    if (in->memory != DVREN_MEMORY_HOST) return h->fail(h, DVREN_ERROR_UNSUPPORTED, NULL, "host memory only");
    for (i = 0; i < n; ++i) {
        float y = 0.2126f * in->rgb[3 * i] + 0.7152f * in->rgb[3 * i + 1] + 0.0722f * in->rgb[3 * i + 2];
        map[i] = y > 0.0f ? y : 0.0f;
        mx = map[i] > mx ? map[i] : mx;
    }
    for (i = 0; i < n; ++i) map[i] = mx > 0.0f ? (float)pow(map[i] / mx, l->power) : 0.0f;
    return DVREN_OK;
}
static const dvren_instance_iface luma_inst = {.struct_size = sizeof(dvren_instance_iface), .create = luma_create,
                                               .destroy = luma_destroy, .describe = luma_describe, .bind = luma_bind};
static const dvren_saliency_iface luma_sal = {.struct_size = sizeof(dvren_saliency_iface), .wants = 0, .flags = 0,
                                              .compute = luma_compute};
DVREN_PLUGIN_INTERFACES(luma_get_interface, luma_inst, DVREN_IFACE_SALIENCY, luma_sal)
static const dvren_plugin_desc luma_desc = {.struct_size = sizeof(dvren_plugin_desc), .kind = DVREN_PLUGIN_SALIENCY,
                                            .name = "mock_luma", .version = 1u << 16, .summary = "test: luminance",
                                            .params = luma_params, .param_count = 2,
                                            .get_interface = luma_get_interface};
DVREN_PLUGIN_LIBRARY(&luma_desc)
EOF
if ! $CC -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT" -shared -fPIC -fvisibility=hidden "$TOP/mock_luma.c" \
        -o "$TOP/plugins/mock_luma.so" -lm 2>"$TOP/mock.log"; then
    echo "FAIL $NAME/mock_plugin: the test's saliency model does not build:"
    sed 's/^/    /' "$TOP/mock.log" | head -n 10
    exit 1
fi
# the test's model on the path; the engine's plugins are found beside the program
export DVREN_PLUGIN_PATH=$TOP/plugins

# ---------------------------------------------------------------- the scene
cat > "$TOP/scene.json" <<'EOF'
{
  "field":   {"plugin": "dense_grid", "params": {"generator": "marschner_lobb", "dims": [32, 32, 32]}},
  "shader":  {"plugin": "emission_absorption", "params": {
      "sigma_scale": 60, "shading": true, "light_dir": [0.3, 0.5, 0.8],
      "tf_opacity": [[0, 0], [0.49, 0], [0.5, 1], [1, 1]],
      "tf_color":   [[0.45, 0.95, 0.55, 0.2], [0.55, 0.9, 0.35, 0.15]]}},
  "sampler": {"plugin": "uniform", "params": {"jitter": true}},
  "camera":  {"type": "perspective", "eye": [2.2, -2.2, 2.0], "target": [0, 0, -0.1], "up": [0, 0, 1], "fov_y_deg": 38},
  "plan":    {"width": 48, "height": 32, "seed": 3, "step": 0.02},
  "foveate": {"models": ["mock_luma"], "preview_size": 32, "preview_spp": 4, "close": 3, "blur": 5,
              "min_spp": 1, "max_spp": 6}
}
EOF
SCENE=$TOP/scene.json

# ---------------------------------------------------------------- helpers
. "$(dirname "$0")/shell_harness.sh" # begin, problem, finish, run, expect_rc
run_ok() {
    run "$@"
    [ "$RC" -eq 0 ] || problem "exit status $RC, expected 0"
}
# Every file under the working folder except the pipeline's log, one a line.
snapshot() { (cd "$W" && find . -mindepth 1 -type f ! -name dvren_pipeline.log | LC_ALL=C sort); }
# run_fails ARGS...: failure (not a crash), an [ERROR] line, and no new file but the log.
run_fails() {
    local before after
    before=$(snapshot)
    run "$@"
    if [ "$RC" -eq 0 ]; then
        problem "exit status 0, expected failure"
    elif [ "$RC" -ge 128 ]; then
        problem "crashed (exit status $RC)"
    fi
    grep -q "^\[ERROR\] " "$ERR" || problem "no [ERROR] line on stderr"
    after=$(snapshot)
    [ "$before" = "$after" ] || problem "left files behind: $(comm -13 <(echo "$before") <(echo "$after") | tr "\n" " ")"
}
# err_has TEXT: the [ERROR] line mentions TEXT
err_has() { grep "^\[ERROR\] " "$ERR" | grep -qF -- "$1" || problem "the error does not mention '$1'"; }
# PNG header checks: png_is FILE WIDTH HEIGHT BITS
png_is() {
    local f=$1 sig w h d
    [ -f "$f" ] || { problem "$(basename "$f") missing"; return; }
    sig=$(od -An -tx1 -N8 "$f" | tr -d ' \n')
    [ "$sig" = 89504e470d0a1a0a ] || { problem "$(basename "$f"): not a PNG (signature $sig)"; return; }
    w=$(od -An -tu1 -j16 -N4 "$f" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
    h=$(od -An -tu1 -j20 -N4 "$f" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
    d=$(od -An -tu1 -j24 -N1 "$f" | tr -d ' ')
    [ "$w" = "$2" ] && [ "$h" = "$3" ] || problem "$(basename "$f") is $w x $h, expected $2 x $3"
    [ "$d" = "$4" ] || problem "$(basename "$f") has bit depth $d, expected $4"
}
# exr_is FILE: OpenEXR magic 0x762f3101 (little-endian bytes 76 2f 31 01), version 2
exr_is() {
    local m
    [ -f "$1" ] || { problem "$(basename "$1") missing"; return; }
    m=$(od -An -tx1 -N5 "$1" | tr -d ' \n')
    [ "$m" = 762f310102 ] || problem "$(basename "$1"): no OpenEXR magic/version (got $m)"
}
# npy_is FILE "SHAPE" [DESCR]: NumPy magic, dtype and the shape in its header, e.g. "(32, 48, 3)"
npy_is() {
    local hdr
    [ -f "$1" ] || { problem "$(basename "$1") missing"; return; }
    [ "$(head -c 6 "$1" | od -An -tx1 | tr -d ' \n')" = 934e554d5059 ] || { problem "$(basename "$1"): no .npy magic"; return; }
    hdr=$(head -c 128 "$1" | tr -d '\000')
    case $hdr in *"'shape': $2"*) ;; *) problem "$(basename "$1"): shape is not $2 (header: ${hdr:10:70})" ;; esac
    case $hdr in *"'descr': '${3:-<f4}'"*) ;; *) problem "$(basename "$1"): dtype is not ${3:-<f4}" ;; esac
}
# json_num FILE KEY: the number after "KEY": (cJSON's printed layout: one key a line)
json_num() { sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\\([-0-9.eE+]*\\),\\{0,1\\}[[:space:]]*\$/\\1/p" "$1" | head -n 1; }
ALL_FILES="preview.png preview_rgb.npy preview_alpha.npy preview_depth.npy preview_variance.npy user_importance.npy
user_importance_mask.exr user_importance_preview.png final.png final.exr final_spp.png final_budget.json"

# ---------------------------------------------------------------- every artefact
begin all_stages
run_ok "$SCENE" --out o --exr
D=$W/o
for f in $ALL_FILES dvren_pipeline.log; do [ -f "$D/$f" ] || problem "$f missing"; done
png_is "$D/preview.png" 48 32 8
png_is "$D/user_importance_preview.png" 48 32 8
png_is "$D/final.png" 48 32 16
png_is "$D/final_spp.png" 48 32 8
exr_is "$D/user_importance_mask.exr"
exr_is "$D/final.exr"
npy_is "$D/preview_rgb.npy" "(32, 48, 3)"
for f in preview_alpha preview_depth preview_variance user_importance; do npy_is "$D/$f.npy" "(32, 48)"; done
for f in $ALL_FILES; do grep -q "^\[OK\] o/$f" "$OUT" || problem "no [OK] line for $f on stdout"; done
ls "$D" | grep -q tmp && problem "temporary files left: $(ls "$D" | grep tmp | tr '\n' ' ')"
finish

begin log_tags
for t in step env device timer OK; do
    grep -q "^\[$t\] " "$D/dvren_pipeline.log" || problem "no [$t] line in dvren_pipeline.log"
done
for t in step env device timer; do grep -q "^\[$t\] " "$TOP/all_stages.stderr" || problem "no [$t] line on stderr"; done
grep -q "^\[env\] thresholds lo=[0-9.]* hi=[0-9.]* coverage=[0-9.]*" "$D/dvren_pipeline.log" || problem "no '[env] thresholds lo=... hi=... coverage=...' line"
grep -q "^\[env\] effective_samples=[0-9]" "$D/dvren_pipeline.log" || problem "no '[env] effective_samples=...' line"
# both before the final render
a=$(grep -n "^\[env\] effective_samples=" "$D/dvren_pipeline.log" | head -n 1 | cut -d: -f1)
b=$(grep -n "^\[timer\] final render" "$D/dvren_pipeline.log" | head -n 1 | cut -d: -f1)
[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || problem "the budget is not logged before the final render"
grep -q "final_spp.png legend: viridis from [0-9]* rays" "$D/dvren_pipeline.log" || problem "no legend line for final_spp.png"
finish

begin budget_follows_importance
J=$D/final_budget.json
mean=$(json_num "$J" mean_spp); peak=$(json_num "$J" peak_spp); smin=$(json_num "$J" spp_min); smax=$(json_num "$J" spp_max)
if [ -z "$mean" ] || [ -z "$peak" ] || [ -z "$smin" ] || [ -z "$smax" ]; then
    problem "final_budget.json lacks mean_spp/peak_spp/spp_min/spp_max"
else
    awk -v m="$mean" -v x="$smax" 'BEGIN { exit !(m < x) }' || problem "mean spp $mean is not below the largest $smax"
    awk -v p="$peak" 'BEGIN { exit !(p >= 1) }' || problem "peak spp $peak < min_spp 1"
    awk -v a="$smin" -v b="$smax" 'BEGIN { exit !(a < b && b <= 6) }' || problem "spp range $smin..$smax: flat, or above max_spp 6"
fi
finish

# ---------------------------------------------------------------- reproducibility
begin preview_reproducible
run_ok "$SCENE" --out p1 --stage preview
run_ok "$SCENE" --out p2 --stage preview
for f in preview.png preview_rgb.npy preview_alpha.npy preview_depth.npy preview_variance.npy; do
    cmp -s "$W/p1/$f" "$W/p2/$f" || problem "$f differs between two runs"
    cmp -s "$W/p1/$f" "$D/$f" || problem "$f differs from the full run's"
done
[ -f "$W/p1/user_importance.npy" ] && problem "--stage preview wrote saliency files"
finish

# ---------------------------------------------------------------- stages one by one, --keep and --clean
begin stages_one_by_one
run_ok "$SCENE" --out s --stage preview
run_ok "$SCENE" --out s --stage saliency
cmp -s "$W/s/user_importance.npy" "$D/user_importance.npy" || problem "user_importance.npy differs from the full run's"
run_ok "$SCENE" --out s --stage final --exr
for f in $ALL_FILES; do [ -f "$W/s/$f" ] || problem "$f missing"; done
cmp -s "$W/s/final.png" "$D/final.png" || problem "final.png differs from the full run's"
finish

begin keep_and_clean
run_ok "$SCENE" --out s --exr
run_ok "$SCENE" --out s --stage final
[ -f "$W/s/final.exr" ] || problem "--keep (the default) removed final.exr"
run_ok "$SCENE" --out s --stage final --clean
[ -f "$W/s/final.exr" ] && problem "--clean left the earlier final.exr"
[ -f "$W/s/final.png" ] || problem "--clean --stage final did not write final.png again"
[ -f "$W/s/user_importance.npy" ] || problem "--clean --stage final removed the saliency stage's files"
grep -q "removed 4 earlier artefacts" "$ERR" || problem "no log line saying --clean removed the 4 files of the final stage"
finish

# ---------------------------------------------------------------- failures
begin missing_preview
run_fails "$SCENE" --out m --stage saliency
err_has "preview"
grep "^\[ERROR\] " "$ERR" | grep -qE "preview[_a-z]*\.(npy|png) is missing" || problem "the error does not name the missing file"
[ -d "$W/m" ] && problem "the output folder was created"
finish

begin missing_importance
run_ok "$SCENE" --out m --stage preview
run_fails "$SCENE" --out m --stage final
err_has "user_importance.npy is missing"
err_has "saliency stage"
grep -q "^\[ERROR\] .*user_importance.npy is missing" "$W/m/dvren_pipeline.log" || problem "the error is not in the log file"
finish

begin missing_one_preview_file
run_ok "$SCENE" --out m --stage preview
rm -f "$W/m/preview_variance.npy"
run_fails "$SCENE" --out m --stage saliency
err_has "preview_variance.npy is missing"
finish

begin cuda_without_gpu
if [ -e /dev/nvidia0 ] || [ -e /dev/nvidiactl ]; then
    echo "SKIP $NAME/$CASE: this machine has an NVIDIA GPU"
else
    run_fails "$SCENE" --out c --device cuda
    err_has "cuda"
    [ -d "$W/c" ] && problem "the output folder was created"
    mkdir -p "$W/c2"
    run_fails "$SCENE" --out c2 --device cuda:0 --min-cc 86
    err_has "cuda"
    finish
fi

begin bad_config_values
run_fails "$SCENE" --out b --blur 4
err_has "blur"
run_fails "$SCENE" --out b --lo 90 --hi 10
err_has "foveate.lo"
run_fails "$SCENE" --out b --mean-spp 100
err_has "mean_spp"
run_fails "$SCENE" --out b --weights 1,2
err_has "--weights"
run_fails "$SCENE" --out b --preview-size 7
err_has "preview_size"
run_fails "$SCENE" --out b --combine max
err_has "--combine"
run_fails "$SCENE" --out b --preview-spp x
err_has "--preview-spp"
sed 's/"blur": 5/"blur": 5, "bogus": 1/' "$SCENE" > "$W/bogus.json"
run_fails "$W/bogus.json" --out b
err_has "unknown key 'bogus'"
sed 's/"max_spp": 6/"max_spp": "six"/' "$SCENE" > "$W/six.json"
run_fails "$W/six.json" --out b
err_has "foveate.max_spp"
sed 's/"models": \["mock_luma"\]/"models": [{"name": "mock_luma", "weight": -1}]/' "$SCENE" > "$W/w.json"
run_fails "$W/w.json" --out b
err_has "weight"
[ -d "$W/b" ] && problem "a refused configuration created the output folder"
finish

begin bad_models
run_fails "$SCENE" --out b --models no_such_model
err_has "no_such_model"
sed 's/"models": \["mock_luma"\]/"models": [{"name": "mock_luma", "params": {"nope": 1}}]/' "$SCENE" > "$W/p.json"
run_fails "$W/p.json" --out b
err_has "foveate.models[0].params.nope"
[ -d "$W/b" ] && problem "an unusable model created the output folder"
# a model that fails while computing: the saliency stage leaves none of its files
sed 's/"models": \["mock_luma"\]/"models": [{"name": "mock_luma", "params": {"fail": true}}]/' "$SCENE" > "$W/f.json"
run_ok "$SCENE" --out f --stage preview
run_fails "$W/f.json" --out f --stage saliency
err_has "asked to fail"
finish

# ---------------------------------------------------------------- models and their combination
begin model_params_and_combination
run_ok "$SCENE" --out one --stage all
# a weighted sum with a zero weight is the model alone
run_ok "$SCENE" --out sum --models mock_luma,mock_luma --weights 1,0 --combine sum
cmp -s "$W/one/user_importance.npy" "$W/sum/user_importance.npy" || problem "sum with weights 1,0 differs from the model alone"
# a product of the model with itself is its square, as is power 2 in the model's params
run_ok "$SCENE" --out prod --models mock_luma,mock_luma --combine product --stage all
sed 's/"models": \["mock_luma"\]/"models": [{"name": "mock_luma", "params": {"power": 2}}]/' "$SCENE" > "$W/sq.json"
run_ok "$W/sq.json" --out sq
cmp -s "$W/one/user_importance.npy" "$W/prod/user_importance.npy" && problem "the product of two maps equals one map"
cmp -s "$W/prod/user_importance.npy" "$W/sq/user_importance.npy" || problem "m * m differs from the model with power 2"
finish

begin with_render_error
if [ ! -f "$B/plugins/render_error.so" ]; then
    echo "SKIP $NAME/$CASE: $B/plugins/render_error.so is not built"
else
    run_ok "$SCENE" --out re --models mock_luma,render_error --weights 1,0.5 --combine sum
    npy_is "$W/re/user_importance.npy" "(32, 48)"
    grep -q "saliency model 'render_error'" "$ERR" || problem "render_error did not run"
    finish
fi

begin ct_head_example
export DVREN_DATA=${DVREN_DATA:-$(cd "$ROOT/.." && pwd)/shared/data}
if [ ! -f "$DVREN_DATA/ct_head/quarter.nhdr" ]; then
    echo "SKIP $NAME/$CASE: no CT head under \$DVREN_DATA ($DVREN_DATA)"
else
    run_ok "$ROOT/examples/ct_head_foveate.json" --out ct --models mock_luma --width 40 --height 24 \
        --preview-size 16 --preview-spp 2 --max-spp 4 --mean-spp 2
    for f in $ALL_FILES; do [ -f "$W/ct/$f" ] || problem "$f missing"; done
    png_is "$W/ct/final.png" 40 24 16
    finish
fi

[ "$nfail" -eq 0 ]
