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
 *
 * dvren_cuda.h carries a generated copy of this file (">>cuda-src kernel");
 * edit this file and run `./build.sh gen`. */
#ifndef DVREN_CUDA_KERNEL_H
#define DVREN_CUDA_KERNEL_H

extern "C" __global__ void __launch_bounds__(DVREN_CUDA_BLOCK_X * DVREN_CUDA_BLOCK_Y)
    dvren_forward(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B)
{
    uint32_t x = A.roi_x + blockIdx.x * DVREN_CUDA_BLOCK_X + threadIdx.x;
    uint32_t y = A.roi_y + blockIdx.y * DVREN_CUDA_BLOCK_Y + threadIdx.y;
    if (x >= A.roi_x + A.roi_w || y >= A.roi_y + A.roi_h) return;
    dvren_render_pixel(&B, &A, x, y);
}

#endif
