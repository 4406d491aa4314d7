/* plugins/block_world/block_world_device.h - per-sample code of the
 * "block_world" field. Single source: compiled as C into block_world.so and
 * by NVRTC into the fused kernel (kernels/dvren_device.h comes first;
 * nothing is included here).
 *
 * A grid of X x Y x Z unit cells (y up; cell (x, y, z) is origin + scale *
 * [x, x+1] x [y, y+1] x [z, z+1]); cell[x + X (y + Y z)] is 0 for air or
 * k + 1 for block k, whose material logits are logits[k M .. k M + M-1].
 * At a point inside block k the field writes 10 channels: 1 (occupancy),
 * then the mixed top, side and bottom colours sum_m p_m table[m][0..8]
 * with the material probabilities p (docs/blocks.md, "Mixing"):
 *
 *   z_m = (l_km + g_km) / tau,  p = softmax(z)         (softmax, gumbel)
 *   p = onehot(argmax_m l_km)                          (hard, forward)
 *
 * g_km = -ln(-ln u_km) in gumbel mode only (Jang et al. 2017, eq. 1), u_km
 * the first dvren_rng_uniform of dvren_rng_make(seed_lo, seed_hi, k, m,
 * BLOCK_WORLD_RNG_STREAM) clamped to [2^-24, 1 - 2^-24], the logarithms in
 * float64 (the same noise on the CPU and the GPU). Air and points outside
 * the grid give zeros.
 *
 * Backward: dL/dl_km = p_m (G_m - sum_j p_j G_j) / tau with G_m = dL/dout[1..9]
 * . table[m] (hard mode: the softmax p, straight-through, Bengio et al.
 * 2013). Occupancy is geometry: no gradient. */
#ifndef BLOCK_WORLD_DEVICE_H
#define BLOCK_WORLD_DEVICE_H

#define BLOCK_WORLD_CHANNELS 10u
#define BLOCK_WORLD_SOFTMAX 0u
#define BLOCK_WORLD_GUMBEL 1u
#define BLOCK_WORLD_HARD 2u
#define BLOCK_WORLD_RNG_STREAM 7u

typedef struct block_world_block {
    float origin[3];           /* world position of cell (0, 0, 0)'s low corner */
    float inv_scale;           /* cells per world unit */
    uint32_t size[3];          /* X, Y, Z */
    uint32_t materials;        /* M */
    uint32_t mode;             /* BLOCK_WORLD_* */
    float inv_temperature;     /* 1 / tau */
    uint32_t seed_lo, seed_hi; /* gumbel noise */
    const uint32_t* cell;      /* X * Y * Z: 0 air, k + 1 block k */
    const float* logits;       /* N x M */
    const float* table;        /* M x 9: top rgb, side rgb, bottom rgb */
    dvren_grad_ref g_logits;   /* where dL/dlogits goes (backward) */
} block_world_block;

#endif /* BLOCK_WORLD_DEVICE_H */

/* Block index + 1 at p (0: air or outside the grid). */
DVREN_FN uint32_t DVREN_PNAME(block_world_cell)(const block_world_block* P, dvren_vec3 p)
{
    dvren_real fx = dvren_floor((p.x - (dvren_real)P->origin[0]) * (dvren_real)P->inv_scale);
    dvren_real fy = dvren_floor((p.y - (dvren_real)P->origin[1]) * (dvren_real)P->inv_scale);
    dvren_real fz = dvren_floor((p.z - (dvren_real)P->origin[2]) * (dvren_real)P->inv_scale);
    if (!(fx >= (dvren_real)0 && fy >= (dvren_real)0 && fz >= (dvren_real)0 && fx < (dvren_real)P->size[0] &&
          fy < (dvren_real)P->size[1] && fz < (dvren_real)P->size[2]))
        return 0u;
    return P->cell[(uint32_t)fx + P->size[0] * ((uint32_t)fy + P->size[1] * (uint32_t)fz)];
}

/* Gumbel noise g_km (0 unless mode is gumbel). */
DVREN_FN dvren_real DVREN_PNAME(block_world_noise)(const block_world_block* P, uint32_t k, uint32_t m)
{
    dvren_rng r;
    double u;
    if (P->mode != BLOCK_WORLD_GUMBEL) return (dvren_real)0;
    r = dvren_rng_make(P->seed_lo, P->seed_hi, k, m, BLOCK_WORLD_RNG_STREAM);
    u = (double)dvren_rng_uniform(&r);
    u = u < 5.9604644775390625e-8 ? 5.9604644775390625e-8 : (u > 1.0 - 5.9604644775390625e-8 ? 1.0 - 5.9604644775390625e-8 : u);
    return (dvren_real)(float)(-log(-log(u)));
}

/* z_km, the tempered logit */
DVREN_FN dvren_real DVREN_PNAME(block_world_z)(const block_world_block* P, uint32_t k, uint32_t m)
{
    return ((dvren_real)P->logits[(uint64_t)k * P->materials + m] + DVREN_PNAME(block_world_noise)(P, k, m)) *
           (dvren_real)P->inv_temperature;
}

/* The largest z_km over m and its first index. */
DVREN_FN dvren_real DVREN_PNAME(block_world_zmax)(const block_world_block* P, uint32_t k, uint32_t* arg)
{
    dvren_real zmax = DVREN_PNAME(block_world_z)(P, k, 0u);
    uint32_t m;
    *arg = 0u;
    for (m = 1; m < P->materials; ++m) {
        dvren_real z = DVREN_PNAME(block_world_z)(P, k, m);
        if (z > zmax) {
            zmax = z;
            *arg = m;
        }
    }
    return zmax;
}

DVREN_FN void DVREN_PNAME(block_world_eval)(const void* P_, dvren_vec3 p, dvren_real* out)
{
    const block_world_block* P = (const block_world_block*)P_;
    uint32_t id = DVREN_PNAME(block_world_cell)(P, p), c, m, k, arg;
    dvren_real zmax, sum = (dvren_real)0, inv;
    for (c = 0; c < BLOCK_WORLD_CHANNELS; ++c) out[c] = (dvren_real)0;
    if (!id) return;
    k = id - 1u;
    out[0] = (dvren_real)1;
    zmax = DVREN_PNAME(block_world_zmax)(P, k, &arg);
    if (P->mode == BLOCK_WORLD_HARD) {
        for (c = 0; c < 9u; ++c) out[1 + c] = (dvren_real)P->table[arg * 9u + c];
        return;
    }
    for (m = 0; m < P->materials; ++m) {
        dvren_real e = dvren_exp(DVREN_PNAME(block_world_z)(P, k, m) - zmax);
        const float* t = P->table + m * 9u;
        sum += e;
        for (c = 0; c < 9u; ++c) out[1 + c] += e * (dvren_real)t[c];
    }
    inv = (dvren_real)1 / sum;
    for (c = 0; c < 9u; ++c) out[1 + c] *= inv;
}

/* Channel c alone, bitwise out[c] of eval: occupancy without the materials. */
DVREN_FN dvren_real DVREN_PNAME(block_world_eval_channel)(const void* P_, dvren_vec3 p, uint32_t c)
{
    const block_world_block* P = (const block_world_block*)P_;
    dvren_real out[BLOCK_WORLD_CHANNELS];
    if (c == 0u) return DVREN_PNAME(block_world_cell)(P, p) ? (dvren_real)1 : (dvren_real)0;
    DVREN_PNAME(block_world_eval)(P_, p, out);
    return out[c];
}

DVREN_FN void DVREN_PNAME(block_world_eval_bwd)(const void* P_, dvren_vec3 p, const dvren_real* dL_dout)
{
    const block_world_block* P = (const block_world_block*)P_;
    uint32_t id = DVREN_PNAME(block_world_cell)(P, p), c, m, k, arg;
    dvren_real zmax, sum = (dvren_real)0, pg = (dvren_real)0, inv;
    if (!id || !P->g_logits.ptr) return;
    k = id - 1u;
    for (c = 1; c < BLOCK_WORLD_CHANNELS; ++c)
        if (dL_dout[c] != (dvren_real)0) break;
    if (c == BLOCK_WORLD_CHANNELS) return; /* nothing flows */
    zmax = DVREN_PNAME(block_world_zmax)(P, k, &arg);
    /* sum_m e_m and sum_m e_m G_m, then each p_m (G_m - sum p G) / tau */
    for (m = 0; m < P->materials; ++m) {
        dvren_real e = dvren_exp(DVREN_PNAME(block_world_z)(P, k, m) - zmax), G = (dvren_real)0;
        const float* t = P->table + m * 9u;
        for (c = 0; c < 9u; ++c) G += dL_dout[1 + c] * (dvren_real)t[c];
        sum += e;
        pg += e * G;
    }
    inv = (dvren_real)1 / sum;
    pg *= inv;
    for (m = 0; m < P->materials; ++m) {
        dvren_real e = dvren_exp(DVREN_PNAME(block_world_z)(P, k, m) - zmax), G = (dvren_real)0;
        const float* t = P->table + m * 9u;
        for (c = 0; c < 9u; ++c) G += dL_dout[1 + c] * (dvren_real)t[c];
        dvren_grad_add(P->g_logits, (uint64_t)k * P->materials + m, e * inv * (G - pg) * (dvren_real)P->inv_temperature);
    }
}
