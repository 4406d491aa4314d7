/* plugins/emission_absorption/emission_absorption_device.h - per-sample code
 * of the "emission_absorption" shader (single source: C and NVRTC).
 *
 * Classification (field channels -> density sigma, colour) in one of two modes:
 *   channels:           sigma = sigma_scale * act(ch[density_channel]),
 *                       colour = clamp(ch[color_channel .. +2], 0, 1);
 *                       act = relu (Plenoxels), softplus or exp (NeRF variants).
 *   transfer_function:  s = ch[scalar_channel]; sigma = sigma_scale * opacity(s),
 *                       colour = color(s), both piecewise linear over control
 *                       points (the 1-D transfer functions of scientific
 *                       volume rendering, Levoy 1988; Ljung et al., "State of
 *                       the art in transfer functions", EG STAR 2016).
 * Optional gradient shading (Levoy, "Display of surfaces from volume data",
 * IEEE CG&A 1988): normal n = -grad/|grad|, colour *= ambient + diffuse |n.L|,
 * plus specular |n.H|^shininess (Blinn-Phong, two-sided), white light. */
#ifndef EMISSION_ABSORPTION_DEVICE_H
#define EMISSION_ABSORPTION_DEVICE_H

#define EA_MAX_POINTS 64
#define EA_MODE_CHANNELS 0u
#define EA_MODE_TF 1u
#define EA_ACT_RELU 0u
#define EA_ACT_SOFTPLUS 1u
#define EA_ACT_EXP 2u

/* JIT specialisation (GPU): per-instance constants. A channel index known
 * only at run time would make the channel array a local-memory array. */
#if defined(EA_JIT_MODE)
#define EA__MODE(P) EA_JIT_MODE
#define EA__ACTIVATION(P) EA_JIT_ACTIVATION
#define EA__SHADING(P) EA_JIT_SHADING
#define EA__DENSITY_CH(P) EA_JIT_DENSITY_CHANNEL
#define EA__COLOR_CH(P) EA_JIT_COLOR_CHANNEL
#define EA__SCALAR_CH(P) EA_JIT_SCALAR_CHANNEL
#else
#define EA__MODE(P) ((P)->mode)
#define EA__ACTIVATION(P) ((P)->activation)
#define EA__SHADING(P) ((P)->shading)
#define EA__DENSITY_CH(P) ((P)->density_channel)
#define EA__COLOR_CH(P) ((P)->color_channel)
#define EA__SCALAR_CH(P) ((P)->scalar_channel)
#endif

typedef struct ea_block {
    uint32_t mode;
    uint32_t density_channel, color_channel, scalar_channel;
    uint32_t activation;
    float sigma_scale;       /* 1/world unit */
    uint32_t shading;
    uint32_t headlight;      /* 1: light comes from the camera (L = -dir) */
    float light_dir[3];      /* unit, from the volume toward the light */
    float ambient, diffuse, specular, shininess;
    uint32_t n_color, n_opacity;
    float color_pos[EA_MAX_POINTS];
    float color_rgb[3 * EA_MAX_POINTS];
    float opacity_pos[EA_MAX_POINTS];
    float opacity_val[EA_MAX_POINTS];
} ea_block;

/* Piecewise-linear lookup: index i and weight w with value = v[i]*(1-w) + v[i+1]*w.
 * Constant beyond the end points; repeated positions make a step. */
DVREN_FN void ea_segment(const float* pos, uint32_t n, float s, uint32_t* i, float* w)
{
    uint32_t k;
    *i = 0;
    *w = 0.0f;
    if (n < 2 || !(s > pos[0])) return;
    if (s >= pos[n - 1]) {
        *i = n - 2;
        *w = 1.0f;
        return;
    }
    for (k = 0; k + 1 < n; ++k)
        if (s >= pos[k] && s < pos[k + 1]) {
            *i = k;
            *w = (s - pos[k]) / (pos[k + 1] - pos[k]);
            return;
        }
}

DVREN_FN float emission_absorption_density(const void* P_, const float* ch)
{
    const ea_block* P = (const ea_block*)P_;
    if (EA__MODE(P) == EA_MODE_TF) {
        uint32_t i;
        float w, a;
        if (P->n_opacity == 1) return P->sigma_scale * P->opacity_val[0];
        ea_segment(P->opacity_pos, P->n_opacity, ch[EA__SCALAR_CH(P)], &i, &w);
        a = P->opacity_val[i] * (1.0f - w) + P->opacity_val[i + 1] * w;
        return P->sigma_scale * a;
    } else {
        float x = ch[EA__DENSITY_CH(P)];
        if (EA__ACTIVATION(P) == EA_ACT_SOFTPLUS) return P->sigma_scale * dvren_softplusf(x);
        if (EA__ACTIVATION(P) == EA_ACT_EXP) return P->sigma_scale * dvren_safe_expf(x);
        return P->sigma_scale * dvren_maxf(x, 0.0f);
    }
}

DVREN_FN void emission_absorption_color(const void* P_, const float* ch, dvren_float3 grad, dvren_float3 dir,
                                        dvren_float3* rgb)
{
    const ea_block* P = (const ea_block*)P_;
    dvren_float3 c;
    if (EA__MODE(P) == EA_MODE_TF) {
        if (P->n_color == 0) {
            c = dvren_f3(1.0f, 1.0f, 1.0f);
        } else if (P->n_color == 1) {
            c = dvren_f3v(P->color_rgb);
        } else {
            uint32_t i;
            float w;
            ea_segment(P->color_pos, P->n_color, ch[EA__SCALAR_CH(P)], &i, &w);
            c = dvren_add3(dvren_scale3(dvren_f3v(P->color_rgb + 3 * i), 1.0f - w),
                           dvren_scale3(dvren_f3v(P->color_rgb + 3 * i + 3), w));
        }
    } else {
        uint32_t k = EA__COLOR_CH(P);
        c = dvren_f3(dvren_clampf(ch[k], 0.0f, 1.0f), dvren_clampf(ch[k + 1], 0.0f, 1.0f),
                     dvren_clampf(ch[k + 2], 0.0f, 1.0f));
    }
    if (EA__SHADING(P)) {
        float g = dvren_length3(grad);
        if (g > 1e-20f) {
            dvren_float3 n = dvren_scale3(grad, -1.0f / g);
            dvren_float3 L = P->headlight ? dvren_scale3(dir, -1.0f) : dvren_f3v(P->light_dir);
            dvren_float3 H = dvren_normalize3(dvren_sub3(L, dir));
            float diff = dvren_absf(dvren_dot3(n, L));
            float spec = P->specular > 0.0f ? powf(dvren_absf(dvren_dot3(n, H)), P->shininess) : 0.0f;
            c = dvren_scale3(c, P->ambient + P->diffuse * diff);
            c = dvren_add3(c, dvren_f3(P->specular * spec, P->specular * spec, P->specular * spec));
        }
    }
    *rgb = c;
}

#endif
