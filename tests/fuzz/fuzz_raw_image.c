/* tests/fuzz/fuzz_raw_image.c - libFuzzer target: tools/dvren_raw.h, the
 * image loaders of registration (PNG, binary PGM/PPM, .npy and the choice
 * among them by the first bytes and the extension). The input's first byte
 * picks the file's extension (.png, .npy, .pgm, .ppm or .nef), the rest is
 * the file, written to a private temporary folder and loaded by path.
 * Built without LibRaw (DVREN_RAW_NO_LIBRAW: test_fuzz.sh links neither
 * LibRaw nor libstb, and LibRaw is third-party code, fuzzed by its own
 * project), so anything that is not PNG/PGM/PPM/npy ends in the refusal
 * "this build reads no camera RAW files"; stb_image's PNG decoder is
 * compiled in (STBI_ONLY_PNG, as tools/stb_impl.c has it). The decoded
 * size cap is lowered to 16 MiB, under the fuzzer's malloc limit; the code
 * that refuses larger images is the same. Checked: a loaded image is
 * consistent (sides, channels, dtype, size, finite floats, white > black)
 * and a refusal names the file and leaves the image empty.
 * Seeds: written by tests/fuzz/seeds_raw_image.py. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#define DVREN_RAW_MAX_BYTES ((uint64_t)16 << 20)
#define DVREN_RAW_NO_LIBRAW
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_RAW_IMPLEMENTATION
#include "dvren_raw.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#include <stb/stb_image.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char* const fz_ext[5] = {"png", "npy", "pgm", "ppm", "nef"};
static char fz_dir[64];

/* the private folder goes when the fuzzer exits */
static void fz_cleanup(void)
{
    char path[128];
    int k;
    for (k = 0; k < 5; ++k) {
        snprintf(path, sizeof path, "%s/fz.%s", fz_dir, fz_ext[k]);
        remove(path);
    }
    rmdir(fz_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    char path[128];
    dvren_raw_image im;
    dvren_status s;
    FILE* f;
    if (size < 1) return 0;
    if (!fz_dir[0]) {
        snprintf(fz_dir, sizeof fz_dir, "/tmp/fuzz_raw_image.XXXXXX");
        if (!mkdtemp(fz_dir)) __builtin_trap();
        atexit(fz_cleanup);
    }
    snprintf(path, sizeof path, "%s/fz.%s", fz_dir, fz_ext[data[0] % 5]);
    f = fopen(path, "wb");
    if (!f) __builtin_trap();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) __builtin_trap();
    if (fclose(f) != 0) __builtin_trap();
    s = dvren_raw_load(NULL, path, &im);
    if (s != DVREN_OK) {
        /* every refusal names the file; the image is empty */
        if (!strstr(dvren_last_error(NULL), path) || im.data || im.width || im.height || im.size_bytes) __builtin_trap();
        return 0;
    }
    {
        size_t item = im.dtype == DVREN_DTYPE_U8 ? 1 : im.dtype == DVREN_DTYPE_U16 ? 2 : im.dtype == DVREN_DTYPE_F32 ? 4 : 0;
        size_t n = (size_t)im.width * im.height * im.channels, i;
        volatile unsigned sink = 0;
        if (!item || !im.data || im.width < 1 || im.height < 1 || im.width > DVREN_RAW_MAX_SIDE ||
            im.height > DVREN_RAW_MAX_SIDE || (im.channels != 1 && im.channels != 3) || im.size_bytes != n * item ||
            im.cfa != DVREN_CFA_NONE || !(im.white > im.black) || !im.format[0])
            __builtin_trap();
        /* every byte is readable (ASan) and floats are finite */
        for (i = 0; i < im.size_bytes; ++i) sink += ((const unsigned char*)im.data)[i];
        if (im.dtype == DVREN_DTYPE_F32)
            for (i = 0; i < n; ++i)
                if (!isfinite(((const float*)im.data)[i])) __builtin_trap();
        (void)sink;
    }
    dvren_raw_free(&im);
    return 0;
}
