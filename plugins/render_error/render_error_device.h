/* plugins/render_error/render_error_device.h - per-pixel code of the
 * "render_error" saliency model (render_error.c is the host side).
 *
 * Single source: render_error.c includes this file after dvren.h and runs
 * the functions below in plain loops on the CPU; on a CUDA context the host
 * service "dvren.host.cuda/1" compiles the same file with NVRTC after
 * kernels/dvren_device.h (DVREN_ON_GPU 1) and render_error.c launches the
 * `extern "C" __global__` kernels at the end of the file, which call the
 * same functions. Nothing is included here; every name starts with
 * render_error_. Only float32 (a saliency map needs no float64 twin).
 *
 * What it computes (the passes, in order; N = width * height):
 *   1. depth range: lo, hi = min, max of the depth over the object's pixels
 *      (alpha > alpha_threshold; without alpha, depth > 0);
 *   2. terms, per pixel (0 where an input is missing or its weight is 0):
 *        T0 relative error  sqrt(variance) / (luminance + epsilon)
 *        T1 alpha edges     |Sobel(alpha)|
 *        T2 depth edges     |Sobel(depth)| / (hi - lo), only on the object:
 *                           0 where alpha <= alpha_threshold, and a
 *                           neighbour off the object reads as the centre
 *                           pixel's depth, so the silhouette (T1's job) is
 *                           not counted twice
 *        T3 luma edges      |Sobel(luminance)| (the fallback without variance)
 *      luminance = 0.2126 R + 0.7152 G + 0.0722 B (Rec. 709, DVREN_LUMA);
 *      Sobel: the 3x3 kernels [-1 0 1; -2 0 2; -1 0 1] and its transpose,
 *      magnitude sqrt(gx^2 + gy^2), borders replicated. Non-finite or
 *      negative inputs give 0.
 *   3. per term, the maximum, then a RENDER_ERROR_BINS-bin histogram of
 *      v / max over the pixels where v > 0;
 *   4. per term, its scale s = the `percentile`-th percentile of its
 *      non-zero values, read from the histogram as the upper edge of the
 *      bin where the cumulative count reaches ceil(percentile/100 * n);
 *   5. m = sum_k weight_k * min(T_k / s_k, 1) (terms with s_k = 0 add 0);
 *   6. map = m / max(m), or 0 everywhere when max(m) = 0.
 *
 * Why a histogram, on both devices: a percentile needs a sort or a
 * selection, which the GPU does badly for one number; a max-reduction and a
 * histogram with integer atomics are exact and order-free, so the CPU
 * (which runs the same passes with plain loops) and the GPU get the same
 * bins, the same scales and, since every per-pixel operation is one IEEE
 * float operation (NVRTC's default precise division and square root;
 * dvren compiles with --fmad=false, so no contraction into FMA either), the
 * same map up to float rounding. A scale read from 1024 bins is the true
 * percentile rounded up by at most max/1024. Zeros are left out of the
 * percentile so that sparse terms (edges cover a few per cent of an image)
 * are not scaled by a percentile that falls on the empty background.
 *
 * Maxima are kept as order-preserving keys (render_error_key) so that the
 * GPU takes them with integer atomicMax; the CPU keeps the same keys. */
#ifndef RENDER_ERROR_DEVICE_H
#define RENDER_ERROR_DEVICE_H

#define RENDER_ERROR_TERMS 4
#define RENDER_ERROR_T_ERROR 0u /* relative error (needs variance) */
#define RENDER_ERROR_T_ALPHA 1u /* Sobel of alpha */
#define RENDER_ERROR_T_DEPTH 2u /* Sobel of depth on the object */
#define RENDER_ERROR_T_LUMA 3u  /* Sobel of luminance */
#define RENDER_ERROR_BINS 1024u /* histogram bins per term (the percentile's resolution) */
#define RENDER_ERROR_THREADS 256u /* threads per block of every kernel (a multiple of 32) */

/* The parameter block: plain data, passed by value to every kernel. */
typedef struct render_error_block {
    uint32_t width, height;  /* pixels */
    uint32_t terms;          /* bit k: term k is computed (its weight > 0 and its inputs present) */
    uint32_t alpha_mask;     /* 1: the object is alpha > alpha_threshold; 0 (no alpha): depth > 0 */
    float weight[RENDER_ERROR_TERMS];
    float epsilon;           /* luminance offset of the relative error, radiance units, > 0 */
    float alpha_threshold;   /* [0, 1) */
    float percentile;        /* (0, 100]: the value of each term that maps to 1 */
    uint32_t pad_;
} render_error_block;

/* Statistics of one run, device memory on the GPU; all zero at the start
 * (a zero key is below every value). */
typedef struct render_error_stats {
    uint32_t depth_hi;                     /* key of the largest depth on the object */
    uint32_t depth_lo_inv;                 /* ~key of the smallest (max of ~key = min) */
    uint32_t term_max[RENDER_ERROR_TERMS]; /* key of each term's maximum */
    uint32_t map_max;                      /* key of max(m) */
    uint32_t pad_;
    float scale[RENDER_ERROR_TERMS];       /* s_k; 0: the term adds nothing */
    uint32_t hist[RENDER_ERROR_TERMS * RENDER_ERROR_BINS];
} render_error_stats;

/* A float's bits as an unsigned key with the same order (negative values
 * flipped, positive ones with the sign bit set): max of keys = key of max. */
DVREN_FN uint32_t render_error_key(float v)
{
    union { uint32_t u; float f; } c;
    c.f = v;
    return (c.u & 0x80000000u) ? ~c.u : (c.u | 0x80000000u);
}
DVREN_FN float render_error_unkey(uint32_t k)
{
    union { uint32_t u; float f; } c;
    c.u = (k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k;
    return c.f;
}
/* v if it is finite and > 0, else 0 */
DVREN_FN float render_error_clean(float v) { return (v > 0.0f && v <= 3.4e38f) ? v : 0.0f; }

/* Index of term k among the computed ones (its plane in the terms array). */
DVREN_FN uint32_t render_error_slot(uint32_t terms, uint32_t k)
{
    uint32_t j, s = 0;
    for (j = 0; j < k; ++j) s += (terms >> j) & 1u;
    return s;
}

DVREN_FN float render_error_luma(const float* rgb, uint32_t i)
{
    return DVREN_LUMA(rgb[3u * i + 0u], rgb[3u * i + 1u], rgb[3u * i + 2u]);
}

/* Pixel i is on the object (where depth edges count). */
DVREN_FN int render_error_on_object(const render_error_block* B, const float* alpha, const float* depth, uint32_t i)
{
    if (B->alpha_mask) return alpha[i] > B->alpha_threshold;
    return depth[i] > 0.0f;
}

/* Sobel magnitude of a 3x3 neighbourhood n (row-major, n[4] the centre). */
DVREN_FN float render_error_sobel(const float* n)
{
    float gx = (n[2] + 2.0f * n[5] + n[8]) - (n[0] + 2.0f * n[3] + n[6]);
    float gy = (n[6] + 2.0f * n[7] + n[8]) - (n[0] + 2.0f * n[1] + n[2]);
    return dvren_sqrt(gx * gx + gy * gy);
}

/* The 3x3 neighbourhood of (x, y), borders replicated, of: source 0 a
 * plane (alpha), 1 the luminance of rgb, 2 the depth on the object (off
 * the object: the centre's depth). */
DVREN_FN void render_error_gather(const render_error_block* B, uint32_t source, const float* plane, const float* rgb,
                                  const float* alpha, const float* depth, uint32_t x, uint32_t y, float* n)
{
    int dx, dy, W = (int)B->width, H = (int)B->height;
    uint32_t c = y * B->width + x;
    for (dy = -1; dy <= 1; ++dy)
        for (dx = -1; dx <= 1; ++dx) {
            uint32_t i = (uint32_t)dvren_clampi((int)y + dy, 0, H - 1) * B->width +
                         (uint32_t)dvren_clampi((int)x + dx, 0, W - 1);
            float v;
            if (source == 0u) v = render_error_clean(plane[i]);
            else if (source == 1u) v = render_error_clean(render_error_luma(rgb, i));
            else v = render_error_clean(depth[render_error_on_object(B, alpha, depth, i) ? i : c]);
            n[(dy + 1) * 3 + (dx + 1)] = v;
        }
}

/* The depth range on the object from the statistics: *lo, and *inv =
 * 1 / (hi - lo) (0 when the range is empty or flat: no depth edges). */
DVREN_FN void render_error_depth_range(const render_error_stats* S, float* lo, float* inv)
{
    *lo = 0.0f;
    *inv = 0.0f;
    if (S->depth_hi != 0u && S->depth_lo_inv != 0u) {
        float l = render_error_unkey(~S->depth_lo_inv), h = render_error_unkey(S->depth_hi);
        *lo = l;
        if (h > l) *inv = 1.0f / (h - l);
    }
}

/* Pass 1, pixel i: 1 when it is on the object, with the keys of its depth
 * for the maximum (*hi) and the minimum (*lo_inv). */
DVREN_FN int render_error_range_pixel(const render_error_block* B, const float* alpha, const float* depth, uint32_t i,
                                      uint32_t* hi, uint32_t* lo_inv)
{
    float d = render_error_clean(depth[i]);
    if (!render_error_on_object(B, alpha, depth, i)) return 0;
    *hi = render_error_key(d);
    *lo_inv = ~render_error_key(d);
    return 1;
}

/* Pass 2, pixel (x, y): the four terms into t[] (0 for terms not computed). */
DVREN_FN void render_error_terms_pixel(const render_error_block* B, const float* rgb, const float* alpha,
                                       const float* depth, const float* variance, const render_error_stats* S,
                                       uint32_t x, uint32_t y, float* t)
{
    float n[9];
    uint32_t i = y * B->width + x;
    t[0] = t[1] = t[2] = t[3] = 0.0f;
    if (B->terms & (1u << RENDER_ERROR_T_ERROR)) {
        float l = render_error_clean(render_error_luma(rgb, i));
        t[0] = render_error_clean(dvren_sqrt(render_error_clean(variance[i])) / (l + B->epsilon));
    }
    if (B->terms & (1u << RENDER_ERROR_T_ALPHA)) {
        render_error_gather(B, 0u, alpha, rgb, alpha, depth, x, y, n);
        t[1] = render_error_sobel(n);
    }
    if ((B->terms & (1u << RENDER_ERROR_T_DEPTH)) && render_error_on_object(B, alpha, depth, i)) {
        float lo, inv;
        render_error_depth_range(S, &lo, &inv);
        render_error_gather(B, 2u, depth, rgb, alpha, depth, x, y, n);
        t[2] = render_error_clean(render_error_sobel(n) * inv);
    }
    if (B->terms & (1u << RENDER_ERROR_T_LUMA)) {
        render_error_gather(B, 1u, rgb, rgb, alpha, depth, x, y, n);
        t[3] = render_error_sobel(n);
    }
}

/* Pass 3: the histogram bin of a value v > 0 of a term whose maximum is vmax. */
DVREN_FN uint32_t render_error_bin(float v, float vmax)
{
    float f = v / vmax * (float)RENDER_ERROR_BINS; /* one rounding: the product by 2^10 is exact */
    uint32_t b = f >= (float)RENDER_ERROR_BINS ? RENDER_ERROR_BINS - 1u : (uint32_t)f;
    return b;
}

/* Pass 4: the scale of a term from its histogram (upper edge of the bin
 * that holds the percentile of the non-zero values); 0 when all are zero. */
DVREN_FN float render_error_scale(const uint32_t* hist, float vmax, float percentile)
{
    uint32_t b, n = 0u, cum = 0u, target;
    float f;
    for (b = 0; b < RENDER_ERROR_BINS; ++b) n += hist[b];
    if (n == 0u || !(vmax > 0.0f)) return 0.0f;
    f = dvren_ceil(percentile * 0.01f * (float)n);
    target = f < 1.0f ? 1u : (f >= (float)n ? n : (uint32_t)f);
    for (b = 0; b < RENDER_ERROR_BINS; ++b) {
        cum += hist[b];
        if (cum >= target) break;
    }
    if (b >= RENDER_ERROR_BINS) b = RENDER_ERROR_BINS - 1u;
    return (float)(b + 1u) * (vmax / (float)RENDER_ERROR_BINS);
}

/* Pass 5, pixel i: the weighted sum of the scaled terms (terms: the
 * computed terms' planes of N values each). */
DVREN_FN float render_error_combine_pixel(const render_error_block* B, const float* terms, const render_error_stats* S,
                                          uint32_t i)
{
    uint64_t N = (uint64_t)B->width * B->height;
    uint32_t k, slot = 0;
    float m = 0.0f;
    for (k = 0; k < RENDER_ERROR_TERMS; ++k) {
        if (!(B->terms & (1u << k))) continue;
        if (S->scale[k] > 0.0f) m += B->weight[k] * dvren_minf(terms[(uint64_t)slot * N + i] / S->scale[k], 1.0f);
        ++slot;
    }
    return m;
}

/* Pass 6: a combined value divided by the maximum. */
DVREN_FN float render_error_normalize(const render_error_stats* S, float m)
{
    float mx = S->map_max ? render_error_unkey(S->map_max) : 0.0f;
    return mx > 0.0f ? dvren_minf(m / mx, 1.0f) : 0.0f;
}

#if DVREN_ON_GPU
/* ---- the GPU passes: 1-D grids of RENDER_ERROR_THREADS threads, one pixel
 * per thread (the histogram: a grid-stride loop). Every thread of a warp
 * reaches the warp reductions (no early return before them). */

DVREN_FN uint32_t render_error_warp_max(uint32_t v)
{
    int o;
    for (o = 16; o > 0; o >>= 1) {
        uint32_t u = __shfl_xor_sync(0xFFFFFFFFu, v, o);
        v = u > v ? u : v;
    }
    return v;
}

/* Zeroes n words (the statistics). */
DVREN_KERNEL void render_error_clear_kernel(uint32_t* p, uint32_t n)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) p[i] = 0u;
}

DVREN_KERNEL void render_error_range_kernel(render_error_block B, const float* alpha, const float* depth,
                                            render_error_stats* S)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, hi = 0u, lo_inv = 0u;
    if (i < B.width * B.height) render_error_range_pixel(&B, alpha, depth, i, &hi, &lo_inv);
    hi = render_error_warp_max(hi);
    lo_inv = render_error_warp_max(lo_inv);
    if ((threadIdx.x & 31u) == 0u) {
        if (hi) atomicMax(&S->depth_hi, hi);
        if (lo_inv) atomicMax(&S->depth_lo_inv, lo_inv);
    }
}

DVREN_KERNEL void render_error_terms_kernel(render_error_block B, const float* rgb, const float* alpha,
                                            const float* depth, const float* variance, float* terms,
                                            render_error_stats* S)
{
    uint64_t N = (uint64_t)B.width * B.height;
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, k, slot = 0;
    float t[RENDER_ERROR_TERMS] = {0.0f, 0.0f, 0.0f, 0.0f};
    int in = i < B.width * B.height;
    if (in) render_error_terms_pixel(&B, rgb, alpha, depth, variance, S, i % B.width, i / B.width, t);
    for (k = 0; k < RENDER_ERROR_TERMS; ++k) {
        uint32_t key;
        if (!(B.terms & (1u << k))) continue; /* uniform across the grid: no divergence */
        if (in) terms[(uint64_t)slot * N + i] = t[k];
        key = render_error_warp_max(in ? render_error_key(t[k]) : 0u);
        if ((threadIdx.x & 31u) == 0u && key) atomicMax(&S->term_max[k], key);
        ++slot;
    }
}

DVREN_KERNEL void render_error_hist_kernel(render_error_block B, const float* terms, render_error_stats* S)
{
    __shared__ uint32_t h[RENDER_ERROR_TERMS * RENDER_ERROR_BINS];
    uint64_t N = (uint64_t)B.width * B.height, i;
    uint32_t j, k, slot = 0;
    for (j = threadIdx.x; j < RENDER_ERROR_TERMS * RENDER_ERROR_BINS; j += blockDim.x) h[j] = 0u;
    __syncthreads();
    for (k = 0; k < RENDER_ERROR_TERMS; ++k) {
        float vmax;
        if (!(B.terms & (1u << k))) continue;
        vmax = S->term_max[k] ? render_error_unkey(S->term_max[k]) : 0.0f;
        if (vmax > 0.0f)
            for (i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N; i += (uint64_t)gridDim.x * blockDim.x) {
                float v = terms[(uint64_t)slot * N + i];
                if (v > 0.0f) atomicAdd(&h[k * RENDER_ERROR_BINS + render_error_bin(v, vmax)], 1u);
            }
        ++slot;
    }
    __syncthreads();
    for (j = threadIdx.x; j < RENDER_ERROR_TERMS * RENDER_ERROR_BINS; j += blockDim.x)
        if (h[j]) atomicAdd(&S->hist[j], h[j]);
}

/* One block of RENDER_ERROR_TERMS threads: thread k computes scale k. */
DVREN_KERNEL void render_error_scale_kernel(render_error_block B, render_error_stats* S)
{
    uint32_t k = threadIdx.x;
    if (k < RENDER_ERROR_TERMS)
        S->scale[k] = (B.terms & (1u << k)) && S->term_max[k]
                          ? render_error_scale(S->hist + k * RENDER_ERROR_BINS, render_error_unkey(S->term_max[k]),
                                               B.percentile)
                          : 0.0f;
}

DVREN_KERNEL void render_error_combine_kernel(render_error_block B, const float* terms, render_error_stats* S,
                                              float* map)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, key = 0u;
    if (i < B.width * B.height) {
        float m = render_error_combine_pixel(&B, terms, S, i);
        map[i] = m;
        key = render_error_key(m);
    }
    key = render_error_warp_max(key);
    if ((threadIdx.x & 31u) == 0u && key) atomicMax(&S->map_max, key);
}

DVREN_KERNEL void render_error_normalize_kernel(render_error_block B, const render_error_stats* S, float* map)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < B.width * B.height) map[i] = render_error_normalize(S, map[i]);
}
#endif /* DVREN_ON_GPU */

#endif /* RENDER_ERROR_DEVICE_H */
