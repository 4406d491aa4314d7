/* examples/fit_volume.c - fit a dense grid to multi-view images (also built
 * as the tool build/dvren_fit).
 *
 * Ground truth: the CT head of ../shared/data rendered by dvren with a fixed
 * transfer function and a fixed light (Lambert, no specular: the shading
 * does not depend on the view, so an emission-absorption grid can hold it)
 * from --views cameras on a sphere (a Fibonacci lattice) and --heldout
 * others between them. The fit sees only those images and their rays: it
 * starts from a constant, nearly empty 4-channel grid over the volume's box
 * (density raw -> softplus, colour raw -> sigmoid) and trains it with Adam on
 * random batches of rays (L2 loss, total variation on the density, learning
 * rate decaying exponentially), replaying the march for the gradient.
 * Every --eval-every steps it renders the held-out views and prints
 *   [fit] step 400  loss 1.2e-03  held-out PSNR 31.42 dB  1.9 M rays/s
 * and appends the same to a CSV; at the end it writes a PNG with ground
 * truth (top) over the fit (bottom) for four held-out views.
 *
 *   build/fit_volume [--device cpu|cuda] [--size 64] [--views 64] [--heldout 8]
 *                    [--steps 3000] [--batch 8192] [--lr 0.3] [--tv 1e-4]
 *                    [--target 35] [--until-target] [--eval-every 100] [--seed 1]
 *                    [--csv out/fit_curve.csv] [--png out/fit_side_by_side.png]
 *                    [--downsample 1] [--model-scale 1] [--volume PATH]
 * --downsample f renders the ground truth from the volume averaged over
 * f^3 blocks (same box), for quick runs such as the CI test; --model-scale s
 * gives the model s times the ground truth's voxels per axis.
 *
 * Exit status: 0 when the last held-out PSNR reaches --target, 2 when it
 * does not, 1 on an error. Rays are generated here (a pinhole model written
 * out below) and rendered as ray-batch plans, for the ground truth as for
 * the fit, so both see exactly the same rays. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include <stb/stb_image_write.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        if ((call) != DVREN_OK) {                                                                                      \
            fprintf(stderr, "fit_volume: %s\n", dvren_last_error(ctx));                                                \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

typedef struct opts {
    const char* device;
    int size, views, heldout, steps, batch, eval_every, until_target, downsample, model_scale;
    double lr, tv, target;
    unsigned long long seed;
    const char *csv, *png, *volume;
} opts;

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Camera k of n on a Fibonacci sphere of radius r (phase shifts the
 * lattice: the held-out views sit between the training views). */
static void sphere_eye(int k, int n, double phase, double r, double eye[3])
{
    double z = 1.0 - 2.0 * (k + 0.5) / n, rho = sqrt(1.0 - z * z);
    double a = 2.399963229728653 * k + phase; /* golden angle */
    eye[0] = r * rho * cos(a);
    eye[1] = r * rho * sin(a);
    eye[2] = r * z;
}

/* The size x size rays (origin, unit direction) of a pinhole camera at eye
 * looking at the origin, vertical field of view fov (radians), through the
 * pixel centres, row by row from the top. */
static void pinhole_rays(const double eye[3], double fov, int size, float* rays)
{
    double f[3], r[3], u[3], up[3] = {0.0, 0.0, -1.0}, n, t = tan(0.5 * fov);
    int i, j, k;
    for (k = 0; k < 3; ++k) f[k] = -eye[k];
    n = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (k = 0; k < 3; ++k) f[k] /= n;
    if (fabs(f[2]) > 0.95) { /* looking along the up axis: take another up */
        up[1] = 1.0;
        up[2] = 0.0;
    }
    r[0] = f[1] * up[2] - f[2] * up[1];
    r[1] = f[2] * up[0] - f[0] * up[2];
    r[2] = f[0] * up[1] - f[1] * up[0];
    n = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    for (k = 0; k < 3; ++k) r[k] /= n;
    u[0] = r[1] * f[2] - r[2] * f[1];
    u[1] = r[2] * f[0] - r[0] * f[2];
    u[2] = r[0] * f[1] - r[1] * f[0];
    for (j = 0; j < size; ++j)
        for (i = 0; i < size; ++i) {
            double x = (2.0 * (i + 0.5) / size - 1.0) * t, y = (1.0 - 2.0 * (j + 0.5) / size) * t, d[3];
            float* o = rays + 6 * ((size_t)j * size + i);
            for (k = 0; k < 3; ++k) d[k] = f[k] + x * r[k] + y * u[k];
            n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            for (k = 0; k < 3; ++k) {
                o[k] = (float)eye[k];
                o[3 + k] = (float)(d[k] / n);
            }
        }
}

static double psnr_of(double mse) { return mse > 0.0 ? -10.0 * log10(mse) : 99.0; }

static int parse(int argc, char** argv, opts* o)
{
    int i;
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
#define NUM(name, field, conv)                                                                                         \
    if (!strcmp(a, name)) {                                                                                            \
        if (!v) break;                                                                                                 \
        o->field = conv;                                                                                               \
        ++i;                                                                                                           \
        continue;                                                                                                      \
    }
        NUM("--device", device, v)
        NUM("--volume", volume, v)
        NUM("--size", size, atoi(v))
        NUM("--views", views, atoi(v))
        NUM("--heldout", heldout, atoi(v))
        NUM("--steps", steps, atoi(v))
        NUM("--batch", batch, atoi(v))
        NUM("--eval-every", eval_every, atoi(v))
        NUM("--lr", lr, atof(v))
        NUM("--tv", tv, atof(v))
        NUM("--target", target, atof(v))
        NUM("--seed", seed, strtoull(v, NULL, 10))
        NUM("--downsample", downsample, atoi(v))
        NUM("--model-scale", model_scale, atoi(v))
        NUM("--csv", csv, v)
        NUM("--png", png, v)
#undef NUM
        if (!strcmp(a, "--until-target")) {
            o->until_target = 1;
            continue;
        }
        fprintf(stderr, "fit_volume: unknown or incomplete option '%s' (see the top of examples/fit_volume.c)\n", a);
        return 1;
    }
    if (i < argc) {
        fprintf(stderr, "fit_volume: option '%s' needs a value\n", argv[i]);
        return 1;
    }
    if (o->batch > 8192) o->batch -= o->batch % 8192; /* whole rows of the batch plan */
    if (o->size < 8 || o->size > 4096 || o->views < 1 || o->heldout < 1 || o->steps < 1 || o->batch < 1 ||
        o->eval_every < 1 || !(o->lr > 0.0) || !(o->tv >= 0.0) || o->downsample < 1 || o->downsample > 8 ||
        o->model_scale < 1 || o->model_scale > 4) {
        fprintf(stderr, "fit_volume: --size 8..4096, --views, --heldout, --steps, --batch, --eval-every >= 1, "
                        "--lr > 0, --tv >= 0, --downsample 1..8, --model-scale 1..4\n");
        return 1;
    }
    if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) {
        fprintf(stderr, "fit_volume: --device must be cpu or cuda, not '%s'\n", o->device);
        return 1;
    }
    return 0;
}

int main(int argc, char** argv)
{
    /* opacity rises monotonically from faint skin to opaque bone (a
     * transfer function with a skin shell, opacity up then down again
     * within one voxel's range of values, is a harder target for a grid
     * whose density is softplus of interpolated values) */
    static const double tf_opacity[] = {0, 0, 400, 0, 900, 0.03, 1300, 0.3, 2000, 0.8, 4000, 0.8};
    static const double tf_color[] = {400, 0.85, 0.55, 0.45, 1000, 0.95, 0.75, 0.65, 1500, 1, 0.95, 0.85};
    static const double light[3] = {0.5, -1.0, -0.6};
    const double fov = 0.75, radius = 3.0;
    opts o = {"cpu", 64, 64, 8, 3000, 8192, 100, 0, 1, 1, 0.3, 1e-4, 35.0, 1, "out/fit_curve.csv", "out/fit_side_by_side.png",
              NULL};
    const char* data = getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "../shared/data";
    char vol[1024];
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_params *fp = NULL, *sp = NULL, *mp = NULL, *gp = NULL, *np = NULL;
    dvren_stage *gt_field = NULL, *gt_shader = NULL, *sampler = NULL, *m_field = NULL, *m_shader = NULL;
    dvren_scene *gt = NULL, *model = NULL;
    dvren_scene_desc sd;
    dvren_plan_desc pd;
    dvren_plan *view_plan = NULL, *batch_plan = NULL;
    dvren_framebuffer *view_fb = NULL, *batch_fb = NULL, *batch_g = NULL;
    dvren_optimizer* opt = NULL;
    dvren_optimizer_desc od;
    dvren_loss_desc ld;
    dvren_backward_options bo;
    dvren_instance_info info;
    dvren_tensor view_rays_t, batch_rays_t, batch_tgt_t, rgb;
    float *train_rays = NULL, *train_rgb = NULL, *held_rays = NULL, *held_rgb = NULL, *view_rays = NULL;
    float *batch_rays = NULL, *batch_tgt = NULL, *fit_rgb = NULL, *small = NULL;
    unsigned char* png = NULL;
    FILE* csv = NULL;
    size_t px, ntrain;
    int64_t shape[2];
    double t_start, t_train = 0.0, last_psnr = 0.0, first_hit = -1.0;
    long long rays_done = 0;
    int v, step, k, status = 1, dims[3];
    uint32_t pi;

    if (parse(argc, argv, &o)) return 1;
    rng_state = o.seed;
    px = (size_t)o.size * o.size;
    ntrain = (size_t)o.views * px;
    if (!o.volume) {
        snprintf(vol, sizeof vol, "%s/ct_head/quarter.nhdr", data);
        o.volume = vol;
    }
    memset(&cd, 0, sizeof cd);
    cd.log = dvren_log_to_file;
    cd.log_level = DVREN_LOG_WARN;
    if (!strcmp(o.device, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) {
        fprintf(stderr, "fit_volume: %s\n", dvren_last_error(NULL));
        return 1;
    }

    /* ---- ground truth: the CT head, a transfer function, a fixed light */
    TRY(dvren_params_create(ctx, &fp));
    TRY(dvren_params_set_string(fp, "file", o.volume));
    TRY(dvren_params_set_string(fp, "storage", "f32"));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", fp, &gt_field));
    if (o.downsample > 1) {
        /* a smaller ground truth (for quick runs): the mean of each
         * downsample^3 block of voxels, over the same box */
        const dvren_tensor* src;
        dvren_tensor t;
        int64_t sh[4];
        double bbox[6];
        int X, Y, Z, x, y, z, f = o.downsample;
        TRY(dvren_stage_info(gt_field, &info));
        src = &info.buffers[0].tensor;
        Z = (int)src->shape[0];
        Y = (int)src->shape[1];
        X = (int)src->shape[2];
        sh[0] = (Z + f - 1) / f;
        sh[1] = (Y + f - 1) / f;
        sh[2] = (X + f - 1) / f;
        sh[3] = 1;
        small = (float*)calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof(float));
        if (!small) goto fail;
        for (z = 0; z < sh[0]; ++z)
            for (y = 0; y < sh[1]; ++y)
                for (x = 0; x < sh[2]; ++x) {
                    double acc = 0.0;
                    int n = 0, a, b, c;
                    for (c = z * f; c < z * f + f && c < Z; ++c)
                        for (b = y * f; b < y * f + f && b < Y; ++b)
                            for (a = x * f; a < x * f + f && a < X; ++a, ++n)
                                acc += ((const float*)src->data)[((size_t)c * Y + b) * X + a];
                    small[((size_t)z * sh[1] + y) * sh[2] + x] = (float)(acc / n);
                }
        for (k = 0; k < 3; ++k) {
            bbox[k] = info.bounds_min[k];
            bbox[3 + k] = info.bounds_max[k];
        }
        TRY(dvren_tensor_wrap(small, DVREN_DTYPE_F32, 4, sh, NULL, &t));
        dvren_params_destroy(fp);
        fp = NULL;
        TRY(dvren_params_create(ctx, &fp));
        TRY(dvren_params_set_tensor(fp, "data", &t));
        TRY(dvren_params_set_numbers(fp, "bbox", bbox, 6));
        dvren_stage_destroy(gt_field);
        gt_field = NULL;
        TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", fp, &gt_field));
    }
    TRY(dvren_params_create(ctx, &sp));
    TRY(dvren_params_set_numbers(sp, "tf_opacity", tf_opacity, 12));
    TRY(dvren_params_set_numbers(sp, "tf_color", tf_color, 12));
    TRY(dvren_params_set_number(sp, "sigma_scale", 30));
    TRY(dvren_params_set_bool(sp, "shading", 1));
    TRY(dvren_params_set_number(sp, "specular", 0));
    TRY(dvren_params_set_numbers(sp, "light_dir", light, 3));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", sp, &gt_shader));
    TRY(dvren_stage_info(gt_field, &info));
    /* one sample per voxel along the ray, the same for the ground truth and the fit */
    TRY(dvren_params_create(ctx, &mp));
    TRY(dvren_params_set_number(mp, "step", info.voxel_world));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", mp, &sampler));
    memset(&sd, 0, sizeof sd);
    sd.field = gt_field;
    sd.shader = gt_shader;
    sd.sampler = sampler;
    TRY(dvren_scene_create(ctx, &sd, &gt));

    /* ---- the model: the volume's box and voxel grid, 4 channels, nearly empty */
    {
        double d3[3], bbox[6], fill[4] = {-4.0, 0.0, 0.0, 0.0};
        for (k = 0; k < 3; ++k) {
            /* model_scale - 1 more voxels between the ground truth's */
            dims[k] = o.model_scale * (int)lround((info.bounds_max[k] - info.bounds_min[k]) / info.voxel_size[k]) + 1;
            d3[k] = dims[k];
            bbox[k] = info.bounds_min[k];
            bbox[3 + k] = info.bounds_max[k];
        }
        TRY(dvren_params_create(ctx, &gp));
        TRY(dvren_params_set_string(gp, "generator", "constant"));
        TRY(dvren_params_set_numbers(gp, "fill", fill, 4));
        TRY(dvren_params_set_numbers(gp, "dims", d3, 3));
        TRY(dvren_params_set_numbers(gp, "bbox", bbox, 6));
        TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", gp, &m_field));
    }
    TRY(dvren_params_create(ctx, &np));
    TRY(dvren_params_set_string(np, "mode", "channels"));
    TRY(dvren_params_set_string(np, "activation", "softplus"));
    TRY(dvren_params_set_string(np, "color_activation", "sigmoid"));
    TRY(dvren_params_set_number(np, "sigma_scale", 10));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", np, &m_shader));
    sd.field = m_field;
    sd.shader = m_shader;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    TRY(dvren_scene_create(ctx, &sd, &model));

    /* ---- cameras, rays and ground-truth images */
    train_rays = (float*)malloc(ntrain * 6 * sizeof(float));
    train_rgb = (float*)malloc(ntrain * 3 * sizeof(float));
    held_rays = (float*)malloc((size_t)o.heldout * px * 6 * sizeof(float));
    held_rgb = (float*)malloc((size_t)o.heldout * px * 3 * sizeof(float));
    view_rays = (float*)malloc(px * 6 * sizeof(float));
    fit_rgb = (float*)malloc((size_t)o.heldout * px * 3 * sizeof(float));
    batch_rays = (float*)malloc((size_t)o.batch * 6 * sizeof(float));
    batch_tgt = (float*)malloc((size_t)o.batch * 3 * sizeof(float));
    if (!train_rays || !train_rgb || !held_rays || !held_rgb || !view_rays || !fit_rgb || !batch_rays || !batch_tgt) {
        fprintf(stderr, "fit_volume: out of memory for %d views of %d x %d\n", o.views, o.size, o.size);
        goto fail;
    }
    shape[0] = (int64_t)px;
    shape[1] = 6;
    TRY(dvren_tensor_wrap(view_rays, DVREN_DTYPE_F32, 2, shape, NULL, &view_rays_t));
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = (uint32_t)o.size;
    pd.outputs = DVREN_OUTPUT_RGB;
    pd.rays = &view_rays_t;
    TRY(dvren_plan_create(ctx, &pd, &view_plan));
    TRY(dvren_framebuffer_create(ctx, view_plan, &view_fb));
    for (v = 0; v < o.views + o.heldout; ++v) {
        double eye[3];
        int held = v >= o.views;
        float* rays = held ? held_rays + (size_t)(v - o.views) * px * 6 : train_rays + (size_t)v * px * 6;
        float* img = held ? held_rgb + (size_t)(v - o.views) * px * 3 : train_rgb + (size_t)v * px * 3;
        if (held) sphere_eye(v - o.views, o.heldout, 1.0, radius, eye);
        else sphere_eye(v, o.views, 0.0, radius, eye);
        pinhole_rays(eye, fov, o.size, rays);
        memcpy(view_rays, rays, px * 6 * sizeof(float));
        TRY(dvren_render(gt, view_plan, view_fb, NULL));
        TRY(dvren_framebuffer_output(view_fb, DVREN_OUTPUT_RGB, &rgb));
        memcpy(img, rgb.data, px * 3 * sizeof(float));
    }
    fprintf(stderr, "[fit] %s: ground truth of %d training and %d held-out views, %d x %d; model grid %d x %d x %d x 4 on %s\n",
            o.volume, o.views, o.heldout, o.size, o.size, dims[0], dims[1], dims[2], o.device);

    /* ---- training: random ray batches, L2, TV on the density, Adam */
    shape[0] = o.batch;
    shape[1] = 6;
    TRY(dvren_tensor_wrap(batch_rays, DVREN_DTYPE_F32, 2, shape, NULL, &batch_rays_t));
    shape[1] = 3;
    TRY(dvren_tensor_wrap(batch_tgt, DVREN_DTYPE_F32, 2, shape, NULL, &batch_tgt_t));
    memset(&pd, 0, sizeof pd);
    /* a batch is a width x height "image" of rays (each side at most 32768) */
    pd.width = (uint32_t)(o.batch <= 8192 ? o.batch : 8192);
    pd.height = (uint32_t)(o.batch / (int)pd.width);
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE;
    pd.rays = &batch_rays_t;
    TRY(dvren_plan_create(ctx, &pd, &batch_plan));
    TRY(dvren_framebuffer_create_outputs(ctx, batch_plan, pd.outputs, &batch_fb));
    TRY(dvren_framebuffer_create_outputs(ctx, batch_plan, DVREN_OUTPUT_RGB, &batch_g));
    od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    od.lr = (float)o.lr;
    od.lr_decay = 0.1f; /* a tenth of the rate by the last step */
    od.decay_steps = (uint32_t)o.steps;
    TRY(dvren_optimizer_create(model, &od, &opt));
    memset(&ld, 0, sizeof ld);
    ld.kind = DVREN_LOSS_L2;
    ld.target_rgb = &batch_tgt_t;
    memset(&bo, 0, sizeof bo);
    bo.forward = batch_fb; /* the replay takes each ray's totals from the forward pass */
    TRY(dvren_scene_param_find(model, "field.voxels", &pi));
    csv = fopen(o.csv, "w");
    if (!csv) {
        fprintf(stderr, "fit_volume: cannot write '%s' (does its folder exist?)\n", o.csv);
        goto fail;
    }
    fprintf(csv, "step,seconds,loss,heldout_psnr_db,rays_per_s\n");
    t_start = now_s();
    for (step = 1; step <= o.steps; ++step) {
        double t0 = now_s(), loss = 0.0;
        int eval = step % o.eval_every == 0 || step == o.steps;
        for (k = 0; k < o.batch; ++k) {
            size_t r = (size_t)(rng_u64() % ntrain);
            memcpy(batch_rays + 6 * (size_t)k, train_rays + 6 * r, 6 * sizeof(float));
            memcpy(batch_tgt + 3 * (size_t)k, train_rgb + 3 * r, 3 * sizeof(float));
        }
        TRY(dvren_scene_zero_grad(model));
        TRY(dvren_render(model, batch_plan, batch_fb, NULL));
        TRY(dvren_loss(ctx, &ld, batch_fb, batch_g, eval ? &loss : NULL));
        TRY(dvren_render_backward(model, batch_plan, batch_g, &bo));
        if (o.tv > 0.0) TRY(dvren_tv_regularize(model, pi, (float)o.tv, 0, 1, 0u, NULL));
        TRY(dvren_optimizer_step(opt));
        if (eval) TRY(dvren_synchronize(ctx));
        t_train += now_s() - t0;
        rays_done += o.batch;
        if (eval) {
            double se = 0.0;
            for (v = 0; v < o.heldout; ++v) {
                const float* ref = held_rgb + (size_t)v * px * 3;
                memcpy(view_rays, held_rays + (size_t)v * px * 6, px * 6 * sizeof(float));
                TRY(dvren_render(model, view_plan, view_fb, NULL));
                TRY(dvren_framebuffer_output(view_fb, DVREN_OUTPUT_RGB, &rgb));
                for (k = 0; k < (int)(px * 3); ++k) {
                    double e = (double)((const float*)rgb.data)[k] - ref[k];
                    se += e * e;
                }
                memcpy(fit_rgb + (size_t)v * px * 3, rgb.data, px * 3 * sizeof(float));
            }
            last_psnr = psnr_of(se / ((double)o.heldout * px * 3));
            if (last_psnr >= o.target && first_hit < 0.0) first_hit = t_train;
            fprintf(stderr, "[fit] step %5d  loss %.3e  held-out PSNR %6.2f dB  %.2f M rays/s  (%.1f s training)\n", step,
                    loss, last_psnr, (double)rays_done / t_train * 1e-6, t_train);
            fprintf(csv, "%d,%.3f,%.6e,%.4f,%.0f\n", step, t_train, loss, last_psnr, (double)rays_done / t_train);
            fflush(csv);
            if (o.until_target && last_psnr >= o.target) break;
        }
    }
    fprintf(stderr, "[fit] %s: held-out PSNR %.2f dB after %d steps, %.1f s of training (%.1f s wall)%s", o.device,
            last_psnr, step > o.steps ? o.steps : step, t_train, now_s() - t_start,
            first_hit >= 0.0 ? "" : "; target not reached\n");
    if (first_hit >= 0.0) fprintf(stderr, "; reached %.1f dB after %.1f s of training\n", o.target, first_hit);

    /* ---- ground truth over the fit, four held-out views */
    {
        int n = o.heldout < 4 ? o.heldout : 4, W = n * o.size, H = 2 * o.size, x, y, c;
        png = (unsigned char*)malloc((size_t)W * H * 3);
        if (!png) goto fail;
        for (y = 0; y < H; ++y)
            for (x = 0; x < W; ++x) {
                int vi = x / o.size, i = x % o.size, j = y % o.size;
                const float* src = (y < o.size ? held_rgb : fit_rgb) + ((size_t)vi * px + (size_t)j * o.size + i) * 3;
                for (c = 0; c < 3; ++c) {
                    float f = src[c] < 0.0f ? 0.0f : (src[c] > 1.0f ? 1.0f : src[c]);
                    png[((size_t)y * W + x) * 3 + c] = (unsigned char)(255.0f * f + 0.5f);
                }
            }
        if (!stbi_write_png(o.png, W, H, 3, png, W * 3)) {
            fprintf(stderr, "fit_volume: cannot write '%s'\n", o.png);
            goto fail;
        }
        fprintf(stderr, "[fit] wrote %s (ground truth above, fit below) and %s\n", o.png, o.csv);
    }
    status = last_psnr >= o.target ? 0 : 2;
fail:
    if (csv) fclose(csv);
    free(png);
    free(small);
    free(train_rays);
    free(train_rgb);
    free(held_rays);
    free(held_rgb);
    free(view_rays);
    free(fit_rgb);
    free(batch_rays);
    free(batch_tgt);
    dvren_params_destroy(fp);
    dvren_params_destroy(sp);
    dvren_params_destroy(mp);
    dvren_params_destroy(gp);
    dvren_params_destroy(np);
    dvren_optimizer_destroy(opt);
    dvren_framebuffer_destroy(batch_g);
    dvren_framebuffer_destroy(batch_fb);
    dvren_framebuffer_destroy(view_fb);
    dvren_plan_destroy(batch_plan);
    dvren_plan_destroy(view_plan);
    dvren_scene_destroy(model);
    dvren_scene_destroy(gt);
    dvren_stage_destroy(gt_field);
    dvren_stage_destroy(gt_shader);
    dvren_stage_destroy(sampler);
    dvren_stage_destroy(m_field);
    dvren_stage_destroy(m_shader);
    dvren_context_destroy(ctx);
    return status;
}
