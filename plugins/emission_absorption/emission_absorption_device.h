/* plugins/emission_absorption/emission_absorption_device.h - per-sample code
 * of the "emission_absorption" shader (single source: C and NVRTC).
 *
 * Classification (field channels -> density sigma, colour) in one of two modes:
 *   channels:           sigma = sigma_scale * act(ch[density_channel]),
 *                       colour = cact(ch[color_channel .. +2]);
 *                       act = relu (Plenoxels), softplus or exp (NeRF variants);
 *                       cact = clamp to [0, 1] or sigmoid (NeRF's colour head).
 *   transfer_function:  s = ch[scalar_channel]; sigma = sigma_scale * opacity(s),
 *                       colour = color(s), both piecewise linear over control
 *                       points (the 1-D transfer functions of scientific
 *                       volume rendering, Levoy 1988; Ljung et al., "State of
 *                       the art in transfer functions", EG STAR 2016). The
 *                       control points' values live in two buffers (opacity
 *                       (n,), colour (n, 3)), so they can be trained; their
 *                       positions are fixed.
 * Opacity per step (transfer_function mode, opacity "per_step"): the
 * transfer function gives the opacity alpha of one reference step dt0 (the
 * plugin's reference_step, or 0: of each sample's own segment dt), as
 * scientific volume renderers define it, and the density is
 * sigma = sigma_scale * -ln(1 - alpha) / dt0, which composites a segment of
 * length dt as alpha' = 1 - (1 - alpha)^(dt / dt0) (opacity correction;
 * Engel et al., "Real-Time Volume Graphics", 2006, eq. 1.13): the image then
 * does not depend on the step. alpha is capped at 1 - 1e-6. This is
 * density_dt (plugin ABI 1.2), which receives dt.
 * Optional gradient shading (Levoy, "Display of surfaces from volume data",
 * IEEE CG&A 1988): normal n = -grad/|grad|, colour *= ambient + diffuse |n.L|,
 * plus specular |n.H|^shininess (Blinn-Phong, two-sided), white light.
 *
 * Backward: density_bwd and color_bwd add dL/dchannels (and dL/dgrad for
 * shading) and the gradients of the control point values. Derivatives at
 * kinks follow PyTorch: relu'(0) = 0, clamp passes the gradient on the
 * closed interval, |x|'(0) = 0.
 *
 * The part below the block is per precision (DVREN_PNAME):
 * emission_absorption.c includes this file once in float32 and once in
 * float64; NVRTC once. */
#ifndef EMISSION_ABSORPTION_DEVICE_H
#define EMISSION_ABSORPTION_DEVICE_H

#define EA_MAX_POINTS 64
#define EA_MODE_CHANNELS 0u
#define EA_MODE_TF 1u
#define EA_ACT_RELU 0u
#define EA_ACT_SOFTPLUS 1u
#define EA_ACT_EXP 2u
#define EA_COLOR_CLAMP 0u
#define EA_COLOR_SIGMOID 1u
#define EA_OPACITY_DENSITY 0u  /* transfer function opacity * sigma_scale is sigma */
#define EA_OPACITY_PER_STEP 1u /* opacity of one reference step (opacity correction) */
#define EA_ALPHA_MAX 0.999999f

/* JIT specialisation (GPU): per-instance constants. A channel index known
 * only at run time would make the channel array a local-memory array. */
#if defined(EA_JIT_MODE)
#define EA__MODE(P) EA_JIT_MODE
#define EA__ACTIVATION(P) EA_JIT_ACTIVATION
#define EA__COLOR_ACT(P) EA_JIT_COLOR_ACTIVATION
#define EA__SHADING(P) EA_JIT_SHADING
#define EA__DENSITY_CH(P) EA_JIT_DENSITY_CHANNEL
#define EA__COLOR_CH(P) EA_JIT_COLOR_CHANNEL
#define EA__SCALAR_CH(P) EA_JIT_SCALAR_CHANNEL
#define EA__OPACITY(P) EA_JIT_OPACITY
#else
#define EA__MODE(P) ((P)->mode)
#define EA__ACTIVATION(P) ((P)->activation)
#define EA__COLOR_ACT(P) ((P)->color_activation)
#define EA__SHADING(P) ((P)->shading)
#define EA__DENSITY_CH(P) ((P)->density_channel)
#define EA__COLOR_CH(P) ((P)->color_channel)
#define EA__SCALAR_CH(P) ((P)->scalar_channel)
#define EA__OPACITY(P) ((P)->opacity_mode)
#endif

typedef struct ea_block {
    uint32_t mode;
    uint32_t density_channel, color_channel, scalar_channel;
    uint32_t activation;
    uint32_t color_activation;
    float sigma_scale;       /* 1/world unit */
    uint32_t shading;
    uint32_t headlight;      /* 1: light comes from the camera (L = -dir) */
    float light_dir[3];      /* unit, from the volume toward the light */
    float ambient, diffuse, specular, shininess;
    uint32_t n_color, n_opacity;
    const float* opacity_val;     /* buffer "tf_opacity": (n_opacity,) */
    const float* color_rgb;       /* buffer "tf_color": (n_color, 3) */
    dvren_grad_ref g_opacity;     /* their gradients (backward only) */
    dvren_grad_ref g_color;
    float color_pos[EA_MAX_POINTS];
    float opacity_pos[EA_MAX_POINTS];
    uint32_t opacity_mode;        /* EA_OPACITY_* (transfer_function mode) */
    float reference_step;         /* per_step: dt0 in world units; 0: each sample's dt */
} ea_block;

#endif /* EMISSION_ABSORPTION_DEVICE_H */

/* ---- per precision ---- */

/* Piecewise-linear lookup: index i and weight w with value = v[i]*(1-w) + v[i+1]*w;
 * *slope = dw/ds (0 outside the points). Constant beyond the end points;
 * repeated positions make a step. */
DVREN_FN void DVREN_PNAME(ea_segment)(const float* pos, uint32_t n, dvren_real s, uint32_t* i, dvren_real* w,
                                      dvren_real* slope)
{
    uint32_t k;
    *i = 0;
    *w = (dvren_real)0;
    *slope = (dvren_real)0;
    if (n < 2 || !(s > (dvren_real)pos[0])) return;
    if (s >= (dvren_real)pos[n - 1]) {
        *i = n - 2;
        *w = (dvren_real)1;
        return;
    }
    for (k = 0; k + 1 < n; ++k)
        if (s >= (dvren_real)pos[k] && s < (dvren_real)pos[k + 1]) {
            dvren_real len = (dvren_real)pos[k + 1] - (dvren_real)pos[k];
            *i = k;
            *w = (s - (dvren_real)pos[k]) / len;
            *slope = (dvren_real)1 / len;
            return;
        }
}

/* The transfer function's opacity at the sample's scalar. */
DVREN_FN dvren_real DVREN_PNAME(ea_tf_opacity)(const ea_block* P, const dvren_real* ch)
{
    uint32_t i;
    dvren_real w, sl;
    if (P->n_opacity == 1) return (dvren_real)P->opacity_val[0];
    DVREN_PNAME(ea_segment)(P->opacity_pos, P->n_opacity, ch[EA__SCALAR_CH(P)], &i, &w, &sl);
    return (dvren_real)P->opacity_val[i] * ((dvren_real)1 - w) + (dvren_real)P->opacity_val[i + 1] * w;
}

DVREN_FN dvren_real DVREN_PNAME(emission_absorption_density)(const void* P_, const dvren_real* ch)
{
    const ea_block* P = (const ea_block*)P_;
    dvren_real scale = (dvren_real)P->sigma_scale;
    if (EA__MODE(P) == EA_MODE_TF) {
        return scale * DVREN_PNAME(ea_tf_opacity)(P, ch);
    } else {
        dvren_real x = ch[EA__DENSITY_CH(P)];
        if (EA__ACTIVATION(P) == EA_ACT_SOFTPLUS) return scale * dvren_softplus(x);
        if (EA__ACTIVATION(P) == EA_ACT_EXP) return scale * dvren_safe_exp(x);
        return scale * dvren_max(x, (dvren_real)0);
    }
}

/* Backward of ea_tf_opacity: g = dL/d(opacity). */
DVREN_FN void DVREN_PNAME(ea_tf_opacity_bwd)(const ea_block* P, const dvren_real* ch, dvren_real g, dvren_real* dL_dch)
{
    uint32_t i, s = EA__SCALAR_CH(P);
    dvren_real w, sl;
    if (g == (dvren_real)0) return;
    if (P->n_opacity == 1) {
        dvren_grad_add(P->g_opacity, 0, g);
        return;
    }
    DVREN_PNAME(ea_segment)(P->opacity_pos, P->n_opacity, ch[s], &i, &w, &sl);
    dL_dch[s] += g * ((dvren_real)P->opacity_val[i + 1] - (dvren_real)P->opacity_val[i]) * sl;
    if (w != (dvren_real)1) dvren_grad_add(P->g_opacity, i, g * ((dvren_real)1 - w));
    if (w != (dvren_real)0) dvren_grad_add(P->g_opacity, i + 1, g * w);
}

DVREN_FN void DVREN_PNAME(emission_absorption_density_bwd)(const void* P_, const dvren_real* ch, dvren_real dL_dsigma,
                                                           dvren_real* dL_dch)
{
    const ea_block* P = (const ea_block*)P_;
    dvren_real g = dL_dsigma * (dvren_real)P->sigma_scale;
    if (g == (dvren_real)0) return;
    if (EA__MODE(P) == EA_MODE_TF) {
        DVREN_PNAME(ea_tf_opacity_bwd)(P, ch, g, dL_dch);
    } else {
        uint32_t k = EA__DENSITY_CH(P);
        dvren_real x = ch[k];
        if (EA__ACTIVATION(P) == EA_ACT_SOFTPLUS)
            dL_dch[k] += g * dvren_sigmoid(x);
        else if (EA__ACTIVATION(P) == EA_ACT_EXP)
            dL_dch[k] += (x >= (dvren_real)-87 && x <= (dvren_real)88) ? g * dvren_safe_exp(x) : (dvren_real)0;
        else if (x > (dvren_real)0)
            dL_dch[k] += g;
    }
}

/* Density with the segment length dt (plugin ABI 1.2): the same as density()
 * except for opacity per step, sigma = sigma_scale -ln(1 - alpha) / dt0. */
DVREN_FN dvren_real DVREN_PNAME(emission_absorption_density_dt)(const void* P_, const dvren_real* ch, dvren_real dt)
{
    const ea_block* P = (const ea_block*)P_;
    if (EA__MODE(P) == EA_MODE_TF && EA__OPACITY(P) == EA_OPACITY_PER_STEP) {
        dvren_real a = dvren_clamp(DVREN_PNAME(ea_tf_opacity)(P, ch), (dvren_real)0, (dvren_real)EA_ALPHA_MAX);
        dvren_real dt0 = P->reference_step > 0.0f ? (dvren_real)P->reference_step : dt;
        return dt0 > (dvren_real)0 ? (dvren_real)P->sigma_scale * -dvren_log1p(-a) / dt0 : (dvren_real)0;
    }
    return DVREN_PNAME(emission_absorption_density)(P_, ch);
}

DVREN_FN void DVREN_PNAME(emission_absorption_density_dt_bwd)(const void* P_, const dvren_real* ch, dvren_real dt,
                                                              dvren_real dL_dsigma, dvren_real* dL_dch)
{
    const ea_block* P = (const ea_block*)P_;
    if (EA__MODE(P) == EA_MODE_TF && EA__OPACITY(P) == EA_OPACITY_PER_STEP) {
        /* dsigma/dalpha = sigma_scale / (dt0 (1 - alpha)) inside the clamp, 0 outside;
         * density_bwd's transfer-function part then applies it with scale 1 */
        dvren_real a = DVREN_PNAME(ea_tf_opacity)(P, ch);
        dvren_real dt0 = P->reference_step > 0.0f ? (dvren_real)P->reference_step : dt;
        dvren_real dsda = (a >= (dvren_real)0 && a <= (dvren_real)EA_ALPHA_MAX && dt0 > (dvren_real)0)
                              ? (dvren_real)P->sigma_scale / (dt0 * ((dvren_real)1 - a))
                              : (dvren_real)0;
        DVREN_PNAME(ea_tf_opacity_bwd)(P, ch, dL_dsigma * dsda, dL_dch);
        return;
    }
    DVREN_PNAME(emission_absorption_density_bwd)(P_, ch, dL_dsigma, dL_dch);
}

/* Colour before shading. */
DVREN_FN dvren_vec3 DVREN_PNAME(ea_base_color)(const ea_block* P, const dvren_real* ch)
{
    if (EA__MODE(P) == EA_MODE_TF) {
        uint32_t i;
        dvren_real w, sl;
        if (P->n_color == 0) return dvren_v3((dvren_real)1, (dvren_real)1, (dvren_real)1);
        if (P->n_color == 1) return dvren_v3p(P->color_rgb);
        DVREN_PNAME(ea_segment)(P->color_pos, P->n_color, ch[EA__SCALAR_CH(P)], &i, &w, &sl);
        return dvren_add3(dvren_scale3(dvren_v3p(P->color_rgb + 3 * i), (dvren_real)1 - w),
                          dvren_scale3(dvren_v3p(P->color_rgb + 3 * i + 3), w));
    } else {
        uint32_t k = EA__COLOR_CH(P);
        if (EA__COLOR_ACT(P) == EA_COLOR_SIGMOID)
            return dvren_v3(dvren_sigmoid(ch[k]), dvren_sigmoid(ch[k + 1]), dvren_sigmoid(ch[k + 2]));
        return dvren_v3(dvren_clamp(ch[k], (dvren_real)0, (dvren_real)1), dvren_clamp(ch[k + 1], (dvren_real)0, (dvren_real)1),
                        dvren_clamp(ch[k + 2], (dvren_real)0, (dvren_real)1));
    }
}

/* The light and half vectors of the shading model. */
DVREN_FN void DVREN_PNAME(ea_light)(const ea_block* P, dvren_vec3 dir, dvren_vec3* L, dvren_vec3* H)
{
    *L = P->headlight ? dvren_scale3(dir, (dvren_real)-1) : dvren_v3p(P->light_dir);
    *H = dvren_normalize3(dvren_sub3(*L, dir));
}

DVREN_FN void DVREN_PNAME(emission_absorption_color)(const void* P_, const dvren_real* ch, dvren_vec3 grad, dvren_vec3 dir,
                                                     dvren_vec3* rgb)
{
    const ea_block* P = (const ea_block*)P_;
    dvren_vec3 c = DVREN_PNAME(ea_base_color)(P, ch);
    if (EA__SHADING(P)) {
        dvren_real g = dvren_length3(grad);
        if (g > (dvren_real)1e-20f) {
            dvren_vec3 n = dvren_scale3(grad, (dvren_real)-1 / g), L, H;
            dvren_real diff, spec;
            DVREN_PNAME(ea_light)(P, dir, &L, &H);
            diff = dvren_abs(dvren_dot3(n, L));
            spec = P->specular > 0.0f ? dvren_pow(dvren_abs(dvren_dot3(n, H)), (dvren_real)P->shininess) : (dvren_real)0;
            c = dvren_scale3(c, (dvren_real)P->ambient + (dvren_real)P->diffuse * diff);
            spec *= (dvren_real)P->specular;
            c = dvren_add3(c, dvren_v3(spec, spec, spec));
        }
    }
    *rgb = c;
}

DVREN_FN dvren_real DVREN_PNAME(ea_sign)(dvren_real x)
{
    return x > (dvren_real)0 ? (dvren_real)1 : (x < (dvren_real)0 ? (dvren_real)-1 : (dvren_real)0);
}

DVREN_FN void DVREN_PNAME(emission_absorption_color_bwd)(const void* P_, const dvren_real* ch, dvren_vec3 grad,
                                                         dvren_vec3 dir, dvren_vec3 dL_drgb, dvren_real* dL_dch,
                                                         dvren_vec3* dL_dgrad)
{
    const ea_block* P = (const ea_block*)P_;
    dvren_vec3 gc = dL_drgb; /* dL/d(colour before shading) */
    *dL_dgrad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    if (EA__SHADING(P)) {
        dvren_real g = dvren_length3(grad);
        if (g > (dvren_real)1e-20f) {
            dvren_vec3 n = dvren_scale3(grad, (dvren_real)-1 / g), L, H, dn;
            dvren_vec3 c = DVREN_PNAME(ea_base_color)(P, ch);
            dvren_real nl, nh, diff, f;
            DVREN_PNAME(ea_light)(P, dir, &L, &H);
            nl = dvren_dot3(n, L);
            nh = dvren_dot3(n, H);
            diff = dvren_abs(nl);
            f = (dvren_real)P->ambient + (dvren_real)P->diffuse * diff;
            /* shaded = c f + specular |n.H|^s */
            dn = dvren_scale3(L, (dvren_real)P->diffuse * dvren_dot3(dL_drgb, c) * DVREN_PNAME(ea_sign)(nl));
            if (P->specular > 0.0f && nh != (dvren_real)0) {
                dvren_real s = (dvren_real)P->shininess;
                dvren_real ds = (dvren_real)P->specular * (dL_drgb.x + dL_drgb.y + dL_drgb.z) * s *
                                dvren_pow(dvren_abs(nh), s - (dvren_real)1) * DVREN_PNAME(ea_sign)(nh);
                dn = dvren_madd3(dn, H, ds);
            }
            /* n = -grad/|grad|: dL/dgrad = -(dn - (dn.u) u) / |grad| with u = grad/|grad| = -n */
            *dL_dgrad = dvren_scale3(dvren_sub3(dn, dvren_scale3(n, dvren_dot3(dn, n))), (dvren_real)-1 / g);
            gc = dvren_scale3(dL_drgb, f);
        }
    }
    if (EA__MODE(P) == EA_MODE_TF) {
        uint32_t i, s = EA__SCALAR_CH(P);
        dvren_real w, sl;
        if (P->n_color == 0) return;
        if (P->n_color == 1) {
            dvren_grad_add(P->g_color, 0, gc.x);
            dvren_grad_add(P->g_color, 1, gc.y);
            dvren_grad_add(P->g_color, 2, gc.z);
            return;
        }
        DVREN_PNAME(ea_segment)(P->color_pos, P->n_color, ch[s], &i, &w, &sl);
        dL_dch[s] += dvren_dot3(gc, dvren_sub3(dvren_v3p(P->color_rgb + 3 * i + 3), dvren_v3p(P->color_rgb + 3 * i))) * sl;
        if (w != (dvren_real)1) {
            dvren_grad_add(P->g_color, 3 * i + 0, gc.x * ((dvren_real)1 - w));
            dvren_grad_add(P->g_color, 3 * i + 1, gc.y * ((dvren_real)1 - w));
            dvren_grad_add(P->g_color, 3 * i + 2, gc.z * ((dvren_real)1 - w));
        }
        if (w != (dvren_real)0) {
            dvren_grad_add(P->g_color, 3 * i + 3, gc.x * w);
            dvren_grad_add(P->g_color, 3 * i + 4, gc.y * w);
            dvren_grad_add(P->g_color, 3 * i + 5, gc.z * w);
        }
    } else {
        uint32_t k = EA__COLOR_CH(P), j;
        dvren_real gg[3];
        gg[0] = gc.x;
        gg[1] = gc.y;
        gg[2] = gc.z;
        for (j = 0; j < 3; ++j) {
            dvren_real x = ch[k + j];
            if (EA__COLOR_ACT(P) == EA_COLOR_SIGMOID) {
                dvren_real sg = dvren_sigmoid(x);
                dL_dch[k + j] += gg[j] * sg * ((dvren_real)1 - sg);
            } else if (x >= (dvren_real)0 && x <= (dvren_real)1) {
                dL_dch[k + j] += gg[j];
            }
        }
    }
}
