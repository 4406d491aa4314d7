/* tools/dvren_image.h - writing framebuffers as PNG, for dvren's tools and
 * examples. Needs stb_image_write (tools/stb_impl.c), dvren.h and
 * dvren_io.h (its buffer; define DVREN_IO_IMPLEMENTATION in one file).
 *
 * 8-bit PNG goes through stbi_write_png_to_func; 16-bit PNG (which stb
 * does not write) is assembled here from stb's zlib compressor: signature,
 * IHDR (bit depth 16), one IDAT of filter-0 scanlines with big-endian
 * samples, IEND, each chunk with its CRC-32 (PNG specification, ISO/IEC
 * 15948:2003, sections 5 and 11). Files are written through
 * dvren_file_write_atomic, so a failure leaves nothing behind. */
#ifndef DVREN_IMAGE_H
#define DVREN_IMAGE_H

#include "dvren.h"
#include "dvren_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stb/stb_image_write.h>

/* exported by stb_image_write's implementation but not declared in its header */
unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

static void dvren_image_stb_cb(void* user, void* data, int size) { dvren_io_buf_append((dvren_io_buf*)user, data, (size_t)size); }

static uint32_t dvren_image_crc(const unsigned char* p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; ++i) {
        c ^= p[i];
        for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void dvren_image_chunk(dvren_io_buf* b, const char* type, const unsigned char* data, size_t n)
{
    unsigned char be[4];
    unsigned char* tmp = (unsigned char*)malloc(n + 4);
    uint32_t crc;
    if (!tmp) {
        b->failed = 1;
        return;
    }
    be[0] = (unsigned char)(n >> 24); be[1] = (unsigned char)(n >> 16); be[2] = (unsigned char)(n >> 8); be[3] = (unsigned char)n;
    dvren_io_buf_append(b, be, 4);
    memcpy(tmp, type, 4);
    if (n) memcpy(tmp + 4, data, n);
    dvren_io_buf_append(b, tmp, n + 4);
    crc = dvren_image_crc(tmp, n + 4);
    free(tmp);
    be[0] = (unsigned char)(crc >> 24); be[1] = (unsigned char)(crc >> 16); be[2] = (unsigned char)(crc >> 8); be[3] = (unsigned char)crc;
    dvren_io_buf_append(b, be, 4);
}

/* Writes rgb (H, W, 3) and optionally alpha (H, W) as a PNG of 8 or 16 bits
 * per sample. With alpha, colours are un-premultiplied (straight alpha, as
 * PNG stores it). Values are clamped to [0, 1]; no gamma is applied. */
static dvren_status dvren_image_write_png(dvren_context* ctx, const char* path, const float* rgb, const float* alpha,
                                          uint32_t width, uint32_t height, int bits)
{
    int comp = alpha ? 4 : 3;
    size_t n = (size_t)width * height, i;
    dvren_io_buf out = {0, 0, 0, 0};
    dvren_status s;
    if (bits != 8 && bits != 16)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "png", NULL, "'%s': bits must be 8 or 16, got %d",
                               path, bits);
    if (bits == 8) {
        unsigned char* px = (unsigned char*)malloc(n * (size_t)comp);
        if (!px) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "png", NULL, "out of memory");
        for (i = 0; i < n; ++i) {
            float a = alpha ? alpha[i] : 1.0f;
            float inv = (alpha && a > 0.0f) ? 1.0f / a : 1.0f;
            int c;
            for (c = 0; c < 3; ++c) {
                float v = rgb[3 * i + c] * inv;
                v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                px[i * comp + c] = (unsigned char)(v * 255.0f + 0.5f);
            }
            if (alpha) px[i * comp + 3] = (unsigned char)((a < 0 ? 0 : a > 1 ? 1 : a) * 255.0f + 0.5f);
        }
        if (!stbi_write_png_to_func(dvren_image_stb_cb, &out, (int)width, (int)height, comp, px, (int)width * comp))
            out.failed = 1;
        free(px);
    } else {
        size_t row = 1 + (size_t)width * comp * 2;
        unsigned char* raw = (unsigned char*)malloc(row * height);
        unsigned char hdr[13];
        unsigned char* z;
        int zlen = 0;
        uint32_t x, y;
        if (!raw) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "png", NULL, "out of memory");
        for (y = 0; y < height; ++y) {
            unsigned char* r = raw + y * row;
            r[0] = 0; /* filter type 0: none */
            for (x = 0; x < width; ++x) {
                size_t p = (size_t)y * width + x;
                float a = alpha ? alpha[p] : 1.0f;
                float inv = (alpha && a > 0.0f) ? 1.0f / a : 1.0f;
                int c;
                for (c = 0; c < comp; ++c) {
                    float v = c < 3 ? rgb[3 * p + c] * inv : a;
                    unsigned q;
                    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                    q = (unsigned)(v * 65535.0f + 0.5f);
                    r[1 + (x * comp + c) * 2] = (unsigned char)(q >> 8);
                    r[2 + (x * comp + c) * 2] = (unsigned char)(q & 0xFF);
                }
            }
        }
        z = stbi_zlib_compress(raw, (int)(row * height), &zlen, 8);
        free(raw);
        if (!z) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "png", NULL, "compression failed");
        dvren_io_buf_append(&out, "\x89PNG\r\n\x1a\n", 8);
        hdr[0] = (unsigned char)(width >> 24); hdr[1] = (unsigned char)(width >> 16);
        hdr[2] = (unsigned char)(width >> 8); hdr[3] = (unsigned char)width;
        hdr[4] = (unsigned char)(height >> 24); hdr[5] = (unsigned char)(height >> 16);
        hdr[6] = (unsigned char)(height >> 8); hdr[7] = (unsigned char)height;
        hdr[8] = 16;                           /* bit depth */
        hdr[9] = (unsigned char)(alpha ? 6 : 2); /* colour type: RGBA or RGB */
        hdr[10] = hdr[11] = hdr[12] = 0;       /* deflate, adaptive filtering, no interlace */
        dvren_image_chunk(&out, "IHDR", hdr, 13);
        dvren_image_chunk(&out, "IDAT", z, (size_t)zlen);
        dvren_image_chunk(&out, "IEND", NULL, 0);
        free(z);
    }
    if (out.failed) {
        dvren_io_buf_free(&out);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "png", NULL, "'%s': encoding failed", path);
    }
    s = dvren_file_write_atomic(ctx, path, out.data, out.size);
    dvren_io_buf_free(&out);
    return s;
}

#endif
