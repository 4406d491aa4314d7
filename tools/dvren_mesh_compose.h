/* tools/dvren_mesh_compose.h - the composition files of `dvren_mesh
 * compose` (docs/meshes.md, "Composition"): a JSON list of objects, each an
 * iso-surface of a field or an existing mesh file, placed by a similarity
 * transform, optionally with Gaussian splats moved by the same transform.
 * This file parses and checks the JSON into dvren_mesh_source entries; the
 * tool (tools/dvren_mesh.c) extracts, places and writes them.
 *
 *   {"description": "...",                     optional, ignored
 *    "up": "z",                                optional: "z" (default: dvren's volumes, z along
 *                                              the slices; the GLB gets a root node turning
 *                                              Z-up into glTF's Y-up) or "y" (data already Y-up,
 *                                              as block worlds)
 *    "objects": [                              required, 1 .. DVREN_MESH_COMPOSE_MAX objects
 *      {"name": "skin",                        optional (default "object_<i>"), unique, 1..63
 *                                              printable characters: the GLB node's name
 *       exactly one source:
 *       "scene": "ct_head.json"                a scene file (docs/scenes.md): its field and shader
 *       "volume": "${DVREN_DATA}/a.nhdr"       a volume file dense_grid reads (its values, in its
 *                                              spacing's units, voxel [0][0][0] at the origin)
 *       "mesh": "part.glb"                     an OBJ, PLY or GLB file, taken as it is
 *       with "scene" or "volume":
 *       "level": 500                           required: the iso-level (finite)
 *       "channel": 0 | "density": true         the field channel (default 0), or the shader's density
 *       "res": [X, Y, Z]                       sample grid (each 2..4096; default: the field's voxels)
 *       "box": [x0, y0, z0, x1, y1, z1]        sampled box (x0 < x1, ...; default: the field's box)
 *       "inside_below": false                  true: the inside is where value < level
 *       "colors": false                        true: vertex colours from the shader (dvren_mesh_shade)
 *       any source:
 *       "color": [r, g, b]                     one linear RGB colour in [0, 1] for every vertex
 *                                              (not with "colors": true)
 *       "transform": {"scale": 1.5,            optional; tools/dvren_transform_json.h: scale,
 *                     "rotation": {...},       rotation (quaternion / axis_angle_deg /
 *                     "translation": [x,y,z]}  euler_deg) and translation, as dvren_compose
 *       "splats": "chair.ply"                  optional: 3DGS .ply or gsplat .npz Gaussians of the
 *                                              same object, moved by the same transform
 *      }, ...]}
 *
 * Paths ("scene", "mesh", "splats") are relative to the composition
 * file's folder unless absolute; "volume" goes through the scene reader
 * (tools/dvren_scene.h), so it may also start with ${DVREN_DATA} or another
 * ${NAME} from the environment. Every key is checked: an unknown key, a
 * value of the wrong type or range, two sources, a "level" without a
 * field, a repeated name are errors "<file>: objects[1] (\"bone\").level:
 * <problem>".
 *
 *   dvren_mesh_composition c;
 *   if (dvren_mesh_composition_load(ctx, "scene.json", &c)) { fprintf(stderr, "%s\n", c.error); ... }
 *   ... c.objects[i] ...
 *   dvren_mesh_composition_free(&c);
 *
 * Needs dvren.h, cJSON, tools/dvren_json.h, tools/dvren_transform_json.h
 * (and so tools/dvren_splat_compose.h's implementation in the program).
 * Header-only (static functions). No global state, no printing. */
#ifndef DVREN_MESH_COMPOSE_H
#define DVREN_MESH_COMPOSE_H

#include "dvren.h"
#include "dvren_json.h"
#include "dvren_splat_compose.h"
#include "dvren_transform_json.h"
#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DVREN_MESH_COMPOSE_MAX 4096                   /* most objects in one file */
#define DVREN_MESH_COMPOSE_PATH 4096                  /* longest resolved path */
#define DVREN_MESH_COMPOSE_MAX_BYTES ((long)64 << 20) /* larger composition files are refused */

/* Where a mesh comes from: one iso-surface of a field, or a mesh file. The
 * tool's `extract` command fills one from its options, `compose` one per
 * object. Strings are borrowed (from the JSON or argv). */
typedef enum dvren_mesh_source_kind {
    DVREN_MESH_SOURCE_SCENE = 1,  /* path: a scene JSON */
    DVREN_MESH_SOURCE_VOLUME = 2, /* path: a volume file, as given (resolved by the scene reader against dir) */
    DVREN_MESH_SOURCE_MESH = 3,   /* path: an OBJ/PLY/GLB file */
    DVREN_MESH_SOURCE_FORCE_32 = 0x7FFFFFFF
} dvren_mesh_source_kind;

typedef struct dvren_mesh_source {
    dvren_mesh_source_kind kind;
    const char* path;      /* SCENE, MESH: resolved; VOLUME: as written */
    const char* dir;       /* VOLUME: the folder relative paths start from ("" or NULL: the working folder) */
    double level;          /* iso-level (fields), finite */
    int32_t channel;       /* >= 0, or DVREN_SAMPLE_DENSITY */
    uint32_t res[3];       /* 0 0 0: the field's own voxel grid */
    float box[6];          /* x0 y0 z0 x1 y1 z1 when has_box */
    int has_box;
    int inside_below;      /* DVREN_MC_INSIDE_BELOW */
    int colors;            /* shade the vertices (dvren_mesh_shade) */
    int has_color;         /* one colour for every vertex */
    float color[3];
    /* for messages: the file that described this source ("" for the
     * command line) and the prefix of its keys ("objects[0] (\"skin\")") */
    const char* file;
    char where[160];
} dvren_mesh_source;

/* One object of a composition. */
typedef struct dvren_mesh_compose_object {
    char name[64];
    dvren_mesh_source source;
    dvren_splat_transform transform;
    char source_path[DVREN_MESH_COMPOSE_PATH]; /* storage of source.path (SCENE, MESH) */
    char splats[DVREN_MESH_COMPOSE_PATH];      /* resolved "splats" path, "" when none */
} dvren_mesh_compose_object;

typedef struct dvren_mesh_composition {
    const char* file;  /* the composition file's path (borrowed) */
    char dir[DVREN_MESH_COMPOSE_PATH]; /* its folder with a trailing '/', or "" */
    int y_up;          /* "up": "y" */
    uint32_t count;
    dvren_mesh_compose_object* objects; /* count entries (malloc) */
    char error[2048];  /* "<file>: <key>: <problem>" */
    /* private */
    cJSON* root;
    char* text;
} dvren_mesh_composition;

/* Reads and checks the composition file at path (see the top of the file)
 * into *c (overwritten; free with dvren_mesh_composition_free, also after
 * an error). ctx is used for the rotation conversions. Returns 0, or 1 with
 * c->error set. Nothing is loaded yet: the files are read by the tool. */
static int dvren_mesh_composition_load(dvren_context* ctx, const char* path, dvren_mesh_composition* c);
static void dvren_mesh_composition_free(dvren_mesh_composition* c);

/* ---- implementation ------------------------------------------------------ */

static int dvren__mc_fail(dvren_mesh_composition* c, const char* key, const char* fmt, ...) DVREN_PRINTF(3, 4);
static int dvren__mc_fail(dvren_mesh_composition* c, const char* key, const char* fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        snprintf(c->error, sizeof c->error, "%s: %s: %s", c->file, key, msg);
    else
        snprintf(c->error, sizeof c->error, "%s: %s", c->file, msg);
    return 1;
}

/* A path relative to the composition's folder (absolute ones as they are). */
static int dvren__mc_path(dvren_mesh_composition* c, const char* key, const char* in, char* out)
{
    int absolute = in[0] == '/' || in[0] == '\\' || (in[0] && in[1] == ':');
    if ((size_t)snprintf(out, DVREN_MESH_COMPOSE_PATH, "%s%s", absolute ? "" : c->dir, in) >= DVREN_MESH_COMPOSE_PATH)
        return dvren__mc_fail(c, key, "path '%.80s...' is too long", in);
    return 0;
}

/* A non-empty string value into *out. */
static int dvren__mc_string(dvren_mesh_composition* c, const char* key, const cJSON* j, const char** out)
{
    if (!cJSON_IsString(j) || !j->valuestring[0])
        return dvren__mc_fail(c, key, "must be a non-empty string, got %s", dvren_json_type(j));
    *out = j->valuestring;
    return 0;
}

static int dvren__mc_bool(dvren_mesh_composition* c, const char* key, const cJSON* j, int* out)
{
    if (!cJSON_IsBool(j)) return dvren__mc_fail(c, key, "must be true or false, got %s", dvren_json_type(j));
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return 0;
}

/* An array of n finite numbers. */
static int dvren__mc_numbers(dvren_mesh_composition* c, const char* key, const cJSON* j, int n, double* out)
{
    char why[512];
    if (dvren_transform_json_vec(j, key, n, out, why, sizeof why)) return dvren__mc_fail(c, NULL, "%s", why);
    return 0;
}

static int dvren__mc_object(dvren_context* ctx, dvren_mesh_composition* c, const cJSON* o, uint32_t i)
{
    static const char* const keys[] = {"name",   "scene",        "volume", "mesh",  "level",     "channel", "density",
                                       "res",    "box",          "inside_below",    "colors",    "color",   "transform",
                                       "splats", NULL};
    static const char* const field_only[] = {"level", "channel", "density", "res", "box", "inside_below", "colors", NULL};
    dvren_mesh_compose_object* ob = &c->objects[i];
    dvren_mesh_source* s = &ob->source;
    char where[128], key[256], known[320];
    const char* bad;
    const char* str;
    const cJSON* j;
    const char* const* k;
    int sources = 0, density = 0, a;
    double v[6];
    snprintf(where, sizeof where, "objects[%u]", (unsigned)i);
    if (!cJSON_IsObject(o)) return dvren__mc_fail(c, where, "must be an object, got %s", dvren_json_type(o));
    if ((bad = dvren_json_unknown_key(o, keys, known, sizeof known)) != NULL)
        return dvren__mc_fail(c, where, "unknown key '%s' (known: %s)", bad, known);
    snprintf(ob->name, sizeof ob->name, "object_%u", (unsigned)i);
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "name")) != NULL) {
        const char* p;
        snprintf(key, sizeof key, "%s.name", where);
        if (!cJSON_IsString(j)) return dvren__mc_fail(c, key, "must be a string, got %s", dvren_json_type(j));
        if (!j->valuestring[0] || strlen(j->valuestring) >= sizeof ob->name)
            return dvren__mc_fail(c, key, "'%.80s' must have 1..%u characters", j->valuestring, (unsigned)sizeof ob->name - 1);
        for (p = j->valuestring; *p; ++p)
            if ((unsigned char)*p < 32 || *p == 127)
                return dvren__mc_fail(c, key, "has a control character (byte %u)", (unsigned)(unsigned char)*p);
        memcpy(ob->name, j->valuestring, strlen(j->valuestring) + 1);
        snprintf(where, sizeof where, "objects[%u] (\"%s\")", (unsigned)i, ob->name);
    }
    for (a = 0; (uint32_t)a < i; ++a)
        if (!strcmp(c->objects[a].name, ob->name))
            return dvren__mc_fail(c, where, "the name '%s' is already that of objects[%d]: names must be unique (they name the GLB's nodes)",
                                  ob->name, a);
    memset(s, 0, sizeof *s);
    s->file = c->file;
    snprintf(s->where, sizeof s->where, "%s", where);
    /* the source */
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "scene")) != NULL) {
        snprintf(key, sizeof key, "%s.scene", where);
        if (dvren__mc_string(c, key, j, &str) || dvren__mc_path(c, key, str, ob->source_path)) return 1;
        s->kind = DVREN_MESH_SOURCE_SCENE;
        s->path = ob->source_path;
        ++sources;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "volume")) != NULL) {
        snprintf(key, sizeof key, "%s.volume", where);
        if (dvren__mc_string(c, key, j, &str)) return 1;
        s->kind = DVREN_MESH_SOURCE_VOLUME;
        s->path = str;
        s->dir = c->dir;
        ++sources;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "mesh")) != NULL) {
        snprintf(key, sizeof key, "%s.mesh", where);
        if (dvren__mc_string(c, key, j, &str) || dvren__mc_path(c, key, str, ob->source_path)) return 1;
        s->kind = DVREN_MESH_SOURCE_MESH;
        s->path = ob->source_path;
        ++sources;
    }
    if (sources != 1)
        return dvren__mc_fail(c, where, "give exactly one of \"scene\", \"volume\" and \"mesh\" (got %d)", sources);
    if (s->kind == DVREN_MESH_SOURCE_MESH) {
        for (k = field_only; *k; ++k)
            if (cJSON_GetObjectItemCaseSensitive(o, *k))
                return dvren__mc_fail(c, where, "'%s' is for iso-surfaces of a \"scene\" or \"volume\", not for a \"mesh\" file", *k);
    } else {
        j = cJSON_GetObjectItemCaseSensitive(o, "level");
        snprintf(key, sizeof key, "%s.level", where);
        if (!j) return dvren__mc_fail(c, key, "missing: give the iso-level of the surface");
        if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
            return dvren__mc_fail(c, key, "must be a finite number, got %s", dvren_json_type(j));
        s->level = j->valuedouble;
        if ((j = cJSON_GetObjectItemCaseSensitive(o, "density")) != NULL) {
            snprintf(key, sizeof key, "%s.density", where);
            if (dvren__mc_bool(c, key, j, &density)) return 1;
        }
        if ((j = cJSON_GetObjectItemCaseSensitive(o, "channel")) != NULL) {
            snprintf(key, sizeof key, "%s.channel", where);
            if (density) return dvren__mc_fail(c, key, "give either \"channel\" or \"density\": true, not both");
            if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
                j->valuedouble >= DVREN_MAX_CHANNELS)
                return dvren__mc_fail(c, key, "must be an integer in 0..%d, got %s", DVREN_MAX_CHANNELS - 1,
                                      cJSON_IsNumber(j) ? "another number" : dvren_json_type(j));
            s->channel = (int32_t)j->valuedouble;
        }
        if (density) s->channel = DVREN_SAMPLE_DENSITY;
        if ((j = cJSON_GetObjectItemCaseSensitive(o, "res")) != NULL) {
            snprintf(key, sizeof key, "%s.res", where);
            if (dvren__mc_numbers(c, key, j, 3, v)) return 1;
            for (a = 0; a < 3; ++a) {
                if (v[a] != floor(v[a]) || v[a] < 2 || v[a] > 4096)
                    return dvren__mc_fail(c, key, "[%d] = %g must be an integer in 2..4096", a, v[a]);
                s->res[a] = (uint32_t)v[a];
            }
        }
        if ((j = cJSON_GetObjectItemCaseSensitive(o, "box")) != NULL) {
            snprintf(key, sizeof key, "%s.box", where);
            if (dvren__mc_numbers(c, key, j, 6, v)) return 1;
            for (a = 0; a < 3; ++a)
                if (!((float)v[a] < (float)v[a + 3]))
                    return dvren__mc_fail(c, key, "min[%d] = %g must be below max[%d] = %g", a, v[a], a, v[a + 3]);
            for (a = 0; a < 6; ++a) s->box[a] = (float)v[a];
            s->has_box = 1;
        }
        if ((j = cJSON_GetObjectItemCaseSensitive(o, "inside_below")) != NULL) {
            snprintf(key, sizeof key, "%s.inside_below", where);
            if (dvren__mc_bool(c, key, j, &s->inside_below)) return 1;
        }
        if ((j = cJSON_GetObjectItemCaseSensitive(o, "colors")) != NULL) {
            snprintf(key, sizeof key, "%s.colors", where);
            if (dvren__mc_bool(c, key, j, &s->colors)) return 1;
        }
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "color")) != NULL) {
        snprintf(key, sizeof key, "%s.color", where);
        if (s->colors) return dvren__mc_fail(c, key, "give either \"colors\": true (the shader's) or \"color\", not both");
        if (dvren__mc_numbers(c, key, j, 3, v)) return 1;
        for (a = 0; a < 3; ++a) {
            if (v[a] < 0 || v[a] > 1) return dvren__mc_fail(c, key, "[%d] = %g is outside [0, 1] (linear RGB)", a, v[a]);
            s->color[a] = (float)v[a];
        }
        s->has_color = 1;
    }
    ob->transform = dvren_splat_transform_identity();
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "transform")) != NULL) {
        static const char* const tkeys[] = {"scale", "rotation", "translation", NULL};
        char why[1024];
        snprintf(key, sizeof key, "%s.transform", where);
        if (!cJSON_IsObject(j))
            return dvren__mc_fail(c, key, "must be an object {\"scale\", \"rotation\", \"translation\"}, got %s", dvren_json_type(j));
        if ((bad = dvren_json_unknown_key(j, tkeys, known, sizeof known)) != NULL)
            return dvren__mc_fail(c, key, "unknown key '%s' (known: %s)", bad, known);
        if (dvren_transform_json_read(ctx, j, key, &ob->transform, why, sizeof why)) return dvren__mc_fail(c, NULL, "%s", why);
    }
    ob->splats[0] = 0;
    if ((j = cJSON_GetObjectItemCaseSensitive(o, "splats")) != NULL) {
        snprintf(key, sizeof key, "%s.splats", where);
        if (dvren__mc_string(c, key, j, &str) || dvren__mc_path(c, key, str, ob->splats)) return 1;
    }
    return 0;
}

static void dvren_mesh_composition_free(dvren_mesh_composition* c)
{
    if (!c) return;
    cJSON_Delete(c->root);
    free(c->text);
    free(c->objects);
    c->root = NULL;
    c->text = NULL;
    c->objects = NULL;
    c->count = 0;
}

static int dvren_mesh_composition_load(dvren_context* ctx, const char* path, dvren_mesh_composition* c)
{
    static const char* const top[] = {"description", "up", "objects", NULL};
    char known[128];
    const char* bad;
    const cJSON* j;
    FILE* fp;
    long len;
    uint32_t i;
    memset(c, 0, sizeof *c);
    c->file = path ? path : "(null)";
    if (!path) return dvren__mc_fail(c, NULL, "no file given");
    {
        const char* slash = strrchr(path, '/');
        if (slash && (size_t)(slash - path + 1) < sizeof c->dir) {
            memcpy(c->dir, path, (size_t)(slash - path + 1));
            c->dir[slash - path + 1] = 0;
        }
    }
    fp = fopen(path, "rb");
    if (!fp) return dvren__mc_fail(c, NULL, "cannot open: %s", strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || len > DVREN_MESH_COMPOSE_MAX_BYTES ||
        fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return dvren__mc_fail(c, NULL, "cannot read (not a regular file, or larger than %ld bytes)", DVREN_MESH_COMPOSE_MAX_BYTES);
    }
    c->text = (char*)malloc((size_t)len + 1);
    if (!c->text || fread(c->text, 1, (size_t)len, fp) != (size_t)len) {
        fclose(fp);
        return dvren__mc_fail(c, NULL, "cannot read");
    }
    fclose(fp);
    c->text[len] = 0;
    c->root = cJSON_ParseWithLength(c->text, (size_t)len);
    if (!c->root) {
        const char* e = cJSON_GetErrorPtr();
        const char* p;
        int line = 1;
        if (e && (e < c->text || e > c->text + len)) e = NULL;
        for (p = c->text; e && p < e; ++p) line += *p == '\n';
        return dvren__mc_fail(c, NULL, "line %d: JSON syntax error", line);
    }
    if (!cJSON_IsObject(c->root))
        return dvren__mc_fail(c, NULL, "the top level must be an object {\"objects\": [...]}, got %s", dvren_json_type(c->root));
    if ((bad = dvren_json_unknown_key(c->root, top, known, sizeof known)) != NULL)
        return dvren__mc_fail(c, "(top level)", "unknown key '%s' (known: %s)", bad, known);
    if ((j = cJSON_GetObjectItemCaseSensitive(c->root, "description")) != NULL && !cJSON_IsString(j))
        return dvren__mc_fail(c, "description", "must be a string, got %s", dvren_json_type(j));
    if ((j = cJSON_GetObjectItemCaseSensitive(c->root, "up")) != NULL) {
        if (!cJSON_IsString(j) || (strcmp(j->valuestring, "z") && strcmp(j->valuestring, "y")))
            return dvren__mc_fail(c, "up", "must be \"z\" (dvren's volumes) or \"y\" (already glTF's up), got %s%s%s",
                                  cJSON_IsString(j) ? "'" : dvren_json_type(j), cJSON_IsString(j) ? j->valuestring : "",
                                  cJSON_IsString(j) ? "'" : "");
        c->y_up = !strcmp(j->valuestring, "y");
    }
    j = cJSON_GetObjectItemCaseSensitive(c->root, "objects");
    if (!j) return dvren__mc_fail(c, "objects", "missing: give an array of objects");
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) < 1 || cJSON_GetArraySize(j) > DVREN_MESH_COMPOSE_MAX)
        return dvren__mc_fail(c, "objects", "must be an array of 1..%d objects, got %s%s", DVREN_MESH_COMPOSE_MAX,
                              dvren_json_type(j), cJSON_IsArray(j) ? " of another length" : "");
    c->count = (uint32_t)cJSON_GetArraySize(j);
    c->objects = (dvren_mesh_compose_object*)calloc(c->count, sizeof *c->objects);
    if (!c->objects) return dvren__mc_fail(c, "objects", "out of memory for %u objects", (unsigned)c->count);
    for (i = 0; i < c->count; ++i)
        if (dvren__mc_object(ctx, c, cJSON_GetArrayItem(j, (int)i), i)) return 1;
    return 0;
}

#endif /* DVREN_MESH_COMPOSE_H */
