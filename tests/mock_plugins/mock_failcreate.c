/* tests/mock_plugins/mock_failcreate.c - a field plugin "mock_failcreate"
 * whose create() fails through the host the way a plugin reports a bad
 * file: host->fail(host, DVREN_ERROR_FORMAT, "a hint", "cannot parse %s",
 * "x"). dvren_stage_create must return DVREN_ERROR_FORMAT with the last
 * error "mock_failcreate: cannot parse x (hint: a hint)". It allocates a
 * scratch block first and frees it before failing (no leak for the
 * sanitizer pass to find). */
#include "dvren.h"

#include <string.h>

static void mock_eval(const void* block, dvren_float3 p, float* out)
{
    (void)block;
    (void)p;
    out[0] = 0.0f;
}

static dvren_status mock_create(const dvren_host* h, const dvren_params* p, void** out)
{
    void* scratch = h->alloc(h, 64);
    (void)p;
    *out = NULL;
    h->free(h, scratch, 64);
    return h->fail(h, DVREN_ERROR_FORMAT, "a hint", "cannot parse %s", "x");
}
static void mock_destroy(const dvren_host* h, void* inst)
{
    (void)h;
    (void)inst;
}
static dvren_status mock_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)inst;
    (void)info;
    return h->fail(h, DVREN_ERROR_INTERNAL, NULL, "describe() of an instance never created");
}
static dvren_status mock_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)inst;
    (void)buffers;
    (void)block;
    return h->fail(h, DVREN_ERROR_INTERNAL, NULL, "bind() of an instance never created");
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
    .name = "mock_failcreate",
    .version = (1u << 16) | 0u,
    .summary = "test mock: create() always fails with a FORMAT error",
    .get_interface = mock_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 1, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
