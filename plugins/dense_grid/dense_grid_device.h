/* plugins/dense_grid/dense_grid_device.h - per-sample code of the
 * "dense_grid" field (single source: C and NVRTC).
 *
 * A regular grid of X x Y x Z voxels with C channels, stored (Z, Y, X, C):
 * channels fastest, then x, y, z, so one voxel's channels are one contiguous
 * read. Storage is u8, u16 or f32; value = stored * scale[c] + offset[c].
 * Reconstruction is trilinear interpolation (the tensor product of linear
 * interpolation on each axis) with border clamping outside the outermost
 * voxel centres, like grid_sample(align_corners=True, padding_mode=border).
 * World to continuous voxel index: i = (p - origin) * to_index per axis. */
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
    uint32_t dims[3];                   /* X, Y, Z */
    uint32_t channels;                  /* C */
    uint32_t storage;                   /* DENSE_GRID_* */
    uint32_t pad;
    float origin[3];                    /* world point of voxel index (0,0,0) */
    float to_index[3];                  /* voxel index units per world unit */
    float scale[DVREN_MAX_CHANNELS];    /* value = stored * scale + offset */
    float offset[DVREN_MAX_CHANNELS];
} dense_grid_block;

DVREN_FN float dense_grid_fetch(const dense_grid_block* P, dense_grid_index i)
{
    if (DENSE_GRID__S(P) == DENSE_GRID_F32) return ((const float*)P->data)[i];
    if (DENSE_GRID__S(P) == DENSE_GRID_U16) return dvren_u16_to_float(((const uint16_t*)P->data)[i]);
    return (float)((const uint8_t*)P->data)[i];
}

/* The four channels of voxel i (element index of its channel 0): one wide load. */
DVREN_FN dvren_float4 dense_grid_fetch4(const dense_grid_block* P, dense_grid_index i)
{
    if (DENSE_GRID__S(P) == DENSE_GRID_F32) return dvren_load_f32x4((const float*)P->data + i);
    return dvren_load_u16x4((const uint16_t*)P->data + i);
}

/* Lower corner index i0, weight w and stride step of one axis. */
DVREN_FN void dense_grid_axis(float p, float origin, float to_index, uint32_t n, dense_grid_index stride, dense_grid_index* base,
                              dense_grid_index* step, float* w)
{
    float x = dvren_clampf((p - origin) * to_index, 0.0f, (float)(n - 1));
    uint32_t i = (uint32_t)floorf(x);
    if (n < 2) {
        *w = 0.0f;
        *step = 0;
        return;
    }
    if (i > n - 2) i = n - 2;
    *w = x - (float)i;
    *base += (dense_grid_index)i * stride;
    *step = stride;
}

/* a*(1-w) + b*w, not a + (b-a)*w: exact at w = 0 and w = 1 */
DVREN_FN float dense_grid_lerp(float a, float b, float w) { return a * (1.0f - w) + b * w; }

/* Channel c alone: the same cell, weights and arithmetic order as
 * dense_grid_eval, so the value is bitwise its out[c] (eight narrow loads
 * instead of eight wide ones: the cheap first look at a sample's density). */
DVREN_FN float dense_grid_eval_channel(const void* P_, dvren_float3 p, uint32_t c)
{
    const dense_grid_block* P = (const dense_grid_block*)P_;
    dense_grid_index C = DENSE_GRID__C(P), sx, sy, sz, b = c;
    float wx, wy, wz, r;
    dense_grid_axis(p.x, DENSE_GRID__O(P, 0), DENSE_GRID__K(P, 0), DENSE_GRID__N(P, 0), C, &b, &sx, &wx);
    dense_grid_axis(p.y, DENSE_GRID__O(P, 1), DENSE_GRID__K(P, 1), DENSE_GRID__N(P, 1), C * DENSE_GRID__N(P, 0), &b, &sy,
                    &wy);
    dense_grid_axis(p.z, DENSE_GRID__O(P, 2), DENSE_GRID__K(P, 2), DENSE_GRID__N(P, 2),
                    C * DENSE_GRID__N(P, 0) * DENSE_GRID__N(P, 1), &b, &sz, &wz);
    r = dense_grid_lerp(dense_grid_lerp(dense_grid_lerp(dense_grid_fetch(P, b), dense_grid_fetch(P, b + sx), wx),
                                        dense_grid_lerp(dense_grid_fetch(P, b + sy), dense_grid_fetch(P, b + sy + sx), wx), wy),
                        dense_grid_lerp(dense_grid_lerp(dense_grid_fetch(P, b + sz), dense_grid_fetch(P, b + sz + sx), wx),
                                        dense_grid_lerp(dense_grid_fetch(P, b + sz + sy),
                                                        dense_grid_fetch(P, b + sz + sy + sx), wx), wy),
                        wz);
    return DENSE_GRID__MAP(P, c, r);
}

DVREN_FN void dense_grid_eval(const void* P_, dvren_float3 p, float* out)
{
    const dense_grid_block* P = (const dense_grid_block*)P_;
    dense_grid_index C = DENSE_GRID__C(P), sx, sy, sz, b = 0;
    float wx, wy, wz;
    uint32_t c;
    dense_grid_axis(p.x, DENSE_GRID__O(P, 0), DENSE_GRID__K(P, 0), DENSE_GRID__N(P, 0), C, &b, &sx, &wx);
    dense_grid_axis(p.y, DENSE_GRID__O(P, 1), DENSE_GRID__K(P, 1), DENSE_GRID__N(P, 1), C * DENSE_GRID__N(P, 0), &b, &sy,
                    &wy);
    dense_grid_axis(p.z, DENSE_GRID__O(P, 2), DENSE_GRID__K(P, 2), DENSE_GRID__N(P, 2),
                    C * DENSE_GRID__N(P, 0) * DENSE_GRID__N(P, 1), &b, &sz, &wz);
    if (DENSE_GRID__C(P) == 4 && DENSE_GRID__S(P) != DENSE_GRID_U8) {
        /* four channels (density + rgb, the common case): eight wide loads,
         * the same arithmetic as the loop below, channel by channel */
        dvren_float4 v000 = dense_grid_fetch4(P, b), v100 = dense_grid_fetch4(P, b + sx);
        dvren_float4 v010 = dense_grid_fetch4(P, b + sy), v110 = dense_grid_fetch4(P, b + sy + sx);
        dvren_float4 v001 = dense_grid_fetch4(P, b + sz), v101 = dense_grid_fetch4(P, b + sz + sx);
        dvren_float4 v011 = dense_grid_fetch4(P, b + sz + sy), v111 = dense_grid_fetch4(P, b + sz + sy + sx);
        float r;
#define DENSE_GRID__TRI(m)                                                                            \
        dense_grid_lerp(dense_grid_lerp(dense_grid_lerp(v000.m, v100.m, wx), dense_grid_lerp(v010.m, v110.m, wx), wy), \
                        dense_grid_lerp(dense_grid_lerp(v001.m, v101.m, wx), dense_grid_lerp(v011.m, v111.m, wx), wy), wz)
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
            float c00 = dense_grid_lerp(dense_grid_fetch(P, i), dense_grid_fetch(P, i + sx), wx);
            float c10 = dense_grid_lerp(dense_grid_fetch(P, i + sy), dense_grid_fetch(P, i + sy + sx), wx);
            float c01 = dense_grid_lerp(dense_grid_fetch(P, i + sz), dense_grid_fetch(P, i + sz + sx), wx);
            float c11 = dense_grid_lerp(dense_grid_fetch(P, i + sz + sy), dense_grid_fetch(P, i + sz + sy + sx), wx);
            float r = dense_grid_lerp(dense_grid_lerp(c00, c10, wy), dense_grid_lerp(c01, c11, wy), wz);
            out[c] = DENSE_GRID__MAP(P, c, r);
        }
    }
}

#endif
