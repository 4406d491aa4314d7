/* tools/dvren_nerf.h - multi-view images with poses in the layout of the
 * NeRF synthetic data set (Mildenhall et al. 2020), for fit_volume --images
 * and its fuzz target. Depends on dvren_io.h, cJSON and stb_image (PNG;
 * tools/stb_impl.c holds its implementation).
 *
 * Do this in exactly one translation unit:
 *     #define DVREN_NERF_IMPLEMENTATION
 *     #include "dvren_nerf.h"
 * (it defines DVREN_IO_IMPLEMENTATION too unless DVREN_NERF_NO_IO is defined,
 * for a file that includes dvren_io.h's implementation elsewhere).
 *
 * A transforms JSON has "camera_angle_x", the horizontal field of view in
 * radians, and "frames", each with "file_path" relative to the JSON's
 * folder (".png" added when missing) and "transform_matrix", a 4x4
 * camera-to-world matrix in the Blender/OpenGL convention (the camera looks
 * down -z, +y is up). Frames whose image file is absent are skipped and
 * counted; a file that is present but unreadable is an error. Images are
 * RGBA, 8 bits per sample, composited on black (rgb * alpha) and
 * box-filtered down to `size` pixels across (the width must be a multiple).
 *
 * PNG files are checked before stb_image sees them, because stb allocates
 * what the header claims: the IHDR's width x height must be at most
 * DVREN_NERF_MAX_PIXELS, the image data must be large enough to inflate to
 * that size (deflate expands at most 1032:1), and no chunk may be longer
 * than what is left of the file. */
#ifndef DVREN_NERF_H
#define DVREN_NERF_H

#include <stddef.h>

#ifndef DVREN_NERF_MAX_PIXELS
#define DVREN_NERF_MAX_PIXELS ((size_t)1 << 26) /* 64 Mpixels (8192 x 8192): 256 MiB decoded as RGBA */
#endif
#define DVREN_NERF_MAX_FILE_BYTES ((size_t)256 << 20)

/* Loaded views: count views of width x height pixels; rays (count, height,
 * width, 6: origin, unit direction), rgb composited on black (count,
 * height, width, 3), alpha (count, height, width) and each camera's pose
 * (3 x 4 camera-to-world, row-major) with its focal length in filtered pixels. */
typedef struct dvren_nerf_views {
    int count, width, height;
    float *rays, *rgb, *alpha;
    double *pose, focal;
} dvren_nerf_views;

/* What the loader skipped: frames listed, frames without an image file. */
typedef struct dvren_nerf_report {
    int frames, missing;
    char first_missing[2048];
} dvren_nerf_report;

/* Loads the frames of the transforms JSON at json_path whose images exist,
 * filtered to size pixels across. Returns 0, or 1 with a message naming the
 * file and the field in err. */
int dvren_nerf_load(const char* json_path, int size, dvren_nerf_views* vs, dvren_nerf_report* rep, char* err,
                    size_t err_cap);
/* The same from JSON text (text_len bytes); images are relative to dir
 * (NULL or "": the working folder); json_path names it in messages. */
int dvren_nerf_parse(const char* json_path, const char* text, size_t text_len, const char* dir, int size,
                     dvren_nerf_views* vs, dvren_nerf_report* rep, char* err, size_t err_cap);
void dvren_nerf_views_free(dvren_nerf_views* vs);

/* Checks a PNG file's header and chunk lengths against the limits above and
 * the file's size. Returns 0, or 1 with the reason in err. */
int dvren_nerf_png_check(const unsigned char* data, size_t size, char* err, size_t err_cap);
/* Checks (dvren_nerf_png_check), then decodes to RGBA 8-bit; NULL with the
 * reason in err. Free with stbi_image_free. */
unsigned char* dvren_nerf_decode_png(const unsigned char* data, size_t size, int* w, int* h, char* err, size_t err_cap);
/* Reads the file (at most DVREN_NERF_MAX_FILE_BYTES) and decodes it. */
unsigned char* dvren_nerf_load_png(const char* path, int* w, int* h, char* err, size_t err_cap);

#endif /* DVREN_NERF_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_NERF_IMPLEMENTATION
#ifndef DVREN_NERF_IMPLEMENTATION_ONCE
#define DVREN_NERF_IMPLEMENTATION_ONCE

#if !defined(DVREN_IO_IMPLEMENTATION) && !defined(DVREN_NERF_NO_IO)
#define DVREN_IO_IMPLEMENTATION
#endif
#include "dvren_io.h"
#include <cjson/cJSON.h>
#include <stb/stb_image.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DVN_FAIL(...) snprintf(err, err_cap, __VA_ARGS__)

void dvren_nerf_views_free(dvren_nerf_views* vs)
{
    free(vs->rays);
    free(vs->rgb);
    free(vs->alpha);
    free(vs->pose);
    memset(vs, 0, sizeof *vs);
}

static uint32_t dvn__be32(const unsigned char* p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* PNG specification (ISO/IEC 15948:2003) 5.2-5.3 (signature, chunk
 * layout) and 11.2.2 (IHDR). */
int dvren_nerf_png_check(const unsigned char* data, size_t size, char* err, size_t err_cap)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint32_t w, h, len;
    int depth, type, channels;
    double raw, idat = 0.0;
    size_t pos = 8;
    if (size < 8 + 25 || memcmp(data, sig, 8) != 0) {
        DVN_FAIL("cannot decode the image: not a PNG file (no PNG signature and IHDR)");
        return 1;
    }
    if (dvn__be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0) {
        DVN_FAIL("cannot decode the image: the first chunk is not a 13-byte IHDR");
        return 1;
    }
    w = dvn__be32(data + 16);
    h = dvn__be32(data + 20);
    depth = data[24];
    type = data[25];
    channels = type == 0 ? 1 : type == 2 ? 3 : type == 3 ? 1 : type == 4 ? 2 : type == 6 ? 4 : 0;
    if (!channels || !(depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)) {
        DVN_FAIL("cannot decode the image: colour type %d with bit depth %d is not a PNG format", type, depth);
        return 1;
    }
    if (w == 0 || h == 0 || (double)w * h > (double)DVREN_NERF_MAX_PIXELS) {
        DVN_FAIL("cannot decode the image: its header says %u x %u pixels (the limit is %.0f pixels)", (unsigned)w,
                 (unsigned)h, (double)DVREN_NERF_MAX_PIXELS);
        return 1;
    }
    /* every chunk within the file: a chunk claiming more than is left is
     * cut short or forged, and stb would realloc its claimed size first */
    while (pos + 8 <= size) { /* a chunk's length and type are readable: stb acts on them */
        len = dvn__be32(data + pos);
        if ((size_t)len > size - pos - 8) {
            DVN_FAIL("cannot decode the image: chunk '%.4s' at byte %lu claims %lu bytes, the file has %lu after it",
                     (const char*)data + pos + 4, (unsigned long)pos, (unsigned long)len, (unsigned long)(size - pos - 8));
            return 1;
        }
        if (!memcmp(data + pos + 4, "IDAT", 4)) idat += len;
        if (!memcmp(data + pos + 4, "IEND", 4)) break;
        pos += 12 + (size_t)len;
    }
    raw = (double)h * (1.0 + ceil((double)w * channels * depth / 8.0));
    if (idat * 1032.0 < raw) {
        DVN_FAIL("cannot decode the image: its header says %u x %u pixels (%.0f bytes inflated), but it holds only %.0f "
                 "bytes of image data (truncated, or a forged header)",
                 (unsigned)w, (unsigned)h, raw, idat);
        return 1;
    }
    return 0;
}

unsigned char* dvren_nerf_decode_png(const unsigned char* data, size_t size, int* w, int* h, char* err, size_t err_cap)
{
    unsigned char* img;
    int n;
    if (dvren_nerf_png_check(data, size, err, err_cap)) return NULL;
    if (size > 0x7FFFFFFF) {
        DVN_FAIL("cannot decode the image: larger than 2 GiB");
        return NULL;
    }
    {
        /* empty IDAT chunks are legal but carry nothing, and stb_image does
         * pointer arithmetic on its still-NULL buffer for one that comes
         * first (undefined behaviour, found by fuzz_transforms_json): hand
         * it a copy without them */
        unsigned char* copy = NULL;
        size_t pos = 8, out = 8;
        while (pos + 12 <= size) {
            uint32_t len = dvn__be32(data + pos);
            int empty_idat = len == 0 && !memcmp(data + pos + 4, "IDAT", 4);
            if (empty_idat && !copy) {
                copy = (unsigned char*)malloc(size);
                if (!copy) {
                    DVN_FAIL("cannot decode the image: out of memory");
                    return NULL;
                }
                memcpy(copy, data, pos);
                out = pos;
            }
            if (copy && !empty_idat) {
                /* the last chunk may lack its CRC: copy what there is */
                size_t take = 12 + (size_t)len <= size - pos ? 12 + (size_t)len : size - pos;
                memcpy(copy + out, data + pos, take);
                out += take;
            }
            if (!memcmp(data + pos + 4, "IEND", 4)) break;
            pos += 12 + (size_t)len; /* within the file: dvren_nerf_png_check saw every length */
        }
        img = copy ? stbi_load_from_memory(copy, (int)out, w, h, &n, 4) : stbi_load_from_memory(data, (int)size, w, h, &n, 4);
        free(copy);
    }
    if (!img) DVN_FAIL("cannot decode the image (%s)", stbi_failure_reason());
    return img;
}

unsigned char* dvren_nerf_load_png(const char* path, int* w, int* h, char* err, size_t err_cap)
{
    size_t n = 0;
    char* bytes = dvren_io_read_file(path, DVREN_NERF_MAX_FILE_BYTES, &n, err, err_cap);
    unsigned char* img;
    if (!bytes) return NULL;
    img = dvren_nerf_decode_png((const unsigned char*)bytes, n, w, h, err, err_cap);
    free(bytes);
    return img;
}

/* Appends one view: the image (w x h RGBA) box-filtered by f, composited on
 * black, and its rays (pixel centres of the filtered image, pinhole with the
 * focal length focal in full-resolution pixels, Blender/OpenGL axes). */
static int dvn__add(dvren_nerf_views* vs, const unsigned char* img, int w, int h, int f, double focal, const double m[12])
{
    int W = w / f, H = h / f, i, j, a, b, c;
    size_t px = (size_t)W * H, n = (size_t)vs->count + 1;
    float *rays = (float*)realloc(vs->rays, n * px * 6 * sizeof(float)), *rgb, *alpha;
    double* pose;
    if (rays) vs->rays = rays;
    rgb = (float*)realloc(vs->rgb, n * px * 3 * sizeof(float));
    if (rgb) vs->rgb = rgb;
    alpha = (float*)realloc(vs->alpha, n * px * sizeof(float));
    if (alpha) vs->alpha = alpha;
    pose = (double*)realloc(vs->pose, n * 12 * sizeof(double));
    if (pose) vs->pose = pose;
    if (!rays || !rgb || !alpha || !pose) return 1;
    rays += (n - 1) * px * 6;
    rgb += (n - 1) * px * 3;
    alpha += (n - 1) * px;
    memcpy(pose + (n - 1) * 12, m, 12 * sizeof(double));
    for (j = 0; j < H; ++j)
        for (i = 0; i < W; ++i) {
            double acc[4] = {0, 0, 0, 0}, d[3], x, y, len;
            size_t p = (size_t)j * W + i;
            for (b = j * f; b < j * f + f; ++b)
                for (a = i * f; a < i * f + f; ++a) {
                    const unsigned char* q = img + 4 * ((size_t)b * w + a);
                    double al = q[3] / 255.0;
                    for (c = 0; c < 3; ++c) acc[c] += al * q[c] / 255.0;
                    acc[3] += al;
                }
            for (c = 0; c < 3; ++c) rgb[3 * p + c] = (float)(acc[c] / (f * f));
            alpha[p] = (float)(acc[3] / (f * f));
            /* camera space: x right, y up, looking down -z */
            x = ((i + 0.5) * f - 0.5 * w) / focal;
            y = -((j + 0.5) * f - 0.5 * h) / focal;
            for (c = 0; c < 3; ++c) d[c] = m[4 * c] * x + m[4 * c + 1] * y - m[4 * c + 2];
            len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            for (c = 0; c < 3; ++c) {
                rays[6 * p + c] = (float)m[4 * c + 3];
                rays[6 * p + 3 + c] = (float)(d[c] / len);
            }
        }
    vs->count = (int)n;
    vs->width = W;
    vs->height = H;
    return 0;
}

int dvren_nerf_parse(const char* json_path, const char* text, size_t text_len, const char* dir, int size,
                     dvren_nerf_views* vs, dvren_nerf_report* rep, char* err, size_t err_cap)
{
    char path[2048];
    cJSON *root = NULL, *fov, *frames, *fr;
    unsigned char* img = NULL;
    int k = 0, missing = 0, w0 = 0, h0 = 0, f = 1, rc = 1;
    double focal = 0.0;
    memset(vs, 0, sizeof *vs);
    memset(rep, 0, sizeof *rep);
    if (size < 1) {
        DVN_FAIL("'%s': the size to filter to must be >= 1, got %d", json_path, size);
        return 1;
    }
    root = cJSON_ParseWithLength(text, text_len);
    if (!root) {
        const char* at = cJSON_GetErrorPtr();
        DVN_FAIL("'%s': not valid JSON (near byte %ld)", json_path,
                at && at >= text && at <= text + text_len ? (long)(at - text) : -1L);
        goto done;
    }
    fov = cJSON_GetObjectItemCaseSensitive(root, "camera_angle_x");
    if (!cJSON_IsNumber(fov) || !(fov->valuedouble > 0.0) || !(fov->valuedouble < 3.14159)) {
        DVN_FAIL("'%s': \"camera_angle_x\" must be a number in (0, pi) (radians)", json_path);
        goto done;
    }
    frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    if (!cJSON_IsArray(frames) || cJSON_GetArraySize(frames) == 0) {
        DVN_FAIL("'%s': \"frames\" must be a non-empty array", json_path);
        goto done;
    }
    cJSON_ArrayForEach(fr, frames)
    {
        cJSON *file = cJSON_GetObjectItemCaseSensitive(fr, "file_path"), *tm = cJSON_GetObjectItemCaseSensitive(fr, "transform_matrix");
        double m[16];
        int r, c, w, h;
        char msg[512];
        size_t len;
        FILE* probe;
        if (!cJSON_IsString(file) || !file->valuestring[0]) {
            DVN_FAIL("'%s': frames[%d].file_path must be a non-empty string", json_path, k);
            goto done;
        }
        if (!cJSON_IsArray(tm) || cJSON_GetArraySize(tm) != 4) {
            DVN_FAIL("'%s': frames[%d].transform_matrix must be 4 rows of 4 numbers", json_path, k);
            goto done;
        }
        for (r = 0; r < 4; ++r) {
            cJSON* row = cJSON_GetArrayItem(tm, r);
            for (c = 0; c < 4; ++c) {
                cJSON* e = cJSON_IsArray(row) && cJSON_GetArraySize(row) == 4 ? cJSON_GetArrayItem(row, c) : NULL;
                if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
                    DVN_FAIL("'%s': frames[%d].transform_matrix must be 4 rows of 4 finite numbers",
                            json_path, k);
                    goto done;
                }
                m[4 * r + c] = e->valuedouble;
            }
        }
        /* a camera-to-world matrix: orthonormal rotation, last row 0 0 0 1 */
        for (r = 0; r < 3; ++r)
            for (c = 0; c < 3; ++c) {
                double dot = m[r] * m[c] + m[4 + r] * m[4 + c] + m[8 + r] * m[8 + c];
                if (fabs(dot - (r == c)) > 1e-3) {
                    DVN_FAIL("'%s': frames[%d].transform_matrix is not a rigid camera-to-world matrix "
                                    "(its 3 x 3 rotation is not orthonormal)", json_path, k);
                    goto done;
                }
            }
        if (m[12] != 0.0 || m[13] != 0.0 || m[14] != 0.0 || m[15] != 1.0) {
            DVN_FAIL("'%s': frames[%d].transform_matrix: the last row must be 0 0 0 1", json_path, k);
            goto done;
        }
        len = strlen(file->valuestring);
        snprintf(path, sizeof path, "%s/%s%s", dir && dir[0] ? dir : ".", file->valuestring,
                 len > 4 && !strcmp(file->valuestring + len - 4, ".png") ? "" : ".png");
        ++k;
        probe = fopen(path, "rb");
        if (!probe) {
            if (!missing++) snprintf(rep->first_missing, sizeof rep->first_missing, "%s", path);
            continue;
        }
        fclose(probe);
        if (!(img = dvren_nerf_load_png(path, &w, &h, msg, sizeof msg))) {
            DVN_FAIL("'%s': %s", path, msg);
            goto done;
        }
        if (!w0) {
            if (size > w || w % size || h % (w / size)) {
                DVN_FAIL("'%s' is %d x %d: --size %d must divide its width, and width / size its height",
                        path, w, h, size);
                goto done;
            }
            w0 = w;
            h0 = h;
            f = w / size;
            focal = 0.5 * w / tan(0.5 * fov->valuedouble);
            vs->focal = focal / f;
        } else if (w != w0 || h != h0) {
            DVN_FAIL("'%s' is %d x %d, the frames before it %d x %d", path, w, h, w0, h0);
            goto done;
        }
        if (dvn__add(vs, img, w, h, f, focal, m)) {
            DVN_FAIL("out of memory for %d views of %d x %d", vs->count + 1, w / f, h / f);
            goto done;
        }
        stbi_image_free(img);
        img = NULL;
    }
    if (!vs->count) {
        DVN_FAIL("'%s': none of its %d frames has its image (the first missing: '%s')", json_path, k,
                 rep->first_missing);
        goto done;
    }
    rep->frames = k;
    rep->missing = missing;
    rc = 0;
done:
    if (rc) dvren_nerf_views_free(vs);
    stbi_image_free(img);
    cJSON_Delete(root);
    return rc;
}
int dvren_nerf_load(const char* json_path, int size, dvren_nerf_views* vs, dvren_nerf_report* rep, char* err,
                    size_t err_cap)
{
    char dir[2048], msg[256];
    const char* slash = strrchr(json_path, '/');
    size_t n = 0;
    char* text = dvren_io_read_file(json_path, (size_t)64 << 20, &n, msg, sizeof msg);
    int rc;
    memset(vs, 0, sizeof *vs);
    memset(rep, 0, sizeof *rep);
    if (!text) {
        DVN_FAIL("cannot read '%s': %s", json_path, msg);
        return 1;
    }
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - json_path) : 1, slash ? json_path : ".");
    rc = dvren_nerf_parse(json_path, text, n, dir, size, vs, rep, err, err_cap);
    free(text);
    return rc;
}

#undef DVN_FAIL
#endif /* DVREN_NERF_IMPLEMENTATION_ONCE */
#endif /* DVREN_NERF_IMPLEMENTATION */
