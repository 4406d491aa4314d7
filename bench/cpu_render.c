/* bench/cpu_render.c - times dvren's CPU renderer on the workload of
 * ../shared/peers/torch_dense_grid.py (same grid formula, camera, sampler
 * and compositing), by default at the reduced size of issue 2: 128^3 grid,
 * 256 x 256 pixels, 128 samples per ray, no early ray termination.
 *
 *   build/cpu_render [--res R] [--width W] [--height H] [--samples S] [--reps N] [--threads T]
 *
 * Prints one JSON line (like the peer's) and a short table: median ms per
 * frame, samples/s (W*H*S / time, the peer's definition: rays that miss the
 * cube count too), samples/s per thread, and the image mean (mean of rgb over
 * all pixels and channels, black background) to compare with the peer's.
 * The scene is bench/peer_scene.json's, read by tools/dvren_scene.h with the
 * sizes of the options. --threads 0 (the default) means all cores. */
#define _POSIX_C_SOURCE 200809L
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#include "peer_scene.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x) do { if ((x) != DVREN_OK) { fprintf(stderr, "cpu_render: %s\n", dvren_last_error(ctx)); return 1; } } while (0)

static int cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv)
{
    int res = 128, width = 256, height = 256, samples = 128, reps = 5, threads = 0, i;
    dvren_context* ctx = NULL;
    dvren_context_desc cd;
    dvren_scenefile sf;
    char text[1024];
    dvren_scene_desc sd;
    dvren_scene* scene;
    dvren_plan_desc pd;
    dvren_plan* plan;
    dvren_framebuffer* fb;
    dvren_render_options ro;
    dvren_tensor rgb;
    double t[64], ms, mean = 0.0;
    for (i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--res")) res = v;
        else if (!strcmp(argv[i], "--width")) width = v;
        else if (!strcmp(argv[i], "--height")) height = v;
        else if (!strcmp(argv[i], "--samples")) samples = v;
        else if (!strcmp(argv[i], "--reps")) reps = v;
        else if (!strcmp(argv[i], "--threads")) threads = v;
        else { fprintf(stderr, "cpu_render: unknown option %s\n", argv[i]); return 2; }
    }
    if (res < 2 || width < 1 || height < 1 || samples < 1 || reps < 1 || reps > 64 || threads < 0) {
        fprintf(stderr, "cpu_render: bad arguments\n");
        return 2;
    }
    memset(&cd, 0, sizeof cd);
    cd.threads = (uint32_t)threads;
    if (dvren_context_create(&cd, &ctx)) { fprintf(stderr, "%s\n", dvren_last_error(NULL)); return 1; }
    snprintf(text, sizeof text, dvren_bench_peer_scene, res, res, res, "f32", samples, -1.0, width, height);
    if (dvren_scenefile_parse(&sf, "peer scene", text, strlen(text), NULL) || dvren_scenefile_build(&sf, ctx)) {
        fprintf(stderr, "cpu_render: %s\n", sf.error);
        return 1;
    }
    memset(&sd, 0, sizeof sd);
    sd.field = sf.field; sd.shader = sf.shader; sd.sampler = sf.sampler;
    TRY(dvren_scene_create(ctx, &sd, &scene));
    pd = sf.plan;
    pd.outputs = DVREN_OUTPUT_RGB;
    TRY(dvren_plan_create(ctx, &pd, &plan));
    TRY(dvren_framebuffer_create(ctx, plan, &fb));
    memset(&ro, 0, sizeof ro);
    TRY(dvren_render(scene, plan, fb, &ro)); /* warm-up */
    for (i = 0; i < reps; ++i) {
        double t0 = dvren__now_ms();
        TRY(dvren_render(scene, plan, fb, &ro));
        t[i] = dvren__now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    ms = t[reps / 2];
    TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb));
    for (i = 0; i < width * height * 3; ++i) mean += ((const float*)rgb.data)[i];
    mean /= (double)width * height * 3;
    {
        double sps = (double)width * height * samples / (ms * 1e-3);
        unsigned th = dvren_context_threads(ctx);
        printf("{\"bench\": \"dvren-cpu\", \"res\": %d, \"width\": %d, \"height\": %d, \"samples\": %d, \"threads\": %u, "
               "\"ms_median\": %.3f, \"gsamples_per_s\": %.4f, \"msamples_per_s_per_thread\": %.2f, \"image_mean\": %.7f}\n",
               res, width, height, samples, th, ms, sps * 1e-9, sps * 1e-6 / th, mean);
        printf("| grid | image | samples/ray | threads | ms/frame (median of %d) | Msamples/s | Msamples/s/thread | image mean |\n", reps);
        printf("| %d^3 x4 | %dx%d | %d | %u | %.1f | %.1f | %.2f | %.6f |\n", res, width, height, samples, th, ms,
               sps * 1e-6, sps * 1e-6 / th, mean);
    }
    dvren_framebuffer_destroy(fb); dvren_plan_destroy(plan); dvren_scene_destroy(scene);
    dvren_scenefile_free(&sf);
    dvren_context_destroy(ctx);
    return 0;
}
