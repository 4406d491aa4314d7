/* tools/dvren_npy.h - a strict, small reader of NumPy .npy files (reading
 * only): the header's dtype and shape, the data's place and length, the
 * elements as doubles, from bytes in memory (the caller reads the file,
 * e.g. with dvren_io.h). Depends on the C library only; no global state, no
 * printing, no exit: usable inside plugins.
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_NPY_IMPLEMENTATION
 *     #include "dvren_npy.h"
 * Other files include it without the define (declarations only).
 *
 *   dvren_npy_array a;
 *   size_t n;
 *   char* bytes = dvren_io_read_file("labels.npy", 1 << 30, &n, err, sizeof err);
 *   if (dvren_npy_parse_header(&a, bytes, n, "labels.npy") != 0) { fprintf(stderr, "%s\n", a.error); ... }
 *   ... check a.dtype, a.ndim, a.shape[] against the caller's limits ...
 *   if (dvren_npy_check_data(&a) != 0) { ...a.error... }   exactly count x item_size bytes follow
 *   double v = dvren_npy_get(&a, i);                        element i in C order
 *
 * The format (NEP 1, "A simple file format for NumPy arrays"; numpy.lib.format):
 * the 6 bytes "\x93NUMPY", major and minor version bytes (1.0, 2.0, 3.0),
 * the header length (little-endian uint16 in 1.0, uint32 in 2.0 and 3.0),
 * the header: an ASCII (3.0: UTF-8) Python dict literal with exactly the
 * keys 'descr' (the dtype string), 'fortran_order' (True/False) and 'shape'
 * (a tuple of integers), padded with spaces and ended by '\n'; then the
 * elements, in C order when fortran_order is False.
 *
 * Strictness. Refused, each with "<name>: <field>: <problem>" in a->error
 * (field: magic, version, header, descr, fortran_order, shape, data): a bad
 * magic or version; a header that passes the file's end or is longer than
 * DVREN_NPY_MAX_HEADER; a header that is not exactly such a dict (a missing,
 * repeated or unknown key, a value of the wrong kind, anything but spaces
 * and one final '\n' after the '}'); a dtype other than little-endian
 * float32 ('<f4'), float64 ('<f8'), uint8 ('|u1', '<u1'), uint16 ('<u2'),
 * or int64 ('<i8');
 * Fortran order;
 * more than DVREN_NPY_MAX_DIMS dimensions, a negative or non-decimal
 * dimension, an element count whose bytes overflow 64 bits;
 * (dvren_npy_check_data) fewer or more data bytes than count x item_size.
 * Not done here: writing, other dtypes, structured dtypes, big-endian data,
 * object arrays, .npz archives. */
#ifndef DVREN_NPY_H
#define DVREN_NPY_H

#include <stddef.h>
#include <stdint.h>

/* Most dimensions a shape may have, and the longest header accepted (bytes). */
#define DVREN_NPY_MAX_DIMS 8
#define DVREN_NPY_MAX_HEADER 65536

typedef enum dvren_npy_dtype {
    DVREN_NPY_NONE = 0,
    DVREN_NPY_U8 = 1,  /* '|u1' or '<u1' */
    DVREN_NPY_F32 = 2, /* '<f4' */
    DVREN_NPY_F64 = 3, /* '<f8' */
    DVREN_NPY_U16 = 4, /* '<u2' (camera mosaics, tools/dvren_raw.h) */
    DVREN_NPY_I64 = 5, /* '<i8' (NumPy's default integer: gsplat's width/height, tools/dvren_splat_npz.h) */
    DVREN_NPY_DTYPE_FORCE32 = 0x7fffffff
} dvren_npy_dtype;

/* One parsed .npy: the header's facts and where the elements are. */
typedef struct dvren_npy_array {
    int major, minor;          /* format version: 1.0, 2.0 or 3.0 */
    dvren_npy_dtype dtype;
    size_t item_size;          /* bytes per element: 1, 2, 4, 8 */
    char descr[8];             /* the dtype string as written: "<f4", "|u1", ... */
    uint32_t ndim;             /* 0 (a scalar) .. DVREN_NPY_MAX_DIMS */
    uint64_t shape[DVREN_NPY_MAX_DIMS]; /* shape[0 .. ndim-1]; the rest 0 */
    uint64_t count;            /* elements: the product of the shape (1 for a scalar) */
    size_t data_offset;        /* bytes before the first element (10 or 12 + the header length) */
    const unsigned char* data; /* the first element, inside the caller's bytes (little-endian, C order) */
    size_t data_size;          /* bytes from data to the end of the caller's bytes */
    char name[256];            /* the name given, for messages (truncated) */
    char error[512];           /* "<name>: <field>: <problem>" ("" on success) */
} dvren_npy_array;

/* Parses the header of the size bytes at bytes (the whole file, or at
 * least its header; bytes is only read and must outlive a->data); name is
 * used in messages (NULL: "<memory>"). Fills *a (zeroed first). Returns 0,
 * or -1 with a->error set. The data's length is not checked here, so the
 * caller can check the shape against its limits first. */
int dvren_npy_parse_header(dvren_npy_array* a, const void* bytes, size_t size, const char* name);
/* After dvren_npy_parse_header: 0 when exactly count x item_size bytes of
 * data follow the header, else -1 with a->error set. */
int dvren_npy_check_data(dvren_npy_array* a);
/* Element i (0 .. count-1, C order) converted to double (exact for all
 * dtypes but int64 beyond 2^53, which rounds). i is not checked. */
double dvren_npy_get(const dvren_npy_array* a, uint64_t i);

#endif /* DVREN_NPY_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_NPY_IMPLEMENTATION
#ifndef DVREN_NPY_IMPLEMENTATION_ONCE
#define DVREN_NPY_IMPLEMENTATION_ONCE

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int dvren__npy_fail(dvren_npy_array* a, const char* field, const char* fmt, ...)
{
    char msg[240]; /* with the name (< 256) and the field, under the error's 512 */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(a->error, sizeof a->error, "%s: %s: %s", a->name, field, msg);
    return -1;
}

/* The header's text h[0 .. n) and a cursor. */
typedef struct dvren__npy_cur {
    const char* h;
    size_t n, i;
} dvren__npy_cur;

static void dvren__npy_ws(dvren__npy_cur* c)
{
    while (c->i < c->n && c->h[c->i] == ' ') c->i++;
}

/* A quoted string ('...' or "...", no escapes) into out (cap bytes).
 * Returns 0, or 1 when there is none or it does not fit. */
static int dvren__npy_str(dvren__npy_cur* c, char* out, size_t cap)
{
    char q;
    size_t k = 0;
    if (c->i >= c->n || (c->h[c->i] != '\'' && c->h[c->i] != '"')) return 1;
    q = c->h[c->i++];
    while (c->i < c->n && c->h[c->i] != q) {
        if (c->h[c->i] == '\\' || k + 1 >= cap) return 1;
        out[k++] = c->h[c->i++];
    }
    if (c->i >= c->n) return 1;
    c->i++;
    out[k] = 0;
    return 0;
}

/* Matches the literal word w (followed by a non-identifier character). */
static int dvren__npy_word(dvren__npy_cur* c, const char* w)
{
    size_t l = strlen(w);
    char nx;
    if (c->n - c->i < l || memcmp(c->h + c->i, w, l) != 0) return 0;
    nx = c->i + l < c->n ? c->h[c->i + l] : ' ';
    if ((nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z') || (nx >= '0' && nx <= '9') || nx == '_') return 0;
    c->i += l;
    return 1;
}

/* The shape tuple: '(' [int (',' int)* [',']] ')', one-element tuples
 * with their comma ("(5,)"); old Python 2 writers' 'L' suffix is accepted. */
static int dvren__npy_shape(dvren_npy_array* a, dvren__npy_cur* c)
{
    uint32_t nd = 0;
    int comma_after_last = 0;
    if (c->i >= c->n || c->h[c->i] != '(') return dvren__npy_fail(a, "shape", "expected a tuple '(...)' of integers");
    c->i++;
    dvren__npy_ws(c);
    while (c->i < c->n && c->h[c->i] != ')') {
        uint64_t v = 0;
        size_t digits = 0;
        if (c->h[c->i] == '-') return dvren__npy_fail(a, "shape", "negative dimension");
        while (c->i < c->n && c->h[c->i] >= '0' && c->h[c->i] <= '9') {
            unsigned d = (unsigned)(c->h[c->i] - '0');
            if (v > (UINT64_MAX - d) / 10) return dvren__npy_fail(a, "shape", "dimension %u does not fit 64 bits", nd);
            v = v * 10 + d;
            c->i++;
            digits++;
        }
        if (!digits) return dvren__npy_fail(a, "shape", "dimension %u is not a non-negative decimal integer", nd);
        if (c->i < c->n && c->h[c->i] == 'L') c->i++;
        if (nd == DVREN_NPY_MAX_DIMS) return dvren__npy_fail(a, "shape", "more than %d dimensions", DVREN_NPY_MAX_DIMS);
        a->shape[nd++] = v;
        dvren__npy_ws(c);
        comma_after_last = 0;
        if (c->i < c->n && c->h[c->i] == ',') {
            c->i++;
            comma_after_last = 1;
            dvren__npy_ws(c);
        } else if (c->i < c->n && c->h[c->i] != ')') {
            return dvren__npy_fail(a, "shape", "expected ',' or ')' after dimension %u", nd - 1);
        }
    }
    if (c->i >= c->n) return dvren__npy_fail(a, "shape", "the tuple is not closed");
    if (nd == 1 && !comma_after_last) return dvren__npy_fail(a, "shape", "a one-element tuple needs its comma: '(n,)'");
    c->i++;
    a->ndim = nd;
    return 0;
}

int dvren_npy_parse_header(dvren_npy_array* a, const void* bytes, size_t size, const char* name)
{
    const unsigned char* b = (const unsigned char*)bytes;
    size_t hlen, off, end;
    dvren__npy_cur c;
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    uint32_t k;
    size_t j;
    if (!a) return -1;
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name ? name : "<memory>");
    if (!b && size) return dvren__npy_fail(a, "magic", "no bytes (NULL)");
    if (size < 8 || memcmp(b, "\x93NUMPY", 6) != 0) return dvren__npy_fail(a, "magic", "not a .npy file (no \\x93NUMPY magic)");
    a->major = b[6];
    a->minor = b[7];
    if (a->minor != 0 || a->major < 1 || a->major > 3)
        return dvren__npy_fail(a, "version", "format version %d.%d (1.0, 2.0 and 3.0 are read)", a->major, a->minor);
    if (a->major == 1) {
        if (size < 10) return dvren__npy_fail(a, "header", "truncated: the file ends in the header length");
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        off = 10;
    } else {
        uint32_t h32;
        if (size < 12) return dvren__npy_fail(a, "header", "truncated: the file ends in the header length");
        h32 = (uint32_t)b[8] | ((uint32_t)b[9] << 8) | ((uint32_t)b[10] << 16) | ((uint32_t)b[11] << 24);
        if (h32 > DVREN_NPY_MAX_HEADER)
            return dvren__npy_fail(a, "header", "length %lu is over the limit of %d bytes", (unsigned long)h32, DVREN_NPY_MAX_HEADER);
        hlen = h32;
        off = 12;
    }
    if (hlen > size - off)
        return dvren__npy_fail(a, "header", "truncated: %lu header bytes declared, %lu present", (unsigned long)hlen,
                               (unsigned long)(size - off));
    if (hlen == 0 || b[off + hlen - 1] != '\n') return dvren__npy_fail(a, "header", "does not end with '\\n'");
    for (j = 0; j < hlen; ++j)
        if (b[off + j] < 0x20 ? b[off + j] != '\n' : (a->major < 3 && b[off + j] > 0x7e))
            return dvren__npy_fail(a, "header", "byte %lu is not printable ASCII", (unsigned long)j);
    c.h = (const char*)b + off;
    c.n = hlen - 1;
    c.i = 0;
    dvren__npy_ws(&c);
    if (c.i >= c.n || c.h[c.i] != '{') return dvren__npy_fail(a, "header", "not a dict literal (no '{')");
    c.i++;
    for (;;) {
        char key[32];
        dvren__npy_ws(&c);
        if (c.i < c.n && c.h[c.i] == '}') {
            c.i++;
            break;
        }
        if (dvren__npy_str(&c, key, sizeof key)) return dvren__npy_fail(a, "header", "expected a quoted key or '}' at byte %lu", (unsigned long)c.i);
        dvren__npy_ws(&c);
        if (c.i >= c.n || c.h[c.i] != ':') return dvren__npy_fail(a, "header", "expected ':' after the key '%s'", key);
        c.i++;
        dvren__npy_ws(&c);
        if (!strcmp(key, "descr")) {
            if (have_descr++) return dvren__npy_fail(a, "descr", "given twice");
            if (dvren__npy_str(&c, a->descr, sizeof a->descr)) return dvren__npy_fail(a, "descr", "expected a short quoted dtype string such as '<f4'");
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++) return dvren__npy_fail(a, "fortran_order", "given twice");
            if (dvren__npy_word(&c, "True")) fortran = 1;
            else if (!dvren__npy_word(&c, "False")) return dvren__npy_fail(a, "fortran_order", "expected True or False");
        } else if (!strcmp(key, "shape")) {
            if (have_shape++) return dvren__npy_fail(a, "shape", "given twice");
            if (dvren__npy_shape(a, &c)) return -1;
        } else {
            return dvren__npy_fail(a, "header", "unknown key '%s' (the keys are descr, fortran_order, shape)", key);
        }
        dvren__npy_ws(&c);
        if (c.i < c.n && c.h[c.i] == ',') {
            c.i++;
        } else if (c.i >= c.n || c.h[c.i] != '}') {
            return dvren__npy_fail(a, "header", "expected ',' or '}' after the value of '%s'", key);
        }
    }
    dvren__npy_ws(&c);
    if (c.i != c.n) return dvren__npy_fail(a, "header", "text after the dict's '}' (only spaces and the final '\\n' may follow)");
    if (!have_descr) return dvren__npy_fail(a, "descr", "missing");
    if (!have_fortran) return dvren__npy_fail(a, "fortran_order", "missing");
    if (!have_shape) return dvren__npy_fail(a, "shape", "missing");
    if (!strcmp(a->descr, "<f4")) {
        a->dtype = DVREN_NPY_F32;
        a->item_size = 4;
    } else if (!strcmp(a->descr, "<f8")) {
        a->dtype = DVREN_NPY_F64;
        a->item_size = 8;
    } else if (!strcmp(a->descr, "|u1") || !strcmp(a->descr, "<u1")) {
        a->dtype = DVREN_NPY_U8;
        a->item_size = 1;
    } else if (!strcmp(a->descr, "<u2")) {
        a->dtype = DVREN_NPY_U16;
        a->item_size = 2;
    } else if (!strcmp(a->descr, "<i8")) {
        a->dtype = DVREN_NPY_I64;
        a->item_size = 8;
    } else {
        return dvren__npy_fail(a, "descr", "dtype '%s' is not read (little-endian '<f4', '<f8', '|u1', '<u2', '<i8')",
                               a->descr);
    }
    if (fortran) return dvren__npy_fail(a, "fortran_order", "Fortran order is not read (write the array in C order)");
    a->count = 1;
    for (k = 0; k < a->ndim; ++k) {
        if (a->shape[k] != 0 && a->count > UINT64_MAX / a->item_size / a->shape[k])
            return dvren__npy_fail(a, "shape", "the element count overflows 64 bits");
        a->count *= a->shape[k];
    }
    end = off + hlen;
    a->data_offset = end;
    a->data = b + end;
    a->data_size = size - end;
    return 0;
}

int dvren_npy_check_data(dvren_npy_array* a)
{
    uint64_t need;
    if (!a || !a->item_size) return -1;
    need = a->count * a->item_size;
    if ((uint64_t)a->data_size < need)
        return dvren__npy_fail(a, "data", "truncated: %llu bytes for %llu elements of %lu bytes (%llu needed)", (unsigned long long)a->data_size,
                               (unsigned long long)a->count, (unsigned long)a->item_size, (unsigned long long)need);
    if ((uint64_t)a->data_size > need)
        return dvren__npy_fail(a, "data", "%llu bytes after the %llu elements' data", (unsigned long long)(a->data_size - need),
                               (unsigned long long)a->count);
    return 0;
}

double dvren_npy_get(const dvren_npy_array* a, uint64_t i)
{
    const unsigned char* p = a->data + i * a->item_size;
    if (a->dtype == DVREN_NPY_U8) return (double)p[0];
    if (a->dtype == DVREN_NPY_U16) return (double)((unsigned)p[0] | ((unsigned)p[1] << 8));
    if (a->dtype == DVREN_NPY_F32) {
        uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
        float f;
        memcpy(&f, &u, 4);
        return (double)f;
    } else if (a->dtype == DVREN_NPY_I64) {
        uint64_t u = 0;
        int64_t i64;
        int k;
        for (k = 7; k >= 0; --k) u = (u << 8) | p[k];
        memcpy(&i64, &u, 8);
        return (double)i64;
    } else {
        uint64_t u = 0;
        double d;
        int k;
        for (k = 7; k >= 0; --k) u = (u << 8) | p[k];
        memcpy(&d, &u, 8);
        return d;
    }
}

#endif /* DVREN_NPY_IMPLEMENTATION_ONCE */
#endif /* DVREN_NPY_IMPLEMENTATION */
