/* examples/fit_splats.c - fit 3D Gaussian splats to views with Adam.
 *
 * The ground truth is gsplat's garden test scene ($DVREN_DATA/gaussians/
 * test_garden.npz, DVREN_DATA defaulting to ../shared/data, read through
 * tools/dvren_splat_npz.h: the points cropped to [-2, 2]^3, their colours,
 * and scales, rotations and opacities drawn from --seed) seen by the
 * file's three cameras at --scale of their 648 x 420 (the intrinsics
 * scaled with the image). Its first --count Gaussians are rendered into the
 * targets (dvren_splat_render); the fit knows only those images and starts
 * from the same number of Gaussians at the true means moved by
 * N(0, --init-noise^2) per axis (a point cloud from structure from motion
 * plays this part in 3DGS), every standard deviation 0.01, no rotation,
 * opacity 0.5 and grey colour. Each step renders one view (in turn),
 * takes the L2 loss against its target (dvren_loss), backpropagates
 * (dvren_splat_backward) and updates the five parameter tensors with Adam
 * (dvren_optimizer_update_tensor), with 3DGS's per-parameter learning
 * rates (Kerbl et al. 2023, Sec. 7.1: positions 1.6e-4 of the scene
 * extent, log-scales 5e-3, rotations 1e-3, opacity logits 5e-2, SH 2.5e-3,
 * all times --lr-scale).
 *
 * Left out (say so when comparing with 3DGS): densification (cloning,
 * splitting, pruning; the count stays fixed), the opacity reset, the
 * SSIM term of the loss, the position learning rate's decay, and SH
 * degrees above 0 (the targets are degree 0).
 *
 * Prints every --eval-every steps
 *   [fit_splats] step 100  loss 1.2e-03  psnr 29.4 dB (initial 17.8 dB)
 * where psnr is the mean over the views of the PSNR of a render of the
 * current Gaussians against the target. Writes into --out DIR (created;
 * default out/fit_splats): curve.csv (step,loss,psnr; psnr on evaluated
 * steps), compare.png (view 0: target | initial | fitted) and fitted.ply
 * (the Gaussians in 3DGS's PLY layout). Exits 0, 1 on bad input or a
 * failure (a message naming it), 2 when --target-psnr was not reached.
 * Runs on the CPU (the GPU fit is the Python package's, dvren.torch). */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SPLAT_NPZ_IMPLEMENTATION
#include "dvren_splat_npz.h"
#include "dvren_image.h"

#include <errno.h>
#include <sys/stat.h>

typedef struct fit_args {
    const char* data;
    const char* out;
    uint32_t count, steps, eval_every;
    double scale, init_noise, lr_scale, target_psnr;
    uint64_t seed;
} fit_args;

static void usage(void)
{
    fprintf(stderr,
            "usage: fit_splats [--data test_garden.npz] [--count 20000] [--scale 0.5] [--steps 300] [--eval-every 50]\n"
            "                  [--init-noise 0.01] [--lr-scale 1] [--seed 0] [--target-psnr dB] [--out DIR]\n");
}

static int parse_args(int argc, char** argv, fit_args* a)
{
    static char data[4096];
    const char* root = getenv("DVREN_DATA");
    int i;
    snprintf(data, sizeof data, "%s/gaussians/test_garden.npz", root && *root ? root : "../shared/data");
    a->data = data;
    a->out = "out/fit_splats";
    a->count = 20000;
    a->steps = 300;
    a->eval_every = 50;
    a->scale = 0.5;
    a->init_noise = 0.01;
    a->lr_scale = 1.0;
    a->target_psnr = 0.0;
    a->seed = 0;
    for (i = 1; i < argc; i += 2) {
        const char* k = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        char* end = NULL;
        double x = 0;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            usage();
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "fit_splats: %s needs a value\n", k);
            return 0;
        }
        if (!strcmp(k, "--data")) a->data = v;
        else if (!strcmp(k, "--out")) a->out = v;
        else {
            errno = 0;
            x = strtod(v, &end);
            if (!end || *end || errno || !isfinite(x)) {
                fprintf(stderr, "fit_splats: %s: '%s' is not a number\n", k, v);
                return 0;
            }
            if (!strcmp(k, "--count") && x >= 1 && x <= 1e7 && x == floor(x)) a->count = (uint32_t)x;
            else if (!strcmp(k, "--steps") && x >= 0 && x <= 1e7 && x == floor(x)) a->steps = (uint32_t)x;
            else if (!strcmp(k, "--eval-every") && x >= 1 && x <= 1e7 && x == floor(x)) a->eval_every = (uint32_t)x;
            else if (!strcmp(k, "--scale") && x > 0 && x <= 4) a->scale = x;
            else if (!strcmp(k, "--init-noise") && x >= 0 && x <= 1) a->init_noise = x;
            else if (!strcmp(k, "--lr-scale") && x > 0 && x <= 1e3) a->lr_scale = x;
            else if (!strcmp(k, "--target-psnr") && x >= 0 && x <= 200) a->target_psnr = x;
            else if (!strcmp(k, "--seed") && x >= 0 && x == floor(x)) a->seed = (uint64_t)x;
            else {
                fprintf(stderr, "fit_splats: unknown option or value out of range: %s %s\n", k, v);
                usage();
                return 0;
            }
        }
    }
    return 1;
}

static double urand(uint64_t* s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(uint64_t* s) { return sqrt(-2.0 * log(urand(s))) * cos(6.283185307179586 * urand(s)); }

/* One view: its plan and target. */
typedef struct view {
    dvren_plan* plan;
    float* target; /* (H, W, 3) */
    dvren_tensor target_t;
} view;

static double psnr_of(const float* a, const float* b, size_t n)
{
    double se = 0;
    size_t i;
    for (i = 0; i < n; ++i) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    se /= (double)n;
    return se > 0 ? -10.0 * log10(se) : 99.0;
}

#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        if ((call) != DVREN_OK) {                                                                                      \
            fprintf(stderr, "fit_splats: %s\n", dvren_last_error(ctx));                                               \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

int main(int argc, char** argv)
{
    fit_args a;
    dvren_context* ctx = NULL;
    dvren_splat_npz_scene sc;
    dvren_splat_params truth, fit, grad, m, v;
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer *fb = NULL, *cot = NULL;
    view views[16];
    uint32_t nv = 0, W = 0, H = 0, i, c, step;
    dvren_tensor* tp[5];
    dvren_tensor* tg[5];
    dvren_tensor* tm[5];
    dvren_tensor* tv[5];
    float lr[5];
    double initial_psnr = 0, last_psnr = 0, extent = 0;
    float* initial_img = NULL;
    FILE* curve = NULL;
    int rc = 1;
    char path[4200];
    memset(&sc, 0, sizeof sc);
    memset(&truth, 0, sizeof truth);
    memset(&fit, 0, sizeof fit);
    memset(&grad, 0, sizeof grad);
    memset(&m, 0, sizeof m);
    memset(&v, 0, sizeof v);
    memset(views, 0, sizeof views);
    if (!parse_args(argc, argv, &a)) return 1;
    TRY(dvren_context_create(NULL, &ctx));
    {
        dvren_splat_npz_options o;
        memset(&o, 0, sizeof o);
        o.seed = a.seed;
        TRY(dvren_splat_npz_load(ctx, a.data, &o, &sc));
    }
    if (sc.splats.count > a.count) sc.splats.count = a.count; /* the first --count Gaussians */
    TRY(dvren_splats_to_params(ctx, &sc.splats, &truth));
    TRY(dvren_splats_to_params(ctx, &sc.splats, &fit));
    TRY(dvren_splats_to_params(ctx, &sc.splats, &grad));
    TRY(dvren_splats_to_params(ctx, &sc.splats, &m));
    TRY(dvren_splats_to_params(ctx, &sc.splats, &v));
    tp[0] = &fit.means, tp[1] = &fit.log_scales, tp[2] = &fit.quats, tp[3] = &fit.opacity_logits, tp[4] = &fit.sh;
    tg[0] = &grad.means, tg[1] = &grad.log_scales, tg[2] = &grad.quats, tg[3] = &grad.opacity_logits, tg[4] = &grad.sh;
    tm[0] = &m.means, tm[1] = &m.log_scales, tm[2] = &m.quats, tm[3] = &m.opacity_logits, tm[4] = &m.sh;
    tv[0] = &v.means, tv[1] = &v.log_scales, tv[2] = &v.quats, tv[3] = &v.opacity_logits, tv[4] = &v.sh;
    for (c = 0; c < 5; ++c) {
        memset(tm[c]->data, 0, (size_t)dvren_tensor_numel(tm[c]) * 4);
        memset(tv[c]->data, 0, (size_t)dvren_tensor_numel(tv[c]) * 4);
    }
    /* the initial guess */
    {
        uint64_t s = a.seed * 7919u + 17u;
        float *mu = (float*)fit.means.data, *ls = (float*)fit.log_scales.data, *q = (float*)fit.quats.data;
        float *op = (float*)fit.opacity_logits.data, *sh = (float*)fit.sh.data;
        for (i = 0; i < fit.count; ++i) {
            for (c = 0; c < 3; ++c) {
                mu[3 * i + c] += (float)(a.init_noise * nrand(&s));
                ls[3 * i + c] = (float)log(0.01);
                sh[3 * i + c] = 0.0f;
                extent = fmax(extent, fabs(((const float*)truth.means.data)[3 * i + c]));
            }
            q[4 * i] = 1, q[4 * i + 1] = q[4 * i + 2] = q[4 * i + 3] = 0;
            op[i] = 0.0f;
        }
    }
    lr[0] = (float)(1.6e-4 * extent * a.lr_scale);
    lr[1] = (float)(5e-3 * a.lr_scale);
    lr[2] = (float)(1e-3 * a.lr_scale);
    lr[3] = (float)(5e-2 * a.lr_scale);
    lr[4] = (float)(2.5e-3 * a.lr_scale);
    /* the views and their targets */
    W = (uint32_t)floor(sc.width * a.scale + 0.5);
    H = (uint32_t)floor(sc.height * a.scale + 0.5);
    TRY(dvren_splat_renderer_create(ctx, NULL, &r));
    for (nv = 0; nv < sc.camera_count && nv < 16; ++nv) {
        dvren_plan_desc pd;
        float K[9];
        int64_t shape[3];
        memset(&pd, 0, sizeof pd);
        memcpy(K, sc.cameras[nv].K, sizeof K);
        K[0] *= (float)W / (float)sc.width, K[2] *= (float)W / (float)sc.width;
        K[4] *= (float)H / (float)sc.height, K[5] *= (float)H / (float)sc.height;
        TRY(dvren_camera_from_opencv(sc.cameras[nv].viewmat, K, &pd.camera));
        pd.width = W;
        pd.height = H;
        pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
        TRY(dvren_plan_create(ctx, &pd, &views[nv].plan));
        if (!fb) TRY(dvren_framebuffer_create(ctx, views[nv].plan, &fb));
        if (!cot) TRY(dvren_framebuffer_create_outputs(ctx, views[nv].plan, DVREN_OUTPUT_RGB, &cot));
        TRY(dvren_splat_render(r, &truth, views[nv].plan, fb, NULL));
        views[nv].target = (float*)malloc((size_t)W * H * 12);
        if (!views[nv].target) goto done;
        {
            dvren_tensor o;
            TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &o));
            memcpy(views[nv].target, o.data, (size_t)W * H * 12);
        }
        shape[0] = H, shape[1] = W, shape[2] = 3;
        TRY(dvren_tensor_wrap(views[nv].target, DVREN_DTYPE_F32, 3, shape, NULL, &views[nv].target_t));
    }
    snprintf(path, sizeof path, "%s", a.out);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fit_splats: cannot create the folder '%s': %s\n", path, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/curve.csv", a.out);
    curve = fopen(path, "w");
    if (!curve) {
        fprintf(stderr, "fit_splats: cannot write '%s': %s\n", path, strerror(errno));
        goto done;
    }
    fprintf(curve, "step,loss,psnr\n");
    printf("[fit_splats] %u Gaussians, %u views of %u x %u, %u steps\n", fit.count, nv, W, H, a.steps);
    for (step = 0; step <= a.steps; ++step) {
        double loss = 0, psnr = -1;
        if (step % a.eval_every == 0 || step == a.steps) {
            dvren_tensor o;
            psnr = 0;
            for (i = 0; i < nv; ++i) {
                TRY(dvren_splat_render(r, &fit, views[i].plan, fb, NULL));
                TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &o));
                psnr += psnr_of((const float*)o.data, views[i].target, (size_t)W * H * 3) / nv;
                if (i == 0 && step == 0) {
                    initial_img = (float*)malloc((size_t)W * H * 12);
                    if (!initial_img) goto done;
                    memcpy(initial_img, o.data, (size_t)W * H * 12);
                }
            }
            if (step == 0) initial_psnr = psnr;
            last_psnr = psnr;
        }
        if (step < a.steps) {
            const view* vw = &views[step % nv];
            dvren_loss_desc ld;
            memset(&ld, 0, sizeof ld);
            ld.kind = DVREN_LOSS_L2;
            ld.target_rgb = &vw->target_t;
            TRY(dvren_splat_render(r, &fit, vw->plan, fb, NULL));
            TRY(dvren_loss(ctx, &ld, fb, cot, &loss));
            TRY(dvren_splat_backward(r, &fit, cot, &grad));
            for (c = 0; c < 5; ++c) {
                dvren_optimizer_desc od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
                od.lr = lr[c];
                od.eps = 1e-15f;
                TRY(dvren_optimizer_update_tensor(ctx, &od, step, 1.0f, tp[c], tm[c], tv[c], tg[c]));
            }
        }
        if (psnr >= 0) {
            printf("[fit_splats] step %u  loss %.3e  psnr %.2f dB (initial %.2f dB)\n", step, loss, psnr, initial_psnr);
            fprintf(curve, "%u,%.6e,%.4f\n", step, loss, psnr);
        } else {
            fprintf(curve, "%u,%.6e,\n", step, loss);
        }
    }
    fclose(curve);
    curve = NULL;
    /* view 0: target | initial | fitted */
    {
        float* strip = (float*)calloc((size_t)W * 3 * H * 3, 4);
        dvren_tensor o;
        uint32_t y, x;
        if (!strip) goto done;
        TRY(dvren_splat_render(r, &fit, views[0].plan, fb, NULL));
        TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &o));
        for (y = 0; y < H; ++y)
            for (x = 0; x < W; ++x)
                for (c = 0; c < 3; ++c) {
                    size_t src = ((size_t)y * W + x) * 3 + c;
                    strip[((size_t)y * 3 * W + x) * 3 + c] = views[0].target[src];
                    strip[((size_t)y * 3 * W + W + x) * 3 + c] = initial_img[src];
                    strip[((size_t)y * 3 * W + 2 * W + x) * 3 + c] = ((const float*)o.data)[src];
                }
        snprintf(path, sizeof path, "%s/compare.png", a.out);
        if (dvren_image_write_png(ctx, path, strip, NULL, 3 * W, H, 8) != DVREN_OK) {
            fprintf(stderr, "fit_splats: %s\n", dvren_last_error(ctx));
            free(strip);
            goto done;
        }
        free(strip);
    }
    {
        dvren_splats out;
        snprintf(path, sizeof path, "%s/fitted.ply", a.out);
        TRY(dvren_splats_from_params(ctx, &fit, &out));
        if (dvren_splat_ply_save(ctx, path, &out) != DVREN_OK) {
            fprintf(stderr, "fit_splats: %s\n", dvren_last_error(ctx));
            dvren_splats_free(&out);
            goto done;
        }
        dvren_splats_free(&out);
    }
    printf("[fit_splats] psnr %.2f dB -> %.2f dB; wrote %s/curve.csv, compare.png, fitted.ply\n", initial_psnr, last_psnr,
           a.out);
    rc = (a.target_psnr > 0 && last_psnr < a.target_psnr) ? 2 : 0;
    if (rc == 2) fprintf(stderr, "fit_splats: psnr %.2f dB < --target-psnr %.2f\n", last_psnr, a.target_psnr);
done:
    if (curve) fclose(curve);
    free(initial_img);
    for (i = 0; i < 16; ++i) {
        dvren_plan_destroy(views[i].plan);
        free(views[i].target);
    }
    dvren_framebuffer_destroy(fb);
    dvren_framebuffer_destroy(cot);
    dvren_splat_renderer_destroy(r);
    dvren_splats_params_free(ctx, &truth);
    dvren_splats_params_free(ctx, &fit);
    dvren_splats_params_free(ctx, &grad);
    dvren_splats_params_free(ctx, &m);
    dvren_splats_params_free(ctx, &v);
    dvren_splat_npz_scene_free(&sc);
    dvren_context_destroy(ctx);
    return rc;
}
