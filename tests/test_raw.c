/* tests/test_raw.c - the image loaders of registration (tools/dvren_raw.h):
 * camera RAW through LibRaw, PNG, binary PGM/PPM, .npy.
 *
 * Expectations come from outside the code under test: the real files'
 * facts as rawpy and the data's README give them ($DVREN_DATA: the Kodak
 * DC50 KDC, bayer_small.png, frame10.ppm; those tests SKIP without the
 * data); bayer_small.png decoded a second way here (zlib and the PNG
 * filters, not stb_image); frame10.ppm's raster read as bytes after its
 * known header; files this test writes itself with known samples: PGM/PPM
 * (comments, 16 bits, maxval 1023), PNG (zlib, grey/RGB/alpha, 8 and 16
 * bits), .npy (dvren_tensor_save_npy and hand-made headers) and small DNG
 * files (a TIFF with the DNG tags, uncompressed 16-bit) that LibRaw reads
 * as a Bayer mosaic with margins, an X-Trans mosaic, a monochrome sensor,
 * a linear (demosaiced) DNG and a CMYG mosaic. Every bad input must give
 * the expected status and a message naming the file and the field.
 *
 * tests/run.sh links the libraries named on the next line. */
/* TEST_LIBS: -lraw_r -lstb -lz */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define DVREN_RAW_IMPLEMENTATION
#include "dvren_raw.h"

#include <zlib.h>

/* ---- helpers ---------------------------------------------------------------- */

/* Loads path expecting status st; the message must name the file and hold
 * word, and *out must be left empty. */
#define EXPECT_FAIL(ctx, path, st, word)                                                                                 \
    do {                                                                                                                 \
        dvren_raw_image im_;                                                                                             \
        dvren_status s_ = dvren_raw_load((ctx), (path), &im_);                                                           \
        const char* e_ = dvren_last_error(ctx);                                                                          \
        CHECK(s_ == (st), "%s: got %s, expected %s (%s)", (path), dvren_status_string(s_), dvren_status_string(st), e_); \
        CHECK(dvren_last_status(ctx) == (st), "last status %s", dvren_status_string(dvren_last_status(ctx)));            \
        CHECK(strstr(e_, (path)) != NULL, "the message does not name the file: %s", e_);                                 \
        CHECK(strstr(e_, (word)) != NULL, "the message lacks '%s': %s", (word), e_);                                     \
        CHECK(im_.data == NULL && im_.width == 0 && im_.height == 0, "the image is not empty after a failure");         \
    } while (0)

static int write_parts(const char* path, const void* a, size_t na, const void* b, size_t nb)
{
    FILE* f = fopen(path, "wb");
    int ok;
    if (!f) return -1;
    ok = fwrite(a, 1, na, f) == na && (!nb || fwrite(b, 1, nb, f) == nb);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void be32(unsigned char* p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG from raw scanlines (filter byte 0 each row), compressed by zlib:
 * signature, IHDR, one IDAT, IEND (ISO/IEC 15948, 5 and 11). raw: H rows of
 * W x samples x bytes, samples big-endian. Returns 0 on success. */
static int write_png(const char* path, uint32_t w, uint32_t h, int depth, int color_type, const unsigned char* raw,
                     size_t row_bytes)
{
    size_t fl = (row_bytes + 1) * h, k;
    unsigned char* filt = (unsigned char*)malloc(fl);
    uLongf zn = compressBound((uLong)fl);
    unsigned char* z = (unsigned char*)malloc(zn);
    unsigned char* file = (unsigned char*)malloc(zn + 128);
    size_t n = 0;
    int rc = -1;
    uint32_t y;
    if (!filt || !z || !file) goto done;
    for (y = 0; y < h; ++y) {
        filt[y * (row_bytes + 1)] = 0;
        memcpy(filt + y * (row_bytes + 1) + 1, raw + y * row_bytes, row_bytes);
    }
    if (compress(z, &zn, filt, (uLong)fl) != Z_OK) goto done;
    memcpy(file, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    {
        const char* types[3] = {"IHDR", "IDAT", "IEND"};
        unsigned char ihdr[13];
        be32(ihdr, w);
        be32(ihdr + 4, h);
        ihdr[8] = (unsigned char)depth;
        ihdr[9] = (unsigned char)color_type;
        ihdr[10] = ihdr[11] = ihdr[12] = 0;
        for (k = 0; k < 3; ++k) {
            const unsigned char* d = k == 0 ? ihdr : k == 1 ? z : NULL;
            size_t dn = k == 0 ? 13 : k == 1 ? (size_t)zn : 0;
            be32(file + n, (uint32_t)dn);
            memcpy(file + n + 4, types[k], 4);
            if (dn) memcpy(file + n + 8, d, dn);
            be32(file + n + 8 + dn, th_crc32(file + n + 4, dn + 4));
            n += 12 + dn;
        }
    }
    rc = th_write_file(path, file, n);
done:
    free(filt);
    free(z);
    free(file);
    return rc;
}

/* A .npy file with the given header dict and data bytes (format 1.0). */
static int write_npy(const char* path, const char* dict, const void* data, size_t n)
{
    char head[256];
    size_t len = strlen(dict), total = 10 + len + 1;
    size_t pad = (64 - total % 64) % 64;
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (char)((len + pad + 1) & 0xff);
    head[9] = (char)((len + pad + 1) >> 8);
    memcpy(head + 10, dict, len);
    memset(head + 10 + len, ' ', pad);
    head[10 + len + pad] = '\n';
    return write_parts(path, head, total + pad, data, n);
}

/* ---- a minimal DNG (Adobe DNG specification 1.4: a TIFF 6.0 file with DNG tags) ---- */

typedef struct dng_spec {
    uint32_t raw_w, raw_h;        /* stored pixels */
    uint32_t samples;             /* 1 (CFA or monochrome) or 3 (linear RGB) */
    uint32_t photometric;         /* 32803 CFA, 34892 LinearRaw */
    uint32_t cfa_dim;             /* 2 or 6 (0: no CFA tags) */
    const uint8_t* cfa;           /* cfa_dim^2 colours (DNG: 0 R, 1 G, 2 B, 3 C, 4 M, 5 Y) */
    uint32_t plane_count;         /* CFAPlaneColor entries, 3 or 4 */
    const uint8_t* plane_colors;
    uint32_t active[4];           /* ActiveArea top, left, bottom, right; all 0: none */
    uint32_t black, white;
    uint32_t black_cell[4];       /* when black_cell[0]: BlackLevelRepeatDim 2 x 2 and these four levels */
} dng_spec;

typedef struct tif_entry {
    uint16_t tag, type; /* 1 BYTE, 2 ASCII, 3 SHORT, 4 LONG */
    uint32_t count;
    uint32_t v[8];      /* the values (BYTE/ASCII: packed in bytes[]) */
    const char* bytes;
} tif_entry;

/* Writes the DNG; pixel (x, y, c) of the stored image is value(x, y, c). */
static int write_dng(const char* path, const dng_spec* d, uint16_t (*value)(uint32_t x, uint32_t y, uint32_t c))
{
    static const char make[] = "dvren", model[] = "test camera", unique[] = "dvren test camera";
    static const uint8_t version[4] = {1, 4, 0, 0};
    tif_entry e[32];
    int n = 0, i;
    size_t pix = (size_t)d->raw_w * d->raw_h * d->samples * 2, extra_at, pix_at, size, extra = 0;
    unsigned char* f;
    uint32_t x, y, c;
    int rc;
#define ADD(T, TY, CNT, ...)                                   \
    do {                                                       \
        uint32_t vv_[8] = {__VA_ARGS__};                       \
        e[n].tag = (T);                                        \
        e[n].type = (TY);                                      \
        e[n].count = (CNT);                                    \
        memcpy(e[n].v, vv_, sizeof vv_);                       \
        e[n].bytes = NULL;                                     \
        n++;                                                   \
    } while (0)
#define ADDB(T, TY, CNT, P)                                    \
    do {                                                       \
        e[n].tag = (T);                                        \
        e[n].type = (TY);                                      \
        e[n].count = (CNT);                                    \
        e[n].bytes = (const char*)(P);                         \
        n++;                                                   \
    } while (0)
    /* in increasing tag order, as TIFF requires */
    ADD(254, 4, 1, 0);
    ADD(256, 4, 1, d->raw_w);
    ADD(257, 4, 1, d->raw_h);
    ADD(258, 3, d->samples, 16, 16, 16);
    ADD(259, 3, 1, 1);
    ADD(262, 3, 1, d->photometric);
    ADDB(271, 2, (uint32_t)sizeof make, make);
    ADDB(272, 2, (uint32_t)sizeof model, model);
    ADD(273, 4, 1, 0); /* StripOffsets: patched below */
    ADD(277, 3, 1, d->samples);
    ADD(278, 4, 1, d->raw_h);
    ADD(279, 4, 1, (uint32_t)pix);
    ADD(284, 3, 1, 1);
    if (d->cfa_dim) {
        ADD(33421, 3, 2, d->cfa_dim, d->cfa_dim);
        ADDB(33422, 1, d->cfa_dim * d->cfa_dim, d->cfa);
    }
    ADDB(50706, 1, 4, version);
    ADDB(50708, 2, (uint32_t)sizeof unique, unique);
    if (d->cfa_dim) {
        ADDB(50710, 1, d->plane_count, d->plane_colors);
        ADD(50711, 3, 1, 1);
    }
    if (d->black_cell[0]) {
        ADD(50713, 3, 2, 2, 2);
        ADD(50714, 4, 4, d->black_cell[0], d->black_cell[1], d->black_cell[2], d->black_cell[3]);
    } else {
        ADD(50714, 4, 1, d->black);
    }
    ADD(50717, 4, 1, d->white);
    if (d->active[2]) ADD(50829, 4, 4, d->active[0], d->active[1], d->active[2], d->active[3]);
#undef ADD
#undef ADDB
    extra_at = 8 + 2 + 12 * (size_t)n + 4;
    for (i = 0; i < n; ++i) {
        size_t b = e[i].count * (size_t)(e[i].type == 3 ? 2 : e[i].type == 4 ? 4 : 1);
        if (b > 4) extra += (b + 1) & ~(size_t)1;
    }
    pix_at = extra_at + extra;
    size = pix_at + pix;
    f = (unsigned char*)calloc(1, size);
    if (!f) return -1;
    memcpy(f, "II*\0\x08\0\0\0", 8);
    f[8] = (unsigned char)n;
    extra = extra_at;
    for (i = 0; i < n; ++i) {
        unsigned char* p = f + 10 + 12 * (size_t)i;
        unsigned char* val;
        size_t b = e[i].count * (size_t)(e[i].type == 3 ? 2 : e[i].type == 4 ? 4 : 1), k;
        if (e[i].tag == 273) e[i].v[0] = (uint32_t)pix_at;
        p[0] = (unsigned char)e[i].tag;
        p[1] = (unsigned char)(e[i].tag >> 8);
        p[2] = (unsigned char)e[i].type;
        p[4] = (unsigned char)e[i].count;
        p[5] = (unsigned char)(e[i].count >> 8);
        if (b > 4) {
            p[8] = (unsigned char)extra;
            p[9] = (unsigned char)(extra >> 8);
            p[10] = (unsigned char)(extra >> 16);
            val = f + extra;
            extra += (b + 1) & ~(size_t)1;
        } else {
            val = p + 8;
        }
        for (k = 0; k < e[i].count; ++k) {
            if (e[i].bytes) val[k] = (unsigned char)e[i].bytes[k];
            else if (e[i].type == 3) { val[2 * k] = (unsigned char)e[i].v[k]; val[2 * k + 1] = (unsigned char)(e[i].v[k] >> 8); }
            else if (e[i].type == 4) { uint32_t v = e[i].v[k]; val[4 * k] = (unsigned char)v; val[4 * k + 1] = (unsigned char)(v >> 8);
                                       val[4 * k + 2] = (unsigned char)(v >> 16); val[4 * k + 3] = (unsigned char)(v >> 24); }
            else val[k] = (unsigned char)e[i].v[k];
        }
    }
    for (y = 0; y < d->raw_h; ++y)
        for (x = 0; x < d->raw_w; ++x)
            for (c = 0; c < d->samples; ++c) {
                size_t o = pix_at + 2 * (((size_t)y * d->raw_w + x) * d->samples + c);
                uint16_t v = value(x, y, c);
                f[o] = (unsigned char)v;
                f[o + 1] = (unsigned char)(v >> 8);
            }
    rc = th_write_file(path, f, size);
    free(f);
    return rc;
}

/* distinct, position-coded samples: the crop offsets show in the values */
static uint16_t dng_value(uint32_t x, uint32_t y, uint32_t c) { return (uint16_t)(100 + 64 * y + x + 7 * c); }

/* ---- the real data ------------------------------------------------------------ */

TEST(kdc_facts)
{
    /* raw/RAW_KODAK_DC50.KDC as rawpy 0.28 (LibRaw 0.22.2) reads it ($DVREN_DATA/README.md, "Camera raw") */
    const char* p = th_data("raw/RAW_KODAK_DC50.KDC");
    dvren_context* ctx;
    dvren_raw_image im;
    double sum = 0, cs[2][2] = {{0, 0}, {0, 0}};
    unsigned lo = 65535, hi = 0, at_max = 0, distinct = 0;
    static unsigned char seen[65536];
    size_t i, n;
    uint32_t x, y;
    if (!p) SKIP("no raw/RAW_KODAK_DC50.KDC in $DVREN_DATA");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 768 && im.height == 512 && im.channels == 1 && im.dtype == DVREN_DTYPE_U16, "%u x %u x %u dtype %d",
          im.width, im.height, im.channels, (int)im.dtype);
    CHECK(im.cfa == DVREN_CFA_GRBG, "cfa %d, expected GRBG", (int)im.cfa);
    CHECK(im.black == 0.0 && im.white == 16383.0, "black %g white %g", im.black, im.white);
    CHECK(!strcmp(im.format, "raw") && !strcmp(im.make, "Kodak") && strstr(im.model, "DC50") && im.flip == 0,
          "format %s make '%s' model '%s' flip %d", im.format, im.make, im.model, im.flip);
    CHECK(im.size_bytes == 768u * 512u * 2u, "size_bytes %lu", (unsigned long)im.size_bytes);
    memset(seen, 0, sizeof seen);
    n = (size_t)im.width * im.height;
    for (y = 0; y < im.height; ++y)
        for (x = 0; x < im.width; ++x) {
            unsigned v = ((const uint16_t*)im.data)[(size_t)y * im.width + x];
            sum += v;
            cs[y & 1][x & 1] += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            at_max += v == 16383;
            distinct += !seen[v];
            seen[v] = 1;
        }
    CHECK(lo == 23 && hi == 16383, "values %u..%u, expected 23..16383", lo, hi);
    CHECK(fabs(sum / n - 2769.19) < 0.01, "mean %.4f, expected 2769.19", sum / n);
    CHECK(at_max == 5 && distinct == 3051, "%u pixels at 16383 (5 expected), %u distinct values (3051)", at_max, distinct);
    /* GRBG: G at (0,0), R at (0,1), B at (1,0), G at (1,1) */
    CHECK(fabs(cs[0][1] / (n / 4) - 2882.4) < 0.1, "R mean %.3f", cs[0][1] / (n / 4));
    CHECK(fabs(cs[0][0] / (n / 4) - 2783.6) < 0.1, "G(0,0) mean %.3f", cs[0][0] / (n / 4));
    CHECK(fabs(cs[1][0] / (n / 4) - 2676.7) < 0.1, "B mean %.3f", cs[1][0] / (n / 4));
    CHECK(fabs(cs[1][1] / (n / 4) - 2734.1) < 0.1, "G(1,1) mean %.3f", cs[1][1] / (n / 4));
    {
        float* fl = (float*)malloc(n * sizeof(float));
        CHECK(fl, "out of memory");
        i = dvren_raw_to_float(&im, fl);
        for (size_t k = 0; k < n && i == n; ++k)
            if (fl[k] != (float)((const uint16_t*)im.data)[k]) i = 0;
        free(fl);
        CHECK(i == n, "dvren_raw_to_float does not give the samples");
    }
    dvren_raw_free(&im);
    CHECK(im.data == NULL && im.width == 0, "dvren_raw_free does not zero the image");
    dvren_context_destroy(ctx);
}

/* PNG decoding done a second way: zlib's inflate and the five PNG row
 * filters (ISO/IEC 15948, 9.2), for a non-interlaced 16-bit grey file. */
static uint16_t* decode_png16_grey(const unsigned char* b, size_t n, uint32_t* w, uint32_t* h)
{
    unsigned char *idat = NULL, *raw = NULL;
    size_t in = 0, pos = 8, stride, y, x;
    uLongf rn;
    uint16_t* out = NULL;
    if (n < 33 || b[24] != 16 || b[25] != 0 || b[28] != 0) return NULL;
    *w = ((uint32_t)b[16] << 24) | ((uint32_t)b[17] << 16) | ((uint32_t)b[18] << 8) | b[19];
    *h = ((uint32_t)b[20] << 24) | ((uint32_t)b[21] << 16) | ((uint32_t)b[22] << 8) | b[23];
    idat = (unsigned char*)malloc(n);
    while (idat && pos + 12 <= n) {
        size_t len = ((size_t)b[pos] << 24) | ((size_t)b[pos + 1] << 16) | ((size_t)b[pos + 2] << 8) | b[pos + 3];
        if (pos + 12 + len > n) break;
        if (!memcmp(b + pos + 4, "IDAT", 4)) {
            memcpy(idat + in, b + pos + 8, len);
            in += len;
        }
        pos += 12 + len;
    }
    stride = (size_t)*w * 2;
    rn = (uLongf)((stride + 1) * *h);
    raw = (unsigned char*)malloc(rn);
    out = (uint16_t*)malloc((size_t)*w * *h * 2);
    if (!idat || !raw || !out || uncompress(raw, &rn, idat, (uLong)in) != Z_OK || rn != (stride + 1) * *h) {
        free(out);
        out = NULL;
        goto done;
    }
    for (y = 0; y < *h; ++y) {
        unsigned char* r = raw + y * (stride + 1) + 1;
        const unsigned char* u = y ? raw + (y - 1) * (stride + 1) + 1 : NULL;
        int ft = r[-1];
        for (x = 0; x < stride; ++x) {
            int a = x >= 2 ? r[x - 2] : 0, up = u ? u[x] : 0, c = (x >= 2 && u) ? u[x - 2] : 0, pred;
            if (ft == 0) pred = 0;
            else if (ft == 1) pred = a;
            else if (ft == 2) pred = up;
            else if (ft == 3) pred = (a + up) / 2;
            else {
                int p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c);
                pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
            }
            r[x] = (unsigned char)(r[x] + pred);
        }
        for (x = 0; x < *w; ++x) out[y * *w + x] = (uint16_t)((r[2 * x] << 8) | r[2 * x + 1]);
    }
done:
    free(idat);
    free(raw);
    return out;
}

TEST(bayer_small_png)
{
    const char* p = th_data("registration/bayer_small.png");
    dvren_context* ctx;
    dvren_raw_image im;
    unsigned char* bytes;
    long size;
    uint16_t* ref;
    uint32_t w = 0, h = 0;
    unsigned lo = 65535, hi = 0;
    size_t i;
    if (!p) SKIP("no registration/bayer_small.png in $DVREN_DATA");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 256 && im.height == 344 && im.channels == 1 && im.dtype == DVREN_DTYPE_U16, "%u x %u x %u dtype %d",
          im.width, im.height, im.channels, (int)im.dtype);
    CHECK(im.cfa == DVREN_CFA_NONE && im.black == 0.0 && im.white == 65535.0 && !strcmp(im.format, "png"),
          "cfa %d black %g white %g format %s", (int)im.cfa, im.black, im.white, im.format);
    for (i = 0; i < (size_t)256 * 344; ++i) {
        unsigned v = ((const uint16_t*)im.data)[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    CHECK(lo == 0 && hi == 1053, "values %u..%u, expected 0..1053 (README)", lo, hi);
    bytes = th_read_file(p, &size);
    CHECK(bytes, "cannot read %s", p);
    ref = decode_png16_grey(bytes, (size_t)size, &w, &h);
    free(bytes);
    CHECK(ref && w == 256 && h == 344, "the test's own decoder failed (%u x %u)", w, h);
    i = memcmp(ref, im.data, (size_t)w * h * 2) == 0;
    free(ref);
    CHECK(i, "the pixels differ from zlib + the PNG filters");
    dvren_raw_free(&im);
    dvren_context_destroy(ctx);
}

TEST(frame10_ppm)
{
    /* the header GIMP wrote, byte for byte (od -c frame10.ppm | head) */
    static const char header[] = "P6\n# CREATOR: GIMP PNM Filter Version 1.1\n640 480\n255\n";
    const char* p = th_data("registration/frame10.ppm");
    dvren_context* ctx;
    dvren_raw_image im;
    unsigned char* bytes;
    long size;
    const size_t hl = sizeof header - 1, n = (size_t)640 * 480 * 3;
    int same;
    if (!p) SKIP("no registration/frame10.ppm in $DVREN_DATA");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 640 && im.height == 480 && im.channels == 3 && im.dtype == DVREN_DTYPE_U8, "%u x %u x %u dtype %d",
          im.width, im.height, im.channels, (int)im.dtype);
    CHECK(im.cfa == DVREN_CFA_NONE && im.white == 255.0 && !strcmp(im.format, "ppm"), "cfa %d white %g format %s",
          (int)im.cfa, im.white, im.format);
    bytes = th_read_file(p, &size);
    CHECK(bytes && (size_t)size == hl + n && !memcmp(bytes, header, hl), "unexpected header or size %ld", size);
    /* the first pixel is "aed" in the file's first raster bytes (xxd) */
    same = !memcmp(bytes + hl, im.data, n) && ((const uint8_t*)im.data)[0] == 'a' && ((const uint8_t*)im.data)[1] == 'e' &&
           ((const uint8_t*)im.data)[2] == 'd';
    free(bytes);
    CHECK(same, "the pixels differ from the file's raster");
    dvren_raw_free(&im);
    dvren_context_destroy(ctx);
}

/* ---- files written here ------------------------------------------------------- */

TEST(pgm_ppm_written)
{
    dvren_context* ctx = th_ctx();
    dvren_raw_image im;
    const char* p16 = th_tmp("raw_a.pgm");
    const char* p8 = th_tmp("raw_b.ppm");
    const char* p10 = th_tmp("raw_c.pgm");
    /* 3 x 2 grey, 16 bits, comments before each field and after the magic */
    static const char h16[] = "P5 # grey\n#another comment\n 3\t# width\n2\r\n# maxval next\n65535\n";
    static const unsigned char d16[12] = {0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0x12, 0x34, 0x80, 0x00, 0x00, 0x07};
    static const uint16_t v16[6] = {0, 0x0102, 0xffff, 0x1234, 0x8000, 7};
    /* 2 x 2 RGB, 8 bits */
    static const char h8[] = "P6\n# one comment line\n2 2\n255\n";
    static const unsigned char d8[12] = {1, 2, 3, 4, 5, 6, 250, 251, 252, 0, 128, 255};
    /* maxval 1023: two bytes per sample, white = 1023 */
    static const char h10[] = "P5\n2 1\n1023\n";
    static const unsigned char d10[4] = {0x03, 0xff, 0x00, 0x01};
    CHECK(!write_parts(p16, h16, sizeof h16 - 1, d16, sizeof d16) && !write_parts(p8, h8, sizeof h8 - 1, d8, sizeof d8) &&
          !write_parts(p10, h10, sizeof h10 - 1, d10, sizeof d10), "cannot write the test files");
    CHECK_OK(ctx, dvren_raw_load(ctx, p16, &im));
    CHECK(im.width == 3 && im.height == 2 && im.channels == 1 && im.dtype == DVREN_DTYPE_U16 && im.white == 65535.0 &&
          !strcmp(im.format, "pgm"), "%u x %u x %u dtype %d white %g", im.width, im.height, im.channels, (int)im.dtype, im.white);
    CHECK(!memcmp(im.data, v16, sizeof v16), "16-bit samples are not big-endian-decoded");
    dvren_raw_free(&im);
    CHECK_OK(ctx, dvren_raw_load(ctx, p8, &im));
    CHECK(im.width == 2 && im.height == 2 && im.channels == 3 && im.dtype == DVREN_DTYPE_U8 && im.white == 255.0 &&
          !memcmp(im.data, d8, sizeof d8) && !strcmp(im.format, "ppm"), "8-bit PPM read wrongly");
    dvren_raw_free(&im);
    CHECK_OK(ctx, dvren_raw_load(ctx, p10, &im));
    CHECK(im.dtype == DVREN_DTYPE_U16 && im.white == 1023.0 && ((uint16_t*)im.data)[0] == 1023 && ((uint16_t*)im.data)[1] == 1,
          "maxval 1023: dtype %d white %g", (int)im.dtype, im.white);
    dvren_raw_free(&im);
    dvren_context_destroy(ctx);
}

TEST(pgm_ppm_refused)
{
    dvren_context* ctx = th_ctx();
    const char* p = th_tmp("raw_bad.pgm");
    static const unsigned char px[16] = {0};
    static const unsigned char big[4] = {9, 0, 0, 0};
    CHECK(!write_parts(p, "P5\n4 2\n255\n", 11, px, 7), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "truncated");
    CHECK(!write_parts(p, "P5\n4 2\n255\n", 11, px, 9), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "after the pixels");
    CHECK(!write_parts(p, "P5\n2 2\n8\n", 9, big, 4), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "over the maxval 8");
    CHECK(!write_parts(p, "P5\n1 1\n0\n", 9, px, 1), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "maxval");
    CHECK(!write_parts(p, "P5\n1 1\n70000\n", 13, px, 2), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "maxval");
    CHECK(!write_parts(p, "P5\n1 1\n255#x\n", 13, px, 1), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "whitespace");
    CHECK(!write_parts(p, "P5\n1 x\n255\n", 11, px, 1), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "height");
    CHECK(!write_parts(p, "P5\n# only a comment", 19, NULL, 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "ends before the width");
    /* sides over the limit are refused from the header, before the pixels are looked for */
    CHECK(!write_parts(p, "P5\n70000 1\n255\n", 15, px, 1), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "width 70000");
    CHECK(!write_parts(p, "P6\n1 0\n255\n", 11, NULL, 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "height 0");
    CHECK(!write_parts(p, "P6\n65536 65536\n65535\n", 21, px, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "more than");
    CHECK(!write_parts(p, "P2\n1 1\n255\n7\n", 13, NULL, 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_UNSUPPORTED, "ASCII");
    CHECK(!write_parts(p, "Pf\n1 1\n-1.0\n", 12, px, 4), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_UNSUPPORTED, "PFM");
    /* an extension that promises Netpbm without its magic */
    CHECK(!write_parts(p, "hello, world\n", 13, NULL, 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "magic");
    dvren_context_destroy(ctx);
}

TEST(png_written)
{
    dvren_context* ctx = th_ctx();
    dvren_raw_image im;
    const char* p = th_tmp("raw_w.png");
    /* 16-bit grey 3 x 2, big-endian in the file */
    static const unsigned char g16[12] = {0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0x12, 0x34, 0x80, 0x00, 0x00, 0x07};
    static const uint16_t g16v[6] = {0, 0x0102, 0xffff, 0x1234, 0x8000, 7};
    /* 8-bit RGBA 2 x 1: alpha dropped */
    static const unsigned char rgba[8] = {10, 20, 30, 0, 40, 50, 60, 255};
    static const unsigned char rgb[6] = {10, 20, 30, 40, 50, 60};
    /* 8-bit grey+alpha 2 x 2: alpha dropped */
    static const unsigned char ga[8] = {1, 9, 2, 9, 3, 9, 4, 9};
    static const unsigned char g[4] = {1, 2, 3, 4};
    /* 16-bit RGB 1 x 1 */
    static const unsigned char rgb16[6] = {0x01, 0x00, 0x02, 0x00, 0xab, 0xcd};
    static const uint16_t rgb16v[3] = {0x0100, 0x0200, 0xabcd};
    CHECK(!write_png(p, 3, 2, 16, 0, g16, 6), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 3 && im.height == 2 && im.channels == 1 && im.dtype == DVREN_DTYPE_U16 && im.white == 65535.0 &&
          !memcmp(im.data, g16v, sizeof g16v), "16-bit grey PNG read wrongly");
    dvren_raw_free(&im);
    CHECK(!write_png(p, 2, 1, 8, 6, rgba, 8), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.channels == 3 && im.dtype == DVREN_DTYPE_U8 && im.white == 255.0 && !memcmp(im.data, rgb, 6), "RGBA PNG read wrongly");
    dvren_raw_free(&im);
    CHECK(!write_png(p, 2, 2, 8, 4, ga, 4), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.channels == 1 && im.dtype == DVREN_DTYPE_U8 && !memcmp(im.data, g, 4), "grey+alpha PNG read wrongly");
    dvren_raw_free(&im);
    CHECK(!write_png(p, 1, 1, 16, 2, rgb16, 6), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.channels == 3 && im.dtype == DVREN_DTYPE_U16 && !memcmp(im.data, rgb16v, 6), "16-bit RGB PNG read wrongly");
    dvren_raw_free(&im);
    dvren_context_destroy(ctx);
}

TEST(png_refused)
{
    dvren_context* ctx = th_ctx();
    const char* p = th_tmp("raw_bad.png");
    static const unsigned char px[4] = {1, 2, 3, 4};
    unsigned char* bytes;
    long size;
    /* wrong content under a .png name */
    CHECK(!write_parts(p, "GIF89a not a png at all", 23, NULL, 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "not a PNG file");
    /* the signature, then garbage */
    CHECK(!write_parts(p, "\x89PNG\r\n\x1a\n", 8, "0123456789012345678901234567890123456789", 40), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "IHDR");
    /* a width over the limit: refused from IHDR (stb_image never runs) */
    CHECK(!write_png(p, 2, 2, 8, 0, px, 2), "write");
    bytes = th_read_file(p, &size);
    CHECK(bytes, "read");
    be32(bytes + 16, 70000);
    CHECK(!th_write_file(p, bytes, (size_t)size), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "width 70000");
    /* 65536 x 65536 RGBA 16-bit: 32 GiB decoded, over the limit */
    be32(bytes + 16, 65536);
    be32(bytes + 20, 65536);
    bytes[24] = 16;
    bytes[25] = 6;
    CHECK(!th_write_file(p, bytes, (size_t)size), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "more than");
    /* a valid header with a corrupt IDAT: its CRC no longer matches */
    be32(bytes + 16, 2);
    be32(bytes + 20, 2);
    bytes[24] = 8;
    bytes[25] = 0;
    be32(bytes + 29, th_crc32(bytes + 12, 17)); /* IHDR's CRC, for the header restored */
    bytes[33 + 8] ^= 0xff; /* the zlib header of the first IDAT */
    bytes[33 + 9] ^= 0xff;
    CHECK(!th_write_file(p, bytes, (size_t)size), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "CRC-32");
    /* the same with its CRC recomputed: stb_image's own error */
    {
        size_t idat_len = ((size_t)bytes[33] << 24) | ((size_t)bytes[34] << 16) | ((size_t)bytes[35] << 8) | bytes[36];
        be32(bytes + 33 + 8 + idat_len, th_crc32(bytes + 37, idat_len + 4));
    }
    CHECK(!th_write_file(p, bytes, (size_t)size), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "stb_image");
    /* an IDAT declaring 2 GiB in a small file: refused before stb_image allocates for it */
    be32(bytes + 33, 0x7fffffffu);
    CHECK(!th_write_file(p, bytes, (size_t)size), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "remain");
    /* cut before IEND */
    CHECK(!th_write_file(p, bytes, 33), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "without an IEND");
    /* an invalid bit depth */
    bytes[24] = 5;
    CHECK(!th_write_file(p, bytes, (size_t)size), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "bit depth 5");
    free(bytes);
    dvren_context_destroy(ctx);
}

TEST(npy_round_trip)
{
    dvren_context* ctx = th_ctx();
    dvren_raw_image im;
    dvren_tensor t;
    const char* p = th_tmp("raw_rt.npy");
    int64_t s2[2] = {3, 5}, s3[3] = {2, 4, 3}, s31[3] = {4, 2, 1};
    size_t i;
    /* uint8 (H, W) */
    CHECK_OK(ctx, dvren_tensor_create(ctx, DVREN_DTYPE_U8, 2, s2, &t));
    for (i = 0; i < 15; ++i) ((uint8_t*)t.data)[i] = (uint8_t)(17 * i + 3);
    CHECK_OK(ctx, dvren_tensor_save_npy(ctx, &t, p));
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 5 && im.height == 3 && im.channels == 1 && im.dtype == DVREN_DTYPE_U8 && im.white == 255.0 &&
          !memcmp(im.data, t.data, 15) && !strcmp(im.format, "npy"), "uint8 (3, 5) round trip");
    dvren_raw_free(&im);
    dvren_tensor_destroy(ctx, &t);
    /* uint16 (H, W, 3) */
    CHECK_OK(ctx, dvren_tensor_create(ctx, DVREN_DTYPE_U16, 3, s3, &t));
    for (i = 0; i < 24; ++i) ((uint16_t*)t.data)[i] = (uint16_t)(2731 * i + 1);
    CHECK_OK(ctx, dvren_tensor_save_npy(ctx, &t, p));
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 4 && im.height == 2 && im.channels == 3 && im.dtype == DVREN_DTYPE_U16 && im.white == 65535.0 &&
          !memcmp(im.data, t.data, 48), "uint16 (2, 4, 3) round trip");
    dvren_raw_free(&im);
    dvren_tensor_destroy(ctx, &t);
    /* float32 (H, W, 1) */
    CHECK_OK(ctx, dvren_tensor_create(ctx, DVREN_DTYPE_F32, 3, s31, &t));
    for (i = 0; i < 8; ++i) ((float*)t.data)[i] = (float)i * 0.375f - 1.0f;
    CHECK_OK(ctx, dvren_tensor_save_npy(ctx, &t, p));
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 2 && im.height == 4 && im.channels == 1 && im.dtype == DVREN_DTYPE_F32 && im.white == 1.0 &&
          !memcmp(im.data, t.data, 32), "float32 (4, 2, 1) round trip");
    dvren_raw_free(&im);
    dvren_tensor_destroy(ctx, &t);
    /* float64, written by hand, read as float32 */
    {
        double d[6] = {0.5, -2.0, 1e-3, 3.0, 65504.25, 0.1};
        float* f;
        CHECK(!write_npy(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", d, sizeof d), "write");
        CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
        f = (float*)im.data;
        CHECK(im.width == 3 && im.height == 2 && im.dtype == DVREN_DTYPE_F32, "float64 (2, 3)");
        for (i = 0; i < 6; ++i) CHECK(f[i] == (float)d[i], "element %lu: %g != %g", (unsigned long)i, f[i], d[i]);
        dvren_raw_free(&im);
    }
    dvren_context_destroy(ctx);
}

TEST(npy_refused)
{
    dvren_context* ctx = th_ctx();
    const char* p = th_tmp("raw_bad.npy");
    static const uint16_t h[8] = {0};
    float nan_data[4] = {0.0f, 1.0f, 2.0f, 0.0f};
    double huge[2] = {1.0, 1e300};
    nan_data[3] = NAN;
    CHECK(!write_npy(p, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 4), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "descr");
    CHECK(!write_npy(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2, 4), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "shape");
    CHECK(!write_npy(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4, 2), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "(2, 4, 2) is not an image");
    CHECK(!write_npy(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (16,), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "shape");
    CHECK(!write_npy(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 9), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "truncated");
    CHECK(!write_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", nan_data, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "not a finite float32");
    CHECK(!write_npy(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", huge, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "[0][1]");
    /* sizes: over a side, and over the byte limit (never allocated: ASan would stop a 48 GiB malloc) */
    CHECK(!write_npy(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 70000), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "width 70000");
    CHECK(!write_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 3), }", h, 16), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "more than");
    CHECK(!write_parts(p, "PK\3\4 a zip file", 16, NULL, 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "magic");
    dvren_context_destroy(ctx);
}

TEST(dng_bayer_crop)
{
    /* 40 x 30 stored, ActiveArea rows 2..27, columns 4..37: visible 34 x 26;
     * CFAPattern (relative to the active area, DNG 1.4 "CFAPattern") B G / G R */
    static const uint8_t bggr[4] = {2, 1, 1, 0}, planes[3] = {0, 1, 2};
    dng_spec d;
    dvren_context* ctx = th_ctx();
    dvren_raw_image im;
    const char* p = th_tmp("raw_bayer.dng");
    uint32_t x, y, bad = 0;
    memset(&d, 0, sizeof d);
    d.raw_w = 40;
    d.raw_h = 30;
    d.samples = 1;
    d.photometric = 32803;
    d.cfa_dim = 2;
    d.cfa = bggr;
    d.plane_count = 3;
    d.plane_colors = planes;
    d.active[0] = 2;
    d.active[1] = 4;
    d.active[2] = 28;
    d.active[3] = 38;
    d.black = 64;
    d.white = 4000;
    CHECK(!write_dng(p, &d, dng_value), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 34 && im.height == 26 && im.channels == 1 && im.dtype == DVREN_DTYPE_U16, "%u x %u x %u dtype %d",
          im.width, im.height, im.channels, (int)im.dtype);
    CHECK(im.cfa == DVREN_CFA_BGGR, "cfa %d, expected BGGR", (int)im.cfa);
    CHECK(im.black == 64.0 && im.white == 4000.0, "black %g white %g", im.black, im.white);
    for (y = 0; y < im.height; ++y)
        for (x = 0; x < im.width; ++x) bad += ((uint16_t*)im.data)[y * im.width + x] != dng_value(x + 4, y + 2, 0);
    CHECK(!bad, "%u pixels differ from the stored ones at (x + 4, y + 2)", bad);
    dvren_raw_free(&im);
    /* a black level per site of the 2 x 2 cell (BlackLevelRepeatDim): black is their mean */
    d.black_cell[0] = 60;
    d.black_cell[1] = 62;
    d.black_cell[2] = 64;
    d.black_cell[3] = 66;
    CHECK(!write_dng(p, &d, dng_value), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.black == 63.0 && im.cfa == DVREN_CFA_BGGR, "black %g, expected the mean 63 of 60 62 64 66", im.black);
    dvren_raw_free(&im);
    dvren_context_destroy(ctx);
}

TEST(dng_xtrans)
{
    /* Fujifilm's X-Trans layout (0 R, 1 G, 2 B), written as a 6 x 6 CFAPattern,
     * which DNG makes relative to the ActiveArea's corner */
    static const uint8_t xt[36] = {1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
                                   1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1};
    static const uint8_t planes[3] = {0, 1, 2};
    dng_spec d;
    dvren_context* ctx = th_ctx();
    dvren_raw_image im;
    const char* p = th_tmp("raw_xtrans.dng");
    uint32_t i, bad = 0;
    memset(&d, 0, sizeof d);
    d.raw_w = 48;
    d.raw_h = 36;
    d.samples = 1;
    d.photometric = 32803;
    d.cfa_dim = 6;
    d.cfa = xt;
    d.plane_count = 3;
    d.plane_colors = planes;
    d.white = 16383;
    d.active[0] = 1; /* rows 1..34, columns 2..45: 44 x 34 */
    d.active[1] = 2;
    d.active[2] = 35;
    d.active[3] = 46;
    CHECK(!write_dng(p, &d, dng_value), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 44 && im.height == 34 && im.cfa == DVREN_CFA_XTRANS, "%u x %u cfa %d", im.width, im.height, (int)im.cfa);
    CHECK(!memcmp(im.xtrans, xt, 36), "the X-Trans layout differs from the file's CFAPattern");
    for (i = 0; i < 44u * 34u; ++i) bad += ((uint16_t*)im.data)[i] != dng_value(i % 44 + 2, i / 44 + 1, 0);
    CHECK(!bad && im.white == 16383.0 && im.black == 0.0, "%u pixels differ; white %g black %g", bad, im.white, im.black);
    dvren_raw_free(&im);
    dvren_context_destroy(ctx);
}

TEST(dng_monochrome_and_refusals)
{
    static const uint8_t cmyg[4] = {3, 4, 5, 1}, cmyg_planes[4] = {3, 4, 5, 1};
    dng_spec d;
    dvren_context* ctx = th_ctx();
    dvren_raw_image im;
    const char* p = th_tmp("raw_mono.dng");
    uint32_t i, bad = 0;
    /* a monochrome sensor: LinearRaw, one sample */
    memset(&d, 0, sizeof d);
    d.raw_w = 32;
    d.raw_h = 24;
    d.samples = 1;
    d.photometric = 34892;
    d.white = 65535;
    CHECK(!write_dng(p, &d, dng_value), "write");
    CHECK_OK(ctx, dvren_raw_load(ctx, p, &im));
    CHECK(im.width == 32 && im.height == 24 && im.channels == 1 && im.cfa == DVREN_CFA_NONE, "%u x %u cfa %d", im.width,
          im.height, (int)im.cfa);
    for (i = 0; i < 32u * 24u; ++i) bad += ((uint16_t*)im.data)[i] != dng_value(i % 32, i / 32, 0);
    CHECK(!bad, "%u pixels differ", bad);
    dvren_raw_free(&im);
    /* a linear (demosaiced) DNG: three samples per pixel, no mosaic */
    p = th_tmp("raw_linear.dng");
    d.samples = 3;
    CHECK(!write_dng(p, &d, dng_value), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_UNSUPPORTED, "not a colour-filter-array mosaic");
    /* cyan, magenta, yellow and green filters */
    p = th_tmp("raw_cmyg.dng");
    d.samples = 1;
    d.photometric = 32803;
    d.cfa_dim = 2;
    d.cfa = cmyg;
    d.plane_count = 4;
    d.plane_colors = cmyg_planes;
    CHECK(!write_dng(p, &d, dng_value), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_UNSUPPORTED, "4-colour filter");
    dvren_context_destroy(ctx);
}

TEST(raw_refused)
{
    dvren_context* ctx = th_ctx();
    const char* kdc = th_data("raw/RAW_KODAK_DC50.KDC");
    const char* p;
    dvren_raw_image im;
    /* missing file, a directory, an empty file */
    EXPECT_FAIL(ctx, th_tmp("no_such_file.cr2"), DVREN_ERROR_IO, "No such file");
    p = getenv("DVREN_TEST_TMP") && *getenv("DVREN_TEST_TMP") ? getenv("DVREN_TEST_TMP") : "/tmp";
    EXPECT_FAIL(ctx, p, DVREN_ERROR_IO, "cannot read");
    p = th_tmp("raw_empty.nef");
    CHECK(!th_write_file(p, "", 0), "write");
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "empty");
    /* text under a RAW name: LibRaw cannot open it */
    p = th_tmp("raw_text.nef");
    {
        char text[4096];
        size_t i;
        for (i = 0; i < sizeof text; ++i) text[i] = "This is a text file, not a Nikon raw.\n"[i % 38];
        CHECK(!th_write_file(p, text, sizeof text), "write");
    }
    EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "LibRaw");
    /* the KDC cut after 1000 bytes: LibRaw knows the camera, the mosaic is missing */
    if (kdc) {
        long size;
        unsigned char* bytes = th_read_file(kdc, &size);
        CHECK(bytes && size > 20000, "read %s", kdc);
        p = th_tmp("raw_cut.kdc");
        CHECK(!th_write_file(p, bytes, 1000), "write");
        EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "truncated");
        /* cut inside the mosaic */
        CHECK(!th_write_file(p, bytes, (size_t)size / 2), "write");
        free(bytes);
        EXPECT_FAIL(ctx, p, DVREN_ERROR_FORMAT, "data: truncated");
    }
    /* arguments; a NULL context keeps the message per thread */
    CHECK(dvren_raw_load(ctx, NULL, &im) == DVREN_ERROR_INVALID_ARGUMENT, "NULL path");
    CHECK(dvren_raw_load(ctx, "x", NULL) == DVREN_ERROR_INVALID_ARGUMENT, "NULL out");
    p = th_tmp("no_such_file.png");
    CHECK(dvren_raw_load(NULL, p, &im) == DVREN_ERROR_IO && strstr(dvren_last_error(NULL), p), "NULL context: %s",
          dvren_last_error(NULL));
    dvren_raw_free(NULL);
    CHECK(dvren_raw_to_float(NULL, NULL) == 0, "dvren_raw_to_float(NULL)");
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(kdc_facts);
    RUN(bayer_small_png);
    RUN(frame10_ppm);
    RUN(pgm_ppm_written);
    RUN(pgm_ppm_refused);
    RUN(png_written);
    RUN(png_refused);
    RUN(npy_round_trip);
    RUN(npy_refused);
    RUN(dng_bayer_crop);
    RUN(dng_xtrans);
    RUN(dng_monochrome_and_refusals);
    RUN(raw_refused);
    return th_done();
}
