/* tools/dvren_blocks_mesh.h - a block world (tools/dvren_blocks.h,
 * docs/blocks.md) as a triangle mesh of its visible faces, for export
 * (the dvren_mesh tool's "blocks" command, docs/meshes.md).
 *
 * The mesh: for each visible face (block k, face f, in the order of
 * dvren_blocks_visible_faces: by k, then f; f is 0 +x, 1 -x, 2 +y, 3 -y,
 * 4 +z, 5 -z) four vertices and two triangles. Face f of the block in cell
 * (x, y, z) lies on the plane of axis a = f / 2 at cell coordinate
 * c_a + 1 (f even) or c_a (f odd); its corners, with b = (a + 1) % 3 and
 * c = (a + 2) % 3, are (b, c) = (0, 0), (1, 0), (1, 1), (0, 1) relative to
 * the cell's low corner, in world units origin + scale * corner (computed
 * in double, stored as float). Since (b, c, a) is a right-handed frame, that
 * order runs counter-clockwise seen from +a, so the triangles are (0, 1, 2),
 * (0, 2, 3) on a +a face and (0, 2, 1), (0, 3, 2) on a -a face: counter-
 * clockwise seen from outside, as dvren_mesh wants. Every vertex carries
 * the face's outward unit normal and the colour of the block's material in
 * docs/blocks.md's "hard" mode: the material of the argmax of the block's
 * logits (dvren_blocks_argmax: lowest index on ties, a NaN never wins), its
 * top colour on +y faces, bottom on -y, side on the others (the world's y
 * is up; linear RGB).
 *
 * Vertices are not shared between faces (each face has its own flat
 * normal), so the mesh's index topology has four boundary edges per face
 * even where the faces meet; welding equal positions closes it.
 * tests/blocks_mesh.h builds the same geometry independently for the Mesa
 * test (with the softmax and Gumbel mixes too); this one fills a dvren_mesh
 * for the writers of tools/dvren_mesh_io.h.
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_BLOCKS_MESH_IMPLEMENTATION
 *     #include "dvren_blocks_mesh.h"
 * after dvren.h and dvren_blocks.h (their implementations must be in the
 * program). No global state, no printing. */
#ifndef DVREN_BLOCKS_MESH_H
#define DVREN_BLOCKS_MESH_H

#include "dvren.h"
#include "dvren_blocks.h"

/* The mesh of w's visible faces (see the top of the file) into *out,
 * allocated through ctx (dvren_mesh_alloc with normals and colours; free it
 * with dvren_mesh_free(ctx, out)). *out is overwritten. Errors (message in
 * dvren_last_error(ctx), naming the world's problem): INVALID_ARGUMENT (NULL,
 * an empty world, a world without a visible face), UNSUPPORTED (more than
 * 2^29 faces: the vertex count must fit dvren_mesh's limit of 2^31),
 * OUT_OF_MEMORY. Thread: any, one world and one mesh per thread. */
DVREN_API dvren_status dvren_blocks_mesh_build(dvren_context* ctx, const dvren_blocks_world* w, dvren_mesh* out);

#endif /* DVREN_BLOCKS_MESH_H */

#ifdef DVREN_BLOCKS_MESH_IMPLEMENTATION
#ifndef DVREN_BLOCKS_MESH_IMPLEMENTATION_ONCE
#define DVREN_BLOCKS_MESH_IMPLEMENTATION_ONCE

#include <stdlib.h>
#include <string.h>

DVREN_API dvren_status dvren_blocks_mesh_build(dvren_context* ctx, const dvren_blocks_world* w, dvren_mesh* out)
{
    static const int sq[4][2] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}};
    static const uint32_t tri_pos[6] = {0, 1, 2, 0, 2, 3}, tri_neg[6] = {0, 2, 1, 0, 3, 2};
    uint32_t* fk = NULL;
    uint8_t* ff = NULL;
    uint64_t n, i;
    dvren_status st;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "blocks_mesh", NULL, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!w || !w->cell || !w->pos || !w->logits || !w->materials)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "blocks_mesh", NULL, "the world is NULL or empty");
    n = dvren_blocks_visible_faces(w, NULL, NULL, 0);
    if (n == 0)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "blocks_mesh", "place at least one block",
                               "the world has no visible face (%u blocks)", (unsigned)w->block_count);
    if (n > ((uint64_t)1 << 29))
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "blocks_mesh", NULL,
                               "%llu visible faces: 4 vertices each exceed a mesh's 2^31 vertices",
                               (unsigned long long)n);
    fk = (uint32_t*)malloc((size_t)n * sizeof *fk);
    ff = (uint8_t*)malloc((size_t)n);
    if (!fk || !ff) {
        free(fk);
        free(ff);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "blocks_mesh", NULL, "out of memory for %llu faces",
                               (unsigned long long)n);
    }
    st = dvren_mesh_alloc(ctx, (uint32_t)(4 * n), (uint32_t)(2 * n), DVREN_MESH_NORMALS | DVREN_MESH_COLORS, out);
    if (st != DVREN_OK) {
        free(fk);
        free(ff);
        return st;
    }
    dvren_blocks_visible_faces(w, fk, ff, n);
    for (i = 0; i < n; ++i) {
        uint32_t k = fk[i], mat = dvren_blocks_argmax(w, k);
        int f = ff[i], a = f / 2, b = (a + 1) % 3, c = (a + 2) % 3, v, q;
        const dvren_blocks_material* m = &w->materials[mat - 1];
        const float* rgb = f == 2 ? m->top : f == 3 ? m->bottom : m->side;
        const int32_t* cell = w->pos + 3 * (size_t)k;
        const uint32_t* tri = (f & 1) ? tri_neg : tri_pos;
        for (v = 0; v < 4; ++v) {
            double corner[3];
            size_t o = ((size_t)i * 4 + (size_t)v) * 3;
            corner[a] = (double)cell[a] + ((f & 1) ? 0.0 : 1.0);
            corner[b] = (double)cell[b] + sq[v][0];
            corner[c] = (double)cell[c] + sq[v][1];
            for (q = 0; q < 3; ++q) {
                out->positions[o + (size_t)q] = (float)((double)w->origin[q] + (double)w->scale * corner[q]);
                out->normals[o + (size_t)q] = q == a ? ((f & 1) ? -1.0f : 1.0f) : 0.0f;
                out->colors[o + (size_t)q] = rgb[q];
            }
        }
        for (q = 0; q < 6; ++q) out->triangles[(size_t)i * 6 + (size_t)q] = (uint32_t)(i * 4) + tri[q];
    }
    free(fk);
    free(ff);
    return DVREN_OK;
}

#endif /* DVREN_BLOCKS_MESH_IMPLEMENTATION_ONCE */
#endif /* DVREN_BLOCKS_MESH_IMPLEMENTATION */
