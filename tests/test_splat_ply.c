/* tests/test_splat_ply.c - 3DGS PLY reading and writing (tools/dvren_splat_ply.h).
 *
 * Expectations come from outside the code under test: pc_short.ply's facts
 * from the data's README (100 vertices, 62 float properties, 14,029 bytes
 * after them; $DVREN_DATA, SKIP without it) and its floats decoded here a
 * second way (the header found by its "end_header\n", the values copied
 * with memcpy at 4 x (62 i + j) bytes after it); a file this test builds
 * byte by byte with known values; the same values written as ASCII. Every
 * bad input must give FORMAT (or UNSUPPORTED) and a message naming the
 * file and the property or part at fault. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define DVREN_SPLAT_PLY_IMPLEMENTATION
#include "dvren_splat_ply.h"

/* Parses (name, bytes) expecting st; the message must name the file and hold word. */
#define EXPECT_FAIL(ctx, bytes, n, nm, st, word)                                                                         \
    do {                                                                                                                 \
        dvren_splats s_;                                                                                                 \
        dvren_status r_ = dvren_splat_ply_parse((ctx), (bytes), (n), (nm), 0, &s_);                                      \
        const char* e_ = dvren_last_error(ctx);                                                                          \
        CHECK(r_ == (st), "%s: got %s, expected %s (%s)", (word), dvren_status_string(r_), dvren_status_string(st), e_); \
        CHECK(strstr(e_, (nm)) != NULL, "the message does not name the file: %s", e_);                                   \
        CHECK(strstr(e_, (word)) != NULL, "the message lacks '%s': %s", (word), e_);                                     \
        CHECK(s_.count == 0 && s_.means == NULL && s_.props == NULL, "out not left empty");                              \
    } while (0)

static const char* g_std[17] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};

/* The standard property names with rest f_rest values (3 K), in order, into names[]. */
static int std_names(char names[80][24], int rest)
{
    int k, j, m = 0;
    for (k = 0; k < 17; ++k) {
        if (k == 9)
            for (j = 0; j < rest; ++j) snprintf(names[m++], 24, "f_rest_%d", j);
        snprintf(names[m++], 24, "%s", g_std[k]);
    }
    return m;
}

/* A known value for vertex i, property j. */
static float known(int i, int j) { return (float)(i * 100 + j) * 0.125f - 3.0f; }

/* Builds a file: format (ascii or binary), n vertices, the given header property lines
 * (names, all float), values known(i, j); extra text appended after. Returns malloc'ed bytes. */
static unsigned char* build(int ascii, int n, char names[80][24], int np, const char* tail, size_t* size)
{
    size_t cap = 4096 + (size_t)n * (size_t)np * 32, len = 0;
    unsigned char* b = (unsigned char*)malloc(cap);
    int i, j;
    len += (size_t)snprintf((char*)b + len, cap - len, "ply\nformat %s 1.0\nelement vertex %d\n",
                            ascii ? "ascii" : "binary_little_endian", n);
    for (j = 0; j < np; ++j) len += (size_t)snprintf((char*)b + len, cap - len, "property float %s\n", names[j]);
    len += (size_t)snprintf((char*)b + len, cap - len, "end_header\n");
    for (i = 0; i < n; ++i) {
        for (j = 0; j < np; ++j) {
            float v = known(i, j);
            if (ascii) len += (size_t)snprintf((char*)b + len, cap - len, j ? " %.9g" : "%.9g", (double)v);
            else {
                memcpy(b + len, &v, 4); /* this test runs on little-endian hosts (x86-64, aarch64) */
                len += 4;
            }
        }
        if (ascii) b[len++] = '\n';
    }
    if (tail) {
        memcpy(b + len, tail, strlen(tail));
        len += strlen(tail);
    }
    *size = len;
    return b;
}

/* Where the header of pc_short.ply ends, found here without the reader. */
static long header_end(const unsigned char* b, long n)
{
    const char* key = "end_header\n";
    long i, k = (long)strlen(key);
    for (i = 0; i + k <= n; ++i)
        if (memcmp(b + i, key, (size_t)k) == 0) return i + k;
    return -1;
}

TEST(pc_short_strict_reports_trailing_bytes)
{
    const char* path = th_data("gaussians/pc_short.ply");
    dvren_context* ctx;
    dvren_splats s;
    dvren_status st;
    if (!path || !th_exists(path)) SKIP("no gaussians/pc_short.ply under $DVREN_DATA");
    ctx = th_ctx();
    st = dvren_splat_ply_load(ctx, path, 0, &s);
    CHECK(st == DVREN_ERROR_FORMAT, "got %s", dvren_status_string(st));
    CHECK(strstr(dvren_last_error(ctx), path), "%s", dvren_last_error(ctx));
    CHECK(strstr(dvren_last_error(ctx), "14029 bytes after the last vertex"), "%s", dvren_last_error(ctx));
    CHECK(s.count == 0 && !s.means, "out not empty");
    dvren_context_destroy(ctx);
}

TEST(pc_short_lenient_values)
{
    const char* path = th_data("gaussians/pc_short.ply");
    dvren_context* ctx;
    dvren_splats s;
    unsigned char* raw;
    long n, h;
    int i, j, K = 15;
    if (!path || !th_exists(path)) SKIP("no gaussians/pc_short.ply under $DVREN_DATA");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_splat_ply_load(ctx, path, DVREN_SPLAT_PLY_LENIENT, &s));
    CHECK(s.count == 100 && s.sh_degree == 3 && s.rest_count == 45 && s.rest_per_channel == 15, "count %zu degree %d rest %u",
          s.count, s.sh_degree, s.rest_count);
    CHECK(s.prop_count == 62 && s.extra_count == 0 && s.has_normals && !s.ascii, "props %u extras %u", s.prop_count, s.extra_count);
    raw = th_read_file(path, &n);
    CHECK(raw && n == 40357, "size %ld", n);
    h = header_end(raw, n);
    CHECK(h > 0 && h + 100 * 62 * 4 + 14029 == n, "header ends at %ld", h);
    for (i = 0; i < 100; i += 33) {
        float v[62];
        memcpy(v, raw + h + (long)i * 62 * 4, sizeof v);
        for (j = 0; j < 3; ++j) {
            CHECK(memcmp(&v[j], &s.means[3 * i + j], 4) == 0, "x[%d][%d]", i, j);
            CHECK(memcmp(&v[3 + j], &s.normals[3 * i + j], 4) == 0, "n[%d][%d]", i, j);
            CHECK(memcmp(&v[6 + j], &s.f_dc[3 * i + j], 4) == 0, "f_dc[%d][%d]", i, j);
            CHECK(memcmp(&v[55 + j], &s.scale[3 * i + j], 4) == 0, "scale[%d][%d]", i, j);
        }
        for (j = 0; j < 45; ++j) CHECK(memcmp(&v[9 + j], &s.f_rest[45 * i + j], 4) == 0, "f_rest[%d][%d]", i, j);
        /* channel-major: G's first band-1 coefficient is f_rest_15 */
        CHECK(s.f_rest[45 * i + 1 * K + 0] == v[9 + 15], "G channel");
        CHECK(memcmp(&v[54], &s.opacity[i], 4) == 0, "opacity[%d]", i);
        for (j = 0; j < 4; ++j) CHECK(memcmp(&v[58 + j], &s.rot[4 * i + j], 4) == 0, "rot[%d][%d]", i, j);
    }
    free(raw);
    dvren_splats_free(&s);
    dvren_context_destroy(ctx);
}

TEST(pc_short_round_trip_bytes)
{
    const char* path = th_data("gaussians/pc_short.ply");
    const char* cut = th_tmp("splat_cut.ply");
    const char* outp = th_tmp("splat_out.ply");
    dvren_context* ctx;
    dvren_splats s;
    unsigned char *raw, *back;
    long n, h, m;
    if (!path || !th_exists(path)) SKIP("no gaussians/pc_short.ply under $DVREN_DATA");
    ctx = th_ctx();
    raw = th_read_file(path, &n);
    CHECK(raw != NULL, "read");
    h = header_end(raw, n);
    CHECK(th_write_file(cut, raw, (size_t)(h + 100 * 62 * 4)) == 0, "write %s", cut);
    CHECK_OK(ctx, dvren_splat_ply_load(ctx, cut, 0, &s));
    CHECK_OK(ctx, dvren_splat_ply_save(ctx, outp, &s));
    back = th_read_file(outp, &m);
    CHECK(back && m == h + 100 * 62 * 4, "size %ld", m);
    CHECK(memcmp(back, raw, (size_t)m) == 0, "bytes differ");
    free(back);
    free(raw);
    dvren_splats_free(&s);
    dvren_context_destroy(ctx);
}

TEST(built_binary_ascii_and_orders)
{
    char names[80][24];
    int rests[4] = {0, 3, 8, 15}, r;
    dvren_context* ctx = th_ctx();
    for (r = 0; r < 4; ++r) {
        int np = std_names(names, 3 * rests[r]), i, j;
        size_t nb, na, ne;
        unsigned char *bin = build(0, 5, names, np, NULL, &nb), *asc = build(1, 5, names, np, "\n\n", &na), *enc;
        dvren_splats sb, sa;
        CHECK_OK(ctx, dvren_splat_ply_parse(ctx, bin, nb, "b.ply", 0, &sb));
        CHECK_OK(ctx, dvren_splat_ply_parse(ctx, asc, na, "a.ply", 0, &sa));
        CHECK(sb.sh_degree == r && sa.sh_degree == r && sa.ascii && sb.count == 5, "degree %d", sb.sh_degree);
        for (i = 0; i < 5; ++i)
            for (j = 0; j < np; ++j) {
                int role = j < 9 ? j : j < 9 + 3 * rests[r] ? -1 : j - 3 * rests[r];
                float want = known(i, j), got = role < 0 ? sb.f_rest[(size_t)(3 * rests[r] * i + j - 9)]
                                                 : role < 3 ? sb.means[3 * i + role]
                                                 : role < 6 ? sb.normals[3 * i + role - 3]
                                                 : role < 9 ? sb.f_dc[3 * i + role - 6]
                                                 : role == 9 ? sb.opacity[i]
                                                 : role < 13 ? sb.scale[3 * i + role - 10]
                                                             : sb.rot[4 * i + role - 13];
                CHECK(got == want, "vertex %d %s: %g != %g", i, names[j], (double)got, (double)want);
            }
        CHECK(memcmp(sb.means, sa.means, 15 * 4) == 0 && memcmp(sb.f_dc, sa.f_dc, 15 * 4) == 0 &&
                  memcmp(sb.opacity, sa.opacity, 5 * 4) == 0 && memcmp(sb.scale, sa.scale, 15 * 4) == 0 &&
                  memcmp(sb.rot, sa.rot, 20 * 4) == 0 && memcmp(sb.normals, sa.normals, 15 * 4) == 0 &&
                  (r == 0 || memcmp(sb.f_rest, sa.f_rest, (size_t)(5 * 3 * rests[r]) * 4) == 0),
              "ascii != binary at degree %d", r);
        /* the binary one written back is the same bytes */
        CHECK_OK(ctx, dvren_splat_ply_encode(ctx, &sb, &enc, &ne));
        CHECK(ne == nb && memcmp(enc, bin, nb) == 0, "degree %d: the encoding differs", r);
        free(enc);
        dvren_splats_free(&sb);
        dvren_splats_free(&sa);
        free(bin);
        free(asc);
    }
    /* shuffled order, no normals, one extra: read by name, written in the standard order */
    {
        char sh[80][24];
        size_t nb, ne;
        unsigned char *bin, *enc;
        dvren_splats s, s2;
        int k, m = 0;
        const char* order[] = {"rot_3", "opacity", "z", "f_dc_2", "scale_1", "y", "rot_0", "f_dc_0", "x",
                               "scale_0", "rot_2", "f_dc_1", "my_label", "scale_2", "rot_1"};
        for (k = 0; k < 15; ++k) snprintf(sh[m++], 24, "%s", order[k]);
        bin = build(0, 3, sh, m, NULL, &nb);
        CHECK_OK(ctx, dvren_splat_ply_parse(ctx, bin, nb, "s.ply", 0, &s));
        CHECK(!s.has_normals && s.extra_count == 1 && s.sh_degree == 0, "normals %d extras %u", s.has_normals, s.extra_count);
        CHECK(s.means[3 * 2 + 0] == known(2, 8) && s.rot[4 * 1 + 3] == known(1, 0) && s.opacity[0] == known(0, 1) &&
                  s.extra[2] == (double)known(2, 12) && s.normals[4] == 0.0f,
              "by name");
        CHECK_OK(ctx, dvren_splat_ply_encode(ctx, &s, &enc, &ne));
        CHECK(strstr((const char*)enc, "property float f_dc_2\nproperty float opacity\n") &&
                  strstr((const char*)enc, "property float rot_3\nproperty float my_label\nend_header\n"),
              "standard order");
        CHECK_OK(ctx, dvren_splat_ply_parse(ctx, enc, ne, "enc.ply", 0, &s2));
        CHECK(s2.has_normals && memcmp(s.means, s2.means, 9 * 4) == 0 && memcmp(s.rot, s2.rot, 12 * 4) == 0 &&
                  s2.extra[1] == s.extra[1],
              "re-read");
        free(enc);
        free(bin);
        dvren_splats_free(&s);
        dvren_splats_free(&s2);
    }
    dvren_context_destroy(ctx);
}

TEST(lenient_and_ascii_trailing)
{
    char names[80][24];
    int np = std_names(names, 0);
    size_t n;
    unsigned char* b = build(1, 2, names, np, "1 2 3\n", &n);
    dvren_context* ctx = th_ctx();
    dvren_splats s;
    EXPECT_FAIL(ctx, b, n, "t.ply", DVREN_ERROR_FORMAT, "bytes after the last vertex");
    CHECK_OK(ctx, dvren_splat_ply_parse(ctx, b, n, "t.ply", DVREN_SPLAT_PLY_LENIENT, &s));
    CHECK(s.count == 2, "count");
    dvren_splats_free(&s);
    free(b);
    dvren_context_destroy(ctx);
}

/* Replaces the first occurrence of from by to in a NUL-terminated copy of the header part. */
static unsigned char* patched(const unsigned char* b, size_t n, const char* from, const char* to, size_t* out_n)
{
    const char* at = strstr((const char*)b, from);
    size_t off, lf, lt;
    if (!at) {
        fprintf(stderr, "patched: '%s' not found\n", from);
        abort();
    }
    off = (size_t)(at - (const char*)b), lf = strlen(from), lt = strlen(to);
    unsigned char* r = (unsigned char*)malloc(n - lf + lt + 1);
    memcpy(r, b, off);
    memcpy(r + off, to, lt);
    memcpy(r + off + lt, b + off + lf, n - off - lf);
    *out_n = n - lf + lt;
    r[*out_n] = 0;
    return r;
}

TEST(bad_inputs)
{
    char names[80][24];
    int np = std_names(names, 9);
    size_t n, m;
    unsigned char *b, *p;
    dvren_context* ctx = th_ctx();
    b = build(0, 4, names, np, NULL, &n); /* nothing after: build leaves the string NUL-free, patched() copies */
    b = (unsigned char*)realloc(b, n + 1);
    b[n] = 0;
    /* missing property */
    p = patched(b, n, "property float opacity\n", "property float opacityx\n", &m);
    EXPECT_FAIL(ctx, p, m, "miss.ply", DVREN_ERROR_FORMAT, "property 'opacity'");
    free(p);
    p = patched(b, n, "property float rot_2\n", "", &m);
    EXPECT_FAIL(ctx, p, m, "miss2.ply", DVREN_ERROR_FORMAT, "property 'rot_2'");
    free(p);
    /* wrong f_rest count: 8 instead of 9 */
    p = patched(b, n, "property float f_rest_8\n", "", &m);
    EXPECT_FAIL(ctx, p, m, "rest.ply", DVREN_ERROR_FORMAT, "f_rest");
    free(p);
    /* a gap in the f_rest indices */
    p = patched(b, n, "property float f_rest_8\n", "property float f_rest_9\n", &m);
    EXPECT_FAIL(ctx, p, m, "gap.ply", DVREN_ERROR_FORMAT, "f_rest_8");
    free(p);
    /* truncated by one byte, and by a whole vertex */
    EXPECT_FAIL(ctx, b, n - 1, "trunc.ply", DVREN_ERROR_FORMAT, "truncated");
    EXPECT_FAIL(ctx, b, n - 4 * (size_t)np, "trunc2.ply", DVREN_ERROR_FORMAT, "truncated");
    /* bad magic */
    p = patched(b, n, "ply\n", "plx\n", &m);
    EXPECT_FAIL(ctx, p, m, "magic.ply", DVREN_ERROR_FORMAT, "magic");
    free(p);
    /* N too large: refused before allocating (the harness's allocator would not save us) */
    p = patched(b, n, "element vertex 4\n", "element vertex 100000000\n", &m);
    EXPECT_FAIL(ctx, p, m, "huge.ply", DVREN_ERROR_FORMAT, "element vertex");
    free(p);
    p = patched(b, n, "element vertex 4\n", "element vertex 18446744073709551615\n", &m);
    EXPECT_FAIL(ctx, p, m, "huge2.ply", DVREN_ERROR_FORMAT, "element vertex");
    free(p);
    p = patched(b, n, "element vertex 4\n", "element vertex 99999999999999999999999\n", &m);
    EXPECT_FAIL(ctx, p, m, "huge3.ply", DVREN_ERROR_FORMAT, "element vertex");
    free(p);
    /* N larger than the bytes present but small enough to allocate */
    p = patched(b, n, "element vertex 4\n", "element vertex 5\n", &m);
    EXPECT_FAIL(ctx, p, m, "five.ply", DVREN_ERROR_FORMAT, "truncated");
    free(p);
    /* no end_header */
    p = patched(b, n, "end_header\n", "end_headex\n", &m);
    EXPECT_FAIL(ctx, p, m, "noend.ply", DVREN_ERROR_FORMAT, "header line");
    free(p);
    EXPECT_FAIL(ctx, b, 40, "short.ply", DVREN_ERROR_FORMAT, "end_header");
    /* big-endian, other elements, lists, unknown types, duplicates */
    p = patched(b, n, "binary_little_endian", "binary_big_endian", &m);
    EXPECT_FAIL(ctx, p, m, "be.ply", DVREN_ERROR_UNSUPPORTED, "binary_big_endian");
    free(p);
    p = patched(b, n, "end_header\n", "element face 0\nproperty list uchar int vertex_indices\nend_header\n", &m);
    EXPECT_FAIL(ctx, p, m, "face.ply", DVREN_ERROR_UNSUPPORTED, "element 'face'");
    free(p);
    p = patched(b, n, "property float x\n", "property half x\n", &m);
    EXPECT_FAIL(ctx, p, m, "type.ply", DVREN_ERROR_FORMAT, "property 'x'");
    free(p);
    p = patched(b, n, "property float y\n", "property float x\n", &m);
    EXPECT_FAIL(ctx, p, m, "dup.ply", DVREN_ERROR_FORMAT, "declared twice");
    free(p);
    /* a NaN value (vertex 2, property rot_1) */
    {
        float nan = NAN;
        size_t hdr = (size_t)header_end(b, (long)n);
        unsigned char* q = (unsigned char*)malloc(n);
        int j;
        memcpy(q, b, n);
        for (j = 0; j < np; ++j)
            if (strcmp(names[j], "rot_1") == 0) memcpy(q + hdr + (size_t)(2 * np + j) * 4, &nan, 4);
        EXPECT_FAIL(ctx, q, n, "nan.ply", DVREN_ERROR_FORMAT, "vertex 2 property 'rot_1'");
        free(q);
    }
    free(b);
    /* ASCII: a non-number, a short file */
    {
        size_t na;
        unsigned char* a = build(1, 2, names, np, NULL, &na);
        a = (unsigned char*)realloc(a, na + 1);
        a[na] = 0;
        EXPECT_FAIL(ctx, a, (size_t)(strrchr((const char*)a, ' ') - (const char*)a), "atrunc.ply", DVREN_ERROR_FORMAT,
                    "vertex 1 property 'rot_3': truncated");
        memcpy(a + na - 3, "abc", 3);
        EXPECT_FAIL(ctx, a, na, "anum.ply", DVREN_ERROR_FORMAT, "property 'rot_3'");
        free(a);
    }
    dvren_context_destroy(ctx);
}

TEST(write_errors_and_create)
{
    dvren_context* ctx = th_ctx();
    dvren_splats s;
    unsigned char* enc;
    size_t ne;
    const char* bad = th_tmp("no_such_dir/x.ply");
    CHECK_OK(ctx, dvren_splats_create(ctx, 2, 2, &s));
    CHECK(s.rest_count == 24 && s.prop_count == 41, "rest %u props %u", s.rest_count, s.prop_count);
    s.rot[0] = s.rot[4] = 1.0f;
    CHECK_OK(ctx, dvren_splat_ply_encode(ctx, &s, &enc, &ne));
    CHECK(ne - (size_t)header_end(enc, (long)ne) == 2 * 41 * 4, "body %zu", ne);
    free(enc);
    s.scale[4] = NAN;
    CHECK(dvren_splat_ply_encode(ctx, &s, &enc, &ne) == DVREN_ERROR_INVALID_ARGUMENT, "nan written");
    CHECK(strstr(dvren_last_error(ctx), "gaussian 1: scale_1 is nan"), "%s", dvren_last_error(ctx));
    s.scale[4] = 0.0f;
    CHECK(dvren_splat_ply_save(ctx, bad, &s) == DVREN_ERROR_IO, "save to a missing folder");
    CHECK(!th_exists(bad), "a partial file");
    s.rest_per_channel = 3;
    CHECK(dvren_splat_ply_encode(ctx, &s, &enc, &ne) == DVREN_ERROR_INVALID_ARGUMENT, "inconsistent degree");
    dvren_splats_free(&s);
    CHECK(dvren_splats_create(ctx, 1, 4, &s) == DVREN_ERROR_INVALID_ARGUMENT, "degree 4");
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(pc_short_strict_reports_trailing_bytes);
    RUN(pc_short_lenient_values);
    RUN(pc_short_round_trip_bytes);
    RUN(built_binary_ascii_and_orders);
    RUN(lenient_and_ascii_trailing);
    RUN(bad_inputs);
    RUN(write_errors_and_create);
    return th_done();
}
