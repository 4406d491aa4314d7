/* tests/fuzz/fuzz_splat_ply.c - libFuzzer target: tools/dvren_splat_ply.h,
 * the 3DGS PLY reader, parsing the input from memory, strict or lenient
 * (the first byte's low bit), and the writer on what was read. The memory
 * cap is lowered to 16 MiB so that large declared vertex counts are refused
 * quickly; the code paths that refuse them are the same. Seeds: written by
 * tests/fuzz/seeds_splat_ply.py (small binary and ASCII files of SH degree
 * 0 and 1, one with shuffled properties and an extra, one with trailing
 * bytes). Checks: every refusal names the file and leaves the output empty;
 * every accepted file has consistent counts, finite values, and encodes to
 * bytes that read back to the same values. */
#define DVREN_SPLAT_PLY_MAX_BYTES ((uint64_t)16 << 20)
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SPLAT_PLY_IMPLEMENTATION
#include "dvren_splat_ply.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    dvren_splats s, t;
    unsigned char* enc;
    size_t n, i;
    unsigned flags;
    if (size < 1) return 0;
    flags = (data[0] & 1) ? DVREN_SPLAT_PLY_LENIENT : 0;
    if (dvren_splat_ply_parse(NULL, data + 1, size - 1, "fz.ply", flags, &s) != DVREN_OK) {
        if (!strstr(dvren_last_error(NULL), "'fz.ply'") || s.count || s.means || s.props) __builtin_trap();
        return 0;
    }
    if (s.rest_count != 3 * s.rest_per_channel || s.prop_count < 14 || s.prop_count != 14 + 3 * (uint32_t)s.has_normals +
                                                                                          s.rest_count + s.extra_count)
        __builtin_trap();
    for (i = 0; i < s.count * 3; ++i)
        if (!isfinite(s.means[i]) || !isfinite(s.scale[i]) || !isfinite(s.f_dc[i])) __builtin_trap();
    if (dvren_splat_ply_encode(NULL, &s, &enc, &n) != DVREN_OK) __builtin_trap();
    if (dvren_splat_ply_parse(NULL, enc, n, "fz2.ply", 0, &t) != DVREN_OK) __builtin_trap();
    if (t.count != s.count || t.rest_count != s.rest_count || t.extra_count != s.extra_count ||
        (s.count && (memcmp(t.means, s.means, s.count * 12) != 0 || memcmp(t.rot, s.rot, s.count * 16) != 0 ||
                     memcmp(t.opacity, s.opacity, s.count * 4) != 0 ||
                     (s.rest_count && memcmp(t.f_rest, s.f_rest, s.count * s.rest_count * 4) != 0))))
        __builtin_trap();
    free(enc);
    dvren_splats_free(&s);
    dvren_splats_free(&t);
    return 0;
}
