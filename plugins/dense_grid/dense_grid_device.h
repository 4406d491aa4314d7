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

DVREN_FN float dense_grid_fetch(const dense_grid_block* P, uint64_t i)
{
    if (P->storage == DENSE_GRID_F32) return ((const float*)P->data)[i];
    if (P->storage == DENSE_GRID_U16) return (float)((const uint16_t*)P->data)[i];
    return (float)((const uint8_t*)P->data)[i];
}

/* Lower corner index i0, weight w and stride step of one axis. */
DVREN_FN void dense_grid_axis(float p, float origin, float to_index, uint32_t n, uint64_t stride, uint64_t* base,
                              uint64_t* step, float* w)
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
    *base += (uint64_t)i * stride;
    *step = stride;
}

DVREN_FN void dense_grid_eval(const void* P_, dvren_float3 p, float* out)
{
    const dense_grid_block* P = (const dense_grid_block*)P_;
    uint64_t C = P->channels, sx, sy, sz, b = 0;
    float wx, wy, wz;
    uint32_t c;
    dense_grid_axis(p.x, P->origin[0], P->to_index[0], P->dims[0], C, &b, &sx, &wx);
    dense_grid_axis(p.y, P->origin[1], P->to_index[1], P->dims[1], C * P->dims[0], &b, &sy, &wy);
    dense_grid_axis(p.z, P->origin[2], P->to_index[2], P->dims[2], C * P->dims[0] * P->dims[1], &b, &sz, &wz);
    for (c = 0; c < P->channels; ++c) {
        uint64_t i = b + c;
        /* a*(1-w) + b*w, not a + (b-a)*w: exact at w = 0 and w = 1 */
        float c00 = dense_grid_fetch(P, i) * (1.0f - wx) + dense_grid_fetch(P, i + sx) * wx;
        float c10 = dense_grid_fetch(P, i + sy) * (1.0f - wx) + dense_grid_fetch(P, i + sy + sx) * wx;
        float c01 = dense_grid_fetch(P, i + sz) * (1.0f - wx) + dense_grid_fetch(P, i + sz + sx) * wx;
        float c11 = dense_grid_fetch(P, i + sz + sy) * (1.0f - wx) + dense_grid_fetch(P, i + sz + sy + sx) * wx;
        float c0 = c00 * (1.0f - wy) + c10 * wy;
        float c1 = c01 * (1.0f - wy) + c11 * wy;
        out[c] = (c0 * (1.0f - wz) + c1 * wz) * P->scale[c] + P->offset[c];
    }
}

#endif
