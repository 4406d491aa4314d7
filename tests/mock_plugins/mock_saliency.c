/* tests/mock_plugins/mock_saliency.c - two saliency plugins for
 * tests/test_foveate_core.c (CPU only; no device source):
 *   "mock_saliency" with parameter "mode": "luma" writes the map
 *     min(1, Y) of the linear input (Y = 0.2126 R + 0.7152 G + 0.0722 B)
 *     times alpha when the host passed alpha (it asks for ALPHA only, so
 *     depth and variance must arrive NULL); "bad" writes 2 at pixel (1, 0);
 *     "fail" reports DVREN_ERROR_IO through host->fail.
 *   "mock_saliency_file", which needs the image file (DVREN_SALIENCY_NEEDS_FILE)
 *     and writes 1 where the file's first byte is 0x89 (a PNG), else 0. */
#include "dvren.h"

#include <stdio.h>
#include <string.h>

typedef struct mock_inst {
    int mode; /* 0 luma, 1 bad, 2 fail */
} mock_inst;

static const dvren_param_desc mock_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "mode", .enum_values = "luma|bad|fail", .default_string = "luma",
                .doc = "what compute() does"),
};

static dvren_status mock_create(const dvren_host* h, const dvren_params* p, void** out)
{
    mock_inst* m = (mock_inst*)h->alloc(h, sizeof *m);
    const char* mode = h->param_string(p, "mode");
    if (!m) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    m->mode = !mode || !strcmp(mode, "luma") ? 0 : (!strcmp(mode, "bad") ? 1 : 2);
    *out = m;
    return DVREN_OK;
}
static void mock_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(mock_inst)); }
static dvren_status mock_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = 0;
    return DVREN_OK;
}
static dvren_status mock_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)inst;
    (void)buffers;
    (void)block;
    return h->fail(h, DVREN_ERROR_INTERNAL, NULL, "bind() of a saliency model");
}

static dvren_status mock_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in, float* map)
{
    const mock_inst* m = (const mock_inst*)inst;
    size_t n = (size_t)in->width * in->height, i;
    if (in->memory != DVREN_MEMORY_HOST) return h->fail(h, DVREN_ERROR_UNSUPPORTED, NULL, "CPU only");
    if (in->depth || in->variance) return h->fail(h, DVREN_ERROR_INTERNAL, NULL, "got depth or variance unasked");
    if (m->mode == 2) return h->fail(h, DVREN_ERROR_IO, "a hint", "cannot read %s", "model.bin");
    for (i = 0; i < n; ++i) {
        float y = 0.2126f * in->rgb[3 * i] + 0.7152f * in->rgb[3 * i + 1] + 0.0722f * in->rgb[3 * i + 2];
        y = y > 1.0f ? 1.0f : (y < 0.0f ? 0.0f : y);
        map[i] = in->alpha ? y * in->alpha[i] : y;
    }
    if (m->mode == 1 && n > 1) map[1] = 2.0f;
    return DVREN_OK;
}

static dvren_status mock_file_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in, float* map)
{
    size_t n = (size_t)in->width * in->height, i;
    unsigned char b = 0;
    FILE* f = fopen(in->image_path, "rb");
    (void)inst;
    if (!f) return h->fail(h, DVREN_ERROR_IO, NULL, "cannot open %s", in->image_path);
    if (fread(&b, 1, 1, f) != 1) b = 0;
    fclose(f);
    for (i = 0; i < n; ++i) map[i] = b == 0x89 ? 1.0f : 0.0f;
    return DVREN_OK;
}

static const dvren_instance_iface mock_inst_iface = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = mock_create,
    .destroy = mock_destroy,
    .describe = mock_describe,
    .bind = mock_bind,
};
static const dvren_saliency_iface mock_sal = {
    .struct_size = sizeof(dvren_saliency_iface), .wants = DVREN_OUTPUT_ALPHA, .compute = mock_compute};
static const dvren_saliency_iface mock_file_sal = {.struct_size = sizeof(dvren_saliency_iface),
                                                   .flags = DVREN_SALIENCY_NEEDS_FILE,
                                                   .compute = mock_file_compute};

DVREN_PLUGIN_INTERFACES(mock_get_interface, mock_inst_iface, DVREN_IFACE_SALIENCY, mock_sal)
DVREN_PLUGIN_INTERFACES(mock_file_get_interface, mock_inst_iface, DVREN_IFACE_SALIENCY, mock_file_sal)

static const dvren_plugin_desc mock_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SALIENCY,
    .name = "mock_saliency",
    .version = 0x10000,
    .summary = "test saliency model: luminance times alpha",
    .params = mock_params,
    .param_count = 1,
    .get_interface = mock_get_interface,
};
static const dvren_plugin_desc mock_file_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SALIENCY,
    .name = "mock_saliency_file",
    .version = 0x10000,
    .summary = "test saliency model that reads the image file",
    .get_interface = mock_file_get_interface,
};

DVREN_PLUGIN_LIBRARY(&mock_desc, &mock_file_desc)
