/* tests/mock_plugins/mock_old.c - a field plugin as if built against an
 * OLDER minor version of the plugin ABI (the oldest one the host accepts).
 *
 * Field "mock_old": constant density (float parameter 'density', default
 * 0.75, >= 0) in 1 channel inside [-1,1]^3, voxel_world 0.25.
 *
 * What makes it "old":
 *   - every struct it hands over declares the size of the ABI 1.0 struct, up
 *     to and including its last 1.0 member: the table up to 'plugins', the
 *     descriptor up to 'get_interface', the interfaces up to 'bind' and
 *     'eval', the parameter desc up to 'stride' (which is 4 bytes smaller
 *     than sizeof(dvren_param_desc) on LP64: no tail padding);
 *   - each of those structs sits in a bigger local struct whose tail holds
 *     garbage (pointers and counts that crash or mislead if read). For an
 *     old plugin, what lies past its struct_size is whatever came next in
 *     its memory: a host that reads members it has appended since must check
 *     struct_size first (DVREN_HAS_FIELD). Today's ABI 1.0 host knows no
 *     member past these sizes, so this guards the rule for the next minor;
 *   - describe() writes only the dvren_instance_info members it knows
 *     (those up to voxel_world), each after checking that the host's
 *     info->struct_size covers it: voxel_size and the shader and sampler
 *     members stay as the host left them (zero).
 *
 * It must still load, create and render. CPU only: no device source. */
#include "dvren.h"

#include <stddef.h>
#include <string.h>

/* ABI 1.0 sizes: up to and including the last member the old header had. */
#define OLD_SIZE(T, last) ((uint32_t)(offsetof(T, last) + sizeof(((T*)0)->last)))
/* Garbage after each struct: a wild pointer as integer (crashes if followed). */
#define JUNK ((uintptr_t)0xDEADBEEFDEADBEEFull)

typedef struct mock_old_block {
    float density;
} mock_old_block;

static void mock_old_eval(const void* block, dvren_float3 p, float* out)
{
    (void)p;
    out[0] = ((const mock_old_block*)block)->density;
}

/* One parameter: its struct_size only covers the members up to 'stride', so
 * a table of several would be misaligned; an old header's struct would have
 * been padded to sizeof, which the host steps by just as well. */
static const struct {
    dvren_param_desc p;
    uintptr_t future[4];
} mock_old_param = {
    .p = {.struct_size = OLD_SIZE(dvren_param_desc, stride), .type = DVREN_PARAM_FLOAT, .name = "density",
          .doc = "constant density inside the box", .unit = "1/world unit", .flags = DVREN_PARAM_HAS_MIN,
          .default_number = 0.75, .min_value = 0.0},
    .future = {JUNK, JUNK, JUNK, JUNK},
};

static dvren_status mock_old_create(const dvren_host* h, const dvren_params* p, void** out)
{
    mock_old_block* b;
    /* an old plugin uses only the host services its header had (all of ABI 1.0) */
    if (!DVREN_HAS_FIELD(h, dvren_host, param_number)) return DVREN_ERROR_PLUGIN;
    b = (mock_old_block*)h->alloc(h, sizeof *b);
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    b->density = (float)h->param_number(p, "density");
    *out = b;
    return DVREN_OK;
}

static void mock_old_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(mock_old_block)); }

static dvren_status mock_old_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    int a;
    (void)inst;
    if (!DVREN_HAS_FIELD(info, dvren_instance_info, voxel_world))
        return h->fail(h, DVREN_ERROR_PLUGIN, NULL, "the host's dvren_instance_info is too small");
    info->block_size = sizeof(mock_old_block);
    info->channels = 1;
    for (a = 0; a < 3; ++a) {
        info->bounds_min[a] = -1.0f;
        info->bounds_max[a] = 1.0f;
    }
    info->voxel_world = 0.25f;
    /* voxel_size, channels_used, ... are newer than this plugin: untouched */
    return DVREN_OK;
}

static dvren_status mock_old_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(mock_old_block));
    return DVREN_OK;
}

static const struct {
    dvren_instance_iface i;
    uintptr_t future[4];
} mock_old_inst = {
    .i = {.struct_size = OLD_SIZE(dvren_instance_iface, bind), .create = mock_old_create,
          .destroy = mock_old_destroy, .describe = mock_old_describe, .bind = mock_old_bind},
    .future = {JUNK, JUNK, JUNK, JUNK},
};

static const struct {
    dvren_field_iface f;
    uintptr_t future[4];
} mock_old_field = {
    .f = {.struct_size = OLD_SIZE(dvren_field_iface, eval), .eval_name = "mock_old_eval", .eval = mock_old_eval},
    .future = {JUNK, JUNK, JUNK, JUNK},
};

static const void* mock_old_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &mock_old_inst.i;
    if (strcmp(id, DVREN_IFACE_FIELD) == 0) return &mock_old_field.f;
    return NULL;
}

static const struct {
    dvren_plugin_desc d;
    uintptr_t future[4];
} mock_old_desc = {
    .d = {.struct_size = OLD_SIZE(dvren_plugin_desc, get_interface), .kind = DVREN_PLUGIN_FIELD,
          .name = "mock_old", .version = (0u << 16) | 9u, .summary = "test mock: a plugin built against ABI 1.0",
          .params = &mock_old_param.p, .param_count = 1, .get_interface = mock_old_get_interface},
    .future = {JUNK, JUNK, JUNK, JUNK},
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&mock_old_desc.d};
    static const struct {
        dvren_plugin_table t;
        uintptr_t future[4];
    } table = {
        .t = {.struct_size = OLD_SIZE(dvren_plugin_table, plugins), .abi_version = (1u << 16) | 0u, .count = 1,
              .plugins = list},
        .future = {JUNK, JUNK, JUNK, JUNK},
    };
    return (host_abi_version >> 16) == 1u ? &table.t : NULL;
}
