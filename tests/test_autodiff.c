/* tests/test_autodiff.c - the backward pass and training on the CPU.
 *
 * Gradient checks (dvren_gradcheck: float64 analytic gradient against
 * central finite differences, and the float32 renderer against float64)
 * for every shipped differentiable plugin and its modes, on random
 * parameters, rays and cotangents drawn from a seed printed at the start
 * (DVREN_TEST_SEED=<n> repeats a run); analytic references (a constant
 * slab's d alpha / d sigma); determinism of the deterministic mode; losses,
 * total variation and optimizers against formulas written out here;
 * checkpoints; and bad input.
 *
 * DVREN_TEST_DEVICE=cuda runs every test on a CUDA context instead
 * (bench/gpu.sh does): the gradient checks then compare the GPU's float32
 * backward kernel with the CPU's float64 one and with finite differences. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "harness.h"

#include <time.h>

static uint64_t g_seed;
static int g_cuda; /* DVREN_TEST_DEVICE=cuda */

/* The context the tests run on: the CPU's, or a CUDA one when asked (no
 * silent fallback: a missing GPU is a failure then). */
static dvren_context* dev_ctx(void)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    if (!g_cuda) return th_ctx();
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    if (getenv("DVREN_TEST_LOG")) d.log = dvren_log_to_file;
    if (dvren_context_create(&d, &ctx) != DVREN_OK) {
        printf("FAIL %s/%s: DVREN_TEST_DEVICE=cuda but no CUDA context: %s\n", th_prog, th_name, dvren_last_error(NULL));
        exit(1);
    }
    return ctx;
}

/* splitmix64: the test's own random numbers (not the library's RNG) */
static uint64_t rnd_state;
static uint64_t rnd_u64(void)
{
    uint64_t z = (rnd_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rnd_uniform(double a, double b) { return a + (b - a) * (double)(rnd_u64() >> 11) * (1.0 / 9007199254740992.0); }

/* A field from an f32 array (Z, Y, X, C) over [-1, 1]^3. */
static dvren_stage* grid_field(dvren_context* ctx, const float* data, int X, int Y, int Z, int C)
{
    dvren_tensor t;
    int64_t shape[4];
    dvren_params* p = NULL;
    shape[0] = Z;
    shape[1] = Y;
    shape[2] = X;
    shape[3] = C;
    if (dvren_tensor_wrap((void*)data, DVREN_DTYPE_F32, 4, shape, NULL, &t) != DVREN_OK) return NULL;
    if (dvren_params_create(ctx, &p) != DVREN_OK) return NULL;
    dvren_params_set_tensor(p, "data", &t);
    return th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
}

typedef struct shader_opts {
    const char* activation;   /* channels mode: relu | softplus | exp; NULL: transfer function mode */
    const char* color;        /* clamp | sigmoid */
    int shading;              /* gradient shading */
    double specular;
    double sigma_scale;
    const char* opacity;      /* transfer function: "density" (NULL) or "per_step" */
    double reference_step;    /* per_step: world units; 0: each sample's own step */
} shader_opts;

static dvren_stage* make_shader(dvren_context* ctx, const shader_opts* o)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    dvren_params_set_number(p, "sigma_scale", o->sigma_scale);
    if (o->activation) {
        dvren_params_set_string(p, "mode", "channels");
        dvren_params_set_string(p, "activation", o->activation);
        dvren_params_set_string(p, "color_activation", o->color ? o->color : "clamp");
    } else {
        /* random control points over the field's value range [-1, 1] */
        double op[12], col[24];
        int i;
        for (i = 0; i < 6; ++i) {
            op[2 * i] = -1.0 + 0.4 * i + rnd_uniform(0.0, 0.3);
            /* per step, an opacity is a probability: below 1 */
            op[2 * i + 1] = o->opacity ? rnd_uniform(0.05, 0.7) : rnd_uniform(0.1, 2.0);
        }
        for (i = 0; i < 6; ++i) {
            col[4 * i] = -1.0 + 0.4 * i + rnd_uniform(0.0, 0.3);
            col[4 * i + 1] = rnd_uniform(0.0, 1.0);
            col[4 * i + 2] = rnd_uniform(0.0, 1.0);
            col[4 * i + 3] = rnd_uniform(0.0, 1.0);
        }
        dvren_params_set_numbers(p, "tf_opacity", op, 12);
        dvren_params_set_numbers(p, "tf_color", col, 24);
        if (o->opacity) {
            dvren_params_set_string(p, "opacity", o->opacity);
            dvren_params_set_number(p, "reference_step", o->reference_step);
        }
    }
    if (o->shading) {
        double L[3] = {0.3, 0.8, -0.5};
        dvren_params_set_bool(p, "shading", 1);
        dvren_params_set_numbers(p, "light_dir", L, 3);
        dvren_params_set_number(p, "specular", o->specular);
        dvren_params_set_number(p, "shininess", 7.0);
    }
    return th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
}

/* A random camera on a sphere of radius 3 looking near the origin. */
static void random_camera(dvren_camera* cam)
{
    float eye[3], target[3], up[3] = {0.0f, 1.0f, 0.0f};
    double th = rnd_uniform(0.0, 6.283185307), ph = rnd_uniform(-1.0, 1.0);
    eye[0] = (float)(3.0 * cos(ph) * cos(th));
    eye[1] = (float)(3.0 * sin(ph));
    eye[2] = (float)(3.0 * cos(ph) * sin(th));
    target[0] = (float)rnd_uniform(-0.2, 0.2);
    target[1] = (float)rnd_uniform(-0.2, 0.2);
    target[2] = (float)rnd_uniform(-0.2, 0.2);
    dvren_camera_look_at(eye, target, up, 0.55f, cam);
}

typedef struct gc_case {
    int channels;          /* 4 (density + rgb) or 1 (scalar for a transfer function) */
    shader_opts shader;
    int samples;           /* sampler: count, or 0 with step */
    double step;
    int jitter;
    double min_t;
    uint32_t spp;
    uint32_t outputs;
    int use_rays;          /* a ray-batch plan instead of a camera */
    int deterministic;
    float background;
} gc_case;

/* Builds the case on a random grid and runs dvren_gradcheck; fails the test
 * when a check fails. */
static void run_gradcheck(const char* label, const gc_case* c, int* failed)
{
    enum { X = 5, Y = 6, Z = 4, W = 7, H = 6 };
    dvren_context* ctx = dev_ctx();
    float grid[X * Y * Z * 4];
    float rays[W * H * 6];
    dvren_stage *f, *s, *m;
    dvren_scene* sc = NULL;
    dvren_plan* plan = NULL;
    dvren_scene_desc sd;
    dvren_plan_desc pd;
    dvren_tensor rt;
    dvren_gradcheck_desc gd;
    dvren_gradcheck_result r;
    dvren_status st;
    int i, C = c->channels;
    *failed = 1;
    for (i = 0; i < X * Y * Z; ++i) {
        if (C == 4) {
            /* density raw around 0 (both sides of relu's kink), colours across [0, 1] */
            grid[4 * i] = (float)rnd_uniform(-1.0, 2.5);
            grid[4 * i + 1] = (float)rnd_uniform(-0.2, 1.2);
            grid[4 * i + 2] = (float)rnd_uniform(-0.2, 1.2);
            grid[4 * i + 3] = (float)rnd_uniform(-0.2, 1.2);
        } else {
            grid[i] = (float)rnd_uniform(-1.0, 1.0);
        }
    }
    f = grid_field(ctx, grid, X, Y, Z, C);
    s = make_shader(ctx, &c->shader);
    m = th_uniform_sampler(ctx, c->jitter);
    if (!f || !s || !m) {
        printf("FAIL %s/%s: %s: stages: %s\n", th_prog, th_name, label, dvren_last_error(ctx));
        goto done;
    }
    memset(&sd, 0, sizeof sd);
    sd.field = f;
    sd.shader = s;
    sd.sampler = m;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    pd.spp = c->spp;
    pd.seed = rnd_u64();
    pd.background[0] = pd.background[1] = pd.background[2] = c->background;
    th_march(&pd, c->samples, c->step, c->min_t);
    random_camera(&pd.camera);
    if (c->use_rays) {
        int64_t shape[2] = {W * H, 6};
        for (i = 0; i < W * H; ++i) {
            double o[3], d[3], n;
            int k;
            for (k = 0; k < 3; ++k) {
                o[k] = rnd_uniform(-2.5, 2.5);
                d[k] = rnd_uniform(-0.3, 0.3) - 0.5 * o[k]; /* roughly toward the box */
            }
            n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            for (k = 0; k < 3; ++k) {
                rays[6 * i + k] = (float)o[k];
                rays[6 * i + 3 + k] = (float)(d[k] / n);
            }
        }
        dvren_tensor_wrap(rays, DVREN_DTYPE_F32, 2, shape, NULL, &rt);
        pd.rays = &rt;
        pd.camera.model = DVREN_CAMERA_NONE;
    }
    if (dvren_scene_create(ctx, &sd, &sc) != DVREN_OK || dvren_plan_create(ctx, &pd, &plan) != DVREN_OK) {
        printf("FAIL %s/%s: %s: scene/plan: %s\n", th_prog, th_name, label, dvren_last_error(ctx));
        goto done;
    }
    memset(&gd, 0, sizeof gd);
    gd.seed = rnd_u64();
    gd.elements = 24;
    gd.outputs = c->outputs;
    gd.flags = c->deterministic ? DVREN_BACKWARD_DETERMINISTIC : 0u;
    st = dvren_gradcheck(sc, plan, &gd, &r);
    if (st != DVREN_OK) {
        printf("FAIL %s/%s: %s: gradcheck: %s\n", th_prog, th_name, label, dvren_last_error(ctx));
        goto done;
    }
    printf("# %s: checked %u skipped %u fd_error %.2e (%s) f32_error %.2e |g| %.3g\n", label, r.checked, r.skipped,
           r.fd_error, r.worst, r.f32_error, r.grad_norm);
    if (!(r.grad_norm > 0.0) || r.checked < 8 || !(r.fd_error < 1e-3) || !(r.f32_error < 1e-3)) {
        printf("FAIL %s/%s: %s (seed %llu): checked %u, skipped %u, fd error %.3g at %s, float32 error %.3g, "
               "|g| %.3g\n",
               th_prog, th_name, label, (unsigned long long)g_seed, r.checked, r.skipped, r.fd_error, r.worst,
               r.f32_error, r.grad_norm);
        goto done;
    }
    *failed = 0;
done:
    fflush(stdout);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(sc);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

#define GC(label, ...)                                                                                                 \
    do {                                                                                                               \
        gc_case c_ = {__VA_ARGS__};                                                                                    \
        int f_;                                                                                                        \
        run_gradcheck(label, &c_, &f_);                                                                                \
        if (f_) {                                                                                                      \
            th_current_failed = 1;                                                                                     \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

static const uint32_t RGB_A_D = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;

TEST(gradcheck_channels_activations)
{
    /* channels, samples, step, jitter, min_t, spp, outputs, rays, det, bg */
    GC("relu+clamp", 4, {"relu", "clamp", 0, 0.0, 2.0, NULL, 0.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("softplus+sigmoid", 4, {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.3f);
    GC("exp+sigmoid", 4, {"exp", "sigmoid", 0, 0.0, 0.5, NULL, 0.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
}

TEST(gradcheck_sampling_and_plans)
{
    GC("step mode, jitter, spp 3", 4, {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0}, 0, 0.11, 1, 0.0, 3, RGB_A_D, 0, 0, 0.2f);
    GC("early termination", 4, {"softplus", "clamp", 0, 0.0, 6.0, NULL, 0.0}, 32, 0.0, 0, 0.05, 1, RGB_A_D, 0, 0, 0.0f);
    GC("transmittance output", 4, {"relu", "sigmoid", 0, 0.0, 2.0, NULL, 0.0}, 20, 0.0, 0, 0.0, 1,
       DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE, 0, 0, 0.5f);
    GC("ray batch", 4, {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0}, 24, 0.0, 1, 0.0, 2, RGB_A_D, 1, 0, 0.0f);
    GC("deterministic", 4, {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 1, 0.0f);
}

TEST(gradcheck_shading)
{
    GC("lambert", 4, {"softplus", "sigmoid", 1, 0.0, 1.5, NULL, 0.0}, 20, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("blinn-phong", 4, {"softplus", "sigmoid", 1, 0.4, 1.5, NULL, 0.0}, 20, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
}

TEST(gradcheck_transfer_function)
{
    GC("tf", 1, {NULL, NULL, 0, 0.0, 1.5, NULL, 0.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("tf shaded", 1, {NULL, NULL, 1, 0.3, 1.5, NULL, 0.0}, 20, 0.0, 1, 0.0, 2, RGB_A_D, 0, 0, 0.1f);
    /* opacity per step (density_dt, plugin ABI 1.2): per sample, and per reference step with step mode */
    GC("tf per step", 1, {NULL, NULL, 0, 0.0, 1.0, "per_step", 0.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("tf per reference step", 1, {NULL, NULL, 1, 0.2, 1.0, "per_step", 0.05}, 0, 0.13, 1, 0.0, 2, RGB_A_D, 0, 0, 0.2f);
}

/* ---- a scene, a plan and framebuffers on the test's context ------------------------ */

typedef struct fix {
    dvren_context* ctx;
    dvren_stage *f, *s, *m;
    dvren_scene* sc;
    dvren_plan* plan;
    dvren_framebuffer *fb, *g; /* forward outputs; cotangents */
} fix;

static void fix_free(fix* F)
{
    dvren_framebuffer_destroy(F->g);
    dvren_framebuffer_destroy(F->fb);
    dvren_plan_destroy(F->plan);
    dvren_scene_destroy(F->sc);
    dvren_stage_destroy(F->f);
    dvren_stage_destroy(F->s);
    dvren_stage_destroy(F->m);
    memset(F, 0, sizeof *F);
}

/* 0 on success; prints the failure otherwise. */
static int fix_make(fix* F, dvren_context* ctx, const float* grid, int X, int Y, int Z, int C, const shader_opts* so,
                    int samples, double step, int jitter, const dvren_plan_desc* pd)
{
    dvren_scene_desc sd;
    memset(F, 0, sizeof *F);
    F->ctx = ctx;
    F->f = grid_field(ctx, grid, X, Y, Z, C);
    F->s = make_shader(ctx, so);
    F->m = th_uniform_sampler(ctx, jitter);
    memset(&sd, 0, sizeof sd);
    sd.field = F->f;
    sd.shader = F->s;
    sd.sampler = F->m;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    {
        /* the march budget is the plan's */
        dvren_plan_desc p2 = *pd;
        th_march(&p2, samples, step, 0.0);
        if (F->f && F->s && F->m && dvren_scene_create(ctx, &sd, &F->sc) == DVREN_OK &&
            dvren_plan_create(ctx, &p2, &F->plan) == DVREN_OK)
            pd = dvren_plan_get_desc(F->plan);
    }
    if (!F->f || !F->s || !F->m || !F->sc || !F->plan ||
        dvren_framebuffer_create_outputs(ctx, F->plan, pd->outputs, &F->fb) != DVREN_OK ||
        dvren_framebuffer_create_outputs(ctx, F->plan, pd->outputs, &F->g) != DVREN_OK) {
        printf("FAIL %s/%s: fixture: %s\n", th_prog, th_name, dvren_last_error(ctx));
        th_current_failed = 1;
        return 1;
    }
    return 0;
}

/* Host copy of parameter i's values or gradient (n floats). */
static int read_param(dvren_scene* sc, uint32_t i, uint32_t which, float* out, int64_t n)
{
    dvren_tensor t;
    if (dvren_tensor_wrap(out, DVREN_DTYPE_F32, 1, &n, NULL, &t) != DVREN_OK) return 1;
    return dvren_scene_param_read(sc, i, which, &t) != DVREN_OK;
}

static int write_output(dvren_framebuffer* fb, uint32_t output, float* data, int64_t n)
{
    dvren_tensor t;
    if (dvren_tensor_wrap(data, DVREN_DTYPE_F32, 1, &n, NULL, &t) != DVREN_OK) return 1;
    return dvren_framebuffer_write(fb, output, &t) != DVREN_OK;
}

static void random_grid(float* g, int n, int C)
{
    int i;
    for (i = 0; i < n; ++i) {
        g[C * i] = (float)rnd_uniform(-1.0, 2.5);
        if (C == 4) {
            g[4 * i + 1] = (float)rnd_uniform(-2.0, 2.0);
            g[4 * i + 2] = (float)rnd_uniform(-2.0, 2.0);
            g[4 * i + 3] = (float)rnd_uniform(-2.0, 2.0);
        }
    }
}

/* ---- analytic reference -------------------------------------------------------------- */

/* The slab scene of the two tests below: an N^3 grid of density raw v
 * (relu, scale 1) and colour c everywhere over the cube [-1, 1]^3, seen
 * orthographically along -z by a W x H plan with rgb and alpha. Returns
 * nonzero (after reporting) when the fixture cannot be made. */
static int slab_fix(fix* F, float* grid, int N, int W, int H, double v, double c)
{
    float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    shader_opts so = {"relu", "clamp", 0, 0.0, 1.0, NULL, 0.0};
    dvren_plan_desc pd;
    int i;
    for (i = 0; i < N * N * N; ++i) {
        grid[4 * i] = (float)v;
        grid[4 * i + 1] = grid[4 * i + 2] = grid[4 * i + 3] = (float)c;
    }
    memset(&pd, 0, sizeof pd);
    pd.width = (uint32_t)W;
    pd.height = (uint32_t)H;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    dvren_camera_orthographic(eye, target, up, 1.6f, &pd.camera);
    return fix_make(F, dev_ctx(), grid, N, N, N, 4, &so, 0, 0.01, 0, &pd);
}

/* The voxel gradient sums of that slab over npix pixels of length L, with
 * cotangents dL/dred = dL/dalpha = 1 (derived in the comment below). */
static void slab_gradient_sums(int npix, double v, double c, double L, double want[4])
{
    double e = exp(-v * L);
    want[0] = npix * L * e * (1.0 + c);
    want[1] = npix * (1.0 - e);
    want[2] = want[3] = 0.0;
}

/* A constant slab: density raw v everywhere (relu, scale 1), colour c. Seen
 * orthographically along z through L = 2 world units, a pixel has
 * alpha = 1 - exp(-v L) and red = c alpha, so with cotangents
 * dL/dred = 1 and dL/dalpha = 1 per pixel the voxel gradients sum (the
 * trilinear weights of a sample sum to 1) to
 *   density: npix L exp(-v L) (1 + c),  red: npix (1 - exp(-v L)),  green, blue: 0. */
TEST(slab_gradient_is_analytic)
{
    enum { N = 4, W = 6, H = 6 };
    const double v = 0.7, c = 0.5, L = 2.0;
    float grid[N * N * N * 4], g[N * N * N * 4], cot_rgb[W * H * 3], cot_a[W * H];
    double sum[4] = {0, 0, 0, 0}, e = exp(-v * L), want[4];
    dvren_tensor a;
    fix F;
    int i, k;
    if (slab_fix(&F, grid, N, W, H, v, c)) return;
    for (i = 0; i < W * H; ++i) {
        cot_rgb[3 * i] = 1.0f;
        cot_rgb[3 * i + 1] = cot_rgb[3 * i + 2] = 0.0f;
        cot_a[i] = 1.0f;
    }
    CHECK_OK(F.ctx, dvren_render(F.sc, F.plan, F.fb, NULL));
    CHECK_OK(F.ctx, dvren_framebuffer_output(F.fb, DVREN_OUTPUT_ALPHA, &a));
    for (i = 0; i < W * H; ++i)
        CHECK(fabs(((float*)a.data)[i] - (1.0 - e)) < 1e-5, "alpha %g, want %g", ((float*)a.data)[i], 1.0 - e);
    CHECK(!write_output(F.g, DVREN_OUTPUT_RGB, cot_rgb, W * H * 3) && !write_output(F.g, DVREN_OUTPUT_ALPHA, cot_a, W * H),
          "cotangents: %s", dvren_last_error(F.ctx));
    CHECK_OK(F.ctx, dvren_render_backward(F.sc, F.plan, F.g, NULL));
    CHECK(!read_param(F.sc, 0, DVREN_PARAM_GRAD, g, N * N * N * 4), "read: %s", dvren_last_error(F.ctx));
    for (i = 0; i < N * N * N; ++i)
        for (k = 0; k < 4; ++k) sum[k] += g[4 * i + k];
    slab_gradient_sums(W * H, v, c, L, want);
    for (k = 0; k < 4; ++k)
        CHECK(fabs(sum[k] - want[k]) <= 1e-4 * fabs(want[k]) + 1e-6, "channel %d: gradient sum %.8g, analytic %.8g", k,
              sum[k], want[k]);
    {
        dvren_context* c = F.ctx;
        fix_free(&F);
        dvren_context_destroy(c);
    }
}

/* The float64 reference path (dvren_render_f64, dvren_render_backward_f64)
 * on the same slab: its alpha is 1 - exp(-v L) to float64 rounding, it agrees
 * with the float32 render, and its gradient sums are the analytic ones to
 * float64 rounding (the float32 path is held to 1e-4 above). */
TEST(float64_path_is_analytic)
{
    enum { N = 4, W = 5, H = 5 };
    const double v = (double)0.7f, c = 0.5, L = 2.0; /* the values the float32 grid holds */
    float grid[N * N * N * 4];
    double alpha[W * H], rgb[W * H * 3], cot_rgb[W * H * 3], cot_a[W * H], g[N * N * N * 4];
    double* grads[1] = {g};
    double sum[4] = {0, 0, 0, 0}, e = exp(-v * L), want[4];
    dvren_image_f64 img, cot;
    dvren_tensor a32;
    fix F;
    int i, k;
    if (slab_fix(&F, grid, N, W, H, v, c)) return;
    memset(&img, 0, sizeof img);
    img.rgb = rgb;
    img.alpha = alpha;
    CHECK_OK(F.ctx, dvren_render_f64(F.sc, F.plan, &img));
    CHECK_OK(F.ctx, dvren_render(F.sc, F.plan, F.fb, NULL));
    CHECK_OK(F.ctx, dvren_framebuffer_output(F.fb, DVREN_OUTPUT_ALPHA, &a32));
    for (i = 0; i < W * H; ++i) {
        CHECK(fabs(alpha[i] - (1.0 - e)) < 1e-12, "float64 alpha %.17g, analytic %.17g", alpha[i], 1.0 - e);
        CHECK(fabs(rgb[3 * i] - c * (1.0 - e)) < 1e-12, "float64 red %.17g, analytic %.17g", rgb[3 * i], c * (1.0 - e));
        /* float32 on the GPU rounds exp differently: within the CPU/GPU parity tolerance */
        CHECK(fabs(alpha[i] - ((float*)a32.data)[i]) < 2e-5, "float64 %.9g vs float32 %.9g", alpha[i], ((float*)a32.data)[i]);
    }
    for (i = 0; i < W * H; ++i) {
        cot_rgb[3 * i] = 1.0;
        cot_rgb[3 * i + 1] = cot_rgb[3 * i + 2] = 0.0;
        cot_a[i] = 1.0;
    }
    memset(&cot, 0, sizeof cot);
    cot.rgb = cot_rgb;
    cot.alpha = cot_a;
    memset(g, 0, sizeof g);
    CHECK_OK(F.ctx, dvren_render_backward_f64(F.sc, F.plan, &cot, grads));
    for (i = 0; i < N * N * N; ++i)
        for (k = 0; k < 4; ++k) sum[k] += g[4 * i + k];
    slab_gradient_sums(W * H, v, c, L, want);
    for (k = 0; k < 4; ++k)
        CHECK(fabs(sum[k] - want[k]) <= 1e-10 * fabs(want[k]) + 1e-12, "channel %d: float64 gradient sum %.17g, analytic %.17g",
              k, sum[k], want[k]);
    /* the scene's own (float32) gradients are not touched */
    {
        float g32[N * N * N * 4];
        CHECK(!read_param(F.sc, 0, DVREN_PARAM_GRAD, g32, N * N * N * 4), "read: %s", dvren_last_error(F.ctx));
        for (i = 0; i < N * N * N * 4; ++i) CHECK(g32[i] == 0.0f, "float32 gradient %d changed to %g", i, g32[i]);
    }
    /* errors: NULL arguments, a non-differentiable scene */
    CHECK(dvren_render_f64(F.sc, F.plan, NULL) == DVREN_ERROR_INVALID_ARGUMENT, "NULL image accepted");
    CHECK(dvren_render_backward_f64(F.sc, F.plan, &cot, NULL) == DVREN_ERROR_INVALID_ARGUMENT, "NULL grads accepted");
    {
        dvren_context* c2 = F.ctx;
        fix_free(&F);
        dvren_context_destroy(c2);
    }
}

/* ---- determinism ----------------------------------------------------------------------- */

/* The deterministic mode gives bitwise-identical gradients run after run,
 * for any CPU thread count, and with or without the forward outputs; the
 * fast mode agrees with it to float rounding. */
TEST(deterministic_mode_is_bitwise)
{
    enum { N = 10, W = 24, H = 20, NG = N * N * N * 4 };
    static float grid[NG], g[6][NG], tgt[W * H * 3];
    static const uint32_t threads[4] = {1, 2, 8, 8};
    shader_opts so = {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0};
    dvren_plan_desc pd;
    dvren_loss_desc ld;
    dvren_backward_options bo;
    dvren_tensor tt;
    int64_t tn = W * H * 3;
    double num = 0.0, den = 0.0;
    fix F;
    int i, r;
    dvren_context* ctx = dev_ctx();
    random_grid(grid, N * N * N, 4);
    for (i = 0; i < W * H * 3; ++i) tgt[i] = (float)rnd_uniform(0.0, 1.0);
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    pd.seed = rnd_u64();
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE;
    random_camera(&pd.camera);
    if (fix_make(&F, ctx, grid, N, N, N, 4, &so, 40, 0.0, 1, &pd)) return;
    dvren_tensor_wrap(tgt, DVREN_DTYPE_F32, 1, &tn, NULL, &tt);
    memset(&ld, 0, sizeof ld);
    ld.kind = DVREN_LOSS_L2;
    ld.target_rgb = &tt;
    CHECK_OK(ctx, dvren_render(F.sc, F.plan, F.fb, NULL));
    CHECK_OK(ctx, dvren_loss(ctx, &ld, F.fb, F.g, NULL));
    for (r = 0; r < 6; ++r) {
        memset(&bo, 0, sizeof bo);
        bo.flags = r < 5 ? DVREN_BACKWARD_DETERMINISTIC : 0u;
        bo.threads = r < 4 ? threads[r] : 0u;
        if (r == 4) bo.forward = F.fb;
        CHECK_OK(ctx, dvren_scene_zero_grad(F.sc));
        CHECK_OK(ctx, dvren_render_backward(F.sc, F.plan, F.g, &bo));
        CHECK(!read_param(F.sc, 0, DVREN_PARAM_GRAD, g[r], NG), "read: %s", dvren_last_error(ctx));
    }
    for (r = 1; r < 5; ++r)
        for (i = 0; i < NG; ++i)
            CHECK(memcmp(&g[r][i], &g[0][i], 4) == 0, "run %d (%s) differs at %d: %.9g vs %.9g", r,
                  r < 4 ? "threads" : "with forward outputs", i, g[r][i], g[0][i]);
    for (i = 0; i < NG; ++i) {
        num += ((double)g[5][i] - g[0][i]) * ((double)g[5][i] - g[0][i]);
        den += (double)g[0][i] * g[0][i];
    }
    printf("# |g| %.4g, fast vs deterministic: relative L2 %.2e\n", sqrt(den), sqrt(num / den));
    CHECK(den > 0.0 && sqrt(num / den) < 1e-5, "fast vs deterministic: relative L2 difference %.3g", sqrt(num / den));
    fix_free(&F);
    dvren_context_destroy(ctx);
}

/* ---- losses ---------------------------------------------------------------------------- */

static double ref_rho(int kind, double delta, double e, double* d)
{
    if (kind == DVREN_LOSS_L1) {
        *d = e > 0 ? 1.0 : (e < 0 ? -1.0 : 0.0);
        return fabs(e);
    }
    if (kind == DVREN_LOSS_HUBER) {
        if (fabs(e) < delta) {
            *d = e / delta;
            return 0.5 * e * e / delta;
        }
        *d = e > 0 ? 1.0 : -1.0;
        return fabs(e) - 0.5 * delta;
    }
    *d = 2.0 * e;
    return e * e;
}

TEST(losses_match_formulas)
{
    enum { W = 7, H = 5, NP = W * H };
    float pred[NP * 3], pa[NP], trgb[NP * 3], ta[NP];
    int64_t n3 = NP * 3, n1 = NP;
    dvren_context* ctx = dev_ctx();
    dvren_plan* plan = NULL;
    dvren_framebuffer *fb = NULL, *g = NULL;
    dvren_plan_desc pd;
    dvren_tensor t3, t1, gv;
    int kind, i;
    for (i = 0; i < NP * 3; ++i) {
        pred[i] = (float)rnd_uniform(0.0, 1.0);
        trgb[i] = (float)rnd_uniform(0.0, 1.0);
    }
    for (i = 0; i < NP; ++i) {
        pa[i] = (float)rnd_uniform(0.0, 1.0);
        ta[i] = (float)rnd_uniform(0.0, 1.0);
    }
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    dvren_camera_look_at((float[3]){0, 0, 3}, (float[3]){0, 0, 0}, (float[3]){0, 1, 0}, 0.5f, &pd.camera);
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &plan));
    CHECK_OK(ctx, dvren_framebuffer_create_outputs(ctx, plan, pd.outputs, &fb));
    CHECK_OK(ctx, dvren_framebuffer_create_outputs(ctx, plan, pd.outputs, &g));
    CHECK(!write_output(fb, DVREN_OUTPUT_RGB, pred, n3) && !write_output(fb, DVREN_OUTPUT_ALPHA, pa, n1), "write: %s",
          dvren_last_error(ctx));
    dvren_tensor_wrap(trgb, DVREN_DTYPE_F32, 1, &n3, NULL, &t3);
    dvren_tensor_wrap(ta, DVREN_DTYPE_F32, 1, &n1, NULL, &t1);
    for (kind = 0; kind < 3; ++kind) {
        dvren_loss_desc ld;
        double value = -1.0, want = 0.0, wa = 0.0, d;
        const double w = 2.0, aw = 0.5, delta = 0.3;
        memset(&ld, 0, sizeof ld);
        ld.kind = (dvren_loss_kind)kind;
        ld.huber_delta = (float)delta;
        ld.weight = (float)w;
        ld.alpha_weight = (float)aw;
        ld.target_rgb = &t3;
        ld.target_alpha = &t1;
        CHECK_OK(ctx, dvren_loss(ctx, &ld, fb, g, &value));
        CHECK_OK(ctx, dvren_framebuffer_output(g, DVREN_OUTPUT_RGB, &gv));
        for (i = 0; i < NP * 3; ++i) {
            double e = (double)pred[i] - trgb[i];
            want += ref_rho(kind, delta, e, &d);
            CHECK(fabs(((float*)gv.data)[i] - w * d / (3.0 * NP)) < 1e-7, "kind %d rgb grad %d: %.9g, want %.9g", kind, i,
                  ((float*)gv.data)[i], w * d / (3.0 * NP));
        }
        CHECK_OK(ctx, dvren_framebuffer_output(g, DVREN_OUTPUT_ALPHA, &gv));
        for (i = 0; i < NP; ++i) {
            double e = (double)pa[i] - ta[i];
            wa += ref_rho(kind, delta, e, &d);
            CHECK(fabs(((float*)gv.data)[i] - w * aw * d / NP) < 1e-7, "kind %d alpha grad %d: %.9g, want %.9g", kind,
                  i, ((float*)gv.data)[i], w * aw * d / NP);
        }
        want = w * (want / (3.0 * NP) + aw * wa / NP);
        CHECK(fabs(value - want) <= 1e-6 * want, "kind %d: loss %.9g, formula %.9g", kind, value, want);
    }
    dvren_framebuffer_destroy(fb);
    dvren_framebuffer_destroy(g);
    dvren_plan_destroy(plan);
    dvren_context_destroy(ctx);
}

/* ---- total variation ------------------------------------------------------------------- */

/* The test's own TV (Plenoxels eq. 3 as documented), in float64. */
static double ref_tv(const double* x, int X, int Y, int Z, int C, int c0, int c1, int squared, double weight)
{
    double s = 0.0;
    int i, j, k, c;
    for (k = 0; k < Z; ++k)
        for (j = 0; j < Y; ++j)
            for (i = 0; i < X; ++i)
                for (c = c0; c < c1; ++c) {
#define AT(ii, jj, kk) x[(((kk) * Y + (jj)) * X + (ii)) * C + c]
                    double v = AT(i, j, k);
                    double dx = i + 1 < X ? AT(i + 1, j, k) - v : 0.0;
                    double dy = j + 1 < Y ? AT(i, j + 1, k) - v : 0.0;
                    double dz = k + 1 < Z ? AT(i, j, k + 1) - v : 0.0;
#undef AT
                    double q = dx * dx + dy * dy + dz * dz;
                    s += squared ? q : sqrt(q + 1e-8);
                }
    return weight * s / ((double)X * Y * Z * (c1 - c0));
}

TEST(tv_matches_finite_differences)
{
    enum { X = 5, Y = 4, Z = 3, C = 4, NG = X * Y * Z * C };
    float grid[NG], g[NG];
    double xd[NG];
    shader_opts so = {"relu", "clamp", 0, 0.0, 1.0, NULL, 0.0};
    dvren_plan_desc pd;
    fix F;
    int sq, i;
    dvren_context* ctx = dev_ctx();
    random_grid(grid, X * Y * Z, C);
    for (i = 0; i < NG; ++i) xd[i] = grid[i];
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 2;
    random_camera(&pd.camera);
    if (fix_make(&F, ctx, grid, X, Y, Z, C, &so, 8, 0.0, 0, &pd)) return;
    for (sq = 0; sq < 2; ++sq) {
        double value = 0.0, want = ref_tv(xd, X, Y, Z, C, 1, 3, sq, 0.7), gmax = 0.0;
        CHECK_OK(ctx, dvren_scene_zero_grad(F.sc));
        CHECK_OK(ctx, dvren_tv_regularize(F.sc, &(dvren_tv_desc){0, 0.7f, 1, 3, sq ? DVREN_TV_SQUARED : 0u}, &value));
        CHECK(fabs(value - want) <= 1e-5 * want, "squared %d: TV %.9g, formula %.9g", sq, value, want);
        CHECK(!read_param(F.sc, 0, DVREN_PARAM_GRAD, g, NG), "read: %s", dvren_last_error(ctx));
        for (i = 0; i < NG; ++i) gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
        CHECK(gmax > 0.0, "no gradient");
        for (i = 0; i < NG; ++i) {
            const double h = 1e-6;
            double x0 = xd[i], fd;
            int c = i % C;
            xd[i] = x0 + h;
            fd = ref_tv(xd, X, Y, Z, C, 1, 3, sq, 0.7);
            xd[i] = x0 - h;
            fd = (fd - ref_tv(xd, X, Y, Z, C, 1, 3, sq, 0.7)) / (2.0 * h);
            xd[i] = x0;
            if (c < 1 || c >= 3) {
                CHECK(g[i] == 0.0f, "channel %d outside [1, 3) got a gradient %g", c, g[i]);
                continue;
            }
            CHECK(fabs(g[i] - fd) <= 1e-4 * gmax, "squared %d: element %d: gradient %.8g, finite differences %.8g", sq,
                  i, g[i], fd);
        }
    }
    fix_free(&F);
    dvren_context_destroy(ctx);
}

/* ---- optimizers ------------------------------------------------------------------------ */

/* Adam and SGD with momentum, weight decay and exponential learning-rate
 * decay against torch.optim's update rules written out here in float64;
 * the gradient is the TV gradient at each step. */
TEST(optimizers_match_reference)
{
    enum { X = 4, Y = 3, Z = 3, C = 4, NG = X * Y * Z * C };
    float grid[NG], x[NG], g[NG];
    double xr[NG], m[NG], v[NG];
    shader_opts so = {"relu", "clamp", 0, 0.0, 1.0, NULL, 0.0};
    dvren_plan_desc pd;
    int kind, step, i;
    dvren_context* ctx = dev_ctx();
    random_grid(grid, X * Y * Z, C);
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 2;
    random_camera(&pd.camera);
    for (kind = 0; kind < 2; ++kind) {
        fix F;
        dvren_optimizer* opt = NULL;
        dvren_optimizer_desc od = dvren_optimizer_defaults(kind ? DVREN_OPTIMIZER_SGD : DVREN_OPTIMIZER_ADAM);
        od.lr = kind ? 0.3f : 0.05f;
        od.weight_decay = 0.01f;
        od.lr_decay = 0.5f;
        od.decay_steps = 2;
        if (fix_make(&F, ctx, grid, X, Y, Z, C, &so, 8, 0.0, 0, &pd)) return;
        CHECK_OK(ctx, dvren_optimizer_create(F.sc, &od, &opt));
        for (i = 0; i < NG; ++i) {
            xr[i] = grid[i];
            m[i] = v[i] = 0.0;
        }
        for (step = 1; step <= 5; ++step) {
            double lr = od.lr * pow(0.5, (step - 1) / 2.0);
            CHECK_OK(ctx, dvren_scene_zero_grad(F.sc));
            CHECK_OK(ctx, dvren_tv_regularize(F.sc, &(dvren_tv_desc){0, 3.0f, 0, 0, 0u}, NULL));
            CHECK(!read_param(F.sc, 0, DVREN_PARAM_GRAD, g, NG), "read: %s", dvren_last_error(ctx));
            CHECK_OK(ctx, dvren_optimizer_step(opt));
            CHECK(!read_param(F.sc, 0, DVREN_PARAM_VALUE, x, NG), "read: %s", dvren_last_error(ctx));
            for (i = 0; i < NG; ++i) {
                double gi = (double)g[i] + 0.01 * xr[i];
                if (kind == 0) {
                    m[i] = 0.9 * m[i] + 0.1 * gi;
                    v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                    xr[i] -= lr / (1.0 - pow(0.9, step)) * m[i] / (sqrt(v[i]) / sqrt(1.0 - pow(0.999, step)) + 1e-8);
                } else {
                    m[i] = 0.9 * m[i] + gi;
                    xr[i] -= lr * m[i];
                }
                CHECK(fabs(x[i] - xr[i]) <= 2e-5 * (1.0 + fabs(xr[i])), "%s step %d element %d: %.8g, reference %.8g",
                      kind ? "SGD" : "Adam", step, i, x[i], xr[i]);
                /* the reference follows the optimizer's float32 state */
                xr[i] = x[i];
            }
        }
        CHECK(dvren_optimizer_steps(opt) == 5, "steps %llu", (unsigned long long)dvren_optimizer_steps(opt));
        dvren_optimizer_destroy(opt);
        fix_free(&F);
    }
    dvren_context_destroy(ctx);
}

/* ---- checkpoints ----------------------------------------------------------------------- */

typedef struct fit_run {
    fix F;
    dvren_optimizer* opt;
    dvren_tensor target;
} fit_run;

static int fit_steps(fit_run* R, int n)
{
    dvren_loss_desc ld;
    dvren_backward_options bo;
    int i;
    memset(&ld, 0, sizeof ld);
    ld.kind = DVREN_LOSS_HUBER;
    ld.huber_delta = 0.1f;
    ld.target_rgb = &R->target;
    memset(&bo, 0, sizeof bo);
    bo.flags = DVREN_BACKWARD_DETERMINISTIC;
    for (i = 0; i < n; ++i)
        if (dvren_scene_zero_grad(R->F.sc) != DVREN_OK || dvren_render(R->F.sc, R->F.plan, R->F.fb, NULL) != DVREN_OK ||
            dvren_loss(R->F.ctx, &ld, R->F.fb, R->F.g, NULL) != DVREN_OK ||
            dvren_render_backward(R->F.sc, R->F.plan, R->F.g, &bo) != DVREN_OK ||
            dvren_tv_regularize(R->F.sc, &(dvren_tv_desc){0, 0.01f, 0, 0, 0u}, NULL) != DVREN_OK || dvren_optimizer_step(R->opt) != DVREN_OK)
            return 1;
    return 0;
}

/* Save after 3 steps, 3 more steps; a fresh context that loads the file
 * and takes the same 3 steps ends bitwise where the first did. Damaged,
 * truncated, missing and mismatched files are errors that say so. */
TEST(checkpoint_resumes_exactly)
{
    enum { N = 6, W = 10, H = 8, NG = N * N * N * 4 };
    static float grid[NG], tgt[W * H * 3], a[NG], b[NG];
    shader_opts so = {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0};
    dvren_optimizer_desc od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    dvren_plan_desc pd;
    int64_t tn = W * H * 3;
    char user[16] = "", path[4096], bad[4096];
    size_t user_size = 0;
    fit_run R1, R2;
    dvren_status st;
    unsigned char* bytes;
    long size;
    FILE* f;
    int i;
    random_grid(grid, N * N * N, 4);
    for (i = 0; i < W * H * 3; ++i) tgt[i] = (float)rnd_uniform(0.0, 1.0);
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    pd.seed = rnd_u64();
    random_camera(&pd.camera);
    od.lr = 0.05f;
    od.lr_decay = 0.8f;
    snprintf(path, sizeof path, "%s", th_tmp("fit.ckpt"));
    snprintf(bad, sizeof bad, "%s", th_tmp("bad.ckpt"));
    memset(&R1, 0, sizeof R1);
    memset(&R2, 0, sizeof R2);
    if (fix_make(&R1.F, dev_ctx(), grid, N, N, N, 4, &so, 16, 0.0, 1, &pd)) return;
    dvren_tensor_wrap(tgt, DVREN_DTYPE_F32, 1, &tn, NULL, &R1.target);
    R2.target = R1.target;
    CHECK_OK(R1.F.ctx, dvren_optimizer_create(R1.F.sc, &od, &R1.opt));
    CHECK(!fit_steps(&R1, 3), "steps: %s", dvren_last_error(R1.F.ctx));
    CHECK_OK(R1.F.ctx, dvren_checkpoint_save(R1.F.sc, R1.opt, path, "epoch-3", 8));
    CHECK(!fit_steps(&R1, 3), "steps: %s", dvren_last_error(R1.F.ctx));
    CHECK(!read_param(R1.F.sc, 0, DVREN_PARAM_VALUE, a, NG), "read");

    if (fix_make(&R2.F, dev_ctx(), grid, N, N, N, 4, &so, 16, 0.0, 1, &pd)) return;
    CHECK_OK(R2.F.ctx, dvren_optimizer_create(R2.F.sc, &od, &R2.opt));
    CHECK_OK(R2.F.ctx, dvren_checkpoint_load(R2.F.sc, R2.opt, path, user, sizeof user, &user_size));
    CHECK(user_size == 8 && !strcmp(user, "epoch-3"), "user blob '%s' (%zu bytes)", user, user_size);
    CHECK(dvren_optimizer_steps(R2.opt) == 3, "steps %llu after load", (unsigned long long)dvren_optimizer_steps(R2.opt));
    CHECK(!fit_steps(&R2, 3), "steps: %s", dvren_last_error(R2.F.ctx));
    CHECK(!read_param(R2.F.sc, 0, DVREN_PARAM_VALUE, b, NG), "read");
    for (i = 0; i < NG; ++i) CHECK(memcmp(&a[i], &b[i], 4) == 0, "resumed fit differs at %d: %.9g vs %.9g", i, a[i], b[i]);

    /* damaged copies of the file */
    bytes = th_read_file(path, &size);
    CHECK(bytes, "cannot read %s", path);
    bytes[size / 2] ^= 0x40u; /* one flipped bit in the data */
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
    st = dvren_checkpoint_load(R2.F.sc, R2.opt, bad, NULL, 0, NULL);
    CHECK(st == DVREN_ERROR_FORMAT && strstr(dvren_last_error(R2.F.ctx), "CRC"), "flipped bit: %s: %s",
          dvren_status_string(st), dvren_last_error(R2.F.ctx));
    bytes[size / 2] ^= 0x40u;
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)size / 3, f);
    fclose(f);
    st = dvren_checkpoint_load(R2.F.sc, R2.opt, bad, NULL, 0, NULL);
    CHECK(st == DVREN_ERROR_FORMAT && strstr(dvren_last_error(R2.F.ctx), "bad.ckpt"), "truncated: %s: %s",
          dvren_status_string(st), dvren_last_error(R2.F.ctx));
    memcpy(bytes, "NOTACKPT", 8);
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)size, f);
    fclose(f);
    free(bytes);
    st = dvren_checkpoint_load(R2.F.sc, R2.opt, bad, NULL, 0, NULL);
    CHECK(st == DVREN_ERROR_FORMAT, "bad magic: %s: %s", dvren_status_string(st), dvren_last_error(R2.F.ctx));
    st = dvren_checkpoint_load(R2.F.sc, R2.opt, th_tmp("no_such.ckpt"), NULL, 0, NULL);
    CHECK(st == DVREN_ERROR_IO && strstr(dvren_last_error(R2.F.ctx), "no_such.ckpt"), "missing: %s: %s",
          dvren_status_string(st), dvren_last_error(R2.F.ctx));
    {
        /* a scene whose grid has another shape */
        fix G;
        static float g2[5 * 5 * 5 * 4];
        random_grid(g2, 125, 4);
        if (fix_make(&G, R2.F.ctx, g2, 5, 5, 5, 4, &so, 16, 0.0, 1, &pd)) return;
        st = dvren_checkpoint_load(G.sc, NULL, path, NULL, 0, NULL);
        CHECK(st == DVREN_ERROR_FORMAT && strstr(dvren_last_error(G.ctx), "field.voxels"), "other shape: %s: %s",
              dvren_status_string(st), dvren_last_error(G.ctx));
        G.ctx = NULL;
        fix_free(&G);
    }
    dvren_optimizer_destroy(R1.opt);
    dvren_optimizer_destroy(R2.opt);
    {
        dvren_context *c1 = R1.F.ctx, *c2 = R2.F.ctx;
        fix_free(&R1.F);
        fix_free(&R2.F);
        dvren_context_destroy(c1);
        dvren_context_destroy(c2);
    }
}

/* A crafted file with a valid CRC: optimizer numbers that a cast would
 * turn into undefined behaviour (-1 or 1e300 into an integer, NaN into a
 * learning-rate scale) are FORMAT errors that name the setting, and the
 * optimizer is left as it was. */
TEST(checkpoint_crafted_optimizer_entry)
{
    enum { N = 4, W = 6, H = 5, NG = N * N * N * 4 };
    static float grid[NG];
    shader_opts so = {"softplus", "sigmoid", 0, 0.0, 1.5, NULL, 0.0};
    dvren_optimizer_desc od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    dvren_optimizer* opt = NULL;
    dvren_plan_desc pd;
    char path[4096], bad[4096];
    static const struct { int slot; double value; const char* says; } cases[] = {
        {0, -1.0, "kind"},       {0, 1e300, "kind"},          {8, -1.0, "decay_steps"}, {8, 1e300, "decay_steps"},
        {8, 2.5, "decay_steps"}, {9, -5.0, "step count"},     {9, 1e300, "step count"}, {1, 1e300, "setting 1"},
        {1, -0.5, "invalid"},    {10, 0.0 / 0.0, "lr scale"}, {10, -1.0, "lr scale"},
    };
    unsigned char* bytes;
    long size;
    size_t at = 0, c;
    FILE* f;
    fix F;
    random_grid(grid, N * N * N, 4);
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    random_camera(&pd.camera);
    snprintf(path, sizeof path, "%s", th_tmp("crafted_ok.ckpt"));
    snprintf(bad, sizeof bad, "%s", th_tmp("crafted.ckpt"));
    if (fix_make(&F, dev_ctx(), grid, N, N, N, 4, &so, 16, 0.0, 1, &pd)) return;
    CHECK_OK(F.ctx, dvren_optimizer_create(F.sc, &od, &opt));
    CHECK_OK(F.ctx, dvren_optimizer_step(opt));
    CHECK_OK(F.ctx, dvren_checkpoint_save(F.sc, opt, path, NULL, 0));
    bytes = th_read_file(path, &size);
    CHECK(bytes, "cannot read %s", path);
    /* the entry: u32 name length 9, "optimizer", u32 dtype, u32 ndim 1, u64 shape, u64 bytes, doubles */
    for (c = 16; c + 13 < (size_t)size; ++c)
        if (!memcmp(bytes + c, "\x09\x00\x00\x00optimizer", 13)) at = c + 13 + 4 + 4 + 8 + 8;
    CHECK(at && at + 11 * 8 <= (size_t)size - 4, "no optimizer entry in the saved file");
    for (c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        double keep;
        uint32_t crc;
        dvren_status st;
        memcpy(&keep, bytes + at + 8 * (size_t)cases[c].slot, 8);
        memcpy(bytes + at + 8 * (size_t)cases[c].slot, &cases[c].value, 8);
        crc = th_crc32(bytes, (size_t)size - 4);
        memcpy(bytes + size - 4, &crc, 4); /* little-endian host */
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        st = dvren_checkpoint_load(F.sc, opt, bad, NULL, 0, NULL);
        CHECK(st == DVREN_ERROR_FORMAT && strstr(dvren_last_error(F.ctx), cases[c].says) &&
                  strstr(dvren_last_error(F.ctx), "crafted.ckpt"),
              "slot %d = %g: %s: %s", cases[c].slot, cases[c].value, dvren_status_string(st), dvren_last_error(F.ctx));
        CHECK(dvren_optimizer_steps(opt) == 1, "a refused file changed the optimizer (steps %llu)",
              (unsigned long long)dvren_optimizer_steps(opt));
        memcpy(bytes + at + 8 * (size_t)cases[c].slot, &keep, 8);
    }
    free(bytes);
    dvren_optimizer_destroy(opt);
    {
        dvren_context* cx = F.ctx;
        fix_free(&F);
        dvren_context_destroy(cx);
    }
}

/* ---- bad input ------------------------------------------------------------------------- */

static const char* mock_lib(const char* name)
{
    static char buf[4096];
    const char* d = getenv("DVREN_TEST_MOCK_DIR");
    snprintf(buf, sizeof buf, "%s/%s.so", d ? d : "build/tests/mock", name);
    return buf;
}

TEST(bad_input)
{
    enum { N = 4, W = 6, H = 5, NG = N * N * N * 4 };
    static float grid[NG], nan_cot[W * H * 3];
    shader_opts so = {"relu", "clamp", 0, 0.0, 1.0, NULL, 0.0};
    dvren_plan_desc pd, pd2;
    dvren_backward_options bo;
    dvren_plan* p2 = NULL;
    dvren_framebuffer* g2 = NULL;
    dvren_scene* plain = NULL;
    dvren_scene_desc sd;
    dvren_optimizer* opt = NULL;
    dvren_optimizer_desc od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    dvren_status st;
    fix F;
    int i;
    dvren_context* ctx = dev_ctx();
    random_grid(grid, N * N * N, 4);
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    random_camera(&pd.camera);
    if (fix_make(&F, ctx, grid, N, N, N, 4, &so, 8, 0.0, 0, &pd)) return;

    /* backward of a scene created without DIFFERENTIABLE */
    memset(&sd, 0, sizeof sd);
    sd.field = F.f;
    sd.shader = F.s;
    sd.sampler = F.m;
    CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &plain));
    st = dvren_render_backward(plain, F.plan, F.g, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "DIFFERENTIABLE"), "%s: %s",
          dvren_status_string(st), dvren_last_error(ctx));
    st = dvren_optimizer_create(plain, &od, &opt);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && !opt, "optimizer on a plain scene: %s", dvren_status_string(st));
    CHECK(dvren_scene_param_count(plain) == 0, "a plain scene has parameters");
    dvren_scene_destroy(plain);

    /* cotangents of another size, forward outputs of another size */
    pd2 = pd;
    pd2.width = W + 1;
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd2, &p2));
    CHECK_OK(ctx, dvren_framebuffer_create_outputs(ctx, p2, DVREN_OUTPUT_RGB, &g2));
    st = dvren_render_backward(F.sc, F.plan, g2, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "7 x 5"), "%s: %s", dvren_status_string(st),
          dvren_last_error(ctx));
    memset(&bo, 0, sizeof bo);
    bo.forward = g2;
    st = dvren_render_backward(F.sc, F.plan, F.g, &bo);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "forward"), "%s: %s",
          dvren_status_string(st), dvren_last_error(ctx));

    /* a non-finite cotangent in the deterministic mode */
    for (i = 0; i < W * H * 3; ++i) nan_cot[i] = 0.1f;
    nan_cot[7] = NAN;
    CHECK(!write_output(F.g, DVREN_OUTPUT_RGB, nan_cot, W * H * 3), "write");
    bo.forward = NULL;
    bo.flags = DVREN_BACKWARD_DETERMINISTIC;
    st = dvren_render_backward(F.sc, F.plan, F.g, &bo);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "finite"), "%s: %s",
          dvren_status_string(st), dvren_last_error(ctx));
    bo.flags = 0x80u;
    st = dvren_render_backward(F.sc, F.plan, F.g, &bo);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT, "unknown flag: %s", dvren_status_string(st));

    /* a loss target of the wrong size; TV over a channel range the grid lacks */
    {
        dvren_loss_desc ld;
        dvren_tensor t;
        int64_t n = W * H * 3 - 3;
        memset(&ld, 0, sizeof ld);
        dvren_tensor_wrap(nan_cot, DVREN_DTYPE_F32, 1, &n, NULL, &t);
        ld.target_rgb = &t;
        st = dvren_loss(ctx, &ld, F.fb, F.g, NULL);
        CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "target_rgb"), "%s: %s",
              dvren_status_string(st), dvren_last_error(ctx));
    }
    st = dvren_tv_regularize(F.sc, &(dvren_tv_desc){0, 1.0f, 2, 5, 0u}, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT, "TV channels [2, 5) of 4: %s", dvren_status_string(st));
    st = dvren_tv_regularize(F.sc, &(dvren_tv_desc){3, 1.0f, 0, 0, 0u}, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT, "TV of parameter 3: %s", dvren_status_string(st));
    od.lr = -1.0f;
    st = dvren_optimizer_create(F.sc, &od, &opt);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "lr"), "negative lr: %s",
          dvren_status_string(st));

    /* a field without a backward cannot be part of a DIFFERENTIABLE scene */
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_lib("mock_good")));
    {
        dvren_stage* mf = th_stage(ctx, DVREN_PLUGIN_FIELD, "mock_const", NULL);
        dvren_scene* sc = NULL;
        CHECK(mf, "mock_const: %s", dvren_last_error(ctx));
        sd.field = mf;
        sd.flags = DVREN_SCENE_DIFFERENTIABLE;
        st = dvren_scene_create(ctx, &sd, &sc);
        CHECK(st == DVREN_ERROR_UNSUPPORTED && !sc && strstr(dvren_last_error(ctx), "mock_const") &&
                  strstr(dvren_last_error(ctx), "eval_bwd"),
              "%s: %s", dvren_status_string(st), dvren_last_error(ctx));
        dvren_stage_destroy(mf);
    }
    dvren_framebuffer_destroy(g2);
    dvren_plan_destroy(p2);
    fix_free(&F);
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    const char* e = getenv("DVREN_TEST_SEED");
    th_init(argc, argv);
    const char* dev = getenv("DVREN_TEST_DEVICE");
    g_cuda = dev && !strcmp(dev, "cuda");
    g_seed = e && *e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    rnd_state = g_seed;
    printf("# test_autodiff seed %llu (DVREN_TEST_SEED=%llu repeats this run)\n", (unsigned long long)g_seed,
           (unsigned long long)g_seed);
    RUN(gradcheck_channels_activations);
    RUN(gradcheck_sampling_and_plans);
    RUN(gradcheck_shading);
    RUN(gradcheck_transfer_function);
    RUN(slab_gradient_is_analytic);
    RUN(float64_path_is_analytic);
    RUN(deterministic_mode_is_bitwise);
    RUN(losses_match_formulas);
    RUN(tv_matches_finite_differences);
    RUN(optimizers_match_reference);
    RUN(checkpoint_resumes_exactly);
    RUN(checkpoint_crafted_optimizer_entry);
    RUN(bad_input);
    return th_done();
}
