/* tools/dvren_npz.h - the zip archive walker behind dvren's .npz readers
 * (numpy.savez / numpy.savez_compressed write a zip of .npy members). The
 * zip records only: the end of central directory record, the central
 * directory's member records, the local header in front of a member's
 * data, the CRC-32; decompression is the caller's (dense_grid streams
 * deflated members through zlib; dvren_npz_member below takes stored
 * members only). Depends on the C library only; no global state, no
 * printing, no exit: usable inside plugins (dense_grid includes it).
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_NPZ_IMPLEMENTATION
 *     #include "dvren_npz.h"
 * Other files include it without the define (declarations only).
 *
 * Two levels:
 *   - records, for a reader that streams the file (dense_grid_io.c): find
 *     the end of central directory in the file's last bytes
 *     (dvren_zip_find_eocd), look a member up in the central directory
 *     (dvren_zip_find), find its data after its local header
 *     (dvren_zip_data_offset), check its CRC-32 (dvren_crc32);
 *   - a whole archive in memory (tools/dvren_splat_npz.h):
 *       dvren_npz z;
 *       if (dvren_npz_open(&z, bytes, n, "scene.npz") != 0) { ...z.error... }
 *       if (dvren_npz_member(&z, "means3d", &data, &size, NULL) != 0) { ...z.error... }
 *       ... data[0 .. size) are the member's .npy bytes (tools/dvren_npy.h parses them)
 *
 * The format (PKWARE, APPNOTE.TXT 6.3.x): 4.3.16 the end of central
 * directory record (signature 0x06054b50, 22 bytes and a comment of at
 * most 65535 bytes, last in the file: entries at +10, directory size at
 * +12, its offset at +16); 4.3.12 central directory file headers
 * (0x02014b50, 46 bytes then name, extra field, comment: flags +8, method
 * +10, CRC-32 +16, compressed size +20, uncompressed size +24, name length
 * +28, extra length +30, comment length +32, local header offset +42);
 * 4.5.3 the zip64 extended information extra field (id 1: the 64-bit
 * uncompressed size, compressed size and offset, each present only when
 * its 32-bit field holds 0xFFFFFFFF, in that order); 4.3.7 local file
 * headers (0x04034b50, 30 bytes, name length +26, extra length +28, then
 * the data). CRC-32: ISO 3309 / ITU-T V.42, the reflected polynomial
 * 0xEDB88320, initial and final XOR 0xFFFFFFFF (zlib's crc32()).
 *
 * Not done here: zip64 end records (archives over 4 GiB or 65535 members),
 * encryption, multi-disk archives, decompression. */
#ifndef DVREN_NPZ_H
#define DVREN_NPZ_H

#include <stddef.h>
#include <stdint.h>

/* The end of central directory record and its comment fit in this many
 * bytes: read at most this many from the end of a file. */
#define DVREN_ZIP_TAIL_MAX ((size_t)22 + 65535)

/* Return values of dvren_zip_find_eocd. */
#define DVREN_ZIP_OK 0
#define DVREN_ZIP_NOT_ZIP (-1)  /* no end of central directory record */
#define DVREN_ZIP_ZIP64 (-2)    /* a zip64 archive (over 4 GiB or 65535 members): not read */
#define DVREN_ZIP_CD_OUTSIDE (-3) /* the central directory lies outside the file */

/* Where the central directory is. */
typedef struct dvren_zip_eocd {
    uint32_t entries;     /* members in the directory */
    uint64_t cd_size;     /* its bytes */
    uint64_t cd_offset;   /* its first byte's offset in the file */
    uint64_t eocd_offset; /* the end record's offset in the file */
} dvren_zip_eocd;

/* One member as the central directory describes it. */
typedef struct dvren_zip_entry {
    char name[256];        /* its name (NUL-terminated; longer names are never matched) */
    uint32_t method;       /* 0 stored, 8 deflate, ... */
    uint32_t flags;        /* general purpose flags (bit 0: encrypted) */
    uint32_t crc;          /* CRC-32 of the uncompressed data */
    uint64_t csize, usize; /* compressed and uncompressed bytes (zip64 values when present) */
    uint64_t offset;       /* the local header's offset in the file */
} dvren_zip_entry;

/* Finds the end of central directory record in tail, the last tail_n
 * bytes (tail_n <= file_size; at most DVREN_ZIP_TAIL_MAX needed) of a file
 * of file_size bytes; the last record wins when the comment holds a
 * signature. Returns DVREN_ZIP_OK with *out filled, DVREN_ZIP_NOT_ZIP,
 * DVREN_ZIP_ZIP64 or DVREN_ZIP_CD_OUTSIDE. */
int dvren_zip_find_eocd(const unsigned char* tail, size_t tail_n, uint64_t file_size, dvren_zip_eocd* out);

/* Looks up a member in the central directory cd (cd_size bytes, entries
 * records). want: a name, matched exactly or with ".npy" appended
 * ("means3d" finds "means3d.npy"); NULL: the first member whose name ends
 * in ".npy". Returns 0 with *e filled, or -1 when absent; *bad is set to 1
 * when the directory is malformed (a record's signature or lengths run
 * past cd_size, a zip64 field too short), else 0. */
int dvren_zip_find(const unsigned char* cd, size_t cd_size, uint32_t entries, const char* want, dvren_zip_entry* e,
                   int* bad);

/* The offset of e's data: loc holds the 30 bytes at e->offset (the local
 * header; avail: how many of them the file has, < 30 when it ends
 * first). Returns 0 with *data_off set, -1 when there is no local header
 * there, -2 when the data (e->csize bytes) run past file_size. */
int dvren_zip_data_offset(const unsigned char* loc, size_t avail, const dvren_zip_entry* e, uint64_t file_size,
                          uint64_t* data_off);

/* CRC-32 of n bytes, continuing from crc (0 to start): dvren_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t dvren_crc32(uint32_t crc, const void* data, size_t n);

/* A whole .npz in memory. */
typedef struct dvren_npz {
    const unsigned char* bytes; /* the caller's bytes (must outlive every member pointer) */
    size_t size;
    dvren_zip_eocd eocd;
    char name[256];   /* the name given, for messages (truncated) */
    char error[640];  /* "'<name>': <problem>" or "'<name>' member '<member>': <problem>" ("" on success) */
} dvren_npz;

/* Checks that bytes[0 .. size) are a zip (its end record and central
 * directory inside); name is used in messages (NULL: "<memory>"). Returns
 * 0, or -1 with z->error ("not a zip file", "zip64 ... not supported",
 * "central directory lies outside the file"). */
int dvren_npz_open(dvren_npz* z, const void* bytes, size_t size, const char* name);

/* Finds member want (with or without ".npy", as dvren_zip_find) and gives
 * its bytes: *data points into z->bytes, *size bytes. Only stored members
 * (method 0, what numpy.savez writes); their CRC-32 is checked. e (may be
 * NULL) gets the directory record. Returns 0; 1 when there is no such
 * member (z->error "no member 'x'"); -1 on a damaged archive or a member
 * that is not read: -2 for a compressed (deflate) or encrypted member, so
 * that a caller can report it as unsupported rather than malformed. */
int dvren_npz_member(dvren_npz* z, const char* want, const unsigned char** data, size_t* size, dvren_zip_entry* e);

#endif /* DVREN_NPZ_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_NPZ_IMPLEMENTATION
#ifndef DVREN_NPZ_IMPLEMENTATION_ONCE
#define DVREN_NPZ_IMPLEMENTATION_ONCE

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t dvren__zip16(const unsigned char* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t dvren__zip32(const unsigned char* p) { return dvren__zip16(p) | (dvren__zip16(p + 2) << 16); }
static uint64_t dvren__zip64(const unsigned char* p) { return (uint64_t)dvren__zip32(p) | ((uint64_t)dvren__zip32(p + 4) << 32); }

int dvren_zip_find_eocd(const unsigned char* tail, size_t tail_n, uint64_t file_size, dvren_zip_eocd* out)
{
    size_t i;
    memset(out, 0, sizeof *out);
    if (!tail || tail_n < 22 || tail_n > file_size) return DVREN_ZIP_NOT_ZIP;
    for (i = tail_n - 22 + 1; i-- > 0;)
        if (dvren__zip32(tail + i) == 0x06054b50u) {
            const unsigned char* r = tail + i;
            out->entries = dvren__zip16(r + 10);
            out->cd_size = dvren__zip32(r + 12);
            out->cd_offset = dvren__zip32(r + 16);
            out->eocd_offset = file_size - tail_n + i;
            if (out->entries == 0xFFFFu || out->cd_size == 0xFFFFFFFFull || out->cd_offset == 0xFFFFFFFFull)
                return DVREN_ZIP_ZIP64;
            if (out->cd_offset > out->eocd_offset || out->cd_size > out->eocd_offset - out->cd_offset)
                return DVREN_ZIP_CD_OUTSIDE;
            return DVREN_ZIP_OK;
        }
    return DVREN_ZIP_NOT_ZIP;
}

static int dvren__zip_ends_npy(const char* s, size_t n) { return n >= 4 && memcmp(s + n - 4, ".npy", 4) == 0; }

int dvren_zip_find(const unsigned char* cd, size_t cd_size, uint32_t entries, const char* want, dvren_zip_entry* e,
                   int* bad)
{
    size_t pos = 0, k, wl = want ? strlen(want) : 0;
    uint32_t i;
    *bad = 0;
    for (i = 0; i < entries; ++i) {
        size_t nlen, xlen, clen;
        const unsigned char* r = cd + pos;
        const unsigned char* x;
        char* name = e->name;
        int match;
        if (cd_size - pos < 46 || dvren__zip32(r) != 0x02014b50u) return *bad = 1, -1;
        nlen = dvren__zip16(r + 28);
        xlen = dvren__zip16(r + 30);
        clen = dvren__zip16(r + 32);
        if (cd_size - pos - 46 < nlen + xlen + clen) return *bad = 1, -1;
        pos += 46 + nlen + xlen + clen;
        if (nlen >= sizeof e->name) continue; /* no member we would pick has such a name */
        memcpy(name, r + 46, nlen);
        name[nlen] = 0;
        if (memchr(name, 0, nlen)) continue; /* a NUL inside the name: compare none of it */
        if (want)
            match = !strcmp(name, want) || (nlen == wl + 4 && !strncmp(name, want, wl) && dvren__zip_ends_npy(name, nlen));
        else
            match = dvren__zip_ends_npy(name, nlen);
        if (!match) continue;
        e->flags = dvren__zip16(r + 8);
        e->method = dvren__zip16(r + 10);
        e->crc = dvren__zip32(r + 16);
        e->csize = dvren__zip32(r + 20);
        e->usize = dvren__zip32(r + 24);
        e->offset = dvren__zip32(r + 42);
        /* zip64 extended information (id 1): the 64-bit values of the
         * fields that hold 0xFFFFFFFF, in this order */
        for (x = r + 46 + nlen, k = 0; k + 4 <= xlen;) {
            uint32_t id = dvren__zip16(x + k), sz = dvren__zip16(x + k + 2);
            const unsigned char* d = x + k + 4;
            if (k + 4 + sz > xlen) return *bad = 1, -1;
            if (id == 1) {
                uint64_t* f[3];
                uint32_t used = 0;
                int j;
                f[0] = &e->usize;
                f[1] = &e->csize;
                f[2] = &e->offset;
                for (j = 0; j < 3; ++j)
                    if (*f[j] == 0xFFFFFFFFull) {
                        if (used + 8 > sz) return *bad = 1, -1;
                        *f[j] = dvren__zip64(d + used);
                        used += 8;
                    }
            }
            k += 4 + sz;
        }
        return 0;
    }
    return -1;
}

int dvren_zip_data_offset(const unsigned char* loc, size_t avail, const dvren_zip_entry* e, uint64_t file_size,
                          uint64_t* data_off)
{
    uint64_t d;
    if (!loc || avail < 30 || e->offset > file_size || file_size - e->offset < 30 || dvren__zip32(loc) != 0x04034b50u)
        return -1;
    /* the local header repeats the name and has its own extra field */
    d = e->offset + 30 + dvren__zip16(loc + 26) + dvren__zip16(loc + 28);
    if (d > file_size || e->csize > file_size - d) return -2;
    *data_off = d;
    return 0;
}

uint32_t dvren_crc32(uint32_t crc, const void* data, size_t n)
{
    /* four bits at a time: the CRC of each nibble under the reflected polynomial */
    static const uint32_t t[16] = {0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
                                   0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
                                   0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    const unsigned char* p = (const unsigned char*)data;
    size_t i;
    crc = ~crc;
    for (i = 0; i < n; ++i) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 15u];
        crc = (crc >> 4) ^ t[crc & 15u];
    }
    return ~crc;
}

static int dvren__npz_fail(dvren_npz* z, int rc, const char* member, const char* fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (member)
        snprintf(z->error, sizeof z->error, "'%s' member '%s': %s", z->name, member, msg);
    else
        snprintf(z->error, sizeof z->error, "'%s': %s", z->name, msg);
    return rc;
}

int dvren_npz_open(dvren_npz* z, const void* bytes, size_t size, const char* name)
{
    size_t tail_n;
    int r;
    if (!z) return -1;
    memset(z, 0, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", name ? name : "<memory>");
    if (!bytes && size) return dvren__npz_fail(z, -1, NULL, "no bytes (NULL)");
    z->bytes = (const unsigned char*)bytes;
    z->size = size;
    tail_n = size < DVREN_ZIP_TAIL_MAX ? size : DVREN_ZIP_TAIL_MAX;
    r = dvren_zip_find_eocd(z->bytes + (size - tail_n), tail_n, size, &z->eocd);
    if (r == DVREN_ZIP_NOT_ZIP)
        return dvren__npz_fail(z, -1, NULL, "not a zip file (no end of central directory record): truncated, or not an .npz");
    if (r == DVREN_ZIP_ZIP64)
        return dvren__npz_fail(z, -1, NULL, "zip64 archives (over 4 GiB or 65535 members) are not supported");
    if (r == DVREN_ZIP_CD_OUTSIDE) return dvren__npz_fail(z, -1, NULL, "the zip central directory lies outside the file");
    return 0;
}

int dvren_npz_member(dvren_npz* z, const char* want, const unsigned char** data, size_t* size, dvren_zip_entry* ent)
{
    dvren_zip_entry e;
    int bad;
    uint64_t off;
    uint32_t crc;
    if (!z || !data || !size) return -1;
    *data = NULL;
    *size = 0;
    z->error[0] = 0;
    memset(&e, 0, sizeof e);
    if (dvren_zip_find(z->bytes + z->eocd.cd_offset, (size_t)z->eocd.cd_size, z->eocd.entries, want, &e, &bad) != 0) {
        if (bad) return dvren__npz_fail(z, -1, NULL, "the zip central directory is corrupt");
        if (want) return dvren__npz_fail(z, 1, NULL, "no member '%s' (nor '%s.npy')", want, want);
        return dvren__npz_fail(z, 1, NULL, "the zip holds no .npy member");
    }
    if (ent) *ent = e;
    if (e.flags & 1u) return dvren__npz_fail(z, -2, e.name, "the member is encrypted");
    if (e.method != 0)
        return dvren__npz_fail(z, -2, e.name,
                               "compression method %u is not read here, only stored members (save with numpy.savez, "
                               "not numpy.savez_compressed)", (unsigned)e.method);
    if (e.usize != e.csize)
        return dvren__npz_fail(z, -1, e.name, "a stored member of %.0f bytes claims %.0f uncompressed bytes", (double)e.csize,
                               (double)e.usize);
    {
        size_t avail = e.offset < z->size ? z->size - (size_t)e.offset : 0;
        int r = dvren_zip_data_offset(e.offset < z->size ? z->bytes + e.offset : NULL, avail, &e, z->size, &off);
        if (r == -1) return dvren__npz_fail(z, -1, e.name, "the zip local header is missing or corrupt");
        if (r == -2)
            return dvren__npz_fail(z, -1, e.name, "the member's %.0f bytes run past the end of the file (truncated)",
                                   (double)e.csize);
    }
    crc = dvren_crc32(0, z->bytes + off, (size_t)e.csize);
    if (crc != e.crc)
        return dvren__npz_fail(z, -1, e.name, "CRC-32 %08lx, the zip says %08lx: the file is damaged", (unsigned long)crc,
                               (unsigned long)e.crc);
    *data = z->bytes + off;
    *size = (size_t)e.csize;
    return 0;
}

#endif /* DVREN_NPZ_IMPLEMENTATION_ONCE */
#endif /* DVREN_NPZ_IMPLEMENTATION */
