/* bench/gpu_bench.c - times dvren on the workload of
 * ../shared/peers/torch_dense_grid.py (same grid formula, camera, sampler and
 * compositing), on the GPU (default) or the CPU.
 *
 *   build/gpu_bench [--device cuda|cpu] [--res 256] [--width 800] [--height 800]
 *                   [--samples 256] [--storage f32|u16] [--ert 0] [--reps 21]
 *                   [--cache DIR] [--npy PREFIX] [--mode fwd|fwdbwd] [--deterministic 0|1] [--threads 0]
 *
 * --mode fwdbwd times what the peer's fwdbwd mode does: the forward render,
 * L = mean(C^2) (dvren_loss, L2 against a zero image) and the backward pass
 * to the grid (replaying the march, reusing the forward's outputs), from
 * zeroed gradients, per frame; it also prints the L2 norm of dL/dgrid to
 * compare with the peer's grad_l2. --deterministic 1 uses the fixed-point
 * (bitwise reproducible) backward and checks that two frames agree bitwise.
 *
 * --ert T turns early ray termination on at transmittance T (the peer has
 * none); --storage u16 stores the grid in 16 bits per channel (quantised over
 * each channel's range: 2^-16 of it) instead of float32. GPU times are CUDA
 * event times around each frame's kernel (median of --reps after 3 warm-up
 * frames); CPU times are wall-clock. Prints one JSON line: ms_median, ms_min,
 * samples/s (W*H*S / time, the peer's definition), image mean, memory held by
 * dvren's pool at its peak (the peer reports torch.cuda.max_memory_allocated),
 * and the kernel's compile/load statistics. The scene is bench/peer_scene.h's,
 * read by tools/dvren_scene.h. --threads N sets the CPU threads (0, the
 * default: all cores). */
#define _POSIX_C_SOURCE 200809L
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#include "peer_scene.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x)                                                                          \
    do {                                                                                \
        if ((x) != DVREN_OK) {                                                          \
            fprintf(stderr, "gpu_bench: %s\n", ctx ? dvren_last_error(ctx) : dvren_last_error(NULL)); \
            return 1;                                                                   \
        }                                                                               \
    } while (0)

static int cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv)
{
    const char *device = "cuda", *storage = "f32", *cache = NULL, *npy = NULL, *mode = "fwd";
    int res = 256, width = 800, height = 800, samples = 256, reps = 21, i, gpu, fwdbwd, det = 0, bitwise = -1, threads = 0;
    double grad_l2 = 0.0;
    dvren_tensor zero_t;
    dvren_loss_desc ld;
    dvren_backward_options bo;
    dvren_framebuffer* gfb = NULL;
    float* zero_host = NULL;
    float *g1 = NULL, *g2 = NULL;
    double ert = 0.0, t[256], mean = 0.0;
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_scenefile sf;
    char text[1024];
    dvren_scene_desc sd;
    dvren_scene* scene;
    dvren_plan_desc pd;
    dvren_plan* plan;
    dvren_framebuffer* fb;
    dvren_tensor rgb;
    dvren_cuda_kernel_stats ks;
    dvren_cuda_memory mem;
    double t_scene0, t_scene;
    for (i = 1; i + 1 < argc; i += 2) {
        const char* a = argv[i];
        const char* v = argv[i + 1];
        if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--res")) res = atoi(v);
        else if (!strcmp(a, "--width")) width = atoi(v);
        else if (!strcmp(a, "--height")) height = atoi(v);
        else if (!strcmp(a, "--samples")) samples = atoi(v);
        else if (!strcmp(a, "--storage")) storage = v;
        else if (!strcmp(a, "--ert")) ert = atof(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--cache")) cache = v;
        else if (!strcmp(a, "--npy")) npy = v;
        else if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--deterministic")) det = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else {
            fprintf(stderr, "gpu_bench: unknown option %s\n", a);
            return 2;
        }
    }
    if (res < 2 || width < 1 || height < 1 || samples < 1 || reps < 1 || reps > 256 || threads < 0 || threads > 1024) {
        fprintf(stderr, "gpu_bench: bad arguments\n");
        return 2;
    }
    gpu = strcmp(device, "cuda") == 0;
    fwdbwd = strcmp(mode, "fwdbwd") == 0;
    if (!fwdbwd && strcmp(mode, "fwd")) {
        fprintf(stderr, "gpu_bench: --mode fwd or fwdbwd\n");
        return 2;
    }
    memset(&cd, 0, sizeof cd);
    memset(&sf, 0, sizeof sf);
    cd.threads = (uint32_t)threads;
    if (gpu) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
        cd.kernel_cache_dir = cache;
    }
    if (getenv("DVREN_BENCH_LOG")) cd.log = dvren_log_to_file;
    TRY(dvren_context_create(&cd, &ctx));
    t_scene0 = dvren__now_ms();
    snprintf(text, sizeof text, dvren_bench_peer_scene, res, res, res, storage, samples, ert > 0.0 ? ert : -1.0, width,
             height);
    if (dvren_scenefile_parse(&sf, "peer scene", text, strlen(text), NULL) || dvren_scenefile_build(&sf, ctx)) {
        fprintf(stderr, "gpu_bench: %s\n", sf.error);
        return 1;
    }
    memset(&sd, 0, sizeof sd);
    sd.field = sf.field;
    sd.shader = sf.shader;
    sd.sampler = sf.sampler;
    sd.flags = fwdbwd ? DVREN_SCENE_DIFFERENTIABLE : 0u;
    TRY(dvren_scene_create(ctx, &sd, &scene));
    t_scene = dvren__now_ms() - t_scene0;
    pd = sf.plan;
    pd.outputs = fwdbwd ? DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE : DVREN_OUTPUT_RGB;
    TRY(dvren_plan_create(ctx, &pd, &plan));
    TRY(dvren_framebuffer_create_outputs(ctx, plan, pd.outputs, &fb));
    if (fwdbwd) {
        int64_t zs[2];
        zs[0] = (int64_t)width * height;
        zs[1] = 3;
        TRY(dvren_framebuffer_create_outputs(ctx, plan, DVREN_OUTPUT_RGB, &gfb));
        if (gpu) {
            TRY(dvren_cuda_tensor_create(ctx, DVREN_DTYPE_F32, 2, zs, &zero_t)); /* zero-filled, on the device */
        } else {
            zero_host = (float*)calloc((size_t)zs[0] * 3, sizeof(float));
            TRY(dvren_tensor_wrap(zero_host, DVREN_DTYPE_F32, 2, zs, NULL, &zero_t));
        }
        memset(&ld, 0, sizeof ld);
        ld.kind = DVREN_LOSS_L2; /* mean((C - 0)^2) over pixels and channels: the peer's L */
        ld.target_rgb = &zero_t;
        memset(&bo, 0, sizeof bo);
        bo.flags = det ? DVREN_BACKWARD_DETERMINISTIC : 0u;
        bo.forward = fb;
    }
#define FRAME()                                                                                                            do {                                                                                                                       if (fwdbwd) TRY(dvren_scene_zero_grad(scene));                                                                         TRY(dvren_render(scene, plan, fb, NULL));                                                                              if (fwdbwd) {                                                                                                              TRY(dvren_loss(ctx, &ld, fb, gfb, NULL));                                                                              TRY(dvren_render_backward(scene, plan, gfb, &bo));                                                                 }                                                                                                                  } while (0)
    for (i = 0; i < 3; ++i) FRAME(); /* warm-up */
    TRY(dvren_synchronize(ctx));
    for (i = 0; i < reps; ++i) {
        if (gpu) {
            float ms = 0.0f;
            TRY(dvren_cuda_timer_begin(ctx));
            FRAME();
            TRY(dvren_cuda_timer_end(ctx, &ms));
            t[i] = ms;
        } else {
            double t0 = dvren__now_ms();
            FRAME();
            t[i] = dvren__now_ms() - t0;
        }
    }
    if (fwdbwd) {
        /* |dL/dgrid| of the last frame; in the deterministic mode, one more
         * frame must give the same bits */
        dvren_scene_param p;
        dvren_tensor gt;
        int64_t n;
        TRY(dvren_scene_param_get(scene, 0, &p));
        n = (int64_t)p.numel;
        g1 = (float*)malloc((size_t)n * sizeof(float));
        g2 = (float*)malloc((size_t)n * sizeof(float));
        if (!g1 || !g2) return 1;
        TRY(dvren_tensor_wrap(g1, DVREN_DTYPE_F32, 1, &n, NULL, &gt));
        TRY(dvren_scene_param_read(scene, 0, DVREN_PARAM_GRAD, &gt));
        for (i = 0; i < (int)n; ++i) grad_l2 += (double)g1[i] * g1[i];
        grad_l2 = sqrt(grad_l2);
        FRAME();
        TRY(dvren_tensor_wrap(g2, DVREN_DTYPE_F32, 1, &n, NULL, &gt));
        TRY(dvren_scene_param_read(scene, 0, DVREN_PARAM_GRAD, &gt));
        bitwise = memcmp(g1, g2, (size_t)n * sizeof(float)) == 0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb));
    for (i = 0; i < width * height * 3; ++i) mean += ((const float*)rgb.data)[i];
    mean /= (double)width * height * 3;
    if (npy) {
        char path[1024];
        snprintf(path, sizeof path, "%s_rgb.npy", npy);
        TRY(dvren_tensor_save_npy(ctx, &rgb, path));
    }
    memset(&ks, 0, sizeof ks);
    memset(&mem, 0, sizeof mem);
    if (gpu) {
        TRY(dvren_cuda_scene_kernel(scene, &ks));
        TRY(dvren_cuda_memory_stats(ctx, &mem));
    }
    {
        double ms = t[reps / 2], sps = (double)width * height * samples / (ms * 1e-3);
        printf("{\"bench\": \"dvren-%s\", \"res\": %d, \"width\": %d, \"height\": %d, \"samples\": %d, \"storage\": \"%s\", "
               "\"ert\": %g, \"ms_median\": %.4f, \"ms_min\": %.4f, \"gsamples_per_s\": %.2f, \"image_mean\": %.7f, "
               "\"pool_peak_gib\": %.4f, \"scene_setup_ms\": %.1f, \"target\": \"%s\", \"cache_hit\": %d, "
               "\"compile_ms\": %.1f, \"load_ms\": %.2f, \"registers\": %d, \"local_bytes\": %d, \"block\": \"%s\", "
               "\"nvrtc_options\": \"%s\", \"mode\": \"%s\", \"deterministic\": %d, \"grad_l2\": %.9g, "
               "\"grad_bitwise_repeat\": %d}\n",
               device, res, width, height, samples, storage, ert, ms, t[0], sps * 1e-9, mean,
               (double)mem.peak / (1024.0 * 1024.0 * 1024.0), t_scene, ks.target, ks.cache_hit, ks.compile_ms, ks.load_ms,
               ks.registers, ks.local_bytes, getenv("DVREN_CUDA_BLOCK") ? getenv("DVREN_CUDA_BLOCK") : "8x16",
               getenv("DVREN_CUDA_NVRTC_OPTIONS") ? getenv("DVREN_CUDA_NVRTC_OPTIONS") : "", mode, det, grad_l2,
               bitwise);
    }
    free(g1);
    free(g2);
    free(zero_host);
    if (fwdbwd && gpu) dvren_tensor_destroy(ctx, &zero_t);
    dvren_framebuffer_destroy(gfb);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(scene);
    dvren_scenefile_free(&sf);
    dvren_context_destroy(ctx);
    return 0;
}
