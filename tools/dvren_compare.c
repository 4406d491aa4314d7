/* tools/dvren_compare.c - compare two images: MSE, PSNR, errors, geometry.
 *
 *   dvren_compare a.png b.png [options]      (see --help; docs/tools.md)
 *
 * Inputs: PNG of 8 or 16 bits per sample (gray, gray+alpha, RGB, RGBA, and
 * palette images, which stb_image expands), read with stb_image
 * (tools/stb_impl.c), or NumPy .npy arrays (format 1.0-3.0, C order) of
 * float32, float64, uint8 or uint16 with shape (H, W) or (H, W, C), C in
 * 1..4 (C = 2 and 4 carry alpha last). The kind is found from the file's
 * first bytes, not its name.
 *
 * Values are scaled to [0, 1]: 8-bit samples / 255, 16-bit / 65535, floats
 * as they are. Compared channels: the colour channels (a gray image against
 * a colour one is taken as R = G = B) plus alpha when both have alpha.
 *   MSE   = mean over the compared samples of (a - b)^2
 *   PSNR  = 10 log10(peak^2 / MSE) dB, peak 1 (--peak), "inf" when MSE = 0
 *   max_error, its pixel (x, y in image coordinates) and channel; mean_abs_error
 *   geometry_match = fraction of pixels where both agree on coverage;
 *     covered = alpha > 0.5 when both images have alpha ("coverage alpha"),
 *     else any colour channel > --coverage-threshold (default 1/255;
 *     "coverage nonblack").
 * Output: one "key value" per line on stdout, or one JSON object (--json;
 * there psnr is the string "inf" for identical images).
 *
 * Exit status: 0 every threshold met (or none given), 1 a threshold failed
 * (the "failed" line names each: min_psnr, max_error, min_geometry), 2 bad
 * input: an unreadable or malformed file, a size mismatch, a bad option or
 * region, an output that cannot be written; the message on stderr names the
 * file and the problem. Output files (--diff, --masks) are written whole
 * through dvren_file_write_atomic, only after every input was read; a
 * failure leaves no partial file. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DVREN_IO_IMPLEMENTATION
#include "dvren_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#define DC_MAX_FILE ((size_t)1 << 31) /* 2 GiB: larger inputs are refused */
#define DC_MAX_SAMPLES ((size_t)1 << 28)

/* One decoded image: samples scaled to [0, 1] (floats as stored), (H, W, C) row-major. */
typedef struct dc_image {
    int w, h, c;     /* c in 1..4; 2 and 4 have alpha last */
    char kind[16];   /* png8, png16, npy-f4, npy-f8, npy-u1, npy-u2 */
    double* v;
} dc_image;

static const char* dc_layout(int c) { return c == 1 ? "gray" : c == 2 ? "gray+alpha" : c == 3 ? "rgb" : "rgba"; }

/* ---------------------------------------------------------------- PNG */
static void dc_png_error(char* err, size_t cap, const char* why)
{
    snprintf(err, cap, "PNG truncated or corrupt (stb_image: '%s')", why && *why ? why : "no reason given");
}

static int dc_load_png(const unsigned char* bytes, size_t n, dc_image* im, char* err, size_t cap)
{
    int w, h, c, is16;
    size_t i, count;
    if (n > (size_t)INT32_MAX) {
        snprintf(err, cap, "PNG larger than 2 GiB");
        return -1;
    }
    if (!stbi_info_from_memory(bytes, (int)n, &w, &h, &c)) {
        dc_png_error(err, cap, stbi_failure_reason());
        return -1;
    }
    is16 = stbi_is_16_bit_from_memory(bytes, (int)n);
    if (c < 1 || c > 4 || w <= 0 || h <= 0 || (size_t)w * (size_t)h > DC_MAX_SAMPLES / 4) {
        snprintf(err, cap, "unsupported PNG (%d x %d, %d channels)", w, h, c);
        return -1;
    }
    count = (size_t)w * (size_t)h * (size_t)c;
    im->v = (double*)malloc(count * sizeof(double));
    if (!im->v) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    if (is16) {
        int w2, h2, c2;
        stbi_us* p = stbi_load_16_from_memory(bytes, (int)n, &w2, &h2, &c2, c);
        if (!p || w2 != w || h2 != h) {
            dc_png_error(err, cap, p ? "size changed" : stbi_failure_reason());
            stbi_image_free(p);
            return -1;
        }
        for (i = 0; i < count; ++i) im->v[i] = p[i] / 65535.0;
        stbi_image_free(p);
    } else {
        int w2, h2, c2;
        stbi_uc* p = stbi_load_from_memory(bytes, (int)n, &w2, &h2, &c2, c);
        if (!p || w2 != w || h2 != h) {
            dc_png_error(err, cap, p ? "size changed" : stbi_failure_reason());
            stbi_image_free(p);
            return -1;
        }
        for (i = 0; i < count; ++i) im->v[i] = p[i] / 255.0;
        stbi_image_free(p);
    }
    im->w = w;
    im->h = h;
    im->c = c;
    snprintf(im->kind, sizeof im->kind, "png%d", is16 ? 16 : 8);
    return 0;
}

/* ---------------------------------------------------------------- .npy */
/* The value of 'key' in the header dict: a pointer just past "'key':" and blanks. */
static const char* dc_npy_key(const char* hdr, const char* key)
{
    char pat[32];
    const char* p;
    snprintf(pat, sizeof pat, "'%s'", key);
    p = strstr(hdr, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') ++p;
    if (*p != ':') return NULL;
    ++p;
    while (*p == ' ') ++p;
    return p;
}

/* NumPy .npy format (NEP 1; numpy.lib.format): "\x93NUMPY", major, minor,
 * header length (2 bytes in 1.0, 4 in 2.0/3.0, little-endian), an ASCII
 * Python dict with descr, fortran_order, shape, then the raw data. */
static int dc_load_npy(const unsigned char* bytes, size_t n, dc_image* im, char* err, size_t cap)
{
    size_t hlen, off, count, es, i;
    int major, nd = 0, ftype, fortran;
    long dims[4];
    char* hdr;
    const char *d, *p;
    char descr[8];
    if (n < 10) {
        snprintf(err, cap, ".npy file truncated (%zu bytes)", n);
        return -1;
    }
    major = bytes[6];
    if (major == 1) {
        hlen = (size_t)bytes[8] | ((size_t)bytes[9] << 8);
        off = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) {
            snprintf(err, cap, ".npy file truncated (%zu bytes)", n);
            return -1;
        }
        hlen = (size_t)bytes[8] | ((size_t)bytes[9] << 8) | ((size_t)bytes[10] << 16) | ((size_t)bytes[11] << 24);
        off = 12;
    } else {
        snprintf(err, cap, "unsupported .npy format version %d", major);
        return -1;
    }
    if (hlen > n - off || hlen > 65536) {
        snprintf(err, cap, ".npy header truncated (header of %zu bytes, file of %zu)", hlen, n);
        return -1;
    }
    hdr = (char*)malloc(hlen + 1);
    if (!hdr) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    memcpy(hdr, bytes + off, hlen);
    hdr[hlen] = 0;
    off += hlen;
    /* descr */
    d = dc_npy_key(hdr, "descr");
    if (!d || (*d != '\'' && *d != '"') || sscanf(d + 1, "%7[^'\"]", descr) != 1) {
        snprintf(err, cap, ".npy header has no 'descr'");
        free(hdr);
        return -1;
    }
    if (!strcmp(descr, "<f4") || !strcmp(descr, "=f4")) ftype = 1;
    else if (!strcmp(descr, "<f8") || !strcmp(descr, "=f8")) ftype = 2;
    else if (!strcmp(descr, "|u1") || !strcmp(descr, "<u1") || !strcmp(descr, "=u1")) ftype = 3;
    else if (!strcmp(descr, "<u2") || !strcmp(descr, "=u2")) ftype = 4;
    else {
        snprintf(err, cap, ".npy dtype '%s' is not supported (float32, float64, uint8, uint16, little-endian)", descr);
        free(hdr);
        return -1;
    }
    /* fortran_order */
    p = dc_npy_key(hdr, "fortran_order");
    if (!p || (strncmp(p, "False", 5) && strncmp(p, "True", 4))) {
        snprintf(err, cap, ".npy header has no 'fortran_order'");
        free(hdr);
        return -1;
    }
    fortran = !strncmp(p, "True", 4);
    /* shape */
    p = dc_npy_key(hdr, "shape");
    if (!p || *p != '(') {
        snprintf(err, cap, ".npy header has no 'shape'");
        free(hdr);
        return -1;
    }
    ++p;
    for (;;) {
        char* end;
        long v;
        while (*p == ' ' || *p == ',') ++p;
        if (*p == ')') break;
        v = strtol(p, &end, 10);
        if (end == p || v < 0 || nd == 4) {
            nd = -1;
            break;
        }
        dims[nd++] = v;
        p = end;
        while (*p == ' ' || *p == 'L') ++p;
        if (*p != ',' && *p != ')') {
            nd = -1;
            break;
        }
    }
    free(hdr);
    if (nd != 2 && nd != 3) {
        snprintf(err, cap, ".npy shape must be (H, W) or (H, W, C), got %d dimensions", nd < 0 ? 0 : nd);
        return -1;
    }
    if (nd == 3 && (dims[2] < 1 || dims[2] > 4)) {
        snprintf(err, cap, ".npy shape (H, W, C) needs C in 1..4, got C = %ld", dims[2]);
        return -1;
    }
    if (dims[0] < 1 || dims[1] < 1 || dims[0] > (1L << 24) || dims[1] > (1L << 24)) {
        snprintf(err, cap, ".npy image of %ld x %ld is empty or too large", dims[1], dims[0]);
        return -1;
    }
    if (fortran && (dims[0] > 1) + (dims[1] > 1) + (nd == 3 && dims[2] > 1) > 1) {
        snprintf(err, cap, ".npy in Fortran order is not supported (save with numpy.ascontiguousarray)");
        return -1;
    }
    im->h = (int)dims[0];
    im->w = (int)dims[1];
    im->c = nd == 3 ? (int)dims[2] : 1;
    count = (size_t)im->w * (size_t)im->h;
    if (count > DC_MAX_SAMPLES / 4) {
        snprintf(err, cap, ".npy image of %d x %d is too large", im->w, im->h);
        return -1;
    }
    count *= (size_t)im->c;
    es = ftype == 1 ? 4 : ftype == 2 ? 8 : ftype == 3 ? 1 : 2;
    if (n - off < count * es) {
        snprintf(err, cap, ".npy data truncated: %zu bytes for shape %ld x %ld x %d, expected %zu", n - off, dims[0],
                 dims[1], im->c, count * es);
        return -1;
    }
    im->v = (double*)malloc(count * sizeof(double));
    if (!im->v) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    for (i = 0; i < count; ++i) {
        const unsigned char* q = bytes + off + i * es;
        double x;
        if (ftype == 1) {
            uint32_t u = (uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16) | ((uint32_t)q[3] << 24);
            float f;
            memcpy(&f, &u, 4);
            x = f;
        } else if (ftype == 2) {
            uint64_t u = 0;
            int k;
            for (k = 7; k >= 0; --k) u = (u << 8) | q[k];
            memcpy(&x, &u, 8);
        } else if (ftype == 3) {
            x = q[0] / 255.0;
        } else {
            x = ((unsigned)q[0] | ((unsigned)q[1] << 8)) / 65535.0;
        }
        if (!isfinite(x)) {
            snprintf(err, cap, ".npy holds a non-finite value (%g) at element %zu", x, i);
            free(im->v);
            im->v = NULL;
            return -1;
        }
        im->v[i] = x;
    }
    snprintf(im->kind, sizeof im->kind, "npy-%s", descr + 1);
    return 0;
}

/* Reads path (PNG or .npy, told by its first bytes). On failure prints
 * "dvren_compare: 'path': problem" and returns -1. */
static int dc_load(const char* path, dc_image* im)
{
    char err[512];
    size_t n = 0;
    int rc;
    unsigned char* bytes;
    memset(im, 0, sizeof *im);
    bytes = (unsigned char*)dvren_io_read_file(path, DC_MAX_FILE, &n, err, sizeof err);
    if (!bytes) {
        fprintf(stderr, "dvren_compare: '%s': %s\n", path, err);
        return -1;
    }
    if (n >= 8 && !memcmp(bytes, "\x89PNG\r\n\x1a\n", 8))
        rc = dc_load_png(bytes, n, im, err, sizeof err);
    else if (n >= 6 && !memcmp(bytes, "\x93NUMPY", 6))
        rc = dc_load_npy(bytes, n, im, err, sizeof err);
    else {
        snprintf(err, sizeof err, "neither a PNG nor a .npy file (%zu bytes)", n);
        rc = -1;
    }
    free(bytes);
    if (rc) {
        free(im->v);
        im->v = NULL;
        fprintf(stderr, "dvren_compare: '%s': %s\n", path, err);
    }
    return rc;
}

/* ---------------------------------------------------------------- options */
typedef struct dc_options {
    const char *a, *b, *diff, *masks;
    double peak, diff_scale, cov_thr, min_psnr, max_error, min_geometry;
    int have_min_psnr, have_max_error, have_min_geometry, json, have_roi;
    long roi[4];
} dc_options;

static void dc_usage(FILE* f)
{
    fprintf(f,
            "usage: dvren_compare A B [options]\n"
            "  A, B: PNG (8/16-bit gray, gray+alpha, RGB, RGBA) or .npy (float32/float64/uint8/uint16,\n"
            "        shape (H, W) or (H, W, C), C in 1..4)\n"
            "  --json                    one JSON object instead of 'key value' lines\n"
            "  --peak P                  PSNR peak value (default 1: values are scaled to [0, 1])\n"
            "  --roi x,y,w,h             compare only this region (pixels, inside both images)\n"
            "  --coverage-threshold T    without alpha on both, covered = any colour channel > T (default 1/255)\n"
            "  --diff OUT.png            write |A - B| per pixel (colour channels, 8-bit RGB), times --diff-scale\n"
            "  --diff-scale S            default 1\n"
            "  --masks PREFIX            write PREFIX_a.png and PREFIX_b.png coverage masks (white = covered)\n"
            "  --min-psnr DB, --max-error E, --min-geometry F\n"
            "                            thresholds: exit 1 when one fails (the 'failed' line names it)\n"
            "exit status: 0 thresholds met, 1 a threshold failed, 2 bad input or option\n");
}

static int dc_number(const char* opt, const char* s, double* out)
{
    char* end;
    double v;
    if (!s) {
        fprintf(stderr, "dvren_compare: %s needs a value\n", opt);
        return -1;
    }
    v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        fprintf(stderr, "dvren_compare: %s: '%s' is not a finite number\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns 0 to run, 1 for --help (exit 0), -1 on a bad command line (exit 2). */
static int dc_parse(int argc, char** argv, dc_options* o)
{
    int i, npos = 0;
    memset(o, 0, sizeof *o);
    o->peak = 1.0;
    o->diff_scale = 1.0;
    o->cov_thr = 1.0 / 255.0;
    for (i = 1; i < argc; ++i) {
        const char* arg = argv[i];
        char name[64];
        const char* val = NULL;
        const char* eq;
        if (arg[0] != '-' || arg[1] != '-' || !arg[2]) {
            if (arg[0] == '-' && arg[1]) {
                fprintf(stderr, "dvren_compare: unknown option '%s' (see --help)\n", arg);
                return -1;
            }
            if (npos == 2) {
                fprintf(stderr, "dvren_compare: a third image '%s': give exactly two (see --help)\n", arg);
                return -1;
            }
            if (npos++ == 0) o->a = arg;
            else o->b = arg;
            continue;
        }
        eq = strchr(arg, '=');
        if (eq && (size_t)(eq - arg) < sizeof name) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
#define DC_VALUE() (val ? val : (i + 1 < argc ? argv[++i] : NULL))
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) return 1;
        else if (!strcmp(name, "--json")) o->json = 1;
        else if (!strcmp(name, "--peak")) {
            if (dc_number(name, DC_VALUE(), &o->peak)) return -1;
            if (o->peak <= 0) {
                fprintf(stderr, "dvren_compare: --peak must be > 0, got %g\n", o->peak);
                return -1;
            }
        } else if (!strcmp(name, "--diff-scale")) {
            if (dc_number(name, DC_VALUE(), &o->diff_scale)) return -1;
            if (o->diff_scale <= 0) {
                fprintf(stderr, "dvren_compare: --diff-scale must be > 0, got %g\n", o->diff_scale);
                return -1;
            }
        } else if (!strcmp(name, "--coverage-threshold")) {
            if (dc_number(name, DC_VALUE(), &o->cov_thr)) return -1;
        } else if (!strcmp(name, "--min-psnr")) {
            if (dc_number(name, DC_VALUE(), &o->min_psnr)) return -1;
            o->have_min_psnr = 1;
        } else if (!strcmp(name, "--max-error")) {
            if (dc_number(name, DC_VALUE(), &o->max_error)) return -1;
            o->have_max_error = 1;
        } else if (!strcmp(name, "--min-geometry")) {
            if (dc_number(name, DC_VALUE(), &o->min_geometry)) return -1;
            o->have_min_geometry = 1;
        } else if (!strcmp(name, "--diff") || !strcmp(name, "--masks")) {
            const char* v = DC_VALUE();
            if (!v || !*v) {
                fprintf(stderr, "dvren_compare: %s needs a file name\n", name);
                return -1;
            }
            if (name[2] == 'd') o->diff = v;
            else o->masks = v;
        } else if (!strcmp(name, "--roi")) {
            const char* v = DC_VALUE();
            int used = 0;
            if (!v || sscanf(v, "%ld,%ld,%ld,%ld%n", &o->roi[0], &o->roi[1], &o->roi[2], &o->roi[3], &used) != 4 ||
                v[used] || o->roi[0] < 0 || o->roi[1] < 0 || o->roi[2] < 1 || o->roi[3] < 1) {
                fprintf(stderr, "dvren_compare: --roi needs x,y,w,h (x, y >= 0; w, h >= 1), got '%s'\n",
                        v ? v : "nothing");
                return -1;
            }
            o->have_roi = 1;
        } else {
            fprintf(stderr, "dvren_compare: unknown option '%s' (see --help)\n", arg);
            return -1;
        }
#undef DC_VALUE
    }
    if (npos != 2) {
        fprintf(stderr, "dvren_compare: give two images, got %d (see --help)\n", npos);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */
static void dc_png_cb(void* user, void* data, int size) { dvren_io_buf_append((dvren_io_buf*)user, data, (size_t)size); }

/* Encodes 8-bit pixels (comp 1 or 3) as PNG into out; 0 on success. */
static int dc_encode_png(dvren_io_buf* out, const unsigned char* px, int w, int h, int comp)
{
    if (!stbi_write_png_to_func(dc_png_cb, out, w, h, comp, px, w * comp) || out->failed) return -1;
    return 0;
}

/* ---------------------------------------------------------------- main */
int main(int argc, char** argv)
{
    dc_options o;
    dc_image A, B;
    int rc = 2, pr, ca, cb, cc, alpha, x, y, k, x0, y0, rw, rh, mx = 0, my = 0, mch = 0, nfail = 0;
    double sse = 0, sae = 0, maxe = -1, mse, psnr, mae, geom;
    size_t nsamp = 0, agree = 0, cov_a = 0, cov_b = 0;
    unsigned char *diffpx = NULL, *mask_a = NULL, *mask_b = NULL;
    dvren_io_buf enc[3];
    char failed[128] = "", path_a[4096], path_b[4096];
    static const char* const chan_names[4] = {"r", "g", "b", "alpha"};

    memset(enc, 0, sizeof enc);
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    pr = dc_parse(argc, argv, &o);
    if (pr > 0) {
        dc_usage(stdout);
        return 0;
    }
    if (pr < 0) return 2;
    if (dc_load(o.a, &A) || dc_load(o.b, &B)) goto done;
    if (A.w != B.w || A.h != B.h) {
        fprintf(stderr, "dvren_compare: size mismatch: '%s' is %d x %d, '%s' is %d x %d\n", o.a, A.w, A.h, o.b, B.w,
                B.h);
        goto done;
    }
    x0 = 0;
    y0 = 0;
    rw = A.w;
    rh = A.h;
    if (o.have_roi) {
        if (o.roi[0] + o.roi[2] > A.w || o.roi[1] + o.roi[3] > A.h) {
            fprintf(stderr, "dvren_compare: --roi %ld,%ld,%ld,%ld lies outside the %d x %d images '%s' and '%s'\n",
                    o.roi[0], o.roi[1], o.roi[2], o.roi[3], A.w, A.h, o.a, o.b);
            goto done;
        }
        x0 = (int)o.roi[0];
        y0 = (int)o.roi[1];
        rw = (int)o.roi[2];
        rh = (int)o.roi[3];
    }
    ca = A.c >= 3 ? 3 : 1; /* colour channels */
    cb = B.c >= 3 ? 3 : 1;
    cc = ca == cb ? ca : 3; /* gray against colour: gray as R = G = B */
    alpha = (A.c == 2 || A.c == 4) && (B.c == 2 || B.c == 4);
    if (o.diff) diffpx = (unsigned char*)calloc((size_t)rw * rh * 3, 1);
    if (o.masks) {
        mask_a = (unsigned char*)calloc((size_t)rw * rh, 1);
        mask_b = (unsigned char*)calloc((size_t)rw * rh, 1);
    }
    if ((o.diff && !diffpx) || (o.masks && (!mask_a || !mask_b))) {
        fprintf(stderr, "dvren_compare: out of memory for the output images\n");
        goto done;
    }
    for (y = y0; y < y0 + rh; ++y) {
        for (x = x0; x < x0 + rw; ++x) {
            const double* pa = A.v + ((size_t)y * A.w + x) * A.c;
            const double* pb = B.v + ((size_t)y * B.w + x) * B.c;
            size_t r = (size_t)(y - y0) * rw + (x - x0);
            int ka, kb;
            for (k = 0; k < cc + alpha; ++k) {
                double va, vb, e;
                if (k < cc) {
                    va = pa[ca == 1 ? 0 : k];
                    vb = pb[cb == 1 ? 0 : k];
                } else {
                    va = pa[A.c - 1];
                    vb = pb[B.c - 1];
                }
                e = fabs(va - vb);
                sse += e * e;
                sae += e;
                ++nsamp;
                if (e > maxe) {
                    maxe = e;
                    mx = x;
                    my = y;
                    mch = k < cc ? (cc == 1 ? -1 : k) : 3;
                }
                if (diffpx && k < cc) {
                    double d = e * o.diff_scale;
                    unsigned char q = (unsigned char)(d >= 1.0 ? 255 : (int)(d * 255.0 + 0.5));
                    if (cc == 1) diffpx[3 * r] = diffpx[3 * r + 1] = diffpx[3 * r + 2] = q;
                    else diffpx[3 * r + k] = q;
                }
            }
            if (alpha) {
                ka = pa[A.c - 1] > 0.5;
                kb = pb[B.c - 1] > 0.5;
            } else {
                ka = kb = 0;
                for (k = 0; k < ca; ++k) ka |= pa[k] > o.cov_thr;
                for (k = 0; k < cb; ++k) kb |= pb[k] > o.cov_thr;
            }
            agree += ka == kb;
            cov_a += (size_t)ka;
            cov_b += (size_t)kb;
            if (mask_a) {
                mask_a[r] = ka ? 255 : 0;
                mask_b[r] = kb ? 255 : 0;
            }
        }
    }
    mse = sse / (double)nsamp;
    mae = sae / (double)nsamp;
    psnr = mse > 0 ? 10.0 * log10(o.peak * o.peak / mse) : INFINITY;
    geom = (double)agree / ((double)rw * rh);

    /* outputs: every PNG encoded first, then each written atomically */
    if ((diffpx && dc_encode_png(&enc[0], diffpx, rw, rh, 3)) ||
        (mask_a && (dc_encode_png(&enc[1], mask_a, rw, rh, 1) || dc_encode_png(&enc[2], mask_b, rw, rh, 1)))) {
        fprintf(stderr, "dvren_compare: PNG encoding failed (out of memory)\n");
        goto done;
    }
    if (o.masks) {
        if (snprintf(path_a, sizeof path_a, "%s_a.png", o.masks) >= (int)sizeof path_a ||
            snprintf(path_b, sizeof path_b, "%s_b.png", o.masks) >= (int)sizeof path_b) {
            fprintf(stderr, "dvren_compare: --masks '%s': path too long\n", o.masks);
            goto done;
        }
    }
    if (o.diff && dvren_file_write_atomic(NULL, o.diff, enc[0].data, enc[0].size) != DVREN_OK) {
        fprintf(stderr, "dvren_compare: --diff: %s\n", dvren_last_error(NULL));
        goto done;
    }
    if (o.masks && (dvren_file_write_atomic(NULL, path_a, enc[1].data, enc[1].size) != DVREN_OK ||
                    dvren_file_write_atomic(NULL, path_b, enc[2].data, enc[2].size) != DVREN_OK)) {
        fprintf(stderr, "dvren_compare: --masks: %s\n", dvren_last_error(NULL));
        goto done;
    }

    /* thresholds */
    if (o.have_min_psnr && !(psnr >= o.min_psnr)) {
        strcat(failed, ",min_psnr");
        fprintf(stderr, "dvren_compare: PSNR %.4f dB < --min-psnr %g\n", psnr, o.min_psnr);
    }
    if (o.have_max_error && !(maxe <= o.max_error)) {
        strcat(failed, ",max_error");
        fprintf(stderr, "dvren_compare: max error %.6g > --max-error %g (pixel %d,%d)\n", maxe, o.max_error, mx, my);
    }
    if (o.have_min_geometry && !(geom >= o.min_geometry)) {
        strcat(failed, ",min_geometry");
        fprintf(stderr, "dvren_compare: geometry match %.6f < --min-geometry %g\n", geom, o.min_geometry);
    }
    nfail = failed[0] != 0;

    {
        char ps[32], cname[8];
        const char* cov = alpha ? "alpha" : "nonblack";
        if (isinf(psnr)) snprintf(ps, sizeof ps, o.json ? "\"inf\"" : "inf");
        else snprintf(ps, sizeof ps, "%.6f", psnr);
        snprintf(cname, sizeof cname, "%s", mch < 0 ? "gray" : chan_names[mch]);
        if (o.json) {
            printf("{\"a\": \"%s-%s\", \"b\": \"%s-%s\", \"width\": %d, \"height\": %d, \"roi\": [%d, %d, %d, %d], "
                   "\"channels\": %d, \"mse\": %.9g, \"psnr\": %s, \"peak\": %.9g, \"max_error\": %.9g, "
                   "\"max_error_x\": %d, \"max_error_y\": %d, \"max_error_channel\": \"%s\", \"mean_abs_error\": %.9g, "
                   "\"coverage\": \"%s\", \"coverage_a\": %.9g, \"coverage_b\": %.9g, \"geometry_match\": %.9g, "
                   "\"status\": \"%s\", \"failed\": [",
                   A.kind, dc_layout(A.c), B.kind, dc_layout(B.c), rw, rh, x0, y0, rw, rh, cc + alpha, mse, ps,
                   o.peak, maxe, mx, my, cname, mae, cov, (double)cov_a / ((double)rw * rh),
                   (double)cov_b / ((double)rw * rh), geom, nfail ? "fail" : "pass");
            {
                char* t = failed[0] ? failed + 1 : NULL;
                int first = 1;
                while (t && *t) {
                    char* comma = strchr(t, ',');
                    printf("%s\"%.*s\"", first ? "" : ", ", comma ? (int)(comma - t) : (int)strlen(t), t);
                    first = 0;
                    t = comma ? comma + 1 : NULL;
                }
            }
            printf("]}\n");
        } else {
            printf("a %s-%s\nb %s-%s\nwidth %d\nheight %d\nroi %d,%d,%d,%d\nchannels %d\nmse %.9g\npsnr %s\n"
                   "peak %.9g\nmax_error %.9g\nmax_error_x %d\nmax_error_y %d\nmax_error_channel %s\n"
                   "mean_abs_error %.9g\ncoverage %s\ncoverage_a %.9g\ncoverage_b %.9g\ngeometry_match %.9g\n"
                   "status %s\nfailed %s\n",
                   A.kind, dc_layout(A.c), B.kind, dc_layout(B.c), rw, rh, x0, y0, rw, rh, cc + alpha, mse, ps,
                   o.peak, maxe, mx, my, cname, mae, cov, (double)cov_a / ((double)rw * rh),
                   (double)cov_b / ((double)rw * rh), geom, nfail ? "fail" : "pass",
                   failed[0] ? failed + 1 : "none");
        }
    }
    rc = nfail ? 1 : 0;
done:
    free(A.v);
    free(B.v);
    free(diffpx);
    free(mask_a);
    free(mask_b);
    for (k = 0; k < 3; ++k) dvren_io_buf_free(&enc[k]);
    return rc;
}
