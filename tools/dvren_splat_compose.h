/* tools/dvren_splat_compose.h - placing and combining Gaussian-splat
 * objects (docs/splats.md, "Composition"): a similarity transform
 * x' = s R x + t applied to every Gaussian of a dvren_splats
 * (tools/dvren_splat_ply.h), and several objects concatenated into one.
 * Used by tools/dvren_compose.c and the Python bindings. Needs dvren.h
 * (dvren_sh_rotation, errors) and dvren_splat_ply.h; no global state, no
 * printing.
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_SPLAT_COMPOSE_IMPLEMENTATION
 *     #include "dvren_splat_compose.h"
 * (dvren_splat_ply.h's implementation, DVREN_SPLAT_PLY_IMPLEMENTATION, and
 * dvren.h's, DVREN_IMPLEMENTATION, must be in the program too).
 *
 *   dvren_splat_transform T = {1.5, {0.9238795, 0, 0.3826834, 0}, {1, 0, 0}};  45 deg about y
 *   dvren_splats_transform(ctx, &s, &T);
 *   const dvren_splats* parts[2] = {&a, &s};
 *   dvren_splats_concat(ctx, parts, 2, &scene);
 *
 * The math (Kerbl et al., "3D Gaussian Splatting", SIGGRAPH 2023: a
 * Gaussian is a mean mu, a covariance Sigma = M S^2 M^T with M the rotation
 * of the unit quaternion q and S = diag(exp(log_scale)), an opacity, and a
 * colour c(d) = 0.5 + sum_lm f_lm Y_lm(d) of the viewing direction d in
 * real spherical harmonics). Under x' = s R x + t (s > 0, R a rotation):
 *   mean        mu' = s R mu + t
 *   covariance  Sigma' = s^2 R Sigma R^T = (R M) (s S)^2 (R M)^T, so
 *               log_scale' = log_scale + log s (each axis) and
 *               q' = q_R (x) q (Hamilton product, w first; q_R the unit
 *               quaternion of R, taken with w >= 0 so that q and -q as a
 *               transform give the same file; q' keeps |q|: 3DGS stores
 *               quaternions unnormalised and the renderer normalises)
 *   colour      the direction that sees the moved Gaussian from the moved
 *               camera is R d, so c'(R d) = c(d): each degree l = 1..3 of
 *               f is rotated, f'_m = sum_k D_l[k][m] f_k per colour
 *               channel, D_l = dvren_sh_rotation(R, l); f_dc (l = 0) is
 *               unchanged
 *   opacity     unchanged; normals n' = R n (3DGS writes zeros).
 * A transform whose rotation is exactly (1, 0, 0, 0) skips the SH step, so
 * the identity transform changes no value (bit for bit, up to the sign of
 * zeros).
 *
 * Not done here: non-uniform scale or shear (an anisotropic scale does not
 * keep a Gaussian's SH colour model; it would need refitting), mirrors
 * (det R = -1), culling or merging of overlapping Gaussians. */
#ifndef DVREN_SPLAT_COMPOSE_H
#define DVREN_SPLAT_COMPOSE_H

#include "dvren.h"
#include "dvren_splat_ply.h"

#include <stddef.h>

/* A similarity transform x' = scale * R(rotation) * x + translation, in the
 * objects' world units. */
typedef struct dvren_splat_transform {
    double scale;          /* s, finite and > 0 (1: no scaling) */
    double rotation[4];    /* quaternion w x y z, any finite non-zero length (normalised on use) */
    double translation[3]; /* t, world units */
} dvren_splat_transform;

/* The identity: scale 1, rotation (1, 0, 0, 0), translation 0. */
DVREN_API dvren_splat_transform dvren_splat_transform_identity(void);
/* Checks T (message naming the field: "scale -2 must be > 0",
 * "rotation has length 0") and writes its unit quaternion (w >= 0) into
 * q (may be NULL) and its row-major rotation matrix into R (may be NULL).
 * Errors: INVALID_ARGUMENT. */
DVREN_API dvren_status dvren_splat_transform_check(dvren_context* ctx, const dvren_splat_transform* T, double q[4],
                                                   double R[9]);
/* out = second after first: x -> s2 R2 (s1 R1 x + t1) + t2, i.e. scale
 * s2 s1, rotation q2 (x) q1, translation s2 R2 t1 + t2. out may alias
 * either. Errors: INVALID_ARGUMENT (either transform bad). */
DVREN_API dvren_status dvren_splat_transform_compose(dvren_context* ctx, const dvren_splat_transform* second,
                                                     const dvren_splat_transform* first, dvren_splat_transform* out);
/* Unit quaternion (w x y z) of a rotation by deg degrees about axis (any
 * non-zero length; right-handed: positive angles turn y towards z about
 * x). Errors: INVALID_ARGUMENT (zero or non-finite axis, non-finite angle). */
DVREN_API dvren_status dvren_splat_rotation_axis_angle(dvren_context* ctx, const double axis[3], double deg,
                                                       double q[4]);
/* Unit quaternion of Euler angles in degrees, convention "xyz extrinsic":
 * rotate about the fixed world x axis by e[0], then about world y by e[1],
 * then about world z by e[2]; R = Rz(e2) Ry(e1) Rx(e0) (scipy's
 * Rotation.from_euler("xyz", e, degrees=True)). Errors: INVALID_ARGUMENT
 * (non-finite). */
DVREN_API dvren_status dvren_splat_rotation_euler_xyz(dvren_context* ctx, const double e[3], double q[4]);

/* Applies T to every Gaussian of s in place (see the top of the file).
 * Values are computed in double and rounded to float once. Errors:
 * INVALID_ARGUMENT (NULL, a bad transform, arrays that do not match
 * sh_degree, a result that is not finite: "gaussian 7: scale_1 is inf
 * after the transform"; s is then partly transformed), and those of
 * dvren_sh_rotation. */
DVREN_API dvren_status dvren_splats_transform(dvren_context* ctx, dvren_splats* s, const dvren_splat_transform* T);

/* Concatenates n objects (in order) into *out (zeroed first; free with
 * dvren_splats_free). SH degree: the largest of the parts; a part of lower
 * degree gets zeros for the coefficients it lacks (its colour unchanged).
 * Normals are kept (zeros where a part has none). Extra properties are
 * kept only when every part declares the same extras (names and types, in
 * the same order); otherwise they are dropped with a warning through
 * dvren_log. Errors: INVALID_ARGUMENT (NULL, n = 0, a part whose arrays do
 * not match its sh_degree, naming parts[i]), FORMAT (too many Gaussians
 * in all), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_splats_concat(dvren_context* ctx, const dvren_splats* const* parts, size_t n,
                                           dvren_splats* out);

#endif /* DVREN_SPLAT_COMPOSE_H */

#ifdef DVREN_SPLAT_COMPOSE_IMPLEMENTATION
#ifndef DVREN_SPLAT_COMPOSE_IMPLEMENTATION_ONCE
#define DVREN_SPLAT_COMPOSE_IMPLEMENTATION_ONCE

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DVREN_API dvren_splat_transform dvren_splat_transform_identity(void)
{
    dvren_splat_transform T;
    memset(&T, 0, sizeof T);
    T.scale = 1.0;
    T.rotation[0] = 1.0;
    return T;
}

/* Hamilton product a (x) b, w first. */
static void dvren__compose_qmul(const double a[4], const double b[4], double out[4])
{
    double r[4];
    r[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    r[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    r[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    r[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
    memcpy(out, r, sizeof r);
}

/* Row-major rotation matrix of the unit quaternion q (w x y z). */
static void dvren__compose_qmat(const double q[4], double R[9])
{
    double w = q[0], x = q[1], y = q[2], z = q[3];
    R[0] = 1 - 2 * (y * y + z * z);
    R[1] = 2 * (x * y - w * z);
    R[2] = 2 * (x * z + w * y);
    R[3] = 2 * (x * y + w * z);
    R[4] = 1 - 2 * (x * x + z * z);
    R[5] = 2 * (y * z - w * x);
    R[6] = 2 * (x * z - w * y);
    R[7] = 2 * (y * z + w * x);
    R[8] = 1 - 2 * (x * x + y * y);
}

DVREN_API dvren_status dvren_splat_transform_check(dvren_context* ctx, const dvren_splat_transform* T, double q[4],
                                                   double R[9])
{
    double u[4], len;
    int i;
    if (!T) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "transform is NULL");
    if (!isfinite(T->scale) || !(T->scale > 0))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                               "scale %g must be finite and > 0 (mirrors and collapse are not similarities)", T->scale);
    for (i = 0; i < 3; ++i)
        if (!isfinite(T->translation[i]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                                   "translation[%d] is %g, not finite", i, T->translation[i]);
    len = 0;
    for (i = 0; i < 4; ++i) {
        if (!isfinite(T->rotation[i]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                                   "rotation[%d] is %g, not finite", i, T->rotation[i]);
        len += T->rotation[i] * T->rotation[i];
    }
    len = sqrt(len);
    if (!(len > 1e-12))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                               "rotation has length %g: a quaternion w x y z must not be zero", len);
    /* (an exact unit quaternion stays exact: x / 1.0 is x) */
    for (i = 0; i < 4; ++i) u[i] = (T->rotation[0] < 0 ? -T->rotation[i] : T->rotation[i]) / len;
    if (q) memcpy(q, u, sizeof u);
    if (R) dvren__compose_qmat(u, R);
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_transform_compose(dvren_context* ctx, const dvren_splat_transform* second,
                                                     const dvren_splat_transform* first, dvren_splat_transform* out)
{
    double q1[4], q2[4], R2[9], t[3];
    dvren_splat_transform r;
    int i;
    dvren_status st;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "out is NULL");
    if ((st = dvren_splat_transform_check(ctx, first, q1, NULL)) != DVREN_OK) return st;
    if ((st = dvren_splat_transform_check(ctx, second, q2, R2)) != DVREN_OK) return st;
    for (i = 0; i < 3; ++i)
        t[i] = second->scale * (R2[3 * i] * first->translation[0] + R2[3 * i + 1] * first->translation[1] +
                                R2[3 * i + 2] * first->translation[2]) +
               second->translation[i];
    r.scale = second->scale * first->scale;
    dvren__compose_qmul(q2, q1, r.rotation);
    memcpy(r.translation, t, sizeof t);
    *out = r;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_rotation_axis_angle(dvren_context* ctx, const double axis[3], double deg,
                                                       double q[4])
{
    double len, h;
    if (!axis || !q) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "NULL argument");
    len = sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
    if (!isfinite(len) || !(len > 1e-12))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                               "axis has length %g: it must be finite and non-zero", len);
    if (!isfinite(deg))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "angle %g is not finite", deg);
    h = 0.5 * deg * (3.14159265358979323846 / 180.0);
    q[0] = cos(h);
    q[1] = sin(h) * axis[0] / len;
    q[2] = sin(h) * axis[1] / len;
    q[3] = sin(h) * axis[2] / len;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_rotation_euler_xyz(dvren_context* ctx, const double e[3], double q[4])
{
    static const double ax[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    double r[4] = {1, 0, 0, 0}, a[4];
    int i;
    dvren_status st;
    if (!e || !q) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "NULL argument");
    for (i = 0; i < 3; ++i) {
        if ((st = dvren_splat_rotation_axis_angle(ctx, ax[i], e[i], a)) != DVREN_OK) return st;
        dvren__compose_qmul(a, r, r); /* the later rotation on the left: extrinsic */
    }
    memcpy(q, r, sizeof r);
    return DVREN_OK;
}

/* Arrays present and sizes consistent with sh_degree. */
static int dvren__compose_valid(const dvren_splats* s)
{
    if (s->sh_degree < 0 || s->sh_degree > 3) return 0;
    if (s->rest_per_channel != (uint32_t)((s->sh_degree + 1) * (s->sh_degree + 1) - 1) ||
        s->rest_count != 3 * s->rest_per_channel)
        return 0;
    if (s->count && (!s->means || !s->f_dc || !s->opacity || !s->scale || !s->rot || (s->rest_count && !s->f_rest) ||
                     (s->extra_count && !s->extra)))
        return 0;
    return 1;
}

DVREN_API dvren_status dvren_splats_transform(dvren_context* ctx, dvren_splats* s, const dvren_splat_transform* T)
{
    double q[4], R[9], D[3][49], ls;
    int identity, l;
    size_t i;
    uint32_t c, m, k, K;
    dvren_status st;
    if (!s) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "splats is NULL");
    if (!dvren__compose_valid(s))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                               "splats: sh_degree %d, rest_per_channel %u, rest_count %u do not match, or an array is NULL",
                               s->sh_degree, (unsigned)s->rest_per_channel, (unsigned)s->rest_count);
    if ((st = dvren_splat_transform_check(ctx, T, q, R)) != DVREN_OK) return st;
    identity = q[0] == 1.0 && q[1] == 0.0 && q[2] == 0.0 && q[3] == 0.0;
    if (!identity)
        for (l = 1; l <= s->sh_degree; ++l)
            if ((st = dvren_sh_rotation(R, (uint32_t)l, D[l - 1])) != DVREN_OK) {
                char why[512];
                const char* e = dvren_last_error(NULL);
                size_t len = strlen(e) < sizeof why - 1 ? strlen(e) : sizeof why - 1;
                memcpy(why, e, len);
                why[len] = 0;
                return dvren_set_error(ctx, st, "splat_compose", NULL, "SH rotation of degree %d: %s", l, why);
            }
    ls = log(T->scale);
    K = s->rest_per_channel;
    for (i = 0; i < s->count; ++i) {
        double v[4], r[4];
        float out[10];
        static const char* what[10] = {"x", "y", "z", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
        for (c = 0; c < 3; ++c) v[c] = s->means[3 * i + c];
        for (c = 0; c < 3; ++c)
            out[c] = (float)(T->scale * (R[3 * c] * v[0] + R[3 * c + 1] * v[1] + R[3 * c + 2] * v[2]) +
                             T->translation[c]);
        for (c = 0; c < 3; ++c) out[3 + c] = (float)((double)s->scale[3 * i + c] + ls);
        for (c = 0; c < 4; ++c) v[c] = s->rot[4 * i + c];
        dvren__compose_qmul(q, v, r);
        for (c = 0; c < 4; ++c) out[6 + c] = (float)r[c];
        for (c = 0; c < 10; ++c)
            if (!isfinite(out[c]))
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                                       "gaussian %.0f: %s is %s after the transform", (double)i, what[c],
                                       isnan(out[c]) ? "nan" : "infinite");
        memcpy(s->means + 3 * i, out, 3 * sizeof(float));
        memcpy(s->scale + 3 * i, out + 3, 3 * sizeof(float));
        memcpy(s->rot + 4 * i, out + 6, 4 * sizeof(float));
        if (s->normals) {
            for (c = 0; c < 3; ++c) v[c] = s->normals[3 * i + c];
            for (c = 0; c < 3; ++c)
                s->normals[3 * i + c] = (float)(R[3 * c] * v[0] + R[3 * c + 1] * v[1] + R[3 * c + 2] * v[2]);
        }
        if (identity) continue;
        for (l = 1; l <= s->sh_degree; ++l) {
            uint32_t n = 2 * (uint32_t)l + 1, off = (uint32_t)(l * l) - 1; /* band l's first index in f_rest */
            for (c = 0; c < 3; ++c) {
                float* f = s->f_rest + i * s->rest_count + c * K + off;
                double old[7];
                for (k = 0; k < n; ++k) old[k] = f[k];
                for (m = 0; m < n; ++m) {
                    double acc = 0;
                    for (k = 0; k < n; ++k) acc += D[l - 1][k * n + m] * old[k];
                    f[m] = (float)acc;
                }
            }
        }
    }
    return DVREN_OK;
}

/* 1 when a and b declare the same extras, names and types, in the same order. */
static int dvren__compose_same_extras(const dvren_splats* a, const dvren_splats* b)
{
    uint32_t i, j = 0, k = 0;
    if (a->extra_count != b->extra_count) return 0;
    for (i = 0; i < a->extra_count; ++i) {
        while (j < a->prop_count && a->props[j].extra < 0) ++j;
        while (k < b->prop_count && b->props[k].extra < 0) ++k;
        if (j >= a->prop_count || k >= b->prop_count) return 0;
        if (strcmp(a->props[j].name, b->props[k].name) != 0 || a->props[j].type != b->props[k].type ||
            a->props[j].extra != b->props[k].extra)
            return 0;
        ++j;
        ++k;
    }
    return 1;
}

DVREN_API dvren_status dvren_splats_concat(dvren_context* ctx, const dvren_splats* const* parts, size_t n,
                                           dvren_splats* out)
{
    size_t total = 0, p, i, base = 0;
    int deg = 0, keep_extras = 1;
    uint32_t E = 0, j, c, k;
    dvren_status st;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!parts || n == 0)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL, "concat: no parts");
    for (p = 0; p < n; ++p) {
        if (!parts[p] || !dvren__compose_valid(parts[p]) || (parts[p]->extra_count && !parts[p]->props))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_compose", NULL,
                                   "concat: parts[%.0f] is NULL or its arrays do not match its sh_degree", (double)p);
        if (parts[p]->count > SIZE_MAX / 2 - total)
            return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_compose", NULL, "concat: too many Gaussians");
        total += parts[p]->count;
        if (parts[p]->sh_degree > deg) deg = parts[p]->sh_degree;
        if (p > 0 && !dvren__compose_same_extras(parts[0], parts[p])) keep_extras = 0;
    }
    if (parts[0]->extra_count && !keep_extras)
        dvren_log(ctx, DVREN_LOG_WARN, "splat_compose",
                  "concat: the parts declare different extra properties; dropping them all");
    if ((st = dvren_splats_create(ctx, total, deg, out)) != DVREN_OK) return st;
    E = keep_extras ? parts[0]->extra_count : 0;
    if (E) {
        const dvren_splats* a = parts[0];
        dvren_splat_ply_property* np =
            (dvren_splat_ply_property*)realloc(out->props, (out->prop_count + E) * sizeof *np);
        if (np) out->props = np;
        out->extra = (double*)calloc((total ? total : 1) * E, sizeof(double));
        if (!np || !out->extra) {
            dvren_splats_free(out);
            return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_compose", NULL, "concat: out of memory");
        }
        for (j = 0; j < a->prop_count; ++j)
            if (a->props[j].extra >= 0) out->props[out->prop_count++] = a->props[j];
        out->extra_count = E;
    }
    for (p = 0; p < n; ++p) {
        const dvren_splats* a = parts[p];
        uint32_t K = a->rest_per_channel;
        for (i = 0; i < a->count; ++i) {
            size_t o = base + i;
            memcpy(out->means + 3 * o, a->means + 3 * i, 3 * sizeof(float));
            if (a->normals) memcpy(out->normals + 3 * o, a->normals + 3 * i, 3 * sizeof(float));
            memcpy(out->f_dc + 3 * o, a->f_dc + 3 * i, 3 * sizeof(float));
            out->opacity[o] = a->opacity[i];
            memcpy(out->scale + 3 * o, a->scale + 3 * i, 3 * sizeof(float));
            memcpy(out->rot + 4 * o, a->rot + 4 * i, 4 * sizeof(float));
            for (c = 0; c < 3; ++c)
                for (k = 0; k < K; ++k)
                    out->f_rest[o * out->rest_count + c * out->rest_per_channel + k] = a->f_rest[i * a->rest_count + c * K + k];
            if (E) memcpy(out->extra + (size_t)E * o, a->extra + (size_t)E * i, E * sizeof(double));
        }
        base += a->count;
    }
    return DVREN_OK;
}

#endif /* DVREN_SPLAT_COMPOSE_IMPLEMENTATION_ONCE */
#endif /* DVREN_SPLAT_COMPOSE_IMPLEMENTATION */
