/* tests/fuzz/fuzz_transforms_json.c - libFuzzer target: fit_volume's NeRF
 * transforms reader (tools/dvren_nerf.h). An input that starts with the PNG
 * signature goes through the PNG check and decoder the reader uses for each
 * frame's image (dvren_nerf_decode_png); anything else is a transforms JSON,
 * read with its images in a folder that does not exist (each frame is then
 * counted as missing: the JSON's checks are what is fuzzed). */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#undef STB_IMAGE_IMPLEMENTATION /* Debian's stb_image.h would define it all again when dvren_nerf.h includes it */
#define DVREN_NERF_IMPLEMENTATION
#include "dvren_nerf.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    char err[4096];
    if (size >= 8 && !memcmp(data, "\x89PNG", 4)) {
        int w, h;
        unsigned char* img = dvren_nerf_decode_png(data, size, &w, &h, err, sizeof err);
        stbi_image_free(img);
    } else {
        dvren_nerf_views vs;
        dvren_nerf_report rep;
        dvren_nerf_parse("fuzz.json", (const char*)data, size, "/nonexistent-dvren-fuzz", 8, &vs, &rep, err, sizeof err);
        dvren_nerf_views_free(&vs);
    }
    return 0;
}
