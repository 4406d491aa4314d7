/* bench/meshes.c - dvren's side of the marching-cubes benchmark (issue 15,
 * "Targets"; bench/meshes.sh runs it on the GPU machine beside warp-lang
 * and scikit-image, bench/meshes_peer.py, which reads the same grids).
 *
 *   build-gpu/bench_meshes --inputs DIR [--grids a,b] [--device cpu,cuda]
 *       [--iters 10] [--warmup 3] [--cpu-iters 3] [--threads 0]
 *       [--one-thread-iters 2] [--cpu-no-normals 0] [--budget-s 30]
 *
 * The grids: DIR/inputs.json, written by `bench/meshes_peer.py inputs`
 * (its header defines them), lists each grid's .npy file (float32, (Z, Y,
 * X), x fastest), level, origin and spacing; this program reads the list
 * with a small scanner of that one file's layout (one grid object per
 * entry, keys "name", "file", "level", "origin", "spacing") and each grid
 * with tools/dvren_npy.h.
 *
 * Per grid and device, dvren_marching_cubes(grid, {level, origin, spacing})
 * (inside = value > level, the default) is called --warmup times untimed,
 * then --iters times (--cpu-iters on the CPU, after at most one warm-up
 * call), stopping early once the timed calls of a variant pass --budget-s
 * seconds (at least one), each call followed by dvren_mesh_free; on the GPU
 * in two variants: with normals (the default) and with DVREN_MC_NO_NORMALS
 * (warp-lang computes none); on the CPU with normals (scikit-image computes
 * them), and without too when --cpu-no-normals 1. Reported: the medians and
 * the fastest of the stats' ms_device (the extraction's launches, vertex
 * dedup included: device events on a GPU, the wall clock on the CPU) and
 * ms_total (the whole call, the mesh copied to host memory), and of the
 * wall clock around the call. The CPU context has --threads workers (0:
 * all cores); with --one-thread-iters > 0 a second CPU context of one
 * thread is timed as well, without warm-up (scikit-image runs on one). On a CUDA context the
 * grid lives in device memory, uploaded once before the timing.
 *
 * The mesh checks (bench/meshes_peer.py's header; the same definitions for
 * every side): degenerate triangles (two equal indices) are counted and
 * left out; the other triangles' edges are keyed by (min, max) vertex index
 * and a direction bit, sorted (LSD radix sort): an edge used by one
 * triangle is a boundary edge, by three or more non-manifold, by two in the
 * same direction misoriented; euler = V - E + F.
 * CPU against GPU (and all CPU threads against one): the counts and every
 * byte of positions, normals and triangles compared (the meshes of the
 * with-normals variant), and the largest position difference in world
 * units when they differ.
 *
 * Prints JSON lines on stdout, one per (grid, device, variant):
 *   {"impl": "dvren", "device": "cuda"|"cpu", "threads_label": ""|"1",
 *    "threads", "grid", "shape": [Z, Y, X], "level", "normals": true|false,
 *    "ms_device", "ms_device_min", "ms_total", "ms_total_min", "ms_wall",
 *    "ms_wall_min", "iters", "warmup", "vertices", "triangles",
 *    "active_cells", "tri_per_s" (triangles / median ms_device),
 *    "tri_per_s_total" (/ median ms_total), "degenerate_triangles",
 *    "boundary_edges", "nonmanifold_edges", "misoriented_edges", "edges",
 *    "euler", "bounds": [[x, y, z], [x, y, z]]}
 * and per grid {"impl": "dvren", "check": "cpu_vs_gpu", "grid", "identical",
 *    "same_counts", "positions_equal", "normals_equal", "triangles_equal",
 *    "max_position_diff", "a_vertices", "b_vertices", "a_triangles",
 *    "b_triangles"} (a: the CPU's mesh), and the same with "check":
 *    "cpu_vs_cpu1" (all cores against one thread) where one thread ran.
 * A failure is {"impl": "dvren", "device", "grid", "error": "..."} and exit
 * status 1 at the end (the other grids and devices still run); bad usage:
 * exit status 2. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_IO_IMPLEMENTATION
#include "dvren_io.h"
#define DVREN_NPY_IMPLEMENTATION
#include "dvren_npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BM_MAX_GRIDS 32
#define BM_MAX_ITERS 1000

typedef struct bm_grid {
    char name[64], file[4096];
    float level, origin[3], spacing[3];
} bm_grid;

typedef struct bm_checks {
    uint64_t degenerate, boundary, nonmanifold, misoriented, edges;
    int64_t euler;
} bm_checks;

static int bm_rc = 0;

/* A JSON string body: the message with '"', '\\' escaped and controls blanked. */
static void bm_puts_json(const char* s)
{
    for (; *s; ++s) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar((unsigned char)*s < 0x20 ? ' ' : *s);
    }
}

static void bm_error(const char* device, const char* grid, const char* msg)
{
    printf("{\"impl\": \"dvren\", \"device\": \"%s\", \"grid\": \"%s\", \"error\": \"", device, grid);
    bm_puts_json(msg);
    printf("\"}\n");
    fflush(stdout);
    fprintf(stderr, "bench_meshes: %s %s: %s\n", grid, device, msg);
    bm_rc = 1;
}

static int bm_cmp(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n-1] (sorts v); *mn gets the smallest. */
static double bm_median(double* v, int n, double* mn)
{
    qsort(v, (size_t)n, sizeof *v, bm_cmp);
    *mn = v[0];
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- inputs.json: a scanner for the layout meshes_peer.py writes ---- */

/* The JSON string value after "key": within [p, end), copied into out;
 * returns 0 or -1. */
static int bm_json_str(const char* p, const char* end, const char* key, char* out, size_t cap)
{
    char pat[64];
    const char* q;
    size_t n = 0;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    q = strstr(p, pat);
    if (!q || q >= end) return -1;
    q = strchr(q + strlen(pat), '"');
    if (!q || q >= end) return -1;
    for (++q; *q && *q != '"' && q < end; ++q) {
        if (*q == '\\') return -1; /* no escapes in our own paths */
        if (n + 1 >= cap) return -1;
        out[n++] = *q;
    }
    out[n] = 0;
    return *q == '"' ? 0 : -1;
}

/* count numbers after "key": (one number, or an array of count) */
static int bm_json_nums(const char* p, const char* end, const char* key, float* out, int count)
{
    char pat[64], *e;
    const char* q;
    int i;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    q = strstr(p, pat);
    if (!q || q >= end) return -1;
    q += strlen(pat);
    for (i = 0; i < count; ++i) {
        while (q < end && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '[' || *q == ',')) ++q;
        if (q >= end) return -1;
        out[i] = (float)strtod(q, &e);
        if (e == q || !isfinite(out[i])) return -1;
        q = e;
    }
    return 0;
}

static int bm_read_inputs(const char* dir, const char* only, bm_grid* grids, int* count, char* err, size_t cap)
{
    char path[4096], ioerr[512];
    size_t n;
    char *text, *p;
    *count = 0;
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    text = dvren_io_read_file(path, 1 << 20, &n, ioerr, sizeof ioerr);
    if (!text) {
        snprintf(err, cap, "%s: %s (run bench/meshes_peer.py inputs first)", path, ioerr);
        return -1;
    }
    for (p = strstr(text, "\"name\":"); p; p = strstr(p + 1, "\"name\":")) {
        char* end = strstr(p + 1, "\"name\":");
        bm_grid g;
        if (!end) end = text + n;
        memset(&g, 0, sizeof g);
        if (bm_json_str(p, end, "name", g.name, sizeof g.name) || bm_json_str(p, end, "file", g.file, sizeof g.file) ||
            bm_json_nums(p, end, "level", &g.level, 1) || bm_json_nums(p, end, "origin", g.origin, 3) ||
            bm_json_nums(p, end, "spacing", g.spacing, 3)) {
            snprintf(err, cap, "%s: grid %d: name, file, level, origin or spacing missing or malformed", path, *count);
            free(text);
            return -1;
        }
        if (only && *only) {
            /* a comma-separated list of names */
            const char* q = only;
            size_t ln = strlen(g.name);
            int hit = 0;
            while (*q) {
                const char* c = strchr(q, ',');
                size_t l = c ? (size_t)(c - q) : strlen(q);
                if (l == ln && !strncmp(q, g.name, l)) hit = 1;
                q += l + (c ? 1 : 0);
            }
            if (!hit) continue;
        }
        if (*count >= BM_MAX_GRIDS) break;
        grids[(*count)++] = g;
    }
    free(text);
    if (!*count) {
        snprintf(err, cap, "%s: no grid%s%s", path, only && *only ? " named in --grids: " : "", only ? only : "");
        return -1;
    }
    return 0;
}

/* The grid's samples as a contiguous float32 host array (malloc); shape (Z, Y, X). */
static float* bm_load_npy(const char* file, int64_t shape[3], char* err, size_t cap)
{
    char ioerr[512];
    size_t n;
    char* bytes = dvren_io_read_file(file, (size_t)4 << 30, &n, ioerr, sizeof ioerr);
    dvren_npy_array a;
    float* out;
    if (!bytes) {
        snprintf(err, cap, "%s: %s", file, ioerr);
        return NULL;
    }
    if (dvren_npy_parse_header(&a, bytes, n, file) || dvren_npy_check_data(&a)) {
        snprintf(err, cap, "%s", a.error);
        free(bytes);
        return NULL;
    }
    if (a.dtype != DVREN_NPY_F32 || a.ndim != 3 || a.shape[0] < 2 || a.shape[1] < 2 || a.shape[2] < 2) {
        snprintf(err, cap, "%s: expected float32 ('<f4') of shape (Z, Y, X), each >= 2; got %s with %u dimensions",
                 file, a.descr, (unsigned)a.ndim);
        free(bytes);
        return NULL;
    }
    out = (float*)malloc((size_t)a.count * sizeof(float));
    if (!out) {
        snprintf(err, cap, "%s: out of memory", file);
        free(bytes);
        return NULL;
    }
    memcpy(out, a.data, (size_t)a.count * sizeof(float)); /* little-endian hosts only, as the .npy reader */
    shape[0] = (int64_t)a.shape[0];
    shape[1] = (int64_t)a.shape[1];
    shape[2] = (int64_t)a.shape[2];
    free(bytes);
    return out;
}

/* ---- the mesh checks ---- */

/* Sorts n keys in place (LSD radix, 16-bit digits; tmp holds n). */
static void bm_radix_sort(uint64_t* k, uint64_t* tmp, size_t n)
{
    static size_t cnt[65536];
    int pass;
    for (pass = 0; pass < 4; ++pass) {
        unsigned sh = 16u * (unsigned)pass;
        size_t i, sum = 0;
        uint64_t* t;
        memset(cnt, 0, sizeof cnt);
        for (i = 0; i < n; ++i) ++cnt[(k[i] >> sh) & 0xFFFF];
        for (i = 0; i < 65536; ++i) {
            size_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; ++i) tmp[cnt[(k[i] >> sh) & 0xFFFF]++] = k[i];
        t = k;
        k = tmp;
        tmp = t;
    }
    /* four passes: the sorted keys are back in the caller's k */
}

static int bm_check_mesh(const dvren_mesh* m, bm_checks* c)
{
    size_t t, n = 0, i, T = m->triangle_count;
    uint64_t *k = (uint64_t*)malloc(3 * T * sizeof(uint64_t) + 1), *tmp = (uint64_t*)malloc(3 * T * sizeof(uint64_t) + 1);
    memset(c, 0, sizeof *c);
    if (!k || !tmp) {
        free(k);
        free(tmp);
        return -1;
    }
    for (t = 0; t < T; ++t) {
        const uint32_t* v = m->triangles + 3 * t;
        int e;
        if (v[0] == v[1] || v[1] == v[2] || v[0] == v[2]) {
            ++c->degenerate;
            continue;
        }
        for (e = 0; e < 3; ++e) {
            uint64_t a = v[e], b = v[(e + 1) % 3];
            uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
            k[n++] = ((lo << 31 | hi) << 1) | (a < b); /* indices < 2^31: 63 bits */
        }
    }
    bm_radix_sort(k, tmp, n);
    for (i = 0; i < n;) {
        size_t j = i, fwd = 0;
        while (j < n && (k[j] >> 1) == (k[i] >> 1)) fwd += k[j++] & 1;
        ++c->edges;
        if (j - i == 1) ++c->boundary;
        else if (j - i > 2) ++c->nonmanifold;
        else if (fwd != 1) ++c->misoriented;
        i = j;
    }
    c->euler = (int64_t)m->vertex_count - (int64_t)c->edges + (int64_t)(T - c->degenerate);
    free(k);
    free(tmp);
    return 0;
}

/* ---- one device ---- */

typedef struct bm_run {
    dvren_context* ctx;
    const char* device; /* "cpu", "cuda" */
    const char* label;  /* "" or "1" (one thread) */
    dvren_tensor grid;  /* host or device */
} bm_run;

/* Times one variant; prints its line. keep: the last mesh is left in *keep
 * (else freed). Returns 0, or -1 after printing the error line. */
static int bm_time(bm_run* r, const bm_grid* g, const int64_t shape[3], int normals, int iters, int warmup,
                   double budget_ms, dvren_mesh* keep)
{
    dvren_mc_options o;
    dvren_mc_stats st;
    dvren_mesh m;
    double td[BM_MAX_ITERS], tt[BM_MAX_ITERS], tw[BM_MAX_ITERS], md, mdn, mt, mtn, mw, mwn;
    bm_checks c;
    float lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    int it, k, done = 0;
    uint32_t v;
    char dev[32];
    double spent = 0;
    snprintf(dev, sizeof dev, "%s%s%s", r->device, *r->label ? "/" : "", r->label);
    memset(&o, 0, sizeof o);
    o.level = g->level;
    for (k = 0; k < 3; ++k) {
        o.origin[k] = g->origin[k];
        o.spacing[k] = g->spacing[k];
    }
    o.flags = normals ? 0u : DVREN_MC_NO_NORMALS;
    memset(&m, 0, sizeof m);
    for (it = -warmup; it < iters; ++it) {
        double t0;
        dvren_mesh_free(r->ctx, &m);
        memset(&st, 0, sizeof st);
        t0 = dvren__now_ms();
        if (dvren_marching_cubes(r->ctx, &r->grid, &o, &m, &st) != DVREN_OK) {
            bm_error(dev, g->name, dvren_last_error(r->ctx));
            dvren_mesh_free(r->ctx, &m);
            return -1;
        }
        if (it >= 0) {
            tw[it] = dvren__now_ms() - t0;
            td[it] = st.ms_device;
            tt[it] = st.ms_total;
            done = it + 1;
            spent += tw[it];
            if (spent > budget_ms) break; /* --budget-s: at least one timed call */
        }
    }
    md = bm_median(td, done, &mdn);
    mt = bm_median(tt, done, &mtn);
    mw = bm_median(tw, done, &mwn);
    if (bm_check_mesh(&m, &c)) {
        bm_error(dev, g->name, "out of memory (edge checks)");
        dvren_mesh_free(r->ctx, &m);
        return -1;
    }
    for (v = 0; v < m.vertex_count; ++v)
        for (k = 0; k < 3; ++k) {
            float x = m.positions[3 * (size_t)v + k];
            if (!v || x < lo[k]) lo[k] = x;
            if (!v || x > hi[k]) hi[k] = x;
        }
    printf("{\"impl\": \"dvren\", \"device\": \"%s\", \"threads_label\": \"%s\", \"threads\": %u, \"grid\": \"%s\", "
           "\"shape\": [%lld, %lld, %lld], \"level\": %.9g, \"normals\": %s, \"ms_device\": %.4f, "
           "\"ms_device_min\": %.4f, \"ms_total\": %.4f, \"ms_total_min\": %.4f, \"ms_wall\": %.4f, "
           "\"ms_wall_min\": %.4f, \"iters\": %d, \"warmup\": %d, \"vertices\": %u, \"triangles\": %u, "
           "\"active_cells\": %llu, \"tri_per_s\": %.6g, \"tri_per_s_total\": %.6g, \"degenerate_triangles\": %llu, "
           "\"boundary_edges\": %llu, \"nonmanifold_edges\": %llu, \"misoriented_edges\": %llu, \"edges\": %llu, "
           "\"euler\": %lld, \"bounds\": [[%.9g, %.9g, %.9g], [%.9g, %.9g, %.9g]]}\n",
           r->device, r->label, (unsigned)(strcmp(r->device, "cpu") ? 0u : dvren_context_threads(r->ctx)), g->name,
           (long long)shape[0], (long long)shape[1], (long long)shape[2], (double)g->level, normals ? "true" : "false",
           md, mdn, mt, mtn, mw, mwn, done, warmup, (unsigned)m.vertex_count, (unsigned)m.triangle_count,
           (unsigned long long)st.active_cells, md > 0 ? m.triangle_count / (md * 1e-3) : 0.0,
           mt > 0 ? m.triangle_count / (mt * 1e-3) : 0.0, (unsigned long long)c.degenerate,
           (unsigned long long)c.boundary, (unsigned long long)c.nonmanifold, (unsigned long long)c.misoriented,
           (unsigned long long)c.edges, (long long)c.euler, (double)lo[0], (double)lo[1], (double)lo[2], (double)hi[0],
           (double)hi[1], (double)hi[2]);
    fflush(stdout);
    if (keep) *keep = m;
    else dvren_mesh_free(r->ctx, &m);
    return 0;
}

static void bm_compare(const char* grid, const char* check, const dvren_mesh* a, const dvren_mesh* b)
{
    int same = a->vertex_count == b->vertex_count && a->triangle_count == b->triangle_count;
    size_t nv = (size_t)a->vertex_count * 3, nt = (size_t)a->triangle_count * 3, i;
    int pe = same && (!nv || !memcmp(a->positions, b->positions, nv * sizeof(float)));
    int ne = same && ((!a->normals && !b->normals) ||
                      (a->normals && b->normals && (!nv || !memcmp(a->normals, b->normals, nv * sizeof(float)))));
    int te = same && (!nt || !memcmp(a->triangles, b->triangles, nt * sizeof(uint32_t)));
    double dmax = 0;
    if (same && !pe)
        for (i = 0; i < nv; ++i) {
            double d = fabs((double)a->positions[i] - (double)b->positions[i]);
            if (d > dmax) dmax = d;
        }
    printf("{\"impl\": \"dvren\", \"check\": \"%s\", \"grid\": \"%s\", \"identical\": %s, \"same_counts\": %s, "
           "\"positions_equal\": %s, \"normals_equal\": %s, \"triangles_equal\": %s, \"max_position_diff\": %.9g, "
           "\"a_vertices\": %u, \"b_vertices\": %u, \"a_triangles\": %u, \"b_triangles\": %u}\n",
           check, grid, same && pe && ne && te ? "true" : "false", same ? "true" : "false", pe ? "true" : "false",
           ne ? "true" : "false", te ? "true" : "false", dmax, (unsigned)a->vertex_count, (unsigned)b->vertex_count,
           (unsigned)a->triangle_count, (unsigned)b->triangle_count);
    fflush(stdout);
}

static int bm_usage(void)
{
    fprintf(stderr, "usage: bench_meshes --inputs DIR [--grids a,b] [--device cpu,cuda] [--iters 10] [--warmup 3]\n"
                    "                    [--cpu-iters 3] [--threads 0] [--one-thread-iters 2] [--cpu-no-normals 0|1]\n"
                    "                    [--budget-s 30]\n");
    return 2;
}

int main(int argc, char** argv)
{
    const char *inputs = NULL, *only = "", *devices = "cpu,cuda";
    int iters = 10, warmup = 3, cpu_iters = 3, one_iters = 2, threads = 0, cpu_no_normals = 0, i, gi, want_cpu, want_gpu;
    double budget_ms = 30000;
    bm_grid grids[BM_MAX_GRIDS];
    int ngrids;
    char err[8192];
    dvren_context *cpu = NULL, *cpu1 = NULL, *gpu = NULL;
    dvren_context_desc cd;

    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return bm_usage();
        ++i;
        if (!strcmp(a, "--inputs")) inputs = v;
        else if (!strcmp(a, "--grids")) only = v;
        else if (!strcmp(a, "--device")) devices = v;
        else if (!strcmp(a, "--iters")) iters = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--cpu-iters")) cpu_iters = atoi(v);
        else if (!strcmp(a, "--one-thread-iters")) one_iters = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--cpu-no-normals")) cpu_no_normals = atoi(v);
        else if (!strcmp(a, "--budget-s")) budget_ms = 1000.0 * atof(v);
        else return bm_usage();
    }
    if (!inputs || iters < 1 || iters > BM_MAX_ITERS || cpu_iters < 1 || cpu_iters > BM_MAX_ITERS || one_iters < 0 ||
        one_iters > BM_MAX_ITERS || warmup < 0 || threads < 0 || threads > 1024 || !(budget_ms > 0))
        return bm_usage();
    want_cpu = strstr(devices, "cpu") != NULL;
    want_gpu = strstr(devices, "cuda") != NULL;
    if (!want_cpu && !want_gpu) return bm_usage();
    if (bm_read_inputs(inputs, only, grids, &ngrids, err, sizeof err)) {
        bm_error("-", "-", err);
        return 1;
    }

    if (want_cpu) {
        memset(&cd, 0, sizeof cd);
        cd.threads = (uint32_t)threads;
        if (dvren_context_create(&cd, &cpu) != DVREN_OK) bm_error("cpu", *only ? only : "-", dvren_last_error(NULL));
        if (one_iters > 0) {
            cd.threads = 1;
            if (dvren_context_create(&cd, &cpu1) != DVREN_OK) bm_error("cpu/1", *only ? only : "-", dvren_last_error(NULL));
        }
    }
    if (want_gpu) {
        memset(&cd, 0, sizeof cd);
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
        if (dvren_context_create(&cd, &gpu) != DVREN_OK) bm_error("cuda", *only ? only : "-", dvren_last_error(NULL));
    }

    for (gi = 0; gi < ngrids; ++gi) {
        const bm_grid* g = &grids[gi];
        int64_t shape[3];
        float* host = bm_load_npy(g->file, shape, err, sizeof err);
        dvren_mesh mc, mg, m1;
        int have_c = 0, have_g = 0, have_1 = 0;
        memset(&mc, 0, sizeof mc);
        memset(&m1, 0, sizeof m1);
        memset(&mg, 0, sizeof mg);
        if (!host) {
            bm_error("-", g->name, err);
            continue;
        }
        fprintf(stderr, "bench_meshes: %s (%lld x %lld x %lld, level %g)\n", g->name, (long long)shape[2],
                (long long)shape[1], (long long)shape[0], (double)g->level);
        if (cpu) {
            bm_run r;
            r.ctx = cpu;
            r.device = "cpu";
            r.label = "";
            if (dvren_tensor_wrap(host, DVREN_DTYPE_F32, 3, shape, NULL, &r.grid) != DVREN_OK)
                bm_error("cpu", g->name, dvren_last_error(NULL));
            else {
                have_c = !bm_time(&r, g, shape, 1, cpu_iters, warmup > 1 ? 1 : warmup, budget_ms, &mc);
                if (cpu_no_normals) bm_time(&r, g, shape, 0, cpu_iters, warmup > 1 ? 1 : warmup, budget_ms, NULL);
                if (cpu1) {
                    r.ctx = cpu1;
                    r.label = "1";
                    have_1 = !bm_time(&r, g, shape, 1, one_iters, 0, budget_ms, &m1);
                    if (have_c && have_1) bm_compare(g->name, "cpu_vs_cpu1", &mc, &m1);
                    if (have_1) dvren_mesh_free(cpu1, &m1);
                }
            }
        }
        if (gpu) {
            bm_run r;
            dvren_tensor h;
            r.ctx = gpu;
            r.device = "cuda";
            r.label = "";
            memset(&r.grid, 0, sizeof r.grid);
            if (dvren_tensor_wrap(host, DVREN_DTYPE_F32, 3, shape, NULL, &h) != DVREN_OK ||
                dvren_cuda_tensor_create(gpu, DVREN_DTYPE_F32, 3, shape, &r.grid) != DVREN_OK ||
                dvren_cuda_copy(gpu, &r.grid, &h) != DVREN_OK || dvren_synchronize(gpu) != DVREN_OK)
                bm_error("cuda", g->name, dvren_last_error(gpu));
            else {
                have_g = !bm_time(&r, g, shape, 1, iters, warmup, budget_ms, &mg);
                bm_time(&r, g, shape, 0, iters, warmup, budget_ms, NULL);
            }
            dvren_tensor_destroy(gpu, &r.grid);
        }
        if (have_c && have_g) bm_compare(g->name, "cpu_vs_gpu", &mc, &mg);
        if (have_c) dvren_mesh_free(cpu, &mc);
        if (have_g) dvren_mesh_free(gpu, &mg);
        free(host);
    }
    dvren_context_destroy(gpu);
    dvren_context_destroy(cpu1);
    dvren_context_destroy(cpu);
    return bm_rc;
}
