/* tests/test_splat_npz.c - gsplat's .npz test scene as splats, the seeded
 * random fill and the parameter files (tools/dvren_splat_npz.h), and the
 * zip walker it shares with dense_grid (tools/dvren_npz.h).
 *
 * Expectations come from outside the code under test: test_garden.npz's
 * facts from the data's README (138,766 points, 111,785 in the crop, 648 x
 * 420, the intrinsics, the camera centres; $DVREN_DATA, SKIP without it);
 * its points and colours decoded here a second way (the members found by
 * their local headers' names, the data after the 128-byte .npy header);
 * gsplat's crop and grid worked out from _helper.py's text (inclusive
 * bounds, offsets (gx, gy) = (g / 3 - 1, g % 3 - 1) x 4 for grid 3); the
 * random draws against the moments of their distributions; small archives
 * this test writes itself (its own zip and .npy writer and CRC), each bad
 * one refused with a message naming the file and the member or field. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define DVREN_SPLAT_NPZ_IMPLEMENTATION
#include "dvren_splat_npz.h"

#include <math.h>

#define C0 0.28209479177387814

/* ---- the test's own .npy and zip writer ---------------------------------- */

typedef struct tz_buf {
    unsigned char* p;
    size_t n, cap;
} tz_buf;

static void tz_put(tz_buf* b, const void* d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = (unsigned char*)realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void tz_u16(tz_buf* b, uint32_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    tz_put(b, x, 2);
}
static void tz_u32(tz_buf* b, uint32_t v)
{
    tz_u16(b, v & 0xFFFFu);
    tz_u16(b, v >> 16);
}

/* A .npy 1.0: the dict with descr and shape text ("(2, 3)"), then n data bytes. */
static void tz_npy(tz_buf* b, const char* descr, const char* shape, const void* data, size_t n)
{
    char h[256];
    int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    while ((10 + len + 1) % 64) h[len++] = ' ';
    h[len++] = '\n';
    tz_put(b, "\x93NUMPY\x01\x00", 8);
    tz_u16(b, (uint32_t)len);
    tz_put(b, h, (size_t)len);
    tz_put(b, data, n);
}

typedef struct tz_member {
    const char* name;
    tz_buf data;
    int method;  /* stored 0; 8 claims deflate (the bytes stay stored) */
    int bad_crc; /* 1: the directory's CRC is off by one */
} tz_member;

/* A zip of the members (APPNOTE 4.3.7, 4.3.12, 4.3.16). */
static void tz_zip(tz_buf* z, tz_member* m, int count)
{
    uint32_t off[16];
    size_t cd, cd_size;
    int i;
    for (i = 0; i < count; ++i) {
        uint32_t crc = th_crc32(m[i].data.p, m[i].data.n) + (uint32_t)m[i].bad_crc;
        off[i] = (uint32_t)z->n;
        tz_u32(z, 0x04034b50u);
        tz_u16(z, 20);
        tz_u16(z, 0);
        tz_u16(z, (uint32_t)m[i].method);
        tz_u32(z, 0);
        tz_u32(z, crc);
        tz_u32(z, (uint32_t)m[i].data.n);
        tz_u32(z, (uint32_t)m[i].data.n);
        tz_u16(z, (uint32_t)strlen(m[i].name));
        tz_u16(z, 0);
        tz_put(z, m[i].name, strlen(m[i].name));
        tz_put(z, m[i].data.p, m[i].data.n);
    }
    cd = z->n;
    for (i = 0; i < count; ++i) {
        uint32_t crc = th_crc32(m[i].data.p, m[i].data.n) + (uint32_t)m[i].bad_crc;
        tz_u32(z, 0x02014b50u);
        tz_u16(z, 20);
        tz_u16(z, 20);
        tz_u16(z, 0);
        tz_u16(z, (uint32_t)m[i].method);
        tz_u32(z, 0);
        tz_u32(z, crc);
        tz_u32(z, (uint32_t)m[i].data.n);
        tz_u32(z, (uint32_t)m[i].data.n);
        tz_u16(z, (uint32_t)strlen(m[i].name));
        tz_u16(z, 0);
        tz_u16(z, 0);
        tz_u16(z, 0);
        tz_u16(z, 0);
        tz_u32(z, 0);
        tz_u32(z, off[i]);
        tz_put(z, m[i].name, strlen(m[i].name));
    }
    cd_size = z->n - cd;
    tz_u32(z, 0x06054b50u);
    tz_u16(z, 0);
    tz_u16(z, 0);
    tz_u16(z, (uint32_t)count);
    tz_u16(z, (uint32_t)count);
    tz_u32(z, (uint32_t)cd_size);
    tz_u32(z, (uint32_t)cd);
    tz_u16(z, 0);
}

/* A small valid scene: 4 points (the last outside the default crop), 2 cameras. */
enum { TZ_MEANS, TZ_COLORS, TZ_VIEW, TZ_KS, TZ_W, TZ_H, TZ_N };
static void tz_scene(tz_member m[TZ_N])
{
    static const float means[12] = {0.5f, -1.0f, 2.0f, -2.0f, 0.0f, 1.5f, 1.0f, 1.0f, -0.25f, 3.0f, 0.0f, 0.0f};
    static const unsigned char colors[12] = {0, 128, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3};
    float view[32], K[18];
    int64_t w = 64, h = 48;
    int c, k;
    for (c = 0; c < 2; ++c) {
        for (k = 0; k < 16; ++k) view[16 * c + k] = (k % 5 == 0) ? 1.0f : 0.0f;
        view[16 * c + 11] = 3.0f + (float)c; /* t_z */
        for (k = 0; k < 9; ++k) K[9 * c + k] = 0.0f;
        K[9 * c + 0] = 50.0f;
        K[9 * c + 4] = 51.0f;
        K[9 * c + 2] = 32.0f;
        K[9 * c + 5] = 24.0f;
        K[9 * c + 8] = 1.0f;
    }
    memset(m, 0, sizeof(tz_member) * TZ_N);
    m[TZ_MEANS].name = "means3d.npy";
    tz_npy(&m[TZ_MEANS].data, "<f4", "(4, 3)", means, sizeof means);
    m[TZ_COLORS].name = "colors.npy";
    tz_npy(&m[TZ_COLORS].data, "|u1", "(4, 3)", colors, sizeof colors);
    m[TZ_VIEW].name = "viewmats.npy";
    tz_npy(&m[TZ_VIEW].data, "<f4", "(2, 4, 4)", view, sizeof view);
    m[TZ_KS].name = "Ks.npy";
    tz_npy(&m[TZ_KS].data, "<f4", "(2, 3, 3)", K, sizeof K);
    m[TZ_W].name = "width.npy";
    tz_npy(&m[TZ_W].data, "<i8", "()", &w, 8);
    m[TZ_H].name = "height.npy";
    tz_npy(&m[TZ_H].data, "<i8", "()", &h, 8);
}
static void tz_free(tz_member m[TZ_N])
{
    int i;
    for (i = 0; i < TZ_N; ++i) free(m[i].data.p);
}

/* ---- test_garden.npz, decoded a second way -------------------------------- */

/* The data of member name: its local header found by signature and name,
 * the .npy header's length read from bytes 8-9 (format 1.0). */
static const unsigned char* raw_member(const unsigned char* f, long n, const char* name)
{
    size_t nl = strlen(name);
    long i;
    for (i = 0; i + 30 + (long)nl < n; ++i)
        if (f[i] == 'P' && f[i + 1] == 'K' && f[i + 2] == 3 && f[i + 3] == 4 && f[i + 26] == nl && f[i + 27] == 0 &&
            memcmp(f + i + 30, name, nl) == 0) {
            const unsigned char* d = f + i + 30 + nl + (f[i + 28] | (f[i + 29] << 8));
            return d + 10 + (d[8] | (d[9] << 8));
        }
    return NULL;
}

TEST(garden_facts)
{
    const char* path = th_data("gaussians/test_garden.npz");
    static const double centre[3][3] = {{-1.066, -0.332, 0.484}, {-0.728, -0.759, 0.506}, {0.228, -0.798, 0.632}};
    dvren_context* ctx;
    dvren_splat_npz_scene sc;
    dvren_splat_npz_options o;
    unsigned char* raw;
    const unsigned char *rm, *rc;
    long n;
    size_t i, c, bad = 0, badc = 0;
    int k;
    if (!path) SKIP("no gaussians/test_garden.npz under $DVREN_DATA");
    ctx = th_ctx();
    memset(&o, 0, sizeof o);
    o.flags = DVREN_SPLAT_NPZ_NO_CROP;
    CHECK_OK(ctx, dvren_splat_npz_load(ctx, path, &o, &sc));
    CHECK(sc.source_count == 138766 && sc.cropped_count == 138766 && sc.splats.count == 138766, "counts %zu %zu %zu",
          sc.source_count, sc.cropped_count, sc.splats.count);
    CHECK(sc.width == 648 && sc.height == 420, "size %u x %u", sc.width, sc.height);
    CHECK(sc.splats.sh_degree == 0 && sc.splats.rest_count == 0, "degree %d", sc.splats.sh_degree);
    CHECK(sc.camera_count == 3, "cameras %zu", sc.camera_count);
    for (c = 0; c < sc.camera_count && c < 3; ++c) {
        const float* K = sc.cameras[c].K;
        const float* V = sc.cameras[c].viewmat;
        double C[3];
        CHECK(fabs(K[0] - 480.61234) < 1e-3 && fabs(K[4] - 481.54453) < 1e-3 && fabs(K[2] - 324.1875) < 1e-4 &&
                  fabs(K[5] - 210.0625) < 1e-4 && K[8] == 1.0f,
              "camera %zu: fx %g fy %g cx %g cy %g", c, K[0], K[4], K[2], K[5]);
        /* the centre -R^T t */
        for (k = 0; k < 3; ++k) C[k] = -((double)V[k] * V[3] + (double)V[4 + k] * V[7] + (double)V[8 + k] * V[11]);
        CHECK(fabs(C[0] - centre[c][0]) < 1e-3 && fabs(C[1] - centre[c][1]) < 1e-3 && fabs(C[2] - centre[c][2]) < 1e-3,
              "camera %zu centre (%.4f %.4f %.4f)", c, C[0], C[1], C[2]);
    }
    raw = th_read_file(path, &n);
    rm = raw ? raw_member(raw, n, "means3d.npy") : NULL;
    rc = raw ? raw_member(raw, n, "colors.npy") : NULL;
    CHECK(rm && rc, "members not found by their local headers");
    if (rm && rc && sc.splats.count == 138766)
        for (i = 0; i < 138766; ++i)
            for (k = 0; k < 3; ++k) {
                float m;
                double col = 0.5 + C0 * (double)sc.splats.f_dc[3 * i + (size_t)k];
                memcpy(&m, rm + 12 * i + 4 * (size_t)k, 4);
                m += 0.0f; /* gsplat adds the zero offset: -0 becomes +0 */
                bad += memcmp(&m, &sc.splats.means[3 * i + (size_t)k], 4) != 0;
                badc += fabs(col - rc[3 * i + (size_t)k] / 255.0) > 1e-6;
            }
    CHECK(bad == 0, "%zu coordinates differ from the file's", bad);
    CHECK(badc == 0, "%zu colours differ from c / 255 by more than 1e-6", badc);
    dvren_splat_npz_scene_free(&sc);
    CHECK(sc.splats.count == 0 && !sc.cameras, "free did not zero");
    free(raw);
    dvren_context_destroy(ctx);
}

TEST(garden_crop_and_grid)
{
    const char* path = th_data("gaussians/test_garden.npz");
    dvren_context* ctx;
    dvren_splat_npz_scene s1, s3;
    dvren_splat_npz_options o;
    unsigned char* raw;
    const unsigned char *rm, *rc;
    long n;
    size_t i, m = 0, bad = 0, badc = 0, M;
    int k, g;
    if (!path) SKIP("no gaussians/test_garden.npz under $DVREN_DATA");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_splat_npz_load(ctx, path, NULL, &s1));
    CHECK(s1.source_count == 138766 && s1.cropped_count == 111785 && s1.splats.count == 111785, "crop: %zu of %zu",
          s1.splats.count, s1.source_count);
    raw = th_read_file(path, &n);
    rm = raw ? raw_member(raw, n, "means3d.npy") : NULL;
    rc = raw ? raw_member(raw, n, "colors.npy") : NULL;
    CHECK(rm && rc, "members not found");
    /* the inclusive crop, in file order */
    if (rm && rc && s1.splats.count == 111785)
        for (i = 0; i < 138766; ++i) {
            float p[3];
            memcpy(p, rm + 12 * i, 12);
            if (p[0] >= -2 && p[0] <= 2 && p[1] >= -2 && p[1] <= 2 && p[2] >= -2 && p[2] <= 2) {
                for (k = 0; k < 3; ++k) {
                    float q = p[k] + 0.0f;
                    bad += memcmp(&q, &s1.splats.means[3 * m + (size_t)k], 4) != 0;
                    badc += fabs(0.5 + C0 * s1.splats.f_dc[3 * m + (size_t)k] - rc[3 * i + (size_t)k] / 255.0) > 1e-6;
                }
                ++m;
            }
        }
    CHECK(m == 111785 && bad == 0 && badc == 0, "kept %zu, %zu positions and %zu colours differ", m, bad, badc);
    memset(&o, 0, sizeof o);
    o.grid = 3;
    CHECK_OK(ctx, dvren_splat_npz_load(ctx, path, &o, &s3));
    M = s1.splats.count;
    CHECK(s3.splats.count == 9 * M && s3.cropped_count == M, "grid 3: %zu", s3.splats.count);
    bad = badc = 0;
    if (s3.splats.count == 9 * M)
        for (g = 0; g < 9; ++g) {
            /* torch.meshgrid(ij) over arange(-1, 2): copy g at (g / 3 - 1, g % 3 - 1) x the crop's edges, 4 */
            float off[3] = {(float)(g / 3 - 1) * 4.0f, (float)(g % 3 - 1) * 4.0f, 0.0f};
            for (i = 0; i < M; ++i)
                for (k = 0; k < 3; ++k) {
                    float want = s1.splats.means[3 * i + (size_t)k] + off[k];
                    bad += memcmp(&want, &s3.splats.means[3 * ((size_t)g * M + i) + (size_t)k], 4) != 0;
                    badc += s3.splats.f_dc[3 * ((size_t)g * M + i) + (size_t)k] != s1.splats.f_dc[3 * i + (size_t)k];
                }
        }
    CHECK(bad == 0 && badc == 0, "grid: %zu positions, %zu colours differ", bad, badc);
    /* the first copy sits at (-4, -4): point 0's x is 4 less than in the single scene */
    if (s3.splats.count == 9 * M)
        CHECK(fabsf(s3.splats.means[0] - (s1.splats.means[0] - 4.0f)) < 1e-5f &&
                  fabsf(s3.splats.means[1] - (s1.splats.means[1] - 4.0f)) < 1e-5f &&
                  s3.splats.means[2] == s1.splats.means[2],
              "copy 0 not at (-4, -4, 0)");
    /* the same seed: the grid's first M Gaussians have the single scene's random draws */
    if (s3.splats.count == 9 * M)
        CHECK(memcmp(s3.splats.rot, s1.splats.rot, M * 16) == 0 && memcmp(s3.splats.scale, s1.splats.scale, M * 12) == 0,
              "draws depend on the count");
    dvren_splat_npz_scene_free(&s1);
    dvren_splat_npz_scene_free(&s3);
    free(raw);
    dvren_context_destroy(ctx);
}

TEST(random_fill)
{
    enum { N = 200000 };
    dvren_splats a, b, c, d;
    double sm = 0, sv = 0, om = 0, ov = 0, w2 = 0, w4 = 0, qm = 0;
    const double lo = 1e-4, hi = 0.02;
    size_t i, out = 0, badn = 0;
    int k;
    CHECK_OK(NULL, dvren_splats_create(NULL, N, 0, &a));
    CHECK_OK(NULL, dvren_splats_create(NULL, N, 0, &b));
    CHECK_OK(NULL, dvren_splats_create(NULL, N, 0, &c));
    CHECK_OK(NULL, dvren_splats_create(NULL, 10, 0, &d));
    CHECK_OK(NULL, dvren_splats_fill_random(&a, 1234));
    CHECK_OK(NULL, dvren_splats_fill_random(&b, 1234));
    CHECK_OK(NULL, dvren_splats_fill_random(&c, 1235));
    CHECK_OK(NULL, dvren_splats_fill_random(&d, 1234));
    CHECK(memcmp(a.scale, b.scale, N * 12) == 0 && memcmp(a.rot, b.rot, N * 16) == 0 && memcmp(a.opacity, b.opacity, N * 4) == 0,
          "the same seed gave different bits");
    CHECK(memcmp(a.scale, c.scale, N * 12) != 0 && memcmp(a.rot, c.rot, N * 16) != 0 && memcmp(a.opacity, c.opacity, N * 4) != 0,
          "another seed gave the same values");
    CHECK(memcmp(a.scale, d.scale, 120) == 0 && memcmp(a.rot, d.rot, 160) == 0 && memcmp(a.opacity, d.opacity, 40) == 0,
          "Gaussian i's draws depend on the count");
    for (i = 0; i < N; ++i) {
        double q2 = 0, o;
        for (k = 0; k < 3; ++k) {
            double s = exp((double)a.scale[3 * i + (size_t)k]);
            out += !(s >= lo * (1 - 1e-6) && s <= hi * (1 + 1e-6));
            sm += s;
            sv += s * s;
        }
        for (k = 0; k < 4; ++k) q2 += (double)a.rot[4 * i + (size_t)k] * a.rot[4 * i + (size_t)k];
        badn += fabs(sqrt(q2) - 1.0) > 1e-6;
        w2 += (double)a.rot[4 * i] * a.rot[4 * i];
        w4 += pow((double)a.rot[4 * i + 1], 4);
        qm += a.rot[4 * i + 2];
        o = 1.0 / (1.0 + exp(-(double)a.opacity[i]));
        out += !(isfinite(a.opacity[i]) && o > 0.0 && o < 1.0);
        om += o;
        ov += o * o;
    }
    CHECK(out == 0, "%zu values outside their ranges", out);
    CHECK(badn == 0, "%zu quaternions not of norm 1 to 1e-6", badn);
    sm /= 3.0 * N;
    sv = sv / (3.0 * N) - sm * sm;
    om /= N;
    ov = ov / N - om * om;
    /* uniform on [lo, hi]: mean (lo + hi) / 2, variance (hi - lo)^2 / 12; the tolerances are about 6 standard errors */
    CHECK(fabs(sm - (lo + hi) / 2) < 6 * (hi - lo) / sqrt(12.0 * 3 * N), "scale mean %g", sm);
    CHECK(fabs(sv / ((hi - lo) * (hi - lo) / 12) - 1) < 0.01, "scale variance %g", sv);
    CHECK(fabs(om - 0.5) < 6 / sqrt(12.0 * N), "opacity mean %g", om);
    CHECK(fabs(ov * 12 - 1) < 0.01, "opacity variance %g", ov);
    /* a uniform unit vector in R^4: E[q_k] = 0, E[q_k^2] = 1/4, E[q_k^4] = 3 / (4 * 6) = 1/8 */
    CHECK(fabs(qm / N) < 0.005, "E[y] %g", qm / N);
    CHECK(fabs(w2 / N - 0.25) < 0.003, "E[w^2] %g", w2 / N);
    CHECK(fabs(w4 / N - 0.125) < 0.003, "E[x^4] %g", w4 / N);
    CHECK(dvren_splats_fill_random(NULL, 1) == DVREN_ERROR_INVALID_ARGUMENT, "NULL accepted");
    dvren_splats_free(&a);
    dvren_splats_free(&b);
    dvren_splats_free(&c);
    dvren_splats_free(&d);
}

/* Reads dir/file as float32 with the given shape text; returns its data (malloc'ed) or NULL. */
static float* read_npy(const char* file, uint32_t ndim, uint64_t d0, uint64_t d1, uint64_t d2)
{
    long n;
    unsigned char* raw = th_read_file(th_tmp(file), &n);
    dvren_npy_array a;
    float* v = NULL;
    if (raw && dvren_npy_parse_header(&a, raw, (size_t)n, file) == 0 && dvren_npy_check_data(&a) == 0 &&
        a.dtype == DVREN_NPY_F32 && a.ndim == ndim && a.shape[0] == d0 && (ndim < 2 || a.shape[1] == d1) &&
        (ndim < 3 || a.shape[2] == d2)) {
        v = (float*)malloc(a.count * 4);
        memcpy(v, a.data, a.count * 4);
    }
    free(raw);
    return v;
}

TEST(save_params)
{
    dvren_context* ctx = th_ctx();
    dvren_splats s;
    float *m, *ls, *q, *op, *col, *sh;
    size_t i;
    int k;
    CHECK_OK(ctx, dvren_splats_create(ctx, 5, 1, &s));
    for (i = 0; i < 15; ++i) {
        s.means[i] = (float)i * 0.25f - 1.0f;
        s.f_dc[i] = (float)i * 0.1f - 0.7f;
        s.f_rest[3 * i] = (float)i;
        s.f_rest[3 * i + 1] = (float)i + 100.0f;
        s.f_rest[3 * i + 2] = (float)i + 200.0f;
    }
    CHECK_OK(ctx, dvren_splats_fill_random(&s, 7));
    CHECK_OK(ctx, dvren_splat_npz_save_params(ctx, th_tmp(""), &s));
    m = read_npy("means.npy", 2, 5, 3, 0);
    ls = read_npy("log_scales.npy", 2, 5, 3, 0);
    q = read_npy("quats.npy", 2, 5, 4, 0);
    op = read_npy("opacity_logits.npy", 1, 5, 0, 0);
    col = read_npy("colors.npy", 2, 5, 3, 0);
    sh = read_npy("sh_coeffs.npy", 3, 5, 4, 3);
    CHECK(m && ls && q && op && col && sh, "a file is missing or of the wrong dtype/shape: %p %p %p %p %p %p", (void*)m,
          (void*)ls, (void*)q, (void*)op, (void*)col, (void*)sh);
    if (m && ls && q && op && col && sh) {
        CHECK(memcmp(m, s.means, 60) == 0 && memcmp(ls, s.scale, 60) == 0 && memcmp(q, s.rot, 80) == 0 &&
                  memcmp(op, s.opacity, 20) == 0,
              "values differ");
        for (i = 0; i < 15; ++i)
            CHECK(fabs(col[i] - (0.5 + C0 * s.f_dc[i])) < 1e-7, "colour %zu: %g", i, col[i]);
        /* gsplat's (N, K, 3): [i][0][c] = f_dc, [i][k][c] = f_rest[c K + k - 1], K = 3 per channel here */
        for (i = 0; i < 5; ++i)
            for (k = 0; k < 3; ++k) {
                CHECK(sh[i * 12 + (size_t)k] == s.f_dc[3 * i + (size_t)k], "sh dc %zu %d", i, k);
                CHECK(sh[i * 12 + 3 + (size_t)k] == s.f_rest[9 * i + 3 * (size_t)k], "sh band 1 first %zu %d", i, k);
                CHECK(sh[i * 12 + 9 + (size_t)k] == s.f_rest[9 * i + 3 * (size_t)k + 2], "sh band 1 last %zu %d", i, k);
            }
    }
    free(m);
    free(ls);
    free(q);
    free(op);
    free(col);
    free(sh);
    s.rot[6] = NAN;
    CHECK(dvren_splat_npz_save_params(ctx, th_tmp(""), &s) == DVREN_ERROR_INVALID_ARGUMENT &&
              strstr(dvren_last_error(ctx), "gaussian 1: rot[2]"),
          "NaN: %s", dvren_last_error(ctx));
    s.rot[6] = 0.0f;
    CHECK(dvren_splat_npz_save_params(ctx, th_tmp("no/such/folder"), &s) == DVREN_ERROR_IO, "missing folder: %s",
          dvren_last_error(ctx));
    dvren_splats_free(&s);
    dvren_context_destroy(ctx);
}

/* Parses z expecting st, with the file's name and word in the message. */
#define EXPECT_FAIL(ctx, z, opt, st, word)                                                                                 \
    do {                                                                                                                   \
        dvren_splat_npz_scene s_;                                                                                          \
        dvren_status r_ = dvren_splat_npz_parse((ctx), (z).p, (z).n, "bad.npz", (opt), &s_);                               \
        const char* e_ = dvren_last_error(ctx);                                                                            \
        CHECK(r_ == (st), "%s: got %s, expected %s (%s)", (word), dvren_status_string(r_), dvren_status_string(st), e_); \
        CHECK(strstr(e_, "bad.npz") != NULL, "the message does not name the file: %s", e_);                                \
        CHECK(strstr(e_, (word)) != NULL, "the message lacks '%s': %s", (word), e_);                                       \
        CHECK(s_.splats.count == 0 && s_.splats.means == NULL && s_.cameras == NULL, "out not left empty");                \
    } while (0)

/* Builds the small scene with member `which` replaced by a .npy of descr/shape/data (which < 0: unchanged;
 * drop: leave the member out). */
static tz_buf build(int which, const char* descr, const char* shape, const void* data, size_t n, int drop)
{
    tz_member m[TZ_N], keep[TZ_N];
    tz_buf z = {0};
    int i, k = 0;
    tz_scene(m);
    if (which >= 0) {
        m[which].data.n = 0;
        if (!drop) tz_npy(&m[which].data, descr, shape, data, n);
    }
    for (i = 0; i < TZ_N; ++i)
        if (!(drop && i == which)) keep[k++] = m[i];
    tz_zip(&z, keep, k);
    tz_free(m);
    return z;
}

TEST(small_scene_and_options)
{
    dvren_context* ctx = th_ctx();
    dvren_splat_npz_scene sc;
    dvren_splat_npz_options o;
    tz_buf z = build(-1, NULL, NULL, NULL, 0, 0);
    CHECK_OK(ctx, dvren_splat_npz_parse(ctx, z.p, z.n, "small.npz", NULL, &sc));
    /* points 0..2 are inside [-2, 2]^3 (bounds included: -2 and 2 are in), point 3 (x = 3) is not */
    CHECK(sc.source_count == 4 && sc.splats.count == 3, "count %zu", sc.splats.count);
    CHECK(sc.camera_count == 2 && sc.width == 64 && sc.height == 48 && sc.cameras[1].viewmat[11] == 4.0f &&
              sc.cameras[1].K[4] == 51.0f,
          "cameras");
    if (sc.splats.count == 3) {
        CHECK(sc.splats.means[3] == -2.0f && sc.splats.means[8] == -0.25f, "means");
        CHECK(fabs(0.5 + C0 * sc.splats.f_dc[0]) < 1e-7 && fabs(0.5 + C0 * sc.splats.f_dc[2] - 1.0) < 1e-7 &&
                  fabs(0.5 + C0 * sc.splats.f_dc[1] - 128.0 / 255) < 1e-7,
              "colours");
    }
    dvren_splat_npz_scene_free(&sc);
    /* a custom crop: x in [0, 5] keeps points 0, 2, 3 */
    memset(&o, 0, sizeof o);
    o.crop[0] = 0; o.crop[1] = -5; o.crop[2] = -5; o.crop[3] = 5; o.crop[4] = 5; o.crop[5] = 5;
    CHECK_OK(ctx, dvren_splat_npz_parse(ctx, z.p, z.n, "small.npz", &o, &sc));
    CHECK(sc.splats.count == 3 && sc.splats.means[3] == 1.0f && sc.splats.means[6] == 3.0f, "custom crop %zu", sc.splats.count);
    dvren_splat_npz_scene_free(&sc);
    /* grid 3 with the custom crop: edges (5, 10, 10); copy 0 at (-5, -10) */
    o.grid = 3;
    CHECK_OK(ctx, dvren_splat_npz_parse(ctx, z.p, z.n, "small.npz", &o, &sc));
    CHECK(sc.splats.count == 27 && sc.splats.means[0] == 0.5f - 5.0f && sc.splats.means[1] == -1.0f - 10.0f &&
              sc.splats.means[3 * 26 + 0] == 3.0f + 5.0f && sc.splats.means[3 * 26 + 1] == 0.0f + 10.0f,
          "grid with a custom crop");
    dvren_splat_npz_scene_free(&sc);
    memset(&o, 0, sizeof o);
    o.grid = 2;
    EXPECT_FAIL(ctx, z, &o, DVREN_ERROR_INVALID_ARGUMENT, "grid 2");
    o.grid = 1;
    o.crop[0] = 1; o.crop[3] = -1;
    EXPECT_FAIL(ctx, z, &o, DVREN_ERROR_INVALID_ARGUMENT, "crop[0]");
    memset(&o, 0, sizeof o);
    o.flags = 8;
    EXPECT_FAIL(ctx, z, &o, DVREN_ERROR_INVALID_ARGUMENT, "flags");
    free(z.p);
    dvren_context_destroy(ctx);
}

TEST(bad_inputs)
{
    dvren_context* ctx = th_ctx();
    static const double d8[12] = {0};
    static const float f12[12] = {0};
    static const float nanpt[12] = {0, 0, 0, NAN, 0, 0, 0, 0, 0, 0, 0, 0};
    float view[32] = {0}, K[18] = {0};
    int64_t wbig = 100000;
    tz_buf z;
    tz_member m[TZ_N];
    /* missing members */
    z = build(TZ_COLORS, NULL, NULL, NULL, 0, 1);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "colors: missing");
    free(z.p);
    z = build(TZ_H, NULL, NULL, NULL, 0, 1);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "height: missing");
    free(z.p);
    /* wrong dtypes and shapes */
    z = build(TZ_MEANS, "<f8", "(4, 3)", d8, sizeof d8, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "means3d: descr: dtype '<f8'");
    free(z.p);
    z = build(TZ_MEANS, "<f4", "(3, 4)", f12, sizeof f12, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "means3d: shape");
    free(z.p);
    z = build(TZ_COLORS, "|u1", "(3, 3)", f12, 9, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "colors: shape");
    free(z.p);
    z = build(TZ_COLORS, "<f4", "(4, 3)", f12, sizeof f12 * 4 / 4, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "colors: descr");
    free(z.p);
    z = build(TZ_KS, "<f4", "(1, 3, 3)", K, 36, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "Ks: shape");
    free(z.p);
    z = build(TZ_VIEW, "<f4", "(2, 16)", view, sizeof view, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "viewmats: shape");
    free(z.p);
    z = build(TZ_W, "<i8", "(1,)", &wbig, 8, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "width: shape");
    free(z.p);
    z = build(TZ_W, "<i8", "()", &wbig, 8, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "width: value 100000");
    free(z.p);
    /* values */
    z = build(TZ_MEANS, "<f4", "(4, 3)", nanpt, sizeof nanpt, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "means3d: point 1");
    free(z.p);
    z = build(TZ_VIEW, "<f4", "(2, 4, 4)", view, sizeof view, 0); /* all zeros: last row 0 0 0 0 */
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "viewmats: camera 0: last row");
    free(z.p);
    z = build(TZ_KS, "<f4", "(2, 3, 3)", K, sizeof K, 0); /* all zeros: fx 0 */
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "Ks: camera 0");
    free(z.p);
    /* a member whose data are shorter than its shape: truncated */
    z = build(TZ_MEANS, "<f4", "(4, 3)", f12, 40, 0);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "means3d: data: truncated");
    free(z.p);
    /* a truncated file: the end record is gone */
    z = build(-1, NULL, NULL, NULL, 0, 0);
    z.n = z.n / 2;
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "not a zip");
    free(z.p);
    /* not a zip */
    z.p = (unsigned char*)malloc(64);
    memset(z.p, 'a', 64);
    z.n = 64;
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "not a zip");
    z.n = 0;
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "not a zip");
    free(z.p);
    /* a damaged member (CRC) and a compressed one */
    tz_scene(m);
    m[TZ_KS].bad_crc = 1;
    z.p = NULL;
    z.n = z.cap = 0;
    tz_zip(&z, m, TZ_N);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_FORMAT, "member 'Ks.npy': CRC-32");
    free(z.p);
    m[TZ_KS].bad_crc = 0;
    m[TZ_COLORS].method = 8;
    z.p = NULL;
    z.n = z.cap = 0;
    tz_zip(&z, m, TZ_N);
    EXPECT_FAIL(ctx, z, NULL, DVREN_ERROR_UNSUPPORTED, "member 'colors.npy': compression method 8");
    free(z.p);
    tz_free(m);
    /* a file on disk that does not exist, and one that is not a zip */
    {
        dvren_splat_npz_scene s;
        CHECK(dvren_splat_npz_load(ctx, th_tmp("absent.npz"), NULL, &s) == DVREN_ERROR_IO &&
                  strstr(dvren_last_error(ctx), "absent.npz"),
              "absent: %s", dvren_last_error(ctx));
        th_write_file(th_tmp("text.npz"), "hello", 5);
        CHECK(dvren_splat_npz_load(ctx, th_tmp("text.npz"), NULL, &s) == DVREN_ERROR_FORMAT &&
                  strstr(dvren_last_error(ctx), "text.npz") && strstr(dvren_last_error(ctx), "not a zip"),
              "text: %s", dvren_last_error(ctx));
    }
    dvren_context_destroy(ctx);
}

TEST(zip_records)
{
    static const unsigned char v[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    tz_member m[TZ_N];
    tz_buf z = {0};
    dvren_npz a;
    const unsigned char* d;
    size_t n;
    dvren_zip_entry e;
    /* the CRC-32 check value of APPNOTE / ITU-T V.42 */
    CHECK(dvren_crc32(0, v, 9) == 0xCBF43926u, "crc %08x", dvren_crc32(0, v, 9));
    CHECK(dvren_crc32(dvren_crc32(0, v, 4), v + 4, 5) == 0xCBF43926u, "crc in two parts");
    tz_scene(m);
    tz_zip(&z, m, TZ_N);
    CHECK(dvren_npz_open(&a, z.p, z.n, "t.npz") == 0 && a.eocd.entries == TZ_N, "%s", a.error);
    CHECK(dvren_npz_member(&a, "Ks", &d, &n, &e) == 0 && n == m[TZ_KS].data.n && memcmp(d, m[TZ_KS].data.p, n) == 0 &&
              !strcmp(e.name, "Ks.npy"),
          "Ks: %s", a.error);
    CHECK(dvren_npz_member(&a, "Ks.npy", &d, &n, NULL) == 0, "with .npy: %s", a.error);
    CHECK(dvren_npz_member(&a, "K", &d, &n, NULL) == 1 && strstr(a.error, "no member 'K'"), "absent: %s", a.error);
    CHECK(dvren_npz_member(&a, NULL, &d, &n, &e) == 0 && !strcmp(e.name, "means3d.npy"), "first .npy: %s", e.name);
    free(z.p);
    tz_free(m);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(garden_facts);
    RUN(garden_crop_and_grid);
    RUN(random_fill);
    RUN(save_params);
    RUN(small_scene_and_options);
    RUN(bad_inputs);
    RUN(zip_records);
    return th_done();
}
