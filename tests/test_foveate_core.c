/* tests/test_foveate_core.c - the engine side of foveated rendering:
 * per-pixel budgets in the plan (spp_map, step_map) against plans with the
 * same spp everywhere (bitwise, pixel by pixel), the variance output,
 * importance post-processing and budgets against the test's own analytic
 * references, saliency stages through a mock model
 * (tests/mock_plugins/mock_saliency.c), and their errors. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define W 40
#define H 30

/* The peer's procedural field with a shaded channels shader (jitter on). */
static int make_stages(dvren_context* ctx, dvren_stage** f, dvren_stage** s, dvren_stage** m)
{
    dvren_params* p = NULL;
    double dims[3] = {24, 20, 18};
    dvren_params_create(ctx, &p);
    dvren_params_set_string(p, "generator", "peer");
    dvren_params_set_numbers(p, "dims", dims, 3);
    *f = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    dvren_params_create(ctx, &p);
    dvren_params_set_string(p, "mode", "channels");
    dvren_params_set_number(p, "sigma_scale", 2.0);
    *s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
    *m = th_uniform_sampler(ctx, 1);
    return *f && *s && *m;
}

static void base_plan(dvren_plan_desc* pd, uint32_t spp)
{
    const float eye[3] = {1.5f, 1.2f, 2.2f}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    memset(pd, 0, sizeof *pd);
    pd->width = W;
    pd->height = H;
    pd->spp = spp;
    pd->seed = 7;
    pd->outputs = DVREN_OUTPUT_ALL;
    dvren_camera_look_at(eye, target, up, 0.9f, &pd->camera);
    th_march(pd, 0, 0.03, 1e-3);
}

static void free_stages(dvren_stage* f, dvren_stage* s, dvren_stage* m)
{
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
}

/* Pixel k of framebuffers a and b agree bit for bit in every float output
 * and in the samples. */
static int pixel_same(const dvren_framebuffer* a, const dvren_framebuffer* b, size_t k)
{
    static const uint32_t bits[5] = {DVREN_OUTPUT_ALPHA, DVREN_OUTPUT_DEPTH, DVREN_OUTPUT_TRANSMITTANCE,
                                     DVREN_OUTPUT_VARIANCE, DVREN_OUTPUT_SAMPLES};
    const float* ra = th_out(a, DVREN_OUTPUT_RGB);
    const float* rb = th_out(b, DVREN_OUTPUT_RGB);
    int i;
    if (memcmp(ra + 3 * k, rb + 3 * k, 3 * sizeof(float))) return 0;
    for (i = 0; i < 5; ++i)
        if (memcmp(th_out(a, bits[i]) + k, th_out(b, bits[i]) + k, sizeof(float))) return 0;
    return 1;
}

/* A pixel given k rays by spp_map is the pixel of a plan with spp = k: the
 * rays of a pixel depend only on the pixel, the seed and its ray count. */
TEST(spp_map_matches_uniform_plans)
{
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer *fb = NULL, *u[3] = {NULL, NULL, NULL};
    static uint32_t spp[W * H];
    static const uint32_t levels[3] = {1, 3, 8};
    dvren_tensor t;
    int64_t shape[2] = {H, W};
    size_t k;
    int i;
    CHECK(make_stages(ctx, &f, &s, &m), "%s", dvren_last_error(ctx));
    for (k = 0; k < W * H; ++k) spp[k] = levels[(k % W) * 3 / W]; /* three vertical bands */
    spp[5 * W + 3] = 8;
    CHECK_OK(NULL, dvren_tensor_wrap(spp, DVREN_DTYPE_U32, 2, shape, NULL, &t));
    base_plan(&pd, 1);
    pd.spp_map = &t;
    fb = th_render(ctx, f, s, m, &pd, 0);
    CHECK(fb, "%s", dvren_last_error(ctx));
    for (i = 0; i < 3; ++i) {
        base_plan(&pd, levels[i]);
        u[i] = th_render(ctx, f, s, m, &pd, 0);
        CHECK(u[i], "%s", dvren_last_error(ctx));
    }
    for (k = 0; k < W * H; ++k) {
        int lv = spp[k] == 1 ? 0 : (spp[k] == 3 ? 1 : 2);
        CHECK(pixel_same(fb, u[lv], k), "pixel (%u, %u) with %u rays differs from the spp %u plan", (unsigned)(k % W),
              (unsigned)(k / W), (unsigned)spp[k], (unsigned)spp[k]);
    }
    for (i = 0; i < 3; ++i) dvren_framebuffer_destroy(u[i]);
    dvren_framebuffer_destroy(fb);
    free_stages(f, s, m);
    dvren_context_destroy(ctx);
}

/* step_map 1 changes nothing; 2 halves the samples along each ray. */
TEST(step_map_scales_samples)
{
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer *a = NULL, *b = NULL, *c = NULL;
    static float one[W * H], two[W * H];
    dvren_tensor t1, t2;
    int64_t shape[2] = {H, W};
    uint64_t na = 0, nc = 0;
    size_t k;
    CHECK(make_stages(ctx, &f, &s, &m), "%s", dvren_last_error(ctx));
    for (k = 0; k < W * H; ++k) one[k] = 1.0f, two[k] = 2.0f;
    CHECK_OK(NULL, dvren_tensor_wrap(one, DVREN_DTYPE_F32, 2, shape, NULL, &t1));
    CHECK_OK(NULL, dvren_tensor_wrap(two, DVREN_DTYPE_F32, 2, shape, NULL, &t2));
    base_plan(&pd, 2);
    pd.min_transmittance = -1.0f; /* every ray marches its whole chord */
    a = th_render(ctx, f, s, m, &pd, 0);
    pd.step_map = &t1;
    b = th_render(ctx, f, s, m, &pd, 0);
    pd.step_map = &t2;
    c = th_render(ctx, f, s, m, &pd, 0);
    CHECK(a && b && c, "%s", dvren_last_error(ctx));
    for (k = 0; k < W * H; ++k) {
        uint32_t sa = ((const uint32_t*)th_out(a, DVREN_OUTPUT_SAMPLES))[k];
        uint32_t sc = ((const uint32_t*)th_out(c, DVREN_OUTPUT_SAMPLES))[k];
        CHECK(pixel_same(a, b, k), "step_map 1 changed pixel %u", (unsigned)k);
        na += sa;
        nc += sc;
    }
    CHECK(na > 1000, "only %llu samples", (unsigned long long)na);
    CHECK(fabs((double)nc / (double)na - 0.5) < 0.03, "step x2: %llu samples of %llu", (unsigned long long)nc,
          (unsigned long long)na);
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    dvren_framebuffer_destroy(c);
    free_stages(f, s, m);
    dvren_context_destroy(ctx);
}

/* The variance of a pixel's mean: 0 with one ray; with n rays it falls as
 * 1/n (16 -> 64 rays: a quarter, averaged over the pixels). */
TEST(variance_output)
{
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer *a, *b, *c;
    double vb = 0.0, vc = 0.0;
    size_t k;
    CHECK(make_stages(ctx, &f, &s, &m), "%s", dvren_last_error(ctx));
    base_plan(&pd, 1);
    a = th_render(ctx, f, s, m, &pd, 0);
    base_plan(&pd, 16);
    b = th_render(ctx, f, s, m, &pd, 0);
    base_plan(&pd, 64);
    c = th_render(ctx, f, s, m, &pd, 0);
    CHECK(a && b && c, "%s", dvren_last_error(ctx));
    for (k = 0; k < W * H; ++k) {
        CHECK(th_out(a, DVREN_OUTPUT_VARIANCE)[k] == 0.0f, "one ray, variance %g", th_out(a, DVREN_OUTPUT_VARIANCE)[k]);
        CHECK(th_out(b, DVREN_OUTPUT_VARIANCE)[k] >= 0.0f, "negative variance");
        vb += th_out(b, DVREN_OUTPUT_VARIANCE)[k];
        vc += th_out(c, DVREN_OUTPUT_VARIANCE)[k];
    }
    CHECK(vb > 0.0, "no variance at 16 rays");
    CHECK(vc / vb > 0.15 && vc / vb < 0.4, "variance 64 rays / 16 rays = %g (expected about 0.25)", vc / vb);
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    dvren_framebuffer_destroy(c);
    free_stages(f, s, m);
    dvren_context_destroy(ctx);
}

/* Expects status want and a last error containing text. */
#define CHECK_FAILS(ctx, call, want, text)                                                                      \
    do {                                                                                                        \
        dvren_status st_ = (call);                                                                              \
        CHECK(st_ == (want), "%s returned %s (%s)", #call, dvren_status_string(st_), dvren_last_error(ctx));   \
        CHECK(strstr(dvren_last_error(ctx), (text)) != NULL, "message '%s' lacks '%s'", dvren_last_error(ctx), \
              (text));                                                                                          \
    } while (0)

TEST(budget_plan_errors)
{
    dvren_context* ctx = th_ctx();
    dvren_plan_desc pd;
    dvren_plan* plan = NULL;
    static uint32_t spp[W * H];
    static float step[W * H];
    dvren_tensor t, ts, tw;
    int64_t shape[2] = {H, W}, wrong[2] = {W, H};
    size_t k;
    for (k = 0; k < W * H; ++k) spp[k] = 2, step[k] = 1.5f;
    spp[1 * W + 2] = 0;
    step[3 * W + 4] = 0.5f;
    CHECK_OK(NULL, dvren_tensor_wrap(spp, DVREN_DTYPE_U32, 2, shape, NULL, &t));
    CHECK_OK(NULL, dvren_tensor_wrap(step, DVREN_DTYPE_F32, 2, shape, NULL, &ts));
    CHECK_OK(NULL, dvren_tensor_wrap(spp, DVREN_DTYPE_U32, 2, wrong, NULL, &tw));
    base_plan(&pd, 1);
    pd.spp_map = &t;
    CHECK_FAILS(ctx, dvren_plan_create(ctx, &pd, &plan), DVREN_ERROR_INVALID_ARGUMENT, "spp_map at pixel (2, 1) is 0");
    spp[1 * W + 2] = 2;
    pd.spp_map = &tw;
    CHECK_FAILS(ctx, dvren_plan_create(ctx, &pd, &plan), DVREN_ERROR_INVALID_ARGUMENT, "shape (30, 40)");
    pd.spp_map = &ts;
    CHECK_FAILS(ctx, dvren_plan_create(ctx, &pd, &plan), DVREN_ERROR_INVALID_ARGUMENT, "uint32");
    pd.spp_map = &t;
    pd.step_map = &ts;
    CHECK_FAILS(ctx, dvren_plan_create(ctx, &pd, &plan), DVREN_ERROR_INVALID_ARGUMENT, "step_map at pixel (4, 3) is 0.5");
    step[3 * W + 4] = 1.0f;
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &plan));
    /* the plan owns copies: changing the caller's arrays changes nothing */
    spp[0] = 0;
    CHECK(((const uint32_t*)dvren_plan_get_desc(plan)->spp_map->data)[0] == 2, "the plan borrowed spp_map");
    dvren_plan_destroy(plan);
    dvren_context_destroy(ctx);
}

TEST(budget_plan_is_forward_only)
{
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    dvren_plan_desc pd;
    dvren_plan* plan = NULL;
    dvren_framebuffer* g = NULL;
    static uint32_t spp[W * H];
    dvren_tensor t;
    int64_t shape[2] = {H, W};
    size_t k;
    CHECK(make_stages(ctx, &f, &s, &m), "%s", dvren_last_error(ctx));
    for (k = 0; k < W * H; ++k) spp[k] = 1;
    CHECK_OK(NULL, dvren_tensor_wrap(spp, DVREN_DTYPE_U32, 2, shape, NULL, &t));
    memset(&sd, 0, sizeof sd);
    sd.field = f;
    sd.shader = s;
    sd.sampler = m;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
    base_plan(&pd, 1);
    pd.outputs = DVREN_OUTPUT_RGB;
    pd.spp_map = &t;
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &plan));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &g));
    CHECK_FAILS(ctx, dvren_render_backward(sc, plan, g, NULL), DVREN_ERROR_UNSUPPORTED, "forward only");
    dvren_framebuffer_destroy(g);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(sc);
    free_stages(f, s, m);
    dvren_context_destroy(ctx);
}

/* ---- post-processing ------------------------------------------------------ */

static dvren_importance_params pp_none(void)
{
    dvren_importance_params p = dvren_importance_params_default();
    p.percentile_lo = 0.0f;
    p.percentile_hi = 100.0f;
    p.gamma = 1.0f;
    p.close_size = 0;
    p.blur_size = 0;
    return p;
}

TEST(postprocess_stretch_and_gamma)
{
    dvren_context* ctx = th_ctx();
    float in[101], out[101];
    dvren_importance_params p = pp_none();
    int i;
    for (i = 0; i <= 100; ++i) in[i] = 3.0f + 0.5f * (float)i / 100.0f; /* any offset and scale */
    p.gamma = 2.0f;
    CHECK_OK(ctx, dvren_importance_postprocess(ctx, in, 101, 1, &p, out));
    for (i = 0; i <= 100; ++i)
        CHECK(fabs(out[i] - pow(i / 100.0, 2.0)) < 1e-5, "gamma: out[%d] = %g", i, (double)out[i]);
    p.gamma = 1.0f;
    p.percentile_lo = 10.0f;
    p.percentile_hi = 90.0f;
    CHECK_OK(ctx, dvren_importance_postprocess(ctx, in, 101, 1, &p, out));
    for (i = 0; i <= 100; ++i) {
        double want = (i - 10) / 80.0;
        want = want < 0 ? 0 : (want > 1 ? 1 : want);
        CHECK(fabs(out[i] - want) < 1e-4, "stretch 10..90: out[%d] = %g, want %g", i, (double)out[i], want);
    }
    dvren_context_destroy(ctx);
}

TEST(postprocess_closing_fills_holes)
{
    dvren_context* ctx = th_ctx();
    static float in[21 * 21], out[21 * 21];
    dvren_importance_params p = pp_none();
    int x, y;
    for (y = 0; y < 21; ++y)
        for (x = 0; x < 21; ++x) in[y * 21 + x] = (x >= 6 && x <= 14 && y >= 6 && y <= 14) ? 1.0f : 0.0f;
    in[10 * 21 + 10] = 0.0f; /* a one-pixel hole */
    p.close_size = 3;
    CHECK_OK(ctx, dvren_importance_postprocess(ctx, in, 21, 21, &p, out));
    for (y = 0; y < 21; ++y)
        for (x = 0; x < 21; ++x) {
            float want = (x >= 6 && x <= 14 && y >= 6 && y <= 14) ? 1.0f : 0.0f;
            CHECK(out[y * 21 + x] == want, "closing at (%d, %d): %g, want %g", x, y, (double)out[y * 21 + x],
                  (double)want);
        }
    dvren_context_destroy(ctx);
}

/* A delta blurred with k = 7: sigma = 0.3 (3 - 1) + 0.8 = 1.4 (OpenCV's
 * rule), so neighbours fall by exp(-d^2 / (2 sigma^2)). */
TEST(postprocess_blur_is_gaussian)
{
    dvren_context* ctx = th_ctx();
    static float in[31 * 31], out[31 * 31];
    dvren_importance_params p = pp_none();
    double s2 = 2.0 * 1.4 * 1.4;
    int d;
    in[15 * 31 + 15] = 1.0f;
    p.blur_size = 7;
    CHECK_OK(ctx, dvren_importance_postprocess(ctx, in, 31, 31, &p, out));
    CHECK(out[15 * 31 + 15] == 1.0f, "maximum %g at the centre", (double)out[15 * 31 + 15]);
    for (d = 1; d <= 3; ++d) {
        CHECK(fabs(out[15 * 31 + 15 + d] - exp(-d * d / s2)) < 1e-5, "x + %d: %g", d, (double)out[15 * 31 + 15 + d]);
        CHECK(fabs(out[(15 + d) * 31 + 15 + d] - exp(-2 * d * d / s2)) < 1e-5, "diagonal %d", d);
    }
    CHECK(out[15 * 31 + 19] == 0.0f, "beyond the kernel: %g", (double)out[15 * 31 + 19]);
    dvren_context_destroy(ctx);
}

TEST(postprocess_flat_and_errors)
{
    dvren_context* ctx = th_ctx();
    float in[12], out[12];
    dvren_importance_params p = dvren_importance_params_default();
    int i;
    for (i = 0; i < 12; ++i) in[i] = 0.25f;
    CHECK_OK(ctx, dvren_importance_postprocess(ctx, in, 4, 3, &p, out));
    for (i = 0; i < 12; ++i) CHECK(out[i] == 1.0f, "a flat map stays important: %g", (double)out[i]);
    in[6] = NAN;
    CHECK_FAILS(ctx, dvren_importance_postprocess(ctx, in, 4, 3, &p, out), DVREN_ERROR_INVALID_ARGUMENT,
                "pixel (2, 1)");
    in[6] = 0.0f;
    p.blur_size = 4;
    CHECK_FAILS(ctx, dvren_importance_postprocess(ctx, in, 4, 3, &p, out), DVREN_ERROR_INVALID_ARGUMENT, "blur_size");
    p = dvren_importance_params_default();
    p.percentile_lo = 60.0f;
    p.percentile_hi = 50.0f;
    CHECK_FAILS(ctx, dvren_importance_postprocess(ctx, in, 4, 3, &p, out), DVREN_ERROR_INVALID_ARGUMENT, "percentiles");
    dvren_context_destroy(ctx);
}

/* ---- budgets --------------------------------------------------------------- */

/* A ramp 0..1: the 20/80 quantiles are 0.2 and 0.8, and the mean weight is
 * 0.2 + 0.6 * integral_0^1 t^2.2 dt = 0.2 + 0.6 / 3.2. */
TEST(budget_from_a_ramp)
{
    dvren_context* ctx = th_ctx();
    enum { N = 1001 };
    static float imp[N], step[N];
    static uint32_t spp[N];
    dvren_budget_params p = dvren_budget_params_default();
    dvren_budget_stats st;
    double sum = 0.0;
    int i;
    for (i = 0; i < N; ++i) imp[i] = (float)i / (N - 1);
    CHECK_OK(ctx, dvren_importance_budget(ctx, imp, N, 1, N, 1, &p, spp, step, &st));
    CHECK(fabs(st.lo - 0.2) < 1e-5 && fabs(st.hi - 0.8) < 1e-5, "thresholds %g %g", (double)st.lo, (double)st.hi);
    CHECK(fabs(st.coverage - (0.2 + 0.6 / 3.2)) < 2e-3, "coverage %g", (double)st.coverage);
    CHECK(st.peak_spp == 64 && spp[N - 1] == 64 && spp[0] == 1 && spp[100] == 1, "spp %u .. %u, peak %u",
          (unsigned)spp[0], (unsigned)spp[N - 1], (unsigned)st.peak_spp);
    CHECK(step[0] == 2.0f && step[N - 1] == 1.0f, "steps %g .. %g", (double)step[0], (double)step[N - 1]);
    /* half way up the ramp: u = (0.5 - 0.2) / 0.6 = 0.5, u^2.2 */
    CHECK(spp[500] == (uint32_t)floor(1 + 63 * pow(0.5, 2.2) + 0.5), "spp at 0.5: %u", (unsigned)spp[500]);
    p.mean_spp = 8.0f;
    CHECK_OK(ctx, dvren_importance_budget(ctx, imp, N, 1, N, 1, &p, spp, step, &st));
    for (i = 0; i < N; ++i) sum += spp[i];
    CHECK(fabs(sum / N - 8.0) < 0.5, "mean spp %g, asked for 8", sum / N);
    CHECK(st.peak_spp == (uint32_t)floor(1 + 7 / st.coverage + 0.5), "peak %u", (unsigned)st.peak_spp);
    CHECK(st.rays == (uint64_t)sum, "rays %llu", (unsigned long long)st.rays);
    dvren_context_destroy(ctx);
}

TEST(budget_resample_and_errors)
{
    dvren_context* ctx = th_ctx();
    float imp[4] = {0.0f, 1.0f, 0.0f, 1.0f}; /* 2 x 2: left column 0, right 1 */
    static uint32_t spp[8 * 6];
    dvren_budget_params p = dvren_budget_params_default();
    int x, y;
    p.quantile_lo = 0.0f;
    p.quantile_hi = 1.0f;
    p.gamma = 1.0f;
    CHECK_OK(ctx, dvren_importance_budget(ctx, imp, 2, 2, 8, 6, &p, spp, NULL, NULL));
    for (y = 0; y < 6; ++y)
        for (x = 0; x < 8; ++x) {
            /* bilinear with aligned centres: source x = (x + 0.5) / 4 - 0.5, clamped */
            double sx = (x + 0.5) / 4.0 - 0.5;
            sx = sx < 0 ? 0 : (sx > 1 ? 1 : sx);
            CHECK(spp[y * 8 + x] == (uint32_t)floor(1 + 63 * sx + 0.5), "(%d, %d): %u", x, y, (unsigned)spp[y * 8 + x]);
        }
    imp[2] = 1.5f;
    CHECK_FAILS(ctx, dvren_importance_budget(ctx, imp, 2, 2, 8, 6, &p, spp, NULL, NULL), DVREN_ERROR_INVALID_ARGUMENT,
                "pixel (0, 1)");
    imp[2] = 0.0f;
    p.min_spp = 9;
    p.max_spp = 4;
    CHECK_FAILS(ctx, dvren_importance_budget(ctx, imp, 2, 2, 8, 6, &p, spp, NULL, NULL), DVREN_ERROR_INVALID_ARGUMENT,
                "min_spp");
    dvren_context_destroy(ctx);
}

/* ---- saliency stages --------------------------------------------------------- */

static int load_mock(dvren_context* ctx)
{
    char path[4096];
    const char* d = getenv("DVREN_TEST_MOCK_DIR");
    if (!d || !*d) return 0;
    snprintf(path, sizeof path, "%s/mock_saliency%s", d, DVREN__LIB_EXT);
    return th_exists(path) && dvren_plugin_load(ctx, path) == DVREN_OK;
}

static dvren_stage* mock_model(dvren_context* ctx, const char* name, const char* mode)
{
    dvren_params* p = NULL;
    if (mode) {
        dvren_params_create(ctx, &p);
        dvren_params_set_string(p, "mode", mode);
    }
    return th_stage(ctx, DVREN_PLUGIN_SALIENCY, name, p);
}

TEST(saliency_through_a_mock_model)
{
    dvren_context* ctx = th_ctx();
    float rgb[3 * 6], alpha[6], depth[6], map[6];
    dvren_saliency_input in;
    dvren_stage *model, *bad, *fail, *file;
    int i;
    if (!load_mock(ctx)) {
        dvren_context_destroy(ctx);
        SKIP("mock_saliency is not built (run through tests/run.sh)");
    }
    for (i = 0; i < 6; ++i) {
        rgb[3 * i] = 0.1f * i;
        rgb[3 * i + 1] = 0.05f * i;
        rgb[3 * i + 2] = 0.2f;
        alpha[i] = i % 2 ? 1.0f : 0.5f;
        depth[i] = 3.0f;
    }
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = 3;
    in.height = 2;
    in.rgb = rgb;
    in.alpha = alpha;
    in.depth = depth; /* not asked for: the host must not pass it */
    model = mock_model(ctx, "mock_saliency", NULL);
    CHECK(model, "%s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_saliency_compute(model, &in, map));
    for (i = 0; i < 6; ++i) {
        float y = 0.2126f * rgb[3 * i] + 0.7152f * rgb[3 * i + 1] + 0.0722f * rgb[3 * i + 2];
        CHECK(fabsf(map[i] - y * alpha[i]) < 1e-6f, "map[%d] = %g", i, (double)map[i]);
    }
    bad = mock_model(ctx, "mock_saliency", "bad");
    fail = mock_model(ctx, "mock_saliency", "fail");
    file = mock_model(ctx, "mock_saliency_file", NULL);
    CHECK(bad && fail && file, "%s", dvren_last_error(ctx));
    CHECK_FAILS(ctx, dvren_saliency_compute(bad, &in, map), DVREN_ERROR_PLUGIN, "wrote 2 at pixel (1, 0)");
    CHECK_FAILS(ctx, dvren_saliency_compute(fail, &in, map), DVREN_ERROR_IO, "cannot read model.bin");
    CHECK_FAILS(ctx, dvren_saliency_compute(file, &in, map), DVREN_ERROR_INVALID_ARGUMENT, "image_path");
    {
        static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        const char* path = th_tmp("mock_saliency.png");
        CHECK(th_write_file(path, png_magic, 8) == 0, "cannot write %s", path);
        in.image_path = path;
        CHECK_OK(ctx, dvren_saliency_compute(file, &in, map));
        CHECK(map[0] == 1.0f && map[5] == 1.0f, "the file model read %g", (double)map[0]);
    }
    in.rgb = NULL;
    CHECK_FAILS(ctx, dvren_saliency_compute(model, &in, map), DVREN_ERROR_INVALID_ARGUMENT, "rgb NULL");
    dvren_stage_destroy(model);
    dvren_stage_destroy(bad);
    dvren_stage_destroy(fail);
    dvren_stage_destroy(file);
    dvren_context_destroy(ctx);
}

/* A framebuffer's outputs reach the model where they are; a field is not a model. */
TEST(saliency_on_a_framebuffer)
{
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m, *model;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    static float map[W * H];
    size_t k;
    if (!load_mock(ctx)) {
        dvren_context_destroy(ctx);
        SKIP("mock_saliency is not built (run through tests/run.sh)");
    }
    CHECK(make_stages(ctx, &f, &s, &m), "%s", dvren_last_error(ctx));
    model = mock_model(ctx, "mock_saliency", NULL);
    CHECK(model, "%s", dvren_last_error(ctx));
    base_plan(&pd, 2);
    fb = th_render(ctx, f, s, m, &pd, 0);
    CHECK(fb, "%s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_saliency_framebuffer(model, fb, NULL, map));
    for (k = 0; k < W * H; ++k) {
        const float* rgb = th_out(fb, DVREN_OUTPUT_RGB) + 3 * k;
        float y = 0.2126f * rgb[0] + 0.7152f * rgb[1] + 0.0722f * rgb[2];
        y = y > 1.0f ? 1.0f : y;
        CHECK(fabsf(map[k] - y * th_out(fb, DVREN_OUTPUT_ALPHA)[k]) < 1e-6f, "pixel %u: %g", (unsigned)k, (double)map[k]);
    }
    CHECK_FAILS(ctx, dvren_saliency_framebuffer(f, fb, NULL, map), DVREN_ERROR_INVALID_ARGUMENT, "not a saliency model");
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(model);
    free_stages(f, s, m);
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(spp_map_matches_uniform_plans);
    RUN(step_map_scales_samples);
    RUN(variance_output);
    RUN(budget_plan_errors);
    RUN(budget_plan_is_forward_only);
    RUN(postprocess_stretch_and_gamma);
    RUN(postprocess_closing_fills_holes);
    RUN(postprocess_blur_is_gaussian);
    RUN(postprocess_flat_and_errors);
    RUN(budget_from_a_ramp);
    RUN(budget_resample_and_errors);
    RUN(saliency_through_a_mock_model);
    RUN(saliency_on_a_framebuffer);
    return th_done();
}
