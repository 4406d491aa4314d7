/* tools/dvren_exr.h - writing float images as OpenEXR, for dvren's tools
 * (dvren_foveate's importance mask and final render). Needs dvren.h and
 * OpenEXR's C API, openexr.h (OpenEXRCore, Debian libopenexr-dev, 3.1 or
 * later; link -lOpenEXRCore). Header only: every function is static.
 *
 * The file is a single-part scanline image of float32 channels, ZIP
 * compressed (16 lines per chunk), with the required header attributes of
 * the OpenEXR file layout (https://openexr.com/en/latest/OpenEXRFileLayout.html):
 * channels, compression, dataWindow = displayWindow = (0, 0) .. (W-1, H-1),
 * lineOrder INCREASING_Y, pixelAspectRatio 1, screenWindow centre (0, 0)
 * width 1. OpenEXR encodes into memory through a custom write function and
 * the bytes go to disk through dvren_file_write_atomic: a failure leaves
 * no file behind. Rows are stored top first (row 0 is the image's top, as
 * in dvren's framebuffers). Colour channels are linear, as EXR expects. */
#ifndef DVREN_EXR_H
#define DVREN_EXR_H

#include "dvren.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <OpenEXR/openexr.h>

/* Where the encoder's bytes go (pwrite semantics: any offset). */
typedef struct dvren_exr__mem {
    unsigned char* data;
    size_t size, cap;
    int failed;
    char error[256]; /* OpenEXR's last message */
} dvren_exr__mem;

static int64_t dvren_exr__write(exr_const_context_t c, void* user, const void* buf, uint64_t sz, uint64_t offset,
                                exr_stream_error_func_ptr_t error_cb)
{
    dvren_exr__mem* m = (dvren_exr__mem*)user;
    (void)c;
    (void)error_cb;
    if (m->failed) return -1;
    if (offset > (uint64_t)(SIZE_MAX / 4) || sz > (uint64_t)(SIZE_MAX / 4)) {
        m->failed = 1;
        return -1;
    }
    if ((size_t)(offset + sz) > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        unsigned char* d;
        while (cap < (size_t)(offset + sz)) cap *= 2;
        d = (unsigned char*)realloc(m->data, cap);
        if (!d) {
            m->failed = 1;
            return -1;
        }
        memset(d + m->cap, 0, cap - m->cap);
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + offset, buf, (size_t)sz);
    if ((size_t)(offset + sz) > m->size) m->size = (size_t)(offset + sz);
    return (int64_t)sz;
}

static void dvren_exr__error(exr_const_context_t c, exr_result_t code, const char* msg)
{
    void* user = NULL;
    if (exr_get_user_data(c, &user) == EXR_ERR_SUCCESS && user) {
        dvren_exr__mem* m = (dvren_exr__mem*)user;
        snprintf(m->error, sizeof m->error, "%s (%s)", msg ? msg : "", exr_get_error_code_as_string(code));
    }
}

/* Writes an image of nch float32 channels to path as OpenEXR.
 *   data:  (height, width, nch) float32, row-major, interleaved, row 0 at the top
 *   names: nch channel names ("R", "G", "B", "A"; "Y" for a single grey
 *          channel, the name EXR readers show as luminance); OpenEXR keeps
 *          them sorted in the file, each is matched to its plane by name
 * width, height in 1 .. 2^30 / nch; nch in 1..8. Errors: INVALID_ARGUMENT
 * (sizes, names), OUT_OF_MEMORY, FORMAT (OpenEXR refused; its message is
 * quoted), IO (from dvren_file_write_atomic), each naming the path.
 * Any thread; one call writes one file. */
static dvren_status dvren_exr_write(dvren_context* ctx, const char* path, const float* data, uint32_t width,
                                    uint32_t height, uint32_t nch, const char* const* names)
{
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    exr_context_t f = NULL;
    exr_encode_pipeline_t enc;
    dvren_exr__mem mem;
    exr_result_t r;
    int part = 0, enc_ready = 0;
    int32_t lines = 1, y;
    uint32_t c;
    dvren_status s = DVREN_OK;
    const char* what = "";
    memset(&mem, 0, sizeof mem);
    memset(&enc, 0, sizeof enc);
    if (!path || !data || !names || nch < 1 || nch > 8 || width < 1 || height < 1 || width > (1u << 30) / nch ||
        height > (1u << 30))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "exr", NULL,
                               "'%s': bad arguments (%u x %u pixels, %u channels)", path ? path : "(null)",
                               (unsigned)width, (unsigned)height, (unsigned)nch);
    for (c = 0; c < nch; ++c)
        if (!names[c] || !names[c][0])
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "exr", NULL, "'%s': channel %u has no name", path,
                                   (unsigned)c);
    init.user_data = &mem;
    init.write_fn = dvren_exr__write;
    init.error_handler_fn = dvren_exr__error;
#define DVREN_EXR__TRY(call, step) \
    do {                           \
        what = step;               \
        r = (call);                \
        if (r != EXR_ERR_SUCCESS) goto fail; \
    } while (0)
    DVREN_EXR__TRY(exr_start_write(&f, path, EXR_WRITE_FILE_DIRECTLY, &init), "start");
    DVREN_EXR__TRY(exr_add_part(f, "main", EXR_STORAGE_SCANLINE, &part), "add_part");
    DVREN_EXR__TRY(exr_initialize_required_attr_simple(f, part, (int32_t)width, (int32_t)height, EXR_COMPRESSION_ZIP),
                   "header");
    for (c = 0; c < nch; ++c)
        DVREN_EXR__TRY(exr_add_channel(f, part, names[c], EXR_PIXEL_FLOAT, EXR_PERCEPTUALLY_LOGARITHMIC, 1, 1), "channel");
    DVREN_EXR__TRY(exr_set_version(f, part, 1), "version");
    DVREN_EXR__TRY(exr_write_header(f), "write_header");
    DVREN_EXR__TRY(exr_get_scanlines_per_chunk(f, part, &lines), "chunk size");
    for (y = 0; y < (int32_t)height; y += lines) {
        exr_chunk_info_t ci;
        int16_t k;
        DVREN_EXR__TRY(exr_write_scanline_chunk_info(f, part, y, &ci), "chunk");
        if (!enc_ready) {
            DVREN_EXR__TRY(exr_encoding_initialize(f, part, &ci, &enc), "encoder");
            enc_ready = 1;
        } else {
            DVREN_EXR__TRY(exr_encoding_update(f, part, &ci, &enc), "encoder");
        }
        for (k = 0; k < enc.channel_count; ++k) {
            exr_coding_channel_info_t* ch = &enc.channels[k];
            uint32_t idx = nch;
            for (c = 0; c < nch; ++c)
                if (!strcmp(ch->channel_name, names[c])) idx = c;
            if (idx == nch) {
                r = EXR_ERR_INVALID_ARGUMENT;
                what = "channel lookup";
                goto fail;
            }
            ch->user_bytes_per_element = 4;
            ch->user_data_type = EXR_PIXEL_FLOAT;
            ch->user_pixel_stride = (int32_t)(nch * sizeof(float));
            ch->user_line_stride = (int32_t)((size_t)width * nch * sizeof(float));
            ch->encode_from_ptr = (const uint8_t*)(data + ((size_t)ci.start_y * width) * nch + idx);
        }
        if (y == 0) DVREN_EXR__TRY(exr_encoding_choose_default_routines(f, part, &enc), "encoder routines");
        DVREN_EXR__TRY(exr_encoding_run(f, part, &enc), "encode");
    }
#undef DVREN_EXR__TRY
    if (enc_ready) exr_encoding_destroy(f, &enc);
    enc_ready = 0;
    r = exr_finish(&f); /* writes the chunk offset table */
    f = NULL;
    if (r != EXR_ERR_SUCCESS) {
        what = "finish";
        goto fail;
    }
    if (mem.failed) {
        s = dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "exr", NULL, "'%s': out of memory while encoding", path);
    } else {
        s = dvren_file_write_atomic(ctx, path, mem.data, mem.size);
    }
    free(mem.data);
    return s;
fail:
    if (enc_ready) exr_encoding_destroy(f, &enc);
    if (f) exr_finish(&f); /* no file: the stream is ours and is discarded */
    s = dvren_set_error(ctx, mem.failed ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_FORMAT, "exr", NULL,
                        "'%s': OpenEXR %s failed: %s%s%s", path, what, exr_get_error_code_as_string(r),
                        mem.error[0] ? ": " : "", mem.error);
    free(mem.data);
    return s;
}

#endif /* DVREN_EXR_H */
