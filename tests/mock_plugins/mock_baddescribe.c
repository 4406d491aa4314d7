/* tests/mock_plugins/mock_baddescribe.c - a field plugin "mock_baddescribe"
 * whose create() succeeds but whose describe() reports an unusable field,
 * chosen by the enum parameter 'defect':
 *   zero_channels  channels = 0 (a field writes 1 .. DVREN_MAX_CHANNELS)
 *   empty_bounds   bounds_min.x == bounds_max.x (an empty box)
 *   silent_error   returns DVREN_ERROR_FORMAT without calling host->fail
 * dvren_stage_create must refuse it (DVREN_ERROR_PLUGIN naming the plugin
 * for the first two, the plugin's status with a message of the host's own
 * for the third: never an empty message), and destroy the instance it created (the sanitizer pass sees a
 * leak otherwise). */
#include "dvren.h"

#include <string.h>

typedef struct mock_inst_data {
    int empty_bounds; /* 0: zero_channels */
    int silent_error;
} mock_inst_data;

static const dvren_param_desc mock_params[] = {
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_ENUM, .name = "defect",
     .doc = "what describe() gets wrong", .unit = "", .enum_values = "zero_channels|empty_bounds|silent_error",
     .default_string = "zero_channels"},
};

static void mock_eval(const void* block, dvren_float3 p, float* out)
{
    (void)block;
    (void)p;
    out[0] = 1.0f;
}

static dvren_status mock_create(const dvren_host* h, const dvren_params* p, void** out)
{
    mock_inst_data* m = (mock_inst_data*)h->alloc(h, sizeof *m);
    const char* defect = h->param_string(p, "defect");
    if (!m) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    m->empty_bounds = defect && strcmp(defect, "empty_bounds") == 0;
    m->silent_error = defect && strcmp(defect, "silent_error") == 0;
    *out = m;
    return DVREN_OK;
}
static void mock_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(mock_inst_data)); }
static dvren_status mock_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    const mock_inst_data* m = (const mock_inst_data*)inst;
    int a;
    (void)h;
    if (m->silent_error) return DVREN_ERROR_FORMAT;
    info->block_size = 4;
    info->channels = m->empty_bounds ? 1u : 0u;
    for (a = 0; a < 3; ++a) {
        info->bounds_min[a] = -1.0f;
        info->bounds_max[a] = 1.0f;
    }
    if (m->empty_bounds) info->bounds_max[0] = info->bounds_min[0];
    info->voxel_world = 0.25f;
    return DVREN_OK;
}
static dvren_status mock_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    memset(block, 0, 4);
    return DVREN_OK;
}

static const dvren_instance_iface mock_inst = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = mock_create,
    .destroy = mock_destroy,
    .describe = mock_describe,
    .bind = mock_bind,
};
static const dvren_field_iface mock_field = {
    .struct_size = sizeof(dvren_field_iface),
    .eval_name = "mock_eval",
    .eval = mock_eval,
};

static const void* mock_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &mock_inst;
    if (strcmp(id, DVREN_IFACE_FIELD) == 0) return &mock_field;
    return NULL;
}

static const dvren_plugin_desc mock_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "mock_baddescribe",
    .version = (1u << 16) | 0u,
    .summary = "test mock: describe() reports 0 channels or an empty box",
    .params = mock_params,
    .param_count = sizeof mock_params / sizeof mock_params[0],
    .get_interface = mock_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 1, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
