/* tools/dvren_mesh_io.h - reading and writing triangle meshes (dvren.h's
 * dvren_mesh, ">>meshes") as Wavefront OBJ, PLY and glTF 2.0 binary (GLB),
 * and moving them by affine transforms (docs/meshes.md). Needs dvren.h
 * (dvren_mesh_alloc / dvren_mesh_free, dvren_set_error,
 * dvren_file_write_atomic), cJSON (link -lcjson) and the C library. No
 * global mutable state, no printing, no exit().
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_MESH_IO_IMPLEMENTATION
 *     #include "dvren_mesh_io.h"
 * (dvren.h's implementation, DVREN_IMPLEMENTATION, must be in the program
 * too). Other files include it without the define (declarations only).
 *
 *   dvren_mesh m;
 *   if (dvren_mesh_load(ctx, "in.ply", 0, &m) != DVREN_OK) { fprintf(stderr, "%s\n", dvren_last_error(ctx)); ... }
 *   dvren_mesh_save(ctx, "out.glb", &m, DVREN_MESH_IO_Z_UP);   (dvren's volumes are Z-up, glTF is Y-up)
 *   dvren_mesh_free(ctx, &m);
 *
 * Every mesh this file makes comes from dvren_mesh_alloc on the caller's
 * context (free it with dvren_mesh_free); temporaries use malloc. Every
 * file is built whole in memory and written with dvren_file_write_atomic:
 * a failed write leaves no file (and an older file of that name intact).
 *
 * Errors are recorded with dvren_set_error under the module "mesh_io" as
 * "'<file>': <field>: <problem>" ('<file>:<line>' for OBJ), so the message
 * names the file, the part of it at fault and what is wrong. Statuses:
 * INVALID_ARGUMENT (NULL arguments, a mesh with NaN/infinite values or an
 * index >= vertex_count, unknown flags), IO (open/read/write, naming the
 * path), FORMAT (malformed content), UNSUPPORTED (valid files this reader
 * does not take: named), OUT_OF_MEMORY. On any error the output mesh or
 * object list is left empty (nothing to free).
 *
 * The formats (the sources this implements):
 *   Wavefront OBJ: "Object Files (.obj)", Appendix B1 of the Wavefront
 *     Advanced Visualizer manual (paulbourke.net/dataformats/obj): text
 *     lines "v x y z [w]", "vn i j k", "vt u [v [w]]", "f v1/vt1/vn1 ...",
 *     1-based indices, negative ones counting back from the last element
 *     defined; "o"/"g"/"s"/"usemtl"/"mtllib" grouping and material
 *     statements. Vertex colours "v x y z r g b" are the common extension
 *     (MeshLab, Open3D, trimesh).
 *   PLY: Greg Turk, "The PLY Polygon File Format" (1994;
 *     paulbourke.net/dataformats/ply): a text header ("ply", "format
 *     <ascii|binary_little_endian|binary_big_endian> 1.0", "element <name>
 *     <count>", "property <type> <name>", "property list <count type>
 *     <item type> <name>", "comment"/"obj_info", "end_header"), then each
 *     element's records in header order; types char uchar short ushort
 *     int uint float double and the sized aliases int8 .. float64.
 *     Colours "red green blue" as uchar are the convention of Turk's
 *     examples and of MeshLab/Open3D.
 *   glTF 2.0: The Khronos Group, "glTF 2.0 Specification" (2.0.1,
 *     registry.khronos.org/glTF/specs/2.0/glTF-2.0.html): sections 3.4
 *     (coordinate system: right-handed, +Y up, metres), 3.5 (nodes and
 *     hierarchy: local transform matrix or T * R * S, column-major,
 *     rotation a unit quaternion x y z w), 3.6 (buffers, buffer views,
 *     accessors: componentType 5120..5126, types SCALAR..VEC4, byteStride,
 *     bounds), 3.7.2 (meshes: attributes POSITION, NORMAL, COLOR_0,
 *     indices, mode 4 = TRIANGLES, counter-clockwise front faces) and 4
 *     (GLB: 12-byte header "glTF", version 2, total length; chunks of
 *     length, type, data: JSON 0x4E4F534A padded with spaces, then BIN
 *     0x004E4942 padded with zeros, each to 4 bytes).
 *
 * OBJ reading. Statements v, vn, vt (checked, then ignored), f; "o", "g",
 * "s", "usemtl", "mtllib", "l", "p" and any other keyword are skipped; "#"
 * starts a comment. "v" takes 3 numbers (x y z), 4 (w ignored), 6 (x y z
 * r g b) or 7 (x y z r g b a, alpha ignored); colours are kept only when
 * every v has them, taken as given in [0, 1], or, when some exceed 1 and
 * none exceeds 255 (files written as 0..255), divided by 255; then
 * clamped to [0, 1]. Faces take the forms v, v/vt, v//vn and v/vt/vn (mixed
 * freely), negative indices, and polygons of n >= 3 corners, split as a fan
 * (v0 v1 v2), (v0 v2 v3), ... An index must name an element defined on an
 * earlier line (0 is never valid). Normals: OBJ gives each face corner its
 * own normal index, dvren_mesh one normal per vertex; the file's normals
 * are kept (normals[i] = the i-th vn) only when every corner's vn index
 * equals its v index, or the corner has none and the file has exactly one
 * vn per v. Otherwise (normals indexed apart from positions, as many
 * exporters write them) the normals are DROPPED (mesh.normals = NULL):
 * recompute them if needed. Vertices that no face uses are kept, in file
 * order. Errors (FORMAT, "'a.obj:12': f: ..."): a malformed or non-finite
 * number, an index 0 or beyond the elements defined so far, a face of
 * fewer than 3 corners, a line longer than DVREN_MESH_IO_MAX_LINE.
 *
 * PLY reading. ascii, binary_little_endian and binary_big_endian. Element
 * "vertex": x y z required (float or double as usual; any scalar type is
 * taken, converted to float); nx ny nz (all three or none) and red green
 * blue (all three or none: uchar, taken as value / 255, ushort as value /
 * 65535, or float/double, taken as is and clamped to [0, 1]) optional; any other
 * property (alpha, quality, lists, ...) skipped. Element "face": a list
 * property "vertex_indices" (or "vertex_index"), counts uchar/char/ushort/
 * short/uint/int, indices int/uint (or any integer type); polygons of n >= 3
 * corners split as a fan; other face properties skipped. Other elements
 * (edge, material, ...) are skipped. Errors (FORMAT): a bad header, an
 * element or property this cannot read (unknown type), data shorter than
 * the header promises ("truncated"), bytes after the last element (binary:
 * any; ascii: anything but white space), an index < 0 or >= the vertex
 * count, a face with fewer than 3 corners, a non-finite coordinate, in
 * ascii a token that is not a number of its property's type. Counts are
 * checked against the file's size before any allocation.
 *
 * GLB reading (dvren_mesh_glb_parse): what dvren writes and the usual
 * single-file GLB: buffer 0 the BIN chunk (buffers with a "uri" and sparse
 * accessors are UNSUPPORTED, as is any extensionsRequired entry:
 * KHR_draco_mesh_compression, KHR_mesh_quantization, ...); primitives of
 * mode 4 (TRIANGLES; other modes are UNSUPPORTED) with POSITION (float
 * VEC3), optional NORMAL (float VEC3), optional COLOR_0 (float, or
 * normalised unsigned byte / unsigned short; VEC3 or VEC4, alpha dropped)
 * and optional indices (unsigned byte, short or int; absent: 0, 1, 2, ...).
 * Every offset, stride and length is checked against its buffer view,
 * buffer and chunk before a byte is read. The nodes of the default scene
 * (scene, else scene 0, else every node that is nobody's child) are walked
 * depth first; every node with a mesh becomes one object: its name, its
 * mesh (all primitives of the glTF mesh in one dvren_mesh; normals /
 * colours kept only when every primitive has them), its local transform
 * and its world transform (the product of its ancestors' local transforms
 * and its own). A node reached twice (a cycle, or two parents) is a
 * FORMAT error.
 *
 * Y-up and Z-up. glTF's +Y is up (3.4); dvren's volumes put z along the
 * slices, so their meshes are Z-up. dvren_mesh_glb_save with
 * DVREN_MESH_IO_Z_UP leaves the vertex data untouched and puts every object
 * node under one root node, "z_up_to_y_up", rotated -90 degrees about X
 * (quaternion (-sqrt(1/2), 0, 0, sqrt(1/2)), taking (x, y, z) to (x, z,
 * -y)): every viewer shows the mesh upright and a reader that keeps node
 * transforms gets the data back bit for bit. Reading with
 * DVREN_MESH_IO_Z_UP asks for the Z-up frame back: dvren's root node (a
 * single root named "z_up_to_y_up" with that rotation and nothing else)
 * is left out of the world transforms; a file without it has its world
 * turned the other way, (x, y, z) -> (x, -z, y), exactly.
 *
 * Not done here: materials and textures (vt is read and dropped), OBJ
 * line continuations ("\"), PLY tristrips and edges, glTF skins, morph
 * targets, cameras, sparse accessors, external (.gltf + .bin) files. */
#ifndef DVREN_MESH_IO_H
#define DVREN_MESH_IO_H

#include "dvren.h"

#include <stddef.h>
#include <stdint.h>

/* Files larger than this are refused before being read (FORMAT). */
#ifndef DVREN_MESH_IO_MAX_BYTES
#define DVREN_MESH_IO_MAX_BYTES ((uint64_t)1 << 32)
#endif
/* OBJ lines longer than this (bytes) are refused (PLY header lines: 511). */
#ifndef DVREN_MESH_IO_MAX_LINE
#define DVREN_MESH_IO_MAX_LINE 65536
#endif

/* Flags of dvren_mesh_save / _load and the GLB calls: the caller's data is
 * Z-up (see "Y-up and Z-up" above). Ignored for OBJ and PLY, which have no
 * up axis. */
#define DVREN_MESH_IO_Z_UP 0x1u

/* A file format, from a path's extension (case-insensitive). */
typedef enum dvren_mesh_format {
    DVREN_MESH_FORMAT_UNKNOWN = 0,
    DVREN_MESH_FORMAT_OBJ = 1, /* .obj */
    DVREN_MESH_FORMAT_PLY = 2, /* .ply */
    DVREN_MESH_FORMAT_GLB = 3, /* .glb */
    DVREN_MESH_FORMAT_FORCE_32 = 0x7FFFFFFF
} dvren_mesh_format;

/* The format of path by its extension; UNKNOWN for anything else or NULL. */
DVREN_API dvren_mesh_format dvren_mesh_format_of(const char* path);

/* ---- dispatch ---------------------------------------------------------- */

/* Writes mesh to path in the format of its extension (.obj, .ply, .glb:
 * dvren_mesh_obj_save, _ply_save, _glb_save with one object named after
 * the file's base name). flags: 0 or DVREN_MESH_IO_Z_UP (GLB only).
 * Errors: INVALID_ARGUMENT (another extension, NULL, a bad mesh), those of
 * the writer, IO. */
DVREN_API dvren_status dvren_mesh_save(dvren_context* ctx, const char* path, const dvren_mesh* mesh, uint32_t flags);
/* Reads path by its extension into *out (overwritten, not freed; free with
 * dvren_mesh_free). A GLB becomes the union of its objects, each moved by
 * its world transform (dvren_mesh_transform; no arithmetic when it is the
 * identity), vertices and triangles in object order; normals and colours
 * kept only when every object has them. flags: 0 or DVREN_MESH_IO_Z_UP
 * (GLB only: return the Z-up frame). Errors: those of the readers. */
DVREN_API dvren_status dvren_mesh_load(dvren_context* ctx, const char* path, uint32_t flags, dvren_mesh* out);

/* ---- transforms -------------------------------------------------------- */

/* The 4x4 matrix T * R * S of glTF 2.0 (3.5.3), column-major
 * (m[4 * col + row]): t a translation, q a rotation quaternion x y z w
 * (normalised here; all zero means the identity), s per-axis scales. Any
 * of t, q, s may be NULL (identity part). */
DVREN_API void dvren_mesh_trs_matrix(const double t[3], const double q[4], const double s[3], double m[16]);
/* Moves a mesh by the affine transform m (4x4, column-major, last row
 * 0 0 0 1), computed in double and rounded to float once: positions p ->
 * A p + t; normals n -> (A^-1)^T n, normalised (zero normals stay zero);
 * when det A < 0 (a mirror) each triangle's last two indices are swapped so
 * that triangles stay counter-clockwise seen from the normals' side.
 * Errors: INVALID_ARGUMENT (NULL, a non-finite entry, a last row other
 * than 0 0 0 1, a singular A (|det| < 1e-300), a result that overflows
 * float). On error the mesh is unchanged. */
DVREN_API dvren_status dvren_mesh_transform(dvren_context* ctx, dvren_mesh* mesh, const double m[16]);

/* ---- OBJ ---------------------------------------------------------------- */

/* Encodes mesh as Wavefront OBJ text into a malloc'ed, NUL-terminated
 * block (*data, *size bytes without the NUL; free with free()): a comment line, "o <object_name>" when object_name is
 * not NULL (it may not hold a newline), "v x y z" (" r g b" appended when
 * the mesh has colours), "vn nx ny nz" when it has normals, then one
 * "f a//a b//b c//c" per triangle ("f a b c" without normals), 1-based.
 * Numbers are written with "%.9g", which gives back every float exactly.
 * Errors: INVALID_ARGUMENT (NULL, a NULL array with a count, a non-finite
 * value naming the vertex, an index >= vertex_count naming the triangle),
 * OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_mesh_obj_encode(dvren_context* ctx, const dvren_mesh* mesh, const char* object_name,
                                             char** data, size_t* size);
/* Encodes and writes path atomically. Errors: those of _encode, IO. */
DVREN_API dvren_status dvren_mesh_obj_save(dvren_context* ctx, const char* path, const dvren_mesh* mesh,
                                           const char* object_name);
/* Parses size bytes of OBJ text (see "OBJ reading" above); name is used in
 * messages (NULL: "<memory>"). *out is overwritten. */
DVREN_API dvren_status dvren_mesh_obj_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                            dvren_mesh* out);
/* Reads the file at path and parses it; IO errors name the path. */
DVREN_API dvren_status dvren_mesh_obj_load(dvren_context* ctx, const char* path, dvren_mesh* out);

/* ---- PLY ---------------------------------------------------------------- */

/* Encodes mesh as binary little-endian PLY into a malloc'ed block: header
 * "ply", "format binary_little_endian 1.0", "comment dvren mesh",
 * "element vertex V", "property float x|y|z", "property float nx|ny|nz"
 * (with normals), "property uchar red|green|blue" (with colours: c * 255
 * rounded to nearest, clamped to 0..255), "element face T", "property list
 * uchar uint vertex_indices", "end_header"; then V packed vertex records
 * and T records (3, a, b, c). Errors: as dvren_mesh_obj_encode. */
DVREN_API dvren_status dvren_mesh_ply_encode(dvren_context* ctx, const dvren_mesh* mesh, unsigned char** data,
                                             size_t* size);
/* Encodes and writes path atomically. Errors: those of _encode, IO. */
DVREN_API dvren_status dvren_mesh_ply_save(dvren_context* ctx, const char* path, const dvren_mesh* mesh);
/* Parses size bytes of a PLY file (see "PLY reading" above); name is used
 * in messages (NULL: "<memory>"). *out is overwritten. */
DVREN_API dvren_status dvren_mesh_ply_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                            dvren_mesh* out);
/* Reads the file at path and parses it; IO errors name the path. */
DVREN_API dvren_status dvren_mesh_ply_load(dvren_context* ctx, const char* path, dvren_mesh* out);

/* ---- GLB ---------------------------------------------------------------- */

/* One object to write: a glTF node named name (NULL: "object_<i>") that
 * holds a mesh of the same name, placed by its local transform T * R * S
 * (glTF 2.0, 3.5.3): translation (world units), rotation a unit
 * quaternion x y z w (all four zero: the identity; else its norm must be
 * within 1e-6 of 1), scale (all three zero: 1 1 1). A mesh without
 * triangles gives a node without a mesh (glTF accessors cannot be empty). */
typedef struct dvren_mesh_object {
    const char* name;
    const dvren_mesh* mesh;
    double translation[3];
    double rotation[4]; /* x y z w */
    double scale[3];
} dvren_mesh_object;

/* Encodes count objects as one GLB (glTF 2.0 binary, section 4) into a
 * malloc'ed block (*data, *size; free with free()). JSON: asset {version
 * "2.0", generator "dvren"}, one scene (scene 0) whose root nodes are the
 * objects in order (or, with DVREN_MESH_IO_Z_UP, the single root
 * "z_up_to_y_up" holding them as children, see the top of the file); node
 * i holds mesh i; each mesh one primitive, mode 4, attributes POSITION
 * (float VEC3, min and max as the spec requires), NORMAL (float VEC3)
 * when the mesh has normals, COLOR_0 (float VEC3, linear RGB as dvren's
 * colours are) when it has colours, and indices (unsigned int SCALAR).
 * One buffer (the BIN chunk) with a buffer view per accessor (target
 * 34962 ARRAY_BUFFER for attributes, 34963 ELEMENT_ARRAY_BUFFER for
 * indices), each 4-byte aligned. Errors: INVALID_ARGUMENT (NULL, count 0,
 * a bad mesh as in dvren_mesh_obj_encode, a non-finite transform, a
 * rotation that is not a unit quaternion, unknown flags), UNSUPPORTED (a
 * file over 4 GiB, GLB's limit), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_mesh_glb_encode(dvren_context* ctx, const dvren_mesh_object* objects, uint32_t count,
                                             uint32_t flags, unsigned char** data, size_t* size);
/* Encodes and writes path atomically. Errors: those of _encode, IO. */
DVREN_API dvren_status dvren_mesh_glb_save(dvren_context* ctx, const char* path, const dvren_mesh_object* objects,
                                           uint32_t count, uint32_t flags);

/* One object read from a GLB: a node with a mesh. */
typedef struct dvren_mesh_glb_object {
    char* name;           /* the node's name (malloc'ed; "" when it has none) */
    dvren_mesh mesh;      /* the glTF mesh's primitives in one mesh, in the file's (node-local) frame */
    int has_matrix;       /* 1: the node gave "matrix" (translation/rotation/scale are then the identity) */
    double translation[3], rotation[4] /* x y z w */, scale[3]; /* the node's TRS, defaults filled */
    double local[16];     /* the node's local transform, 4x4 column-major */
    double world[16];     /* its parents' transforms times local (with DVREN_MESH_IO_Z_UP: the Z-up world) */
} dvren_mesh_glb_object;

/* The objects of a GLB file, in depth-first scene order. */
typedef struct dvren_mesh_glb {
    uint32_t count;
    dvren_mesh_glb_object* objects;
} dvren_mesh_glb;

/* Parses size bytes of a GLB (see "GLB reading" above); name is used in
 * messages (NULL: "<memory>"); flags 0 or DVREN_MESH_IO_Z_UP. *out is
 * overwritten; free it with dvren_mesh_glb_free (on error it is empty).
 * Errors name the part at fault: "'<file>': accessors[3]: ...". */
DVREN_API dvren_status dvren_mesh_glb_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                            uint32_t flags, dvren_mesh_glb* out);
/* Reads the file at path and parses it; IO errors name the path. */
DVREN_API dvren_status dvren_mesh_glb_load(dvren_context* ctx, const char* path, uint32_t flags, dvren_mesh_glb* out);
/* Frees the objects' meshes (dvren_mesh_free with ctx) and names, and
 * zeroes *g. NULL is a no-op. */
DVREN_API void dvren_mesh_glb_free(dvren_context* ctx, dvren_mesh_glb* g);

#endif /* DVREN_MESH_IO_H */

#ifdef DVREN_MESH_IO_IMPLEMENTATION
#ifndef DVREN_MESH_IO_IMPLEMENTATION_ONCE
#define DVREN_MESH_IO_IMPLEMENTATION_ONCE

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ------------------------------------------------------ */

static dvren_status dvren__mio_fail(dvren_context* ctx, const char* name, dvren_status st, const char* field,
                                    const char* fmt, ...) DVREN_PRINTF(5, 6);
static dvren_status dvren__mio_fail(dvren_context* ctx, const char* name, dvren_status st, const char* field,
                                    const char* fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dvren_set_error(ctx, st, "mesh_io", NULL, "'%s': %s: %s", name ? name : "<memory>", field, msg);
}

/* A growing byte buffer (malloc). */
typedef struct dvren__mio_buf {
    unsigned char* p;
    size_t n, cap;
    int failed;
} dvren__mio_buf;

static int dvren__mio_reserve(dvren__mio_buf* b, size_t more)
{
    size_t cap;
    unsigned char* q;
    if (b->failed) return 0;
    if (more <= b->cap - b->n) return 1;
    if (more > SIZE_MAX / 2 - b->n) {
        b->failed = 1;
        return 0;
    }
    cap = b->cap ? b->cap : 4096;
    while (cap - b->n < more) cap *= 2;
    q = (unsigned char*)realloc(b->p, cap);
    if (!q) {
        b->failed = 1;
        return 0;
    }
    b->p = q;
    b->cap = cap;
    return 1;
}

static void dvren__mio_put(dvren__mio_buf* b, const void* data, size_t n)
{
    if (!n || !dvren__mio_reserve(b, n)) return;
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void dvren__mio_printf(dvren__mio_buf* b, const char* fmt, ...) DVREN_PRINTF(2, 3);
static void dvren__mio_printf(dvren__mio_buf* b, const char* fmt, ...)
{
    char tmp[512];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = 1;
        return;
    }
    dvren__mio_put(b, tmp, (size_t)n);
}

static void dvren__mio_u32le(unsigned char* p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static uint32_t dvren__mio_rd_u32le(const unsigned char* p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void dvren__mio_f32le(unsigned char* p, float f)
{
    uint32_t w;
    memcpy(&w, &f, 4);
    dvren__mio_u32le(p, w);
}
static float dvren__mio_rd_f32le(const unsigned char* p)
{
    uint32_t w = dvren__mio_rd_u32le(p);
    float f;
    memcpy(&f, &w, 4);
    return f;
}

/* Reads a whole file into malloc'ed memory (one spare NUL byte after it). */
static dvren_status dvren__mio_read(dvren_context* ctx, const char* path, unsigned char** data, size_t* size)
{
    FILE* f;
    long len;
    unsigned char* d;
    *data = NULL;
    *size = 0;
    if (!path) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "path is NULL");
    f = fopen(path, "rb");
    if (!f) return dvren_set_error(ctx, DVREN_ERROR_IO, "mesh_io", NULL, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_IO, "mesh_io", NULL, "cannot read '%s': not a regular file", path);
    }
    if ((uint64_t)len > DVREN_MESH_IO_MAX_BYTES) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, "mesh_io", NULL, "'%s' is %.0f bytes, more than the %.0f this reader takes",
                               path, (double)len, (double)DVREN_MESH_IO_MAX_BYTES);
    }
    d = (unsigned char*)malloc((size_t)len + 1);
    if (!d) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "cannot hold '%s' (%.0f bytes)", path, (double)len);
    }
    if (len && fread(d, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(d);
        return dvren_set_error(ctx, DVREN_ERROR_IO, "mesh_io", NULL, "cannot read '%s'", path);
    }
    fclose(f);
    d[len] = 0;
    *data = d;
    *size = (size_t)len;
    return DVREN_OK;
}

/* Checks a mesh before writing: arrays present, values finite, indices in range. */
static dvren_status dvren__mio_check_mesh(dvren_context* ctx, const dvren_mesh* m, const char* what)
{
    uint64_t i, n;
    if (!m) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "%s: mesh is NULL", what);
    if (m->vertex_count > ((uint32_t)1 << 31) || m->triangle_count > ((uint32_t)1 << 31))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "%s: %u vertices, %u triangles: more than 2^31",
                               what, m->vertex_count, m->triangle_count);
    if ((m->vertex_count && !m->positions) || (m->triangle_count && !m->triangles))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "%s: positions or triangles is NULL with a count", what);
    n = (uint64_t)m->vertex_count * 3;
    for (i = 0; i < n; ++i) {
        const char* arr = NULL;
        if (!isfinite(m->positions[i])) arr = "positions";
        else if (m->normals && !isfinite(m->normals[i])) arr = "normals";
        else if (m->colors && !isfinite(m->colors[i])) arr = "colors";
        if (arr)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "%s: vertex %.0f: %s[%u] is not finite", what,
                                   (double)(i / 3), arr, (unsigned)(i % 3));
    }
    n = (uint64_t)m->triangle_count * 3;
    for (i = 0; i < n; ++i)
        if (m->triangles[i] >= m->vertex_count)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL,
                                   "%s: triangle %.0f: index %u is beyond the %u vertices", what, (double)(i / 3),
                                   m->triangles[i], m->vertex_count);
    return DVREN_OK;
}

/* Allocates *out with the given arrays (dvren_mesh_alloc), mapping failures to a message naming the file. */
static dvren_status dvren__mio_alloc(dvren_context* ctx, const char* name, uint64_t V, uint64_t T, int normals, int colors,
                                     dvren_mesh* out)
{
    dvren_status st;
    if (V > ((uint64_t)1 << 31) || T > ((uint64_t)1 << 31))
        return dvren__mio_fail(ctx, name, DVREN_ERROR_UNSUPPORTED, "mesh", "%.0f vertices, %.0f triangles: more than 2^31",
                               (double)V, (double)T);
    st = dvren_mesh_alloc(ctx, (uint32_t)V, (uint32_t)T, (normals ? DVREN_MESH_NORMALS : 0u) | (colors ? DVREN_MESH_COLORS : 0u), out);
    if (st != DVREN_OK) {
        memset(out, 0, sizeof *out);
        return dvren__mio_fail(ctx, name, st, "mesh", "cannot allocate %.0f vertices and %.0f triangles", (double)V, (double)T);
    }
    return DVREN_OK;
}

/* Growing arrays of floats and uint32 (malloc). */
typedef struct dvren__mio_fv {
    float* p;
    size_t n, cap;
} dvren__mio_fv;
typedef struct dvren__mio_uv {
    uint32_t* p;
    size_t n, cap;
} dvren__mio_uv;

static int dvren__mio_fv_push3(dvren__mio_fv* v, float a, float b, float c)
{
    if (v->cap - v->n < 3) {
        size_t cap = v->cap ? v->cap * 2 : 3072;
        float* q;
        if (cap > SIZE_MAX / sizeof(float) / 2) return 0;
        q = (float*)realloc(v->p, cap * sizeof(float));
        if (!q) return 0;
        v->p = q;
        v->cap = cap;
    }
    v->p[v->n++] = a;
    v->p[v->n++] = b;
    v->p[v->n++] = c;
    return 1;
}

static int dvren__mio_uv_push3(dvren__mio_uv* v, uint32_t a, uint32_t b, uint32_t c)
{
    if (v->cap - v->n < 3) {
        size_t cap = v->cap ? v->cap * 2 : 3072;
        uint32_t* q;
        if (cap > SIZE_MAX / sizeof(uint32_t) / 2) return 0;
        q = (uint32_t*)realloc(v->p, cap * sizeof(uint32_t));
        if (!q) return 0;
        v->p = q;
        v->cap = cap;
    }
    v->p[v->n++] = a;
    v->p[v->n++] = b;
    v->p[v->n++] = c;
    return 1;
}

DVREN_API dvren_mesh_format dvren_mesh_format_of(const char* path)
{
    const char* dot;
    char ext[8];
    size_t i, n;
    if (!path) return DVREN_MESH_FORMAT_UNKNOWN;
    dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/') || strchr(dot, '\\')) return DVREN_MESH_FORMAT_UNKNOWN;
    n = strlen(dot + 1);
    if (n >= sizeof ext) return DVREN_MESH_FORMAT_UNKNOWN;
    for (i = 0; i <= n; ++i) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    if (!strcmp(ext, "obj")) return DVREN_MESH_FORMAT_OBJ;
    if (!strcmp(ext, "ply")) return DVREN_MESH_FORMAT_PLY;
    if (!strcmp(ext, "glb")) return DVREN_MESH_FORMAT_GLB;
    return DVREN_MESH_FORMAT_UNKNOWN;
}

/* ---- transforms ------------------------------------------------------------ */

DVREN_API void dvren_mesh_trs_matrix(const double t[3], const double q[4], const double s[3], double m[16])
{
    double x = 0, y = 0, z = 0, w = 1, sx = 1, sy = 1, sz = 1, r[9];
    int i;
    if (q && (q[0] != 0 || q[1] != 0 || q[2] != 0 || q[3] != 0)) {
        double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        x = q[0] / n, y = q[1] / n, z = q[2] / n, w = q[3] / n;
    }
    if (s) sx = s[0], sy = s[1], sz = s[2];
    /* rotation matrix of a unit quaternion, row-major r[3 * row + col] */
    r[0] = 1 - 2 * (y * y + z * z), r[1] = 2 * (x * y - z * w), r[2] = 2 * (x * z + y * w);
    r[3] = 2 * (x * y + z * w), r[4] = 1 - 2 * (x * x + z * z), r[5] = 2 * (y * z - x * w);
    r[6] = 2 * (x * z - y * w), r[7] = 2 * (y * z + x * w), r[8] = 1 - 2 * (x * x + y * y);
    for (i = 0; i < 3; ++i) {
        m[0 + i] = r[3 * i + 0] * sx;
        m[4 + i] = r[3 * i + 1] * sy;
        m[8 + i] = r[3 * i + 2] * sz;
        m[12 + i] = t ? t[i] : 0.0;
    }
    m[3] = m[7] = m[11] = 0.0;
    m[15] = 1.0;
}

/* c = a * b, 4x4 column-major; c may not alias a or b. */
static void dvren__mio_matmul(const double a[16], const double b[16], double c[16])
{
    int i, j, k;
    for (j = 0; j < 4; ++j)
        for (i = 0; i < 4; ++i) {
            double s = 0;
            for (k = 0; k < 4; ++k) s += a[4 * k + i] * b[4 * j + k];
            c[4 * j + i] = s;
        }
}

static void dvren__mio_identity(double m[16])
{
    int i;
    for (i = 0; i < 16; ++i) m[i] = (i % 5 == 0) ? 1.0 : 0.0;
}

static int dvren__mio_is_identity(const double m[16])
{
    int i;
    for (i = 0; i < 16; ++i)
        if (m[i] != ((i % 5 == 0) ? 1.0 : 0.0)) return 0;
    return 1;
}

DVREN_API dvren_status dvren_mesh_transform(dvren_context* ctx, dvren_mesh* mesh, const double m[16])
{
    double A[9], inv[9], det;
    float* np = NULL;
    float* pp = NULL;
    uint64_t i, V;
    int k;
    if (!mesh || !m) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "transform: NULL argument");
    for (k = 0; k < 16; ++k)
        if (!isfinite(m[k]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "transform: m[%d] is not finite", k);
    if (m[3] != 0 || m[7] != 0 || m[11] != 0 || m[15] != 1)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL,
                               "transform: the last row is (%g %g %g %g), not (0 0 0 1): not affine", m[3], m[7], m[11], m[15]);
    if (mesh->vertex_count && !mesh->positions)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "transform: positions is NULL");
    /* A row-major from the column-major m */
    for (k = 0; k < 9; ++k) A[k] = m[4 * (k % 3) + k / 3];
    det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
    if (!(fabs(det) >= 1e-300))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "transform: the 3x3 part is singular (det %g)", det);
    /* (A^-1)^T = cofactor(A) / det */
    inv[0] = (A[4] * A[8] - A[5] * A[7]) / det;
    inv[1] = -(A[3] * A[8] - A[5] * A[6]) / det;
    inv[2] = (A[3] * A[7] - A[4] * A[6]) / det;
    inv[3] = -(A[1] * A[8] - A[2] * A[7]) / det;
    inv[4] = (A[0] * A[8] - A[2] * A[6]) / det;
    inv[5] = -(A[0] * A[7] - A[1] * A[6]) / det;
    inv[6] = (A[1] * A[5] - A[2] * A[4]) / det;
    inv[7] = -(A[0] * A[5] - A[2] * A[3]) / det;
    inv[8] = (A[0] * A[4] - A[1] * A[3]) / det;
    V = mesh->vertex_count;
    /* into new arrays first, so that an overflow leaves the mesh unchanged */
    if (V) {
        pp = (float*)malloc((size_t)V * 3 * sizeof(float));
        if (mesh->normals) np = (float*)malloc((size_t)V * 3 * sizeof(float));
        if (!pp || (mesh->normals && !np)) {
            free(pp);
            free(np);
            return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "transform: out of memory");
        }
    }
    for (i = 0; i < V; ++i) {
        const float* p = mesh->positions + 3 * i;
        for (k = 0; k < 3; ++k) {
            double v = A[3 * k] * p[0] + A[3 * k + 1] * p[1] + A[3 * k + 2] * p[2] + m[12 + k];
            float f = (float)v;
            if (!isfinite(f)) {
                free(pp);
                free(np);
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL,
                                       "transform: vertex %.0f moves outside float's range", (double)i);
            }
            pp[3 * i + k] = f;
        }
        if (np) {
            const float* n = mesh->normals + 3 * i;
            double r[3], len;
            for (k = 0; k < 3; ++k) r[k] = inv[3 * k] * n[0] + inv[3 * k + 1] * n[1] + inv[3 * k + 2] * n[2];
            len = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
            for (k = 0; k < 3; ++k) np[3 * i + k] = len > 0 && isfinite(len) ? (float)(r[k] / len) : 0.0f;
        }
    }
    if (V) {
        memcpy(mesh->positions, pp, (size_t)V * 3 * sizeof(float));
        if (np) memcpy(mesh->normals, np, (size_t)V * 3 * sizeof(float));
    }
    free(pp);
    free(np);
    if (det < 0 && mesh->triangles)
        for (i = 0; i < mesh->triangle_count; ++i) {
            uint32_t t = mesh->triangles[3 * i + 1];
            mesh->triangles[3 * i + 1] = mesh->triangles[3 * i + 2];
            mesh->triangles[3 * i + 2] = t;
        }
    return DVREN_OK;
}

/* ---- OBJ ------------------------------------------------------------------- */

DVREN_API dvren_status dvren_mesh_obj_encode(dvren_context* ctx, const dvren_mesh* mesh, const char* object_name,
                                             char** data, size_t* size)
{
    dvren__mio_buf b;
    uint64_t i;
    dvren_status st;
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!data || !size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "obj: NULL argument");
    if ((st = dvren__mio_check_mesh(ctx, mesh, "obj")) != DVREN_OK) return st;
    if (object_name && (strchr(object_name, '\n') || strchr(object_name, '\r') || strlen(object_name) > 256))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL,
                               "obj: object_name holds a line break or is longer than 256 bytes");
    memset(&b, 0, sizeof b);
    dvren__mio_printf(&b, "# dvren mesh: %u vertices, %u triangles%s%s\n", mesh->vertex_count, mesh->triangle_count,
                      mesh->normals ? ", normals" : "", mesh->colors ? ", colours (v x y z r g b)" : "");
    if (object_name) {
        dvren__mio_put(&b, "o ", 2);
        dvren__mio_put(&b, object_name, strlen(object_name));
        dvren__mio_put(&b, "\n", 1);
    }
    for (i = 0; i < mesh->vertex_count && !b.failed; ++i) {
        const float* p = mesh->positions + 3 * i;
        if (mesh->colors) {
            const float* c = mesh->colors + 3 * i;
            dvren__mio_printf(&b, "v %.9g %.9g %.9g %.9g %.9g %.9g\n", p[0], p[1], p[2], c[0], c[1], c[2]);
        } else {
            dvren__mio_printf(&b, "v %.9g %.9g %.9g\n", p[0], p[1], p[2]);
        }
    }
    if (mesh->normals)
        for (i = 0; i < mesh->vertex_count && !b.failed; ++i) {
            const float* n = mesh->normals + 3 * i;
            dvren__mio_printf(&b, "vn %.9g %.9g %.9g\n", n[0], n[1], n[2]);
        }
    for (i = 0; i < mesh->triangle_count && dvren__mio_reserve(&b, 80); ++i) {
        /* integers by hand: printf's number formatting dominated the writer's time */
        char* o = (char*)b.p + b.n;
        int k;
        *o++ = 'f';
        for (k = 0; k < 3; ++k) {
            int rep;
            for (rep = 0; rep < (mesh->normals ? 2 : 1); ++rep) {
                char digits[12];
                int nd = 0;
                uint32_t v = mesh->triangles[3 * i + (uint64_t)k] + 1; /* < 2^31 + 1: no overflow */
                do digits[nd++] = (char)('0' + v % 10), v /= 10;
                while (v);
                if (rep) *o++ = '/', *o++ = '/';
                else *o++ = ' ';
                while (nd) *o++ = digits[--nd];
            }
        }
        *o++ = '\n';
        b.n = (size_t)((unsigned char*)o - b.p);
    }
    dvren__mio_put(&b, "", 1); /* a terminating NUL, not counted in *size */
    if (b.failed) {
        free(b.p);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "obj: out of memory");
    }
    *data = (char*)b.p;
    *size = b.n - 1;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_mesh_obj_save(dvren_context* ctx, const char* path, const dvren_mesh* mesh,
                                           const char* object_name)
{
    char* data;
    size_t size;
    dvren_status st;
    if (!path) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "obj: path is NULL");
    st = dvren_mesh_obj_encode(ctx, mesh, object_name, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_file_write_atomic(ctx, path, data, size);
    free(data);
    return st;
}

/* strtok_r on single spaces (strtok_r is POSIX, not C11). */
static char* dvren__mio_tok(char* s, char** save)
{
    char* t = s ? s : *save;
    while (*t == ' ') ++t;
    if (!*t) {
        *save = t;
        return NULL;
    }
    s = t;
    while (*t && *t != ' ') ++t;
    if (*t) *t++ = 0;
    *save = t;
    return s;
}

/* One number token of an OBJ line; 0 when it is not a finite number. */
static int dvren__mio_obj_num(const char* tok, float* out)
{
    char* end;
    double v;
    errno = 0;
    v = strtod(tok, &end);
    if (end == tok || *end || !isfinite(v) || !isfinite((float)v)) return 0;
    *out = (float)v;
    return 1;
}

/* One index of a face corner: 1-based or negative, resolved against defined elements; -1 error (msg set). */
static int64_t dvren__mio_obj_index(const char* s, size_t len, uint64_t defined, const char* what, char* msg, size_t msz)
{
    char tmp[32], *end;
    long long v;
    if (len == 0 || len >= sizeof tmp) {
        snprintf(msg, msz, "%s index '%.*s' is not an integer", what, (int)(len < 24 ? len : 24), s);
        return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    errno = 0;
    v = strtoll(tmp, &end, 10);
    if (*end || errno) {
        snprintf(msg, msz, "%s index '%s' is not an integer", what, tmp);
        return -1;
    }
    if (v == 0) {
        snprintf(msg, msz, "%s index 0 is not valid (OBJ indices start at 1)", what);
        return -1;
    }
    if (v > 0) {
        if ((uint64_t)v > defined) {
            snprintf(msg, msz, "%s index %lld is beyond the %.0f defined so far", what, v, (double)defined);
            return -1;
        }
        return (int64_t)v - 1;
    }
    if ((uint64_t)(-(v + 1)) >= defined) {
        snprintf(msg, msz, "%s index %lld reaches before the first of the %.0f defined so far", what, v, (double)defined);
        return -1;
    }
    return (int64_t)defined + v;
}

DVREN_API dvren_status dvren_mesh_obj_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                            dvren_mesh* out)
{
    const char* b = (const char*)data;
    size_t pos = 0, line_no = 0;
    dvren__mio_fv vs, cs, ns;
    dvren__mio_uv tris, corners;
    uint64_t vt_count = 0, v_count = 0, vn_count = 0;
    int any_vn_neq = 0, any_vn_none = 0, any_vn = 0;
    char* line = NULL;
    char field[64], msg[160], emsg[256];
    dvren_status st = DVREN_OK;
    if (!name) name = "<memory>";
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "obj: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "obj: data is NULL");
    memset(&vs, 0, sizeof vs);
    memset(&cs, 0, sizeof cs);
    memset(&ns, 0, sizeof ns);
    memset(&tris, 0, sizeof tris);
    memset(&corners, 0, sizeof corners);
    line = (char*)malloc(DVREN_MESH_IO_MAX_LINE + 1);
    if (!line) return dvren__mio_fail(ctx, name, DVREN_ERROR_OUT_OF_MEMORY, "obj", "out of memory");
#define DVREN__OBJ_FAIL(st_, ...)                                                          \
    do {                                                                                   \
        snprintf(field, sizeof field, "%s:%.0f", name, (double)line_no);                   \
        snprintf(emsg, sizeof emsg, __VA_ARGS__);                                          \
        st = dvren_set_error(ctx, (st_), "mesh_io", NULL, "'%s': %s", field, emsg);        \
        goto cleanup;                                                                      \
    } while (0)
    while (pos < size) {
        size_t e = pos, len;
        char *p, *kw, *save;
        ++line_no;
        while (e < size && b[e] != '\n') ++e;
        len = e - pos;
        if (len > DVREN_MESH_IO_MAX_LINE) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "line: longer than %d bytes", DVREN_MESH_IO_MAX_LINE);
        memcpy(line, b + pos, len);
        line[len] = 0;
        pos = e + 1;
        if (memchr(line, 0, len)) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "line: holds a NUL byte (not a text file?)");
        if ((p = strchr(line, '#')) != NULL) *p = 0;
        for (p = line; *p; ++p)
            if (*p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') *p = ' ';
        kw = dvren__mio_tok(line, &save);
        if (!kw) continue;
        if (!strcmp(kw, "v") || !strcmp(kw, "vn")) {
            float x[7];
            int n = 0;
            char* tok;
            while ((tok = dvren__mio_tok(NULL, &save)) != NULL) {
                if (n == 7) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "%s: more than 7 numbers", kw);
                if (!dvren__mio_obj_num(tok, &x[n])) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "%s: '%.40s' is not a finite number", kw, tok);
                ++n;
            }
            if (kw[1] == 'n') {
                if (n != 3) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "vn: %d numbers, expected 3 (i j k)", n);
                if (!dvren__mio_fv_push3(&ns, x[0], x[1], x[2])) DVREN__OBJ_FAIL(DVREN_ERROR_OUT_OF_MEMORY, "vn: out of memory");
                ++vn_count;
            } else {
                if (n != 3 && n != 4 && n != 6 && n != 7)
                    DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "v: %d numbers, expected 3 (x y z), 4 (x y z w), 6 (x y z r g b) or 7", n);
                if (v_count >= ((uint64_t)1 << 31)) DVREN__OBJ_FAIL(DVREN_ERROR_UNSUPPORTED, "v: more than 2^31 vertices");
                if (!dvren__mio_fv_push3(&vs, x[0], x[1], x[2])) DVREN__OBJ_FAIL(DVREN_ERROR_OUT_OF_MEMORY, "v: out of memory");
                /* colours are kept only while every vertex so far has them */
                if (n >= 6 && cs.n == vs.n - 3 && !dvren__mio_fv_push3(&cs, x[3], x[4], x[5]))
                    DVREN__OBJ_FAIL(DVREN_ERROR_OUT_OF_MEMORY, "v: out of memory");
                ++v_count;
            }
        } else if (!strcmp(kw, "vt")) {
            char* tok;
            int n = 0;
            float x;
            while ((tok = dvren__mio_tok(NULL, &save)) != NULL) {
                if (!dvren__mio_obj_num(tok, &x)) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "vt: '%.40s' is not a finite number", tok);
                ++n;
            }
            if (n < 1 || n > 3) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "vt: %d numbers, expected 1 to 3", n);
            ++vt_count;
        } else if (!strcmp(kw, "f")) {
            char* tok;
            size_t k;
            corners.n = 0;
            while ((tok = dvren__mio_tok(NULL, &save)) != NULL) {
                const char* s1 = strchr(tok, '/');
                const char* s2 = s1 ? strchr(s1 + 1, '/') : NULL;
                size_t lv = s1 ? (size_t)(s1 - tok) : strlen(tok);
                int64_t vi, ni = -1;
                if (s2 && strchr(s2 + 1, '/')) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "f: corner '%.40s' has more than 3 parts", tok);
                vi = dvren__mio_obj_index(tok, lv, v_count, "vertex", msg, sizeof msg);
                if (vi < 0) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "f: %s", msg);
                if (s1) {
                    size_t lt = s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1);
                    if (lt && dvren__mio_obj_index(s1 + 1, lt, vt_count, "texture", msg, sizeof msg) < 0)
                        DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "f: %s", msg);
                    if (!lt && !s2) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "f: corner '%.40s' ends with '/'", tok);
                    if (s2) {
                        ni = dvren__mio_obj_index(s2 + 1, strlen(s2 + 1), vn_count, "normal", msg, sizeof msg);
                        if (ni < 0) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "f: %s", msg);
                    }
                }
                if (ni < 0) any_vn_none = 1;
                else if (ni != vi) any_vn_neq = 1, any_vn = 1;
                else any_vn = 1;
                if (corners.n == corners.cap) {
                    size_t cap = corners.cap ? corners.cap * 2 : 64;
                    uint32_t* q = (uint32_t*)realloc(corners.p, cap * sizeof(uint32_t));
                    if (!q) DVREN__OBJ_FAIL(DVREN_ERROR_OUT_OF_MEMORY, "f: out of memory");
                    corners.p = q;
                    corners.cap = cap;
                }
                corners.p[corners.n++] = (uint32_t)vi;
            }
            if (corners.n < 3) DVREN__OBJ_FAIL(DVREN_ERROR_FORMAT, "f: %u corners, a face needs at least 3", (unsigned)corners.n);
            for (k = 1; k + 1 < corners.n; ++k) {
                if (tris.n / 3 >= ((size_t)1 << 31)) DVREN__OBJ_FAIL(DVREN_ERROR_UNSUPPORTED, "f: more than 2^31 triangles");
                if (!dvren__mio_uv_push3(&tris, corners.p[0], corners.p[k], corners.p[k + 1]))
                    DVREN__OBJ_FAIL(DVREN_ERROR_OUT_OF_MEMORY, "f: out of memory");
            }
        }
        /* o, g, s, usemtl, mtllib, l, p and other statements: nothing to keep */
    }
#undef DVREN__OBJ_FAIL
    {
        int keep_normals = vn_count > 0 && !any_vn_neq && (!any_vn_none || vn_count == v_count) && (any_vn || vn_count == v_count);
        int keep_colors = v_count > 0 && cs.n == vs.n;
        uint64_t i;
        (void)any_vn;
        st = dvren__mio_alloc(ctx, name, v_count, tris.n / 3, keep_normals, keep_colors, out);
        if (st != DVREN_OK) goto cleanup;
        if (v_count) memcpy(out->positions, vs.p, vs.n * sizeof(float));
        if (keep_colors) {
            /* some exporters write 0..255: then every value is scaled by 1/255; the rest is clamped to [0, 1] */
            float mx = 0;
            for (i = 0; i < cs.n; ++i) mx = cs.p[i] > mx ? cs.p[i] : mx;
            for (i = 0; i < cs.n; ++i) {
                float c = mx > 1 && mx <= 255 ? (float)(cs.p[i] / 255.0) : cs.p[i];
                out->colors[i] = c < 0 ? 0 : c > 1 ? 1 : c;
            }
        }
        if (keep_normals)
            for (i = 0; i < v_count * 3 && i < ns.n; ++i) out->normals[i] = ns.p[i];
        if (tris.n) memcpy(out->triangles, tris.p, tris.n * sizeof(uint32_t));
    }
cleanup:
    free(line);
    free(vs.p);
    free(cs.p);
    free(ns.p);
    free(tris.p);
    free(corners.p);
    if (st != DVREN_OK) memset(out, 0, sizeof *out);
    return st;
}

DVREN_API dvren_status dvren_mesh_obj_load(dvren_context* ctx, const char* path, dvren_mesh* out)
{
    unsigned char* data;
    size_t size;
    dvren_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "obj: out is NULL");
    st = dvren__mio_read(ctx, path, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_mesh_obj_parse(ctx, data, size, path, out);
    free(data);
    return st;
}

/* ---- PLY ------------------------------------------------------------------- */

DVREN_API dvren_status dvren_mesh_ply_encode(dvren_context* ctx, const dvren_mesh* mesh, unsigned char** data,
                                             size_t* size)
{
    dvren__mio_buf b;
    uint64_t i, stride, need;
    unsigned char* p;
    dvren_status st;
    int k;
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!data || !size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "ply: NULL argument");
    if ((st = dvren__mio_check_mesh(ctx, mesh, "ply")) != DVREN_OK) return st;
    memset(&b, 0, sizeof b);
    dvren__mio_printf(&b, "ply\nformat binary_little_endian 1.0\ncomment dvren mesh\nelement vertex %u\n"
                          "property float x\nproperty float y\nproperty float z\n", mesh->vertex_count);
    if (mesh->normals) dvren__mio_printf(&b, "property float nx\nproperty float ny\nproperty float nz\n");
    if (mesh->colors) dvren__mio_printf(&b, "property uchar red\nproperty uchar green\nproperty uchar blue\n");
    dvren__mio_printf(&b, "element face %u\nproperty list uchar uint vertex_indices\nend_header\n", mesh->triangle_count);
    stride = 12 + (mesh->normals ? 12 : 0) + (mesh->colors ? 3 : 0);
    need = stride * mesh->vertex_count + (uint64_t)13 * mesh->triangle_count;
    if (need > SIZE_MAX / 2 || !dvren__mio_reserve(&b, (size_t)need)) {
        free(b.p);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "ply: cannot hold %.0f bytes", (double)need);
    }
    p = b.p + b.n;
    for (i = 0; i < mesh->vertex_count; ++i) {
        for (k = 0; k < 3; ++k, p += 4) dvren__mio_f32le(p, mesh->positions[3 * i + k]);
        if (mesh->normals)
            for (k = 0; k < 3; ++k, p += 4) dvren__mio_f32le(p, mesh->normals[3 * i + k]);
        if (mesh->colors)
            for (k = 0; k < 3; ++k) {
                double c = floor((double)mesh->colors[3 * i + k] * 255.0 + 0.5);
                *p++ = (unsigned char)(c < 0 ? 0 : c > 255 ? 255 : c);
            }
    }
    for (i = 0; i < mesh->triangle_count; ++i) {
        *p++ = 3;
        for (k = 0; k < 3; ++k, p += 4) dvren__mio_u32le(p, mesh->triangles[3 * i + k]);
    }
    b.n = (size_t)(p - b.p);
    *data = b.p;
    *size = b.n;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_mesh_ply_save(dvren_context* ctx, const char* path, const dvren_mesh* mesh)
{
    unsigned char* data;
    size_t size;
    dvren_status st;
    if (!path) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "ply: path is NULL");
    st = dvren_mesh_ply_encode(ctx, mesh, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_file_write_atomic(ctx, path, data, size);
    free(data);
    return st;
}

/* PLY scalar types: 1 char, 2 uchar, 3 short, 4 ushort, 5 int, 6 uint, 7 float, 8 double. */
static int dvren__mio_ply_type(const char* s)
{
    static const char* names[16] = {"char",  "uchar",  "short",  "ushort", "int",   "uint",   "float",   "double",
                                    "int8",  "uint8",  "int16",  "uint16", "int32", "uint32", "float32", "float64"};
    int i;
    for (i = 0; i < 16; ++i)
        if (!strcmp(s, names[i])) return i % 8 + 1;
    return 0;
}
static const size_t dvren__mio_ply_size[9] = {0, 1, 1, 2, 2, 4, 4, 4, 8};

#define DVREN__PLY_MAX_ELEMENTS 64
#define DVREN__PLY_MAX_PROPS 256

typedef struct dvren__mio_ply_prop {
    char name[64];
    int type;       /* the scalar's type, or a list's item type */
    int count_type; /* 0: scalar; else a list's count type */
    int role;       /* vertex: 0..8 x y z nx ny nz red green blue; face: 9 the index list; -1 skipped */
} dvren__mio_ply_prop;

typedef struct dvren__mio_ply_elem {
    char name[64];
    uint64_t count;
    uint32_t nprops;
    dvren__mio_ply_prop props[DVREN__PLY_MAX_PROPS];
} dvren__mio_ply_elem;

/* The body reader: binary (either byte order) or ASCII tokens. */
typedef struct dvren__mio_ply_cur {
    const unsigned char* b;
    size_t pos, size;
    int ascii, big;
} dvren__mio_ply_cur;

/* Reads one value of type t into *v: 0 ok, 1 truncated, 2 a bad ASCII token (tok holds it). */
static int dvren__mio_ply_value(dvren__mio_ply_cur* c, int t, double* v, char tok[48])
{
    if (c->ascii) {
        size_t s, e, n;
        char* end;
        while (c->pos < c->size && isspace(c->b[c->pos])) ++c->pos;
        if (c->pos >= c->size) return 1;
        s = e = c->pos;
        while (e < c->size && !isspace(c->b[e])) ++e;
        c->pos = e;
        n = e - s < 47 ? e - s : 47;
        memcpy(tok, c->b + s, n);
        tok[n] = 0;
        if (e - s > 47) return 2;
        errno = 0;
        if (t >= 7) {
            *v = strtod(tok, &end);
            if (end == tok || *end) return 2;
            if (t == 7 && isfinite(*v)) *v = (double)(float)*v;
        } else {
            long long x = strtoll(tok, &end, 10);
            static const double lo[7] = {0, -128, 0, -32768, 0, -2147483648.0, 0};
            static const double hi[7] = {0, 127, 255, 32767, 65535, 2147483647.0, 4294967295.0};
            if (end == tok || *end || errno || (double)x < lo[t] || (double)x > hi[t]) return 2;
            *v = (double)x;
        }
        return 0;
    } else {
        size_t n = dvren__mio_ply_size[t], k;
        uint64_t u = 0;
        if (c->size - c->pos < n) return 1;
        for (k = 0; k < n; ++k) {
            unsigned char byte = c->b[c->pos + (c->big ? n - 1 - k : k)];
            u |= (uint64_t)byte << (8 * k);
        }
        c->pos += n;
        switch (t) {
        case 1: *v = (double)(int8_t)(uint8_t)u; break;
        case 2: *v = (double)(uint8_t)u; break;
        case 3: *v = (double)(int16_t)(uint16_t)u; break;
        case 4: *v = (double)(uint16_t)u; break;
        case 5: *v = (double)(int32_t)(uint32_t)u; break;
        case 6: *v = (double)(uint32_t)u; break;
        case 7: {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            *v = (double)f;
            break;
        }
        default: {
            double d;
            memcpy(&d, &u, 8);
            *v = d;
        }
        }
        return 0;
    }
}

DVREN_API dvren_status dvren_mesh_ply_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                            dvren_mesh* out)
{
    const unsigned char* b = (const unsigned char*)data;
    dvren__mio_ply_elem* el = NULL;
    uint32_t nel = 0, e, j;
    size_t pos = 0, line_no = 0;
    int have_format = 0, ended = 0, vert = -1, face = -1;
    int have_role[10];
    dvren__mio_ply_cur cur;
    dvren__mio_uv tris;
    uint32_t* poly = NULL;
    size_t poly_cap = 0;
    char field[256], tok[48];
    dvren_status st = DVREN_OK;
    uint64_t min_bytes = 0;
    if (!name) name = "<memory>";
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "ply: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "ply: data is NULL");
    memset(&tris, 0, sizeof tris);
    memset(&cur, 0, sizeof cur);
    memset(have_role, 0, sizeof have_role);
    if (size < 4 || memcmp(b, "ply", 3) != 0 || (b[3] != '\n' && b[3] != '\r'))
        return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "magic", "the file does not start with \"ply\" and a newline");
    el = (dvren__mio_ply_elem*)calloc(DVREN__PLY_MAX_ELEMENTS, sizeof *el);
    if (!el) return dvren__mio_fail(ctx, name, DVREN_ERROR_OUT_OF_MEMORY, "header", "out of memory");
#define DVREN__PLY_FAIL(st_, fld, ...)                                  \
    do {                                                                \
        st = dvren__mio_fail(ctx, name, (st_), (fld), __VA_ARGS__);     \
        goto cleanup;                                                   \
    } while (0)
    /* in the body: the field names the record and property (made only on failure) */
#define DVREN__PLY_FAILR(st_, fld, ...)                                                                \
    do {                                                                                               \
        snprintf(field, sizeof field, "element %s[%.0f].%s", el[e].name, (double)r, P->name);          \
        DVREN__PLY_FAIL((st_), (fld), __VA_ARGS__);                                                    \
    } while (0)
    /* ---- header ---- */
    while (!ended) {
        char line[512], w0[64], w1[64], w2[64], w3[64], w4[64], extra[8];
        size_t en = pos, len;
        int nw;
        while (en < size && en - pos < sizeof line - 1 && b[en] != '\n') ++en;
        ++line_no;
        snprintf(field, sizeof field, "header line %.0f", (double)line_no);
        if (en >= size) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "header", "no \"end_header\" line (the header ends at byte %.0f)", (double)size);
        if (b[en] != '\n') DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "longer than %d bytes", (int)sizeof line - 1);
        len = en - pos;
        if (len && b[pos + len - 1] == '\r') --len;
        memcpy(line, b + pos, len);
        line[len] = 0;
        pos = en + 1;
        if (memchr(line, 0, len)) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "holds a NUL byte");
        if (line_no == 1) continue;
        w0[0] = w1[0] = w2[0] = w3[0] = w4[0] = 0;
        nw = sscanf(line, "%63s %63s %63s %63s %63s %7s", w0, w1, w2, w3, w4, extra);
        if (nw <= 0) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "empty line");
        if (!strcmp(w0, "comment") || !strcmp(w0, "obj_info")) continue;
        if (!strcmp(w0, "end_header")) {
            if (nw != 1) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "text after end_header");
            ended = 1;
        } else if (!strcmp(w0, "format")) {
            if (have_format || nel) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "the format must come once, first");
            if (nw != 3 || strcmp(w2, "1.0") != 0) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "expected \"format <type> 1.0\", got \"%s\"", line);
            if (!strcmp(w1, "ascii")) cur.ascii = 1;
            else if (!strcmp(w1, "binary_big_endian")) cur.big = 1;
            else if (strcmp(w1, "binary_little_endian") != 0) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "unknown format '%s'", w1);
            have_format = 1;
        } else if (!strcmp(w0, "element")) {
            char* endp;
            unsigned long long v;
            if (!have_format) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "element before the format line");
            if (nw != 3) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "expected \"element <name> <count>\"");
            if (nel == DVREN__PLY_MAX_ELEMENTS) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "more than %d elements", DVREN__PLY_MAX_ELEMENTS);
            for (e = 0; e < nel; ++e)
                if (!strcmp(el[e].name, w1)) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "element '%s' declared twice", w1);
            errno = 0;
            v = strtoull(w2, &endp, 10);
            if (w2[0] < '0' || w2[0] > '9' || *endp || errno) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "element '%s': bad count '%s'", w1, w2);
            snprintf(el[nel].name, sizeof el[nel].name, "%s", w1);
            el[nel].count = v;
            if (!strcmp(w1, "vertex")) vert = (int)nel;
            if (!strcmp(w1, "face")) face = (int)nel;
            ++nel;
        } else if (!strcmp(w0, "property")) {
            dvren__mio_ply_elem* E;
            dvren__mio_ply_prop* P;
            const char* pname;
            if (!nel) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "property before any element");
            E = &el[nel - 1];
            if (E->nprops == DVREN__PLY_MAX_PROPS) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "more than %d properties", DVREN__PLY_MAX_PROPS);
            P = &E->props[E->nprops];
            memset(P, 0, sizeof *P);
            P->role = -1;
            if (!strcmp(w1, "list")) {
                if (nw != 5) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "expected \"property list <count type> <item type> <name>\"");
                P->count_type = dvren__mio_ply_type(w2);
                P->type = dvren__mio_ply_type(w3);
                pname = w4;
                if (!P->count_type || P->count_type >= 7)
                    DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "property '%s': list count type '%s' is not an integer type", pname, w2);
                if (!P->type) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "property '%s': unknown type '%s'", pname, w3);
            } else {
                if (nw != 3) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "expected \"property <type> <name>\"");
                P->type = dvren__mio_ply_type(w1);
                pname = w2;
                if (!P->type) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "property '%s': unknown type '%s'", pname, w1);
            }
            for (j = 0; j < E->nprops; ++j)
                if (!strcmp(E->props[j].name, pname)) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "property '%s' declared twice", pname);
            snprintf(P->name, sizeof P->name, "%s", pname);
            if ((int)(nel - 1) == vert && !P->count_type) {
                static const char* roles[9] = {"x", "y", "z", "nx", "ny", "nz", "red", "green", "blue"};
                int r;
                for (r = 0; r < 9; ++r)
                    if (!strcmp(pname, roles[r])) P->role = r;
                if (P->role >= 6 && P->type != 2 && P->type != 4 && P->type != 7 && P->type != 8)
                    DVREN__PLY_FAIL(DVREN_ERROR_UNSUPPORTED, field, "colour '%s' of type %s (uchar, ushort, float or double are read)", pname,
                                    P->count_type ? w3 : w1);
                if (P->role >= 0) have_role[P->role] = 1;
            }
            if ((int)(nel - 1) == face && P->count_type && (!strcmp(pname, "vertex_indices") || !strcmp(pname, "vertex_index"))) {
                if (have_role[9]) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "two vertex index lists");
                if (P->type >= 7) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "property '%s': indices of type %s, not an integer type", pname, w3);
                P->role = 9;
                have_role[9] = 1;
            }
            E->nprops++;
        } else {
            DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, field, "unknown keyword '%s'", w0);
        }
    }
    if (!have_format) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "header", "no format line");
    if (vert < 0) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "header", "no \"element vertex\"");
    if (!have_role[0] || !have_role[1] || !have_role[2]) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "element vertex", "x, y and z are required");
    if (have_role[3] + have_role[4] + have_role[5] == 1 || have_role[3] + have_role[4] + have_role[5] == 2)
        DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "element vertex", "nx, ny, nz: all three or none");
    if (have_role[6] + have_role[7] + have_role[8] == 1 || have_role[6] + have_role[7] + have_role[8] == 2)
        DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "element vertex", "red, green, blue: all three or none");
    if (face >= 0 && el[face].count && !have_role[9])
        DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "element face", "no list property \"vertex_indices\"");
    if (el[vert].count > ((uint64_t)1 << 31)) DVREN__PLY_FAIL(DVREN_ERROR_UNSUPPORTED, "element vertex", "%.0f vertices: more than 2^31", (double)el[vert].count);
    /* the least bytes the body needs: refuse counts the file cannot hold before allocating */
    for (e = 0; e < nel; ++e) {
        uint64_t rec = 0;
        for (j = 0; j < el[e].nprops; ++j)
            rec += cur.ascii ? 2 : dvren__mio_ply_size[el[e].props[j].count_type ? el[e].props[j].count_type : el[e].props[j].type];
        if (rec && el[e].count > (UINT64_MAX / 4) / rec) DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "element", "'%s' count %.0f is too large", el[e].name, (double)el[e].count);
        min_bytes += rec * el[e].count;
        if (min_bytes > (uint64_t)(size - pos) + (cur.ascii ? 1 : 0))
            DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "element", "truncated: '%s' (%.0f records) needs at least %.0f bytes, the body has %.0f",
                            el[e].name, (double)el[e].count, (double)min_bytes, (double)(size - pos));
    }
    st = dvren__mio_alloc(ctx, name, el[vert].count, 0, have_role[3], have_role[6], out);
    if (st != DVREN_OK) goto cleanup;
    {
        /* triangles go to tris first: their count is known only after the fans */
        uint32_t V = out->vertex_count;
        dvren_mesh tmp = *out;
        memset(out, 0, sizeof *out);
        cur.b = b;
        cur.pos = pos;
        cur.size = size;
        for (e = 0; e < nel; ++e) {
            uint64_t r;
            for (r = 0; r < el[e].count; ++r)
                for (j = 0; j < el[e].nprops; ++j) {
                    const dvren__mio_ply_prop* P = &el[e].props[j];
                    double v;
                    int rc;
                    if (!P->count_type) {
                        rc = dvren__mio_ply_value(&cur, P->type, &v, tok);
                        if (rc == 1) {
                            dvren_mesh_free(ctx, &tmp);
                            DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "truncated: the data ends here");
                        }
                        if (rc == 2) {
                            dvren_mesh_free(ctx, &tmp);
                            DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "'%s' is not a %s", tok, P->type >= 7 ? "number" : "integer of its type");
                        }
                        if ((int)e == vert && P->role >= 0) {
                            if (!isfinite(v) || (P->role < 6 && !isfinite((float)v))) {
                                dvren_mesh_free(ctx, &tmp);
                                DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "is not finite");
                            }
                            if (P->role < 3) tmp.positions[3 * r + (uint64_t)P->role] = (float)v;
                            else if (P->role < 6) tmp.normals[3 * r + (uint64_t)(P->role - 3)] = (float)v;
                            else {
                                double c = P->type == 2 ? v / 255.0 : P->type == 4 ? v / 65535.0 : v;
                                tmp.colors[3 * r + (uint64_t)(P->role - 6)] = (float)(c < 0 ? 0 : c > 1 ? 1 : c);
                            }
                        }
                    } else {
                        double cnt;
                        uint64_t n, k;
                        rc = dvren__mio_ply_value(&cur, P->count_type, &cnt, tok);
                        if (rc || cnt < 0) {
                            dvren_mesh_free(ctx, &tmp);
                            if (rc == 1) DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "truncated: the data ends at the list's count");
                            DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "a bad list count '%s'", rc ? tok : "negative");
                        }
                        n = (uint64_t)cnt;
                        if (!cur.ascii && n * dvren__mio_ply_size[P->type] > cur.size - cur.pos) {
                            dvren_mesh_free(ctx, &tmp);
                            DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "truncated: a list of %.0f items needs %.0f bytes, %.0f are left",
                                            (double)n, (double)(n * dvren__mio_ply_size[P->type]), (double)(cur.size - cur.pos));
                        }
                        if (P->role == 9) {
                            if (n < 3) {
                                dvren_mesh_free(ctx, &tmp);
                                DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "a face of %.0f corners (at least 3)", (double)n);
                            }
                            if (n > poly_cap) {
                                uint32_t* q = (uint32_t*)realloc(poly, (size_t)n * sizeof(uint32_t));
                                if (!q) {
                                    dvren_mesh_free(ctx, &tmp);
                                    DVREN__PLY_FAILR(DVREN_ERROR_OUT_OF_MEMORY, field, "out of memory");
                                }
                                poly = q;
                                poly_cap = (size_t)n;
                            }
                        }
                        for (k = 0; k < n; ++k) {
                            rc = dvren__mio_ply_value(&cur, P->type, &v, tok);
                            if (rc) {
                                dvren_mesh_free(ctx, &tmp);
                                if (rc == 1) DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "truncated: the data ends at item %.0f of %.0f", (double)k, (double)n);
                                DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "item %.0f: '%s' is not a %s", (double)k, tok,
                                                P->type >= 7 ? "number" : "integer of its type");
                            }
                            if (P->role == 9) {
                                if (!(v >= 0 && v < (double)V)) {
                                    dvren_mesh_free(ctx, &tmp);
                                    DVREN__PLY_FAILR(DVREN_ERROR_FORMAT, field, "index %.0f is outside 0..%.0f (the vertex count is %u)", v,
                                                    (double)V - 1, V);
                                }
                                poly[k] = (uint32_t)v;
                            }
                        }
                        if (P->role == 9)
                            for (k = 1; k + 1 < n; ++k) {
                                if (tris.n / 3 >= ((size_t)1 << 31) || !dvren__mio_uv_push3(&tris, poly[0], poly[k], poly[k + 1])) {
                                    dvren_mesh_free(ctx, &tmp);
                                    DVREN__PLY_FAILR(DVREN_ERROR_OUT_OF_MEMORY, field, "out of memory (or more than 2^31 triangles)");
                                }
                            }
                    }
                }
        }
        /* nothing may follow the last element (white space in ASCII) */
        if (cur.ascii)
            while (cur.pos < size && isspace(b[cur.pos])) ++cur.pos;
        if (cur.pos != size) {
            dvren_mesh_free(ctx, &tmp);
            DVREN__PLY_FAIL(DVREN_ERROR_FORMAT, "body", "%.0f bytes after the last element '%s' (trailing data)", (double)(size - cur.pos),
                            nel ? el[nel - 1].name : "?");
        }
        st = dvren__mio_alloc(ctx, name, V, tris.n / 3, tmp.normals != NULL, tmp.colors != NULL, out);
        if (st != DVREN_OK) {
            dvren_mesh_free(ctx, &tmp);
            goto cleanup;
        }
        if (V) {
            memcpy(out->positions, tmp.positions, (size_t)V * 3 * sizeof(float));
            if (tmp.normals) memcpy(out->normals, tmp.normals, (size_t)V * 3 * sizeof(float));
            if (tmp.colors) memcpy(out->colors, tmp.colors, (size_t)V * 3 * sizeof(float));
        }
        if (tris.n) memcpy(out->triangles, tris.p, tris.n * sizeof(uint32_t));
        dvren_mesh_free(ctx, &tmp);
    }
#undef DVREN__PLY_FAIL
#undef DVREN__PLY_FAILR
cleanup:
    free(el);
    free(poly);
    free(tris.p);
    if (st != DVREN_OK) {
        dvren_mesh_free(ctx, out);
        memset(out, 0, sizeof *out);
    }
    return st;
}

DVREN_API dvren_status dvren_mesh_ply_load(dvren_context* ctx, const char* path, dvren_mesh* out)
{
    unsigned char* data;
    size_t size;
    dvren_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "ply: out is NULL");
    st = dvren__mio_read(ctx, path, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_mesh_ply_parse(ctx, data, size, path, out);
    free(data);
    return st;
}

/* ---- GLB ------------------------------------------------------------------- */

#define DVREN__GLB_MAGIC 0x46546C67u /* "glTF" */
#define DVREN__GLB_JSON 0x4E4F534Au  /* "JSON" */
#define DVREN__GLB_BIN 0x004E4942u   /* "BIN\0" */
#define DVREN__GLB_Z_UP_NAME "z_up_to_y_up"

/* Adds a buffer view and an accessor over [offset, offset + bytes) of buffer 0; returns the accessor's index. */
static int dvren__mio_glb_accessor(cJSON* views, cJSON* accessors, uint64_t offset, uint64_t bytes, int target,
                                   int component, uint32_t count, const char* type)
{
    cJSON* v = cJSON_CreateObject();
    cJSON* a = cJSON_CreateObject();
    int index = cJSON_GetArraySize(accessors);
    cJSON_AddNumberToObject(v, "buffer", 0);
    cJSON_AddNumberToObject(v, "byteOffset", (double)offset);
    cJSON_AddNumberToObject(v, "byteLength", (double)bytes);
    cJSON_AddNumberToObject(v, "target", target);
    cJSON_AddNumberToObject(a, "bufferView", cJSON_GetArraySize(views));
    cJSON_AddNumberToObject(a, "componentType", component);
    cJSON_AddNumberToObject(a, "count", count);
    cJSON_AddStringToObject(a, "type", type);
    cJSON_AddItemToArray(views, v);
    cJSON_AddItemToArray(accessors, a);
    return index;
}

static cJSON* dvren__mio_json_numbers(const double* v, int n)
{
    cJSON* a = cJSON_CreateArray();
    int i;
    for (i = 0; i < n; ++i) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

DVREN_API dvren_status dvren_mesh_glb_encode(dvren_context* ctx, const dvren_mesh_object* objects, uint32_t count,
                                             uint32_t flags, unsigned char** data, size_t* size)
{
    cJSON *root = NULL, *nodes, *meshes, *views, *accessors, *scene_nodes, *tmp;
    char* json = NULL;
    unsigned char* buf = NULL;
    uint64_t bin = 0, total, jlen, jpad, binpad;
    uint32_t i;
    int k;
    dvren_status st = DVREN_OK;
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!data || !size || !objects || !count)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: NULL argument or no objects");
    if (flags & ~DVREN_MESH_IO_Z_UP) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: unknown flags 0x%x", flags);
    /* check everything first, and size the BIN chunk */
    for (i = 0; i < count; ++i) {
        const dvren_mesh_object* o = &objects[i];
        char what[64];
        double qn;
        snprintf(what, sizeof what, "glb: objects[%u]", i);
        if ((st = dvren__mio_check_mesh(ctx, o->mesh, what)) != DVREN_OK) return st;
        for (k = 0; k < 4; ++k)
            if (!isfinite(o->rotation[k]) || (k < 3 && (!isfinite(o->translation[k]) || !isfinite(o->scale[k]))))
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "%s: a transform value is not finite", what);
        qn = sqrt(o->rotation[0] * o->rotation[0] + o->rotation[1] * o->rotation[1] + o->rotation[2] * o->rotation[2] +
                  o->rotation[3] * o->rotation[3]);
        if (qn != 0 && fabs(qn - 1) > 1e-6)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL,
                                   "%s: rotation (%g %g %g %g) has norm %.9g, not 1 (a unit quaternion x y z w; all zero for none)",
                                   what, o->rotation[0], o->rotation[1], o->rotation[2], o->rotation[3], qn);
        if (o->name && strlen(o->name) > 4096)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "%s: name longer than 4096 bytes", what);
        if (o->mesh->triangle_count)
            bin += (uint64_t)o->mesh->vertex_count * 12 * (1 + (o->mesh->normals != NULL) + (o->mesh->colors != NULL)) +
                   (uint64_t)o->mesh->triangle_count * 12;
    }
    if (bin > 0xFFFFFFFFull - 4096)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "mesh_io", NULL, "glb: %.0f bytes of data: a GLB holds less than 4 GiB", (double)bin);
    root = cJSON_CreateObject();
    tmp = cJSON_AddObjectToObject(root, "asset");
    cJSON_AddStringToObject(tmp, "version", "2.0");
    cJSON_AddStringToObject(tmp, "generator", "dvren");
    cJSON_AddNumberToObject(root, "scene", 0);
    tmp = cJSON_AddArrayToObject(root, "scenes");
    cJSON_AddItemToArray(tmp, cJSON_CreateObject());
    scene_nodes = cJSON_AddArrayToObject(cJSON_GetArrayItem(tmp, 0), "nodes");
    nodes = cJSON_AddArrayToObject(root, "nodes");
    meshes = cJSON_CreateArray();
    accessors = cJSON_CreateArray();
    views = cJSON_CreateArray();
    if (flags & DVREN_MESH_IO_Z_UP) {
        /* -90 degrees about X: (x, y, z) -> (x, z, -y) */
        static const double q[4] = {-0.70710678118654752440, 0.0, 0.0, 0.70710678118654752440};
        cJSON* r = cJSON_CreateObject();
        cJSON* ch = cJSON_CreateArray();
        cJSON_AddStringToObject(r, "name", DVREN__GLB_Z_UP_NAME);
        cJSON_AddItemToObject(r, "rotation", dvren__mio_json_numbers(q, 4));
        for (i = 0; i < count; ++i) cJSON_AddItemToArray(ch, cJSON_CreateNumber(i + 1));
        cJSON_AddItemToObject(r, "children", ch);
        cJSON_AddItemToArray(nodes, r);
        cJSON_AddItemToArray(scene_nodes, cJSON_CreateNumber(0));
    }
    if (bin) {
        buf = (unsigned char*)malloc((size_t)bin);
        if (!buf) {
            cJSON_Delete(root);
            cJSON_Delete(meshes);
            cJSON_Delete(accessors);
            cJSON_Delete(views);
            return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "glb: cannot hold %.0f bytes", (double)bin);
        }
    }
    bin = 0;
    for (i = 0; i < count; ++i) {
        const dvren_mesh_object* o = &objects[i];
        const dvren_mesh* m = o->mesh;
        cJSON* node = cJSON_CreateObject();
        char dflt[32];
        const char* nm = o->name;
        if (!nm) {
            snprintf(dflt, sizeof dflt, "object_%u", i);
            nm = dflt;
        }
        cJSON_AddStringToObject(node, "name", nm);
        if (o->translation[0] != 0 || o->translation[1] != 0 || o->translation[2] != 0)
            cJSON_AddItemToObject(node, "translation", dvren__mio_json_numbers(o->translation, 3));
        if ((o->rotation[0] != 0 || o->rotation[1] != 0 || o->rotation[2] != 0) || (o->rotation[3] != 0 && o->rotation[3] != 1))
            cJSON_AddItemToObject(node, "rotation", dvren__mio_json_numbers(o->rotation, 4));
        if ((o->scale[0] != 0 || o->scale[1] != 0 || o->scale[2] != 0) && (o->scale[0] != 1 || o->scale[1] != 1 || o->scale[2] != 1))
            cJSON_AddItemToObject(node, "scale", dvren__mio_json_numbers(o->scale, 3));
        if (m->triangle_count) {
            cJSON *mesh = cJSON_CreateObject(), *prims = cJSON_AddArrayToObject(mesh, "primitives");
            cJSON *prim = cJSON_CreateObject(), *attr = cJSON_AddObjectToObject(prim, "attributes");
            double mn[3], mx[3];
            uint64_t v, V = m->vertex_count, n3 = V * 3;
            int a;
            cJSON_AddStringToObject(mesh, "name", nm);
            for (k = 0; k < 3; ++k) mn[k] = mx[k] = m->positions[k];
            for (v = 0; v < V; ++v)
                for (k = 0; k < 3; ++k) {
                    double x = m->positions[3 * v + (uint64_t)k];
                    if (x < mn[k]) mn[k] = x;
                    if (x > mx[k]) mx[k] = x;
                }
            for (v = 0; v < n3; ++v) dvren__mio_f32le(buf + bin + 4 * v, m->positions[v]);
            a = dvren__mio_glb_accessor(views, accessors, bin, n3 * 4, 34962, 5126, (uint32_t)V, "VEC3");
            cJSON_AddItemToObject(cJSON_GetArrayItem(accessors, a), "min", dvren__mio_json_numbers(mn, 3));
            cJSON_AddItemToObject(cJSON_GetArrayItem(accessors, a), "max", dvren__mio_json_numbers(mx, 3));
            cJSON_AddNumberToObject(attr, "POSITION", a);
            bin += n3 * 4;
            if (m->normals) {
                for (v = 0; v < n3; ++v) dvren__mio_f32le(buf + bin + 4 * v, m->normals[v]);
                a = dvren__mio_glb_accessor(views, accessors, bin, n3 * 4, 34962, 5126, (uint32_t)V, "VEC3");
                cJSON_AddNumberToObject(attr, "NORMAL", a);
                bin += n3 * 4;
            }
            if (m->colors) {
                for (v = 0; v < n3; ++v) dvren__mio_f32le(buf + bin + 4 * v, m->colors[v]);
                a = dvren__mio_glb_accessor(views, accessors, bin, n3 * 4, 34962, 5126, (uint32_t)V, "VEC3");
                cJSON_AddNumberToObject(attr, "COLOR_0", a);
                bin += n3 * 4;
            }
            for (v = 0; v < (uint64_t)m->triangle_count * 3; ++v) dvren__mio_u32le(buf + bin + 4 * v, m->triangles[v]);
            a = dvren__mio_glb_accessor(views, accessors, bin, (uint64_t)m->triangle_count * 12, 34963, 5125,
                                        m->triangle_count * 3, "SCALAR");
            cJSON_AddNumberToObject(prim, "indices", a);
            bin += (uint64_t)m->triangle_count * 12;
            cJSON_AddNumberToObject(prim, "mode", 4);
            cJSON_AddItemToArray(prims, prim);
            cJSON_AddNumberToObject(node, "mesh", cJSON_GetArraySize(meshes));
            cJSON_AddItemToArray(meshes, mesh);
        }
        cJSON_AddItemToArray(nodes, node);
        if (!(flags & DVREN_MESH_IO_Z_UP)) cJSON_AddItemToArray(scene_nodes, cJSON_CreateNumber(i));
    }
    if (cJSON_GetArraySize(meshes)) {
        cJSON* b = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "meshes", meshes);
        cJSON_AddItemToObject(root, "accessors", accessors);
        cJSON_AddItemToObject(root, "bufferViews", views);
        cJSON_AddNumberToObject(b, "byteLength", (double)bin);
        tmp = cJSON_AddArrayToObject(root, "buffers");
        cJSON_AddItemToArray(tmp, b);
    } else {
        cJSON_Delete(meshes);
        cJSON_Delete(accessors);
        cJSON_Delete(views);
    }
    json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) {
        free(buf);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "glb: out of memory (JSON)");
    }
    jlen = strlen(json);
    jpad = (4 - jlen % 4) % 4;
    binpad = (4 - bin % 4) % 4;
    total = 12 + 8 + jlen + jpad + (bin ? 8 + bin + binpad : 0);
    if (total > 0xFFFFFFFFull) {
        free(buf);
        free(json);
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "mesh_io", NULL, "glb: %.0f bytes: a GLB holds less than 4 GiB", (double)total);
    }
    {
        unsigned char* out = (unsigned char*)malloc((size_t)total);
        unsigned char* p = out;
        if (!out) {
            free(buf);
            free(json);
            return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_io", NULL, "glb: cannot hold %.0f bytes", (double)total);
        }
        dvren__mio_u32le(p, DVREN__GLB_MAGIC);
        dvren__mio_u32le(p + 4, 2);
        dvren__mio_u32le(p + 8, (uint32_t)total);
        dvren__mio_u32le(p + 12, (uint32_t)(jlen + jpad));
        dvren__mio_u32le(p + 16, DVREN__GLB_JSON);
        p += 20;
        memcpy(p, json, (size_t)jlen);
        memset(p + jlen, ' ', (size_t)jpad);
        p += jlen + jpad;
        if (bin) {
            dvren__mio_u32le(p, (uint32_t)(bin + binpad));
            dvren__mio_u32le(p + 4, DVREN__GLB_BIN);
            memcpy(p + 8, buf, (size_t)bin);
            memset(p + 8 + bin, 0, (size_t)binpad);
        }
        free(buf);
        free(json);
        *data = out;
        *size = (size_t)total;
    }
    return DVREN_OK;
}

DVREN_API dvren_status dvren_mesh_glb_save(dvren_context* ctx, const char* path, const dvren_mesh_object* objects,
                                           uint32_t count, uint32_t flags)
{
    unsigned char* data;
    size_t size;
    dvren_status st;
    if (!path) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: path is NULL");
    st = dvren_mesh_glb_encode(ctx, objects, count, flags, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_file_write_atomic(ctx, path, data, size);
    free(data);
    return st;
}

/* The parser's state: the file's name, the JSON, the BIN chunk. */
typedef struct dvren__mio_glb {
    dvren_context* ctx;
    const char* name;
    cJSON* root;
    const unsigned char* bin;
    uint64_t bin_size;
    int has_bin;
} dvren__mio_glb;

/* An integer member key of obj into *out: 1 found, 0 absent (dflt), -1 error (set). */
static int dvren__mio_jint(dvren__mio_glb* g, const cJSON* obj, const char* where, const char* key, int required,
                           double lo, double hi, uint64_t dflt, uint64_t* out)
{
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char field[128];
    *out = dflt;
    snprintf(field, sizeof field, "%s.%s", where, key);
    if (!v) {
        if (!required) return 0;
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, field, "missing");
        return -1;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, field, "must be an integer in %.0f..%.0f", lo, hi);
        return -1;
    }
    *out = (uint64_t)v->valuedouble;
    return 1;
}

/* Item index of a top-level array ("accessors", ...), checked; NULL on error (set). */
static const cJSON* dvren__mio_jitem(dvren__mio_glb* g, const char* array, uint64_t index, const char* from)
{
    const cJSON* a = cJSON_GetObjectItemCaseSensitive(g->root, array);
    const cJSON* it;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (index >= (uint64_t)n) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, from, "refers to %s[%.0f], but the file has %d", array, (double)index, n);
        return NULL;
    }
    it = cJSON_GetArrayItem(a, (int)index);
    if (!cJSON_IsObject(it)) {
        char field[64];
        snprintf(field, sizeof field, "%s[%.0f]", array, (double)index);
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, field, "is not an object");
        return NULL;
    }
    return it;
}

/* A resolved accessor: count elements of ncomp components of type comp, the first at p, stride bytes apart. */
typedef struct dvren__mio_acc {
    const unsigned char* p;
    uint64_t count, stride;
    int comp, ncomp, normalized;
} dvren__mio_acc;

/* Resolves accessors[index] (named by from in messages), checking every offset against its view,
 * buffer and chunk. 0 ok, -1 error (set). */
static int dvren__mio_glb_acc(dvren__mio_glb* g, uint64_t index, const char* from, dvren__mio_acc* a)
{
    const cJSON *acc, *view, *buffer, *t;
    char where[64], vwhere[192], bwhere[192];
    uint64_t vi, bi, aoff, voff, vlen, vstride, blen, csize, esize, comp;
    static const char* types[7] = {"SCALAR", "VEC2", "VEC3", "VEC4", "MAT2", "MAT3", "MAT4"};
    static const int ncomps[7] = {1, 2, 3, 4, 4, 9, 16};
    int k;
    memset(a, 0, sizeof *a);
    if (!(acc = dvren__mio_jitem(g, "accessors", index, from))) return -1;
    snprintf(where, sizeof where, "accessors[%.0f]", (double)index);
    if (cJSON_GetObjectItemCaseSensitive(acc, "sparse")) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_UNSUPPORTED, where, "sparse accessors are not read");
        return -1;
    }
    if (dvren__mio_jint(g, acc, where, "componentType", 1, 5120, 5126, 0, &comp) < 0 ||
        dvren__mio_jint(g, acc, where, "count", 1, 1, 2147483648.0, 0, &a->count) < 0 ||
        dvren__mio_jint(g, acc, where, "byteOffset", 0, 0, 4294967295.0, 0, &aoff) < 0)
        return -1;
    if (comp == 5124) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "componentType 5124 is not a glTF type");
        return -1;
    }
    csize = comp <= 5121 ? 1 : comp <= 5123 ? 2 : 4;
    t = cJSON_GetObjectItemCaseSensitive(acc, "type");
    a->ncomp = 0;
    for (k = 0; k < 7 && cJSON_IsString(t); ++k)
        if (!strcmp(t->valuestring, types[k])) a->ncomp = ncomps[k];
    if (!a->ncomp) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "type must be one of SCALAR, VEC2..4, MAT2..4");
        return -1;
    }
    t = cJSON_GetObjectItemCaseSensitive(acc, "normalized");
    a->normalized = cJSON_IsTrue(t);
    a->comp = (int)comp;
    if (!cJSON_GetObjectItemCaseSensitive(acc, "bufferView")) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_UNSUPPORTED, where, "an accessor without a bufferView (all zeros) is not read");
        return -1;
    }
    if (dvren__mio_jint(g, acc, where, "bufferView", 1, 0, 2147483647.0, 0, &vi) < 0) return -1;
    snprintf(vwhere, sizeof vwhere, "%s.bufferView", where);
    if (!(view = dvren__mio_jitem(g, "bufferViews", vi, vwhere))) return -1;
    snprintf(vwhere, sizeof vwhere, "bufferViews[%.0f]", (double)vi);
    if (dvren__mio_jint(g, view, vwhere, "buffer", 1, 0, 2147483647.0, 0, &bi) < 0 ||
        dvren__mio_jint(g, view, vwhere, "byteOffset", 0, 0, 4294967295.0, 0, &voff) < 0 ||
        dvren__mio_jint(g, view, vwhere, "byteLength", 1, 1, 4294967295.0, 0, &vlen) < 0 ||
        dvren__mio_jint(g, view, vwhere, "byteStride", 0, 4, 252, 0, &vstride) < 0)
        return -1;
    snprintf(bwhere, sizeof bwhere, "%.120s.buffer", vwhere);
    if (!(buffer = dvren__mio_jitem(g, "buffers", bi, bwhere))) return -1;
    snprintf(bwhere, sizeof bwhere, "buffers[%.0f]", (double)bi);
    if (cJSON_GetObjectItemCaseSensitive(buffer, "uri")) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_UNSUPPORTED, bwhere, "a buffer with a uri (an external or data: buffer) is not read; only the GLB's BIN chunk");
        return -1;
    }
    if (bi != 0 || !g->has_bin) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, bwhere, "has no uri, but only buffer 0 can be the BIN chunk%s",
                        g->has_bin ? "" : " and the file has none");
        return -1;
    }
    if (dvren__mio_jint(g, buffer, bwhere, "byteLength", 1, 1, 4294967295.0, 0, &blen) < 0) return -1;
    if (blen > g->bin_size) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, bwhere, "byteLength %.0f is beyond the BIN chunk's %.0f bytes", (double)blen,
                        (double)g->bin_size);
        return -1;
    }
    if (voff + vlen > blen) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, vwhere, "bytes %.0f..%.0f are beyond its buffer's %.0f", (double)voff,
                        (double)(voff + vlen), (double)blen);
        return -1;
    }
    esize = csize * (uint64_t)a->ncomp;
    a->stride = vstride ? vstride : esize;
    if (a->stride < esize) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, vwhere, "byteStride %.0f is smaller than the %.0f-byte elements of %s",
                        (double)a->stride, (double)esize, where);
        return -1;
    }
    if (aoff + (a->count - 1) * a->stride + esize > vlen) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "%.0f elements from byte %.0f need %.0f bytes, beyond its bufferView's %.0f",
                        (double)a->count, (double)aoff, (double)(aoff + (a->count - 1) * a->stride + esize), (double)vlen);
        return -1;
    }
    a->p = g->bin + voff + aoff;
    return 0;
}

/* Component j of element i of a, as float (normalised integers mapped to [0, 1]). */
static float dvren__mio_acc_f(const dvren__mio_acc* a, uint64_t i, int j)
{
    const unsigned char* p = a->p + i * a->stride;
    switch (a->comp) {
    case 5126: return dvren__mio_rd_f32le(p + 4 * j);
    case 5121: return (float)p[j] / 255.0f;
    case 5123: return (float)((uint32_t)p[2 * j] | (uint32_t)p[2 * j + 1] << 8) / 65535.0f;
    default: return 0.0f;
    }
}

static uint32_t dvren__mio_acc_u(const dvren__mio_acc* a, uint64_t i)
{
    const unsigned char* p = a->p + i * a->stride;
    switch (a->comp) {
    case 5121: return p[0];
    case 5123: return (uint32_t)p[0] | (uint32_t)p[1] << 8;
    default: return dvren__mio_rd_u32le(p);
    }
}

/* Decodes glTF mesh index mi (used by node ni) into *out. 0 ok, -1 error (set). */
static int dvren__mio_glb_mesh(dvren__mio_glb* g, uint64_t mi, uint64_t ni, dvren_mesh* out)
{
    const cJSON *mesh, *prims, *prim;
    char from[64], where[96];
    uint64_t V = 0, T = 0, v0 = 0, t0 = 0, np, p;
    int normals = 1, colors = 1, pass;
    snprintf(from, sizeof from, "nodes[%.0f].mesh", (double)ni);
    if (!(mesh = dvren__mio_jitem(g, "meshes", mi, from))) return -1;
    prims = cJSON_GetObjectItemCaseSensitive(mesh, "primitives");
    snprintf(where, sizeof where, "meshes[%.0f].primitives", (double)mi);
    if (!cJSON_IsArray(prims) || cJSON_GetArraySize(prims) < 1) {
        dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "must be a non-empty array");
        return -1;
    }
    np = (uint64_t)cJSON_GetArraySize(prims);
    /* pass 0 checks and counts, pass 1 fills */
    for (pass = 0; pass < 2; ++pass) {
        v0 = t0 = 0;
        for (p = 0; p < np; ++p) {
            const cJSON* attr;
            dvren__mio_acc pos, nrm, col, idx;
            uint64_t mode, ai, i, n;
            int has_n = 0, has_c = 0, has_i = 0, k;
            prim = cJSON_GetArrayItem(prims, (int)p);
            snprintf(where, sizeof where, "meshes[%.0f].primitives[%.0f]", (double)mi, (double)p);
            if (!cJSON_IsObject(prim)) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "is not an object");
                return -1;
            }
            if (dvren__mio_jint(g, prim, where, "mode", 0, 0, 6, 4, &mode) < 0) return -1;
            if (mode != 4) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_UNSUPPORTED, where, "mode %.0f: only 4 (TRIANGLES) is read", (double)mode);
                return -1;
            }
            attr = cJSON_GetObjectItemCaseSensitive(prim, "attributes");
            if (!cJSON_IsObject(attr)) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "no attributes object");
                return -1;
            }
            snprintf(from, sizeof from, "%.40s.attributes", where);
            if (dvren__mio_jint(g, attr, from, "POSITION", 1, 0, 2147483647.0, 0, &ai) < 0) return -1;
            snprintf(from, sizeof from, "%.40s.attributes.POSITION", where);
            if (dvren__mio_glb_acc(g, ai, from, &pos) < 0) return -1;
            if (pos.comp != 5126 || pos.ncomp != 3) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_UNSUPPORTED, from, "must be float VEC3 (accessors[%.0f])", (double)ai);
                return -1;
            }
            snprintf(from, sizeof from, "%.40s.attributes", where);
            if ((has_n = dvren__mio_jint(g, attr, from, "NORMAL", 0, 0, 2147483647.0, 0, &ai)) < 0) return -1;
            snprintf(from, sizeof from, "%.40s.attributes.NORMAL", where);
            if (has_n && dvren__mio_glb_acc(g, ai, from, &nrm) < 0) return -1;
            if (has_n && (nrm.comp != 5126 || nrm.ncomp != 3 || nrm.count != pos.count)) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, from, "must be float VEC3 with POSITION's count %.0f", (double)pos.count);
                return -1;
            }
            snprintf(from, sizeof from, "%.40s.attributes", where);
            if ((has_c = dvren__mio_jint(g, attr, from, "COLOR_0", 0, 0, 2147483647.0, 0, &ai)) < 0) return -1;
            snprintf(from, sizeof from, "%.40s.attributes.COLOR_0", where);
            if (has_c && dvren__mio_glb_acc(g, ai, from, &col) < 0) return -1;
            if (has_c && (!(col.comp == 5126 || ((col.comp == 5121 || col.comp == 5123) && col.normalized)) ||
                          (col.ncomp != 3 && col.ncomp != 4) || col.count != pos.count)) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_UNSUPPORTED, from,
                                "must be float or normalised unsigned byte/short, VEC3 or VEC4, with POSITION's count");
                return -1;
            }
            if ((has_i = dvren__mio_jint(g, prim, where, "indices", 0, 0, 2147483647.0, 0, &ai)) < 0) return -1;
            snprintf(from, sizeof from, "%.40s.indices", where);
            if (has_i && dvren__mio_glb_acc(g, ai, from, &idx) < 0) return -1;
            if (has_i && ((idx.comp != 5121 && idx.comp != 5123 && idx.comp != 5125) || idx.ncomp != 1)) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, from, "must be unsigned byte, short or int SCALAR");
                return -1;
            }
            n = has_i ? idx.count : pos.count;
            if (n % 3) {
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, from, "%.0f indices: not a multiple of 3 (TRIANGLES)", (double)n);
                return -1;
            }
            if (pass == 0) {
                if (has_i)
                    for (i = 0; i < n; ++i)
                        if (dvren__mio_acc_u(&idx, i) >= pos.count) {
                            dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, from, "index %u (element %.0f) is beyond POSITION's %.0f vertices",
                                            dvren__mio_acc_u(&idx, i), (double)i, (double)pos.count);
                            return -1;
                        }
                for (i = 0; i < pos.count; ++i)
                    for (k = 0; k < 3; ++k)
                        if (!isfinite(dvren__mio_acc_f(&pos, i, k))) {
                            dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, from, "vertex %.0f is not finite", (double)i);
                            return -1;
                        }
                V += pos.count;
                T += n / 3;
                normals &= has_n;
                colors &= has_c;
            } else {
                for (i = 0; i < pos.count; ++i)
                    for (k = 0; k < 3; ++k) {
                        out->positions[3 * (v0 + i) + (uint64_t)k] = dvren__mio_acc_f(&pos, i, k);
                        if (out->normals) {
                            float f = dvren__mio_acc_f(&nrm, i, k);
                            out->normals[3 * (v0 + i) + (uint64_t)k] = isfinite(f) ? f : 0.0f;
                        }
                        if (out->colors) {
                            float f = dvren__mio_acc_f(&col, i, k);
                            out->colors[3 * (v0 + i) + (uint64_t)k] = isfinite(f) ? (f < 0 ? 0 : f > 1 ? 1 : f) : 0.0f;
                        }
                    }
                for (i = 0; i < n; ++i)
                    out->triangles[3 * t0 + i] = (uint32_t)(v0 + (has_i ? dvren__mio_acc_u(&idx, i) : i));
            }
            v0 += pos.count;
            t0 += n / 3;
        }
        if (pass == 0) {
            if (dvren__mio_alloc(g->ctx, g->name, V, T, normals, colors, out) != DVREN_OK) return -1;
        }
    }
    return 0;
}

DVREN_API void dvren_mesh_glb_free(dvren_context* ctx, dvren_mesh_glb* g)
{
    uint32_t i;
    if (!g) return;
    for (i = 0; i < g->count; ++i) {
        dvren_mesh_free(ctx, &g->objects[i].mesh);
        free(g->objects[i].name);
    }
    free(g->objects);
    memset(g, 0, sizeof *g);
}

/* A node's local transform and TRS; 0 ok, -1 error (set). */
static int dvren__mio_glb_local(dvren__mio_glb* g, const cJSON* node, uint64_t ni, dvren_mesh_glb_object* o)
{
    static const char* keys[4] = {"matrix", "translation", "rotation", "scale"};
    static const int lens[4] = {16, 3, 4, 3};
    double vals[4][16];
    int have[4], k, i;
    char where[64];
    snprintf(where, sizeof where, "nodes[%.0f]", (double)ni);
    for (k = 0; k < 4; ++k) {
        const cJSON* a = cJSON_GetObjectItemCaseSensitive(node, keys[k]);
        have[k] = a != NULL;
        if (!a) continue;
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != lens[k]) {
            char f[96];
            snprintf(f, sizeof f, "%s.%s", where, keys[k]);
            dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, f, "must be an array of %d numbers", lens[k]);
            return -1;
        }
        for (i = 0; i < lens[k]; ++i) {
            const cJSON* x = cJSON_GetArrayItem(a, i);
            if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
                char f[96];
                snprintf(f, sizeof f, "%s.%s[%d]", where, keys[k], i);
                dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, f, "is not a finite number");
                return -1;
            }
            vals[k][i] = x->valuedouble;
        }
    }
    o->translation[0] = o->translation[1] = o->translation[2] = 0;
    o->rotation[0] = o->rotation[1] = o->rotation[2] = 0;
    o->rotation[3] = 1;
    o->scale[0] = o->scale[1] = o->scale[2] = 1;
    if (have[0]) {
        if (have[1] || have[2] || have[3]) {
            dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, where, "has both matrix and translation/rotation/scale");
            return -1;
        }
        o->has_matrix = 1;
        memcpy(o->local, vals[0], sizeof o->local);
        return 0;
    }
    if (have[1]) memcpy(o->translation, vals[1], sizeof o->translation);
    if (have[2]) memcpy(o->rotation, vals[2], sizeof o->rotation);
    if (have[3]) memcpy(o->scale, vals[3], sizeof o->scale);
    if (have[2]) {
        double n = sqrt(vals[2][0] * vals[2][0] + vals[2][1] * vals[2][1] + vals[2][2] * vals[2][2] + vals[2][3] * vals[2][3]);
        if (!(n > 0)) {
            char f[96];
            snprintf(f, sizeof f, "%s.rotation", where);
            dvren__mio_fail(g->ctx, g->name, DVREN_ERROR_FORMAT, f, "is the zero quaternion");
            return -1;
        }
    }
    if (have[1] || have[2] || have[3]) dvren_mesh_trs_matrix(o->translation, o->rotation, o->scale, o->local);
    else dvren__mio_identity(o->local);
    return 0;
}

#define DVREN__GLB_FAIL_ST(st_, fld, ...)                            \
    do {                                                             \
        st = dvren__mio_fail(ctx, name, (st_), (fld), __VA_ARGS__);  \
        goto cleanup;                                                \
    } while (0)

DVREN_API dvren_status dvren_mesh_glb_parse(dvren_context* ctx, const void* data, size_t size, const char* name,
                                            uint32_t flags, dvren_mesh_glb* out)
{
    const unsigned char* b = (const unsigned char*)data;
    dvren__mio_glb g;
    uint32_t total, jlen, cpos;
    const cJSON *nodes, *scenes, *roots = NULL, *ext;
    uint64_t nn = 0, nr = 0, i;
    uint64_t* stack = NULL;   /* node indices to visit */
    int64_t* parent = NULL;   /* the parent of each visited node, -1 for roots */
    double* world = NULL;     /* 16 per node */
    unsigned char* seen = NULL;
    uint64_t* root_list = NULL;
    size_t sp = 0;
    int drop_root = -1;
    dvren_status st = DVREN_OK;
    const char* end_ptr = NULL;
    if (!name) name = "<memory>";
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: data is NULL");
    if (flags & ~DVREN_MESH_IO_Z_UP) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: unknown flags 0x%x", flags);
    memset(&g, 0, sizeof g);
    g.ctx = ctx;
    g.name = name;
    /* ---- header and chunks (glTF 2.0, section 4) ---- */
    if (size < 12 || dvren__mio_rd_u32le(b) != DVREN__GLB_MAGIC)
        return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "header", "the file does not start with the magic \"glTF\"");
    if (dvren__mio_rd_u32le(b + 4) != 2)
        return dvren__mio_fail(ctx, name, DVREN_ERROR_UNSUPPORTED, "header", "version %u (only glTF 2 is read)", dvren__mio_rd_u32le(b + 4));
    total = dvren__mio_rd_u32le(b + 8);
    if (total != size)
        return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "header", "length %u, but the file has %.0f bytes (%s)", total, (double)size,
                               total > size ? "truncated" : "trailing data");
    if (size < 20) return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "chunk 0", "truncated: no JSON chunk header");
    jlen = dvren__mio_rd_u32le(b + 12);
    if (dvren__mio_rd_u32le(b + 16) != DVREN__GLB_JSON)
        return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "chunk 0", "type 0x%08x, the first chunk must be JSON (0x4E4F534A)", dvren__mio_rd_u32le(b + 16));
    if ((uint64_t)jlen > size - 20)
        return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "chunk 0", "chunkLength %u is beyond the file's end (%.0f bytes left)", jlen,
                               (double)(size - 20));
    cpos = 20 + jlen;
    while ((uint64_t)cpos < size) {
        uint32_t clen, ctype;
        char f[32];
        snprintf(f, sizeof f, "chunk at byte %u", cpos);
        if (size - cpos < 8) return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, f, "truncated: %.0f bytes, a chunk header needs 8", (double)(size - cpos));
        clen = dvren__mio_rd_u32le(b + cpos);
        ctype = dvren__mio_rd_u32le(b + cpos + 4);
        if ((uint64_t)clen > size - cpos - 8)
            return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, f, "chunkLength %u is beyond the file's end (%.0f bytes left)", clen,
                                   (double)(size - cpos - 8));
        if (ctype == DVREN__GLB_BIN) {
            if (g.has_bin) return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, f, "a second BIN chunk");
            g.has_bin = 1;
            g.bin = b + cpos + 8;
            g.bin_size = clen;
        }
        /* chunks of other types are skipped, as the spec asks */
        cpos += 8 + clen;
    }
    g.root = cJSON_ParseWithLengthOpts((const char*)b + 20, jlen, &end_ptr, 0);
    if (!g.root || !cJSON_IsObject(g.root)) {
        size_t at = end_ptr ? (size_t)(end_ptr - (const char*)b - 20) : 0;
        cJSON_Delete(g.root);
        return dvren__mio_fail(ctx, name, DVREN_ERROR_FORMAT, "JSON chunk", "not a JSON object (error near byte %.0f of the chunk)", (double)at);
    }
    {
        const cJSON* asset = cJSON_GetObjectItemCaseSensitive(g.root, "asset");
        const cJSON* ver = cJSON_GetObjectItemCaseSensitive(asset, "version");
        if (!cJSON_IsString(ver)) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, "asset.version", "missing (glTF requires asset.version)");
        if (strncmp(ver->valuestring, "2.", 2) != 0) DVREN__GLB_FAIL_ST(DVREN_ERROR_UNSUPPORTED, "asset.version", "'%.20s' (only 2.x is read)", ver->valuestring);
    }
    ext = cJSON_GetObjectItemCaseSensitive(g.root, "extensionsRequired");
    if (cJSON_IsArray(ext) && cJSON_GetArraySize(ext) > 0) {
        const cJSON* e0 = cJSON_GetArrayItem(ext, 0);
        DVREN__GLB_FAIL_ST(DVREN_ERROR_UNSUPPORTED, "extensionsRequired", "'%.60s' is required, and this reader supports no extension",
                           cJSON_IsString(e0) ? e0->valuestring : "?");
    }
    nodes = cJSON_GetObjectItemCaseSensitive(g.root, "nodes");
    if (nodes && !cJSON_IsArray(nodes)) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, "nodes", "is not an array");
    nn = nodes ? (uint64_t)cJSON_GetArraySize(nodes) : 0;
    if (nn == 0) goto cleanup; /* no nodes: no objects */
    stack = (uint64_t*)malloc((size_t)nn * sizeof *stack);
    parent = (int64_t*)malloc((size_t)nn * sizeof *parent);
    world = (double*)malloc((size_t)nn * 16 * sizeof *world);
    seen = (unsigned char*)calloc((size_t)nn, 1);
    root_list = (uint64_t*)malloc((size_t)nn * sizeof *root_list);
    out->objects = (dvren_mesh_glb_object*)calloc((size_t)nn, sizeof *out->objects);
    if (!stack || !parent || !world || !seen || !root_list || !out->objects) DVREN__GLB_FAIL_ST(DVREN_ERROR_OUT_OF_MEMORY, "nodes", "out of memory");
    /* ---- the roots: scenes[scene].nodes, else every node that is nobody's child ---- */
    scenes = cJSON_GetObjectItemCaseSensitive(g.root, "scenes");
    if (cJSON_IsArray(scenes) && cJSON_GetArraySize(scenes) > 0) {
        uint64_t s;
        const cJSON* sc;
        if (dvren__mio_jint(&g, g.root, "root", "scene", 0, 0, cJSON_GetArraySize(scenes) - 1, 0, &s) < 0) {
            st = dvren_last_status(ctx);
            goto cleanup;
        }
        sc = cJSON_GetArrayItem(scenes, (int)s);
        roots = cJSON_GetObjectItemCaseSensitive(sc, "nodes");
        if (roots && !cJSON_IsArray(roots)) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, "scenes.nodes", "is not an array");
        for (i = 0; roots && i < (uint64_t)cJSON_GetArraySize(roots); ++i) {
            const cJSON* x = cJSON_GetArrayItem(roots, (int)i);
            if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < 0 || x->valuedouble >= (double)nn)
                DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, "scenes.nodes", "item %.0f is not a node index below %.0f", (double)i, (double)nn);
            if (nr == nn) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, "scenes.nodes", "more roots than nodes");
            root_list[nr++] = (uint64_t)x->valuedouble;
        }
    } else {
        /* mark children, then take the rest in order */
        for (i = 0; i < nn; ++i) {
            const cJSON* ch = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(nodes, (int)i), "children");
            int c;
            for (c = 0; cJSON_IsArray(ch) && c < cJSON_GetArraySize(ch); ++c) {
                const cJSON* x = cJSON_GetArrayItem(ch, c);
                if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble < (double)nn) seen[(uint64_t)x->valuedouble] = 1;
            }
        }
        for (i = 0; i < nn; ++i)
            if (!seen[i]) root_list[nr++] = i;
        memset(seen, 0, (size_t)nn);
    }
    /* dvren's own Z-up root, recognised for DVREN_MESH_IO_Z_UP */
    if ((flags & DVREN_MESH_IO_Z_UP) && nr == 1) {
        const cJSON* r = cJSON_GetArrayItem(nodes, (int)root_list[0]);
        const cJSON* nm = cJSON_GetObjectItemCaseSensitive(r, "name");
        const cJSON* rot = cJSON_GetObjectItemCaseSensitive(r, "rotation");
        if (cJSON_IsString(nm) && !strcmp(nm->valuestring, DVREN__GLB_Z_UP_NAME) && !cJSON_GetObjectItemCaseSensitive(r, "mesh") &&
            !cJSON_GetObjectItemCaseSensitive(r, "matrix") && !cJSON_GetObjectItemCaseSensitive(r, "translation") &&
            !cJSON_GetObjectItemCaseSensitive(r, "scale") && cJSON_IsArray(rot) && cJSON_GetArraySize(rot) == 4) {
            static const double q[4] = {-0.70710678118654752440, 0.0, 0.0, 0.70710678118654752440};
            int k, ok = 1;
            for (k = 0; k < 4; ++k) {
                const cJSON* x = cJSON_GetArrayItem(rot, k);
                ok &= cJSON_IsNumber(x) && fabs(x->valuedouble - q[k]) < 1e-9;
            }
            if (ok) drop_root = (int)root_list[0];
        }
    }
    /* ---- depth first, roots in order, children in order ---- */
    for (i = nr; i-- > 0;) {
        stack[sp++] = root_list[i];
        parent[root_list[i]] = -1;
    }
    while (sp) {
        uint64_t ni = stack[--sp], mi;
        const cJSON* node = cJSON_GetArrayItem(nodes, (int)ni);
        const cJSON *ch, *nm;
        dvren_mesh_glb_object o;
        double* w = world + 16 * ni;
        char where[48];
        int has_mesh, c;
        snprintf(where, sizeof where, "nodes[%.0f]", (double)ni);
        if (seen[ni]) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, where, "is reached twice (a cycle, or a node with two parents)");
        seen[ni] = 1;
        if (!cJSON_IsObject(node)) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, where, "is not an object");
        memset(&o, 0, sizeof o);
        if (dvren__mio_glb_local(&g, node, ni, &o) < 0) {
            st = dvren_last_status(ctx);
            goto cleanup;
        }
        if ((int64_t)ni == drop_root) {
            dvren__mio_identity(w);
        } else if (parent[ni] >= 0) {
            dvren__mio_matmul(world + 16 * parent[ni], o.local, w);
            if (dvren__mio_is_identity(world + 16 * parent[ni])) memcpy(w, o.local, sizeof o.local);
        } else if (flags & DVREN_MESH_IO_Z_UP) {
            /* (x, y, z) -> (x, -z, y) exactly: rows of the local matrix permuted */
            int col;
            for (col = 0; col < 4; ++col) {
                w[4 * col + 0] = o.local[4 * col + 0];
                w[4 * col + 1] = -o.local[4 * col + 2];
                w[4 * col + 2] = o.local[4 * col + 1];
                w[4 * col + 3] = o.local[4 * col + 3];
            }
        } else {
            memcpy(w, o.local, sizeof o.local);
        }
        memcpy(o.world, w, sizeof o.world);
        if ((has_mesh = dvren__mio_jint(&g, node, where, "mesh", 0, 0, 2147483647.0, 0, &mi)) < 0) {
            st = dvren_last_status(ctx);
            goto cleanup;
        }
        if (has_mesh) {
            nm = cJSON_GetObjectItemCaseSensitive(node, "name");
            o.name = (char*)malloc(cJSON_IsString(nm) ? strlen(nm->valuestring) + 1 : 1);
            if (!o.name) DVREN__GLB_FAIL_ST(DVREN_ERROR_OUT_OF_MEMORY, where, "out of memory");
            strcpy(o.name, cJSON_IsString(nm) ? nm->valuestring : "");
            out->objects[out->count++] = o; /* owned by out from here on */
            if (dvren__mio_glb_mesh(&g, mi, ni, &out->objects[out->count - 1].mesh) < 0) {
                st = dvren_last_status(ctx);
                goto cleanup;
            }
        }
        ch = cJSON_GetObjectItemCaseSensitive(node, "children");
        if (ch && !cJSON_IsArray(ch)) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, where, "children is not an array");
        for (c = ch ? cJSON_GetArraySize(ch) : 0; c-- > 0;) {
            const cJSON* x = cJSON_GetArrayItem(ch, c);
            uint64_t ci;
            if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < 0 || x->valuedouble >= (double)nn)
                DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, where, "children[%d] is not a node index below %.0f", c, (double)nn);
            ci = (uint64_t)x->valuedouble;
            if (seen[ci] || sp == nn) DVREN__GLB_FAIL_ST(DVREN_ERROR_FORMAT, where, "child %.0f is reached twice (a cycle, or two parents)", (double)ci);
            parent[ci] = (int64_t)ni;
            stack[sp++] = ci;
        }
    }
cleanup:
    cJSON_Delete(g.root);
    free(stack);
    free(parent);
    free(world);
    free(seen);
    free(root_list);
    if (st != DVREN_OK) dvren_mesh_glb_free(ctx, out);
    else if (out->count == 0) {
        free(out->objects);
        out->objects = NULL;
    }
    return st;
}

DVREN_API dvren_status dvren_mesh_glb_load(dvren_context* ctx, const char* path, uint32_t flags, dvren_mesh_glb* out)
{
    unsigned char* data;
    size_t size;
    dvren_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "glb: out is NULL");
    st = dvren__mio_read(ctx, path, &data, &size);
    if (st != DVREN_OK) return st;
    st = dvren_mesh_glb_parse(ctx, data, size, path, flags, out);
    free(data);
    return st;
}
#undef DVREN__GLB_FAIL_ST

/* ---- dispatch -------------------------------------------------------------- */

DVREN_API dvren_status dvren_mesh_save(dvren_context* ctx, const char* path, const dvren_mesh* mesh, uint32_t flags)
{
    dvren_mesh_format f = dvren_mesh_format_of(path);
    if (!path || !mesh) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "save: NULL argument");
    if (flags & ~DVREN_MESH_IO_Z_UP) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "save: unknown flags 0x%x", flags);
    if (f == DVREN_MESH_FORMAT_OBJ) return dvren_mesh_obj_save(ctx, path, mesh, "mesh");
    if (f == DVREN_MESH_FORMAT_PLY) return dvren_mesh_ply_save(ctx, path, mesh);
    if (f == DVREN_MESH_FORMAT_GLB) {
        /* the object is named after the file: "out/head.glb" -> "head" */
        dvren_mesh_object o;
        char stem[128];
        const char* base = strrchr(path, '/');
        size_t n;
        base = base ? base + 1 : path;
        n = strlen(base) - 4;
        if (n == 0) base = "mesh", n = 4;
        if (n >= sizeof stem) n = sizeof stem - 1;
        memcpy(stem, base, n);
        stem[n] = 0;
        memset(&o, 0, sizeof o);
        o.name = stem;
        o.mesh = mesh;
        return dvren_mesh_glb_save(ctx, path, &o, 1, flags);
    }
    return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL,
                           "save: '%s': unknown extension (.obj, .ply or .glb)", path);
}

DVREN_API dvren_status dvren_mesh_load(dvren_context* ctx, const char* path, uint32_t flags, dvren_mesh* out)
{
    dvren_mesh_format f = dvren_mesh_format_of(path);
    dvren_mesh_glb g;
    dvren_status st;
    uint64_t V = 0, T = 0, v0 = 0, t0 = 0;
    uint32_t i;
    int normals = 1, colors = 1;
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "load: NULL argument");
    if (flags & ~DVREN_MESH_IO_Z_UP) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "load: unknown flags 0x%x", flags);
    if (f == DVREN_MESH_FORMAT_OBJ) return dvren_mesh_obj_load(ctx, path, out);
    if (f == DVREN_MESH_FORMAT_PLY) return dvren_mesh_ply_load(ctx, path, out);
    if (f != DVREN_MESH_FORMAT_GLB)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_io", NULL, "load: '%s': unknown extension (.obj, .ply or .glb)", path);
    st = dvren_mesh_glb_load(ctx, path, flags, &g);
    if (st != DVREN_OK) return st;
    for (i = 0; i < g.count; ++i) {
        dvren_mesh* m = &g.objects[i].mesh;
        if (!dvren__mio_is_identity(g.objects[i].world) && (st = dvren_mesh_transform(ctx, m, g.objects[i].world)) != DVREN_OK) {
            dvren_mesh_glb_free(ctx, &g);
            return st;
        }
        V += m->vertex_count;
        T += m->triangle_count;
        normals &= m->normals != NULL;
        colors &= m->colors != NULL;
    }
    if (!g.count) normals = colors = 0;
    st = dvren__mio_alloc(ctx, path, V, T, normals, colors, out);
    if (st != DVREN_OK) {
        dvren_mesh_glb_free(ctx, &g);
        return st;
    }
    for (i = 0; i < g.count; ++i) {
        const dvren_mesh* m = &g.objects[i].mesh;
        uint64_t k;
        if (m->vertex_count) {
            memcpy(out->positions + 3 * v0, m->positions, (size_t)m->vertex_count * 3 * sizeof(float));
            if (normals) memcpy(out->normals + 3 * v0, m->normals, (size_t)m->vertex_count * 3 * sizeof(float));
            if (colors) memcpy(out->colors + 3 * v0, m->colors, (size_t)m->vertex_count * 3 * sizeof(float));
        }
        for (k = 0; k < (uint64_t)m->triangle_count * 3; ++k) out->triangles[3 * t0 + k] = (uint32_t)(m->triangles[k] + v0);
        v0 += m->vertex_count;
        t0 += m->triangle_count;
    }
    dvren_mesh_glb_free(ctx, &g);
    return DVREN_OK;
}

#endif /* DVREN_MESH_IO_IMPLEMENTATION_ONCE */
#endif /* DVREN_MESH_IO_IMPLEMENTATION */
