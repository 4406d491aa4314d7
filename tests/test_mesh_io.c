/* tests/test_mesh_io.c - mesh files (tools/dvren_mesh_io.h): OBJ, PLY, GLB.
 *
 * Meshes are built by hand (a tetrahedron, a cube with per-face normals and
 * colours, an empty mesh), written in each format and read back: PLY and
 * GLB must give the same float bits, OBJ too (its "%.9g" numbers give every
 * float back). The files are also decoded here a second way, without the
 * reader under test: PLY's header text and record bytes at offsets computed
 * from Turk's layout; GLB's 12-byte header, chunk lengths and types, 4-byte
 * alignment, and the JSON through cJSON (accessor counts, POSITION min/max
 * computed here, node names, the Z-up root's rotation). OBJ and PLY texts
 * written by hand test the readers' forms (v/vt/vn, negative indices,
 * polygons, ascii, big-endian, double and int properties). Bad inputs must
 * give FORMAT (or UNSUPPORTED) with a message naming the file and the
 * field, and never crash (run.sh runs this under ASan + UBSan); a failed
 * write leaves no file. */
/* TEST_LIBS: -lcjson */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define DVREN_MESH_IO_IMPLEMENTATION
#include "dvren_mesh_io.h"

#include <cjson/cJSON.h>

static dvren_context* g_ctx;

/* ---- meshes built by hand ---- */

/* A tetrahedron: vertices (0,0,0) (1,0,0) (0,1,0) (0,0,1), outward CCW faces. */
static int make_tetra(dvren_mesh* m)
{
    static const float p[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    static const uint32_t t[12] = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
    if (dvren_mesh_alloc(g_ctx, 4, 4, 0, m) != DVREN_OK) return 0;
    memcpy(m->positions, p, sizeof p);
    memcpy(m->triangles, t, sizeof t);
    return 1;
}

/* A cube [-0.5, 1.25] x [-1, 0.75] x [0.1, 1.85] (not dyadic: 0.1 is not exact in float), 4 vertices per
 * face (24) with the face's normal and colour (k / 255 for distinct k), 2 triangles per face, CCW outside. */
static int make_cube(dvren_mesh* m)
{
    static const float lo[3] = {-0.5f, -1.0f, 0.1f}, hi[3] = {1.25f, 0.75f, 1.85f};
    int f, k, v = 0;
    if (dvren_mesh_alloc(g_ctx, 24, 12, DVREN_MESH_NORMALS | DVREN_MESH_COLORS, m) != DVREN_OK) return 0;
    for (f = 0; f < 6; ++f) {
        int axis = f / 2, side = f % 2, u = (axis + 1) % 3, w = (axis + 2) % 3, c;
        /* corners in (u, w) order (0,0) (1,0) (1,1) (0,1): CCW seen from +axis; reversed for -axis */
        static const int cu[4] = {0, 1, 1, 0}, cw[4] = {0, 0, 1, 1};
        for (c = 0; c < 4; ++c, ++v) {
            int cc = side ? c : 3 - c;
            float* p = m->positions + 3 * v;
            p[axis] = side ? hi[axis] : lo[axis];
            p[u] = cu[cc] ? hi[u] : lo[u];
            p[w] = cw[cc] ? hi[w] : lo[w];
            for (k = 0; k < 3; ++k) {
                m->normals[3 * v + k] = k == axis ? (side ? 1.0f : -1.0f) : 0.0f;
                m->colors[3 * v + k] = (float)((double)((f * 40 + k * 13 + c * 3) % 256) / 255.0);
            }
        }
        {
            uint32_t b = (uint32_t)(4 * f), *t = m->triangles + 6 * f;
            t[0] = b, t[1] = b + 1, t[2] = b + 2, t[3] = b, t[4] = b + 2, t[5] = b + 3;
        }
    }
    return 1;
}

/* 1 when a and b hold the same counts, the same arrays and the same bits. */
static int same_mesh(const dvren_mesh* a, const dvren_mesh* b, char* why, size_t n)
{
    size_t V = (size_t)a->vertex_count * 3 * sizeof(float);
    if (a->vertex_count != b->vertex_count || a->triangle_count != b->triangle_count) {
        snprintf(why, n, "counts %u/%u vs %u/%u", a->vertex_count, a->triangle_count, b->vertex_count, b->triangle_count);
        return 0;
    }
    if (!a->normals != !b->normals || !a->colors != !b->colors) {
        snprintf(why, n, "normals %d/%d colors %d/%d", !!a->normals, !!b->normals, !!a->colors, !!b->colors);
        return 0;
    }
    if (V && memcmp(a->positions, b->positions, V)) return snprintf(why, n, "positions differ"), 0;
    if (V && a->normals && memcmp(a->normals, b->normals, V)) return snprintf(why, n, "normals differ"), 0;
    if (V && a->colors && memcmp(a->colors, b->colors, V)) return snprintf(why, n, "colors differ"), 0;
    if (a->triangle_count && memcmp(a->triangles, b->triangles, (size_t)a->triangle_count * 12))
        return snprintf(why, n, "triangles differ"), 0;
    return 1;
}

/* Expects st from a parse of (bytes, n) named nm; the message must name the file and hold word. */
#define EXPECT_FAIL(call, nm, st, word)                                                                              \
    do {                                                                                                             \
        dvren_status r_ = (call);                                                                                    \
        const char* e_ = dvren_last_error(g_ctx);                                                                    \
        CHECK(r_ == (st), "%s: got %s, expected %s (%s)", (word), dvren_status_string(r_), dvren_status_string(st), e_); \
        CHECK(strstr(e_, (nm)) != NULL, "the message does not name the file '%s': %s", (nm), e_);                    \
        CHECK(strstr(e_, (word)) != NULL, "the message lacks '%s': %s", (word), e_);                                 \
    } while (0)

#define MESH_EMPTY(m) ((m).vertex_count == 0 && (m).triangle_count == 0 && !(m).positions && !(m).triangles)

/* ---- OBJ ---- */

TEST(obj_round_trip)
{
    dvren_mesh a[3], b;
    const char* path = th_tmp("mesh_io_rt.obj");
    char why[128];
    int i;
    memset(a, 0, sizeof a);
    CHECK(make_tetra(&a[0]) && make_cube(&a[1]), "alloc");
    for (i = 0; i < 3; ++i) {
        CHECK_OK(g_ctx, dvren_mesh_obj_save(g_ctx, path, &a[i], "thing"));
        CHECK_OK(g_ctx, dvren_mesh_obj_load(g_ctx, path, &b));
        CHECK(same_mesh(&a[i], &b, why, sizeof why), "mesh %d: %s", i, why);
        dvren_mesh_free(g_ctx, &b);
    }
    for (i = 0; i < 3; ++i) dvren_mesh_free(g_ctx, &a[i]);
}

TEST(obj_text)
{
    /* the writer's text for the tetrahedron, written out here by hand */
    static const char want[] = "o tet\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n";
    dvren_mesh m;
    char* text;
    size_t n;
    const char* body;
    CHECK(make_tetra(&m), "alloc");
    CHECK_OK(g_ctx, dvren_mesh_obj_encode(g_ctx, &m, "tet", &text, &n));
    body = strstr(text, "\n");
    CHECK(text[0] == '#' && body && strlen(body + 1) == n - (size_t)(body + 1 - text), "first line: %.40s", text);
    CHECK(!strcmp(body + 1, want), "got:\n%s", body + 1);
    free(text);
    /* a cube vertex with colour and normal: "v x y z r g b", "vn", "f a//a" */
    dvren_mesh_free(g_ctx, &m);
    CHECK(make_cube(&m), "alloc");
    CHECK_OK(g_ctx, dvren_mesh_obj_encode(g_ctx, &m, NULL, &text, &n));
    CHECK(strstr(text, "\nv -0.5 -1 1.85000002 0 0.0509803928 0.101960786\n") != NULL, "cube vertex 0:\n%.300s", text);
    CHECK(strstr(text, "\nvn -1 0 0\n") && strstr(text, "\nf 1//1 2//2 3//3\n") && !strstr(text, "\no "), "%.300s", text);
    free(text);
    dvren_mesh_free(g_ctx, &m);
}

TEST(obj_reader_forms)
{
    /* a quad with v/vt/vn where vn == v (normals kept), a triangle with negative indices, a pentagon as a fan */
    static const char a[] = "# comment\nmtllib x.mtl\no thing\ng group\ns 1\nusemtl red\n"
                            "v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0 0 0 1\nv 0 1 0 0.5 0.5 0.5\nv 2 2 2 1 1 1\n"
                            "vt 0 0\nvt 1 0\nvt 1 1\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nvn 1 0 0\n"
                            "f 1/1/1 2/2/2 3/3/3 4/1/4\r\n"
                            "f -5//-5 -4//-4 -1//-1   # trailing comment\n"
                            "f\t1 2 3 4 5\nl 1 2\n";
    /* normals indexed apart from positions: dropped */
    static const char b[] = "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//1 2//1 3//1\n";
    /* no vn on the corners, one vn per v: kept; v with w; colours on some vertices only: dropped */
    static const char c[] = "v 0 0 0 1\nv 1 0 0 1 0.5 0.5 0.5\nv 0 1 0\nvn 0 0 1\nvn 0 0 -1\nvn 1 0 0\nf 1 2 3\n";
    static const uint32_t tri_a[] = {0, 1, 2, 0, 2, 3, 0, 1, 4, 0, 1, 2, 0, 2, 3, 0, 3, 4};
    dvren_mesh m;
    CHECK_OK(g_ctx, dvren_mesh_obj_parse(g_ctx, a, strlen(a), "a.obj", &m));
    CHECK(m.vertex_count == 5 && m.triangle_count == 6, "%u %u", m.vertex_count, m.triangle_count);
    CHECK(!memcmp(m.triangles, tri_a, sizeof tri_a), "triangles");
    CHECK(m.normals && m.normals[2] == 1 && m.normals[12] == 1 && m.normals[14] == 0, "normals kept");
    CHECK(m.colors && m.colors[3 * 3] == 0.5f && m.colors[3 * 4 + 2] == 1, "colours");
    CHECK(m.positions[3 * 2 + 1] == 1 && m.positions[3 * 4] == 2, "positions");
    dvren_mesh_free(g_ctx, &m);
    CHECK_OK(g_ctx, dvren_mesh_obj_parse(g_ctx, b, strlen(b), "b.obj", &m));
    CHECK(m.vertex_count == 3 && m.triangle_count == 1 && !m.normals && !m.colors, "normals must be dropped");
    dvren_mesh_free(g_ctx, &m);
    CHECK_OK(g_ctx, dvren_mesh_obj_parse(g_ctx, c, strlen(c), "c.obj", &m));
    CHECK(m.vertex_count == 3 && m.normals && m.normals[5] == -1 && m.normals[6] == 1 && !m.colors, "c");
    dvren_mesh_free(g_ctx, &m);
    /* colours written as 0..255 are scaled; negative ones clamped */
    {
        static const char d[] = "v 0 0 0 255 0 51\nv 1 0 0 0 -3 255\nv 0 1 0 1 1 1\nf 1 2 3\n";
        CHECK_OK(g_ctx, dvren_mesh_obj_parse(g_ctx, d, strlen(d), "d.obj", &m));
        CHECK(m.colors && m.colors[0] == 1 && m.colors[2] == (float)(51 / 255.0) && m.colors[4] == 0 && m.colors[6] == (float)(1 / 255.0),
              "0..255 colours: %g %g %g %g", m.colors[0], m.colors[2], m.colors[4], m.colors[6]);
        dvren_mesh_free(g_ctx, &m);
    }
    /* empty text: an empty mesh */
    CHECK_OK(g_ctx, dvren_mesh_obj_parse(g_ctx, "", 0, "e.obj", &m));
    CHECK(MESH_EMPTY(m), "empty");
}

TEST(obj_bad_inputs)
{
    static const struct {
        const char* text;
        const char* word;
    } bad[] = {
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "bad.obj:4"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "index 0"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "index 4 is beyond"},
        {"v 0 0 0\nv 1 0 0\nf 1 2 3\nv 0 1 0\n", "bad.obj:3"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 -4\n", "index -4"},
        {"v 0 0 0\nv 1 0 0\nf 1 2\n", "at least 3"},
        {"v 0 0 x\n", "'x' is not a finite number"},
        {"v 0 0 nan\n", "bad.obj:1"},
        {"v 0 0\n", "2 numbers"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2/1 3/1\n", "texture index 1 is beyond"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//2 2//1 3//1\n", "normal index 2"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/ 2 3\n", "ends with '/'"},
        {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3a\n", "not an integer"},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        dvren_mesh m;
        EXPECT_FAIL(dvren_mesh_obj_parse(g_ctx, bad[i].text, strlen(bad[i].text), "bad.obj", &m), "bad.obj", DVREN_ERROR_FORMAT,
                    bad[i].word);
        CHECK(MESH_EMPTY(m), "case %u: out not left empty", (unsigned)i);
    }
}

/* ---- PLY ---- */

TEST(ply_round_trip)
{
    dvren_mesh a[3], b;
    const char* path = th_tmp("mesh_io_rt.ply");
    char why[128];
    int i;
    memset(a, 0, sizeof a);
    CHECK(make_tetra(&a[0]) && make_cube(&a[1]), "alloc");
    for (i = 0; i < 3; ++i) {
        CHECK_OK(g_ctx, dvren_mesh_ply_save(g_ctx, path, &a[i]));
        CHECK_OK(g_ctx, dvren_mesh_ply_load(g_ctx, path, &b));
        CHECK(same_mesh(&a[i], &b, why, sizeof why), "mesh %d: %s", i, why);
        dvren_mesh_free(g_ctx, &b);
    }
    for (i = 0; i < 3; ++i) dvren_mesh_free(g_ctx, &a[i]);
}

static float rd_f32(const unsigned char* p)
{
    float f;
    uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    memcpy(&f, &w, 4);
    return f;
}
static uint32_t rd_u32(const unsigned char* p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

TEST(ply_layout)
{
    static const char head[] = "ply\nformat binary_little_endian 1.0\ncomment dvren mesh\nelement vertex 24\n"
                               "property float x\nproperty float y\nproperty float z\n"
                               "property float nx\nproperty float ny\nproperty float nz\n"
                               "property uchar red\nproperty uchar green\nproperty uchar blue\n"
                               "element face 12\nproperty list uchar uint vertex_indices\nend_header\n";
    dvren_mesh m;
    unsigned char* d;
    size_t n, h = sizeof head - 1, v, k;
    CHECK(make_cube(&m), "alloc");
    CHECK_OK(g_ctx, dvren_mesh_ply_encode(g_ctx, &m, &d, &n));
    CHECK(n == h + 24 * 27 + 12 * 13, "size %u, expected %u", (unsigned)n, (unsigned)(h + 24 * 27 + 12 * 13));
    CHECK(!memcmp(d, head, h), "header:\n%.*s", (int)h, (const char*)d);
    for (v = 0; v < 24; ++v)
        for (k = 0; k < 3; ++k) {
            const unsigned char* r = d + h + 27 * v;
            CHECK(rd_f32(r + 4 * k) == m.positions[3 * v + k] && rd_f32(r + 12 + 4 * k) == m.normals[3 * v + k], "vertex %u", (unsigned)v);
            CHECK(r[24 + k] == (unsigned)lround(m.colors[3 * v + k] * 255.0), "vertex %u colour %u: %u", (unsigned)v, (unsigned)k, r[24 + k]);
        }
    for (v = 0; v < 12; ++v) {
        const unsigned char* r = d + h + 24 * 27 + 13 * v;
        CHECK(r[0] == 3 && rd_u32(r + 1) == m.triangles[3 * v] && rd_u32(r + 5) == m.triangles[3 * v + 1] &&
                  rd_u32(r + 9) == m.triangles[3 * v + 2],
              "face %u", (unsigned)v);
    }
    free(d);
    dvren_mesh_free(g_ctx, &m);
}

/* Appends a big-endian value of n bytes. */
static size_t put_be(unsigned char* p, uint64_t u, int n)
{
    int k;
    for (k = 0; k < n; ++k) p[k] = (unsigned char)(u >> (8 * (n - 1 - k)));
    return (size_t)n;
}

TEST(ply_reader_forms)
{
    /* ascii: float colours, an extra property, a quad, an edge element skipped */
    static const char a[] = "ply\r\nformat ascii 1.0\r\ncomment hi\r\nelement vertex 4\r\nproperty float x\r\nproperty float y\r\n"
                            "property float z\r\nproperty float quality\r\nproperty uchar red\r\nproperty uchar green\r\n"
                            "property uchar blue\r\nelement face 1\r\nproperty list uchar int vertex_index\r\n"
                            "element edge 1\r\nproperty int vertex1\r\nproperty int vertex2\r\nend_header\r\n"
                            "0 0 0 9 255 0 0\r\n1 0 0 9 0 255 0\r\n1 1 0.5 9 0 0 255\r\n0 1 0 9 51 51 51\r\n4 0 1 2 3\r\n0 1\r\n\r\n";
    static const uint32_t quad[6] = {0, 1, 2, 0, 2, 3};
    unsigned char be[1024];
    size_t n;
    dvren_mesh m;
    double dv[9] = {0.1, -2, 3e10, 1, 0, 0, 0, 1, 0};
    int i;
    CHECK_OK(g_ctx, dvren_mesh_ply_parse(g_ctx, a, strlen(a), "a.ply", &m));
    CHECK(m.vertex_count == 4 && m.triangle_count == 2 && !memcmp(m.triangles, quad, sizeof quad), "quad");
    CHECK(m.colors && m.colors[0] == 1 && m.colors[4] == 1 && m.colors[9] == (float)(51 / 255.0) && !m.normals, "colours");
    CHECK(m.positions[8] == 0.5f, "z");
    dvren_mesh_free(g_ctx, &m);
    /* big-endian: double x y z, float normals, int count list of uint, 3 vertices, 1 triangle */
    n = (size_t)snprintf((char*)be, sizeof be,
                         "ply\nformat binary_big_endian 1.0\nelement vertex 3\nproperty double x\nproperty double y\n"
                         "property double z\nproperty float nx\nproperty float ny\nproperty float nz\n"
                         "element face 1\nproperty list int uint vertex_indices\nend_header\n");
    for (i = 0; i < 3; ++i) {
        int k;
        for (k = 0; k < 3; ++k) {
            uint64_t u;
            double x = dv[3 * i + k] * (i + 1);
            memcpy(&u, &x, 8);
            n += put_be(be + n, u, 8);
        }
        for (k = 0; k < 3; ++k) {
            float f = k == i ? 1.0f : 0.0f;
            uint32_t w;
            memcpy(&w, &f, 4);
            n += put_be(be + n, w, 4);
        }
    }
    n += put_be(be + n, 3, 4);
    n += put_be(be + n, 2, 4);
    n += put_be(be + n, 0, 4);
    n += put_be(be + n, 1, 4);
    CHECK_OK(g_ctx, dvren_mesh_ply_parse(g_ctx, be, n, "be.ply", &m));
    CHECK(m.vertex_count == 3 && m.triangle_count == 1 && m.triangles[0] == 2 && m.triangles[2] == 1, "be faces");
    CHECK(m.positions[0] == (float)0.1 && m.positions[2] == (float)3e10 && m.positions[3] == 2 && m.positions[7] == 3, "be positions");
    CHECK(m.normals && m.normals[0] == 1 && m.normals[4] == 1 && m.normals[8] == 1, "be normals");
    dvren_mesh_free(g_ctx, &m);
    /* one byte short, then one byte too many */
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, be, n - 1, "be.ply", &m), "be.ply", DVREN_ERROR_FORMAT, "truncated");
    CHECK(MESH_EMPTY(m), "out not left empty");
    be[n] = 0;
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, be, n + 1, "be.ply", &m), "be.ply", DVREN_ERROR_FORMAT, "1 bytes after");
}

TEST(ply_bad_inputs)
{
    dvren_mesh m, t;
    unsigned char *d, *e;
    size_t n, h;
    char text[512];
    CHECK(make_tetra(&t), "alloc");
    CHECK_OK(g_ctx, dvren_mesh_ply_encode(g_ctx, &t, &d, &n));
    h = (size_t)(strstr((char*)d, "end_header\n") + 11 - (char*)d);
    /* truncated in the faces, in the vertices, right after the header */
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, d, n - 2, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "element face[3].vertex_indices");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, d, n - 2, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "truncated");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, d, h + 20, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "truncated");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, d, h, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "truncated");
    CHECK(MESH_EMPTY(m), "out not left empty");
    /* an index out of range: the last face's last index 3 -> 4 */
    e = (unsigned char*)malloc(n);
    memcpy(e, d, n);
    e[n - 4] = 4;
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, e, n, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "element face[3].vertex_indices");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, e, n, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "index 4 is outside 0..3");
    /* a face of 2 corners */
    memcpy(e, d, n);
    e[h + 4 * 12] = 2;
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, e, n, "t.ply", &m), "t.ply", DVREN_ERROR_FORMAT, "2 corners");
    free(e);
    free(d);
    dvren_mesh_free(g_ctx, &t);
    /* header problems */
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, "plx\n", 4, "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "magic");
    snprintf(text, sizeof text, "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "x, y and z");
    snprintf(text, sizeof text, "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty floaty x\nend_header\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "unknown type 'floaty'");
    snprintf(text, sizeof text, "ply\nformat ascii 1.0\nelement vertex 4000000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_UNSUPPORTED, "more than 2^31");
    snprintf(text, sizeof text, "ply\nformat ascii 1.0\nelement vertex 1000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "truncated");
    snprintf(text, sizeof text, "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 zz\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "element vertex[0].z");
    snprintf(text, sizeof text, "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3 4\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "after the last element");
    snprintf(text, sizeof text, "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "end_header");
    snprintf(text, sizeof text, "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
                                "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n3 0 0 -1\n");
    EXPECT_FAIL(dvren_mesh_ply_parse(g_ctx, text, strlen(text), "h.ply", &m), "h.ply", DVREN_ERROR_FORMAT, "index -1 is outside");
}

/* ---- GLB ---- */

/* The GLB's JSON, parsed here from the bytes (header and chunks checked on the way); NULL with why set. */
static cJSON* glb_json(const unsigned char* d, size_t n, const unsigned char** bin, size_t* bin_n, char* why, size_t wn)
{
    uint32_t jl, bl;
    size_t k;
    cJSON* j;
    *bin = NULL;
    *bin_n = 0;
    if (n < 20 || memcmp(d, "glTF", 4) || rd_u32(d + 4) != 2 || rd_u32(d + 8) != n)
        return snprintf(why, wn, "header: magic/version/length (%u vs %u)", n >= 12 ? rd_u32(d + 8) : 0, (unsigned)n), NULL;
    jl = rd_u32(d + 12);
    if (memcmp(d + 16, "JSON", 4) || jl % 4 || 20 + (size_t)jl > n) return snprintf(why, wn, "JSON chunk header (length %u)", jl), NULL;
    for (k = 0; k < jl && d[20 + jl - 1 - k] == ' '; ++k) {
    }
    if (d[20 + jl - 1 - k] != '}' || k > 3) return snprintf(why, wn, "JSON chunk padding: %u spaces", (unsigned)k), NULL;
    if (20 + (size_t)jl < n) {
        if (n - 20 - jl < 8) return snprintf(why, wn, "BIN chunk header cut"), NULL;
        bl = rd_u32(d + 20 + jl);
        if (memcmp(d + 24 + jl, "BIN\0", 4) || bl % 4 || 28 + (size_t)jl + bl != n) return snprintf(why, wn, "BIN chunk (length %u)", bl), NULL;
        *bin = d + 28 + jl;
        *bin_n = bl;
    }
    j = cJSON_ParseWithLength((const char*)d + 20, jl);
    if (!j) snprintf(why, wn, "the JSON does not parse");
    return j;
}

static double jnum(const cJSON* o, const char* k)
{
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}
static const cJSON* jat(const cJSON* root, const char* arr, int i) { return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, arr), i); }

TEST(glb_structure)
{
    dvren_mesh tet, cube, empty;
    dvren_mesh_object obj[3];
    unsigned char* d;
    const unsigned char* bin;
    size_t n, bn;
    char why[128];
    cJSON* j;
    const cJSON *node, *acc, *view, *prim, *root;
    int i, k, flags;
    memset(&empty, 0, sizeof empty);
    CHECK(make_tetra(&tet) && make_cube(&cube), "alloc");
    memset(obj, 0, sizeof obj);
    obj[0].name = "tetra \"one\"";
    obj[0].mesh = &tet;
    obj[0].translation[0] = 3;
    obj[1].name = "cube";
    obj[1].mesh = &cube;
    obj[1].rotation[2] = sin(0.25), obj[1].rotation[3] = cos(0.25);
    obj[1].scale[0] = 2, obj[1].scale[1] = 2, obj[1].scale[2] = 2;
    obj[2].mesh = &empty;
    for (flags = 0; flags <= 1; ++flags) {
        CHECK_OK(g_ctx, dvren_mesh_glb_encode(g_ctx, obj, 3, flags ? DVREN_MESH_IO_Z_UP : 0, &d, &n));
        j = glb_json(d, n, &bin, &bn, why, sizeof why);
        CHECK(j, "%s", why);
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "asset"), "version")->valuestring, "2.0"), "asset");
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "asset"), "generator")->valuestring, "dvren"), "gen");
        CHECK(bn == (4 * 3 * 4 + 4 * 12) + (24 * 12 * 3 + 12 * 12), "BIN %u bytes", (unsigned)bn);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "meshes")) == 2, "meshes");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "nodes")) == 3 + flags, "nodes");
        root = jat(j, "scenes", 0);
        CHECK(jnum(j, "scene") == 0 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "nodes")) == (flags ? 1 : 3), "scene");
        if (flags) {
            const cJSON* r = jat(j, "nodes", 0);
            const cJSON* rot = cJSON_GetObjectItemCaseSensitive(r, "rotation");
            double s = sqrt(0.5);
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(r, "name")->valuestring, "z_up_to_y_up"), "root name");
            CHECK(fabs(cJSON_GetArrayItem(rot, 0)->valuedouble + s) < 1e-15 && cJSON_GetArrayItem(rot, 1)->valuedouble == 0 &&
                      cJSON_GetArrayItem(rot, 2)->valuedouble == 0 && fabs(cJSON_GetArrayItem(rot, 3)->valuedouble - s) < 1e-15,
                  "root rotation");
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "children")) == 3, "children");
        }
        for (i = 0; i < 3; ++i) {
            static const char* names[3] = {"tetra \"one\"", "cube", "object_2"};
            node = jat(j, "nodes", i + flags);
            CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(node, "name")->valuestring, names[i]), "node %d name", i);
            CHECK((jnum(node, "mesh") == i) == (i < 2) && (i < 2 || !cJSON_GetObjectItemCaseSensitive(node, "mesh")), "node %d mesh", i);
        }
        CHECK(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(jat(j, "nodes", flags), "translation"), 0)->valuedouble == 3, "T");
        CHECK(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(jat(j, "nodes", 1 + flags), "scale"), 2)->valuedouble == 2, "S");
        for (i = 0; i < 2; ++i) {
            const dvren_mesh* m = i ? &cube : &tet;
            const cJSON* attr;
            double mn[3], mx[3];
            uint32_t v;
            prim = jat(jat(j, "meshes", i), "primitives", 0);
            attr = cJSON_GetObjectItemCaseSensitive(prim, "attributes");
            CHECK(jnum(prim, "mode") == 4, "mode");
            CHECK((cJSON_GetObjectItemCaseSensitive(attr, "NORMAL") != NULL) == (i == 1) &&
                      (cJSON_GetObjectItemCaseSensitive(attr, "COLOR_0") != NULL) == (i == 1), "attributes");
            acc = jat(j, "accessors", (int)jnum(attr, "POSITION"));
            CHECK(jnum(acc, "count") == m->vertex_count && jnum(acc, "componentType") == 5126 &&
                      !strcmp(cJSON_GetObjectItemCaseSensitive(acc, "type")->valuestring, "VEC3"), "POSITION");
            for (k = 0; k < 3; ++k) mn[k] = mx[k] = m->positions[k];
            for (v = 0; v < m->vertex_count; ++v)
                for (k = 0; k < 3; ++k) {
                    mn[k] = fmin(mn[k], m->positions[3 * v + k]);
                    mx[k] = fmax(mx[k], m->positions[3 * v + k]);
                }
            for (k = 0; k < 3; ++k)
                CHECK(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(acc, "min"), k)->valuedouble == mn[k] &&
                          cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(acc, "max"), k)->valuedouble == mx[k],
                      "mesh %d min/max[%d]", i, k);
            view = jat(j, "bufferViews", (int)jnum(acc, "bufferView"));
            CHECK(jnum(view, "target") == 34962 && (int)jnum(view, "byteOffset") % 4 == 0 && jnum(view, "byteLength") == 12.0 * m->vertex_count,
                  "POSITION view");
            for (v = 0; v < m->vertex_count * 3; ++v)
                CHECK(rd_f32(bin + (size_t)jnum(view, "byteOffset") + 4 * v) == m->positions[v], "position bytes");
            acc = jat(j, "accessors", (int)jnum(prim, "indices"));
            CHECK(jnum(acc, "count") == 3.0 * m->triangle_count && jnum(acc, "componentType") == 5125 &&
                      !strcmp(cJSON_GetObjectItemCaseSensitive(acc, "type")->valuestring, "SCALAR"), "indices");
            view = jat(j, "bufferViews", (int)jnum(acc, "bufferView"));
            CHECK(jnum(view, "target") == 34963 && (int)jnum(view, "byteOffset") % 4 == 0, "indices view");
            for (v = 0; v < m->triangle_count * 3; ++v)
                CHECK(rd_u32(bin + (size_t)jnum(view, "byteOffset") + 4 * v) == m->triangles[v], "index bytes");
        }
        CHECK(jnum(jat(j, "buffers", 0), "byteLength") == (double)bn && !cJSON_GetObjectItemCaseSensitive(jat(j, "buffers", 0), "uri"), "buffer");
        cJSON_Delete(j);
        free(d);
    }
    dvren_mesh_free(g_ctx, &tet);
    dvren_mesh_free(g_ctx, &cube);
}

TEST(glb_round_trip)
{
    dvren_mesh tet, cube, empty, u;
    dvren_mesh_object obj[3];
    dvren_mesh_glb g;
    const char* path = th_tmp("mesh_io_rt.glb");
    char why[128];
    int k;
    uint32_t v;
    memset(&empty, 0, sizeof empty);
    CHECK(make_tetra(&tet) && make_cube(&cube), "alloc");
    memset(obj, 0, sizeof obj);
    obj[0].name = "tetra";
    obj[0].mesh = &tet;
    obj[0].translation[0] = 3, obj[0].translation[2] = -1;
    obj[1].name = "cube";
    obj[1].mesh = &cube;
    obj[1].rotation[0] = 1; /* 180 degrees about x */
    obj[2].name = "nothing";
    obj[2].mesh = &empty;
    CHECK_OK(g_ctx, dvren_mesh_glb_save(g_ctx, path, obj, 3, 0));
    CHECK_OK(g_ctx, dvren_mesh_glb_load(g_ctx, path, 0, &g));
    CHECK(g.count == 2, "%u objects (the empty one has no mesh)", g.count);
    CHECK(!strcmp(g.objects[0].name, "tetra") && !strcmp(g.objects[1].name, "cube"), "names");
    CHECK(same_mesh(&g.objects[0].mesh, &tet, why, sizeof why), "tetra: %s", why);
    CHECK(same_mesh(&g.objects[1].mesh, &cube, why, sizeof why), "cube: %s", why);
    CHECK(g.objects[0].translation[0] == 3 && g.objects[0].translation[2] == -1 && g.objects[0].world[12] == 3 &&
              g.objects[0].world[14] == -1 && g.objects[0].world[0] == 1, "tetra transform");
    CHECK(g.objects[1].rotation[0] == 1 && g.objects[1].rotation[3] == 0 && g.objects[1].local[5] == -1 && g.objects[1].local[10] == -1,
          "cube rotation");
    dvren_mesh_glb_free(g_ctx, &g);
    CHECK(g.count == 0 && g.objects == NULL, "free zeroes");
    /* the union with the transforms applied: tetra + (3, 0, -1); cube (x, -y, -z), winding kept (det +1) */
    CHECK_OK(g_ctx, dvren_mesh_load(g_ctx, path, 0, &u));
    CHECK(u.vertex_count == 28 && u.triangle_count == 16 && !u.normals && !u.colors, "union %u %u", u.vertex_count, u.triangle_count);
    for (v = 0; v < 4; ++v)
        CHECK(u.positions[3 * v] == tet.positions[3 * v] + 3 && u.positions[3 * v + 2] == tet.positions[3 * v + 2] - 1, "tetra moved");
    for (v = 0; v < 24; ++v)
        for (k = 0; k < 3; ++k)
            CHECK(fabs(u.positions[12 + 3 * v + k] - (k ? -1.0 : 1.0) * cube.positions[3 * v + k]) < 1e-6, "cube turned, %u %d", v, k);
    for (v = 0; v < 36; ++v) CHECK(u.triangles[12 + v] == cube.triangles[v] + 4, "cube indices offset");
    dvren_mesh_free(g_ctx, &u);
    dvren_mesh_free(g_ctx, &tet);
    dvren_mesh_free(g_ctx, &cube);
}

TEST(glb_z_up)
{
    dvren_mesh cube, a, b;
    const char* path = th_tmp("mesh_io_zup.glb");
    char why[128];
    uint32_t v;
    CHECK(make_cube(&cube), "alloc");
    CHECK_OK(g_ctx, dvren_mesh_save(g_ctx, path, &cube, DVREN_MESH_IO_Z_UP));
    /* as a viewer sees it: Y-up, (x, y, z) -> (x, z, -y); normals turned alike */
    CHECK_OK(g_ctx, dvren_mesh_load(g_ctx, path, 0, &a));
    for (v = 0; v < 24; ++v) {
        const float *p = cube.positions + 3 * v, *q = a.positions + 3 * v, *n = cube.normals + 3 * v, *m = a.normals + 3 * v;
        CHECK(fabs(q[0] - p[0]) < 1e-6 && fabs(q[1] - p[2]) < 1e-6 && fabs(q[2] + p[1]) < 1e-6, "vertex %u: (%g %g %g)", v, q[0], q[1], q[2]);
        CHECK(fabs(m[0] - n[0]) < 1e-6 && fabs(m[1] - n[2]) < 1e-6 && fabs(m[2] + n[1]) < 1e-6, "normal %u", v);
    }
    /* asked for Z-up: dvren's root is dropped, the data comes back bit for bit */
    CHECK_OK(g_ctx, dvren_mesh_load(g_ctx, path, DVREN_MESH_IO_Z_UP, &b));
    CHECK(same_mesh(&b, &cube, why, sizeof why), "%s", why);
    dvren_mesh_free(g_ctx, &b);
    /* a file without the root, read as Z-up: (x, y, z) -> (x, -z, y) exactly */
    CHECK_OK(g_ctx, dvren_mesh_save(g_ctx, path, &cube, 0));
    CHECK_OK(g_ctx, dvren_mesh_load(g_ctx, path, DVREN_MESH_IO_Z_UP, &b));
    for (v = 0; v < 24; ++v) {
        const float *p = cube.positions + 3 * v, *q = b.positions + 3 * v;
        CHECK(q[0] == p[0] && q[1] == -p[2] && q[2] == p[1], "vertex %u", v);
    }
    dvren_mesh_free(g_ctx, &a);
    dvren_mesh_free(g_ctx, &b);
    dvren_mesh_free(g_ctx, &cube);
}

/* Rebuilds a GLB with new JSON text (same BIN chunk). */
static unsigned char* glb_with_json(const unsigned char* d, size_t n, const char* json, size_t* out_n)
{
    uint32_t jl = rd_u32(d + 12), nj = (uint32_t)strlen(json), pad = (4 - nj % 4) % 4;
    size_t rest = n - 20 - jl, total = 20 + nj + pad + rest;
    unsigned char* o = (unsigned char*)malloc(total);
    memcpy(o, d, 20);
    o[8] = (unsigned char)total, o[9] = (unsigned char)(total >> 8), o[10] = (unsigned char)(total >> 16), o[11] = (unsigned char)(total >> 24);
    o[12] = (unsigned char)(nj + pad), o[13] = (unsigned char)((nj + pad) >> 8), o[14] = (unsigned char)((nj + pad) >> 16), o[15] = 0;
    memcpy(o + 20, json, nj);
    memset(o + 20 + nj, ' ', pad);
    memcpy(o + 20 + nj + pad, d + 20 + jl, rest);
    *out_n = total;
    return o;
}

TEST(glb_bad_inputs)
{
    dvren_mesh cube;
    dvren_mesh_object obj;
    dvren_mesh_glb g;
    unsigned char *d, *e;
    const unsigned char* bin;
    size_t n, bn, en;
    char why[128], *txt;
    cJSON* j;
    CHECK(make_cube(&cube), "alloc");
    memset(&obj, 0, sizeof obj);
    obj.mesh = &cube;
    CHECK_OK(g_ctx, dvren_mesh_glb_encode(g_ctx, &obj, 1, 0, &d, &n));
    e = (unsigned char*)malloc(n);
    /* bad magic, version, length field, cut file, chunk length beyond the file */
    memcpy(e, d, n);
    e[0] = 'x';
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, n, "m.glb", 0, &g), "m.glb", DVREN_ERROR_FORMAT, "magic");
    CHECK(g.count == 0 && !g.objects, "out not empty");
    memcpy(e, d, n);
    e[4] = 1;
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, n, "m.glb", 0, &g), "m.glb", DVREN_ERROR_UNSUPPORTED, "version 1");
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, d, n - 4, "m.glb", 0, &g), "m.glb", DVREN_ERROR_FORMAT, "truncated");
    memcpy(e, d, n);
    e[12] = 0xF0, e[13] = 0xFF;
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, n, "m.glb", 0, &g), "m.glb", DVREN_ERROR_FORMAT, "chunkLength");
    memcpy(e, d, n);
    e[20 + rd_u32(d + 12) + 1] = 0x7F; /* BIN chunk length */
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, n, "m.glb", 0, &g), "m.glb", DVREN_ERROR_FORMAT, "beyond the file's end");
    memcpy(e, d, n);
    e[20] = '[';
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, n, "m.glb", 0, &g), "m.glb", DVREN_ERROR_FORMAT, "JSON");
    free(e);
    /* JSON edits: an accessor beyond its bufferView, a view beyond its buffer, an index beyond POSITION, ... */
    {
        static const struct {
            const char *arr, *key;
            int item;
            double value;
            dvren_status st;
            const char* word;
        } edits[] = {
            {"accessors", "count", 0, 25, DVREN_ERROR_FORMAT, "accessors[0]"},
            {"accessors", "byteOffset", 0, 4, DVREN_ERROR_FORMAT, "beyond its bufferView"},
            {"bufferViews", "byteLength", 0, 1e6, DVREN_ERROR_FORMAT, "bufferViews[0]"},
            {"bufferViews", "byteOffset", 3, 1e6, DVREN_ERROR_FORMAT, "beyond its buffer"},
            {"buffers", "byteLength", 0, 1e7, DVREN_ERROR_FORMAT, "beyond the BIN chunk"},
            {"accessors", "componentType", 3, 5126, DVREN_ERROR_FORMAT, "unsigned byte, short or int"},
            {"accessors", "bufferView", 1, 9, DVREN_ERROR_FORMAT, "bufferViews[9]"},
            {"accessors", "count", 3, 35, DVREN_ERROR_FORMAT, "multiple of 3"},
            {"nodes", "mesh", 0, 5, DVREN_ERROR_FORMAT, "meshes[5]"},
            {"accessors", "type", 0, 0, DVREN_ERROR_FORMAT, "type must be"},
        };
        size_t i;
        for (i = 0; i < sizeof edits / sizeof edits[0]; ++i) {
            cJSON* it;
            j = glb_json(d, n, &bin, &bn, why, sizeof why);
            CHECK(j, "%s", why);
            it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, edits[i].arr), edits[i].item);
            CHECK(it, "edit %u", (unsigned)i);
            if (!strcmp(edits[i].key, "type")) cJSON_ReplaceItemInObject(it, "type", cJSON_CreateString("VEC9"));
            else {
                cJSON_DeleteItemFromObjectCaseSensitive(it, edits[i].key);
                cJSON_AddItemToObject(it, edits[i].key, cJSON_CreateNumber(edits[i].value));
            }
            txt = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            e = glb_with_json(d, n, txt, &en);
            free(txt);
            EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, en, "m.glb", 0, &g), "m.glb", edits[i].st, edits[i].word);
            CHECK(g.count == 0 && !g.objects, "out not empty");
            free(e);
        }
    }
    /* an index beyond POSITION's count, patched in the BIN chunk */
    e = (unsigned char*)malloc(n);
    memcpy(e, d, n);
    e[n - 4] = 24;
    EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, n, "m.glb", 0, &g), "m.glb", DVREN_ERROR_FORMAT, "index 24");
    free(e);
    /* a cycle, a required extension, a uri buffer */
    {
        static const char* docs[3][2] = {
            {"{\"asset\":{\"version\":\"2.0\"},\"nodes\":[{\"children\":[1]},{\"children\":[0]}],\"scenes\":[{\"nodes\":[0]}]}", "reached twice"},
            {"{\"asset\":{\"version\":\"2.0\"},\"extensionsRequired\":[\"KHR_draco_mesh_compression\"]}", "KHR_draco_mesh_compression"},
            {"{\"asset\":{\"version\":\"2.0\"},\"nodes\":[{\"mesh\":0}],\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0}}]}],"
             "\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":1,\"type\":\"VEC3\"}],"
             "\"bufferViews\":[{\"buffer\":0,\"byteLength\":12}],\"buffers\":[{\"byteLength\":12,\"uri\":\"x.bin\"}]}",
             "buffers[0]"},
        };
        static const dvren_status sts[3] = {DVREN_ERROR_FORMAT, DVREN_ERROR_UNSUPPORTED, DVREN_ERROR_UNSUPPORTED};
        int i;
        for (i = 0; i < 3; ++i) {
            e = glb_with_json(d, n, docs[i][0], &en);
            EXPECT_FAIL(dvren_mesh_glb_parse(g_ctx, e, en, "m.glb", 0, &g), "m.glb", sts[i], docs[i][1]);
            free(e);
        }
    }
    free(d);
    /* writer arguments */
    obj.rotation[0] = 0.5;
    EXPECT_FAIL(dvren_mesh_glb_encode(g_ctx, &obj, 1, 0, &d, &n), "objects[0]", DVREN_ERROR_INVALID_ARGUMENT, "unit quaternion");
    obj.rotation[0] = 0;
    cube.triangles[5] = 24;
    EXPECT_FAIL(dvren_mesh_glb_encode(g_ctx, &obj, 1, 0, &d, &n), "objects[0]", DVREN_ERROR_INVALID_ARGUMENT, "triangle 1");
    cube.triangles[5] = 3;
    cube.positions[7] = NAN;
    EXPECT_FAIL(dvren_mesh_glb_encode(g_ctx, &obj, 1, 0, &d, &n), "objects[0]", DVREN_ERROR_INVALID_ARGUMENT, "vertex 2");
    dvren_mesh_free(g_ctx, &cube);
}

/* ---- transforms, dispatch, failed writes ---- */

TEST(transform)
{
    dvren_mesh m;
    double M[16];
    static const double t[3] = {1, 2, 3}, s[3] = {2, 4, -0.5};
    uint32_t v, tri[36];
    int k;
    CHECK(make_cube(&m), "alloc");
    memcpy(tri, m.triangles, sizeof tri);
    /* T S with a mirror in z: p -> s p + t exactly (powers of two), normals axis-aligned and flipped in z, winding swapped */
    dvren_mesh_trs_matrix(t, NULL, s, M);
    {
        dvren_mesh c;
        CHECK(make_cube(&c), "alloc");
        CHECK_OK(g_ctx, dvren_mesh_transform(g_ctx, &m, M));
        for (v = 0; v < 24; ++v)
            for (k = 0; k < 3; ++k) {
                float want = (float)(s[k] * c.positions[3 * v + k] + t[k]);
                float wn = (float)(c.normals[3 * v + k] * (s[k] < 0 ? -1 : 1));
                CHECK(m.positions[3 * v + k] == want, "vertex %u[%d]: %g vs %g", v, k, m.positions[3 * v + k], want);
                CHECK(m.normals[3 * v + k] == wn, "normal %u[%d]: %g vs %g", v, k, m.normals[3 * v + k], wn);
            }
        for (v = 0; v < 12; ++v)
            CHECK(m.triangles[3 * v] == tri[3 * v] && m.triangles[3 * v + 1] == tri[3 * v + 2] && m.triangles[3 * v + 2] == tri[3 * v + 1],
                  "winding of triangle %u", v);
        dvren_mesh_free(g_ctx, &c);
    }
    /* a shear: normals by the inverse transpose stay perpendicular to the moved faces */
    {
        double S[16];
        dvren_mesh_trs_matrix(NULL, NULL, NULL, S);
        S[4] = 0.7; /* x += 0.7 y */
        CHECK_OK(g_ctx, dvren_mesh_transform(g_ctx, &m, S));
        for (v = 0; v < 12; ++v) {
            const float *a = m.positions + 3 * m.triangles[3 * v], *b = m.positions + 3 * m.triangles[3 * v + 1],
                        *c = m.positions + 3 * m.triangles[3 * v + 2], *n = m.normals + 3 * m.triangles[3 * v];
            double e1[3], e2[3], d1 = 0, d2 = 0, len = 0;
            for (k = 0; k < 3; ++k) e1[k] = b[k] - a[k], e2[k] = c[k] - a[k];
            for (k = 0; k < 3; ++k) d1 += e1[k] * n[k], d2 += e2[k] * n[k], len += n[k] * n[k];
            CHECK(fabs(d1) < 1e-5 && fabs(d2) < 1e-5 && fabs(len - 1) < 1e-6, "triangle %u: n.e = %g %g, |n|^2 %g", v, d1, d2, len);
        }
    }
    M[15] = 2;
    EXPECT_FAIL(dvren_mesh_transform(g_ctx, &m, M), "transform", DVREN_ERROR_INVALID_ARGUMENT, "not affine");
    dvren_mesh_trs_matrix(NULL, NULL, (const double[3]){1, 0, 1}, M);
    EXPECT_FAIL(dvren_mesh_transform(g_ctx, &m, M), "transform", DVREN_ERROR_INVALID_ARGUMENT, "singular");
    dvren_mesh_free(g_ctx, &m);
}

TEST(dispatch_and_failed_writes)
{
    static const char* exts[3] = {"x.obj", "x.PLY", "x.glb"};
    dvren_mesh m, b;
    char path[4096], why[128];
    unsigned char* before;
    long bsize, asize;
    int i;
    CHECK(make_cube(&m), "alloc");
    for (i = 0; i < 3; ++i) {
        snprintf(path, sizeof path, "%s", th_tmp(exts[i]));
        CHECK_OK(g_ctx, dvren_mesh_save(g_ctx, path, &m, 0));
        CHECK_OK(g_ctx, dvren_mesh_load(g_ctx, path, 0, &b));
        CHECK(same_mesh(&m, &b, why, sizeof why), "%s: %s", exts[i], why);
        dvren_mesh_free(g_ctx, &b);
        /* a missing folder: IO naming the path, no file */
        snprintf(path, sizeof path, "%s/%s", th_tmp("no_such_folder"), exts[i]);
        EXPECT_FAIL(dvren_mesh_save(g_ctx, path, &m, 0), "no_such_folder", DVREN_ERROR_IO, "no_such_folder");
        CHECK(!th_exists(path), "%s exists after a failed write", path);
    }
    CHECK(dvren_mesh_format_of("a/b.c/mesh") == DVREN_MESH_FORMAT_UNKNOWN && dvren_mesh_format_of("m.Glb") == DVREN_MESH_FORMAT_GLB, "format_of");
    EXPECT_FAIL(dvren_mesh_save(g_ctx, th_tmp("x.stl"), &m, 0), "x.stl", DVREN_ERROR_INVALID_ARGUMENT, "unknown extension");
    EXPECT_FAIL(dvren_mesh_load(g_ctx, th_tmp("none.ply"), 0, &b), "none.ply", DVREN_ERROR_IO, "cannot open");
    /* a bad mesh over an existing file: refused, the old file intact */
    snprintf(path, sizeof path, "%s", th_tmp("x.obj"));
    before = th_read_file(path, &bsize);
    CHECK(before, "read %s", path);
    m.colors[4] = INFINITY;
    EXPECT_FAIL(dvren_mesh_save(g_ctx, path, &m, 0), "obj", DVREN_ERROR_INVALID_ARGUMENT, "colors[1] is not finite");
    {
        unsigned char* after = th_read_file(path, &asize);
        CHECK(after && asize == bsize && !memcmp(before, after, (size_t)bsize), "the old file changed");
        free(after);
    }
    free(before);
    dvren_mesh_free(g_ctx, &m);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    g_ctx = th_ctx();
    RUN(obj_round_trip);
    RUN(obj_text);
    RUN(obj_reader_forms);
    RUN(obj_bad_inputs);
    RUN(ply_round_trip);
    RUN(ply_layout);
    RUN(ply_reader_forms);
    RUN(ply_bad_inputs);
    RUN(glb_structure);
    RUN(glb_round_trip);
    RUN(glb_z_up);
    RUN(glb_bad_inputs);
    RUN(transform);
    RUN(dispatch_and_failed_writes);
    dvren_context_destroy(g_ctx);
    return th_done();
}
