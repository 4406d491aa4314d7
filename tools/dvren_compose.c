/* tools/dvren_compose.c - place Gaussian-splat objects in one scene and
 * write it as one 3DGS PLY (docs/splats.md, "Composition"; docs/tools.md).
 *
 *   dvren_compose scene.json -o out.ply [--lenient]
 *
 * scene.json:
 *   {"objects": [
 *      {"name": "chair",                       optional, for messages
 *       "file": "chair.ply",                   required; relative to the JSON's folder
 *       "scale": 1.5,                          optional, > 0, default 1 (uniform)
 *       "rotation": {"quaternion": [w, x, y, z]}          optional, default none; one of:
 *                 | {"axis_angle_deg": [ax, ay, az, deg]}   right-handed about the axis
 *                 | {"euler_deg": [x, y, z]}                "xyz" extrinsic: about world x,
 *                                                             then world y, then world z
 *       "translation": [x, y, z]}              optional, default 0
 *   ]}
 * Each object's Gaussians move by x' = scale R x + translation
 * (tools/dvren_splat_compose.h: means, log-scales, quaternions, normals and
 * the SH of degree 1..3 rotated); the objects are concatenated in order
 * (SH degree the largest, missing coefficients zero). Quaternions need not
 * be unit length (they are normalised) but must not be zero.
 *
 * --lenient reads input PLYs with bytes after the last vertex (a warning,
 * DVREN_SPLAT_PLY_LENIENT). The output is written atomically once every
 * input is read and moved; on any error nothing is written.
 *
 * Exit status: 0 written; 1 any error, with one line on stderr naming the
 * file and the field ("scene.json: objects[1].rotation.quaternion: ...",
 * "scene.json: objects[0].file: splat_ply: 'a.ply': ..."). --help: 0. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SPLAT_PLY_IMPLEMENTATION
#include "dvren_splat_ply.h"
#define DVREN_SPLAT_COMPOSE_IMPLEMENTATION
#include "dvren_splat_compose.h"

#include <cjson/cJSON.h>
#include "dvren_json.h"
#include "dvren_transform_json.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DCP_MAX_JSON ((long)64 << 20) /* larger scene files are refused */
#define DCP_PATH 4096

static const char* dcp_scene = "scene";

/* "dvren_compose: <scene>: <field>: <problem>" on stderr; returns 1. */
static int dcp_fail(const char* field, const char* fmt, ...) DVREN_PRINTF(2, 3);
static int dcp_fail(const char* field, const char* fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dvren_compose: %s: ", dcp_scene);
    if (field) fprintf(stderr, "%s: ", field);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}


/* Every key of obj in the NULL-terminated allowed list. */
static int dcp_keys(const cJSON* obj, const char* where, const char* const* allowed)
{
    char known[256];
    const char* bad = dvren_json_unknown_key(obj, allowed, known, sizeof known);
    return bad ? dcp_fail(where, "unknown key '%s' (known: %s)", bad, known) : 0;
}

/* Reads one object: its file loaded into *s and moved by its transform. */
static int dcp_object(dvren_context* ctx, const cJSON* o, int i, const char* dir, unsigned flags, dvren_splats* s)
{
    static const char* const keys[] = {"name", "file", "scale", "rotation", "translation", NULL};
    char where[96], f[128], path[DCP_PATH];
    const cJSON* j;
    const char* name = NULL;
    dvren_splat_transform T = dvren_splat_transform_identity();
    snprintf(where, sizeof where, "objects[%d]", i);
    if (!cJSON_IsObject(o)) return dcp_fail(where, "must be an object, got %s", dvren_json_type(o));
    if (dcp_keys(o, where, keys)) return 1;
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "name")) != NULL) {
        if (!cJSON_IsString(j)) return dcp_fail(where, "'name' must be a string, got %s", dvren_json_type(j));
        name = j->valuestring;
    }
    if (name) snprintf(where, sizeof where, "objects[%d] (\"%.40s\")", i, name);
    j = cJSON_GetObjectItemCaseSensitive(o, "file");
    snprintf(f, sizeof f, "%s.file", where);
    if (!j) return dcp_fail(f, "missing: give the object's PLY file");
    if (!cJSON_IsString(j) || !j->valuestring[0]) return dcp_fail(f, "must be a non-empty string, got %s", dvren_json_type(j));
    if (j->valuestring[0] == '/' || !dir[0]) {
        if (strlen(j->valuestring) >= sizeof path) return dcp_fail(f, "path too long");
        snprintf(path, sizeof path, "%s", j->valuestring);
    } else if ((size_t)snprintf(path, sizeof path, "%s%s", dir, j->valuestring) >= sizeof path)
        return dcp_fail(f, "path too long");
    {
        /* scale, rotation, translation: the parser the mesh composer shares (tools/dvren_transform_json.h) */
        char why[1024];
        if (dvren_transform_json_read(ctx, o, where, &T, why, sizeof why)) return dcp_fail(NULL, "%s", why);
    }
    snprintf(f, sizeof f, "%s.file", where);
    if (dvren_splat_ply_load(ctx, path, flags, s) != DVREN_OK)
        return dcp_fail(f, "%s%s", dvren_last_error(ctx),
                        (!(flags & DVREN_SPLAT_PLY_LENIENT) && strstr(dvren_last_error(ctx), "after the last"))
                            ? " (--lenient accepts such files)"
                            : "");
    if (dvren_splats_transform(ctx, s, &T) != DVREN_OK) return dcp_fail(where, "%s", dvren_last_error(ctx));
    return 0;
}

static void dcp_usage(FILE* f)
{
    fprintf(f, "usage: dvren_compose scene.json -o out.ply [--lenient]\n"
               "  scene.json: {\"objects\": [{\"name\": ..., \"file\": \"a.ply\", \"scale\": 1.5,\n"
               "               \"rotation\": {\"quaternion\": [w,x,y,z]} | {\"axis_angle_deg\": [ax,ay,az,deg]}\n"
               "                           | {\"euler_deg\": [x,y,z]} (xyz extrinsic),\n"
               "               \"translation\": [x,y,z]}, ...]}\n"
               "  files are relative to the JSON's folder; see docs/splats.md, \"Composition\"\n"
               "  --lenient   accept input PLYs with bytes after the last vertex\n");
}

int main(int argc, char** argv)
{
    const char *in = NULL, *out = NULL;
    unsigned flags = 0;
    char dir[DCP_PATH] = "";
    char* text = NULL;
    cJSON* root = NULL;
    const cJSON* objs;
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_splats* parts = NULL;
    const dvren_splats** ptrs = NULL;
    dvren_splats all;
    int i, n = 0, rc = 1;
    long len;
    FILE* fp;
    memset(&all, 0, sizeof all);
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            dcp_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--lenient"))
            flags |= DVREN_SPLAT_PLY_LENIENT;
        else if (argv[i][0] == '-' || in) {
            fprintf(stderr, "dvren_compose: unknown or extra argument '%s'\n", argv[i]);
            dcp_usage(stderr);
            return 1;
        } else
            in = argv[i];
    }
    if (!in || !out) {
        fprintf(stderr, "dvren_compose: %s\n", !in ? "no scene file given" : "no output given (-o out.ply)");
        dcp_usage(stderr);
        return 1;
    }
    dcp_scene = in;
    {
        const char* slash = strrchr(in, '/');
        if (slash && (size_t)(slash - in + 1) < sizeof dir) {
            memcpy(dir, in, (size_t)(slash - in + 1));
            dir[slash - in + 1] = 0;
        }
    }
    fp = fopen(in, "rb");
    if (!fp) return dcp_fail(NULL, "cannot open: %s", strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || len > DCP_MAX_JSON || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return dcp_fail(NULL, "cannot read (or larger than %ld bytes)", DCP_MAX_JSON);
    }
    text = (char*)malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, fp) != (size_t)len) {
        fclose(fp);
        free(text);
        return dcp_fail(NULL, "cannot read");
    }
    fclose(fp);
    text[len] = 0;
    root = cJSON_ParseWithLength(text, (size_t)len);
    if (!root) {
        const char* e = cJSON_GetErrorPtr();
        int line = 1;
        const char* p;
        if (e && (e < text || e > text + len)) e = NULL;
        for (p = text; e && p < e; ++p) line += *p == '\n';
        dcp_fail(NULL, "line %d: JSON syntax error", line);
        goto done;
    }
    {
        static const char* const keys[] = {"objects", NULL};
        if (!cJSON_IsObject(root)) {
            dcp_fail(NULL, "the top level must be an object {\"objects\": [...]}, got %s", dvren_json_type(root));
            goto done;
        }
        if (dcp_keys(root, "(top level)", keys)) goto done;
    }
    objs = cJSON_GetObjectItemCaseSensitive(root, "objects");
    if (!objs) {
        dcp_fail("objects", "missing: give an array of objects");
        goto done;
    }
    if (!cJSON_IsArray(objs) || cJSON_GetArraySize(objs) < 1) {
        dcp_fail("objects", "must be a non-empty array, got %s", dvren_json_type(objs));
        goto done;
    }
    n = cJSON_GetArraySize(objs);
    parts = (dvren_splats*)calloc((size_t)n, sizeof *parts);
    ptrs = (const dvren_splats**)calloc((size_t)n, sizeof *ptrs);
    memset(&cd, 0, sizeof cd);
    cd.log = dvren_log_to_file; /* warnings (--lenient, dropped extras) on stderr */
    cd.log_level = DVREN_LOG_WARN;
    if (!parts || !ptrs || dvren_context_create(&cd, &ctx) != DVREN_OK) {
        dcp_fail(NULL, "cannot start: %s", dvren_last_error(NULL));
        goto done;
    }
    for (i = 0; i < n; ++i) {
        if (dcp_object(ctx, cJSON_GetArrayItem(objs, i), i, dir, flags, &parts[i])) goto done;
        ptrs[i] = &parts[i];
    }
    if (dvren_splats_concat(ctx, ptrs, (size_t)n, &all) != DVREN_OK) {
        dcp_fail("objects", "%s", dvren_last_error(ctx));
        goto done;
    }
    if (dvren_splat_ply_save(ctx, out, &all) != DVREN_OK) {
        fprintf(stderr, "dvren_compose: %s: %s\n", out, dvren_last_error(ctx));
        goto done;
    }
    printf("wrote %s: %.0f Gaussians, SH degree %d, from %d object%s\n", out, (double)all.count, all.sh_degree, n,
           n == 1 ? "" : "s");
    rc = 0;
done:
    for (i = 0; parts && i < n; ++i) dvren_splats_free(&parts[i]);
    free(parts);
    free(ptrs);
    dvren_splats_free(&all);
    if (ctx) dvren_context_destroy(ctx);
    cJSON_Delete(root);
    free(text);
    return rc;
}
