/* plugins/emission_absorption/emission_absorption.c - host side of the
 * "emission_absorption" shader: parameters, validation, parameter block. */
#include "dvren.h"
/* the per-sample code twice: float32 (rendering) and float64 (gradient checks) */
#include "emission_absorption_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include "emission_absorption_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32

#include <stdio.h>
#include <string.h>

static const dvren_param_desc ea_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "mode", .enum_values = "auto|channels|transfer_function", .default_string = "auto",
       .doc = "auto: transfer_function when tf_opacity is given, else channels", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "sigma_scale", .default_number = 1.0, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0,
       .doc = "density = sigma_scale * activation(raw) or sigma_scale * tf opacity", .unit = "1/world unit"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "activation", .enum_values = "relu|softplus|exp", .default_string = "relu",
       .doc = "channels mode: density activation of the raw density channel", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "density_channel", .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 0, .max_value = DVREN_MAX_CHANNELS - 1, .doc = "channels mode: channel holding raw density", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "color_channel", .default_number = 1, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 0, .max_value = DVREN_MAX_CHANNELS - 3, .doc = "channels mode: first of the three colour channels", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "color_activation", .enum_values = "clamp|sigmoid", .default_string = "clamp",
       .doc = "channels mode: colour = clamp(channel, 0, 1) or sigmoid(channel) (for fitting: no dead zones)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "scalar_channel", .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 0, .max_value = DVREN_MAX_CHANNELS - 1, .doc = "transfer_function mode: channel the transfer function reads", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "tf_opacity", .stride = 2, .count_max = 2 * EA_MAX_POINTS,
       .doc = "opacity control points [value, opacity, ...], values non-decreasing, opacity >= 0", .unit = "field value units"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "tf_color", .stride = 4, .count_max = 4 * EA_MAX_POINTS,
       .doc = "colour control points [value, r, g, b, ...], values non-decreasing; none: white", .unit = "field value units"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "opacity", .enum_values = "density|per_step", .default_string = "density",
       .doc = "transfer_function mode: tf opacity times sigma_scale is the density, or the opacity of one reference step "
              "(opacity correction: the image does not change with the step)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "reference_step", .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0,
       .doc = "opacity per_step: the step the tf opacity is for; 0: each sample's own step", .unit = "world units"),
    DVREN_PARAM(.type = DVREN_PARAM_BOOL, .name = "shading", .doc = "gradient (central difference) Lambert/Blinn-Phong shading", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "gradient_channel", .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 0, .max_value = DVREN_MAX_CHANNELS - 1,
       .doc = "shading: channel whose gradient gives the normal (default: scalar or density channel)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "light_dir", .count_min = 3, .count_max = 3,
       .doc = "shading: direction from the volume toward the light (world); none: headlight", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "ambient", .default_number = 0.3, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0,
       .doc = "shading: ambient term", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "diffuse", .default_number = 0.7, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0,
       .doc = "shading: Lambert term", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "specular", .default_number = 0.0, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0,
       .doc = "shading: Blinn-Phong specular term", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "shininess", .default_number = 32.0, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 1, .max_value = 4096, .doc = "shading: specular exponent", .unit = ""),
};

typedef struct ea_instance {
    ea_block block;
    uint32_t channels_used, gradient_channel;
    /* the control points' values: buffers "tf_opacity" (n,) and "tf_color" (n, 3), trainable */
    float opacity_val[EA_MAX_POINTS];
    float color_rgb[3 * EA_MAX_POINTS];
    dvren_buffer_desc buffers[2];
    uint32_t buffer_count;
    int buf_opacity, buf_color; /* their indices among buffers, -1 when absent */
    char jit_defines[512];      /* compile-time constants for the GPU kernel */
} ea_instance;

/* Copies control points of stride k into pos[] and vals[], checking order. */
static dvren_status ea_points(const dvren_host* h, const dvren_params* p, const char* name, uint32_t k, float* pos,
                              float* vals, uint32_t* count)
{
    const double* v;
    uint32_t n = h->param_numbers(p, name, &v) / k, i, j;
    for (i = 0; i < n; ++i) {
        if (i > 0 && v[i * k] < v[(i - 1) * k])
            return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "sort the control points by value",
                           "%s: control point %u (value %g) comes after a larger value %g", name, (unsigned)i,
                           v[i * k], v[(i - 1) * k]);
        pos[i] = (float)v[i * k];
        for (j = 1; j < k; ++j) {
            if (v[i * k + j] < 0.0)
                return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "%s: control point %u has a negative entry %g",
                               name, (unsigned)i, v[i * k + j]);
            vals[i * (k - 1) + j - 1] = (float)v[i * k + j];
        }
    }
    *count = n;
    return DVREN_OK;
}

static dvren_status ea_create(const dvren_host* h, const dvren_params* p, void** out)
{
    ea_instance* e;
    ea_block* b;
    const char* mode = h->param_string(p, "mode");
    const char* act = h->param_string(p, "activation");
    const char* cact = h->param_string(p, "color_activation");
    dvren_status s;
    e = (ea_instance*)h->alloc(h, sizeof *e);
    if (!e) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(e, 0, sizeof *e);
    b = &e->block;
    if (strcmp(mode, "auto") == 0) mode = h->param_given(p, "tf_opacity") ? "transfer_function" : "channels";
    b->mode = strcmp(mode, "transfer_function") == 0 ? EA_MODE_TF : EA_MODE_CHANNELS;
    b->activation = strcmp(act, "softplus") == 0 ? EA_ACT_SOFTPLUS : strcmp(act, "exp") == 0 ? EA_ACT_EXP : EA_ACT_RELU;
    b->color_activation = strcmp(cact, "sigmoid") == 0 ? EA_COLOR_SIGMOID : EA_COLOR_CLAMP;
    b->opacity_mode = strcmp(h->param_string(p, "opacity"), "per_step") == 0 ? EA_OPACITY_PER_STEP : EA_OPACITY_DENSITY;
    b->reference_step = (float)h->param_number(p, "reference_step");
    b->sigma_scale = (float)h->param_number(p, "sigma_scale");
    b->density_channel = (uint32_t)h->param_number(p, "density_channel");
    b->color_channel = (uint32_t)h->param_number(p, "color_channel");
    b->scalar_channel = (uint32_t)h->param_number(p, "scalar_channel");
    s = ea_points(h, p, "tf_opacity", 2, b->opacity_pos, e->opacity_val, &b->n_opacity);
    if (s == DVREN_OK) s = ea_points(h, p, "tf_color", 4, b->color_pos, e->color_rgb, &b->n_color);
    if (s != DVREN_OK) {
        h->free(h, e, sizeof *e);
        return s;
    }
    if (b->mode == EA_MODE_TF && b->n_opacity == 0) {
        h->free(h, e, sizeof *e);
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "give tf_opacity as [value, opacity, ...]",
                       "mode transfer_function needs at least one tf_opacity control point");
    }
    b->shading = h->param_number(p, "shading") != 0.0;
    b->ambient = (float)h->param_number(p, "ambient");
    b->diffuse = (float)h->param_number(p, "diffuse");
    b->specular = (float)h->param_number(p, "specular");
    b->shininess = (float)h->param_number(p, "shininess");
    b->headlight = 1;
    if (h->param_given(p, "light_dir")) {
        const double* L;
        double n;
        h->param_numbers(p, "light_dir", &L);
        n = L[0] * L[0] + L[1] * L[1] + L[2] * L[2];
        if (!(n > 0.0)) {
            h->free(h, e, sizeof *e);
            return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "light_dir is the zero vector");
        }
        n = 1.0 / sqrt(n);
        b->light_dir[0] = (float)(L[0] * n);
        b->light_dir[1] = (float)(L[1] * n);
        b->light_dir[2] = (float)(L[2] * n);
        b->headlight = 0;
    }
    if (b->mode == EA_MODE_TF) {
        e->channels_used = b->scalar_channel + 1;
        e->gradient_channel = b->scalar_channel;
    } else {
        uint32_t a = b->density_channel + 1, c = b->color_channel + 3;
        e->channels_used = a > c ? a : c;
        e->gradient_channel = b->density_channel;
    }
    if (h->param_given(p, "gradient_channel")) e->gradient_channel = (uint32_t)h->param_number(p, "gradient_channel");
    snprintf(e->jit_defines, sizeof e->jit_defines,
             "#define EA_JIT_MODE %uu\n#define EA_JIT_ACTIVATION %uu\n#define EA_JIT_COLOR_ACTIVATION %uu\n"
             "#define EA_JIT_SHADING %uu\n#define EA_JIT_DENSITY_CHANNEL %uu\n#define EA_JIT_COLOR_CHANNEL %uu\n"
             "#define EA_JIT_SCALAR_CHANNEL %uu\n#define EA_JIT_OPACITY %uu\n",
             (unsigned)b->mode, (unsigned)b->activation, (unsigned)b->color_activation, (unsigned)b->shading,
             (unsigned)b->density_channel, (unsigned)b->color_channel, (unsigned)b->scalar_channel,
             (unsigned)b->opacity_mode);
    /* transfer function values as trainable buffers (transfer_function mode only) */
    e->buf_opacity = e->buf_color = -1;
    if (b->mode == EA_MODE_TF) {
        uint32_t k;
        for (k = 0; k < 2; ++k) {
            uint32_t n = k == 0 ? b->n_opacity : b->n_color;
            dvren_buffer_desc* bd = &e->buffers[e->buffer_count];
            if (n == 0) continue;
            bd->struct_size = sizeof *bd;
            bd->flags = DVREN_BUFFER_DIFFERENTIABLE;
            bd->name = k == 0 ? "tf_opacity" : "tf_color";
            bd->tensor.data = k == 0 ? (void*)e->opacity_val : (void*)e->color_rgb;
            bd->tensor.dtype = DVREN_DTYPE_F32;
            bd->tensor.memory = DVREN_MEMORY_HOST;
            bd->tensor.ndim = k == 0 ? 1u : 2u;
            bd->tensor.shape[0] = n;
            bd->tensor.shape[1] = 3;
            bd->tensor.strides[0] = k == 0 ? 1 : 3;
            bd->tensor.strides[1] = 1;
            if (k == 0) e->buf_opacity = (int)e->buffer_count;
            else e->buf_color = (int)e->buffer_count;
            e->buffer_count++;
        }
    }
    *out = e;
    return DVREN_OK;
}

static void ea_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(ea_instance)); }

static dvren_status ea_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    const ea_instance* e = (const ea_instance*)inst;
    (void)h;
    info->block_size = sizeof(ea_block);
    info->buffer_count = e->buffer_count;
    info->buffers = e->buffers;
    info->channels_used = e->channels_used;
    info->needs_gradient = e->block.shading;
    info->gradient_channel = e->gradient_channel;
    if (DVREN_HAS_FIELD(info, dvren_instance_info, jit_defines)) info->jit_defines = e->jit_defines;
    if (DVREN_HAS_FIELD(info, dvren_instance_info, density_channel)) {
        /* density() reads one channel: the scalar (transfer function) or the raw density */
        info->density_from_one_channel = 1;
        info->density_channel = e->block.mode == EA_MODE_TF ? e->block.scalar_channel : e->block.density_channel;
    }
    /* relu and a transfer function (non-negative opacities) are flat where
     * sigma = 0; softplus and exp are never 0 */
    if (DVREN_HAS_FIELD(info, dvren_instance_info, flat_empty_density)) info->flat_empty_density = 1;
    return DVREN_OK;
}

static dvren_status ea_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    const ea_instance* e = (const ea_instance*)inst;
    ea_block* b = (ea_block*)block;
    (void)h;
    memcpy(b, &e->block, sizeof(ea_block));
    b->opacity_val = e->buf_opacity >= 0 ? (const float*)buffers[e->buf_opacity] : NULL;
    b->color_rgb = e->buf_color >= 0 ? (const float*)buffers[e->buf_color] : NULL;
    return DVREN_OK;
}

static dvren_status ea_bind_gradients(const dvren_host* h, void* inst, const dvren_grad_ref* grads, void* block)
{
    const ea_instance* e = (const ea_instance*)inst;
    ea_block* b = (ea_block*)block;
    (void)h;
    memset(&b->g_opacity, 0, sizeof b->g_opacity);
    memset(&b->g_color, 0, sizeof b->g_color);
    if (e->buf_opacity >= 0) b->g_opacity = grads[e->buf_opacity];
    if (e->buf_color >= 0) b->g_color = grads[e->buf_color];
    return DVREN_OK;
}

static const dvren_instance_iface ea_inst = {.struct_size = sizeof(dvren_instance_iface), .create = ea_create,
                                             .destroy = ea_destroy, .describe = ea_describe, .bind = ea_bind,
                                             .bind_gradients = ea_bind_gradients};
static const dvren_shader_iface ea_shader = {.struct_size = sizeof(dvren_shader_iface),
                                             DVREN_ENTRY2(density, emission_absorption_density),
                                             DVREN_ENTRY2(color, emission_absorption_color),
                                             DVREN_ENTRY2(density_bwd, emission_absorption_density_bwd),
                                             DVREN_ENTRY2(color_bwd, emission_absorption_color_bwd),
                                             DVREN_ENTRY2(density_dt, emission_absorption_density_dt),
                                             DVREN_ENTRY2(density_dt_bwd, emission_absorption_density_dt_bwd)};

DVREN_PLUGIN_INTERFACES(ea_get_interface, ea_inst, DVREN_IFACE_SHADER, ea_shader)

static const dvren_plugin_desc ea_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SHADER,
    .name = "emission_absorption",
    .version = (1u << 16) | 2u, /* 1.2: opacity per step */
    .summary = "emission-absorption classification: colour channels or a 1-D transfer function, optional gradient shading",
    .params = ea_params,
    .param_count = sizeof ea_params / sizeof ea_params[0],
    .device_source_file = "emission_absorption_device.h",
    .get_interface = ea_get_interface,
};

DVREN_PLUGIN_LIBRARY(&ea_desc)
