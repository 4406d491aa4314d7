/* tests/fuzz/fuzz_vox.c - libFuzzer target: tools/dvren_vox.h, the
 * MagicaVoxel .vox reader, parsing the input from memory. The caps are
 * lowered (16 MiB of placed voxels, 4096 placed shapes) so that inputs
 * which multiply instances through the scene graph stay fast; the code
 * paths that refuse them are the same. Seeds: written by tests/fuzz/seeds_vox.py
 * (synthetic: a 2 x 2 x 2 model with an RGBA chunk, a one-voxel model on
 * the default palette with unknown chunks, a scene graph with rotations). */
#define DVREN_VOX_MAX_BYTES ((size_t)16 << 20)
#define DVREN_VOX_MAX_INSTANCES ((size_t)4096)
#define DVREN_VOX_IMPLEMENTATION
#include "dvren_vox.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    dvren_vox_scene vs;
    dvren_vox_status st = dvren_vox_parse(&vs, data, size, "fz.vox");
    if (st == DVREN_VOX_OK) {
        /* touch what a caller reads: every voxel inside the reported bounds, colours 1..255 */
        size_t i;
        for (i = 0; i < vs.voxel_count; ++i) {
            const dvren_vox_voxel* v = &vs.voxels[i];
            if (v->color == 0 || v->model >= vs.model_count || v->x < vs.voxel_min[0] || v->x >= vs.voxel_max[0] ||
                v->y < vs.voxel_min[1] || v->y >= vs.voxel_max[1] || v->z < vs.voxel_min[2] || v->z >= vs.voxel_max[2])
                __builtin_trap();
        }
    } else if (vs.error[0] == 0 || strncmp(vs.error, "fz.vox: ", 8) != 0) {
        __builtin_trap(); /* every error names the file */
    }
    dvren_vox_free(&vs);
    return 0;
}
