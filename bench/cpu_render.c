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
 * all pixels and channels, black background) to compare with the peer's. */
#define _POSIX_C_SOURCE 200809L
#define DVREN_IMPLEMENTATION
#include "dvren.h"

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
    dvren_params *fp, *sp, *mp;
    dvren_stage *field, *shader, *sampler;
    dvren_scene_desc sd;
    dvren_scene* scene;
    dvren_plan_desc pd;
    dvren_plan* plan;
    dvren_framebuffer* fb;
    dvren_render_options ro;
    dvren_tensor rgb;
    double dims[3], t[64], ms, mean = 0.0;
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
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
    TRY(dvren_params_create(ctx, &fp));
    dims[0] = dims[1] = dims[2] = res;
    TRY(dvren_params_set_string(fp, "generator", "peer"));
    TRY(dvren_params_set_numbers(fp, "dims", dims, 3));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", fp, &field));
    TRY(dvren_params_create(ctx, &sp));
    TRY(dvren_params_set_string(sp, "mode", "channels"));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", sp, &shader));
    TRY(dvren_params_create(ctx, &mp));
    TRY(dvren_params_set_number(mp, "samples", samples));
    TRY(dvren_params_set_number(mp, "min_transmittance", 0.0));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", mp, &sampler));
    memset(&sd, 0, sizeof sd);
    sd.field = field; sd.shader = shader; sd.sampler = sampler;
    TRY(dvren_scene_create(ctx, &sd, &scene));
    memset(&pd, 0, sizeof pd);
    pd.width = (uint32_t)width;
    pd.height = (uint32_t)height;
    pd.outputs = DVREN_OUTPUT_RGB;
    TRY(dvren_camera_look_at(eye, target, up, 45.0f * 3.14159265358979f / 180.0f, &pd.camera));
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
    dvren_stage_destroy(field); dvren_stage_destroy(shader); dvren_stage_destroy(sampler);
    dvren_params_destroy(fp); dvren_params_destroy(sp); dvren_params_destroy(mp);
    dvren_context_destroy(ctx);
    return 0;
}
