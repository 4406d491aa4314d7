/* tools/dvren_splat_npz.h - gsplat's .npz test scenes as 3D Gaussian
 * splats (docs/splats.md, "gsplat .npz scenes"), the seeded random fill of
 * the attributes such scenes lack, and the parameters written as .npy for
 * a Python peer. Needs dvren.h (dvren_set_error, the Philox RNG of its
 * device vocabulary, dvren_tensor_save_npy), tools/dvren_splat_ply.h
 * (dvren_splats), tools/dvren_npz.h (the zip walker), tools/dvren_npy.h
 * (the .npy parser), tools/dvren_io.h (the file reader) and the C library.
 * No global mutable state, no printing, no exit().
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_SPLAT_NPZ_IMPLEMENTATION
 *     #include "dvren_splat_npz.h"
 * (it defines DVREN_SPLAT_PLY_IMPLEMENTATION, DVREN_NPZ_IMPLEMENTATION,
 * DVREN_NPY_IMPLEMENTATION and DVREN_IO_IMPLEMENTATION too; dvren.h's
 * implementation, DVREN_IMPLEMENTATION, must be in the program). Other
 * files include it without the define (declarations only).
 *
 *   dvren_splat_npz_scene sc;
 *   dvren_splat_npz_options o = {0};       crop [-2,2]^3, grid 1, seed 0: gsplat's defaults
 *   o.grid = 5;                             gsplat's profiling workload (scene_grid=5)
 *   if (dvren_splat_npz_load(ctx, "test_garden.npz", &o, &sc) != DVREN_OK) { ...dvren_last_error(ctx)... }
 *   ... sc.splats (SH degree 0), sc.cameras[c].viewmat / .K, sc.width, sc.height ...
 *   dvren_splat_npz_save_params(ctx, "out/params", &sc.splats);   means.npy, log_scales.npy, ...
 *   dvren_splat_npz_scene_free(&sc);
 *
 * The source. gsplat 1.5.3 (nerfstudio-project/gsplat), gsplat/_helper.py
 * load_test_data(), and its assets/test_garden.npz: an .npz (numpy.savez:
 * a zip of stored .npy members) holding
 *   means3d  (N, 3) float32   point positions, world frame
 *   colors   (N, 3) uint8     RGB; gsplat uses colors / 255 as the
 *                             post-activation colour (no SH)
 *   viewmats (C, 4, 4) float32 world-to-camera, OpenCV convention (+x
 *                             right, +y down, +z forward), row-major
 *   Ks       (C, 3, 3) float32 pinhole intrinsics [[fx 0 cx] [0 fy cy] [0 0 1]]
 *   width, height  0-d int64  the image size in pixels
 * and, in load_test_data's order:
 *   1. crop: keep the points with lo <= p <= hi in all three coordinates
 *      (inclusive; float32 comparisons), lo, hi = (-2,-2,-2), (2,2,2) by
 *      default; the kept points stay in file order;
 *   2. grid ("scene_grid", odd R): R x R copies of the cropped points,
 *      copy g = 0 .. R^2-1 shifted by (gx ex, gy ey, 0 ez) where
 *      gx = g / R - R/2, gy = g % R - R/2 (integer division; torch.meshgrid
 *      with indexing "ij" over arange(-(R/2), R/2 + 1) twice, reshaped in C
 *      order: x is the outer index) and e = hi - lo the crop box's edges
 *      (float32). Gaussian g M + i (M cropped points) is point i of copy g;
 *      its position is the float32 sum p_i + offset (also for R = 1, where
 *      the offset is 0: -0.0 becomes +0.0 exactly as in torch), and its
 *      colour is point i's (colors.repeat(R^2, 1));
 *   3. gsplat then draws scales torch.rand * 0.02, quats normalised
 *      torch.randn, opacities torch.rand. dvren cannot reproduce torch's
 *      generator, so it draws its own from a fixed seed (below) and writes
 *      them out (dvren_splat_npz_save_params) for the peer to use instead.
 *
 * Mapping to dvren_splats (SH degree 0, raw 3DGS values): means as above;
 * f_dc = (colour / 255 - 0.5) / C0 with C0 = 0.28209479177387814 (computed
 * in double, stored as float), so that 0.5 + C0 f_dc is gsplat's colour to
 * float precision; normals zero; scale, rot, opacity from
 * dvren_splats_fill_random(s, seed).
 *
 * The random fill (dvren_splats_fill_random), a pure function of (seed,
 * Gaussian index i, attribute), the same on every platform: Philox4x32-10
 * (dvren.h's dvren_philox4x32, through dvren_rng_make / dvren_rng_u32) keyed
 * with (seed mod 2^32, seed / 2^32), counter (i mod 2^32, i / 2^32,
 * 0x53504C00 + a, block), the attribute a = 0 scale, 1 rot, 2 opacity, the
 * 32-bit words x0, x1, ... taken in order from block 0, then block 1, ...
 * A 24-bit uniform is U(x) = (x >> 8) 2^-24, in [0, 1). In double:
 *   scale (a = 0): sigma_k = 1e-4 + (0.02 - 1e-4) U(x_k), k = 0, 1, 2;
 *     scale[3i + k] = (float)log(sigma_k)          (sigma in [1e-4, 0.02))
 *   rot (a = 1): Box-Muller on (x0, x1) and (x2, x3): with
 *     u = U(x0) + 2^-24 (in (0, 1]) and v = U(x1): n0 = sqrt(-2 ln u) cos(2 pi v),
 *     n1 = sqrt(-2 ln u) sin(2 pi v); n2, n3 likewise from x2, x3;
 *     rot[4i + 0..3] = (float)(n / |n|) (w x y z). When |n| = 0 (u = 1
 *     twice: probability 2^-48) the next four words are used.
 *   opacity (a = 2): u = U(x0) + 2^-25, in [2^-25, 1 - 2^-25] (never 0 or 1);
 *     opacity[i] = (float)(log(u) - log1p(-u))     (a logit)
 * The words are the same everywhere; log, cos, sin and sqrt come from the C
 * library, so the stored floats can differ in the last bit between C
 * libraries: hand the written .npy files to a peer, not the seed.
 *
 * Not done here: deflated (numpy.savez_compressed) members, which are
 * refused as UNSUPPORTED (no zlib in the tools: numpy.savez writes stored
 * members); gsplat's torch random numbers. */
#ifndef DVREN_SPLAT_NPZ_H
#define DVREN_SPLAT_NPZ_H

#include "dvren.h"
#include "dvren_splat_ply.h"

#include <stddef.h>
#include <stdint.h>

/* Files larger than this are refused before they are read. */
#ifndef DVREN_SPLAT_NPZ_MAX_FILE
#define DVREN_SPLAT_NPZ_MAX_FILE ((size_t)1 << 31)
#endif
/* The largest grid (R) and camera count accepted. */
#define DVREN_SPLAT_NPZ_MAX_GRID 1001u
#define DVREN_SPLAT_NPZ_MAX_CAMERAS 65536u
/* The largest width and height accepted (pixels). */
#define DVREN_SPLAT_NPZ_MAX_SIZE 65536

/* dvren_splat_npz_options.flags */
#define DVREN_SPLAT_NPZ_NO_CROP 1u /* keep every point (the grid still spaces copies by the crop box's edges) */

/* SH band 0's constant, 1 / (2 sqrt(pi)) (3DGS's C0). */
#define DVREN_SPLAT_SH_C0 0.28209479177387814

/* How to turn a scene into splats. A zero struct (or NULL) gives gsplat's
 * load_test_data defaults: crop [-2, 2]^3, grid 1, and seed 0. */
typedef struct dvren_splat_npz_options {
    unsigned flags;   /* 0 or DVREN_SPLAT_NPZ_NO_CROP */
    float crop[6];    /* min x, y, z, max x, y, z (inclusive); all zero: (-2, -2, -2, 2, 2, 2). min <= max, finite */
    uint32_t grid;    /* R, odd, 1 .. DVREN_SPLAT_NPZ_MAX_GRID; 0: 1 */
    uint64_t seed;    /* the random fill's seed (any value; 0 is a seed like the others) */
} dvren_splat_npz_options;

/* One camera as the file gives it. */
typedef struct dvren_splat_npz_camera {
    float viewmat[16]; /* world-to-camera, row-major: x_cam = R x_world + t, R = rows 0..2 cols 0..2, t = column 3; OpenCV axes */
    float K[9];        /* row-major [[fx 0 cx] [0 fy cy] [0 0 1]], pixels (pixel centres at integer + 0.5, gsplat's convention) */
} dvren_splat_npz_camera;

/* A loaded scene: free with dvren_splat_npz_scene_free. */
typedef struct dvren_splat_npz_scene {
    dvren_splats splats;             /* source_count, cropped or not, times grid^2 Gaussians; SH degree 0 */
    size_t camera_count;             /* C >= 1 */
    dvren_splat_npz_camera* cameras; /* (C) */
    uint32_t width, height;          /* pixels */
    size_t source_count;             /* points in the file */
    size_t cropped_count;            /* points kept by the crop (before the grid) */
} dvren_splat_npz_scene;

/* Reads a gsplat test scene from size bytes in memory (name for messages,
 * NULL: "<memory>"); opt may be NULL (defaults). Fills *out (zeroed first;
 * on failure left empty). Errors, "splat_npz: '<name>': <member>: <field>:
 * <problem>": FORMAT (not a zip, damaged zip, a missing member, a wrong
 * dtype (means3d, viewmats, Ks '<f4'; colors '|u1'; width, height '<i8'),
 * a wrong shape (means3d (N, 3), colors (N, 3) with the same N, viewmats
 * (C, 4, 4), Ks (C, 3, 3) with the same C >= 1, width/height 0-d), a
 * truncated member, non-finite values, a viewmat whose last row is not
 * 0 0 0 1, a K that is not [[fx 0 cx] [0 fy cy] [0 0 1]] with fx, fy > 0,
 * a width or height outside 1 .. 65536, too many Gaussians for
 * DVREN_SPLAT_PLY_MAX_BYTES); UNSUPPORTED (a compressed or encrypted
 * member); INVALID_ARGUMENT (NULL, an even or too large grid, a bad crop
 * box, unknown flags); OUT_OF_MEMORY. Any thread; ctx may be NULL. */
DVREN_API dvren_status dvren_splat_npz_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                             const dvren_splat_npz_options* opt, dvren_splat_npz_scene* out);
/* Reads the file at path and parses it. Errors: IO naming the path, those of _parse. */
DVREN_API dvren_status dvren_splat_npz_load(dvren_context* ctx, const char* path, const dvren_splat_npz_options* opt,
                                            dvren_splat_npz_scene* out);
/* Frees the splats and cameras and zeroes *sc (NULL is fine). */
DVREN_API void dvren_splat_npz_scene_free(dvren_splat_npz_scene* sc);

/* Overwrites s's scale, rot and opacity with the seeded draws described at
 * the top of the file (the standard deviations uniform in [1e-4, 0.02),
 * stored as logs; rot a uniformly random unit quaternion;
 * opacity uniform in (0, 1) stored as a logit). Gaussian i's values depend
 * only on (seed, i), not on s->count. Errors (message through
 * dvren_last_error(NULL)): INVALID_ARGUMENT (s NULL, NULL arrays with
 * count > 0). Any thread. */
DVREN_API dvren_status dvren_splats_fill_random(dvren_splats* s, uint64_t seed);

/* Writes the parameters as a peer rasteriser (gsplat's rasterization())
 * takes them, each an .npy (float32, C order, little-endian) in the
 * existing folder dir, through dvren_tensor_save_npy (atomic per file):
 *   means.npy (N, 3); log_scales.npy (N, 3) (= s->scale: apply exp);
 *   quats.npy (N, 4) w x y z, as stored (gsplat normalises);
 *   opacity_logits.npy (N,) (apply sigmoid);
 *   colors.npy (N, 3) the degree-0 colour 0.5 + C0 f_dc (computed in
 *   double), what gsplat takes with sh_degree=None;
 *   and when s->sh_degree > 0 also sh_coeffs.npy (N, (d+1)^2, 3): gsplat's
 *   SH layout, [i][0][c] = f_dc[c], [i][k][c] = f_rest[c K + k - 1].
 * Every value is checked finite before anything is written. Errors:
 * INVALID_ARGUMENT naming the field (NULL, count 0, a non-finite value,
 * a bad rest_per_channel), IO naming the file, OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_splat_npz_save_params(dvren_context* ctx, const char* dir, const dvren_splats* s);

#endif /* DVREN_SPLAT_NPZ_H */

#ifdef DVREN_SPLAT_NPZ_IMPLEMENTATION
#ifndef DVREN_SPLAT_NPZ_IMPLEMENTATION_ONCE
#define DVREN_SPLAT_NPZ_IMPLEMENTATION_ONCE

#ifndef DVREN_SPLAT_PLY_IMPLEMENTATION
#define DVREN_SPLAT_PLY_IMPLEMENTATION
#endif
#include "dvren_splat_ply.h"
#ifndef DVREN_NPZ_IMPLEMENTATION
#define DVREN_NPZ_IMPLEMENTATION
#endif
#include "dvren_npz.h"
#ifndef DVREN_NPY_IMPLEMENTATION
#define DVREN_NPY_IMPLEMENTATION
#endif
#include "dvren_npy.h"
#ifndef DVREN_IO_IMPLEMENTATION
#define DVREN_IO_IMPLEMENTATION
#endif
#include "dvren_io.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The degree-0 SH coefficient of colour c in [0, 1]: (c - 0.5) / C0 in
 * float32, moved towards zero by an ulp where the renderer's float32
 * 0.5 + C0 f would fall below 0 (a black channel): it stays on the
 * non-negative side of the SH colour's clamp at 0, where the gradient
 * passes (as it does for gsplat's post-activation colours). */
static float dvren__snpz_dc(double c)
{
    float f = (float)((c - 0.5) / DVREN_SPLAT_SH_C0);
    while (c >= 0.0 && (float)((float)DVREN_SPLAT_SH_C0 * f) + 0.5f < 0.0f) f = nextafterf(f, 0.0f);
    return f;
}

static dvren_status dvren__snpz_fail(dvren_context* ctx, dvren_splat_npz_scene* out, const char* name, dvren_status st,
                                     const char* member, const char* fmt, ...) DVREN_PRINTF(6, 7);
static dvren_status dvren__snpz_fail(dvren_context* ctx, dvren_splat_npz_scene* out, const char* name, dvren_status st,
                                     const char* member, const char* fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (out) dvren_splat_npz_scene_free(out);
    if (member) return dvren_set_error(ctx, st, "splat_npz", NULL, "'%s': %s: %s", name, member, msg);
    return dvren_set_error(ctx, st, "splat_npz", NULL, "'%s': %s", name, msg);
}

DVREN_API void dvren_splat_npz_scene_free(dvren_splat_npz_scene* sc)
{
    if (!sc) return;
    dvren_splats_free(&sc->splats);
    free(sc->cameras);
    memset(sc, 0, sizeof *sc);
}

/* The words of Gaussian i's attribute a (see the top of the file). */
static dvren_rng dvren__snpz_rng(uint64_t seed, uint64_t i, uint32_t a)
{
    return dvren_rng_make((uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)i, (uint32_t)(i >> 32), 0x53504C00u + a);
}

static double dvren__snpz_u24(uint32_t x) { return (double)(x >> 8) * (1.0 / 16777216.0); }

DVREN_API dvren_status dvren_splats_fill_random(dvren_splats* s, uint64_t seed)
{
    const double two_pi = 6.283185307179586;
    size_t i;
    int k;
    if (!s) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "fill_random: splats is NULL");
    if (s->count && (!s->scale || !s->rot || !s->opacity))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL,
                               "fill_random: scale, rot or opacity is NULL with %.0f Gaussians", (double)s->count);
    for (i = 0; i < s->count; ++i) {
        dvren_rng r = dvren__snpz_rng(seed, (uint64_t)i, 0);
        double n[4], norm2;
        for (k = 0; k < 3; ++k) s->scale[3 * i + (size_t)k] = (float)log(1e-4 + (0.02 - 1e-4) * dvren__snpz_u24(dvren_rng_u32(&r)));
        r = dvren__snpz_rng(seed, (uint64_t)i, 1);
        do {
            for (k = 0; k < 4; k += 2) {
                double u = dvren__snpz_u24(dvren_rng_u32(&r)) + 1.0 / 16777216.0;
                double v = dvren__snpz_u24(dvren_rng_u32(&r));
                double rad = sqrt(-2.0 * log(u));
                n[k] = rad * cos(two_pi * v);
                n[k + 1] = rad * sin(two_pi * v);
            }
            norm2 = n[0] * n[0] + n[1] * n[1] + n[2] * n[2] + n[3] * n[3];
        } while (!(norm2 > 0.0));
        norm2 = sqrt(norm2);
        for (k = 0; k < 4; ++k) s->rot[4 * i + (size_t)k] = (float)(n[k] / norm2);
        r = dvren__snpz_rng(seed, (uint64_t)i, 2);
        {
            double u = dvren__snpz_u24(dvren_rng_u32(&r)) + 1.0 / 33554432.0;
            s->opacity[i] = (float)(log(u) - log1p(-u));
        }
    }
    return DVREN_OK;
}

/* One member's .npy, parsed and checked: dtype descr_want, ndim, its data. */
static dvren_status dvren__snpz_member(dvren_context* ctx, dvren_npz* z, const char* member, const char* descr_want,
                                       dvren_npy_dtype dt, uint32_t ndim, dvren_npy_array* a)
{
    const unsigned char* d;
    size_t n;
    int r = dvren_npz_member(z, member, &d, &n, NULL);
    if (r == 1)
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_npz", NULL,
                               "'%s': %s: missing (a gsplat test scene holds means3d, colors, viewmats, Ks, width, height)",
                               z->name, member);
    if (r != 0)
        return dvren_set_error(ctx, r == -2 ? DVREN_ERROR_UNSUPPORTED : DVREN_ERROR_FORMAT, "splat_npz", NULL, "%s",
                               z->error);
    if (dvren_npy_parse_header(a, d, n, member) != 0 || dvren_npy_check_data(a) != 0)
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_npz", NULL, "'%s': %s", z->name, a->error);
    if (a->dtype != dt)
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_npz", NULL, "'%s': %s: descr: dtype '%s', expected '%s'",
                               z->name, member, a->descr, descr_want);
    if (a->ndim != ndim)
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_npz", NULL, "'%s': %s: shape: %u dimensions, expected %u",
                               z->name, member, (unsigned)a->ndim, (unsigned)ndim);
    return DVREN_OK;
}

static float dvren__snpz_f32(const dvren_npy_array* a, size_t i) { return (float)dvren_npy_get(a, i); }

DVREN_API dvren_status dvren_splat_npz_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                             const dvren_splat_npz_options* opt, dvren_splat_npz_scene* out)
{
    static const float default_crop[6] = {-2.0f, -2.0f, -2.0f, 2.0f, 2.0f, 2.0f};
    dvren_splat_npz_options o;
    dvren_npz z;
    dvren_npy_array am, ac, av, ak, aw, ah;
    float lo[3], hi[3], edge[3];
    unsigned char* keep = NULL;
    size_t n, c, i, m, g, R, idx;
    int k, zero_crop = 1;
    double wh[2];
    dvren_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!out || (!data && size))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "'%s': NULL argument", name);
    if (opt) o = *opt;
    else memset(&o, 0, sizeof o);
    if (o.flags & ~DVREN_SPLAT_NPZ_NO_CROP)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "'%s': options: unknown flags 0x%x", name,
                               o.flags & ~DVREN_SPLAT_NPZ_NO_CROP);
    if (o.grid == 0) o.grid = 1;
    if (o.grid % 2 == 0 || o.grid > DVREN_SPLAT_NPZ_MAX_GRID)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL,
                               "'%s': options: grid %u must be odd and at most %u (gsplat's scene_grid)", name, o.grid,
                               DVREN_SPLAT_NPZ_MAX_GRID);
    for (k = 0; k < 6; ++k) zero_crop &= o.crop[k] == 0.0f;
    if (zero_crop) memcpy(o.crop, default_crop, sizeof o.crop);
    for (k = 0; k < 3; ++k) {
        lo[k] = o.crop[k];
        hi[k] = o.crop[k + 3];
        if (!isfinite(lo[k]) || !isfinite(hi[k]) || !(lo[k] <= hi[k]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL,
                                   "'%s': options: crop[%d] = %g and crop[%d] = %g are not a finite min <= max", name, k,
                                   (double)lo[k], k + 3, (double)hi[k]);
        edge[k] = hi[k] - lo[k]; /* float32, as torch computes aabb[3:] - aabb[:3] */
    }
    if (dvren_npz_open(&z, data, size, name) != 0)
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_npz", NULL, "%s", z.error);
    if ((st = dvren__snpz_member(ctx, &z, "means3d", "<f4", DVREN_NPY_F32, 2, &am)) != DVREN_OK) return st;
    if ((st = dvren__snpz_member(ctx, &z, "colors", "|u1", DVREN_NPY_U8, 2, &ac)) != DVREN_OK) return st;
    if ((st = dvren__snpz_member(ctx, &z, "viewmats", "<f4", DVREN_NPY_F32, 3, &av)) != DVREN_OK) return st;
    if ((st = dvren__snpz_member(ctx, &z, "Ks", "<f4", DVREN_NPY_F32, 3, &ak)) != DVREN_OK) return st;
    if ((st = dvren__snpz_member(ctx, &z, "width", "<i8", DVREN_NPY_I64, 0, &aw)) != DVREN_OK) return st;
    if ((st = dvren__snpz_member(ctx, &z, "height", "<i8", DVREN_NPY_I64, 0, &ah)) != DVREN_OK) return st;
    n = (size_t)am.shape[0];
    if (am.shape[1] != 3)
        return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "means3d", "shape: (%llu, %llu), expected (N, 3)",
                                (unsigned long long)am.shape[0], (unsigned long long)am.shape[1]);
    if (ac.shape[0] != am.shape[0] || ac.shape[1] != 3)
        return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "colors", "shape: (%llu, %llu), expected (%llu, 3) as means3d",
                                (unsigned long long)ac.shape[0], (unsigned long long)ac.shape[1], (unsigned long long)n);
    c = (size_t)av.shape[0];
    if (c < 1 || c > DVREN_SPLAT_NPZ_MAX_CAMERAS || av.shape[1] != 4 || av.shape[2] != 4)
        return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "viewmats", "shape: (%llu, %llu, %llu), expected (C, 4, 4), 1 <= C <= %u",
                                (unsigned long long)av.shape[0], (unsigned long long)av.shape[1],
                                (unsigned long long)av.shape[2], DVREN_SPLAT_NPZ_MAX_CAMERAS);
    if (ak.shape[0] != av.shape[0] || ak.shape[1] != 3 || ak.shape[2] != 3)
        return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "Ks", "shape: (%llu, %llu, %llu), expected (%llu, 3, 3) as viewmats",
                                (unsigned long long)ak.shape[0], (unsigned long long)ak.shape[1],
                                (unsigned long long)ak.shape[2], (unsigned long long)c);
    wh[0] = dvren_npy_get(&aw, 0);
    wh[1] = dvren_npy_get(&ah, 0);
    for (k = 0; k < 2; ++k)
        if (!(wh[k] >= 1 && wh[k] <= DVREN_SPLAT_NPZ_MAX_SIZE))
            return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, k ? "height" : "width", "value %.0f is outside 1 .. %d",
                                    wh[k], DVREN_SPLAT_NPZ_MAX_SIZE);
    /* the cameras, checked before the big allocations */
    for (i = 0; i < c; ++i) {
        float v[16], K[9];
        for (k = 0; k < 16; ++k) v[k] = dvren__snpz_f32(&av, 16 * i + (size_t)k);
        for (k = 0; k < 9; ++k) K[k] = dvren__snpz_f32(&ak, 9 * i + (size_t)k);
        for (k = 0; k < 16; ++k)
            if (!isfinite(v[k]))
                return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "viewmats", "camera %lu: element [%d][%d] is %g",
                                        (unsigned long)i, k / 4, k % 4, (double)v[k]);
        if (v[12] != 0.0f || v[13] != 0.0f || v[14] != 0.0f || v[15] != 1.0f)
            return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "viewmats",
                                    "camera %lu: last row (%g %g %g %g), expected (0 0 0 1) (a rigid world-to-camera transform)",
                                    (unsigned long)i, (double)v[12], (double)v[13], (double)v[14], (double)v[15]);
        for (k = 0; k < 9; ++k)
            if (!isfinite(K[k]))
                return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "Ks", "camera %lu: element [%d][%d] is %g",
                                        (unsigned long)i, k / 3, k % 3, (double)K[k]);
        if (!(K[0] > 0.0f) || !(K[4] > 0.0f) || K[1] != 0.0f || K[3] != 0.0f || K[6] != 0.0f || K[7] != 0.0f || K[8] != 1.0f)
            return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "Ks",
                                    "camera %lu: [[%g %g %g] [%g %g %g] [%g %g %g]] is not [[fx 0 cx] [0 fy cy] [0 0 1]] with fx, fy > 0",
                                    (unsigned long)i, (double)K[0], (double)K[1], (double)K[2], (double)K[3], (double)K[4],
                                    (double)K[5], (double)K[6], (double)K[7], (double)K[8]);
    }
    /* the crop, on float32 values as torch compares them */
    keep = (unsigned char*)malloc(n ? n : 1);
    if (!keep) return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_OUT_OF_MEMORY, "means3d", "cannot hold %.0f flags", (double)n);
    for (i = 0, m = 0; i < n; ++i) {
        int in = 1;
        for (k = 0; k < 3; ++k) {
            float p = dvren__snpz_f32(&am, 3 * i + (size_t)k);
            if (!isfinite(p)) {
                free(keep);
                return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "means3d", "point %lu: coordinate %d is %g",
                                        (unsigned long)i, k, (double)p);
            }
            if (!(p >= lo[k] && p <= hi[k])) in = 0;
        }
        keep[i] = (unsigned char)((o.flags & DVREN_SPLAT_NPZ_NO_CROP) ? 1 : in);
        m += keep[i];
    }
    R = o.grid;
    if (m > ((size_t)-1) / (R * R)) {
        free(keep);
        return dvren__snpz_fail(ctx, NULL, name, DVREN_ERROR_FORMAT, "means3d", "%.0f points times a %lu x %lu grid overflow",
                                (double)m, (unsigned long)R, (unsigned long)R);
    }
    if ((st = dvren_splats_create(ctx, m * R * R, 0, &out->splats)) != DVREN_OK) {
        char why[2048];
        snprintf(why, sizeof why, "%s", dvren_last_error(ctx));
        free(keep);
        memset(out, 0, sizeof *out);
        return dvren_set_error(ctx, st, "splat_npz", NULL, "'%s': means3d: %lu points in a %lu x %lu grid: %s", name,
                               (unsigned long)m, (unsigned long)R, (unsigned long)R, why);
    }
    out->cameras = (dvren_splat_npz_camera*)calloc(c, sizeof *out->cameras);
    if (!out->cameras) {
        free(keep);
        return dvren__snpz_fail(ctx, out, name, DVREN_ERROR_OUT_OF_MEMORY, "viewmats", "cannot hold %lu cameras", (unsigned long)c);
    }
    out->camera_count = c;
    for (i = 0; i < c; ++i) {
        for (k = 0; k < 16; ++k) out->cameras[i].viewmat[k] = dvren__snpz_f32(&av, 16 * i + (size_t)k);
        for (k = 0; k < 9; ++k) out->cameras[i].K[k] = dvren__snpz_f32(&ak, 9 * i + (size_t)k);
    }
    out->width = (uint32_t)wh[0];
    out->height = (uint32_t)wh[1];
    out->source_count = n;
    out->cropped_count = m;
    for (g = 0, idx = 0; g < R * R; ++g) {
        /* torch: means + grid * edges, the offset converted to float32 and added in float32 */
        float off[3];
        off[0] = (float)((long)(g / R) - (long)(R / 2)) * edge[0];
        off[1] = (float)((long)(g % R) - (long)(R / 2)) * edge[1];
        off[2] = 0.0f * edge[2];
        for (i = 0; i < n; ++i) {
            if (!keep[i]) continue;
            for (k = 0; k < 3; ++k) {
                out->splats.means[3 * idx + (size_t)k] = dvren__snpz_f32(&am, 3 * i + (size_t)k) + off[k];
                out->splats.f_dc[3 * idx + (size_t)k] =
                    dvren__snpz_dc(dvren_npy_get(&ac, 3 * i + (size_t)k) / 255.0);
            }
            ++idx;
        }
    }
    free(keep);
    dvren_splats_fill_random(&out->splats, o.seed);
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_npz_load(dvren_context* ctx, const char* path, const dvren_splat_npz_options* opt,
                                            dvren_splat_npz_scene* out)
{
    char err[256];
    size_t n = 0;
    char* bytes;
    dvren_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "NULL argument");
    bytes = dvren_io_read_file(path, DVREN_SPLAT_NPZ_MAX_FILE, &n, err, sizeof err);
    if (!bytes) return dvren_set_error(ctx, DVREN_ERROR_IO, "splat_npz", NULL, "'%s': %s", path, err);
    st = dvren_splat_npz_parse(ctx, bytes, n, path, opt, out);
    free(bytes);
    return st;
}

/* Writes one (N, cols) or (N,) float array as dir/file. */
static dvren_status dvren__snpz_save(dvren_context* ctx, const char* dir, const char* file, float* v, size_t n, int64_t cols,
                                     int64_t cols2)
{
    char path[4096];
    int64_t shape[3];
    uint32_t nd = 1;
    dvren_tensor t;
    shape[0] = (int64_t)n;
    if (cols) shape[nd++] = cols;
    if (cols2) shape[nd++] = cols2;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: the folder name is too long");
    if (dvren_tensor_wrap(v, DVREN_DTYPE_F32, nd, shape, NULL, &t) != DVREN_OK)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: %s: %s", file,
                               dvren_last_error(NULL));
    return dvren_tensor_save_npy(ctx, &t, path);
}

DVREN_API dvren_status dvren_splat_npz_save_params(dvren_context* ctx, const char* dir, const dvren_splats* s)
{
    static const char* fields[5] = {"means", "scale", "rot", "opacity", "f_dc"};
    size_t n, i, K1 = 0;
    float* col = NULL;
    float* sh = NULL;
    dvren_status st = DVREN_OK;
    int f;
    if (!dir || !s) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: NULL argument");
    n = s->count;
    if (n == 0) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: no Gaussians (count 0)");
    if (!s->means || !s->scale || !s->rot || !s->opacity || !s->f_dc)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: a NULL array");
    if (s->sh_degree < 0 || s->sh_degree > 3 || s->rest_per_channel != (uint32_t)((s->sh_degree + 1) * (s->sh_degree + 1) - 1) ||
        s->rest_count != 3 * s->rest_per_channel || (s->rest_count && !s->f_rest))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL,
                               "save_params: sh_degree %d, rest_per_channel %u, rest_count %u do not agree", s->sh_degree,
                               (unsigned)s->rest_per_channel, (unsigned)s->rest_count);
    for (f = 0; f < 5; ++f) {
        const float* a = f == 0 ? s->means : f == 1 ? s->scale : f == 2 ? s->rot : f == 3 ? s->opacity : s->f_dc;
        size_t w = f == 2 ? 4 : f == 3 ? 1 : 3;
        for (i = 0; i < n * w; ++i)
            if (!isfinite(a[i]))
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: gaussian %lu: %s[%lu] is %g",
                                       (unsigned long)(i / w), fields[f], (unsigned long)(i % w), (double)a[i]);
    }
    for (i = 0; i < n * s->rest_count; ++i)
        if (!isfinite(s->f_rest[i]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_npz", NULL, "save_params: gaussian %lu: f_rest[%lu] is %g",
                                   (unsigned long)(i / s->rest_count), (unsigned long)(i % s->rest_count), (double)s->f_rest[i]);
    col = (float*)malloc(n * 3 * sizeof(float));
    if (s->sh_degree > 0) {
        K1 = (size_t)s->rest_per_channel + 1;
        sh = (float*)malloc(n * K1 * 3 * sizeof(float));
    }
    if (!col || (s->sh_degree > 0 && !sh)) {
        free(col);
        free(sh);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_npz", NULL, "save_params: cannot hold %.0f colours", (double)n);
    }
    for (i = 0; i < n * 3; ++i) col[i] = (float)(0.5 + DVREN_SPLAT_SH_C0 * (double)s->f_dc[i]);
    if (sh)
        for (i = 0; i < n; ++i) {
            size_t k, ch, K = s->rest_per_channel;
            for (ch = 0; ch < 3; ++ch) {
                sh[(i * K1) * 3 + ch] = s->f_dc[3 * i + ch];
                for (k = 1; k < K1; ++k) sh[(i * K1 + k) * 3 + ch] = s->f_rest[i * s->rest_count + ch * K + k - 1];
            }
        }
    /* the inputs are const; dvren_tensor_wrap takes void*, dvren_tensor_save_npy only reads */
    if (st == DVREN_OK) st = dvren__snpz_save(ctx, dir, "means.npy", (float*)(uintptr_t)s->means, n, 3, 0);
    if (st == DVREN_OK) st = dvren__snpz_save(ctx, dir, "log_scales.npy", (float*)(uintptr_t)s->scale, n, 3, 0);
    if (st == DVREN_OK) st = dvren__snpz_save(ctx, dir, "quats.npy", (float*)(uintptr_t)s->rot, n, 4, 0);
    if (st == DVREN_OK) st = dvren__snpz_save(ctx, dir, "opacity_logits.npy", (float*)(uintptr_t)s->opacity, n, 0, 0);
    if (st == DVREN_OK) st = dvren__snpz_save(ctx, dir, "colors.npy", col, n, 3, 0);
    if (st == DVREN_OK && sh) st = dvren__snpz_save(ctx, dir, "sh_coeffs.npy", sh, n, (int64_t)K1, 3);
    free(col);
    free(sh);
    return st;
}

#endif /* DVREN_SPLAT_NPZ_IMPLEMENTATION_ONCE */
#endif /* DVREN_SPLAT_NPZ_IMPLEMENTATION */
