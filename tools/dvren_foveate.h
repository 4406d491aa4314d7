/* tools/dvren_foveate.h - the saliency-driven foveated rendering pipeline
 * (issue 11) as a small library: dvren_foveate (tools/dvren_foveate.c) is a
 * command line around it, and other programs (the Python package) can run
 * the same stages. docs/foveation.md describes the method; dvren.h's
 * >>foveate section has the engine functions it calls.
 *
 * Three stages, with files between them in one output folder:
 *
 *   preview   the scene at a small size (short side preview_size, both sides
 *             multiples of 16), preview_spp rays per pixel, a fixed seed:
 *             bitwise reproducible. Writes preview.png (8-bit sRGB) and the
 *             linear outputs preview_rgb.npy (H, W, 3), preview_alpha.npy,
 *             preview_depth.npy, preview_variance.npy (H, W), float32.
 *   saliency  each configured saliency model (plugins of kind
 *             DVREN_PLUGIN_SALIENCY, by name) on the preview, on the
 *             context's device (dvren_saliency_compute); the maps combined
 *             (weighted product or weighted sum), normalised to [0, 1],
 *             shaped by dvren_importance_postprocess. Writes
 *             user_importance.npy (H, W) float32, user_importance_mask.exr
 *             (one float32 channel "Y") and user_importance_preview.png (the
 *             map in viridis over the preview).
 *   final     the per-pixel budget from the map at the final size
 *             (dvren_importance_budget: spp_map and step_map in the plan),
 *             logged before rendering, then one render. Writes final.png
 *             (16-bit), final.exr (RGBA float32, on request), final_spp.png (rays per pixel)
 *             (the samples each pixel took, in viridis; the range is logged)
 *             and final_budget.json (the budget's figures).
 *
 * A stage refuses to start when an input file is missing, naming the file
 * and the stage that makes it. Every file is written atomically
 * (dvren_file_write_atomic); when a stage fails, the files it wrote in this
 * run are removed, so a folder never holds a half-written stage.
 *
 * DO THIS in exactly one C file, after the implementations of dvren.h,
 * dvren_cuda.h and tools/dvren_scene.h (DVREN_SCENE_IMPLEMENTATION), with
 * stb_image_write linked (tools/stb_impl.c) and OpenEXR's core library
 * (-lOpenEXRCore):
 *     #define DVREN_FOVEATE_IMPLEMENTATION
 *     #include "dvren_foveate.h"
 *
 * A whole run from a scene file, as the dvren_foveate command and Python's
 * dvren.foveate() do it (the context, the scene, the stages, the log, the
 * output folder made only when everything is ready):
 *
 *   dvren_foveate_request req = {0};
 *   dvren_foveate_result res;
 *   req.scene_path = "examples/ct_head_foveate.json";
 *   req.out_dir = "out/ct";                  (NULL: the scene's foveate.out)
 *   req.device = "cuda";                     (NULL: the scene's "device")
 *   if (dvren_foveate_run_scene(&req, &res) != DVREN_OK) ... res.status, res.error ...
 *
 * Or the stages by hand, on a context and scene of your own:
 *
 *   dvren_foveate_config cfg;
 *   dvren_foveate_config_default(&cfg);
 *   if (dvren_foveate_config_from_json(&cfg, sf.foveate, sf.name, err, sizeof err) ||
 *       dvren_foveate_config_check(&cfg, err, sizeof err)) ...
 *   dvren_foveate_job job = {0};
 *   job.ctx = ctx; job.scene = scene; job.plan = sf.plan; job.sf = &sf;
 *   job.cfg = &cfg; job.out_dir = "out/foveate"; job.log = &log;   (log: optional)
 *   if (dvren_foveate_run(&job, DVREN_FOVEATE_ALL)) ... job.error ...
 *
 * Logging: every line is tagged ([step], [env], [device], [timer], [OK],
 * [ERROR]). With a dvren_foveate_log (and dvren_foveate_log_sink as the
 * context's log function) lines go to the terminal (stderr; [OK] lines to
 * stdout) and to <out>/dvren_pipeline.log; without one, through the
 * context's own sink. [timer] lines wait for the device first
 * (dvren_synchronize), so GPU times are the work's, not the launch's. */
#ifndef DVREN_FOVEATE_H
#define DVREN_FOVEATE_H

#include <stdio.h>

#include "dvren.h"
#include "dvren_scene.h"

#define DVREN_FOVEATE_MAX_MODELS 8
#define DVREN_FOVEATE_PATH 4096

/* Stages, as bits (dvren_foveate_run runs the ones given, in this order). */
#define DVREN_FOVEATE_PREVIEW 0x1u
#define DVREN_FOVEATE_SALIENCY 0x2u
#define DVREN_FOVEATE_FINAL 0x4u
#define DVREN_FOVEATE_ALL 0x7u

/* How the maps of several models are combined, before normalising to [0, 1]. */
typedef enum dvren_foveate_combine {
    DVREN_FOVEATE_PRODUCT = 0, /* prod_i m_i ^ w_i (a weighted geometric product: every model must agree) */
    DVREN_FOVEATE_SUM = 1,     /* sum_i w_i m_i / sum_i w_i (any model may raise a pixel) */
    DVREN_FOVEATE_COMBINE_FORCE_32 = 0x7FFFFFFF
} dvren_foveate_combine;

/* One saliency model of the pipeline. */
typedef struct dvren_foveate_model {
    char name[64];         /* the plugin's name ([a-z0-9_]+): spectral_residual, render_error, external, ... */
    float weight;          /* >= 0, default 1: exponent (product) or weight (sum) */
    const cJSON* params;   /* the plugin's parameters as a JSON object (borrowed), or NULL: its defaults */
} dvren_foveate_model;

/* The pipeline's configuration: the scene file's "foveate" object, then the
 * command line. dvren_foveate_config_default gives the defaults beside each
 * field. */
typedef struct dvren_foveate_config {
    char out[DVREN_FOVEATE_PATH]; /* "out": output folder, default "out/foveate" (relative to the working folder) */
    /* preview */
    uint32_t preview_size;   /* "preview_size": the preview's short side before snapping to 16, 16..8192, default 448 */
    uint32_t preview_spp;    /* "preview_spp": rays per pixel, 1..65536, default 4 (>= 2 gives a variance) */
    uint64_t preview_seed;   /* "preview_seed": the preview's RNG seed, 0..2^53, default 1 */
    /* saliency */
    dvren_foveate_model models[DVREN_FOVEATE_MAX_MODELS]; /* "models": names or {"name", "weight", "params"} */
    uint32_t model_count;    /* 1..8, default 1: spectral_residual */
    dvren_foveate_combine combine; /* "combine": "product" (default) or "sum" */
    dvren_importance_params post;  /* "lo" 2, "hi" 98, "gamma" 1, "close" 5, "blur" 15 (dvren_importance_postprocess) */
    float overlay;           /* "overlay": opacity of the viridis map over the preview, [0, 1], default 0.6 */
    /* final */
    dvren_budget_params budget; /* "min_spp" 1, "max_spp" 64, "mean_spp" 0, "max_step_scale" 2,
                                   "quantile_lo" 0.2, "quantile_hi" 0.8, "budget_gamma" 2.2 (dvren_importance_budget) */
    int exr;                 /* "exr": also write final.exr, default false */
    int srgb;                /* "srgb": PNGs sRGB-encoded (IEC 61966-2-1), default true; false: values written as they are, as dvren_render does */
} dvren_foveate_config;

/* Fills the defaults above. */
void dvren_foveate_config_default(dvren_foveate_config* cfg);
/* Reads a scene file's "foveate" object (NULL: nothing to read) over cfg.
 * Unknown keys and wrong types are errors naming the key ("<scene>:
 * foveate.blur: ..."), written to err. Ranges are checked by
 * dvren_foveate_config_check. The models' "params" stay borrowed from obj.
 * Returns 0, or 1 on error. */
int dvren_foveate_config_from_json(dvren_foveate_config* cfg, const cJSON* obj, const char* scene_name, char* err,
                                   size_t err_cap);
/* Checks every value's range and consistency (lo < hi, min_spp <= max_spp,
 * odd kernel sizes, weights, model names); the message names the key and
 * its command-line flag ("foveate.blur (--blur): must be odd (or 0, 1:
 * none), got 4"). Returns 0, or 1 with the message in err. */
int dvren_foveate_config_check(const dvren_foveate_config* cfg, char* err, size_t err_cap);

/* The preview's size for a final image of width x height: the short side
 * becomes preview_size, the long side keeps the aspect ratio, and both are
 * rounded to the nearest multiple of 16 (at least 16). */
void dvren_foveate_preview_size(uint32_t width, uint32_t height, uint32_t preview_size, uint32_t* pw, uint32_t* ph);

/* ---- the log ------------------------------------------------------------------ */

/* Where the pipeline's lines go: the terminal and <out>/dvren_pipeline.log
 * (appended; lines logged before the file is opened wait in memory and are
 * written when it opens). Zero-initialise it. */
typedef struct dvren_foveate_log {
    FILE* file;            /* the open log file, or NULL */
    int quiet;             /* 1: only [ERROR] lines on the terminal (the file still gets every line) */
    int library_errors;    /* 1: echo the library's own [ERROR] lines too (by default the pipeline
                              reports each failure once, with what it was doing) */
    char path[DVREN_FOVEATE_PATH];
    char* pending;         /* lines waiting for the file */
    size_t pending_size, pending_cap;
} dvren_foveate_log;

/* A dvren_log_fn: give it as the context's log function with the
 * dvren_foveate_log as log_user. Called on the context's thread. */
void dvren_foveate_log_sink(void* user, dvren_log_level level, const char* line);
/* Writes "<tag> <text>" through the log (what the sink does, without a context). */
void dvren_foveate_logf(dvren_foveate_log* log, dvren_log_level level, const char* tag, const char* fmt, ...)
    DVREN_PRINTF(4, 5);
/* Opens (appends to) <out_dir>/dvren_pipeline.log, writing the lines that
 * waited. The folder must exist. Returns 0, or 1 with the reason in err. */
int dvren_foveate_log_open(dvren_foveate_log* log, const char* out_dir, char* err, size_t err_cap);
/* Closes the file and frees what waited. */
void dvren_foveate_log_close(dvren_foveate_log* log);

/* ---- the stages ----------------------------------------------------------------- */

/* What the stages need. Zero it, then fill the inputs. */
typedef struct dvren_foveate_job {
    /* inputs */
    dvren_context* ctx;            /* required */
    dvren_scene* scene;            /* required for preview and final */
    dvren_plan_desc plan;          /* the final render's plan (camera, size, step, seed, background); its
                                      roi, spp, outputs, rays and budget maps are replaced */
    dvren_scenefile* sf;           /* makes the models from their JSON params (paths relative to the scene);
                                      may be NULL when every model has a stage in model_stages */
    dvren_stage* model_stages[DVREN_FOVEATE_MAX_MODELS]; /* optional: ready saliency stages, by model index
                                      (borrowed; the others are made from cfg and destroyed after use) */
    const dvren_foveate_config* cfg; /* required, checked */
    const char* out_dir;           /* required: the folder of the artefacts (must exist) */
    dvren_foveate_log* log;        /* optional: NULL logs through the context's sink */
    /* outputs */
    char error[2048];              /* the last failure, one line */
    dvren_status status;           /* its status: the library's for a failed dvren call (TIMEOUT, IO, ...),
                                      INVALID_ARGUMENT for the pipeline's own checks, NOT_FOUND for a missing input */
    dvren_budget_stats stats;      /* the final stage's budget */
    double ms[3];                  /* wall time of each stage that ran (preview, saliency, final), device synchronised */
    /* private */
    char written[16][DVREN_FOVEATE_PATH];
    uint32_t nwritten;
    dvren_stage* made[DVREN_FOVEATE_MAX_MODELS]; /* models made from cfg (destroyed by the stage or run) */
} dvren_foveate_job;

/* File names of the artefacts, by stage (NULL-terminated lists). */
const char* const* dvren_foveate_artefacts(uint32_t stage);
/* Checks that the inputs of the stages in `stages` that earlier stages in
 * `stages` do not make are present: saliency needs the preview's files,
 * final needs user_importance.npy. The message names the missing file and
 * the stage that makes it. Returns 0, or 1 with job->error set (and logged). */
int dvren_foveate_check_inputs(dvren_foveate_job* job, uint32_t stages);
/* Removes the artefacts of the stages in `stages` from out_dir (what
 * --clean does before running them); logs how many. Returns 0, or 1 when one
 * cannot be removed. */
int dvren_foveate_clean(dvren_foveate_job* job, uint32_t stages);
/* Runs one stage. Returns 0, or 1 with job->error set and logged as
 * [ERROR]; a failed stage leaves none of its files behind. */
int dvren_foveate_preview(dvren_foveate_job* job);
int dvren_foveate_saliency(dvren_foveate_job* job);
int dvren_foveate_final(dvren_foveate_job* job);
/* Before any file is written: checks the inputs (dvren_foveate_check_inputs)
 * and, when `stages` has saliency, makes the models (an unknown plugin or a
 * bad parameter fails here). dvren_foveate_run calls it; calling it first
 * (dvren_foveate does, before it creates the output folder) is harmless.
 * Returns 0, or 1 with job->error set and logged. */
int dvren_foveate_prepare(dvren_foveate_job* job, uint32_t stages);
/* Prepares, then runs the stages in `stages` in order, stopping at the
 * first failure; the models are destroyed at the end. Returns 0, or 1 as
 * above. */
int dvren_foveate_run(dvren_foveate_job* job, uint32_t stages);
/* Destroys the models the job made (after dvren_foveate_prepare without a
 * run, or a stage called alone); before the context is destroyed. */
void dvren_foveate_job_release(dvren_foveate_job* job);

/* ---- a whole run from a scene file --------------------------------------------- */

/* A caller's configuration over the scene's: called once, after the scene's
 * "foveate" object and dvren_foveate_request.config were read into cfg and
 * before the ranges are checked (dvren_foveate applies its command-line
 * flags here, in their order). Called on the calling thread. Return 0, or
 * 1 with a one-line message in err (logged as it is after "[ERROR] ", so
 * give it the caller's own prefix); the run then fails with
 * DVREN_ERROR_INVALID_ARGUMENT and makes nothing. */
typedef int (*dvren_foveate_override_fn)(dvren_foveate_config* cfg, void* user, char* err, size_t err_cap);

/* What dvren_foveate_run_scene runs. Zero it, then fill the fields: a zero
 * field means the default written beside it (mostly: the scene's own). */
typedef struct dvren_foveate_request {
    /* the scene (docs/scenes.md) */
    const char* scene_path;  /* required: the scene file; with scene_text only its name in messages */
    const char* scene_text;  /* optional: the scene as JSON text of scene_len bytes, read instead of the file */
    size_t scene_len;
    const char* base_dir;    /* with scene_text: where its relative paths start (NULL: the working folder) */
    /* the configuration: dvren_foveate_config_default, the scene's "foveate" object, then these in this order */
    const cJSON* config;     /* optional: an object of the "foveate" object's keys (borrowed for the call) */
    const char* config_name; /* how messages name config, e.g. "dvren.foveate()" (NULL: "settings") */
    dvren_foveate_override_fn override; /* optional, with override_user as its user pointer */
    void* override_user;
    const char* out_dir;     /* optional: the output folder, over the configuration's "out" (NULL: keep that);
                                created (mkdir -p) only when the scene, the settings, the device and the
                                models are ready, so a refused run leaves no folder behind */
    /* the run */
    uint32_t stages;         /* DVREN_FOVEATE_* bits (0: DVREN_FOVEATE_ALL), run in order */
    int clean;               /* 1: remove those stages' earlier artefacts first (dvren_foveate_clean); 0: keep them */
    int quiet;               /* 1: only [ERROR] lines on the terminal (<out>/dvren_pipeline.log gets every line) */
    const char* program;     /* names the run in its [step] line and in messages about out_dir
                                (NULL: "dvren_foveate"; Python's package gives "dvren.foveate") */
    /* the device: the scene's "device", "gpu" and "threads" unless given here; never another device */
    const char* device;      /* "cpu", "cuda", "cuda:N" (GPU N: gpu_index is ignored), or NULL: the scene's */
    int has_gpu_index;       /* 1: gpu_index below, else the scene's */
    uint32_t gpu_index;      /* the GPU's index among those that meet gpu_name and min_cc */
    const char* gpu_name;    /* a part of the GPU's name (case-insensitive); NULL: the scene's */
    uint32_t min_cc;         /* the lowest compute capability, major*10 + minor (86: 8.6); 0: the scene's */
    int has_threads;         /* 1: threads below, else the scene's */
    uint32_t threads;        /* CPU worker threads, 0..1024 (0: $DVREN_THREADS, else all cores) */
    const char* plugin_path; /* plugin folders searched first (dvren_context_desc.plugin_path); NULL: none */
    /* the final render (dvren_scenefile's overrides) */
    uint32_t width, height;  /* the final image's size in pixels, 1..32768 (0: the scene's plan) */
    int has_seed;            /* 1: seed below, else the scene's plan's */
    uint64_t seed;           /* the final render's RNG seed */
} dvren_foveate_request;

/* What a run did. */
typedef struct dvren_foveate_result {
    dvren_status status;      /* DVREN_OK, or what failed: FORMAT (the scene's own mistakes), IO (the scene
                                 file unreadable, the output folder or the log), INVALID_ARGUMENT (a setting:
                                 config, override, out_dir, ranges, the device string), NOT_FOUND (a stage's
                                 input artefact, or a model's plugin), NO_DEVICE (a GPU asked for and absent),
                                 TIMEOUT (an external model's program), or a failed dvren call's own status */
    char error[2048];         /* the failure, one line (as logged after "[ERROR] "); "" on success */
    double ms[3];             /* wall milliseconds of each stage (preview, saliency, final), device
                                 synchronised; 0 for a stage not run */
    dvren_budget_stats stats; /* the final stage's budget (zero when it did not run) */
} dvren_foveate_result;

/* Runs the pipeline on a scene as the dvren_foveate command does
 * (tools/dvren_foveate.c; Python's dvren.foveate() through the package's
 * dvpy_foveate), in this order, failing at the first problem:
 *   1. reads the scene (file or text) and the configuration (defaults, the
 *      scene's "foveate" object, req->config, req->override, req->out_dir)
 *      and checks it (dvren_foveate_config_check);
 *   2. when the output folder exists, opens <out>/dvren_pipeline.log (the
 *      lines before wait in memory; every line also goes to the terminal:
 *      stderr, [OK] lines to stdout) and logs the [step] line;
 *   3. checks the stages' input artefacts (dvren_foveate_check_inputs);
 *   4. creates the context on the device asked for (no fallback) and logs
 *      a [device] line; builds the scene's stages and plan with the size and
 *      seed overrides; creates the dvren_scene; logs the final size;
 *   5. makes the saliency models (dvren_foveate_prepare);
 *   6. only then creates the output folder (mkdir -p) and opens the log;
 *   7. with req->clean, removes the stages' earlier artefacts; runs the
 *      stages (dvren_foveate_run) and logs the [timer] pipeline line.
 * Every failure is logged once as "[ERROR] <res->error>"; a failed stage
 * leaves none of its files, and nothing is created before step 6. Returns
 * res->status (res may not be NULL; DVREN_ERROR_INVALID_ARGUMENT when req
 * or its scene_path is NULL, or stages has other bits). Everything the run
 * made (context, scene, models, log file) is released before it returns. */
dvren_status dvren_foveate_run_scene(const dvren_foveate_request* req, dvren_foveate_result* res);

/* Matplotlib's viridis at t in [0, 1] (clamped) as sRGB-encoded values in
 * [0, 1], linearly interpolated between 17 of its 256 entries. */
void dvren_foveate_viridis(float t, float rgb[3]);

#endif /* DVREN_FOVEATE_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_FOVEATE_IMPLEMENTATION
#ifndef DVREN_FOVEATE_IMPLEMENTATION_ONCE
#define DVREN_FOVEATE_IMPLEMENTATION_ONCE

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dvren_cuda.h" /* dvren_foveate_run_scene's CUDA context and [device] line */
#include "dvren_exr.h"
#include "dvren_image.h"
#include <sys/stat.h>
#if defined(_WIN32)
#include <direct.h>
#define dvfv__mkdir(p) _mkdir(p)
#else
#define dvfv__mkdir(p) mkdir(p, 0777)
#endif

/* >>config ------------------------------------------------------------------------ */

void dvren_foveate_config_default(dvren_foveate_config* cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->out, sizeof cfg->out, "%s", "out/foveate");
    cfg->preview_size = 448;
    cfg->preview_spp = 4;
    cfg->preview_seed = 1;
    snprintf(cfg->models[0].name, sizeof cfg->models[0].name, "%s", "spectral_residual");
    cfg->models[0].weight = 1.0f;
    cfg->model_count = 1;
    cfg->combine = DVREN_FOVEATE_PRODUCT;
    cfg->post = dvren_importance_params_default();
    cfg->overlay = 0.6f;
    cfg->budget = dvren_budget_params_default();
    cfg->exr = 0;
    cfg->srgb = 1;
}

static int dvfv__err(char* err, size_t cap, const char* fmt, ...) DVREN_PRINTF(3, 4);
static int dvfv__err(char* err, size_t cap, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return 1;
}

/* The config keys, each with its flag (for messages and --help). */
static const char* const dvfv__keys[] = {"out",  "preview_size", "preview_spp", "preview_seed", "models",
                                         "combine", "lo", "hi", "gamma", "close", "blur", "overlay", "min_spp",
                                         "max_spp", "mean_spp", "max_step_scale", "quantile_lo", "quantile_hi",
                                         "budget_gamma", "exr", "srgb", NULL};

static int dvfv__num(const cJSON* obj, const char* key, const char* scene, double* out, char* err, size_t cap)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return dvfv__err(err, cap, "%s: foveate.%s: must be a finite number, got %s", scene, key, dvren_json_type(j));
    *out = j->valuedouble;
    return 0;
}

/* An integer key in lo..hi (checked on the double, before any cast). */
static int dvfv__int(const cJSON* obj, const char* key, const char* scene, double lo, double hi, double* out, char* err,
                     size_t cap)
{
    double v = 0;
    if (!cJSON_GetObjectItemCaseSensitive(obj, key)) return 0;
    if (dvfv__num(obj, key, scene, &v, err, cap)) return 1;
    if (!(v >= lo && v <= hi) || floor(v) != v)
        return dvfv__err(err, cap, "%s: foveate.%s: must be an integer in %.0f..%.0f, got %g", scene, key, lo, hi, v);
    *out = v;
    return 0;
}

static int dvfv__bool(const cJSON* obj, const char* key, const char* scene, int* out, char* err, size_t cap)
{
    const cJSON* j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    if (!cJSON_IsBool(j)) return dvfv__err(err, cap, "%s: foveate.%s: must be true or false, got %s", scene, key, dvren_json_type(j));
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return 0;
}

int dvren_foveate_config_from_json(dvren_foveate_config* cfg, const cJSON* obj, const char* scene, char* err,
                                   size_t cap)
{
    const cJSON* j;
    double v;
    if (!scene) scene = "scene";
    if (!obj) return 0;
    if (!cJSON_IsObject(obj)) return dvfv__err(err, cap, "%s: foveate: must be an object, got %s", scene, dvren_json_type(obj));
    {
        char known[768];
        const char* bad = dvren_json_unknown_key(obj, dvfv__keys, known, sizeof known);
        if (bad) return dvfv__err(err, cap, "%s: foveate: unknown key '%s' (known: %s)", scene, bad, known);
    }
    j = cJSON_GetObjectItemCaseSensitive(obj, "out");
    if (j) {
        if (!cJSON_IsString(j) || !j->valuestring[0])
            return dvfv__err(err, cap, "%s: foveate.out: must be a folder name, got %s", scene, dvren_json_type(j));
        if (strlen(j->valuestring) >= sizeof cfg->out - 64) return dvfv__err(err, cap, "%s: foveate.out: too long", scene);
        snprintf(cfg->out, sizeof cfg->out, "%s", j->valuestring);
    }
    v = cfg->preview_size;
    if (dvfv__int(obj, "preview_size", scene, 16, 8192, &v, err, cap)) return 1;
    cfg->preview_size = (uint32_t)v;
    v = cfg->preview_spp;
    if (dvfv__int(obj, "preview_spp", scene, 1, 65536, &v, err, cap)) return 1;
    cfg->preview_spp = (uint32_t)v;
    v = (double)cfg->preview_seed;
    if (dvfv__int(obj, "preview_seed", scene, 0, 9007199254740992.0, &v, err, cap)) return 1;
    cfg->preview_seed = (uint64_t)v;
    j = cJSON_GetObjectItemCaseSensitive(obj, "models");
    if (j) {
        const cJSON* e;
        uint32_t n = 0;
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) < 1)
            return dvfv__err(err, cap, "%s: foveate.models: must be a non-empty array of model names or "
                                       "{\"name\", \"weight\", \"params\"} objects, got %s", scene, dvren_json_type(j));
        if (cJSON_GetArraySize(j) > DVREN_FOVEATE_MAX_MODELS)
            return dvfv__err(err, cap, "%s: foveate.models: at most %d models, got %d", scene, DVREN_FOVEATE_MAX_MODELS,
                             cJSON_GetArraySize(j));
        cJSON_ArrayForEach(e, j)
        {
            dvren_foveate_model* m = &cfg->models[n];
            memset(m, 0, sizeof *m);
            m->weight = 1.0f;
            if (cJSON_IsString(e)) {
                if (strlen(e->valuestring) >= sizeof m->name)
                    return dvfv__err(err, cap, "%s: foveate.models[%u]: name too long", scene, (unsigned)n);
                snprintf(m->name, sizeof m->name, "%s", e->valuestring);
            } else if (cJSON_IsObject(e)) {
                const cJSON *it2, *nm = cJSON_GetObjectItemCaseSensitive(e, "name"),
                                  *w = cJSON_GetObjectItemCaseSensitive(e, "weight"),
                                  *p = cJSON_GetObjectItemCaseSensitive(e, "params");
                cJSON_ArrayForEach(it2, e)
                {
                    if (!it2->string || (strcmp(it2->string, "name") && strcmp(it2->string, "weight") &&
                                         strcmp(it2->string, "params")))
                        return dvfv__err(err, cap, "%s: foveate.models[%u]: unknown key '%s' (known: name, weight, params)",
                                         scene, (unsigned)n, it2->string ? it2->string : "");
                }
                if (!cJSON_IsString(nm))
                    return dvfv__err(err, cap, "%s: foveate.models[%u]: 'name' must be a string (a saliency plugin), got %s",
                                     scene, (unsigned)n, nm ? dvren_json_type(nm) : "nothing");
                if (strlen(nm->valuestring) >= sizeof m->name)
                    return dvfv__err(err, cap, "%s: foveate.models[%u]: name too long", scene, (unsigned)n);
                snprintf(m->name, sizeof m->name, "%s", nm->valuestring);
                if (w) {
                    if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble))
                        return dvfv__err(err, cap, "%s: foveate.models[%u].weight: must be a finite number, got %s", scene,
                                         (unsigned)n, dvren_json_type(w));
                    m->weight = (float)w->valuedouble;
                }
                if (p && !cJSON_IsObject(p))
                    return dvfv__err(err, cap, "%s: foveate.models[%u].params: must be an object, got %s", scene,
                                     (unsigned)n, dvren_json_type(p));
                m->params = p;
            } else {
                return dvfv__err(err, cap, "%s: foveate.models[%u]: must be a name or an object, got %s", scene,
                                 (unsigned)n, dvren_json_type(e));
            }
            ++n;
        }
        cfg->model_count = n;
    }
    j = cJSON_GetObjectItemCaseSensitive(obj, "combine");
    if (j) {
        if (!cJSON_IsString(j) || (strcmp(j->valuestring, "product") && strcmp(j->valuestring, "sum")))
            return dvfv__err(err, cap, "%s: foveate.combine: must be \"product\" or \"sum\", got %s%s%s%s", scene,
                             dvren_json_type(j), cJSON_IsString(j) ? " '" : "", cJSON_IsString(j) ? j->valuestring : "",
                             cJSON_IsString(j) ? "'" : "");
        cfg->combine = strcmp(j->valuestring, "sum") ? DVREN_FOVEATE_PRODUCT : DVREN_FOVEATE_SUM;
    }
#define DVFV__FLOAT(key, field)                                      \
    v = (double)(field);                                             \
    if (dvfv__num(obj, key, scene, &v, err, cap)) return 1;          \
    field = (float)v;
#define DVFV__U32(key, lo, hi, field)                                \
    v = (double)(field);                                             \
    if (dvfv__int(obj, key, scene, lo, hi, &v, err, cap)) return 1;  \
    field = (uint32_t)v;
    DVFV__FLOAT("lo", cfg->post.percentile_lo)
    DVFV__FLOAT("hi", cfg->post.percentile_hi)
    DVFV__FLOAT("gamma", cfg->post.gamma)
    DVFV__U32("close", 0, 4095, cfg->post.close_size)
    DVFV__U32("blur", 0, 4095, cfg->post.blur_size)
    DVFV__FLOAT("overlay", cfg->overlay)
    DVFV__U32("min_spp", 1, 65536, cfg->budget.min_spp)
    DVFV__U32("max_spp", 1, 65536, cfg->budget.max_spp)
    DVFV__FLOAT("mean_spp", cfg->budget.mean_spp)
    DVFV__FLOAT("max_step_scale", cfg->budget.max_step_scale)
    DVFV__FLOAT("quantile_lo", cfg->budget.quantile_lo)
    DVFV__FLOAT("quantile_hi", cfg->budget.quantile_hi)
    DVFV__FLOAT("budget_gamma", cfg->budget.gamma)
#undef DVFV__FLOAT
#undef DVFV__U32
    if (dvfv__bool(obj, "exr", scene, &cfg->exr, err, cap) || dvfv__bool(obj, "srgb", scene, &cfg->srgb, err, cap)) return 1;
    return 0;
}

int dvren_foveate_config_check(const dvren_foveate_config* c, char* err, size_t cap)
{
    uint32_t i, k;
    double wsum = 0.0;
    const dvren_importance_params* p = &c->post;
    const dvren_budget_params* b = &c->budget;
    if (!c->out[0]) return dvfv__err(err, cap, "foveate.out (--out): must not be empty");
    if (c->preview_size < 16 || c->preview_size > 8192)
        return dvfv__err(err, cap, "foveate.preview_size (--preview-size): must be in 16..8192, got %u", (unsigned)c->preview_size);
    if (c->preview_spp < 1 || c->preview_spp > 65536)
        return dvfv__err(err, cap, "foveate.preview_spp (--preview-spp): must be in 1..65536, got %u", (unsigned)c->preview_spp);
    if (c->model_count < 1 || c->model_count > DVREN_FOVEATE_MAX_MODELS)
        return dvfv__err(err, cap, "foveate.models (--models): give 1..%d saliency models, got %u", DVREN_FOVEATE_MAX_MODELS,
                         (unsigned)c->model_count);
    for (i = 0; i < c->model_count; ++i) {
        const char* n = c->models[i].name;
        if (!n[0]) return dvfv__err(err, cap, "foveate.models[%u] (--models): empty model name", (unsigned)i);
        for (k = 0; n[k]; ++k)
            if (!((n[k] >= 'a' && n[k] <= 'z') || (n[k] >= '0' && n[k] <= '9') || n[k] == '_'))
                return dvfv__err(err, cap, "foveate.models[%u] (--models): '%s' is not a plugin name ([a-z0-9_]+)",
                                 (unsigned)i, n);
        if (!(c->models[i].weight >= 0.0f) || !isfinite(c->models[i].weight))
            return dvfv__err(err, cap, "foveate.models[%u].weight (--weights): must be >= 0, got %g", (unsigned)i,
                             (double)c->models[i].weight);
        wsum += c->models[i].weight;
    }
    if (!(wsum > 0.0)) return dvfv__err(err, cap, "foveate.models weights (--weights): at least one must be > 0");
    if (!(p->percentile_lo >= 0.0f && p->percentile_hi <= 100.0f && p->percentile_lo < p->percentile_hi))
        return dvfv__err(err, cap, "foveate.lo, foveate.hi (--lo, --hi): percentiles with 0 <= lo < hi <= 100, got lo %g, hi %g",
                         (double)p->percentile_lo, (double)p->percentile_hi);
    if (!(p->gamma > 0.0f) || !isfinite(p->gamma))
        return dvfv__err(err, cap, "foveate.gamma (--gamma): must be > 0, got %g", (double)p->gamma);
    if (p->close_size > 1 && p->close_size % 2 == 0)
        return dvfv__err(err, cap, "foveate.close (--close): the closing's square must be odd (or 0, 1: none), got %u",
                         (unsigned)p->close_size);
    if (p->blur_size > 1 && p->blur_size % 2 == 0)
        return dvfv__err(err, cap, "foveate.blur (--blur): the Gaussian kernel size must be odd (or 0, 1: none), got %u",
                         (unsigned)p->blur_size);
    if (!(c->overlay >= 0.0f && c->overlay <= 1.0f))
        return dvfv__err(err, cap, "foveate.overlay (--overlay): must be in [0, 1], got %g", (double)c->overlay);
    if (b->min_spp < 1 || b->min_spp > 65536)
        return dvfv__err(err, cap, "foveate.min_spp (--min-spp): must be in 1..65536, got %u", (unsigned)b->min_spp);
    if (b->max_spp < b->min_spp || b->max_spp > 65536)
        return dvfv__err(err, cap, "foveate.max_spp (--max-spp): must be in min_spp..65536 (%u..65536), got %u",
                         (unsigned)b->min_spp, (unsigned)b->max_spp);
    if (!(b->mean_spp == 0.0f || (b->mean_spp >= (float)b->min_spp && b->mean_spp <= (float)b->max_spp)))
        return dvfv__err(err, cap, "foveate.mean_spp (--mean-spp): must be 0 (peak = max_spp) or in [min_spp, max_spp] = [%u, %u], got %g",
                         (unsigned)b->min_spp, (unsigned)b->max_spp, (double)b->mean_spp);
    if (!(b->max_step_scale >= 1.0f && b->max_step_scale <= 64.0f))
        return dvfv__err(err, cap, "foveate.max_step_scale (--max-step-scale): must be in [1, 64], got %g",
                         (double)b->max_step_scale);
    if (!(b->quantile_lo >= 0.0f && b->quantile_hi <= 1.0f && b->quantile_lo <= b->quantile_hi))
        return dvfv__err(err, cap, "foveate.quantile_lo, foveate.quantile_hi (--quantile-lo, --quantile-hi): need 0 <= lo <= hi <= 1, "
                                   "got %g, %g", (double)b->quantile_lo, (double)b->quantile_hi);
    if (!(b->gamma > 0.0f) || !isfinite(b->gamma))
        return dvfv__err(err, cap, "foveate.budget_gamma (--budget-gamma): must be > 0, got %g", (double)b->gamma);
    return 0;
}

static uint32_t dvfv__snap16(double x)
{
    double q = floor(x / 16.0 + 0.5);
    if (q < 1.0) q = 1.0;
    if (q > 2048.0) q = 2048.0; /* 32768 pixels, the plan's limit */
    return (uint32_t)q * 16u;
}

void dvren_foveate_preview_size(uint32_t width, uint32_t height, uint32_t preview_size, uint32_t* pw, uint32_t* ph)
{
    double s = (double)preview_size / (double)(width < height ? width : height);
    *pw = dvfv__snap16(width <= height ? (double)preview_size : (double)width * s);
    *ph = dvfv__snap16(height < width ? (double)preview_size : (double)height * s);
}

/* >>viridis ------------------------------------------------------------------------- */

/* Matplotlib's viridis colormap (Stefan van der Walt and Nathaniel Smith,
 * 2015; matplotlib/_cm_listed.py, _viridis_data, CC0 public domain): the
 * entries at indices 0, 16, 32, ..., 240 and 255 of its 256, sRGB-encoded. */
static const float dvfv__viridis[17][3] = {
    {0.267004f, 0.004874f, 0.329415f}, /*   0 */
    {0.282327f, 0.094955f, 0.417331f}, /*  16 */
    {0.278826f, 0.175490f, 0.483397f}, /*  32 */
    {0.258965f, 0.251537f, 0.524736f}, /*  48 */
    {0.229739f, 0.322361f, 0.545706f}, /*  64 */
    {0.199430f, 0.387607f, 0.554642f}, /*  80 */
    {0.172719f, 0.448791f, 0.557885f}, /*  96 */
    {0.149039f, 0.508051f, 0.557250f}, /* 112 */
    {0.127568f, 0.566949f, 0.550556f}, /* 128 */
    {0.120638f, 0.625828f, 0.533488f}, /* 144 */
    {0.157851f, 0.683765f, 0.501686f}, /* 160 */
    {0.246070f, 0.738910f, 0.452024f}, /* 176 */
    {0.369214f, 0.788888f, 0.382914f}, /* 192 */
    {0.515992f, 0.831158f, 0.294279f}, /* 208 */
    {0.678489f, 0.863742f, 0.189503f}, /* 224 */
    {0.845561f, 0.887322f, 0.099702f}, /* 240 */
    {0.993248f, 0.906157f, 0.143936f}, /* 255 */
};

void dvren_foveate_viridis(float t, float rgb[3])
{
    double x, f;
    int i, k;
    if (!(t >= 0.0f)) t = 0.0f; /* NaN too */
    if (t > 1.0f) t = 1.0f;
    x = (double)t * 255.0; /* position among the 256 entries */
    i = x >= 240.0 ? 15 : (int)(x / 16.0);
    f = i == 15 ? (x - 240.0) / 15.0 : (x - 16.0 * i) / 16.0;
    for (k = 0; k < 3; ++k)
        rgb[k] = (float)((1.0 - f) * dvfv__viridis[i][k] + f * dvfv__viridis[i + 1][k]);
}

/* sRGB encoding of a linear value (IEC 61966-2-1:1999), clamped to [0, 1]. */
static float dvfv__srgb(float v)
{
    if (!(v > 0.0f)) return 0.0f;
    if (v >= 1.0f) return 1.0f;
    return v <= 0.0031308f ? 12.92f * v : (float)(1.055 * pow((double)v, 1.0 / 2.4) - 0.055);
}

/* >>log ----------------------------------------------------------------------------- */

static void dvfv__emit(dvren_foveate_log* log, dvren_log_level level, const char* line)
{
    size_t n = strlen(line);
    if (!log->quiet || level == DVREN_LOG_ERROR) {
        FILE* term = strncmp(line, "[OK]", 4) ? stderr : stdout;
        fputs(line, term);
        fputc('\n', term);
        fflush(term);
    }
    if (log->file) {
        fputs(line, log->file);
        fputc('\n', log->file);
        fflush(log->file);
    } else if (log->pending_size + n + 2 <= (size_t)64 << 20) { /* waits for the file (bounded) */
        if (log->pending_size + n + 2 > log->pending_cap) {
            size_t cap = log->pending_cap ? log->pending_cap : 4096;
            char* p;
            while (cap < log->pending_size + n + 2) cap *= 2;
            p = (char*)realloc(log->pending, cap);
            if (!p) return;
            log->pending = p;
            log->pending_cap = cap;
        }
        memcpy(log->pending + log->pending_size, line, n);
        log->pending[log->pending_size + n] = '\n';
        log->pending_size += n + 1;
    }
}

void dvren_foveate_log_sink(void* user, dvren_log_level level, const char* line)
{
    dvren_foveate_log* log = (dvren_foveate_log*)user;
    if (!log) return;
    if (level == DVREN_LOG_ERROR && !log->library_errors) return; /* the pipeline reports the failure itself */
    dvfv__emit(log, level, line);
}

static void dvfv__vlogf(dvren_foveate_log* log, dvren_log_level level, const char* tag, const char* fmt, va_list ap)
{
    char line[4096];
    int n = snprintf(line, sizeof line, "%s ", tag ? tag : DVREN_TAG_STEP);
    if (n < 0) return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    dvfv__emit(log, level, line);
}

void dvren_foveate_logf(dvren_foveate_log* log, dvren_log_level level, const char* tag, const char* fmt, ...)
{
    va_list ap;
    if (!log) return;
    va_start(ap, fmt);
    dvfv__vlogf(log, level, tag, fmt, ap);
    va_end(ap);
}

int dvren_foveate_log_open(dvren_foveate_log* log, const char* out_dir, char* err, size_t cap)
{
    if (log->file) return 0;
    snprintf(log->path, sizeof log->path, "%s/dvren_pipeline.log", out_dir);
    log->file = fopen(log->path, "a");
    if (!log->file) return dvfv__err(err, cap, "cannot open the log '%s': %s", log->path, strerror(errno));
    if (log->pending_size) fwrite(log->pending, 1, log->pending_size, log->file);
    fflush(log->file);
    free(log->pending);
    log->pending = NULL;
    log->pending_size = log->pending_cap = 0;
    return 0;
}

void dvren_foveate_log_close(dvren_foveate_log* log)
{
    if (log->file) fclose(log->file);
    log->file = NULL;
    free(log->pending);
    log->pending = NULL;
    log->pending_size = log->pending_cap = 0;
}

/* A line of the job: through its log, else the context's sink. */
static void dvfv__log(dvren_foveate_job* job, const char* tag, const char* fmt, ...) DVREN_PRINTF(3, 4);
static void dvfv__log(dvren_foveate_job* job, const char* tag, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (job->log) {
        dvfv__vlogf(job->log, DVREN_LOG_INFO, tag, fmt, ap);
    } else {
        char line[4096];
        vsnprintf(line, sizeof line, fmt, ap);
        dvren_log(job->ctx, DVREN_LOG_INFO, tag, "%s", line);
    }
    va_end(ap);
}

/* Records and logs a failure ("[ERROR] <stage>: <text>"); returns 1. */
static int dvfv__fail(dvren_foveate_job* job, const char* fmt, ...) DVREN_PRINTF(2, 3);
static int dvfv__fail(dvren_foveate_job* job, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->error, sizeof job->error, fmt, ap);
    va_end(ap);
    if (job->status == DVREN_OK) job->status = DVREN_ERROR_INVALID_ARGUMENT;
    if (job->log)
        dvren_foveate_logf(job->log, DVREN_LOG_ERROR, DVREN_TAG_ERROR, "%s", job->error);
    else
        dvren_log(job->ctx, DVREN_LOG_ERROR, DVREN_TAG_ERROR, "%s", job->error);
    return 1;
}

/* The library's last error, after what the stage was doing. */
static int dvfv__fail_lib(dvren_foveate_job* job, const char* what)
{
    job->status = dvren_last_status(job->ctx);
    return dvfv__fail(job, "%s: %s", what, dvren_last_error(job->ctx));
}

/* Milliseconds on a monotonic-enough clock, after the device finished its work. */
static double dvfv__ms(dvren_foveate_job* job)
{
    struct timespec ts;
    if (job->ctx) dvren_synchronize(job->ctx);
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* >>files ---------------------------------------------------------------------------- */

static const char* const dvfv__art_preview[] = {"preview.png", "preview_rgb.npy", "preview_alpha.npy",
                                                "preview_depth.npy", "preview_variance.npy", NULL};
static const char* const dvfv__art_saliency[] = {"user_importance.npy", "user_importance_mask.exr",
                                                 "user_importance_preview.png", NULL};
static const char* const dvfv__art_final[] = {"final.png", "final.exr", "final_spp.png", "final_budget.json", NULL};
static const char* const dvfv__art_none[] = {NULL};

const char* const* dvren_foveate_artefacts(uint32_t stage)
{
    return stage == DVREN_FOVEATE_PREVIEW ? dvfv__art_preview
           : stage == DVREN_FOVEATE_SALIENCY ? dvfv__art_saliency
           : stage == DVREN_FOVEATE_FINAL ? dvfv__art_final
                                            : dvfv__art_none;
}

static void dvfv__path(const dvren_foveate_job* job, const char* name, char* out)
{
    snprintf(out, DVREN_FOVEATE_PATH, "%s/%s", job->out_dir, name);
}

static int dvfv__exists(const char* path)
{
    FILE* f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* After an artefact was written: remember it (removed if the stage fails) and confirm it. */
static void dvfv__wrote(dvren_foveate_job* job, const char* path, const char* what)
{
    if (job->nwritten < 16) snprintf(job->written[job->nwritten++], DVREN_FOVEATE_PATH, "%s", path);
    dvfv__log(job, "[OK]", "%s (%s)", path, what);
}

/* A failed stage takes back what it wrote in this run. */
static void dvfv__undo(dvren_foveate_job* job)
{
    uint32_t i;
    for (i = 0; i < job->nwritten; ++i) remove(job->written[i]);
    job->nwritten = 0;
}

static int dvfv__save_npy(dvren_foveate_job* job, const char* name, void* data, dvren_dtype dtype, uint32_t ndim,
                          const int64_t* shape, const char* what)
{
    char path[DVREN_FOVEATE_PATH];
    dvren_tensor t;
    dvfv__path(job, name, path);
    if (dvren_tensor_wrap(data, dtype, ndim, shape, NULL, &t) != DVREN_OK)
        return dvfv__fail(job, "%s: %s", path, dvren_last_error(NULL));
    if (dvren_tensor_save_npy(job->ctx, &t, path) != DVREN_OK) return dvfv__fail_lib(job, path);
    dvfv__wrote(job, path, what);
    return 0;
}

/* Reads a float32 .npy file (format versions 1.0 to 3.0, '<f4', C order)
 * of ndim dimensions into a malloc'ed array; shape receives its shape.
 * Errors name the file and, for a missing one, the stage that makes it. */
static int dvfv__load_npy(dvren_foveate_job* job, const char* name, uint32_t ndim, int64_t* shape, float** out,
                          const char* maker)
{
    char path[DVREN_FOVEATE_PATH], err[256], hdr[1024];
    size_t size = 0, hlen, off, count = 1;
    unsigned char* b;
    const char *s, *e;
    uint32_t d = 0;
    *out = NULL;
    dvfv__path(job, name, path);
    if (!dvfv__exists(path)) {
        job->status = DVREN_ERROR_NOT_FOUND;
        return dvfv__fail(job, "%s is missing: the %s stage makes it (run dvren_foveate --stage %s first, or all stages)",
                          path, maker, maker);
    }
    b = (unsigned char*)dvren_io_read_file(path, (size_t)4 << 30, &size, err, sizeof err);
    if (!b) {
        job->status = DVREN_ERROR_IO;
        return dvfv__fail(job, "%s: %s", path, err);
    }
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) || b[6] < 1 || b[6] > 3) {
        free(b);
        return dvfv__fail(job, "%s: not a .npy file (no \\x93NUMPY magic of format version 1 to 3)", path);
    }
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else {
        if (size < 12) {
            free(b);
            return dvfv__fail(job, "%s: truncated .npy header", path);
        }
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    }
    if (hlen >= sizeof hdr || off + hlen > size) {
        free(b);
        return dvfv__fail(job, "%s: .npy header of %zu bytes is truncated or too long", path, hlen);
    }
    memcpy(hdr, b + off, hlen);
    hdr[hlen] = 0;
    off += hlen;
    if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False")) {
        free(b);
        return dvfv__fail(job, "%s: expected little-endian float32 ('<f4') in C order, header %s", path, hdr);
    }
    s = strstr(hdr, "'shape': (");
    if (!s) {
        free(b);
        return dvfv__fail(job, "%s: no shape in the .npy header %s", path, hdr);
    }
    s += 10;
    e = strchr(s, ')');
    while (e && s < e) {
        char* end;
        long long v;
        while (*s == ' ' || *s == ',') ++s;
        if (s >= e) break;
        v = strtoll(s, &end, 10);
        if (end == s || v < 1 || v > (1ll << 31) || d >= 4) {
            free(b);
            return dvfv__fail(job, "%s: bad shape in the .npy header %s", path, hdr);
        }
        shape[d++] = v;
        count *= (size_t)v;
        s = end;
    }
    if (d != ndim) {
        free(b);
        return dvfv__fail(job, "%s: expected %u dimensions, the file has %u (header %s)", path, (unsigned)ndim, (unsigned)d, hdr);
    }
    if (size - off != count * sizeof(float)) {
        free(b);
        return dvfv__fail(job, "%s: %zu bytes of data for %zu float32 values: truncated or padded", path, size - off, count);
    }
    *out = (float*)malloc(count * sizeof(float) + 1);
    if (!*out) {
        free(b);
        return dvfv__fail(job, "%s: out of memory", path);
    }
    memcpy(*out, b + off, count * sizeof(float)); /* the data may not be aligned in the file's buffer */
    free(b);
    return 0;
}

/* Converts linear (or as-is) RGB to the PNG's values. */
static float* dvfv__display(const dvren_foveate_job* job, const float* rgb, size_t n3)
{
    float* out = (float*)malloc(n3 * sizeof(float) + 1);
    size_t i;
    if (!out) return NULL;
    for (i = 0; i < n3; ++i) out[i] = job->cfg->srgb ? dvfv__srgb(rgb[i]) : rgb[i];
    return out;
}

int dvren_foveate_check_inputs(dvren_foveate_job* job, uint32_t stages)
{
    char path[DVREN_FOVEATE_PATH];
    const char* const* a;
    if ((stages & DVREN_FOVEATE_SALIENCY) && !(stages & DVREN_FOVEATE_PREVIEW))
        for (a = dvfv__art_preview; *a; ++a) {
            dvfv__path(job, *a, path);
            if (!dvfv__exists(path)) {
                job->status = DVREN_ERROR_NOT_FOUND;
                return dvfv__fail(job, "saliency: %s is missing: the preview stage makes it (run dvren_foveate --stage "
                                       "preview first, or all stages)", path);
            }
        }
    if ((stages & DVREN_FOVEATE_FINAL) && !(stages & DVREN_FOVEATE_SALIENCY)) {
        dvfv__path(job, "user_importance.npy", path);
        if (!dvfv__exists(path)) {
            job->status = DVREN_ERROR_NOT_FOUND;
            return dvfv__fail(job, "final: %s is missing: the saliency stage makes it (run dvren_foveate --stage "
                                   "saliency first, or all stages)", path);
        }
    }
    return 0;
}

int dvren_foveate_clean(dvren_foveate_job* job, uint32_t stages)
{
    static const uint32_t order[3] = {DVREN_FOVEATE_PREVIEW, DVREN_FOVEATE_SALIENCY, DVREN_FOVEATE_FINAL};
    char path[DVREN_FOVEATE_PATH];
    uint32_t removed = 0, k;
    for (k = 0; k < 3; ++k) {
        const char* const* a;
        if (!(stages & order[k])) continue;
        for (a = dvren_foveate_artefacts(order[k]); *a; ++a) {
            dvfv__path(job, *a, path);
            if (!dvfv__exists(path)) continue;
            if (remove(path) != 0) {
                job->status = DVREN_ERROR_IO;
                return dvfv__fail(job, "--clean: cannot remove %s: %s", path, strerror(errno));
            }
            ++removed;
        }
    }
    dvfv__log(job, DVREN_TAG_STEP, "--clean: removed %u earlier artefact%s of the stages about to run from %s",
              (unsigned)removed, removed == 1 ? "" : "s", job->out_dir);
    return 0;
}

/* >>preview ----------------------------------------------------------------------- */

int dvren_foveate_preview(dvren_foveate_job* job)
{
    const dvren_foveate_config* c = job->cfg;
    dvren_plan_desc pd = job->plan;
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_tensor rgb, alpha, depth, var;
    float* png = NULL;
    uint32_t pw, ph;
    int64_t shape3[3], shape2[2];
    char path[DVREN_FOVEATE_PATH];
    double t0 = dvfv__ms(job), t1;
    int rc = 1;
    job->nwritten = 0;
    if (!job->scene) return dvfv__fail(job, "preview: no scene");
    dvren_foveate_preview_size(job->plan.width, job->plan.height, c->preview_size, &pw, &ph);
    dvfv__log(job, DVREN_TAG_STEP, "preview: rendering %u x %u (short side %u snapped to 16; final %u x %u), %u rays per "
                                   "pixel, seed %llu", (unsigned)pw, (unsigned)ph, (unsigned)c->preview_size,
              (unsigned)job->plan.width, (unsigned)job->plan.height, (unsigned)c->preview_spp,
              (unsigned long long)c->preview_seed);
    pd.width = pw;
    pd.height = ph;
    memset(&pd.roi, 0, sizeof pd.roi);
    pd.spp = c->preview_spp;
    pd.seed = c->preview_seed;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_VARIANCE;
    pd.rays = NULL;
    pd.spp_map = NULL;
    pd.step_map = NULL;
    if (dvren_plan_create(job->ctx, &pd, &plan) || dvren_framebuffer_create(job->ctx, plan, &fb)) {
        dvfv__fail_lib(job, "preview");
        goto done;
    }
    t1 = dvfv__ms(job);
    if (dvren_render(job->scene, plan, fb, NULL)) {
        dvfv__fail_lib(job, "preview: render");
        goto done;
    }
    dvfv__log(job, DVREN_TAG_TIMER, "preview render: %.1f ms (%u x %u x %u rays)", dvfv__ms(job) - t1, (unsigned)pw,
              (unsigned)ph, (unsigned)c->preview_spp);
    if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb) || dvren_framebuffer_output(fb, DVREN_OUTPUT_ALPHA, &alpha) ||
        dvren_framebuffer_output(fb, DVREN_OUTPUT_DEPTH, &depth) || dvren_framebuffer_output(fb, DVREN_OUTPUT_VARIANCE, &var)) {
        dvfv__fail_lib(job, "preview: outputs");
        goto done;
    }
    shape3[0] = shape2[0] = ph;
    shape3[1] = shape2[1] = pw;
    shape3[2] = 3;
    if (dvfv__save_npy(job, "preview_rgb.npy", rgb.data, DVREN_DTYPE_F32, 3, shape3, "linear rgb, float32 (H, W, 3)") ||
        dvfv__save_npy(job, "preview_alpha.npy", alpha.data, DVREN_DTYPE_F32, 2, shape2, "alpha, float32 (H, W)") ||
        dvfv__save_npy(job, "preview_depth.npy", depth.data, DVREN_DTYPE_F32, 2, shape2, "depth, float32 (H, W)") ||
        dvfv__save_npy(job, "preview_variance.npy", var.data, DVREN_DTYPE_F32, 2, shape2, "luminance variance, float32 (H, W)"))
        goto done;
    png = dvfv__display(job, (const float*)rgb.data, (size_t)pw * ph * 3);
    dvfv__path(job, "preview.png", path);
    if (!png) {
        dvfv__fail(job, "preview: out of memory");
        goto done;
    }
    if (dvren_image_write_png(job->ctx, path, png, NULL, pw, ph, 8)) {
        dvfv__fail_lib(job, "preview");
        goto done;
    }
    dvfv__wrote(job, path, c->srgb ? "8-bit sRGB" : "8-bit");
    job->ms[0] = dvfv__ms(job) - t0;
    dvfv__log(job, DVREN_TAG_TIMER, "preview stage: %.1f ms", job->ms[0]);
    rc = 0;
done:
    if (rc) dvfv__undo(job);
    free(png);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    return rc;
}

/* >>saliency ------------------------------------------------------------------------ */

/* Makes the models that have no ready stage (an unknown plugin or a bad
 * parameter fails here, before any file is written). */
static int dvfv__make_models(dvren_foveate_job* job)
{
    const dvren_foveate_config* c = job->cfg;
    uint32_t m;
    for (m = 0; m < c->model_count; ++m) {
        const dvren_foveate_model* md = &c->models[m];
        char key[64];
        if (job->model_stages[m] || job->made[m]) continue;
        snprintf(key, sizeof key, "foveate.models[%u]", (unsigned)m);
        if (!job->sf) {
            if (md->params)
                return dvfv__fail(job, "saliency: %s: model '%s' has parameters but no scene file to read them with", key,
                                  md->name);
            if (dvren_stage_create(job->ctx, DVREN_PLUGIN_SALIENCY, md->name, NULL, &job->made[m])) {
                job->status = dvren_last_status(job->ctx);
                return dvfv__fail(job, "saliency: %s: %s", key, dvren_last_error(job->ctx));
            }
        } else {
            job->sf->status = DVREN_OK; /* what this creation reports */
            if (dvren_scenefile_stage(job->sf, job->ctx, DVREN_PLUGIN_SALIENCY, md->name, md->params, key, &job->made[m])) {
                job->status = job->sf->status; /* NOT_FOUND for an unknown plugin, the params' own status */
                return dvfv__fail(job, "saliency: %s", job->sf->error);
            }
        }
    }
    return 0;
}

static void dvfv__free_models(dvren_foveate_job* job)
{
    uint32_t m;
    for (m = 0; m < DVREN_FOVEATE_MAX_MODELS; ++m) {
        dvren_stage_destroy(job->made[m]);
        job->made[m] = NULL;
    }
}

int dvren_foveate_saliency(dvren_foveate_job* job)
{
    const dvren_foveate_config* c = job->cfg;
    float *rgb = NULL, *alpha = NULL, *depth = NULL, *var = NULL, *map = NULL, *acc = NULL, *over = NULL;
    int64_t s_rgb[4], s2[4];
    uint32_t w, h, i, m;
    size_t n, k;
    char path[DVREN_FOVEATE_PATH], png_path[DVREN_FOVEATE_PATH];
    double t0 = dvfv__ms(job), wsum = 0.0, lo = 0.0, hi = 0.0;
    int rc = 1, own_models = 0;
    job->nwritten = 0;
    for (m = 0; m < c->model_count; ++m) own_models |= !job->model_stages[m] && !job->made[m];
    if (dvfv__make_models(job)) goto done;
    if (dvfv__load_npy(job, "preview_rgb.npy", 3, s_rgb, &rgb, "preview")) goto done;
    if (s_rgb[2] != 3) {
        dvfv__fail(job, "saliency: %s/preview_rgb.npy: expected (H, W, 3), got (%lld, %lld, %lld)", job->out_dir,
                   (long long)s_rgb[0], (long long)s_rgb[1], (long long)s_rgb[2]);
        goto done;
    }
    h = (uint32_t)s_rgb[0];
    w = (uint32_t)s_rgb[1];
    n = (size_t)w * h;
    {
        static const char* const names[3] = {"preview_alpha.npy", "preview_depth.npy", "preview_variance.npy"};
        float** dst[3];
        dst[0] = &alpha;
        dst[1] = &depth;
        dst[2] = &var;
        for (i = 0; i < 3; ++i) {
            if (dvfv__load_npy(job, names[i], 2, s2, dst[i], "preview")) goto done;
            if (s2[0] != (int64_t)h || s2[1] != (int64_t)w) {
                dvfv__fail(job, "saliency: %s/%s is %lld x %lld, preview_rgb.npy %u x %u: the preview's files do not match "
                                "(run --stage preview again)", job->out_dir, names[i], (long long)s2[1], (long long)s2[0],
                           (unsigned)w, (unsigned)h);
                goto done;
            }
        }
    }
    dvfv__path(job, "preview.png", png_path);
    map = (float*)malloc(n * sizeof(float) + 1);
    acc = (float*)malloc(n * sizeof(float) + 1);
    if (!map || !acc) {
        dvfv__fail(job, "saliency: out of memory");
        goto done;
    }
    for (k = 0; k < n; ++k) acc[k] = c->combine == DVREN_FOVEATE_PRODUCT ? 1.0f : 0.0f;
    for (m = 0; m < c->model_count; ++m) {
        const dvren_foveate_model* md = &c->models[m];
        dvren_stage* st = job->model_stages[m] ? job->model_stages[m] : job->made[m];
        dvren_saliency_input in;
        double t1, mean = 0.0;
        float mn = 1.0f, mx = 0.0f;
        dvren_status s;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.width = w;
        in.height = h;
        in.memory = DVREN_MEMORY_HOST;
        in.rgb = rgb;
        in.alpha = alpha;
        in.depth = depth;
        in.variance = var;
        in.image_path = png_path;
        t1 = dvfv__ms(job);
        s = dvren_saliency_compute(st, &in, map);
        if (s == DVREN_OK)
            dvfv__log(job, DVREN_TAG_TIMER, "saliency model '%s': %.1f ms (%u x %u)", md->name, dvfv__ms(job) - t1,
                      (unsigned)w, (unsigned)h);
        else {
            job->status = s;
            dvfv__fail(job, "saliency: model '%s' (foveate.models[%u]): %s", md->name, (unsigned)m, dvren_last_error(job->ctx));
        }
        if (s != DVREN_OK) goto done;
        for (k = 0; k < n; ++k) {
            float v = map[k];
            mean += v;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            if (c->combine == DVREN_FOVEATE_PRODUCT)
                acc[k] *= md->weight == 1.0f ? v : (float)pow((double)v, (double)md->weight);
            else
                acc[k] += md->weight * v;
        }
        wsum += md->weight;
        dvfv__log(job, DVREN_TAG_STEP, "saliency model '%s' (weight %g): min %.4f mean %.4f max %.4f", md->name,
                  (double)md->weight, (double)mn, mean / (double)n, (double)mx);
    }
    /* combined, then stretched to [0, 1] (a flat map stays flat) */
    lo = hi = acc[0] / (c->combine == DVREN_FOVEATE_SUM ? wsum : 1.0);
    for (k = 0; k < n; ++k) {
        double v = c->combine == DVREN_FOVEATE_SUM ? acc[k] / wsum : acc[k];
        acc[k] = (float)v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    for (k = 0; k < n; ++k) acc[k] = hi > lo ? (float)(((double)acc[k] - lo) / (hi - lo)) : (acc[k] > 1.0f ? 1.0f : acc[k]);
    if (c->model_count > 1)
        dvfv__log(job, DVREN_TAG_STEP, "saliency: %u models combined (%s), range [%.4g, %.4g] normalised to [0, 1]",
                  (unsigned)c->model_count, c->combine == DVREN_FOVEATE_SUM ? "weighted sum" : "weighted product", lo, hi);
    dvfv__log(job, DVREN_TAG_STEP, "importance post-processing: percentiles %g..%g, gamma %g, closing %u, blur %u",
              (double)c->post.percentile_lo, (double)c->post.percentile_hi, (double)c->post.gamma,
              (unsigned)c->post.close_size, (unsigned)c->post.blur_size);
    if (dvren_importance_postprocess(job->ctx, acc, w, h, &c->post, map)) {
        dvfv__fail_lib(job, "saliency: post-processing");
        goto done;
    }
    s2[0] = h;
    s2[1] = w;
    if (dvfv__save_npy(job, "user_importance.npy", map, DVREN_DTYPE_F32, 2, s2, "importance, float32 (H, W) in [0, 1]"))
        goto done;
    {
        static const char* const y[1] = {"Y"};
        dvfv__path(job, "user_importance_mask.exr", path);
        if (dvren_exr_write(job->ctx, path, map, w, h, 1, y)) {
            dvfv__fail_lib(job, "saliency");
            goto done;
        }
        dvfv__wrote(job, path, "OpenEXR, one float32 channel Y");
    }
    /* the map in viridis over the preview */
    over = (float*)malloc(n * 3 * sizeof(float) + 1);
    if (!over) {
        dvfv__fail(job, "saliency: out of memory");
        goto done;
    }
    for (k = 0; k < n; ++k) {
        float col[3];
        int ch;
        dvren_foveate_viridis(map[k], col);
        for (ch = 0; ch < 3; ++ch) {
            float base = c->srgb ? dvfv__srgb(rgb[3 * k + ch]) : rgb[3 * k + ch];
            base = base < 0.0f ? 0.0f : base > 1.0f ? 1.0f : base;
            over[3 * k + ch] = (1.0f - c->overlay) * base + c->overlay * col[ch];
        }
    }
    dvfv__path(job, "user_importance_preview.png", path);
    if (dvren_image_write_png(job->ctx, path, over, NULL, w, h, 8)) {
        dvfv__fail_lib(job, "saliency");
        goto done;
    }
    dvfv__wrote(job, path, "viridis map over the preview");
    job->ms[1] = dvfv__ms(job) - t0;
    dvfv__log(job, DVREN_TAG_TIMER, "saliency stage: %.1f ms", job->ms[1]);
    rc = 0;
done:
    if (rc) dvfv__undo(job);
    if (own_models) dvfv__free_models(job); /* called alone: the models were made for this call */
    free(rgb);
    free(alpha);
    free(depth);
    free(var);
    free(map);
    free(acc);
    free(over);
    return rc;
}

/* >>final ----------------------------------------------------------------------------- */

/* A float32 figure as the shortest decimal that reads back as it (no 0.20000000298 in the JSON). */
static double dvfv__r(float v)
{
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)v);
    if ((float)strtod(b, NULL) != v) snprintf(b, sizeof b, "%.9g", (double)v);
    return strtod(b, NULL);
}

static int dvfv__write_json(dvren_foveate_job* job, const char* path, const cJSON* obj)
{
    char* text = cJSON_Print(obj);
    int bad;
    if (!text) return dvfv__fail(job, "final: out of memory writing %s", path);
    bad = dvren_file_write_atomic(job->ctx, path, text, strlen(text)) != DVREN_OK;
    free(text);
    if (bad) return dvfv__fail_lib(job, "final");
    return 0;
}

int dvren_foveate_final(dvren_foveate_job* job)
{
    const dvren_foveate_config* c = job->cfg;
    dvren_plan_desc pd = job->plan;
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_tensor t_spp, t_step, rgb, alpha, samples;
    dvren_budget_stats* st = &job->stats;
    float *imp = NULL, *step = NULL, *img = NULL;
    uint32_t* spp = NULL;
    int64_t s_imp[4], shape[2];
    uint32_t w = job->plan.width, h = job->plan.height, smin = 0xFFFFFFFFu, smax = 0, pmin = 0xFFFFFFFFu, pmax = 0;
    size_t n = (size_t)w * h, k;
    char path[DVREN_FOVEATE_PATH];
    double t0 = dvfv__ms(job), t1, t_render, total_samples = 0.0;
    cJSON* js = NULL;
    int rc = 1;
    job->nwritten = 0;
    if (!job->scene) return dvfv__fail(job, "final: no scene");
    if (dvfv__load_npy(job, "user_importance.npy", 2, s_imp, &imp, "saliency")) goto done;
    spp = (uint32_t*)malloc(n * sizeof(uint32_t) + 1);
    step = (float*)malloc(n * sizeof(float) + 1);
    if (!spp || !step) {
        dvfv__fail(job, "final: out of memory for the budget of %u x %u pixels", (unsigned)w, (unsigned)h);
        goto done;
    }
    if (dvren_importance_budget(job->ctx, imp, (uint32_t)s_imp[1], (uint32_t)s_imp[0], w, h, &c->budget, spp, step, st)) {
        dvfv__fail_lib(job, "final: budget");
        goto done;
    }
    for (k = 0; k < n; ++k) {
        pmin = spp[k] < pmin ? spp[k] : pmin;
        pmax = spp[k] > pmax ? spp[k] : pmax;
    }
    /* what the render will cost, before it runs */
    dvfv__log(job, DVREN_TAG_ENV, "thresholds lo=%.4f hi=%.4f coverage=%.4f (quantiles %g/%g of the map, gamma %g)",
              (double)st->lo, (double)st->hi, (double)st->coverage, (double)c->budget.quantile_lo,
              (double)c->budget.quantile_hi, (double)c->budget.gamma);
    dvfv__log(job, DVREN_TAG_ENV, "effective_samples=%.0f mean_spp=%.3f peak_spp=%u rays=%llu (spp %u..%u, min_spp %u, "
                                  "max_spp %u, step x1..x%g; uniform at the peak: %llu rays)",
              st->effective_samples, st->mean_spp, (unsigned)st->peak_spp, (unsigned long long)st->rays, (unsigned)pmin,
              (unsigned)pmax, (unsigned)c->budget.min_spp, (unsigned)c->budget.max_spp, (double)c->budget.max_step_scale,
              (unsigned long long)((uint64_t)n * st->peak_spp));
    shape[0] = h;
    shape[1] = w;
    if (dvren_tensor_wrap(spp, DVREN_DTYPE_U32, 2, shape, NULL, &t_spp) ||
        dvren_tensor_wrap(step, DVREN_DTYPE_F32, 2, shape, NULL, &t_step)) {
        dvfv__fail(job, "final: %s", dvren_last_error(NULL));
        goto done;
    }
    memset(&pd.roi, 0, sizeof pd.roi);
    pd.spp = 0;
    pd.spp_map = &t_spp;
    pd.step_map = &t_step;
    pd.rays = NULL;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_SAMPLES;
    dvfv__log(job, DVREN_TAG_STEP, "final: rendering %u x %u with the per-pixel budget, seed %llu", (unsigned)w, (unsigned)h,
              (unsigned long long)pd.seed);
    if (dvren_plan_create(job->ctx, &pd, &plan) || dvren_framebuffer_create(job->ctx, plan, &fb)) {
        dvfv__fail_lib(job, "final");
        goto done;
    }
    t1 = dvfv__ms(job);
    if (dvren_render(job->scene, plan, fb, NULL)) {
        dvfv__fail_lib(job, "final: render");
        goto done;
    }
    t_render = dvfv__ms(job) - t1;
    dvfv__log(job, DVREN_TAG_TIMER, "final render: %.1f ms (%llu rays)", t_render, (unsigned long long)st->rays);
    if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb) || dvren_framebuffer_output(fb, DVREN_OUTPUT_ALPHA, &alpha) ||
        dvren_framebuffer_output(fb, DVREN_OUTPUT_SAMPLES, &samples)) {
        dvfv__fail_lib(job, "final: outputs");
        goto done;
    }
    img = dvfv__display(job, (const float*)rgb.data, n * 3);
    if (!img) {
        dvfv__fail(job, "final: out of memory");
        goto done;
    }
    dvfv__path(job, "final.png", path);
    if (dvren_image_write_png(job->ctx, path, img, NULL, w, h, 16)) {
        dvfv__fail_lib(job, "final");
        goto done;
    }
    dvfv__wrote(job, path, c->srgb ? "16-bit sRGB" : "16-bit");
    if (c->exr) {
        static const char* const names[4] = {"R", "G", "B", "A"};
        float* rgba = (float*)malloc(n * 4 * sizeof(float) + 1);
        const float *r = (const float*)rgb.data, *a = (const float*)alpha.data;
        dvren_status s;
        if (!rgba) {
            dvfv__fail(job, "final: out of memory");
            goto done;
        }
        for (k = 0; k < n; ++k) {
            rgba[4 * k] = r[3 * k];
            rgba[4 * k + 1] = r[3 * k + 1];
            rgba[4 * k + 2] = r[3 * k + 2];
            rgba[4 * k + 3] = a[k];
        }
        dvfv__path(job, "final.exr", path);
        s = dvren_exr_write(job->ctx, path, rgba, w, h, 4, names);
        free(rgba);
        if (s) {
            dvfv__fail_lib(job, "final");
            goto done;
        }
        dvfv__wrote(job, path, "OpenEXR RGBA float32, linear");
    }
    /* the rays each pixel took (the budget), in viridis from the fewest to the most */
    {
        const uint32_t* sm = (const uint32_t*)samples.data;
        for (k = 0; k < n; ++k) {
            smin = sm[k] < smin ? sm[k] : smin;
            smax = sm[k] > smax ? sm[k] : smax;
            total_samples += (double)sm[k];
        }
        for (k = 0; k < n; ++k)
            dvren_foveate_viridis(pmax > pmin ? (float)((double)(spp[k] - pmin) / (double)(pmax - pmin)) : 0.0f,
                                  img + 3 * k);
        dvfv__path(job, "final_spp.png", path);
        if (dvren_image_write_png(job->ctx, path, img, NULL, w, h, 8)) {
            dvfv__fail_lib(job, "final");
            goto done;
        }
        dvfv__wrote(job, path, "rays per pixel, viridis");
        dvfv__log(job, DVREN_TAG_ENV,
                  "final_spp.png legend: viridis from %u rays (dark purple) to %u rays (yellow) per pixel, linear; "
                  "%.0f samples in all (rays x march samples, %u .. %u per pixel)",
                  (unsigned)pmin, (unsigned)pmax, total_samples, (unsigned)smin, (unsigned)smax);
    }
    js = cJSON_CreateObject();
    if (!js) {
        dvfv__fail(job, "final: out of memory");
        goto done;
    }
    cJSON_AddNumberToObject(js, "width", w);
    cJSON_AddNumberToObject(js, "height", h);
    cJSON_AddNumberToObject(js, "importance_width", (double)s_imp[1]);
    cJSON_AddNumberToObject(js, "importance_height", (double)s_imp[0]);
    cJSON_AddNumberToObject(js, "lo", dvfv__r(st->lo));
    cJSON_AddNumberToObject(js, "hi", dvfv__r(st->hi));
    cJSON_AddNumberToObject(js, "coverage", dvfv__r(st->coverage));
    cJSON_AddNumberToObject(js, "peak_spp", st->peak_spp);
    cJSON_AddNumberToObject(js, "rays", (double)st->rays);
    cJSON_AddNumberToObject(js, "mean_spp", st->mean_spp);
    cJSON_AddNumberToObject(js, "effective_samples", st->effective_samples);
    cJSON_AddNumberToObject(js, "spp_min", pmin);
    cJSON_AddNumberToObject(js, "spp_max", pmax);
    cJSON_AddNumberToObject(js, "uniform_rays_at_peak", (double)n * st->peak_spp);
    cJSON_AddNumberToObject(js, "samples_taken", total_samples);
    cJSON_AddNumberToObject(js, "samples_min", smin);
    cJSON_AddNumberToObject(js, "samples_max", smax);
    cJSON_AddNumberToObject(js, "render_ms", t_render);
    {
        cJSON* p = cJSON_AddObjectToObject(js, "params");
        if (p) {
            cJSON_AddNumberToObject(p, "min_spp", c->budget.min_spp);
            cJSON_AddNumberToObject(p, "max_spp", c->budget.max_spp);
            cJSON_AddNumberToObject(p, "mean_spp", dvfv__r(c->budget.mean_spp));
            cJSON_AddNumberToObject(p, "max_step_scale", dvfv__r(c->budget.max_step_scale));
            cJSON_AddNumberToObject(p, "quantile_lo", dvfv__r(c->budget.quantile_lo));
            cJSON_AddNumberToObject(p, "quantile_hi", dvfv__r(c->budget.quantile_hi));
            cJSON_AddNumberToObject(p, "budget_gamma", dvfv__r(c->budget.gamma));
            cJSON_AddNumberToObject(p, "seed", (double)pd.seed);
        }
    }
    dvfv__path(job, "final_budget.json", path);
    if (dvfv__write_json(job, path, js)) goto done;
    dvfv__wrote(job, path, "the budget's figures");
    job->ms[2] = dvfv__ms(job) - t0;
    dvfv__log(job, DVREN_TAG_TIMER, "final stage: %.1f ms", job->ms[2]);
    rc = 0;
done:
    if (rc) dvfv__undo(job);
    cJSON_Delete(js);
    free(imp);
    free(spp);
    free(step);
    free(img);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    return rc;
}

void dvren_foveate_job_release(dvren_foveate_job* job) { dvfv__free_models(job); }

int dvren_foveate_prepare(dvren_foveate_job* job, uint32_t stages)
{
    if (dvren_foveate_check_inputs(job, stages)) return 1;
    /* the models first: an unknown plugin or a bad parameter costs no render */
    return (stages & DVREN_FOVEATE_SALIENCY) ? dvfv__make_models(job) : 0;
}

int dvren_foveate_run(dvren_foveate_job* job, uint32_t stages)
{
    int rc;
    if (!job->ctx || !job->cfg || !job->out_dir) {
        snprintf(job->error, sizeof job->error, "dvren_foveate_run: ctx, cfg and out_dir are required");
        job->status = DVREN_ERROR_INVALID_ARGUMENT;
        return 1;
    }
    if (dvren_foveate_prepare(job, stages)) {
        dvfv__free_models(job);
        return 1;
    }
    rc = ((stages & DVREN_FOVEATE_PREVIEW) && dvren_foveate_preview(job)) ||
         ((stages & DVREN_FOVEATE_SALIENCY) && dvren_foveate_saliency(job)) ||
         ((stages & DVREN_FOVEATE_FINAL) && dvren_foveate_final(job));
    dvfv__free_models(job);
    return rc;
}

/* >>run_scene ------------------------------------------------------------------------ */

static int dvfv__is_dir(const char* p)
{
#if defined(_WIN32)
    struct _stat st;
    return _stat(p, &st) == 0 && (st.st_mode & _S_IFDIR);
#else
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
#endif
}

/* mkdir -p: every missing folder of path. Returns 0, or 1 with errno set. */
static int dvfv__mkdirs(const char* path)
{
    char buf[DVREN_FOVEATE_PATH];
    size_t i, n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return 1;
    }
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; ++i) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        buf[i] = 0;
        if (!dvfv__is_dir(buf) && dvfv__mkdir(buf) != 0 && errno != EEXIST) return 1;
        buf[i] = i < n ? '/' : 0;
    }
    return dvfv__is_dir(path) ? 0 : 1;
}

/* Records a failure of the run in res and logs it once as [ERROR]; returns status. */
static dvren_status dvfv__run_fail(dvren_foveate_result* res, dvren_foveate_log* log, dvren_status status,
                                   const char* fmt, ...) DVREN_PRINTF(4, 5);
static dvren_status dvfv__run_fail(dvren_foveate_result* res, dvren_foveate_log* log, dvren_status status,
                                   const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    res->status = status != DVREN_OK ? status : DVREN_ERROR_INTERNAL;
    dvren_foveate_logf(log, DVREN_LOG_ERROR, DVREN_TAG_ERROR, "%s", res->error);
    return res->status;
}

/* A failure the job already logged: its message and status. */
static dvren_status dvfv__run_fail_job(dvren_foveate_result* res, const dvren_foveate_job* job)
{
    snprintf(res->error, sizeof res->error, "%s", job->error);
    res->status = job->status != DVREN_OK ? job->status : DVREN_ERROR_INTERNAL;
    return res->status;
}

static const char* dvfv__stage_name(uint32_t stages, char* buf, size_t cap)
{
    static const char* const names[3] = {"preview", "saliency", "final"};
    size_t n = 0;
    int k;
    if (stages == DVREN_FOVEATE_ALL) return "all";
    buf[0] = 0;
    for (k = 0; k < 3; ++k)
        if (stages & (1u << k)) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "+" : "", names[k]);
    return buf;
}

dvren_status dvren_foveate_run_scene(const dvren_foveate_request* req, dvren_foveate_result* res)
{
    dvren_foveate_log L;
    dvren_foveate_config cfg;
    dvren_foveate_job job;
    dvren_context_desc cd;
    dvren_scenefile sf;
    dvren_context* ctx = NULL;
    dvren_scene* scene = NULL;
    const char* program;
    const char* dev;
    char msg[2048], sname[32];
    uint32_t stages;
    dvren_status s;

    if (!res) return DVREN_ERROR_INVALID_ARGUMENT;
    memset(res, 0, sizeof *res);
    memset(&L, 0, sizeof L);
    memset(&sf, 0, sizeof sf);
    memset(&job, 0, sizeof job);
    program = req && req->program ? req->program : "dvren_foveate";
    if (!req || !req->scene_path) {
        snprintf(res->error, sizeof res->error, "dvren_foveate_run_scene: req and req->scene_path are required");
        return res->status = DVREN_ERROR_INVALID_ARGUMENT;
    }
    L.quiet = req->quiet;
    stages = req->stages ? req->stages : DVREN_FOVEATE_ALL;
    if (stages & ~DVREN_FOVEATE_ALL) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s: stages 0x%x: give DVREN_FOVEATE_* bits (0x1..0x7)",
                           program, (unsigned)stages);
        goto done;
    }

    /* the scene and the configuration: mistakes are found before anything is made */
    if (req->scene_text ? dvren_scenefile_parse(&sf, req->scene_path, req->scene_text, req->scene_len, req->base_dir)
                        : dvren_scenefile_load(&sf, req->scene_path)) {
        s = dvfv__run_fail(res, &L, sf.status != DVREN_OK ? sf.status : DVREN_ERROR_FORMAT, "%s", sf.error);
        goto done;
    }
    dvren_foveate_config_default(&cfg);
    if (dvren_foveate_config_from_json(&cfg, sf.foveate, sf.name, msg, sizeof msg)) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_FORMAT, "%s", msg);
        goto done;
    }
    if (req->config &&
        dvren_foveate_config_from_json(&cfg, req->config, req->config_name ? req->config_name : "settings", msg, sizeof msg)) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s", msg);
        goto done;
    }
    if (req->override) {
        msg[0] = 0;
        if (req->override(&cfg, req->override_user, msg, sizeof msg)) {
            s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s", msg[0] ? msg : "the caller's settings were refused");
            goto done;
        }
    }
    if (req->out_dir) {
        if (!req->out_dir[0] || strlen(req->out_dir) >= sizeof cfg.out - 64) {
            s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s: out: %s", program,
                               req->out_dir[0] ? "the folder name is too long" : "give a folder name");
            goto done;
        }
        snprintf(cfg.out, sizeof cfg.out, "%s", req->out_dir);
    }
    if (dvren_foveate_config_check(&cfg, msg, sizeof msg)) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s: %s", sf.name, msg);
        goto done;
    }
    /* an output folder that exists gets the log from the start */
    if (dvfv__is_dir(cfg.out) && dvren_foveate_log_open(&L, cfg.out, msg, sizeof msg)) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_IO, "%s", msg);
        goto done;
    }
    {
        char models[512] = "";
        size_t n = 0;
        uint32_t i;
        for (i = 0; i < cfg.model_count && n < sizeof models - 80; ++i)
            n += (size_t)snprintf(models + n, sizeof models - n, "%s%s x%g", i ? ", " : "", cfg.models[i].name,
                                  (double)cfg.models[i].weight);
        dvren_foveate_logf(&L, DVREN_LOG_INFO, DVREN_TAG_STEP, "%s %s: stage %s, output folder %s (%s), models %s (%s)",
                           program, sf.name, dvfv__stage_name(stages, sname, sizeof sname), cfg.out,
                           req->clean ? "--clean" : "--keep", models, cfg.combine == DVREN_FOVEATE_SUM ? "sum" : "product");
    }
    job.cfg = &cfg;
    job.out_dir = cfg.out;
    job.log = &L;
    job.sf = &sf;
    if (dvren_foveate_check_inputs(&job, stages)) {
        s = dvfv__run_fail_job(res, &job);
        goto done;
    }

    /* the context: the device asked for, or an error (never another device) */
    memset(&cd, 0, sizeof cd);
    cd.log = dvren_foveate_log_sink;
    cd.log_user = &L;
    cd.log_level = DVREN_LOG_INFO;
    cd.plugin_path = req->plugin_path;
    cd.device_index = req->has_gpu_index ? req->gpu_index : sf.gpu_index;
    cd.device_name = req->gpu_name ? req->gpu_name : sf.gpu_name;
    cd.min_compute_capability = req->min_cc ? req->min_cc : sf.gpu_min_cc;
    cd.threads = req->has_threads ? req->threads : sf.threads;
    dev = req->device ? req->device : sf.device ? sf.device : "cpu";
    if (!strncmp(dev, "cuda:", 5)) {
        char* e;
        unsigned long v;
        errno = 0;
        v = strtoul(dev + 5, &e, 10);
        if (dev[5] < '0' || dev[5] > '9' || *e || errno || v > 1024) {
            s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s: device '%s' is not one of cpu, cuda, cuda:N",
                               program, dev);
            goto done;
        }
        cd.device_index = (uint32_t)v;
        dev = "cuda";
    }
    if (!strcmp(dev, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    } else if (strcmp(dev, "cpu")) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_INVALID_ARGUMENT, "%s: device '%s' is not one of cpu, cuda, cuda:N",
                           program, dev);
        goto done;
    }
    if ((s = dvren_context_create(&cd, &ctx)) != DVREN_OK) {
        s = dvfv__run_fail(res, &L, s, "%s: device %s: %s", sf.name, dev, dvren_last_error(NULL));
        goto done;
    }
    job.ctx = ctx;
    if (dvren_context_device(ctx) == DVREN_DEVICE_CUDA) {
        dvren_cuda_info ci;
        if (dvren_cuda_get_info(ctx, &ci) == DVREN_OK)
            dvren_foveate_logf(&L, DVREN_LOG_INFO, DVREN_TAG_DEVICE,
                               "cuda: %s (device %d), compute capability %u.%u, %u SMs, %.1f GiB, NVRTC %d.%d, target %s",
                               ci.device_name, ci.device_ordinal, (unsigned)ci.compute_capability / 10,
                               (unsigned)ci.compute_capability % 10, (unsigned)ci.multiprocessors,
                               (double)ci.total_memory / (1024.0 * 1024.0 * 1024.0), ci.nvrtc_major, ci.nvrtc_minor, ci.target);
    } else {
        dvren_foveate_logf(&L, DVREN_LOG_INFO, DVREN_TAG_DEVICE, "cpu: %u worker threads", (unsigned)dvren_context_threads(ctx));
    }

    /* the scene's stages and plan, with the caller's size and seed */
    sf.override_width = req->width;
    sf.override_height = req->height;
    sf.override_seed = req->has_seed;
    sf.override_seed_value = req->seed;
    if (dvren_scenefile_build(&sf, ctx)) {
        s = dvfv__run_fail(res, &L, sf.status != DVREN_OK ? sf.status : DVREN_ERROR_FORMAT, "%s", sf.error);
        goto done;
    }
    if (sf.plan.roi.w || sf.plan.roi.h)
        dvren_foveate_logf(&L, DVREN_LOG_INFO, DVREN_TAG_STEP, "the scene's plan.roi is ignored: the pipeline renders whole images");
    {
        dvren_scene_desc sd;
        memset(&sd, 0, sizeof sd);
        sd.field = sf.field;
        sd.shader = sf.shader;
        sd.sampler = sf.sampler;
        if ((s = dvren_scene_create(ctx, &sd, &scene)) != DVREN_OK) {
            s = dvfv__run_fail(res, &L, s, "%s: %s", sf.name, dvren_last_error(ctx));
            goto done;
        }
    }
    job.scene = scene;
    job.plan = sf.plan;
    dvren_foveate_logf(&L, DVREN_LOG_INFO, DVREN_TAG_ENV, "final image %u x %u, seed %llu%s", (unsigned)job.plan.width,
                       (unsigned)job.plan.height, (unsigned long long)job.plan.seed,
                       (req->width || req->height) ? " (size from --width/--height)" : "");

    if (dvren_foveate_prepare(&job, stages)) {
        s = dvfv__run_fail_job(res, &job);
        goto done;
    }
    /* only now, with everything in hand, the output folder */
    if (dvfv__mkdirs(cfg.out)) {
        /* named as the caller gave it: req->out_dir (a parameter of the program), else "out" (by its flag) */
        if (req->out_dir)
            s = dvfv__run_fail(res, &L, DVREN_ERROR_IO, "%s: out: cannot create the folder '%s': %s", program, cfg.out,
                               strerror(errno));
        else
            s = dvfv__run_fail(res, &L, DVREN_ERROR_IO, "--out: cannot create the folder '%s': %s", cfg.out,
                               strerror(errno));
        goto done;
    }
    if (dvren_foveate_log_open(&L, cfg.out, msg, sizeof msg)) {
        s = dvfv__run_fail(res, &L, DVREN_ERROR_IO, "%s", msg);
        goto done;
    }
    if ((req->clean && dvren_foveate_clean(&job, stages)) || dvren_foveate_run(&job, stages)) {
        s = dvfv__run_fail_job(res, &job);
        goto done;
    }
    dvren_foveate_logf(&L, DVREN_LOG_INFO, DVREN_TAG_TIMER, "pipeline: %.1f ms (preview %.1f, saliency %.1f, final %.1f)",
                       job.ms[0] + job.ms[1] + job.ms[2], job.ms[0], job.ms[1], job.ms[2]);
    memcpy(res->ms, job.ms, sizeof res->ms);
    if (stages & DVREN_FOVEATE_FINAL) res->stats = job.stats;
    s = res->status = DVREN_OK;
done:
    dvren_foveate_job_release(&job);
    dvren_scene_destroy(scene);
    dvren_scenefile_free(&sf);
    dvren_context_destroy(ctx);
    dvren_foveate_log_close(&L);
    return s;
}

#endif /* DVREN_FOVEATE_IMPLEMENTATION_ONCE */
#endif /* DVREN_FOVEATE_IMPLEMENTATION */
