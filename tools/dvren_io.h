/* tools/dvren_io.h - the one whole-file reader and the one growable byte
 * buffer of dvren's tools, examples and benchmarks (dvren_scene.h,
 * dvren_nerf.h and dvren_image.h use them). Depends on the C library only.
 *
 * Do this in exactly one translation unit, before including it:
 *     #define DVREN_IO_IMPLEMENTATION
 *     #include "dvren_io.h"
 * Other files include it without the define (declarations only).
 *
 *   dvren_io_buf b = {0};                      growable bytes; an allocation
 *   dvren_io_buf_append(&b, data, n);          failure sets b.failed and later
 *   if (b.failed) ...; dvren_io_buf_free(&b);  appends do nothing
 *
 *   char err[256]; size_t n;
 *   char* text = dvren_io_read_file("scene.json", 64 << 20, &n, err, sizeof err);
 *   if (!text) fprintf(stderr, "scene.json: %s\n", err);  ("cannot open: No such file or directory")
 *   ... text[n] == 0 ...; free(text);
 */
#ifndef DVREN_IO_H
#define DVREN_IO_H

#include <stddef.h>

typedef struct dvren_io_buf {
    unsigned char* data;
    size_t size, cap;
    int failed; /* 1 after an allocation failed or a size overflowed: the contents are incomplete */
} dvren_io_buf;

/* Appends n bytes (n may be 0; p may then be NULL). */
void dvren_io_buf_append(dvren_io_buf* b, const void* p, size_t n);
/* Frees the bytes and zeroes the buffer. */
void dvren_io_buf_free(dvren_io_buf* b);

/* Reads the whole file into a malloc'ed block with a NUL after the last
 * byte (so text can be parsed in place); *size (may be NULL) gets the byte
 * count. A file larger than max_bytes is refused without reading it all.
 * On failure returns NULL and writes what went wrong (without the path:
 * the caller names the file) into err. Free the result with free(). */
char* dvren_io_read_file(const char* path, size_t max_bytes, size_t* size, char* err, size_t err_cap);

/* 1 when path ends with ext (".json"; ASCII, case-insensitive, a name
 * longer than the extension), else 0. */
int dvren_io_ends_with(const char* path, const char* ext);

#endif /* DVREN_IO_H */

/* ---- stop here if you only want the API ----------------------------------- */

#ifdef DVREN_IO_IMPLEMENTATION
#ifndef DVREN_IO_IMPLEMENTATION_ONCE
#define DVREN_IO_IMPLEMENTATION_ONCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dvren_io_buf_append(dvren_io_buf* b, const void* p, size_t n)
{
    if (b->failed || n == 0) return;
    if (n > (size_t)-1 / 2 - b->size) {
        b->failed = 1;
        return;
    }
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char* d;
        while (cap < b->size + n) cap *= 2;
        d = (unsigned char*)realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

void dvren_io_buf_free(dvren_io_buf* b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int dvren_io_ends_with(const char* path, const char* ext)
{
    size_t n = strlen(path), e = strlen(ext), i;
    if (n <= e) return 0;
    for (i = 0; i < e; ++i) {
        char a = path[n - e + i], b = ext[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

char* dvren_io_read_file(const char* path, size_t max_bytes, size_t* size, char* err, size_t err_cap)
{
    dvren_io_buf b = {0, 0, 0, 0};
    unsigned char chunk[65536];
    size_t n;
    FILE* f = fopen(path, "rb");
    if (size) *size = 0;
    if (!f) {
        snprintf(err, err_cap, "cannot open: %s", strerror(errno));
        return NULL;
    }
    /* read in chunks rather than trusting ftell: pipes and /proc files have no size */
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.size + n > max_bytes) {
            snprintf(err, err_cap, "larger than the limit of %.0f MiB", (double)max_bytes / (1024.0 * 1024.0));
            fclose(f);
            dvren_io_buf_free(&b);
            return NULL;
        }
        dvren_io_buf_append(&b, chunk, n);
    }
    if (ferror(f) || b.failed) {
        snprintf(err, err_cap, "%s", b.failed ? "out of memory" : "read error");
        fclose(f);
        dvren_io_buf_free(&b);
        return NULL;
    }
    fclose(f);
    dvren_io_buf_append(&b, "", 1); /* the terminating NUL (an empty file gets one too) */
    if (b.failed) {
        snprintf(err, err_cap, "out of memory");
        dvren_io_buf_free(&b);
        return NULL;
    }
    if (size) *size = b.size - 1;
    return (char*)b.data;
}

#endif /* DVREN_IO_IMPLEMENTATION_ONCE */
#endif /* DVREN_IO_IMPLEMENTATION */
