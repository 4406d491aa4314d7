/* tools/dvren_foveate.c - saliency-driven foveated rendering of a scene file:
 * a cheap preview, an importance map from saliency models, and one final
 * render whose samples follow the map (issue 11; docs/foveation.md).
 *
 *   dvren_foveate scene.json [--out DIR] [--stage preview|saliency|final|all] [options]
 *
 * The stages and their files are described at the top of
 * tools/dvren_foveate.h, which holds the pipeline and the whole run
 * (dvren_foveate_run_scene: the scene, the context on the device the scene
 * or --device names, never another, a GPU asked for and absent being an
 * error, the stages); this file reads the command line into a request and
 * maps the result to the exit status. The configuration is the scene
 * file's optional "foveate" object, overridden by flags in their order
 * (--help lists them with their defaults). Every line goes to the terminal
 * and to <out>/dvren_pipeline.log.
 * Exit status: 0 on success, 1 on a failure (an [ERROR] line says what
 * failed; the failing stage leaves none of its files behind), 2 on a
 * command-line mistake. */
#define _POSIX_C_SOURCE 200809L /* mkdir, stat (dvren_foveate.h's output folder) under -std=c11 */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#define DVREN_FOVEATE_IMPLEMENTATION
#include "dvren_foveate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DF_MAX_FLAGS 64

typedef struct df_options {
    const char* scene;
    const char* stage;
    const char* device;
    const char* gpu_name;
    long long gpu_index, min_cc, threads, width, height, seed;
    int have_gpu_index, have_threads, have_seed, clean, quiet;
    /* configuration flags, applied in order over the scene's "foveate" object */
    const char* flag[DF_MAX_FLAGS];
    const char* value[DF_MAX_FLAGS];
    int nflags;
    int refused; /* set by df_override: a flag's value was refused (exit status 2) */
} df_options;

static void df_usage(FILE* f)
{
    fputs("usage: dvren_foveate scene.json [options]\n"
          "  Saliency-driven foveated rendering: a preview, an importance map from saliency models, and a final\n"
          "  render whose samples per pixel follow the map. Files go to the output folder; every line also goes\n"
          "  to <out>/dvren_pipeline.log. Configuration: the scene's \"foveate\" object, then these flags.\n"
          "  --out DIR               output folder (foveate.out; default out/foveate; created when missing)\n"
          "  --stage S               preview, saliency, final or all (default all: the three in order); a stage\n"
          "                          refuses to start when the file it reads is missing\n"
          "  --keep | --clean        keep earlier files (default; they are overwritten as stages write theirs), or\n"
          "                          remove the files of the stages about to run first\n"
          "  --device cpu|cuda|cuda:N   the device (default: the scene's \"device\", else cpu); cuda runs on an\n"
          "                          NVIDIA GPU or fails, never falling back to the CPU; cuda:N is --gpu-index N\n"
          "  --gpu-index N --gpu-name TEXT --min-cc N   which GPU (by index, name, compute capability)\n"
          "  --threads N             CPU threads (0: all cores)\n"
          "  --width N --height N    the final image size (default: the scene's plan)\n"
          "  --seed N                the final render's seed (default: the scene's plan)\n"
          " preview (foveate.<key>)\n"
          "  --preview-size N        preview_size: short side before snapping to 16, 16..8192 (default 448)\n"
          "  --preview-spp N         preview_spp: rays per pixel, 1..65536 (default 4)\n"
          "  --preview-seed N        preview_seed: fixed seed of the preview (default 1)\n"
          " saliency\n"
          "  --models A,B            models: saliency plugins by name (default spectral_residual); in the scene,\n"
          "                          [{\"name\": N, \"weight\": W, \"params\": {...}}] or names\n"
          "  --weights W,W           each model's weight, >= 0 (default 1)\n"
          "  --combine product|sum   combine: weighted product (default) or weighted sum, then normalised to [0, 1]\n"
          "  --lo P --hi P           lo, hi: percentile stretch (default 2, 98)\n"
          "  --gamma G               gamma: after the stretch (default 1)\n"
          "  --close K               close: morphological closing, K x K square, odd or 0/1 for none (default 5)\n"
          "  --blur K                blur: Gaussian blur kernel size, odd or 0/1 for none (default 15)\n"
          "  --overlay A             overlay: opacity of the map over the preview in user_importance_preview.png (0.6)\n"
          " final\n"
          "  --min-spp N --max-spp N min_spp, max_spp: rays per pixel bounds (default 1, 64)\n"
          "  --mean-spp X            mean_spp: wanted mean rays per pixel; 0: the peak is max_spp (default 0)\n"
          "  --max-step-scale X      max_step_scale: march step multiplier where importance is low, 1..64 (default 2)\n"
          "  --quantile-lo Q --quantile-hi Q   quantile_lo, quantile_hi: thresholds of the map (default 0.2, 0.8)\n"
          "  --budget-gamma G        budget_gamma: weight = ramp^G between the thresholds (default 2.2)\n"
          "  --exr                   exr: also write final.exr (RGBA float32, linear)\n"
          "  --srgb | --linear-png   srgb: PNGs sRGB-encoded (default), or values as they are (as dvren_render)\n"
          "  -q, --quiet             only errors on the terminal (the log file gets every line)\n"
          "  -h, --help\n"
          "Files: preview.png, preview_{rgb,alpha,depth,variance}.npy; user_importance.npy,\n"
          "user_importance_mask.exr, user_importance_preview.png; final.png (16-bit), final.exr, final_spp.png,\n"
          "final_budget.json. docs/foveation.md describes the method.\n",
          f);
}

/* The flags that set configuration values (applied by df_apply). */
static const char* const df_config_flags[] = {
    "--out",        "--preview-size", "--preview-spp", "--preview-seed", "--models",       "--weights",
    "--combine",    "--lo",           "--hi",          "--gamma",        "--close",        "--blur",
    "--overlay",    "--min-spp",      "--max-spp",     "--mean-spp",     "--max-step-scale", "--quantile-lo",
    "--quantile-hi", "--budget-gamma", NULL};

static int df_parse_int(const char* flag, const char* v, long long lo, long long hi, long long* out)
{
    char* e;
    long long x;
    errno = 0;
    x = strtoll(v, &e, 10);
    if (!*v || *e || errno || x < lo || x > hi) {
        fprintf(stderr, "[ERROR] dvren_foveate: %s needs an integer in %lld..%lld, got '%s'\n", flag, lo, hi, v);
        return 1;
    }
    *out = x;
    return 0;
}

static int df_parse_args(int argc, char** argv, df_options* o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->stage = "all";
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* const* cf;
        int is_config = 0;
#define DF_NEXT() (i + 1 < argc ? argv[++i] : (fprintf(stderr, "[ERROR] dvren_foveate: %s needs a value\n", a), (char*)NULL))
        for (cf = df_config_flags; *cf && !is_config; ++cf) is_config = !strcmp(a, *cf);
        if (is_config) {
            const char* v = DF_NEXT();
            if (!v) return 2;
            if (o->nflags == DF_MAX_FLAGS) {
                fprintf(stderr, "[ERROR] dvren_foveate: more than %d configuration flags\n", DF_MAX_FLAGS);
                return 2;
            }
            o->flag[o->nflags] = a;
            o->value[o->nflags++] = v;
        } else if (!strcmp(a, "--exr") || !strcmp(a, "--srgb") || !strcmp(a, "--linear-png")) {
            if (o->nflags == DF_MAX_FLAGS) return 2;
            o->flag[o->nflags] = a;
            o->value[o->nflags++] = "";
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            df_usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--stage")) {
            if (!(o->stage = DF_NEXT())) return 2;
            if (strcmp(o->stage, "preview") && strcmp(o->stage, "saliency") && strcmp(o->stage, "final") &&
                strcmp(o->stage, "all")) {
                fprintf(stderr, "[ERROR] dvren_foveate: --stage '%s' is not one of preview, saliency, final, all\n", o->stage);
                return 2;
            }
        } else if (!strcmp(a, "--device")) {
            if (!(o->device = DF_NEXT())) return 2;
            if (!strncmp(o->device, "cuda:", 5)) {
                if (df_parse_int("--device cuda:N", o->device + 5, 0, 1024, &o->gpu_index)) return 2;
                o->have_gpu_index = 1;
                o->device = "cuda";
            } else if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) {
                fprintf(stderr, "[ERROR] dvren_foveate: --device '%s' is not one of cpu, cuda, cuda:N\n", o->device);
                return 2;
            }
        } else if (!strcmp(a, "--gpu-name")) {
            if (!(o->gpu_name = DF_NEXT())) return 2;
        } else if (!strcmp(a, "--gpu-index") || !strcmp(a, "--min-cc") || !strcmp(a, "--threads") || !strcmp(a, "--width") ||
                   !strcmp(a, "--height") || !strcmp(a, "--seed")) {
            const char* v = DF_NEXT();
            long long x;
            int dim = !strcmp(a, "--width") || !strcmp(a, "--height");
            if (!v ||
                df_parse_int(a, v, dim ? 1 : 0,
                             dim ? 32768 : !strcmp(a, "--seed") ? 9007199254740992ll : !strcmp(a, "--threads") ? 1024 : 1000,
                             &x))
                return 2;
            if (!strcmp(a, "--gpu-index")) o->gpu_index = x, o->have_gpu_index = 1;
            else if (!strcmp(a, "--min-cc")) o->min_cc = x;
            else if (!strcmp(a, "--threads")) o->threads = x, o->have_threads = 1;
            else if (!strcmp(a, "--width")) o->width = x;
            else if (!strcmp(a, "--height")) o->height = x;
            else o->seed = x, o->have_seed = 1;
        } else if (!strcmp(a, "--keep")) {
            o->clean = 0;
        } else if (!strcmp(a, "--clean")) {
            o->clean = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "[ERROR] dvren_foveate: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!o->scene) {
            o->scene = a;
        } else {
            fprintf(stderr, "[ERROR] dvren_foveate: more than one scene given ('%s', '%s')\n", o->scene, a);
            return 2;
        }
#undef DF_NEXT
    }
    if (!o->scene) {
        fprintf(stderr, "[ERROR] dvren_foveate: no scene file given (usage: dvren_foveate scene.json [options]; see --help)\n");
        return 2;
    }
    return 0;
}

/* A number flag's value: the whole text must be a finite number. */
static int df_number(const char* flag, const char* v, double* out, char* err, size_t cap)
{
    char* e;
    double x = strtod(v, &e);
    if (!*v || *e || !isfinite(x)) {
        snprintf(err, cap, "%s needs a number, got '%s'", flag, v);
        return 1;
    }
    *out = x;
    return 0;
}

static int df_integer(const char* flag, const char* v, double* out, char* err, size_t cap)
{
    if (df_number(flag, v, out, err, cap)) return 1;
    if (floor(*out) != *out || *out < 0 || *out > 9007199254740992.0) {
        snprintf(err, cap, "%s needs a non-negative integer, got '%s'", flag, v);
        return 1;
    }
    return 0;
}

/* One configuration flag over cfg (ranges are checked afterwards, with the config's). */
static int df_apply(dvren_foveate_config* c, const char* f, const char* v, char* err, size_t cap)
{
    double x = 0.0;
    if (!strcmp(f, "--out")) {
        if (!*v || strlen(v) >= sizeof c->out - 64) {
            snprintf(err, cap, "--out needs a folder name");
            return 1;
        }
        snprintf(c->out, sizeof c->out, "%s", v);
    } else if (!strcmp(f, "--exr")) {
        c->exr = 1;
    } else if (!strcmp(f, "--srgb")) {
        c->srgb = 1;
    } else if (!strcmp(f, "--linear-png")) {
        c->srgb = 0;
    } else if (!strcmp(f, "--combine")) {
        if (strcmp(v, "product") && strcmp(v, "sum")) {
            snprintf(err, cap, "--combine '%s' is not one of product, sum", v);
            return 1;
        }
        c->combine = strcmp(v, "sum") ? DVREN_FOVEATE_PRODUCT : DVREN_FOVEATE_SUM;
    } else if (!strcmp(f, "--models")) {
        /* the new list; a model the scene configured keeps its weight and params */
        dvren_foveate_model old[DVREN_FOVEATE_MAX_MODELS], *m;
        uint32_t n_old = c->model_count, n = 0, k;
        const char* p = v;
        memcpy(old, c->models, sizeof old);
        while (1) {
            size_t len = strcspn(p, ",");
            if (n == DVREN_FOVEATE_MAX_MODELS) {
                snprintf(err, cap, "--models: at most %d models", DVREN_FOVEATE_MAX_MODELS);
                return 1;
            }
            if (len == 0 || len >= sizeof c->models[0].name) {
                snprintf(err, cap, "--models '%s': give saliency plugin names separated by commas", v);
                return 1;
            }
            m = &c->models[n++];
            memset(m, 0, sizeof *m);
            snprintf(m->name, sizeof m->name, "%.*s", (int)len, p);
            m->weight = 1.0f;
            for (k = 0; k < n_old; ++k)
                if (!strcmp(old[k].name, m->name)) *m = old[k];
            if (!p[len]) break;
            p += len + 1;
        }
        c->model_count = n;
    } else if (!strcmp(f, "--weights")) {
        const char* p = v;
        uint32_t n = 0;
        while (1) {
            size_t len = strcspn(p, ",");
            char buf[64];
            if (len == 0 || len >= sizeof buf) {
                snprintf(err, cap, "--weights '%s': give numbers separated by commas, one per model", v);
                return 1;
            }
            snprintf(buf, sizeof buf, "%.*s", (int)len, p);
            if (df_number("--weights", buf, &x, err, cap)) return 1;
            if (n < DVREN_FOVEATE_MAX_MODELS) c->models[n].weight = (float)x;
            ++n;
            if (!p[len]) break;
            p += len + 1;
        }
        if (n != c->model_count) {
            snprintf(err, cap, "--weights: %u weights for %u models (%s)", (unsigned)n, (unsigned)c->model_count,
                     c->model_count == 1 ? c->models[0].name : "give one per model, in the order of --models");
            return 1;
        }
    } else if (!strcmp(f, "--preview-size") || !strcmp(f, "--preview-spp") || !strcmp(f, "--preview-seed") ||
               !strcmp(f, "--close") || !strcmp(f, "--blur") || !strcmp(f, "--min-spp") || !strcmp(f, "--max-spp")) {
        if (df_integer(f, v, &x, err, cap)) return 1;
        if (x > 4294967295.0 && strcmp(f, "--preview-seed")) x = 4294967295.0; /* out of range: reported by the check */
        if (!strcmp(f, "--preview-size")) c->preview_size = (uint32_t)x;
        else if (!strcmp(f, "--preview-spp")) c->preview_spp = (uint32_t)x;
        else if (!strcmp(f, "--preview-seed")) c->preview_seed = (uint64_t)x;
        else if (!strcmp(f, "--close")) c->post.close_size = (uint32_t)x;
        else if (!strcmp(f, "--blur")) c->post.blur_size = (uint32_t)x;
        else if (!strcmp(f, "--min-spp")) c->budget.min_spp = (uint32_t)x;
        else c->budget.max_spp = (uint32_t)x;
    } else {
        if (df_number(f, v, &x, err, cap)) return 1;
        if (!strcmp(f, "--lo")) c->post.percentile_lo = (float)x;
        else if (!strcmp(f, "--hi")) c->post.percentile_hi = (float)x;
        else if (!strcmp(f, "--gamma")) c->post.gamma = (float)x;
        else if (!strcmp(f, "--overlay")) c->overlay = (float)x;
        else if (!strcmp(f, "--mean-spp")) c->budget.mean_spp = (float)x;
        else if (!strcmp(f, "--max-step-scale")) c->budget.max_step_scale = (float)x;
        else if (!strcmp(f, "--quantile-lo")) c->budget.quantile_lo = (float)x;
        else if (!strcmp(f, "--quantile-hi")) c->budget.quantile_hi = (float)x;
        else if (!strcmp(f, "--budget-gamma")) c->budget.gamma = (float)x;
        else {
            snprintf(err, cap, "%s: not a configuration flag", f);
            return 1;
        }
    }
    return 0;
}

/* The request's override: the configuration flags in their order over the
 * scene's "foveate" object (dvren_foveate_override_fn). */
static int df_override(dvren_foveate_config* cfg, void* user, char* err, size_t cap)
{
    df_options* o = (df_options*)user;
    int k, n = snprintf(err, cap, "dvren_foveate: ");
    if (n < 0 || (size_t)n >= cap) n = 0;
    for (k = 0; k < o->nflags; ++k)
        if (df_apply(cfg, o->flag[k], o->value[k], err + n, cap - (size_t)n)) {
            o->refused = 1;
            return 1;
        }
    return 0;
}

int main(int argc, char** argv)
{
    df_options o;
    dvren_foveate_request req;
    dvren_foveate_result res;
    int rc;

    if ((rc = df_parse_args(argc, argv, &o)) != 0) return rc;
    memset(&req, 0, sizeof req);
    req.scene_path = o.scene;
    req.override = df_override;
    req.override_user = &o;
    req.stages = !strcmp(o.stage, "preview")    ? DVREN_FOVEATE_PREVIEW
                 : !strcmp(o.stage, "saliency") ? DVREN_FOVEATE_SALIENCY
                 : !strcmp(o.stage, "final")    ? DVREN_FOVEATE_FINAL
                                                : DVREN_FOVEATE_ALL;
    req.clean = o.clean;
    req.quiet = o.quiet;
    req.program = "dvren_foveate";
    req.device = o.device;
    req.has_gpu_index = o.have_gpu_index;
    req.gpu_index = (uint32_t)o.gpu_index;
    req.gpu_name = o.gpu_name;
    req.min_cc = (uint32_t)o.min_cc;
    req.has_threads = o.have_threads;
    req.threads = (uint32_t)o.threads;
    req.width = (uint32_t)o.width;
    req.height = (uint32_t)o.height;
    req.has_seed = o.have_seed;
    req.seed = (uint64_t)o.seed;
    /* the run logs its own [ERROR] line; 2 stays for command-line mistakes */
    if (dvren_foveate_run_scene(&req, &res) == DVREN_OK) return 0;
    return o.refused ? 2 : 1;
}
