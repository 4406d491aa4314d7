/* tools/dvren_transform_json.h - an object's placement read from JSON: the
 * keys "scale", "rotation" and "translation" of a similarity transform
 * x' = scale R x + translation (tools/dvren_splat_compose.h,
 * dvren_splat_transform), shared by the splat composer (tools/dvren_compose.c,
 * where the keys sit in each object) and the mesh composer
 * (tools/dvren_mesh_compose.h, where they sit in the object's "transform"),
 * so that both accept the same rotations and say the same things about
 * mistakes (docs/splats.md, "Composition"; docs/meshes.md).
 *
 *   "scale": 1.5                                  optional, finite and > 0, default 1 (uniform)
 *   "rotation": {"quaternion": [w, x, y, z]}      optional, exactly one of:
 *             | {"axis_angle_deg": [ax, ay, az, deg]}   right-handed about the axis
 *             | {"euler_deg": [x, y, z]}                "xyz" extrinsic (about world x,
 *                                                        then world y, then world z)
 *   "translation": [x, y, z]                      optional, default 0
 *
 *   dvren_splat_transform T;
 *   char err[512];
 *   if (dvren_transform_json_read(ctx, obj, "objects[0]", &T, err, sizeof err)) { ...err... }
 *
 * dvren_transform_json_read reads those three keys of obj when present
 * (other keys are the caller's business: it neither reads nor refuses
 * them) into *T (identity for an absent key). It returns 0, or 1 with err
 * set to "<where>.<key>: <problem>" (e.g. "objects[1].rotation.quaternion:
 * [0, 0, 0, 0] has length 0: a rotation quaternion w x y z must not be
 * zero"); T is then unspecified. Quaternions need not be unit length (the
 * transform normalises them) but must not be zero.
 *
 * Header-only (static inline functions); needs dvren.h (the context for messages),
 * tools/dvren_splat_compose.h (declarations: the transform type, the
 * axis-angle and Euler conversions; its implementation must be in the
 * program), cJSON and tools/dvren_json.h. No global state, no printing. */
#ifndef DVREN_TRANSFORM_JSON_H
#define DVREN_TRANSFORM_JSON_H

#include "dvren.h"
#include "dvren_splat_compose.h"
#include "dvren_json.h"
#include <cjson/cJSON.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* "<where>: <problem>" into err; returns 1. */
static inline int dvren__tj_fail(char* err, size_t cap, const char* where, const char* fmt, ...) DVREN_PRINTF(4, 5);
static inline int dvren__tj_fail(char* err, size_t cap, const char* where, const char* fmt, ...)
{
    va_list ap;
    int n;
    if (!err || !cap) return 1;
    n = snprintf(err, cap, "%s: ", where);
    if (n < 0 || (size_t)n >= cap) return 1;
    va_start(ap, fmt);
    vsnprintf(err + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return 1;
}

/* An array of exactly n finite numbers into out. */
static inline int dvren_transform_json_vec(const cJSON* j, const char* where, int n, double* out, char* err, size_t cap)
{
    const cJSON* e;
    int k = 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != n)
        return dvren__tj_fail(err, cap, where, "must be an array of %d numbers, got %s%s", n, dvren_json_type(j),
                              cJSON_IsArray(j) ? " of another length" : "");
    cJSON_ArrayForEach(e, j)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return dvren__tj_fail(err, cap, where, "[%d] must be a finite number, got %s", k, dvren_json_type(e));
        out[k++] = e->valuedouble;
    }
    return 0;
}

/* The rotation object r (named where) into q (w x y z, unnormalised). */
static inline int dvren_transform_json_rotation(dvren_context* ctx, const cJSON* r, const char* where, double q[4], char* err,
                                         size_t cap)
{
    static const char* const keys[] = {"quaternion", "axis_angle_deg", "euler_deg", NULL};
    char f[320], known[128]; /* (where is cut at 290 bytes: messages stay bounded) */
    const char* bad;
    const cJSON* j;
    double v[4];
    if (!cJSON_IsObject(r))
        return dvren__tj_fail(err, cap, where, "must be an object with one of quaternion, axis_angle_deg, euler_deg; got %s",
                              dvren_json_type(r));
    if ((bad = dvren_json_unknown_key(r, keys, known, sizeof known)) != NULL)
        return dvren__tj_fail(err, cap, where, "unknown key '%s' (known: %s)", bad, known);
    if (cJSON_GetArraySize(r) != 1)
        return dvren__tj_fail(err, cap, where, "give exactly one of quaternion, axis_angle_deg, euler_deg (got %d keys)",
                              cJSON_GetArraySize(r));
    if ((j = cJSON_GetObjectItemCaseSensitive(r, "quaternion")) != NULL) {
        double len;
        snprintf(f, sizeof f, "%.290s.quaternion", where);
        if (dvren_transform_json_vec(j, f, 4, v, err, cap)) return 1;
        len = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] + v[3] * v[3]);
        if (!(len > 1e-12) || !isfinite(len))
            return dvren__tj_fail(err, cap, f, "[%g, %g, %g, %g] has length %g: a rotation quaternion w x y z must not be zero",
                                  v[0], v[1], v[2], v[3], len);
        memcpy(q, v, sizeof v);
        return 0;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(r, "axis_angle_deg")) != NULL) {
        snprintf(f, sizeof f, "%.290s.axis_angle_deg", where);
        if (dvren_transform_json_vec(j, f, 4, v, err, cap)) return 1;
        if (dvren_splat_rotation_axis_angle(ctx, v, v[3], q) != DVREN_OK)
            return dvren__tj_fail(err, cap, f, "%s", dvren_last_error(ctx));
        return 0;
    }
    j = cJSON_GetObjectItemCaseSensitive(r, "euler_deg");
    snprintf(f, sizeof f, "%.290s.euler_deg", where);
    if (dvren_transform_json_vec(j, f, 3, v, err, cap)) return 1;
    if (dvren_splat_rotation_euler_xyz(ctx, v, q) != DVREN_OK) return dvren__tj_fail(err, cap, f, "%s", dvren_last_error(ctx));
    return 0;
}

/* See the top of the file. */
static inline int dvren_transform_json_read(dvren_context* ctx, const cJSON* obj, const char* where, dvren_splat_transform* T,
                                     char* err, size_t cap)
{
    char f[256];
    const cJSON* j;
    *T = dvren_splat_transform_identity();
    if ((j = cJSON_GetObjectItemCaseSensitive(obj, "scale")) != NULL) {
        snprintf(f, sizeof f, "%.200s.scale", where);
        if (!cJSON_IsNumber(j)) return dvren__tj_fail(err, cap, f, "must be a number, got %s", dvren_json_type(j));
        if (!isfinite(j->valuedouble) || !(j->valuedouble > 0))
            return dvren__tj_fail(err, cap, f, "%g must be a finite number > 0 (a uniform scale; mirrors are not supported)",
                                  j->valuedouble);
        T->scale = j->valuedouble;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(obj, "rotation")) != NULL) {
        snprintf(f, sizeof f, "%.200s.rotation", where);
        if (dvren_transform_json_rotation(ctx, j, f, T->rotation, err, cap)) return 1;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(obj, "translation")) != NULL) {
        snprintf(f, sizeof f, "%.200s.translation", where);
        if (dvren_transform_json_vec(j, f, 3, T->translation, err, cap)) return 1;
    }
    return 0;
}

#endif /* DVREN_TRANSFORM_JSON_H */
