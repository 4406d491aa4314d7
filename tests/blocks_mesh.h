/* tests/blocks_mesh.h - a block world as a triangle mesh and a GLSL shader,
 * for the Mesa reference check of issue 12 (tests/test_blocks_mesa.c).
 *
 * What it is: a second implementation of docs/blocks.md, written from the
 * document and sharing no code with dvren's plugins (plugins/block_world,
 * plugins/dda, plugins/terrain are not included): the world's visible faces
 * become quads for a rasterizer (tests/mesa_ref.h, Mesa's OpenGL), each
 * vertex carrying its face's mixed material colour ("Mixing") and outward
 * normal, and blocks_mesh_fragment_shader computes "Shading" per fragment.
 * What it takes from dvren: the world model (tools/dvren_blocks.h: the grid,
 * the blocks' logits, dvren_blocks_visible_faces) and the engine's Philox
 * stream (dvren_rng_make / dvren_rng_uniform of dvren.h), which the Gumbel
 * noise is defined by. It is test infrastructure, not part of the engine.
 *
 * Do this: include dvren.h, dvren_blocks.h and mesa_ref.h first, then
 *     #define BLOCKS_MESH_IMPLEMENTATION
 *     #include "blocks_mesh.h"
 * in exactly one file (the tests build one file per program).
 *
 * The mesh (blocks_mesh_build): for each visible face (block k, face f, in
 * dvren_blocks_visible_faces' order) four vertices and two triangles (0, 1,
 * 2), (0, 2, 3); no face culling is needed (mesa_ref culls none). Face f is
 * 0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z; face f of cell (x, y, z) lies on the
 * plane of axis a = f / 2 at cell coordinate c_a + (f even ? 1 : 0), and its
 * corners are origin + scale * (cell corner), computed in double and stored
 * as float. Every vertex of the face has the face's outward unit normal and
 * the colour of its kind: top (f = 2), bottom (f = 3) or side (the others),
 * mixed over the M materials with the probabilities of docs/blocks.md,
 * "Mixing", computed in double:
 *     z_m = (l_km + g_km) / tau,  p_m = exp(z_m - max z) / sum_j exp(z_j - max z)
 *     softmax: g = 0;  gumbel: g_km = (float)(-ln(-ln u)), u the first
 *     dvren_rng_uniform of dvren_rng_make(seed_lo, seed_hi, k, m, 7) clamped
 *     to [2^-24, 1 - 2^-24];  hard: p = one-hot of argmax_m l_km (lowest index
 *     on ties).
 *     colour = sum_m p_m colour_m (the material's top, side or bottom RGB)
 *
 * The shader pair (blocks_mesh_vertex_shader, blocks_mesh_fragment_shader,
 * GLSL 330 core, mesa_ref's attribute names): the normal and the colour are
 * flat (equal on the four vertices anyway); the world position is
 * interpolated. Per fragment, docs/blocks.md "Shading":
 *     f    = the face of the normal's largest axis and its sign
 *     lit  = face_shade[f] * colour * (ambient + sun_color * max(0, n . L)),
 *            L = sun_direction / |sun_direction|
 *     fog  = 1 - exp(-fog_density * t),  t = |fragment world position - eye|
 *            (a perspective camera: the ray's origin is the eye)
 *     rgb  = lit * (1 - fog) + fog_color * fog,  alpha 1, nothing clamped
 * Uniforms (blocks_mesh_uniforms fills them): vec3 u_sun_direction,
 * u_sun_color, u_ambient, u_fog_color, u_eye; float u_face_shade[6],
 * u_fog_density.
 *
 * Errors: blocks_mesh_build returns -1 with a message in err naming the
 * argument (an unknown mode, a temperature that is not finite and > 0, an
 * empty world, a mesh over 2^32 vertices, out of memory); 0 on success.
 * Not thread-safe per mesh; no global state. */
#ifndef BLOCKS_MESH_H
#define BLOCKS_MESH_H

#include <stddef.h>
#include <stdint.h>

/* Mixing modes (docs/blocks.md, "Mixing"). */
#define BLOCKS_MESH_SOFTMAX 0
#define BLOCKS_MESH_GUMBEL 1
#define BLOCKS_MESH_HARD 2

/* A mesh of visible faces: 4 vertices and 6 indices per face. Owned
 * (malloc'ed) by the struct; free with blocks_mesh_free. */
typedef struct blocks_mesh {
    float* positions;    /* n_vertices x 3, world units */
    float* normals;      /* n_vertices x 3, the face's outward unit normal */
    float* colors;       /* n_vertices x 3, linear RGB: the mixed top/side/bottom colour */
    uint32_t n_vertices; /* 4 * faces */
    uint32_t* indices;   /* n_indices, 3 per triangle */
    uint32_t n_indices;  /* 6 * faces */
    uint64_t faces;      /* visible faces (dvren_blocks_visible_faces) */
} blocks_mesh;

/* The terrain shader's parameters (docs/blocks.md, "Shading"; the defaults
 * from blocks_shading_default). */
typedef struct blocks_shading {
    double sun_direction[3]; /* towards the sun, any length > 0 */
    double sun_color[3];     /* linear RGB */
    double ambient[3];       /* linear RGB */
    double face_shade[6];    /* per face f = 0..5 */
    double fog_density;      /* 1/world unit, 0: no fog */
    double fog_color[3];     /* linear RGB */
} blocks_shading;

/* Most uniforms blocks_mesh_uniforms writes. */
#define BLOCKS_MESH_MAX_UNIFORMS 12

/* The GLSL 330 core sources of the shader pair (attribute and uniform names
 * above; u_view and u_projection come from mesa_ref). */
extern const char blocks_mesh_vertex_shader[];
extern const char blocks_mesh_fragment_shader[];

/* The mesh of w's visible faces, coloured by mixing in mode (BLOCKS_MESH_*)
 * at temperature tau (> 0; unused by hard) with the Gumbel seed (unused
 * unless gumbel). *out is overwritten. Returns 0, or -1 with err set. */
int blocks_mesh_build(const dvren_blocks_world* w, int mode, double temperature, uint64_t seed, blocks_mesh* out, char* err,
                      size_t err_size);
/* Frees the arrays and zeroes *m (NULL is fine). */
void blocks_mesh_free(blocks_mesh* m);
/* The default parameters of docs/blocks.md's table. */
void blocks_shading_default(blocks_shading* s);
/* Fills u[0 .. BLOCKS_MESH_MAX_UNIFORMS-1] with the fragment shader's
 * uniforms for s and the camera eye (world units); returns the count. */
int blocks_mesh_uniforms(const blocks_shading* s, const double eye[3], mesa_ref_uniform* u);
/* Mixed colour of block k of w, face kind kind (0 top, 1 side, 2 bottom),
 * as blocks_mesh_build computes it (double). Returns 0, or -1 on a bad
 * mode, temperature or k. */
int blocks_mesh_mix(const dvren_blocks_world* w, uint32_t k, int kind, int mode, double temperature, uint64_t seed,
                    double rgb[3]);

#endif /* BLOCKS_MESH_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef BLOCKS_MESH_IMPLEMENTATION
#ifndef BLOCKS_MESH_IMPLEMENTATION_ONCE
#define BLOCKS_MESH_IMPLEMENTATION_ONCE

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char blocks_mesh_vertex_shader[] = "#version 330 core\n"
                                         "uniform mat4 u_view, u_projection;\n"
                                         "in vec3 a_position;\n"
                                         "in vec3 a_normal;\n"
                                         "in vec3 a_color;\n"
                                         "out vec3 v_world;\n"
                                         "flat out vec3 v_normal;\n"
                                         "flat out vec3 v_color;\n"
                                         "void main() {\n"
                                         "    v_world = a_position;\n"
                                         "    v_normal = a_normal;\n"
                                         "    v_color = a_color;\n"
                                         "    gl_Position = u_projection * u_view * vec4(a_position, 1.0);\n"
                                         "}\n";

/* docs/blocks.md, "Shading", line by line */
const char blocks_mesh_fragment_shader[] =
    "#version 330 core\n"
    "uniform vec3 u_sun_direction;\n"
    "uniform vec3 u_sun_color;\n"
    "uniform vec3 u_ambient;\n"
    "uniform float u_face_shade[6];\n"
    "uniform float u_fog_density;\n"
    "uniform vec3 u_fog_color;\n"
    "uniform vec3 u_eye;\n"
    "in vec3 v_world;\n"
    "flat in vec3 v_normal;\n"
    "flat in vec3 v_color;\n"
    "out vec4 o_color;\n"
    "void main() {\n"
    "    vec3 n = v_normal;\n"
    "    vec3 a = abs(n);\n"
    "    int f;\n"
    "    if (a.x >= a.y && a.x >= a.z) f = n.x < 0.0 ? 1 : 0;\n"
    "    else if (a.y >= a.z) f = n.y < 0.0 ? 3 : 2;\n"
    "    else f = n.z < 0.0 ? 5 : 4;\n"
    "    vec3 L = u_sun_direction / length(u_sun_direction);\n"
    "    vec3 lit = u_face_shade[f] * v_color * (u_ambient + u_sun_color * max(0.0, dot(n, L)));\n"
    "    float t = distance(v_world, u_eye);\n"
    "    float fog = 1.0 - exp(-u_fog_density * t);\n"
    "    o_color = vec4(lit * (1.0 - fog) + u_fog_color * fog, 1.0);\n"
    "}\n";

static void blocks_mesh__err(char* err, size_t n, const char* fmt, ...)
{
    va_list ap;
    if (!err || !n) return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

/* The Gumbel noise g_km of docs/blocks.md, "Mixing". */
static double blocks_mesh__gumbel(uint64_t seed, uint32_t k, uint32_t m)
{
    dvren_rng r = dvren_rng_make((uint32_t)(seed & 0xFFFFFFFFu), (uint32_t)(seed >> 32), k, m, 7u);
    double u = (double)dvren_rng_uniform(&r), lo = ldexp(1.0, -24);
    if (u < lo) u = lo;
    if (u > 1.0 - lo) u = 1.0 - lo;
    return (double)(float)(-log(-log(u)));
}

int blocks_mesh_mix(const dvren_blocks_world* w, uint32_t k, int kind, int mode, double temperature, uint64_t seed,
                    double rgb[3])
{
    double p[DVREN_BLOCKS_MAX_MATERIALS], zmax = -HUGE_VAL, sum = 0.0;
    const float* l;
    uint32_t M, m, arg = 0;
    int c;
    if (!w || !rgb || k >= w->block_count || kind < 0 || kind > 2) return -1;
    if (mode != BLOCKS_MESH_SOFTMAX && mode != BLOCKS_MESH_GUMBEL && mode != BLOCKS_MESH_HARD) return -1;
    if (mode != BLOCKS_MESH_HARD && !(temperature > 0.0 && isfinite(temperature))) return -1;
    M = w->material_count;
    l = w->logits + (size_t)k * M;
    if (mode == BLOCKS_MESH_HARD) {
        for (m = 1; m < M; ++m)
            if (l[m] > l[arg]) arg = m; /* the first of equal maxima */
        for (m = 0; m < M; ++m) p[m] = m == arg ? 1.0 : 0.0;
    } else {
        for (m = 0; m < M; ++m) {
            p[m] = ((double)l[m] + (mode == BLOCKS_MESH_GUMBEL ? blocks_mesh__gumbel(seed, k, m) : 0.0)) / temperature;
            if (p[m] > zmax) zmax = p[m];
        }
        for (m = 0; m < M; ++m) sum += (p[m] = exp(p[m] - zmax));
        for (m = 0; m < M; ++m) p[m] /= sum;
    }
    rgb[0] = rgb[1] = rgb[2] = 0.0;
    for (m = 0; m < M; ++m) {
        const dvren_blocks_material* mt = &w->materials[m];
        const float* col = kind == 0 ? mt->top : kind == 1 ? mt->side : mt->bottom;
        for (c = 0; c < 3; ++c) rgb[c] += p[m] * (double)col[c];
    }
    return 0;
}

void blocks_mesh_free(blocks_mesh* m)
{
    if (!m) return;
    free(m->positions);
    free(m->normals);
    free(m->colors);
    free(m->indices);
    memset(m, 0, sizeof *m);
}

int blocks_mesh_build(const dvren_blocks_world* w, int mode, double temperature, uint64_t seed, blocks_mesh* out, char* err,
                      size_t err_size)
{
    uint32_t* fk = NULL;
    uint8_t* ff = NULL;
    uint64_t n, i;
    /* the corners of face f in cell units, relative to the cell's low corner:
     * the face's axis at 1 (f even) or 0 (f odd), the other two axes around
     * the square */
    static const int sq[4][2] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}};
    static const uint32_t tri[6] = {0, 1, 2, 0, 2, 3};
    if (!out) return blocks_mesh__err(err, err_size, "blocks_mesh_build: out is NULL"), -1;
    memset(out, 0, sizeof *out);
    if (!w || !w->cell) return blocks_mesh__err(err, err_size, "blocks_mesh_build: world is NULL or empty"), -1;
    if (mode != BLOCKS_MESH_SOFTMAX && mode != BLOCKS_MESH_GUMBEL && mode != BLOCKS_MESH_HARD)
        return blocks_mesh__err(err, err_size, "blocks_mesh_build: mode %d is not softmax (0), gumbel (1) or hard (2)", mode), -1;
    if (mode != BLOCKS_MESH_HARD && !(temperature > 0.0 && isfinite(temperature)))
        return blocks_mesh__err(err, err_size, "blocks_mesh_build: temperature %g is not finite and > 0", temperature), -1;
    n = dvren_blocks_visible_faces(w, NULL, NULL, 0);
    if (n == 0) return blocks_mesh__err(err, err_size, "blocks_mesh_build: the world has no visible face"), -1;
    if (n > UINT32_MAX / 6u) return blocks_mesh__err(err, err_size, "blocks_mesh_build: %llu faces do not fit 32-bit indices", (unsigned long long)n), -1;
    fk = (uint32_t*)malloc((size_t)n * sizeof *fk);
    ff = (uint8_t*)malloc((size_t)n);
    out->positions = (float*)malloc((size_t)n * 12u * sizeof(float));
    out->normals = (float*)malloc((size_t)n * 12u * sizeof(float));
    out->colors = (float*)malloc((size_t)n * 12u * sizeof(float));
    out->indices = (uint32_t*)malloc((size_t)n * 6u * sizeof(uint32_t));
    if (!fk || !ff || !out->positions || !out->normals || !out->colors || !out->indices) {
        free(fk);
        free(ff);
        blocks_mesh_free(out);
        return blocks_mesh__err(err, err_size, "blocks_mesh_build: out of memory for %llu faces", (unsigned long long)n), -1;
    }
    dvren_blocks_visible_faces(w, fk, ff, n);
    for (i = 0; i < n; ++i) {
        uint32_t k = fk[i];
        int f = ff[i], a = f / 2, b = (a + 1) % 3, c = (a + 2) % 3, v, q;
        int kind = f == 2 ? 0 : f == 3 ? 2 : 1;
        const int32_t* cell = w->pos + 3u * (size_t)k;
        double rgb[3];
        blocks_mesh_mix(w, k, kind, mode, temperature, seed, rgb);
        for (v = 0; v < 4; ++v) {
            double corner[3];
            size_t o = ((size_t)i * 4u + (size_t)v) * 3u;
            corner[a] = cell[a] + ((f & 1) ? 0 : 1);
            corner[b] = cell[b] + sq[v][0];
            corner[c] = cell[c] + sq[v][1];
            for (q = 0; q < 3; ++q) {
                out->positions[o + (size_t)q] = (float)((double)w->origin[q] + (double)w->scale * corner[q]);
                out->normals[o + (size_t)q] = q == a ? ((f & 1) ? -1.0f : 1.0f) : 0.0f;
                out->colors[o + (size_t)q] = (float)rgb[q];
            }
        }
        for (q = 0; q < 6; ++q) out->indices[(size_t)i * 6u + (size_t)q] = (uint32_t)(i * 4u) + tri[q];
    }
    free(fk);
    free(ff);
    out->faces = n;
    out->n_vertices = (uint32_t)(n * 4u);
    out->n_indices = (uint32_t)(n * 6u);
    return 0;
}

void blocks_shading_default(blocks_shading* s)
{
    static const double shade[6] = {0.8, 0.8, 1.0, 0.5, 0.6, 0.6};
    int i;
    memset(s, 0, sizeof *s);
    s->sun_direction[0] = 0.4;
    s->sun_direction[1] = 1.0;
    s->sun_direction[2] = 0.3;
    for (i = 0; i < 3; ++i) {
        s->sun_color[i] = 0.6;
        s->ambient[i] = 0.4;
    }
    for (i = 0; i < 6; ++i) s->face_shade[i] = shade[i];
    s->fog_density = 0.0;
    s->fog_color[0] = 0.7;
    s->fog_color[1] = 0.8;
    s->fog_color[2] = 1.0;
}

static void blocks_mesh__uniform(mesa_ref_uniform* u, const char* name, int count, const double* v)
{
    int i;
    memset(u, 0, sizeof *u);
    u->name = name;
    u->count = count;
    for (i = 0; i < count; ++i) u->v[i] = (float)v[i];
}

int blocks_mesh_uniforms(const blocks_shading* s, const double eye[3], mesa_ref_uniform* u)
{
    static const char* const shade_names[6] = {"u_face_shade[0]", "u_face_shade[1]", "u_face_shade[2]",
                                               "u_face_shade[3]", "u_face_shade[4]", "u_face_shade[5]"};
    int n = 0, f;
    blocks_mesh__uniform(&u[n++], "u_sun_direction", 3, s->sun_direction);
    blocks_mesh__uniform(&u[n++], "u_sun_color", 3, s->sun_color);
    blocks_mesh__uniform(&u[n++], "u_ambient", 3, s->ambient);
    blocks_mesh__uniform(&u[n++], "u_fog_color", 3, s->fog_color);
    blocks_mesh__uniform(&u[n++], "u_fog_density", 1, &s->fog_density);
    blocks_mesh__uniform(&u[n++], "u_eye", 3, eye);
    for (f = 0; f < 6; ++f) blocks_mesh__uniform(&u[n++], shade_names[f], 1, &s->face_shade[f]);
    return n;
}

#endif /* BLOCKS_MESH_IMPLEMENTATION_ONCE */
#endif /* BLOCKS_MESH_IMPLEMENTATION */
