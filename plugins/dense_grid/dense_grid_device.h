/* plugins/dense_grid/dense_grid_device.h - per-sample code of the
 * "dense_grid" field (single source: C and NVRTC).
 *
 * A regular grid of X x Y x Z voxels with C channels, stored (Z, Y, X, C):
 * channels fastest, then x, y, z, so one voxel's channels are one contiguous
 * read. Storage is u8, u16 or f32; value = stored * scale[c] + offset[c].
 * Reconstruction is trilinear interpolation (the tensor product of linear
 * interpolation on each axis) with border clamping outside the outermost
 * voxel centres, like grid_sample(align_corners=True, padding_mode=border).
 * World to continuous voxel index: i = (p - origin) * to_index per axis.
 *
 * Backward (dense_grid_eval_bwd): trilinear interpolation is linear in the
 * voxel values, so dL/dv of a corner is its weight times scale[c] times
 * dL/dout[c], added into the gradient buffer bound in the block.
 *
 * The part below the block is per precision (DVREN_PNAME): dense_grid.c
 * includes this file once in float32 and once in float64; NVRTC once. */
#ifndef DENSE_GRID_DEVICE_H
#define DENSE_GRID_DEVICE_H

#define DENSE_GRID_F32 0u
#define DENSE_GRID_U16 1u
#define DENSE_GRID_U8 2u

/* JIT specialisation (the GPU path defines these from jit_defines when the
 * instance fixes them): channel count, storage type, and scale 1 / offset 0
 * on every channel. Without them the values come from the block. */
#if defined(DENSE_GRID_JIT_CHANNELS)
#define DENSE_GRID__C(P) DENSE_GRID_JIT_CHANNELS
#else
#define DENSE_GRID__C(P) ((P)->channels)
#endif
#if defined(DENSE_GRID_JIT_STORAGE)
#define DENSE_GRID__S(P) DENSE_GRID_JIT_STORAGE
#else
#define DENSE_GRID__S(P) ((P)->storage)
#endif
#if defined(DENSE_GRID_JIT_IDENTITY)
#define DENSE_GRID__MAP(P, c, v) (v)
#else
#define DENSE_GRID__MAP(P, c, v) ((v) * (P)->scale[c] + (P)->offset[c])
#endif
/* Geometry: dims, origin and world-to-index scale of each axis. As
 * compile-time constants the strides fold into the loads' address offsets
 * and the clamps into immediates; DENSE_GRID_JIT_INDEX32 says every element
 * index fits in 32 bits. */
#if defined(DENSE_GRID_JIT_GEOMETRY)
#define DENSE_GRID__N(P, a) ((a) == 0 ? DENSE_GRID_JIT_NX : (a) == 1 ? DENSE_GRID_JIT_NY : DENSE_GRID_JIT_NZ)
#define DENSE_GRID__O(P, a) ((a) == 0 ? DENSE_GRID_JIT_OX : (a) == 1 ? DENSE_GRID_JIT_OY : DENSE_GRID_JIT_OZ)
#define DENSE_GRID__K(P, a) ((a) == 0 ? DENSE_GRID_JIT_KX : (a) == 1 ? DENSE_GRID_JIT_KY : DENSE_GRID_JIT_KZ)
#else
#define DENSE_GRID__N(P, a) ((P)->dims[a])
#define DENSE_GRID__O(P, a) ((P)->origin[a])
#define DENSE_GRID__K(P, a) ((P)->to_index[a])
#endif
#if defined(DENSE_GRID_JIT_INDEX32)
typedef uint32_t dense_grid_index;
#else
typedef uint64_t dense_grid_index;
#endif

typedef struct dense_grid_block {
    const void* data;                   /* (Z, Y, X, C) voxels */
    dvren_grad_ref grad;                /* dL/d(stored value), (Z, Y, X, C) float32 (backward only) */
    uint32_t dims[3];                   /* X, Y, Z */
    uint32_t channels;                  /* C */
    uint32_t storage;                   /* DENSE_GRID_* */
    uint32_t pad;
    float origin[3];                    /* world point of voxel index (0,0,0) */
    float to_index[3];                  /* voxel index units per world unit */
    float scale[DVREN_MAX_CHANNELS];    /* value = stored * scale + offset */
    float offset[DVREN_MAX_CHANNELS];
} dense_grid_block;

#endif /* DENSE_GRID_DEVICE_H */

/* ---- per precision ---- */

/* One stored value as a real: f32, u16 or u8 storage. */
DVREN_FN dvren_real DVREN_PNAME(dense_grid_fetch)(const dense_grid_block* P, dense_grid_index i)
{
    if (DENSE_GRID__S(P) == DENSE_GRID_F32) return (dvren_real)((const float*)P->data)[i];
    if (DENSE_GRID__S(P) == DENSE_GRID_U16) return (dvren_real)dvren_u16_to_float(((const uint16_t*)P->data)[i]);
    return (dvren_real)((const uint8_t*)P->data)[i];
}

/* Lower corner index i0, weight w and stride step of one axis. */
DVREN_FN void DVREN_PNAME(dense_grid_axis)(dvren_real p, dvren_real origin, dvren_real to_index, uint32_t n,
                                           dense_grid_index stride, dense_grid_index* base, dense_grid_index* step,
                                           dvren_real* w)
{
    dvren_real x = dvren_clamp((p - origin) * to_index, (dvren_real)0, (dvren_real)(n - 1));
    uint32_t i = (uint32_t)dvren_floor(x);
    if (n < 2) {
        *w = (dvren_real)0;
        *step = 0;
        return;
    }
    if (i > n - 2) i = n - 2;
    *w = x - (dvren_real)i;
    *base += (dense_grid_index)i * stride;
    *step = stride;
}

/* a*(1-w) + b*w, not a + (b-a)*w: exact at w = 0 and w = 1 */
DVREN_FN dvren_real DVREN_PNAME(dense_grid_lerp)(dvren_real a, dvren_real b, dvren_real w)
{
    return a * ((dvren_real)1 - w) + b * w;
}

/* The cell of p: element index b of its lower corner's channel 0, the
 * strides sx, sy, sz to the other corners and the weights. */
DVREN_FN void DVREN_PNAME(dense_grid_cell)(const dense_grid_block* P, dvren_vec3 p, dense_grid_index* b,
                                           dense_grid_index* sx, dense_grid_index* sy, dense_grid_index* sz,
                                           dvren_real* wx, dvren_real* wy, dvren_real* wz)
{
    dense_grid_index C = DENSE_GRID__C(P);
    DVREN_PNAME(dense_grid_axis)(p.x, (dvren_real)DENSE_GRID__O(P, 0), (dvren_real)DENSE_GRID__K(P, 0), DENSE_GRID__N(P, 0),
                                 C, b, sx, wx);
    DVREN_PNAME(dense_grid_axis)(p.y, (dvren_real)DENSE_GRID__O(P, 1), (dvren_real)DENSE_GRID__K(P, 1), DENSE_GRID__N(P, 1),
                                 C * DENSE_GRID__N(P, 0), b, sy, wy);
    DVREN_PNAME(dense_grid_axis)(p.z, (dvren_real)DENSE_GRID__O(P, 2), (dvren_real)DENSE_GRID__K(P, 2), DENSE_GRID__N(P, 2),
                                 C * DENSE_GRID__N(P, 0) * DENSE_GRID__N(P, 1), b, sz, wz);
}

#define DENSE_GRID__LERP DVREN_PNAME(dense_grid_lerp)
#define DENSE_GRID__FETCH DVREN_PNAME(dense_grid_fetch)

/* Channel c alone: the same cell, weights and arithmetic order as
 * dense_grid_eval, so the value is bitwise its out[c] (eight narrow loads
 * instead of eight wide ones: the cheap first look at a sample's density). */
DVREN_FN dvren_real DVREN_PNAME(dense_grid_eval_channel)(const void* P_, dvren_vec3 p, uint32_t c)
{
    const dense_grid_block* P = (const dense_grid_block*)P_;
    dense_grid_index sx, sy, sz, b = c;
    dvren_real wx, wy, wz, r;
    DVREN_PNAME(dense_grid_cell)(P, p, &b, &sx, &sy, &sz, &wx, &wy, &wz);
    r = DENSE_GRID__LERP(
        DENSE_GRID__LERP(DENSE_GRID__LERP(DENSE_GRID__FETCH(P, b), DENSE_GRID__FETCH(P, b + sx), wx),
                         DENSE_GRID__LERP(DENSE_GRID__FETCH(P, b + sy), DENSE_GRID__FETCH(P, b + sy + sx), wx), wy),
        DENSE_GRID__LERP(DENSE_GRID__LERP(DENSE_GRID__FETCH(P, b + sz), DENSE_GRID__FETCH(P, b + sz + sx), wx),
                         DENSE_GRID__LERP(DENSE_GRID__FETCH(P, b + sz + sy), DENSE_GRID__FETCH(P, b + sz + sy + sx), wx),
                         wy),
        wz);
    return DENSE_GRID__MAP(P, c, r);
}

DVREN_FN void DVREN_PNAME(dense_grid_eval)(const void* P_, dvren_vec3 p, dvren_real* out)
{
    const dense_grid_block* P = (const dense_grid_block*)P_;
    dense_grid_index sx, sy, sz, b = 0;
    dvren_real wx, wy, wz;
    uint32_t c;
    DVREN_PNAME(dense_grid_cell)(P, p, &b, &sx, &sy, &sz, &wx, &wy, &wz);
    if (DENSE_GRID__C(P) == 4 && DENSE_GRID__S(P) != DENSE_GRID_U8) {
        /* four channels (density + rgb, the common case): eight wide loads,
         * the same arithmetic as the loop below, channel by channel */
        dvren_float4 v000, v100, v010, v110, v001, v101, v011, v111;
        dvren_real r;
        if (DENSE_GRID__S(P) == DENSE_GRID_F32) {
            const float* d = (const float*)P->data;
            v000 = dvren_load_f32x4(d + b);
            v100 = dvren_load_f32x4(d + b + sx);
            v010 = dvren_load_f32x4(d + b + sy);
            v110 = dvren_load_f32x4(d + b + sy + sx);
            v001 = dvren_load_f32x4(d + b + sz);
            v101 = dvren_load_f32x4(d + b + sz + sx);
            v011 = dvren_load_f32x4(d + b + sz + sy);
            v111 = dvren_load_f32x4(d + b + sz + sy + sx);
        } else {
            const uint16_t* d = (const uint16_t*)P->data;
            v000 = dvren_load_u16x4(d + b);
            v100 = dvren_load_u16x4(d + b + sx);
            v010 = dvren_load_u16x4(d + b + sy);
            v110 = dvren_load_u16x4(d + b + sy + sx);
            v001 = dvren_load_u16x4(d + b + sz);
            v101 = dvren_load_u16x4(d + b + sz + sx);
            v011 = dvren_load_u16x4(d + b + sz + sy);
            v111 = dvren_load_u16x4(d + b + sz + sy + sx);
        }
#define DENSE_GRID__TRI(m)                                                                                             \
    DENSE_GRID__LERP(DENSE_GRID__LERP(DENSE_GRID__LERP((dvren_real)v000.m, (dvren_real)v100.m, wx),                    \
                                      DENSE_GRID__LERP((dvren_real)v010.m, (dvren_real)v110.m, wx), wy),               \
                     DENSE_GRID__LERP(DENSE_GRID__LERP((dvren_real)v001.m, (dvren_real)v101.m, wx),                    \
                                      DENSE_GRID__LERP((dvren_real)v011.m, (dvren_real)v111.m, wx), wy),               \
                     wz)
        r = DENSE_GRID__TRI(x);
        out[0] = DENSE_GRID__MAP(P, 0, r);
        r = DENSE_GRID__TRI(y);
        out[1] = DENSE_GRID__MAP(P, 1, r);
        r = DENSE_GRID__TRI(z);
        out[2] = DENSE_GRID__MAP(P, 2, r);
        r = DENSE_GRID__TRI(w);
        out[3] = DENSE_GRID__MAP(P, 3, r);
#undef DENSE_GRID__TRI
    } else {
        for (c = 0; c < DENSE_GRID__C(P); ++c) {
            dense_grid_index i = b + c;
            dvren_real c00 = DENSE_GRID__LERP(DENSE_GRID__FETCH(P, i), DENSE_GRID__FETCH(P, i + sx), wx);
            dvren_real c10 = DENSE_GRID__LERP(DENSE_GRID__FETCH(P, i + sy), DENSE_GRID__FETCH(P, i + sy + sx), wx);
            dvren_real c01 = DENSE_GRID__LERP(DENSE_GRID__FETCH(P, i + sz), DENSE_GRID__FETCH(P, i + sz + sx), wx);
            dvren_real c11 = DENSE_GRID__LERP(DENSE_GRID__FETCH(P, i + sz + sy), DENSE_GRID__FETCH(P, i + sz + sy + sx), wx);
            dvren_real r = DENSE_GRID__LERP(DENSE_GRID__LERP(c00, c10, wy), DENSE_GRID__LERP(c01, c11, wy), wz);
            out[c] = DENSE_GRID__MAP(P, c, r);
        }
    }
}

/* Backward of dense_grid_eval: adds w_corner * scale[c] * dL_dout[c] to the
 * gradient of each of the eight corner voxels (float32 storage only: the
 * host binds no gradient for u8/u16 grids). */
DVREN_FN void DVREN_PNAME(dense_grid_eval_bwd)(const void* P_, dvren_vec3 p, const dvren_real* dL_dout)
{
    const dense_grid_block* P = (const dense_grid_block*)P_;
    dense_grid_index sx, sy, sz, b = 0, off[8];
    dvren_real wx, wy, wz, w[8], g[DVREN_MAX_CHANNELS];
    uint32_t c, k, any = 0;
    for (c = 0; c < DENSE_GRID__C(P); ++c) {
#if defined(DENSE_GRID_JIT_IDENTITY)
        g[c] = dL_dout[c];
#else
        g[c] = dL_dout[c] * (dvren_real)P->scale[c];
#endif
        any |= g[c] != (dvren_real)0;
    }
    if (!any) return;
    DVREN_PNAME(dense_grid_cell)(P, p, &b, &sx, &sy, &sz, &wx, &wy, &wz);
    off[0] = b;
    off[1] = b + sx;
    off[2] = b + sy;
    off[3] = b + sy + sx;
    off[4] = b + sz;
    off[5] = b + sz + sx;
    off[6] = b + sz + sy;
    off[7] = b + sz + sy + sx;
    w[0] = ((dvren_real)1 - wx) * ((dvren_real)1 - wy) * ((dvren_real)1 - wz);
    w[1] = wx * ((dvren_real)1 - wy) * ((dvren_real)1 - wz);
    w[2] = ((dvren_real)1 - wx) * wy * ((dvren_real)1 - wz);
    w[3] = wx * wy * ((dvren_real)1 - wz);
    w[4] = ((dvren_real)1 - wx) * ((dvren_real)1 - wy) * wz;
    w[5] = wx * ((dvren_real)1 - wy) * wz;
    w[6] = ((dvren_real)1 - wx) * wy * wz;
    w[7] = wx * wy * wz;
    for (k = 0; k < 8; ++k) {
        if (w[k] == (dvren_real)0) continue; /* on a face or an edge: no share */
        if (DENSE_GRID__C(P) == 4)
            dvren_grad_add4(P->grad, off[k], w[k] * g[0], w[k] * g[1], w[k] * g[2], w[k] * g[3]);
        else
            for (c = 0; c < DENSE_GRID__C(P); ++c)
                if (g[c] != (dvren_real)0) dvren_grad_add(P->grad, off[k] + c, w[k] * g[c]);
    }
}
#undef DENSE_GRID__LERP
#undef DENSE_GRID__FETCH
