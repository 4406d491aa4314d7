/* tools/dvren_render.c - render a JSON scene to PNG (and .npy).
 *
 *   dvren_render                       the built-in default scene -> out/default.png
 *   dvren_render scene.json [options]  see --help; docs/scenes.md has the format
 *
 * The scene names plugins and their parameters (checked against each
 * plugin's schema), the camera, the plan and the outputs. Unknown keys and
 * wrong types are errors that name the key. Outputs are written only after
 * a successful render, each atomically; a failure leaves no file behind.
 *
 *   dvren_render scene.json --gradcheck [--width 24 --height 24 --seed N]
 *   dvren_gradcheck scene.json [...]   (the same program under that name)
 * checks the gradient of the scene's plugin combination instead of
 * rendering it (dvren_gradcheck in dvren.h: float64 analytic gradient
 * against central finite differences, and the device's float32 backward
 * against it), on a small image (24 x 24 unless --width/--height), with
 * random cotangents on rgb, alpha and depth. It prints one line of figures
 * and exits 0 when both relative errors are under 1e-3, 3 when one is not,
 * 1 on an error (a scene without differentiable parameters is one: a
 * dense_grid needs "storage": "f32" for its voxels to have a gradient). */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty, readlink, mkdir under -std=c11 */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "dvren_image.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(_WIN32)
#include <direct.h>
#include <io.h>
#define dr_isatty(f) _isatty(_fileno(f))
#define dr_mkdir(p) _mkdir(p)
#else
#include <unistd.h>
#define dr_isatty(f) isatty(fileno(f))
#define dr_mkdir(p) mkdir(p, 0777)
#endif

#define DR_PATH 4096

/* The built-in default scene: a procedural volume, no file needed. The
 * Marschner-Lobb test signal's 0.5 isosurface, the classic test of volume
 * reconstruction (Marschner and Lobb, IEEE Visualization 1994). */
static const char* const dr_default_scene =
    "{\n"
    "  \"field\":   {\"plugin\": \"dense_grid\", \"params\": {\"generator\": \"marschner_lobb\", \"dims\": [128, 128, 128]}},\n"
    "  \"shader\":  {\"plugin\": \"emission_absorption\", \"params\": {\n"
    "      \"sigma_scale\": 400, \"shading\": true, \"specular\": 0.35, \"light_dir\": [0.3, 0.5, 0.8],\n"
    "      \"tf_opacity\": [[0, 0], [0.49, 0], [0.5, 1], [1, 1]],\n"
    "      \"tf_color\":   [[0.45, 0.95, 0.55, 0.2], [0.55, 0.9, 0.35, 0.15]]}},\n"
    "  \"sampler\": {\"plugin\": \"uniform\", \"params\": {\"jitter\": true}},\n"
    "  \"camera\":  {\"type\": \"perspective\", \"eye\": [2.2, -2.2, 2.0], \"target\": [0, 0, -0.1], \"up\": [0, 0, 1],\n"
    "               \"fov_y_deg\": 38},\n"
    "  \"plan\":    {\"width\": 512, \"height\": 512, \"spp\": 4, \"step\": 0.004, \"background\": [0.05, 0.05, 0.07]},\n"
    "  \"output\":  {\"png\": \"out/default.png\"}\n"
    "}\n";

typedef struct dr_options {
    const char* scene;
    const char* png;
    const char* npy;
    const char* device;
    const char* gpu_name;
    int gpu_index, min_cc;
    int png_bits, png_alpha, quiet, width, height, spp, threads, gradcheck;
    long long seed;
    int have_seed;
} dr_options;

typedef struct dr_state {
    dvren_context* ctx;
    const char* scene_name; /* for messages */
    char scene_dir[DR_PATH];
    int progress_tty;
    double t0;
    int last_pct;
} dr_state;

/* ---- messages --------------------------------------------------------------- */

/* Log sink: the library's lines to stderr, except errors, which the tool
 * reports itself with the scene key they belong to (dr_fail_lib). */
static void dr_log(void* user, dvren_log_level level, const char* line)
{
    if (level != DVREN_LOG_ERROR) dvren_log_to_file(user, level, line);
}

static int dr_fail(dr_state* S, const char* key, const char* fmt, ...) DVREN_PRINTF(3, 4);
static int dr_fail(dr_state* S, const char* key, const char* fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        fprintf(stderr, "[ERROR] %s: %s: %s\n", S->scene_name, key, msg);
    else
        fprintf(stderr, "[ERROR] %s: %s\n", S->scene_name, msg);
    return 1;
}

/* Report the library's last error (it already names module and hint). */
static int dr_fail_lib(dr_state* S, const char* key)
{
    const char* m = dvren_last_error(S->ctx);
    size_t k = key ? strlen(key) : 0;
    /* the library's message may already start with the same module name */
    if (key && !strncmp(m, key, k) && m[k] == ':' && m[k + 1] == ' ') key = NULL;
    return dr_fail(S, key, "%s", m);
}

static const char* dr_json_type(const cJSON* j)
{
    if (!j) return "nothing";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsNull(j)) return "null";
    return "an invalid value";
}

/* Every key of obj must be in the NULL-terminated list `allowed`. */
static int dr_check_keys(dr_state* S, const cJSON* obj, const char* where, const char* const* allowed)
{
    const cJSON* it;
    cJSON_ArrayForEach(it, obj)
    {
        const char* const* a;
        int ok = 0;
        for (a = allowed; *a && !ok; ++a) ok = strcmp(*a, it->string) == 0;
        if (!ok) {
            char known[512] = "";
            size_t n = 0;
            for (a = allowed; *a && n < sizeof known - 64; ++a)
                n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", a == allowed ? "" : ", ", *a);
            return dr_fail(S, where, "unknown key '%s' (known: %s)", it->string, known);
        }
    }
    return 0;
}

static int dr_number(dr_state* S, const cJSON* obj, const char* name, const char* where, double* out)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!j) return 0;
    if (!cJSON_IsNumber(j)) return dr_fail(S, where, "'%s' must be a number, got %s", name, dr_json_type(j));
    *out = j->valuedouble;
    return 0;
}

static int dr_uint(dr_state* S, const cJSON* obj, const char* name, const char* where, uint32_t lo, uint32_t hi,
                   uint32_t* out)
{
    double v = -1;
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!j) return 0;
    if (dr_number(S, obj, name, where, &v)) return 1;
    if (v != (double)(long long)v || v < lo || v > hi)
        return dr_fail(S, where, "'%s' must be an integer in %u..%u, got %g", name, (unsigned)lo, (unsigned)hi, v);
    *out = (uint32_t)v;
    return 0;
}

/* A fixed-length array of numbers. */
static int dr_vec(dr_state* S, const cJSON* obj, const char* name, const char* where, int n, float* out)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    const cJSON* e;
    int k = 0;
    if (!j) return 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != n)
        return dr_fail(S, where, "'%s' must be an array of %d numbers, got %s", name, n, dr_json_type(j));
    cJSON_ArrayForEach(e, j)
    {
        if (!cJSON_IsNumber(e)) return dr_fail(S, where, "'%s'[%d] must be a number, got %s", name, k, dr_json_type(e));
        out[k++] = (float)e->valuedouble;
    }
    return 0;
}

/* ---- paths ------------------------------------------------------------------------ */

static int dr_is_dir(const char* p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where ${DVREN_DATA} points: the variable, else ../shared/data from the
 * working folder, else from the executable's folder (build/ -> ../../shared). */
static const char* dr_data_dir(void)
{
    const char* e = getenv("DVREN_DATA");
    if (e && *e) return e;
    if (dr_is_dir("../shared/data")) return "../shared/data";
#if !defined(_WIN32)
    {
        static char buf[DR_PATH];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 32);
        if (n > 0) {
            char* s;
            buf[n] = 0;
            s = strrchr(buf, '/');
            if (s) {
                strcpy(s, "/../../shared/data");
                if (dr_is_dir(buf)) return buf;
            }
        }
    }
#endif
    return NULL;
}

/* Expands ${NAME} from the environment (${DVREN_DATA} has a default) and
 * makes a relative path relative to the scene file's folder. */
static int dr_resolve_path(dr_state* S, const char* in, const char* where, char* out, size_t cap)
{
    char tmp[DR_PATH];
    size_t n = 0;
    const char* p = in;
    while (*p && n + 1 < sizeof tmp) {
        if (p[0] == '$' && p[1] == '{') {
            const char* end = strchr(p, '}');
            char name[128];
            const char* val;
            if (!end || (size_t)(end - p - 2) >= sizeof name) return dr_fail(S, where, "unterminated ${...} in '%s'", in);
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
            val = strcmp(name, "DVREN_DATA") == 0 ? dr_data_dir() : getenv(name);
            if (!val)
                return dr_fail(S, where, "'%s': ${%s} is not set%s", in, name,
                               strcmp(name, "DVREN_DATA") == 0
                                   ? " and ../shared/data does not exist (hint: export DVREN_DATA=/path/to/data)"
                                   : "");
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s", val);
            p = end + 1;
        } else {
            tmp[n++] = *p++;
        }
    }
    tmp[n < sizeof tmp ? n : sizeof tmp - 1] = 0;
    {
        /* a path that starts with ${VAR} is where the variable says (absolute or
         * relative to the working folder), not inside the scene's folder */
        int absolute = tmp[0] == '/' || tmp[0] == '\\' || (tmp[0] && tmp[1] == ':') || (in[0] == '$' && in[1] == '{');
        size_t dl = absolute ? 0 : strlen(S->scene_dir), tl = strlen(tmp);
        if (dl + tl + 1 > cap) return dr_fail(S, where, "path '%s' is too long", in);
        memcpy(out, S->scene_dir, dl);
        memcpy(out + dl, tmp, tl + 1);
    }
    return 0;
}

/* A "plugins" entry is a file (relative to the scene's folder) when it has a
 * folder separator or the library extension; otherwise a name on the plugin path. */
static int dr_is_library_path(const char* s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || strchr(s, '\\') || (n > 3 && !strcmp(s + n - 3, ".so")) ||
           (n > 4 && !strcmp(s + n - 4, ".dll")) || (n > 6 && !strcmp(s + n - 6, ".dylib"));
}

/* The folder of an output path must exist before we render. */
static int dr_check_out_dir(dr_state* S, const char* path, const char* where)
{
    char dir[DR_PATH];
    const char* s = strrchr(path, '/');
#if defined(_WIN32)
    const char* b = strrchr(path, '\\');
    if (b && (!s || b > s)) s = b;
#endif
    if (!s) return 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(s - path), path);
    if (dir[0] && !dr_is_dir(dir))
        return dr_fail(S, where, "cannot write '%s': folder '%s' does not exist (hint: create it first)", path, dir);
    return 0;
}

/* ---- plugin parameters from JSON, checked against the plugin's schema ---------------- */

static int dr_params(dr_state* S, const dvren_plugin_desc* pl, const cJSON* jp, const char* where, dvren_params* out)
{
    const cJSON* it;
    char key[256];
    if (!jp) return 0;
    if (!cJSON_IsObject(jp)) return dr_fail(S, where, "'params' must be an object, got %s", dr_json_type(jp));
    cJSON_ArrayForEach(it, jp)
    {
        const dvren_param_desc* d = NULL;
        uint32_t i;
        snprintf(key, sizeof key, "%s.params.%s", where, it->string);
        for (i = 0; i < pl->param_count && !d; ++i)
            if (strcmp(dvren_plugin_param(pl, i)->name, it->string) == 0) d = dvren_plugin_param(pl, i);
        if (!d) {
            char known[1024] = "";
            size_t n = 0;
            for (i = 0; i < pl->param_count && n < sizeof known - 64; ++i)
                n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", dvren_plugin_param(pl, i)->name);
            return dr_fail(S, key, "unknown parameter of %s plugin '%s' (known: %s)", dvren_plugin_kind_name(pl->kind),
                           pl->name, known);
        }
        switch (d->type) {
        case DVREN_PARAM_FLOAT:
        case DVREN_PARAM_INT:
            if (!cJSON_IsNumber(it)) return dr_fail(S, key, "expected a number, got %s", dr_json_type(it));
            if (dvren_params_set_number(out, d->name, it->valuedouble)) return dr_fail_lib(S, key);
            break;
        case DVREN_PARAM_BOOL:
            if (!cJSON_IsBool(it)) return dr_fail(S, key, "expected true or false, got %s", dr_json_type(it));
            if (dvren_params_set_bool(out, d->name, cJSON_IsTrue(it))) return dr_fail_lib(S, key);
            break;
        case DVREN_PARAM_STRING:
        case DVREN_PARAM_ENUM:
        case DVREN_PARAM_PATH: {
            char path[DR_PATH];
            const char* v = it->valuestring;
            if (!cJSON_IsString(it)) return dr_fail(S, key, "expected a string, got %s", dr_json_type(it));
            if (d->type == DVREN_PARAM_PATH) {
                if (dr_resolve_path(S, v, key, path, sizeof path)) return 1;
                v = path;
            }
            if (dvren_params_set_string(out, d->name, v)) return dr_fail_lib(S, key);
            break;
        }
        case DVREN_PARAM_FLOATS: {
            /* [1, 2, 3] or nested rows [[1, 2], [3, 4]] (flattened; rows of `stride` numbers) */
            double vals[4096];
            uint32_t n = 0;
            const cJSON* e;
            if (!cJSON_IsArray(it)) return dr_fail(S, key, "expected an array of numbers, got %s", dr_json_type(it));
            cJSON_ArrayForEach(e, it)
            {
                if (cJSON_IsNumber(e)) {
                    if (n >= 4096) return dr_fail(S, key, "more than 4096 numbers");
                    vals[n++] = e->valuedouble;
                } else if (cJSON_IsArray(e)) {
                    const cJSON* f;
                    if (d->stride > 1 && (uint32_t)cJSON_GetArraySize(e) != d->stride)
                        return dr_fail(S, key, "each row must hold %u numbers, a row has %d", (unsigned)d->stride,
                                       cJSON_GetArraySize(e));
                    cJSON_ArrayForEach(f, e)
                    {
                        if (!cJSON_IsNumber(f)) return dr_fail(S, key, "expected numbers, got %s", dr_json_type(f));
                        if (n >= 4096) return dr_fail(S, key, "more than 4096 numbers");
                        vals[n++] = f->valuedouble;
                    }
                } else {
                    return dr_fail(S, key, "expected numbers, got %s", dr_json_type(e));
                }
            }
            if (dvren_params_set_numbers(out, d->name, vals, n)) return dr_fail_lib(S, key);
            break;
        }
        case DVREN_PARAM_TENSOR:
            return dr_fail(S, key, "tensor parameters can only be set from C (dvren_params_set_tensor)");
        default: return dr_fail(S, key, "parameter type %d is unknown to this tool", (int)d->type);
        }
    }
    return 0;
}

static int dr_stage(dr_state* S, const cJSON* scene, const char* slot, dvren_plugin_kind kind, const char* def,
                    dvren_stage** out)
{
    static const char* const keys[] = {"plugin", "params", NULL};
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(scene, slot);
    const cJSON* jn;
    const char* name = def;
    const dvren_plugin_desc* pl;
    dvren_params* p = NULL;
    int rc;
    if (!j) {
        if (!def) return dr_fail(S, slot, "missing (give {\"plugin\": name, \"params\": {...}})");
    } else {
        if (!cJSON_IsObject(j)) return dr_fail(S, slot, "must be an object, got %s", dr_json_type(j));
        if (dr_check_keys(S, j, slot, keys)) return 1;
        jn = cJSON_GetObjectItemCaseSensitive(j, "plugin");
        if (jn && !cJSON_IsString(jn)) return dr_fail(S, slot, "'plugin' must be a string, got %s", dr_json_type(jn));
        if (jn) name = jn->valuestring;
        if (!name) return dr_fail(S, slot, "'plugin' is missing");
    }
    if (dvren_plugin_find(S->ctx, kind, name, &pl)) return dr_fail_lib(S, slot);
    if (dvren_params_create(S->ctx, &p)) return dr_fail_lib(S, slot);
    rc = dr_params(S, pl, j ? cJSON_GetObjectItemCaseSensitive(j, "params") : NULL, slot, p);
    if (!rc && dvren_stage_create(S->ctx, kind, name, p, out)) rc = dr_fail_lib(S, slot);
    dvren_params_destroy(p);
    return rc;
}

static int dr_camera(dr_state* S, const cJSON* scene, dvren_camera* cam)
{
    static const char* const keys[] = {"type", "eye", "target", "up", "fov_y_deg", "height", "view", "projection", NULL};
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(scene, "camera");
    const cJSON* jt;
    const char* type = "perspective";
    float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0}, view[16], proj[16];
    double fov = 45.0, height = 2.0;
    if (!j) return dr_fail(S, "camera", "missing");
    if (!cJSON_IsObject(j)) return dr_fail(S, "camera", "must be an object, got %s", dr_json_type(j));
    if (dr_check_keys(S, j, "camera", keys)) return 1;
    jt = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (jt && !cJSON_IsString(jt)) return dr_fail(S, "camera", "'type' must be a string, got %s", dr_json_type(jt));
    if (jt) type = jt->valuestring;
    if (dr_vec(S, j, "eye", "camera", 3, eye) || dr_vec(S, j, "target", "camera", 3, target) ||
        dr_vec(S, j, "up", "camera", 3, up) || dr_number(S, j, "fov_y_deg", "camera", &fov) ||
        dr_number(S, j, "height", "camera", &height))
        return 1;
    if (!strcmp(type, "perspective")) {
        if (dvren_camera_look_at(eye, target, up, (float)(fov * 3.14159265358979323846 / 180.0), cam))
            return dr_fail(S, "camera", "%s", dvren_last_error(NULL));
    } else if (!strcmp(type, "orthographic")) {
        if (dvren_camera_orthographic(eye, target, up, (float)height, cam))
            return dr_fail(S, "camera", "%s", dvren_last_error(NULL));
    } else if (!strcmp(type, "matrix")) {
        if (!cJSON_GetObjectItemCaseSensitive(j, "view") || !cJSON_GetObjectItemCaseSensitive(j, "projection"))
            return dr_fail(S, "camera", "type 'matrix' needs 'view' and 'projection' (16 numbers each, column-major)");
        if (dr_vec(S, j, "view", "camera", 16, view) || dr_vec(S, j, "projection", "camera", 16, proj)) return 1;
        if (dvren_camera_from_matrices(view, proj, cam)) return dr_fail(S, "camera", "%s", dvren_last_error(NULL));
    } else {
        return dr_fail(S, "camera.type", "'%s' is not one of perspective, orthographic, matrix", type);
    }
    return 0;
}

static int dr_plan(dr_state* S, const cJSON* scene, const dr_options* o, dvren_plan_desc* d)
{
    static const char* const keys[] = {"width", "height", "spp", "seed", "step", "samples_per_ray", "roi",
                                       "background", "outputs", NULL};
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(scene, "plan");
    double step = 0.0, seed = 0.0;
    d->width = d->height = 512;
    if (j) {
        const cJSON* outs;
        if (!cJSON_IsObject(j)) return dr_fail(S, "plan", "must be an object, got %s", dr_json_type(j));
        if (dr_check_keys(S, j, "plan", keys)) return 1;
        if (dr_uint(S, j, "width", "plan", 1, 32768, &d->width) || dr_uint(S, j, "height", "plan", 1, 32768, &d->height) ||
            dr_uint(S, j, "spp", "plan", 1, 65536, &d->spp) ||
            dr_uint(S, j, "samples_per_ray", "plan", 0, 1u << 20, &d->samples_per_ray) ||
            dr_number(S, j, "step", "plan", &step) || dr_number(S, j, "seed", "plan", &seed) ||
            dr_vec(S, j, "background", "plan", 3, d->background))
            return 1;
        if (step < 0) return dr_fail(S, "plan", "'step' must be >= 0, got %g", step);
        if (seed < 0 || seed != (double)(long long)seed) return dr_fail(S, "plan", "'seed' must be an integer >= 0");
        d->step_world = (float)step;
        d->seed = (uint64_t)seed;
        if (cJSON_GetObjectItemCaseSensitive(j, "roi")) {
            float r[4];
            if (dr_vec(S, j, "roi", "plan", 4, r)) return 1;
            if (r[0] < 0 || r[1] < 0 || r[2] < 1 || r[3] < 1) return dr_fail(S, "plan", "'roi' must be [x, y, w, h] >= 0");
            d->roi.x = (uint32_t)r[0];
            d->roi.y = (uint32_t)r[1];
            d->roi.w = (uint32_t)r[2];
            d->roi.h = (uint32_t)r[3];
        }
        outs = cJSON_GetObjectItemCaseSensitive(j, "outputs");
        if (outs) {
            const cJSON* e;
            if (!cJSON_IsArray(outs)) return dr_fail(S, "plan", "'outputs' must be an array of names");
            cJSON_ArrayForEach(e, outs)
            {
                uint32_t bit, found = 0;
                if (!cJSON_IsString(e)) return dr_fail(S, "plan.outputs", "expected names, got %s", dr_json_type(e));
                for (bit = 1; bit <= DVREN_OUTPUT_SAMPLES; bit <<= 1)
                    if (!strcmp(dvren_output_name(bit), e->valuestring)) found = bit;
                if (!found)
                    return dr_fail(S, "plan.outputs", "'%s' is not one of rgb, alpha, depth, transmittance, hit, samples",
                                   e->valuestring);
                d->outputs |= found;
            }
        }
    }
    if (o->width) d->width = (uint32_t)o->width;
    if (o->height) d->height = (uint32_t)o->height;
    if (o->spp) d->spp = (uint32_t)o->spp;
    if (o->have_seed) d->seed = (uint64_t)o->seed;
    /* PNG needs rgb and alpha; .npy dumps take every output */
    d->outputs |= DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    if (o->npy) d->outputs = DVREN_OUTPUT_ALL;
    return 0;
}

static int dr_progress(void* user, uint64_t done, uint64_t total)
{
    dr_state* S = (dr_state*)user;
    int pct = (int)(100 * done / (total ? total : 1));
    double t = dvren__now_ms() - S->t0;
    /* stay quiet for short renders; then about every 10% (a live line on a terminal) */
    if (t < 500.0 || S->progress_tty < 0) return 0;
    if (S->progress_tty) {
        if (pct != S->last_pct) fprintf(stderr, "\r[step] rendering %3d%%%s", pct, done == total ? "\n" : "");
    } else if (pct / 10 != S->last_pct / 10 || done == total) {
        fprintf(stderr, "[step] rendering %d%%\n", pct);
    }
    S->last_pct = pct;
    return 0;
}

static void dr_usage(FILE* f)
{
    fputs("usage: dvren_render [scene.json] [options]\n"
          "  (no scene: the built-in default scene, written to out/default.png)\n"
          "  -o, --output FILE.png   PNG to write (overrides the scene's output.png)\n"
          "      --png16             16 bits per sample\n"
          "      --alpha             RGBA PNG (straight alpha) instead of RGB\n"
          "      --npy PREFIX        also write every output as PREFIX_<name>.npy (float32/uint8/uint32)\n"
          "      --width N --height N --spp N --seed N\n"
          "      --threads N         CPU threads (default: all cores)\n"
          "      --device cpu|cuda   device; cuda renders on an NVIDIA GPU or fails (never falls back to the CPU)\n"
          "      --gpu-index N       first GPU to consider (default 0)\n"
          "      --gpu-name TEXT     use a GPU whose name contains TEXT (e.g. \"3060\")\n"
          "      --min-cc N          require compute capability >= N (86 for sm_86)\n"
          "      --list-plugins      load every plugin library on the search path and list its plugins\n"
          "      --describe NAME     print a plugin's parameter schema\n"
          "      --gradcheck         check the scene's gradients instead of rendering (24 x 24 unless --width/--height;\n"
          "                          exit 0: errors < 1e-3, 3: not; see the top of tools/dvren_render.c)\n"
          "  -q, --quiet             errors only\n"
          "  -h, --help\n"
          "Scene format: docs/scenes.md. Plugins are found on $DVREN_PLUGIN_PATH, then beside this program.\n",
          f);
}

static void dr_describe(const dvren_plugin_desc* d)
{
    uint32_t i;
    printf("%s plugin '%s' %u.%u: %s\n", dvren_plugin_kind_name(d->kind), d->name, (unsigned)(d->version >> 16),
           (unsigned)(d->version & 0xFFFF), d->summary ? d->summary : "");
    for (i = 0; i < d->param_count; ++i) {
        const dvren_param_desc* p = dvren_plugin_param(d, i);
        char line[512];
        dvren_param_summary(p, line, sizeof line);
        printf("  %-18s %s\n      %s\n", p->name, line, p->doc ? p->doc : "");
    }
}

static int dr_parse_args(int argc, char** argv, dr_options* o, const char** list_or_describe, int* list)
{
    int i;
    memset(o, 0, sizeof *o);
    o->png_bits = 8;
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
#define DR_NEXT() (i + 1 < argc ? argv[++i] : (fprintf(stderr, "[ERROR] dvren_render: %s needs a value\n", a), (char*)NULL))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            dr_usage(stdout);
            exit(0);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(o->png = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--npy")) {
            if (!(o->npy = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--gradcheck")) {
            o->gradcheck = 1;
        } else if (!strcmp(a, "--png16")) {
            o->png_bits = 16;
        } else if (!strcmp(a, "--alpha")) {
            o->png_alpha = 1;
        } else if (!strcmp(a, "--device")) {
            if (!(o->device = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--gpu-name")) {
            if (!(o->gpu_name = DR_NEXT())) return 2;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--list-plugins")) {
            *list = 1;
        } else if (!strcmp(a, "--describe")) {
            if (!(*list_or_describe = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--width") || !strcmp(a, "--height") || !strcmp(a, "--spp") || !strcmp(a, "--threads") ||
                   !strcmp(a, "--seed") || !strcmp(a, "--gpu-index") || !strcmp(a, "--min-cc")) {
            const char* v = DR_NEXT();
            char* e;
            long long x;
            if (!v) return 2;
            x = strtoll(v, &e, 10);
            if (*e || x < 0 || x > 0x7FFFFFFF || (x == 0 && strcmp(a, "--seed") && strcmp(a, "--gpu-index"))) {
                fprintf(stderr, "[ERROR] dvren_render: %s needs a positive integer, got '%s'\n", a, v);
                return 2;
            }
            if (!strcmp(a, "--width")) o->width = (int)x;
            else if (!strcmp(a, "--height")) o->height = (int)x;
            else if (!strcmp(a, "--spp")) o->spp = (int)x;
            else if (!strcmp(a, "--threads")) o->threads = (int)x;
            else if (!strcmp(a, "--gpu-index")) o->gpu_index = (int)x;
            else if (!strcmp(a, "--min-cc")) o->min_cc = (int)x;
            else { o->seed = x; o->have_seed = 1; }
        } else if (a[0] == '-') {
            fprintf(stderr, "[ERROR] dvren_render: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!o->scene) {
            o->scene = a;
        } else {
            fprintf(stderr, "[ERROR] dvren_render: more than one scene given ('%s', '%s')\n", o->scene, a);
            return 2;
        }
#undef DR_NEXT
    }
    return 0;
}

/* Loads and parses the scene text; on a syntax error says where. */
static cJSON* dr_load_scene(dr_state* S, const char* path, char** text_out)
{
    FILE* f;
    long n;
    char* text;
    cJSON* root;
    *text_out = NULL;
    if (!path) {
        root = cJSON_Parse(dr_default_scene);
        if (!root) dr_fail(S, NULL, "built-in scene does not parse (a bug)");
        return root;
    }
    f = fopen(path, "rb");
    if (!f) {
        dr_fail(S, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (1L << 26)) {
        fclose(f);
        dr_fail(S, NULL, "cannot read (or larger than 64 MiB)");
        return NULL;
    }
    text = (char*)malloc((size_t)n + 1);
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(text);
        dr_fail(S, NULL, "cannot read");
        return NULL;
    }
    fclose(f);
    text[n] = 0;
    root = cJSON_ParseWithLength(text, (size_t)n);
    if (!root) {
        const char* e = cJSON_GetErrorPtr();
        int line = 1, col = 1;
        const char* p;
        for (p = text; e && p < e && *p; ++p) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else
                col++;
        }
        dr_fail(S, NULL, "line %d, column %d: JSON syntax error near '%.20s'", line, col, e ? e : "");
        free(text);
        return NULL;
    }
    *text_out = text;
    return root;
}

/* --gradcheck: the scene's plugins, made differentiable, checked on a small
 * image; prints the figures, returns 0 (pass), 3 (over 1e-3) or 1. */
static int dr_gradcheck(dr_state* S, const dr_options* o, dvren_stage* field, dvren_stage* shader,
                        dvren_stage* sampler, dvren_plan_desc* pd)
{
    dvren_scene_desc sd;
    dvren_scene* scene = NULL;
    dvren_plan* plan = NULL;
    dvren_gradcheck_desc gd;
    dvren_gradcheck_result r;
    dvren_scene_param sp;
    uint32_t n, i;
    double elems = 0.0;
    int rc = 1;
    if (!o->width && !o->height) pd->width = pd->height = 24;
    pd->roi.w = pd->roi.h = 0; /* the whole (small) image */
    memset(&sd, 0, sizeof sd);
    sd.field = field;
    sd.shader = shader;
    sd.sampler = sampler;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    if (dvren_scene_create(S->ctx, &sd, &scene)) {
        dr_fail_lib(S, NULL);
        goto out;
    }
    n = dvren_scene_param_count(scene);
    if (n == 0) {
        dr_fail(S, NULL, "no differentiable parameter in this plugin combination (a dense_grid's voxels need "
                         "\"storage\": \"f32\"; integer storage has no gradient)");
        goto out;
    }
    if (dvren_plan_create(S->ctx, pd, &plan)) {
        dr_fail_lib(S, "plan");
        goto out;
    }
    memset(&gd, 0, sizeof gd);
    gd.seed = o->have_seed ? (uint64_t)o->seed : 1;
    if (dvren_gradcheck(scene, plan, &gd, &r)) {
        dr_fail_lib(S, NULL);
        goto out;
    }
    for (i = 0; i < n; ++i)
        if (dvren_scene_param_get(scene, i, &sp) == DVREN_OK) elems += (double)sp.numel;
    printf("gradcheck %s: %u parameters (%.0f elements), %ux%u, spp %u, seed %llu: checked %u skipped %u "
           "fd_error %.2e (%s) f32_error %.2e |g| %.3g: %s\n",
           S->scene_name, (unsigned)n, elems, (unsigned)pd->width, (unsigned)pd->height, (unsigned)(pd->spp ? pd->spp : 1),
           (unsigned long long)gd.seed, (unsigned)r.checked, (unsigned)r.skipped, r.fd_error, r.worst, r.f32_error,
           r.grad_norm, r.fd_error < 1e-3 && r.f32_error < 1e-3 ? "ok" : "FAILED (bar 1e-3)");
    rc = r.fd_error < 1e-3 && r.f32_error < 1e-3 ? 0 : 3;
out:
    dvren_plan_destroy(plan);
    dvren_scene_destroy(scene);
    return rc;
}

int main(int argc, char** argv)
{
    static const char* const top_keys[] = {"description", "device", "gpu", "threads", "plugins", "field", "shader",
                                           "sampler", "camera", "plan", "output", NULL};
    static const char* const gpu_keys[] = {"index", "name", "min_compute_capability", NULL};
    static const char* const out_keys[] = {"png", "png_bits", "png_alpha", "npy", NULL};
    dr_options o;
    dr_state S;
    dvren_context_desc cd;
    dvren_plan_desc pd;
    dvren_stage *field = NULL, *shader = NULL, *sampler = NULL;
    dvren_scene* scene = NULL;
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_render_options ro;
    cJSON* root = NULL;
    char* text = NULL;
    const char* describe = NULL;
    const char* png = NULL;
    const char* npy = NULL;
    char written[8][DR_PATH];
    int nwritten = 0, list = 0, rc = 1, k;
    uint32_t threads = 0;

    memset(&S, 0, sizeof S);
    S.scene_name = "dvren_render";
    if ((rc = dr_parse_args(argc, argv, &o, &describe, &list)) != 0) return rc;
    {
        /* installed as dvren_gradcheck: the gradient check is the default */
        const char *base = argv[0], *c;
        for (c = argv[0]; *c; ++c)
            if (*c == '/' || *c == '\\') base = c + 1; /* also Windows paths; ".exe" is past the 15 characters */
        if (!strncmp(base, "dvren_gradcheck", 15)) o.gradcheck = 1;
    }
    rc = 1;
    memset(&cd, 0, sizeof cd);
    cd.log = o.quiet ? NULL : dr_log;
    cd.log_level = DVREN_LOG_INFO;

    if (list || describe) {
        if (dvren_context_create(&cd, &S.ctx)) return dr_fail(&S, NULL, "%s", dvren_last_error(NULL));
        if (describe) {
            const dvren_plugin_desc* d;
            if (dvren_plugin_find(S.ctx, DVREN_PLUGIN_INVALID, describe, &d)) {
                dr_fail_lib(&S, NULL);
            } else {
                dr_describe(d);
                rc = 0;
            }
        } else {
            /* every library on the search path; those that fail are logged and skipped */
            uint32_t i, failed = 0;
            dvren_plugin_load_all(S.ctx, &failed);
            for (i = 0; i < dvren_plugin_count(S.ctx); ++i) {
                const char* lib;
                const dvren_plugin_desc* d = dvren_plugin_at(S.ctx, i, &lib);
                printf("%-8s %-22s %s\n         %s\n", dvren_plugin_kind_name(d->kind), d->name, lib, d->summary);
            }
            if (failed) fprintf(stderr, "(%u libraries on the search path could not be loaded; see the log above)\n", failed);
            rc = 0;
        }
        dvren_context_destroy(S.ctx);
        return rc;
    }

    if (o.scene) {
        const char* s = strrchr(o.scene, '/');
        S.scene_name = o.scene;
        if (s) snprintf(S.scene_dir, sizeof S.scene_dir, "%.*s", (int)(s - o.scene + 1), o.scene);
    } else {
        S.scene_name = "default scene";
    }
    root = dr_load_scene(&S, o.scene, &text);
    if (!root) goto done;
    if (!cJSON_IsObject(root)) {
        dr_fail(&S, NULL, "the scene must be a JSON object");
        goto done;
    }
    if (dr_check_keys(&S, root, "scene", top_keys)) goto done;
    {
        const cJSON* jd = cJSON_GetObjectItemCaseSensitive(root, "description");
        if (jd && !cJSON_IsString(jd)) {
            dr_fail(&S, "description", "must be a string, got %s", dr_json_type(jd));
            goto done;
        }
    }

    /* device: the scene's, overridden by --device; CUDA gets CUDA or an error */
    {
        const cJSON* jd = cJSON_GetObjectItemCaseSensitive(root, "device");
        const char* dev = "cpu";
        if (jd && !cJSON_IsString(jd)) {
            dr_fail(&S, "device", "must be a string, got %s", dr_json_type(jd));
            goto done;
        }
        if (jd) dev = jd->valuestring;
        if (o.device) dev = o.device;
        if (!strcmp(dev, "cuda")) {
            cd.device = DVREN_DEVICE_CUDA;
            cd.backend = dvren_cuda_backend();
        } else if (strcmp(dev, "cpu") != 0) {
            dr_fail(&S, "device", "'%s' is not one of cpu, cuda", dev);
            goto done;
        }
    }
    {
        /* which GPU: "gpu": {"index": 0, "name": "3060", "min_compute_capability": 86}, or the options */
        const cJSON* jg = cJSON_GetObjectItemCaseSensitive(root, "gpu");
        if (jg) {
            const cJSON* jn;
            if (!cJSON_IsObject(jg)) {
                dr_fail(&S, "gpu", "must be an object, got %s", dr_json_type(jg));
                goto done;
            }
            if (dr_check_keys(&S, jg, "gpu", gpu_keys) || dr_uint(&S, jg, "index", "gpu", 0, 1024, &cd.device_index) ||
                dr_uint(&S, jg, "min_compute_capability", "gpu", 0, 1000, &cd.min_compute_capability))
                goto done;
            jn = cJSON_GetObjectItemCaseSensitive(jg, "name");
            if (jn && !cJSON_IsString(jn)) {
                dr_fail(&S, "gpu", "'name' must be a string, got %s", dr_json_type(jn));
                goto done;
            }
            if (jn) cd.device_name = jn->valuestring;
        }
        if (o.gpu_name) cd.device_name = o.gpu_name;
        if (o.gpu_index) cd.device_index = (uint32_t)o.gpu_index;
        if (o.min_cc) cd.min_compute_capability = (uint32_t)o.min_cc;
    }
    if (dr_uint(&S, root, "threads", "scene", 0, 1024, &threads)) goto done;
    cd.threads = o.threads ? (uint32_t)o.threads : threads;
    if (dvren_context_create(&cd, &S.ctx)) {
        dr_fail(&S, "device", "%s", dvren_last_error(NULL));
        goto done;
    }
    {
        const cJSON* jp = cJSON_GetObjectItemCaseSensitive(root, "plugins");
        const cJSON* e;
        if (jp && !cJSON_IsArray(jp)) {
            dr_fail(&S, "plugins", "must be an array of library paths or names, got %s", dr_json_type(jp));
            goto done;
        }
        cJSON_ArrayForEach(e, jp)
        {
            char path[DR_PATH];
            if (!cJSON_IsString(e)) {
                dr_fail(&S, "plugins", "expected strings, got %s", dr_json_type(e));
                goto done;
            }
            if (dr_is_library_path(e->valuestring)) {
                if (dr_resolve_path(&S, e->valuestring, "plugins", path, sizeof path)) goto done;
            } else {
                snprintf(path, sizeof path, "%s", e->valuestring);
            }
            if (dvren_plugin_load(S.ctx, path)) {
                dr_fail_lib(&S, "plugins");
                goto done;
            }
        }
    }
    if (dr_stage(&S, root, "field", DVREN_PLUGIN_FIELD, NULL, &field) ||
        dr_stage(&S, root, "shader", DVREN_PLUGIN_SHADER, "emission_absorption", &shader) ||
        dr_stage(&S, root, "sampler", DVREN_PLUGIN_SAMPLER, "uniform", &sampler))
        goto done;
    memset(&pd, 0, sizeof pd);
    if (dr_camera(&S, root, &pd.camera) || dr_plan(&S, root, &o, &pd)) goto done;

    if (o.gradcheck) {
        rc = dr_gradcheck(&S, &o, field, shader, sampler, &pd);
        goto done;
    }

    /* outputs: checked before rendering so that a bad path costs nothing */
    {
        const cJSON* jo = cJSON_GetObjectItemCaseSensitive(root, "output");
        if (jo) {
            const cJSON* x;
            if (!cJSON_IsObject(jo)) {
                dr_fail(&S, "output", "must be an object, got %s", dr_json_type(jo));
                goto done;
            }
            if (dr_check_keys(&S, jo, "output", out_keys)) goto done;
            x = cJSON_GetObjectItemCaseSensitive(jo, "png");
            if (x && !cJSON_IsString(x)) {
                dr_fail(&S, "output.png", "expected a string, got %s", dr_json_type(x));
                goto done;
            }
            if (x) png = x->valuestring;
            x = cJSON_GetObjectItemCaseSensitive(jo, "npy");
            if (x && !cJSON_IsString(x)) {
                dr_fail(&S, "output.npy", "expected a string (file name prefix), got %s", dr_json_type(x));
                goto done;
            }
            if (x) npy = x->valuestring;
            x = cJSON_GetObjectItemCaseSensitive(jo, "png_bits");
            if (x && (!cJSON_IsNumber(x) || (x->valuedouble != 8 && x->valuedouble != 16))) {
                dr_fail(&S, "output.png_bits", "must be 8 or 16");
                goto done;
            }
            if (x && o.png_bits == 8) o.png_bits = (int)x->valuedouble;
            x = cJSON_GetObjectItemCaseSensitive(jo, "png_alpha");
            if (x && !cJSON_IsBool(x)) {
                dr_fail(&S, "output.png_alpha", "expected true or false, got %s", dr_json_type(x));
                goto done;
            }
            if (x && cJSON_IsTrue(x)) o.png_alpha = 1;
        }
        if (o.png) png = o.png;
        if (o.npy) npy = o.npy;
        if (npy) pd.outputs = DVREN_OUTPUT_ALL;
        if (!png && !npy) {
            dr_fail(&S, "output", "nothing to write: give output.png, output.npy, -o or --npy");
            goto done;
        }
        if (!o.scene && !o.png && !dr_is_dir("out") && dr_mkdir("out") != 0) {
            dr_fail(&S, "output", "cannot create folder 'out': %s", strerror(errno));
            goto done;
        }
        if (png && dr_check_out_dir(&S, png, "output.png")) goto done;
        if (npy && dr_check_out_dir(&S, npy, "output.npy")) goto done;
    }

    {
        dvren_scene_desc sd;
        memset(&sd, 0, sizeof sd);
        sd.field = field;
        sd.shader = shader;
        sd.sampler = sampler;
        if (dvren_scene_create(S.ctx, &sd, &scene)) {
            dr_fail_lib(&S, NULL);
            goto done;
        }
    }
    if (dvren_plan_create(S.ctx, &pd, &plan)) {
        dr_fail_lib(&S, NULL);
        goto done;
    }
    if (dvren_framebuffer_create(S.ctx, plan, &fb)) {
        dr_fail_lib(&S, NULL);
        goto done;
    }
    memset(&ro, 0, sizeof ro);
    ro.progress = dr_progress;
    ro.progress_user = &S;
    S.progress_tty = o.quiet ? -1 : dr_isatty(stderr);
    S.last_pct = -1;
    S.t0 = dvren__now_ms();
    if (dvren_render(scene, plan, fb, &ro)) {
        dr_fail_lib(&S, NULL);
        goto done;
    }

    if (png) {
        dvren_tensor rgb, alpha;
        if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb) || dvren_framebuffer_output(fb, DVREN_OUTPUT_ALPHA, &alpha) ||
            dvren_image_write_png(S.ctx, png, (const float*)rgb.data, o.png_alpha ? (const float*)alpha.data : NULL,
                                  pd.width, pd.height, o.png_bits)) {
            dr_fail_lib(&S, "output.png");
            goto done;
        }
        snprintf(written[nwritten++], DR_PATH, "%s", png);
        dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s (%d-bit %s)", png, o.png_bits, o.png_alpha ? "RGBA" : "RGB");
    }
    if (npy) {
        uint32_t bit;
        for (bit = 1; bit <= DVREN_OUTPUT_SAMPLES; bit <<= 1) {
            dvren_tensor t;
            char path[DR_PATH];
            if (!(pd.outputs & bit)) continue;
            snprintf(path, sizeof path, "%s_%s.npy", npy, dvren_output_name(bit));
            if (dvren_framebuffer_output(fb, bit, &t) || dvren_tensor_save_npy(S.ctx, &t, path)) {
                dr_fail_lib(&S, "output.npy");
                goto done;
            }
            snprintf(written[nwritten++], DR_PATH, "%s", path);
        }
        dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s_{rgb,alpha,depth,transmittance,hit,samples}.npy", npy);
    }
    rc = 0;
done:
    /* all or nothing: a failed run removes what it wrote */
    if (rc != 0)
        for (k = 0; k < nwritten; ++k) remove(written[k]);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(scene);
    dvren_stage_destroy(field);
    dvren_stage_destroy(shader);
    dvren_stage_destroy(sampler);
    dvren_context_destroy(S.ctx);
    cJSON_Delete(root);
    free(text);
    return rc;
}
