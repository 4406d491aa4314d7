/* kernels/dvren_cuda_scan.h - exclusive prefix sums on the GPU.
 *
 * GPU only: dvren_cuda.h puts this file into every fixed module that needs
 * a scan (the splat module, the marching-cubes module) and launches it
 * through dvren__cu_scan: the exclusive prefix sum of n u32 counts, in
 * place, with data[n] = the total, in three kernels: per-block scans
 * (DVREN__SCAN_BLOCK elements each, their totals to sums[]), one block
 * scanning the block sums, and the adds. Totals are summed in 64 bits; the
 * caller refuses totals that do not fit in 32 before reading offsets.
 * Deterministic (integer sums).
 *
 * dvren_cuda.h carries a generated copy of this file (">>cuda-src scan");
 * edit this file and run `./build.sh gen`. */
#ifndef DVREN_CUDA_SCAN_H
#define DVREN_CUDA_SCAN_H

#define DVREN__SCAN_THREADS 256u
#define DVREN__SCAN_ITEMS 8u    /* elements per thread of a per-block scan */
#define DVREN__SCAN_BLOCK 2048u /* DVREN__SCAN_THREADS * DVREN__SCAN_ITEMS */
#define DVREN__SCAN_SUM_THREADS 1024u

/* Inclusive scan of one value per thread over the block (Hillis-Steele). */
__device__ __forceinline__ uint64_t dvren__block_scan(uint64_t v, uint64_t* s, uint32_t threads)
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

/* Each block scans DVREN__SCAN_BLOCK elements (exclusive, in place,
 * relative to the block) and writes its total to sums[block]. */
extern "C" __global__ void __launch_bounds__(DVREN__SCAN_THREADS)
    dvren_scan_blocks(uint32_t* data, uint32_t n, unsigned long long* sums)
{
    __shared__ uint64_t s[DVREN__SCAN_THREADS];
    uint64_t base = (uint64_t)blockIdx.x * DVREN__SCAN_BLOCK + (uint64_t)threadIdx.x * DVREN__SCAN_ITEMS;
    uint32_t v[DVREN__SCAN_ITEMS], j;
    uint64_t mine = 0ull, incl, run;
    for (j = 0; j < DVREN__SCAN_ITEMS; ++j) {
        v[j] = base + j < n ? data[base + j] : 0u;
        mine += v[j];
    }
    incl = dvren__block_scan(mine, s, DVREN__SCAN_THREADS);
    run = incl - mine;
    for (j = 0; j < DVREN__SCAN_ITEMS; ++j) {
        if (base + j < n) data[base + j] = (uint32_t)run; /* the final offset fits when the total does */
        run += v[j];
    }
    if (threadIdx.x == DVREN__SCAN_THREADS - 1u) sums[blockIdx.x] = incl;
}

/* One block: exclusive scan of the nb block sums in place; *total = their sum. */
extern "C" __global__ void __launch_bounds__(DVREN__SCAN_SUM_THREADS)
    dvren_scan_sums(unsigned long long* sums, uint32_t nb, unsigned long long* total)
{
    __shared__ uint64_t s[DVREN__SCAN_SUM_THREADS];
    uint64_t carry = 0ull;
    uint32_t c;
    for (c = 0; c < nb; c += DVREN__SCAN_SUM_THREADS) {
        uint32_t i = c + threadIdx.x;
        uint64_t v = i < nb ? sums[i] : 0ull, incl = dvren__block_scan(v, s, DVREN__SCAN_SUM_THREADS);
        if (i < nb) sums[i] = carry + incl - v;
        carry += s[DVREN__SCAN_SUM_THREADS - 1u];
        __syncthreads();
    }
    if (threadIdx.x == 0) *total = carry;
}

/* data[i] += its block's offset; data[n] = the total (saturated to u32: the
 * host refuses totals above 2^32 - 16 before anything reads it). */
extern "C" __global__ void __launch_bounds__(DVREN__SCAN_THREADS)
    dvren_scan_add(uint32_t* data, uint32_t n, const unsigned long long* sums, const unsigned long long* total)
{
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) data[i] += (uint32_t)sums[i / DVREN__SCAN_BLOCK];
    if (i == 0) data[n] = *total > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)*total;
}

#endif /* DVREN_CUDA_SCAN_H */
