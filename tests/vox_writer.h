/* tests/vox_writer.h - a small MagicaVoxel .vox writer for tests (the
 * tests' own, independent of tools/dvren_vox.h), following
 * ephtracy/voxel-model's "MagicaVoxel-file-format-vox.txt" and its scene
 * graph extension: chunks are a 4-byte id, int32 content bytes, int32
 * children bytes (little-endian). Build the MAIN chunk's children in one
 * vbuf with vb_size / vb_xyzi / vb_trn / vb_grp / vb_shp (or vb_chunk for
 * any chunk), then vb_file wraps them into a whole file. A vbuf holds at
 * most sizeof b bytes; n counts what was asked for, so n > sizeof b says
 * the buffer overflowed (the caller checks). Static inline: include it in
 * any number of test files. */
#ifndef DVREN_TEST_VOX_WRITER_H
#define DVREN_TEST_VOX_WRITER_H

#include <stdint.h>
#include <string.h>

typedef struct vbuf {
    unsigned char b[8192];
    size_t n;
} vbuf;

static inline void vb_bytes(vbuf* v, const void* p, size_t n)
{
    if (v->n + n <= sizeof v->b) memcpy(v->b + v->n, p, n);
    v->n += n;
}
static inline void vb_i32(vbuf* v, int32_t x)
{
    unsigned char q[4];
    uint32_t u = (uint32_t)x;
    q[0] = (unsigned char)(u & 0xff);
    q[1] = (unsigned char)((u >> 8) & 0xff);
    q[2] = (unsigned char)((u >> 16) & 0xff);
    q[3] = (unsigned char)((u >> 24) & 0xff);
    vb_bytes(v, q, 4);
}
static inline void vb_str(vbuf* v, const char* s)
{
    vb_i32(v, (int32_t)strlen(s));
    vb_bytes(v, s, strlen(s));
}
/* a chunk with content c (n bytes) and no children */
static inline void vb_chunk(vbuf* v, const char* id, const vbuf* c)
{
    vb_bytes(v, id, 4);
    vb_i32(v, (int32_t)c->n);
    vb_i32(v, 0);
    vb_bytes(v, c->b, c->n);
}
/* "VOX " 150, MAIN with children kids */
static inline void vb_file(vbuf* out, const vbuf* kids)
{
    out->n = 0;
    vb_bytes(out, "VOX ", 4);
    vb_i32(out, 150);
    vb_bytes(out, "MAIN", 4);
    vb_i32(out, 0);
    vb_i32(out, (int32_t)kids->n);
    vb_bytes(out, kids->b, kids->n);
}
static inline void vb_size(vbuf* kids, int x, int y, int z)
{
    vbuf c = {{0}, 0};
    vb_i32(&c, x);
    vb_i32(&c, y);
    vb_i32(&c, z);
    vb_chunk(kids, "SIZE", &c);
}
/* n voxels, 4 bytes each in xyzc */
static inline void vb_xyzi(vbuf* kids, const unsigned char* xyzc, int n)
{
    vbuf c = {{0}, 0};
    vb_i32(&c, n);
    vb_bytes(&c, xyzc, 4 * (size_t)n);
    vb_chunk(kids, "XYZI", &c);
}
/* nTRN: id, no attributes, child, reserved -1, layer 0, one frame with _r / _t when given */
static inline void vb_trn(vbuf* kids, int id, int child, const char* r, const char* t)
{
    vbuf c = {{0}, 0};
    vb_i32(&c, id);
    vb_i32(&c, 0);
    vb_i32(&c, child);
    vb_i32(&c, -1);
    vb_i32(&c, 0);
    vb_i32(&c, 1);
    vb_i32(&c, (r ? 1 : 0) + (t ? 1 : 0));
    if (r) {
        vb_str(&c, "_r");
        vb_str(&c, r);
    }
    if (t) {
        vb_str(&c, "_t");
        vb_str(&c, t);
    }
    vb_chunk(kids, "nTRN", &c);
}
static inline void vb_grp(vbuf* kids, int id, const int* ch, int n)
{
    vbuf c = {{0}, 0};
    int i;
    vb_i32(&c, id);
    vb_i32(&c, 1); /* one attribute, ignored */
    vb_str(&c, "_name");
    vb_str(&c, "g");
    vb_i32(&c, n);
    for (i = 0; i < n; ++i) vb_i32(&c, ch[i]);
    vb_chunk(kids, "nGRP", &c);
}
static inline void vb_shp(vbuf* kids, int id, int model)
{
    vbuf c = {{0}, 0};
    vb_i32(&c, id);
    vb_i32(&c, 0);
    vb_i32(&c, 1);
    vb_i32(&c, model);
    vb_i32(&c, 0);
    vb_chunk(kids, "nSHP", &c);
}

#endif /* DVREN_TEST_VOX_WRITER_H */
