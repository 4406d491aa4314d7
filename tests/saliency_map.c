/* tests/saliency_map.c - runs a saliency model of dvren on an image file and
 * saves the map as .npy: the C side of tests/test_saliency_opencv.sh, which
 * compares it with OpenCV's map of the same file.
 *
 *   saliency_map IN OUT.npy [--model NAME] [--device cpu|cuda] [NAME=VALUE ...]
 *
 * IN: an 8-bit PNG (gray, gray+alpha, RGB or RGBA: the alpha channel is
 * dropped, as OpenCV's imread(IMREAD_COLOR) drops it) or a binary PPM (P6,
 * maxval 255). Its sRGB-encoded values are decoded to linear RGB
 * (IEC 61966-2-1), which is what dvren_saliency_input.rgb holds.
 * OUT.npy: the map, (H, W) float32 in [0, 1], written atomically.
 * --model: the saliency plugin (default spectral_residual), found on
 * $DVREN_PLUGIN_PATH; NAME=VALUE: its numeric parameters. --device cuda runs
 * it on the GPU (an error without one, never the CPU).
 * Build (tests/test_saliency_opencv.sh does):
 *   cc -std=c11 -O2 -I. -Itools tests/saliency_map.c build/obj/stb.o -o saliency_map -ldl -lm -lpthread
 * Exit status: 0 on success, 1 on an error (message on stderr), 2 on bad usage. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

/* Reads a binary PPM (P6, maxval 255) as RGB bytes; NULL on any problem. */
static unsigned char* read_ppm(const char* path, int* w, int* h)
{
    FILE* f = fopen(path, "rb");
    unsigned char* px = NULL;
    int v[3], k = 0, c;
    size_t n;
    if (!f) return NULL;
    if (fgetc(f) != 'P' || fgetc(f) != '6') goto fail;
    while (k < 3) {
        c = fgetc(f);
        if (c == EOF) goto fail;
        if (c == '#') { /* a comment runs to the end of its line */
            while (c != '\n' && c != EOF) c = fgetc(f);
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        ungetc(c, f);
        if (fscanf(f, "%d", &v[k]) != 1) goto fail;
        ++k;
    }
    c = fgetc(f); /* the one whitespace byte before the pixels */
    if (v[0] < 1 || v[1] < 1 || v[0] > 32768 || v[1] > 32768 || v[2] != 255 || c == EOF) goto fail;
    n = (size_t)v[0] * (size_t)v[1] * 3u;
    px = (unsigned char*)malloc(n);
    if (!px || fread(px, 1, n, f) != n) goto fail;
    fclose(f);
    *w = v[0];
    *h = v[1];
    return px;
fail:
    free(px);
    fclose(f);
    return NULL;
}

/* sRGB-encoded byte -> linear value in [0, 1] (IEC 61966-2-1). */
static float srgb_to_linear(unsigned char b)
{
    double v = b / 255.0;
    return (float)(v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4));
}

static int usage(void)
{
    fprintf(stderr, "usage: saliency_map IN.png|IN.ppm OUT.npy [--model NAME] [--device cpu|cuda] [NAME=VALUE ...]\n");
    return 2;
}

int main(int argc, char** argv)
{
    const char *in_path, *out_path, *model = "spectral_residual";
    int cuda = 0, w = 0, h = 0, comp = 0, i, rc = 1;
    unsigned char* px = NULL;
    float *rgb = NULL, *map = NULL;
    size_t n, len;
    dvren_context_desc cd;
    dvren_context* ctx = NULL;
    dvren_params* p = NULL;
    dvren_stage* st = NULL;
    dvren_saliency_input in;
    dvren_tensor t;
    if (argc < 3) return usage();
    in_path = argv[1];
    out_path = argv[2];
    memset(&cd, 0, sizeof cd);
    cd.log = getenv("DVREN_TEST_LOG") ? dvren_log_to_file : NULL;
    for (i = 3; i < argc; ++i) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            ++i;
            if (!strcmp(argv[i], "cuda")) cuda = 1;
            else if (strcmp(argv[i], "cpu") != 0) return usage();
        } else if (!strchr(argv[i], '=')) {
            return usage();
        }
    }
    if (cuda) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    }
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) {
        fprintf(stderr, "saliency_map: %s\n", dvren_last_error(NULL));
        return 1;
    }
    len = strlen(in_path);
    if (len > 4 && (!strcmp(in_path + len - 4, ".ppm") || !strcmp(in_path + len - 4, ".PPM"))) {
        px = read_ppm(in_path, &w, &h);
        if (!px) {
            fprintf(stderr, "saliency_map: %s: not a binary PPM (P6, maxval 255) or unreadable\n", in_path);
            goto done;
        }
    } else {
        px = stbi_load(in_path, &w, &h, &comp, 3); /* alpha dropped, gray expanded */
        if (!px) {
            fprintf(stderr, "saliency_map: %s: %s\n", in_path, stbi_failure_reason());
            goto done;
        }
    }
    n = (size_t)w * (size_t)h;
    rgb = (float*)malloc(n * 3u * sizeof(float));
    map = (float*)malloc(n * sizeof(float));
    if (!rgb || !map) {
        fprintf(stderr, "saliency_map: out of memory\n");
        goto done;
    }
    for (i = 0; i < (int)(n * 3u); ++i) rgb[i] = srgb_to_linear(px[i]);
    if (dvren_params_create(ctx, &p) != DVREN_OK) goto fail;
    for (i = 3; i < argc; ++i) {
        char name[128], *end;
        const char* eq = strchr(argv[i], '=');
        double v;
        if (!strcmp(argv[i], "--model") || !strcmp(argv[i], "--device")) {
            ++i;
            continue;
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - argv[i]), argv[i]);
        v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end) {
            fprintf(stderr, "saliency_map: parameter '%s': '%s' is not a number\n", name, eq + 1);
            goto done;
        }
        if (dvren_params_set_number(p, name, v) != DVREN_OK) goto fail;
    }
    if (dvren_stage_create(ctx, DVREN_PLUGIN_SALIENCY, model, p, &st) != DVREN_OK) goto fail;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = (uint32_t)w;
    in.height = (uint32_t)h;
    in.memory = DVREN_MEMORY_HOST;
    in.rgb = rgb;
    if (dvren_saliency_compute(st, &in, map) != DVREN_OK) goto fail;
    memset(&t, 0, sizeof t);
    t.data = map;
    t.dtype = DVREN_DTYPE_F32;
    t.ndim = 2;
    t.shape[0] = h;
    t.shape[1] = w;
    t.strides[0] = w;
    t.strides[1] = 1;
    t.memory = DVREN_MEMORY_HOST;
    if (dvren_tensor_save_npy(ctx, &t, out_path) != DVREN_OK) goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "saliency_map: %s\n", dvren_last_error(ctx));
done:
    dvren_stage_destroy(st);
    dvren_params_destroy(p);
    dvren_context_destroy(ctx);
    if (px && comp) stbi_image_free(px);
    else free(px);
    free(rgb);
    free(map);
    return rc;
}
