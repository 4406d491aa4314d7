/* tests/fuzz/fuzz_blocks.c - libFuzzer target: tools/dvren_blocks.h's
 * loaders on bytes from memory, the format found from the first bytes
 * ("\x93NUMPY": .npy, "VOX ": .vox, else JSON). The cell cap is lowered to
 * 2^20 (a 4 MiB cell array) so that a tiny JSON declaring a large grid
 * stays under the fuzzer's malloc limit; the code paths that refuse larger
 * grids are the same. A world that loads is checked: pos, cell and the
 * counts agree, every logit is finite, the visible faces are at most 6 N,
 * and a small world saved and loaded again is the same bit for bit.
 * Seeds: written by tests/fuzz/seeds_blocks.py (JSON worlds, .npy label
 * volumes and block lists, a .vox). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#define DVREN_BLOCKS_MAX_CELLS ((uint64_t)1 << 20)
#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static char dir[64];
    dvren_blocks_world w, r;
    int kind = 'j';
    uint32_t k, m;
    size_t cells;
    const char* name = "fz.json";
    if (size >= 6 && !memcmp(data, "\x93NUMPY", 6)) kind = 'n', name = "fz.npy";
    else if (size >= 4 && !memcmp(data, "VOX ", 4)) kind = 'v', name = "fz.vox";
    if (dvren__blocks_parse(&w, name, kind, (const char*)data, size, NULL) != 0) {
        /* every error names the file; the world is empty */
        if (strncmp(w.error, name, strlen(name)) != 0 || w.error[strlen(name)] != ':' || w.cell || w.pos || w.block_count)
            __builtin_trap();
        return 0;
    }
    cells = (size_t)w.size[0] * (size_t)w.size[1] * (size_t)w.size[2];
    if (w.block_count > cells || w.material_count < 1) __builtin_trap();
    for (k = 0; k < w.block_count; ++k) {
        const int32_t* p = w.pos + 3 * (size_t)k;
        if (dvren_blocks_at(&w, p[0], p[1], p[2]) != (int64_t)k) __builtin_trap();
        for (m = 0; m < w.material_count; ++m)
            if (!isfinite(w.logits[(size_t)k * w.material_count + m])) __builtin_trap();
        if (dvren_blocks_argmax(&w, k) < 1 || dvren_blocks_argmax(&w, k) > w.material_count) __builtin_trap();
    }
    {
        size_t c, solid = 0;
        for (c = 0; c < cells; ++c) solid += w.cell[c] != 0;
        if (solid != w.block_count) __builtin_trap();
    }
    if (dvren_blocks_visible_faces(&w, NULL, NULL, 0) > 6 * (uint64_t)w.block_count) __builtin_trap();
    if ((uint64_t)w.block_count * w.material_count <= 4096) {
        char path[128];
        if (!dir[0]) {
            snprintf(dir, sizeof dir, "/tmp/fuzz_blocks.XXXXXX");
            if (!mkdtemp(dir)) __builtin_trap();
        }
        snprintf(path, sizeof path, "%s/w.json", dir);
        if (dvren_blocks_save(&w, path) != 0 || dvren_blocks_load(&r, path, NULL) != 0) __builtin_trap();
        if (memcmp(r.size, w.size, sizeof w.size) || r.block_count != w.block_count || r.material_count != w.material_count ||
            memcmp(r.materials, w.materials, w.material_count * sizeof *w.materials) ||
            (w.block_count && (memcmp(r.pos, w.pos, 3 * sizeof(int32_t) * w.block_count) ||
                               memcmp(r.logits, w.logits, sizeof(float) * w.block_count * w.material_count))))
            __builtin_trap();
        dvren_blocks_free(&r);
        remove(path);
    }
    dvren_blocks_free(&w);
    return 0;
}
