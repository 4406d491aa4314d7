/* kernels/dvren_cuda_mc.h - GPU entry points of dvren's marching cubes.
 *
 * GPU only (not single source): dvren_cuda.h composes the context's
 * "marching-cubes module" from kernels/dvren_device.h, kernels/dvren_mc.h,
 * kernels/dvren_cuda_scan.h and this file, and compiles it with NVRTC at
 * first use. Every decision and every number of the mesh comes from
 * kernels/dvren_mc.h, the code the CPU runs (dvren.h, >>cpu,
 * dvren__cpu_launch_mc); these kernels spread it over threads and number
 * the results in the CPU's order: one thread per grid sample i (x fastest),
 * blocks of DVREN__MC_THREADS consecutive samples, so the order of blocks,
 * then of threads in a block, is the samples' order.
 *
 *   dvren_mc_count      per block: the vertices of its samples' own edges,
 *                       the triangles and centre vertices of their cells,
 *                       the active cells (one atomicAdd per block)
 *   dvren_scan_*        the per-block counts to offsets (three scans), the
 *                       totals read back by the host to size the mesh
 *   dvren_mc_vertices   each sample: its first vertex's index (block offset
 *                       plus the exclusive scan in the block) with its edge
 *                       bits into vb[i] (the vertex dedup: a cell finds the
 *                       vertex of each of its edges there), and the vertices
 *   dvren_mc_triangles  each cell: its triangles through vb, its centre
 *                       vertex after all the edges' vertices
 *
 * dvren_cuda.h carries a generated copy of this file (">>cuda-src
 * mc-kernel"); edit this file and run `./build.sh gen`. */
#ifndef DVREN_CUDA_MC_H
#define DVREN_CUDA_MC_H

#define DVREN__MC_THREADS 256u

/* Launch shape: blocks of bx * by = 256 threads, thread (tx, ty) of block
 * (bxi, byi, z) on sample (bxi * bx + tx, byi * by + ty, z); bx = 256 (and
 * by = 1) when a row has 256 samples or more, else the power of two that
 * holds a row, so that a block's samples are consecutive in sample order
 * and blocks (x fastest, then y, then z) follow it too: the order is the
 * CPU's without a division per thread. */
__device__ __forceinline__ uint32_t dvren__mc_tid(void)
{
    return threadIdx.y * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ uint32_t dvren__mc_bid(void)
{
    return (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
}

/* Exclusive scan of v over the block (warp shuffles, then the warps'
 * totals); *total gets the block's sum. */
__device__ __forceinline__ uint32_t dvren__mc_block_exclusive(uint32_t v, uint32_t* total)
{
    __shared__ uint32_t warp_sum[DVREN__MC_THREADS / 32u];
    uint32_t t = dvren__mc_tid(), lane = t & 31u, w = t >> 5, x = v, d, i, base = 0u, all = 0u;
    for (d = 1u; d < 32u; d <<= 1) {
        uint32_t y = __shfl_up_sync(0xFFFFFFFFu, x, d);
        if (lane >= d) x += y;
    }
    if (lane == 31u) warp_sum[w] = x;
    __syncthreads();
    for (i = 0; i < DVREN__MC_THREADS / 32u; ++i) {
        if (i < w) base += warp_sum[i];
        all += warp_sum[i];
    }
    __syncthreads();
    if (total) *total = all;
    return base + x - v;
}

/* dvren_mc_cell_triangles on a copy of the corner values: the copy, which
 * that function indexes at run time, lives in local memory; f stays in
 * registers for the cells the surface does not cross (most of them) */
__device__ __forceinline__ uint32_t dvren__mc_active(const float* f, uint32_t in, uint8_t* tri, uint32_t* ncenter,
                                                  uint8_t* center_loop, uint32_t* center_n)
{
    float g[8];
    g[0] = f[0];
    g[1] = f[1];
    g[2] = f[2];
    g[3] = f[3];
    g[4] = f[4];
    g[5] = f[5];
    g[6] = f[6];
    g[7] = f[7];
    return dvren_mc_cell_triangles(g, in, tri, ncenter, center_loop, center_n);
}

/* this thread's sample; 0 when outside the grid */
__device__ __forceinline__ int dvren__mc_sample(const dvren_mc_grid& G, uint32_t* x, uint32_t* y, uint32_t* z)
{
    *x = blockIdx.x * blockDim.x + threadIdx.x;
    *y = blockIdx.y * blockDim.y + threadIdx.y;
    *z = blockIdx.z;
    return *x < G.nx && *y < G.ny;
}

/* Per block: vertices (10 bits), triangles (12 bits) and centre vertices
 * (9 bits) of its samples and cells, summed packed in one scan; the active
 * cells with one atomicAdd. */
extern "C" __global__ void __launch_bounds__(DVREN__MC_THREADS)
    dvren_mc_count(const __grid_constant__ dvren_mc_grid G, uint32_t* bv, uint32_t* bt, uint32_t* bc,
                   unsigned long long* active)
{
    uint32_t x, y, z, v = 0u, t = 0u, c = 0u, sum, a;
    if (dvren__mc_sample(G, &x, &y, &z)) {
        v = dvren_mc_popc3(dvren_mc_point_edges(&G, x, y, z));
        if (x + 1u < G.nx && y + 1u < G.ny && z + 1u < G.nz) {
            float f[8];
            uint32_t in = dvren_mc_cell_load(&G, x, y, z, f);
            if (in != 0u && in != 255u) t = dvren__mc_active(f, in, NULL, &c, NULL, NULL);
        }
    }
    dvren__mc_block_exclusive(v | (t << 10) | (c << 22), &sum);
    a = __syncthreads_count(t > 0u);
    if (dvren__mc_tid() == 0) {
        uint32_t b = dvren__mc_bid();
        bv[b] = sum & 1023u;
        bt[b] = (sum >> 10) & 4095u;
        bc[b] = sum >> 22;
        if (a) atomicAdd(active, (unsigned long long)a);
    }
}

extern "C" __global__ void __launch_bounds__(DVREN__MC_THREADS)
    dvren_mc_vertices(const __grid_constant__ dvren_mc_grid G, const uint32_t* bv, uint32_t* vb, float* pos, float* nrm)
{
    uint32_t m = 0u, x, y, z, k, a;
    int in = dvren__mc_sample(G, &x, &y, &z);
    if (in) m = dvren_mc_point_edges(&G, x, y, z);
    k = bv[dvren__mc_bid()] + dvren__mc_block_exclusive(dvren_mc_popc3(m), NULL);
    if (!in) return;
    vb[((uint64_t)z * G.ny + y) * G.nx + x] = k | (m << 29);
    for (a = 0; a < 3u; ++a)
        if ((m >> a) & 1u) {
            dvren_mc_vertex(&G, x, y, z, a, pos + 3 * (size_t)k, nrm ? nrm + 3 * (size_t)k : NULL);
            ++k;
        }
}

extern "C" __global__ void __launch_bounds__(DVREN__MC_THREADS)
    dvren_mc_triangles(const __grid_constant__ dvren_mc_grid G, const uint32_t* bt, const uint32_t* bc, const uint32_t* vb,
                       uint32_t edge_vertices, uint32_t* tri, float* pos, float* nrm)
{
    uint32_t x, y, z, nt = 0u, nc = 0u, cn = 0u, b, pre, t0, c0, j;
    uint8_t local[3 * DVREN_MC_MAX_CELL_TRIANGLES], cloop[12];
    if (dvren__mc_sample(G, &x, &y, &z) && x + 1u < G.nx && y + 1u < G.ny && z + 1u < G.nz) {
        float f[8];
        uint32_t in = dvren_mc_cell_load(&G, x, y, z, f);
        if (in != 0u && in != 255u) nt = dvren__mc_active(f, in, local, &nc, cloop, &cn);
    }
    b = dvren__mc_bid();
    pre = dvren__mc_block_exclusive(nt | (nc << 16), NULL);
    t0 = bt[b] + (pre & 0xFFFFu);
    c0 = edge_vertices + bc[b] + (pre >> 16);
    if (nt == 0u) return;
    if (nc) dvren_mc_center(&G, x, y, z, cloop, cn, pos + 3 * (size_t)c0, nrm ? nrm + 3 * (size_t)c0 : NULL);
    for (j = 0; j < 3u * nt; ++j) {
        uint32_t e = local[j], o, a, w;
        if (e == DVREN_MC_CENTER) {
            tri[3 * (size_t)t0 + j] = c0;
            continue;
        }
        o = dvren_mc_edge_owner(e);
        a = e >> 2;
        w = vb[((uint64_t)(z + ((o >> 2) & 1u)) * G.ny + y + ((o >> 1) & 1u)) * G.nx + x + (o & 1u)];
        tri[3 * (size_t)t0 + j] = (w & 0x1FFFFFFFu) + dvren_mc_popc3((w >> 29) & ((1u << a) - 1u));
    }
}

#endif /* DVREN_CUDA_MC_H */
