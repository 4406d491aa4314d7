/* tests/fuzz/fuzz_dense_grid.h - what the dense_grid fuzz targets share.
 *
 * The loaders (plugins/dense_grid/dense_grid_io.c) are compiled straight
 * into each target and called through dg_load() with a small host of our
 * own: its alloc/free check that every free gives back the size that was
 * allocated, and its parameters are a fixed set (format, raw layout, npz
 * member, max_bytes). So the fuzzer sees the loaders' code with no dlopen
 * and no plugin ABI in the way.
 *
 * Detached data: an input is split at FZ_SEP; the first part is the header
 * file (fz.<ext>), part i + 1 is the data file "d<i>" in the same folder, so
 * seeds name their data "d0", a pattern "d%d 0 2 1", or a LIST of d0 d1 ...
 * Files live in a private temporary folder, removed at exit. */
#ifndef FUZZ_DENSE_GRID_H
#define FUZZ_DENSE_GRID_H

/* mkdtemp is POSIX 2008, hidden by -std=c11 otherwise; must come before any include */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "plugins/dense_grid/dense_grid_io.c"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FZ_SEP "\n@@\n"
#define FZ_PARTS 8
/* far below libFuzzer's -malloc_limit_mb in tests/test_fuzz.sh, so the
 * loaders' own limit is what stops a header that asks for too much */
#define FZ_MAX_BYTES (16.0 * 1024 * 1024)

/* the parameters dg_load reads (unset: NULL / 0, as the host gives them) */
struct dvren_params {
    const char* format;
    double dims[3];
    int has_dims;
    const char* dtype;
    const char* endian;
    double header_bytes, channels;
    const char* array;
};

static double fz_param_number(const dvren_params* p, const char* name)
{
    if (!strcmp(name, "header_bytes")) return p->header_bytes;
    if (!strcmp(name, "channels")) return p->channels;
    if (!strcmp(name, "max_bytes")) return FZ_MAX_BYTES;
    return 0.0;
}
static const char* fz_param_string(const dvren_params* p, const char* name)
{
    if (!strcmp(name, "format")) return p->format;
    if (!strcmp(name, "dtype")) return p->dtype;
    if (!strcmp(name, "endian")) return p->endian ? p->endian : "little";
    if (!strcmp(name, "array")) return p->array;
    return NULL;
}
static uint32_t fz_param_numbers(const dvren_params* p, const char* name, const double** values)
{
    if (!strcmp(name, "dims") && p->has_dims) {
        *values = p->dims;
        return 3;
    }
    return 0;
}
static const dvren_tensor* fz_param_tensor(const dvren_params* p, const char* name)
{
    (void)p;
    (void)name;
    return NULL;
}
static int fz_param_given(const dvren_params* p, const char* name) { return !strcmp(name, "dims") && p->has_dims; }

/* allocations carry their size in a 64-byte prefix: free() must give it back */
static void* fz_alloc(const dvren_host* h, size_t size)
{
    unsigned char* b;
    (void)h;
    if (size > SIZE_MAX - 64) return NULL;
    b = (unsigned char*)malloc(size + 64);
    if (!b) return NULL;
    memcpy(b, &size, sizeof size);
    return b + 64;
}
static void fz_free(const dvren_host* h, void* ptr, size_t size)
{
    size_t had;
    (void)h;
    if (!ptr) return;
    memcpy(&had, (unsigned char*)ptr - 64, sizeof had);
    if (had != size) {
        fprintf(stderr, "fuzz host: free of %zu bytes, allocated %zu\n", size, had);
        abort();
    }
    free((unsigned char*)ptr - 64);
}
static void fz_log(const dvren_host* h, dvren_log_level level, const char* tag, const char* fmt, ...)
{
    (void)h;
    (void)level;
    (void)tag;
    (void)fmt;
}
/* formats the message (so a bad argument to a format shows under ASan) and drops it */
static dvren_status fz_fail(const dvren_host* h, dvren_status status, const char* hint, const char* fmt, ...)
{
    char msg[1024];
    va_list ap;
    (void)h;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (hint) snprintf(msg, sizeof msg, "%s", hint);
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "%s\n", msg);
    return status;
}

static const dvren_host fz_host = {.struct_size = sizeof(dvren_host), .abi_version = DVREN_ABI_VERSION,
                                   .alloc = fz_alloc, .free = fz_free, .log = fz_log, .fail = fz_fail,
                                   .param_number = fz_param_number, .param_string = fz_param_string,
                                   .param_numbers = fz_param_numbers, .param_tensor = fz_param_tensor,
                                   .param_given = fz_param_given};

static char fz_dir[256];

static void fz_cleanup(void)
{
    char path[320];
    int i;
    static const char* const headers[] = {"fz.raw", "fz.npy", "fz.npz", "fz.nhdr", "fz.mhd", "fz.dat", "fz.vtk"};
    for (i = 0; i < (int)(sizeof headers / sizeof headers[0]); ++i) {
        snprintf(path, sizeof path, "%s/%s", fz_dir, headers[i]);
        remove(path);
    }
    for (i = 0; i < FZ_PARTS; ++i) {
        snprintf(path, sizeof path, "%s/d%d", fz_dir, i);
        remove(path);
    }
    rmdir(fz_dir);
}

/* <private folder>/name into out (the folder is made on first use) */
static const char* fz_path(const char* name, char* out, size_t cap)
{
    if (!fz_dir[0]) {
        const char* t = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/dvren-fuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    snprintf(out, cap, "%s/%s", fz_dir, name);
    return out;
}

static void fz_write(const char* name, const uint8_t* data, size_t n)
{
    char path[320];
    FILE* f = fopen(fz_path(name, path, sizeof path), "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) {
        perror("fuzz: write");
        abort();
    }
    fclose(f);
}

/* Writes the input as header `name` plus data files d0.. (split at FZ_SEP
 * when split is set; data files of earlier inputs are removed first), loads
 * the header in `format` with p, and frees what was loaded. */
static void fz_run(const uint8_t* data, size_t size, const char* name, const char* format, dvren_params* p, int split)
{
    char path[320];
    dg_volume v;
    size_t i, start = 0, part = 0, seplen = strlen(FZ_SEP);
    for (i = 0; i < FZ_PARTS; ++i) {
        char d[16];
        snprintf(d, sizeof d, "d%d", (int)i);
        remove(fz_path(d, path, sizeof path));
    }
    for (i = 0; split && i + seplen <= size && part < FZ_PARTS; ++i)
        if (!memcmp(data + i, FZ_SEP, seplen)) {
            char d[16];
            if (part == 0) fz_write(name, data, i);
            else {
                snprintf(d, sizeof d, "d%d", (int)part - 1);
                fz_write(d, data + start, i - start);
            }
            part++;
            start = i + seplen;
            i += seplen - 1;
        }
    if (part == 0) fz_write(name, data, size);
    else {
        char d[16];
        snprintf(d, sizeof d, "d%d", (int)part - 1);
        fz_write(d, data + start, size - start);
    }
    p->format = format;
    if (dg_load(&fz_host, p, fz_path(name, path, sizeof path), format, &v) == DVREN_OK) {
        /* what dense_grid does next: read every element */
        size_t k, n = (size_t)v.dims[0] * v.dims[1] * v.dims[2] * v.channels;
        volatile double sum = 0.0;
        if (v.bytes != n * dg_type_size(v.type)) abort();
        for (k = 0; k < n; ++k) sum += dg_get(&v, k);
        (void)sum;
    }
    dg_volume_free(&fz_host, &v);
}

#endif
