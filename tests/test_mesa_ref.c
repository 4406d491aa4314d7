/* tests/test_mesa_ref.c - the reference rasterizer (tests/mesa_ref.h,
 * Mesa's software OpenGL through OSMesa) against closed forms: an
 * orthographic quad's exact pixel rectangle, flat colours bit for bit, the
 * depth test, a perspective quad's coverage against the projection formula
 * in double, and GL's pixel centres against dvren's matrix-camera rays, so
 * that later comparisons of dvren images with Mesa's line up. Every test
 * SKIPs when libOSMesa (Debian libosmesa6-dev) is absent. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"
#include "mesa_ref.c"

static int g_gl = -1; /* 1: a GL 3.3 context works; 0: unavailable */
static char g_why[1024];

#define NEED_GL()                                                   \
    do {                                                            \
        if (g_gl == 0) SKIP("%s", g_why);                           \
    } while (0)

/* ---- column-major matrices, in double, then stored as float for GL and dvren */
/* look_at and perspective: mesa_ref_look_at / mesa_ref_perspective (mesa_ref.h) */
static void look_at(const double eye[3], const double target[3], const double up[3], float m[16])
{
    mesa_ref_look_at(eye, target, up, m);
}
static void perspective(double fov_y_rad, double aspect, double n, double f, float m[16])
{
    mesa_ref_perspective(fov_y_rad, aspect, n, f, 0.0, 0.0, m);
}
static void ortho(double l, double r, double b, double t, double n, double f, float m[16])
{
    memset(m, 0, 16 * sizeof(float));
    m[0] = (float)(2.0 / (r - l));
    m[5] = (float)(2.0 / (t - b));
    m[10] = (float)(-2.0 / (f - n));
    m[12] = (float)(-(r + l) / (r - l));
    m[13] = (float)(-(t + b) / (t - b));
    m[14] = (float)(-(f + n) / (f - n));
    m[15] = 1.0f;
}
static void identity(float m[16])
{
    memset(m, 0, 16 * sizeof(float));
    m[0] = m[5] = m[10] = m[15] = 1.0f;
}
/* World point -> image position in pixels (x right, y down, top-left
 * origin; pixel centres at +0.5), by projection * view in double. */
static void project(const float view[16], const float proj[16], const double p[3], int w, int h, double* px, double* py)
{
    double e[4], c[4];
    int i, k;
    for (i = 0; i < 4; ++i) e[i] = view[12 + i] + view[i] * p[0] + view[4 + i] * p[1] + view[8 + i] * p[2];
    for (i = 0; i < 4; ++i) {
        c[i] = 0.0;
        for (k = 0; k < 4; ++k) c[i] += (double)proj[k * 4 + i] * e[k];
    }
    *px = (c[0] / c[3] + 1.0) * 0.5 * w;
    *py = (1.0 - c[1] / c[3]) * 0.5 * h;
}

/* A mesh of quads: each quad 4 corners (counter-clockwise or not: no
 * culling) and one colour and normal, two triangles (0,1,2), (0,2,3). */
typedef struct quads {
    float pos[16 * 12], nrm[16 * 12], col[16 * 12];
    uint32_t idx[16 * 6];
    int n;
} quads;
static void add_quad(quads* q, const double c[4][3], const float rgb[3], const float normal[3])
{
    int v, i;
    for (v = 0; v < 4; ++v)
        for (i = 0; i < 3; ++i) {
            q->pos[(q->n * 4 + v) * 3 + i] = (float)c[v][i];
            q->col[(q->n * 4 + v) * 3 + i] = rgb[i];
            q->nrm[(q->n * 4 + v) * 3 + i] = normal[i];
        }
    {
        static const uint32_t t[6] = {0, 1, 2, 0, 2, 3};
        for (i = 0; i < 6; ++i) q->idx[q->n * 6 + i] = (uint32_t)(q->n * 4) + t[i];
    }
    q->n++;
}
static mesa_ref_mesh quads_mesh(const quads* q)
{
    mesa_ref_mesh m;
    memset(&m, 0, sizeof m);
    m.positions = q->pos;
    m.normals = q->nrm;
    m.colors = q->col;
    m.n_vertices = (uint32_t)q->n * 4;
    m.indices = q->idx;
    m.n_indices = (uint32_t)q->n * 6;
    return m;
}
/* An axis-aligned rectangle at depth z under the orthographic camera
 * ortho(-1, 1, -1, 1) looking down -z from the origin, given in pixels
 * [x0, x1) x [y0, y1) of a w x h image (y down). */
static void pixel_rect(quads* q, int w, int h, double x0, double y0, double x1, double y1, double z, const float rgb[3])
{
    static const float n[3] = {0, 0, 1};
    double X0 = 2.0 * x0 / w - 1.0, X1 = 2.0 * x1 / w - 1.0, Y0 = 1.0 - 2.0 * y0 / h, Y1 = 1.0 - 2.0 * y1 / h;
    double c[4][3] = {{X0, Y1, z}, {X1, Y1, z}, {X1, Y0, z}, {X0, Y0, z}};
    add_quad(q, c, rgb, n);
}

TEST(context)
{
    static const float rgb[3] = {1, 1, 1};
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    float px[4 * 4 * 4];
    int rc;
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    d.width = d.height = 4;
    identity(d.view);
    ortho(-1, 1, -1, 1, 0.1, 10, d.projection);
    pixel_rect(&q, 4, 4, 0, 0, 4, 4, -1, rgb);
    m = quads_mesh(&q);
    rc = mesa_ref_render(&d, &m, px, g_why, sizeof g_why);
    if (rc == MESA_REF_UNAVAILABLE) {
        g_gl = 0;
        SKIP("%s", g_why);
    }
    g_gl = 1;
    CHECK(rc == MESA_REF_OK, "%s", g_why);
    printf("# mesa_ref: %s\n", mesa_ref_renderer());
    CHECK(px[3] == 1.0f && px[4 * 4 * 4 - 1] == 1.0f, "a full-screen quad leaves alpha %g, %g", px[3], px[63]);
}

/* Edges at x = 10.3, 40.3 and y = 5.7, 30.2 px: the pixels whose centres lie
 * inside are columns 10..39 and rows 6..29, alpha 1 there and 0 elsewhere;
 * the background is the clear colour exactly. */
TEST(ortho_quad_coverage)
{
    static const float rgb[3] = {0.25f, 0.5f, 0.75f};
    enum { W = 64, H = 48 };
    static float px[W * H * 4];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int x, y, bad = 0;
    NEED_GL();
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    d.width = W;
    d.height = H;
    d.clear_rgb[0] = 0.1f;
    d.clear_rgb[1] = 0.2f;
    d.clear_rgb[2] = 0.3f;
    identity(d.view);
    ortho(-1, 1, -1, 1, 0.1, 10, d.projection);
    pixel_rect(&q, W, H, 10.3, 5.7, 40.3, 30.2, -1, rgb);
    m = quads_mesh(&q);
    CHECK(mesa_ref_render(&d, &m, px, g_why, sizeof g_why) == MESA_REF_OK, "%s", g_why);
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            const float* p = px + (y * W + x) * 4;
            int inside = x >= 10 && x <= 39 && y >= 6 && y <= 29;
            if (inside ? p[3] != 1.0f : (p[3] != 0.0f || p[0] != 0.1f || p[1] != 0.2f || p[2] != 0.3f)) {
                if (!bad) printf("# first bad pixel (%d, %d): %g %g %g %g (inside %d)\n", x, y, p[0], p[1], p[2], p[3], inside);
                bad++;
            }
        }
    CHECK(bad == 0, "%d pixels differ from the rectangle [10, 39] x [6, 29]", bad);
}

/* A flat colour comes back bit for bit (the float32 framebuffer object:
 * no 8-bit quantisation), also values outside [0, 1] (no clamping). */
TEST(flat_colour_exact)
{
    static const float rgb[3] = {0.123456f, 0.654321f, 1.5f};
    enum { W = 32, H = 32 };
    static float px[W * H * 4];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int i, covered = 0;
    NEED_GL();
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    d.width = W;
    d.height = H;
    identity(d.view);
    ortho(-1, 1, -1, 1, 0.1, 10, d.projection);
    pixel_rect(&q, W, H, 3.2, 4.6, 27.9, 30.1, -2, rgb);
    m = quads_mesh(&q);
    CHECK(mesa_ref_render(&d, &m, px, g_why, sizeof g_why) == MESA_REF_OK, "%s", g_why);
    for (i = 0; i < W * H; ++i) {
        const float* p = px + i * 4;
        if (p[3] == 0.0f) continue;
        covered++;
        CHECK(p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2] && p[3] == 1.0f, "pixel %d: %.9g %.9g %.9g %.9g", i,
              p[0], p[1], p[2], p[3]);
    }
    CHECK(covered == 25 * 25, "covered %d pixels, expected 25 x 25", covered); /* columns 3..27, rows 5..29 */
}

/* Two overlapping quads, the far one drawn last: with the depth test the
 * near one wins where they overlap, in either drawing order; without it
 * the last one drawn wins. */
TEST(depth_test)
{
    static const float red[3] = {1, 0, 0}, blue[3] = {0, 0, 1};
    enum { W = 40, H = 30 };
    static float px[W * H * 4];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int order, x, y;
    NEED_GL();
    memset(&d, 0, sizeof d);
    d.width = W;
    d.height = H;
    identity(d.view);
    ortho(-1, 1, -1, 1, 0.1, 10, d.projection);
    for (order = 0; order < 3; ++order) {
        memset(&q, 0, sizeof q);
        if (order == 1) {
            pixel_rect(&q, W, H, 15, 10, 35, 25, -3, blue); /* far first */
            pixel_rect(&q, W, H, 5, 5, 25, 20, -1, red);
        } else {
            pixel_rect(&q, W, H, 5, 5, 25, 20, -1, red); /* near first */
            pixel_rect(&q, W, H, 15, 10, 35, 25, -3, blue);
        }
        d.no_depth_test = order == 2;
        m = quads_mesh(&q);
        CHECK(mesa_ref_render(&d, &m, px, g_why, sizeof g_why) == MESA_REF_OK, "%s", g_why);
        for (y = 0; y < H; ++y)
            for (x = 0; x < W; ++x) {
                const float* p = px + (y * W + x) * 4;
                int in_red = x >= 5 && x < 25 && y >= 5 && y < 20, in_blue = x >= 15 && x < 35 && y >= 10 && y < 25;
                int want_red = in_red && (!in_blue || order != 2);
                float want[4];
                want[0] = want_red ? 1.0f : 0.0f;
                want[1] = 0.0f;
                want[2] = (in_blue && !want_red) ? 1.0f : 0.0f;
                want[3] = (in_red || in_blue) ? 1.0f : 0.0f;
                CHECK(p[0] == want[0] && p[1] == want[1] && p[2] == want[2] && p[3] == want[3],
                      "order %d, pixel (%d, %d): %g %g %g %g, expected %g %g %g %g", order, x, y, p[0], p[1], p[2], p[3],
                      want[0], want[1], want[2], want[3]);
            }
    }
}

/* Signed distance (pixels) of point p from the line a->b, positive on the
 * left-hand side in image coordinates. */
static double edge(const double a[2], const double b[2], const double p[2])
{
    double ex = b[0] - a[0], ey = b[1] - a[1];
    return (ex * (p[1] - a[1]) - ey * (p[0] - a[0])) / sqrt(ex * ex + ey * ey);
}

/* A tilted quad under a perspective camera: its corners are projected in
 * double with the same matrices; every pixel whose centre lies more than
 * 0.05 px inside one of the two projected triangles must be covered, every
 * pixel more than 0.05 px outside both must not (so each projected corner
 * and edge is where the formula puts it, well within 0.5 px). */
TEST(perspective_corners)
{
    static const float rgb[3] = {0.9f, 0.8f, 0.1f}, n[3] = {0, 0, 1};
    static const double eye[3] = {0.4, 0.3, 3.0}, target[3] = {0.05, -0.02, 0.0}, up[3] = {0.1, 1, 0};
    static const double c[4][3] = {{-1.1, -0.7, 0.3}, {0.9, -0.85, -0.4}, {0.8, 0.95, 0.2}, {-0.95, 0.6, -0.25}};
    enum { W = 160, H = 120 };
    static float px[W * H * 4];
    static const int tri[2][3] = {{0, 1, 2}, {0, 2, 3}};
    double s[4][2];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int x, y, t, k, checked = 0, bad = 0;
    NEED_GL();
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    d.width = W;
    d.height = H;
    look_at(eye, target, up, d.view);
    perspective(50.0 * 3.14159265358979 / 180.0, (double)W / H, 0.5, 20.0, d.projection);
    add_quad(&q, c, rgb, n);
    m = quads_mesh(&q);
    CHECK(mesa_ref_render(&d, &m, px, g_why, sizeof g_why) == MESA_REF_OK, "%s", g_why);
    for (k = 0; k < 4; ++k) {
        project(d.view, d.projection, c[k], W, H, &s[k][0], &s[k][1]);
        CHECK(s[k][0] > 2 && s[k][0] < W - 2 && s[k][1] > 2 && s[k][1] < H - 2, "corner %d projects to (%g, %g)", k,
              s[k][0], s[k][1]);
    }
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x) {
            double p[2] = {x + 0.5, y + 0.5}, inside_by = -1e30; /* max over triangles of min edge distance */
            int covered = px[(y * W + x) * 4 + 3] == 1.0f;
            for (t = 0; t < 2; ++t) {
                const double* a = s[tri[t][0]];
                const double* b = s[tri[t][1]];
                const double* cc = s[tri[t][2]];
                double o = edge(a, b, cc) > 0 ? 1.0 : -1.0; /* orientation of the projected triangle */
                double e0 = o * edge(a, b, p), e1 = o * edge(b, cc, p), e2 = o * edge(cc, a, p);
                /* inside: by the smallest edge distance; outside: minus the largest violated
                 * edge distance (a lower bound of the distance to the triangle); both min(e) */
                inside_by = fmax(inside_by, fmin(e0, fmin(e1, e2)));
            }
            if (fabs(inside_by) < 0.05) continue;
            checked++;
            if (covered != (inside_by > 0)) {
                if (!bad) printf("# pixel (%d, %d): covered %d, inside by %g px\n", x, y, covered, inside_by);
                bad++;
            }
        }
    CHECK(bad == 0, "%d of %d pixels disagree with the projected triangles", bad, checked);
    CHECK(checked > W * H * 98 / 100, "only %d of %d pixels were away from the edges", checked, W * H);
}

/* Distance (pixels) of world point p from the ray (o, unit dir): the angle
 * times the focal length in pixels (perspective, focal_px > 0), else the
 * world distance over the world size of a pixel (orthographic). */
static double ray_err_px(const float* p, double ox, double oy, double oz, double dx, double dy, double dz,
                         double focal_px, double world_per_px, double* t_out)
{
    double v[3], c[3], t, dist, l;
    v[0] = p[0] - ox;
    v[1] = p[1] - oy;
    v[2] = p[2] - oz;
    l = sqrt(dx * dx + dy * dy + dz * dz); /* 1 up to rounding */
    t = (v[0] * dx + v[1] * dy + v[2] * dz) / l;
    /* |v x d| / |d|: no cancellation (sqrt(|v|^2 - t^2) loses it all) */
    c[0] = v[1] * dz - v[2] * dy;
    c[1] = v[2] * dx - v[0] * dz;
    c[2] = v[0] * dy - v[1] * dx;
    dist = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]) / l;
    *t_out = t;
    return focal_px > 0 ? dist / t * focal_px : dist / world_per_px;
}

/* GL's pixel centres are dvren's rays: a tilted plane filling the view is
 * drawn with a shader that writes the interpolated world position; each
 * pixel's point must lie on dvren_camera_ray(x + 0.5, y + 0.5) of
 * dvren_camera_from_matrices(view, projection), perspective and
 * orthographic, within 0.001 px, for the float32 ray code that dvren renders
 * with and for the float64 one. A flipped row order or a half-pixel shift
 * would be 0.5 px or more. */
TEST(dvren_rays_agree)
{
    static const char fs[] = "#version 330 core\n"
                             "in vec3 v_world;\n"
                             "out vec4 o_color;\n"
                             "void main() { o_color = vec4(v_world, 1.0); }\n";
    static const float rgb[3] = {1, 1, 1}, n[3] = {0, 0, 1};
    static const double eye[3] = {1.5, 1.0, 4.0}, target[3] = {0.1, 0.2, 0.0}, up[3] = {0, 1, 0};
    /* a parallelogram (planar) far larger than the view, tilted against it */
    static const double c[4][3] = {{-20, -20, -3}, {20, -20, 2}, {20, 20, 1}, {-20, 20, -4}};
    enum { W = 96, H = 64 };
    static float px[W * H * 4];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int cam, x, y;
    NEED_GL();
    memset(&q, 0, sizeof q);
    add_quad(&q, c, rgb, n);
    for (cam = 0; cam < 2; ++cam) {
        dvren_camera dc;
        double worst32 = 0.0, worst64 = 0.0, focal_px, world_per_px = 2.0 / H;
        memset(&d, 0, sizeof d);
        d.width = W;
        d.height = H;
        d.fragment_shader = fs;
        look_at(eye, target, up, d.view);
        if (cam == 0) perspective(40.0 * 3.14159265358979 / 180.0, (double)W / H, 0.3, 50.0, d.projection);
        else ortho(-1.5, 1.5, -1.0, 1.0, 0.3, 50.0, d.projection);
        focal_px = cam == 0 ? 0.5 * H * (double)d.projection[5] : 0.0;
        m = quads_mesh(&q);
        CHECK(mesa_ref_render(&d, &m, px, g_why, sizeof g_why) == MESA_REF_OK, "%s", g_why);
        CHECK_OK(NULL, dvren_camera_from_matrices(d.view, d.projection, &dc));
        CHECK(dc.perspective == (cam == 0 ? 1u : 0u), "perspective flag %u", dc.perspective);
        for (y = 0; y < H; ++y)
            for (x = 0; x < W; ++x) {
                const float* p = px + (y * W + x) * 4;
                dvren_float3 o, dir;
                dvren_double3 o2, d2;
                double t, e;
                CHECK(p[3] == 1.0f, "camera %d: pixel (%d, %d) not covered", cam, x, y);
                dvren_camera_ray(&dc, (float)x + 0.5f, (float)y + 0.5f, (float)W, (float)H, &o, &dir);
                e = ray_err_px(p, o.x, o.y, o.z, dir.x, dir.y, dir.z, focal_px, world_per_px, &t);
                CHECK(t > 0, "camera %d: pixel (%d, %d) is behind the ray origin", cam, x, y);
                worst32 = fmax(worst32, e);
                dvren__camera_ray_64(&dc, x + 0.5, y + 0.5, (double)W, (double)H, &o2, &d2);
                e = ray_err_px(p, o2.x, o2.y, o2.z, d2.x, d2.y, d2.z, focal_px, world_per_px, &t);
                worst64 = fmax(worst64, e);
            }
        printf("# camera %s: GL pixel centres off dvren's rays by at most %.2g px (float64 rays), %.2g px (float32)\n",
               cam == 0 ? "perspective" : "orthographic", worst64, worst32);
        CHECK(worst64 < 1e-3, "camera %d: a GL pixel centre is %g px off dvren's float64 ray", cam, worst64);
        CHECK(worst32 < 1e-3, "camera %d: a GL pixel centre is %g px off dvren's float32 ray", cam, worst32);
    }
}

/* Normals, custom uniforms and a custom shader pair: Lambert shading of a
 * flat quad, normal (0, 0, 1), sun (0, 0.6, 0.8): 0.8 * u_gain * colour. */
TEST(normals_and_uniforms)
{
    static const char fs[] = "#version 330 core\n"
                             "uniform vec3 u_sun;\n"
                             "uniform float u_gain;\n"
                             "in vec3 v_normal;\n"
                             "in vec3 v_color;\n"
                             "out vec4 o_color;\n"
                             "void main() { o_color = vec4(u_gain * max(dot(v_normal, u_sun), 0.0) * v_color, 1.0); }\n";
    static const float rgb[3] = {0.5f, 0.25f, 1.0f};
    enum { W = 16, H = 16 };
    static float px[W * H * 4];
    mesa_ref_uniform u[2];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int i;
    NEED_GL();
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    memset(u, 0, sizeof u);
    u[0].name = "u_sun";
    u[0].count = 3;
    u[0].v[1] = 0.6f;
    u[0].v[2] = 0.8f;
    u[1].name = "u_gain";
    u[1].count = 1;
    u[1].v[0] = 0.5f;
    d.width = W;
    d.height = H;
    d.fragment_shader = fs;
    d.uniforms = u;
    d.n_uniforms = 2;
    identity(d.view);
    ortho(-1, 1, -1, 1, 0.1, 10, d.projection);
    pixel_rect(&q, W, H, 0, 0, W, H, -1, rgb);
    m = quads_mesh(&q);
    CHECK(mesa_ref_render(&d, &m, px, g_why, sizeof g_why) == MESA_REF_OK, "%s", g_why);
    for (i = 0; i < W * H; ++i) {
        const float* p = px + i * 4;
        double s = 0.5 * 0.8;
        CHECK(fabs(p[0] - s * 0.5) < 1e-6 && fabs(p[1] - s * 0.25) < 1e-6 && fabs(p[2] - s * 1.0) < 1e-6 && p[3] == 1.0f,
              "pixel %d: %g %g %g %g", i, p[0], p[1], p[2], p[3]);
    }
}

/* Errors name the parameter: an index out of range, a shader that does not
 * compile (with GLSL's log), a bad size; rgba_out is left alone. */
TEST(errors)
{
    static const float rgb[3] = {1, 1, 1};
    float px[4 * 4 * 4];
    char e[2048];
    quads q;
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int i;
    NEED_GL();
    memset(&q, 0, sizeof q);
    memset(&d, 0, sizeof d);
    for (i = 0; i < 64; ++i) px[i] = -7.0f;
    d.width = d.height = 4;
    identity(d.view);
    ortho(-1, 1, -1, 1, 0.1, 10, d.projection);
    pixel_rect(&q, 4, 4, 0, 0, 4, 4, -1, rgb);
    m = quads_mesh(&q);
    q.idx[5] = 4;
    CHECK(mesa_ref_render(&d, &m, px, e, sizeof e) == MESA_REF_ERROR && strstr(e, "mesh.indices[5] = 4"), "%s", e);
    q.idx[5] = 3;
    d.fragment_shader = "#version 330 core\nout vec4 o_color;\nvoid main() { o_color = undefined_thing; }\n";
    CHECK(mesa_ref_render(&d, &m, px, e, sizeof e) == MESA_REF_ERROR && strstr(e, "fragment_shader") &&
              strstr(e, "undefined_thing"),
          "%s", e);
    d.fragment_shader = NULL;
    d.width = 0;
    CHECK(mesa_ref_render(&d, &m, px, e, sizeof e) == MESA_REF_ERROR && strstr(e, "desc.width"), "%s", e);
    for (i = 0; i < 64; ++i) CHECK(px[i] == -7.0f, "rgba_out was written on error");
}

/* The .npy writer: header, shape, data; a failed write leaves no file. */
TEST(npy_file)
{
    float img[3 * 2 * 4];
    const char* path = th_tmp("mesa_ref.npy");
    unsigned char* b;
    long size;
    char e[512];
    int i;
    unsigned hl;
    for (i = 0; i < 24; ++i) img[i] = (float)i * 0.5f - 1.0f;
    CHECK(mesa_ref_save_npy(path, img, 2, 3, e, sizeof e) == MESA_REF_OK, "%s", e);
    b = th_read_file(path, &size);
    CHECK(b, "cannot read %s back", path);
    hl = b[8] | (unsigned)b[9] << 8;
    {
        int ok = size == (long)(10 + hl + sizeof img) && !memcmp(b, "\x93NUMPY\x01\x00", 8) && (10 + hl) % 64 == 0 &&
                 strstr((const char*)b + 10, "'shape': (3, 2, 4)") && strstr((const char*)b + 10, "'<f4'") &&
                 !memcmp(b + 10 + hl, img, sizeof img);
        free(b);
        CHECK(ok, "bad .npy (size %ld, header %u)", size, hl);
    }
    CHECK(mesa_ref_save_npy(th_tmp("no/such/dir/x.npy"), img, 2, 3, e, sizeof e) == MESA_REF_ERROR && strstr(e, "x.npy"),
          "%s", e);
    CHECK(!th_exists(th_tmp("no/such/dir/x.npy")), "partial file");
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(context);
    RUN(ortho_quad_coverage);
    RUN(flat_colour_exact);
    RUN(depth_test);
    RUN(perspective_corners);
    RUN(dvren_rays_agree);
    RUN(normals_and_uniforms);
    RUN(errors);
    RUN(npy_file);
    return th_done();
}
