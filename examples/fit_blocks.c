/* examples/fit_blocks.c - recover a block world's materials from images.
 *
 * The ground truth is a block world (docs/blocks.md; default the
 * MagicaVoxel model $DVREN_DATA/voxels/chr_cop1.vox, DVREN_DATA defaulting
 * to ../shared/data) rendered in "hard" mode (each block the one-hot
 * argmax of its logits) through the block_world field, the dda sampler and
 * the terrain shader from --views perspective cameras: N on a circle
 * around the world (30 degrees above the horizon) and M from above (75
 * degrees), each framing the world's bounding sphere. Those images and
 * the blocks they show (the cell ids of DVREN_OUTPUT_SURFACE_ID, mapped to
 * blocks through the world's cell[] array) are all the fit sees of the
 * truth: the geometry (which cells are solid) is given, the materials are
 * not. The fit starts from random logits, N(0, --init-std^2) from a seeded
 * generator, and trains "field.logits" with Adam (dvren_optimizer) through
 * the softmax (or Gumbel-softmax) mixing, annealing the temperature
 * geometrically from the first to the second --temperature value with
 * dvren_stage_update (in gumbel mode with a new noise seed every step).
 * Each step renders --batch-views of the views (a fresh random order of
 * the views every pass over them) and backpropagates the L2 loss
 * (dvren_loss) against their targets. Every --eval-every steps it prints
 *   [fit_blocks] step 100  loss 2.1e-03  tau 0.46  visible 95.9 %  all 88.1 %
 * where "visible" is the share of the blocks seen by at least one target
 * view whose argmax is the true material (the goal: 100 %), and "all" the
 * share of all blocks (hidden blocks get no gradient: their argmax stays
 * random).
 *
 * It writes into --out DIR (default out/fit_blocks_NAME, NAME the world
 * file's name without its extension; the folder is created, its parent
 * must exist):
 *   curve.csv     step,loss,temperature,visible_accuracy,all_accuracy: every
 *                 step's loss (the mean of its views' L2 losses) and
 *                 temperature; the accuracies (fractions in [0, 1]) on the
 *                 steps that evaluate them, empty on the others
 *   loss.png      the loss curve: loss on a log scale against the step,
 *                 each step (light) and the mean over the last pass over
 *                 the views (dark), decade grid lines
 *   compare.png   view 0 in hard mode: target | initial logits | recovered
 *                 logits, enlarged to at least 256 pixels high
 *   world.json    the recovered world (dvren_blocks_save: the truth's
 *                 geometry and material table, the fitted logits)
 * Each file is written atomically; if one cannot be written, those written
 * before are removed again.
 *
 * --patch X0,Y0,W,H switches to the small example of the original renderer:
 * it starts from the world's own logits in softmax mode at the first
 * temperature and steers the mean colour of the pixels [X0, X0+W) x
 * [Y0, Y0+H) of view 0 to --rgb R,G,B by Adam on the logits, with the loss
 * |mean(patch) - rgb|^2 whose cotangent (2 (mean - rgb) / (W H) on each
 * patch pixel, 0 elsewhere) it writes into a framebuffer with
 * dvren_framebuffer_write; it prints the mean colour before and after and
 * writes DIR/patch.png (before | after, the patch outlined) and
 * DIR/patch_world.json.
 *
 *   build/fit_blocks [--world PATH] [--device cpu|cuda] [--views 8[,2]] [--size 128x128]
 *                    [--steps 300] [--lr 0.1] [--temperature 1.0,0.1] [--mode softmax|gumbel]
 *                    [--batch-views 1] [--init-std 0.1] [--seed 1] [--eval-every 25]
 *                    [--target-accuracy PERCENT] [--threads 0] [--out DIR]
 *                    [--patch X0,Y0,W,H [--rgb R,G,B]]
 *
 * Exit status: 0 on success; 2 when --target-accuracy was given and the
 * final accuracy on the visible blocks is below it; 1 on an error (bad
 * option, a world that cannot be read, no CUDA device for --device cuda:
 * never a silent fallback to the CPU, a file that cannot be written). */
#define _POSIX_C_SOURCE 200809L /* mkdir, stat under -std=c11 */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"
#include "dvren_image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        if ((call) != DVREN_OK) {                                                                                      \
            fprintf(stderr, "fit_blocks: %s\n", dvren_last_error(ctx));                                                \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

#define FB_PI 3.14159265358979323846

typedef struct opts {
    const char *world, *device, *mode, *out;
    int ring, above, width, height, steps, batch_views, eval_every, threads, patch, patch_rect[4], steps_given;
    double lr, tau0, tau1, init_std, target_accuracy, rgb[3];
    unsigned long long seed;
} opts;

/* Log sink: warnings to stderr; errors are reported once, by TRY. */
static void fb_log(void* user, dvren_log_level level, const char* line)
{
    if (level != DVREN_LOG_ERROR) dvren_log_to_file(user, level, line);
}

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 (Steele, Lea and Flood 2014): the initial logits and the view order */
static uint64_t rng_state;
static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in (0, 1): 53 random bits, never 0 */
static double rng_unit(void) { return ((double)(rng_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
/* standard normal (Box and Muller 1958) */
static double rng_normal(void) { return sqrt(-2.0 * log(rng_unit())) * cos(2.0 * FB_PI * rng_unit()); }

/* ------------------------------------------------------------------ plot */

/* 3 x 5 glyphs, one row of 3 bits per entry (bit 2 the left column). */
static const char fb_glyph_chars[] = "0123456789-.eslotpa";
static const unsigned char fb_glyphs[][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {0, 0, 7, 0, 0}, {0, 0, 0, 0, 2},
    {2, 5, 7, 4, 3}, {3, 4, 2, 1, 6}, {6, 2, 2, 2, 7}, {0, 2, 5, 5, 2}, {2, 7, 2, 2, 3}, {6, 5, 6, 4, 4},
    {0, 3, 5, 5, 3}};

typedef struct canvas {
    float* rgb; /* (h, w, 3) */
    int w, h;
} canvas;

static void put(canvas* c, int x, int y, const float col[3])
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->rgb + 3 * ((size_t)y * c->w + x), col, 3 * sizeof(float));
}

/* Bresenham's line from (x0, y0) to (x1, y1), both ends drawn. */
static void line(canvas* c, int x0, int y0, int x1, int y1, const float col[3])
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        int e2 = 2 * e; /* both tests see the error before either step */
        put(c, x0, y0, col);
        if (x0 == x1 && y0 == y1) break;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* Text at (x, y) (top left), glyphs 3 x 5 scaled by s; returns the width drawn. */
static int text(canvas* c, int x, int y, int s, const char* str, const float col[3])
{
    int x0 = x;
    for (; *str; ++str) {
        const char* g = strchr(fb_glyph_chars, *str);
        int r, b, i, j;
        if (g && *str)
            for (r = 0; r < 5; ++r)
                for (b = 0; b < 3; ++b)
                    if (fb_glyphs[g - fb_glyph_chars][r] & (4 >> b))
                        for (j = 0; j < s; ++j)
                            for (i = 0; i < s; ++i) put(c, x + b * s + i, y + r * s + j, col);
        x += 4 * s;
    }
    return x - x0;
}

/* The loss curve (n values, step k + 1 at index k) as an RGB image of w x h
 * pixels: log10(loss) between whole decades on y, the step on x, decade
 * grid lines labelled "1e-3", a few step ticks, each step's loss in light
 * blue and its running mean over `window` steps in dark blue. Returns the
 * image (malloc'ed) or NULL when out of memory. */
static float* plot_loss(const double* loss, int n, int window, int w, int h)
{
    static const float white[3] = {1, 1, 1}, black[3] = {0, 0, 0}, grid[3] = {0.85f, 0.85f, 0.85f};
    static const float light[3] = {0.6f, 0.75f, 1.0f}, dark[3] = {0.05f, 0.2f, 0.7f};
    const int L = 70, R = 20, T = 20, B = 50, pw = w - L - R, ph = h - T - B;
    canvas c;
    double lo = 1e300, hi = -1e300, tick, run = 0.0;
    int k, d0, d1, d, px = 0, py = 0, mx = 0, my = 0;
    char buf[32];
    c.w = w;
    c.h = h;
    c.rgb = (float*)malloc((size_t)w * h * 3 * sizeof(float));
    if (!c.rgb) return NULL;
    for (k = 0; k < w * h; ++k) memcpy(c.rgb + 3 * k, white, sizeof white);
    for (k = 0; k < n; ++k)
        if (loss[k] > 0.0 && isfinite(loss[k])) {
            lo = fmin(lo, log10(loss[k]));
            hi = fmax(hi, log10(loss[k]));
        }
    if (lo > hi) lo = hi = -1.0; /* no positive loss: an empty decade */
    d0 = (int)floor(lo);
    d1 = (int)ceil(hi);
    if (d1 <= d0) d1 = d0 + 1;
#define XOF(step) (L + (int)lround((double)((step) - 1) / (n > 1 ? n - 1 : 1) * (pw - 1)))
#define YOF(lg) (T + ph - 1 - (int)lround(((lg) - d0) / (double)(d1 - d0) * (ph - 1)))
    for (d = d0; d <= d1; ++d) {
        int y = YOF((double)d);
        line(&c, L, y, L + pw - 1, y, grid);
        snprintf(buf, sizeof buf, "1e%d", d);
        text(&c, L - 8 - 8 * (int)strlen(buf), y - 5, 2, buf, black);
    }
    /* step ticks every 1, 2 or 5 times a power of ten, about five of them */
    tick = pow(10.0, floor(log10(fmax(1.0, n / 5.0))));
    if (n / tick > 10) tick *= n / tick > 25 ? 5 : 2;
    for (k = 0; k <= n; k += (int)tick) {
        int x = XOF(k < 1 ? 1 : k);
        line(&c, x, T + ph, x, T + ph + 5, black);
        snprintf(buf, sizeof buf, "%d", k);
        text(&c, x - 4 * (int)strlen(buf), T + ph + 9, 2, buf, black);
        if (tick < 1) break;
    }
    text(&c, L + pw / 2 - 16, h - 16, 2, "step", black);
    text(&c, 4, 4, 2, "loss", black);
    for (k = 0; k < n; ++k) {
        double v = loss[k] > 0.0 && isfinite(loss[k]) ? loss[k] : pow(10.0, d0);
        int x = XOF(k + 1), y = YOF(log10(v));
        if (k) line(&c, px, py, x, y, light);
        px = x;
        py = y;
    }
    for (k = 0; k < n; ++k) {
        int x, y;
        run += loss[k] - (k >= window ? loss[k - window] : 0.0);
        x = XOF(k + 1);
        y = YOF(log10(fmax(run / (k + 1 < window ? k + 1 : window), pow(10.0, d0))));
        if (k) line(&c, mx, my, x, y, dark);
        mx = x;
        my = y;
    }
#undef XOF
#undef YOF
    line(&c, L, T, L, T + ph, black);
    line(&c, L, T + ph, L + pw - 1, T + ph, black);
    return c.rgb;
}

/* n images (H, W, 3) side by side, each enlarged z times (nearest neighbour). */
static float* side_by_side(const float* const* img, int n, int W, int H, int z)
{
    int SW = n * W * z, SH = H * z, x, y;
    float* out = (float*)malloc((size_t)SW * SH * 3 * sizeof(float));
    if (!out) return NULL;
    for (y = 0; y < SH; ++y)
        for (x = 0; x < SW; ++x) {
            int sx = x / z, sy = y / z;
            memcpy(out + 3 * ((size_t)y * SW + x), img[sx / W] + 3 * ((size_t)sy * W + sx % W), 3 * sizeof(float));
        }
    return out;
}

/* ------------------------------------------------------------------ options */

static void usage(void)
{
    fputs("usage: fit_blocks [options]   recover a block world's materials from rendered views\n"
          "  --world PATH            .vox, .json or .npy world ($DVREN_DATA/voxels/chr_cop1.vox)\n"
          "  --device cpu|cuda       (cpu; cuda fails when there is no GPU: no fallback)\n"
          "  --views N[,M]           N views on a circle, M from above (8,2)\n"
          "  --size WxH              image size (128x128)\n"
          "  --steps N               Adam steps (300; --patch: 100)\n"
          "  --lr X                  Adam learning rate (0.1)\n"
          "  --temperature A,B       softmax temperature annealed from A to B (1.0,0.1; --patch: A throughout)\n"
          "  --mode softmax|gumbel   mixing while training (softmax; gumbel: a new noise seed each step)\n"
          "  --batch-views K         views rendered per step (1)\n"
          "  --init-std S            initial logits N(0, S^2) (0.1)\n"
          "  --seed N                initial logits and view order (1)\n"
          "  --eval-every N          accuracy every N steps (25)\n"
          "  --target-accuracy P     exit 2 when under P percent of the visible blocks are recovered\n"
          "  --threads N             CPU threads, 0 = all cores (0)\n"
          "  --out DIR               output folder (out/fit_blocks_NAME; created, its parent must exist)\n"
          "  --patch X0,Y0,W,H       instead: steer the mean colour of this patch of view 0 to --rgb\n"
          "  --rgb R,G,B             the patch's target mean colour (0.45,0.3,0.2)\n"
          "  -h, --help\n"
          "writes DIR/curve.csv, loss.png, compare.png (target | initial | final, view 0), world.json\n"
          "(--patch: patch.png, patch_world.json). Exit 0, 2 (target accuracy not reached), 1 (error).\n",
          stdout);
}

/* n comma-separated numbers from s into v; 0 on success. */
static int numbers(const char* s, double* v, int n)
{
    int k;
    for (k = 0; k < n; ++k) {
        char* end;
        errno = 0;
        v[k] = strtod(s, &end);
        if (end == s || errno || !isfinite(v[k])) return 1;
        if (k + 1 < n) {
            if (*end != ',') return 1;
            s = end + 1;
        } else if (*end) {
            return 1;
        }
    }
    return 0;
}

/* a whole number in [lo, hi] from s; 0 on success */
static int whole(const char* s, long lo, long hi, int* out)
{
    char* end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return 1;
    *out = (int)v;
    return 0;
}

static int parse(int argc, char** argv, opts* o)
{
    int i;
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        double d[4];
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            exit(0);
        }
        if (strncmp(a, "--", 2) || !strcmp(a, "--")) {
            fprintf(stderr, "fit_blocks: unexpected argument '%s' (see --help)\n", a);
            return 1;
        }
        if (!v) {
            static const char* const known[] = {"--world", "--device", "--mode", "--out", "--views", "--size", "--steps",
                                                "--batch-views", "--eval-every", "--threads", "--seed", "--lr",
                                                "--init-std", "--target-accuracy", "--temperature", "--patch", "--rgb"};
            size_t q;
            for (q = 0; q < sizeof known / sizeof known[0]; ++q)
                if (!strcmp(a, known[q])) {
                    fprintf(stderr, "fit_blocks: option '%s' needs a value (see --help)\n", a);
                    return 1;
                }
            fprintf(stderr, "fit_blocks: unknown option '%s' (see --help)\n", a);
            return 1;
        }
        ++i;
        if (!strcmp(a, "--world")) o->world = v;
        else if (!strcmp(a, "--device")) o->device = v;
        else if (!strcmp(a, "--mode")) o->mode = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--views")) {
            char* comma = strchr(v, ',');
            if (comma) {
                char n[32];
                snprintf(n, sizeof n, "%.*s", (int)(comma - v), v);
                bad = whole(n, 0, 360, &o->ring) || whole(comma + 1, 0, 360, &o->above);
            } else {
                bad = whole(v, 0, 360, &o->ring);
            }
            bad = bad || o->ring + o->above < 1;
        } else if (!strcmp(a, "--size")) {
            const char* x = strchr(v, 'x');
            char n[32];
            bad = !x || x - v > 20;
            if (!bad) {
                snprintf(n, sizeof n, "%.*s", (int)(x - v), v);
                bad = whole(n, 8, 4096, &o->width) || whole(x + 1, 8, 4096, &o->height);
            }
        } else if (!strcmp(a, "--steps")) {
            bad = whole(v, 1, 100000000, &o->steps);
            o->steps_given = 1;
        } else if (!strcmp(a, "--batch-views")) bad = whole(v, 1, 4096, &o->batch_views);
        else if (!strcmp(a, "--eval-every")) bad = whole(v, 1, 100000000, &o->eval_every);
        else if (!strcmp(a, "--threads")) bad = whole(v, 0, 1024, &o->threads);
        else if (!strcmp(a, "--seed")) {
            char* end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            bad = end == v || *end || errno || *v == '-';
        } else if (!strcmp(a, "--lr")) bad = numbers(v, &o->lr, 1) || !(o->lr > 0.0);
        else if (!strcmp(a, "--init-std")) bad = numbers(v, &o->init_std, 1) || !(o->init_std >= 0.0);
        else if (!strcmp(a, "--target-accuracy"))
            bad = numbers(v, &o->target_accuracy, 1) || !(o->target_accuracy >= 0.0 && o->target_accuracy <= 100.0);
        else if (!strcmp(a, "--temperature")) {
            if (strchr(v, ',')) {
                bad = numbers(v, d, 2);
                o->tau0 = d[0];
                o->tau1 = d[1];
            } else {
                bad = numbers(v, d, 1);
                o->tau0 = o->tau1 = d[0];
            }
            bad = bad || !(o->tau0 > 0.0) || !(o->tau1 > 0.0);
        } else if (!strcmp(a, "--patch")) {
            int k;
            bad = numbers(v, d, 4);
            for (k = 0; k < 4 && !bad; ++k) {
                bad = d[k] != floor(d[k]) || d[k] < 0 || d[k] > 4096 || (k >= 2 && d[k] < 1);
                o->patch_rect[k] = (int)d[k];
            }
            o->patch = 1;
        } else if (!strcmp(a, "--rgb")) {
            bad = numbers(v, o->rgb, 3) || !(o->rgb[0] >= 0 && o->rgb[1] >= 0 && o->rgb[2] >= 0);
        } else {
            fprintf(stderr, "fit_blocks: unknown option '%s' (see --help)\n", a);
            return 1;
        }
        if (bad) {
            fprintf(stderr,
                    "fit_blocks: %s '%s': expected %s\n", a, v,
                    !strcmp(a, "--views")         ? "N or N,M, whole numbers 0..360, at least one view"
                    : !strcmp(a, "--size")        ? "WxH, each 8..4096"
                    : !strcmp(a, "--temperature") ? "A or A,B, each > 0"
                    : !strcmp(a, "--patch")       ? "X0,Y0,W,H, whole numbers, W and H >= 1"
                    : !strcmp(a, "--rgb")         ? "R,G,B, each >= 0"
                    : !strcmp(a, "--lr")          ? "a number > 0"
                    : !strcmp(a, "--init-std")    ? "a number >= 0"
                    : !strcmp(a, "--target-accuracy") ? "a percentage, 0..100"
                    : !strcmp(a, "--seed")        ? "a whole number >= 0"
                    : !strcmp(a, "--threads")     ? "a whole number, 0..1024"
                                                  : "a whole number >= 1");
            return 1;
        }
    }
    if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) {
        fprintf(stderr, "fit_blocks: --device must be cpu or cuda, not '%s'\n", o->device);
        return 1;
    }
    if (strcmp(o->mode, "softmax") && strcmp(o->mode, "gumbel")) {
        fprintf(stderr, "fit_blocks: --mode must be softmax or gumbel, not '%s'\n", o->mode);
        return 1;
    }
    if (o->patch && ((long)o->patch_rect[0] + o->patch_rect[2] > o->width ||
                     (long)o->patch_rect[1] + o->patch_rect[3] > o->height)) {
        fprintf(stderr, "fit_blocks: --patch %d,%d,%d,%d does not lie inside the %d x %d image\n", o->patch_rect[0],
                o->patch_rect[1], o->patch_rect[2], o->patch_rect[3], o->width, o->height);
        return 1;
    }
    if (o->patch && !o->steps_given) o->steps = 100;
    return 0;
}

/* ------------------------------------------------------------------ views */

/* Camera v of ring + above: the ring's views 30 degrees above the horizon,
 * the others 75 degrees, each set evenly around the vertical axis through
 * the world's centre (offset so that no view looks along a grid axis), at
 * the distance where the bounding sphere of radius r fills the narrower
 * field of view. */
static dvren_status view_camera(int v, int ring, int above, const double centre[3], double r, float fov_y, int W, int H,
                                dvren_camera* cam)
{
    int top = v >= ring, n = top ? above : ring, k = top ? v - ring : v;
    double elev = (top ? 75.0 : 30.0) * FB_PI / 180.0, az = 2.0 * FB_PI * (k + (top ? 0.25 : 0.125)) / n;
    double tan_h = tan(0.5 * fov_y) * W / H, half = fmin(0.5 * fov_y, atan(tan_h)), dist = 1.05 * r / sin(half);
    float eye[3], at[3], up[3] = {0, 1, 0};
    int c;
    eye[0] = (float)(centre[0] + dist * cos(elev) * cos(az));
    eye[1] = (float)(centre[1] + dist * sin(elev));
    eye[2] = (float)(centre[2] + dist * cos(elev) * sin(az));
    for (c = 0; c < 3; ++c) at[c] = (float)centre[c];
    return dvren_camera_look_at(eye, at, up, fov_y, cam);
}

/* Fraction of the blocks (among those with mask[k], or all when mask is
 * NULL) whose argmax under logits is truth[k]; *count gets the number. */
static double accuracy(dvren_blocks_world* w, const float* logits, const uint32_t* truth, const unsigned char* mask,
                       uint32_t* right, uint32_t* count)
{
    uint32_t k, n = 0, ok = 0;
    float* keep = w->logits;
    w->logits = (float*)logits; /* dvren_blocks_argmax reads w->logits: the one argmax (lowest index on ties) */
    for (k = 0; k < w->block_count; ++k) {
        if (mask && !mask[k]) continue;
        n++;
        ok += dvren_blocks_argmax(w, k) == truth[k];
    }
    w->logits = keep;
    if (right) *right = ok;
    if (count) *count = n;
    return n ? (double)ok / n : 1.0;
}

/* mkdir DIR (one level); 0 when it is (now) a folder, else 1 with a message. */
static int make_dir(const char* dir)
{
    struct stat st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fit_blocks: --out '%s': cannot create the folder: %s (does its parent exist?)\n", dir,
                strerror(errno));
        return 1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fit_blocks: --out '%s': not a folder\n", dir);
        return 1;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "fit_blocks: --out '%s': the folder is not writable\n", dir);
        return 1;
    }
    return 0;
}

/* The outputs written so far (removed again when a later one fails). */
static char written[8][1200];
static int nwritten;
static void unwrite(void)
{
    while (nwritten > 0) remove(written[--nwritten]);
}

static int out_path(char* buf, size_t cap, const char* dir, const char* name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "fit_blocks: --out '%s': the path is too long\n", dir);
        return 1;
    }
    return 0;
}

/* Writes a PNG into DIR/name (and records it); prints its own error. */
static int write_png(dvren_context* ctx, const char* dir, const char* name, const float* rgb, int w, int h)
{
    char path[1200];
    if (out_path(path, sizeof path, dir, name)) return 1;
    if (dvren_image_write_png(ctx, path, rgb, NULL, (uint32_t)w, (uint32_t)h, 8) != DVREN_OK) {
        fprintf(stderr, "fit_blocks: %s\n", dvren_last_error(ctx));
        return 1;
    }
    snprintf(written[nwritten++], sizeof written[0], "%s", path);
    return 0;
}

/* Saves world w with the given logits into DIR/name (and records it). */
static int write_world(dvren_blocks_world* w, const float* logits, const char* dir, const char* name)
{
    char path[1200];
    if (out_path(path, sizeof path, dir, name)) return 1;
    memcpy(w->logits, logits, (size_t)w->block_count * w->material_count * sizeof(float));
    if (dvren_blocks_save(w, path) != 0) {
        fprintf(stderr, "fit_blocks: %s\n", w->error);
        return 1;
    }
    snprintf(written[nwritten++], sizeof written[0], "%s", path);
    return 0;
}

/* Mean colour of the patch (x0, y0, pw, ph) of an (H, W, 3) image of width W. */
static void patch_mean(const float* rgb, int W, const int* rect, double mean[3])
{
    int x, y, c;
    mean[0] = mean[1] = mean[2] = 0.0;
    for (y = rect[1]; y < rect[1] + rect[3]; ++y)
        for (x = rect[0]; x < rect[0] + rect[2]; ++x)
            for (c = 0; c < 3; ++c) mean[c] += rgb[3 * ((size_t)y * W + x) + c];
    for (c = 0; c < 3; ++c) mean[c] /= (double)rect[2] * rect[3];
}

/* ------------------------------------------------------------------ main */

int main(int argc, char** argv)
{
    opts o = {NULL, "cpu", "softmax", NULL, 8, 2, 128, 128, 300, 1, 25, 0, 0, {0, 0, 0, 0}, 0,
              0.1, 1.0, 0.1, 0.1, -1.0, {0.45, 0.3, 0.2}, 1};
    const char* data = getenv("DVREN_DATA") && *getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "../shared/data";
    const float fov_y = 0.6f;
    char world_default[1100], out_default[1100], name[256];
    dvren_blocks_world w;
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_params *fp = NULL, *up = NULL;
    dvren_stage *field = NULL, *shader = NULL, *sampler = NULL;
    dvren_scene* scene = NULL;
    dvren_scene_desc sd;
    dvren_plan_desc pd;
    dvren_plan** plans = NULL;
    dvren_framebuffer *fb = NULL, *cot = NULL;
    dvren_optimizer* opt = NULL;
    dvren_optimizer_desc od;
    dvren_loss_desc ld;
    dvren_backward_options bo;
    dvren_tensor t, view;
    float *rows = NULL, *table = NULL, *logits = NULL, *init = NULL, *targets = NULL, *img_init = NULL, *img_final = NULL;
    float *big = NULL, *plot = NULL, *grad_rgb = NULL;
    double *losses = NULL, *taus = NULL, *acc_vis = NULL, *acc_all = NULL, centre[3], radius = 0.0, t_start, t_train = 0.0;
    uint32_t *truth = NULL, M, N, k, pi, nvis = 0, right_vis = 0, right_all = 0;
    unsigned char* visible = NULL;
    int *order = NULL, K, W, H, v, s, c, status = 1, z;
    size_t px;
    int64_t shape[3];
    dvren_io_buf csv = {0, 0, 0, 0};
    double final_vis = 0.0, final_all = 0.0;

    memset(&w, 0, sizeof w);
    if (parse(argc, argv, &o)) return 1;
    if (!o.world) {
        snprintf(world_default, sizeof world_default, "%s/voxels/chr_cop1.vox", data);
        o.world = world_default;
    }
    {
        /* NAME: the world file's name without folder and extension */
        const char *base = strrchr(o.world, '/'), *dot;
        base = base ? base + 1 : o.world;
        dot = strrchr(base, '.');
        snprintf(name, sizeof name, "%.*s", (int)(dot && dot > base ? dot - base : (long)strlen(base)), base);
        if (!name[0]) snprintf(name, sizeof name, "world");
    }
    snprintf(out_default, sizeof out_default, "out/fit_blocks_%s", name);
    if (!o.out) o.out = out_default;
    rng_state = o.seed;
    K = o.ring + o.above;
    W = o.width;
    H = o.height;
    px = (size_t)W * H;

    /* ---- the world: geometry, materials and the true labels (the argmax of its logits) */
    if (dvren_blocks_load(&w, o.world, NULL) != 0) {
        fprintf(stderr, "fit_blocks: %s\n", w.error);
        dvren_blocks_free(&w);
        return 1;
    }
    N = w.block_count;
    M = w.material_count;
    if (N == 0) {
        fprintf(stderr, "fit_blocks: %s: the world has no blocks: nothing to fit\n", o.world);
        dvren_blocks_free(&w);
        return 1;
    }
    if (make_dir(o.out)) {
        dvren_blocks_free(&w);
        return 1;
    }
    for (c = 0; c < 3; ++c) {
        double e = (double)w.scale * w.size[c];
        centre[c] = w.origin[c] + 0.5 * e;
        radius += 0.25 * e * e;
    }
    radius = sqrt(radius);

    rows = (float*)malloc((size_t)N * (3 + M) * sizeof(float));
    table = (float*)malloc((size_t)M * 9 * sizeof(float));
    logits = (float*)malloc((size_t)N * M * sizeof(float));
    init = (float*)malloc((size_t)N * M * sizeof(float));
    truth = (uint32_t*)malloc((size_t)N * sizeof(uint32_t));
    visible = (unsigned char*)calloc(N, 1);
    targets = (float*)malloc((size_t)K * px * 3 * sizeof(float));
    img_init = (float*)malloc(px * 3 * sizeof(float));
    img_final = (float*)malloc(px * 3 * sizeof(float));
    grad_rgb = (float*)malloc(px * 3 * sizeof(float));
    plans = (dvren_plan**)calloc((size_t)K, sizeof *plans);
    order = (int*)malloc((size_t)K * sizeof(int));
    losses = (double*)malloc((size_t)o.steps * sizeof(double));
    taus = (double*)malloc((size_t)o.steps * sizeof(double));
    acc_vis = (double*)malloc((size_t)o.steps * sizeof(double));
    acc_all = (double*)malloc((size_t)o.steps * sizeof(double));
    if (!rows || !table || !logits || !init || !truth || !visible || !targets || !img_init || !img_final || !grad_rgb ||
        !plans || !order || !losses || !taus || !acc_vis || !acc_all) {
        fprintf(stderr, "fit_blocks: out of memory (%u blocks, %d views of %d x %d)\n", (unsigned)N, K, W, H);
        goto fail;
    }
    for (k = 0; k < N; ++k) {
        truth[k] = dvren_blocks_argmax(&w, k);
        for (c = 0; c < 3; ++c) rows[(size_t)k * (3 + M) + c] = (float)w.pos[3 * k + c];
        memcpy(rows + (size_t)k * (3 + M) + 3, w.logits + (size_t)k * M, M * sizeof(float));
    }
    for (k = 0; k < M; ++k)
        for (c = 0; c < 3; ++c) {
            table[9 * k + c] = w.materials[k].top[c];
            table[9 * k + 3 + c] = w.materials[k].side[c];
            table[9 * k + 6 + c] = w.materials[k].bottom[c];
        }

    /* ---- the context: the CPU, or the GPU and nothing else */
    memset(&cd, 0, sizeof cd);
    cd.log = fb_log;
    cd.log_level = DVREN_LOG_WARN;
    cd.threads = (uint32_t)o.threads;
    if (!strcmp(o.device, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) {
        fprintf(stderr, "fit_blocks: --device %s: %s\n", o.device, dvren_last_error(NULL));
        goto fail;
    }

    /* ---- the scene: block_world from the world's tensors (the truth's logits first), terrain, dda */
    {
        double size[3], origin[3];
        for (c = 0; c < 3; ++c) {
            size[c] = w.size[c];
            origin[c] = w.origin[c];
        }
        TRY(dvren_params_create(ctx, &fp));
        shape[0] = N;
        shape[1] = 3 + M;
        TRY(dvren_tensor_wrap(rows, DVREN_DTYPE_F32, 2, shape, NULL, &t));
        TRY(dvren_params_set_tensor(fp, "blocks", &t));
        shape[0] = M;
        shape[1] = 9;
        TRY(dvren_tensor_wrap(table, DVREN_DTYPE_F32, 2, shape, NULL, &t));
        TRY(dvren_params_set_tensor(fp, "material_table", &t));
        TRY(dvren_params_set_numbers(fp, "size", size, 3));
        TRY(dvren_params_set_number(fp, "scale", w.scale));
        TRY(dvren_params_set_numbers(fp, "origin", origin, 3));
        TRY(dvren_params_set_string(fp, "mode", "hard"));
        TRY(dvren_params_set_number(fp, "temperature", o.tau0));
        TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", fp, &field));
    }
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "terrain", NULL, &shader));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "dda", NULL, &sampler));
    memset(&sd, 0, sizeof sd);
    sd.field = field;
    sd.shader = shader;
    sd.sampler = sampler;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    TRY(dvren_scene_create(ctx, &sd, &scene));
    TRY(dvren_scene_param_find(scene, "field.logits", &pi));

    /* ---- the views and the targets (hard mode: each block its true material) */
    for (v = 0; v < K; ++v) {
        memset(&pd, 0, sizeof pd);
        pd.width = (uint32_t)W;
        pd.height = (uint32_t)H;
        pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_SURFACE_ID;
        pd.background[0] = 0.7f;
        pd.background[1] = 0.8f;
        pd.background[2] = 1.0f;
        TRY(view_camera(v, o.ring, o.above, centre, radius, fov_y, W, H, &pd.camera));
        TRY(dvren_plan_create(ctx, &pd, &plans[v]));
    }
    TRY(dvren_framebuffer_create(ctx, plans[0], &fb));
    TRY(dvren_framebuffer_create_outputs(ctx, plans[0], DVREN_OUTPUT_RGB, &cot));
    for (v = 0; v < K; ++v) {
        const uint32_t* id;
        size_t i;
        TRY(dvren_render(scene, plans[v], fb, NULL));
        TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &view));
        memcpy(targets + (size_t)v * px * 3, view.data, px * 3 * sizeof(float));
        TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_SURFACE_ID, &view));
        id = (const uint32_t*)view.data;
        for (i = 0; i < px; ++i) {
            uint64_t cells = (uint64_t)w.size[0] * (uint64_t)w.size[1] * (uint64_t)w.size[2];
            if (id[i] == DVREN_NO_SURFACE) continue;
            if (id[i] >= cells || w.cell[id[i]] == 0) {
                fprintf(stderr, "fit_blocks: view %d pixel %zu sees cell %u, which holds no block (a renderer bug)\n", v,
                        i, (unsigned)id[i]);
                goto fail;
            }
            visible[w.cell[id[i]] - 1] = 1;
        }
    }
    for (k = 0; k < N; ++k) nvis += visible[k];
    fprintf(stderr, "[fit_blocks] %s: %d x %d x %d cells, %u blocks, %u materials; %d views of %d x %d (%d around, %d above) "
                    "see %u blocks; on %s\n",
            o.world, w.size[0], w.size[1], w.size[2], (unsigned)N, (unsigned)M, K, W, H, o.ring, o.above, (unsigned)nvis,
            o.device);

    /* the model's start: random logits (--patch: the world's own, which the field holds) */
    if (!o.patch) {
        shape[0] = (int64_t)N * M;
        TRY(dvren_tensor_wrap(init, DVREN_DTYPE_F32, 1, shape, NULL, &t));
        for (k = 0; k < N * M; ++k) init[k] = (float)(o.init_std * rng_normal());
        TRY(dvren_scene_param_write(scene, pi, &t));
        TRY(dvren_render(scene, plans[0], fb, NULL)); /* the initial logits in hard mode, for compare.png */
        TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &view));
        memcpy(img_init, view.data, px * 3 * sizeof(float));
    }

    /* ---- training */
    TRY(dvren_params_create(ctx, &up));
    TRY(dvren_params_set_string(up, "mode", o.patch ? "softmax" : o.mode));
    TRY(dvren_params_set_number(up, "temperature", o.tau0));
    TRY(dvren_stage_update(field, up));
    od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    od.lr = (float)o.lr;
    TRY(dvren_optimizer_create(scene, &od, &opt));
    memset(&ld, 0, sizeof ld);
    ld.kind = DVREN_LOSS_L2;
    ld.weight = 1.0f / (float)o.batch_views;
    memset(&bo, 0, sizeof bo);
    bo.forward = fb; /* the replay takes each ray's totals from the forward pass */
    shape[0] = H;
    shape[1] = W;
    shape[2] = 3;

    if (o.patch) {
        /* ---- steer the mean colour of a patch of view 0 */
        const int* r = o.patch_rect;
        double before[3] = {0, 0, 0}, after[3], e0 = 0.0, e1 = 0.0, np = (double)r[2] * r[3];
        const float* imgs[2];
        memset(grad_rgb, 0, px * 3 * sizeof(float));
        TRY(dvren_tensor_wrap(grad_rgb, DVREN_DTYPE_F32, 3, shape, NULL, &t));
        t_start = now_s();
        for (s = 0; s < o.steps; ++s) {
            double mean[3], loss = 0.0;
            int x, y;
            TRY(dvren_scene_zero_grad(scene));
            TRY(dvren_render(scene, plans[0], fb, NULL));
            TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &view));
            patch_mean((const float*)view.data, W, r, mean);
            if (s == 0) memcpy(img_init, view.data, px * 3 * sizeof(float));
            if (s == 0) memcpy(before, mean, sizeof mean);
            for (c = 0; c < 3; ++c) loss += (mean[c] - o.rgb[c]) * (mean[c] - o.rgb[c]);
            if (s == 0) e0 = sqrt(loss);
            losses[s] = loss;
            /* dL/d(pixel colour) = 2 (mean - rgb) / (W H) inside the patch, 0 outside */
            for (y = r[1]; y < r[1] + r[3]; ++y)
                for (x = r[0]; x < r[0] + r[2]; ++x)
                    for (c = 0; c < 3; ++c) grad_rgb[3 * ((size_t)y * W + x) + c] = (float)(2.0 * (mean[c] - o.rgb[c]) / np);
            TRY(dvren_framebuffer_write(cot, DVREN_OUTPUT_RGB, &t));
            TRY(dvren_render_backward(scene, plans[0], cot, &bo));
            TRY(dvren_optimizer_step(opt));
            if ((s + 1) % o.eval_every == 0 || s + 1 == o.steps)
                fprintf(stderr, "[fit_blocks] step %5d  |mean - rgb|^2 %.3e  mean %.4f %.4f %.4f\n", s + 1, loss, mean[0],
                        mean[1], mean[2]);
        }
        t_train = now_s() - t_start;
        TRY(dvren_render(scene, plans[0], fb, NULL));
        TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &view));
        memcpy(img_final, view.data, px * 3 * sizeof(float));
        patch_mean(img_final, W, r, after);
        for (c = 0; c < 3; ++c) e1 += (after[c] - o.rgb[c]) * (after[c] - o.rgb[c]);
        e1 = sqrt(e1);
        printf("patch %d,%d %dx%d of view 0, target %.4f %.4f %.4f\n", r[0], r[1], r[2], r[3], o.rgb[0], o.rgb[1], o.rgb[2]);
        printf("before %.4f %.4f %.4f  distance %.4f\n", before[0], before[1], before[2], e0);
        printf("after  %.4f %.4f %.4f  distance %.4f  (%d steps, %.1f s)\n", after[0], after[1], after[2], e1, o.steps,
               t_train);
        /* before | after, the patch outlined in white, then black (images not used again) */
        for (z = 0; z < 2; ++z) {
            float* im = z ? img_final : img_init;
            int x, y, q;
            for (q = 0; q < 2; ++q) {
                float col = q ? 0.0f : 1.0f;
                int x0 = r[0] - 1 - q, y0 = r[1] - 1 - q, x1 = r[0] + r[2] + q, y1 = r[1] + r[3] + q;
                for (x = x0; x <= x1; ++x)
                    for (y = y0; y <= y1; ++y)
                        if ((x == x0 || x == x1 || y == y0 || y == y1) && x >= 0 && y >= 0 && x < W && y < H)
                            for (c = 0; c < 3; ++c) im[3 * ((size_t)y * W + x) + c] = col;
            }
        }
        imgs[0] = img_init;
        imgs[1] = img_final;
        z = (256 + H - 1) / H;
        big = side_by_side(imgs, 2, W, H, z);
        shape[0] = (int64_t)N * M;
        TRY(dvren_tensor_wrap(logits, DVREN_DTYPE_F32, 1, shape, NULL, &t));
        TRY(dvren_scene_param_read(scene, pi, DVREN_PARAM_VALUE, &t));
        if (!big) {
            fprintf(stderr, "fit_blocks: out of memory for the side-by-side image\n");
            goto fail;
        }
        if (write_png(ctx, o.out, "patch.png", big, 2 * W * z, H * z) ||
            write_world(&w, logits, o.out, "patch_world.json")) {
            unwrite();
            goto fail;
        }
        fprintf(stderr, "[fit_blocks] wrote %s/patch.png (before | after) and %s/patch_world.json\n", o.out, o.out);
        status = 0;
        goto fail; /* the common cleanup */
    }

    for (v = 0; v < K; ++v) order[v] = v;
    t_start = now_s();
    for (s = 0; s < o.steps; ++s) {
        double tau = o.steps > 1 ? o.tau0 * pow(o.tau1 / o.tau0, (double)s / (o.steps - 1)) : o.tau0, loss = 0.0;
        int j, eval = (s + 1) % o.eval_every == 0 || s + 1 == o.steps || s == 0;
        TRY(dvren_params_set_number(up, "temperature", tau));
        if (!strcmp(o.mode, "gumbel")) TRY(dvren_params_set_number(up, "seed", (double)(s + 1)));
        TRY(dvren_stage_update(field, up));
        TRY(dvren_scene_zero_grad(scene));
        for (j = 0; j < o.batch_views; ++j) {
            long slot = ((long)s * o.batch_views + j) % K;
            double l;
            if (slot == 0) /* a new pass over the views: a new random order (Fisher-Yates) */
                for (v = K - 1; v > 0; --v) {
                    int r = (int)(rng_u64() % (uint64_t)(v + 1)), tmp = order[v];
                    order[v] = order[r];
                    order[r] = tmp;
                }
            v = order[slot];
            TRY(dvren_tensor_wrap(targets + (size_t)v * px * 3, DVREN_DTYPE_F32, 3, shape, NULL, &t));
            ld.target_rgb = &t;
            TRY(dvren_render(scene, plans[v], fb, NULL));
            TRY(dvren_loss(ctx, &ld, fb, cot, &l));
            TRY(dvren_render_backward(scene, plans[v], cot, &bo));
            loss += l;
        }
        TRY(dvren_optimizer_step(opt));
        losses[s] = loss;
        taus[s] = tau;
        acc_vis[s] = acc_all[s] = -1.0;
        if (eval) {
            int64_t n1[1] = {(int64_t)N * M};
            TRY(dvren_tensor_wrap(logits, DVREN_DTYPE_F32, 1, n1, NULL, &view));
            TRY(dvren_scene_param_read(scene, pi, DVREN_PARAM_VALUE, &view));
            acc_vis[s] = accuracy(&w, logits, truth, visible, NULL, NULL);
            acc_all[s] = accuracy(&w, logits, truth, NULL, NULL, NULL);
            fprintf(stderr, "[fit_blocks] step %5d  loss %.3e  tau %.3f  visible %5.1f %%  all %5.1f %%  (%.1f s)\n", s + 1,
                    loss, tau, 100.0 * acc_vis[s], 100.0 * acc_all[s], now_s() - t_start);
        }
    }
    t_train = now_s() - t_start;
    final_vis = accuracy(&w, logits, truth, visible, &right_vis, NULL);
    final_all = accuracy(&w, logits, truth, NULL, &right_all, NULL);

    /* ---- the recovered world in hard mode against every target */
    {
        double se = 0.0, worst = 0.0;
        size_t i;
        TRY(dvren_params_set_string(up, "mode", "hard"));
        TRY(dvren_stage_update(field, up));
        for (v = 0; v < K; ++v) {
            const float* ref = targets + (size_t)v * px * 3;
            TRY(dvren_render(scene, plans[v], fb, NULL));
            TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &view));
            for (i = 0; i < px * 3; ++i) {
                double e = (double)((const float*)view.data)[i] - ref[i];
                se += e * e;
                worst = fmax(worst, fabs(e));
            }
            if (v == 0) memcpy(img_final, view.data, px * 3 * sizeof(float));
        }
        printf("%s: recovered %u of %u visible blocks (%.2f %%), %u of %u blocks (%.2f %%) after %d steps, %.1f s "
               "(%.1f ms/step) on %s\n",
               name, (unsigned)right_vis, (unsigned)nvis, 100.0 * final_vis, (unsigned)right_all, (unsigned)N,
               100.0 * final_all, o.steps, t_train, 1e3 * t_train / o.steps, o.device);
        printf("%s: hard-mode renders of the recovered world against the %d targets: MSE %.3e, max |error| %.3e\n", name,
               K, se / ((double)K * px * 3), worst);
    }

    /* ---- outputs */
    {
        char path[1200];
        const float* imgs[3];
        {
            char line_[256];
            int n = snprintf(line_, sizeof line_, "step,loss,temperature,visible_accuracy,all_accuracy\n");
            dvren_io_buf_append(&csv, line_, (size_t)n);
            for (s = 0; s < o.steps; ++s) {
                if (acc_vis[s] >= 0.0)
                    n = snprintf(line_, sizeof line_, "%d,%.6e,%.6f,%.6f,%.6f\n", s + 1, losses[s], taus[s], acc_vis[s],
                                 acc_all[s]);
                else
                    n = snprintf(line_, sizeof line_, "%d,%.6e,%.6f,,\n", s + 1, losses[s], taus[s]);
                dvren_io_buf_append(&csv, line_, (size_t)n);
            }
        }
        if (csv.failed) {
            fprintf(stderr, "fit_blocks: out of memory for the curve\n");
            goto fail;
        }
        if (out_path(path, sizeof path, o.out, "curve.csv")) goto fail;
        if (dvren_file_write_atomic(ctx, path, csv.data, csv.size) != DVREN_OK) {
            fprintf(stderr, "fit_blocks: %s\n", dvren_last_error(ctx));
            goto fail;
        }
        snprintf(written[nwritten++], sizeof written[0], "%s", path);
        plot = plot_loss(losses, o.steps, K < o.steps ? (K + o.batch_views - 1) / o.batch_views : 1, 720, 420);
        imgs[0] = targets;
        imgs[1] = img_init;
        imgs[2] = img_final;
        z = (256 + H - 1) / H;
        big = side_by_side(imgs, 3, W, H, z);
        if (!plot || !big) {
            fprintf(stderr, "fit_blocks: out of memory for the images\n");
            unwrite();
            goto fail;
        }
        if (write_png(ctx, o.out, "loss.png", plot, 720, 420) || write_png(ctx, o.out, "compare.png", big, 3 * W * z, H * z) ||
            write_world(&w, logits, o.out, "world.json")) {
            unwrite();
            goto fail;
        }
        fprintf(stderr, "[fit_blocks] wrote %s/curve.csv, loss.png, compare.png (target | initial | final, view 0), world.json\n",
                o.out);
    }
    status = o.target_accuracy >= 0.0 && 100.0 * final_vis < o.target_accuracy ? 2 : 0;
    if (status == 2)
        fprintf(stderr, "fit_blocks: %.2f %% of the visible blocks recovered, under the target of %.2f %%\n", 100.0 * final_vis,
                o.target_accuracy);
fail:
    dvren_io_buf_free(&csv);
    dvren_optimizer_destroy(opt);
    dvren_framebuffer_destroy(fb);
    dvren_framebuffer_destroy(cot);
    if (plans)
        for (v = 0; v < K; ++v) dvren_plan_destroy(plans[v]);
    dvren_scene_destroy(scene);
    dvren_stage_destroy(field);
    dvren_stage_destroy(shader);
    dvren_stage_destroy(sampler);
    dvren_params_destroy(fp);
    dvren_params_destroy(up);
    dvren_context_destroy(ctx);
    dvren_blocks_free(&w);
    free(rows);
    free(table);
    free(logits);
    free(init);
    free(truth);
    free(visible);
    free(targets);
    free(img_init);
    free(img_final);
    free(grad_rgb);
    free(plans);
    free(order);
    free(losses);
    free(taus);
    free(acc_vis);
    free(acc_all);
    free(big);
    free(plot);
    return status;
}
