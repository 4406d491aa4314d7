/* tests/test_autodiff.c - the backward pass and training on the CPU.
 *
 * Gradient checks (dvren_gradcheck: float64 analytic gradient against
 * central finite differences, and the float32 renderer against float64)
 * for every shipped differentiable plugin and its modes, on random
 * parameters, rays and cotangents drawn from a seed printed at the start
 * (DVREN_TEST_SEED=<n> repeats a run); analytic references (a constant
 * slab's d alpha / d sigma); determinism of the deterministic mode; losses,
 * total variation and optimizers against formulas written out here;
 * checkpoints; and bad input. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#include <time.h>

static uint64_t g_seed;

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
            op[2 * i + 1] = rnd_uniform(0.1, 2.0);
        }
        for (i = 0; i < 6; ++i) {
            col[4 * i] = -1.0 + 0.4 * i + rnd_uniform(0.0, 0.3);
            col[4 * i + 1] = rnd_uniform(0.0, 1.0);
            col[4 * i + 2] = rnd_uniform(0.0, 1.0);
            col[4 * i + 3] = rnd_uniform(0.0, 1.0);
        }
        dvren_params_set_numbers(p, "tf_opacity", op, 12);
        dvren_params_set_numbers(p, "tf_color", col, 24);
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

static dvren_stage* make_sampler(dvren_context* ctx, int samples, double step, int jitter, double min_t)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    if (samples) dvren_params_set_number(p, "samples", samples);
    if (step > 0) dvren_params_set_number(p, "step", step);
    dvren_params_set_bool(p, "jitter", jitter);
    dvren_params_set_number(p, "min_transmittance", min_t);
    return th_stage(ctx, DVREN_PLUGIN_SAMPLER, "uniform", p);
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
    dvren_context* ctx = th_ctx();
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
    m = make_sampler(ctx, c->samples, c->step, c->jitter, c->min_t);
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
    GC("relu+clamp", 4, {"relu", "clamp", 0, 0.0, 2.0}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("softplus+sigmoid", 4, {"softplus", "sigmoid", 0, 0.0, 1.5}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.3f);
    GC("exp+sigmoid", 4, {"exp", "sigmoid", 0, 0.0, 0.5}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
}

TEST(gradcheck_sampling_and_plans)
{
    GC("step mode, jitter, spp 3", 4, {"softplus", "sigmoid", 0, 0.0, 1.5}, 0, 0.11, 1, 0.0, 3, RGB_A_D, 0, 0, 0.2f);
    GC("early termination", 4, {"softplus", "clamp", 0, 0.0, 6.0}, 32, 0.0, 0, 0.05, 1, RGB_A_D, 0, 0, 0.0f);
    GC("transmittance output", 4, {"relu", "sigmoid", 0, 0.0, 2.0}, 20, 0.0, 0, 0.0, 1,
       DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE, 0, 0, 0.5f);
    GC("ray batch", 4, {"softplus", "sigmoid", 0, 0.0, 1.5}, 24, 0.0, 1, 0.0, 2, RGB_A_D, 1, 0, 0.0f);
    GC("deterministic", 4, {"softplus", "sigmoid", 0, 0.0, 1.5}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 1, 0.0f);
}

TEST(gradcheck_shading)
{
    GC("lambert", 4, {"softplus", "sigmoid", 1, 0.0, 1.5}, 20, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("blinn-phong", 4, {"softplus", "sigmoid", 1, 0.4, 1.5}, 20, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
}

TEST(gradcheck_transfer_function)
{
    GC("tf", 1, {NULL, NULL, 0, 0.0, 1.5}, 24, 0.0, 0, 0.0, 1, RGB_A_D, 0, 0, 0.0f);
    GC("tf shaded", 1, {NULL, NULL, 1, 0.3, 1.5}, 20, 0.0, 1, 0.0, 2, RGB_A_D, 0, 0, 0.1f);
}

int main(int argc, char** argv)
{
    const char* e = getenv("DVREN_TEST_SEED");
    th_init(argc, argv);
    g_seed = e && *e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    rnd_state = g_seed;
    printf("# test_autodiff seed %llu (DVREN_TEST_SEED=%llu repeats this run)\n", (unsigned long long)g_seed,
           (unsigned long long)g_seed);
    RUN(gradcheck_channels_activations);
    RUN(gradcheck_sampling_and_plans);
    RUN(gradcheck_shading);
    RUN(gradcheck_transfer_function);
    return th_done();
}
