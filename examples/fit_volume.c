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
 * truth (top) over the fit (bottom) for four held-out views, each enlarged
 * (nearest neighbour) to at least 256 pixels across.
 *
 *   build/fit_volume [--device cpu|cuda] [--size 64] [--views 64] [--heldout 8]
 *                    [--steps 3000] [--batch 8192] [--lr 0.3] [--tv 1e-4 | 3e-3]
 *                    [--target 35] [--until-target] [--eval-every 100] [--seed 1]
 *                    [--name NAME] [--csv out/fit_NAME_curve.csv] [--png out/fit_NAME.png] [--threads 0]
 *                    [--downsample 1] [--model-scale 1] [--volume PATH]
 *                    [--images PATH] [--grid 128] [--tv-color 0 | 1e-2] [--alpha-weight 0 | 1]
 *                    [--save PREFIX]
 * (where two defaults are given, the second is that of --images; NAME is
 * ct_head, or with --images the name of the transforms JSON's folder, e.g.
 * lego, so that runs on different data keep their own files; --threads 0
 * means all cores)
 * --downsample f renders the ground truth from the volume averaged over
 * f^3 blocks (same box), for quick runs such as the CI test; --model-scale s
 * gives the model s times the ground truth's voxels per axis.
 *
 * Multi-view photographs instead of the CT head: --images PATH names a
 * transforms JSON in the layout of the NeRF synthetic data set (Mildenhall et
 * al. 2020: "camera_angle_x", the horizontal field of view in radians, and
 * "frames", each with "file_path" relative to the JSON's folder, ".png"
 * added when missing, and "transform_matrix", a 4x4 camera-to-world matrix
 * in the Blender/OpenGL convention: the camera looks down -z, +y is up).
 * Frames whose image file is absent are skipped, and the tool says how many;
 * a file that is present but unreadable is an error. Images are RGBA, 8 bits
 * per sample; the loader composites them on black (rgb * alpha, the
 * renderer's background) and box-filters them down to --size pixels across
 * (the width must be a multiple of --size). --heldout views, evenly spread
 * over the list, are kept for evaluation; the fit trains on the others.
 * The model's box is carved from the training views' alpha (the box of the
 * points that every training view sees on a covered pixel, padded by two
 * lattice cells; see carve_box), and its grid has --grid voxels along the
 * box's longest side. The loss adds --alpha-weight times an L2 loss on
 * alpha against the images' coverage; --tv-color weighs a total variation
 * on the colour channels (both modes).
 *   build/fit_volume --images ../shared/data/lego/transforms_train.json
 *                    --size 800 --heldout 4 --grid 256 --device cuda
 *
 * --save PREFIX keeps the fitted model as a scene that the other tools
 * render (build/dvren_render PREFIX.json, dvren_foveate PREFIX.json):
 *   PREFIX.npy          the grid, float32 (Z, Y, X, 4): raw density, then
 *                       raw colour (the shader applies the activations)
 *   PREFIX.json         a scene file (docs/scenes.md): dense_grid reading
 *                       PREFIX.npy (relative to the scene's folder) over the
 *                       fit's world box, node-centred as the fit's grid;
 *                       emission_absorption in "channels" mode with the
 *                       fit's activations (softplus density, sigmoid colour)
 *                       and sigma_scale; the uniform sampler without jitter;
 *                       a perspective camera at the first held-out view (eye,
 *                       target one unit ahead, up, vertical field of view);
 *                       the views' size and the fit's march step
 *   PREFIX_heldout.npy  the fit's own render of that view, float32 (H, W, 3):
 *                       what the scene file reproduces (tests/test_fit.sh and
 *                       tests/test_fit_images.sh compare the two)
 * Each file is written atomically; when one cannot be written, those
 * already written are removed again.
 *
 * Exit status: 0 on success; when a target was asked for (--target or
 * --until-target), 2 when the last held-out PSNR does not reach it; 1 on an
 * error. Rays are generated here (a pinhole model written
 * out below) and rendered as ray-batch plans, for the ground truth as for
 * the fit, so both see exactly the same rays. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#define DVREN_NERF_IMPLEMENTATION
#include "dvren_nerf.h"
#include "dvren_image.h"

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
    int size, views, heldout, steps, batch, eval_every, until_target, downsample, model_scale, grid, threads, target_given;
    double lr, tv, tv_color, alpha_weight, target;
    unsigned long long seed;
    const char *csv, *png, *volume, *images, *name, *save;
} opts;

/* A pinhole camera as a scene file gives it: eye, a target on the optical
 * axis, up, vertical field of view in radians. */
typedef struct view_camera {
    double eye[3], target[3], up[3], fov_y;
} view_camera;

/* Log sink: warnings to stderr; errors are reported once, by TRY. */
static void fit_log(void* user, dvren_log_level level, const char* line)
{
    if (level != DVREN_LOG_ERROR) dvren_log_to_file(user, level, line);
}

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

/* The up vector of the CT head's cameras at eye looking at the origin: -z
 * (the volume's head is upside down), or +y when the view runs nearly
 * along z. */
static void pinhole_up(const double eye[3], double up[3])
{
    double n = sqrt(eye[0] * eye[0] + eye[1] * eye[1] + eye[2] * eye[2]);
    int along_z = fabs(eye[2] / n) > 0.95; /* looking along the up axis: take another up */
    up[0] = 0.0;
    up[1] = along_z ? 1.0 : 0.0;
    up[2] = along_z ? 0.0 : -1.0;
}

/* The size x size rays (origin, unit direction) of a pinhole camera at eye
 * looking at the origin, vertical field of view fov (radians), through the
 * pixel centres, row by row from the top. */
static void pinhole_rays(const double eye[3], double fov, int size, float* rays)
{
    double f[3], r[3], u[3], up[3], n, t = tan(0.5 * fov);
    int i, j, k;
    for (k = 0; k < 3; ++k) f[k] = -eye[k];
    n = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (k = 0; k < 3; ++k) f[k] /= n;
    pinhole_up(eye, up);
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


/* The model's box, carved from alpha: the box of the points of a 128^3
 * lattice over the cube of half side half that lie in front of every
 * training view (held[v] == 0), inside its image, on a covered pixel (alpha > 0),
 * padded by two lattice cells and kept within the cube: the bounds of a
 * visual hull (Laurentini 1994) cut to the views' common frustum, which
 * assumes that every view frames the whole object, as in object-centred
 * captures such as the NeRF synthetic scenes. Returns 1 when no point
 * survives. */
static int carve_box(const dvren_nerf_views* vs, const int* held, double half, double box[6])
{
    const int n = 128;
    double cell = 2.0 * half / (n - 1);
    int i, j, k, v, c, any = 0;
    for (c = 0; c < 3; ++c) {
        box[c] = half;
        box[3 + c] = -half;
    }
    for (k = 0; k < n; ++k)
        for (j = 0; j < n; ++j)
            for (i = 0; i < n; ++i) {
                double p[3] = {-half + i * cell, -half + j * cell, -half + k * cell};
                int keep = 1;
                for (v = 0; v < vs->count && keep; ++v) {
                    const double* m = vs->pose + 12 * v;
                    double q[3], d[3], u, w;
                    if (held[v]) continue;
                    for (c = 0; c < 3; ++c) d[c] = p[c] - m[4 * c + 3];
                    for (c = 0; c < 3; ++c) q[c] = m[c] * d[0] + m[4 + c] * d[1] + m[8 + c] * d[2]; /* R^T d */
                    u = vs->focal * q[0] / -q[2] + 0.5 * vs->width;
                    w = -vs->focal * q[1] / -q[2] + 0.5 * vs->height;
                    keep = q[2] < 0.0 && u >= 0.0 && w >= 0.0 && u < vs->width && w < vs->height &&
                           vs->alpha[(size_t)v * vs->width * vs->height + (size_t)w * vs->width + (size_t)u] > 0.0f;
                }
                if (!keep) continue;
                any = 1;
                for (c = 0; c < 3; ++c) {
                    if (p[c] < box[c]) box[c] = p[c];
                    if (p[c] > box[3 + c]) box[3 + c] = p[c];
                }
            }
    if (!any) return 1;
    for (c = 0; c < 3; ++c) {
        box[c] = box[c] - 2.0 * cell < -half ? -half : box[c] - 2.0 * cell;
        box[3 + c] = box[3 + c] + 2.0 * cell > half ? half : box[3 + c] + 2.0 * cell;
    }
    return 0;
}

/* Writes s into the JSON text at out as a string literal (quotes and
 * backslashes escaped). Returns 1 for a control character (not a file name
 * to put in a scene), else 0. */
static int json_string(char* out, size_t cap, const char* s)
{
    size_t n = 0;
    if (cap < 3) return 1;
    out[n++] = '"';
    for (; *s; ++s) {
        if ((unsigned char)*s < 0x20) return 1;
        if (n + 4 >= cap) return 1;
        if (*s == '"' || *s == '\\') out[n++] = '\\';
        out[n++] = *s;
    }
    out[n++] = '"';
    out[n] = 0;
    return 0;
}

/* --save PREFIX (see the top of the file): the model's grid as PREFIX.npy,
 * a scene file PREFIX.json rendering it from camera cam at W x H with the
 * fit's march step vox over box, and the fit's own render of that view
 * (rgb, H x W x 3) as PREFIX_heldout.npy. All or nothing: a file that
 * cannot be written removes those written before. Prints its own errors;
 * returns 0 or 1. */
static int save_fit(dvren_context* ctx, dvren_scene* model, uint32_t pi, const char* prefix, int W, int H,
                    const double box[6], double vox, const view_camera* cam, const float* rgb)
{
    char npy[1100], json[1100], heldout[1100], name[600], text[8192];
    const char* base = strrchr(prefix, '/');
    dvren_scene_param sp;
    dvren_tensor t;
    int64_t shape[3] = {H, W, 3};
    float* grid = NULL;
    int rc = 1, n;
    size_t len;
    if (strlen(prefix) > 1000 || !*prefix || prefix[strlen(prefix) - 1] == '/') {
        fprintf(stderr, "fit_volume: --save '%s': give a file prefix (at most 1000 characters, not a folder)\n", prefix);
        return 1;
    }
    base = base ? base + 1 : prefix;
    snprintf(npy, sizeof npy, "%s.npy", prefix);
    snprintf(json, sizeof json, "%s.json", prefix);
    snprintf(heldout, sizeof heldout, "%s_heldout.npy", prefix);
    snprintf(text, sizeof text, "%s.npy", base);
    if (json_string(name, sizeof name, text)) {
        fprintf(stderr, "fit_volume: --save '%s': the file name has a control character\n", prefix);
        return 1;
    }
    if (dvren_scene_param_get(model, pi, &sp) != DVREN_OK) goto lib_fail;
    grid = (float*)malloc((size_t)sp.numel * sizeof(float));
    if (!grid) {
        fprintf(stderr, "fit_volume: --save: out of memory for the grid (%llu floats)\n", (unsigned long long)sp.numel);
        return 1;
    }
    /* the parameter's own shape, (Z, Y, X, C): dense_grid's .npy layout */
    if (dvren_tensor_wrap(grid, DVREN_DTYPE_F32, sp.value.ndim, sp.value.shape, NULL, &t) != DVREN_OK ||
        dvren_scene_param_read(model, pi, DVREN_PARAM_VALUE, &t) != DVREN_OK || dvren_tensor_save_npy(ctx, &t, npy) != DVREN_OK)
        goto lib_fail;
    if (dvren_tensor_wrap((void*)rgb, DVREN_DTYPE_F32, 3, shape, NULL, &t) != DVREN_OK ||
        dvren_tensor_save_npy(ctx, &t, heldout) != DVREN_OK) {
        remove(npy);
        goto lib_fail;
    }
    /* floats as %.9g (float32 round trip), doubles as %.17g */
    n = snprintf(text, sizeof text,
                 "{\n"
                 "  \"description\": \"A dense grid fitted by examples/fit_volume (--save): %d x %d views; camera at the "
                 "first held-out view; the _heldout.npy file beside it is the fit's render of that view\",\n"
                 "  \"field\": {\"plugin\": \"dense_grid\", \"params\": {\"file\": %s, \"storage\": \"f32\",\n"
                 "      \"bbox\": [%.17g, %.17g, %.17g, %.17g, %.17g, %.17g]}},\n"
                 "  \"shader\": {\"plugin\": \"emission_absorption\", \"params\": {\"mode\": \"channels\", "
                 "\"activation\": \"softplus\",\n"
                 "      \"color_activation\": \"sigmoid\", \"sigma_scale\": 10}},\n"
                 "  \"sampler\": {\"plugin\": \"uniform\", \"params\": {\"jitter\": false}},\n"
                 "  \"camera\": {\"type\": \"perspective\", \"eye\": [%.9g, %.9g, %.9g], \"target\": [%.9g, %.9g, %.9g],\n"
                 "             \"up\": [%.9g, %.9g, %.9g], \"fov_y_deg\": %.17g},\n"
                 "  \"plan\": {\"width\": %d, \"height\": %d, \"step\": %.9g, \"seed\": 0}\n"
                 "}\n",
                 W, H, name, box[0], box[1], box[2], box[3], box[4], box[5], (float)cam->eye[0],
                 (float)cam->eye[1], (float)cam->eye[2], (float)cam->target[0], (float)cam->target[1],
                 (float)cam->target[2], (float)cam->up[0], (float)cam->up[1], (float)cam->up[2],
                 cam->fov_y * 180.0 / 3.14159265358979323846, W, H, (float)vox);
    if (n < 0 || (size_t)n >= sizeof text) {
        fprintf(stderr, "fit_volume: --save: the scene text does not fit its buffer\n");
        remove(npy);
        remove(heldout);
        goto out;
    }
    len = (size_t)n;
    if (dvren_file_write_atomic(ctx, json, text, len) != DVREN_OK) {
        remove(npy);
        remove(heldout);
        goto lib_fail;
    }
    fprintf(stderr, "[fit] saved %s (a scene), %s (the grid) and %s (the fit's render of the scene's view)\n", json, npy,
            heldout);
    rc = 0;
    goto out;
lib_fail:
    fprintf(stderr, "fit_volume: --save: %s\n", dvren_last_error(ctx));
out:
    free(grid);
    return rc;
}

static double psnr_of(double mse) { return mse > 0.0 ? -10.0 * log10(mse) : 99.0; }

/* options whose default depends on the mode: --alpha-weight 1, --tv 3e-3,
 * --tv-color 1e-2 with --images (weights chosen by a sweep on the lego
 * scene's held-out views, bench/RESULTS.md); 0, 1e-4, 0 for the CT head */
#define UNSET -1e300
static void usage(void)
{
    fputs("usage: fit_volume [options]   fit a dense grid to views of the CT head, or with --images to photographs\n"
          "  --device cpu|cuda      (cpu)\n"
          "  --size N               image size in pixels (64; with --images: pixels across after filtering)\n"
          "  --views N --heldout N  training and held-out views of the CT head (64, 8; --images: held out of the frames)\n"
          "  --steps N --batch N    Adam steps (3000) and rays per step (8192)\n"
          "  --lr X                 learning rate (0.3), decaying to a tenth by the last step\n"
          "  --tv X --tv-color X    total variation on density (1e-4 | 3e-3) and colour (0 | 1e-2)\n"
          "  --alpha-weight X       L2 on alpha against the images' coverage (0 | 1; --images only)\n"
          "  --target DB            held-out PSNR to reach (35): exit 2 when it is not reached\n"
          "  --until-target         stop once the target is reached (implies a target: exit 2 if not)\n"
          "  --eval-every N         evaluate every N steps (100)\n"
          "  --seed N               (1)\n"
          "  --name NAME            output names out/fit_NAME_curve.csv and out/fit_NAME.png\n"
          "                         (NAME: ct_head, or the folder of the --images JSON, e.g. lego)\n"
          "  --csv FILE --png FILE  the curve and the side-by-side image (ground truth above, fit below)\n"
          "  --downsample F         CT head: ground truth averaged over F^3 voxels (1)\n"
          "  --model-scale S        CT head: S times the ground truth's voxels per axis (1)\n"
          "  --volume PATH          CT head volume ($DVREN_DATA/ct_head/quarter.nhdr)\n"
          "  --images PATH          transforms JSON in the NeRF synthetic layout\n"
          "  --grid N               --images: voxels along the carved box's longest side (128)\n"
          "  --threads N            CPU threads, 0 = all cores (0)\n"
          "  --save PREFIX          keep the fit: PREFIX.npy (the grid), PREFIX.json (a scene rendering it from the\n"
          "                         first held-out view), PREFIX_heldout.npy (the fit's render of that view)\n"
          "  -h, --help\n"
          "(where two defaults are given, the second is that of --images; the top of examples/fit_volume.c says more)\n",
          stdout);
}

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
        NUM("--tv-color", tv_color, atof(v))
        NUM("--alpha-weight", alpha_weight, atof(v))
        if (!strcmp(a, "--target")) o->target_given = 1;
        NUM("--target", target, atof(v))
        NUM("--seed", seed, strtoull(v, NULL, 10))
        NUM("--downsample", downsample, atoi(v))
        NUM("--model-scale", model_scale, atoi(v))
        NUM("--images", images, v)
        NUM("--grid", grid, atoi(v))
        NUM("--csv", csv, v)
        NUM("--png", png, v)
        NUM("--name", name, v)
        NUM("--threads", threads, atoi(v))
        NUM("--save", save, v)
#undef NUM
        if (!strcmp(a, "--until-target")) {
            o->until_target = 1;
            o->target_given = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            exit(0);
        }
        fprintf(stderr, "fit_volume: unknown or incomplete option '%s' (see --help)\n", a);
        return 1;
    }
    if (i < argc) {
        fprintf(stderr, "fit_volume: option '%s' needs a value\n", argv[i]);
        return 1;
    }
    if (o->batch > 8192) o->batch -= o->batch % 8192; /* whole rows of the batch plan */
    if (o->size < 8 || o->size > 4096 || o->views < 1 || o->heldout < 1 || o->steps < 1 || o->batch < 1 ||
        o->eval_every < 1 || !(o->lr > 0.0) || !(o->tv >= 0.0 || o->tv == UNSET) || !(o->tv_color >= 0.0 || o->tv_color == UNSET) ||
        !(o->alpha_weight >= 0.0 || o->alpha_weight == UNSET) || o->downsample < 1 || o->downsample > 8 ||
        o->model_scale < 1 || o->model_scale > 4 || o->grid < 4 || o->grid > 1024 || o->threads < 0 || o->threads > 1024) {
        fprintf(stderr, "fit_volume: --size 8..4096, --views, --heldout, --steps, --batch, --eval-every >= 1, "
                        "--lr > 0, --tv, --tv-color, --alpha-weight >= 0, --downsample 1..8, --model-scale 1..4, --grid 4..1024, "
                        "--threads 0..1024\n");
        return 1;
    }
    if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) {
        fprintf(stderr, "fit_volume: --device must be cpu or cuda, not '%s'\n", o->device);
        return 1;
    }
    return 0;
}

/* The CT head's ground truth (the default): a dense grid of the volume (or
 * its downsample^3 block means), the fixed transfer function and light,
 * read as a scene (tools/dvren_scene.h) whose field gets the volume's path;
 * its stages come back in gt_field, gt_shader. Prints its own errors. */
static int make_ct_truth(dvren_context* ctx, const opts* o, dvren_stage** gt_field, dvren_stage** gt_shader)
{
    /* opacity rises monotonically from faint skin to opaque bone (a
     * transfer function with a skin shell, opacity up then down again
     * within one voxel's range of values, is a harder target for a grid
     * whose density is softplus of interpolated values) */
    static const char* const truth =
        "{\"field\": {\"plugin\": \"dense_grid\", \"params\": {\"storage\": \"f32\"}},\n"
        " \"shader\": {\"plugin\": \"emission_absorption\", \"params\": {\"sigma_scale\": 30, \"shading\": true,\n"
        "     \"specular\": 0, \"light_dir\": [0.5, -1.0, -0.6],\n"
        "     \"tf_opacity\": [[0, 0], [400, 0], [900, 0.03], [1300, 0.3], [2000, 0.8], [4000, 0.8]],\n"
        "     \"tf_color\": [[400, 0.85, 0.55, 0.45], [1000, 0.95, 0.75, 0.65], [1500, 1, 0.95, 0.85]]}}}\n";
    dvren_scenefile sf;
    dvren_params* fp = NULL;
    dvren_instance_info info;
    float* small = NULL;
    int rc = 1;
    memset(&sf, 0, sizeof sf);
    if (dvren_scenefile_parse(&sf, "CT head ground truth", truth, strlen(truth), NULL) ||
        !cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sf.root, "field"), "params"),
                                 "file", o->volume) ||
        dvren_scenefile_build(&sf, ctx)) {
        fprintf(stderr, "fit_volume: %s\n", sf.error[0] ? sf.error : "out of memory");
        goto out;
    }
    *gt_field = sf.field;
    *gt_shader = sf.shader;
    sf.field = sf.shader = NULL; /* kept; the scene's sampler is not used */
    if (o->downsample > 1) {
        /* a smaller ground truth (for quick runs): the mean of each
         * downsample^3 block of voxels, over the same box */
        const dvren_tensor* src;
        dvren_tensor t;
        int64_t sh[4];
        double bbox[6];
        int X, Y, Z, x, y, z, k, f = o->downsample;
        TRY(dvren_stage_info(*gt_field, &info));
        src = &info.buffers[0].tensor;
        Z = (int)src->shape[0];
        Y = (int)src->shape[1];
        X = (int)src->shape[2];
        sh[0] = (Z + f - 1) / f;
        sh[1] = (Y + f - 1) / f;
        sh[2] = (X + f - 1) / f;
        sh[3] = 1;
        small = (float*)calloc((size_t)(sh[0] * sh[1] * sh[2]), sizeof(float));
        if (!small) {
            fprintf(stderr, "fit_volume: out of memory for the downsampled volume\n");
            goto out;
        }
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
        TRY(dvren_params_create(ctx, &fp));
        TRY(dvren_params_set_tensor(fp, "data", &t));
        TRY(dvren_params_set_numbers(fp, "bbox", bbox, 6));
        dvren_stage_destroy(*gt_field);
        *gt_field = NULL;
        TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", fp, gt_field));
    }
    rc = 0;
fail:
out:
    free(small); /* the stage holds its own copy */
    dvren_params_destroy(fp);
    dvren_scenefile_free(&sf);
    return rc;
}

int main(int argc, char** argv)
{
    const double fov = 0.75, radius = 3.0;
    opts o = {"cpu", 64, 64, 8, 3000, 8192, 100, 0, 1, 1, 128, 0, 0, 0.3, UNSET, UNSET, UNSET, 35.0, 1, NULL, NULL, NULL, NULL, NULL, NULL};
    char csv_default[1200], png_default[1200];
    const char* data = getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "../shared/data";
    char vol[1024];
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_params *mp = NULL, *gp = NULL, *np = NULL;
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
    dvren_tensor view_rays_t, batch_rays_t, batch_tgt_t, batch_alpha_t, rgb;
    dvren_nerf_views vs;
    float *train_rays = NULL, *train_rgb = NULL, *held_rays = NULL, *held_rgb = NULL, *view_rays = NULL;
    float *batch_rays = NULL, *batch_tgt = NULL, *fit_rgb = NULL, *side = NULL, *train_alpha = NULL, *batch_alpha = NULL;
    int* is_held = NULL;
    FILE* csv = NULL;
    size_t px, ntrain;
    int64_t shape[2];
    double t_start, t_train = 0.0, last_psnr = 0.0, first_hit = -1.0, box[6], vox = 0.0;
    view_camera cam0; /* the first held-out view (--save) */
    long long rays_done = 0;
    int v, step, k, status = 1, dims[3], W, H;
    uint32_t pi;

    memset(&vs, 0, sizeof vs);
    if (parse(argc, argv, &o)) return 1;
    if (!o.name) {
        /* the data's name, so that runs on different data keep their own files */
        static char folder[256];
        const char *end = o.images ? strrchr(o.images, '/') : NULL, *start = end;
        o.name = "ct_head";
        if (o.images) {
            if (!end) {
                o.name = "images";
            } else {
                while (start > o.images && start[-1] != '/') --start;
                snprintf(folder, sizeof folder, "%.*s", (int)(end - start), start);
                o.name = folder[0] && strcmp(folder, ".") ? folder : "images";
            }
        }
    }
    snprintf(csv_default, sizeof csv_default, "out/fit_%s_curve.csv", o.name);
    snprintf(png_default, sizeof png_default, "out/fit_%s.png", o.name);
    if (!o.csv) o.csv = csv_default;
    if (!o.png) o.png = png_default;
    if (o.alpha_weight == UNSET) o.alpha_weight = o.images ? 1.0 : 0.0;
    if (o.tv == UNSET) o.tv = o.images ? 3e-3 : 1e-4;
    if (o.tv_color == UNSET) o.tv_color = o.images ? 1e-2 : 0.0;
    if (o.alpha_weight > 0.0 && !o.images) {
        fprintf(stderr, "fit_volume: --alpha-weight needs --images (the CT head's views have no alpha targets)\n");
        return 1;
    }
    rng_state = o.seed;
    if (!o.volume) {
        snprintf(vol, sizeof vol, "%s/ct_head/quarter.nhdr", data);
        o.volume = vol;
    }
    if (o.images) {
        /* ---- views from a transforms JSON: hold out --heldout of them, evenly spread */
        double half = 1e30;
        int t = 0, h = 0;
        dvren_nerf_report rep;
        char err[2600];
        if (dvren_nerf_load(o.images, o.size, &vs, &rep, err, sizeof err)) {
            fprintf(stderr, "fit_volume: %s\n", err);
            return 1;
        }
        if (rep.missing)
            fprintf(stderr, "[fit] %s: %d of its %d frames have images; %d listed images are absent (the first: %s)\n",
                    o.images, vs.count, rep.frames, rep.missing, rep.first_missing);
        if (o.heldout >= vs.count) {
            fprintf(stderr, "fit_volume: --heldout %d leaves no training view of the %d loaded\n", o.heldout, vs.count);
            dvren_nerf_views_free(&vs);
            return 1;
        }
        W = vs.width;
        H = vs.height;
        px = (size_t)W * H;
        o.views = vs.count - o.heldout;
        is_held = (int*)calloc((size_t)vs.count, sizeof(int));
        train_rays = (float*)malloc((size_t)o.views * px * 6 * sizeof(float));
        train_rgb = (float*)malloc((size_t)o.views * px * 3 * sizeof(float));
        train_alpha = (float*)malloc((size_t)o.views * px * sizeof(float));
        held_rays = (float*)malloc((size_t)o.heldout * px * 6 * sizeof(float));
        held_rgb = (float*)malloc((size_t)o.heldout * px * 3 * sizeof(float));
        if (!is_held || !train_rays || !train_rgb || !train_alpha || !held_rays || !held_rgb) {
            fprintf(stderr, "fit_volume: out of memory for %d views of %d x %d\n", vs.count, W, H);
            goto fail;
        }
        for (k = 0; k < o.heldout; ++k) is_held[(size_t)k * vs.count / o.heldout] = 1;
        {
            /* the first held-out view (frame 0) as a look-at camera: the
             * pose's columns are the camera's right, up and backward axes
             * (Blender/OpenGL), its last column the eye */
            const double* m = vs.pose;
            for (k = 0; k < 3; ++k) {
                cam0.eye[k] = m[4 * k + 3];
                cam0.target[k] = m[4 * k + 3] - m[4 * k + 2];
                cam0.up[k] = m[4 * k + 1];
            }
            cam0.fov_y = 2.0 * atan(0.5 * vs.height / vs.focal);
        }
        for (v = 0; v < vs.count; ++v) {
            int held = is_held[v], slot = held ? h++ : t++;
            const double* m = vs.pose + 12 * v;
            double dist = sqrt(m[3] * m[3] + m[7] * m[7] + m[11] * m[11]);
            memcpy((held ? held_rays : train_rays) + (size_t)slot * px * 6, vs.rays + (size_t)v * px * 6,
                   px * 6 * sizeof(float));
            memcpy((held ? held_rgb : train_rgb) + (size_t)slot * px * 3, vs.rgb + (size_t)v * px * 3,
                   px * 3 * sizeof(float));
            if (!held) memcpy(train_alpha + (size_t)slot * px, vs.alpha + (size_t)v * px, px * sizeof(float));
            if (!held && dist < half) half = dist;
        }
        /* the object lies well inside the cameras' sphere: carve within half its radius */
        if (carve_box(&vs, is_held, 0.5 * half, box)) {
            fprintf(stderr, "fit_volume: '%s': no point near the origin is seen covered (alpha > 0) in every training view "
                            "(are the poses or the alpha channels wrong?)\n", o.images);
            goto fail;
        }
        vox = 0.0;
        for (k = 0; k < 3; ++k)
            if (box[3 + k] - box[k] > vox) vox = box[3 + k] - box[k];
        vox /= o.grid;
        for (k = 0; k < 3; ++k) {
            dims[k] = (int)ceil((box[3 + k] - box[k]) / vox) + 1;
            box[3 + k] = box[k] + (dims[k] - 1) * vox; /* cubic voxels */
        }
        dvren_nerf_views_free(&vs); /* copied into the training and held-out sets */
    } else {
        W = H = o.size;
        px = (size_t)W * H;
        sphere_eye(0, o.heldout, 1.0, radius, cam0.eye); /* the first held-out view, as made below */
        pinhole_up(cam0.eye, cam0.up);
        cam0.target[0] = cam0.target[1] = cam0.target[2] = 0.0;
        cam0.fov_y = fov;
    }
    ntrain = (size_t)o.views * px;
    memset(&cd, 0, sizeof cd);
    cd.log = fit_log;
    cd.log_level = DVREN_LOG_WARN;
    cd.threads = (uint32_t)o.threads;
    if (!strcmp(o.device, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) {
        fprintf(stderr, "fit_volume: %s\n", dvren_last_error(NULL));
        goto fail;
    }

    /* ---- the model's box and the sampler: one sample per model voxel
     * along the ray for the images; one per ground-truth voxel for the CT
     * head, the same for the ground truth and the fit */
    if (!o.images) {
        if (make_ct_truth(ctx, &o, &gt_field, &gt_shader)) goto fail;
        TRY(dvren_stage_info(gt_field, &info));
        vox = info.voxel_world;
        for (k = 0; k < 3; ++k) {
            /* model_scale - 1 more voxels between the ground truth's */
            dims[k] = o.model_scale * (int)lround((info.bounds_max[k] - info.bounds_min[k]) / info.voxel_size[k]) + 1;
            box[k] = info.bounds_min[k];
            box[3 + k] = info.bounds_max[k];
        }
    }
    TRY(dvren_params_create(ctx, &mp));
    TRY(dvren_params_set_bool(mp, "jitter", 0)); /* the step is the plans' (step_world below) */
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", mp, &sampler));
    memset(&sd, 0, sizeof sd);
    sd.sampler = sampler;
    if (!o.images) {
        sd.field = gt_field;
        sd.shader = gt_shader;
        TRY(dvren_scene_create(ctx, &sd, &gt));
    }

    /* ---- the model: a 4-channel grid over the box, nearly empty */
    {
        double d3[3], fill[4] = {-4.0, 0.0, 0.0, 0.0};
        for (k = 0; k < 3; ++k) d3[k] = dims[k];
        TRY(dvren_params_create(ctx, &gp));
        TRY(dvren_params_set_string(gp, "generator", "constant"));
        TRY(dvren_params_set_numbers(gp, "fill", fill, 4));
        TRY(dvren_params_set_numbers(gp, "dims", d3, 3));
        TRY(dvren_params_set_numbers(gp, "bbox", box, 6));
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
    if (!o.images) {
        train_rays = (float*)malloc(ntrain * 6 * sizeof(float));
        train_rgb = (float*)malloc(ntrain * 3 * sizeof(float));
        held_rays = (float*)malloc((size_t)o.heldout * px * 6 * sizeof(float));
        held_rgb = (float*)malloc((size_t)o.heldout * px * 3 * sizeof(float));
    }
    view_rays = (float*)malloc(px * 6 * sizeof(float));
    fit_rgb = (float*)malloc((size_t)o.heldout * px * 3 * sizeof(float));
    batch_rays = (float*)malloc((size_t)o.batch * 6 * sizeof(float));
    batch_tgt = (float*)malloc((size_t)o.batch * 3 * sizeof(float));
    batch_alpha = (float*)malloc((size_t)o.batch * sizeof(float));
    if (!batch_alpha ||!train_rays || !train_rgb || !held_rays || !held_rgb || !view_rays || !fit_rgb || !batch_rays || !batch_tgt) {
        fprintf(stderr, "fit_volume: out of memory for %d views of %d x %d\n", o.views, W, H);
        goto fail;
    }
    shape[0] = (int64_t)px;
    shape[1] = 6;
    TRY(dvren_tensor_wrap(view_rays, DVREN_DTYPE_F32, 2, shape, NULL, &view_rays_t));
    memset(&pd, 0, sizeof pd);
    pd.width = (uint32_t)W;
    pd.height = (uint32_t)H;
    pd.outputs = DVREN_OUTPUT_RGB;
    pd.step_world = (float)vox;
    pd.rays = &view_rays_t;
    TRY(dvren_plan_create(ctx, &pd, &view_plan));
    TRY(dvren_framebuffer_create(ctx, view_plan, &view_fb));
    if (!o.images) {
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
    }
    fprintf(stderr,
            "[fit] %s: %d training and %d held-out views, %d x %d; model grid %d x %d x %d x 4 over "
            "[%.3f %.3f %.3f]..[%.3f %.3f %.3f] on %s\n",
            o.images ? o.images : o.volume, o.views, o.heldout, W, H, dims[0], dims[1], dims[2], box[0], box[1], box[2],
            box[3], box[4], box[5], o.device);

    /* ---- training: random ray batches, L2, TV on the density, Adam */
    shape[0] = o.batch;
    shape[1] = 6;
    TRY(dvren_tensor_wrap(batch_rays, DVREN_DTYPE_F32, 2, shape, NULL, &batch_rays_t));
    shape[1] = 3;
    TRY(dvren_tensor_wrap(batch_tgt, DVREN_DTYPE_F32, 2, shape, NULL, &batch_tgt_t));
    TRY(dvren_tensor_wrap(batch_alpha, DVREN_DTYPE_F32, 1, shape, NULL, &batch_alpha_t));
    memset(&pd, 0, sizeof pd);
    /* a batch is a width x height "image" of rays (each side at most 32768) */
    pd.width = (uint32_t)(o.batch <= 8192 ? o.batch : 8192);
    pd.height = (uint32_t)(o.batch / (int)pd.width);
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE | (o.alpha_weight > 0.0 ? DVREN_OUTPUT_ALPHA : 0u);
    pd.step_world = (float)vox;
    pd.rays = &batch_rays_t;
    TRY(dvren_plan_create(ctx, &pd, &batch_plan));
    TRY(dvren_framebuffer_create_outputs(ctx, batch_plan, pd.outputs, &batch_fb));
    TRY(dvren_framebuffer_create_outputs(ctx, batch_plan, DVREN_OUTPUT_RGB | (o.alpha_weight > 0.0 ? DVREN_OUTPUT_ALPHA : 0u),
                                         &batch_g));
    od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    od.lr = (float)o.lr;
    od.lr_decay = 0.1f; /* a tenth of the rate by the last step */
    od.decay_steps = (uint32_t)o.steps;
    TRY(dvren_optimizer_create(model, &od, &opt));
    memset(&ld, 0, sizeof ld);
    ld.kind = DVREN_LOSS_L2;
    ld.target_rgb = &batch_tgt_t;
    if (o.alpha_weight > 0.0) { /* coverage of the photographs: L2 on alpha too */
        ld.target_alpha = &batch_alpha_t;
        ld.alpha_weight = (float)o.alpha_weight;
    }
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
            if (train_alpha) batch_alpha[k] = train_alpha[r];
        }
        TRY(dvren_scene_zero_grad(model));
        TRY(dvren_render(model, batch_plan, batch_fb, NULL));
        TRY(dvren_loss(ctx, &ld, batch_fb, batch_g, eval ? &loss : NULL));
        TRY(dvren_render_backward(model, batch_plan, batch_g, &bo));
        if (o.tv > 0.0) TRY(dvren_tv_regularize(model, &(dvren_tv_desc){.param = pi, .weight = (float)o.tv, .c1 = 1}, NULL));
        if (o.tv_color > 0.0)
            TRY(dvren_tv_regularize(model, &(dvren_tv_desc){.param = pi, .weight = (float)o.tv_color, .c0 = 1, .c1 = 4}, NULL));
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
            first_hit >= 0.0 ? "" : o.target_given ? "; target not reached\n" : "\n");
    if (first_hit >= 0.0) fprintf(stderr, "; reached %.1f dB after %.1f s of training\n", o.target, first_hit);

    /* ---- ground truth over the fit, four held-out views, each enlarged to
     * at least 256 pixels across (written whole or not at all) */
    {
        int n = o.heldout < 4 ? o.heldout : 4, z = (256 + W - 1) / W, SW = n * W * z, SH = 2 * H * z, x, y;
        side = (float*)malloc((size_t)SW * SH * 3 * sizeof(float));
        if (!side) {
            fprintf(stderr, "fit_volume: out of memory for the side-by-side image\n");
            goto fail;
        }
        for (y = 0; y < SH; ++y)
            for (x = 0; x < SW; ++x) {
                int sx = x / z, sy = y / z;
                memcpy(side + ((size_t)y * SW + x) * 3,
                       (sy < H ? held_rgb : fit_rgb) + ((size_t)(sx / W) * px + (size_t)(sy % H) * W + sx % W) * 3,
                       3 * sizeof(float));
            }
        TRY(dvren_image_write_png(ctx, o.png, side, NULL, (uint32_t)SW, (uint32_t)SH, 8));
        fprintf(stderr, "[fit] wrote %s (ground truth above, fit below, %d x %d) and %s\n", o.png, SW, SH, o.csv);
    }
    if (o.save && save_fit(ctx, model, pi, o.save, W, H, box, vox, &cam0, fit_rgb)) goto fail;
    status = last_psnr >= o.target || !o.target_given ? 0 : 2;
fail:
    if (csv) fclose(csv);
    free(side);
    free(is_held);
    dvren_nerf_views_free(&vs);
    free(train_rays);
    free(train_rgb);
    free(train_alpha);
    free(batch_alpha);
    free(held_rays);
    free(held_rgb);
    free(view_rays);
    free(fit_rgb);
    free(batch_rays);
    free(batch_tgt);
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
