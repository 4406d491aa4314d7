/* tools/dvren_scene.h - the JSON scene reader shared by dvren_render,
 * fit_volume and the benchmarks: a scene file (docs/scenes.md) becomes the
 * three stages, the plan desc and the context and output settings.
 * Depends on dvren.h, cJSON and dvren_io.h.
 *
 * Do this in exactly one translation unit, after dvren.h:
 *     #define DVREN_SCENE_IMPLEMENTATION
 *     #include "dvren_scene.h"
 * (it defines DVREN_IO_IMPLEMENTATION too). Link -lcjson.
 *
 * Reading a scene takes two steps, because the scene names its device:
 *
 *   dvren_scenefile sf;
 *   if (dvren_scenefile_load(&sf, "scene.json")) { fprintf(stderr, "%s\n", sf.error); ... }
 *       parses the file and reads what is needed before a context exists:
 *       sf.device ("cpu"/"cuda"), sf.gpu_*, sf.threads, sf.png, sf.npy, ...
 *   ... create a context from them ...
 *   if (dvren_scenefile_build(&sf, ctx)) { fprintf(stderr, "%s\n", sf.error); ... }
 *       loads the scene's plugin libraries, creates sf.field, sf.shader and
 *       sf.sampler (parameters checked against each plugin's schema; a
 *       shader "preset" expanded from the field's histogram), and fills
 *       sf.plan (camera, size, step, ...; "auto" cameras frame the field).
 *   ... use them ...
 *   dvren_scenefile_free(&sf);   destroys the stages and the JSON
 *
 * dvren_scenefile_parse() reads JSON text and dvren_scenefile_from_json() a
 * cJSON object (borrowed, not freed) instead of a file. Every function
 * returns 0 on success and 1 on error; the error is in sf.error as
 * "<scene>: <key>: <problem>" (the file name, the JSON key such as
 * "plan.width" or "field.params.dims", and what is wrong), one line.
 *
 * Not done here: writing outputs, command-line overrides (set the
 * override_* fields before dvren_scenefile_build), tensor parameters
 * (C only). */
#ifndef DVREN_SCENE_H
#define DVREN_SCENE_H

#include "dvren.h"
#include "dvren_io.h"
#include <cjson/cJSON.h>
#include "dvren_json.h"

#define DVREN_SCENEFILE_PATH 4096
#define DVREN_SCENEFILE_MAX_BYTES ((size_t)64 << 20) /* larger scene files are refused */

typedef struct dvren_scenefile {
    /* ---- set by load/parse/from_json: what a context needs */
    const char* name;        /* for messages: the file name, or the name given to parse */
    char dir[DVREN_SCENEFILE_PATH]; /* the scene's folder (with a trailing '/'), for relative paths; "" = working folder */
    const char* device;      /* "cpu" (default) or "cuda" */
    uint32_t gpu_index;      /* "gpu": {"index", "name", "min_compute_capability"} */
    const char* gpu_name;    /* NULL: any */
    uint32_t gpu_min_cc;
    uint32_t threads;        /* 0: all cores */
    int has_threads;         /* 1: the scene gave "threads" */
    /* "output": NULL when absent */
    const char* png;
    const char* npy;
    int png_bits;            /* 8 (default) or 16 */
    int png_alpha;           /* 1: RGBA */
    const cJSON* foveate;    /* "foveate": the pipeline's configuration (tools/dvren_foveate.h), NULL when absent */

    /* ---- set before build to override the scene's plan (0: keep the scene's) */
    uint32_t override_width, override_height, override_spp;
    int override_seed;       /* 1: use override_seed_value */
    uint64_t override_seed_value;

    /* ---- set by build */
    dvren_stage *field, *shader, *sampler;
    dvren_plan_desc plan;    /* width, height (default 512), camera, ... ; outputs include RGB | ALPHA */
    float value_range[2];    /* the field's robust value range when a preset used it, else 0 0 */

    char error[2048];        /* the last error, "<scene>: <key>: <problem>" */
    dvren_status status;     /* its status: the library's when a dvren call failed (NOT_FOUND for an
                                unknown plugin, IO for a missing volume, ...), IO when the scene file
                                cannot be read, FORMAT for the scene's own mistakes */

    /* private */
    cJSON* root;
    int owns_root;
    char* text;
    dvren_context* ctx;
} dvren_scenefile;

/* Reads and parses a scene file (at most DVREN_SCENEFILE_MAX_BYTES). */
int dvren_scenefile_load(dvren_scenefile* sf, const char* path);
/* Parses JSON text of len bytes; name is used in messages, dir (may be NULL:
 * the working folder) is where relative paths start. text is copied. */
int dvren_scenefile_parse(dvren_scenefile* sf, const char* name, const char* text, size_t len, const char* dir);
/* Reads a cJSON object (borrowed: it must outlive sf). */
int dvren_scenefile_from_json(dvren_scenefile* sf, const char* name, const cJSON* root, const char* dir);
/* Creates the stages and the plan desc on ctx (see the top of the file). */
int dvren_scenefile_build(dvren_scenefile* sf, dvren_context* ctx);
/* Destroys the stages (set them to NULL first to keep them) and the JSON. */
void dvren_scenefile_free(dvren_scenefile* sf);
/* Creates a stage of plugin `name` and `kind` on the context of the last
 * build (or ctx when given) from a JSON "params" object (may be NULL: the
 * defaults), checked against the plugin's schema as the scene's own stages
 * are (path parameters relative to the scene's folder); key names the JSON
 * place in messages ("foveate.models[0]"). For stages a scene file
 * configures outside field/shader/sampler (dvren_foveate's saliency models).
 * The caller destroys *out. */
int dvren_scenefile_stage(dvren_scenefile* sf, dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                          const cJSON* params, const char* key, dvren_stage** out);

/* Shader presets ("shader": {"preset": NAME}): "auto", "ct_skin",
 * "ct_bone", "mr" (docs/scenes.md). Returns the NULL-terminated list. */
const char* const* dvren_scenefile_presets(void);

#endif /* DVREN_SCENE_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_SCENE_IMPLEMENTATION
#ifndef DVREN_SCENE_IMPLEMENTATION_ONCE
#define DVREN_SCENE_IMPLEMENTATION_ONCE

#ifndef DVREN_IO_IMPLEMENTATION
#define DVREN_IO_IMPLEMENTATION
#endif
#include "dvren_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if !defined(_WIN32)
#include <unistd.h>
#endif

/* >>errors: "<scene>: <key>: <problem>" into sf->error; returns 1 */
static int dvs__fail(dvren_scenefile* sf, const char* key, const char* fmt, ...) DVREN_PRINTF(3, 4);
static int dvs__fail(dvren_scenefile* sf, const char* key, const char* fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sf->status == DVREN_OK) sf->status = DVREN_ERROR_FORMAT; /* the scene's own mistakes */
    if (key)
        snprintf(sf->error, sizeof sf->error, "%s: %s: %s", sf->name, key, msg);
    else
        snprintf(sf->error, sizeof sf->error, "%s: %s", sf->name, msg);
    return 1;
}

/* A dvren call whose status the scene file keeps (sf->status): true when it failed. */
#define DVS_LIB(sf, call) (((sf)->status = (call)) != DVREN_OK)

/* The library's last error under key (after DVS_LIB recorded its status);
 * the library's message names its module, which is dropped when it repeats
 * the key ("field: field: ..."). */
static int dvs__fail_lib(dvren_scenefile* sf, const char* key)
{
    const char* m = dvren_last_error(sf->ctx);
    size_t k = key ? strlen(key) : 0;
    if (key && !strncmp(m, key, k) && m[k] == ':' && m[k + 1] == ' ') m += k + 2;
    return dvs__fail(sf, key, "%s", m);
}


/* Every key of obj must be in the NULL-terminated list allowed. */
static int dvs__keys(dvren_scenefile* sf, const cJSON* obj, const char* where, const char* const* allowed)
{
    char known[512];
    const char* bad = dvren_json_unknown_key(obj, allowed, known, sizeof known);
    return bad ? dvs__fail(sf, where, "unknown key '%s' (known: %s)", bad, known) : 0;
}

static int dvs__number(dvren_scenefile* sf, const cJSON* obj, const char* name, const char* where, double* out)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!j) return 0;
    if (!cJSON_IsNumber(j)) return dvs__fail(sf, where, "'%s' must be a number, got %s", name, dvren_json_type(j));
    if (!isfinite(j->valuedouble)) return dvs__fail(sf, where, "'%s' must be a finite number, got %g", name, j->valuedouble);
    *out = j->valuedouble;
    return 0;
}

/* An integer in lo..hi: range and integrality are checked on the double
 * before any cast (1e300 or inf cast to an integer is undefined). */
static int dvs__int(dvren_scenefile* sf, const cJSON* obj, const char* name, const char* where, double lo, double hi,
                    double* out)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    double v;
    if (!j) return 0;
    if (!cJSON_IsNumber(j)) return dvs__fail(sf, where, "'%s' must be a number, an integer in %.0f..%.0f, got %s", name, lo, hi, dvren_json_type(j));
    v = j->valuedouble;
    if (!(v >= lo && v <= hi) || floor(v) != v)
        return dvs__fail(sf, where, "'%s' must be an integer in %.0f..%.0f, got %g", name, lo, hi, v);
    *out = v;
    return 0;
}

static int dvs__u32(dvren_scenefile* sf, const cJSON* obj, const char* name, const char* where, uint32_t lo, uint32_t hi,
                    uint32_t* out)
{
    double v = 0;
    if (!cJSON_GetObjectItemCaseSensitive(obj, name)) return 0;
    if (dvs__int(sf, obj, name, where, lo, hi, &v)) return 1;
    *out = (uint32_t)v;
    return 0;
}

/* A fixed-length array of finite numbers. */
static int dvs__vec(dvren_scenefile* sf, const cJSON* obj, const char* name, const char* where, int n, double* out)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    const cJSON* e;
    int k = 0;
    if (!j) return 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != n)
        return dvs__fail(sf, where, "'%s' must be an array of %d numbers, got %s", name, n, dvren_json_type(j));
    cJSON_ArrayForEach(e, j)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return dvs__fail(sf, where, "'%s'[%d] must be a finite number, got %s", name, k, dvren_json_type(e));
        out[k++] = e->valuedouble;
    }
    return 0;
}

static int dvs__vecf(dvren_scenefile* sf, const cJSON* obj, const char* name, const char* where, int n, float* out)
{
    double d[16];
    int k;
    if (!cJSON_GetObjectItemCaseSensitive(obj, name)) return 0;
    if (dvs__vec(sf, obj, name, where, n, d)) return 1;
    for (k = 0; k < n; ++k) out[k] = (float)d[k];
    return 0;
}

static int dvs__string(dvren_scenefile* sf, const cJSON* obj, const char* name, const char* where, const char** out)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!j) return 0;
    if (!cJSON_IsString(j)) return dvs__fail(sf, where, "'%s' must be a string, got %s", name, dvren_json_type(j));
    *out = j->valuestring;
    return 0;
}

/* >>paths ------------------------------------------------------------------ */

static int dvs__is_dir(const char* p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where ${DVREN_DATA} points: the variable, else ../shared/data from the
 * working folder, else from the executable's folder (build/ -> ../../shared). */
static const char* dvs__data_dir(void)
{
    const char* e = getenv("DVREN_DATA");
    if (e && *e) return e;
    if (dvs__is_dir("../shared/data")) return "../shared/data";
#if !defined(_WIN32)
    {
        static char buf[DVREN_SCENEFILE_PATH];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 32);
        if (n > 0) {
            char* s;
            buf[n] = 0;
            s = strrchr(buf, '/');
            if (s) {
                strcpy(s, "/../../shared/data");
                if (dvs__is_dir(buf)) return buf;
            }
        }
    }
#endif
    return NULL;
}

/* Expands ${NAME} from the environment (${DVREN_DATA} has a default) and
 * makes a relative path relative to the scene file's folder. */
static int dvs__path(dvren_scenefile* sf, const char* in, const char* where, char* out, size_t cap)
{
    char tmp[DVREN_SCENEFILE_PATH];
    size_t n = 0;
    const char* p = in;
    while (*p && n + 1 < sizeof tmp) {
        if (p[0] == '$' && p[1] == '{') {
            const char* end = strchr(p, '}');
            char name[128];
            const char* val;
            if (!end || (size_t)(end - p - 2) >= sizeof name) return dvs__fail(sf, where, "unterminated ${...} in '%s'", in);
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
            val = strcmp(name, "DVREN_DATA") == 0 ? dvs__data_dir() : getenv(name);
            if (!val)
                return dvs__fail(sf, where, "'%s': ${%s} is not set%s", in, name,
                                 strcmp(name, "DVREN_DATA") == 0
                                     ? " and ../shared/data does not exist (hint: export DVREN_DATA=/path/to/data)"
                                     : "");
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s", val);
            if (n >= sizeof tmp) return dvs__fail(sf, where, "path '%s' is too long", in);
            p = end + 1;
        } else {
            tmp[n++] = *p++;
        }
    }
    if (*p) return dvs__fail(sf, where, "path '%s' is too long", in);
    tmp[n] = 0;
    {
        /* a path that starts with ${VAR} is where the variable says (absolute or
         * relative to the working folder), not inside the scene's folder */
        int absolute = tmp[0] == '/' || tmp[0] == '\\' || (tmp[0] && tmp[1] == ':') || (in[0] == '$' && in[1] == '{');
        size_t dl = absolute ? 0 : strlen(sf->dir), tl = strlen(tmp);
        if (dl + tl + 1 > cap) return dvs__fail(sf, where, "path '%s' is too long", in);
        memcpy(out, sf->dir, dl);
        memcpy(out + dl, tmp, tl + 1);
    }
    return 0;
}

/* A "plugins" entry is a file (relative to the scene's folder) when it has a
 * folder separator or the library extension; otherwise a name on the plugin path. */
static int dvs__is_library_path(const char* s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || strchr(s, '\\') || (n > 3 && !strcmp(s + n - 3, ".so")) ||
           (n > 4 && !strcmp(s + n - 4, ".dll")) || (n > 6 && !strcmp(s + n - 6, ".dylib"));
}

/* >>parse: the keys that come before a context --------------------------------- */

static const char* const dvs__top_keys[] = {"description", "device", "gpu",    "threads", "plugins", "field",
                                            "shader",      "sampler", "camera", "plan",    "output",  "foveate",
                                            NULL};

/* Reads the context and output keys; sf is zeroed except root/text/owns_root. */
static int dvs__read(dvren_scenefile* sf, const char* name, const cJSON* root, const char* dir)
{
    static const char* const gpu_keys[] = {"index", "name", "min_compute_capability", NULL};
    static const char* const out_keys[] = {"png", "png_bits", "png_alpha", "npy", NULL};
    const cJSON *j, *x;
    const char* desc = NULL;
    sf->name = name ? name : "scene";
    sf->device = "cpu";
    sf->png_bits = 8;
    if (dir) snprintf(sf->dir, sizeof sf->dir, "%s", dir);
    if (!cJSON_IsObject(root)) return dvs__fail(sf, NULL, "the scene must be a JSON object, got %s", dvren_json_type(root));
    if (!sf->root) sf->root = (cJSON*)root; /* borrowed */
    if (dvs__keys(sf, root, "scene", dvs__top_keys) || dvs__string(sf, root, "description", "scene", &desc) ||
        dvs__string(sf, root, "device", "scene", &sf->device))
        return 1;
    if (strcmp(sf->device, "cpu") && strcmp(sf->device, "cuda"))
        return dvs__fail(sf, "device", "'%s' is not one of cpu, cuda", sf->device);
    j = cJSON_GetObjectItemCaseSensitive(root, "gpu");
    if (j) {
        if (!cJSON_IsObject(j)) return dvs__fail(sf, "gpu", "must be an object, got %s", dvren_json_type(j));
        if (dvs__keys(sf, j, "gpu", gpu_keys) || dvs__u32(sf, j, "index", "gpu", 0, 1024, &sf->gpu_index) ||
            dvs__u32(sf, j, "min_compute_capability", "gpu", 0, 1000, &sf->gpu_min_cc) ||
            dvs__string(sf, j, "name", "gpu", &sf->gpu_name))
            return 1;
    }
    if (dvs__u32(sf, root, "threads", "scene", 0, 1024, &sf->threads)) return 1;
    /* "foveate": dvren_foveate's configuration, read (and its keys checked) by tools/dvren_foveate.h */
    j = cJSON_GetObjectItemCaseSensitive(root, "foveate");
    if (j && !cJSON_IsObject(j)) return dvs__fail(sf, "foveate", "must be an object, got %s", dvren_json_type(j));
    sf->foveate = j;
    sf->has_threads = cJSON_GetObjectItemCaseSensitive(root, "threads") != NULL;
    j = cJSON_GetObjectItemCaseSensitive(root, "output");
    if (j) {
        if (!cJSON_IsObject(j)) return dvs__fail(sf, "output", "must be an object, got %s", dvren_json_type(j));
        if (dvs__keys(sf, j, "output", out_keys) || dvs__string(sf, j, "png", "output", &sf->png) ||
            dvs__string(sf, j, "npy", "output", &sf->npy))
            return 1;
        x = cJSON_GetObjectItemCaseSensitive(j, "png_bits");
        if (x && (!cJSON_IsNumber(x) || (x->valuedouble != 8 && x->valuedouble != 16)))
            return dvs__fail(sf, "output", "'png_bits' must be 8 or 16");
        if (x) sf->png_bits = x->valuedouble == 16 ? 16 : 8;
        x = cJSON_GetObjectItemCaseSensitive(j, "png_alpha");
        if (x && !cJSON_IsBool(x)) return dvs__fail(sf, "output", "'png_alpha' must be true or false, got %s", dvren_json_type(x));
        sf->png_alpha = x && cJSON_IsTrue(x);
    }
    return 0;
}

int dvren_scenefile_from_json(dvren_scenefile* sf, const char* name, const cJSON* root, const char* dir)
{
    memset(sf, 0, sizeof *sf);
    return dvs__read(sf, name, root, dir);
}

int dvren_scenefile_parse(dvren_scenefile* sf, const char* name, const char* text, size_t len, const char* dir)
{
    cJSON* root;
    memset(sf, 0, sizeof *sf);
    sf->name = name ? name : "scene";
    root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char* e = cJSON_GetErrorPtr();
        int line = 1, col = 1;
        const char* p;
        if (e && (e < text || e > text + len)) e = NULL;
        for (p = text; e && p < e; ++p) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else
                col++;
        }
        return dvs__fail(sf, NULL, "line %d, column %d: JSON syntax error near '%.*s'", line, col,
                         e ? (int)((size_t)(text + len - e) < 20 ? (size_t)(text + len - e) : 20) : 0, e ? e : "");
    }
    sf->root = root;
    sf->owns_root = 1;
    return dvs__read(sf, name, root, dir);
}

int dvren_scenefile_load(dvren_scenefile* sf, const char* path)
{
    char err[256], dir[DVREN_SCENEFILE_PATH] = "";
    const char* s = strrchr(path, '/');
    size_t n = 0;
    char* text;
#if defined(_WIN32)
    const char* b = strrchr(path, '\\');
    if (b && (!s || b > s)) s = b;
#endif
    memset(sf, 0, sizeof *sf);
    sf->name = path;
    text = dvren_io_read_file(path, DVREN_SCENEFILE_MAX_BYTES, &n, err, sizeof err);
    if (!text) {
        sf->status = DVREN_ERROR_IO;
        return dvs__fail(sf, NULL, "%s", err);
    }
    if (s) snprintf(dir, sizeof dir, "%.*s", (int)(s - path + 1), path);
    if (dvren_scenefile_parse(sf, path, text, n, dir)) {
        free(text);
        return 1;
    }
    sf->text = text; /* cJSON copies strings, but keep it for the scene's lifetime anyway: cheap */
    return 0;
}

void dvren_scenefile_free(dvren_scenefile* sf)
{
    dvren_stage_destroy(sf->field);
    dvren_stage_destroy(sf->shader);
    dvren_stage_destroy(sf->sampler);
    if (sf->owns_root) cJSON_Delete(sf->root);
    free(sf->text);
    sf->field = sf->shader = sf->sampler = NULL;
    sf->root = NULL;
    sf->text = NULL;
    sf->owns_root = 0;
}

/* >>params: plugin parameters from JSON, checked against the plugin's schema */

static int dvs__params(dvren_scenefile* sf, const dvren_plugin_desc* pl, const cJSON* jp, const char* where,
                       dvren_params* out)
{
    const cJSON* it;
    char key[256];
    if (!jp) return 0;
    if (!cJSON_IsObject(jp)) return dvs__fail(sf, where, "'params' must be an object, got %s", dvren_json_type(jp));
    cJSON_ArrayForEach(it, jp)
    {
        const dvren_param_desc* d = NULL;
        uint32_t i;
        snprintf(key, sizeof key, "%s.params.%s", where, it->string ? it->string : "");
        for (i = 0; i < pl->param_count && !d; ++i)
            if (it->string && strcmp(dvren_plugin_param(pl, i)->name, it->string) == 0) d = dvren_plugin_param(pl, i);
        if (!d) {
            char known[1024] = "";
            size_t n = 0;
            for (i = 0; i < pl->param_count && n < sizeof known - 64; ++i)
                n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", dvren_plugin_param(pl, i)->name);
            return dvs__fail(sf, key, "unknown parameter of %s plugin '%s' (known: %s)", dvren_plugin_kind_name(pl->kind),
                             pl->name, known);
        }
        switch (d->type) {
        case DVREN_PARAM_FLOAT:
        case DVREN_PARAM_INT:
            if (!cJSON_IsNumber(it)) return dvs__fail(sf, key, "expected a number, got %s", dvren_json_type(it));
            if (DVS_LIB(sf, dvren_params_set_number(out, d->name, it->valuedouble))) return dvs__fail_lib(sf, key);
            break;
        case DVREN_PARAM_BOOL:
            if (!cJSON_IsBool(it)) return dvs__fail(sf, key, "expected true or false, got %s", dvren_json_type(it));
            if (DVS_LIB(sf, dvren_params_set_bool(out, d->name, cJSON_IsTrue(it)))) return dvs__fail_lib(sf, key);
            break;
        case DVREN_PARAM_STRING:
        case DVREN_PARAM_ENUM:
        case DVREN_PARAM_PATH: {
            char path[DVREN_SCENEFILE_PATH];
            const char* v = it->valuestring;
            if (!cJSON_IsString(it)) return dvs__fail(sf, key, "expected a string, got %s", dvren_json_type(it));
            if (d->type == DVREN_PARAM_PATH) {
                if (dvs__path(sf, v, key, path, sizeof path)) return 1;
                v = path;
            }
            if (DVS_LIB(sf, dvren_params_set_string(out, d->name, v))) return dvs__fail_lib(sf, key);
            break;
        }
        case DVREN_PARAM_FLOATS: {
            /* [1, 2, 3] or nested rows [[1, 2], [3, 4]] (flattened; rows of `stride` numbers) */
            double vals[4096];
            uint32_t n = 0;
            const cJSON* e;
            if (!cJSON_IsArray(it)) return dvs__fail(sf, key, "expected an array of numbers, got %s", dvren_json_type(it));
            cJSON_ArrayForEach(e, it)
            {
                if (cJSON_IsNumber(e)) {
                    if (n >= 4096) return dvs__fail(sf, key, "more than 4096 numbers");
                    vals[n++] = e->valuedouble;
                } else if (cJSON_IsArray(e)) {
                    const cJSON* f;
                    if (d->stride > 1 && (uint32_t)cJSON_GetArraySize(e) != d->stride)
                        return dvs__fail(sf, key, "each row must hold %u numbers, a row has %d", (unsigned)d->stride,
                                         cJSON_GetArraySize(e));
                    cJSON_ArrayForEach(f, e)
                    {
                        if (!cJSON_IsNumber(f)) return dvs__fail(sf, key, "expected numbers, got %s", dvren_json_type(f));
                        if (n >= 4096) return dvs__fail(sf, key, "more than 4096 numbers");
                        vals[n++] = f->valuedouble;
                    }
                } else {
                    return dvs__fail(sf, key, "expected numbers, got %s", dvren_json_type(e));
                }
            }
            if (DVS_LIB(sf, dvren_params_set_numbers(out, d->name, vals, n))) return dvs__fail_lib(sf, key);
            break;
        }
        case DVREN_PARAM_TENSOR:
            return dvs__fail(sf, key, "tensor parameters can only be set from C (dvren_params_set_tensor)");
        default: return dvs__fail(sf, key, "parameter type %d is unknown to this reader", (int)d->type);
        }
    }
    return 0;
}

/* >>presets: transfer functions placed on the field's value range ------------- */

/* Control points at fractions t of the robust value range [lo, hi]: opacity
 * rows (t, opacity), colour rows (t, r, g, b); sigma is the density scale
 * times the box's diagonal (so a preset looks alike in any world size). */
typedef struct dvs__preset {
    const char* name;
    int n_op, n_col;
    double op[8][2], col[6][4];
    double sigma_diag;
} dvs__preset;

static const dvs__preset dvs__preset_table[] = {
    /* any volume: nothing below a fifth of the range, then rising to opaque */
    {"auto", 4, 4, {{0, 0}, {0.2, 0}, {0.5, 0.5}, {1, 1}},
     {{0.2, 0.3, 0.45, 0.85}, {0.45, 0.55, 0.75, 0.7}, {0.7, 0.95, 0.7, 0.4}, {1, 1, 0.95, 0.85}}, 120},
    /* CT: a faint skin shell (soft tissue) over opaque bone (tuned on the CT
     * head of ../shared/data, whose robust range is [0, 2271]: skin 450..1000,
     * bone from 1180) */
    {"ct_skin", 8, 4, {{0, 0}, {0.2, 0}, {0.3, 0.12}, {0.44, 0.12}, {0.5, 0}, {0.52, 0}, {0.62, 1}, {1, 1}},
     {{0.2, 0.9, 0.6, 0.5}, {0.44, 0.95, 0.75, 0.65}, {0.53, 1, 0.95, 0.85}, {1, 1, 1, 1}}, 136},
    /* CT: bone only */
    {"ct_bone", 4, 3, {{0, 0}, {0.52, 0}, {0.62, 1}, {1, 1}},
     {{0.52, 0.95, 0.85, 0.7}, {0.7, 1, 0.95, 0.85}, {1, 1, 1, 1}}, 136},
    /* MR (T1-like): faint skin, brighter tissue warm and opaque */
    {"mr", 6, 4, {{0, 0}, {0.08, 0}, {0.16, 0.05}, {0.28, 0.05}, {0.36, 0.8}, {1, 1}},
     {{0.08, 0.6, 0.55, 0.5}, {0.28, 0.85, 0.7, 0.6}, {0.36, 0.95, 0.72, 0.62}, {1, 1, 0.95, 0.9}}, 100},
};

const char* const* dvren_scenefile_presets(void)
{
    static const char* const names[] = {"auto", "ct_skin", "ct_bone", "mr", NULL};
    return names;
}

static int dvs__cmp_float(const void* a, const void* b)
{
    float x = *(const float*)a, y = *(const float*)b;
    return x < y ? -1 : x > y;
}

/* The field's robust value range: channel ch sampled on a 32^3 lattice of
 * cell centres inside its box; lo is the 1st percentile, hi the 99.5th of
 * the samples above lo (so that a volume mostly of empty space keeps the
 * range of what it holds). */
static int dvs__value_range(dvren_scenefile* sf, uint32_t ch, float range[2])
{
    enum { N = 32 };
    dvren_instance_info info = {0};
    float *xyz = NULL, *out = NULL, *vals = NULL;
    size_t n = (size_t)N * N * N, k, m = 0, first;
    int i, j, l, rc = 1;
    if (DVS_LIB(sf, dvren_stage_info(sf->field, &info))) return dvs__fail_lib(sf, "field");
    if (ch >= info.channels) return dvs__fail(sf, "shader.preset", "the field has %u channels, the shader reads channel %u",
                                              (unsigned)info.channels, (unsigned)ch);
    xyz = (float*)malloc(n * 3 * sizeof(float));
    out = (float*)malloc(n * info.channels * sizeof(float));
    vals = (float*)malloc(n * sizeof(float));
    if (!xyz || !out || !vals) {
        dvs__fail(sf, "shader.preset", "out of memory for the histogram");
        goto done;
    }
    for (l = 0, k = 0; l < N; ++l)
        for (j = 0; j < N; ++j)
            for (i = 0; i < N; ++i, ++k) {
                int c, ijk[3];
                ijk[0] = i;
                ijk[1] = j;
                ijk[2] = l;
                for (c = 0; c < 3; ++c)
                    xyz[3 * k + c] = info.bounds_min[c] + (info.bounds_max[c] - info.bounds_min[c]) * ((float)ijk[c] + 0.5f) / N;
            }
    if (DVS_LIB(sf, dvren_field_sample(sf->field, (uint32_t)n, xyz, out))) {
        dvs__fail_lib(sf, "shader.preset");
        goto done;
    }
    for (k = 0; k < n; ++k)
        if (isfinite(out[k * info.channels + ch])) vals[m++] = out[k * info.channels + ch];
    if (m == 0) {
        dvs__fail(sf, "shader.preset", "the field has no finite value to place the preset on");
        goto done;
    }
    qsort(vals, m, sizeof *vals, dvs__cmp_float);
    range[0] = vals[m / 100];
    for (first = m / 100; first < m && vals[first] <= range[0]; ++first) {
    }
    range[1] = first < m ? vals[first + (size_t)((double)(m - 1 - first) * 0.995)] : range[0];
    if (!(range[1] > range[0])) range[1] = range[0] + 1.0f; /* a constant field: any ramp will do */
    rc = 0;
done:
    free(xyz);
    free(out);
    free(vals);
    return rc;
}

/* Fills p with the preset's tf_opacity, tf_color, sigma_scale and shading
 * (the scene's own params, set after, override them). */
static int dvs__apply_preset(dvren_scenefile* sf, const char* name, const cJSON* jparams, dvren_params* p)
{
    const dvs__preset* pr = NULL;
    double op[16], col[24], diag = 0.0, ch = 0.0;
    dvren_instance_info info = {0};
    size_t i;
    int k;
    for (i = 0; i < sizeof dvs__preset_table / sizeof dvs__preset_table[0]; ++i)
        if (!strcmp(dvs__preset_table[i].name, name)) pr = &dvs__preset_table[i];
    if (!pr) return dvs__fail(sf, "shader.preset", "'%s' is not one of auto, ct_skin, ct_bone, mr", name);
    if (jparams && cJSON_IsObject(jparams) && dvs__number(sf, jparams, "scalar_channel", "shader.params", &ch)) return 1;
    if (!(ch >= 0 && ch < 16) || floor(ch) != ch) return dvs__fail(sf, "shader.params", "'scalar_channel' must be an integer in 0..15");
    if (dvs__value_range(sf, (uint32_t)ch, sf->value_range)) return 1;
    if (DVS_LIB(sf, dvren_stage_info(sf->field, &info))) return dvs__fail_lib(sf, "field");
    for (k = 0; k < 3; ++k) diag += (double)(info.bounds_max[k] - info.bounds_min[k]) * (info.bounds_max[k] - info.bounds_min[k]);
    diag = sqrt(diag);
    for (k = 0; k < pr->n_op; ++k) {
        op[2 * k] = sf->value_range[0] + pr->op[k][0] * (sf->value_range[1] - sf->value_range[0]);
        op[2 * k + 1] = pr->op[k][1];
    }
    for (k = 0; k < pr->n_col; ++k) {
        col[4 * k] = sf->value_range[0] + pr->col[k][0] * (sf->value_range[1] - sf->value_range[0]);
        col[4 * k + 1] = pr->col[k][1];
        col[4 * k + 2] = pr->col[k][2];
        col[4 * k + 3] = pr->col[k][3];
    }
    if (DVS_LIB(sf, dvren_params_set_numbers(p, "tf_opacity", op, (uint32_t)(2 * pr->n_op))) ||
        DVS_LIB(sf, dvren_params_set_numbers(p, "tf_color", col, (uint32_t)(4 * pr->n_col))) ||
        DVS_LIB(sf, dvren_params_set_number(p, "sigma_scale", pr->sigma_diag / (diag > 0.0 ? diag : 1.0))) ||
        DVS_LIB(sf, dvren_params_set_bool(p, "shading", 1)))
        return dvs__fail_lib(sf, "shader.preset");
    return 0;
}

/* >>stages ------------------------------------------------------------------- */

static int dvs__stage(dvren_scenefile* sf, const char* slot, dvren_plugin_kind kind, const char* def, dvren_stage** out)
{
    static const char* const keys[] = {"plugin", "params", NULL};
    static const char* const shader_keys[] = {"plugin", "params", "preset", NULL};
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(sf->root, slot);
    const cJSON* jparams = NULL;
    const char* name = def;
    const char* preset = NULL;
    const dvren_plugin_desc* pl;
    dvren_params* p = NULL;
    int rc = 0;
    if (!j) {
        if (!def) return dvs__fail(sf, slot, "missing: this block is required (give {\"plugin\": name, \"params\": {...}})");
    } else {
        if (!cJSON_IsObject(j)) return dvs__fail(sf, slot, "must be an object, got %s", dvren_json_type(j));
        if (dvs__keys(sf, j, slot, kind == DVREN_PLUGIN_SHADER ? shader_keys : keys) ||
            dvs__string(sf, j, "plugin", slot, &name) || dvs__string(sf, j, "preset", slot, &preset))
            return 1;
        if (!name) return dvs__fail(sf, slot, "'plugin' is missing");
        jparams = cJSON_GetObjectItemCaseSensitive(j, "params");
    }
    if (DVS_LIB(sf, dvren_plugin_find(sf->ctx, kind, name, &pl))) return dvs__fail_lib(sf, slot);
    if (DVS_LIB(sf, dvren_params_create(sf->ctx, &p))) return dvs__fail_lib(sf, slot);
    if (preset) {
        uint32_t i, has_tf = 0;
        for (i = 0; i < pl->param_count; ++i)
            has_tf += !strcmp(dvren_plugin_param(pl, i)->name, "tf_opacity") || !strcmp(dvren_plugin_param(pl, i)->name, "tf_color");
        if (has_tf != 2)
            rc = dvs__fail(sf, "shader.preset", "plugin '%s' has no tf_opacity and tf_color parameters to put a preset in", name);
        else
            rc = dvs__apply_preset(sf, preset, jparams, p);
    }
    if (!rc) rc = dvs__params(sf, pl, jparams, slot, p);
    if (!rc && DVS_LIB(sf, dvren_stage_create(sf->ctx, kind, name, p, out))) rc = dvs__fail_lib(sf, slot);
    dvren_params_destroy(p);
    return rc;
}

int dvren_scenefile_stage(dvren_scenefile* sf, dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                          const cJSON* params, const char* key, dvren_stage** out)
{
    const dvren_plugin_desc* pl;
    dvren_params* p = NULL;
    int rc = 0;
    *out = NULL;
    if (ctx) sf->ctx = ctx;
    if (!sf->ctx) return dvs__fail(sf, key, "no context (build the scene first)");
    if (DVS_LIB(sf, dvren_plugin_find(sf->ctx, kind, name, &pl))) return dvs__fail_lib(sf, key);
    if (DVS_LIB(sf, dvren_params_create(sf->ctx, &p))) return dvs__fail_lib(sf, key);
    rc = dvs__params(sf, pl, params, key, p);
    if (!rc && DVS_LIB(sf, dvren_stage_create(sf->ctx, kind, name, p, out))) rc = dvs__fail_lib(sf, key);
    dvren_params_destroy(p);
    return rc;
}

/* >>camera ------------------------------------------------------------------- */

static void dvs__normalize(double v[3])
{
    double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (n > 0) v[0] /= n, v[1] /= n, v[2] /= n;
}

/* "auto": looks at the centre of the field's box from direction dir (default:
 * front-right, a little above, relative to up) from the distance at which
 * the box's bounding sphere fills the narrower field of view. */
static int dvs__auto_camera(dvren_scenefile* sf, const double up_in[3], const double* dir_in, double fov_deg, float eye[3],
                            float target[3], float up[3])
{
    dvren_instance_info info = {0};
    double r = 0.0, c[3], dir[3], upn[3], half, aspect, d;
    int k;
    if (!sf->field) return dvs__fail(sf, "camera", "\"auto\" needs a field to frame");
    if (DVS_LIB(sf, dvren_stage_info(sf->field, &info))) return dvs__fail_lib(sf, "camera");
    for (k = 0; k < 3; ++k) {
        double e = 0.5 * (info.bounds_max[k] - info.bounds_min[k]);
        c[k] = 0.5 * ((double)info.bounds_max[k] + info.bounds_min[k]);
        r += e * e;
        upn[k] = up_in[k];
    }
    r = sqrt(r);
    if (!(r > 0) || !isfinite(r)) return dvs__fail(sf, "camera", "\"auto\": the field's box is empty or infinite");
    dvs__normalize(upn);
    if (dir_in) {
        for (k = 0; k < 3; ++k) dir[k] = dir_in[k];
    } else {
        /* a three-quarter view: x and -y in the plane, raised along up */
        dir[0] = 1.0;
        dir[1] = -1.6;
        dir[2] = 0.0;
        for (k = 0; k < 3; ++k) dir[k] += 0.8 * upn[k];
    }
    dvs__normalize(dir);
    if (!(fabs(dir[0]) + fabs(dir[1]) + fabs(dir[2]) > 0)) return dvs__fail(sf, "camera", "'direction' must not be zero");
    aspect = (double)sf->plan.width / (double)sf->plan.height;
    half = 0.5 * fov_deg * 3.14159265358979323846 / 180.0;
    if (aspect < 1.0) half = atan(tan(half) * aspect); /* the horizontal field of view is the narrower */
    d = 1.05 * r / sin(half);
    for (k = 0; k < 3; ++k) {
        eye[k] = (float)(c[k] + d * dir[k]);
        target[k] = (float)c[k];
        up[k] = (float)upn[k];
    }
    return 0;
}

static int dvs__camera(dvren_scenefile* sf, dvren_camera* cam)
{
    static const char* const keys[] = {"type", "eye", "target", "up", "fov_y_deg", "height", "view", "projection",
                                       "direction", NULL};
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(sf->root, "camera");
    const char* type = "perspective";
    float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0}, view[16], proj[16];
    double fov = 45.0, height = 2.0, dup[3] = {0, 0, 1}, dir[3];
    int has_dir = 0;
    if (!j || (cJSON_IsString(j) && !strcmp(j->valuestring, "auto"))) {
        type = "auto";
        j = NULL;
    } else {
        if (!cJSON_IsObject(j)) return dvs__fail(sf, "camera", "must be an object or \"auto\", got %s", dvren_json_type(j));
        if (dvs__keys(sf, j, "camera", keys) || dvs__string(sf, j, "type", "camera", &type) ||
            dvs__vecf(sf, j, "eye", "camera", 3, eye) || dvs__vecf(sf, j, "target", "camera", 3, target) ||
            dvs__vecf(sf, j, "up", "camera", 3, up) || dvs__number(sf, j, "fov_y_deg", "camera", &fov) ||
            dvs__number(sf, j, "height", "camera", &height) || dvs__vec(sf, j, "direction", "camera", 3, dir))
            return 1;
        has_dir = cJSON_GetObjectItemCaseSensitive(j, "direction") != NULL;
        if (has_dir && strcmp(type, "auto"))
            return dvs__fail(sf, "camera", "'direction' is for \"type\": \"auto\" only");
    }
    if (!strcmp(type, "auto")) {
        if (j && cJSON_GetObjectItemCaseSensitive(j, "up")) dup[0] = up[0], dup[1] = up[1], dup[2] = up[2];
        if (!(fov > 1.0 && fov < 179.0)) return dvs__fail(sf, "camera", "'fov_y_deg' must be in (1, 179), got %g", fov);
        if (dvs__auto_camera(sf, dup, has_dir ? dir : NULL, fov, eye, target, up)) return 1;
        type = "perspective";
    }
    if (!strcmp(type, "perspective")) {
        if (dvren_camera_look_at(eye, target, up, (float)(fov * 3.14159265358979323846 / 180.0), cam))
            return dvs__fail(sf, "camera", "%s", dvren_last_error(NULL));
    } else if (!strcmp(type, "orthographic")) {
        if (dvren_camera_orthographic(eye, target, up, (float)height, cam))
            return dvs__fail(sf, "camera", "%s", dvren_last_error(NULL));
    } else if (!strcmp(type, "matrix")) {
        if (!cJSON_GetObjectItemCaseSensitive(j, "view") || !cJSON_GetObjectItemCaseSensitive(j, "projection"))
            return dvs__fail(sf, "camera", "type 'matrix' needs 'view' and 'projection' (16 numbers each, column-major)");
        if (dvs__vecf(sf, j, "view", "camera", 16, view) || dvs__vecf(sf, j, "projection", "camera", 16, proj)) return 1;
        if (dvren_camera_from_matrices(view, proj, cam)) return dvs__fail(sf, "camera", "%s", dvren_last_error(NULL));
    } else {
        return dvs__fail(sf, "camera.type", "'%s' is not one of perspective, orthographic, matrix, auto", type);
    }
    return 0;
}

/* >>plan --------------------------------------------------------------------- */

static int dvs__plan(dvren_scenefile* sf, dvren_plan_desc* d)
{
    static const char* const keys[] = {"width", "height", "spp", "seed", "step", "samples_per_ray", "min_transmittance",
                                       "roi", "background", "outputs", NULL};
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(sf->root, "plan");
    double step = 0.0, seed = 0.0, min_t = 0.0;
    d->width = d->height = 512;
    if (j) {
        const cJSON* outs;
        if (!cJSON_IsObject(j)) return dvs__fail(sf, "plan", "must be an object, got %s", dvren_json_type(j));
        if (dvs__keys(sf, j, "plan", keys) || dvs__u32(sf, j, "width", "plan", 1, 32768, &d->width) ||
            dvs__u32(sf, j, "height", "plan", 1, 32768, &d->height) || dvs__u32(sf, j, "spp", "plan", 1, 65536, &d->spp) ||
            dvs__u32(sf, j, "samples_per_ray", "plan", 0, 1u << 20, &d->samples_per_ray) ||
            dvs__number(sf, j, "step", "plan", &step) || dvs__number(sf, j, "min_transmittance", "plan", &min_t) ||
            dvs__int(sf, j, "seed", "plan", 0, 9007199254740992.0 /* 2^53: every integer exact */, &seed) ||
            dvs__vecf(sf, j, "background", "plan", 3, d->background))
            return 1;
        if (!(step >= 0 && step <= 1e30)) return dvs__fail(sf, "plan", "'step' must be in [0, 1e30], got %g", step);
        if (!(min_t < 1 && min_t >= -1))
            return dvs__fail(sf, "plan", "'min_transmittance' must be in [-1, 1) (negative: no early termination), got %g", min_t);
        d->step_world = (float)step;
        d->min_transmittance = (float)min_t;
        d->seed = (uint64_t)seed;
        if (cJSON_GetObjectItemCaseSensitive(j, "roi")) {
            double r[4];
            int k;
            if (dvs__vec(sf, j, "roi", "plan", 4, r)) return 1;
            for (k = 0; k < 4; ++k)
                if (!(r[k] >= (k < 2 ? 0 : 1) && r[k] <= 32768) || floor(r[k]) != r[k])
                    return dvs__fail(sf, "plan", "'roi' must be [x, y, w, h], integers, x and y in 0..32768, w and h in "
                                                 "1..32768, got %g at [%d]", r[k], k);
            d->roi.x = (uint32_t)r[0];
            d->roi.y = (uint32_t)r[1];
            d->roi.w = (uint32_t)r[2];
            d->roi.h = (uint32_t)r[3];
        }
        outs = cJSON_GetObjectItemCaseSensitive(j, "outputs");
        if (outs) {
            const cJSON* e;
            if (!cJSON_IsArray(outs)) return dvs__fail(sf, "plan", "'outputs' must be an array of names, got %s", dvren_json_type(outs));
            cJSON_ArrayForEach(e, outs)
            {
                uint32_t bit, found = 0;
                if (!cJSON_IsString(e)) return dvs__fail(sf, "plan.outputs", "expected names, got %s", dvren_json_type(e));
                for (bit = 1; bit & DVREN_OUTPUT_ALL; bit <<= 1)
                    if (!strcmp(dvren_output_name(bit), e->valuestring)) found = bit;
                if (!found)
                    return dvs__fail(sf, "plan.outputs",
                                     "'%s' is not one of rgb, alpha, depth, transmittance, hit, samples, variance, surface_id",
                                     e->valuestring);
                d->outputs |= found;
            }
        }
    }
    if (sf->override_width) d->width = sf->override_width;
    if (sf->override_height) d->height = sf->override_height;
    if (sf->override_spp) d->spp = sf->override_spp;
    if (sf->override_seed) d->seed = sf->override_seed_value;
    d->outputs |= DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    return 0;
}

/* >>build -------------------------------------------------------------------- */

int dvren_scenefile_build(dvren_scenefile* sf, dvren_context* ctx)
{
    const cJSON* jp;
    const cJSON* e;
    sf->ctx = ctx;
    if (!sf->root) return dvs__fail(sf, NULL, "no scene was read");
    jp = cJSON_GetObjectItemCaseSensitive(sf->root, "plugins");
    if (jp && !cJSON_IsArray(jp)) return dvs__fail(sf, "plugins", "must be an array of library paths or names, got %s", dvren_json_type(jp));
    cJSON_ArrayForEach(e, jp)
    {
        char path[DVREN_SCENEFILE_PATH];
        if (!cJSON_IsString(e)) return dvs__fail(sf, "plugins", "expected strings, got %s", dvren_json_type(e));
        if (dvs__is_library_path(e->valuestring)) {
            if (dvs__path(sf, e->valuestring, "plugins", path, sizeof path)) return 1;
        } else {
            snprintf(path, sizeof path, "%s", e->valuestring);
        }
        if (DVS_LIB(sf, dvren_plugin_load(ctx, path))) return dvs__fail_lib(sf, "plugins");
    }
    memset(&sf->plan, 0, sizeof sf->plan);
    if (dvs__plan(sf, &sf->plan) || dvs__stage(sf, "field", DVREN_PLUGIN_FIELD, NULL, &sf->field) ||
        dvs__stage(sf, "shader", DVREN_PLUGIN_SHADER, "emission_absorption", &sf->shader) ||
        dvs__stage(sf, "sampler", DVREN_PLUGIN_SAMPLER, "uniform", &sf->sampler) || dvs__camera(sf, &sf->plan.camera))
        return 1;
    return 0;
}

#endif /* DVREN_SCENE_IMPLEMENTATION_ONCE */
#endif /* DVREN_SCENE_IMPLEMENTATION */
