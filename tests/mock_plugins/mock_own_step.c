/* tests/mock_plugins/mock_own_step.c - a sampler written as the plugin ABI
 * 1.1 documentation taught, built against the current dvren.h: its own
 * "step" parameter (default 0.2 world units) used when the plan asks for
 * nothing, and its own early-termination threshold reported by describe()
 * (min_transmittance 0.5). test_plugin_abi checks that the host still
 * honours both where the plan leaves them to the defaults, so outside
 * authors' samplers render the same images after the plan took ownership
 * of the march budget (issue 9), and that the plan's values win when given.
 * CPU only: it has no device source. */
#include "dvren.h"

#include <math.h>
#include <string.h>

typedef struct own_step_block {
    float step;
} own_step_block;

/* state: f[0] t0, f[1] step; u[0] next sample, u[1] count */
static void own_step_begin(const void* block, const dvren_march_budget* budget, dvren_float3 o, dvren_float3 d, float t0,
                           float t1, dvren_rng* rng, dvren_sampler_state* s)
{
    const own_step_block* B = (const own_step_block*)block;
    float h = budget->step_world > 0.0f ? budget->step_world : B->step; /* 1.1: 0 means "your own" */
    uint32_t n = budget->samples_per_ray ? budget->samples_per_ray : (uint32_t)ceilf((t1 - t0) / h - 1e-3f);
    (void)o;
    (void)d;
    (void)rng;
    s->f[0] = t0;
    s->f[1] = (t1 - t0) / (float)n;
    s->u[0] = 0;
    s->u[1] = n;
}

static int own_step_next(const void* block, dvren_sampler_state* s, float* t, float* dt)
{
    (void)block;
    if (s->u[0] >= s->u[1]) return 0;
    *t = s->f[0] + ((float)s->u[0] + 0.5f) * s->f[1];
    *dt = s->f[1];
    s->u[0]++;
    return 1;
}

static const dvren_param_desc own_step_params[] = {
    {.struct_size = sizeof(dvren_param_desc), .type = DVREN_PARAM_FLOAT, .name = "step", .doc = "step", .unit = "",
     .default_number = 0.2},
};

static dvren_status own_step_create(const dvren_host* h, const dvren_params* p, void** out)
{
    own_step_block* b = (own_step_block*)h->alloc(h, sizeof *b);
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    b->step = (float)h->param_number(p, "step");
    *out = b;
    return DVREN_OK;
}
static void own_step_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(own_step_block)); }
static dvren_status own_step_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = sizeof(own_step_block);
    info->min_transmittance = 0.5f;
    return DVREN_OK;
}
static dvren_status own_step_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(own_step_block));
    return DVREN_OK;
}

static const dvren_instance_iface own_step_inst = {.struct_size = sizeof(dvren_instance_iface), .create = own_step_create,
                                                   .destroy = own_step_destroy, .describe = own_step_describe,
                                                   .bind = own_step_bind};
static const dvren_sampler_iface own_step_sampler = {.struct_size = sizeof(dvren_sampler_iface),
                                                     .begin_name = "own_step_begin", .next_name = "own_step_next",
                                                     .begin = own_step_begin, .next = own_step_next};

static const void* own_step_get_interface(const char* id)
{
    if (strcmp(id, DVREN_IFACE_INSTANCE) == 0) return &own_step_inst;
    if (strcmp(id, DVREN_IFACE_SAMPLER) == 0) return &own_step_sampler;
    return NULL;
}

static const dvren_plugin_desc own_step_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SAMPLER,
    .name = "mock_own_step",
    .version = (1u << 16) | 0u,
    .summary = "a sampler in the style of ABI 1.1: its own step and threshold",
    .params = own_step_params,
    .param_count = 1,
    .get_interface = own_step_get_interface,
};

DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)
{
    static const dvren_plugin_desc* const list[] = {&own_step_desc};
    static const dvren_plugin_table table = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION, 1, list};
    return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table : NULL;
}
