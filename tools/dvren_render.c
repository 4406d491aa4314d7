/* tools/dvren_render.c - render a JSON scene to PNG (and .npy).
 *
 *   dvren_render                       the built-in default scene -> out/default.png
 *   dvren_render scene.json [options]  see --help; docs/scenes.md has the format
 *
 * The scene names plugins and their parameters (checked against each
 * plugin's schema), the camera, the plan and the outputs. Unknown keys and
 * wrong types are errors that name the key. Outputs are written only after
 * a successful render, each atomically; a failure leaves no file behind.
 *
 *   dvren_render scene.json --gradcheck [--width 24 --height 24 --seed N]
 *   dvren_gradcheck scene.json [...]   (the same program under that name)
 *   dvren_render --splats scene.ply|scene.npz [camera] -o out.png
 * renders 3D Gaussian splats instead (docs/splats.md, "Command line"):
 * a gsplat .npz scene with its own cameras, a 3DGS .ply with one given on
 * the command line (--look-at/--fov or --viewmat/--K).
 * checks the gradient of the scene's plugin combination instead of
 * rendering it (dvren_gradcheck in dvren.h: float64 analytic gradient
 * against central finite differences, and the device's float32 backward
 * against it), on a small image (24 x 24 unless --width/--height), with
 * random cotangents on rgb, alpha and depth. It prints one line of figures
 * and exits 0 when both relative errors are under 1e-3, 3 when one is not,
 * 1 on an error (a scene without differentiable parameters is one: a
 * dense_grid needs "storage": "f32" for its voxels to have a gradient). */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty, readlink, mkdir under -std=c11 */
#define _XOPEN_SOURCE 700       /* realpath (replay records) */
#include <limits.h>
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#include "dvren_image.h"
#define DVREN_SPLAT_NPZ_IMPLEMENTATION /* and the PLY reader (tools/dvren_splat_ply.h) */
#include "dvren_splat_npz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if !defined(_WIN32)
#include <sys/resource.h>
#endif
#if defined(_WIN32)
#include <direct.h>
#include <io.h>
#define dr_isatty(f) _isatty(_fileno(f))
#define dr_mkdir(p) _mkdir(p)
#else
#include <unistd.h>
#define dr_isatty(f) isatty(fileno(f))
#define dr_mkdir(p) mkdir(p, 0777)
#endif

#define DR_PATH 4096

/* The built-in default scene: a procedural volume, no file needed. The
 * Marschner-Lobb test signal's 0.5 isosurface, the classic test of volume
 * reconstruction (Marschner and Lobb, IEEE Visualization 1994). */
static const char* const dr_default_scene =
    "{\n"
    "  \"field\":   {\"plugin\": \"dense_grid\", \"params\": {\"generator\": \"marschner_lobb\", \"dims\": [128, 128, 128]}},\n"
    "  \"shader\":  {\"plugin\": \"emission_absorption\", \"params\": {\n"
    "      \"sigma_scale\": 400, \"shading\": true, \"specular\": 0.35, \"light_dir\": [0.3, 0.5, 0.8],\n"
    "      \"tf_opacity\": [[0, 0], [0.49, 0], [0.5, 1], [1, 1]],\n"
    "      \"tf_color\":   [[0.45, 0.95, 0.55, 0.2], [0.55, 0.9, 0.35, 0.15]]}},\n"
    "  \"sampler\": {\"plugin\": \"uniform\", \"params\": {\"jitter\": true}},\n"
    "  \"camera\":  {\"type\": \"perspective\", \"eye\": [2.2, -2.2, 2.0], \"target\": [0, 0, -0.1], \"up\": [0, 0, 1],\n"
    "               \"fov_y_deg\": 38},\n"
    "  \"plan\":    {\"width\": 512, \"height\": 512, \"spp\": 4, \"step\": 0.004, \"background\": [0.05, 0.05, 0.07]},\n"
    "  \"output\":  {\"png\": \"out/default.png\"}\n"
    "}\n";

typedef struct dr_options {
    const char* scene;
    const char* png;
    const char* npy;
    const char* device;
    const char* gpu_name;
    const char* prog; /* dvren_render or dvren_gradcheck, for messages */
    const char* check_plugin;
    const char* arch;
    int gpu_index, min_cc, have_gpu_index;
    int png_bits, png_alpha, quiet, width, height, spp, threads, have_threads, gradcheck;
    long long seed;
    int have_seed;
    const char* profile; /* --profile FILE.json */
    const char* replay;  /* --replay FILE.json */
    int record;          /* --record: <output>.replay.json */
    int log_json;        /* --log-json */
} dr_options;

typedef struct dr_state {
    dvren_context* ctx;
    const char* scene_name; /* for messages */
    int progress_tty;
    double t0;
    int last_pct;
} dr_state;

/* ---- messages --------------------------------------------------------------- */

/* Log sink: the library's lines to stderr, except errors, which the tool
 * reports itself with the scene key they belong to (dr_fail_lib). */
static void dr_log(void* user, dvren_log_level level, const char* line)
{
    if (level != DVREN_LOG_ERROR) dvren_log_to_file(user, level, line);
}

static int dr_fail(dr_state* S, const char* key, const char* fmt, ...) DVREN_PRINTF(3, 4);
static int dr_fail(dr_state* S, const char* key, const char* fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        fprintf(stderr, "[ERROR] %s: %s: %s\n", S->scene_name, key, msg);
    else
        fprintf(stderr, "[ERROR] %s: %s\n", S->scene_name, msg);
    return 1;
}

/* Reports the library's last error (it already names its module: a key
 * equal to that module is not repeated). */
static int dr_fail_lib(dr_state* S, const char* key)
{
    const char* m = dvren_last_error(S->ctx);
    size_t k = key ? strlen(key) : 0;
    if (key && !strncmp(m, key, k) && m[k] == ':' && m[k + 1] == ' ') key = NULL;
    return dr_fail(S, key, "%s", m);
}

/* The folder of an output path must exist before we render. */
static int dr_check_out_dir(dr_state* S, const char* path, const char* where)
{
    char dir[DR_PATH];
    const char* s = strrchr(path, '/');
#if defined(_WIN32)
    const char* b = strrchr(path, '\\');
    if (b && (!s || b > s)) s = b;
#endif
    if (!s) return 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(s - path), path);
    if (dir[0] && !dvs__is_dir(dir))
        return dr_fail(S, where, "cannot write '%s': folder '%s' does not exist (hint: create it first)", path, dir);
    return 0;
}

/* ---- memory: refuse a render whose buffers cannot fit ------------------------ */

/* Bytes per pixel of the framebuffer outputs in `outputs` (float32 rgb,
 * alpha, depth, transmittance; uint8 hit; uint32 samples). */
static double dr_output_bytes(uint32_t outputs)
{
    static const double per[6] = {12, 4, 4, 4, 1, 4};
    double b = 0;
    int k;
    for (k = 0; k < 6; ++k)
        if (outputs & (1u << k)) b += per[k];
    return b;
}

/* Host memory available to this process now, in bytes; < 0: unknown.
 * Linux: MemAvailable (free plus reclaimable cache), else the free pages. */
static double dr_host_available(void)
{
#if defined(_WIN32)
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    return GlobalMemoryStatusEx(&ms) ? (double)ms.ullAvailPhys : -1.0;
#else
    FILE* f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = -1.0;
    if (f) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
        fclose(f);
    }
    if (kib >= 0) return kib * 1024.0;
#if defined(_SC_AVPHYS_PAGES) && defined(_SC_PAGESIZE)
    {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        if (pages > 0 && size > 0) return (double)pages * (double)size;
    }
#endif
    return -1.0;
#endif
}

/* Estimates the host (and, on a GPU, device) bytes of the framebuffer and
 * the files' staging copies, and refuses up front what cannot fit. */
static int dr_check_memory(dr_state* S, const dvren_plan_desc* pd, int png_comp, int png_bits, int npy)
{
    const double gib = 1024.0 * 1024.0 * 1024.0;
    double px = (double)pd->width * pd->height, fb = px * dr_output_bytes(pd->outputs), host, avail;
    /* the PNG's 8/16-bit pixels and its encoded copy; .npy files are written one output at a time */
    host = fb + (png_comp ? 2.0 * px * png_comp * png_bits / 8.0 : 0.0) + (npy ? px * 12.0 : 0.0);
    if (dvren_context_device(S->ctx) == DVREN_DEVICE_CUDA) {
        dvren_cuda_memory m;
        if (dvren_cuda_memory_stats(S->ctx, &m) == DVREN_OK && (double)m.device_free < fb)
            return dr_fail(S, "plan", "the framebuffer of %u x %u pixels needs %.2f GiB of GPU memory, %.2f GiB available "
                                      "(hint: a smaller --width/--height, or fewer outputs)",
                           (unsigned)pd->width, (unsigned)pd->height, fb / gib, (double)m.device_free / gib);
    }
    avail = dr_host_available();
    if (avail >= 0 && avail < host)
        return dr_fail(S, "plan", "a render of %u x %u pixels needs %.2f GiB of memory, %.2f GiB available "
                                  "(hint: a smaller --width/--height, or fewer outputs)",
                       (unsigned)pd->width, (unsigned)pd->height, host / gib, avail / gib);
    return 0;
}

/* Progress on stderr with the time left: one live line on a terminal,
 * otherwise a line about every 10%; nothing for renders under half a second. */
static int dr_progress(void* user, uint64_t done, uint64_t total)
{
    dr_state* S = (dr_state*)user;
    int pct = (int)(100 * done / (total ? total : 1));
    double t = dvren__now_ms() - S->t0, frac = total ? (double)done / (double)total : 1.0;
    char eta[64] = "";
    if (t < 500.0 || S->progress_tty < 0) return 0;
    if (done == total)
        snprintf(eta, sizeof eta, " (%.1f s)", t * 1e-3);
    else if (frac > 0.0)
        snprintf(eta, sizeof eta, " (ETA %.0f s)", t * 1e-3 * (1.0 - frac) / frac + 0.5);
    if (S->progress_tty) {
        if (pct != S->last_pct || done == total) fprintf(stderr, "\r[step] rendering %3d%%%s   %s", pct, eta, done == total ? "\n" : "");
    } else if (pct / 10 != S->last_pct / 10 || done == total) {
        fprintf(stderr, "[step] rendering %d%%%s\n", pct, eta);
    }
    S->last_pct = pct;
    return 0;
}

static void dr_usage(FILE* f, int gradcheck)
{
    if (gradcheck) {
        fputs("usage: dvren_gradcheck scene.json [--width N --height N --seed N --spp N] [--device cpu|cuda] [-q]\n"
              "  checks the gradient of the scene's plugin combination: the float64 analytic gradient against\n"
              "  central finite differences, and the device's float32 backward against it, on a small image\n"
              "  (24 x 24 unless --width/--height) with random cotangents on rgb, alpha and depth.\n"
              "  Prints one line of figures; exit 0: both relative errors < 1e-3, 3: not, 1: an error\n"
              "  (a dense_grid needs \"storage\": \"f32\" for its voxels to have a gradient).\n"
              "  (dvren_gradcheck is dvren_render --gradcheck; dvren_render --help lists every option.)\n",
              f);
        return;
    }
    fputs("usage: dvren_render [scene.json] [options]\n"
          "  (no scene: the built-in default scene, written to out/default.png)\n"
          "  -o, --output FILE.png   PNG to write (overrides the scene's output.png)\n"
          "      --png16             16 bits per sample\n"
          "      --alpha             RGBA PNG (straight alpha) instead of RGB\n"
          "      --npy PREFIX        also write every output as PREFIX_<name>.npy (float32/uint8/uint32)\n"
          "      --width N --height N --spp N --seed N\n"
          "      --threads N         CPU threads (0, the default: all cores)\n"
          "      --device cpu|cuda   device; cuda renders on an NVIDIA GPU or fails (never falls back to the CPU)\n"
          "      --gpu-index N       first GPU to consider (default 0)\n"
          "      --gpu-name TEXT     use a GPU whose name contains TEXT (e.g. \"3060\")\n"
          "      --min-cc N          require compute capability >= N (86 for sm_86)\n"
          "      --list-plugins      load every plugin library on the search path and list its plugins\n"
          "      --describe NAME     print a plugin's parameter schema\n"
          "      --check-plugin NAME NVRTC-compile every kernel combination with plugin NAME (no GPU needed)\n"
          "      --arch LIST         with --check-plugin: architectures, e.g. sm_86,sm_90 (default sm_86,sm_90)\n"
          "      --gradcheck         check the scene's gradients instead of rendering (24 x 24 unless --width/--height;\n"
          "                          exit 0: errors < 1e-3, 3: not; see the top of tools/dvren_render.c)\n"
          "      --profile FILE.json per-stage timings (the GPU synchronised), samples, rays/s and peak memory\n"
          "      --record            write <output>.replay.json: what makes the render repeatable (the scene as\n"
          "                          rendered, plan, seed, plugins and versions, device, dvren version, a hash of rgb)\n"
          "      --replay FILE.json  render a recorded render again and report whether rgb is bitwise the same\n"
          "                          (exit 0: the same, 3: it differs)\n"
          "      --log-json          log lines as JSON objects (time_ms, level, tag, message)\n"
          "Gaussian splats (docs/splats.md, \"Command line\"), instead of a scene:\n"
          "      --splats FILE       a 3DGS .ply, or a gsplat test scene .npz (its cameras, cropped to [-2,2]^3;\n"
          "                          scales, rotations and opacities drawn from --seed, default 0)\n"
          "      --camera K          the .npz file's camera K (default 0); --all-cameras: every one, out_<K>.png\n"
          "      --grid R            an .npz scene as gsplat's scene_grid R x R copies (odd; default 1)\n"
          "      --look-at ex,ey,ez,tx,ty,tz --fov DEG [--up x,y,z]   a pinhole camera (up default 0,1,0)\n"
          "      --viewmat 16 numbers --K 9 numbers   an OpenCV camera (row-major world-to-camera, intrinsics)\n"
          "                          (a .ply needs one of the two, and --width --height; on an .npz they replace\n"
          "                          the file's cameras; --width/--height alone rescale the file's K)\n"
          "      --alpha-max A       cap of a Gaussian's alpha (default 0.99 as 3DGS; gsplat uses 0.999)\n"
          "      --sh-degree-max D   use SH bands up to D (0..3) of the file's\n"
          "      --lenient           a .ply's bytes after the last vertex are ignored (with a warning)\n"
          "      --volume SCENE.json a volume scene drawn from the same camera and composited among the\n"
          "                          splats by depth (docs/splats.md, \"Mixed scenes\")\n"
          "      -o out.png | out.npy   the image (PNG, --alpha/--png16 apply) or rgb as float32 (H, W, 3);\n"
          "                          --npy PREFIX writes PREFIX_rgb.npy, PREFIX_alpha.npy, PREFIX_depth.npy\n"
          "  -q, --quiet             errors only\n"
          "  -h, --help\n"
          "Scene format: docs/scenes.md. Plugins are found on $DVREN_PLUGIN_PATH, then beside this program.\n",
          f);
}

/* ---- splat scenes (--splats FILE.ply|FILE.npz; docs/splats.md, "Command line") ---- */

/* Splat mode's options (the rest of dr_options applies: -o, --npy,
 * --width/--height, --device, --threads, --seed, --png16, --alpha, -q). */
typedef struct dr_splat_opts {
    const char* path;       /* --splats */
    int camera, have_camera;/* --camera K: the .npz file's camera */
    int all_cameras;        /* --all-cameras */
    float alpha_max;        /* --alpha-max (0: the renderer's default, 0.99) */
    int sh_degree_max;      /* --sh-degree-max (-1: the file's) */
    int lenient;            /* --lenient: a PLY's trailing bytes are ignored */
    int grid;               /* --grid R: gsplat's scene_grid copies of an .npz scene (0: 1) */
    int have_look_at, have_viewmat, have_K, have_up;
    float look_at[6], up[3], fov_deg; /* --look-at ex,ey,ez,tx,ty,tz --up x,y,z --fov deg */
    float viewmat[16], K[9];          /* --viewmat 16 numbers, --K 9 numbers (row-major, comma-separated) */
    const char* volume;     /* --volume SCENE.json: a volume composited among the splats by depth */
} dr_splat_opts;

/* Reads exactly n comma-separated finite numbers from s. 0, or -1. */
static int dr_parse_floats(const char* s, float* out, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        char* e;
        double v = strtod(s, &e);
        if (e == s || !isfinite(v)) return -1;
        out[i] = (float)v;
        s = e;
        while (*s == ' ') ++s;
        if (i + 1 < n) {
            if (*s != ',') return -1;
            ++s;
        }
    }
    return *s ? -1 : 0;
}

/* 1 when the option at argv[*i] is a splat option (taken, with its value);
 * 0 when it is not one; -1 (printed) on a bad value. */
static int dr_splat_arg(int argc, char** argv, int* i, dr_splat_opts* so)
{
    const char* a = argv[*i];
    const char* v = NULL;
    static const char* const valued[] = {"--splats", "--camera", "--alpha-max", "--sh-degree-max", "--look-at",
                                         "--up", "--fov", "--viewmat", "--K", "--grid", "--volume"};
    size_t k;
    if (!strcmp(a, "--all-cameras")) return so->all_cameras = 1;
    if (!strcmp(a, "--lenient")) return so->lenient = 1;
    for (k = 0; k < sizeof valued / sizeof *valued; ++k)
        if (!strcmp(a, valued[k])) break;
    if (k == sizeof valued / sizeof *valued) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "[ERROR] dvren_render: %s needs a value\n", a);
        return -1;
    }
    v = argv[++*i];
    if (!strcmp(a, "--splats")) {
        so->path = v;
    } else if (!strcmp(a, "--volume")) {
        so->volume = v;
    } else if (!strcmp(a, "--camera") || !strcmp(a, "--sh-degree-max") || !strcmp(a, "--grid")) {
        char* e;
        long x = strtol(v, &e, 10);
        long hi = !strcmp(a, "--sh-degree-max") ? 3 : !strcmp(a, "--grid") ? (long)DVREN_SPLAT_NPZ_MAX_GRID : 0x7FFFFFFF;
        if (*e || e == v || x < 0 || x > hi || (!strcmp(a, "--grid") && x % 2 == 0)) {
            fprintf(stderr, "[ERROR] dvren_render: %s needs %s, got '%s'\n", a,
                    !strcmp(a, "--sh-degree-max") ? "an integer in 0..3"
                    : !strcmp(a, "--grid")        ? "an odd positive integer (gsplat's scene_grid)"
                                                  : "a non-negative integer",
                    v);
            return -1;
        }
        if (!strcmp(a, "--camera")) so->camera = (int)x, so->have_camera = 1;
        else if (!strcmp(a, "--grid")) so->grid = (int)x;
        else so->sh_degree_max = (int)x;
    } else if (!strcmp(a, "--alpha-max") || !strcmp(a, "--fov")) {
        float x = 0.0f;
        int bad = dr_parse_floats(v, &x, 1) != 0;
        if (!strcmp(a, "--alpha-max")) {
            bad = bad || !(x > 1.0f / 255.0f && x < 1.0f);
            so->alpha_max = x;
        } else {
            bad = bad || !(x > 0.0f && x < 180.0f);
            so->fov_deg = x;
        }
        if (bad) {
            fprintf(stderr, "[ERROR] dvren_render: %s needs a number in %s, got '%s'\n", a,
                    !strcmp(a, "--fov") ? "(0, 180) (degrees, vertical)" : "(1/255, 1)", v);
            return -1;
        }
    } else {
        int n = !strcmp(a, "--look-at") ? 6 : !strcmp(a, "--up") ? 3 : !strcmp(a, "--viewmat") ? 16 : 9;
        float* dst = n == 6 ? so->look_at : n == 3 ? so->up : n == 16 ? so->viewmat : so->K;
        if (dr_parse_floats(v, dst, n)) {
            fprintf(stderr, "[ERROR] dvren_render: %s needs %d comma-separated numbers%s, got '%s'\n", a, n,
                    n == 6 ? " (eye x,y,z then target x,y,z)" : n == 16 ? " (row-major world-to-camera, OpenCV axes)"
                    : n == 9 ? " (row-major fx,0,cx,0,fy,cy,0,0,1)" : "", v);
            return -1;
        }
        if (n == 6) so->have_look_at = 1;
        else if (n == 3) so->have_up = 1;
        else if (n == 16) so->have_viewmat = 1;
        else so->have_K = 1;
    }
    return 1;
}

/* The path of camera c's file: "out.png" -> "out_<c>.png" when all
 * cameras are written, else path itself. */
static void dr_splat_name(char* dst, size_t cap, const char* path, int c, int many, const char* suffix)
{
    const char* dot = strrchr(path, '.');
    const char* slash = strrchr(path, '/');
    if (!many) {
        snprintf(dst, cap, "%s%s", path, suffix);
        return;
    }
    if (!dot || (slash && dot < slash) || suffix[0]) dot = path + strlen(path);
    snprintf(dst, cap, "%.*s_%d%s%s", (int)(dot - path), path, c, dot, suffix);
}

static int dr_ends_with(const char* s, const char* end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && !strcmp(s + n - m, end);
}

/* dvren_render --splats: loads the Gaussians, renders the chosen cameras
 * (one image each) and writes them; all or nothing, as for volume scenes. */
static int dr_splat_main(const dr_options* o, const dr_splat_opts* so)
{
    dr_state S;
    dvren_context_desc cd;
    dvren_splats sp;
    dvren_splat_npz_scene sc;
    dvren_splat_params prm;
    dvren_splat_renderer* rdr = NULL;
    dvren_splat_options ropt;
    const char* dev = o->device ? o->device : "cpu";
    const char* file = so->path;
    int is_npz = dr_ends_with(file, ".npz") || dr_ends_with(file, ".NPZ");
    int is_ply = dr_ends_with(file, ".ply") || dr_ends_with(file, ".PLY");
    int explicit_cam = so->have_look_at || so->have_viewmat || so->have_K;
    int rc = 1, c, c0, c1, nwritten = 0, k, png_out, npy_out;
    char (*written)[DR_PATH] = NULL;
    dvren_scenefile vsf;     /* --volume: its scene file, stages and scene */
    dvren_scene* vscene = NULL;
    memset(&vsf, 0, sizeof vsf);
    memset(&S, 0, sizeof S);
    memset(&sp, 0, sizeof sp);
    memset(&sc, 0, sizeof sc);
    memset(&prm, 0, sizeof prm);
    S.scene_name = file;

    /* the command line, checked before anything is read */
    if (o->scene) return dr_fail(&S, NULL, "give either a scene file ('%s') or --splats, not both", o->scene);
    if (!is_npz && !is_ply)
        return dr_fail(&S, "--splats", "'%s' is neither a .ply (3DGS) nor an .npz (gsplat test scene) file", file);
    if (o->gradcheck || o->replay || o->record || o->profile || o->spp)
        return dr_fail(&S, NULL, "--gradcheck, --replay, --record, --profile and --spp are for volume scenes, not --splats");
    if (so->have_look_at && (so->have_viewmat || so->have_K))
        return dr_fail(&S, "camera", "give either --look-at or --viewmat and --K, not both");
    if (so->have_viewmat != so->have_K)
        return dr_fail(&S, "camera", "--viewmat and --K go together (a world-to-camera matrix and the intrinsics)");
    if (so->have_look_at && !so->fov_deg)
        return dr_fail(&S, "camera", "--look-at needs --fov (the vertical field of view in degrees)");
    if ((so->fov_deg || so->have_up) && !so->have_look_at)
        return dr_fail(&S, "camera", "--fov and --up belong to --look-at");
    if (is_ply && !explicit_cam)
        return dr_fail(&S, "camera", "a .ply holds no camera: give --look-at ex,ey,ez,tx,ty,tz --fov DEG, or "
                                     "--viewmat (16 numbers) --K (9 numbers), with --width and --height");
    if (is_ply && (!o->width || !o->height))
        return dr_fail(&S, "camera", "a .ply holds no image size: give --width and --height");
    if (is_ply && (so->have_camera || so->all_cameras || so->grid))
        return dr_fail(&S, "camera", "--camera, --all-cameras and --grid choose among an .npz scene's cameras; a .ply has none");
    if (explicit_cam && (so->have_camera || so->all_cameras))
        return dr_fail(&S, "camera", "--camera and --all-cameras choose the file's cameras; not with --look-at or --viewmat");
    if (is_ply && o->have_seed)
        return dr_fail(&S, "--seed", "a .ply holds every attribute; --seed fills an .npz scene's scales, rotations and opacities");
    if (so->lenient && !is_ply) return dr_fail(&S, "--lenient", "applies to .ply files only");
    if (!o->png && !o->npy) return dr_fail(&S, "output", "nothing to write: give -o out.png, -o out.npy or --npy PREFIX");
    png_out = o->png && !dr_ends_with(o->png, ".npy");
    npy_out = o->png && dr_ends_with(o->png, ".npy");
    if (o->png && !png_out && !npy_out) return dr_fail(&S, "-o", "'%s': the output must end in .png or .npy", o->png);
    if (png_out && !dr_ends_with(o->png, ".png") && !dr_ends_with(o->png, ".PNG"))
        return dr_fail(&S, "-o", "'%s': the output must end in .png or .npy", o->png);
    if (o->png && dr_check_out_dir(&S, o->png, "-o")) return 1;
    if (o->npy && dr_check_out_dir(&S, o->npy, "--npy")) return 1;

    /* the device: CUDA gets CUDA or an error, never the CPU */
    memset(&cd, 0, sizeof cd);
    cd.log = o->quiet ? NULL : dr_log;
    cd.log_level = DVREN_LOG_INFO;
    cd.flags = o->log_json ? DVREN_CONTEXT_LOG_JSON : 0u;
    if (o->have_threads) cd.threads = (uint32_t)o->threads;
    if (!strcmp(dev, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
        cd.device_index = (uint32_t)o->gpu_index;
        cd.device_name = o->gpu_name;
        cd.min_compute_capability = (uint32_t)o->min_cc;
    } else if (strcmp(dev, "cpu") != 0) {
        return dr_fail(&S, "--device", "'%s' is not one of cpu, cuda", dev);
    }
    if (dvren_context_create(&cd, &S.ctx)) return dr_fail(&S, "--device", "%s", dvren_last_error(NULL));

    /* the Gaussians */
    if (is_npz) {
        dvren_splat_npz_options no;
        memset(&no, 0, sizeof no);
        no.grid = (uint32_t)so->grid;
        no.seed = o->have_seed ? (uint64_t)o->seed : 0; /* 0: the documented default seed */
        if (dvren_splat_npz_load(S.ctx, file, &no, &sc)) {
            fprintf(stderr, "[ERROR] %s\n", dvren_last_error(S.ctx)); /* it names the file, member and field */
            goto done;
        }
        sp = sc.splats; /* owned by sc */
    } else if (dvren_splat_ply_load(S.ctx, file, so->lenient ? DVREN_SPLAT_PLY_LENIENT : 0u, &sp)) {
        const char* m = dvren_last_error(S.ctx);
        fprintf(stderr, "[ERROR] %s%s\n", m, strstr(m, "after the last vertex") ? " (hint: --lenient ignores them)" : "");
        goto done;
    }
    /* --sh-degree-max: the first (d+1)^2 - 1 rest coefficients of each channel, in place */
    if (sp.sh_degree > so->sh_degree_max && so->sh_degree_max >= 0) {
        uint32_t K1 = (uint32_t)((so->sh_degree_max + 1) * (so->sh_degree_max + 1) - 1), ch, kk;
        size_t i;
        for (i = 0; i < sp.count; ++i)
            for (ch = 0; ch < 3; ++ch)
                for (kk = 0; kk < K1; ++kk)
                    sp.f_rest[i * 3 * K1 + ch * K1 + kk] = sp.f_rest[i * sp.rest_count + ch * sp.rest_per_channel + kk];
        sp.sh_degree = so->sh_degree_max;
        sp.rest_per_channel = K1;
        sp.rest_count = 3 * K1;
    }
    if (dvren_splats_to_params(S.ctx, &sp, &prm)) {
        dr_fail(&S, NULL, "%s", dvren_last_error(S.ctx));
        goto done;
    }
    memset(&ropt, 0, sizeof ropt);
    ropt.alpha_max = so->alpha_max;
    if (dvren_splat_renderer_create(S.ctx, &ropt, &rdr)) {
        dr_fail(&S, "--alpha-max", "%s", dvren_last_error(S.ctx));
        goto done;
    }
    if (so->volume) {
        /* the volume scene's stages and march settings; its camera and size give way to the splats' */
        dvren_scene_desc sd;
        if (dvren_scenefile_load(&vsf, so->volume) || dvren_scenefile_build(&vsf, S.ctx)) {
            dr_fail(&S, "--volume", "%s", vsf.error);
            goto done;
        }
        memset(&sd, 0, sizeof sd);
        sd.field = vsf.field;
        sd.shader = vsf.shader;
        sd.sampler = vsf.sampler;
        if (dvren_scene_create(S.ctx, &sd, &vscene)) {
            dr_fail(&S, "--volume", "%s", dvren_last_error(S.ctx));
            goto done;
        }
    }

    /* the cameras */
    c0 = 0;
    c1 = 1;
    if (is_npz && !explicit_cam) {
        if (so->have_camera && (size_t)so->camera >= sc.camera_count) {
            dr_fail(&S, "--camera", "camera %d does not exist: the file has %lu camera%s (0..%lu)", so->camera,
                    (unsigned long)sc.camera_count, sc.camera_count == 1 ? "" : "s", (unsigned long)sc.camera_count - 1);
            goto done;
        }
        c0 = so->camera;
        c1 = so->all_cameras ? (int)sc.camera_count : c0 + 1;
        if (so->all_cameras) c0 = 0;
    }
    written = (char(*)[DR_PATH])calloc((size_t)(c1 - c0) * 5 + 1, DR_PATH);
    if (!written) {
        dr_fail(&S, NULL, "out of memory");
        goto done;
    }
    for (c = c0; c < c1; ++c) {
        dvren_plan_desc pd;
        dvren_plan *plan = NULL, *vplan = NULL;
        dvren_framebuffer *fb = NULL, *layer = NULL;
        dvren_splat_stats st;
        char path[DR_PATH];
        double t0;
        int bad = 0, many = so->all_cameras;
        memset(&pd, 0, sizeof pd);
        pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | (o->npy ? DVREN_OUTPUT_DEPTH : 0u);
        pd.width = (uint32_t)(o->width ? o->width : (int)sc.width);
        pd.height = (uint32_t)(o->height ? o->height : (int)sc.height);
        if (so->have_look_at) {
            static const float yup[3] = {0, 1, 0};
            if (dvren_camera_look_at(so->look_at, so->look_at + 3, so->have_up ? so->up : yup,
                                     (float)(so->fov_deg * 3.14159265358979323846 / 180.0), &pd.camera)) {
                dr_fail(&S, "--look-at", "%s", dvren_last_error(NULL));
                goto done;
            }
        } else {
            float V[16], Km[9];
            if (so->have_viewmat) {
                memcpy(V, so->viewmat, sizeof V);
                memcpy(Km, so->K, sizeof Km);
            } else {
                /* the file's camera; another image size scales K's rows as gsplat's profiler does */
                memcpy(V, sc.cameras[c].viewmat, sizeof V);
                memcpy(Km, sc.cameras[c].K, sizeof Km);
                for (k = 0; k < 3; ++k) {
                    Km[k] *= (float)pd.width / (float)sc.width;
                    Km[3 + k] *= (float)pd.height / (float)sc.height;
                }
            }
            if (dvren_camera_from_opencv(V, Km, &pd.camera)) {
                dr_fail(&S, so->have_viewmat ? "--viewmat/--K" : "viewmats/Ks", "%s", dvren_last_error(NULL));
                goto done;
            }
        }
        if (dr_check_memory(&S, &pd, png_out ? (o->png_alpha ? 4 : 3) : 0, o->png_bits, o->npy != NULL)) goto done;
        if (dvren_plan_create(S.ctx, &pd, &plan) || dvren_framebuffer_create(S.ctx, plan, &fb)) {
            dr_fail_lib(&S, "plan");
            bad = 1;
        }
        t0 = dvren__now_ms();
        if (!bad && vscene) {
            /* the volume from the same camera and size, composited among the splats by depth */
            dvren_plan_desc vd = vsf.plan;
            vd.width = pd.width;
            vd.height = pd.height;
            vd.camera = pd.camera;
            vd.roi.x = vd.roi.y = vd.roi.w = vd.roi.h = 0;
            vd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;
            vd.background[0] = vd.background[1] = vd.background[2] = 0.0f; /* the splats' plan adds the background */
            if (dvren_plan_create(S.ctx, &vd, &vplan) || dvren_framebuffer_create(S.ctx, vplan, &layer) ||
                dvren_render(vscene, vplan, layer, NULL)) {
                dr_fail(&S, "--volume", "%s", dvren_last_error(S.ctx));
                bad = 1;
            }
        }
        if (!bad && (dvren_splat_render(rdr, &prm, plan, fb, layer) || dvren_synchronize(S.ctx))) {
            dr_fail_lib(&S, NULL);
            bad = 1;
        }
        if (!bad && dvren_splat_stats_get(rdr, &st) == DVREN_OK)
            dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP,
                      "camera %d: %u x %u, %u of %lu Gaussians visible, %llu tile intersections, %.1f ms", c,
                      (unsigned)pd.width, (unsigned)pd.height, (unsigned)st.visible, (unsigned long)sp.count,
                      (unsigned long long)st.intersections, dvren__now_ms() - t0);
        if (!bad) {
            dvren_tensor rgb, alpha;
            if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb) || dvren_framebuffer_output(fb, DVREN_OUTPUT_ALPHA, &alpha)) {
                dr_fail_lib(&S, NULL);
                bad = 1;
            } else if (png_out) {
                dr_splat_name(path, sizeof path, o->png, c, many, "");
                if (dvren_image_write_png(S.ctx, path, (const float*)rgb.data, o->png_alpha ? (const float*)alpha.data : NULL,
                                          pd.width, pd.height, o->png_bits)) {
                    dr_fail_lib(&S, "-o");
                    bad = 1;
                } else {
                    snprintf(written[nwritten++], DR_PATH, "%s", path);
                    dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s", path);
                }
            } else if (npy_out) {
                dr_splat_name(path, sizeof path, o->png, c, many, "");
                if (dvren_tensor_save_npy(S.ctx, &rgb, path)) {
                    dr_fail_lib(&S, "-o");
                    bad = 1;
                } else {
                    snprintf(written[nwritten++], DR_PATH, "%s", path);
                    dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s (rgb, float32 (H, W, 3))", path);
                }
            }
        }
        if (!bad && o->npy) {
            /* PREFIX_<output>.npy as for volume scenes; PREFIX_<c>_<output>.npy for --all-cameras */
            static const uint32_t outs[3] = {DVREN_OUTPUT_RGB, DVREN_OUTPUT_ALPHA, DVREN_OUTPUT_DEPTH};
            char suffix[32];
            for (k = 0; k < 3 && !bad; ++k) {
                dvren_tensor t;
                snprintf(suffix, sizeof suffix, "_%s.npy", dvren_output_name(outs[k]));
                dr_splat_name(path, sizeof path, o->npy, c, many, suffix);
                if (dvren_framebuffer_output(fb, outs[k], &t) || dvren_tensor_save_npy(S.ctx, &t, path)) {
                    dr_fail_lib(&S, "--npy");
                    bad = 1;
                } else {
                    snprintf(written[nwritten++], DR_PATH, "%s", path);
                }
            }
        }
        dvren_framebuffer_destroy(fb);
        dvren_framebuffer_destroy(layer);
        dvren_plan_destroy(plan);
        dvren_plan_destroy(vplan);
        if (bad) goto done;
    }
    rc = 0;
done:
    /* all or nothing: a failed run removes what it wrote */
    if (rc != 0)
        for (k = 0; k < nwritten; ++k) remove(written[k]);
    free(written);
    dvren_scene_destroy(vscene);
    dvren_scenefile_free(&vsf);
    dvren_splat_renderer_destroy(rdr);
    dvren_splats_params_free(S.ctx, &prm);
    if (is_npz) dvren_splat_npz_scene_free(&sc);
    else dvren_splats_free(&sp);
    dvren_context_destroy(S.ctx);
    return rc;
}

static void dr_describe(const dvren_plugin_desc* d)
{
    uint32_t i;
    printf("%s plugin '%s' %u.%u: %s\n", dvren_plugin_kind_name(d->kind), d->name, (unsigned)(d->version >> 16),
           (unsigned)(d->version & 0xFFFF), d->summary ? d->summary : "");
    for (i = 0; i < d->param_count; ++i) {
        const dvren_param_desc* p = dvren_plugin_param(d, i);
        char line[512];
        dvren_param_summary(p, line, sizeof line);
        printf("  %-18s %s\n      %s\n", p->name, line, p->doc ? p->doc : "");
    }
}

static int dr_parse_args(int argc, char** argv, dr_options* o, const char** list_or_describe, int* list, dr_splat_opts* so)
{
    int i, taken;
    const char *base = argv[0], *c;
    memset(o, 0, sizeof *o);
    o->png_bits = 8;
    o->prog = "dvren_render";
    /* installed as dvren_gradcheck: the gradient check is the default */
    for (c = argv[0]; c && *c; ++c)
        if (*c == '/' || *c == '\\') base = c + 1; /* also Windows paths; ".exe" is past the 15 characters */
    if (base && !strncmp(base, "dvren_gradcheck", 15)) {
        o->gradcheck = 1;
        o->prog = "dvren_gradcheck";
    }
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
#define DR_NEXT() (i + 1 < argc ? argv[++i] : (fprintf(stderr, "[ERROR] %s: %s needs a value\n", o->prog, a), (char*)NULL))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            dr_usage(stdout, o->gradcheck);
            exit(0);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(o->png = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--npy")) {
            if (!(o->npy = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--gradcheck")) {
            o->gradcheck = 1;
        } else if (!strcmp(a, "--profile")) {
            if (!(o->profile = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--replay")) {
            if (!(o->replay = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--record")) {
            o->record = 1;
        } else if (!strcmp(a, "--log-json")) {
            o->log_json = 1;
        } else if (!strcmp(a, "--png16")) {
            o->png_bits = 16;
        } else if (!strcmp(a, "--alpha")) {
            o->png_alpha = 1;
        } else if (!strcmp(a, "--device")) {
            if (!(o->device = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--gpu-name")) {
            if (!(o->gpu_name = DR_NEXT())) return 2;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--list-plugins")) {
            *list = 1;
        } else if (!strcmp(a, "--check-plugin")) {
            if (!(o->check_plugin = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--arch")) {
            if (!(o->arch = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--describe")) {
            if (!(*list_or_describe = DR_NEXT())) return 2;
        } else if (!strcmp(a, "--width") || !strcmp(a, "--height") || !strcmp(a, "--spp") || !strcmp(a, "--threads") ||
                   !strcmp(a, "--seed") || !strcmp(a, "--gpu-index") || !strcmp(a, "--min-cc")) {
            const char* v = DR_NEXT();
            char* e;
            long long x;
            if (!v) return 2;
            x = strtoll(v, &e, 10);
            if (*e || x < 0 || x > 0x7FFFFFFF ||
                (x == 0 && strcmp(a, "--seed") && strcmp(a, "--gpu-index") && strcmp(a, "--threads") && strcmp(a, "--min-cc"))) {
                fprintf(stderr, "[ERROR] %s: %s needs a %s integer, got '%s'\n", o->prog, a,
                        strcmp(a, "--seed") && strcmp(a, "--gpu-index") && strcmp(a, "--threads") && strcmp(a, "--min-cc") ? "positive" : "non-negative", v);
                return 2;
            }
            if (!strcmp(a, "--width")) o->width = (int)x;
            else if (!strcmp(a, "--height")) o->height = (int)x;
            else if (!strcmp(a, "--spp")) o->spp = (int)x;
            else if (!strcmp(a, "--threads")) o->threads = (int)x, o->have_threads = 1;
            else if (!strcmp(a, "--gpu-index")) o->gpu_index = (int)x, o->have_gpu_index = 1;
            else if (!strcmp(a, "--min-cc")) o->min_cc = (int)x;
            else { o->seed = x; o->have_seed = 1; }
        } else if (a[0] == '-' && (taken = dr_splat_arg(argc, argv, &i, so)) != 0) {
            if (taken < 0) return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "[ERROR] %s: unknown option '%s' (see --help)\n", o->prog, a);
            return 2;
        } else if (!o->scene) {
            o->scene = a;
        } else {
            fprintf(stderr, "[ERROR] %s: more than one scene given ('%s', '%s')\n", o->prog, o->scene, a);
            return 2;
        }
#undef DR_NEXT
    }
    return 0;
}

/* A stage of plugin d with its default parameters; a plugin that needs a
 * source (dense_grid: a file or a generator) gets the first value of its
 * "generator" enum other than the default (the choice-th: another one when
 * the first does not fit the shader) and small "dims" when its schema has
 * them. Returns 0, 1 on an error (printed), 2 when there is no such choice. */
static int dr_default_stage(dr_state* S, const dvren_plugin_desc* d, int choice, dvren_stage** out)
{
    dvren_params* p = NULL;
    uint32_t i;
    int rc = 1;
    if (choice == 0 && dvren_stage_create(S->ctx, d->kind, d->name, NULL, out) == DVREN_OK) return 0;
    if (dvren_params_create(S->ctx, &p)) return dr_fail_lib(S, d->name);
    for (i = 0; i < d->param_count; ++i) {
        const dvren_param_desc* q = dvren_plugin_param(d, i);
        if (!strcmp(q->name, "generator") && q->type == DVREN_PARAM_ENUM && q->enum_values) {
            /* the choice-th value other than the default (which is "none") */
            const char* v = q->enum_values;
            char first[64] = "";
            int skip = choice;
            while (*v) {
                size_t n = strcspn(v, "|");
                snprintf(first, sizeof first, "%.*s", (int)n, v);
                if ((!q->default_string || strcmp(first, q->default_string)) && skip-- == 0) break;
                v += n + (v[n] == '|');
                first[0] = 0;
            }
            if (!first[0]) {
                dvren_params_destroy(p);
                return 2; /* no more choices */
            }
            if (first[0]) dvren_params_set_string(p, q->name, first);
        } else if (!strcmp(q->name, "dims") && q->type == DVREN_PARAM_FLOATS) {
            static const double dims[3] = {8, 8, 8};
            dvren_params_set_numbers(p, q->name, dims, 3);
        }
    }
    if (dvren_stage_create(S->ctx, d->kind, d->name, p, out))
        dr_fail(S, d->name, "cannot create it with default parameters: %s", dvren_last_error(S->ctx));
    else
        rc = 0;
    dvren_params_destroy(p);
    return rc;
}

/* --check-plugin NAME: NVRTC-compiles the fused kernel of every combination
 * of the loaded plugins that contains NAME (the other two kinds from every
 * library on the search path), each with default parameters, forward and
 * backward (a differentiable scene), for each architecture of the list.
 * A combination whose field has no default with the channels the shader
 * reads (dense_grid + terrain) is reported "skipped", not failed. A saliency
 * or registration model's own kernels are compiled once per architecture.
 * Needs NVRTC, no GPU. Prints one line per combination and architecture on
 * stdout; returns 0 when all compile cleanly, 1 otherwise. */
static int dr_check_plugin(dr_state* S, const char* name, const char* arch_list)
{
    const dvren_plugin_desc* target;
    const dvren_plugin_desc* by_kind[3][64];
    uint32_t n_kind[3] = {0, 0, 0}, archs[16], n_arch = 0, failed = 0, i, a, b, c, k;
    const char* p = arch_list;
    int rc = 0, combos = 0;
    static char log[1 << 16];
    while (*p) {
        char* end;
        long v;
        if (!strncmp(p, "sm_", 3)) p += 3;
        v = strtol(p, &end, 10);
        if (end == p || v < 30 || v > 1000 || (*end && *end != ',') || n_arch == 16)
            return dr_fail(S, "--arch", "'%s' is not a list like sm_86,sm_90", arch_list);
        archs[n_arch++] = (uint32_t)v;
        p = *end ? end + 1 : end;
    }
    if (!n_arch) return dr_fail(S, "--arch", "no architecture given");
    dvren_plugin_load_all(S->ctx, &failed);
    if (dvren_plugin_find(S->ctx, DVREN_PLUGIN_INVALID, name, &target)) return dr_fail_lib(S, "--check-plugin");
    if (target->kind == DVREN_PLUGIN_SALIENCY || target->kind == DVREN_PLUGIN_REGISTRATION) {
        /* a model compiles its own kernels (dvren.host.cuda/1) */
        for (k = 0; k < n_arch; ++k) {
            dvren_status s = dvren_cuda_compile_plugin_check(S->ctx, target->kind, name, archs[k], log, sizeof log);
            if (s != DVREN_OK || log[0]) rc = 1;
            printf("%s %s sm_%u (its kernels)%s%s\n", s != DVREN_OK ? "FAILED" : log[0] ? "WARNING" : "ok", name,
                   (unsigned)archs[k], s != DVREN_OK ? ": " : "", s != DVREN_OK ? dvren_last_error(S->ctx) : "");
            if (s != DVREN_OK || log[0]) fprintf(stderr, "%s\n", log);
        }
        fflush(stdout);
        return rc;
    }
    for (i = 0; i < dvren_plugin_count(S->ctx); ++i) {
        const dvren_plugin_desc* d = dvren_plugin_at(S->ctx, i, NULL);
        k = d->kind == DVREN_PLUGIN_FIELD ? 0 : d->kind == DVREN_PLUGIN_SHADER ? 1 : d->kind == DVREN_PLUGIN_SAMPLER ? 2 : 3;
        if (k < 3 && n_kind[k] < 64 && (d->kind != target->kind || d == target)) by_kind[k][n_kind[k]++] = d;
    }
    for (a = 0; a < n_kind[0]; ++a)
        for (b = 0; b < n_kind[1]; ++b)
            for (c = 0; c < n_kind[2]; ++c) {
                const dvren_plugin_desc* d[3];
                dvren_stage* st[3] = {NULL, NULL, NULL};
                dvren_scene_desc sd;
                dvren_scene* scene = NULL;
                d[0] = by_kind[0][a];
                d[1] = by_kind[1][b];
                d[2] = by_kind[2][c];
                ++combos;
                if (dr_default_stage(S, d[1], 0, &st[1]) || dr_default_stage(S, d[2], 0, &st[2])) {
                    printf("FAILED %s + %s + %s: a stage cannot be created (see stderr)\n", d[0]->name, d[1]->name, d[2]->name);
                    rc = 1;
                } else {
                    /* the field's first default that the shader accepts (channel counts differ) */
                    int choice, made, too_few_channels = 1;
                    memset(&sd, 0, sizeof sd);
                    for (choice = 0; !scene && (made = dr_default_stage(S, d[0], choice, &st[0])) != 2; ++choice) {
                        if (made) { /* an error (printed): not a mismatch */
                            too_few_channels = 0;
                            break;
                        }
                        sd.field = st[0];
                        sd.shader = st[1];
                        sd.sampler = st[2];
                        sd.flags = DVREN_SCENE_DIFFERENTIABLE;
                        /* a combination without differentiable parameters is checked forward only */
                        if (dvren_scene_create(S->ctx, &sd, &scene)) {
                            sd.flags = 0;
                            if (dvren_scene_create(S->ctx, &sd, &scene)) scene = NULL;
                        }
                        if (!scene) {
                            /* a field with fewer channels than the shader reads is a mismatch, not a fault */
                            dvren_instance_info fi, si;
                            if (dvren_stage_info(st[0], &fi) || dvren_stage_info(st[1], &si) || si.channels_used <= fi.channels)
                                too_few_channels = 0;
                            dvren_stage_destroy(st[0]);
                            st[0] = NULL;
                        }
                    }
                    if (!scene && choice > 0 && too_few_channels) {
                        /* not a fault: the field cannot give what the shader reads (terrain's 10 channels) */
                        printf("skipped %s + %s + %s: no default of %s has the channels %s reads\n", d[0]->name,
                               d[1]->name, d[2]->name, d[0]->name, d[1]->name);
                    } else if (!scene) {
                        printf("FAILED %s + %s + %s: no default of %s makes a scene with them: %s\n", d[0]->name, d[1]->name,
                               d[2]->name, d[0]->name, dvren_last_error(S->ctx));
                        rc = 1;
                    }
                    for (k = 0; scene && k < n_arch; ++k) {
                        dvren_status s = dvren_cuda_compile_check(scene, archs[k], log, sizeof log);
                        if (s != DVREN_OK || log[0]) rc = 1;
                        printf("%s %s + %s + %s sm_%u%s%s%s\n", s != DVREN_OK ? "FAILED" : log[0] ? "WARNING" : "ok", d[0]->name,
                               d[1]->name, d[2]->name, (unsigned)archs[k], sd.flags ? " (forward and backward)" : " (forward)",
                               s != DVREN_OK ? ": " : "", s != DVREN_OK ? dvren_last_error(S->ctx) : "");
                        if (s != DVREN_OK || log[0]) fprintf(stderr, "%s\n", log);
                    }
                }
                dvren_scene_destroy(scene);
                for (k = 0; k < 3; ++k) dvren_stage_destroy(st[k]);
            }
    fflush(stdout);
    if (!combos) return dr_fail(S, "--check-plugin", "no combination with '%s': a field, a shader and a sampler must be loaded", name);
    return rc;
}

/* --gradcheck: the scene's plugins, made differentiable, checked on a small
 * image; prints the figures, returns 0 (pass), 3 (over 1e-3) or 1. */
static int dr_gradcheck(dr_state* S, const dr_options* o, dvren_stage* field, dvren_stage* shader,
                        dvren_stage* sampler, dvren_plan_desc* pd)
{
    dvren_scene_desc sd;
    dvren_scene* scene = NULL;
    dvren_plan* plan = NULL;
    dvren_gradcheck_desc gd;
    dvren_gradcheck_result r;
    dvren_scene_param sp;
    uint32_t n, i;
    double elems = 0.0;
    int rc = 1;
    pd->roi.w = pd->roi.h = 0; /* the whole (small) image */
    memset(&sd, 0, sizeof sd);
    sd.field = field;
    sd.shader = shader;
    sd.sampler = sampler;
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    if (dvren_scene_create(S->ctx, &sd, &scene)) {
        dr_fail_lib(S, NULL);
        goto out;
    }
    n = dvren_scene_param_count(scene);
    if (n == 0) {
        dr_fail(S, NULL, "no differentiable parameter in this plugin combination (a dense_grid's voxels need "
                         "\"storage\": \"f32\"; integer storage has no gradient)");
        goto out;
    }
    if (dvren_plan_create(S->ctx, pd, &plan)) {
        dr_fail_lib(S, "plan");
        goto out;
    }
    memset(&gd, 0, sizeof gd);
    gd.seed = o->have_seed ? (uint64_t)o->seed : 1;
    if (dvren_gradcheck(scene, plan, &gd, &r)) {
        dr_fail_lib(S, NULL);
        goto out;
    }
    for (i = 0; i < n; ++i)
        if (dvren_scene_param_get(scene, i, &sp) == DVREN_OK) elems += (double)sp.numel;
    printf("gradcheck %s: %u parameters (%.0f elements), %ux%u, spp %u, seed %llu: checked %u skipped %u "
           "fd_error %.2e (%s) f32_error %.2e |g| %.3g: %s\n",
           S->scene_name, (unsigned)n, elems, (unsigned)pd->width, (unsigned)pd->height, (unsigned)(pd->spp ? pd->spp : 1),
           (unsigned long long)gd.seed, (unsigned)r.checked, (unsigned)r.skipped, r.fd_error, r.worst, r.f32_error,
           r.grad_norm, r.fd_error < 1e-3 && r.f32_error < 1e-3 ? "ok" : "FAILED (bar 1e-3)");
    rc = r.fd_error < 1e-3 && r.f32_error < 1e-3 ? 0 : 3;
out:
    dvren_plan_destroy(plan);
    dvren_scene_destroy(scene);
    return rc;
}

/* ---- profiling and replay ------------------------------------------------------ */

/* FNV-1a, 64 bits: the fingerprint of an output's bytes in a replay record. */
static uint64_t dr_fnv1a64(const void* p, size_t n)
{
    const unsigned char* b = (const unsigned char*)p;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Largest resident set of this process so far, bytes (0 where unknown). */
static double dr_peak_host_bytes(void)
{
#if defined(_WIN32)
    return 0.0;
#else
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0.0;
#if defined(__APPLE__)
    return (double)u.ru_maxrss; /* bytes on macOS */
#else
    return 1024.0 * (double)u.ru_maxrss; /* KiB on Linux */
#endif
#endif
}

/* Writes a JSON object to path, atomically (no partial file). */
static int dr_write_json(dr_state* S, const char* path, const cJSON* obj, const char* key)
{
    char* text = cJSON_Print(obj);
    int rc;
    if (!text) return dr_fail(S, key, "out of memory writing '%s'", path);
    rc = dvren_file_write_atomic(S->ctx, path, text, strlen(text)) != DVREN_OK;
    free(text);
    if (rc) return dr_fail_lib(S, key);
    dvren_log(S->ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s", path);
    return 0;
}

/* The absolute path of a folder: 1, or 0 when it cannot be resolved. */
static int dr_abspath(const char* path, char* out, size_t cap)
{
#if defined(_WIN32)
    return _fullpath(out, path, cap) != NULL;
#else
    char buf[PATH_MAX];
    if (!realpath(path, buf) || strlen(buf) >= cap) return 0;
    memcpy(out, buf, strlen(buf) + 1);
    return 1;
#endif
}

/* The library a stage's plugin came from ("" when unknown). */
static const char* dr_stage_library(dvren_context* ctx, const dvren_stage* st)
{
    uint32_t i;
    for (i = 0; i < dvren_plugin_count(ctx); ++i) {
        const char* lib = NULL;
        if (dvren_plugin_at(ctx, i, &lib) == dvren_stage_plugin(st)) return lib ? lib : "";
    }
    return "";
}

/* What makes a render repeatable: the scene as rendered (the command
 * line's overrides written into its plan, paths kept relative to "dir"),
 * the plugins and their versions, the device, dvren's version, and the
 * fingerprint of the rgb output's float32 bytes. */
static cJSON* dr_replay_record(dr_state* S, const dvren_scenefile* sf, const dvren_plan_desc* pd, const char* device,
                               uint64_t rgb_hash)
{
    cJSON *rec = cJSON_CreateObject(), *scene, *plan, *plugins;
    const dvren_stage* st[3];
    static const char* const slots[3] = {"field", "shader", "sampler"};
    char buf[DR_PATH], hex[24];
    int k;
    st[0] = sf->field;
    st[1] = sf->shader;
    st[2] = sf->sampler;
    cJSON_AddStringToObject(rec, "what", "dvren_render replay record (dvren_render --replay FILE)");
    snprintf(buf, sizeof buf, "%d.%d.%d", DVREN_VERSION_MAJOR, DVREN_VERSION_MINOR, DVREN_VERSION_PATCH);
    cJSON_AddStringToObject(rec, "dvren", buf);
    snprintf(buf, sizeof buf, "%u.%u", (unsigned)DVREN_ABI_MAJOR, (unsigned)DVREN_ABI_MINOR);
    cJSON_AddStringToObject(rec, "plugin_abi", buf);
    cJSON_AddStringToObject(rec, "device", device);
    if (dvren_context_device(S->ctx) == DVREN_DEVICE_CUDA) {
        dvren_cuda_info ci;
        if (dvren_cuda_get_info(S->ctx, &ci) == DVREN_OK) cJSON_AddStringToObject(rec, "gpu", ci.device_name);
    }
    cJSON_AddStringToObject(rec, "scene_name", sf->name ? sf->name : "");
    if (dr_abspath(sf->dir[0] ? sf->dir : ".", buf, sizeof buf)) strncat(buf, "/", sizeof buf - strlen(buf) - 1);
    else snprintf(buf, sizeof buf, "%s", sf->dir);
    cJSON_AddStringToObject(rec, "dir", buf);
    scene = cJSON_Duplicate(sf->root, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(scene, "output");
    plan = cJSON_GetObjectItemCaseSensitive(scene, "plan");
    if (!plan) plan = cJSON_AddObjectToObject(scene, "plan");
    cJSON_DeleteItemFromObjectCaseSensitive(plan, "width");
    cJSON_DeleteItemFromObjectCaseSensitive(plan, "height");
    cJSON_DeleteItemFromObjectCaseSensitive(plan, "spp");
    cJSON_DeleteItemFromObjectCaseSensitive(plan, "seed");
    cJSON_AddNumberToObject(plan, "width", pd->width);
    cJSON_AddNumberToObject(plan, "height", pd->height);
    cJSON_AddNumberToObject(plan, "spp", pd->spp ? pd->spp : 1);
    cJSON_AddNumberToObject(plan, "seed", (double)pd->seed);
    cJSON_AddItemToObject(rec, "scene", scene);
    plugins = cJSON_AddArrayToObject(rec, "plugins");
    for (k = 0; k < 3; ++k) {
        const dvren_plugin_desc* d = dvren_stage_plugin(st[k]);
        cJSON* p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "slot", slots[k]);
        cJSON_AddStringToObject(p, "name", d->name);
        snprintf(buf, sizeof buf, "%u.%u", (unsigned)(d->version >> 16), (unsigned)(d->version & 0xFFFFu));
        cJSON_AddStringToObject(p, "version", buf);
        cJSON_AddStringToObject(p, "library", dr_stage_library(S->ctx, st[k]));
        cJSON_AddItemToArray(plugins, p);
    }
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)rgb_hash);
    cJSON_AddStringToObject(rec, "rgb_fnv1a64", hex);
    return rec;
}

int main(int argc, char** argv)
{
    dr_options o;
    dr_splat_opts so;
    dr_state S;
    dvren_context_desc cd;
    dvren_scenefile sf;
    dvren_scene* scene = NULL;
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_render_options ro;
    dvren_plan_desc pd;
    const char* describe = NULL;
    const char* png = NULL;
    const char* npy = NULL;
    const char* dev;
    char written[16][DR_PATH]; /* the PNG, one .npy per output (8), the replay record, the profile */
    int nwritten = 0, list = 0, rc = 1, k, differs = 0;
    cJSON* replay = NULL;        /* --replay: the record */
    char* replay_text = NULL;
    const char* replay_hash = NULL;
    /* --profile: milliseconds of each stage (the GPU synchronised) */
    double t_mark = dvren__now_ms(), t_context = 0, t_stages = 0, t_scene = 0, t_fb = 0, t_render = 0, t_read = 0,
           t_write = 0;

    memset(&S, 0, sizeof S);
    memset(&sf, 0, sizeof sf);
    memset(&so, 0, sizeof so);
    so.sh_degree_max = -1;
    if ((rc = dr_parse_args(argc, argv, &o, &describe, &list, &so)) != 0) return rc;
    if (so.path && !list && !describe && !o.check_plugin) return dr_splat_main(&o, &so);
    if (so.all_cameras || so.have_camera || so.lenient || so.alpha_max != 0.0f || so.sh_degree_max >= 0 || so.grid ||
        so.have_look_at || so.have_viewmat || so.have_K || so.have_up || so.fov_deg != 0.0f) {
        fprintf(stderr, "[ERROR] %s: --camera, --all-cameras, --lenient, --alpha-max, --sh-degree-max, --grid, --look-at, "
                        "--up, --fov, --viewmat and --K need --splats FILE\n", o.prog);
        return 2;
    }
    S.scene_name = o.prog;
    rc = 1;
    memset(&cd, 0, sizeof cd);
    cd.log = o.quiet ? NULL : dr_log; /* stderr: stdout holds only the answer */
    cd.log_level = DVREN_LOG_INFO;
    cd.flags = o.log_json ? DVREN_CONTEXT_LOG_JSON : 0u;
    if (o.have_threads) cd.threads = (uint32_t)o.threads;

    if (list || describe || o.check_plugin) {
        if (dvren_context_create(&cd, &S.ctx)) return dr_fail(&S, NULL, "%s", dvren_last_error(NULL));
        if (o.check_plugin) {
            rc = dr_check_plugin(&S, o.check_plugin, o.arch ? o.arch : "sm_86,sm_90");
        } else if (describe) {
            const dvren_plugin_desc* d;
            if (dvren_plugin_find(S.ctx, DVREN_PLUGIN_INVALID, describe, &d)) {
                dr_fail_lib(&S, NULL);
            } else {
                dr_describe(d);
                rc = 0;
            }
        } else {
            /* every library on the search path; those that fail are logged and skipped */
            uint32_t i, failed = 0;
            dvren_plugin_load_all(S.ctx, &failed);
            for (i = 0; i < dvren_plugin_count(S.ctx); ++i) {
                const char* lib;
                const dvren_plugin_desc* d = dvren_plugin_at(S.ctx, i, &lib);
                printf("%-8s %-22s %s\n         %s\n", dvren_plugin_kind_name(d->kind), d->name, lib, d->summary);
            }
            if (failed) fprintf(stderr, "(%u libraries on the search path could not be loaded; see the log above)\n", failed);
            rc = 0;
        }
        dvren_context_destroy(S.ctx);
        return rc;
    }

    if (o.replay) {
        /* the recorded scene, from the recorded folder, on the recorded device */
        char err[256];
        const cJSON *rs, *rd, *rh, *rdev;
        if (o.scene) {
            dr_fail(&S, NULL, "--replay takes no scene file (the record holds the scene)");
            goto done;
        }
        replay_text = dvren_io_read_file(o.replay, (size_t)16 << 20, NULL, err, sizeof err);
        if (!replay_text) {
            fprintf(stderr, "[ERROR] %s: %s\n", o.replay, err);
            goto done;
        }
        replay = cJSON_Parse(replay_text);
        rs = cJSON_GetObjectItemCaseSensitive(replay, "scene");
        rd = cJSON_GetObjectItemCaseSensitive(replay, "dir");
        rh = cJSON_GetObjectItemCaseSensitive(replay, "rgb_fnv1a64");
        rdev = cJSON_GetObjectItemCaseSensitive(replay, "device");
        if (!cJSON_IsObject(rs) || !cJSON_IsString(rd) || !cJSON_IsString(rh) || !cJSON_IsString(rdev)) {
            fprintf(stderr, "[ERROR] %s: not a replay record (needs \"scene\", \"dir\", \"device\" and \"rgb_fnv1a64\"; "
                            "dvren_render --record writes one)\n", o.replay);
            goto done;
        }
        replay_hash = rh->valuestring;
        if (!o.device) o.device = rdev->valuestring;
        if (dvren_scenefile_from_json(&sf, o.replay, rs, rd->valuestring)) {
            fprintf(stderr, "[ERROR] %s\n", sf.error);
            goto done;
        }
    } else if (o.scene ? dvren_scenefile_load(&sf, o.scene)
                       : dvren_scenefile_parse(&sf, "default scene", dr_default_scene, strlen(dr_default_scene), NULL)) {
        fprintf(stderr, "[ERROR] %s\n", sf.error);
        goto done;
    }
    S.scene_name = sf.name;

    /* device: the scene's, overridden by --device; CUDA gets CUDA or an error */
    dev = o.device ? o.device : sf.device;
    if (!strcmp(dev, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    } else if (strcmp(dev, "cpu") != 0) {
        dr_fail(&S, "device", "'%s' is not one of cpu, cuda", dev);
        goto done;
    }
    cd.device_index = o.have_gpu_index ? (uint32_t)o.gpu_index : sf.gpu_index;
    cd.device_name = o.gpu_name ? o.gpu_name : sf.gpu_name;
    cd.min_compute_capability = o.min_cc ? (uint32_t)o.min_cc : sf.gpu_min_cc;
    /* --threads wins, 0 included (all cores) */
    cd.threads = o.have_threads ? (uint32_t)o.threads : sf.threads;
    if (dvren_context_create(&cd, &S.ctx)) {
        /* the library's message names its module ("cuda: ..."): no key of ours before it */
        dr_fail(&S, NULL, "%s", dvren_last_error(NULL));
        goto done;
    }
    t_context = dvren__now_ms() - t_mark;
    t_mark = dvren__now_ms();
    sf.override_width = (uint32_t)o.width;
    sf.override_height = (uint32_t)o.height;
    sf.override_spp = (uint32_t)o.spp;
    sf.override_seed = o.have_seed;
    sf.override_seed_value = (uint64_t)o.seed;
    if (o.gradcheck && !o.width && !o.height) sf.override_width = sf.override_height = 24;
    if (dvren_scenefile_build(&sf, S.ctx)) {
        fprintf(stderr, "[ERROR] %s\n", sf.error);
        goto done;
    }
    pd = sf.plan;
    t_stages = dvren__now_ms() - t_mark;
    if (sf.value_range[1] > sf.value_range[0])
        dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "shader preset placed on the field's value range [%g, %g]",
                  (double)sf.value_range[0], (double)sf.value_range[1]);

    if (o.gradcheck) {
        pd.roi.w = pd.roi.h = 0; /* the whole (small) image */
        rc = dr_gradcheck(&S, &o, sf.field, sf.shader, sf.sampler, &pd);
        goto done;
    }

    /* outputs: checked before rendering so that a bad path costs nothing */
    png = o.png ? o.png : sf.png;
    npy = o.npy ? o.npy : sf.npy;
    if (o.png_bits == 8) o.png_bits = sf.png_bits;
    if (sf.png_alpha) o.png_alpha = 1;
    if (npy) pd.outputs = DVREN_OUTPUT_ALL & ~DVREN_OUTPUT_MEDIAN_DEPTH; /* .npy dumps take every output the march writes */
    if (o.profile) pd.outputs |= DVREN_OUTPUT_SAMPLES; /* the profile counts them */
    if (o.replay && !o.png && !o.npy) png = npy = NULL; /* a replay compares; it writes only what it is asked to */
    if (o.record && !png && !npy) {
        dr_fail(&S, "output", "--record writes beside the output: give output.png, -o or --npy");
        goto done;
    }
    if (o.profile && dr_check_out_dir(&S, o.profile, "--profile")) goto done;
    if (!png && !npy && !o.replay) {
        dr_fail(&S, "output", "nothing to write: give output.png, output.npy, -o or --npy");
        goto done;
    }
    if (!o.scene && !o.png && !dvs__is_dir("out") && dr_mkdir("out") != 0) {
        dr_fail(&S, "output", "cannot create folder 'out': %s", strerror(errno));
        goto done;
    }
    if (png && dr_check_out_dir(&S, png, "output.png")) goto done;
    if (npy && dr_check_out_dir(&S, npy, "output.npy")) goto done;
    if (dr_check_memory(&S, &pd, png ? (o.png_alpha ? 4 : 3) : 0, o.png_bits, npy != NULL)) goto done;

    t_mark = dvren__now_ms();
    {
        dvren_scene_desc sd;
        memset(&sd, 0, sizeof sd);
        sd.field = sf.field;
        sd.shader = sf.shader;
        sd.sampler = sf.sampler;
        if (dvren_scene_create(S.ctx, &sd, &scene)) {
            dr_fail_lib(&S, NULL);
            goto done;
        }
    }
    t_scene = dvren__now_ms() - t_mark; /* includes placing the buffers, and the JIT on a GPU */
    t_mark = dvren__now_ms();
    if (dvren_plan_create(S.ctx, &pd, &plan)) {
        dr_fail_lib(&S, "plan");
        goto done;
    }
    if (dvren_framebuffer_create(S.ctx, plan, &fb)) {
        dr_fail_lib(&S, NULL);
        goto done;
    }
    t_fb = dvren__now_ms() - t_mark;
    memset(&ro, 0, sizeof ro);
    ro.progress = dr_progress;
    ro.progress_user = &S;
    S.progress_tty = o.quiet ? -1 : dr_isatty(stderr);
    S.last_pct = -1;
    S.t0 = dvren__now_ms();
    t_mark = dvren__now_ms();
    if (dvren_render(scene, plan, fb, &ro) || dvren_synchronize(S.ctx)) {
        dr_fail_lib(&S, NULL);
        goto done;
    }
    t_render = dvren__now_ms() - t_mark;
    t_mark = dvren__now_ms();
    {
        dvren_tensor rgb;
        uint64_t h;
        char hex[24];
        if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb)) {
            dr_fail_lib(&S, NULL);
            goto done;
        }
        t_read = dvren__now_ms() - t_mark;
        h = dr_fnv1a64(rgb.data, (size_t)dvren_tensor_numel(&rgb) * sizeof(float));
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
        if (replay_hash) {
            const cJSON* v = cJSON_GetObjectItemCaseSensitive(replay, "dvren");
            char mine[32];
            snprintf(mine, sizeof mine, "%d.%d.%d", DVREN_VERSION_MAJOR, DVREN_VERSION_MINOR, DVREN_VERSION_PATCH);
            if (cJSON_IsString(v) && strcmp(v->valuestring, mine) != 0)
                fprintf(stderr, "replay: recorded with dvren %s, replayed with %s\n", v->valuestring, mine);
            if (!strcmp(hex, replay_hash)) {
                printf("replay: rgb is bitwise the same (fnv1a64 %s, %u x %u, %s)\n", hex, (unsigned)pd.width,
                       (unsigned)pd.height, dev);
            } else {
                printf("replay: rgb DIFFERS (fnv1a64 %s, recorded %s; %u x %u, %s)\n", hex, replay_hash,
                       (unsigned)pd.width, (unsigned)pd.height, dev);
                differs = 1;
            }
        }
        if (o.record && !replay_hash) {
            cJSON* rec = dr_replay_record(&S, &sf, &pd, dev, h);
            char path[DR_PATH];
            int bad;
            snprintf(path, sizeof path, "%s.replay.json", png ? png : npy);
            bad = dr_write_json(&S, path, rec, "--record");
            cJSON_Delete(rec);
            if (bad) goto done;
            snprintf(written[nwritten++], DR_PATH, "%s", path);
        }
    }
    t_mark = dvren__now_ms();

    if (png) {
        dvren_tensor rgb, alpha;
        if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb) || dvren_framebuffer_output(fb, DVREN_OUTPUT_ALPHA, &alpha) ||
            dvren_image_write_png(S.ctx, png, (const float*)rgb.data, o.png_alpha ? (const float*)alpha.data : NULL,
                                  pd.width, pd.height, o.png_bits)) {
            dr_fail_lib(&S, "output.png");
            goto done;
        }
        snprintf(written[nwritten++], DR_PATH, "%s", png);
        dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s (%d-bit %s)", png, o.png_bits, o.png_alpha ? "RGBA" : "RGB");
    }
    if (npy) {
        uint32_t bit;
        for (bit = 1; bit & DVREN_OUTPUT_ALL; bit <<= 1) {
            dvren_tensor t;
            char path[DR_PATH];
            if (!(pd.outputs & bit)) continue;
            snprintf(path, sizeof path, "%s_%s.npy", npy, dvren_output_name(bit));
            if (dvren_framebuffer_output(fb, bit, &t) || dvren_tensor_save_npy(S.ctx, &t, path)) {
                dr_fail_lib(&S, "output.npy");
                goto done;
            }
            snprintf(written[nwritten++], DR_PATH, "%s", path);
        }
        dvren_log(S.ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "wrote %s_<output>.npy for the plan's outputs", npy);
    }
    t_write = dvren__now_ms() - t_mark;
    if (o.profile) {
        /* per-stage milliseconds, the work done, and the peaks */
        cJSON *pr = cJSON_CreateObject(), *st = cJSON_CreateObject();
        dvren_tensor smp;
        double samples = 0.0, rays = (double)pd.roi.w * pd.roi.h * (pd.spp ? pd.spp : 1);
        uint64_t i, n;
        int bad;
        if (!pd.roi.w) rays = (double)pd.width * pd.height * (pd.spp ? pd.spp : 1);
        if (dvren_framebuffer_output(fb, DVREN_OUTPUT_SAMPLES, &smp) == DVREN_OK)
            for (i = 0, n = (uint64_t)dvren_tensor_numel(&smp); i < n; ++i) samples += ((const uint32_t*)smp.data)[i];
        cJSON_AddStringToObject(pr, "scene", sf.name ? sf.name : "");
        cJSON_AddStringToObject(pr, "device", dev);
        if (dvren_context_device(S.ctx) == DVREN_DEVICE_CUDA) {
            dvren_cuda_info ci;
            dvren_cuda_memory cm;
            if (dvren_cuda_get_info(S.ctx, &ci) == DVREN_OK) cJSON_AddStringToObject(pr, "gpu", ci.device_name);
            if (dvren_cuda_memory_stats(S.ctx, &cm) == DVREN_OK) cJSON_AddNumberToObject(pr, "peak_device_bytes", (double)cm.peak);
        }
        cJSON_AddNumberToObject(pr, "threads", dvren_context_threads(S.ctx));
        cJSON_AddNumberToObject(pr, "width", pd.width);
        cJSON_AddNumberToObject(pr, "height", pd.height);
        cJSON_AddNumberToObject(pr, "spp", pd.spp ? pd.spp : 1);
        cJSON_AddNumberToObject(st, "context", t_context);
        cJSON_AddNumberToObject(st, "stages", t_stages);
        cJSON_AddNumberToObject(st, "scene", t_scene);
        cJSON_AddNumberToObject(st, "framebuffer", t_fb);
        cJSON_AddNumberToObject(st, "render", t_render);
        cJSON_AddNumberToObject(st, "readback", t_read);
        cJSON_AddNumberToObject(st, "write", t_write);
        cJSON_AddItemToObject(pr, "stages_ms", st);
        cJSON_AddStringToObject(pr, "stages_note",
                                "context: device and driver; stages: plugins loaded, files read, instances created; "
                                "scene: buffers placed (uploaded) and kernels compiled; render: until the device is done");
        cJSON_AddNumberToObject(pr, "rays", rays);
        cJSON_AddNumberToObject(pr, "samples", samples);
        cJSON_AddNumberToObject(pr, "rays_per_s", t_render > 0 ? rays / (t_render * 1e-3) : 0.0);
        cJSON_AddNumberToObject(pr, "samples_per_s", t_render > 0 ? samples / (t_render * 1e-3) : 0.0);
        cJSON_AddNumberToObject(pr, "peak_host_bytes", dr_peak_host_bytes());
        bad = dr_write_json(&S, o.profile, pr, "--profile");
        cJSON_Delete(pr);
        if (bad) goto done;
        snprintf(written[nwritten++], DR_PATH, "%s", o.profile);
    }
    rc = differs ? 3 : 0;
done:
    /* all or nothing: a failed run removes what it wrote */
    if (rc != 0)
        for (k = 0; k < nwritten; ++k) remove(written[k]);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(scene);
    dvren_scenefile_free(&sf);
    dvren_context_destroy(S.ctx);
    cJSON_Delete(replay);
    free(replay_text);
    return rc;
}
