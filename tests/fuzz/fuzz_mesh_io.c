/* tests/fuzz/fuzz_mesh_io.c - libFuzzer target: tools/dvren_mesh_io.h's
 * readers (OBJ, PLY, GLB) parsing the input from memory. The first byte
 * picks the reader (value % 3: OBJ, PLY, GLB) and, for GLB, the Z-up flag
 * (bit 2). Seeds: tests/fuzz/seeds_mesh_io.py (a small OBJ with every face
 * form, ascii / little / big-endian PLY, and a GLB of two nodes written the
 * way dvren writes them). Checks: every refusal names the file and leaves
 * the output empty; every accepted mesh has indices below its vertex count
 * and finite positions, and encodes (in the same format) to bytes that
 * read back to the same counts. */
#define DVREN_MESH_IO_MAX_BYTES ((uint64_t)16 << 20)
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_MESH_IO_IMPLEMENTATION
#include "dvren_mesh_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static dvren_context* g_ctx;

/* Consistency of one mesh; traps otherwise. */
static void check_mesh(const dvren_mesh* m)
{
    uint64_t i;
    if ((m->vertex_count && !m->positions) || (m->triangle_count && !m->triangles)) __builtin_trap();
    for (i = 0; i < (uint64_t)m->vertex_count * 3; ++i)
        if (!isfinite(m->positions[i])) __builtin_trap();
    for (i = 0; i < (uint64_t)m->triangle_count * 3; ++i)
        if (m->triangles[i] >= m->vertex_count) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    dvren_mesh m, back;
    unsigned char* enc = NULL;
    size_t n = 0;
    int kind;
    if (size < 1) return 0;
    if (!g_ctx) {
        dvren_context_desc d;
        memset(&d, 0, sizeof d);
        d.threads = 1;
        if (dvren_context_create(&d, &g_ctx) != DVREN_OK) __builtin_trap();
    }
    kind = data[0] % 3;
    if (kind == 2) {
        dvren_mesh_glb g;
        dvren_mesh_object* objs;
        uint32_t i;
        if (dvren_mesh_glb_parse(g_ctx, data + 1, size - 1, "fz.glb", (data[0] & 4) ? DVREN_MESH_IO_Z_UP : 0, &g) != DVREN_OK) {
            if (!strstr(dvren_last_error(g_ctx), "'fz.glb'") || g.count || g.objects) __builtin_trap();
            return 0;
        }
        if (g.count == 0) return 0;
        objs = (dvren_mesh_object*)calloc(g.count, sizeof *objs);
        for (i = 0; i < g.count; ++i) {
            check_mesh(&g.objects[i].mesh);
            objs[i].name = g.objects[i].name;
            objs[i].mesh = &g.objects[i].mesh;
        }
        /* colours may be out of [0, 1] only through clamping bugs; normals may be anything finite */
        if (dvren_mesh_glb_encode(g_ctx, objs, g.count, 0, &enc, &n) == DVREN_OK) {
            dvren_mesh_glb h;
            if (dvren_mesh_glb_parse(g_ctx, enc, n, "fz2.glb", 0, &h) != DVREN_OK) __builtin_trap();
            dvren_mesh_glb_free(g_ctx, &h);
        }
        free(enc);
        free(objs);
        dvren_mesh_glb_free(g_ctx, &g);
        return 0;
    }
    if ((kind == 0 ? dvren_mesh_obj_parse(g_ctx, data + 1, size - 1, "fz.obj", &m)
                   : dvren_mesh_ply_parse(g_ctx, data + 1, size - 1, "fz.ply", &m)) != DVREN_OK) {
        if (!strstr(dvren_last_error(g_ctx), kind == 0 ? "'fz.obj" : "'fz.ply'") || m.vertex_count || m.positions || m.triangles)
            __builtin_trap();
        return 0;
    }
    check_mesh(&m);
    /* normals and colours read from a file are finite (OBJ and PLY refuse others), so the writers take them */
    if ((kind == 0 ? dvren_mesh_obj_encode(g_ctx, &m, NULL, (char**)&enc, &n) : dvren_mesh_ply_encode(g_ctx, &m, &enc, &n)) != DVREN_OK)
        __builtin_trap();
    if ((kind == 0 ? dvren_mesh_obj_parse(g_ctx, enc, n, "fz2.obj", &back) : dvren_mesh_ply_parse(g_ctx, enc, n, "fz2.ply", &back)) != DVREN_OK)
        __builtin_trap();
    if (back.vertex_count != m.vertex_count || back.triangle_count != m.triangle_count) __builtin_trap();
    free(enc);
    dvren_mesh_free(g_ctx, &back);
    dvren_mesh_free(g_ctx, &m);
    return 0;
}
