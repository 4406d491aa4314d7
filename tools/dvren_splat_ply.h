/* tools/dvren_splat_ply.h - reading and writing 3D Gaussian splats in the
 * PLY layout of 3D Gaussian Splatting (docs/splats.md, "PLY files"). Needs
 * dvren.h (dvren_context, dvren_set_error, dvren_log,
 * dvren_file_write_atomic) and the C library. No global mutable state, no
 * printing, no exit().
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_SPLAT_PLY_IMPLEMENTATION
 *     #include "dvren_splat_ply.h"
 * (dvren.h's implementation, DVREN_IMPLEMENTATION, must be in the program
 * too). Other files include it without the define (declarations only).
 *
 *   dvren_splats s;
 *   if (dvren_splat_ply_load(ctx, "point_cloud.ply", 0, &s) != DVREN_OK) { fprintf(stderr, "%s\n", dvren_last_error(ctx)); ... }
 *   ... s.count Gaussians; s.means[3 * i + 0..2], s.f_rest[s.rest_count * i + c * s.rest_per_channel + k] ...
 *   dvren_splat_ply_save(ctx, "out.ply", &s);
 *   dvren_splats_free(&s);
 *
 * The format (the sources this implements):
 *   Greg Turk, "The PLY Polygon File Format" (1994; paulbourke.net/dataformats/ply):
 *     the header is text lines, "ply", "format <ascii|binary_little_endian|
 *     binary_big_endian> 1.0", "comment ..." / "obj_info ...", "element
 *     <name> <count>", "property <type> <name>" (types char uchar short
 *     ushort int uint float double, and int8 uint8 int16 uint16 int32 uint32
 *     float32 float64 as later tools write them) or "property list ...",
 *     then "end_header" and a newline. The body holds each element's
 *     records in header order, each record its properties in header order:
 *     in binary, packed without padding; in ASCII, numbers separated by
 *     white space (one record a line by convention; not required here).
 *   Kerbl, Kopanas, Leimkuehler, Drettakis, "3D Gaussian Splatting for
 *     Real-Time Radiance Field Rendering", SIGGRAPH 2023, and its code
 *     (graphdeco-inria/gaussian-splatting, scene/gaussian_model.py,
 *     save_ply / load_ply): one element "vertex", float32 properties
 *     x y z nx ny nz f_dc_0..2 f_rest_0..(3 K - 1) opacity scale_0..2
 *     rot_0..3, binary little-endian, where K = (degree + 1)^2 - 1 = 0, 3,
 *     8 or 15 for SH degree 0..3. The values are stored raw: f_dc are the
 *     degree-0 SH coefficients (colour = 0.5 + C0 f_dc, C0 = 0.28209479),
 *     f_rest channel-major (f_rest_0..K-1 the R channel's coefficients of
 *     bands 1.., then G, then B: the transpose of the (K, 3) tensor the
 *     code trains), opacity a logit (sigmoid gives the opacity), scale_i
 *     the log of the standard deviation along the Gaussian's axis i (exp
 *     gives it, in scene units), rot the quaternion w x y z, not
 *     normalised. nx ny nz are written as zeros by 3DGS and unused.
 *
 * Reading. One element, "vertex"; its properties in any order. Required:
 * x y z f_dc_0..2 opacity scale_0..2 rot_0..3. Optional: nx ny nz (all three
 * or none; zeros when absent), f_rest_0..M-1 with M = 0, 9, 24 or 45 and no
 * index missing. Any other scalar property is kept as an extra (values as
 * double, exact for every PLY type) in file order. The standard properties
 * may have any scalar type; they are converted to float (3DGS files use
 * float, which is kept bit for bit). Refused (DVREN_ERROR_FORMAT unless
 * said): a bad magic; a header without "end_header" in its first
 * DVREN_SPLAT_PLY_MAX_HEADER bytes; an unknown header keyword, format or
 * type; binary_big_endian (UNSUPPORTED); another element than "vertex" or
 * a list property (UNSUPPORTED); a property given twice; a required
 * property missing; a wrong f_rest count; a body shorter than the vertices
 * need (truncated: the message gives the bytes needed and present);
 * non-finite values (NaN or infinity, in any property: a renderer would
 * spread them; the message names the vertex and property); in ASCII, a
 * token that is not a number of the property's type. Bytes after the last
 * vertex (white space excepted in ASCII) are an error naming their count,
 * unless DVREN_SPLAT_PLY_LENIENT is given: then they are ignored with a
 * warning through dvren_log. Sizes are checked before any allocation: a
 * vertex count whose arrays would pass DVREN_SPLAT_PLY_MAX_BYTES, or that
 * the bytes present cannot hold, is refused first. Comments and obj_info
 * lines are dropped.
 *
 * Writing. Binary little-endian 1.0, one element "vertex", float32 in the
 * standard order x y z nx ny nz f_dc_0..2 f_rest_0..(3K-1) opacity
 * scale_0..2 rot_0..3 (what 3DGS writes, so viewers and plyfile read it),
 * then the extras with their own types, in their order. The header is
 * exactly "ply\nformat binary_little_endian 1.0\nelement vertex N\n", one
 * "property <type> <name>\n" line each, "end_header\n": reading a 3DGS file
 * and writing it back gives the same bytes. The file is written atomically
 * (dvren_file_write_atomic): a failure leaves no partial file.
 *
 * Not done here: big-endian files, other elements (faces), list
 * properties, compressed splat formats (.splat, .ksplat, .spz, the
 * PlayCanvas compressed PLY). */
#ifndef DVREN_SPLAT_PLY_H
#define DVREN_SPLAT_PLY_H

#include "dvren.h"

#include <stddef.h>
#include <stdint.h>

/* Refuse vertex counts whose arrays (float standard fields + double
 * extras) need more than this many bytes. */
#ifndef DVREN_SPLAT_PLY_MAX_BYTES
#define DVREN_SPLAT_PLY_MAX_BYTES ((uint64_t)1 << 31)
#endif
/* The header must end (end_header) within this many bytes. */
#ifndef DVREN_SPLAT_PLY_MAX_HEADER
#define DVREN_SPLAT_PLY_MAX_HEADER ((size_t)1 << 20)
#endif
/* At most this many properties per vertex. */
#define DVREN_SPLAT_PLY_MAX_PROPS 1024

/* Flags of dvren_splat_ply_parse / _load. */
#define DVREN_SPLAT_PLY_LENIENT 1u /* accept bytes after the last vertex, with a warning */

/* A PLY scalar type (Turk's names; the sized aliases map to the same). */
typedef enum dvren_splat_ply_type {
    DVREN_PLY_INT8 = 1,  /* char */
    DVREN_PLY_UINT8,     /* uchar */
    DVREN_PLY_INT16,     /* short */
    DVREN_PLY_UINT16,    /* ushort */
    DVREN_PLY_INT32,     /* int */
    DVREN_PLY_UINT32,    /* uint */
    DVREN_PLY_FLOAT32,   /* float */
    DVREN_PLY_FLOAT64    /* double */
} dvren_splat_ply_type;

/* One vertex property as the file declared it. */
typedef struct dvren_splat_ply_property {
    char name[64];             /* the PLY name ("x", "f_rest_12", ...), at most 63 bytes */
    dvren_splat_ply_type type; /* its stored type */
    int extra;                 /* index into dvren_splats.extra's columns, or -1 for a standard property */
} dvren_splat_ply_property;

/* N Gaussians as 3DGS stores them (the values raw, see the top of the
 * file). Every array is row-major, count rows; any may be NULL when count
 * is 0. Units: means in scene units (the file's world frame); scale in
 * log(scene units); opacity a logit; f_dc / f_rest SH coefficients of RGB
 * in [0, 1] after the +0.5 offset. */
typedef struct dvren_splats {
    size_t count;              /* N, the number of Gaussians */
    int sh_degree;             /* 0..3 */
    uint32_t rest_per_channel; /* K = (sh_degree + 1)^2 - 1: 0, 3, 8, 15 */
    uint32_t rest_count;       /* 3 K: 0, 9, 24, 45 (f_rest values per Gaussian) */
    float* means;              /* (N, 3) x y z */
    float* normals;            /* (N, 3) nx ny nz (zeros when the file has none) */
    int has_normals;           /* 1: the file declared nx ny nz */
    float* f_dc;               /* (N, 3) f_dc_0..2: R G B degree-0 coefficients */
    float* f_rest;             /* (N, 3 K) f_rest_0..3K-1, channel-major: [i][c K + k], c = R G B, k = 0..K-1 */
    float* opacity;            /* (N) logit */
    float* scale;              /* (N, 3) log standard deviations */
    float* rot;                /* (N, 4) quaternion w x y z, unnormalised */
    uint32_t prop_count;       /* properties in the file's order (standard + extras) */
    dvren_splat_ply_property* props;
    uint32_t extra_count;      /* E, properties outside the standard set */
    double* extra;             /* (N, E) their values, columns in file order (props[j].extra) */
    int ascii;                 /* 1: read from an ASCII file (writing is always binary) */
} dvren_splats;

/* Parses size bytes of a PLY file from memory; name is used in messages
 * (NULL: "<memory>"). flags: 0 or DVREN_SPLAT_PLY_LENIENT. Fills *out
 * (zeroed first; on failure left empty, nothing to free). Errors (the
 * message "splat_ply: '<name>': <field>: <problem>", field naming the
 * header line, property or vertex): FORMAT, UNSUPPORTED, OUT_OF_MEMORY,
 * INVALID_ARGUMENT (NULL arguments, unknown flags). */
DVREN_API dvren_status dvren_splat_ply_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                             unsigned flags, dvren_splats* out);
/* Reads the file at path and parses it; IO errors name the path. */
DVREN_API dvren_status dvren_splat_ply_load(dvren_context* ctx, const char* path, unsigned flags, dvren_splats* out);
/* Makes count Gaussians of SH degree 0..3, all values zero, normals
 * present, no extras, props in the standard order (for callers that build
 * a scene). Errors: INVALID_ARGUMENT (degree), FORMAT (too large),
 * OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_splats_create(dvren_context* ctx, size_t count, int sh_degree, dvren_splats* out);
/* Encodes *s as a binary little-endian 3DGS PLY (see the top of the file)
 * into a malloc'ed block (*data, *size; free with free()). Errors:
 * INVALID_ARGUMENT naming the field (NULL arrays with count > 0, a
 * rest_per_channel other than 0/3/8/15 or not matching sh_degree, a
 * non-finite value: "gaussian 7: scale_1 is nan"), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_splat_ply_encode(dvren_context* ctx, const dvren_splats* s, unsigned char** data,
                                              size_t* size);
/* Encodes and writes path atomically. Errors: those of _encode, IO. */
DVREN_API dvren_status dvren_splat_ply_save(dvren_context* ctx, const char* path, const dvren_splats* s);
/* Frees the arrays and zeroes *s (NULL is fine). */
DVREN_API void dvren_splats_free(dvren_splats* s);

/* Conversion to the renderer's parameters (dvren.h, dvren_splat_params):
 * makes owned, contiguous host f32 tensors (dvren_tensor_create on ctx)
 * means (N,3), log_scales (N,3), quats (N,4) w x y z, opacity_logits (N)
 * and sh (N, (deg+1)^2, 3), coefficient-major, colour innermost (gsplat's
 * layout): sh[i][0][c] = f_dc[i][c], sh[i][1+k][c] = f_rest[i][c K + k]
 * (3DGS's f_rest is channel-major, the transpose). Values are copied
 * unchanged (quaternions not normalised); normals and extras are not
 * carried. Free with dvren_splats_params_free. Errors: INVALID_ARGUMENT
 * (NULL, count 0 or above 2^31 / 64 as the renderer requires, a
 * rest_per_channel that does not match sh_degree), OUT_OF_MEMORY. On
 * failure *out is left empty. */
DVREN_API dvren_status dvren_splats_to_params(dvren_context* ctx, const dvren_splats* s, dvren_splat_params* out);
/* The inverse: Gaussians in the PLY layout from renderer parameters (host
 * f32 tensors of the shapes above, any strides), normals zero (present),
 * no extras, the standard property order (dvren_splats_create). Errors:
 * INVALID_ARGUMENT naming the tensor (NULL data, device memory, wrong
 * dtype or shape, sh_degree above 3), OUT_OF_MEMORY. On failure *out is
 * left empty. */
DVREN_API dvren_status dvren_splats_from_params(dvren_context* ctx, const dvren_splat_params* p, dvren_splats* out);
/* Destroys the five tensors made by dvren_splats_to_params and zeroes *p
 * (NULL is fine). */
DVREN_API void dvren_splats_params_free(dvren_context* ctx, dvren_splat_params* p);

#endif /* DVREN_SPLAT_PLY_H */

#ifdef DVREN_SPLAT_PLY_IMPLEMENTATION
#ifndef DVREN_SPLAT_PLY_IMPLEMENTATION_ONCE
#define DVREN_SPLAT_PLY_IMPLEMENTATION_ONCE

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char* name;
    dvren_splat_ply_type type;
} dvren__ply_types[] = {
    {"char", DVREN_PLY_INT8},     {"uchar", DVREN_PLY_UINT8},    {"short", DVREN_PLY_INT16},
    {"ushort", DVREN_PLY_UINT16}, {"int", DVREN_PLY_INT32},      {"uint", DVREN_PLY_UINT32},
    {"float", DVREN_PLY_FLOAT32}, {"double", DVREN_PLY_FLOAT64}, {"int8", DVREN_PLY_INT8},
    {"uint8", DVREN_PLY_UINT8},   {"int16", DVREN_PLY_INT16},    {"uint16", DVREN_PLY_UINT16},
    {"int32", DVREN_PLY_INT32},   {"uint32", DVREN_PLY_UINT32},  {"float32", DVREN_PLY_FLOAT32},
    {"float64", DVREN_PLY_FLOAT64},
};

static size_t dvren__ply_type_size(dvren_splat_ply_type t)
{
    switch (t) {
    case DVREN_PLY_INT8: case DVREN_PLY_UINT8: return 1;
    case DVREN_PLY_INT16: case DVREN_PLY_UINT16: return 2;
    case DVREN_PLY_INT32: case DVREN_PLY_UINT32: case DVREN_PLY_FLOAT32: return 4;
    case DVREN_PLY_FLOAT64: return 8;
    }
    return 0;
}

static const char* dvren__ply_type_name(dvren_splat_ply_type t)
{
    size_t i;
    for (i = 0; i < 8; ++i)
        if (dvren__ply_types[i].type == t) return dvren__ply_types[i].name;
    return "?";
}

/* Standard roles: 0..2 x y z, 3..5 nx ny nz, 6..8 f_dc, 9 opacity, 10..12
 * scale, 13..16 rot, 100 + k f_rest_k; -1 not standard. */
static int dvren__ply_role(const char* n)
{
    static const char* fixed[17] = {"x",       "y",       "z",       "nx",      "ny",    "nz",
                                    "f_dc_0",  "f_dc_1",  "f_dc_2",  "opacity", "scale_0", "scale_1",
                                    "scale_2", "rot_0",   "rot_1",   "rot_2",   "rot_3"};
    int i;
    for (i = 0; i < 17; ++i)
        if (strcmp(n, fixed[i]) == 0) return i;
    if (strncmp(n, "f_rest_", 7) == 0) {
        const char* p = n + 7;
        int k = 0;
        if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != 0)) return -2;
        for (; *p; ++p) {
            if (*p < '0' || *p > '9' || k > 1000) return -2;
            k = k * 10 + (*p - '0');
        }
        return 100 + k;
    }
    return -1;
}

static dvren_status dvren__ply_fail(dvren_context* ctx, dvren_splats* out, const char* name, dvren_status st,
                                    const char* field, const char* fmt, ...) DVREN_PRINTF(6, 7);
static dvren_status dvren__ply_fail(dvren_context* ctx, dvren_splats* out, const char* name, dvren_status st,
                                    const char* field, const char* fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (out) dvren_splats_free(out);
    return dvren_set_error(ctx, st, "splat_ply", NULL, "'%s': %s: %s", name, field, msg);
}

DVREN_API void dvren_splats_free(dvren_splats* s)
{
    if (!s) return;
    free(s->means);
    free(s->normals);
    free(s->f_dc);
    free(s->f_rest);
    free(s->opacity);
    free(s->scale);
    free(s->rot);
    free(s->props);
    free(s->extra);
    memset(s, 0, sizeof *s);
}

/* Allocates the arrays of s->count rows (rest_count, extra_count set). */
static int dvren__ply_alloc(dvren_splats* s)
{
    size_t n = s->count ? s->count : 1;
    s->means = (float*)calloc(n * 3, sizeof(float));
    s->normals = (float*)calloc(n * 3, sizeof(float));
    s->f_dc = (float*)calloc(n * 3, sizeof(float));
    s->f_rest = (float*)calloc(n * (s->rest_count ? s->rest_count : 1), sizeof(float));
    s->opacity = (float*)calloc(n, sizeof(float));
    s->scale = (float*)calloc(n * 3, sizeof(float));
    s->rot = (float*)calloc(n * 4, sizeof(float));
    s->extra = (double*)calloc(n * (s->extra_count ? s->extra_count : 1), sizeof(double));
    return s->means && s->normals && s->f_dc && s->f_rest && s->opacity && s->scale && s->rot && s->extra;
}

/* Bytes of the arrays for n Gaussians; UINT64_MAX on overflow. */
static uint64_t dvren__ply_bytes(uint64_t n, uint32_t rest, uint32_t extras)
{
    uint64_t per = (uint64_t)(3 + 3 + 3 + rest + 1 + 3 + 4) * 4 + (uint64_t)extras * 8;
    if (n > UINT64_MAX / per) return UINT64_MAX;
    return n * per;
}

/* Where one value goes. */
static float* dvren__ply_slot(dvren_splats* s, int role, size_t i)
{
    if (role <= 2) return &s->means[3 * i + (size_t)role];
    if (role <= 5) return &s->normals[3 * i + (size_t)(role - 3)];
    if (role <= 8) return &s->f_dc[3 * i + (size_t)(role - 6)];
    if (role == 9) return &s->opacity[i];
    if (role <= 12) return &s->scale[3 * i + (size_t)(role - 10)];
    if (role <= 16) return &s->rot[4 * i + (size_t)(role - 13)];
    return &s->f_rest[(size_t)s->rest_count * i + (size_t)(role - 100)];
}

static double dvren__ply_decode(const unsigned char* p, dvren_splat_ply_type t)
{
    uint64_t u = 0;
    size_t k, n = dvren__ply_type_size(t);
    for (k = 0; k < n; ++k) u |= (uint64_t)p[k] << (8 * k);
    switch (t) {
    case DVREN_PLY_INT8: return (double)(int8_t)(uint8_t)u;
    case DVREN_PLY_UINT8: return (double)(uint8_t)u;
    case DVREN_PLY_INT16: return (double)(int16_t)(uint16_t)u;
    case DVREN_PLY_UINT16: return (double)(uint16_t)u;
    case DVREN_PLY_INT32: return (double)(int32_t)(uint32_t)u;
    case DVREN_PLY_UINT32: return (double)(uint32_t)u;
    case DVREN_PLY_FLOAT32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        return (double)f;
    }
    case DVREN_PLY_FLOAT64: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
    return 0.0;
}

static void dvren__ply_encode_value(unsigned char* p, dvren_splat_ply_type t, double v)
{
    uint64_t u = 0;
    size_t k, n = dvren__ply_type_size(t);
    switch (t) {
    case DVREN_PLY_INT8: u = (uint8_t)(int8_t)v; break;
    case DVREN_PLY_UINT8: u = (uint8_t)v; break;
    case DVREN_PLY_INT16: u = (uint16_t)(int16_t)v; break;
    case DVREN_PLY_UINT16: u = (uint16_t)v; break;
    case DVREN_PLY_INT32: u = (uint32_t)(int32_t)v; break;
    case DVREN_PLY_UINT32: u = (uint32_t)v; break;
    case DVREN_PLY_FLOAT32: {
        float f = (float)v;
        uint32_t w;
        memcpy(&w, &f, 4);
        u = w;
        break;
    }
    case DVREN_PLY_FLOAT64: memcpy(&u, &v, 8); break;
    }
    for (k = 0; k < n; ++k) p[k] = (unsigned char)(u >> (8 * k));
}

/* The integer range of a type (floats: the whole line). */
static int dvren__ply_in_range(dvren_splat_ply_type t, double v)
{
    switch (t) {
    case DVREN_PLY_INT8: return v >= -128 && v <= 127;
    case DVREN_PLY_UINT8: return v >= 0 && v <= 255;
    case DVREN_PLY_INT16: return v >= -32768 && v <= 32767;
    case DVREN_PLY_UINT16: return v >= 0 && v <= 65535;
    case DVREN_PLY_INT32: return v >= -2147483648.0 && v <= 2147483647.0;
    case DVREN_PLY_UINT32: return v >= 0 && v <= 4294967295.0;
    default: return 1;
    }
}

static int dvren__ply_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

DVREN_API dvren_status dvren_splat_ply_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                             unsigned flags, dvren_splats* out)
{
    const unsigned char* b = (const unsigned char*)data;
    size_t pos = 0, body = 0, line_no = 0;
    int have_format = 0, ascii = 0, have_vertex = 0, ended = 0;
    uint64_t n = 0;
    int role_of[DVREN_SPLAT_PLY_MAX_PROPS];
    int seen[17];
    unsigned char rest_seen[45];
    uint32_t rest = 0, extras = 0, j;
    size_t stride = 0;
    char field[96];
    if (!name) name = "<memory>";
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "data is NULL");
    if (flags & ~DVREN_SPLAT_PLY_LENIENT)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "unknown flags 0x%x", flags);
    memset(seen, 0, sizeof seen);
    memset(rest_seen, 0, sizeof rest_seen);
    if (size < 4 || memcmp(b, "ply", 3) != 0 || (b[3] != '\n' && b[3] != '\r'))
        return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "magic", "the file does not start with \"ply\" and a newline");
    /* ---- header, one line at a time ---- */
    while (!ended) {
        char line[512], w0[64], w1[64], w2[64], w3[64];
        size_t e = pos, len;
        int nw;
        while (e < size && e < DVREN_SPLAT_PLY_MAX_HEADER && b[e] != '\n') ++e;
        if (e >= size || e >= DVREN_SPLAT_PLY_MAX_HEADER)
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "header",
                                   "no \"end_header\" line in the first %.0f bytes",
                                   (double)(size < DVREN_SPLAT_PLY_MAX_HEADER ? size : DVREN_SPLAT_PLY_MAX_HEADER));
        ++line_no;
        len = e - pos;
        if (len && b[pos + len - 1] == '\r') --len;
        snprintf(field, sizeof field, "header line %.0f", (double)line_no);
        if (len >= sizeof line)
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "longer than %d bytes", (int)sizeof line - 1);
        memcpy(line, b + pos, len);
        line[len] = 0;
        if (memchr(line, 0, len))
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "holds a NUL byte");
        pos = e + 1;
        if (line_no == 1) continue; /* "ply" */
        w0[0] = w1[0] = w2[0] = w3[0] = 0;
        nw = sscanf(line, "%63s %63s %63s %63s", w0, w1, w2, w3);
        if (nw <= 0) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "empty line");
        if (strcmp(w0, "comment") == 0 || strcmp(w0, "obj_info") == 0) continue;
        if (strcmp(w0, "end_header") == 0) {
            if (nw != 1) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "text after end_header");
            ended = 1;
        } else if (strcmp(w0, "format") == 0) {
            if (have_format || have_vertex)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "the format must come once, first");
            if (nw != 3 || strcmp(w2, "1.0") != 0)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "expected \"format <type> 1.0\", got \"%s\"", line);
            if (strcmp(w1, "ascii") == 0) ascii = 1;
            else if (strcmp(w1, "binary_big_endian") == 0)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_UNSUPPORTED, field,
                                       "binary_big_endian files are not read (only binary_little_endian and ascii)");
            else if (strcmp(w1, "binary_little_endian") != 0)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "unknown format '%s'", w1);
            have_format = 1;
        } else if (strcmp(w0, "element") == 0) {
            char* endp;
            unsigned long long v;
            if (!have_format) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "element before the format line");
            if (nw != 3) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "expected \"element <name> <count>\"");
            if (strcmp(w1, "vertex") != 0 || have_vertex)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_UNSUPPORTED, field,
                                       "element '%s': only one element, \"vertex\", is read", w1);
            errno = 0;
            v = strtoull(w2, &endp, 10);
            if (w2[0] < '0' || w2[0] > '9' || *endp || errno)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "element vertex", "bad count '%s'", w2);
            n = v;
            have_vertex = 1;
        } else if (strcmp(w0, "property") == 0) {
            dvren_splat_ply_type t = (dvren_splat_ply_type)0;
            dvren_splat_ply_property* pp;
            size_t k;
            int role;
            if (!have_vertex) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "property before \"element vertex\"");
            if (strcmp(w1, "list") == 0)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_UNSUPPORTED, field, "list properties are not read");
            if (nw != 3) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "expected \"property <type> <name>\"");
            for (k = 0; k < sizeof dvren__ply_types / sizeof dvren__ply_types[0]; ++k)
                if (strcmp(w1, dvren__ply_types[k].name) == 0) t = dvren__ply_types[k].type;
            snprintf(field, sizeof field, "property '%s'", w2);
            if (!t) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "unknown type '%s'", w1);
            if (out->prop_count >= DVREN_SPLAT_PLY_MAX_PROPS)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "more than %d properties", DVREN_SPLAT_PLY_MAX_PROPS);
            for (j = 0; j < out->prop_count; ++j)
                if (strcmp(out->props[j].name, w2) == 0)
                    return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "declared twice");
            role = dvren__ply_role(w2);
            if (role == -2 || role >= 100 + 45)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "not an f_rest index 0..44");
            if (role >= 100) {
                rest_seen[role - 100] = 1;
                ++rest;
            } else if (role >= 0) {
                seen[role] = 1;
            }
            if (out->prop_count % 64 == 0) {
                pp = (dvren_splat_ply_property*)realloc(out->props, (out->prop_count + 64) * sizeof *pp);
                if (!pp) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_OUT_OF_MEMORY, field, "out of memory");
                out->props = pp;
            }
            pp = &out->props[out->prop_count];
            memset(pp, 0, sizeof *pp);
            memcpy(pp->name, w2, strlen(w2) + 1);
            pp->type = t;
            pp->extra = role == -1 ? (int)extras++ : -1;
            role_of[out->prop_count++] = role;
            stride += dvren__ply_type_size(t);
        } else {
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "unknown keyword '%s'", w0);
        }
    }
    body = pos;
    /* ---- the header's facts ---- */
    if (!have_format) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "header", "no format line");
    if (!have_vertex) return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "header", "no \"element vertex\" line");
    {
        static const char* req[14] = {"x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                      "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
        static const int req_role[14] = {0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        int k;
        for (k = 0; k < 14; ++k)
            if (!seen[req_role[k]]) {
                snprintf(field, sizeof field, "property '%s'", req[k]);
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "missing (3DGS files need x y z f_dc_0..2 opacity scale_0..2 rot_0..3)");
            }
        if (seen[3] + seen[4] + seen[5] != 0 && seen[3] + seen[4] + seen[5] != 3)
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "property 'nx'", "nx, ny, nz: give all three or none");
        if (rest != 0 && rest != 9 && rest != 24 && rest != 45)
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "property 'f_rest'",
                                   "%u f_rest properties; expected 0, 9, 24 or 45 (SH degree 0..3)", rest);
        for (k = 0; k < (int)rest; ++k)
            if (!rest_seen[k]) {
                snprintf(field, sizeof field, "property 'f_rest_%d'", k);
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "missing among %u f_rest properties", rest);
            }
    }
    out->rest_count = rest;
    out->rest_per_channel = rest / 3;
    out->sh_degree = rest == 0 ? 0 : rest == 9 ? 1 : rest == 24 ? 2 : 3;
    out->extra_count = extras;
    out->has_normals = seen[3];
    out->ascii = ascii;
    /* ---- sizes, before anything is allocated ---- */
    {
        uint64_t need = dvren__ply_bytes(n, rest, extras), avail = (uint64_t)(size - body);
        if (need > DVREN_SPLAT_PLY_MAX_BYTES)
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "element vertex",
                                   "%.0f vertices need %.0f bytes in memory, more than the %.0f this reader takes",
                                   (double)n, (double)need, (double)DVREN_SPLAT_PLY_MAX_BYTES);
        if (!ascii) {
            uint64_t bytes = n * (uint64_t)stride; /* n * stride < need: no overflow */
            if (bytes > avail)
                return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "data",
                                       "truncated: %.0f vertices of %.0f bytes need %.0f bytes after the header, the file has %.0f",
                                       (double)n, (double)stride, (double)bytes, (double)avail);
            if (bytes < avail) {
                if (!(flags & DVREN_SPLAT_PLY_LENIENT))
                    return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "data",
                                           "%.0f bytes after the last vertex (vertex %.0f ends at offset %.0f of %.0f)",
                                           (double)(avail - bytes), (double)n, (double)(body + bytes), (double)size);
                dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_STEP, "splat_ply: '%s': ignored %.0f bytes after the last vertex",
                          name, (double)(avail - bytes));
            }
        } else if (n * (uint64_t)out->prop_count > avail / 2 + 1) {
            /* every value takes at least one character and one separator */
            return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "data",
                                   "truncated: %.0f vertices of %u values cannot fit in the %.0f bytes after the header",
                                   (double)n, out->prop_count, (double)avail);
        }
    }
    out->count = (size_t)n;
    if (!dvren__ply_alloc(out))
        return dvren__ply_fail(ctx, out, name, DVREN_ERROR_OUT_OF_MEMORY, "data", "cannot hold %.0f Gaussians", (double)n);
    /* ---- values ---- */
    {
        size_t i, p = body;
        for (i = 0; i < out->count; ++i) {
            for (j = 0; j < out->prop_count; ++j) {
                const dvren_splat_ply_property* pr = &out->props[j];
                double v;
                if (!ascii) {
                    v = dvren__ply_decode(b + p, pr->type);
                    p += dvren__ply_type_size(pr->type);
                } else {
                    char tok[80], *endp;
                    size_t s0, len;
                    while (p < size && dvren__ply_space(b[p])) ++p;
                    s0 = p;
                    while (p < size && !dvren__ply_space(b[p])) ++p;
                    len = p - s0;
                    snprintf(field, sizeof field, "vertex %.0f property '%s'", (double)i, pr->name);
                    if (len == 0)
                        return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field,
                                               "truncated: the file ends before this value (%.0f vertices declared)", (double)n);
                    if (len >= sizeof tok)
                        return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "a token of %.0f bytes", (double)len);
                    memcpy(tok, b + s0, len);
                    tok[len] = 0;
                    errno = 0;
                    if (pr->type == DVREN_PLY_FLOAT32) v = (double)strtof(tok, &endp);
                    else v = strtod(tok, &endp);
                    if (*endp || endp == tok || (pr->type != DVREN_PLY_FLOAT32 && pr->type != DVREN_PLY_FLOAT64 &&
                                                 (v != floor(v) || !dvren__ply_in_range(pr->type, v))))
                        return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "'%s' is not a %s",
                                               tok, dvren__ply_type_name(pr->type));
                }
                if (!isfinite(v)) {
                    snprintf(field, sizeof field, "vertex %.0f property '%s'", (double)i, pr->name);
                    return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, field, "%s (non-finite values are refused)",
                                           isnan(v) ? "nan" : "infinite");
                }
                if (pr->extra >= 0) out->extra[(size_t)extras * i + (size_t)pr->extra] = v;
                else *dvren__ply_slot(out, role_of[j], i) = (float)v;
            }
        }
        if (ascii) {
            size_t q = p;
            while (q < size && dvren__ply_space(b[q])) ++q;
            if (q < size) {
                if (!(flags & DVREN_SPLAT_PLY_LENIENT))
                    return dvren__ply_fail(ctx, out, name, DVREN_ERROR_FORMAT, "data",
                                           "%.0f bytes after the last vertex (from offset %.0f of %.0f)",
                                           (double)(size - p), (double)p, (double)size);
                dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_STEP, "splat_ply: '%s': ignored %.0f bytes after the last vertex",
                          name, (double)(size - p));
            }
        }
    }
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_ply_load(dvren_context* ctx, const char* path, unsigned flags, dvren_splats* out)
{
    FILE* f;
    long len;
    unsigned char* data;
    dvren_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "NULL argument");
    f = fopen(path, "rb");
    if (!f) return dvren_set_error(ctx, DVREN_ERROR_IO, "splat_ply", NULL, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_IO, "splat_ply", NULL, "cannot read '%s': not a regular file", path);
    }
    if ((uint64_t)len > DVREN_SPLAT_PLY_MAX_BYTES * 4) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_ply", NULL, "'%s' is %.0f bytes, more than the %.0f this reader takes",
                               path, (double)len, (double)(DVREN_SPLAT_PLY_MAX_BYTES * 4));
    }
    data = (unsigned char*)malloc((size_t)len + 1);
    if (!data) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_ply", NULL, "cannot hold '%s' (%.0f bytes)", path, (double)len);
    }
    if (fread(data, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(data);
        return dvren_set_error(ctx, DVREN_ERROR_IO, "splat_ply", NULL, "cannot read '%s'", path);
    }
    fclose(f);
    st = dvren_splat_ply_parse(ctx, data, (size_t)len, path, flags, out);
    free(data);
    return st;
}

DVREN_API dvren_status dvren_splats_create(dvren_context* ctx, size_t count, int sh_degree, dvren_splats* out)
{
    static const char* fixed[17] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
    uint32_t k, rest, j = 0;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "out is NULL");
    memset(out, 0, sizeof *out);
    if (sh_degree < 0 || sh_degree > 3)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "sh_degree %d is outside 0..3", sh_degree);
    rest = 3 * (uint32_t)((sh_degree + 1) * (sh_degree + 1) - 1);
    if (dvren__ply_bytes(count, rest, 0) > DVREN_SPLAT_PLY_MAX_BYTES)
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "splat_ply", NULL, "%.0f Gaussians need more than %.0f bytes",
                               (double)count, (double)DVREN_SPLAT_PLY_MAX_BYTES);
    out->count = count;
    out->sh_degree = sh_degree;
    out->rest_count = rest;
    out->rest_per_channel = rest / 3;
    out->has_normals = 1;
    out->prop_count = 17 + rest;
    out->props = (dvren_splat_ply_property*)calloc(out->prop_count, sizeof *out->props);
    if (!out->props || !dvren__ply_alloc(out)) {
        dvren_splats_free(out);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_ply", NULL, "cannot hold %.0f Gaussians", (double)count);
    }
    for (k = 0; k < 17; ++k) {
        if (k == 9)
            for (; j < rest; ++j) {
                snprintf(out->props[9 + j].name, sizeof out->props[0].name, "f_rest_%u", j);
                out->props[9 + j].type = DVREN_PLY_FLOAT32;
                out->props[9 + j].extra = -1;
            }
        {
            dvren_splat_ply_property* p = &out->props[k < 9 ? k : k + rest];
            snprintf(p->name, sizeof p->name, "%s", fixed[k]);
            p->type = DVREN_PLY_FLOAT32;
            p->extra = -1;
        }
    }
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_ply_encode(dvren_context* ctx, const dvren_splats* s, unsigned char** data,
                                              size_t* size)
{
    static const char* fixed[17] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
    char head[64];
    size_t hlen = 0, cap, stride, i, p;
    uint32_t j, k, rest;
    unsigned char* buf;
    const dvren_splat_ply_property** ex = NULL;
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!s || !data || !size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "NULL argument");
    rest = s->rest_count;
    if ((rest != 0 && rest != 9 && rest != 24 && rest != 45) || s->rest_per_channel * 3 != rest || s->sh_degree < 0 ||
        s->sh_degree > 3 || (uint32_t)((s->sh_degree + 1) * (s->sh_degree + 1) - 1) * 3 != rest)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                               "rest_count %u, rest_per_channel %u, sh_degree %d do not match (3 K f_rest values, K = 0, 3, 8, 15 for degree 0..3)",
                               rest, s->rest_per_channel, s->sh_degree);
    if (s->count && (!s->means || !s->f_dc || !s->opacity || !s->scale || !s->rot || (rest && !s->f_rest) ||
                     (s->extra_count && !s->extra)))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "a NULL array with count %.0f", (double)s->count);
    if (dvren__ply_bytes(s->count, rest, s->extra_count) > DVREN_SPLAT_PLY_MAX_BYTES)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "count %.0f is too large", (double)s->count);
    /* the extras, in column order */
    if (s->extra_count) {
        uint32_t found = 0;
        if (!s->props) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "extras without props");
        ex = (const dvren_splat_ply_property**)calloc(s->extra_count, sizeof *ex);
        if (!ex) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_ply", NULL, "out of memory");
        for (j = 0; j < s->prop_count; ++j) {
            const dvren_splat_ply_property* pr = &s->props[j];
            if (pr->extra < 0) continue;
            if ((uint32_t)pr->extra >= s->extra_count || ex[pr->extra] || !dvren__ply_type_size(pr->type) ||
                !memchr(pr->name, 0, sizeof pr->name) || dvren__ply_role(pr->name) != -1 || !pr->name[0] ||
                strpbrk(pr->name, " \t\r\n")) {
                free(ex);
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "props[%u]: a bad extra property", j);
            }
            ex[pr->extra] = pr;
            ++found;
        }
        if (found != s->extra_count) {
            free(ex);
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                                   "props name %u extras, extra_count is %u", found, s->extra_count);
        }
    }
    /* header size, then the buffer */
    stride = (17 + (size_t)rest) * 4;
    cap = 128 + (17 + (size_t)rest) * 32;
    for (j = 0; j < s->extra_count; ++j) {
        stride += dvren__ply_type_size(ex[j]->type);
        cap += 32 + strlen(ex[j]->name);
    }
    if (s->count > (SIZE_MAX - cap) / stride) {
        free(ex);
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "count %.0f is too large", (double)s->count);
    }
    buf = (unsigned char*)malloc(cap + s->count * stride);
    if (!buf) {
        free(ex);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_ply", NULL, "cannot hold %.0f bytes",
                               (double)(cap + s->count * stride));
    }
#define DVREN__PLY_PUT(str)                          \
    do {                                             \
        size_t l_ = strlen(str);                     \
        memcpy(buf + hlen, (str), l_);               \
        hlen += l_;                                  \
    } while (0)
    DVREN__PLY_PUT("ply\nformat binary_little_endian 1.0\nelement vertex ");
    snprintf(head, sizeof head, "%.0f\n", (double)s->count);
    DVREN__PLY_PUT(head);
    for (k = 0; k < 17; ++k) {
        if (k == 9)
            for (j = 0; j < rest; ++j) {
                snprintf(head, sizeof head, "property float f_rest_%u\n", j);
                DVREN__PLY_PUT(head);
            }
        DVREN__PLY_PUT("property float ");
        DVREN__PLY_PUT(fixed[k]);
        DVREN__PLY_PUT("\n");
    }
    for (j = 0; j < s->extra_count; ++j) {
        DVREN__PLY_PUT("property ");
        DVREN__PLY_PUT(dvren__ply_type_name(ex[j]->type));
        DVREN__PLY_PUT(" ");
        DVREN__PLY_PUT(ex[j]->name);
        DVREN__PLY_PUT("\n");
    }
    DVREN__PLY_PUT("end_header\n");
#undef DVREN__PLY_PUT
    p = hlen;
    for (i = 0; i < s->count; ++i) {
        for (k = 0; k < 17 + rest; ++k) {
            /* standard order: x y z nx ny nz f_dc_0..2 f_rest_* opacity scale rot */
            float v;
            const char* what;
            char nm[24];
            if (k < 3) v = s->means[3 * i + k], what = fixed[k];
            else if (k < 6) v = s->normals && s->has_normals ? s->normals[3 * i + k - 3] : 0.0f, what = fixed[k];
            else if (k < 9) v = s->f_dc[3 * i + k - 6], what = fixed[k];
            else if (k < 9 + rest) {
                v = s->f_rest[(size_t)rest * i + k - 9];
                snprintf(nm, sizeof nm, "f_rest_%u", k - 9);
                what = nm;
            } else if (k == 9 + rest) v = s->opacity[i], what = fixed[9];
            else if (k < 13 + rest) v = s->scale[3 * i + k - 10 - rest], what = fixed[k - rest];
            else v = s->rot[4 * i + k - 13 - rest], what = fixed[k - rest];
            if (!isfinite(v)) {
                free(ex);
                free(buf);
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "gaussian %.0f: %s is %s",
                                       (double)i, what, isnan(v) ? "nan" : "infinite");
            }
            dvren__ply_encode_value(buf + p, DVREN_PLY_FLOAT32, (double)v);
            p += 4;
        }
        for (j = 0; j < s->extra_count; ++j) {
            double v = s->extra[(size_t)s->extra_count * i + j];
            if (!isfinite(v) || !dvren__ply_in_range(ex[j]->type, v)) {
                dvren_status st = dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                                                  "gaussian %.0f: %s = %g does not fit a %s", (double)i, ex[j]->name, v,
                                                  dvren__ply_type_name(ex[j]->type));
                free(ex);
                free(buf);
                return st;
            }
            dvren__ply_encode_value(buf + p, ex[j]->type, v);
            p += dvren__ply_type_size(ex[j]->type);
        }
    }
    free(ex);
    *data = buf;
    *size = p;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_ply_save(dvren_context* ctx, const char* path, const dvren_splats* s)
{
    unsigned char* data;
    size_t size;
    dvren_status st;
    if (!path) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "path is NULL");
    st = dvren_splat_ply_encode(ctx, s, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_file_write_atomic(ctx, path, data, size);
    free(data);
    return st;
}

DVREN_API void dvren_splats_params_free(dvren_context* ctx, dvren_splat_params* p)
{
    if (!p) return;
    dvren_tensor_destroy(ctx, &p->means);
    dvren_tensor_destroy(ctx, &p->log_scales);
    dvren_tensor_destroy(ctx, &p->quats);
    dvren_tensor_destroy(ctx, &p->opacity_logits);
    dvren_tensor_destroy(ctx, &p->sh);
    memset(p, 0, sizeof *p);
}

DVREN_API dvren_status dvren_splats_to_params(dvren_context* ctx, const dvren_splats* s, dvren_splat_params* out)
{
    size_t i, n;
    uint32_t K, k, c;
    int64_t s3[2], s4[2], s1[1], ssh[3];
    float *m, *ls, *q, *op, *sh;
    dvren_status st;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "to_params: out is NULL");
    memset(out, 0, sizeof *out);
    if (!ctx || !s) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "to_params: NULL argument");
    n = s->count;
    if (n == 0 || n > ((size_t)1 << 31) / 64)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                               "to_params: count %.0f is outside 1..2^31/64", (double)n);
    if (s->sh_degree < 0 || s->sh_degree > 3 ||
        s->rest_per_channel != (uint32_t)((s->sh_degree + 1) * (s->sh_degree + 1) - 1) ||
        s->rest_count != 3 * s->rest_per_channel)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                               "to_params: sh_degree %d with rest_per_channel %u / rest_count %u", s->sh_degree,
                               (unsigned)s->rest_per_channel, (unsigned)s->rest_count);
    if (!s->means || !s->f_dc || !s->opacity || !s->scale || !s->rot || (s->rest_count && !s->f_rest))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "to_params: an array is NULL");
    K = s->rest_per_channel + 1;
    s3[0] = s4[0] = s1[0] = ssh[0] = (int64_t)n;
    s3[1] = 3;
    s4[1] = 4;
    ssh[1] = K;
    ssh[2] = 3;
    out->count = (uint32_t)n;
    out->sh_degree = (uint32_t)s->sh_degree;
    if ((st = dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, s3, &out->means)) != DVREN_OK ||
        (st = dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, s3, &out->log_scales)) != DVREN_OK ||
        (st = dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, s4, &out->quats)) != DVREN_OK ||
        (st = dvren_tensor_create(ctx, DVREN_DTYPE_F32, 1, s1, &out->opacity_logits)) != DVREN_OK ||
        (st = dvren_tensor_create(ctx, DVREN_DTYPE_F32, 3, ssh, &out->sh)) != DVREN_OK) {
        dvren_splats_params_free(ctx, out);
        return st;
    }
    m = (float*)out->means.data;
    ls = (float*)out->log_scales.data;
    q = (float*)out->quats.data;
    op = (float*)out->opacity_logits.data;
    sh = (float*)out->sh.data;
    memcpy(m, s->means, n * 3 * sizeof(float));
    memcpy(ls, s->scale, n * 3 * sizeof(float));
    memcpy(q, s->rot, n * 4 * sizeof(float));
    memcpy(op, s->opacity, n * sizeof(float));
    for (i = 0; i < n; ++i)
        for (c = 0; c < 3; ++c) {
            sh[(i * K) * 3 + c] = s->f_dc[3 * i + c];
            for (k = 1; k < K; ++k)
                sh[(i * K + k) * 3 + c] = s->f_rest[i * s->rest_count + c * s->rest_per_channel + (k - 1)];
        }
    return DVREN_OK;
}

/* 0 when t is a host f32 tensor of the expected shape; otherwise -1, the error set naming it. */
static int dvren__ply_param_check(dvren_context* ctx, const dvren_tensor* t, const char* name, uint32_t ndim,
                                  int64_t d0, int64_t d1, int64_t d2)
{
    int64_t want[3];
    uint32_t i;
    want[0] = d0;
    want[1] = d1;
    want[2] = d2;
    if (!t->data || t->memory != DVREN_MEMORY_HOST || t->dtype != DVREN_DTYPE_F32 || t->ndim != ndim) {
        dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                        "from_params: %s must be a host f32 tensor of %u dimensions", name, (unsigned)ndim);
        return -1;
    }
    for (i = 0; i < ndim; ++i)
        if (t->shape[i] != want[i] || t->strides[i] < 0) {
            dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                            "from_params: %s has shape[%u] = %.0f, expected %.0f", name, (unsigned)i,
                            (double)t->shape[i], (double)want[i]);
            return -1;
        }
    return 0;
}

#define DVREN__PLY_AT2(t, i, j) (((const float*)(t).data)[(int64_t)(i) * (t).strides[0] + (int64_t)(j) * (t).strides[1]])

DVREN_API dvren_status dvren_splats_from_params(dvren_context* ctx, const dvren_splat_params* p, dvren_splats* out)
{
    size_t i, n;
    uint32_t K, k, c;
    dvren_status st;
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "from_params: out is NULL");
    memset(out, 0, sizeof *out);
    if (!p) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL, "from_params: params is NULL");
    if (p->sh_degree > 3)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splat_ply", NULL,
                               "from_params: sh_degree %u is outside 0..3", (unsigned)p->sh_degree);
    n = p->count;
    K = (p->sh_degree + 1) * (p->sh_degree + 1);
    if (n > 0 && (dvren__ply_param_check(ctx, &p->means, "means", 2, (int64_t)n, 3, 0) ||
                  dvren__ply_param_check(ctx, &p->log_scales, "log_scales", 2, (int64_t)n, 3, 0) ||
                  dvren__ply_param_check(ctx, &p->quats, "quats", 2, (int64_t)n, 4, 0) ||
                  dvren__ply_param_check(ctx, &p->opacity_logits, "opacity_logits", 1, (int64_t)n, 0, 0) ||
                  dvren__ply_param_check(ctx, &p->sh, "sh", 3, (int64_t)n, K, 3)))
        return DVREN_ERROR_INVALID_ARGUMENT;
    st = dvren_splats_create(ctx, n, (int)p->sh_degree, out);
    if (st != DVREN_OK) return st;
    for (i = 0; i < n; ++i) {
        for (c = 0; c < 3; ++c) {
            const dvren_tensor* t = &p->sh;
            out->means[3 * i + c] = DVREN__PLY_AT2(p->means, i, c);
            out->scale[3 * i + c] = DVREN__PLY_AT2(p->log_scales, i, c);
            for (k = 0; k < K; ++k) {
                float v = ((const float*)t->data)[(int64_t)i * t->strides[0] + (int64_t)k * t->strides[1] +
                                                  (int64_t)c * t->strides[2]];
                if (k == 0) out->f_dc[3 * i + c] = v;
                else out->f_rest[i * out->rest_count + c * out->rest_per_channel + (k - 1)] = v;
            }
        }
        for (c = 0; c < 4; ++c) out->rot[4 * i + c] = DVREN__PLY_AT2(p->quats, i, c);
        out->opacity[i] = ((const float*)p->opacity_logits.data)[(int64_t)i * p->opacity_logits.strides[0]];
    }
    return DVREN_OK;
}

#undef DVREN__PLY_AT2

#endif /* DVREN_SPLAT_PLY_IMPLEMENTATION_ONCE */
#endif /* DVREN_SPLAT_PLY_IMPLEMENTATION */
