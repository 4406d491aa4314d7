/* kernels/dvren_cuda_kernel.h - entry point of dvren's fused GPU kernel.
 *
 * GPU only (not single source): dvren_cuda.h composes one translation unit
 * per (field, shader, sampler) from kernels/dvren_device.h, the plugins'
 * device sources, the binding macros, kernels/dvren_march.h and this file,
 * and compiles it with NVRTC. The composer defines before this point:
 *   dvren__blocks         the three stages' parameter blocks, 16-byte aligned
 *   DVREN_CUDA_BLOCK_X/Y  the thread block's shape (pixels)
 * One thread renders one pixel of the plan's region of interest; the thread
 * block covers a DVREN_CUDA_BLOCK_X x DVREN_CUDA_BLOCK_Y tile, so a warp
 * holds an 8 x 4 patch of neighbouring rays that read neighbouring voxels.
 * Both parameters are __grid_constant__: the march reads the plan and the
 * stage blocks straight from the kernel's parameter (constant) bank.
 * Differentiable scenes add dvren_backward (DVREN_MARCH_BACKWARD). With
 * DVREN_CUDA_TRAIN defined the file gives instead the context's training
 * module: losses, total variation, optimizers and the deterministic mode's
 * helpers over kernels/dvren_train.h.
 *
 * dvren_cuda.h carries a generated copy of this file (">>cuda-src kernel");
 * edit this file and run `./build.sh gen`. */
#ifndef DVREN_CUDA_KERNEL_H
#define DVREN_CUDA_KERNEL_H

/* Thread blocks per SM a march kernel is compiled for (__launch_bounds__'
 * second argument). The composer sets DVREN_JIT_MIN_THREADS_PER_SM for
 * scenes whose sampler gives surfaces (dda): their time goes into a tight
 * traversal loop where occupancy pays, so 768 threads per SM (at most 80
 * registers): the block world's march 17% faster on the H200 (96 registers
 * and 31% occupancy before; bench/RESULTS.md, issue 12). Volume marches
 * keep the compiler's choice: capped, a shaded dense grid spills. */
#if defined(DVREN_JIT_MIN_THREADS_PER_SM)
#define DVREN__LAUNCH_BOUNDS(threads) __launch_bounds__(threads, DVREN_JIT_MIN_THREADS_PER_SM / (threads))
#else
#define DVREN__LAUNCH_BOUNDS(threads) __launch_bounds__(threads)
#endif

#if !defined(DVREN_CUDA_TRAIN)
extern "C" __global__ void DVREN__LAUNCH_BOUNDS(DVREN_CUDA_BLOCK_X * DVREN_CUDA_BLOCK_Y)
    dvren_forward(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B)
{
    uint32_t x = A.roi_x + blockIdx.x * DVREN_CUDA_BLOCK_X + threadIdx.x;
    uint32_t y = A.roi_y + blockIdx.y * DVREN_CUDA_BLOCK_Y + threadIdx.y;
    if (x >= A.roi_x + A.roi_w || y >= A.roi_y + A.roi_h) return;
    dvren_render_pixel(&B, &A, x, y);
}

#if defined(DVREN_MARCH_BACKWARD)
/* Backward of dvren_forward (differentiable scenes): one thread replays one
 * pixel's rays; B holds the blocks with the gradient buffers bound. */
extern "C" __global__ void DVREN__LAUNCH_BOUNDS(DVREN_CUDA_BLOCK_X * DVREN_CUDA_BLOCK_Y)
    dvren_backward(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B)
{
    uint32_t x = A.roi_x + blockIdx.x * DVREN_CUDA_BLOCK_X + threadIdx.x;
    uint32_t y = A.roi_y + blockIdx.y * DVREN_CUDA_BLOCK_Y + threadIdx.y;
    if (x >= A.roi_x + A.roi_w || y >= A.roi_y + A.roi_h) return;
    dvren_backward_pixel(&B, &A, x, y);
}
#endif

/* ---- per-pixel budgets (plans with spp_map) ------------------------------
 * One thread per pixel would make a warp wait for its largest budget: the
 * 8 x 4 patch of a warp mixes pixels of 1 and 64 rays at the edge of an
 * important region. So these plans run one thread per RAY: ray k of the
 * image belongs to the pixel p with ray_start[p] <= k < ray_start[p + 1]
 * (a binary search), and rays of neighbouring pixels stay neighbours in a
 * warp. The host splits the image into chunks of pixels [p0, p1) whose rays
 * [r0, r1) fit its record buffer; dvren_forward_rays writes one record per
 * ray, then dvren_gather_rays sums each pixel's records in order s = 0 ..
 * n-1, exactly as the CPU's dvren_shade_pixel does, so the image is the
 * same and the time follows the total number of samples. */
typedef struct dvren_ray_record {
    float rgb[3]; /* with the background term */
    float transmittance, depth_w, weight;
    uint32_t samples_hit; /* samples | hit << 31 */
    uint32_t id;          /* the surface hit, DVREN_NO_SURFACE when none */
} dvren_ray_record;
static_assert(sizeof(dvren_ray_record) == 32, "dvren_ray_record is 32 bytes (dvren_cuda.h allocates so)");

#define DVREN_RAYS_THREADS 128
extern "C" __global__ void DVREN__LAUNCH_BOUNDS(DVREN_RAYS_THREADS)
    dvren_forward_rays(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B, uint32_t p0,
                       uint32_t p1, uint32_t r0, uint32_t r1, dvren_ray_record* rec)
{
    uint32_t k = r0 + blockIdx.x * DVREN_RAYS_THREADS + threadIdx.x, lo = p0, hi = p1 - 1, x, y, n;
    dvren_march_budget b;
    dvren_ray_result R;
    dvren_ray_record* o;
    if (k >= r1) return;
    while (lo < hi) { /* the last pixel whose first ray is <= k */
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (A.ray_start[mid] <= k) lo = mid;
        else hi = mid - 1;
    }
    x = lo % A.width;
    y = lo / A.width;
    if (x < A.roi_x || x >= A.roi_x + A.roi_w) return; /* outside the roi: gathered by nobody */
    n = A.ray_start[lo + 1] - A.ray_start[lo];
    b = dvren_pixel_budget(&A, lo);
    R = dvren_pixel_sample(&B, &A, x, y, k - A.ray_start[lo], n, &b);
    o = rec + (k - r0);
    o->rgb[0] = R.rgb.x;
    o->rgb[1] = R.rgb.y;
    o->rgb[2] = R.rgb.z;
    o->transmittance = R.transmittance;
    o->depth_w = R.depth_w;
    o->weight = R.weight;
    o->samples_hit = R.samples | (R.hit << 31);
    o->id = R.id;
}

extern "C" __global__ void __launch_bounds__(DVREN_RAYS_THREADS)
    dvren_gather_rays(const __grid_constant__ dvren_march_args A, uint32_t p0, uint32_t p1, uint32_t r0,
                      const dvren_ray_record* rec)
{
    uint32_t p = p0 + blockIdx.x * DVREN_RAYS_THREADS + threadIdx.x, x, n, s;
    dvren_pixel_sum P;
    const dvren_ray_record* q;
    if (p >= p1) return;
    x = p % A.width;
    if (x < A.roi_x || x >= A.roi_x + A.roi_w) return;
    n = A.ray_start[p + 1] - A.ray_start[p];
    q = rec + (A.ray_start[p] - r0);
    dvren_pixel_sum_zero(&P);
    for (s = 0; s < n; ++s) {
        dvren_ray_result R;
        R.rgb = dvren_v3(q[s].rgb[0], q[s].rgb[1], q[s].rgb[2]);
        R.transmittance = q[s].transmittance;
        R.depth_w = q[s].depth_w;
        R.weight = q[s].weight;
        R.hit = q[s].samples_hit >> 31;
        R.samples = q[s].samples_hit & 0x7FFFFFFFu;
        R.id = q[s].id;
        dvren_pixel_sum_add(&P, &R);
    }
    dvren_pixel_write(&A, p, &P, n);
}

#else /* DVREN_CUDA_TRAIN: the context's training module (kernels/dvren_train.h) */

#define DVREN__TRAIN_THREADS 256
/* Sum of one double per thread over the block into partial[blockIdx.x]; a
 * fixed tree, and the host adds the partials in order: deterministic. */
__device__ void dvren__block_sum(double v, double* partial)
{
    __shared__ double s[DVREN__TRAIN_THREADS];
    uint32_t k;
    s[threadIdx.x] = v;
    __syncthreads();
    for (k = DVREN__TRAIN_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

/* grad[j] = w * rho'(pred[j] - target[j]); partial: sums of rho (n elements) */
extern "C" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)
    dvren_loss_kernel(const float* pred, const float* target, float* grad, uint64_t n, uint32_t kind, float delta,
                      float w, double* partial)
{
    double sum = 0.0;
    uint64_t j;
    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {
        float d;
        sum += (double)dvren_loss_elem(kind, delta, pred[j] - target[j], &d);
        grad[j] = w * d;
    }
    dvren__block_sum(sum, partial);
}

/* Total variation of channels [c0, c1) of a (Z, Y, X, C) grid: g += norm *
 * dTV/dx when g is given; partial: sums of the terms. */
extern "C" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)
    dvren_tv_kernel(const float* x, float* g, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c0, uint32_t c1,
                    uint32_t squared, float norm, double* partial)
{
    double sum = 0.0;
    uint32_t nc = c1 - c0;
    uint64_t n = (uint64_t)X * Y * Z * nc, j;
    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {
        uint32_t c = c0 + (uint32_t)(j % nc);
        uint64_t v = j / nc;
        uint32_t i = (uint32_t)(v % X), jj = (uint32_t)((v / X) % Y), k = (uint32_t)(v / ((uint64_t)X * Y));
        float gv;
        sum += (double)dvren_tv_voxel(x, X, Y, Z, C, c, i, jj, k, squared, &gv);
        if (g) g[v * C + c] += norm * gv;
    }
    dvren__block_sum(sum, partial);
}

/* One fused Adam or SGD step over a parameter buffer of n elements. */
extern "C" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)
    dvren_adam_kernel(float* x, float* m, float* v, const float* g, uint64_t n, float lr, float beta1, float beta2,
                      float eps, float wd, float bc1, float sbc2)
{
    uint64_t j;
    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x)
        dvren_adam_elem(x + j, m + j, v + j, g[j], lr, beta1, beta2, eps, wd, bc1, sbc2);
}

extern "C" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)
    dvren_sgd_kernel(float* x, float* buf, const float* g, uint64_t n, float lr, float momentum, float wd)
{
    uint64_t j;
    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x)
        dvren_sgd_elem(x + j, buf + j, g[j], lr, momentum, wd);
}

/* Deterministic mode: g += fixed * unit (exact integer sums to float32),
 * then fixed = 0. */
extern "C" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)
    dvren_fixed_finalize(long long* fixed, float* g, uint64_t n, double unit)
{
    uint64_t j;
    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {
        long long q = fixed[j];
        if (q) {
            g[j] += (float)((double)q * unit);
            fixed[j] = 0;
        }
    }
}

/* Largest |a[j]| as float bits (non-negative floats order as integers);
 * 0x7F800000 or more: a value is not finite. */
extern "C" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)
    dvren_absmax_kernel(const float* a, uint64_t n, unsigned int* out)
{
    unsigned int m = 0u;
    uint64_t j;
    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {
        unsigned int b = __float_as_uint(a[j]) & 0x7FFFFFFFu;
        m = b > m ? b : m;
    }
    if (m) atomicMax(out, m);
}
#endif /* DVREN_CUDA_TRAIN */

#endif
