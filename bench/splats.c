/* bench/splats.c - dvren's side of the splat benchmark (issue 14,
 * "Targets"; bench/splats.sh runs it on the GPU machine beside gsplat
 * 1.5.3, bench/splats_peer.py, which reads the parameter folder written
 * here and so renders exactly the same inputs).
 *
 *   build/bench_splats --workload garden|garden5x5_1080p --data test_garden.npz
 *       --params DIR --out DIR [--seed 0] [--iters 50] [--warmup 10]
 *       [--device cuda|cpu] [--threads 0]
 *
 * The workloads (bench/splats_peer.py's header defines them):
 *   garden           gsplat's load_test_data: the points cropped to
 *                    [-2, 2]^3 (111,785), the file's 3 cameras, 648 x 420
 *   garden5x5_1080p  the same as a 5 x 5 scene_grid (2,794,625), camera 0
 *                    only, 1920 x 1080, K's row 0 times 1920/648 and row 1
 *                    times 1080/420 (gsplat's profiler)
 * Scales, rotations and opacities come from dvren_splats_fill_random(seed)
 * (tools/dvren_splat_npz.h), colours are the file's / 255 (SH degree 0).
 *
 * Writes into --params (existing folder): means, log_scales, quats,
 * opacity_logits, colors .npy (dvren_splat_npz_save_params), viewmats.npy
 * (C, 4, 4), Ks.npy (C, 3, 3), width.npy and height.npy (uint32, shape
 * (1,)), cotangent.npy (C, H, W, 3) float32 standard normals (Philox4x32
 * keyed by the seed, counter (pixel, camera, 0x434F5400), Box-Muller on
 * 24-bit uniforms), the dL/d(rgb) of the timed backward. Into --out
 * (existing folder): rgb_<c>.npy (H, W, 3) and alpha_<c>.npy (H, W) of the
 * first (untimed) forward render, and grad_<p>.npy for p in means,
 * log_scales, quats, opacity_logits, colors: the gradient of
 * sum_c sum(rgb_c * cotangent[c]), summed over the cameras in double on
 * the host; grad_colors = grad_sh[:, 0, :] / C0 (colors = 0.5 + C0 sh0).
 *
 * The renderer: dvren_splat_render with alpha_max 0.999 (gsplat's cap;
 * dvren's default is 3DGS's 0.99), near 0.01, far 1e10, eps2d 0.3
 * (gsplat's defaults), background black, outputs RGB and ALPHA. On a GPU
 * the parameters, cotangents and gradients live in device memory
 * (uploaded once, before the timing); on the CPU in host memory.
 *
 * Timing as splats_peer.py: --warmup untimed iterations, then --iters
 * iterations, each over all C cameras, timed on the wall clock from its
 * start to dvren_synchronize after its last call; the figures are ms per
 * frame (the iteration's time / C), the median ("fwd_ms", "fwdbwd_ms") and
 * the fastest ("_min"). Forward: dvren_splat_render per camera.
 * Forward+backward: per camera dvren_splat_render then dvren_splat_backward
 * with the camera's cotangent framebuffer (filled once, before the timing).
 *
 * Memory. On a GPU: "peak_*_bytes" is the most the CUDA pool held in use
 * during the phase (dvren_cuda_memory.peak_in_use after
 * dvren_cuda_memory_reset_peak: inputs, framebuffers, cotangents,
 * gradients and the renderer's workspace; the pool's cache of free blocks
 * is not counted), the measure of gsplat's torch.cuda.max_memory_allocated
 * after reset_peak_memory_stats; "resident_*_bytes" the pool's in_use before
 * the phase. On the CPU
 * the figures are computed: inputs + framebuffers (+ cotangents and
 * gradients) as resident, plus dvren_splat_stats_get's workspace_bytes as
 * the peak.
 *
 * Prints ONE JSON line on stdout (bench/splats.sh's header gives the keys);
 * on failure {"renderer": "dvren", "workload": NAME, "error": "..."} and
 * exit status 1; bad usage: exit status 2. */
#define _XOPEN_SOURCE 700 /* realpath under -std=c11 */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SPLAT_NPZ_IMPLEMENTATION
#include "dvren_splat_npz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BS_MAX_ITERS 10000
#define BS_MAX_CAMERAS 64

typedef struct bs_opts {
    const char *workload, *data, *params, *out, *device;
    uint64_t seed;
    int iters, warmup, threads;
} bs_opts;

static const char* bs_workload = "?";

/* The failure line (JSON, the message escaped) and status 1. */
static int bs_fail(const char* msg)
{
    const char* p;
    printf("{\"renderer\": \"dvren\", \"workload\": \"%s\", \"error\": \"", bs_workload);
    for (p = msg; *p; ++p) {
        if (*p == '"' || *p == '\\') putchar('\\');
        putchar((unsigned char)*p < 0x20 ? ' ' : *p);
    }
    printf("\"}\n");
    fprintf(stderr, "bench_splats: %s\n", msg);
    return 1;
}

static int bs_cmp(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static double bs_median(double* v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bs_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Writes host float32 data of the given shape as dir/name. */
static dvren_status bs_save(dvren_context* ctx, const char* dir, const char* name, void* data, dvren_dtype dt,
                            uint32_t nd, const int64_t* shape)
{
    char path[4096];
    dvren_tensor t;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (dvren_tensor_wrap(data, dt, nd, shape, NULL, &t) != DVREN_OK)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "bench_splats", NULL, "%s: %s", name, dvren_last_error(NULL));
    return dvren_tensor_save_npy(ctx, &t, path);
}

static int bs_usage(void)
{
    fprintf(stderr, "usage: bench_splats --workload garden|garden5x5_1080p --data test_garden.npz --params DIR --out DIR\n"
                    "                    [--seed 0] [--iters 50] [--warmup 10] [--device cuda|cpu] [--threads 0]\n");
    return 2;
}

int main(int argc, char** argv)
{
    bs_opts o;
    dvren_context_desc cd;
    dvren_context* ctx = NULL;
    dvren_splat_npz_options no;
    dvren_splat_npz_scene sc;
    dvren_splat_params hp, dp, hg, dg; /* host / device params and gradients */
    dvren_splat_renderer* r = NULL;
    dvren_splat_options so;
    dvren_plan* plan[BS_MAX_CAMERAS];
    dvren_framebuffer *fb[BS_MAX_CAMERAS], *cot[BS_MAX_CAMERAS];
    float V[BS_MAX_CAMERAS][16], Km[BS_MAX_CAMERAS][9];
    float* cotangent = NULL;
    double* gsum[5] = {NULL, NULL, NULL, NULL, NULL};
    double *tf = NULL, *tb = NULL, fwd_med, fwd_min, fb_med, fb_min;
    double peak_f = 0, peak_fb = 0, res_f = 0, res_fb = 0, io_bytes;
    uint32_t W, H, C, c, N;
    int gpu, i, k, rc = 1;
    char msg[4096];
    const char* pnames[5] = {"means", "log_scales", "quats", "opacity_logits", "colors"};

    memset(&o, 0, sizeof o);
    o.iters = 50;
    o.warmup = 10;
    o.device = "cuda";
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return bs_usage();
        ++i;
        if (!strcmp(a, "--workload")) o.workload = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--params")) o.params = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--device")) o.device = v;
        else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--iters")) o.iters = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "--threads")) o.threads = atoi(v);
        else return bs_usage();
    }
    if (!o.workload || !o.data || !o.params || !o.out || o.iters < 1 || o.iters > BS_MAX_ITERS || o.warmup < 0 ||
        o.threads < 0 || (strcmp(o.device, "cuda") && strcmp(o.device, "cpu")))
        return bs_usage();
    bs_workload = o.workload;
    if (strcmp(o.workload, "garden") && strcmp(o.workload, "garden5x5_1080p"))
        return bs_fail("unknown workload (garden, garden5x5_1080p)");
    gpu = !strcmp(o.device, "cuda");
    memset(&sc, 0, sizeof sc);
    memset(&hp, 0, sizeof hp);
    memset(&dp, 0, sizeof dp);
    memset(&hg, 0, sizeof hg);
    memset(&dg, 0, sizeof dg);
    memset(plan, 0, sizeof plan);
    memset(fb, 0, sizeof fb);
    memset(cot, 0, sizeof cot);

    memset(&cd, 0, sizeof cd);
    cd.threads = (uint32_t)o.threads;
    if (getenv("DVREN_SPLAT_PROFILE")) { /* the per-step [timer] lines of the CUDA pipeline, on stderr */
        cd.log = dvren_log_to_file;
        cd.log_user = stderr;
    }
    if (gpu) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) return bs_fail(dvren_last_error(NULL));

#define BS_TRY(call)                                                                                                   \
    do {                                                                                                               \
        if ((call) != DVREN_OK) {                                                                                      \
            snprintf(msg, sizeof msg, "%s", dvren_last_error(ctx));                                                    \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

    /* the scene and the workload's cameras */
    memset(&no, 0, sizeof no);
    no.seed = o.seed;
    no.grid = strcmp(o.workload, "garden") ? 5u : 1u;
    BS_TRY(dvren_splat_npz_load(ctx, o.data, &no, &sc));
    if (!strcmp(o.workload, "garden")) {
        C = (uint32_t)(sc.camera_count < BS_MAX_CAMERAS ? sc.camera_count : BS_MAX_CAMERAS);
        W = sc.width;
        H = sc.height;
        for (c = 0; c < C; ++c) {
            memcpy(V[c], sc.cameras[c].viewmat, sizeof V[c]);
            memcpy(Km[c], sc.cameras[c].K, sizeof Km[c]);
        }
    } else {
        C = 1;
        W = 1920;
        H = 1080;
        memcpy(V[0], sc.cameras[0].viewmat, sizeof V[0]);
        memcpy(Km[0], sc.cameras[0].K, sizeof Km[0]);
        for (k = 0; k < 3; ++k) {
            Km[0][k] = (float)((double)Km[0][k] * 1920.0 / (double)sc.width);
            Km[0][3 + k] = (float)((double)Km[0][3 + k] * 1080.0 / (double)sc.height);
        }
    }
    N = (uint32_t)sc.splats.count;

    /* the parameter folder: what gsplat renders */
    {
        int64_t s44[3] = {(int64_t)C, 4, 4}, s33[3] = {(int64_t)C, 3, 3}, s1[1] = {1}, sc4[4];
        float vm[BS_MAX_CAMERAS * 16], ks[BS_MAX_CAMERAS * 9];
        uint32_t wv = W, hv = H;
        size_t px, n = (size_t)C * H * W;
        for (c = 0; c < C; ++c) {
            memcpy(vm + 16 * c, V[c], sizeof V[c]);
            memcpy(ks + 9 * c, Km[c], sizeof Km[c]);
        }
        BS_TRY(dvren_splat_npz_save_params(ctx, o.params, &sc.splats));
        BS_TRY(bs_save(ctx, o.params, "viewmats.npy", vm, DVREN_DTYPE_F32, 3, s44));
        BS_TRY(bs_save(ctx, o.params, "Ks.npy", ks, DVREN_DTYPE_F32, 3, s33));
        BS_TRY(bs_save(ctx, o.params, "width.npy", &wv, DVREN_DTYPE_U32, 1, s1));
        BS_TRY(bs_save(ctx, o.params, "height.npy", &hv, DVREN_DTYPE_U32, 1, s1));
        cotangent = (float*)malloc(n * 3 * sizeof(float));
        if (!cotangent) {
            snprintf(msg, sizeof msg, "out of memory (cotangent)");
            goto done;
        }
        for (px = 0; px < n; ++px) {
            /* pixel px of camera px / (H W): two Box-Muller pairs, three used */
            dvren_rng g = dvren_rng_make((uint32_t)o.seed, (uint32_t)(o.seed >> 32), (uint32_t)px, (uint32_t)(px >> 32),
                                         0x434F5400u);
            for (k = 0; k < 3; k += 2) {
                double u = (double)(dvren_rng_u32(&g) >> 8) * (1.0 / 16777216.0) + 1.0 / 16777216.0;
                double v = (double)(dvren_rng_u32(&g) >> 8) * (1.0 / 16777216.0), rr = sqrt(-2.0 * log(u));
                cotangent[3 * px + k] = (float)(rr * cos(6.283185307179586 * v));
                if (k + 1 < 3) cotangent[3 * px + k + 1] = (float)(rr * sin(6.283185307179586 * v));
            }
        }
        sc4[0] = C;
        sc4[1] = H;
        sc4[2] = W;
        sc4[3] = 3;
        BS_TRY(bs_save(ctx, o.params, "cotangent.npy", cotangent, DVREN_DTYPE_F32, 4, sc4));
    }

    /* the renderer's inputs: host, then (GPU) device copies */
    BS_TRY(dvren_splats_to_params(ctx, &sc.splats, &hp));
    BS_TRY(dvren_splats_to_params(ctx, &sc.splats, &hg)); /* the gradients' host storage, same shapes */
    if (gpu) {
        dvren_tensor* hs[5] = {&hp.means, &hp.log_scales, &hp.quats, &hp.opacity_logits, &hp.sh};
        dvren_tensor* ds[5] = {&dp.means, &dp.log_scales, &dp.quats, &dp.opacity_logits, &dp.sh};
        dvren_tensor* gs[5] = {&dg.means, &dg.log_scales, &dg.quats, &dg.opacity_logits, &dg.sh};
        dp.count = dg.count = hp.count;
        dp.sh_degree = dg.sh_degree = hp.sh_degree;
        for (k = 0; k < 5; ++k) {
            BS_TRY(dvren_cuda_tensor_create(ctx, DVREN_DTYPE_F32, hs[k]->ndim, hs[k]->shape, ds[k]));
            BS_TRY(dvren_cuda_copy(ctx, ds[k], hs[k]));
            BS_TRY(dvren_cuda_tensor_create(ctx, DVREN_DTYPE_F32, hs[k]->ndim, hs[k]->shape, gs[k]));
        }
    } else {
        dp = hp;
        dg = hg;
    }
    memset(&so, 0, sizeof so);
    so.alpha_max = 0.999f; /* gsplat's cap */
    BS_TRY(dvren_splat_renderer_create(ctx, &so, &r));
    for (c = 0; c < C; ++c) {
        dvren_plan_desc pd;
        dvren_tensor ct;
        int64_t shp[3] = {(int64_t)H, (int64_t)W, 3};
        memset(&pd, 0, sizeof pd);
        pd.width = W;
        pd.height = H;
        pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
        BS_TRY(dvren_camera_from_opencv(V[c], Km[c], &pd.camera));
        BS_TRY(dvren_plan_create(ctx, &pd, &plan[c]));
        BS_TRY(dvren_framebuffer_create(ctx, plan[c], &fb[c]));
        BS_TRY(dvren_framebuffer_create_outputs(ctx, plan[c], DVREN_OUTPUT_RGB, &cot[c]));
        BS_TRY(dvren_tensor_wrap(cotangent + (size_t)c * H * W * 3, DVREN_DTYPE_F32, 3, shp, NULL, &ct));
        BS_TRY(dvren_framebuffer_write(cot[c], DVREN_OUTPUT_RGB, &ct));
    }
    BS_TRY(dvren_synchronize(ctx));

    /* the images and gradients, untimed */
    for (k = 0; k < 5; ++k) {
        size_t n = (size_t)N * (k == 2 ? 4 : k == 3 ? 1 : 3);
        gsum[k] = (double*)calloc(n, sizeof(double));
        if (!gsum[k]) {
            snprintf(msg, sizeof msg, "out of memory (gradients)");
            goto done;
        }
    }
    for (c = 0; c < C; ++c) {
        dvren_tensor rgb, alpha;
        char name[64];
        const dvren_tensor* src[5];
        BS_TRY(dvren_splat_render(r, &dp, plan[c], fb[c], NULL));
        BS_TRY(dvren_framebuffer_output(fb[c], DVREN_OUTPUT_RGB, &rgb));
        BS_TRY(dvren_framebuffer_output(fb[c], DVREN_OUTPUT_ALPHA, &alpha));
        snprintf(name, sizeof name, "rgb_%u.npy", (unsigned)c);
        BS_TRY(bs_save(ctx, o.out, name, rgb.data, DVREN_DTYPE_F32, rgb.ndim, rgb.shape));
        snprintf(name, sizeof name, "alpha_%u.npy", (unsigned)c);
        BS_TRY(bs_save(ctx, o.out, name, alpha.data, DVREN_DTYPE_F32, alpha.ndim, alpha.shape));
        BS_TRY(dvren_splat_backward(r, &dp, cot[c], &dg));
        if (gpu) {
            BS_TRY(dvren_cuda_copy(ctx, &hg.means, &dg.means));
            BS_TRY(dvren_cuda_copy(ctx, &hg.log_scales, &dg.log_scales));
            BS_TRY(dvren_cuda_copy(ctx, &hg.quats, &dg.quats));
            BS_TRY(dvren_cuda_copy(ctx, &hg.opacity_logits, &dg.opacity_logits));
            BS_TRY(dvren_cuda_copy(ctx, &hg.sh, &dg.sh));
            BS_TRY(dvren_synchronize(ctx));
        }
        src[0] = &hg.means;
        src[1] = &hg.log_scales;
        src[2] = &hg.quats;
        src[3] = &hg.opacity_logits;
        src[4] = &hg.sh;
        for (k = 0; k < 5; ++k) {
            size_t j, w = (size_t)(k == 2 ? 4 : k == 3 ? 1 : 3), K1 = (size_t)(hg.sh_degree + 1) * (hg.sh_degree + 1);
            const float* g = (const float*)src[k]->data;
            for (j = 0; j < (size_t)N * w; ++j)
                gsum[k][j] += k < 4 ? (double)g[j] : (double)g[(j / 3) * K1 * 3 + j % 3] / DVREN_SPLAT_SH_C0;
        }
    }
    for (k = 0; k < 5; ++k) {
        size_t j, w = (size_t)(k == 2 ? 4 : k == 3 ? 1 : 3);
        int64_t shp[2] = {(int64_t)N, (int64_t)w};
        float* g32 = (float*)malloc((size_t)N * w * sizeof(float));
        char name[64];
        dvren_status st;
        if (!g32) {
            snprintf(msg, sizeof msg, "out of memory (gradients)");
            goto done;
        }
        for (j = 0; j < (size_t)N * w; ++j) g32[j] = (float)gsum[k][j];
        snprintf(name, sizeof name, "grad_%s.npy", pnames[k]);
        st = bs_save(ctx, o.out, name, g32, DVREN_DTYPE_F32, k == 3 ? 1u : 2u, shp);
        free(g32);
        BS_TRY(st);
    }

    /* forward, then forward+backward: warm-up, then the timed iterations */
    tf = (double*)malloc(sizeof(double) * (size_t)o.iters);
    tb = (double*)malloc(sizeof(double) * (size_t)o.iters);
    if (!tf || !tb) {
        snprintf(msg, sizeof msg, "out of memory");
        goto done;
    }
    io_bytes = 4.0 * N * (3 + 3 + 4 + 1 + 3) + (double)C * W * H * 16.0; /* inputs + rgb, alpha framebuffers */
    for (k = 0; k < 2; ++k) {
        double* t = k ? tb : tf;
        dvren_cuda_memory m;
        int it;
        if (gpu) {
            BS_TRY(dvren_cuda_memory_stats(ctx, &m));
            BS_TRY(dvren_cuda_memory_reset_peak(ctx));
            if (k) res_fb = (double)m.in_use;
            else res_f = (double)m.in_use;
        }
        for (it = -o.warmup; it < o.iters; ++it) {
            double t0 = dvren__now_ms();
            for (c = 0; c < C; ++c) {
                BS_TRY(dvren_splat_render(r, &dp, plan[c], fb[c], NULL));
                if (k) BS_TRY(dvren_splat_backward(r, &dp, cot[c], &dg));
            }
            BS_TRY(dvren_synchronize(ctx));
            if (it >= 0) t[it] = (dvren__now_ms() - t0) / C;
        }
        if (gpu) {
            BS_TRY(dvren_cuda_memory_stats(ctx, &m));
            if (k) peak_fb = (double)m.peak_in_use;
            else peak_f = (double)m.peak_in_use;
        } else {
            dvren_splat_stats st;
            BS_TRY(dvren_splat_stats_get(r, &st));
            if (k) {
                res_fb = io_bytes + (double)C * W * H * 12.0 + 4.0 * N * 14.0; /* + cotangents, gradients */
                peak_fb = res_fb + (double)st.workspace_bytes;
            } else {
                res_f = io_bytes;
                peak_f = res_f + (double)st.workspace_bytes;
            }
        }
    }
    fwd_min = tf[0];
    fb_min = tb[0];
    for (i = 0; i < o.iters; ++i) {
        if (tf[i] < fwd_min) fwd_min = tf[i];
        if (tb[i] < fb_min) fb_min = tb[i];
    }
    fwd_med = bs_median(tf, o.iters);
    fb_med = bs_median(tb, o.iters);
    {
        char absout[4096];
        if (!realpath(o.out, absout)) snprintf(absout, sizeof absout, "%s", o.out);
        printf("{\"renderer\": \"dvren\", \"workload\": \"%s\", \"images\": \"%s\", \"device\": \"%s\", "
               "\"n_gaussians\": %u, \"cameras\": %u, \"width\": %u, \"height\": %u, \"fwd_ms\": %.4f, "
               "\"fwd_ms_min\": %.4f, \"fwdbwd_ms\": %.4f, \"fwdbwd_ms_min\": %.4f, \"peak_fwd_bytes\": %.0f, "
               "\"peak_fwdbwd_bytes\": %.0f, \"resident_fwd_bytes\": %.0f, \"resident_fwdbwd_bytes\": %.0f, "
               "\"iters\": %d, \"warmup\": %d, \"alpha_max\": 0.999, \"threads\": %u, \"memory\": \"%s\"}\n",
               o.workload, absout, o.device, (unsigned)N, (unsigned)C, (unsigned)W, (unsigned)H, fwd_med, fwd_min, fb_med,
               fb_min, peak_f, peak_fb, res_f, res_fb, o.iters, o.warmup, (unsigned)dvren_context_threads(ctx),
               gpu ? "CUDA pool: peak in_use during the phase (torch.cuda.max_memory_allocated's measure); resident = in_use before the phase"
                   : "computed: inputs + framebuffers (+ cotangents, gradients) + splat workspace");
    }
    rc = 0;
done:
    if (rc) bs_fail(msg);
    free(tf);
    free(tb);
    free(cotangent);
    for (k = 0; k < 5; ++k) free(gsum[k]);
    for (c = 0; c < BS_MAX_CAMERAS; ++c) {
        dvren_framebuffer_destroy(fb[c]);
        dvren_framebuffer_destroy(cot[c]);
        dvren_plan_destroy(plan[c]);
    }
    dvren_splat_renderer_destroy(r);
    if (gpu) {
        dvren_splats_params_free(ctx, &dp);
        dvren_splats_params_free(ctx, &dg);
    }
    dvren_splats_params_free(ctx, &hp);
    dvren_splats_params_free(ctx, &hg);
    dvren_splat_npz_scene_free(&sc);
    dvren_context_destroy(ctx);
    return rc;
}
