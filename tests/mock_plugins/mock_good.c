/* tests/mock_plugins/mock_good.c - a current-ABI mock library that holds TWO
 * plugins (the ABI allows one library to hold several):
 *
 *   field  "mock_const": every point inside [-1,1]^3 has the same 4 channel
 *          values, all equal to the float parameter 'value' (default 1);
 *          voxel_world 0.25, so the uniform sampler's default step is 0.125.
 *   shader "mock_white": density sigma = channel 0 (1/world unit), colour
 *          white; reads one channel.
 *
 * Built by tests/run.sh into $DVREN_TEST_MOCK_DIR/mock_good.so and used by
 * tests/test_plugin_abi.c. CPU only: it has no device source. */
#include "dvren.h"

#include <string.h>

/* ---- field "mock_const" ------------------------------------------------ */

typedef struct mock_const_block {
    float value;
} mock_const_block;

static void mock_const_eval(const void* block, dvren_float3 p, float* out)
{
    const mock_const_block* b = (const mock_const_block*)block;
    int c;
    (void)p;
    for (c = 0; c < 4; ++c) out[c] = b->value;
}

static const dvren_param_desc mock_const_params[] = {
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_FLOAT, .name = "value",
     .doc = "the value of every channel everywhere in the box", .unit = "", .default_number = 1.0},
};

static dvren_status mock_const_create(const dvren_host* h, const dvren_params* p, void** out)
{
    mock_const_block* b = (mock_const_block*)h->alloc(h, sizeof *b);
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    b->value = (float)h->param_number(p, "value");
    *out = b;
    return DVREN_OK;
}

static void mock_const_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(mock_const_block)); }

static dvren_status mock_const_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    int a;
    (void)h;
    (void)inst;
    info->block_size = sizeof(mock_const_block);
    info->channels = 4;
    for (a = 0; a < 3; ++a) {
        info->bounds_min[a] = -1.0f;
        info->bounds_max[a] = 1.0f;
    }
    info->voxel_world = 0.25f;
    return DVREN_OK;
}

static dvren_status mock_const_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(mock_const_block));
    return DVREN_OK;
}

static const dvren_instance_iface mock_const_inst = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = mock_const_create,
    .destroy = mock_const_destroy,
    .describe = mock_const_describe,
    .bind = mock_const_bind,
};
static const dvren_field_iface mock_const_field = {
    .struct_size = sizeof(dvren_field_iface),
    .eval_name = "mock_const_eval",
    .eval = mock_const_eval,
};

static const void* mock_const_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &mock_const_inst;
    if (strcmp(id, DVREN_IFACE_FIELD) == 0) return &mock_const_field;
    return NULL;
}

static const dvren_plugin_desc mock_const_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "mock_const",
    .version = (1u << 16) | 0u,
    .summary = "test mock: the same value in every channel inside [-1,1]^3",
    .params = mock_const_params,
    .param_count = sizeof mock_const_params / sizeof mock_const_params[0],
    .get_interface = mock_const_get_interface,
};

/* ---- shader "mock_white" ------------------------------------------------ */

typedef struct mock_white_block {
    uint32_t unused; /* a block must have at least one byte */
} mock_white_block;

static float mock_white_density(const void* block, const float* ch)
{
    (void)block;
    return ch[0];
}

static void mock_white_color(const void* block, const float* ch, dvren_float3 grad, dvren_float3 dir,
                             dvren_float3* rgb)
{
    (void)block;
    (void)ch;
    (void)grad;
    (void)dir;
    *rgb = dvren_f3(1.0f, 1.0f, 1.0f);
}

static dvren_status mock_white_create(const dvren_host* h, const dvren_params* p, void** out)
{
    mock_white_block* b = (mock_white_block*)h->alloc(h, sizeof *b);
    (void)p;
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    b->unused = 0;
    *out = b;
    return DVREN_OK;
}

static void mock_white_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(mock_white_block)); }

static dvren_status mock_white_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = sizeof(mock_white_block);
    info->channels_used = 1;
    return DVREN_OK;
}

static dvren_status mock_white_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(mock_white_block));
    return DVREN_OK;
}

static const dvren_instance_iface mock_white_inst = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = mock_white_create,
    .destroy = mock_white_destroy,
    .describe = mock_white_describe,
    .bind = mock_white_bind,
};
static const dvren_shader_iface mock_white_shader = {
    .struct_size = sizeof(dvren_shader_iface),
    .density_name = "mock_white_density",
    .color_name = "mock_white_color",
    .density = mock_white_density,
    .color = mock_white_color,
};

static const void* mock_white_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &mock_white_inst;
    if (strcmp(id, DVREN_IFACE_SHADER) == 0) return &mock_white_shader;
    return NULL;
}

static const dvren_plugin_desc mock_white_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SHADER,
    .name = "mock_white",
    .version = (1u << 16) | 0u,
    .summary = "test mock: density = channel 0, white",
    .get_interface = mock_white_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_const_desc, &mock_white_desc};
    static const dvren_plugin_table table = {
        .struct_size = sizeof(dvren_plugin_table),
        .abi_version = DVREN_ABI_VERSION,
        .count = sizeof list / sizeof list[0],
        .plugins = list,
    };
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
