/* plugins/uniform/uniform_device.h - per-sample code of the "uniform" sampler.
 * Single source: compiled as C into uniform.so and by NVRTC into the fused
 * kernel (kernels/dvren_device.h comes first; nothing is included here).
 *
 * Samples a ray's [t0, t1] in equal steps. Count mode (n samples): sample i
 * sits at t0 + (i + u) * dt with segment dt = span / n. Step mode (step h):
 * segment i is [t0 + i h, min(t0 + (i+1) h, t1)] (the last one shorter, so
 * the segments cover [t0, t1] exactly; a remainder under 0.001 h joins the
 * last segment instead of making a sliver) and the sample sits at fraction u of
 * it. u = 0.5 (midpoints) without jitter, one uniform random number per ray
 * with jitter (stratified sampling, Pharr et al., PBRT 3rd ed., 7.3). */
#ifndef UNIFORM_DEVICE_H
#define UNIFORM_DEVICE_H

typedef struct uniform_block {
    float step_world;     /* > 0: step mode unless a count is asked for */
    uint32_t samples;     /* > 0: count mode */
    uint32_t jitter;      /* 1: random offset u per ray */
    uint32_t max_samples; /* cap per ray (step mode falls back to count mode) */
} uniform_block;

/* state: f[0] t0, f[1] t1, f[2] step (both modes), f[3] u; u[0] i, u[1] n, u[2] count mode */
DVREN_FN void uniform_begin(const void* P_, const dvren_march_budget* B, dvren_float3 o, dvren_float3 d, float t0,
                            float t1, dvren_rng* rng, dvren_sampler_state* s)
{
    const uniform_block* P = (const uniform_block*)P_;
    float span = t1 - t0, step = 0.0f;
    uint32_t n = 0, count_mode = 1;
    (void)o;
    (void)d;
    if (B->samples_per_ray) {
        n = B->samples_per_ray;
    } else if (B->step_world > 0.0f) {
        step = B->step_world;
    } else if (P->samples) {
        n = P->samples;
    } else {
        step = P->step_world > 0.0f ? P->step_world : 0.5f * B->voxel_world;
    }
    if (!n) {
        /* a ratio a hair over an integer is rounding: the last segment absorbs it */
        float m = ceilf(span / step - 1e-3f);
        count_mode = 0;
        if (!(m <= (float)P->max_samples)) { /* too many (or NaN): spread the cap evenly */
            m = (float)P->max_samples;
            count_mode = 1;
        }
        n = m < 1.0f ? 1u : (uint32_t)m;
    }
    if (n > P->max_samples) n = P->max_samples;
    if (count_mode) step = span / (float)n;
    s->f[0] = t0;
    s->f[1] = t1;
    s->f[2] = step;
    s->f[3] = P->jitter ? dvren_rng_uniform(rng) : 0.5f;
    s->u[0] = 0;
    s->u[1] = n;
    s->u[2] = count_mode;
}

DVREN_FN int uniform_next(const void* P_, dvren_sampler_state* s, float* t, float* dt)
{
    uint32_t i = s->u[0], n = s->u[1];
    float t0 = s->f[0], t1 = s->f[1], u = s->f[3];
    (void)P_;
    if (i >= n) return 0;
    if (s->u[2]) {
        *t = t0 + ((float)i + u) * s->f[2];
        *dt = s->f[2];
    } else {
        /* b is computed exactly as the next segment's a, so the segments tile
         * [t0, t1] without gaps or overlaps and their lengths sum to t1 - t0 */
        float a = t0 + (float)i * s->f[2];
        float b = i + 1 == n ? t1 : dvren_minf(t0 + (float)(i + 1) * s->f[2], t1);
        *t = a + u * (b - a);
        *dt = b - a;
    }
    s->u[0] = i + 1;
    return 1;
}

#endif
