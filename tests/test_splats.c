/* tests/test_splats.c - the splat renderer (dvren_splat_render /
 * dvren_splat_backward, kernels/dvren_splat.h) on the CPU.
 *
 * Expectations come from outside the code under test: closed forms for one
 * and two Gaussians (the 2-D covariance worked out here from the pinhole
 * Jacobian, alpha = min(cap, o exp(-d^T Q d / 2)), front-to-back
 * compositing written out by hand), exact SH rotation matrices for
 * quarter turns, and float64 central finite differences of a float64
 * pipeline of this test's own (every Gaussian tested against every tile,
 * lists sorted with qsort) for the gradients. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define C0 0.28209479177387814

/* A camera at the origin looking down +z (OpenCV), fx = fy = f, principal point (cx, cy). */
static void cam_identity(float f, float cx, float cy, dvren_camera* cam)
{
    float V[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    float K[9] = {0};
    K[0] = f;
    K[4] = f;
    K[2] = cx;
    K[5] = cy;
    K[8] = 1;
    if (dvren_camera_from_opencv(V, K, cam) != DVREN_OK) memset(cam, 0, sizeof *cam);
}

/* Host splat parameters with storage. */
typedef struct hsplats {
    dvren_splat_params p;
    float *means, *ls, *q, *op, *sh;
} hsplats;

static void hs_init(hsplats* h, uint32_t n, uint32_t deg)
{
    uint32_t K = (deg + 1) * (deg + 1);
    int64_t s3[2] = {n, 3}, s4[2] = {n, 4}, s1[1] = {n}, ssh[3] = {n, K, 3};
    memset(h, 0, sizeof *h);
    h->means = (float*)calloc((size_t)n * 3 + 1, 4);
    h->ls = (float*)calloc((size_t)n * 3 + 1, 4);
    h->q = (float*)calloc((size_t)n * 4 + 1, 4);
    h->op = (float*)calloc((size_t)n + 1, 4);
    h->sh = (float*)calloc((size_t)n * 3 * K + 1, 4);
    h->p.count = n;
    h->p.sh_degree = deg;
    dvren_tensor_wrap(h->means, DVREN_DTYPE_F32, 2, s3, NULL, &h->p.means);
    dvren_tensor_wrap(h->ls, DVREN_DTYPE_F32, 2, s3, NULL, &h->p.log_scales);
    dvren_tensor_wrap(h->q, DVREN_DTYPE_F32, 2, s4, NULL, &h->p.quats);
    dvren_tensor_wrap(h->op, DVREN_DTYPE_F32, 1, s1, NULL, &h->p.opacity_logits);
    dvren_tensor_wrap(h->sh, DVREN_DTYPE_F32, 3, ssh, NULL, &h->p.sh);
}

static void hs_free(hsplats* h)
{
    free(h->means);
    free(h->ls);
    free(h->q);
    free(h->op);
    free(h->sh);
}

static float logit(double o) { return (float)log(o / (1.0 - o)); }

/* Sets Gaussian i: isotropic sigma, identity rotation, opacity o, degree-0 colour rgb. */
static void hs_set(hsplats* h, uint32_t i, double x, double y, double z, double sigma, double o, const double* rgb)
{
    uint32_t K = (h->p.sh_degree + 1) * (h->p.sh_degree + 1), c;
    h->means[3 * i] = (float)x;
    h->means[3 * i + 1] = (float)y;
    h->means[3 * i + 2] = (float)z;
    h->ls[3 * i] = h->ls[3 * i + 1] = h->ls[3 * i + 2] = (float)log(sigma);
    h->q[4 * i] = 1;
    h->q[4 * i + 1] = h->q[4 * i + 2] = h->q[4 * i + 3] = 0;
    h->op[i] = logit(o);
    for (c = 0; c < 3; ++c) h->sh[3 * K * i + c] = (float)((rgb[c] - 0.5) / C0);
}

static dvren_plan* mkplan(dvren_context* ctx, uint32_t w, uint32_t h, const dvren_camera* cam, uint32_t outputs)
{
    dvren_plan_desc pd;
    dvren_plan* plan = NULL;
    memset(&pd, 0, sizeof pd);
    pd.width = w;
    pd.height = h;
    pd.camera = *cam;
    pd.outputs = outputs;
    if (dvren_plan_create(ctx, &pd, &plan) != DVREN_OK) return NULL;
    return plan;
}

#define ALL_OUT                                                                                                        \
    (DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_TRANSMITTANCE |                         \
     DVREN_OUTPUT_MEDIAN_DEPTH | DVREN_OUTPUT_SAMPLES)

/* alpha of an isotropic-in-3D Gaussian at (X, Y, Z) with std sigma, seen by
 * cam_identity(f, cx, cy), at pixel centre (px, py): the test's own EWA. */
static double ewa_alpha(double X, double Y, double Z, double sigma, double o, double f, double cx, double cy, double px,
                        double py, double cap)
{
    /* J = [f/Z 0 -f X/Z^2; 0 f/Z -f Y/Z^2]; Sigma' = sigma^2 J J^T + 0.3 I */
    double j00 = f / Z, j02 = -f * X / (Z * Z), j11 = f / Z, j12 = -f * Y / (Z * Z);
    double a = sigma * sigma * (j00 * j00 + j02 * j02) + 0.3, b = sigma * sigma * (j02 * j12),
           c = sigma * sigma * (j11 * j11 + j12 * j12) + 0.3;
    double det = a * c - b * b, mx = f * X / Z + cx, my = f * Y / Z + cy, dx = mx - px, dy = my - py;
    double s = 0.5 * (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det;
    double al = o * exp(-s);
    if (al > cap) al = cap;
    return al < 1.0 / 255.0 ? 0.0 : al;
}

TEST(one_gaussian_closed_form)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam;
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_plan* plan;
    hsplats h;
    const double rgb[3] = {0.2, 0.4, 0.9};
    double worst = 0, X = 0.3, Y = -0.2, Z = 2.0, sg = 0.05, o = 0.8;
    uint32_t x, y, hits = 0;
    const float *img, *al, *dep, *tr, *med;
    const uint32_t* cnt;
    cam_identity(100.0f, 32.0f, 30.0f, &cam);
    hs_init(&h, 1, 0);
    hs_set(&h, 0, X, Y, Z, sg, o, rgb);
    plan = mkplan(ctx, 64, 60, &cam, ALL_OUT);
    CHECK(plan != NULL, "plan: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    CHECK_OK(ctx, dvren_splat_render(r, &h.p, plan, fb, NULL));
    img = th_out(fb, DVREN_OUTPUT_RGB);
    al = th_out(fb, DVREN_OUTPUT_ALPHA);
    dep = th_out(fb, DVREN_OUTPUT_DEPTH);
    tr = th_out(fb, DVREN_OUTPUT_TRANSMITTANCE);
    med = th_out(fb, DVREN_OUTPUT_MEDIAN_DEPTH);
    cnt = (const uint32_t*)(const void*)th_out(fb, DVREN_OUTPUT_SAMPLES);
    for (y = 0; y < 60; ++y)
        for (x = 0; x < 64; ++x) {
            size_t i = (size_t)y * 64 + x;
            double a = ewa_alpha(X, Y, Z, sg, o, 100, 32, 30, x + 0.5, y + 0.5, 0.99), e;
            int c;
            e = fabs(al[i] - a);
            for (c = 0; c < 3; ++c) e = fmax(e, fabs(img[3 * i + c] - rgb[c] * a));
            e = fmax(e, fabs(tr[i] - (1 - a)));
            e = fmax(e, fabs(dep[i] - (a > 0 ? Z : 0)));
            e = fmax(e, fabs(med[i] - (a >= 0.5 ? Z : 0)));
            if (a > 0) hits++;
            CHECK(cnt[i] == (a > 0 ? 1u : 0u), "pixel (%u, %u): count %u, alpha %g", x, y, cnt[i], a);
            if (e > worst) worst = e;
        }
    CHECK(worst < 2e-5, "largest difference from the closed form %g", worst);
    CHECK(hits > 100, "only %u pixels covered", hits);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    dvren_context_destroy(ctx);
}

TEST(two_gaussians_depth_order)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam;
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_plan* plan;
    hsplats h;
    const double c1[3] = {1.0, 0.1, 0.1}, c2[3] = {0.1, 0.2, 1.0};
    double worst = 0;
    uint32_t x, y, pass;
    cam_identity(80.0f, 16.0f, 16.0f, &cam);
    plan = mkplan(ctx, 32, 32, &cam, ALL_OUT);
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    hs_init(&h, 2, 0);
    for (pass = 0; pass < 2; ++pass) {
        /* the near one (z 2) is listed second in the first pass, first in the second */
        hs_set(&h, pass ? 0 : 1, 0.0, 0.0, 2.0, 0.04, 0.7, c1);
        hs_set(&h, pass ? 1 : 0, 0.02, 0.01, 3.0, 0.06, 0.9, c2);
        CHECK_OK(ctx, dvren_splat_render(r, &h.p, plan, fb, NULL));
        {
            const float* img = th_out(fb, DVREN_OUTPUT_RGB);
            const float* al = th_out(fb, DVREN_OUTPUT_ALPHA);
            const float* dep = th_out(fb, DVREN_OUTPUT_DEPTH);
            for (y = 0; y < 32; ++y)
                for (x = 0; x < 32; ++x) {
                    size_t i = (size_t)y * 32 + x;
                    double a1 = ewa_alpha(0, 0, 2, 0.04, 0.7, 80, 16, 16, x + 0.5, y + 0.5, 0.99);
                    double a2 = ewa_alpha(0.02, 0.01, 3, 0.06, 0.9, 80, 16, 16, x + 0.5, y + 0.5, 0.99);
                    double A = 1 - (1 - a1) * (1 - a2), e = fabs(al[i] - A);
                    int c;
                    for (c = 0; c < 3; ++c) e = fmax(e, fabs(img[3 * i + c] - (c1[c] * a1 + c2[c] * a2 * (1 - a1))));
                    if (A > 0) e = fmax(e, fabs(dep[i] - (2 * a1 + 3 * a2 * (1 - a1)) / A));
                    if (e > worst) worst = e;
                }
        }
    }
    CHECK(worst < 2e-5, "largest difference from the closed form %g", worst);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    dvren_context_destroy(ctx);
}

TEST(alpha_cap_and_early_stop)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam;
    dvren_splat_renderer* r = NULL;
    dvren_splat_options opt;
    dvren_framebuffer* fb = NULL;
    dvren_plan* plan;
    hsplats h;
    const double red[3] = {1, 0, 0}, green[3] = {0, 1, 0}, blue[3] = {0, 0, 1};
    const float* img;
    const uint32_t* cnt;
    size_t i = 8 * 16 + 8;
    cam_identity(50.0f, 8.5f, 8.5f, &cam); /* the means project onto pixel (8, 8)'s centre */
    plan = mkplan(ctx, 16, 16, &cam, ALL_OUT);
    memset(&opt, 0, sizeof opt);
    opt.alpha_max = 0.999f;
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, &opt, &r));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    hs_init(&h, 3, 0);
    /* opacity 0.99999 at the pixel centre: alpha capped at 0.999; T = 1e-3
     * after the first, the second would take it to 1e-6 <= 1e-4: stop */
    hs_set(&h, 0, 0, 0, 2, 0.2, 0.99999, red);
    hs_set(&h, 1, 0, 0, 3, 0.2, 0.99999, green);
    hs_set(&h, 2, 0, 0, 4, 0.2, 0.99999, blue);
    CHECK_OK(ctx, dvren_splat_render(r, &h.p, plan, fb, NULL));
    img = th_out(fb, DVREN_OUTPUT_RGB);
    cnt = (const uint32_t*)(const void*)th_out(fb, DVREN_OUTPUT_SAMPLES);
    CHECK(cnt[i] == 1, "count %u, expected 1 (stop before T <= 1e-4)", cnt[i]);
    CHECK(fabs(img[3 * i] - 0.999) < 1e-6 && img[3 * i + 1] == 0.0f, "rgb (%g, %g, %g)", img[3 * i], img[3 * i + 1],
          img[3 * i + 2]);
    dvren_splat_renderer_destroy(r);
    /* the default cap, 0.99: 1 - 0.99 = 0.01, then 1e-4 <= 1e-4 stops too */
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren_splat_render(r, &h.p, plan, fb, NULL));
    img = th_out(fb, DVREN_OUTPUT_RGB);
    CHECK(fabs(img[3 * i] - 0.99) < 1e-6, "red %g, expected the 0.99 cap", img[3 * i]);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    dvren_context_destroy(ctx);
}

TEST(sh_view_dependent_colour)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam;
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_plan* plan;
    hsplats h;
    const double grey[3] = {0.5, 0.5, 0.5};
    double n[3], len, expect[3], a;
    const float* img;
    int c;
    /* a Gaussian off the axis: its view direction is (X, Y, Z) / |.| */
    double X = 0.4, Y = 0.3, Z = 2.0;
    size_t px = 0;
    cam_identity(60.0f, 32.0f, 32.0f, &cam);
    plan = mkplan(ctx, 64, 64, &cam, DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA);
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    hs_init(&h, 1, 1);
    hs_set(&h, 0, X, Y, Z, 0.05, 0.9, grey);
    /* degree-1 coefficients: red 0.3 on b1 (-C1 y), green -0.2 on b2 (C1 z), blue 0.5 on b3 (-C1 x) */
    h.sh[3 * 1 + 0] = 0.3f;
    h.sh[3 * 2 + 1] = -0.2f;
    h.sh[3 * 3 + 2] = 0.5f;
    CHECK_OK(ctx, dvren_splat_render(r, &h.p, plan, fb, NULL));
    len = sqrt(X * X + Y * Y + Z * Z);
    n[0] = X / len;
    n[1] = Y / len;
    n[2] = Z / len;
    expect[0] = 0.5 + 0.3 * (-0.4886025119029199 * n[1]);
    expect[1] = 0.5 - 0.2 * (0.4886025119029199 * n[2]);
    expect[2] = 0.5 + 0.5 * (-0.4886025119029199 * n[0]);
    /* the pixel under the mean: 60 * 0.4 / 2 + 32 = 44, 60 * 0.3 / 2 + 32 = 41 */
    px = (size_t)41 * 64 + 44;
    img = th_out(fb, DVREN_OUTPUT_RGB);
    a = th_out(fb, DVREN_OUTPUT_ALPHA)[px];
    CHECK(a > 0.5, "alpha %g under the mean", a);
    for (c = 0; c < 3; ++c)
        CHECK(fabs(img[3 * px + c] / a - expect[c]) < 1e-5, "channel %d: %g, expected %g", c, img[3 * px + c] / a,
              expect[c]);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    dvren_context_destroy(ctx);
}

/* ---- random scenes ------------------------------------------------------------------ */

static double urand(uint64_t* s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* n Gaussians in front of cam_identity, of SH degree deg. */
static void random_scene(hsplats* h, uint32_t n, uint32_t deg, uint64_t seed, double spread)
{
    uint64_t s = seed;
    uint32_t i, k, K = (deg + 1) * (deg + 1);
    hs_init(h, n, deg);
    for (i = 0; i < n; ++i) {
        h->means[3 * i] = (float)((urand(&s) - 0.5) * spread);
        h->means[3 * i + 1] = (float)((urand(&s) - 0.5) * spread);
        h->means[3 * i + 2] = (float)(1.5 + urand(&s) * 2.0);
        for (k = 0; k < 3; ++k) h->ls[3 * i + k] = (float)log(0.03 + 0.12 * urand(&s));
        for (k = 0; k < 4; ++k) h->q[4 * i + k] = (float)(urand(&s) - 0.5);
        h->q[4 * i] += 0.6f;
        h->op[i] = (float)(urand(&s) * 4.0 - 1.5);
        for (k = 0; k < 3 * K; ++k) h->sh[3 * K * i + k] = (float)((urand(&s) - 0.5) * (k < 3 ? 2.0 : 0.6));
    }
}

/* Renders and runs backward with a fixed cotangent; copies outputs and gradients out. */
static int render_and_grad(dvren_context* ctx, const hsplats* h, const dvren_camera* cam, uint32_t w, uint32_t ht,
                           float* out_rgb, float* grads_all, size_t gcount)
{
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer *fb = NULL, *cot = NULL;
    dvren_plan* plan = mkplan(ctx, w, ht, cam, DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH);
    hsplats g;
    int ok = 0;
    uint32_t K = (h->p.sh_degree + 1) * (h->p.sh_degree + 1);
    size_t n = h->p.count, i;
    if (!plan) return 0;
    hs_init(&g, h->p.count, h->p.sh_degree);
    if (dvren_splat_renderer_create(ctx, NULL, &r) != DVREN_OK || dvren_framebuffer_create(ctx, plan, &fb) != DVREN_OK ||
        dvren_framebuffer_create_outputs(ctx, plan, DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH, &cot) !=
            DVREN_OK)
        goto done;
    if (dvren_splat_render(r, &h->p, plan, fb, NULL) != DVREN_OK) goto done;
    {
        dvren_tensor t;
        uint64_t s = 99;
        float* v;
        dvren_framebuffer_output(cot, DVREN_OUTPUT_RGB, &t);
        v = (float*)t.data;
        for (i = 0; i < (size_t)w * ht * 3; ++i) v[i] = (float)(urand(&s) - 0.5);
        dvren_framebuffer_output(cot, DVREN_OUTPUT_ALPHA, &t);
        v = (float*)t.data;
        for (i = 0; i < (size_t)w * ht; ++i) v[i] = (float)(urand(&s) - 0.5);
        dvren_framebuffer_output(cot, DVREN_OUTPUT_DEPTH, &t);
        v = (float*)t.data;
        for (i = 0; i < (size_t)w * ht; ++i) v[i] = (float)(0.1 * (urand(&s) - 0.5));
    }
    if (dvren_splat_backward(r, &h->p, cot, &g.p) != DVREN_OK) goto done;
    memcpy(out_rgb, th_out(fb, DVREN_OUTPUT_RGB), (size_t)w * ht * 12);
    if (gcount == n * (11 + 3 * K)) {
        memcpy(grads_all, g.means, n * 12);
        memcpy(grads_all + 3 * n, g.ls, n * 12);
        memcpy(grads_all + 6 * n, g.q, n * 16);
        memcpy(grads_all + 10 * n, g.op, n * 4);
        memcpy(grads_all + 11 * n, g.sh, n * 12 * K);
        ok = 1;
    }
done:
    if (!ok) fprintf(stderr, "render_and_grad: %s\n", dvren_last_error(ctx));
    dvren_framebuffer_destroy(fb);
    dvren_framebuffer_destroy(cot);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&g);
    return ok;
}

TEST(deterministic_for_any_thread_count)
{
    dvren_camera cam;
    hsplats h;
    uint32_t w = 96, ht = 72, K = 16, threads[3] = {1, 2, 7}, t;
    size_t gn = 300 * (11 + 3 * K);
    float *img0 = (float*)malloc((size_t)w * ht * 12), *img = (float*)malloc((size_t)w * ht * 12);
    float *g0 = (float*)malloc(gn * 4), *g = (float*)malloc(gn * 4);
    cam_identity(90.0f, 48.0f, 36.0f, &cam);
    random_scene(&h, 300, 3, 7, 2.0);
    for (t = 0; t < 3; ++t) {
        dvren_context* ctx = th_ctx_threads(threads[t]);
        CHECK(render_and_grad(ctx, &h, &cam, w, ht, t ? img : img0, t ? g : g0, gn), "render with %u threads",
              threads[t]);
        if (t) {
            CHECK(memcmp(img, img0, (size_t)w * ht * 12) == 0, "%u threads: image differs from 1 thread", threads[t]);
            CHECK(memcmp(g, g0, gn * 4) == 0, "%u threads: gradients differ from 1 thread", threads[t]);
        }
        dvren_context_destroy(ctx);
    }
    hs_free(&h);
    free(img0);
    free(img);
    free(g0);
    free(g);
}

/* ---- float64 reference pipeline and finite differences ---------------------------------- */

typedef struct ref64 {
    uint32_t n, K;
    double *means, *ls, *q, *op, *sh; /* views into one array: the flat parameter vector */
} ref64;

static const dvren__splat_proj_64* g_sort_proj;
static int by_depth(const void* a, const void* b)
{
    uint32_t i = *(const uint32_t*)a, j = *(const uint32_t*)b;
    double di = g_sort_proj[i].depth, dj = g_sort_proj[j].depth;
    if (di < dj) return -1;
    if (di > dj) return 1;
    return i < j ? -1 : (i > j);
}

/* The loss sum(cot * outputs) of a float64 render; with grad != NULL also
 * its gradient with respect to the flat parameter vector. */
static double ref_loss(const dvren_splat_view* v, const ref64* R, const double* cot_rgb, const double* cot_a,
                       const double* cot_d, double* grad)
{
    uint32_t n = R->n, i, tx, ty, x, y, c;
    dvren__splat_proj_64* P = (dvren__splat_proj_64*)calloc(n + 1, sizeof *P);
    uint32_t* list = (uint32_t*)malloc((n + 1) * 4);
    double* slots = (double*)malloc(((size_t)n + 1) * DVREN_SPLAT_GRAD_FLOATS * sizeof(double));
    double* gp = (double*)calloc(((size_t)n + 1) * DVREN_SPLAT_GRAD_FLOATS, sizeof(double));
    double loss = 0;
    for (i = 0; i < n; ++i)
        dvren__splat_project_64(v, R->means + 3 * i, R->ls + 3 * i, R->q + 4 * i, R->op[i], R->sh + 3 * R->K * i, &P[i]);
    g_sort_proj = P;
    for (ty = 0; ty < v->tiles_y; ++ty)
        for (tx = 0; tx < v->tiles_x; ++tx) {
            uint32_t m = 0, k;
            /* every visible Gaussian whose box reaches this tile: the test's own rect */
            for (i = 0; i < n; ++i) {
                double t0x, t0y, t1x, t1y;
                if (P[i].rx <= 0) continue;
                t0x = floor((P[i].x - P[i].rx) / 16.0);
                t1x = ceil((P[i].x + P[i].rx) / 16.0);
                t0y = floor((P[i].y - P[i].ry) / 16.0);
                t1y = ceil((P[i].y + P[i].ry) / 16.0);
                if (tx >= t0x && tx < t1x && ty >= t0y && ty < t1y) list[m++] = i;
            }
            qsort(list, m, 4, by_depth);
            memset(slots, 0, ((size_t)m + 1) * DVREN_SPLAT_GRAD_FLOATS * sizeof(double));
            for (y = ty * 16; y < (ty + 1) * 16 && y < v->height; ++y)
                for (x = tx * 16; x < (tx + 1) * 16 && x < v->width; ++x) {
                    dvren__splat_px_64 o;
                    size_t pix = (size_t)y * v->width + x;
                    double a, d;
                    dvren__splat_pixel_64(v, P, list, 0, m, x, y, &o);
                    a = 1 - o.T;
                    d = a > 0 ? o.depth_acc / a : 0;
                    for (c = 0; c < 3; ++c) loss += cot_rgb[3 * pix + c] * o.rgb[c];
                    loss += cot_a[pix] * a + cot_d[pix] * d;
                    if (grad)
                        dvren__splat_pixel_bwd_64(v, P, list, 0, o.last, x, y, o.T, o.depth_acc, cot_rgb + 3 * pix,
                                                  cot_a[pix], cot_d[pix], slots);
                }
            if (grad)
                for (k = 0; k < m; ++k)
                    for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c)
                        gp[(size_t)list[k] * DVREN_SPLAT_GRAD_FLOATS + c] += slots[(size_t)k * DVREN_SPLAT_GRAD_FLOATS + c];
        }
    if (grad) {
        size_t total = (size_t)n * (11 + 3 * R->K);
        memset(grad, 0, total * sizeof(double));
        for (i = 0; i < n; ++i)
            if (P[i].rx > 0)
                dvren__splat_project_bwd_64(v, R->means + 3 * i, R->ls + 3 * i, R->q + 4 * i, R->op[i],
                                            R->sh + 3 * R->K * i, gp + (size_t)i * DVREN_SPLAT_GRAD_FLOATS,
                                            grad + 3 * i, grad + 3 * n + 3 * i, grad + 6 * n + 4 * i,
                                            grad + 10 * n + i, grad + 11 * n + 3 * R->K * i);
    }
    free(P);
    free(list);
    free(slots);
    free(gp);
    return loss;
}

TEST(gradients_match_float64_finite_differences)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam;
    dvren_plan* plan;
    dvren_splat_renderer* r = NULL;
    dvren_splat_view view;
    hsplats h;
    ref64 R;
    uint32_t w = 40, ht = 32, n = 10, deg = 3, K = 16, i;
    size_t np = (size_t)n * (11 + 3 * K), pix = (size_t)w * ht;
    double *theta = (double*)malloc(np * 8), *ga = (double*)malloc(np * 8), gmax = 0, worst = 0, worst32 = 0;
    double *crgb = (double*)malloc(pix * 24), *ca = (double*)malloc(pix * 8), *cd = (double*)malloc(pix * 8);
    float *img = (float*)malloc(pix * 12), *g32 = (float*)malloc(np * 4);
    uint64_t s = 99;
    cam_identity(45.0f, 20.0f, 16.0f, &cam);
    random_scene(&h, n, deg, 3, 1.2);
    /* the test's float64 copy of the parameters, in the order of render_and_grad's gradients */
    for (i = 0; i < 3 * n; ++i) theta[i] = h.means[i];
    for (i = 0; i < 3 * n; ++i) theta[3 * n + i] = h.ls[i];
    for (i = 0; i < 4 * n; ++i) theta[6 * n + i] = h.q[i];
    for (i = 0; i < n; ++i) theta[10 * n + i] = h.op[i];
    for (i = 0; i < 3 * K * n; ++i) theta[11 * n + i] = h.sh[i];
    R.n = n;
    R.K = K;
    R.means = theta;
    R.ls = theta + 3 * n;
    R.q = theta + 6 * n;
    R.op = theta + 10 * n;
    R.sh = theta + 11 * n;
    /* the same cotangents as render_and_grad draws */
    for (i = 0; i < pix * 3; ++i) crgb[i] = (float)(urand(&s) - 0.5);
    for (i = 0; i < pix; ++i) ca[i] = (float)(urand(&s) - 0.5);
    for (i = 0; i < pix; ++i) cd[i] = (float)(0.1 * (urand(&s) - 0.5));
    plan = mkplan(ctx, w, ht, &cam, DVREN_OUTPUT_RGB);
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren__splat_view(r, dvren_plan_get_desc(plan), n, deg, &view));
    ref_loss(&view, &R, crgb, ca, cd, ga);
    for (i = 0; i < np; ++i) gmax = fmax(gmax, fabs(ga[i]));
    CHECK(gmax > 1e-2, "gradients are all tiny (%g): the scene is not seen", gmax);
    for (i = 0; i < np; ++i) {
        double keep = theta[i], hh = 1e-6 * fmax(1.0, fabs(keep)), lp, lm, fd;
        theta[i] = keep + hh;
        lp = ref_loss(&view, &R, crgb, ca, cd, NULL);
        theta[i] = keep - hh;
        lm = ref_loss(&view, &R, crgb, ca, cd, NULL);
        theta[i] = keep;
        fd = (lp - lm) / (2 * hh);
        worst = fmax(worst, fabs(fd - ga[i]) / fmax(gmax, 1e-12));
    }
    CHECK(worst < 1e-3, "float64 analytic vs finite differences: largest error %g of the largest gradient %g", worst,
          gmax);
    /* dvren's float32 CPU pipeline against the float64 analytic gradients */
    CHECK(render_and_grad(ctx, &h, &cam, w, ht, img, g32, np), "float32 render and backward");
    for (i = 0; i < np; ++i) worst32 = fmax(worst32, fabs(g32[i] - ga[i]) / gmax);
    CHECK(worst32 < 1e-3, "float32 pipeline vs float64 analytic: largest error %g of %g", worst32, gmax);
    printf("  gradient check: %zu parameters, FD error %.2e, float32 error %.2e (of the largest gradient %.3g)\n", np, worst,
           worst32, gmax);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    free(theta);
    free(ga);
    free(crgb);
    free(ca);
    free(cd);
    free(img);
    free(g32);
    dvren_context_destroy(ctx);
}

TEST(sh_rotation_matrices)
{
    double Rz[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1}, D[49], D1[49], D2[49], D12[49], R1[9], R2[9], R12[9];
    /* degree 1 under a quarter turn about z: b(R^T n) with R^T n = (y, -x, z)
     * gives (C1 x, C1 z, -C1 y) = (-b3, b2, b1) */
    const double expect1[9] = {0, 0, -1, 0, 1, 0, 1, 0, 0};
    uint32_t l, i, j, k;
    uint64_t s = 5;
    CHECK(dvren_sh_rotation(Rz, 1, D) == DVREN_OK, "%s", dvren_last_error(NULL));
    for (i = 0; i < 9; ++i) CHECK(fabs(D[i] - expect1[i]) < 1e-12, "D1[%u] = %g, expected %g", i, D[i], expect1[i]);
    /* random rotations: D(R1 R2) = D(R2) D(R1), D orthogonal, and the defining identity */
    for (i = 0; i < 9; ++i) {
        R1[i] = 0;
        R2[i] = 0;
    }
    {
        double q1[4], q2[4], n1 = 0, n2 = 0;
        for (i = 0; i < 4; ++i) {
            q1[i] = urand(&s) - 0.5;
            q2[i] = urand(&s) - 0.5;
            n1 += q1[i] * q1[i];
            n2 += q2[i] * q2[i];
        }
        dvren__splat_rotation_64(q1, R1);
        dvren__splat_rotation_64(q2, R2);
        (void)n1;
        (void)n2;
    }
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            R12[3 * i + j] = 0;
            for (k = 0; k < 3; ++k) R12[3 * i + j] += R1[3 * i + k] * R2[3 * k + j];
        }
    for (l = 1; l <= 3; ++l) {
        uint32_t m = 2 * l + 1, t;
        double worst = 0;
        CHECK(dvren_sh_rotation(R1, l, D1) == DVREN_OK && dvren_sh_rotation(R2, l, D2) == DVREN_OK &&
                  dvren_sh_rotation(R12, l, D12) == DVREN_OK,
              "degree %u", l);
        for (i = 0; i < m; ++i)
            for (j = 0; j < m; ++j) {
                double acc = 0, orth = 0;
                for (k = 0; k < m; ++k) {
                    acc += D2[i * m + k] * D1[k * m + j];
                    orth += D1[i * m + k] * D1[j * m + k];
                }
                worst = fmax(worst, fabs(acc - D12[i * m + j]));
                worst = fmax(worst, fabs(orth - (i == j)));
            }
        for (t = 0; t < 20; ++t) {
            double nn[3], rn[3], b[16], br[16], len;
            for (i = 0; i < 3; ++i) nn[i] = urand(&s) - 0.5;
            len = sqrt(nn[0] * nn[0] + nn[1] * nn[1] + nn[2] * nn[2]);
            for (i = 0; i < 3; ++i) nn[i] /= len;
            for (i = 0; i < 3; ++i) rn[i] = R1[i] * nn[0] + R1[3 + i] * nn[1] + R1[6 + i] * nn[2];
            dvren__splat_sh_basis_64(l, nn[0], nn[1], nn[2], b);
            dvren__splat_sh_basis_64(l, rn[0], rn[1], rn[2], br);
            for (i = 0; i < m; ++i) {
                double acc = 0;
                for (k = 0; k < m; ++k) acc += D1[i * m + k] * b[l * l + k];
                worst = fmax(worst, fabs(acc - br[l * l + i]));
            }
        }
        CHECK(worst < 1e-10, "degree %u: largest error %g", l, worst);
    }
    {
        double bad[9] = {1, 0, 0, 0, 1, 0, 0, 0, 2};
        CHECK(dvren_sh_rotation(bad, 2, D) == DVREN_ERROR_INVALID_ARGUMENT, "a scaling accepted");
        CHECK(dvren_sh_rotation(Rz, 4, D) == DVREN_ERROR_INVALID_ARGUMENT, "degree 4 accepted");
    }
}

TEST(bad_input)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam, ortho;
    dvren_splat_renderer* r = NULL;
    dvren_splat_options opt;
    dvren_framebuffer* fb = NULL;
    dvren_plan *plan, *oplan;
    hsplats h, g;
    const double rgb[3] = {1, 1, 1};
    float eye[3] = {0, 0, 0}, tgt[3] = {0, 0, 1}, up[3] = {0, 1, 0};
    dvren_status st;
    cam_identity(50.0f, 8.0f, 8.0f, &cam);
    plan = mkplan(ctx, 16, 16, &cam, DVREN_OUTPUT_RGB);
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    hs_init(&h, 2, 1);
    hs_set(&h, 0, 0, 0, 2, 0.1, 0.5, rgb);
    hs_set(&h, 1, 0, 0, 3, 0.1, 0.5, rgb);
    hs_init(&g, 2, 1);
    /* backward before any render */
    {
        dvren_framebuffer* cot = NULL;
        CHECK_OK(ctx, dvren_framebuffer_create_outputs(ctx, plan, DVREN_OUTPUT_RGB, &cot));
        st = dvren_splat_backward(r, &h.p, cot, &g.p);
        CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "no render"), "%s",
              dvren_last_error(ctx));
        dvren_framebuffer_destroy(cot);
    }
    /* a wrong shape, a NaN, a degree out of range */
    h.p.means.shape[1] = 2;
    st = dvren_splat_render(r, &h.p, plan, fb, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "params.means"), "%s",
          dvren_last_error(ctx));
    h.p.means.shape[1] = 3;
    h.op[1] = NAN;
    st = dvren_splat_render(r, &h.p, plan, fb, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "opacity_logits of Gaussian 1"), "%s",
          dvren_last_error(ctx));
    h.op[1] = 0;
    h.p.sh_degree = 4;
    st = dvren_splat_render(r, &h.p, plan, fb, NULL);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "sh_degree"), "%s", dvren_last_error(ctx));
    h.p.sh_degree = 1;
    /* an orthographic camera */
    CHECK_OK(ctx, dvren_camera_orthographic(eye, tgt, up, 2.0f, &ortho));
    oplan = mkplan(ctx, 16, 16, &ortho, DVREN_OUTPUT_RGB);
    st = dvren_splat_render(r, &h.p, oplan, fb, NULL);
    CHECK(st == DVREN_ERROR_UNSUPPORTED, "orthographic camera: %s", dvren_last_error(ctx));
    dvren_plan_destroy(oplan);
    /* settings out of range */
    memset(&opt, 0, sizeof opt);
    opt.alpha_max = 1.0f;
    {
        dvren_splat_renderer* r2 = NULL;
        st = dvren_splat_renderer_create(ctx, &opt, &r2);
        CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && r2 == NULL && strstr(dvren_last_error(ctx), "alpha_max"), "%s",
              dvren_last_error(ctx));
    }
    /* a bad OpenCV camera */
    {
        float V[16] = {2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, K[9] = {50, 0, 8, 0, 50, 8, 0, 0, 1};
        dvren_camera c2;
        CHECK(dvren_camera_from_opencv(V, K, &c2) == DVREN_ERROR_INVALID_ARGUMENT, "a scaled viewmat accepted");
        V[0] = 1;
        K[4] = -1;
        CHECK(dvren_camera_from_opencv(V, K, &c2) == DVREN_ERROR_INVALID_ARGUMENT, "fy < 0 accepted");
    }
    /* the median-depth output is the splats' own */
    {
        dvren_plan_desc pd = *dvren_plan_get_desc(plan);
        dvren_plan* mp = NULL;
        pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_HIT;
        CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &mp));
        {
            dvren_framebuffer* f2 = NULL;
            CHECK_OK(ctx, dvren_framebuffer_create(ctx, mp, &f2));
            st = dvren_splat_render(r, &h.p, mp, f2, NULL);
            CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "outputs"), "hit output: %s",
                  dvren_last_error(ctx));
            dvren_framebuffer_destroy(f2);
        }
        dvren_plan_destroy(mp);
    }
    /* an empty scene renders the background */
    {
        hsplats e;
        hs_init(&e, 0, 0);
        CHECK_OK(ctx, dvren_splat_render(r, &e.p, plan, fb, NULL));
        CHECK(th_out(fb, DVREN_OUTPUT_RGB)[0] == 0.0f, "empty scene not black");
        hs_free(&e);
    }
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    hs_free(&g);
    dvren_context_destroy(ctx);
}

TEST(volume_layer_composited_by_depth)
{
    dvren_context* ctx = th_ctx();
    dvren_camera cam;
    dvren_splat_renderer* r = NULL;
    dvren_framebuffer *fb = NULL, *layer = NULL;
    dvren_plan* plan;
    hsplats h;
    const double red[3] = {1, 0, 0};
    float lrgb[16 * 16 * 3], la[16 * 16], ld[16 * 16];
    int64_t s3[3] = {16, 16, 3}, s2[2] = {16, 16};
    dvren_tensor t;
    size_t i, px = 8 * 16 + 8;
    double a;
    int pass;
    cam_identity(50.0f, 8.5f, 8.5f, &cam); /* pixel (8, 8)'s ray is the optical axis: ray distance = camera z */
    plan = mkplan(ctx, 16, 16, &cam, DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH);
    CHECK_OK(ctx, dvren_splat_renderer_create(ctx, NULL, &r));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &layer));
    /* a half-transparent green layer (premultiplied 0.5 green, alpha 0.5) at ray distance 3 */
    for (i = 0; i < 256; ++i) {
        lrgb[3 * i] = 0, lrgb[3 * i + 1] = 0.5f, lrgb[3 * i + 2] = 0;
        la[i] = 0.5f;
        ld[i] = 3.0f;
    }
    dvren_tensor_wrap(lrgb, DVREN_DTYPE_F32, 3, s3, NULL, &t);
    CHECK_OK(ctx, dvren_framebuffer_write(layer, DVREN_OUTPUT_RGB, &t));
    dvren_tensor_wrap(la, DVREN_DTYPE_F32, 2, s2, NULL, &t);
    CHECK_OK(ctx, dvren_framebuffer_write(layer, DVREN_OUTPUT_ALPHA, &t));
    dvren_tensor_wrap(ld, DVREN_DTYPE_F32, 2, s2, NULL, &t);
    CHECK_OK(ctx, dvren_framebuffer_write(layer, DVREN_OUTPUT_DEPTH, &t));
    hs_init(&h, 1, 0);
    a = ewa_alpha(0, 0, 2, 0.1, 0.8, 50, 8.5, 8.5, 8.5, 8.5, 0.99);
    for (pass = 0; pass < 2; ++pass) {
        /* pass 0: the red Gaussian at z 2, in front of the layer; pass 1: at z 4, behind it */
        double z = pass ? 4.0 : 2.0, ap = pass ? ewa_alpha(0, 0, 4, 0.1, 0.8, 50, 8.5, 8.5, 8.5, 8.5, 0.99) : a;
        double er = pass ? 0.5 * ap : ap, eg = pass ? 0.5 : (1 - ap) * 0.5, A = 1 - (1 - ap) * 0.5;
        double ed = pass ? (0.5 * 3 + 0.5 * ap * 4) / A : (ap * 2 + (1 - ap) * 0.5 * 3) / A;
        const float *img, *al, *dp;
        hs_set(&h, 0, 0, 0, z, 0.1, 0.8, red);
        CHECK_OK(ctx, dvren_splat_render(r, &h.p, plan, fb, layer));
        img = th_out(fb, DVREN_OUTPUT_RGB);
        al = th_out(fb, DVREN_OUTPUT_ALPHA);
        dp = th_out(fb, DVREN_OUTPUT_DEPTH);
        CHECK(fabs(img[3 * px] - er) < 1e-5 && fabs(img[3 * px + 1] - eg) < 1e-5, "pass %d: rgb (%g, %g), expected (%g, %g)",
              pass, img[3 * px], img[3 * px + 1], er, eg);
        CHECK(fabs(al[px] - A) < 1e-5 && fabs(dp[px] - ed) < 1e-4, "pass %d: alpha %g depth %g, expected %g %g", pass,
              al[px], dp[px], A, ed);
    }
    /* a mixed render is forward only */
    {
        dvren_framebuffer* cot = NULL;
        hsplats g;
        hs_init(&g, 1, 0);
        CHECK_OK(ctx, dvren_framebuffer_create_outputs(ctx, plan, DVREN_OUTPUT_RGB, &cot));
        CHECK(dvren_splat_backward(r, &h.p, cot, &g.p) == DVREN_ERROR_UNSUPPORTED, "backward of a mixed render: %s",
              dvren_last_error(ctx));
        dvren_framebuffer_destroy(cot);
        hs_free(&g);
    }
    dvren_framebuffer_destroy(fb);
    dvren_framebuffer_destroy(layer);
    dvren_plan_destroy(plan);
    dvren_splat_renderer_destroy(r);
    hs_free(&h);
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(one_gaussian_closed_form);
    RUN(two_gaussians_depth_order);
    RUN(alpha_cap_and_early_stop);
    RUN(sh_view_dependent_colour);
    RUN(deterministic_for_any_thread_count);
    RUN(gradients_match_float64_finite_differences);
    RUN(sh_rotation_matrices);
    RUN(bad_input);
    RUN(volume_layer_composited_by_depth);
    return th_done();
}
