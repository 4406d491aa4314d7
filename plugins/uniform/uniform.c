/* plugins/uniform/uniform.c - host side of the "uniform" sampler. */
#include "dvren.h"
/* the per-sample code twice: float32 (rendering) and float64 (gradient checks) */
#include "uniform_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include "uniform_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32

#include <string.h>

static const dvren_param_desc uniform_params[] = {
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_FLOAT, .name = "step",
     .doc = "step between samples; 0: use 'samples', else half the field's voxel", .unit = "world units",
     .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0},
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_INT, .name = "samples",
     .doc = "samples per ray over the field's box (overrides 'step'); 0: use 'step'", .unit = "",
     .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .min_value = 0, .max_value = 1 << 20},
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_BOOL, .name = "jitter",
     .doc = "offset each ray's samples by one random fraction of a step (removes banding)", .unit = ""},
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_FLOAT, .name = "min_transmittance",
     .doc = "early ray termination: stop once transmittance falls below this; 0: never", .unit = "",
     .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .default_number = 1e-4, .min_value = 0.0, .max_value = 0.5},
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_INT, .name = "max_samples",
     .doc = "most samples per ray; longer rays are sampled evenly with this many", .unit = "",
     .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .default_number = 65536, .min_value = 1, .max_value = 1 << 24},
};

typedef struct uniform_instance {
    uniform_block block;
    float min_transmittance;
} uniform_instance;

static dvren_status uniform_create(const dvren_host* h, const dvren_params* p, void** out)
{
    uniform_instance* u = (uniform_instance*)h->alloc(h, sizeof *u);
    if (!u) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(u, 0, sizeof *u);
    u->block.step_world = (float)h->param_number(p, "step");
    u->block.samples = (uint32_t)h->param_number(p, "samples");
    u->block.jitter = h->param_number(p, "jitter") != 0.0;
    u->block.max_samples = (uint32_t)h->param_number(p, "max_samples");
    u->min_transmittance = (float)h->param_number(p, "min_transmittance");
    *out = u;
    return DVREN_OK;
}

static void uniform_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(uniform_instance)); }

static dvren_status uniform_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    info->block_size = sizeof(uniform_block);
    info->min_transmittance = ((uniform_instance*)inst)->min_transmittance;
    return DVREN_OK;
}

static dvren_status uniform_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, &((uniform_instance*)inst)->block, sizeof(uniform_block));
    return DVREN_OK;
}

static const dvren_instance_iface uniform_inst = {.struct_size = sizeof(dvren_instance_iface), .create = uniform_create,
                                                  .destroy = uniform_destroy, .describe = uniform_describe,
                                                  .bind = uniform_bind};
static const dvren_sampler_iface uniform_sampler = {.struct_size = sizeof(dvren_sampler_iface),
                                                    .begin_name = "uniform_begin", .next_name = "uniform_next",
                                                    .begin = uniform_begin, .next = uniform_next,
                                                    .begin_f64 = uniform_begin_f64, .next_f64 = uniform_next_f64};

static const void* uniform_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &uniform_inst;
    if (strcmp(id, DVREN_IFACE_SAMPLER) == 0) return &uniform_sampler;
    return NULL;
}

static const dvren_plugin_desc uniform_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SAMPLER,
    .name = "uniform",
    .version = (1u << 16) | 1u,
    .summary = "equal steps (or a fixed count) through the field's box, optional jitter, early ray termination",
    .params = uniform_params,
    .param_count = sizeof uniform_params / sizeof uniform_params[0],
    .device_source_file = "uniform_device.h",
    .get_interface = uniform_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&uniform_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 1, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
