/* python/dvren/_native.c - the one translation unit of the Python package's
 * shared library (libdvren.so): dvren.h and dvren_cuda.h's implementations,
 * the scene-file reader (tools/dvren_scene.h), the PNG writer
 * (tools/dvren_image.h), the NeRF-synthetic loader (tools/dvren_nerf.h) and
 * the foveation pipeline (tools/dvren_foveate.h, with OpenEXR's C API: built
 * without it, and dvpy_foveate refusing, when DVPY_NO_FOVEATE is defined)
 * and the block world's host model (tools/dvren_blocks.h: dvren.BlockWorld)
 * and the 3DGS PLY reader (tools/dvren_splat_ply.h: dvren.load_splats)
 * and the mesh files (tools/dvren_mesh_io.h: OBJ, PLY, GLB; dvren.Mesh.save,
 * dvren.load_mesh, dvren.save_glb, dvren.load_glb),
 * with every DVREN_API and dvren_blocks_* function exported for ctypes
 * (python/dvren/_capi.py).
 *
 * The few dvpy_* functions below exist only where ctypes cannot reach the
 * C API directly: static tool functions, and the scene file, whose struct
 * Python does not mirror (it holds cJSON pointers and large buffers). They
 * add no behaviour of their own. Built by python/build_native.py. */
#define _POSIX_C_SOURCE 200809L /* mkdir, stat under -std=c11 (tools/dvren_foveate.h's output folder) */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#define DVREN_NERF_IMPLEMENTATION
#include "dvren_nerf.h"
#include "dvren_image.h"
#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"
#define DVREN_SPLAT_PLY_IMPLEMENTATION
#include "dvren_splat_ply.h"
#define DVREN_MESH_IO_IMPLEMENTATION
#include "dvren_mesh_io.h"
#ifndef DVPY_NO_FOVEATE
#define DVREN_FOVEATE_IMPLEMENTATION
#include "dvren_foveate.h"
#endif

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DVPY_API __attribute__((visibility("default")))

/* "MAJOR.MINOR.PATCH" of the header this library was built from. */
DVPY_API const char* dvpy_version(void)
{
#define DVPY_STR2(x) #x
#define DVPY_STR(x) DVPY_STR2(x)
    return DVPY_STR(DVREN_VERSION_MAJOR) "." DVPY_STR(DVREN_VERSION_MINOR) "." DVPY_STR(DVREN_VERSION_PATCH);
}

/* sizeof of a public struct by name (0: unknown name): the Python tests
 * compare it with ctypes.sizeof of the mirrored struct, so that a layout
 * change in dvren.h cannot go unnoticed. */
DVPY_API size_t dvpy_sizeof(const char* name)
{
#define DVPY_SIZE(T) if (!strcmp(name, #T)) return sizeof(T);
    DVPY_SIZE(dvren_tensor)
    DVPY_SIZE(dvren_camera)
    DVPY_SIZE(dvren_rect)
    DVPY_SIZE(dvren_plan_desc)
    DVPY_SIZE(dvren_context_desc)
    DVPY_SIZE(dvren_allocator)
    DVPY_SIZE(dvren_scene_desc)
    DVPY_SIZE(dvren_scene_param)
    DVPY_SIZE(dvren_render_options)
    DVPY_SIZE(dvren_backward_options)
    DVPY_SIZE(dvren_image_f64)
    DVPY_SIZE(dvren_loss_desc)
    DVPY_SIZE(dvren_tv_desc)
    DVPY_SIZE(dvren_optimizer_desc)
    DVPY_SIZE(dvren_gradcheck_desc)
    DVPY_SIZE(dvren_gradcheck_result)
    DVPY_SIZE(dvren_cuda_info)
    DVPY_SIZE(dvren_cuda_memory)
    DVPY_SIZE(dvren_nerf_views)
    DVPY_SIZE(dvren_instance_info)
    DVPY_SIZE(dvren_buffer_desc)
    DVPY_SIZE(dvren_plugin_desc)
    DVPY_SIZE(dvren_param_desc)
    DVPY_SIZE(dvren_saliency_input)
    DVPY_SIZE(dvren_importance_params)
    DVPY_SIZE(dvren_budget_params)
    DVPY_SIZE(dvren_budget_stats)
    DVPY_SIZE(dvren_blocks_material)
    DVPY_SIZE(dvren_blocks_world)
    DVPY_SIZE(dvren_blocks_load_options)
    DVPY_SIZE(dvren_register_layout)
    DVPY_SIZE(dvren_register_input)
    DVPY_SIZE(dvren_register_plane)
    DVPY_SIZE(dvren_register_result)
    DVPY_SIZE(dvren_register_report)
    DVPY_SIZE(dvren_splat_params)
    DVPY_SIZE(dvren_splat_options)
    DVPY_SIZE(dvren_splat_stats)
    DVPY_SIZE(dvren_mesh)
    DVPY_SIZE(dvren_mc_options)
    DVPY_SIZE(dvren_mc_stats)
    DVPY_SIZE(dvren_grid_sample_desc)
    DVPY_SIZE(dvren_mesh_object)
    DVPY_SIZE(dvren_mesh_glb_object)
    DVPY_SIZE(dvren_mesh_glb)
    return 0;
#undef DVPY_SIZE
}

/* tools/dvren_image.h's PNG writer (8 or 16 bits, RGB or RGBA, atomic). */
DVPY_API dvren_status dvpy_write_png(dvren_context* ctx, const char* path, const float* rgb, const float* alpha,
                                     uint32_t width, uint32_t height, int bits)
{
    return dvren_image_write_png(ctx, path, rgb, alpha, width, height, bits);
}

/* dvren_blocks_argmax of every block of w: out[k] for k < N (material ids
 * 1..M), one call instead of N from Python. */
DVPY_API void dvpy_blocks_argmax(const dvren_blocks_world* w, uint32_t* out)
{
    uint32_t k;
    for (k = 0; k < w->block_count; ++k) out[k] = dvren_blocks_argmax(w, k);
}

/* ---- scene files (tools/dvren_scene.h), behind an opaque pointer */

DVPY_API dvren_scenefile* dvpy_scenefile_new(void) { return (dvren_scenefile*)calloc(1, sizeof(dvren_scenefile)); }
DVPY_API void dvpy_scenefile_free(dvren_scenefile* sf)
{
    if (!sf) return;
    dvren_scenefile_free(sf);
    free(sf);
}
DVPY_API int dvpy_scenefile_load(dvren_scenefile* sf, const char* path) { return dvren_scenefile_load(sf, path); }
DVPY_API int dvpy_scenefile_parse(dvren_scenefile* sf, const char* name, const char* text, size_t len, const char* dir)
{
    return dvren_scenefile_parse(sf, name, text, len, dir);
}
DVPY_API const char* dvpy_scenefile_error(const dvren_scenefile* sf) { return sf->error; }
DVPY_API int dvpy_scenefile_status(const dvren_scenefile* sf) { return (int)sf->status; }
/* What a context needs: device ("cpu"/"cuda"), GPU choice, threads (-1: unset). */
DVPY_API const char* dvpy_scenefile_device(const dvren_scenefile* sf) { return sf->device ? sf->device : "cpu"; }
DVPY_API void dvpy_scenefile_gpu(const dvren_scenefile* sf, uint32_t* index, const char** name, uint32_t* min_cc,
                                 int* threads)
{
    *index = sf->gpu_index;
    *name = sf->gpu_name;
    *min_cc = sf->gpu_min_cc;
    *threads = sf->has_threads ? (int)sf->threads : -1;
}
/* The scene's "output" (NULL png when absent), for tools that write it. */
DVPY_API void dvpy_scenefile_output(const dvren_scenefile* sf, const char** png, const char** npy, int* bits, int* alpha)
{
    *png = sf->png;
    *npy = sf->npy;
    *bits = sf->png_bits;
    *alpha = sf->png_alpha;
}
DVPY_API void dvpy_scenefile_override(dvren_scenefile* sf, uint32_t width, uint32_t height, uint32_t spp, int has_seed,
                                      uint64_t seed)
{
    sf->override_width = width;
    sf->override_height = height;
    sf->override_spp = spp;
    sf->override_seed = has_seed;
    sf->override_seed_value = seed;
}
DVPY_API int dvpy_scenefile_build(dvren_scenefile* sf, dvren_context* ctx) { return dvren_scenefile_build(sf, ctx); }
/* Hands the stages to the caller (the scene file no longer destroys them)
 * and copies the plan desc (its rays pointer is NULL: scene files have none). */
DVPY_API void dvpy_scenefile_take(dvren_scenefile* sf, dvren_stage** field, dvren_stage** shader, dvren_stage** sampler,
                                  dvren_plan_desc* plan)
{
    *field = sf->field;
    *shader = sf->shader;
    *sampler = sf->sampler;
    sf->field = sf->shader = sf->sampler = NULL;
    *plan = sf->plan;
}

/* ---- 3DGS PLY files (tools/dvren_splat_ply.h), for dvren.load_splats() */

/* Reads a 3DGS PLY (flags: DVREN_SPLAT_PLY_LENIENT or 0) into a new
 * dvren_splats (*out; NULL on failure, the error in ctx's last error);
 * *count and *degree give the sizes of dvpy_splats_copy's arrays. */
DVPY_API dvren_status dvpy_splats_load(dvren_context* ctx, const char* path, unsigned flags, dvren_splats** out,
                                       uint64_t* count, uint32_t* degree)
{
    dvren_splats* s = (dvren_splats*)calloc(1, sizeof *s);
    dvren_status st;
    *out = NULL;
    *count = 0;
    *degree = 0;
    if (!s) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splat_ply", NULL, "out of memory");
    st = dvren_splat_ply_load(ctx, path, flags, s);
    if (st != DVREN_OK) {
        free(s);
        return st;
    }
    *out = s;
    *count = (uint64_t)s->count;
    *degree = (uint32_t)s->sh_degree;
    return DVREN_OK;
}

/* Copies s into the renderer's layout through dvren_splats_to_params
 * (tools/dvren_splat_ply.h): means (N, 3), log_scales (N, 3), quats (N, 4)
 * w x y z, opacity_logits (N), sh (N, K, 3), K = (degree + 1)^2. The
 * caller's arrays hold exactly those sizes. Errors: those of
 * dvren_splats_to_params. */
DVPY_API dvren_status dvpy_splats_copy(dvren_context* ctx, const dvren_splats* s, float* means, float* log_scales,
                                       float* quats, float* opacity_logits, float* sh)
{
    dvren_splat_params p;
    dvren_status st;
    size_t n = s->count, K;
    if (n == 0) return DVREN_OK;
    st = dvren_splats_to_params(ctx, s, &p);
    if (st != DVREN_OK) return st;
    K = (size_t)(p.sh_degree + 1u) * (p.sh_degree + 1u);
    memcpy(means, p.means.data, n * 3 * sizeof(float));
    memcpy(log_scales, p.log_scales.data, n * 3 * sizeof(float));
    memcpy(quats, p.quats.data, n * 4 * sizeof(float));
    memcpy(opacity_logits, p.opacity_logits.data, n * sizeof(float));
    memcpy(sh, p.sh.data, n * K * 3 * sizeof(float));
    dvren_splats_params_free(ctx, &p);
    return DVREN_OK;
}

DVPY_API void dvpy_splats_free(dvren_splats* s)
{
    if (!s) return;
    dvren_splats_free(s);
    free(s);
}

/* ---- the foveation pipeline (tools/dvren_foveate.h), for dvren.foveate() */

/* 1 when the library holds the pipeline (built with OpenEXR's C API). */
DVPY_API int dvpy_foveate_available(void)
{
#ifdef DVPY_NO_FOVEATE
    return 0;
#else
    return 1;
#endif
}

/* Runs stages (DVREN_FOVEATE_* bits) of the pipeline on a scene:
 * dvren_foveate_run_scene (tools/dvren_foveate.h), which tools/dvren_foveate.c
 * runs too, with a request from these arguments: the scene file (scene_path;
 * or, with scene_text, JSON text of scene_len bytes named scene_path in
 * messages, relative paths from base_dir), then config_json over its
 * "foveate" object (a JSON object with the same keys: Python's keyword
 * arguments), out_dir as the output folder (NULL: the configuration's);
 * stages: 0 for all; device "cpu", "cuda" or
 * "cuda:N" (NULL: the scene's), gpu_index (-1: the scene's), gpu_name
 * (NULL: the scene's), min_cc (0: the scene's), threads (-1: the scene's),
 * width/height (0: the scene's), seed (has_seed 0: the scene's);
 * plugin_path: the context's plugin folders (the package's own); clean,
 * quiet: as the request's. Returns DVREN_OK with ms[3] and *stats (the
 * result's), else the result's status (dvren_foveate_result: FORMAT,
 * INVALID_ARGUMENT, NOT_FOUND, NO_DEVICE, TIMEOUT, ...) with its message
 * in err. */
DVPY_API int dvpy_foveate(const char* scene_path, const char* scene_text, size_t scene_len, const char* base_dir,
                          const char* config_json, const char* out_dir, uint32_t stages, const char* device,
                          int gpu_index, const char* gpu_name, uint32_t min_cc, int threads, uint32_t width,
                          uint32_t height, int has_seed, uint64_t seed, const char* plugin_path, int clean, int quiet,
                          char* err, size_t err_cap, double* ms, dvren_budget_stats* stats)
{
#ifdef DVPY_NO_FOVEATE
    (void)scene_path, (void)scene_text, (void)scene_len, (void)base_dir, (void)config_json, (void)out_dir;
    (void)stages, (void)device, (void)gpu_index, (void)gpu_name, (void)min_cc, (void)threads, (void)width;
    (void)height, (void)has_seed, (void)seed, (void)plugin_path, (void)clean, (void)quiet, (void)ms, (void)stats;
    if (err && err_cap)
        snprintf(err, err_cap, "dvren.foveate: this build of the package has no pipeline: it was built without OpenEXR's "
                               "C API (Debian libopenexr-dev missing, or DVREN_PY_FOVEATE=0); install it and rebuild");
    return DVREN_ERROR_UNSUPPORTED;
#else
    dvren_foveate_request req;
    dvren_foveate_result res;
    cJSON* over = NULL;
    dvren_status s;
    memset(stats, 0, sizeof *stats);
    ms[0] = ms[1] = ms[2] = 0.0;
    if (err && err_cap) err[0] = 0;
    if (config_json && !(over = cJSON_Parse(config_json))) {
        if (err && err_cap)
            snprintf(err, err_cap, "dvren.foveate: the settings are not JSON near '%.40s'",
                     cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
        return DVREN_ERROR_INVALID_ARGUMENT;
    }
    memset(&req, 0, sizeof req);
    req.scene_path = scene_path;
    req.scene_text = scene_text;
    req.scene_len = scene_len;
    req.base_dir = base_dir;
    req.config = over;
    req.config_name = "dvren.foveate()";
    req.out_dir = out_dir;
    req.stages = stages;
    req.clean = clean;
    req.quiet = quiet;
    req.program = "dvren.foveate";
    req.device = device;
    req.has_gpu_index = gpu_index >= 0;
    req.gpu_index = gpu_index >= 0 ? (uint32_t)gpu_index : 0;
    req.gpu_name = gpu_name;
    req.min_cc = min_cc;
    req.has_threads = threads >= 0;
    req.threads = threads >= 0 ? (uint32_t)threads : 0;
    req.plugin_path = plugin_path;
    req.width = width;
    req.height = height;
    req.has_seed = has_seed;
    req.seed = seed;
    s = dvren_foveate_run_scene(&req, &res);
    if (s == DVREN_OK) {
        memcpy(ms, res.ms, sizeof res.ms);
        *stats = res.stats;
    } else if (err && err_cap) {
        snprintf(err, err_cap, "%s", res.error);
    }
    cJSON_Delete(over);
    return (int)s;
#endif
}

/* ---- DLPack export (python/dvren/_dlpack.py) -------------------------------
 * A DLManagedTensor (DLPack 0.8, https://dmlc.github.io/dlpack/latest/c_api.html)
 * allocated here, whose deleter is a C function: a consumer (PyTorch) may
 * destroy its tensor at any time, during interpreter shutdown included, when
 * a ctypes callback can no longer run. The deleter drops the reference the
 * tensor holds on its Python owner (the export token that keeps dvren's
 * memory alive), through CPython functions whose addresses Python hands over
 * once (dvpy_dlpack_init: the library does not link libpython); after
 * shutdown has begun it only frees the struct (the process is ending). */

typedef struct dvpy_dl_tensor {
    void* data;
    struct { int32_t device_type, device_id; } device;
    int32_t ndim;
    struct { uint8_t code, bits; uint16_t lanes; } dtype;
    int64_t* shape;
    int64_t* strides;
    uint64_t byte_offset;
} dvpy_dl_tensor;

typedef struct dvpy_dl_managed {
    dvpy_dl_tensor dl_tensor;
    void* manager_ctx; /* the Python owner (a strong reference) */
    void (*deleter)(struct dvpy_dl_managed* self);
    int64_t dims[2 * DVREN_MAX_DIMS]; /* shape, then strides */
} dvpy_dl_managed;

static struct {
    void (*decref)(void*);
    int (*gil_ensure)(void);
    void (*gil_release)(int);
    int (*is_initialized)(void);
    int (*capsule_is_valid)(void*, const char*);
    void* (*capsule_get_pointer)(void*, const char*);
} dvpy_py;

/* The CPython functions the deleters call: Py_DecRef, PyGILState_Ensure,
 * PyGILState_Release, Py_IsInitialized, PyCapsule_IsValid,
 * PyCapsule_GetPointer (addresses, from ctypes.pythonapi). */
DVPY_API void dvpy_dlpack_init(void* decref, void* gil_ensure, void* gil_release, void* is_initialized,
                               void* capsule_is_valid, void* capsule_get_pointer)
{
    *(void**)&dvpy_py.decref = decref;
    *(void**)&dvpy_py.gil_ensure = gil_ensure;
    *(void**)&dvpy_py.gil_release = gil_release;
    *(void**)&dvpy_py.is_initialized = is_initialized;
    *(void**)&dvpy_py.capsule_is_valid = capsule_is_valid;
    *(void**)&dvpy_py.capsule_get_pointer = capsule_get_pointer;
}

static void dvpy_dlpack_delete(dvpy_dl_managed* m)
{
    if (!m) return;
    if (m->manager_ctx && dvpy_py.decref && dvpy_py.is_initialized && dvpy_py.is_initialized()) {
        int g = dvpy_py.gil_ensure();
        dvpy_py.decref(m->manager_ctx);
        dvpy_py.gil_release(g);
    }
    free(m);
}

/* A managed tensor over data (shape and strides in elements, ndim <= 4)
 * holding owner, a PyObject* whose reference the caller has taken for it
 * (dropped by the deleter). NULL when out of memory. */
DVPY_API void* dvpy_dlpack_new(void* data, int32_t ndim, const int64_t* shape, const int64_t* strides, uint8_t code,
                               uint8_t bits, int32_t device_type, int32_t device_id, void* owner)
{
    dvpy_dl_managed* m;
    int32_t i;
    if (ndim < 0 || ndim > (int32_t)DVREN_MAX_DIMS) return NULL;
    m = (dvpy_dl_managed*)calloc(1, sizeof *m);
    if (!m) return NULL;
    for (i = 0; i < ndim; ++i) {
        m->dims[i] = shape[i];
        m->dims[DVREN_MAX_DIMS + i] = strides[i];
    }
    m->dl_tensor.data = data;
    m->dl_tensor.device.device_type = device_type;
    m->dl_tensor.device.device_id = device_id;
    m->dl_tensor.ndim = ndim;
    m->dl_tensor.dtype.code = code;
    m->dl_tensor.dtype.bits = bits;
    m->dl_tensor.dtype.lanes = 1;
    m->dl_tensor.shape = m->dims;
    m->dl_tensor.strides = m->dims + DVREN_MAX_DIMS;
    m->manager_ctx = owner;
    m->deleter = dvpy_dlpack_delete;
    return m;
}

/* The capsule destructor: a capsule nobody consumed (still named
 * "dltensor") still owns its tensor. */
DVPY_API void dvpy_dlpack_capsule_destructor(void* capsule)
{
    if (dvpy_py.capsule_is_valid && dvpy_py.capsule_is_valid(capsule, "dltensor"))
        dvpy_dlpack_delete((dvpy_dl_managed*)dvpy_py.capsule_get_pointer(capsule, "dltensor"));
}

/* The capsule names, in static storage (a capsule keeps the pointer and may
 * outlive the Python strings of a module being torn down). */
DVPY_API const char* dvpy_dlpack_name(int used) { return used ? "used_dltensor" : "dltensor"; }
