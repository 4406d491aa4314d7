/* kernels/dvren_march.h - the ray-march template of dvren (single source).
 *
 * Emission-absorption volume rendering, front to back, with early ray
 * termination (Max, "Optical models for direct volume rendering", IEEE TVCG
 * 1995, eq. 4-6; the quadrature of Mildenhall et al., NeRF, ECCV 2020, eq. 3):
 *
 *   alpha_i = 1 - exp(-sigma_i * dt_i)      T_i = prod_{j<i} (1 - alpha_j)
 *   C = sum_i T_i alpha_i c_i + T_n * background
 *
 * and its backward pass by replay (below, "Backward").
 *
 * The template calls one field, one shader and one sampler through binding
 * macros that the includer defines before including this file:
 *
 *   DVREN_STAGES_PARAM     extra leading parameter declaration (may be empty)
 *   DVREN_STAGES_ARG       the matching argument (may be empty)
 *   DVREN_FIELD_EVAL(P, p, out)                 void; out[0 .. channels-1]
 *   DVREN_FIELD_EVAL_CHANNEL(P, p, c)           real; channel c alone (with lazy features)
 *   DVREN_SHADER_DENSITY(P, ch, dt)             real sigma >= 0 [1/world unit]; dt: the segment length
 *   DVREN_SHADER_COLOR(P, ch, grad, dir, rgb)   void; *rgb = emitted radiance
 *   DVREN_SAMPLER_BEGIN(P, budget, o, d, t0, t1, rng, state)   void
 *   DVREN_SAMPLER_NEXT(P, state, t, dt)         int; 0 when the ray is done
 *   DVREN_SAMPLER_SURFACE(P, budget, state, o, d, hit, where)   int; 1: the sample is a surface candidate
 *   DVREN_SHADER_SURFACE_COLOR(P, ch, hit, dir, rgb)            void; *rgb = the surface's radiance
 * and, for the backward pass (only where DVREN_MARCH_BACKWARD is defined):
 *   DVREN_FIELD_EVAL_BWD(P, p, dL_dout)         void; adds to the field's gradients
 *   DVREN_SHADER_DENSITY_BWD(P, ch, dt, dL_dsigma, dL_dch)        void; dL_dch +=
 *   DVREN_SHADER_COLOR_BWD(P, ch, grad, dir, dL_drgb, dL_dch, dL_dgrad)  void; dL_dch +=, *dL_dgrad =
 *   DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, hit, dir, dL_drgb, dL_dch)    void; dL_dch +=
 *
 * Surfaces (plugin ABI 1.3; docs/blocks.md, "Surfaces in the march"): when
 * the sampler's surface() marks a sample, the field is evaluated at the
 * point `where` it gives, and if the shader's density there is > 0 the
 * sample is an opaque surface at distance t: weight w = T, then T = 0 and
 * the ray ends; its colour comes from the shader's surface colour. The
 * surface's geometry (t, normal, which samples are solid) is discrete and
 * gets no gradient; its colour's cotangent w dL/dC flows to the field's
 * channels at `where`. A binding without surfaces defines
 * DVREN_SAMPLER_SURFACE as 0.
 *
 * Precision: the per-precision part of this file is compiled in the
 * precision DVREN_PREC_BITS in force where it is included (dvren_real is
 * float or double; kernels/dvren_device.h). The CPU path includes it twice:
 * float32 for rendering, float64 for the gradient checker; NVRTC once, in
 * float32. Function and type names resolve per precision (DVREN__RN).
 *
 * The CPU path (dvren.h) binds the macros to the plugins' C functions
 * through a table of pointers; the GPU path (dvren_cuda.h) binds them to
 * direct calls of the same functions compiled by NVRTC, in one fused kernel,
 * and may fix values known per scene at compile time: DVREN_JIT_NEEDS_GRADIENT,
 * DVREN_JIT_GRADIENT_CHANNEL, DVREN_JIT_LAZY, DVREN_JIT_DENSITY_CHANNEL (a
 * run-time index into the channel array would put it in local memory on the
 * GPU), DVREN_JIT_SKIP_EMPTY.
 *
 * Lazy features: when the shader's density reads one channel and the field
 * can evaluate one channel alone, each sample evaluates that channel first
 * and the whole field only where sigma > 0. Empty samples emit and absorb
 * nothing, so the image is the same; they just cost less.
 *
 * dvren.h carries one generated copy of this file (">>march begin/end", in
 * its >>generated section) and reads it twice, in float32 and in float64;
 * edit this file and run `./build.sh gen`. */
#ifndef DVREN_MARCH_H
#define DVREN_MARCH_H

#if defined(DVREN_JIT_NEEDS_GRADIENT)
#define DVREN__NEEDS_GRADIENT(A) DVREN_JIT_NEEDS_GRADIENT
#else
#define DVREN__NEEDS_GRADIENT(A) ((A)->needs_gradient)
#endif
#if defined(DVREN_JIT_LAZY)
#define DVREN__LAZY(A) DVREN_JIT_LAZY
#define DVREN__DENSITY_CHANNEL(A) DVREN_JIT_DENSITY_CHANNEL
#else
#define DVREN__LAZY(A) ((A)->lazy_features)
#define DVREN__DENSITY_CHANNEL(A) ((A)->density_channel)
#endif
#if defined(DVREN_JIT_GRADIENT_CHANNEL)
#define DVREN__GRADIENT_CHANNEL(A) DVREN_JIT_GRADIENT_CHANNEL
#else
#define DVREN__GRADIENT_CHANNEL(A) ((A)->gradient_channel)
#endif
#if defined(DVREN_JIT_SKIP_EMPTY)
#define DVREN__SKIP_EMPTY(A) DVREN_JIT_SKIP_EMPTY
#else
#define DVREN__SKIP_EMPTY(A) ((A)->skip_empty)
#endif

/* Floats per ray of a ray-batch plan: origin xyz, unit direction xyz. */
#define DVREN_RAY_FLOATS 6

/* Everything one launch (or one CPU render) needs, as plain data. */
typedef struct dvren_march_args {
    const void* field;        /* parameter blocks of the three stages */
    const void* shader;
    const void* sampler;
    float bmin[3], bmax[3];   /* field's world bounding box */
    uint32_t channels;        /* channels the field writes per sample */
    uint32_t needs_gradient;  /* shader wants the gradient of one channel */
    uint32_t gradient_channel;
    float gradient_step[3];   /* central-difference half step per axis: one voxel (world units) */
    float min_transmittance;  /* early ray termination threshold (0: off) */
    uint32_t lazy_features;   /* evaluate the density channel first (see above) */
    uint32_t density_channel;
    dvren_march_budget budget;
    dvren_camera camera;
    uint32_t width, height;   /* full image size in pixels */
    uint32_t roi_x, roi_y, roi_w, roi_h; /* pixels rendered */
    uint32_t spp;             /* samples per pixel, >= 1 */
    uint32_t seed_lo, seed_hi;
    float background[3];
    dvren_fb_view fb;         /* forward: outputs written */
    /* ray-batch plans: ray (y * width + x) is rays[6k .. 6k+5] (DVREN_RAY_FLOATS);
     * NULL: rays from the camera */
    const float* rays;
    /* backward: cotangents dL/d(output) per pixel (rgb, alpha, depth,
     * transmittance; NULL: zero), multiplied by grad_scale */
    dvren_fb_view grad;
    float grad_scale;
    /* backward: samples with sigma == 0 have zero gradient (the shader's
     * density is flat there and none of its parameters are being trained) */
    uint32_t skip_empty;
    /* backward, optional (spp == 1): the forward render's rgb (H, W, 3) and
     * transmittance (H, W) of this plan; the replay then takes each ray's
     * totals from them instead of marching it once more */
    const float* fwd_rgb;
    const float* fwd_transmittance;
    /* per-pixel budget (dvren_plan_desc.spp_map / step_map; NULL: none):
     * the rays of pixel k, spp_map[k] (1 .. 65536; replaces spp), and a
     * multiplier step_map[k] >= 1 of the march step (samples per ray divided
     * by it). ray_start[k] = sum of spp_map over pixels before k (uint32,
     * W*H + 1 entries): the GPU spreads the rays evenly over its threads */
    const uint32_t* spp_map;
    const float* step_map;
    const uint32_t* ray_start;
    const uint32_t* ray_start_host; /* the same prefix sums in host memory (a GPU splits its launch by them) */
} dvren_march_args;

/* Rays of pixel `pix` (index y * width + x). */
DVREN_FN uint32_t dvren_pixel_spp(const dvren_march_args* A, uint32_t pix)
{
    return A->spp_map ? A->spp_map[pix] : A->spp;
}

/* The march budget of pixel `pix`: the plan's, with the step multiplied by
 * step_map[pix] (a count of samples per ray divided by it, at least 1). */
DVREN_FN dvren_march_budget dvren_pixel_budget(const dvren_march_args* A, uint32_t pix)
{
    dvren_march_budget b = A->budget;
    if (A->step_map) {
        float m = A->step_map[pix];
        b.step_world *= m;
        b.step_default *= m;
        if (b.samples_per_ray) {
            float n = (float)b.samples_per_ray / m;
            b.samples_per_ray = n < 1.0f ? 1u : (uint32_t)n;
        }
    }
    return b;
}

#endif /* DVREN_MARCH_H */

/* ---- per precision ---------------------------------------------------------------- */
#undef DVREN__MARCH_EMIT
#if DVREN_PREC_BITS == 64
#if !defined(DVREN__MARCH_64)
#define DVREN__MARCH_64
#define DVREN__MARCH_EMIT
#endif
#else
#if !defined(DVREN__MARCH_32)
#define DVREN__MARCH_32
#define DVREN__MARCH_EMIT
#endif
#endif
#if defined(DVREN__MARCH_EMIT)
#undef DVREN__MARCH_EMIT

/* What one ray returns. depth_w = sum(w_i t_i) and weight = sum(w_i), the
 * compositing weights w_i = T_i alpha_i; depth is depth_w / weight. */
typedef struct DVREN__RN(dvren__ray_result) {
    dvren_vec3 rgb;
    dvren_real transmittance;
    dvren_real depth_w;
    dvren_real weight;
    uint32_t hit;
    uint32_t samples;
    uint32_t id; /* the surface hit (dvren_surface.id), DVREN_NO_SURFACE when none */
} DVREN__RN(dvren__ray_result);
#define dvren_ray_result DVREN__RN(dvren__ray_result)
#define dvren_field_gradient DVREN__RN(dvren__field_gradient)
#define dvren_pixel_ray DVREN__RN(dvren__pixel_ray)
#define dvren_march_ray DVREN__RN(dvren__march_ray)
#define dvren_pixel_sum DVREN__RN(dvren__pixel_sum)
#define dvren_pixel_sum_add DVREN__RN(dvren__pixel_sum_add)
#define dvren_pixel_sum_zero DVREN__RN(dvren__pixel_sum_zero)
#define dvren_pixel_write DVREN__RN(dvren__pixel_write)
#define dvren_pixel_mean DVREN__RN(dvren__pixel_mean)
#define dvren_shade_pixel DVREN__RN(dvren__shade_pixel)
#define dvren_pixel_sample DVREN__RN(dvren__pixel_sample)
#define dvren_render_pixel DVREN__RN(dvren__render_pixel)
#define dvren_field_gradient_bwd DVREN__RN(dvren__field_gradient_bwd)
#define dvren_backward_ray DVREN__RN(dvren__backward_ray)
#define dvren_backward_pixel DVREN__RN(dvren__backward_pixel)

/* Central-difference gradient of the gradient channel at p, with half step
 * h[k] along axis k (one voxel: smaller steps see the kinks of trilinear
 * interpolation and give streaky normals). */
DVREN_FN dvren_vec3 dvren_field_gradient(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 p, const float* h)
{
    dvren_real a[DVREN_MAX_CHANNELS], b[DVREN_MAX_CHANNELS];
    dvren_real g[3];
    int k;
    uint32_t c = DVREN__GRADIENT_CHANNEL(A);
    for (k = 0; k < 3; ++k) {
        dvren_vec3 e = dvren_v3(k == 0 ? (dvren_real)h[0] : (dvren_real)0, k == 1 ? (dvren_real)h[1] : (dvren_real)0,
                                k == 2 ? (dvren_real)h[2] : (dvren_real)0);
        DVREN_FIELD_EVAL(A->field, dvren_add3(p, e), a);
        DVREN_FIELD_EVAL(A->field, dvren_sub3(p, e), b);
        g[k] = (a[c] - b[c]) / ((dvren_real)2 * (dvren_real)h[k]);
    }
    return dvren_v3(g[0], g[1], g[2]);
}

/* Ray of pixel sample s (of n) of pixel (x, y): from the plan's ray list, or
 * from the camera through the pixel centre (n == 1) or a random sub-pixel
 * position (stream DVREN_RNG_STREAM_PIXEL). */
DVREN_FN void dvren_pixel_ray(const dvren_march_args* A, uint32_t x, uint32_t y, uint32_t s, uint32_t n, dvren_vec3* o,
                              dvren_vec3* d)
{
    uint32_t pix = y * A->width + x;
    if (A->rays) {
        const float* r = A->rays + (uint64_t)pix * DVREN_RAY_FLOATS;
        *o = dvren_v3p(r);
        *d = dvren_v3p(r + 3);
    } else {
        dvren_real px = (dvren_real)x + (dvren_real)0.5, py = (dvren_real)y + (dvren_real)0.5;
        if (n > 1) {
            dvren_rng prng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_PIXEL);
            px = (dvren_real)x + (dvren_real)dvren_rng_uniform(&prng);
            py = (dvren_real)y + (dvren_real)dvren_rng_uniform(&prng);
        }
        dvren_camera_ray(&A->camera, px, py, (dvren_real)A->width, (dvren_real)A->height, o, d);
    }
}

/* March one ray (o, d unit) through the field's box within budget B. */
DVREN_FN dvren_ray_result dvren_march_ray(DVREN_STAGES_PARAM const dvren_march_args* A, const dvren_march_budget* B,
                                          dvren_vec3 o, dvren_vec3 d, dvren_rng* rng)
{
    dvren_ray_result R;
    dvren_real t0, t1, t, dt;
    dvren_real ch[DVREN_MAX_CHANNELS];
    dvren_sampler_state st;
    R.rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    R.transmittance = (dvren_real)1;
    R.depth_w = (dvren_real)0;
    R.weight = (dvren_real)0;
    R.hit = 0;
    R.samples = 0;
    R.id = DVREN_NO_SURFACE;
    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return R;
    R.hit = 1;
    DVREN_SAMPLER_BEGIN(A->sampler, B, o, d, t0, t1, rng, &st);
    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {
        dvren_vec3 p = dvren_madd3(o, d, t);
        dvren_real sigma, tr, w;
        dvren_vec3 c, grad;
        dvren_surface_hit sh;
        int surf;
        sh.id = DVREN_NO_SURFACE;
        surf = DVREN_SAMPLER_SURFACE(A->sampler, B, &st, o, d, &sh, &p);
        R.samples++;
        if (DVREN__LAZY(A)) {
            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue;
            DVREN_FIELD_EVAL(A->field, p, ch);
        } else {
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue; /* empty space (and NaN) emits and absorbs nothing */
        }
        if (surf) { /* an opaque surface: opacity 1, the ray ends here */
            sh.t = t;
            DVREN_SHADER_SURFACE_COLOR(A->shader, ch, &sh, d, &c);
            w = R.transmittance;
            R.rgb = dvren_madd3(R.rgb, c, w);
            R.depth_w += w * t;
            R.weight += w;
            R.transmittance = (dvren_real)0;
            R.id = sh.id;
            break;
        }
        grad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);
        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &c);
        /* 1 - alpha_i computed as exp() directly: no cancellation in T */
        tr = dvren_exp(-sigma * dt);
        w = R.transmittance * ((dvren_real)1 - tr);
        R.rgb = dvren_madd3(R.rgb, c, w);
        R.depth_w += w * t;
        R.weight += w;
        R.transmittance *= tr;
        if (R.transmittance < (dvren_real)A->min_transmittance) break;
    }
    return R;
}

/* Ray s (of n) of pixel (x, y) within budget B; its rgb includes the
 * background term T * background. */
DVREN_FN dvren_ray_result dvren_pixel_sample(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y,
                                             uint32_t s, uint32_t n, const dvren_march_budget* B)
{
    dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, y * A->width + x, s, DVREN_RNG_STREAM_SAMPLER);
    dvren_vec3 o, d;
    dvren_ray_result R;
    dvren_pixel_ray(A, x, y, s, n, &o, &d);
    R = dvren_march_ray(DVREN_STAGES_ARG A, B, o, d, &srng);
    R.rgb = dvren_madd3(R.rgb, dvren_v3p(A->background), R.transmittance);
    return R;
}

/* A pixel's rays summed in order s = 0 .. n-1 (the CPU's loop and the GPU's
 * gather add in the same order, so both give the same bits). */
typedef struct DVREN__RN(dvren__pixel_sum) {
    dvren_vec3 rgb;
    dvren_real trans, depth_w, weight, luma, luma2;
    uint32_t hit, samples;
    uint32_t id; /* the first surface its rays hit, in order */
} DVREN__RN(dvren__pixel_sum);

DVREN_FN void dvren_pixel_sum_zero(dvren_pixel_sum* P)
{
    P->rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    P->trans = P->depth_w = P->weight = P->luma = P->luma2 = (dvren_real)0;
    P->hit = P->samples = 0u;
    P->id = DVREN_NO_SURFACE;
}

DVREN_FN void dvren_pixel_sum_add(dvren_pixel_sum* P, const dvren_ray_result* R)
{
    dvren_real y = DVREN_LUMA(R->rgb.x, R->rgb.y, R->rgb.z);
    P->rgb = dvren_add3(P->rgb, R->rgb);
    P->trans += R->transmittance;
    P->depth_w += R->depth_w;
    P->weight += R->weight;
    P->luma += y;
    P->luma2 += y * y;
    P->hit |= R->hit;
    P->samples += R->samples;
    if (P->id == DVREN_NO_SURFACE) P->id = R->id;
}

/* The averages of a pixel's n rays: out[0..2] rgb, out[3] alpha 1 - T,
 * out[4] depth sum(w t) / sum(w) (0 where nothing was hit), out[5] T,
 * out[6] the variance of the luminance estimate (DVREN_OUTPUT_VARIANCE; 0
 * when n = 1). */
DVREN_FN void dvren_pixel_mean(const dvren_pixel_sum* P, uint32_t n, dvren_real* out)
{
    dvren_real inv = (dvren_real)1 / (dvren_real)n, v = (dvren_real)0;
    out[0] = P->rgb.x * inv;
    out[1] = P->rgb.y * inv;
    out[2] = P->rgb.z * inv;
    out[3] = (dvren_real)1 - P->trans * inv;
    out[4] = P->weight > (dvren_real)0 ? P->depth_w / P->weight : (dvren_real)0;
    out[5] = P->trans * inv;
    if (n > 1) {
        v = (P->luma2 - P->luma * inv * P->luma) / ((dvren_real)(n - 1) * (dvren_real)n);
        if (v < (dvren_real)0) v = (dvren_real)0; /* rounding */
    }
    out[6] = v;
}

/* Sums the rays of pixel (x, y) within its budget (one through the pixel
 * centre when it has one, else at random sub-pixel positions) into *P, in
 * order; returns their number. */
DVREN_FN uint32_t dvren_shade_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y,
                                    dvren_pixel_sum* P)
{
    uint32_t pix = y * A->width + x, n = dvren_pixel_spp(A, pix), s;
    dvren_march_budget B = dvren_pixel_budget(A, pix);
    dvren_pixel_sum_zero(P);
    for (s = 0; s < n; ++s) {
        dvren_ray_result R = dvren_pixel_sample(DVREN_STAGES_ARG A, x, y, s, n, &B);
        dvren_pixel_sum_add(P, &R);
    }
    return n;
}

/* Writes the averages of pixel `pix`'s n rays into every output of A->fb
 * that is not null. */
DVREN_FN void dvren_pixel_write(const dvren_march_args* A, uint32_t pix, const dvren_pixel_sum* P, uint32_t n)
{
    dvren_real o[7];
    dvren_pixel_mean(P, n, o);
    if (A->fb.rgb) {
        A->fb.rgb[3 * pix + 0] = (float)o[0];
        A->fb.rgb[3 * pix + 1] = (float)o[1];
        A->fb.rgb[3 * pix + 2] = (float)o[2];
    }
    if (A->fb.alpha) A->fb.alpha[pix] = (float)o[3];
    if (A->fb.transmittance) A->fb.transmittance[pix] = (float)o[5];
    if (A->fb.depth) A->fb.depth[pix] = (float)o[4];
    if (A->fb.hit) A->fb.hit[pix] = (uint8_t)P->hit;
    if (A->fb.samples) A->fb.samples[pix] = P->samples;
    if (A->fb.variance) A->fb.variance[pix] = (float)o[6];
    if (A->fb.surface_id) A->fb.surface_id[pix] = P->id;
}

/* Render pixel (x, y) of the plan into every output of A->fb that is not null. */
DVREN_FN void dvren_render_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)
{
    dvren_pixel_sum P;
    uint32_t n = dvren_shade_pixel(DVREN_STAGES_ARG A, x, y, &P);
    dvren_pixel_write(A, y * A->width + x, &P, n);
}

#if defined(DVREN_MARCH_BACKWARD)
/* ---- Backward -----------------------------------------------------------------------
 * By replay (as Plenoxels and nerfacc do): nothing is stored per sample, so
 * memory does not grow with the number of samples. For one ray with
 * tau_i = sigma_i dt_i, T_{i+1} = T_i exp(-tau_i), w_i = T_i - T_{i+1}:
 *
 *   dC/dc_i     = w_i
 *   dC/dtau_i   = T_{i+1} c_i - (C - sum_{k<=i} w_k c_k)     (C includes T_N bg)
 *   dT_N/dtau_i = -T_N
 *   dDw/dtau_i  = T_{i+1} t_i - (Dw - sum_{k<=i} w_k t_k)    (Dw = sum w_k t_k)
 *   dW/dtau_i   = T_{i+1} - (W - sum_{k<=i} w_k)             (W = sum w_k)
 *
 * so one pass that knows the ray's totals (C, T_N, Dw, W) can replay the
 * samples in order and hand each its gradient. The totals come from a first
 * replay (dvren_march_ray). The pixel's depth D = sum_s Dw_s / sum_s W_s
 * over its spp rays needs the pixel's sums first: a pass over its rays when
 * a depth cotangent is given and spp > 1. Early ray termination replays the
 * same decisions (the same arithmetic), so the gradient is that of the
 * truncated sum, like the image. */

/* Backward of dvren_field_gradient: dL_dgrad is the cotangent of the
 * gradient; each of the six evaluations gets +-dL_dgrad[k] / (2 h_k) on the
 * gradient channel. */
DVREN_FN void dvren_field_gradient_bwd(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 p, const float* h,
                                       dvren_vec3 dL_dgrad)
{
    dvren_real g[DVREN_MAX_CHANNELS];
    dvren_real gk[3];
    int k;
    uint32_t c, n = A->channels;
    gk[0] = dL_dgrad.x;
    gk[1] = dL_dgrad.y;
    gk[2] = dL_dgrad.z;
    for (c = 0; c < n; ++c) g[c] = (dvren_real)0;
    for (k = 0; k < 3; ++k) {
        dvren_vec3 e = dvren_v3(k == 0 ? (dvren_real)h[0] : (dvren_real)0, k == 1 ? (dvren_real)h[1] : (dvren_real)0,
                                k == 2 ? (dvren_real)h[2] : (dvren_real)0);
        dvren_real v = gk[k] / ((dvren_real)2 * (dvren_real)h[k]);
        if (v == (dvren_real)0) continue;
        g[DVREN__GRADIENT_CHANNEL(A)] = v;
        DVREN_FIELD_EVAL_BWD(A->field, dvren_add3(p, e), g);
        g[DVREN__GRADIENT_CHANNEL(A)] = -v;
        DVREN_FIELD_EVAL_BWD(A->field, dvren_sub3(p, e), g);
    }
}

/* Replays one ray with its totals R (from dvren_march_ray with the same
 * rng), handing every sample its gradient. gC: dL/dC of this ray (C
 * includes T_N bg); gT: dL/dT_N; gD, D, W: the pixel's depth cotangent,
 * depth and weight sum (gD = 0: no depth term). */
DVREN_FN void dvren_backward_ray(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 o, dvren_vec3 d, dvren_rng* rng,
                                 const dvren_ray_result* R, dvren_vec3 C, dvren_vec3 gC, dvren_real gT, dvren_real gD,
                                 dvren_real D, dvren_real W)
{
    dvren_real t0, t1, t, dt;
    dvren_real ch[DVREN_MAX_CHANNELS], dch[DVREN_MAX_CHANNELS];
    dvren_sampler_state st;
    dvren_real T = (dvren_real)1, pdw = (dvren_real)0, pw = (dvren_real)0;
    dvren_vec3 pc = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    dvren_real gTT = -gT * R->transmittance; /* dL/dT_N * dT_N/dtau, the same for every sample */
    dvren_real gDW = W > (dvren_real)0 ? gD / W : (dvren_real)0;
    uint32_t n = A->channels, c;
    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return;
    DVREN_SAMPLER_BEGIN(A->sampler, &A->budget, o, d, t0, t1, rng, &st);
    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {
        dvren_vec3 p = dvren_madd3(o, d, t);
        dvren_real sigma, tr, w, Tn, dtau;
        dvren_vec3 col, grad, dgrad;
        dvren_surface_hit sh;
        int surf;
        sh.id = DVREN_NO_SURFACE;
        surf = DVREN_SAMPLER_SURFACE(A->sampler, &A->budget, &st, o, d, &sh, &p);
        if (surf) { /* the forward's test; its geometry gets no gradient */
            if (DVREN__LAZY(A)) {
                ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
                sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
                if (!(sigma > (dvren_real)0)) continue;
            }
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue;
            sh.t = t;
            for (c = 0; c < n; ++c) dch[c] = (dvren_real)0;
            DVREN_SHADER_SURFACE_COLOR_BWD(A->shader, ch, &sh, d, dvren_scale3(gC, T), dch);
            DVREN_FIELD_EVAL_BWD(A->field, p, dch);
            break;
        }
        if (DVREN__SKIP_EMPTY(A) && DVREN__LAZY(A)) {
            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue;
            DVREN_FIELD_EVAL(A->field, p, ch);
        } else {
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) {
                /* no absorption, no emission: only a flat-density shader may skip it */
                if (DVREN__SKIP_EMPTY(A) || !(sigma == (dvren_real)0)) continue;
                sigma = (dvren_real)0;
            }
        }
        grad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);
        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &col);
        /* the forward's arithmetic, operation for operation */
        tr = dvren_exp(-sigma * dt);
        w = T * ((dvren_real)1 - tr);
        pc = dvren_madd3(pc, col, w);
        pdw += w * t;
        pw += w;
        Tn = T * tr;
        dtau = dvren_dot3(gC, dvren_sub3(dvren_scale3(col, Tn), dvren_sub3(C, pc))) + gTT;
        if (gDW != (dvren_real)0)
            dtau += gDW * ((Tn * t - (R->depth_w - pdw)) - D * (Tn - (R->weight - pw)));
        for (c = 0; c < n; ++c) dch[c] = (dvren_real)0;
        dgrad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        DVREN_SHADER_COLOR_BWD(A->shader, ch, grad, d, dvren_scale3(gC, w), dch, &dgrad);
        DVREN_SHADER_DENSITY_BWD(A->shader, ch, dt, dtau * dt, dch);
        DVREN_FIELD_EVAL_BWD(A->field, p, dch);
        if (DVREN__NEEDS_GRADIENT(A)) dvren_field_gradient_bwd(DVREN_STAGES_ARG A, p, A->gradient_step, dgrad);
        T = Tn;
        if (T < (dvren_real)A->min_transmittance) break;
    }
}

/* Backward of dvren_render_pixel for pixel (x, y): reads the cotangents of
 * A->grad at the pixel and adds every parameter's gradient through the
 * stages' _bwd functions. */
DVREN_FN void dvren_backward_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)
{
    uint32_t pix = y * A->width + x, s;
    dvren_real inv_spp = (dvren_real)1 / (dvren_real)A->spp, k = (dvren_real)A->grad_scale;
    dvren_vec3 gC = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    dvren_real gT = (dvren_real)0, gD = (dvren_real)0, D = (dvren_real)0, W = (dvren_real)0;
    dvren_vec3 bg = dvren_v3p(A->background);
    if (A->grad.rgb) gC = dvren_scale3(dvren_v3p(A->grad.rgb + 3 * pix), k * inv_spp);
    if (A->grad.alpha) gT -= (dvren_real)A->grad.alpha[pix] * k * inv_spp;
    if (A->grad.transmittance) gT += (dvren_real)A->grad.transmittance[pix] * k * inv_spp;
    if (A->grad.depth) gD = (dvren_real)A->grad.depth[pix] * k;
    if (gC.x == (dvren_real)0 && gC.y == (dvren_real)0 && gC.z == (dvren_real)0 && gT == (dvren_real)0 &&
        gD == (dvren_real)0)
        return;
    if (gD != (dvren_real)0 && A->spp > 1) {
        /* the pixel's depth is a ratio of sums over its rays: those sums first */
        dvren_real dw = (dvren_real)0;
        for (s = 0; s < A->spp; ++s) {
            dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
            dvren_vec3 o, d;
            dvren_ray_result R;
            dvren_pixel_ray(A, x, y, s, A->spp, &o, &d);
            R = dvren_march_ray(DVREN_STAGES_ARG A, &A->budget, o, d, &srng);
            dw += R.depth_w;
            W += R.weight;
        }
        D = W > (dvren_real)0 ? dw / W : (dvren_real)0;
    }
    if (A->spp == 1 && A->fwd_rgb && A->fwd_transmittance && gD == (dvren_real)0) {
        /* the forward pass's outputs are this ray's totals: C (with T_N bg)
         * and T_N, bit for bit what a replay would compute */
        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, 0u, DVREN_RNG_STREAM_SAMPLER);
        dvren_vec3 o, d;
        dvren_ray_result R;
        R.rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        R.transmittance = (dvren_real)A->fwd_transmittance[pix];
        R.depth_w = R.weight = (dvren_real)0;
        R.hit = 1u;
        R.samples = 0u;
        R.id = DVREN_NO_SURFACE;
        dvren_pixel_ray(A, x, y, 0u, 1u, &o, &d);
        dvren_backward_ray(DVREN_STAGES_ARG A, o, d, &srng, &R, dvren_v3p(A->fwd_rgb + 3 * pix), gC, gT, gD, D, W);
        return;
    }
    for (s = 0; s < A->spp; ++s) {
        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
        dvren_vec3 o, d;
        dvren_ray_result R;
        dvren_pixel_ray(A, x, y, s, A->spp, &o, &d);
        R = dvren_march_ray(DVREN_STAGES_ARG A, &A->budget, o, d, &srng);
        if (!R.hit) continue;
        if (A->spp == 1) {
            W = R.weight;
            D = W > (dvren_real)0 ? R.depth_w / W : (dvren_real)0;
        }
        srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
        dvren_backward_ray(DVREN_STAGES_ARG A, o, d, &srng, &R, dvren_madd3(R.rgb, bg, R.transmittance), gC, gT, gD, D, W);
    }
}
#endif /* DVREN_MARCH_BACKWARD */

#endif /* per precision */
