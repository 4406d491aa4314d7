/* tests/test_blocks_mesa.c - the reference check of issue 12: dvren's image
 * of a block world (block_world field, dda sampler, terrain shader; CPU)
 * against Mesa's OpenGL rasterizing the same world (tests/mesa_ref.h) as a
 * mesh of its visible faces with a GLSL shader written from docs/blocks.md
 * (tests/blocks_mesh.h, which shares no code with the plugins).
 *
 * Four worlds, 512 x 512, one perspective camera given to both as the same
 * OpenGL view and projection matrices (dvren_camera_from_matrices), a 3/4
 * view from above that shows the top and two sides:
 *   terrain         a 64 x 48 x 64 height-field terrain made here (grass,
 *                   dirt, stone, sand, snow, water, trees of wood and
 *                   leaves), noisy logits, softmax at tau 0.7, default shading
 *   terrain_fog     the same blocks at origin (-16, -4, -16), scale 0.5,
 *                   gumbel mode (seed 12345, tau 0.7), fog and every shading
 *                   parameter off its default
 *   chr_cop1        $DVREN_DATA/voxels/chr_cop1.vox, hard mode
 *   obj_house3      $DVREN_DATA/voxels/obj_house3.vox, softmax at tau 3
 * The terrain worlds go to the plugin as dvren.blocks/1 JSON written by
 * dvren_blocks_save (an exact round trip), the .vox files as they are.
 *
 * Figures per world: the geometry match (pixels where dvren's alpha > 0.5
 * and Mesa's alpha > 0.5 agree), the PSNR of the colour over the pixels
 * both cover, the PSNR over all pixels (colour and alpha, the background
 * the same in both: dvren_compare's definition), the largest error. The
 * thresholds: geometry >= 0.999, both PSNRs >= 40 dB. Each pair of images is
 * written as float32 .npy (and 8-bit PNG for eyes) and build/dvren_compare
 * is run on the .npy pair with --min-geometry 0.999 --min-psnr 40: its exit
 * status must be 0 and its geometry_match and psnr must equal the figures
 * computed here. The images go to $DVREN_BLOCKS_MESA_OUT when set (kept),
 * else to the run's scratch folder.
 *
 * The residual is explained, not only bounded: every pixel where the images
 * differ (coverage, or an error over 1e-3) must lie within 0.03 px of an
 * edge, by an exact ray cast in double through every block's box (the rays
 * through the centre moved by 0.001 .. 0.03 px meet another face or block);
 * for the pixels where coverage differs the test also says which renderer
 * the exact cast agrees with. llvmpipe snaps vertices to 1/256 px, so these
 * are pixels whose centre lies within a few thousandths of a pixel of an
 * edge.
 *
 * The check can fail: controls that render Mesa wrongly on purpose (the
 * camera half a pixel off, the temperature 1 instead of 0.7, fog with
 * exp2 instead of exp) must fail the thresholds, here and in dvren_compare.
 *
 * SKIPs: every test when OSMesa is missing (MESA_REF_UNAVAILABLE); the
 * .vox worlds when the data folder is missing. DVREN_BLOCKS_MESA_WORLD=FILE
 * adds your own world (any format dvren_blocks_load reads), in hard mode
 * and in softmax at tau 1 (test user_world; it SKIPs when unset).
 *
 * tests/run.sh links the libraries named on the next line. */
/* TEST_LIBS: -lcjson -lstb */
#define _POSIX_C_SOURCE 200809L /* popen, pclose, mkdir */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"
#include "mesa_ref.c"

#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"
#include "dvren_image.h"

#define BLOCKS_MESH_IMPLEMENTATION
#include "blocks_mesh.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum { W = 512, H = 512 };

static const float g_background[3] = {0.55f, 0.7f, 0.9f};
static int g_gl = -1; /* 1: a GL 3.3 context works; 0: unavailable */
static char g_why[2048];

/* ---- camera: OpenGL matrices (column-major), built in double ------------ */

/* The camera of a world: looking at its box's centre from direction dir
 * (towards the eye), far enough that the box's bounding sphere fits a
 * 40 degree view. */
typedef struct view {
    double eye[3];
    double right[3], up[3], forward[3], tan_half_fov; /* the same camera in double, for the exact ray cast */
    float view[16], proj[16];
} view;

static void frame_world(const dvren_blocks_world* w, const double dir[3], double shift_px, view* v)
{
    static const double up[3] = {0, 1, 0};
    double c[3], r = 0, l = 0, dist, fov = 40.0 * 3.14159265358979323846 / 180.0, near_, far_;
    int i;
    for (i = 0; i < 3; ++i) {
        double e = (double)w->scale * w->size[i];
        c[i] = w->origin[i] + 0.5 * e;
        r += 0.25 * e * e;
        l += dir[i] * dir[i];
    }
    r = sqrt(r);
    l = sqrt(l);
    dist = 0.9 * r / sin(0.5 * fov); /* the corners of the box may leave the image */
    for (i = 0; i < 3; ++i) v->eye[i] = c[i] + dist * dir[i] / l;
    near_ = 0.5 * (dist - r);
    far_ = dist + 1.5 * r;
    mesa_ref_look_at(v->eye, c, up, v->view);
    /* shift_px: the image moved by that many pixels (the negative control's half-pixel error) */
    mesa_ref_perspective(fov, 1.0, near_, far_, 2.0 * shift_px / W, 2.0 * shift_px / H, v->proj);
    for (i = 0; i < 3; ++i) v->forward[i] = -dir[i] / l;
    v->right[0] = v->forward[1] * up[2] - v->forward[2] * up[1];
    v->right[1] = v->forward[2] * up[0] - v->forward[0] * up[2];
    v->right[2] = v->forward[0] * up[1] - v->forward[1] * up[0];
    l = sqrt(v->right[0] * v->right[0] + v->right[1] * v->right[1] + v->right[2] * v->right[2]);
    for (i = 0; i < 3; ++i) v->right[i] /= l;
    v->up[0] = v->right[1] * v->forward[2] - v->right[2] * v->forward[1];
    v->up[1] = v->right[2] * v->forward[0] - v->right[0] * v->forward[2];
    v->up[2] = v->right[0] * v->forward[1] - v->right[1] * v->forward[0];
    v->tan_half_fov = tan(0.5 * fov);
}

/* ---- the synthetic terrain ------------------------------------------------ */

static uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return h;
}
static double unit3(uint32_t a, uint32_t b, uint32_t c) { return (hash3(a, b, c) >> 8) / 16777216.0; }

/* Smooth value noise in [0, 1): hashed lattice values every `cell` cells,
 * bilinear with a smoothstep. */
static double value_noise(double x, double z, double cell, uint32_t salt)
{
    double fx = x / cell, fz = z / cell, tx, tz;
    int ix = (int)floor(fx), iz = (int)floor(fz);
    tx = fx - ix;
    tz = fz - iz;
    tx = tx * tx * (3 - 2 * tx);
    tz = tz * tz * (3 - 2 * tz);
    return (1 - tz) * ((1 - tx) * unit3((uint32_t)ix, (uint32_t)iz, salt) + tx * unit3((uint32_t)ix + 1, (uint32_t)iz, salt)) +
           tz * ((1 - tx) * unit3((uint32_t)ix, (uint32_t)iz + 1, salt) + tx * unit3((uint32_t)ix + 1, (uint32_t)iz + 1, salt));
}

enum { GRASS = 1, DIRT = 2, STONE = 3, SAND = 4, WOOD = 5, LEAVES = 6, WATER = 7, SNOW = 8 };
enum { TX = 64, TY = 48, TZ = 64, WATER_LEVEL = 12 };

/* Places a block of material id with noisy logits: 2.5 for the material,
 * plus uniform noise in [-1, 1) on every logit (so that mixing at tau 0.7
 * changes the colours visibly). Skips cells already taken. */
static int put(dvren_blocks_world* w, int x, int y, int z, int id)
{
    float l[8];
    int m;
    if (x < 0 || y < 0 || z < 0 || x >= TX || y >= TY || z >= TZ || dvren_blocks_at(w, x, y, z) >= 0) return 0;
    for (m = 0; m < 8; ++m) l[m] = (float)((m == id - 1 ? 2.5 : 0.0) + 2.0 * unit3((uint32_t)(x + 97 * y), (uint32_t)z, 1000u + (uint32_t)m) - 1.0);
    return dvren_blocks_place(w, x, y, z, l);
}

static int height_at(int x, int z)
{
    double h = 6.0 + 22.0 * value_noise(x, z, 16.0, 1u) + 6.0 * value_noise(x, z, 6.0, 2u) + 2.0 * sin(0.21 * x + 0.4) * cos(0.17 * z);
    int hi = (int)floor(h);
    return hi < 2 ? 2 : (hi > 34 ? 34 : hi);
}

/* The terrain of world (a): height h(x, z) of solid ground; the top block
 * sand at or just above the water, snow above 27, grass otherwise; three of
 * dirt below, stone under that; water up to WATER_LEVEL over lower ground;
 * trees (a wood trunk of 4 or 5, a leaf crown of 5 x 5 x 2 + 3 x 3 x 2) on
 * grass at hashed spots of a 10-cell lattice. Deterministic. */
static int make_terrain(dvren_blocks_world* w)
{
    static const int32_t size[3] = {TX, TY, TZ};
    int x, y, z, tx, tz;
    if (dvren_blocks_init(w, size, NULL, 0) != 0) return -1;
    for (z = 0; z < TZ; ++z)
        for (x = 0; x < TX; ++x) {
            int h = height_at(x, z);
            for (y = 0; y < h; ++y) {
                int id = y < h - 4 ? STONE : y < h - 1 ? DIRT : (h <= WATER_LEVEL + 1 ? SAND : (h > 27 ? SNOW : GRASS));
                if (put(w, x, y, z, id)) return -1;
            }
            for (y = h; y < WATER_LEVEL; ++y)
                if (put(w, x, y, z, WATER)) return -1;
        }
    for (tz = 0; tz < TZ / 10; ++tz)
        for (tx = 0; tx < TX / 10; ++tx) {
            int cx = 10 * tx + 2 + (int)(6 * unit3((uint32_t)tx, (uint32_t)tz, 7u));
            int cz = 10 * tz + 2 + (int)(6 * unit3((uint32_t)tx, (uint32_t)tz, 8u));
            int h = height_at(cx, cz), th = 4 + (int)(2 * unit3((uint32_t)tx, (uint32_t)tz, 9u)), dx, dz;
            if (unit3((uint32_t)tx, (uint32_t)tz, 10u) < 0.3 || h <= WATER_LEVEL + 1 || h > 27) continue;
            for (y = h; y < h + th; ++y)
                if (put(w, cx, y, cz, WOOD)) return -1;
            for (y = h + th - 2; y < h + th + 2; ++y)
                for (dz = -2; dz <= 2; ++dz)
                    for (dx = -2; dx <= 2; ++dx) {
                        int r = y < h + th ? 2 : 1;
                        if (abs(dx) > r || abs(dz) > r || (abs(dx) == 2 && abs(dz) == 2)) continue;
                        if (put(w, cx + dx, y, cz + dz, LEAVES)) return -1;
                    }
        }
    return 0;
}

/* ---- one comparison ------------------------------------------------------- */

typedef struct figures {
    double geometry;     /* fraction of pixels where both agree on coverage */
    double psnr_both;    /* colour over the pixels both cover, dB */
    double psnr_all;     /* colour + alpha over all pixels (dvren_compare's), dB */
    double max_err;      /* largest |a - b| over all pixels, colour and alpha */
    double max_err_both; /* largest colour |a - b| over the pixels both cover */
    int max_x, max_y;
    double covered;      /* fraction of pixels dvren covers */
    long both;
} figures;

static double psnr_of(double sse, double n) { return sse > 0 ? 10.0 * log10(n / sse) : INFINITY; }

static void compare(const float* a, const float* b, figures* f)
{
    double sse_both = 0, sse_all = 0;
    long agree = 0, cov = 0, i;
    int c;
    memset(f, 0, sizeof *f);
    f->max_err = -1;
    for (i = 0; i < (long)W * H; ++i) {
        const float* p = a + 4 * i;
        const float* q = b + 4 * i;
        int ca = p[3] > 0.5f, cb = q[3] > 0.5f;
        agree += ca == cb;
        cov += ca;
        for (c = 0; c < 4; ++c) {
            double e = (double)p[c] - (double)q[c];
            sse_all += e * e;
            if (fabs(e) > f->max_err) {
                f->max_err = fabs(e);
                f->max_x = (int)(i % W);
                f->max_y = (int)(i / W);
            }
            if (ca && cb && c < 3) {
                sse_both += e * e;
                if (fabs(e) > f->max_err_both) f->max_err_both = fabs(e);
            }
        }
        f->both += ca && cb;
    }
    f->geometry = (double)agree / ((double)W * H);
    f->covered = (double)cov / ((double)W * H);
    f->psnr_both = psnr_of(sse_both, 3.0 * (double)f->both);
    f->psnr_all = psnr_of(sse_all, 4.0 * W * H);
}

/* ---- the differing pixels, explained by an exact ray cast -------------------- */

/* The first block the ray o + t d (t > 0) meets, in double precision, every
 * candidate block's box tested (Kay and Kajiya's slabs): its index, and in
 * *face the face it enters (0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z); -1 when
 * the ray meets none. */
static int64_t cast_ray(const dvren_blocks_world* w, const uint32_t* cand, uint32_t n_cand, const double o[3],
                        const double d[3], int* face)
{
    double best = INFINITY;
    int64_t hit = -1;
    uint32_t i;
    for (i = 0; i < n_cand; ++i) {
        const int32_t* p = w->pos + 3 * (size_t)cand[i];
        double t0 = -INFINITY, t1 = INFINITY;
        int a, axis = -1;
        for (a = 0; a < 3; ++a) {
            double lo = (double)w->origin[a] + (double)w->scale * p[a], hi = lo + (double)w->scale, ta, tb;
            if (d[a] == 0.0) {
                if (o[a] < lo || o[a] > hi) break;
                continue;
            }
            ta = (lo - o[a]) / d[a];
            tb = (hi - o[a]) / d[a];
            if (ta > tb) {
                double x = ta;
                ta = tb;
                tb = x;
            }
            if (ta > t0) {
                t0 = ta;
                axis = a;
            }
            if (tb < t1) t1 = tb;
        }
        if (a < 3 || axis < 0 || !(t0 <= t1) || !(t0 > 0.0) || !(t0 < best)) continue;
        best = t0;
        hit = cand[i];
        *face = 2 * axis + (d[axis] > 0.0 ? 1 : 0);
    }
    return hit;
}

/* What the ray through image position (px, py) (pixels, y down) meets:
 * block * 6 + face, or -1. The camera of frame_world in double. */
static int64_t cast_pixel(const dvren_blocks_world* w, const uint32_t* cand, uint32_t n_cand, const view* v, double px,
                          double py)
{
    double x = (2.0 * px / W - 1.0) * v->tan_half_fov, y = (1.0 - 2.0 * py / H) * v->tan_half_fov, d[3];
    int64_t k;
    int i, f = 0;
    for (i = 0; i < 3; ++i) d[i] = v->forward[i] + x * v->right[i] + y * v->up[i];
    k = cast_ray(w, cand, n_cand, v->eye, d, &f);
    return k < 0 ? -1 : 6 * k + f;
}

/* The smallest delta of a ladder (pixels) such that the rays through the
 * pixel's centre moved by delta (8 directions) do not all meet the same face
 * of the same block: how close the centre is to an edge; INFINITY past the
 * ladder's top. */
static double edge_distance_px(const dvren_blocks_world* w, const uint32_t* cand, uint32_t n_cand, const view* v, int x, int y)
{
    static const double ladder[] = {0.001, 0.003, 0.01, 0.03, 0.1};
    static const int dir[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
    int64_t c = cast_pixel(w, cand, n_cand, v, x + 0.5, y + 0.5);
    size_t l;
    int k;
    for (l = 0; l < sizeof ladder / sizeof ladder[0]; ++l)
        for (k = 0; k < 8; ++k)
            if (cast_pixel(w, cand, n_cand, v, x + 0.5 + ladder[l] * dir[k][0], y + 0.5 + ladder[l] * dir[k][1]) != c)
                return ladder[l];
    return INFINITY;
}

/* Pixels where the images differ (coverage, or a colour or alpha error over
 * 1e-3): their count, how many lie within 0.03 px of an edge by the exact
 * cast (the others are unexplained), and the largest such distance; of the
 * pixels where coverage differs, at how many the exact cast at the pixel
 * centre agrees with dvren (a, the others agree with Mesa, b). */
typedef struct explained {
    long n_diff, n_unexplained, n_coverage, dvren_right;
    double worst;
    double rest_max_err; /* the largest error at the other pixels */
    int ux, uy; /* the first unexplained pixel */
} explained;

static void explain(const dvren_blocks_world* w, const view* v, const float* a, const float* b, explained* x)
{
    uint64_t nf = dvren_blocks_visible_faces(w, NULL, NULL, 0), i;
    uint32_t* k = (uint32_t*)malloc(sizeof(uint32_t) * (size_t)(nf ? nf : 1));
    uint32_t n_cand = 0;
    long p;
    memset(x, 0, sizeof *x);
    x->ux = x->uy = -1;
    if (!k) {
        x->n_unexplained = -1;
        return;
    }
    /* the blocks with a visible face (in block order, so the repeats are adjacent) */
    dvren_blocks_visible_faces(w, k, NULL, nf);
    for (i = 0; i < nf; ++i)
        if (n_cand == 0 || k[n_cand - 1] != k[i]) k[n_cand++] = k[i];
    for (p = 0; p < (long)W * H; ++p) {
        const float* q = a + 4 * p;
        const float* r = b + 4 * p;
        double e = 0, dist;
        int c;
        for (c = 0; c < 4; ++c) e = fmax(e, fabs((double)q[c] - (double)r[c]));
        if ((q[3] > 0.5f) == (r[3] > 0.5f) && e <= 1e-3) {
            x->rest_max_err = fmax(x->rest_max_err, e);
            continue;
        }
        x->n_diff++;
        dist = edge_distance_px(w, k, n_cand, v, (int)(p % W), (int)(p / W));
        if (dist > 0.03) {
            if (!x->n_unexplained) {
                x->ux = (int)(p % W);
                x->uy = (int)(p / W);
            }
            x->n_unexplained++;
        } else if (dist > x->worst) {
            x->worst = dist;
        }
        if ((q[3] > 0.5f) != (r[3] > 0.5f)) {
            x->n_coverage++;
            x->dvren_right += (cast_pixel(w, k, n_cand, v, (p % W) + 0.5, (p / W) + 0.5) >= 0) == (q[3] > 0.5f);
        }
    }
    free(k);
}

/* The output folder: $DVREN_BLOCKS_MESA_OUT, else a scratch folder. */
static const char* out_dir(void)
{
    static char dir[4096];
    const char* e = getenv("DVREN_BLOCKS_MESA_OUT");
    snprintf(dir, sizeof dir, "%s", e && *e ? e : th_tmp("blocks_mesa"));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return NULL;
    return dir;
}

/* Runs dvren_compare on a.npy b.npy with the thresholds; its exit status
 * and its psnr and geometry_match. Returns 0 when it ran (and printed both). */
static int run_compare(const char* a, const char* b, const char* diff, int* status, double* psnr, double* geometry)
{
    char cmd[16384], line[512];
    const char* bdir = getenv("DVREN_BUILD");
    FILE* p;
    int got = 0, rc;
    if (strchr(a, '\'') || strchr(b, '\'') || strchr(diff, '\'') || (bdir && strchr(bdir, '\''))) return -1; /* the shell quoting below */
    snprintf(cmd, sizeof cmd,
             "'%s/dvren_compare' '%s' '%s' --min-geometry 0.999 --min-psnr 40 --diff '%s' --diff-scale 10 2>/dev/null",
             bdir && *bdir ? bdir : "build", a, b, diff);
    p = popen(cmd, "r");
    if (!p) return -1;
    while (fgets(line, sizeof line, p)) {
        if (!strncmp(line, "psnr ", 5)) {
            *psnr = !strncmp(line + 5, "inf", 3) ? INFINITY : strtod(line + 5, NULL);
            got |= 1;
        } else if (!strncmp(line, "geometry_match ", 15)) {
            *geometry = strtod(line + 15, NULL);
            got |= 2;
        }
    }
    rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return got == 3 ? 0 : -1;
}

/* A world's case: how dvren reads it, how it is mixed and shaded, from where it is seen. */
typedef struct world_case {
    const char* name;
    const char* plugin_world; /* the file the block_world plugin reads */
    const char* mode;         /* softmax | gumbel | hard */
    double tau;
    uint64_t seed;
    blocks_shading shading;
    double dir[3];            /* from the world's centre towards the eye */
} world_case;

static int mode_id(const char* mode)
{
    return !strcmp(mode, "gumbel") ? BLOCKS_MESH_GUMBEL : !strcmp(mode, "hard") ? BLOCKS_MESH_HARD : BLOCKS_MESH_SOFTMAX;
}

/* dvren's image (RGBA, row 0 at the top) of the case; 0 on success. */
static int render_dvren(dvren_context* ctx, const world_case* wc, const view* v, float* rgba)
{
    dvren_params *pf = NULL, *ps = NULL;
    dvren_stage *field, *shader, *sampler;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float *rgb, *alpha;
    dvren_tensor t;
    long i;
    memset(&pd, 0, sizeof pd);
    if (dvren_camera_from_matrices(v->view, v->proj, &pd.camera) != DVREN_OK) return -1;
    dvren_params_create(ctx, &pf);
    dvren_params_set_string(pf, "world", wc->plugin_world);
    dvren_params_set_string(pf, "mode", wc->mode);
    dvren_params_set_number(pf, "temperature", wc->tau);
    dvren_params_set_number(pf, "seed", (double)wc->seed);
    dvren_params_create(ctx, &ps);
    dvren_params_set_numbers(ps, "sun_direction", wc->shading.sun_direction, 3);
    dvren_params_set_numbers(ps, "sun_color", wc->shading.sun_color, 3);
    dvren_params_set_numbers(ps, "ambient", wc->shading.ambient, 3);
    dvren_params_set_numbers(ps, "face_shade", wc->shading.face_shade, 6);
    dvren_params_set_number(ps, "fog_density", wc->shading.fog_density);
    dvren_params_set_numbers(ps, "fog_color", wc->shading.fog_color, 3);
    pd.width = W;
    pd.height = H;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    memcpy(pd.background, g_background, sizeof pd.background);
    field = th_stage(ctx, DVREN_PLUGIN_FIELD, "block_world", pf);
    shader = th_stage(ctx, DVREN_PLUGIN_SHADER, "terrain", ps);
    sampler = th_stage(ctx, DVREN_PLUGIN_SAMPLER, "dda", NULL);
    fb = field && shader && sampler ? th_render(ctx, field, shader, sampler, &pd, 2) : NULL;
    dvren_stage_destroy(field); /* the scene does not own its stages */
    dvren_stage_destroy(shader);
    dvren_stage_destroy(sampler);
    if (!fb) return -1;
    if (dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &t) != DVREN_OK) return dvren_framebuffer_destroy(fb), -1;
    rgb = (const float*)t.data;
    if (dvren_framebuffer_output(fb, DVREN_OUTPUT_ALPHA, &t) != DVREN_OK) return dvren_framebuffer_destroy(fb), -1;
    alpha = (const float*)t.data;
    for (i = 0; i < (long)W * H; ++i) {
        rgba[4 * i + 0] = rgb[3 * i + 0];
        rgba[4 * i + 1] = rgb[3 * i + 1];
        rgba[4 * i + 2] = rgb[3 * i + 2];
        rgba[4 * i + 3] = alpha[i];
    }
    dvren_framebuffer_destroy(fb);
    return 0;
}

/* Mesa's image of mesh under view v with shading s and fragment shader fs. */
static int render_mesa(const blocks_mesh* bm, const blocks_shading* s, const view* v, const char* fs, float* rgba)
{
    mesa_ref_uniform u[BLOCKS_MESH_MAX_UNIFORMS];
    mesa_ref_desc d;
    mesa_ref_mesh m;
    int rc;
    memset(&d, 0, sizeof d);
    memset(&m, 0, sizeof m);
    d.width = W;
    d.height = H;
    memcpy(d.view, v->view, sizeof d.view);
    memcpy(d.projection, v->proj, sizeof d.projection);
    d.vertex_shader = blocks_mesh_vertex_shader;
    d.fragment_shader = fs;
    memcpy(d.clear_rgb, g_background, sizeof d.clear_rgb);
    d.uniforms = u;
    d.n_uniforms = blocks_mesh_uniforms(s, v->eye, u);
    m.positions = bm->positions;
    m.normals = bm->normals;
    m.colors = bm->colors;
    m.n_vertices = bm->n_vertices;
    m.indices = bm->indices;
    m.n_indices = bm->n_indices;
    rc = mesa_ref_render(&d, &m, rgba, g_why, sizeof g_why);
    if (rc == MESA_REF_UNAVAILABLE) g_gl = 0;
    else if (rc == MESA_REF_OK) g_gl = 1;
    return rc;
}

/* Writes img as .npy and as an 8-bit RGB PNG (the background where alpha is 0). */
static int save_pair(dvren_context* ctx, const char* dir, const char* name, const char* who, const float* rgba, char* npy_path,
                     size_t cap)
{
    char png[4096], e[512];
    float* rgb = (float*)malloc(sizeof(float) * 3 * W * H);
    long i;
    int ok;
    if (!rgb) return -1;
    for (i = 0; i < (long)W * H; ++i) memcpy(rgb + 3 * i, rgba + 4 * i, 3 * sizeof(float));
    snprintf(npy_path, cap, "%s/%s_%s.npy", dir, name, who);
    snprintf(png, sizeof png, "%s/%s_%s.png", dir, name, who);
    ok = mesa_ref_save_npy(npy_path, rgba, W, H, e, sizeof e) == MESA_REF_OK &&
         dvren_image_write_png(ctx, png, rgb, NULL, W, H, 8) == DVREN_OK;
    free(rgb);
    return ok ? 0 : -1;
}

/* The comparison of one world: both renders, the figures, the files,
 * dvren_compare. Returns 0 when every threshold holds; else 1, with the
 * reason in why (also for a render that failed: why says so and -1). */
static int check_world(const world_case* wc, const dvren_blocks_world* w, float** keep, char* why, size_t why_size)
{
    dvren_context* ctx = th_ctx_threads(2);
    float *a = (float*)malloc(sizeof(float) * 4 * W * H), *b = (float*)malloc(sizeof(float) * 4 * W * H);
    blocks_mesh bm;
    view v;
    figures f;
    char pa[4096], pb[4096], pdiff[4096], e[512];
    const char* dir = out_dir();
    double c_psnr = 0, c_geom = 0;
    explained x;
    int rc = -1, status = -1, mrc;
    memset(&bm, 0, sizeof bm);
    why[0] = 0;
    if (!a || !b || !dir) {
        snprintf(why, why_size, "out of memory or no output folder");
        goto done;
    }
    if (blocks_mesh_build(w, mode_id(wc->mode), wc->tau, wc->seed, &bm, e, sizeof e) != 0) {
        snprintf(why, why_size, "%s", e);
        goto done;
    }
    frame_world(w, wc->dir, 0.0, &v);
    mrc = render_mesa(&bm, &wc->shading, &v, blocks_mesh_fragment_shader, b);
    if (mrc != MESA_REF_OK) {
        snprintf(why, why_size, "%s", g_why);
        rc = mrc == MESA_REF_UNAVAILABLE ? 2 : -1;
        goto done;
    }
    if (render_dvren(ctx, wc, &v, a) != 0) {
        snprintf(why, why_size, "dvren: %s", dvren_last_error(ctx));
        goto done;
    }
    compare(a, b, &f);
    printf("# %s: geometry %.6f, PSNR %.1f dB (covered by both), %.1f dB (all pixels), max err %.3g at (%d, %d), "
           "%.3g where both cover; %llu faces, %.1f%% covered\n",
           wc->name, f.geometry, f.psnr_both, f.psnr_all, f.max_err, f.max_x, f.max_y, f.max_err_both,
           (unsigned long long)bm.faces, 100.0 * f.covered);
    fflush(stdout);
    if (save_pair(ctx, dir, wc->name, "dvren", a, pa, sizeof pa) || save_pair(ctx, dir, wc->name, "mesa", b, pb, sizeof pb)) {
        snprintf(why, why_size, "cannot write the images into %s", dir);
        goto done;
    }
    snprintf(pdiff, sizeof pdiff, "%s/%s_diff.png", dir, wc->name);
    if (run_compare(pa, pb, pdiff, &status, &c_psnr, &c_geom) != 0) {
        snprintf(why, why_size, "dvren_compare did not run or printed no psnr/geometry_match (status %d)", status);
        goto done;
    }
    printf("# %s: dvren_compare: geometry_match %.6f, psnr %.1f dB, exit %d\n", wc->name, c_geom, c_psnr, status);
    explain(w, &v, a, b, &x);
    printf("# %s: %ld pixels differ (coverage, or an error > 1e-3), %ld of them more than 0.03 px from an edge "
           "(exact ray cast; the others within %.3g px); coverage differs at %ld, where the exact cast agrees with "
           "dvren at %ld; max err %.2g at the other pixels\n",
           wc->name, x.n_diff, x.n_unexplained, x.worst, x.n_coverage, x.dvren_right, x.rest_max_err);
    rc = 0;
    if (f.covered < 0.1) {
        snprintf(why, why_size, "the world covers only %.1f%% of the image", 100.0 * f.covered), rc = 1;
    } else if (!(f.geometry >= 0.999 && f.psnr_both >= 40.0 && f.psnr_all >= 40.0)) {
        snprintf(why, why_size, "geometry %.5f (>= 0.999), PSNR %.2f dB over both (>= 40), %.2f dB over all (>= 40)",
                 f.geometry, f.psnr_both, f.psnr_all), rc = 1;
    } else if (x.n_unexplained != 0) {
        long i = x.ux < 0 ? 0 : 4L * (x.uy * W + x.ux);
        snprintf(why, why_size, "%ld differing pixels are not at an edge, the first (%d, %d): dvren %g %g %g %g, Mesa %g %g %g %g",
                 x.n_unexplained, x.ux, x.uy, a[i], a[i + 1], a[i + 2], a[i + 3], b[i], b[i + 1], b[i + 2], b[i + 3]), rc = 1;
    } else if (status != 0) {
        snprintf(why, why_size, "dvren_compare exits %d", status), rc = 1;
    } else if (fabs(c_geom - f.geometry) > 1e-6 || !(fabs(c_psnr - f.psnr_all) < 1e-3 || (isinf(c_psnr) && isinf(f.psnr_all)))) {
        snprintf(why, why_size, "dvren_compare says geometry %.7f, psnr %.4f; here %.7f, %.4f", c_geom, c_psnr, f.geometry,
                 f.psnr_all), rc = 1;
    }
done:
    blocks_mesh_free(&bm);
    if (keep && rc == 0) *keep = a;
    else free(a);
    free(b);
    dvren_context_destroy(ctx);
    return rc;
}

/* ---- the worlds -------------------------------------------------------- */

static dvren_blocks_world g_terrain;
static char g_terrain_json[2][4096];
static float* g_terrain_dvren[2]; /* dvren's images of worlds (a) and (b), for the controls */

static void default_case(world_case* wc, const char* name, const char* mode, double tau)
{
    memset(wc, 0, sizeof *wc);
    wc->name = name;
    wc->mode = mode;
    wc->tau = tau;
    blocks_shading_default(&wc->shading);
    wc->dir[0] = 1.0;
    wc->dir[1] = 0.95;
    wc->dir[2] = 1.35;
}

#define NEED_GL()                                                   \
    do {                                                            \
        if (g_gl == 0) SKIP("%s", g_why);                           \
    } while (0)

/* Runs check_world and turns its answer into PASS/FAIL/SKIP. */
#define CHECK_WORLD(wc, w, keep)                                               \
    do {                                                                       \
        char why_[8192];                                                       \
        int r_ = check_world(wc, w, keep, why_, sizeof why_);                  \
        if (r_ == 2) SKIP("%s", why_);                                         \
        CHECK(r_ == 0, "%s: %s", (wc)->name, why_);                            \
    } while (0)

/* World (a)'s frame (origin 0, scale 1) or world (b)'s. */
static void terrain_frame(dvren_blocks_world* w, int fog)
{
    w->origin[0] = fog ? -16.0f : 0.0f;
    w->origin[1] = fog ? -4.0f : 0.0f;
    w->origin[2] = fog ? -16.0f : 0.0f;
    w->scale = fog ? 0.5f : 1.0f;
}

TEST(terrain)
{
    world_case wc;
    uint64_t faces;
    CHECK(make_terrain(&g_terrain) == 0, "%s", g_terrain.error);
    faces = dvren_blocks_visible_faces(&g_terrain, NULL, NULL, 0);
    printf("# terrain: %u blocks, %llu visible faces\n", g_terrain.block_count, (unsigned long long)faces);
    CHECK(g_terrain.block_count > 30000 && faces > 8000, "a thin terrain: %u blocks", g_terrain.block_count);
    snprintf(g_terrain_json[0], sizeof g_terrain_json[0], "%s", th_tmp("blocks_mesa_terrain.json"));
    CHECK(dvren_blocks_save(&g_terrain, g_terrain_json[0]) == 0, "%s", g_terrain.error);
    default_case(&wc, "terrain", "softmax", 0.7);
    wc.plugin_world = g_terrain_json[0];
    CHECK_WORLD(&wc, &g_terrain, &g_terrain_dvren[0]);
}

/* The same blocks at another origin and scale (carried by the JSON file),
 * Gumbel mixing, fog, and every shading parameter off its default. */
static void fog_case(world_case* wc)
{
    static const double shade[6] = {0.9, 0.7, 1.0, 0.4, 0.75, 0.55};
    int i;
    default_case(wc, "terrain_fog", "gumbel", 0.7);
    wc->seed = 12345;
    wc->shading.sun_direction[0] = -0.5;
    wc->shading.sun_direction[1] = 2.0;
    wc->shading.sun_direction[2] = 0.8;
    wc->shading.sun_color[0] = 0.75;
    wc->shading.sun_color[1] = 0.65;
    wc->shading.sun_color[2] = 0.5;
    wc->shading.ambient[0] = 0.3;
    wc->shading.ambient[1] = 0.35;
    wc->shading.ambient[2] = 0.45;
    for (i = 0; i < 6; ++i) wc->shading.face_shade[i] = shade[i];
    wc->shading.fog_density = 0.012;
    wc->shading.fog_color[0] = 0.6;
    wc->shading.fog_color[1] = 0.65;
    wc->shading.fog_color[2] = 0.75;
    wc->dir[0] = -1.1; /* the -x and +z sides */
}

TEST(terrain_fog)
{
    world_case wc;
    CHECK(g_terrain.block_count > 0, "world (a) was not made");
    terrain_frame(&g_terrain, 1);
    snprintf(g_terrain_json[1], sizeof g_terrain_json[1], "%s", th_tmp("blocks_mesa_terrain_fog.json"));
    CHECK(dvren_blocks_save(&g_terrain, g_terrain_json[1]) == 0, "%s", g_terrain.error);
    fog_case(&wc);
    wc.plugin_world = g_terrain_json[1];
    CHECK_WORLD(&wc, &g_terrain, &g_terrain_dvren[1]);
}

static void vox_test(const char* rel, const char* name, const char* mode, double tau, const double dir[3])
{
    const char* path = rel[0] == '/' || !strncmp(rel, "./", 2) ? rel : th_data(rel);
    dvren_blocks_world w;
    world_case wc;
    if (!path) SKIP("no %s under $DVREN_DATA", rel);
    NEED_GL();
    CHECK(dvren_blocks_load(&w, path, NULL) == 0, "%s", w.error);
    default_case(&wc, name, mode, tau);
    wc.plugin_world = path;
    if (dir) memcpy(wc.dir, dir, sizeof wc.dir);
    {
        char why[8192];
        int r = check_world(&wc, &w, NULL, why, sizeof why);
        dvren_blocks_free(&w);
        if (r == 2) SKIP("%s", why);
        CHECK(r == 0, "%s: %s", name, why);
    }
}

TEST(chr_cop1) { vox_test("voxels/chr_cop1.vox", "chr_cop1", "hard", 1.0, NULL); }

TEST(obj_house3)
{
    static const double dir[3] = {1.3, 1.0, 0.9};
    vox_test("voxels/obj_house3.vox", "obj_house3", "softmax", 3.0, dir);
}

/* Your own world: DVREN_BLOCKS_MESA_WORLD=/abs/path/model.vox (or a
 * .json / .npy world) runs the same check on it, in hard mode and in
 * softmax at tau 1 (for a reviewer's world; SKIP when unset). */
TEST(user_world)
{
    const char* path = getenv("DVREN_BLOCKS_MESA_WORLD");
    char abs[4096];
    if (!path || !*path) SKIP("set DVREN_BLOCKS_MESA_WORLD=/path/to/world.vox to check a world of yours");
    snprintf(abs, sizeof abs, "%s%s", path[0] == '/' ? "" : "./", path);
    vox_test(abs, "user_world_hard", "hard", 1.0, NULL);
    if (th_current_failed || th_current_skipped) return;
    vox_test(abs, "user_world_softmax", "softmax", 1.0, NULL);
}

/* ---- the check can fail --------------------------------------------------- */

/* Mesa rendered wrongly on purpose, against dvren's image of world (a) or
 * (b) (kept by those tests): the figures and dvren_compare must fail. kind
 * 0: the image shifted by half a pixel (a wrong pixel-centre convention);
 * 1: tau 1 instead of 0.7 (wrong mixing); 2: fog through exp2 instead of
 * exp (world (b)). */
static int control(int kind, figures* f, int* status, char* why, size_t why_size)
{
    dvren_context* ctx = th_ctx_threads(1);
    const float* a = g_terrain_dvren[kind == 2 ? 1 : 0];
    float* b = (float*)malloc(sizeof(float) * 4 * W * H);
    char fs[sizeof blocks_mesh_fragment_shader + 8], pa[4096], pb[4096], pdiff[4096], name[64], e[512];
    const char* dir = out_dir();
    world_case wc;
    blocks_mesh bm;
    view vm;
    double c_psnr, c_geom;
    int rc = -1;
    memset(&bm, 0, sizeof bm);
    if (!a || !b || !dir) {
        snprintf(why, why_size, "no image of world (%c) (its test failed), out of memory or no folder", kind == 2 ? 'b' : 'a');
        goto done;
    }
    if (kind == 2) fog_case(&wc);
    else default_case(&wc, "terrain", "softmax", 0.7);
    terrain_frame(&g_terrain, kind == 2);
    snprintf(name, sizeof name, "control%d", kind);
    frame_world(&g_terrain, wc.dir, kind == 0 ? 0.5 : 0.0, &vm);
    if (blocks_mesh_build(&g_terrain, mode_id(wc.mode), kind == 1 ? 1.0 : wc.tau, wc.seed, &bm, e, sizeof e) != 0) {
        snprintf(why, why_size, "%s", e);
        goto done;
    }
    {
        /* exp( -> exp2( in the fog line only */
        const char* at = strstr(blocks_mesh_fragment_shader, "exp(");
        size_t pre = (size_t)(at - blocks_mesh_fragment_shader);
        if (kind == 2) snprintf(fs, sizeof fs, "%.*sexp2(%s", (int)pre, blocks_mesh_fragment_shader, at + 4);
        else snprintf(fs, sizeof fs, "%s", blocks_mesh_fragment_shader);
    }
    if (render_mesa(&bm, &wc.shading, &vm, fs, b) != MESA_REF_OK) {
        snprintf(why, why_size, "Mesa: %s", g_why);
        goto done;
    }
    compare(a, b, f);
    if (save_pair(ctx, dir, name, "dvren", a, pa, sizeof pa) || save_pair(ctx, dir, name, "mesa", b, pb, sizeof pb)) {
        snprintf(why, why_size, "cannot write the images into %s", dir);
        goto done;
    }
    snprintf(pdiff, sizeof pdiff, "%s/%s_diff.png", dir, name);
    if (run_compare(pa, pb, pdiff, status, &c_psnr, &c_geom) != 0) {
        snprintf(why, why_size, "dvren_compare did not run");
        goto done;
    }
    rc = 0;
done:
    blocks_mesh_free(&bm);
    free(b);
    dvren_context_destroy(ctx);
    return rc;
}

TEST(wrong_references_fail)
{
    static const char* const what[3] = {"half a pixel off", "tau 1 instead of 0.7", "fog with exp2"};
    int k;
    NEED_GL();
    CHECK(g_terrain_dvren[0] && g_terrain_dvren[1], "no dvren images of worlds (a) and (b): their tests failed");
    for (k = 0; k < 3; ++k) {
        figures f;
        int status = -1;
        char why[8192] = "";
        CHECK(control(k, &f, &status, why, sizeof why) == 0, "control %d: %s", k, why);
        printf("# control %s: geometry %.6f, PSNR %.1f dB (both), %.1f dB (all); dvren_compare exits %d\n", what[k],
               f.geometry, f.psnr_both, f.psnr_all, status);
        CHECK(!(f.geometry >= 0.999 && f.psnr_both >= 40.0 && f.psnr_all >= 40.0), "%s passes the check", what[k]);
        CHECK(status == 1, "%s: dvren_compare exits %d, not 1", what[k], status);
    }
}

/* blocks_mesh against closed forms: one block at cell (1, 1, 1), origin
 * (10, 0, 0), scale 2: six faces in order +x -x +y -y +z -z, each on its
 * plane (+x: x = 10 + 2 * 2) with its normal and the corners of the square;
 * colours: hard gives the table's colour of the argmax; logits (ln 3, 0,
 * ..., 0) over the 8 default materials give p = 3/10 and 1/10 at tau 1,
 * 9/16 and 1/16 at tau 0.5. Bad arguments are refused, naming them. */
TEST(mesh_closed_forms)
{
    static const int32_t size[3] = {2, 2, 2};
    uint32_t M = 0;
    const dvren_blocks_material* tab = dvren_blocks_default_materials(&M);
    dvren_blocks_world w;
    blocks_mesh m;
    float l[8] = {0};
    char e[256];
    int f, v, c, i;
    CHECK(dvren_blocks_init(&w, size, NULL, 0) == 0, "%s", w.error);
    CHECK(blocks_mesh_build(&w, BLOCKS_MESH_SOFTMAX, 1.0, 0, &m, e, sizeof e) == -1 && strstr(e, "no visible face"), "%s", e);
    l[0] = (float)log(3.0);
    CHECK(dvren_blocks_place(&w, 1, 1, 1, l) == 0, "%s", w.error);
    w.origin[0] = 10.0f;
    w.scale = 2.0f;
    CHECK(blocks_mesh_build(&w, 7, 1.0, 0, &m, e, sizeof e) == -1 && strstr(e, "mode 7"), "%s", e);
    CHECK(blocks_mesh_build(&w, BLOCKS_MESH_GUMBEL, 0.0, 0, &m, e, sizeof e) == -1 && strstr(e, "temperature"), "%s", e);
    CHECK(blocks_mesh_build(&w, BLOCKS_MESH_SOFTMAX, NAN, 0, &m, e, sizeof e) == -1 && strstr(e, "temperature"), "%s", e);
    for (i = 0; i < 3; ++i) {
        double tau = i == 2 ? 0.5 : 1.0, pm = i == 1 ? 0.3 : 9.0 / 16.0, po = i == 1 ? 0.1 : 1.0 / 16.0;
        CHECK(blocks_mesh_build(&w, i == 0 ? BLOCKS_MESH_HARD : BLOCKS_MESH_SOFTMAX, i == 0 ? 0.0 : tau, 0, &m, e, sizeof e) == 0,
              "%s", e); /* hard needs no temperature */
        CHECK(m.faces == 6 && m.n_vertices == 24 && m.n_indices == 36, "%llu faces", (unsigned long long)m.faces);
        for (f = 0; f < 6; ++f) {
            int a = f / 2;
            double plane = (a == 0 ? 10.0 : 0.0) + 2.0 * (f & 1 ? 1 : 2);
            for (v = 0; v < 4; ++v) {
                const float* p = m.positions + 3 * (4 * f + v);
                const float* n = m.normals + 3 * (4 * f + v);
                const float* col = m.colors + 3 * (4 * f + v);
                for (c = 0; c < 3; ++c) {
                    double lo = (c == 0 ? 10.0 : 0.0) + 2.0, hi = lo + 2.0, want = 0;
                    const float* kind = f == 2 ? tab[0].top : f == 3 ? tab[0].bottom : tab[0].side;
                    int mm;
                    CHECK(c == a ? p[c] == (float)plane : (p[c] == (float)lo || p[c] == (float)hi),
                          "face %d vertex %d: position %g %g %g", f, v, p[0], p[1], p[2]);
                    CHECK(n[c] == (c == a ? (f & 1 ? -1.0f : 1.0f) : 0.0f), "face %d: normal %g %g %g", f, n[0], n[1], n[2]);
                    if (i == 0) want = kind[c];
                    else
                        for (mm = 0; mm < 8; ++mm) {
                            const float* k2 = f == 2 ? tab[mm].top : f == 3 ? tab[mm].bottom : tab[mm].side;
                            want += (mm == 0 ? pm : po) * k2[c];
                        }
                    CHECK(fabs(col[c] - want) < 1e-6, "mode %d face %d: colour %d is %.7g, want %.7g", i, f, c, col[c], want);
                }
            }
            /* the two triangles cover the square: (0, 1, 2), (0, 2, 3) of its four corners */
            CHECK(m.indices[6 * f] == (uint32_t)(4 * f) && m.indices[6 * f + 2] == (uint32_t)(4 * f + 2) &&
                      m.indices[6 * f + 5] == (uint32_t)(4 * f + 3),
                  "face %d: indices", f);
        }
        blocks_mesh_free(&m);
    }
    dvren_blocks_free(&w);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(mesh_closed_forms);
    RUN(terrain);
    RUN(terrain_fog);
    RUN(chr_cop1);
    RUN(obj_house3);
    RUN(user_world);
    RUN(wrong_references_fail);
    dvren_blocks_free(&g_terrain);
    free(g_terrain_dvren[0]);
    free(g_terrain_dvren[1]);
    return th_done();
}
