/* tests/test_saliency_plugins.c - the saliency models render_error and
 * external (plugins/render_error, plugins/external), through the C API
 * (dvren_stage_create with DVREN_PLUGIN_SALIENCY, dvren_saliency_compute).
 *
 * render_error, on synthetic inputs: an alpha disc (the map's maximum lies
 * on its rim, with and without variance), a patch of high variance (high
 * importance there, none elsewhere), constant inputs (a zero or flat map),
 * the luminance-edge term alone, parameters checked, a real render through
 * dvren_saliency_framebuffer; its device source compiles with NVRTC for
 * sm_86 and sm_90 (skips without libnvrtc); on a GPU its map equals the
 * CPU's (skips without one).
 *
 * external, with small Python programs of tests/saliency/ (python3 from
 * PATH; skips with a message without it): a Gaussian centre prior (maximum
 * at the centre, values in [0, 1], at full size and as a coarse float32
 * grid that the plugin resizes), an image path with a space and a quote,
 * a program that sleeps (timeout 1 s: DVREN_ERROR_TIMEOUT within a few
 * seconds, its process group killed, no temporary files left), processes
 * a command leaves behind (killed when it exits), one that
 * fails (the error carries its stderr and exit status), one not found,
 * malformed .npy files (FORMAT naming the field), normalize false, and the
 * parameter checks. */
#define _XOPEN_SOURCE 700 /* setenv, usleep, clock_gettime, mkdir */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "harness.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { W = 64, H = 48 };

/* ---- helpers ------------------------------------------------------------------ */

static dvren_stage* mk_model(dvren_context* ctx, const char* name, dvren_params* p)
{
    return th_stage(ctx, DVREN_PLUGIN_SALIENCY, name, p);
}

static dvren_params* new_params(dvren_context* ctx)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    return p;
}

static dvren_saliency_input mk_input(uint32_t w, uint32_t h, const float* rgb, const float* alpha, const float* depth,
                                     const float* variance, const char* image_path)
{
    dvren_saliency_input in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = w;
    in.height = h;
    in.memory = DVREN_MEMORY_HOST;
    in.rgb = rgb;
    in.alpha = alpha;
    in.depth = depth;
    in.variance = variance;
    in.image_path = image_path;
    return in;
}

/* An opaque disc of radius R around the image centre (alpha 1 inside, 0
 * outside), the depth of a sphere's front (nearest at the centre), grey
 * radiance on the disc. */
enum { R = 15 };
static void mk_disc(float* rgb, float* alpha, float* depth)
{
    int x, y;
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            double dx = x - (W - 1) / 2.0, dy = y - (H - 1) / 2.0, r2 = dx * dx + dy * dy;
            int i = y * W + x, in = r2 <= R * R;
            alpha[i] = in ? 1.0f : 0.0f;
            depth[i] = in ? (float)(4.0 - sqrt(R * R - r2) / R) : 0.0f;
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = in ? 0.5f : 0.0f;
        }
}

static int argmax(const float* m, int n)
{
    int i, best = 0;
    for (i = 1; i < n; ++i)
        if (m[i] > m[best]) best = i;
    return best;
}

static int in_unit_range(const float* m, int n, int* bad)
{
    int i;
    for (i = 0; i < n; ++i)
        if (!(m[i] >= 0.0f && m[i] <= 1.0f)) {
            *bad = i;
            return 0;
        }
    return 1;
}

/* ---- render_error ------------------------------------------------------------ */

/* Without variance: the alpha and depth edges put the maximum on the rim. */
TEST(render_error_disc_rim)
{
    static float rgb[3 * W * H], alpha[W * H], depth[W * H], map[W * H];
    dvren_context* ctx = th_ctx();
    dvren_stage* m = mk_model(ctx, "render_error", NULL);
    dvren_saliency_input in = mk_input(W, H, rgb, alpha, depth, NULL, NULL);
    int k, bad = -1, x, y, far = 0;
    double r;
    CHECK(m, "render_error: %s", dvren_last_error(ctx));
    mk_disc(rgb, alpha, depth);
    CHECK_OK(ctx, dvren_saliency_compute(m, &in, map));
    CHECK(in_unit_range(map, W * H, &bad), "pixel %d = %g", bad, bad >= 0 ? map[bad] : 0.0);
    k = argmax(map, W * H);
    r = hypot(k % W - (W - 1) / 2.0, k / W - (H - 1) / 2.0);
    CHECK(map[k] == 1.0f, "max %g", map[k]);
    CHECK(fabs(r - R) <= 1.5, "maximum at (%d, %d), %.2f px from the centre, not on the rim (radius %d)", k % W, k / W,
          r, R);
    /* outside the disc: nothing; inside, away from the rim: the depth
     * slope of the sphere's front, which grows towards the rim, so less */
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            double rr = hypot(x - (W - 1) / 2.0, y - (H - 1) / 2.0);
            if ((rr > R + 2 && map[y * W + x] != 0.0f) || (rr < R - 4 && map[y * W + x] > 0.5f)) far++;
        }
    CHECK(far == 0, "%d pixels away from the rim have high importance", far);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* A patch of high variance on a constant image gets the importance; with
 * the disc as well, it outranks the rim (weight_error 1 > 0.5). */
TEST(render_error_variance_patch)
{
    static float rgb[3 * W * H], alpha[W * H], depth[W * H], var[W * H], map[W * H];
    dvren_context* ctx = th_ctx();
    dvren_stage* m = mk_model(ctx, "render_error", NULL);
    dvren_saliency_input in = mk_input(W, H, rgb, NULL, NULL, var, NULL);
    int i, x, y, bad = -1;
    double in_sum = 0.0, out_max = 0.0, rim_max = 0.0;
    CHECK(m, "render_error: %s", dvren_last_error(ctx));
    for (i = 0; i < 3 * W * H; ++i) rgb[i] = 0.5f;
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) var[y * W + x] = (x >= 8 && x < 16 && y >= 8 && y < 16) ? 1e-2f : 1e-7f;
    CHECK_OK(ctx, dvren_saliency_compute(m, &in, map));
    CHECK(in_unit_range(map, W * H, &bad), "pixel %d = %g", bad, bad >= 0 ? map[bad] : 0.0);
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            int patch = x >= 8 && x < 16 && y >= 8 && y < 16;
            if (patch) in_sum += map[y * W + x];
            else if (map[y * W + x] > out_max) out_max = map[y * W + x];
        }
    CHECK(in_sum / 64.0 > 0.99, "mean importance in the patch %g", in_sum / 64.0);
    CHECK(out_max < 0.01, "importance outside the patch up to %g", out_max);

    /* with the disc (its centre away from the patch) */
    mk_disc(rgb, alpha, depth);
    for (i = 0; i < 3 * W * H; ++i) rgb[i] = 0.5f;
    in.alpha = alpha;
    in.depth = depth;
    CHECK_OK(ctx, dvren_saliency_compute(m, &in, map));
    in_sum = 0.0;
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            double rr = hypot(x - (W - 1) / 2.0, y - (H - 1) / 2.0);
            if (x >= 8 && x < 16 && y >= 8 && y < 16) in_sum += map[y * W + x];
            else if (fabs(rr - R) < 1.5 && map[y * W + x] > rim_max) rim_max = map[y * W + x];
        }
    CHECK(in_sum / 64.0 > 0.95, "mean importance in the patch %g", in_sum / 64.0);
    CHECK(rim_max > 0.3 && rim_max < in_sum / 64.0, "rim %g, patch %g", rim_max, in_sum / 64.0);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* Constant inputs: no edges, no error: 0 everywhere; a constant variance:
 * flat. */
TEST(render_error_constant_input)
{
    static float rgb[3 * W * H], alpha[W * H], depth[W * H], var[W * H], map[W * H];
    dvren_context* ctx = th_ctx();
    dvren_params* p = new_params(ctx);
    dvren_stage* m;
    dvren_saliency_input in = mk_input(W, H, rgb, alpha, depth, var, NULL);
    int i;
    dvren_params_set_number(p, "weight_luma_edges", 1.0);
    m = mk_model(ctx, "render_error", p);
    CHECK(m, "render_error: %s", dvren_last_error(ctx));
    for (i = 0; i < W * H; ++i) {
        rgb[3 * i] = 0.2f;
        rgb[3 * i + 1] = 0.3f;
        rgb[3 * i + 2] = 0.4f;
        alpha[i] = 1.0f;
        depth[i] = 2.5f;
        var[i] = 0.0f;
    }
    CHECK_OK(ctx, dvren_saliency_compute(m, &in, map));
    for (i = 0; i < W * H; ++i) CHECK(map[i] == 0.0f, "pixel %d = %g, not 0", i, map[i]);
    for (i = 0; i < W * H; ++i) var[i] = 1e-3f;
    CHECK_OK(ctx, dvren_saliency_compute(m, &in, map));
    for (i = 0; i < W * H; ++i) CHECK(map[i] == map[0] && map[0] > 0.0f, "pixel %d = %g, pixel 0 = %g", i, map[i], map[0]);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* Only an image (a 1-spp preview without alpha, depth, variance): the
 * luminance-edge term finds a vertical step; without it the map is 0. */
TEST(render_error_luma_edges_only)
{
    static float rgb[3 * W * H], map[W * H];
    dvren_context* ctx = th_ctx();
    dvren_params* p = new_params(ctx);
    dvren_stage *m, *m0;
    dvren_saliency_input in = mk_input(W, H, rgb, NULL, NULL, NULL, NULL);
    int i, k;
    dvren_params_set_number(p, "weight_luma_edges", 1.0);
    m = mk_model(ctx, "render_error", p);
    m0 = mk_model(ctx, "render_error", NULL);
    CHECK(m && m0, "render_error: %s", dvren_last_error(ctx));
    for (i = 0; i < W * H; ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (i % W) < 40 ? 0.1f : 0.8f;
    CHECK_OK(ctx, dvren_saliency_compute(m, &in, map));
    k = argmax(map, W * H);
    CHECK(map[k] == 1.0f && (k % W == 39 || k % W == 40), "maximum %g at column %d, not at the step (39/40)", map[k],
          k % W);
    CHECK(map[10 * W + 5] == 0.0f && map[10 * W + 60] == 0.0f, "flat regions %g %g", map[10 * W + 5], map[10 * W + 60]);
    CHECK_OK(ctx, dvren_saliency_compute(m0, &in, map));
    for (i = 0; i < W * H; ++i) CHECK(map[i] == 0.0f, "default weights, no alpha/depth/variance: pixel %d = %g", i, map[i]);
    dvren_stage_destroy(m);
    dvren_stage_destroy(m0);
    dvren_context_destroy(ctx);
}

TEST(render_error_parameters)
{
    dvren_context* ctx = th_ctx();
    dvren_params* p = new_params(ctx);
    dvren_stage* m = NULL;
    dvren_status st;
    const dvren_plugin_desc* d;
    dvren_params_set_number(p, "weight_error", 0.0);
    dvren_params_set_number(p, "weight_alpha_edges", 0.0);
    dvren_params_set_number(p, "weight_depth_edges", 0.0);
    st = dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, "render_error", p, &m);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && !m && strstr(dvren_last_error(ctx), "weight_error"),
          "all weights 0: %s: %s", dvren_status_string(st), dvren_last_error(ctx));
    dvren_params_destroy(p);
    p = new_params(ctx);
    dvren_params_set_number(p, "percentile", 0.0);
    st = dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, "render_error", p, &m);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "percentile"), "percentile 0: %s",
          dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_SALIENCY, "render_error", &d));
    CHECK(d->kind == DVREN_PLUGIN_SALIENCY && d->device_source_file, "descriptor");
    dvren_context_destroy(ctx);
}

/* A real preview: 4 jittered rays per pixel with variance, alpha, depth. */
TEST(render_error_on_a_render)
{
    static const double tfo[8] = {0, 0, 0.49, 0, 0.5, 1, 1, 1};
    const float eye[3] = {2.0f, 1.4f, 2.3f}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    dvren_context* ctx = th_ctx();
    dvren_params* p = new_params(ctx);
    dvren_stage *f, *s, *smp, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb = NULL;
    const float* alpha;
    static float map[96 * 80];
    double dims[3] = {32, 32, 32};
    int x, y, bad = -1, bg = 0, k;
    dvren_params_set_string(p, "generator", "marschner_lobb");
    dvren_params_set_numbers(p, "dims", dims, 3);
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    p = new_params(ctx);
    dvren_params_set_numbers(p, "tf_opacity", tfo, 8);
    dvren_params_set_number(p, "sigma_scale", 20.0);
    s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
    smp = th_uniform_sampler(ctx, 1);
    m = mk_model(ctx, "render_error", NULL);
    CHECK(f && s && smp && m, "stages: %s", dvren_last_error(ctx));
    memset(&pd, 0, sizeof pd);
    pd.width = 96;
    pd.height = 80;
    pd.spp = 4;
    pd.seed = 7;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_VARIANCE;
    th_march(&pd, 0, 0.02, 0.0);
    dvren_camera_look_at(eye, target, up, 0.7f, &pd.camera);
    fb = th_render(ctx, f, s, smp, &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    alpha = th_out(fb, DVREN_OUTPUT_ALPHA);
    CHECK_OK(ctx, dvren_saliency_framebuffer(m, fb, NULL, map));
    CHECK(in_unit_range(map, 96 * 80, &bad), "pixel %d = %g", bad, bad >= 0 ? map[bad] : 0.0);
    k = argmax(map, 96 * 80);
    CHECK(map[k] == 1.0f && alpha[k] > 0.0f, "max %g at alpha %g", map[k], alpha[k]);
    /* background pixels whose neighbours are background too: no evidence */
    for (y = 1; y < 79; ++y)
        for (x = 1; x < 95; ++x) {
            int dx, dy, empty = 1;
            for (dy = -1; dy <= 1; ++dy)
                for (dx = -1; dx <= 1; ++dx) empty &= alpha[(y + dy) * 96 + x + dx] == 0.0f;
            if (empty && map[y * 96 + x] != 0.0f) bg++;
        }
    CHECK(bg == 0, "%d empty background pixels have importance > 0", bg);
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(smp);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* The device source as the host service "dvren.host.cuda/1" compiles it
 * (the device vocabulary, then render_error_device.h), for the reference
 * user's RTX 3060 (sm_86) and H100/H200 (sm_90): no error, no warning. */
TEST(render_error_nvrtc_compiles)
{
    static const unsigned archs[2] = {86, 90};
    char log[16384];
    dvren_context* ctx;
    int a;
    if (dvren__cu_need_nvrtc(NULL) != DVREN_OK) SKIP("NVRTC not found: %s", dvren_last_error(NULL));
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_plugin_load(ctx, "render_error"));
    for (a = 0; a < 2; ++a) {
        dvren_status st = dvren_cuda_compile_plugin_check(ctx, DVREN_PLUGIN_SALIENCY, "render_error", archs[a], log,
                                                          sizeof log);
        CHECK(st == DVREN_OK, "sm_%u: %s\n%s", archs[a], dvren_last_error(ctx), log);
        CHECK(log[0] == 0, "sm_%u: NVRTC warns:\n%s", archs[a], log);
    }
    dvren_context_destroy(ctx);
}

/* On a GPU: the kernels give the CPU's map (the same passes and integer
 * statistics; every float operation rounded once on both). */
TEST(render_error_gpu_matches_cpu)
{
    static float rgb[3 * W * H], alpha[W * H], depth[W * H], var[W * H], cpu[W * H], gpu[W * H];
    dvren_context_desc d;
    dvren_context *gctx = NULL, *ctx;
    dvren_stage *mc, *mg;
    dvren_params* p;
    dvren_saliency_input in = mk_input(W, H, rgb, alpha, depth, var, NULL);
    double worst = 0.0;
    int i;
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    if (dvren_context_create(&d, &gctx) != DVREN_OK) SKIP("no GPU: %s", dvren_last_error(NULL));
    ctx = th_ctx();
    mk_disc(rgb, alpha, depth);
    for (i = 0; i < W * H; ++i) var[i] = (float)(1e-4 * (1 + (i * 7919) % 13)) * (i % W > 30 ? 10.0f : 1.0f);
    p = new_params(ctx);
    dvren_params_set_number(p, "weight_luma_edges", 0.25);
    mc = mk_model(ctx, "render_error", p);
    p = new_params(gctx);
    dvren_params_set_number(p, "weight_luma_edges", 0.25);
    mg = mk_model(gctx, "render_error", p);
    CHECK(mc && mg, "models: %s / %s", dvren_last_error(ctx), dvren_last_error(gctx));
    CHECK_OK(ctx, dvren_saliency_compute(mc, &in, cpu));
    CHECK_OK(gctx, dvren_saliency_compute(mg, &in, gpu));
    for (i = 0; i < W * H; ++i)
        if (fabs(cpu[i] - gpu[i]) > worst) worst = fabs(cpu[i] - gpu[i]);
    printf("# render_error: max |gpu - cpu| = %g\n", worst);
    CHECK(worst <= 1e-5, "GPU and CPU maps differ by up to %g", worst);
    dvren_stage_destroy(mc);
    dvren_stage_destroy(mg);
    dvren_context_destroy(ctx);
    dvren_context_destroy(gctx);
}

/* ---- external ----------------------------------------------------------------- */

/* python3 on PATH (its full path into out), or 0. */
static int find_python(char* out, size_t cap)
{
    const char* path = getenv("PATH");
    while (path && *path) {
        const char* colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, cap, "%.*s/python3", (int)n, path);
        if (n && access(out, X_OK) == 0) return 1;
        path = colon ? colon + 1 : NULL;
    }
    return 0;
}

static char py[1024], scripts[4096], tmpdir[4096], png[4096];

/* A gray W x H PNG (8-bit RGB, zlib stored blocks), written by hand: the
 * scripts check its IHDR. */
static int write_png(const char* path, uint32_t w, uint32_t h)
{
    size_t row = 1 + 3 * (size_t)w, raw_n = row * h, z_n, n = 0, i;
    unsigned char* raw = (unsigned char*)calloc(raw_n, 1);
    unsigned char* z;
    unsigned char* file;
    uint32_t a = 1, b = 0;
    int rc;
    size_t blocks = (raw_n + 65534) / 65535, off = 0;
    if (!raw) return -1;
    for (i = 0; i < raw_n; ++i) raw[i] = (unsigned char)(i % row == 0 ? 0 : 128);
    z_n = 2 + raw_n + 5 * blocks + 4;
    z = (unsigned char*)malloc(z_n);
    file = (unsigned char*)malloc(z_n + 64);
    if (!z || !file) return -1;
    z[n++] = 0x78;
    z[n++] = 0x01;
    while (off < raw_n) {
        size_t len = raw_n - off < 65535 ? raw_n - off : 65535;
        z[n++] = (unsigned char)(off + len == raw_n);
        z[n++] = (unsigned char)(len & 255);
        z[n++] = (unsigned char)(len >> 8);
        z[n++] = (unsigned char)(~len & 255);
        z[n++] = (unsigned char)((~len >> 8) & 255);
        memcpy(z + n, raw + off, len);
        n += len;
        off += len;
    }
    for (i = 0; i < raw_n; ++i) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    z[n++] = (unsigned char)(b >> 8);
    z[n++] = (unsigned char)b;
    z[n++] = (unsigned char)(a >> 8);
    z[n++] = (unsigned char)a;
    {
        size_t m = 0;
        unsigned char ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0};
        const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        struct { const char* type; const unsigned char* data; size_t len; } ch[3];
        int c;
        ihdr[0] = (unsigned char)(w >> 24), ihdr[1] = (unsigned char)(w >> 16), ihdr[2] = (unsigned char)(w >> 8),
        ihdr[3] = (unsigned char)w;
        ihdr[4] = (unsigned char)(h >> 24), ihdr[5] = (unsigned char)(h >> 16), ihdr[6] = (unsigned char)(h >> 8),
        ihdr[7] = (unsigned char)h;
        ch[0].type = "IHDR", ch[0].data = ihdr, ch[0].len = 13;
        ch[1].type = "IDAT", ch[1].data = z, ch[1].len = n;
        ch[2].type = "IEND", ch[2].data = NULL, ch[2].len = 0;
        memcpy(file, sig, 8);
        m = 8;
        for (c = 0; c < 3; ++c) {
            uint32_t crc;
            file[m++] = (unsigned char)(ch[c].len >> 24);
            file[m++] = (unsigned char)(ch[c].len >> 16);
            file[m++] = (unsigned char)(ch[c].len >> 8);
            file[m++] = (unsigned char)ch[c].len;
            memcpy(file + m, ch[c].type, 4);
            if (ch[c].len) memcpy(file + m + 4, ch[c].data, ch[c].len);
            crc = th_crc32(file + m, 4 + ch[c].len);
            m += 4 + ch[c].len;
            file[m++] = (unsigned char)(crc >> 24);
            file[m++] = (unsigned char)(crc >> 16);
            file[m++] = (unsigned char)(crc >> 8);
            file[m++] = (unsigned char)crc;
        }
        rc = th_write_file(path, file, m);
    }
    free(raw);
    free(z);
    free(file);
    return rc;
}

/* Sets up python3, the scripts' folder, a private TMPDIR for the plugin
 * and the preview PNG; 0 (with the reason in why) when python3 is absent. */
static int external_setup(char* why, size_t cap)
{
    char cwd[2048];
    static int done = 0, ok = 0;
    if (done) {
        if (!ok) snprintf(why, cap, "no python3 on PATH: the external model's test programs need it");
        return ok;
    }
    done = 1;
    if (!find_python(py, sizeof py)) {
        snprintf(why, cap, "no python3 on PATH: the external model's test programs need it");
        return 0;
    }
    if (!getcwd(cwd, sizeof cwd)) return 0;
    snprintf(scripts, sizeof scripts, "%s/tests/saliency", cwd);
    snprintf(tmpdir, sizeof tmpdir, "%s", th_tmp("saliency_tmpdir"));
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1); /* the plugin's temporary folders go here: the tests check it stays empty */
    snprintf(png, sizeof png, "%s", th_tmp("saliency_preview.png"));
    ok = write_png(png, W, H) == 0;
    if (!ok) snprintf(why, cap, "cannot write %s", png);
    return ok;
}

/* Number of entries in the plugin's TMPDIR. */
static int tmp_entries(void)
{
    DIR* d = opendir(tmpdir);
    struct dirent* e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* An external model running `python3 scripts/<script> <args>`. */
static dvren_stage* mk_external(dvren_context* ctx, const char* script, const char* args, double timeout, int normalize)
{
    char cmd[8192];
    dvren_params* p = new_params(ctx);
    snprintf(cmd, sizeof cmd, "'%s' '%s/%s' %s", py, scripts, script, args);
    dvren_params_set_string(p, "command", cmd);
    if (timeout > 0) dvren_params_set_number(p, "timeout", timeout);
    if (normalize >= 0) dvren_params_set_bool(p, "normalize", normalize);
    return mk_model(ctx, "external", p);
}

static void nap_ms(long ms)
{
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static dvren_status run_external(dvren_context* ctx, dvren_stage* m, const char* image, float* map)
{
    static float rgb[3 * W * H];
    dvren_saliency_input in = mk_input(W, H, rgb, NULL, NULL, NULL, image);
    (void)ctx; /* errors: dvren_last_error(ctx) */
    return dvren_saliency_compute(m, &in, map);
}

static void check_center(const float* map, const char* what)
{
    int k = argmax(map, W * H), bad = -1, i;
    float lo = 1.0f;
    CHECK(in_unit_range(map, W * H, &bad), "%s: pixel %d = %g", what, bad, bad >= 0 ? map[bad] : 0.0);
    for (i = 0; i < W * H; ++i) lo = map[i] < lo ? map[i] : lo;
    CHECK(map[k] == 1.0f && lo == 0.0f, "%s: range [%g, %g], not [0, 1]", what, lo, map[k]);
    /* the centre 2x2 pixels hold the maximum (a resized grid has a plateau there) */
    CHECK(map[(H / 2 - 1) * W + W / 2 - 1] >= 0.999f && map[(H / 2) * W + W / 2] >= 0.999f,
          "%s: centre %g, maximum at (%d, %d)", what, map[(H / 2) * W + W / 2], k % W, k / W);
    CHECK(map[0] < 0.05f && map[W * H - 1] < 0.05f, "%s: corners %g %g", what, map[0], map[W * H - 1]);
}

TEST(external_center_prior)
{
    static float map[W * H];
    char why[4200];
    dvren_context* ctx;
    dvren_stage* m;
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    ctx = th_ctx();
    m = mk_external(ctx, "center_prior.py", "{image} {output} {width} {height}", 0, -1);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run_external(ctx, m, png, map));
    check_center(map, "full size, float64");
    if (th_current_failed) return;
    CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
    dvren_stage_destroy(m);
    /* a coarse float32 grid (a ViT's patch grid), resized by the plugin */
    m = mk_external(ctx, "center_prior.py", "{image} {output} {width} {height} --grid 8", 0, -1);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run_external(ctx, m, png, map));
    check_center(map, "8x6 grid, float32");
    if (th_current_failed) return;
    CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* A path with a space and a single quote reaches the program intact. */
TEST(external_quoted_path)
{
    static float map[W * H];
    char why[4200], odd[4096];
    dvren_context* ctx;
    dvren_stage* m;
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    snprintf(odd, sizeof odd, "%s", th_tmp("it's a preview $(x).png"));
    CHECK(write_png(odd, W, H) == 0, "cannot write %s", odd);
    ctx = th_ctx();
    m = mk_external(ctx, "center_prior.py", "{image} {output} {width} {height}", 0, -1);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run_external(ctx, m, odd, map));
    check_center(map, "odd path");
    remove(odd);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* /proc/<pid>/stat says the process is gone (or a zombie). */
static int process_gone(long pid)
{
    char path[64], buf[512];
    FILE* f;
    size_t n;
    const char* rp;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f) return 1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

TEST(external_timeout_kills_the_group)
{
    static float map[W * H];
    char why[4200], args[4096];
    dvren_context* ctx;
    dvren_stage* m;
    dvren_status st;
    double t0, dt;
    long child = 0;
    FILE* f;
    const char* pidfile = th_tmp("saliency_sleeper.pid");
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    remove(pidfile);
    snprintf(args, sizeof args, "{output} '%s'", pidfile);
    ctx = th_ctx();
    m = mk_external(ctx, "sleeper.py", args, 1.0, -1);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    t0 = now_s();
    st = run_external(ctx, m, png, map);
    dt = now_s() - t0;
    CHECK(st == DVREN_ERROR_TIMEOUT, "status %s: %s", dvren_status_string(st), dvren_last_error(ctx));
    CHECK(dt < 4.0, "returned after %.2f s", dt);
    CHECK(strstr(dvren_last_error(ctx), "sleeper.py") && strstr(dvren_last_error(ctx), "timeout of 1 s"),
          "the message names the command and the limit: %s", dvren_last_error(ctx));
    CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
    f = fopen(pidfile, "r");
    if (f) {
        if (fscanf(f, "%ld", &child) != 1) child = 0;
        fclose(f);
    }
    if (child <= 0) printf("# the sleeper had not started its child before the timeout: group kill not checked\n");
    if (child > 0 && th_exists("/proc/self/stat")) {
        int i;
        for (i = 0; i < 100 && !process_gone(child); ++i) nap_ms(10);
        CHECK(process_gone(child), "the program's child %ld still runs", child);
    }
    remove(pidfile);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* Processes the command leaves running when it exits are killed with it. */
TEST(external_leftovers_are_killed)
{
    static float map[W * H];
    char why[4200], cmd[16384];
    dvren_context* ctx;
    dvren_params* p;
    dvren_stage* m;
    long child = 0;
    FILE* f;
    const char* pidfile = th_tmp("saliency_leftover.pid");
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    if (!th_exists("/proc/self/stat")) SKIP("no /proc to look at processes");
    remove(pidfile);
    ctx = th_ctx();
    p = new_params(ctx);
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/sleeper.py' /dev/null '%s' & sleep 1; '%s' '%s/center_prior.py' {image} {output} {width} {height}",
             py, scripts, pidfile, py, scripts);
    dvren_params_set_string(p, "command", cmd);
    m = mk_model(ctx, "external", p);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run_external(ctx, m, png, map));
    check_center(map, "with a process left behind");
    if (th_current_failed) return;
    f = fopen(pidfile, "r");
    if (f) {
        if (fscanf(f, "%ld", &child) != 1) child = 0;
        fclose(f);
    }
    if (child <= 0) {
        printf("# the background program had not started its child within 1 s: not checked\n");
    } else {
        int i;
        for (i = 0; i < 100 && !process_gone(child); ++i) nap_ms(10);
        CHECK(process_gone(child), "the command's leftover process %ld still runs", child);
    }
    CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
    remove(pidfile);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

TEST(external_failing_program)
{
    static float map[W * H];
    char why[4200];
    dvren_context* ctx;
    dvren_stage* m;
    dvren_status st;
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    ctx = th_ctx();
    m = mk_external(ctx, "failing.py", "{image} {output}", 0, -1);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    st = run_external(ctx, m, png, map);
    CHECK(st == DVREN_ERROR_PLUGIN, "status %s: %s", dvren_status_string(st), dvren_last_error(ctx));
    CHECK(strstr(dvren_last_error(ctx), "model weights not found: /nonexistent/dinov3_vits16.pth") &&
              strstr(dvren_last_error(ctx), "exit status 3") && strstr(dvren_last_error(ctx), "failing.py"),
          "the message has the command, its status and its stderr: %s", dvren_last_error(ctx));
    CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
    dvren_stage_destroy(m);

    /* a program that does not exist */
    {
        dvren_params* p = new_params(ctx);
        dvren_params_set_string(p, "command", "dvren_no_such_program_xyz {image} {output}");
        m = mk_model(ctx, "external", p);
        CHECK(m, "external: %s", dvren_last_error(ctx));
        st = run_external(ctx, m, png, map);
        CHECK(st == DVREN_ERROR_IO && strstr(dvren_last_error(ctx), "not found") &&
                  strstr(dvren_last_error(ctx), "dvren_no_such_program_xyz"),
              "status %s: %s", dvren_status_string(st), dvren_last_error(ctx));
        CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
        dvren_stage_destroy(m);
    }
    dvren_context_destroy(ctx);
}

TEST(external_malformed_npy)
{
    static const struct { const char* mode; dvren_status status; const char* says; } cases[] = {
        {"fortran", DVREN_ERROR_FORMAT, "fortran_order"}, {"int32", DVREN_ERROR_FORMAT, "descr"},
        {"3d", DVREN_ERROR_FORMAT, "shape"},             {"truncated", DVREN_ERROR_FORMAT, "data"},
        {"nan", DVREN_ERROR_FORMAT, "row 1, column 2 is NaN"}, {"badmagic", DVREN_ERROR_FORMAT, "magic"},
        {"none", DVREN_ERROR_IO, "wrote no map"}};
    static float map[W * H];
    char why[4200], args[64];
    dvren_context* ctx;
    size_t c;
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    ctx = th_ctx();
    for (c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        dvren_stage* m;
        dvren_status st;
        snprintf(args, sizeof args, "%s {output}", cases[c].mode);
        m = mk_external(ctx, "malformed_npy.py", args, 0, -1);
        CHECK(m, "external: %s", dvren_last_error(ctx));
        st = run_external(ctx, m, png, map);
        dvren_stage_destroy(m);
        CHECK(st == cases[c].status && strstr(dvren_last_error(ctx), cases[c].says) &&
                  (st != DVREN_ERROR_FORMAT || strstr(dvren_last_error(ctx), "map.npy")),
              "%s: %s: %s (wanted %s and '%s')", cases[c].mode, dvren_status_string(st), dvren_last_error(ctx),
              dvren_status_string(cases[c].status), cases[c].says);
        CHECK(tmp_entries() == 0, "%s: %d files left in %s", cases[c].mode, tmp_entries(), tmpdir);
    }
    /* big-endian float32 is valid */
    {
        dvren_stage* m = mk_external(ctx, "malformed_npy.py", "bigendian {output}", 0, -1);
        CHECK(m, "external: %s", dvren_last_error(ctx));
        CHECK_OK(ctx, run_external(ctx, m, png, map));
        CHECK(map[0] == 0.0f && map[W * H - 1] == 1.0f, "big-endian ramp: %g .. %g", map[0], map[W * H - 1]);
        dvren_stage_destroy(m);
    }
    dvren_context_destroy(ctx);
}

TEST(external_normalize_false)
{
    static float map[W * H];
    char why[4200];
    dvren_context* ctx;
    dvren_stage* m;
    dvren_status st;
    int bad = -1;
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    ctx = th_ctx();
    m = mk_external(ctx, "malformed_npy.py", "range {output}", 0, 0);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    st = run_external(ctx, m, png, map);
    CHECK(st == DVREN_ERROR_FORMAT && strstr(dvren_last_error(ctx), "outside [0, 1]") &&
              strstr(dvren_last_error(ctx), "map.npy"),
          "values up to 2 with normalize false: %s: %s", dvren_status_string(st), dvren_last_error(ctx));
    dvren_stage_destroy(m);
    /* values in [0, 1] pass unchanged (a 6x4 ramp resized to 64x48: corners stay 0 and 1) */
    m = mk_external(ctx, "malformed_npy.py", "unit {output}", 0, 0);
    CHECK(m, "external: %s", dvren_last_error(ctx));
    CHECK_OK(ctx, run_external(ctx, m, png, map));
    CHECK(in_unit_range(map, W * H, &bad), "pixel %d", bad);
    CHECK(map[0] == 0.0f && fabs(map[W * H - 1] - 1.0) < 1e-6, "ramp corners %g %g", map[0], map[W * H - 1]);
    CHECK(tmp_entries() == 0, "%d files left in %s", tmp_entries(), tmpdir);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

TEST(external_parameters)
{
    static float map[W * H];
    dvren_context* ctx = th_ctx();
    dvren_params* p = new_params(ctx);
    dvren_stage* m = NULL;
    dvren_status st;
    st = dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, "external", p, &m);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "command"), "no command: %s",
          dvren_last_error(ctx));
    dvren_params_set_string(p, "command", "python3 model.py {image} > out.npy");
    st = dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, "external", p, &m);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "{output}"), "no {output}: %s",
          dvren_last_error(ctx));
    dvren_params_set_string(p, "command", "true {output}");
    dvren_params_set_number(p, "timeout", 0.0);
    st = dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, "external", p, &m);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "timeout"), "timeout 0: %s",
          dvren_last_error(ctx));
    dvren_params_set_number(p, "timeout", 5.0);
    CHECK_OK(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, "external", p, &m));
    /* the model reads a file: no image_path, no run */
    st = run_external(ctx, m, NULL, map);
    CHECK(st == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "image_path"), "no image: %s",
          dvren_last_error(ctx));
    dvren_stage_destroy(m);
    dvren_params_destroy(p);
    dvren_context_destroy(ctx);
}

/* On a GPU: the map read from the file lands in device memory, equal to
 * the CPU context's. */
TEST(external_gpu_copy)
{
    static float cpu[W * H], gpu[W * H];
    char why[4200];
    dvren_context_desc d;
    dvren_context *gctx = NULL, *ctx;
    dvren_stage *mc, *mg;
    int i;
    if (!external_setup(why, sizeof why)) SKIP("%s", why);
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    if (dvren_context_create(&d, &gctx) != DVREN_OK) SKIP("no GPU: %s", dvren_last_error(NULL));
    ctx = th_ctx();
    mc = mk_external(ctx, "center_prior.py", "{image} {output} {width} {height} --grid 8", 0, -1);
    mg = mk_external(gctx, "center_prior.py", "{image} {output} {width} {height} --grid 8", 0, -1);
    CHECK(mc && mg, "models: %s / %s", dvren_last_error(ctx), dvren_last_error(gctx));
    CHECK_OK(ctx, run_external(ctx, mc, png, cpu));
    CHECK_OK(gctx, run_external(gctx, mg, png, gpu));
    for (i = 0; i < W * H; ++i) CHECK(cpu[i] == gpu[i], "pixel %d: cpu %g gpu %g", i, cpu[i], gpu[i]);
    dvren_stage_destroy(mc);
    dvren_stage_destroy(mg);
    dvren_context_destroy(ctx);
    dvren_context_destroy(gctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(render_error_disc_rim);
    RUN(render_error_variance_patch);
    RUN(render_error_constant_input);
    RUN(render_error_luma_edges_only);
    RUN(render_error_parameters);
    RUN(render_error_on_a_render);
    RUN(render_error_nvrtc_compiles);
    RUN(render_error_gpu_matches_cpu);
    RUN(external_center_prior);
    RUN(external_quoted_path);
    RUN(external_timeout_kills_the_group);
    RUN(external_leftovers_are_killed);
    RUN(external_failing_program);
    RUN(external_malformed_npy);
    RUN(external_normalize_false);
    RUN(external_parameters);
    RUN(external_gpu_copy);
    if (tmpdir[0]) rmdir(tmpdir);
    return th_done();
}
