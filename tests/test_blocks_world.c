/* tests/test_blocks_world.c - tools/dvren_blocks.h, the block world in
 * host memory (docs/blocks.md, "World", "Materials", "World files").
 *
 * Every input is written here at run time into $DVREN_TEST_TMP: JSON world
 * files, .npy label volumes and block lists (the test's own writer, NEP 1
 * versions 1.0 to 3.0), tiny .vox files built byte by byte (the test's own
 * writer, after ephtracy/voxel-model's format text). The expectations are
 * worked out by hand below (positions after the z-up -> y-up mapping, the
 * block order, the face counts of a single block, two neighbours, a 3 x 3
 * x 3 cube, a hollow one) or computed another way (visible faces as 6 N
 * minus twice the neighbouring pairs, found by scanning the grid). The
 * round trip save -> load is checked bit for bit. Bad inputs must fail with
 * an error naming the file and the field. The real .vox files of
 * $DVREN_DATA/voxels are checked against ../shared/data/README.md's counts
 * (skipped when absent).
 *
 * tests/run.sh links the libraries named on the next line. */
/* TEST_LIBS: -lcjson */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"
#include "vox_writer.h" /* the tests' small .vox writer */

#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"

#include <dirent.h>

static int has(const char* s, const char* sub) { return strstr(s, sub) != NULL; }

/* The error names the file (its start) and the field, and holds `what`. */
static int names(const char* err, const char* file, const char* field, const char* what)
{
    char pre[4200];
    snprintf(pre, sizeof pre, "%s: %s", file, field);
    return strncmp(err, pre, strlen(pre)) == 0 && has(err, what);
}

static const char* write_text(const char* name, const char* text)
{
    const char* p = th_tmp(name);
    if (th_write_file(p, text, strlen(text))) return NULL;
    return p;
}

/* ---- a small .npy writer (the test's own, NEP 1): version major, the
 * header dict text as given, padded with spaces to 64 bytes and ended by
 * '\n', then n data bytes */
static const char* write_npy_raw(const char* name, int major, const char* dict, const void* data, size_t n)
{
    unsigned char buf[1 << 16];
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict), i;
    const char* p = th_tmp(name);
    while ((pre + hl + 1) % 64) ++hl;
    hl += 1;
    if (pre + hl + n > sizeof buf) return NULL;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (i = 0; i < pre - 8; ++i) buf[8 + i] = (unsigned char)((hl >> (8 * i)) & 0xff);
    memset(buf + pre, ' ', hl);
    memcpy(buf + pre, dict, strlen(dict));
    buf[pre + hl - 1] = '\n';
    if (n) memcpy(buf + pre + hl, data, n);
    if (th_write_file(p, buf, pre + hl + n)) return NULL;
    return p;
}

/* SIZE sx sy sz, then XYZI with n voxels (x, y, z, colour index) */
static void vb_model(vbuf* kids, int sx, int sy, int sz, const unsigned char (*xyzc)[4], int n)
{
    vb_size(kids, sx, sy, sz);
    vb_xyzi(kids, &xyzc[0][0], n);
}
/* RGBA: entry e (colour index e + 1) is (e, 2e, 3e mod 256, 255), except
 * the few set by the caller afterwards */
static void vb_rgba(vbuf* c)
{
    int e;
    c->n = 0;
    for (e = 0; e < 256; ++e) {
        unsigned char q[4] = {(unsigned char)e, (unsigned char)(2 * e), (unsigned char)(3 * e), 255};
        vb_bytes(c, q, 4);
    }
}
static const char* write_vox(const char* name, const vbuf* kids)
{
    vbuf f = {{0}, 0};
    const char* p = th_tmp(name);
    vb_file(&f, kids);
    if (f.n > sizeof f.b || th_write_file(p, f.b, f.n)) return NULL;
    return p;
}

/* Visible faces counted another way: 6 N minus 2 per pair of solid cells
 * that share a face, found by scanning the grid along each axis. */
static uint64_t faces_by_pairs(const dvren_blocks_world* w)
{
    uint64_t pairs = 0;
    int32_t x, y, z;
    for (z = 0; z < w->size[2]; ++z)
        for (y = 0; y < w->size[1]; ++y)
            for (x = 0; x < w->size[0]; ++x) {
                if (dvren_blocks_at(w, x, y, z) < 0) continue;
                pairs += dvren_blocks_at(w, x + 1, y, z) >= 0;
                pairs += dvren_blocks_at(w, x, y + 1, z) >= 0;
                pairs += dvren_blocks_at(w, x, y, z + 1) >= 0;
            }
    return 6 * (uint64_t)w->block_count - 2 * pairs;
}

/* Two worlds equal bit for bit (size, scale, origin, materials, blocks in order). */
static int same_world(const dvren_blocks_world* a, const dvren_blocks_world* b, char* why, size_t cap)
{
    size_t cells;
    if (memcmp(a->size, b->size, sizeof a->size)) return snprintf(why, cap, "size"), 0;
    if (memcmp(&a->scale, &b->scale, sizeof a->scale) || memcmp(a->origin, b->origin, sizeof a->origin))
        return snprintf(why, cap, "scale/origin"), 0;
    if (a->material_count != b->material_count || memcmp(a->materials, b->materials, a->material_count * sizeof *a->materials))
        return snprintf(why, cap, "materials"), 0;
    if (a->block_count != b->block_count) return snprintf(why, cap, "block count %u vs %u", a->block_count, b->block_count), 0;
    if (a->block_count && memcmp(a->pos, b->pos, 3 * sizeof(int32_t) * a->block_count)) return snprintf(why, cap, "positions"), 0;
    if (a->block_count && memcmp(a->logits, b->logits, sizeof(float) * a->block_count * a->material_count))
        return snprintf(why, cap, "logits"), 0;
    cells = (size_t)a->size[0] * (size_t)a->size[1] * (size_t)a->size[2];
    if (memcmp(a->cell, b->cell, cells * sizeof *a->cell)) return snprintf(why, cap, "cell[]"), 0;
    return 1;
}

/* The folder of th_tmp() holds no file whose name starts with prefix and holds ".tmp". */
static int no_temp_files(const char* prefix)
{
    char dir[4096];
    const char* p = th_tmp("x");
    DIR* d;
    struct dirent* e;
    int clean = 1;
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(p, '/') - p), p);
    d = opendir(dir);
    if (!d) return 0;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && has(e->d_name, ".tmp")) clean = 0;
    closedir(d);
    return clean;
}

/* ======================================================================== */

TEST(default_materials)
{
    static const char* const want[8] = {"grass", "dirt", "stone", "sand", "wood", "leaves", "water", "snow"};
    uint32_t n = 0, i;
    const dvren_blocks_material* m = dvren_blocks_default_materials(&n);
    CHECK(n == 8 && m, "count %u", n);
    for (i = 0; i < 8; ++i) CHECK(!strcmp(m[i].name, want[i]), "material %u is '%s', expected '%s'", i + 1, m[i].name, want[i]);
    /* docs/blocks.md's table */
    CHECK(m[0].top[0] == 0.35f && m[0].top[1] == 0.62f && m[0].top[2] == 0.24f, "grass top");
    CHECK(m[0].side[0] == 0.45f && m[0].bottom[2] == 0.20f, "grass side/bottom");
    CHECK(m[4].side[0] == 0.40f && m[4].side[1] == 0.29f && m[4].side[2] == 0.16f, "wood side");
    CHECK(m[7].top[2] == 1.00f && m[7].side[1] == 0.82f && m[7].bottom[0] == 0.47f, "snow");
}

TEST(edit_semantics)
{
    static const int32_t size[3] = {4, 3, 2};
    dvren_blocks_world w;
    float l[8] = {0, 5, 5, 0, 0, 0, 0, 0}, nan8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t x, y, z;
    CHECK(dvren_blocks_init(&w, size, NULL, 0) == 0, "%s", w.error);
    CHECK(w.size[0] == 4 && w.size[1] == 3 && w.size[2] == 2 && w.scale == 1.0f && w.origin[0] == 0.0f, "init");
    CHECK(w.material_count == 8 && !strcmp(w.materials[2].name, "stone") && w.block_count == 0, "default table");
    for (z = 0; z < 2; ++z)
        for (y = 0; y < 3; ++y)
            for (x = 0; x < 4; ++x) CHECK(dvren_blocks_at(&w, x, y, z) == -1, "(%d %d %d) not air", x, y, z);
    CHECK(dvren_blocks_at(&w, -1, 0, 0) == -1 && dvren_blocks_at(&w, 4, 0, 0) == -1 && dvren_blocks_at(&w, 0, 3, 0) == -1 &&
              dvren_blocks_at(&w, 0, 0, 2) == -1,
          "outside");

    /* A = (1, 2, 1) stone, B = (3, 0, 0) logits l, C = (0, 0, 1) wood */
    CHECK(dvren_blocks_place_material(&w, 1, 2, 1, 3, 10.0f) == 0, "%s", w.error);
    CHECK(dvren_blocks_place(&w, 3, 0, 0, l) == 0, "%s", w.error);
    CHECK(dvren_blocks_place_material(&w, 0, 0, 1, 5, 2.5f) == 0, "%s", w.error);
    CHECK(w.block_count == 3, "count %u", w.block_count);
    CHECK(dvren_blocks_at(&w, 1, 2, 1) == 0 && dvren_blocks_at(&w, 3, 0, 0) == 1 && dvren_blocks_at(&w, 0, 0, 1) == 2, "at");
    /* linear index x + X (y + Y z): A = 1 + 4 (2 + 3) = 21, B = 3, C = 12 */
    CHECK(w.cell[21] == 1 && w.cell[3] == 2 && w.cell[12] == 3, "cell[] %u %u %u", w.cell[21], w.cell[3], w.cell[12]);
    CHECK(w.logits[0 * 8 + 2] == 10.0f && w.logits[0 * 8 + 0] == 0.0f && w.logits[2 * 8 + 4] == 2.5f, "one-hot logits");
    CHECK(dvren_blocks_argmax(&w, 0) == 3 && dvren_blocks_argmax(&w, 2) == 5, "argmax");
    CHECK(dvren_blocks_argmax(&w, 1) == 2, "ties go to the lowest id: %u", dvren_blocks_argmax(&w, 1));
    CHECK(dvren_blocks_argmax(&w, 3) == 0, "argmax past the end is 0");

    /* placing on a block replaces its logits, keeps its index */
    l[7] = 6.0f;
    CHECK(dvren_blocks_place(&w, 3, 0, 0, l) == 0, "%s", w.error);
    CHECK(w.block_count == 3 && dvren_blocks_at(&w, 3, 0, 0) == 1 && dvren_blocks_argmax(&w, 1) == 8, "replace");
    memset(l, 0, sizeof l);
    CHECK(dvren_blocks_place(&w, 2, 2, 0, l) == 0 && dvren_blocks_argmax(&w, 3) == 1, "all-equal logits: id 1");

    /* logits read from the world's own rows, while placing grows the arrays (64 rows first) */
    {
        static const int32_t big[3] = {8, 8, 8};
        dvren_blocks_world g;
        uint32_t i;
        CHECK(dvren_blocks_init(&g, big, NULL, 0) == 0, "%s", g.error);
        CHECK(dvren_blocks_place_material(&g, 0, 0, 0, 4, 9.0f) == 0, "%s", g.error);
        for (i = 1; i < 200; ++i)
            CHECK(dvren_blocks_place(&g, (int32_t)(i % 8), (int32_t)(i / 8 % 8), (int32_t)(i / 64), g.logits + (size_t)(i - 1) * 8) == 0, "%s",
                  g.error);
        CHECK(g.block_count == 200 && g.block_cap >= 200 && dvren_blocks_argmax(&g, 199) == 4 && g.logits[199 * 8 + 3] == 9.0f,
              "copied rows");
        dvren_blocks_free(&g);
    }

    /* removing A (k = 0): the last block D = (2, 2, 0) takes index 0 */
    CHECK(dvren_blocks_remove(&w, 1, 2, 1) == 0, "%s", w.error);
    CHECK(w.block_count == 3, "count %u", w.block_count);
    CHECK(dvren_blocks_at(&w, 1, 2, 1) == -1 && w.cell[21] == 0, "A gone");
    CHECK(dvren_blocks_at(&w, 2, 2, 0) == 0 && w.pos[0] == 2 && w.pos[1] == 2 && w.pos[2] == 0, "D moved to index 0");
    CHECK(w.logits[0] == 0.0f && dvren_blocks_argmax(&w, 0) == 1, "D's logits moved with it");
    CHECK(dvren_blocks_at(&w, 3, 0, 0) == 1 && dvren_blocks_at(&w, 0, 0, 1) == 2, "B, C unchanged");
    /* removing the last block moves nothing */
    CHECK(dvren_blocks_remove(&w, 0, 0, 1) == 0 && w.block_count == 2 && dvren_blocks_at(&w, 3, 0, 0) == 1, "remove last");

    /* errors leave the world unchanged */
    CHECK(dvren_blocks_remove(&w, 1, 1, 1) == -1 && names(w.error, "dvren_blocks_remove", "position", "air"), "%s", w.error);
    CHECK(dvren_blocks_remove(&w, 4, 0, 0) == -1 && names(w.error, "dvren_blocks_remove", "position", "outside"), "%s", w.error);
    CHECK(dvren_blocks_place(&w, -1, 0, 0, l) == -1 && names(w.error, "dvren_blocks_place", "position", "outside"), "%s", w.error);
    CHECK(dvren_blocks_place(&w, 0, 0, 2, l) == -1, "z = 2 is outside");
    CHECK(dvren_blocks_place_material(&w, 0, 0, 0, 0, 1.0f) == -1 && names(w.error, "dvren_blocks_place_material", "material", "1..8"),
          "%s", w.error);
    CHECK(dvren_blocks_place_material(&w, 0, 0, 0, 9, 1.0f) == -1, "id 9");
    CHECK(dvren_blocks_place_material(&w, 0, 0, 0, 1, INFINITY) == -1 && names(w.error, "dvren_blocks_place_material", "logit", "finite"),
          "%s", w.error);
    CHECK(dvren_blocks_place_material(&w, 9, 0, 0, 1, 1.0f) == -1 && names(w.error, "dvren_blocks_place_material", "position", "outside"),
          "%s", w.error);
    nan8[3] = NAN;
    CHECK(dvren_blocks_place(&w, 3, 0, 0, nan8) == -1 && names(w.error, "dvren_blocks_place", "logits", "logit 3 is not finite"), "%s",
          w.error);
    CHECK(w.block_count == 2 && dvren_blocks_argmax(&w, 1) == 8 && w.logits[8 + 3] == 0.0f, "unchanged after the errors");
    dvren_blocks_free(&w);
    CHECK(w.cell == NULL && w.block_count == 0, "free zeroes");
    dvren_blocks_free(NULL);
}

TEST(init_errors)
{
    dvren_blocks_world w;
    int32_t s0[3] = {0, 1, 1}, s1[3] = {1, 1, 1}, sbig[3] = {4096, 4096, 4096}, sedge[3] = {4097, 1, 1};
    dvren_blocks_material m[1];
    memset(m, 0, sizeof m);
    strcpy(m[0].name, "bad name");
    CHECK(dvren_blocks_init(&w, s0, NULL, 0) == -1 && names(w.error, "dvren_blocks_init", "size", "X = 0"), "%s", w.error);
    CHECK(dvren_blocks_init(&w, sbig, NULL, 0) == -1 && names(w.error, "dvren_blocks_init", "size", "over the limit"), "%s", w.error);
    CHECK(dvren_blocks_init(&w, sedge, NULL, 0) == -1 && names(w.error, "dvren_blocks_init", "size", "X = 4097"), "%s", w.error);
    CHECK(dvren_blocks_init(&w, s1, m, 1) == -1 && names(w.error, "dvren_blocks_init", "materials[0].name", "blank"), "%s", w.error);
    strcpy(m[0].name, "ok");
    m[0].side[1] = 1.5f;
    CHECK(dvren_blocks_init(&w, s1, m, 1) == -1 && names(w.error, "dvren_blocks_init", "materials[0].side", "outside [0, 1]"), "%s",
          w.error);
    m[0].side[1] = 1.0f;
    CHECK(dvren_blocks_init(&w, s1, m, 1) == 0 && w.material_count == 1, "%s", w.error);
    dvren_blocks_free(&w);
}

TEST(visible_faces)
{
    static const int32_t s5[3] = {5, 5, 5}, s3[3] = {3, 3, 3};
    dvren_blocks_world w;
    uint32_t ks[16];
    uint8_t fs[16];
    int32_t x, y, z;
    uint64_t n;
    int i;
    CHECK(dvren_blocks_init(&w, s5, NULL, 0) == 0, "%s", w.error);
    CHECK(dvren_blocks_visible_faces(&w, NULL, NULL, 0) == 0, "empty world");
    /* one block: 6 */
    CHECK(dvren_blocks_place_material(&w, 2, 2, 2, 1, 1.0f) == 0, "%s", w.error);
    CHECK((n = dvren_blocks_visible_faces(&w, NULL, NULL, 0)) == 6, "single block: %llu", (unsigned long long)n);
    /* two neighbours along x: 10; block 0 hides +x (f 0), block 1 hides -x (f 1) */
    CHECK(dvren_blocks_place_material(&w, 3, 2, 2, 1, 1.0f) == 0, "%s", w.error);
    n = dvren_blocks_visible_faces(&w, ks, fs, 16);
    CHECK(n == 10, "two blocks: %llu", (unsigned long long)n);
    {
        static const uint32_t wk[10] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
        static const uint8_t wf[10] = {1, 2, 3, 4, 5, 0, 2, 3, 4, 5};
        for (i = 0; i < 10; ++i) CHECK(ks[i] == wk[i] && fs[i] == wf[i], "face %d is (%u, %u), expected (%u, %u)", i, ks[i], fs[i], wk[i], wf[i]);
    }
    /* cap: only the first 3 written, the count is still 10 */
    memset(ks, 0xff, sizeof ks);
    CHECK(dvren_blocks_visible_faces(&w, ks, NULL, 3) == 10 && ks[2] == 0 && ks[3] == 0xffffffffu, "cap");
    /* neighbours along y and z hide -y/+y and -z/+z */
    CHECK(dvren_blocks_remove(&w, 3, 2, 2) == 0 && dvren_blocks_place_material(&w, 2, 3, 2, 1, 1.0f) == 0, "%s", w.error);
    n = dvren_blocks_visible_faces(&w, ks, fs, 16);
    CHECK(n == 10 && fs[2] == 3 && fs[7] == 2, "y neighbours: %llu, f %u %u", (unsigned long long)n, fs[2], fs[7]);
    dvren_blocks_free(&w);

    /* a 3 x 3 x 3 cube inside a 5^3 grid: 6 faces of 9 = 54; the same with the centre air: + 6 */
    CHECK(dvren_blocks_init(&w, s5, NULL, 0) == 0, "%s", w.error);
    for (z = 1; z < 4; ++z)
        for (y = 1; y < 4; ++y)
            for (x = 1; x < 4; ++x) CHECK(dvren_blocks_place_material(&w, x, y, z, 2, 1.0f) == 0, "%s", w.error);
    CHECK((n = dvren_blocks_visible_faces(&w, NULL, NULL, 0)) == 54, "cube: %llu", (unsigned long long)n);
    CHECK(dvren_blocks_remove(&w, 2, 2, 2) == 0, "%s", w.error);
    CHECK((n = dvren_blocks_visible_faces(&w, NULL, NULL, 0)) == 60, "hollow cube: %llu", (unsigned long long)n);
    dvren_blocks_free(&w);
    /* a cube that fills its grid: the faces on the grid's edge count */
    CHECK(dvren_blocks_init(&w, s3, NULL, 0) == 0, "%s", w.error);
    for (z = 0; z < 3; ++z)
        for (y = 0; y < 3; ++y)
            for (x = 0; x < 3; ++x) CHECK(dvren_blocks_place_material(&w, x, y, z, 2, 1.0f) == 0, "%s", w.error);
    CHECK((n = dvren_blocks_visible_faces(&w, NULL, NULL, 0)) == 54, "full grid: %llu", (unsigned long long)n);
    dvren_blocks_free(&w);

    /* a pseudo-random world: against the pair count */
    {
        static const int32_t s[3] = {9, 7, 8};
        uint32_t r = 12345;
        int t;
        CHECK(dvren_blocks_init(&w, s, NULL, 0) == 0, "%s", w.error);
        for (t = 0; t < 400; ++t) {
            r = r * 1664525u + 1013904223u;
            x = (int32_t)((r >> 8) % 9);
            y = (int32_t)((r >> 16) % 7);
            z = (int32_t)((r >> 24) % 8);
            if (t % 5 == 4 && dvren_blocks_at(&w, x, y, z) >= 0) CHECK(dvren_blocks_remove(&w, x, y, z) == 0, "%s", w.error);
            else CHECK(dvren_blocks_place_material(&w, x, y, z, 1 + r % 8, 3.0f) == 0, "%s", w.error);
        }
        n = dvren_blocks_visible_faces(&w, NULL, NULL, 0);
        CHECK(w.block_count > 100 && n == faces_by_pairs(&w), "%llu faces, pairs say %llu (%u blocks)", (unsigned long long)n,
              (unsigned long long)faces_by_pairs(&w), w.block_count);
        dvren_blocks_free(&w);
    }
}

TEST(json_load)
{
    dvren_blocks_world w;
    dvren_blocks_load_options o;
    const char* p = write_text("blocks_a.json",
                               "{\"format\": \"dvren.blocks/1\", \"size\": [4, 3, 2], \"scale\": 0.5, \"origin\": [1, -2, 3.25],\n"
                               " \"materials\": [{\"name\": \"red\", \"top\": [1, 0, 0], \"side\": [0.5, 0, 0], \"bottom\": [0.25, 0, 0]},\n"
                               "               {\"name\": \"blue\", \"top\": [0, 0, 1], \"side\": [0, 0, 0.5], \"bottom\": [0, 0, 0.125]}],\n"
                               " \"blocks\": [[0, 0, 0, 1.5, -2], [3, 2, 1, 2], [1, 0, 1, 1]]}\n");
    CHECK(p, "cannot write");
    CHECK(dvren_blocks_load(&w, p, NULL) == 0, "%s", w.error);
    CHECK(w.size[0] == 4 && w.size[1] == 3 && w.size[2] == 2, "size");
    CHECK(w.scale == 0.5f && w.origin[0] == 1.0f && w.origin[1] == -2.0f && w.origin[2] == 3.25f, "scale/origin");
    CHECK(w.material_count == 2 && !strcmp(w.materials[0].name, "red") && !strcmp(w.materials[1].name, "blue"), "materials");
    CHECK(w.materials[0].side[0] == 0.5f && w.materials[1].bottom[2] == 0.125f && w.materials[1].top[0] == 0.0f, "colours");
    CHECK(w.block_count == 3, "count %u", w.block_count);
    /* a row of 3 + M = 5 is logits; a row of 4 is an id with logits 10 / 0 */
    CHECK(w.logits[0] == 1.5f && w.logits[1] == -2.0f, "logit row");
    CHECK(w.pos[3] == 3 && w.pos[4] == 2 && w.pos[5] == 1 && w.logits[2] == 0.0f && w.logits[3] == 10.0f, "id row");
    CHECK(w.logits[4] == 10.0f && w.logits[5] == 0.0f && dvren_blocks_at(&w, 1, 0, 1) == 2, "id 1 row");
    CHECK(dvren_blocks_argmax(&w, 0) == 1 && dvren_blocks_argmax(&w, 1) == 2, "argmax");
    dvren_blocks_free(&w);

    memset(&o, 0, sizeof o);
    o.label_logit = 7.0f;
    CHECK(dvren_blocks_load(&w, p, &o) == 0 && w.logits[3] == 7.0f && w.logits[0] == 1.5f, "label_logit 7: %s", w.error);
    dvren_blocks_free(&w);

    /* defaults: no scale, origin, materials, blocks */
    p = write_text("blocks_b.JSON", "{\"size\": [2, 2, 2], \"format\": \"dvren.blocks/1\"}");
    CHECK(dvren_blocks_load(&w, p, NULL) == 0, "%s", w.error);
    CHECK(w.scale == 1.0f && w.origin[1] == 0.0f && w.material_count == 8 && w.block_count == 0 && !strcmp(w.materials[7].name, "snow"),
          "defaults");
    dvren_blocks_free(&w);

    /* materials_path replaces the default table */
    o.label_logit = 0.0f;
    o.materials_path = write_text("blocks_mat.json",
                                  "{\"materials\": [{\"name\": \"a\", \"top\": [0.1, 0.2, 0.3], \"side\": [0, 0, 0], \"bottom\": [1, 1, 1]},"
                                  " {\"name\": \"b\", \"top\": [0, 0, 0], \"side\": [0, 0, 0], \"bottom\": [0, 0, 0]},"
                                  " {\"name\": \"c\", \"top\": [0, 0, 0], \"side\": [0, 0, 0], \"bottom\": [0, 0, 0]}]}");
    p = write_text("blocks_c.json", "{\"format\": \"dvren.blocks/1\", \"size\": [2, 1, 1], \"blocks\": [[1, 0, 0, 3], [0, 0, 0, 1, 2, 3]]}");
    CHECK(dvren_blocks_load(&w, p, &o) == 0, "%s", w.error);
    CHECK(w.material_count == 3 && w.materials[0].top[1] == 0.2f && w.logits[2] == 10.0f && w.logits[5] == 3.0f, "table from file");
    dvren_blocks_free(&w);
}

TEST(json_round_trip)
{
    static const int32_t size[3] = {6, 5, 4};
    static const float special[] = {0.1f, -0.0f, 1e-45f, 1.17549435e-38f, 3.40282347e+38f, -3.40282347e+38f, 16777217.0f, 0.3333333433f,
                                    -2.5e-7f, 123456.789f, 1.0f / 3.0f, 2.0f / 3.0f};
    dvren_blocks_material m[3];
    dvren_blocks_world w, r;
    uint32_t s = 99, k;
    int32_t x, y, z;
    char why[128];
    const char* p = th_tmp("blocks_rt.json");
    memset(m, 0, sizeof m);
    strcpy(m[0].name, "vox17");
    strcpy(m[1].name, "x-y_z.1");
    strcpy(m[2].name, "0123456789012345678901234567890");
    for (k = 0; k < 3; ++k) {
        m[k].top[0] = 0.1f * (float)k;
        m[k].side[1] = 1.0f / 3.0f;
        m[k].bottom[2] = 51.0f / 255.0f;
    }
    CHECK(dvren_blocks_init(&w, size, m, 3) == 0, "%s", w.error);
    w.scale = 0.1f;
    w.origin[0] = -3.3f;
    w.origin[1] = 1e-7f;
    w.origin[2] = 1234.5678f;
    for (z = 0; z < 4; ++z)
        for (y = 0; y < 5; ++y)
            for (x = 0; x < 6; ++x) {
                float l[3];
                s = s * 1103515245u + 12345u;
                if ((s >> 16) % 3 == 0) continue;
                for (k = 0; k < 3; ++k) {
                    uint32_t u;
                    s = s * 1103515245u + 12345u;
                    /* random bit patterns with the exponent kept finite, and the special values */
                    u = (s & 0x807fffffu) | ((((s >> 23) & 0xff) % 254u) << 23);
                    memcpy(&l[k], &u, 4);
                    if ((s >> 5) % 4 == 0) l[k] = special[(s >> 9) % (sizeof special / sizeof *special)];
                }
                CHECK(dvren_blocks_place(&w, x, y, z, l) == 0, "%s", w.error);
            }
    CHECK(dvren_blocks_remove(&w, w.pos[3], w.pos[4], w.pos[5]) == 0, "%s", w.error); /* block order not sorted */
    CHECK(w.block_count > 40, "only %u blocks", w.block_count);
    CHECK(dvren_blocks_save(&w, p) == 0, "%s", w.error);
    CHECK(dvren_blocks_load(&r, p, NULL) == 0, "%s", r.error);
    CHECK(same_world(&w, &r, why, sizeof why), "the reloaded world differs: %s", why);
    dvren_blocks_free(&r);
    /* saving over an existing file, an empty world */
    while (w.block_count) CHECK(dvren_blocks_remove(&w, w.pos[0], w.pos[1], w.pos[2]) == 0, "%s", w.error);
    CHECK(dvren_blocks_save(&w, p) == 0, "%s", w.error);
    CHECK(dvren_blocks_load(&r, p, NULL) == 0, "%s", r.error);
    CHECK(same_world(&w, &r, why, sizeof why), "the empty world differs: %s", why);
    dvren_blocks_free(&r);
    CHECK(no_temp_files("blocks_rt.json"), "a temporary file was left behind");

    /* save errors: a folder that does not exist, a non-finite logit written in place; nothing is written */
    CHECK(dvren_blocks_save(&w, th_tmp("no_such_folder/w.json")) == -1 && has(w.error, "no_such_folder/w.json: file: "), "%s", w.error);
    CHECK(dvren_blocks_place_material(&w, 1, 1, 1, 2, 1.0f) == 0, "%s", w.error);
    w.logits[1] = NAN;
    p = th_tmp("blocks_nan.json");
    CHECK(dvren_blocks_save(&w, p) == -1 && names(w.error, p, "blocks", "not finite"), "%s", w.error);
    CHECK(!th_exists(p) && no_temp_files("blocks_nan.json"), "a file was written");
    dvren_blocks_free(&w);
}

TEST(npy_label_volume)
{
    /* (X, Y, Z) = (3, 2, 4), element [x][y][z] at (x * 2 + y) * 4 + z */
    unsigned char v[24];
    dvren_blocks_world w, r;
    const char* p;
    long n = 0;
    unsigned char* back;
    char why[128];
    int major;
    memset(v, 0, sizeof v);
    v[(2 * 2 + 0) * 4 + 0] = 3; /* [2][0][0]: linear index 2 + 3 (0 + 2 * 0) = 2 */
    v[(0 * 2 + 1) * 4 + 0] = 1; /* [0][1][0]: 3 */
    v[(1 * 2 + 0) * 4 + 3] = 8; /* [1][0][3]: 1 + 3 (0 + 2 * 3) = 19 */
    v[(0 * 2 + 0) * 4 + 1] = 2; /* [0][0][1]: 0 + 3 (0 + 2 * 1) = 6 */
    for (major = 1; major <= 3; ++major) {
        p = write_npy_raw("blocks_lv.npy", major,
                          major == 2 ? "{'descr': '<u1', 'fortran_order': False, 'shape': (3, 2, 4), }"
                                     : "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2, 4), }",
                          v, sizeof v);
        CHECK(dvren_blocks_load(&w, p, NULL) == 0, "version %d: %s", major, w.error);
        CHECK(w.size[0] == 3 && w.size[1] == 2 && w.size[2] == 4 && w.material_count == 8 && w.block_count == 4, "world");
        /* blocks in increasing linear cell index: [2][0][0], [0][1][0], [0][0][1], [1][0][3] */
        CHECK(w.pos[0] == 2 && w.pos[1] == 0 && w.pos[2] == 0 && dvren_blocks_argmax(&w, 0) == 3, "block 0");
        CHECK(w.pos[3] == 0 && w.pos[4] == 1 && w.pos[5] == 0 && dvren_blocks_argmax(&w, 1) == 1, "block 1");
        CHECK(w.pos[6] == 0 && w.pos[7] == 0 && w.pos[8] == 1 && dvren_blocks_argmax(&w, 2) == 2, "block 2");
        CHECK(w.pos[9] == 1 && w.pos[10] == 0 && w.pos[11] == 3 && dvren_blocks_argmax(&w, 3) == 8, "block 3");
        CHECK(w.logits[2] == 10.0f && w.logits[0] == 0.0f && w.logits[3 * 8 + 7] == 10.0f, "label logits");
        if (major < 3) dvren_blocks_free(&w);
    }
    /* the label volume written back: the same 24 data bytes after a 1.0 header of 118 bytes (128 in all) */
    p = th_tmp("blocks_lv_out.npy");
    CHECK(dvren_blocks_save_labels(&w, p) == 0, "%s", w.error);
    back = th_read_file(p, &n);
    CHECK(back && n == 128 + 24, "%ld bytes", n);
    CHECK(!memcmp(back, "\x93NUMPY\x01\x00", 8) && back[8] + 256 * back[9] == 118 && back[127] == '\n', "header");
    CHECK(!memcmp(back + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2, 4), }", 62), "dict");
    CHECK(!memcmp(back + 128, v, 24), "data");
    free(back);
    CHECK(dvren_blocks_load(&r, p, NULL) == 0 && same_world(&w, &r, why, sizeof why), "reloaded: %s %s", r.error, why);
    dvren_blocks_free(&r);
    dvren_blocks_free(&w);
}

TEST(npy_block_list)
{
    /* rows (x, y, z, 8 logits); the grid is 0 .. max + 1: (3, 4, 2) */
    float f[2][11];
    double d[2][11];
    dvren_blocks_world w;
    const char* p;
    int i;
    for (i = 0; i < 11; ++i) {
        f[0][i] = d[0][i] = 0.0;
        f[1][i] = d[1][i] = 0.0;
    }
    f[0][0] = 2, f[0][1] = 0, f[0][2] = 1;
    f[1][0] = 0, f[1][1] = 3, f[1][2] = 0;
    f[0][3 + 4] = 0.1f;
    f[0][3 + 5] = -7.25f;
    f[1][3 + 0] = 1e-45f;
    for (i = 0; i < 11; ++i) {
        d[0][i] = f[0][i];
        d[1][i] = f[1][i];
    }
    d[0][3 + 4] = 0.1; /* float64 0.1 becomes float32 0.1f */
    p = write_npy_raw("blocks_bl.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 11), }", f, sizeof f);
    CHECK(dvren_blocks_load(&w, p, NULL) == 0, "%s", w.error);
    CHECK(w.size[0] == 3 && w.size[1] == 4 && w.size[2] == 2 && w.block_count == 2, "grid %d %d %d", w.size[0], w.size[1], w.size[2]);
    CHECK(dvren_blocks_at(&w, 2, 0, 1) == 0 && dvren_blocks_at(&w, 0, 3, 0) == 1, "positions");
    CHECK(!memcmp(w.logits, &f[0][3], 8 * sizeof(float)) && !memcmp(w.logits + 8, &f[1][3], 8 * sizeof(float)), "logits bit for bit");
    CHECK(dvren_blocks_argmax(&w, 0) == 5 && dvren_blocks_argmax(&w, 1) == 1, "argmax");
    dvren_blocks_free(&w);
    p = write_npy_raw("blocks_bl8.npy", 2, "{'shape': (2, 11), 'fortran_order': False, 'descr': '<f8'}", d, sizeof d);
    CHECK(dvren_blocks_load(&w, p, NULL) == 0, "%s", w.error);
    CHECK(w.size[0] == 3 && w.block_count == 2 && w.logits[4] == 0.1f && w.logits[5] == -7.25f && w.logits[8] == 1e-45f, "float64 list");
    dvren_blocks_free(&w);
}

TEST(vox_mapping)
{
    /* one 3 x 2 x 4 model (x, y, z; z up): voxels (0 0 0) colour 5, (2 1 3) colour 9, (1 0 2) colour 5,
     * (2 0 0) colour 7. Bounds x 0..3, y 0..2, z 0..4 -> grid (3, 4, 2); (x, y, z) -> (x, z, 1 - y). */
    static const unsigned char vx[4][4] = {{0, 0, 0, 5}, {2, 1, 3, 9}, {1, 0, 2, 5}, {2, 0, 0, 7}};
    static const unsigned char vy[2][4] = {{1, 2, 1, 1}, {3, 4, 2, 1}};
    vbuf kids = {{0}, 0}, c;
    dvren_blocks_world w;
    const char* p;
    vb_model(&kids, 3, 2, 4, vx, 4);
    vb_rgba(&c);
    c.b[4 * 4 + 0] = 255, c.b[4 * 4 + 1] = 0, c.b[4 * 4 + 2] = 51; /* colour 5 -> entry 4 */
    vb_chunk(&kids, "RGBA", &c);
    p = write_vox("blocks_a.vox", &kids);
    CHECK(dvren_blocks_load(&w, p, NULL) == 0, "%s", w.error);
    CHECK(w.size[0] == 3 && w.size[1] == 4 && w.size[2] == 2, "grid %d %d %d", w.size[0], w.size[1], w.size[2]);
    CHECK(w.block_count == 4 && w.material_count == 3, "%u blocks, %u materials", w.block_count, w.material_count);
    /* materials in the order of first use: colour 5, 9, 7 */
    CHECK(!strcmp(w.materials[0].name, "vox5") && !strcmp(w.materials[1].name, "vox9") && !strcmp(w.materials[2].name, "vox7"), "names");
    CHECK(w.materials[0].top[0] == 1.0f && w.materials[0].side[1] == 0.0f && w.materials[0].bottom[2] == 51.0f / 255.0f, "colour 5");
    /* colour 9 -> entry 8 = (8, 16, 24); colour 7 -> entry 6 = (6, 12, 18) */
    CHECK(w.materials[1].side[0] == 8.0f / 255.0f && w.materials[1].top[2] == 24.0f / 255.0f && w.materials[2].bottom[1] == 12.0f / 255.0f,
          "colours 9, 7");
    CHECK(dvren_blocks_at(&w, 0, 0, 1) == 0 && dvren_blocks_at(&w, 2, 3, 0) == 1 && dvren_blocks_at(&w, 1, 2, 1) == 2 &&
              dvren_blocks_at(&w, 2, 0, 1) == 3,
          "positions");
    CHECK(dvren_blocks_argmax(&w, 0) == 1 && dvren_blocks_argmax(&w, 1) == 2 && dvren_blocks_argmax(&w, 2) == 1 &&
              dvren_blocks_argmax(&w, 3) == 3,
          "materials of the blocks");
    CHECK(w.logits[0] == 10.0f && w.logits[1] == 0.0f && w.logits[3 + 1] == 10.0f, "label logits");
    dvren_blocks_free(&w);

    /* bounds that do not start at 0: voxels (1 2 1), (3 4 2) in a 5^3 model: x 1..4, y 2..5, z 1..3
     * -> grid (3, 2, 3); (x - 1, z - 1, 4 - y): (0, 0, 2) and (2, 1, 0); the default palette (no RGBA) */
    kids.n = 0;
    vb_model(&kids, 5, 5, 5, vy, 2);
    p = write_vox("blocks_b.vox", &kids);
    CHECK(dvren_blocks_load(&w, p, NULL) == 0, "%s", w.error);
    CHECK(w.size[0] == 3 && w.size[1] == 2 && w.size[2] == 3 && w.material_count == 1, "grid %d %d %d", w.size[0], w.size[1], w.size[2]);
    CHECK(dvren_blocks_at(&w, 0, 0, 2) == 0 && dvren_blocks_at(&w, 2, 1, 0) == 1, "positions");
    CHECK(w.materials[0].top[0] == 1.0f && w.materials[0].bottom[2] == 1.0f && !strcmp(w.materials[0].name, "vox1"), "default white");
    dvren_blocks_free(&w);

    /* two models placed on the same cell (no scene graph: each at its own coordinates) */
    kids.n = 0;
    vb_model(&kids, 5, 5, 5, vy, 2);
    vb_model(&kids, 4, 4, 4, vy, 1);
    p = write_vox("blocks_c.vox", &kids);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "voxel 2", "twice"), "%s", w.error);
    /* no voxels */
    kids.n = 0;
    vb_model(&kids, 5, 5, 5, vy, 0);
    p = write_vox("blocks_d.vox", &kids);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "voxels", "no voxels"), "%s", w.error);
    /* a broken file: dvren_vox's message, which names the file and the chunk */
    kids.n = 0;
    vb_model(&kids, 2, 2, 2, vy, 1);
    p = write_vox("blocks_e.vox", &kids);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "chunk 'XYZI'", "outside"), "%s", w.error);
    CHECK(w.cell == NULL && w.block_count == 0 && w.materials == NULL, "a failed load leaves an empty world");
    dvren_blocks_free(&w);
}

/* One bad JSON file: loading fails with an error naming the file and the field. */
static int bad_json(const char* name, const char* text, const char* field, const char* what, char* err, size_t cap)
{
    dvren_blocks_world w;
    const char* p = write_text(name, text);
    int ok;
    memset(&w, 0x5a, sizeof w);
    ok = p && dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, field, what) && w.cell == NULL && w.block_count == 0;
    snprintf(err, cap, "%s: got \"%s\"", name, w.error);
    dvren_blocks_free(&w);
    return ok;
}

TEST(bad_json)
{
    static const struct {
        const char *text, *field, *what;
    } cases[] = {
        {"{\"format\": \"dvren.blocks/2\", \"size\": [2, 2, 2]}", "format", "is not \"dvren.blocks/1\""},
        {"{\"size\": [2, 2, 2]}", "format", "missing"},
        {"{\"format\": \"dvren.blocks/1\"}", "size", "missing"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2]}", "size", "array of 3"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 0, 2]}", "size", "Y = 0"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2.5, 2, 2]}", "size", "not an integer"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [4096, 4096, 4096]}", "size", "over the limit"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [5000, 1, 1]}", "size", "1..4096"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [1e300, 1, 1]}", "size", "1..4096"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, 1], [2, 0, 0, 1]]}", "blocks[1]",
         "position (2, 0, 0) is outside the 2 x 2 x 2 grid"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, -1, 0, 1]]}", "blocks[0]", "outside"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0.5, 0, 1]]}", "blocks[0]", "not an integer"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[1, 1, 1, 1], [0, 0, 0, 2], [1, 1, 1, 3]]}", "blocks[2]",
         "given twice (first by block 0)"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, 9]]}", "blocks[0]", "material id 9"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, 0]]}", "blocks[0]", "material id 0"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, 1, 2, 3]]}", "blocks[0]", "a row of 6 numbers"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, 1, 2, 3, 4, 5, 6, 1e39, 8]]}", "blocks[0]",
         "logit 6 = 1e+39 is not finite"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, \"1\"]]}", "blocks[0][3]", "expected a number"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": {}}", "blocks", "expected an array"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"blocks\": [[0, 0, 0, NaN]]}", "json", "syntax error at line 1"},
        {"{\"format\": \"dvren.blocks/1\",\n \"size\": [2, 2, 2],,}", "json", "syntax error at line 2"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2]} {}", "json", "text after"},
        {"[1, 2]", "json", "expected an object"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"sise\": 1}", "sise", "unknown key"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"size\": [3, 3, 3]}", "size", "given twice"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"scale\": 0}", "scale", "> 0"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"scale\": 1e-60}", "scale", "> 0"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"origin\": [0, 1e40, 0]}", "origin", "not finite"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"materials\": []}", "materials", "0 materials"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"materials\": [{\"name\": \"a b\", \"top\": [0, 0, 0], \"side\": [0, 0, 0], "
         "\"bottom\": [0, 0, 0]}]}",
         "materials[0].name", "blank"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"materials\": [{\"name\": \"a\", \"top\": [0, 0, 0], \"side\": [0, 1.5, 0], "
         "\"bottom\": [0, 0, 0]}]}",
         "materials[0].side", "component 1 is 1.5"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"materials\": [{\"name\": \"a\", \"top\": [0, 0, 0], \"side\": [0, 0, 0]}]}",
         "materials[0].bottom", "expected an array of 3"},
        {"{\"format\": \"dvren.blocks/1\", \"size\": [2, 2, 2], \"materials\": [{\"name\": \"a\", \"colour\": 1}]}", "materials[0].colour",
         "unknown key"},
        {"", "json", "syntax error"},
    };
    char err[800];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof *cases; ++i) {
        char name[64];
        snprintf(name, sizeof name, "blocks_bad%lu.json", (unsigned long)i);
        CHECK(bad_json(name, cases[i].text, cases[i].field, cases[i].what, err, sizeof err), "case %lu (%s: %s): %s", (unsigned long)i,
              cases[i].field, cases[i].what, err);
    }
}

TEST(bad_npy_and_files)
{
    dvren_blocks_world w;
    dvren_blocks_load_options o;
    unsigned char v[8] = {0, 1, 2, 3, 4, 5, 6, 9};
    float f[2][11];
    const char* p;
    memset(f, 0, sizeof f);
    /* truncated data, extra data */
    p = write_npy_raw("blocks_t.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), }", v, 7);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "data", "truncated"), "%s", w.error);
    p = write_npy_raw("blocks_t2.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 1), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "data", "4 bytes after"), "%s", w.error);
    /* a file cut inside its header */
    {
        unsigned char hdr[40];
        memcpy(hdr, "\x93NUMPY\x01\x00\x76\x00{'descr': '|u1', 'fortran", 36);
        p = th_tmp("blocks_t3.npy");
        th_write_file(p, hdr, 36);
        CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "header", "truncated"), "%s", w.error);
    }
    /* a label over M (the default table: 8) */
    p = write_npy_raw("blocks_l9.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "data", "label 9 at [1][1][1]"), "%s", w.error);
    /* wrong dtypes, shapes, orders */
    p = write_npy_raw("blocks_i4.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "descr", "'<i4'"), "%s", w.error);
    p = write_npy_raw("blocks_be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "descr", "'>f4'"), "%s", w.error);
    p = write_npy_raw("blocks_2d.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "3 dimensions"), "%s", w.error);
    p = write_npy_raw("blocks_fo.npy", 1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2, 2), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "fortran_order", "Fortran"), "%s", w.error);
    p = write_npy_raw("blocks_rl.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }", f, 32);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "rows of 2 numbers; expected 3 + 8"), "%s", w.error);
    p = write_npy_raw("blocks_n0.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 11), }", f, 0);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "no rows"), "%s", w.error);
    /* strict header: an unknown key, a missing key, text after the dict, a tuple without its comma */
    p = write_npy_raw("blocks_h1.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), 'x': 1}", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "header", "unknown key 'x'"), "%s", w.error);
    p = write_npy_raw("blocks_h2.npy", 1, "{'descr': '|u1', 'shape': (2, 2, 2)}", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "fortran_order", "missing"), "%s", w.error);
    p = write_npy_raw("blocks_h3.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2)} x", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "header", "after the dict"), "%s", w.error);
    p = write_npy_raw("blocks_h4.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "comma"), "%s", w.error);
    p = write_npy_raw("blocks_h5.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, -2, 2)}", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "negative"), "%s", w.error);
    p = write_npy_raw("blocks_h6.npy", 4, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2)}", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "version", "4.0"), "%s", w.error);
    p = write_text("blocks_h7.npy", "PK\x03\x04 not an npy");
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "magic", "not a .npy"), "%s", w.error);
    /* a huge declared size, refused before the data are looked at or anything allocated */
    p = write_npy_raw("blocks_huge.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2048, 2048, 2048), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "over the limit"), "%s", w.error);
    p = write_npy_raw("blocks_huge2.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999, 1, 1), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "1..4096"), "%s", w.error);
    p = write_npy_raw("blocks_huge3.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999, 11), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "more than"), "%s", w.error);
    p = write_npy_raw("blocks_huge4.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (9999999999999999999, 11), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "shape", "overflows"), "%s", w.error);
    /* block lists: a NaN logit, a position that is not a whole number, negative, twice */
    f[0][0] = 1, f[1][1] = 1;
    f[1][3 + 2] = NAN;
    p = write_npy_raw("blocks_nan.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 11), }", f, sizeof f);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "row 1", "is not finite") && has(w.error, "logit 2 = "), "%s", w.error);
    f[1][3 + 2] = 0;
    f[1][2] = 0.5f;
    p = write_npy_raw("blocks_half.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 11), }", f, sizeof f);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "row 1", "z = 0.5 is not an integer"), "%s", w.error);
    f[1][2] = -1;
    p = write_npy_raw("blocks_neg.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 11), }", f, sizeof f);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "row 1", "z = -1"), "%s", w.error);
    f[1][2] = 0, f[1][0] = 1, f[1][1] = 0;
    p = write_npy_raw("blocks_dup.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 11), }", f, sizeof f);
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "row 1", "given twice"), "%s", w.error);
    /* files: missing, unknown extension, a bad materials file, a bad label_logit */
    p = th_tmp("blocks_nothere.json");
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "file", "cannot open"), "%s", w.error);
    p = write_text("blocks_w.txt", "{}");
    CHECK(dvren_blocks_load(&w, p, NULL) == -1 && names(w.error, p, "file", "unknown extension"), "%s", w.error);
    memset(&o, 0, sizeof o);
    o.materials_path = write_text("blocks_badmat.json", "{\"materials\": [{\"name\": \"a\"}]}");
    p = write_npy_raw("blocks_ok.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), }", v, 8);
    CHECK(dvren_blocks_load(&w, p, &o) == -1 && names(w.error, o.materials_path, "materials[0].top", "expected an array"), "%s", w.error);
    o.materials_path = NULL;
    o.label_logit = -1.0f;
    CHECK(dvren_blocks_load(&w, p, &o) == -1 && names(w.error, p, "label_logit", "> 0"), "%s", w.error);
    CHECK(dvren_blocks_load(&w, NULL, NULL) == -1 && names(w.error, "dvren_blocks_load", "path", "NULL"), "%s", w.error);
    dvren_blocks_free(&w);
}

/* ---- the real files: ../shared/data/README.md ("Voxel art") */
TEST(real_vox_files)
{
    static const struct {
        const char* rel;
        uint32_t blocks, materials;
        int32_t size[3]; /* 0: not known here */
    } F[] = {
        {"voxels/chr_cop1.vox", 267, 10, {8, 11, 6}},
        {"voxels/obj_house3.vox", 119892, 9, {0, 0, 0}},
        {"voxels/scene_theater.vox", 128329, 30, {0, 0, 0}},
    };
    size_t i;
    int found = 0;
    for (i = 0; i < sizeof F / sizeof *F; ++i) {
        const char* path = th_data(F[i].rel);
        dvren_blocks_world w, r;
        dvren_vox_scene vs;
        size_t j;
        char why[128];
        uint64_t faces;
        const char* out = th_tmp("blocks_real.json");
        if (!path) continue;
        found++;
        CHECK(dvren_blocks_load(&w, path, NULL) == 0, "%s", w.error);
        CHECK(w.block_count == F[i].blocks && w.material_count == F[i].materials, "%s: %u blocks, %u materials", F[i].rel, w.block_count,
              w.material_count);
        if (F[i].size[0])
            CHECK(w.size[0] == F[i].size[0] && w.size[1] == F[i].size[1] && w.size[2] == F[i].size[2], "%s: grid %d %d %d", F[i].rel,
                  w.size[0], w.size[1], w.size[2]);
        /* every voxel where docs/blocks.md puts it, with its colour's material */
        CHECK(dvren_vox_load(&vs, path) == DVREN_VOX_OK, "%s", vs.error);
        CHECK(w.size[0] == vs.voxel_max[0] - vs.voxel_min[0] && w.size[1] == vs.voxel_max[2] - vs.voxel_min[2] &&
                  w.size[2] == vs.voxel_max[1] - vs.voxel_min[1],
              "%s: grid from the bounds", F[i].rel);
        for (j = 0; j < vs.voxel_count; ++j) {
            const dvren_vox_voxel* v = &vs.voxels[j];
            int64_t k = dvren_blocks_at(&w, v->x - vs.voxel_min[0], v->z - vs.voxel_min[2], vs.voxel_max[1] - 1 - v->y);
            char want[16];
            snprintf(want, sizeof want, "vox%u", v->color);
            if (k != (int64_t)j || strcmp(w.materials[dvren_blocks_argmax(&w, (uint32_t)k) - 1].name, want) ||
                w.materials[dvren_blocks_argmax(&w, (uint32_t)k) - 1].top[0] != (float)vs.palette[v->color - 1][0] / 255.0f) {
                dvren_vox_free(&vs);
                dvren_blocks_free(&w);
                CHECK(0, "%s: voxel %lu is block %lld", F[i].rel, (unsigned long)j, (long long)k);
            }
        }
        dvren_vox_free(&vs);
        faces = dvren_blocks_visible_faces(&w, NULL, NULL, 0);
        CHECK(faces == faces_by_pairs(&w) && faces > 0, "%s: %llu visible faces, pairs say %llu", F[i].rel, (unsigned long long)faces,
              (unsigned long long)faces_by_pairs(&w));
        CHECK(dvren_blocks_save(&w, out) == 0, "%s", w.error);
        CHECK(dvren_blocks_load(&r, out, NULL) == 0, "%s", r.error);
        CHECK(same_world(&w, &r, why, sizeof why), "%s: the JSON round trip differs: %s", F[i].rel, why);
        dvren_blocks_free(&r);
        dvren_blocks_free(&w);
    }
    if (!found) SKIP("no voxels/*.vox in $DVREN_DATA (%s)", getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "unset");
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(default_materials);
    RUN(edit_semantics);
    RUN(init_errors);
    RUN(visible_faces);
    RUN(json_load);
    RUN(json_round_trip);
    RUN(npy_label_volume);
    RUN(npy_block_list);
    RUN(vox_mapping);
    RUN(bad_json);
    RUN(bad_npy_and_files);
    RUN(real_vox_files);
    return th_done();
}
