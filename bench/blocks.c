/* bench/blocks.c - block-world rendering speed (issue 12, "Targets"):
 * forward and forward+backward milliseconds per frame and rays per second
 * of the block_world + dda + terrain scene, against dvren's own dense-grid
 * march of the same world as a 4-channel grid (dense_grid + emission_absorption
 * in channels mode + uniform at half a voxel: the GPU figure) and, with
 * --mesa (CPU) instead times Mesa's software rasterizer (llvmpipe through
 * OSMesa, tests/mesa_ref.h) drawing the world's visible faces
 * (tests/blocks_mesh.h: the mesh and GLSL shader of the reference check)
 * against dvren's CPU render of the same world from the same OpenGL
 * matrices (the CPU figure): Mesa's median clear + draw + glFinish (no
 * context, shader or upload), dvren's median dvren_render; both on all
 * the machine's cores (llvmpipe's threads, the context's threads).
 *
 *   build/bench_blocks [--device cpu|cuda] [--world terrain|FILE] [--sizes 512x512,1920x1080]
 *                      [--reps 20] [--threads 0] [--no-dense] [--parity] [--mesa]
 *
 * --parity (needs a GPU) instead checks the GPU against the CPU on the
 * world: Gumbel mode (seed 3, temperature 0.7) with fog, 320 x 240, the
 * image, the surface ids and depth, and the logits' gradient of an L2 loss;
 * prints the figures and exits 1 when rgb differs by more than 1e-4 where
 * both see the same block, fewer than 99.9% of the ids agree, or the
 * gradients differ by more than 1e-3 (relative L2).
 *
 * The world "terrain" is dvren_blocks_terrain (tools/dvren_blocks_gen.h)
 * at 64 x 48 x 64, seed 1; FILE is any world dvren_blocks_load reads (a
 * .vox model). The camera looks at the world's centre from a 3/4 view
 * above (perspective, 50 degrees vertical) at 1.6 times its diagonal. Each
 * figure is the median of --reps frames after 3 warm-up frames, timed with
 * CUDA events on the GPU (dvren_cuda_timer_*) and the wall clock on the
 * CPU. forward+backward is render, L2 loss against a black image,
 * backward into the logits (softmax mode; the dense grid: its voxels).
 * One line per figure on stdout as JSON, then a Markdown table. Exit
 * status 0 when it measured, 1 on an error, 2 on bad usage. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"
#include "dvren_blocks_gen.h"
#include "../tests/mesa_ref.c"
#define BLOCKS_MESH_IMPLEMENTATION
#include "../tests/blocks_mesh.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        if ((call) != DVREN_OK) {                                                                                      \
            fprintf(stderr, "bench_blocks: %s: %s\n", #call, dvren_last_error(ctx));                                   \
            return 1;                                                                                                  \
        }                                                                                                              \
    } while (0)

typedef struct bb_row {
    char what[64];
    int w, h;
    double fwd_ms, fwdbwd_ms;
} bb_row;

static int cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

/* The world's stages: block_world from tensors (softmax, so that the
 * backward pass has gradients), terrain, dda. */
static int bb_block_stages(dvren_context* ctx, const dvren_blocks_world* w, dvren_stage** st, int parity)
{
    uint32_t M = w->material_count, N = w->block_count, i, k;
    float* rows = (float*)malloc(sizeof(float) * (size_t)(N ? N : 1) * (3 + M));
    float* table = (float*)malloc(sizeof(float) * 9 * M);
    dvren_params* p = NULL;
    dvren_tensor tb, tt;
    int64_t sb[2] = {N, 3 + M}, stt[2] = {M, 9};
    double size[3] = {w->size[0], w->size[1], w->size[2]};
    if (!rows || !table) return 1;
    for (i = 0; i < N; ++i) {
        for (k = 0; k < 3; ++k) rows[(size_t)i * (3 + M) + k] = (float)w->pos[3 * i + k];
        memcpy(rows + (size_t)i * (3 + M) + 3, w->logits + (size_t)i * M, sizeof(float) * M);
    }
    for (i = 0; i < M; ++i)
        for (k = 0; k < 3; ++k) {
            table[9 * i + k] = w->materials[i].top[k];
            table[9 * i + 3 + k] = w->materials[i].side[k];
            table[9 * i + 6 + k] = w->materials[i].bottom[k];
        }
    TRY(dvren_params_create(ctx, &p));
    TRY(dvren_tensor_wrap(rows, DVREN_DTYPE_F32, 2, sb, NULL, &tb));
    TRY(dvren_tensor_wrap(table, DVREN_DTYPE_F32, 2, stt, NULL, &tt));
    TRY(dvren_params_set_tensor(p, "blocks", &tb));
    TRY(dvren_params_set_tensor(p, "material_table", &tt));
    TRY(dvren_params_set_numbers(p, "size", size, 3));
    if (parity) {
        TRY(dvren_params_set_string(p, "mode", "gumbel"));
        TRY(dvren_params_set_number(p, "seed", 3));
        TRY(dvren_params_set_number(p, "temperature", 0.7));
    }
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "block_world", p, &st[0]));
    dvren_params_destroy(p);
    TRY(dvren_params_create(ctx, &p));
    if (parity) TRY(dvren_params_set_number(p, "fog_density", 0.01));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "terrain", p, &st[1]));
    dvren_params_destroy(p);
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "dda", NULL, &st[2]));
    free(rows);
    free(table);
    return 0;
}

/* The same world as a dense 4-channel grid (Z, Y, X, 4): occupancy, then
 * the side colour of each block's argmax material; voxels fill the world's
 * box (cell centring); emission_absorption reads density from channel 0
 * (times the terrain shader's solid_density, 1000) and colour from 1..3. */
static int bb_dense_stages(dvren_context* ctx, const dvren_blocks_world* w, dvren_stage** st)
{
    size_t X = (size_t)w->size[0], Y = (size_t)w->size[1], Z = (size_t)w->size[2], i;
    float* g = (float*)calloc(X * Y * Z * 4, sizeof(float));
    dvren_params* p = NULL;
    dvren_tensor t;
    int64_t shape[4] = {(int64_t)Z, (int64_t)Y, (int64_t)X, 4};
    double bbox[6] = {0, 0, 0, (double)X, (double)Y, (double)Z};
    if (!g) return 1;
    for (i = 0; i < w->block_count; ++i) {
        const int32_t* q = w->pos + 3 * i;
        size_t v = ((size_t)q[2] * Y + (size_t)q[1]) * X + (size_t)q[0];
        const dvren_blocks_material* m = &w->materials[dvren_blocks_argmax(w, (uint32_t)i) - 1];
        g[4 * v] = 1.0f;
        g[4 * v + 1] = m->side[0];
        g[4 * v + 2] = m->side[1];
        g[4 * v + 3] = m->side[2];
    }
    TRY(dvren_params_create(ctx, &p));
    TRY(dvren_tensor_wrap(g, DVREN_DTYPE_F32, 4, shape, NULL, &t));
    TRY(dvren_params_set_tensor(p, "data", &t));
    TRY(dvren_params_set_numbers(p, "bbox", bbox, 6));
    TRY(dvren_params_set_string(p, "centering", "cell"));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p, &st[0]));
    dvren_params_destroy(p);
    free(g);
    TRY(dvren_params_create(ctx, &p));
    TRY(dvren_params_set_string(p, "mode", "channels"));
    TRY(dvren_params_set_number(p, "sigma_scale", 1000.0));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &st[1]));
    dvren_params_destroy(p);
    TRY(dvren_params_create(ctx, &p));
    TRY(dvren_params_set_bool(p, "jitter", 0));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", p, &st[2]));
    dvren_params_destroy(p);
    return 0;
}

/* The benchmark's view of world w into pd (size set): a 3/4 view from
 * above at 1.6 diagonals, 50 degrees vertical, a sky background. */
static dvren_status bb_camera(const dvren_blocks_world* w, dvren_plan_desc* pd)
{
    float c[3], eye[3], up[3] = {0, 1, 0}, diag;
    int k;
    for (k = 0; k < 3; ++k) c[k] = w->origin[k] + 0.5f * w->scale * (float)w->size[k];
    diag = w->scale * sqrtf((float)(w->size[0] * w->size[0] + w->size[1] * w->size[1] + w->size[2] * w->size[2]));
    eye[0] = c[0] + 0.95f * diag;
    eye[1] = c[1] + 0.75f * diag;
    eye[2] = c[2] + 1.05f * diag;
    pd->background[0] = 0.7f;
    pd->background[1] = 0.8f;
    pd->background[2] = 1.0f;
    return dvren_camera_look_at(eye, c, up, 50.0f * 3.14159265f / 180.0f, &pd->camera);
}

/* Median ms of reps frames (forward, or forward + loss + backward). */
static int bb_time(dvren_context* ctx, dvren_stage** st, const dvren_plan_desc* pd0, int gpu, int reps, int backward,
                   double* ms_out)
{
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    dvren_plan* plan = NULL;
    dvren_plan_desc pd = *pd0;
    dvren_framebuffer *fb = NULL, *gfb = NULL;
    dvren_loss_desc ld;
    dvren_backward_options bo;
    dvren_tensor zero;
    float* zero_host = NULL;
    double* t = (double*)calloc((size_t)reps, sizeof(double));
    int64_t zs[2] = {(int64_t)pd.width * pd.height, 3};
    int i;
    memset(&sd, 0, sizeof sd);
    sd.field = st[0];
    sd.shader = st[1];
    sd.sampler = st[2];
    sd.flags = backward ? DVREN_SCENE_DIFFERENTIABLE : 0u;
    pd.outputs = DVREN_OUTPUT_RGB | (backward ? DVREN_OUTPUT_TRANSMITTANCE : 0u);
    TRY(dvren_scene_create(ctx, &sd, &sc));
    TRY(dvren_plan_create(ctx, &pd, &plan));
    TRY(dvren_framebuffer_create(ctx, plan, &fb));
    if (backward) {
        TRY(dvren_framebuffer_create_outputs(ctx, plan, DVREN_OUTPUT_RGB, &gfb));
        if (gpu) {
            TRY(dvren_cuda_tensor_create(ctx, DVREN_DTYPE_F32, 2, zs, &zero));
        } else {
            zero_host = (float*)calloc((size_t)zs[0] * 3, sizeof(float));
            TRY(dvren_tensor_wrap(zero_host, DVREN_DTYPE_F32, 2, zs, NULL, &zero));
        }
        memset(&ld, 0, sizeof ld);
        ld.kind = DVREN_LOSS_L2;
        ld.target_rgb = &zero;
        memset(&bo, 0, sizeof bo);
        bo.forward = fb;
    }
    for (i = -3; i < reps; ++i) {
        double t0 = dvren__now_ms();
        float ms = 0.0f;
        if (gpu) TRY(dvren_cuda_timer_begin(ctx));
        if (backward) TRY(dvren_scene_zero_grad(sc));
        TRY(dvren_render(sc, plan, fb, NULL));
        if (backward) {
            TRY(dvren_loss(ctx, &ld, fb, gfb, NULL));
            TRY(dvren_render_backward(sc, plan, gfb, &bo));
        }
        if (gpu) TRY(dvren_cuda_timer_end(ctx, &ms));
        if (i >= 0) t[i] = gpu ? (double)ms : dvren__now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    *ms_out = t[reps / 2];
    if (backward && gpu) dvren_tensor_destroy(ctx, &zero);
    free(zero_host);
    free(t);
    dvren_framebuffer_destroy(gfb);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(sc);
    return 0;
}

/* One render and backward of the world on ctx: rgb, depth, ids, the logits' gradient (malloc'd). */
static int bb_parity_run(dvren_context* ctx, const dvren_blocks_world* w, const dvren_plan_desc* pd0, float** rgb,
                         float** depth, uint32_t** id, float** grad, int64_t* ng)
{
    dvren_stage* st[3] = {NULL, NULL, NULL};
    dvren_scene_desc sd;
    dvren_scene* sc = NULL;
    dvren_plan* plan = NULL;
    dvren_plan_desc pd = *pd0;
    dvren_framebuffer *fb = NULL, *gfb = NULL;
    dvren_loss_desc ld;
    dvren_tensor t, zero;
    dvren_scene_param sp;
    size_t n = (size_t)pd.width * pd.height;
    float* zeros = (float*)calloc(n * 3, sizeof(float));
    int64_t zs[2] = {(int64_t)n, 3};
    if (bb_block_stages(ctx, w, st, 1) != 0 || !zeros) return 1;
    memset(&sd, 0, sizeof sd);
    sd.field = st[0];
    sd.shader = st[1];
    sd.sampler = st[2];
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_SURFACE_ID;
    TRY(dvren_scene_create(ctx, &sd, &sc));
    TRY(dvren_plan_create(ctx, &pd, &plan));
    TRY(dvren_framebuffer_create(ctx, plan, &fb));
    TRY(dvren_framebuffer_create_outputs(ctx, plan, DVREN_OUTPUT_RGB, &gfb));
    TRY(dvren_render(sc, plan, fb, NULL));
    TRY(dvren_tensor_wrap(zeros, DVREN_DTYPE_F32, 2, zs, NULL, &zero));
    memset(&ld, 0, sizeof ld);
    ld.kind = DVREN_LOSS_L2;
    ld.target_rgb = &zero;
    TRY(dvren_loss(ctx, &ld, fb, gfb, NULL));
    TRY(dvren_render_backward(sc, plan, gfb, NULL));
    *rgb = (float*)malloc(n * 3 * sizeof(float));
    *depth = (float*)malloc(n * sizeof(float));
    *id = (uint32_t*)malloc(n * sizeof(uint32_t));
    TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &t));
    memcpy(*rgb, t.data, n * 3 * sizeof(float));
    TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_DEPTH, &t));
    memcpy(*depth, t.data, n * sizeof(float));
    TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_SURFACE_ID, &t));
    memcpy(*id, t.data, n * sizeof(uint32_t));
    TRY(dvren_scene_param_get(sc, 0, &sp));
    *ng = (int64_t)sp.numel;
    *grad = (float*)malloc((size_t)*ng * sizeof(float));
    TRY(dvren_tensor_wrap(*grad, DVREN_DTYPE_F32, 1, ng, NULL, &t));
    TRY(dvren_scene_param_read(sc, 0, DVREN_PARAM_GRAD, &t));
    dvren_framebuffer_destroy(gfb);
    dvren_framebuffer_destroy(fb);
    dvren_plan_destroy(plan);
    dvren_scene_destroy(sc);
    dvren_stage_destroy(st[0]);
    dvren_stage_destroy(st[1]);
    dvren_stage_destroy(st[2]);
    free(zeros);
    return 0;
}

/* --parity: the GPU against the CPU (see the top of the file). */
static int bb_parity(const dvren_blocks_world* w, const dvren_plan_desc* pd)
{
    dvren_context *cpu = NULL, *gpu = NULL, *ctx = NULL;
    dvren_context_desc cd;
    float *r[2], *d[2], *g[2];
    uint32_t* id[2];
    int64_t ng[2];
    size_t n = (size_t)pd->width * pd->height, i, same = 0;
    double max_rgb = 0, max_depth = 0, gd = 0, gn = 0;
    int ok;
    memset(&cd, 0, sizeof cd);
    TRY(dvren_context_create(&cd, &cpu));
    cd.device = DVREN_DEVICE_CUDA;
    cd.backend = dvren_cuda_backend();
    TRY(dvren_context_create(&cd, &gpu));
    ctx = cpu;
    if (bb_parity_run(cpu, w, pd, &r[0], &d[0], &id[0], &g[0], &ng[0])) return 1;
    ctx = gpu;
    if (bb_parity_run(gpu, w, pd, &r[1], &d[1], &id[1], &g[1], &ng[1])) return 1;
    for (i = 0; i < n; ++i) {
        int c;
        if (id[0][i] != id[1][i]) continue;
        same++;
        for (c = 0; c < 3; ++c) max_rgb = fmax(max_rgb, fabs((double)r[0][3 * i + c] - r[1][3 * i + c]));
        max_depth = fmax(max_depth, fabs((double)d[0][i] - d[1][i]) / fmax(1.0, fabs((double)d[0][i])));
    }
    for (i = 0; i < (size_t)ng[0]; ++i) {
        gd += ((double)g[0][i] - g[1][i]) * ((double)g[0][i] - g[1][i]);
        gn += (double)g[0][i] * g[0][i];
    }
    gd = sqrt(gd / (gn > 0 ? gn : 1));
    ok = max_rgb <= 1e-4 && (double)same >= 0.999 * (double)n && gd <= 1e-3 && gn > 0;
    printf("{\"bench\": \"blocks-parity\", \"width\": %u, \"height\": %u, \"ids_equal\": %.6f, \"rgb_max_diff\": %.3g, "
           "\"depth_max_rel_diff\": %.3g, \"grad_rel_l2\": %.3g, \"grad_norm\": %.4g, \"pass\": %d}\n",
           (unsigned)pd->width, (unsigned)pd->height, (double)same / (double)n, max_rgb, max_depth, gd, sqrt(gn), ok);
    for (i = 0; i < 2; ++i) {
        free(r[i]);
        free(d[i]);
        free(id[i]);
        free(g[i]);
    }
    dvren_context_destroy(cpu);
    dvren_context_destroy(gpu);
    return ok ? 0 : 1;
}

/* --mesa: Mesa's draw time and dvren's CPU render time of the world at W x H (see the top). */
static int bb_mesa(dvren_context* ctx, const dvren_blocks_world* w, int W, int H, int reps, bb_row* r)
{
    blocks_mesh bm;
    blocks_shading sh;
    mesa_ref_uniform u[BLOCKS_MESH_MAX_UNIFORMS];
    mesa_ref_desc md;
    mesa_ref_mesh mm;
    dvren_plan_desc pd;
    dvren_stage* st[3] = {NULL, NULL, NULL};
    double c[3], eye[3], up[3] = {0, 1, 0}, diag, ms = 0;
    float* rgba = (float*)malloc(sizeof(float) * 4 * (size_t)W * H);
    char err[2048];
    int k, rc;
    if (!rgba) return 1;
    for (k = 0; k < 3; ++k) c[k] = w->origin[k] + 0.5 * w->scale * w->size[k];
    diag = w->scale * sqrt((double)w->size[0] * w->size[0] + (double)w->size[1] * w->size[1] + (double)w->size[2] * w->size[2]);
    eye[0] = c[0] + 0.95 * diag;
    eye[1] = c[1] + 0.75 * diag;
    eye[2] = c[2] + 1.05 * diag;
    if (blocks_mesh_build(w, BLOCKS_MESH_SOFTMAX, 1.0, 0, &bm, err, sizeof err) != 0) {
        fprintf(stderr, "bench_blocks: %s\n", err);
        return 1;
    }
    memset(&md, 0, sizeof md);
    md.width = W;
    md.height = H;
    mesa_ref_look_at(eye, c, up, md.view);
    mesa_ref_perspective(50.0 * 3.14159265358979 / 180.0, (double)W / H, 0.05 * diag, 4.0 * diag, 0, 0, md.projection);
    md.vertex_shader = blocks_mesh_vertex_shader;
    md.fragment_shader = blocks_mesh_fragment_shader;
    md.clear_rgb[0] = 0.7f;
    md.clear_rgb[1] = 0.8f;
    md.clear_rgb[2] = 1.0f;
    blocks_shading_default(&sh);
    md.uniforms = u;
    md.n_uniforms = blocks_mesh_uniforms(&sh, eye, u);
    md.repeat = reps < 3 ? 3 : reps;
    md.draw_ms = &ms;
    memset(&mm, 0, sizeof mm);
    mm.positions = bm.positions;
    mm.normals = bm.normals;
    mm.colors = bm.colors;
    mm.n_vertices = bm.n_vertices;
    mm.indices = bm.indices;
    mm.n_indices = bm.n_indices;
    rc = mesa_ref_render(&md, &mm, rgba, err, sizeof err);
    blocks_mesh_free(&bm);
    free(rgba);
    if (rc != MESA_REF_OK) {
        fprintf(stderr, "bench_blocks: Mesa: %s\n", err);
        return 1;
    }
    memset(&pd, 0, sizeof pd);
    pd.width = (uint32_t)W;
    pd.height = (uint32_t)H;
    pd.background[0] = 0.7f;
    pd.background[1] = 0.8f;
    pd.background[2] = 1.0f;
    TRY(dvren_camera_from_matrices(md.view, md.projection, &pd.camera));
    if (bb_block_stages(ctx, w, st, 0) != 0 || bb_time(ctx, st, &pd, 0, reps, 0, &r->fwd_ms)) return 1;
    for (k = 0; k < 3; ++k) dvren_stage_destroy(st[k]);
    r->fwdbwd_ms = ms; /* the table's second column holds Mesa's time in this mode */
    r->w = W;
    r->h = H;
    snprintf(r->what, sizeof r->what, "dvren CPU vs Mesa llvmpipe");
    printf("{\"bench\": \"blocks-mesa\", \"width\": %d, \"height\": %d, \"dvren_cpu_ms\": %.3f, \"mesa_ms\": %.3f, "
           "\"renderer\": \"%s\", \"dvren_threads\": %u}\n",
           W, H, r->fwd_ms, ms, mesa_ref_renderer(), (unsigned)dvren_context_threads(ctx));
    fflush(stdout);
    return 0;
}

int main(int argc, char** argv)
{
    const char *device = "cpu", *world = "terrain", *sizes = "512x512,1920x1080";
    int reps = 20, threads = 0, parity = 0, dense = 1, mesa = 0, gpu, i, nrows = 0, k;
    dvren_context_desc cd;
    dvren_context* ctx = NULL;
    dvren_blocks_world w;
    bb_row rows[32];
    char list[256], *tok;
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--parity")) parity = 1;
        else if (!strcmp(a, "--mesa")) mesa = 1;
        else if (!strcmp(a, "--no-dense")) dense = 0;
        else if (v && !strcmp(a, "--device")) device = v, ++i;
        else if (v && !strcmp(a, "--world")) world = v, ++i;
        else if (v && !strcmp(a, "--sizes")) sizes = v, ++i;
        else if (v && !strcmp(a, "--reps")) reps = atoi(v), ++i;
        else if (v && !strcmp(a, "--threads")) threads = atoi(v), ++i;
        else {
            fprintf(stderr, "bench_blocks: unknown or incomplete argument '%s' (see the top of bench/blocks.c)\n", a);
            return 2;
        }
    }
    if (reps < 1 || reps > 1000 || threads < 0) {
        fprintf(stderr, "bench_blocks: --reps must be in 1..1000 and --threads >= 0\n");
        return 2;
    }
    gpu = !strcmp(device, "cuda");
    if (!gpu && strcmp(device, "cpu")) {
        fprintf(stderr, "bench_blocks: --device cpu or cuda, not '%s'\n", device);
        return 2;
    }
    memset(&w, 0, sizeof w);
    if (!strcmp(world, "terrain")) {
        int32_t size[3] = {64, 48, 64};
        if (dvren_blocks_terrain(&w, size, 1u, 10.0f) != 0) {
            fprintf(stderr, "bench_blocks: %s\n", w.error);
            return 1;
        }
    } else if (dvren_blocks_load(&w, world, NULL) != 0) {
        fprintf(stderr, "bench_blocks: %s\n", w.error);
        return 1;
    }
    if (parity) {
        dvren_plan_desc pd;
        memset(&pd, 0, sizeof pd);
        pd.width = 320;
        pd.height = 240;
        if (bb_camera(&w, &pd) != DVREN_OK) return 1;
        k = bb_parity(&w, &pd);
        dvren_blocks_free(&w);
        return k;
    }
    memset(&cd, 0, sizeof cd);
    cd.threads = (uint32_t)threads;
    if (gpu) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    TRY(dvren_context_create(&cd, &ctx));
    fprintf(stderr, "bench_blocks: world %s: %d x %d x %d cells, %u blocks, %llu visible faces, %u materials\n", world,
            w.size[0], w.size[1], w.size[2], (unsigned)w.block_count,
            (unsigned long long)dvren_blocks_visible_faces(&w, NULL, NULL, 0), (unsigned)w.material_count);
    snprintf(list, sizeof list, "%s", sizes);
    for (tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int W = 0, H = 0, m;
        dvren_plan_desc pd;
        if (sscanf(tok, "%dx%d", &W, &H) != 2 || W < 1 || H < 1 || W > 16384 || H > 16384) {
            fprintf(stderr, "bench_blocks: --sizes: '%s' is not WxH\n", tok);
            return 2;
        }
        if (mesa) {
            if (gpu) {
                fprintf(stderr, "bench_blocks: --mesa times the CPU (--device cpu)\n");
                return 2;
            }
            if (bb_mesa(ctx, &w, W, H, reps, &rows[nrows++])) return 1;
            continue;
        }
        memset(&pd, 0, sizeof pd);
        pd.width = (uint32_t)W;
        pd.height = (uint32_t)H;
        TRY(bb_camera(&w, &pd));
        for (m = 0; m < 1 + dense; ++m) {
            dvren_stage* st[3] = {NULL, NULL, NULL};
            bb_row* r = &rows[nrows++];
            if ((m == 0 ? bb_block_stages(ctx, &w, st, 0) : bb_dense_stages(ctx, &w, st)) != 0) return 1;
            snprintf(r->what, sizeof r->what, "%s", m == 0 ? "dvren dda (block_world)" : "dvren dense grid march");
            r->w = W;
            r->h = H;
            if (bb_time(ctx, st, &pd, gpu, reps, 0, &r->fwd_ms) || bb_time(ctx, st, &pd, gpu, reps, 1, &r->fwdbwd_ms))
                return 1;
            printf("{\"bench\": \"blocks\", \"device\": \"%s\", \"world\": \"%s\", \"method\": \"%s\", \"width\": %d, "
                   "\"height\": %d, \"fwd_ms\": %.4f, \"fwdbwd_ms\": %.4f, \"mrays_per_s\": %.1f}\n",
                   device, world, m == 0 ? "dda" : "dense", W, H, r->fwd_ms, r->fwdbwd_ms,
                   (double)W * H / (r->fwd_ms * 1e-3) * 1e-6);
            fflush(stdout);
            for (k = 0; k < 3; ++k) dvren_stage_destroy(st[k]);
        }
    }
    if (mesa) {
        printf("\n| world | size | dvren CPU forward ms | Mesa llvmpipe draw ms | dvren / Mesa |\n| --- | --- | --- | --- | --- |\n");
        for (i = 0; i < nrows; ++i)
            printf("| %s | %dx%d | %.2f | %.2f | %.2fx |\n", world, rows[i].w, rows[i].h, rows[i].fwd_ms, rows[i].fwdbwd_ms,
                   rows[i].fwd_ms / rows[i].fwdbwd_ms);
        dvren_blocks_free(&w);
        dvren_context_destroy(ctx);
        return 0;
    }
    printf("\n| world | device | method | size | forward ms | fwd+bwd ms | Mrays/s | forward vs dda |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (i = 0; i < nrows; ++i) {
        const bb_row* r = &rows[i];
        double base = rows[i - (i % (1 + dense))].fwd_ms;
        printf("| %s | %s | %s | %dx%d | %.3f | %.3f | %.0f | %.2fx |\n", world, device, r->what, r->w, r->h, r->fwd_ms,
               r->fwdbwd_ms, (double)r->w * r->h / (r->fwd_ms * 1e-3) * 1e-6, r->fwd_ms / base);
    }
    dvren_blocks_free(&w);
    dvren_context_destroy(ctx);
    return 0;
}
