/* plugins/block_world/block_world.c - host side of the "block_world" field:
 * a grid of unit blocks with material logits (block_world_device.h;
 * docs/blocks.md). The world comes from a file (JSON world, .npy label
 * volume or block list, MagicaVoxel .vox; tools/dvren_blocks.h reads them),
 * from tensors (C and Python), or is empty. */
#include "dvren.h"
/* the per-sample code twice: float32 (rendering) and float64 (gradient checks) */
#include "block_world_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include "block_world_device.h"
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32

#define DVREN_BLOCKS_IMPLEMENTATION
#include "../../tools/dvren_blocks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double block_world_size_default[3] = {64, 48, 64};
static const double block_world_origin_default[3] = {0, 0, 0};

static const dvren_param_desc block_world_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_PATH, .name = "world",
                .doc = "world file: .json (dvren.blocks/1), .npy (uint8 label volume (X,Y,Z) or float (N,3+M) block list), .vox",
                .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_TENSOR, .name = "blocks",
                .doc = "instead of a file (C, Python): float32 (N, 3+M), each row x y z then M logits", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_TENSOR, .name = "material_table",
                .doc = "with blocks: float32 (M, 9), top rgb, side rgb, bottom rgb per material; none: the default table",
                .unit = "linear RGB"),
    DVREN_PARAM(.type = DVREN_PARAM_PATH, .name = "materials",
                .doc = "a JSON file {\"materials\": [...]} replacing the default table of a label volume", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "size", .count_min = 3, .count_max = 3, .flags = DVREN_PARAM_HAS_MIN,
                .min_value = 1, .default_numbers = block_world_size_default, .default_count = 3,
                .doc = "grid X Y Z (y up) of a world from tensors or an empty one; files bring their own", .unit = "cells"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "scale", .default_number = 1,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE, .min_value = 0,
                .doc = "edge of a block; given, it replaces the world file's", .unit = "world units"),
    DVREN_PARAM(.type = DVREN_PARAM_FLOATS, .name = "origin", .count_min = 3, .count_max = 3,
                .default_numbers = block_world_origin_default, .default_count = 3,
                .doc = "world position of cell (0,0,0)'s low corner; given, it replaces the world file's",
                .unit = "world units"),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "mode", .enum_values = "softmax|gumbel|hard", .default_string = "softmax",
                .flags = DVREN_PARAM_LIVE,
                .doc = "material mixing: softmax of logits/tau, Gumbel-softmax (seeded), or hard one-hot (straight-through)",
                .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "temperature", .default_number = 1,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE | DVREN_PARAM_LIVE, .min_value = 0,
                .doc = "softmax temperature tau", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "seed", .default_number = 0,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX | DVREN_PARAM_LIVE, .min_value = 0,
                .max_value = 9007199254740991.0, .doc = "Gumbel noise seed", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "label_logit", .default_number = 10,
                .doc = "logit of a label's material when a label volume, an id list or a .vox is read (the others 0)",
                .unit = ""),
};

typedef struct block_world_inst {
    block_world_block block;   /* without the buffer addresses */
    dvren_buffer_desc buf[3];  /* cells, logits, materials */
    uint32_t blocks;           /* N */
    uint64_t visible_faces;
} block_world_inst;

static void block_world_live(const dvren_host* h, const dvren_params* p, block_world_block* b)
{
    const char* mode = h->param_string(p, "mode");
    double seed = h->param_number(p, "seed");
    uint64_t s = (uint64_t)seed;
    b->mode = !strcmp(mode, "gumbel") ? BLOCK_WORLD_GUMBEL : (!strcmp(mode, "hard") ? BLOCK_WORLD_HARD : BLOCK_WORLD_SOFTMAX);
    b->inv_temperature = (float)(1.0 / h->param_number(p, "temperature"));
    b->seed_lo = (uint32_t)(s & 0xFFFFFFFFu);
    b->seed_hi = (uint32_t)(s >> 32);
}

/* The world from the "blocks" tensor (and "material_table", "size"). */
static dvren_status block_world_from_tensors(const dvren_host* h, const dvren_params* p, dvren_blocks_world* w)
{
    const dvren_tensor* B = h->param_tensor(p, "blocks");
    const dvren_tensor* T = h->param_tensor(p, "material_table");
    dvren_blocks_material* mats = NULL;
    const double* sz = NULL;
    int32_t size[3];
    uint32_t M = 0, i, k;
    int64_t n, cols;
    dvren_status s = DVREN_OK;
    h->param_numbers(p, "size", &sz);
    for (i = 0; i < 3; ++i) {
        if (sz[i] != floor(sz[i]) || sz[i] > DVREN_BLOCKS_MAX_EDGE)
            return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'size': %g is not an integer in 1..%d",
                           sz[i], DVREN_BLOCKS_MAX_EDGE);
        size[i] = (int32_t)sz[i];
    }
    if (T) {
        if (T->dtype != DVREN_DTYPE_F32 || T->ndim != 2 || T->shape[1] != 9 || T->shape[0] < 1 ||
            T->shape[0] > DVREN_BLOCKS_MAX_MATERIALS || T->memory != DVREN_MEMORY_HOST || !dvren_tensor_is_contiguous(T))
            return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL,
                           "parameter 'material_table' must be a contiguous float32 host tensor (M, 9) with 1 <= M <= %d",
                           DVREN_BLOCKS_MAX_MATERIALS);
        M = (uint32_t)T->shape[0];
        mats = (dvren_blocks_material*)h->alloc(h, sizeof *mats * M);
        if (!mats) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        memset(mats, 0, sizeof *mats * M);
        for (i = 0; i < M; ++i) {
            const float* r = (const float*)T->data + 9u * i;
            snprintf(mats[i].name, sizeof mats[i].name, "m%u", (unsigned)(i + 1));
            for (k = 0; k < 3; ++k) {
                mats[i].top[k] = r[k];
                mats[i].side[k] = r[3 + k];
                mats[i].bottom[k] = r[6 + k];
            }
            for (k = 0; k < 9; ++k)
                if (!(r[k] >= 0.0f && r[k] <= 1.0f)) {
                    s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL,
                                "parameter 'material_table': row %u column %u is %g (colours are linear RGB in [0, 1])",
                                (unsigned)i, (unsigned)k, (double)r[k]);
                    goto done;
                }
        }
    } else {
        dvren_blocks_default_materials(&M);
    }
    if (dvren_blocks_init(w, size, mats, T ? M : 0u) != 0) {
        s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "%s", w->error);
        goto done;
    }
    M = w->material_count;
    if (!B) goto done;
    if (B->dtype != DVREN_DTYPE_F32 || B->ndim != 2 || B->memory != DVREN_MEMORY_HOST || !dvren_tensor_is_contiguous(B) ||
        B->shape[1] != (int64_t)(3 + M)) {
        s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL,
                    "parameter 'blocks' must be a contiguous float32 host tensor (N, 3 + M) = (N, %u)", (unsigned)(3 + M));
        goto done;
    }
    n = B->shape[0];
    cols = B->shape[1];
    for (i = 0; i < (uint64_t)n; ++i) {
        const float* r = (const float*)B->data + (uint64_t)i * (uint64_t)cols;
        int32_t xyz[3];
        for (k = 0; k < 3; ++k) {
            if (!(r[k] == floorf(r[k]) && fabsf(r[k]) < 1.0e7f)) {
                s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'blocks': row %u: position %c = %g is not an integer",
                            (unsigned)i, "xyz"[k], (double)r[k]);
                goto done;
            }
            xyz[k] = (int32_t)r[k];
        }
        if (dvren_blocks_at(w, xyz[0], xyz[1], xyz[2]) >= 0) {
            s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'blocks': row %u: position (%d, %d, %d) given twice",
                        (unsigned)i, xyz[0], xyz[1], xyz[2]);
            goto done;
        }
        if (dvren_blocks_place(w, xyz[0], xyz[1], xyz[2], r + 3) != 0) {
            s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "parameter 'blocks': row %u: %s", (unsigned)i, w->error);
            goto done;
        }
    }
done:
    if (mats) h->free(h, mats, sizeof *mats * M);
    return s;
}

static void block_world_destroy(const dvren_host* h, void* inst_)
{
    block_world_inst* in = (block_world_inst*)inst_;
    uint32_t i;
    if (!in) return;
    for (i = 0; i < 3; ++i)
        if (in->buf[i].tensor.data) h->free(h, in->buf[i].tensor.data, (size_t)dvren_tensor_numel(&in->buf[i].tensor) * 4u);
    h->free(h, in, sizeof *in);
}

static dvren_status block_world_create(const dvren_host* h, const dvren_params* p, void** out)
{
    block_world_inst* in;
    dvren_blocks_world w;
    const char* path = h->param_string(p, "world");
    dvren_status s = DVREN_OK;
    uint64_t cells, i;
    uint32_t M, N, k, c;
    memset(&w, 0, sizeof w);
    if (path && h->param_tensor(p, "blocks"))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "give either 'world' (a file) or 'blocks' (a tensor), not both");
    if (path) {
        dvren_blocks_load_options o;
        memset(&o, 0, sizeof o);
        o.label_logit = (float)h->param_number(p, "label_logit");
        o.materials_path = h->param_string(p, "materials");
        if (dvren_blocks_load(&w, path, &o) != 0) {
            s = h->fail(h, DVREN_ERROR_FORMAT, NULL, "%s", w.error);
            dvren_blocks_free(&w);
            return s;
        }
    } else {
        s = block_world_from_tensors(h, p, &w);
        if (s != DVREN_OK) {
            dvren_blocks_free(&w);
            return s;
        }
    }
    if (h->param_given(p, "scale")) w.scale = (float)h->param_number(p, "scale");
    if (h->param_given(p, "origin")) {
        const double* o = NULL;
        h->param_numbers(p, "origin", &o);
        for (k = 0; k < 3; ++k) w.origin[k] = (float)o[k];
    }
    in = (block_world_inst*)h->alloc(h, sizeof *in);
    if (!in) {
        dvren_blocks_free(&w);
        return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    }
    memset(in, 0, sizeof *in);
    M = w.material_count;
    N = w.block_count;
    cells = (uint64_t)w.size[0] * (uint64_t)w.size[1] * (uint64_t)w.size[2];
    for (k = 0; k < 3; ++k) {
        in->block.origin[k] = w.origin[k];
        in->block.size[k] = (uint32_t)w.size[k];
    }
    in->block.inv_scale = 1.0f / w.scale;
    in->block.materials = M;
    in->blocks = N;
    in->visible_faces = dvren_blocks_visible_faces(&w, NULL, NULL, 0);
    block_world_live(h, p, &in->block);
    {
        /* buffers: cells (X*Y*Z) uint32, logits (max(N,1), M) float32 (differentiable), table (M, 9) float32 */
        static const char* const names[3] = {"cells", "logits", "materials"};
        int64_t shapes[3][2];
        uint32_t nd[3] = {1, 2, 2};
        dvren_dtype dt[3] = {DVREN_DTYPE_U32, DVREN_DTYPE_F32, DVREN_DTYPE_F32};
        shapes[0][0] = (int64_t)cells;
        shapes[0][1] = 1;
        shapes[1][0] = N ? (int64_t)N : 1; /* an empty world keeps one unused row: a buffer is never empty */
        shapes[1][1] = M;
        shapes[2][0] = M;
        shapes[2][1] = 9;
        for (k = 0; k < 3; ++k) {
            size_t bytes = (size_t)shapes[k][0] * (size_t)(nd[k] == 2 ? shapes[k][1] : 1) * 4u;
            void* mem = h->alloc(h, bytes);
            if (!mem) {
                s = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory (%zu bytes for '%s')", bytes, names[k]);
                goto fail;
            }
            memset(mem, 0, bytes);
            in->buf[k].struct_size = sizeof(dvren_buffer_desc);
            in->buf[k].name = names[k];
            in->buf[k].flags = k == 1 ? DVREN_BUFFER_DIFFERENTIABLE : 0u;
            /* a contiguous host tensor, filled by hand: plugins do not link dvren's implementation */
            in->buf[k].tensor.data = mem;
            in->buf[k].tensor.dtype = dt[k];
            in->buf[k].tensor.ndim = nd[k];
            in->buf[k].tensor.shape[0] = shapes[k][0];
            in->buf[k].tensor.shape[1] = shapes[k][1];
            in->buf[k].tensor.strides[nd[k] - 1] = 1;
            if (nd[k] == 2) in->buf[k].tensor.strides[0] = shapes[k][1];
            in->buf[k].tensor.memory = DVREN_MEMORY_HOST;
        }
    }
    memcpy(in->buf[0].tensor.data, w.cell, (size_t)cells * 4u);
    if (N) memcpy(in->buf[1].tensor.data, w.logits, (size_t)N * M * 4u);
    for (k = 0; k < M; ++k) {
        float* r = (float*)in->buf[2].tensor.data + 9u * k;
        for (c = 0; c < 3; ++c) {
            r[c] = w.materials[k].top[c];
            r[3 + c] = w.materials[k].side[c];
            r[6 + c] = w.materials[k].bottom[c];
        }
    }
    for (i = 0; i < (uint64_t)N * M; ++i)
        if (!isfinite(w.logits[i])) {
            s = h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "block %u: logit %u is not finite", (unsigned)(i / M),
                        (unsigned)(i % M));
            goto fail;
        }
    dvren_blocks_free(&w);
    h->log(h, DVREN_LOG_INFO, "step", "%d x %d x %d cells, %u blocks, %u materials, %llu visible faces",
           (int)in->block.size[0], (int)in->block.size[1], (int)in->block.size[2], (unsigned)N, (unsigned)M,
           (unsigned long long)in->visible_faces);
    *out = in;
    return DVREN_OK;
fail:
    dvren_blocks_free(&w);
    block_world_destroy(h, in);
    return s;
}

static dvren_status block_world_update(const dvren_host* h, void* inst, const dvren_params* p)
{
    block_world_live(h, p, &((block_world_inst*)inst)->block);
    return DVREN_OK;
}

static dvren_status block_world_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    block_world_inst* in = (block_world_inst*)inst;
    float scale = 1.0f / in->block.inv_scale;
    uint32_t k;
    (void)h;
    info->block_size = sizeof(block_world_block);
    info->buffer_count = 3;
    info->buffers = in->buf;
    info->channels = BLOCK_WORLD_CHANNELS;
    for (k = 0; k < 3; ++k) {
        info->bounds_min[k] = in->block.origin[k];
        info->bounds_max[k] = in->block.origin[k] + scale * (float)in->block.size[k];
        info->voxel_size[k] = scale;
    }
    info->voxel_world = scale;
    return DVREN_OK;
}

static dvren_status block_world_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    block_world_block* b = (block_world_block*)block;
    (void)h;
    *b = ((block_world_inst*)inst)->block;
    b->cell = (const uint32_t*)buffers[0];
    b->logits = (const float*)buffers[1];
    b->table = (const float*)buffers[2];
    memset(&b->g_logits, 0, sizeof b->g_logits);
    return DVREN_OK;
}

static dvren_status block_world_bind_gradients(const dvren_host* h, void* inst, const dvren_grad_ref* grads, void* block)
{
    (void)h;
    (void)inst;
    ((block_world_block*)block)->g_logits = grads[1];
    return DVREN_OK;
}

static const dvren_instance_iface block_world_inst_iface = {.struct_size = sizeof(dvren_instance_iface),
                                                            .create = block_world_create,
                                                            .destroy = block_world_destroy,
                                                            .describe = block_world_describe,
                                                            .bind = block_world_bind,
                                                            .bind_gradients = block_world_bind_gradients,
                                                            .update = block_world_update};
static const dvren_field_iface block_world_field = {.struct_size = sizeof(dvren_field_iface),
                                                    DVREN_ENTRY2(eval, block_world_eval),
                                                    DVREN_ENTRY2(eval_channel, block_world_eval_channel),
                                                    DVREN_ENTRY2(eval_bwd, block_world_eval_bwd)};

DVREN_PLUGIN_INTERFACES(block_world_get_interface, block_world_inst_iface, DVREN_IFACE_FIELD, block_world_field)

static const dvren_plugin_desc block_world_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_FIELD,
    .name = "block_world",
    .version = (1u << 16) | 0u,
    .summary = "a grid of unit blocks, each a softmax (Gumbel, hard) over material logits; .json/.npy/.vox worlds",
    .params = block_world_params,
    .param_count = sizeof block_world_params / sizeof block_world_params[0],
    .device_source_file = "block_world_device.h",
    .get_interface = block_world_get_interface,
};

DVREN_PLUGIN_LIBRARY(&block_world_desc)
