/* tests/test_saliency.c - the spectral_residual saliency model
 * (plugins/spectral_residual) through the C API (dvren_stage_create with
 * DVREN_PLUGIN_SALIENCY, dvren_saliency_compute), on the CPU; its GPU
 * kernels compiled by NVRTC (compile only: no GPU needed); CPU/GPU parity
 * when a GPU is present.
 *
 * Checks, each able to fail:
 *   shape_and_range     a textured 97 x 61 image: every value finite, in
 *                       [0, 1], the maximum close to 1
 *   matches_reference   the map equals this file's own float64 version of
 *                       the algorithm (OpenCV 4's steps: BT.601 luma of sRGB
 *                       in 0..255, bilinear resize, DFT by definition,
 *                       log(1 + amplitude), 3 x 3 mean, residual with phase,
 *                       inverse DFT, 5 x 5 Gaussian of sigma 8 on the
 *                       magnitude, squared, / max, bilinear resize), to 2e-3
 *                       (float32 vs float64), on textured images and on a
 *                       square whose spectrum has exact zeros
 *   constant_is_flat    a constant image gives a flat map (spread < 1e-2);
 *                       a black one gives 0 everywhere
 *   square_is_salient   a bright square on a flat background: the maximum
 *                       lies on or next to the square, whose mean saliency
 *                       is many times the far background's
 *   deterministic       two runs give bitwise the same map
 *   working_size        width/height change the map; 1 x 1 and a working
 *                       size larger than the image still give valid maps,
 *                       and so do images of 1 x 1, 7 x 1 and 1 x 9 pixels
 *   bad_input           NULL rgb, a zero size, NULL map: INVALID_ARGUMENT
 *                       with a message; an even mean_size or blur_size and
 *                       a width of 0: INVALID_ARGUMENT naming the parameter
 *   nvrtc_kernels       the device source compiles with NVRTC for sm_86 and
 *                       sm_90 without a warning and holds every kernel the
 *                       host launches (SKIP without libnvrtc)
 *   gpu_parity          on a GPU: the map equals the CPU's to 1e-3
 *                       (SKIP without one)
 * The comparison with OpenCV itself is tests/test_saliency_opencv.sh. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "harness.h"

#define PI 3.14159265358979323846

/* ---- images ------------------------------------------------------------------ */

/* A linear-RGB image filled by a pattern. */
static float* image(uint32_t w, uint32_t h, int pattern)
{
    float* rgb = (float*)malloc((size_t)w * h * 3 * sizeof(float));
    uint32_t x, y, c;
    if (!rgb) return NULL;
    for (y = 0; y < h; ++y)
        for (x = 0; x < w; ++x)
            for (c = 0; c < 3; ++c) {
                float v;
                if (pattern == 0) { /* texture: smooth waves and a disc */
                    double d = hypot((double)x - 0.3 * w, (double)y - 0.6 * h);
                    v = (float)(0.3 + 0.2 * sin(0.21 * x + 0.5 * c) * cos(0.13 * y) + (d < 0.15 * w ? 0.4 : 0.0));
                } else if (pattern == 1) { /* constant */
                    v = 0.5f;
                } else if (pattern == 2) { /* black */
                    v = 0.0f;
                } else if (pattern == 4) { /* texture and pixel noise, as in photographs */
                    uint32_t u = (x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u);
                    u = (u ^ (u >> 13)) * 0x5bd1e995u;
                    u ^= u >> 15;
                    v = (float)(0.25 + 0.15 * sin(0.11 * x) * sin(0.07 * y + c) + 0.1 * (u & 0xFFFF) / 65535.0);
                } else { /* a bright square on a flat background */
                    v = (x >= 80 && x < 96 && y >= 30 && y < 46) ? 1.0f : 0.1f;
                }
                rgb[3 * ((size_t)y * w + x) + c] = v;
            }
    return rgb;
}

/* The model with its parameters (name, value pairs; NULL-terminated), or
 * NULL with the error in dvren_last_error(ctx). */
static dvren_stage* model(dvren_context* ctx, const char* n1, double v1, const char* n2, double v2)
{
    dvren_params* p = NULL;
    if (dvren_params_create(ctx, &p) != DVREN_OK) return NULL;
    if (n1) dvren_params_set_number(p, n1, v1);
    if (n2) dvren_params_set_number(p, n2, v2);
    return th_stage(ctx, DVREN_PLUGIN_SALIENCY, "spectral_residual", p);
}

static dvren_status run(dvren_stage* m, const float* rgb, uint32_t w, uint32_t h, float* map)
{
    dvren_saliency_input in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = w;
    in.height = h;
    in.memory = DVREN_MEMORY_HOST;
    in.rgb = rgb;
    return dvren_saliency_compute(m, &in, map);
}

/* ---- the reference: OpenCV's algorithm in float64, written independently ---- */

static double ref_srgb(double v)
{
    if (!(v > 0)) return 0;
    if (v >= 1) return 1;
    return v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055;
}

/* bilinear taps of OpenCV's resize (INTER_LINEAR) */
static void ref_taps(uint32_t src, uint32_t dst, uint32_t d, uint32_t* i0, uint32_t* i1, double* f)
{
    double s = (d + 0.5) * ((double)src / dst) - 0.5;
    double k = floor(s);
    *f = s - k;
    if (k < 0) k = 0, *f = 0;
    if (k >= src - 1) k = src - 1, *f = 0;
    *i0 = (uint32_t)k;
    *i1 = *i0 + 1 < src ? *i0 + 1 : src - 1;
}

static int ref_reflect(int i, int n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* 2-D DFT by definition, rows then columns; sign -1 forward, +1 inverse
 * (unnormalised) */
static void ref_dft(double* re, double* im, int w, int h, int sign)
{
    size_t m = (size_t)(w > h ? w : h);
    double *tr = (double*)malloc(sizeof(double) * m), *ti = (double*)malloc(sizeof(double) * m);
    int x, y, k, j;
    for (y = 0; y < h; ++y) {
        for (k = 0; k < w; ++k) {
            double sr = 0, si = 0;
            for (j = 0; j < w; ++j) {
                double a = sign * 2 * PI * (double)k * j / w;
                sr += re[y * w + j] * cos(a) - im[y * w + j] * sin(a);
                si += re[y * w + j] * sin(a) + im[y * w + j] * cos(a);
            }
            tr[k] = sr, ti[k] = si;
        }
        for (k = 0; k < w; ++k) re[y * w + k] = tr[k], im[y * w + k] = ti[k];
    }
    for (x = 0; x < w; ++x) {
        for (k = 0; k < h; ++k) {
            double sr = 0, si = 0;
            for (j = 0; j < h; ++j) {
                double a = sign * 2 * PI * (double)k * j / h;
                sr += re[j * w + x] * cos(a) - im[j * w + x] * sin(a);
                si += re[j * w + x] * sin(a) + im[j * w + x] * cos(a);
            }
            tr[k] = sr, ti[k] = si;
        }
        for (k = 0; k < h; ++k) re[k * w + x] = tr[k], im[k * w + x] = ti[k];
    }
    free(tr);
    free(ti);
}

static void reference(const float* rgb, uint32_t W, uint32_t H, uint32_t ww, uint32_t wh, float* map)
{
    size_t n = (size_t)ww * wh;
    double *re = (double*)calloc(n, sizeof(double)), *im = (double*)calloc(n, sizeof(double)),
           *la = (double*)calloc(n, sizeof(double)), *mag = (double*)calloc(n, sizeof(double)),
           *gray = (double*)calloc((size_t)W * H, sizeof(double));
    double g[5], gs = 0, mx = 0;
    uint32_t x, y, x0, x1, y0, y1;
    int dx, dy;
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            const float* p = rgb + 3 * ((size_t)y * W + x);
            gray[y * W + x] = 255 * (0.299 * ref_srgb(p[0]) + 0.587 * ref_srgb(p[1]) + 0.114 * ref_srgb(p[2]));
        }
    for (y = 0; y < wh; ++y)
        for (x = 0; x < ww; ++x) {
            double fx, fy;
            ref_taps(W, ww, x, &x0, &x1, &fx);
            ref_taps(H, wh, y, &y0, &y1, &fy);
            re[y * ww + x] = (1 - fy) * ((1 - fx) * gray[y0 * W + x0] + fx * gray[y0 * W + x1]) +
                             fy * ((1 - fx) * gray[y1 * W + x0] + fx * gray[y1 * W + x1]);
        }
    ref_dft(re, im, (int)ww, (int)wh, -1);
    /* the exact zeros of the spectrum (a pixel-aligned square has whole
     * rows and columns of them) are ~1e-13 here: 0, with phase 0, as in
     * OpenCV's transform */
    for (y = 1; y < n; ++y)
        if (hypot(re[y], im[y]) < 1e-9 * fabs(re[0])) re[y] = im[y] = 0;
    for (y = 0; y < n; ++y) la[y] = log(hypot(re[y], im[y]) + 1);
    for (y = 0; y < wh; ++y)
        for (x = 0; x < ww; ++x) {
            double mean = 0, a = atan2(im[y * ww + x], re[y * ww + x]), m;
            for (dy = -1; dy <= 1; ++dy)
                for (dx = -1; dx <= 1; ++dx)
                    mean += la[ref_reflect((int)y + dy, (int)wh) * (int)ww + ref_reflect((int)x + dx, (int)ww)] / 9;
            m = exp(la[y * ww + x] - mean);
            mag[y * ww + x] = m; /* polar form, as OpenCV: magnitude and angle */
            re[y * ww + x] = m * cos(a);
            im[y * ww + x] = m * sin(a);
        }
    ref_dft(re, im, (int)ww, (int)wh, +1);
    for (y = 0; y < n; ++y) la[y] = hypot(re[y], im[y]);
    for (dx = 0; dx < 5; ++dx) gs += g[dx] = exp(-(dx - 2) * (dx - 2) / (2.0 * 64));
    for (y = 0; y < wh; ++y)
        for (x = 0; x < ww; ++x) {
            double s = 0;
            for (dy = -2; dy <= 2; ++dy)
                for (dx = -2; dx <= 2; ++dx)
                    s += g[dy + 2] * g[dx + 2] / (gs * gs) *
                         la[ref_reflect((int)y + dy, (int)wh) * (int)ww + ref_reflect((int)x + dx, (int)ww)];
            mag[y * ww + x] = s * s;
            if (s * s > mx) mx = s * s;
        }
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            double fx, fy;
            ref_taps(ww, W, x, &x0, &x1, &fx);
            ref_taps(wh, H, y, &y0, &y1, &fy);
            map[y * W + x] = (float)(((1 - fy) * ((1 - fx) * mag[y0 * ww + x0] + fx * mag[y0 * ww + x1]) +
                                      fy * ((1 - fx) * mag[y1 * ww + x0] + fx * mag[y1 * ww + x1])) /
                                     mx);
        }
    free(re);
    free(im);
    free(la);
    free(mag);
    free(gray);
}

/* ---- tests ----------------------------------------------------------------------- */

TEST(shape_and_range)
{
    const uint32_t w = 97, h = 61;
    dvren_context* ctx = th_ctx();
    dvren_stage* m = model(ctx, NULL, 0, NULL, 0);
    float *rgb = image(w, h, 0), *map = (float*)malloc(w * h * sizeof(float)), mx = 0;
    uint32_t i;
    CHECK(m, "stage: %s", dvren_last_error(ctx));
    for (i = 0; i < w * h; ++i) map[i] = -1.0f; /* every pixel must be written */
    CHECK_OK(ctx, run(m, rgb, w, h, map));
    for (i = 0; i < w * h; ++i) {
        CHECK(map[i] >= 0.0f && map[i] <= 1.0f, "pixel %u: %g", i, (double)map[i]);
        if (map[i] > mx) mx = map[i];
    }
    CHECK(mx > 0.9f, "the maximum is %g: the map is normalised by its maximum at the working size", (double)mx);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
    free(rgb);
    free(map);
}

TEST(matches_reference)
{
    /* w, h, working w, h, pattern */
    static const uint32_t sizes[4][5] = {
        {97, 61, 64, 64, 0}, {40, 30, 64, 64, 0}, {128, 96, 32, 24, 4}, {128, 128, 64, 64, 3}};
    dvren_context* ctx = th_ctx();
    int k;
    for (k = 0; k < 4; ++k) {
        uint32_t w = sizes[k][0], h = sizes[k][1], i;
        dvren_stage* m = model(ctx, "width", sizes[k][2], "height", sizes[k][3]);
        float *rgb = image(w, h, (int)sizes[k][4]), *map = (float*)malloc(w * h * sizeof(float)),
              *ref = (float*)malloc(w * h * sizeof(float)), err = 0;
        CHECK(m, "stage: %s", dvren_last_error(ctx));
        CHECK_OK(ctx, run(m, rgb, w, h, map));
        reference(rgb, w, h, sizes[k][2], sizes[k][3], ref);
        for (i = 0; i < w * h; ++i)
            if (fabsf(map[i] - ref[i]) > err) err = fabsf(map[i] - ref[i]);
        printf("# %ux%u at working size %ux%u: max |map - float64 reference| = %.2e\n", (unsigned)w, (unsigned)h,
               (unsigned)sizes[k][2], (unsigned)sizes[k][3], (double)err);
        CHECK(err < 2e-3f, "%ux%u: max error %g", (unsigned)w, (unsigned)h, (double)err);
        dvren_stage_destroy(m);
        free(rgb);
        free(map);
        free(ref);
    }
    dvren_context_destroy(ctx);
}

TEST(constant_is_flat)
{
    const uint32_t w = 80, h = 50;
    dvren_context* ctx = th_ctx();
    dvren_stage* m = model(ctx, NULL, 0, NULL, 0);
    float *rgb = image(w, h, 1), *black = image(w, h, 2), *map = (float*)malloc(w * h * sizeof(float));
    float lo = 1, hi = 0;
    uint32_t i;
    CHECK(m, "stage: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run(m, rgb, w, h, map));
    for (i = 0; i < w * h; ++i) {
        lo = map[i] < lo ? map[i] : lo;
        hi = map[i] > hi ? map[i] : hi;
    }
    /* flat but for a bump of ~0.2% at the top-left corner: the + 1 of
     * log(1 + |F|) turns the zero frequencies into an impulse at pixel
     * (0, 0), small beside the mean (OpenCV's map has it too) */
    CHECK(hi - lo < 1e-2f && hi > 0.9f, "a constant image gives a map from %g to %g", (double)lo, (double)hi);
    CHECK_OK(ctx, run(m, black, w, h, map));
    for (i = 0; i < w * h; ++i) CHECK(map[i] == 0.0f, "black image: pixel %u is %g", i, (double)map[i]);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
    free(rgb);
    free(black);
    free(map);
}

TEST(square_is_salient)
{
    const uint32_t w = 128, h = 128;
    dvren_context* ctx = th_ctx();
    dvren_stage* m = model(ctx, NULL, 0, NULL, 0);
    float *rgb = image(w, h, 3), *map = (float*)malloc(w * h * sizeof(float));
    uint32_t i, best = 0, bx, by, n_in = 0, n_far = 0;
    double in_sum = 0, far_sum = 0;
    CHECK(m, "stage: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run(m, rgb, w, h, map));
    for (i = 0; i < w * h; ++i) {
        uint32_t x = i % w, y = i / w;
        if (map[i] > map[best]) best = i;
        if (x >= 80 && x < 96 && y >= 30 && y < 46) in_sum += map[i], n_in++;
        /* far: more than 24 pixels from the square */
        if (x + 24 < 80 || x >= 96 + 24 || y + 24 < 30 || y >= 46 + 24) far_sum += map[i], n_far++;
    }
    bx = best % w;
    by = best / w;
    /* the square spans [80, 96) x [30, 46); the map peaks on it or within a
     * working pixel's blur of it (a working pixel is 2 image pixels) */
    CHECK(bx + 8 >= 80 && bx < 96 + 8 && by + 8 >= 30 && by < 46 + 8, "the maximum is at (%u, %u)", (unsigned)bx,
          (unsigned)by);
    CHECK(in_sum / n_in > 5 * far_sum / n_far, "mean saliency on the square %g, far from it %g", in_sum / n_in,
          far_sum / n_far);
    printf("# square: maximum at (%u, %u), mean on the square %.3f, far from it %.4f\n", (unsigned)bx, (unsigned)by,
           in_sum / n_in, far_sum / n_far);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
    free(rgb);
    free(map);
}

TEST(deterministic)
{
    const uint32_t w = 150, h = 100;
    dvren_context* ctx = th_ctx();
    dvren_stage* m = model(ctx, NULL, 0, NULL, 0);
    float *rgb = image(w, h, 0), *a = (float*)malloc(w * h * sizeof(float)), *b = (float*)malloc(w * h * sizeof(float));
    CHECK(m, "stage: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run(m, rgb, w, h, a));
    CHECK_OK(ctx, run(m, rgb, w, h, b));
    CHECK(memcmp(a, b, w * h * sizeof(float)) == 0, "two runs differ");
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
    free(rgb);
    free(a);
    free(b);
}

TEST(working_size)
{
    const uint32_t w = 90, h = 70;
    dvren_context* ctx = th_ctx();
    dvren_stage *m64 = model(ctx, NULL, 0, NULL, 0), *m32 = model(ctx, "width", 32, "height", 48),
                *m1 = model(ctx, "width", 1, "height", 1), *big = model(ctx, "width", 200, "height", 150);
    float *rgb = image(w, h, 0), *a = (float*)malloc(w * h * sizeof(float)), *b = (float*)malloc(w * h * sizeof(float));
    uint32_t i;
    CHECK(m64 && m32 && m1 && big, "stages: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run(m64, rgb, w, h, a));
    CHECK_OK(ctx, run(m32, rgb, w, h, b));
    CHECK(memcmp(a, b, w * h * sizeof(float)) != 0, "the working size changes nothing");
    CHECK_OK(ctx, run(m1, rgb, w, h, b));
    for (i = 0; i < w * h; ++i) CHECK(b[i] == 1.0f, "1x1 working size: pixel %u is %g, not 1", i, (double)b[i]);
    CHECK_OK(ctx, run(big, rgb, w, h, b));
    for (i = 0; i < w * h; ++i)
        CHECK(b[i] >= 0.0f && b[i] <= 1.0f, "200x150 working size: pixel %u is %g", i, (double)b[i]);
    /* images of one pixel, one row, one column */
    CHECK_OK(ctx, run(m64, rgb, 1, 1, b));
    CHECK(b[0] > 0.9f && b[0] <= 1.0f, "1x1 image: %g", (double)b[0]);
    CHECK_OK(ctx, run(m64, rgb, 7, 1, b));
    for (i = 0; i < 7; ++i) CHECK(b[i] >= 0.0f && b[i] <= 1.0f, "7x1 image: pixel %u is %g", i, (double)b[i]);
    CHECK_OK(ctx, run(m32, rgb, 1, 9, b));
    for (i = 0; i < 9; ++i) CHECK(b[i] >= 0.0f && b[i] <= 1.0f, "1x9 image: pixel %u is %g", i, (double)b[i]);
    dvren_stage_destroy(m64);
    dvren_stage_destroy(m32);
    dvren_stage_destroy(m1);
    dvren_stage_destroy(big);
    dvren_context_destroy(ctx);
    free(rgb);
    free(a);
    free(b);
}

TEST(bad_input)
{
    dvren_context* ctx = th_ctx();
    dvren_stage* m = model(ctx, NULL, 0, NULL, 0);
    float *rgb = image(8, 8, 0), map[64];
    dvren_saliency_input in;
    dvren_stage* bad;
    dvren_status s;
    CHECK(m, "stage: %s", dvren_last_error(ctx));
    s = run(m, NULL, 8, 8, map);
    CHECK(s == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "rgb"), "NULL rgb: %s: %s",
          dvren_status_string(s), dvren_last_error(ctx));
    s = run(m, rgb, 0, 8, map);
    CHECK(s == DVREN_ERROR_INVALID_ARGUMENT && dvren_last_error(ctx)[0], "width 0: %s: '%s'", dvren_status_string(s),
          dvren_last_error(ctx));
    s = run(m, rgb, 8, 0, map);
    CHECK(s == DVREN_ERROR_INVALID_ARGUMENT && dvren_last_error(ctx)[0], "height 0: %s: '%s'", dvren_status_string(s),
          dvren_last_error(ctx));
    s = run(m, rgb, 8, 8, NULL);
    CHECK(s == DVREN_ERROR_INVALID_ARGUMENT && dvren_last_error(ctx)[0], "NULL map: %s: '%s'", dvren_status_string(s),
          dvren_last_error(ctx));
    s = dvren_saliency_compute(m, NULL, map);
    CHECK(s == DVREN_ERROR_INVALID_ARGUMENT, "NULL input: %s", dvren_status_string(s));
    /* device memory on a CPU context */
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = in.height = 8;
    in.memory = DVREN_MEMORY_DEVICE;
    in.rgb = rgb;
    s = dvren_saliency_compute(m, &in, map);
    CHECK(s == DVREN_ERROR_INVALID_ARGUMENT && dvren_last_error(ctx)[0], "device memory on the CPU: %s",
          dvren_status_string(s));
    /* parameters */
    bad = model(ctx, "mean_size", 4, NULL, 0);
    CHECK(!bad && strstr(dvren_last_error(ctx), "mean_size"), "even mean_size: %s", dvren_last_error(ctx));
    bad = model(ctx, "blur_size", 6, NULL, 0);
    CHECK(!bad && strstr(dvren_last_error(ctx), "blur_size"), "even blur_size: %s", dvren_last_error(ctx));
    bad = model(ctx, "width", 0, NULL, 0);
    CHECK(!bad && strstr(dvren_last_error(ctx), "width"), "width 0: %s", dvren_last_error(ctx));
    bad = model(ctx, "blur_sigma", 0, NULL, 0);
    CHECK(!bad && strstr(dvren_last_error(ctx), "blur_sigma"), "blur_sigma 0: %s", dvren_last_error(ctx));
    /* still usable */
    CHECK_OK(ctx, run(m, rgb, 8, 8, map));
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
    free(rgb);
}

/* The kernels the plugin launches (spectral_residual.c, spectral_residual_gpu). */
static const char* const kernel_names[] = {"spectral_residual_k_gray", "spectral_residual_k_log_amplitude",
                                           "spectral_residual_k_residual", "spectral_residual_k_smooth",
                                           "spectral_residual_k_max", "spectral_residual_k_upsample"};

/* The device source, from the source tree (run.sh runs from the root) or
 * beside the plugin library. */
static char* device_source(size_t* len)
{
    const char* dir = getenv("DVREN_PLUGIN_PATH");
    char path[4096];
    long n = 0;
    unsigned char* s = th_read_file("plugins/spectral_residual/spectral_residual_device.h", &n);
    if (!s && dir) {
        snprintf(path, sizeof path, "%s/spectral_residual_device.h", dir);
        s = th_read_file(path, &n);
    }
    *len = (size_t)n;
    return (char*)s;
}

/* The module dvren.host.cuda/1's kernel() builds (dvren_cuda_compile_plugin_check):
 * no error, no warning, for the user's RTX 3060 and for H100/H200. */
TEST(nvrtc_kernels)
{
    static const uint32_t archs[2] = {86, 90};
    dvren_context* ctx;
    char log[8192];
    int a;
    if (dvren__cu_need_nvrtc(NULL) != DVREN_OK)
        SKIP("NVRTC not found, kernels not compiled: %s", dvren_last_error(NULL));
    {
        /* every kernel the plugin launches is in its source */
        size_t len = 0;
        char* src = device_source(&len);
        int k, missing = -1;
        CHECK(src, "cannot read spectral_residual_device.h");
        for (k = 0; k < (int)(sizeof kernel_names / sizeof kernel_names[0]) && missing < 0; ++k)
            if (!strstr(src, kernel_names[k])) missing = k;
        free(src);
        CHECK(missing < 0, "the device source has no kernel %s", kernel_names[missing]);
    }
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_plugin_load(ctx, "spectral_residual"));
    for (a = 0; a < 2; ++a) {
        dvren_status s =
            dvren_cuda_compile_plugin_check(ctx, DVREN_PLUGIN_SALIENCY, "spectral_residual", archs[a], log, sizeof log);
        CHECK(s == DVREN_OK, "sm_%u: %s\n%s", (unsigned)archs[a], dvren_last_error(ctx), log);
        CHECK(log[0] == 0, "sm_%u: NVRTC warns:\n%s", (unsigned)archs[a], log);
    }
    dvren_context_destroy(ctx);
}

TEST(gpu_parity)
{
    static const uint32_t sizes[2][2] = {{97, 61}, {1920, 1080}};
    dvren_context_desc d;
    dvren_context *gctx = NULL, *cctx;
    dvren_stage *gm, *cm;
    int k;
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    if (dvren_context_create(&d, &gctx) != DVREN_OK) SKIP("no CUDA context: %s", dvren_last_error(NULL));
    cctx = th_ctx();
    gm = model(gctx, NULL, 0, NULL, 0);
    cm = model(cctx, NULL, 0, NULL, 0);
    CHECK(gm && cm, "stages: %s / %s", dvren_last_error(gctx), dvren_last_error(cctx));
    for (k = 0; k < 2; ++k) {
        uint32_t w = sizes[k][0], h = sizes[k][1], i;
        float *rgb = image(w, h, k ? 3 : 0), *a = (float*)malloc((size_t)w * h * sizeof(float)),
              *b = (float*)malloc((size_t)w * h * sizeof(float)), err = 0;
        CHECK_OK(cctx, run(cm, rgb, w, h, a));
        CHECK_OK(gctx, run(gm, rgb, w, h, b));
        for (i = 0; i < w * h; ++i)
            if (fabsf(a[i] - b[i]) > err) err = fabsf(a[i] - b[i]);
        printf("# %ux%u: max |gpu - cpu| = %.2e\n", (unsigned)w, (unsigned)h, (double)err);
        CHECK(err < 1e-3f, "%ux%u: max |gpu - cpu| = %g", (unsigned)w, (unsigned)h, (double)err);
        free(rgb);
        free(a);
        free(b);
    }
    dvren_stage_destroy(gm);
    dvren_stage_destroy(cm);
    dvren_context_destroy(gctx);
    dvren_context_destroy(cctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(shape_and_range);
    RUN(matches_reference);
    RUN(constant_is_flat);
    RUN(square_is_salient);
    RUN(deterministic);
    RUN(working_size);
    RUN(bad_input);
    RUN(nvrtc_kernels);
    RUN(gpu_parity);
    return th_done();
}
