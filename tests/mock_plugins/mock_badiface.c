/* tests/mock_plugins/mock_badiface.c - a field plugin "mock_badiface" with a
 * complete "dvren.instance/1" interface whose get_interface returns NULL for
 * "dvren.field/1", the interface every field must provide. The host must
 * refuse the library at load time with DVREN_ERROR_PLUGIN naming the
 * plugin and "dvren.field/1". */
#include "dvren.h"

#include <string.h>

static dvren_status mock_create(const dvren_host* h, const dvren_params* p, void** out)
{
    (void)p;
    *out = NULL;
    return h->fail(h, DVREN_ERROR_INTERNAL, NULL, "must never be created");
}
static void mock_destroy(const dvren_host* h, void* inst)
{
    (void)h;
    (void)inst;
}
static dvren_status mock_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    (void)info;
    return DVREN_ERROR_INTERNAL;
}
static dvren_status mock_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    (void)block;
    return DVREN_ERROR_INTERNAL;
}

static const dvren_instance_iface mock_inst = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = mock_create,
    .destroy = mock_destroy,
    .describe = mock_describe,
    .bind = mock_bind,
};

static const void* mock_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &mock_inst;
    return NULL; /* no DVREN_IFACE_FIELD */
}

static const dvren_plugin_desc mock_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "mock_badiface",
    .version = (1u << 16) | 0u,
    .summary = "test mock: a field without the field interface",
    .get_interface = mock_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 1, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
