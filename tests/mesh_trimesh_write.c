/* tests/mesh_trimesh_write.c OUTDIR - the files tests/test_mesh_trimesh.sh
 * hands to trimesh and pygltflib (tests/mesh_trimesh_check.py).
 *
 * Builds an icosphere analytically (the icosahedron's 12 vertices
 * (0, +-1, +-phi) and cyclic permutations, normalised, each triangle split
 * in four three times, midpoints pushed out to the sphere: 642 vertices,
 * 1280 triangles, closed, counter-clockwise outside) of radius 1.5 centred
 * at (0.25, -0.5, 1), with outward unit normals and colours, and a
 * tetrahedron; writes through tools/dvren_mesh_io.h:
 *   sphere.obj, sphere.ply     the sphere
 *   scene.glb                  "sphere" translated by (1, 2, 3), "tetra"
 *                              turned 90 degrees about z then moved by (-2, 0, 0)
 *   scene_zup.glb              the same with DVREN_MESH_IO_Z_UP
 * and prints on stdout a JSON summary computed here from the meshes in
 * memory (not through the writers): counts, per-object bounds, the
 * polyhedron's volume (divergence theorem, in double), the radius and
 * centre, the tetrahedron's vertices and the node transforms. */
/* TEST_LIBS: -lcjson */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_MESH_IO_IMPLEMENTATION
#include "dvren_mesh_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEVELS 3
#define MAXV 642
#define MAXT 1280

static double vx[MAXV][3];
static int nv;
static int edge_a[2 * MAXT], edge_b[2 * MAXT], edge_m[2 * MAXT], ne;

static int add_vertex(double x, double y, double z)
{
    double n = sqrt(x * x + y * y + z * z);
    vx[nv][0] = x / n, vx[nv][1] = y / n, vx[nv][2] = z / n;
    return nv++;
}

/* The midpoint vertex of edge (a, b), made once. */
static int midpoint(int a, int b)
{
    int i, lo = a < b ? a : b, hi = a < b ? b : a;
    for (i = 0; i < ne; ++i)
        if (edge_a[i] == lo && edge_b[i] == hi) return edge_m[i];
    edge_a[ne] = lo, edge_b[ne] = hi;
    edge_m[ne] = add_vertex(vx[a][0] + vx[b][0], vx[a][1] + vx[b][1], vx[a][2] + vx[b][2]);
    return edge_m[ne++];
}

int main(int argc, char** argv)
{
    static const int ico[20][3] = {{0, 11, 5}, {0, 5, 1},  {0, 1, 7},   {0, 7, 10}, {0, 10, 11}, {1, 5, 9}, {5, 11, 4},
                                   {11, 10, 2}, {10, 7, 6}, {7, 1, 8},  {3, 9, 4},  {3, 4, 2},   {3, 2, 6}, {3, 6, 8},
                                   {3, 8, 9},  {4, 9, 5},  {2, 4, 11}, {6, 2, 10}, {8, 6, 7},   {9, 8, 1}};
    static int tri[MAXT][3], tmp[MAXT][3];
    const double phi = (1 + sqrt(5.0)) / 2, R = 1.5, C[3] = {0.25, -0.5, 1.0};
    int nt = 20, level, i, k;
    dvren_context* ctx = NULL;
    dvren_context_desc d;
    dvren_mesh s, t;
    dvren_mesh_object obj[2];
    char path[4096];
    double vol = 0, mn[3], mx[3];
    if (argc != 2) {
        fprintf(stderr, "usage: mesh_trimesh_write OUTDIR\n");
        return 2;
    }
    /* the icosahedron: (-1, phi, 0) (1, phi, 0) (-1, -phi, 0) (1, -phi, 0) (0, -1, phi) (0, 1, phi) (0, -1, -phi)
     * (0, 1, -phi) (phi, 0, -1) (phi, 0, 1) (-phi, 0, -1) (-phi, 0, 1) */
    add_vertex(-1, phi, 0), add_vertex(1, phi, 0), add_vertex(-1, -phi, 0), add_vertex(1, -phi, 0);
    add_vertex(0, -1, phi), add_vertex(0, 1, phi), add_vertex(0, -1, -phi), add_vertex(0, 1, -phi);
    add_vertex(phi, 0, -1), add_vertex(phi, 0, 1), add_vertex(-phi, 0, -1), add_vertex(-phi, 0, 1);
    memcpy(tri, ico, sizeof ico);
    for (level = 0; level < LEVELS; ++level) {
        int n = 0;
        ne = 0;
        for (i = 0; i < nt; ++i) {
            int a = tri[i][0], b = tri[i][1], c = tri[i][2];
            int ab = midpoint(a, b), bc = midpoint(b, c), ca = midpoint(c, a);
            int q[4][3] = {{a, ab, ca}, {b, bc, ab}, {c, ca, bc}, {ab, bc, ca}};
            for (k = 0; k < 4; ++k) memcpy(tmp[n++], q[k], sizeof q[k]);
        }
        nt = n;
        memcpy(tri, tmp, (size_t)nt * sizeof tri[0]);
    }
    memset(&d, 0, sizeof d);
    if (nv != MAXV || nt != MAXT || dvren_context_create(&d, &ctx) != DVREN_OK ||
        dvren_mesh_alloc(ctx, (uint32_t)nv, (uint32_t)nt, DVREN_MESH_NORMALS | DVREN_MESH_COLORS, &s) != DVREN_OK ||
        dvren_mesh_alloc(ctx, 4, 4, 0, &t) != DVREN_OK) {
        fprintf(stderr, "setup failed (%d vertices, %d triangles): %s\n", nv, nt, dvren_last_error(ctx));
        return 1;
    }
    for (i = 0; i < nv; ++i)
        for (k = 0; k < 3; ++k) {
            s.positions[3 * i + k] = (float)(C[k] + R * vx[i][k]);
            s.normals[3 * i + k] = (float)vx[i][k];
            s.colors[3 * i + k] = (float)(0.5 + 0.5 * vx[i][k]);
        }
    for (i = 0; i < nt; ++i)
        for (k = 0; k < 3; ++k) s.triangles[3 * i + k] = (uint32_t)tri[i][k];
    /* the volume of the float polyhedron, and its bounds */
    for (i = 0; i < nt; ++i) {
        const float *a = s.positions + 3 * tri[i][0], *b = s.positions + 3 * tri[i][1], *c = s.positions + 3 * tri[i][2];
        vol += ((double)a[0] * ((double)b[1] * c[2] - (double)b[2] * c[1]) - (double)a[1] * ((double)b[0] * c[2] - (double)b[2] * c[0]) +
                (double)a[2] * ((double)b[0] * c[1] - (double)b[1] * c[0])) / 6.0;
    }
    for (k = 0; k < 3; ++k) mn[k] = mx[k] = s.positions[k];
    for (i = 0; i < nv; ++i)
        for (k = 0; k < 3; ++k) mn[k] = fmin(mn[k], s.positions[3 * i + k]), mx[k] = fmax(mx[k], s.positions[3 * i + k]);
    {
        static const float tp[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
        static const uint32_t tt[12] = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
        memcpy(t.positions, tp, sizeof tp);
        memcpy(t.triangles, tt, sizeof tt);
    }
    memset(obj, 0, sizeof obj);
    obj[0].name = "sphere";
    obj[0].mesh = &s;
    obj[0].translation[0] = 1, obj[0].translation[1] = 2, obj[0].translation[2] = 3;
    obj[1].name = "tetra";
    obj[1].mesh = &t;
    obj[1].rotation[2] = sqrt(0.5), obj[1].rotation[3] = sqrt(0.5);
    obj[1].translation[0] = -2;
#define WRITE(call)                                                  \
    if ((call) != DVREN_OK) {                                        \
        fprintf(stderr, "%s: %s\n", #call, dvren_last_error(ctx));   \
        return 1;                                                    \
    }
    snprintf(path, sizeof path, "%s/sphere.obj", argv[1]);
    WRITE(dvren_mesh_save(ctx, path, &s, 0));
    snprintf(path, sizeof path, "%s/sphere.ply", argv[1]);
    WRITE(dvren_mesh_save(ctx, path, &s, 0));
    snprintf(path, sizeof path, "%s/scene.glb", argv[1]);
    WRITE(dvren_mesh_glb_save(ctx, path, obj, 2, 0));
    snprintf(path, sizeof path, "%s/scene_zup.glb", argv[1]);
    WRITE(dvren_mesh_glb_save(ctx, path, obj, 2, DVREN_MESH_IO_Z_UP));
    printf("{\"sphere\": {\"vertices\": %d, \"triangles\": %d, \"volume\": %.17g, \"radius\": %.17g, \"center\": [%.17g, %.17g, %.17g],"
           " \"min\": [%.9g, %.9g, %.9g], \"max\": [%.9g, %.9g, %.9g], \"translation\": [1, 2, 3]},\n",
           nv, nt, vol, R, C[0], C[1], C[2], mn[0], mn[1], mn[2], mx[0], mx[1], mx[2]);
    printf(" \"tetra\": {\"vertices\": 4, \"triangles\": 4, \"positions\": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],"
           " \"rotation_xyzw\": [0, 0, %.17g, %.17g], \"translation\": [-2, 0, 0]}}\n",
           sqrt(0.5), sqrt(0.5));
    dvren_mesh_free(ctx, &s);
    dvren_mesh_free(ctx, &t);
    dvren_context_destroy(ctx);
    return 0;
}
