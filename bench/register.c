/* bench/register.c - dvren's side of the registration benchmark (issue 13,
 * "Targets"; bench/register.sh runs it on the GPU machine beside the peers
 * of bench/register_peers.py, on the images of bench/register_gen.py).
 *
 *   build/bench_register --dir OUT/WxH [--device cpu|cuda] [--kind grey,bayer]
 *                        [--method upsampled,parabolic,integer] [--upsample 100]
 *                        [--window hann|none] [--reps 3] [--memory-limit BYTES]
 *                        [--threads 0] [--label TEXT] [--verbose]
 *
 * Reads one size's folder: truth.csv (index, true_y, true_x, expected_dy,
 * expected_dx) and, per kind, <kind>_ref.npy and <kind>_mov_<i>.npy, (H, W)
 * uint16 (tools/dvren_npy.h): "grey" images (no CFA) and "bayer" GRBG
 * mosaics (cfa GRBG: four planes of H/2 x W/2, combined by dvren_register).
 * For each kind and method it creates the "phase_correlation"
 * registration model (DVREN_PLUGIN_REGISTRATION; parameters method,
 * upsample, window), calls dvren_register on the images in host memory
 * once as a warm-up (plans, kernels, the memory pool) and then --reps
 * times, each timed on the wall clock from the call to its return plus
 * dvren_synchronize: host-to-device copies and the results' way back
 * included, file reading excluded (the files are read once, before). The
 * figure is the median.
 *
 * One JSON line per kind and method on stdout, with the keys of
 * bench/register_peers.py (which prints the table of both): rms_px and
 * max_px, the Euclidean error of (dy, dx) against the expected shift over
 * the moving images (dvren's sign convention, dvren.h >>register:
 * expected = -true shift); mp_per_s = (1 + count) x megapixels / median
 * seconds; peak_device_bytes, dvren_register_report.peak_bytes on a GPU
 * (null on the CPU, where it is "peak_work_bytes"); mem_info_delta_bytes,
 * on a GPU the drop of cuMemGetInfo's free memory from before the stage
 * was created (the pool trimmed) to after the last call (what the stage,
 * its plans and the pool's cached blocks hold then; a transient peak
 * freed inside the call is not seen there); batch, batches, limit_bytes
 * from the report. --verbose adds one line per image before the row
 * ("image": i, the combined shift, its error, peak, confidence, the CFA-
 * aligned shift and the planes' shifts) and dvren's log on stderr.
 *
 * --memory-limit sets dvren_register_input.memory_limit (0: what is
 * free), to show the batching. Exit status 0 when every row was measured,
 * 1 when one failed (its line then has "error"), 2 on bad usage. */
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
#include <time.h>

#define BR_MAX_IMAGES 64
#define BR_MAX_REPS 100

/* One kind's images, as read: the files' bytes and the pixels inside them. */
typedef struct br_images {
    char* bytes[BR_MAX_IMAGES + 1]; /* [0] the reference, then the moving images */
    const void* pixels[BR_MAX_IMAGES + 1];
    uint32_t width, height, count; /* count: moving images */
} br_images;

typedef struct br_truth {
    double dy[BR_MAX_IMAGES], dx[BR_MAX_IMAGES]; /* expected shifts (registration convention) */
    uint32_t count;
} br_truth;

static double br_now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int br_cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* Reads dir/truth.csv: a header line, then "index,true_y,true_x,expected_dy,expected_dx"
 * rows with index 0, 1, 2, ... Returns 0, or 1 with a message naming the file and line. */
static int br_read_truth(const char* dir, br_truth* t)
{
    char path[4096], line[512];
    FILE* f;
    unsigned lineno = 1;
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_register: %s: cannot open (run bench/register_gen.py first)\n", path);
        return 1;
    }
    memset(t, 0, sizeof *t);
    if (!fgets(line, sizeof line, f) || strncmp(line, "index,", 6) != 0) {
        fprintf(stderr, "bench_register: %s: line 1: expected the header 'index,true_y,true_x,expected_dy,expected_dx'\n",
                path);
        fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        int idx;
        double ty, tx, ey, ex;
        ++lineno;
        if (line[0] == '\n' || line[0] == 0) continue;
        if (sscanf(line, "%d,%lf,%lf,%lf,%lf", &idx, &ty, &tx, &ey, &ex) != 5 || idx != (int)t->count ||
            !isfinite(ey) || !isfinite(ex)) {
            fprintf(stderr, "bench_register: %s: line %u: expected '%u,<true_y>,<true_x>,<expected_dy>,<expected_dx>'\n",
                    path, lineno, (unsigned)t->count);
            fclose(f);
            return 1;
        }
        if (t->count == BR_MAX_IMAGES) {
            fprintf(stderr, "bench_register: %s: more than %d moving images\n", path, BR_MAX_IMAGES);
            fclose(f);
            return 1;
        }
        t->dy[t->count] = ey;
        t->dx[t->count] = ex;
        t->count++;
    }
    fclose(f);
    if (t->count == 0) {
        fprintf(stderr, "bench_register: %s: no rows\n", path);
        return 1;
    }
    return 0;
}

static void br_free_images(br_images* im)
{
    uint32_t i;
    for (i = 0; i <= BR_MAX_IMAGES; ++i) free(im->bytes[i]);
    memset(im, 0, sizeof *im);
}

/* Reads dir/<kind>_ref.npy and <kind>_mov_<i>.npy (i < count): 2-D uint16
 * of one size. Returns 0, or 1 with a message naming the file and field. */
static int br_read_images(const char* dir, const char* kind, uint32_t count, br_images* im)
{
    uint32_t i;
    memset(im, 0, sizeof *im);
    im->count = count;
    for (i = 0; i <= count; ++i) {
        char path[4096], err[256];
        size_t n = 0;
        dvren_npy_array a;
        if (i == 0) snprintf(path, sizeof path, "%s/%s_ref.npy", dir, kind);
        else snprintf(path, sizeof path, "%s/%s_mov_%u.npy", dir, kind, (unsigned)(i - 1));
        im->bytes[i] = dvren_io_read_file(path, (size_t)1 << 33, &n, err, sizeof err);
        if (!im->bytes[i]) {
            fprintf(stderr, "bench_register: %s: %s\n", path, err);
            goto fail;
        }
        if (dvren_npy_parse_header(&a, im->bytes[i], n, path) != 0 || dvren_npy_check_data(&a) != 0) {
            fprintf(stderr, "bench_register: %s\n", a.error);
            goto fail;
        }
        if (a.dtype != DVREN_NPY_U16 || a.ndim != 2 || a.shape[0] < 2 || a.shape[1] < 2 || a.shape[0] > 65536 ||
            a.shape[1] > 65536) {
            fprintf(stderr, "bench_register: %s: descr/shape: %s of %u dimensions; a 2-D '<u2' image (H, W) of at most "
                            "65536 x 65536 expected\n",
                    path, a.descr, (unsigned)a.ndim);
            goto fail;
        }
        if (i == 0) {
            im->height = (uint32_t)a.shape[0];
            im->width = (uint32_t)a.shape[1];
        } else if (a.shape[0] != im->height || a.shape[1] != im->width) {
            fprintf(stderr, "bench_register: %s: shape: (%llu, %llu), the reference is (%u, %u)\n", path,
                    (unsigned long long)a.shape[0], (unsigned long long)a.shape[1], (unsigned)im->height,
                    (unsigned)im->width);
            goto fail;
        }
        im->pixels[i] = a.data;
    }
    return 0;
fail:
    br_free_images(im);
    return 1;
}

typedef struct br_options {
    const char* device;
    int gpu, reps, verbose;
    uint32_t upsample;
    const char* window;
    const char* label;
    uint64_t memory_limit;
} br_options;

/* Prints a row that could not be measured. */
static void br_print_failure(const br_images* im, const char* kind, const char* method, const br_options* o,
                             const char* what, dvren_context* ctx)
{
    const char* msg = dvren_last_error(ctx);
    char clean[1024];
    size_t i, j = 0;
    for (i = 0; msg[i] && j + 2 < sizeof clean; ++i) {
        if (msg[i] == '"' || msg[i] == '\\') clean[j++] = '\\';
        clean[j++] = msg[i] == '\n' ? ' ' : msg[i];
    }
    clean[j] = 0;
    printf("{\"bench\": \"register\", \"size\": \"%ux%u\", \"width\": %u, \"height\": %u, \"megapixels\": %.3f, "
           "\"kind\": \"%s\", \"method\": \"dvren_%s\", \"label\": \"dvren %s%s%s\", \"device\": \"%s\", "
           "\"error\": \"%s: %s\"}\n",
           (unsigned)im->width, (unsigned)im->height, (unsigned)im->width, (unsigned)im->height,
           (double)im->width * im->height / 1e6, kind, method, method, o->label[0] ? ", " : "", o->label, o->device,
           what, clean);
    fflush(stdout);
}

/* One row: kind x method, warm-up then reps timed calls. Returns 0 when measured. */
static int br_row(dvren_context* ctx, const br_images* im, const br_truth* t, const char* kind, const char* method,
                  const br_options* o)
{
    dvren_params* p = NULL;
    dvren_stage* st = NULL;
    dvren_register_input in;
    dvren_register_result res[BR_MAX_IMAGES];
    dvren_register_report rep;
    dvren_cuda_memory m0, m1;
    double secs[BR_MAX_REPS], dvren_ms[BR_MAX_REPS], sum2 = 0.0, worst = 0.0, conf = 0.0, peak = 0.0, mp;
    uint64_t peak_bytes = 0;
    uint32_t i, aligned = 0;
    int r, bayer = !strcmp(kind, "bayer");
    char label[256], what[64];

    memset(&m0, 0, sizeof m0);
    memset(&m1, 0, sizeof m1);
    if (o->gpu && (dvren_cuda_memory_trim(ctx) != DVREN_OK || dvren_cuda_memory_stats(ctx, &m0) != DVREN_OK)) {
        br_print_failure(im, kind, method, o, "memory stats", ctx);
        return 1;
    }
    if (dvren_params_create(ctx, &p) != DVREN_OK || dvren_params_set_string(p, "method", method) != DVREN_OK ||
        dvren_params_set_number(p, "upsample", (double)o->upsample) != DVREN_OK ||
        dvren_params_set_string(p, "window", o->window) != DVREN_OK ||
        dvren_stage_create(ctx, DVREN_PLUGIN_REGISTRATION, "phase_correlation", p, &st) != DVREN_OK) {
        br_print_failure(im, kind, method, o, "creating the phase_correlation model", ctx);
        dvren_params_destroy(p);
        return 1;
    }
    dvren_params_destroy(p);

    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = im->width;
    in.height = im->height;
    in.channels = 1;
    in.dtype = DVREN_DTYPE_U16;
    in.memory = DVREN_MEMORY_HOST;
    in.reference = im->pixels[0];
    in.moving = im->pixels + 1;
    in.count = im->count;
    in.cfa = bayer ? DVREN_CFA_GRBG : DVREN_CFA_NONE;
    in.memory_limit = o->memory_limit;

    for (r = -1; r < o->reps; ++r) { /* r = -1: the warm-up */
        double t0;
        memset(&rep, 0, sizeof rep);
        rep.struct_size = sizeof rep;
        t0 = br_now_s();
        if (dvren_register(st, &in, res, &rep) != DVREN_OK || dvren_synchronize(ctx) != DVREN_OK) {
            br_print_failure(im, kind, method, o, r < 0 ? "dvren_register (warm-up)" : "dvren_register", ctx);
            dvren_stage_destroy(st);
            return 1;
        }
        if (r >= 0) {
            secs[r] = br_now_s() - t0;
            dvren_ms[r] = rep.milliseconds;
        }
        if (rep.peak_bytes > peak_bytes) peak_bytes = rep.peak_bytes;
    }
    if (o->gpu) dvren_cuda_memory_stats(ctx, &m1);

    for (i = 0; i < im->count; ++i) {
        double ey = res[i].dy - t->dy[i], ex = res[i].dx - t->dx[i], e = sqrt(ey * ey + ex * ex);
        sum2 += e * e;
        if (e > worst) worst = e;
        conf += res[i].confidence;
        peak += res[i].peak;
        aligned += res[i].cfa_aligned;
        if (o->verbose) {
            uint32_t k;
            printf("{\"image\": %u, \"method\": \"dvren_%s\", \"kind\": \"%s\", \"dy\": %.6f, \"dx\": %.6f, "
                   "\"expected_dy\": %.6f, \"expected_dx\": %.6f, \"error_px\": %.6f, \"peak\": %.4f, "
                   "\"confidence\": %.4f, \"cfa_dy\": %d, \"cfa_dx\": %d, \"cfa_aligned\": %u, \"planes\": [",
                   (unsigned)i, method, kind, res[i].dy, res[i].dx, t->dy[i], t->dx[i], e, res[i].peak,
                   res[i].confidence, (int)res[i].cfa_dy, (int)res[i].cfa_dx, (unsigned)res[i].cfa_aligned);
            for (k = 0; k < res[i].plane_count && k < DVREN_REGISTER_MAX_PLANES; ++k)
                printf("%s[%.4f, %.4f, %.4f]", k ? ", " : "", (double)res[i].planes[k].dy,
                       (double)res[i].planes[k].dx, (double)res[i].planes[k].peak);
            printf("]}\n");
        }
    }
    qsort(secs, (size_t)o->reps, sizeof secs[0], br_cmp_double);
    qsort(dvren_ms, (size_t)o->reps, sizeof dvren_ms[0], br_cmp_double);
    mp = (double)im->width * im->height / 1e6;
    if (!strcmp(method, "upsampled")) snprintf(what, sizeof what, "upsampled %u", (unsigned)o->upsample);
    else snprintf(what, sizeof what, "%s", method);
    snprintf(label, sizeof label, "dvren %s, %s%s%s", what, !strcmp(o->window, "hann") ? "Hann" : "no window",
             o->label[0] ? ", " : "", o->label);
    printf("{\"bench\": \"register\", \"size\": \"%ux%u\", \"width\": %u, \"height\": %u, \"megapixels\": %.3f, "
           "\"kind\": \"%s\", \"method\": \"dvren_%s\", \"label\": \"%s\", \"device\": \"%s\", \"rms_px\": %.6f, "
           "\"max_px\": %.6f, \"seconds\": %.6f, \"mp_per_s\": %.3f, \"dvren_ms\": %.3f, \"reps\": %d, "
           "\"images_timed\": %u, \"images\": %u, \"extrapolated\": false, ",
           (unsigned)im->width, (unsigned)im->height, (unsigned)im->width, (unsigned)im->height, mp, kind, method,
           label, o->device, sqrt(sum2 / im->count), worst, secs[o->reps / 2], (im->count + 1) * mp / secs[o->reps / 2],
           dvren_ms[o->reps / 2], o->reps, (unsigned)im->count, (unsigned)im->count);
    if (o->gpu)
        printf("\"peak_device_bytes\": %llu, \"mem_info_delta_bytes\": %lld, ", (unsigned long long)peak_bytes,
               (long long)m0.device_free - (long long)m1.device_free);
    else
        printf("\"peak_device_bytes\": null, \"mem_info_delta_bytes\": null, \"peak_work_bytes\": %llu, \"threads\": %u, ",
               (unsigned long long)peak_bytes, (unsigned)dvren_context_threads(ctx));
    printf("\"batch\": %u, \"batches\": %u, \"limit_bytes\": %llu, \"memory_limit\": %llu, \"cfa\": \"%s\", "
           "\"cfa_aligned\": %u, \"mean_confidence\": %.4f, \"mean_peak\": %.4f}\n",
           (unsigned)rep.batch_size, (unsigned)rep.batches, (unsigned long long)rep.limit_bytes,
           (unsigned long long)o->memory_limit, bayer ? "GRBG" : "NONE", (unsigned)aligned, conf / im->count,
           peak / im->count);
    fflush(stdout);
    dvren_stage_destroy(st);
    return 0;
}

/* Splits a comma-separated list into at most cap items (in place). */
static int br_split(char* s, const char** items, int cap)
{
    int n = 0;
    char* tok = strtok(s, ",");
    while (tok && n < cap) {
        items[n++] = tok;
        tok = strtok(NULL, ",");
    }
    return n;
}

int main(int argc, char** argv)
{
    const char* dir = NULL;
    char kinds_buf[256] = "grey,bayer", methods_buf[256] = "upsampled,parabolic,integer";
    const char *kinds[8], *methods[8];
    int nk, nm, i, k, threads = 0, failed = 0;
    br_options o;
    br_truth truth;
    dvren_context_desc cd;
    dvren_context* ctx = NULL;

    memset(&o, 0, sizeof o);
    o.device = "cpu";
    o.reps = 3;
    o.upsample = 100;
    o.window = "hann";
    o.label = "";
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        char* end = NULL;
        if (!strcmp(a, "--verbose")) o.verbose = 1;
        else if (v && !strcmp(a, "--dir")) dir = v, ++i;
        else if (v && !strcmp(a, "--device")) o.device = v, ++i;
        else if (v && !strcmp(a, "--kind")) snprintf(kinds_buf, sizeof kinds_buf, "%s", v), ++i;
        else if (v && !strcmp(a, "--method")) snprintf(methods_buf, sizeof methods_buf, "%s", v), ++i;
        else if (v && !strcmp(a, "--upsample")) o.upsample = (uint32_t)strtoul(v, &end, 10), ++i;
        else if (v && !strcmp(a, "--window")) o.window = v, ++i;
        else if (v && !strcmp(a, "--reps")) o.reps = atoi(v), ++i;
        else if (v && !strcmp(a, "--threads")) threads = atoi(v), ++i;
        else if (v && !strcmp(a, "--label")) o.label = v, ++i;
        else if (v && !strcmp(a, "--memory-limit")) o.memory_limit = strtoull(v, &end, 10), ++i;
        else {
            fprintf(stderr, "bench_register: unknown or incomplete argument '%s' (see the top of bench/register.c)\n", a);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "bench_register: %s: '%s' is not a non-negative integer\n", a, v);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "bench_register: --dir FOLDER is required (a size's folder of bench/register_gen.py)\n");
        return 2;
    }
    if (o.reps < 1 || o.reps > BR_MAX_REPS || threads < 0 || o.upsample < 1) {
        fprintf(stderr, "bench_register: --reps must be in 1..%d, --threads >= 0, --upsample >= 1\n", BR_MAX_REPS);
        return 2;
    }
    if (strchr(o.label, '"') || strchr(o.label, '\\') || strlen(o.label) > 120) {
        fprintf(stderr, "bench_register: --label: at most 120 characters, without '\"' or '\\'\n");
        return 2;
    }
    o.gpu = !strcmp(o.device, "cuda");
    if (!o.gpu && strcmp(o.device, "cpu")) {
        fprintf(stderr, "bench_register: --device cpu or cuda, not '%s'\n", o.device);
        return 2;
    }
    nk = br_split(kinds_buf, kinds, 8);
    nm = br_split(methods_buf, methods, 8);
    for (k = 0; k < nk; ++k)
        if (strcmp(kinds[k], "grey") && strcmp(kinds[k], "bayer")) {
            fprintf(stderr, "bench_register: --kind: '%s' is neither grey nor bayer\n", kinds[k]);
            return 2;
        }
    if (br_read_truth(dir, &truth)) return 1;

    memset(&cd, 0, sizeof cd);
    cd.threads = (uint32_t)threads;
    if (o.verbose) {
        cd.log = dvren_log_to_file;
        cd.log_user = stderr;
    }
    if (o.gpu) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) {
        fprintf(stderr, "bench_register: %s\n", dvren_last_error(NULL));
        return 1;
    }
    if (o.gpu) {
        dvren_cuda_info info;
        if (dvren_cuda_get_info(ctx, &info) == DVREN_OK)
            fprintf(stderr, "bench_register: %s (sm %u, %.1f GB)\n", info.device_name, (unsigned)info.compute_capability,
                    (double)info.total_memory / 1e9);
    } else {
        fprintf(stderr, "bench_register: CPU, %u threads\n", (unsigned)dvren_context_threads(ctx));
    }
    for (k = 0; k < nk; ++k) {
        br_images im;
        double t0 = br_now_s();
        if (br_read_images(dir, kinds[k], truth.count, &im)) {
            failed = 1;
            continue;
        }
        fprintf(stderr, "bench_register: %s: %u + 1 images of %u x %u read in %.1f s\n", kinds[k], (unsigned)im.count,
                (unsigned)im.width, (unsigned)im.height, br_now_s() - t0);
        for (i = 0; i < nm; ++i) failed |= br_row(ctx, &im, &truth, kinds[k], methods[i], &o);
        br_free_images(&im);
    }
    dvren_context_destroy(ctx);
    return failed;
}
