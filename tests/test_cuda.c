/* tests/test_cuda.c - the CUDA backend.
 *
 * Without a GPU (CI): a CUDA context fails with DVREN_ERROR_NO_DEVICE and a
 * clear message (never a CPU fallback); NVRTC compiles the fused kernel of
 * every variant of every shipped plugin for sm_86 and sm_90 with an empty
 * log (any warning fails); a plugin whose device source does not compile
 * gives DVREN_ERROR_COMPILE naming the plugin, file and line. These skip,
 * saying so, when libnvrtc cannot be loaded.
 *
 * With a GPU (bench/gpu.sh on the device machine) also: CPU/GPU parity on
 * analytic, procedural and real scenes, bitwise determinism, the memory pool
 * returning to its start, the kernel cache (cold compile, warm load), device
 * choice, and the compile error leaving the context usable.
 *
 * Parity metric: max over pixels and channels of |gpu - cpu| / max(|cpu|,
 * 0.01) on rgb, alpha, depth and transmittance (relative error, absolute
 * below 0.01); depth only where both alphas exceed 0.01 (where nothing was
 * hit, depth is an average over almost no weight); hit masks must match
 * exactly. Tolerance: DVREN_PARITY_TOL (default 1e-4, bench/RESULTS.md).
 * With early ray termination a ray whose transmittance crosses the
 * threshold within rounding stops one sample earlier on one device: such
 * pixels (their sample counts differ) must agree to the threshold itself,
 * absolutely, and be rare (< 0.5% of the pixels). */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "harness.h"

/* Why a CUDA context cannot be made here ("" when it can). */
static char th_no_gpu[DVREN__ERROR_CAP];

static dvren_context* cuda_ctx(const char* cache_dir)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    d.kernel_cache_dir = cache_dir;
    if (getenv("DVREN_TEST_LOG")) d.log = dvren_log_to_file;
    if (dvren_context_create(&d, &ctx) != DVREN_OK) {
        snprintf(th_no_gpu, sizeof th_no_gpu, "%s", dvren_last_error(NULL));
        return NULL;
    }
    return ctx;
}

/* ---- scenes built the same way on any context ----------------------------------- */

typedef struct scene3 {
    dvren_stage *f, *s, *m;
} scene3;

static void scene3_free(scene3* t)
{
    dvren_stage_destroy(t->f);
    dvren_stage_destroy(t->s);
    dvren_stage_destroy(t->m);
    memset(t, 0, sizeof *t);
}

/* field: generator (marschner_lobb | peer) with dims and storage, or a file */
static dvren_stage* mk_field(dvren_context* ctx, const char* gen, int dim, const char* storage, const char* file)
{
    dvren_params* p = NULL;
    double dims[3];
    dims[0] = dims[1] = dims[2] = dim;
    dvren_params_create(ctx, &p);
    if (file) dvren_params_set_string(p, "file", file);
    else {
        dvren_params_set_string(p, "generator", gen);
        dvren_params_set_numbers(p, "dims", dims, 3);
    }
    if (storage) dvren_params_set_string(p, "storage", storage);
    return th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
}

static dvren_stage* mk_channels_shader(dvren_context* ctx, double sigma_scale, const char* act, int shading)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    dvren_params_set_string(p, "mode", "channels");
    dvren_params_set_number(p, "sigma_scale", sigma_scale);
    dvren_params_set_string(p, "activation", act);
    dvren_params_set_bool(p, "shading", shading);
    return th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
}

static dvren_stage* mk_tf_shader(dvren_context* ctx, const double* tfo, int no, const double* tfc, int nc,
                                 double sigma_scale, int shading)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    dvren_params_set_numbers(p, "tf_opacity", tfo, (uint32_t)no);
    if (tfc) dvren_params_set_numbers(p, "tf_color", tfc, (uint32_t)nc);
    dvren_params_set_number(p, "sigma_scale", sigma_scale);
    dvren_params_set_bool(p, "shading", shading);
    dvren_params_set_number(p, "specular", 0.2);
    return th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
}

/* The parity scenes: index i of `count`; returns 0 when it cannot be made here. */
enum { NSCENES = 7 };
static const char* const scene_names[NSCENES] = {"peer_128_256x256_s128", "peer_u16_ert_jitter_spp4",
                                                 "marschner_lobb_tf_shading", "ct_head_skin_bone_shading",
                                                 "mr_head_tf", "peer_roi_background", "peer_spp_map_step_map"};

static int mk_scene(dvren_context* ctx, int i, scene3* t, dvren_plan_desc* pd)
{
    static const double ml_tfo[8] = {0, 0, 0.49, 0, 0.5, 1, 1, 1}, ml_tfc[8] = {0.45, 0.95, 0.55, 0.2, 0.55, 0.9, 0.35, 0.15};
    static const double ct_tfo[16] = {0, 0, 500, 0, 700, 0.12, 1000, 0.12, 1150, 0, 1200, 0, 1400, 1, 4000, 1};
    static const double ct_tfc[16] = {500, 0.9, 0.6, 0.5, 1000, 0.95, 0.75, 0.65, 1200, 1, 0.95, 0.85, 4000, 1, 1, 1};
    static const double mr_tfo[8] = {0, 0, 20, 0, 60, 0.3, 255, 1};
    const float eye[3] = {0, 0, 3}, eye2[3] = {2.0f, 1.4f, 2.3f}, ct_eye[3] = {2.0f, -3.0f, -0.5f};
    const float target[3] = {0, 0, 0}, up[3] = {0, 1, 0}, upz[3] = {0, 0, 1}, upmz[3] = {0, 0, -1};
    memset(t, 0, sizeof *t);
    memset(pd, 0, sizeof *pd);
    pd->outputs = DVREN_OUTPUT_ALL;
    pd->seed = 1234;
    switch (i) {
    case 0: /* the peer workload at the reduced size of bench/cpu_render */
        t->f = mk_field(ctx, "peer", 128, NULL, NULL);
        t->s = mk_channels_shader(ctx, 1.0, "relu", 0);
        t->m = th_uniform_sampler(ctx, 0);
        th_march(pd, 128, 0, 0.0);
        pd->width = pd->height = 256;
        dvren_camera_look_at(eye, target, up, 45.0f * 3.14159265f / 180.0f, &pd->camera);
        break;
    case 1: /* u16 storage, early termination, jitter, 4 rays per pixel */
        t->f = mk_field(ctx, "peer", 80, "u16", NULL);
        t->s = mk_channels_shader(ctx, 4.0, "softplus", 1);
        t->m = th_uniform_sampler(ctx, 1);
        th_march(pd, 0, 0.01, 1e-3);
        pd->width = 160;
        pd->height = 120;
        pd->spp = 4;
        dvren_camera_look_at(eye2, target, up, 0.8f, &pd->camera);
        break;
    case 2: /* the default scene's transfer function, with gradient shading */
        t->f = mk_field(ctx, "marschner_lobb", 64, NULL, NULL);
        t->s = mk_tf_shader(ctx, ml_tfo, 8, ml_tfc, 8, 400.0, 1);
        t->m = th_uniform_sampler(ctx, 1);
        th_march(pd, 0, 0.004, 1e-4);
        pd->width = pd->height = 128;
        pd->spp = 2;
        dvren_camera_look_at(eye2, target, upz, 0.7f, &pd->camera);
        break;
    case 3: {
        const char* f = th_data("ct_head/quarter.nhdr");
        if (!f) return 0;
        t->f = mk_field(ctx, NULL, 0, NULL, f);
        t->s = mk_tf_shader(ctx, ct_tfo, 16, ct_tfc, 16, 40.0, 1);
        t->m = th_uniform_sampler(ctx, 1);
        th_march(pd, 0, 0, 1e-4);
        pd->width = pd->height = 160;
        dvren_camera_look_at(ct_eye, target, upmz, 0.6f, &pd->camera);
        break;
    }
    case 4: {
        const char* f = th_data("mr_head/HeadMRVolume.mhd");
        if (!f) return 0;
        t->f = mk_field(ctx, NULL, 0, NULL, f);
        t->s = mk_tf_shader(ctx, mr_tfo, 8, NULL, 0, 30.0, 0);
        t->m = th_uniform_sampler(ctx, 0);
        th_march(pd, 0, 0, 1e-4);
        pd->width = pd->height = 128;
        dvren_camera_orthographic(eye2, target, upz, 2.2f, &pd->camera);
        break;
    }
    case 6: { /* per-pixel budgets: 1 .. 9 rays and step multipliers 1 .. 2.5 (one thread per ray on the GPU) */
        static uint32_t spp[160 * 120];
        static float step[160 * 120];
        static dvren_tensor ts, tm;
        int64_t shape[2] = {120, 160};
        uint32_t x, y;
        for (y = 0; y < 120; ++y)
            for (x = 0; x < 160; ++x) {
                spp[y * 160 + x] = 1 + (x * 7 + y * 3) % 9;
                step[y * 160 + x] = 1.0f + 0.5f * (float)((x + y) % 4);
            }
        if (dvren_tensor_wrap(spp, DVREN_DTYPE_U32, 2, shape, NULL, &ts) != DVREN_OK ||
            dvren_tensor_wrap(step, DVREN_DTYPE_F32, 2, shape, NULL, &tm) != DVREN_OK)
            return -1;
        t->f = mk_field(ctx, "peer", 80, "u16", NULL);
        t->s = mk_channels_shader(ctx, 4.0, "softplus", 1);
        t->m = th_uniform_sampler(ctx, 1);
        th_march(pd, 0, 0.01, 1e-3);
        pd->width = 160;
        pd->height = 120;
        pd->spp_map = &ts;
        pd->step_map = &tm;
        pd->roi.x = 3; /* a roi too: the ray threads of pixels outside it do nothing */
        pd->roi.y = 2;
        pd->roi.w = 150;
        pd->roi.h = 110;
        dvren_camera_look_at(eye2, target, up, 0.8f, &pd->camera);
        break;
    }
    default: /* a region of interest and a background */
        t->f = mk_field(ctx, "peer", 48, "u8", NULL);
        t->s = mk_channels_shader(ctx, 2.0, "exp", 0);
        t->m = th_uniform_sampler(ctx, 0);
        th_march(pd, 64, 0, 0.0);
        pd->width = 100;
        pd->height = 90;
        pd->roi.x = 13;
        pd->roi.y = 21;
        pd->roi.w = 61;
        pd->roi.h = 50;
        pd->background[0] = 0.2f;
        pd->background[1] = 0.4f;
        pd->background[2] = 0.8f;
        dvren_camera_look_at(eye, target, up, 0.9f, &pd->camera);
        break;
    }
    return t->f && t->s && t->m ? 1 : -1;
}

/* ---- without a GPU ---------------------------------------------------------------- */

TEST(cuda_context_without_gpu_is_an_error)
{
    dvren_context* ctx = cuda_ctx(NULL);
    if (ctx) {
        dvren_context_destroy(ctx);
        SKIP("this machine has a GPU (the GPU tests below run instead)");
    }
    CHECK(th_no_gpu[0], "an error message");
    CHECK(strstr(th_no_gpu, "cuda: ") == th_no_gpu, "message names the module: %s", th_no_gpu);
    /* loading twice is safe and says the same */
    {
        char first[DVREN__ERROR_CAP];
        snprintf(first, sizeof first, "%s", th_no_gpu);
        CHECK(cuda_ctx(NULL) == NULL && !strcmp(first, th_no_gpu), "second attempt: %s", th_no_gpu);
    }
    {
        /* a CUDA device without a backend is UNSUPPORTED, not a CPU context */
        dvren_context_desc d;
        dvren_context* c = NULL;
        memset(&d, 0, sizeof d);
        d.device = DVREN_DEVICE_CUDA;
        CHECK(dvren_context_create(&d, &c) == DVREN_ERROR_UNSUPPORTED && !c, "no backend");
    }
}

/* NVRTC availability, for the compile tests (they skip without it). */
static int nvrtc_here(char* why, size_t cap)
{
    dvren_status s = dvren__cu_need_nvrtc(NULL);
    if (s != DVREN_OK) snprintf(why, cap, "%s", dvren_last_error(NULL));
    return s == DVREN_OK;
}

/* Every variant of the shipped plugins that changes the generated code
 * (field storage and channel count; shader mode, activation, shading),
 * for the reference user's RTX 3060 (sm_86) and H100/H200 (sm_90). */
TEST(nvrtc_compiles_every_combination)
{
    static const struct { const char* gen; const char* storage; } fields[] = {
        {"marschner_lobb", "f32"}, {"marschner_lobb", "u16"}, {"marschner_lobb", "u8"},
        {"peer", "f32"}, {"peer", "u16"}, {"peer", "u8"}};
    static const double tfo[4] = {0, 0, 1, 1};
    static const unsigned archs[2] = {86, 90};
    char why[DVREN__ERROR_CAP], log[16384];
    dvren_context* ctx;
    int fi, si, ai, n = 0;
    if (!nvrtc_here(why, sizeof why)) SKIP("NVRTC not found, kernels not compiled: %s", why);
    ctx = th_ctx();
    for (fi = 0; fi < 6; ++fi)
        for (si = 0; si < 5; ++si) {
            scene3 t;
            dvren_scene_desc sd;
            dvren_scene* sc = NULL;
            memset(&t, 0, sizeof t);
            if (si < 3 && strcmp(fields[fi].gen, "peer") != 0) continue; /* channels mode needs 4 channels */
            t.f = mk_field(ctx, fields[fi].gen, 12, fields[fi].storage, NULL);
            t.s = si == 0   ? mk_channels_shader(ctx, 1.0, "relu", 0)
                  : si == 1 ? mk_channels_shader(ctx, 1.0, "softplus", 1)
                  : si == 2 ? mk_channels_shader(ctx, 1.0, "exp", 0)
                  : si == 3 ? mk_tf_shader(ctx, tfo, 4, NULL, 0, 10.0, 0)
                            : mk_tf_shader(ctx, tfo, 4, NULL, 0, 10.0, 1);
            t.m = th_uniform_sampler(ctx, si & 1);
            CHECK(t.f && t.s && t.m, "stages: %s", dvren_last_error(ctx));
            memset(&sd, 0, sizeof sd);
            sd.field = t.f;
            sd.shader = t.s;
            sd.sampler = t.m;
            /* every scene differentiable: the unit then holds the backward
             * kernel and the training module is compiled too */
            sd.flags = DVREN_SCENE_DIFFERENTIABLE;
            CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
            for (ai = 0; ai < 2; ++ai) {
                dvren_status s = dvren_cuda_compile_check(sc, archs[ai], log, sizeof log);
                CHECK(s == DVREN_OK, "%s/%s + shader %d for sm_%u: %s\n%s", fields[fi].gen, fields[fi].storage, si,
                      archs[ai], dvren_last_error(ctx), log);
                CHECK(log[0] == 0, "%s/%s + shader %d for sm_%u: NVRTC warns:\n%s", fields[fi].gen,
                      fields[fi].storage, si, archs[ai], log);
                n++;
            }
            dvren_scene_destroy(sc);
            scene3_free(&t);
        }
    printf("# %d kernels compiled without warnings (NVRTC %d.%d)\n", n, dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor);
    CHECK(n == 2 * (3 * 5 + 3 * 2), "%d compiles", n);
    dvren_context_destroy(ctx);
}

static const char* mock_lib(const char* name)
{
    static char buf[4096];
    const char* d = getenv("DVREN_TEST_MOCK_DIR");
    snprintf(buf, sizeof buf, "%s/%s.so", d ? d : "build/tests/mock", name);
    return buf;
}

/* A device source that does not compile: COMPILE, naming the plugin, its
 * file and the line; the context then still compiles a good scene. */
static void check_bad_source(dvren_context* ctx, int on_gpu)
{
    dvren_stage *f = NULL, *s = NULL, *m = NULL;
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    char log[8192];
    static const double tfo[4] = {0, 0, 1, 1};
    dvren_status st;
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_lib("mock_badsource")));
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, "mock_badsource", NULL);
    s = mk_tf_shader(ctx, tfo, 4, NULL, 0, 1.0, 0);
    m = th_uniform_sampler(ctx, 0);
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    memset(&sd, 0, sizeof sd);
    sd.field = f;
    sd.shader = s;
    sd.sampler = m;
    if (on_gpu) {
        st = dvren_scene_create(ctx, &sd, &sc);
    } else {
        CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
        st = dvren_cuda_compile_check(sc, 86, log, sizeof log);
        CHECK(strstr(log, "no_such_variable"), "the log is given back: %s", log);
    }
    CHECK(st == DVREN_ERROR_COMPILE, "status %s: %s", dvren_status_string(st), dvren_last_error(ctx));
    CHECK(strstr(dvren_last_error(ctx), "mock_badsource: ") == dvren_last_error(ctx) &&
              strstr(dvren_last_error(ctx), "mock_badsource_device.h(4)") &&
              strstr(dvren_last_error(ctx), "no_such_variable"),
          "message names plugin, file, line and the problem: %s", dvren_last_error(ctx));
    dvren_scene_destroy(sc);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
}

TEST(bad_device_source_is_a_compile_error)
{
    char why[DVREN__ERROR_CAP], log[4096];
    dvren_context* ctx;
    scene3 t;
    dvren_plan_desc pd;
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    if (!nvrtc_here(why, sizeof why)) SKIP("NVRTC not found: %s", why);
    ctx = th_ctx();
    check_bad_source(ctx, 0);
    if (th_current_failed) return;
    /* the context is still usable */
    CHECK(mk_scene(ctx, 0, &t, &pd) == 1, "scene: %s", dvren_last_error(ctx));
    memset(&sd, 0, sizeof sd);
    sd.field = t.f;
    sd.shader = t.s;
    sd.sampler = t.m;
    CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
    CHECK_OK(ctx, dvren_cuda_compile_check(sc, 90, log, sizeof log));
    dvren_scene_destroy(sc);
    scene3_free(&t);
    dvren_context_destroy(ctx);
}

/* ---- with a GPU --------------------------------------------------------------------- */

#define NEED_GPU(ctxvar, cache)                                                        \
    dvren_context* ctxvar = cuda_ctx(cache);                                           \
    if (!ctxvar) SKIP("no CUDA device here (%s)", th_no_gpu)

/* Renders scene i on ctx; returns the framebuffer (NULL if the scene is not available). */
static dvren_framebuffer* render_scene(dvren_context* ctx, int i, dvren_plan_desc* pd, int* avail)
{
    scene3 t;
    dvren_framebuffer* fb;
    int r = mk_scene(ctx, i, &t, pd);
    *avail = r;
    if (r != 1) {
        scene3_free(&t);
        return NULL;
    }
    fb = th_render(ctx, t.f, t.s, t.m, pd, 0);
    scene3_free(&t);
    return fb;
}

static double parity_tol(void)
{
    const char* e = getenv("DVREN_PARITY_TOL");
    return e && *e ? atof(e) : 1e-4;
}

TEST(gpu_cpu_parity)
{
    dvren_context* cpu;
    int i;
    double tol = parity_tol();
    NEED_GPU(gpu, NULL);
    cpu = th_ctx();
    for (i = 0; i < NSCENES; ++i) {
        dvren_plan_desc pd;
        int avail = 0, c, hit_diff = 0;
        dvren_framebuffer* a = render_scene(cpu, i, &pd, &avail);
        dvren_framebuffer* b = avail == 1 ? render_scene(gpu, i, &pd, &avail) : NULL;
        double worst = 0.0, ert_worst = 0.0, ert_tol = 1e-4; /* the scenes' min_transmittance, at most */
        size_t npix = (size_t)pd.width * pd.height, flipped = 0;
        const uint32_t *sa = NULL, *sb = NULL;
        const char* worst_out = "";
        uint32_t bit;
        if (avail == 0) {
            printf("# parity %-28s skipped (no data)\n", scene_names[i]);
            continue;
        }
        CHECK(a && b, "%s: render: cpu %p gpu %p: %s / %s", scene_names[i], (void*)a, (void*)b, dvren_last_error(cpu),
              dvren_last_error(gpu));
        {
            dvren_tensor ta, tb;
            dvren_framebuffer_output(a, DVREN_OUTPUT_SAMPLES, &ta);
            dvren_framebuffer_output(b, DVREN_OUTPUT_SAMPLES, &tb);
            sa = (const uint32_t*)ta.data;
            sb = (const uint32_t*)tb.data;
        }
        for (bit = 1; bit <= DVREN_OUTPUT_TRANSMITTANCE; bit <<= 1) {
            const float *x = th_out(a, bit), *y = th_out(b, bit);
            const float *ax = th_out(a, DVREN_OUTPUT_ALPHA), *ay = th_out(b, DVREN_OUTPUT_ALPHA);
            size_t n = (size_t)pd.width * pd.height * (bit == DVREN_OUTPUT_RGB ? 3 : 1), k;
            for (k = 0; k < n; ++k) {
                double e = fabs((double)y[k] - x[k]) / fmax(fabs((double)x[k]), 0.01);
                size_t px = bit == DVREN_OUTPUT_RGB ? k / 3 : k;
                if (bit == DVREN_OUTPUT_DEPTH && !(ax[px] > 0.01f && ay[px] > 0.01f)) continue;
                if (sa[px] != sb[px]) { /* early termination one sample apart */
                    if (bit != DVREN_OUTPUT_DEPTH) ert_worst = fmax(ert_worst, fabs((double)y[k] - x[k]));
                    continue;
                }
                if (!(e <= worst)) {
                    worst = e;
                    worst_out = dvren_output_name(bit);
                }
            }
        }
        {
            dvren_tensor ha, hb;
            size_t k;
            dvren_framebuffer_output(a, DVREN_OUTPUT_HIT, &ha);
            dvren_framebuffer_output(b, DVREN_OUTPUT_HIT, &hb);
            for (k = 0; k < (size_t)pd.width * pd.height; ++k) hit_diff += ((uint8_t*)ha.data)[k] != ((uint8_t*)hb.data)[k];
        }
        {
            size_t k;
            for (k = 0; k < npix; ++k) flipped += sa[k] != sb[k];
        }
        c = worst <= tol && hit_diff == 0 && ert_worst <= ert_tol && flipped * 200 < npix;
        printf("# parity %-28s max rel error %.3g (%s), hit mask differences %d, %u pixels stopped one sample apart "
               "(max abs difference %.2g): %s\n",
               scene_names[i], worst, worst_out, hit_diff, (unsigned)flipped, ert_worst, c ? "ok" : "FAIL");
        dvren_framebuffer_destroy(a);
        dvren_framebuffer_destroy(b);
        CHECK(c, "%s: max relative error %.3g in %s > %.3g, %d hit differences, or %u early-termination flips with "
              "difference %.3g", scene_names[i], worst, worst_out, tol, hit_diff, (unsigned)flipped, ert_worst);
    }
    dvren_context_destroy(cpu);
    dvren_context_destroy(gpu);
}

/* Beer-Lambert on the GPU too: exp(-sigma L) for a constant slab. */
TEST(gpu_slab_transmittance)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    float grid[8 * 4];
    dvren_tensor t;
    int64_t shape[4] = {2, 2, 2, 4};
    dvren_params* p = NULL;
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float* tr;
    int i;
    double T = exp(-1.5 * 2.0);
    NEED_GPU(gpu, NULL);
    for (i = 0; i < 8; ++i) {
        grid[4 * i] = 1.5f;
        grid[4 * i + 1] = grid[4 * i + 2] = grid[4 * i + 3] = 0.5f;
    }
    CHECK_OK(NULL, dvren_tensor_wrap(grid, DVREN_DTYPE_F32, 4, shape, NULL, &t));
    dvren_params_create(gpu, &p);
    dvren_params_set_tensor(p, "data", &t);
    dvren_params_set_numbers(p, "bbox", bbox, 6);
    f = th_stage(gpu, DVREN_PLUGIN_FIELD, "dense_grid", p);
    s = mk_channels_shader(gpu, 1.0, "relu", 0);
    m = th_uniform_sampler(gpu, 0);
    CHECK(f && s && m, "stages: %s", dvren_last_error(gpu));
    memset(&pd, 0, sizeof pd);
    th_march(&pd, 0, 0.001, 0.0);
    pd.width = pd.height = 8;
    pd.outputs = DVREN_OUTPUT_TRANSMITTANCE;
    CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 1.0f, &pd.camera));
    fb = th_render(gpu, f, s, m, &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(gpu));
    tr = th_out(fb, DVREN_OUTPUT_TRANSMITTANCE);
    for (i = 0; i < 64; ++i) CHECK(fabs(tr[i] - T) / T < 1e-4, "pixel %d: T = %.8g, exp(-sigma L) = %.8g", i, tr[i], T);
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(gpu);
}

TEST(gpu_determinism)
{
    dvren_plan_desc pd;
    int avail, i;
    dvren_framebuffer *a, *b;
    NEED_GPU(gpu, NULL);
    for (i = 1; i <= 6; i += i == 2 ? 4 : 1) { /* the jittered, multi-sample scenes (1, 2, 6) */
        uint32_t bit;
        a = render_scene(gpu, i, &pd, &avail);
        b = render_scene(gpu, i, &pd, &avail);
        CHECK(a && b, "render: %s", dvren_last_error(gpu));
        for (bit = 1; bit <= DVREN_OUTPUT_SAMPLES; bit <<= 1) {
            dvren_tensor x, y;
            CHECK_OK(gpu, dvren_framebuffer_output(a, bit, &x));
            CHECK_OK(gpu, dvren_framebuffer_output(b, bit, &y));
            CHECK(!memcmp(x.data, y.data, (size_t)dvren_tensor_numel(&x) * dvren_dtype_size(x.dtype)),
                  "scene %s: output %s differs between two runs", scene_names[i], dvren_output_name(bit));
        }
        dvren_framebuffer_destroy(a);
        dvren_framebuffer_destroy(b);
    }
    dvren_context_destroy(gpu);
}

/* Streams and device-side writes (what the Python binding relies on): the
 * context reports its primary context; renders queued on the legacy default
 * stream equal those on the context's own stream bitwise; a framebuffer
 * output can be written from device memory (a device-to-device copy, read
 * back by dvren_framebuffer_output). */
TEST(gpu_streams_and_device_writes)
{
    dvren_plan_desc pd;
    dvren_cuda_info info;
    dvren_framebuffer *a, *b, *g = NULL;
    dvren_plan* plan = NULL;
    dvren_tensor x, y, dev;
    void* own;
    int avail;
    NEED_GPU(gpu, NULL);
    CHECK_OK(gpu, dvren_cuda_get_info(gpu, &info));
    CHECK(info.context != NULL, "no primary context reported");
    own = dvren_cuda_stream(gpu);
    CHECK(own != NULL, "the context's own stream is NULL");
    a = render_scene(gpu, 1, &pd, &avail);
    CHECK_OK(gpu, dvren_cuda_set_stream(gpu, NULL)); /* the legacy default stream */
    CHECK(dvren_cuda_stream(gpu) == NULL, "stream not switched");
    b = render_scene(gpu, 1, &pd, &avail);
    CHECK(a && b, "render: %s", dvren_last_error(gpu));
    CHECK_OK(gpu, dvren_framebuffer_output(a, DVREN_OUTPUT_RGB, &x));
    CHECK_OK(gpu, dvren_framebuffer_output(b, DVREN_OUTPUT_RGB, &y));
    CHECK(!memcmp(x.data, y.data, (size_t)dvren_tensor_numel(&x) * 4), "default-stream render differs");
    CHECK_OK(gpu, dvren_cuda_own_stream(gpu));
    CHECK(dvren_cuda_stream(gpu) == own, "own stream not restored");
    CHECK_OK(gpu, dvren_plan_create(gpu, &pd, &plan));
    CHECK_OK(gpu, dvren_framebuffer_create_outputs(gpu, plan, DVREN_OUTPUT_RGB, &g));
    CHECK_OK(gpu, dvren_framebuffer_output(g, DVREN_OUTPUT_RGB, &y)); /* its host copy: zeros */
    CHECK_OK(gpu, dvren_cuda_framebuffer_output(a, DVREN_OUTPUT_RGB, &dev));
    CHECK_OK(gpu, dvren_framebuffer_write(g, DVREN_OUTPUT_RGB, &dev));
    CHECK_OK(gpu, dvren_framebuffer_output(g, DVREN_OUTPUT_RGB, &y));
    CHECK(!memcmp(x.data, y.data, (size_t)dvren_tensor_numel(&x) * 4), "device-to-device write not read back");
    dvren_plan_destroy(plan);
    dvren_framebuffer_destroy(g);
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    dvren_context_destroy(gpu);
}

/* Memory in use returns to its start after destroy; a second identical
 * round allocates nothing from the driver (the pool serves it). */
TEST(gpu_memory_returns_and_is_reused)
{
    dvren_cuda_memory m0, m1, m2;
    dvren_plan_desc pd;
    int avail, round;
    NEED_GPU(gpu, NULL);
    CHECK_OK(gpu, dvren_cuda_memory_stats(gpu, &m0));
    for (round = 0; round < 2; ++round) {
        dvren_framebuffer* fb = render_scene(gpu, 0, &pd, &avail);
        CHECK(fb, "render: %s", dvren_last_error(gpu));
        th_out(fb, DVREN_OUTPUT_RGB);
        dvren_framebuffer_destroy(fb);
        CHECK_OK(gpu, dvren_cuda_memory_stats(gpu, round ? &m2 : &m1));
    }
    printf("# memory: in use %llu -> %llu -> %llu bytes; driver allocations %llu -> %llu -> %llu; cached %llu\n",
           (unsigned long long)m0.in_use, (unsigned long long)m1.in_use, (unsigned long long)m2.in_use,
           (unsigned long long)m0.driver_allocs, (unsigned long long)m1.driver_allocs,
           (unsigned long long)m2.driver_allocs, (unsigned long long)m2.cached);
    CHECK(m1.in_use == m0.in_use && m2.in_use == m0.in_use, "in use did not return to %llu",
          (unsigned long long)m0.in_use);
    CHECK(m2.driver_allocs == m1.driver_allocs, "the second round allocated from the driver (%llu -> %llu)",
          (unsigned long long)m1.driver_allocs, (unsigned long long)m2.driver_allocs);
    CHECK(m1.driver_allocs > m0.driver_allocs, "the first round used the driver");
    CHECK_OK(gpu, dvren_cuda_memory_trim(gpu));
    CHECK_OK(gpu, dvren_cuda_memory_stats(gpu, &m2));
    CHECK(m2.cached == 0, "trim leaves %llu bytes cached", (unsigned long long)m2.cached);
    dvren_context_destroy(gpu);
}

/* A cold compile fills the disk cache; a new context loads it in < 50 ms. */
TEST(gpu_kernel_cache)
{
    const char* dir = th_tmp("kcache");
    dvren_cuda_kernel_stats k[2];
    int round;
    for (round = 0; round < 2; ++round) {
        scene3 t;
        dvren_plan_desc pd;
        dvren_scene_desc sd;
        dvren_scene* sc = NULL;
        NEED_GPU(gpu, dir);
        CHECK(mk_scene(gpu, 2, &t, &pd) == 1, "scene: %s", dvren_last_error(gpu));
        memset(&sd, 0, sizeof sd);
        sd.field = t.f;
        sd.shader = t.s;
        sd.sampler = t.m;
        CHECK_OK(gpu, dvren_scene_create(gpu, &sd, &sc));
        CHECK_OK(gpu, dvren_cuda_scene_kernel(sc, &k[round]));
        dvren_scene_destroy(sc);
        scene3_free(&t);
        dvren_context_destroy(gpu);
    }
    printf("# kernel cache: cold compile %.1f ms + load %.1f ms; warm load %.2f ms (%s, %d registers, %d B local)\n",
           k[0].compile_ms, k[0].load_ms, k[1].load_ms, k[1].target, k[1].registers, k[1].local_bytes);
    CHECK(k[1].cache_hit == 1 && k[1].compile_ms == 0.0, "second context did not hit the disk cache");
    CHECK(k[1].load_ms < 50.0, "warm load %.2f ms >= 50 ms", k[1].load_ms);
    CHECK(k[1].local_bytes == 0, "the kernel spills %d bytes to local memory", k[1].local_bytes);
}

TEST(gpu_device_choice)
{
    dvren_context_desc d;
    dvren_context* c = NULL;
    NEED_GPU(gpu, NULL);
    dvren_context_destroy(gpu);
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    d.device_name = "no-such-gpu-name";
    CHECK(dvren_context_create(&d, &c) == DVREN_ERROR_NO_DEVICE && !c, "a name that matches nothing");
    CHECK(strstr(dvren_last_error(NULL), "no-such-gpu-name"), "message: %s", dvren_last_error(NULL));
    d.device_name = NULL;
    d.min_compute_capability = 999;
    CHECK(dvren_context_create(&d, &c) == DVREN_ERROR_NO_DEVICE && !c, "compute capability 99.9");
    d.min_compute_capability = 86; /* what the reference user's pipeline asks for; H100/H200 are 90 */
    CHECK_OK(NULL, dvren_context_create(&d, &c));
    dvren_context_destroy(c);
}

TEST(gpu_bad_source_leaves_context_usable)
{
    dvren_plan_desc pd;
    int avail;
    dvren_framebuffer* fb;
    NEED_GPU(gpu, NULL);
    check_bad_source(gpu, 1);
    if (th_current_failed) return;
    fb = render_scene(gpu, 0, &pd, &avail);
    CHECK(fb && th_out(fb, DVREN_OUTPUT_RGB), "render after the error: %s", dvren_last_error(gpu));
    dvren_framebuffer_destroy(fb);
    dvren_context_destroy(gpu);
}

/* ---- the splat renderer (dvren_splat_render / _backward on CUDA) -------------------- */

/* NVRTC compiles the splat module (kernels/dvren_splat.h +
 * kernels/dvren_cuda_splat.h) for sm_86 and sm_90 with an empty log, and
 * its PTX exports every kernel dvren_cuda.h looks up, by that name. */
TEST(nvrtc_compiles_splat_module)
{
    static const unsigned archs[2] = {86, 90};
    char why[DVREN__ERROR_CAP], log[16384];
    dvren_context* ctx;
    int ai;
    if (!nvrtc_here(why, sizeof why)) SKIP("NVRTC not found, splat module not compiled: %s", why);
    ctx = th_ctx();
    for (ai = 0; ai < 2; ++ai) {
        dvren_status s = dvren_cuda_compile_splat_check(ctx, archs[ai], log, sizeof log);
        CHECK(s == DVREN_OK, "splat module for sm_%u: %s\n%s", archs[ai], dvren_last_error(ctx), log);
        CHECK(log[0] == 0, "splat module for sm_%u: NVRTC warns:\n%s", archs[ai], log);
    }
    /* every kernel the host asks for is an entry point under that name (a
     * name that a macro of kernels/dvren_splat.h rewrites would not be) */
    {
        dvren__text t;
        char* ptx = NULL;
        size_t n = 0;
        memset(&t, 0, sizeof t);
        t.ctx = ctx;
        CHECK_OK(ctx, dvren__cu_splat_compose(&t));
        CHECK_OK(ctx, dvren__cu_nvrtc(ctx, NULL, t.s, 90, 1, NULL, &ptx, &n, log, sizeof log, NULL));
        for (ai = 0; ai < DVREN__CU_SPLAT_COUNT; ++ai) {
            char entry[128];
            snprintf(entry, sizeof entry, ".entry %s(", dvren__cu_splat_names[ai]);
            CHECK(strstr(ptx, entry), "the PTX has no entry point %s", dvren__cu_splat_names[ai]);
        }
        dvren__free(ctx, ptx, n + 1);
        dvren__text_free(&t);
    }
    CHECK(dvren_cuda_compile_splat_check(ctx, 1, log, sizeof log) == DVREN_ERROR_UNSUPPORTED, "sm_1 is refused");
    CHECK(dvren_cuda_compile_splat_check(NULL, 90, log, sizeof log) == DVREN_ERROR_INVALID_ARGUMENT, "NULL context");
    dvren_context_destroy(ctx);
}

/* Host splat parameters (n Gaussians of SH degree deg) with their storage;
 * all five arrays in one allocation. */
typedef struct tsplats {
    dvren_splat_params p;
    float* all;
    size_t total, off[5];
} tsplats;

static int ts_init(tsplats* h, uint32_t n, uint32_t deg)
{
    uint32_t K = (deg + 1) * (deg + 1);
    int64_t s3[2] = {n, 3}, s4[2] = {n, 4}, s1[1] = {n}, ssh[3] = {n, K, 3};
    memset(h, 0, sizeof *h);
    h->off[0] = 0;
    h->off[1] = 3 * (size_t)n;
    h->off[2] = 6 * (size_t)n;
    h->off[3] = 10 * (size_t)n;
    h->off[4] = 11 * (size_t)n;
    h->total = (11 + 3 * (size_t)K) * n;
    h->all = (float*)calloc(h->total + 1, 4);
    if (!h->all) return 0;
    h->p.count = n;
    h->p.sh_degree = deg;
    dvren_tensor_wrap(h->all + h->off[0], DVREN_DTYPE_F32, 2, s3, NULL, &h->p.means);
    dvren_tensor_wrap(h->all + h->off[1], DVREN_DTYPE_F32, 2, s3, NULL, &h->p.log_scales);
    dvren_tensor_wrap(h->all + h->off[2], DVREN_DTYPE_F32, 2, s4, NULL, &h->p.quats);
    dvren_tensor_wrap(h->all + h->off[3], DVREN_DTYPE_F32, 1, s1, NULL, &h->p.opacity_logits);
    dvren_tensor_wrap(h->all + h->off[4], DVREN_DTYPE_F32, 3, ssh, NULL, &h->p.sh);
    return 1;
}

static double ts_rand(uint64_t* s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Random Gaussians in front of the camera at the origin looking down +z;
 * spread: half-width of the cloud in x and y at z ~ 2. */
static void ts_random(tsplats* h, uint64_t seed, double spread)
{
    uint64_t s = seed;
    uint32_t i, k, n = h->p.count, K = (h->p.sh_degree + 1) * (h->p.sh_degree + 1);
    float *m = h->all + h->off[0], *ls = h->all + h->off[1], *q = h->all + h->off[2], *op = h->all + h->off[3];
    float* sh = h->all + h->off[4];
    for (i = 0; i < n; ++i) {
        m[3 * i] = (float)((ts_rand(&s) - 0.5) * 2.0 * spread);
        m[3 * i + 1] = (float)((ts_rand(&s) - 0.5) * 2.0 * spread);
        m[3 * i + 2] = (float)(1.5 + ts_rand(&s) * 2.0);
        for (k = 0; k < 3; ++k) ls[3 * i + k] = (float)log(0.02 + 0.1 * ts_rand(&s));
        for (k = 0; k < 4; ++k) q[4 * i + k] = (float)(ts_rand(&s) - 0.5);
        q[4 * i] += 0.6f;
        op[i] = (float)(ts_rand(&s) * 5.0 - 2.0);
        for (k = 0; k < 3 * K; ++k) sh[3 * K * i + k] = (float)((ts_rand(&s) - 0.5) * (k < 3 ? 2.0 : 0.6));
    }
}

#define TS_OUT                                                                                                         \
    (DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_TRANSMITTANCE |                         \
     DVREN_OUTPUT_MEDIAN_DEPTH | DVREN_OUTPUT_SAMPLES)

/* One render (and, with grads, a backward with the fixed cotangents cot of
 * w x h x 5 floats: rgb, alpha, depth) on ctx; fb and stats returned. */
static dvren_framebuffer* ts_render(dvren_context* ctx, const tsplats* h, uint32_t w, uint32_t ht, const float* cot,
                                    tsplats* grads, dvren_splat_stats* st)
{
    float V[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, K[9] = {0};
    dvren_plan_desc pd;
    dvren_plan* plan = NULL;
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer *fb = NULL, *cf = NULL;
    int ok = 0;
    K[0] = K[4] = 0.9f * (float)w;
    K[2] = 0.5f * (float)w - 3.25f;
    K[5] = 0.5f * (float)ht + 1.5f;
    K[8] = 1;
    memset(&pd, 0, sizeof pd);
    pd.width = w;
    pd.height = ht;
    pd.outputs = TS_OUT;
    pd.background[0] = 0.2f;
    pd.background[1] = 0.1f;
    pd.background[2] = 0.3f;
    if (dvren_camera_from_opencv(V, K, &pd.camera) != DVREN_OK || dvren_plan_create(ctx, &pd, &plan) != DVREN_OK ||
        dvren_splat_renderer_create(ctx, NULL, &r) != DVREN_OK || dvren_framebuffer_create(ctx, plan, &fb) != DVREN_OK ||
        dvren_splat_render(r, &h->p, plan, fb, NULL) != DVREN_OK)
        goto done;
    if (st && dvren_splat_stats_get(r, st) != DVREN_OK) goto done;
    if (grads) {
        static const uint32_t outs[3] = {DVREN_OUTPUT_RGB, DVREN_OUTPUT_ALPHA, DVREN_OUTPUT_DEPTH};
        size_t np = (size_t)w * ht, off[3];
        int i;
        off[0] = 0;
        off[1] = 3 * np;
        off[2] = 4 * np;
        if (dvren_framebuffer_create_outputs(ctx, plan, outs[0] | outs[1] | outs[2], &cf) != DVREN_OK) goto done;
        for (i = 0; i < 3; ++i) {
            dvren_tensor t;
            int64_t shape[3] = {ht, w, 3};
            dvren_tensor_wrap((void*)(cot + off[i]), DVREN_DTYPE_F32, i == 0 ? 3 : 2, shape, NULL, &t);
            if (dvren_framebuffer_write(cf, outs[i], &t) != DVREN_OK) goto done;
        }
        if (dvren_splat_backward(r, &h->p, cf, &grads->p) != DVREN_OK) goto done;
    }
    ok = 1;
done:
    if (!ok) {
        fprintf(stderr, "ts_render: %s\n", dvren_last_error(ctx));
        dvren_framebuffer_destroy(fb);
        fb = NULL;
    }
    dvren_framebuffer_destroy(cf);
    dvren_splat_renderer_destroy(r);
    dvren_plan_destroy(plan);
    return fb;
}

/* CPU vs CUDA on random scenes: forward outputs (rgb, alpha, depth,
 * transmittance within 1e-4 absolute; sample counts equal, but for rare
 * pixels where a Gaussian's alpha sits at the 1/255 skip or the stop
 * threshold within float rounding: the GPU's exp2f / logf may differ from
 * libm by an ulp; those pixels are excluded and must be < 0.5%), gradients
 * within 1e-3 of the largest magnitude of each parameter's gradient, the
 * GPU's forward bitwise equal over two runs. Scene 1 piles thousands of
 * Gaussians onto the central tiles, so their segments are sorted in global
 * memory (> 2048 entries); scene 2 is empty (background only). */
TEST(gpu_splat_parity)
{
    static const struct { uint32_t n, deg, w, h; double spread; uint64_t seed; } sc[3] = {
        {600, 3, 173, 95, 1.2, 11}, {5000, 1, 64, 48, 0.08, 12}, {0, 0, 40, 30, 1.0, 13}};
    static const uint32_t fouts[4] = {DVREN_OUTPUT_RGB, DVREN_OUTPUT_ALPHA, DVREN_OUTPUT_DEPTH, DVREN_OUTPUT_TRANSMITTANCE};
    static const char* const gnames[5] = {"means", "log_scales", "quats", "opacity_logits", "sh"};
    dvren_context* cpu;
    int si;
    NEED_GPU(gpu, NULL);
    cpu = th_ctx();
    for (si = 0; si < 3; ++si) {
        tsplats h, gc, gg;
        dvren_framebuffer *a = NULL, *b = NULL, *b2 = NULL;
        dvren_splat_stats sa, sb;
        size_t np = (size_t)sc[si].w * sc[si].h, i, flipped = 0;
        float* cot = (float*)malloc(np * 5 * 4 + 4);
        const uint32_t *ca, *cb;
        double worst = 0.0;
        int k;
        uint64_t s = 77 + (uint64_t)si;
        CHECK(cot && ts_init(&h, sc[si].n, sc[si].deg) && ts_init(&gc, sc[si].n, sc[si].deg) &&
                  ts_init(&gg, sc[si].n, sc[si].deg),
              "out of memory");
        ts_random(&h, sc[si].seed, sc[si].spread);
        for (i = 0; i < np * 5; ++i) cot[i] = (float)(ts_rand(&s) - 0.5) * (i >= 4 * np ? 0.1f : 1.0f);
        a = ts_render(cpu, &h, sc[si].w, sc[si].h, cot, &gc, &sa);
        b = ts_render(gpu, &h, sc[si].w, sc[si].h, cot, &gg, &sb);
        b2 = ts_render(gpu, &h, sc[si].w, sc[si].h, NULL, NULL, NULL);
        CHECK(a && b && b2, "scene %d: render failed: %s / %s", si, dvren_last_error(cpu), dvren_last_error(gpu));
        printf("# splat scene %d: %u Gaussians, CPU %u visible / %llu pairs, GPU %u / %llu\n", si, sc[si].n,
               (unsigned)sa.visible, (unsigned long long)sa.intersections, (unsigned)sb.visible,
               (unsigned long long)sb.intersections);
        /* forward */
        ca = (const uint32_t*)th_out(a, DVREN_OUTPUT_SAMPLES);
        cb = (const uint32_t*)th_out(b, DVREN_OUTPUT_SAMPLES);
        CHECK(ca && cb, "samples output");
        for (i = 0; i < np; ++i) flipped += ca[i] != cb[i];
        for (k = 0; k < 4; ++k) {
            const float *x = th_out(a, fouts[k]), *y = th_out(b, fouts[k]);
            size_t nc = fouts[k] == DVREN_OUTPUT_RGB ? 3 : 1, j;
            CHECK(x && y, "output %s", dvren_output_name(fouts[k]));
            for (j = 0; j < np * nc; ++j)
                if (ca[j / nc] == cb[j / nc] && fabs((double)x[j] - (double)y[j]) > worst)
                    worst = fabs((double)x[j] - (double)y[j]);
        }
        printf("# splat scene %d: forward max |gpu - cpu| %.3g; %zu of %zu pixels differ in sample count\n", si, worst,
               flipped, np);
        CHECK(worst <= 1e-4, "scene %d: forward differs by %g > 1e-4", si, worst);
        CHECK(flipped * 200 < np || flipped == 0, "scene %d: %zu of %zu pixels differ in sample count", si, flipped, np);
        if (si == 2) {
            const float* rgb = th_out(b, DVREN_OUTPUT_RGB);
            CHECK(fabs(rgb[0] - 0.2) < 1e-7 && fabs(rgb[3 * np - 1] - 0.3) < 1e-7 && sb.intersections == 0,
                  "the empty scene is the background");
        }
        /* bitwise determinism of the GPU's forward */
        {
            uint32_t bit;
            for (bit = 1; bit <= DVREN_OUTPUT_ALL; bit <<= 1) {
                dvren_tensor x, y;
                if (!(TS_OUT & bit)) continue;
                CHECK_OK(gpu, dvren_framebuffer_output(b, bit, &x));
                CHECK_OK(gpu, dvren_framebuffer_output(b2, bit, &y));
                CHECK(!memcmp(x.data, y.data, (size_t)dvren_tensor_numel(&x) * dvren_dtype_size(x.dtype)),
                      "scene %d: output %s differs between two GPU runs", si, dvren_output_name(bit));
            }
        }
        /* backward */
        for (k = 0; k < 5; ++k) {
            size_t len = (k < 4 ? gc.off[k + 1] : gc.total) - gc.off[k], j;
            const float *x = gc.all + gc.off[k], *y = gg.all + gg.off[k];
            double big = 0.0, diff = 0.0;
            for (j = 0; j < len; ++j) {
                if (fabs(x[j]) > big) big = fabs(x[j]);
                if (fabs((double)x[j] - (double)y[j]) > diff) diff = fabs((double)x[j] - (double)y[j]);
            }
            printf("# splat scene %d: d/d %s max |cpu| %.3g, max |gpu - cpu| %.3g\n", si, gnames[k], big, diff);
            CHECK(diff <= 1e-3 * big || (big == 0.0 && diff == 0.0), "scene %d: gradient of %s differs by %g (largest %g)",
                  si, gnames[k], diff, big);
        }
        dvren_framebuffer_destroy(a);
        dvren_framebuffer_destroy(b);
        dvren_framebuffer_destroy(b2);
        free(h.all);
        free(gc.all);
        free(gg.all);
        free(cot);
    }
    dvren_context_destroy(cpu);
    dvren_context_destroy(gpu);
}

/* ---- marching cubes ------------------------------------------------------------------ */

TEST(nvrtc_compiles_mc_module)
{
    static const unsigned archs[2] = {86, 90};
    char why[DVREN__ERROR_CAP], log[16384];
    dvren_context* ctx;
    int ai;
    if (!nvrtc_here(why, sizeof why)) SKIP("NVRTC not found, marching-cubes module not compiled: %s", why);
    ctx = th_ctx();
    for (ai = 0; ai < 2; ++ai) {
        dvren_status s = dvren_cuda_compile_module_check(ctx, "mc", archs[ai], log, sizeof log);
        CHECK(s == DVREN_OK, "mc module for sm_%u: %s\n%s", archs[ai], dvren_last_error(ctx), log);
        CHECK(log[0] == 0, "mc module for sm_%u: NVRTC warns:\n%s", archs[ai], log);
    }
    {
        dvren__text t;
        char* ptx = NULL;
        size_t n = 0;
        memset(&t, 0, sizeof t);
        t.ctx = ctx;
        CHECK_OK(ctx, dvren__cu_mc_compose(&t));
        /* with contraction allowed (a user's DVREN_CUDA_NVRTC_OPTIONS), still no fused multiply-add */
        CHECK_OK(ctx, dvren__cu_nvrtc(ctx, NULL, t.s, 90, 1, "--fmad=true", &ptx, &n, log, sizeof log, NULL));
        for (ai = 0; ai < DVREN__CU_MC_NFUNC; ++ai) {
            char entry[128];
            snprintf(entry, sizeof entry, ".entry %s(", dvren__cu_mc_names[ai]);
            CHECK(strstr(ptx, entry), "the PTX has no entry point %s", dvren__cu_mc_names[ai]);
        }
        /* the CPU computes vertices without fused multiply-adds: so must the GPU */
        CHECK(!strstr(ptx, "fma.rn.f32") && !strstr(ptx, "\tmul.f32") && !strstr(ptx, "\tadd.f32"),
              "the marching-cubes PTX has a float fma or a contractible mul.f32 / add.f32");
        dvren__free(ctx, ptx, n + 1);
        dvren__text_free(&t);
    }
    CHECK(dvren_cuda_compile_module_check(ctx, "nope", 90, log, sizeof log) == DVREN_ERROR_INVALID_ARGUMENT &&
              strstr(dvren_last_error(ctx), "nope"),
          "unknown module: %s", dvren_last_error(ctx));
    dvren_context_destroy(ctx);
}

/* CPU and GPU meshes are identical bit for bit: a smooth field (a gyroid
 * inside a ball: many cells, tunnels), random fields (ambiguous faces,
 * centre vertices), and the CT head when the data is there; host and device
 * grid tensors. */
static float* mc_field(int kind, const uint32_t* n, uint64_t seed)
{
    float* g = (float*)malloc((size_t)n[0] * n[1] * n[2] * sizeof(float));
    uint32_t x, y, z;
    uint64_t st = seed;
    for (z = 0; z < n[2]; ++z)
        for (y = 0; y < n[1]; ++y)
            for (x = 0; x < n[0]; ++x) {
                double px = 6.0 * x / (n[0] - 1) - 3.0, py = 6.0 * y / (n[1] - 1) - 3.0, pz = 6.0 * z / (n[2] - 1) - 3.0;
                float v;
                if (kind == 0) {
                    v = (float)(sin(px * 2.1) * cos(py * 2.1) + sin(py * 2.1) * cos(pz * 2.1) + sin(pz * 2.1) * cos(px * 2.1));
                } else {
                    st = st * 6364136223846793005ull + 1442695040888963407ull;
                    v = (float)((double)(st >> 11) / 9007199254740992.0 - 0.5);
                }
                g[((size_t)z * n[1] + y) * n[0] + x] = v;
            }
    return g;
}

static int mesh_equal(const dvren_mesh* a, const dvren_mesh* b)
{
    return a->vertex_count == b->vertex_count && a->triangle_count == b->triangle_count &&
           !memcmp(a->positions, b->positions, (size_t)a->vertex_count * 12) &&
           (!a->normals || !memcmp(a->normals, b->normals, (size_t)a->vertex_count * 12)) &&
           !memcmp(a->triangles, b->triangles, (size_t)a->triangle_count * 12);
}

TEST(gpu_mc_parity)
{
    /* rows of 97, 40, 33, 64, 300 and 2 samples: every launch shape of kernels/dvren_cuda_mc.h */
    static const struct { int kind; uint32_t n[3]; uint32_t flags; } cases[6] = {
        {0, {97, 97, 97}, 0},       {1, {40, 40, 40}, 0},   {1, {33, 35, 31}, DVREN_MC_INSIDE_BELOW},
        {0, {64, 64, 64}, DVREN_MC_NO_NORMALS}, {0, {300, 41, 17}, 0}, {1, {2, 500, 9}, 0}};
    dvren_context* cpu;
    int ci;
    NEED_GPU(gpu, NULL);
    cpu = th_ctx();
    for (ci = 0; ci < 6; ++ci) {
        const uint32_t* n = cases[ci].n;
        float* g = mc_field(cases[ci].kind, n, 99 + (uint64_t)ci);
        int64_t shape[3];
        dvren_tensor th, td;
        dvren_mc_options o;
        dvren_mesh a, b, c;
        dvren_mc_stats sa, sb;
        shape[0] = n[2];
        shape[1] = n[1];
        shape[2] = n[0];
        dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, &th);
        memset(&o, 0, sizeof o);
        o.level = cases[ci].kind == 0 ? 0.1f : 0.0f;
        o.origin[0] = -3.0f;
        o.origin[1] = -2.5f;
        o.origin[2] = 1.0f;
        o.spacing[0] = 0.05f;
        o.spacing[1] = 0.07f;
        o.spacing[2] = 0.03f;
        o.flags = cases[ci].flags;
        CHECK_OK(cpu, dvren_marching_cubes(cpu, &th, &o, &a, &sa));
        CHECK_OK(gpu, dvren_marching_cubes(gpu, &th, &o, &b, &sb));
        CHECK(a.triangle_count > 0 && mesh_equal(&a, &b),
              "case %d: CPU %u vertices %u triangles, GPU %u %u: the meshes differ", ci, (unsigned)a.vertex_count,
              (unsigned)a.triangle_count, (unsigned)b.vertex_count, (unsigned)b.triangle_count);
        CHECK(sa.active_cells == sb.active_cells, "active cells %llu vs %llu", (unsigned long long)sa.active_cells,
              (unsigned long long)sb.active_cells);
        /* a device tensor gives the same */
        CHECK_OK(gpu, dvren_cuda_tensor_create(gpu, DVREN_DTYPE_F32, 3, shape, &td));
        CHECK_OK(gpu, dvren_cuda_copy(gpu, &td, &th));
        CHECK_OK(gpu, dvren_marching_cubes(gpu, &td, &o, &c, NULL));
        CHECK(mesh_equal(&a, &c), "case %d: device tensor input differs", ci);
        dvren_tensor_destroy(gpu, &td);
        dvren_mesh_free(cpu, &a);
        dvren_mesh_free(gpu, &b);
        dvren_mesh_free(gpu, &c);
        free(g);
    }
    dvren_context_destroy(cpu);
    dvren_context_destroy(gpu);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(cuda_context_without_gpu_is_an_error);
    RUN(nvrtc_compiles_every_combination);
    RUN(bad_device_source_is_a_compile_error);
    RUN(gpu_cpu_parity);
    RUN(gpu_slab_transmittance);
    RUN(gpu_determinism);
    RUN(gpu_streams_and_device_writes);
    RUN(gpu_memory_returns_and_is_reused);
    RUN(gpu_kernel_cache);
    RUN(gpu_device_choice);
    RUN(gpu_bad_source_leaves_context_usable);
    RUN(nvrtc_compiles_splat_module);
    RUN(gpu_splat_parity);
    RUN(nvrtc_compiles_mc_module);
    RUN(gpu_mc_parity);
    return th_done();
}
