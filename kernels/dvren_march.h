/* kernels/dvren_march.h - the ray-march template of dvren (single source).
 *
 * Emission-absorption volume rendering, front to back, with early ray
 * termination (Max, "Optical models for direct volume rendering", IEEE TVCG
 * 1995, eq. 4-6; the quadrature of Mildenhall et al., NeRF, ECCV 2020, eq. 3):
 *
 *   alpha_i = 1 - exp(-sigma_i * dt_i)      T_i = prod_{j<i} (1 - alpha_j)
 *   C = sum_i T_i alpha_i c_i + T_n * background
 *
 * The template calls one field, one shader and one sampler through binding
 * macros that the includer defines before including this file:
 *
 *   DVREN_STAGES_PARAM     extra leading parameter declaration (may be empty)
 *   DVREN_STAGES_ARG       the matching argument (may be empty)
 *   DVREN_FIELD_EVAL(P, p, out)                 void; out[0 .. channels-1]
 *   DVREN_FIELD_EVAL_CHANNEL(P, p, c)           float; channel c alone (with lazy features)
 *   DVREN_SHADER_DENSITY(P, ch)                 float sigma >= 0 [1/world unit]
 *   DVREN_SHADER_COLOR(P, ch, grad, dir, rgb)   void; *rgb = emitted radiance
 *   DVREN_SAMPLER_BEGIN(P, budget, o, d, t0, t1, rng, state)   void
 *   DVREN_SAMPLER_NEXT(P, state, t, dt)         int; 0 when the ray is done
 *
 * The CPU path (dvren.h) binds them to the plugins' C functions through a
 * table of pointers; the GPU path (dvren_cuda.h) binds them to direct calls
 * of the same functions compiled by NVRTC, in one fused kernel, and may fix
 * values known per scene at compile time: DVREN_JIT_NEEDS_GRADIENT,
 * DVREN_JIT_GRADIENT_CHANNEL, DVREN_JIT_LAZY, DVREN_JIT_DENSITY_CHANNEL (a
 * run-time index into the channel array would put it in local memory on the
 * GPU).
 *
 * Lazy features: when the shader's density reads one channel and the field
 * can evaluate one channel alone, each sample evaluates that channel first
 * and the whole field only where sigma > 0. Empty samples emit and absorb
 * nothing, so the image is the same; they just cost less.
 *
 * dvren.h carries a generated copy of this file (">>march begin/end"); edit
 * this file and run `./build.sh gen`. */
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
    dvren_fb_view fb;
} dvren_march_args;

/* What one ray returns. depth_w = sum(w_i t_i) and weight = sum(w_i), the
 * compositing weights w_i = T_i alpha_i; depth is depth_w / weight. */
typedef struct dvren_ray_result {
    dvren_float3 rgb;
    float transmittance;
    float depth_w;
    float weight;
    uint32_t hit;
    uint32_t samples;
} dvren_ray_result;

/* Central-difference gradient of the gradient channel at p, with half step
 * h[k] along axis k (one voxel: smaller steps see the kinks of trilinear
 * interpolation and give streaky normals). */
DVREN_FN dvren_float3 dvren_field_gradient(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_float3 p, const float* h)
{
    float a[DVREN_MAX_CHANNELS], b[DVREN_MAX_CHANNELS];
    float g[3];
    int k;
    uint32_t c = DVREN__GRADIENT_CHANNEL(A);
    for (k = 0; k < 3; ++k) {
        dvren_float3 e = dvren_f3(k == 0 ? h[0] : 0.0f, k == 1 ? h[1] : 0.0f, k == 2 ? h[2] : 0.0f);
        DVREN_FIELD_EVAL(A->field, dvren_add3(p, e), a);
        DVREN_FIELD_EVAL(A->field, dvren_sub3(p, e), b);
        g[k] = (a[c] - b[c]) / (2.0f * h[k]);
    }
    return dvren_f3(g[0], g[1], g[2]);
}

/* March one ray (o, d unit) through the field's box. */
DVREN_FN dvren_ray_result dvren_march_ray(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_float3 o, dvren_float3 d,
                                          dvren_rng* rng)
{
    dvren_ray_result R;
    float t0, t1, t, dt;
    float ch[DVREN_MAX_CHANNELS];
    dvren_sampler_state st;
    R.rgb = dvren_f3(0.0f, 0.0f, 0.0f);
    R.transmittance = 1.0f;
    R.depth_w = 0.0f;
    R.weight = 0.0f;
    R.hit = 0;
    R.samples = 0;
    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return R;
    R.hit = 1;
    DVREN_SAMPLER_BEGIN(A->sampler, &A->budget, o, d, t0, t1, rng, &st);
    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {
        dvren_float3 p = dvren_madd3(o, d, t);
        float sigma, tr, w;
        dvren_float3 c, grad;
        R.samples++;
        if (DVREN__LAZY(A)) {
            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
            sigma = DVREN_SHADER_DENSITY(A->shader, ch);
            if (!(sigma > 0.0f)) continue;
            DVREN_FIELD_EVAL(A->field, p, ch);
        } else {
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch);
            if (!(sigma > 0.0f)) continue; /* empty space (and NaN) emits and absorbs nothing */
        }
        grad = dvren_f3(0.0f, 0.0f, 0.0f);
        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);
        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &c);
        /* 1 - alpha_i computed as exp() directly: no cancellation in T */
        tr = dvren_exp(-sigma * dt);
        w = R.transmittance * (1.0f - tr);
        R.rgb = dvren_madd3(R.rgb, c, w);
        R.depth_w += w * t;
        R.weight += w;
        R.transmittance *= tr;
        if (R.transmittance < A->min_transmittance) break;
    }
    return R;
}

/* Render pixel (x, y) of the plan: spp rays (one through the pixel centre
 * when spp == 1, else at random sub-pixel positions), averaged, written to
 * every output of A->fb that is not null. */
DVREN_FN void dvren_render_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)
{
    dvren_float3 rgb = dvren_f3(0.0f, 0.0f, 0.0f);
    float trans = 0.0f, depth_w = 0.0f, weight = 0.0f;
    uint32_t hit = 0, samples = 0, s;
    uint32_t pix = y * A->width + x;
    float inv_spp = 1.0f / (float)A->spp;
    dvren_float3 bg = dvren_f3v(A->background);
    for (s = 0; s < A->spp; ++s) {
        dvren_rng prng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_PIXEL);
        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
        float px = (float)x + 0.5f, py = (float)y + 0.5f;
        dvren_float3 o, d;
        dvren_ray_result R;
        if (A->spp > 1) {
            px = (float)x + dvren_rng_uniform(&prng);
            py = (float)y + dvren_rng_uniform(&prng);
        }
        dvren_camera_ray(&A->camera, px, py, (float)A->width, (float)A->height, &o, &d);
        R = dvren_march_ray(DVREN_STAGES_ARG A, o, d, &srng);
        rgb = dvren_add3(rgb, dvren_madd3(R.rgb, bg, R.transmittance));
        trans += R.transmittance;
        depth_w += R.depth_w;
        weight += R.weight;
        hit |= R.hit;
        samples += R.samples;
    }
    {
        float alpha = 1.0f - trans * inv_spp;
        if (A->fb.rgb) {
            A->fb.rgb[3 * pix + 0] = rgb.x * inv_spp;
            A->fb.rgb[3 * pix + 1] = rgb.y * inv_spp;
            A->fb.rgb[3 * pix + 2] = rgb.z * inv_spp;
        }
        if (A->fb.alpha) A->fb.alpha[pix] = alpha;
        if (A->fb.transmittance) A->fb.transmittance[pix] = trans * inv_spp;
        if (A->fb.depth) A->fb.depth[pix] = weight > 0.0f ? depth_w / weight : 0.0f;
        if (A->fb.hit) A->fb.hit[pix] = (uint8_t)hit;
        if (A->fb.samples) A->fb.samples[pix] = samples;
    }
}

#endif /* DVREN_MARCH_H */
