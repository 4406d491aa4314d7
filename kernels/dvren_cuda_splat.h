/* kernels/dvren_cuda_splat.h - GPU entry points of dvren's splat renderer.
 *
 * GPU only (not single source): dvren_cuda.h composes the context's "splat
 * module" from kernels/dvren_device.h, kernels/dvren_splat.h (float32) and
 * this file and compiles it with NVRTC at first use (docs/splats.md, "GPU").
 * Every piece of arithmetic on the Gaussians and pixels is a call into
 * kernels/dvren_splat.h, the same code the CPU runs (dvren.h, >>cpu,
 * dvren__cpu_launch_splats); these kernels only spread it over threads and
 * order the (Gaussian, tile) pairs. The steps, launched by
 * dvren__cu_launch_splats in this order on the context's stream:
 *
 *   forward
 *     dvren_splat_project_kernel  one thread per Gaussian: proj[i]; a histogram
 *                            of the pairs per tile (atomicAdd); the visible count
 *     dvren_scan_*           exclusive prefix sum of the histogram
 *                            (kernels/dvren_cuda_scan.h): each tile's
 *                            segment; the host reads the total back (the
 *                            pair count m)
 *     dvren_splat_ranges     ranges[2t], ranges[2t + 1] and the emission cursors
 *     dvren_splat_emit       one thread per Gaussian: into each of its tiles'
 *                            segments (atomicAdd on the cursor, so any order
 *                            inside a segment) its depth bits and index
 *     dvren_splat_sort       one block per tile: sorts its segment by the
 *                            64-bit key (depth bits << 32 | Gaussian), a
 *                            bitonic network in dynamic shared memory or in
 *                            global memory. Keys are unique (a Gaussian is in
 *                            a tile once), so the order is fully determined:
 *                            the CPU's stable sort by (tile, depth) of the
 *                            pairs in Gaussian order. Only 8 bytes per pair
 *     dvren_splat_raster     one 16 x 16 block per tile, one thread per pixel,
 *                            entries staged 256 at a time in shared memory:
 *                            dvren_splat_px_begin / _step / _end
 *   backward
 *     dvren_splat_replay     one thread per pixel, back to front over shared
 *                            batches, dvren_splat_bwd_step; each warp sums an
 *                            entry's gradient over its pixels (shuffles) and
 *                            adds it to the Gaussian's 10 sums (float atomics)
 *     dvren_splat_gather     one thread per Gaussian: dvren_splat_project_bwd
 *                            from its sums
 *
 * The sorting network is the bitonic sort whose comparators all put the
 * smaller key first (each merge begins with the "flip" comparator i <->
 * 2 h - 1 - i of a block of 2 h, then half-cleaners i <-> i + j): a segment
 * of n entries is sorted as if padded to a power of two with keys larger
 * than any, and a comparator that reaches past n never swaps, so it is
 * skipped and no padding is stored.
 *
 * dvren_cuda.h carries a generated copy of this file (">>cuda-src
 * splat-kernel"); edit this file and run `./build.sh gen`. */
#ifndef DVREN_CUDA_SPLAT_H
#define DVREN_CUDA_SPLAT_H

#define DVREN__SPLAT_THREADS 256u     /* threads of the one-dimensional kernels */
#define DVREN__SPLAT_SORT_THREADS 512u
#define DVREN__SPLAT_SORT_SHARED 2048u /* longest segment sorted in shared memory */

/* ---- forward --------------------------------------------------------------------- */

/* Gaussian i: proj[i]; each tile of its rectangle counts it (tcount, zeroed
 * before); *visible counts the projections with rx > 0 (one atomic per
 * warp). */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_project_kernel(const __grid_constant__ dvren_splat_view V, const float* means, const float* log_scales,
                               const float* quats, const float* logits, const float* sh, dvren__splat_proj_32* proj,
                               uint32_t* tcount, uint32_t* visible)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, K = (V.sh_degree + 1u) * (V.sh_degree + 1u);
    uint32_t x0, y0, x1, y1, x, y, seen = 0u, ballot;
    if (i < V.count) {
        dvren__splat_proj_32 P;
        if (dvren__splat_project_32(&V, means + 3 * (size_t)i, log_scales + 3 * (size_t)i, quats + 4 * (size_t)i,
                                    logits[i], sh + 3 * (size_t)K * i, &P)) {
            seen = 1u;
            if (dvren__splat_tile_rect_32(&V, &P, &x0, &y0, &x1, &y1))
                for (y = y0; y < y1; ++y)
                    for (x = x0; x < x1; ++x) atomicAdd(&tcount[y * V.tiles_x + x], 1u);
        }
        proj[i] = P;
    }
    ballot = __ballot_sync(0xFFFFFFFFu, seen);
    if ((threadIdx.x & 31u) == 0u && ballot) atomicAdd(visible, (uint32_t)__popc(ballot));
}

/* Tile t's segment [tstart[t], tstart[t + 1]) of the sorted entries; the
 * emission cursors start there. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_ranges(const uint32_t* tstart, uint32_t tiles, uint32_t* ranges, uint32_t* cursor)
{
    uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tiles) return;
    ranges[2 * t] = tstart[t];
    ranges[2 * t + 1] = tstart[t + 1];
    cursor[t] = tstart[t];
}

/* Gaussian i into each of its tiles' segments (any order inside a segment:
 * sorted next): skey = its depth bits (depth > 0, so the bits order like
 * the values), sval = i. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_emit(const __grid_constant__ dvren_splat_view V, const dvren__splat_proj_32* proj, uint32_t* cursor,
                     uint32_t* skey, uint32_t* sval)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, x0, y0, x1, y1, x, y, bits;
    dvren__splat_proj_32 P;
    if (i >= V.count) return;
    P = proj[i];
    if (P.rx <= 0 || !dvren__splat_tile_rect_32(&V, &P, &x0, &y0, &x1, &y1)) return;
    bits = dvren__float_to_bits(P.depth);
    for (y = y0; y < y1; ++y)
        for (x = x0; x < x1; ++x) {
            uint32_t k = atomicAdd(&cursor[y * V.tiles_x + x], 1u);
            skey[k] = bits;
            sval[k] = i;
        }
}

/* Comparator (i, l), i < l: the smaller 64-bit key (depth bits, Gaussian) first. */
__device__ __forceinline__ void dvren__splat_cmp_shared(uint64_t* s, uint32_t i, uint32_t l)
{
    uint64_t a = s[i], b = s[l];
    if (b < a) {
        s[i] = b;
        s[l] = a;
    }
}
__device__ __forceinline__ void dvren__splat_cmp_global(uint32_t* key, uint32_t* val, uint32_t i, uint32_t l)
{
    uint64_t a = ((uint64_t)key[i] << 32) | val[i], b = ((uint64_t)key[l] << 32) | val[l];
    if (b < a) {
        key[i] = (uint32_t)(b >> 32);
        val[i] = (uint32_t)b;
        key[l] = (uint32_t)(a >> 32);
        val[l] = (uint32_t)a;
    }
}

/* The bitonic network over n entries (padded virtually to P = 2^k >= n). */
template <bool SHARED>
__device__ __forceinline__ void dvren__splat_bitonic(uint64_t* s, uint32_t* key, uint32_t* val, uint32_t n)
{
    uint32_t P = 1u, k, j, q;
    while (P < n) P <<= 1;
    for (k = 2u; k <= P; k <<= 1) {
        uint32_t h = k >> 1;
        for (q = threadIdx.x; q < P / 2u; q += blockDim.x) {
            uint32_t b = q / h, r = q % h, i = b * k + r, l = b * k + k - 1u - r;
            if (l < n) {
                if (SHARED) dvren__splat_cmp_shared(s, i, l);
                else dvren__splat_cmp_global(key, val, i, l);
            }
        }
        __syncthreads();
        for (j = k >> 2; j > 0u; j >>= 1) {
            for (q = threadIdx.x; q < P / 2u; q += blockDim.x) {
                uint32_t i = 2u * j * (q / j) + q % j, l = i + j;
                if (l < n) {
                    if (SHARED) dvren__splat_cmp_shared(s, i, l);
                    else dvren__splat_cmp_global(key, val, i, l);
                }
            }
            __syncthreads();
        }
    }
}

/* Block t sorts tile t's segment of (skey, sval) by (depth bits, Gaussian):
 * keys are unique (a Gaussian is in a tile once), so the order is fully
 * determined and equals the CPU's stable sort by depth of the pairs in
 * Gaussian order. One launch per size class, so that short segments get
 * small shared memory and many blocks per SM: this launch sorts the
 * segments of lo < n <= cap entries in the dynamic shared memory (cap
 * 64-bit keys) and, with big != 0, those above cap in global memory; the
 * other blocks return at once. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_SORT_THREADS)
    dvren_splat_sort(const uint32_t* ranges, uint32_t* skey, uint32_t* sval, uint32_t lo, uint32_t cap, uint32_t big)
{
    extern __shared__ uint64_t dvren__splat_sort_s[];
    uint64_t* s = dvren__splat_sort_s;
    uint32_t start = ranges[2 * blockIdx.x], n = ranges[2 * blockIdx.x + 1] - start, i;
    uint32_t *key = skey + start, *val = sval + start;
    if (n < 2u || n <= lo || (n > cap && !big)) return;
    if (n <= cap) {
        for (i = threadIdx.x; i < n; i += blockDim.x) s[i] = ((uint64_t)key[i] << 32) | val[i];
        __syncthreads();
        dvren__splat_bitonic<true>(s, key, val, n);
        for (i = threadIdx.x; i < n; i += blockDim.x) val[i] = (uint32_t)s[i];
    } else {
        dvren__splat_bitonic<false>(s, key, val, n);
    }
}

/* Block t: tile t's pixels, one thread each, over its entries in batches of
 * 256 projected Gaussians staged in shared memory; each entry composited by
 * dvren_splat_px_step, the CPU's arithmetic in the CPU's order. The block
 * stops loading once all its pixels are done. */
extern "C" __global__ void __launch_bounds__(DVREN_SPLAT_TILE * DVREN_SPLAT_TILE)
    dvren_splat_raster(const __grid_constant__ dvren_splat_view V, const __grid_constant__ dvren_fb_view fb,
                       const dvren__splat_proj_32* proj, const uint32_t* gids, const uint32_t* ranges, float* pT,
                       float* pdacc, uint32_t* last)
{
    __shared__ dvren__splat_proj_32 batch[DVREN_SPLAT_TILE * DVREN_SPLAT_TILE];
    uint32_t t = blockIdx.x, tx = t % V.tiles_x, ty = t / V.tiles_x, tr = threadIdx.y * DVREN_SPLAT_TILE + threadIdx.x;
    uint32_t x = tx * DVREN_SPLAT_TILE + threadIdx.x, y = ty * DVREN_SPLAT_TILE + threadIdx.y;
    uint32_t start = ranges[2 * t], end = ranges[2 * t + 1], b0, j;
    int inside = x < V.width && y < V.height, done = !inside;
    dvren__splat_px_32 o;
    size_t pix;
    float a;
    dvren__splat_px_begin_32(&V, inside ? x : 0u, inside ? y : 0u, start, &o);
    for (b0 = start; b0 < end; b0 += DVREN_SPLAT_TILE * DVREN_SPLAT_TILE) {
        uint32_t nb = end - b0 < DVREN_SPLAT_TILE * DVREN_SPLAT_TILE ? end - b0 : DVREN_SPLAT_TILE * DVREN_SPLAT_TILE;
        if (__syncthreads_count(done) == DVREN_SPLAT_TILE * DVREN_SPLAT_TILE) break;
        if (tr < nb) batch[tr] = proj[gids[b0 + tr]];
        __syncthreads();
        for (j = 0; j < nb && !done; ++j) done = dvren__splat_px_step_32(&V, &batch[j], b0 + j, &o);
    }
    if (!inside) return;
    dvren__splat_px_end_32(&V, &o);
    pix = (size_t)y * V.width + x;
    a = 1.0f - o.T;
    if (fb.rgb) {
        fb.rgb[3 * pix] = o.rgb[0];
        fb.rgb[3 * pix + 1] = o.rgb[1];
        fb.rgb[3 * pix + 2] = o.rgb[2];
    }
    if (fb.alpha) fb.alpha[pix] = a;
    if (fb.transmittance) fb.transmittance[pix] = o.T;
    if (fb.depth) fb.depth[pix] = a > 0.0f ? o.depth_acc / a : 0.0f;
    if (fb.median_depth) fb.median_depth[pix] = o.median;
    if (fb.samples) fb.samples[pix] = o.count;
    pT[pix] = o.T;
    pdacc[pix] = o.depth_acc;
    last[pix] = o.last;
}

/* ---- backward -------------------------------------------------------------------- */

/* Block t: tile t's pixels replay its entries back to front in batches
 * staged in shared memory, every thread through every entry below the
 * block's largest `last` (warp-uniform), each with dvren_splat_bwd_step
 * where the entry is one of its own; each warp sums an entry's gradient
 * over its 32 pixels and adds it to the Gaussian's 10 sums in gacc (float
 * atomics: their order varies, so the last bits do). */
extern "C" __global__ void __launch_bounds__(DVREN_SPLAT_TILE * DVREN_SPLAT_TILE)
    dvren_splat_replay(const __grid_constant__ dvren_splat_view V, const dvren__splat_proj_32* proj,
                       const uint32_t* gids, const uint32_t* ranges, const float* pT, const float* pdacc,
                       const uint32_t* last, const float* cot_rgb, const float* cot_alpha, const float* cot_depth,
                       float* gacc)
{
    __shared__ dvren__splat_proj_32 batch[DVREN_SPLAT_TILE * DVREN_SPLAT_TILE];
    __shared__ uint32_t bid[DVREN_SPLAT_TILE * DVREN_SPLAT_TILE];
    __shared__ uint32_t top;
    uint32_t t = blockIdx.x, tx = t % V.tiles_x, ty = t / V.tiles_x, tr = threadIdx.y * DVREN_SPLAT_TILE + threadIdx.x;
    uint32_t x = tx * DVREN_SPLAT_TILE + threadIdx.x, y = ty * DVREN_SPLAT_TILE + threadIdx.y;
    uint32_t start = ranges[2 * t], mylast = start, b1, lane = tr & 31u, q;
    int inside = x < V.width && y < V.height;
    float vrgb[3] = {0.0f, 0.0f, 0.0f}, va = 0.0f, vd = 0.0f, Tf = 1.0f, dacc = 0.0f;
    dvren__splat_bwd_state_32 st;
    if (ranges[2 * t + 1] == start) return; /* the whole block: no entries */
    if (inside) {
        size_t pix = (size_t)y * V.width + x;
        if (cot_rgb) {
            vrgb[0] = cot_rgb[3 * pix];
            vrgb[1] = cot_rgb[3 * pix + 1];
            vrgb[2] = cot_rgb[3 * pix + 2];
        }
        if (cot_alpha) va = cot_alpha[pix];
        if (cot_depth) vd = cot_depth[pix];
        Tf = pT[pix];
        dacc = pdacc[pix];
        mylast = last[pix];
    }
    dvren__splat_bwd_begin_32(&V, inside ? x : 0u, inside ? y : 0u, Tf, dacc, vrgb, va, vd, &st);
    if (tr == 0) top = start;
    __syncthreads();
    atomicMax(&top, mylast);
    __syncthreads();
    for (b1 = top; b1 > start;) {
        uint32_t nb = b1 - start < DVREN_SPLAT_TILE * DVREN_SPLAT_TILE ? b1 - start : DVREN_SPLAT_TILE * DVREN_SPLAT_TILE;
        uint32_t b0 = b1 - nb;
        int j;
        __syncthreads();
        if (tr < nb) {
            uint32_t g = gids[b0 + tr];
            bid[tr] = g;
            batch[tr] = proj[g];
        }
        __syncthreads();
        for (j = (int)nb - 1; j >= 0; --j) {
            float g[DVREN_SPLAT_GRAD_FLOATS];
            int c = 0;
            if (b0 + (uint32_t)j < mylast) c = dvren__splat_bwd_step_32(&V, &batch[j], &st, g);
            if (!__any_sync(0xFFFFFFFFu, c)) continue;
            for (q = 0; q < DVREN_SPLAT_GRAD_FLOATS; ++q) {
                float v = c ? g[q] : 0.0f;
                v += __shfl_down_sync(0xFFFFFFFFu, v, 16);
                v += __shfl_down_sync(0xFFFFFFFFu, v, 8);
                v += __shfl_down_sync(0xFFFFFFFFu, v, 4);
                v += __shfl_down_sync(0xFFFFFFFFu, v, 2);
                v += __shfl_down_sync(0xFFFFFFFFu, v, 1);
                if (lane == 0u && v != 0.0f) atomicAdd(&gacc[(size_t)bid[j] * DVREN_SPLAT_GRAD_FLOATS + q], v);
            }
        }
        b1 = b0;
    }
}

/* Gaussian i: the projection's backward from its sums gacc[i] into the
 * gradients (zero for a culled Gaussian). */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_gather(const __grid_constant__ dvren_splat_view V, const float* means, const float* log_scales,
                       const float* quats, const float* logits, const float* sh, const dvren__splat_proj_32* proj,
                       const float* gacc, float* g_means, float* g_log_scales, float* g_quats, float* g_logits,
                       float* g_sh)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, K = (V.sh_degree + 1u) * (V.sh_degree + 1u), c;
    float gp[DVREN_SPLAT_GRAD_FLOATS];
    if (i >= V.count) return;
    for (c = 0; c < 3u; ++c) {
        if (g_means) g_means[3 * (size_t)i + c] = 0.0f;
        if (g_log_scales) g_log_scales[3 * (size_t)i + c] = 0.0f;
    }
    for (c = 0; c < 4u; ++c)
        if (g_quats) g_quats[4 * (size_t)i + c] = 0.0f;
    if (g_logits) g_logits[i] = 0.0f;
    if (g_sh)
        for (c = 0; c < 3u * K; ++c) g_sh[3 * (size_t)K * i + c] = 0.0f;
    if (proj[i].rx <= 0) return;
    for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) gp[c] = gacc[(size_t)i * DVREN_SPLAT_GRAD_FLOATS + c];
    dvren__splat_project_bwd_32(&V, means + 3 * (size_t)i, log_scales + 3 * (size_t)i, quats + 4 * (size_t)i, logits[i],
                                sh + 3 * (size_t)K * i, gp, g_means ? g_means + 3 * (size_t)i : NULL,
                                g_log_scales ? g_log_scales + 3 * (size_t)i : NULL,
                                g_quats ? g_quats + 4 * (size_t)i : NULL, g_logits ? g_logits + i : NULL,
                                g_sh ? g_sh + 3 * (size_t)K * i : NULL);
}

#endif /* DVREN_CUDA_SPLAT_H */
