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
 *     dvren_splat_project    one thread per Gaussian: proj[i], its tile count
 *                            in offsets[i], visible count (rx > 0)
 *     dvren_splat_scan_*     exclusive prefix sum of offsets (three kernels:
 *                            per-block scans, the block sums, the adds); the
 *                            host reads the total back (the pair count m)
 *     dvren_splat_emit       one thread per Gaussian: pair e = offsets[i] + j
 *                            for the j-th tile of its rectangle, row-major:
 *                            (tile, depth bits, Gaussian); a histogram of
 *                            the pairs per tile (atomicAdd)
 *     dvren_splat_scan_*     of the histogram: each tile's segment
 *     dvren_splat_ranges     ranges[2t], ranges[2t + 1] and the scatter cursors
 *     dvren_splat_scatter    each pair to its tile's segment (atomicAdd on the
 *                            cursor: the order inside a segment is arbitrary)
 *     dvren_splat_sort       one block per tile: sorts its segment by the
 *                            64-bit key (depth bits << 32 | e), a bitonic
 *                            network in shared memory (<= 2048 entries) or in
 *                            global memory. Keys are unique (e is), so the
 *                            order is fully determined: it is the CPU's stable
 *                            sort by (tile, depth) of the pairs in emission
 *                            order, i.e. by (tile, depth, e)
 *     dvren_splat_gids       gids[k] = egid[sval[k]]
 *     dvren_splat_raster     one 16 x 16 block per tile, one thread per
 *                            pixel: dvren_splat_pixel over the tile's entries
 *   backward
 *     dvren_splat_replay     one thread per pixel: dvren_splat_pixel_bwd into
 *                            the tile's entries' slots (float atomics,
 *                            DVREN_SPLAT_SLOT_ADD)
 *     dvren_splat_inv        inv[sval[k]] = k
 *     dvren_splat_gather     one thread per Gaussian: sums its pairs' slots in
 *                            emission order, then dvren_splat_project_bwd
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
#define DVREN__SPLAT_SCAN_ITEMS 8u    /* elements per thread of a per-block scan */
#define DVREN__SPLAT_SCAN_BLOCK 2048u /* DVREN__SPLAT_THREADS * DVREN__SPLAT_SCAN_ITEMS */
#define DVREN__SPLAT_SUM_THREADS 1024u
#define DVREN__SPLAT_SORT_THREADS 512u
#define DVREN__SPLAT_SORT_SHARED 2048u /* longest segment sorted in shared memory */

/* ---- scan: exclusive prefix sum of n u32 counts, in place; data[n] = total -------- */

/* Inclusive scan of one value per thread over the block (Hillis-Steele). */
__device__ __forceinline__ uint64_t dvren__splat_block_scan(uint64_t v, uint64_t* s, uint32_t threads)
{
    uint32_t t = threadIdx.x, d;
    s[t] = v;
    __syncthreads();
    for (d = 1u; d < threads; d <<= 1) {
        uint64_t add = t >= d ? s[t - d] : 0ull;
        __syncthreads();
        s[t] += add;
        __syncthreads();
    }
    return s[t];
}

/* Each block scans DVREN__SPLAT_SCAN_BLOCK elements (exclusive, in place,
 * relative to the block) and writes its total to sums[block]. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_scan_blocks(uint32_t* data, uint32_t n, unsigned long long* sums)
{
    __shared__ uint64_t s[DVREN__SPLAT_THREADS];
    uint64_t base = (uint64_t)blockIdx.x * DVREN__SPLAT_SCAN_BLOCK + (uint64_t)threadIdx.x * DVREN__SPLAT_SCAN_ITEMS;
    uint32_t v[DVREN__SPLAT_SCAN_ITEMS], j;
    uint64_t mine = 0ull, incl, run;
    for (j = 0; j < DVREN__SPLAT_SCAN_ITEMS; ++j) {
        v[j] = base + j < n ? data[base + j] : 0u;
        mine += v[j];
    }
    incl = dvren__splat_block_scan(mine, s, DVREN__SPLAT_THREADS);
    run = incl - mine;
    for (j = 0; j < DVREN__SPLAT_SCAN_ITEMS; ++j) {
        if (base + j < n) data[base + j] = (uint32_t)run; /* the final offset fits when the total does */
        run += v[j];
    }
    if (threadIdx.x == DVREN__SPLAT_THREADS - 1u) sums[blockIdx.x] = incl;
}

/* One block: exclusive scan of the nb block sums in place; *total = their sum. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_SUM_THREADS)
    dvren_splat_scan_sums(unsigned long long* sums, uint32_t nb, unsigned long long* total)
{
    __shared__ uint64_t s[DVREN__SPLAT_SUM_THREADS];
    uint64_t carry = 0ull;
    uint32_t c;
    for (c = 0; c < nb; c += DVREN__SPLAT_SUM_THREADS) {
        uint32_t i = c + threadIdx.x;
        uint64_t v = i < nb ? sums[i] : 0ull, incl = dvren__splat_block_scan(v, s, DVREN__SPLAT_SUM_THREADS);
        if (i < nb) sums[i] = carry + incl - v;
        carry += s[DVREN__SPLAT_SUM_THREADS - 1u];
        __syncthreads();
    }
    if (threadIdx.x == 0) *total = carry;
}

/* data[i] += its block's offset; data[n] = the total (saturated to u32: the
 * host refuses totals above 2^32 - 16 before anything reads it). */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_scan_add(uint32_t* data, uint32_t n, const unsigned long long* sums, const unsigned long long* total)
{
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) data[i] += (uint32_t)sums[i / DVREN__SPLAT_SCAN_BLOCK];
    if (i == 0) data[n] = *total > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)*total;
}

/* ---- forward --------------------------------------------------------------------- */

/* Gaussian i: proj[i] and its tile count in offsets[i] (the CPU's
 * dvren__cpu_splat_project); *visible counts the projections with rx > 0. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_project_kernel(const __grid_constant__ dvren_splat_view V, const float* means, const float* log_scales,
                        const float* quats, const float* logits, const float* sh, dvren__splat_proj_32* proj,
                        uint32_t* offsets, uint32_t* visible)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, K = (V.sh_degree + 1u) * (V.sh_degree + 1u);
    uint32_t x0, y0, x1, y1, n = 0u;
    if (i >= V.count) return;
    if (dvren__splat_project_32(&V, means + 3 * (size_t)i, log_scales + 3 * (size_t)i, quats + 4 * (size_t)i, logits[i],
                                sh + 3 * (size_t)K * i, &proj[i]))
        n = dvren__splat_tile_rect_32(&V, &proj[i], &x0, &y0, &x1, &y1);
    offsets[i] = n;
    if (proj[i].rx > 0) atomicAdd(visible, 1u);
}

/* Gaussian i's pairs, in emission order (the CPU's dvren__cpu_splat_emit),
 * and the histogram of pairs per tile (tcount, zeroed before). */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_emit(const __grid_constant__ dvren_splat_view V, const dvren__splat_proj_32* proj,
                     const uint32_t* offsets, uint32_t* etile, uint32_t* edepth, uint32_t* egid, uint32_t* tcount)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, x0, y0, x1, y1, x, y, e, bits;
    if (i >= V.count) return;
    e = offsets[i];
    if (offsets[i + 1] == e) return;
    dvren__splat_tile_rect_32(&V, &proj[i], &x0, &y0, &x1, &y1);
    bits = dvren__float_to_bits(proj[i].depth); /* depth > 0: its bits order like the value */
    for (y = y0; y < y1; ++y)
        for (x = x0; x < x1; ++x, ++e) {
            uint32_t t = y * V.tiles_x + x;
            etile[e] = t;
            edepth[e] = bits;
            egid[e] = i;
            atomicAdd(&tcount[t], 1u);
        }
}

/* Tile t's segment [tstart[t], tstart[t + 1]) of the sorted entries. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_ranges(const uint32_t* tstart, uint32_t tiles, uint32_t* ranges, uint32_t* cursor)
{
    uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tiles) return;
    ranges[2 * t] = tstart[t];
    ranges[2 * t + 1] = tstart[t + 1];
    cursor[t] = tstart[t];
}

/* Pair e into its tile's segment (any order inside it: sorted next). */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_scatter(const uint32_t* etile, const uint32_t* edepth, uint32_t m, uint32_t* cursor, uint32_t* skey,
                        uint32_t* sval)
{
    uint32_t e = blockIdx.x * blockDim.x + threadIdx.x, k;
    if (e >= m) return;
    k = atomicAdd(&cursor[etile[e]], 1u);
    skey[k] = edepth[e];
    sval[k] = e;
}

/* Comparator (i, l), i < l: the smaller 64-bit key (depth bits, e) first. */
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

/* Block t sorts tile t's segment of (skey, sval) by (depth bits, e). */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_SORT_THREADS)
    dvren_splat_sort(const uint32_t* ranges, uint32_t* skey, uint32_t* sval)
{
    __shared__ uint64_t s[DVREN__SPLAT_SORT_SHARED];
    uint32_t start = ranges[2 * blockIdx.x], n = ranges[2 * blockIdx.x + 1] - start, i;
    uint32_t *key = skey + start, *val = sval + start;
    if (n < 2u) return;
    if (n <= DVREN__SPLAT_SORT_SHARED) {
        for (i = threadIdx.x; i < n; i += blockDim.x) s[i] = ((uint64_t)key[i] << 32) | val[i];
        __syncthreads();
        dvren__splat_bitonic<true>(s, key, val, n);
        for (i = threadIdx.x; i < n; i += blockDim.x) {
            key[i] = (uint32_t)(s[i] >> 32);
            val[i] = (uint32_t)s[i];
        }
    } else {
        dvren__splat_bitonic<false>(s, key, val, n);
    }
}

extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_gids(const uint32_t* sval, const uint32_t* egid, uint32_t m, uint32_t* gids)
{
    uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < m) gids[k] = egid[sval[k]];
}

/* Block t: tile t's pixels, one thread each (the CPU's dvren__cpu_splat_raster). */
extern "C" __global__ void __launch_bounds__(DVREN_SPLAT_TILE * DVREN_SPLAT_TILE)
    dvren_splat_raster(const __grid_constant__ dvren_splat_view V, const __grid_constant__ dvren_fb_view fb,
                       const dvren__splat_proj_32* proj, const uint32_t* gids, const uint32_t* ranges, float* pT,
                       float* pdacc, uint32_t* last)
{
    uint32_t t = blockIdx.x, tx = t % V.tiles_x, ty = t / V.tiles_x;
    uint32_t x = tx * DVREN_SPLAT_TILE + threadIdx.x, y = ty * DVREN_SPLAT_TILE + threadIdx.y;
    dvren__splat_px_32 o;
    size_t pix;
    float a;
    if (x >= V.width || y >= V.height) return;
    pix = (size_t)y * V.width + x;
    dvren__splat_pixel_32(&V, proj, gids, ranges[2 * t], ranges[2 * t + 1], x, y, &o);
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

/* Block t: tile t's pixels replay into the slots of its entries (the CPU's
 * dvren__cpu_splat_replay; the adds are atomic, DVREN_SPLAT_SLOT_ADD). */
extern "C" __global__ void __launch_bounds__(DVREN_SPLAT_TILE * DVREN_SPLAT_TILE)
    dvren_splat_replay(const __grid_constant__ dvren_splat_view V, const dvren__splat_proj_32* proj,
                       const uint32_t* gids, const uint32_t* ranges, const float* pT, const float* pdacc,
                       const uint32_t* last, const float* cot_rgb, const float* cot_alpha, const float* cot_depth,
                       float* slots)
{
    uint32_t t = blockIdx.x, tx = t % V.tiles_x, ty = t / V.tiles_x, s = ranges[2 * t];
    uint32_t x = tx * DVREN_SPLAT_TILE + threadIdx.x, y = ty * DVREN_SPLAT_TILE + threadIdx.y;
    float vrgb[3] = {0.0f, 0.0f, 0.0f}, va = 0.0f, vd = 0.0f;
    size_t pix;
    if (ranges[2 * t + 1] == s || x >= V.width || y >= V.height) return;
    pix = (size_t)y * V.width + x;
    if (cot_rgb) {
        vrgb[0] = cot_rgb[3 * pix];
        vrgb[1] = cot_rgb[3 * pix + 1];
        vrgb[2] = cot_rgb[3 * pix + 2];
    }
    if (cot_alpha) va = cot_alpha[pix];
    if (cot_depth) vd = cot_depth[pix];
    dvren__splat_pixel_bwd_32(&V, proj, gids, s, last[pix], x, y, pT[pix], pdacc[pix], vrgb, va, vd,
                              slots + (size_t)s * DVREN_SPLAT_GRAD_FLOATS);
}

extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_inv(const uint32_t* sval, uint32_t m, uint32_t* inv)
{
    uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < m) inv[sval[k]] = k;
}

/* Gaussian i: the sum of its pairs' slots in emission order, then the
 * projection's backward into the gradients (zero for a Gaussian on no
 * tile); the CPU's dvren__cpu_splat_gather. */
extern "C" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)
    dvren_splat_gather(const __grid_constant__ dvren_splat_view V, const float* means, const float* log_scales,
                       const float* quats, const float* logits, const float* sh, const uint32_t* offsets,
                       const uint32_t* inv, const float* slots, float* g_means, float* g_log_scales, float* g_quats,
                       float* g_logits, float* g_sh)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, K = (V.sh_degree + 1u) * (V.sh_degree + 1u), e, c;
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
    if (offsets[i + 1] == offsets[i]) return; /* culled, or on no tile */
    for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) gp[c] = 0.0f;
    for (e = offsets[i]; e < offsets[i + 1]; ++e) {
        const float* s = slots + (size_t)inv[e] * DVREN_SPLAT_GRAD_FLOATS;
        for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) gp[c] += s[c];
    }
    dvren__splat_project_bwd_32(&V, means + 3 * (size_t)i, log_scales + 3 * (size_t)i, quats + 4 * (size_t)i, logits[i],
                                sh + 3 * (size_t)K * i, gp, g_means ? g_means + 3 * (size_t)i : 0,
                                g_log_scales ? g_log_scales + 3 * (size_t)i : 0,
                                g_quats ? g_quats + 4 * (size_t)i : 0, g_logits ? g_logits + i : 0,
                                g_sh ? g_sh + 3 * (size_t)K * i : 0);
}

#endif /* DVREN_CUDA_SPLAT_H */
