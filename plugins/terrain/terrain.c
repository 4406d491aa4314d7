/* plugins/terrain/terrain.c - host side of the "terrain" shader: the faces
 * of a block world lit by a sun, ambient light and per-face shade factors,
 * with optional fog (terrain_device.h; the formula is docs/blocks.md). */
#include "dvren.h"
/* the per-sample code twice: float32 (rendering) and float64 (gradient checks) */
#include "terrain_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include "terrain_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32

#include <math.h>
#include <string.h>

static const double terrain_sun_dir[3] = {0.4, 1.0, 0.3};
static const double terrain_sun_color[3] = {0.6, 0.6, 0.6};
static const double terrain_ambient[3] = {0.4, 0.4, 0.4};
static const double terrain_face_shade[6] = {0.8, 0.8, 1.0, 0.5, 0.6, 0.6};
static const double terrain_fog_color[3] = {0.7, 0.8, 1.0};

#define TERRAIN_RGB(nm, def, text)                                                                                     \
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = nm, .count_min = 3, .count_max = 3, .flags = DVREN_PARAM_HAS_MIN,  \
                .min_value = 0, .default_numbers = def, .default_count = 3, .doc = text, .unit = "linear RGB")

static const dvren_param_desc terrain_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "sun_direction", .count_min = 3, .count_max = 3,
                .default_numbers = terrain_sun_dir, .default_count = 3,
                .doc = "direction towards the sun (world, y up; normalised, must not be zero)", .unit = ""),
    TERRAIN_RGB("sun_color", terrain_sun_color, "sunlight, scaled by max(0, n . L)"),
    TERRAIN_RGB("ambient", terrain_ambient, "ambient light"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "face_shade", .count_min = 6, .count_max = 6,
                .flags = DVREN_PARAM_HAS_MIN, .min_value = 0, .default_numbers = terrain_face_shade, .default_count = 6,
                .doc = "shade factor per face: +x -x +y(top) -y(bottom) +z -z", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "fog_density", .default_number = 0, .flags = DVREN_PARAM_HAS_MIN,
                .min_value = 0, .doc = "exponential distance fog: fog = 1 - exp(-fog_density t); 0: none",
                .unit = "1/world unit"),
    TERRAIN_RGB("fog_color", terrain_fog_color, "colour of the fog"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "solid_density", .default_number = 1000,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE, .min_value = 0,
                .doc = "density of a solid cell for volume samplers (uniform); surfaces are opaque anyway",
                .unit = "1/world unit"),
};

static void terrain_get3(const dvren_host* h, const dvren_params* p, const char* name, float* out, uint32_t n)
{
    const double* v = NULL;
    uint32_t i, c = h->param_numbers(p, name, &v);
    for (i = 0; i < n; ++i) out[i] = i < c ? (float)v[i] : 0.0f;
}

static dvren_status terrain_create(const dvren_host* h, const dvren_params* p, void** out)
{
    terrain_block* b;
    double len;
    float L[3];
    terrain_get3(h, p, "sun_direction", L, 3);
    len = sqrt((double)L[0] * L[0] + (double)L[1] * L[1] + (double)L[2] * L[2]);
    if (!(len > 0.0) || !isfinite(len))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "give a direction such as [0.4, 1, 0.3]",
                       "parameter 'sun_direction' must be a finite non-zero vector");
    b = (terrain_block*)h->alloc(h, sizeof *b);
    if (!b) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(b, 0, sizeof *b);
    b->sun_dir[0] = (float)(L[0] / len);
    b->sun_dir[1] = (float)(L[1] / len);
    b->sun_dir[2] = (float)(L[2] / len);
    terrain_get3(h, p, "sun_color", b->sun_color, 3);
    terrain_get3(h, p, "ambient", b->ambient, 3);
    terrain_get3(h, p, "face_shade", b->face_shade, 6);
    terrain_get3(h, p, "fog_color", b->fog_color, 3);
    b->fog_density = (float)h->param_number(p, "fog_density");
    b->solid_density = (float)h->param_number(p, "solid_density");
    *out = b;
    return DVREN_OK;
}

static void terrain_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(terrain_block)); }

static dvren_status terrain_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = sizeof(terrain_block);
    info->channels_used = TERRAIN_CHANNELS;
    info->needs_gradient = 1; /* volume samplers: the face from -grad(occupancy); surfaces bring their normal */
    info->gradient_channel = 0;
    info->density_from_one_channel = 1;
    info->density_channel = 0;
    info->flat_empty_density = 1;
    return DVREN_OK;
}

static dvren_status terrain_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)buffers;
    memcpy(block, inst, sizeof(terrain_block));
    return DVREN_OK;
}

/* no buffers to train: the gradients go to the field's channels */
static dvren_status terrain_bind_gradients(const dvren_host* h, void* inst, const dvren_grad_ref* grads, void* block)
{
    (void)h;
    (void)inst;
    (void)grads;
    (void)block;
    return DVREN_OK;
}

static const dvren_instance_iface terrain_inst = {.struct_size = sizeof(dvren_instance_iface),
                                                  .create = terrain_create,
                                                  .destroy = terrain_destroy,
                                                  .describe = terrain_describe,
                                                  .bind = terrain_bind,
                                                  .bind_gradients = terrain_bind_gradients};
static const dvren_shader_iface terrain_shader = {.struct_size = sizeof(dvren_shader_iface),
                                                  DVREN_ENTRY2(density, terrain_density),
                                                  DVREN_ENTRY2(color, terrain_color),
                                                  DVREN_ENTRY2(density_bwd, terrain_density_bwd),
                                                  DVREN_ENTRY2(color_bwd, terrain_color_bwd),
                                                  DVREN_ENTRY2(surface_color, terrain_surface_color),
                                                  DVREN_ENTRY2(surface_color_bwd, terrain_surface_color_bwd)};

DVREN_PLUGIN_INTERFACES(terrain_get_interface, terrain_inst, DVREN_IFACE_SHADER, terrain_shader)

static const dvren_plugin_desc terrain_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SHADER,
    .name = "terrain",
    .version = (1u << 16) | 0u,
    .summary = "block-world faces: mixed material colour per face kind, sun + ambient + per-face shade, optional fog",
    .params = terrain_params,
    .param_count = sizeof terrain_params / sizeof terrain_params[0],
    .device_source_file = "terrain_device.h",
    .get_interface = terrain_get_interface,
};

DVREN_PLUGIN_LIBRARY(&terrain_desc)
