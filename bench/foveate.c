/* bench/foveate.c - what saliency-driven foveated rendering saves (issue 11,
 * "Targets"): samples and GPU time to reach a PSNR inside the important
 * region, uniform sampling against the foveated final render, on one scene.
 * bench/foveate.sh runs it on the GPU machine for the CT head and the
 * fitted lego scene; it runs on the CPU too, at a small size, for checks.
 *
 *   build/foveate --scene S.json [--device cpu|cuda] [--width N --height N] [--out DIR]
 *                 [--tool build/dvren_foveate] [--importance FILE] [--models A,B] [--preview-size N]
 *                 [--ref-spp 1024] [--max-spp 256] [--full-ladder 0] [--reps 3] [--target 40] [--region 0.1]
 *                 [--max-step-scale X] [--quantile-lo Q] [--quantile-hi Q] [--budget-gamma G]
 *                 [--jitter 1] [--pipeline 1920x1080] [--threads 0] [--name NAME]
 *
 * What it does, in order:
 *  1. The importance map: the pipeline tool (tools/dvren_foveate) runs its
 *     preview stage, then its saliency stage, on the scene at the benchmark
 *     size (--width x --height: the preview keeps its aspect) into
 *     OUT/NAME_pipeline/, and user_importance.npy is read back (--importance
 *     FILE reads a map instead). When the saliency stage fails on the GPU,
 *     it is run once more on the CPU and the report says so (the map's
 *     origin does not change what the ladders below measure).
 *  2. The important region: the map resampled to the benchmark size by
 *     dvren_importance_resample, as dvren_importance_budget resamples it
 *     (bilinear, pixel centres aligned), and the pixels at or
 *     above its (1 - region) quantile (linear interpolation between order
 *     statistics, NumPy's default, as dvren's quantiles): the top 10% by
 *     default (more when the map is flat at its top; the report gives the
 *     fraction). Quantile_hi = 0.8 < 0.9 puts the whole region at the
 *     budget's peak (weight u = 1, step x1).
 *  3. A reference: the mean of two renders of ref_spp / 2 rays per pixel
 *     each, with other seeds, the sampler jittered (--jitter 1, the default,
 *     sets the uniform sampler's "jitter": true, so that every estimate below
 *     converges to the same image); the difference of the halves gives the
 *     reference's own noise, reported as a PSNR (MSE_halves / 4 is the
 *     variance of their mean).
 *  4. The total sample count is rays per pixel times samples per ray, so
 *     each method searches both: for each level of rays (1, 2, 4, ...,
 *     max_spp) a ladder of march steps, the plan's step times 1, 1.5, 2, 3,
 *     4, 6, 8, 12, 16, 24, 32 (a step_map filled with the factor), from the
 *     finest down until the PSNR inside the region falls below the target
 *     (--full-ladder 1: every step). Each point is rendered --reps times
 *     (best time kept; the device synchronised with dvren_synchronize
 *     before and after):
 *       uniform   spp = the level everywhere, step x factor (spp 1 is one
 *                 ray through the pixel centre, more are random sub-pixel
 *                 positions)
 *       foveated  dvren_importance_budget with min_spp 1, max_spp = peak =
 *                 the level, mean_spp 0, max_step_scale, quantiles and gamma
 *                 from the scene's "foveate" object (or the flags; else
 *                 dvren's defaults), its step_map times the factor (at most
 *                 64), as spp_map and step_map of the plan
 *     For each point: total samples = the sum of the DVREN_OUTPUT_SAMPLES
 *     output (rays x march samples, over the image), rays, PSNR inside the
 *     region, outside it and over the image against the reference
 *     (10 log10(1 / MSE) over RGB, linear radiance), the time.
 *  5. For each method and level, the smallest sample count that reaches the
 *     target PSNR inside the region: between the last step at or above the
 *     target and the next one below it, by log-linear interpolation (PSNR
 *     linear in log(samples)); the time and the PSNR outside at that point
 *     interpolated the same way (log time, linear PSNR); the last point
 *     itself when the ladder never fell below (an upper bound). The
 *     method's figure is the smallest over its levels. Then the ratios
 *     uniform / foveated of samples (target >= 3) and of time, and time
 *     ratio / sample ratio (target: within 20% of 1, the GPU time falling
 *     in proportion).
 *  5b. Balance: the same rays, 32 per pixel in every pixel against 1 and 63
 *     in alternate pixels (a spp_map): the time per sample of the two (1:
 *     the GPU's one thread per ray keeps warps busy; one thread per pixel
 *     would wait for 63 rays in every warp).
 *  6. --pipeline WxH: the whole pipeline (preview, saliency, final) by the
 *     tool at that size, twice (the first run may compile kernels), into
 *     OUT/NAME_pipeline_WxH/; the time of each stage from the tool's [timer]
 *     lines (device synchronised) and the process's wall time.
 * --models and --preview-size are passed to the tool (both runs).
 * Files in OUT (default $OUT when set, else out/foveate_bench): NAME_points.csv
 * (every ladder point), NAME.json (the summary), NAME.md (the table, also
 * printed last on stdout), NAME_reference.png. Progress goes to stderr.
 * Exit status 0 when it measured (targets met or not), 1 on an error. */
#define _POSIX_C_SOURCE 200809L /* mkdir under -std=c11 */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#include "dvren_image.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define PATHCAP 4096
#define MAXPTS 240
#define MAXLEVELS 16
#define MAXSCALES 6 /* foveated searches, one per --max-step-scale value */
/* march step factors of a ladder (the plan's step times these) */
static const double step_factors[] = {1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32};
#define NSTEPS ((int)(sizeof step_factors / sizeof step_factors[0]))

typedef struct bench_opts {
    const char *scene, *name, *device, *out, *tool, *importance, *models, *pipeline, *step_scales;
    long preview_size, width, height, ref_spp, max_spp, reps, threads, jitter, full;
    double target, region, quantile_lo, quantile_hi, budget_gamma; /* NAN: from the scene */
} bench_opts;

/* One ladder point. */
typedef struct point {
    uint32_t spp;                 /* uniform: rays per pixel; foveated: the peak (max_spp) */
    double step;                  /* the march step factor of the ladder */
    uint64_t samples, rays;       /* sums over the image */
    double psnr_in, psnr_out, psnr_all;
    double ms, ms_median;         /* of the --reps renders */
    double mean_spp, coverage;    /* foveated: the budget's */
} point;

/* Where a ladder crosses the target PSNR inside the region. */
typedef struct crossing {
    int found;        /* 0: the ladder never reached the target */
    int last;         /* 1: its last point still did (an upper bound: the ladder never fell below) */
    int lo, hi;       /* the ladder points around the crossing (indices into the method's points) */
    double samples, ms, psnr_out;
} crossing;

typedef struct pipeline_run {
    int status;       /* the tool's exit status (system()), 0 = success */
    double wall_s;    /* the process */
    double preview_ms, saliency_ms, final_ms, total_ms;            /* the stages ([timer] ... stage) */
    double preview_render_ms, saliency_models_ms, final_render_ms; /* their renders and models */
} pipeline_run;

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void say(const char* fmt, ...) DVREN_PRINTF(1, 2);
static void say(const char* fmt, ...)
{
    va_list ap;
    fputs("[bench] ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(void)
{
    fputs("usage: foveate --scene S.json [options]   uniform vs foveated sampling: samples and time to a PSNR in the\n"
          "                                          important region (the top of bench/foveate.c says how)\n"
          "  --device cpu|cuda        (cpu)\n"
          "  --width N --height N     benchmark size (the scene's plan)\n"
          "  --out DIR                run folder ($OUT, else out/foveate_bench; created)\n"
          "  --name NAME              file names NAME_* (the scene file's name)\n"
          "  --tool PATH              the pipeline tool (build/dvren_foveate)\n"
          "  --importance FILE        read this importance map (.npy, float32 (H, W)) instead of running the tool\n"
          "  --models A,B             saliency models, passed to the tool (the scene's)\n"
          "  --preview-size N         the preview's short side, passed to the tool (the scene's, else 448)\n"
          "  --ref-spp N              reference rays per pixel, even, in two halves (1024)\n"
          "  --max-spp N              levels of rays per pixel 1, 2, 4, ..., N, each with a ladder of steps (8)\n"
          "  --reps N                 renders per point, the best time kept (3)\n"
          "  --full-ladder 0|1        1: every step of every level; 0: a ladder stops at its first step below the\n"
          "                           target (the crossing needs no more) (0)\n"
          "  --target DB              PSNR inside the region (40)\n"
          "  --region F               the region: the top F of the map (0.1)\n"
          "  --max-step-scale X[,X..] the budget's step where importance is lowest: one foveated search per value\n"
          "  --quantile-lo Q --quantile-hi Q --budget-gamma G\n"
          "                           the budget (the scene's \"foveate\" object, else dvren's defaults)\n"
          "  --jitter 0|1             force the uniform sampler's jitter on (1) or keep the scene's (0)\n"
          "  --pipeline WxH           also time the whole pipeline at this size, twice (e.g. 1920x1080)\n"
          "  --threads N              CPU threads, 0 = all (0)\n",
          stdout);
}

static int parse(int argc, char** argv, bench_opts* o)
{
    int i;
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        char* end = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "foveate: option '%s' needs a value (or is unknown: see --help)\n", a);
            return 1;
        }
        ++i;
#define STR(flag, field)                                                                                               \
    if (!strcmp(a, flag)) {                                                                                            \
        o->field = v;                                                                                                  \
        continue;                                                                                                      \
    }
#define INT(flag, field, lo, hi)                                                                                       \
    if (!strcmp(a, flag)) {                                                                                            \
        errno = 0;                                                                                                     \
        o->field = strtol(v, &end, 10);                                                                                \
        if (!*v || *end || errno || o->field < (lo) || o->field > (hi)) {                                              \
            fprintf(stderr, "foveate: %s needs an integer in %ld..%ld, got '%s'\n", flag, (long)(lo), (long)(hi), v); \
            return 1;                                                                                                  \
        }                                                                                                              \
        continue;                                                                                                      \
    }
#define NUM(flag, field, lo, hi)                                                                                       \
    if (!strcmp(a, flag)) {                                                                                            \
        o->field = strtod(v, &end);                                                                                    \
        if (!*v || *end || !(o->field >= (lo) && o->field <= (hi))) {                                                  \
            fprintf(stderr, "foveate: %s needs a number in [%g, %g], got '%s'\n", flag, (double)(lo), (double)(hi), v); \
            return 1;                                                                                                  \
        }                                                                                                              \
        continue;                                                                                                      \
    }
        STR("--scene", scene)
        STR("--name", name)
        STR("--device", device)
        STR("--out", out)
        STR("--tool", tool)
        STR("--importance", importance)
        STR("--models", models)
        STR("--pipeline", pipeline)
        INT("--width", width, 1, 32768)
        INT("--preview-size", preview_size, 16, 8192)
        INT("--height", height, 1, 32768)
        INT("--ref-spp", ref_spp, 2, 65536)
        INT("--max-spp", max_spp, 1, 65536)
        INT("--reps", reps, 1, 100)
        INT("--threads", threads, 0, 1024)
        INT("--jitter", jitter, 0, 1)
        INT("--full-ladder", full, 0, 1)
        NUM("--target", target, 1.0, 200.0)
        NUM("--region", region, 1e-4, 0.5)
        STR("--max-step-scale", step_scales)
        NUM("--quantile-lo", quantile_lo, 0.0, 1.0)
        NUM("--quantile-hi", quantile_hi, 0.0, 1.0)
        NUM("--budget-gamma", budget_gamma, 1e-3, 100.0)
#undef STR
#undef INT
#undef NUM
        fprintf(stderr, "foveate: unknown option '%s' (see --help)\n", a);
        return 1;
    }
    if (!o->scene) {
        fprintf(stderr, "foveate: --scene is required (see --help)\n");
        return 1;
    }
    if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) {
        fprintf(stderr, "foveate: --device must be cpu or cuda, not '%s'\n", o->device);
        return 1;
    }
    if (o->ref_spp % 2) {
        fprintf(stderr, "foveate: --ref-spp must be even (two halves), got %ld\n", o->ref_spp);
        return 1;
    }
    if ((o->width > 0) != (o->height > 0)) {
        fprintf(stderr, "foveate: give both --width and --height, or neither\n");
        return 1;
    }
    return 0;
}

/* ---- the pipeline tool ------------------------------------------------------------ */

/* Appends s to the command line cmd as one single-quoted shell word. */
static int shell_word(char* cmd, size_t cap, const char* s)
{
    size_t n = strlen(cmd);
    if (n + 4 >= cap) return 1;
    cmd[n++] = ' ';
    cmd[n++] = '\'';
    for (; *s; ++s) {
        if (n + 6 >= cap) return 1;
        if (*s == '\'') { /* ' -> '\'' */
            memcpy(cmd + n, "'\\''", 4);
            n += 4;
        } else {
            cmd[n++] = *s;
        }
    }
    cmd[n++] = '\'';
    cmd[n] = 0;
    return 0;
}

/* Runs the tool on the scene: `tool scene --out dir [--stage stage] --device
 * device --width w --height h [--models m] [--preview-size n] [--threads n]
 * -q` (stage NULL: all three). Returns its exit status (0: success; 128 + N
 * for a signal N, -1 when it could not be started); *wall_s gets the
 * process's time. */
static int run_tool(const bench_opts* o, const char* dir, const char* stage, const char* device, long w, long h,
                    double* wall_s)
{
    char cmd[3 * PATHCAP], num[32];
    double t0;
    int st;
    cmd[0] = 0;
    if (shell_word(cmd, sizeof cmd, o->tool) || shell_word(cmd, sizeof cmd, o->scene) ||
        shell_word(cmd, sizeof cmd, "--out") || shell_word(cmd, sizeof cmd, dir) ||
        (stage && (shell_word(cmd, sizeof cmd, "--stage") || shell_word(cmd, sizeof cmd, stage))) ||
        shell_word(cmd, sizeof cmd, "--device") || shell_word(cmd, sizeof cmd, device))
        return -1;
    snprintf(num, sizeof num, "%ld", w);
    if (shell_word(cmd, sizeof cmd, "--width") || shell_word(cmd, sizeof cmd, num)) return -1;
    snprintf(num, sizeof num, "%ld", h);
    if (shell_word(cmd, sizeof cmd, "--height") || shell_word(cmd, sizeof cmd, num)) return -1;
    if (o->models && (shell_word(cmd, sizeof cmd, "--models") || shell_word(cmd, sizeof cmd, o->models))) return -1;
    snprintf(num, sizeof num, "%ld", o->preview_size);
    if (o->preview_size && (shell_word(cmd, sizeof cmd, "--preview-size") || shell_word(cmd, sizeof cmd, num))) return -1;
    snprintf(num, sizeof num, "%ld", o->threads);
    if (o->threads && (shell_word(cmd, sizeof cmd, "--threads") || shell_word(cmd, sizeof cmd, num))) return -1;
    if (shell_word(cmd, sizeof cmd, "-q")) return -1;
    say("running %s", cmd + 1); /* each word came with a space before it */
    fflush(stderr);
    t0 = now_s();
    st = system(cmd + 1);
    *wall_s = now_s() - t0;
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* The size in bytes of dir/dvren_pipeline.log, 0 when absent. */
static size_t pipeline_log_size(const char* dir)
{
    char path[2 * PATHCAP + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/dvren_pipeline.log", dir);
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* The figures of one run of the tool from dir/dvren_pipeline.log, which
 * the tool appends to: the lines after the first `from` bytes (the size
 * before the run). */
static void read_pipeline_log(const char* dir, size_t from, pipeline_run* r)
{
    char path[2 * PATHCAP + 64], err[256];
    char *text, *line, *p;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/dvren_pipeline.log", dir);
    text = dvren_io_read_file(path, (size_t)64 << 20, &size, err, sizeof err);
    if (!text) {
        say("WARNING: %s: %s", path, err);
        return;
    }
    for (line = text + (from <= size ? from : size); line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        double v;
        if (sscanf(line, "[timer] preview stage: %lf", &v) == 1) r->preview_ms = v;
        else if (sscanf(line, "[timer] saliency stage: %lf", &v) == 1) r->saliency_ms = v;
        else if (sscanf(line, "[timer] final stage: %lf", &v) == 1) r->final_ms = v;
        else if (sscanf(line, "[timer] pipeline: %lf", &v) == 1) r->total_ms = v;
        else if (sscanf(line, "[timer] preview render: %lf", &v) == 1) r->preview_render_ms = v;
        else if (sscanf(line, "[timer] final render: %lf", &v) == 1) r->final_render_ms = v;
        else if (!strncmp(line, "[timer] saliency model '", 24) && (p = strstr(line, "': ")) && sscanf(p + 3, "%lf", &v) == 1)
            r->saliency_models_ms += v;
    }
    free(text);
}

/* ---- files ------------------------------------------------------------------------ */

/* Reads a float32 .npy of shape (h, w) (version 1 to 3, C order). Returns
 * the values (free()) or NULL with the reason in err. */
static float* load_map(const char* path, uint32_t* w, uint32_t* h, char* err, size_t cap)
{
    size_t n = 0, hlen, start;
    char* b = dvren_io_read_file(path, (size_t)1 << 31, &n, err, cap);
    const char *s, *hdr;
    long dims[2];
    float* out;
    if (!b) return NULL;
    if (n < 12 || memcmp(b, "\x93NUMPY", 6) || b[6] < 1 || b[6] > 3) {
        snprintf(err, cap, "not a .npy file");
        goto bad;
    }
    hlen = b[6] == 1 ? (size_t)(unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8
                     : (size_t)(unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8 |
                           (size_t)(unsigned char)b[10] << 16 | (size_t)(unsigned char)b[11] << 24;
    start = (b[6] == 1 ? 10 : 12) + hlen;
    if (start > n) {
        snprintf(err, cap, "truncated header");
        goto bad;
    }
    b[start - 1] = 0; /* the header's final newline: the dictionary becomes a string */
    hdr = b + (b[6] == 1 ? 10 : 12);
    if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False") || !(s = strstr(hdr, "'shape': (")) ||
        sscanf(s + 10, "%ld , %ld )", &dims[0], &dims[1]) != 2 || dims[0] < 1 || dims[1] < 1 || dims[0] > 32768 ||
        dims[1] > 32768) {
        snprintf(err, cap, "expected a float32 ('<f4') array of shape (H, W) in C order");
        goto bad;
    }
    if (n - start != (size_t)dims[0] * (size_t)dims[1] * 4) {
        snprintf(err, cap, "%zu data bytes for shape (%ld, %ld)", n - start, dims[0], dims[1]);
        goto bad;
    }
    out = (float*)malloc((size_t)dims[0] * (size_t)dims[1] * sizeof(float));
    if (!out) {
        snprintf(err, cap, "out of memory");
        goto bad;
    }
    memcpy(out, b + start, (size_t)dims[0] * (size_t)dims[1] * 4); /* little-endian hosts only (x86, ARM) */
    *h = (uint32_t)dims[0];
    *w = (uint32_t)dims[1];
    free(b);
    return out;
bad:
    free(b);
    return NULL;
}

/* The scene file with the uniform sampler's jitter forced on (see the top
 * of the file): parsed here, then read by the scene reader from the cJSON
 * tree with the file's folder for relative paths. The tree is returned
 * (free with cJSON_Delete after dvren_scenefile_free), NULL on error. */
static cJSON* read_scene(const bench_opts* o, dvren_scenefile* sf)
{
    char err[256], dir[PATHCAP];
    const char* slash = strrchr(o->scene, '/');
    char* text = dvren_io_read_file(o->scene, DVREN_SCENEFILE_MAX_BYTES, NULL, err, sizeof err);
    cJSON *root, *smp, *prm, *plug;
    if (!text) {
        fprintf(stderr, "foveate: %s: %s\n", o->scene, err);
        return NULL;
    }
    root = cJSON_Parse(text);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        fprintf(stderr, "foveate: %s: not a JSON object\n", o->scene);
        cJSON_Delete(root);
        return NULL;
    }
    if (o->jitter) {
        smp = cJSON_GetObjectItemCaseSensitive(root, "sampler");
        if (!smp) smp = cJSON_AddObjectToObject(root, "sampler");
        plug = cJSON_GetObjectItemCaseSensitive(smp, "plugin");
        if (cJSON_IsObject(smp) && (!plug || (cJSON_IsString(plug) && !strcmp(plug->valuestring, "uniform")))) {
            prm = cJSON_GetObjectItemCaseSensitive(smp, "params");
            if (!prm) prm = cJSON_AddObjectToObject(smp, "params");
            if (cJSON_IsObject(prm)) {
                cJSON_DeleteItemFromObjectCaseSensitive(prm, "jitter");
                cJSON_AddBoolToObject(prm, "jitter", 1);
            }
        } else {
            say("WARNING: %s: the sampler is not 'uniform': its jitter is left as the scene sets it", o->scene);
        }
    }
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - o->scene + 1) : 0, o->scene);
    if (dvren_scenefile_from_json(sf, o->scene, root, dir)) {
        fprintf(stderr, "foveate: %s\n", sf->error);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ---- measurement ------------------------------------------------------------------ */

static int cmp_float(const void* a, const void* b)
{
    float x = *(const float*)a, y = *(const float*)b;
    return (x > y) - (x < y);
}

/* The q quantile of a[0..n-1], linear between order statistics (NumPy's
 * default); -1 when out of memory. */
static double quantile(const float* a, size_t n, double q)
{
    float* s = (float*)malloc(n * sizeof(float));
    double idx = q * (double)(n - 1), v;
    size_t lo, hi;
    if (!s) return -1.0;
    memcpy(s, a, n * sizeof(float));
    qsort(s, n, sizeof(float), cmp_float);
    lo = (size_t)floor(idx);
    hi = lo + 1 < n ? lo + 1 : lo;
    v = (double)s[lo] + ((double)s[hi] - (double)s[lo]) * (idx - (double)lo);
    free(s);
    return v;
}

static double psnr(double se, double n) { return n > 0 && se > 0 ? -10.0 * log10(se / n) : (n > 0 ? 99.0 : NAN); }

/* PSNRs of rgb against ref (both H x W x 3) inside the region, outside it
 * and over the image. */
static void psnrs(const float* rgb, const double* ref, const unsigned char* region, size_t n, double* in, double* out,
                  double* all)
{
    double se[2] = {0.0, 0.0}, cnt[2] = {0.0, 0.0};
    size_t i;
    int c;
    for (i = 0; i < n; ++i) {
        int k = region[i] ? 0 : 1;
        for (c = 0; c < 3; ++c) {
            double e = (double)rgb[3 * i + c] - ref[3 * i + c];
            se[k] += e * e;
        }
        cnt[k] += 3.0;
    }
    *in = psnr(se[0], cnt[0]);
    *out = psnr(se[1], cnt[1]);
    *all = psnr(se[0] + se[1], cnt[0] + cnt[1]);
}

static int cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* Renders plan desc pd reps times (the device synchronised around each),
 * fills the point's time, samples and PSNRs; rgb_out (H x W x 3, may be
 * NULL) gets the image. Prints its own errors; returns 0 or 1. */
static int measure(dvren_context* ctx, dvren_scene* scene, const dvren_plan_desc* pd, long reps, const double* ref,
                   const unsigned char* region, point* pt, float* rgb_out)
{
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_tensor rgb, smp;
    double t[100];
    size_t n = (size_t)pd->width * pd->height, i;
    long r;
    int rc = 1;
    if (dvren_plan_create(ctx, pd, &plan) || dvren_framebuffer_create(ctx, plan, &fb)) goto lib;
    for (r = 0; r < reps; ++r) {
        double t0;
        if (dvren_synchronize(ctx)) goto lib;
        t0 = now_s();
        if (dvren_render(scene, plan, fb, NULL) || dvren_synchronize(ctx)) goto lib;
        t[r] = 1e3 * (now_s() - t0);
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    pt->ms = t[0];
    pt->ms_median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb)) goto lib;
    if (pd->outputs & DVREN_OUTPUT_SAMPLES) {
        if (dvren_framebuffer_output(fb, DVREN_OUTPUT_SAMPLES, &smp)) goto lib;
        pt->samples = 0;
        for (i = 0; i < n; ++i) pt->samples += ((const uint32_t*)smp.data)[i];
    }
    if (ref) psnrs((const float*)rgb.data, ref, region, n, &pt->psnr_in, &pt->psnr_out, &pt->psnr_all);
    if (rgb_out) memcpy(rgb_out, rgb.data, n * 3 * sizeof(float));
    rc = 0;
    goto done;
lib:
    fprintf(stderr, "foveate: render: %s\n", dvren_last_error(ctx));
done:
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    return rc;
}

/* Where the ladder p[0 .. n-1] (one level of rays, steps growing, PSNR
 * falling) crosses target inside the region; `base` is the index of p[0]
 * among the method's points (see the top of the file). */
static crossing cross(const point* p, int n, int base, double target)
{
    crossing c;
    int i;
    memset(&c, 0, sizeof c);
    if (n < 1 || p[0].psnr_in < target) return c; /* even the finest step falls short */
    for (i = 1; i < n && p[i].psnr_in >= target; ++i) {
    }
    c.found = 1;
    c.lo = base + i - 1;
    if (i == n) { /* never fell below: the coarsest step tried */
        c.last = 1;
        c.hi = c.lo;
        c.samples = (double)p[n - 1].samples;
        c.ms = p[n - 1].ms;
        c.psnr_out = p[n - 1].psnr_out;
    } else {
        const point *a = &p[i - 1], *b = &p[i];
        double f = (target - a->psnr_in) / (b->psnr_in - a->psnr_in);
        c.hi = base + i;
        c.samples = exp(log((double)a->samples) + f * (log((double)b->samples) - log((double)a->samples)));
        c.ms = exp(log(a->ms) + f * (log(b->ms) - log(a->ms)));
        c.psnr_out = a->psnr_out + f * (b->psnr_out - a->psnr_out);
    }
    return c;
}

/* A number of the scene's "foveate" object, or the fallback. */
static double fov_key(const cJSON* fov, const char* key, double fallback)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(fov, key);
    return cJSON_IsNumber(j) ? j->valuedouble : fallback;
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char** argv)
{
    bench_opts o;
    dvren_scenefile sf;
    cJSON *root = NULL, *js = NULL, *arr;
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_scene* scene = NULL;
    dvren_scene_desc sd;
    dvren_plan_desc pd;
    dvren_budget_params bp;
    dvren_budget_stats bs;
    dvren_tensor t_spp, t_step;
    static point pts_all[1 + MAXSCALES][MAXPTS];
    crossing cross_all[1 + MAXSCALES];
    point bal[2]; /* the balance check: B rays everywhere, then 1 and 2B - 1 alternating */
    int npts[1 + MAXSCALES];
    double scales[MAXSCALES];
    int nscales = 0;
    pipeline_run pipe[2];
    char dir[PATHCAP + 64], path[PATHCAP + 128], err[512], devname[300] = "cpu", name_buf[256], pipe_dir[PATHCAP + 96];
    const char* imp_source = "the pipeline tool";
    float *imp = NULL, *m = NULL, *half = NULL, *step_map = NULL, *budget_step = NULL, *png = NULL;
    double *ref = NULL, ref_noise_in = NAN, t_all0 = now_s(), tool_s[2] = {0.0, 0.0};
    unsigned char* region = NULL;
    uint32_t *spp_map = NULL, iw = 0, ih = 0, W, H;
    size_t n, i, nreg = 0;
    int k, meth, status = 1, pw = 0, ph = 0, npipe = 0, saliency_on_cpu = 0;
    int64_t shape[2];
    double thr;
    dvren_io_buf md = {0, 0, 0, 0}, csv = {0, 0, 0, 0};
    char line[2048];

    memset(&o, 0, sizeof o);
    memset(&sf, 0, sizeof sf);
    memset(pipe, 0, sizeof pipe);
    o.device = "cpu";
    o.tool = "build/dvren_foveate";
    o.ref_spp = 1024;
    o.max_spp = 8;
    o.reps = 3;
    o.jitter = 1;
    o.target = 40.0;
    o.region = 0.1;
    o.quantile_lo = o.quantile_hi = o.budget_gamma = NAN;
    o.out = getenv("OUT") && *getenv("OUT") ? getenv("OUT") : "out/foveate_bench";
    if (parse(argc, argv, &o)) return 1;
    if (!o.name) {
        const char *b = strrchr(o.scene, '/'), *e;
        b = b ? b + 1 : o.scene;
        e = strrchr(b, '.');
        snprintf(name_buf, sizeof name_buf, "%.*s", e && e > b ? (int)(e - b) : (int)strlen(b), b);
        o.name = name_buf;
    }
    if (o.pipeline && (sscanf(o.pipeline, "%dx%d", &pw, &ph) != 2 || pw < 1 || ph < 1 || pw > 32768 || ph > 32768)) {
        fprintf(stderr, "foveate: --pipeline needs WxH (e.g. 1920x1080), got '%s'\n", o.pipeline);
        return 1;
    }
    if (mkdir(o.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "foveate: --out: cannot create the folder '%s': %s\n", o.out, strerror(errno));
        return 1;
    }

    /* ---- the scene (jitter forced on), its size, the budget's parameters */
    if (!(root = read_scene(&o, &sf))) goto done;
    memset(&cd, 0, sizeof cd);
    cd.log = dvren_log_to_file;
    cd.log_level = DVREN_LOG_WARN;
    cd.threads = (uint32_t)o.threads;
    if (!strcmp(o.device, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx)) {
        fprintf(stderr, "foveate: device %s: %s\n", o.device, dvren_last_error(NULL));
        goto done;
    }
    if (dvren_context_device(ctx) == DVREN_DEVICE_CUDA) {
        dvren_cuda_info ci;
        if (dvren_cuda_get_info(ctx, &ci) == DVREN_OK) snprintf(devname, sizeof devname, "cuda, %s", ci.device_name);
    } else {
        snprintf(devname, sizeof devname, "cpu, %u threads", (unsigned)dvren_context_threads(ctx));
    }
    sf.override_width = (uint32_t)o.width;
    sf.override_height = (uint32_t)o.height;
    if (dvren_scenefile_build(&sf, ctx)) {
        fprintf(stderr, "foveate: %s\n", sf.error);
        goto done;
    }
    W = sf.plan.width;
    H = sf.plan.height;
    n = (size_t)W * H;
    bp = dvren_budget_params_default();
    bp.min_spp = 1;
    bp.mean_spp = 0.0f;
    bp.max_step_scale = (float)fov_key(sf.foveate, "max_step_scale", bp.max_step_scale);
    nscales = 0;
    if (o.step_scales) { /* a list: one foveated search each */
        const char* q = o.step_scales;
        while (*q && nscales < MAXSCALES) {
            char* end;
            double v = strtod(q, &end);
            if (end == q || !(v >= 1.0 && v <= 64.0) || (*end && *end != ',')) {
                fprintf(stderr, "foveate: --max-step-scale needs numbers in [1, 64] separated by commas, got '%s'\n",
                        o.step_scales);
                goto done;
            }
            scales[nscales++] = v;
            q = *end ? end + 1 : end;
        }
    } else {
        scales[nscales++] = bp.max_step_scale;
    }
    bp.quantile_lo = (float)(isnan(o.quantile_lo) ? fov_key(sf.foveate, "quantile_lo", bp.quantile_lo) : o.quantile_lo);
    bp.quantile_hi = (float)(isnan(o.quantile_hi) ? fov_key(sf.foveate, "quantile_hi", bp.quantile_hi) : o.quantile_hi);
    bp.gamma = (float)(isnan(o.budget_gamma) ? fov_key(sf.foveate, "budget_gamma", bp.gamma) : o.budget_gamma);
    memset(&sd, 0, sizeof sd);
    sd.field = sf.field;
    sd.shader = sf.shader;
    sd.sampler = sf.sampler;
    if (dvren_scene_create(ctx, &sd, &scene)) {
        fprintf(stderr, "foveate: %s: %s\n", o.scene, dvren_last_error(ctx));
        goto done;
    }
    say("%s: %u x %u on %s; budget: step x1..x%g (%d value%s), quantiles %g/%g, gamma %g; jitter %s", o.scene,
        (unsigned)W, (unsigned)H, devname, scales[nscales - 1], nscales, nscales > 1 ? "s" : "", (double)bp.quantile_lo,
        (double)bp.quantile_hi, (double)bp.gamma, o.jitter ? "forced on" : "as the scene sets it");

    /* ---- 1. the importance map */
    if (o.importance) {
        snprintf(path, sizeof path, "%s", o.importance);
        imp_source = o.importance;
    } else {
        int st;
        snprintf(dir, sizeof dir, "%s/%s_pipeline", o.out, o.name);
        st = run_tool(&o, dir, "preview", o.device, W, H, &tool_s[0]);
        if (st != 0) {
            fprintf(stderr, "foveate: the pipeline tool's preview stage failed (exit status %d%s; its log: "
                    "%s/dvren_pipeline.log)\n", st, st == 127 ? ": the shell did not find --tool" : "", dir);
            goto done;
        }
        st = run_tool(&o, dir, "saliency", o.device, W, H, &tool_s[1]);
        if (st != 0 && !strcmp(o.device, "cuda")) {
            say("WARNING: the saliency stage failed on the GPU (exit status %d; %s/dvren_pipeline.log says why): running it on "
                "the CPU for the map", st, dir);
            saliency_on_cpu = 1;
            st = run_tool(&o, dir, "saliency", "cpu", W, H, &tool_s[1]);
        }
        if (st != 0) {
            fprintf(stderr, "foveate: the pipeline tool's saliency stage failed (exit status %d; its log: %s/dvren_pipeline.log)\n",
                    st, dir);
            goto done;
        }
        snprintf(path, sizeof path, "%s/user_importance.npy", dir);
    }
    if (!(imp = load_map(path, &iw, &ih, err, sizeof err))) {
        fprintf(stderr, "foveate: %s: %s\n", path, err);
        goto done;
    }

    /* ---- 2. the region */
    m = (float*)malloc(n * sizeof(float));
    region = (unsigned char*)malloc(n);
    ref = (double*)calloc(n * 3, sizeof(double));
    half = (float*)malloc(n * 3 * sizeof(float));
    spp_map = (uint32_t*)malloc(n * sizeof(uint32_t));
    step_map = (float*)malloc(n * sizeof(float));
    budget_step = (float*)malloc(n * sizeof(float));
    png = (float*)malloc(n * 3 * sizeof(float));
    if (!m || !region || !ref || !half || !spp_map || !step_map || !budget_step || !png) {
        fprintf(stderr, "foveate: out of memory for %u x %u pixels\n", (unsigned)W, (unsigned)H);
        goto done;
    }
    if (dvren_importance_resample(ctx, imp, iw, ih, W, H, m)) { /* as dvren_importance_budget resamples it */
        fprintf(stderr, "foveate: %s\n", dvren_last_error(ctx));
        goto done;
    }
    thr = quantile(m, n, 1.0 - o.region);
    if (thr < 0.0) {
        fprintf(stderr, "foveate: out of memory\n");
        goto done;
    }
    for (i = 0; i < n; ++i) {
        region[i] = (unsigned char)(m[i] >= thr);
        nreg += region[i];
    }
    if (nreg == 0 || nreg == n) {
        fprintf(stderr, "foveate: the importance map (%s) is flat: no region to measure (%zu of %zu pixels)\n", path, nreg, n);
        goto done;
    }
    say("importance map %u x %u from %s%s; region: %zu pixels (%.1f%%) at or above %.4f", (unsigned)iw, (unsigned)ih,
        imp_source, saliency_on_cpu ? " (saliency on the CPU)" : "", nreg, 100.0 * nreg / n, thr);

    /* ---- 3. the reference: two halves */
    pd = sf.plan;
    memset(&pd.roi, 0, sizeof pd.roi);
    pd.rays = NULL;
    pd.spp_map = pd.step_map = NULL;
    pd.outputs = DVREN_OUTPUT_RGB;
    pd.spp = (uint32_t)(o.ref_spp / 2);
    for (k = 0; k < 2; ++k) {
        point tmp;
        double se = 0.0;
        memset(&tmp, 0, sizeof tmp);
        pd.seed = 1000003u + (uint64_t)k;
        if (measure(ctx, scene, &pd, 1, NULL, NULL, &tmp, half)) goto done;
        for (i = 0; i < n * 3; ++i) {
            if (k == 1) {
                double d = (double)half[i] - ref[i];
                if (region[i / 3]) se += d * d;
            }
            ref[i] += (double)half[i];
        }
        if (k == 1) ref_noise_in = psnr(se / 4.0, 3.0 * (double)nreg);
        say("reference half %d: %ld rays per pixel, %.1f ms", k + 1, o.ref_spp / 2, tmp.ms);
    }
    for (i = 0; i < n * 3; ++i) {
        ref[i] *= 0.5;
        png[i] = (float)ref[i];
    }
    say("reference: %ld rays per pixel; its own noise inside the region: %.2f dB", o.ref_spp, ref_noise_in);
    snprintf(path, sizeof path, "%s/%s_reference.png", o.out, o.name);
    if (dvren_image_write_png(ctx, path, png, NULL, W, H, 8)) say("WARNING: %s", dvren_last_error(ctx));

    /* ---- 4. the ladders */
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_SAMPLES;
    shape[0] = H;
    shape[1] = W;
    if (dvren_tensor_wrap(spp_map, DVREN_DTYPE_U32, 2, shape, NULL, &t_spp) ||
        dvren_tensor_wrap(step_map, DVREN_DTYPE_F32, 2, shape, NULL, &t_step)) {
        fprintf(stderr, "foveate: %s\n", dvren_last_error(NULL));
        goto done;
    }
    /* method 0: uniform; method 1 + s: foveated with max_step_scale scales[s] */
    for (meth = 0; meth < 1 + nscales; ++meth) {
        point* pts = pts_all[meth];
        int* np = &npts[meth];
        crossing* best = &cross_all[meth];
        memset(best, 0, sizeof *best);
        *np = 0;
        for (k = 0; k < MAXLEVELS && (1L << k) <= o.max_spp; ++k) {
            int base = *np, j;
            crossing c;
            if (meth) { /* the budget of this peak, before its steps are scaled */
                bp.max_spp = 1u << k;
                bp.max_step_scale = (float)scales[meth - 1];
                if (dvren_importance_budget(ctx, imp, iw, ih, W, H, &bp, spp_map, budget_step, &bs)) {
                    fprintf(stderr, "foveate: budget: %s\n", dvren_last_error(ctx));
                    goto done;
                }
            }
            for (j = 0; j < NSTEPS && *np < MAXPTS; ++j) {
                point* p = &pts[(*np)++];
                memset(p, 0, sizeof *p);
                p->spp = 1u << k;
                p->step = step_factors[j];
                for (i = 0; i < n; ++i) {
                    double f = (meth ? (double)budget_step[i] : 1.0) * step_factors[j];
                    step_map[i] = (float)(f < 64.0 ? f : 64.0);
                }
                pd.spp = meth ? 0 : p->spp;
                pd.spp_map = meth ? &t_spp : NULL;
                pd.step_map = &t_step;
                pd.seed = (meth ? 3000 : 2000) + (uint64_t)k;
                p->rays = meth ? bs.rays : (uint64_t)n * p->spp;
                p->mean_spp = meth ? bs.mean_spp : p->spp;
                p->coverage = meth ? bs.coverage : 1.0;
                if (measure(ctx, scene, &pd, o.reps, ref, region, p, NULL)) goto done;
                say("%s x%-3g %s %4u step x%-4g: %.4e samples, PSNR in %.2f / out %.2f / all %.2f dB, %.3f ms (median %.3f)",
                    meth ? "foveated" : "uniform ", meth ? scales[meth - 1] : 1.0, meth ? "peak" : "spp ", (unsigned)p->spp, p->step,
                    (double)p->samples, p->psnr_in, p->psnr_out, p->psnr_all, p->ms, p->ms_median);
                if (!o.full && p->psnr_in < o.target) break;
            }
            c = cross(pts + base, *np - base, base, o.target);
            if (c.found && (!best->found || c.samples < best->samples)) *best = c;
        }
    }


    /* ---- 5b. balance: B rays in every pixel against 1 and 2B - 1 rays in
     * alternate pixels (the same rays in all), the per-pixel budget's worst
     * case for one thread per pixel (every warp would wait for 2B - 1) */
    {
        const uint32_t B = 32;
        uint32_t x, y;
        memset(&bal[0], 0, sizeof bal);
        pd.spp = B;
        pd.spp_map = pd.step_map = NULL;
        pd.seed = 4000;
        if (measure(ctx, scene, &pd, o.reps, NULL, NULL, &bal[0], NULL)) goto done;
        for (y = 0; y < H; ++y)
            for (x = 0; x < W; ++x) spp_map[(size_t)y * W + x] = (x + y) & 1 ? 2 * B - 1 : 1;
        pd.spp = 0;
        pd.spp_map = &t_spp;
        if (measure(ctx, scene, &pd, o.reps, NULL, NULL, &bal[1], NULL)) goto done;
        say("balance: %u rays everywhere %.3f ms (%.4e samples); 1 and %u alternating %.3f ms (%.4e samples)", (unsigned)B,
            bal[0].ms, (double)bal[0].samples, (unsigned)(2 * B - 1), bal[1].ms, (double)bal[1].samples);
    }

    /* ---- 6. the whole pipeline at --pipeline */
    if (o.pipeline) {
        snprintf(pipe_dir, sizeof pipe_dir, "%s/%s_pipeline_%dx%d", o.out, o.name, pw, ph);
        for (k = 0; k < 2; ++k, ++npipe) {
            size_t from = pipeline_log_size(pipe_dir);
            pipe[k].status = run_tool(&o, pipe_dir, NULL, o.device, pw, ph, &pipe[k].wall_s);
            if (pipe[k].status == 0) read_pipeline_log(pipe_dir, from, &pipe[k]);
            else say("WARNING: the pipeline at %dx%d failed (exit status %d; %s/dvren_pipeline.log)", pw, ph, pipe[k].status, pipe_dir);
        }
    }

    /* ---- files: every point (CSV), the summary (JSON), the table (markdown) */
    snprintf(line, sizeof line,
             "scene,method,spp_or_peak,step_factor,samples,rays,mean_spp,coverage,psnr_in_db,psnr_out_db,psnr_all_db,ms_best,"
             "ms_median,ns_per_sample\n");
    dvren_io_buf_append(&csv, line, strlen(line));
    for (meth = 0; meth < 1 + nscales; ++meth)
        for (k = 0; k < npts[meth]; ++k) {
            const point* p = &pts_all[meth][k];
            char mname[64];
            int len;
            if (meth) snprintf(mname, sizeof mname, "foveated_x%g", scales[meth - 1]);
            else snprintf(mname, sizeof mname, "uniform");
            len = snprintf(line, sizeof line, "%s,%s,%u,%g,%llu,%llu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", o.name,
                           mname, (unsigned)p->spp, p->step, (unsigned long long)p->samples, (unsigned long long)p->rays,
                           p->mean_spp, p->coverage, p->psnr_in, p->psnr_out, p->psnr_all, p->ms, p->ms_median,
                           p->samples ? 1e6 * p->ms / (double)p->samples : 0.0);
            dvren_io_buf_append(&csv, line, (size_t)len);
        }
    snprintf(path, sizeof path, "%s/%s_points.csv", o.out, o.name);
    if (csv.failed || dvren_file_write_atomic(ctx, path, csv.data, csv.size)) {
        fprintf(stderr, "foveate: %s: %s\n", path, csv.failed ? "out of memory" : dvren_last_error(ctx));
        goto done;
    }

    js = cJSON_CreateObject();
    cJSON_AddStringToObject(js, "scene", o.scene);
    cJSON_AddStringToObject(js, "name", o.name);
    cJSON_AddStringToObject(js, "device", devname);
    cJSON_AddNumberToObject(js, "width", W);
    cJSON_AddNumberToObject(js, "height", H);
    cJSON_AddStringToObject(js, "importance", imp_source);
    cJSON_AddBoolToObject(js, "saliency_on_cpu", saliency_on_cpu);
    cJSON_AddNumberToObject(js, "importance_width", iw);
    cJSON_AddNumberToObject(js, "importance_height", ih);
    cJSON_AddNumberToObject(js, "region_fraction", (double)nreg / (double)n);
    cJSON_AddNumberToObject(js, "region_threshold", thr);
    cJSON_AddNumberToObject(js, "reference_spp", (double)o.ref_spp);
    cJSON_AddNumberToObject(js, "reference_noise_psnr_in_db", ref_noise_in);
    cJSON_AddNumberToObject(js, "target_psnr_in_db", o.target);
    cJSON_AddNumberToObject(js, "quantile_lo", bp.quantile_lo);
    cJSON_AddNumberToObject(js, "quantile_hi", bp.quantile_hi);
    cJSON_AddNumberToObject(js, "budget_gamma", bp.gamma);
    cJSON_AddStringToObject(js, "interpolation", "log-linear: PSNR inside linear in log(samples) between the ladder points "
                                                 "around the crossing; log(time) and PSNR outside interpolated alike");
    arr = cJSON_AddArrayToObject(js, "foveated");
    for (meth = 0; meth < 1 + nscales; ++meth) {
        const crossing* c = &cross_all[meth];
        const point* p = pts_all[meth];
        cJSON* o2 = meth ? cJSON_CreateObject() : cJSON_AddObjectToObject(js, "uniform");
        if (meth) {
            cJSON_AddItemToArray(arr, o2);
            cJSON_AddNumberToObject(o2, "max_step_scale", scales[meth - 1]);
        }
        cJSON_AddBoolToObject(o2, "reached", c->found);
        if (!c->found) continue;
        cJSON_AddBoolToObject(o2, "upper_bound", c->last);
        cJSON_AddNumberToObject(o2, "samples", c->samples);
        cJSON_AddNumberToObject(o2, "ms", c->ms);
        cJSON_AddNumberToObject(o2, "psnr_out_db", c->psnr_out);
        cJSON_AddNumberToObject(o2, "spp_or_peak", p[c->lo].spp);
        cJSON_AddNumberToObject(o2, "step_factor_lo", p[c->lo].step);
        cJSON_AddNumberToObject(o2, "step_factor_hi", p[c->hi].step);
        if (meth && cross_all[0].found) {
            double sr = cross_all[0].samples / c->samples, tr = cross_all[0].ms / c->ms;
            cJSON_AddNumberToObject(o2, "sample_ratio", sr);
            cJSON_AddNumberToObject(o2, "time_ratio", tr);
            cJSON_AddNumberToObject(o2, "time_ratio_over_sample_ratio", tr / sr);
            cJSON_AddBoolToObject(o2, "target_samples_met", sr >= 3.0);
            cJSON_AddBoolToObject(o2, "target_time_met", fabs(tr / sr - 1.0) <= 0.2);
        }
    }
    arr = cJSON_AddArrayToObject(js, "pipeline");
    for (k = 0; k < npipe; ++k) {
        cJSON* e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "run", k + 1);
        cJSON_AddNumberToObject(e, "width", pw);
        cJSON_AddNumberToObject(e, "height", ph);
        cJSON_AddNumberToObject(e, "status", pipe[k].status);
        cJSON_AddNumberToObject(e, "process_s", pipe[k].wall_s);
        cJSON_AddNumberToObject(e, "preview_ms", pipe[k].preview_ms);
        cJSON_AddNumberToObject(e, "saliency_ms", pipe[k].saliency_ms);
        cJSON_AddNumberToObject(e, "final_ms", pipe[k].final_ms);
        cJSON_AddNumberToObject(e, "total_ms", pipe[k].total_ms);
        cJSON_AddNumberToObject(e, "preview_render_ms", pipe[k].preview_render_ms);
        cJSON_AddNumberToObject(e, "saliency_models_ms", pipe[k].saliency_models_ms);
        cJSON_AddNumberToObject(e, "final_render_ms", pipe[k].final_render_ms);
        cJSON_AddItemToArray(arr, e);
    }
    {
        cJSON* b = cJSON_AddObjectToObject(js, "balance");
        cJSON_AddNumberToObject(b, "uniform_spp", 32);
        cJSON_AddNumberToObject(b, "uniform_ms", bal[0].ms);
        cJSON_AddNumberToObject(b, "uniform_samples", (double)bal[0].samples);
        cJSON_AddNumberToObject(b, "alternating_ms", bal[1].ms);
        cJSON_AddNumberToObject(b, "alternating_samples", (double)bal[1].samples);
        cJSON_AddNumberToObject(b, "time_per_sample_ratio",
                                (bal[1].ms / (double)bal[1].samples) / (bal[0].ms / (double)bal[0].samples));
    }
    cJSON_AddNumberToObject(js, "tool_preview_s", tool_s[0]);
    cJSON_AddNumberToObject(js, "tool_saliency_s", tool_s[1]);
    cJSON_AddNumberToObject(js, "bench_s", now_s() - t_all0);
    {
        char* text = cJSON_Print(js);
        snprintf(path, sizeof path, "%s/%s.json", o.out, o.name);
        if (!text || dvren_file_write_atomic(ctx, path, text, strlen(text))) {
            fprintf(stderr, "foveate: %s: %s\n", path, text ? dvren_last_error(ctx) : "out of memory");
            free(text);
            goto done;
        }
        free(text);
    }

#define MD(...)                                                                                                        \
    do {                                                                                                               \
        int len_ = snprintf(line, sizeof line, __VA_ARGS__);                                                           \
        if (len_ > 0) dvren_io_buf_append(&md, line, (size_t)len_ < sizeof line ? (size_t)len_ : sizeof line - 1);    \
    } while (0)
    MD("\n### bench/foveate: %s, %u x %u, %s\n\n", o.name, (unsigned)W, (unsigned)H, devname);
    MD("Region: the top %.0f%% of the importance map (%s%s, %u x %u), %.1f%% of the pixels. Reference: %ld rays per "
       "pixel, jittered (its own noise inside the region: %.1f dB). Foveated: min_spp 1, peak = max_spp, step x1..xM "
       "(max_step_scale M, one search each), quantiles %g/%g, gamma %g. Samples = sum of the samples output (rays x march samples); each method searches rays "
       "per pixel 1..%ld and march steps x1..x32 and gives its smallest count at %.0f dB inside (log-linear between the "
       "steps around the crossing).\n\n",
       100.0 * o.region, imp_source, saliency_on_cpu ? ", saliency on the CPU" : "", (unsigned)iw, (unsigned)ih,
       100.0 * nreg / n, o.ref_spp, ref_noise_in, (double)bp.quantile_lo,
       (double)bp.quantile_hi, (double)bp.gamma, o.max_spp, o.target);
    MD("| method | best setting around %.0f dB inside | samples at %.0f dB inside | PSNR outside there | time there (ms) | "
       "samples uniform / this | time uniform / this (of proportional) |\n",
       o.target, o.target);
    MD("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (meth = 0; meth < 1 + nscales; ++meth) {
        const crossing* c = &cross_all[meth];
        const point* p = pts_all[meth];
        const char* what = meth ? "peak" : "spp";
        char mname[64], ratio[128] = "-", tratio[128] = "-";
        if (meth) snprintf(mname, sizeof mname, "foveated, M = %g", scales[meth - 1]);
        else snprintf(mname, sizeof mname, "uniform");
        if (meth && c->found && cross_all[0].found) {
            double sr = cross_all[0].samples / c->samples, tr = cross_all[0].ms / c->ms;
            snprintf(ratio, sizeof ratio, "**%.2fx** (>= 3: %s)", sr, sr >= 3.0 ? "met" : "NOT met");
            snprintf(tratio, sizeof tratio, "%.2fx (%.2f: %s)", tr, tr / sr, fabs(tr / sr - 1.0) <= 0.2 ? "met" : "NOT met");
        }
        if (!c->found) {
            MD("| %s | not reached (%.2f dB at %s %u, step x1) | - | - | - | - | - |\n", mname, p[0].psnr_in, what,
               (unsigned)p[0].spp);
        } else if (c->last) {
            MD("| %s | %s %u, step x%g (%.2f dB): the coarsest step tried, an upper bound | %.4g | %.2f dB | %.3f | %s | %s |\n",
               mname, what, (unsigned)p[c->lo].spp, p[c->lo].step, p[c->lo].psnr_in, c->samples, c->psnr_out, c->ms, ratio,
               tratio);
        } else {
            MD("| %s | %s %u, step x%g: %.2f dB, x%g: %.2f dB | %.4g | %.2f dB | %.3f | %s | %s |\n", mname, what,
               (unsigned)p[c->lo].spp, p[c->lo].step, p[c->lo].psnr_in, p[c->hi].step, p[c->hi].psnr_in, c->samples,
               c->psnr_out, c->ms, ratio, tratio);
        }
    }
    MD("\nBalance (the same rays, 32 per pixel on average): 32 in every pixel %.3f ms (%.4g samples); 1 and 63 in "
       "alternate pixels %.3f ms (%.4g samples): time per sample %.2fx the uniform plan's (1: balanced; one thread per "
       "pixel would wait for 63 in every warp, about 2x).\n",
       bal[0].ms, (double)bal[0].samples, bal[1].ms, (double)bal[1].samples,
       (bal[1].ms / (double)bal[1].samples) / (bal[0].ms / (double)bal[0].samples));
    if (npipe) {
        MD("\nThe whole pipeline at %d x %d (dvren_foveate --device %s; [timer] lines, ms):\n\n", pw, ph, o.device);
        MD("| run | preview (render) | saliency (models) | final (render) | pipeline | process (s) |\n");
        MD("| --- | --- | --- | --- | --- | --- |\n");
        for (k = 0; k < npipe; ++k) {
            if (pipe[k].status != 0) MD("| %d | failed (exit status %d) | | | | %.1f |\n", k + 1, pipe[k].status, pipe[k].wall_s);
            else
                MD("| %d | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.1f | %.1f |\n", k + 1, pipe[k].preview_ms,
                   pipe[k].preview_render_ms, pipe[k].saliency_ms, pipe[k].saliency_models_ms, pipe[k].final_ms,
                   pipe[k].final_render_ms, pipe[k].total_ms, pipe[k].wall_s);
        }
    }
#undef MD
    snprintf(path, sizeof path, "%s/%s.md", o.out, o.name);
    if (md.failed || dvren_file_write_atomic(ctx, path, md.data, md.size)) {
        fprintf(stderr, "foveate: %s: %s\n", path, md.failed ? "out of memory" : dvren_last_error(ctx));
        goto done;
    }
    say("done in %.1f s; wrote %s/%s_points.csv, %s.json, %s.md, %s_reference.png", now_s() - t_all0, o.out, o.name,
        o.name, o.name, o.name);
    fwrite(md.data, 1, md.size, stdout);
    status = 0;
done:
    dvren_io_buf_free(&md);
    dvren_io_buf_free(&csv);
    cJSON_Delete(js);
    free(imp);
    free(m);
    free(region);
    free(ref);
    free(half);
    free(spp_map);
    free(step_map);
    free(budget_step);
    free(png);
    dvren_scene_destroy(scene);
    dvren_scenefile_free(&sf);
    cJSON_Delete(root);
    dvren_context_destroy(ctx);
    return status;
}
