/* plugins/dense_grid/dense_grid_io.h - volume file loaders of dense_grid
 * (host code, private to the plugin). */
#ifndef DENSE_GRID_IO_H
#define DENSE_GRID_IO_H

#include "dvren.h"

#include <stddef.h>

/* Element types found in volume files. */
typedef enum dg_type {
    DG_INVALID = 0,
    DG_U8,
    DG_I8,
    DG_U16,
    DG_I16,
    DG_U32,
    DG_I32,
    DG_F16,
    DG_F32,
    DG_F64
} dg_type;

/* A volume as read from a file: dims X, Y, Z, C channels interleaved
 * (channel fastest, then x, y, z), elements in the file's byte order. */
typedef struct dg_volume {
    uint32_t dims[3];
    uint32_t channels;
    dg_type type;
    int big_endian;
    double spacing[3];  /* world units per voxel; 1 when the file gives none */
    int has_spacing;
    unsigned char* data; /* host->alloc'ed, `bytes` long */
    size_t bytes;
    double max_bytes;    /* the parameter max_bytes: a larger `bytes` is refused before allocating */
} dg_volume;

size_t dg_type_size(dg_type t);
const char* dg_type_name(dg_type t);
/* "u8", "i16", "f32", ... (the dtype parameter's names) */
dg_type dg_type_from_name(const char* s);
/* Element i (channel-interleaved index) as double, in host order. */
double dg_get(const dg_volume* v, size_t i);
void dg_volume_free(const dvren_host* h, dg_volume* v);
/* DVREN_OK when `bytes` <= max_bytes; else fails with `status`, naming src
 * (a file, a generator) and what needs the memory. */
dvren_status dg_check_bytes(const dvren_host* h, dvren_status status, const char* src, const char* what, double bytes,
                            double max_bytes);

/* Loads `path` in `format` ("auto": from the extension). The raw format
 * reads dims, dtype, endian, header_bytes and channels from params; .npz
 * reads array; every format reads max_bytes.
 * Errors name the file and the field: IO (cannot open/read), FORMAT
 * (malformed, unsupported, size mismatch), INVALID_ARGUMENT. */
dvren_status dg_load(const dvren_host* h, const dvren_params* p, const char* path, const char* format, dg_volume* out);

#endif
