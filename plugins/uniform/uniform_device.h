/* plugins/uniform/uniform_device.h - per-sample code of the "uniform" sampler.
 * Single source: compiled as C into uniform.so and by NVRTC into the fused
 * kernel (kernels/dvren_device.h comes first; nothing is included here).
 *
 * Samples a ray's [t0, t1] in equal steps, within the plan's budget
 * (dvren_march_budget). Count mode (n samples): sample i sits at
 * t0 + (i + u) * dt with segment dt = span / n. Step mode (step h):
 * segment i is [t0 + i h, min(t0 + (i+1) h, t1)] (the last one shorter, so
 * the segments cover [t0, t1] exactly; a remainder under 0.001 h joins the
 * last segment instead of making a sliver) and the sample sits at fraction u
 * of it. u = 0.5 (midpoints) without jitter, one uniform random number per
 * ray with jitter (stratified sampling, Pharr et al., PBRT 3rd ed., 7.3):
 * the default, since equal midpoints along neighbouring rays make the
 * wood-grain bands of slicing artefacts, and a per-ray offset turns them
 * into fine noise that spp > 1 averages away.
 *
 * The functions are per precision (DVREN_PNAME): uniform.c includes this
 * file once in float32 and once in float64; NVRTC once. */
#ifndef UNIFORM_DEVICE_H
#define UNIFORM_DEVICE_H

typedef struct uniform_block {
    uint32_t jitter;      /* 1: random offset u per ray */
    uint32_t max_samples; /* cap per ray (step mode falls back to count mode) */
} uniform_block;

#endif /* UNIFORM_DEVICE_H */

/* state: f[0] t0, f[1] t1, f[2] step (both modes), f[3] u; u[0] i, u[1] n, u[2] count mode */
DVREN_FN void DVREN_PNAME(uniform_begin)(const void* P_, const dvren_march_budget* B, dvren_vec3 o, dvren_vec3 d,
                                         dvren_real t0, dvren_real t1, dvren_rng* rng, dvren_sampler_state* s)
{
    const uniform_block* P = (const uniform_block*)P_;
    dvren_real span = t1 - t0, step = (dvren_real)0;
    uint32_t n = 0, count_mode = 1;
    (void)o;
    (void)d;
    if (B->samples_per_ray) {
        n = B->samples_per_ray;
    } else {
        /* the plan's step, else the default the host computed (half a voxel) */
        step = (dvren_real)(B->step_world > 0.0f ? B->step_world : B->step_default);
        {
            /* a ratio a hair over an integer is rounding: the last segment absorbs it */
            dvren_real m = dvren_ceil(span / step - (dvren_real)1e-3f);
            count_mode = 0;
            if (!(m <= (dvren_real)P->max_samples)) { /* too many (or NaN): spread the cap evenly */
                m = (dvren_real)P->max_samples;
                count_mode = 1;
            }
            n = m < (dvren_real)1 ? 1u : (uint32_t)m;
        }
    }
    if (n > P->max_samples) n = P->max_samples;
    if (count_mode) step = span / (dvren_real)n;
    s->f[0] = t0;
    s->f[1] = t1;
    s->f[2] = step;
    s->f[3] = P->jitter ? (dvren_real)dvren_rng_uniform(rng) : (dvren_real)0.5;
    s->u[0] = 0;
    s->u[1] = n;
    s->u[2] = count_mode;
}

DVREN_FN int DVREN_PNAME(uniform_next)(const void* P_, dvren_sampler_state* s, dvren_real* t, dvren_real* dt)
{
    uint32_t i = s->u[0], n = s->u[1];
    dvren_real t0 = s->f[0], t1 = s->f[1], u = s->f[3];
    (void)P_;
    if (i >= n) return 0;
    if (s->u[2]) {
        *t = t0 + ((dvren_real)i + u) * s->f[2];
        *dt = s->f[2];
    } else {
        /* b is computed exactly as the next segment's a, so the segments tile
         * [t0, t1] without gaps or overlaps and their lengths sum to t1 - t0 */
        dvren_real a = t0 + (dvren_real)i * s->f[2];
        dvren_real b = i + 1 == n ? t1 : dvren_min(t0 + (dvren_real)(i + 1) * s->f[2], t1);
        *t = a + u * (b - a);
        *dt = b - a;
    }
    s->u[0] = i + 1;
    return 1;
}
