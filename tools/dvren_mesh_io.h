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
 * every v has them. Faces take the forms v, v/vt, v//vn and v/vt/vn (mixed
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
 * "vertex": x y z (float or double) required; nx ny nz (float or double,
 * all three or none) and red green blue (all three or none: uchar, taken
 * as value / 255, or float/double, taken as is) optional; any other
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
/* OBJ lines longer than this (bytes) are refused; PLY header lines too. */
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

/* Encodes mesh as Wavefront OBJ text into a malloc'ed block (*data, *size;
 * free with free()): a comment line, "o <object_name>" when object_name is
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
