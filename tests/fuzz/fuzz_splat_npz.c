/* tests/fuzz/fuzz_splat_npz.c - libFuzzer target: tools/dvren_splat_npz.h,
 * gsplat's .npz test scenes parsed from memory (and so tools/dvren_npz.h's
 * zip walker and tools/dvren_npy.h), with the crop on or off (the first
 * byte's low bit) and grid 1 or 3 (its next bit). The splat memory cap is
 * lowered to 16 MiB so that large declared shapes are refused quickly.
 * Seeds: written by tests/fuzz/seeds_splat_npz.py (small stored archives
 * with the six members, one with a damaged CRC, one missing a member).
 * Checks: every refusal names the file and leaves the output empty; every
 * accepted scene has counts that agree (cropped <= source, count = cropped
 * x grid^2), finite values, unit quaternions and cameras with the shapes
 * the file gave. */
#define DVREN_SPLAT_PLY_MAX_BYTES ((uint64_t)16 << 20)
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_SPLAT_NPZ_IMPLEMENTATION
#include "dvren_splat_npz.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    dvren_splat_npz_scene sc;
    dvren_splat_npz_options o;
    size_t i, g;
    if (size < 1) return 0;
    memset(&o, 0, sizeof o);
    o.flags = (data[0] & 1) ? DVREN_SPLAT_NPZ_NO_CROP : 0;
    o.grid = (data[0] & 2) ? 3 : 1;
    o.seed = data[0];
    if (dvren_splat_npz_parse(NULL, data + 1, size - 1, "fz.npz", &o, &sc) != DVREN_OK) {
        if (!strstr(dvren_last_error(NULL), "'fz.npz'") || sc.splats.count || sc.splats.means || sc.cameras) __builtin_trap();
        return 0;
    }
    g = (size_t)o.grid * o.grid;
    if (sc.cropped_count > sc.source_count || sc.splats.count != sc.cropped_count * g || sc.camera_count < 1 ||
        !sc.cameras || sc.width < 1 || sc.height < 1 || sc.splats.sh_degree != 0)
        __builtin_trap();
    for (i = 0; i < sc.splats.count; ++i) {
        const float* q = &sc.splats.rot[4 * i];
        double n2 = (double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3];
        int k;
        for (k = 0; k < 3; ++k)
            if (!isfinite(sc.splats.means[3 * i + (size_t)k]) || !isfinite(sc.splats.f_dc[3 * i + (size_t)k]) ||
                !isfinite(sc.splats.scale[3 * i + (size_t)k]))
                __builtin_trap();
        if (!isfinite(sc.splats.opacity[i]) || fabs(n2 - 1.0) > 1e-5) __builtin_trap();
    }
    for (i = 0; i < sc.camera_count; ++i)
        if (sc.cameras[i].viewmat[15] != 1.0f || !(sc.cameras[i].K[0] > 0.0f)) __builtin_trap();
    dvren_splat_npz_scene_free(&sc);
    return 0;
}
