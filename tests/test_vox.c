/* tests/test_vox.c - tools/dvren_vox.h, the MagicaVoxel .vox reader.
 *
 * Synthetic files are written byte by byte here from the format's text
 * (ephtracy/voxel-model "MagicaVoxel-file-format-vox.txt" and
 * "-extension.txt"), with exact expectations: a 2 x 2 x 2 model with its
 * own palette, the default palette, a scene graph with a translation chain
 * and a 90-degree rotation (world cells worked out by hand below), unknown
 * chunks, and the errors (bad magic, every truncation, a voxel outside
 * SIZE, an oversized count, sizes that do not add up, bytes after MAIN,
 * graph cycles and missing nodes), plus every single-byte corruption of a
 * scene-graph file (no crash; run under ASan/UBSan by tests/run.sh).
 * The five real files of ../shared/data/voxels are checked against the
 * facts of ../shared/data/README.md ("Voxel art"); skipped when absent. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#define DVREN_VOX_IMPLEMENTATION
#include "dvren_vox.h"

#include "vox_writer.h" /* the tests' small .vox writer */

/* The 2 x 2 x 2 model: 5 voxels, colours 1, 2, 3, 200, 255, and an RGBA
 * chunk whose entry k is (k, 255 - k, 2k mod 256, 255). */
static const unsigned char cube_vox[5][4] = {{0, 0, 0, 1}, {1, 0, 0, 2}, {0, 1, 1, 3}, {1, 1, 1, 200}, {1, 0, 1, 255}};
static void make_cube(vbuf* f, int with_rgba)
{
    vbuf kids = {{0}, 0};
    vb_size(&kids, 2, 2, 2);
    vb_xyzi(&kids, &cube_vox[0][0], 5);
    if (with_rgba) {
        vbuf c = {{0}, 0};
        int k;
        for (k = 0; k < 256; ++k) {
            unsigned char q[4] = {(unsigned char)k, (unsigned char)(255 - k), (unsigned char)(2 * k), 255};
            vb_bytes(&c, q, 4);
        }
        vb_chunk(&kids, "RGBA", &c);
    }
    vb_file(f, &kids);
}

TEST(cube_with_palette)
{
    vbuf f;
    dvren_vox_scene vs;
    int i;
    make_cube(&f, 1);
    CHECK(f.n == 20 + 24 + 36 + 1036, "file of %lu bytes", (unsigned long)f.n);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "cube.vox") == DVREN_VOX_OK, "%s", vs.error);
    CHECK(vs.version == 150 && vs.model_count == 1 && vs.has_rgba == 1 && vs.has_scene_graph == 0, "header");
    CHECK(vs.models[0].size[0] == 2 && vs.models[0].size[1] == 2 && vs.models[0].size[2] == 2, "size");
    CHECK(vs.models[0].voxel_count == 5 && vs.model_voxels == 5 && vs.voxel_count == 5 && vs.instance_count == 1, "counts");
    for (i = 0; i < 5; ++i) {
        const dvren_vox_voxel* v = &vs.voxels[i];
        CHECK(v->x == cube_vox[i][0] && v->y == cube_vox[i][1] && v->z == cube_vox[i][2] && v->color == cube_vox[i][3] && v->model == 0,
              "voxel %d: (%d %d %d) %d", i, v->x, v->y, v->z, v->color);
        /* colour index c -> palette entry c - 1, which the RGBA chunk wrote as (c-1, 255-(c-1), 2(c-1)) */
        CHECK(vs.palette[v->color - 1][0] == (uint8_t)(v->color - 1) && vs.palette[v->color - 1][1] == (uint8_t)(255 - (v->color - 1)) &&
                  vs.palette[v->color - 1][2] == (uint8_t)(2 * (v->color - 1)) && vs.palette[v->color - 1][3] == 255,
              "palette of colour %d", v->color);
    }
    CHECK(vs.voxel_min[0] == 0 && vs.voxel_min[1] == 0 && vs.voxel_min[2] == 0, "voxel_min");
    CHECK(vs.voxel_max[0] == 2 && vs.voxel_max[1] == 2 && vs.voxel_max[2] == 2, "voxel_max");
    CHECK(vs.box_min[0] == 0 && vs.box_max[0] == 2 && vs.box_max[2] == 2, "box");
    CHECK(vs.error[0] == 0 && vs.status == DVREN_VOX_OK, "error \"%s\"", vs.error);
    dvren_vox_free(&vs);
    CHECK(vs.voxels == NULL && vs.voxel_count == 0, "free zeroes");
}

TEST(default_palette)
{
    vbuf f;
    dvren_vox_scene vs;
    make_cube(&f, 0);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "cube.vox") == DVREN_VOX_OK, "%s", vs.error);
    CHECK(vs.has_rgba == 0, "has_rgba");
    /* the spec's default_palette[i] (0xAABBGGRR) is colour index i: [1] = 0xffffffff,
     * [2] = 0xffccffff, [157] = 0xffff9933, [216] = 0xff0000ee, [255] = 0xff111111 */
    CHECK(!memcmp(vs.palette[0], "\xff\xff\xff\xff", 4), "index 1 white");
    CHECK(!memcmp(vs.palette[1], "\xff\xff\xcc\xff", 4), "index 2 = ffffcc");
    CHECK(!memcmp(vs.palette[156], "\x33\x99\xff\xff", 4), "index 157 = 3399ff");
    CHECK(!memcmp(vs.palette[215], "\xee\x00\x00\xff", 4), "index 216 = ee0000 (the red ramp)");
    CHECK(!memcmp(vs.palette[254], "\x11\x11\x11\xff", 4), "index 255 = 111111");
    CHECK(!memcmp(vs.palette[255], "\x00\x00\x00\x00", 4), "entry 255 unused: 0");
    dvren_vox_free(&vs);
}

static int has(const char* s, const char* sub) { return strstr(s, sub) != NULL; }

TEST(bad_magic_and_truncation)
{
    vbuf f;
    dvren_vox_scene vs;
    size_t n;
    make_cube(&f, 1);
    f.b[2] = 'Y';
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "m.vox") == DVREN_VOX_FORMAT, "bad magic accepted");
    CHECK(has(vs.error, "m.vox: header at offset 0: bad magic"), "message: %s", vs.error);
    CHECK(vs.voxels == NULL && vs.models == NULL, "nothing left allocated");
    f.b[2] = 'X';
    CHECK(dvren_vox_parse(&vs, NULL, 0, "empty.vox") == DVREN_VOX_FORMAT && has(vs.error, "bad magic"), "empty: %s", vs.error);
    /* every prefix is refused, never read past */
    for (n = 0; n < f.n; ++n) {
        unsigned char* copy = (unsigned char*)malloc(n ? n : 1);
        dvren_vox_status st;
        memcpy(copy, f.b, n);
        st = dvren_vox_parse(&vs, copy, n, "t.vox");
        free(copy);
        CHECK(st == DVREN_VOX_FORMAT, "prefix of %lu bytes: %s", (unsigned long)n, dvren_vox_status_string(st));
        CHECK(has(vs.error, "t.vox: "), "prefix %lu: %s", (unsigned long)n, vs.error);
    }
    /* MAIN's children size still says the whole file: the message names MAIN and the lengths */
    CHECK(dvren_vox_parse(&vs, f.b, 100, "t.vox") == DVREN_VOX_FORMAT, "cut");
    CHECK(has(vs.error, "t.vox: chunk 'MAIN' at offset 8: truncated"), "message: %s", vs.error);
    /* a file whose MAIN agrees with the cut, but whose RGBA is cut: names RGBA at offset 80 */
    {
        vbuf g = f;
        g.n = 100;
        g.b[16] = 80, g.b[17] = 0, g.b[18] = 0, g.b[19] = 0; /* MAIN children = 80 bytes */
        CHECK(dvren_vox_parse(&vs, g.b, g.n, "t.vox") == DVREN_VOX_FORMAT, "cut RGBA");
        CHECK(has(vs.error, "t.vox: chunk 'RGBA' at offset 80: truncated"), "message: %s", vs.error);
    }
    /* bytes after MAIN */
    {
        vbuf g = f;
        g.b[g.n++] = 0;
        CHECK(dvren_vox_parse(&vs, g.b, g.n, "t.vox") == DVREN_VOX_FORMAT && has(vs.error, "1 bytes follow the MAIN chunk"), "%s", vs.error);
    }
}

TEST(bad_voxels_and_sizes)
{
    vbuf kids = {{0}, 0}, f;
    dvren_vox_scene vs;
    unsigned char out[2][4] = {{0, 0, 0, 1}, {0, 2, 1, 9}};
    unsigned char zero[1][4] = {{1, 1, 1, 0}};
    unsigned char twice[2][4] = {{1, 0, 1, 4}, {1, 0, 1, 5}};
    /* a voxel outside SIZE: XYZI is the chunk at offset 20 + 24 = 44 */
    vb_size(&kids, 2, 2, 2);
    vb_xyzi(&kids, &out[0][0], 2);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT, "outside accepted");
    CHECK(has(vs.error, "o.vox: chunk 'XYZI' at offset 44: voxel 1 at (0, 2, 1) is outside the model's SIZE 2 x 2 x 2"), "%s", vs.error);
    /* colour index 0 */
    kids.n = 0;
    vb_size(&kids, 2, 2, 2);
    vb_xyzi(&kids, &zero[0][0], 1);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "colour index 0"), "%s", vs.error);
    /* a position twice */
    kids.n = 0;
    vb_size(&kids, 2, 2, 2);
    vb_xyzi(&kids, &twice[0][0], 2);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "voxel 1 repeats the position (1, 0, 1)"), "%s", vs.error);
    /* an oversized count: 2^31 - 1 voxels in 4 + 8 bytes; refused before any allocation */
    kids.n = 0;
    vb_size(&kids, 2, 2, 2);
    vb_xyzi(&kids, &out[0][0], 2);
    vb_file(&f, &kids);
    f.b[44 + 12] = 0xff, f.b[44 + 13] = 0xff, f.b[44 + 14] = 0xff, f.b[44 + 15] = 0x7f;
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT, "oversized count accepted");
    CHECK(has(vs.error, "chunk 'XYZI' at offset 44: voxel count 2147483647 does not match the content's 12 bytes"), "%s", vs.error);
    /* a negative count */
    f.b[44 + 15] = 0xff;
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "voxel count -1"), "%s", vs.error);
    /* SIZE of 13 bytes (sizes that do not add up), SIZE 0 and 257 */
    {
        vbuf c = {{0}, 0};
        kids.n = 0;
        vb_i32(&c, 2);
        vb_i32(&c, 2);
        vb_i32(&c, 2);
        vb_bytes(&c, "x", 1);
        vb_chunk(&kids, "SIZE", &c);
        vb_xyzi(&kids, &out[0][0], 1);
        vb_file(&f, &kids);
        CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "chunk 'SIZE' at offset 20: content is 13 bytes"),
              "%s", vs.error);
    }
    kids.n = 0;
    vb_size(&kids, 0, 2, 2);
    vb_xyzi(&kids, &out[0][0], 0);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "each axis must be 1..256"), "%s", vs.error);
    kids.n = 0;
    vb_size(&kids, 257, 2, 2);
    vb_xyzi(&kids, &out[0][0], 0);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_UNSUPPORTED, "%s", vs.error);
    /* SIZE without XYZI */
    kids.n = 0;
    vb_size(&kids, 2, 2, 2);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "SIZE without its XYZI"), "%s", vs.error);
    /* a chunk size that passes its parent's end */
    kids.n = 0;
    vb_size(&kids, 2, 2, 2);
    vb_xyzi(&kids, &out[0][0], 1);
    vb_file(&f, &kids);
    f.b[44 + 4] = 200;
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "o.vox") == DVREN_VOX_FORMAT && has(vs.error, "chunk 'XYZI' at offset 44: truncated"), "%s", vs.error);
}

TEST(unknown_chunks_skipped)
{
    vbuf kids = {{0}, 0}, f, c = {{0}, 0};
    dvren_vox_scene vs;
    unsigned char one[1][4] = {{0, 0, 0, 42}};
    vb_str(&c, "whatever is inside");
    vb_chunk(&kids, "MATL", &c);
    vb_size(&kids, 1, 1, 1);
    vb_xyzi(&kids, &one[0][0], 1);
    /* an unknown chunk with children of its own */
    vb_bytes(&kids, "rOBJ", 4);
    vb_i32(&kids, 3);
    vb_i32(&kids, 12);
    vb_bytes(&kids, "abc", 3);
    vb_bytes(&kids, "LAYR", 4);
    vb_i32(&kids, 0);
    vb_i32(&kids, 0);
    vb_file(&f, &kids);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "u.vox") == DVREN_VOX_OK, "%s", vs.error);
    CHECK(vs.voxel_count == 1 && vs.voxels[0].color == 42, "the voxel");
    dvren_vox_free(&vs);
}

/* The scene graph: T0 (_t 1 2 3) -> G1 -> { T2 (_r 17, _t 10 20 30) -> S3 (model 0),
 *                                           T4 (no frame attributes) -> S5 (model 1),
 *                                           T6 (_r 52, _t -5 0 0) -> S3 (model 0 again) }.
 * Model 0: SIZE 3 2 1, voxels (0,0,0) colour 1 and (2,1,0) colour 2; pivot floor(s/2) = (1,1,0).
 * Model 1: SIZE 1 1 1, voxel (0,0,0) colour 7; pivot (0,0,0).
 * _r 17 = 0b0010001: row 0 = (0,-1,0), row 1 = (1,0,0), row 2 = (0,0,1) (90 degrees about z).
 * _r 52 = 0b0110100: row 0 = (-1,0,0), row 1 = (0,-1,0), row 2 = (0,0,1) (180 degrees about z).
 * World cell = floor(R (v + 0.5 - pivot) + t), the voxel cube's centre rotated about the pivot:
 *   T2, (0,0,0): centre - pivot = (-0.5,-0.5,0.5) -> R: (0.5,-0.5,0.5) -> + (11,22,33) = (11.5,21.5,33.5) -> (11,21,33)
 *   T2, (2,1,0): (1.5,0.5,0.5) -> (-0.5,1.5,0.5) -> (10.5,23.5,33.5) -> (10,23,33)
 *   T4, model 1: (0.5,0.5,0.5) + (1,2,3) -> (1,2,3)
 *   T6, (0,0,0): (-0.5,-0.5,0.5) -> (0.5,0.5,0.5) -> + (-4,2,3) = (-3.5,2.5,3.5) -> (-4,2,3)
 *   T6, (2,1,0): (1.5,0.5,0.5) -> (-1.5,-0.5,0.5) -> (-5.5,1.5,3.5) -> (-6,1,3) */
static void make_scene(vbuf* f, int variant)
{
    vbuf kids = {{0}, 0};
    unsigned char m0[2][4] = {{0, 0, 0, 1}, {2, 1, 0, 2}};
    unsigned char m1[1][4] = {{0, 0, 0, 7}};
    int g[3] = {2, 4, 6};
    vb_size(&kids, 3, 2, 1);
    vb_xyzi(&kids, &m0[0][0], 2);
    vb_size(&kids, 1, 1, 1);
    vb_xyzi(&kids, &m1[0][0], 1);
    vb_trn(&kids, variant == 3 ? 9 : 0, 1, NULL, "1 2 3");
    vb_grp(&kids, 1, g, 3);
    vb_trn(&kids, 2, 3, "17", "10 20 30");
    vb_shp(&kids, 3, 0);
    vb_trn(&kids, 4, variant == 1 ? 1 : 5, NULL, NULL); /* variant 1: a cycle T4 -> G1 */
    vb_shp(&kids, 5, variant == 4 ? 2 : 1);              /* variant 4: no model 2 */
    vb_trn(&kids, 6, variant == 2 ? 77 : 3, variant == 5 ? "3" : "52", "-5 0 0"); /* 2: missing child; 5: a bad _r */
    vb_file(f, &kids);
}

TEST(scene_graph_placement)
{
    static const int want[5][5] = {{11, 21, 33, 1, 0}, {10, 23, 33, 2, 0}, {1, 2, 3, 7, 1}, {-4, 2, 3, 1, 0}, {-6, 1, 3, 2, 0}};
    vbuf f;
    dvren_vox_scene vs;
    int i;
    make_scene(&f, 0);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "s.vox") == DVREN_VOX_OK, "%s", vs.error);
    CHECK(vs.has_scene_graph == 1 && vs.model_count == 2 && vs.instance_count == 3 && vs.voxel_count == 5 && vs.model_voxels == 3,
          "counts: %u instances, %lu voxels", vs.instance_count, (unsigned long)vs.voxel_count);
    CHECK(vs.models[0].instances == 2 && vs.models[1].instances == 1, "instances per model");
    for (i = 0; i < 5; ++i) {
        const dvren_vox_voxel* v = &vs.voxels[i];
        CHECK(v->x == want[i][0] && v->y == want[i][1] && v->z == want[i][2] && v->color == want[i][3] && (int)v->model == want[i][4],
              "voxel %d: (%d %d %d) colour %d model %u, want (%d %d %d) %d", i, v->x, v->y, v->z, v->color, v->model, want[i][0], want[i][1],
              want[i][2], want[i][3]);
    }
    CHECK(vs.voxel_min[0] == -6 && vs.voxel_min[1] == 1 && vs.voxel_min[2] == 3, "voxel_min %d %d %d", vs.voxel_min[0], vs.voxel_min[1],
          vs.voxel_min[2]);
    CHECK(vs.voxel_max[0] == 12 && vs.voxel_max[1] == 24 && vs.voxel_max[2] == 34, "voxel_max %d %d %d", vs.voxel_max[0], vs.voxel_max[1],
          vs.voxel_max[2]);
    /* SIZE boxes: T2's 3 x 2 x 1 turned 90 degrees covers x 10..11, y 21..23; T6's covers x -6..-4, y 1..2 */
    CHECK(vs.box_min[0] == -6 && vs.box_min[1] == 1 && vs.box_max[0] == 12 && vs.box_max[1] == 24, "box %d %d .. %d %d", vs.box_min[0],
          vs.box_min[1], vs.box_max[0], vs.box_max[1]);
    dvren_vox_free(&vs);

    make_scene(&f, 1);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "s.vox") == DVREN_VOX_FORMAT && has(vs.error, "node 1 is its own ancestor"), "cycle: %s", vs.error);
    make_scene(&f, 2);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "s.vox") == DVREN_VOX_FORMAT && has(vs.error, "node 6: child node 77 does not exist"), "%s", vs.error);
    make_scene(&f, 3);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "s.vox") == DVREN_VOX_FORMAT && has(vs.error, "no root transform node 0"), "%s", vs.error);
    make_scene(&f, 4);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "s.vox") == DVREN_VOX_FORMAT && has(vs.error, "model id 2 is not below the model count 2"), "%s", vs.error);
    make_scene(&f, 5);
    CHECK(dvren_vox_parse(&vs, f.b, f.n, "s.vox") == DVREN_VOX_FORMAT && has(vs.error, "_r \"3\" is not a rotation byte"), "%s", vs.error);
    CHECK(vs.voxels == NULL && vs.models == NULL, "nothing kept after an error");
}

/* every byte of the scene file set to a few values: a status, never a crash */
TEST(corruptions_never_crash)
{
    static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, ' ', '-', '9'};
    vbuf f;
    size_t i, k, ok = 0;
    make_scene(&f, 0);
    for (i = 0; i < f.n; ++i)
        for (k = 0; k < sizeof vals; ++k) {
            unsigned char* copy = (unsigned char*)malloc(f.n);
            dvren_vox_scene vs;
            dvren_vox_status st;
            memcpy(copy, f.b, f.n);
            copy[i] = vals[k];
            st = dvren_vox_parse(&vs, copy, f.n, "c.vox");
            free(copy);
            CHECK(st == DVREN_VOX_OK || st == DVREN_VOX_FORMAT || st == DVREN_VOX_UNSUPPORTED || st == DVREN_VOX_TOO_LARGE,
                  "byte %lu = %d: status %d", (unsigned long)i, vals[k], (int)st);
            CHECK(st == DVREN_VOX_OK ? vs.error[0] == 0 : has(vs.error, "c.vox: "), "byte %lu: message %s", (unsigned long)i, vs.error);
            if (st == DVREN_VOX_OK) ok++;
            dvren_vox_free(&vs);
        }
    CHECK(ok > 0, "no corruption parsed at all");
}

TEST(load_errors_name_the_file)
{
    vbuf f;
    dvren_vox_scene vs;
    const char* path = th_tmp("vox_cube.vox");
    CHECK(dvren_vox_load(&vs, th_tmp("no_such.vox")) == DVREN_VOX_IO && has(vs.error, "no_such.vox: cannot open"), "%s", vs.error);
    make_cube(&f, 1);
    CHECK(th_write_file(path, f.b, f.n) == 0, "cannot write %s", path);
    CHECK(dvren_vox_load(&vs, path) == DVREN_VOX_OK && vs.voxel_count == 5, "%s", vs.error);
    dvren_vox_free(&vs);
    f.b[44 + 13] = 1; /* XYZI count 261 */
    CHECK(th_write_file(path, f.b, f.n) == 0, "cannot write %s", path);
    CHECK(dvren_vox_load(&vs, path) == DVREN_VOX_FORMAT && has(vs.error, path) && has(vs.error, "chunk 'XYZI' at offset 44"), "%s", vs.error);
    remove(path);
}

/* ---- the real files (../shared/data/README.md, "Voxel art") */
typedef struct real_fact {
    const char* rel;
    long bytes;
    uint32_t models;
    int sx, sy, sz; /* the first model's size */
    uint64_t voxels;
    int used, lo, hi; /* colour indices used, smallest, largest */
    int distinct;     /* distinct RGBA colours (0: not stated) */
    int rgba;
} real_fact;

static const real_fact facts[] = {
    {"voxels/chr_cop1.vox", 2164, 1, 8, 6, 11, 267, 10, 9, 255, 10, 1},
    {"voxels/obj_house7.vox", 64164, 1, 32, 32, 32, 16026, 9, 157, 252, 0, 0},
    {"voxels/obj_house3.vox", 480664, 1, 64, 64, 64, 119892, 9, 79, 254, 9, 1},
    {"voxels/scene_theater.vox", 514412, 1, 126, 126, 64, 128329, 30, 5, 255, 30, 1},
    {"voxels/test_multiple_model_scene.vox", 79160, 41, 8, 8, 8, 6053, 7, 17, 23, 7, 1},
};

TEST(real_files)
{
    size_t k;
    int found = 0;
    for (k = 0; k < sizeof facts / sizeof facts[0]; ++k) {
        const real_fact* F = &facts[k];
        const char* path = th_data(F->rel);
        dvren_vox_scene vs;
        uint64_t per_instance = 0;
        int used[256] = {0}, nused = 0, lo = 256, hi = 0, distinct = 0, i, j;
        size_t v;
        long bytes = 0;
        unsigned char* raw;
        if (!path) continue;
        found++;
        raw = th_read_file(path, &bytes);
        free(raw);
        CHECK(bytes == F->bytes, "%s: %ld bytes, README says %ld", F->rel, bytes, F->bytes);
        CHECK(dvren_vox_load(&vs, path) == DVREN_VOX_OK, "%s", vs.error);
        CHECK(vs.version == 150 && vs.model_count == F->models && vs.model_voxels == F->voxels && vs.has_rgba == F->rgba,
              "%s: version %d, %u models, %lu voxels, rgba %d", F->rel, vs.version, vs.model_count, (unsigned long)vs.model_voxels, vs.has_rgba);
        CHECK(vs.models[0].size[0] == F->sx && vs.models[0].size[1] == F->sy && vs.models[0].size[2] == F->sz, "%s: size %d %d %d", F->rel,
              vs.models[0].size[0], vs.models[0].size[1], vs.models[0].size[2]);
        for (i = 0; i < (int)vs.model_count; ++i) per_instance += (uint64_t)vs.models[i].voxel_count * vs.models[i].instances;
        CHECK(per_instance == vs.voxel_count, "%s: placed %lu voxels, instances say %lu", F->rel, (unsigned long)vs.voxel_count,
              (unsigned long)per_instance);
        for (v = 0; v < vs.voxel_count; ++v) used[vs.voxels[v].color] = 1;
        for (i = 1; i < 256; ++i)
            if (used[i]) {
                int seen = 0;
                nused++;
                if (i < lo) lo = i;
                if (i > hi) hi = i;
                for (j = 1; j < i; ++j)
                    if (used[j] && !memcmp(vs.palette[j - 1], vs.palette[i - 1], 4)) seen = 1;
                distinct += !seen;
            }
        CHECK(nused == F->used && lo == F->lo && hi == F->hi, "%s: %d indices used (%d-%d)", F->rel, nused, lo, hi);
        CHECK(!F->distinct || distinct == F->distinct, "%s: %d distinct colours", F->rel, distinct);
        if (F->models == 1) {
            /* one model, no scene graph: voxels at their model cells, the box is SIZE */
            CHECK(vs.has_scene_graph == 0 && vs.voxel_count == F->voxels && vs.box_min[0] == 0 && vs.box_max[0] == F->sx &&
                      vs.box_max[1] == F->sy && vs.box_max[2] == F->sz,
                  "%s: box", F->rel);
            CHECK(vs.voxel_min[0] >= 0 && vs.voxel_max[0] <= F->sx && vs.voxel_max[1] <= F->sy && vs.voxel_max[2] <= F->sz, "%s: voxel box", F->rel);
        } else {
            /* 41 models: 39 of 8 x 8 x 8, one 2 x 2 x 7, one 1 x 8 x 4; 43 shapes under 104 transforms with a _t */
            int n888 = 0, n227 = 0, n184 = 0;
            for (i = 0; i < (int)vs.model_count; ++i) {
                const int32_t* s = vs.models[i].size;
                n888 += s[0] == 8 && s[1] == 8 && s[2] == 8;
                n227 += s[0] == 2 && s[1] == 2 && s[2] == 7;
                n184 += s[0] == 1 && s[1] == 8 && s[2] == 4;
                CHECK(vs.models[i].instances >= 1, "%s: model %d never placed", F->rel, i);
            }
            CHECK(n888 == 39 && n227 == 1 && n184 == 1, "%s: model sizes %d %d %d", F->rel, n888, n227, n184);
            CHECK(vs.has_scene_graph == 1 && vs.instance_count == 104, "%s: %u instances", F->rel, vs.instance_count);
            /* _t: x 27..125, y -10..88, z 10..18 with models of at most 8 cells per axis
             * around their centre: the world box stays within 8 cells of that range */
            CHECK(vs.box_min[0] >= 27 - 8 && vs.box_max[0] <= 125 + 8 && vs.box_min[1] >= -10 - 8 && vs.box_max[1] <= 88 + 8 &&
                      vs.box_min[2] >= 10 - 8 && vs.box_max[2] <= 18 + 8,
                  "%s: box %d %d %d .. %d %d %d", F->rel, vs.box_min[0], vs.box_min[1], vs.box_min[2], vs.box_max[0], vs.box_max[1],
                  vs.box_max[2]);
            /* the modular pieces of an assembled scene do not overlap */
            {
                size_t a, b, dup = 0;
                for (a = 0; a < vs.voxel_count && dup == 0; ++a)
                    for (b = a + 1; b < vs.voxel_count; ++b)
                        if (vs.voxels[a].x == vs.voxels[b].x && vs.voxels[a].y == vs.voxels[b].y && vs.voxels[a].z == vs.voxels[b].z) {
                            dup++;
                            break;
                        }
                CHECK(dup == 0, "%s: two placed voxels share a cell", F->rel);
            }
        }
        /* The Metro Minis files' RGBA chunks hold MagicaVoxel's default palette
         * within 4 levels (a saved, slightly quantised copy), so the index
         * mapping (index i -> entry i - 1) and the default table agree */
        if (F->rgba && F->models == 1) {
            uint8_t def[256][4];
            dvren_vox_default_palette(def);
            for (i = 1; i < 256; ++i)
                if (used[i])
                    for (j = 0; j < 3; ++j)
                        CHECK(abs((int)vs.palette[i - 1][j] - (int)def[i - 1][j]) <= 4, "%s: colour %d channel %d: %d, default %d", F->rel, i, j,
                              vs.palette[i - 1][j], def[i - 1][j]);
        }
        dvren_vox_free(&vs);
    }
    if (!found) SKIP("no voxels/*.vox in $DVREN_DATA (%s)", getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "unset");
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(cube_with_palette);
    RUN(default_palette);
    RUN(bad_magic_and_truncation);
    RUN(bad_voxels_and_sizes);
    RUN(unknown_chunks_skipped);
    RUN(scene_graph_placement);
    RUN(corruptions_never_crash);
    RUN(load_errors_name_the_file);
    RUN(real_files);
    return th_done();
}
