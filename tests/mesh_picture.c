/* tests/mesh_picture.c - a picture of a mesh file, drawn by Mesa's OpenGL
 * (tests/mesa_ref.h), for the figures of docs/meshes.md. Not a test and
 * not part of the build: docs/meshes.md ("Pictures") gives the command
 * that builds it and the calls that made each figure.
 *
 *   mesh_picture in.{obj,ply,glb} out.png --eye x y z --target x y z --up x y z
 *                [--size W H] [--fov DEG] [--y-up] [--color R G B] [--node NAME]
 *
 * The mesh is read with tools/dvren_mesh_io.h (dvren_mesh_load: a GLB's
 * objects merged, each moved by its node transforms; with the Z-up flag,
 * the default, in dvren's Z-up frame, --y-up: as the file has it), drawn
 * (--node NAME: only the GLB's object of that name, moved by its node
 * transforms) with a perspective camera (gluLookAt / gluPerspective, fov the vertical
 * field of view, default 30 degrees) and shaded per fragment:
 *     rgb = albedo * (0.25 + 0.75 |n . l|),  l the direction to the eye
 * (a headlight; |.| lights both sides), albedo the vertex colour (the
 * file's, else --color, else light grey) and n the interpolated vertex
 * normal (the triangle's own where the file has none). The background is
 * white; the PNG is 8-bit RGB, sRGB-encoded from the linear result. Exit
 * status 0, 1 on an error (message on stderr), 77 when Mesa is missing. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_MESH_IO_IMPLEMENTATION
#include "dvren_mesh_io.h"
#include "mesa_ref.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb/stb_image_write.h>

static const char mp_fragment[] = "#version 330 core\n"
                                   "uniform vec3 u_eye;\n"
                                   "in vec3 v_world;\n"
                                   "in vec3 v_normal;\n"
                                   "in vec3 v_color;\n"
                                   "out vec4 o_color;\n"
                                   "void main() {\n"
                                   "    vec3 n = v_normal;\n"
                                   "    if (dot(n, n) < 1e-12) n = cross(dFdx(v_world), dFdy(v_world));\n"
                                   "    n = normalize(n);\n"
                                   "    vec3 l = normalize(u_eye - v_world);\n"
                                   "    o_color = vec4(v_color * (0.25 + 0.75 * abs(dot(n, l))), 1.0);\n"
                                   "}\n";

static int mp_nums(int argc, char** argv, int* i, int n, double* out)
{
    int k;
    if (*i + n >= argc) return fprintf(stderr, "mesh_picture: %s needs %d numbers\n", argv[*i], n), 1;
    for (k = 0; k < n; ++k) {
        char* end;
        out[k] = strtod(argv[*i + 1 + k], &end);
        if (*end || !isfinite(out[k])) return fprintf(stderr, "mesh_picture: %s: '%s' is not a number\n", argv[*i], argv[*i + 1 + k]), 1;
    }
    *i += n;
    return 0;
}

static unsigned char mp_srgb(float v)
{
    double c = v < 0 ? 0 : v > 1 ? 1 : v;
    c = c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055;
    return (unsigned char)floor(c * 255.0 + 0.5);
}

int main(int argc, char** argv)
{
    const char *in = NULL, *out = NULL, *node = NULL;
    double eye[3] = {0, -3, 0}, target[3] = {0, 0, 0}, up[3] = {0, 0, 1}, size[2] = {320, 320}, fov = 30, grey[3] = {0.8, 0.8, 0.8};
    double radius = 0, d;
    uint32_t flags = DVREN_MESH_IO_Z_UP, i;
    int k, rc = 1, W, H;
    dvren_context* ctx = NULL;
    dvren_mesh m;
    float *rgba = NULL, *colors = NULL;
    unsigned char* png = NULL;
    mesa_ref_desc desc;
    mesa_ref_mesh mm;
    mesa_ref_uniform u;
    char err[1024];
    memset(&m, 0, sizeof m);
    for (k = 1; k < argc; ++k) {
        if (!strcmp(argv[k], "--eye")) { if (mp_nums(argc, argv, &k, 3, eye)) return 1; }
        else if (!strcmp(argv[k], "--target")) { if (mp_nums(argc, argv, &k, 3, target)) return 1; }
        else if (!strcmp(argv[k], "--up")) { if (mp_nums(argc, argv, &k, 3, up)) return 1; }
        else if (!strcmp(argv[k], "--size")) { if (mp_nums(argc, argv, &k, 2, size)) return 1; }
        else if (!strcmp(argv[k], "--fov")) { if (mp_nums(argc, argv, &k, 1, &fov)) return 1; }
        else if (!strcmp(argv[k], "--color")) { if (mp_nums(argc, argv, &k, 3, grey)) return 1; }
        else if (!strcmp(argv[k], "--y-up")) flags = 0;
        else if (!strcmp(argv[k], "--node") && k + 1 < argc) node = argv[++k];
        else if (argv[k][0] == '-') return fprintf(stderr, "mesh_picture: unknown option '%s'\n", argv[k]), 1;
        else if (!in) in = argv[k];
        else if (!out) out = argv[k];
        else return fprintf(stderr, "mesh_picture: extra argument '%s'\n", argv[k]), 1;
    }
    if (!in || !out) return fprintf(stderr, "usage: mesh_picture in.glb out.png --eye x y z --target x y z --up x y z [--size W H] [--fov DEG] [--y-up] [--color R G B] [--node NAME]\n"), 1;
    W = (int)size[0];
    H = (int)size[1];
    if (W < 1 || H < 1 || W > 4096 || H > 4096) return fprintf(stderr, "mesh_picture: --size out of range\n"), 1;
    if (dvren_context_create(NULL, &ctx) != DVREN_OK) return fprintf(stderr, "mesh_picture: %s\n", dvren_last_error(NULL)), 1;
    if (node) {
        dvren_mesh_glb g;
        uint32_t o;
        if (dvren_mesh_glb_load(ctx, in, flags, &g) != DVREN_OK) {
            fprintf(stderr, "mesh_picture: %s\n", dvren_last_error(ctx));
            goto done;
        }
        for (o = 0; o < g.count && strcmp(g.objects[o].name, node) != 0; ++o) {}
        if (o == g.count) {
            fprintf(stderr, "mesh_picture: %s has no object named '%s'\n", in, node);
            dvren_mesh_glb_free(ctx, &g);
            goto done;
        }
        m = g.objects[o].mesh; /* taken out of g */
        memset(&g.objects[o].mesh, 0, sizeof m);
        if (dvren_mesh_transform(ctx, &m, g.objects[o].world) != DVREN_OK) {
            fprintf(stderr, "mesh_picture: %s\n", dvren_last_error(ctx));
            dvren_mesh_glb_free(ctx, &g);
            goto done;
        }
        dvren_mesh_glb_free(ctx, &g);
    } else if (dvren_mesh_load(ctx, in, flags, &m) != DVREN_OK) {
        fprintf(stderr, "mesh_picture: %s\n", dvren_last_error(ctx));
        goto done;
    }
    if (!m.triangle_count) {
        fprintf(stderr, "mesh_picture: %s has no triangles\n", in);
        goto done;
    }
    if (!m.colors) {
        colors = (float*)malloc((size_t)m.vertex_count * 3 * sizeof(float));
        if (!colors) goto done;
        for (i = 0; i < 3 * m.vertex_count; ++i) colors[i] = (float)grey[i % 3];
    }
    /* near and far planes around the mesh */
    for (i = 0; i < m.vertex_count; ++i) {
        double s = 0;
        for (k = 0; k < 3; ++k) s += (m.positions[3 * i + k] - eye[k]) * (m.positions[3 * i + k] - eye[k]);
        if (s > radius) radius = s;
    }
    d = sqrt(radius);
    rgba = (float*)malloc((size_t)W * H * 4 * sizeof(float));
    png = (unsigned char*)malloc((size_t)W * H * 3);
    if (!rgba || !png) goto done;
    memset(&desc, 0, sizeof desc);
    desc.width = W;
    desc.height = H;
    mesa_ref_look_at(eye, target, up, desc.view);
    mesa_ref_perspective(fov * 3.14159265358979323846 / 180.0, (double)W / H, d * 1e-3, d * 1.01, 0, 0, desc.projection);
    desc.fragment_shader = mp_fragment;
    desc.clear_rgb[0] = desc.clear_rgb[1] = desc.clear_rgb[2] = 1.0f;
    memset(&u, 0, sizeof u);
    u.name = "u_eye";
    u.count = 3;
    for (k = 0; k < 3; ++k) u.v[k] = (float)eye[k];
    desc.uniforms = &u;
    desc.n_uniforms = 1;
    memset(&mm, 0, sizeof mm);
    mm.positions = m.positions;
    mm.normals = m.normals;
    mm.colors = m.colors ? m.colors : colors;
    mm.n_vertices = m.vertex_count;
    mm.indices = m.triangles;
    mm.n_indices = 3 * m.triangle_count;
    k = mesa_ref_render(&desc, &mm, rgba, err, sizeof err);
    if (k != MESA_REF_OK) {
        fprintf(stderr, "mesh_picture: %s\n", err);
        rc = k == MESA_REF_UNAVAILABLE ? 77 : 1;
        goto done;
    }
    for (i = 0; i < (uint32_t)(W * H); ++i) {
        float a = rgba[4 * i + 3];
        for (k = 0; k < 3; ++k) png[3 * i + k] = mp_srgb(rgba[4 * i + k] * a + (1 - a));
    }
    if (!stbi_write_png(out, W, H, 3, png, W * 3)) {
        fprintf(stderr, "mesh_picture: cannot write %s\n", out);
        goto done;
    }
    fprintf(stderr, "mesh_picture: wrote %s (%u triangles)\n", out, (unsigned)m.triangle_count);
    rc = 0;
done:
    free(rgba);
    free(png);
    free(colors);
    dvren_mesh_free(ctx, &m);
    if (ctx) dvren_context_destroy(ctx);
    return rc;
}
