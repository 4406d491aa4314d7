/* tests/test_render.c - the CPU renderer against analytic references:
 * constant-density slabs (Beer-Lambert transmittance, colour, expected depth),
 * early ray termination, sphere silhouettes (orthographic and perspective),
 * trilinear interpolation, determinism across runs and thread counts, ROI,
 * background, shading, cancellation and plan errors. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

/* A dense_grid field from an f32 array (Z, Y, X, C) with a world box. */
static dvren_stage* grid_field(dvren_context* ctx, const float* data, int X, int Y, int Z, int C, const double* bbox,
                               const char* centering)
{
    dvren_tensor t;
    int64_t shape[4];
    dvren_params* p = NULL;
    shape[0] = Z;
    shape[1] = Y;
    shape[2] = X;
    shape[3] = C;
    if (dvren_tensor_wrap((void*)data, DVREN_DTYPE_F32, 4, shape, NULL, &t) != DVREN_OK) return NULL;
    if (dvren_params_create(ctx, &p) != DVREN_OK) return NULL;
    dvren_params_set_tensor(p, "data", &t);
    if (bbox) dvren_params_set_numbers(p, "bbox", bbox, 6);
    if (centering) dvren_params_set_string(p, "centering", centering);
    return th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
}

/* channels-mode shader: sigma = scale * relu(ch0), colour = ch1..3 */
static dvren_stage* channel_shader(dvren_context* ctx, double sigma_scale)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    dvren_params_set_string(p, "mode", "channels");
    dvren_params_set_number(p, "sigma_scale", sigma_scale);
    return th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
}

/* Constant 4-channel grid: density raw value and colour everywhere. */
static void fill_const(float* d, int n, float sigma, float r, float g, float b)
{
    int i;
    for (i = 0; i < n; ++i) {
        d[4 * i + 0] = sigma;
        d[4 * i + 1] = r;
        d[4 * i + 2] = g;
        d[4 * i + 3] = b;
    }
}

/* Ray length inside [-1,1]^3 in double precision (the test's own slab test). */
static double box_length(dvren_float3 o, dvren_float3 d)
{
    double lo = 0.0, hi = 1e300, oo[3], dd[3];
    int a;
    oo[0] = o.x; oo[1] = o.y; oo[2] = o.z;
    dd[0] = d.x; dd[1] = d.y; dd[2] = d.z;
    for (a = 0; a < 3; ++a) {
        double t0, t1;
        if (dd[a] == 0.0) {
            if (oo[a] < -1 || oo[a] > 1) return 0.0;
            continue;
        }
        t0 = (-1 - oo[a]) / dd[a];
        t1 = (1 - oo[a]) / dd[a];
        if (t0 > t1) { double t = t0; t0 = t1; t1 = t; }
        if (t0 > lo) lo = t0;
        if (t1 < hi) hi = t1;
    }
    return hi > lo ? hi - lo : 0.0;
}

/* Beer-Lambert: a constant density sigma over length L transmits exp(-sigma L);
 * colour c composites to c (1 - T); the expected depth of the weights
 * w(t) = sigma exp(-sigma (t - t0)) is t0 + 1/sigma - L e^{-sigma L} / (1 - e^{-sigma L}). */
TEST(slab_transmittance_axis)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    float grid[2 * 2 * 2 * 4];
    dvren_context* ctx = th_ctx();
    const double sigma = 1.5, L = 2.0;
    double T = exp(-sigma * L), depth = 2.0 + 1.0 / sigma - L * T / (1.0 - T);
    int mode;
    fill_const(grid, 8, (float)sigma, 0.2f, 0.4f, 0.6f);
    for (mode = 0; mode < 3; ++mode) {
        /* fine step that divides L, a step that does not (short last segment), a fixed count */
        dvren_stage* f = grid_field(ctx, grid, 2, 2, 2, 4, bbox, NULL);
        dvren_stage* s = channel_shader(ctx, 1.0);
        dvren_stage* m = th_uniform_sampler(ctx, 0);
        dvren_plan_desc pd;
        dvren_framebuffer* fb;
        const float *tr, *rgb, *dep;
        dvren_tensor samples;
        int i;
        CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
        memset(&pd, 0, sizeof pd);
        pd.width = pd.height = 8;
        pd.outputs = DVREN_OUTPUT_ALL;
        CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 1.0f, &pd.camera));
        th_march(&pd, mode == 2 ? 3000 : 0, mode == 0 ? 0.001 : mode == 1 ? 0.0013 : 0.0, 0.0);
        fb = th_render(ctx, f, s, m, &pd, 0);
        CHECK(fb, "render: %s", dvren_last_error(ctx));
        tr = th_out(fb, DVREN_OUTPUT_TRANSMITTANCE);
        rgb = th_out(fb, DVREN_OUTPUT_RGB);
        dep = th_out(fb, DVREN_OUTPUT_DEPTH);
        CHECK_OK(ctx, dvren_framebuffer_output(fb, DVREN_OUTPUT_SAMPLES, &samples));
        for (i = 0; i < 64; ++i) {
            CHECK(fabs(tr[i] - T) / T < 1e-4, "mode %d pixel %d: T = %.8g, exp(-sigma L) = %.8g", mode, i, tr[i], T);
            CHECK(fabs(rgb[3 * i + 1] - 0.4 * (1 - T)) < 1e-5, "mode %d pixel %d: g = %.8g, c(1-T) = %.8g", mode, i,
                  rgb[3 * i + 1], 0.4 * (1 - T));
            CHECK(fabs(dep[i] - depth) / depth < 1e-3, "mode %d pixel %d: depth %.7g, analytic %.7g", mode, i, dep[i],
                  depth);
        }
        i = (int)((const uint32_t*)samples.data)[0];
        CHECK(i == (mode == 0 ? 2000 : mode == 1 ? 1539 : 3000), "mode %d: %d samples per ray", mode, i);
        dvren_framebuffer_destroy(fb);
        dvren_stage_destroy(f);
        dvren_stage_destroy(s);
        dvren_stage_destroy(m);
    }
    dvren_context_destroy(ctx);
}

/* Opacity per step (emission_absorption opacity "per_step", plugin ABI 1.2
 * density_dt): a transfer function of constant opacity a over a slab of
 * length L. Per sample (reference_step 0), n equal segments transmit
 * (1 - a)^n whatever their length; per reference step dt0, any step
 * transmits (1 - a)^(L / dt0): opacity correction makes the image
 * independent of the step. */
TEST(slab_opacity_per_step)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    float grid[8];
    dvren_context* ctx = th_ctx();
    const double a = 0.3, L = 2.0, dt0 = 0.25;
    static const double steps[3] = {0.125, 0.05, 0.02};
    int k, ref, i;
    for (i = 0; i < 8; ++i) grid[i] = 0.5f;
    for (ref = 0; ref < 2; ++ref)
        for (k = 0; k < 3; ++k) {
            dvren_params* p = NULL;
            dvren_stage* f = grid_field(ctx, grid, 2, 2, 2, 1, bbox, NULL);
            dvren_stage *s, *m = th_uniform_sampler(ctx, 0);
            double tfo[2] = {0.0, a}, want, n = L / steps[k];
            dvren_plan_desc pd;
            dvren_framebuffer* fb;
            const float* tr;
            dvren_params_create(ctx, &p);
            dvren_params_set_numbers(p, "tf_opacity", tfo, 2);
            dvren_params_set_string(p, "opacity", "per_step");
            dvren_params_set_number(p, "reference_step", ref ? dt0 : 0.0);
            s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
            CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
            memset(&pd, 0, sizeof pd);
            pd.width = pd.height = 4;
            pd.outputs = DVREN_OUTPUT_TRANSMITTANCE;
            CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 1.0f, &pd.camera));
            th_march(&pd, 0, steps[k], 0.0);
            fb = th_render(ctx, f, s, m, &pd, 0);
            CHECK(fb, "render: %s", dvren_last_error(ctx));
            tr = th_out(fb, DVREN_OUTPUT_TRANSMITTANCE);
            want = ref ? pow(1.0 - a, L / dt0) : pow(1.0 - a, floor(n + 0.5));
            for (i = 0; i < 16; ++i)
                CHECK(fabs(tr[i] - want) / want < 2e-4, "reference step %g, step %g, pixel %d: T = %.8g, want %.8g",
                      ref ? dt0 : 0.0, steps[k], i, tr[i], want);
            dvren_framebuffer_destroy(fb);
            dvren_stage_destroy(f);
            dvren_stage_destroy(s);
            dvren_stage_destroy(m);
        }
    dvren_context_destroy(ctx);
}

/* Oblique perspective rays: T = exp(-sigma L) with L from the test's own ray/box intersection. */
TEST(slab_transmittance_oblique)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const float eye[3] = {0.7f, -0.4f, 2.6f}, target[3] = {0.1f, 0.05f, 0}, up[3] = {0, 1, 0};
    float grid[8 * 4];
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float *tr, *al;
    dvren_tensor hit;
    int x, y, hits = 0, misses = 0;
    fill_const(grid, 8, 0.8f, 1, 1, 1);
    f = grid_field(ctx, grid, 2, 2, 2, 4, bbox, NULL);
    s = channel_shader(ctx, 1.0);
    m = th_uniform_sampler(ctx, 1); /* jitter must not change a constant medium */
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    memset(&pd, 0, sizeof pd);
    pd.width = 40;
    pd.height = 30;
    pd.outputs = DVREN_OUTPUT_ALL;
    pd.seed = 99;
    CHECK_OK(NULL, dvren_camera_look_at(eye, target, up, 1.2f, &pd.camera));
    th_march(&pd, 0, 0.0005, 0.0);
    fb = th_render(ctx, f, s, m, &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    tr = th_out(fb, DVREN_OUTPUT_TRANSMITTANCE);
    al = th_out(fb, DVREN_OUTPUT_ALPHA);
    CHECK_OK(ctx, dvren_framebuffer_output(fb, DVREN_OUTPUT_HIT, &hit));
    for (y = 0; y < 30; ++y)
        for (x = 0; x < 40; ++x) {
            dvren_float3 o, d;
            double L, T;
            int i = y * 40 + x;
            dvren_camera_ray(&pd.camera, x + 0.5f, y + 0.5f, 40.0f, 30.0f, &o, &d);
            L = box_length(o, d);
            T = exp(-0.8 * L);
            if (L > 1e-3) {
                hits++;
                CHECK(((const uint8_t*)hit.data)[i] == 1, "pixel %d,%d should hit", x, y);
                CHECK(fabs(tr[i] - T) <= 1e-4 * T + 2e-6, "pixel %d,%d: L = %.6f, T = %.8g, expected %.8g", x, y, L,
                      tr[i], T);
                CHECK(fabs(al[i] + tr[i] - 1.0f) < 1e-6, "alpha = 1 - T");
            } else if (L == 0.0) {
                misses++;
                CHECK(((const uint8_t*)hit.data)[i] == 0 && al[i] == 0.0f, "pixel %d,%d should miss", x, y);
            }
        }
    CHECK(hits > 300 && misses > 50, "camera sees both the box and the background (%d hits, %d misses)", hits, misses);
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* Early ray termination stops the first sample that takes T below the
 * threshold: T_final in [thr * exp(-sigma dt), thr), and fewer samples. */
TEST(early_termination)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    float grid[8 * 4];
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    dvren_tensor samples;
    const float* tr;
    const double sigma = 3.0, dt = 0.001, thr = 0.01;
    uint32_t n, expect;
    fill_const(grid, 8, (float)sigma, 1, 1, 1);
    f = grid_field(ctx, grid, 2, 2, 2, 4, bbox, NULL);
    s = channel_shader(ctx, 1.0);
    m = th_uniform_sampler(ctx, 0);
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 4;
    pd.outputs = DVREN_OUTPUT_TRANSMITTANCE | DVREN_OUTPUT_SAMPLES;
    CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 1.0f, &pd.camera));
    th_march(&pd, 0, dt, thr);
    fb = th_render(ctx, f, s, m, &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    tr = th_out(fb, DVREN_OUTPUT_TRANSMITTANCE);
    CHECK_OK(ctx, dvren_framebuffer_output(fb, DVREN_OUTPUT_SAMPLES, &samples));
    n = ((const uint32_t*)samples.data)[5];
    expect = (uint32_t)ceil(log(1.0 / thr) / (sigma * dt)); /* first k with exp(-sigma k dt) < thr */
    CHECK(tr[5] < thr && tr[5] >= thr * exp(-sigma * dt) * (1 - 1e-4), "T = %g (threshold %g)", tr[5], thr);
    CHECK(n >= expect - 1 && n <= expect + 1, "%u samples, expected %u (of 2000)", n, expect);
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* A ball of radius r: density 1 inside (a one-voxel smooth edge), 0 outside. */
static float* ball_grid(int R, double r)
{
    float* d = (float*)malloc(sizeof(float) * 4 * R * R * R);
    int x, y, z;
    double h = 2.0 / (R - 1);
    if (!d) return NULL;
    for (z = 0; z < R; ++z)
        for (y = 0; y < R; ++y)
            for (x = 0; x < R; ++x) {
                double px = -1 + x * h, py = -1 + y * h, pz = -1 + z * h;
                double sd = sqrt(px * px + py * py + pz * pz) - r;
                double v = 0.5 - sd / h;
                float* o = d + 4 * ((size_t)(z * R + y) * R + x);
                o[0] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
                o[1] = o[2] = o[3] = 1.0f;
            }
    return d;
}

/* Chord length of a ray through the ball |p| < r (the test's own geometry). */
static double ball_chord(dvren_float3 o, dvren_float3 d, double r, double* closest)
{
    double b = (double)o.x * d.x + (double)o.y * d.y + (double)o.z * d.z;
    double c = (double)o.x * o.x + (double)o.y * o.y + (double)o.z * o.z - r * r;
    double disc = b * b - c;
    *closest = sqrt(c + r * r - b * b);
    return disc > 0 ? 2.0 * sqrt(disc) : 0.0;
}

/* A ball seen by an orthographic and a perspective camera. Moderate density:
 * alpha = 1 - exp(-sigma chord) per ray, the chord from the test's own
 * ray/sphere intersection; the image integral of alpha agrees to 1%. Opaque
 * density: the silhouette is the expected disc (alpha > 0.99 inside, < 1e-3
 * outside, with the grid's one-voxel soft shell as margin). */
TEST(sphere_silhouette)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const int R = 97, W = 96;
    const double r = 0.55, h = 2.0 / (R - 1);
    float* g = ball_grid(R, r);
    dvren_context* ctx = th_ctx();
    int cam, opaque;
    CHECK(g, "alloc");
    for (cam = 0; cam < 2; ++cam)
        for (opaque = 0; opaque < 2; ++opaque) {
            const float eye[3] = {0.3f, -0.2f, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
            const double sigma = opaque ? 400.0 : 2.0;
            dvren_stage* f = grid_field(ctx, g, R, R, R, 4, bbox, NULL);
            dvren_stage* s = channel_shader(ctx, sigma);
            dvren_stage* m = th_uniform_sampler(ctx, 0);
            dvren_plan_desc pd;
            dvren_framebuffer* fb;
            const float* al;
            double sum = 0.0, sum_ref = 0.0;
            int x, y, inside = 0, outside = 0;
            CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
            memset(&pd, 0, sizeof pd);
            pd.width = pd.height = (uint32_t)W;
            if (cam == 0) CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 2.4f, &pd.camera));
            else CHECK_OK(NULL, dvren_camera_look_at(eye, target, up, 0.6f, &pd.camera));
            th_march(&pd, 0, 0.25 * h, 0.0);
            fb = th_render(ctx, f, s, m, &pd, 0);
            CHECK(fb, "render: %s", dvren_last_error(ctx));
            al = th_out(fb, DVREN_OUTPUT_ALPHA);
            for (y = 0; y < W; ++y)
                for (x = 0; x < W; ++x) {
                    dvren_float3 o, d;
                    double closest, chord, ref;
                    float a = al[y * W + x];
                    dvren_camera_ray(&pd.camera, x + 0.5f, y + 0.5f, (float)W, (float)W, &o, &d);
                    chord = ball_chord(o, d, r, &closest);
                    ref = 1.0 - exp(-sigma * chord);
                    sum += a;
                    sum_ref += ref;
                    if (closest < r - 2 * h) {
                        inside++;
                        if (opaque) CHECK(a > 0.99f, "camera %d: pixel %d,%d inside the disc has alpha %g", cam, x, y, a);
                        else CHECK(fabs(a - ref) < 0.02, "camera %d: pixel %d,%d alpha %g, analytic %g", cam, x, y, a, ref);
                    } else if (closest > r + 2.5 * h) {
                        outside++;
                        CHECK(a < 1e-3f, "camera %d: pixel %d,%d outside the disc has alpha %g", cam, x, y, a);
                    }
                }
            CHECK(inside > 1000 && outside > 3000, "camera %d sees the ball and around it (%d, %d)", cam, inside, outside);
            if (!opaque)
                CHECK(fabs(sum / sum_ref - 1.0) < 0.01, "camera %d: image integral of alpha %g, analytic %g", cam, sum,
                      sum_ref);
            dvren_framebuffer_destroy(fb);
            dvren_stage_destroy(f);
            dvren_stage_destroy(s);
            dvren_stage_destroy(m);
        }
    free(g);
    dvren_context_destroy(ctx);
}

/* Trilinear interpolation in double precision, node-centred on [-1,1]^3. */
static double trilinear_ref(const float* g, int X, int Y, int Z, int C, int c, double px, double py, double pz)
{
    double f[3], w[3];
    int i0[3], n[3], a, dx, dy, dz;
    double acc = 0.0;
    n[0] = X;
    n[1] = Y;
    n[2] = Z;
    f[0] = (px + 1) / 2 * (X - 1);
    f[1] = (py + 1) / 2 * (Y - 1);
    f[2] = (pz + 1) / 2 * (Z - 1);
    for (a = 0; a < 3; ++a) {
        if (f[a] < 0) f[a] = 0;
        if (f[a] > n[a] - 1) f[a] = n[a] - 1;
        i0[a] = (int)floor(f[a]);
        if (i0[a] > n[a] - 2) i0[a] = n[a] - 2;
        w[a] = f[a] - i0[a];
    }
    for (dz = 0; dz < 2; ++dz)
        for (dy = 0; dy < 2; ++dy)
            for (dx = 0; dx < 2; ++dx) {
                double wt = (dx ? w[0] : 1 - w[0]) * (dy ? w[1] : 1 - w[1]) * (dz ? w[2] : 1 - w[2]);
                acc += wt * g[(((size_t)(i0[2] + dz) * Y + i0[1] + dy) * X + i0[0] + dx) * C + c];
            }
    return acc;
}

TEST(trilinear)
{
    enum { X = 5, Y = 4, Z = 3, C = 2 };
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    float g[X * Y * Z * C], pts[3 * 64], out[2 * 64];
    dvren_context* ctx = th_ctx();
    dvren_stage* f;
    dvren_rng rng = dvren_rng_make(2024u, 0u, 0u, 0u, 0u);
    int i, x, y, z, c;
    for (i = 0; i < X * Y * Z * C; ++i) g[i] = dvren_rng_uniform(&rng) * 10.0f - 3.0f;
    f = grid_field(ctx, g, X, Y, Z, C, bbox, NULL);
    CHECK(f, "field: %s", dvren_last_error(ctx));
    /* exact at voxel centres */
    for (z = 0; z < Z; ++z)
        for (y = 0; y < Y; ++y)
            for (x = 0; x < X; ++x) {
                float p[3];
                p[0] = -1.0f + 2.0f * x / (X - 1);
                p[1] = -1.0f + 2.0f * y / (Y - 1);
                p[2] = -1.0f + 2.0f * z / (Z - 1);
                CHECK_OK(ctx, dvren_field_sample(f, 1, p, out));
                for (c = 0; c < C; ++c) {
                    float v = g[((z * Y + y) * X + x) * C + c];
                    CHECK(fabsf(out[c] - v) <= 1e-6f * fabsf(v) + 1e-6f, "voxel %d,%d,%d ch %d: %.9g != %.9g", x, y, z,
                          c, out[c], v);
                }
            }
    /* linear between two neighbours along each axis */
    for (i = 0; i <= 10; ++i) {
        double t = i / 10.0;
        float p[3];
        p[0] = (float)(-1.0 + 2.0 * (1 + t) / (X - 1)); /* between x = 1 and x = 2 */
        p[1] = -1.0f + 2.0f * 2 / (Y - 1);
        p[2] = -1.0f + 2.0f * 1 / (Z - 1);
        CHECK_OK(ctx, dvren_field_sample(f, 1, p, out));
        {
            double a = g[((1 * Y + 2) * X + 1) * C], b = g[((1 * Y + 2) * X + 2) * C];
            CHECK(fabs(out[0] - ((1 - t) * a + t * b)) < 2e-5, "t = %g: %.8g vs %.8g", t, out[0], (1 - t) * a + t * b);
        }
    }
    /* random points (inside and outside the box: border clamping) */
    for (i = 0; i < 64; ++i) {
        pts[3 * i + 0] = dvren_rng_uniform(&rng) * 2.4f - 1.2f;
        pts[3 * i + 1] = dvren_rng_uniform(&rng) * 2.4f - 1.2f;
        pts[3 * i + 2] = dvren_rng_uniform(&rng) * 2.4f - 1.2f;
    }
    CHECK_OK(ctx, dvren_field_sample(f, 64, pts, out));
    for (i = 0; i < 64; ++i)
        for (c = 0; c < C; ++c) {
            double ref = trilinear_ref(g, X, Y, Z, C, c, pts[3 * i], pts[3 * i + 1], pts[3 * i + 2]);
            CHECK(fabs(out[2 * i + c] - ref) < 3e-5, "point %d ch %d: %.8g vs reference %.8g", i, c, out[2 * i + c], ref);
        }
    dvren_stage_destroy(f);
    /* cell centring: voxel i's centre is at -1 + (i + 0.5) * 2 / n */
    f = grid_field(ctx, g, X, Y, Z, C, bbox, "cell");
    CHECK(f, "field: %s", dvren_last_error(ctx));
    {
        float p[3];
        p[0] = -1.0f + (3 + 0.5f) * 2.0f / X;
        p[1] = -1.0f + (1 + 0.5f) * 2.0f / Y;
        p[2] = -1.0f + (2 + 0.5f) * 2.0f / Z;
        CHECK_OK(ctx, dvren_field_sample(f, 1, p, out));
        CHECK(fabsf(out[1] - g[((2 * Y + 1) * X + 3) * C + 1]) < 1e-5f, "cell centre: %g", out[1]);
    }
    dvren_stage_destroy(f);
    dvren_context_destroy(ctx);
}

/* A small scene with jitter and several rays per pixel (both use the RNG). */
static dvren_framebuffer* jitter_render(dvren_context* ctx, uint32_t threads, uint64_t seed, dvren_rect roi)
{
    dvren_params* p = NULL;
    double dims[3] = {24, 20, 18};
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float eye[3] = {1.5f, 1.2f, 2.2f}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    dvren_params_create(ctx, &p);
    dvren_params_set_string(p, "generator", "peer");
    dvren_params_set_numbers(p, "dims", dims, 3);
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    dvren_params_create(ctx, &p);
    dvren_params_set_string(p, "mode", "channels");
    dvren_params_set_number(p, "sigma_scale", 2.0);
    dvren_params_set_bool(p, "shading", 1);
    s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
    m = th_uniform_sampler(ctx, 1);
    memset(&pd, 0, sizeof pd);
    pd.width = 53;
    pd.height = 41;
    pd.spp = 3;
    pd.seed = seed;
    pd.roi = roi;
    pd.outputs = DVREN_OUTPUT_ALL;
    dvren_camera_look_at(eye, target, up, 0.9f, &pd.camera);
    th_march(&pd, 0, 0.02, 1e-3);
    fb = (f && s && m) ? th_render(ctx, f, s, m, &pd, threads) : NULL;
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    return fb;
}

static int fb_equal(const dvren_framebuffer* a, const dvren_framebuffer* b)
{
    uint32_t bit;
    for (bit = 1; bit <= DVREN_OUTPUT_SAMPLES; bit <<= 1) {
        dvren_tensor ta, tb;
        if (dvren_framebuffer_output(a, bit, &ta) || dvren_framebuffer_output(b, bit, &tb)) return 0;
        if (memcmp(ta.data, tb.data, (size_t)dvren_tensor_numel(&ta) * dvren_dtype_size(ta.dtype))) return 0;
    }
    return 1;
}

TEST(determinism_threads_and_runs)
{
    dvren_context* ctx = th_ctx();
    dvren_rect full = {0, 0, 0, 0};
    dvren_framebuffer *a = jitter_render(ctx, 1, 7, full), *b = jitter_render(ctx, 2, 7, full);
    dvren_framebuffer *c = jitter_render(ctx, 8, 7, full), *d = jitter_render(ctx, 8, 7, full);
    dvren_framebuffer* e = jitter_render(ctx, 8, 8, full);
    CHECK(a && b && c && d && e, "render: %s", dvren_last_error(ctx));
    CHECK(fb_equal(a, b), "1 thread vs 2 threads differ");
    CHECK(fb_equal(a, c), "1 thread vs 8 threads differ");
    CHECK(fb_equal(c, d), "two runs with 8 threads differ");
    CHECK(!fb_equal(a, e), "another seed gives the same image: the seed is not used");
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    dvren_framebuffer_destroy(c);
    dvren_framebuffer_destroy(d);
    dvren_framebuffer_destroy(e);
    dvren_context_destroy(ctx);
}

/* An roi render writes exactly the roi's pixels, identical to the full render's. */
TEST(roi)
{
    dvren_context* ctx = th_ctx();
    dvren_rect full = {0, 0, 0, 0}, roi = {11, 7, 20, 13};
    dvren_framebuffer *a = jitter_render(ctx, 0, 3, full), *b = jitter_render(ctx, 0, 3, roi);
    const float *ra, *rb;
    int x, y, c;
    CHECK(a && b, "render: %s", dvren_last_error(ctx));
    ra = th_out(a, DVREN_OUTPUT_RGB);
    rb = th_out(b, DVREN_OUTPUT_RGB);
    for (y = 0; y < 41; ++y)
        for (x = 0; x < 53; ++x)
            for (c = 0; c < 3; ++c) {
                int in = x >= 11 && x < 31 && y >= 7 && y < 20, i = (y * 53 + x) * 3 + c;
                if (in) CHECK(ra[i] == rb[i], "pixel %d,%d differs inside the roi", x, y);
                else CHECK(rb[i] == 0.0f, "pixel %d,%d outside the roi was written", x, y);
            }
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    dvren_context_destroy(ctx);
}

/* Background: rgb = C + T * background. */
TEST(background)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    float grid[8 * 4];
    dvren_context* ctx = th_ctx();
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer *a, *b;
    const float *ra, *rb, *tr;
    int i;
    fill_const(grid, 8, 0.3f, 0.9f, 0.5f, 0.1f);
    f = grid_field(ctx, grid, 2, 2, 2, 4, bbox, NULL);
    s = channel_shader(ctx, 1.0);
    m = th_uniform_sampler(ctx, 0);
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 6;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_TRANSMITTANCE;
    CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 3.0f, &pd.camera)); /* some rays miss */
    th_march(&pd, 0, 0.01, 0.0);
    a = th_render(ctx, f, s, m, &pd, 0);
    pd.background[0] = 0.25f;
    pd.background[1] = 0.5f;
    pd.background[2] = 1.0f;
    b = th_render(ctx, f, s, m, &pd, 0);
    CHECK(a && b, "render: %s", dvren_last_error(ctx));
    ra = th_out(a, DVREN_OUTPUT_RGB);
    rb = th_out(b, DVREN_OUTPUT_RGB);
    tr = th_out(a, DVREN_OUTPUT_TRANSMITTANCE);
    for (i = 0; i < 36; ++i) CHECK(fabsf(rb[3 * i + 2] - (ra[3 * i + 2] + tr[i] * 1.0f)) < 1e-6f, "pixel %d", i);
    CHECK(rb[2] == 1.0f && tr[0] == 1.0f, "corner pixel misses: background only");
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* Lambert shading of a ball lit from the camera: the centre (n.L = 1) gets
 * colour * (ambient + diffuse), a pixel near the rim much less. */
TEST(gradient_shading)
{
    static const double bbox[6] = {-1, -1, -1, 1, 1, 1};
    const int R = 65;
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    float* g = ball_grid(R, 0.6);
    double light[3] = {0, 0, 1}, tfo[4] = {0, 0, 0.5, 1}, tfc[4] = {0, 0.8, 0.6, 0.4};
    dvren_context* ctx = th_ctx();
    dvren_params* p;
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float* rgb;
    CHECK(g, "alloc");
    f = grid_field(ctx, g, R, R, R, 4, bbox, NULL);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    dvren_params_set_numbers(p, "tf_opacity", tfo, 4);
    dvren_params_set_numbers(p, "tf_color", tfc, 4);
    dvren_params_set_number(p, "sigma_scale", 300);
    dvren_params_set_bool(p, "shading", 1);
    dvren_params_set_numbers(p, "light_dir", light, 3);
    dvren_params_set_number(p, "ambient", 0.2);
    dvren_params_set_number(p, "diffuse", 0.8);
    s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
    m = th_uniform_sampler(ctx, 0);
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 64;
    CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 2.0f, &pd.camera));
    th_march(&pd, 0, 0.005, 1e-4);
    fb = th_render(ctx, f, s, m, &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    rgb = th_out(fb, DVREN_OUTPUT_RGB);
    /* centre pixel: colour (0.8, 0.6, 0.4) x (0.2 + 0.8 * 1) */
    CHECK(fabsf(rgb[(32 * 64 + 32) * 3 + 0] - 0.8f) < 0.03f, "centre red %g", rgb[(32 * 64 + 32) * 3]);
    /* 0.55 from the centre on a ball of 0.6: n.L = sqrt(1 - (0.55/0.6)^2) = 0.4 */
    {
        int x = 32 + (int)(0.55 / (2.0 / 64));
        float r = rgb[(32 * 64 + x) * 3 + 0];
        CHECK(r < 0.8f * (0.2f + 0.8f * 0.55f) && r > 0.8f * 0.2f, "rim red %g", r);
    }
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    free(g);
    dvren_context_destroy(ctx);
}

static int cancel_at_3(void* user, uint64_t done, uint64_t total)
{
    (void)total;
    *(int*)user += 1;
    return done >= 3;
}

TEST(cancel_and_plan_errors)
{
    dvren_context* ctx = th_ctx();
    dvren_params* p;
    dvren_stage *f, *s, *m;
    dvren_scene* scene;
    dvren_scene_desc sd;
    dvren_plan_desc pd;
    dvren_plan *plan, *other;
    dvren_framebuffer* fb;
    dvren_render_options ro;
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    int calls = 0;
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    dvren_params_set_string(p, "generator", "marschner_lobb");
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    {
        double tfo[2] = {0, 1};
        dvren_params_set_numbers(p, "tf_opacity", tfo, 2);
    }
    s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
    m = th_uniform_sampler(ctx, 0);
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    /* slots must hold the right kinds */
    memset(&sd, 0, sizeof sd);
    sd.field = s;
    sd.shader = f;
    sd.sampler = m;
    CHECK(dvren_scene_create(ctx, &sd, &scene) == DVREN_ERROR_INVALID_ARGUMENT, "swapped slots");
    CHECK(strstr(dvren_last_error(ctx), "field slot holds shader plugin"), "%s", dvren_last_error(ctx));
    sd.field = f;
    sd.shader = s;
    CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &scene));
    memset(&pd, 0, sizeof pd);
    pd.width = 64;
    pd.height = 64;
    CHECK(dvren_plan_create(ctx, &pd, &plan) == DVREN_ERROR_INVALID_ARGUMENT, "no camera");
    CHECK(strstr(dvren_last_error(ctx), "camera is not set"), "%s", dvren_last_error(ctx));
    CHECK_OK(NULL, dvren_camera_look_at(eye, target, up, 0.7f, &pd.camera));
    pd.roi.x = 60;
    pd.roi.w = 10;
    pd.roi.h = 10;
    CHECK(dvren_plan_create(ctx, &pd, &plan) == DVREN_ERROR_INVALID_ARGUMENT, "roi outside");
    CHECK(strstr(dvren_last_error(ctx), "roi"), "%s", dvren_last_error(ctx));
    memset(&pd.roi, 0, sizeof pd.roi);
    pd.min_transmittance = 1.0f; /* the plan owns early termination: [0, 1), or negative for none */
    CHECK(dvren_plan_create(ctx, &pd, &plan) == DVREN_ERROR_INVALID_ARGUMENT, "min_transmittance 1");
    CHECK(strstr(dvren_last_error(ctx), "min_transmittance = 1 must be below 1"), "%s", dvren_last_error(ctx));
    pd.min_transmittance = 0.0f;
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &plan));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    pd.width = 32;
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &other));
    CHECK(dvren_render(scene, other, fb, NULL) == DVREN_ERROR_INVALID_ARGUMENT, "framebuffer of another size");
    memset(&ro, 0, sizeof ro);
    ro.threads = 1;
    ro.progress = cancel_at_3;
    ro.progress_user = &calls;
    CHECK(dvren_render(scene, plan, fb, &ro) == DVREN_ERROR_CANCELLED, "cancel");
    CHECK(calls == 3, "progress called %d times before stopping", calls);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_plan_destroy(other);
    dvren_scene_destroy(scene);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(slab_transmittance_axis);
    RUN(slab_opacity_per_step);
    RUN(slab_transmittance_oblique);
    RUN(early_termination);
    RUN(sphere_silhouette);
    RUN(trilinear);
    RUN(determinism_threads_and_runs);
    RUN(roi);
    RUN(background);
    RUN(gradient_shading);
    RUN(cancel_and_plan_errors);
    return th_done();
}
