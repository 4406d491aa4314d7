/* tests/test_loaders.c - the volume file loaders of the dense_grid field.
 *
 * Every file here is written byte by byte by the test itself, following the
 * formats' own specifications (not dense_grid's code):
 *   raw        headerless binary, little- and big-endian, with a header to skip
 *   .npy       numpy.lib.format, versions 1.0 (2-byte header length), 2.0 and
 *              3.0 (4-byte; headers over 64 KiB)
 *   NRRD       teem.sourceforge.net/nrrd/format.html: attached .nrrd, detached
 *              .nhdr with one data file and byte skip, "%d" patterns (steps 1,
 *              2 and -1) and a LIST; 4-D with the channel axis first
 *   MetaImage  ITK MetaIO: .mhd + .raw, .mha with ElementDataFile = LOCAL
 *   QVis .dat  ObjectFileName / Resolution / SliceThickness / Format
 *   VTK        "File Formats for VTK", simple legacy STRUCTURED_POINTS,
 *              BINARY (big-endian) and ASCII
 *   .npz       a zip (PKWARE APPNOTE 6.3.x, 4.3: local headers, central
 *              directory, end record; CRC-32) of .npy members, stored or
 *              deflated; the deflate streams use stored blocks (RFC 1951
 *              3.2.4), so no compressor is needed here (the real stent data
 *              set, in test_realdata.c, has compressed blocks)
 * The tests check voxel-centre samples and the stored buffer against the
 * values the test generated, that every loader of the same data gives
 * bitwise the same field, the storage modes' error bounds, the facts of the
 * real data sets (../shared/data/README.md), errors for bad files (status,
 * file name, problem), and a fuzz pass over header bytes. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#include <float.h>
#include <stdint.h>
#include <time.h>

/* ======================================================================== */
/* random numbers: splitmix64 (fixed seeds, so failures reproduce)          */
/* ======================================================================== */

static uint64_t tl_rng = 1;

static uint64_t tl_next(void)
{
    uint64_t z = (tl_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double tl_unit(void) { return (double)(tl_next() >> 11) * (1.0 / 9007199254740992.0); } /* [0, 1) */
static uint32_t tl_below(uint32_t n) { return (uint32_t)(tl_next() % n); }

/* ======================================================================== */
/* element types and synthetic volumes                                      */
/* ======================================================================== */

typedef enum tl_type { TL_U8, TL_I16, TL_U16, TL_F32, TL_F64 } tl_type;

/* Names of each type in each format's own vocabulary (NULL: not in the format). */
static const struct {
    const char* dtype; /* dense_grid's raw "dtype" parameter */
    size_t size;
    const char* npy;   /* numpy descr, little-endian */
    const char* nrrd;
    const char* mhd;
    const char* vtk;
    const char* qvis;
} tl_types[] = {
    {"u8", 1, "|u1", "uchar", "MET_UCHAR", "unsigned_char", "UCHAR"},
    {"i16", 2, "<i2", "short", "MET_SHORT", "short", NULL},
    {"u16", 2, "<u2", "ushort", "MET_USHORT", "unsigned_short", "USHORT"},
    {"f32", 4, "<f4", "float", "MET_FLOAT", "float", "FLOAT"},
    {"f64", 8, "<f8", "double", "MET_DOUBLE", "double", NULL},
};

/* X x Y x Z voxels of C channels, values in C order of (Z, Y, X, C). */
typedef struct tl_vol {
    int X, Y, Z, C;
    tl_type type;
    double* v;
} tl_vol;

static size_t tl_count(const tl_vol* a) { return (size_t)a->X * a->Y * a->Z * a->C; }

/* Random values covering the type's range; integer volumes hold both ends of
 * it, f64 values are not representable in f32 (they test the rounding). */
static void tl_vol_random(tl_vol* a, int X, int Y, int Z, int C, tl_type t, uint64_t seed)
{
    size_t i, n;
    a->X = X, a->Y = Y, a->Z = Z, a->C = C, a->type = t;
    n = tl_count(a);
    a->v = (double*)malloc(n * sizeof(double));
    if (!a->v) exit(2);
    tl_rng = seed;
    for (i = 0; i < n; ++i) {
        switch (t) {
        case TL_U8: a->v[i] = tl_below(256); break;
        case TL_I16: a->v[i] = (double)tl_below(65536) - 32768.0; break;
        case TL_U16: a->v[i] = tl_below(65536); break;
        case TL_F32: a->v[i] = (float)((tl_unit() - 0.5) * 2000.0); break;
        case TL_F64: a->v[i] = (tl_unit() - 0.5) * 2000.0 + 1e-9 * tl_unit(); break;
        }
    }
    if (t == TL_U8) a->v[0] = 0, a->v[n - 1] = 255;
    if (t == TL_I16) a->v[0] = -32768, a->v[n - 1] = 32767;
    if (t == TL_U16) a->v[0] = 0, a->v[n - 1] = 65535;
}

static void tl_vol_free(tl_vol* a)
{
    free(a->v);
    a->v = NULL;
}

/* One element in the file's byte order, built from the value's bits. */
static void tl_encode(tl_type t, double x, int big, unsigned char* out)
{
    uint64_t u = 0;
    size_t n = tl_types[t].size, k;
    switch (t) {
    case TL_U8: u = (uint8_t)x; break;
    case TL_I16: u = (uint16_t)(int16_t)x; break;
    case TL_U16: u = (uint16_t)x; break;
    case TL_F32: { float f = (float)x; uint32_t b; memcpy(&b, &f, 4); u = b; break; }
    case TL_F64: memcpy(&u, &x, 8); break;
    }
    for (k = 0; k < n; ++k) out[big ? n - 1 - k : k] = (unsigned char)(u >> (8 * k));
}

/* ======================================================================== */
/* byte buffers and files                                                   */
/* ======================================================================== */

typedef struct tl_buf {
    unsigned char* p;
    size_t n, cap;
} tl_buf;

static void tl_put(tl_buf* b, const void* d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = (unsigned char*)realloc(b->p, cap);
        if (!b->p) exit(2);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void tl_printf(tl_buf* b, const char* fmt, ...) DVREN_PRINTF(2, 3);
static void tl_printf(tl_buf* b, const char* fmt, ...)
{
    char s[4096];
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    if (k > 0) tl_put(b, s, (size_t)k < sizeof s ? (size_t)k : sizeof s - 1);
}

/* Elements [first, first + count) of a in the given byte order. */
static void tl_put_values(tl_buf* b, const tl_vol* a, size_t first, size_t count, int big)
{
    unsigned char e[8];
    size_t i;
    for (i = first; i < first + count; ++i) {
        tl_encode(a->type, a->v[i], big, e);
        tl_put(b, e, tl_types[a->type].size);
    }
}

/* Writes the buffer to path and empties it; 0 on success. */
static int tl_save(tl_buf* b, const char* path)
{
    int r = th_write_file(path, b->p, b->n);
    free(b->p);
    memset(b, 0, sizeof *b);
    return r;
}

static int tl_save_bytes(const char* path, const char* text) { return th_write_file(path, text, strlen(text)); }

/* Scratch path <tmp>/<name> into out. */
static char* tl_path(char* out, size_t cap, const char* name)
{
    snprintf(out, cap, "%s", th_tmp(name));
    return out;
}

/* ======================================================================== */
/* writers, one per format                                                  */
/* ======================================================================== */

/* raw: header_bytes bytes of junk, then the elements. */
static int tl_write_raw(const char* path, const tl_vol* a, int big, int header_bytes)
{
    tl_buf b = {0};
    int i;
    for (i = 0; i < header_bytes; ++i) tl_put(&b, "\x42", 1);
    tl_put_values(&b, a, 0, tl_count(a), big);
    return tl_save(&b, path);
}

/* .npy preamble + header: magic, version, header length (2 bytes in 1.0,
 * 4 in 2.0), the dict, spaces and '\n' so the data start at a multiple of 64. */
static void tl_npy_header(tl_buf* b, int major, const char* dict)
{
    size_t pre = major == 1 ? 10 : 12, n = strlen(dict), pad = (64 - (pre + n + 1) % 64) % 64, hlen = n + pad + 1, k;
    unsigned char v[6] = {(unsigned char)major, 0, (unsigned char)hlen, (unsigned char)(hlen >> 8),
                          (unsigned char)(hlen >> 16), (unsigned char)(hlen >> 24)};
    tl_put(b, "\x93NUMPY", 6);
    tl_put(b, v, major == 1 ? 4 : 6);
    tl_put(b, dict, n);
    for (k = 0; k < pad; ++k) tl_put(b, " ", 1);
    tl_put(b, "\n", 1);
}

/* A .npy header dict literal. */
#define TL_NPY(descr, fortran, shape) "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }"

static void tl_npy_dict(char* out, size_t cap, const tl_vol* a, const char* descr)
{
    if (a->C > 1)
        snprintf(out, cap, TL_NPY("%s", "False", "(%d, %d, %d, %d)"), descr, a->Z, a->Y, a->X, a->C);
    else
        snprintf(out, cap, TL_NPY("%s", "False", "(%d, %d, %d)"), descr, a->Z, a->Y, a->X);
}

static int tl_write_npy(const char* path, const tl_vol* a, int major)
{
    tl_buf b = {0};
    char dict[256];
    tl_npy_dict(dict, sizeof dict, a, tl_types[a->type].npy);
    tl_npy_header(&b, major, dict);
    tl_put_values(&b, a, 0, tl_count(a), 0);
    return tl_save(&b, path);
}

/* .npz: a zip of .npy members ----------------------------------------------- */

static void tl_le(tl_buf* b, uint32_t x, int bytes)
{
    unsigned char e[4] = {(unsigned char)x, (unsigned char)(x >> 8), (unsigned char)(x >> 16), (unsigned char)(x >> 24)};
    tl_put(b, e, (size_t)bytes);
}


typedef struct tl_member {
    const char* name;
    const unsigned char* data;
    size_t n;
    int method; /* 0 stored, 8 deflate (as stored blocks) */
} tl_member;

/* A zip of the members into b: local header + data each, then the central
 * directory and its end record. */
static void tl_zip(tl_buf* b, const tl_member* m, int count)
{
    uint32_t offsets[8], csize[8];
    size_t cd;
    int i;
    for (i = 0; i < count; ++i) {
        tl_buf d = {0};
        size_t k = 0;
        if (m[i].method == 8) {
            /* deflate stored blocks: BFINAL/BTYPE=00 byte, LEN, NLEN, bytes */
            do {
                size_t len = m[i].n - k < 65535 ? m[i].n - k : 65535;
                unsigned char hd = k + len == m[i].n ? 1 : 0;
                tl_put(&d, &hd, 1);
                tl_le(&d, (uint32_t)len, 2);
                tl_le(&d, (uint32_t)(~len & 0xFFFFu), 2);
                tl_put(&d, m[i].data + k, len);
                k += len;
            } while (k < m[i].n);
        } else {
            tl_put(&d, m[i].data, m[i].n);
        }
        offsets[i] = (uint32_t)b->n;
        csize[i] = (uint32_t)d.n;
        tl_put(b, "PK\3\4", 4);
        tl_le(b, 20, 2), tl_le(b, 0, 2), tl_le(b, (uint32_t)m[i].method, 2), tl_le(b, 0, 2), tl_le(b, 0x21, 2);
        tl_le(b, th_crc32(m[i].data, m[i].n), 4), tl_le(b, csize[i], 4), tl_le(b, (uint32_t)m[i].n, 4);
        tl_le(b, (uint32_t)strlen(m[i].name), 2), tl_le(b, 0, 2);
        tl_put(b, m[i].name, strlen(m[i].name));
        tl_put(b, d.p, d.n);
        free(d.p);
    }
    cd = b->n;
    for (i = 0; i < count; ++i) {
        tl_put(b, "PK\1\2", 4);
        tl_le(b, 20, 2), tl_le(b, 20, 2), tl_le(b, 0, 2), tl_le(b, (uint32_t)m[i].method, 2), tl_le(b, 0, 2);
        tl_le(b, 0x21, 2), tl_le(b, th_crc32(m[i].data, m[i].n), 4), tl_le(b, csize[i], 4);
        tl_le(b, (uint32_t)m[i].n, 4), tl_le(b, (uint32_t)strlen(m[i].name), 2), tl_le(b, 0, 2), tl_le(b, 0, 2);
        tl_le(b, 0, 2), tl_le(b, 0, 2), tl_le(b, 0, 4), tl_le(b, offsets[i], 4);
        tl_put(b, m[i].name, strlen(m[i].name));
    }
    tl_put(b, "PK\5\6", 4);
    tl_le(b, 0, 2), tl_le(b, 0, 2), tl_le(b, (uint32_t)count, 2), tl_le(b, (uint32_t)count, 2);
    tl_le(b, (uint32_t)(b->n - 12 - cd), 4), tl_le(b, (uint32_t)cd, 4), tl_le(b, 0, 2);
}

/* a.npz: a text member first (not picked by default), then arr_0.npy holding a */
static int tl_write_npz(const char* path, const tl_vol* a, int method)
{
    tl_buf npy = {0}, b = {0};
    char dict[256];
    static const char text[] = "written by tests/test_loaders.c\n";
    tl_member m[2] = {{"readme.txt", (const unsigned char*)text, sizeof text - 1, 0}, {"arr_0.npy", NULL, 0, method}};
    int r;
    tl_npy_dict(dict, sizeof dict, a, tl_types[a->type].npy);
    tl_npy_header(&npy, 1, dict);
    tl_put_values(&npy, a, 0, tl_count(a), 0);
    m[1].data = npy.p;
    m[1].n = npy.n;
    tl_zip(&b, m, 2);
    r = tl_save(&b, path);
    free(npy.p);
    return r;
}

/* NRRD fields shared by attached and detached headers (after the magic). */
static void tl_nrrd_fields(tl_buf* b, const tl_vol* a, int big)
{
    tl_printf(b, "# written by tests/test_loaders.c\ntype: %s\n", tl_types[a->type].nrrd);
    if (a->C > 1)
        tl_printf(b, "dimension: 4\nsizes: %d %d %d %d\nkinds: vector domain domain domain\nspacings: nan 1 1 1\n",
                  a->C, a->X, a->Y, a->Z);
    else
        tl_printf(b, "dimension: 3\nsizes: %d %d %d\nspacings: 1 1 1\n", a->X, a->Y, a->Z);
    tl_printf(b, "endian: %s\nencoding: raw\ncontent:=key-value pairs are ignored\n", big ? "big" : "little");
}

/* .nrrd with the data attached after the blank line. */
static int tl_write_nrrd(const char* path, const tl_vol* a, int big)
{
    tl_buf b = {0};
    tl_printf(&b, "NRRD0004\n");
    tl_nrrd_fields(&b, a, big);
    tl_printf(&b, "\n");
    tl_put_values(&b, a, 0, tl_count(a), big);
    return tl_save(&b, path);
}

/* .nhdr + one data file that starts with `skip` junk bytes ("byte skip"). */
static int tl_write_nhdr_single(const char* path, const char* data_name, const tl_vol* a, int big, int skip)
{
    tl_buf b = {0}, d = {0};
    char dpath[1024];
    int i;
    tl_printf(&b, "NRRD0005\n");
    tl_nrrd_fields(&b, a, big);
    tl_printf(&b, "byte skip: %d\ndata file: %s\n", skip, data_name);
    for (i = 0; i < skip; ++i) tl_put(&d, "\x7F", 1);
    tl_put_values(&d, a, 0, tl_count(a), big);
    if (tl_save(&d, tl_path(dpath, sizeof dpath, data_name))) return -1;
    return tl_save(&b, path);
}

/* .nhdr whose data are Z files, one z slice each: a LIST of names, or a
 * printf pattern "data file: <fmt> <min> <max> <step>" -- "%d" from 1 by 1,
 * "%03d" from 0 by 2, or "%d" from Z down to 1 (step -1). */
enum { TL_PATTERN = 0, TL_PATTERN_STEP2 = 1, TL_PATTERN_DOWN = 2, TL_LIST = 3 };
static int tl_write_nhdr_slices(const char* path, const char* prefix, const tl_vol* a, int mode)
{
    static const int firsts[3] = {1, 0, -1}, steps[3] = {1, 2, -1};
    tl_buf b = {0};
    size_t slice = (size_t)a->X * a->Y * a->C;
    int z, first = mode < TL_LIST ? firsts[mode] : 0, step = mode < TL_LIST ? steps[mode] : 0;
    char name[256], dpath[1024];
    if (mode == TL_PATTERN_DOWN) first = a->Z;
    tl_printf(&b, "NRRD0004\n");
    tl_nrrd_fields(&b, a, 0);
    if (mode == TL_LIST)
        tl_printf(&b, "data file: LIST\n");
    else
        tl_printf(&b, "data file: %s.%s %d %d %d\n", prefix, mode == TL_PATTERN_STEP2 ? "%03d" : "%d", first,
                  first + (a->Z - 1) * step, step);
    for (z = 0; z < a->Z; ++z) {
        tl_buf d = {0};
        if (mode == TL_LIST)
            snprintf(name, sizeof name, "%s_list_%c.raw", prefix, 'a' + z);
        else if (mode == TL_PATTERN_STEP2)
            snprintf(name, sizeof name, "%s.%03d", prefix, first + z * step);
        else
            snprintf(name, sizeof name, "%s.%d", prefix, first + z * step);
        if (mode == TL_LIST) tl_printf(&b, "%s\n", name);
        tl_put_values(&d, a, (size_t)z * slice, slice, 0);
        if (tl_save(&d, tl_path(dpath, sizeof dpath, name))) return -1;
    }
    return tl_save(&b, path);
}

static void tl_mhd_fields(tl_buf* b, const tl_vol* a, int big)
{
    tl_printf(b, "ObjectType = Image\nNDims = 3\nBinaryData = True\nCompressedData = False\n");
    tl_printf(b, "DimSize = %d %d %d\nElementSpacing = 1 1 1\n", a->X, a->Y, a->Z);
    if (a->C > 1) tl_printf(b, "ElementNumberOfChannels = %d\n", a->C);
    tl_printf(b, "ElementByteOrderMSB = %s\nElementType = %s\n", big ? "True" : "False", tl_types[a->type].mhd);
}

/* MetaImage: .mhd naming a data file, or .mha with ElementDataFile = LOCAL. */
static int tl_write_mhd(const char* path, const char* data_name, const tl_vol* a, int big)
{
    tl_buf b = {0}, d = {0};
    char dpath[1024];
    tl_mhd_fields(&b, a, big);
    if (data_name) {
        tl_printf(&b, "ElementDataFile = %s\n", data_name);
        tl_put_values(&d, a, 0, tl_count(a), big);
        if (tl_save(&d, tl_path(dpath, sizeof dpath, data_name))) return -1;
    } else {
        tl_printf(&b, "ElementDataFile = LOCAL\n");
        tl_put_values(&b, a, 0, tl_count(a), big);
    }
    return tl_save(&b, path);
}

/* QVis .dat + little-endian raw object file. */
static int tl_write_dat(const char* path, const char* data_name, const tl_vol* a)
{
    tl_buf b = {0};
    char dpath[1024];
    if (tl_write_raw(tl_path(dpath, sizeof dpath, data_name), a, 0, 0)) return -1;
    tl_printf(&b, "ObjectFileName: %s\nTaggedFileName: ---\nResolution:  %d %d %d\nSliceThickness: 1 1 1\n", data_name,
              a->X, a->Y, a->Z);
    tl_printf(&b, "Format:\t%s\nNbrTags: 0\nObjectType: TEXTURE_VOLUME_OBJECT\nObjectModel: I\nGridType: EQUIDISTANT\n",
              tl_types[a->type].qvis);
    return tl_save(&b, path);
}

/* Legacy VTK STRUCTURED_POINTS; BINARY data are big-endian by the spec. */
static int tl_write_vtk(const char* path, const tl_vol* a, int binary)
{
    tl_buf b = {0};
    size_t i, n = tl_count(a);
    tl_printf(&b, "# vtk DataFile Version 3.0\ndvren loader test\n%s\nDATASET STRUCTURED_POINTS\n",
              binary ? "BINARY" : "ASCII");
    tl_printf(&b, "DIMENSIONS %d %d %d\nORIGIN 0 0 0\nSPACING 1 1 1\nPOINT_DATA %d\n", a->X, a->Y, a->Z,
              a->X * a->Y * a->Z);
    tl_printf(&b, "SCALARS density %s %d\nLOOKUP_TABLE default\n", tl_types[a->type].vtk, a->C);
    if (binary) {
        tl_put_values(&b, a, 0, n, 1);
        tl_printf(&b, "\n");
    } else {
        /* %.17g prints a double exactly enough to read it back bit for bit */
        for (i = 0; i < n; ++i) tl_printf(&b, "%.17g%s", a->v[i], (i % 8 == 7 || i + 1 == n) ? "\n" : " ");
    }
    return tl_save(&b, path);
}

/* ======================================================================== */
/* loading and checking                                                     */
/* ======================================================================== */

/* World box of a test volume: voxel spacing 0.5 from (-1, 0.5, 2), all
 * exact binary fractions, so voxel centres map to exact integer indices. */
static const double tl_x0[3] = {-1.0, 0.5, 2.0}, tl_h = 0.5;

static void tl_centre(const tl_vol* a, int x, int y, int z, float* p)
{
    (void)a;
    p[0] = (float)(tl_x0[0] + x * tl_h);
    p[1] = (float)(tl_x0[1] + y * tl_h);
    p[2] = (float)(tl_x0[2] + z * tl_h);
}

/* How to load one file. */
typedef struct tl_case {
    char label[96];
    char path[1024];
    const char* format; /* NULL: from the extension */
    int raw;            /* 1: give dims, dtype, endian, header_bytes, channels */
    int big, header_bytes;
} tl_case;

/* Parameters for file with this storage; a (optional) gives the bbox and,
 * for raw files, the layout. */
static dvren_params* tl_params(dvren_context* ctx, const char* file, const char* storage, const tl_vol* a,
                               const tl_case* c)
{
    dvren_params* p = NULL;
    if (dvren_params_create(ctx, &p) != DVREN_OK) return NULL;
    if (file) dvren_params_set_string(p, "file", file);
    if (storage) dvren_params_set_string(p, "storage", storage);
    if (a) {
        double bbox[6] = {tl_x0[0], tl_x0[1], tl_x0[2], tl_x0[0] + (a->X - 1) * tl_h, tl_x0[1] + (a->Y - 1) * tl_h,
                          tl_x0[2] + (a->Z - 1) * tl_h};
        dvren_params_set_numbers(p, "bbox", bbox, 6);
    }
    if (c && c->format) dvren_params_set_string(p, "format", c->format);
    if (a && c && c->raw) {
        double dims[3] = {a->X, a->Y, a->Z};
        dvren_params_set_numbers(p, "dims", dims, 3);
        dvren_params_set_string(p, "dtype", tl_types[a->type].dtype);
        dvren_params_set_string(p, "endian", c->big ? "big" : "little");
        dvren_params_set_number(p, "header_bytes", c->header_bytes);
        dvren_params_set_number(p, "channels", a->C);
    }
    return p;
}

/* Creates the dense_grid stage (params destroyed here). */
static dvren_status tl_create(dvren_context* ctx, dvren_params* p, dvren_stage** out)
{
    dvren_status s;
    *out = NULL;
    if (!p) return DVREN_ERROR_OUT_OF_MEMORY;
    s = dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p, out);
    dvren_params_destroy(p);
    return s;
}

/* The stage's voxel buffer. */
static const dvren_tensor* tl_buffer(dvren_stage* s, dvren_instance_info* info)
{
    memset(info, 0, sizeof *info);
    if (dvren_stage_info(s, info) != DVREN_OK || info->buffer_count != 1 || !info->buffers) return NULL;
    return &info->buffers[0].tensor;
}

/* The stored value a voxel must hold: the source value in float32. */
static float tl_expected(const tl_vol* a, size_t i) { return (float)a->v[i]; }

/* Checks an f32-stored stage against a: buffer shape and contents, and the
 * samples at every voxel centre, exactly. */
static void tl_check_exact(dvren_stage* s, const tl_vol* a, const char* label)
{
    dvren_instance_info info;
    const dvren_tensor* t = tl_buffer(s, &info);
    size_t i, n = tl_count(a);
    float p[3], got[DVREN_MAX_CHANNELS];
    int x, y, z, c;
    CHECK(t != NULL, "%s: no buffer", label);
    CHECK(info.channels == (uint32_t)a->C, "%s: %u channels, wrote %d", label, info.channels, a->C);
    CHECK(t->dtype == DVREN_DTYPE_F32 && t->ndim == 4 && t->shape[0] == a->Z && t->shape[1] == a->Y &&
              t->shape[2] == a->X && t->shape[3] == a->C,
          "%s: buffer %s (%lld, %lld, %lld, %lld), wrote (%d, %d, %d, %d)", label, dvren_dtype_name(t->dtype),
          (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3], a->Z, a->Y,
          a->X, a->C);
    for (i = 0; i < n; ++i)
        CHECK(((const float*)t->data)[i] == tl_expected(a, i), "%s: buffer[%zu] = %.9g, wrote %.17g", label, i,
              (double)((const float*)t->data)[i], a->v[i]);
    for (z = 0; z < a->Z; ++z)
        for (y = 0; y < a->Y; ++y)
            for (x = 0; x < a->X; ++x) {
                tl_centre(a, x, y, z, p);
                CHECK(dvren_field_sample(s, 1, p, got) == DVREN_OK, "%s: sample", label);
                for (c = 0; c < a->C; ++c) {
                    i = (((size_t)z * a->Y + y) * a->X + x) * a->C + c;
                    CHECK(got[c] == tl_expected(a, i), "%s: voxel (%d, %d, %d) channel %d = %.9g, wrote %.17g", label,
                          x, y, z, c, (double)got[c], a->v[i]);
                }
            }
}

/* n random points in the volume's box, a quarter voxel beyond it on every
 * side (so border clamping is sampled too). */
static float* tl_points(const tl_vol* a, uint32_t n, uint64_t seed)
{
    float* p = (float*)malloc((size_t)n * 3 * sizeof(float));
    const int d[3] = {a->X, a->Y, a->Z};
    uint32_t i, k;
    if (!p) exit(2);
    tl_rng = seed;
    for (i = 0; i < n; ++i)
        for (k = 0; k < 3; ++k)
            p[3 * i + k] = (float)(tl_x0[k] - 0.25 * tl_h + tl_unit() * ((d[k] - 1) * tl_h + 0.5 * tl_h));
    return p;
}

/* ======================================================================== */
/* 1. round trips: every format, same data, same field                      */
/* ======================================================================== */

#define TL_MAX_CASES 24
#define TL_POINTS 200u

/* Writes a in every format that can hold it; returns the number of cases. */
static int tl_write_all(const tl_vol* a, tl_case* cs)
{
    char tag[32], name[128];
    int n = 0;
    tl_type t = a->type;
    snprintf(tag, sizeof tag, "rt_%s_c%d", tl_types[t].dtype, a->C);
#define TL_ADD(lbl, file, ...)                                                                 \
    do {                                                                                       \
        tl_case* c_ = &cs[n++];                                                                \
        memset(c_, 0, sizeof *c_);                                                             \
        snprintf(c_->label, sizeof c_->label, "%s %s", tag, lbl);                              \
        snprintf(name, sizeof name, "%s%s", tag, file);                                        \
        tl_path(c_->path, sizeof c_->path, name);                                              \
        __VA_ARGS__;                                                                           \
    } while (0)
    TL_ADD("raw little-endian", "_le.raw", c_->raw = 1; if (tl_write_raw(c_->path, a, 0, 0)) return -1);
    TL_ADD("raw little-endian header_bytes 33", "_le_h.raw", c_->raw = 1; c_->header_bytes = 33;
           if (tl_write_raw(c_->path, a, 0, 33)) return -1);
    TL_ADD("raw big-endian header_bytes 13", "_be_h.raw", c_->raw = 1; c_->big = 1; c_->header_bytes = 13;
           if (tl_write_raw(c_->path, a, 1, 13)) return -1);
    TL_ADD("npy 1.0", "_v1.npy", if (tl_write_npy(c_->path, a, 1)) return -1);
    TL_ADD("npy 2.0", "_v2.npy", if (tl_write_npy(c_->path, a, 2)) return -1);
    TL_ADD("npy 1.0 named .vol with format npy", "_npy.vol", c_->format = "npy";
           if (tl_write_npy(c_->path, a, 1)) return -1);
    TL_ADD("npz stored", "_st.npz", if (tl_write_npz(c_->path, a, 0)) return -1);
    TL_ADD("npz deflate", "_df.npz", if (tl_write_npz(c_->path, a, 8)) return -1);
    TL_ADD("nrrd attached", ".nrrd", if (tl_write_nrrd(c_->path, a, 0)) return -1);
    TL_ADD("nrrd attached big-endian", "_be.nrrd", if (tl_write_nrrd(c_->path, a, 1)) return -1);
    snprintf(name, sizeof name, "%s_nhdr.raw", tag);
    {
        char data_name[128];
        snprintf(data_name, sizeof data_name, "%s", name);
        TL_ADD("nhdr one big-endian data file, byte skip 5", ".nhdr",
               if (tl_write_nhdr_single(c_->path, data_name, a, 1, 5)) return -1);
    }
    {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s_slice", tag);
        TL_ADD("nhdr pattern %d 1 Z 1", "_pat.nhdr",
               if (tl_write_nhdr_slices(c_->path, prefix, a, TL_PATTERN)) return -1);
        snprintf(prefix, sizeof prefix, "%s_even", tag);
        TL_ADD("nhdr pattern %03d 0 2(Z-1) 2", "_pat2.nhdr",
               if (tl_write_nhdr_slices(c_->path, prefix, a, TL_PATTERN_STEP2)) return -1);
        snprintf(prefix, sizeof prefix, "%s_down", tag);
        TL_ADD("nhdr pattern %d Z 1 -1", "_patd.nhdr",
               if (tl_write_nhdr_slices(c_->path, prefix, a, TL_PATTERN_DOWN)) return -1);
        snprintf(prefix, sizeof prefix, "%s_list", tag);
        TL_ADD("nhdr LIST", "_list.nhdr", if (tl_write_nhdr_slices(c_->path, prefix, a, TL_LIST)) return -1);
    }
    {
        char data_name[128];
        snprintf(data_name, sizeof data_name, "%s_mhd.raw", tag);
        TL_ADD("mhd + raw", ".mhd", if (tl_write_mhd(c_->path, data_name, a, 0)) return -1);
    }
    TL_ADD("mha LOCAL, MSB", ".mha", if (tl_write_mhd(c_->path, NULL, a, 1)) return -1);
    if (tl_types[t].qvis && a->C == 1) {
        char data_name[128];
        snprintf(data_name, sizeof data_name, "%s_qvis.raw", tag);
        TL_ADD("QVis dat", ".dat", if (tl_write_dat(c_->path, data_name, a)) return -1);
    }
    TL_ADD("vtk BINARY", "_bin.vtk", if (tl_write_vtk(c_->path, a, 1)) return -1);
    TL_ADD("vtk ASCII", "_ascii.vtk", if (tl_write_vtk(c_->path, a, 0)) return -1);
#undef TL_ADD
    return n;
}

/* Writes a volume of this type (C = 1 and C = 3) in every format, loads each
 * with f32 storage, checks it exactly, and checks that all loaders give
 * bitwise the same samples at random points. */
static void tl_roundtrip(tl_type type)
{
    static const int channels[2] = {1, 3};
    int k;
    for (k = 0; k < 2; ++k) {
        dvren_context* ctx = th_ctx();
        tl_vol a;
        tl_case cs[TL_MAX_CASES];
        float* pts;
        float* ref = NULL;
        float* got;
        int n, i;
        tl_vol_random(&a, 7, 5, 4, channels[k], type, 1000u + 10u * (uint64_t)type + (uint64_t)k);
        n = tl_write_all(&a, cs);
        pts = tl_points(&a, TL_POINTS, 77u + (uint64_t)k);
        got = (float*)malloc(TL_POINTS * (size_t)a.C * sizeof(float));
        ref = (float*)malloc(TL_POINTS * (size_t)a.C * sizeof(float));
        if (!got || !ref) exit(2);
        for (i = 0; i < n && !th_current_failed; ++i) {
            dvren_stage* s = NULL;
            dvren_status st = tl_create(ctx, tl_params(ctx, cs[i].path, "f32", &a, &cs[i]), &s);
            if (st != DVREN_OK) {
                th_fail_at(__FILE__, __LINE__, "load", "%s: %s: %s", cs[i].label, dvren_status_string(st),
                           dvren_last_error(ctx));
                break;
            }
            tl_check_exact(s, &a, cs[i].label);
            if (!th_current_failed && dvren_field_sample(s, TL_POINTS, pts, i ? got : ref) != DVREN_OK)
                th_fail_at(__FILE__, __LINE__, "sample", "%s: %s", cs[i].label, dvren_last_error(ctx));
            if (!th_current_failed && i && memcmp(got, ref, TL_POINTS * (size_t)a.C * sizeof(float)) != 0) {
                uint32_t j = 0;
                while (j + 1 < TL_POINTS * (uint32_t)a.C && got[j] == ref[j]) ++j;
                th_fail_at(__FILE__, __LINE__, "bitwise", "%s differs from %s: value %u is %.9g, not %.9g",
                           cs[i].label, cs[0].label, (unsigned)j, (double)got[j], (double)ref[j]);
            }
            dvren_stage_destroy(s);
        }
        if (!th_current_failed && n < 16) th_fail_at(__FILE__, __LINE__, "n", "only %d formats written", n);
        free(pts);
        free(got);
        free(ref);
        tl_vol_free(&a);
        dvren_context_destroy(ctx);
        if (th_current_failed) return;
    }
}

TEST(roundtrip_u8) { tl_roundtrip(TL_U8); }
TEST(roundtrip_i16) { tl_roundtrip(TL_I16); }
TEST(roundtrip_u16) { tl_roundtrip(TL_U16); }
TEST(roundtrip_f32) { tl_roundtrip(TL_F32); }
TEST(roundtrip_f64) { tl_roundtrip(TL_F64); }

/* Header lengths that need every byte of the length field: 1.0 with a
 * header over 255 bytes, 2.0 (and 3.0, same layout) over 65535 bytes -- the
 * reason version 2.0 exists. The padding is spaces after the dict. */
TEST(npy_long_headers)
{
    static const struct { int major; size_t pad; } cases[] = {{1, 1000}, {2, 70000}, {3, 70000}};
    dvren_context* ctx = th_ctx();
    tl_vol a;
    size_t k;
    tl_vol_random(&a, 7, 5, 4, 3, TL_F32, 6060u);
    for (k = 0; k < sizeof cases / sizeof cases[0] && !th_current_failed; ++k) {
        char path[1024], name[64], *dict = (char*)malloc(cases[k].pad + 256);
        size_t len;
        tl_buf b = {0};
        dvren_stage* s = NULL;
        dvren_status st;
        if (!dict) exit(2);
        tl_npy_dict(dict, 256, &a, "<f4");
        len = strlen(dict);
        memset(dict + len, ' ', cases[k].pad);
        dict[len + cases[k].pad] = 0;
        tl_npy_header(&b, cases[k].major, dict);
        free(dict);
        tl_put_values(&b, &a, 0, tl_count(&a), 0);
        snprintf(name, sizeof name, "long_v%d.npy", cases[k].major);
        CHECK(tl_save(&b, tl_path(path, sizeof path, name)) == 0, "write");
        st = tl_create(ctx, tl_params(ctx, path, "f32", &a, NULL), &s);
        if (st != DVREN_OK)
            th_fail_at(__FILE__, __LINE__, "load", "%s: %s", name, dvren_last_error(ctx));
        else
            tl_check_exact(s, &a, name);
        dvren_stage_destroy(s);
    }
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* A single z slice, a single voxel row: the axes with one voxel still load
 * and every voxel reads back (dims 1 are legal in every format). */
TEST(roundtrip_degenerate_dims)
{
    dvren_context* ctx = th_ctx();
    tl_vol a;
    char path[1024];
    dvren_stage* s = NULL;
    dvren_instance_info info;
    const dvren_tensor* t;
    size_t i;
    tl_vol_random(&a, 6, 1, 1, 2, TL_U16, 4242u);
    CHECK(tl_write_npy(tl_path(path, sizeof path, "deg.npy"), &a, 1) == 0, "write");
    /* the bbox of a one-voxel axis is still a box: give one explicitly */
    {
        dvren_params* p = tl_params(ctx, path, "f32", NULL, NULL);
        double bbox[6] = {0, 0, 0, 5, 1, 1};
        dvren_params_set_numbers(p, "bbox", bbox, 6);
        CHECK_OK(ctx, tl_create(ctx, p, &s));
    }
    t = tl_buffer(s, &info);
    CHECK(t && t->shape[0] == 1 && t->shape[1] == 1 && t->shape[2] == 6 && t->shape[3] == 2, "shape");
    for (i = 0; i < tl_count(&a); ++i) CHECK(((const float*)t->data)[i] == (float)a.v[i], "value %zu", i);
    for (i = 0; i < 6; ++i) {
        float p[3] = {(float)i, 0.5f, 0.5f}, got[2];
        CHECK_OK(ctx, dvren_field_sample(s, 1, p, got));
        CHECK(got[0] == (float)a.v[2 * i] && got[1] == (float)a.v[2 * i + 1], "voxel %zu: %g %g", i, (double)got[0],
              (double)got[1]);
    }
    dvren_stage_destroy(s);
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* ======================================================================== */
/* 2. storage modes                                                         */
/* ======================================================================== */

/* "auto" keeps integer files exact: u8 as u8, u16 as u16, i16 as u16 + 32768. */
TEST(storage_auto_keeps_integers_exact)
{
    static const struct { tl_type type; int C; dvren_dtype stored; double shift; } cases[] = {
        {TL_U8, 1, DVREN_DTYPE_U8, 0.0},       {TL_U8, 3, DVREN_DTYPE_U8, 0.0},
        {TL_U16, 2, DVREN_DTYPE_U16, 0.0},     {TL_I16, 1, DVREN_DTYPE_U16, 32768.0},
        {TL_I16, 3, DVREN_DTYPE_U16, 32768.0},
    };
    dvren_context* ctx = th_ctx();
    size_t k;
    for (k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        tl_vol a;
        char path[1024], name[64];
        dvren_stage* s = NULL;
        dvren_instance_info info;
        const dvren_tensor* t;
        size_t i;
        int x, y, z, c;
        tl_vol_random(&a, 7, 5, 4, cases[k].C, cases[k].type, 2000u + k);
        snprintf(name, sizeof name, "auto_%zu.npy", k);
        CHECK(tl_write_npy(tl_path(path, sizeof path, name), &a, 1) == 0, "write");
        CHECK_OK(ctx, tl_create(ctx, tl_params(ctx, path, "auto", &a, NULL), &s));
        t = tl_buffer(s, &info);
        CHECK(t && t->dtype == cases[k].stored, "case %zu: stored as %s", k, t ? dvren_dtype_name(t->dtype) : "?");
        for (i = 0; i < tl_count(&a); ++i) {
            double stored = t->dtype == DVREN_DTYPE_U8 ? ((const uint8_t*)t->data)[i] : ((const uint16_t*)t->data)[i];
            CHECK(stored == a.v[i] + cases[k].shift, "case %zu: stored[%zu] = %g for %g", k, i, stored, a.v[i]);
        }
        for (z = 0; z < a.Z; ++z)
            for (y = 0; y < a.Y; ++y)
                for (x = 0; x < a.X; ++x) {
                    float p[3], got[DVREN_MAX_CHANNELS];
                    tl_centre(&a, x, y, z, p);
                    CHECK_OK(ctx, dvren_field_sample(s, 1, p, got));
                    for (c = 0; c < a.C; ++c) {
                        i = (((size_t)z * a.Y + y) * a.X + x) * a.C + c;
                        CHECK(got[c] == (float)a.v[i], "case %zu: voxel (%d,%d,%d,%d) = %.9g, wrote %g", k, x, y, z, c,
                              (double)got[c], a.v[i]);
                    }
                }
        dvren_stage_destroy(s);
        tl_vol_free(&a);
    }
    dvren_context_destroy(ctx);
}

/* "u8" and "u16" quantise float data per channel onto [min, max]: every
 * voxel is within half a quantisation step (plus float rounding). Channel
 * ranges differ by orders of magnitude; the last channel is constant. */
TEST(storage_quantised_error_bound)
{
    static const char* const modes[2] = {"u8", "u16"};
    static const double tops[2] = {255.0, 65535.0};
    static const double lo[4] = {-1000.0, 0.0, 5.0, 7.25}, span[4] = {2000.0, 1.0, 0.001, 0.0};
    static const tl_type types[2] = {TL_F32, TL_F64};
    dvren_context* ctx = th_ctx();
    int m, ti;
    for (ti = 0; ti < 2; ++ti)
        for (m = 0; m < 2; ++m) {
            tl_vol a;
            char path[1024], name[64];
            dvren_stage* s = NULL;
            dvren_instance_info info;
            const dvren_tensor* t;
            double vmin[4], vmax[4], worst = 0.0;
            size_t i;
            int x, y, z, c;
            tl_vol_random(&a, 7, 5, 4, 4, types[ti], 3000u + (uint64_t)m);
            for (c = 0; c < 4; ++c) vmin[c] = HUGE_VAL, vmax[c] = -HUGE_VAL;
            for (i = 0; i < tl_count(&a); ++i) {
                c = (int)(i % 4);
                a.v[i] = lo[c] + span[c] * tl_unit();
                if (types[ti] == TL_F32) a.v[i] = (float)a.v[i];
                if (a.v[i] < vmin[c]) vmin[c] = a.v[i];
                if (a.v[i] > vmax[c]) vmax[c] = a.v[i];
            }
            snprintf(name, sizeof name, "quant_%d_%d.npy", ti, m);
            CHECK(tl_write_npy(tl_path(path, sizeof path, name), &a, 1) == 0, "write");
            CHECK_OK(ctx, tl_create(ctx, tl_params(ctx, path, modes[m], &a, NULL), &s));
            t = tl_buffer(s, &info);
            CHECK(t && t->dtype == (m ? DVREN_DTYPE_U16 : DVREN_DTYPE_U8), "%s: stored as %s", modes[m],
                  t ? dvren_dtype_name(t->dtype) : "?");
            for (z = 0; z < a.Z; ++z)
                for (y = 0; y < a.Y; ++y)
                    for (x = 0; x < a.X; ++x) {
                        float p[3], got[4];
                        tl_centre(&a, x, y, z, p);
                        CHECK_OK(ctx, dvren_field_sample(s, 1, p, got));
                        for (c = 0; c < 4; ++c) {
                            double range = vmax[c] - vmin[c];
                            double mag = fabs(vmin[c]) > fabs(vmax[c]) ? fabs(vmin[c]) : fabs(vmax[c]);
                            double tol = 0.5 * range / tops[m] * (1.0 + 1e-6) + 4.0 * FLT_EPSILON * (mag + range);
                            double err;
                            i = (((size_t)z * a.Y + y) * a.X + x) * 4 + c;
                            err = fabs((double)got[c] - a.v[i]);
                            if (range > 0 && err / range > worst) worst = err / range;
                            CHECK(err <= tol, "%s %s: voxel (%d,%d,%d) channel %d = %.9g, wrote %.9g: error %.3g",
                                  tl_types[types[ti]].dtype, modes[m], x, y, z, c, (double)got[c], a.v[i], err);
                        }
                    }
            /* the bound is tight: the worst error is close to half a step, not far below */
            CHECK(worst > 0.25 / tops[m], "%s: worst relative error %.3g is implausibly small", modes[m], worst);
            dvren_stage_destroy(s);
            tl_vol_free(&a);
        }
    dvren_context_destroy(ctx);
}

/* ======================================================================== */
/* 3. real data: facts from ../shared/data/README.md                        */
/* ======================================================================== */

static void tl_real(const char* rel, int X, int Y, int Z, double vmin, double vmax, double mean)
{
    const char* path = th_data(rel);
    dvren_context* ctx;
    dvren_stage *s = NULL, *sa = NULL;
    dvren_instance_info info, info_a;
    const dvren_tensor *t, *ta;
    double lo = HUGE_VAL, hi = -HUGE_VAL, sum = 0.0;
    size_t i, n;
    if (!path) SKIP("%s not found under $DVREN_DATA", rel);
    ctx = th_ctx();
    CHECK_OK(ctx, tl_create(ctx, tl_params(ctx, path, "f32", NULL, NULL), &s));
    t = tl_buffer(s, &info);
    CHECK(t && t->dtype == DVREN_DTYPE_F32 && t->ndim == 4, "f32 buffer");
    CHECK(t->shape[2] == X && t->shape[1] == Y && t->shape[0] == Z && t->shape[3] == 1,
          "%s: %lld x %lld x %lld x %lld, expected %d x %d x %d x 1", rel, (long long)t->shape[2],
          (long long)t->shape[1], (long long)t->shape[0], (long long)t->shape[3], X, Y, Z);
    n = (size_t)dvren_tensor_numel(t);
    for (i = 0; i < n; ++i) {
        double x = ((const float*)t->data)[i];
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        sum += x;
    }
    CHECK(lo == vmin && hi == vmax, "%s: min %g max %g, expected %g %g", rel, lo, hi, vmin, vmax);
    CHECK(fabs(sum / (double)n - mean) <= 1e-4 * mean, "%s: mean %.6f, expected %.4f", rel, sum / (double)n, mean);
    /* storage "auto" keeps the integers: its samples at voxel centres equal the f32 buffer */
    {
        dvren_params* p = tl_params(ctx, path, "auto", NULL, NULL);
        double bbox[6] = {0, 0, 0, X - 1, Y - 1, Z - 1};
        dvren_params_set_numbers(p, "bbox", bbox, 6);
        CHECK_OK(ctx, tl_create(ctx, p, &sa));
    }
    ta = tl_buffer(sa, &info_a);
    CHECK(ta && ta->dtype != DVREN_DTYPE_F32, "auto storage of integer data is an integer type");
    for (i = 0; i < n; i += 7) {
        float p[3] = {(float)(i % (size_t)X), (float)(i / (size_t)X % (size_t)Y), (float)(i / ((size_t)X * Y))}, got;
        CHECK_OK(ctx, dvren_field_sample(sa, 1, p, &got));
        CHECK(got == ((const float*)t->data)[i], "%s: auto voxel %zu = %g, f32 %g", rel, i, (double)got,
              (double)((const float*)t->data)[i]);
    }
    dvren_stage_destroy(sa);
    dvren_stage_destroy(s);
    dvren_context_destroy(ctx);
}

TEST(real_ct_head_nrrd_pattern) { tl_real("ct_head/quarter.nhdr", 64, 64, 93, 0, 3926, 507.6873); }
TEST(real_mr_head_metaimage) { tl_real("mr_head/HeadMRVolume.mhd", 48, 62, 42, 0, 255, 24.4682); }
TEST(real_hydrogen_atom_qvis) { tl_real("hydrogen_atom/hydrogenatom.dat", 128, 128, 128, 0, 250, 2.8567); }
TEST(real_iron_protein_vtk) { tl_real("iron_protein/ironProt.vtk", 68, 68, 68, 0, 255, 13.1383); }

/* ======================================================================== */
/* 4. bad input: the right status and a message naming file and problem     */
/* ======================================================================== */

/* Creating a stage from p (destroyed here) must fail with `want`, leave no
 * stage, and give a message holding `who` (the file name) and `what`. */
static void tl_expect(dvren_context* ctx, dvren_params* p, dvren_status want, const char* who, const char* what,
                      int line)
{
    dvren_stage* s = (dvren_stage*)&s;
    dvren_status got = tl_create(ctx, p, &s);
    const char* msg = dvren_last_error(ctx);
    if (got == DVREN_OK) dvren_stage_destroy(s);
    if (got != want || s != NULL)
        th_fail_at(__FILE__, line, "status", "expected %s, got %s (stage %p): %s", dvren_status_string(want),
                   dvren_status_string(got), (void*)s, msg);
    else if ((who && !strstr(msg, who)) || (what && !strstr(msg, what)))
        th_fail_at(__FILE__, line, "message", "message does not name '%s' and '%s': %s", who ? who : "",
                   what ? what : "", msg);
}
/* Stops the test at its first failure, through the test's cleanup label. */
#define EXPECT_ERROR(p, want, who, what)                      \
    do {                                                      \
        tl_expect(ctx, (p), (want), (who), (what), __LINE__); \
        if (th_current_failed) goto cleanup;                  \
    } while (0)

/* A small valid volume for the bad-file tests. */
static tl_vol tl_small(tl_type t)
{
    tl_vol a;
    tl_vol_random(&a, 4, 3, 2, 1, t, 555u);
    return a;
}

/* Raw params for a (dims may be overridden). */
static dvren_params* tl_raw_params(dvren_context* ctx, const char* path, const tl_vol* a, const char* dtype,
                                   int give_dims)
{
    dvren_params* p = tl_params(ctx, path, "f32", NULL, NULL);
    if (give_dims) {
        double dims[3] = {a->X, a->Y, a->Z};
        dvren_params_set_numbers(p, "dims", dims, 3);
    }
    if (dtype) dvren_params_set_string(p, "dtype", dtype);
    return p;
}

TEST(bad_raw)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_U16);
    char path[1024], big[1024], msg[64];
    tl_buf b = {0};
    /* one byte short of 4*3*2 u16 */
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    b.n -= 1;
    CHECK(tl_save(&b, tl_path(path, sizeof path, "trunc.raw")) == 0, "write");
    EXPECT_ERROR(tl_raw_params(ctx, path, &a, "u16", 1), DVREN_ERROR_FORMAT, "trunc.raw", "truncated");
    EXPECT_ERROR(tl_raw_params(ctx, path, &a, "u16", 1), DVREN_ERROR_FORMAT, "trunc.raw", "has 47 bytes");
    /* 16 bytes more than the dims say */
    CHECK(tl_write_raw(tl_path(big, sizeof big, "large.raw"), &a, 0, 16) == 0, "write");
    snprintf(msg, sizeof msg, "has %zu bytes", tl_count(&a) * 2 + 16);
    EXPECT_ERROR(tl_raw_params(ctx, big, &a, "u16", 1), DVREN_ERROR_FORMAT, "large.raw", msg);
    /* the header_bytes that explain the 16 extra bytes make it load */
    {
        dvren_params* p = tl_raw_params(ctx, big, &a, "u16", 1);
        dvren_stage* s = NULL;
        dvren_params_set_number(p, "header_bytes", 16);
        CHECK_OK(ctx, tl_create(ctx, p, &s));
        dvren_stage_destroy(s);
    }
    /* an element type that does not exist: the host's schema check names the parameter */
    EXPECT_ERROR(tl_raw_params(ctx, big, &a, "int13", 1), DVREN_ERROR_INVALID_ARGUMENT, "'dtype'", "int13");
    /* dims that are not whole numbers */
    {
        dvren_params* p = tl_raw_params(ctx, big, &a, "u16", 0);
        double dims[3] = {4.5, 3, 2};
        dvren_params_set_numbers(p, "dims", dims, 3);
        EXPECT_ERROR(p, DVREN_ERROR_INVALID_ARGUMENT, "large.raw", "whole numbers");
    }
    /* no dims, no dtype */
    EXPECT_ERROR(tl_raw_params(ctx, big, &a, "u16", 0), DVREN_ERROR_INVALID_ARGUMENT, "large.raw", "dims");
    EXPECT_ERROR(tl_raw_params(ctx, big, &a, NULL, 1), DVREN_ERROR_INVALID_ARGUMENT, "large.raw", "dtype");
    /* a name that says nothing about the format */
    CHECK(tl_write_raw(tl_path(path, sizeof path, "mystery.bin"), &a, 0, 0) == 0, "write");
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "mystery.bin", "format");
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* Writes a .npy with this version and dict, and the data of a. */
static int tl_npy_custom(const char* path, int major, const char* dict, const tl_vol* a)
{
    tl_buf b = {0};
    tl_npy_header(&b, major, dict);
    tl_put_values(&b, a, 0, tl_count(a), 0);
    return tl_save(&b, path);
}

TEST(bad_npy)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_F32);
    char path[1024];
    tl_buf b = {0};
    /* bad magic */
    tl_npy_custom(tl_path(path, sizeof path, "magic.npy"), 1, TL_NPY("<f4", "False", "(2, 3, 4)"), &a);
    {
        FILE* f = fopen(path, "r+b");
        CHECK(f && fputc('X', f) != EOF, "patch");
        fclose(f);
    }
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "magic.npy", "magic");
    /* garbage header */
    tl_npy_custom(tl_path(path, sizeof path, "garbage.npy"), 1, "this is not a python dict at all", &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "garbage.npy", "header");
    /* a dict cut short (no closing brace, no shape) */
    tl_npy_custom(tl_path(path, sizeof path, "cut.npy"), 1, "{'descr': '<f4', 'fortran_or", &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "cut.npy", "header");
    /* a header length longer than the file */
    tl_npy_header(&b, 1, TL_NPY("<f4", "False", "(2, 3, 4)"));
    b.n = 40;
    tl_save(&b, tl_path(path, sizeof path, "short.npy"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "short.npy", "header");
    /* a file shorter than the preamble */
    tl_save_bytes(tl_path(path, sizeof path, "tiny.npy"), "\x93NUM");
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "tiny.npy", NULL);
    /* version 9.0 */
    tl_npy_custom(tl_path(path, sizeof path, "v9.npy"), 9, TL_NPY("<f4", "False", "(2, 3, 4)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "v9.npy", "version 9");
    /* Fortran order */
    tl_npy_custom(tl_path(path, sizeof path, "fortran.npy"), 1, TL_NPY("<f4", "True", "(2, 3, 4)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "fortran.npy", "Fortran");
    /* big-endian float */
    tl_npy_custom(tl_path(path, sizeof path, "bigend.npy"), 1, TL_NPY(">f4", "False", "(2, 3, 4)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "bigend.npy", "big-endian");
    /* structured dtype (two float32 fields: 8 bytes per element, 12 elements = the same 96 bytes) */
    tl_npy_custom(tl_path(path, sizeof path, "struct.npy"), 1,
                  "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (12,), }", &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "struct.npy", "structured");
    /* a 2-D image */
    tl_npy_custom(tl_path(path, sizeof path, "flat.npy"), 1, TL_NPY("<f4", "False", "(6, 4)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "flat.npy", "2 dimensions");
    /* complex numbers */
    tl_npy_custom(tl_path(path, sizeof path, "complex.npy"), 1, TL_NPY("<c8", "False", "(2, 3, 2)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "complex.npy", "<c8");
    /* the shape says more data than there is */
    tl_npy_custom(tl_path(path, sizeof path, "shape.npy"), 2, TL_NPY("<f4", "False", "(3, 3, 4)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "shape.npy", "truncated");
    /* a shape far larger than the file: refused before any allocation */
    tl_npy_custom(tl_path(path, sizeof path, "huge.npy"), 2,
                  TL_NPY("<f4", "False", "(1000, 1000, 1000, 16)"), &a);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "huge.npy", NULL);
    /* NaN voxels are refused, naming the file */
    a.v[5] = NAN;
    tl_write_npy(tl_path(path, sizeof path, "nan.npy"), &a, 1);
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "nan.npy", "not finite");
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

TEST(bad_nrrd)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_I16);
    char path[1024], dpath[1024];
    tl_buf b = {0};
    /* gzip encoding */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: gzip\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "gz.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "gz.nrrd",
                 "encoding 'gzip' is not supported");
    /* no sizes */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nendian: little\nencoding: raw\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "nosizes.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "nosizes.nrrd", "sizes");
    /* 2-byte type without endian */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nencoding: raw\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "noendian.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "noendian.nrrd", "endian");
    /* not NRRD at all */
    tl_save_bytes(tl_path(path, sizeof path, "notnrrd.nrrd"), "P5\n4 3\n255\n");
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "notnrrd.nrrd", "magic");
    /* a %d pattern whose slice 2 is missing: the message names that file */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n"
                  "data file: gap_slice.%%d 1 2 1\n");
    tl_save(&b, tl_path(path, sizeof path, "gap.nhdr"));
    tl_put_values(&b, &a, 0, 12, 0);
    tl_save(&b, tl_path(dpath, sizeof dpath, "gap_slice.1"));
    remove(tl_path(dpath, sizeof dpath, "gap_slice.2"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_IO, "gap_slice.2", "cannot open");
    /* a pattern with no %d in its file name (the '%' is in another token) */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n"
                  "data file: gap_slice 1 2 1 %%d\n");
    tl_save(&b, tl_path(path, sizeof path, "badpat.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "badpat.nhdr", "data file");
    /* a pattern whose range overflows */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n"
                  "data file: gap_slice.%%d -9000000000000000000 9000000000000000000 1\n");
    tl_save(&b, tl_path(path, sizeof path, "range.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "range.nhdr", NULL);
    /* attached data one element short */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a) - 1, 0);
    tl_save(&b, tl_path(path, sizeof path, "short.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "short.nrrd", "truncated");
    /* 5-D */
    tl_printf(&b, "NRRD0004\ntype: short\ndimension: 5\nsizes: 1 4 3 2 1\nendian: little\nencoding: raw\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "fived.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "fived.nrrd", "dimension 5");
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

TEST(bad_metaimage)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_U8);
    char path[1024], dpath[1024];
    tl_buf b = {0};
    tl_write_raw(tl_path(dpath, sizeof dpath, "mhd_ok.raw"), &a, 0, 0);
    /* compressed */
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nElementType = MET_UCHAR\nCompressedData = True\n"
                  "CompressedDataSize = 20\nElementDataFile = mhd_ok.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "zip.mhd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "zip.mhd", "compressed");
    /* the data file is missing: the message names it */
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nElementType = MET_UCHAR\nElementDataFile = mhd_gone.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "gone.mhd"));
    remove(tl_path(dpath, sizeof dpath, "mhd_gone.raw"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_IO, "mhd_gone.raw", "cannot open");
    /* ASCII data (BinaryData = False) */
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nBinaryData = False\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n");
    {
        size_t i;
        for (i = 0; i < tl_count(&a); ++i) tl_printf(&b, "%d\n", (int)a.v[i]);
    }
    tl_save(&b, tl_path(path, sizeof path, "ascii.mha"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "ascii.mha", "BinaryData");
    /* no ElementType */
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nElementDataFile = mhd_ok.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "notype.mhd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "notype.mhd", "ElementType");
    /* a 2-D image */
    tl_printf(&b, "NDims = 2\nDimSize = 12 2\nElementType = MET_UCHAR\nElementDataFile = mhd_ok.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "flat.mhd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "flat.mhd", "NDims");
    /* DimSize larger than the data file */
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 3\nElementType = MET_UCHAR\nElementDataFile = mhd_ok.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "bigdims.mhd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "mhd_ok.raw", "truncated");
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

TEST(bad_vtk_and_qvis)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_U8);
    char path[1024], dpath[1024];
    tl_buf b = {0};
    size_t i;
    /* CELL_DATA */
    tl_printf(&b, "# vtk DataFile Version 3.0\ncells\nBINARY\nDATASET STRUCTURED_POINTS\nDIMENSIONS 5 4 3\n"
                  "CELL_DATA 24\nSCALARS s unsigned_char 1\nLOOKUP_TABLE default\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 1);
    tl_save(&b, tl_path(path, sizeof path, "cells.vtk"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "cells.vtk", "CELL_DATA");
    /* an unstructured grid */
    tl_printf(&b, "# vtk DataFile Version 3.0\nmesh\nASCII\nDATASET UNSTRUCTURED_GRID\nPOINTS 0 float\n");
    tl_save(&b, tl_path(path, sizeof path, "mesh.vtk"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "mesh.vtk", "UNSTRUCTURED_GRID");
    /* binary data cut short */
    tl_printf(&b, "# vtk DataFile Version 3.0\nshort\nBINARY\nDATASET STRUCTURED_POINTS\nDIMENSIONS 4 3 2\n"
                  "POINT_DATA 24\nSCALARS s unsigned_char 1\nLOOKUP_TABLE default\n");
    tl_put_values(&b, &a, 0, 20, 1);
    tl_save(&b, tl_path(path, sizeof path, "short.vtk"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "short.vtk", "truncated");
    /* ASCII data cut short; the last line has no newline */
    tl_printf(&b, "# vtk DataFile Version 3.0\nshort\nASCII\nDATASET STRUCTURED_POINTS\nDIMENSIONS 4 3 2\n"
                  "POINT_DATA 24\nSCALARS s unsigned_char 1\nLOOKUP_TABLE default\n1 2 3");
    tl_save(&b, tl_path(path, sizeof path, "short_ascii.vtk"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "short_ascii.vtk", "ends after 3");
    /* ASCII header whose last line (LOOKUP_TABLE) has no newline and no data */
    tl_printf(&b, "# vtk DataFile Version 3.0\nempty\nASCII\nDATASET STRUCTURED_POINTS\nDIMENSIONS 4 3 2\n"
                  "POINT_DATA 24\nSCALARS s unsigned_char 1\nLOOKUP_TABLE default");
    tl_save(&b, tl_path(path, sizeof path, "nodata.vtk"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "nodata.vtk", NULL);
    /* an ASCII value outside unsigned_char */
    tl_printf(&b, "# vtk DataFile Version 3.0\nrange\nASCII\nDATASET STRUCTURED_POINTS\nDIMENSIONS 4 3 2\n"
                  "POINT_DATA 24\nSCALARS s unsigned_char 1\nLOOKUP_TABLE default\n");
    for (i = 0; i < 24; ++i) tl_printf(&b, "%d\n", i == 7 ? 300 : (int)i);
    tl_save(&b, tl_path(path, sizeof path, "range.vtk"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "range.vtk", "300");
    /* QVis with an unknown Format */
    tl_write_raw(tl_path(dpath, sizeof dpath, "qvis_ok.raw"), &a, 0, 0);
    tl_save_bytes(tl_path(path, sizeof path, "rgba.dat"),
                  "ObjectFileName: qvis_ok.raw\nResolution: 4 3 2\nFormat: UCHAR4X\n");
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "rgba.dat", "UCHAR4X");
    /* QVis whose Resolution is larger than the object file */
    tl_save_bytes(tl_path(path, sizeof path, "big.dat"),
                  "ObjectFileName: qvis_ok.raw\nResolution: 4 3 5\nFormat: UCHAR\n");
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "qvis_ok.raw", "truncated");
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* A blank line where the format keyword belongs, as in the iron protein
 * file: VTK's own reader skips it; the keyword still decides ASCII/BINARY. */
TEST(vtk_blank_line_before_format)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_U8);
    char path[1024];
    tl_buf b = {0};
    dvren_stage* s = NULL;
    size_t i;
    tl_printf(&b, "# vtk DataFile Version 2.0\nblank line follows\n\nASCII\n\nDATASET STRUCTURED_POINTS\n"
                  "DIMENSIONS 4 3 2\nPOINT_DATA 24\nSCALARS s unsigned_char\nLOOKUP_TABLE default\n");
    for (i = 0; i < tl_count(&a); ++i) tl_printf(&b, "%d ", (int)a.v[i]);
    tl_save(&b, tl_path(path, sizeof path, "blank_ascii.vtk"));
    CHECK_OK(ctx, tl_create(ctx, tl_params(ctx, path, "f32", &a, NULL), &s));
    tl_check_exact(s, &a, "ASCII after a blank line");
    dvren_stage_destroy(s);
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

TEST(bad_sources)
{
    dvren_context* ctx = th_ctx();
    char path[1024];
    dvren_params* p;
    /* a file that does not exist */
    remove(tl_path(path, sizeof path, "nowhere.npy"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_IO, "nowhere.npy", "cannot open");
    remove(tl_path(path, sizeof path, "nowhere.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_IO, "nowhere.nhdr", "cannot open");
    /* no parameters at all: no source */
    {
        dvren_stage* s = (dvren_stage*)&s;
        CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", NULL, &s) == DVREN_ERROR_INVALID_ARGUMENT &&
                  s == NULL,
              "no params: %s", dvren_last_error(ctx));
        CHECK(strstr(dvren_last_error(ctx), "no volume source"), "message: %s", dvren_last_error(ctx));
    }
    /* a file and a generator */
    p = tl_params(ctx, path, NULL, NULL, NULL);
    dvren_params_set_string(p, "generator", "marschner_lobb");
    EXPECT_ERROR(p, DVREN_ERROR_INVALID_ARGUMENT, "more than one", "source");
    /* generator dims whose voxel count overflows: refused, not allocated */
    p = tl_params(ctx, NULL, NULL, NULL, NULL);
    {
        double dims[3] = {1 << 20, 1 << 20, 1 << 20};
        dvren_params_set_string(p, "generator", "peer");
        dvren_params_set_numbers(p, "dims", dims, 3);
    }
    EXPECT_ERROR(p, DVREN_ERROR_INVALID_ARGUMENT, "dims", "max_bytes");
cleanup:
    dvren_context_destroy(ctx);
}

/* ======================================================================== */
/* 4b. regressions: what coverage-guided fuzzing found (tests/fuzz/)         */
/* ======================================================================== */

/* The NRRD header of tl_small(TL_I16) up to its data lines. */
#define TL_NRRD_I16 "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n"

/* NRRD "byte skip" and MetaImage "HeaderSize" near INT64_MAX overflowed
 * header_end + skip and skip + n (undefined behaviour); now refused as
 * fields, and the size check cannot overflow for any skip it takes. */
TEST(skip_near_int64_max)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_I16);
    char path[1024], dpath[1024];
    tl_buf b = {0};
    tl_printf(&b, TL_NRRD_I16 "byte skip: 9223372036854775000\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "skipmax.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skipmax.nrrd", "'byte skip'");
    tl_printf(&b, TL_NRRD_I16 "byte skip: 99999999999999999999999\ndata file: skipmax.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "skipmax.nhdr"));
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(dpath, sizeof dpath, "skipmax.raw"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skipmax.nhdr", "'byte skip'");
    /* the largest skip taken (2^53) is only a size mismatch */
    tl_printf(&b, TL_NRRD_I16 "byte skip: 9007199254740992\ndata file: skipmax.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "skip53.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skipmax.raw", "truncated");
    tl_printf(&b, TL_NRRD_I16 "byte skip: 9007199254740992\n\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "skip53.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skip53.nrrd", "truncated");
    tl_printf(&b, TL_NRRD_I16 "byte skip: -2\n\n");
    tl_save(&b, tl_path(path, sizeof path, "skipneg.nrrd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skipneg.nrrd", "'byte skip'");
    /* MetaImage, attached and detached */
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nElementType = MET_SHORT\nHeaderSize = 9223372036854775807\n"
                  "ElementDataFile = LOCAL\n");
    tl_put_values(&b, &a, 0, tl_count(&a), 0);
    tl_save(&b, tl_path(path, sizeof path, "skipmax.mha"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skipmax.mha", "'HeaderSize'");
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nElementType = MET_SHORT\nHeaderSize = 9223372036854775807\n"
                  "ElementDataFile = skipmax.raw\n");
    tl_save(&b, tl_path(path, sizeof path, "skipmax.mhd"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skipmax.mhd", "'HeaderSize'");
    tl_printf(&b, "NDims = 3\nDimSize = 4 3 2\nElementType = MET_SHORT\nHeaderSize = 9007199254740992\n"
                  "ElementDataFile = LOCAL\n");
    tl_save(&b, tl_path(path, sizeof path, "skip53.mha"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "skip53.mha", "truncated");
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* A "data file:" pattern with a huge count and a name longer than the path
 * buffer hung (every name cut to the same file); "%999999999d" took seconds
 * per name. Each is now an error at once. */
TEST(nrrd_pattern_limits)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_I16);
    char path[1024], *longname = (char*)malloc(6000);
    tl_buf b = {0};
    time_t t0 = time(NULL);
    CHECK(longname, "malloc");
    memset(longname, 'n', 5000);
    longname[5000] = 0;
    /* 2e9 files for 2 slices */
    tl_printf(&b, TL_NRRD_I16 "data file: lim_slice.%%d 1 2000000000 1\n");
    tl_save(&b, tl_path(path, sizeof path, "count.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "count.nhdr", "2 slices");
    /* names longer than the path buffer (4096): a pattern's expansion, a
     * plain name, LIST lines, and a name that fits alone but not with its
     * folder (tl_printf cuts at 4 KiB: the names go in with tl_put) */
    tl_printf(&b, TL_NRRD_I16 "data file: ");
    tl_put(&b, longname, 4000);
    tl_printf(&b, "%%099d 1 2 1\n");
    tl_save(&b, tl_path(path, sizeof path, "longpat.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "longpat.nhdr", "longer than");
    tl_printf(&b, TL_NRRD_I16 "data file: ");
    tl_put(&b, longname, 5000);
    tl_printf(&b, "\n");
    tl_save(&b, tl_path(path, sizeof path, "longname.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "longname.nhdr", "longer than");
    tl_printf(&b, TL_NRRD_I16 "data file: LIST\n");
    tl_put(&b, longname, 5000);
    tl_printf(&b, "\n");
    tl_put(&b, longname, 5000);
    tl_printf(&b, "\n");
    tl_save(&b, tl_path(path, sizeof path, "longlist.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "longlist.nhdr", "longer than");
    tl_printf(&b, TL_NRRD_I16 "data file: ");
    tl_put(&b, longname, 4092); /* with any folder of 4 characters or more, the join is too long */
    tl_printf(&b, "%%d 1 2 1\n");
    tl_save(&b, tl_path(path, sizeof path, "longjoin.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "longjoin.nhdr", "longer than");
    /* absurd field widths */
    tl_printf(&b, TL_NRRD_I16 "data file: lim_slice.%%999999999d 1 2 1\n");
    tl_save(&b, tl_path(path, sizeof path, "width.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "width.nhdr", "field width");
    /* a LIST with more names than slices */
    tl_printf(&b, TL_NRRD_I16 "data file: LIST\na\nb\nc\n");
    tl_save(&b, tl_path(path, sizeof path, "list3.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "list3.nhdr", "2 slices");
    /* a width that is fine: the (missing) file gets its padded name */
    tl_printf(&b, TL_NRRD_I16 "data file: lim_slice.%%05d 1 2 1\n");
    tl_save(&b, tl_path(path, sizeof path, "width5.nhdr"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_IO, "lim_slice.00001", "cannot open");
    CHECK(difftime(time(NULL), t0) < 5.0, "the limits took %.0f s", difftime(time(NULL), t0));
cleanup:
    free(longname);
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* max_bytes: files, generators and the storage conversion are refused
 * before allocating (a generator of 4096^3 tried 256 GiB). */
TEST(memory_limit)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_U16); /* 48 bytes in the file, 96 stored as f32 */
    char path[1024];
    dvren_params* p;
    dvren_stage* s = NULL;
    time_t t0 = time(NULL);
    tl_write_npy(tl_path(path, sizeof path, "limit.npy"), &a, 1);
    p = tl_params(ctx, path, "f32", NULL, NULL);
    dvren_params_set_number(p, "max_bytes", 47);
    EXPECT_ERROR(p, DVREN_ERROR_FORMAT, "limit.npy", "max_bytes = 47");
    p = tl_params(ctx, path, "f32", NULL, NULL);
    dvren_params_set_number(p, "max_bytes", 60);
    EXPECT_ERROR(p, DVREN_ERROR_INVALID_ARGUMENT, "limit.npy", "stored voxels");
    p = tl_params(ctx, path, "u16", NULL, NULL);
    dvren_params_set_number(p, "max_bytes", 60);
    CHECK_OK(ctx, tl_create(ctx, p, &s));
    dvren_stage_destroy(s);
    /* the generator: 4096^3 floats is 256 GiB, over the 8 GiB default */
    p = tl_params(ctx, NULL, NULL, NULL, NULL);
    {
        double dims[3] = {4096, 4096, 4096};
        dvren_params_set_string(p, "generator", "marschner_lobb");
        dvren_params_set_numbers(p, "dims", dims, 3);
    }
    EXPECT_ERROR(p, DVREN_ERROR_INVALID_ARGUMENT, "marschner_lobb", "max_bytes");
    p = tl_params(ctx, NULL, NULL, NULL, NULL);
    {
        double dims[3] = {16, 16, 16};
        dvren_params_set_string(p, "generator", "constant");
        dvren_params_set_numbers(p, "dims", dims, 3);
        dvren_params_set_number(p, "max_bytes", 16 * 16 * 16 * 4 - 1);
    }
    EXPECT_ERROR(p, DVREN_ERROR_INVALID_ARGUMENT, "constant", "max_bytes");
    CHECK(difftime(time(NULL), t0) < 5.0, "refusing took %.0f s", difftime(time(NULL), t0));
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* Writes a zip of one .npy member (a) into b, unsaved, for patching. */
static void tl_npz_buf(tl_buf* b, const tl_vol* a, const char* name, int method)
{
    tl_buf npy = {0};
    char dict[256];
    tl_member m = {name, NULL, 0, method};
    tl_npy_dict(dict, sizeof dict, a, tl_types[a->type].npy);
    tl_npy_header(&npy, 1, dict);
    tl_put_values(&npy, a, 0, tl_count(a), 0);
    m.data = npy.p;
    m.n = npy.n;
    tl_zip(b, &m, 1);
    free(npy.p);
}

TEST(npz_members_and_errors)
{
    dvren_context* ctx = th_ctx();
    tl_vol a = tl_small(TL_F32);
    char path[1024];
    tl_buf b = {0};
    dvren_params* p;
    dvren_stage* s = NULL;
    size_t cd;
    /* the member by name, with or without .npy */
    CHECK(tl_write_npz(tl_path(path, sizeof path, "two.npz"), &a, 8) == 0, "write");
    p = tl_params(ctx, path, "f32", NULL, NULL);
    dvren_params_set_string(p, "array", "arr_0");
    CHECK_OK(ctx, tl_create(ctx, p, &s));
    dvren_stage_destroy(s);
    s = NULL;
    p = tl_params(ctx, path, "f32", NULL, NULL);
    dvren_params_set_string(p, "array", "arr_0.npy");
    CHECK_OK(ctx, tl_create(ctx, p, &s));
    dvren_stage_destroy(s);
    p = tl_params(ctx, path, "f32", NULL, NULL);
    dvren_params_set_string(p, "array", "arr_9");
    EXPECT_ERROR(p, DVREN_ERROR_NOT_FOUND, "two.npz", "no member 'arr_9'");
    /* a member that is not a .npy: the member is named */
    p = tl_params(ctx, path, "f32", NULL, NULL);
    dvren_params_set_string(p, "array", "readme.txt");
    EXPECT_ERROR(p, DVREN_ERROR_FORMAT, "member 'readme.txt'", "not a .npy");
    /* a damaged byte in the voxels: CRC-32 */
    tl_npz_buf(&b, &a, "arr_0.npy", 0);
    b.p[30 + 9 + 128 + 5] ^= 0x40;
    tl_save(&b, tl_path(path, sizeof path, "crc.npz"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "member 'arr_0.npy'", "CRC-32");
    /* a deflate stream cut short: the member's sizes say more than it holds */
    tl_npz_buf(&b, &a, "arr_0.npy", 8);
    b.p[30 + 9] = 0; /* the first (only) stored block is no longer the final one */
    tl_save(&b, tl_path(path, sizeof path, "cut.npz"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "member 'arr_0.npy'", "end early");
    /* an uncompressed size far beyond what deflate can give: refused before allocating */
    tl_npz_buf(&b, &a, "arr_0.npy", 8);
    cd = b.n - 22 - 46 - 9;
    b.p[cd + 24 + 3] = 0x7F;
    tl_save(&b, tl_path(path, sizeof path, "bomb.npz"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "member 'arr_0.npy'", "claims");
    /* bzip2 (method 12) */
    tl_npz_buf(&b, &a, "arr_0.npy", 0);
    b.p[8] = 12;
    b.p[b.n - 22 - 46 - 9 + 10] = 12;
    tl_save(&b, tl_path(path, sizeof path, "bzip2.npz"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "member 'arr_0.npy'", "method 12");
    /* a shape that needs more than the member holds */
    {
        tl_buf npy = {0};
        tl_member m = {"arr_0.npy", NULL, 0, 8};
        tl_npy_header(&npy, 1, TL_NPY("<f4", "False", "(3, 3, 4)"));
        tl_put_values(&npy, &a, 0, tl_count(&a), 0);
        m.data = npy.p;
        m.n = npy.n;
        tl_zip(&b, &m, 1);
        free(npy.p);
        tl_save(&b, tl_path(path, sizeof path, "shape.npz"));
        EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "member 'arr_0.npy'", "truncated");
    }
    /* a central directory pointing past the end of the file */
    tl_npz_buf(&b, &a, "arr_0.npy", 0);
    b.p[b.n - 22 + 16 + 2] = 0x40;
    tl_save(&b, tl_path(path, sizeof path, "cdout.npz"));
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "cdout.npz", "central directory");
    /* not a zip at all, and no .npy member */
    tl_save_bytes(tl_path(path, sizeof path, "notzip.npz"), "this is not a zip file, only text");
    EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "notzip.npz", "not a zip");
    {
        tl_member m = {"notes.txt", (const unsigned char*)"hello", 5, 0};
        tl_zip(&b, &m, 1);
        tl_save(&b, tl_path(path, sizeof path, "nonpy.npz"));
        EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, "nonpy.npz", "no .npy member");
    }
cleanup:
    tl_vol_free(&a);
    dvren_context_destroy(ctx);
}

/* Known volume formats dense_grid does not read say so, by name. */
TEST(unsupported_formats)
{
    dvren_context* ctx = th_ctx();
    static const char* const names[][2] = {
        {"cloud.vdb", "OpenVDB"}, {"cloud.nvdb", "NanoVDB"}, {"bunny.ply", "PLY"}, {"brain.nii.gz", "NIfTI"}};
    char path[1024], what[128];
    int i;
    for (i = 0; i < 4; ++i) {
        tl_save_bytes(tl_path(path, sizeof path, names[i][0]), "not read");
        snprintf(what, sizeof what, "format %s", names[i][1]);
        EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, names[i][0], what);
        EXPECT_ERROR(tl_params(ctx, path, "f32", NULL, NULL), DVREN_ERROR_FORMAT, names[i][0],
                     "is not supported by dense_grid");
    }
cleanup:
    dvren_context_destroy(ctx);
}

/* ======================================================================== */
/* 5. fuzz: damaged headers and truncated files never crash                  */
/* ======================================================================== */

#define TL_FUZZ_ITERATIONS 300

static uint64_t tl_fuzz_seed(void)
{
    const char* e = getenv("DVREN_FUZZ_SEED");
    return e && *e ? strtoull(e, NULL, 0) : 0x5EED2024ull;
}

/* Mutates base (header: its first header_len bytes) `iterations` times,
 * writes it to path and loads it: each load either succeeds (and then
 * samples) or fails with FORMAT/IO/INVALID_ARGUMENT and a message. The
 * unmutated file must load. */
static void tl_fuzz(const char* label, const char* path, const unsigned char* base, size_t n, size_t header_len,
                    uint64_t salt)
{
    static const char dict[] = "0123456789 -+.%:=\n\r(),'\"{}[]eE<>|TrueFalse LOCAL LIST";
    dvren_context* ctx = th_ctx();
    unsigned char* buf = (unsigned char*)malloc(n + 1);
    int it, ok = 0, rejected = 0;
    if (!buf) exit(2);
    printf("# %s: DVREN_FUZZ_SEED=0x%llx (+ %llu for this format), %d mutations of a %zu-byte file\n", label,
           (unsigned long long)tl_fuzz_seed(), (unsigned long long)salt, TL_FUZZ_ITERATIONS, n);
    tl_rng = tl_fuzz_seed() + salt;
    for (it = 0; it <= TL_FUZZ_ITERATIONS; ++it) {
        size_t len = n, k, m;
        dvren_stage* s = NULL;
        dvren_status st;
        const char* storage = (it % 3 == 0) ? "auto" : (it % 3 == 1) ? "f32" : "u8";
        memcpy(buf, base, n);
        if (it > 0) {
            int op = (int)tl_below(4);
            if (op == 3) {
                len = tl_below((uint32_t)n); /* truncate anywhere */
            } else {
                /* 1 to 4 header bytes: a flipped bit, a character the parsers look for, any byte */
                for (k = 0, m = 1 + tl_below(4); k < m; ++k) {
                    unsigned char* at = &buf[tl_below((uint32_t)header_len)];
                    if (op == 0) *at ^= (unsigned char)(1u << tl_below(8));
                    else if (op == 1) *at = (unsigned char)dict[tl_below(sizeof dict - 1)];
                    else *at = (unsigned char)tl_below(256);
                }
            }
        }
        if (th_write_file(path, buf, len) != 0) {
            th_fail_at(__FILE__, __LINE__, "write", "%s: cannot write %s", label, path);
            break;
        }
        {
            dvren_params* p = tl_params(ctx, path, storage, NULL, NULL);
            st = tl_create(ctx, p, &s);
        }
        if (st == DVREN_OK) {
            dvren_instance_info info;
            const dvren_tensor* t = tl_buffer(s, &info);
            float pts[8 * 3], out[8 * DVREN_MAX_CHANNELS];
            int j, a;
            ok++;
            if (!t || info.channels < 1 || info.channels > DVREN_MAX_CHANNELS) {
                th_fail_at(__FILE__, __LINE__, "info", "%s iteration %d: loaded with a bad description", label, it);
                dvren_stage_destroy(s);
                break;
            }
            for (j = 0; j < 8; ++j)
                for (a = 0; a < 3; ++a)
                    pts[3 * j + a] = info.bounds_min[a] + (float)tl_unit() * (info.bounds_max[a] - info.bounds_min[a]);
            if (dvren_field_sample(s, 8, pts, out) != DVREN_OK)
                th_fail_at(__FILE__, __LINE__, "sample", "%s iteration %d: %s", label, it, dvren_last_error(ctx));
            dvren_stage_destroy(s);
        } else {
            rejected++;
            int known = st == DVREN_ERROR_FORMAT || st == DVREN_ERROR_IO || st == DVREN_ERROR_INVALID_ARGUMENT;
            if (s != NULL || !known || !dvren_last_error(ctx)[0]) {
                th_fail_at(__FILE__, __LINE__, "status", "%s iteration %d: %s, message '%s'", label, it,
                           dvren_status_string(st), dvren_last_error(ctx));
                break;
            }
        }
        if (it == 0 && st != DVREN_OK) {
            th_fail_at(__FILE__, __LINE__, "base", "%s: the unmutated file does not load", label);
            break;
        }
    }
    if (!th_current_failed) printf("# %s: %d loaded, %d rejected\n", label, ok, rejected);
    if (!th_current_failed && rejected < TL_FUZZ_ITERATIONS / 10)
        th_fail_at(__FILE__, __LINE__, "rejected", "%s: only %d of %d damaged files rejected", label, rejected,
                   TL_FUZZ_ITERATIONS);
    free(buf);
    dvren_context_destroy(ctx);
}

/* Reads a file the writers made into memory. */
static unsigned char* tl_slurp(const char* path, size_t* n)
{
    FILE* f = fopen(path, "rb");
    long len;
    unsigned char* p;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = (unsigned char*)malloc((size_t)len + 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* Writes a with `write` into name, then fuzzes its first header_len bytes
 * (0: all but the data bytes at the end; SIZE_MAX: the whole file) under
 * the fuzz name. */
static void tl_fuzz_format(const char* label, const char* name, const char* fuzz_name,
                           int (*write)(const char*, const tl_vol*), size_t header_len, uint64_t salt)
{
    tl_vol a;
    char path[1024], fpath[1024];
    unsigned char* base = NULL;
    size_t n = 0;
    tl_vol_random(&a, 7, 5, 4, 2, TL_I16, 9000u + salt);
    if (write(tl_path(path, sizeof path, name), &a) == 0) base = tl_slurp(path, &n);
    if (base) {
        if (header_len == 0) header_len = n - tl_count(&a) * tl_types[a.type].size; /* everything before the data */
        if (header_len > n) header_len = n;                                         /* the whole file */
        tl_fuzz(label, tl_path(fpath, sizeof fpath, fuzz_name), base, n, header_len, salt);
    }
    free(base);
    tl_vol_free(&a);
    CHECK(base != NULL, "cannot write and read back %s", path);
}

static int tl_w_npy(const char* path, const tl_vol* a) { return tl_write_npy(path, a, 1); }
static int tl_w_nrrd(const char* path, const tl_vol* a) { return tl_write_nrrd(path, a, 0); }
static int tl_w_mhd(const char* path, const tl_vol* a) { return tl_write_mhd(path, "fz_mhd.raw", a, 0); }
static int tl_w_mha(const char* path, const tl_vol* a) { return tl_write_mhd(path, NULL, a, 1); }
static int tl_w_nhdr(const char* path, const tl_vol* a)
{
    return tl_write_nhdr_slices(path, "fz_slice", a, TL_PATTERN_STEP2);
}
static int tl_w_vtk(const char* path, const tl_vol* a) { return tl_write_vtk(path, a, 1); }
static int tl_w_vtk_ascii(const char* path, const tl_vol* a) { return tl_write_vtk(path, a, 0); }
static int tl_w_dat(const char* path, const tl_vol* a)
{
    tl_vol b = *a; /* QVis has no i16: the same numbers as u16 */
    size_t i;
    int r;
    b.type = TL_U16;
    b.C = 1;
    b.v = (double*)malloc(tl_count(&b) * sizeof(double));
    if (!b.v) return -1;
    for (i = 0; i < tl_count(&b); ++i) b.v[i] = a->v[i] + 32768.0;
    r = tl_write_dat(path, "fz_qvis.raw", &b);
    free(b.v);
    return r;
}

/* The detached headers (.mhd, .nhdr, .dat) are all header; the fuzzed copy
 * sits beside the data files they name. The binary VTK file ends in a
 * newline after the data, so one data byte is fuzzed with its header; the
 * ASCII VTK file is fuzzed whole (its numbers are text too). */
TEST(fuzz_npy) { tl_fuzz_format("fuzz_npy", "fz.npy", "fz_m.npy", tl_w_npy, 0, 1); }
TEST(fuzz_nrrd) { tl_fuzz_format("fuzz_nrrd", "fz.nrrd", "fz_m.nrrd", tl_w_nrrd, 0, 2); }
TEST(fuzz_mhd) { tl_fuzz_format("fuzz_mhd", "fz.mhd", "fz_m.mhd", tl_w_mhd, SIZE_MAX, 3); }
TEST(fuzz_mha) { tl_fuzz_format("fuzz_mha", "fz.mha", "fz_m.mha", tl_w_mha, 0, 4); }
TEST(fuzz_nhdr_pattern) { tl_fuzz_format("fuzz_nhdr_pattern", "fz.nhdr", "fz_m.nhdr", tl_w_nhdr, SIZE_MAX, 5); }
TEST(fuzz_vtk) { tl_fuzz_format("fuzz_vtk", "fz.vtk", "fz_m.vtk", tl_w_vtk, 0, 6); }
TEST(fuzz_vtk_ascii) { tl_fuzz_format("fuzz_vtk_ascii", "fza.vtk", "fza_m.vtk", tl_w_vtk_ascii, SIZE_MAX, 7); }
TEST(fuzz_qvis) { tl_fuzz_format("fuzz_qvis", "fz.dat", "fz_m.dat", tl_w_dat, SIZE_MAX, 8); }

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(roundtrip_u8);
    RUN(roundtrip_i16);
    RUN(roundtrip_u16);
    RUN(roundtrip_f32);
    RUN(roundtrip_f64);
    RUN(npy_long_headers);
    RUN(roundtrip_degenerate_dims);
    RUN(storage_auto_keeps_integers_exact);
    RUN(storage_quantised_error_bound);
    RUN(real_ct_head_nrrd_pattern);
    RUN(real_mr_head_metaimage);
    RUN(real_hydrogen_atom_qvis);
    RUN(real_iron_protein_vtk);
    RUN(bad_raw);
    RUN(bad_npy);
    RUN(bad_nrrd);
    RUN(bad_metaimage);
    RUN(bad_vtk_and_qvis);
    RUN(vtk_blank_line_before_format);
    RUN(bad_sources);
    RUN(skip_near_int64_max);
    RUN(nrrd_pattern_limits);
    RUN(memory_limit);
    RUN(npz_members_and_errors);
    RUN(unsupported_formats);
    RUN(fuzz_npy);
    RUN(fuzz_nrrd);
    RUN(fuzz_mhd);
    RUN(fuzz_mha);
    RUN(fuzz_nhdr_pattern);
    RUN(fuzz_vtk);
    RUN(fuzz_vtk_ascii);
    RUN(fuzz_qvis);
    return th_done();
}
