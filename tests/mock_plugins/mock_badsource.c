/* tests/mock_plugins/mock_badsource.c - a field plugin "mock_badsource"
 * whose per-sample code works as C but whose device source text (handed to
 * NVRTC through dvren_plugin_desc.device_source) has an error on line 4: an
 * undeclared identifier. The CUDA backend must refuse the kernel with
 * DVREN_ERROR_COMPILE naming the plugin, its file and the line, and leave
 * the context usable (tests/test_cuda.c). */
#include "dvren.h"

#include <string.h>

static const char mock_badsource_text[] =
    "DVREN_FN void mock_badsource_eval(const void* P, dvren_float3 p, float* out)\n"
    "{\n"
    "    (void)P;\n"
    "    out[0] = p.x + no_such_variable;\n"
    "}\n";

static void mock_badsource_eval(const void* P, dvren_float3 p, float* out)
{
    (void)P;
    out[0] = p.x;
}

static dvren_status mock_create(const dvren_host* h, const dvren_params* p, void** out)
{
    (void)h;
    (void)p;
    *out = (void*)&mock_badsource_text; /* no state */
    return DVREN_OK;
}
static void mock_destroy(const dvren_host* h, void* inst)
{
    (void)h;
    (void)inst;
}
static dvren_status mock_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    int a;
    (void)h;
    (void)inst;
    info->block_size = 16;
    info->channels = 1;
    for (a = 0; a < 3; ++a) {
        info->bounds_min[a] = -1.0f;
        info->bounds_max[a] = 1.0f;
    }
    info->voxel_world = 0.05f;
    return DVREN_OK;
}
static dvren_status mock_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    memset(block, 0, 16);
    return DVREN_OK;
}

static const dvren_instance_iface mock_inst = {.struct_size = sizeof(dvren_instance_iface), .create = mock_create,
                                               .destroy = mock_destroy, .describe = mock_describe, .bind = mock_bind};
static const dvren_field_iface mock_field = {.struct_size = sizeof(dvren_field_iface),
                                             .eval_name = "mock_badsource_eval", .eval = mock_badsource_eval};

static const void* mock_get_interface(const char* id)
{
    if (!strcmp(id, DVREN_IFACE_INSTANCE)) return &mock_inst;
    if (!strcmp(id, DVREN_IFACE_FIELD)) return &mock_field;
    return NULL;
}

static const dvren_plugin_desc mock_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "mock_badsource",
    .version = 1u << 16,
    .summary = "a field whose device source does not compile",
    .device_source = mock_badsource_text,
    .device_source_file = "mock_badsource_device.h",
    .get_interface = mock_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 1, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
