/* tests/test_meshes.c - marching cubes (dvren.h >>meshes, kernels/dvren_mc.h)
 * against analytic surfaces and topology.
 *
 * The references are independent of the code under test: the sphere's area
 * 4 pi R^2 and volume 4/3 pi R^3, Euler characteristics (sphere 2, torus 0),
 * and the edge structure of a closed oriented 2-manifold (every undirected
 * edge in exactly two triangles, every directed edge once). The random
 * fields and the 256 single-cube configurations exercise the ambiguous
 * faces, where plain Lorensen tables leave holes, so the topology checks
 * can fail. */
#define DVREN_IMPLEMENTATION
#include "../dvren.h"
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rnd_state = 12345;
static double rnd(void)
{
    uint64_t z = (rnd_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_u128(const void* a, const void* b)
{
    const uint64_t *x = (const uint64_t*)a, *y = (const uint64_t*)b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int cmp_u64(const void* a, const void* b)
{
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return x < y ? -1 : x > y;
}

/* The mesh's edge structure: undirected edges used by one triangle
 * (boundary) or more than two (non-manifold), directed edges used twice
 * (inconsistent orientation), triangles with a repeated index, and the
 * Euler characteristic V - E + F. */
typedef struct topo {
    uint64_t edges, boundary, nonmanifold, misoriented, degenerate, unused;
    int64_t euler;
} topo;

static topo mesh_topology(const dvren_mesh* m)
{
    topo t;
    size_t n = (size_t)m->triangle_count * 3, i, j;
    uint64_t* und = (uint64_t*)malloc((n ? n : 1) * sizeof(uint64_t));
    uint64_t* dir = (uint64_t*)malloc((n ? n : 1) * sizeof(uint64_t));
    unsigned char* used = (unsigned char*)calloc(m->vertex_count ? m->vertex_count : 1, 1);
    memset(&t, 0, sizeof t);
    for (i = 0; i < m->triangle_count; ++i) {
        const uint32_t* tr = m->triangles + 3 * i;
        if (tr[0] == tr[1] || tr[1] == tr[2] || tr[0] == tr[2]) ++t.degenerate;
        for (j = 0; j < 3; ++j) {
            uint64_t a = tr[j], b = tr[(j + 1) % 3];
            und[3 * i + j] = a < b ? (a << 32) | b : (b << 32) | a;
            dir[3 * i + j] = (a << 32) | b;
            if (a < m->vertex_count) used[a] = 1;
        }
    }
    qsort(und, n, sizeof *und, cmp_u64);
    qsort(dir, n, sizeof *dir, cmp_u64);
    for (i = 0; i < n;) {
        j = i;
        while (j < n && und[j] == und[i]) ++j;
        ++t.edges;
        if (j - i == 1) ++t.boundary;
        if (j - i > 2) ++t.nonmanifold;
        i = j;
    }
    for (i = 1; i < n; ++i) t.misoriented += dir[i] == dir[i - 1];
    for (i = 0; i < m->vertex_count; ++i) t.unused += !used[i];
    t.euler = (int64_t)m->vertex_count - (int64_t)t.edges + (int64_t)m->triangle_count;
    free(und);
    free(dir);
    free(used);
    return t;
}

/* area and enclosed volume (divergence theorem: sum of signed tetrahedra
 * with the origin), in double */
static void mesh_measure(const dvren_mesh* m, double* area, double* volume)
{
    size_t i;
    *area = *volume = 0.0;
    for (i = 0; i < m->triangle_count; ++i) {
        const float* a = m->positions + 3 * (size_t)m->triangles[3 * i];
        const float* b = m->positions + 3 * (size_t)m->triangles[3 * i + 1];
        const float* c = m->positions + 3 * (size_t)m->triangles[3 * i + 2];
        double u[3], v[3], x[3];
        int k;
        for (k = 0; k < 3; ++k) {
            u[k] = (double)b[k] - a[k];
            v[k] = (double)c[k] - a[k];
        }
        x[0] = u[1] * v[2] - u[2] * v[1];
        x[1] = u[2] * v[0] - u[0] * v[2];
        x[2] = u[0] * v[1] - u[1] * v[0];
        *area += 0.5 * sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
        *volume += (a[0] * ((double)b[1] * c[2] - (double)b[2] * c[1]) - a[1] * ((double)b[0] * c[2] - (double)b[2] * c[0]) +
                    a[2] * ((double)b[0] * c[1] - (double)b[1] * c[0])) /
                   6.0;
    }
}

/* a grid of n^3 samples over [-1, 1]^3 */
typedef double (*field_fn)(double x, double y, double z);
static float* sample(int n, field_fn f, dvren_tensor* t)
{
    float* g = (float*)malloc((size_t)n * n * n * sizeof(float));
    int64_t shape[3];
    int x, y, z;
    for (z = 0; z < n; ++z)
        for (y = 0; y < n; ++y)
            for (x = 0; x < n; ++x)
                g[((size_t)z * n + y) * n + x] =
                    (float)f(-1.0 + 2.0 * x / (n - 1), -1.0 + 2.0 * y / (n - 1), -1.0 + 2.0 * z / (n - 1));
    shape[0] = shape[1] = shape[2] = n;
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, t);
    return g;
}

static void unit_options(int n, dvren_mc_options* o)
{
    int a;
    memset(o, 0, sizeof *o);
    for (a = 0; a < 3; ++a) {
        o->origin[a] = -1.0f;
        o->spacing[a] = 2.0f / (float)(n - 1);
    }
}

static const double SC[3] = {0.031, -0.017, 0.012}, SR = 0.7;
static double sphere(double x, double y, double z)
{
    x -= SC[0];
    y -= SC[1];
    z -= SC[2];
    return SR - sqrt(x * x + y * y + z * z);
}

static void check_sphere(int n)
{
    dvren_context* ctx = th_ctx();
    dvren_tensor t;
    dvren_mc_options o;
    dvren_mesh m;
    dvren_mc_stats st;
    float* g = sample(n, sphere, &t);
    double area, vol, a_ref = 4.0 * 3.14159265358979 * SR * SR, v_ref = 4.0 / 3.0 * 3.14159265358979 * SR * SR * SR;
    double worst_r = 0.0, worst_dot = 1.0, h = 2.0 / (n - 1);
    topo tp;
    uint32_t i;
    unit_options(n, &o);
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, &st));
    tp = mesh_topology(&m);
    mesh_measure(&m, &area, &vol);
    CHECK(m.vertex_count > 100 && m.normals, "%u vertices", (unsigned)m.vertex_count);
    CHECK(tp.boundary == 0 && tp.nonmanifold == 0 && tp.misoriented == 0, "n=%d: %llu boundary, %llu non-manifold, %llu misoriented edges",
          n, (unsigned long long)tp.boundary, (unsigned long long)tp.nonmanifold, (unsigned long long)tp.misoriented);
    CHECK(tp.euler == 2 && tp.unused == 0 && tp.degenerate == 0, "n=%d: Euler characteristic %lld (sphere: 2), %llu unused vertices",
          n, (long long)tp.euler, (unsigned long long)tp.unused);
    CHECK(fabs(area / a_ref - 1.0) < 0.01, "n=%d: area %.6f, analytic %.6f (%.3f%%)", n, area, a_ref, 100.0 * (area / a_ref - 1.0));
    CHECK(fabs(vol / v_ref - 1.0) < 0.01, "n=%d: volume %.6f, analytic %.6f (%.3f%%; negative: triangles face inwards)", n, vol,
          v_ref, 100.0 * (vol / v_ref - 1.0));
    CHECK(st.active_cells > 0 && st.ms_device >= 0.0 && st.ms_total >= st.ms_device, "stats: %llu active cells, %g / %g ms",
          (unsigned long long)st.active_cells, st.ms_device, st.ms_total);
    for (i = 0; i < m.vertex_count; ++i) {
        const float* p = m.positions + 3 * (size_t)i;
        const float* q = m.normals + 3 * (size_t)i;
        double d[3] = {p[0] - SC[0], p[1] - SC[1], p[2] - SC[2]}, r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        double dot = (d[0] * q[0] + d[1] * q[1] + d[2] * q[2]) / r;
        if (fabs(r - SR) > worst_r) worst_r = fabs(r - SR);
        if (dot < worst_dot) worst_dot = dot;
    }
    /* a vertex interpolates the distance linearly along an edge: off the sphere by O(h^2 / R) */
    CHECK(worst_r < 0.5 * h * h / SR + 1e-6, "n=%d: a vertex %.3g off the sphere (h = %.3g)", n, worst_r, h);
    CHECK(worst_dot > 0.995, "n=%d: a normal at %.4f to the outward radius (cosine)", n, worst_dot);
    dvren_mesh_free(ctx, &m);
    CHECK(m.positions == NULL && m.vertex_count == 0, "mesh_free zeroes");
    free(g);
    dvren_context_destroy(ctx);
}

TEST(sphere_64) { check_sphere(64); }
TEST(sphere_128) { check_sphere(128); }

/* a torus of radii 0.6 and 0.25 about z: genus 1, Euler characteristic 0 */
static double torus(double x, double y, double z)
{
    double q = sqrt(x * x + y * y) - 0.6;
    return 0.25 - sqrt(q * q + z * z);
}

TEST(torus_genus_one)
{
    dvren_context* ctx = th_ctx();
    dvren_tensor t;
    dvren_mc_options o;
    dvren_mesh m;
    float* g = sample(72, torus, &t);
    double area, vol, a_ref = 4.0 * 3.14159265358979 * 3.14159265358979 * 0.6 * 0.25,
                      v_ref = 2.0 * 3.14159265358979 * 3.14159265358979 * 0.6 * 0.25 * 0.25;
    topo tp;
    unit_options(72, &o);
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
    tp = mesh_topology(&m);
    mesh_measure(&m, &area, &vol);
    CHECK(tp.boundary == 0 && tp.nonmanifold == 0 && tp.misoriented == 0 && tp.euler == 0,
          "torus: %llu boundary, %llu non-manifold, %llu misoriented, Euler %lld (0)", (unsigned long long)tp.boundary,
          (unsigned long long)tp.nonmanifold, (unsigned long long)tp.misoriented, (long long)tp.euler);
    CHECK(fabs(area / a_ref - 1.0) < 0.01 && fabs(vol / v_ref - 1.0) < 0.01, "torus: area %.5f (%.5f), volume %.5f (%.5f)", area,
          a_ref, vol, v_ref);
    dvren_mesh_free(ctx, &m);
    free(g);
    dvren_context_destroy(ctx);
}

/* Random fields: many ambiguous faces. The border samples are outside, so
 * every component is closed: each must be a closed oriented 2-manifold. */
static void random_closed(int n, double p_inside, uint64_t seed, dvren_mesh* m, dvren_context* ctx, float** keep)
{
    int64_t shape[3];
    dvren_tensor t;
    dvren_mc_options o;
    float* g = (float*)malloc((size_t)n * n * n * sizeof(float));
    int x, y, z;
    rnd_state = seed;
    for (z = 0; z < n; ++z)
        for (y = 0; y < n; ++y)
            for (x = 0; x < n; ++x) {
                int border = x == 0 || y == 0 || z == 0 || x == n - 1 || y == n - 1 || z == n - 1;
                double u = rnd();
                g[((size_t)z * n + y) * n + x] = border ? (float)(-0.1 - u) : (float)(u - (1.0 - p_inside));
            }
    shape[0] = shape[1] = shape[2] = n;
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, &t);
    unit_options(n, &o);
    memset(m, 0, sizeof *m);
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, m, NULL));
    *keep = g;
}

TEST(random_fields_closed_manifold)
{
    dvren_context* ctx = th_ctx();
    static const double probs[3] = {0.3, 0.5, 0.7};
    int k;
    for (k = 0; k < 3; ++k) {
        dvren_mesh m;
        float* g = NULL;
        topo tp;
        double area, vol;
        random_closed(26, probs[k], 1000 + (uint64_t)k, &m, ctx, &g);
        tp = mesh_topology(&m);
        mesh_measure(&m, &area, &vol);
        CHECK(m.triangle_count > 1000, "%u triangles", (unsigned)m.triangle_count);
        CHECK(tp.boundary == 0 && tp.nonmanifold == 0 && tp.misoriented == 0 && tp.degenerate == 0 && tp.unused == 0,
              "p=%.1f: %llu boundary, %llu non-manifold, %llu misoriented edges, %llu degenerate triangles, %llu unused vertices",
              probs[k], (unsigned long long)tp.boundary, (unsigned long long)tp.nonmanifold,
              (unsigned long long)tp.misoriented, (unsigned long long)tp.degenerate, (unsigned long long)tp.unused);
        CHECK(vol > 0.0, "p=%.1f: enclosed volume %.4f (must be positive: outward triangles)", probs[k], vol);
        dvren_mesh_free(ctx, &m);
        free(g);
    }
    dvren_context_destroy(ctx);
}

/* Every one of the 256 inside masks of a single cube (the cube inside a
 * 4^3 grid whose other samples are outside), with random magnitudes so
 * both answers of the asymptotic decider occur: a closed oriented manifold
 * whose enclosed volume is positive and below the cube's, and at most 10
 * triangles per cell. */
TEST(all_cube_configurations)
{
    dvren_context* ctx = th_ctx();
    int64_t shape[3] = {4, 4, 4};
    float g[64];
    dvren_tensor t;
    dvren_mc_options o;
    int mask, trial, bad = 0, i;
    memset(&o, 0, sizeof o);
    o.spacing[0] = o.spacing[1] = o.spacing[2] = 1.0f;
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, &t);
    rnd_state = 77;
    for (mask = 1; mask < 255; ++mask)
        for (trial = 0; trial < 8; ++trial) {
            dvren_mesh m;
            topo tp;
            double area, vol;
            for (i = 0; i < 64; ++i) g[i] = -1.0f;
            for (i = 0; i < 8; ++i) {
                double u = 0.05 + rnd();
                g[(1 + ((i >> 2) & 1)) * 16 + (1 + ((i >> 1) & 1)) * 4 + 1 + (i & 1)] = (mask >> i) & 1 ? (float)u : (float)-u;
            }
            if (dvren_marching_cubes(ctx, &t, &o, &m, NULL) != DVREN_OK) {
                ++bad;
                continue;
            }
            tp = mesh_topology(&m);
            mesh_measure(&m, &area, &vol);
            if (tp.boundary || tp.nonmanifold || tp.misoriented || tp.degenerate || !(vol > 0.0) || !(vol < 27.0)) {
                if (bad < 5)
                    th_fail_at(__FILE__, __LINE__, "cube", "mask 0x%02x trial %d: %llu boundary, %llu non-manifold, %llu misoriented, volume %.4f",
                               mask, trial, (unsigned long long)tp.boundary, (unsigned long long)tp.nonmanifold,
                               (unsigned long long)tp.misoriented, vol);
                ++bad;
            }
            dvren_mesh_free(ctx, &m);
        }
    CHECK(bad == 0, "%d of %d configurations are not closed manifolds", bad, 254 * 8);
    dvren_context_destroy(ctx);
}

/* The asymptotic decider on one ambiguous face (corners 0 and 3 of the
 * cube inside, 1 and 2 outside, all else outside): the bilinear saddle
 * value is (a c - b d) / (a + c - b - d). Inside (a c > b d): the two
 * corners are joined, one closed surface (Euler characteristic 2);
 * outside: two separate ones (4). */
TEST(asymptotic_decider)
{
    dvren_context* ctx = th_ctx();
    int64_t shape[3] = {4, 4, 4};
    float g[64];
    dvren_tensor t;
    dvren_mc_options o;
    static const float v[3][4] = {{1.0f, -0.5f, -0.5f, 1.0f}, {0.3f, -1.0f, -1.0f, 0.3f}, {0.5f, -0.25f, -1.0f, 0.5f}};
    static const int euler[3] = {2, 4, 4}; /* 1 > 0.25 joined; 0.09 < 1 apart; 0.25 = 0.25: a saddle on the level is outside */
    int k, i;
    memset(&o, 0, sizeof o);
    o.spacing[0] = o.spacing[1] = o.spacing[2] = 1.0f;
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, &t);
    for (k = 0; k < 3; ++k) {
        dvren_mesh m;
        topo tp;
        for (i = 0; i < 64; ++i) g[i] = -1.0f;
        for (i = 0; i < 4; ++i) g[1 * 16 + (1 + (i >> 1)) * 4 + 1 + (i & 1)] = v[k][i]; /* corners 0..3: z = 1 */
        CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
        tp = mesh_topology(&m);
        CHECK(tp.euler == euler[k] && tp.boundary == 0 && tp.nonmanifold == 0,
              "a c = %g, b d = %g: Euler characteristic %lld, expected %d", (double)(v[k][0] * v[k][3]),
              (double)(v[k][1] * v[k][2]), (long long)tp.euler, euler[k]);
        dvren_mesh_free(ctx, &m);
    }
    dvren_context_destroy(ctx);
}

/* inside = value < level on the negated field gives the same f values,
 * hence the same mesh bit for bit; threads do not change it either */
TEST(inside_below_and_threads_bitwise)
{
    dvren_context* c1 = th_ctx_threads(1);
    dvren_context* c7 = th_ctx_threads(7);
    dvren_mesh a, b, c;
    dvren_tensor t, tn;
    dvren_mc_options o;
    float* g = NULL;
    float* neg;
    size_t i, n;
    random_closed(30, 0.5, 4242, &a, c1, &g);
    n = 30 * 30 * 30;
    neg = (float*)malloc(n * sizeof(float));
    for (i = 0; i < n; ++i) neg[i] = -g[i];
    {
        int64_t shape[3] = {30, 30, 30};
        dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, &t);
        dvren_tensor_wrap(neg, DVREN_DTYPE_F32, 3, shape, NULL, &tn);
    }
    unit_options(30, &o);
    CHECK_OK(c7, dvren_marching_cubes(c7, &t, &o, &b, NULL));
    o.flags = DVREN_MC_INSIDE_BELOW;
    CHECK_OK(c1, dvren_marching_cubes(c1, &tn, &o, &c, NULL));
    CHECK(a.vertex_count == b.vertex_count && a.triangle_count == b.triangle_count &&
              !memcmp(a.positions, b.positions, (size_t)a.vertex_count * 12) &&
              !memcmp(a.normals, b.normals, (size_t)a.vertex_count * 12) &&
              !memcmp(a.triangles, b.triangles, (size_t)a.triangle_count * 12),
          "1 and 7 threads give different meshes");
    CHECK(a.vertex_count == c.vertex_count && a.triangle_count == c.triangle_count &&
              !memcmp(a.positions, c.positions, (size_t)a.vertex_count * 12) &&
              !memcmp(a.triangles, c.triangles, (size_t)a.triangle_count * 12),
          "DVREN_MC_INSIDE_BELOW on -v differs from v");
    dvren_mesh_free(c1, &a);
    dvren_mesh_free(c7, &b);
    dvren_mesh_free(c1, &c);
    free(g);
    free(neg);
    dvren_context_destroy(c1);
    dvren_context_destroy(c7);
}

/* vertices are unique: one per crossed grid edge (no two equal positions
 * when no sample equals the level) */
TEST(vertices_unique)
{
    dvren_context* ctx = th_ctx();
    dvren_tensor t;
    dvren_mc_options o;
    dvren_mesh m;
    float* g = sample(40, sphere, &t);
    uint64_t* key;
    uint32_t i, dup = 0;
    unit_options(40, &o);
    o.flags = DVREN_MC_NO_NORMALS;
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
    CHECK(m.normals == NULL, "DVREN_MC_NO_NORMALS leaves normals NULL");
    /* all positions sorted as 96-bit keys: equal neighbours are duplicates */
    key = (uint64_t*)malloc((size_t)m.vertex_count * 2 * sizeof(uint64_t));
    for (i = 0; i < m.vertex_count; ++i) {
        uint32_t w[3];
        memcpy(w, m.positions + 3 * (size_t)i, 12);
        key[2 * i] = ((uint64_t)w[0] << 32) | w[1];
        key[2 * i + 1] = w[2];
    }
    qsort(key, m.vertex_count, 2 * sizeof(uint64_t), cmp_u128);
    for (i = 1; i < m.vertex_count; ++i) dup += key[2 * i] == key[2 * i - 2] && key[2 * i + 1] == key[2 * i - 1];
    CHECK(dup == 0, "%u duplicate vertex positions among %u", (unsigned)dup, (unsigned)m.vertex_count);
    free(key);
    dvren_mesh_free(ctx, &m);
    free(g);
    dvren_context_destroy(ctx);
}

TEST(nonfinite_samples)
{
    dvren_context* ctx = th_ctx();
    dvren_tensor t;
    dvren_mc_options o;
    dvren_mesh m;
    float* g = sample(20, sphere, &t);
    uint32_t i;
    int finite = 1;
    g[10 * 400 + 10 * 20 + 3] = NAN;
    g[10 * 400 + 3 * 20 + 10] = INFINITY;
    g[3 * 400 + 10 * 20 + 10] = -INFINITY;
    unit_options(20, &o);
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
    for (i = 0; i < 3 * m.vertex_count; ++i) finite &= isfinite(m.positions[i]) && isfinite(m.normals[i]);
    CHECK(finite && m.triangle_count > 0, "non-finite positions or normals");
    dvren_mesh_free(ctx, &m);
    free(g);
    dvren_context_destroy(ctx);
}

TEST(bad_input)
{
    dvren_context* ctx = th_ctx();
    float g[27] = {0};
    uint8_t u[27] = {0};
    int64_t s3[3] = {3, 3, 3}, s2[2] = {9, 3}, s1[3] = {1, 3, 9}, st[3] = {3, 3, 1};
    dvren_tensor t, tu, t2, t1, ts;
    dvren_mc_options o;
    dvren_mesh m;
    memset(&o, 0, sizeof o);
    o.spacing[0] = o.spacing[1] = o.spacing[2] = 1.0f;
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, s3, NULL, &t);
    dvren_tensor_wrap(u, DVREN_DTYPE_U8, 3, s3, NULL, &tu);
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 2, s2, NULL, &t2);
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, s1, NULL, &t1);
    {
        int64_t strides[3] = {9, 3, 3};
        dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, st, strides, &ts);
    }
    CHECK(dvren_marching_cubes(ctx, &tu, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "dtype"),
          "u8: %s", dvren_last_error(ctx));
    CHECK(dvren_marching_cubes(ctx, &t2, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "shape"),
          "2-d: %s", dvren_last_error(ctx));
    CHECK(dvren_marching_cubes(ctx, &t1, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT &&
              strstr(dvren_last_error(ctx), "dimension 0"),
          "one slice: %s", dvren_last_error(ctx));
    CHECK(dvren_marching_cubes(ctx, &ts, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT, "strided: %s", dvren_last_error(ctx));
    o.spacing[1] = 0.0f;
    CHECK(dvren_marching_cubes(ctx, &t, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "spacing[1]"),
          "spacing: %s", dvren_last_error(ctx));
    o.spacing[1] = 1.0f;
    o.level = NAN;
    CHECK(dvren_marching_cubes(ctx, &t, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "level"),
          "level: %s", dvren_last_error(ctx));
    o.level = 0.0f;
    o.flags = 0x80;
    CHECK(dvren_marching_cubes(ctx, &t, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "flags"),
          "flags: %s", dvren_last_error(ctx));
    CHECK(m.vertex_count == 0 && m.positions == NULL, "a failed call leaves an empty mesh");
    o.flags = 0;
    CHECK(dvren_marching_cubes(ctx, NULL, &o, &m, NULL) == DVREN_ERROR_INVALID_ARGUMENT, "NULL grid");
    /* a flat field: no surface, an empty mesh */
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
    CHECK(m.vertex_count == 0 && m.triangle_count == 0, "flat field: %u vertices", (unsigned)m.vertex_count);
    dvren_mesh_free(ctx, &m);
    CHECK(dvren_mesh_alloc(ctx, 0xFFFFFFFFu, 1, 0, &m) == DVREN_ERROR_INVALID_ARGUMENT, "mesh_alloc bounds");
    dvren_context_destroy(ctx);
}

/* dvren_scene_sample_grid on a dense_grid field (node-centred over [-1,1]^3)
 * at the grid's own nodes returns its values; the density channel goes
 * through the shader; dvren_mesh_shade colours from the shader */
TEST(scene_sample_and_shade)
{
    dvren_context* ctx = th_ctx();
    enum { N = 9 };
    float data[N * N * N];
    dvren_tensor t, out;
    int64_t shape[4] = {N, N, N, 1};
    dvren_params *p = NULL, *ps = NULL;
    dvren_stage *field, *shader, *sampler;
    dvren_scene* sc = NULL;
    dvren_scene_desc sd;
    dvren_grid_sample_desc gd;
    dvren_mc_options o;
    dvren_mesh m;
    double op[4] = {0.0, 0.0, 1.0, 5.0}, col[8] = {0.0, 1.0, 0.5, 0.25, 1.0, 1.0, 0.5, 0.25};
    int i, worst = 0;
    float err = 0.0f;
    for (i = 0; i < N * N * N; ++i) data[i] = (float)rnd();
    dvren_tensor_wrap(data, DVREN_DTYPE_F32, 4, shape, NULL, &t);
    dvren_params_create(ctx, &p);
    dvren_params_set_tensor(p, "data", &t);
    field = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    dvren_params_create(ctx, &ps);
    dvren_params_set_numbers(ps, "tf_opacity", op, 4);
    dvren_params_set_numbers(ps, "tf_color", col, 8);
    shader = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", ps);
    sampler = th_uniform_sampler(ctx, 0);
    if (!field || !shader || !sampler) {
        CHECK(0, "stages: %s", dvren_last_error(ctx));
        dvren_stage_destroy(field);
        dvren_stage_destroy(shader);
        dvren_stage_destroy(sampler);
        dvren_context_destroy(ctx);
        return;
    }
    memset(&sd, 0, sizeof sd);
    sd.field = field;
    sd.shader = shader;
    sd.sampler = sampler;
    CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
    memset(&gd, 0, sizeof gd);
    gd.res[0] = gd.res[1] = gd.res[2] = N;
    gd.channel = 0;
    CHECK_OK(ctx, dvren_scene_sample_grid(sc, &gd, &out));
    for (i = 0; i < N * N * N; ++i) {
        float e = fabsf(((const float*)out.data)[i] - data[i]);
        if (e > err) {
            err = e;
            worst = i;
        }
    }
    CHECK(err < 1e-5f, "sample %d: %g, the node's value %g", worst, (double)((const float*)out.data)[worst], (double)data[worst]);
    dvren_tensor_destroy(ctx, &out);
    /* density: the transfer function's opacity ramp 0 -> 5 over [0, 1], as sigma */
    gd.channel = DVREN_SAMPLE_DENSITY;
    CHECK_OK(ctx, dvren_scene_sample_grid(sc, &gd, &out));
    CHECK(((const float*)out.data)[0] >= 0.0f, "density");
    dvren_tensor_destroy(ctx, &out);
    gd.channel = 3;
    CHECK(dvren_scene_sample_grid(sc, &gd, &out) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "channel"),
          "channel 3 of a 1-channel field: %s", dvren_last_error(ctx));
    gd.channel = 0;
    gd.res[2] = 1;
    CHECK(dvren_scene_sample_grid(sc, &gd, &out) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "res[2]"),
          "res: %s", dvren_last_error(ctx));
    /* a mesh at level 0.5, coloured: the transfer function's colour at 0.5 is (1, 0.5, 0.25) */
    unit_options(N, &o);
    o.level = 0.5f;
    CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
    CHECK_OK(ctx, dvren_mesh_shade(sc, &m));
    err = 0.0f;
    for (i = 0; i < (int)m.vertex_count; ++i) {
        float e = fabsf(m.colors[3 * i] - 1.0f) + fabsf(m.colors[3 * i + 1] - 0.5f) + fabsf(m.colors[3 * i + 2] - 0.25f);
        if (e > err) err = e;
    }
    CHECK(m.vertex_count > 0 && err < 1e-5f, "colours off by %g", (double)err);
    dvren_mesh_free(ctx, &m);
    dvren_scene_destroy(sc);
    dvren_stage_destroy(field);
    dvren_stage_destroy(shader);
    dvren_stage_destroy(sampler);
    dvren_context_destroy(ctx);
}

/* The interior ambiguity (MC33's case 4): corners 0 and 7 of the cube
 * inside, the other six outside. The trilinear interpolant at the cube's
 * centre is (f0 + f7 + 6 b) / 8 (every weight 1/8); when it is positive
 * the two corners are joined by a tunnel through the cell (one closed
 * surface, Euler characteristic 2); with b = -1 the centre is -0.5 and the
 * interpolant's inside is two pieces (4). The same with the signs swapped
 * (a tunnel of the outside). */
TEST(interior_tunnel)
{
    dvren_context* ctx = th_ctx();
    int64_t shape[3] = {4, 4, 4};
    float g[64];
    dvren_tensor t;
    dvren_mc_options o;
    static const float b[2] = {-0.1f, -1.0f};
    static const int euler[2] = {2, 4};
    int k, i, sgn;
    memset(&o, 0, sizeof o);
    o.spacing[0] = o.spacing[1] = o.spacing[2] = 1.0f;
    dvren_tensor_wrap(g, DVREN_DTYPE_F32, 3, shape, NULL, &t);
    for (sgn = 0; sgn < 2; ++sgn)
        for (k = 0; k < 2; ++k) {
            dvren_mesh m;
            topo tp;
            double area, vol;
            for (i = 0; i < 64; ++i) g[i] = sgn ? 1.0f : -1.0f; /* outside (or, swapped, inside) around the cube */
            for (i = 0; i < 8; ++i) {
                float v = (i == 0 || i == 7) ? 1.0f : b[k];
                g[(1 + ((i >> 2) & 1)) * 16 + (1 + ((i >> 1) & 1)) * 4 + 1 + (i & 1)] = sgn ? -v : v;
            }
            CHECK_OK(ctx, dvren_marching_cubes(ctx, &t, &o, &m, NULL));
            tp = mesh_topology(&m);
            mesh_measure(&m, &area, &vol);
            CHECK(tp.boundary == 0 && tp.nonmanifold == 0 && tp.misoriented == 0 && tp.degenerate == 0,
                  "b = %g, swapped %d: %llu boundary, %llu non-manifold, %llu misoriented, %llu degenerate", (double)b[k], sgn,
                  (unsigned long long)tp.boundary, (unsigned long long)tp.nonmanifold, (unsigned long long)tp.misoriented,
                  (unsigned long long)tp.degenerate);
            CHECK(tp.euler == euler[k], "b = %g, swapped %d: Euler characteristic %lld, expected %d", (double)b[k], sgn,
                  (long long)tp.euler, euler[k]);
            dvren_mesh_free(ctx, &m);
        }
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(sphere_64);
    RUN(sphere_128);
    RUN(torus_genus_one);
    RUN(random_fields_closed_manifold);
    RUN(all_cube_configurations);
    RUN(asymptotic_decider);
    RUN(interior_tunnel);
    RUN(inside_below_and_threads_bitwise);
    RUN(vertices_unique);
    RUN(nonfinite_samples);
    RUN(bad_input);
    RUN(scene_sample_and_shade);
    return th_done();
}
