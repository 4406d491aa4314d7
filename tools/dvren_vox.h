/* tools/dvren_vox.h - a strict, small reader of MagicaVoxel .vox files:
 * the models' voxels placed in one world frame, the models' sizes, the
 * bounding boxes and the 256-entry RGBA palette. Depends on the C library
 * and dvren_io.h (the whole-file reader) only.
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_VOX_IMPLEMENTATION
 *     #include "dvren_vox.h"
 * (it defines DVREN_IO_IMPLEMENTATION too, as dvren_scene.h does). Other
 * files include it without the define (declarations only).
 *
 *   dvren_vox_scene vs;
 *   if (dvren_vox_load(&vs, "house.vox") != DVREN_VOX_OK) { fprintf(stderr, "%s\n", vs.error); ... }
 *   for (size_t i = 0; i < vs.voxel_count; ++i) {
 *       const dvren_vox_voxel* v = &vs.voxels[i];      world cell (v->x, v->y, v->z), z up
 *       const uint8_t* rgba = vs.palette[v->color - 1]; colour index 1..255 -> palette entry 0..254
 *   }
 *   dvren_vox_free(&vs);
 *
 * The format (the sources this implements):
 *   ephtracy/voxel-model, "MagicaVoxel-file-format-vox.txt" (10/18/2016):
 *     "VOX " magic, int32 version (150; 200 from MagicaVoxel 0.99.7 on), then
 *     the chunk MAIN. A chunk is: 4-byte id, int32 content bytes N, int32
 *     children bytes M, N bytes of content, M bytes of child chunks. MAIN's
 *     children: PACK (optional: the model count), SIZE + XYZI pairs (one per
 *     model; the model id is the pair's index), RGBA (optional), others.
 *     SIZE = int32 x, y, z (z is up). XYZI = int32 count, then count x 4
 *     bytes (x, y, z, colour index 1..255). RGBA = 256 x (R, G, B, A), the
 *     file's colour k (0..254) being colour index k + 1. Without RGBA, the
 *     default palette of section 8 of that text applies.
 *   ephtracy/voxel-model, "MagicaVoxel-file-format-vox-extension.txt": the
 *     scene graph. STRING = int32 n + n bytes; DICT = int32 pairs + pairs x
 *     (STRING key, STRING value). nTRN = int32 node id, DICT attributes,
 *     int32 child id, int32 reserved (-1), int32 layer id, int32 frames,
 *     frames x DICT (_r: rotation byte as decimal text, _t: "x y z"
 *     translation, anchored at the model's centre). nGRP = int32 node id,
 *     DICT, int32 children, children x int32 id. nSHP = int32 node id, DICT,
 *     int32 models, models x (int32 model id, DICT). Rotation byte: bits 0-1
 *     the column of row 0's non-zero entry, bits 2-3 row 1's, bits 4/5/6 the
 *     signs of rows 0/1/2 (1: -1); row 2's column is the remaining one.
 *
 * World frame. A file without scene-graph chunks (nTRN/nGRP/nSHP) places
 * every model at its own coordinates (a voxel's world cell is its model
 * cell). A file with a scene graph is walked from node 0 (a transform);
 * transforms compose as affine maps (rotation R = R_parent R_child,
 * translation t = R_parent t_child + t_parent), and a shape's model voxel v
 * (SIZE s) lands in the world cell
 *     w = floor(R (v + 0.5 - floor(s / 2)) + t)
 *       = R (v - floor(s / 2)) + t + c,   c_i = -1 where row i of R is negative, else 0,
 * i.e. the voxel cube's centre is rotated about the model's pivot
 * floor(s / 2) and moved by t (how MagicaVoxel and opengametools' ogt_vox
 * place instances). Only each node's first frame is used (animation frames
 * are ignored); _hidden flags and layers are ignored (everything is placed);
 * a model no shape reaches is not placed.
 *
 * Strictness. Refused with DVREN_VOX_FORMAT: a bad magic; a chunk whose
 * sizes are negative or pass the end of its parent; bytes after MAIN; a
 * SIZE without its XYZI (or the reverse); content sizes that do not add up
 * (SIZE != 12 bytes, XYZI != 4 + 4 count, RGBA != 1024, a node chunk whose
 * fields do not end exactly at its content's end); children under a leaf
 * chunk; a voxel outside its model's SIZE, colour index 0, a position given
 * twice; a PACK count other than the number of models; a scene graph
 * without node 0, with duplicate node ids, a missing child, a cycle, an
 * unknown model id, a bad _r or _t. DVREN_VOX_UNSUPPORTED: a SIZE axis
 * outside 1..256 (MagicaVoxel's limit). DVREN_VOX_TOO_LARGE: a file or a
 * placed-voxel list over DVREN_VOX_MAX_BYTES, or more than
 * DVREN_VOX_MAX_INSTANCES placed shapes. Counts are checked against the
 * bytes present before anything is allocated for them. Unknown chunks
 * (MATL, LAYR, IMAP, rOBJ, rCAM, NOTE, MATT, ...) are skipped by their sizes.
 * No input makes it crash, read out of bounds or loop (tests/fuzz/fuzz_vox.c).
 *
 * Not done here: materials (MATL/MATT), layers, cameras, animation frames,
 * writing .vox files. */
#ifndef DVREN_VOX_H
#define DVREN_VOX_H

#include <stddef.h>
#include <stdint.h>

/* Refuse files and placed-voxel lists larger than this many bytes. */
#ifndef DVREN_VOX_MAX_BYTES
#define DVREN_VOX_MAX_BYTES ((size_t)256 << 20)
#endif
/* Refuse scene graphs that place more shapes than this. */
#ifndef DVREN_VOX_MAX_INSTANCES
#define DVREN_VOX_MAX_INSTANCES ((size_t)1 << 20)
#endif

typedef enum dvren_vox_status {
    DVREN_VOX_OK = 0,
    DVREN_VOX_IO = -1,          /* the file cannot be read */
    DVREN_VOX_FORMAT = -2,      /* the bytes break the format (see the top of the file) */
    DVREN_VOX_UNSUPPORTED = -3, /* valid but outside what this reader handles */
    DVREN_VOX_TOO_LARGE = -4,   /* over DVREN_VOX_MAX_BYTES / DVREN_VOX_MAX_INSTANCES */
    DVREN_VOX_NO_MEMORY = -5,   /* an allocation failed */
    DVREN_VOX_INVALID = -6,     /* a NULL argument */
    DVREN_VOX_STATUS_FORCE32 = 0x7fffffff
} dvren_vox_status;

/* One placed voxel: its world cell (the unit cube [x, x+1) x [y, y+1) x
 * [z, z+1), z up), its colour index 1..255 (palette entry color - 1) and the
 * model it came from. */
typedef struct dvren_vox_voxel {
    int32_t x, y, z;
    uint32_t model; /* index into dvren_vox_scene.models */
    uint8_t color;  /* 1..255 */
} dvren_vox_voxel;

/* One model (a SIZE + XYZI pair), in file order. */
typedef struct dvren_vox_model {
    int32_t size[3];      /* SIZE x, y, z, each 1..256 */
    uint32_t voxel_count; /* voxels in its XYZI */
    uint32_t instances;   /* how many times the scene places it (1 without a scene graph) */
} dvren_vox_model;

typedef struct dvren_vox_scene {
    int32_t version;          /* the file's version (150, 200, ...) */
    uint32_t model_count;
    dvren_vox_model* models;
    uint64_t model_voxels;    /* the sum of the models' XYZI counts */
    size_t voxel_count;       /* placed voxels: each model's voxels once per instance */
    dvren_vox_voxel* voxels;  /* voxel_count entries, in model order within each instance, instances in scene order */
    int32_t voxel_min[3], voxel_max[3]; /* the placed voxels' bounds: cells voxel_min .. voxel_max - 1 (0 0 0 when empty) */
    int32_t box_min[3], box_max[3];     /* the placed models' SIZE boxes' bounds, the same way */
    uint8_t palette[256][4];  /* RGBA 0..255; colour index i -> palette[i - 1] */
    int has_rgba;             /* 1: the palette came from an RGBA chunk; 0: MagicaVoxel's default palette */
    int has_scene_graph;      /* 1: nTRN/nGRP/nSHP chunks placed the models */
    uint32_t instance_count;  /* placed shapes (model_count without a scene graph) */
    dvren_vox_status status;  /* the last call's status */
    char error[512];          /* "<file>: chunk 'XYZI' at offset 1234: <problem>" ("" on success) */
} dvren_vox_scene;

/* Parses size bytes of a .vox file from memory; name is used in messages
 * (NULL: "<memory>"). Fills *vs (zeroed first; free it with dvren_vox_free
 * whatever the result). Returns vs->status. data is only read. */
dvren_vox_status dvren_vox_parse(dvren_vox_scene* vs, const void* data, size_t size, const char* name);
/* Reads the file at path (at most DVREN_VOX_MAX_BYTES) and parses it. */
dvren_vox_status dvren_vox_load(dvren_vox_scene* vs, const char* path);
/* Frees the voxels and models and zeroes *vs (NULL is fine). */
void dvren_vox_free(dvren_vox_scene* vs);
/* MagicaVoxel's default palette (used when a file has no RGBA chunk) in
 * this reader's order: out[i - 1] is colour index i's RGBA; out[255] is
 * (0, 0, 0, 0). */
void dvren_vox_default_palette(uint8_t out[256][4]);
/* "OK", "IO", "FORMAT", ... (static). */
const char* dvren_vox_status_string(dvren_vox_status s);

#endif /* DVREN_VOX_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_VOX_IMPLEMENTATION
#ifndef DVREN_VOX_IMPLEMENTATION_ONCE
#define DVREN_VOX_IMPLEMENTATION_ONCE

#ifndef DVREN_IO_IMPLEMENTATION
#define DVREN_IO_IMPLEMENTATION
#endif
#include "dvren_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MagicaVoxel's default palette, section 8 of ephtracy/voxel-model
 * "MagicaVoxel-file-format-vox.txt": default_palette[i] is colour index i
 * as a little-endian uint32 0xAABBGGRR (R in the low byte); [0] is unused. */
static const uint32_t dvren__vox_default[256] = {
    0x00000000, 0xffffffff, 0xffccffff, 0xff99ffff, 0xff66ffff, 0xff33ffff, 0xff00ffff, 0xffffccff,
    0xffccccff, 0xff99ccff, 0xff66ccff, 0xff33ccff, 0xff00ccff, 0xffff99ff, 0xffcc99ff, 0xff9999ff,
    0xff6699ff, 0xff3399ff, 0xff0099ff, 0xffff66ff, 0xffcc66ff, 0xff9966ff, 0xff6666ff, 0xff3366ff,
    0xff0066ff, 0xffff33ff, 0xffcc33ff, 0xff9933ff, 0xff6633ff, 0xff3333ff, 0xff0033ff, 0xffff00ff,
    0xffcc00ff, 0xff9900ff, 0xff6600ff, 0xff3300ff, 0xff0000ff, 0xffffffcc, 0xffccffcc, 0xff99ffcc,
    0xff66ffcc, 0xff33ffcc, 0xff00ffcc, 0xffffcccc, 0xffcccccc, 0xff99cccc, 0xff66cccc, 0xff33cccc,
    0xff00cccc, 0xffff99cc, 0xffcc99cc, 0xff9999cc, 0xff6699cc, 0xff3399cc, 0xff0099cc, 0xffff66cc,
    0xffcc66cc, 0xff9966cc, 0xff6666cc, 0xff3366cc, 0xff0066cc, 0xffff33cc, 0xffcc33cc, 0xff9933cc,
    0xff6633cc, 0xff3333cc, 0xff0033cc, 0xffff00cc, 0xffcc00cc, 0xff9900cc, 0xff6600cc, 0xff3300cc,
    0xff0000cc, 0xffffff99, 0xffccff99, 0xff99ff99, 0xff66ff99, 0xff33ff99, 0xff00ff99, 0xffffcc99,
    0xffcccc99, 0xff99cc99, 0xff66cc99, 0xff33cc99, 0xff00cc99, 0xffff9999, 0xffcc9999, 0xff999999,
    0xff669999, 0xff339999, 0xff009999, 0xffff6699, 0xffcc6699, 0xff996699, 0xff666699, 0xff336699,
    0xff006699, 0xffff3399, 0xffcc3399, 0xff993399, 0xff663399, 0xff333399, 0xff003399, 0xffff0099,
    0xffcc0099, 0xff990099, 0xff660099, 0xff330099, 0xff000099, 0xffffff66, 0xffccff66, 0xff99ff66,
    0xff66ff66, 0xff33ff66, 0xff00ff66, 0xffffcc66, 0xffcccc66, 0xff99cc66, 0xff66cc66, 0xff33cc66,
    0xff00cc66, 0xffff9966, 0xffcc9966, 0xff999966, 0xff669966, 0xff339966, 0xff009966, 0xffff6666,
    0xffcc6666, 0xff996666, 0xff666666, 0xff336666, 0xff006666, 0xffff3366, 0xffcc3366, 0xff993366,
    0xff663366, 0xff333366, 0xff003366, 0xffff0066, 0xffcc0066, 0xff990066, 0xff660066, 0xff330066,
    0xff000066, 0xffffff33, 0xffccff33, 0xff99ff33, 0xff66ff33, 0xff33ff33, 0xff00ff33, 0xffffcc33,
    0xffcccc33, 0xff99cc33, 0xff66cc33, 0xff33cc33, 0xff00cc33, 0xffff9933, 0xffcc9933, 0xff999933,
    0xff669933, 0xff339933, 0xff009933, 0xffff6633, 0xffcc6633, 0xff996633, 0xff666633, 0xff336633,
    0xff006633, 0xffff3333, 0xffcc3333, 0xff993333, 0xff663333, 0xff333333, 0xff003333, 0xffff0033,
    0xffcc0033, 0xff990033, 0xff660033, 0xff330033, 0xff000033, 0xffffff00, 0xffccff00, 0xff99ff00,
    0xff66ff00, 0xff33ff00, 0xff00ff00, 0xffffcc00, 0xffcccc00, 0xff99cc00, 0xff66cc00, 0xff33cc00,
    0xff00cc00, 0xffff9900, 0xffcc9900, 0xff999900, 0xff669900, 0xff339900, 0xff009900, 0xffff6600,
    0xffcc6600, 0xff996600, 0xff666600, 0xff336600, 0xff006600, 0xffff3300, 0xffcc3300, 0xff993300,
    0xff663300, 0xff333300, 0xff003300, 0xffff0000, 0xffcc0000, 0xff990000, 0xff660000, 0xff330000,
    0xff0000ee, 0xff0000dd, 0xff0000bb, 0xff0000aa, 0xff000088, 0xff000077, 0xff000055, 0xff000044,
    0xff000022, 0xff000011, 0xff00ee00, 0xff00dd00, 0xff00bb00, 0xff00aa00, 0xff008800, 0xff007700,
    0xff005500, 0xff004400, 0xff002200, 0xff001100, 0xffee0000, 0xffdd0000, 0xffbb0000, 0xffaa0000,
    0xff880000, 0xff770000, 0xff550000, 0xff440000, 0xff220000, 0xff110000, 0xffeeeeee, 0xffdddddd,
    0xffbbbbbb, 0xffaaaaaa, 0xff888888, 0xff777777, 0xff555555, 0xff444444, 0xff222222, 0xff111111};

void dvren_vox_default_palette(uint8_t out[256][4])
{
    int i;
    for (i = 0; i < 256; ++i) {
        uint32_t c = dvren__vox_default[(i + 1) & 255];
        out[i][0] = (uint8_t)(c & 0xff);
        out[i][1] = (uint8_t)((c >> 8) & 0xff);
        out[i][2] = (uint8_t)((c >> 16) & 0xff);
        out[i][3] = (uint8_t)((c >> 24) & 0xff);
    }
}

const char* dvren_vox_status_string(dvren_vox_status s)
{
    switch (s) {
    case DVREN_VOX_OK: return "OK";
    case DVREN_VOX_IO: return "IO";
    case DVREN_VOX_FORMAT: return "FORMAT";
    case DVREN_VOX_UNSUPPORTED: return "UNSUPPORTED";
    case DVREN_VOX_TOO_LARGE: return "TOO_LARGE";
    case DVREN_VOX_NO_MEMORY: return "NO_MEMORY";
    case DVREN_VOX_INVALID: return "INVALID";
    default: return "UNKNOWN";
    }
}

enum { DVREN__VOX_TRN = 1, DVREN__VOX_GRP = 2, DVREN__VOX_SHP = 3 };

typedef struct dvren__vox_model {
    const unsigned char* xyzi; /* the 4-byte voxel records */
    size_t size_off;           /* the SIZE chunk's offset, for messages */
} dvren__vox_model;

typedef struct dvren__vox_node {
    int32_t id;
    int kind;               /* DVREN__VOX_TRN / GRP / SHP */
    size_t off;             /* the chunk's offset, for messages */
    int32_t child;          /* TRN: the child id; SHP: the model id */
    int32_t rot[9];         /* TRN: row-major rotation */
    int32_t t[3];           /* TRN: translation */
    uint32_t nchildren;     /* GRP */
    const unsigned char* children; /* GRP: nchildren little-endian int32 ids */
    int on_path;            /* walk: 1 while the node is on the current path (cycle check) */
} dvren__vox_node;

typedef struct dvren__vox_parser {
    dvren_vox_scene* vs;
    const char* name;
    const unsigned char* data;
    size_t size;
    dvren__vox_model* m;    /* vs->model_count entries (cap m_cap) */
    size_t m_cap;
    dvren__vox_node* nodes; /* n_nodes, sorted by id after the chunk pass */
    size_t n_nodes, n_cap;
    size_t placed, visits;  /* walk: voxels and nodes so far */
    int filling;            /* walk: 0 counts, 1 writes voxels */
} dvren__vox_parser;

static int32_t dvren__vox_i32(const unsigned char* p)
{
    uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return (int32_t)u; /* two's complement on every platform dvren supports */
}

/* Sets the error "<name>: chunk '<id>' at offset <off>: <problem>" (id may
 * be NULL: the file header) and returns status. */
static dvren_vox_status dvren__vox_fail(dvren__vox_parser* P, dvren_vox_status st, const unsigned char* id, size_t off,
                                        const char* fmt, ...)
{
    char where[64], msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (id) {
        char idtxt[20];
        int i, k = 0;
        for (i = 0; i < 4; ++i) {
            if (id[i] >= 0x20 && id[i] < 0x7f && id[i] != '\'' && id[i] != '\\') idtxt[k++] = (char)id[i];
            else k += snprintf(idtxt + k, sizeof idtxt - (size_t)k, "\\x%02x", id[i]);
        }
        idtxt[k] = 0;
        snprintf(where, sizeof where, "chunk '%s' at offset %lu", idtxt, (unsigned long)off);
    } else {
        snprintf(where, sizeof where, "header at offset %lu", (unsigned long)off);
    }
    snprintf(P->vs->error, sizeof P->vs->error, "%s: %s: %s", P->name, where, msg);
    P->vs->status = st;
    return st;
}

/* Reads a STRING at *pos of the content [0, n) starting at c; on success
 * *s / *len get it and *pos moves past it. Returns 0, or 1 when it does not fit. */
static int dvren__vox_string(const unsigned char* c, size_t n, size_t* pos, const unsigned char** s, size_t* len)
{
    int32_t l;
    if (n - *pos < 4) return 1;
    l = dvren__vox_i32(c + *pos);
    if (l < 0 || (size_t)l > n - *pos - 4) return 1;
    *s = c + *pos + 4;
    *len = (size_t)l;
    *pos += 4 + (size_t)l;
    return 0;
}

/* Reads a DICT at *pos; the values of keys "_r" and "_t" go to r / t (NULL
 * when absent). Returns NULL, or what is wrong. */
static const char* dvren__vox_dict(const unsigned char* c, size_t n, size_t* pos, const unsigned char** r, size_t* rlen,
                                   const unsigned char** t, size_t* tlen)
{
    int32_t pairs, i;
    if (r) *r = NULL;
    if (t) *t = NULL;
    if (n - *pos < 4) return "a DICT's pair count passes the content's end";
    pairs = dvren__vox_i32(c + *pos);
    *pos += 4;
    /* each pair takes at least 8 bytes: refuse a count the bytes cannot hold */
    if (pairs < 0 || (size_t)pairs > (n - *pos) / 8) return "a DICT's pair count is negative or larger than its bytes can hold";
    for (i = 0; i < pairs; ++i) {
        const unsigned char *k, *v;
        size_t kl, vl;
        if (dvren__vox_string(c, n, pos, &k, &kl) || dvren__vox_string(c, n, pos, &v, &vl))
            return "a DICT's STRING passes the content's end";
        if (kl == 2 && k[0] == '_' && k[1] == 'r' && r) {
            *r = v;
            *rlen = vl;
        } else if (kl == 2 && k[0] == '_' && k[1] == 't' && t) {
            *t = v;
            *tlen = vl;
        }
    }
    return NULL;
}

/* Parses "count" space-separated decimal integers of |value| <= 2^24 from
 * s[0..len) exactly (one space between, nothing else). Returns 0 or 1. */
static int dvren__vox_ints(const unsigned char* s, size_t len, int32_t* out, int count)
{
    size_t i = 0;
    int k;
    for (k = 0; k < count; ++k) {
        int neg = 0, digits = 0;
        int32_t v = 0;
        if (k > 0) {
            if (i >= len || s[i] != ' ') return 1;
            ++i;
        }
        if (i < len && s[i] == '-') {
            neg = 1;
            ++i;
        }
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v > (1 << 24)) return 1;
            ++i;
            ++digits;
        }
        if (!digits) return 1;
        out[k] = neg ? -v : v;
    }
    return i == len ? 0 : 1;
}

/* The rotation byte's matrix (row-major); returns 1 when the byte is not
 * one of the 48 signed permutations. */
static int dvren__vox_rotation(int32_t b, int32_t R[9])
{
    int r0, r1, r2, i;
    if (b < 0 || b > 127) return 1;
    r0 = b & 3;
    r1 = (b >> 2) & 3;
    if (r0 > 2 || r1 > 2 || r0 == r1) return 1;
    r2 = 3 - r0 - r1;
    for (i = 0; i < 9; ++i) R[i] = 0;
    R[0 * 3 + r0] = (b >> 4) & 1 ? -1 : 1;
    R[1 * 3 + r1] = (b >> 5) & 1 ? -1 : 1;
    R[2 * 3 + r2] = (b >> 6) & 1 ? -1 : 1;
    return 0;
}

static dvren_vox_status dvren__vox_node_chunk(dvren__vox_parser* P, const unsigned char* id, size_t off,
                                              const unsigned char* c, size_t n)
{
    dvren__vox_node nd;
    size_t pos = 4;
    const char* e;
    memset(&nd, 0, sizeof nd);
    nd.off = off;
    nd.rot[0] = nd.rot[4] = nd.rot[8] = 1;
    if (n < 4) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "content of %lu bytes is too short for a node id", (unsigned long)n);
    nd.id = dvren__vox_i32(c);
    if (nd.id < 0) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "negative node id %ld", (long)nd.id);
    if ((e = dvren__vox_dict(c, n, &pos, NULL, NULL, NULL, NULL)) != NULL)
        return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld attributes: %s", (long)nd.id, e);
    if (!memcmp(id, "nTRN", 4)) {
        int32_t frames, f;
        nd.kind = DVREN__VOX_TRN;
        if (n - pos < 16) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: content ends before the frame count", (long)nd.id);
        nd.child = dvren__vox_i32(c + pos);
        frames = dvren__vox_i32(c + pos + 12);
        pos += 16;
        if (frames < 1 || (size_t)frames > (n - pos) / 4)
            return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: frame count %ld is below 1 or larger than its bytes can hold",
                                   (long)nd.id, (long)frames);
        for (f = 0; f < frames; ++f) {
            const unsigned char *r, *t;
            size_t rl = 0, tl = 0;
            if ((e = dvren__vox_dict(c, n, &pos, &r, &rl, &t, &tl)) != NULL)
                return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld frame %ld: %s", (long)nd.id, (long)f, e);
            if (f > 0) continue; /* animation frames: only the first one places the model */
            if (r) {
                int32_t b;
                if (dvren__vox_ints(r, rl, &b, 1) || dvren__vox_rotation(b, nd.rot))
                    return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: _r \"%.*s\" is not a rotation byte (ROTATION type)",
                                           (long)nd.id, (int)(rl > 32 ? 32 : rl), (const char*)r);
            }
            if (t && dvren__vox_ints(t, tl, nd.t, 3))
                return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: _t \"%.*s\" is not three integers \"x y z\" of at most 2^24",
                                       (long)nd.id, (int)(tl > 48 ? 48 : tl), (const char*)t);
        }
    } else if (!memcmp(id, "nGRP", 4)) {
        int32_t k;
        nd.kind = DVREN__VOX_GRP;
        if (n - pos < 4) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: content ends before the child count", (long)nd.id);
        k = dvren__vox_i32(c + pos);
        pos += 4;
        if (k < 0 || (size_t)k > (n - pos) / 4)
            return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: child count %ld is negative or larger than its bytes can hold",
                                   (long)nd.id, (long)k);
        nd.nchildren = (uint32_t)k;
        nd.children = c + pos;
        pos += 4 * (size_t)k;
    } else { /* nSHP */
        int32_t k, j;
        nd.kind = DVREN__VOX_SHP;
        if (n - pos < 4) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: content ends before the model count", (long)nd.id);
        k = dvren__vox_i32(c + pos);
        pos += 4;
        if (k < 1 || (size_t)k > (n - pos) / 8)
            return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: model count %ld is below 1 or larger than its bytes can hold",
                                   (long)nd.id, (long)k);
        for (j = 0; j < k; ++j) {
            if (n - pos < 4) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: model %ld passes the content's end", (long)nd.id, (long)j);
            if (j == 0) nd.child = dvren__vox_i32(c + pos);
            pos += 4;
            if ((e = dvren__vox_dict(c, n, &pos, NULL, NULL, NULL, NULL)) != NULL)
                return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld model %ld attributes: %s", (long)nd.id, (long)j, e);
        }
        if (nd.child < 0) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: negative model id %ld", (long)nd.id, (long)nd.child);
    }
    if (pos != n)
        return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, off, "node %ld: its fields end at %lu bytes of the %lu-byte content",
                               (long)nd.id, (unsigned long)pos, (unsigned long)n);
    if (P->n_nodes == P->n_cap) {
        size_t cap = P->n_cap ? 2 * P->n_cap : 64;
        dvren__vox_node* a = (dvren__vox_node*)realloc(P->nodes, cap * sizeof *a);
        if (!a) return dvren__vox_fail(P, DVREN_VOX_NO_MEMORY, id, off, "out of memory");
        P->nodes = a;
        P->n_cap = cap;
    }
    P->nodes[P->n_nodes++] = nd;
    return DVREN_VOX_OK;
}

static int dvren__vox_node_cmp(const void* a, const void* b)
{
    int32_t x = ((const dvren__vox_node*)a)->id, y = ((const dvren__vox_node*)b)->id;
    return x < y ? -1 : x > y;
}

static dvren__vox_node* dvren__vox_find(dvren__vox_parser* P, int32_t id)
{
    size_t lo = 0, hi = P->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (P->nodes[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < P->n_nodes && P->nodes[lo].id == id ? &P->nodes[lo] : NULL;
}

static void dvren__vox_grow_box(int32_t mn[3], int32_t mx[3], const int32_t lo[3], const int32_t hi[3], int first)
{
    int i;
    for (i = 0; i < 3; ++i) {
        if (first || lo[i] < mn[i]) mn[i] = lo[i];
        if (first || hi[i] > mx[i]) mx[i] = hi[i];
    }
}

/* Places model m with rotation R and translation t (the formula at the top
 * of the file; identity = no scene graph: R = I, t = 0, no pivot). */
static void dvren__vox_place(dvren__vox_parser* P, uint32_t m, const int32_t R[9], const int32_t t[3], int pivot)
{
    dvren_vox_scene* vs = P->vs;
    const dvren_vox_model* md = &vs->models[m];
    int32_t p[3], c[3], corner[2][3], lo[3], hi[3];
    uint32_t j;
    int i, k;
    for (i = 0; i < 3; ++i) {
        p[i] = pivot ? md->size[i] / 2 : 0;
        c[i] = (R[3 * i] + R[3 * i + 1] + R[3 * i + 2]) < 0 ? -1 : 0;
    }
    /* the SIZE box: the images of the cells 0 and size - 1 */
    for (k = 0; k < 2; ++k)
        for (i = 0; i < 3; ++i) {
            int32_t v0 = 0 - p[0] + (k ? md->size[0] - 1 : 0), v1 = 0 - p[1] + (k ? md->size[1] - 1 : 0),
                    v2 = 0 - p[2] + (k ? md->size[2] - 1 : 0);
            corner[k][i] = R[3 * i] * v0 + R[3 * i + 1] * v1 + R[3 * i + 2] * v2 + t[i] + c[i];
        }
    for (i = 0; i < 3; ++i) {
        lo[i] = corner[0][i] < corner[1][i] ? corner[0][i] : corner[1][i];
        hi[i] = (corner[0][i] < corner[1][i] ? corner[1][i] : corner[0][i]) + 1;
    }
    dvren__vox_grow_box(vs->box_min, vs->box_max, lo, hi, vs->instance_count == 0);
    vs->instance_count++;
    vs->models[m].instances++;
    for (j = 0; j < md->voxel_count; ++j) {
        const unsigned char* q = P->m[m].xyzi + 4 * (size_t)j;
        int32_t v[3], w[3], w1[3];
        dvren_vox_voxel* o = &vs->voxels[P->placed + j];
        v[0] = q[0] - p[0];
        v[1] = q[1] - p[1];
        v[2] = q[2] - p[2];
        for (i = 0; i < 3; ++i) {
            w[i] = R[3 * i] * v[0] + R[3 * i + 1] * v[1] + R[3 * i + 2] * v[2] + t[i] + c[i];
            w1[i] = w[i] + 1;
        }
        o->x = w[0];
        o->y = w[1];
        o->z = w[2];
        o->model = m;
        o->color = q[3];
        dvren__vox_grow_box(vs->voxel_min, vs->voxel_max, w, w1, P->placed + j == 0);
    }
    P->placed += md->voxel_count;
}

/* Walks the scene graph from node nd with the accumulated transform (R, t).
 * In the counting pass (P->filling 0) checks the graph and counts voxels;
 * in the filling pass places them. */
static dvren_vox_status dvren__vox_walk(dvren__vox_parser* P, dvren__vox_node* nd, const int32_t R[9], const int32_t t[3], int depth)
{
    dvren_vox_scene* vs = P->vs;
    static const unsigned char trn[4] = {'n', 'T', 'R', 'N'}, grp[4] = {'n', 'G', 'R', 'P'}, shp[4] = {'n', 'S', 'H', 'P'};
    const unsigned char* id = nd->kind == DVREN__VOX_TRN ? trn : nd->kind == DVREN__VOX_GRP ? grp : shp;
    dvren_vox_status st = DVREN_VOX_OK;
    if (nd->on_path) return dvren__vox_fail(P, DVREN_VOX_FORMAT, id, nd->off, "node %ld is its own ancestor (a cycle)", (long)nd->id);
    if (++P->visits > 4 * DVREN_VOX_MAX_INSTANCES || depth > 1024)
        return dvren__vox_fail(P, DVREN_VOX_TOO_LARGE, id, nd->off, "the scene graph visits more than %lu nodes or nests deeper than 1024",
                               (unsigned long)(4 * DVREN_VOX_MAX_INSTANCES));
    nd->on_path = 1;
    if (nd->kind == DVREN__VOX_TRN) {
        int32_t R2[9], t2[3];
        int i, j, k;
        dvren__vox_node* ch = dvren__vox_find(P, nd->child);
        for (i = 0; i < 3; ++i) {
            int64_t acc = t[i];
            for (j = 0; j < 3; ++j) {
                int32_t s = 0;
                for (k = 0; k < 3; ++k) s += R[3 * i + k] * nd->rot[3 * k + j];
                R2[3 * i + j] = s;
                acc += (int64_t)R[3 * i + j] * nd->t[j];
            }
            if (acc > ((int64_t)1 << 30) || acc < -((int64_t)1 << 30)) {
                nd->on_path = 0;
                return dvren__vox_fail(P, DVREN_VOX_UNSUPPORTED, id, nd->off, "node %ld: the summed translation passes 2^30", (long)nd->id);
            }
            t2[i] = (int32_t)acc;
        }
        if (!ch) st = dvren__vox_fail(P, DVREN_VOX_FORMAT, id, nd->off, "node %ld: child node %ld does not exist", (long)nd->id, (long)nd->child);
        else st = dvren__vox_walk(P, ch, R2, t2, depth + 1);
    } else if (nd->kind == DVREN__VOX_GRP) {
        uint32_t k;
        for (k = 0; k < nd->nchildren && st == DVREN_VOX_OK; ++k) {
            int32_t cid = dvren__vox_i32(nd->children + 4 * (size_t)k);
            dvren__vox_node* ch = dvren__vox_find(P, cid);
            if (!ch) st = dvren__vox_fail(P, DVREN_VOX_FORMAT, id, nd->off, "node %ld: child node %ld does not exist", (long)nd->id, (long)cid);
            else st = dvren__vox_walk(P, ch, R, t, depth + 1);
        }
    } else {
        if ((uint32_t)nd->child >= vs->model_count) {
            st = dvren__vox_fail(P, DVREN_VOX_FORMAT, id, nd->off, "node %ld: model id %ld is not below the model count %lu", (long)nd->id,
                                 (long)nd->child, (unsigned long)vs->model_count);
        } else if (P->filling) {
            dvren__vox_place(P, (uint32_t)nd->child, R, t, 1);
        } else {
            P->placed += vs->models[nd->child].voxel_count;
            vs->instance_count++;
            if (vs->instance_count > DVREN_VOX_MAX_INSTANCES)
                st = dvren__vox_fail(P, DVREN_VOX_TOO_LARGE, id, nd->off, "the scene places more than %lu shapes",
                                     (unsigned long)DVREN_VOX_MAX_INSTANCES);
            else if (P->placed > DVREN_VOX_MAX_BYTES / sizeof(dvren_vox_voxel))
                st = dvren__vox_fail(P, DVREN_VOX_TOO_LARGE, id, nd->off, "the placed voxels would take more than %lu MiB",
                                     (unsigned long)(DVREN_VOX_MAX_BYTES >> 20));
        }
    }
    nd->on_path = 0;
    return st;
}

dvren_vox_status dvren_vox_parse(dvren_vox_scene* vs, const void* data, size_t size, const char* name)
{
    dvren__vox_parser P;
    const unsigned char* d = (const unsigned char*)data;
    size_t pos, main_end, pending_size = 0;
    int have_pending = 0, have_pack = 0, i;
    int32_t pending[3] = {0, 0, 0}, pack = 0;
    dvren_vox_status st = DVREN_VOX_OK;
    if (!vs) return DVREN_VOX_INVALID;
    memset(vs, 0, sizeof *vs);
    memset(&P, 0, sizeof P);
    P.vs = vs;
    P.name = name ? name : "<memory>";
    P.data = d;
    P.size = size;
    if (!d && size) return dvren__vox_fail(&P, DVREN_VOX_INVALID, NULL, 0, "data is NULL");
    if (size > DVREN_VOX_MAX_BYTES)
        return dvren__vox_fail(&P, DVREN_VOX_TOO_LARGE, NULL, 0, "%lu bytes is over the limit of %lu MiB", (unsigned long)size,
                               (unsigned long)(DVREN_VOX_MAX_BYTES >> 20));
    if (size < 8 || memcmp(d, "VOX ", 4) != 0)
        return dvren__vox_fail(&P, DVREN_VOX_FORMAT, NULL, 0, "bad magic: a .vox file starts with \"VOX \" and an int32 version (%lu bytes here)",
                               (unsigned long)size);
    vs->version = dvren__vox_i32(d + 4);
    if (size - 8 < 12) return dvren__vox_fail(&P, DVREN_VOX_FORMAT, NULL, 8, "truncated: no MAIN chunk header after the version");
    if (memcmp(d + 8, "MAIN", 4) != 0) return dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + 8, 8, "the first chunk must be MAIN");
    {
        int32_t n = dvren__vox_i32(d + 12), m = dvren__vox_i32(d + 16);
        if (n < 0 || m < 0 || (size_t)n > size - 20 || (size_t)m > size - 20 - (size_t)n)
            return dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + 8, 8, "truncated: content %ld + children %ld bytes, but %lu bytes follow its header",
                                   (long)n, (long)m, (unsigned long)(size - 20));
        if (20 + (size_t)n + (size_t)m != size)
            return dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + 8, 8, "%lu bytes follow the MAIN chunk", (unsigned long)(size - 20 - (size_t)n - (size_t)m));
        pos = 20 + (size_t)n;
        main_end = size;
    }
    /* ---- the chunk pass: MAIN's children in order */
    while (pos < main_end) {
        const unsigned char* id = d + pos;
        size_t off = pos, cn, cm;
        const unsigned char* c;
        int32_t n, m;
        if (main_end - pos < 12) {
            st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, NULL, off, "truncated: %lu bytes left in MAIN, fewer than a 12-byte chunk header",
                                 (unsigned long)(main_end - pos));
            goto cleanup;
        }
        n = dvren__vox_i32(d + pos + 4);
        m = dvren__vox_i32(d + pos + 8);
        if (n < 0 || m < 0 || (size_t)n > main_end - pos - 12 || (size_t)m > main_end - pos - 12 - (size_t)n) {
            st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "truncated: content %ld + children %ld bytes, but %lu bytes are left in MAIN",
                                 (long)n, (long)m, (unsigned long)(main_end - pos - 12));
            goto cleanup;
        }
        cn = (size_t)n;
        cm = (size_t)m;
        c = d + pos + 12;
        pos += 12 + cn + cm;
        if (have_pending && memcmp(id, "XYZI", 4) != 0) {
            st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "a SIZE chunk (offset %lu) must be followed by its XYZI chunk",
                                 (unsigned long)pending_size);
            goto cleanup;
        }
        if (!memcmp(id, "SIZE", 4) || !memcmp(id, "XYZI", 4) || !memcmp(id, "RGBA", 4) || !memcmp(id, "PACK", 4) ||
            !memcmp(id, "nTRN", 4) || !memcmp(id, "nGRP", 4) || !memcmp(id, "nSHP", 4)) {
            if (cm) {
                st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "has %lu bytes of children; this chunk has none", (unsigned long)cm);
                goto cleanup;
            }
        }
        if (!memcmp(id, "PACK", 4)) {
            if (cn != 4 || have_pack || vs->model_count) {
                if (cn != 4) st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "content is %lu bytes, not 4", (unsigned long)cn);
                else st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "PACK must come once, before the models");
                goto cleanup;
            }
            pack = dvren__vox_i32(c);
            have_pack = 1;
        } else if (!memcmp(id, "SIZE", 4)) {
            if (cn != 12) {
                st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "content is %lu bytes, not 12 (int32 x, y, z)", (unsigned long)cn);
                goto cleanup;
            }
            for (i = 0; i < 3; ++i) {
                pending[i] = dvren__vox_i32(c + 4 * i);
                if (pending[i] < 1 || pending[i] > 256) {
                    st = dvren__vox_fail(&P, pending[i] < 1 ? DVREN_VOX_FORMAT : DVREN_VOX_UNSUPPORTED, id, off,
                                         "size %ld x %ld x %ld: each axis must be 1..256", (long)dvren__vox_i32(c), (long)dvren__vox_i32(c + 4),
                                         (long)dvren__vox_i32(c + 8));
                    goto cleanup;
                }
            }
            have_pending = 1;
            pending_size = off;
        } else if (!memcmp(id, "XYZI", 4)) {
            int32_t count;
            uint32_t j;
            unsigned char* seen;
            size_t cells;
            dvren_vox_model* md;
            if (!have_pending) {
                st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "no SIZE chunk before this XYZI");
                goto cleanup;
            }
            if (cn < 4) {
                st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "content is %lu bytes, too short for the voxel count", (unsigned long)cn);
                goto cleanup;
            }
            count = dvren__vox_i32(c);
            if (count < 0 || (size_t)count > (cn - 4) / 4 || 4 + 4 * (size_t)count != cn) {
                st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "voxel count %ld does not match the content's %lu bytes (4 + 4 x count)",
                                     (long)count, (unsigned long)cn);
                goto cleanup;
            }
            if (vs->model_count == P.m_cap) {
                size_t cap = P.m_cap ? 2 * P.m_cap : 8;
                dvren_vox_model* a = (dvren_vox_model*)realloc(vs->models, cap * sizeof *a);
                dvren__vox_model* b;
                if (!a) {
                    st = dvren__vox_fail(&P, DVREN_VOX_NO_MEMORY, id, off, "out of memory");
                    goto cleanup;
                }
                vs->models = a;
                b = (dvren__vox_model*)realloc(P.m, cap * sizeof *b);
                if (!b) {
                    st = dvren__vox_fail(&P, DVREN_VOX_NO_MEMORY, id, off, "out of memory");
                    goto cleanup;
                }
                P.m = b;
                P.m_cap = cap;
            }
            md = &vs->models[vs->model_count];
            memset(md, 0, sizeof *md);
            md->size[0] = pending[0];
            md->size[1] = pending[1];
            md->size[2] = pending[2];
            md->voxel_count = (uint32_t)count;
            P.m[vs->model_count].xyzi = c + 4;
            P.m[vs->model_count].size_off = pending_size;
            /* every voxel inside SIZE, colour 1..255, no position twice (one bit per cell, at most 2 MiB) */
            cells = (size_t)pending[0] * (size_t)pending[1] * (size_t)pending[2];
            seen = (unsigned char*)calloc((cells + 7) / 8, 1);
            if (!seen) {
                st = dvren__vox_fail(&P, DVREN_VOX_NO_MEMORY, id, off, "out of memory");
                goto cleanup;
            }
            for (j = 0; j < (uint32_t)count; ++j) {
                const unsigned char* q = c + 4 + 4 * (size_t)j;
                size_t cell;
                if (q[0] >= pending[0] || q[1] >= pending[1] || q[2] >= pending[2] || q[3] == 0) {
                    if (q[3] == 0)
                        st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "voxel %lu at (%d, %d, %d) has colour index 0 (indices are 1..255)",
                                             (unsigned long)j, q[0], q[1], q[2]);
                    else
                        st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "voxel %lu at (%d, %d, %d) is outside the model's SIZE %ld x %ld x %ld",
                                             (unsigned long)j, q[0], q[1], q[2], (long)pending[0], (long)pending[1], (long)pending[2]);
                    free(seen);
                    goto cleanup;
                }
                cell = ((size_t)q[2] * (size_t)pending[1] + q[1]) * (size_t)pending[0] + q[0];
                if (seen[cell >> 3] & (1u << (cell & 7))) {
                    st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "voxel %lu repeats the position (%d, %d, %d)", (unsigned long)j, q[0], q[1], q[2]);
                    free(seen);
                    goto cleanup;
                }
                seen[cell >> 3] = (unsigned char)(seen[cell >> 3] | (1u << (cell & 7)));
            }
            free(seen);
            vs->model_voxels += (uint32_t)count;
            vs->model_count++;
            have_pending = 0;
        } else if (!memcmp(id, "RGBA", 4)) {
            if (cn != 1024 || vs->has_rgba) {
                if (cn != 1024) st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "content is %lu bytes, not 256 x 4 = 1024", (unsigned long)cn);
                else st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "a second RGBA chunk");
                goto cleanup;
            }
            memcpy(vs->palette, c, 1024);
            vs->has_rgba = 1;
        } else if (!memcmp(id, "nTRN", 4) || !memcmp(id, "nGRP", 4) || !memcmp(id, "nSHP", 4)) {
            if ((st = dvren__vox_node_chunk(&P, id, off, c, cn)) != DVREN_VOX_OK) goto cleanup;
        } else if (!memcmp(id, "MAIN", 4)) {
            st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, id, off, "a second MAIN chunk inside MAIN");
            goto cleanup;
        }
        /* anything else (MATL, MATT, LAYR, IMAP, rOBJ, rCAM, NOTE, ...) is skipped by its sizes */
    }
    if (have_pending) {
        st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + pending_size, pending_size, "SIZE without its XYZI chunk");
        goto cleanup;
    }
    if (have_pack && (pack < 0 || (uint32_t)pack != vs->model_count)) {
        st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + 8, 8, "PACK says %ld models, the file has %lu", (long)pack, (unsigned long)vs->model_count);
        goto cleanup;
    }
    if (!vs->has_rgba) dvren_vox_default_palette(vs->palette);

    /* ---- placing the models */
    {
        static const int32_t I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, Z[3] = {0, 0, 0};
        size_t total = 0;
        if (P.n_nodes) {
            dvren__vox_node* root;
            size_t k;
            vs->has_scene_graph = 1;
            qsort(P.nodes, P.n_nodes, sizeof *P.nodes, dvren__vox_node_cmp);
            for (k = 1; k < P.n_nodes; ++k)
                if (P.nodes[k].id == P.nodes[k - 1].id) {
                    const dvren__vox_node* a = &P.nodes[k];
                    st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + a->off, a->off, "node id %ld is used twice", (long)a->id);
                    goto cleanup;
                }
            root = dvren__vox_find(&P, 0);
            if (!root || root->kind != DVREN__VOX_TRN) {
                st = dvren__vox_fail(&P, DVREN_VOX_FORMAT, d + 8, 8, "the scene graph has no root transform node 0");
                goto cleanup;
            }
            if ((st = dvren__vox_walk(&P, root, I, Z, 0)) != DVREN_VOX_OK) goto cleanup;
            total = P.placed;
        } else {
            uint32_t k;
            for (k = 0; k < vs->model_count; ++k) total += vs->models[k].voxel_count;
            if (total > DVREN_VOX_MAX_BYTES / sizeof(dvren_vox_voxel)) {
                st = dvren__vox_fail(&P, DVREN_VOX_TOO_LARGE, d + 8, 8, "the voxels would take more than %lu MiB", (unsigned long)(DVREN_VOX_MAX_BYTES >> 20));
                goto cleanup;
            }
        }
        if (total) {
            vs->voxels = (dvren_vox_voxel*)malloc(total * sizeof *vs->voxels);
            if (!vs->voxels) {
                st = dvren__vox_fail(&P, DVREN_VOX_NO_MEMORY, d + 8, 8, "out of memory for %lu voxels", (unsigned long)total);
                goto cleanup;
            }
        }
        vs->instance_count = 0;
        P.placed = 0;
        P.filling = 1;
        P.visits = 0;
        if (P.n_nodes) {
            if ((st = dvren__vox_walk(&P, dvren__vox_find(&P, 0), I, Z, 0)) != DVREN_VOX_OK) goto cleanup;
        } else {
            uint32_t k;
            for (k = 0; k < vs->model_count; ++k) dvren__vox_place(&P, k, I, Z, 0);
        }
        vs->voxel_count = P.placed;
    }

cleanup:
    free(P.m);
    free(P.nodes);
    if (st != DVREN_VOX_OK) {
        char keep[sizeof vs->error];
        memcpy(keep, vs->error, sizeof keep);
        dvren_vox_free(vs);
        memcpy(vs->error, keep, sizeof keep);
        vs->status = st;
        return st;
    }
    vs->status = DVREN_VOX_OK;
    vs->error[0] = 0;
    return DVREN_VOX_OK;
}

dvren_vox_status dvren_vox_load(dvren_vox_scene* vs, const char* path)
{
    char err[256];
    size_t n = 0;
    char* bytes;
    dvren_vox_status st;
    if (!vs) return DVREN_VOX_INVALID;
    memset(vs, 0, sizeof *vs);
    if (!path) {
        snprintf(vs->error, sizeof vs->error, "dvren_vox_load: path is NULL");
        return vs->status = DVREN_VOX_INVALID;
    }
    bytes = dvren_io_read_file(path, DVREN_VOX_MAX_BYTES, &n, err, sizeof err);
    if (!bytes) {
        snprintf(vs->error, sizeof vs->error, "%s: %s", path, err);
        return vs->status = strstr(err, "larger than") ? DVREN_VOX_TOO_LARGE : DVREN_VOX_IO;
    }
    st = dvren_vox_parse(vs, bytes, n, path);
    free(bytes);
    return st;
}

void dvren_vox_free(dvren_vox_scene* vs)
{
    if (!vs) return;
    free(vs->voxels);
    free(vs->models);
    memset(vs, 0, sizeof *vs);
}

#endif /* DVREN_VOX_IMPLEMENTATION_ONCE */
#endif /* DVREN_VOX_IMPLEMENTATION */
