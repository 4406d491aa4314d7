/* tools/dvren_blocks.h - a block world in host memory: the grid, the
 * blocks' positions and material logits, the material table; loaders
 * (JSON world files, .npy label volumes and block lists, MagicaVoxel .vox),
 * editing (place, remove) and exact saving. The format and the conventions
 * are docs/blocks.md ("World", "Materials", "World files"); the block_world
 * field plugin, the dvren_blocks tool, the Mesa reference test and the
 * Python package all use this one model. Depends on the C library, cJSON,
 * dvren_io.h, dvren_npy.h and dvren_vox.h. No global mutable state, no
 * printing, no exit(): it is built into the block_world plugin (a shared
 * library) as it is into the tools. Functions on different worlds may run
 * on different threads at once; one world is one thread's at a time.
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_BLOCKS_IMPLEMENTATION
 *     #include "dvren_blocks.h"
 * (it defines DVREN_VOX_IMPLEMENTATION, DVREN_NPY_IMPLEMENTATION and
 * DVREN_IO_IMPLEMENTATION too) and link -lcjson. Other files include it
 * without the define (declarations only).
 *
 *   dvren_blocks_world w;
 *   if (dvren_blocks_load(&w, "house.vox", NULL) != 0) { fprintf(stderr, "%s\n", w.error); ... }
 *   dvren_blocks_place_material(&w, 3, 0, 5, 2, 10.0f);   a dirt block (material id 2)
 *   dvren_blocks_remove(&w, 4, 1, 5);
 *   dvren_blocks_save(&w, "house.json");
 *   dvren_blocks_free(&w);
 *
 * Every function returns 0 on success and -1 on failure with w->error
 * set ("<file>: <field>: <problem>"; the editing functions put their own
 * name in the place of the file, e.g. "dvren_blocks_remove: position: (4,
 * 1, 5) is air"); on failure the world is unchanged (load: empty and
 * freeable, with the error).
 *
 * Strictness of the loaders (each refusal names the file, the field and
 * the problem): JSON with a syntax error, an unknown or repeated key, a
 * value of the wrong type, a "format" other than "dvren.blocks/1", no
 * "size"; a grid edge outside 1..DVREN_BLOCKS_MAX_EDGE or more than
 * DVREN_BLOCKS_MAX_CELLS cells, more than DVREN_BLOCKS_MAX_MATERIALS
 * materials (all checked before anything is allocated for them); a
 * material name that is not 1..31 printable ASCII characters without
 * blanks, quotes or backslashes; a colour outside [0, 1]; a scale that is
 * not finite and > 0 in float32; a position that is not an integer inside
 * the grid, or given twice; a material id outside 1..M; a logit row of the
 * wrong length; a logit that is not finite in float32; a .npy that
 * dvren_npy.h refuses, of another dtype or shape, or whose label exceeds M;
 * a .vox that dvren_vox.h refuses, that places no voxels, or places two on
 * one cell. Files larger than DVREN_BLOCKS_MAX_FILE_BYTES (.vox:
 * DVREN_VOX_MAX_BYTES) are refused without reading them whole. */
#ifndef DVREN_BLOCKS_H
#define DVREN_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

/* Largest grid edge and most materials a world may have. */
#define DVREN_BLOCKS_MAX_EDGE 4096
#define DVREN_BLOCKS_MAX_MATERIALS 256
/* Largest cell count (X * Y * Z) of a grid: the cell index is uint32. It
 * may be lowered before including (the fuzz target does), not raised. */
#ifndef DVREN_BLOCKS_MAX_CELLS
#define DVREN_BLOCKS_MAX_CELLS ((uint64_t)1 << 30)
#endif
/* Largest .json / .npy file the loaders read (bytes). */
#ifndef DVREN_BLOCKS_MAX_FILE_BYTES
#define DVREN_BLOCKS_MAX_FILE_BYTES ((size_t)1 << 31)
#endif

/* One material: linear RGB in [0, 1] of its top (+y), side and bottom (-y)
 * faces; name: 1..31 printable ASCII characters without blanks, quotes or
 * backslashes, NUL-terminated. */
typedef struct dvren_blocks_material {
    char name[32];
    float top[3], side[3], bottom[3];
} dvren_blocks_material;

/* A world. pos, logits and cell describe the same blocks and are kept in
 * sync by the functions here; read them, change them only through them
 * (the logits' values may be written in place; dvren_blocks_save refuses a
 * non-finite one). */
typedef struct dvren_blocks_world {
    int32_t size[3];                  /* X, Y, Z cells, each 1 .. DVREN_BLOCKS_MAX_EDGE; y is up */
    float scale;                      /* world units per cell edge (> 0) */
    float origin[3];                  /* world position of cell (0, 0, 0)'s low corner */
    uint32_t material_count;          /* M, 1 .. DVREN_BLOCKS_MAX_MATERIALS */
    dvren_blocks_material* materials; /* M entries: material id m + 1 is materials[m] */
    uint32_t block_count;             /* N */
    uint32_t block_cap;               /* allocated rows of pos and logits */
    int32_t* pos;                     /* N x 3: block k's cell (x, y, z) */
    float* logits;                    /* N x M: block k's logits, row k */
    uint32_t* cell;                   /* X * Y * Z, linear index x + X * (y + Y * z): 0 air, k + 1 block k */
    char error[512];
} dvren_blocks_world;

/* Options of the loaders (NULL: the defaults in brackets; a zero field is
 * its default too). */
typedef struct dvren_blocks_load_options {
    float label_logit;            /* logit of a label's material, the others 0 [10]; finite, > 0 */
    const char* materials_path;   /* a JSON file {"materials": [...]} replacing the default table of a
                                     file that brings none (.npy, .json without "materials"), or NULL */
} dvren_blocks_load_options;

/* The default material table (docs/blocks.md), *count entries (8; count may be NULL). Static. */
const dvren_blocks_material* dvren_blocks_default_materials(uint32_t* count);

/* An empty world of size[3] cells with materials (NULL: the default table,
 * material_count ignored; else material_count entries, copied and checked:
 * names as above, colours in [0, 1]), scale 1, origin 0. *w is overwritten
 * (not freed first). Errors: a size outside the limits, a bad table, out of
 * memory. */
int dvren_blocks_init(dvren_blocks_world* w, const int32_t size[3], const dvren_blocks_material* materials,
                      uint32_t material_count);
/* Loads by extension (case-insensitive): .json (world file), .npy (a uint8
 * (X, Y, Z) label volume or a float32/float64 (N, 3 + M) block list, by
 * dtype and shape), .vox (MagicaVoxel). Block order: the file's (JSON rows,
 * block-list rows, .vox voxels as dvren_vox_load places them); a label
 * volume's blocks in increasing linear cell index. *w is overwritten. */
int dvren_blocks_load(dvren_blocks_world* w, const char* path, const dvren_blocks_load_options* opt);
/* Frees everything and zeroes *w (NULL is fine). */
void dvren_blocks_free(dvren_blocks_world* w);

/* Block at cell (x, y, z): its index k, or -1 for air or outside the grid. */
int64_t dvren_blocks_at(const dvren_blocks_world* w, int32_t x, int32_t y, int32_t z);
/* Places a block with the given M logits at (x, y, z) (replacing the
 * logits of a block already there; a new block gets index N). Errors:
 * outside the grid, a non-finite logit, out of memory. */
int dvren_blocks_place(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z, const float* logits);
/* The same with one-hot logits: `logit` for material id 1..M, 0 for the
 * others. Errors: also a material id outside 1..M, a non-finite logit. */
int dvren_blocks_place_material(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z, uint32_t material, float logit);
/* Removes the block at (x, y, z) (the last block takes its index k).
 * Errors: outside the grid, air there. */
int dvren_blocks_remove(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z);
/* Material id (1..M) of block k: the argmax of its logits (lowest on
 * ties; a NaN never wins); 0 when k >= N. */
uint32_t dvren_blocks_argmax(const dvren_blocks_world* w, uint32_t k);
/* Writes a dvren.blocks/1 JSON file (atomically: a temporary file in the
 * same folder, renamed): size, scale, origin, the whole material table,
 * then one row [x, y, z, l_0 .. l_M-1] per block in block order, floats
 * with "%.9g" so that every float32 reads back bit for bit. Errors: a
 * non-finite logit, a file that cannot be written (nothing is left). */
int dvren_blocks_save(dvren_blocks_world* w, const char* path);
/* Writes the argmax label volume as a .npy (format 1.0, '|u1', shape
 * (X, Y, Z), C order: element [x][y][z] = 0 for air, else
 * dvren_blocks_argmax of the block there), atomically like
 * dvren_blocks_save. Errors: a block whose material id is over 255 (it
 * does not fit uint8), a file that cannot be written. */
int dvren_blocks_save_labels(dvren_blocks_world* w, const char* path);

/* Faces next to air or the grid's edge (the visible faces), each as block
 * k and face f (0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z), in order of k, then
 * f. Writes the first min(count, cap) pairs into k_out / f_out (either
 * may be NULL: not written) and returns the number of visible faces
 * (at most 6 N). */
uint64_t dvren_blocks_visible_faces(const dvren_blocks_world* w, uint32_t* k_out, uint8_t* f_out, uint64_t cap);

#endif /* DVREN_BLOCKS_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_BLOCKS_IMPLEMENTATION
#ifndef DVREN_BLOCKS_IMPLEMENTATION_ONCE
#define DVREN_BLOCKS_IMPLEMENTATION_ONCE

#ifndef DVREN_VOX_IMPLEMENTATION
#define DVREN_VOX_IMPLEMENTATION
#endif
#include "dvren_vox.h" /* defines DVREN_IO_IMPLEMENTATION: dvren_io_read_file, dvren_io_buf */
#ifndef DVREN_NPY_IMPLEMENTATION
#define DVREN_NPY_IMPLEMENTATION
#endif
#include "dvren_npy.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#include <process.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

/* ======================================================================== */
/* >>materials                                                              */
/* ======================================================================== */

/* docs/blocks.md, "Materials": ids 1..8 */
static const dvren_blocks_material dvren__blocks_default[8] = {
    {"grass", {0.35f, 0.62f, 0.24f}, {0.45f, 0.36f, 0.22f}, {0.47f, 0.33f, 0.20f}},
    {"dirt", {0.47f, 0.33f, 0.20f}, {0.47f, 0.33f, 0.20f}, {0.47f, 0.33f, 0.20f}},
    {"stone", {0.50f, 0.50f, 0.50f}, {0.50f, 0.50f, 0.50f}, {0.50f, 0.50f, 0.50f}},
    {"sand", {0.86f, 0.80f, 0.56f}, {0.86f, 0.80f, 0.56f}, {0.86f, 0.80f, 0.56f}},
    {"wood", {0.62f, 0.50f, 0.30f}, {0.40f, 0.29f, 0.16f}, {0.62f, 0.50f, 0.30f}},
    {"leaves", {0.20f, 0.45f, 0.15f}, {0.20f, 0.45f, 0.15f}, {0.20f, 0.45f, 0.15f}},
    {"water", {0.20f, 0.35f, 0.80f}, {0.20f, 0.35f, 0.80f}, {0.20f, 0.35f, 0.80f}},
    {"snow", {0.95f, 0.97f, 1.00f}, {0.80f, 0.82f, 0.86f}, {0.47f, 0.33f, 0.20f}},
};

const dvren_blocks_material* dvren_blocks_default_materials(uint32_t* count)
{
    if (count) *count = 8;
    return dvren__blocks_default;
}

/* ======================================================================== */
/* >>errors                                                                 */
/* ======================================================================== */

/* Sets w->error to "<file>: <field>: <problem>" and returns -1. */
static int dvren__blocks_fail(dvren_blocks_world* w, const char* file, const char* field, const char* fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(w->error, sizeof w->error, "%s: %s: %s", file, field, msg);
    return -1;
}

/* NULL when the name is a valid material name, else what is wrong. */
static const char* dvren__blocks_bad_name(const char* s)
{
    size_t n = 0;
    for (; s[n]; ++n) {
        unsigned char ch = (unsigned char)s[n];
        if (n >= 31) return "is longer than 31 characters";
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\'' || ch == '\\')
            return "holds a blank, a control or non-ASCII character, a quote or a backslash";
    }
    return n ? NULL : "is empty";
}

/* Checks a material table (names, colours in [0, 1]); field prefix pre. */
static int dvren__blocks_check_materials(dvren_blocks_world* w, const char* file, const char* pre, const dvren_blocks_material* m,
                                         uint32_t count)
{
    uint32_t i;
    int c;
    if (count < 1 || count > DVREN_BLOCKS_MAX_MATERIALS)
        return dvren__blocks_fail(w, file, pre, "%lu materials (1..%d allowed)", (unsigned long)count, DVREN_BLOCKS_MAX_MATERIALS);
    for (i = 0; i < count; ++i) {
        char f[64];
        const char* e;
        if (!memchr(m[i].name, 0, sizeof m[i].name)) e = "is not NUL-terminated within 32 bytes";
        else e = dvren__blocks_bad_name(m[i].name);
        if (e) {
            snprintf(f, sizeof f, "%s[%lu].name", pre, (unsigned long)i);
            return dvren__blocks_fail(w, file, f, "the name %s", e);
        }
        for (c = 0; c < 9; ++c) {
            const float* v = c < 3 ? m[i].top : c < 6 ? m[i].side : m[i].bottom;
            float x = v[c % 3];
            if (!(x >= 0.0f && x <= 1.0f)) {
                snprintf(f, sizeof f, "%s[%lu].%s", pre, (unsigned long)i, c < 3 ? "top" : c < 6 ? "side" : "bottom");
                return dvren__blocks_fail(w, file, f, "component %d is %g, outside [0, 1]", c % 3, (double)x);
            }
        }
    }
    return 0;
}

/* ======================================================================== */
/* >>world: init, free, blocks                                              */
/* ======================================================================== */

/* 0 when size is a valid grid, else -1 with the error (checked before any allocation). */
static int dvren__blocks_check_size(dvren_blocks_world* w, const char* file, const char* field, const int64_t size[3])
{
    int a;
    for (a = 0; a < 3; ++a)
        if (size[a] < 1 || size[a] > DVREN_BLOCKS_MAX_EDGE)
            return dvren__blocks_fail(w, file, field, "%c = %lld is outside 1..%d", "XYZ"[a], (long long)size[a], DVREN_BLOCKS_MAX_EDGE);
    if ((uint64_t)size[0] * (uint64_t)size[1] * (uint64_t)size[2] > DVREN_BLOCKS_MAX_CELLS)
        return dvren__blocks_fail(w, file, field, "%lld x %lld x %lld = %llu cells, over the limit of %llu", (long long)size[0],
                                  (long long)size[1], (long long)size[2],
                                  (unsigned long long)((uint64_t)size[0] * (uint64_t)size[1] * (uint64_t)size[2]),
                                  (unsigned long long)DVREN_BLOCKS_MAX_CELLS);
    return 0;
}

/* init without the error-preserving wrapper: file names the source in messages */
static int dvren__blocks_init(dvren_blocks_world* w, const char* file, const int64_t size[3], const dvren_blocks_material* mats,
                              uint32_t count)
{
    uint64_t cells;
    memset(w, 0, sizeof *w);
    if (!mats) mats = dvren_blocks_default_materials(&count);
    if (dvren__blocks_check_size(w, file, "size", size) || dvren__blocks_check_materials(w, file, "materials", mats, count)) return -1;
    cells = (uint64_t)size[0] * (uint64_t)size[1] * (uint64_t)size[2];
    w->cell = (uint32_t*)calloc((size_t)cells, sizeof *w->cell);
    w->materials = (dvren_blocks_material*)malloc(count * sizeof *w->materials);
    if (!w->cell || !w->materials) {
        free(w->cell);
        free(w->materials);
        w->cell = NULL;
        w->materials = NULL;
        return dvren__blocks_fail(w, file, "size", "out of memory for %llu cells", (unsigned long long)cells);
    }
    memcpy(w->materials, mats, count * sizeof *w->materials);
    w->material_count = count;
    w->size[0] = (int32_t)size[0];
    w->size[1] = (int32_t)size[1];
    w->size[2] = (int32_t)size[2];
    w->scale = 1.0f;
    return 0;
}

int dvren_blocks_init(dvren_blocks_world* w, const int32_t size[3], const dvren_blocks_material* materials, uint32_t material_count)
{
    int64_t s[3];
    if (!w) return -1;
    if (!size) {
        memset(w, 0, sizeof *w);
        return dvren__blocks_fail(w, "dvren_blocks_init", "size", "NULL");
    }
    s[0] = size[0];
    s[1] = size[1];
    s[2] = size[2];
    return dvren__blocks_init(w, "dvren_blocks_init", s, materials, material_count);
}

void dvren_blocks_free(dvren_blocks_world* w)
{
    if (!w) return;
    free(w->materials);
    free(w->pos);
    free(w->logits);
    free(w->cell);
    memset(w, 0, sizeof *w);
}

static int dvren__blocks_inside(const dvren_blocks_world* w, int64_t x, int64_t y, int64_t z)
{
    return x >= 0 && y >= 0 && z >= 0 && x < w->size[0] && y < w->size[1] && z < w->size[2];
}

static size_t dvren__blocks_index(const dvren_blocks_world* w, int32_t x, int32_t y, int32_t z)
{
    return (size_t)x + (size_t)w->size[0] * ((size_t)y + (size_t)w->size[1] * (size_t)z);
}

/* Room for at least n blocks (n <= the cell count). */
static int dvren__blocks_reserve(dvren_blocks_world* w, const char* file, uint64_t n)
{
    uint64_t cap, M = w->material_count;
    int32_t* p;
    float* l;
    if (n <= w->block_cap) return 0;
    cap = w->block_cap ? 2 * (uint64_t)w->block_cap : 64;
    if (cap < n) cap = n;
    if (cap > DVREN_BLOCKS_MAX_CELLS) cap = DVREN_BLOCKS_MAX_CELLS;
    if (cap < n || cap * M > (uint64_t)(SIZE_MAX / sizeof(float)))
        return dvren__blocks_fail(w, file, "blocks", "%llu blocks of %llu logits do not fit in memory", (unsigned long long)n,
                                  (unsigned long long)M);
    p = (int32_t*)realloc(w->pos, (size_t)cap * 3 * sizeof *p);
    if (!p) return dvren__blocks_fail(w, file, "blocks", "out of memory for %llu blocks", (unsigned long long)cap);
    w->pos = p;
    l = (float*)realloc(w->logits, (size_t)(cap * M) * sizeof *l);
    if (!l) return dvren__blocks_fail(w, file, "blocks", "out of memory for %llu x %llu logits", (unsigned long long)cap, (unsigned long long)M);
    w->logits = l;
    w->block_cap = (uint32_t)cap;
    return 0;
}

/* Appends a block at a free cell (the caller checked the position and the
 * logits; space reserved). */
static void dvren__blocks_append(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z, const float* logits)
{
    uint32_t k = w->block_count++;
    w->pos[3 * (size_t)k + 0] = x;
    w->pos[3 * (size_t)k + 1] = y;
    w->pos[3 * (size_t)k + 2] = z;
    memcpy(w->logits + (size_t)k * w->material_count, logits, w->material_count * sizeof(float));
    w->cell[dvren__blocks_index(w, x, y, z)] = k + 1;
}

/* A loader's block: inside the grid, not given before, logits finite. */
static int dvren__blocks_add(dvren_blocks_world* w, const char* file, const char* field, int64_t x, int64_t y, int64_t z,
                             const float* logits)
{
    uint32_t m, prev;
    if (!dvren__blocks_inside(w, x, y, z))
        return dvren__blocks_fail(w, file, field, "position (%lld, %lld, %lld) is outside the %ld x %ld x %ld grid", (long long)x,
                                  (long long)y, (long long)z, (long)w->size[0], (long)w->size[1], (long)w->size[2]);
    prev = w->cell[dvren__blocks_index(w, (int32_t)x, (int32_t)y, (int32_t)z)];
    if (prev)
        return dvren__blocks_fail(w, file, field, "position (%lld, %lld, %lld) is given twice (first by block %lu)", (long long)x,
                                  (long long)y, (long long)z, (unsigned long)(prev - 1));
    for (m = 0; m < w->material_count; ++m)
        if (!isfinite(logits[m])) return dvren__blocks_fail(w, file, field, "logit %lu is not finite", (unsigned long)m);
    if (dvren__blocks_reserve(w, file, (uint64_t)w->block_count + 1)) return -1;
    dvren__blocks_append(w, (int32_t)x, (int32_t)y, (int32_t)z, logits);
    return 0;
}

int64_t dvren_blocks_at(const dvren_blocks_world* w, int32_t x, int32_t y, int32_t z)
{
    if (!w || !w->cell || !dvren__blocks_inside(w, x, y, z)) return -1;
    return (int64_t)w->cell[dvren__blocks_index(w, x, y, z)] - 1;
}

int dvren_blocks_place(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z, const float* logits)
{
    static const char* fn = "dvren_blocks_place";
    float row[DVREN_BLOCKS_MAX_MATERIALS];
    uint32_t m, k;
    if (!w) return -1;
    if (!w->cell) return dvren__blocks_fail(w, fn, "world", "not initialised");
    if (!logits) return dvren__blocks_fail(w, fn, "logits", "NULL");
    if (!dvren__blocks_inside(w, x, y, z))
        return dvren__blocks_fail(w, fn, "position", "(%ld, %ld, %ld) is outside the %ld x %ld x %ld grid", (long)x, (long)y, (long)z,
                                  (long)w->size[0], (long)w->size[1], (long)w->size[2]);
    for (m = 0; m < w->material_count; ++m)
        if (!isfinite(logits[m])) return dvren__blocks_fail(w, fn, "logits", "logit %lu is not finite", (unsigned long)m);
    /* a copy: logits may point into w->logits, which growing moves */
    memcpy(row, logits, w->material_count * sizeof(float));
    k = w->cell[dvren__blocks_index(w, x, y, z)];
    if (k) {
        memcpy(w->logits + (size_t)(k - 1) * w->material_count, row, w->material_count * sizeof(float));
        return 0;
    }
    if (dvren__blocks_reserve(w, fn, (uint64_t)w->block_count + 1)) return -1;
    dvren__blocks_append(w, x, y, z, row);
    return 0;
}

int dvren_blocks_place_material(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z, uint32_t material, float logit)
{
    static const char* fn = "dvren_blocks_place_material";
    float row[DVREN_BLOCKS_MAX_MATERIALS];
    if (!w) return -1;
    if (!w->cell) return dvren__blocks_fail(w, fn, "world", "not initialised");
    if (material < 1 || material > w->material_count)
        return dvren__blocks_fail(w, fn, "material", "id %lu is outside 1..%lu", (unsigned long)material, (unsigned long)w->material_count);
    if (!isfinite(logit)) return dvren__blocks_fail(w, fn, "logit", "not finite");
    memset(row, 0, sizeof row);
    row[material - 1] = logit;
    if (dvren_blocks_place(w, x, y, z, row)) {
        /* name this function in the message */
        char keep[sizeof w->error];
        const char* rest = w->error + strlen("dvren_blocks_place");
        snprintf(keep, sizeof keep, "%s%s", fn, rest);
        memcpy(w->error, keep, sizeof keep);
        return -1;
    }
    return 0;
}

int dvren_blocks_remove(dvren_blocks_world* w, int32_t x, int32_t y, int32_t z)
{
    static const char* fn = "dvren_blocks_remove";
    uint32_t k, last;
    size_t M;
    if (!w) return -1;
    if (!w->cell) return dvren__blocks_fail(w, fn, "world", "not initialised");
    if (!dvren__blocks_inside(w, x, y, z))
        return dvren__blocks_fail(w, fn, "position", "(%ld, %ld, %ld) is outside the %ld x %ld x %ld grid", (long)x, (long)y, (long)z,
                                  (long)w->size[0], (long)w->size[1], (long)w->size[2]);
    k = w->cell[dvren__blocks_index(w, x, y, z)];
    if (!k) return dvren__blocks_fail(w, fn, "position", "(%ld, %ld, %ld) is air", (long)x, (long)y, (long)z);
    k -= 1;
    last = w->block_count - 1;
    M = w->material_count;
    w->cell[dvren__blocks_index(w, x, y, z)] = 0;
    if (k != last) {
        const int32_t* q = w->pos + 3 * (size_t)last;
        memcpy(w->pos + 3 * (size_t)k, q, 3 * sizeof *q);
        memcpy(w->logits + (size_t)k * M, w->logits + (size_t)last * M, M * sizeof(float));
        w->cell[dvren__blocks_index(w, q[0], q[1], q[2])] = k + 1;
    }
    w->block_count = last;
    return 0;
}

uint32_t dvren_blocks_argmax(const dvren_blocks_world* w, uint32_t k)
{
    const float* l;
    uint32_t m, best = 0;
    if (!w || k >= w->block_count) return 0;
    l = w->logits + (size_t)k * w->material_count;
    for (m = 1; m < w->material_count; ++m)
        if (l[m] > l[best] || (l[best] != l[best] && l[m] == l[m])) best = m;
    return best + 1;
}

uint64_t dvren_blocks_visible_faces(const dvren_blocks_world* w, uint32_t* k_out, uint8_t* f_out, uint64_t cap)
{
    static const int d[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
    uint64_t n = 0;
    uint32_t k;
    int f;
    if (!w || !w->cell) return 0;
    for (k = 0; k < w->block_count; ++k) {
        const int32_t* p = w->pos + 3 * (size_t)k;
        for (f = 0; f < 6; ++f) {
            int64_t x = (int64_t)p[0] + d[f][0], y = (int64_t)p[1] + d[f][1], z = (int64_t)p[2] + d[f][2];
            if (dvren__blocks_inside(w, x, y, z) && w->cell[dvren__blocks_index(w, (int32_t)x, (int32_t)y, (int32_t)z)]) continue;
            if (n < cap) {
                if (k_out) k_out[n] = k;
                if (f_out) f_out[n] = (uint8_t)f;
            }
            n++;
        }
    }
    return n;
}

/* ======================================================================== */
/* >>json: the dvren.blocks/1 reader                                        */
/* ======================================================================== */

static const char* dvren__blocks_jtype(const cJSON* j)
{
    if (!j) return "nothing";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsNull(j)) return "null";
    return "an unknown value";
}

/* Every key of obj is one of allowed (NULL-ended) and appears once. pre:
 * the object's field name ("" at the top). */
static int dvren__blocks_jkeys(dvren_blocks_world* w, const char* file, const char* pre, const cJSON* obj, const char* const* allowed)
{
    const cJSON* it;
    cJSON_ArrayForEach(it, obj)
    {
        const cJSON* before;
        char f[96];
        int i, ok = 0;
        snprintf(f, sizeof f, "%s%s%.40s", pre, *pre ? "." : "", it->string ? it->string : "");
        for (i = 0; allowed[i]; ++i)
            if (it->string && !strcmp(it->string, allowed[i])) ok = 1;
        if (!ok) {
            char list[160] = "";
            size_t n = 0;
            for (i = 0; allowed[i]; ++i) n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
            return dvren__blocks_fail(w, file, f, "unknown key (the keys are %s)", list);
        }
        for (before = obj->child; before != it; before = before->next)
            if (!strcmp(before->string, it->string)) return dvren__blocks_fail(w, file, f, "given twice");
    }
    return 0;
}

/* A finite number (field names it). */
static int dvren__blocks_jnum(dvren_blocks_world* w, const char* file, const char* field, const cJSON* j, double* out)
{
    if (!cJSON_IsNumber(j)) return dvren__blocks_fail(w, file, field, "expected a number, got %s", dvren__blocks_jtype(j));
    if (!isfinite(j->valuedouble)) return dvren__blocks_fail(w, file, field, "the number is not finite");
    *out = j->valuedouble;
    return 0;
}

/* An array of n finite numbers. */
static int dvren__blocks_jvec(dvren_blocks_world* w, const char* file, const char* field, const cJSON* j, int n, double* out)
{
    const cJSON* e;
    int i = 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != n)
        return dvren__blocks_fail(w, file, field, "expected an array of %d numbers, got %s%s", n, dvren__blocks_jtype(j),
                                  cJSON_IsArray(j) ? " of another length" : "");
    cJSON_ArrayForEach(e, j)
    {
        char f[96];
        snprintf(f, sizeof f, "%s[%d]", field, i);
        if (dvren__blocks_jnum(w, file, f, e, &out[i])) return -1;
        ++i;
    }
    return 0;
}

/* "materials": an array of 1..DVREN_BLOCKS_MAX_MATERIALS objects; *out malloc'ed. */
static int dvren__blocks_jmaterials(dvren_blocks_world* w, const char* file, const cJSON* j, dvren_blocks_material** out, uint32_t* count)
{
    static const char* const keys[] = {"name", "top", "side", "bottom", NULL};
    const cJSON* e;
    int n, i = 0;
    dvren_blocks_material* m;
    *out = NULL;
    if (!cJSON_IsArray(j)) return dvren__blocks_fail(w, file, "materials", "expected an array of materials, got %s", dvren__blocks_jtype(j));
    n = cJSON_GetArraySize(j);
    if (n < 1 || n > DVREN_BLOCKS_MAX_MATERIALS)
        return dvren__blocks_fail(w, file, "materials", "%d materials (1..%d allowed)", n, DVREN_BLOCKS_MAX_MATERIALS);
    m = (dvren_blocks_material*)calloc((size_t)n, sizeof *m);
    if (!m) return dvren__blocks_fail(w, file, "materials", "out of memory");
    cJSON_ArrayForEach(e, j)
    {
        char pre[48], f[64];
        const cJSON* name;
        const char* bad;
        int c;
        snprintf(pre, sizeof pre, "materials[%d]", i);
        if (!cJSON_IsObject(e)) {
            dvren__blocks_fail(w, file, pre, "expected an object {\"name\", \"top\", \"side\", \"bottom\"}, got %s", dvren__blocks_jtype(e));
            goto fail;
        }
        if (dvren__blocks_jkeys(w, file, pre, e, keys)) goto fail;
        snprintf(f, sizeof f, "%s.name", pre);
        name = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsString(name)) {
            dvren__blocks_fail(w, file, f, "expected a string, got %s", dvren__blocks_jtype(name));
            goto fail;
        }
        if ((bad = dvren__blocks_bad_name(name->valuestring)) != NULL) {
            dvren__blocks_fail(w, file, f, "the name %s", bad);
            goto fail;
        }
        snprintf(m[i].name, sizeof m[i].name, "%s", name->valuestring);
        for (c = 0; c < 3; ++c) {
            static const char* const which[3] = {"top", "side", "bottom"};
            float* dst = c == 0 ? m[i].top : c == 1 ? m[i].side : m[i].bottom;
            double v[3];
            int a;
            snprintf(f, sizeof f, "%s.%s", pre, which[c]);
            if (dvren__blocks_jvec(w, file, f, cJSON_GetObjectItemCaseSensitive(e, which[c]), 3, v)) goto fail;
            for (a = 0; a < 3; ++a) {
                if (!(v[a] >= 0.0 && v[a] <= 1.0)) {
                    dvren__blocks_fail(w, file, f, "component %d is %g, outside [0, 1]", a, v[a]);
                    goto fail;
                }
                dst[a] = (float)v[a];
            }
        }
        ++i;
    }
    *out = m;
    *count = (uint32_t)n;
    return 0;
fail:
    free(m);
    return -1;
}

/* Parses JSON text; the syntax error's line and column on failure. */
static cJSON* dvren__blocks_jparse(dvren_blocks_world* w, const char* file, const char* text, size_t n)
{
    const char* end = NULL;
    cJSON* root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root) {
        size_t line = 1, col = 1, i, at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        for (i = 0; i < at; ++i) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        dvren__blocks_fail(w, file, "json", "syntax error at line %lu, column %lu", (unsigned long)line, (unsigned long)col);
        return NULL;
    }
    /* only blanks may follow the value */
    if (end) {
        while (end < text + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) ++end;
        if (end < text + n) {
            cJSON_Delete(root);
            dvren__blocks_fail(w, file, "json", "text after the JSON value at byte %lu", (unsigned long)(end - text));
            return NULL;
        }
    }
    return root;
}

/* Reads a whole file (at most max bytes); NULL with the error set. */
static char* dvren__blocks_read(dvren_blocks_world* w, const char* file, size_t max, size_t* n)
{
    char err[256];
    char* bytes = dvren_io_read_file(file, max, n, err, sizeof err);
    if (!bytes) dvren__blocks_fail(w, file, "file", "%s", err);
    return bytes;
}

/* The table of a file that brings none: opt->materials_path's, or NULL
 * (the default). *out is malloc'ed when not NULL. */
static int dvren__blocks_table(dvren_blocks_world* w, const dvren_blocks_load_options* opt, dvren_blocks_material** out, uint32_t* count)
{
    static const char* const keys[] = {"materials", NULL};
    const char* path = opt ? opt->materials_path : NULL;
    size_t n = 0;
    char* text;
    cJSON* root;
    int rc = -1;
    *out = NULL;
    *count = 0;
    if (!path) return 0;
    text = dvren__blocks_read(w, path, DVREN_BLOCKS_MAX_FILE_BYTES, &n);
    if (!text) return -1;
    root = dvren__blocks_jparse(w, path, text, n);
    free(text);
    if (!root) return -1;
    if (!cJSON_IsObject(root)) dvren__blocks_fail(w, path, "json", "expected an object {\"materials\": [...]}, got %s", dvren__blocks_jtype(root));
    else if (!dvren__blocks_jkeys(w, path, "", root, keys)) {
        const cJSON* j = cJSON_GetObjectItemCaseSensitive(root, "materials");
        if (!j) dvren__blocks_fail(w, path, "materials", "missing");
        else rc = dvren__blocks_jmaterials(w, path, j, out, count);
    }
    cJSON_Delete(root);
    return rc;
}

static int dvren__blocks_load_json(dvren_blocks_world* w, const char* file, const char* text, size_t n, const dvren_blocks_load_options* opt,
                                   float label_logit)
{
    static const char* const keys[] = {"format", "size", "scale", "origin", "materials", "blocks", NULL};
    cJSON* root;
    const cJSON *j, *row;
    dvren_blocks_material* mats = NULL;
    uint32_t nmat = 0;
    int64_t size[3];
    double v[3], scale = 1.0, origin[3] = {0.0, 0.0, 0.0};
    int a, rc = -1;
    float logits[DVREN_BLOCKS_MAX_MATERIALS];
    uint64_t i = 0, nblocks = 0;

    root = dvren__blocks_jparse(w, file, text, n);
    if (!root) return -1;
    if (!cJSON_IsObject(root)) {
        dvren__blocks_fail(w, file, "json", "expected an object {\"format\": \"dvren.blocks/1\", ...}, got %s", dvren__blocks_jtype(root));
        goto done;
    }
    if (dvren__blocks_jkeys(w, file, "", root, keys)) goto done;
    j = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(j) || strcmp(j->valuestring, "dvren.blocks/1") != 0) {
        if (!j) dvren__blocks_fail(w, file, "format", "missing (expected \"dvren.blocks/1\")");
        else if (!cJSON_IsString(j)) dvren__blocks_fail(w, file, "format", "expected the string \"dvren.blocks/1\", got %s", dvren__blocks_jtype(j));
        else dvren__blocks_fail(w, file, "format", "\"%.60s\" is not \"dvren.blocks/1\"", j->valuestring);
        goto done;
    }
    j = cJSON_GetObjectItemCaseSensitive(root, "size");
    if (!j) {
        dvren__blocks_fail(w, file, "size", "missing (the grid's [X, Y, Z])");
        goto done;
    }
    if (dvren__blocks_jvec(w, file, "size", j, 3, v)) goto done;
    for (a = 0; a < 3; ++a) {
        if (v[a] != floor(v[a]) || v[a] < 1 || v[a] > DVREN_BLOCKS_MAX_EDGE) {
            dvren__blocks_fail(w, file, "size", "%c = %g is not an integer in 1..%d", "XYZ"[a], v[a], DVREN_BLOCKS_MAX_EDGE);
            goto done;
        }
        size[a] = (int64_t)v[a];
    }
    if (dvren__blocks_check_size(w, file, "size", size)) goto done;
    if ((j = cJSON_GetObjectItemCaseSensitive(root, "scale")) != NULL) {
        if (dvren__blocks_jnum(w, file, "scale", j, &scale)) goto done;
        if (!((float)scale > 0.0f) || !isfinite((float)scale)) {
            dvren__blocks_fail(w, file, "scale", "%g is not > 0 and finite in float32", scale);
            goto done;
        }
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(root, "origin")) != NULL) {
        if (dvren__blocks_jvec(w, file, "origin", j, 3, origin)) goto done;
        for (a = 0; a < 3; ++a)
            if (!isfinite((float)origin[a])) {
                dvren__blocks_fail(w, file, "origin", "component %d = %g is not finite in float32", a, origin[a]);
                goto done;
            }
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(root, "materials")) != NULL) {
        if (dvren__blocks_jmaterials(w, file, j, &mats, &nmat)) goto done;
    } else if (dvren__blocks_table(w, opt, &mats, &nmat)) {
        goto done;
    }
    j = cJSON_GetObjectItemCaseSensitive(root, "blocks");
    if (j) {
        if (!cJSON_IsArray(j)) {
            dvren__blocks_fail(w, file, "blocks", "expected an array of rows, got %s", dvren__blocks_jtype(j));
            goto done;
        }
        nblocks = (uint64_t)cJSON_GetArraySize(j);
    }
    {
        /* the world, then its blocks (the error of init names this file) */
        char keep[sizeof w->error];
        if (dvren__blocks_init(w, file, size, mats, nmat)) goto done;
        memcpy(keep, w->error, sizeof keep);
        if (nblocks > (uint64_t)size[0] * (uint64_t)size[1] * (uint64_t)size[2]) {
            dvren__blocks_fail(w, file, "blocks", "%llu blocks do not fit the %lld x %lld x %lld grid (one per cell)", (unsigned long long)nblocks,
                               (long long)size[0], (long long)size[1], (long long)size[2]);
            goto done;
        }
        if (dvren__blocks_reserve(w, file, nblocks)) goto done;
    }
    w->scale = (float)scale;
    for (a = 0; a < 3; ++a) w->origin[a] = (float)origin[a];
    if (j) cJSON_ArrayForEach(row, j)
    {
        char f[64];
        int len, c = 0;
        int64_t p[3] = {0, 0, 0};
        const cJSON* e;
        uint32_t M = w->material_count;
        snprintf(f, sizeof f, "blocks[%llu]", (unsigned long long)i);
        if (!cJSON_IsArray(row)) {
            dvren__blocks_fail(w, file, f, "expected an array [x, y, z, ...], got %s", dvren__blocks_jtype(row));
            goto done;
        }
        len = cJSON_GetArraySize(row);
        if (len != 3 + (int)M && len != 4) {
            dvren__blocks_fail(w, file, f, "a row of %d numbers (expected 4: x, y, z, material id; or 3 + %lu: x, y, z and %lu logits)", len,
                               (unsigned long)M, (unsigned long)M);
            goto done;
        }
        cJSON_ArrayForEach(e, row)
        {
            char fe[80];
            double x = 0.0;
            snprintf(fe, sizeof fe, "%s[%d]", f, c);
            if (dvren__blocks_jnum(w, file, fe, e, &x)) goto done;
            if (c < 3) {
                if (x != floor(x) || x < -(double)DVREN_BLOCKS_MAX_EDGE || x > (double)DVREN_BLOCKS_MAX_EDGE) {
                    dvren__blocks_fail(w, file, f, "%c = %g is not an integer inside the %ld x %ld x %ld grid", "xyz"[c], x, (long)w->size[0],
                                       (long)w->size[1], (long)w->size[2]);
                    goto done;
                }
                p[c] = (int64_t)x;
            } else if (len == 3 + (int)M) {
                /* logits (also when M = 1: a row of 4 is then a logit row) */
                logits[c - 3] = (float)x;
                if (!isfinite(logits[c - 3])) {
                    dvren__blocks_fail(w, file, f, "logit %d = %g is not finite in float32", c - 3, x);
                    goto done;
                }
            } else {
                if (x != floor(x) || x < 1 || x > M) {
                    dvren__blocks_fail(w, file, f, "material id %g is not an integer in 1..%lu", x, (unsigned long)M);
                    goto done;
                }
                memset(logits, 0, M * sizeof *logits);
                logits[(uint32_t)x - 1] = label_logit;
            }
            ++c;
        }
        if (dvren__blocks_add(w, file, f, p[0], p[1], p[2], logits)) goto done;
        ++i;
    }
    rc = 0;
done:
    free(mats);
    cJSON_Delete(root);
    return rc;
}

/* ======================================================================== */
/* >>npy: label volumes and block lists                                     */
/* ======================================================================== */

static int dvren__blocks_load_npy(dvren_blocks_world* w, const char* file, const unsigned char* bytes, size_t n,
                                  const dvren_blocks_load_options* opt, float label_logit)
{
    dvren_npy_array a;
    dvren_blocks_material* mats = NULL;
    uint32_t nmat = 0, M;
    int rc = -1;
    if (dvren_npy_parse_header(&a, bytes, n, file)) {
        snprintf(w->error, sizeof w->error, "%s", a.error);
        return -1;
    }
    if (a.dtype == DVREN_NPY_U8) {
        /* a label volume (X, Y, Z) */
        int64_t size[3];
        uint64_t i, count = 0;
        int32_t x, y, z;
        float logits[DVREN_BLOCKS_MAX_MATERIALS];
        int d;
        if (a.ndim != 3)
            return dvren__blocks_fail(w, file, "shape", "a uint8 label volume has 3 dimensions (X, Y, Z), this one %lu", (unsigned long)a.ndim);
        for (d = 0; d < 3; ++d) size[d] = a.shape[d] > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)a.shape[d];
        if (dvren__blocks_check_size(w, file, "shape", size)) return -1;
        if (dvren_npy_check_data(&a)) {
            snprintf(w->error, sizeof w->error, "%s", a.error);
            return -1;
        }
        if (dvren__blocks_table(w, opt, &mats, &nmat)) return -1;
        M = mats ? nmat : 8;
        for (i = 0; i < a.count; ++i) {
            uint8_t l = a.data[i];
            if (l > M) {
                uint64_t zz = i % a.shape[2], yy = (i / a.shape[2]) % a.shape[1], xx = i / a.shape[2] / a.shape[1];
                dvren__blocks_fail(w, file, "data", "label %u at [%llu][%llu][%llu] is outside 0..%lu (0 air, 1..%lu the materials)", l,
                                   (unsigned long long)xx, (unsigned long long)yy, (unsigned long long)zz, (unsigned long)M, (unsigned long)M);
                goto done;
            }
            count += l != 0;
        }
        if (dvren__blocks_init(w, file, size, mats, nmat) || dvren__blocks_reserve(w, file, count)) goto done;
        memset(logits, 0, sizeof logits);
        /* blocks in increasing linear cell index x + X (y + Y z); element [x][y][z] is at (x Y + y) Z + z */
        for (z = 0; z < w->size[2]; ++z)
            for (y = 0; y < w->size[1]; ++y)
                for (x = 0; x < w->size[0]; ++x) {
                    uint8_t l = a.data[((size_t)x * (size_t)w->size[1] + (size_t)y) * (size_t)w->size[2] + (size_t)z];
                    if (!l) continue;
                    logits[l - 1] = label_logit;
                    dvren__blocks_append(w, x, y, z, logits);
                    logits[l - 1] = 0.0f;
                }
        rc = 0;
    } else if (a.dtype == DVREN_NPY_F32 || a.dtype == DVREN_NPY_F64) {
        /* a block list (N, 3 + M); the grid: 0 .. max + 1 of the positions */
        uint64_t N, r;
        int64_t size[3] = {0, 0, 0};
        float logits[DVREN_BLOCKS_MAX_MATERIALS];
        if (a.ndim != 2)
            return dvren__blocks_fail(w, file, "shape", "a float block list has 2 dimensions (N, 3 + M), this one %lu", (unsigned long)a.ndim);
        if (dvren__blocks_table(w, opt, &mats, &nmat)) return -1;
        M = mats ? nmat : 8;
        N = a.shape[0];
        if (a.shape[1] != 3 + (uint64_t)M) {
            dvren__blocks_fail(w, file, "shape", "rows of %llu numbers; expected 3 + %lu (x, y, z and the logits of the %lu materials)",
                               (unsigned long long)a.shape[1], (unsigned long)M, (unsigned long)M);
            goto done;
        }
        if (N == 0) {
            dvren__blocks_fail(w, file, "shape", "no rows: a block list without blocks has no grid size");
            goto done;
        }
        if (N > DVREN_BLOCKS_MAX_CELLS) {
            dvren__blocks_fail(w, file, "shape", "%llu rows, more than the %llu cells a grid may have", (unsigned long long)N,
                               (unsigned long long)DVREN_BLOCKS_MAX_CELLS);
            goto done;
        }
        if (dvren_npy_check_data(&a)) {
            snprintf(w->error, sizeof w->error, "%s", a.error);
            goto done;
        }
        for (r = 0; r < N; ++r) {
            int c;
            for (c = 0; c < 3; ++c) {
                double v = dvren_npy_get(&a, r * a.shape[1] + (uint64_t)c);
                if (!(v >= 0.0 && v < DVREN_BLOCKS_MAX_EDGE) || v != floor(v)) {
                    char f[48];
                    snprintf(f, sizeof f, "row %llu", (unsigned long long)r);
                    dvren__blocks_fail(w, file, f, "%c = %g is not an integer in 0..%d", "xyz"[c], v, DVREN_BLOCKS_MAX_EDGE - 1);
                    goto done;
                }
                if ((int64_t)v + 1 > size[c]) size[c] = (int64_t)v + 1;
            }
        }
        if (dvren__blocks_init(w, file, size, mats, nmat) || dvren__blocks_reserve(w, file, N)) goto done;
        for (r = 0; r < N; ++r) {
            char f[48];
            uint32_t m;
            const uint64_t base = r * a.shape[1];
            snprintf(f, sizeof f, "row %llu", (unsigned long long)r);
            for (m = 0; m < M; ++m) {
                double v = dvren_npy_get(&a, base + 3 + m);
                logits[m] = (float)v;
                if (!isfinite(logits[m])) {
                    dvren__blocks_fail(w, file, f, "logit %lu = %g is not finite in float32", (unsigned long)m, v);
                    goto done;
                }
            }
            if (dvren__blocks_add(w, file, f, (int64_t)dvren_npy_get(&a, base), (int64_t)dvren_npy_get(&a, base + 1),
                                  (int64_t)dvren_npy_get(&a, base + 2), logits))
                goto done;
        }
        rc = 0;
    } else {
        return dvren__blocks_fail(w, file, "descr", "dtype '%s': a uint8 label volume or a float32/float64 block list expected", a.descr);
    }
done:
    free(mats);
    return rc;
}

/* ======================================================================== */
/* >>vox: MagicaVoxel models                                                */
/* ======================================================================== */

static int dvren__blocks_load_vox(dvren_blocks_world* w, const char* file, const unsigned char* bytes, size_t n, float label_logit)
{
    dvren_vox_scene vs;
    dvren_blocks_material mats[255];
    uint16_t id_of[256]; /* colour index -> material id (0: unused so far) */
    uint32_t M = 0;
    int64_t size[3];
    size_t i;
    int rc = -1;
    float logits[DVREN_BLOCKS_MAX_MATERIALS];
    if (dvren_vox_parse(&vs, bytes, n, file) != DVREN_VOX_OK) {
        snprintf(w->error, sizeof w->error, "%s", vs.error);
        dvren_vox_free(&vs);
        return -1;
    }
    if (vs.voxel_count == 0) {
        dvren__blocks_fail(w, file, "voxels", "the file places no voxels (the grid would be empty)");
        goto done;
    }
    /* z up in the file, y up here: X = x extent, Y = z extent, Z = y extent */
    size[0] = (int64_t)vs.voxel_max[0] - vs.voxel_min[0];
    size[1] = (int64_t)vs.voxel_max[2] - vs.voxel_min[2];
    size[2] = (int64_t)vs.voxel_max[1] - vs.voxel_min[1];
    if (dvren__blocks_check_size(w, file, "voxels", size)) goto done;
    /* one material per colour index used, in the order of first use */
    memset(id_of, 0, sizeof id_of);
    for (i = 0; i < vs.voxel_count; ++i) {
        uint8_t c = vs.voxels[i].color;
        if (!id_of[c]) {
            dvren_blocks_material* m = &mats[M];
            int a;
            id_of[c] = (uint16_t)++M;
            memset(m, 0, sizeof *m);
            snprintf(m->name, sizeof m->name, "vox%u", (unsigned)c);
            for (a = 0; a < 3; ++a) m->top[a] = m->side[a] = m->bottom[a] = (float)vs.palette[c - 1][a] / 255.0f;
        }
    }
    if (dvren__blocks_init(w, file, size, mats, M) || dvren__blocks_reserve(w, file, vs.voxel_count)) goto done;
    memset(logits, 0, sizeof logits);
    for (i = 0; i < vs.voxel_count; ++i) {
        const dvren_vox_voxel* v = &vs.voxels[i];
        int64_t x = (int64_t)v->x - vs.voxel_min[0], y = (int64_t)v->z - vs.voxel_min[2], z = (int64_t)(vs.voxel_max[1] - 1) - v->y;
        char f[96];
        snprintf(f, sizeof f, "voxel %lu (file cell %ld %ld %ld)", (unsigned long)i, (long)v->x, (long)v->y, (long)v->z);
        logits[id_of[v->color] - 1] = label_logit;
        if (dvren__blocks_add(w, file, f, x, y, z, logits)) goto done;
        logits[id_of[v->color] - 1] = 0.0f;
    }
    rc = 0;
done:
    dvren_vox_free(&vs);
    return rc;
}

/* ======================================================================== */
/* >>load                                                                   */
/* ======================================================================== */

/* 1 when path ends with ext (ASCII, case-insensitive). */
static int dvren__blocks_ext(const char* path, const char* ext)
{
    size_t n = strlen(path), e = strlen(ext), i;
    if (n < e) return 0;
    for (i = 0; i < e; ++i) {
        char c = path[n - e + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != ext[i]) return 0;
    }
    return 1;
}

/* The loaders on bytes in memory (kind: 'j' JSON, 'n' .npy, 'v' .vox);
 * file names the source in messages. The fuzz targets call this. */
static int dvren__blocks_parse(dvren_blocks_world* w, const char* file, int kind, const char* bytes, size_t n,
                               const dvren_blocks_load_options* opt)
{
    dvren_blocks_world t;
    float label_logit = 10.0f;
    int rc;
    memset(&t, 0, sizeof t);
    if (opt && opt->label_logit != 0.0f) {
        if (!(opt->label_logit > 0.0f) || !isfinite(opt->label_logit)) {
            rc = dvren__blocks_fail(&t, file, "label_logit", "%g is not finite and > 0", (double)opt->label_logit);
            goto out;
        }
        label_logit = opt->label_logit;
    }
    if (kind == 'j') rc = dvren__blocks_load_json(&t, file, bytes, n, opt, label_logit);
    else if (kind == 'n') rc = dvren__blocks_load_npy(&t, file, (const unsigned char*)bytes, n, opt, label_logit);
    else rc = dvren__blocks_load_vox(&t, file, (const unsigned char*)bytes, n, label_logit);
out:
    if (rc) {
        char keep[sizeof t.error];
        memcpy(keep, t.error, sizeof keep);
        dvren_blocks_free(&t);
        memset(w, 0, sizeof *w);
        memcpy(w->error, keep, sizeof keep);
        return -1;
    }
    t.error[0] = 0;
    *w = t;
    return 0;
}

int dvren_blocks_load(dvren_blocks_world* w, const char* path, const dvren_blocks_load_options* opt)
{
    int kind, rc;
    size_t n = 0;
    char* bytes;
    if (!w) return -1;
    memset(w, 0, sizeof *w);
    if (!path) return dvren__blocks_fail(w, "dvren_blocks_load", "path", "NULL");
    if (dvren__blocks_ext(path, ".json")) kind = 'j';
    else if (dvren__blocks_ext(path, ".npy")) kind = 'n';
    else if (dvren__blocks_ext(path, ".vox")) kind = 'v';
    else return dvren__blocks_fail(w, path, "file", "unknown extension (.json, .npy or .vox are read)");
    bytes = dvren__blocks_read(w, path, kind == 'v' ? DVREN_VOX_MAX_BYTES : DVREN_BLOCKS_MAX_FILE_BYTES, &n);
    if (!bytes) return -1;
    rc = dvren__blocks_parse(w, path, kind, bytes, n, opt);
    free(bytes);
    return rc;
}

/* ======================================================================== */
/* >>save                                                                   */
/* ======================================================================== */

/* Writes data to path through a temporary file in the same folder, then a
 * rename (on failure nothing is left behind). */
static int dvren__blocks_write_atomic(dvren_blocks_world* w, const char* path, const void* data, size_t n)
{
    char tmp[4096 + 64];
    FILE* f = NULL;
    int i, ok;
    size_t put;
    if (strlen(path) > 4096) return dvren__blocks_fail(w, path, "file", "path too long");
    /* the process id and the world's address keep two writers apart; "x" refuses an existing file */
    for (i = 0; i < 100 && !f; ++i) {
#if defined(_WIN32)
        snprintf(tmp, sizeof tmp, "%s.tmp%d.%d", path, (int)_getpid(), i);
        f = fopen(tmp, "wb");
#else
        snprintf(tmp, sizeof tmp, "%s.tmp%ld.%lx.%d", path, (long)getpid(), (unsigned long)(uintptr_t)w, i);
        f = fopen(tmp, "wbx");
        if (!f && errno != EEXIST) break;
#endif
    }
    if (!f) return dvren__blocks_fail(w, path, "file", "cannot create the temporary file '%s': %s", tmp, strerror(errno));
    put = n ? fwrite(data, 1, n, f) : 0;
    ok = put == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(tmp);
        return dvren__blocks_fail(w, path, "file", "writing '%s' failed (is the disk full?)", tmp);
    }
#if defined(_WIN32)
    ok = MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING) != 0;
#else
    ok = rename(tmp, path) == 0;
#endif
    if (!ok) {
        int e = errno;
        remove(tmp);
        return dvren__blocks_fail(w, path, "file", "cannot rename '%s' to it: %s", tmp, strerror(e));
    }
    return 0;
}

static void dvren__blocks_puts(dvren_io_buf* b, const char* s) { dvren_io_buf_append(b, s, strlen(s)); }

/* A float with 9 significant digits (float32 round-trips exactly), always
 * with '.' as the decimal point whatever the C locale says. */
static void dvren__blocks_putf(dvren_io_buf* b, float v)
{
    char t[40];
    int n = snprintf(t, sizeof t, "%.9g", (double)v), i;
    for (i = 0; i < n; ++i)
        if (t[i] == ',') t[i] = '.';
    dvren_io_buf_append(b, t, (size_t)n);
}

static void dvren__blocks_putv(dvren_io_buf* b, const float* v, int n)
{
    int i;
    dvren__blocks_puts(b, "[");
    for (i = 0; i < n; ++i) {
        if (i) dvren__blocks_puts(b, ", ");
        dvren__blocks_putf(b, v[i]);
    }
    dvren__blocks_puts(b, "]");
}

/* 0 when w is a world the save functions can write (path named in messages). */
static int dvren__blocks_check_world(dvren_blocks_world* w, const char* path)
{
    int64_t s[3];
    if (!w->cell || !w->materials) return dvren__blocks_fail(w, path, "world", "not initialised");
    s[0] = w->size[0];
    s[1] = w->size[1];
    s[2] = w->size[2];
    if (dvren__blocks_check_size(w, path, "size", s) || dvren__blocks_check_materials(w, path, "materials", w->materials, w->material_count))
        return -1;
    return 0;
}

int dvren_blocks_save(dvren_blocks_world* w, const char* path)
{
    dvren_io_buf b = {0, 0, 0, 0};
    char t[160];
    uint32_t k, m, M;
    int rc;
    if (!w) return -1;
    if (!path) return dvren__blocks_fail(w, "dvren_blocks_save", "path", "NULL");
    if (dvren__blocks_check_world(w, path)) return -1;
    if (!isfinite(w->scale) || !(w->scale > 0.0f) || !isfinite(w->origin[0]) || !isfinite(w->origin[1]) || !isfinite(w->origin[2]))
        return dvren__blocks_fail(w, path, "scale", "the scale or the origin is not finite (or the scale not > 0)");
    M = w->material_count;
    for (k = 0; k < w->block_count; ++k)
        for (m = 0; m < M; ++m)
            if (!isfinite(w->logits[(size_t)k * M + m])) {
                const int32_t* p = w->pos + 3 * (size_t)k;
                return dvren__blocks_fail(w, path, "blocks", "block %lu at (%ld, %ld, %ld): logit %lu is not finite", (unsigned long)k,
                                          (long)p[0], (long)p[1], (long)p[2], (unsigned long)m);
            }
    snprintf(t, sizeof t, "{\"format\": \"dvren.blocks/1\", \"size\": [%ld, %ld, %ld], \"scale\": ", (long)w->size[0], (long)w->size[1],
             (long)w->size[2]);
    dvren__blocks_puts(&b, t);
    dvren__blocks_putf(&b, w->scale);
    dvren__blocks_puts(&b, ", \"origin\": ");
    dvren__blocks_putv(&b, w->origin, 3);
    dvren__blocks_puts(&b, ",\n \"materials\": [");
    for (m = 0; m < M; ++m) {
        const dvren_blocks_material* q = &w->materials[m];
        /* names hold no quote or backslash (checked above): no escaping needed */
        snprintf(t, sizeof t, "%s\n  {\"name\": \"%s\", \"top\": ", m ? "," : "", q->name);
        dvren__blocks_puts(&b, t);
        dvren__blocks_putv(&b, q->top, 3);
        dvren__blocks_puts(&b, ", \"side\": ");
        dvren__blocks_putv(&b, q->side, 3);
        dvren__blocks_puts(&b, ", \"bottom\": ");
        dvren__blocks_putv(&b, q->bottom, 3);
        dvren__blocks_puts(&b, "}");
    }
    dvren__blocks_puts(&b, "],\n \"blocks\": [");
    for (k = 0; k < w->block_count && !b.failed; ++k) {
        const int32_t* p = w->pos + 3 * (size_t)k;
        snprintf(t, sizeof t, "%s\n  [%ld, %ld, %ld", k ? "," : "", (long)p[0], (long)p[1], (long)p[2]);
        dvren__blocks_puts(&b, t);
        for (m = 0; m < M; ++m) {
            dvren__blocks_puts(&b, ", ");
            dvren__blocks_putf(&b, w->logits[(size_t)k * M + m]);
        }
        dvren__blocks_puts(&b, "]");
    }
    dvren__blocks_puts(&b, w->block_count ? "\n ]}\n" : "]}\n");
    if (b.failed) {
        dvren_io_buf_free(&b);
        return dvren__blocks_fail(w, path, "file", "out of memory for the text of %lu blocks", (unsigned long)w->block_count);
    }
    rc = dvren__blocks_write_atomic(w, path, b.data, b.size);
    dvren_io_buf_free(&b);
    return rc;
}

int dvren_blocks_save_labels(dvren_blocks_world* w, const char* path)
{
    char hdr[128];
    size_t hl, cells;
    unsigned char* out;
    uint32_t k;
    int rc;
    if (!w) return -1;
    if (!path) return dvren__blocks_fail(w, "dvren_blocks_save_labels", "path", "NULL");
    if (dvren__blocks_check_world(w, path)) return -1;
    /* NEP 1 format 1.0: magic, version, uint16 header length, the dict padded with spaces to a multiple of 64 bytes, '\n' */
    hl = (size_t)snprintf(hdr, sizeof hdr, "{'descr': '|u1', 'fortran_order': False, 'shape': (%ld, %ld, %ld), }", (long)w->size[0],
                          (long)w->size[1], (long)w->size[2]);
    while ((10 + hl + 1) % 64) hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    cells = (size_t)w->size[0] * (size_t)w->size[1] * (size_t)w->size[2];
    out = (unsigned char*)calloc(10 + hl + cells, 1);
    if (!out) return dvren__blocks_fail(w, path, "file", "out of memory for %lu cells", (unsigned long)cells);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hl & 0xff);
    out[9] = (unsigned char)(hl >> 8);
    memcpy(out + 10, hdr, hl);
    for (k = 0; k < w->block_count; ++k) {
        const int32_t* p = w->pos + 3 * (size_t)k;
        uint32_t id = dvren_blocks_argmax(w, k);
        if (id > 255) {
            free(out);
            return dvren__blocks_fail(w, path, "blocks", "block %lu at (%ld, %ld, %ld) has material id %lu, which does not fit uint8",
                                      (unsigned long)k, (long)p[0], (long)p[1], (long)p[2], (unsigned long)id);
        }
        out[10 + hl + ((size_t)p[0] * (size_t)w->size[1] + (size_t)p[1]) * (size_t)w->size[2] + (size_t)p[2]] = (unsigned char)id;
    }
    rc = dvren__blocks_write_atomic(w, path, out, 10 + hl + cells);
    free(out);
    return rc;
}

#endif /* DVREN_BLOCKS_IMPLEMENTATION_ONCE */
#endif /* DVREN_BLOCKS_IMPLEMENTATION */
