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

/* Exclusive scan of v over the block (warp shuffles, then the warps'
 * totals); *total gets the block's sum. */
__device__ __forceinline__ uint32_t dvren__mc_block_exclusive(uint32_t v, uint32_t* total)
{
    __shared__ uint32_t warp_sum[DVREN__MC_THREADS / 32u];
    uint32_t lane = threadIdx.x & 31u, w = threadIdx.x >> 5, x = v, d, i, base = 0u, all = 0u;
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

__device__ __forceinline__ void dvren__mc_xyz(const dvren_mc_grid& G, uint64_t i, uint32_t* x, uint32_t* y, uint32_t* z)
{
    uint64_t plane = (uint64_t)G.nx * G.ny;
    *z = (uint32_t)(i / plane);
    i -= (uint64_t)*z * plane;
    *y = (uint32_t)(i / G.nx);
    *x = (uint32_t)(i - (uint64_t)*y * G.nx);
}

extern "C" __global__ void __launch_bounds__(DVREN__MC_THREADS)
    dvren_mc_count(const __grid_constant__ dvren_mc_grid G, uint64_t n, uint32_t* bv, uint32_t* bt, uint32_t* bc,
                   unsigned long long* active)
{
    uint64_t i = (uint64_t)blockIdx.x * DVREN__MC_THREADS + threadIdx.x;
    uint32_t v = 0u, t = 0u, c = 0u, a, sv, st, sc, sa;
    if (i < n) {
        uint32_t x, y, z;
        dvren__mc_xyz(G, i, &x, &y, &z);
        v = dvren_mc_popc3(dvren_mc_point_edges(&G, x, y, z));
        if (x + 1u < G.nx && y + 1u < G.ny && z + 1u < G.nz) {
            float f[8];
            t = dvren_mc_cell_triangles(f, dvren_mc_cell_load(&G, x, y, z, f), NULL, &c, NULL, NULL);
        }
    }
    a = t > 0u;
    dvren__mc_block_exclusive(v, &sv);
    dvren__mc_block_exclusive(t, &st);
    dvren__mc_block_exclusive(c, &sc);
    dvren__mc_block_exclusive(a, &sa);
    if (threadIdx.x == 0) {
        bv[blockIdx.x] = sv;
        bt[blockIdx.x] = st;
        bc[blockIdx.x] = sc;
        if (sa) atomicAdd(active, (unsigned long long)sa);
    }
}

extern "C" __global__ void __launch_bounds__(DVREN__MC_THREADS)
    dvren_mc_vertices(const __grid_constant__ dvren_mc_grid G, uint64_t n, const uint32_t* bv, uint32_t* vb, float* pos,
                      float* nrm)
{
    uint64_t i = (uint64_t)blockIdx.x * DVREN__MC_THREADS + threadIdx.x;
    uint32_t m = 0u, x = 0u, y = 0u, z = 0u, k, a;
    if (i < n) {
        dvren__mc_xyz(G, i, &x, &y, &z);
        m = dvren_mc_point_edges(&G, x, y, z);
    }
    k = bv[blockIdx.x] + dvren__mc_block_exclusive(dvren_mc_popc3(m), NULL);
    if (i >= n) return;
    vb[i] = k | (m << 29);
    for (a = 0; a < 3u; ++a)
        if ((m >> a) & 1u) {
            dvren_mc_vertex(&G, x, y, z, a, pos + 3 * (size_t)k, nrm ? nrm + 3 * (size_t)k : NULL);
            ++k;
        }
}

extern "C" __global__ void __launch_bounds__(DVREN__MC_THREADS)
    dvren_mc_triangles(const __grid_constant__ dvren_mc_grid G, uint64_t n, const uint32_t* bt, const uint32_t* bc,
                       const uint32_t* vb, uint32_t edge_vertices, uint32_t* tri, float* pos, float* nrm)
{
    uint64_t i = (uint64_t)blockIdx.x * DVREN__MC_THREADS + threadIdx.x;
    uint32_t x = 0u, y = 0u, z = 0u, nt = 0u, nc = 0u, cn = 0u, t0, c0, j;
    uint8_t local[3 * DVREN_MC_MAX_CELL_TRIANGLES], cloop[12];
    if (i < n) {
        dvren__mc_xyz(G, i, &x, &y, &z);
        if (x + 1u < G.nx && y + 1u < G.ny && z + 1u < G.nz) {
            float f[8];
            nt = dvren_mc_cell_triangles(f, dvren_mc_cell_load(&G, x, y, z, f), local, &nc, cloop, &cn);
        }
    }
    t0 = bt[blockIdx.x] + dvren__mc_block_exclusive(nt, NULL);
    c0 = edge_vertices + bc[blockIdx.x] + dvren__mc_block_exclusive(nc, NULL);
    if (nt == 0u) return;
    if (nc) dvren_mc_center(&G, x, y, z, cloop, cn, pos + 3 * (size_t)c0, nrm ? nrm + 3 * (size_t)c0 : NULL);
    for (j = 0; j < 3u * nt; ++j) {
        uint32_t e = local[j], o, a, w;
        uint64_t q;
        if (e == DVREN_MC_CENTER) {
            tri[3 * (size_t)t0 + j] = c0;
            continue;
        }
        o = dvren_mc_edge_owner(e);
        a = e >> 2;
        q = i + (o & 1u) + (uint64_t)((o >> 1) & 1u) * G.nx + (uint64_t)((o >> 2) & 1u) * G.nx * G.ny;
        w = vb[q];
        tri[3 * (size_t)t0 + j] = (w & 0x1FFFFFFFu) + dvren_mc_popc3((w >> 29) & ((1u << a) - 1u));
    }
}

#endif /* DVREN_CUDA_MC_H */
