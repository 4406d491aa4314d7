/* tests/test_splat_compose.c - composition of Gaussian-splat objects
 * (tools/dvren_splat_compose.h, dvren_splats_to_params / _from_params of
 * tools/dvren_splat_ply.h), rendered on the CPU.
 *
 * Expectations come from outside the code under test: a similarity moves
 * object and camera together, so the image must not change (the camera
 * transform is worked out here from x_cam = Rc x + tc, not taken from the
 * library); the same check with the SH left unrotated must fail, which
 * shows the check sees the SH; concatenation is compared with parameters
 * concatenated by this test's own loops; transform products and the
 * 90-degree cases are checked against matrices written out here. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SPLAT_PLY_IMPLEMENTATION
#include "dvren_splat_ply.h"
#define DVREN_SPLAT_COMPOSE_IMPLEMENTATION
#include "dvren_splat_compose.h"
#include "harness.h"

#define W 96
#define H 80

/* xorshift64*, uniform in [lo, hi) */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(double lo, double hi)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return lo + (hi - lo) * (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* n random Gaussians of SH degree deg in a ball of radius 0.8 about c. */
static int random_object(dvren_context* ctx, size_t n, int deg, const double c[3], dvren_splats* s)
{
    size_t i;
    uint32_t j;
    if (dvren_splats_create(ctx, n, deg, s) != DVREN_OK) return 0;
    for (i = 0; i < n; ++i) {
        for (j = 0; j < 3; ++j) {
            s->means[3 * i + j] = (float)(c[j] + urand(-0.8, 0.8));
            s->scale[3 * i + j] = (float)log(urand(0.04, 0.2));
            s->f_dc[3 * i + j] = (float)urand(-1.0, 1.0);
        }
        for (j = 0; j < 4; ++j) s->rot[4 * i + j] = (float)urand(-1.0, 1.0);
        s->opacity[i] = (float)urand(-0.5, 2.5);
        for (j = 0; j < s->rest_count; ++j) s->f_rest[s->rest_count * i + j] = (float)urand(-0.5, 0.5);
    }
    return 1;
}

/* A copy through the library's own concatenation of one part. */
static int copy_splats(dvren_context* ctx, const dvren_splats* a, dvren_splats* out)
{
    const dvren_splats* parts[1];
    parts[0] = a;
    return dvren_splats_concat(ctx, parts, 1, out) == DVREN_OK;
}

/* Row-major 3x3 matrix of the unit quaternion q (w x y z), written out independently. */
static void qmat(const double q[4], double R[9])
{
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    double M[9] = {w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
                   2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
                   2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z};
    memcpy(R, M, sizeof M);
}

/* Renders s with the world-to-camera [Rc | tc] (row-major 3x3, 3), fx = fy = 90,
 * principal point at the centre; RGB (H, W, 3) into rgb and depth into dep (may be NULL). */
static int render(dvren_context* ctx, const dvren_splats* s, const double Rc[9], const double tc[3], float* rgb,
                  float* dep)
{
    float V[16] = {0}, K[9] = {90, 0, W / 2.0f, 0, 90, H / 2.0f, 0, 0, 1};
    dvren_camera cam;
    dvren_plan_desc pd;
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_splat_renderer* r = NULL;
    dvren_splat_params p;
    int i, j, ok = 0;
    for (i = 0; i < 3; ++i) {
        for (j = 0; j < 3; ++j) V[4 * i + j] = (float)Rc[3 * i + j];
        V[4 * i + 3] = (float)tc[i];
    }
    V[15] = 1;
    memset(&p, 0, sizeof p);
    if (dvren_camera_from_opencv(V, K, &cam) != DVREN_OK) return 0;
    memset(&pd, 0, sizeof pd);
    pd.width = W;
    pd.height = H;
    pd.camera = cam;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;
    if (dvren_plan_create(ctx, &pd, &plan) == DVREN_OK && dvren_framebuffer_create(ctx, plan, &fb) == DVREN_OK &&
        dvren_splat_renderer_create(ctx, NULL, &r) == DVREN_OK && dvren_splats_to_params(ctx, s, &p) == DVREN_OK &&
        dvren_splat_render(r, &p, plan, fb, NULL) == DVREN_OK) {
        memcpy(rgb, th_out(fb, DVREN_OUTPUT_RGB), sizeof(float) * W * H * 3);
        if (dep) memcpy(dep, th_out(fb, DVREN_OUTPUT_DEPTH), sizeof(float) * W * H);
        ok = 1;
    }
    dvren_splats_params_free(ctx, &p);
    dvren_splat_renderer_destroy(r);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    return ok;
}

/* PSNR in dB of two RGB images with peak 1. */
static double psnr(const float* a, const float* b)
{
    double se = 0;
    size_t i;
    for (i = 0; i < (size_t)W * H * 3; ++i) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    se /= (double)W * H * 3;
    return se > 0 ? 10.0 * log10(1.0 / se) : 999.0;
}

/* The camera that sees x' = s R x + t as [Rc | tc] saw x, worked out here:
 * x = R^T (x' - t) / s, and s (Rc x + tc) projects like Rc x + tc, so
 * Rc' = Rc R^T, tc' = s tc - Rc R^T t (camera coordinates scaled by s). */
static void moved_camera(const double Rc[9], const double tc[3], double s, const double R[9], const double t[3],
                         double Rc2[9], double tc2[3])
{
    int i, j, k;
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            double a = 0;
            for (k = 0; k < 3; ++k) a += Rc[3 * i + k] * R[3 * j + k];
            Rc2[3 * i + j] = a;
        }
    for (i = 0; i < 3; ++i) tc2[i] = s * tc[i] - (Rc2[3 * i] * t[0] + Rc2[3 * i + 1] * t[1] + Rc2[3 * i + 2] * t[2]);
}

TEST(similarity_with_camera_leaves_image_unchanged)
{
    dvren_context* ctx = th_ctx();
    static float img0[W * H * 3], img1[W * H * 3], img2[W * H * 3], dep0[W * H], dep1[W * H];
    dvren_splats a, b, c;
    const double centre[3] = {0, 0, 0};
    /* camera 4 units from the origin, looking at it along its +z, turned a little */
    double qc[4] = {0.97, 0.1, -0.2, 0.05}, Rc[9], tc[3] = {0.1, -0.05, 4.0}, R[9], Rc2[9], tc2[3];
    dvren_splat_transform T = {1.7, {0.6, -0.3, 0.7, 0.25}, {0.4, -1.2, 2.5}};
    double p_rot, p_norot, dep_err = 0, covered = 0;
    size_t i;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    qmat(qc, Rc);
    qmat(T.rotation, R);
    moved_camera(Rc, tc, T.scale, R, T.translation, Rc2, tc2);
    CHECK(random_object(ctx, 60, 3, centre, &a), "%s", dvren_last_error(ctx));
    CHECK(copy_splats(ctx, &a, &b) && copy_splats(ctx, &a, &c), "%s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_splats_transform(ctx, &b, &T));
    /* c: the same transform with the SH left as it was */
    for (i = 0; i < c.count * c.rest_count; ++i) c.f_rest[i] = 0;
    CHECK_OK(ctx, dvren_splats_transform(ctx, &c, &T));
    memcpy(c.f_rest, a.f_rest, sizeof(float) * a.count * a.rest_count);
    CHECK(render(ctx, &a, Rc, tc, img0, dep0), "render: %s", dvren_last_error(ctx));
    CHECK(render(ctx, &b, Rc2, tc2, img1, dep1), "render: %s", dvren_last_error(ctx));
    CHECK(render(ctx, &c, Rc2, tc2, img2, NULL), "render: %s", dvren_last_error(ctx));
    for (i = 0; i < (size_t)W * H; ++i)
        if (dep0[i] > 0) {
            covered++;
            dep_err = fmax(dep_err, fabs(dep1[i] - T.scale * dep0[i]) / (T.scale * dep0[i]));
        }
    p_rot = psnr(img0, img1);
    p_norot = psnr(img0, img2);
    printf("# SH degree 3, 60 Gaussians, s = %.2f: PSNR %.1f dB with the SH rotated, %.1f dB without\n", T.scale, p_rot,
           p_norot);
    CHECK(covered > W * H / 4, "only %.0f pixels covered: the object is not in view", covered);
    CHECK(p_rot >= 60.0, "PSNR %.2f dB < 60 after moving object and camera together", p_rot);
    CHECK(p_norot < 40.0, "PSNR %.2f dB without rotating the SH: the test cannot see the SH", p_norot);
    CHECK(dep_err < 1e-3, "depth is not scaled by s: relative error %g", dep_err);
    dvren_splats_free(&a);
    dvren_splats_free(&b);
    dvren_splats_free(&c);
    dvren_context_destroy(ctx);
}

/* Parameters of a then b, concatenated by this test: degree max, missing coefficients zero. */
static int concat_params(dvren_context* ctx, const dvren_splats* a, const dvren_splats* b, dvren_splat_params* out)
{
    dvren_splat_params pa, pb;
    const dvren_splat_params* ps[2];
    uint32_t deg = (uint32_t)(a->sh_degree > b->sh_degree ? a->sh_degree : b->sh_degree), K = (deg + 1) * (deg + 1);
    int64_t n = (int64_t)(a->count + b->count), s3[2] = {n, 3}, s4[2] = {n, 4}, s1[1] = {n}, ssh[3] = {n, K, 3};
    int q, ok = 0;
    int64_t i, base = 0;
    uint32_t k, c;
    memset(out, 0, sizeof *out);
    if (dvren_splats_to_params(ctx, a, &pa) != DVREN_OK) return 0;
    if (dvren_splats_to_params(ctx, b, &pb) != DVREN_OK) {
        dvren_splats_params_free(ctx, &pa);
        return 0;
    }
    ps[0] = &pa;
    ps[1] = &pb;
    out->count = (uint32_t)n;
    out->sh_degree = deg;
    if (dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, s3, &out->means) || dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, s3, &out->log_scales) ||
        dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, s4, &out->quats) || dvren_tensor_create(ctx, DVREN_DTYPE_F32, 1, s1, &out->opacity_logits) ||
        dvren_tensor_create(ctx, DVREN_DTYPE_F32, 3, ssh, &out->sh))
        goto done;
    for (q = 0; q < 2; ++q) {
        const dvren_splat_params* p = ps[q];
        uint32_t Kp = (p->sh_degree + 1) * (p->sh_degree + 1);
        for (i = 0; i < (int64_t)p->count; ++i) {
            for (c = 0; c < 3; ++c) {
                ((float*)out->means.data)[3 * (base + i) + c] = ((const float*)p->means.data)[3 * i + c];
                ((float*)out->log_scales.data)[3 * (base + i) + c] = ((const float*)p->log_scales.data)[3 * i + c];
                for (k = 0; k < Kp; ++k)
                    ((float*)out->sh.data)[((base + i) * K + k) * 3 + c] = ((const float*)p->sh.data)[(i * Kp + k) * 3 + c];
            }
            for (c = 0; c < 4; ++c) ((float*)out->quats.data)[4 * (base + i) + c] = ((const float*)p->quats.data)[4 * i + c];
            ((float*)out->opacity_logits.data)[base + i] = ((const float*)p->opacity_logits.data)[i];
        }
        base += p->count;
    }
    ok = 1;
done:
    dvren_splats_params_free(ctx, &pa);
    dvren_splats_params_free(ctx, &pb);
    return ok;
}

TEST(composed_ply_renders_like_params_concatenated_in_memory)
{
    dvren_context* ctx = th_ctx();
    static float img0[W * H * 3], img1[W * H * 3];
    const double ca[3] = {-0.6, 0, 0}, cb[3] = {0.7, 0.2, 0.3};
    double Rc[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, tc[3] = {0, 0, 4.5};
    dvren_splat_transform TA = {0.8, {0.9, 0.1, 0.4, 0}, {-0.3, 0.1, 0}}, TB = {1.3, {0.2, 0.9, -0.1, 0.3}, {0.4, 0, 0.2}};
    dvren_splats a, b, all, back;
    const dvren_splats* parts[2];
    dvren_splat_params pin, pback;
    const char* path = th_tmp("composed.ply");
    uint64_t same = 0;
    size_t i;
    memset(&pin, 0, sizeof pin);
    memset(&pback, 0, sizeof pback);
    CHECK(random_object(ctx, 40, 3, ca, &a) && random_object(ctx, 30, 1, cb, &b), "%s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_splats_transform(ctx, &a, &TA));
    CHECK_OK(ctx, dvren_splats_transform(ctx, &b, &TB));
    parts[0] = &a;
    parts[1] = &b;
    CHECK_OK(ctx, dvren_splats_concat(ctx, parts, 2, &all));
    CHECK(all.count == 70 && all.sh_degree == 3, "concat: %.0f Gaussians of degree %d", (double)all.count, all.sh_degree);
    CHECK_OK(ctx, dvren_splat_ply_save(ctx, path, &all));
    CHECK_OK(ctx, dvren_splat_ply_load(ctx, path, 0, &back));
    CHECK(concat_params(ctx, &a, &b, &pin), "concat_params: %s", dvren_last_error(ctx));
    {
        /* the file read back, through from_params, must give the same params bit for bit */
        dvren_splats via;
        CHECK_OK(ctx, dvren_splats_to_params(ctx, &back, &pback));
        CHECK_OK(ctx, dvren_splats_from_params(ctx, &pin, &via));
        for (i = 0; i < 3 * via.count; ++i) same += via.means[i] == back.means[i] && via.f_dc[i] == back.f_dc[i];
        for (i = 0; i < via.count * via.rest_count; ++i) same += via.f_rest[i] == back.f_rest[i];
        CHECK(same == 3 * via.count + via.count * via.rest_count, "from_params differs from the file read back");
        dvren_splats_free(&via);
    }
    CHECK(memcmp(pin.sh.data, pback.sh.data, sizeof(float) * 70 * 16 * 3) == 0, "sh differs");
    CHECK(memcmp(pin.means.data, pback.means.data, sizeof(float) * 70 * 3) == 0, "means differ");
    CHECK(memcmp(pin.quats.data, pback.quats.data, sizeof(float) * 70 * 4) == 0, "quats differ");
    CHECK(render(ctx, &back, Rc, tc, img0, NULL), "render: %s", dvren_last_error(ctx));
    {
        /* render the in-memory parameters directly */
        dvren_splats mem;
        CHECK_OK(ctx, dvren_splats_from_params(ctx, &pin, &mem));
        CHECK(render(ctx, &mem, Rc, tc, img1, NULL), "render: %s", dvren_last_error(ctx));
        dvren_splats_free(&mem);
    }
    CHECK(memcmp(img0, img1, sizeof img0) == 0, "the PLY renders differently (PSNR %.1f dB)", psnr(img0, img1));
    {
        double sum = 0;
        for (i = 0; i < (size_t)W * H * 3; ++i) sum += img0[i];
        CHECK(sum > 0.05 * W * H, "the composed scene is not in view (mean %g)", sum / (W * H * 3));
    }
    dvren_splats_params_free(ctx, &pin);
    dvren_splats_params_free(ctx, &pback);
    dvren_splats_free(&a);
    dvren_splats_free(&b);
    dvren_splats_free(&all);
    dvren_splats_free(&back);
    dvren_context_destroy(ctx);
}

/* x' = s R x + t with R from this test's qmat. */
static void apply_point(const dvren_splat_transform* T, const double x[3], double out[3])
{
    double R[9];
    int i;
    qmat(T->rotation, R);
    for (i = 0; i < 3; ++i)
        out[i] = T->scale * (R[3 * i] * x[0] + R[3 * i + 1] * x[1] + R[3 * i + 2] * x[2]) + T->translation[i];
}

TEST(transforms_compose_and_identity_is_exact)
{
    dvren_context* ctx = th_ctx();
    const double c0[3] = {0.2, -0.1, 0.5};
    dvren_splat_transform T1 = {1.3, {0.3, 0.8, -0.2, 0.4}, {1, 2, -0.5}}, T2 = {0.6, {-0.5, 0.1, 0.6, 0.6}, {-0.7, 0.3, 0.9}};
    dvren_splat_transform T12, I = dvren_splat_transform_identity();
    dvren_splats a, b, c, d;
    double worst = 0, x[3] = {0.3, -1.1, 2.2}, y1[3], y2[3], y12[3];
    size_t i;
    int k;
    CHECK(random_object(ctx, 25, 3, c0, &a), "%s", dvren_last_error(ctx));
    /* composition of transforms: on a point, against this test's matrices */
    CHECK_OK(ctx, dvren_splat_transform_compose(ctx, &T2, &T1, &T12));
    apply_point(&T1, x, y1);
    apply_point(&T2, y1, y2);
    apply_point(&T12, x, y12);
    for (k = 0; k < 3; ++k) worst = fmax(worst, fabs(y2[k] - y12[k]));
    CHECK(worst < 1e-12, "T2 (T1 x) - (T2 T1) x = %g", worst);
    /* on Gaussians: T1 then T2 equals T2 T1 once */
    CHECK(copy_splats(ctx, &a, &b) && copy_splats(ctx, &a, &c) && copy_splats(ctx, &a, &d), "%s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_splats_transform(ctx, &b, &T1));
    CHECK_OK(ctx, dvren_splats_transform(ctx, &b, &T2));
    CHECK_OK(ctx, dvren_splats_transform(ctx, &c, &T12));
    worst = 0;
    for (i = 0; i < 3 * a.count; ++i) worst = fmax(worst, fabs(b.means[i] - c.means[i]) + fabs(b.scale[i] - c.scale[i]));
    for (i = 0; i < a.count; ++i) {
        /* q and -q are one rotation */
        double dp = 0, dm = 0;
        for (k = 0; k < 4; ++k) {
            dp = fmax(dp, fabs(b.rot[4 * i + k] - c.rot[4 * i + k]));
            dm = fmax(dm, fabs(b.rot[4 * i + k] + c.rot[4 * i + k]));
        }
        worst = fmax(worst, fmin(dp, dm));
    }
    for (i = 0; i < a.count * a.rest_count; ++i) worst = fmax(worst, fabs(b.f_rest[i] - c.f_rest[i]));
    CHECK(worst < 2e-5, "two transforms differ from their product by %g", worst);
    /* identity: every value exactly as it was */
    CHECK_OK(ctx, dvren_splats_transform(ctx, &d, &I));
    for (i = 0; i < 3 * a.count; ++i)
        CHECK(d.means[i] == a.means[i] && d.scale[i] == a.scale[i] && d.f_dc[i] == a.f_dc[i], "identity changed value %u",
              (unsigned)i);
    for (i = 0; i < 4 * a.count; ++i) CHECK(d.rot[i] == a.rot[i], "identity changed rot %u", (unsigned)i);
    for (i = 0; i < a.count * a.rest_count; ++i) CHECK(d.f_rest[i] == a.f_rest[i], "identity changed f_rest %u", (unsigned)i);
    for (i = 0; i < a.count; ++i) CHECK(d.opacity[i] == a.opacity[i], "identity changed opacity %u", (unsigned)i);
    dvren_splats_free(&a);
    dvren_splats_free(&b);
    dvren_splats_free(&c);
    dvren_splats_free(&d);
    dvren_context_destroy(ctx);
}

TEST(quarter_turn_by_hand)
{
    /* 90 degrees about z (x -> y, y -> -x), scale 2, translation (1, 0, 0), on one
     * Gaussian at (1, 0, 0) long along x (std 0.3, 0.1, 0.1) with a degree-1 SH
     * that is R-channel only along x: f_rest_2 (the x coefficient: 3DGS's band-1
     * order is y, z, x, basis -C1 y, C1 z, -C1 x). Expected: mean (1, 2, 0);
     * log-scales + log 2; the Gaussian's long axis along y; the x coefficient
     * moves to the y slot with the sign of the basis: -C1 x -> -C1 y (same
     * sign), so f_rest_0' = f_rest_2 and f_rest_2' = 0. */
    dvren_context* ctx = th_ctx();
    dvren_splats s;
    double q[4], M[9], ax[3] = {0, 0, 1}, e[3] = {0, 0, 90}, qe[4];
    dvren_splat_transform T = {2.0, {0, 0, 0, 0}, {1, 0, 0}};
    int k;
    CHECK_OK(ctx, dvren_splat_rotation_axis_angle(ctx, ax, 90.0, q));
    CHECK_OK(ctx, dvren_splat_rotation_euler_xyz(ctx, e, qe));
    for (k = 0; k < 4; ++k) CHECK(fabs(q[k] - qe[k]) < 1e-12, "euler (0, 0, 90) differs from axis-angle z 90");
    memcpy(T.rotation, q, sizeof q);
    CHECK_OK(ctx, dvren_splats_create(ctx, 1, 1, &s));
    s.means[0] = 1;
    s.scale[0] = (float)log(0.3);
    s.scale[1] = s.scale[2] = (float)log(0.1);
    s.rot[0] = 1;
    s.f_rest[2] = 0.5f;
    CHECK_OK(ctx, dvren_splats_transform(ctx, &s, &T));
    CHECK(fabs(s.means[0] - 1) < 1e-6 && fabs(s.means[1] - 2) < 1e-6 && fabs(s.means[2]) < 1e-6, "mean (%g %g %g)",
          s.means[0], s.means[1], s.means[2]);
    CHECK(fabs(s.scale[0] - log(0.6)) < 1e-6 && fabs(s.scale[1] - log(0.2)) < 1e-6, "scales %g %g", s.scale[0], s.scale[1]);
    {
        double qq[4] = {s.rot[0], s.rot[1], s.rot[2], s.rot[3]};
        qmat(qq, M); /* column 0 is the Gaussian's first axis */
        CHECK(fabs(M[0]) < 1e-6 && fabs(fabs(M[3]) - 1) < 1e-6 && fabs(M[6]) < 1e-6, "first axis (%g %g %g), not +-y", M[0],
              M[3], M[6]);
    }
    CHECK(fabs(s.f_rest[0] - 0.5) < 1e-5 && fabs(s.f_rest[1]) < 1e-5 && fabs(s.f_rest[2]) < 1e-5,
          "band 1 of R: %g %g %g, expected 0.5 0 0", s.f_rest[0], s.f_rest[1], s.f_rest[2]);
    for (k = 3; k < 9; ++k) CHECK(s.f_rest[k] == 0, "G/B band 1 not zero");
    dvren_splats_free(&s);
    dvren_context_destroy(ctx);
}

TEST(bad_input)
{
    dvren_context* ctx = th_ctx();
    dvren_splats s, out;
    dvren_splat_transform T = dvren_splat_transform_identity();
    const dvren_splats* parts[2] = {NULL, NULL};
    double ax0[3] = {0, 0, 0};
    double q[4];
    CHECK_OK(ctx, dvren_splats_create(ctx, 2, 2, &s));
    s.rot[0] = s.rot[4] = 1;
    T.scale = -1;
    CHECK(dvren_splats_transform(ctx, &s, &T) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "scale"),
          "negative scale: %s", dvren_last_error(ctx));
    T = dvren_splat_transform_identity();
    T.rotation[0] = 0;
    CHECK(dvren_splats_transform(ctx, &s, &T) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "rotation"),
          "zero quaternion: %s", dvren_last_error(ctx));
    T = dvren_splat_transform_identity();
    T.translation[1] = NAN;
    CHECK(dvren_splats_transform(ctx, &s, &T) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "translation[1]"),
          "nan translation: %s", dvren_last_error(ctx));
    T = dvren_splat_transform_identity();
    T.scale = 1e38;
    s.means[0] = 1e10f;
    CHECK(dvren_splats_transform(ctx, &s, &T) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "gaussian 0: x"),
          "overflow: %s", dvren_last_error(ctx));
    CHECK(dvren_splat_rotation_axis_angle(ctx, ax0, 30, q) == DVREN_ERROR_INVALID_ARGUMENT, "zero axis accepted");
    CHECK(dvren_splats_concat(ctx, parts, 0, &out) == DVREN_ERROR_INVALID_ARGUMENT, "no parts accepted");
    parts[0] = &s;
    parts[1] = NULL;
    CHECK(dvren_splats_concat(ctx, parts, 2, &out) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "parts[1]"),
          "NULL part: %s", dvren_last_error(ctx));
    s.rest_per_channel = 3; /* degree 2 needs 8 */
    CHECK(dvren_splats_transform(ctx, &s, &T) == DVREN_ERROR_INVALID_ARGUMENT, "inconsistent degree accepted");
    s.rest_per_channel = 8;
    dvren_splats_free(&s);
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(similarity_with_camera_leaves_image_unchanged);
    RUN(composed_ply_renders_like_params_concatenated_in_memory);
    RUN(transforms_compose_and_identity_is_exact);
    RUN(quarter_turn_by_hand);
    RUN(bad_input);
    return th_done();
}
