/* plugins/dense_grid/dense_grid_io.c - volume file loaders.
 *
 * Formats and the specifications they follow:
 *   raw   headerless binary; dims, dtype, endianness and header size given
 *   .npy  NumPy format versions 1.0, 2.0, 3.0 (numpy.lib.format, NEP 1):
 *         C order, little-endian, shape (Z, Y, X) or (Z, Y, X, C)
 *   NRRD  teem's NRRD format 1-5 (https://teem.sourceforge.net/nrrd/format.html):
 *         .nrrd with attached data, .nhdr with "data file" as one name, a
 *         printf pattern with min max step, or LIST; raw encoding only
 *   MHD   ITK MetaImage (.mhd + data file, .mha with ElementDataFile = LOCAL)
 *   .dat  QVis description files (ObjectFileName, Resolution, Format)
 *   .vtk  legacy VTK STRUCTURED_POINTS with POINT_DATA SCALARS, ASCII or BINARY
 *         (VTK file formats, "Simple Legacy Formats"; binary is big-endian)
 *   .npz  numpy.savez / savez_compressed: a zip (PKWARE APPNOTE 6.3) of .npy
 *         members, stored or deflated (RFC 1951, through zlib), zip64 sizes
 * Every loader checks that the data holds exactly the bytes the header
 * describes, and that they fit the parameter max_bytes, before it allocates
 * anything; it names the file and the field in its errors. */
#include "dense_grid_io.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* the zip records, shared with the tools (tools/dvren_npz.h) */
#define DVREN_NPZ_IMPLEMENTATION
#include "tools/dvren_npz.h"

#define DG_PATH 4096
#define DG_HEADER_MAX (1u << 20) /* text headers larger than this are not headers */
/* Byte skips and header sizes above 2^53 are no real file's (and a double
 * still counts them exactly); bounding them keeps offset + size far from
 * overflowing a long long. */
#define DG_SKIP_MAX (1LL << 53)

size_t dg_type_size(dg_type t)
{
    switch (t) {
    case DG_U8: case DG_I8: return 1;
    case DG_U16: case DG_I16: case DG_F16: return 2;
    case DG_U32: case DG_I32: case DG_F32: return 4;
    case DG_F64: return 8;
    default: return 0;
    }
}

const char* dg_type_name(dg_type t)
{
    static const char* const n[] = {"invalid", "u8", "i8", "u16", "i16", "u32", "i32", "f16", "f32", "f64"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "invalid";
}

dg_type dg_type_from_name(const char* s)
{
    int t;
    for (t = DG_U8; t <= DG_F64; ++t)
        if (strcmp(s, dg_type_name((dg_type)t)) == 0) return (dg_type)t;
    return DG_INVALID;
}

double dg_get(const dg_volume* v, size_t i)
{
    size_t es = dg_type_size(v->type), k;
    unsigned char b[8];
    const unsigned char* src = v->data + i * es;
    /* dvren's hosts are little-endian (x86-64, AArch64): swap big-endian data */
    if (v->big_endian)
        for (k = 0; k < es; ++k) b[k] = src[es - 1 - k];
    else
        memcpy(b, src, es);
    switch (v->type) {
    case DG_U8: return b[0];
    case DG_I8: return (signed char)b[0];
    case DG_U16: { uint16_t x; memcpy(&x, b, 2); return x; }
    case DG_I16: { int16_t x; memcpy(&x, b, 2); return x; }
    case DG_U32: { uint32_t x; memcpy(&x, b, 4); return x; }
    case DG_I32: { int32_t x; memcpy(&x, b, 4); return x; }
    case DG_F16: { uint16_t x; memcpy(&x, b, 2); return dvren_half_to_float(x); }
    case DG_F32: { float x; memcpy(&x, b, 4); return x; }
    case DG_F64: { double x; memcpy(&x, b, 8); return x; }
    default: return 0.0;
    }
}

void dg_volume_free(const dvren_host* h, dg_volume* v)
{
    if (v->data) h->free(h, v->data, v->bytes);
    v->data = NULL;
    v->bytes = 0;
}

dvren_status dg_check_bytes(const dvren_host* h, dvren_status status, const char* src, const char* what, double bytes,
                            double max_bytes)
{
    if (bytes <= max_bytes) return DVREN_OK;
    return h->fail(h, status, "raise the parameter max_bytes if the memory is there",
                   "'%s': %s needs %.0f bytes, more than max_bytes = %.0f", src, what, bytes, max_bytes);
}

/* ---- small helpers ------------------------------------------------------- */

static int dg_ends_with(const char* s, const char* suffix)
{
    size_t n = strlen(s), m = strlen(suffix), i;
    if (m > n) return 0;
    for (i = 0; i < m; ++i)
        if (tolower((unsigned char)s[n - m + i]) != tolower((unsigned char)suffix[i])) return 0;
    return 1;
}

/* Size of an open file in bytes, or -1. */
static long long dg_file_size(FILE* f)
{
    long long n;
#if defined(_WIN32)
    if (_fseeki64(f, 0, SEEK_END) != 0) return -1;
    n = _ftelli64(f);
    _fseeki64(f, 0, SEEK_SET);
#else
    if (fseek(f, 0, SEEK_END) != 0) return -1;
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
#endif
    return n;
}

static int dg_seek(FILE* f, long long off)
{
#if defined(_WIN32)
    return _fseeki64(f, off, SEEK_SET);
#else
    return fseek(f, (long)off, SEEK_SET);
#endif
}

/* snprintf's result checked: 1 when the text fitted, 0 when it was cut
 * (a cut file name would name another file, or the same one many times). */
static int dg_fits(int n, size_t cap) { return n >= 0 && (size_t)n < cap; }

/* Copies the value of header field `field` of `path` into out, or fails. */
static dvren_status dg_copy_field(const dvren_host* h, const char* path, const char* field, char* out, size_t cap,
                                  const char* val)
{
    if (dg_fits(snprintf(out, cap, "%s", val), cap)) return DVREN_OK;
    return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': field '%s' is longer than %.0f bytes ('%.60s...')", path, field,
                   (double)cap - 1, val);
}

/* Folder part of path (with the trailing '/'), or "" (path fits DG_PATH:
 * callers check it first, in dg_load) */
static void dg_dirname(const char* path, char* out, size_t cap)
{
    const char* s = strrchr(path, '/');
    const char* b = strrchr(path, '\\');
    if (b && (!s || b > s)) s = b;
    if (!s) {
        out[0] = 0;
        return;
    }
    snprintf(out, cap, "%.*s", (int)(s - path + 1), path);
}

/* dir + name (name alone when absolute) into out; fails naming `path`, the
 * file whose header gave the name, when the result does not fit. */
static dvren_status dg_join(const dvren_host* h, const char* path, const char* dir, const char* name, char* out,
                            size_t cap)
{
    int n;
    if (name[0] == '/' || name[0] == '\\' || (name[0] && name[1] == ':'))
        n = snprintf(out, cap, "%s", name);
    else
        n = snprintf(out, cap, "%s%s", dir, name);
    if (dg_fits(n, cap)) return DVREN_OK;
    return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': data file name '%.60s...' is longer than %.0f bytes with its folder",
                   path, name, (double)cap - 1);
}

/* A byte skip or header size: a whole number in [-1, DG_SKIP_MAX] (-1: the
 * data are the last bytes of the file). */
static dvren_status dg_parse_skip(const dvren_host* h, const char* path, const char* field, const char* val,
                                  long long* out)
{
    char* e;
    long long x;
    errno = 0;
    x = strtoll(val, &e, 10);
    while (e != val && isspace((unsigned char)*e)) ++e;
    if (e == val || *e || errno == ERANGE || x < -1 || x > DG_SKIP_MAX)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': field '%s' is '%.40s' (a whole number from -1 to 2^53)",
                       path, field, val);
    *out = x;
    return DVREN_OK;
}

static char* dg_trim(char* s)
{
    char* e;
    while (*s && isspace((unsigned char)*s)) ++s;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* Reads a whole (small) text file; *text is NUL-terminated, host-allocated. */
static dvren_status dg_read_text(const dvren_host* h, const char* path, char** text, size_t* len)
{
    FILE* f = fopen(path, "rb");
    long long n;
    *text = NULL;
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    n = dg_file_size(f);
    if (n < 0) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_IO, NULL, "cannot read '%s'", path);
    }
    if (n > (long long)DG_HEADER_MAX) n = DG_HEADER_MAX; /* a header is at the start; data may follow */
    *text = (char*)h->alloc(h, (size_t)n + 1);
    if (!*text) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory reading '%s'", path);
    }
    if (fread(*text, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        h->free(h, *text, (size_t)n + 1);
        *text = NULL;
        return h->fail(h, DVREN_ERROR_IO, NULL, "cannot read '%s'", path);
    }
    fclose(f);
    (*text)[n] = 0;
    *len = (size_t)n;
    return DVREN_OK;
}

static void dg_describe(const dg_volume* v, char* buf, size_t cap)
{
    snprintf(buf, cap, "%u x %u x %u voxels x %u channel(s) of %s", (unsigned)v->dims[0], (unsigned)v->dims[1],
             (unsigned)v->dims[2], (unsigned)v->channels, dg_type_name(v->type));
}

/* Checks the volume's dims, channels and type and sets v->bytes (nothing is
 * allocated yet: the loaders first check that the file holds that much, so
 * a header that lies about its size never makes us allocate). */
static dvren_status dg_plan_data(const dvren_host* h, const char* path, dg_volume* v)
{
    size_t n = dg_type_size(v->type);
    double bytes;
    char what[160];
    int a;
    if (!n) return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': unknown element type", path);
    if (v->channels < 1 || v->channels > DVREN_MAX_CHANNELS)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': %u channels (dense_grid takes 1..%d)", path,
                       (unsigned)v->channels, DVREN_MAX_CHANNELS);
    bytes = (double)n * v->channels;
    for (a = 0; a < 3; ++a) {
        if (v->dims[a] < 1)
            return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': dimension %d is %u", path, a, (unsigned)v->dims[a]);
        bytes *= v->dims[a]; /* in double: exact below 2^53, and never overflows */
    }
    dg_describe(v, what, sizeof what);
    if (dg_check_bytes(h, DVREN_ERROR_FORMAT, path, what, bytes, v->max_bytes) != DVREN_OK) return DVREN_ERROR_FORMAT;
    v->bytes = (size_t)bytes;
    return DVREN_OK;
}

/* Allocates v->data (v->bytes, set by dg_plan_data). */
static dvren_status dg_alloc_data(const dvren_host* h, const char* path, dg_volume* v)
{
    v->data = (unsigned char*)h->alloc(h, v->bytes);
    if (!v->data) {
        size_t n = v->bytes;
        v->bytes = 0;
        return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "'%s': cannot allocate %.0f bytes", path, (double)n);
    }
    return DVREN_OK;
}

/* Checks that `path` holds exactly skip + n bytes (skip < 0: at least n,
 * the data being the last n bytes) and returns the offset of the data in
 * *offset. `what` describes the expected layout for the message. */
static dvren_status dg_check_exact(const dvren_host* h, const char* path, long long skip, size_t n, const char* what,
                                   long long* offset)
{
    FILE* f = fopen(path, "rb");
    long long size;
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open data file '%s': %s", path, strerror(errno));
    size = dg_file_size(f);
    fclose(f);
    if (size < 0) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot tell the size of data file '%s'", path);
    /* n <= max_bytes and skip <= DG_SKIP_MAX (both < 2^63), and the sums are
     * written as differences, so nothing here overflows */
    if (skip < 0) skip = size - (long long)n;
    if (skip < 0 || skip > size || (unsigned long long)(size - skip) != n)
        return h->fail(h, DVREN_ERROR_FORMAT, "check the dimensions, the element type and the header size",
                       "'%s' has %lld bytes, but %s needs %.0f bytes after a %lld-byte header (%s)", path, size, what,
                       (double)n, skip < 0 ? 0LL : skip,
                       skip < 0 || skip > size || (unsigned long long)(size - skip) < n
                           ? "the file is truncated or the dims are too large"
                           : "the dims are too small or the header size is wrong");
    *offset = skip;
    return DVREN_OK;
}

/* Reads exactly `n` bytes of data from `path` at offset `skip` into dst; the
 * file must hold exactly skip + n bytes (skip < 0: the data are the last n
 * bytes). */
static dvren_status dg_read_exact(const dvren_host* h, const char* path, long long skip, unsigned char* dst, size_t n,
                                  const char* what)
{
    FILE* f;
    dvren_status s = dg_check_exact(h, path, skip, n, what, &skip);
    if (s != DVREN_OK) return s;
    f = fopen(path, "rb");
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open data file '%s': %s", path, strerror(errno));
    if (dg_seek(f, skip) != 0 || fread(dst, 1, n, f) != n) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_IO, NULL, "reading '%s' failed", path);
    }
    fclose(f);
    return DVREN_OK;
}

/* The common case: the whole volume in one file at `skip` (see dg_read_exact).
 * Checks the file's size, then allocates, then reads. */
static dvren_status dg_read_volume(const dvren_host* h, const char* path, long long skip, dg_volume* v,
                                   const char* what)
{
    long long off;
    dvren_status s = dg_check_exact(h, path, skip, v->bytes, what, &off);
    if (s == DVREN_OK) s = dg_alloc_data(h, path, v);
    if (s == DVREN_OK) s = dg_read_exact(h, path, off, v->data, v->bytes, what);
    return s;
}

/* ---- raw ------------------------------------------------------------------------ */

static dvren_status dg_load_raw(const dvren_host* h, const dvren_params* p, const char* path, dg_volume* v)
{
    const double* dims;
    const char* dt = h->param_string(p, "dtype");
    char what[160];
    dvren_status s;
    if (h->param_numbers(p, "dims", &dims) != 3)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "give \"dims\": [X, Y, Z] for a raw file",
                       "'%s': raw data needs parameter 'dims'", path);
    if (!dt)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "give \"dtype\": one of u8 i8 u16 i16 u32 i32 f16 f32 f64",
                       "'%s': raw data needs parameter 'dtype'", path);
    if (dims[0] != floor(dims[0]) || dims[1] != floor(dims[1]) || dims[2] != floor(dims[2]))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "'%s': parameter 'dims' [%g, %g, %g] must be whole numbers",
                       path, dims[0], dims[1], dims[2]);
    v->dims[0] = (uint32_t)dims[0];
    v->dims[1] = (uint32_t)dims[1];
    v->dims[2] = (uint32_t)dims[2];
    v->channels = (uint32_t)h->param_number(p, "channels");
    v->type = dg_type_from_name(dt);
    v->big_endian = strcmp(h->param_string(p, "endian"), "big") == 0;
    s = dg_plan_data(h, path, v);
    if (s != DVREN_OK) return s;
    dg_describe(v, what, sizeof what);
    return dg_read_volume(h, path, (long long)h->param_number(p, "header_bytes"), v, what);
}

/* ---- .npy ---------------------------------------------------------------------- */

typedef struct dg_npy_lex {
    const char* s;
    const char* end;
} dg_npy_lex;

static void dg_npy_ws(dg_npy_lex* L)
{
    while (L->s < L->end && isspace((unsigned char)*L->s)) L->s++;
}
static int dg_npy_char(dg_npy_lex* L, char c)
{
    dg_npy_ws(L);
    if (L->s < L->end && *L->s == c) {
        L->s++;
        return 1;
    }
    return 0;
}
/* A quoted Python string literal into out. */
static int dg_npy_str(dg_npy_lex* L, char* out, size_t cap)
{
    char q;
    size_t n = 0;
    dg_npy_ws(L);
    if (L->s >= L->end || (*L->s != '\'' && *L->s != '"')) return 0;
    q = *L->s++;
    while (L->s < L->end && *L->s != q) {
        if (n + 1 < cap) out[n++] = *L->s;
        L->s++;
    }
    if (L->s >= L->end) return 0;
    L->s++;
    out[n] = 0;
    return 1;
}

/* The .npy preamble: the magic, the version and the header length, from
 * the first n (<= 12) bytes of a stream of `avail` bytes. path names the
 * file in messages. */
static dvren_status dg_npy_preamble(const dvren_host* h, const char* path, const unsigned char* pre, size_t n,
                                    unsigned long long avail, size_t* hoff, size_t* hlen)
{
    if (n < 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s' is not a .npy file (no \\x93NUMPY magic)", path);
    if (pre[6] == 1) {
        *hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
        *hoff = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (n < 12) return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy header is truncated", path);
        *hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
        *hoff = 12;
    } else {
        return h->fail(h, DVREN_ERROR_FORMAT, "save it with numpy.save (format 1.0 or 2.0)",
                       "'%s': .npy format version %u.%u is not supported", path, (unsigned)pre[6], (unsigned)pre[7]);
    }
    if (*hlen == 0 || *hlen > DG_HEADER_MAX || avail < *hoff + *hlen)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy header length %.0f is corrupt", path, (double)*hlen);
    return DVREN_OK;
}

/* Parses the .npy header dict hdr (hlen bytes, NUL-terminated) into v's
 * type, dims and channels, and plans v's bytes (dg_plan_data). */
static dvren_status dg_npy_dict(const dvren_host* h, const char* path, const char* hdr, size_t hlen, dg_volume* v)
{
    char descr[64] = "", key[64];
    int fortran = -1, have_shape = 0, ndim = 0, i;
    long long shape[8];
    dg_npy_lex L;
    dvren_status s = DVREN_OK;
    /* the header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5), } */
    L.s = hdr;
    L.end = hdr + hlen;
    if (!dg_npy_char(&L, '{')) goto corrupt;
    while (!dg_npy_char(&L, '}')) {
        if (!dg_npy_str(&L, key, sizeof key) || !dg_npy_char(&L, ':')) goto corrupt;
        if (strcmp(key, "descr") == 0) {
            if (!dg_npy_str(&L, descr, sizeof descr)) {
                s = h->fail(h, DVREN_ERROR_FORMAT, "save a plain numeric array",
                            "'%s': .npy 'descr' is not a simple type (structured arrays are not supported)", path);
                goto done;
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            dg_npy_ws(&L);
            if (L.end - L.s >= 4 && strncmp(L.s, "True", 4) == 0) {
                fortran = 1;
                L.s += 4;
            } else if (L.end - L.s >= 5 && strncmp(L.s, "False", 5) == 0) {
                fortran = 0;
                L.s += 5;
            } else
                goto corrupt;
        } else if (strcmp(key, "shape") == 0) {
            if (!dg_npy_char(&L, '(')) goto corrupt;
            while (!dg_npy_char(&L, ')')) {
                char* e;
                long long x;
                dg_npy_ws(&L);
                x = strtoll(L.s, &e, 10);
                if (e == L.s || ndim >= 8 || x < 0) goto corrupt;
                shape[ndim++] = x;
                L.s = e;
                if (!dg_npy_char(&L, ',')) {
                    if (!dg_npy_char(&L, ')')) goto corrupt;
                    break;
                }
            }
            have_shape = 1;
        } else {
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': unexpected key '%s' in the .npy header", path, key);
            goto done;
        }
        if (!dg_npy_char(&L, ',')) {
            if (!dg_npy_char(&L, '}')) goto corrupt;
            break;
        }
    }
    if (!descr[0] || fortran < 0 || !have_shape) goto corrupt;
    if (fortran) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "save np.ascontiguousarray(a) instead",
                    "'%s': Fortran-order .npy arrays are not supported (C order only)", path);
        goto done;
    }
    if (descr[0] == '>' && strcmp(descr + 1, "u1") && strcmp(descr + 1, "i1")) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "convert with a.astype(a.dtype.newbyteorder('<'))",
                    "'%s': big-endian .npy data ('%s') is not supported (little-endian only)", path, descr);
        goto done;
    }
    {
        static const char* const codes[][2] = {{"u1", "u8"},   {"i1", "i8"},   {"u2", "u16"}, {"i2", "i16"},
                                               {"u4", "u32"},  {"i4", "i32"},  {"f2", "f16"}, {"f4", "f32"},
                                               {"f8", "f64"},  {"b1", "u8"}};
        const char* c = (descr[0] == '<' || descr[0] == '|' || descr[0] == '=') ? descr + 1 : descr;
        size_t k;
        v->type = DG_INVALID;
        for (k = 0; k < sizeof codes / sizeof codes[0]; ++k)
            if (strcmp(c, codes[k][0]) == 0) v->type = dg_type_from_name(codes[k][1]);
        if (v->type == DG_INVALID) {
            s = h->fail(h, DVREN_ERROR_FORMAT, "use uint8, int8, uint16, int16, uint32, int32, float16, float32 or float64",
                        "'%s': .npy dtype '%s' is not supported", path, descr);
            goto done;
        }
    }
    if (ndim != 3 && ndim != 4) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "save the volume as (Z, Y, X) or (Z, Y, X, C)",
                    "'%s': .npy shape has %d dimensions (3 or 4 expected)", path, ndim);
        goto done;
    }
    for (i = 0; i < ndim; ++i)
        if (shape[i] < 1 || shape[i] > (1 << 20)) {
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy shape[%d] = %lld is out of range", path, i, shape[i]);
            goto done;
        }
    v->dims[0] = (uint32_t)shape[2];
    v->dims[1] = (uint32_t)shape[1];
    v->dims[2] = (uint32_t)shape[0];
    v->channels = ndim == 4 ? (uint32_t)shape[3] : 1u;
    v->big_endian = 0;
    return dg_plan_data(h, path, v);
corrupt:
    s = h->fail(h, DVREN_ERROR_FORMAT, "write it with numpy.save",
                "'%s': .npy header is corrupt (expected {'descr': ..., 'fortran_order': ..., 'shape': (...)})", path);
done:
    return s;
}

static dvren_status dg_load_npy(const dvren_host* h, const char* path, dg_volume* v)
{
    FILE* f = fopen(path, "rb");
    unsigned char pre[12];
    size_t hlen = 0, hoff = 0, n;
    long long size;
    char* hdr = NULL;
    char what[160];
    dvren_status s;
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    size = dg_file_size(f);
    n = fread(pre, 1, sizeof pre, f);
    s = dg_npy_preamble(h, path, pre, n, size < 0 ? 0ull : (unsigned long long)size, &hoff, &hlen);
    if (s != DVREN_OK) {
        fclose(f);
        return s;
    }
    hdr = (char*)h->alloc(h, hlen + 1);
    if (!hdr) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    }
    if (dg_seek(f, (long long)hoff) != 0 || fread(hdr, 1, hlen, f) != hlen)
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy header is truncated", path);
    fclose(f);
    if (s == DVREN_OK) {
        hdr[hlen] = 0;
        s = dg_npy_dict(h, path, hdr, hlen, v);
    }
    if (s == DVREN_OK) {
        dg_describe(v, what, sizeof what);
        s = dg_read_volume(h, path, (long long)(hoff + hlen), v, what);
    }
    h->free(h, hdr, hlen + 1);
    return s;
}

/* ---- shared by NRRD, MetaImage, QVis: element type names -------------------------- */

static dg_type dg_nrrd_type(const char* s)
{
    static const char* const t[][2] = {
        {"signed char", "i8"}, {"int8", "i8"}, {"int8_t", "i8"}, {"uchar", "u8"}, {"unsigned char", "u8"},
        {"uint8", "u8"}, {"uint8_t", "u8"}, {"short", "i16"}, {"short int", "i16"}, {"signed short", "i16"},
        {"signed short int", "i16"}, {"int16", "i16"}, {"int16_t", "i16"}, {"ushort", "u16"},
        {"unsigned short", "u16"}, {"unsigned short int", "u16"}, {"uint16", "u16"}, {"uint16_t", "u16"},
        {"int", "i32"}, {"signed int", "i32"}, {"int32", "i32"}, {"int32_t", "i32"}, {"uint", "u32"},
        {"unsigned int", "u32"}, {"uint32", "u32"}, {"uint32_t", "u32"}, {"float", "f32"}, {"double", "f64"}};
    size_t k;
    for (k = 0; k < sizeof t / sizeof t[0]; ++k)
        if (strcmp(s, t[k][0]) == 0) return dg_type_from_name(t[k][1]);
    return DG_INVALID;
}

/* ---- NRRD ------------------------------------------------------------------------ */

/* The next non-blank line at or after l (trailing spaces and '\r' removed)
 * into out; returns where the following line starts, or NULL at the end.
 * A line that does not fit out sets *too_long (and out holds its start). */
static char* dg_next_name(char* l, char* out, size_t cap, int* too_long)
{
    while (l && *l) {
        char* e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        char* after = e ? e + 1 : l + n;
        while (n && (l[n - 1] == '\r' || l[n - 1] == ' ')) --n;
        if (n) {
            if (n >= cap) *too_long = 1;
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), l);
            return after;
        }
        l = after;
    }
    return NULL;
}

static dvren_status dg_load_nrrd(const dvren_host* h, const char* path, dg_volume* v)
{
    char* text = NULL;
    size_t len = 0, header_end = 0;
    char dir[DG_PATH], *line, *next, *lines_after = NULL;
    char encoding[64] = "", datafile[DG_PATH] = "", what[160];
    int dim = 0, nsizes = 0, have_endian = 0, detached = 0, list = 0;
    long long sizes[4] = {0, 0, 0, 0}, line_skip = 0, byte_skip = 0;
    double spac[4] = {NAN, NAN, NAN, NAN};
    int have_spacings = 0;
    dvren_status s;
    s = dg_read_text(h, path, &text, &len);
    if (s != DVREN_OK) return s;
    dg_dirname(path, dir, sizeof dir);
    if (len < 8 || strncmp(text, "NRRD000", 7) != 0 || text[7] < '1' || text[7] > '5') {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s' is not a NRRD file (no NRRD0001..NRRD0005 magic)", path);
        goto done;
    }
    line = text;
    for (;;) {
        char* colon;
        char* val;
        next = strchr(line, '\n');
        if (next) *next = 0;
        if (line != text) {
            char* l = line;
            size_t ll = strlen(l);
            if (ll && l[ll - 1] == '\r') l[--ll] = 0;
            if (ll == 0) { /* blank line: end of header, attached data follows */
                header_end = next ? (size_t)(next + 1 - text) : len;
                break;
            }
            if (l[0] != '#' && !strstr(l, ":=")) {
                colon = strstr(l, ": ");
                if (!colon) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': malformed NRRD header line '%.80s'", path, l);
                    goto done;
                }
                *colon = 0;
                val = dg_trim(colon + 2);
                if (!strcmp(l, "type")) {
                    v->type = dg_nrrd_type(val);
                    if (v->type == DG_INVALID) {
                        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': NRRD type '%s' is not supported", path, val);
                        goto done;
                    }
                } else if (!strcmp(l, "dimension")) {
                    dim = atoi(val);
                } else if (!strcmp(l, "sizes")) {
                    char* e = val;
                    nsizes = 0;
                    while (*e && nsizes < 64) {
                        char* e2;
                        long long x = strtoll(e, &e2, 10);
                        if (e2 == e) break;
                        if (nsizes < 4) sizes[nsizes] = x;
                        nsizes++;
                        e = e2;
                    }
                } else if (!strcmp(l, "spacings")) {
                    char* e = val;
                    int k;
                    for (k = 0; k < 4 && *e; ++k) {
                        char* e2;
                        while (*e == ' ') ++e;
                        if (!strncmp(e, "nan", 3) || !strncmp(e, "NaN", 3)) {
                            spac[k] = NAN;
                            e += 3;
                            continue;
                        }
                        spac[k] = strtod(e, &e2);
                        if (e2 == e) break;
                        e = e2;
                    }
                    have_spacings = 1;
                } else if (!strcmp(l, "space directions")) {
                    /* "(a,b,c) (d,e,f) (g,h,i)" possibly led by "none" for a channel axis */
                    char* e = val;
                    int k = 0;
                    while (*e && k < 4) {
                        while (*e == ' ') ++e;
                        if (!strncmp(e, "none", 4)) {
                            spac[k++] = NAN;
                            e += 4;
                        } else if (*e == '(') {
                            double c[3] = {0, 0, 0};
                            int m;
                            ++e;
                            for (m = 0; m < 3; ++m) {
                                char* e2;
                                c[m] = strtod(e, &e2);
                                e = e2;
                                while (*e == ',' || *e == ' ') ++e;
                            }
                            while (*e && *e != ')') ++e;
                            if (*e) ++e;
                            spac[k++] = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
                        } else
                            break;
                    }
                    have_spacings = 1;
                } else if (!strcmp(l, "endian")) {
                    if (!strcmp(val, "little")) v->big_endian = 0;
                    else if (!strcmp(val, "big")) v->big_endian = 1;
                    else {
                        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': NRRD endian '%s' (little or big)", path, val);
                        goto done;
                    }
                    have_endian = 1;
                } else if (!strcmp(l, "encoding")) {
                    snprintf(encoding, sizeof encoding, "%s", val);
                } else if (!strcmp(l, "data file") || !strcmp(l, "datafile")) {
                    if ((s = dg_copy_field(h, path, "data file", datafile, sizeof datafile, val)) != DVREN_OK) goto done;
                    detached = 1;
                    if (!strncmp(val, "LIST", 4)) {
                        list = 1;
                        lines_after = next ? next + 1 : NULL; /* file names follow, one per line */
                        break;
                    }
                } else if (!strcmp(l, "line skip") || !strcmp(l, "lineskip")) {
                    if ((s = dg_parse_skip(h, path, "line skip", val, &line_skip)) != DVREN_OK) goto done;
                } else if (!strcmp(l, "byte skip") || !strcmp(l, "byteskip")) {
                    if ((s = dg_parse_skip(h, path, "byte skip", val, &byte_skip)) != DVREN_OK) goto done;
                }
                /* other fields (kinds, centers, space, origin, labels, ...) do not change the samples */
            }
        }
        if (!next) {
            header_end = len;
            break;
        }
        line = next + 1;
    }
    if (!v->type || !dim || !encoding[0] || nsizes != dim) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL,
                    "'%s': NRRD header lacks a required field (type, dimension, sizes matching dimension, encoding)",
                    path);
        goto done;
    }
    if (strcmp(encoding, "raw") != 0) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "convert it with: unu save -e raw -i in.nrrd -o out.nrrd",
                    "'%s': NRRD encoding '%s' is not supported (only raw)", path, encoding);
        goto done;
    }
    if (dg_type_size(v->type) > 1 && !have_endian) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': NRRD field 'endian' is required for type %s", path,
                    dg_type_name(v->type));
        goto done;
    }
    if (line_skip != 0) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': NRRD 'line skip' is not supported for raw data", path);
        goto done;
    }
    if (dim == 3) {
        v->channels = 1;
        v->dims[0] = (uint32_t)sizes[0];
        v->dims[1] = (uint32_t)sizes[1];
        v->dims[2] = (uint32_t)sizes[2];
    } else if (dim == 4) {
        v->channels = (uint32_t)sizes[0];
        v->dims[0] = (uint32_t)sizes[1];
        v->dims[1] = (uint32_t)sizes[2];
        v->dims[2] = (uint32_t)sizes[3];
        spac[0] = spac[1];
        spac[1] = spac[2];
        spac[2] = spac[3];
    } else {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': NRRD dimension %d (dense_grid takes 3, or 4 with channels first)",
                    path, dim);
        goto done;
    }
    if (sizes[0] < 1 || sizes[1] < 1 || sizes[2] < 1 || (dim == 4 && sizes[3] < 1) || sizes[0] > (1 << 20) ||
        sizes[1] > (1 << 20) || sizes[2] > (1 << 20) || sizes[3] > (1 << 20)) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': NRRD sizes are out of range", path);
        goto done;
    }
    if (have_spacings && isfinite(spac[0]) && isfinite(spac[1]) && isfinite(spac[2]) && spac[0] > 0 &&
        spac[1] > 0 && spac[2] > 0) {
        v->spacing[0] = spac[0];
        v->spacing[1] = spac[1];
        v->spacing[2] = spac[2];
        v->has_spacing = 1;
    }
    s = dg_plan_data(h, path, v);
    if (s != DVREN_OK) goto done;
    dg_describe(v, what, sizeof what);
    if (!detached) {
        s = dg_read_volume(h, path, byte_skip < 0 ? -1 : (long long)header_end + byte_skip, v, what);
        goto done;
    }
    {
        /* detached: one file, a numbered pattern, or a LIST; each file holds an equal share */
        char name[DG_PATH], full[DG_PATH];
        long long first = 0, last = 0, step = 1, nfiles = 1, k, off;
        int pattern = 0, pass, too_long = 0;
        size_t share;
        if (list) {
            char* l = lines_after;
            nfiles = 0;
            /* stop counting past the slices: the check below refuses that many */
            while (nfiles <= (long long)v->dims[2] && (l = dg_next_name(l, name, sizeof name, &too_long)) != NULL)
                nfiles++;
        } else if (strchr(datafile, '%')) {
            char fmt[DG_PATH];
            const char* pc;
            const char* q = NULL;
            if (sscanf(datafile, "%4095s %lld %lld %lld", fmt, &first, &last, &step) < 4 || step == 0 ||
                first < -2147483647LL || first > 2147483647LL || last < -2147483647LL || last > 2147483647LL ||
                step < -2147483647LL || step > 2147483647LL || (last - first) / step < 0) {
                s = h->fail(h, DVREN_ERROR_FORMAT, "e.g. \"data file: slice.%d 1 93 1\"",
                            "'%s': NRRD 'data file: %.80s' is not '<pattern> <min> <max> <step>' with int min, max, step",
                            path, datafile);
                goto done;
            }
            /* allow exactly one integer conversion: %d, %0Nd, %Nd, with N at
             * most 2 digits (printf pads to any width: %999999999d takes
             * seconds per name and cannot fit a path anyway) */
            pc = strchr(fmt, '%');
            if (pc) {
                const char* w;
                q = pc + 1;
                if (*q == '0') ++q; /* the zero-padding flag */
                for (w = q; *q >= '0' && *q <= '9' && q - w < 2; ++q) {}
            }
            if (!q || *q != 'd' || strchr(q, '%')) {
                s = h->fail(h, DVREN_ERROR_FORMAT, NULL,
                            "'%s': NRRD 'data file: %.80s': the file name pattern '%.80s' must hold one %%d (field "
                            "width at most 99)", path, datafile, fmt);
                goto done;
            }
            snprintf(datafile, sizeof datafile, "%s", fmt);
            nfiles = (last - first) / step + 1;
            pattern = 1;
        }
        if (too_long) {
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': a data file name in the LIST is longer than %d bytes", path,
                        DG_PATH - 1);
            goto done;
        }
        /* each file holds the same number of slices of the slowest axis (the
         * NRRD format, without the optional subdim): so there are at most as
         * many files as slices, which also bounds the work a header can ask for */
        if (nfiles < 1 || nfiles > (long long)v->dims[2] || v->dims[2] % (uint32_t)nfiles) {
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': %lld data files cannot hold equal shares of the %u slices of %s",
                        path, nfiles, (unsigned)v->dims[2], what);
            goto done;
        }
        share = v->bytes / (size_t)nfiles;
        /* pass 0 checks every file's size, pass 1 allocates and reads: a
         * header that promises more than its files hold allocates nothing */
        for (pass = 0; pass < 2; ++pass) {
            char* l = lines_after;
            if (pass == 1 && (s = dg_alloc_data(h, path, v)) != DVREN_OK) goto done;
            for (k = 0; k < nfiles; ++k) {
                int fits = 1;
                if (list) {
                    l = dg_next_name(l, name, sizeof name, &too_long);
                } else if (pattern) {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
                    fits = dg_fits(snprintf(name, sizeof name, datafile, (int)(first + k * step)), sizeof name);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
                } else {
                    snprintf(name, sizeof name, "%s", datafile); /* fits: both are DG_PATH long */
                }
                if (!fits) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': data file name %lld of pattern '%.80s' is longer than "
                                "%d bytes", path, k, datafile, DG_PATH - 1);
                    goto done;
                }
                if ((s = dg_join(h, path, dir, name, full, sizeof full)) != DVREN_OK) goto done;
                if (pass == 0)
                    s = dg_check_exact(h, full, byte_skip, share, nfiles > 1 ? "its share of the volume" : what, &off);
                else
                    s = dg_read_exact(h, full, byte_skip, v->data + (size_t)k * share, share,
                                      nfiles > 1 ? "its share of the volume" : what);
                if (s != DVREN_OK) goto done;
            }
        }
    }
done:
    if (text) h->free(h, text, len + 1);
    return s;
}

/* ---- MetaImage ------------------------------------------------------------------- */

static dvren_status dg_load_mhd(const dvren_host* h, const char* path, dg_volume* v)
{
    char* text = NULL;
    size_t len = 0, data_off = 0;
    char dir[DG_PATH], datafile[DG_PATH] = "", full[DG_PATH], what[160];
    char* line = NULL;
    int ndims = 0, ndimsize = 0, have_type = 0, local = 0;
    long long dimsize[4] = {0, 0, 0, 0}, header_size = 0;
    double spacing[3] = {0, 0, 0}, elemsize[3] = {0, 0, 0};
    dvren_status s = dg_read_text(h, path, &text, &len);
    if (s != DVREN_OK) return s;
    dg_dirname(path, dir, sizeof dir);
    v->channels = 1;
    line = text;
    while (line && *line) {
        char* next = strchr(line, '\n');
        char *eq, *key, *val;
        if (next) *next = 0;
        eq = strchr(line, '=');
        if (eq) {
            *eq = 0;
            key = dg_trim(line);
            val = dg_trim(eq + 1);
            if (!strcmp(key, "NDims")) ndims = atoi(val);
            else if (!strcmp(key, "DimSize")) {
                char* e = val;
                ndimsize = 0;
                while (*e && ndimsize < 4) {
                    char* e2;
                    long long x = strtoll(e, &e2, 10);
                    if (e2 == e) break;
                    dimsize[ndimsize++] = x;
                    e = e2;
                }
            } else if (!strcmp(key, "ElementSpacing") || !strcmp(key, "ElementSize")) {
                double* dst = !strcmp(key, "ElementSpacing") ? spacing : elemsize;
                sscanf(val, "%lf %lf %lf", &dst[0], &dst[1], &dst[2]);
            } else if (!strcmp(key, "ElementType")) {
                static const char* const t[][2] = {{"MET_UCHAR", "u8"},  {"MET_CHAR", "i8"},   {"MET_USHORT", "u16"},
                                                   {"MET_SHORT", "i16"}, {"MET_UINT", "u32"},  {"MET_INT", "i32"},
                                                   {"MET_FLOAT", "f32"}, {"MET_DOUBLE", "f64"}};
                size_t k;
                for (k = 0; k < sizeof t / sizeof t[0]; ++k)
                    if (!strcmp(val, t[k][0])) v->type = dg_type_from_name(t[k][1]);
                if (!v->type) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': MetaImage ElementType '%s' is not supported", path,
                                val);
                    goto done;
                }
                have_type = 1;
            } else if (!strcmp(key, "ElementNumberOfChannels")) {
                v->channels = (uint32_t)atoi(val);
            } else if (!strcmp(key, "ElementByteOrderMSB") || !strcmp(key, "BinaryDataByteOrderMSB") ||
                       !strcmp(key, "ByteOrderMSB")) {
                v->big_endian = !strcmp(val, "True") || !strcmp(val, "true") || !strcmp(val, "1");
            } else if (!strcmp(key, "BinaryData")) {
                if (!strcmp(val, "False") || !strcmp(val, "false") || !strcmp(val, "0")) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, "write it with BinaryData = True",
                                "'%s': MetaImage BinaryData = False (ASCII data) is not supported", path);
                    goto done;
                }
            } else if (!strcmp(key, "CompressedData")) {
                if (!strcmp(val, "True") || !strcmp(val, "true")) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, "write it uncompressed (CompressedData = False)",
                                "'%s': compressed MetaImage data is not supported", path);
                    goto done;
                }
            } else if (!strcmp(key, "HeaderSize")) {
                if ((s = dg_parse_skip(h, path, "HeaderSize", val, &header_size)) != DVREN_OK) goto done;
            } else if (!strcmp(key, "ElementDataFile")) {
                if ((s = dg_copy_field(h, path, "ElementDataFile", datafile, sizeof datafile, val)) != DVREN_OK) goto done;
                if (!strcmp(val, "LOCAL")) {
                    local = 1;
                    data_off = next ? (size_t)(next + 1 - text) : len;
                }
                break; /* by the specification, the last field of the header */
            }
        }
        line = next ? next + 1 : NULL;
    }
    if (!ndims || ndimsize != ndims || !have_type || !datafile[0]) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL,
                    "'%s': MetaImage header lacks NDims, a matching DimSize, ElementType or ElementDataFile", path);
        goto done;
    }
    if (ndims != 3) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': MetaImage NDims = %d (dense_grid takes 3)", path, ndims);
        goto done;
    }
    if (!local && (!strncmp(datafile, "LIST", 4) || strchr(datafile, '%'))) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "join the slices into one file", "'%s': MetaImage data file lists and "
                    "patterns are not supported ('%s')", path, datafile);
        goto done;
    }
    if (dimsize[0] < 1 || dimsize[1] < 1 || dimsize[2] < 1 || dimsize[0] > (1 << 20) || dimsize[1] > (1 << 20) ||
        dimsize[2] > (1 << 20)) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': MetaImage DimSize is out of range", path);
        goto done;
    }
    v->dims[0] = (uint32_t)dimsize[0];
    v->dims[1] = (uint32_t)dimsize[1];
    v->dims[2] = (uint32_t)dimsize[2];
    if (spacing[0] <= 0 && elemsize[0] > 0) memcpy(spacing, elemsize, sizeof spacing);
    if (spacing[0] > 0 && spacing[1] > 0 && spacing[2] > 0) {
        memcpy(v->spacing, spacing, sizeof spacing);
        v->has_spacing = 1;
    }
    s = dg_plan_data(h, path, v);
    if (s != DVREN_OK) goto done;
    dg_describe(v, what, sizeof what);
    if (local)
        s = dg_read_volume(h, path, header_size < 0 ? -1 : (long long)data_off + header_size, v, what);
    else if ((s = dg_join(h, path, dir, datafile, full, sizeof full)) == DVREN_OK)
        s = dg_read_volume(h, full, header_size, v, what);
done:
    if (text) h->free(h, text, len + 1);
    return s;
}

/* ---- QVis .dat --------------------------------------------------------------------- */

static dvren_status dg_load_dat(const dvren_host* h, const char* path, dg_volume* v)
{
    char* text = NULL;
    size_t len = 0;
    char dir[DG_PATH], object[DG_PATH] = "", full[DG_PATH], what[160], *line;
    int have_res = 0;
    dvren_status s = dg_read_text(h, path, &text, &len);
    if (s != DVREN_OK) return s;
    dg_dirname(path, dir, sizeof dir);
    v->channels = 1;
    for (line = text; line && *line;) {
        char* next = strchr(line, '\n');
        char* colon;
        if (next) *next = 0;
        colon = strchr(line, ':');
        if (colon) {
            char* key;
            char* val;
            *colon = 0;
            key = dg_trim(line);
            val = dg_trim(colon + 1);
            if (!strcmp(key, "ObjectFileName")) {
                if ((s = dg_copy_field(h, path, "ObjectFileName", object, sizeof object, val)) != DVREN_OK) goto done;
            } else if (!strcmp(key, "Resolution")) {
                unsigned x, y, z;
                if (sscanf(val, "%u %u %u", &x, &y, &z) == 3) {
                    v->dims[0] = x;
                    v->dims[1] = y;
                    v->dims[2] = z;
                    have_res = 1;
                }
            } else if (!strcmp(key, "SliceThickness")) {
                if (sscanf(val, "%lf %lf %lf", &v->spacing[0], &v->spacing[1], &v->spacing[2]) == 3 &&
                    v->spacing[0] > 0 && v->spacing[1] > 0 && v->spacing[2] > 0)
                    v->has_spacing = 1;
            } else if (!strcmp(key, "Format")) {
                /* whole words: "UCHAR4" (RGBA) or "USHORT_12" are other layouts */
                if (!strcmp(val, "UCHAR")) v->type = DG_U8;
                else if (!strcmp(val, "USHORT")) v->type = DG_U16;
                else if (!strcmp(val, "FLOAT")) v->type = DG_F32;
                else {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': QVis Format '%s' is not supported", path, val);
                    goto done;
                }
            }
        }
        line = next ? next + 1 : NULL;
    }
    if (!object[0] || !have_res || !v->type) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': QVis header lacks ObjectFileName, Resolution or Format", path);
        goto done;
    }
    s = dg_plan_data(h, path, v);
    if (s != DVREN_OK) goto done;
    dg_describe(v, what, sizeof what);
    if ((s = dg_join(h, path, dir, object, full, sizeof full)) == DVREN_OK) s = dg_read_volume(h, full, 0, v, what);
done:
    if (text) h->free(h, text, len + 1);
    return s;
}

/* ---- legacy VTK ---------------------------------------------------------------------- */

static dvren_status dg_load_vtk(const dvren_host* h, const char* path, dg_volume* v)
{
    char* text = NULL;
    size_t len = 0, pos = 0, data_off = 0;
    char what[160];
    int binary = -1, line_no = 0, have_dims = 0, have_scalars = 0;
    long long npoints = -1;
    dvren_status s = dg_read_text(h, path, &text, &len);
    if (s != DVREN_OK) return s;
    v->channels = 1;
    while (pos < len) {
        char* l = text + pos;
        char* e = (char*)memchr(l, '\n', len - pos);
        size_t n = e ? (size_t)(e - l) : len - pos;
        char buf[512], a[64], b[64];
        unsigned x, y, z;
        snprintf(buf, sizeof buf, "%.*s", (int)(n < 511 ? n : 511), l);
        pos += n + 1;
        line_no++;
        if (line_no == 1) {
            if (strncmp(buf, "# vtk DataFile", 14) != 0) {
                s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s' is not a legacy VTK file", path);
                goto done;
            }
            continue;
        }
        if (line_no == 2) continue; /* title */
        {
            char* t = dg_trim(buf);
            if (!*t) continue;
            if (binary < 0) {
                /* line 3 by the specification; VTK's reader (and files such as
                 * ironProt.vtk) allow blank lines before it */
                binary = !strncmp(t, "BINARY", 6) ? 1 : !strncmp(t, "ASCII", 5) ? 0 : -1;
                if (binary < 0) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the line after the title must be ASCII or BINARY, "
                                "not '%.40s'", path, t);
                    goto done;
                }
            } else if (sscanf(t, "DATASET %63s", a) == 1) {
                if (strcmp(a, "STRUCTURED_POINTS")) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': VTK DATASET %s (only STRUCTURED_POINTS)", path, a);
                    goto done;
                }
            } else if (sscanf(t, "DIMENSIONS %u %u %u", &x, &y, &z) == 3) {
                v->dims[0] = x;
                v->dims[1] = y;
                v->dims[2] = z;
                have_dims = 1;
            } else if (!strncmp(t, "SPACING", 7) || !strncmp(t, "ASPECT_RATIO", 12)) {
                if (sscanf(t, "%*s %lf %lf %lf", &v->spacing[0], &v->spacing[1], &v->spacing[2]) == 3 &&
                    v->spacing[0] > 0 && v->spacing[1] > 0 && v->spacing[2] > 0)
                    v->has_spacing = 1;
            } else if (sscanf(t, "POINT_DATA %lld", &npoints) == 1) {
            } else if (!strncmp(t, "CELL_DATA", 9)) {
                s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': VTK CELL_DATA is not supported (POINT_DATA only)", path);
                goto done;
            } else if (sscanf(t, "SCALARS %63s %63s %u", a, b, &x) >= 2) {
                static const char* const tt[][2] = {{"unsigned_char", "u8"}, {"char", "i8"}, {"unsigned_short", "u16"},
                                                    {"short", "i16"}, {"unsigned_int", "u32"}, {"int", "i32"},
                                                    {"float", "f32"}, {"double", "f64"}};
                size_t k;
                for (k = 0; k < sizeof tt / sizeof tt[0]; ++k)
                    if (!strcmp(b, tt[k][0])) v->type = dg_type_from_name(tt[k][1]);
                if (!v->type) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': VTK scalar type '%s' is not supported", path, b);
                    goto done;
                }
                if (sscanf(t, "SCALARS %*s %*s %u", &x) == 1) v->channels = x;
                have_scalars = 1;
            } else if (!strncmp(t, "LOOKUP_TABLE", 12)) {
                data_off = pos < len ? pos : len; /* the last line may lack its newline */
                break;
            }
        }
    }
    if (binary < 0 || !have_dims || !have_scalars || !data_off) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': VTK header lacks DIMENSIONS, SCALARS or LOOKUP_TABLE", path);
        goto done;
    }
    if (npoints >= 0 && (unsigned long long)npoints != (unsigned long long)v->dims[0] * v->dims[1] * v->dims[2]) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': POINT_DATA %lld does not match DIMENSIONS %u %u %u", path,
                    npoints, (unsigned)v->dims[0], (unsigned)v->dims[1], (unsigned)v->dims[2]);
        goto done;
    }
    s = dg_plan_data(h, path, v);
    if (s != DVREN_OK) goto done;
    dg_describe(v, what, sizeof what);
    if (binary) {
        FILE* f = fopen(path, "rb");
        long long size;
        if (!f) {
            s = h->fail(h, DVREN_ERROR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
            goto done;
        }
        size = dg_file_size(f);
        /* binary legacy VTK is big-endian; a trailing newline after the data is common */
        if (size < (long long)(data_off + v->bytes)) {
            fclose(f);
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s' has %lld bytes; %s needs %.0f after the %.0f-byte header "
                        "(the file is truncated)", path, size, what, (double)v->bytes, (double)data_off);
            goto done;
        }
        if ((s = dg_alloc_data(h, path, v)) != DVREN_OK) {
            fclose(f);
            goto done;
        }
        if (dg_seek(f, (long long)data_off) != 0 || fread(v->data, 1, v->bytes, f) != v->bytes) {
            fclose(f);
            s = h->fail(h, DVREN_ERROR_IO, NULL, "reading '%s' failed", path);
            goto done;
        }
        fclose(f);
        v->big_endian = dg_type_size(v->type) > 1;
    } else {
        /* ASCII: whitespace-separated numbers, converted to the declared type
         * in host order. Pass 0 counts and range-checks them (nothing is
         * allocated for a header that promises more values than the text
         * holds), pass 1 stores them. */
        size_t n = v->bytes / dg_type_size(v->type), k, es = dg_type_size(v->type);
        /* integer ranges by dg_type (invalid, u8, i8, u16, i16, u32, i32) */
        static const double lo[] = {0, 0, -128, 0, -32768, 0, -2147483648.0};
        static const double hi[] = {0, 255, 127, 65535, 32767, 4294967295.0, 2147483647.0};
        int pass;
        if (len >= DG_HEADER_MAX) {
            s = h->fail(h, DVREN_ERROR_FORMAT, "save it as BINARY", "'%s': ASCII VTK files over 1 MiB are not supported",
                        path);
            goto done;
        }
        for (pass = 0; pass < 2; ++pass) {
            char* p = text + data_off;
            if (pass == 1 && (s = dg_alloc_data(h, path, v)) != DVREN_OK) goto done;
            for (k = 0; k < n; ++k) {
                char* e;
                double d = strtod(p, &e);
                if (e == p) {
                    s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': ASCII data ends after %.0f of %.0f values", path,
                                (double)k, (double)n);
                    goto done;
                }
                p = e;
                if (pass == 0) {
                    int integer = v->type >= DG_U8 && v->type <= DG_I32;
                    if ((integer && !(d >= lo[v->type] && d <= hi[v->type])) ||
                        (v->type == DG_F32 && isfinite(d) && fabs(d) > FLT_MAX)) {
                        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': ASCII value %.0f (%g) does not fit the type %s",
                                    path, (double)k, d, dg_type_name(v->type));
                        goto done;
                    }
                    continue;
                }
                switch (v->type) {
                case DG_U8: { uint8_t q = (uint8_t)d; memcpy(v->data + k * es, &q, es); break; }
                case DG_I8: { int8_t q = (int8_t)d; memcpy(v->data + k * es, &q, es); break; }
                case DG_U16: { uint16_t q = (uint16_t)d; memcpy(v->data + k * es, &q, es); break; }
                case DG_I16: { int16_t q = (int16_t)d; memcpy(v->data + k * es, &q, es); break; }
                case DG_U32: { uint32_t q = (uint32_t)d; memcpy(v->data + k * es, &q, es); break; }
                case DG_I32: { int32_t q = (int32_t)d; memcpy(v->data + k * es, &q, es); break; }
                case DG_F32: { float q = (float)d; memcpy(v->data + k * es, &q, es); break; }
                default: memcpy(v->data + k * es, &d, es); break;
                }
            }
        }
        v->big_endian = 0;
    }
done:
    if (text) h->free(h, text, len + 1);
    return s;
}

/* ---- .npz ------------------------------------------------------------------------ */

/* One zip member's data as a stream: stored bytes, or raw deflate through
 * zlib, read in chunks from the open file, with the CRC-32 of what came out. */
typedef struct dg_member {
    FILE* f;
    int deflated, z_open, ended;
    z_stream z;
    unsigned long long in_left;  /* compressed bytes not yet read from f */
    unsigned long long out_left; /* uncompressed bytes not yet given out */
    uLong crc;
    unsigned char in[16384];
} dg_member;

/* Reads exactly n bytes of the member into dst: 0, or -1 when the data end
 * early or do not inflate. */
/* Tops up zlib's input from the member's compressed bytes when it has run
 * dry. 0, or -1 on a read error. */
static int dg_member_refill(dg_member* m)
{
    if (m->z.avail_in == 0 && m->in_left) {
        size_t k = m->in_left < sizeof m->in ? (size_t)m->in_left : sizeof m->in;
        if (fread(m->in, 1, k, m->f) != k) return -1;
        m->in_left -= k;
        m->z.next_in = m->in;
        m->z.avail_in = (uInt)k;
    }
    return 0;
}

static int dg_member_read(dg_member* m, unsigned char* dst, size_t n)
{
    unsigned char* start = dst;
    size_t total = n;
    if (n > m->out_left) return -1;
    if (!m->deflated) {
        if (fread(dst, 1, n, m->f) != n) return -1;
    } else {
        while (n) {
            int r;
            /* zlib counts in uInt: at most 1 GiB per call */
            uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
            if (m->ended) return -1;
            if (dg_member_refill(m)) return -1;
            m->z.next_out = dst;
            m->z.avail_out = chunk;
            r = inflate(&m->z, Z_NO_FLUSH);
            if (r == Z_STREAM_END) m->ended = 1;
            else if (r != Z_OK) return -1; /* corrupt data, or no input left (Z_BUF_ERROR) */
            dst += chunk - m->z.avail_out;
            n -= chunk - m->z.avail_out;
        }
    }
    m->out_left -= total;
    m->crc = crc32_z(m->crc, start, total);
    return 0;
}

/* After the last byte: the deflate stream must end here, with nothing more
 * in it. 0, or -1. */
static int dg_member_end(dg_member* m)
{
    unsigned char extra;
    if (!m->deflated || m->ended) return 0;
    for (;;) {
        int r;
        if (dg_member_refill(m)) return -1;
        m->z.next_out = &extra;
        m->z.avail_out = 1;
        r = inflate(&m->z, Z_NO_FLUSH);
        if (m->z.avail_out == 0) return -1; /* more data than the zip says */
        if (r == Z_STREAM_END) return 0;
        if (r != Z_OK) return -1;
    }
}

static dvren_status dg_load_npz(const dvren_host* h, const dvren_params* p, const char* path, dg_volume* v)
{
    const char* want = h->param_string(p, "array");
    FILE* f = fopen(path, "rb");
    long long size;
    size_t tail_n = 0, hoff = 0, hlen = 0, n;
    unsigned char* tail = NULL;
    unsigned char* cd = NULL;
    unsigned char pre[12], loc[30];
    char* hdr = NULL;
    char label[DG_PATH + 300], what[160];
    unsigned long long cd_size = 0;
    uint64_t data_off = 0;
    dvren_zip_eocd eo;
    dg_member* m = NULL;
    dvren_zip_entry e;
    int bad, r;
    dvren_status s = DVREN_OK;
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    size = dg_file_size(f);
    /* the end of central directory record: 22 bytes and a comment of at most
     * 64 KiB, at the end of the file */
    if (size < 22) goto not_zip;
    tail_n = size < 22 + 65535 ? (size_t)size : 22 + 65535;
    tail = (unsigned char*)h->alloc(h, tail_n);
    if (!tail) {
        s = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        goto done;
    }
    if (dg_seek(f, size - (long long)tail_n) != 0 || fread(tail, 1, tail_n, f) != tail_n) goto not_zip;
    r = dvren_zip_find_eocd(tail, tail_n, (uint64_t)size, &eo);
    if (r == DVREN_ZIP_NOT_ZIP) goto not_zip;
    if (r == DVREN_ZIP_ZIP64) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "save fewer or smaller arrays per file",
                    "'%s': zip64 archives (over 4 GiB or 65535 members) are not supported", path);
        goto done;
    }
    if (r != DVREN_ZIP_OK) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the zip central directory lies outside the file", path);
        goto done;
    }
    cd_size = eo.cd_size;
    /* cd_size < the file's size: the allocation is bounded by what is there */
    cd = (unsigned char*)h->alloc(h, cd_size ? (size_t)cd_size : 1);
    if (!cd) {
        s = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        goto done;
    }
    if (dg_seek(f, (long long)eo.cd_offset) != 0 || fread(cd, 1, (size_t)cd_size, f) != cd_size) {
        s = h->fail(h, DVREN_ERROR_IO, NULL, "reading '%s' failed", path);
        goto done;
    }
    if (dvren_zip_find(cd, (size_t)cd_size, eo.entries, want, &e, &bad) != 0) {
        if (bad)
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the zip central directory is corrupt", path);
        else if (want)
            s = h->fail(h, DVREN_ERROR_NOT_FOUND, "list the members with: python -c \"import numpy; print(numpy.load('FILE').files)\"",
                        "'%s': no member '%s' (parameter 'array')", path, want);
        else
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the zip holds no .npy member", path);
        goto done;
    }
    /* messages about the member's .npy read "'file.npz' member 'arr_0.npy': ..." */
    snprintf(label, sizeof label, "%s' member '%s", path, e.name);
    if (e.flags & 1u) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the member is encrypted", label);
        goto done;
    }
    if (e.method != 0 && e.method != 8) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "save it with numpy.savez or numpy.savez_compressed",
                    "'%s': zip compression method %u is not supported (stored and deflate only)", label,
                    (unsigned)e.method);
        goto done;
    }
    /* the local header repeats the name and has its own extra field */
    n = 0;
    if (e.offset <= (unsigned long long)size && (unsigned long long)size - e.offset >= 30 && dg_seek(f, (long long)e.offset) == 0)
        n = fread(loc, 1, 30, f);
    r = dvren_zip_data_offset(loc, n, &e, (uint64_t)size, &data_off);
    if (r == -1) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the zip local header is missing or corrupt", label);
        goto done;
    }
    if (r != 0) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the member's %.0f compressed bytes run past the end of the file",
                    label, (double)e.csize);
        goto done;
    }
    /* deflate expands at most 1032:1 (RFC 1951's longest match per 2 bits):
     * a larger claim is a lie, refused before it makes us allocate */
    if ((e.method == 0 && e.usize != e.csize) || (e.method == 8 && (double)e.usize > 1032.0 * (double)e.csize + 64.0)) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': the member claims %.0f bytes from %.0f stored bytes", label,
                    (double)e.usize, (double)e.csize);
        goto done;
    }
    m = (dg_member*)h->alloc(h, sizeof *m);
    if (!m || dg_seek(f, (long long)data_off) != 0) {
        s = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        goto done;
    }
    memset(m, 0, sizeof *m);
    m->f = f;
    m->deflated = e.method == 8;
    m->in_left = e.csize;
    m->out_left = e.usize;
    m->crc = crc32_z(0L, Z_NULL, 0);
    if (m->deflated) {
        if (inflateInit2(&m->z, -MAX_WBITS) != Z_OK) { /* raw deflate: zip has no zlib header */
            s = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "'%s': zlib could not start", label);
            goto done;
        }
        m->z_open = 1;
    }
    /* the member is a .npy: the preamble, the header dict, the data */
    n = e.usize < sizeof pre ? (size_t)e.usize : sizeof pre;
    if (dg_member_read(m, pre, n) != 0) goto corrupt;
    if ((s = dg_npy_preamble(h, label, pre, n, e.usize, &hoff, &hlen)) != DVREN_OK) goto done;
    hdr = (char*)h->alloc(h, hlen + 1);
    if (!hdr) {
        s = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        goto done;
    }
    /* the preamble read may have taken the header's first bytes already */
    memcpy(hdr, pre + hoff, n - hoff);
    if (dg_member_read(m, (unsigned char*)hdr + (n - hoff), hlen - (n - hoff)) != 0) goto corrupt;
    hdr[hlen] = 0;
    if ((s = dg_npy_dict(h, label, hdr, hlen, v)) != DVREN_OK) goto done;
    if (m->out_left != v->bytes) {
        dg_describe(v, what, sizeof what);
        s = h->fail(h, DVREN_ERROR_FORMAT, "check the array's shape and dtype",
                    "'%s': %s needs %.0f bytes after the .npy header, the member holds %.0f (%s)", label, what,
                    (double)v->bytes, (double)m->out_left,
                    m->out_left < v->bytes ? "it is truncated" : "it is longer than its shape");
        goto done;
    }
    if ((s = dg_alloc_data(h, label, v)) != DVREN_OK) goto done;
    if (dg_member_read(m, v->data, v->bytes) != 0 || dg_member_end(m) != 0) goto corrupt;
    if (m->crc != e.crc) {
        s = h->fail(h, DVREN_ERROR_FORMAT, "the file is damaged: copy it again", "'%s': CRC-32 %08lx, the zip says %08lx",
                    label, (unsigned long)m->crc, (unsigned long)e.crc);
        goto done;
    }
    goto done;
corrupt:
    s = h->fail(h, DVREN_ERROR_FORMAT, "the file is damaged: copy it again",
                "'%s': the member's %s data end early or are corrupt", label, e.method == 8 ? "deflated" : "stored");
    goto done;
not_zip:
    s = h->fail(h, DVREN_ERROR_FORMAT, "save it with numpy.savez or numpy.savez_compressed",
                "'%s' is not a zip file (no end of central directory record)", path);
done:
    if (s != DVREN_OK) dg_volume_free(h, v);
    if (m) {
        if (m->z_open) inflateEnd(&m->z);
        h->free(h, m, sizeof *m);
    }
    if (hdr) h->free(h, hdr, hlen + 1);
    if (cd) h->free(h, cd, cd_size ? (size_t)cd_size : 1);
    if (tail) h->free(h, tail, tail_n);
    fclose(f);
    return s;
}

/* ---- dispatch ------------------------------------------------------------------------- */

/* Extensions of volume formats dense_grid knows but does not read: these
 * get "not supported" rather than "cannot tell the format". */
static const char* const dg_unsupported[][2] = {
    {".vdb", "OpenVDB"}, {".nvdb", "NanoVDB"}, {".ply", "PLY (a mesh or point cloud)"},
    {".nii", "NIfTI"}, {".nii.gz", "NIfTI"}, {".h5", "HDF5"}, {".hdf5", "HDF5"},
    {".vti", "VTK XML image data"}, {".tif", "TIFF"}, {".tiff", "TIFF"}, {".dcm", "DICOM"},
    {".zarr", "Zarr"}, {".nrrd.gz", "gzipped NRRD"}, {".npy.gz", "gzipped .npy"}};

dvren_status dg_load(const dvren_host* h, const dvren_params* p, const char* path, const char* format, dg_volume* out)
{
    size_t k;
    memset(out, 0, sizeof *out);
    out->spacing[0] = out->spacing[1] = out->spacing[2] = 1.0;
    out->max_bytes = h->param_number(p, "max_bytes");
    /* loaders build data file names from the folder of path: it must fit */
    if (strlen(path) >= DG_PATH)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'file': the path is longer than %d bytes",
                       DG_PATH - 1);
    if (!strcmp(format, "auto")) {
        for (k = 0; k < sizeof dg_unsupported / sizeof dg_unsupported[0]; ++k)
            if (dg_ends_with(path, dg_unsupported[k][0]))
                return h->fail(h, DVREN_ERROR_FORMAT, "convert it to .npy, .npz, NRRD or MetaImage",
                               "'%s': format %s (%s) is not supported by dense_grid", path, dg_unsupported[k][1],
                               dg_unsupported[k][0]);
        if (dg_ends_with(path, ".npy")) format = "npy";
        else if (dg_ends_with(path, ".npz")) format = "npz";
        else if (dg_ends_with(path, ".nrrd") || dg_ends_with(path, ".nhdr")) format = "nrrd";
        else if (dg_ends_with(path, ".mhd") || dg_ends_with(path, ".mha")) format = "mhd";
        else if (dg_ends_with(path, ".dat")) format = "dat";
        else if (dg_ends_with(path, ".vtk")) format = "vtk";
        else if (dg_ends_with(path, ".raw") || h->param_given(p, "dims")) format = "raw";
        else
            return h->fail(h, DVREN_ERROR_FORMAT,
                           "set \"format\" (raw, npy, npz, nrrd, mhd, dat, vtk), or give dims and dtype for raw data",
                           "'%s': cannot tell the format from the file name", path);
    }
    if (!strcmp(format, "raw")) return dg_load_raw(h, p, path, out);
    if (!strcmp(format, "npy")) return dg_load_npy(h, path, out);
    if (!strcmp(format, "npz")) return dg_load_npz(h, p, path, out);
    if (!strcmp(format, "nrrd")) return dg_load_nrrd(h, path, out);
    if (!strcmp(format, "mhd")) return dg_load_mhd(h, path, out);
    if (!strcmp(format, "dat")) return dg_load_dat(h, path, out);
    if (!strcmp(format, "vtk")) return dg_load_vtk(h, path, out);
    return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "unknown format '%s'", format);
}
