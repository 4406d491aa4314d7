/* plugins/dense_grid/dense_grid.c - host side of the "dense_grid" field:
 * parameters, sources (file, generator, tensor), storage conversion and the
 * world box. The per-sample code is dense_grid_device.h. */
#include "dvren.h"
/* the per-sample code twice: float32 (rendering) and float64 (gradient checks) */
#include "dense_grid_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include "dense_grid_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32
#include "dense_grid_io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const dvren_param_desc dg_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_PATH, .name = "file", .unit = "",
       .doc = "volume file: .npy, .npz, .nrrd/.nhdr, .mhd/.mha, .dat (QVis), .vtk (legacy), or raw with dims and dtype"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "format", .enum_values = "auto|raw|npy|npz|nrrd|mhd|dat|vtk", .default_string = "auto",
       .doc = "file format; auto: from the extension", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "generator", .enum_values = "none|marschner_lobb|peer|constant", .default_string = "none",
       .doc = "procedural volume instead of a file: marschner_lobb (1 channel), peer (bench workload, 4 channels), "
              "constant (the values of fill; the start of a fit)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "fill", .count_min = 1, .count_max = DVREN_MAX_CHANNELS,
       .doc = "generator constant: one value per channel (default [0])", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_TENSOR, .name = "data", .unit = "",
       .doc = "voxels from memory, shape (Z, Y, X) or (Z, Y, X, C), f32/f16/u8/u16/u32, contiguous (copied)"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "dims", .count_min = 3, .count_max = 3, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 1, .max_value = 1 << 20, .doc = "raw files and generators: [X, Y, Z] voxels (generators: default 64^3)", .unit = "voxels"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "dtype", .enum_values = "u8|i8|u16|i16|u32|i32|f16|f32|f64",
       .doc = "raw files: element type", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "endian", .enum_values = "little|big", .default_string = "little",
       .doc = "raw files: byte order", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "header_bytes", .flags = DVREN_PARAM_HAS_MIN, .min_value = 0,
       .doc = "raw files: bytes to skip before the data", .unit = "bytes"),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "channels", .default_number = 1, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
       .min_value = 1, .max_value = DVREN_MAX_CHANNELS, .doc = "raw files: channels per voxel, interleaved (channel fastest)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "storage", .enum_values = "auto|u8|u16|f32", .default_string = "auto",
       .doc = "voxel storage; auto keeps integers exact (i16 as u16 + offset) and floats as f32; u8/u16 quantise", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "value_scale", .default_number = 1.0,
       .doc = "value = file value * value_scale + value_offset (e.g. CT rescale slope)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "value_offset", .default_number = 0.0,
       .doc = "value = file value * value_scale + value_offset (e.g. CT rescale intercept)", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "spacing", .count_min = 3, .count_max = 3,
       .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE, .min_value = 0, .doc = "voxel spacing [x, y, z], overrides the file's", .unit = "physical units"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "bbox", .count_min = 6, .count_max = 6,
       .doc = "world box [xmin, ymin, zmin, xmax, ymax, zmax]; overrides fit", .unit = "world units"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "fit", .enum_values = "unit|physical", .default_string = "unit",
       .doc = "world box: unit = centred, longest side 2 (spacing keeps the aspect); physical = centred, spacing units", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_STRING, .name = "array", .unit = "",
       .doc = ".npz files: the member to load, with or without .npy (default: the first .npy member)"),
    /* 8 GiB: a 2048^3 u8 volume still loads, yet a header that lies (or a
     * typo in generator dims) fails at once instead of swapping the machine
     * to death; loading holds the file's voxels and the stored copy at once,
     * each checked against this */
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "max_bytes", .default_number = 8589934592.0,
       .flags = DVREN_PARAM_HAS_MIN, .min_value = 1, .unit = "bytes",
       .doc = "largest voxel array a file, generator or storage conversion may allocate; larger is an error before "
              "allocating (default 8 GiB)"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "centering", .enum_values = "node|cell", .default_string = "node",
       .doc = "node: voxel centres on the box faces (VTK points, align_corners); cell: voxels fill the box", .unit = ""),
};

typedef struct dg_instance {
    dense_grid_block block;
    dvren_buffer_desc buffer;
    size_t bytes;
    float bmin[3], bmax[3], voxel_world, voxel_size[3];
    char jit_defines[640]; /* compile-time constants for the GPU kernel */
} dg_instance;

/* Marschner-Lobb test signal (Marschner and Lobb, "An evaluation of
 * reconstruction filters for volume rendering", IEEE Vis 1994, eq. 7) on
 * [-1,1]^3 with f_M = 6, alpha = 0.25; values in [0, 1]. */
static double dg_marschner_lobb(double x, double y, double z)
{
    const double pi = 3.14159265358979323846, fm = 6.0, a = 0.25;
    double r = sqrt(x * x + y * y);
    double rho = cos(2.0 * pi * fm * cos(pi * r / 2.0));
    return (1.0 - sin(pi * z / 2.0) + a * (1.0 + rho)) / (2.0 * (1.0 + a));
}

/* The workload of ../shared/peers/torch_dense_grid.py: sigma_raw, r, g, b at
 * the normalised voxel centre u in [-1,1]^3. */
static void dg_peer(double x, double y, double z, double* out)
{
    double r2 = x * x + y * y + z * z;
    out[0] = 6.0 * exp(-r2 / 0.35) * (0.6 + 0.4 * sin(5 * x) * sin(5 * y) * sin(5 * z)) - 0.5;
    out[1] = 0.5 + 0.5 * sin(3 * x);
    out[2] = 0.5 + 0.5 * sin(3 * y + 1);
    out[3] = 0.5 + 0.5 * sin(3 * z + 2);
}

static dvren_status dg_generate(const dvren_host* h, const dvren_params* p, const char* gen, dg_volume* v)
{
    const double* d;
    const double* fill = NULL;
    uint32_t x, y, z, c, nfill = 0;
    size_t i = 0;
    float* out;
    memset(v, 0, sizeof *v);
    v->dims[0] = v->dims[1] = v->dims[2] = 64;
    if (h->param_numbers(p, "dims", &d) == 3) {
        if (d[0] != floor(d[0]) || d[1] != floor(d[1]) || d[2] != floor(d[2]))
            return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'dims' [%g, %g, %g] must be whole numbers",
                           d[0], d[1], d[2]);
        v->dims[0] = (uint32_t)d[0];
        v->dims[1] = (uint32_t)d[1];
        v->dims[2] = (uint32_t)d[2];
    }
    if (strcmp(gen, "constant") == 0) nfill = h->param_numbers(p, "fill", &fill);
    v->channels = strcmp(gen, "peer") == 0 ? 4u : (nfill ? nfill : 1u);
    v->type = DG_F32;
    v->spacing[0] = v->spacing[1] = v->spacing[2] = 1.0;
    /* dims go up to 2^20 each: the product overflows size_t long before
     * that, so bound it (in double, as the file loaders do) before multiplying out */
    {
        char what[160];
        snprintf(what, sizeof what, "parameter 'dims' %u x %u x %u of %u f32 channel(s)", (unsigned)v->dims[0],
                 (unsigned)v->dims[1], (unsigned)v->dims[2], (unsigned)v->channels);
        if (dg_check_bytes(h, DVREN_ERROR_INVALID_ARGUMENT, gen, what,
                           (double)v->dims[0] * v->dims[1] * v->dims[2] * v->channels * sizeof(float),
                           h->param_number(p, "max_bytes")) != DVREN_OK)
            return DVREN_ERROR_INVALID_ARGUMENT;
    }
    v->bytes = (size_t)v->dims[0] * v->dims[1] * v->dims[2] * v->channels * sizeof(float);
    v->data = (unsigned char*)h->alloc(h, v->bytes);
    if (!v->data) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    out = (float*)(void*)v->data;
    for (z = 0; z < v->dims[2]; ++z)
        for (y = 0; y < v->dims[1]; ++y)
            for (x = 0; x < v->dims[0]; ++x) {
                /* normalised voxel centre in [-1, 1] on each axis (torch.linspace(-1, 1, R)) */
                double u[3], val[4];
                u[0] = v->dims[0] > 1 ? -1.0 + 2.0 * x / (v->dims[0] - 1) : 0.0;
                u[1] = v->dims[1] > 1 ? -1.0 + 2.0 * y / (v->dims[1] - 1) : 0.0;
                u[2] = v->dims[2] > 1 ? -1.0 + 2.0 * z / (v->dims[2] - 1) : 0.0;
                if (strcmp(gen, "constant") == 0) {
                    for (c = 0; c < v->channels; ++c) out[i++] = nfill ? (float)fill[c] : 0.0f;
                    continue;
                }
                if (v->channels == 4)
                    dg_peer(u[0], u[1], u[2], val);
                else
                    val[0] = dg_marschner_lobb(u[0], u[1], u[2]);
                for (c = 0; c < v->channels; ++c) out[i++] = (float)val[c];
            }
    return DVREN_OK;
}

/* Views a tensor parameter as a dg_volume (no copy). */
static dvren_status dg_from_tensor(const dvren_host* h, const dvren_tensor* t, dg_volume* v)
{
    memset(v, 0, sizeof *v);
    if (t->memory != DVREN_MEMORY_HOST || (t->ndim != 3 && t->ndim != 4) || !dvren_tensor_is_contiguous(t))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "pass a contiguous host tensor (Z, Y, X) or (Z, Y, X, C)",
                       "parameter 'data': tensor must be 3-D or 4-D, contiguous, in host memory");
    switch (t->dtype) {
    case DVREN_DTYPE_F32: v->type = DG_F32; break;
    case DVREN_DTYPE_F16: v->type = DG_F16; break;
    case DVREN_DTYPE_U8: v->type = DG_U8; break;
    case DVREN_DTYPE_U16: v->type = DG_U16; break;
    case DVREN_DTYPE_U32: v->type = DG_U32; break;
    default: return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'data': unknown dtype");
    }
    v->dims[0] = (uint32_t)t->shape[2];
    v->dims[1] = (uint32_t)t->shape[1];
    v->dims[2] = (uint32_t)t->shape[0];
    v->channels = t->ndim == 4 ? (uint32_t)t->shape[3] : 1u;
    if (v->channels > DVREN_MAX_CHANNELS)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'data': %u channels (at most %d)",
                       (unsigned)v->channels, DVREN_MAX_CHANNELS);
    v->spacing[0] = v->spacing[1] = v->spacing[2] = 1.0;
    v->data = (unsigned char*)t->data;
    v->bytes = (size_t)dvren_tensor_numel(t) * dvren_dtype_size(t->dtype);
    return DVREN_OK;
}

/* Converts v into the instance's storage; sets scale/offset per channel.
 * src names the source in messages (the file, "parameter 'data'", the generator). */
static dvren_status dg_store(const dvren_host* h, const char* src, const char* storage, const dg_volume* v,
                             double vscale, double voffset, double max_bytes, dg_instance* g, double* vmin,
                             double* vmax)
{
    size_t n = (size_t)v->dims[0] * v->dims[1] * v->dims[2], i;
    uint32_t C = v->channels, c;
    dvren_dtype dt;
    double lo[DVREN_MAX_CHANNELS], hi[DVREN_MAX_CHANNELS], sc[DVREN_MAX_CHANNELS], of[DVREN_MAX_CHANNELS];
    int exact_int = 0;
    for (c = 0; c < C; ++c) {
        lo[c] = HUGE_VAL;
        hi[c] = -HUGE_VAL;
    }
    for (i = 0; i < n * C; ++i) {
        double x = dg_get(v, i);
        c = (uint32_t)(i % C);
        if (!isfinite(x))
            return h->fail(h, DVREN_ERROR_FORMAT, "clean the data (NaN or inf voxels)",
                           "'%s': voxel %.0f channel %u is not finite", src, (double)(i / C), (unsigned)c);
        if (x < lo[c]) lo[c] = x;
        if (x > hi[c]) hi[c] = x;
    }
    if (!strcmp(storage, "auto")) {
        switch (v->type) {
        case DG_U8: case DG_I8: storage = "u8"; exact_int = 1; break;
        case DG_U16: case DG_I16: storage = "u16"; exact_int = 1; break;
        default: storage = "f32"; break;
        }
    } else if ((!strcmp(storage, "u8") && (v->type == DG_U8 || v->type == DG_I8)) ||
               (!strcmp(storage, "u16") && (v->type == DG_U16 || v->type == DG_I16 || v->type == DG_U8 ||
                                            v->type == DG_I8))) {
        exact_int = 1;
    }
    dt = !strcmp(storage, "u8") ? DVREN_DTYPE_U8 : !strcmp(storage, "u16") ? DVREN_DTYPE_U16 : DVREN_DTYPE_F32;
    for (c = 0; c < C; ++c) {
        if (dt == DVREN_DTYPE_F32) {
            sc[c] = 1.0;
            of[c] = 0.0;
        } else if (exact_int) {
            /* signed integers move up by 2^(bits-1): stored = x - min_of_type */
            sc[c] = 1.0;
            of[c] = (v->type == DG_I8) ? -128.0 : (v->type == DG_I16) ? -32768.0 : 0.0;
        } else {
            /* quantise [lo, hi] linearly onto the integer range */
            double top = dt == DVREN_DTYPE_U8 ? 255.0 : 65535.0;
            sc[c] = hi[c] > lo[c] ? (hi[c] - lo[c]) / top : 1.0;
            of[c] = lo[c];
        }
    }
    if (dg_check_bytes(h, DVREN_ERROR_INVALID_ARGUMENT, src, "the stored voxels", (double)n * C * dvren_dtype_size(dt),
                       max_bytes) != DVREN_OK)
        return DVREN_ERROR_INVALID_ARGUMENT;
    g->bytes = n * C * dvren_dtype_size(dt);
    memset(&g->buffer, 0, sizeof g->buffer);
    g->buffer.tensor.data = h->alloc(h, g->bytes);
    if (!g->buffer.tensor.data) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "cannot allocate %.0f bytes", (double)g->bytes);
    for (i = 0; i < n * C; ++i) {
        double x = dg_get(v, i);
        c = (uint32_t)(i % C);
        if (dt == DVREN_DTYPE_F32) {
            ((float*)g->buffer.tensor.data)[i] = (float)x;
        } else {
            double q = floor((x - of[c]) / sc[c] + 0.5);
            if (dt == DVREN_DTYPE_U8) ((uint8_t*)g->buffer.tensor.data)[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            else ((uint16_t*)g->buffer.tensor.data)[i] = (uint16_t)(q < 0 ? 0 : q > 65535 ? 65535 : q);
        }
    }
    g->buffer.struct_size = sizeof g->buffer;
    g->buffer.name = "voxels";
    g->buffer.flags = dt == DVREN_DTYPE_F32 ? DVREN_BUFFER_DIFFERENTIABLE : 0u;
    g->buffer.tensor.dtype = dt;
    g->buffer.tensor.ndim = 4;
    g->buffer.tensor.shape[0] = v->dims[2];
    g->buffer.tensor.shape[1] = v->dims[1];
    g->buffer.tensor.shape[2] = v->dims[0];
    g->buffer.tensor.shape[3] = C;
    g->buffer.tensor.strides[3] = 1;
    g->buffer.tensor.strides[2] = C;
    g->buffer.tensor.strides[1] = (int64_t)C * v->dims[0];
    g->buffer.tensor.strides[0] = (int64_t)C * v->dims[0] * v->dims[1];
    g->buffer.tensor.memory = DVREN_MEMORY_HOST;
    g->block.storage = dt == DVREN_DTYPE_F32 ? DENSE_GRID_F32 : dt == DVREN_DTYPE_U16 ? DENSE_GRID_U16 : DENSE_GRID_U8;
    g->block.channels = C;
    for (c = 0; c < C; ++c) {
        g->block.scale[c] = (float)(sc[c] * vscale);
        g->block.offset[c] = (float)(of[c] * vscale + voffset);
        vmin[c] = lo[c] * vscale + voffset;
        vmax[c] = hi[c] * vscale + voffset;
    }
    return DVREN_OK;
}

/* World box and the world-to-index map. */
static dvren_status dg_place(const dvren_host* h, const dvren_params* p, const dg_volume* v, dg_instance* g)
{
    const double* d;
    double sp[3], ext[3], maxe = 0.0, k = 1.0;
    int cell = strcmp(h->param_string(p, "centering"), "cell") == 0, a;
    memcpy(sp, v->spacing, sizeof sp);
    if (!v->has_spacing) sp[0] = sp[1] = sp[2] = 1.0;
    if (h->param_numbers(p, "spacing", &d) == 3) memcpy(sp, d, sizeof sp);
    if (h->param_numbers(p, "bbox", &d) == 6) {
        for (a = 0; a < 3; ++a) {
            if (!(d[a] < d[a + 3]))
                return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'bbox': min[%d] = %g >= max[%d] = %g",
                               a, d[a], a, d[a + 3]);
            g->bmin[a] = (float)d[a];
            g->bmax[a] = (float)d[a + 3];
        }
    } else {
        for (a = 0; a < 3; ++a) {
            uint32_t n = v->dims[a];
            /* a single voxel along an axis still spans one spacing */
            ext[a] = sp[a] * (cell || n < 2 ? (double)n : (double)(n - 1));
            if (ext[a] > maxe) maxe = ext[a];
        }
        if (strcmp(h->param_string(p, "fit"), "unit") == 0) k = 2.0 / maxe;
        for (a = 0; a < 3; ++a) {
            g->bmin[a] = (float)(-0.5 * ext[a] * k);
            g->bmax[a] = (float)(0.5 * ext[a] * k);
        }
    }
    g->voxel_world = 3.0e38f;
    for (a = 0; a < 3; ++a) {
        uint32_t n = v->dims[a];
        double e = (double)g->bmax[a] - g->bmin[a];
        double cells = (cell || n < 2) ? (double)n : (double)(n - 1);
        double vox = e / cells;
        g->block.dims[a] = n;
        if (n < 2) {
            g->block.origin[a] = (float)(0.5 * ((double)g->bmin[a] + g->bmax[a]));
            g->block.to_index[a] = 0.0f;
        } else if (cell) {
            g->block.origin[a] = (float)(g->bmin[a] + 0.5 * vox);
            g->block.to_index[a] = (float)(1.0 / vox);
        } else {
            g->block.origin[a] = g->bmin[a];
            g->block.to_index[a] = (float)(1.0 / vox);
        }
        g->voxel_size[a] = (float)vox;
        if ((float)vox < g->voxel_world) g->voxel_world = (float)vox;
    }
    return DVREN_OK;
}

static void dg_destroy(const dvren_host* h, void* inst)
{
    dg_instance* g = (dg_instance*)inst;
    if (!g) return;
    if (g->buffer.tensor.data) h->free(h, g->buffer.tensor.data, g->bytes);
    h->free(h, g, sizeof *g);
}

static dvren_status dg_create(const dvren_host* h, const dvren_params* p, void** out)
{
    const char* file = h->param_string(p, "file");
    const char* gen = h->param_string(p, "generator");
    const dvren_tensor* t = h->param_tensor(p, "data");
    int sources = (file != NULL) + (strcmp(gen, "none") != 0) + (t != NULL);
    dg_volume v;
    int owned = 1;
    double vmin[DVREN_MAX_CHANNELS], vmax[DVREN_MAX_CHANNELS];
    dvren_status s;
    dg_instance* g;
    if (sources != 1)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "set exactly one of 'file', 'generator' and 'data'",
                       "%s volume source given", sources ? "more than one" : "no");
    g = (dg_instance*)h->alloc(h, sizeof *g);
    if (!g) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(g, 0, sizeof *g);
    if (file) {
        s = dg_load(h, p, file, h->param_string(p, "format"), &v);
    } else if (t) {
        s = dg_from_tensor(h, t, &v);
        owned = 0;
    } else {
        s = dg_generate(h, p, gen, &v);
    }
    if (s == DVREN_OK)
        s = dg_store(h, file ? file : t ? "parameter 'data'" : gen, h->param_string(p, "storage"), &v,
                     h->param_number(p, "value_scale"), h->param_number(p, "value_offset"),
                     h->param_number(p, "max_bytes"), g, vmin, vmax);
    if (s == DVREN_OK) s = dg_place(h, p, &v, g);
    if (s == DVREN_OK) {
        /* the kernel is compiled per instance: its constants become literals
         * (floats as exact hexadecimal literals, so the GPU computes with the
         * very values the CPU reads from the block) */
        const dense_grid_block* b = &g->block;
        uint32_t c, identity = 1;
        uint64_t elements = (uint64_t)b->dims[0] * b->dims[1] * b->dims[2] * b->channels;
        for (c = 0; c < b->channels; ++c) identity &= b->scale[c] == 1.0f && b->offset[c] == 0.0f;
        snprintf(g->jit_defines, sizeof g->jit_defines,
                 "#define DENSE_GRID_JIT_CHANNELS %uu\n#define DENSE_GRID_JIT_STORAGE %uu\n%s%s"
                 "#define DENSE_GRID_JIT_GEOMETRY 1\n"
                 "#define DENSE_GRID_JIT_NX %uu\n#define DENSE_GRID_JIT_NY %uu\n#define DENSE_GRID_JIT_NZ %uu\n"
                 "#define DENSE_GRID_JIT_OX %af\n#define DENSE_GRID_JIT_OY %af\n#define DENSE_GRID_JIT_OZ %af\n"
                 "#define DENSE_GRID_JIT_KX %af\n#define DENSE_GRID_JIT_KY %af\n#define DENSE_GRID_JIT_KZ %af\n",
                 (unsigned)b->channels, (unsigned)b->storage, identity ? "#define DENSE_GRID_JIT_IDENTITY 1\n" : "",
                 elements < ((uint64_t)1 << 31) ? "#define DENSE_GRID_JIT_INDEX32 1\n" : "", (unsigned)b->dims[0],
                 (unsigned)b->dims[1], (unsigned)b->dims[2], (double)b->origin[0], (double)b->origin[1],
                 (double)b->origin[2], (double)b->to_index[0], (double)b->to_index[1], (double)b->to_index[2]);
    }
    if (s == DVREN_OK)
        h->log(h, DVREN_LOG_INFO, DVREN_TAG_STEP,
               "%s: %u x %u x %u x %u %s stored as %s, channel 0 in [%g, %g], box [%g %g %g] - [%g %g %g]",
               file ? file : t ? "tensor" : gen, (unsigned)v.dims[0], (unsigned)v.dims[1], (unsigned)v.dims[2],
               (unsigned)v.channels, dg_type_name(v.type), dvren_dtype_name(g->buffer.tensor.dtype), vmin[0], vmax[0],
               (double)g->bmin[0], (double)g->bmin[1], (double)g->bmin[2], (double)g->bmax[0], (double)g->bmax[1],
               (double)g->bmax[2]);
    if (owned) dg_volume_free(h, &v);
    if (s != DVREN_OK) {
        dg_destroy(h, g);
        return s;
    }
    *out = g;
    return DVREN_OK;
}

static dvren_status dg_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    dg_instance* g = (dg_instance*)inst;
    (void)h;
    info->block_size = sizeof(dense_grid_block);
    info->buffer_count = 1;
    info->buffers = &g->buffer;
    info->channels = g->block.channels;
    memcpy(info->bounds_min, g->bmin, sizeof g->bmin);
    memcpy(info->bounds_max, g->bmax, sizeof g->bmax);
    info->voxel_world = g->voxel_world;
    if (DVREN_HAS_FIELD(info, dvren_instance_info, voxel_size)) memcpy(info->voxel_size, g->voxel_size, sizeof g->voxel_size);
    if (DVREN_HAS_FIELD(info, dvren_instance_info, jit_defines)) info->jit_defines = g->jit_defines;
    return DVREN_OK;
}

static dvren_status dg_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    dense_grid_block b = ((dg_instance*)inst)->block;
    (void)h;
    b.data = buffers[0];
    memcpy(block, &b, sizeof b);
    return DVREN_OK;
}

/* the voxels' gradient (float32 grids only: the buffer is DIFFERENTIABLE then) */
static dvren_status dg_bind_gradients(const dvren_host* h, void* inst, const dvren_grad_ref* grads, void* block)
{
    (void)h;
    (void)inst;
    ((dense_grid_block*)block)->grad = grads[0];
    return DVREN_OK;
}

/* designated initialisers: interfaces grow at their end, and positional
 * initialisers would then warn (-Wmissing-field-initializers) */
static const dvren_instance_iface dg_inst = {.struct_size = sizeof(dvren_instance_iface), .create = dg_create,
                                             .destroy = dg_destroy, .describe = dg_describe, .bind = dg_bind,
                                             .bind_gradients = dg_bind_gradients};
static const dvren_field_iface dg_field = {.struct_size = sizeof(dvren_field_iface),
                                           DVREN_ENTRY2(eval, dense_grid_eval),
                                           DVREN_ENTRY2(eval_channel, dense_grid_eval_channel),
                                           DVREN_ENTRY2(eval_bwd, dense_grid_eval_bwd)};

DVREN_PLUGIN_INTERFACES(dg_get_interface, dg_inst, DVREN_IFACE_FIELD, dg_field)

static const dvren_plugin_desc dg_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "dense_grid",
    .version = (1u << 16) | 1u,
    .summary = "regular voxel grid (u8/u16/f32, 1-16 channels), trilinear; raw, .npy, .npz, NRRD, MetaImage, QVis, VTK",
    .params = dg_params,
    .param_count = sizeof dg_params / sizeof dg_params[0],
    .device_source_file = "dense_grid_device.h",
    .get_interface = dg_get_interface,
};

DVREN_PLUGIN_LIBRARY(&dg_desc)
