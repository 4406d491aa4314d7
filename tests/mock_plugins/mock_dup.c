/* tests/mock_plugins/mock_dup.c - a library with two field plugins: a valid
 * "mock_dup_first", then "mock_const", whose name mock_good.so already uses
 * for a field. Loaded after mock_good.so, the host must refuse it with
 * DVREN_ERROR_PLUGIN ("already loaded") and register neither plugin (a
 * library loads all or nothing: "mock_dup_first" is rolled back). */
#include "dvren.h"

#include <string.h>

typedef struct mock_block {
    float value;
} mock_block;

static void mock_eval(const void* block, dvren_float3 p, float* out)
{
    (void)p;
    out[0] = ((const mock_block*)block)->value;
}

static dvren_status mock_create(const dvren_host* h, const dvren_params* p, void** out)
{
    mock_block* b = (mock_block*)h->alloc(h, sizeof *b);
    (void)p;
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    b->value = 0.5f;
    *out = b;
    return DVREN_OK;
}
static void mock_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(mock_block)); }
static dvren_status mock_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    int a;
    (void)h;
    (void)inst;
    info->block_size = sizeof(mock_block);
    info->channels = 1;
    for (a = 0; a < 3; ++a) {
        info->bounds_min[a] = -1.0f;
        info->bounds_max[a] = 1.0f;
    }
    info->voxel_world = 0.25f;
    return DVREN_OK;
}
static dvren_status mock_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(mock_block));
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

static const dvren_plugin_desc mock_first_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "mock_dup_first",
    .version = (1u << 16) | 0u,
    .summary = "test mock: a valid field loaded before the duplicate",
    .get_interface = mock_get_interface,
};
static const dvren_plugin_desc mock_dup_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "mock_const",
    .version = (1u << 16) | 0u,
    .summary = "test mock: same kind and name as mock_good.so's field",
    .get_interface = mock_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_first_desc, &mock_dup_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 2, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
