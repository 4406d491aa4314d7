/* plugins/dda/dda.c - host side of the "dda" sampler: exact traversal of
 * the field's cells, each a surface candidate (dda_device.h; docs/blocks.md). */
#include "dvren.h"
/* the per-sample code twice: float32 (rendering) and float64 (gradient checks) */
#include "dda_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include "dda_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32

#include <string.h>

static dvren_status dda_create(const dvren_host* h, const dvren_params* p, void** out)
{
    dda_block* b = (dda_block*)h->alloc(h, sizeof *b);
    (void)p;
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(b, 0, sizeof *b);
    *out = b;
    return DVREN_OK;
}

static void dda_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(dda_block)); }

static dvren_status dda_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = sizeof(dda_block);
    return DVREN_OK;
}

static dvren_status dda_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(dda_block));
    return DVREN_OK;
}

static const dvren_instance_iface dda_inst = {.struct_size = sizeof(dvren_instance_iface), .create = dda_create,
                                              .destroy = dda_destroy, .describe = dda_describe, .bind = dda_bind};
static const dvren_sampler_iface dda_sampler = {.struct_size = sizeof(dvren_sampler_iface),
                                                DVREN_ENTRY2(begin, dda_begin), DVREN_ENTRY2(next, dda_next),
                                                DVREN_ENTRY2(surface, dda_surface)};

DVREN_PLUGIN_INTERFACES(dda_get_interface, dda_inst, DVREN_IFACE_SAMPLER, dda_sampler)

static const dvren_plugin_desc dda_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SAMPLER,
    .name = "dda",
    .version = (1u << 16) | 0u,
    .summary = "exact cell-by-cell traversal of the field's lattice (Amanatides-Woo 3-D DDA); first solid cell is an opaque surface",
    .params = NULL,
    .param_count = 0,
    .device_source_file = "dda_device.h",
    .get_interface = dda_get_interface,
};

DVREN_PLUGIN_LIBRARY(&dda_desc)
