/* tests/test_blocks.c - block worlds: the block_world field, the dda sampler
 * and the terrain shader (docs/blocks.md), on the CPU, against closed
 * forms: exact colours, depths and ids of faces seen straight on; every
 * ray that meets a one-cell-thick plate hits it (no missed thin blocks);
 * softmax, Gumbel and hard mixing against the formulas recomputed here
 * from the documented table; live parameters; float64 gradient checks;
 * straight-through gradients; the volume-sampler fallback; NVRTC compiles
 * of the fused kernels; bad input. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "harness.h"

/* docs/blocks.md, "Materials": top, side, bottom of ids 1..8 */
static const double doc_table[8][9] = {
    {0.35, 0.62, 0.24, 0.45, 0.36, 0.22, 0.47, 0.33, 0.20}, {0.47, 0.33, 0.20, 0.47, 0.33, 0.20, 0.47, 0.33, 0.20},
    {0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50}, {0.86, 0.80, 0.56, 0.86, 0.80, 0.56, 0.86, 0.80, 0.56},
    {0.62, 0.50, 0.30, 0.40, 0.29, 0.16, 0.62, 0.50, 0.30}, {0.20, 0.45, 0.15, 0.20, 0.45, 0.15, 0.20, 0.45, 0.15},
    {0.20, 0.35, 0.80, 0.20, 0.35, 0.80, 0.20, 0.35, 0.80}, {0.95, 0.97, 1.00, 0.80, 0.82, 0.86, 0.47, 0.33, 0.20}};
/* docs/blocks.md, "Shading": the defaults */
static const double doc_sun[3] = {0.4, 1.0, 0.3}, doc_sun_color = 0.6, doc_ambient = 0.4;
static const double doc_shade[6] = {0.8, 0.8, 1.0, 0.5, 0.6, 0.6};

/* light factor of face f with the default sun: shade_f (ambient + sun max(0, n.L)) */
static double doc_light(int f)
{
    double len = sqrt(doc_sun[0] * doc_sun[0] + doc_sun[1] * doc_sun[1] + doc_sun[2] * doc_sun[2]);
    double nl = doc_sun[f / 2] / len * (f & 1 ? -1.0 : 1.0);
    return doc_shade[f] * (doc_ambient + doc_sun_color * (nl > 0 ? nl : 0));
}

/* Every stage a test makes is kept here and destroyed by pool_free() at
 * the end of the test (th_render leaves the stages to the caller). */
static dvren_stage* pool[64];
static int npool;
static dvren_stage* keep(dvren_stage* st)
{
    if (st && npool < 64) pool[npool++] = st;
    return st;
}
static void pool_free(void)
{
    while (npool > 0) dvren_stage_destroy(pool[--npool]);
}

/* A block_world stage from rows of x y z + 8 logits. */
static dvren_stage* mk_world(dvren_context* ctx, const float* rows, int64_t n, int sx, int sy, int sz, const char* mode,
                             double tau, double seed)
{
    dvren_params* p = NULL;
    dvren_tensor t;
    int64_t shape[2] = {n, 11};
    double size[3] = {sx, sy, sz};
    dvren_stage* st;
    dvren_params_create(ctx, &p);
    if (n) {
        dvren_tensor_wrap((void*)rows, DVREN_DTYPE_F32, 2, shape, NULL, &t);
        dvren_params_set_tensor(p, "blocks", &t);
    }
    dvren_params_set_numbers(p, "size", size, 3);
    dvren_params_set_string(p, "mode", mode);
    dvren_params_set_number(p, "temperature", tau);
    dvren_params_set_number(p, "seed", seed);
    st = keep(th_stage(ctx, DVREN_PLUGIN_FIELD, "block_world", p));
    return st;
}

static dvren_stage* mk_terrain(dvren_context* ctx, double fog)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    if (fog > 0) dvren_params_set_number(p, "fog_density", fog);
    return keep(th_stage(ctx, DVREN_PLUGIN_SHADER, "terrain", p));
}

static dvren_stage* mk_dda(dvren_context* ctx) { return keep(th_stage(ctx, DVREN_PLUGIN_SAMPLER, "dda", NULL)); }

/* A plan looking straight down -y (orthographic) at the square [0, side]^2 of x, z. */
static void plan_top(dvren_plan_desc* pd, uint32_t n, float side)
{
    float eye[3] = {side / 2, 10, side / 2}, at[3] = {side / 2, 0, side / 2}, up[3] = {0, 0, -1};
    memset(pd, 0, sizeof *pd);
    pd->width = pd->height = n;
    dvren_camera_orthographic(eye, at, up, side, &pd->camera);
    pd->outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_SURFACE_ID;
    pd->background[0] = 0.1f;
    pd->background[1] = 0.2f;
    pd->background[2] = 0.3f;
}

static void one_block(float* row, float x, float y, float z, int material, float logit)
{
    int m;
    row[0] = x;
    row[1] = y;
    row[2] = z;
    for (m = 0; m < 8; ++m) row[3 + m] = m == material - 1 ? logit : 0.0f;
}

TEST(top_face_is_exact)
{
    dvren_context* ctx = th_ctx();
    float row[11];
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float *rgb, *alpha, *depth;
    dvren_tensor idt;
    const uint32_t* id;
    int x, y, covered = 0;
    double k = doc_light(2);
    one_block(row, 1, 1, 1, 1, 10.0f);
    plan_top(&pd, 64, 4.0f);
    fb = th_render(ctx, mk_world(ctx, row, 1, 4, 4, 4, "hard", 1, 0), mk_terrain(ctx, 0), mk_dda(ctx), &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    rgb = th_out(fb, DVREN_OUTPUT_RGB);
    alpha = th_out(fb, DVREN_OUTPUT_ALPHA);
    depth = th_out(fb, DVREN_OUTPUT_DEPTH);
    CHECK_OK(ctx, dvren_framebuffer_output(fb, DVREN_OUTPUT_SURFACE_ID, &idt));
    id = (const uint32_t*)idt.data;
    for (y = 0; y < 64; ++y)
        for (x = 0; x < 64; ++x) {
            int i = y * 64 + x, in = x >= 16 && x < 32 && y >= 16 && y < 32; /* the block's [1,2]^2 at 16 px per unit */
            if (in) {
                covered++;
                CHECK(alpha[i] == 1.0f && fabs(depth[i] - 8.0) < 1e-5, "pixel %d,%d: alpha %g depth %g", x, y, alpha[i],
                      depth[i]);
                CHECK(fabs(rgb[3 * i] - k * 0.35) < 1e-6 && fabs(rgb[3 * i + 1] - k * 0.62) < 1e-6 &&
                          fabs(rgb[3 * i + 2] - k * 0.24) < 1e-6,
                      "pixel %d,%d: %g %g %g, want grass top %g %g %g", x, y, rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2],
                      k * 0.35, k * 0.62, k * 0.24);
                CHECK(id[i] == 1u + 4u * (1u + 4u * 1u), "pixel %d,%d: id %u, want 21", x, y, id[i]);
            } else {
                CHECK(alpha[i] == 0.0f && rgb[3 * i] == 0.1f && rgb[3 * i + 2] == 0.3f && id[i] == DVREN_NO_SURFACE,
                      "pixel %d,%d: alpha %g id %u outside the block", x, y, alpha[i], id[i]);
            }
        }
    CHECK(covered == 256, "%d", covered);
    dvren_framebuffer_destroy(fb);
    pool_free();
    dvren_context_destroy(ctx);
}

/* A one-cell plate y in [7, 8] over the whole 16 x 16 grid, seen in
 * perspective at a slant: a pixel is covered exactly when its ray meets
 * the plate's box, at the box's entry distance. */
TEST(thin_plate_is_never_missed)
{
    dvren_context* ctx = th_ctx();
    float* rows = (float*)malloc(sizeof(float) * 11 * 256);
    float eye[3] = {-5.0f, 12.3f, -3.1f}, at[3] = {8.2f, 7.4f, 8.9f}, up[3] = {0, 1, 0};
    float bmin[3] = {0, 7, 0}, bmax[3] = {16, 8, 16};
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float *alpha, *depth;
    int i, x, y, checked = 0, grazing = 0;
    for (i = 0; i < 256; ++i) one_block(rows + 11 * i, (float)(i % 16), 7.0f, (float)(i / 16), 3, 10.0f);
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 96;
    dvren_camera_look_at(eye, at, up, 1.0f, &pd.camera);
    pd.outputs = DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;
    fb = th_render(ctx, mk_world(ctx, rows, 256, 16, 16, 16, "hard", 1, 0), mk_terrain(ctx, 0), mk_dda(ctx), &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    alpha = th_out(fb, DVREN_OUTPUT_ALPHA);
    depth = th_out(fb, DVREN_OUTPUT_DEPTH);
    for (y = 0; y < 96; ++y)
        for (x = 0; x < 96; ++x) {
            dvren_float3 o, d;
            float t0, t1;
            int hit;
            dvren_camera_ray(&pd.camera, (float)x + 0.5f, (float)y + 0.5f, 96.0f, 96.0f, &o, &d);
            hit = dvren_ray_box(o, d, bmin, bmax, &t0, &t1);
            if (hit && t1 - t0 < 1e-3f) { /* grazing an edge: either answer is right */
                grazing++;
                continue;
            }
            checked++;
            CHECK((alpha[y * 96 + x] == 1.0f) == (hit != 0), "pixel %d,%d: alpha %g, ray %s the plate", x, y,
                  alpha[y * 96 + x], hit ? "meets" : "misses");
            if (hit) CHECK(fabsf(depth[y * 96 + x] - t0) < 1e-4f * t0, "pixel %d,%d: depth %g, want %g", x, y, depth[y * 96 + x], t0);
        }
    CHECK(checked > 9000 && grazing < 50, "%d checked, %d grazing", checked, grazing);
    free(rows);
    dvren_framebuffer_destroy(fb);
    pool_free();
    dvren_context_destroy(ctx);
}

/* Softmax probabilities of logits l (M = 8) at temperature tau with noise g. */
static void softmax8(const float* l, const double* g, double tau, double* p)
{
    double zmax = -1e300, s = 0;
    int m;
    for (m = 0; m < 8; ++m) zmax = fmax(zmax, (l[m] + g[m]) / tau);
    for (m = 0; m < 8; ++m) s += (p[m] = exp((l[m] + g[m]) / tau - zmax));
    for (m = 0; m < 8; ++m) p[m] /= s;
}

/* The centre pixel of a top view of one block with logits l in the given mode. */
static int centre_colour(dvren_context* ctx, const float* l, const char* mode, double tau, double seed, float* out)
{
    float row[11];
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float* rgb;
    row[0] = row[1] = row[2] = 0;
    memcpy(row + 3, l, 8 * sizeof(float));
    plan_top(&pd, 8, 1.0f);
    fb = th_render(ctx, mk_world(ctx, row, 1, 1, 1, 1, mode, tau, seed), mk_terrain(ctx, 0), mk_dda(ctx), &pd, 0);
    if (!fb) return 0;
    rgb = th_out(fb, DVREN_OUTPUT_RGB);
    memcpy(out, rgb + 3 * (4 * 8 + 4), 3 * sizeof(float));
    dvren_framebuffer_destroy(fb);
    return 1;
}

TEST(mixing_matches_the_formulas)
{
    dvren_context* ctx = th_ctx();
    static const float l[8] = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 0.25f, -0.5f, 1.5f};
    double g[8] = {0}, p[8], want[3], k = doc_light(2);
    float got[3], got2[3];
    int m, c, seed;
    /* softmax at tau = 0.5 */
    softmax8(l, g, 0.5, p);
    for (c = 0; c < 3; ++c)
        for (want[c] = 0, m = 0; m < 8; ++m) want[c] += k * p[m] * doc_table[m][c];
    CHECK(centre_colour(ctx, l, "softmax", 0.5, 0, got), "%s", dvren_last_error(ctx));
    for (c = 0; c < 3; ++c) CHECK(fabs(got[c] - want[c]) < 2e-6, "softmax channel %d: %g, want %g", c, got[c], want[c]);
    /* hard: the argmax (material 2, dirt) */
    CHECK(centre_colour(ctx, l, "hard", 0.5, 0, got), "%s", dvren_last_error(ctx));
    for (c = 0; c < 3; ++c) CHECK(fabs(got[c] - k * doc_table[1][c]) < 1e-6, "hard channel %d: %g", c, got[c]);
    /* gumbel: the documented noise, recomputed here */
    for (seed = 3; seed <= 4; ++seed) {
        for (m = 0; m < 8; ++m) {
            dvren_rng r = dvren_rng_make((uint32_t)seed, 0u, 0u, (uint32_t)m, 7u);
            double u = dvren_rng_uniform(&r);
            u = fmin(fmax(u, ldexp(1.0, -24)), 1.0 - ldexp(1.0, -24));
            g[m] = (double)(float)(-log(-log(u)));
        }
        softmax8(l, g, 0.7, p);
        for (c = 0; c < 3; ++c)
            for (want[c] = 0, m = 0; m < 8; ++m) want[c] += k * p[m] * doc_table[m][c];
        CHECK(centre_colour(ctx, l, "gumbel", 0.7, seed, got), "%s", dvren_last_error(ctx));
        for (c = 0; c < 3; ++c)
            CHECK(fabs(got[c] - want[c]) < 2e-6, "gumbel seed %d channel %d: %g, want %g", seed, c, got[c], want[c]);
        CHECK(centre_colour(ctx, l, "gumbel", 0.7, seed, got2), "%s", dvren_last_error(ctx));
        CHECK(!memcmp(got, got2, sizeof got), "gumbel seed %d is not deterministic", seed);
    }
    pool_free();
    dvren_context_destroy(ctx);
}

/* The side faces: a view along -x sees face +x (shade 0.8, n.L = L_x). */
TEST(side_face_and_fog)
{
    dvren_context* ctx = th_ctx();
    float row[11], eye[3] = {10, 0.5f, 0.5f}, at[3] = {0, 0.5f, 0.5f}, up[3] = {0, 1, 0};
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float* rgb;
    double k = doc_light(0), fog = 1.0 - exp(-0.05 * 9.0), want;
    int c;
    one_block(row, 0, 0, 0, 5, 10.0f); /* wood: side 0.40 0.29 0.16 */
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 8;
    dvren_camera_orthographic(eye, at, up, 1.0f, &pd.camera);
    fb = th_render(ctx, mk_world(ctx, row, 1, 1, 1, 1, "hard", 1, 0), mk_terrain(ctx, 0.05), mk_dda(ctx), &pd, 0);
    CHECK(fb, "%s", dvren_last_error(ctx));
    rgb = th_out(fb, DVREN_OUTPUT_RGB) + 3 * (4 * 8 + 4);
    for (c = 0; c < 3; ++c) {
        want = k * doc_table[4][3 + c] * (1 - fog) + (c == 0 ? 0.7 : c == 1 ? 0.8 : 1.0) * fog;
        CHECK(fabs(rgb[c] - want) < 2e-6, "channel %d: %g, want %g", c, rgb[c], want);
    }
    dvren_framebuffer_destroy(fb);
    pool_free();
    dvren_context_destroy(ctx);
}

/* Random blocks with random logits in a 5 x 4 x 5 grid, seen in perspective. */
static int random_world(float* rows, int n, uint32_t seed)
{
    int i, k = 0, m;
    uint32_t s = seed;
    unsigned char used[100] = {0};
    for (i = 0; i < n; ++i) {
        int x, y, z;
        do {
            s = s * 1664525u + 1013904223u;
            x = (int)(s >> 8) % 5;
            y = (int)(s >> 16) % 4;
            z = (int)(s >> 24) % 5;
        } while (used[x + 5 * (y + 4 * z)]);
        used[x + 5 * (y + 4 * z)] = 1;
        rows[11 * k + 0] = (float)x;
        rows[11 * k + 1] = (float)y;
        rows[11 * k + 2] = (float)z;
        for (m = 0; m < 8; ++m) {
            s = s * 1664525u + 1013904223u;
            rows[11 * k + 3 + m] = (float)((double)(s >> 8) / 16777216.0 * 4.0 - 2.0);
        }
        k++;
    }
    return k;
}

static void plan_slant(dvren_plan_desc* pd, uint32_t n)
{
    float eye[3] = {9.5f, 8.0f, 11.0f}, at[3] = {2.5f, 1.5f, 2.5f}, up[3] = {0, 1, 0};
    memset(pd, 0, sizeof *pd);
    pd->width = pd->height = n;
    dvren_camera_look_at(eye, at, up, 0.6f, &pd->camera);
    pd->outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;
    pd->background[2] = 0.5f;
}

TEST(gradients_to_the_logits_pass_gradcheck)
{
    static const char* const modes[2] = {"softmax", "gumbel"};
    dvren_context* ctx = th_ctx();
    float rows[11 * 30];
    int n = random_world(rows, 30, 7u), mi;
    for (mi = 0; mi < 2; ++mi) {
        dvren_scene_desc sd;
        dvren_scene* sc = NULL;
        dvren_plan* plan = NULL;
        dvren_plan_desc pd;
        dvren_gradcheck_desc gd;
        dvren_gradcheck_result gr;
        memset(&sd, 0, sizeof sd);
        sd.field = mk_world(ctx, rows, n, 5, 4, 5, modes[mi], 0.7, 11);
        sd.shader = mk_terrain(ctx, mi ? 0.04 : 0.0);
        sd.sampler = mk_dda(ctx);
        sd.flags = DVREN_SCENE_DIFFERENTIABLE;
        CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
        plan_slant(&pd, 24);
        CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &plan));
        memset(&gd, 0, sizeof gd);
        gd.seed = 5;
        gd.elements = 32;
        gd.outputs = DVREN_OUTPUT_RGB;
        CHECK_OK(ctx, dvren_gradcheck(sc, plan, &gd, &gr));
        printf("# %s: %u checked, fd error %.2e, f32 error %.2e, |g| %.3g (worst %s)\n", modes[mi], gr.checked,
               gr.fd_error, gr.f32_error, gr.grad_norm, gr.worst);
        CHECK(gr.checked >= 16 && gr.grad_norm > 0, "%u checked, |g| %g", gr.checked, gr.grad_norm);
        CHECK(gr.fd_error < 1e-3, "%s: fd error %g at %s", modes[mi], gr.fd_error, gr.worst);
        CHECK(gr.f32_error < 1e-3, "%s: float32 error %g", modes[mi], gr.f32_error);
        dvren_plan_destroy(plan);
        dvren_scene_destroy(sc);
    }
    pool_free();
    dvren_context_destroy(ctx);
}

/* The logits' gradient of one render with a fixed cotangent. */
static int logit_grad(dvren_context* ctx, const float* rows, int n, const char* mode, float* g, size_t cap)
{
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    dvren_plan* plan = NULL;
    dvren_plan_desc pd;
    dvren_framebuffer *fb = NULL, *cot = NULL;
    dvren_tensor t;
    float* ones = (float*)malloc(sizeof(float) * 3 * 20 * 20);
    int64_t shape[1];
    uint32_t i;
    int ok = 0;
    dvren_scene_param sp;
    for (i = 0; i < 3 * 20 * 20; ++i) ones[i] = (float)((i % 7) - 3) * 0.25f;
    memset(&sd, 0, sizeof sd);
    sd.field = mk_world(ctx, rows, n, 5, 4, 5, mode, 0.7, 0);
    sd.shader = mk_terrain(ctx, 0);
    sd.sampler = mk_dda(ctx);
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    plan_slant(&pd, 20);
    shape[0] = 3 * 20 * 20;
    dvren_tensor_wrap(ones, DVREN_DTYPE_F32, 1, shape, NULL, &t);
    if (dvren_scene_create(ctx, &sd, &sc) == DVREN_OK && dvren_plan_create(ctx, &pd, &plan) == DVREN_OK &&
        dvren_framebuffer_create(ctx, plan, &fb) == DVREN_OK && dvren_framebuffer_create(ctx, plan, &cot) == DVREN_OK &&
        dvren_render(sc, plan, fb, NULL) == DVREN_OK && dvren_framebuffer_write(cot, DVREN_OUTPUT_RGB, &t) == DVREN_OK &&
        dvren_render_backward(sc, plan, cot, NULL) == DVREN_OK && dvren_scene_param_get(sc, 0, &sp) == DVREN_OK &&
        sp.numel <= cap) {
        shape[0] = (int64_t)sp.numel;
        dvren_tensor_wrap(g, DVREN_DTYPE_F32, 1, shape, NULL, &t);
        ok = dvren_scene_param_read(sc, 0, DVREN_PARAM_GRAD, &t) == DVREN_OK;
    }
    dvren_framebuffer_destroy(fb);
    dvren_framebuffer_destroy(cot);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(sc);
    free(ones);
    return ok;
}

/* hard mode: one-hot forward, the softmax's gradient backward (straight-through) */
TEST(hard_mode_is_straight_through)
{
    dvren_context* ctx = th_ctx();
    float rows[11 * 30], gs[240], gh[240];
    int n = random_world(rows, 30, 9u), i, nonzero = 0;
    CHECK(logit_grad(ctx, rows, n, "softmax", gs, 240), "%s", dvren_last_error(ctx));
    CHECK(logit_grad(ctx, rows, n, "hard", gh, 240), "%s", dvren_last_error(ctx));
    for (i = 0; i < 8 * n; ++i) {
        CHECK(fabsf(gs[i] - gh[i]) <= 1e-6f * (1.0f + fabsf(gs[i])), "logit %d: softmax %g, hard %g", i, gs[i], gh[i]);
        nonzero += gs[i] != 0.0f;
    }
    CHECK(nonzero > 40, "%d non-zero gradients", nonzero);
    pool_free();
    dvren_context_destroy(ctx);
}

TEST(live_parameters_change_the_next_render)
{
    dvren_context* ctx = th_ctx();
    static const float l[8] = {1.0f, 2.0f, 0.5f, -1.0f, 0.0f, 0.25f, -0.5f, 1.5f};
    float row[11];
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    dvren_plan* plan = NULL;
    dvren_plan_desc pd;
    dvren_framebuffer* fb = NULL;
    dvren_params* p = NULL;
    double g[8] = {0}, pr[8], want, k = doc_light(2);
    const float* rgb;
    int m;
    row[0] = row[1] = row[2] = 0;
    memcpy(row + 3, l, sizeof l);
    memset(&sd, 0, sizeof sd);
    sd.field = mk_world(ctx, row, 1, 1, 1, 1, "softmax", 1.0, 0);
    sd.shader = mk_terrain(ctx, 0);
    sd.sampler = mk_dda(ctx);
    CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
    plan_top(&pd, 8, 1.0f);
    CHECK_OK(ctx, dvren_plan_create(ctx, &pd, &plan));
    CHECK_OK(ctx, dvren_framebuffer_create(ctx, plan, &fb));
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "temperature", 0.25));
    CHECK_OK(ctx, dvren_stage_update(sd.field, p));
    CHECK_OK(ctx, dvren_render(sc, plan, fb, NULL));
    rgb = th_out(fb, DVREN_OUTPUT_RGB) + 3 * (4 * 8 + 4);
    softmax8(l, g, 0.25, pr);
    for (want = 0, m = 0; m < 8; ++m) want += k * pr[m] * doc_table[m][0];
    CHECK(fabs(rgb[0] - want) < 2e-6, "after the update: %g, want %g (tau 0.25)", rgb[0], want);
    dvren_params_destroy(p);
    /* not live: refused, naming it; nothing changes */
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "scale", 2.0));
    CHECK(dvren_stage_update(sd.field, p) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "'scale'"),
          "%s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "temperature", -1.0));
    CHECK(dvren_stage_update(sd.field, p) == DVREN_ERROR_INVALID_ARGUMENT && strstr(dvren_last_error(ctx), "temperature"),
          "%s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    /* a plugin without live parameters */
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK(dvren_stage_update(sd.sampler, p) == DVREN_ERROR_UNSUPPORTED, "%s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_render(sc, plan, fb, NULL));
    rgb = th_out(fb, DVREN_OUTPUT_RGB) + 3 * (4 * 8 + 4);
    CHECK(fabs(rgb[0] - want) < 2e-6, "refused updates changed the image: %g", rgb[0]);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(sc);
    pool_free();
    dvren_context_destroy(ctx);
}

/* The same world through a volume sampler (uniform, a dense medium of
 * solid_density): the same pixels are covered, almost all. */
TEST(volume_sampler_sees_the_same_blocks)
{
    dvren_context* ctx = th_ctx();
    float rows[11 * 30];
    int n = random_world(rows, 30, 5u), i, agree = 0;
    dvren_plan_desc pd;
    dvren_framebuffer *a, *b;
    const float *aa, *ab;
    plan_slant(&pd, 48);
    a = th_render(ctx, mk_world(ctx, rows, n, 5, 4, 5, "softmax", 1, 0), mk_terrain(ctx, 0), mk_dda(ctx), &pd, 0);
    th_march(&pd, 0, 0.02, 0);
    b = th_render(ctx, mk_world(ctx, rows, n, 5, 4, 5, "softmax", 1, 0), mk_terrain(ctx, 0), keep(th_uniform_sampler(ctx, 0)),
                  &pd, 0);
    CHECK(a && b, "%s", dvren_last_error(ctx));
    aa = th_out(a, DVREN_OUTPUT_ALPHA);
    ab = th_out(b, DVREN_OUTPUT_ALPHA);
    for (i = 0; i < 48 * 48; ++i) agree += (aa[i] > 0.5f) == (ab[i] > 0.5f);
    CHECK(agree >= 48 * 48 * 97 / 100, "coverage agrees on %d of %d pixels", agree, 48 * 48);
    dvren_framebuffer_destroy(a);
    dvren_framebuffer_destroy(b);
    pool_free();
    dvren_context_destroy(ctx);
}

TEST(bad_worlds_are_refused)
{
    dvren_context* ctx = th_ctx();
    dvren_params* p = NULL;
    dvren_stage* st = NULL;
    float rows[22];
    dvren_tensor t;
    int64_t shape[2] = {2, 10};
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "world", "/nonexistent/world.json"));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st) != DVREN_OK &&
              strstr(dvren_last_error(ctx), "/nonexistent/world.json"),
          "%s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    /* a row of the wrong length */
    one_block(rows, 0, 0, 0, 1, 1.0f);
    one_block(rows + 11, 1, 0, 0, 1, 1.0f);
    dvren_tensor_wrap(rows, DVREN_DTYPE_F32, 2, shape, NULL, &t);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_tensor(p, "blocks", &t));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st) == DVREN_ERROR_INVALID_ARGUMENT &&
              strstr(dvren_last_error(ctx), "'blocks'"),
          "%s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    /* outside the grid, twice the same cell, not an integer */
    shape[1] = 11;
    rows[11] = 0;
    dvren_tensor_wrap(rows, DVREN_DTYPE_F32, 2, shape, NULL, &t);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_tensor(p, "blocks", &t));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st) == DVREN_ERROR_INVALID_ARGUMENT &&
              strstr(dvren_last_error(ctx), "twice"),
          "%s", dvren_last_error(ctx));
    rows[11] = 99;
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st) == DVREN_ERROR_INVALID_ARGUMENT,
          "outside: %s", dvren_last_error(ctx));
    rows[11] = 0.5f;
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st) == DVREN_ERROR_INVALID_ARGUMENT &&
              strstr(dvren_last_error(ctx), "integer"),
          "%s", dvren_last_error(ctx));
    rows[11] = 1;
    rows[14] = NAN;
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st) == DVREN_ERROR_INVALID_ARGUMENT,
          "NaN logit: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK(!st, "no stage on error");
    pool_free();
    dvren_context_destroy(ctx);
}

/* A real MagicaVoxel model renders: blocks seen, every id a solid cell. */
TEST(real_vox_model_renders)
{
    const char* path = th_data("voxels/chr_cop1.vox");
    dvren_context* ctx;
    dvren_params* p = NULL;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    dvren_tensor idt;
    float eye[3] = {20, 14, 24}, at[3] = {4, 5.5f, 3}, up[3] = {0, 1, 0};
    int i, seen = 0;
    if (!path) SKIP("no data folder");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "world", path));
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 64;
    dvren_camera_look_at(eye, at, up, 0.7f, &pd.camera);
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_SURFACE_ID;
    fb = th_render(ctx, keep(th_stage(ctx, DVREN_PLUGIN_FIELD, "block_world", p)), mk_terrain(ctx, 0), mk_dda(ctx), &pd, 0);
    CHECK(fb, "%s", dvren_last_error(ctx));
    CHECK_OK(ctx, dvren_framebuffer_output(fb, DVREN_OUTPUT_SURFACE_ID, &idt));
    for (i = 0; i < 64 * 64; ++i) {
        uint32_t id = ((const uint32_t*)idt.data)[i];
        if (id == DVREN_NO_SURFACE) continue;
        seen++;
        CHECK(id < 8u * 11u * 6u, "pixel %d: id %u outside the 8 x 11 x 6 grid", i, id);
    }
    CHECK(seen > 300, "%d pixels see the model", seen);
    dvren_framebuffer_destroy(fb);
    pool_free();
    dvren_context_destroy(ctx);
}

/* NVRTC compiles the fused kernels of block worlds (surfaces through the
 * dda sampler; the volume fallback through uniform) without warnings. */
TEST(nvrtc_compiles_block_world_kernels)
{
    static const unsigned archs[2] = {86, 90};
    dvren_context* ctx;
    float rows[11 * 30];
    char log[16384];
    int n = random_world(rows, 30, 3u), si, ai;
    if (dvren__cu_need_nvrtc(NULL) != DVREN_OK) SKIP("NVRTC not found: %s", dvren_last_error(NULL));
    ctx = th_ctx();
    for (si = 0; si < 2; ++si) {
        dvren_scene_desc sd;
        dvren_scene* sc = NULL;
        memset(&sd, 0, sizeof sd);
        sd.field = mk_world(ctx, rows, n, 5, 4, 5, "gumbel", 0.7, 1);
        sd.shader = mk_terrain(ctx, 0.01);
        sd.sampler = si ? keep(th_uniform_sampler(ctx, 1)) : mk_dda(ctx);
        sd.flags = DVREN_SCENE_DIFFERENTIABLE;
        CHECK_OK(ctx, dvren_scene_create(ctx, &sd, &sc));
        for (ai = 0; ai < 2; ++ai) {
            CHECK(dvren_cuda_compile_check(sc, archs[ai], log, sizeof log) == DVREN_OK, "sm_%u: %s\n%s", archs[ai],
                  dvren_last_error(ctx), log);
            CHECK(log[0] == 0, "sm_%u: NVRTC warns:\n%s", archs[ai], log);
        }
        dvren_scene_destroy(sc);
    }
    pool_free();
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
#define RUN_B(name) \
    do {            \
        RUN(name);  \
        pool_free(); \
    } while (0)
    RUN_B(top_face_is_exact);
    RUN_B(thin_plate_is_never_missed);
    RUN_B(mixing_matches_the_formulas);
    RUN_B(side_face_and_fog);
    RUN_B(gradients_to_the_logits_pass_gradcheck);
    RUN_B(hard_mode_is_straight_through);
    RUN_B(live_parameters_change_the_next_render);
    RUN_B(volume_sampler_sees_the_same_blocks);
    RUN_B(bad_worlds_are_refused);
    RUN_B(real_vox_model_renders);
    RUN_B(nvrtc_compiles_block_world_kernels);
    return th_done();
}
