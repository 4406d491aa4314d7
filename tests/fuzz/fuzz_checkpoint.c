/* tests/fuzz/fuzz_checkpoint.c - dvren_checkpoint_load on arbitrary bytes.
 *
 * One scene (a 4 x 3 x 2 constant dense_grid with 4 channels, the
 * emission_absorption shader in channels mode, the uniform sampler; made
 * differentiable) and an Adam optimizer are built once from the plugins in
 * $DVREN_BUILD/plugins (default build/plugins: ./build.sh builds them, and
 * tests/test_fuzz.sh runs from the repository root). Each input is written
 * to a private temporary file and loaded: any status is fine, a crash, a
 * leak, undefined behaviour or an allocation the file cannot back is not.
 * The loader checks the CRC-32 first, which random mutations never pass:
 * so the target puts the right CRC (zlib's crc32, the same polynomial) in
 * the last four bytes of every input it writes, and the fuzzer reaches the
 * entry parser behind it. Run alone with DVREN_FUZZ_WRITE_SEED=<file> to write the
 * committed seed (a checkpoint of this scene and optimizer). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define DVREN_IMPLEMENTATION
#include "dvren.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static dvren_context* fz_ctx;
static dvren_scene* fz_scene;
static dvren_optimizer* fz_opt;
static dvren_stage* fz_stage[3];
static char fz_dir[256], fz_path[300];

static void fz_cleanup(void)
{
    int k;
    dvren_optimizer_destroy(fz_opt);
    dvren_scene_destroy(fz_scene);
    for (k = 0; k < 3; ++k) dvren_stage_destroy(fz_stage[k]);
    dvren_context_destroy(fz_ctx);
    remove(fz_path);
    rmdir(fz_dir);
}

static void fz_die(const char* what)
{
    fprintf(stderr, "fuzz_checkpoint: %s: %s\n", what, dvren_last_error(fz_ctx));
    exit(2);
}

static void fz_setup(void)
{
    char plugins[256];
    const char* b = getenv("DVREN_BUILD");
    dvren_context_desc cd;
    dvren_params* p = NULL;
    dvren_scene_desc sd;
    dvren_optimizer_desc od = dvren_optimizer_defaults(DVREN_OPTIMIZER_ADAM);
    static const double dims[3] = {4, 3, 2}, fill[4] = {0.5, 0.2, 0.3, 0.4};
    snprintf(plugins, sizeof plugins, "%s/plugins", b && *b ? b : "build");
    memset(&cd, 0, sizeof cd);
    cd.plugin_path = plugins;
    cd.threads = 1;
    if (dvren_context_create(&cd, &fz_ctx) != DVREN_OK) fz_die("context");
    if (dvren_params_create(fz_ctx, &p) != DVREN_OK) fz_die("params");
    dvren_params_set_string(p, "generator", "constant");
    dvren_params_set_numbers(p, "dims", dims, 3);
    dvren_params_set_numbers(p, "fill", fill, 4);
    dvren_params_set_number(p, "channels", 4);
    dvren_params_set_string(p, "storage", "f32");
    if (dvren_stage_create(fz_ctx, DVREN_PLUGIN_FIELD, "dense_grid", p, &fz_stage[0]) != DVREN_OK) fz_die("field");
    dvren_params_destroy(p);
    if (dvren_stage_create(fz_ctx, DVREN_PLUGIN_SHADER, "emission_absorption", NULL, &fz_stage[1]) != DVREN_OK)
        fz_die("shader");
    if (dvren_stage_create(fz_ctx, DVREN_PLUGIN_SAMPLER, "uniform", NULL, &fz_stage[2]) != DVREN_OK) fz_die("sampler");
    memset(&sd, 0, sizeof sd);
    sd.field = fz_stage[0];
    sd.shader = fz_stage[1];
    sd.sampler = fz_stage[2];
    sd.flags = DVREN_SCENE_DIFFERENTIABLE;
    if (dvren_scene_create(fz_ctx, &sd, &fz_scene) != DVREN_OK) fz_die("scene");
    if (dvren_optimizer_create(fz_scene, &od, &fz_opt) != DVREN_OK) fz_die("optimizer");
    snprintf(fz_dir, sizeof fz_dir, "%s/dvren-fuzz-ckpt.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(fz_dir)) fz_die("mkdtemp");
    snprintf(fz_path, sizeof fz_path, "%s/in.ckpt", fz_dir);
    atexit(fz_cleanup);
    if (getenv("DVREN_FUZZ_WRITE_SEED")) {
        if (dvren_optimizer_step(fz_opt) != DVREN_OK ||
            dvren_checkpoint_save(fz_scene, fz_opt, getenv("DVREN_FUZZ_WRITE_SEED"), "seed", 4) != DVREN_OK)
            fz_die("writing the seed");
        exit(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    FILE* f;
    char user[64];
    size_t user_size = 0;
    if (!fz_ctx) fz_setup();
    f = fopen(fz_path, "wb");
    if (!f) return 0;
    if (size > 4) {
        uLong crc = crc32(0L, data, (uInt)(size - 4));
        unsigned char c[4];
        c[0] = (unsigned char)crc;
        c[1] = (unsigned char)(crc >> 8);
        c[2] = (unsigned char)(crc >> 16);
        c[3] = (unsigned char)(crc >> 24);
        fwrite(data, 1, size - 4, f);
        fwrite(c, 1, 4, f);
    } else if (size) {
        fwrite(data, 1, size, f);
    }
    fclose(f);
    (void)dvren_checkpoint_load(fz_scene, fz_opt, fz_path, user, sizeof user, &user_size);
    (void)dvren_checkpoint_load(fz_scene, NULL, fz_path, NULL, 0, NULL);
    return 0;
}
