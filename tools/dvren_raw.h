/* tools/dvren_raw.h - the image loaders of image registration (dvren.h,
 * >>register; docs/registration.md, "Input files"): camera RAW mosaics
 * through LibRaw, PNG through stb_image, binary PGM/PPM and NumPy .npy,
 * into one host image with the facts registration needs (size, channels,
 * sample type, colour-filter layout, black and white levels). Needs dvren.h
 * (dvren_context, dvren_set_error, dvren_cfa, dvren_dtype), dvren_io.h and
 * dvren_npy.h (both next to this file); LibRaw's C API (Debian libraw-dev,
 * <libraw/libraw.h>, link -lraw_r, the thread-safe build) and stb_image
 * (Debian libstb-dev, <stb/stb_image.h>; its implementation is in
 * tools/stb_impl.c, or link -lstb). No global mutable state of its own, no
 * printing, no exit().
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_RAW_IMPLEMENTATION
 *     #include "dvren_raw.h"
 * (it defines DVREN_IO_IMPLEMENTATION and DVREN_NPY_IMPLEMENTATION too, as
 * dvren_blocks.h does; dvren.h's implementation, DVREN_IMPLEMENTATION, must
 * be in the program too). Other files include it without the define.
 *
 * Configuration (define before the implementation):
 *   DVREN_RAW_NO_LIBRAW   build without LibRaw: camera RAW files are refused
 *                         with DVREN_ERROR_UNSUPPORTED (the fuzz target)
 *   DVREN_RAW_NO_PNG      build without stb_image: PNG files are refused the same way
 *   DVREN_RAW_MAX_BYTES   largest decoded image, bytes (default 4 GiB); may
 *                         be lowered (the fuzz target does), not raised
 *
 *   dvren_raw_image img;
 *   if (dvren_raw_load(ctx, "IMG_0001.CR2", &img) != DVREN_OK) { fprintf(stderr, "%s\n", dvren_last_error(ctx)); ... }
 *   ... img.width, img.height, img.channels, img.dtype, img.data, img.cfa (RGGB ...), img.black, img.white ...
 *   dvren_raw_free(&img);
 *
 * What is read (dvren_raw_load chooses by the first bytes, never by the
 * extension alone):
 *   PNG  (signature 89 'PNG' 0D 0A 1A 0A; ISO/IEC 15948): 8-bit (and 1/2/4-bit,
 *        which stb_image scales to 0..255) as U8, 16-bit as U16; grey gives 1
 *        channel, RGB and palette images 3; an alpha channel is dropped
 *        (grey+alpha -> grey, RGBA -> RGB). Values as stored: no gamma, no
 *        colour profile. Interlaced (Adam7) files are read too. stb_image's
 *        global options (stbi_set_flip_vertically_on_load, ...) must be
 *        left at their defaults.
 *   PGM/PPM, binary (Netpbm "P5" grey, "P6" RGB; netpbm.sourceforge.net/doc/pgm.html,
 *        ppm.html): '#' comments and any whitespace between the header's
 *        fields, maxval 1..65535 (< 256: one byte per sample, U8; else two,
 *        big-endian, U16), then exactly the raster. white = maxval.
 *   .npy (magic 93 'NUMPY'; tools/dvren_npy.h): (H, W) or (H, W, 1) grey,
 *        (H, W, 3) RGB; '|u1' as U8, '<u2' as U16, '<f4' as F32, '<f8'
 *        converted to F32 (each value must be finite in float32).
 *   anything else goes to LibRaw: the camera's CFA mosaic (LibRaw's
 *        rawdata.raw_image after open and unpack, uint16, U16), cropped to
 *        the visible area (sizes.top_margin, left_margin, width, height; rows
 *        raw_pitch bytes apart), its Bayer pattern or X-Trans layout relative
 *        to that area's pixel (0, 0), black and white levels, make and model.
 *        A monochrome sensor (LibRaw colors 1, no filter) is read as grey
 *        with cfa NONE.
 * Rows are stored top first, as in the file; RAW data are in the sensor's
 * orientation (LibRaw's flip is reported in .flip, not applied).
 *
 * Refused, each with dvren_last_error(ctx) "image: '<path>': <field>:
 * <problem>" (the module is "image"): a missing or unreadable file (IO); an
 * empty file; a file whose extension says PNG, PGM/PPM or .npy without
 * that format's magic (FORMAT, field "magic"); ASCII or other Netpbm
 * variants (P1-P4, P7 PAM, PF/Pf PFM: UNSUPPORTED); a malformed PNG, PGM/PPM
 * or .npy header, a truncated raster or trailing bytes, a PGM/PPM sample
 * over its maxval; a PNG chunk passing the end of the file, a chunk CRC-32
 * mismatch, no IEND, data stb_image cannot decode; a .npy of another dtype
 * (float16, int32, ...) or shape, a non-finite float; a side outside 1..DVREN_RAW_MAX_SIDE or a decoded
 * image over DVREN_RAW_MAX_BYTES (checked from the header, before anything
 * is allocated for the pixels); a file LibRaw cannot open or unpack (its
 * libraw_strerror text; a file that is neither a known RAW nor PNG/PPM/npy
 * ends here); LibRaw reporting corrupt or truncated data while unpacking;
 * RAW data that are not a CFA mosaic (raw_image NULL: linear DNG, sRAW/mRAW,
 * Foveon), four-colour (CMYG) filters, patterns that are neither a 2 x 2
 * Bayer cell nor X-Trans (Leaf's 16 x 16), Fujifilm SuperCCD's rotated
 * layout (UNSUPPORTED).
 *
 * Not done here: demosaicing, black-level subtraction, white balance,
 * rotation by the RAW's orientation, colour profiles and gamma, alpha
 * channels (dropped), writing images. */
#ifndef DVREN_RAW_H
#define DVREN_RAW_H

#include "dvren.h"

#include <stddef.h>
#include <stdint.h>

/* Largest width or height an image may have (pixels). */
#define DVREN_RAW_MAX_SIDE 65536u
/* Largest decoded image (width x height x channels x bytes per sample). */
#ifndef DVREN_RAW_MAX_BYTES
#define DVREN_RAW_MAX_BYTES ((uint64_t)4 << 30)
#endif

/* One loaded image. Everything is filled by dvren_raw_load; data is owned
 * by the image (malloc) and freed by dvren_raw_free. */
typedef struct dvren_raw_image {
    uint32_t width, height; /* pixels, each 1 .. DVREN_RAW_MAX_SIDE */
    uint32_t channels;      /* 1 (a CFA mosaic or grey) or 3 (RGB, interleaved) */
    dvren_dtype dtype;      /* DVREN_DTYPE_U8, DVREN_DTYPE_U16 or DVREN_DTYPE_F32 */
    /* (height, width, channels) row-major, row 0 at the top, samples in the
     * host's byte order: height x width x channels x (1, 2 or 4) bytes */
    void* data;
    size_t size_bytes;      /* bytes at data */
    /* the mosaic's layout relative to pixel (0, 0) of data: a Bayer pattern
     * or DVREN_CFA_XTRANS for a camera RAW with a colour filter, else
     * DVREN_CFA_NONE (PNG, PGM/PPM, .npy, monochrome RAW) */
    dvren_cfa cfa;
    /* DVREN_CFA_XTRANS: colour of pixel (y, x) is xtrans[6 * (y % 6) + x % 6],
     * 0 red, 1 green, 2 blue (LibRaw's idata.xtrans, relative to the visible
     * area); all zero otherwise */
    uint8_t xtrans[36];
    /* Levels, in the units of data's samples. black: the sensor's black
     * level (RAW: LibRaw's rawdata.color.black plus the mean over the CFA
     * cell's sites of cblack[colour], plus the mean of cblack's pattern
     * part when it has one); 0 for the other formats. white: the saturation
     * level (RAW: rawdata.color.maximum; PGM/PPM: maxval; PNG and .npy: 255,
     * 65535, or 1.0 for F32). Nothing is subtracted or scaled in data. */
    double black, white;
    /* RAW: LibRaw's flip (sizes.flip): 0 none, 3 rotated 180 degrees, 5 90
     * degrees counter-clockwise, 6 90 degrees clockwise; not applied to
     * data. 0 for the other formats. */
    int32_t flip;
    char make[64], model[64]; /* RAW: LibRaw's normalised camera make and model ("Kodak", "DC50"); "" otherwise */
    char format[8];           /* "raw", "png", "pgm", "ppm" or "npy" */
    char path[1024];          /* the path given (truncated), for messages */
} dvren_raw_image;

/* Loads the image file at path into *out (zeroed first), choosing the
 * format by its first bytes (the top of this file says what each format
 * gives and what is refused). ctx receives the error (NULL: the calling
 * thread's, dvren_last_error(NULL)). On failure *out is left zeroed (data
 * NULL; dvren_raw_free on it is harmless). Errors: INVALID_ARGUMENT (NULL
 * path or out), IO (cannot open or read the file), FORMAT (malformed or
 * unrecognised content, sizes over the limits, corrupt RAW data),
 * UNSUPPORTED (valid files of a kind not read: see above; a format this
 * build was made without), OUT_OF_MEMORY. Any thread; LibRaw's thread-safe
 * library (-lraw_r) keeps concurrent loads apart. */
dvren_status dvren_raw_load(dvren_context* ctx, const char* path, dvren_raw_image* out);

/* Frees img->data and zeroes *img (NULL is fine). */
void dvren_raw_free(dvren_raw_image* img);

/* Writes the samples of img as float32 into out (width x height x channels
 * floats, the layout of img->data), values unchanged (no black/white
 * scaling). Returns the number of floats written, 0 when img has no data or
 * an unknown dtype. */
size_t dvren_raw_to_float(const dvren_raw_image* img, float* out);

#endif /* DVREN_RAW_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_RAW_IMPLEMENTATION
#ifndef DVREN_RAW_IMPLEMENTATION_ONCE
#define DVREN_RAW_IMPLEMENTATION_ONCE

#ifndef DVREN_IO_IMPLEMENTATION
#define DVREN_IO_IMPLEMENTATION
#endif
#include "dvren_io.h"
#ifndef DVREN_NPY_IMPLEMENTATION
#define DVREN_NPY_IMPLEMENTATION
#endif
#include "dvren_npy.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DVREN_RAW_NO_LIBRAW
#include <libraw/libraw.h>
#endif
#ifndef DVREN_RAW_NO_PNG
#include <stb/stb_image.h>
#endif

/* Records "image: '<path>': <field>: <problem>", empties *out, returns status. */
static dvren_status dvren__raw_fail(dvren_context* ctx, dvren_raw_image* out, const char* path, dvren_status status,
                                    const char* field, const char* hint, const char* fmt, ...) DVREN_PRINTF(7, 8);
static dvren_status dvren__raw_fail(dvren_context* ctx, dvren_raw_image* out, const char* path, dvren_status status,
                                    const char* field, const char* hint, const char* fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (out) dvren_raw_free(out);
    return dvren_set_error(ctx, status, "image", hint, "'%s': %s: %s", path, field, msg);
}

static size_t dvren__raw_item_size(dvren_dtype t)
{
    return t == DVREN_DTYPE_U8 ? 1 : t == DVREN_DTYPE_U16 ? 2 : t == DVREN_DTYPE_F32 ? 4 : 0;
}

/* Checks the sides and the decoded size of width x height x samples of
 * dtype (before anything is decoded, so an absurd header costs nothing). */
static dvren_status dvren__raw_check(dvren_context* ctx, dvren_raw_image* out, const char* path, const char* field,
                                     uint64_t width, uint64_t height, uint32_t channels, dvren_dtype dtype)
{
    uint64_t bytes;
    if (width < 1 || width > DVREN_RAW_MAX_SIDE)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, field, NULL, "width %llu is outside 1..%u",
                               (unsigned long long)width, DVREN_RAW_MAX_SIDE);
    if (height < 1 || height > DVREN_RAW_MAX_SIDE)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, field, NULL, "height %llu is outside 1..%u",
                               (unsigned long long)height, DVREN_RAW_MAX_SIDE);
    bytes = width * height * channels * dvren__raw_item_size(dtype);
    if (bytes > DVREN_RAW_MAX_BYTES || bytes > (uint64_t)SIZE_MAX)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, field, NULL,
                               "%llu x %llu x %u samples are %.0f bytes, more than the %.0f this reader takes",
                               (unsigned long long)width, (unsigned long long)height, channels, (double)bytes,
                               (double)DVREN_RAW_MAX_BYTES);
    return DVREN_OK;
}

/* dvren__raw_check, then out->data for the image and its size fields. */
static dvren_status dvren__raw_alloc(dvren_context* ctx, dvren_raw_image* out, const char* path, const char* field,
                                     uint64_t width, uint64_t height, uint32_t channels, dvren_dtype dtype)
{
    uint64_t bytes;
    dvren_status s = dvren__raw_check(ctx, out, path, field, width, height, channels, dtype);
    if (s) return s;
    bytes = width * height * channels * dvren__raw_item_size(dtype);
    out->data = malloc((size_t)bytes);
    if (!out->data)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_OUT_OF_MEMORY, field, NULL, "cannot hold %.0f bytes of pixels",
                               (double)bytes);
    out->width = (uint32_t)width;
    out->height = (uint32_t)height;
    out->channels = channels;
    out->dtype = dtype;
    out->size_bytes = (size_t)bytes;
    return DVREN_OK;
}

/* Reads the whole file (at most the largest image plus 64 MiB of headers
 * and compressed overhead). */
static dvren_status dvren__raw_read(dvren_context* ctx, dvren_raw_image* out, const char* path, unsigned char** bytes,
                                    size_t* n)
{
    char err[256];
    uint64_t cap = DVREN_RAW_MAX_BYTES + ((uint64_t)64 << 20);
    *bytes = (unsigned char*)dvren_io_read_file(path, cap > (uint64_t)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)cap, n,
                                                err, sizeof err);
    if (!*bytes) return dvren__raw_fail(ctx, out, path, DVREN_ERROR_IO, "file", NULL, "%s", err);
    return DVREN_OK;
}

/* ---- PGM / PPM ------------------------------------------------------------- */

static int dvren__raw_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static dvren_status dvren__raw_pnm(dvren_context* ctx, dvren_raw_image* out, const char* path, const unsigned char* b, size_t n)
{
    static const char* const names[3] = {"width", "height", "maxval"};
    uint64_t v[3] = {0, 0, 0};
    size_t i = 2, k, count, need;
    uint32_t channels;
    int wide;
    dvren_status s;
    if (b[1] != '5' && b[1] != '6')
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "magic", "convert it to binary PGM (P5) or PPM (P6)",
                               "Netpbm 'P%c' (%s) is not read", b[1],
                               b[1] == '1' || b[1] == '4' ? "a bitmap" : b[1] == '2' || b[1] == '3' ? "ASCII" :
                               b[1] == '7' ? "PAM" : "PFM");
    for (k = 0; k < 3; ++k) {
        for (;;) { /* whitespace, and comments from '#' to the end of the line */
            while (i < n && dvren__raw_space(b[i])) i++;
            if (i < n && b[i] == '#') {
                while (i < n && b[i] != '\n' && b[i] != '\r') i++;
                continue;
            }
            break;
        }
        if (i >= n)
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "header", NULL, "the file ends before the %s", names[k]);
        if (b[i] < '0' || b[i] > '9')
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, names[k], NULL,
                                   "expected a decimal number at byte %lu, found byte 0x%02x", (unsigned long)i, b[i]);
        while (i < n && b[i] >= '0' && b[i] <= '9') {
            if (v[k] < ((uint64_t)1 << 40)) v[k] = v[k] * 10 + (uint64_t)(b[i] - '0'); /* larger is refused below anyway */
            i++;
        }
    }
    if (i >= n || !dvren__raw_space(b[i]))
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "header", NULL,
                               "the maxval must be followed by one whitespace byte, then the pixels");
    i++;
    if (v[2] < 1 || v[2] > 65535)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "maxval", NULL, "%llu is outside 1..65535",
                               (unsigned long long)v[2]);
    channels = b[1] == '6' ? 3u : 1u;
    wide = v[2] > 255;
    s = dvren__raw_alloc(ctx, out, path, "header", v[0], v[1], channels, wide ? DVREN_DTYPE_U16 : DVREN_DTYPE_U8);
    if (s) return s;
    count = (size_t)out->width * out->height * channels;
    need = out->size_bytes;
    if (n - i < need)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL,
                               "truncated: %lu bytes of pixels, %lu needed for %u x %u x %u samples", (unsigned long)(n - i),
                               (unsigned long)need, (unsigned)v[0], (unsigned)v[1], channels);
    if (n - i > need)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL,
                               "%lu bytes after the pixels (files holding several images are not read)",
                               (unsigned long)(n - i - need));
    for (k = 0; k < count; ++k) {
        unsigned s16 = wide ? ((unsigned)b[i + 2 * k] << 8) | b[i + 2 * k + 1] : b[i + k];
        if (s16 > v[2]) {
            size_t px = k / channels;
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL,
                                   "sample %u at row %lu, column %lu, channel %lu is over the maxval %u", s16,
                                   (unsigned long)(px / out->width), (unsigned long)(px % out->width),
                                   (unsigned long)(k % channels), (unsigned)v[2]);
        }
        if (wide) ((uint16_t*)out->data)[k] = (uint16_t)s16;
        else ((uint8_t*)out->data)[k] = (uint8_t)s16;
    }
    out->white = (double)v[2];
    snprintf(out->format, sizeof out->format, "%s", channels == 3 ? "ppm" : "pgm");
    return DVREN_OK;
}

/* ---- PNG ------------------------------------------------------------------- */

/* Walks the chunks after the signature (ISO/IEC 15948, 5.3): each must lie
 * inside the file with a matching CRC-32, up to IEND. stb_image trusts the
 * declared lengths (it grows its buffer for IDAT before reading), so a few
 * bytes could make it allocate gigabytes; after this walk every length is
 * backed by the file's bytes. */
static dvren_status dvren__raw_png_chunks(dvren_context* ctx, dvren_raw_image* out, const char* path, const unsigned char* b,
                                          size_t n)
{
    uint32_t table[256], k;
    size_t pos = 8;
    for (k = 0; k < 256; ++k) {
        uint32_t c = k;
        int j;
        for (j = 0; j < 8; ++j) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        table[k] = c;
    }
    for (;;) {
        size_t len, i;
        uint32_t crc = 0xFFFFFFFFu, stored;
        char type[5];
        if (n - pos < 12)
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "chunks", "the file is probably truncated",
                                   "the file ends at byte %lu without an IEND chunk", (unsigned long)n);
        len = ((size_t)b[pos] << 24) | ((size_t)b[pos + 1] << 16) | ((size_t)b[pos + 2] << 8) | b[pos + 3];
        for (i = 0; i < 4; ++i) type[i] = (char)(b[pos + 4 + i] >= 0x20 && b[pos + 4 + i] < 0x7f ? b[pos + 4 + i] : '?');
        type[4] = 0;
        if (len > n - pos - 12)
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "chunks", "the file is probably truncated",
                                   "chunk '%s' at byte %lu declares %lu bytes, %lu remain", type, (unsigned long)pos,
                                   (unsigned long)len, (unsigned long)(n - pos - 12));
        for (i = 0; i < len + 4; ++i) crc = table[(crc ^ b[pos + 4 + i]) & 0xFF] ^ (crc >> 8);
        crc ^= 0xFFFFFFFFu;
        stored = ((uint32_t)b[pos + 8 + len] << 24) | ((uint32_t)b[pos + 9 + len] << 16) | ((uint32_t)b[pos + 10 + len] << 8) |
                 b[pos + 11 + len];
        if (crc != stored)
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "chunks", NULL,
                                   "chunk '%s' at byte %lu: CRC-32 0x%08x, the file says 0x%08x (corrupt)", type,
                                   (unsigned long)pos, crc, stored);
        pos += 12 + len;
        if (!memcmp(type, "IEND", 4)) return DVREN_OK; /* bytes after IEND are ignored */
    }
}

static dvren_status dvren__raw_png(dvren_context* ctx, dvren_raw_image* out, const char* path, const unsigned char* b, size_t n)
{
    uint32_t w, h, channels, depth, type;
    dvren_status s;
    if (n < 33 || memcmp(b + 8, "\0\0\0\x0dIHDR", 8) != 0)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "IHDR", NULL,
                               "the signature is not followed by a 13-byte IHDR chunk");
    w = ((uint32_t)b[16] << 24) | ((uint32_t)b[17] << 16) | ((uint32_t)b[18] << 8) | b[19];
    h = ((uint32_t)b[20] << 24) | ((uint32_t)b[21] << 16) | ((uint32_t)b[22] << 8) | b[23];
    depth = b[24];
    type = b[25];
    if (type != 0 && type != 2 && type != 3 && type != 4 && type != 6)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "IHDR", NULL, "colour type %u is not a PNG colour type", type);
    if (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16)
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "IHDR", NULL, "bit depth %u is not a PNG bit depth", depth);
    channels = type == 2 || type == 3 || type == 6 ? 3u : 1u;
    s = dvren__raw_check(ctx, out, path, "IHDR", w, h, channels, depth == 16 ? DVREN_DTYPE_U16 : DVREN_DTYPE_U8);
    if (s) return s;
    s = dvren__raw_png_chunks(ctx, out, path, b, n);
    if (s) return s;
#ifdef DVREN_RAW_NO_PNG
    return dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "format", "rebuild without DVREN_RAW_NO_PNG",
                           "this build reads no PNG");
#else
    {
        int x = 0, y = 0, comp = 0;
        size_t k, count;
        void* px;
        /* stb_image holds up to 4 samples per pixel while decoding: check that too */
        s = dvren__raw_check(ctx, out, path, "IHDR", w, h, 4, depth == 16 ? DVREN_DTYPE_U16 : DVREN_DTYPE_U8);
        if (s == DVREN_OK) s = dvren__raw_alloc(ctx, out, path, "IHDR", w, h, channels, depth == 16 ? DVREN_DTYPE_U16 : DVREN_DTYPE_U8);
        if (s) return s;
        if (n > (size_t)INT_MAX)
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "file", NULL, "%lu bytes: stb_image reads at most 2 GiB",
                                   (unsigned long)n);
        if (depth == 16) px = stbi_load_16_from_memory(b, (int)n, &x, &y, &comp, 0);
        else px = stbi_load_from_memory(b, (int)n, &x, &y, &comp, 0);
        if (!px)
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL, "stb_image cannot decode it: %s",
                                   stbi_failure_reason() ? stbi_failure_reason() : "no reason given");
        if ((uint32_t)x != w || (uint32_t)y != h || comp < 1 || comp > 4 || (uint32_t)(comp < 3 ? 1 : 3) != channels) {
            stbi_image_free(px);
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_INTERNAL, "data", NULL,
                                   "stb_image decoded %d x %d x %d, the header says %u x %u (colour type %u)", x, y, comp, w, h,
                                   type);
        }
        count = (size_t)w * h;
        /* drop the alpha channel: grey+alpha -> grey, RGBA -> RGB */
        if (depth == 16) {
            const uint16_t* src = (const uint16_t*)px;
            uint16_t* dst = (uint16_t*)out->data;
            uint32_t c;
            for (k = 0; k < count; ++k)
                for (c = 0; c < channels; ++c) dst[k * channels + c] = src[k * (size_t)comp + c];
        } else {
            const uint8_t* src = (const uint8_t*)px;
            uint8_t* dst = (uint8_t*)out->data;
            uint32_t c;
            for (k = 0; k < count; ++k)
                for (c = 0; c < channels; ++c) dst[k * channels + c] = src[k * (size_t)comp + c];
        }
        stbi_image_free(px);
        out->white = depth == 16 ? 65535.0 : 255.0;
        snprintf(out->format, sizeof out->format, "png");
        return DVREN_OK;
    }
#endif
}

/* ---- .npy ------------------------------------------------------------------ */

static dvren_status dvren__raw_npy(dvren_context* ctx, dvren_raw_image* out, const char* path, const unsigned char* b, size_t n)
{
    dvren_npy_array a;
    char name[1100];
    uint64_t i;
    uint32_t channels;
    dvren_dtype dtype;
    dvren_status s;
    snprintf(name, sizeof name, "'%s'", path);
    if (dvren_npy_parse_header(&a, b, n, name)) {
        dvren_raw_free(out);
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "image", NULL, "%s", a.error);
    }
    if (a.dtype == DVREN_NPY_U8) dtype = DVREN_DTYPE_U8;
    else if (a.dtype == DVREN_NPY_U16) dtype = DVREN_DTYPE_U16;
    else dtype = DVREN_DTYPE_F32; /* '<f4', and '<f8' converted */
    if (!(a.ndim == 2 || (a.ndim == 3 && (a.shape[2] == 1 || a.shape[2] == 3)))) {
        char shape[160];
        size_t len = 0;
        uint32_t d;
        shape[0] = 0;
        for (d = 0; d < a.ndim && len < sizeof shape - 24; ++d)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%llu", d ? ", " : "", (unsigned long long)a.shape[d]);
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "shape", NULL,
                               "(%s) is not an image: (H, W) or (H, W, 1) grey, (H, W, 3) RGB", shape);
    }
    channels = a.ndim == 3 ? (uint32_t)a.shape[2] : 1u;
    s = dvren__raw_alloc(ctx, out, path, "shape", a.shape[1], a.shape[0], channels, dtype);
    if (s) return s;
    if (dvren_npy_check_data(&a)) {
        dvren_raw_free(out);
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "image", NULL, "%s", a.error);
    }
    for (i = 0; i < a.count; ++i) {
        double v = dvren_npy_get(&a, i);
        if (dtype == DVREN_DTYPE_U8) {
            ((uint8_t*)out->data)[i] = (uint8_t)v;
        } else if (dtype == DVREN_DTYPE_U16) {
            ((uint16_t*)out->data)[i] = (uint16_t)v;
        } else {
            float f = (float)v;
            if (!isfinite(v) || !isfinite(f)) {
                uint64_t px = i / channels;
                return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL,
                                       "element [%llu][%llu]%s = %g is not a finite float32", (unsigned long long)(px / a.shape[1]),
                                       (unsigned long long)(px % a.shape[1]), a.ndim == 3 ? "[c]" : "", v);
            }
            ((float*)out->data)[i] = f;
        }
    }
    out->white = dtype == DVREN_DTYPE_U8 ? 255.0 : dtype == DVREN_DTYPE_U16 ? 65535.0 : 1.0;
    snprintf(out->format, sizeof out->format, "npy");
    return DVREN_OK;
}

/* ---- camera RAW (LibRaw) ---------------------------------------------------- */

#ifndef DVREN_RAW_NO_LIBRAW
/* What LibRaw's callbacks saw (its default ones print to stderr). */
typedef struct dvren__raw_lr_events {
    int data_errors;  /* calls of the data-error callback */
    int first_offset; /* its first offset (-1: end of file) */
    int memory_errors;
    char where[96];   /* the first memory error's place */
} dvren__raw_lr_events;

static void dvren__raw_lr_data(void* user, const char* file, const int offset)
{
    dvren__raw_lr_events* e = (dvren__raw_lr_events*)user;
    (void)file;
    if (!e->data_errors++) e->first_offset = offset;
}

static void dvren__raw_lr_memory(void* user, const char* file, const char* where)
{
    dvren__raw_lr_events* e = (dvren__raw_lr_events*)user;
    (void)file;
    if (!e->memory_errors++) snprintf(e->where, sizeof e->where, "%s", where ? where : "?");
}

/* A LibRaw colour index (0..3) as 0 red, 1 green, 2 blue, through the
 * camera's colour letters (cdesc, e.g. "RGBG": index 3 is the second
 * green); -1 for any other letter (C, M, Y, E). */
static int dvren__raw_lr_rgb(const char* cdesc, int index)
{
    char c = index >= 0 && index < 4 ? cdesc[index] : 0;
    return c == 'R' ? 0 : c == 'G' ? 1 : c == 'B' ? 2 : -1;
}

static dvren_status dvren__raw_libraw_status(dvren_context* ctx, dvren_raw_image* out, const char* path, const char* step,
                                             int code)
{
    char hint[256];
    snprintf(hint, sizeof hint, "dvren reads the camera RAW files that LibRaw %s knows, PNG, binary PGM/PPM and .npy%s",
             libraw_version(), code == LIBRAW_IO_ERROR ? "; an I/O error here usually means a truncated file" : "");
    return dvren__raw_fail(ctx, out, path, code == LIBRAW_UNSUFFICIENT_MEMORY ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_FORMAT,
                           "LibRaw", code == LIBRAW_FILE_UNSUPPORTED || code == LIBRAW_IO_ERROR ? hint : NULL,
                           "%s failed: %s (LibRaw error %d)", step, libraw_strerror(code), code);
}
#endif

static dvren_status dvren__raw_camera(dvren_context* ctx, dvren_raw_image* out, const char* path)
{
#ifdef DVREN_RAW_NO_LIBRAW
    return dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "format",
                           "rebuild without DVREN_RAW_NO_LIBRAW, or convert the file to PNG, PGM/PPM or .npy",
                           "not PNG, PGM/PPM or .npy, and this build reads no camera RAW files");
#else
    dvren__raw_lr_events ev;
    libraw_data_t* lr;
    const libraw_image_sizes_t* sz;
    const libraw_colordata_t* col;
    const char* cdesc;
    uint32_t W, H, top, left, y, x, filters;
    dvren_status s = DVREN_OK;
    int code, sites = 0;
    double black_sites = 0.0;
    memset(&ev, 0, sizeof ev);
    lr = libraw_init(0);
    if (!lr) return dvren__raw_fail(ctx, out, path, DVREN_ERROR_OUT_OF_MEMORY, "LibRaw", NULL, "libraw_init failed");
    libraw_set_dataerror_handler(lr, dvren__raw_lr_data, &ev);
    libraw_set_memerror_handler(lr, dvren__raw_lr_memory, &ev);
#define DVREN__RAW_LR_FAIL(expr) \
    do {                         \
        s = (expr);              \
        goto done;               \
    } while (0)
    code = libraw_open_file(lr, path);
    if (code != LIBRAW_SUCCESS) DVREN__RAW_LR_FAIL(dvren__raw_libraw_status(ctx, out, path, "open", code));
    filters = lr->idata.filters;
    cdesc = lr->idata.cdesc;
    /* refused before unpacking what would be refused after it */
    if (lr->idata.is_foveon)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                           "a Foveon (X3F) sensor has no colour-filter mosaic"));
    if (filters != 0 && filters < 1000 && filters != 9)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                           "LibRaw's filter code %u (%s) is neither a 2 x 2 Bayer cell nor X-Trans", filters,
                                           filters == 1 ? "Leaf CatchLight, 16 x 16" : "a special layout"));
    sz = &lr->sizes;
    if (sz->width < 1 || sz->height < 1 || (uint32_t)sz->top_margin + sz->height > sz->raw_height ||
        (uint32_t)sz->left_margin + sz->width > sz->raw_width)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "size", NULL,
                                           "visible area %u x %u at (%u, %u) does not fit the raw %u x %u", sz->width, sz->height,
                                           sz->left_margin, sz->top_margin, sz->raw_width, sz->raw_height));
    /* the decoded size is known: check it before LibRaw allocates the mosaic */
    s = dvren__raw_check(ctx, out, path, "size", sz->raw_width, sz->raw_height, 1, DVREN_DTYPE_U16);
    if (s) goto done;
    code = libraw_unpack(lr);
    if (code == LIBRAW_IO_ERROR || (code != LIBRAW_SUCCESS && ev.data_errors && ev.first_offset < 0))
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL,
                                           "truncated: the file ends before LibRaw has unpacked the %u x %u mosaic (LibRaw: %s)",
                                           sz->raw_width, sz->raw_height, libraw_strerror(code)));
    if (code != LIBRAW_SUCCESS) DVREN__RAW_LR_FAIL(dvren__raw_libraw_status(ctx, out, path, "unpack", code));
    if (ev.memory_errors)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_OUT_OF_MEMORY, "LibRaw", NULL,
                                           "out of memory while unpacking (in %s)", ev.where));
    if (ev.data_errors) {
        if (ev.first_offset < 0)
            DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", "the file is probably truncated",
                                               "LibRaw reached the end of the file while unpacking the mosaic"));
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "data", NULL,
                                           "LibRaw reports corrupt data while unpacking the mosaic (%d error%s, the first at byte %d)",
                                           ev.data_errors, ev.data_errors == 1 ? "" : "s", ev.first_offset));
    }
    if (!lr->rawdata.raw_image)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(
            ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", "only single-sample CFA mosaics (Bayer, X-Trans) are read",
            "not a colour-filter-array mosaic: LibRaw decoded %s (a linear DNG, sRAW/mRAW or similar)",
            lr->rawdata.float_image ? "floating-point samples" : "several samples per pixel"));
    if (lr->rawdata.ioparams.fuji_width)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                           "a Fujifilm SuperCCD mosaic is stored rotated by 45 degrees (fuji_width %u)",
                                           lr->rawdata.ioparams.fuji_width));
    if (filters == 0 && lr->idata.colors != 1)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                           "one sample per pixel, %d colours and no colour filter", lr->idata.colors));
    W = sz->width;
    H = sz->height;
    top = sz->top_margin;
    left = sz->left_margin;
    if (sz->raw_pitch < 2u * sz->raw_width)
        DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "size", NULL,
                                           "raw_pitch %u bytes is shorter than a row of %u pixels", sz->raw_pitch, sz->raw_width));
    /* the layout, relative to the visible area's (0, 0), as libraw_COLOR and idata.xtrans give it */
    col = &lr->rawdata.color;
    if (filters == 9) {
        int seen[3] = {0, 0, 0};
        out->cfa = DVREN_CFA_XTRANS;
        for (y = 0; y < 6; ++y)
            for (x = 0; x < 6; ++x) {
                int c = dvren__raw_lr_rgb(cdesc, lr->idata.xtrans[y][x]);
                if (c < 0)
                    DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                                       "X-Trans site (%u, %u) has colour index %d of '%.4s'", y, x,
                                                       (int)lr->idata.xtrans[y][x], cdesc));
                out->xtrans[6 * y + x] = (uint8_t)c;
                seen[c] = 1;
                black_sites += col->cblack[lr->idata.xtrans[y][x] & 3];
                sites++;
            }
        if (!seen[0] || !seen[1] || !seen[2])
            DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "pattern", NULL,
                                               "the X-Trans layout lacks a colour"));
    } else if (filters != 0) {
        int cell[2][2], r = 0, g = 0, b = 0;
        for (y = 0; y < 16; ++y)
            for (x = 0; x < 16; ++x) {
                int idx = libraw_COLOR(lr, (int)y, (int)x), c = dvren__raw_lr_rgb(cdesc, idx);
                if (c < 0)
                    DVREN__RAW_LR_FAIL(dvren__raw_fail(
                        ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", "only red, green and blue filters are read",
                        "a %d-colour filter '%.4s' (pixel (%u, %u) is '%c')", lr->idata.colors, cdesc, y, x,
                        idx >= 0 && idx < 4 && cdesc[idx] ? cdesc[idx] : '?'));
                if (y < 2 && x < 2) {
                    cell[y][x] = c;
                    r += c == 0;
                    g += c == 1;
                    b += c == 2;
                    black_sites += col->cblack[idx & 3];
                    sites++;
                } else if (c != cell[y & 1][x & 1]) {
                    DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                                       "the filter pattern (LibRaw filters 0x%08x) does not repeat every 2 x 2 pixels",
                                                       filters));
                }
            }
        /* one red, one blue, and the two greens on a diagonal */
        if (r != 1 || g != 2 || b != 1 || !((cell[0][0] == 1 && cell[1][1] == 1) || (cell[0][1] == 1 && cell[1][0] == 1)))
            DVREN__RAW_LR_FAIL(dvren__raw_fail(ctx, out, path, DVREN_ERROR_UNSUPPORTED, "pattern", NULL,
                                               "the 2 x 2 cell %c%c/%c%c is not a Bayer cell", "RGB"[cell[0][0]],
                                               "RGB"[cell[0][1]], "RGB"[cell[1][0]], "RGB"[cell[1][1]]));
        out->cfa = cell[0][0] == 0 ? DVREN_CFA_RGGB : cell[0][0] == 2 ? DVREN_CFA_BGGR :
                   cell[0][1] == 0 ? DVREN_CFA_GRBG : DVREN_CFA_GBRG;
    } else {
        out->cfa = DVREN_CFA_NONE; /* a monochrome sensor */
        black_sites = col->cblack[0];
        sites = 1;
    }
    s = dvren__raw_alloc(ctx, out, path, "size", W, H, 1, DVREN_DTYPE_U16);
    if (s) goto done;
    for (y = 0; y < H; ++y)
        memcpy((uint16_t*)out->data + (size_t)y * W,
               (const unsigned char*)lr->rawdata.raw_image + (size_t)(y + top) * sz->raw_pitch + (size_t)left * 2u,
               (size_t)W * 2u);
    out->black = (double)col->black + black_sites / sites;
    if (col->cblack[4] && col->cblack[5] && (uint64_t)col->cblack[4] * col->cblack[5] <= LIBRAW_CBLACK_SIZE - 6) {
        double sum = 0.0;
        uint32_t k, m = col->cblack[4] * col->cblack[5];
        for (k = 0; k < m; ++k) sum += col->cblack[6 + k];
        out->black += sum / m;
    }
    out->white = (double)col->maximum;
    out->flip = sz->flip;
    snprintf(out->make, sizeof out->make, "%s", lr->idata.make);
    snprintf(out->model, sizeof out->model, "%s", lr->idata.model);
    snprintf(out->format, sizeof out->format, "raw");
done:
#undef DVREN__RAW_LR_FAIL
    libraw_close(lr);
    return s;
#endif
}

/* ---- dispatch -------------------------------------------------------------- */

dvren_status dvren_raw_load(dvren_context* ctx, const char* path, dvren_raw_image* out)
{
    unsigned char head[16];
    unsigned char* bytes = NULL;
    size_t n = 0, got;
    const char *ext = NULL, *slash;
    char lext[8] = {0};
    FILE* f;
    dvren_status s;
    enum { K_OTHER, K_PNG, K_NPY, K_PNM } kind = K_OTHER;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "image", NULL, "dvren_raw_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "image", NULL, "dvren_raw_load: path is NULL");
    snprintf(out->path, sizeof out->path, "%s", path);
    f = fopen(path, "rb");
    if (!f) return dvren__raw_fail(ctx, out, path, DVREN_ERROR_IO, "file", NULL, "cannot open: %s", strerror(errno));
    got = fread(head, 1, sizeof head, f);
    if (got < sizeof head && ferror(f)) {
        int e = errno;
        fclose(f);
        return dvren__raw_fail(ctx, out, path, DVREN_ERROR_IO, "file", NULL, "cannot read: %s", strerror(e));
    }
    fclose(f);
    if (got == 0) return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "file", NULL, "empty");
    if (got >= 8 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8)) kind = K_PNG;
    else if (got >= 6 && !memcmp(head, "\x93NUMPY", 6)) kind = K_NPY;
    else if (got >= 3 && head[0] == 'P' && ((head[1] >= '1' && head[1] <= '7') || head[1] == 'F' || head[1] == 'f') &&
             dvren__raw_space(head[2]))
        kind = K_PNM;
    slash = strrchr(path, '/');
    ext = strrchr(slash ? slash + 1 : path, '.');
    if (ext && strlen(ext + 1) < sizeof lext) {
        size_t k;
        for (k = 0; ext[1 + k]; ++k) lext[k] = (char)(ext[1 + k] >= 'A' && ext[1 + k] <= 'Z' ? ext[1 + k] + 32 : ext[1 + k]);
    }
    if (kind == K_OTHER) {
        /* the extension promises a format whose magic is missing: say so rather than hand it to LibRaw */
        if (!strcmp(lext, "png"))
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "magic", NULL,
                                   "not a PNG file (it does not begin with the 8-byte PNG signature)");
        if (!strcmp(lext, "npy"))
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "magic", NULL, "not a .npy file (no \\x93NUMPY magic)");
        if (!strcmp(lext, "pgm") || !strcmp(lext, "ppm") || !strcmp(lext, "pnm") || !strcmp(lext, "pbm") || !strcmp(lext, "pam"))
            return dvren__raw_fail(ctx, out, path, DVREN_ERROR_FORMAT, "magic", NULL,
                                   "not a Netpbm file (it does not begin with 'P5' or 'P6' and whitespace)");
        return dvren__raw_camera(ctx, out, path);
    }
    s = dvren__raw_read(ctx, out, path, &bytes, &n);
    if (s) return s;
    if (kind == K_PNG) s = dvren__raw_png(ctx, out, path, bytes, n);
    else if (kind == K_NPY) s = dvren__raw_npy(ctx, out, path, bytes, n);
    else s = dvren__raw_pnm(ctx, out, path, bytes, n);
    free(bytes);
    return s;
}

void dvren_raw_free(dvren_raw_image* img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

size_t dvren_raw_to_float(const dvren_raw_image* img, float* out)
{
    size_t n, i;
    if (!img || !img->data || !out) return 0;
    n = (size_t)img->width * img->height * img->channels;
    if (img->dtype == DVREN_DTYPE_U8)
        for (i = 0; i < n; ++i) out[i] = (float)((const uint8_t*)img->data)[i];
    else if (img->dtype == DVREN_DTYPE_U16)
        for (i = 0; i < n; ++i) out[i] = (float)((const uint16_t*)img->data)[i];
    else if (img->dtype == DVREN_DTYPE_F32)
        memcpy(out, img->data, n * sizeof(float));
    else
        return 0;
    return n;
}

#endif /* DVREN_RAW_IMPLEMENTATION_ONCE */
#endif /* DVREN_RAW_IMPLEMENTATION */
