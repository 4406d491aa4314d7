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
 * Every loader checks that the data holds exactly the bytes the header
 * describes, and names the file and the field in its errors. */
#include "dense_grid_io.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DG_PATH 4096
#define DG_HEADER_MAX (1u << 20) /* text headers larger than this are not headers */

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

/* Folder part of path (with the trailing '/'), or "" */
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

static void dg_join(const char* dir, const char* name, char* out, size_t cap)
{
    if (name[0] == '/' || name[0] == '\\' || (name[0] && name[1] == ':'))
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "%s%s", dir, name);
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

/* Checks the volume's dims, channels and type and sets v->bytes (nothing is
 * allocated yet: the loaders first check that the file holds that much, so
 * a header that lies about its size never makes us allocate). */
static dvren_status dg_plan_data(const dvren_host* h, const char* path, dg_volume* v)
{
    size_t n = dg_type_size(v->type);
    int a;
    if (!n) return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': unknown element type", path);
    if (v->channels < 1 || v->channels > DVREN_MAX_CHANNELS)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': %u channels (dense_grid takes 1..%d)", path,
                       (unsigned)v->channels, DVREN_MAX_CHANNELS);
    n *= v->channels;
    for (a = 0; a < 3; ++a) {
        if (v->dims[a] < 1)
            return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': dimension %d is %u", path, a, (unsigned)v->dims[a]);
        if (n > ((size_t)1 << 40) / v->dims[a])
            return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': %u x %u x %u voxels is too large", path,
                           (unsigned)v->dims[0], (unsigned)v->dims[1], (unsigned)v->dims[2]);
        n *= v->dims[a];
    }
    v->bytes = n;
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
    if (skip < 0) skip = size - (long long)n;
    if (size < 0 || skip < 0 || size != skip + (long long)n)
        return h->fail(h, DVREN_ERROR_FORMAT, "check the dimensions, the element type and the header size",
                       "'%s' has %lld bytes, but %s needs %.0f bytes after a %lld-byte header (%s)", path, size, what,
                       (double)n, skip < 0 ? 0LL : skip,
                       size < skip + (long long)n ? "the file is truncated or the dims are too large"
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

static void dg_describe(const dg_volume* v, char* buf, size_t cap)
{
    snprintf(buf, cap, "%u x %u x %u voxels x %u channel(s) of %s", (unsigned)v->dims[0], (unsigned)v->dims[1],
             (unsigned)v->dims[2], (unsigned)v->channels, dg_type_name(v->type));
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

static dvren_status dg_load_npy(const dvren_host* h, const char* path, dg_volume* v)
{
    FILE* f = fopen(path, "rb");
    unsigned char pre[12];
    size_t hlen, hoff;
    long long size;
    char* hdr = NULL;
    char descr[64] = "", key[64], what[160];
    int fortran = -1, have_shape = 0, ndim = 0, i;
    long long shape[8];
    dg_npy_lex L;
    dvren_status s = DVREN_OK;
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    size = dg_file_size(f);
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s' is not a .npy file (no \\x93NUMPY magic)", path);
    }
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
        hoff = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            fclose(f);
            return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy header is truncated", path);
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
        hoff = 12;
    } else {
        fclose(f);
        return h->fail(h, DVREN_ERROR_FORMAT, "save it with numpy.save (format 1.0 or 2.0)",
                       "'%s': .npy format version %u.%u is not supported", path, (unsigned)pre[6], (unsigned)pre[7]);
    }
    if (hlen == 0 || hlen > DG_HEADER_MAX || size < (long long)(hoff + hlen)) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy header length %.0f is corrupt", path, (double)hlen);
    }
    hdr = (char*)h->alloc(h, hlen + 1);
    if (!hdr) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': .npy header is truncated", path);
        goto done;
    }
    hdr[hlen] = 0;
    fclose(f);
    f = NULL;
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
    s = dg_plan_data(h, path, v);
    if (s != DVREN_OK) goto done;
    dg_describe(v, what, sizeof what);
    s = dg_read_volume(h, path, (long long)(hoff + hlen), v, what);
    goto done;
corrupt:
    s = h->fail(h, DVREN_ERROR_FORMAT, "write it with numpy.save",
                "'%s': .npy header is corrupt (expected {'descr': ..., 'fortran_order': ..., 'shape': (...)})", path);
done:
    if (f) fclose(f);
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
 * into out; returns where the following line starts, or NULL at the end. */
static char* dg_next_name(char* l, char* out, size_t cap)
{
    while (l && *l) {
        char* e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        char* after = e ? e + 1 : l + n;
        while (n && (l[n - 1] == '\r' || l[n - 1] == ' ')) --n;
        if (n) {
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
                    snprintf(datafile, sizeof datafile, "%s", val);
                    detached = 1;
                    if (!strncmp(val, "LIST", 4)) {
                        list = 1;
                        lines_after = next ? next + 1 : NULL; /* file names follow, one per line */
                        break;
                    }
                } else if (!strcmp(l, "line skip") || !strcmp(l, "lineskip")) {
                    line_skip = atoll(val);
                } else if (!strcmp(l, "byte skip") || !strcmp(l, "byteskip")) {
                    byte_skip = atoll(val);
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
        int pattern = 0, pass;
        size_t share;
        if (list) {
            char* l = lines_after;
            nfiles = 0;
            while ((l = dg_next_name(l, name, sizeof name)) != NULL) nfiles++;
        } else if (strchr(datafile, '%')) {
            char fmt[DG_PATH];
            const char* pc;
            const char* q = NULL;
            if (sscanf(datafile, "%4095s %lld %lld %lld", fmt, &first, &last, &step) < 4 || step == 0 ||
                first < -2147483647LL || first > 2147483647LL || last < -2147483647LL || last > 2147483647LL ||
                step < -2147483647LL || step > 2147483647LL || (last - first) / step < 0) {
                s = h->fail(h, DVREN_ERROR_FORMAT, "e.g. \"data file: slice.%d 1 93 1\"",
                            "'%s': NRRD 'data file: %s' is not '<pattern> <min> <max> <step>' with int min, max, step",
                            path, datafile);
                goto done;
            }
            /* allow exactly one integer conversion: %d, %0Nd, %Nd */
            pc = strchr(fmt, '%');
            if (pc) {
                q = pc + 1;
                while (*q >= '0' && *q <= '9') ++q;
            }
            if (!q || *q != 'd' || strchr(q, '%')) {
                s = h->fail(h, DVREN_ERROR_FORMAT, NULL,
                            "'%s': NRRD 'data file: %s': the file name pattern '%s' must hold one %%d", path, datafile,
                            fmt);
                goto done;
            }
            snprintf(datafile, sizeof datafile, "%s", fmt);
            nfiles = (last - first) / step + 1;
            pattern = 1;
        }
        if (nfiles < 1 || (size_t)nfiles > v->bytes || v->bytes % (size_t)nfiles) {
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "'%s': %lld data files cannot hold equal shares of %s", path,
                        nfiles, what);
            goto done;
        }
        share = v->bytes / (size_t)nfiles;
        /* pass 0 checks every file's size, pass 1 allocates and reads: a
         * header that promises more than its files hold allocates nothing */
        for (pass = 0; pass < 2; ++pass) {
            char* l = lines_after;
            if (pass == 1 && (s = dg_alloc_data(h, path, v)) != DVREN_OK) goto done;
            for (k = 0; k < nfiles; ++k) {
                if (list) {
                    l = dg_next_name(l, name, sizeof name);
                } else if (pattern) {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
                    snprintf(name, sizeof name, datafile, (int)(first + k * step));
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
                } else {
                    snprintf(name, sizeof name, "%s", datafile);
                }
                dg_join(dir, name, full, sizeof full);
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
                header_size = atoll(val);
            } else if (!strcmp(key, "ElementDataFile")) {
                snprintf(datafile, sizeof datafile, "%s", val);
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
    else {
        dg_join(dir, datafile, full, sizeof full);
        s = dg_read_volume(h, full, header_size, v, what);
    }
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
            if (!strcmp(key, "ObjectFileName")) snprintf(object, sizeof object, "%s", val);
            else if (!strcmp(key, "Resolution")) {
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
    dg_join(dir, object, full, sizeof full);
    s = dg_read_volume(h, full, 0, v, what);
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

/* ---- dispatch ------------------------------------------------------------------------- */

dvren_status dg_load(const dvren_host* h, const dvren_params* p, const char* path, const char* format, dg_volume* out)
{
    memset(out, 0, sizeof *out);
    out->spacing[0] = out->spacing[1] = out->spacing[2] = 1.0;
    if (!strcmp(format, "auto")) {
        if (dg_ends_with(path, ".npy")) format = "npy";
        else if (dg_ends_with(path, ".nrrd") || dg_ends_with(path, ".nhdr")) format = "nrrd";
        else if (dg_ends_with(path, ".mhd") || dg_ends_with(path, ".mha")) format = "mhd";
        else if (dg_ends_with(path, ".dat")) format = "dat";
        else if (dg_ends_with(path, ".vtk")) format = "vtk";
        else if (dg_ends_with(path, ".raw") || h->param_given(p, "dims")) format = "raw";
        else
            return h->fail(h, DVREN_ERROR_FORMAT,
                           "set \"format\" (raw, npy, nrrd, mhd, dat, vtk), or give dims and dtype for raw data",
                           "'%s': cannot tell the format from the file name", path);
    }
    if (!strcmp(format, "raw")) return dg_load_raw(h, p, path, out);
    if (!strcmp(format, "npy")) return dg_load_npy(h, path, out);
    if (!strcmp(format, "nrrd")) return dg_load_nrrd(h, path, out);
    if (!strcmp(format, "mhd")) return dg_load_mhd(h, path, out);
    if (!strcmp(format, "dat")) return dg_load_dat(h, path, out);
    if (!strcmp(format, "vtk")) return dg_load_vtk(h, path, out);
    return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "unknown format '%s'", format);
}
