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

/* The march budget (step or samples per ray) and the early-termination
 * threshold belong to the plan (dvren_plan_desc); the sampler only decides
 * where within each step its sample sits. */
static const dvren_param_desc uniform_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_BOOL, .name = "jitter", .default_number = 1,
                .doc = "offset each ray's samples by one random fraction of a step (fine noise instead of wood-grain bands)",
                .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "max_samples",
                .doc = "most samples per ray; longer rays are sampled evenly with this many", .unit = "",
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .default_number = 65536, .min_value = 1,
                .max_value = 1 << 24),
};

static dvren_status uniform_create(const dvren_host* h, const dvren_params* p, void** out)
{
    uniform_block* u = (uniform_block*)h->alloc(h, sizeof *u);
    if (!u) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(u, 0, sizeof *u);
    u->jitter = h->param_number(p, "jitter") != 0.0;
    u->max_samples = (uint32_t)h->param_number(p, "max_samples");
    *out = u;
    return DVREN_OK;
}

static void uniform_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(uniform_block)); }

static dvren_status uniform_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = sizeof(uniform_block);
    return DVREN_OK;
}

static dvren_status uniform_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(uniform_block));
    return DVREN_OK;
}

static const dvren_instance_iface uniform_inst = {.struct_size = sizeof(dvren_instance_iface), .create = uniform_create,
                                                  .destroy = uniform_destroy, .describe = uniform_describe,
                                                  .bind = uniform_bind};
static const dvren_sampler_iface uniform_sampler = {.struct_size = sizeof(dvren_sampler_iface),
                                                    DVREN_ENTRY2(begin, uniform_begin), DVREN_ENTRY2(next, uniform_next)};

DVREN_PLUGIN_INTERFACES(uniform_get_interface, uniform_inst, DVREN_IFACE_SAMPLER, uniform_sampler)

static const dvren_plugin_desc uniform_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SAMPLER,
    .name = "uniform",
    .version = (2u << 16) | 0u, /* 2.0: step, samples and min_transmittance moved to the plan */
    .summary = "equal steps (or a fixed count) through the field's box, optional jitter, early ray termination",
    .params = uniform_params,
    .param_count = sizeof uniform_params / sizeof uniform_params[0],
    .device_source_file = "uniform_device.h",
    .get_interface = uniform_get_interface,
};

DVREN_PLUGIN_LIBRARY(&uniform_desc)
