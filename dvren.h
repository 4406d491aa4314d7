/* dvren.h - differentiable volume rendering in one C header.   version 0.1.0
 *
 * dvren renders volumes (dense grids today; hash grids and sparse volumes are
 * plugins to come) by emission-absorption ray marching. Fields, shaders and
 * samplers are plugins (shared libraries) loaded at run time; their
 * per-sample code is written once and compiled by the C compiler for the CPU
 * and by NVRTC for the GPU (dvren_cuda.h).
 *
 * DO THIS in exactly one C or C++ file:
 *
 *     #define DVREN_IMPLEMENTATION
 *     #include "dvren.h"
 *
 * and link with -ldl -lm -lpthread (Windows: nothing extra). Other files
 * include "dvren.h" without the macro. Plugins include it without the macro
 * too: they see the ABI and the device vocabulary, never the implementation.
 *
 * CONFIGURATION (define before including)
 *
 *     DVREN_IMPLEMENTATION  compile the implementation into this file
 *     DVREN_STATIC          make every API function static (private copy)
 *     DVREN_API             override the declaration prefix (default extern)
 *     DVREN_NO_THREADS      CPU renderer runs on the calling thread only
 *     DVREN_NO_GRADCHECK    leave out dvren_gradcheck and the float64 reference path (dvren_render_f64)
 *     DVREN_NO_CHECKPOINT   leave out dvren_checkpoint_save / _load
 *     DVREN_HEADER_FILE     this file's name, if you renamed it (it includes itself)
 *
 * WHAT DVREN DOES NOT DO
 *   - no window, no display, no scene graph: you get arrays (tensors) back;
 *   - no image codecs in this header: PNG/EXR writing lives in tools/ (stb);
 *     .npy writing is here because it is twenty lines of libc;
 *   - no global state: everything hangs off a dvren_context, and a process
 *     may hold several; nothing is printed unless you set a log sink.
 *
 * EXAMPLE (error handling trimmed; examples/minimal.c has it in full)
 *
 *     dvren_context* ctx;
 *     dvren_context_desc cd = {0};
 *     cd.log = dvren_log_to_file;                 // "[step] ..." lines to stderr
 *     dvren_context_create(&cd, &ctx);
 *
 *     dvren_params* p; dvren_params_create(ctx, &p);
 *     dvren_params_set_string(p, "file", "ct_head/quarter.nhdr");
 *     dvren_stage* field;
 *     dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p, &field);
 *     ... shader "emission_absorption", sampler "uniform" likewise ...
 *
 *     dvren_scene_desc sd = {0}; sd.field = field; sd.shader = shader; sd.sampler = sampler;
 *     dvren_scene* scene; dvren_scene_create(ctx, &sd, &scene);
 *
 *     dvren_plan_desc pd = {0};
 *     pd.width = 512; pd.height = 512;
 *     dvren_camera_look_at(eye, target, up, 0.6f, &pd.camera);
 *     dvren_plan* plan; dvren_plan_create(ctx, &pd, &plan);
 *     dvren_framebuffer* fb; dvren_framebuffer_create(ctx, plan, &fb);
 *     dvren_render(scene, plan, fb, NULL);
 *     dvren_tensor rgb; dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb); // (512, 512, 3) f32
 *
 * CONTENTS (search for the tag)
 *   >>device     device vocabulary shared with NVRTC (generated from kernels/)
 *   >>status     status codes, last error
 *   >>alloc      allocator hooks
 *   >>log        log sink and tags
 *   >>context    contexts
 *   >>tensor     tensors (dtype, shape, strides; owning or borrowing)
 *   >>camera     pinhole, orthographic, matrix cameras
 *   >>params     parameter sets and schemas
 *   >>plugins    the plugin ABI and plugin loading
 *   >>stage      stage instances (field, shader, sampler)
 *   >>render     scenes, plans, framebuffers, rendering
 *   >>autodiff   parameters and gradients, the backward pass, the gradient checker
 *   >>train      losses, total variation, optimizers, checkpoints
 *   >>foveate    saliency models (plugins), importance maps, per-pixel budgets
 *   >>register   image registration (plugins): CFA planes, combined shifts
 *   >>meshes     marching cubes: meshes out of sampled fields
 *   >>files      atomic file writes, .npy
 *   (implementation, below the API, each section tagged "(implementation)"; and)
 *   >>backend    the hook table every device fills (memory and launches)
 *   >>cpu        the CPU backend: tiles and worker threads, training loops
 *   >>generated  copies of kernels/: the device vocabulary, the ray-march
 *                template (read in float32 and float64), the training elements
 *
 * MEMORY: every host allocation goes through the context's allocator. Objects
 * are created and destroyed in pairs; memory never crosses a library boundary
 * (plugins allocate and free through dvren_host).
 *
 * ERRORS: every fallible call returns dvren_status (DVREN_OK = 0, errors < 0);
 * dvren_last_error(ctx) gives "module: what happened (hint: what to do)".
 * Calls without a context keep their message per thread (dvren_last_error(NULL)).
 *
 * THREADS: a context and its objects are used by one thread at a time. The
 * CPU renderer uses its own worker threads inside dvren_render.
 *
 * CUDA: dvren_cuda.h (next to this file) adds the GPU backend.
 *
 * LICENSE: see LICENSE in the repository.
 */
#ifndef DVREN_H
#define DVREN_H

/* This file's name, for including itself (the generated sections at its
 * end); change it only if you rename the file. */
#ifndef DVREN_HEADER_FILE
#define DVREN_HEADER_FILE "dvren.h"
#endif

#include <stddef.h>
#include <stdint.h>

#define DVREN_VERSION_MAJOR 0
#define DVREN_VERSION_MINOR 1
#define DVREN_VERSION_PATCH 0

/* Plugin ABI version: a host refuses plugins of another major version and a
 * plugin may refuse a host (docs/plugins.md, "Versions"). Minor versions only
 * append fields at the end of structs (each begins with struct_size). */
#define DVREN_ABI_MAJOR 1u
#define DVREN_ABI_MINOR 4u
#define DVREN_ABI_VERSION ((DVREN_ABI_MAJOR << 16) | DVREN_ABI_MINOR)

#ifndef DVREN_API
#ifdef DVREN_STATIC
#define DVREN_API static
#else
#define DVREN_API extern
#endif
#endif

#if defined(_WIN32)
#define DVREN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define DVREN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DVREN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DVREN_PRINTF(f, a)
#endif

/* The device vocabulary (kernels/dvren_device.h): the types and functions
 * that plugins' per-sample code and the kernels share. Its generated copy
 * sits in >>generated at the end of this file and is read from here by
 * including this file again (the guards above skip everything else). */
#define DVREN__GEN_DEVICE
#include DVREN_HEADER_FILE
#undef DVREN__GEN_DEVICE

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* >>status                                                                 */
/* ======================================================================== */

/* Result of every fallible call. Errors are negative; the text of the last
 * one is in dvren_last_error(). */
typedef enum dvren_status {
    DVREN_OK = 0,
    DVREN_ERROR_INVALID_ARGUMENT = -1, /* a value is out of range or inconsistent */
    DVREN_ERROR_OUT_OF_MEMORY = -2,    /* an allocation failed */
    DVREN_ERROR_IO = -3,               /* a file could not be opened, read or written */
    DVREN_ERROR_FORMAT = -4,           /* a file's content is malformed or unsupported */
    DVREN_ERROR_NOT_FOUND = -5,        /* a plugin, parameter or output does not exist */
    DVREN_ERROR_PLUGIN = -6,           /* a plugin library is not usable (ABI, symbol, declined) */
    DVREN_ERROR_UNSUPPORTED = -7,      /* valid request this build or device cannot do */
    DVREN_ERROR_NO_DEVICE = -8,        /* the requested device (GPU, driver) is absent */
    DVREN_ERROR_DEVICE = -9,           /* the device failed during a call */
    DVREN_ERROR_COMPILE = -10,         /* device source failed to compile (NVRTC) */
    DVREN_ERROR_CANCELLED = -11,       /* a progress callback asked to stop */
    DVREN_ERROR_INTERNAL = -12,        /* a bug in dvren: please report it */
    DVREN_ERROR_TIMEOUT = -13,         /* a program or wait ran past its time limit (the external saliency model) */
    DVREN_STATUS_FORCE_32 = 0x7FFFFFFF
} dvren_status;

typedef struct dvren_context dvren_context;

/* Static name of a status ("DVREN_ERROR_IO"); "DVREN_UNKNOWN_STATUS" otherwise. */
DVREN_API const char* dvren_status_string(dvren_status status);

/* Text of the last error recorded on ctx, "module: message (hint: ...)", or of
 * the calling thread's last context-free error when ctx is NULL. Never NULL;
 * "" when there was none. Valid until the next call that fails. */
DVREN_API const char* dvren_last_error(const dvren_context* ctx);
/* The status that went with dvren_last_error (DVREN_OK when none was
 * recorded): for code that reports a failure later than the call, such as
 * a pipeline stage naming what failed. */
DVREN_API dvren_status dvren_last_status(const dvren_context* ctx);

/* ======================================================================== */
/* >>alloc                                                                  */
/* ======================================================================== */

/* Allocator hooks: both or neither. alloc returns memory aligned to at least
 * `align` bytes (a power of two, <= 4096) or NULL; free receives the size
 * that was asked for. May be called from any of the renderer's threads. */
typedef struct dvren_allocator {
    void* (*alloc)(size_t size, size_t align, void* user);
    void (*free)(void* ptr, size_t size, void* user);
    void* user;
} dvren_allocator;

/* ======================================================================== */
/* >>log                                                                    */
/* ======================================================================== */

typedef enum dvren_log_level {
    DVREN_LOG_ERROR = 0,
    DVREN_LOG_WARN = 1,
    DVREN_LOG_INFO = 2,
    DVREN_LOG_DEBUG = 3,
    DVREN_LOG_LEVEL_FORCE_32 = 0x7FFFFFFF
} dvren_log_level;

/* Tags that begin every log line. */
#define DVREN_TAG_STEP "[step]"     /* what is being done: loading, creating, rendering */
#define DVREN_TAG_ENV "[env]"       /* environment: threads, paths, variables read */
#define DVREN_TAG_DEVICE "[device]" /* devices: names, compute capability, versions */
#define DVREN_TAG_TIMER "[timer]"   /* measured durations */
#define DVREN_TAG_ERROR "[ERROR]"   /* every error also goes to the log */

/* Log sink: receives one complete line, "[tag] text" without a newline.
 * Called from the thread that made the API call (never from worker threads). */
typedef void (*dvren_log_fn)(void* user, dvren_log_level level, const char* line);

/* Ready-made sink: writes the line and a newline to the FILE* in user
 * (stderr when user is NULL) and flushes. */
DVREN_API void dvren_log_to_file(void* user, dvren_log_level level, const char* line);

/* ======================================================================== */
/* >>context                                                                */
/* ======================================================================== */

typedef enum dvren_device_kind {
    DVREN_DEVICE_CPU = 0,  /* the CPU renderer in this header */
    DVREN_DEVICE_CUDA = 1, /* an NVIDIA GPU through dvren_cuda.h (backend = dvren_cuda_backend()) */
    DVREN_DEVICE_FORCE_32 = 0x7FFFFFFF
} dvren_device_kind;

/* A device backend: a table of hooks that dvren_cuda.h provides
 * (dvren_cuda_backend()); opaque to users. */
typedef struct dvren_backend dvren_backend;

/* Zero fields take the default written beside them. */
typedef struct dvren_context_desc {
    dvren_allocator allocator;  /* default: the C library (aligned) */
    dvren_log_fn log;           /* default: none (the library prints nothing) */
    void* log_user;             /* passed to log */
    dvren_log_level log_level;  /* lines above this level are dropped; default (0) means INFO */
    uint32_t threads;           /* CPU worker threads; 0: $DVREN_THREADS, else all cores; max 1024 */
    const char* plugin_path;    /* extra plugin folders searched first, ':'-separated (';' on Windows) */
    dvren_device_kind device;   /* default CPU; anything else needs `backend` */
    const dvren_backend* backend;     /* the device's backend, e.g. dvren_cuda_backend(); NULL for the CPU */
    /* Device choice (GPU backends): the first device, counting from
     * device_index, whose name contains device_name (case-insensitive; NULL:
     * any) and whose compute capability is at least min_compute_capability
     * (major*10 + minor, e.g. 86 for an RTX 3060; 0: any). No match is
     * DVREN_ERROR_NO_DEVICE, never another device. */
    uint32_t device_index;
    const char* device_name;
    uint32_t min_compute_capability;
    /* Folder of the on-disk kernel cache (GPU backends). NULL: $DVREN_CACHE_DIR,
     * else $XDG_CACHE_HOME/dvren, else ~/.cache/dvren; "": no disk cache. */
    const char* kernel_cache_dir;
    uint32_t flags;             /* DVREN_CONTEXT_* */
} dvren_context_desc;

/* The log sink receives structured JSON lines instead of "[tag] text", one
 * object per line: {"time_ms": <since the context was created>, "level":
 * "error"|"warn"|"info"|"debug", "tag": "step"|"env"|"device"|"timer"|"error",
 * "message": "<text>"} (RFC 8259 strings), for tools that parse logs. */
#define DVREN_CONTEXT_LOG_JSON 0x1u

/* Creates a context. Errors: INVALID_ARGUMENT (one allocator hook without
 * the other, threads > 1024, unknown device, a backend for another device),
 * UNSUPPORTED (a GPU asked for without a backend: include dvren_cuda.h),
 * NO_DEVICE (no driver, no GPU, or none matching the device choice),
 * DEVICE, OUT_OF_MEMORY. A context never falls back to another device. On
 * error *out is NULL and the text is in dvren_last_error(NULL). Any thread;
 * the context then belongs to it. */
DVREN_API dvren_status dvren_context_create(const dvren_context_desc* desc, dvren_context** out);
/* Destroys the context and unloads its plugins' libraries. Destroy the
 * objects made from it (stages, scenes, plans, framebuffers, tensors) first.
 * NULL is ignored. */
DVREN_API void dvren_context_destroy(dvren_context* ctx);
/* The context's device. */
DVREN_API dvren_device_kind dvren_context_device(const dvren_context* ctx);
/* Waits until the device has finished all work submitted through ctx
 * (renders on a GPU are asynchronous; reading a framebuffer output waits by
 * itself). No-op on the CPU. Errors: DEVICE. */
DVREN_API dvren_status dvren_synchronize(dvren_context* ctx);
/* Worker threads the CPU renderer uses (>= 1). */
DVREN_API uint32_t dvren_context_threads(const dvren_context* ctx);
/* Writes "[tag] text" to the context's log sink if level passes its filter. */
DVREN_API void dvren_log(dvren_context* ctx, dvren_log_level level, const char* tag, const char* fmt, ...)
    DVREN_PRINTF(4, 5);
/* Records an error on ctx (or the thread, when ctx is NULL) as
 * "module: message (hint: hint)", logs it under [ERROR], returns status.
 * hint may be NULL. For tools that want their errors reported like dvren's. */
DVREN_API dvren_status dvren_set_error(dvren_context* ctx, dvren_status status, const char* module, const char* hint,
                                       const char* fmt, ...) DVREN_PRINTF(5, 6);

/* ======================================================================== */
/* >>tensor                                                                 */
/* ======================================================================== */

typedef enum dvren_dtype {
    DVREN_DTYPE_INVALID = 0,
    DVREN_DTYPE_F32 = 1, /* IEEE binary32 */
    DVREN_DTYPE_F16 = 2, /* IEEE binary16 (dvren_half_to_float / dvren_float_to_half) */
    DVREN_DTYPE_U8 = 3,
    DVREN_DTYPE_U16 = 4,
    DVREN_DTYPE_U32 = 5, /* counts (samples used) */
    DVREN_DTYPE_FORCE_32 = 0x7FFFFFFF
} dvren_dtype;

typedef enum dvren_memory {
    DVREN_MEMORY_HOST = 0,
    DVREN_MEMORY_DEVICE = 1, /* with dvren_cuda.h */
    DVREN_MEMORY_FORCE_32 = 0x7FFFFFFF
} dvren_memory;

#define DVREN_MAX_DIMS 4
#define DVREN_TENSOR_OWNS_DATA 0x1u

/* An n-dimensional array view (like DLPack's DLTensor). shape[] is outermost
 * first (C order): a volume of X*Y*Z voxels with C channels is (Z, Y, X, C),
 * x fastest after the channel. strides[] are in elements, not bytes. Entries
 * at and after ndim are 0. A tensor either owns its data (made by
 * dvren_tensor_create, freed by dvren_tensor_destroy) or borrows it
 * (dvren_tensor_wrap: the caller keeps the memory alive). */
typedef struct dvren_tensor {
    void* data;                       /* host pointer, or the device address (DVREN_MEMORY_DEVICE) */
    dvren_dtype dtype;
    uint32_t ndim;                    /* 1 .. DVREN_MAX_DIMS */
    int64_t shape[DVREN_MAX_DIMS];
    int64_t strides[DVREN_MAX_DIMS];  /* elements */
    dvren_memory memory;
    uint32_t flags;                   /* DVREN_TENSOR_OWNS_DATA */
} dvren_tensor;

/* The four helpers below are inline so that plugins, which do not link
 * dvren's implementation, can use them. */

/* Size of one element in bytes (0 for an invalid dtype). */
static inline size_t dvren_dtype_size(dvren_dtype dtype)
{
    switch (dtype) {
    case DVREN_DTYPE_F32: return 4;
    case DVREN_DTYPE_F16: return 2;
    case DVREN_DTYPE_U8: return 1;
    case DVREN_DTYPE_U16: return 2;
    case DVREN_DTYPE_U32: return 4;
    default: return 0;
    }
}

/* "f32", "f16", "u8", "u16", "u32", or "invalid". */
static inline const char* dvren_dtype_name(dvren_dtype dtype)
{
    switch (dtype) {
    case DVREN_DTYPE_F32: return "f32";
    case DVREN_DTYPE_F16: return "f16";
    case DVREN_DTYPE_U8: return "u8";
    case DVREN_DTYPE_U16: return "u16";
    case DVREN_DTYPE_U32: return "u32";
    default: return "invalid";
    }
}

/* Number of elements (product of shape), 0 for an empty or invalid tensor. */
static inline int64_t dvren_tensor_numel(const dvren_tensor* t)
{
    int64_t n = 1;
    uint32_t i;
    if (!t || t->ndim < 1 || t->ndim > DVREN_MAX_DIMS) return 0;
    for (i = 0; i < t->ndim; ++i) n *= t->shape[i];
    return n;
}

/* 1 when strides are the contiguous C-order strides of shape. */
static inline int dvren_tensor_is_contiguous(const dvren_tensor* t)
{
    int64_t s = 1;
    uint32_t i;
    if (!t || t->ndim < 1 || t->ndim > DVREN_MAX_DIMS) return 0;
    for (i = t->ndim; i-- > 0;) {
        if (t->shape[i] != 1 && t->strides[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

/* Allocates a zero-filled, contiguous host tensor (64-byte aligned) through
 * ctx's allocator. Errors: INVALID_ARGUMENT (ndim outside 1..4, a dimension
 * < 1, unknown dtype, size overflow), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_tensor_create(dvren_context* ctx, dvren_dtype dtype, uint32_t ndim, const int64_t* shape,
                                           dvren_tensor* out);
/* Describes borrowed host memory. strides NULL means contiguous C order.
 * Errors: INVALID_ARGUMENT (NULL data, bad ndim/shape/dtype, negative stride);
 * the message goes to dvren_last_error(NULL). */
DVREN_API dvren_status dvren_tensor_wrap(void* data, dvren_dtype dtype, uint32_t ndim, const int64_t* shape,
                                         const int64_t* strides, dvren_tensor* out);
/* Frees owned data (no-op for borrowed data) and zeroes *t. Device tensors
 * go back to their context's memory pool. */
DVREN_API void dvren_tensor_destroy(dvren_context* ctx, dvren_tensor* t);

/* ======================================================================== */
/* >>camera                                                                 */
/* ======================================================================== */
/* dvren_camera (struct, in >>device) is plain data shared with the kernels.
 * Conventions are OpenGL's: right-handed world; the camera looks down -z with
 * +y up; pixel (0,0) is the image's top-left corner, pixel centres at +0.5. */

/* Perspective pinhole camera at eye looking at target, with up roughly up
 * and a vertical field of view fov_y_rad in (0, pi). The horizontal field of
 * view follows the plan's aspect ratio. Errors: INVALID_ARGUMENT (eye ==
 * target, up parallel to the view direction, fov out of range, non-finite). */
DVREN_API dvren_status dvren_camera_look_at(const float eye[3], const float target[3], const float up[3],
                                            float fov_y_rad, dvren_camera* out);
/* Orthographic camera: parallel rays along target - eye, starting on the
 * plane through eye; the image height spans height_world world units (> 0);
 * the width follows the aspect ratio. Errors as dvren_camera_look_at. */
DVREN_API dvren_status dvren_camera_orthographic(const float eye[3], const float target[3], const float up[3],
                                                 float height_world, dvren_camera* out);
/* Camera from OpenGL matrices, both column-major float[16] as glm and
 * glUniformMatrix4fv(transpose = GL_FALSE) use them: view maps world to eye
 * space (camera at the origin looking down -z), projection maps eye space to
 * clip space (glFrustum/gluPerspective or glOrtho form; NDC in [-1,1]^3). Rays
 * go from the near plane (z_ndc = -1) to the far plane; perspective rays
 * start at the eye, orthographic ones on the near plane. Errors:
 * INVALID_ARGUMENT (singular view or projection*view, non-finite values). */
DVREN_API dvren_status dvren_camera_from_matrices(const float view[16], const float projection[16], dvren_camera* out);
/* Pinhole camera from OpenCV's conventions, as COLMAP, 3DGS and gsplat
 * store them: viewmat the row-major 4x4 world-to-camera matrix [R t; 0 0 0
 * 1] (camera x right, y down, z forward; R a rotation), K the row-major 3x3
 * intrinsics [fx 0 cx; 0 fy cy; 0 0 1] in pixels of the plan's image (pixel
 * centres at +0.5, as in OpenCV's and gsplat's projection x = fx X/Z + cx).
 * Model DVREN_CAMERA_INTRINSICS: volume renders cast the matching rays, and
 * splat renders project with it directly. Errors: INVALID_ARGUMENT
 * (non-finite values, R not a rotation to 1e-3, last row not 0 0 0 1, fx
 * or fy <= 0, skew K[1] != 0, K's last row not 0 0 1). */
DVREN_API dvren_status dvren_camera_from_opencv(const float viewmat[16], const float K[9], dvren_camera* out);

/* ======================================================================== */
/* >>params                                                                 */
/* ======================================================================== */

/* Types of plugin parameters. */
typedef enum dvren_param_type {
    DVREN_PARAM_INVALID = 0,
    DVREN_PARAM_FLOAT = 1,  /* a real number */
    DVREN_PARAM_INT = 2,    /* an integer (a number with no fractional part) */
    DVREN_PARAM_BOOL = 3,
    DVREN_PARAM_STRING = 4,
    DVREN_PARAM_ENUM = 5,   /* a string from enum_values */
    DVREN_PARAM_PATH = 6,   /* a file path; tools resolve it relative to the scene file */
    DVREN_PARAM_FLOATS = 7, /* an array of numbers (a vector, a list of control points) */
    DVREN_PARAM_TENSOR = 8, /* a dvren_tensor (from C only; JSON cannot give one) */
    DVREN_PARAM_TYPE_FORCE_32 = 0x7FFFFFFF
} dvren_param_type;

#define DVREN_PARAM_REQUIRED 0x1u      /* must be given (no default) */
#define DVREN_PARAM_HAS_MIN 0x2u       /* min_value applies (FLOAT, INT, each element of FLOATS) */
#define DVREN_PARAM_HAS_MAX 0x4u       /* max_value applies */
#define DVREN_PARAM_MIN_EXCLUSIVE 0x8u /* with HAS_MIN: value > min_value (e.g. a radius > 0) */
#define DVREN_PARAM_MAX_EXCLUSIVE 0x10u /* with HAS_MAX: value < max_value */
#define DVREN_PARAM_LIVE 0x20u          /* ABI 1.3: dvren_stage_update may change it after creation */

/* One entry of a plugin's parameter schema (ABI struct). The CLI, docs and
 * validation are generated from it: the host checks every value against it
 * before the plugin sees the parameters, and fills in defaults. */
typedef struct dvren_param_desc {
    uint32_t struct_size;       /* sizeof(dvren_param_desc) the plugin was built with */
    dvren_param_type type;
    const char* name;           /* [a-z0-9_]+, unique within the plugin */
    const char* doc;            /* one line */
    const char* unit;           /* e.g. "world units", "1/world unit"; "" when none */
    uint32_t flags;             /* DVREN_PARAM_* */
    double default_number;      /* FLOAT, INT, BOOL (0/1) */
    const char* default_string; /* STRING, ENUM, PATH; NULL: unset unless given */
    double min_value, max_value;
    const char* enum_values;    /* ENUM: choices separated by '|' ("u8|u16|f32") */
    uint32_t count_min;         /* FLOATS: fewest elements */
    uint32_t count_max;         /* FLOATS: most elements (0: no limit) */
    uint32_t stride;            /* FLOATS: count must be a multiple of this (0, 1: any) */
    const double* default_numbers; /* FLOATS: default values (NULL: unset unless given) */
    uint32_t default_count;        /* FLOATS: number of default values */
} dvren_param_desc;

/* A set of named values (an ordered map), given to dvren_stage_create. */
typedef struct dvren_params dvren_params;

/* Errors of the setters: INVALID_ARGUMENT (NULL or empty name, NULL value),
 * OUT_OF_MEMORY. Setting a name again replaces its value. Values are copied,
 * except tensors, which are borrowed until the stage is created. */
DVREN_API dvren_status dvren_params_create(dvren_context* ctx, dvren_params** out);
DVREN_API void dvren_params_destroy(dvren_params* p);
DVREN_API dvren_status dvren_params_set_number(dvren_params* p, const char* name, double value);
DVREN_API dvren_status dvren_params_set_bool(dvren_params* p, const char* name, int value);
DVREN_API dvren_status dvren_params_set_string(dvren_params* p, const char* name, const char* value);
DVREN_API dvren_status dvren_params_set_numbers(dvren_params* p, const char* name, const double* values,
                                                uint32_t count);
DVREN_API dvren_status dvren_params_set_tensor(dvren_params* p, const char* name, const dvren_tensor* value);

/* ======================================================================== */
/* >>plugins                                                                */
/* ======================================================================== */
/* A plugin library exports one C symbol, dvren_plugin_entry (type
 * dvren_plugin_entry_fn), and nothing else. Every struct that crosses the
 * boundary begins with struct_size; the reader uses a field only if
 * struct_size covers it (DVREN_HAS_FIELD), so fields are only ever appended
 * and an older plugin keeps loading in a newer host. Capabilities are
 * interfaces asked for by string id ("dvren.field/1"); an unknown id gives
 * NULL. docs/plugins.md walks through writing one. */

typedef enum dvren_plugin_kind {
    DVREN_PLUGIN_INVALID = 0,
    DVREN_PLUGIN_FIELD = 1,    /* point -> channels (density, features) */
    DVREN_PLUGIN_SHADER = 2,   /* channels, view, light -> sigma, emitted radiance */
    DVREN_PLUGIN_SAMPLER = 3,  /* which distances along a ray to sample */
    DVREN_PLUGIN_SALIENCY = 4, /* image -> importance map in [0, 1] (>>foveate) */
    DVREN_PLUGIN_STAGE = 5,    /* other pipeline stages (later issue) */
    DVREN_PLUGIN_REGISTRATION = 6, /* reference + moving images -> shifts per colour plane (>>register) */
    DVREN_PLUGIN_KIND_FORCE_32 = 0x7FFFFFFF
} dvren_plugin_kind;

/* 1 when the struct at p (whose first member is struct_size) is large
 * enough to hold member m of type T. */
#define DVREN_HAS_FIELD(p, T, m) ((p)->struct_size >= offsetof(T, m) + sizeof(((T*)0)->m))

/* Largest parameter block a stage may declare, in bytes. */
#define DVREN_MAX_BLOCK_SIZE 4096u
/* Most buffers a stage may declare. */
#define DVREN_MAX_BUFFERS 16u

/* Gradients flow to this buffer (backward pass): its elements are float32
 * and the plugin's _bwd functions add dL/d(element) through the
 * dvren_grad_ref bind_gradients() stores for it. */
#define DVREN_BUFFER_DIFFERENTIABLE 0x1u

/* A data buffer a stage instance owns (a grid, a lookup table). The host
 * places it where the renderer runs (host memory for the CPU, device memory
 * for the GPU) and hands the addresses back to bind(). */
typedef struct dvren_buffer_desc {
    uint32_t struct_size;
    uint32_t flags;      /* DVREN_BUFFER_* */
    const char* name;    /* for messages and parameter listings ("voxels") */
    dvren_tensor tensor; /* host tensor, contiguous; owned by the instance */
} dvren_buffer_desc;

/* What a stage instance tells the host about itself (filled by describe()).
 * The host sets struct_size to its own size; the plugin writes only the
 * members that both sizes cover. */
typedef struct dvren_instance_info {
    uint32_t struct_size;
    uint32_t block_size;                /* bytes of the parameter block bind() writes (<= DVREN_MAX_BLOCK_SIZE) */
    uint32_t buffer_count;              /* <= DVREN_MAX_BUFFERS */
    const dvren_buffer_desc* buffers;   /* array of buffer_count, each buffers[0].struct_size bytes */
    /* fields */
    uint32_t channels;                  /* channels written per sample, 1 .. DVREN_MAX_CHANNELS */
    float bounds_min[3], bounds_max[3]; /* world box outside which the field is empty */
    float voxel_world;                  /* smallest feature size (voxel edge), world units, > 0 */
    float voxel_size[3];                /* voxel edge per axis (world units); 0: voxel_world on every axis */
    /* shaders */
    uint32_t channels_used;             /* the shader reads channels 0 .. channels_used-1 */
    uint32_t needs_gradient;            /* 1: pass the gradient of gradient_channel to color() */
    uint32_t gradient_channel;
    /* samplers, deprecated (ABI 1.1): the plan owns the threshold
     * (dvren_plan_desc.min_transmittance); a value > 0 here is used only
     * where the plan leaves it to the default, so that samplers written
     * against 1.1 keep their threshold */
    float min_transmittance;            /* stop a ray once T falls below this; 0: not set */
    /* shaders: density() reads only channel density_channel. Then, with a
     * field that has eval_channel, the march evaluates that channel alone
     * first and the others only where sigma > 0 (empty samples are cheap). */
    uint32_t density_from_one_channel;
    uint32_t density_channel;
    /* JIT specialisation (GPU): "#define NAME VALUE" lines, one per line, put
     * before the plugin's device source in the fused kernel, so that values
     * known per instance (a channel count, a storage type) become
     * compile-time constants. Only the plugin's own (prefixed) macros. May be
     * NULL. Valid until destroy. */
    const char* jit_defines;
    /* shaders: 1 when sigma == 0 implies dsigma/dchannels == 0 (ReLU, a
     * transfer function whose opacity is 0 around the value): the backward
     * pass then skips empty samples, as the forward pass does, unless the
     * shader's own buffers are being trained */
    uint32_t flat_empty_density;
} dvren_instance_info;

typedef struct dvren_host dvren_host;

/* Host services a plugin gets with every call (one dvren_host per plugin
 * and context). Callable from the thread that called the plugin function. */
struct dvren_host {
    uint32_t struct_size;
    uint32_t abi_version; /* DVREN_ABI_VERSION of the host */
    void* opaque;         /* host's own; do not touch */
    /* memory through the context's allocator, 64-byte aligned; free takes the size asked for */
    void* (*alloc)(const dvren_host* host, size_t size);
    void (*free)(const dvren_host* host, void* ptr, size_t size);
    /* a log line "[tag] <plugin>: text" */
    void (*log)(const dvren_host* host, dvren_log_level level, const char* tag, const char* fmt, ...)
        DVREN_PRINTF(4, 5);
    /* records "<plugin>: message (hint: hint)" as the last error and returns status */
    dvren_status (*fail)(const dvren_host* host, dvren_status status, const char* hint, const char* fmt, ...)
        DVREN_PRINTF(4, 5);
    /* Parameters, already validated against the schema with defaults filled
     * in: a FLOAT/INT/BOOL always has a number; STRING/ENUM/PATH is NULL when
     * neither given nor defaulted; FLOATS returns the count (0 when unset);
     * TENSOR is NULL when unset. Asking for a name not in the schema returns
     * 0 / NULL. Strings, arrays and tensors stay valid until the instance is
     * destroyed (the host keeps the resolved set with the stage). */
    double (*param_number)(const dvren_params* p, const char* name);
    const char* (*param_string)(const dvren_params* p, const char* name);
    uint32_t (*param_numbers)(const dvren_params* p, const char* name, const double** values);
    const dvren_tensor* (*param_tensor)(const dvren_params* p, const char* name);
    int (*param_given)(const dvren_params* p, const char* name); /* 1 when the user set it */
    /* further host services by id; NULL for an unknown id */
    const void* (*get_interface)(const dvren_host* host, const char* id);
};

/* "dvren.instance/1": creating and describing instances (every plugin). */
#define DVREN_IFACE_INSTANCE "dvren.instance/1"
typedef struct dvren_instance_iface {
    uint32_t struct_size;
    /* Creates an instance from validated parameters. On error returns the
     * status from host->fail(). Called from the context's thread. */
    dvren_status (*create)(const dvren_host* host, const dvren_params* params, void** instance);
    void (*destroy)(const dvren_host* host, void* instance);
    /* Fills info (see dvren_instance_info). Pointers stay valid until destroy. */
    dvren_status (*describe)(const dvren_host* host, void* instance, dvren_instance_info* info);
    /* Writes the plain-data parameter block (info.block_size bytes) that the
     * per-sample functions read. buffers[i] is the address of buffer i where
     * the renderer will read it (host or device memory): store it, never
     * dereference it here. */
    dvren_status (*bind)(const dvren_host* host, void* instance, const void* const* buffers, void* block);
    /* Differentiable plugins (optional; a plugin without it has no
     * gradients): after bind(), stores grads[i], where the gradient of
     * buffer i goes, into the same block, for the _bwd functions to add to.
     * grads[i].ptr is NULL for a buffer without DVREN_BUFFER_DIFFERENTIABLE
     * or whose gradient is not wanted. Store, never dereference. */
    dvren_status (*bind_gradients)(const dvren_host* host, void* instance, const dvren_grad_ref* grads, void* block);
    /* ABI 1.3 (optional): applies new values of the parameters flagged
     * DVREN_PARAM_LIVE (a temperature, a mode, a seed) to an instance.
     * params is the full validated set with the new values in. It must
     * not change what describe() reported (block size, buffers, channels,
     * bounds): the host only calls bind() again, into the same block. On
     * error the instance keeps its old values. */
    dvren_status (*update)(const dvren_host* host, void* instance, const dvren_params* params);
} dvren_instance_iface;

/* Per-sample functions: the plugin's single-source device code, compiled
 * for the CPU. `block` is the parameter block written by bind(). They run on
 * the renderer's worker threads, concurrently: no state beyond arguments.
 * Each exists in float32 (rendering) and, optionally, float64 (the gradient
 * checker, dvren_gradcheck): the same source compiled twice (DVREN_PNAME,
 * docs/plugins.md "Precision"). The _bwd functions are the backward pass:
 * given the cotangent of the outputs they add the cotangent of the inputs
 * (the arrays marked dL_d*, which they += into) and add the gradients of
 * the plugin's differentiable buffers through the dvren_grad_ref values
 * that bind_gradients() put in the block. */
typedef void (*dvren_field_eval_fn)(const void* block, dvren_float3 p, float* out);
typedef float (*dvren_field_eval_channel_fn)(const void* block, dvren_float3 p, uint32_t channel);
typedef void (*dvren_field_eval_bwd_fn)(const void* block, dvren_float3 p, const float* dL_dout);
typedef float (*dvren_shader_density_fn)(const void* block, const float* channels);
typedef void (*dvren_shader_color_fn)(const void* block, const float* channels, dvren_float3 grad, dvren_float3 dir,
                                      dvren_float3* rgb);
typedef void (*dvren_shader_density_bwd_fn)(const void* block, const float* channels, float dL_dsigma, float* dL_dch);
typedef void (*dvren_shader_color_bwd_fn)(const void* block, const float* channels, dvren_float3 grad, dvren_float3 dir,
                                          dvren_float3 dL_drgb, float* dL_dch, dvren_float3* dL_dgrad);
typedef void (*dvren_sampler_begin_fn)(const void* block, const dvren_march_budget* budget, dvren_float3 o,
                                       dvren_float3 d, float t0, float t1, dvren_rng* rng, dvren_sampler_state* state);
typedef int (*dvren_sampler_next_fn)(const void* block, dvren_sampler_state* state, float* t, float* dt);
/* ABI 1.3: surfaces (dvren_sampler_iface.surface, dvren_shader_iface.surface_color) */
typedef int (*dvren_sampler_surface_fn)(const void* block, const dvren_march_budget* budget,
                                        const dvren_sampler_state* state, dvren_float3 o, dvren_float3 d,
                                        dvren_surface* hit, dvren_float3* where);
typedef void (*dvren_shader_surface_color_fn)(const void* block, const float* channels, const dvren_surface* hit,
                                              dvren_float3 dir, dvren_float3* rgb);
typedef void (*dvren_shader_surface_color_bwd_fn)(const void* block, const float* channels, const dvren_surface* hit,
                                                  dvren_float3 dir, dvren_float3 dL_drgb, float* dL_dch);
typedef int (*dvren_sampler_surface_f64_fn)(const void* block, const dvren_march_budget* budget,
                                            const dvren_sampler_state_f64* state, dvren_double3 o, dvren_double3 d,
                                            dvren_surface_f64* hit, dvren_double3* where);
typedef void (*dvren_shader_surface_color_f64_fn)(const void* block, const double* channels,
                                                  const dvren_surface_f64* hit, dvren_double3 dir, dvren_double3* rgb);
typedef void (*dvren_shader_surface_color_bwd_f64_fn)(const void* block, const double* channels,
                                                      const dvren_surface_f64* hit, dvren_double3 dir,
                                                      dvren_double3 dL_drgb, double* dL_dch);
/* float64 twins (named name_f64 in the plugin's source) */
typedef void (*dvren_field_eval_f64_fn)(const void* block, dvren_double3 p, double* out);
typedef double (*dvren_field_eval_channel_f64_fn)(const void* block, dvren_double3 p, uint32_t channel);
typedef void (*dvren_field_eval_bwd_f64_fn)(const void* block, dvren_double3 p, const double* dL_dout);
typedef double (*dvren_shader_density_f64_fn)(const void* block, const double* channels);
typedef void (*dvren_shader_color_f64_fn)(const void* block, const double* channels, dvren_double3 grad,
                                          dvren_double3 dir, dvren_double3* rgb);
/* ABI 1.2: density and its backward with the sample's segment length dt */
typedef float (*dvren_shader_density_dt_fn)(const void* block, const float* channels, float dt);
typedef void (*dvren_shader_density_dt_bwd_fn)(const void* block, const float* channels, float dt, float dL_dsigma,
                                               float* dL_dch);
typedef double (*dvren_shader_density_dt_f64_fn)(const void* block, const double* channels, double dt);
typedef void (*dvren_shader_density_dt_bwd_f64_fn)(const void* block, const double* channels, double dt,
                                                   double dL_dsigma, double* dL_dch);
typedef void (*dvren_shader_density_bwd_f64_fn)(const void* block, const double* channels, double dL_dsigma,
                                                double* dL_dch);
typedef void (*dvren_shader_color_bwd_f64_fn)(const void* block, const double* channels, dvren_double3 grad,
                                              dvren_double3 dir, dvren_double3 dL_drgb, double* dL_dch,
                                              dvren_double3* dL_dgrad);
typedef void (*dvren_sampler_begin_f64_fn)(const void* block, const dvren_march_budget* budget, dvren_double3 o,
                                           dvren_double3 d, double t0, double t1, dvren_rng* rng,
                                           dvren_sampler_state_f64* state);
typedef int (*dvren_sampler_next_f64_fn)(const void* block, dvren_sampler_state_f64* state, double* t, double* dt);

/* "dvren.field/1": eval(block, p, out) writes channels values at world point
 * p; channel 0 is the density channel by convention (raw, before the
 * shader's activation). eval_name is the function's name in device_source.
 * Optional: eval_channel(block, p, c) returns channel c alone, bitwise equal
 * to out[c] of eval() (NULL / NULL name when absent).
 * Differentiable fields add eval_bwd (with eval_bwd_name for the GPU):
 * dL_dout[0 .. channels-1] is the cotangent of out; it adds dL/d(buffer
 * element) for every element eval() read. The position p gets no gradient.
 * The _f64 members are the float64 twins (optional; the gradient checker
 * needs them). */
#define DVREN_IFACE_FIELD "dvren.field/1"
typedef struct dvren_field_iface {
    uint32_t struct_size;
    const char* eval_name;
    dvren_field_eval_fn eval;
    const char* eval_channel_name;
    dvren_field_eval_channel_fn eval_channel;
    /* backward (optional) */
    const char* eval_bwd_name;
    dvren_field_eval_bwd_fn eval_bwd;
    /* float64 (optional) */
    dvren_field_eval_f64_fn eval_f64;
    dvren_field_eval_channel_f64_fn eval_channel_f64;
    dvren_field_eval_bwd_f64_fn eval_bwd_f64;
} dvren_field_iface;

/* "dvren.shader/1": density(block, ch) -> sigma >= 0 in 1/world unit (the
 * classification step: transfer function or activation); color(block, ch,
 * grad, dir, rgb) -> emitted radiance, called only where sigma > 0 in the
 * forward pass (the backward pass may call it where sigma = 0), with the
 * gradient of the requested channel when needs_gradient is set (else zero)
 * and the unit ray direction dir.
 * Differentiable shaders add density_bwd(block, ch, dL_dsigma, dL_dch)
 * (dL_dch[c] += dL_dsigma dsigma/dch[c]) and color_bwd(block, ch, grad,
 * dir, dL_drgb, dL_dch, dL_dgrad) (dL_dch +=; *dL_dgrad = the cotangent of
 * grad, zero without shading), both also adding the gradients of the
 * shader's own differentiable buffers. The _f64 members are the float64
 * twins (optional; the gradient checker needs them).
 * ABI 1.2 (optional): density_dt(block, ch, dt) is density with the
 * sample's segment length dt (world units, > 0) as the sampler gave it, so
 * that a transfer function can give opacity per reference step (opacity
 * correction: sigma = -ln(1 - alpha) / dt0, which composites as
 * alpha' = 1 - (1 - alpha)^(dt / dt0)); when a shader has it, the march calls
 * it (and density_dt_bwd, with the same dt) instead of density (and
 * density_bwd). density and density_bwd stay required: hosts of ABI 1.1
 * call them.
 * ABI 1.3 (optional): surface_color(block, ch, hit, dir, rgb) is the
 * radiance of an opaque surface sample (a sampler's surface(), below) with
 * the field's channels ch at the surface, its unit normal, distance and id
 * in *hit, and the unit ray direction dir; surface_color_bwd(block, ch,
 * hit, dir, dL_drgb, dL_dch) its backward (dL_dch +=). A shader without
 * them shades surfaces with color(ch, -normal, dir) (the normal as the
 * gradient of a density that rises into the surface) and color_bwd. */
#define DVREN_IFACE_SHADER "dvren.shader/1"
typedef struct dvren_shader_iface {
    uint32_t struct_size;
    const char* density_name;
    const char* color_name;
    dvren_shader_density_fn density;
    dvren_shader_color_fn color;
    /* backward (optional) */
    const char* density_bwd_name;
    const char* color_bwd_name;
    dvren_shader_density_bwd_fn density_bwd;
    dvren_shader_color_bwd_fn color_bwd;
    /* float64 (optional) */
    dvren_shader_density_f64_fn density_f64;
    dvren_shader_color_f64_fn color_f64;
    dvren_shader_density_bwd_f64_fn density_bwd_f64;
    dvren_shader_color_bwd_f64_fn color_bwd_f64;
    /* ABI 1.2 (optional): density with the segment length dt */
    const char* density_dt_name;
    dvren_shader_density_dt_fn density_dt;
    const char* density_dt_bwd_name;
    dvren_shader_density_dt_bwd_fn density_dt_bwd;
    dvren_shader_density_dt_f64_fn density_dt_f64;
    dvren_shader_density_dt_bwd_f64_fn density_dt_bwd_f64;
    /* ABI 1.3 (optional): surfaces */
    const char* surface_color_name;
    dvren_shader_surface_color_fn surface_color;
    const char* surface_color_bwd_name;
    dvren_shader_surface_color_bwd_fn surface_color_bwd;
    dvren_shader_surface_color_f64_fn surface_color_f64;
    dvren_shader_surface_color_bwd_f64_fn surface_color_bwd_f64;
} dvren_shader_iface;

/* An entry function of a stage interface and its name, declared once, so
 * the name NVRTC compiles and the function the CPU calls cannot drift
 * (ABI 1.2; docs/plugins.md, "Entry functions"):
 *   DVREN_ENTRY(eval, dense_grid_eval)
 *       -> .eval = dense_grid_eval, .eval_name = "dense_grid_eval"
 *   DVREN_ENTRY2(eval, dense_grid_eval)
 *       -> the same, plus the float64 twin .eval_f64 = dense_grid_eval_f64
 *          (the function DVREN_PNAME(dense_grid_eval) defines in float64)
 * for designated initialisers of dvren_field_iface, dvren_shader_iface and
 * dvren_sampler_iface, whose members follow the pattern member,
 * member_name, member_f64. */
#define DVREN_ENTRY(member, fn) .member = fn, .member##_name = #fn
#define DVREN_ENTRY2(member, fn) DVREN_ENTRY(member, fn), .member##_f64 = fn##_f64

/* "dvren.sampler/1": begin() prepares the march of ray o + t d over
 * [t0, t1] (the field's box); next() returns 1 with the next sample distance
 * *t and its segment length *dt (world units), or 0 when the ray is done.
 * Segments must not overlap; their lengths weight the samples. Samplers
 * have no parameters to train (sample positions carry no gradient); the
 * _f64 members are the float64 twins for the gradient checker (optional).
 * ABI 1.3 (optional): surface(block, budget, state, o, d, hit, where),
 * called after each next() that returned 1, returns 1 when that sample is
 * a surface candidate: it fills hit->normal (unit, facing the ray) and
 * hit->id, and may move *where (preset to o + t d) to the point at which
 * the field is evaluated. Where the shader's density there is > 0 the
 * sample is an opaque surface (kernels/dvren_march.h, "Surfaces";
 * docs/blocks.md). budget is the one begin() got, with the field's lattice
 * (bounds_min, bounds_max, voxel_size). */
#define DVREN_IFACE_SAMPLER "dvren.sampler/1"
typedef struct dvren_sampler_iface {
    uint32_t struct_size;
    const char* begin_name;
    const char* next_name;
    dvren_sampler_begin_fn begin;
    dvren_sampler_next_fn next;
    /* float64 (optional) */
    dvren_sampler_begin_f64_fn begin_f64;
    dvren_sampler_next_f64_fn next_f64;
    /* ABI 1.3 (optional): surfaces */
    const char* surface_name;
    dvren_sampler_surface_fn surface;
    dvren_sampler_surface_f64_fn surface_f64;
} dvren_sampler_iface;

/* One plugin. A library may hold several. */
typedef struct dvren_plugin_desc {
    uint32_t struct_size;
    dvren_plugin_kind kind;
    const char* name;                 /* [a-z0-9_]+, unique per kind in a context */
    uint32_t version;                 /* the plugin's own: (major << 16) | minor */
    const char* summary;              /* one line */
    const dvren_param_desc* params;   /* param_count entries, each params[0].struct_size bytes */
    uint32_t param_count;
    const char* device_source;        /* the per-sample code as text (for NVRTC), or NULL */
    const char* device_source_file;   /* its file name: messages, and read from beside the library when device_source is NULL */
    const void* (*get_interface)(const char* id); /* interface by id, NULL if not provided */
} dvren_plugin_desc;

/* What dvren_plugin_entry returns (static storage in the plugin). */
typedef struct dvren_plugin_table {
    uint32_t struct_size;
    uint32_t abi_version;                      /* DVREN_ABI_VERSION the plugin was built with */
    uint32_t count;
    const dvren_plugin_desc* const* plugins;   /* count pointers */
} dvren_plugin_table;

/* The one symbol a plugin library exports. Receives the host's ABI
 * version; returns the table, or NULL to decline (e.g. another major
 * version). Called once per library and context, on the loading thread. */
typedef const dvren_plugin_table* (*dvren_plugin_entry_fn)(uint32_t host_abi_version);
#define DVREN_PLUGIN_ENTRY_NAME "dvren_plugin_entry"
/* Prototype of the entry every plugin defines (so a wrong signature does not
 * compile); hosts never call it by name, they look it up with dlsym. */
DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version);

/* ---- the plugin skeleton (ABI 1.2) -------------------------------------------
 * What every plugin library writes the same way, so the shipped plugins and
 * docs/plugins.md look alike:
 *
 *   #include "dvren.h"
 *   #include "my_device.h"                 per-sample code in float32 ...
 *   #undef DVREN_PREC_BITS
 *   #define DVREN_PREC_BITS 64
 *   #include "my_device.h"                 ... and float64 (gradient checker)
 *   #undef DVREN_PREC_BITS
 *   #define DVREN_PREC_BITS 32
 *
 *   static const dvren_param_desc my_params[] = {
 *       DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "radius", ...),
 *   };
 *   ... create, destroy, describe, bind (and bind_gradients) ...
 *   static const dvren_field_iface my_field = {.struct_size = sizeof(dvren_field_iface),
 *                                              DVREN_ENTRY2(eval, my_eval)};
 *   DVREN_PLUGIN_INTERFACES(my_get_interface, my_inst, DVREN_IFACE_FIELD, my_field)
 *   static const dvren_plugin_desc my_desc = {.struct_size = sizeof(dvren_plugin_desc), ...,
 *                                             .get_interface = my_get_interface};
 *   DVREN_PLUGIN_LIBRARY(&my_desc)
 */

/* One entry of a parameter schema, its struct_size filled in. */
#define DVREN_PARAM(...) {.struct_size = sizeof(dvren_param_desc), __VA_ARGS__}

/* 1 when the interface id asked for is want (a plugin's get_interface). */
static inline int dvren_iface_is(const char* id, const char* want)
{
    while (*id && *id == *want) ++id, ++want;
    return *id == *want;
}

/* get_interface of a stage plugin: its instance interface and its kind's
 * interface (DVREN_IFACE_FIELD, _SHADER or _SAMPLER); NULL for other ids. */
#define DVREN_PLUGIN_INTERFACES(fn, instance_iface, kind_id, kind_iface) \
    static const void* fn(const char* id)                                  \
    {                                                                      \
        if (dvren_iface_is(id, DVREN_IFACE_INSTANCE)) return &(instance_iface); \
        if (dvren_iface_is(id, kind_id)) return &(kind_iface);             \
        return NULL;                                                       \
    }

/* The library's one exported symbol, listing its plugins' descriptors
 * (pointers to dvren_plugin_desc); it declines a host of another major ABI. */
#define DVREN_PLUGIN_LIBRARY(...)                                                                             \
    DVREN_PLUGIN_EXPORT const dvren_plugin_table* dvren_plugin_entry(uint32_t host_abi_version)              \
    {                                                                                                         \
        static const dvren_plugin_desc* const list_[] = {__VA_ARGS__};                                        \
        static const dvren_plugin_table table_ = {sizeof(dvren_plugin_table), DVREN_ABI_VERSION,              \
                                                  (uint32_t)(sizeof list_ / sizeof list_[0]), list_};         \
        return (host_abi_version >> 16) == DVREN_ABI_MAJOR ? &table_ : NULL;                                  \
    }

/* Loads a plugin library by path, or by name (finds <name>.so / .dll on the
 * search path: desc.plugin_path, then $DVREN_PLUGIN_PATH, then the
 * executable's folder and its plugins/ subfolder) and registers every plugin
 * in it. Loading the same library twice is a no-op. Errors: NOT_FOUND (the
 * message lists the folders searched), PLUGIN (dlopen failed, no entry
 * symbol, declined, other ABI major, malformed descriptor, a plugin of the
 * same kind and name from another library). */
DVREN_API dvren_status dvren_plugin_load(dvren_context* ctx, const char* name_or_path);
/* Loads every plugin library (*.so / *.dll) in the folders of the search
 * path, for listings (dvren_render --list-plugins). Libraries that fail to
 * load are skipped with a [WARN] log line each; *failed (may be NULL)
 * receives their number. Errors: INVALID_ARGUMENT, OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_plugin_load_all(dvren_context* ctx, uint32_t* failed);
/* Finds a registered plugin of this kind and name, loading <name> from the
 * search path when it is not registered yet. Errors as dvren_plugin_load,
 * and INVALID_ARGUMENT when the plugin exists with another kind. */
DVREN_API dvren_status dvren_plugin_find(dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                                         const dvren_plugin_desc** out);
/* Registered plugins, in load order: i < dvren_plugin_count(). library
 * receives the library's path (may be NULL). */
DVREN_API uint32_t dvren_plugin_count(const dvren_context* ctx);
DVREN_API const dvren_plugin_desc* dvren_plugin_at(const dvren_context* ctx, uint32_t i, const char** library);
/* "field", "shader", "sampler", "saliency", "stage", or "invalid". */
DVREN_API const char* dvren_plugin_kind_name(dvren_plugin_kind kind);
/* i-th entry of a plugin's parameter schema (the host steps by struct_size). */
DVREN_API const dvren_param_desc* dvren_plugin_param(const dvren_plugin_desc* plugin, uint32_t i);
/* One line describing a schema entry for listings and docs, e.g.
 * "float in [0, inf), default 1 [1/world unit]" or "floats: 3 numbers, unset".
 * Returns the length written (truncated to cap - 1). */
DVREN_API int dvren_param_summary(const dvren_param_desc* param, char* out, size_t cap);

/* ======================================================================== */
/* >>stage                                                                  */
/* ======================================================================== */

/* An instance of a field, shader or sampler plugin. */
typedef struct dvren_stage dvren_stage;

/* Creates an instance of plugin `name` of this kind with params (NULL: all
 * defaults). Values are checked against the plugin's schema first. Errors:
 * those of dvren_plugin_find; INVALID_ARGUMENT naming the plugin and the
 * parameter (unknown name with the list of known ones, wrong type, out of
 * range, not one of the enum values, wrong element count, missing required);
 * whatever the plugin's create() reports (IO, FORMAT, ... naming the file). */
DVREN_API dvren_status dvren_stage_create(dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                                          const dvren_params* params, dvren_stage** out);
DVREN_API void dvren_stage_destroy(dvren_stage* stage);
/* Changes live parameters (DVREN_PARAM_LIVE in the plugin's schema: the
 * block_world field's temperature, mode and seed) of a created stage:
 * params holds only the names to change. Scenes holding the stage see the
 * new values from their next render or backward pass (their parameter
 * blocks are bound again; buffers, trained values and compiled kernels
 * stay). Errors: INVALID_ARGUMENT (NULL, an unknown name, a parameter
 * that is not live, a value the schema refuses, naming the plugin and
 * the parameter), UNSUPPORTED (the plugin has no live parameters), the
 * plugin's update() errors; on error nothing changes. */
DVREN_API dvren_status dvren_stage_update(dvren_stage* stage, const dvren_params* params);
/* The instance's description (copied into *info, whose struct_size the call sets). */
DVREN_API dvren_status dvren_stage_info(const dvren_stage* stage, dvren_instance_info* info);
DVREN_API const dvren_plugin_desc* dvren_stage_plugin(const dvren_stage* stage);
/* Evaluates a field stage at n world points on the CPU: xyz is (n, 3),
 * out is (n, channels) float32, both C order. For probing fields and for
 * tests. Errors: INVALID_ARGUMENT (not a field, NULL arrays), OUT_OF_MEMORY,
 * errors of the plugin's bind(). */
DVREN_API dvren_status dvren_field_sample(dvren_stage* field, uint32_t n, const float* xyz, float* out);

/* ======================================================================== */
/* >>render                                                                 */
/* ======================================================================== */

/* A field, a shader and a sampler, bound together for rendering. */
typedef struct dvren_scene dvren_scene;
typedef struct dvren_scene_desc {
    dvren_stage* field;   /* required, kind FIELD */
    dvren_stage* shader;  /* required, kind SHADER */
    dvren_stage* sampler; /* required, kind SAMPLER */
    uint32_t flags;       /* DVREN_SCENE_* */
} dvren_scene_desc;

/* The scene will be differentiated (>>autodiff): it gets a gradient tensor
 * for every differentiable buffer of its stages, zero at creation. */
#define DVREN_SCENE_DIFFERENTIABLE 0x1u

/* Binds the stages (they must outlive the scene). Errors: INVALID_ARGUMENT
 * (missing stage, wrong kind, shader reads more channels than the field has,
 * gradient channel out of range, unknown flags), UNSUPPORTED
 * (DIFFERENTIABLE with a field or shader that has no backward functions),
 * OUT_OF_MEMORY, errors of bind(). */
DVREN_API dvren_status dvren_scene_create(dvren_context* ctx, const dvren_scene_desc* desc, dvren_scene** out);
DVREN_API void dvren_scene_destroy(dvren_scene* scene);

typedef struct dvren_rect { uint32_t x, y, w, h; } dvren_rect;

/* What to render. Zero fields take the default beside them. */
typedef struct dvren_plan_desc {
    uint32_t width, height;    /* image size in pixels, 1 .. 32768 each; required */
    dvren_rect roi;            /* pixels to render; w or h 0: the whole image */
    dvren_camera camera;       /* required (model != DVREN_CAMERA_NONE) */
    /* The march budget belongs to the plan (the sampler places samples
     * within it): a step in world units, or a number of samples per ray
     * over the field's box (which wins when both are given). Neither: the
     * step is half the field's smallest voxel (its voxel_world: the Nyquist
     * step), computed once by the host and handed to the sampler. */
    float step_world;          /* > 0: march step (world units); 0: half a voxel */
    uint32_t samples_per_ray;  /* > 0: samples per ray; 0: by step */
    uint32_t spp;              /* samples (rays) per pixel; 0 means 1; max 65536 */
    uint64_t seed;             /* key of the counter-based RNG (any value, 0 included) */
    uint32_t outputs;          /* DVREN_OUTPUT_* bits; 0 means RGB | ALPHA */
    float background[3];       /* radiance behind the volume, added as T * background; default black */
    /* Ray-batch plans (training on rays drawn from many views): rays is a
     * float32 tensor of width*height rays, shape (height, width, 6) or
     * (width*height, 6), contiguous, each ray origin xyz then unit direction
     * xyz (world units); ray k is pixel (k % width, k / width). It replaces
     * the camera (which may then be DVREN_CAMERA_NONE); spp > 1 then
     * repeats each ray with other sampler jitter. Borrowed: the plan keeps
     * the pointer and every render reads the rays afresh, so a training loop
     * refills the tensor between renders. On a GPU context a device tensor
     * is read in place and a host tensor is uploaded at every render. */
    const dvren_tensor* rays;
    /* Early ray termination: a ray stops once its transmittance T falls
     * below this, in [0, 1). 0: the default, 1e-4 (about 1/8 of an 8-bit
     * level); negative: never. (A sampler written against plugin ABI 1.1
     * that reports its own min_transmittance keeps it when this is 0.) */
    float min_transmittance;
    /* Per-pixel budget (foveated rendering, >>foveate; dvren_importance_budget
     * makes both from an importance map). spp_map: uint32 (H, W), the rays
     * of each pixel, 1 .. 65536 (replaces spp; their sum at most 2^32 - 1).
     * step_map: float32 (H, W), a multiplier in [1, 64] of the march step
     * (a count of samples per ray is divided by it): a coarser march where
     * the pixel matters less. Either may be NULL; host tensors, contiguous,
     * copied by dvren_plan_create (and placed on the device once). With
     * spp_map the GPU gives each thread one ray, not one pixel, so threads
     * of a warp do not wait for a neighbour's larger budget: the time
     * follows the total number of samples. Forward only:
     * dvren_render_backward refuses such a plan (UNSUPPORTED). */
    const dvren_tensor* spp_map;
    const dvren_tensor* step_map;
} dvren_plan_desc;

/* The default early-termination threshold (dvren_plan_desc.min_transmittance). */
#define DVREN_DEFAULT_MIN_TRANSMITTANCE 1e-4f

typedef struct dvren_plan dvren_plan;
/* Validates and copies desc into an immutable plan. Errors:
 * INVALID_ARGUMENT naming the field (size, roi outside the image, no
 * camera, negative step, unknown output bits, spp too large, a budget map
 * of the wrong shape, dtype or range, with the first bad pixel),
 * OUT_OF_MEMORY, DEVICE (placing the budget maps). */
DVREN_API dvren_status dvren_plan_create(dvren_context* ctx, const dvren_plan_desc* desc, dvren_plan** out);
DVREN_API void dvren_plan_destroy(dvren_plan* plan);
/* The plan's description with defaults filled in. */
DVREN_API const dvren_plan_desc* dvren_plan_get_desc(const dvren_plan* plan);

/* Outputs of a render, one tensor per selected output (DVREN_OUTPUT_*),
 * zero-filled at creation; pixels outside a plan's roi are not touched. */
typedef struct dvren_framebuffer dvren_framebuffer;
/* Allocates the outputs the plan selects at its full image size. */
DVREN_API dvren_status dvren_framebuffer_create(dvren_context* ctx, const dvren_plan* plan, dvren_framebuffer** out);
/* Allocates the given outputs (DVREN_OUTPUT_* bits; 0: the plan's) at the
 * plan's image size: targets and cotangents (>>autodiff) hold other outputs
 * than a render writes. Errors: INVALID_ARGUMENT, OUT_OF_MEMORY, DEVICE. */
DVREN_API dvren_status dvren_framebuffer_create_outputs(dvren_context* ctx, const dvren_plan* plan, uint32_t outputs,
                                                        dvren_framebuffer** out);
/* Copies a tensor into one output (same element count and dtype,
 * contiguous): how cotangents and targets get into a framebuffer. src is
 * host memory (uploaded on a GPU context, which waits for the copy), or on a
 * GPU context device memory of the same device (a device-to-device copy
 * queued on the context's stream, no wait). Errors: INVALID_ARGUMENT (size
 * or dtype differ, device memory on a CPU context, not one output bit),
 * NOT_FOUND (no such output), DEVICE. */
DVREN_API dvren_status dvren_framebuffer_write(dvren_framebuffer* fb, uint32_t output, const dvren_tensor* src);
DVREN_API void dvren_framebuffer_destroy(dvren_framebuffer* fb);
/* Borrowed host view of one output (shapes in >>device: rgb (H, W, 3) f32;
 * alpha, depth, transmittance (H, W) f32; hit (H, W) u8; samples (H, W)
 * u32). After a GPU render the first call per output waits for the device
 * and copies the output back. Errors: INVALID_ARGUMENT (not exactly one
 * known bit), NOT_FOUND (the plan did not select it), DEVICE. */
DVREN_API dvren_status dvren_framebuffer_output(const dvren_framebuffer* fb, uint32_t output, dvren_tensor* view);
/* Name of one output bit ("rgb", "alpha", "depth", "transmittance", "hit",
 * "samples"), NULL for anything else. */
DVREN_API const char* dvren_output_name(uint32_t output);

/* Progress callback: done of total work units (tiles) finished; return
 * nonzero to cancel (the render then returns DVREN_ERROR_CANCELLED). Called
 * on the thread that called dvren_render. */
typedef int (*dvren_progress_fn)(void* user, uint64_t done, uint64_t total);

typedef struct dvren_render_options {
    uint32_t threads;           /* CPU threads for this render; 0: the context's */
    dvren_progress_fn progress; /* optional */
    void* progress_user;
} dvren_render_options;

/* Renders the plan's roi into fb: for every pixel, spp rays marched front to
 * back through the field with emission-absorption compositing and early ray
 * termination (kernels/dvren_march.h has the equations). Deterministic: the
 * same scene, plan and seed give bitwise the same outputs for any thread
 * count. options may be NULL. Errors: INVALID_ARGUMENT (fb made for another
 * size or without an output the plan selects), CANCELLED (the roi is then
 * partly rendered: tiles finished before the callback asked to stop hold
 * their pixels, the others keep their previous values), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_render(dvren_scene* scene, const dvren_plan* plan, dvren_framebuffer* fb,
                                    const dvren_render_options* options);


/* ======================================================================== */
/* >>autodiff                                                               */
/* ======================================================================== */
/* Differentiable rendering. A scene created with DVREN_SCENE_DIFFERENTIABLE
 * exposes its stages' differentiable buffers (dense_grid's voxels, a
 * transfer function's control point values) as parameters, each with a
 * gradient tensor beside it. A training step is
 *
 *   dvren_render(scene, plan, fb, NULL);                       forward
 *   dvren_loss(ctx, &loss, fb, grad_fb, &value);               dL/d(rgb) into grad_fb
 *   dvren_render_backward(scene, plan, grad_fb, NULL);         += dL/dparams
 *   dvren_tv_regularize(scene, &tv, NULL);                      optional
 *   dvren_optimizer_step(opt); dvren_scene_zero_grad(scene);
 *
 * on the CPU and on the GPU alike (the GPU runs a JIT-compiled backward
 * kernel per stage combination, from the same single-source code). The
 * backward pass replays the march instead of storing it (kernels/dvren_march.h,
 * "Backward"): its memory does not grow with the number of samples. */

/* One differentiable parameter of a scene. */
typedef struct dvren_scene_param {
    const char* name;     /* "<slot>.<buffer>", e.g. "field.voxels", "shader.tf_opacity" */
    dvren_stage* stage;
    uint32_t slot;        /* 0 field, 1 shader, 2 sampler */
    uint32_t buffer;      /* index among the stage's buffers */
    uint64_t numel;       /* float32 elements */
    /* Where the renderer reads the values and where the gradient
     * accumulates: host tensors on the CPU (value is the stage's own buffer),
     * device tensors (DVREN_MEMORY_DEVICE) on a GPU. Both float32, the
     * buffer's shape, contiguous, writable; borrowed from the scene. */
    dvren_tensor value;
    dvren_tensor grad;
} dvren_scene_param;

/* Differentiable parameters of the scene (0 unless DIFFERENTIABLE). */
DVREN_API uint32_t dvren_scene_param_count(const dvren_scene* scene);
/* The i-th parameter. Errors: INVALID_ARGUMENT (i out of range). */
DVREN_API dvren_status dvren_scene_param_get(const dvren_scene* scene, uint32_t i, dvren_scene_param* out);
/* Index of the parameter called name. Errors: NOT_FOUND (the message lists the names). */
DVREN_API dvren_status dvren_scene_param_find(const dvren_scene* scene, const char* name, uint32_t* index);
/* Whether a parameter is trained (default 1). A frozen one gets no gradient
 * (its plugin sees a NULL gradient) and the optimizer leaves it alone.
 * Errors: INVALID_ARGUMENT. */
DVREN_API dvren_status dvren_scene_param_set_trainable(dvren_scene* scene, uint32_t i, int trainable);
#define DVREN_PARAM_VALUE 0u
#define DVREN_PARAM_GRAD 1u
/* Copies a parameter's values (DVREN_PARAM_VALUE) or gradient
 * (DVREN_PARAM_GRAD) into the host tensor dst (float32, contiguous, numel
 * elements, any shape), downloading on a GPU. Errors: INVALID_ARGUMENT, DEVICE. */
DVREN_API dvren_status dvren_scene_param_read(dvren_scene* scene, uint32_t i, uint32_t which, dvren_tensor* dst);
/* Sets a parameter's values from the host tensor src (as above). On the
 * CPU this writes the stage's buffer; on a GPU the device copy. Errors:
 * INVALID_ARGUMENT, DEVICE. */
DVREN_API dvren_status dvren_scene_param_write(dvren_scene* scene, uint32_t i, const dvren_tensor* src);
/* Sets every gradient of the scene to zero. Errors: INVALID_ARGUMENT, DEVICE. */
DVREN_API dvren_status dvren_scene_zero_grad(dvren_scene* scene);

/* Deterministic gradients: int64 fixed-point accumulation (order-free, so
 * bitwise the same run after run and for any thread count) instead of
 * float32 atomics; slower. */
#define DVREN_BACKWARD_DETERMINISTIC 0x1u

typedef struct dvren_backward_options {
    uint32_t threads;           /* CPU threads; 0: the context's */
    uint32_t flags;             /* DVREN_BACKWARD_* */
    dvren_progress_fn progress; /* optional, as dvren_render */
    void* progress_user;
    /* Optional: the framebuffer that dvren_render filled for this plan, with
     * its RGB and TRANSMITTANCE outputs. With spp == 1 and no depth
     * cotangent the replay takes each ray's totals from it instead of
     * marching the ray once more (the same values bit for bit; about one
     * forward render saved). Otherwise it is ignored. */
    const struct dvren_framebuffer* forward;
} dvren_backward_options;

/* Adds dL/dparams to the scene's gradients, given the cotangents
 * dL/d(output) of the plan's roi in grad_fb: its rgb (H, W, 3), alpha,
 * depth and transmittance outputs, each optional (an absent output has a
 * zero cotangent; hit and samples carry none). The parameters and plan must
 * be those of the forward render being differentiated; the forward outputs
 * are not needed (the march is replayed), though options->forward saves a
 * pass. Memory does not grow with the samples per ray. Gradients are of the rendered
 * quantities exactly as dvren_render computes them (the same samples, the
 * same early termination). Derivatives at kinks follow PyTorch (relu'(0) = 0).
 * The deterministic mode scales the cotangents by a power of two so that the
 * largest is <= 1 and accumulates in units of 2^-32 of that: each sample's
 * contribution is rounded there. Errors: INVALID_ARGUMENT (scene not
 * DIFFERENTIABLE, grad_fb of another size, non-finite cotangents in the
 * deterministic mode), CANCELLED, OUT_OF_MEMORY, DEVICE, COMPILE (GPU). */
DVREN_API dvren_status dvren_render_backward(dvren_scene* scene, const dvren_plan* plan, const dvren_framebuffer* grad_fb,
                                             const dvren_backward_options* options);

#if !defined(DVREN_NO_GRADCHECK)
/* The float64 reference path: the render and the backward pass of
 * dvren_render and dvren_render_backward with every per-sample step in
 * float64 (the plugins' _f64 functions, kernels/dvren_march.h read with
 * DVREN_PREC_BITS 64), on the calling thread, on the host, whatever the
 * scene's device (a GPU scene's parameter values are first copied into its
 * stages' host buffers). Parameters are stored in float32 and read widened:
 * a float64 caller's values are rounded to float32 first (Python's
 * torch.autograd.gradcheck therefore perturbs by powers of two:
 * docs/python.md). For tests, gradient checks and autograd in float64.
 * Needs the _f64 functions of all three plugins and host rays.
 *
 * Images are host float64 arrays of the plan's full size, C order: rgb
 * (H, W, 3), alpha, depth, transmittance (H, W); any member may be NULL.
 * Pixels outside the plan's roi are not touched. */
typedef struct dvren_image_f64 {
    double* rgb;
    double* alpha;
    double* depth;
    double* transmittance;
} dvren_image_f64;

/* Renders the plan into out (float64 outputs, as dvren_render computes
 * them: the same rays, samples and early termination). Errors:
 * INVALID_ARGUMENT (NULL scene/plan/out, device rays), UNSUPPORTED (a plugin
 * without float64 functions: named), OUT_OF_MEMORY, DEVICE. */
DVREN_API dvren_status dvren_render_f64(dvren_scene* scene, const dvren_plan* plan, const dvren_image_f64* out);
/* Adds the float64 vector-Jacobian product to grads: grads[i] (NULL: skip
 * parameter i) is a host array of parameter i's numel float64 elements
 * (dvren_scene_param_get), receiving sum over pixels of cotangent .
 * d(output)/d(parameter i). cotangents: the plan's images of dL/d(rgb,
 * alpha, depth, transmittance), NULL members zero; they are rounded to
 * float32 (the march reads float32 cotangents), which changes a gradient
 * by at most 2^-24 of its size. Frozen parameters get nothing. Errors:
 * those of dvren_render_f64; INVALID_ARGUMENT (scene not DIFFERENTIABLE). */
DVREN_API dvren_status dvren_render_backward_f64(dvren_scene* scene, const dvren_plan* plan,
                                                 const dvren_image_f64* cotangents, double* const* grads);

/* Gradient check (for plugin authors and tests): compares the analytic
 * gradient with central finite differences, both in float64, for the
 * scene's plugin combination, on the plan's rays with random cotangents on
 * the chosen outputs, and the renderer's own float32 backward (on the
 * scene's device) with the float64 analytic one. Needs the _f64 functions
 * of all three plugins. Finite differences perturb float32 parameter
 * values by a power-of-two step (so x +- h is exact) and skip an element
 * when its left and right differences disagree (a kink, e.g. relu at 0,
 * lies within the step). Overwrites the scene's gradients. */
typedef struct dvren_gradcheck_desc {
    uint64_t seed;     /* cotangents and the choice of elements */
    uint32_t elements; /* elements checked per parameter (0: 24), half where the gradient is largest */
    uint32_t outputs;  /* outputs with cotangents (0: rgb | alpha | depth) */
    uint32_t flags;    /* DVREN_BACKWARD_* for the float32 backward */
} dvren_gradcheck_desc;

typedef struct dvren_gradcheck_result {
    uint32_t checked;       /* elements compared with finite differences */
    uint32_t skipped;       /* elements skipped at kinks */
    double fd_error;        /* max |g64 - fd| / max(|fd|, 1e-3 max|fd|) over checked elements */
    double f32_error;       /* ||g32 - g64|| / ||g64|| (L2 over all parameters) */
    double grad_norm;       /* ||g64|| */
    char worst[96];         /* "<param>[index]" of the largest fd_error */
} dvren_gradcheck_result;

DVREN_API dvren_status dvren_gradcheck(dvren_scene* scene, const dvren_plan* plan, const dvren_gradcheck_desc* desc,
                                       dvren_gradcheck_result* result);
#endif /* DVREN_NO_GRADCHECK */

/* ======================================================================== */
/* >>train                                                                  */
/* ======================================================================== */

/* Photometric losses, per element e = prediction - target, averaged over
 * the pixels (and channels) of the framebuffer:
 *   L2     e^2                                    (mean squared error)
 *   L1     |e|                                    (sign(0) = 0)
 *   HUBER  e^2 / (2 delta) if |e| < delta, else |e| - delta/2 (smooth L1,
 *          Girshick, Fast R-CNN 2015; the form of torch.nn.SmoothL1Loss) */
typedef enum dvren_loss_kind {
    DVREN_LOSS_L2 = 0,
    DVREN_LOSS_L1 = 1,
    DVREN_LOSS_HUBER = 2,
    DVREN_LOSS_FORCE_32 = 0x7FFFFFFF
} dvren_loss_kind;

typedef struct dvren_loss_desc {
    dvren_loss_kind kind;
    float huber_delta;                /* HUBER: > 0; 0 means 1 */
    float weight;                     /* the loss is multiplied by this; 0 means 1 */
    const dvren_tensor* target_rgb;   /* required: float32 (H, W, 3) or (H*W, 3) of the plan's size, host or device */
    const dvren_tensor* target_alpha; /* optional: float32 (H, W) or (H*W); adds alpha_weight * loss(alpha) */
    float alpha_weight;
} dvren_loss_desc;

/* Evaluates the loss of pred (its rgb, and alpha when target_alpha is
 * given) against the targets and writes the cotangents dL/d(rgb) (and
 * dL/d(alpha)) into grad (whose rgb/alpha outputs are overwritten; the
 * others are left alone). *value (may be NULL: on a GPU that saves a
 * synchronisation) receives L, summed in float64 in a fixed order.
 * Errors: INVALID_ARGUMENT (shapes, missing outputs, bad desc), DEVICE. */
DVREN_API dvren_status dvren_loss(dvren_context* ctx, const dvren_loss_desc* desc, const dvren_framebuffer* pred,
                                  dvren_framebuffer* grad, double* value);

/* Total variation of a grid parameter (shape (Z, Y, X, C)), Plenoxels eq. 3
 * (Fridovich-Keil et al., CVPR 2022), over channels [c0, c1) (c1 = 0: all),
 * as described by dvren_tv_desc:
 *   TV = weight / (Z Y X (c1 - c0)) * sum_v sum_c sqrt(dx^2 + dy^2 + dz^2 + 1e-8)
 * with dx = x[v + e_x, c] - x[v, c] (0 on the far faces); SQUARED drops the
 * square root: dx^2 + dy^2 + dz^2. Adds dTV/dx to the parameter's gradient
 * (each voxel gathers the terms that touch it: no atomics, deterministic)
 * and puts TV in *value (may be NULL). Errors: INVALID_ARGUMENT (not a 4-D
 * parameter, channel range), DEVICE. */
#define DVREN_TV_SQUARED 0x1u
typedef struct dvren_tv_desc {
    uint32_t param;   /* index of a 4-D parameter (dvren_scene_param_find) */
    float weight;     /* >= 0; 0 is a no-op */
    uint32_t c0, c1;  /* channels [c0, c1); c1 = 0: up to the last */
    uint32_t flags;   /* DVREN_TV_SQUARED */
} dvren_tv_desc;
DVREN_API dvren_status dvren_tv_regularize(dvren_scene* scene, const dvren_tv_desc* desc, double* value);

/* Optimizers, updating every parameter of a scene from its gradient in one
 * fused pass per step (one kernel on a GPU).
 *   ADAM  Kingma and Ba, ICLR 2015, Algorithm 1 (bias-corrected moments),
 *         with L2 weight decay added to the gradient
 *   SGD   with momentum (PyTorch's form: v = mu v + g; x -= lr v)
 * Learning rate at step t (0-based): lr * lr_decay^(t / decay_steps)
 * (exponential decay; lr_decay 1: constant). */
typedef enum dvren_optimizer_kind {
    DVREN_OPTIMIZER_ADAM = 0,
    DVREN_OPTIMIZER_SGD = 1,
    DVREN_OPTIMIZER_FORCE_32 = 0x7FFFFFFF
} dvren_optimizer_kind;

typedef struct dvren_optimizer_desc {
    dvren_optimizer_kind kind;
    float lr;            /* > 0 */
    float beta1, beta2;  /* ADAM: in [0, 1) */
    float eps;           /* ADAM: > 0 */
    float momentum;      /* SGD: in [0, 1) */
    float weight_decay;  /* >= 0 */
    float lr_decay;      /* in (0, 1] */
    uint32_t decay_steps; /* >= 1 */
} dvren_optimizer_desc;

/* The usual settings: lr 0.1 (ADAM) or 1 (SGD), betas 0.9 / 0.999, eps
 * 1e-8 (ADAM: Kingma and Ba's), momentum 0.9, no weight decay, no decay. */
DVREN_API dvren_optimizer_desc dvren_optimizer_defaults(dvren_optimizer_kind kind);

typedef struct dvren_optimizer dvren_optimizer;
/* An optimizer over every parameter of a DIFFERENTIABLE scene, with its
 * state (moments) where the scene renders. Errors: INVALID_ARGUMENT (desc
 * out of range, scene not differentiable), OUT_OF_MEMORY, DEVICE. */
DVREN_API dvren_status dvren_optimizer_create(dvren_scene* scene, const dvren_optimizer_desc* desc,
                                              dvren_optimizer** out);
DVREN_API void dvren_optimizer_destroy(dvren_optimizer* opt);
/* Learning-rate multiplier of one parameter (default 1; 0 freezes it).
 * Errors: INVALID_ARGUMENT. */
DVREN_API dvren_status dvren_optimizer_set_lr_scale(dvren_optimizer* opt, uint32_t param, float scale);
/* One update of every parameter from its current gradient (the gradients
 * are left as they are: zero them with dvren_scene_zero_grad; accumulate
 * over several backward passes before a step to use larger batches).
 * Errors: DEVICE. */
DVREN_API dvren_status dvren_optimizer_step(dvren_optimizer* opt);
/* Steps taken so far, and the learning rate the next step uses. */
DVREN_API uint64_t dvren_optimizer_steps(const dvren_optimizer* opt);
DVREN_API double dvren_optimizer_lr(const dvren_optimizer* opt);
/* The same update for one tensor outside a scene (splat parameters,
 * dvren_splat_backward's gradients): x -= the step-th (0-based) Adam or SGD
 * update from g, with the caller's zero-initialised moments m (and v for
 * ADAM; SGD's momentum buffer is m), learning rate desc->lr * lr_decay^(step
 * / decay_steps) * lr_scale. x, m, v, g: contiguous float32 tensors of one
 * element count in the context's memory (host, or device on a GPU
 * context). Errors: INVALID_ARGUMENT (naming the tensor, desc out of
 * range), DEVICE. */
DVREN_API dvren_status dvren_optimizer_update_tensor(dvren_context* ctx, const dvren_optimizer_desc* desc, uint64_t step,
                                                     float lr_scale, dvren_tensor* x, dvren_tensor* m, dvren_tensor* v,
                                                     const dvren_tensor* g);

#if !defined(DVREN_NO_CHECKPOINT)
/* Checkpoints: the scene's parameter values and, when opt is not NULL, the
 * optimizer's settings, step count and moments, in one file (format below),
 * written atomically. Loading into a scene built the same way and an
 * optimizer created with any desc continues the fit bitwise as if it had
 * not stopped. user (may be NULL) is a small caller blob saved with it
 * (at most 4096 bytes), e.g. the iteration and the RNG state of a loop.
 *
 * Format (little-endian): "DVRNCKPT", u32 version (1), u32 entry count;
 * per entry: u32 name length, the name (no terminator), u32 dtype
 * (DVREN_DTYPE_*, or 100 for float64, 101 for raw bytes), u32 ndim, ndim x
 * u64 shape, u64 byte count, the bytes; at the end a u32 CRC-32 (ISO-HDLC,
 * as zlib's) of everything before it. Entries: "param/<name>",
 * "adam_m/<name>", "adam_v/<name>", "momentum/<name>", "optimizer"
 * (float64: kind, lr, beta1, beta2, eps, momentum, weight_decay, lr_decay,
 * decay_steps, steps, lr scales...), "user".
 * Errors: IO (naming the file), FORMAT (bad magic, version, CRC, or an
 * entry whose name or shape does not match the scene: named), INVALID_ARGUMENT. */
DVREN_API dvren_status dvren_checkpoint_save(dvren_scene* scene, const dvren_optimizer* opt, const char* path,
                                             const void* user, size_t user_size);
/* user_cap bytes at user receive the saved blob (*user_size its size; both
 * may be NULL/0). */
DVREN_API dvren_status dvren_checkpoint_load(dvren_scene* scene, dvren_optimizer* opt, const char* path, void* user,
                                             size_t user_cap, size_t* user_size);
#endif /* DVREN_NO_CHECKPOINT */


/* ======================================================================== */
/* >>foveate                                                                */
/* ======================================================================== */
/* Saliency-driven foveated rendering (docs/foveation.md): render a cheap
 * preview; a saliency model (a plugin of kind DVREN_PLUGIN_SALIENCY) turns
 * it into an importance map in [0, 1]; post-processing shapes the map
 * (dvren_importance_postprocess); the final render's per-pixel budget
 * (dvren_plan_desc.spp_map / step_map, from dvren_importance_budget)
 * follows it. tools/dvren_foveate runs the three stages with files between
 * them. */

/* What a saliency model gets: the preview, on the context's device. */
typedef struct dvren_saliency_input {
    uint32_t struct_size;
    uint32_t width, height;  /* pixels, >= 1 */
    dvren_memory memory;     /* where the arrays are: HOST on a CPU context, DEVICE (the context's GPU) on CUDA */
    const float* rgb;        /* (H, W, 3) linear RGB (radiance, not sRGB-encoded), row 0 at the top */
    const float* alpha;      /* (H, W) opacity 1 - T, or NULL */
    const float* depth;      /* (H, W) expected ray distance (world units), 0 where nothing was hit, or NULL */
    const float* variance;   /* (H, W) variance of the pixel's luminance estimate (DVREN_OUTPUT_VARIANCE), or NULL */
    const char* image_path;  /* the same image as an 8-bit sRGB PNG on disk, or NULL */
} dvren_saliency_input;

/* The model reads input->image_path (it runs another program on the file):
 * dvren_saliency_compute refuses an input without one. */
#define DVREN_SALIENCY_NEEDS_FILE 0x1u

/* "dvren.saliency/1": compute(host, instance, in, map) writes the
 * importance map, (H, W) float32 in [0, 1] (1: most important), row-major,
 * into `map`, which is in in->memory (device memory on a GPU context: the
 * model runs on the GPU, through the host interface "dvren.host.cuda/1",
 * and never copies the image to the CPU to work there). wants: the
 * DVREN_OUTPUT_* bits besides RGB the model reads (ALPHA, DEPTH, VARIANCE);
 * the host passes NULL for what the framebuffer lacks. flags:
 * DVREN_SALIENCY_NEEDS_FILE. Errors through host->fail(), naming the file
 * or the parameter. Saliency plugins implement "dvren.instance/1" too
 * (describe() reports block_size 0; bind() is not called). */
#define DVREN_IFACE_SALIENCY "dvren.saliency/1"
typedef struct dvren_saliency_iface {
    uint32_t struct_size;
    uint32_t wants;
    uint32_t flags;
    dvren_status (*compute)(const dvren_host* host, void* instance, const dvren_saliency_input* in, float* map);
} dvren_saliency_iface;

/* "dvren.host.cuda/1", a host service (host->get_interface) on a CUDA
 * context (NULL on the CPU): what a plugin needs to work on the GPU, CLAP
 * style. Work must be queued on `stream`, in `context`, which is current on
 * the calling thread. Libraries of the CUDA toolkit (cuFFT) are loaded by
 * the plugin at run time, as dvren loads the driver. */
#define DVREN_HOST_CUDA "dvren.host.cuda/1"
typedef struct dvren_host_cuda {
    uint32_t struct_size;
    void* context;      /* CUcontext: the device's primary context */
    void* stream;       /* CUstream of the context (maybe the caller's: dvren_cuda_set_stream) */
    int device_ordinal; /* CUdevice */
    uint32_t arch;      /* compute capability, major * 10 + minor (86, 90) */
    /* a driver API function by name ("cuMemcpyDtoHAsync"), of the CUDA 12
     * ABI (cuGetProcAddress); NULL when the driver lacks it */
    void* (*driver_proc)(const dvren_host* host, const char* name);
    /* device memory from the context's caching pool (zero-filled); free with
     * the size asked for. Errors: OUT_OF_MEMORY, DEVICE */
    dvren_status (*mem_alloc)(const dvren_host* host, size_t bytes, void** ptr);
    void (*mem_free)(const dvren_host* host, void* ptr, size_t bytes);
    /* The CUfunction of `extern "C" __global__` kernel `name` in the
     * plugin's device source, compiled once per context with NVRTC after
     * kernels/dvren_device.h (DVREN_ON_GPU 1), cached on disk like the
     * render kernels. Errors: COMPILE (naming the plugin's file and line),
     * NOT_FOUND (no such kernel), UNSUPPORTED (no device source) */
    dvren_status (*kernel)(const dvren_host* host, const char* name, void** function);
    /* cuLaunchKernel on the stream; args as cuLaunchKernel's kernelParams.
     * Errors: DEVICE */
    dvren_status (*launch)(const dvren_host* host, void* function, const uint32_t grid[3], const uint32_t block[3],
                           uint32_t shared_bytes, void** args);
} dvren_host_cuda;

/* Runs a saliency model (a stage of kind DVREN_PLUGIN_SALIENCY, made by
 * dvren_stage_create) on an image. in's arrays are host memory, or device
 * memory of the model's GPU context (in->memory). map: host array of
 * width * height floats, written on success with values in [0, 1]. On a GPU
 * context the model runs on the GPU (host input is uploaded first); it
 * never falls back to the CPU. Errors: INVALID_ARGUMENT (not a saliency
 * stage, sizes, NULL rgb, no image_path for a model that needs the file),
 * the model's own (IO, FORMAT, TIMEOUT as its message says), PLUGIN (the
 * model wrote a value that is not finite or not in [0, 1], naming the
 * pixel), OUT_OF_MEMORY, DEVICE. */
DVREN_API dvren_status dvren_saliency_compute(dvren_stage* model, const dvren_saliency_input* in, float* map);
/* The same on a framebuffer's outputs (rgb required; alpha, depth and
 * variance passed when the framebuffer has them), where it lives.
 * image_path: the framebuffer written as PNG, for models that read a file
 * (NULL otherwise). */
DVREN_API dvren_status dvren_saliency_framebuffer(dvren_stage* model, const dvren_framebuffer* fb,
                                                  const char* image_path, float* map);

/* Post-processing of an importance map, in this order (the reference
 * user's pipeline; defaults by dvren_importance_params_default):
 *   1. percentile stretch: the values at percentiles lo and hi (0..100,
 *      lo < hi; linear interpolation between order statistics, NumPy's
 *      default) map to 0 and 1, clamped;
 *   2. gamma: v = v^gamma (> 0);
 *   3. morphological closing (dilation, then erosion) with a square of
 *      close_size x close_size pixels (odd; 0 or 1: none), which fills
 *      small holes in salient regions (Gonzalez and Woods, Digital Image
 *      Processing, 9.3); borders replicate;
 *   4. Gaussian blur with a blur_size x blur_size kernel (odd; 0 or 1:
 *      none), sigma = 0.3 ((k - 1) / 2 - 1) + 0.8 as OpenCV's
 *      getGaussianKernel chooses it; separable, borders reflected
 *      (OpenCV's BORDER_REFLECT_101);
 *   5. renormalised to [0, 1] by its maximum (when > 0). */
typedef struct dvren_importance_params {
    float percentile_lo, percentile_hi; /* default 2, 98 */
    float gamma;                        /* default 1 */
    uint32_t close_size;                /* default 5 */
    uint32_t blur_size;                 /* default 15 */
} dvren_importance_params;
DVREN_API dvren_importance_params dvren_importance_params_default(void);
/* in, out: (h, w) float32 row-major, host; out may equal in. Errors:
 * INVALID_ARGUMENT (sizes, a parameter out of range, naming it; a value of
 * in not finite, naming the pixel), OUT_OF_MEMORY (ctx's allocator). */
DVREN_API dvren_status dvren_importance_postprocess(dvren_context* ctx, const float* in, uint32_t w, uint32_t h,
                                                    const dvren_importance_params* params, float* out);

/* From importance to a per-pixel budget (dvren_importance_budget):
 *   the map (iw x ih) is resampled bilinearly to the final image (W x H,
 *   pixel centres aligned); thresholds lo, hi are its quantile_lo and
 *   quantile_hi quantiles; each pixel's weight is
 *       u = clamp((m - lo) / (hi - lo), 0, 1) ^ gamma
 *   (gamma 2.2: the weight rises slowly above lo, so the budget goes to the
 *   top of the map); coverage = mean(u). The base budget peak_spp, the rays
 *   where u = 1, is automatic when mean_spp > 0:
 *       peak = min_spp + (mean_spp - min_spp) / coverage
 *   (so that the mean over the image is about mean_spp), bounded by
 *   [min_spp, max_spp]; mean_spp = 0: peak = max_spp. Then
 *       spp  = round(min_spp + (peak - min_spp) u)
 *       step = 1 + (max_step_scale - 1) (1 - u)
 *   With hi == lo (a flat map) every pixel gets u = 1. */
typedef struct dvren_budget_params {
    uint32_t min_spp, max_spp;      /* 1 <= min_spp <= max_spp <= 65536; default 1, 64 */
    float mean_spp;                 /* the mean rays per pixel wanted, >= min_spp; 0: peak = max_spp; default 0 */
    float max_step_scale;           /* step multiplier where u = 0, in [1, 64]; 1: the same step everywhere; default 2 */
    float quantile_lo, quantile_hi; /* 0 <= lo <= hi <= 1; default 0.2, 0.8 */
    float gamma;                    /* > 0; default 2.2 */
} dvren_budget_params;
DVREN_API dvren_budget_params dvren_budget_params_default(void);
/* What dvren_importance_budget decided (tools log it before rendering). */
typedef struct dvren_budget_stats {
    float lo, hi;              /* the thresholds */
    float coverage;            /* mean weight u over the image, in [0, 1] */
    uint32_t peak_spp;         /* rays where u = 1 */
    uint64_t rays;             /* sum of spp over the image */
    double mean_spp;           /* rays / (W H) */
    double effective_samples;  /* sum of spp / step: the march's cost in rays at the plan's step */
} dvren_budget_stats;
/* The resampling itself, for code that does not link dvren.h's
 * implementation (plugins: the external saliency model resizes a program's
 * map with it): in (ih, iw) to out (height, width), float32 row-major,
 * bilinear with pixel centres aligned (source coordinate
 * (x + 0.5) iw / width - 0.5, clamped to the map; OpenCV's INTER_LINEAR
 * geometry; the identity when the sizes match). Sizes >= 1; no checks. */
static inline void dvren_resample_bilinear(const float* in, uint32_t iw, uint32_t ih, uint32_t width, uint32_t height,
                                           float* out)
{
    uint32_t x, y;
    for (y = 0; y < height; ++y) {
        double sy = ((double)y + 0.5) * ih / height - 0.5, fy;
        uint32_t y0, y1;
        sy = sy < 0.0 ? 0.0 : (sy > ih - 1 ? ih - 1 : sy);
        y0 = (uint32_t)sy;
        y1 = y0 + 1 < ih ? y0 + 1 : y0;
        fy = sy - y0;
        for (x = 0; x < width; ++x) {
            double sx = ((double)x + 0.5) * iw / width - 0.5, fx;
            uint32_t x0, x1;
            sx = sx < 0.0 ? 0.0 : (sx > iw - 1 ? iw - 1 : sx);
            x0 = (uint32_t)sx;
            x1 = x0 + 1 < iw ? x0 + 1 : x0;
            fx = sx - x0;
            out[(size_t)y * width + x] =
                (float)((1 - fy) * ((1 - fx) * in[(size_t)y0 * iw + x0] + fx * in[(size_t)y0 * iw + x1]) +
                        fy * ((1 - fx) * in[(size_t)y1 * iw + x0] + fx * in[(size_t)y1 * iw + x1]));
        }
    }
}
/* A map (ih, iw) resampled to (height, width), bilinear with pixel centres
 * aligned (source coordinate (x + 0.5) iw / width - 0.5, clamped to the
 * map; OpenCV's INTER_LINEAR geometry): how dvren_importance_budget brings
 * the map to the final image. in, out: host float32, row-major. Errors:
 * INVALID_ARGUMENT (sizes, NULL arrays). */
DVREN_API dvren_status dvren_importance_resample(dvren_context* ctx, const float* in, uint32_t iw, uint32_t ih,
                                                 uint32_t width, uint32_t height, float* out);
/* importance: (ih, iw) float32 in [0, 1], host. spp_map: W*H uint32;
 * step_map: W*H float32 (may be NULL); stats may be NULL. Errors:
 * INVALID_ARGUMENT naming the parameter or the first bad pixel,
 * OUT_OF_MEMORY (ctx's allocator). */
DVREN_API dvren_status dvren_importance_budget(dvren_context* ctx, const float* importance, uint32_t iw, uint32_t ih,
                                               uint32_t width, uint32_t height, const dvren_budget_params* params,
                                               uint32_t* spp_map, float* step_map, dvren_budget_stats* stats);

/* ======================================================================== */
/* >>register                                                               */
/* ======================================================================== */
/* Image registration (docs/registration.md): the translation between a
 * reference image and N moving images of one size, measured on the
 * colour-filter-array (CFA) mosaic of camera RAW data without demosaicing.
 * A registration model is a plugin of kind DVREN_PLUGIN_REGISTRATION
 * (plugins/phase_correlation: FFT phase correlation, Kuglin and Hines 1975,
 * with the sub-pixel refinement of Guizar-Sicairos, Thurman and Fienup,
 * "Efficient subpixel image registration algorithms", Opt. Lett. 33(2),
 * 2008); it measures one shift per colour plane, and dvren_register
 * combines the planes into one shift per image. File input (LibRaw, PNG,
 * PPM, .npy) lives in tools/dvren_raw.h, not here: dvren.h needs neither
 * LibRaw nor FFTW.
 *
 * Sign convention (scikit-image's phase_cross_correlation): the shift
 * (dy, dx) registers the moving image with the reference,
 *     reference(y, x) ~ moving(y - dy, x - dx),
 * i.e. the peak of IFFT(F_ref conj(F_moving)). A moving image whose content
 * moved down by 3 rows gives dy = -3. (OpenCV's phaseCorrelate returns the
 * opposite sign, as (x, y).) */

/* Colour-filter-array layouts. The Bayer names list the colours of the
 * 2 x 2 cell from (0, 0) row by row (RGGB: R at (0, 0), B at (1, 1)). */
typedef enum dvren_cfa {
    DVREN_CFA_NONE = 0,   /* not a mosaic: each channel is a plane (grey 1, RGB 3) */
    DVREN_CFA_RGGB = 1,
    DVREN_CFA_BGGR = 2,
    DVREN_CFA_GRBG = 3,
    DVREN_CFA_GBRG = 4,
    DVREN_CFA_XTRANS = 5, /* Fujifilm X-Trans, 6 x 6 (dvren_register_input.xtrans) */
    DVREN_CFA_FORCE_32 = 0x7FFFFFFF
} dvren_cfa;

/* Most planes an image is split into: the 36 sites of the X-Trans cell. */
#define DVREN_REGISTER_MAX_PLANES 36

/* "NONE", "RGGB", "BGGR", "GRBG", "GBRG", "XTRANS" (or "invalid"). */
DVREN_API const char* dvren_cfa_name(dvren_cfa cfa);
/* Parses a pattern name, case-insensitive ("rggb", "xtrans", "x-trans",
 * "none"). Errors: INVALID_ARGUMENT naming the text (ctx may be NULL). */
DVREN_API dvren_status dvren_cfa_parse(dvren_context* ctx, const char* text, dvren_cfa* cfa);
/* Fujifilm's X-Trans layout (X-Trans II/III, e.g. X-T2 as LibRaw reports
 * it in xtrans[6][6]), colour of pixel (y % 6, x % 6): 0 red, 1 green,
 * 2 blue. 20 greens, 8 reds, 8 blues; every row and column has all three. */
DVREN_API void dvren_cfa_xtrans_default(uint8_t layout[36]);

/* The planes of a mosaic: a CFA of period p (2 Bayer, 6 X-Trans, 1 none)
 * splits an H x W mosaic into p^2 sub-lattices ("planes"), plane k holding
 * the pixels (y, x) with y % p = k / p and x % p = k % p, of size
 * (H / p) x (W / p) (rounded down: a last partial row or column of cells is
 * left out). Every pixel of a plane has the same colour, so planes of the
 * reference and of a moving image compare like with like, and a shift of s
 * mosaic pixels is s / p plane pixels. Without a CFA the planes are the
 * channels (or their mean: grey). */
typedef struct dvren_register_layout {
    uint32_t period;                            /* p: 1, 2 or 6 */
    uint32_t plane_count;                       /* p^2, or the channels (1 or 3), or 1 (grey) */
    uint32_t plane_width, plane_height;         /* W / p, H / p */
    uint8_t colour[DVREN_REGISTER_MAX_PLANES];  /* per plane: 0 red, 1 green, 2 blue (3: grey) */
} dvren_register_layout;

/* What a registration model gets. All images have the same size, channel
 * count and dtype. */
typedef struct dvren_register_input {
    uint32_t struct_size;
    uint32_t width, height;      /* pixels, each >= 2 periods of the CFA (plane side >= 2), <= 65536 */
    uint32_t channels;           /* 1 (a mosaic or grey) or 3 (RGB, interleaved); a CFA needs 1 */
    dvren_dtype dtype;           /* U8, U16 or F32 */
    dvren_memory memory;         /* where the images are: HOST (any context), or DEVICE on a CUDA context */
    const void* reference;       /* (H, W, channels) row-major, row 0 at the top */
    const void* const* moving;   /* count images like reference */
    uint32_t count;              /* moving images, >= 1 */
    dvren_cfa cfa;               /* the mosaic's layout (channels 1), or NONE */
    uint8_t xtrans[36];          /* DVREN_CFA_XTRANS: colour of (y % 6, x % 6), 0 R 1 G 2 B; all zero: Fujifilm's */
    uint32_t grey;               /* channels 3 and cfa NONE: 1 correlates the mean of the channels (one plane) */
    uint64_t memory_limit;       /* working memory allowed, bytes (device memory on a GPU); 0: what is free.
                                    Batches of moving images are sized to fit; too small for one: OUT_OF_MEMORY */
    /* filled by dvren_register for the model (what the caller sets is ignored) */
    dvren_register_layout layout;
} dvren_register_input;

/* What a model returns per moving image and plane: the plane's shift,
 * scaled to mosaic pixels (the plane's own pixels times the period; the
 * sign convention above), and its peak height: the correlation of the
 * normalised cross-power spectrum at the shift, 1 at most (identical planes
 * without window or regularisation), about 0 for unrelated planes. The
 * peak is the largest value, not the largest magnitude: an inverted image
 * (negative correlation) is not taken for a match. */
typedef struct dvren_register_plane {
    float dy, dx; /* mosaic pixels */
    float peak;   /* normalised cross-power at the shift, <= 1 */
    float noise;  /* standard deviation of the correlation surface away from the peak (same scale) */
} dvren_register_plane;

/* Per moving image, the combined result (dvren_register). */
typedef struct dvren_register_result {
    uint32_t struct_size;
    double dy, dx;        /* mosaic pixels, the sign convention above */
    double peak;          /* peak-weighted mean of the planes' peak heights that agree with (dy, dx) */
    double confidence;    /* 0..1: (weight of the planes within one period of (dy, dx) / all weight) x
                             (1 - the chance that noise alone reaches the peak); see docs/registration.md */
    uint32_t channel_count;  /* 1 (grey, or one plane), 3 (R, G, B) */
    double channel_dy[3], channel_dx[3], channel_peak[3]; /* per colour (index 0 R, 1 G, 2 B; grey in 0), mosaic pixels */
    uint32_t plane_count;
    dvren_register_plane planes[DVREN_REGISTER_MAX_PLANES]; /* as the model returned them (mosaic pixels) */
    int32_t cfa_dy, cfa_dx; /* the nearest shift that keeps the CFA aligned: multiples of the period */
    uint32_t cfa_aligned;   /* 1 when |dy - cfa_dy| and |dx - cfa_dx| are both <= 0.05 px */
} dvren_register_result;

/* How the work went (dvren_register's report, may be NULL). */
typedef struct dvren_register_report {
    uint32_t struct_size;
    uint32_t batch_size;    /* moving images per batch (one batched FFT plan) */
    uint32_t batches;       /* batches run */
    uint64_t peak_bytes;    /* most working memory held at once (device memory on a GPU), bytes */
    uint64_t limit_bytes;   /* the memory the batch size was chosen for */
    double milliseconds;    /* wall time of the call */
} dvren_register_report;

/* "dvren.registration/1": align(host, instance, in, planes, report) writes
 * in->count x in->layout.plane_count plane results (image-major; shifts in
 * mosaic pixels) and fills
 * report's batch_size, batches, peak_bytes and limit_bytes. in has been
 * validated and its layout filled. On a CUDA context it works on the GPU
 * (through "dvren.host.cuda/1") whatever in->memory is, and never on the
 * CPU. Registration plugins implement "dvren.instance/1" too (describe()
 * reports block_size 0; bind() is not called). */
#define DVREN_IFACE_REGISTRATION "dvren.registration/1"
typedef struct dvren_registration_iface {
    uint32_t struct_size;
    dvren_status (*align)(const dvren_host* host, void* instance, const dvren_register_input* in,
                          dvren_register_plane* planes, dvren_register_report* report);
} dvren_registration_iface;

/* The plane layout of an input (from its width, height, channels, cfa and
 * grey). Errors: INVALID_ARGUMENT naming the field (a CFA on an image of
 * 3 channels, a plane side under 2, an unknown cfa). */
DVREN_API dvren_status dvren_register_layout_of(dvren_context* ctx, const dvren_register_input* in,
                                                dvren_register_layout* layout);

/* Registers in->count moving images against in->reference with a
 * registration model (a stage of kind DVREN_PLUGIN_REGISTRATION), on the
 * model's context's device: results[count] (struct_size set by the
 * callee). Per image, the planes' shifts (mosaic pixels) are combined
 * robustly: the median weighted by peak height per axis (planes whose peak
 * is <= 0 get no weight; when none is positive, the plain median), then
 * the peak-weighted mean of the planes within max(0.5, period / 2) px of
 * it on both axes (whole-pixel estimates keep the median); per colour
 * likewise among that colour's planes. Errors: INVALID_ARGUMENT
 * naming the field (sizes, dtype, channels, cfa, a NULL image, device
 * memory on a CPU context), OUT_OF_MEMORY (memory_limit too small for one
 * image: the message gives what one image needs), the model's errors
 * (UNSUPPORTED without cuFFT on a GPU, DEVICE). Never falls back to the
 * CPU on a GPU context. */
DVREN_API dvren_status dvren_register(dvren_stage* model, const dvren_register_input* in,
                                      dvren_register_result* results, dvren_register_report* report);

/* ======================================================================== */
/* >>splats                                                                 */
/* ======================================================================== */
/* 3D Gaussian splats (docs/splats.md): the second renderer beside the ray
 * march. It rasterises depth-sorted, EWA-projected Gaussians as 3D Gaussian
 * Splatting (Kerbl et al., SIGGRAPH 2023) and gsplat do; the equations are
 * in kernels/dvren_splat.h. Same context, plans, cameras and framebuffers
 * as volume renders; CPU and GPU from one source; forward deterministic.
 * File formats (PLY, gsplat's .npz) live in tools/dvren_splat_ply.h and
 * tools/dvren_splat_npz.h. */

/* The parameters of N Gaussians, as 3DGS trains them (raw, before the
 * activations). Every tensor float32, contiguous, all in host memory or all
 * in the context's device memory (a GPU context also takes host tensors and
 * uploads them per call):
 *   means          (N, 3)  world positions
 *   log_scales     (N, 3)  log of the standard deviations along the axes (world units after exp)
 *   quats          (N, 4)  rotation quaternion w x y z, any non-zero norm (normalised inside)
 *   opacity_logits (N)     logit of the opacity (sigmoid gives it)
 *   sh             (N, K, 3) real SH coefficients, K = (sh_degree + 1)^2, colour innermost
 *                          (gsplat's layout; 3DGS's f_dc are sh[:, 0, :], f_rest the rest transposed)
 * A gradient set (dvren_splat_backward) has the same shapes. */
typedef struct dvren_splat_params {
    uint32_t count;     /* N, 0 .. 2^31 / 64 */
    uint32_t sh_degree; /* 0 .. 3 */
    dvren_tensor means, log_scales, quats, opacity_logits, sh;
} dvren_splat_params;

/* Settings of a splat renderer; zero fields take the default beside them. */
typedef struct dvren_splat_options {
    float near_z;    /* Gaussians with camera z below are culled (world units); 0: 0.01 */
    float far_z;     /* ... and above; 0: 1e10 */
    float eps2d;     /* low-pass dilation of the 2-D covariance (pixel^2); 0: 0.3; negative: none */
    float alpha_max; /* cap of a Gaussian's alpha, in (0, 1); 0: 0.99 as 3DGS (gsplat: 0.999) */
} dvren_splat_options;

/* What the last render did (dvren_splat_stats). */
typedef struct dvren_splat_stats {
    uint32_t visible;        /* Gaussians that survived culling */
    uint64_t intersections;  /* (Gaussian, tile) pairs sorted */
    uint64_t workspace_bytes;/* the renderer's buffers in the backend's memory */
} dvren_splat_stats;

typedef struct dvren_splat_renderer dvren_splat_renderer;
/* A splat renderer on ctx's device: its settings and its workspace (the
 * projected Gaussians, tile lists and per-pixel state of the last render,
 * which dvren_splat_backward replays). options may be NULL. Errors:
 * INVALID_ARGUMENT (a setting out of range, named), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_splat_renderer_create(dvren_context* ctx, const dvren_splat_options* options,
                                                   dvren_splat_renderer** out);
DVREN_API void dvren_splat_renderer_destroy(dvren_splat_renderer* r);

/* Renders the Gaussians p with plan's camera into fb. The plan's camera is
 * DVREN_CAMERA_INTRINSICS (dvren_camera_from_opencv) or DVREN_CAMERA_PINHOLE
 * (then fx = fy = height / (2 tan(fov_y / 2)), principal point at the
 * centre); its roi must be the whole image, spp 1, no ray batch or budget
 * maps. Outputs (plan->outputs): RGB (+ T * background), ALPHA (1 - T),
 * TRANSMITTANCE (T), DEPTH (expected camera z, sum z_i w_i / alpha, 0 where
 * alpha = 0: gsplat's "ED"; note that volume renders' depth is a ray
 * distance), MEDIAN_DEPTH, SAMPLES (the Gaussians composited in the pixel).
 * plan->min_transmittance is the stop threshold (0: 1e-4). layer (may be
 * NULL): a framebuffer with RGB, ALPHA and DEPTH of a volume render of the
 * same plan, composited among the splats at its depth (docs/splats.md,
 * "Mixed scenes"); its depth (a ray distance) is turned into camera z.
 * Bitwise deterministic for a device, for any thread count. Errors:
 * INVALID_ARGUMENT (a tensor of the wrong shape, dtype, memory or layout,
 * naming it; a plan this renderer cannot draw; non-finite camera),
 * UNSUPPORTED (an orthographic or matrix camera), OUT_OF_MEMORY, DEVICE. */
DVREN_API dvren_status dvren_splat_render(dvren_splat_renderer* r, const dvren_splat_params* p, const dvren_plan* plan,
                                          dvren_framebuffer* fb, const dvren_framebuffer* layer);

/* Gradients of a scalar loss with respect to the parameters of the last
 * render's Gaussians (p must be those parameters, unchanged): cot holds
 * dL/d(output) for any of RGB, ALPHA, DEPTH (absent outputs: zero), made
 * with dvren_framebuffer_create_outputs from the same plan. grads receives
 * d L / d (means, log_scales, quats, opacity_logits, sh) (overwritten; any
 * tensor with data NULL is skipped); same shapes as p, in host memory or
 * the context's device memory. Culled Gaussians get zero. On the CPU the
 * sum over pixels runs in a fixed order: gradients are bitwise the same run
 * after run; on CUDA a tile's pixels add into its entries with float
 * atomics, so the last bits vary (docs/splats.md, "GPU"). Errors:
 * INVALID_ARGUMENT (no render before, other count, a tensor of the wrong
 * shape), UNSUPPORTED (the render had a layer), OUT_OF_MEMORY, DEVICE. */
DVREN_API dvren_status dvren_splat_backward(dvren_splat_renderer* r, const dvren_splat_params* p,
                                            const dvren_framebuffer* cot, dvren_splat_params* grads);

/* Counts of the last render. Errors: INVALID_ARGUMENT (NULL). */
DVREN_API dvren_status dvren_splat_stats_get(const dvren_splat_renderer* r, dvren_splat_stats* out);

/* Rotation of real spherical harmonics (the basis of kernels/dvren_splat.h,
 * which 3DGS uses): for the row-major rotation matrix R (det 1) and degree
 * l in 1..3 writes the (2l+1) x (2l+1) row-major matrix D with
 *   sum_m D[k][m] b_l,m(n) = b_l,k(R^T n) for every unit n,
 * so the coefficients f of a Gaussian rotated by R become f'_m = sum_k
 * D[k][m] f_k (its colour seen along R n equals the old one along n).
 * Computed by solving the basis at 2l+1 fixed directions (exact up to
 * float64 rounding). Errors: INVALID_ARGUMENT (degree, R not a rotation to
 * 1e-5). */
DVREN_API dvren_status dvren_sh_rotation(const double R[9], uint32_t degree, double* D);

/* ======================================================================== */
/* >>meshes                                                                 */
/* ======================================================================== */
/* Surfaces out of fields (docs/meshes.md): marching cubes on a regular grid
 * of samples, CPU and GPU from one source (kernels/dvren_mc.h), giving an
 * indexed triangle mesh with shared vertices. File formats (OBJ, PLY, GLB)
 * and scene composition live in tools/dvren_mesh_io.h and tools/dvren_mesh.c. */

/* An indexed triangle mesh in host memory, owned by whoever filled it
 * (dvren_mesh_alloc / dvren_marching_cubes) and released with
 * dvren_mesh_free through the same context's allocator.
 *   positions (vertex_count, 3) float32, x y z in world units;
 *   normals   (vertex_count, 3) float32 unit vectors pointing out of the
 *             surface (towards lower field values), or NULL;
 *   colors    (vertex_count, 3) float32 RGB, linear, in [0, 1], or NULL;
 *   triangles (triangle_count, 3) uint32 vertex indices, counter-clockwise
 *             seen from outside (the normals' side), as glTF 2.0 wants.
 * Every vertex is used by at least one triangle after marching cubes; a
 * vertex lies on exactly one grid edge, so no two vertices coincide except
 * where the field equals the level at a grid point (docs/meshes.md). */
typedef struct dvren_mesh {
    uint32_t vertex_count, triangle_count;
    float* positions;
    float* normals;
    float* colors;
    uint32_t* triangles;
} dvren_mesh;

#define DVREN_MESH_NORMALS 0x1u
#define DVREN_MESH_COLORS 0x2u

/* Allocates a zero-filled mesh of V vertices and T triangles (positions and
 * triangles always; normals and colors when flags has DVREN_MESH_NORMALS /
 * DVREN_MESH_COLORS). V or T may be 0 (the arrays are then NULL). Any
 * previous content of *out is overwritten, not freed. Errors:
 * INVALID_ARGUMENT (NULL, V or T above 2^31), OUT_OF_MEMORY (out untouched). */
DVREN_API dvren_status dvren_mesh_alloc(dvren_context* ctx, uint32_t vertex_count, uint32_t triangle_count,
                                        uint32_t flags, dvren_mesh* out);
/* Frees the arrays of a mesh filled by dvren_mesh_alloc or
 * dvren_marching_cubes with ctx, and zeroes *mesh. NULL is a no-op. */
DVREN_API void dvren_mesh_free(dvren_context* ctx, dvren_mesh* mesh);

/* Marching cubes options (dvren_marching_cubes).
 *   level    iso-level in the grid's units (finite);
 *   origin   world position (x, y, z) of sample [0][0][0];
 *   spacing  world distance (x, y, z) between neighbouring samples, > 0;
 *   flags    DVREN_MC_INSIDE_BELOW: the inside is where value < level
 *            (default: value > level, a density's solid); DVREN_MC_NO_NORMALS:
 *            leave mesh->normals NULL.
 * A zeroed struct is valid except for spacing. */
#define DVREN_MC_INSIDE_BELOW 0x1u
#define DVREN_MC_NO_NORMALS 0x2u
typedef struct dvren_mc_options {
    float level;
    float origin[3];
    float spacing[3];
    uint32_t flags;
} dvren_mc_options;

/* What one dvren_marching_cubes call did. ms_device: the extraction's
 * launches (classify, scans, vertex and triangle emission, including the
 * vertex dedup), measured with device events on a GPU and the wall clock on
 * the CPU; ms_total: the whole call, the copy of the mesh into host memory
 * included. */
typedef struct dvren_mc_stats {
    double ms_device, ms_total;
    uint64_t active_cells; /* cells the surface crosses */
} dvren_mc_stats;

/* Marching cubes (Lorensen and Cline, SIGGRAPH 1987) with the ambiguities
 * resolved consistently so that the mesh is manifold and closed wherever the
 * surface is: each cube face's two ambiguous configurations are told apart
 * by the asymptotic decider (Nielson and Hamann, Vis 1991: the bilinear
 * interpolant's saddle value), which both cubes sharing the face compute
 * from the same four values; the contour segments on the cube's six faces
 * are then chained into closed loops, each triangulated as a fan
 * (docs/meshes.md, "Marching cubes"; kernels/dvren_mc.h).
 *   grid: float32 samples, shape (Z, Y, X) or (Z, Y, X, 1), contiguous, x
 *         fastest, each dimension >= 2; host memory, or device memory of a
 *         CUDA context (then the extraction runs on the GPU and only the
 *         mesh is copied back). Non-finite samples count as outside.
 *   Vertices: one per grid edge whose end samples lie on both sides of the
 *   level, at the linear zero crossing, in the order of their edge (sample
 *   index z*Y*X + y*X + x, then the axis x, y, z); triangles in cell order.
 *   The CPU and the GPU give identical meshes (bit for bit).
 *   Normals: minus the field's gradient (central differences of the grid,
 *   one-sided at its border, divided by the spacing), interpolated along
 *   the edge and normalised; (0, 0, 0) where that gradient vanishes.
 * *out is overwritten (free it with dvren_mesh_free); stats may be NULL.
 * Errors: INVALID_ARGUMENT (naming the field: dtype, shape, layout, level,
 * spacing), UNSUPPORTED (more than 2^31 vertices or triangles), OUT_OF_MEMORY,
 * DEVICE. On error *out is empty. */
DVREN_API dvren_status dvren_marching_cubes(dvren_context* ctx, const dvren_tensor* grid, const dvren_mc_options* opt,
                                            dvren_mesh* out, dvren_mc_stats* stats);

/* Samples a scene's field on a regular grid of res[0] x res[1] x res[2]
 * points (x, y, z) spanning box_min..box_max inclusive (res >= 2 each), for
 * dvren_marching_cubes (origin box_min, spacing (box_max - box_min) / (res - 1)).
 * channel >= 0: that field channel; DVREN_SAMPLE_DENSITY: the shader's
 * density sigma (1/world unit) of the channels. box_min == box_max == 0:
 * the field's bounds (dvren_instance_info.bounds_min/max). Runs on the host
 * with the plugins' CPU code (the trained values are read back first on a
 * GPU context), in the context's threads. *out becomes an owning host f32
 * tensor (Z, Y, X). Errors: INVALID_ARGUMENT (res, box, channel >= the
 * field's channels), OUT_OF_MEMORY. */
#define DVREN_SAMPLE_DENSITY (-1)
typedef struct dvren_grid_sample_desc {
    uint32_t res[3];
    float box_min[3], box_max[3];
    int32_t channel;
} dvren_grid_sample_desc;
DVREN_API dvren_status dvren_scene_sample_grid(dvren_scene* scene, const dvren_grid_sample_desc* desc, dvren_tensor* out);

/* Colours a mesh from a scene's shader: at each vertex the field's channels
 * are evaluated and the shader's colour() is called with the vertex normal
 * as the gradient direction and the view direction -normal (looking at the
 * surface head-on), clamped to [0, 1]. Allocates mesh->colors when NULL.
 * Errors: INVALID_ARGUMENT (NULL, a mesh without positions), OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_mesh_shade(dvren_scene* scene, dvren_mesh* mesh);

/* ======================================================================== */
/* >>files                                                                  */
/* ======================================================================== */

/* Writes size bytes to path through a temporary file in the same folder,
 * renamed into place at the end: a failed write never leaves a partial
 * file. Errors: IO naming the path (missing folder, permission, disk full). */
DVREN_API dvren_status dvren_file_write_atomic(dvren_context* ctx, const char* path, const void* data, size_t size);
/* Saves a host tensor as NumPy .npy (format version 1.0, little-endian, C
 * order; https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
 * atomically. f16 is written as '<f2'. Errors: INVALID_ARGUMENT (device
 * memory, bad tensor), IO, OUT_OF_MEMORY. */
DVREN_API dvren_status dvren_tensor_save_npy(dvren_context* ctx, const dvren_tensor* t, const char* path);

#ifdef __cplusplus
}
#endif

#endif /* DVREN_H */

/* ------------------------------------------------------------------------
 * Stop here if you only want the API: the rest is the implementation.
 * ------------------------------------------------------------------------ */

/* (not while the API reads the device vocabulary from >>generated) */
#if defined(DVREN_IMPLEMENTATION) && !defined(DVREN__IMPLEMENTATION_DONE) && !defined(DVREN__GEN_DEVICE)
#define DVREN__IMPLEMENTATION_DONE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <io.h>
#include <process.h>
#else
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>
#if !defined(DVREN_NO_THREADS)
#include <pthread.h>
#endif
#endif
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif
#include <time.h>
#if defined(__linux__) && !defined(__cplusplus) && !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE)
/* strict -std=c11 hides POSIX's readlink; it is there all the same */
extern ssize_t readlink(const char* path, char* buf, size_t size);
#endif

#ifdef __cplusplus
#define DVREN__TLS thread_local
#elif defined(_MSC_VER)
#define DVREN__TLS __declspec(thread)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define DVREN__TLS _Thread_local
#else
#define DVREN__TLS __thread
#endif

#if defined(_WIN32)
#define DVREN__PATH_LIST_SEP ';'
#define DVREN__LIB_EXT ".dll"
#elif defined(__APPLE__)
#define DVREN__PATH_LIST_SEP ':'
#define DVREN__LIB_EXT ".dylib"
#else
#define DVREN__PATH_LIST_SEP ':'
#define DVREN__LIB_EXT ".so"
#endif

#define DVREN__ERROR_CAP 2048
#define DVREN__PATH_CAP 4096

/* One checking pattern for the whole implementation (cute_headers): set
 * `status` and jump to the function's single cleanup label. */
#define DVREN__CHECK(expr)                \
    do {                                  \
        status = (expr);                  \
        if (status != DVREN_OK) goto cleanup; \
    } while (0)
/* The same for functions without cleanup: return the failing status. */
#define DVREN__TRY(expr)                      \
    do {                                      \
        dvren_status try_ = (expr);           \
        if (try_ != DVREN_OK) return try_;    \
    } while (0)
#define DVREN__FAIL(ctx, st, module, hint, ...)                                  \
    do {                                                                          \
        status = dvren_set_error((ctx), (st), (module), (hint), __VA_ARGS__);    \
        goto cleanup;                                                             \
    } while (0)

/* ======================================================================== */
/* >>status (implementation)                                                */
/* ======================================================================== */

static DVREN__TLS char dvren__thread_error[DVREN__ERROR_CAP];
static DVREN__TLS dvren_status dvren__thread_status;

struct dvren__plugin_rec;

typedef struct dvren__library {
    void* handle;
    char* path;
} dvren__library;

typedef struct dvren__plugin_rec {
    dvren_context* ctx;
    const dvren_plugin_desc* desc;
    uint32_t library;    /* index into ctx->libs */
    uint32_t abi_version; /* DVREN_ABI_VERSION the plugin was built with (older minor versions get their old semantics) */
    dvren_host host;     /* host services handed to this plugin */
    /* The plugin's interfaces, copied into zero-filled host-size structs:
     * members an older plugin does not have read as NULL / 0. */
    dvren_instance_iface inst;
    dvren_field_iface field;
    dvren_shader_iface shader;
    dvren_sampler_iface sampler;
    dvren_saliency_iface saliency;
    dvren_registration_iface registration;
} dvren__plugin_rec;

/* >>backend: the hooks through which the public functions run on a device.
 * The CPU is one (>>cpu, below); dvren_cuda.h adds CUDA; a third device would
 * be one more table. The public functions validate their arguments once and
 * call these hooks without asking which device it is; what both devices
 * share (march arguments, gradient bindings, cotangent scaling, fixed-point
 * finalisation, losses' and TV's sums, optimizer constants, checkpoints) is
 * written once in backend-neutral code. Hooks work at two levels only:
 * memory (where buffers live and how bytes move) and launch (run one
 * single-source kernel over its index space). A backend's implementation
 * lives in the same translation unit as dvren.h's and may use the private
 * structs. All hooks are called on the context's thread. */
struct dvren_scene;
struct dvren_framebuffer;
struct dvren_plan;
struct dvren_march_args;
struct dvren_optimizer;
struct dvren_splat_renderer;
struct dvren__splat_job;
struct dvren_mc_grid;
struct dvren_backend {
    uint32_t struct_size;
    const char* name;
    dvren_device_kind device;
    dvren_memory memory; /* where mem_alloc's and mem_place's memory is: HOST (the CPU) or DEVICE */
    /* context: init sets ctx->be_state; errors leave their text on ctx */
    dvren_status (*init)(dvren_context* ctx, const dvren_context_desc* desc);
    void (*shutdown)(dvren_context* ctx);
    dvren_status (*synchronize)(dvren_context* ctx);
    /* ---- memory -------------------------------------------------------- */
    /* zero-filled bytes in `memory`; mem_free gets the size asked for */
    dvren_status (*mem_alloc)(dvren_context* ctx, size_t bytes, void** p);
    void (*mem_free)(dvren_context* ctx, void* p, size_t bytes);
    /* copies in either direction, ordered with the launches; returns when
     * the host side may be reused (dst == src is a no-op) */
    dvren_status (*mem_copy)(dvren_context* ctx, void* dst, dvren_memory dst_mem, const void* src, dvren_memory src_mem,
                             size_t bytes);
    dvren_status (*mem_zero)(dvren_context* ctx, void* p, size_t bytes);
    /* A long-lived host array (a stage's buffer, a framebuffer output) made
     * readable by launches: the CPU borrows it (*addr = host), a GPU copies
     * it into device memory. mem_unplace undoes it. */
    dvren_status (*mem_place)(dvren_context* ctx, void* host, size_t bytes, void** addr);
    void (*mem_unplace)(dvren_context* ctx, void* host, void* addr, size_t bytes);
    /* Inputs of one call (a ray batch, loss targets): addr[i] is where a
     * launch reads in[i] (NULL entries stay NULL); valid until the next call
     * of this hook. Device tensors pass through. */
    dvren_status (*mem_stage)(dvren_context* ctx, uint32_t n, const dvren_tensor* const* in, const void** addr);
    /* Bytes the backend could still allocate (host: available RAM). */
    dvren_status (*mem_available)(dvren_context* ctx, uint64_t* bytes);
    /* ---- launches -------------------------------------------------------- */
    /* per-scene preparation (the CPU: nothing; a GPU: the fused kernel) */
    dvren_status (*scene_init)(struct dvren_scene* sc);
    void (*scene_shutdown)(struct dvren_scene* sc);
    /* The march template over the roi of A: dvren_render_pixel, or with
     * backward dvren_backward_pixel. A->field, A->shader and A->sampler are
     * the three bound parameter blocks (host memory; a GPU copies them into
     * the launch). threads: CPU threads (0: the context's). */
    dvren_status (*launch_march)(struct dvren_scene* sc, const struct dvren_march_args* A, int backward,
                                 uint32_t threads, dvren_progress_fn progress, void* progress_user);
    /* kernels/dvren_train.h element-wise: grad[j] = w rho'(pred[j] - target[j]);
     * *sum (when not NULL) = sum_j rho in float64, in a fixed order */
    dvren_status (*launch_loss)(dvren_context* ctx, const float* pred, const float* target, float* grad, uint64_t n,
                                uint32_t kind, float delta, float w, double* sum);
    /* total variation of channels [c0, c1) of a (Z, Y, X, C) grid: g += norm
     * dTV/dx (g may be NULL); *sum (when not NULL) = sum of the terms */
    dvren_status (*launch_tv)(dvren_context* ctx, const float* x, float* g, const uint32_t dims[4], uint32_t c0,
                              uint32_t c1, uint32_t squared, double norm, double* sum);
    dvren_status (*launch_adam)(dvren_context* ctx, float* x, float* m, float* v, const float* g, uint64_t n,
                                const float hyper[7]); /* lr, beta1, beta2, eps, weight_decay, bc1, sqrt(bc2) */
    dvren_status (*launch_sgd)(dvren_context* ctx, float* x, float* buf, const float* g, uint64_t n,
                               const float hyper[3]); /* lr, momentum, weight_decay */
    /* largest |a| over `count` float arrays; +inf when one holds a non-finite value */
    dvren_status (*launch_absmax)(dvren_context* ctx, uint32_t count, const float* const* a, const uint64_t* n,
                                  float* out);
    /* deterministic mode: g[j] += fixed[j] * unit, fixed[j] = 0 */
    dvren_status (*launch_fixed_finalize)(dvren_context* ctx, int64_t* fixed, float* g, uint64_t n, double unit);
    /* ---- plugins ----------------------------------------------------------- */
    /* a host service by id that this device offers plugins (CUDA:
     * "dvren.host.cuda/1"), or NULL; the CPU offers none */
    const void* (*host_interface)(dvren_context* ctx, const char* id);
    /* ---- splats (>>splats) ------------------------------------------------ */
    /* The splat pipeline of kernels/dvren_splat.h over a renderer's
     * workspace: forward (project, bin, sort each tile by depth, composite)
     * fills J->fb and the per-pixel state; backward (replay into per-entry
     * slots, each Gaussian's fixed-order sum, projection backward) fills
     * J's gradients. NULL: this device has no splat renderer (UNSUPPORTED). */
    dvren_status (*launch_splats)(struct dvren_splat_renderer* r, const struct dvren__splat_job* J, int backward);
    /* ---- meshes (>>meshes) ------------------------------------------------- */
    /* Marching cubes of kernels/dvren_mc.h over G (G->g where launches read:
     * mem_stage's address): counts per slice or block, offsets, then vertices
     * (with normals when `normals`) and triangles in the order dvren.h
     * documents, into *out (a host mesh made with dvren_mesh_alloc);
     * stats->ms_device and active_cells. NULL: UNSUPPORTED. */
    dvren_status (*launch_mc)(dvren_context* ctx, const struct dvren_mc_grid* G, int normals, dvren_mesh* out,
                              dvren_mc_stats* stats);
};

struct dvren_context {
    const dvren_backend* be; /* never NULL: the CPU's or the desc's */
    void* be_state;
    dvren_allocator allocator;
    dvren_log_fn log;
    void* log_user;
    dvren_log_level log_level;
    uint32_t flags;  /* DVREN_CONTEXT_* */
    double t0_ms;    /* creation time (JSON log lines) */
    uint32_t threads;
    dvren_device_kind device;
    char* plugin_path;
    dvren__library* libs;
    uint32_t lib_count, lib_cap;
    dvren__plugin_rec** plugins;
    uint32_t plugin_count, plugin_cap;
    char last_error[DVREN__ERROR_CAP];
    dvren_status last_status; /* the status of last_error */
};

DVREN_API const char* dvren_status_string(dvren_status s)
{
    switch (s) {
    case DVREN_OK: return "DVREN_OK";
    case DVREN_ERROR_INVALID_ARGUMENT: return "DVREN_ERROR_INVALID_ARGUMENT";
    case DVREN_ERROR_OUT_OF_MEMORY: return "DVREN_ERROR_OUT_OF_MEMORY";
    case DVREN_ERROR_IO: return "DVREN_ERROR_IO";
    case DVREN_ERROR_FORMAT: return "DVREN_ERROR_FORMAT";
    case DVREN_ERROR_NOT_FOUND: return "DVREN_ERROR_NOT_FOUND";
    case DVREN_ERROR_PLUGIN: return "DVREN_ERROR_PLUGIN";
    case DVREN_ERROR_UNSUPPORTED: return "DVREN_ERROR_UNSUPPORTED";
    case DVREN_ERROR_NO_DEVICE: return "DVREN_ERROR_NO_DEVICE";
    case DVREN_ERROR_DEVICE: return "DVREN_ERROR_DEVICE";
    case DVREN_ERROR_COMPILE: return "DVREN_ERROR_COMPILE";
    case DVREN_ERROR_CANCELLED: return "DVREN_ERROR_CANCELLED";
    case DVREN_ERROR_INTERNAL: return "DVREN_ERROR_INTERNAL";
    case DVREN_ERROR_TIMEOUT: return "DVREN_ERROR_TIMEOUT";
    default: return "DVREN_UNKNOWN_STATUS";
    }
}

DVREN_API const char* dvren_last_error(const dvren_context* ctx)
{
    return ctx ? ctx->last_error : dvren__thread_error;
}

DVREN_API dvren_status dvren_last_status(const dvren_context* ctx)
{
    return ctx ? ctx->last_status : dvren__thread_status;
}

static double dvren__now_ms(void);

/* One log line to the sink: "[tag] text" as it is, or as a JSON object
 * (DVREN_CONTEXT_LOG_JSON). */
static void dvren__emit(dvren_context* ctx, dvren_log_level level, const char* line)
{
    static const char* const levels[4] = {"error", "warn", "info", "debug"};
    char json[2 * DVREN__ERROR_CAP + 160];
    const char* p = line;
    size_t n;
    if (!ctx || !ctx->log || level > ctx->log_level) return;
    if (!(ctx->flags & DVREN_CONTEXT_LOG_JSON)) {
        ctx->log(ctx->log_user, level, line);
        return;
    }
    n = (size_t)snprintf(json, sizeof json, "{\"time_ms\": %.3f, \"level\": \"%s\", \"tag\": \"",
                         dvren__now_ms() - ctx->t0_ms, levels[(unsigned)level < 4u ? (unsigned)level : 3u]);
    if (*p == '[') { /* "[tag] text": the tag, lower case, without brackets */
        for (++p; *p && *p != ']' && n + 8 < sizeof json; ++p) json[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        if (*p == ']') ++p;
        if (*p == ' ') ++p;
    }
    n += (size_t)snprintf(json + n, sizeof json - n, "\", \"message\": \"");
    for (; *p && n + 16 < sizeof json; ++p) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            json[n++] = '\\';
            json[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(json + n, sizeof json - n, "\\u%04x", (unsigned)c);
        } else {
            json[n++] = (char)c;
        }
    }
    snprintf(json + n, sizeof json - n, "\"}");
    ctx->log(ctx->log_user, level, json);
}

static void dvren__vlog(dvren_context* ctx, dvren_log_level level, const char* tag, const char* fmt, va_list ap)
{
    char line[DVREN__ERROR_CAP + 64];
    int n;
    if (!ctx || !ctx->log || level > ctx->log_level) return;
    n = snprintf(line, sizeof line, "%s ", tag ? tag : DVREN_TAG_STEP);
    if (n < 0) return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    dvren__emit(ctx, level, line);
}

DVREN_API void dvren_log(dvren_context* ctx, dvren_log_level level, const char* tag, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dvren__vlog(ctx, level, tag, fmt, ap);
    va_end(ap);
}

static dvren_status dvren__verror(dvren_context* ctx, dvren_status status, const char* module, const char* hint,
                                  const char* fmt, va_list ap)
{
    char* buf = ctx ? ctx->last_error : dvren__thread_error;
    size_t cap = DVREN__ERROR_CAP, n = 0;
    int k;
    if (ctx) ctx->last_status = status;
    else dvren__thread_status = status;
    if (module && *module) {
        k = snprintf(buf, cap, "%s: ", module);
        n = k > 0 ? (size_t)k : 0;
    }
    if (n < cap) {
        k = vsnprintf(buf + n, cap - n, fmt, ap);
        if (k > 0) n += (size_t)k;
    }
    if (hint && *hint && n < cap) snprintf(buf + n, cap - n, " (hint: %s)", hint);
    buf[cap - 1] = 0;
    if (ctx && ctx->log && DVREN_LOG_ERROR <= ctx->log_level) {
        char line[DVREN__ERROR_CAP + 16];
        snprintf(line, sizeof line, "%s %s", DVREN_TAG_ERROR, buf);
        dvren__emit(ctx, DVREN_LOG_ERROR, line);
    }
    return status;
}

DVREN_API dvren_status dvren_set_error(dvren_context* ctx, dvren_status status, const char* module, const char* hint,
                                       const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = dvren__verror(ctx, status, module, hint, fmt, ap);
    va_end(ap);
    return status;
}

DVREN_API void dvren_log_to_file(void* user, dvren_log_level level, const char* line)
{
    FILE* f = user ? (FILE*)user : stderr;
    (void)level;
    fputs(line, f);
    fputc('\n', f);
    fflush(f);
}

/* ======================================================================== */
/* >>alloc (implementation)                                                 */
/* ======================================================================== */

static void* dvren__default_alloc(size_t size, size_t align, void* user)
{
    (void)user;
    if (size == 0) size = 1;
#if defined(_WIN32)
    return _aligned_malloc(size, align);
#else
    /* C11 aligned_alloc wants a size that is a multiple of the alignment */
    if (align < sizeof(void*)) align = sizeof(void*);
    if (size > SIZE_MAX - align) return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
#endif
}

static void dvren__default_free(void* ptr, size_t size, void* user)
{
    (void)size;
    (void)user;
#if defined(_WIN32)
    _aligned_free(ptr);
#else
    free(ptr);
#endif
}

static void* dvren__alloc(dvren_context* ctx, size_t size)
{
    return ctx->allocator.alloc(size ? size : 1, 64, ctx->allocator.user);
}

static void* dvren__calloc(dvren_context* ctx, size_t size)
{
    void* p = dvren__alloc(ctx, size);
    if (p) memset(p, 0, size ? size : 1);
    return p;
}

static void dvren__free(dvren_context* ctx, void* ptr, size_t size)
{
    if (ptr) ctx->allocator.free(ptr, size ? size : 1, ctx->allocator.user);
}

static char* dvren__strdup(dvren_context* ctx, const char* s)
{
    size_t n = strlen(s) + 1;
    char* d = (char*)dvren__alloc(ctx, n);
    if (d) memcpy(d, s, n);
    return d;
}

static void dvren__strfree(dvren_context* ctx, char* s)
{
    if (s) dvren__free(ctx, s, strlen(s) + 1);
}

/* The one whole-file reader of the implementation: reads path into a
 * NUL-terminated buffer from ctx's allocator (*size bytes, the terminator
 * not counted; free *size + 1 bytes). A file larger than max_bytes is an
 * error before anything is allocated. Errors: IO naming the path, FORMAT
 * (too large), OUT_OF_MEMORY. */
static dvren_status dvren__read_file(dvren_context* ctx, const char* module, const char* path, uint64_t max_bytes,
                                     char** data, size_t* size)
{
    FILE* f = fopen(path, "rb");
    long len;
    *data = NULL;
    *size = 0;
    if (!f) return dvren_set_error(ctx, DVREN_ERROR_IO, module, NULL, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_IO, module, NULL, "cannot read '%s': not a regular file", path);
    }
    if ((uint64_t)len > max_bytes) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_FORMAT, module, NULL, "'%s' is %.0f bytes, more than the %.0f this reader takes",
                               path, (double)len, (double)max_bytes);
    }
    *data = (char*)dvren__alloc(ctx, (size_t)len + 1);
    if (!*data) {
        fclose(f);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, module, NULL, "cannot hold '%s' (%.0f bytes)", path,
                               (double)len);
    }
    if (fread(*data, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        dvren__free(ctx, *data, (size_t)len + 1);
        *data = NULL;
        return dvren_set_error(ctx, DVREN_ERROR_IO, module, NULL, "cannot read '%s'", path);
    }
    fclose(f);
    (*data)[len] = 0;
    *size = (size_t)len;
    return DVREN_OK;
}

/* The one growable byte buffer of the implementation (checkpoints, .npy
 * files, the CUDA backend's composed kernel sources): appends through ctx's
 * allocator (data NULL: zero bytes) and keeps a NUL after the last byte; an
 * allocation that fails sets `failed`, and later appends do nothing. Free
 * with dvren__buf_free. */
typedef struct dvren__buf {
    dvren_context* ctx;
    char* s;
    size_t n, cap;
    int failed;
} dvren__buf;

static void dvren__buf_add(dvren__buf* b, const void* data, size_t n)
{
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char* d;
        while (cap < b->n + n + 1) {
            if (cap > ((size_t)-1) / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        d = (char*)dvren__alloc(b->ctx, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        if (b->s) {
            memcpy(d, b->s, b->n);
            dvren__free(b->ctx, b->s, b->cap);
        }
        b->s = d;
        b->cap = cap;
    }
    if (n) {
        if (data) memcpy(b->s + b->n, data, n);
        else memset(b->s + b->n, 0, n); /* data NULL: n zero bytes, to be filled in place */
    }
    b->n += n;
    b->s[b->n] = 0;
}

static void dvren__buf_free(dvren__buf* b)
{
    if (b->s) dvren__free(b->ctx, b->s, b->cap);
    b->s = NULL;
    b->n = b->cap = 0;
}

/* Grows an array of elem-sized items to hold at least need items. */
static int dvren__grow(dvren_context* ctx, void** arr, uint32_t* cap, uint32_t need, size_t elem)
{
    uint32_t ncap;
    void* n;
    if (need <= *cap) return 1;
    ncap = *cap ? *cap * 2 : 8;
    while (ncap < need) ncap *= 2;
    n = dvren__alloc(ctx, (size_t)ncap * elem);
    if (!n) return 0;
    if (*arr) {
        memcpy(n, *arr, (size_t)(*cap) * elem);
        dvren__free(ctx, *arr, (size_t)(*cap) * elem);
    }
    *arr = n;
    *cap = ncap;
    return 1;
}

/* ======================================================================== */
/* >>context (implementation)                                               */
/* ======================================================================== */

static uint32_t dvren__cpu_count(void)
{
#if defined(_WIN32)
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors ? (uint32_t)si.dwNumberOfProcessors : 1u;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1u;
#endif
}

/* Milliseconds of a monotonic clock (timer lines). */
static double dvren__now_ms(void)
{
#if defined(_WIN32)
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return 1000.0 * (double)c.QuadPart / (double)f.QuadPart;
#else
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return 1000.0 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
#endif
}

static const dvren_backend* dvren__cpu_backend(void); /* >>cpu */

DVREN_API dvren_status dvren_context_create(const dvren_context_desc* desc, dvren_context** out)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    const char* env;
    dvren_status status = DVREN_OK;
    if (!out) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", NULL, "out is NULL");
    *out = NULL;
    memset(&d, 0, sizeof d);
    if (desc) d = *desc;
    if ((d.allocator.alloc == NULL) != (d.allocator.free == NULL))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", "set both alloc and free, or neither",
                               "allocator has only one of its two hooks");
    if (d.threads > 1024)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", NULL, "threads = %u > 1024",
                               (unsigned)d.threads);
    if (d.device != DVREN_DEVICE_CPU && d.device != DVREN_DEVICE_CUDA)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", NULL, "unknown device %d",
                               (int)d.device);
    if (d.device != DVREN_DEVICE_CPU && !d.backend)
        return dvren_set_error(NULL, DVREN_ERROR_UNSUPPORTED, "context",
                               "include dvren_cuda.h and set desc.backend = dvren_cuda_backend()",
                               "device CUDA requested, but no GPU backend was given (this program has only the CPU renderer)");
    if (!d.backend) d.backend = dvren__cpu_backend();
    if (d.backend->device != d.device || d.backend->struct_size < sizeof(dvren_backend))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", NULL,
                               "backend '%s' does not drive device %d", d.backend->name ? d.backend->name : "?",
                               (int)d.device);
    if (!d.allocator.alloc) {
        d.allocator.alloc = dvren__default_alloc;
        d.allocator.free = dvren__default_free;
    }
    ctx = (dvren_context*)d.allocator.alloc(sizeof *ctx, 64, d.allocator.user);
    if (!ctx) return dvren_set_error(NULL, DVREN_ERROR_OUT_OF_MEMORY, "context", NULL, "out of memory");
    memset(ctx, 0, sizeof *ctx);
    ctx->allocator = d.allocator;
    ctx->log = d.log;
    ctx->log_user = d.log_user;
    ctx->log_level = d.log_level ? d.log_level : DVREN_LOG_INFO;
    ctx->device = d.device;
    ctx->t0_ms = dvren__now_ms();
    if (d.flags & ~DVREN_CONTEXT_LOG_JSON) {
        status = dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", NULL, "unknown flags 0x%x",
                                 (unsigned)(d.flags & ~DVREN_CONTEXT_LOG_JSON));
        goto cleanup;
    }
    ctx->flags = d.flags;
    if (d.plugin_path) {
        ctx->plugin_path = dvren__strdup(ctx, d.plugin_path);
        if (!ctx->plugin_path) {
            status = dvren_set_error(NULL, DVREN_ERROR_OUT_OF_MEMORY, "context", NULL, "out of memory");
            goto cleanup;
        }
    }
    ctx->threads = d.threads;
    env = getenv("DVREN_THREADS");
    if (!ctx->threads && env && *env) {
        char* end = NULL;
        long v = strtol(env, &end, 10);
        if (*end || v < 1 || v > 1024) {
            status = dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", "use an integer in 1..1024",
                                     "DVREN_THREADS='%s' is not a thread count", env);
            goto cleanup;
        }
        ctx->threads = (uint32_t)v;
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_ENV, "DVREN_THREADS=%u", (unsigned)ctx->threads);
    }
    if (!ctx->threads) ctx->threads = dvren__cpu_count();
#if defined(DVREN_NO_THREADS)
    ctx->threads = 1;
#endif
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_ENV, "dvren %d.%d.%d, plugin ABI %u.%u, device %s, %u CPU threads",
              DVREN_VERSION_MAJOR, DVREN_VERSION_MINOR, DVREN_VERSION_PATCH, (unsigned)DVREN_ABI_MAJOR,
              (unsigned)DVREN_ABI_MINOR, d.backend->name, (unsigned)ctx->threads);
    status = d.backend->init(ctx, &d);
    if (status != DVREN_OK) {
        /* the context goes away: keep its message for dvren_last_error(NULL) */
        memcpy(dvren__thread_error, ctx->last_error, DVREN__ERROR_CAP);
        goto cleanup;
    }
    ctx->be = d.backend;
    *out = ctx;
    return DVREN_OK;
cleanup:
    if (ctx) {
        dvren__strfree(ctx, ctx->plugin_path);
        d.allocator.free(ctx, sizeof *ctx, d.allocator.user);
    }
    return status;
}

static void dvren__lib_close(void* handle);

DVREN_API void dvren_context_destroy(dvren_context* ctx)
{
    uint32_t i;
    dvren_allocator a;
    if (!ctx) return;
    ctx->be->shutdown(ctx);
    for (i = 0; i < ctx->plugin_count; ++i) dvren__free(ctx, ctx->plugins[i], sizeof(dvren__plugin_rec));
    dvren__free(ctx, ctx->plugins, (size_t)ctx->plugin_cap * sizeof(dvren__plugin_rec*));
    for (i = 0; i < ctx->lib_count; ++i) {
        dvren__lib_close(ctx->libs[i].handle);
        dvren__strfree(ctx, ctx->libs[i].path);
    }
    dvren__free(ctx, ctx->libs, (size_t)ctx->lib_cap * sizeof(dvren__library));
    dvren__strfree(ctx, ctx->plugin_path);
    a = ctx->allocator;
    a.free(ctx, sizeof *ctx, a.user);
}

DVREN_API uint32_t dvren_context_threads(const dvren_context* ctx) { return ctx ? ctx->threads : 1u; }

DVREN_API dvren_device_kind dvren_context_device(const dvren_context* ctx)
{
    return ctx ? ctx->be->device : DVREN_DEVICE_CPU;
}

DVREN_API dvren_status dvren_synchronize(dvren_context* ctx)
{
    if (!ctx) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "context", NULL, "NULL context");
    return ctx->be->synchronize(ctx);
}

/* ======================================================================== */
/* >>tensor (implementation)                                                */
/* ======================================================================== */



/* Checks dtype and shape; fills shape and contiguous strides into t. */
static dvren_status dvren__tensor_shape(dvren_context* ctx, dvren_dtype dtype, uint32_t ndim, const int64_t* shape,
                                        dvren_tensor* t, size_t* bytes)
{
    uint32_t i;
    size_t n = 1;
    size_t es = dvren_dtype_size(dtype);
    memset(t, 0, sizeof *t);
    if (!es) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "unknown dtype %d", (int)dtype);
    if (ndim < 1 || ndim > DVREN_MAX_DIMS || !shape)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "ndim %u is outside 1..%d",
                               (unsigned)ndim, DVREN_MAX_DIMS);
    for (i = 0; i < ndim; ++i) {
        if (shape[i] < 1)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "shape[%u] = %.0f < 1",
                                   (unsigned)i, (double)shape[i]);
        if ((uint64_t)shape[i] > (uint64_t)(SIZE_MAX / es) / n)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "size overflows");
        n *= (size_t)shape[i];
        t->shape[i] = shape[i];
    }
    {
        int64_t s = 1;
        for (i = ndim; i-- > 0;) {
            t->strides[i] = s;
            s *= shape[i];
        }
    }
    t->dtype = dtype;
    t->ndim = ndim;
    t->memory = DVREN_MEMORY_HOST;
    *bytes = n * es;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_tensor_create(dvren_context* ctx, dvren_dtype dtype, uint32_t ndim, const int64_t* shape,
                                           dvren_tensor* out)
{
    size_t bytes = 0;
    dvren_status status;
    if (!ctx || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "NULL argument");
    status = dvren__tensor_shape(ctx, dtype, ndim, shape, out, &bytes);
    if (status != DVREN_OK) return status;
    out->data = dvren__calloc(ctx, bytes);
    if (!out->data) {
        memset(out, 0, sizeof *out);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "tensor", NULL, "cannot allocate %.0f bytes", (double)bytes);
    }
    out->flags = DVREN_TENSOR_OWNS_DATA;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_tensor_wrap(void* data, dvren_dtype dtype, uint32_t ndim, const int64_t* shape,
                                         const int64_t* strides, dvren_tensor* out)
{
    size_t bytes = 0;
    uint32_t i;
    dvren_status status;
    if (!out || !data) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "NULL argument");
    status = dvren__tensor_shape(NULL, dtype, ndim, shape, out, &bytes);
    if (status != DVREN_OK) return status;
    if (strides)
        for (i = 0; i < ndim; ++i) {
            if (strides[i] < 0) {
                memset(out, 0, sizeof *out);
                return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "tensor", NULL, "strides[%u] < 0",
                                       (unsigned)i);
            }
            out->strides[i] = strides[i];
        }
    out->data = data;
    return DVREN_OK;
}



DVREN_API void dvren_tensor_destroy(dvren_context* ctx, dvren_tensor* t)
{
    if (!t) return;
    if ((t->flags & DVREN_TENSOR_OWNS_DATA) && t->data && ctx) {
        size_t bytes = (size_t)dvren_tensor_numel(t) * dvren_dtype_size(t->dtype);
        /* device tensors come from the backend's memory (dvren_cuda_tensor_create) */
        if (t->memory == DVREN_MEMORY_HOST) dvren__free(ctx, t->data, bytes);
        else ctx->be->mem_free(ctx, t->data, bytes);
    }
    memset(t, 0, sizeof *t);
}

/* ======================================================================== */
/* >>camera (implementation)                                                */
/* ======================================================================== */

static int dvren__finite3(const float* v) { return isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]); }

static dvren_status dvren__camera_basis(const float eye[3], const float target[3], const float up[3], dvren_camera* c)
{
    dvren_float3 f, r, u;
    if (!eye || !target || !up || !c)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "NULL argument");
    if (!dvren__finite3(eye) || !dvren__finite3(target) || !dvren__finite3(up))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "eye, target or up is not finite");
    f = dvren_sub3(dvren_f3v(target), dvren_f3v(eye));
    if (dvren_length3(f) <= 0.0f)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", "move the eye away from the target",
                               "eye equals target");
    f = dvren_normalize3(f);
    r = dvren_cross3(f, dvren_f3v(up));
    if (dvren_length3(r) <= 1e-6f * dvren_length3(dvren_f3v(up)) || dvren_length3(dvren_f3v(up)) <= 0.0f)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", "choose an up vector across the view",
                               "up (%g, %g, %g) is zero or parallel to the view direction", up[0], up[1], up[2]);
    r = dvren_normalize3(r);
    u = dvren_cross3(r, f);
    memset(c, 0, sizeof *c);
    memcpy(c->eye, eye, 3 * sizeof(float));
    c->forward[0] = f.x; c->forward[1] = f.y; c->forward[2] = f.z;
    c->right[0] = r.x; c->right[1] = r.y; c->right[2] = r.z;
    c->up[0] = u.x; c->up[1] = u.y; c->up[2] = u.z;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_camera_look_at(const float eye[3], const float target[3], const float up[3],
                                            float fov_y_rad, dvren_camera* out)
{
    dvren_status s;
    if (!(fov_y_rad > 0.0f && fov_y_rad < 3.14159f))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", "give the vertical field of view in radians",
                               "fov_y_rad = %g is outside (0, pi)", (double)fov_y_rad);
    s = dvren__camera_basis(eye, target, up, out);
    if (s != DVREN_OK) return s;
    out->model = DVREN_CAMERA_PINHOLE;
    out->tan_half_fov_y = tanf(0.5f * fov_y_rad);
    return DVREN_OK;
}

DVREN_API dvren_status dvren_camera_orthographic(const float eye[3], const float target[3], const float up[3],
                                                 float height_world, dvren_camera* out)
{
    dvren_status s;
    if (!(height_world > 0.0f) || !isfinite(height_world))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "height_world = %g must be > 0",
                               (double)height_world);
    s = dvren__camera_basis(eye, target, up, out);
    if (s != DVREN_OK) return s;
    out->model = DVREN_CAMERA_ORTHOGRAPHIC;
    out->ortho_height = height_world;
    return DVREN_OK;
}

/* Column-major 4x4 product r = a * b, in double. */
static void dvren__mat4_mul(const double* a, const double* b, double* r)
{
    int i, j, k;
    for (j = 0; j < 4; ++j)
        for (i = 0; i < 4; ++i) {
            double s = 0.0;
            for (k = 0; k < 4; ++k) s += a[k * 4 + i] * b[j * 4 + k];
            r[j * 4 + i] = s;
        }
}

/* Inverse by Gauss-Jordan elimination with partial pivoting; 0 if singular. */
static int dvren__mat4_inverse(const double* m, double* inv)
{
    double a[4][8];
    int i, j, k;
    for (i = 0; i < 4; ++i)
        for (j = 0; j < 4; ++j) {
            a[i][j] = m[j * 4 + i];
            a[i][j + 4] = (i == j) ? 1.0 : 0.0;
        }
    for (k = 0; k < 4; ++k) {
        int p = k;
        double piv;
        for (i = k + 1; i < 4; ++i)
            if (fabs(a[i][k]) > fabs(a[p][k])) p = i;
        if (fabs(a[p][k]) < 1e-12) return 0;
        if (p != k)
            for (j = 0; j < 8; ++j) {
                double t = a[k][j];
                a[k][j] = a[p][j];
                a[p][j] = t;
            }
        piv = a[k][k];
        for (j = 0; j < 8; ++j) a[k][j] /= piv;
        for (i = 0; i < 4; ++i)
            if (i != k) {
                double f = a[i][k];
                for (j = 0; j < 8; ++j) a[i][j] -= f * a[k][j];
            }
    }
    for (i = 0; i < 4; ++i)
        for (j = 0; j < 4; ++j) inv[j * 4 + i] = a[i][j + 4];
    return 1;
}

DVREN_API dvren_status dvren_camera_from_matrices(const float view[16], const float projection[16], dvren_camera* out)
{
    double v[16], p[16], vp[16], ivp[16], iv[16];
    int i;
    if (!view || !projection || !out)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "NULL argument");
    for (i = 0; i < 16; ++i) {
        if (!isfinite(view[i]) || !isfinite(projection[i]))
            return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL,
                                   "matrix element %d is not finite", i);
        v[i] = view[i];
        p[i] = projection[i];
    }
    dvren__mat4_mul(p, v, vp);
    if (!dvren__mat4_inverse(v, iv) || !dvren__mat4_inverse(vp, ivp))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera",
                               "pass column-major OpenGL matrices (view: world to eye, projection: eye to clip)",
                               "view or projection*view is singular");
    memset(out, 0, sizeof *out);
    out->model = DVREN_CAMERA_MATRIX;
    /* A perspective projection puts -z_eye into clip w: its last row is (0, 0, -1, 0). */
    out->perspective = (fabs(p[3]) < 1e-12 && fabs(p[7]) < 1e-12 && fabs(p[15]) < 1e-12 && p[11] != 0.0) ? 1u : 0u;
    for (i = 0; i < 16; ++i) out->inv_view_proj[i] = (float)ivp[i];
    for (i = 0; i < 3; ++i) {
        /* camera axes in world space: columns of inverse(view) */
        out->right[i] = (float)iv[0 * 4 + i];
        out->up[i] = (float)iv[1 * 4 + i];
        out->forward[i] = (float)-iv[2 * 4 + i];
        out->eye[i] = (float)iv[3 * 4 + i];
    }
    return DVREN_OK;
}

DVREN_API dvren_status dvren_camera_from_opencv(const float viewmat[16], const float K[9], dvren_camera* out)
{
    double R[9], det, e;
    int i, j;
    if (!viewmat || !K || !out) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "NULL argument");
    for (i = 0; i < 16; ++i)
        if (!isfinite(viewmat[i]))
            return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "viewmat[%d] is not finite", i);
    for (i = 0; i < 9; ++i)
        if (!isfinite(K[i]))
            return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL, "K[%d] is not finite", i);
    if (viewmat[12] != 0.0f || viewmat[13] != 0.0f || viewmat[14] != 0.0f || viewmat[15] != 1.0f)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", "row-major [R t; 0 0 0 1]",
                               "viewmat's last row is (%g, %g, %g, %g), not (0, 0, 0, 1)", (double)viewmat[12],
                               (double)viewmat[13], (double)viewmat[14], (double)viewmat[15]);
    if (!(K[0] > 0.0f) || !(K[4] > 0.0f) || K[1] != 0.0f || K[3] != 0.0f || K[6] != 0.0f || K[7] != 0.0f ||
        K[8] != 1.0f)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", "row-major [fx 0 cx; 0 fy cy; 0 0 1]",
                               "K = [%g %g %g; %g %g %g; %g %g %g] is not a pinhole intrinsic matrix with fx, fy > 0",
                               (double)K[0], (double)K[1], (double)K[2], (double)K[3], (double)K[4], (double)K[5],
                               (double)K[6], (double)K[7], (double)K[8]);
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) R[3 * i + j] = viewmat[4 * i + j];
    det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
    e = fabs(det - 1.0);
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            double d = R[3 * i] * R[3 * j] + R[3 * i + 1] * R[3 * j + 1] + R[3 * i + 2] * R[3 * j + 2] - (i == j);
            if (fabs(d) > e) e = fabs(d);
        }
    if (e > 1e-3)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "camera", NULL,
                               "viewmat's 3x3 block is not a rotation (error %.3g, det %.6g)", e, det);
    memset(out, 0, sizeof *out);
    out->model = DVREN_CAMERA_INTRINSICS;
    out->perspective = 1u;
    for (i = 0; i < 3; ++i) {
        /* rows of R are the camera's axes in world space: x right, y down, z forward */
        out->right[i] = (float)R[i];
        out->up[i] = (float)-R[3 + i];
        out->forward[i] = (float)R[6 + i];
        /* eye = -R^T t */
        out->eye[i] = (float)-(R[i] * viewmat[3] + R[3 + i] * viewmat[7] + R[6 + i] * viewmat[11]);
    }
    out->fx = K[0];
    out->fy = K[4];
    out->cx = K[2];
    out->cy = K[5];
    return DVREN_OK;
}

/* ======================================================================== */
/* >>params (implementation)                                                */
/* ======================================================================== */

typedef enum dvren__value_kind {
    DVREN__V_NUMBER = 1,
    DVREN__V_BOOL = 2,
    DVREN__V_STRING = 3,
    DVREN__V_NUMBERS = 4,
    DVREN__V_TENSOR = 5
} dvren__value_kind;

typedef struct dvren__param_value {
    char* name;
    dvren__value_kind kind;
    int given;          /* set by the user, not a default */
    double number;      /* NUMBER, BOOL */
    char* string;       /* STRING */
    double* numbers;    /* NUMBERS */
    uint32_t count;
    dvren_tensor tensor; /* TENSOR (borrowed view) */
} dvren__param_value;

struct dvren_params {
    dvren_context* ctx;
    dvren__param_value* values;
    uint32_t count, cap;
};

static const char* dvren__value_kind_name(dvren__value_kind k)
{
    switch (k) {
    case DVREN__V_NUMBER: return "a number";
    case DVREN__V_BOOL: return "a boolean";
    case DVREN__V_STRING: return "a string";
    case DVREN__V_NUMBERS: return "an array of numbers";
    case DVREN__V_TENSOR: return "a tensor";
    default: return "nothing";
    }
}

DVREN_API dvren_status dvren_params_create(dvren_context* ctx, dvren_params** out)
{
    dvren_params* p;
    if (!ctx || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "params", NULL, "NULL argument");
    p = (dvren_params*)dvren__calloc(ctx, sizeof *p);
    if (!p) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "params", NULL, "out of memory");
    p->ctx = ctx;
    *out = p;
    return DVREN_OK;
}

static void dvren__value_clear(dvren_context* ctx, dvren__param_value* v)
{
    dvren__strfree(ctx, v->string);
    if (v->numbers) dvren__free(ctx, v->numbers, (size_t)v->count * sizeof(double));
    v->string = NULL;
    v->numbers = NULL;
    v->count = 0;
}

DVREN_API void dvren_params_destroy(dvren_params* p)
{
    uint32_t i;
    if (!p) return;
    for (i = 0; i < p->count; ++i) {
        dvren__value_clear(p->ctx, &p->values[i]);
        dvren__strfree(p->ctx, p->values[i].name);
    }
    dvren__free(p->ctx, p->values, (size_t)p->cap * sizeof(dvren__param_value));
    dvren__free(p->ctx, p, sizeof *p);
}

static dvren__param_value* dvren__params_lookup(const dvren_params* p, const char* name)
{
    uint32_t i;
    if (!p || !name) return NULL;
    for (i = 0; i < p->count; ++i)
        if (strcmp(p->values[i].name, name) == 0) return &p->values[i];
    return NULL;
}

/* Finds or appends the slot for name, cleared. */
static dvren_status dvren__params_slot(dvren_params* p, const char* name, dvren__param_value** out)
{
    dvren__param_value* v = NULL;
    if (!p || !name || !*name)
        return dvren_set_error(p ? p->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "params", NULL, "NULL or empty name");
    v = dvren__params_lookup(p, name);
    if (!v) {
        if (!dvren__grow(p->ctx, (void**)&p->values, &p->cap, p->count + 1, sizeof *v))
            return dvren_set_error(p->ctx, DVREN_ERROR_OUT_OF_MEMORY, "params", NULL, "out of memory");
        v = &p->values[p->count];
        memset(v, 0, sizeof *v);
        v->name = dvren__strdup(p->ctx, name);
        if (!v->name) return dvren_set_error(p->ctx, DVREN_ERROR_OUT_OF_MEMORY, "params", NULL, "out of memory");
        p->count++;
    } else {
        dvren__value_clear(p->ctx, v);
    }
    v->given = 1;
    *out = v;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_params_set_number(dvren_params* p, const char* name, double value)
{
    dvren__param_value* v = NULL;
    dvren_status s = dvren__params_slot(p, name, &v);
    if (s != DVREN_OK) return s;
    v->kind = DVREN__V_NUMBER;
    v->number = value;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_params_set_bool(dvren_params* p, const char* name, int value)
{
    dvren__param_value* v = NULL;
    dvren_status s = dvren__params_slot(p, name, &v);
    if (s != DVREN_OK) return s;
    v->kind = DVREN__V_BOOL;
    v->number = value ? 1.0 : 0.0;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_params_set_string(dvren_params* p, const char* name, const char* value)
{
    dvren__param_value* v = NULL;
    dvren_status s;
    if (!value) return dvren_set_error(p ? p->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "params", NULL, "%s: NULL string", name ? name : "?");
    s = dvren__params_slot(p, name, &v);
    if (s != DVREN_OK) return s;
    v->kind = DVREN__V_STRING;
    v->string = dvren__strdup(p->ctx, value);
    if (!v->string) return dvren_set_error(p->ctx, DVREN_ERROR_OUT_OF_MEMORY, "params", NULL, "out of memory");
    return DVREN_OK;
}

DVREN_API dvren_status dvren_params_set_numbers(dvren_params* p, const char* name, const double* values,
                                                uint32_t count)
{
    dvren__param_value* v = NULL;
    dvren_status s;
    if (!values && count)
        return dvren_set_error(p ? p->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "params", NULL, "%s: NULL values", name ? name : "?");
    s = dvren__params_slot(p, name, &v);
    if (s != DVREN_OK) return s;
    v->kind = DVREN__V_NUMBERS;
    if (count) {
        v->numbers = (double*)dvren__alloc(p->ctx, (size_t)count * sizeof(double));
        if (!v->numbers) return dvren_set_error(p->ctx, DVREN_ERROR_OUT_OF_MEMORY, "params", NULL, "out of memory");
        memcpy(v->numbers, values, (size_t)count * sizeof(double));
    }
    v->count = count;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_params_set_tensor(dvren_params* p, const char* name, const dvren_tensor* value)
{
    dvren__param_value* v;
    dvren_status s;
    if (!value || !value->data)
        return dvren_set_error(p ? p->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "params", NULL, "%s: NULL tensor", name ? name : "?");
    s = dvren__params_slot(p, name, &v);
    if (s != DVREN_OK) return s;
    v->kind = DVREN__V_TENSOR;
    v->tensor = *value;
    v->tensor.flags &= ~DVREN_TENSOR_OWNS_DATA;
    return DVREN_OK;
}

/* Host-side accessors handed to plugins through dvren_host. */
static double dvren__host_param_number(const dvren_params* p, const char* name)
{
    const dvren__param_value* v = dvren__params_lookup(p, name);
    return (v && (v->kind == DVREN__V_NUMBER || v->kind == DVREN__V_BOOL)) ? v->number : 0.0;
}
static const char* dvren__host_param_string(const dvren_params* p, const char* name)
{
    const dvren__param_value* v = dvren__params_lookup(p, name);
    return (v && v->kind == DVREN__V_STRING) ? v->string : NULL;
}
static uint32_t dvren__host_param_numbers(const dvren_params* p, const char* name, const double** values)
{
    const dvren__param_value* v = dvren__params_lookup(p, name);
    if (values) *values = NULL;
    if (!v || v->kind != DVREN__V_NUMBERS) return 0;
    if (values) *values = v->numbers;
    return v->count;
}
static const dvren_tensor* dvren__host_param_tensor(const dvren_params* p, const char* name)
{
    const dvren__param_value* v = dvren__params_lookup(p, name);
    return (v && v->kind == DVREN__V_TENSOR) ? &v->tensor : NULL;
}
static int dvren__host_param_given(const dvren_params* p, const char* name)
{
    const dvren__param_value* v = dvren__params_lookup(p, name);
    return v ? v->given : 0;
}

DVREN_API const dvren_param_desc* dvren_plugin_param(const dvren_plugin_desc* plugin, uint32_t i)
{
    size_t stride;
    if (!plugin || !plugin->params || i >= plugin->param_count) return NULL;
    stride = plugin->params[0].struct_size;
    return (const dvren_param_desc*)(const void*)((const char*)plugin->params + (size_t)i * stride);
}

/* Reads a schema entry into a full-size copy: members the plugin's struct
 * does not cover stay zero (their defaults). */
static void dvren__param_desc_read(const dvren_param_desc* src, dvren_param_desc* dst)
{
    size_t n = src->struct_size < sizeof *dst ? src->struct_size : sizeof *dst;
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src, n);
}

static int dvren__enum_has(const char* choices, const char* s)
{
    size_t n = strlen(s);
    const char* c = choices;
    if (!choices || !n) return 0;
    while (*c) {
        const char* e = strchr(c, '|');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == n && strncmp(c, s, n) == 0) return 1;
        if (!e) break;
        c = e + 1;
    }
    return 0;
}

static const char* dvren__param_type_name(dvren_param_type t);

static const char* dvren__param_type_name(dvren_param_type t)
{
    switch (t) {
    case DVREN_PARAM_FLOAT: return "float";
    case DVREN_PARAM_INT: return "int";
    case DVREN_PARAM_BOOL: return "bool";
    case DVREN_PARAM_STRING: return "string";
    case DVREN_PARAM_ENUM: return "enum";
    case DVREN_PARAM_PATH: return "path";
    case DVREN_PARAM_FLOATS: return "floats";
    case DVREN_PARAM_TENSOR: return "tensor";
    default: return "invalid";
    }
}

static int dvren__in_range(const dvren_param_desc* d, double x)
{
    if (d->flags & DVREN_PARAM_HAS_MIN) {
        if ((d->flags & DVREN_PARAM_MIN_EXCLUSIVE) ? !(x > d->min_value) : !(x >= d->min_value)) return 0;
    }
    if (d->flags & DVREN_PARAM_HAS_MAX) {
        if ((d->flags & DVREN_PARAM_MAX_EXCLUSIVE) ? !(x < d->max_value) : !(x <= d->max_value)) return 0;
    }
    return 1;
}

/* "[0, 1]", "(0, inf)", ... for messages and listings. */
static void dvren__range_text(const dvren_param_desc* d, char* out, size_t cap)
{
    char lo[40] = "-inf", hi[40] = "inf";
    if (d->flags & DVREN_PARAM_HAS_MIN) snprintf(lo, sizeof lo, "%.10g", d->min_value);
    if (d->flags & DVREN_PARAM_HAS_MAX) snprintf(hi, sizeof hi, "%.10g", d->max_value);
    snprintf(out, cap, "%c%s, %s%c",
             (d->flags & DVREN_PARAM_HAS_MIN) && !(d->flags & DVREN_PARAM_MIN_EXCLUSIVE) ? '[' : '(', lo, hi,
             (d->flags & DVREN_PARAM_HAS_MAX) && !(d->flags & DVREN_PARAM_MAX_EXCLUSIVE) ? ']' : ')');
}

/* "3 numbers", "2 to 128 numbers, a multiple of 2", "any number of numbers". */
static void dvren__count_text(const dvren_param_desc* d, char* out, size_t cap)
{
    int n;
    if (d->count_max && d->count_min == d->count_max)
        n = snprintf(out, cap, "%u numbers", (unsigned)d->count_min);
    else if (d->count_max)
        n = snprintf(out, cap, "%u to %u numbers", (unsigned)d->count_min, (unsigned)d->count_max);
    else if (d->count_min)
        n = snprintf(out, cap, "at least %u numbers", (unsigned)d->count_min);
    else
        n = snprintf(out, cap, "any number of numbers");
    if (d->stride > 1 && n > 0 && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, ", a multiple of %u", (unsigned)d->stride);
}

DVREN_API int dvren_param_summary(const dvren_param_desc* src, char* out, size_t cap)
{
    dvren_param_desc d;
    char a[128] = "", b[160] = "";
    int n;
    if (!src || !out || cap == 0) return 0;
    dvren__param_desc_read(src, &d);
    switch (d.type) {
    case DVREN_PARAM_FLOAT:
    case DVREN_PARAM_INT:
        if (d.flags & (DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX)) {
            strcpy(a, " in ");
            dvren__range_text(&d, a + 4, sizeof a - 4);
        }
        snprintf(b, sizeof b, ", default %.10g", d.default_number);
        break;
    case DVREN_PARAM_BOOL: snprintf(b, sizeof b, ", default %s", d.default_number != 0.0 ? "true" : "false"); break;
    case DVREN_PARAM_ENUM:
        snprintf(a, sizeof a, " {%s}", d.enum_values ? d.enum_values : "");
        /* fall through */
    case DVREN_PARAM_STRING:
    case DVREN_PARAM_PATH:
        if (d.default_string) snprintf(b, sizeof b, ", default '%s'", d.default_string);
        else snprintf(b, sizeof b, ", unset");
        break;
    case DVREN_PARAM_FLOATS: {
        size_t k = (size_t)snprintf(a, sizeof a, ": ");
        uint32_t i;
        dvren__count_text(&d, a + k, sizeof a - k);
        if (d.flags & (DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX)) {
            k = strlen(a);
            k += (size_t)snprintf(a + k, sizeof a - k, ", each in ");
            if (k < sizeof a) dvren__range_text(&d, a + k, sizeof a - k);
        }
        if (d.default_numbers && d.default_count) {
            k = (size_t)snprintf(b, sizeof b, ", default [");
            for (i = 0; i < d.default_count && k + 16 < sizeof b; ++i)
                k += (size_t)snprintf(b + k, sizeof b - k, "%s%.10g", i ? ", " : "", d.default_numbers[i]);
            snprintf(b + k, sizeof b - k, "%s]", i < d.default_count ? ", ..." : "");
        } else {
            snprintf(b, sizeof b, ", unset");
        }
        break;
    }
    default: break;
    }
    n = snprintf(out, cap, "%s%s%s%s%s%s%s", dvren__param_type_name(d.type), a, b,
                 (d.flags & DVREN_PARAM_REQUIRED) ? " (required)" : "", d.unit && *d.unit ? " [" : "",
                 d.unit && *d.unit ? d.unit : "", d.unit && *d.unit ? "]" : "");
    return n < 0 ? 0 : ((size_t)n >= cap ? (int)cap - 1 : n);
}

/* Plugins store FLOAT and FLOATS values as float32 and INT values in 32-bit
 * integers (signed or not): a value beyond those would become inf, or wrap,
 * on the plugin's side of the ABI, so the schema refuses it first. */
#define DVREN__PARAM_FLOAT_MAX 3.4028234663852886e38
#define DVREN__PARAM_INT_MIN (-2147483648.0)
#define DVREN__PARAM_INT_MAX 4294967295.0

/* Checks one given value against its schema entry. */
static dvren_status dvren__param_check(dvren_context* ctx, const char* plugin, const dvren_param_desc* d,
                                       const dvren__param_value* v)
{
    const char* want = NULL;
    switch (d->type) {
    case DVREN_PARAM_FLOAT:
    case DVREN_PARAM_INT:
        if (v->kind != DVREN__V_NUMBER) want = "a number";
        break;
    case DVREN_PARAM_BOOL:
        if (v->kind != DVREN__V_BOOL) want = "a boolean";
        break;
    case DVREN_PARAM_STRING:
    case DVREN_PARAM_ENUM:
    case DVREN_PARAM_PATH:
        if (v->kind != DVREN__V_STRING) want = "a string";
        break;
    case DVREN_PARAM_FLOATS:
        if (v->kind != DVREN__V_NUMBERS) want = "an array of numbers";
        break;
    case DVREN_PARAM_TENSOR:
        if (v->kind != DVREN__V_TENSOR) want = "a tensor (set from C with dvren_params_set_tensor)";
        break;
    default: break;
    }
    if (want)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                               "parameter '%s' (%s) must be %s, got %s", d->name, dvren__param_type_name(d->type),
                               want, dvren__value_kind_name(v->kind));
    if (d->type == DVREN_PARAM_FLOAT || d->type == DVREN_PARAM_INT) {
        double x = v->number;
        if (!isfinite(x))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL, "parameter '%s' is not finite",
                                   d->name);
        if (d->type == DVREN_PARAM_INT && (x != floor(x) || x < DVREN__PARAM_INT_MIN || x > DVREN__PARAM_INT_MAX))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                                   "parameter '%s' must be an integer in [%.0f, %.0f], got %g", d->name,
                                   DVREN__PARAM_INT_MIN, DVREN__PARAM_INT_MAX, x);
        if (d->type == DVREN_PARAM_FLOAT && fabs(x) > DVREN__PARAM_FLOAT_MAX)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                                   "parameter '%s' = %g is beyond float range (|x| <= %g)", d->name, x,
                                   DVREN__PARAM_FLOAT_MAX);
        if (!dvren__in_range(d, x)) {
            char r[96];
            dvren__range_text(d, r, sizeof r);
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                                   "parameter '%s' = %g is outside its range %s", d->name, x, r);
        }
    }
    if (d->type == DVREN_PARAM_ENUM && !dvren__enum_has(d->enum_values, v->string))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                               "parameter '%s' = '%s' is not one of %s", d->name, v->string,
                               d->enum_values ? d->enum_values : "(none)");
    if ((d->type == DVREN_PARAM_STRING || d->type == DVREN_PARAM_PATH) && !*v->string &&
        (d->flags & DVREN_PARAM_REQUIRED))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL, "parameter '%s' is empty", d->name);
    if (d->type == DVREN_PARAM_FLOATS) {
        uint32_t i;
        if (v->count < d->count_min || (d->count_max && v->count > d->count_max) ||
            (d->stride > 1 && v->count % d->stride)) {
            char want[96];
            dvren__count_text(d, want, sizeof want);
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                                   "parameter '%s' has %u numbers; it takes %s", d->name, (unsigned)v->count, want);
        }
        for (i = 0; i < v->count; ++i) {
            double x = v->numbers[i];
            if (!isfinite(x) || fabs(x) > DVREN__PARAM_FLOAT_MAX || !dvren__in_range(d, x)) {
                char r[96];
                dvren__range_text(d, r, sizeof r);
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, plugin, NULL,
                                       "parameter '%s'[%u] = %g is outside its range %s", d->name, (unsigned)i, x, r);
            }
        }
    }
    return DVREN_OK;
}

/* Validates `given` against the plugin's schema and builds the resolved set
 * the plugin sees: every given value plus the defaults of the rest. */
static dvren_status dvren__params_resolve(dvren_context* ctx, const dvren_plugin_desc* pl, const dvren_params* given,
                                          dvren_params** out)
{
    dvren_params* r = NULL;
    dvren_status status = DVREN_OK;
    uint32_t i, k;
    *out = NULL;
    /* unknown names first: the most common mistake (a typo) */
    for (k = 0; given && k < given->count; ++k) {
        int found = 0;
        for (i = 0; i < pl->param_count && !found; ++i)
            found = strcmp(dvren_plugin_param(pl, i)->name, given->values[k].name) == 0;
        if (!found) {
            char known[1024];
            size_t n = 0;
            known[0] = 0;
            for (i = 0; i < pl->param_count && n + 2 < sizeof known; ++i) {
                int w = snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", dvren_plugin_param(pl, i)->name);
                if (w > 0) n += (size_t)w;
            }
            if (n >= sizeof known) n = sizeof known - 1;
            known[n] = 0;
            DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, pl->name, NULL, "unknown parameter '%s' (known: %s)",
                        given->values[k].name, pl->param_count ? known : "none");
        }
    }
    DVREN__CHECK(dvren_params_create(ctx, &r));
    for (i = 0; i < pl->param_count; ++i) {
        dvren_param_desc d;
        const dvren__param_value* v;
        dvren__param_desc_read(dvren_plugin_param(pl, i), &d);
        v = dvren__params_lookup(given, d.name);
        if (v) {
            DVREN__CHECK(dvren__param_check(ctx, pl->name, &d, v));
            switch (v->kind) {
            case DVREN__V_NUMBER: DVREN__CHECK(dvren_params_set_number(r, d.name, v->number)); break;
            case DVREN__V_BOOL: DVREN__CHECK(dvren_params_set_bool(r, d.name, v->number != 0.0)); break;
            case DVREN__V_STRING: DVREN__CHECK(dvren_params_set_string(r, d.name, v->string)); break;
            case DVREN__V_NUMBERS: DVREN__CHECK(dvren_params_set_numbers(r, d.name, v->numbers, v->count)); break;
            case DVREN__V_TENSOR: DVREN__CHECK(dvren_params_set_tensor(r, d.name, &v->tensor)); break;
            default: DVREN__FAIL(ctx, DVREN_ERROR_INTERNAL, "params", NULL, "bad value kind");
            }
            continue;
        }
        if (d.flags & DVREN_PARAM_REQUIRED)
            DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, pl->name, NULL, "required parameter '%s' is missing (%s)",
                        d.name, d.doc ? d.doc : "");
        switch (d.type) {
        case DVREN_PARAM_FLOAT:
        case DVREN_PARAM_INT:
            DVREN__CHECK(dvren_params_set_number(r, d.name, d.default_number));
            break;
        case DVREN_PARAM_BOOL: DVREN__CHECK(dvren_params_set_bool(r, d.name, d.default_number != 0.0)); break;
        case DVREN_PARAM_STRING:
        case DVREN_PARAM_ENUM:
        case DVREN_PARAM_PATH:
            if (d.default_string) DVREN__CHECK(dvren_params_set_string(r, d.name, d.default_string));
            break;
        case DVREN_PARAM_FLOATS:
            if (d.default_numbers && d.default_count)
                DVREN__CHECK(dvren_params_set_numbers(r, d.name, d.default_numbers, d.default_count));
            break;
        default: break;
        }
        {
            dvren__param_value* nv = dvren__params_lookup(r, d.name);
            if (nv) nv->given = 0;
        }
    }
    *out = r;
    return DVREN_OK;
cleanup:
    dvren_params_destroy(r);
    return status;
}

/* ======================================================================== */
/* >>plugins (implementation)                                               */
/* ======================================================================== */

static void* dvren__lib_open(const char* path, char* err, size_t cap)
{
#if defined(_WIN32)
    wchar_t wpath[DVREN__PATH_CAP];
    HMODULE h;
    if (!MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, DVREN__PATH_CAP)) {
        snprintf(err, cap, "path is not valid UTF-8 or too long");
        return NULL;
    }
    h = LoadLibraryW(wpath);
    if (!h) {
        DWORD code = GetLastError();
        wchar_t wmsg[512];
        char msg[1024];
        msg[0] = 0;
        if (FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, wmsg, 512, NULL))
            WideCharToMultiByte(CP_UTF8, 0, wmsg, -1, msg, (int)sizeof msg, NULL, NULL);
        snprintf(err, cap, "LoadLibrary failed (error %lu): %s", (unsigned long)code, msg);
        return NULL;
    }
    return (void*)h;
#else
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = dlerror();
        snprintf(err, cap, "%s", e ? e : "dlopen failed");
    }
    return h;
#endif
}

static void* dvren__lib_symbol(void* handle, const char* name)
{
#if defined(_WIN32)
    /* ISO C has no cast from a function pointer to void*: copy the bits */
    FARPROC f = GetProcAddress((HMODULE)handle, name);
    void* p;
    memcpy(&p, &f, sizeof p);
    return p;
#else
    return dlsym(handle, name);
#endif
}

static void dvren__lib_close(void* handle)
{
    if (!handle) return;
#if defined(_WIN32)
    FreeLibrary((HMODULE)handle);
#else
    dlclose(handle);
#endif
}

/* Folder of the running executable, without a trailing separator, or "". */
static void dvren__exe_dir(char* out, size_t cap)
{
    char* slash;
    out[0] = 0;
#if defined(_WIN32)
    {
        wchar_t w[DVREN__PATH_CAP];
        DWORD n = GetModuleFileNameW(NULL, w, DVREN__PATH_CAP);
        if (n == 0 || n >= DVREN__PATH_CAP) return;
        if (!WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL, NULL)) {
            out[0] = 0;
            return;
        }
    }
#elif defined(__APPLE__)
    {
        uint32_t n = (uint32_t)cap;
        if (_NSGetExecutablePath(out, &n) != 0) {
            out[0] = 0;
            return;
        }
    }
#else
    {
        ssize_t n = readlink("/proc/self/exe", out, cap - 1);
        if (n <= 0) return;
        out[n] = 0;
    }
#endif
    slash = strrchr(out, '/');
#if defined(_WIN32)
    {
        char* bs = strrchr(out, '\\');
        if (!slash || (bs && bs > slash)) slash = bs;
    }
#endif
    if (slash) *slash = 0;
    else out[0] = 0;
}

static int dvren__file_exists(const char* path)
{
#if defined(_WIN32)
    wchar_t w[DVREN__PATH_CAP];
    DWORD a;
    if (!MultiByteToWideChar(CP_UTF8, 0, path, -1, w, DVREN__PATH_CAP)) return 0;
    a = GetFileAttributesW(w);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
#else
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
#endif
}

static int dvren__valid_name(const char* s)
{
    if (!s || !*s) return 0;
    for (; *s; ++s)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

DVREN_API const char* dvren_plugin_kind_name(dvren_plugin_kind kind)
{
    switch (kind) {
    case DVREN_PLUGIN_FIELD: return "field";
    case DVREN_PLUGIN_SHADER: return "shader";
    case DVREN_PLUGIN_SAMPLER: return "sampler";
    case DVREN_PLUGIN_SALIENCY: return "saliency";
    case DVREN_PLUGIN_STAGE: return "stage";
    case DVREN_PLUGIN_REGISTRATION: return "registration";
    default: return "invalid";
    }
}

/* Host services (dvren_host) ------------------------------------------------ */

static dvren__plugin_rec* dvren__host_rec(const dvren_host* h) { return (dvren__plugin_rec*)h->opaque; }

static void* dvren__host_alloc(const dvren_host* h, size_t size) { return dvren__alloc(dvren__host_rec(h)->ctx, size); }
static void dvren__host_free(const dvren_host* h, void* ptr, size_t size)
{
    dvren__free(dvren__host_rec(h)->ctx, ptr, size);
}
static void dvren__host_log(const dvren_host* h, dvren_log_level level, const char* tag, const char* fmt, ...)
{
    dvren__plugin_rec* r = dvren__host_rec(h);
    char msg[DVREN__ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dvren_log(r->ctx, level, tag, "%s: %s", r->desc->name, msg);
}
static dvren_status dvren__host_fail(const dvren_host* h, dvren_status status, const char* hint, const char* fmt, ...)
{
    dvren__plugin_rec* r = dvren__host_rec(h);
    va_list ap;
    if (status == DVREN_OK) status = DVREN_ERROR_INTERNAL;
    va_start(ap, fmt);
    status = dvren__verror(r->ctx, status, r->desc->name, hint, fmt, ap);
    va_end(ap);
    return status;
}
static const void* dvren__host_get_interface(const dvren_host* h, const char* id)
{
    dvren_context* ctx = dvren__host_rec(h)->ctx;
    return id && ctx->be->host_interface ? ctx->be->host_interface(ctx, id) : NULL;
}

/* Reads the minimum of struct_size and what we know: an older plugin's
 * shorter struct leaves the newer members zero. */
#define DVREN__READ_IFACE(T, src, dst)                                                     \
    do {                                                                                   \
        size_t n_ = ((const T*)(src))->struct_size < sizeof(T) ? ((const T*)(src))->struct_size : sizeof(T); \
        memset(&(dst), 0, sizeof(T));                                                      \
        memcpy(&(dst), (src), n_);                                                         \
    } while (0)

/* Checks one descriptor and its interfaces; fills rec. */
static dvren_status dvren__plugin_validate(dvren_context* ctx, const char* path, const dvren_plugin_desc* d,
                                           dvren__plugin_rec* rec)
{
    dvren_status status = DVREN_OK;
    uint32_t i, j;
    const void* kind_iface = NULL;
    const char* kid = NULL;
    size_t min_size = offsetof(dvren_plugin_desc, get_interface) + sizeof(d->get_interface);
    const char* nm = (d && d->struct_size >= offsetof(dvren_plugin_desc, name) + sizeof(d->name) && d->name) ? d->name : "?";
    if (!d || d->struct_size < min_size)
        DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, "rebuild the plugin against this dvren.h",
                    "plugin descriptor '%s' is %u bytes, smaller than ABI 1.0's %u", nm,
                    d ? (unsigned)d->struct_size : 0u, (unsigned)min_size);
    if (!dvren__valid_name(d->name))
        DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, "use lower-case letters, digits and '_'",
                    "plugin name '%s' is not valid", nm);
    if (!d->get_interface)
        DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, NULL, "plugin '%s' has no get_interface", d->name);
    switch (d->kind) {
    case DVREN_PLUGIN_FIELD: kid = DVREN_IFACE_FIELD; break;
    case DVREN_PLUGIN_SHADER: kid = DVREN_IFACE_SHADER; break;
    case DVREN_PLUGIN_SAMPLER: kid = DVREN_IFACE_SAMPLER; break;
    case DVREN_PLUGIN_SALIENCY: kid = DVREN_IFACE_SALIENCY; break;
    case DVREN_PLUGIN_REGISTRATION: kid = DVREN_IFACE_REGISTRATION; break;
    case DVREN_PLUGIN_STAGE: break;
    default:
        DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, NULL, "plugin '%s' has unknown kind %d", d->name, (int)d->kind);
    }
    for (i = 0; i < d->param_count; ++i) {
        const dvren_param_desc* p = dvren_plugin_param(d, i);
        /* the array is walked with params[0].struct_size as its stride: it must be a real sizeof */
        if (!d->params || p->struct_size < offsetof(dvren_param_desc, stride) + sizeof(p->stride) ||
            (d->param_count > 1 && d->params[0].struct_size % sizeof(void*) != 0))
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, "rebuild the plugin against this dvren.h",
                        "plugin '%s': parameter %u has a bad struct_size", d->name, (unsigned)i);
        if (!dvren__valid_name(p->name) || p->type <= DVREN_PARAM_INVALID || p->type > DVREN_PARAM_TENSOR)
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, NULL, "plugin '%s': parameter %u ('%s') has a bad name or type",
                        d->name, (unsigned)i, p->name ? p->name : "?");
        if (p->type == DVREN_PARAM_ENUM && p->default_string && !dvren__enum_has(p->enum_values, p->default_string))
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, NULL,
                        "plugin '%s': parameter '%s' defaults to '%s', not one of %s", d->name, p->name,
                        p->default_string, p->enum_values ? p->enum_values : "(none)");
        for (j = 0; j < i; ++j)
            if (strcmp(dvren_plugin_param(d, j)->name, p->name) == 0)
                DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, NULL, "plugin '%s': parameter '%s' is declared twice",
                            d->name, p->name);
    }
    {
        const dvren_instance_iface* in = (const dvren_instance_iface*)d->get_interface(DVREN_IFACE_INSTANCE);
        if (in) DVREN__READ_IFACE(dvren_instance_iface, in, rec->inst);
        if (!in || !DVREN_HAS_FIELD(in, dvren_instance_iface, bind) || !rec->inst.create || !rec->inst.destroy ||
            !rec->inst.describe || !rec->inst.bind)
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, "implement create, destroy, describe and bind",
                        "plugin '%s' lacks a complete '%s' interface", d->name, DVREN_IFACE_INSTANCE);
    }
    if (kid) {
        int ok = 0;
        kind_iface = d->get_interface(kid);
        if (kind_iface) {
            if (d->kind == DVREN_PLUGIN_FIELD) {
                DVREN__READ_IFACE(dvren_field_iface, kind_iface, rec->field);
                ok = DVREN_HAS_FIELD(&rec->field, dvren_field_iface, eval) && rec->field.eval && rec->field.eval_name;
            } else if (d->kind == DVREN_PLUGIN_SHADER) {
                DVREN__READ_IFACE(dvren_shader_iface, kind_iface, rec->shader);
                ok = DVREN_HAS_FIELD(&rec->shader, dvren_shader_iface, color) && rec->shader.density &&
                     rec->shader.color && rec->shader.density_name && rec->shader.color_name;
            } else if (d->kind == DVREN_PLUGIN_SALIENCY) {
                DVREN__READ_IFACE(dvren_saliency_iface, kind_iface, rec->saliency);
                ok = DVREN_HAS_FIELD(&rec->saliency, dvren_saliency_iface, compute) && rec->saliency.compute;
            } else if (d->kind == DVREN_PLUGIN_REGISTRATION) {
                DVREN__READ_IFACE(dvren_registration_iface, kind_iface, rec->registration);
                ok = DVREN_HAS_FIELD(&rec->registration, dvren_registration_iface, align) && rec->registration.align;
            } else {
                DVREN__READ_IFACE(dvren_sampler_iface, kind_iface, rec->sampler);
                ok = DVREN_HAS_FIELD(&rec->sampler, dvren_sampler_iface, next) && rec->sampler.begin &&
                     rec->sampler.next && rec->sampler.begin_name && rec->sampler.next_name;
            }
        }
        if (!ok)
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, path, "see docs/plugins.md for the members of each interface",
                        "%s plugin '%s' lacks a complete '%s' interface", dvren_plugin_kind_name(d->kind), d->name,
                        kid);
    }
    rec->desc = d;
cleanup:
    return status;
}

static dvren__plugin_rec* dvren__plugin_lookup(const dvren_context* ctx, dvren_plugin_kind kind, const char* name)
{
    uint32_t i;
    for (i = 0; i < ctx->plugin_count; ++i) {
        const dvren__plugin_rec* r = ctx->plugins[i];
        if ((kind == DVREN_PLUGIN_INVALID || r->desc->kind == kind) && strcmp(r->desc->name, name) == 0)
            return ctx->plugins[i];
    }
    return NULL;
}

/* Path of a plugin's device source file: device_source_file beside its library. */
static void dvren__device_source_path(const char* lib, const dvren_plugin_desc* d, char* path, size_t cap)
{
    const char* slash = strrchr(lib, '/');
#if defined(_WIN32)
    const char* bs = strrchr(lib, '\\');
    if (!slash || (bs && bs > slash)) slash = bs;
#endif
    snprintf(path, cap, "%.*s%s", slash ? (int)(slash - lib + 1) : 0, lib,
             d->device_source_file ? d->device_source_file : "");
}

/* A plugin's device source text (NUL-terminated, *len + 1 bytes from ctx's
 * allocator): the embedded device_source, or the file beside its library.
 * Errors: UNSUPPORTED (the plugin has none), IO (the file is missing). */
static dvren_status dvren__plugin_source(dvren_context* ctx, const char* lib, const dvren_plugin_desc* d, char** text,
                                         size_t* len)
{
    char path[DVREN__PATH_CAP];
    dvren_status s;
    *text = NULL;
    *len = 0;
    if (d->device_source) {
        *len = strlen(d->device_source);
        *text = (char*)dvren__alloc(ctx, *len + 1);
        if (!*text) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, d->name, NULL, "out of memory");
        memcpy(*text, d->device_source, *len + 1);
        return DVREN_OK;
    }
    if (!d->device_source_file || !*d->device_source_file)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, d->name, "give the plugin a device_source_file",
                               "plugin '%s' has no device source: it cannot run on the GPU", d->name);
    dvren__device_source_path(lib, d, path, sizeof path);
    s = dvren__read_file(ctx, d->name, path, (uint64_t)64 << 20, text, len);
    if (s == DVREN_ERROR_IO)
        dvren_set_error(ctx, DVREN_ERROR_IO, d->name, "install the device source next to the plugin library",
                        "cannot open device source '%s' of plugin '%s'", path, d->name);
    return s;
}

/* 1 when name occurs in text as a whole identifier. */
static int dvren__has_identifier(const char* text, const char* name)
{
    size_t n = strlen(name);
    const char* p = text;
    if (!n) return 0;
    while ((p = strstr(p, name)) != NULL) {
        char b = p > text ? p[-1] : ' ', a = p[n];
        int word_b = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
        int word_a = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9') || a == '_';
        if (!word_b && !word_a) return 1;
        p += n;
    }
    return 0;
}

/* The entry names a stage plugin gives must name functions of its device
 * source (NVRTC looks them up there), and every function must come with
 * its name: checked at load, so a typo is an error on the CPU too, not
 * only when the GPU compiles the kernel. A plugin whose device source is
 * missing loads with a warning (the CPU path does not need it; the GPU
 * path will refuse it). */
static dvren_status dvren__check_device_source(dvren_context* ctx, const char* lib, const dvren__plugin_rec* r)
{
    const dvren_plugin_desc* d = r->desc;
    const char* names[10];
    const char* fields[10];
    int have[10];
    int n = 0, i;
    char* text = NULL;
    size_t len = 0;
    dvren_status s;
#define DVREN__ENTRY_NAME(iface, m)                 \
    do {                                            \
        names[n] = (iface).m##_name;                \
        fields[n] = #m "_name";                     \
        have[n++] = (iface).m != NULL;              \
    } while (0)
    if (d->kind == DVREN_PLUGIN_FIELD) {
        DVREN__ENTRY_NAME(r->field, eval);
        DVREN__ENTRY_NAME(r->field, eval_channel);
        DVREN__ENTRY_NAME(r->field, eval_bwd);
    } else if (d->kind == DVREN_PLUGIN_SHADER) {
        DVREN__ENTRY_NAME(r->shader, density);
        DVREN__ENTRY_NAME(r->shader, color);
        DVREN__ENTRY_NAME(r->shader, density_bwd);
        DVREN__ENTRY_NAME(r->shader, color_bwd);
        DVREN__ENTRY_NAME(r->shader, density_dt);
        DVREN__ENTRY_NAME(r->shader, density_dt_bwd);
        DVREN__ENTRY_NAME(r->shader, surface_color);
        DVREN__ENTRY_NAME(r->shader, surface_color_bwd);
    } else if (d->kind == DVREN_PLUGIN_SAMPLER) {
        DVREN__ENTRY_NAME(r->sampler, begin);
        DVREN__ENTRY_NAME(r->sampler, next);
        DVREN__ENTRY_NAME(r->sampler, surface);
    } else {
        return DVREN_OK;
    }
#undef DVREN__ENTRY_NAME
    for (i = 0; i < n; ++i)
        if ((names[i] != NULL) != (have[i] != 0))
            return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, lib, "declare entries with DVREN_ENTRY(member, function)",
                                   "plugin '%s': %s is %s but its function is %s", d->name, fields[i],
                                   names[i] ? "set" : "NULL", have[i] ? "set" : "NULL");
    s = dvren__plugin_source(ctx, lib, d, &text, &len);
    if (s != DVREN_OK) {
        dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_STEP, "plugin %s: %s: it runs on the CPU only", d->name,
                  ctx->last_error);
        ctx->last_error[0] = 0;
        return DVREN_OK;
    }
    s = DVREN_OK;
    for (i = 0; i < n && s == DVREN_OK; ++i)
        if (names[i] && !dvren__has_identifier(text, names[i]))
            s = dvren_set_error(ctx, DVREN_ERROR_PLUGIN, lib, "declare entries with DVREN_ENTRY(member, function)",
                                "plugin '%s': %s = '%s' names no function of its device source '%s'", d->name,
                                fields[i], names[i], d->device_source ? "(embedded)" : d->device_source_file);
    dvren__free(ctx, text, len + 1);
    return s;
}

/* Loads the library at path and registers its plugins. */
static dvren_status dvren__plugin_load_path(dvren_context* ctx, const char* path)
{
    char err[1024];
    void* h;
    dvren_plugin_entry_fn entry;
    const dvren_plugin_table* tab;
    dvren_status status = DVREN_OK;
    uint32_t i, first = ctx->plugin_count, lib_index;
    dvren__plugin_rec* rec = NULL;
    union { void* p; dvren_plugin_entry_fn f; } sym;

    err[0] = 0;
    h = dvren__lib_open(path, err, sizeof err);
    if (!h)
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, "plugins", "is it a plugin built for this platform?",
                               "cannot load '%s': %s", path, err);
    for (i = 0; i < ctx->lib_count; ++i)
        if (ctx->libs[i].handle == h) {
            dvren__lib_close(h); /* the loader counts references: drop ours */
            return DVREN_OK;
        }
    sym.p = dvren__lib_symbol(h, DVREN_PLUGIN_ENTRY_NAME);
    entry = sym.f;
    if (!entry) {
        dvren__lib_close(h);
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, "plugins",
                               "a dvren plugin exports 'dvren_plugin_entry' with DVREN_PLUGIN_EXPORT",
                               "'%s' has no symbol '%s': not a dvren plugin", path, DVREN_PLUGIN_ENTRY_NAME);
    }
    tab = entry(DVREN_ABI_VERSION);
    if (!tab) {
        dvren__lib_close(h);
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, "plugins", "rebuild the plugin against this dvren.h",
                               "'%s' declined to load into a host with plugin ABI %u.%u", path,
                               (unsigned)DVREN_ABI_MAJOR, (unsigned)DVREN_ABI_MINOR);
    }
    if (tab->struct_size < offsetof(dvren_plugin_table, plugins) + sizeof(tab->plugins) ||
        (tab->abi_version >> 16) != DVREN_ABI_MAJOR) {
        unsigned v = tab->struct_size >= offsetof(dvren_plugin_table, abi_version) + 4 ? tab->abi_version : 0u;
        dvren__lib_close(h);
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, "plugins", "rebuild the plugin against this dvren.h",
                               "'%s' was built against plugin ABI %u.%u; this host has ABI %u.%u", path, v >> 16,
                               v & 0xFFFFu, (unsigned)DVREN_ABI_MAJOR, (unsigned)DVREN_ABI_MINOR);
    }
    if (!dvren__grow(ctx, (void**)&ctx->libs, &ctx->lib_cap, ctx->lib_count + 1, sizeof(dvren__library))) {
        dvren__lib_close(h);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "plugins", NULL, "out of memory");
    }
    lib_index = ctx->lib_count;
    ctx->libs[lib_index].handle = h;
    ctx->libs[lib_index].path = dvren__strdup(ctx, path);
    ctx->lib_count++;
    if (!ctx->libs[lib_index].path) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "plugins", NULL, "out of memory");
    if (tab->count == 0 || !tab->plugins)
        DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, "plugins", NULL, "'%s' declares no plugins", path);
    for (i = 0; i < tab->count; ++i) {
        const dvren_plugin_desc* d = tab->plugins[i];
        dvren__plugin_rec* other;
        rec = (dvren__plugin_rec*)dvren__calloc(ctx, sizeof *rec);
        if (!rec) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "plugins", NULL, "out of memory");
        rec->ctx = ctx;
        rec->library = lib_index;
        rec->abi_version = tab->abi_version;
        DVREN__CHECK(dvren__plugin_validate(ctx, path, d, rec));
        DVREN__CHECK(dvren__check_device_source(ctx, path, rec));
        other = dvren__plugin_lookup(ctx, d->kind, d->name);
        if (other)
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, "plugins", "remove one of the two from the plugin path",
                        "%s plugin '%s' in '%s' is already loaded from '%s'", dvren_plugin_kind_name(d->kind),
                        d->name, path, ctx->libs[other->library].path);
        rec->host.struct_size = sizeof(dvren_host);
        rec->host.abi_version = DVREN_ABI_VERSION;
        rec->host.opaque = rec;
        rec->host.alloc = dvren__host_alloc;
        rec->host.free = dvren__host_free;
        rec->host.log = dvren__host_log;
        rec->host.fail = dvren__host_fail;
        rec->host.param_number = dvren__host_param_number;
        rec->host.param_string = dvren__host_param_string;
        rec->host.param_numbers = dvren__host_param_numbers;
        rec->host.param_tensor = dvren__host_param_tensor;
        rec->host.param_given = dvren__host_param_given;
        rec->host.get_interface = dvren__host_get_interface;
        if (!dvren__grow(ctx, (void**)&ctx->plugins, &ctx->plugin_cap, ctx->plugin_count + 1,
                         sizeof(dvren__plugin_rec*)))
            DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "plugins", NULL, "out of memory");
        ctx->plugins[ctx->plugin_count++] = rec;
        rec = NULL;
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "loaded %s plugin %s %u.%u from %s",
                  dvren_plugin_kind_name(d->kind), d->name, (unsigned)(d->version >> 16),
                  (unsigned)(d->version & 0xFFFFu), path);
    }
    return DVREN_OK;
cleanup:
    /* all or nothing: unregister what this library added */
    dvren__free(ctx, rec, sizeof *rec);
    while (ctx->plugin_count > first) dvren__free(ctx, ctx->plugins[--ctx->plugin_count], sizeof *rec);
    if (ctx->lib_count == lib_index + 1) {
        dvren__lib_close(ctx->libs[lib_index].handle);
        dvren__strfree(ctx, ctx->libs[lib_index].path);
        ctx->lib_count--;
    }
    return status;
}

static int dvren__looks_like_path(const char* s)
{
    size_t n = strlen(s), e = strlen(DVREN__LIB_EXT);
    return strchr(s, '/') || strchr(s, '\\') || (n > e && strcmp(s + n - e, DVREN__LIB_EXT) == 0);
}

/* Appends "<dir>/<name><ext>" candidates of one ':'-separated list to the
 * search; returns 1 and the path in found when a file exists. */
static int dvren__search_list(const char* list, const char* name, char* found, char* searched, size_t scap)
{
    const char* s = list;
    while (s && *s) {
        const char* e = strchr(s, DVREN__PATH_LIST_SEP);
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 0 && len < DVREN__PATH_CAP - 256) {
            size_t sl = strlen(searched);
            snprintf(found, DVREN__PATH_CAP, "%.*s/%s%s", (int)len, s, name, DVREN__LIB_EXT);
            if (sl + len + 3 < scap) snprintf(searched + sl, scap - sl, "%s%.*s", sl ? ", " : "", (int)len, s);
            if (dvren__file_exists(found)) return 1;
        }
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

static dvren_status dvren__plugin_locate(dvren_context* ctx, const char* name, char* found)
{
    char searched[2048], exe[DVREN__PATH_CAP], list[2 * DVREN__PATH_CAP + 16];
    const char* env = getenv("DVREN_PLUGIN_PATH");
    searched[0] = 0;
    if (ctx->plugin_path && dvren__search_list(ctx->plugin_path, name, found, searched, sizeof searched))
        return DVREN_OK;
    if (env && dvren__search_list(env, name, found, searched, sizeof searched)) return DVREN_OK;
    dvren__exe_dir(exe, sizeof exe);
    if (exe[0]) {
        snprintf(list, sizeof list, "%s%c%s/plugins", exe, DVREN__PATH_LIST_SEP, exe);
        if (dvren__search_list(list, name, found, searched, sizeof searched)) return DVREN_OK;
    }
    return dvren_set_error(ctx, DVREN_ERROR_NOT_FOUND, "plugins",
                           "build it with ./build.sh, or add its folder to DVREN_PLUGIN_PATH",
                           "plugin '%s' not found: no %s%s in %s (DVREN_PLUGIN_PATH=%s)", name, name, DVREN__LIB_EXT,
                           searched[0] ? searched : "(no folders)", env ? env : "unset");
}

DVREN_API dvren_status dvren_plugin_load(dvren_context* ctx, const char* name_or_path)
{
    char found[DVREN__PATH_CAP];
    dvren_status s;
    if (!ctx || !name_or_path || !*name_or_path)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plugins", NULL, "NULL or empty plugin name");
    if (dvren__looks_like_path(name_or_path)) {
        if (!dvren__file_exists(name_or_path))
            return dvren_set_error(ctx, DVREN_ERROR_NOT_FOUND, "plugins", NULL, "plugin library '%s' does not exist",
                                   name_or_path);
        return dvren__plugin_load_path(ctx, name_or_path);
    }
    s = dvren__plugin_locate(ctx, name_or_path, found);
    if (s != DVREN_OK) return s;
    return dvren__plugin_load_path(ctx, found);
}

/* out = a + sep + b; 0 when it does not fit (never truncates silently). */
static int dvren__join(char* out, size_t cap, const char* a, char sep, const char* b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb + 1 > cap) return 0;
    memcpy(out, a, la);
    out[la] = sep;
    memcpy(out + la + 1, b, lb + 1);
    return 1;
}

/* Loads every library of one folder; counts the failures. */
static void dvren__load_dir(dvren_context* ctx, const char* dir, uint32_t* failed)
{
    size_t el = strlen(DVREN__LIB_EXT);
#if defined(_WIN32)
    wchar_t pattern[DVREN__PATH_CAP];
    char spec[DVREN__PATH_CAP];
    WIN32_FIND_DATAW fd;
    HANDLE h;
    snprintf(spec, sizeof spec, "%s\\*%s", dir, DVREN__LIB_EXT);
    if (!MultiByteToWideChar(CP_UTF8, 0, spec, -1, pattern, DVREN__PATH_CAP)) return;
    h = FindFirstFileW(pattern, &fd);
    if (h == INVALID_HANDLE_VALUE) return;
    do {
        char name[1024], path[DVREN__PATH_CAP];
        if (!WideCharToMultiByte(CP_UTF8, 0, fd.cFileName, -1, name, (int)sizeof name, NULL, NULL)) continue;
        if (!dvren__join(path, sizeof path, dir, '\\', name)) continue;
#else
    DIR* dd = opendir(dir);
    struct dirent* e;
    if (!dd) return;
    while ((e = readdir(dd)) != NULL) {
        char path[DVREN__PATH_CAP];
        const char* name = e->d_name;
        size_t n = strlen(name);
        if (n <= el || strcmp(name + n - el, DVREN__LIB_EXT) != 0) continue;
        if (!dvren__join(path, sizeof path, dir, '/', name) || !dvren__file_exists(path)) continue;
#endif
        (void)el;
        if (dvren__plugin_load_path(ctx, path) != DVREN_OK) {
            dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_STEP, "skipped %s", ctx->last_error);
            ++*failed;
        }
#if defined(_WIN32)
    } while (FindNextFileW(h, &fd));
    FindClose(h);
#else
    }
    closedir(dd);
#endif
}

static void dvren__load_list(dvren_context* ctx, const char* list, uint32_t* failed)
{
    const char* s = list;
    while (s && *s) {
        const char* e = strchr(s, DVREN__PATH_LIST_SEP);
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 0 && len < DVREN__PATH_CAP) {
            char dir[DVREN__PATH_CAP];
            snprintf(dir, sizeof dir, "%.*s", (int)len, s);
            dvren__load_dir(ctx, dir, failed);
        }
        if (!e) break;
        s = e + 1;
    }
}

DVREN_API dvren_status dvren_plugin_load_all(dvren_context* ctx, uint32_t* failed)
{
    char exe[DVREN__PATH_CAP], list[2 * DVREN__PATH_CAP + 16];
    uint32_t nf = 0;
    if (!ctx) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "plugins", NULL, "NULL context");
    if (ctx->plugin_path) dvren__load_list(ctx, ctx->plugin_path, &nf);
    if (getenv("DVREN_PLUGIN_PATH")) dvren__load_list(ctx, getenv("DVREN_PLUGIN_PATH"), &nf);
    dvren__exe_dir(exe, sizeof exe);
    if (exe[0]) {
        snprintf(list, sizeof list, "%s%c%s/plugins", exe, DVREN__PATH_LIST_SEP, exe);
        dvren__load_list(ctx, list, &nf);
    }
    if (failed) *failed = nf;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_plugin_find(dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                                         const dvren_plugin_desc** out)
{
    dvren__plugin_rec* r;
    dvren_status s;
    if (!ctx || !name || !out)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plugins", NULL, "NULL argument");
    *out = NULL;
    r = dvren__plugin_lookup(ctx, kind, name);
    if (!r) {
        r = dvren__plugin_lookup(ctx, DVREN_PLUGIN_INVALID, name);
        if (!r && !dvren__looks_like_path(name)) {
            s = dvren_plugin_load(ctx, name);
            if (s != DVREN_OK) return s;
            r = dvren__plugin_lookup(ctx, kind, name);
            if (!r) r = dvren__plugin_lookup(ctx, DVREN_PLUGIN_INVALID, name);
        }
        if (r && kind != DVREN_PLUGIN_INVALID && r->desc->kind != kind)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plugins", NULL, "plugin '%s' is a %s, not a %s",
                                   name, dvren_plugin_kind_name(r->desc->kind), dvren_plugin_kind_name(kind));
        if (!r)
            return dvren_set_error(ctx, DVREN_ERROR_NOT_FOUND, "plugins", NULL,
                                   "the library '%s%s' does not contain a %s plugin named '%s'", name, DVREN__LIB_EXT,
                                   dvren_plugin_kind_name(kind), name);
    }
    *out = r->desc;
    return DVREN_OK;
}

DVREN_API uint32_t dvren_plugin_count(const dvren_context* ctx) { return ctx ? ctx->plugin_count : 0u; }

DVREN_API const dvren_plugin_desc* dvren_plugin_at(const dvren_context* ctx, uint32_t i, const char** library)
{
    if (!ctx || i >= ctx->plugin_count) return NULL;
    if (library) *library = ctx->libs[ctx->plugins[i]->library].path;
    return ctx->plugins[i]->desc;
}

/* ======================================================================== */
/* >>stage (implementation)                                                 */
/* ======================================================================== */

struct dvren_stage {
    dvren_context* ctx;
    dvren__plugin_rec* rec;
    void* instance;
    dvren_instance_info info;
    dvren_params* params; /* resolved; kept alive for borrowed tensors */
    uint32_t generation;  /* dvren_stage_update count: scenes bind their blocks again when it moves */
    /* Where the backend reads each buffer (mem_place: the host buffer itself
     * on the CPU, a device copy on a GPU), placed once at the first scene
     * and shared by every scene of the stage. */
    void* addr[DVREN_MAX_BUFFERS];
    uint32_t placed; /* buffers placed so far */
};

static const dvren_buffer_desc* dvren__buffer_at(const dvren_instance_info* in, uint32_t i)
{
    return (const dvren_buffer_desc*)(const void*)((const char*)in->buffers + (size_t)i * in->buffers[0].struct_size);
}

static size_t dvren__tensor_bytes(const dvren_tensor* t)
{
    return (size_t)dvren_tensor_numel(t) * dvren_dtype_size(t->dtype);
}

/* 1 when a launch of ctx's backend can read t: host memory is staged or
 * borrowed by every backend, device memory only by a device backend. */
static int dvren__reachable(const dvren_context* ctx, const dvren_tensor* t)
{
    return t->memory == DVREN_MEMORY_HOST || t->memory == ctx->be->memory;
}

/* Places the stage's buffers where its backend reads them (once). */
static dvren_status dvren__stage_place(dvren_stage* st)
{
    while (st->placed < st->info.buffer_count) {
        const dvren_tensor* t = &dvren__buffer_at(&st->info, st->placed)->tensor;
        dvren_status s = st->ctx->be->mem_place(st->ctx, t->data, dvren__tensor_bytes(t), &st->addr[st->placed]);
        if (s != DVREN_OK) return s;
        st->placed++;
    }
    return DVREN_OK;
}

static void dvren__stage_unplace(dvren_stage* st)
{
    while (st->placed > 0) {
        const dvren_tensor* t = &dvren__buffer_at(&st->info, --st->placed)->tensor;
        st->ctx->be->mem_unplace(st->ctx, t->data, st->addr[st->placed], dvren__tensor_bytes(t));
    }
}

/* Binds a stage's parameter block to the given buffer addresses (the
 * stage's host buffers, or where its backend placed them). */
static dvren_status dvren__bind(dvren_stage* st, void* const* addr, void* block)
{
    const void* bufs[DVREN_MAX_BUFFERS];
    dvren_context* ctx = st->ctx;
    dvren_status s;
    uint32_t i;
    for (i = 0; i < st->info.buffer_count; ++i)
        bufs[i] = addr ? addr[i] : dvren__buffer_at(&st->info, i)->tensor.data;
    ctx->last_error[0] = 0;
    s = st->rec->inst.bind(&st->rec->host, st->instance, bufs, block);
    if (s != DVREN_OK && !ctx->last_error[0])
        dvren_set_error(ctx, s, st->rec->desc->name, NULL, "bind() failed with %s", dvren_status_string(s));
    return s;
}

static dvren_status dvren__info_check(dvren_context* ctx, const dvren__plugin_rec* r, const dvren_instance_info* in)
{
    const char* n = r->desc->name;
    uint32_t i;
    if ((in->block_size == 0 && r->desc->kind != DVREN_PLUGIN_SALIENCY && r->desc->kind != DVREN_PLUGIN_REGISTRATION) ||
        in->block_size > DVREN_MAX_BLOCK_SIZE)
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): block_size %u is outside 1..%u",
                               (unsigned)in->block_size, (unsigned)DVREN_MAX_BLOCK_SIZE);
    if (in->buffer_count > DVREN_MAX_BUFFERS || (in->buffer_count && !in->buffers))
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): %u buffers (at most %u, non-NULL)",
                               (unsigned)in->buffer_count, (unsigned)DVREN_MAX_BUFFERS);
    for (i = 0; i < in->buffer_count; ++i) {
        const dvren_buffer_desc* b =
            (const dvren_buffer_desc*)(const void*)((const char*)in->buffers + (size_t)i * in->buffers[0].struct_size);
        if (b->struct_size < offsetof(dvren_buffer_desc, tensor) + sizeof(b->tensor) || !b->tensor.data ||
            !dvren_tensor_is_contiguous(&b->tensor) || b->tensor.memory != DVREN_MEMORY_HOST)
            return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL,
                                   "describe(): buffer %u must be a contiguous host tensor with data", (unsigned)i);
    }
    if (r->desc->kind == DVREN_PLUGIN_FIELD) {
        if (in->channels < 1 || in->channels > DVREN_MAX_CHANNELS)
            return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): %u channels (allowed 1..%d)",
                                   (unsigned)in->channels, DVREN_MAX_CHANNELS);
        for (i = 0; i < 3; ++i)
            if (!(in->bounds_min[i] < in->bounds_max[i]) || !isfinite(in->bounds_min[i]) ||
                !isfinite(in->bounds_max[i]))
                return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): empty or non-finite bounds");
        if (!(in->voxel_world > 0.0f) || !isfinite(in->voxel_world))
            return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): voxel_world must be > 0");
    }
    if (r->desc->kind == DVREN_PLUGIN_SHADER &&
        (in->channels_used > DVREN_MAX_CHANNELS || in->gradient_channel >= DVREN_MAX_CHANNELS ||
         in->density_channel >= DVREN_MAX_CHANNELS))
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): channels_used or gradient_channel > %d",
                               DVREN_MAX_CHANNELS);
    if (in->jit_defines) {
        const char* l = in->jit_defines;
        while (*l) {
            if (strncmp(l, "#define ", 8) != 0)
                return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL,
                                       "describe(): jit_defines must hold only '#define NAME VALUE' lines");
            l = strchr(l, '\n');
            if (!l) break;
            ++l;
        }
    }
    if (r->desc->kind == DVREN_PLUGIN_SAMPLER && !(in->min_transmittance >= 0.0f && in->min_transmittance < 1.0f))
        return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, n, NULL, "describe(): min_transmittance must be in [0, 1)");
    return DVREN_OK;
}

DVREN_API dvren_status dvren_stage_create(dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                                          const dvren_params* params, dvren_stage** out)
{
    const dvren_plugin_desc* d;
    dvren__plugin_rec* r;
    dvren_stage* st = NULL;
    dvren_status status = DVREN_OK;
    dvren_instance_info info;
    if (!ctx || !name || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "stage", NULL, "NULL argument");
    *out = NULL;
    if (kind != DVREN_PLUGIN_FIELD && kind != DVREN_PLUGIN_SHADER && kind != DVREN_PLUGIN_SAMPLER &&
        kind != DVREN_PLUGIN_SALIENCY && kind != DVREN_PLUGIN_REGISTRATION)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "stage", NULL,
                               "kind %s has no instances (field, shader, sampler, saliency or registration)",
                               dvren_plugin_kind_name(kind));
    DVREN__CHECK(dvren_plugin_find(ctx, kind, name, &d));
    r = dvren__plugin_lookup(ctx, kind, name);
    st = (dvren_stage*)dvren__calloc(ctx, sizeof *st);
    if (!st) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "stage", NULL, "out of memory");
    st->ctx = ctx;
    st->rec = r;
    DVREN__CHECK(dvren__params_resolve(ctx, d, params, &st->params));
    ctx->last_error[0] = 0;
    status = r->inst.create(&r->host, st->params, &st->instance);
    if (status != DVREN_OK) {
        if (!ctx->last_error[0])
            dvren_set_error(ctx, status, name, NULL, "create() failed with %s", dvren_status_string(status));
        st->instance = NULL;
        goto cleanup;
    }
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ctx->last_error[0] = 0;
    status = r->inst.describe(&r->host, st->instance, &info);
    if (status != DVREN_OK) {
        if (!ctx->last_error[0])
            dvren_set_error(ctx, status, name, NULL, "describe() failed with %s", dvren_status_string(status));
        goto cleanup;
    }
    info.struct_size = sizeof info;
    DVREN__CHECK(dvren__info_check(ctx, r, &info));
    st->info = info;
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "created %s '%s'", dvren_plugin_kind_name(kind), name);
    *out = st;
    return DVREN_OK;
cleanup:
    dvren_stage_destroy(st);
    return status;
}

DVREN_API void dvren_stage_destroy(dvren_stage* st)
{
    if (!st) return;
    dvren__stage_unplace(st);
    if (st->instance) st->rec->inst.destroy(&st->rec->host, st->instance);
    dvren_params_destroy(st->params);
    dvren__free(st->ctx, st, sizeof *st);
}

/* Sets value v (any kind) under its name in p. */
static dvren_status dvren__params_put(dvren_params* p, const dvren__param_value* v)
{
    switch (v->kind) {
    case DVREN__V_NUMBER: return dvren_params_set_number(p, v->name, v->number);
    case DVREN__V_BOOL: return dvren_params_set_bool(p, v->name, v->number != 0.0);
    case DVREN__V_STRING: return dvren_params_set_string(p, v->name, v->string);
    case DVREN__V_NUMBERS: return dvren_params_set_numbers(p, v->name, v->numbers, v->count);
    case DVREN__V_TENSOR: return dvren_params_set_tensor(p, v->name, &v->tensor);
    default: return dvren_set_error(p->ctx, DVREN_ERROR_INTERNAL, "params", NULL, "bad value kind");
    }
}

DVREN_API dvren_status dvren_stage_update(dvren_stage* st, const dvren_params* params)
{
    dvren_context* ctx = st ? st->ctx : NULL;
    const dvren_plugin_desc* pl;
    dvren_params *merged = NULL, *resolved = NULL;
    dvren_status status = DVREN_OK;
    uint32_t i, k;
    if (!st || !params) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "stage", NULL, "NULL argument");
    pl = st->rec->desc;
    for (k = 0; k < params->count; ++k) {
        const char* nm = params->values[k].name;
        dvren_param_desc d;
        int found = 0;
        for (i = 0; i < pl->param_count && !found; ++i) {
            dvren__param_desc_read(dvren_plugin_param(pl, i), &d);
            found = strcmp(d.name, nm) == 0;
        }
        if (!found) break; /* dvren__params_resolve names it, with the known ones */
        if (!(d.flags & DVREN_PARAM_LIVE))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, pl->name, "create the stage again to change it",
                                   "parameter '%s' is not live: it cannot change after creation", nm);
    }
    if (!st->rec->inst.update)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, pl->name, NULL,
                               "plugin '%s' has no live parameters (no update())", pl->name);
    DVREN__CHECK(dvren_params_create(ctx, &merged));
    for (k = 0; k < st->params->count; ++k) {
        const dvren__param_value* v = &st->params->values[k];
        if (!dvren__params_lookup(params, v->name)) DVREN__CHECK(dvren__params_put(merged, v));
    }
    for (k = 0; k < params->count; ++k) DVREN__CHECK(dvren__params_put(merged, &params->values[k]));
    DVREN__CHECK(dvren__params_resolve(ctx, pl, merged, &resolved));
    ctx->last_error[0] = 0;
    status = st->rec->inst.update(&st->rec->host, st->instance, resolved);
    if (status != DVREN_OK) {
        if (!ctx->last_error[0])
            dvren_set_error(ctx, status, pl->name, NULL, "update() failed with %s", dvren_status_string(status));
        goto cleanup;
    }
    dvren_params_destroy(st->params);
    st->params = resolved;
    resolved = NULL;
    st->generation++;
cleanup:
    dvren_params_destroy(merged);
    dvren_params_destroy(resolved);
    return status;
}

DVREN_API dvren_status dvren_stage_info(const dvren_stage* st, dvren_instance_info* info)
{
    if (!st || !info) return dvren_set_error(st ? st->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "stage", NULL, "NULL argument");
    *info = st->info;
    info->struct_size = sizeof *info;
    return DVREN_OK;
}

DVREN_API const dvren_plugin_desc* dvren_stage_plugin(const dvren_stage* st) { return st ? st->rec->desc : NULL; }

DVREN_API dvren_status dvren_field_sample(dvren_stage* st, uint32_t n, const float* xyz, float* out)
{
    float ch[DVREN_MAX_CHANNELS];
    void* block;
    uint32_t i, c;
    dvren_status s;
    if (!st || (n && (!xyz || !out)))
        return dvren_set_error(st ? st->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "field_sample", NULL, "NULL argument");
    if (st->rec->desc->kind != DVREN_PLUGIN_FIELD)
        return dvren_set_error(st->ctx, DVREN_ERROR_INVALID_ARGUMENT, "field_sample", NULL, "'%s' is a %s, not a field",
                               st->rec->desc->name, dvren_plugin_kind_name(st->rec->desc->kind));
    block = dvren__calloc(st->ctx, st->info.block_size);
    if (!block) return dvren_set_error(st->ctx, DVREN_ERROR_OUT_OF_MEMORY, "field_sample", NULL, "out of memory");
    s = dvren__bind(st, NULL, block);
    for (i = 0; s == DVREN_OK && i < n; ++i) {
        st->rec->field.eval(block, dvren_f3v(xyz + 3 * (size_t)i), ch);
        for (c = 0; c < st->info.channels; ++c) out[(size_t)i * st->info.channels + c] = ch[c];
    }
    dvren__free(st->ctx, block, st->info.block_size);
    return s;
}

/* ======================================================================== */
/* >>render (implementation)                                                */
/* ======================================================================== */

/* The CPU binding of the march template: calls through the plugins' C
 * functions, in float32 (rendering) and float64 (the gradient checker). The
 * template itself is the generated copy of kernels/ below, twice. */
typedef struct dvren__cpu_stages_32 {
    dvren_field_eval_fn field_eval;
    dvren_field_eval_channel_fn field_eval_channel; /* may be NULL */
    dvren_shader_density_fn density;
    dvren_shader_color_fn color;
    dvren_sampler_begin_fn begin;
    dvren_sampler_next_fn next;
    dvren_field_eval_bwd_fn field_eval_bwd; /* backward: NULL when not differentiable */
    dvren_shader_density_bwd_fn density_bwd;
    dvren_shader_color_bwd_fn color_bwd;
    dvren_shader_density_dt_fn density_dt;  /* ABI 1.2 shaders: used instead of density (NULL: absent) */
    dvren_shader_density_dt_bwd_fn density_dt_bwd;
    dvren_sampler_surface_fn surface;       /* ABI 1.3 (NULL: absent) */
    dvren_shader_surface_color_fn surface_color;
    dvren_shader_surface_color_bwd_fn surface_color_bwd;
} dvren__cpu_stages_32;
typedef struct dvren__cpu_stages_64 {
    dvren_field_eval_f64_fn field_eval;
    dvren_field_eval_channel_f64_fn field_eval_channel;
    dvren_shader_density_f64_fn density;
    dvren_shader_color_f64_fn color;
    dvren_sampler_begin_f64_fn begin;
    dvren_sampler_next_f64_fn next;
    dvren_field_eval_bwd_f64_fn field_eval_bwd;
    dvren_shader_density_bwd_f64_fn density_bwd;
    dvren_shader_color_bwd_f64_fn color_bwd;
    dvren_shader_density_dt_f64_fn density_dt;
    dvren_shader_density_dt_bwd_f64_fn density_dt_bwd;
    dvren_sampler_surface_f64_fn surface;
    dvren_shader_surface_color_f64_fn surface_color;
    dvren_shader_surface_color_bwd_f64_fn surface_color_bwd;
} dvren__cpu_stages_64;

#define DVREN_STAGES_PARAM const DVREN__RN(dvren__cpu_stages)* S_,
#define DVREN_STAGES_ARG S_,
#define DVREN_FIELD_EVAL(P, p, out) S_->field_eval((P), (p), (out))
#define DVREN_FIELD_EVAL_CHANNEL(P, p, c) S_->field_eval_channel((P), (p), (c))
#define DVREN_SHADER_DENSITY(P, ch, dt) (S_->density_dt ? S_->density_dt((P), (ch), (dt)) : S_->density((P), (ch)))
#define DVREN_SHADER_COLOR(P, ch, g, d, rgb) S_->color((P), (ch), (g), (d), (rgb))
#define DVREN_SAMPLER_BEGIN(P, b, o, d, t0, t1, rng, st) S_->begin((P), (b), (o), (d), (t0), (t1), (rng), (st))
#define DVREN_SAMPLER_NEXT(P, st, t, dt) S_->next((P), (st), (t), (dt))
#define DVREN_SAMPLER_SURFACE(P, b, st, o, d, h, w) (S_->surface ? S_->surface((P), (b), (st), (o), (d), (h), (w)) : 0)
/* a shader without surface_color shades a surface as a density rising into it */
#define DVREN_SHADER_SURFACE_COLOR(P, ch, h, d, rgb)                                                                   \
    (S_->surface_color ? S_->surface_color((P), (ch), (h), (d), (rgb))                                                 \
                       : S_->color((P), (ch), dvren_scale3((h)->normal, (dvren_real)-1), (d), (rgb)))
#define DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, h, d, g, dch)                                                            \
    do {                                                                                                               \
        if (S_->surface_color_bwd) {                                                                                   \
            S_->surface_color_bwd((P), (ch), (h), (d), (g), (dch));                                                    \
        } else {                                                                                                       \
            dvren_vec3 dgr_;                                                                                           \
            S_->color_bwd((P), (ch), dvren_scale3((h)->normal, (dvren_real)-1), (d), (g), (dch), &dgr_);               \
        }                                                                                                              \
    } while (0)
#define DVREN_MARCH_BACKWARD
#define DVREN_FIELD_EVAL_BWD(P, p, g) S_->field_eval_bwd((P), (p), (g))
#define DVREN_SHADER_DENSITY_BWD(P, ch, dt, g, dch)                                                                    \
    (S_->density_dt_bwd ? S_->density_dt_bwd((P), (ch), (dt), (g), (dch)) : S_->density_bwd((P), (ch), (g), (dch)))
#define DVREN_SHADER_COLOR_BWD(P, ch, gr, d, g, dch, dgr) S_->color_bwd((P), (ch), (gr), (d), (g), (dch), (dgr))

/* The march template (kernels/dvren_march.h; its one copy is in >>generated
 * at the end of this file), read here in float32 for rendering ... */
#define DVREN__GEN_MARCH
#include DVREN_HEADER_FILE

/* ... and the same copy again in float64, for the gradient checker (the
 * names get the _64 suffix: DVREN__RN); stb_image_resize2.h makes its
 * variants the same way */
#if !defined(DVREN_NO_GRADCHECK)
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include DVREN_HEADER_FILE
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32
#endif
#undef DVREN__GEN_MARCH

/* the splat rasteriser (kernels/dvren_splat.h; its copy is in >>generated
 * at the end of this file), in float32 for rendering and float64 for the
 * SH rotation and gradient checks */
#define DVREN__GEN_SPLAT
#include DVREN_HEADER_FILE
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 64
#include DVREN_HEADER_FILE
#undef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32
#undef DVREN__GEN_SPLAT

/* marching cubes (kernels/dvren_mc.h; its copy is in >>generated at the end
 * of this file), float32 only */
#define DVREN__GEN_MC
#include DVREN_HEADER_FILE
#undef DVREN__GEN_MC

/* the element functions of the training operations (kernels/dvren_train.h;
 * its copy is in >>generated at the end of this file) */
#define DVREN__GEN_TRAIN
#include DVREN_HEADER_FILE
#undef DVREN__GEN_TRAIN

#undef DVREN_STAGES_PARAM
#undef DVREN_STAGES_ARG
#undef DVREN_FIELD_EVAL
#undef DVREN_FIELD_EVAL_CHANNEL
#undef DVREN_SHADER_DENSITY
#undef DVREN_SHADER_COLOR
#undef DVREN_SAMPLER_BEGIN
#undef DVREN_SAMPLER_NEXT
#undef DVREN_SAMPLER_SURFACE
#undef DVREN_SHADER_SURFACE_COLOR
#undef DVREN_SHADER_SURFACE_COLOR_BWD
#undef DVREN_FIELD_EVAL_BWD
#undef DVREN_SHADER_DENSITY_BWD
#undef DVREN_SHADER_COLOR_BWD

/* A differentiable parameter: the public view plus what the scene owns. */
typedef struct dvren__param {
    dvren_scene_param pub;
    char name[80];
    uint32_t trainable;  /* 0: no gradient is computed for it */
    void* grad_mem;      /* the gradient's memory (host or device), owned */
    int64_t* fixed;      /* CPU deterministic mode: int64 accumulators, lazily allocated */
} dvren__param;

#define DVREN__MAX_PARAMS (3u * DVREN_MAX_BUFFERS)

struct dvren_scene {
    dvren_context* ctx;
    dvren_stage* stage[3];  /* field, shader, sampler */
    void* block[3];         /* parameter blocks bound to the stages' placed buffers (dvren_stage.addr) */
    void* bblock[3];        /* differentiable scenes: the same blocks with the gradients bound (backward) */
    uint32_t generation[3]; /* each stage's generation when its block was bound (dvren_stage_update) */
    uint32_t block_size[3];
    dvren__cpu_stages_32 cpu;   /* the plugins' host-compiled functions: the CPU backend's launches */
    dvren__cpu_stages_64 cpu64; /* float64 functions (gradient checker); field_eval NULL when absent */
    uint32_t flags;             /* DVREN_SCENE_* */
    uint32_t nparams;
    dvren__param param[DVREN__MAX_PARAMS];
    void* be;               /* backend's state (a GPU: the fused kernel) */
};

struct dvren_plan {
    dvren_context* ctx;
    dvren_plan_desc desc; /* spp_map and step_map point at the plan's own copies below */
    /* per-pixel budget (owned copies, W*H each; ray_start W*H + 1) and where
     * launches read them (mem_place: the host arrays themselves on the CPU) */
    dvren_tensor spp_map, step_map, ray_start;
    void* spp_addr;
    void* step_addr;
    void* ray_start_addr;
    uint64_t rays; /* sum of spp_map */
};

struct dvren_framebuffer {
    dvren_context* ctx;
    uint32_t width, height, outputs;
    dvren_tensor out[9]; /* host outputs, indexed by dvren__output_index (bit position of DVREN_OUTPUT_*) */
    void* addr[9];       /* where launches write them (mem_place: out[i].data itself on the CPU) */
    uint32_t stale;      /* outputs whose host copy may be older than addr's (read back on demand) */
};

/* The scene's differentiable parameters: one per DIFFERENTIABLE buffer of
 * the field and the shader. Checks that those plugins can run backward.
 * Values stay where the renderer reads them (the stage's placed buffer);
 * gradients are the scene's, in the backend's memory. */
static dvren_status dvren__params_init(dvren_scene* sc)
{
    dvren_context* ctx = sc->ctx;
    static const char* const slot_names[3] = {"field", "shader", "sampler"};
    uint32_t k, i;
    if (!sc->cpu.field_eval_bwd || !sc->stage[0]->rec->field.eval_bwd_name)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "scene", "use a differentiable field (dense_grid)",
                               "field '%s' has no backward (eval_bwd): the scene cannot be DIFFERENTIABLE",
                               sc->stage[0]->rec->desc->name);
    if (!sc->cpu.density_bwd || !sc->cpu.color_bwd || !sc->stage[1]->rec->shader.density_bwd_name ||
        !sc->stage[1]->rec->shader.color_bwd_name || (sc->cpu.density_dt && !sc->cpu.density_dt_bwd) ||
        (sc->cpu.surface_color && (!sc->cpu.surface_color_bwd || !sc->stage[1]->rec->shader.surface_color_bwd_name)))
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "scene", "use a differentiable shader (emission_absorption)",
                               "shader '%s' has no backward (density_bwd, color_bwd): the scene cannot be DIFFERENTIABLE",
                               sc->stage[1]->rec->desc->name);
    for (k = 0; k < 3; ++k) {
        const dvren_stage* st = sc->stage[k];
        for (i = 0; i < st->info.buffer_count; ++i) {
            const dvren_buffer_desc* b = dvren__buffer_at(&st->info, i);
            dvren__param* P;
            dvren_status s;
            if (!(b->flags & DVREN_BUFFER_DIFFERENTIABLE)) continue;
            if (b->tensor.dtype != DVREN_DTYPE_F32)
                return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, st->rec->desc->name, NULL,
                                       "differentiable buffer '%s' must be float32, not %s", b->name ? b->name : "?",
                                       dvren_dtype_name(b->tensor.dtype));
            if (!st->rec->inst.bind_gradients)
                return dvren_set_error(ctx, DVREN_ERROR_PLUGIN, st->rec->desc->name, NULL,
                                       "buffer '%s' is differentiable but the plugin has no bind_gradients()",
                                       b->name ? b->name : "?");
            P = &sc->param[sc->nparams++];
            snprintf(P->name, sizeof P->name, "%s.%s", slot_names[k], b->name ? b->name : "buffer");
            P->pub.name = P->name;
            P->pub.stage = sc->stage[k];
            P->pub.slot = k;
            P->pub.buffer = i;
            P->pub.numel = (uint64_t)dvren_tensor_numel(&b->tensor);
            P->pub.value = b->tensor;
            P->pub.value.flags &= ~DVREN_TENSOR_OWNS_DATA;
            P->pub.value.data = st->addr[i];
            P->pub.value.memory = ctx->be->memory;
            P->pub.grad = P->pub.value;
            P->trainable = 1;
            s = ctx->be->mem_alloc(ctx, (size_t)P->pub.numel * sizeof(float), &P->grad_mem);
            if (s != DVREN_OK) return s;
            P->pub.grad.data = P->grad_mem;
        }
    }
    return DVREN_OK;
}

static void dvren__params_shutdown(dvren_scene* sc)
{
    uint32_t i;
    for (i = 0; i < sc->nparams; ++i) {
        dvren__param* P = &sc->param[i];
        if (P->grad_mem) sc->ctx->be->mem_free(sc->ctx, P->grad_mem, (size_t)P->pub.numel * sizeof(float));
        if (P->fixed) sc->ctx->be->mem_free(sc->ctx, P->fixed, (size_t)P->pub.numel * sizeof(int64_t));
        P->grad_mem = NULL;
        P->fixed = NULL;
    }
    sc->nparams = 0;
}

/* Lazy features (kernels/dvren_march.h): the shader's density reads one
 * channel and the field can evaluate one channel alone, in the precision
 * asked for (32: both backends need the function and its name). */
static uint32_t dvren__lazy(const dvren_scene* sc, int bits)
{
    const dvren_field_iface* f = &sc->stage[0]->rec->field;
    if (!sc->stage[1]->info.density_from_one_channel) return 0;
    return bits == 64 ? f->eval_channel_f64 != NULL : (f->eval_channel != NULL && f->eval_channel_name != NULL);
}

DVREN_API dvren_status dvren_scene_create(dvren_context* ctx, const dvren_scene_desc* desc, dvren_scene** out)
{
    static const dvren_plugin_kind kinds[3] = {DVREN_PLUGIN_FIELD, DVREN_PLUGIN_SHADER, DVREN_PLUGIN_SAMPLER};
    static const char* const names[3] = {"field", "shader", "sampler"};
    dvren_scene* sc = NULL;
    dvren_status status = DVREN_OK;
    int k;
    if (!ctx || !desc || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL, "NULL argument");
    *out = NULL;
    if (desc->flags & ~DVREN_SCENE_DIFFERENTIABLE)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL, "unknown flags 0x%x",
                               (unsigned)(desc->flags & ~DVREN_SCENE_DIFFERENTIABLE));
    sc = (dvren_scene*)dvren__calloc(ctx, sizeof *sc);
    if (!sc) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "scene", NULL, "out of memory");
    sc->ctx = ctx;
    sc->stage[0] = desc->field;
    sc->stage[1] = desc->shader;
    sc->stage[2] = desc->sampler;
    sc->flags = desc->flags;
    for (k = 0; k < 3; ++k) {
        if (!sc->stage[k]) DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL, "no %s given", names[k]);
        if (sc->stage[k]->rec->desc->kind != kinds[k])
            DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL, "the %s slot holds %s plugin '%s'", names[k],
                        dvren_plugin_kind_name(sc->stage[k]->rec->desc->kind), sc->stage[k]->rec->desc->name);
        if (sc->stage[k]->ctx != ctx)
            DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL, "the %s was made by another context", names[k]);
    }
    if (sc->stage[1]->info.channels_used > sc->stage[0]->info.channels)
        DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", "give the field more channels or change the shader's mode",
                    "shader '%s' reads %u channels but field '%s' has %u", sc->stage[1]->rec->desc->name,
                    (unsigned)sc->stage[1]->info.channels_used, sc->stage[0]->rec->desc->name,
                    (unsigned)sc->stage[0]->info.channels);
    if (sc->stage[1]->info.density_from_one_channel && sc->stage[1]->info.density_channel >= sc->stage[0]->info.channels)
        DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL,
                    "shader '%s' reads density from channel %u but field '%s' has %u channels",
                    sc->stage[1]->rec->desc->name, (unsigned)sc->stage[1]->info.density_channel,
                    sc->stage[0]->rec->desc->name, (unsigned)sc->stage[0]->info.channels);
    if (sc->stage[1]->info.needs_gradient && sc->stage[1]->info.gradient_channel >= sc->stage[0]->info.channels)
        DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "scene", NULL,
                    "shader '%s' wants the gradient of channel %u but field '%s' has %u channels",
                    sc->stage[1]->rec->desc->name, (unsigned)sc->stage[1]->info.gradient_channel,
                    sc->stage[0]->rec->desc->name, (unsigned)sc->stage[0]->info.channels);
    {
        const dvren_field_iface* f = &sc->stage[0]->rec->field;
        const dvren_shader_iface* sh = &sc->stage[1]->rec->shader;
        const dvren_sampler_iface* sa = &sc->stage[2]->rec->sampler;
        /* the host copies every interface into a zero-filled struct of its
         * own size, so members an older plugin lacks read as NULL */
        sc->cpu.field_eval = f->eval;
        sc->cpu.field_eval_channel = f->eval_channel;
        sc->cpu.density = sh->density;
        sc->cpu.color = sh->color;
        sc->cpu.begin = sa->begin;
        sc->cpu.next = sa->next;
        sc->cpu.field_eval_bwd = f->eval_bwd;
        sc->cpu.density_bwd = sh->density_bwd;
        sc->cpu.color_bwd = sh->color_bwd;
        sc->cpu.density_dt = sh->density_dt;
        sc->cpu.density_dt_bwd = sh->density_dt_bwd;
        sc->cpu.surface = sa->surface;
        sc->cpu.surface_color = sh->surface_color;
        sc->cpu.surface_color_bwd = sh->surface_color_bwd;
        sc->cpu64.field_eval = f->eval_f64;
        sc->cpu64.field_eval_channel = f->eval_channel_f64;
        sc->cpu64.density = sh->density_f64;
        sc->cpu64.color = sh->color_f64;
        sc->cpu64.begin = sa->begin_f64;
        sc->cpu64.next = sa->next_f64;
        sc->cpu64.field_eval_bwd = f->eval_bwd_f64;
        sc->cpu64.density_bwd = sh->density_bwd_f64;
        sc->cpu64.color_bwd = sh->color_bwd_f64;
        sc->cpu64.density_dt = sh->density_dt_f64;
        sc->cpu64.density_dt_bwd = sh->density_dt_bwd_f64;
        sc->cpu64.surface = sa->surface_f64;
        sc->cpu64.surface_color = sh->surface_color_f64;
        sc->cpu64.surface_color_bwd = sh->surface_color_bwd_f64;
    }
    /* the blocks read the buffers where the backend placed them */
    for (k = 0; k < 3; ++k) {
        dvren_stage* st = sc->stage[k];
        DVREN__CHECK(dvren__stage_place(st));
        sc->block_size[k] = st->info.block_size;
        sc->block[k] = dvren__calloc(ctx, st->info.block_size);
        if (!sc->block[k]) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "scene", NULL, "out of memory");
        DVREN__CHECK(dvren__bind(st, st->addr, sc->block[k]));
        sc->generation[k] = st->generation;
    }
    if (sc->flags & DVREN_SCENE_DIFFERENTIABLE) {
        DVREN__CHECK(dvren__params_init(sc));
        for (k = 0; k < 3; ++k) {
            sc->bblock[k] = dvren__calloc(ctx, sc->block_size[k]);
            if (!sc->bblock[k]) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "scene", NULL, "out of memory");
        }
    }
    DVREN__CHECK(ctx->be->scene_init(sc));
    *out = sc;
    return DVREN_OK;
cleanup:
    dvren_scene_destroy(sc);
    return status;
}

DVREN_API void dvren_scene_destroy(dvren_scene* sc)
{
    int k;
    if (!sc) return;
    if (sc->be) sc->ctx->be->scene_shutdown(sc);
    dvren__params_shutdown(sc);
    for (k = 0; k < 3; ++k) {
        dvren__free(sc->ctx, sc->block[k], sc->block_size[k]);
        dvren__free(sc->ctx, sc->bblock[k], sc->block_size[k]);
    }
    dvren__free(sc->ctx, sc, sizeof *sc);
}

/* Checks one budget map of a plan: a host tensor of dtype dt and shape
 * (H, W), contiguous. */
static dvren_status dvren__plan_map_check(dvren_context* ctx, const dvren_tensor* t, dvren_dtype dt, const char* name,
                                          const dvren_plan_desc* d)
{
    if (t->dtype != dt || !t->data || !dvren_tensor_is_contiguous(t) || t->ndim != 2 ||
        t->shape[0] != (int64_t)d->height || t->shape[1] != (int64_t)d->width)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "see dvren_plan_desc.spp_map",
                               "%s must be a contiguous %s tensor of shape (%u, %u)", name,
                               dt == DVREN_DTYPE_U32 ? "uint32" : "float32", (unsigned)d->height, (unsigned)d->width);
    if (t->memory != DVREN_MEMORY_HOST)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "pass the map in host memory",
                               "%s is in device memory", name);
    return DVREN_OK;
}

/* Copies the plan's budget maps (desc.spp_map, desc.step_map), checks their
 * values, computes the prefix sums of the rays and places all three where
 * launches read them; desc's pointers then point at the copies. */
static dvren_status dvren__plan_budget(dvren_plan* p)
{
    dvren_context* ctx = p->ctx;
    dvren_plan_desc* d = &p->desc;
    uint64_t n = (uint64_t)d->width * d->height, k, total = 0;
    int64_t shape[2];
    dvren_status status = DVREN_OK;
    shape[0] = d->height;
    shape[1] = d->width;
    if (d->spp_map) {
        const uint32_t* in = (const uint32_t*)d->spp_map->data;
        int64_t rs = (int64_t)n + 1;
        uint32_t* starts;
        DVREN__CHECK(dvren__plan_map_check(ctx, d->spp_map, DVREN_DTYPE_U32, "spp_map", d));
        for (k = 0; k < n; ++k) {
            if (in[k] < 1 || in[k] > 65536)
                DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "every pixel takes 1 .. 65536 rays",
                            "spp_map at pixel (%u, %u) is %u", (unsigned)(k % d->width), (unsigned)(k / d->width),
                            (unsigned)in[k]);
            total += in[k];
        }
        if (total > 0xFFFFFFFFull)
            DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "render in tiles (roi) or with fewer rays",
                        "spp_map asks for %llu rays, more than 2^32 - 1", (unsigned long long)total);
        DVREN__CHECK(dvren_tensor_create(ctx, DVREN_DTYPE_U32, 2, shape, &p->spp_map));
        memcpy(p->spp_map.data, in, n * sizeof(uint32_t));
        DVREN__CHECK(dvren_tensor_create(ctx, DVREN_DTYPE_U32, 1, &rs, &p->ray_start));
        starts = (uint32_t*)p->ray_start.data;
        starts[0] = 0;
        for (k = 0; k < n; ++k) starts[k + 1] = starts[k] + in[k];
        p->rays = total;
        DVREN__CHECK(ctx->be->mem_place(ctx, p->spp_map.data, n * sizeof(uint32_t), &p->spp_addr));
        DVREN__CHECK(ctx->be->mem_place(ctx, p->ray_start.data, (n + 1) * sizeof(uint32_t), &p->ray_start_addr));
        d->spp_map = &p->spp_map;
    } else {
        p->rays = n * d->spp;
    }
    if (d->step_map) {
        const float* in = (const float*)d->step_map->data;
        DVREN__CHECK(dvren__plan_map_check(ctx, d->step_map, DVREN_DTYPE_F32, "step_map", d));
        for (k = 0; k < n; ++k)
            if (!(in[k] >= 1.0f && in[k] <= 64.0f))
                DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "a step multiplier is in [1, 64]",
                            "step_map at pixel (%u, %u) is %g", (unsigned)(k % d->width), (unsigned)(k / d->width),
                            (double)in[k]);
        DVREN__CHECK(dvren_tensor_create(ctx, DVREN_DTYPE_F32, 2, shape, &p->step_map));
        memcpy(p->step_map.data, in, n * sizeof(float));
        DVREN__CHECK(ctx->be->mem_place(ctx, p->step_map.data, n * sizeof(float), &p->step_addr));
        d->step_map = &p->step_map;
    }
cleanup:
    return status;
}

DVREN_API dvren_status dvren_plan_create(dvren_context* ctx, const dvren_plan_desc* desc, dvren_plan** out)
{
    dvren_plan_desc d;
    dvren_plan* p;
    if (!ctx || !desc || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL, "NULL argument");
    *out = NULL;
    d = *desc;
    if (d.width < 1 || d.height < 1 || d.width > 32768 || d.height > 32768)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL, "width x height = %u x %u (each 1..32768)",
                               (unsigned)d.width, (unsigned)d.height);
    if (d.roi.w == 0 || d.roi.h == 0) {
        d.roi.x = d.roi.y = 0;
        d.roi.w = d.width;
        d.roi.h = d.height;
    }
    if (d.roi.x >= d.width || d.roi.y >= d.height || d.roi.w > d.width - d.roi.x || d.roi.h > d.height - d.roi.y)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL,
                               "roi (%u, %u, %u x %u) is not inside the %u x %u image", (unsigned)d.roi.x,
                               (unsigned)d.roi.y, (unsigned)d.roi.w, (unsigned)d.roi.h, (unsigned)d.width,
                               (unsigned)d.height);
    if (d.rays) {
        const dvren_tensor* r = d.rays;
        uint64_t n = (uint64_t)d.width * d.height;
        if (r->dtype != DVREN_DTYPE_F32 || !r->data || !dvren_tensor_is_contiguous(r) ||
            (uint64_t)dvren_tensor_numel(r) != n * DVREN_RAY_FLOATS || r->shape[r->ndim - 1] != DVREN_RAY_FLOATS)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "see dvren_plan_desc.rays",
                                   "rays must be a contiguous float32 tensor of %u x %u rays, last dimension 6",
                                   (unsigned)d.width, (unsigned)d.height);
        if (!dvren__reachable(ctx, r))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL,
                                   "rays are in device memory but the context renders on the CPU");
    } else if (d.camera.model < DVREN_CAMERA_PINHOLE || d.camera.model > DVREN_CAMERA_INTRINSICS) {
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "make one with dvren_camera_look_at()",
                               "camera is not set (model %u)", (unsigned)d.camera.model);
    }
    if (!(d.step_world >= 0.0f) || !isfinite(d.step_world))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL, "step_world = %g must be >= 0",
                               (double)d.step_world);
    if (!(d.min_transmittance < 1.0f) || !isfinite(d.min_transmittance))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", "negative: no early ray termination",
                               "min_transmittance = %g must be below 1", (double)d.min_transmittance);
    if (d.spp == 0) d.spp = 1;
    if (d.spp > 65536)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL, "spp = %u > 65536", (unsigned)d.spp);
    if (d.outputs == 0) d.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    if (d.outputs & ~DVREN_OUTPUT_ALL)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL, "unknown output bits 0x%x",
                               (unsigned)(d.outputs & ~DVREN_OUTPUT_ALL));
    if (!dvren__finite3(d.background))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "plan", NULL, "background is not finite");
    p = (dvren_plan*)dvren__calloc(ctx, sizeof *p);
    if (!p) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "plan", NULL, "out of memory");
    p->ctx = ctx;
    p->desc = d;
    if (d.spp_map || d.step_map) {
        dvren_status s = dvren__plan_budget(p);
        if (s != DVREN_OK) {
            dvren_plan_destroy(p);
            return s;
        }
    }
    *out = p;
    return DVREN_OK;
}

DVREN_API void dvren_plan_destroy(dvren_plan* p)
{
    dvren_context* ctx;
    if (!p) return;
    ctx = p->ctx;
    if (p->spp_addr) ctx->be->mem_unplace(ctx, p->spp_map.data, p->spp_addr, dvren__tensor_bytes(&p->spp_map));
    if (p->step_addr) ctx->be->mem_unplace(ctx, p->step_map.data, p->step_addr, dvren__tensor_bytes(&p->step_map));
    if (p->ray_start_addr)
        ctx->be->mem_unplace(ctx, p->ray_start.data, p->ray_start_addr, dvren__tensor_bytes(&p->ray_start));
    dvren_tensor_destroy(ctx, &p->spp_map);
    dvren_tensor_destroy(ctx, &p->step_map);
    dvren_tensor_destroy(ctx, &p->ray_start);
    dvren__free(ctx, p, sizeof *p);
}

DVREN_API const dvren_plan_desc* dvren_plan_get_desc(const dvren_plan* p) { return p ? &p->desc : NULL; }

/* Framebuffer outputs by name: the index of each in dvren_framebuffer.out
 * (the bit position of its DVREN_OUTPUT_* flag). */
enum {
    DVREN__OUT_RGB = 0,
    DVREN__OUT_ALPHA = 1,
    DVREN__OUT_DEPTH = 2,
    DVREN__OUT_TRANSMITTANCE = 3,
    DVREN__OUT_HIT = 4,
    DVREN__OUT_SAMPLES = 5,
    DVREN__OUT_VARIANCE = 6,
    DVREN__OUT_SURFACE_ID = 7,
    DVREN__OUT_MEDIAN_DEPTH = 8,
    DVREN__OUT_COUNT = 9
};

static int dvren__output_index(uint32_t bit)
{
    int i;
    if (bit == 0 || (bit & (bit - 1)) || (bit & ~DVREN_OUTPUT_ALL)) return -1;
    for (i = 0; i < DVREN__OUT_COUNT; ++i)
        if (bit == (1u << i)) return i;
    return -1;
}

DVREN_API const char* dvren_output_name(uint32_t output)
{
    static const char* const names[DVREN__OUT_COUNT] = {"rgb", "alpha", "depth", "transmittance", "hit", "samples",
                                                                 "variance", "surface_id", "median_depth"};
    int i = dvren__output_index(output);
    return i < 0 ? NULL : names[i];
}

/* "1.5 GiB", "12.0 MiB": sizes in messages */
static void dvren__bytes_text(uint64_t n, char* out, size_t cap)
{
    if (n >= ((uint64_t)1 << 30)) snprintf(out, cap, "%.1f GiB", (double)n / 1073741824.0);
    else snprintf(out, cap, "%.1f MiB", (double)n / 1048576.0);
}

DVREN_API dvren_status dvren_framebuffer_create_outputs(dvren_context* ctx, const dvren_plan* plan, uint32_t outputs,
                                                        dvren_framebuffer** out)
{
    dvren_framebuffer* fb;
    dvren_status status = DVREN_OK;
    uint64_t need = 0, avail = 0;
    int i;
    if (!ctx || !plan || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL, "NULL argument");
    *out = NULL;
    if (outputs & ~DVREN_OUTPUT_ALL)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL, "unknown output bits 0x%x",
                               (unsigned)(outputs & ~DVREN_OUTPUT_ALL));
    if (!outputs) outputs = plan->desc.outputs;
    /* refuse up front what cannot fit: the host copies, and the device's
     * when the backend has its own memory */
    for (i = 0; i < DVREN__OUT_COUNT; ++i)
        if (outputs & (1u << i))
            need += (uint64_t)plan->desc.width * plan->desc.height *
                    (i == DVREN__OUT_RGB ? 12u : (i == DVREN__OUT_HIT ? 1u : 4u));
    if (ctx->be->mem_available(ctx, &avail) == DVREN_OK && avail && need > avail) {
        char a[32], b[32];
        dvren__bytes_text(need, a, sizeof a);
        dvren__bytes_text(avail, b, sizeof b);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "framebuffer", "render a smaller image, fewer outputs, or in tiles (roi)",
                               "a %u x %u framebuffer needs %s on the %s, %s is available", (unsigned)plan->desc.width,
                               (unsigned)plan->desc.height, a, ctx->be->name, b);
    }
    fb = (dvren_framebuffer*)dvren__calloc(ctx, sizeof *fb);
    if (!fb) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "framebuffer", NULL, "out of memory");
    fb->ctx = ctx;
    fb->width = plan->desc.width;
    fb->height = plan->desc.height;
    fb->outputs = outputs;
    for (i = 0; i < DVREN__OUT_COUNT; ++i) {
        int64_t shape[3];
        dvren_dtype dt = DVREN_DTYPE_F32;
        if (!(fb->outputs & (1u << i))) continue;
        shape[0] = fb->height;
        shape[1] = fb->width;
        shape[2] = 3;
        if (i == DVREN__OUT_HIT) dt = DVREN_DTYPE_U8;
        if (i == DVREN__OUT_SAMPLES || i == DVREN__OUT_SURFACE_ID) dt = DVREN_DTYPE_U32;
        DVREN__CHECK(dvren_tensor_create(ctx, dt, i == DVREN__OUT_RGB ? 3u : 2u, shape, &fb->out[i]));
        DVREN__CHECK(ctx->be->mem_place(ctx, fb->out[i].data, dvren__tensor_bytes(&fb->out[i]), &fb->addr[i]));
    }
    *out = fb;
    return DVREN_OK;
cleanup:
    dvren_framebuffer_destroy(fb);
    return status;
}

DVREN_API dvren_status dvren_framebuffer_create(dvren_context* ctx, const dvren_plan* plan, dvren_framebuffer** out)
{
    return dvren_framebuffer_create_outputs(ctx, plan, 0, out);
}

/* Copies output i between its host tensor and where launches use it. */
static dvren_status dvren__fb_upload(dvren_framebuffer* fb, int i)
{
    dvren_context* ctx = fb->ctx;
    return ctx->be->mem_copy(ctx, fb->addr[i], ctx->be->memory, fb->out[i].data, DVREN_MEMORY_HOST,
                             dvren__tensor_bytes(&fb->out[i]));
}

DVREN_API dvren_status dvren_framebuffer_write(dvren_framebuffer* fb, uint32_t output, const dvren_tensor* src)
{
    int i = dvren__output_index(output);
    if (!fb || !src || !src->data)
        return dvren_set_error(fb ? fb->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL, "NULL argument");
    if (i < 0)
        return dvren_set_error(fb->ctx, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL,
                               "0x%x is not exactly one DVREN_OUTPUT_* bit", (unsigned)output);
    if (!fb->out[i].data)
        return dvren_set_error(fb->ctx, DVREN_ERROR_NOT_FOUND, "framebuffer", NULL, "the framebuffer has no '%s' output",
                               dvren_output_name(output));
    if (!dvren__reachable(fb->ctx, src) || src->dtype != fb->out[i].dtype || !dvren_tensor_is_contiguous(src) ||
        dvren_tensor_numel(src) != dvren_tensor_numel(&fb->out[i]))
        return dvren_set_error(fb->ctx, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL,
                               "writing '%s': need a contiguous %s %s tensor of %lld elements",
                               dvren_output_name(output), fb->ctx->be->memory == DVREN_MEMORY_HOST ? "host" : "host or device",
                               dvren_dtype_name(fb->out[i].dtype), (long long)dvren_tensor_numel(&fb->out[i]));
    if (src->memory != DVREN_MEMORY_HOST) { /* device to device; the host copy is now stale */
        fb->stale |= 1u << i;
        return fb->ctx->be->mem_copy(fb->ctx, fb->addr[i], fb->ctx->be->memory, src->data, src->memory,
                                     dvren__tensor_bytes(src));
    }
    memcpy(fb->out[i].data, src->data, dvren__tensor_bytes(src));
    fb->stale &= ~(1u << i);
    return dvren__fb_upload(fb, i);
}

DVREN_API void dvren_framebuffer_destroy(dvren_framebuffer* fb)
{
    int i;
    if (!fb) return;
    for (i = 0; i < DVREN__OUT_COUNT; ++i) {
        if (fb->addr[i]) fb->ctx->be->mem_unplace(fb->ctx, fb->out[i].data, fb->addr[i], dvren__tensor_bytes(&fb->out[i]));
        dvren_tensor_destroy(fb->ctx, &fb->out[i]);
    }
    dvren__free(fb->ctx, fb, sizeof *fb);
}

DVREN_API dvren_status dvren_framebuffer_output(const dvren_framebuffer* fb, uint32_t output, dvren_tensor* view)
{
    int i = dvren__output_index(output);
    if (view) memset(view, 0, sizeof *view); /* defined on every path */
    if (!fb || !view) return dvren_set_error(fb ? fb->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL, "NULL argument");
    if (i < 0)
        return dvren_set_error(fb->ctx, DVREN_ERROR_INVALID_ARGUMENT, "framebuffer", NULL,
                               "0x%x is not exactly one DVREN_OUTPUT_* bit", (unsigned)output);
    if (!fb->out[i].data)
        return dvren_set_error(fb->ctx, DVREN_ERROR_NOT_FOUND, "framebuffer", "add it to dvren_plan_desc.outputs",
                               "output '%s' was not selected by the plan", dvren_output_name(output));
    if (fb->stale & (1u << i)) {
        /* a launch left newer values where it wrote them: read them back once
         * (a no-op where that is the host tensor itself) */
        dvren_framebuffer* m = (dvren_framebuffer*)fb;
        dvren_status s = m->ctx->be->mem_copy(m->ctx, m->out[i].data, DVREN_MEMORY_HOST, m->addr[i], m->ctx->be->memory,
                                              dvren__tensor_bytes(&m->out[i]));
        if (s != DVREN_OK) return s;
        m->stale &= ~(1u << i);
    }
    *view = fb->out[i];
    view->flags &= ~DVREN_TENSOR_OWNS_DATA;
    return DVREN_OK;
}

/* The plan's march budget and early-termination threshold, resolved once
 * for the sampler (dvren_plan_desc: the plan owns both). The requests go
 * to the sampler as the plan gives them (0: none) with the default step
 * beside them, so a sampler written against ABI 1.1, which read "0" as
 * "your own settings", still does. Its describe()d min_transmittance, the
 * deprecated second owner of the threshold, counts only where the plan
 * leaves the threshold to the default; a library built against 1.1 also
 * keeps 1.1's meaning of 0 there (never). */
static void dvren__march_budget(const dvren_scene* sc, const dvren_plan_desc* d, dvren_march_args* A)
{
    const dvren_instance_info* fi = &sc->stage[0]->info;
    float described = sc->stage[2]->info.min_transmittance;
    int abi11 = (sc->stage[2]->rec->abi_version & 0xFFFFu) < 2u, i;
    A->budget.samples_per_ray = d->samples_per_ray;
    A->budget.voxel_world = fi->voxel_world;
    A->budget.step_world = d->step_world;
    A->budget.step_default = 0.5f * fi->voxel_world;
    for (i = 0; i < 3; ++i) {
        A->budget.bounds_min[i] = fi->bounds_min[i];
        A->budget.bounds_max[i] = fi->bounds_max[i];
        A->budget.voxel_size[i] = fi->voxel_size[i] > 0.0f ? fi->voxel_size[i] : fi->voxel_world;
    }
    if (d->min_transmittance > 0.0f) A->min_transmittance = d->min_transmittance;
    else if (d->min_transmittance < 0.0f) A->min_transmittance = 0.0f;
    else if (described > 0.0f) A->min_transmittance = described;
    else A->min_transmittance = abi11 ? 0.0f : DVREN_DEFAULT_MIN_TRANSMITTANCE;
}

/* "spp 4", or for a per-pixel budget "per-pixel spp (mean 7.88, 605421 rays)", for log lines. */
static void dvren__spp_text(const dvren_march_args* A, char* buf, size_t cap)
{
    if (A->spp_map && A->ray_start_host) {
        uint64_t n = (uint64_t)A->width * A->height, rays = A->ray_start_host[n];
        snprintf(buf, cap, "per-pixel spp (mean %.2f, %llu rays)", (double)rays / (double)n, (unsigned long long)rays);
    } else {
        snprintf(buf, cap, "spp %u", (unsigned)A->spp);
    }
}

/* Fills the plain-data arguments of the march template: the scene, the
 * plan (with its budget maps where launches read them), and the ray batch
 * staged where the backend reads it. */
static dvren_status dvren__march_args(dvren_scene* sc, const dvren_plan* plan, dvren_march_args* A)
{
    const dvren_plan_desc* d = &plan->desc;
    const dvren_instance_info* fi = &sc->stage[0]->info;
    const dvren_instance_info* si = &sc->stage[1]->info;
    int i;
    memset(A, 0, sizeof *A);
    /* live parameters changed since the blocks were bound (dvren_stage_update) */
    for (i = 0; i < 3; ++i)
        if (sc->generation[i] != sc->stage[i]->generation) {
            dvren_status s = dvren__bind(sc->stage[i], sc->stage[i]->addr, sc->block[i]);
            if (s != DVREN_OK) return s;
            sc->generation[i] = sc->stage[i]->generation;
        }
    A->field = sc->block[0];
    A->shader = sc->block[1];
    A->sampler = sc->block[2];
    memcpy(A->bmin, fi->bounds_min, sizeof A->bmin);
    memcpy(A->bmax, fi->bounds_max, sizeof A->bmax);
    A->channels = fi->channels;
    A->needs_gradient = si->needs_gradient;
    A->gradient_channel = si->gradient_channel;
    for (i = 0; i < 3; ++i) A->gradient_step[i] = fi->voxel_size[i] > 0.0f ? fi->voxel_size[i] : fi->voxel_world;
    A->lazy_features = dvren__lazy(sc, 32);
    A->density_channel = si->density_channel;
    dvren__march_budget(sc, d, A);
    A->camera = d->camera;
    A->width = d->width;
    A->height = d->height;
    A->roi_x = d->roi.x;
    A->roi_y = d->roi.y;
    A->roi_w = d->roi.w;
    A->roi_h = d->roi.h;
    A->spp = d->spp;
    A->seed_lo = (uint32_t)(d->seed & 0xFFFFFFFFu);
    A->seed_hi = (uint32_t)(d->seed >> 32);
    memcpy(A->background, d->background, sizeof A->background);
    A->grad_scale = 1.0f;
    A->spp_map = (const uint32_t*)plan->spp_addr;
    A->ray_start = (const uint32_t*)plan->ray_start_addr;
    A->step_map = (const float*)plan->step_addr;
    A->ray_start_host = (const uint32_t*)plan->ray_start.data;
    if (d->rays) {
        /* a host batch is staged at every call (the caller refills it) */
        const dvren_tensor* in[1];
        const void* at[1];
        dvren_status s;
        in[0] = d->rays;
        s = sc->ctx->be->mem_stage(sc->ctx, 1, in, at);
        if (s != DVREN_OK) return s;
        A->rays = (const float*)at[0];
    }
    return DVREN_OK;
}

/* The framebuffer's outputs as the march writes (or, for cotangents,
 * reads) them: only those in `outputs` and present. */
static dvren_fb_view dvren__fb_view(const dvren_framebuffer* fb, uint32_t outputs)
{
    dvren_fb_view v;
    memset(&v, 0, sizeof v);
    v.width = fb->width;
    v.height = fb->height;
    outputs &= fb->outputs;
    if (outputs & DVREN_OUTPUT_RGB) v.rgb = (float*)fb->addr[DVREN__OUT_RGB];
    if (outputs & DVREN_OUTPUT_ALPHA) v.alpha = (float*)fb->addr[DVREN__OUT_ALPHA];
    if (outputs & DVREN_OUTPUT_DEPTH) v.depth = (float*)fb->addr[DVREN__OUT_DEPTH];
    if (outputs & DVREN_OUTPUT_TRANSMITTANCE) v.transmittance = (float*)fb->addr[DVREN__OUT_TRANSMITTANCE];
    if (outputs & DVREN_OUTPUT_HIT) v.hit = (uint8_t*)fb->addr[DVREN__OUT_HIT];
    if (outputs & DVREN_OUTPUT_SAMPLES) v.samples = (uint32_t*)fb->addr[DVREN__OUT_SAMPLES];
    if (outputs & DVREN_OUTPUT_VARIANCE) v.variance = (float*)fb->addr[DVREN__OUT_VARIANCE];
    if (outputs & DVREN_OUTPUT_SURFACE_ID) v.surface_id = (uint32_t*)fb->addr[DVREN__OUT_SURFACE_ID];
    if (outputs & DVREN_OUTPUT_MEDIAN_DEPTH) v.median_depth = (float*)fb->addr[DVREN__OUT_MEDIAN_DEPTH];
    return v;
}

DVREN_API dvren_status dvren_render(dvren_scene* sc, const dvren_plan* plan, dvren_framebuffer* fb,
                                    const dvren_render_options* options)
{
    dvren_context* ctx;
    dvren_march_args A;
    dvren_render_options opt;
    const dvren_plan_desc* d;
    dvren_status s;
    if (!sc || !plan || !fb) return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "render", NULL, "NULL argument");
    ctx = sc->ctx;
    d = &plan->desc;
    memset(&opt, 0, sizeof opt);
    if (options) opt = *options;
    if (fb->ctx != ctx || plan->ctx != ctx)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "render", NULL,
                               "the plan or framebuffer was made by another context");
    if (fb->width != d->width || fb->height != d->height || (fb->outputs & d->outputs) != d->outputs)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "render", "create the framebuffer from this plan",
                               "framebuffer (%u x %u, outputs 0x%x) does not fit the plan (%u x %u, outputs 0x%x)",
                               (unsigned)fb->width, (unsigned)fb->height, (unsigned)fb->outputs, (unsigned)d->width,
                               (unsigned)d->height, (unsigned)d->outputs);
    if (opt.threads > 1024)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "render", NULL, "threads = %u > 1024",
                               (unsigned)opt.threads);
    s = dvren__march_args(sc, plan, &A);
    if (s != DVREN_OK) return s;
    A.fb = dvren__fb_view(fb, d->outputs); /* only the outputs this plan selects are written */
    s = ctx->be->launch_march(sc, &A, 0, opt.threads, opt.progress, opt.progress_user);
    if (s == DVREN_OK) fb->stale |= d->outputs;
    return s;
}

/* ======================================================================== */
/* >>autodiff (implementation)                                              */
/* ======================================================================== */

DVREN_API uint32_t dvren_scene_param_count(const dvren_scene* sc) { return sc ? sc->nparams : 0u; }

DVREN_API dvren_status dvren_scene_param_get(const dvren_scene* sc, uint32_t i, dvren_scene_param* out)
{
    if (!sc || !out) return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "NULL argument");
    if (i >= sc->nparams)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "parameter %u of %u",
                               (unsigned)i, (unsigned)sc->nparams);
    *out = sc->param[i].pub;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_scene_param_find(const dvren_scene* sc, const char* name, uint32_t* index)
{
    char list[512];
    size_t n = 0;
    uint32_t i;
    if (!sc || !name || !index)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "NULL argument");
    list[0] = 0;
    for (i = 0; i < sc->nparams; ++i) {
        if (strcmp(sc->param[i].name, name) == 0) {
            *index = i;
            return DVREN_OK;
        }
        if (n < sizeof list) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", sc->param[i].name);
            if (w > 0) n += (size_t)w;
        }
    }
    return dvren_set_error(sc->ctx, DVREN_ERROR_NOT_FOUND, "autodiff", NULL, "no parameter '%s' (the scene has: %s)", name,
                           sc->nparams ? list : "none; create it with DVREN_SCENE_DIFFERENTIABLE");
}

DVREN_API dvren_status dvren_scene_param_set_trainable(dvren_scene* sc, uint32_t i, int trainable)
{
    if (!sc || i >= sc->nparams)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "no parameter %u",
                               (unsigned)i);
    sc->param[i].trainable = trainable != 0;
    return DVREN_OK;
}

/* Copies bytes between host memory and the backend's. */
static dvren_status dvren__copy(dvren_context* ctx, void* dst, dvren_memory dm, const void* src, dvren_memory sm, size_t n)
{
    return ctx->be->mem_copy(ctx, dst, dm, src, sm, n);
}

static dvren_status dvren__param_host_check(dvren_scene* sc, uint32_t i, const dvren_tensor* t, const char* what)
{
    if (!sc || !t) return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "NULL argument");
    if (i >= sc->nparams)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "parameter %u of %u",
                               (unsigned)i, (unsigned)sc->nparams);
    if (!t->data || t->memory != DVREN_MEMORY_HOST || t->dtype != DVREN_DTYPE_F32 || !dvren_tensor_is_contiguous(t) ||
        (uint64_t)dvren_tensor_numel(t) != sc->param[i].pub.numel)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL,
                               "%s '%s': need a contiguous host float32 tensor of %llu elements", what,
                               sc->param[i].name, (unsigned long long)sc->param[i].pub.numel);
    return DVREN_OK;
}

DVREN_API dvren_status dvren_scene_param_read(dvren_scene* sc, uint32_t i, uint32_t which, dvren_tensor* dst)
{
    const dvren_tensor* from;
    dvren_status s = dvren__param_host_check(sc, i, dst, "reading");
    if (s != DVREN_OK) return s;
    if (which != DVREN_PARAM_VALUE && which != DVREN_PARAM_GRAD)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "which = %u", (unsigned)which);
    from = which == DVREN_PARAM_VALUE ? &sc->param[i].pub.value : &sc->param[i].pub.grad;
    return dvren__copy(sc->ctx, dst->data, DVREN_MEMORY_HOST, from->data, from->memory,
                       (size_t)sc->param[i].pub.numel * sizeof(float));
}

DVREN_API dvren_status dvren_scene_param_write(dvren_scene* sc, uint32_t i, const dvren_tensor* src)
{
    dvren_status s = dvren__param_host_check(sc, i, src, "writing");
    if (s != DVREN_OK) return s;
    return dvren__copy(sc->ctx, sc->param[i].pub.value.data, sc->param[i].pub.value.memory, src->data,
                       DVREN_MEMORY_HOST, (size_t)sc->param[i].pub.numel * sizeof(float));
}

DVREN_API dvren_status dvren_scene_zero_grad(dvren_scene* sc)
{
    uint32_t i;
    if (!sc) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "autodiff", NULL, "NULL scene");
    for (i = 0; i < sc->nparams; ++i) {
        dvren_status s = sc->ctx->be->mem_zero(sc->ctx, sc->param[i].pub.grad.data,
                                               (size_t)sc->param[i].pub.numel * sizeof(float));
        if (s != DVREN_OK) return s;
    }
    return DVREN_OK;
}

/* Stores, in each stage's block, where the gradient of each of its buffers
 * goes: the parameter's gradient (mode DVREN_GRAD_F32), its fixed-point
 * accumulator (FIXED) or the caller's float64 arrays (F64, g64 indexed by
 * parameter); NULL for frozen parameters and other buffers. blocks: the
 * three blocks to write. */
static dvren_status dvren__bind_grads(dvren_scene* sc, void* const* blocks, uint32_t mode, double* const* g64)
{
    uint32_t k, i;
    for (k = 0; k < 3; ++k) {
        dvren_stage* st = sc->stage[k];
        dvren_grad_ref refs[DVREN_MAX_BUFFERS];
        dvren_status s;
        if (!st->rec->inst.bind_gradients) continue;
        memset(refs, 0, sizeof refs);
        for (i = 0; i < sc->nparams; ++i) {
            dvren__param* P = &sc->param[i];
            if (P->pub.slot != k || !P->trainable) continue;
            refs[P->pub.buffer].mode = mode;
            if (mode == DVREN_GRAD_F64) refs[P->pub.buffer].ptr = g64[i];
            else if (mode == DVREN_GRAD_FIXED) refs[P->pub.buffer].ptr = P->fixed;
            else refs[P->pub.buffer].ptr = P->pub.grad.data;
        }
        sc->ctx->last_error[0] = 0;
        s = st->rec->inst.bind_gradients(&st->rec->host, st->instance, refs, blocks[k]);
        if (s != DVREN_OK) {
            if (!sc->ctx->last_error[0])
                dvren_set_error(sc->ctx, s, st->rec->desc->name, NULL, "bind_gradients() failed");
            return s;
        }
    }
    return DVREN_OK;
}

/* 1 when the backward pass may skip samples with sigma == 0: the shader
 * says its density is flat there and none of its own buffers is trained. */
static uint32_t dvren__skip_empty(const dvren_scene* sc)
{
    uint32_t i;
    if (!sc->stage[1]->info.flat_empty_density) return 0;
    for (i = 0; i < sc->nparams; ++i)
        if (sc->param[i].pub.slot == 1 && sc->param[i].trainable) return 0;
    return 1;
}

/* Power of two that brings the largest cotangent of g to [0.5, 1)
 * (deterministic mode); 0 when all are zero; error when one is not finite. */
static dvren_status dvren__cotangent_scale(dvren_context* ctx, const dvren_framebuffer* g, float* scale)
{
    static const int outs[4] = {DVREN__OUT_RGB, DVREN__OUT_ALPHA, DVREN__OUT_DEPTH, DVREN__OUT_TRANSMITTANCE};
    const float* a[4];
    uint64_t n[4];
    uint32_t count = 0, k;
    float m = 0.0f;
    int e;
    dvren_status s;
    for (k = 0; k < 4; ++k) {
        if (!g->out[outs[k]].data) continue;
        a[count] = (const float*)g->addr[outs[k]];
        n[count++] = (uint64_t)dvren_tensor_numel(&g->out[outs[k]]);
    }
    s = count ? ctx->be->launch_absmax(ctx, count, a, n, &m) : DVREN_OK;
    if (s != DVREN_OK) return s;
    if (!(m <= 3.0e38f))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", "check the loss for inf or NaN",
                               "the cotangents hold a non-finite value");
    if (m == 0.0f) {
        *scale = 0.0f;
        return DVREN_OK;
    }
    frexp((double)m, &e);
    *scale = (float)ldexp(1.0, -e);
    return DVREN_OK;
}

DVREN_API dvren_status dvren_render_backward(dvren_scene* sc, const dvren_plan* plan, const dvren_framebuffer* g,
                                             const dvren_backward_options* options)
{
    dvren_context* ctx;
    dvren_backward_options opt;
    const dvren_plan_desc* d;
    dvren_march_args A;
    dvren_status s = DVREN_OK;
    uint32_t det, i;
    float scale = 1.0f;
    if (!sc || !plan || !g)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "backward", NULL, "NULL argument");
    ctx = sc->ctx;
    d = &plan->desc;
    memset(&opt, 0, sizeof opt);
    if (options) opt = *options;
    if (!(sc->flags & DVREN_SCENE_DIFFERENTIABLE))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", "set DVREN_SCENE_DIFFERENTIABLE in dvren_scene_desc.flags",
                               "the scene was not created differentiable");
    if (plan->spp_map.data || plan->step_map.data)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "backward", "train with a plan without spp_map and step_map",
                               "the plan has a per-pixel budget, which renders forward only");
    if (g->width != d->width || g->height != d->height)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", "create it with dvren_framebuffer_create_outputs(plan)",
                               "cotangent framebuffer is %u x %u, the plan %u x %u", (unsigned)g->width,
                               (unsigned)g->height, (unsigned)d->width, (unsigned)d->height);
    if (opt.flags & ~DVREN_BACKWARD_DETERMINISTIC)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", NULL, "unknown flags 0x%x",
                               (unsigned)opt.flags);
    if (opt.threads > 1024)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", NULL, "threads = %u > 1024",
                               (unsigned)opt.threads);
    if (opt.forward && (opt.forward->ctx != ctx || opt.forward->width != d->width || opt.forward->height != d->height))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", "pass the framebuffer dvren_render filled",
                               "options.forward is %u x %u%s, the plan %u x %u", (unsigned)opt.forward->width,
                               (unsigned)opt.forward->height, opt.forward->ctx != ctx ? " of another context" : "",
                               (unsigned)d->width, (unsigned)d->height);
    if (g->ctx != ctx || plan->ctx != ctx)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward", NULL,
                               "the plan or cotangent framebuffer was made by another context");
    det = (opt.flags & DVREN_BACKWARD_DETERMINISTIC) != 0;
    if (det) {
        s = dvren__cotangent_scale(ctx, g, &scale);
        if (s != DVREN_OK || scale == 0.0f) return s;
        for (i = 0; i < sc->nparams; ++i) {
            dvren__param* P = &sc->param[i];
            if (!P->trainable || P->fixed) continue;
            s = ctx->be->mem_alloc(ctx, (size_t)P->pub.numel * sizeof(int64_t), (void**)&P->fixed);
            if (s != DVREN_OK) return s;
        }
    }
    s = dvren__march_args(sc, plan, &A); /* first: it binds the blocks again after a dvren_stage_update */
    if (s != DVREN_OK) return s;
    /* the backward blocks: the forward's, plus where the gradients go */
    for (i = 0; i < 3; ++i) memcpy(sc->bblock[i], sc->block[i], sc->block_size[i]);
    s = dvren__bind_grads(sc, sc->bblock, det ? DVREN_GRAD_FIXED : DVREN_GRAD_F32, NULL);
    if (s != DVREN_OK) return s;
    A.field = sc->bblock[0];
    A.shader = sc->bblock[1];
    A.sampler = sc->bblock[2];
    A.grad_scale = scale;
    A.skip_empty = dvren__skip_empty(sc);
    A.grad = dvren__fb_view(g, DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_TRANSMITTANCE);
    if (opt.forward && d->spp == 1 && opt.forward->out[DVREN__OUT_RGB].data &&
        opt.forward->out[DVREN__OUT_TRANSMITTANCE].data) {
        A.fwd_rgb = (const float*)opt.forward->addr[DVREN__OUT_RGB];
        A.fwd_transmittance = (const float*)opt.forward->addr[DVREN__OUT_TRANSMITTANCE];
    }
    s = ctx->be->launch_march(sc, &A, 1, opt.threads, opt.progress, opt.progress_user);
    if (det) {
        /* the exact integer sums back to float32 */
        double unit = 1.0 / (DVREN_GRAD_FIXED_SCALE * (double)scale);
        for (i = 0; i < sc->nparams && s == DVREN_OK; ++i) {
            dvren__param* P = &sc->param[i];
            if (P->trainable) s = ctx->be->launch_fixed_finalize(ctx, P->fixed, (float*)P->pub.grad.data, P->pub.numel, unit);
        }
    }
    return s;
}

/* The stages' parameter blocks bound to their host buffers, for host code
 * running the plugins' CPU functions whatever the context's device (the
 * float64 path, dvren_scene_sample_grid, dvren_mesh_shade): the values the
 * renderer reads are copied into those buffers first (a no-op where they
 * are the host buffers). dvren__host_blocks_free releases block[]. */
static void dvren__host_blocks_free(dvren_scene* sc, void** block)
{
    uint32_t k;
    for (k = 0; k < 3; ++k)
        if (block[k]) dvren__free(sc->ctx, block[k], sc->stage[k]->info.block_size);
    memset(block, 0, 3 * sizeof *block);
}

static dvren_status dvren__host_blocks(dvren_scene* sc, const char* module, void** block)
{
    dvren_context* ctx = sc->ctx;
    dvren_status status = DVREN_OK;
    uint32_t i, k;
    memset(block, 0, 3 * sizeof *block);
    for (i = 0; i < sc->nparams; ++i) {
        dvren__param* P = &sc->param[i];
        float* host = (float*)dvren__buffer_at(&P->pub.stage->info, P->pub.buffer)->tensor.data;
        int64_t n = (int64_t)P->pub.numel;
        dvren_tensor t;
        if (host == P->pub.value.data) continue;
        DVREN__CHECK(dvren_tensor_wrap(host, DVREN_DTYPE_F32, 1, &n, NULL, &t));
        DVREN__CHECK(dvren_scene_param_read(sc, i, DVREN_PARAM_VALUE, &t));
    }
    for (k = 0; k < 3; ++k) {
        block[k] = dvren__calloc(ctx, sc->stage[k]->info.block_size);
        if (!block[k]) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, module, NULL, "out of memory");
        DVREN__CHECK(dvren__bind(sc->stage[k], NULL, block[k]));
    }
cleanup:
    if (status != DVREN_OK) dvren__host_blocks_free(sc, block);
    return status;
}

#if !defined(DVREN_NO_GRADCHECK)

/* Uniform double in [0, 1) from the counter-based RNG: element k of stream s. */
static double dvren__gc_uniform(uint64_t seed, uint32_t s, uint32_t k)
{
    dvren_rng r = dvren_rng_make((uint32_t)seed, (uint32_t)(seed >> 32), k, 0x6C7Bu, s);
    uint32_t a = dvren_rng_u32(&r), b = dvren_rng_u32(&r);
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * (1.0 / 9007199254740992.0);
}

/* ---- the float64 reference path ------------------------------------------------------- */

typedef struct dvren__f64 {
    dvren_scene* sc;
    dvren_march_args A;  /* the float64 march over the plan, on the host, with the blocks below */
    void* block[3];      /* the stages' blocks bound to their host buffers */
} dvren__f64;

static void dvren__f64_end(dvren__f64* F)
{
    dvren__host_blocks_free(F->sc, F->block);
}

/* Prepares the float64 march of the plan pd over sc: checks the plugins'
 * float64 functions (backward ones too when g64 is given) and the rays,
 * copies the values the renderer reads into the stages' host buffers (a
 * no-op where those are the host buffers), binds blocks to those buffers
 * with the gradients going to g64 (indexed by parameter; NULL: forward). */
static dvren_status dvren__f64_begin(dvren_scene* sc, const dvren_plan* plan, double* const* g64, const char* module,
                                     dvren__f64* F)
{
    const dvren_plan_desc* pd = &plan->desc;
    dvren_context* ctx = sc->ctx;
    const dvren__cpu_stages_64* c = &sc->cpu64;
    const char* missing = NULL;
    dvren_status status = DVREN_OK;
    memset(F, 0, sizeof *F);
    F->sc = sc;
    if (!c->field_eval || (g64 && !c->field_eval_bwd)) missing = sc->stage[0]->rec->desc->name;
    else if (!c->density || !c->color || (g64 && (!c->density_bwd || !c->color_bwd))) missing = sc->stage[1]->rec->desc->name;
    else if (!c->begin || !c->next) missing = sc->stage[2]->rec->desc->name;
    /* surfaces (ABI 1.3): a float64 path without them would render another image */
    else if (sc->cpu.surface && !c->surface) missing = sc->stage[2]->rec->desc->name;
    else if (sc->cpu.surface_color && (!c->surface_color || (g64 && !c->surface_color_bwd)))
        missing = sc->stage[1]->rec->desc->name;
    if (g64 && (plan->spp_map.data || plan->step_map.data))
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, module, "use a plan without spp_map and step_map",
                               "the plan has a per-pixel budget, which renders forward only");
    if (missing)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, module, "compile its per-sample code in float64 too (docs/plugins.md, Precision)",
                               "plugin '%s' has no float64 functions", missing);
    if (pd->rays && pd->rays->memory != DVREN_MEMORY_HOST)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, module, "give the plan a host rays tensor",
                               "the plan's rays must be in host memory");
    DVREN__CHECK(dvren__host_blocks(sc, module, F->block));
    if (g64) DVREN__CHECK(dvren__bind_grads(sc, F->block, DVREN_GRAD_F64, g64));
    DVREN__CHECK(dvren__march_args(sc, plan, &F->A));
    /* this march runs on the host */
    F->A.rays = pd->rays ? (const float*)pd->rays->data : NULL;
    F->A.spp_map = (const uint32_t*)plan->spp_map.data;
    F->A.step_map = (const float*)plan->step_map.data;
    F->A.ray_start = (const uint32_t*)plan->ray_start.data;
    F->A.field = F->block[0];
    F->A.shader = F->block[1];
    F->A.sampler = F->block[2];
    F->A.lazy_features = dvren__lazy(sc, 64);
    F->A.skip_empty = dvren__skip_empty(sc);
cleanup:
    if (status != DVREN_OK) dvren__f64_end(F);
    return status;
}

DVREN_API dvren_status dvren_render_f64(dvren_scene* sc, const dvren_plan* plan, const dvren_image_f64* out)
{
    dvren__f64 F;
    dvren_status s;
    uint32_t x, y;
    const dvren_plan_desc* pd;
    if (!sc || !plan || !out)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "render_f64", NULL, "NULL argument");
    if (plan->ctx != sc->ctx)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "render_f64", NULL, "the plan was made by another context");
    pd = &plan->desc;
    s = dvren__f64_begin(sc, plan, NULL, "render_f64", &F);
    if (s != DVREN_OK) return s;
    for (y = pd->roi.y; y < pd->roi.y + pd->roi.h; ++y)
        for (x = pd->roi.x; x < pd->roi.x + pd->roi.w; ++x) {
            double o[7];
            dvren__pixel_sum_64 P;
            uint32_t pix = y * pd->width + x;
            dvren__pixel_mean_64(&P, dvren__shade_pixel_64(&sc->cpu64, &F.A, x, y, &P), o);
            if (out->rgb) memcpy(out->rgb + 3 * (size_t)pix, o, 3 * sizeof(double));
            if (out->alpha) out->alpha[pix] = o[3];
            if (out->depth) out->depth[pix] = o[4];
            if (out->transmittance) out->transmittance[pix] = o[5];
        }
    dvren__f64_end(&F);
    return DVREN_OK;
}

/* The float64 march's backward over the roi of F's plan, with the float32
 * cotangents in g (host arrays of the plan's size; NULL members zero). */
static void dvren__f64_backward(dvren__f64* F, const dvren_fb_view* g)
{
    uint32_t x, y;
    F->A.grad = *g;
    F->A.grad.width = F->A.width;
    F->A.grad.height = F->A.height;
    for (y = F->A.roi_y; y < F->A.roi_y + F->A.roi_h; ++y)
        for (x = F->A.roi_x; x < F->A.roi_x + F->A.roi_w; ++x) dvren__backward_pixel_64(&F->sc->cpu64, &F->A, x, y);
}

DVREN_API dvren_status dvren_render_backward_f64(dvren_scene* sc, const dvren_plan* plan, const dvren_image_f64* cot,
                                                 double* const* grads)
{
    dvren_context* ctx;
    dvren_status status = DVREN_OK;
    dvren__f64 F;
    dvren_fb_view g;
    const double* src[4];
    float* dst[4] = {NULL, NULL, NULL, NULL};
    size_t n[4], npix;
    uint32_t k;
    memset(&F, 0, sizeof F);
    if (!sc || !plan || !cot || !grads)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "backward_f64", NULL, "NULL argument");
    ctx = sc->ctx;
    if (!(sc->flags & DVREN_SCENE_DIFFERENTIABLE))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward_f64", "set DVREN_SCENE_DIFFERENTIABLE",
                               "the scene was not created differentiable");
    if (plan->ctx != ctx)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "backward_f64", NULL, "the plan was made by another context");
    npix = (size_t)plan->desc.width * plan->desc.height;
    src[0] = cot->rgb;
    src[1] = cot->alpha;
    src[2] = cot->depth;
    src[3] = cot->transmittance;
    for (k = 0; k < 4; ++k) {
        size_t j;
        n[k] = k == 0 ? 3 * npix : npix;
        if (!src[k]) continue;
        dst[k] = (float*)dvren__alloc(ctx, n[k] * sizeof(float));
        if (!dst[k]) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "backward_f64", NULL, "out of memory");
        for (j = 0; j < n[k]; ++j) dst[k][j] = (float)src[k][j];
    }
    memset(&g, 0, sizeof g);
    g.rgb = dst[0];
    g.alpha = dst[1];
    g.depth = dst[2];
    g.transmittance = dst[3];
    DVREN__CHECK(dvren__f64_begin(sc, plan, grads, "backward_f64", &F));
    dvren__f64_backward(&F, &g);
cleanup:
    dvren__f64_end(&F);
    for (k = 0; k < 4; ++k) dvren__free(ctx, dst[k], n[k] * sizeof(float));
    return status;
}

/* ---- gradient check ------------------------------------------------------------------- */

typedef struct dvren__gc {
    dvren__f64 F;         /* the float64 march over the plan, gradients into the checker's arrays */
    const float* cot[4];  /* host cotangents: rgb, alpha, depth, transmittance */
} dvren__gc;

/* J = sum over the roi of cotangent . outputs, in float64. */
static double dvren__gc_objective(const dvren__gc* G)
{
    const dvren_march_args* A = &G->F.A;
    double J = 0.0;
    uint32_t x, y;
    for (y = A->roi_y; y < A->roi_y + A->roi_h; ++y)
        for (x = A->roi_x; x < A->roi_x + A->roi_w; ++x) {
            double o[7];
            dvren__pixel_sum_64 P;
            uint32_t pix = y * A->width + x;
            dvren__pixel_mean_64(&P, dvren__shade_pixel_64(&G->F.sc->cpu64, A, x, y, &P), o);
            if (G->cot[0])
                J += (double)G->cot[0][3 * pix] * o[0] + (double)G->cot[0][3 * pix + 1] * o[1] +
                     (double)G->cot[0][3 * pix + 2] * o[2];
            if (G->cot[1]) J += (double)G->cot[1][pix] * o[3];
            if (G->cot[2]) J += (double)G->cot[2][pix] * o[4];
            if (G->cot[3]) J += (double)G->cot[3][pix] * o[5];
        }
    return J;
}

DVREN_API dvren_status dvren_gradcheck(dvren_scene* sc, const dvren_plan* plan, const dvren_gradcheck_desc* desc,
                                       dvren_gradcheck_result* res)
{
    dvren_context* ctx;
    dvren_status status = DVREN_OK;
    dvren_gradcheck_desc D;
    dvren__gc G;
    dvren_framebuffer* gfb = NULL;
    double* g64[DVREN__MAX_PARAMS];
    float* g32[DVREN__MAX_PARAMS];
    uint32_t* pick = NULL;
    size_t pick_size = 0;
    const dvren_plan_desc* pd;
    double J0, num = 0.0, den = 0.0;
    uint32_t i, k, npix;
    if (!sc || !plan || !res)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "gradcheck", NULL, "NULL argument");
    ctx = sc->ctx;
    memset(res, 0, sizeof *res);
    memset(&G, 0, sizeof G);
    memset(g64, 0, sizeof g64);
    memset(g32, 0, sizeof g32);
    D.seed = 0;
    D.elements = 0;
    D.outputs = 0;
    D.flags = 0;
    if (desc) D = *desc;
    if (D.elements == 0) D.elements = 24;
    if (D.outputs == 0) D.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;
    if (D.outputs & ~(DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH | DVREN_OUTPUT_TRANSMITTANCE))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "gradcheck", NULL,
                               "outputs 0x%x: only rgb, alpha, depth and transmittance carry gradients", (unsigned)D.outputs);
    if (!(sc->flags & DVREN_SCENE_DIFFERENTIABLE))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "gradcheck", "set DVREN_SCENE_DIFFERENTIABLE",
                               "the scene was not created differentiable");
    pd = &plan->desc;
    npix = pd->width * pd->height;

    /* random cotangents on the roi, zero elsewhere */
    DVREN__CHECK(dvren_framebuffer_create_outputs(ctx, plan, D.outputs, &gfb));
    for (k = 0; k < 4; ++k) {
        dvren_tensor* t = &gfb->out[k];
        uint32_t x, y, c, nc = k == 0 ? 3u : 1u;
        if (!t->data) continue;
        for (y = pd->roi.y; y < pd->roi.y + pd->roi.h; ++y)
            for (x = pd->roi.x; x < pd->roi.x + pd->roi.w; ++x)
                for (c = 0; c < nc; ++c) {
                    uint32_t e = (y * pd->width + x) * nc + c;
                    ((float*)t->data)[e] = (float)(2.0 * dvren__gc_uniform(D.seed, 1u + k, e) - 1.0);
                }
        G.cot[k] = (const float*)t->data;
        DVREN__CHECK(dvren__fb_upload(gfb, (int)k));
    }
    (void)npix;

    /* the renderer's own backward (float32, on the scene's device) */
    {
        dvren_backward_options bo;
        memset(&bo, 0, sizeof bo);
        bo.flags = D.flags;
        DVREN__CHECK(dvren_scene_zero_grad(sc));
        DVREN__CHECK(dvren_render_backward(sc, plan, gfb, &bo));
    }
    for (i = 0; i < sc->nparams; ++i) {
        dvren__param* P = &sc->param[i];
        dvren_tensor t;
        int64_t n = (int64_t)P->pub.numel;
        g32[i] = (float*)dvren__alloc(ctx, (size_t)n * sizeof(float) + 1);
        g64[i] = (double*)dvren__calloc(ctx, (size_t)n * sizeof(double) + 1);
        if (!g32[i] || !g64[i]) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "gradcheck", NULL, "out of memory");
        DVREN__CHECK(dvren_tensor_wrap(g32[i], DVREN_DTYPE_F32, 1, &n, NULL, &t));
        DVREN__CHECK(dvren_scene_param_read(sc, i, DVREN_PARAM_GRAD, &t));
    }

    /* the float64 analytic gradient, on the host buffers */
    DVREN__CHECK(dvren__f64_begin(sc, plan, g64, "gradcheck", &G.F));
    {
        dvren_fb_view g;
        memset(&g, 0, sizeof g);
        g.rgb = (float*)gfb->out[DVREN__OUT_RGB].data; /* the host copies */
        g.alpha = (float*)gfb->out[DVREN__OUT_ALPHA].data;
        g.depth = (float*)gfb->out[DVREN__OUT_DEPTH].data;
        g.transmittance = (float*)gfb->out[DVREN__OUT_TRANSMITTANCE].data;
        dvren__f64_backward(&G.F, &g);
    }
    for (i = 0; i < sc->nparams; ++i) {
        uint64_t j;
        if (!sc->param[i].trainable) continue;
        for (j = 0; j < sc->param[i].pub.numel; ++j) {
            double a = g64[i][j], b = (double)g32[i][j];
            num += (a - b) * (a - b);
            den += a * a;
        }
    }
    res->grad_norm = sqrt(den);
    res->f32_error = den > 0.0 ? sqrt(num / den) : (num > 0.0 ? 1.0 : 0.0);

    /* central finite differences of J in float64 */
    J0 = dvren__gc_objective(&G);
    for (i = 0; i < sc->nparams; ++i) {
        dvren__param* P = &sc->param[i];
        float* val = (float*)dvren__buffer_at(&P->pub.stage->info, P->pub.buffer)->tensor.data;
        uint64_t n = P->pub.numel, j;
        uint32_t want = D.elements < n ? D.elements : (uint32_t)n, got = 0, e;
        double gmax = 0.0;
        if (!P->trainable || n == 0) continue;
        for (j = 0; j < n; ++j)
            if (fabs(g64[i][j]) > gmax) gmax = fabs(g64[i][j]);
        dvren__free(ctx, pick, pick_size);
        pick_size = (size_t)want * sizeof(uint32_t) + 4;
        pick = (uint32_t*)dvren__alloc(ctx, pick_size);
        if (!pick) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "gradcheck", NULL, "out of memory");
        /* half: the largest gradients (a simple repeated scan: `want` is small) */
        while (got < want / 2) {
            double best = -1.0;
            uint32_t bi = 0, q;
            for (j = 0; j < n; ++j) {
                int taken = 0;
                if (fabs(g64[i][j]) <= best) continue;
                for (q = 0; q < got; ++q) taken |= pick[q] == (uint32_t)j;
                if (!taken) {
                    best = fabs(g64[i][j]);
                    bi = (uint32_t)j;
                }
            }
            if (best <= 0.0) break;
            pick[got++] = bi;
        }
        /* the rest: uniformly random elements */
        for (e = 0; got < want; ++e) {
            uint32_t r = (uint32_t)(dvren__gc_uniform(D.seed, 100u + i, e) * (double)n), q;
            int taken = 0;
            if (r >= n) r = (uint32_t)(n - 1);
            for (q = 0; q < got; ++q) taken |= pick[q] == r;
            if (!taken || e > 64u * want) pick[got++] = r;
        }
        for (e = 0; e < got; ++e) {
            uint32_t j2 = pick[e];
            float x0 = val[j2], xp, xm;
            double h, Jp, Jm, left, right, central, err, a = g64[i][j2];
            int ex;
            frexp(fabs((double)x0) > 1.0 ? (double)x0 : 1.0, &ex);
            h = ldexp(1.0, ex - 21); /* 8 units in the last place of x0 (or of 1): x0 +- h is exact */
            xp = (float)((double)x0 + h);
            xm = (float)((double)x0 - h);
            val[j2] = xp;
            Jp = dvren__gc_objective(&G);
            val[j2] = xm;
            Jm = dvren__gc_objective(&G);
            val[j2] = x0;
            left = (J0 - Jm) / ((double)x0 - (double)xm);
            right = (Jp - J0) / ((double)xp - (double)x0);
            central = (Jp - Jm) / ((double)xp - (double)xm);
            if (fabs(right - left) > 1e-4 * (fabs(right) > fabs(left) ? fabs(right) : fabs(left)) + 1e-7 * gmax) {
                res->skipped++; /* a kink within the step: the derivative is one-sided there */
                continue;
            }
            err = fabs(a - central) / (fabs(central) > 1e-3 * gmax ? fabs(central) : (gmax > 0.0 ? 1e-3 * gmax : 1.0));
            res->checked++;
            if (res->checked == 1 || err > res->fd_error) {
                res->fd_error = err;
                snprintf(res->worst, sizeof res->worst, "%s[%u]", P->name, (unsigned)j2);
            }
        }
    }
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP,
              "gradcheck: %u elements checked, %u skipped at kinks; fd error %.3g (worst %s); float32 vs float64 %.3g",
              (unsigned)res->checked, (unsigned)res->skipped, res->fd_error, res->worst, res->f32_error);
cleanup:
    dvren__f64_end(&G.F);
    for (i = 0; i < sc->nparams; ++i) {
        dvren__free(ctx, g32[i], (size_t)sc->param[i].pub.numel * sizeof(float) + 1);
        dvren__free(ctx, g64[i], (size_t)sc->param[i].pub.numel * sizeof(double) + 1);
    }
    dvren__free(ctx, pick, pick_size);
    dvren_framebuffer_destroy(gfb);
    return status;
}
#endif /* DVREN_NO_GRADCHECK */

/* ======================================================================== */
/* >>train (implementation)                                                 */
/* ======================================================================== */

/* ---- losses -------------------------------------------------------------- */

static dvren_status dvren__loss_check(dvren_context* ctx, const dvren_loss_desc* L, const dvren_framebuffer* pred,
                                      const dvren_framebuffer* grad)
{
    uint64_t n;
    if (!ctx || !L || !pred || !grad)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL, "NULL argument");
    n = (uint64_t)pred->width * pred->height;
    if ((uint32_t)L->kind > DVREN_LOSS_HUBER)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL, "unknown loss kind %d", (int)L->kind);
    if (!(L->huber_delta >= 0.0f) || !(L->weight >= 0.0f) || !(L->alpha_weight >= 0.0f) || !isfinite(L->weight))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL,
                               "huber_delta, weight and alpha_weight must be finite and >= 0");
    if (!pred->out[0].data || !grad->out[0].data)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", "select DVREN_OUTPUT_RGB",
                               "the prediction and the cotangent framebuffer need an rgb output");
    if (grad->width != pred->width || grad->height != pred->height)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL, "framebuffers of different sizes");
    if (!L->target_rgb || !L->target_rgb->data || L->target_rgb->dtype != DVREN_DTYPE_F32 ||
        !dvren_tensor_is_contiguous(L->target_rgb) || (uint64_t)dvren_tensor_numel(L->target_rgb) != 3 * n)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL,
                               "target_rgb must be a contiguous float32 tensor of %llu x 3 elements", (unsigned long long)n);
    if (L->target_alpha) {
        if (!L->target_alpha->data || L->target_alpha->dtype != DVREN_DTYPE_F32 ||
            !dvren_tensor_is_contiguous(L->target_alpha) || (uint64_t)dvren_tensor_numel(L->target_alpha) != n)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL,
                                   "target_alpha must be a contiguous float32 tensor of %llu elements", (unsigned long long)n);
        if (!pred->out[1].data || !grad->out[1].data)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", "select DVREN_OUTPUT_ALPHA",
                                   "target_alpha needs an alpha output in the prediction and the cotangents");
    }
    if (!dvren__reachable(ctx, L->target_rgb) || (L->target_alpha && !dvren__reachable(ctx, L->target_alpha)))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL, "device targets on a CPU context");
    return DVREN_OK;
}

DVREN_API dvren_status dvren_loss(dvren_context* ctx, const dvren_loss_desc* desc, const dvren_framebuffer* pred,
                                  dvren_framebuffer* grad, double* value)
{
    dvren_loss_desc L;
    dvren_status s = dvren__loss_check(ctx, desc, pred, grad);
    uint64_t n;
    double sum[2] = {0.0, 0.0};
    int k;
    if (s != DVREN_OK) return s;
    L = *desc;
    if (L.weight == 0.0f) L.weight = 1.0f;
    if (L.huber_delta == 0.0f) L.huber_delta = 1.0f;
    n = (uint64_t)pred->width * pred->height;
    if (pred->ctx != ctx || grad->ctx != ctx)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "loss", NULL, "framebuffers of another context");
    {
        const dvren_tensor* in[2];
        const void* tgt[2];
        in[0] = L.target_rgb;
        in[1] = L.target_alpha;
        s = ctx->be->mem_stage(ctx, 2, in, tgt);
        for (k = 0; k < 2 && s == DVREN_OK; ++k) {
            int o = k == 0 ? DVREN__OUT_RGB : DVREN__OUT_ALPHA;
            uint64_t m = k == 0 ? 3 * n : n;
            float w = k == 0 ? L.weight / (float)(3 * n) : L.weight * L.alpha_weight / (float)n;
            if (!tgt[k]) continue;
            s = ctx->be->launch_loss(ctx, (const float*)pred->addr[o], (const float*)tgt[k], (float*)grad->addr[o], m,
                                     (uint32_t)L.kind, L.huber_delta, w, value ? &sum[k] : NULL);
            grad->stale |= 1u << o;
        }
    }
    if (s == DVREN_OK && value)
        *value = (double)L.weight * (sum[0] / (double)(3 * n) + (double)L.alpha_weight * sum[1] / (double)n);
    return s;
}

/* ---- total variation --------------------------------------------------------- */

DVREN_API dvren_status dvren_tv_regularize(dvren_scene* sc, const dvren_tv_desc* desc, double* value)
{
    const dvren_scene_param* P;
    uint32_t X, Y, Z, C, param, c0, c1, flags;
    float weight;
    double norm;
    if (!sc || !desc)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "tv", NULL, "NULL argument");
    param = desc->param;
    weight = desc->weight;
    c0 = desc->c0;
    c1 = desc->c1;
    flags = desc->flags;
    if (param >= sc->nparams)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "tv", NULL, "no parameter %u",
                               (unsigned)param);
    P = &sc->param[param].pub;
    if (P->value.ndim != 4)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "tv", NULL,
                               "parameter '%s' is %u-D; total variation needs a (Z, Y, X, C) grid", P->name,
                               (unsigned)P->value.ndim);
    Z = (uint32_t)P->value.shape[0];
    Y = (uint32_t)P->value.shape[1];
    X = (uint32_t)P->value.shape[2];
    C = (uint32_t)P->value.shape[3];
    if (c1 == 0) c1 = C;
    if (c0 >= c1 || c1 > C || (flags & ~DVREN_TV_SQUARED) || !(weight >= 0.0f) || !isfinite(weight))
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "tv", NULL,
                               "channels [%u, %u) of %u, flags 0x%x, weight %g", (unsigned)c0, (unsigned)c1, (unsigned)C,
                               (unsigned)flags, (double)weight);
    {
        uint32_t dims[4];
        double sum = 0.0;
        dvren_status st;
        dims[0] = X;
        dims[1] = Y;
        dims[2] = Z;
        dims[3] = C;
        norm = (double)weight / ((double)X * Y * Z * (c1 - c0));
        st = sc->ctx->be->launch_tv(sc->ctx, (const float*)P->value.data,
                                    sc->param[param].trainable ? (float*)P->grad.data : NULL, dims, c0, c1,
                                    flags & DVREN_TV_SQUARED, norm, value ? &sum : NULL);
        if (st == DVREN_OK && value) *value = norm * sum;
        return st;
    }
}

/* ---- optimizers ----------------------------------------------------------------- */

struct dvren_optimizer {
    dvren_scene* scene;
    dvren_optimizer_desc desc;
    uint64_t steps;
    float lr_scale[DVREN__MAX_PARAMS];
    void* m[DVREN__MAX_PARAMS]; /* ADAM first moment, SGD momentum buffer (host or device) */
    void* v[DVREN__MAX_PARAMS]; /* ADAM second moment */
    /* this step's constants (computed by dvren_optimizer_step for the backend) */
    float lr_now, bc1, sbc2;
};

DVREN_API dvren_optimizer_desc dvren_optimizer_defaults(dvren_optimizer_kind kind)
{
    dvren_optimizer_desc d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.lr = kind == DVREN_OPTIMIZER_SGD ? 1.0f : 0.1f;
    d.beta1 = 0.9f;
    d.beta2 = 0.999f;
    d.eps = 1e-8f;
    d.momentum = 0.9f;
    d.weight_decay = 0.0f;
    d.lr_decay = 1.0f;
    d.decay_steps = 1;
    return d;
}

static dvren_status dvren__optimizer_check(dvren_context* ctx, const dvren_optimizer_desc* d)
{
    if ((uint32_t)d->kind > DVREN_OPTIMIZER_SGD)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL, "unknown kind %d", (int)d->kind);
    if (!(d->lr > 0.0f) || !isfinite(d->lr))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL, "lr = %g must be > 0", (double)d->lr);
    if (!(d->beta1 >= 0.0f && d->beta1 < 1.0f) || !(d->beta2 >= 0.0f && d->beta2 < 1.0f) || !(d->eps > 0.0f))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", "start from dvren_optimizer_defaults()",
                               "beta1 %g, beta2 %g must be in [0, 1) and eps %g > 0", (double)d->beta1, (double)d->beta2,
                               (double)d->eps);
    if (!(d->momentum >= 0.0f && d->momentum < 1.0f) || !(d->weight_decay >= 0.0f) || !isfinite(d->weight_decay))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL,
                               "momentum %g must be in [0, 1), weight_decay %g >= 0", (double)d->momentum,
                               (double)d->weight_decay);
    if (!(d->lr_decay > 0.0f && d->lr_decay <= 1.0f) || d->decay_steps < 1)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", "start from dvren_optimizer_defaults()",
                               "lr_decay %g must be in (0, 1] and decay_steps %u >= 1", (double)d->lr_decay,
                               (unsigned)d->decay_steps);
    return DVREN_OK;
}

DVREN_API void dvren_optimizer_destroy(dvren_optimizer* opt)
{
    uint32_t i;
    if (!opt) return;
    for (i = 0; i < opt->scene->nparams; ++i) {
        size_t n = (size_t)opt->scene->param[i].pub.numel * sizeof(float);
        if (opt->m[i]) opt->scene->ctx->be->mem_free(opt->scene->ctx, opt->m[i], n);
        if (opt->v[i]) opt->scene->ctx->be->mem_free(opt->scene->ctx, opt->v[i], n);
    }
    dvren__free(opt->scene->ctx, opt, sizeof *opt);
}

DVREN_API dvren_status dvren_optimizer_create(dvren_scene* sc, const dvren_optimizer_desc* desc, dvren_optimizer** out)
{
    dvren_optimizer* opt;
    dvren_status s;
    uint32_t i;
    if (!sc || !desc || !out)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL, "NULL argument");
    *out = NULL;
    if (!(sc->flags & DVREN_SCENE_DIFFERENTIABLE))
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", "set DVREN_SCENE_DIFFERENTIABLE",
                               "the scene was not created differentiable");
    s = dvren__optimizer_check(sc->ctx, desc);
    if (s != DVREN_OK) return s;
    opt = (dvren_optimizer*)dvren__calloc(sc->ctx, sizeof *opt);
    if (!opt) return dvren_set_error(sc->ctx, DVREN_ERROR_OUT_OF_MEMORY, "optimizer", NULL, "out of memory");
    opt->scene = sc;
    opt->desc = *desc;
    for (i = 0; i < sc->nparams; ++i) {
        size_t n = (size_t)sc->param[i].pub.numel * sizeof(float);
        opt->lr_scale[i] = 1.0f;
        s = sc->ctx->be->mem_alloc(sc->ctx, n, &opt->m[i]);
        if (s == DVREN_OK && desc->kind == DVREN_OPTIMIZER_ADAM) s = sc->ctx->be->mem_alloc(sc->ctx, n, &opt->v[i]);
        if (s != DVREN_OK) {
            dvren_optimizer_destroy(opt);
            return s;
        }
    }
    *out = opt;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_optimizer_set_lr_scale(dvren_optimizer* opt, uint32_t param, float scale)
{
    if (!opt || param >= opt->scene->nparams || !(scale >= 0.0f) || !isfinite(scale))
        return dvren_set_error(opt ? opt->scene->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL,
                               "parameter %u, scale %g (>= 0)", (unsigned)param, (double)scale);
    opt->lr_scale[param] = scale;
    return DVREN_OK;
}

DVREN_API uint64_t dvren_optimizer_steps(const dvren_optimizer* opt) { return opt ? opt->steps : 0u; }

DVREN_API double dvren_optimizer_lr(const dvren_optimizer* opt)
{
    if (!opt) return 0.0;
    return (double)opt->desc.lr * pow((double)opt->desc.lr_decay, (double)opt->steps / (double)opt->desc.decay_steps);
}

/* One update of n elements x from g with the moments m (and v): the
 * backend's fused Adam or SGD element loop (kernels/dvren_train.h). */
static dvren_status dvren__optimizer_apply(dvren_context* ctx, const dvren_optimizer_desc* d, float lr, float bc1,
                                           float sbc2, float* x, float* m, float* v, const float* g, uint64_t n)
{
    if (d->kind == DVREN_OPTIMIZER_ADAM) {
        float h[7];
        h[0] = lr;
        h[1] = d->beta1;
        h[2] = d->beta2;
        h[3] = d->eps;
        h[4] = d->weight_decay;
        h[5] = bc1;
        h[6] = sbc2;
        return ctx->be->launch_adam(ctx, x, m, v, g, n, h);
    } else {
        float h[3];
        h[0] = lr;
        h[1] = d->momentum;
        h[2] = d->weight_decay;
        return ctx->be->launch_sgd(ctx, x, m, g, n, h);
    }
}

DVREN_API dvren_status dvren_optimizer_update_tensor(dvren_context* ctx, const dvren_optimizer_desc* desc, uint64_t step,
                                                     float lr_scale, dvren_tensor* x, dvren_tensor* m, dvren_tensor* v,
                                                     const dvren_tensor* g)
{
    const dvren_tensor* ts[4];
    static const char* const names[4] = {"x", "m", "v", "g"};
    int64_t n;
    double lr, t;
    int i;
    if (!ctx || !desc || !x || !m || !g || (desc->kind == DVREN_OPTIMIZER_ADAM && !v))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL, "NULL argument");
    DVREN__TRY(dvren__optimizer_check(ctx, desc));
    if (!(lr_scale >= 0.0f) || !isfinite(lr_scale))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL, "lr_scale = %g (>= 0)",
                               (double)lr_scale);
    ts[0] = x;
    ts[1] = m;
    ts[2] = desc->kind == DVREN_OPTIMIZER_ADAM ? v : x;
    ts[3] = g;
    n = dvren_tensor_numel(x);
    for (i = 0; i < 4; ++i)
        if (!ts[i]->data || ts[i]->dtype != DVREN_DTYPE_F32 || !dvren_tensor_is_contiguous(ts[i]) ||
            dvren_tensor_numel(ts[i]) != n || ts[i]->memory != ctx->be->memory)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL,
                                   "%s must be a contiguous float32 tensor of %lld elements in the context's %s memory",
                                   names[i], (long long)n, ctx->be->memory == DVREN_MEMORY_HOST ? "host" : "device");
    if (n == 0 || lr_scale == 0.0f) return DVREN_OK;
    t = (double)(step + 1);
    lr = (double)desc->lr * pow((double)desc->lr_decay, (double)step / (double)desc->decay_steps) * lr_scale;
    return dvren__optimizer_apply(ctx, desc, (float)lr, (float)(1.0 - pow((double)desc->beta1, t)),
                                  (float)sqrt(1.0 - pow((double)desc->beta2, t)), (float*)x->data, (float*)m->data,
                                  desc->kind == DVREN_OPTIMIZER_ADAM ? (float*)v->data : NULL, (const float*)g->data,
                                  (uint64_t)n);
}

DVREN_API dvren_status dvren_optimizer_step(dvren_optimizer* opt)
{
    const dvren_optimizer_desc* d;
    dvren_scene* sc;
    double t;
    uint32_t i;
    if (!opt) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "optimizer", NULL, "NULL optimizer");
    d = &opt->desc;
    sc = opt->scene;
    t = (double)(opt->steps + 1);
    opt->lr_now = (float)dvren_optimizer_lr(opt);
    opt->bc1 = (float)(1.0 - pow((double)d->beta1, t));
    opt->sbc2 = (float)sqrt(1.0 - pow((double)d->beta2, t));
    for (i = 0; i < sc->nparams; ++i) {
        dvren__param* P = &sc->param[i];
        float* x = (float*)P->pub.value.data;
        const float* g = (const float*)P->pub.grad.data;
        float lr = opt->lr_now * opt->lr_scale[i];
        dvren_status s;
        if (lr == 0.0f || !P->trainable || P->pub.numel == 0) continue;
        s = dvren__optimizer_apply(sc->ctx, d, lr, opt->bc1, opt->sbc2, x, (float*)opt->m[i], (float*)opt->v[i], g,
                                   P->pub.numel);
        if (s != DVREN_OK) return s;
    }
    opt->steps++;
    return DVREN_OK;
}

#if !defined(DVREN_NO_CHECKPOINT)
/* ---- checkpoints ------------------------------------------------------------------- */

/* CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320: zlib's crc32). */
static uint32_t dvren__crc32(uint32_t crc, const unsigned char* p, size_t n)
{
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; ++i) {
        crc ^= p[i];
        for (k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

#define DVREN__CKPT_F64 100u
#define DVREN__CKPT_BYTES 101u
#define DVREN__CKPT_MAX_ENTRIES (3u * DVREN__MAX_PARAMS + 2u)

static void dvren__ckpt_u32(dvren__buf* b, uint32_t v)
{
    unsigned char c[4];
    c[0] = (unsigned char)v;
    c[1] = (unsigned char)(v >> 8);
    c[2] = (unsigned char)(v >> 16);
    c[3] = (unsigned char)(v >> 24);
    dvren__buf_add(b, c, 4);
}

static void dvren__ckpt_u64(dvren__buf* b, uint64_t v)
{
    dvren__ckpt_u32(b, (uint32_t)v);
    dvren__ckpt_u32(b, (uint32_t)(v >> 32));
}

/* One entry; data is host memory, written as it is (little-endian on every
 * machine dvren targets: x86-64, ARM64). */
static void dvren__ckpt_entry(dvren__buf* b, const char* prefix, const char* name, uint32_t dtype,
                              uint32_t ndim, const int64_t* shape, const void* data, uint64_t bytes)
{
    uint32_t i;
    size_t lp = strlen(prefix), ln = strlen(name);
    dvren__ckpt_u32(b, (uint32_t)(lp + ln));
    dvren__buf_add(b, prefix, lp);
    dvren__buf_add(b, name, ln);
    dvren__ckpt_u32(b, dtype);
    dvren__ckpt_u32(b, ndim);
    for (i = 0; i < ndim; ++i) dvren__ckpt_u64(b, (uint64_t)shape[i]);
    dvren__ckpt_u64(b, bytes);
    dvren__buf_add(b, data, (size_t)bytes);
}

/* Reads a parameter-sized array (value or optimizer state) into host memory. */
static dvren_status dvren__ckpt_fetch(dvren_context* ctx, const void* src, dvren_memory mem, size_t bytes, void** out)
{
    *out = dvren__alloc(ctx, bytes ? bytes : 1);
    if (!*out) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "checkpoint", NULL, "out of memory");
    return dvren__copy(ctx, *out, DVREN_MEMORY_HOST, src, mem, bytes);
}

DVREN_API dvren_status dvren_checkpoint_save(dvren_scene* sc, const dvren_optimizer* opt, const char* path,
                                             const void* user, size_t user_size)
{
    dvren__buf b;
    dvren_status status = DVREN_OK;
    uint32_t count = 0, i;
    void* tmp = NULL;
    size_t tmp_size = 0;
    if (!sc || !path || (user_size && !user))
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "checkpoint", NULL, "NULL argument");
    if (user_size > 4096)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "checkpoint", NULL, "user blob of %lu bytes > 4096",
                               (unsigned long)user_size);
    if (opt && opt->scene != sc)
        return dvren_set_error(sc->ctx, DVREN_ERROR_INVALID_ARGUMENT, "checkpoint", NULL, "the optimizer belongs to another scene");
    memset(&b, 0, sizeof b);
    b.ctx = sc->ctx;
    dvren__buf_add(&b, "DVRNCKPT", 8);
    dvren__ckpt_u32(&b, 1u);
    dvren__ckpt_u32(&b, 0u); /* entry count, patched below */
    for (i = 0; i < sc->nparams; ++i) {
        const dvren_scene_param* P = &sc->param[i].pub;
        size_t bytes = (size_t)P->numel * sizeof(float);
        int k;
        for (k = 0; k < 3; ++k) {
            const void* src = k == 0 ? P->value.data : (k == 1 ? (opt ? opt->m[i] : NULL) : (opt ? opt->v[i] : NULL));
            const char* prefix = k == 0 ? "param/"
                                        : (k == 1 ? (opt && opt->desc.kind == DVREN_OPTIMIZER_SGD ? "momentum/" : "adam_m/")
                                                  : "adam_v/");
            if (!src) continue;
            dvren__free(sc->ctx, tmp, tmp_size);
            tmp = NULL;
            tmp_size = bytes ? bytes : 1;
            DVREN__CHECK(dvren__ckpt_fetch(sc->ctx, src, P->value.memory, bytes, &tmp));
            dvren__ckpt_entry(&b, prefix, P->name, DVREN_DTYPE_F32, P->value.ndim, P->value.shape, tmp, bytes);
            count++;
        }
    }
    if (opt) {
        int64_t n = 10 + (int64_t)sc->nparams;
        const dvren_optimizer_desc* d = &opt->desc;
        double all[10 + DVREN__MAX_PARAMS];
        all[0] = (double)d->kind;
        all[1] = (double)d->lr;
        all[2] = (double)d->beta1;
        all[3] = (double)d->beta2;
        all[4] = (double)d->eps;
        all[5] = (double)d->momentum;
        all[6] = (double)d->weight_decay;
        all[7] = (double)d->lr_decay;
        all[8] = (double)d->decay_steps;
        all[9] = (double)opt->steps;
        for (i = 0; i < sc->nparams; ++i) all[10 + i] = (double)opt->lr_scale[i];
        dvren__ckpt_entry(&b, "optimizer", "", DVREN__CKPT_F64, 1, &n, all, (uint64_t)n * sizeof(double));
        count++;
    }
    if (user_size) {
        int64_t n = (int64_t)user_size;
        dvren__ckpt_entry(&b, "user", "", DVREN__CKPT_BYTES, 1, &n, user, user_size);
        count++;
    }
    if (b.failed) DVREN__FAIL(sc->ctx, DVREN_ERROR_OUT_OF_MEMORY, "checkpoint", NULL, "out of memory");
    b.s[12] = (char)(unsigned char)count;
    b.s[13] = (char)(unsigned char)(count >> 8);
    b.s[14] = (char)(unsigned char)(count >> 16);
    b.s[15] = (char)(unsigned char)(count >> 24);
    dvren__ckpt_u32(&b, dvren__crc32(0, (const unsigned char*)b.s, b.n));
    if (b.failed) DVREN__FAIL(sc->ctx, DVREN_ERROR_OUT_OF_MEMORY, "checkpoint", NULL, "out of memory");
    DVREN__CHECK(dvren_file_write_atomic(sc->ctx, path, b.s, b.n));
    dvren_log(sc->ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "checkpoint '%s': %u entries, %.1f MiB", path, (unsigned)count,
              (double)b.n / 1048576.0);
cleanup:
    dvren__free(sc->ctx, tmp, tmp_size);
    dvren__buf_free(&b);
    return status;
}

typedef struct dvren__ckpt_entry_view {
    char name[96];
    uint32_t dtype, ndim;
    uint64_t shape[DVREN_MAX_DIMS];
    uint64_t bytes;
    const unsigned char* data;
} dvren__ckpt_entry_view;

static uint32_t dvren__rd32(const unsigned char* p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t dvren__rd64(const unsigned char* p) { return (uint64_t)dvren__rd32(p) | ((uint64_t)dvren__rd32(p + 4) << 32); }

static const dvren__ckpt_entry_view* dvren__ckpt_find(const dvren__ckpt_entry_view* e, uint32_t n, const char* prefix,
                                                       const char* name)
{
    uint32_t i;
    size_t lp = strlen(prefix);
    for (i = 0; i < n; ++i)
        if (strncmp(e[i].name, prefix, lp) == 0 && strcmp(e[i].name + lp, name) == 0) return &e[i];
    return NULL;
}

DVREN_API dvren_status dvren_checkpoint_load(dvren_scene* sc, dvren_optimizer* opt, const char* path, void* user,
                                             size_t user_cap, size_t* user_size)
{
    dvren_context* ctx;
    dvren_status status = DVREN_OK;
    unsigned char* buf = NULL;
    size_t size = 0, pos;
    uint32_t count = 0, i = 0, k;
    dvren__ckpt_entry_view* ents = NULL;
    if (!sc || !path)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "checkpoint", NULL, "NULL argument");
    ctx = sc->ctx;
    if (opt && opt->scene != sc)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "checkpoint", NULL, "the optimizer belongs to another scene");
    if (user_size) *user_size = 0;
    {
        /* the file holds at most every parameter three times, and the rest is small */
        uint64_t cap = 1u << 20;
        char* text = NULL;
        for (i = 0; i < sc->nparams; ++i) cap += 3u * sc->param[i].pub.numel * sizeof(float) + 256u;
        DVREN__CHECK(dvren__read_file(ctx, "checkpoint", path, cap, &text, &size));
        buf = (unsigned char*)text;
    }
    if (size < 20 || memcmp(buf, "DVRNCKPT", 8) != 0)
        DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s' is not a dvren checkpoint (no DVRNCKPT magic)", path);
    if (dvren__rd32(buf + 8) != 1u)
        DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': version %u (this build reads 1)", path,
                    (unsigned)dvren__rd32(buf + 8));
    if (dvren__crc32(0, buf, size - 4) != dvren__rd32(buf + size - 4))
        DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", "the file is damaged or truncated", "'%s': CRC mismatch", path);
    count = dvren__rd32(buf + 12);
    if (count > DVREN__CKPT_MAX_ENTRIES)
        DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': %u entries", path, (unsigned)count);
    ents = (dvren__ckpt_entry_view*)dvren__calloc(ctx, (count ? count : 1) * sizeof *ents);
    if (!ents) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "checkpoint", NULL, "out of memory");
    pos = 16;
    for (i = 0; i < count; ++i) {
        dvren__ckpt_entry_view* e = &ents[i];
        uint32_t nl;
        if (pos + 4 > size - 4) goto truncated;
        nl = dvren__rd32(buf + pos);
        pos += 4;
        if (nl >= sizeof e->name || pos + nl + 8 > size - 4) goto truncated;
        memcpy(e->name, buf + pos, nl);
        e->name[nl] = 0;
        pos += nl;
        e->dtype = dvren__rd32(buf + pos);
        e->ndim = dvren__rd32(buf + pos + 4);
        pos += 8;
        if (e->ndim > DVREN_MAX_DIMS || pos + 8u * e->ndim + 8 > size - 4) goto truncated;
        for (k = 0; k < e->ndim; ++k) e->shape[k] = dvren__rd64(buf + pos + 8u * k);
        pos += 8u * e->ndim;
        e->bytes = dvren__rd64(buf + pos);
        pos += 8;
        if (e->bytes > size - 4 - pos) goto truncated;
        e->data = buf + pos;
        pos += (size_t)e->bytes;
    }
    /* check everything before changing anything */
    for (i = 0; i < sc->nparams; ++i) {
        const dvren_scene_param* P = &sc->param[i].pub;
        const char* pre[3] = {"param/", "adam_m/", "adam_v/"};
        for (k = 0; k < 3; ++k) {
            const dvren__ckpt_entry_view* e;
            if (k > 0 && !opt) break;
            if (k == 2 && opt->desc.kind != DVREN_OPTIMIZER_ADAM) break;
            if (k == 1 && opt->desc.kind == DVREN_OPTIMIZER_SGD) pre[1] = "momentum/";
            e = dvren__ckpt_find(ents, count, pre[k], P->name);
            if (!e)
                DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", "was it saved from this scene and optimizer kind?",
                            "'%s' has no entry '%s%s'", path, pre[k], P->name);
            if (e->dtype != DVREN_DTYPE_F32 || e->bytes != P->numel * sizeof(float))
                DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL,
                            "'%s': entry '%s' holds %llu bytes, the scene's '%s' needs %llu float32", path, e->name,
                            (unsigned long long)e->bytes, P->name, (unsigned long long)P->numel);
        }
    }
    if (opt) {
        const dvren__ckpt_entry_view* e = dvren__ckpt_find(ents, count, "optimizer", "");
        double v[10];
        if (!e || e->dtype != DVREN__CKPT_F64 || e->bytes != (10u + sc->nparams) * sizeof(double))
            DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': no usable 'optimizer' entry", path);
        dvren_optimizer_desc od;
        memcpy(v, e->data, sizeof v);
        /* every number is checked before it is cast: the CRC guards against
         * damage, not against a crafted file */
        if (!(v[0] == 0.0 || v[0] == 1.0))
            DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': optimizer kind %g is not 0 (ADAM) or 1 (SGD)",
                        path, v[0]);
        if ((int)v[0] != (int)opt->desc.kind)
            DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", "create the optimizer with the saved kind",
                        "'%s' holds %s state; the optimizer is %s", path, v[0] == 0.0 ? "ADAM" : "SGD",
                        opt->desc.kind == DVREN_OPTIMIZER_ADAM ? "ADAM" : "SGD");
        for (k = 1; k < 8; ++k)
            if (!(fabs(v[k]) <= DVREN__PARAM_FLOAT_MAX))
                DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': optimizer setting %u = %g is not a float",
                            path, (unsigned)k, v[k]);
        if (!(v[8] >= 1.0 && v[8] <= 4294967295.0 && v[8] == floor(v[8])))
            DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': decay_steps %g is not an integer in [1, 2^32)",
                        path, v[8]);
        if (!(v[9] >= 0.0 && v[9] <= 9007199254740992.0 && v[9] == floor(v[9])))
            DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': step count %g is not an integer in [0, 2^53]",
                        path, v[9]);
        od = opt->desc;
        od.lr = (float)v[1];
        od.beta1 = (float)v[2];
        od.beta2 = (float)v[3];
        od.eps = (float)v[4];
        od.momentum = (float)v[5];
        od.weight_decay = (float)v[6];
        od.lr_decay = (float)v[7];
        od.decay_steps = (uint32_t)v[8];
        if (dvren__optimizer_check(ctx, &od) != DVREN_OK) {
            char why[DVREN__ERROR_CAP];
            memcpy(why, ctx->last_error, sizeof why);
            DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': the saved optimizer settings are invalid (%s)",
                        path, why);
        }
        for (k = 0; k < sc->nparams; ++k) {
            double ls;
            memcpy(&ls, e->data + (10u + k) * sizeof(double), sizeof ls);
            if (!(ls >= 0.0 && ls <= DVREN__PARAM_FLOAT_MAX))
                DVREN__FAIL(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': lr scale %u = %g is not a float >= 0",
                            path, (unsigned)k, ls);
        }
    }
    for (i = 0; i < sc->nparams; ++i) {
        dvren_scene_param* P = &sc->param[i].pub;
        size_t bytes = (size_t)P->numel * sizeof(float);
        const char* pre_m = opt && opt->desc.kind == DVREN_OPTIMIZER_SGD ? "momentum/" : "adam_m/";
        DVREN__CHECK(dvren__copy(ctx, P->value.data, P->value.memory, dvren__ckpt_find(ents, count, "param/", P->name)->data,
                                 DVREN_MEMORY_HOST, bytes));
        if (opt) {
            DVREN__CHECK(dvren__copy(ctx, opt->m[i], P->value.memory, dvren__ckpt_find(ents, count, pre_m, P->name)->data,
                                     DVREN_MEMORY_HOST, bytes));
            if (opt->desc.kind == DVREN_OPTIMIZER_ADAM)
                DVREN__CHECK(dvren__copy(ctx, opt->v[i], P->value.memory,
                                         dvren__ckpt_find(ents, count, "adam_v/", P->name)->data, DVREN_MEMORY_HOST, bytes));
        }
    }
    if (opt) {
        const dvren__ckpt_entry_view* e = dvren__ckpt_find(ents, count, "optimizer", "");
        double v[10 + DVREN__MAX_PARAMS];
        memcpy(v, e->data, (size_t)e->bytes);
        opt->desc.lr = (float)v[1];
        opt->desc.beta1 = (float)v[2];
        opt->desc.beta2 = (float)v[3];
        opt->desc.eps = (float)v[4];
        opt->desc.momentum = (float)v[5];
        opt->desc.weight_decay = (float)v[6];
        opt->desc.lr_decay = (float)v[7];
        opt->desc.decay_steps = (uint32_t)v[8];
        opt->steps = (uint64_t)v[9];
        for (i = 0; i < sc->nparams; ++i) opt->lr_scale[i] = (float)v[10 + i];
    }
    {
        const dvren__ckpt_entry_view* e = dvren__ckpt_find(ents, count, "user", "");
        if (e) {
            if (user_size) *user_size = (size_t)e->bytes;
            if (user && user_cap) memcpy(user, e->data, (size_t)e->bytes < user_cap ? (size_t)e->bytes : user_cap);
        }
    }
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "checkpoint '%s' loaded (%u entries)", path, (unsigned)count);
    goto cleanup;
truncated:
    status = dvren_set_error(ctx, DVREN_ERROR_FORMAT, "checkpoint", NULL, "'%s': entry %u runs past the end of the file",
                             path, (unsigned)i);
cleanup:
    dvren__free(ctx, ents, (count ? count : 1) * sizeof *ents);
    if (buf) dvren__free(ctx, buf, size + 1);
    return status;
}
#endif /* DVREN_NO_CHECKPOINT */

/* ======================================================================== */
/* >>foveate (implementation)                                               */
/* ======================================================================== */

/* Uploads host array src (bytes) to the backend's memory when the context
 * computes on a device; else hands it through. *tmp is what to free. */
static dvren_status dvren__fov_place(dvren_context* ctx, const void* src, dvren_memory src_mem, size_t bytes,
                                     const void** at, void** tmp)
{
    dvren_status s;
    *tmp = NULL;
    *at = src;
    if (!src || ctx->be->memory == DVREN_MEMORY_HOST || src_mem == DVREN_MEMORY_DEVICE) return DVREN_OK;
    s = ctx->be->mem_alloc(ctx, bytes, tmp);
    if (s == DVREN_OK) s = ctx->be->mem_copy(ctx, *tmp, DVREN_MEMORY_DEVICE, src, DVREN_MEMORY_HOST, bytes);
    if (s != DVREN_OK && *tmp) {
        ctx->be->mem_free(ctx, *tmp, bytes);
        *tmp = NULL;
    }
    *at = *tmp;
    return s;
}

DVREN_API dvren_status dvren_saliency_compute(dvren_stage* model, const dvren_saliency_input* input, float* map)
{
    dvren_context* ctx;
    const dvren__plugin_rec* r;
    dvren_saliency_input in;
    const void* at[4];
    void* tmp[4] = {NULL, NULL, NULL, NULL};
    const float* src[4];
    size_t sizes[4], n, i;
    float* out = map;
    int dev;
    dvren_status status = DVREN_OK;
    if (!model || !input || !map)
        return dvren_set_error(model ? model->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "saliency", NULL, "NULL argument");
    ctx = model->ctx;
    r = model->rec;
    if (r->desc->kind != DVREN_PLUGIN_SALIENCY)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "saliency", "create it with kind DVREN_PLUGIN_SALIENCY",
                               "stage '%s' is a %s, not a saliency model", r->desc->name,
                               dvren_plugin_kind_name(r->desc->kind));
    memset(&in, 0, sizeof in);
    memcpy(&in, input, input->struct_size < sizeof in ? input->struct_size : sizeof in);
    in.struct_size = sizeof in;
    if (in.width < 1 || in.height < 1 || in.width > 32768 || in.height > 32768 || !in.rgb)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "saliency", NULL,
                               "input is %u x %u with rgb %s (each side 1..32768, rgb required)", (unsigned)in.width,
                               (unsigned)in.height, in.rgb ? "set" : "NULL");
    if (in.memory == DVREN_MEMORY_DEVICE && ctx->be->memory == DVREN_MEMORY_HOST)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "saliency", NULL,
                               "the input is in device memory but the context computes on the CPU");
    if ((r->saliency.flags & DVREN_SALIENCY_NEEDS_FILE) && (!in.image_path || !*in.image_path))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "saliency", "write the image as PNG and pass its path",
                               "model '%s' reads the image from a file, and image_path is not set", r->desc->name);
    n = (size_t)in.width * in.height;
    dev = ctx->be->memory == DVREN_MEMORY_DEVICE;
    /* what the model does not read stays NULL */
    if (!(r->saliency.wants & DVREN_OUTPUT_ALPHA)) in.alpha = NULL;
    if (!(r->saliency.wants & DVREN_OUTPUT_DEPTH)) in.depth = NULL;
    if (!(r->saliency.wants & DVREN_OUTPUT_VARIANCE)) in.variance = NULL;
    src[0] = in.rgb;
    src[1] = in.alpha;
    src[2] = in.depth;
    src[3] = in.variance;
    for (i = 0; i < 4; ++i) {
        sizes[i] = (i == 0 ? 3 : 1) * n * sizeof(float);
        DVREN__CHECK(dvren__fov_place(ctx, src[i], in.memory, sizes[i], &at[i], &tmp[i]));
    }
    in.rgb = (const float*)at[0];
    in.alpha = (const float*)at[1];
    in.depth = (const float*)at[2];
    in.variance = (const float*)at[3];
    in.memory = ctx->be->memory;
    if (dev) DVREN__CHECK(ctx->be->mem_alloc(ctx, n * sizeof(float), (void**)&out));
    ctx->last_error[0] = 0;
    status = r->saliency.compute(&model->rec->host, model->instance, &in, out);
    if (status != DVREN_OK) {
        if (!ctx->last_error[0])
            dvren_set_error(ctx, status, r->desc->name, NULL, "compute() failed with %s", dvren_status_string(status));
        goto cleanup;
    }
    if (dev) DVREN__CHECK(ctx->be->mem_copy(ctx, map, DVREN_MEMORY_HOST, out, DVREN_MEMORY_DEVICE, n * sizeof(float)));
    for (i = 0; i < n; ++i)
        if (!(map[i] >= 0.0f && map[i] <= 1.0f))
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, r->desc->name, "a saliency model writes values in [0, 1]",
                        "model '%s' wrote %g at pixel (%u, %u)", r->desc->name, (double)map[i],
                        (unsigned)(i % in.width), (unsigned)(i / in.width));
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "saliency '%s' on a %ux%u image (%s)", r->desc->name,
              (unsigned)in.width, (unsigned)in.height, ctx->be->name);
cleanup:
    for (i = 0; i < 4; ++i)
        if (tmp[i]) ctx->be->mem_free(ctx, tmp[i], sizes[i]);
    if (dev && out && out != map) ctx->be->mem_free(ctx, out, n * sizeof(float));
    return status;
}

DVREN_API dvren_status dvren_saliency_framebuffer(dvren_stage* model, const dvren_framebuffer* fb,
                                                  const char* image_path, float* map)
{
    dvren_saliency_input in;
    if (!model || !fb)
        return dvren_set_error(model ? model->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "saliency", NULL, "NULL argument");
    if (fb->ctx != model->ctx)
        return dvren_set_error(model->ctx, DVREN_ERROR_INVALID_ARGUMENT, "saliency", NULL,
                               "the framebuffer was made by another context");
    if (!(fb->outputs & DVREN_OUTPUT_RGB))
        return dvren_set_error(model->ctx, DVREN_ERROR_INVALID_ARGUMENT, "saliency", "render with DVREN_OUTPUT_RGB",
                               "the framebuffer has no rgb output");
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.width = fb->width;
    in.height = fb->height;
    in.memory = model->ctx->be->memory; /* where launches wrote the outputs */
    in.rgb = (const float*)fb->addr[DVREN__OUT_RGB];
    in.alpha = (const float*)fb->addr[DVREN__OUT_ALPHA];
    in.depth = (const float*)fb->addr[DVREN__OUT_DEPTH];
    in.variance = (const float*)fb->addr[DVREN__OUT_VARIANCE];
    in.image_path = image_path;
    return dvren_saliency_compute(model, &in, map);
}

DVREN_API dvren_importance_params dvren_importance_params_default(void)
{
    dvren_importance_params p;
    p.percentile_lo = 2.0f;
    p.percentile_hi = 98.0f;
    p.gamma = 1.0f;
    p.close_size = 5;
    p.blur_size = 15;
    return p;
}

DVREN_API dvren_budget_params dvren_budget_params_default(void)
{
    dvren_budget_params p;
    p.min_spp = 1;
    p.max_spp = 64;
    p.mean_spp = 0.0f;
    p.max_step_scale = 2.0f;
    p.quantile_lo = 0.2f;
    p.quantile_hi = 0.8f;
    p.gamma = 2.2f;
    return p;
}

static int dvren__fov_cmp(const void* a, const void* b)
{
    float x = *(const float*)a, y = *(const float*)b;
    return (x > y) - (x < y);
}

/* Quantiles q[k] in [0, 1] of a[0 .. n-1] (n >= 1) with linear
 * interpolation between order statistics (NumPy's default "linear"). */
static dvren_status dvren__fov_quantiles(dvren_context* ctx, const float* a, size_t n, uint32_t nq, const float* q,
                                         float* out)
{
    float* s = (float*)dvren__alloc(ctx, n * sizeof(float));
    uint32_t k;
    if (!s) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "importance", NULL, "out of memory");
    memcpy(s, a, n * sizeof(float));
    qsort(s, n, sizeof(float), dvren__fov_cmp);
    for (k = 0; k < nq; ++k) {
        double idx = (double)q[k] * (double)(n - 1);
        size_t lo = (size_t)floor(idx), hi = lo + 1 < n ? lo + 1 : lo;
        out[k] = (float)((double)s[lo] + ((double)s[hi] - (double)s[lo]) * (idx - (double)lo));
    }
    dvren__free(ctx, s, n * sizeof(float));
    return DVREN_OK;
}

/* BORDER_REFLECT_101 index (OpenCV): -1 -> 1, n -> n - 2. */
static int64_t dvren__fov_reflect(int64_t i, int64_t n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* One separable pass along x (dir 0) or y (dir 1) of src into dst, (h, w):
 * op 0: Gaussian with weights g[0 .. 2r] (reflected borders), op 1: max,
 * op 2: min over 2r + 1 pixels (replicated borders). */
static void dvren__fov_pass(const float* src, float* dst, uint32_t w, uint32_t h, int dir, int op, int64_t r,
                            const double* g)
{
    int64_t x, y, k, n = dir ? h : w;
    for (y = 0; y < (int64_t)h; ++y)
        for (x = 0; x < (int64_t)w; ++x) {
            int64_t c = dir ? y : x;
            double acc = op == 0 ? 0.0 : (op == 1 ? -1e30 : 1e30);
            for (k = -r; k <= r; ++k) {
                int64_t j = op == 0 ? dvren__fov_reflect(c + k, n) : (c + k < 0 ? 0 : (c + k >= n ? n - 1 : c + k));
                double v = dir ? src[j * w + x] : src[y * w + j];
                if (op == 0) acc += g[k + r] * v;
                else if (op == 1) acc = v > acc ? v : acc;
                else acc = v < acc ? v : acc;
            }
            dst[y * w + x] = (float)acc;
        }
}

DVREN_API dvren_status dvren_importance_postprocess(dvren_context* ctx, const float* in, uint32_t w, uint32_t h,
                                                    const dvren_importance_params* params, float* out)
{
    dvren_importance_params p = params ? *params : dvren_importance_params_default();
    size_t n = (size_t)w * h, i;
    float q[2], pq[2];
    float* tmp = NULL;
    double g[257], gsum = 0.0, vmax = 0.0;
    dvren_status status = DVREN_OK;
    if (!ctx) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "importance", NULL, "NULL context");
    if (!in || !out || w < 1 || h < 1 || w > 32768 || h > 32768)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", NULL,
                               "a %u x %u map (each side 1..32768, arrays not NULL)", (unsigned)w, (unsigned)h);
    if (!(p.percentile_lo >= 0.0f && p.percentile_lo < p.percentile_hi && p.percentile_hi <= 100.0f))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", "0 <= lo < hi <= 100",
                               "percentiles lo = %g, hi = %g", (double)p.percentile_lo, (double)p.percentile_hi);
    if (!(p.gamma > 0.0f) || !isfinite(p.gamma))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", NULL, "gamma = %g must be > 0",
                               (double)p.gamma);
    if ((p.close_size > 1 && !(p.close_size & 1)) || p.close_size > 255)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", "an odd size, at most 255",
                               "close_size = %u", (unsigned)p.close_size);
    if ((p.blur_size > 1 && !(p.blur_size & 1)) || p.blur_size > 255)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", "an odd size, at most 255",
                               "blur_size = %u", (unsigned)p.blur_size);
    for (i = 0; i < n; ++i)
        if (!isfinite(in[i]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", NULL,
                                   "the map is not finite at pixel (%u, %u)", (unsigned)(i % w), (unsigned)(i / w));
    pq[0] = p.percentile_lo / 100.0f;
    pq[1] = p.percentile_hi / 100.0f;
    DVREN__CHECK(dvren__fov_quantiles(ctx, in, n, 2, pq, q));
    for (i = 0; i < n; ++i) {
        /* a flat map says nothing: everything stays important */
        double v = q[1] > q[0] ? ((double)in[i] - q[0]) / ((double)q[1] - q[0]) : 1.0;
        v = v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
        out[i] = (float)pow(v, (double)p.gamma);
    }
    tmp = (float*)dvren__alloc(ctx, n * sizeof(float));
    if (!tmp) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "importance", NULL, "out of memory");
    if (p.close_size > 1) {
        int64_t r = p.close_size / 2;
        dvren__fov_pass(out, tmp, w, h, 0, 1, r, NULL); /* dilation ... */
        dvren__fov_pass(tmp, out, w, h, 1, 1, r, NULL);
        dvren__fov_pass(out, tmp, w, h, 0, 2, r, NULL); /* ... then erosion */
        dvren__fov_pass(tmp, out, w, h, 1, 2, r, NULL);
    }
    if (p.blur_size > 1) {
        int64_t r = p.blur_size / 2, k;
        double sigma = 0.3 * ((double)(p.blur_size - 1) * 0.5 - 1.0) + 0.8;
        for (k = -r; k <= r; ++k) gsum += g[k + r] = exp(-(double)(k * k) / (2.0 * sigma * sigma));
        for (k = -r; k <= r; ++k) g[k + r] /= gsum;
        dvren__fov_pass(out, tmp, w, h, 0, 0, r, g);
        dvren__fov_pass(tmp, out, w, h, 1, 0, r, g);
    }
    for (i = 0; i < n; ++i) vmax = out[i] > vmax ? out[i] : vmax;
    if (vmax > 0.0)
        for (i = 0; i < n; ++i) {
            float v = (float)(out[i] / vmax);
            out[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
cleanup:
    if (tmp) dvren__free(ctx, tmp, n * sizeof(float));
    return status;
}

DVREN_API dvren_status dvren_importance_resample(dvren_context* ctx, const float* in, uint32_t iw, uint32_t ih,
                                                 uint32_t width, uint32_t height, float* out)
{
    if (!in || !out || iw < 1 || ih < 1 || width < 1 || height < 1 || iw > 32768 || ih > 32768 || width > 32768 ||
        height > 32768)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "importance", NULL,
                               "resampling a %u x %u map to %u x %u (each side 1..32768, arrays not NULL)", (unsigned)iw,
                               (unsigned)ih, (unsigned)width, (unsigned)height);
    dvren_resample_bilinear(in, iw, ih, width, height, out);
    return DVREN_OK;
}

DVREN_API dvren_status dvren_importance_budget(dvren_context* ctx, const float* importance, uint32_t iw, uint32_t ih,
                                               uint32_t width, uint32_t height, const dvren_budget_params* params,
                                               uint32_t* spp_map, float* step_map, dvren_budget_stats* stats)
{
    dvren_budget_params p = params ? *params : dvren_budget_params_default();
    size_t n = (size_t)width * height, i;
    float* m = NULL;
    float q[2], th[2];
    double cover = 0.0, peak, eff = 0.0;
    uint64_t rays = 0;
    dvren_status status = DVREN_OK;
    if (!ctx) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "budget", NULL, "NULL context");
    if (!importance || !spp_map || iw < 1 || ih < 1 || width < 1 || height < 1 || iw > 32768 || ih > 32768 ||
        width > 32768 || height > 32768)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", NULL,
                               "a %u x %u map to a %u x %u image (each side 1..32768, arrays not NULL)", (unsigned)iw,
                               (unsigned)ih, (unsigned)width, (unsigned)height);
    if (p.min_spp < 1 || p.min_spp > p.max_spp || p.max_spp > 65536)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", "1 <= min_spp <= max_spp <= 65536",
                               "min_spp = %u, max_spp = %u", (unsigned)p.min_spp, (unsigned)p.max_spp);
    if (!(p.mean_spp == 0.0f || (p.mean_spp >= (float)p.min_spp && isfinite(p.mean_spp))))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", "0 (automatic off) or >= min_spp",
                               "mean_spp = %g", (double)p.mean_spp);
    if (!(p.max_step_scale >= 1.0f && p.max_step_scale <= 64.0f))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", NULL, "max_step_scale = %g is outside [1, 64]",
                               (double)p.max_step_scale);
    if (!(p.quantile_lo >= 0.0f && p.quantile_lo <= p.quantile_hi && p.quantile_hi <= 1.0f))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", "0 <= lo <= hi <= 1",
                               "quantiles lo = %g, hi = %g", (double)p.quantile_lo, (double)p.quantile_hi);
    if (!(p.gamma > 0.0f) || !isfinite(p.gamma))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", NULL, "gamma = %g must be > 0",
                               (double)p.gamma);
    for (i = 0; i < (size_t)iw * ih; ++i)
        if (!(importance[i] >= 0.0f && importance[i] <= 1.0f))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "budget", "importance is in [0, 1]",
                                   "importance at pixel (%u, %u) is %g", (unsigned)(i % iw), (unsigned)(i / iw),
                                   (double)importance[i]);
    m = (float*)dvren__alloc(ctx, n * sizeof(float));
    if (!m) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "budget", NULL, "out of memory");
    DVREN__CHECK(dvren_importance_resample(ctx, importance, iw, ih, width, height, m));
    q[0] = p.quantile_lo;
    q[1] = p.quantile_hi;
    DVREN__CHECK(dvren__fov_quantiles(ctx, m, n, 2, q, th));
    for (i = 0; i < n; ++i) {
        double u = th[1] > th[0] ? ((double)m[i] - th[0]) / ((double)th[1] - th[0]) : 1.0;
        u = u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
        m[i] = (float)pow(u, (double)p.gamma);
        cover += m[i];
    }
    cover /= (double)n;
    peak = p.max_spp;
    if (p.mean_spp > 0.0f && cover > 0.0) peak = p.min_spp + ((double)p.mean_spp - p.min_spp) / cover;
    peak = peak < p.min_spp ? p.min_spp : (peak > p.max_spp ? p.max_spp : peak);
    peak = floor(peak + 0.5);
    for (i = 0; i < n; ++i) {
        double u = m[i];
        uint32_t spp = (uint32_t)floor(p.min_spp + (peak - p.min_spp) * u + 0.5);
        float step = (float)(1.0 + ((double)p.max_step_scale - 1.0) * (1.0 - u));
        spp_map[i] = spp;
        if (step_map) step_map[i] = step;
        rays += spp;
        eff += (double)spp / (step_map ? step : 1.0);
    }
    if (stats) {
        stats->lo = th[0];
        stats->hi = th[1];
        stats->coverage = (float)cover;
        stats->peak_spp = (uint32_t)peak;
        stats->rays = rays;
        stats->mean_spp = (double)rays / (double)n;
        stats->effective_samples = eff;
    }
cleanup:
    dvren__free(ctx, m, n * sizeof(float));
    return status;
}

/* ======================================================================== */
/* >>splats (implementation)                                                */
/* ======================================================================== */
/* The splat renderer's device-neutral half: validation, the view (camera
 * and settings as kernels/dvren_splat.h reads them), the workspace, and the
 * public functions. The pipeline itself is a backend hook (launch_splats):
 * the CPU's in >>cpu, CUDA's in dvren_cuda.h (the splat module,
 * kernels/dvren_cuda_splat.h). Both follow the same steps and the same
 * workspace layout (below), so their results agree. */

/* Workspace slots, each a buffer in the backend's memory grown on demand
 * (n = Gaussians, m = (Gaussian, tile) pairs, t = tiles, p = pixels). */
enum {
    DVREN__SW_PROJ,     /* n dvren__splat_proj_32: projected Gaussians */
    DVREN__SW_OFFSETS,  /* n + 1 u32: exclusive prefix sum of each Gaussian's tile count */
    DVREN__SW_ETILE,    /* m u32: tile of pair e (in emission order: Gaussian, then tile row-major) */
    DVREN__SW_EDEPTH,   /* m u32: depth bits of pair e */
    DVREN__SW_EGID,     /* m u32: Gaussian of pair e */
    DVREN__SW_SKEY,     /* m u32: depth bits, sorted (tile, depth, e) */
    DVREN__SW_SVAL,     /* m u32: pair index e, sorted */
    DVREN__SW_SKEY2,    /* m u32: sort scratch (the CPU's merge sort) */
    DVREN__SW_SVAL2,    /* m u32: sort scratch (the CPU's merge sort) */
    DVREN__SW_GIDS,     /* m u32: Gaussian of sorted entry k */
    DVREN__SW_RANGES,   /* 2 t u32: each tile's [start, end) in the sorted entries */
    DVREN__SW_PIX_T,    /* p f32: final transmittance */
    DVREN__SW_PIX_LAST, /* p u32: one past the last entry composited */
    DVREN__SW_PIX_DACC, /* p f32: sum z_i w_i */
    DVREN__SW_SLOTS,    /* 10 m f32: backward: each sorted entry's gradient slot */
    DVREN__SW_INV,      /* m u32: backward: sorted position of pair e */
    DVREN__SW_GRADS,    /* backward: gradients bound for host tensors on a device context */
    DVREN__SW_SCRATCH,  /* the backend's own (CUDA: pair count, scan block sums, tile histogram and cursors) */
    DVREN__SW_COUNT
};

struct dvren_splat_renderer {
    dvren_context* ctx;
    dvren_splat_options opt;
    void* ws[DVREN__SW_COUNT];
    size_t ws_bytes[DVREN__SW_COUNT];
    /* the last render (set by the public function and the backend) */
    dvren_splat_view view;
    uint32_t rendered, had_layer, count, sh_degree;
    uint32_t visible;
    uint64_t intersections;
    void* be_state; /* a backend's own state (CUDA: its module); freed by be_free */
    void (*be_free)(struct dvren_splat_renderer* r);
};

/* One launch of the pipeline: where the backend reads and writes (its memory). */
typedef struct dvren__splat_job {
    dvren_splat_view view;
    const float *means, *log_scales, *quats, *logits, *sh;
    dvren_fb_view fb;                                         /* forward outputs (NULL: not wanted) */
    const float *cot_rgb, *cot_alpha, *cot_depth;              /* backward cotangents (NULL: zero) */
    float *g_means, *g_log_scales, *g_quats, *g_logits, *g_sh; /* backward outputs (NULL: not wanted) */
    uint32_t threads;                                          /* CPU threads (0: the context's) */
} dvren__splat_job;

/* A workspace slot of at least `bytes` (contents undefined after growth). */
static dvren_status dvren__splat_ws(dvren_splat_renderer* r, int slot, size_t bytes, void** out)
{
    dvren_context* ctx = r->ctx;
    if (bytes == 0) bytes = 4;
    if (r->ws_bytes[slot] < bytes) {
        size_t grow = bytes + bytes / 4;
        if (r->ws[slot]) ctx->be->mem_free(ctx, r->ws[slot], r->ws_bytes[slot]);
        r->ws[slot] = NULL;
        r->ws_bytes[slot] = 0;
        DVREN__TRY(ctx->be->mem_alloc(ctx, grow, &r->ws[slot]));
        r->ws_bytes[slot] = grow;
    }
    *out = r->ws[slot];
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_renderer_create(dvren_context* ctx, const dvren_splat_options* options,
                                                   dvren_splat_renderer** out)
{
    dvren_splat_options o;
    dvren_splat_renderer* r;
    if (!ctx || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "NULL argument");
    *out = NULL;
    memset(&o, 0, sizeof o);
    if (options) o = *options;
    if (o.near_z == 0.0f) o.near_z = 0.01f;
    if (o.far_z == 0.0f) o.far_z = 1e10f;
    if (o.eps2d == 0.0f) o.eps2d = 0.3f;
    if (o.eps2d < 0.0f) o.eps2d = 0.0f;
    if (o.alpha_max == 0.0f) o.alpha_max = 0.99f;
    if (!(o.near_z > 0.0f) || !(o.far_z > o.near_z) || !isfinite(o.near_z))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "near_z = %g, far_z = %g: need 0 < near_z < far_z", (double)o.near_z, (double)o.far_z);
    if (!isfinite(o.eps2d))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "eps2d is not finite");
    if (!(o.alpha_max > (float)DVREN_SPLAT_ALPHA_MIN) || !(o.alpha_max < 1.0f))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "alpha_max = %g must lie in (1/255, 1)", (double)o.alpha_max);
    r = (dvren_splat_renderer*)dvren__calloc(ctx, sizeof *r);
    if (!r) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splats", NULL, "out of memory");
    r->ctx = ctx;
    r->opt = o;
    *out = r;
    return DVREN_OK;
}

DVREN_API void dvren_splat_renderer_destroy(dvren_splat_renderer* r)
{
    int i;
    if (!r) return;
    if (r->be_free) r->be_free(r);
    for (i = 0; i < DVREN__SW_COUNT; ++i)
        if (r->ws[i]) r->ctx->be->mem_free(r->ctx, r->ws[i], r->ws_bytes[i]);
    dvren__free(r->ctx, r, sizeof *r);
}

DVREN_API dvren_status dvren_splat_stats_get(const dvren_splat_renderer* r, dvren_splat_stats* out)
{
    int i;
    if (!r || !out) return dvren_set_error(r ? r->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "NULL argument");
    memset(out, 0, sizeof *out);
    out->visible = r->visible;
    out->intersections = r->intersections;
    for (i = 0; i < DVREN__SW_COUNT; ++i) out->workspace_bytes += r->ws_bytes[i];
    return DVREN_OK;
}

/* Checks one parameter tensor: float32, contiguous, n * per elements,
 * first dimension n, reachable from the context; host data finite. */
static dvren_status dvren__splat_check_tensor(dvren_context* ctx, const dvren_tensor* t, const char* set, const char* name,
                                              uint32_t n, uint64_t per, const char* shape)
{
    if (n == 0) return DVREN_OK;
    if (!t->data || t->dtype != DVREN_DTYPE_F32 || !dvren_tensor_is_contiguous(t) ||
        (uint64_t)dvren_tensor_numel(t) != (uint64_t)n * per || t->shape[0] != (int64_t)n)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "%s.%s must be a contiguous float32 tensor of shape %s with N = %u (got %s, %lld elements, "
                               "first dimension %lld)",
                               set, name, shape, (unsigned)n, dvren_dtype_name(t->dtype),
                               (long long)dvren_tensor_numel(t), (long long)(t->ndim ? t->shape[0] : 0));
    if (!dvren__reachable(ctx, t))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "%s.%s is in device memory but the context renders on the CPU", set, name);
    return DVREN_OK;
}

static dvren_status dvren__splat_check_params(dvren_context* ctx, const dvren_splat_params* p, const char* set, int values)
{
    uint64_t K;
    const dvren_tensor* ts[5];
    static const char* const names[5] = {"means", "log_scales", "quats", "opacity_logits", "sh"};
    uint64_t per[5];
    static const char* const shapes[5] = {"(N, 3)", "(N, 3)", "(N, 4)", "(N)", "(N, (degree + 1)^2, 3)"};
    int i;
    if (p->sh_degree > DVREN_SPLAT_MAX_DEGREE)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "%s.sh_degree = %u > 3", set,
                               (unsigned)p->sh_degree);
    if (p->count > (1u << 25))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "%s.count = %u > 2^25 Gaussians", set,
                               (unsigned)p->count);
    K = (uint64_t)(p->sh_degree + 1u) * (p->sh_degree + 1u);
    ts[0] = &p->means;
    ts[1] = &p->log_scales;
    ts[2] = &p->quats;
    ts[3] = &p->opacity_logits;
    ts[4] = &p->sh;
    per[0] = 3;
    per[1] = 3;
    per[2] = 4;
    per[3] = 1;
    per[4] = 3 * K;
    for (i = 0; i < 5; ++i) {
        if (!values && !ts[i]->data) continue; /* a gradient not wanted */
        DVREN__TRY(dvren__splat_check_tensor(ctx, ts[i], set, names[i], p->count, per[i], shapes[i]));
        if (values && ts[i]->memory == DVREN_MEMORY_HOST) {
            const float* v = (const float*)ts[i]->data;
            uint64_t j, n = (uint64_t)p->count * per[i];
            for (j = 0; j < n; ++j)
                if (!isfinite(v[j]))
                    return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                                           "%s.%s of Gaussian %llu is not finite (%g)", set, names[i],
                                           (unsigned long long)(j / per[i]), (double)v[j]);
        }
    }
    return DVREN_OK;
}

/* The view of a plan: its camera as the rasteriser's pinhole. */
static dvren_status dvren__splat_view(dvren_splat_renderer* r, const dvren_plan_desc* d, uint32_t count,
                                      uint32_t sh_degree, dvren_splat_view* v)
{
    dvren_context* ctx = r->ctx;
    const dvren_camera* c = &d->camera;
    int i;
    memset(v, 0, sizeof *v);
    if (d->rays || d->spp_map || d->step_map)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", "use a camera plan",
                               "splat renders take neither ray batches nor budget maps");
    if (d->spp > 1)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "spp = %u: splat renders are one sample per pixel (pixel centres)", (unsigned)d->spp);
    if (d->roi.x != 0 || d->roi.y != 0 || d->roi.w != d->width || d->roi.h != d->height)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "roi (%u, %u, %u x %u): splat renders draw the whole %u x %u image", (unsigned)d->roi.x,
                               (unsigned)d->roi.y, (unsigned)d->roi.w, (unsigned)d->roi.h, (unsigned)d->width,
                               (unsigned)d->height);
    if (c->model != DVREN_CAMERA_PINHOLE && c->model != DVREN_CAMERA_INTRINSICS)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "splats",
                               "use dvren_camera_from_opencv or dvren_camera_look_at",
                               "camera model %u: splats are projected by pinhole cameras only", (unsigned)c->model);
    for (i = 0; i < 3; ++i) {
        v->W[i] = c->right[i];
        v->W[3 + i] = -c->up[i];
        v->W[6 + i] = c->forward[i];
        v->eye[i] = c->eye[i];
    }
    for (i = 0; i < 3; ++i)
        v->w[i] = -(v->W[3 * i] * c->eye[0] + v->W[3 * i + 1] * c->eye[1] + v->W[3 * i + 2] * c->eye[2]);
    if (c->model == DVREN_CAMERA_INTRINSICS) {
        v->fx = c->fx;
        v->fy = c->fy;
        v->cx = c->cx;
        v->cy = c->cy;
    } else {
        v->fy = 0.5f * (float)d->height / c->tan_half_fov_y;
        v->fx = v->fy;
        v->cx = 0.5f * (float)d->width;
        v->cy = 0.5f * (float)d->height;
    }
    if (!(v->fx > 0.0f) || !(v->fy > 0.0f) || !isfinite(v->fx) || !isfinite(v->fy) || !isfinite(v->cx) ||
        !isfinite(v->cy) || !dvren__finite3(v->eye))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "camera: fx %g, fy %g, cx %g, cy %g, eye not all finite and positive", (double)v->fx,
                               (double)v->fy, (double)v->cx, (double)v->cy);
    v->width = d->width;
    v->height = d->height;
    v->tiles_x = (d->width + DVREN_SPLAT_TILE - 1) / DVREN_SPLAT_TILE;
    v->tiles_y = (d->height + DVREN_SPLAT_TILE - 1) / DVREN_SPLAT_TILE;
    v->near_z = r->opt.near_z;
    v->far_z = r->opt.far_z;
    v->eps2d = r->opt.eps2d;
    v->alpha_max = r->opt.alpha_max;
    v->min_transmittance = d->min_transmittance == 0.0f ? DVREN_DEFAULT_MIN_TRANSMITTANCE
                                                        : (d->min_transmittance < 0.0f ? 0.0f : d->min_transmittance);
    for (i = 0; i < 3; ++i) v->background[i] = d->background[i];
    v->sh_degree = sh_degree;
    v->count = count;
    return DVREN_OK;
}

/* Where the backend reads the five parameter tensors. */
static dvren_status dvren__splat_stage(dvren_context* ctx, const dvren_splat_params* p, dvren__splat_job* J)
{
    const dvren_tensor* in[5];
    const void* addr[5];
    in[0] = &p->means;
    in[1] = &p->log_scales;
    in[2] = &p->quats;
    in[3] = &p->opacity_logits;
    in[4] = &p->sh;
    if (p->count == 0) return DVREN_OK;
    DVREN__TRY(ctx->be->mem_stage(ctx, 5, in, addr));
    J->means = (const float*)addr[0];
    J->log_scales = (const float*)addr[1];
    J->quats = (const float*)addr[2];
    J->logits = (const float*)addr[3];
    J->sh = (const float*)addr[4];
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_render(dvren_splat_renderer* r, const dvren_splat_params* p, const dvren_plan* plan,
                                          dvren_framebuffer* fb, const dvren_framebuffer* layer)
{
    dvren_context* ctx;
    const dvren_plan_desc* d;
    dvren__splat_job J;
    dvren_status s;
    if (!r || !p || !plan || !fb)
        return dvren_set_error(r ? r->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "NULL argument");
    ctx = r->ctx;
    d = &plan->desc;
    r->rendered = 0;
    if (fb->ctx != ctx || plan->ctx != ctx || (layer && layer->ctx != ctx))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "the plan or a framebuffer was made by another context");
    if (fb->width != d->width || fb->height != d->height || (fb->outputs & d->outputs) != d->outputs)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", "create the framebuffer from this plan",
                               "framebuffer (%u x %u, outputs 0x%x) does not fit the plan (%u x %u, outputs 0x%x)",
                               (unsigned)fb->width, (unsigned)fb->height, (unsigned)fb->outputs, (unsigned)d->width,
                               (unsigned)d->height, (unsigned)d->outputs);
    if (d->outputs & (DVREN_OUTPUT_HIT | DVREN_OUTPUT_VARIANCE | DVREN_OUTPUT_SURFACE_ID))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "outputs 0x%x: splat renders make rgb, alpha, transmittance, depth, median_depth and samples",
                               (unsigned)d->outputs);
    DVREN__TRY(dvren__splat_check_params(ctx, p, "params", 1));
    memset(&J, 0, sizeof J);
    DVREN__TRY(dvren__splat_view(r, d, p->count, p->sh_degree, &J.view));
    if (layer) {
        const uint32_t need = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH;
        if (layer->width != d->width || layer->height != d->height || (layer->outputs & need) != need)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", "render the volume with the same plan size",
                                   "layer must be %u x %u with rgb, alpha and depth (is %u x %u, outputs 0x%x)",
                                   (unsigned)d->width, (unsigned)d->height, (unsigned)layer->width,
                                   (unsigned)layer->height, (unsigned)layer->outputs);
        J.view.layer_rgb = (const float*)layer->addr[DVREN__OUT_RGB];
        J.view.layer_alpha = (const float*)layer->addr[DVREN__OUT_ALPHA];
        J.view.layer_depth = (const float*)layer->addr[DVREN__OUT_DEPTH];
    }
    if (!ctx->be->launch_splats)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "splats", NULL, "the %s backend has no splat renderer",
                               ctx->be->name);
    DVREN__TRY(dvren__splat_stage(ctx, p, &J));
    J.fb = dvren__fb_view(fb, d->outputs);
    s = ctx->be->launch_splats(r, &J, 0);
    if (s != DVREN_OK) return s;
    fb->stale |= d->outputs;
    r->view = J.view;
    r->rendered = 1;
    r->had_layer = layer != NULL;
    r->count = p->count;
    r->sh_degree = p->sh_degree;
    return DVREN_OK;
}

DVREN_API dvren_status dvren_splat_backward(dvren_splat_renderer* r, const dvren_splat_params* p,
                                            const dvren_framebuffer* cot, dvren_splat_params* grads)
{
    dvren_context* ctx;
    dvren__splat_job J;
    dvren_tensor* gt[5];
    float** gdst[5];
    size_t goff[5], gbytes[5], total = 0;
    void* gws = NULL;
    int i, staged = 0;
    uint64_t K;
    if (!r || !p || !cot || !grads)
        return dvren_set_error(r ? r->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL, "NULL argument");
    ctx = r->ctx;
    if (!r->rendered)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", "call dvren_splat_render first",
                               "no render to differentiate");
    if (r->had_layer)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "splats", NULL,
                               "the last render had a volume layer: mixed renders are forward only");
    if (p->count != r->count || p->sh_degree != r->sh_degree || grads->count != p->count ||
        grads->sh_degree != p->sh_degree)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", "pass the parameters of the last render",
                               "params (%u Gaussians, degree %u) or grads (%u, %u) differ from the last render (%u, %u)",
                               (unsigned)p->count, (unsigned)p->sh_degree, (unsigned)grads->count,
                               (unsigned)grads->sh_degree, (unsigned)r->count, (unsigned)r->sh_degree);
    if (cot->ctx != ctx || cot->width != r->view.width || cot->height != r->view.height)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "splats", NULL,
                               "cotangents must be a %u x %u framebuffer of this context", (unsigned)r->view.width,
                               (unsigned)r->view.height);
    DVREN__TRY(dvren__splat_check_params(ctx, p, "params", 1));
    DVREN__TRY(dvren__splat_check_params(ctx, grads, "grads", 0));
    memset(&J, 0, sizeof J);
    J.view = r->view;
    DVREN__TRY(dvren__splat_stage(ctx, p, &J));
    if (cot->outputs & DVREN_OUTPUT_RGB) J.cot_rgb = (const float*)cot->addr[DVREN__OUT_RGB];
    if (cot->outputs & DVREN_OUTPUT_ALPHA) J.cot_alpha = (const float*)cot->addr[DVREN__OUT_ALPHA];
    if (cot->outputs & DVREN_OUTPUT_DEPTH) J.cot_depth = (const float*)cot->addr[DVREN__OUT_DEPTH];
    /* gradients: written in place when they live where the backend writes,
     * else into the workspace and copied out */
    K = (uint64_t)(p->sh_degree + 1u) * (p->sh_degree + 1u);
    gt[0] = &grads->means;
    gt[1] = &grads->log_scales;
    gt[2] = &grads->quats;
    gt[3] = &grads->opacity_logits;
    gt[4] = &grads->sh;
    gdst[0] = &J.g_means;
    gdst[1] = &J.g_log_scales;
    gdst[2] = &J.g_quats;
    gdst[3] = &J.g_logits;
    gdst[4] = &J.g_sh;
    gbytes[0] = (size_t)p->count * 12u;
    gbytes[1] = (size_t)p->count * 12u;
    gbytes[2] = (size_t)p->count * 16u;
    gbytes[3] = (size_t)p->count * 4u;
    gbytes[4] = (size_t)p->count * 12u * (size_t)K;
    for (i = 0; i < 5; ++i) {
        goff[i] = total;
        if (gt[i]->data && gt[i]->memory != ctx->be->memory) {
            total += gbytes[i];
            staged = 1;
        }
    }
    if (staged) DVREN__TRY(dvren__splat_ws(r, DVREN__SW_GRADS, total, &gws));
    for (i = 0; i < 5; ++i) {
        if (!gt[i]->data || p->count == 0) continue;
        *gdst[i] = gt[i]->memory == ctx->be->memory ? (float*)gt[i]->data : (float*)((char*)gws + goff[i]);
    }
    DVREN__TRY(ctx->be->launch_splats(r, &J, 1));
    for (i = 0; i < 5; ++i)
        if (gt[i]->data && p->count && gt[i]->memory != ctx->be->memory)
            DVREN__TRY(ctx->be->mem_copy(ctx, gt[i]->data, gt[i]->memory, (char*)gws + goff[i], ctx->be->memory, gbytes[i]));
    return DVREN_OK;
}

/* Solves A X = B for X (A n x n, B n x m, both row-major, overwritten;
 * X in B) by Gaussian elimination with partial pivoting; 0 if singular. */
static int dvren__solve(double* A, double* B, int n, int m)
{
    int i, j, k;
    for (k = 0; k < n; ++k) {
        int piv = k;
        for (i = k + 1; i < n; ++i)
            if (fabs(A[i * n + k]) > fabs(A[piv * n + k])) piv = i;
        if (fabs(A[piv * n + k]) < 1e-300) return 0;
        if (piv != k) {
            for (j = 0; j < n; ++j) {
                double t = A[k * n + j];
                A[k * n + j] = A[piv * n + j];
                A[piv * n + j] = t;
            }
            for (j = 0; j < m; ++j) {
                double t = B[k * m + j];
                B[k * m + j] = B[piv * m + j];
                B[piv * m + j] = t;
            }
        }
        for (i = 0; i < n; ++i) {
            double f;
            if (i == k) continue;
            f = A[i * n + k] / A[k * n + k];
            for (j = k; j < n; ++j) A[i * n + j] -= f * A[k * n + j];
            for (j = 0; j < m; ++j) B[i * m + j] -= f * B[k * m + j];
        }
    }
    for (k = 0; k < n; ++k)
        for (j = 0; j < m; ++j) B[k * m + j] /= A[k * n + k];
    return 1;
}

DVREN_API dvren_status dvren_sh_rotation(const double R[9], uint32_t degree, double* D)
{
    /* least squares over 64 directions of a Fibonacci sphere: B D^T = Y,
     * B[j][m] = b_m(n_j), Y[j][k] = b_k(R^T n_j), via the normal equations */
    enum { NDIR = 64 };
    double BtB[49], BtY[49], e;
    uint32_t off, n, j, a, c;
    int i, k;
    if (!R || !D) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "sh_rotation", NULL, "NULL argument");
    if (degree < 1 || degree > DVREN_SPLAT_MAX_DEGREE)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "sh_rotation", NULL, "degree %u is not 1, 2 or 3",
                               (unsigned)degree);
    e = fabs(R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]) - 1.0);
    for (i = 0; i < 3; ++i)
        for (k = 0; k < 3; ++k) {
            double d = R[3 * i] * R[3 * k] + R[3 * i + 1] * R[3 * k + 1] + R[3 * i + 2] * R[3 * k + 2] - (i == k);
            if (!(fabs(d) <= e)) e = fabs(d);
        }
    if (!(e <= 1e-5))
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "sh_rotation", NULL,
                               "R is not a rotation (error %.3g)", e);
    off = degree * degree;
    n = 2 * degree + 1;
    memset(BtB, 0, sizeof BtB);
    memset(BtY, 0, sizeof BtY);
    for (j = 0; j < NDIR; ++j) {
        double b[16], y[16], nn[3], m[3];
        double z = 1.0 - (2.0 * j + 1.0) / NDIR, rr = sqrt(1.0 - z * z), phi = 2.39996322972865332 * j;
        nn[0] = rr * cos(phi);
        nn[1] = rr * sin(phi);
        nn[2] = z;
        for (i = 0; i < 3; ++i) m[i] = R[i] * nn[0] + R[3 + i] * nn[1] + R[6 + i] * nn[2]; /* R^T n */
        dvren__splat_sh_basis_64(degree, nn[0], nn[1], nn[2], b);
        dvren__splat_sh_basis_64(degree, m[0], m[1], m[2], y);
        for (a = 0; a < n; ++a)
            for (c = 0; c < n; ++c) {
                BtB[a * n + c] += b[off + a] * b[off + c];
                BtY[a * n + c] += b[off + a] * y[off + c];
            }
    }
    if (!dvren__solve(BtB, BtY, (int)n, (int)n)) /* BtY now holds D^T */
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "sh_rotation", NULL, "singular basis system");
    for (a = 0; a < n; ++a)
        for (c = 0; c < n; ++c) D[a * n + c] = BtY[c * n + a];
    return DVREN_OK;
}

/* ======================================================================== */
/* >>cpu        the CPU backend                                             */
/* ======================================================================== */
/* Everything the CPU executes: memory is the host's (buffers are borrowed
 * in place, never copied), the march runs over 16 x 16 tiles taken from a
 * shared counter by N-1 worker threads plus the calling thread (which also
 * reports progress), and the training operations are plain loops over the
 * same single-source element functions the GPU runs (kernels/dvren_train.h).
 * Every pixel's result depends only on the pixel (its RNG is keyed by the
 * pixel index), so images are bitwise the same for any thread count. */

#define DVREN__TILE 16u

typedef struct dvren__tile_job {
    const dvren__cpu_stages_32* stages;
    const dvren_march_args* args;
    int backward; /* 1: dvren_backward_pixel instead of dvren_render_pixel */
    uint32_t threads_used;
    uint32_t tiles_x, tiles;
} dvren__tile_job;

static uint32_t dvren__atomic_inc(volatile uint32_t* p)
{
#if defined(_MSC_VER)
    return (uint32_t)_InterlockedIncrement((volatile long*)p) - 1u;
#else
    return __atomic_fetch_add(p, 1u, __ATOMIC_RELAXED);
#endif
}

static uint32_t dvren__atomic_load(volatile uint32_t* p)
{
#if defined(_MSC_VER)
    return (uint32_t)_InterlockedOr((volatile long*)p, 0);
#else
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
#endif
}

static void dvren__atomic_store(volatile uint32_t* p, uint32_t v)
{
#if defined(_MSC_VER)
    _InterlockedExchange((volatile long*)p, (long)v);
#else
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
#endif
}

/* ---- parallel loops ----------------------------------------------------------
 * fn(user, i) for i in [0, n), items taken in chunks from a shared counter
 * by `threads` threads (0: the context's), the calling thread included; it
 * alone calls progress(done chunks, all chunks) after each chunk it
 * finishes, and a nonzero answer stops every thread before its next chunk.
 * Every item writes only its own results, so the outcome does not depend
 * on the thread count. */
typedef void (*dvren__item_fn)(void* user, uint32_t i);
typedef struct dvren__for_job {
    dvren__item_fn fn;
    void* user;
    uint32_t n, chunk, chunks;
    volatile uint32_t next, done, cancel;
    dvren_progress_fn progress;
    void* progress_user;
} dvren__for_job;

static void dvren__cpu_for_items(dvren__for_job* job, int caller)
{
    for (;;) {
        uint32_t c, i, i0, i1;
        if (dvren__atomic_load(&job->cancel)) return;
        c = dvren__atomic_inc(&job->next);
        if (c >= job->chunks) return;
        i0 = c * job->chunk;
        i1 = job->n - i0 < job->chunk ? job->n : i0 + job->chunk;
        for (i = i0; i < i1; ++i) job->fn(job->user, i);
        dvren__atomic_inc(&job->done);
        if (caller && job->progress && job->progress(job->progress_user, dvren__atomic_load(&job->done), job->chunks))
            dvren__atomic_store(&job->cancel, 1u);
    }
}

#if !defined(DVREN_NO_THREADS)
#if defined(_WIN32)
static DWORD WINAPI dvren__cpu_worker(LPVOID arg)
{
    dvren__cpu_for_items((dvren__for_job*)arg, 0);
    return 0;
}
#else
static void* dvren__cpu_worker(void* arg)
{
    dvren__cpu_for_items((dvren__for_job*)arg, 0);
    return NULL;
}
#endif
#endif

/* Runs the loop; returns the threads used, *cancelled (may be NULL) 1 when
 * progress stopped it. */
static uint32_t dvren__cpu_for(dvren_context* ctx, uint32_t threads, uint32_t n, uint32_t chunk, dvren__item_fn fn,
                               void* user, dvren_progress_fn progress, void* progress_user, int* cancelled)
{
    dvren__for_job job;
    uint32_t nthreads, i, started = 0;
#if !defined(DVREN_NO_THREADS)
#if defined(_WIN32)
    HANDLE th[1024];
#else
    pthread_t th[1024];
#endif
#endif
    if (cancelled) *cancelled = 0;
    if (n == 0) return 1;
    memset(&job, 0, sizeof job);
    job.fn = fn;
    job.user = user;
    job.n = n;
    job.chunk = chunk ? chunk : 1;
    job.chunks = (uint32_t)(((uint64_t)n + job.chunk - 1) / job.chunk);
    job.progress = progress;
    job.progress_user = progress_user;
    nthreads = threads ? threads : ctx->threads;
    if (nthreads > job.chunks) nthreads = job.chunks;
    if (nthreads > 1024) nthreads = 1024;
    if (nthreads < 1) nthreads = 1;
#if defined(DVREN_NO_THREADS)
    nthreads = 1;
#else
    for (i = 1; i < nthreads; ++i) {
#if defined(_WIN32)
        th[started] = CreateThread(NULL, 0, dvren__cpu_worker, &job, 0, NULL);
        if (!th[started]) break;
#else
        if (pthread_create(&th[started], NULL, dvren__cpu_worker, &job) != 0) break;
#endif
        started++;
    }
#endif
    dvren__cpu_for_items(&job, 1);
#if !defined(DVREN_NO_THREADS)
    for (i = 0; i < started; ++i) {
#if defined(_WIN32)
        WaitForSingleObject(th[i], INFINITE);
        CloseHandle(th[i]);
#else
        pthread_join(th[i], NULL);
#endif
    }
#else
    (void)i;
#endif
    if (cancelled) *cancelled = job.cancel != 0u;
    return started + 1;
}

/* One 16 x 16 tile of the march (dvren__cpu_run_tiles). */
static void dvren__cpu_tile(void* u, uint32_t t)
{
    const dvren__tile_job* job = (const dvren__tile_job*)u;
    const dvren_march_args* A = job->args;
    uint32_t x, y, x0, y0, x1, y1;
    x0 = A->roi_x + (t % job->tiles_x) * DVREN__TILE;
    y0 = A->roi_y + (t / job->tiles_x) * DVREN__TILE;
    x1 = x0 + DVREN__TILE < A->roi_x + A->roi_w ? x0 + DVREN__TILE : A->roi_x + A->roi_w;
    y1 = y0 + DVREN__TILE < A->roi_y + A->roi_h ? y0 + DVREN__TILE : A->roi_y + A->roi_h;
    for (y = y0; y < y1; ++y)
        for (x = x0; x < x1; ++x) {
            if (job->backward) dvren_backward_pixel(job->stages, A, x, y);
            else dvren_render_pixel(job->stages, A, x, y);
        }
}

/* Runs a job's tiles on `threads` threads (0: the context's), the calling
 * thread included (it reports progress). */
static dvren_status dvren__cpu_run_tiles(dvren_context* ctx, dvren__tile_job* job, uint32_t threads,
                                         dvren_progress_fn progress, void* user)
{
    const dvren_march_args* A = job->args;
    int cancelled = 0;
    job->tiles_x = (A->roi_w + DVREN__TILE - 1) / DVREN__TILE;
    job->tiles = job->tiles_x * ((A->roi_h + DVREN__TILE - 1) / DVREN__TILE);
    job->threads_used = dvren__cpu_for(ctx, threads, job->tiles, 1, dvren__cpu_tile, job, progress, user, &cancelled);
    if (cancelled) return dvren_set_error(ctx, DVREN_ERROR_CANCELLED, "render", NULL, "cancelled by the progress callback");
    return DVREN_OK;
}

static dvren_status dvren__cpu_init(dvren_context* ctx, const dvren_context_desc* desc)
{
    (void)ctx;
    (void)desc;
    return DVREN_OK;
}
static void dvren__cpu_shutdown(dvren_context* ctx) { (void)ctx; }
static dvren_status dvren__cpu_synchronize(dvren_context* ctx)
{
    (void)ctx;
    return DVREN_OK; /* every CPU call returns when its work is done */
}

static dvren_status dvren__cpu_mem_alloc(dvren_context* ctx, size_t bytes, void** p)
{
    *p = dvren__calloc(ctx, bytes);
    if (!*p) {
        char b[32];
        dvren__bytes_text((uint64_t)bytes, b, sizeof b);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cpu", NULL, "cannot allocate %s", b);
    }
    return DVREN_OK;
}
static void dvren__cpu_mem_free(dvren_context* ctx, void* p, size_t bytes) { dvren__free(ctx, p, bytes); }
static dvren_status dvren__cpu_mem_copy(dvren_context* ctx, void* dst, dvren_memory dm, const void* src, dvren_memory sm,
                                        size_t n)
{
    if (dm != DVREN_MEMORY_HOST || sm != DVREN_MEMORY_HOST)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cpu", NULL, "device memory on a CPU context");
    if (n && dst != src) memmove(dst, src, n);
    return DVREN_OK;
}
static dvren_status dvren__cpu_mem_zero(dvren_context* ctx, void* p, size_t n)
{
    (void)ctx;
    if (n) memset(p, 0, n);
    return DVREN_OK;
}
static dvren_status dvren__cpu_mem_place(dvren_context* ctx, void* host, size_t bytes, void** addr)
{
    (void)ctx;
    (void)bytes;
    *addr = host; /* the renderer reads the host buffer itself */
    return DVREN_OK;
}
static void dvren__cpu_mem_unplace(dvren_context* ctx, void* host, void* addr, size_t bytes)
{
    (void)ctx;
    (void)host;
    (void)addr;
    (void)bytes;
}
static dvren_status dvren__cpu_mem_stage(dvren_context* ctx, uint32_t n, const dvren_tensor* const* in, const void** addr)
{
    uint32_t i;
    for (i = 0; i < n; ++i) {
        addr[i] = in[i] ? in[i]->data : NULL;
        if (in[i] && in[i]->memory != DVREN_MEMORY_HOST)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cpu", NULL, "a device tensor given to a CPU context");
    }
    return DVREN_OK;
}
static dvren_status dvren__cpu_mem_available(dvren_context* ctx, uint64_t* bytes)
{
    (void)ctx;
    *bytes = 0; /* 0: unknown */
#if defined(_WIN32)
    {
        MEMORYSTATUSEX m;
        m.dwLength = sizeof m;
        if (GlobalMemoryStatusEx(&m)) *bytes = (uint64_t)m.ullAvailPhys;
    }
#elif defined(_SC_AVPHYS_PAGES) && defined(_SC_PAGESIZE)
    {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        if (pages > 0 && size > 0) *bytes = (uint64_t)pages * (uint64_t)size;
    }
#endif
    return DVREN_OK;
}

static dvren_status dvren__cpu_scene_init(dvren_scene* sc)
{
    (void)sc; /* the plugins' host functions are the scene's own (sc->cpu) */
    return DVREN_OK;
}
static void dvren__cpu_scene_shutdown(dvren_scene* sc) { (void)sc; }

static dvren_status dvren__cpu_launch_march(dvren_scene* sc, const dvren_march_args* A, int backward,
                                            uint32_t threads, dvren_progress_fn progress, void* user)
{
    dvren_context* ctx = sc->ctx;
    dvren__tile_job job;
    dvren_status s;
    double t0 = dvren__now_ms();
    memset(&job, 0, sizeof job);
    job.stages = &sc->cpu;
    job.args = A;
    job.backward = backward;
    char spp[64];
    dvren__spp_text(A, spp, sizeof spp);
    if (!backward)
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "rendering %ux%u (roi %ux%u) %s on the CPU", (unsigned)A->width,
                  (unsigned)A->height, (unsigned)A->roi_w, (unsigned)A->roi_h, spp);
    s = dvren__cpu_run_tiles(ctx, &job, threads, progress, user);
    if (s == DVREN_OK)
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER, "%s %ux%u %s: %.2f ms on %u threads",
                  backward ? "backward" : "render", (unsigned)A->roi_w, (unsigned)A->roi_h, spp,
                  dvren__now_ms() - t0, (unsigned)job.threads_used);
    return s;
}

static dvren_status dvren__cpu_launch_loss(dvren_context* ctx, const float* pred, const float* target, float* grad,
                                           uint64_t n, uint32_t kind, float delta, float w, double* sum)
{
    double acc = 0.0;
    uint64_t j;
    (void)ctx;
    for (j = 0; j < n; ++j) {
        float dv;
        acc += (double)dvren_loss_elem(kind, delta, pred[j] - target[j], &dv);
        grad[j] = w * dv;
    }
    if (sum) *sum = acc;
    return DVREN_OK;
}

static dvren_status dvren__cpu_launch_tv(dvren_context* ctx, const float* x, float* g, const uint32_t dims[4],
                                         uint32_t c0, uint32_t c1, uint32_t squared, double norm, double* sum)
{
    uint32_t X = dims[0], Y = dims[1], Z = dims[2], C = dims[3], c, i, j, k;
    double acc = 0.0;
    (void)ctx;
    for (k = 0; k < Z; ++k)
        for (j = 0; j < Y; ++j)
            for (i = 0; i < X; ++i)
                for (c = c0; c < c1; ++c) {
                    float gv;
                    acc += (double)dvren_tv_voxel(x, X, Y, Z, C, c, i, j, k, squared, &gv);
                    if (g) g[(((uint64_t)k * Y + j) * X + i) * C + c] += (float)(norm * gv);
                }
    if (sum) *sum = acc;
    return DVREN_OK;
}

static dvren_status dvren__cpu_launch_adam(dvren_context* ctx, float* x, float* m, float* v, const float* g, uint64_t n,
                                           const float h[7])
{
    uint64_t j;
    (void)ctx;
    for (j = 0; j < n; ++j) dvren_adam_elem(x + j, m + j, v + j, g[j], h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    return DVREN_OK;
}

static dvren_status dvren__cpu_launch_sgd(dvren_context* ctx, float* x, float* buf, const float* g, uint64_t n,
                                          const float h[3])
{
    uint64_t j;
    (void)ctx;
    for (j = 0; j < n; ++j) dvren_sgd_elem(x + j, buf + j, g[j], h[0], h[1], h[2]);
    return DVREN_OK;
}

static dvren_status dvren__cpu_launch_absmax(dvren_context* ctx, uint32_t count, const float* const* a, const uint64_t* n,
                                             float* out)
{
    float m = 0.0f;
    uint32_t k;
    uint64_t j;
    (void)ctx;
    for (k = 0; k < count; ++k)
        for (j = 0; j < n[k]; ++j) {
            float v = fabsf(a[k][j]);
            if (!(v <= 3.0e38f)) { /* inf or NaN */
                *out = INFINITY;
                return DVREN_OK;
            }
            if (v > m) m = v;
        }
    *out = m;
    return DVREN_OK;
}

static dvren_status dvren__cpu_launch_fixed_finalize(dvren_context* ctx, int64_t* fixed, float* g, uint64_t n, double unit)
{
    uint64_t j;
    (void)ctx;
    for (j = 0; j < n; ++j) {
        if (fixed[j]) g[j] += (float)((double)fixed[j] * unit);
        fixed[j] = 0;
    }
    return DVREN_OK;
}

/* ---- the splat pipeline (>>splats; kernels/dvren_splat.h) ------------------------------
 * forward: project each Gaussian and count its tiles; prefix sum; emit
 * (tile, depth, Gaussian) per pair in Gaussian order; a counting sort by
 * tile (stable) then a stable merge sort of each tile's depths: entries
 * are ordered by (tile, depth, Gaussian); composite each tile's pixels.
 * backward: each tile replays its pixels into its entries' slots; each
 * Gaussian sums its pairs' slots in emission order and runs the projection
 * backward. */
typedef struct dvren__cpu_splat {
    const dvren__splat_job* J;
    dvren__splat_proj_32* proj;
    uint32_t *offsets, *etile, *edepth, *egid, *skey, *sval, *skey2, *sval2, *gids, *ranges, *last, *inv;
    float *pT, *pdacc, *slots;
    uint32_t K;
} dvren__cpu_splat;

static void dvren__cpu_splat_project(void* u, uint32_t i)
{
    dvren__cpu_splat* S = (dvren__cpu_splat*)u;
    const dvren__splat_job* J = S->J;
    uint32_t x0, y0, x1, y1, n = 0;
    if (dvren__splat_project_32(&J->view, J->means + 3 * (size_t)i, J->log_scales + 3 * (size_t)i,
                                J->quats + 4 * (size_t)i, J->logits[i], J->sh + 3 * (size_t)S->K * i, &S->proj[i]))
        n = dvren__splat_tile_rect_32(&J->view, &S->proj[i], &x0, &y0, &x1, &y1);
    S->offsets[i] = n;
}

static void dvren__cpu_splat_emit(void* u, uint32_t i)
{
    dvren__cpu_splat* S = (dvren__cpu_splat*)u;
    uint32_t x0, y0, x1, y1, x, y, e = S->offsets[i], bits;
    if (S->offsets[i + 1] == e) return;
    dvren__splat_tile_rect_32(&S->J->view, &S->proj[i], &x0, &y0, &x1, &y1);
    bits = dvren__float_to_bits(S->proj[i].depth); /* depth > 0: its bits order like the value */
    for (y = y0; y < y1; ++y)
        for (x = x0; x < x1; ++x, ++e) {
            S->etile[e] = y * S->J->view.tiles_x + x;
            S->edepth[e] = bits;
            S->egid[e] = i;
        }
}

/* Stable sort of one tile's entries by depth bits: insertion sort for short
 * lists, bottom-up merge sort with the scratch arrays otherwise. */
static void dvren__cpu_splat_sort_tile(void* u, uint32_t t)
{
    dvren__cpu_splat* S = (dvren__cpu_splat*)u;
    uint32_t s = S->ranges[2 * t], e = S->ranges[2 * t + 1], n = e - s, w, i;
    uint32_t *k = S->skey + s, *v = S->sval + s, *k2 = S->skey2 + s, *v2 = S->sval2 + s;
    if (n < 2) return;
    if (n <= 32) {
        for (i = 1; i < n; ++i) {
            uint32_t kk = k[i], vv = v[i], j = i;
            while (j > 0 && k[j - 1] > kk) {
                k[j] = k[j - 1];
                v[j] = v[j - 1];
                --j;
            }
            k[j] = kk;
            v[j] = vv;
        }
        return;
    }
    for (w = 1; w < n; w *= 2) {
        uint32_t lo;
        for (lo = 0; lo < n; lo += 2 * w) {
            uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                if (k[b] < k[a]) {
                    k2[o] = k[b];
                    v2[o++] = v[b++];
                } else {
                    k2[o] = k[a];
                    v2[o++] = v[a++];
                }
            }
            while (a < mid) {
                k2[o] = k[a];
                v2[o++] = v[a++];
            }
            while (b < hi) {
                k2[o] = k[b];
                v2[o++] = v[b++];
            }
        }
        { uint32_t* t2 = k; k = k2; k2 = t2; t2 = v; v = v2; v2 = t2; }
    }
    if (k != S->skey + s) {
        memcpy(S->skey + s, k, (size_t)n * 4);
        memcpy(S->sval + s, v, (size_t)n * 4);
    }
}

static void dvren__cpu_splat_raster(void* u, uint32_t t)
{
    dvren__cpu_splat* S = (dvren__cpu_splat*)u;
    const dvren__splat_job* J = S->J;
    const dvren_splat_view* V = &J->view;
    const dvren_fb_view* fb = &J->fb;
    uint32_t tx = t % V->tiles_x, ty = t / V->tiles_x, x, y, s = S->ranges[2 * t], e = S->ranges[2 * t + 1];
    uint32_t x1 = (tx + 1) * DVREN_SPLAT_TILE < V->width ? (tx + 1) * DVREN_SPLAT_TILE : V->width;
    uint32_t y1 = (ty + 1) * DVREN_SPLAT_TILE < V->height ? (ty + 1) * DVREN_SPLAT_TILE : V->height;
    for (y = ty * DVREN_SPLAT_TILE; y < y1; ++y)
        for (x = tx * DVREN_SPLAT_TILE; x < x1; ++x) {
            dvren__splat_px_32 o;
            size_t pix = (size_t)y * V->width + x;
            float a;
            dvren__splat_pixel_32(V, S->proj, S->gids, s, e, x, y, &o);
            a = 1.0f - o.T;
            if (fb->rgb) {
                fb->rgb[3 * pix] = o.rgb[0];
                fb->rgb[3 * pix + 1] = o.rgb[1];
                fb->rgb[3 * pix + 2] = o.rgb[2];
            }
            if (fb->alpha) fb->alpha[pix] = a;
            if (fb->transmittance) fb->transmittance[pix] = o.T;
            if (fb->depth) fb->depth[pix] = a > 0.0f ? o.depth_acc / a : 0.0f;
            if (fb->median_depth) fb->median_depth[pix] = o.median;
            if (fb->samples) fb->samples[pix] = o.count;
            S->pT[pix] = o.T;
            S->pdacc[pix] = o.depth_acc;
            S->last[pix] = o.last;
        }
}

static void dvren__cpu_splat_replay(void* u, uint32_t t)
{
    dvren__cpu_splat* S = (dvren__cpu_splat*)u;
    const dvren__splat_job* J = S->J;
    const dvren_splat_view* V = &J->view;
    uint32_t tx = t % V->tiles_x, ty = t / V->tiles_x, x, y, s = S->ranges[2 * t];
    uint32_t x1 = (tx + 1) * DVREN_SPLAT_TILE < V->width ? (tx + 1) * DVREN_SPLAT_TILE : V->width;
    uint32_t y1 = (ty + 1) * DVREN_SPLAT_TILE < V->height ? (ty + 1) * DVREN_SPLAT_TILE : V->height;
    if (S->ranges[2 * t + 1] == s) return;
    for (y = ty * DVREN_SPLAT_TILE; y < y1; ++y)
        for (x = tx * DVREN_SPLAT_TILE; x < x1; ++x) {
            size_t pix = (size_t)y * V->width + x;
            float vrgb[3] = {0.0f, 0.0f, 0.0f}, va = 0.0f, vd = 0.0f;
            if (J->cot_rgb) {
                vrgb[0] = J->cot_rgb[3 * pix];
                vrgb[1] = J->cot_rgb[3 * pix + 1];
                vrgb[2] = J->cot_rgb[3 * pix + 2];
            }
            if (J->cot_alpha) va = J->cot_alpha[pix];
            if (J->cot_depth) vd = J->cot_depth[pix];
            dvren__splat_pixel_bwd_32(V, S->proj, S->gids, s, S->last[pix], x, y, S->pT[pix], S->pdacc[pix], vrgb, va,
                                      vd, S->slots + (size_t)s * DVREN_SPLAT_GRAD_FLOATS);
        }
}

static void dvren__cpu_splat_gather(void* u, uint32_t i)
{
    dvren__cpu_splat* S = (dvren__cpu_splat*)u;
    const dvren__splat_job* J = S->J;
    float gp[DVREN_SPLAT_GRAD_FLOATS];
    uint32_t e, c, K = S->K;
    if (J->g_means) memset(J->g_means + 3 * (size_t)i, 0, 12);
    if (J->g_log_scales) memset(J->g_log_scales + 3 * (size_t)i, 0, 12);
    if (J->g_quats) memset(J->g_quats + 4 * (size_t)i, 0, 16);
    if (J->g_logits) J->g_logits[i] = 0.0f;
    if (J->g_sh) memset(J->g_sh + 3 * (size_t)K * i, 0, 12 * (size_t)K);
    if (S->offsets[i + 1] == S->offsets[i]) return; /* culled, or on no tile */
    memset(gp, 0, sizeof gp);
    for (e = S->offsets[i]; e < S->offsets[i + 1]; ++e) {
        const float* s = S->slots + (size_t)S->inv[e] * DVREN_SPLAT_GRAD_FLOATS;
        for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) gp[c] += s[c];
    }
    dvren__splat_project_bwd_32(&J->view, J->means + 3 * (size_t)i, J->log_scales + 3 * (size_t)i,
                                J->quats + 4 * (size_t)i, J->logits[i], J->sh + 3 * (size_t)K * i, gp,
                                J->g_means ? J->g_means + 3 * (size_t)i : NULL,
                                J->g_log_scales ? J->g_log_scales + 3 * (size_t)i : NULL,
                                J->g_quats ? J->g_quats + 4 * (size_t)i : NULL, J->g_logits ? J->g_logits + i : NULL,
                                J->g_sh ? J->g_sh + 3 * (size_t)K * i : NULL);
}

static dvren_status dvren__cpu_launch_splats(dvren_splat_renderer* r, const dvren__splat_job* J, int backward)
{
    dvren_context* ctx = r->ctx;
    const dvren_splat_view* V = &J->view;
    uint32_t n = V->count, tiles = V->tiles_x * V->tiles_y, i, t;
    size_t pixels = (size_t)V->width * V->height;
    uint64_t m;
    dvren__cpu_splat S;
    void* p;
    memset(&S, 0, sizeof S);
    S.J = J;
    S.K = (V->sh_degree + 1u) * (V->sh_degree + 1u);
#define DVREN__WS(slot, bytes, T, dst)                                                                                 \
    do {                                                                                                               \
        DVREN__TRY(dvren__splat_ws(r, (slot), (bytes), &p));                                                         \
        (dst) = (T*)p;                                                                                                 \
    } while (0)
    DVREN__WS(DVREN__SW_PROJ, (size_t)n * sizeof(dvren__splat_proj_32), dvren__splat_proj_32, S.proj);
    DVREN__WS(DVREN__SW_OFFSETS, ((size_t)n + 1) * 4, uint32_t, S.offsets);
    DVREN__WS(DVREN__SW_RANGES, (size_t)tiles * 8, uint32_t, S.ranges);
    DVREN__WS(DVREN__SW_PIX_T, pixels * 4, float, S.pT);
    DVREN__WS(DVREN__SW_PIX_DACC, pixels * 4, float, S.pdacc);
    DVREN__WS(DVREN__SW_PIX_LAST, pixels * 4, uint32_t, S.last);
    if (!backward) {
        dvren__cpu_for(ctx, J->threads, n, 1024, dvren__cpu_splat_project, &S, NULL, NULL, NULL);
        /* exclusive prefix sum of the tile counts */
        for (m = 0, i = 0; i < n; ++i) {
            uint32_t c = S.offsets[i];
            S.offsets[i] = (uint32_t)m;
            m += c;
            if (m > 0xFFFFFFF0ull)
                return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splats", "render smaller or fewer Gaussians",
                                       "more than 2^32 (Gaussian, tile) pairs");
        }
        S.offsets[n] = (uint32_t)m;
        r->intersections = m;
        DVREN__WS(DVREN__SW_ETILE, (size_t)m * 4, uint32_t, S.etile);
        DVREN__WS(DVREN__SW_EDEPTH, (size_t)m * 4, uint32_t, S.edepth);
        DVREN__WS(DVREN__SW_EGID, (size_t)m * 4, uint32_t, S.egid);
        DVREN__WS(DVREN__SW_SKEY, (size_t)m * 4, uint32_t, S.skey);
        DVREN__WS(DVREN__SW_SVAL, (size_t)m * 4, uint32_t, S.sval);
        DVREN__WS(DVREN__SW_SKEY2, (size_t)m * 4, uint32_t, S.skey2);
        DVREN__WS(DVREN__SW_SVAL2, (size_t)m * 4, uint32_t, S.sval2);
        DVREN__WS(DVREN__SW_GIDS, (size_t)m * 4, uint32_t, S.gids);
        dvren__cpu_for(ctx, J->threads, n, 1024, dvren__cpu_splat_emit, &S, NULL, NULL, NULL);
        for (r->visible = 0, i = 0; i < n; ++i) r->visible += S.proj[i].rx > 0;
        /* counting sort by tile (stable: pairs keep Gaussian order) */
        memset(S.ranges, 0, (size_t)tiles * 8);
        for (i = 0; i < (uint32_t)m; ++i) S.ranges[2 * S.etile[i] + 1]++;
        for (m = 0, t = 0; t < tiles; ++t) {
            uint32_t c = S.ranges[2 * t + 1];
            S.ranges[2 * t] = (uint32_t)m;
            S.ranges[2 * t + 1] = (uint32_t)m;
            m += c;
        }
        for (i = 0; i < (uint32_t)m; ++i) {
            uint32_t k = S.ranges[2 * S.etile[i] + 1]++;
            S.skey[k] = S.edepth[i];
            S.sval[k] = i;
        }
        dvren__cpu_for(ctx, J->threads, tiles, 16, dvren__cpu_splat_sort_tile, &S, NULL, NULL, NULL);
        for (i = 0; i < (uint32_t)m; ++i) S.gids[i] = S.egid[S.sval[i]];
        dvren__cpu_for(ctx, J->threads, tiles, 4, dvren__cpu_splat_raster, &S, NULL, NULL, NULL);
        return DVREN_OK;
    }
    m = r->intersections;
    DVREN__WS(DVREN__SW_SVAL, (size_t)m * 4, uint32_t, S.sval);
    DVREN__WS(DVREN__SW_GIDS, (size_t)m * 4, uint32_t, S.gids);
    DVREN__WS(DVREN__SW_SLOTS, (size_t)m * 4 * DVREN_SPLAT_GRAD_FLOATS, float, S.slots);
    DVREN__WS(DVREN__SW_INV, (size_t)m * 4, uint32_t, S.inv);
    memset(S.slots, 0, (size_t)m * 4 * DVREN_SPLAT_GRAD_FLOATS);
    dvren__cpu_for(ctx, J->threads, tiles, 4, dvren__cpu_splat_replay, &S, NULL, NULL, NULL);
    for (i = 0; i < (uint32_t)m; ++i) S.inv[S.sval[i]] = i;
    dvren__cpu_for(ctx, J->threads, n, 1024, dvren__cpu_splat_gather, &S, NULL, NULL, NULL);
#undef DVREN__WS
    return DVREN_OK;
}

/* ---- marching cubes (launch_mc) ------------------------------------------------------------
 * Two passes over slabs of DVREN__MC_SLAB z slices (kernels/dvren_mc.h),
 * spread over the context's threads: counts per slice (the vertices of the
 * slice's samples' own edges, the triangles and centre vertices of its
 * cells), offsets by a prefix sum, then each slice writes its vertices and
 * its cells' triangles at its offsets. A slab keeps the inside bits of the
 * slices it is on (a cell is looked at only when its corners differ) and,
 * while writing, the numbering of two slices: each sample's first vertex
 * with its edge bits (the packing of kernels/dvren_cuda_mc.h), through
 * which a cell finds the vertex of each of its edges. The order does not
 * depend on the thread count. */
#define DVREN__MC_SLAB 8u
typedef struct dvren__cpu_mc {
    dvren_context* ctx;
    const dvren_mc_grid* G;
    uint64_t* nv; /* per slice: vertices, then their first index */
    uint64_t* nt; /* per slice: triangles, then their first index */
    uint64_t* na; /* per slice: active cells */
    uint64_t* nc; /* per slice: centre vertices, then their first index (after every edge's) */
    dvren_mesh* out;
    int normals;
    volatile uint32_t failed;
} dvren__cpu_mc;

/* inside bits of slice z (0 past the grid) */
static void dvren__cpu_mc_bits(const dvren_mc_grid* G, uint32_t z, uint8_t* b)
{
    size_t i, plane = (size_t)G->nx * G->ny;
    const float* v = G->g + (size_t)z * plane;
    if (z >= G->nz) {
        memset(b, 0, plane);
        return;
    }
    if (G->sign > 0.0f)
        for (i = 0; i < plane; ++i) b[i] = (uint8_t)(v[i] - G->level > 0.0f);
    else
        for (i = 0; i < plane; ++i) b[i] = (uint8_t)((v[i] - G->level) * G->sign > 0.0f);
}

/* edge bits of sample (x, y) of slice z from the bits of slices z (b0) and z + 1 (b1) */
static uint32_t dvren__cpu_mc_edges(const dvren_mc_grid* G, const uint8_t* b0, const uint8_t* b1, uint32_t z, uint32_t x,
                                    uint32_t y)
{
    size_t i = (size_t)y * G->nx + x;
    uint32_t m = 0, in = b0[i];
    if (x + 1 < G->nx && b0[i + 1] != in) m |= 1u;
    if (y + 1 < G->ny && b0[i + G->nx] != in) m |= 2u;
    if (z + 1 < G->nz && b1[i] != in) m |= 4u;
    return m;
}

/* inside mask of cell (x, y) between slices with bits b0 and b1 */
static uint32_t dvren__cpu_mc_mask(const dvren_mc_grid* G, const uint8_t* b0, const uint8_t* b1, uint32_t x, uint32_t y)
{
    size_t i = (size_t)y * G->nx + x, j = i + G->nx;
    return (uint32_t)b0[i] | ((uint32_t)b0[i + 1] << 1) | ((uint32_t)b0[j] << 2) | ((uint32_t)b0[j + 1] << 3) |
           ((uint32_t)b1[i] << 4) | ((uint32_t)b1[i + 1] << 5) | ((uint32_t)b1[j] << 6) | ((uint32_t)b1[j + 1] << 7);
}

static void dvren__cpu_mc_count(void* user, uint32_t slab)
{
    dvren__cpu_mc* M = (dvren__cpu_mc*)user;
    const dvren_mc_grid* G = M->G;
    size_t plane = (size_t)G->nx * G->ny;
    uint32_t z0 = slab * DVREN__MC_SLAB, z1 = z0 + DVREN__MC_SLAB < G->nz ? z0 + DVREN__MC_SLAB : G->nz, z, x, y;
    uint8_t* b = (uint8_t*)dvren__alloc(M->ctx, 2 * plane);
    float f[8];
    if (!b) {
        dvren__atomic_store(&M->failed, 1u);
        return;
    }
    dvren__cpu_mc_bits(G, z0, b);
    for (z = z0; z < z1; ++z) {
        uint8_t *b0 = b + (size_t)((z - z0) & 1u) * plane, *b1 = b + (size_t)((z - z0 + 1) & 1u) * plane;
        uint64_t v = 0, t = 0, act = 0, c = 0;
        uint32_t nc;
        dvren__cpu_mc_bits(G, z + 1, b1);
        for (y = 0; y < G->ny; ++y)
            for (x = 0; x < G->nx; ++x) {
                v += dvren_mc_popc3(dvren__cpu_mc_edges(G, b0, b1, z, x, y));
                if (x + 1 < G->nx && y + 1 < G->ny && z + 1 < G->nz) {
                    uint32_t in = dvren__cpu_mc_mask(G, b0, b1, x, y), k;
                    if (in == 0u || in == 255u) continue;
                    k = dvren_mc_cell_triangles(f, dvren_mc_cell_load(G, x, y, z, f), NULL, &nc, NULL, NULL);
                    t += k;
                    act += k > 0;
                    c += nc;
                }
            }
        M->nv[z] = v;
        M->nt[z] = t;
        M->na[z] = act;
        M->nc[z] = c;
    }
    dvren__free(M->ctx, b, 2 * plane);
}

/* first vertex of each sample of slice z (bits 0..28) and its edge bits (29..31) */
static void dvren__cpu_mc_number(const dvren_mc_grid* G, const uint8_t* b0, const uint8_t* b1, uint32_t z, uint64_t first,
                                 uint32_t* vb)
{
    uint32_t x, y, i = 0;
    for (y = 0; y < G->ny; ++y)
        for (x = 0; x < G->nx; ++x, ++i) {
            uint32_t m = dvren__cpu_mc_edges(G, b0, b1, z, x, y);
            vb[i] = (uint32_t)first | (m << 29);
            first += dvren_mc_popc3(m);
        }
}

static void dvren__cpu_mc_emit(void* user, uint32_t slab)
{
    dvren__cpu_mc* M = (dvren__cpu_mc*)user;
    const dvren_mc_grid* G = M->G;
    dvren_mesh* out = M->out;
    size_t plane = (size_t)G->nx * G->ny, bytes = 3 * plane + 2 * plane * sizeof(uint32_t);
    uint32_t z0 = slab * DVREN__MC_SLAB, z1 = z0 + DVREN__MC_SLAB < G->nz ? z0 + DVREN__MC_SLAB : G->nz, z, x, y, nc, cn;
    unsigned char* mem = (unsigned char*)dvren__alloc(M->ctx, bytes);
    uint8_t *bits[3], *tb;
    uint32_t *vb[2], *tv;
    float f[8];
    uint8_t local[3 * DVREN_MC_MAX_CELL_TRIANGLES], cloop[12];
    if (!mem) {
        dvren__atomic_store(&M->failed, 1u);
        return;
    }
    vb[0] = (uint32_t*)(void*)mem;
    vb[1] = vb[0] + plane;
    bits[0] = mem + 2 * plane * sizeof(uint32_t);
    bits[1] = bits[0] + plane;
    bits[2] = bits[1] + plane;
    dvren__cpu_mc_bits(G, z0, bits[0]);
    dvren__cpu_mc_bits(G, z0 + 1, bits[1]);
    dvren__cpu_mc_bits(G, z0 + 2, bits[2]);
    dvren__cpu_mc_number(G, bits[0], bits[1], z0, M->nv[z0], vb[0]);
    if (z0 + 1 < G->nz) dvren__cpu_mc_number(G, bits[1], bits[2], z0 + 1, M->nv[z0 + 1], vb[1]);
    for (z = z0; z < z1; ++z) {
        uint64_t tri = M->nt[z], center = M->nc[z];
        uint32_t i = 0;
        for (y = 0; y < G->ny; ++y)
            for (x = 0; x < G->nx; ++x, ++i) {
                uint32_t m = vb[0][i] >> 29, a, k = vb[0][i] & 0x1FFFFFFFu;
                if (!m) continue;
                for (a = 0; a < 3; ++a)
                    if ((m >> a) & 1u) {
                        dvren_mc_vertex(G, x, y, z, a, out->positions + 3 * (size_t)k,
                                        M->normals ? out->normals + 3 * (size_t)k : NULL);
                        ++k;
                    }
            }
        if (z + 1 < G->nz)
            for (y = 0; y + 1 < G->ny; ++y)
                for (x = 0; x + 1 < G->nx; ++x) {
                    uint32_t in = dvren__cpu_mc_mask(G, bits[0], bits[1], x, y), n, j;
                    if (in == 0u || in == 255u) continue;
                    n = dvren_mc_cell_triangles(f, dvren_mc_cell_load(G, x, y, z, f), local, &nc, cloop, &cn);
                    if (nc)
                        dvren_mc_center(G, x, y, z, cloop, cn, out->positions + 3 * center,
                                        M->normals ? out->normals + 3 * center : NULL);
                    for (j = 0; j < 3 * n; ++j) {
                        uint32_t e = local[j], o, a, w;
                        if (e == DVREN_MC_CENTER) {
                            out->triangles[3 * tri + j] = (uint32_t)center;
                            continue;
                        }
                        o = dvren_mc_edge_owner(e);
                        a = e >> 2;
                        w = vb[(o >> 2) & 1u][(size_t)(y + ((o >> 1) & 1u)) * G->nx + x + (o & 1u)];
                        out->triangles[3 * tri + j] = (w & 0x1FFFFFFFu) + dvren_mc_popc3((w >> 29) & ((1u << a) - 1u));
                    }
                    tri += n;
                    center += nc;
                }
        /* roll: slice z + 1 becomes the first; number z + 2 */
        tb = bits[0];
        bits[0] = bits[1];
        bits[1] = bits[2];
        bits[2] = tb;
        tv = vb[0];
        vb[0] = vb[1];
        vb[1] = tv;
        if (z + 1 < z1) {
            dvren__cpu_mc_bits(G, z + 3, bits[2]);
            if (z + 2 < G->nz) dvren__cpu_mc_number(G, bits[1], bits[2], z + 2, M->nv[z + 2], vb[1]);
        }
    }
    dvren__free(M->ctx, mem, bytes);
}

static dvren_status dvren__cpu_launch_mc(dvren_context* ctx, const dvren_mc_grid* G, int normals, dvren_mesh* out,
                                         dvren_mc_stats* stats)
{
    dvren__cpu_mc M;
    uint64_t v = 0, t = 0, a = 0, c = 0, tmp;
    uint32_t z;
    double t0 = dvren__now_ms();
    dvren_status status = DVREN_OK;
    memset(&M, 0, sizeof M);
    M.ctx = ctx;
    M.G = G;
    M.out = out;
    M.normals = normals;
    M.nv = (uint64_t*)dvren__calloc(ctx, (size_t)G->nz * 4 * sizeof(uint64_t));
    if (!M.nv) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "marching_cubes", NULL, "out of memory");
    M.nt = M.nv + G->nz;
    M.na = M.nt + G->nz;
    M.nc = M.na + G->nz;
    dvren__cpu_for(ctx, 0, (G->nz + DVREN__MC_SLAB - 1) / DVREN__MC_SLAB, 1, dvren__cpu_mc_count, &M, NULL, NULL, NULL);
    if (M.failed) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "marching_cubes", NULL, "out of memory");
    for (z = 0; z < G->nz; ++z) {
        tmp = M.nv[z];
        M.nv[z] = v;
        v += tmp;
        tmp = M.nt[z];
        M.nt[z] = t;
        t += tmp;
        a += M.na[z];
    }
    for (z = 0; z < G->nz; ++z) { /* centre vertices after the edges' */
        tmp = M.nc[z];
        M.nc[z] = v + c;
        c += tmp;
    }
    v += c;
    if (v >= DVREN_MC_MAX_VERTICES || t > 0x7FFFFFFFu)
        DVREN__FAIL(ctx, DVREN_ERROR_UNSUPPORTED, "marching_cubes", "extract the surface in blocks",
                    "%llu vertices and %llu triangles: at most 2^29 and 2^31 - 1", (unsigned long long)v,
                    (unsigned long long)t);
    DVREN__CHECK(dvren_mesh_alloc(ctx, (uint32_t)v, (uint32_t)t, normals ? DVREN_MESH_NORMALS : 0u, out));
    dvren__cpu_for(ctx, 0, (G->nz + DVREN__MC_SLAB - 1) / DVREN__MC_SLAB, 1, dvren__cpu_mc_emit, &M, NULL, NULL, NULL);
    if (M.failed) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "marching_cubes", NULL, "out of memory");
    stats->active_cells = a;
    stats->ms_device = dvren__now_ms() - t0;
cleanup:
    dvren__free(ctx, M.nv, (size_t)G->nz * 4 * sizeof(uint64_t));
    return status;
}

static const dvren_backend* dvren__cpu_backend(void)
{
    static const dvren_backend be = {
        sizeof(dvren_backend), "cpu", DVREN_DEVICE_CPU, DVREN_MEMORY_HOST,
        dvren__cpu_init, dvren__cpu_shutdown, dvren__cpu_synchronize,
        dvren__cpu_mem_alloc, dvren__cpu_mem_free, dvren__cpu_mem_copy, dvren__cpu_mem_zero,
        dvren__cpu_mem_place, dvren__cpu_mem_unplace, dvren__cpu_mem_stage, dvren__cpu_mem_available,
        dvren__cpu_scene_init, dvren__cpu_scene_shutdown, dvren__cpu_launch_march,
        dvren__cpu_launch_loss, dvren__cpu_launch_tv, dvren__cpu_launch_adam, dvren__cpu_launch_sgd,
        dvren__cpu_launch_absmax, dvren__cpu_launch_fixed_finalize, NULL, dvren__cpu_launch_splats,
        dvren__cpu_launch_mc};
    return &be;
}

/* ======================================================================== */
/* >>register (implementation)                                              */
/* ======================================================================== */

DVREN_API const char* dvren_cfa_name(dvren_cfa cfa)
{
    switch (cfa) {
    case DVREN_CFA_NONE: return "NONE";
    case DVREN_CFA_RGGB: return "RGGB";
    case DVREN_CFA_BGGR: return "BGGR";
    case DVREN_CFA_GRBG: return "GRBG";
    case DVREN_CFA_GBRG: return "GBRG";
    case DVREN_CFA_XTRANS: return "XTRANS";
    default: return "invalid";
    }
}

DVREN_API dvren_status dvren_cfa_parse(dvren_context* ctx, const char* text, dvren_cfa* cfa)
{
    static const char* const names[] = {"none", "rggb", "bggr", "grbg", "gbrg", "xtrans"};
    char low[16];
    size_t i, n;
    if (!text || !cfa) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cfa", NULL, "NULL argument");
    n = strlen(text);
    if (n < sizeof low) {
        for (i = 0; i <= n; ++i) low[i] = (char)((text[i] >= 'A' && text[i] <= 'Z') ? text[i] - 'A' + 'a' : text[i]);
        if (strcmp(low, "x-trans") == 0) strcpy(low, "xtrans");
        for (i = 0; i < sizeof names / sizeof names[0]; ++i)
            if (strcmp(low, names[i]) == 0) {
                *cfa = (dvren_cfa)i;
                return DVREN_OK;
            }
    }
    return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cfa", "use none, RGGB, BGGR, GRBG, GBRG or xtrans",
                           "unknown CFA pattern '%.40s'", text);
}

DVREN_API void dvren_cfa_xtrans_default(uint8_t layout[36])
{
    /* rows of the 6 x 6 cell: G B G G R G / R G R B G B / G B G G R G /
     * G R G G B G / B G B R G R / G R G G B G */
    static const char rows[] = "GBGGRGRGRBGBGBGGRGGRGGBGBGBRGRGRGGBG";
    int i;
    for (i = 0; i < 36; ++i) layout[i] = (uint8_t)(rows[i] == 'R' ? 0 : rows[i] == 'G' ? 1 : 2);
}

/* The colour (0 R, 1 G, 2 B) of Bayer site (y % 2, x % 2). */
static uint8_t dvren__bayer_colour(dvren_cfa cfa, uint32_t k)
{
    static const char* const cells[] = {"RGGB", "BGGR", "GRBG", "GBRG"};
    char c = cells[cfa - DVREN_CFA_RGGB][k];
    return (uint8_t)(c == 'R' ? 0 : c == 'G' ? 1 : 2);
}

DVREN_API dvren_status dvren_register_layout_of(dvren_context* ctx, const dvren_register_input* in,
                                                dvren_register_layout* L)
{
    uint32_t k, p;
    uint8_t xt[36];
    int all_zero = 1;
    if (!in || !L) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL, "NULL argument");
    memset(L, 0, sizeof *L);
    if (in->channels != 1 && in->channels != 3)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", "use 1 (a mosaic or grey) or 3 (RGB)",
                               "input field 'channels' is %u", (unsigned)in->channels);
    if ((uint32_t)in->cfa > (uint32_t)DVREN_CFA_XTRANS)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", "see dvren_cfa",
                               "input field 'cfa' is %u, not a known pattern", (unsigned)in->cfa);
    if (in->cfa != DVREN_CFA_NONE && in->channels != 1)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", "pass the mosaic as one channel",
                               "input field 'cfa' is %s but the image has %u channels", dvren_cfa_name(in->cfa),
                               (unsigned)in->channels);
    p = in->cfa == DVREN_CFA_NONE ? 1u : in->cfa == DVREN_CFA_XTRANS ? 6u : 2u;
    L->period = p;
    L->plane_width = in->width / p;
    L->plane_height = in->height / p;
    if (L->plane_width < 2 || L->plane_height < 2 || in->width > 65536 || in->height > 65536)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL,
                               "input fields 'width' x 'height' = %u x %u: each side must hold 2 CFA periods (%u) "
                               "and be at most 65536",
                               (unsigned)in->width, (unsigned)in->height, (unsigned)(2 * p));
    if (in->cfa == DVREN_CFA_NONE) {
        L->plane_count = in->channels == 3 && !in->grey ? 3u : 1u;
        for (k = 0; k < L->plane_count; ++k) L->colour[k] = (uint8_t)(L->plane_count == 3 ? k : 3u);
    } else if (in->cfa == DVREN_CFA_XTRANS) {
        for (k = 0; k < 36; ++k) all_zero &= in->xtrans[k] == 0;
        if (all_zero) dvren_cfa_xtrans_default(xt);
        else memcpy(xt, in->xtrans, sizeof xt);
        for (k = 0; k < 36; ++k)
            if (xt[k] > 2)
                return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", "use 0 (R), 1 (G) or 2 (B)",
                                       "input field 'xtrans[%u]' is %u", (unsigned)k, (unsigned)xt[k]);
        L->plane_count = 36;
        memcpy(L->colour, xt, 36);
    } else {
        L->plane_count = 4;
        for (k = 0; k < 4; ++k) L->colour[k] = dvren__bayer_colour(in->cfa, k);
    }
    return DVREN_OK;
}

/* One plane's estimate, in mosaic pixels, for the combination. */
typedef struct dvren__reg_est {
    double dy, dx, w;
} dvren__reg_est;

static int dvren__reg_cmp_dy(const void* a, const void* b)
{
    double x = ((const dvren__reg_est*)a)->dy, y = ((const dvren__reg_est*)b)->dy;
    return (x > y) - (x < y);
}
static int dvren__reg_cmp_dx(const void* a, const void* b)
{
    double x = ((const dvren__reg_est*)a)->dx, y = ((const dvren__reg_est*)b)->dx;
    return (x > y) - (x < y);
}

/* Weighted median of one axis (e sorted by it, n >= 1): the value where
 * the cumulative weight first reaches half the total; exactly half at an
 * element: the mean of it and the next. All weights 0: plain median. */
static double dvren__reg_wmedian(dvren__reg_est* e, uint32_t n, int axis_x)
{
    double total = 0.0, cum = 0.0;
    uint32_t i, uniform;
    qsort(e, n, sizeof *e, axis_x ? dvren__reg_cmp_dx : dvren__reg_cmp_dy);
    for (i = 0; i < n; ++i) total += e[i].w;
    uniform = !(total > 0.0);
    if (uniform) total = (double)n;
    for (i = 0; i < n; ++i) {
        double v = axis_x ? e[i].dx : e[i].dy;
        cum += uniform ? 1.0 : e[i].w;
        if (cum == 0.5 * total && i + 1 < n) return 0.5 * (v + (axis_x ? e[i + 1].dx : e[i + 1].dy));
        if (cum >= 0.5 * total) return v;
    }
    return axis_x ? e[n - 1].dx : e[n - 1].dy;
}

/* Robust combination of n estimates: the weighted median per axis, then
 * the weighted mean of the estimates within `tol` mosaic pixels of it on
 * both axes (a one-step trimmed mean: the median's robustness, the mean's
 * averaging of the agreeing planes' noise); when every estimate is a whole
 * number (the integer method), the weighted median itself (rounded down
 * where it falls between two). Returns the inliers' share of
 * the weight in *agree and their count in *inliers. */
static void dvren__reg_combine(dvren__reg_est* e, uint32_t n, double tol, double* dy, double* dx, double* agree,
                               uint32_t* inliers)
{
    double my = dvren__reg_wmedian(e, n, 0), mx = dvren__reg_wmedian(e, n, 1);
    double sw = 0.0, sy = 0.0, sx = 0.0, total = 0.0;
    uint32_t i, m = 0, uniform = 1, integral = 1;
    for (i = 0; i < n; ++i) {
        if (e[i].w > 0.0) uniform = 0;
        if (e[i].dy != floor(e[i].dy) || e[i].dx != floor(e[i].dx)) integral = 0;
    }
    for (i = 0; i < n; ++i) {
        double w = uniform ? 1.0 : e[i].w;
        total += w;
        if (fabs(e[i].dy - my) <= tol && fabs(e[i].dx - mx) <= tol) {
            sw += w;
            sy += w * e[i].dy;
            sx += w * e[i].dx;
            ++m;
        }
    }
    /* whole-pixel estimates (the integer method) stay whole: their median */
    *dy = integral ? floor(my) : sw > 0.0 ? sy / sw : my;
    *dx = integral ? floor(mx) : sw > 0.0 ? sx / sw : mx;
    *agree = total > 0.0 ? sw / total : 0.0;
    *inliers = m;
}

/* 1 - the chance that the maximum of m independent Gaussian values of
 * standard deviation `noise` reaches `peak` (a union bound; 0 when that
 * bound is 1 or the peak is not positive). */
static double dvren__reg_significance(double peak, double noise, double m)
{
    double z, p;
    if (!(peak > 0.0)) return 0.0;
    if (!(noise > 0.0)) return 1.0;
    z = peak / noise;
    p = m * 0.5 * erfc(z / sqrt(2.0));
    return p >= 1.0 ? 0.0 : 1.0 - p;
}

/* Combines one image's plane results into *res (see dvren_register). */
static void dvren__reg_finish(const dvren_register_layout* L, const dvren_register_plane* pl,
                              dvren_register_result* res)
{
    dvren__reg_est e[DVREN_REGISTER_MAX_PLANES], c[DVREN_REGISTER_MAX_PLANES];
    const double p = (double)L->period, tol = 0.5 * p > 0.5 ? 0.5 * p : 0.5;
    double agree, best = 0.0, sw = 0.0, speak = 0.0, m = (double)L->plane_width * (double)L->plane_height;
    uint32_t k, col, inliers, n;
    memset(res, 0, sizeof *res);
    res->struct_size = sizeof *res;
    res->plane_count = L->plane_count;
    for (k = 0; k < L->plane_count; ++k) {
        res->planes[k] = pl[k];
        e[k].dy = (double)pl[k].dy;
        e[k].dx = (double)pl[k].dx;
        e[k].w = pl[k].peak > 0.0f ? (double)pl[k].peak : 0.0;
    }
    memcpy(c, e, sizeof(dvren__reg_est) * L->plane_count);
    dvren__reg_combine(c, L->plane_count, tol, &res->dy, &res->dx, &agree, &inliers);
    /* peak: weight-averaged over the planes that agree; significance: the
     * most significant of them */
    for (k = 0; k < L->plane_count; ++k)
        if (fabs(e[k].dy - res->dy) <= tol && fabs(e[k].dx - res->dx) <= tol) {
            double w = e[k].w > 0.0 ? e[k].w : 0.0, s = dvren__reg_significance(pl[k].peak, pl[k].noise, m);
            sw += w;
            speak += w * (double)pl[k].peak;
            if (s > best) best = s;
        }
    res->peak = sw > 0.0 ? speak / sw : (double)pl[0].peak;
    res->confidence = agree * best;
    /* per colour */
    res->channel_count = L->colour[0] == 3 ? 1u : 3u;
    for (col = 0; col < res->channel_count; ++col) {
        double a, py = 0.0, pw = 0.0;
        n = 0;
        for (k = 0; k < L->plane_count; ++k)
            if (L->colour[k] == col || res->channel_count == 1) {
                c[n++] = e[k];
                py += e[k].w * (double)pl[k].peak;
                pw += e[k].w;
            }
        if (n == 0) continue;
        dvren__reg_combine(c, n, tol, &res->channel_dy[col], &res->channel_dx[col], &a, &inliers);
        res->channel_peak[col] = pw > 0.0 ? py / pw : 0.0;
    }
    res->cfa_dy = (int32_t)(p * floor(res->dy / p + 0.5));
    res->cfa_dx = (int32_t)(p * floor(res->dx / p + 0.5));
    res->cfa_aligned = fabs(res->dy - res->cfa_dy) <= 0.05 && fabs(res->dx - res->cfa_dx) <= 0.05;
}

DVREN_API dvren_status dvren_register(dvren_stage* model, const dvren_register_input* input,
                                      dvren_register_result* results, dvren_register_report* report)
{
    dvren_context* ctx;
    const dvren__plugin_rec* r;
    dvren_register_input in;
    dvren_register_report rep;
    dvren_register_plane* planes = NULL;
    size_t planes_bytes = 0;
    double t0 = dvren__now_ms();
    uint32_t i;
    dvren_status status = DVREN_OK;
    if (!model || !input || !results)
        return dvren_set_error(model ? model->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL,
                               "NULL argument");
    ctx = model->ctx;
    r = model->rec;
    if (r->desc->kind != DVREN_PLUGIN_REGISTRATION)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register",
                               "create it with kind DVREN_PLUGIN_REGISTRATION", "stage '%s' is a %s, not a registration model",
                               r->desc->name, dvren_plugin_kind_name(r->desc->kind));
    if (input->struct_size < offsetof(dvren_register_input, memory_limit) + sizeof(input->memory_limit))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", "set struct_size = sizeof(dvren_register_input)",
                               "input: struct_size %u too small", (unsigned)input->struct_size);
    memset(&in, 0, sizeof in);
    memcpy(&in, input, input->struct_size < sizeof in ? input->struct_size : sizeof in);
    in.struct_size = sizeof in;
    if (in.dtype != DVREN_DTYPE_U8 && in.dtype != DVREN_DTYPE_U16 && in.dtype != DVREN_DTYPE_F32)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", "use u8, u16 or f32",
                               "input field 'dtype' is %s", dvren_dtype_name(in.dtype));
    if (in.count < 1 || !in.moving)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL,
                               "input field 'count' is %u and 'moving' is %s: at least one moving image is needed",
                               (unsigned)in.count, in.moving ? "set" : "NULL");
    if (!in.reference)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL, "input field 'reference' is NULL");
    for (i = 0; i < in.count; ++i)
        if (!in.moving[i])
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL,
                                   "input field 'moving[%u]' is NULL", (unsigned)i);
    if (in.memory != DVREN_MEMORY_HOST && in.memory != DVREN_MEMORY_DEVICE)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL, "input field 'memory' is %d",
                               (int)in.memory);
    if (in.memory == DVREN_MEMORY_DEVICE && ctx->be->memory == DVREN_MEMORY_HOST)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "register", NULL,
                               "the images are in device memory but the context computes on the CPU");
    DVREN__CHECK(dvren_register_layout_of(ctx, &in, &in.layout));
    planes_bytes = (size_t)in.count * in.layout.plane_count * sizeof *planes;
    planes = (dvren_register_plane*)dvren__calloc(ctx, planes_bytes);
    if (!planes) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "register", NULL, "out of memory");
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    ctx->last_error[0] = 0;
    status = r->registration.align(&model->rec->host, model->instance, &in, planes, &rep);
    if (status != DVREN_OK) {
        if (!ctx->last_error[0])
            dvren_set_error(ctx, status, r->desc->name, NULL, "align() failed with %s", dvren_status_string(status));
        goto cleanup;
    }
    for (i = 0; i < in.count * in.layout.plane_count; ++i)
        if (!isfinite(planes[i].dy) || !isfinite(planes[i].dx) || !isfinite(planes[i].peak) || !isfinite(planes[i].noise))
            DVREN__FAIL(ctx, DVREN_ERROR_PLUGIN, r->desc->name, NULL,
                        "model '%s' returned a non-finite shift or peak for image %u, plane %u", r->desc->name,
                        (unsigned)(i / in.layout.plane_count), (unsigned)(i % in.layout.plane_count));
    for (i = 0; i < in.count; ++i) dvren__reg_finish(&in.layout, planes + (size_t)i * in.layout.plane_count, &results[i]);
    rep.milliseconds = dvren__now_ms() - t0;
    if (report) {
        uint32_t sz = report->struct_size && report->struct_size < sizeof rep ? report->struct_size : (uint32_t)sizeof rep;
        memcpy(report, &rep, sz);
        report->struct_size = sz;
    }
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP,
              "registration '%s': %u moving images of %ux%u (%s, %u planes), batches of %u (%u), %.1f ms (%s)",
              r->desc->name, (unsigned)in.count, (unsigned)in.width, (unsigned)in.height, dvren_cfa_name(in.cfa),
              (unsigned)in.layout.plane_count, (unsigned)rep.batch_size, (unsigned)rep.batches, rep.milliseconds,
              ctx->be->name);
cleanup:
    if (planes) dvren__free(ctx, planes, planes_bytes);
    return status;
}

/* ======================================================================== */
/* >>meshes (implementation)                                                */
/* ======================================================================== */
/* The extraction itself is a backend hook (launch_mc: the CPU's in >>cpu,
 * CUDA's in dvren_cuda.h), both running kernels/dvren_mc.h; here are the
 * public functions' checks, the mesh's memory, and the host-side sampling
 * and shading through the plugins' CPU code. */

DVREN_API dvren_status dvren_mesh_alloc(dvren_context* ctx, uint32_t vertex_count, uint32_t triangle_count,
                                        uint32_t flags, dvren_mesh* out)
{
    dvren_mesh m;
    size_t v3 = (size_t)vertex_count * 3 * sizeof(float);
    if (!ctx || !out) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh", NULL, "NULL argument");
    if (vertex_count > 0x80000000u || triangle_count > 0x80000000u)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh", NULL,
                               "%u vertices and %u triangles: at most 2^31 each", (unsigned)vertex_count,
                               (unsigned)triangle_count);
    memset(&m, 0, sizeof m);
    m.vertex_count = vertex_count;
    m.triangle_count = triangle_count;
    if (vertex_count) {
        m.positions = (float*)dvren__calloc(ctx, v3);
        if (flags & DVREN_MESH_NORMALS) m.normals = (float*)dvren__calloc(ctx, v3);
        if (flags & DVREN_MESH_COLORS) m.colors = (float*)dvren__calloc(ctx, v3);
    }
    if (triangle_count) m.triangles = (uint32_t*)dvren__calloc(ctx, (size_t)triangle_count * 3 * sizeof(uint32_t));
    if ((vertex_count && (!m.positions || ((flags & DVREN_MESH_NORMALS) && !m.normals) ||
                          ((flags & DVREN_MESH_COLORS) && !m.colors))) ||
        (triangle_count && !m.triangles)) {
        dvren_mesh_free(ctx, &m);
        return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh", NULL,
                               "out of memory for %u vertices and %u triangles", (unsigned)vertex_count,
                               (unsigned)triangle_count);
    }
    *out = m;
    return DVREN_OK;
}

DVREN_API void dvren_mesh_free(dvren_context* ctx, dvren_mesh* mesh)
{
    size_t v3;
    if (!mesh) return;
    v3 = (size_t)mesh->vertex_count * 3 * sizeof(float);
    if (ctx) {
        if (mesh->positions) dvren__free(ctx, mesh->positions, v3);
        if (mesh->normals) dvren__free(ctx, mesh->normals, v3);
        if (mesh->colors) dvren__free(ctx, mesh->colors, v3);
        if (mesh->triangles) dvren__free(ctx, mesh->triangles, (size_t)mesh->triangle_count * 3 * sizeof(uint32_t));
    }
    memset(mesh, 0, sizeof *mesh);
}

DVREN_API dvren_status dvren_marching_cubes(dvren_context* ctx, const dvren_tensor* grid, const dvren_mc_options* opt,
                                            dvren_mesh* out, dvren_mc_stats* stats)
{
    dvren_mc_grid G;
    dvren_mc_stats st;
    const void* addr = NULL;
    double t0;
    uint64_t n;
    uint32_t i;
    dvren_status status;
    if (out) memset(out, 0, sizeof *out);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!ctx || !grid || !opt || !out)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL, "NULL argument");
    t0 = dvren__now_ms();
    if (grid->dtype != DVREN_DTYPE_F32)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", "convert the samples to float32",
                               "grid: dtype %s, expected f32", dvren_dtype_name(grid->dtype));
    if (!(grid->ndim == 3 || (grid->ndim == 4 && grid->shape[3] == 1)) || !grid->data)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL,
                               "grid: shape must be (Z, Y, X) or (Z, Y, X, 1) with data (ndim %u)", (unsigned)grid->ndim);
    for (i = 0; i < 3; ++i)
        if (grid->shape[i] < 2 || grid->shape[i] > 0x7FFFFFFF)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL,
                                   "grid: dimension %u is %lld samples (at least 2: a cell needs two along each axis)",
                                   (unsigned)i, (long long)grid->shape[i]);
    if (!dvren_tensor_is_contiguous(grid))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL,
                               "grid: must be contiguous, x fastest");
    if (!dvren__reachable(ctx, grid))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL,
                               "grid: device memory, but this context runs on %s", ctx->be->name);
    n = (uint64_t)grid->shape[0] * (uint64_t)grid->shape[1] * (uint64_t)grid->shape[2];
    if (n > 0x7FFFFFFFu)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "marching_cubes", "split the grid into blocks",
                               "grid: %llu samples, at most 2^31 - 1", (unsigned long long)n);
    if (!isfinite(opt->level))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL, "level: %g is not finite",
                               (double)opt->level);
    for (i = 0; i < 3; ++i) {
        if (!(opt->spacing[i] > 0.0f) || !isfinite(opt->spacing[i]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL,
                                   "spacing[%u]: %g, must be finite and > 0", (unsigned)i, (double)opt->spacing[i]);
        if (!isfinite(opt->origin[i]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL,
                                   "origin[%u]: %g is not finite", (unsigned)i, (double)opt->origin[i]);
    }
    if (opt->flags & ~(DVREN_MC_INSIDE_BELOW | DVREN_MC_NO_NORMALS))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "marching_cubes", NULL, "flags: unknown bits 0x%x",
                               (unsigned)(opt->flags & ~(DVREN_MC_INSIDE_BELOW | DVREN_MC_NO_NORMALS)));
    if (!ctx->be->launch_mc)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "marching_cubes", NULL, "the %s backend has no marching cubes",
                               ctx->be->name);
    DVREN__TRY(ctx->be->mem_stage(ctx, 1, &grid, &addr));
    memset(&G, 0, sizeof G);
    G.g = (const float*)addr;
    G.nx = (uint32_t)grid->shape[2];
    G.ny = (uint32_t)grid->shape[1];
    G.nz = (uint32_t)grid->shape[0];
    G.level = opt->level;
    G.sign = (opt->flags & DVREN_MC_INSIDE_BELOW) ? -1.0f : 1.0f;
    for (i = 0; i < 3; ++i) {
        G.origin[i] = opt->origin[i];
        G.spacing[i] = opt->spacing[i];
    }
    memset(&st, 0, sizeof st);
    status = ctx->be->launch_mc(ctx, &G, !(opt->flags & DVREN_MC_NO_NORMALS), out, &st);
    if (status != DVREN_OK) {
        dvren_mesh_free(ctx, out);
        return status;
    }
    st.ms_total = dvren__now_ms() - t0;
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER,
              "marching cubes %ux%ux%u on %s: %u vertices, %u triangles, %.3f ms (device %.3f ms)", (unsigned)G.nx,
              (unsigned)G.ny, (unsigned)G.nz, ctx->be->name, (unsigned)out->vertex_count,
              (unsigned)out->triangle_count, st.ms_total, st.ms_device);
    if (stats) *stats = st;
    return DVREN_OK;
}

/* ---- host sampling and shading --------------------------------------------------------- */

typedef struct dvren__mesh_host {
    dvren_scene* sc;
    void* block[3];
    const dvren_grid_sample_desc* desc;
    float box_min[3], box_max[3];
    float* out;
    dvren_mesh* mesh;
} dvren__mesh_host;

/* one z slice of dvren_scene_sample_grid */
static void dvren__sample_slice(void* user, uint32_t z)
{
    const dvren__mesh_host* H = (const dvren__mesh_host*)user;
    const dvren_grid_sample_desc* d = H->desc;
    const dvren__cpu_stages_32* c = &H->sc->cpu;
    float ch[DVREN_MAX_CHANNELS];
    uint32_t x, y, a;
    for (y = 0; y < d->res[1]; ++y)
        for (x = 0; x < d->res[0]; ++x) {
            uint32_t idx[3];
            dvren_float3 p;
            float q[3];
            idx[0] = x;
            idx[1] = y;
            idx[2] = z;
            for (a = 0; a < 3; ++a)
                q[a] = (float)((double)H->box_min[a] +
                               ((double)H->box_max[a] - (double)H->box_min[a]) * idx[a] / (double)(d->res[a] - 1));
            p.x = q[0];
            p.y = q[1];
            p.z = q[2];
            memset(ch, 0, sizeof ch);
            c->field_eval(H->block[0], p, ch);
            H->out[((size_t)z * d->res[1] + y) * d->res[0] + x] =
                d->channel == DVREN_SAMPLE_DENSITY ? c->density(H->block[1], ch) : ch[d->channel];
        }
}

DVREN_API dvren_status dvren_scene_sample_grid(dvren_scene* sc, const dvren_grid_sample_desc* desc, dvren_tensor* out)
{
    dvren__mesh_host H;
    dvren_context* ctx;
    const dvren_instance_info* fi;
    int64_t shape[3];
    uint32_t a;
    int box_given = 0;
    dvren_status status = DVREN_OK;
    if (out) memset(out, 0, sizeof *out);
    if (!sc || !desc || !out)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "sample_grid", NULL, "NULL argument");
    ctx = sc->ctx;
    fi = &sc->stage[0]->info;
    memset(&H, 0, sizeof H);
    for (a = 0; a < 3; ++a) {
        if (desc->res[a] < 2 || desc->res[a] > 65536)
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "sample_grid", NULL,
                                   "res[%u]: %u points, expected 2..65536", (unsigned)a, (unsigned)desc->res[a]);
        box_given |= desc->box_min[a] != 0.0f || desc->box_max[a] != 0.0f;
    }
    if ((uint64_t)desc->res[0] * desc->res[1] * desc->res[2] > 0x7FFFFFFFu)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "sample_grid", NULL, "res: %u x %u x %u points, at most 2^31 - 1",
                               (unsigned)desc->res[0], (unsigned)desc->res[1], (unsigned)desc->res[2]);
    for (a = 0; a < 3; ++a) {
        H.box_min[a] = box_given ? desc->box_min[a] : fi->bounds_min[a];
        H.box_max[a] = box_given ? desc->box_max[a] : fi->bounds_max[a];
        if (!(H.box_min[a] < H.box_max[a]) || !isfinite(H.box_min[a]) || !isfinite(H.box_max[a]))
            return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "sample_grid", NULL,
                                   "box: axis %u from %g to %g (finite, min < max)", (unsigned)a, (double)H.box_min[a],
                                   (double)H.box_max[a]);
    }
    if (desc->channel != DVREN_SAMPLE_DENSITY && (desc->channel < 0 || (uint32_t)desc->channel >= fi->channels))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "sample_grid", NULL,
                               "channel: %d, the field '%s' has channels 0..%u (or DVREN_SAMPLE_DENSITY, -1)",
                               (int)desc->channel, sc->stage[0]->rec->desc->name, (unsigned)fi->channels - 1);
    shape[0] = desc->res[2];
    shape[1] = desc->res[1];
    shape[2] = desc->res[0];
    DVREN__TRY(dvren_tensor_create(ctx, DVREN_DTYPE_F32, 3, shape, out));
    H.sc = sc;
    H.desc = desc;
    H.out = (float*)out->data;
    DVREN__CHECK(dvren__host_blocks(sc, "sample_grid", H.block));
    dvren__cpu_for(ctx, 0, desc->res[2], 1, dvren__sample_slice, &H, NULL, NULL, NULL);
cleanup:
    dvren__host_blocks_free(sc, H.block);
    if (status != DVREN_OK) dvren_tensor_destroy(ctx, out);
    return status;
}

/* a range of 1024 vertices of dvren_mesh_shade */
static void dvren__shade_vertices(void* user, uint32_t chunk)
{
    const dvren__mesh_host* H = (const dvren__mesh_host*)user;
    const dvren__cpu_stages_32* c = &H->sc->cpu;
    dvren_mesh* m = H->mesh;
    float ch[DVREN_MAX_CHANNELS];
    uint32_t v, v1 = chunk * 1024u + 1024u < m->vertex_count ? chunk * 1024u + 1024u : m->vertex_count, j;
    for (v = chunk * 1024u; v < v1; ++v) {
        dvren_float3 p, grad, dir, rgb;
        float col[3];
        p.x = m->positions[3 * (size_t)v];
        p.y = m->positions[3 * (size_t)v + 1];
        p.z = m->positions[3 * (size_t)v + 2];
        grad.x = grad.y = grad.z = 0.0f;
        if (m->normals) {
            dir.x = -m->normals[3 * (size_t)v];
            dir.y = -m->normals[3 * (size_t)v + 1];
            dir.z = -m->normals[3 * (size_t)v + 2];
        } else {
            dir.x = dir.y = 0.0f;
            dir.z = -1.0f;
        }
        rgb.x = rgb.y = rgb.z = 0.0f;
        memset(ch, 0, sizeof ch);
        c->field_eval(H->block[0], p, ch);
        c->color(H->block[1], ch, grad, dir, &rgb);
        col[0] = rgb.x;
        col[1] = rgb.y;
        col[2] = rgb.z;
        for (j = 0; j < 3; ++j)
            m->colors[3 * (size_t)v + j] = col[j] > 0.0f ? (col[j] < 1.0f ? col[j] : 1.0f) : 0.0f; /* NaN -> 0 */
    }
}

DVREN_API dvren_status dvren_mesh_shade(dvren_scene* sc, dvren_mesh* mesh)
{
    dvren__mesh_host H;
    dvren_context* ctx;
    dvren_status status = DVREN_OK;
    if (!sc || !mesh)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "mesh_shade", NULL, "NULL argument");
    ctx = sc->ctx;
    if (mesh->vertex_count && !mesh->positions)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "mesh_shade", NULL, "mesh: %u vertices without positions",
                               (unsigned)mesh->vertex_count);
    if (!mesh->vertex_count) return DVREN_OK;
    if (!mesh->colors) {
        mesh->colors = (float*)dvren__calloc(ctx, (size_t)mesh->vertex_count * 3 * sizeof(float));
        if (!mesh->colors) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "mesh_shade", NULL, "out of memory");
    }
    memset(&H, 0, sizeof H);
    H.sc = sc;
    H.mesh = mesh;
    DVREN__CHECK(dvren__host_blocks(sc, "mesh_shade", H.block));
    dvren__cpu_for(ctx, 0, (mesh->vertex_count + 1023u) / 1024u, 1, dvren__shade_vertices, &H, NULL, NULL, NULL);
cleanup:
    dvren__host_blocks_free(sc, H.block);
    return status;
}

/* ======================================================================== */
/* >>files (implementation)                                                 */
/* ======================================================================== */

DVREN_API dvren_status dvren_file_write_atomic(dvren_context* ctx, const char* path, const void* data, size_t size)
{
    char tmp[DVREN__PATH_CAP + 64], dir[DVREN__PATH_CAP];
    const char* slash;
    FILE* f;
    size_t w;
    int ok;
    if (!path || !*path || (!data && size))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "files", NULL, "NULL or empty path");
    if (strlen(path) >= DVREN__PATH_CAP)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "files", NULL, "path too long");
    slash = strrchr(path, '/');
#if defined(_WIN32)
    {
        const char* bs = strrchr(path, '\\');
        if (!slash || (bs && bs > slash)) slash = bs;
    }
#endif
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (dir[0]) {
#if defined(_WIN32)
            wchar_t wd[DVREN__PATH_CAP];
            DWORD a = MultiByteToWideChar(CP_UTF8, 0, dir, -1, wd, DVREN__PATH_CAP) ? GetFileAttributesW(wd)
                                                                                    : INVALID_FILE_ATTRIBUTES;
            if (a == INVALID_FILE_ATTRIBUTES || !(a & FILE_ATTRIBUTE_DIRECTORY))
#else
            struct stat st;
            if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
#endif
                return dvren_set_error(ctx, DVREN_ERROR_IO, "files", "create the folder first",
                                       "cannot write '%s': folder '%s' does not exist", path, dir);
        }
    }
#if defined(_WIN32)
    snprintf(tmp, sizeof tmp, "%s.tmp%lu", path, (unsigned long)GetCurrentProcessId());
#else
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
#endif
    f = fopen(tmp, "wb");
    if (!f)
        return dvren_set_error(ctx, DVREN_ERROR_IO, "files", NULL, "cannot write '%s': %s", path, strerror(errno));
    w = size ? fwrite(data, 1, size, f) : 0;
    ok = (w == size);
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(tmp);
        return dvren_set_error(ctx, DVREN_ERROR_IO, "files", "is the disk full?", "writing '%s' failed", path);
    }
#if defined(_WIN32)
    {
        wchar_t wt[DVREN__PATH_CAP + 64], wp[DVREN__PATH_CAP];
        ok = MultiByteToWideChar(CP_UTF8, 0, tmp, -1, wt, DVREN__PATH_CAP + 64) &&
             MultiByteToWideChar(CP_UTF8, 0, path, -1, wp, DVREN__PATH_CAP) &&
             MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING);
    }
#else
    ok = rename(tmp, path) == 0;
#endif
    if (!ok) {
        remove(tmp);
        return dvren_set_error(ctx, DVREN_ERROR_IO, "files", NULL, "cannot rename '%s' into place", path);
    }
    return DVREN_OK;
}

DVREN_API dvren_status dvren_tensor_save_npy(dvren_context* ctx, const dvren_tensor* t, const char* path)
{
    char header[256], shape[160];
    const char* descr;
    size_t es, n, hlen, total, sl = 0;
    unsigned char* buf;
    dvren__buf b;
    uint32_t i;
    dvren_status s;
    if (!t || !t->data || t->ndim < 1 || t->ndim > DVREN_MAX_DIMS || t->memory != DVREN_MEMORY_HOST)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "npy", NULL, "'%s': not a host tensor with data",
                               path ? path : "?");
    if (!ctx) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "npy", NULL, "NULL context");
    switch (t->dtype) {
    case DVREN_DTYPE_F32: descr = "<f4"; break;
    case DVREN_DTYPE_F16: descr = "<f2"; break;
    case DVREN_DTYPE_U8: descr = "|u1"; break;
    case DVREN_DTYPE_U16: descr = "<u2"; break;
    case DVREN_DTYPE_U32: descr = "<u4"; break;
    default: return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "npy", NULL, "unknown dtype");
    }
    shape[0] = 0;
    for (i = 0; i < t->ndim; ++i) {
        int w = snprintf(shape + sl, sizeof shape - sl, "%.0f,%s", (double)t->shape[i],
                         (t->ndim > 1 && i + 1 < t->ndim) ? " " : "");
        if (w > 0) sl += (size_t)w;
    }
    if (t->ndim > 1 && sl > 0) shape[--sl] = 0; /* "(a, b)" not "(a, b,)" */
    hlen = (size_t)snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr,
                            shape);
    /* pad with spaces so that data starts on a multiple of 64, end with \n */
    total = 10 + hlen + 1;
    total = (total + 63) / 64 * 64;
    es = dvren_dtype_size(t->dtype);
    n = (size_t)dvren_tensor_numel(t);
    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    dvren__buf_add(&b, NULL, total + n * es); /* the whole file, filled in place */
    if (b.failed) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "npy", NULL, "out of memory");
    buf = (unsigned char*)b.s;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((total - 10) & 0xFF);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memcpy(buf + 10, header, hlen);
    memset(buf + 10 + hlen, ' ', total - 10 - hlen - 1);
    buf[total - 1] = '\n';
    if (dvren_tensor_is_contiguous(t)) {
        memcpy(buf + total, t->data, n * es);
    } else {
        /* gather a strided view in C order */
        size_t k;
        for (k = 0; k < n; ++k) {
            size_t rem = k, off = 0;
            uint32_t a;
            for (a = t->ndim; a-- > 0;) {
                off += (rem % (size_t)t->shape[a]) * (size_t)t->strides[a];
                rem /= (size_t)t->shape[a];
            }
            memcpy(buf + total + k * es, (const unsigned char*)t->data + off * es, es);
        }
    }
    s = dvren_file_write_atomic(ctx, path, buf, total + n * es);
    dvren__buf_free(&b);
    return s;
}
#endif /* DVREN_IMPLEMENTATION */

/* ======================================================================== */
/* >>generated  copies of kernels/ (./build.sh gen writes them: do not edit) */
/* ======================================================================== */
/* Read from above by including this file again with one of the selectors
 * DVREN__GEN_DEVICE, DVREN__GEN_MARCH, DVREN__GEN_TRAIN, DVREN__GEN_SPLAT, DVREN__GEN_MC defined, so that the
 * header works without the kernels/ folder and the hand-written code comes
 * first. The test embedded_kernels fails when a copy is stale. */
#if defined(DVREN__GEN_DEVICE)
/* >>device begin (generated from kernels/dvren_device.h by ./build.sh gen: do not edit) */
/* kernels/dvren_device.h - the device vocabulary of dvren (single source).
 *
 * This file is compiled three ways and must stay valid in all of them:
 *   - as C99/C11 by the host compiler (the CPU path, and every plugin's .c),
 *   - as C++17 by a host C++ compiler (dvren.h is usable from C++),
 *   - as CUDA C++ by NVRTC (the GPU path; __CUDACC_RTC__ is defined).
 * Rules (docs/architecture.md, "single-source stage code"): no libc beyond the
 * math functions below, no allocation, no recursion, no function pointers, no
 * globals, no compound literals, no designated initialisers, no VLAs, no
 * implicit void* conversions. Under NVRTC nothing is included.
 *
 * dvren.h carries a generated copy of this file (between the markers
 * ">>device begin/end"); edit this file and run `./build.sh gen`. The test
 * `embedded_kernels` fails when the copy is stale. */
#ifndef DVREN_DEVICE_H
#define DVREN_DEVICE_H

/* ---- qualifiers and fixed-width types -------------------------------- */
#if defined(__CUDACC_RTC__)
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef int int32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
/* not static: NVRTC warns (#177) about every unused static function, and a
 * fused kernel is one translation unit anyway */
#define DVREN_FN __device__ __forceinline__
#define DVREN_KERNEL extern "C" __global__
#define DVREN_RESTRICT __restrict__
#define DVREN_ON_GPU 1
#else
#include <stdint.h>
#include <math.h>
#define DVREN_FN static inline
#if defined(__cplusplus)
#define DVREN_RESTRICT __restrict
#else
#define DVREN_RESTRICT restrict
#endif
#define DVREN_ON_GPU 0
#endif

/* Largest channel count a field may produce per sample (ABI constant). */
#define DVREN_MAX_CHANNELS 16
/* Size of a sampler's per-ray state, in 32-bit words (ABI constant; 12
 * before ABI 1.3. It only grows: a sampler built with fewer words uses a
 * prefix of the state the host provides). */
#define DVREN_SAMPLER_STATE_WORDS 16

/* ---- precision ---------------------------------------------------------------
 * Per-sample code computes in dvren_real, a float unless DVREN_PREC_BITS is
 * 64 where it is used. The renderer (CPU and GPU) is float32; the gradient
 * checker runs the same single-source code in float64 for its finite
 * differences. A plugin includes its per-sample file once per precision and
 * names its functions with DVREN_PNAME(name): name in float32, name_f64 in
 * float64 (docs/plugins.md, "Precision"). Generic names (dvren_vec3,
 * dvren_add3, dvren_exp, ...) resolve to the precision in force where they
 * are used. Storage (parameter blocks, grids) stays float32. */
#ifndef DVREN_PREC_BITS
#define DVREN_PREC_BITS 32
#endif
#define DVREN__CAT2(a, b) a##b
#define DVREN__CAT(a, b) DVREN__CAT2(a, b)
#define DVREN__PS DVREN__CAT(_, DVREN_PREC_BITS)
#define DVREN__RN(base) DVREN__CAT(base, DVREN__PS)
#define dvren__psfx_32
#define dvren__psfx_64 _f64
#define DVREN_PNAME(name) DVREN__CAT(name, DVREN__CAT(dvren__psfx_, DVREN_PREC_BITS))
typedef float dvren__real_32;
typedef double dvren__real_64;
#define dvren_real DVREN__RN(dvren__real)

typedef struct dvren_float3 { float x, y, z; } dvren_float3;
typedef struct dvren_double3 { double x, y, z; } dvren_double3;
typedef dvren_float3 dvren__vec3_32;
typedef dvren_double3 dvren__vec3_64;
#define dvren_vec3 DVREN__RN(dvren__vec3)

/* Scalar and vector helpers, defined once per precision: R the real type,
 * V the vector type, S the name suffix, M the libm suffix ("f" for float). */
#define DVREN__REAL_FUNCS(R, V, S, M)                                                                                  \
    DVREN_FN R dvren__min##S(R a, R b) { return a < b ? a : b; }                                                        \
    DVREN_FN R dvren__max##S(R a, R b) { return a > b ? a : b; }                                                        \
    DVREN_FN R dvren__clamp##S(R x, R lo, R hi) { return x < lo ? lo : (x > hi ? hi : x); }                             \
    DVREN_FN R dvren__abs##S(R x) { return x < (R)0 ? -x : x; }                                                         \
    DVREN_FN R dvren__lerp##S(R a, R b, R t) { return a + (b - a) * t; }                                               \
    /* e^x as 2^(x log2 e): one MUFU.EX2 on the GPU instead of ten instructions; the same formula on the CPU */       \
    DVREN_FN R dvren__exp##S(R x) { return exp2##M(x * (R)1.44269504088896341); }                                       \
    /* exp of x clamped to [-87, 88]: never inf or NaN */                                                              \
    DVREN_FN R dvren__safe_exp##S(R x) { return exp##M(dvren__clamp##S(x, (R)-87, (R)88)); }                            \
    /* softplus(x) = log(1 + e^x), stable for large x; its derivative is the sigmoid */                                \
    DVREN_FN R dvren__softplus##S(R x) { return x > (R)20 ? x : log1p##M(exp##M(x)); }                                  \
    DVREN_FN R dvren__sigmoid##S(R x) { return (R)1 / ((R)1 + dvren__safe_exp##S(-x)); }                               \
    DVREN_FN R dvren__log1p##S(R x) { return log1p##M(x); }                                                             \
    DVREN_FN R dvren__sqrt##S(R x) { return sqrt##M(x); }                                                               \
    DVREN_FN R dvren__floor##S(R x) { return floor##M(x); }                                                             \
    DVREN_FN R dvren__ceil##S(R x) { return ceil##M(x); }                                                               \
    DVREN_FN R dvren__pow##S(R x, R y) { return pow##M(x, y); }                                                         \
    DVREN_FN V dvren__v3##S(R x, R y, R z)                                                                             \
    {                                                                                                                  \
        V r;                                                                                                           \
        r.x = x;                                                                                                       \
        r.y = y;                                                                                                       \
        r.z = z;                                                                                                       \
        return r;                                                                                                      \
    }                                                                                                                  \
    /* from three floats of storage (a block, a camera) */                                                            \
    DVREN_FN V dvren__v3p##S(const float* v) { return dvren__v3##S((R)v[0], (R)v[1], (R)v[2]); }                       \
    DVREN_FN V dvren__add3##S(V a, V b) { return dvren__v3##S(a.x + b.x, a.y + b.y, a.z + b.z); }                       \
    DVREN_FN V dvren__sub3##S(V a, V b) { return dvren__v3##S(a.x - b.x, a.y - b.y, a.z - b.z); }                       \
    DVREN_FN V dvren__mul3##S(V a, V b) { return dvren__v3##S(a.x * b.x, a.y * b.y, a.z * b.z); }                       \
    DVREN_FN V dvren__scale3##S(V a, R s) { return dvren__v3##S(a.x * s, a.y * s, a.z * s); }                           \
    /* a + b*s */                                                                                                      \
    DVREN_FN V dvren__madd3##S(V a, V b, R s) { return dvren__v3##S(a.x + b.x * s, a.y + b.y * s, a.z + b.z * s); }     \
    DVREN_FN R dvren__dot3##S(V a, V b) { return a.x * b.x + a.y * b.y + a.z * b.z; }                                   \
    DVREN_FN V dvren__cross3##S(V a, V b)                                                                              \
    {                                                                                                                  \
        return dvren__v3##S(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);                      \
    }                                                                                                                  \
    DVREN_FN R dvren__length3##S(V a) { return sqrt##M(dvren__dot3##S(a, a)); }                                         \
    /* a / |a|; the zero vector stays zero */                                                                          \
    DVREN_FN V dvren__normalize3##S(V a)                                                                               \
    {                                                                                                                  \
        R l = dvren__length3##S(a);                                                                                    \
        return l > (R)0 ? dvren__scale3##S(a, (R)1 / l) : a;                                                           \
    }

DVREN__REAL_FUNCS(float, dvren_float3, _32, f)
#if !DVREN_ON_GPU
DVREN__REAL_FUNCS(double, dvren_double3, _64, )
#endif

#define dvren_min DVREN__RN(dvren__min)
#define dvren_max DVREN__RN(dvren__max)
#define dvren_clamp DVREN__RN(dvren__clamp)
#define dvren_abs DVREN__RN(dvren__abs)
#define dvren_lerp DVREN__RN(dvren__lerp)
#define dvren_exp DVREN__RN(dvren__exp)
#define dvren_safe_exp DVREN__RN(dvren__safe_exp)
#define dvren_softplus DVREN__RN(dvren__softplus)
#define dvren_sigmoid DVREN__RN(dvren__sigmoid)
#define dvren_log1p DVREN__RN(dvren__log1p)
#define dvren_sqrt DVREN__RN(dvren__sqrt)
#define dvren_floor DVREN__RN(dvren__floor)
#define dvren_ceil DVREN__RN(dvren__ceil)
#define dvren_pow DVREN__RN(dvren__pow)
#define dvren_v3 DVREN__RN(dvren__v3)
#define dvren_v3p DVREN__RN(dvren__v3p)
#define dvren_add3 DVREN__RN(dvren__add3)
#define dvren_sub3 DVREN__RN(dvren__sub3)
#define dvren_mul3 DVREN__RN(dvren__mul3)
#define dvren_scale3 DVREN__RN(dvren__scale3)
#define dvren_madd3 DVREN__RN(dvren__madd3)
#define dvren_dot3 DVREN__RN(dvren__dot3)
#define dvren_cross3 DVREN__RN(dvren__cross3)
#define dvren_length3 DVREN__RN(dvren__length3)
#define dvren_normalize3 DVREN__RN(dvren__normalize3)

/* float32 names kept for code that is float32 by nature (storage, cameras) */
#define dvren_minf dvren__min_32
#define dvren_maxf dvren__max_32
#define dvren_clampf dvren__clamp_32
#define dvren_absf dvren__abs_32
#define dvren_f3 dvren__v3_32
#define dvren_f3v dvren__v3p_32
DVREN_FN int dvren_clampi(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Reinterpret bits (a union: valid C, and C++ compilers and NVRTC honour it). */
DVREN_FN float dvren__bits_to_float(uint32_t u)
{
    union { uint32_t u; float f; } c;
    c.u = u;
    return c.f;
}
DVREN_FN uint32_t dvren__float_to_bits(float f)
{
    union { uint32_t u; float f; } c;
    c.f = f;
    return c.u;
}

/* ---- wide loads ------------------------------------------------------------------
 * One 16-byte load of four floats and one 8-byte load of four u16 (the
 * address must be aligned to 16 and 8 bytes). On the GPU these are single
 * LDG.128 / LDG.64 instructions through the read-only path. */
typedef struct dvren_float4 { float x, y, z, w; } dvren_float4;

DVREN_FN dvren_float4 dvren_load_f32x4(const float* p)
{
    dvren_float4 r;
#if DVREN_ON_GPU
    float4 v = __ldg((const float4*)p);
    r.x = v.x;
    r.y = v.y;
    r.z = v.z;
    r.w = v.w;
#else
    r.x = p[0];
    r.y = p[1];
    r.z = p[2];
    r.w = p[3];
#endif
    return r;
}

/* u (0 .. 65535) as float, exactly: 2^23 + u has u in its mantissa. Two
 * full-rate operations instead of one quarter-rate integer conversion. */
DVREN_FN float dvren_u16_to_float(uint32_t u) { return dvren__bits_to_float(0x4B000000u | u) - 8388608.0f; }

DVREN_FN dvren_float4 dvren_load_u16x4(const uint16_t* p)
{
    dvren_float4 r;
#if DVREN_ON_GPU
    uint2 v = __ldg((const uint2*)p);
    r.x = dvren_u16_to_float(v.x & 0xFFFFu);
    r.y = dvren_u16_to_float(v.x >> 16);
    r.z = dvren_u16_to_float(v.y & 0xFFFFu);
    r.w = dvren_u16_to_float(v.y >> 16);
#else
    r.x = dvren_u16_to_float(p[0]);
    r.y = dvren_u16_to_float(p[1]);
    r.z = dvren_u16_to_float(p[2]);
    r.w = dvren_u16_to_float(p[3]);
#endif
    return r;
}

/* ---- counter-based RNG: Philox4x32-10 -------------------------------------
 * Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011. A pure function of (counter, key): the same numbers on the CPU and
 * the GPU, in any thread order. dvren keys it with the plan's 64-bit seed and
 * counts with (pixel index, pixel sample, stream, draw index). */
typedef struct dvren_u32x4 { uint32_t v[4]; } dvren_u32x4;

DVREN_FN uint32_t dvren__mulhilo(uint32_t a, uint32_t b, uint32_t* hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

DVREN_FN dvren_u32x4 dvren_philox4x32(dvren_u32x4 c, uint32_t k0, uint32_t k1)
{
    int r;
    for (r = 0; r < 10; ++r) {
        uint32_t hi0, hi1;
        uint32_t lo0 = dvren__mulhilo(0xD2511F53u, c.v[0], &hi0);
        uint32_t lo1 = dvren__mulhilo(0xCD9E8D57u, c.v[2], &hi1);
        dvren_u32x4 n;
        n.v[0] = hi1 ^ c.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k1;
        n.v[3] = lo0;
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/* Uniform float in [0, 1) with 24 random bits. */
DVREN_FN float dvren_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Per-ray random stream: four numbers per Philox call, handed out in order. */
typedef struct dvren_rng {
    uint32_t key[2];     /* the plan's seed (low, high 32 bits) */
    uint32_t ctr[3];     /* pixel index, pixel sample, stream */
    uint32_t draw;       /* next Philox block */
    uint32_t used;       /* numbers taken from buf (4 = empty) */
    uint32_t buf[4];
} dvren_rng;

/* Streams: separate sequences for separate purposes, so that adding draws to
 * one stage never shifts the numbers another stage sees. */
#define DVREN_RNG_STREAM_PIXEL 0u   /* sub-pixel position */
#define DVREN_RNG_STREAM_SAMPLER 1u /* sampler jitter */
#define DVREN_RNG_STREAM_SHADER 2u

DVREN_FN dvren_rng dvren_rng_make(uint32_t seed_lo, uint32_t seed_hi, uint32_t pixel, uint32_t sample, uint32_t stream)
{
    dvren_rng r;
    r.key[0] = seed_lo;
    r.key[1] = seed_hi;
    r.ctr[0] = pixel;
    r.ctr[1] = sample;
    r.ctr[2] = stream;
    r.draw = 0;
    r.used = 4;
    r.buf[0] = r.buf[1] = r.buf[2] = r.buf[3] = 0;
    return r;
}

DVREN_FN uint32_t dvren_rng_u32(dvren_rng* r)
{
    if (r->used >= 4) {
        dvren_u32x4 c;
        c.v[0] = r->ctr[0];
        c.v[1] = r->ctr[1];
        c.v[2] = r->ctr[2];
        c.v[3] = r->draw++;
        c = dvren_philox4x32(c, r->key[0], r->key[1]);
        r->buf[0] = c.v[0];
        r->buf[1] = c.v[1];
        r->buf[2] = c.v[2];
        r->buf[3] = c.v[3];
        r->used = 0;
    }
    return r->buf[r->used++];
}

/* Uniform in [0, 1). */
DVREN_FN float dvren_rng_uniform(dvren_rng* r) { return dvren_u32_to_unit(dvren_rng_u32(r)); }

/* ---- IEEE half precision (binary16) storage -------------------------------
 * Conversions by bit manipulation, identical on both paths; round to nearest
 * even, with subnormals, infinities and NaN (IEEE 754-2008, 3.6). */

DVREN_FN float dvren_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return dvren__bits_to_float(sign | 0x7F800000u | (man << 13));
    return dvren__bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));
}

DVREN_FN uint16_t dvren_float_to_half(float f)
{
    uint32_t x = dvren__float_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7FFFFFFFu;
    if (absx >= 0x7F800000u) /* inf or NaN (NaN keeps a quiet bit) */
        return (uint16_t)(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0u));
    if (absx >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds to >= 65520: inf */
    if (absx < 0x38800000u) {
        /* result is subnormal or zero: value / 2^-24, rounded to nearest even */
        uint32_t man = (absx & 0x7FFFFFu) | 0x800000u;
        int e = (int)(absx >> 23);
        int shift = 126 - e; /* value = man * 2^(e-150); half units are 2^-24 */
        uint32_t q, rem, halfway;
        if (e == 0 || shift > 24) return (uint16_t)sign;
        q = man >> shift;
        rem = man & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    {
        uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
        uint32_t q = r >> 13;
        uint32_t rem = r & 0x1FFFu;
        if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
}

/* ---- cameras -------------------------------------------------------------------
 * One plain struct for every camera model, so that device code can generate
 * rays without function pointers. Conventions (OpenGL): right-handed world,
 * the camera looks down its -z axis with +y up; pixel (0,0) is the top-left
 * corner of the image, x to the right, y down; pixel centres are at +0.5. */
#define DVREN_CAMERA_NONE 0u
#define DVREN_CAMERA_PINHOLE 1u      /* perspective from eye, basis, tan(fov_y/2) */
#define DVREN_CAMERA_ORTHOGRAPHIC 2u /* parallel rays along forward */
#define DVREN_CAMERA_MATRIX 3u       /* inverse of projection*view (OpenGL clip space) */
#define DVREN_CAMERA_INTRINSICS 4u   /* pinhole from eye, basis and fx, fy, cx, cy in pixels (OpenCV's K) */

typedef struct dvren_camera {
    uint32_t model;          /* DVREN_CAMERA_* */
    uint32_t perspective;    /* MATRIX: 1 when the projection is perspective */
    float eye[3];            /* world position of the camera (centre of projection) */
    float forward[3];        /* unit view direction (camera -z) */
    float right[3];          /* unit camera +x */
    float up[3];             /* unit camera +y */
    float tan_half_fov_y;    /* PINHOLE: tan(vertical field of view / 2) */
    float ortho_height;      /* ORTHOGRAPHIC: world units spanned by the image height */
    float inv_view_proj[16]; /* MATRIX: inverse(P*V), column-major (OpenGL) */
    float fx, fy, cx, cy;    /* INTRINSICS: focal lengths and principal point in pixels of the plan's image */
} dvren_camera;

/* Ray through image position (px, py) in pixels (top-left origin, y down) of a
 * width x height image: its origin and unit direction. PINHOLE and
 * perspective MATRIX rays start at the eye; ORTHOGRAPHIC rays start on the
 * plane through the eye; orthographic MATRIX rays start on the near plane.
 * Ray distances (and the depth output) are measured from that origin.
 * dvren_ray_box: slab test of a ray against the box [bmin, bmax]; on a hit
 * returns 1 with the entry distance *t0 (clamped to >= 0: rays may start
 * inside) and the exit distance *t1 > *t0; axis-parallel rays are handled
 * without 0*inf. Both in each precision (generic names below). */
#define DVREN__REAL_GEOM(R, V, S, M)                                                                                   \
    DVREN_FN V dvren__unproject##S(const float* m, R x, R y, R z)                                                      \
    {                                                                                                                  \
        /* column-major: element (row r, column c) is m[c*4 + r] */                                                   \
        R w = (R)m[3] * x + (R)m[7] * y + (R)m[11] * z + (R)m[15];                                                     \
        R iw = (w != (R)0) ? (R)1 / w : (R)0;                                                                          \
        return dvren__v3##S(((R)m[0] * x + (R)m[4] * y + (R)m[8] * z + (R)m[12]) * iw,                                 \
                            ((R)m[1] * x + (R)m[5] * y + (R)m[9] * z + (R)m[13]) * iw,                                 \
                            ((R)m[2] * x + (R)m[6] * y + (R)m[10] * z + (R)m[14]) * iw);                               \
    }                                                                                                                  \
    DVREN_FN void dvren__camera_ray##S(const dvren_camera* c, R px, R py, R width, R height, V* origin, V* dir)        \
    {                                                                                                                  \
        R nx = (R)2 * px / width - (R)1;  /* NDC x in [-1, 1], +1 at the right */                                    \
        R ny = (R)1 - (R)2 * py / height; /* NDC y in [-1, 1], +1 at the top */                                      \
        V e = dvren__v3p##S(c->eye), f = dvren__v3p##S(c->forward);                                                   \
        V r = dvren__v3p##S(c->right), u = dvren__v3p##S(c->up);                                                      \
        if (c->model == DVREN_CAMERA_ORTHOGRAPHIC) {                                                                   \
            R hh = (R)0.5 * (R)c->ortho_height, hw = hh * width / height;                                              \
            *origin = dvren__madd3##S(dvren__madd3##S(e, r, nx * hw), u, ny * hh);                                     \
            *dir = f;                                                                                                  \
        } else if (c->model == DVREN_CAMERA_INTRINSICS) {                                                              \
            /* OpenCV's pinhole: camera x = right, y = -up (down), z = forward */                                     \
            *origin = e;                                                                                               \
            *dir = dvren__normalize3##S(dvren__madd3##S(dvren__madd3##S(f, r, (px - (R)c->cx) / (R)c->fx), u,          \
                                                        -(py - (R)c->cy) / (R)c->fy));                                 \
        } else if (c->model == DVREN_CAMERA_MATRIX) {                                                                  \
            V pn = dvren__unproject##S(c->inv_view_proj, nx, ny, (R)-1);                                               \
            V pf = dvren__unproject##S(c->inv_view_proj, nx, ny, (R)1);                                                \
            *origin = c->perspective ? e : pn;                                                                         \
            *dir = dvren__normalize3##S(dvren__sub3##S(pf, pn));                                                       \
        } else {                                                                                                       \
            R th = (R)c->tan_half_fov_y, tw = th * width / height;                                                     \
            *origin = e;                                                                                               \
            *dir = dvren__normalize3##S(dvren__madd3##S(dvren__madd3##S(f, r, nx * tw), u, ny * th));                  \
        }                                                                                                              \
    }                                                                                                                  \
    DVREN_FN int dvren__ray_box##S(V o, V d, const float* bmin, const float* bmax, R* t0, R* t1)                       \
    {                                                                                                                  \
        R lo = (R)0, hi = (R)3.0e38;                                                                                   \
        R oo[3], dd[3];                                                                                                \
        int a;                                                                                                         \
        oo[0] = o.x;                                                                                                   \
        oo[1] = o.y;                                                                                                   \
        oo[2] = o.z;                                                                                                   \
        dd[0] = d.x;                                                                                                   \
        dd[1] = d.y;                                                                                                   \
        dd[2] = d.z;                                                                                                   \
        for (a = 0; a < 3; ++a) {                                                                                      \
            if (dd[a] == (R)0) {                                                                                       \
                if (oo[a] < (R)bmin[a] || oo[a] > (R)bmax[a]) return 0;                                                \
            } else {                                                                                                   \
                R inv = (R)1 / dd[a];                                                                                  \
                R ta = ((R)bmin[a] - oo[a]) * inv, tb = ((R)bmax[a] - oo[a]) * inv;                                    \
                lo = dvren__max##S(lo, dvren__min##S(ta, tb));                                                         \
                hi = dvren__min##S(hi, dvren__max##S(ta, tb));                                                         \
            }                                                                                                          \
        }                                                                                                              \
        *t0 = lo;                                                                                                      \
        *t1 = hi;                                                                                                      \
        return hi > lo;                                                                                                \
    }

DVREN__REAL_GEOM(float, dvren_float3, _32, f)
#if !DVREN_ON_GPU
DVREN__REAL_GEOM(double, dvren_double3, _64, )
#endif
#define dvren_camera_ray DVREN__RN(dvren__camera_ray)
#define dvren_ray_box DVREN__RN(dvren__ray_box)

/* ---- what the stages see -------------------------------------------------------- */

/* The march budget a sampler receives, owned by the plan
 * (dvren_plan_desc): samples_per_ray > 0 asks for that many samples over
 * [t0, t1]; else step_world > 0 is the plan's step; else the step is
 * step_default, half the field's voxel_world (the Nyquist step), computed
 * once by the host. A sampler places its samples within this budget.
 * step_default is new in plugin ABI 1.2, in what was padding: a sampler
 * written against 1.1 reads both requests as 0 when the plan gives none,
 * "use your own settings", as before. */
typedef struct dvren_march_budget {
    float step_world;         /* plan: step length in world units, or 0 */
    uint32_t samples_per_ray; /* plan: samples per ray, or 0 */
    float voxel_world;        /* field: smallest voxel edge in world units (> 0) */
    float step_default;       /* ABI 1.2: the step when the plan gives neither (world units, > 0) */
    /* ABI 1.3: the field's lattice, for samplers that walk its cells (dda):
     * its box and its voxel (cell) edge per axis, world units; the cells
     * number round((bounds_max - bounds_min) / voxel_size) per axis */
    float bounds_min[3], bounds_max[3];
    float voxel_size[3];
} dvren_march_budget;

/* Per-ray sampler state, in the precision of the march; its meaning belongs
 * to the sampler. */
typedef struct dvren__sstate_32 {
    float f[DVREN_SAMPLER_STATE_WORDS / 2];
    uint32_t u[DVREN_SAMPLER_STATE_WORDS / 2];
} dvren__sstate_32;
typedef struct dvren__sstate_64 {
    double f[DVREN_SAMPLER_STATE_WORDS / 2];
    uint32_t u[DVREN_SAMPLER_STATE_WORDS / 2];
} dvren__sstate_64;
typedef dvren__sstate_64 dvren_sampler_state_f64;
#define dvren_sampler_state DVREN__RN(dvren__sstate)

/* A surface sample (ABI 1.3; docs/blocks.md, "Surfaces in the march"): a
 * sampler's surface() fills normal and id, the march sets t. normal: unit,
 * world space, pointing back at the ray (dot(normal, dir) <= 0); t: the
 * distance along the unit ray direction from the ray's origin (world
 * units); id: the sampler's name for the element hit (dda: the cell's
 * linear index x + X (y + Y z)). Members are only ever appended. */
typedef struct dvren__surface_32 {
    dvren_float3 normal;
    float t;
    uint32_t id;
} dvren__surface_32;
typedef struct dvren__surface_64 {
    dvren_double3 normal;
    double t;
    uint32_t id;
} dvren__surface_64;
typedef dvren__surface_32 dvren_surface;
typedef dvren__surface_64 dvren_surface_f64;
#define dvren_surface_hit DVREN__RN(dvren__surface)
/* id of "no surface" (DVREN_OUTPUT_SURFACE_ID where a ray hit none) */
#define DVREN_NO_SURFACE 0xFFFFFFFFu

/* ---- framebuffer ------------------------------------------------------------------ */
/* Output selection bits (dvren_plan_desc.outputs). */
#define DVREN_OUTPUT_RGB 0x01u           /* float32 (H, W, 3): composited radiance + T * background */
#define DVREN_OUTPUT_ALPHA 0x02u         /* float32 (H, W): opacity 1 - T */
#define DVREN_OUTPUT_DEPTH 0x04u         /* float32 (H, W): sum(w_i t_i) / sum(w_i), 0 where alpha = 0 */
#define DVREN_OUTPUT_TRANSMITTANCE 0x08u /* float32 (H, W): T, the light that passed through */
#define DVREN_OUTPUT_HIT 0x10u           /* uint8 (H, W): 1 where a ray entered the field's box */
#define DVREN_OUTPUT_SAMPLES 0x20u       /* uint32 (H, W): samples taken, summed over spp */
#define DVREN_OUTPUT_VARIANCE 0x40u      /* float32 (H, W): variance of the pixel's luminance estimate (below) */
#define DVREN_OUTPUT_SURFACE_ID 0x80u    /* uint32 (H, W): id of the first surface (dvren_surface) the pixel's rays hit, in ray order; else DVREN_NO_SURFACE */
#define DVREN_OUTPUT_MEDIAN_DEPTH 0x100u /* float32 (H, W): camera z of the Gaussian after which T <= 0.5, else 0 (splat renders; the ray march leaves it 0) */
#define DVREN_OUTPUT_ALL 0x1FFu
/* DVREN_OUTPUT_VARIANCE: the sample variance of the luminance Y (Rec. 709:
 * 0.2126 R + 0.7152 G + 0.0722 B) of the pixel's n rays divided by n, the
 * variance of the pixel's mean (0 when n = 1): where it is large more rays
 * pay off (the error estimate of adaptive samplers; Pharr et al., PBRT 4th
 * ed., 8.2). Luminance of the ray's radiance with its background term. */
#define DVREN_LUMA(r, g, b) ((dvren_real)0.2126 * (r) + (dvren_real)0.7152 * (g) + (dvren_real)0.0722 * (b))

/* Raw pointers to the outputs of one framebuffer (any may be null), row-major
 * (y, x), row 0 at the top of the image. */
typedef struct dvren_fb_view {
    float* rgb;
    float* alpha;
    float* depth;
    float* transmittance;
    uint8_t* hit;
    uint32_t* samples;
    uint32_t width, height;
    float* variance;
    uint32_t* surface_id;
    float* median_depth; /* splat renders only */
} dvren_fb_view;

/* ---- gradients ------------------------------------------------------------------
 * Where a per-sample backward function adds the gradient of one parameter
 * buffer (the host binds it into the plugin's block with bind_gradients();
 * ptr NULL: not wanted, the add is a no-op).
 *   DVREN_GRAD_F32    float32 atomics: fast; the summation order varies, so the
 *                     last bits vary from run to run
 *   DVREN_GRAD_FIXED  int64 fixed point in units of 2^-32 (DVREN_GRAD_FIXED_SCALE)
 *                     with integer atomics: sums are exact and order-free, so
 *                     gradients are bitwise the same run after run; the host
 *                     scales the cotangents so that they are <= 1 and turns the
 *                     sums back into float32 afterwards
 *   DVREN_GRAD_F64    float64, plain adds (one thread only: the gradient checker) */
#define DVREN_GRAD_F32 1u
#define DVREN_GRAD_FIXED 2u
#define DVREN_GRAD_F64 3u
#define DVREN_GRAD_FIXED_SCALE 4294967296.0
typedef struct dvren_grad_ref {
    void* ptr;
    uint32_t mode; /* DVREN_GRAD_* */
    uint32_t pad;
} dvren_grad_ref;

/* v * 2^32 rounded to an integer, saturated far inside the int64 range */
#define DVREN__FIXED_Q(v, out)                                                                                         \
    do {                                                                                                               \
        double q_ = (double)(v) * DVREN_GRAD_FIXED_SCALE;                                                              \
        q_ = q_ > 4.0e18 ? 4.0e18 : (q_ < -4.0e18 ? -4.0e18 : q_);                                                     \
        (out) = DVREN__LLRINT(q_);                                                                                     \
    } while (0)

#if DVREN_ON_GPU
#define DVREN__LLRINT(q) __double2ll_rn(q)
#if defined(DVREN_JIT_GRAD_MODE)
#define DVREN__GRAD_MODE(g) DVREN_JIT_GRAD_MODE
#else
#define DVREN__GRAD_MODE(g) ((g).mode)
#endif
/* v * 2^32 rounded to an integer in float32 arithmetic: the scaling by a
 * power of two is exact, so this equals DVREN__FIXED_Q of the same float
 * without float64 work (slow on consumer GPUs) */
DVREN_FN long long dvren__fixed_q32(float v)
{
    float q = v * 4294967296.0f;
    q = q > 4.0e18f ? 4.0e18f : (q < -4.0e18f ? -4.0e18f : q);
    return __float2ll_rn(q);
}

/* Deterministic mode, warp aggregation: the lanes of a warp that add to the
 * same element at the same time first sum their fixed-point values among
 * themselves (a tree over the lanes that share the key, found with
 * __match_any_sync), then the lowest of them issues the atomics. Integer
 * sums are exact in any grouping and order, so the result is the same bits
 * whatever lanes happen to run together; neighbouring rays of a warp often
 * hit the same voxel corners, which cuts the 64-bit atomics several-fold
 * (the same grouping of the default mode's float32 values was slower than
 * its plain float4 atomics on an H100: bench/RESULTS.md). Technique:
 * warp-aggregated atomics with match.any (CUDA C++ Programming Guide, "Warp
 * Match Functions"); n values per lane, n <= 4. */
DVREN_FN void dvren__fixed_add_warp(unsigned long long* dst, uint64_t i, long long* q, int n)
{
    unsigned active = __activemask(), lane, peers, rest, lt;
    int rank, k, lead;
    asm("mov.u32 %0, %%laneid;" : "=r"(lane));
    peers = __match_any_sync(active, (unsigned long long)(dst + i)); /* the address: lanes may hold different buffers */
    lt = (1u << lane) - 1u;
    rest = peers & ~(lt | (1u << lane)); /* peers above this lane */
    rank = __popc(peers & lt);
    lead = rank == 0;
    while (__any_sync(active, rest != 0u)) {
        /* each lane takes the partial sum of its next remaining peer; the
         * lanes whose rank has the current bit set have just been taken */
        int src = rest ? __ffs(rest) - 1 : (int)lane;
        for (k = 0; k < n; ++k) {
            long long t = __shfl_sync(active, q[k], src);
            if (rest) q[k] += t;
        }
        rest &= ~__ballot_sync(active, rank & 1);
        rank >>= 1;
    }
    if (lead)
        for (k = 0; k < n; ++k)
            if (q[k]) atomicAdd(dst + i + k, (unsigned long long)q[k]); /* two's complement: the same bits */
}

DVREN_FN void dvren__grad_add_32(dvren_grad_ref g, uint64_t i, float v)
{
    if (!g.ptr) return;
    if (DVREN__GRAD_MODE(g) == DVREN_GRAD_FIXED) {
        long long k = dvren__fixed_q32(v);
        dvren__fixed_add_warp((unsigned long long*)g.ptr, i, &k, 1);
    } else {
        if (v != 0.0f) atomicAdd((float*)g.ptr + i, v);
    }
}
/* Four consecutive elements i .. i+3 (i a multiple of 4): one vector atomic
 * on sm_90 and newer, one aggregated group in the deterministic mode. */
DVREN_FN void dvren__grad_add4_32(dvren_grad_ref g, uint64_t i, float a, float b, float c, float d)
{
    if (!g.ptr) return;
    if (DVREN__GRAD_MODE(g) == DVREN_GRAD_FIXED) {
        long long k[4];
        k[0] = dvren__fixed_q32(a);
        k[1] = dvren__fixed_q32(b);
        k[2] = dvren__fixed_q32(c);
        k[3] = dvren__fixed_q32(d);
        dvren__fixed_add_warp((unsigned long long*)g.ptr, i, k, 4);
        return;
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (a != 0.0f || b != 0.0f || c != 0.0f || d != 0.0f)
        atomicAdd((float4*)((float*)g.ptr + i), make_float4(a, b, c, d));
#else
    dvren__grad_add_32(g, i, a);
    dvren__grad_add_32(g, i + 1, b);
    dvren__grad_add_32(g, i + 2, c);
    dvren__grad_add_32(g, i + 3, d);
#endif
}
#else
#if defined(_MSC_VER)
#include <intrin.h>
#endif
#define DVREN__LLRINT(q) ((int64_t)llrint(q))
/* CPU: compare-and-swap for float32, fetch-add for fixed point; both are
 * safe with the renderer's worker threads */
DVREN_FN void dvren__grad_add_f32_atomic(float* p, float v)
{
    union { float f; uint32_t u; } o, n;
#if defined(_MSC_VER)
    o.f = *(volatile float*)p;
    for (;;) {
        long prev;
        n.f = o.f + v;
        prev = _InterlockedCompareExchange((volatile long*)p, (long)n.u, (long)o.u);
        if ((uint32_t)prev == o.u) return;
        o.u = (uint32_t)prev;
    }
#else
    o.u = __atomic_load_n((uint32_t*)p, __ATOMIC_RELAXED);
    do {
        n.f = o.f + v;
    } while (!__atomic_compare_exchange_n((uint32_t*)p, &o.u, n.u, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
#endif
}
DVREN_FN void dvren__grad_add_64(dvren_grad_ref g, uint64_t i, double v)
{
    if (!g.ptr || v == 0.0) return;
    if (g.mode == DVREN_GRAD_F64) {
        ((double*)g.ptr)[i] += v;
    } else if (g.mode == DVREN_GRAD_FIXED) {
        int64_t k;
        DVREN__FIXED_Q(v, k);
#if defined(_MSC_VER)
        _InterlockedExchangeAdd64((volatile long long*)((int64_t*)g.ptr + i), k);
#else
        __atomic_fetch_add((int64_t*)g.ptr + i, k, __ATOMIC_RELAXED);
#endif
    } else {
        dvren__grad_add_f32_atomic((float*)g.ptr + i, (float)v);
    }
}
DVREN_FN void dvren__grad_add_32(dvren_grad_ref g, uint64_t i, float v) { dvren__grad_add_64(g, i, (double)v); }
DVREN_FN void dvren__grad_add4_64(dvren_grad_ref g, uint64_t i, double a, double b, double c, double d)
{
    dvren__grad_add_64(g, i, a);
    dvren__grad_add_64(g, i + 1, b);
    dvren__grad_add_64(g, i + 2, c);
    dvren__grad_add_64(g, i + 3, d);
}
DVREN_FN void dvren__grad_add4_32(dvren_grad_ref g, uint64_t i, float a, float b, float c, float d)
{
    dvren__grad_add4_64(g, i, (double)a, (double)b, (double)c, (double)d);
}
#endif
/* dvren_grad_add(g, i, v): add v to element i of the gradient g;
 * dvren_grad_add4(g, i, a, b, c, d): to elements i .. i+3 (i a multiple of 4,
 * the buffer 16-byte aligned) */
#define dvren_grad_add DVREN__RN(dvren__grad_add)
#define dvren_grad_add4 DVREN__RN(dvren__grad_add4)

#endif /* DVREN_DEVICE_H */
/* >>device end */
#endif /* DVREN__GEN_DEVICE */

#if defined(DVREN__GEN_MARCH)
/* >>march begin (generated from kernels/dvren_march.h by ./build.sh gen: do not edit) */
/* kernels/dvren_march.h - the ray-march template of dvren (single source).
 *
 * Emission-absorption volume rendering, front to back, with early ray
 * termination (Max, "Optical models for direct volume rendering", IEEE TVCG
 * 1995, eq. 4-6; the quadrature of Mildenhall et al., NeRF, ECCV 2020, eq. 3):
 *
 *   alpha_i = 1 - exp(-sigma_i * dt_i)      T_i = prod_{j<i} (1 - alpha_j)
 *   C = sum_i T_i alpha_i c_i + T_n * background
 *
 * and its backward pass by replay (below, "Backward").
 *
 * The template calls one field, one shader and one sampler through binding
 * macros that the includer defines before including this file:
 *
 *   DVREN_STAGES_PARAM     extra leading parameter declaration (may be empty)
 *   DVREN_STAGES_ARG       the matching argument (may be empty)
 *   DVREN_FIELD_EVAL(P, p, out)                 void; out[0 .. channels-1]
 *   DVREN_FIELD_EVAL_CHANNEL(P, p, c)           real; channel c alone (with lazy features)
 *   DVREN_SHADER_DENSITY(P, ch, dt)             real sigma >= 0 [1/world unit]; dt: the segment length
 *   DVREN_SHADER_COLOR(P, ch, grad, dir, rgb)   void; *rgb = emitted radiance
 *   DVREN_SAMPLER_BEGIN(P, budget, o, d, t0, t1, rng, state)   void
 *   DVREN_SAMPLER_NEXT(P, state, t, dt)         int; 0 when the ray is done
 *   DVREN_SAMPLER_SURFACE(P, budget, state, o, d, hit, where)   int; 1: the sample is a surface candidate
 *   DVREN_SHADER_SURFACE_COLOR(P, ch, hit, dir, rgb)            void; *rgb = the surface's radiance
 * and, for the backward pass (only where DVREN_MARCH_BACKWARD is defined):
 *   DVREN_FIELD_EVAL_BWD(P, p, dL_dout)         void; adds to the field's gradients
 *   DVREN_SHADER_DENSITY_BWD(P, ch, dt, dL_dsigma, dL_dch)        void; dL_dch +=
 *   DVREN_SHADER_COLOR_BWD(P, ch, grad, dir, dL_drgb, dL_dch, dL_dgrad)  void; dL_dch +=, *dL_dgrad =
 *   DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, hit, dir, dL_drgb, dL_dch)    void; dL_dch +=
 *
 * Surfaces (plugin ABI 1.3; docs/blocks.md, "Surfaces in the march"): when
 * the sampler's surface() marks a sample, the field is evaluated at the
 * point `where` it gives, and if the shader's density there is > 0 the
 * sample is an opaque surface at distance t: weight w = T, then T = 0 and
 * the ray ends; its colour comes from the shader's surface colour. The
 * surface's geometry (t, normal, which samples are solid) is discrete and
 * gets no gradient; its colour's cotangent w dL/dC flows to the field's
 * channels at `where`. A binding without surfaces defines
 * DVREN_SAMPLER_SURFACE as 0.
 *
 * Precision: the per-precision part of this file is compiled in the
 * precision DVREN_PREC_BITS in force where it is included (dvren_real is
 * float or double; kernels/dvren_device.h). The CPU path includes it twice:
 * float32 for rendering, float64 for the gradient checker; NVRTC once, in
 * float32. Function and type names resolve per precision (DVREN__RN).
 *
 * The CPU path (dvren.h) binds the macros to the plugins' C functions
 * through a table of pointers; the GPU path (dvren_cuda.h) binds them to
 * direct calls of the same functions compiled by NVRTC, in one fused kernel,
 * and may fix values known per scene at compile time: DVREN_JIT_NEEDS_GRADIENT,
 * DVREN_JIT_GRADIENT_CHANNEL, DVREN_JIT_LAZY, DVREN_JIT_DENSITY_CHANNEL (a
 * run-time index into the channel array would put it in local memory on the
 * GPU), DVREN_JIT_SKIP_EMPTY.
 *
 * Lazy features: when the shader's density reads one channel and the field
 * can evaluate one channel alone, each sample evaluates that channel first
 * and the whole field only where sigma > 0. Empty samples emit and absorb
 * nothing, so the image is the same; they just cost less.
 *
 * dvren.h carries one generated copy of this file (">>march begin/end", in
 * its >>generated section) and reads it twice, in float32 and in float64;
 * edit this file and run `./build.sh gen`. */
#ifndef DVREN_MARCH_H
#define DVREN_MARCH_H

#if defined(DVREN_JIT_NEEDS_GRADIENT)
#define DVREN__NEEDS_GRADIENT(A) DVREN_JIT_NEEDS_GRADIENT
#else
#define DVREN__NEEDS_GRADIENT(A) ((A)->needs_gradient)
#endif
#if defined(DVREN_JIT_LAZY)
#define DVREN__LAZY(A) DVREN_JIT_LAZY
#define DVREN__DENSITY_CHANNEL(A) DVREN_JIT_DENSITY_CHANNEL
#else
#define DVREN__LAZY(A) ((A)->lazy_features)
#define DVREN__DENSITY_CHANNEL(A) ((A)->density_channel)
#endif
#if defined(DVREN_JIT_GRADIENT_CHANNEL)
#define DVREN__GRADIENT_CHANNEL(A) DVREN_JIT_GRADIENT_CHANNEL
#else
#define DVREN__GRADIENT_CHANNEL(A) ((A)->gradient_channel)
#endif
#if defined(DVREN_JIT_SKIP_EMPTY)
#define DVREN__SKIP_EMPTY(A) DVREN_JIT_SKIP_EMPTY
#else
#define DVREN__SKIP_EMPTY(A) ((A)->skip_empty)
#endif

/* Floats per ray of a ray-batch plan: origin xyz, unit direction xyz. */
#define DVREN_RAY_FLOATS 6

/* Everything one launch (or one CPU render) needs, as plain data. */
typedef struct dvren_march_args {
    const void* field;        /* parameter blocks of the three stages */
    const void* shader;
    const void* sampler;
    float bmin[3], bmax[3];   /* field's world bounding box */
    uint32_t channels;        /* channels the field writes per sample */
    uint32_t needs_gradient;  /* shader wants the gradient of one channel */
    uint32_t gradient_channel;
    float gradient_step[3];   /* central-difference half step per axis: one voxel (world units) */
    float min_transmittance;  /* early ray termination threshold (0: off) */
    uint32_t lazy_features;   /* evaluate the density channel first (see above) */
    uint32_t density_channel;
    dvren_march_budget budget;
    dvren_camera camera;
    uint32_t width, height;   /* full image size in pixels */
    uint32_t roi_x, roi_y, roi_w, roi_h; /* pixels rendered */
    uint32_t spp;             /* samples per pixel, >= 1 */
    uint32_t seed_lo, seed_hi;
    float background[3];
    dvren_fb_view fb;         /* forward: outputs written */
    /* ray-batch plans: ray (y * width + x) is rays[6k .. 6k+5] (DVREN_RAY_FLOATS);
     * NULL: rays from the camera */
    const float* rays;
    /* backward: cotangents dL/d(output) per pixel (rgb, alpha, depth,
     * transmittance; NULL: zero), multiplied by grad_scale */
    dvren_fb_view grad;
    float grad_scale;
    /* backward: samples with sigma == 0 have zero gradient (the shader's
     * density is flat there and none of its parameters are being trained) */
    uint32_t skip_empty;
    /* backward, optional (spp == 1): the forward render's rgb (H, W, 3) and
     * transmittance (H, W) of this plan; the replay then takes each ray's
     * totals from them instead of marching it once more */
    const float* fwd_rgb;
    const float* fwd_transmittance;
    /* per-pixel budget (dvren_plan_desc.spp_map / step_map; NULL: none):
     * the rays of pixel k, spp_map[k] (1 .. 65536; replaces spp), and a
     * multiplier step_map[k] >= 1 of the march step (samples per ray divided
     * by it). ray_start[k] = sum of spp_map over pixels before k (uint32,
     * W*H + 1 entries): the GPU spreads the rays evenly over its threads */
    const uint32_t* spp_map;
    const float* step_map;
    const uint32_t* ray_start;
    const uint32_t* ray_start_host; /* the same prefix sums in host memory (a GPU splits its launch by them) */
} dvren_march_args;

/* Rays of pixel `pix` (index y * width + x). */
DVREN_FN uint32_t dvren_pixel_spp(const dvren_march_args* A, uint32_t pix)
{
    return A->spp_map ? A->spp_map[pix] : A->spp;
}

/* The march budget of pixel `pix`: the plan's, with the step multiplied by
 * step_map[pix] (a count of samples per ray divided by it, at least 1). */
DVREN_FN dvren_march_budget dvren_pixel_budget(const dvren_march_args* A, uint32_t pix)
{
    dvren_march_budget b = A->budget;
    if (A->step_map) {
        float m = A->step_map[pix];
        b.step_world *= m;
        b.step_default *= m;
        if (b.samples_per_ray) {
            float n = (float)b.samples_per_ray / m;
            b.samples_per_ray = n < 1.0f ? 1u : (uint32_t)n;
        }
    }
    return b;
}

#endif /* DVREN_MARCH_H */

/* ---- per precision ---------------------------------------------------------------- */
#undef DVREN__MARCH_EMIT
#if DVREN_PREC_BITS == 64
#if !defined(DVREN__MARCH_64)
#define DVREN__MARCH_64
#define DVREN__MARCH_EMIT
#endif
#else
#if !defined(DVREN__MARCH_32)
#define DVREN__MARCH_32
#define DVREN__MARCH_EMIT
#endif
#endif
#if defined(DVREN__MARCH_EMIT)
#undef DVREN__MARCH_EMIT

/* What one ray returns. depth_w = sum(w_i t_i) and weight = sum(w_i), the
 * compositing weights w_i = T_i alpha_i; depth is depth_w / weight. */
typedef struct DVREN__RN(dvren__ray_result) {
    dvren_vec3 rgb;
    dvren_real transmittance;
    dvren_real depth_w;
    dvren_real weight;
    uint32_t hit;
    uint32_t samples;
    uint32_t id; /* the surface hit (dvren_surface.id), DVREN_NO_SURFACE when none */
} DVREN__RN(dvren__ray_result);
#define dvren_ray_result DVREN__RN(dvren__ray_result)
#define dvren_field_gradient DVREN__RN(dvren__field_gradient)
#define dvren_pixel_ray DVREN__RN(dvren__pixel_ray)
#define dvren_march_ray DVREN__RN(dvren__march_ray)
#define dvren_pixel_sum DVREN__RN(dvren__pixel_sum)
#define dvren_pixel_sum_add DVREN__RN(dvren__pixel_sum_add)
#define dvren_pixel_sum_zero DVREN__RN(dvren__pixel_sum_zero)
#define dvren_pixel_write DVREN__RN(dvren__pixel_write)
#define dvren_pixel_mean DVREN__RN(dvren__pixel_mean)
#define dvren_shade_pixel DVREN__RN(dvren__shade_pixel)
#define dvren_pixel_sample DVREN__RN(dvren__pixel_sample)
#define dvren_render_pixel DVREN__RN(dvren__render_pixel)
#define dvren_field_gradient_bwd DVREN__RN(dvren__field_gradient_bwd)
#define dvren_backward_ray DVREN__RN(dvren__backward_ray)
#define dvren_backward_pixel DVREN__RN(dvren__backward_pixel)

/* Central-difference gradient of the gradient channel at p, with half step
 * h[k] along axis k (one voxel: smaller steps see the kinks of trilinear
 * interpolation and give streaky normals). */
DVREN_FN dvren_vec3 dvren_field_gradient(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 p, const float* h)
{
    dvren_real a[DVREN_MAX_CHANNELS], b[DVREN_MAX_CHANNELS];
    dvren_real g[3];
    int k;
    uint32_t c = DVREN__GRADIENT_CHANNEL(A);
    for (k = 0; k < 3; ++k) {
        dvren_vec3 e = dvren_v3(k == 0 ? (dvren_real)h[0] : (dvren_real)0, k == 1 ? (dvren_real)h[1] : (dvren_real)0,
                                k == 2 ? (dvren_real)h[2] : (dvren_real)0);
        DVREN_FIELD_EVAL(A->field, dvren_add3(p, e), a);
        DVREN_FIELD_EVAL(A->field, dvren_sub3(p, e), b);
        g[k] = (a[c] - b[c]) / ((dvren_real)2 * (dvren_real)h[k]);
    }
    return dvren_v3(g[0], g[1], g[2]);
}

/* Ray of pixel sample s (of n) of pixel (x, y): from the plan's ray list, or
 * from the camera through the pixel centre (n == 1) or a random sub-pixel
 * position (stream DVREN_RNG_STREAM_PIXEL). */
DVREN_FN void dvren_pixel_ray(const dvren_march_args* A, uint32_t x, uint32_t y, uint32_t s, uint32_t n, dvren_vec3* o,
                              dvren_vec3* d)
{
    uint32_t pix = y * A->width + x;
    if (A->rays) {
        const float* r = A->rays + (uint64_t)pix * DVREN_RAY_FLOATS;
        *o = dvren_v3p(r);
        *d = dvren_v3p(r + 3);
    } else {
        dvren_real px = (dvren_real)x + (dvren_real)0.5, py = (dvren_real)y + (dvren_real)0.5;
        if (n > 1) {
            dvren_rng prng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_PIXEL);
            px = (dvren_real)x + (dvren_real)dvren_rng_uniform(&prng);
            py = (dvren_real)y + (dvren_real)dvren_rng_uniform(&prng);
        }
        dvren_camera_ray(&A->camera, px, py, (dvren_real)A->width, (dvren_real)A->height, o, d);
    }
}

/* March one ray (o, d unit) through the field's box within budget B. */
DVREN_FN dvren_ray_result dvren_march_ray(DVREN_STAGES_PARAM const dvren_march_args* A, const dvren_march_budget* B,
                                          dvren_vec3 o, dvren_vec3 d, dvren_rng* rng)
{
    dvren_ray_result R;
    dvren_real t0, t1, t, dt;
    dvren_real ch[DVREN_MAX_CHANNELS];
    dvren_sampler_state st;
    R.rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    R.transmittance = (dvren_real)1;
    R.depth_w = (dvren_real)0;
    R.weight = (dvren_real)0;
    R.hit = 0;
    R.samples = 0;
    R.id = DVREN_NO_SURFACE;
    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return R;
    R.hit = 1;
    DVREN_SAMPLER_BEGIN(A->sampler, B, o, d, t0, t1, rng, &st);
    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {
        dvren_vec3 p = dvren_madd3(o, d, t);
        dvren_real sigma, tr, w;
        dvren_vec3 c, grad;
        dvren_surface_hit sh;
        int surf;
        sh.id = DVREN_NO_SURFACE;
        surf = DVREN_SAMPLER_SURFACE(A->sampler, B, &st, o, d, &sh, &p);
        R.samples++;
        if (DVREN__LAZY(A)) {
            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue;
            DVREN_FIELD_EVAL(A->field, p, ch);
        } else {
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue; /* empty space (and NaN) emits and absorbs nothing */
        }
        if (surf) { /* an opaque surface: opacity 1, the ray ends here */
            sh.t = t;
            DVREN_SHADER_SURFACE_COLOR(A->shader, ch, &sh, d, &c);
            w = R.transmittance;
            R.rgb = dvren_madd3(R.rgb, c, w);
            R.depth_w += w * t;
            R.weight += w;
            R.transmittance = (dvren_real)0;
            R.id = sh.id;
            break;
        }
        grad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);
        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &c);
        /* 1 - alpha_i computed as exp() directly: no cancellation in T */
        tr = dvren_exp(-sigma * dt);
        w = R.transmittance * ((dvren_real)1 - tr);
        R.rgb = dvren_madd3(R.rgb, c, w);
        R.depth_w += w * t;
        R.weight += w;
        R.transmittance *= tr;
        if (R.transmittance < (dvren_real)A->min_transmittance) break;
    }
    return R;
}

/* Ray s (of n) of pixel (x, y) within budget B; its rgb includes the
 * background term T * background. */
DVREN_FN dvren_ray_result dvren_pixel_sample(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y,
                                             uint32_t s, uint32_t n, const dvren_march_budget* B)
{
    dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, y * A->width + x, s, DVREN_RNG_STREAM_SAMPLER);
    dvren_vec3 o, d;
    dvren_ray_result R;
    dvren_pixel_ray(A, x, y, s, n, &o, &d);
    R = dvren_march_ray(DVREN_STAGES_ARG A, B, o, d, &srng);
    R.rgb = dvren_madd3(R.rgb, dvren_v3p(A->background), R.transmittance);
    return R;
}

/* A pixel's rays summed in order s = 0 .. n-1 (the CPU's loop and the GPU's
 * gather add in the same order, so both give the same bits). */
typedef struct DVREN__RN(dvren__pixel_sum) {
    dvren_vec3 rgb;
    dvren_real trans, depth_w, weight, luma, luma2;
    uint32_t hit, samples;
    uint32_t id; /* the first surface its rays hit, in order */
} DVREN__RN(dvren__pixel_sum);

DVREN_FN void dvren_pixel_sum_zero(dvren_pixel_sum* P)
{
    P->rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    P->trans = P->depth_w = P->weight = P->luma = P->luma2 = (dvren_real)0;
    P->hit = P->samples = 0u;
    P->id = DVREN_NO_SURFACE;
}

DVREN_FN void dvren_pixel_sum_add(dvren_pixel_sum* P, const dvren_ray_result* R)
{
    dvren_real y = DVREN_LUMA(R->rgb.x, R->rgb.y, R->rgb.z);
    P->rgb = dvren_add3(P->rgb, R->rgb);
    P->trans += R->transmittance;
    P->depth_w += R->depth_w;
    P->weight += R->weight;
    P->luma += y;
    P->luma2 += y * y;
    P->hit |= R->hit;
    P->samples += R->samples;
    if (P->id == DVREN_NO_SURFACE) P->id = R->id;
}

/* The averages of a pixel's n rays: out[0..2] rgb, out[3] alpha 1 - T,
 * out[4] depth sum(w t) / sum(w) (0 where nothing was hit), out[5] T,
 * out[6] the variance of the luminance estimate (DVREN_OUTPUT_VARIANCE; 0
 * when n = 1). */
DVREN_FN void dvren_pixel_mean(const dvren_pixel_sum* P, uint32_t n, dvren_real* out)
{
    dvren_real inv = (dvren_real)1 / (dvren_real)n, v = (dvren_real)0;
    out[0] = P->rgb.x * inv;
    out[1] = P->rgb.y * inv;
    out[2] = P->rgb.z * inv;
    out[3] = (dvren_real)1 - P->trans * inv;
    out[4] = P->weight > (dvren_real)0 ? P->depth_w / P->weight : (dvren_real)0;
    out[5] = P->trans * inv;
    if (n > 1) {
        v = (P->luma2 - P->luma * inv * P->luma) / ((dvren_real)(n - 1) * (dvren_real)n);
        if (v < (dvren_real)0) v = (dvren_real)0; /* rounding */
    }
    out[6] = v;
}

/* Sums the rays of pixel (x, y) within its budget (one through the pixel
 * centre when it has one, else at random sub-pixel positions) into *P, in
 * order; returns their number. */
DVREN_FN uint32_t dvren_shade_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y,
                                    dvren_pixel_sum* P)
{
    uint32_t pix = y * A->width + x, n = dvren_pixel_spp(A, pix), s;
    dvren_march_budget B = dvren_pixel_budget(A, pix);
    dvren_pixel_sum_zero(P);
    for (s = 0; s < n; ++s) {
        dvren_ray_result R = dvren_pixel_sample(DVREN_STAGES_ARG A, x, y, s, n, &B);
        dvren_pixel_sum_add(P, &R);
    }
    return n;
}

/* Writes the averages of pixel `pix`'s n rays into every output of A->fb
 * that is not null. */
DVREN_FN void dvren_pixel_write(const dvren_march_args* A, uint32_t pix, const dvren_pixel_sum* P, uint32_t n)
{
    dvren_real o[7];
    dvren_pixel_mean(P, n, o);
    if (A->fb.rgb) {
        A->fb.rgb[3 * pix + 0] = (float)o[0];
        A->fb.rgb[3 * pix + 1] = (float)o[1];
        A->fb.rgb[3 * pix + 2] = (float)o[2];
    }
    if (A->fb.alpha) A->fb.alpha[pix] = (float)o[3];
    if (A->fb.transmittance) A->fb.transmittance[pix] = (float)o[5];
    if (A->fb.depth) A->fb.depth[pix] = (float)o[4];
    if (A->fb.hit) A->fb.hit[pix] = (uint8_t)P->hit;
    if (A->fb.samples) A->fb.samples[pix] = P->samples;
    if (A->fb.variance) A->fb.variance[pix] = (float)o[6];
    if (A->fb.surface_id) A->fb.surface_id[pix] = P->id;
}

/* Render pixel (x, y) of the plan into every output of A->fb that is not null. */
DVREN_FN void dvren_render_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)
{
    dvren_pixel_sum P;
    uint32_t n = dvren_shade_pixel(DVREN_STAGES_ARG A, x, y, &P);
    dvren_pixel_write(A, y * A->width + x, &P, n);
}

#if defined(DVREN_MARCH_BACKWARD)
/* ---- Backward -----------------------------------------------------------------------
 * By replay (as Plenoxels and nerfacc do): nothing is stored per sample, so
 * memory does not grow with the number of samples. For one ray with
 * tau_i = sigma_i dt_i, T_{i+1} = T_i exp(-tau_i), w_i = T_i - T_{i+1}:
 *
 *   dC/dc_i     = w_i
 *   dC/dtau_i   = T_{i+1} c_i - (C - sum_{k<=i} w_k c_k)     (C includes T_N bg)
 *   dT_N/dtau_i = -T_N
 *   dDw/dtau_i  = T_{i+1} t_i - (Dw - sum_{k<=i} w_k t_k)    (Dw = sum w_k t_k)
 *   dW/dtau_i   = T_{i+1} - (W - sum_{k<=i} w_k)             (W = sum w_k)
 *
 * so one pass that knows the ray's totals (C, T_N, Dw, W) can replay the
 * samples in order and hand each its gradient. The totals come from a first
 * replay (dvren_march_ray). The pixel's depth D = sum_s Dw_s / sum_s W_s
 * over its spp rays needs the pixel's sums first: a pass over its rays when
 * a depth cotangent is given and spp > 1. Early ray termination replays the
 * same decisions (the same arithmetic), so the gradient is that of the
 * truncated sum, like the image. */

/* Backward of dvren_field_gradient: dL_dgrad is the cotangent of the
 * gradient; each of the six evaluations gets +-dL_dgrad[k] / (2 h_k) on the
 * gradient channel. */
DVREN_FN void dvren_field_gradient_bwd(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 p, const float* h,
                                       dvren_vec3 dL_dgrad)
{
    dvren_real g[DVREN_MAX_CHANNELS];
    dvren_real gk[3];
    int k;
    uint32_t c, n = A->channels;
    gk[0] = dL_dgrad.x;
    gk[1] = dL_dgrad.y;
    gk[2] = dL_dgrad.z;
    for (c = 0; c < n; ++c) g[c] = (dvren_real)0;
    for (k = 0; k < 3; ++k) {
        dvren_vec3 e = dvren_v3(k == 0 ? (dvren_real)h[0] : (dvren_real)0, k == 1 ? (dvren_real)h[1] : (dvren_real)0,
                                k == 2 ? (dvren_real)h[2] : (dvren_real)0);
        dvren_real v = gk[k] / ((dvren_real)2 * (dvren_real)h[k]);
        if (v == (dvren_real)0) continue;
        g[DVREN__GRADIENT_CHANNEL(A)] = v;
        DVREN_FIELD_EVAL_BWD(A->field, dvren_add3(p, e), g);
        g[DVREN__GRADIENT_CHANNEL(A)] = -v;
        DVREN_FIELD_EVAL_BWD(A->field, dvren_sub3(p, e), g);
    }
}

/* Replays one ray with its totals R (from dvren_march_ray with the same
 * rng), handing every sample its gradient. gC: dL/dC of this ray (C
 * includes T_N bg); gT: dL/dT_N; gD, D, W: the pixel's depth cotangent,
 * depth and weight sum (gD = 0: no depth term). */
DVREN_FN void dvren_backward_ray(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 o, dvren_vec3 d, dvren_rng* rng,
                                 const dvren_ray_result* R, dvren_vec3 C, dvren_vec3 gC, dvren_real gT, dvren_real gD,
                                 dvren_real D, dvren_real W)
{
    dvren_real t0, t1, t, dt;
    dvren_real ch[DVREN_MAX_CHANNELS], dch[DVREN_MAX_CHANNELS];
    dvren_sampler_state st;
    dvren_real T = (dvren_real)1, pdw = (dvren_real)0, pw = (dvren_real)0;
    dvren_vec3 pc = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    dvren_real gTT = -gT * R->transmittance; /* dL/dT_N * dT_N/dtau, the same for every sample */
    dvren_real gDW = W > (dvren_real)0 ? gD / W : (dvren_real)0;
    uint32_t n = A->channels, c;
    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return;
    DVREN_SAMPLER_BEGIN(A->sampler, &A->budget, o, d, t0, t1, rng, &st);
    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {
        dvren_vec3 p = dvren_madd3(o, d, t);
        dvren_real sigma, tr, w, Tn, dtau;
        dvren_vec3 col, grad, dgrad;
        dvren_surface_hit sh;
        int surf;
        sh.id = DVREN_NO_SURFACE;
        surf = DVREN_SAMPLER_SURFACE(A->sampler, &A->budget, &st, o, d, &sh, &p);
        if (surf) { /* the forward's test; its geometry gets no gradient */
            if (DVREN__LAZY(A)) {
                ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
                sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
                if (!(sigma > (dvren_real)0)) continue;
            }
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue;
            sh.t = t;
            for (c = 0; c < n; ++c) dch[c] = (dvren_real)0;
            DVREN_SHADER_SURFACE_COLOR_BWD(A->shader, ch, &sh, d, dvren_scale3(gC, T), dch);
            DVREN_FIELD_EVAL_BWD(A->field, p, dch);
            break;
        }
        if (DVREN__SKIP_EMPTY(A) && DVREN__LAZY(A)) {
            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) continue;
            DVREN_FIELD_EVAL(A->field, p, ch);
        } else {
            DVREN_FIELD_EVAL(A->field, p, ch);
            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);
            if (!(sigma > (dvren_real)0)) {
                /* no absorption, no emission: only a flat-density shader may skip it */
                if (DVREN__SKIP_EMPTY(A) || !(sigma == (dvren_real)0)) continue;
                sigma = (dvren_real)0;
            }
        }
        grad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);
        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &col);
        /* the forward's arithmetic, operation for operation */
        tr = dvren_exp(-sigma * dt);
        w = T * ((dvren_real)1 - tr);
        pc = dvren_madd3(pc, col, w);
        pdw += w * t;
        pw += w;
        Tn = T * tr;
        dtau = dvren_dot3(gC, dvren_sub3(dvren_scale3(col, Tn), dvren_sub3(C, pc))) + gTT;
        if (gDW != (dvren_real)0)
            dtau += gDW * ((Tn * t - (R->depth_w - pdw)) - D * (Tn - (R->weight - pw)));
        for (c = 0; c < n; ++c) dch[c] = (dvren_real)0;
        dgrad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        DVREN_SHADER_COLOR_BWD(A->shader, ch, grad, d, dvren_scale3(gC, w), dch, &dgrad);
        DVREN_SHADER_DENSITY_BWD(A->shader, ch, dt, dtau * dt, dch);
        DVREN_FIELD_EVAL_BWD(A->field, p, dch);
        if (DVREN__NEEDS_GRADIENT(A)) dvren_field_gradient_bwd(DVREN_STAGES_ARG A, p, A->gradient_step, dgrad);
        T = Tn;
        if (T < (dvren_real)A->min_transmittance) break;
    }
}

/* Backward of dvren_render_pixel for pixel (x, y): reads the cotangents of
 * A->grad at the pixel and adds every parameter's gradient through the
 * stages' _bwd functions. */
DVREN_FN void dvren_backward_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)
{
    uint32_t pix = y * A->width + x, s;
    dvren_real inv_spp = (dvren_real)1 / (dvren_real)A->spp, k = (dvren_real)A->grad_scale;
    dvren_vec3 gC = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
    dvren_real gT = (dvren_real)0, gD = (dvren_real)0, D = (dvren_real)0, W = (dvren_real)0;
    dvren_vec3 bg = dvren_v3p(A->background);
    if (A->grad.rgb) gC = dvren_scale3(dvren_v3p(A->grad.rgb + 3 * pix), k * inv_spp);
    if (A->grad.alpha) gT -= (dvren_real)A->grad.alpha[pix] * k * inv_spp;
    if (A->grad.transmittance) gT += (dvren_real)A->grad.transmittance[pix] * k * inv_spp;
    if (A->grad.depth) gD = (dvren_real)A->grad.depth[pix] * k;
    if (gC.x == (dvren_real)0 && gC.y == (dvren_real)0 && gC.z == (dvren_real)0 && gT == (dvren_real)0 &&
        gD == (dvren_real)0)
        return;
    if (gD != (dvren_real)0 && A->spp > 1) {
        /* the pixel's depth is a ratio of sums over its rays: those sums first */
        dvren_real dw = (dvren_real)0;
        for (s = 0; s < A->spp; ++s) {
            dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
            dvren_vec3 o, d;
            dvren_ray_result R;
            dvren_pixel_ray(A, x, y, s, A->spp, &o, &d);
            R = dvren_march_ray(DVREN_STAGES_ARG A, &A->budget, o, d, &srng);
            dw += R.depth_w;
            W += R.weight;
        }
        D = W > (dvren_real)0 ? dw / W : (dvren_real)0;
    }
    if (A->spp == 1 && A->fwd_rgb && A->fwd_transmittance && gD == (dvren_real)0) {
        /* the forward pass's outputs are this ray's totals: C (with T_N bg)
         * and T_N, bit for bit what a replay would compute */
        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, 0u, DVREN_RNG_STREAM_SAMPLER);
        dvren_vec3 o, d;
        dvren_ray_result R;
        R.rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
        R.transmittance = (dvren_real)A->fwd_transmittance[pix];
        R.depth_w = R.weight = (dvren_real)0;
        R.hit = 1u;
        R.samples = 0u;
        R.id = DVREN_NO_SURFACE;
        dvren_pixel_ray(A, x, y, 0u, 1u, &o, &d);
        dvren_backward_ray(DVREN_STAGES_ARG A, o, d, &srng, &R, dvren_v3p(A->fwd_rgb + 3 * pix), gC, gT, gD, D, W);
        return;
    }
    for (s = 0; s < A->spp; ++s) {
        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
        dvren_vec3 o, d;
        dvren_ray_result R;
        dvren_pixel_ray(A, x, y, s, A->spp, &o, &d);
        R = dvren_march_ray(DVREN_STAGES_ARG A, &A->budget, o, d, &srng);
        if (!R.hit) continue;
        if (A->spp == 1) {
            W = R.weight;
            D = W > (dvren_real)0 ? R.depth_w / W : (dvren_real)0;
        }
        srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);
        dvren_backward_ray(DVREN_STAGES_ARG A, o, d, &srng, &R, dvren_madd3(R.rgb, bg, R.transmittance), gC, gT, gD, D, W);
    }
}
#endif /* DVREN_MARCH_BACKWARD */

#endif /* per precision */
/* >>march end */
#endif /* DVREN__GEN_MARCH */

#if defined(DVREN__GEN_TRAIN)
/* >>train begin (generated from kernels/dvren_train.h by ./build.sh gen: do not edit) */
/* kernels/dvren_train.h - per-element code of dvren's training operations
 * (single source: compiled by the C compiler into dvren.h's CPU loops and
 * by NVRTC into the GPU's training kernels). Float32 storage, float32
 * arithmetic except where noted.
 *
 *   losses      dvren_loss_elem: value and derivative of L2, L1, Huber
 *   TV          dvren_tv_voxel: a voxel's term of the total variation and
 *               the gradient it gathers from every term that reads it
 *   optimizers  dvren_adam_elem, dvren_sgd_elem: one parameter element
 *
 * dvren.h carries a generated copy (">>train begin/end"); edit this file
 * and run `./build.sh gen`. */
#ifndef DVREN_TRAIN_H
#define DVREN_TRAIN_H

/* Loss kinds (dvren_loss_kind). */
#define DVREN__LOSS_L2 0u
#define DVREN__LOSS_L1 1u
#define DVREN__LOSS_HUBER 2u

/* rho(e) of one residual e = prediction - target, and d rho / d e. */
DVREN_FN float dvren_loss_elem(uint32_t kind, float delta, float e, float* d)
{
    float a = dvren_absf(e);
    if (kind == DVREN__LOSS_L1) {
        *d = e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f);
        return a;
    }
    if (kind == DVREN__LOSS_HUBER) {
        if (a < delta) {
            *d = e / delta;
            return 0.5f * e * e / delta;
        }
        *d = e > 0.0f ? 1.0f : -1.0f;
        return a - 0.5f * delta;
    }
    *d = 2.0f * e;
    return e * e;
}

/* Total variation over a (Z, Y, X, C) grid x, channel c, voxel (i, j, k)
 * (x, y, z indices). The term of voxel u is
 *   s_u = sqrt(eps + dx_u^2 + dy_u^2 + dz_u^2)     (squared: dx^2 + dy^2 + dz^2)
 * with dx_u = x[u + e_x] - x[u] (0 on the far face). Returns s_v and puts in
 * *g the derivative of sum_u s_u with respect to x[v]: from s_v itself and
 * from s_{v - e_x}, s_{v - e_y}, s_{v - e_z}, each recomputed here, so every
 * voxel writes only its own gradient (no atomics). */
#define DVREN_TV_EPS 1e-8f
DVREN_FN void dvren__tv_diffs(const float* x, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c, uint32_t i,
                              uint32_t j, uint32_t k, float* dx, float* dy, float* dz)
{
    uint64_t v = (((uint64_t)k * Y + j) * X + i) * C + c;
    float xv = x[v];
    *dx = i + 1 < X ? x[v + C] - xv : 0.0f;
    *dy = j + 1 < Y ? x[v + (uint64_t)X * C] - xv : 0.0f;
    *dz = k + 1 < Z ? x[v + (uint64_t)X * Y * C] - xv : 0.0f;
}

DVREN_FN float dvren_tv_voxel(const float* x, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c, uint32_t i,
                              uint32_t j, uint32_t k, uint32_t squared, float* g)
{
    float dx, dy, dz, s, q, r;
    dvren__tv_diffs(x, X, Y, Z, C, c, i, j, k, &dx, &dy, &dz);
    q = dx * dx + dy * dy + dz * dz;
    if (squared) {
        s = q;
        r = -2.0f * (dx + dy + dz);
    } else {
        s = sqrtf(DVREN_TV_EPS + q);
        r = -(dx + dy + dz) / s;
    }
    /* the terms of the three lower neighbours read x[v] as their "+e" value */
    if (i > 0) {
        float ax, ay, az;
        dvren__tv_diffs(x, X, Y, Z, C, c, i - 1, j, k, &ax, &ay, &az);
        r += squared ? 2.0f * ax : ax / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);
    }
    if (j > 0) {
        float ax, ay, az;
        dvren__tv_diffs(x, X, Y, Z, C, c, i, j - 1, k, &ax, &ay, &az);
        r += squared ? 2.0f * ay : ay / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);
    }
    if (k > 0) {
        float ax, ay, az;
        dvren__tv_diffs(x, X, Y, Z, C, c, i, j, k - 1, &ax, &ay, &az);
        r += squared ? 2.0f * az : az / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);
    }
    *g = r;
    return s;
}

/* Adam (Kingma and Ba, ICLR 2015, Algorithm 1) for one element, in the
 * arrangement of torch.optim.Adam: m, v the moments; bc1 = 1 - beta1^t,
 * sbc2 = sqrt(1 - beta2^t) for step t >= 1; weight decay adds wd * x to g. */
DVREN_FN void dvren_adam_elem(float* x, float* m, float* v, float g, float lr, float beta1, float beta2, float eps,
                              float wd, float bc1, float sbc2)
{
    float mm, vv;
    if (wd != 0.0f) g += wd * *x;
    mm = beta1 * *m + (1.0f - beta1) * g;
    vv = beta2 * *v + (1.0f - beta2) * g * g;
    *m = mm;
    *v = vv;
    *x -= (lr / bc1) * mm / (sqrtf(vv) / sbc2 + eps);
}

/* SGD with momentum (torch.optim.SGD: buf = momentum buf + g; x -= lr buf;
 * the first step starts the buffer at g, which buf = 0 gives as well). */
DVREN_FN void dvren_sgd_elem(float* x, float* buf, float g, float lr, float momentum, float wd)
{
    float b;
    if (wd != 0.0f) g += wd * *x;
    b = momentum * *buf + g;
    *buf = b;
    *x -= lr * b;
}

#endif /* DVREN_TRAIN_H */
/* >>train end */
#endif /* DVREN__GEN_TRAIN */

#if defined(DVREN__GEN_SPLAT)
/* >>splat begin (generated from kernels/dvren_splat.h by ./build.sh gen: do not edit) */
/* kernels/dvren_splat.h - the 3D Gaussian splat rasteriser of dvren
 * (single source: compiled by the C compiler into dvren.h's CPU path and by
 * NVRTC into the GPU's splat kernels; docs/splats.md, "Rendering").
 *
 * The image formation of 3D Gaussian Splatting (Kerbl, Kopanas, Leimkuehler,
 * Drettakis, SIGGRAPH 2023) as gsplat implements it (Ye et al., "gsplat: an
 * open-source library for Gaussian splatting", JMLR 2025):
 *
 *   Gaussian i: mean mu (world), covariance Sigma = M M^T with
 *     M = R(q / |q|) diag(exp(log_scale)), opacity o = sigmoid(logit), colour
 *     from real spherical harmonics of degree 0..3 evaluated at the unit
 *     direction from the camera centre to mu, + 0.5, clamped at 0.
 *   EWA projection (Zwicker, Pfister, van Baar, Gross, "EWA splatting", IEEE
 *     TVCG 2002, eq. 31-34): camera-space mean t = W mu + w (OpenCV camera:
 *     x right, y down, z forward), Sigma' = J W Sigma W^T J^T with J the
 *     Jacobian of the pinhole projection at t, whose x/z and y/z are clamped
 *     to 1.3 times the half field of view (as 3DGS and gsplat do), plus the
 *     low-pass dilation eps2d I (0.3 pixel^2). Conic Q = Sigma'^-1.
 *   Culling: z outside [near, far], det(Sigma') <= 0, o < 1/255, or the
 *     screen box (radius ceil(e sqrt(Sigma'_xx)), ceil(e sqrt(Sigma'_yy)),
 *     e = min(3.33, sqrt(2 ln(255 o))), Hanson et al. 2024's opacity-aware
 *     bound as gsplat uses it) entirely outside the image.
 *   Binning: each visible Gaussian goes to every 16 x 16 tile its box
 *     overlaps; each tile's list is sorted by depth z (ties: Gaussian index).
 *   Per pixel p (centre at +0.5), front to back over its tile's list:
 *     sigma_i = 0.5 d^T Q d (d = mean2d - p),
 *     alpha_i = min(alpha_max, o exp(-sigma_i)), skipped when sigma_i < 0 or
 *     alpha_i < 1/255; the pixel stops (exclusive) when T (1 - alpha_i)
 *     <= min_transmittance (1e-4);
 *     C = sum_i c_i alpha_i T_i + T background,   T_i = prod_{j<i}(1 - alpha_j)
 *     alpha = 1 - T, depth = sum_i z_i alpha_i T_i / alpha (0 where alpha
 *     is 0), median depth = z of the first Gaussian after which T <= 0.5,
 *     count = the Gaussians composited.
 *
 * Backward (by replay, from the stored final T and the last list entry of
 * each pixel, back to front: T_i = T_{i+1} / (1 - alpha_i)): the pixel's
 * cotangents of rgb, alpha and depth give each list entry's gradient with
 * respect to its projected quantities (mean2d, conic, opacity, colour,
 * depth) (dvren_splat_bwd_step); the CPU adds them to that entry's slot
 * (one thread owns a tile's pixels) and then sums each Gaussian's entries in
 * a fixed order, the GPU reduces them over each warp and adds them to the
 * Gaussian's sums with float atomics (so its last bits vary from run to
 * run); then
 * per Gaussian, dvren_splat_project_bwd carries them to the parameters:
 * means, log-scales, quaternions, opacity logits, SH coefficients.
 * Non-differentiable and given no gradient: the culling, the box, the
 * 1/255 skip, the stop at min_transmittance, the median depth and count.
 *
 * Layouts (float32 storage; the float64 copy is the gradient checker's):
 *   means (N, 3), log_scales (N, 3), quats (N, 4) w x y z, opacity logits
 *   (N), sh (N, K, 3) with K = (degree + 1)^2, coefficient-major, colour
 *   innermost (gsplat's layout; PLY's f_dc / f_rest are reordered by the
 *   host).
 *
 * dvren.h carries a generated copy (">>splat begin/end") and reads it in
 * float32 and float64; dvren_cuda.h carries one as strings (">>cuda-src
 * splat") that NVRTC compiles in float32 into the splat module with
 * kernels/dvren_cuda_splat.h; edit this file and run `./build.sh gen`. */
#ifndef DVREN_SPLAT_H
#define DVREN_SPLAT_H

#define DVREN_SPLAT_TILE 16u                 /* tile edge in pixels */
#define DVREN_SPLAT_MAX_DEGREE 3u            /* spherical harmonics up to degree 3 */
#define DVREN_SPLAT_MAX_COEFFS 16u           /* (3 + 1)^2 */
#define DVREN_SPLAT_ALPHA_MIN (1.0f / 255.0f) /* alphas below are skipped */
#define DVREN_SPLAT_EXTEND 3.33f             /* box half-size in standard deviations (at most) */
#define DVREN_SPLAT_GRAD_FLOATS 10u          /* per list entry: mean2d xy, conic abc, opacity, rgb, depth */


/* The camera and settings as the rasteriser sees them (host fills it from
 * the plan's camera and the render options). */
typedef struct dvren_splat_view {
    float W[9];               /* world to camera rotation, row-major (camera x right, y down, z forward) */
    float w[3];               /* world to camera translation: t = W mu + w */
    float eye[3];             /* camera centre in world (-W^T w) */
    float fx, fy, cx, cy;     /* pinhole intrinsics in pixels (pixel centres at +0.5) */
    uint32_t width, height;   /* image size in pixels */
    uint32_t tiles_x, tiles_y;
    float near_z, far_z;      /* camera-z range kept (world units) */
    float eps2d;              /* low-pass dilation added to the 2-D covariance's diagonal (pixel^2) */
    float alpha_max;          /* cap of alpha (0.99 in 3DGS, 0.999 in gsplat) */
    float min_transmittance;  /* a pixel stops before T would fall to this or below */
    float background[3];      /* added as T * background */
    uint32_t sh_degree;       /* 0 .. 3 */
    uint32_t count;           /* Gaussians */
    /* mixed scenes: an image layer (a volume render) composited at its depth
     * (docs/splats.md, "Mixed scenes"); layer_rgb NULL when there is none */
    const float* layer_rgb;   /* (H, W, 3) premultiplied radiance */
    const float* layer_alpha; /* (H, W) */
    const float* layer_depth; /* (H, W) expected ray distance from the eye (the volume's depth output) */
} dvren_splat_view;

/* Camera-space position of mu: t = W mu + w. */
DVREN_FN void dvren_splat_to_camera(const dvren_splat_view* v, float x, float y, float z, float* t)
{
    t[0] = v->W[0] * x + v->W[1] * y + v->W[2] * z + v->w[0];
    t[1] = v->W[3] * x + v->W[4] * y + v->W[5] * z + v->w[1];
    t[2] = v->W[6] * x + v->W[7] * y + v->W[8] * z + v->w[2];
}

#endif /* DVREN_SPLAT_H */

/* ---- per precision ---------------------------------------------------------------- */
#undef DVREN__SPLAT_EMIT
#if DVREN_PREC_BITS == 64
#if !defined(DVREN__SPLAT_64)
#define DVREN__SPLAT_64
#define DVREN__SPLAT_EMIT
#endif
#else
#if !defined(DVREN__SPLAT_32)
#define DVREN__SPLAT_32
#define DVREN__SPLAT_EMIT
#endif
#endif
#if defined(DVREN__SPLAT_EMIT)
#undef DVREN__SPLAT_EMIT

/* ---- spherical harmonics ------------------------------------------------------------
 * The real SH basis of 3DGS and gsplat (Sloan, "Stupid spherical harmonics
 * tricks", GDC 2008, with the signs 3DGS uses), at a unit direction n:
 *   l = 0: C0
 *   l = 1: -C1 y, C1 z, -C1 x
 *   l = 2: C20 xy, C21 yz, C22 (2zz - xx - yy), C23 xz, C24 (xx - yy)
 *   l = 3: C30 y(3xx - yy), C31 xyz, C32 y(4zz - xx - yy),
 *          C33 z(2zz - 3xx - 3yy), C34 x(4zz - xx - yy), C35 z(xx - yy),
 *          C36 x(xx - 3yy)
 * dvren_splat_sh_basis writes the (degree + 1)^2 values b[k]. */
#define dvren_splat_sh_basis DVREN__RN(dvren__splat_sh_basis)
#define dvren_splat_sh_basis_grad DVREN__RN(dvren__splat_sh_basis_grad)
DVREN_FN void dvren_splat_sh_basis(uint32_t degree, dvren_real x, dvren_real y, dvren_real z, dvren_real* b)
{
    const dvren_real C1 = (dvren_real)0.4886025119029199;
    dvren_real xx = x * x, yy = y * y, zz = z * z;
    b[0] = (dvren_real)0.28209479177387814;
    if (degree < 1) return;
    b[1] = -C1 * y;
    b[2] = C1 * z;
    b[3] = -C1 * x;
    if (degree < 2) return;
    b[4] = (dvren_real)1.0925484305920792 * x * y;
    b[5] = (dvren_real)-1.0925484305920792 * y * z;
    b[6] = (dvren_real)0.31539156525252005 * ((dvren_real)2 * zz - xx - yy);
    b[7] = (dvren_real)-1.0925484305920792 * x * z;
    b[8] = (dvren_real)0.5462742152960396 * (xx - yy);
    if (degree < 3) return;
    b[9] = (dvren_real)-0.5900435899266435 * y * ((dvren_real)3 * xx - yy);
    b[10] = (dvren_real)2.890611442640554 * x * y * z;
    b[11] = (dvren_real)-0.4570457994644658 * y * ((dvren_real)4 * zz - xx - yy);
    b[12] = (dvren_real)0.3731763325901154 * z * ((dvren_real)2 * zz - (dvren_real)3 * xx - (dvren_real)3 * yy);
    b[13] = (dvren_real)-0.4570457994644658 * x * ((dvren_real)4 * zz - xx - yy);
    b[14] = (dvren_real)1.445305721320277 * z * (xx - yy);
    b[15] = (dvren_real)-0.5900435899266435 * x * (xx - (dvren_real)3 * yy);
}

/* g += sum_k w[k] d b[k] / d n (n = (x, y, z), the partial derivatives of
 * the polynomials above, n not constrained to the sphere). */
DVREN_FN void dvren_splat_sh_basis_grad(uint32_t degree, dvren_real x, dvren_real y, dvren_real z, const dvren_real* w,
                                        dvren_real* g)
{
    const dvren_real C1 = (dvren_real)0.4886025119029199;
    const dvren_real C20 = (dvren_real)1.0925484305920792, C21 = (dvren_real)-1.0925484305920792;
    const dvren_real C22 = (dvren_real)0.31539156525252005, C23 = (dvren_real)-1.0925484305920792;
    const dvren_real C24 = (dvren_real)0.5462742152960396;
    const dvren_real C30 = (dvren_real)-0.5900435899266435, C31 = (dvren_real)2.890611442640554;
    const dvren_real C32 = (dvren_real)-0.4570457994644658, C33 = (dvren_real)0.3731763325901154;
    const dvren_real C34 = (dvren_real)-0.4570457994644658, C35 = (dvren_real)1.445305721320277;
    const dvren_real C36 = (dvren_real)-0.5900435899266435;
    dvren_real xx = x * x, yy = y * y, zz = z * z;
    if (degree < 1) return;
    g[0] += -C1 * w[3];
    g[1] += -C1 * w[1];
    g[2] += C1 * w[2];
    if (degree < 2) return;
    g[0] += C20 * y * w[4] - (dvren_real)2 * C22 * x * w[6] + C23 * z * w[7] + (dvren_real)2 * C24 * x * w[8];
    g[1] += C20 * x * w[4] + C21 * z * w[5] - (dvren_real)2 * C22 * y * w[6] - (dvren_real)2 * C24 * y * w[8];
    g[2] += C21 * y * w[5] + (dvren_real)4 * C22 * z * w[6] + C23 * x * w[7];
    if (degree < 3) return;
    g[0] += (dvren_real)6 * C30 * x * y * w[9] + C31 * y * z * w[10] - (dvren_real)2 * C32 * x * y * w[11] -
            (dvren_real)6 * C33 * x * z * w[12] + C34 * ((dvren_real)4 * zz - (dvren_real)3 * xx - yy) * w[13] +
            (dvren_real)2 * C35 * x * z * w[14] + C36 * ((dvren_real)3 * xx - (dvren_real)3 * yy) * w[15];
    g[1] += C30 * ((dvren_real)3 * xx - (dvren_real)3 * yy) * w[9] + C31 * x * z * w[10] +
            C32 * ((dvren_real)4 * zz - xx - (dvren_real)3 * yy) * w[11] - (dvren_real)6 * C33 * y * z * w[12] -
            (dvren_real)2 * C34 * x * y * w[13] - (dvren_real)2 * C35 * y * z * w[14] -
            (dvren_real)6 * C36 * x * y * w[15];
    g[2] += C31 * x * y * w[10] + (dvren_real)8 * C32 * y * z * w[11] +
            C33 * ((dvren_real)6 * zz - (dvren_real)3 * xx - (dvren_real)3 * yy) * w[12] +
            (dvren_real)8 * C34 * x * z * w[13] + C35 * (xx - yy) * w[14];
}

/* ---- projection ---------------------------------------------------------------------- */

/* One projected Gaussian. rx == 0: culled (nothing else is valid). */
typedef struct DVREN__RN(dvren__splat_proj) {
    dvren_real x, y;       /* mean in pixels */
    dvren_real ca, cb, cc; /* conic Q = [ca cb; cb cc] (1 / pixel^2) */
    dvren_real opacity;    /* sigmoid of the logit */
    dvren_real depth;      /* camera z */
    dvren_real rgb[3];     /* SH colour (+0.5, clamped at 0) */
    int32_t rx, ry;        /* box half-size in pixels */
} DVREN__RN(dvren__splat_proj);
#define dvren_splat_proj DVREN__RN(dvren__splat_proj)
#define dvren_splat_rotation DVREN__RN(dvren__splat_rotation)
#define dvren_splat_project DVREN__RN(dvren__splat_project)
#define dvren_splat_project_bwd DVREN__RN(dvren__splat_project_bwd)
#define dvren_splat_tile_rect DVREN__RN(dvren__splat_tile_rect)

/* Rotation matrix (row-major) of the quaternion q = (w, x, y, z) / |q|;
 * returns |q| (0: degenerate, r untouched). */
DVREN_FN dvren_real dvren_splat_rotation(const dvren_real* q, dvren_real* r)
{
    dvren_real n = dvren_sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    dvren_real w, x, y, z;
    if (!(n > (dvren_real)0)) return (dvren_real)0;
    w = q[0] / n;
    x = q[1] / n;
    y = q[2] / n;
    z = q[3] / n;
    r[0] = (dvren_real)1 - (dvren_real)2 * (y * y + z * z);
    r[1] = (dvren_real)2 * (x * y - w * z);
    r[2] = (dvren_real)2 * (x * z + w * y);
    r[3] = (dvren_real)2 * (x * y + w * z);
    r[4] = (dvren_real)1 - (dvren_real)2 * (x * x + z * z);
    r[5] = (dvren_real)2 * (y * z - w * x);
    r[6] = (dvren_real)2 * (x * z - w * y);
    r[7] = (dvren_real)2 * (y * z + w * x);
    r[8] = (dvren_real)1 - (dvren_real)2 * (x * x + y * y);
    return n;
}

/* The pieces of the projection that forward and backward share. */
typedef struct DVREN__RN(dvren__splat_geo) {
    dvren_real t[3];       /* camera-space mean */
    dvren_real rq[9];      /* rotation of the normalised quaternion */
    dvren_real s[3];       /* scales */
    dvren_real qn;         /* |q| */
    dvren_real cov_c[9];   /* W Sigma W^T */
    dvren_real J[6];       /* 2 x 3, row-major */
    dvren_real lim[2];     /* clamped x/z, y/z used in J */
    int32_t clamped[2];    /* 1 where the clamp was active */
    dvren_real a, b, c;    /* dilated 2-D covariance */
    dvren_real det;
} DVREN__RN(dvren__splat_geo);
#define dvren__splat_geo_r DVREN__RN(dvren__splat_geo)
#define dvren__splat_geometry DVREN__RN(dvren__splat_geometry)

/* Camera-space mean, covariance and its 2-D projection; 0 when culled by
 * depth or a degenerate quaternion. */
DVREN_FN int dvren__splat_geometry(const dvren_splat_view* v, const dvren_real* mean, const dvren_real* log_scale,
                                   const dvren_real* quat, dvren__splat_geo_r* g)
{
    dvren_real M[9], S[9], WS[9];
    dvren_real tanx, tany, lxp, lxn, lyp, lyn, rz, u, vv;
    int i, j, k;
    for (i = 0; i < 3; ++i)
        g->t[i] = (dvren_real)v->W[3 * i] * mean[0] + (dvren_real)v->W[3 * i + 1] * mean[1] +
                  (dvren_real)v->W[3 * i + 2] * mean[2] + (dvren_real)v->w[i];
    if (!(g->t[2] >= (dvren_real)v->near_z) || g->t[2] > (dvren_real)v->far_z) return 0;
    g->qn = dvren_splat_rotation(quat, g->rq);
    if (!(g->qn > (dvren_real)0)) return 0;
    for (i = 0; i < 3; ++i) g->s[i] = dvren_exp(log_scale[i]);
    /* M = R diag(s); Sigma = M M^T */
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) M[3 * i + j] = g->rq[3 * i + j] * g->s[j];
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) S[3 * i + j] = M[3 * i] * M[3 * j] + M[3 * i + 1] * M[3 * j + 1] + M[3 * i + 2] * M[3 * j + 2];
    /* cov_c = W S W^T */
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            dvren_real acc = (dvren_real)0;
            for (k = 0; k < 3; ++k) acc += (dvren_real)v->W[3 * i + k] * S[3 * k + j];
            WS[3 * i + j] = acc;
        }
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            dvren_real acc = (dvren_real)0;
            for (k = 0; k < 3; ++k) acc += WS[3 * i + k] * (dvren_real)v->W[3 * j + k];
            g->cov_c[3 * i + j] = acc;
        }
    /* the pinhole Jacobian at t, x/z and y/z clamped to 1.3 x the half field of view */
    tanx = (dvren_real)0.5 * (dvren_real)v->width / (dvren_real)v->fx;
    tany = (dvren_real)0.5 * (dvren_real)v->height / (dvren_real)v->fy;
    lxp = ((dvren_real)v->width - (dvren_real)v->cx) / (dvren_real)v->fx + (dvren_real)0.3 * tanx;
    lxn = (dvren_real)v->cx / (dvren_real)v->fx + (dvren_real)0.3 * tanx;
    lyp = ((dvren_real)v->height - (dvren_real)v->cy) / (dvren_real)v->fy + (dvren_real)0.3 * tany;
    lyn = (dvren_real)v->cy / (dvren_real)v->fy + (dvren_real)0.3 * tany;
    rz = (dvren_real)1 / g->t[2];
    u = g->t[0] * rz;
    vv = g->t[1] * rz;
    g->clamped[0] = u > lxp || u < -lxn;
    g->clamped[1] = vv > lyp || vv < -lyn;
    g->lim[0] = dvren_min(lxp, dvren_max(-lxn, u));
    g->lim[1] = dvren_min(lyp, dvren_max(-lyn, vv));
    g->J[0] = (dvren_real)v->fx * rz;
    g->J[1] = (dvren_real)0;
    g->J[2] = -(dvren_real)v->fx * g->lim[0] * rz;
    g->J[3] = (dvren_real)0;
    g->J[4] = (dvren_real)v->fy * rz;
    g->J[5] = -(dvren_real)v->fy * g->lim[1] * rz;
    /* Sigma' = J cov_c J^T + eps2d I */
    {
        dvren_real JC[6];
        for (i = 0; i < 2; ++i)
            for (j = 0; j < 3; ++j)
                JC[3 * i + j] = g->J[3 * i] * g->cov_c[j] + g->J[3 * i + 1] * g->cov_c[3 + j] +
                                g->J[3 * i + 2] * g->cov_c[6 + j];
        g->a = JC[0] * g->J[0] + JC[1] * g->J[1] + JC[2] * g->J[2] + (dvren_real)v->eps2d;
        g->b = JC[0] * g->J[3] + JC[1] * g->J[4] + JC[2] * g->J[5];
        g->c = JC[3] * g->J[3] + JC[4] * g->J[4] + JC[5] * g->J[5] + (dvren_real)v->eps2d;
    }
    g->det = g->a * g->c - g->b * g->b;
    return 1;
}

/* Projects Gaussian i: mean (3), log_scale (3), quat (4), logit, sh (K x 3,
 * K = (view->sh_degree + 1)^2). Returns 1 when it is visible (out filled),
 * else 0 with out->rx = out->ry = 0. */
DVREN_FN int dvren_splat_project(const dvren_splat_view* v, const dvren_real* mean, const dvren_real* log_scale,
                                 const dvren_real* quat, dvren_real logit, const dvren_real* sh, dvren_splat_proj* out)
{
    dvren__splat_geo_r g;
    dvren_real o, ext, rx, ry, d[3], dn, b[DVREN_SPLAT_MAX_COEFFS];
    uint32_t K = (v->sh_degree + 1u) * (v->sh_degree + 1u), k, ch;
    out->rx = 0;
    out->ry = 0;
    if (!dvren__splat_geometry(v, mean, log_scale, quat, &g)) return 0;
    if (!(g.det > (dvren_real)0)) return 0;
    o = dvren_sigmoid(logit);
    if (o < (dvren_real)DVREN_SPLAT_ALPHA_MIN) return 0;
    ext = (dvren_real)sqrtf(2.0f * logf((float)o * 255.0f));
    if (ext > (dvren_real)DVREN_SPLAT_EXTEND) ext = (dvren_real)DVREN_SPLAT_EXTEND;
    rx = dvren_ceil(ext * dvren_sqrt(g.a));
    ry = dvren_ceil(ext * dvren_sqrt(g.c));
    if (rx <= (dvren_real)0 && ry <= (dvren_real)0) return 0;
    out->x = (dvren_real)v->fx * g.t[0] / g.t[2] + (dvren_real)v->cx;
    out->y = (dvren_real)v->fy * g.t[1] / g.t[2] + (dvren_real)v->cy;
    if (out->x + rx <= (dvren_real)0 || out->x - rx >= (dvren_real)v->width || out->y + ry <= (dvren_real)0 ||
        out->y - ry >= (dvren_real)v->height)
        return 0;
    out->ca = g.c / g.det;
    out->cb = -g.b / g.det;
    out->cc = g.a / g.det;
    out->opacity = o;
    out->depth = g.t[2];
    /* colour: SH at the unit direction from the camera centre to the mean */
    d[0] = mean[0] - (dvren_real)v->eye[0];
    d[1] = mean[1] - (dvren_real)v->eye[1];
    d[2] = mean[2] - (dvren_real)v->eye[2];
    dn = dvren_sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (dn > (dvren_real)0) {
        d[0] /= dn;
        d[1] /= dn;
        d[2] /= dn;
    }
    dvren_splat_sh_basis(v->sh_degree, d[0], d[1], d[2], b);
    for (ch = 0; ch < 3; ++ch) {
        dvren_real acc = (dvren_real)0;
        for (k = 0; k < K; ++k) acc += b[k] * sh[3 * k + ch];
        acc += (dvren_real)0.5;
        out->rgb[ch] = acc > (dvren_real)0 ? acc : (dvren_real)0;
    }
    out->rx = (int32_t)rx;
    out->ry = (int32_t)ry;
    return 1;
}

/* Tiles [x0, x1) x [y0, y1) that a visible projected Gaussian overlaps
 * (gsplat's rule: floor / ceil of (mean -+ radius) / 16, clamped to the
 * grid); returns their number. */
DVREN_FN uint32_t dvren_splat_tile_rect(const dvren_splat_view* v, const dvren_splat_proj* p, uint32_t* x0, uint32_t* y0,
                                        uint32_t* x1, uint32_t* y1)
{
    float ts = (float)DVREN_SPLAT_TILE;
    float tx = (float)p->x / ts, ty = (float)p->y / ts, rx = (float)p->rx / ts, ry = (float)p->ry / ts;
    float a = floorf(tx - rx), b = floorf(ty - ry), c = ceilf(tx + rx), d = ceilf(ty + ry);
    float gx = (float)v->tiles_x, gy = (float)v->tiles_y;
    a = a < 0.0f ? 0.0f : (a > gx ? gx : a);
    b = b < 0.0f ? 0.0f : (b > gy ? gy : b);
    c = c < 0.0f ? 0.0f : (c > gx ? gx : c);
    d = d < 0.0f ? 0.0f : (d > gy ? gy : d);
    *x0 = (uint32_t)a;
    *y0 = (uint32_t)b;
    *x1 = (uint32_t)c;
    *y1 = (uint32_t)d;
    if (*x1 <= *x0 || *y1 <= *y0) return 0u;
    return (*x1 - *x0) * (*y1 - *y0);
}

/* Backward of dvren_splat_project for one visible Gaussian: from gp, the
 * sums of its list entries' slots (DVREN_SPLAT_GRAD_FLOATS: d/d mean2d x, y,
 * conic a, b, c, opacity, rgb 0..2, depth), adds the gradients of the
 * parameters to g_mean (3), g_log_scale (3), g_quat (4), *g_logit, g_sh (K x
 * 3); any of them may be NULL. */
DVREN_FN void dvren_splat_project_bwd(const dvren_splat_view* v, const dvren_real* mean, const dvren_real* log_scale,
                                      const dvren_real* quat, dvren_real logit, const dvren_real* sh, const dvren_real* gp,
                                      dvren_real* g_mean, dvren_real* g_log_scale, dvren_real* g_quat,
                                      dvren_real* g_logit, dvren_real* g_sh)
{
    dvren__splat_geo_r g;
    dvren_real vt[3] = {(dvren_real)0, (dvren_real)0, (dvren_real)0};
    dvren_real vmean[3] = {(dvren_real)0, (dvren_real)0, (dvren_real)0};
    dvren_real Q[4], G[4], H[4], G2[4], vJ[6], vC[9], vS[9], vM[9], vR[9], M[9];
    dvren_real rz, rz2, o, d[3], dn, n[3], b[DVREN_SPLAT_MAX_COEFFS], vpre[3];
    uint32_t K = (v->sh_degree + 1u) * (v->sh_degree + 1u), k, ch;
    int i, j, m;
    if (!dvren__splat_geometry(v, mean, log_scale, quat, &g)) return;
    rz = (dvren_real)1 / g.t[2];
    rz2 = rz * rz;
    /* opacity */
    o = dvren_sigmoid(logit);
    if (g_logit) *g_logit += gp[5] * o * ((dvren_real)1 - o);
    /* colour -> SH coefficients and the view direction */
    d[0] = mean[0] - (dvren_real)v->eye[0];
    d[1] = mean[1] - (dvren_real)v->eye[1];
    d[2] = mean[2] - (dvren_real)v->eye[2];
    dn = dvren_sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    for (i = 0; i < 3; ++i) n[i] = dn > (dvren_real)0 ? d[i] / dn : d[i];
    dvren_splat_sh_basis(v->sh_degree, n[0], n[1], n[2], b);
    for (ch = 0; ch < 3; ++ch) {
        dvren_real acc = (dvren_real)0.5;
        for (k = 0; k < K; ++k) acc += b[k] * sh[3 * k + ch];
        vpre[ch] = acc >= (dvren_real)0 ? gp[6 + ch] : (dvren_real)0; /* torch.clamp_min passes the gradient at the bound */
    }
    if (g_sh)
        for (k = 0; k < K; ++k)
            for (ch = 0; ch < 3; ++ch) g_sh[3 * k + ch] += b[k] * vpre[ch];
    if (v->sh_degree > 0 && dn > (dvren_real)0) {
        dvren_real wk[DVREN_SPLAT_MAX_COEFFS], gn[3] = {(dvren_real)0, (dvren_real)0, (dvren_real)0}, nd;
        for (k = 0; k < K; ++k) wk[k] = vpre[0] * sh[3 * k] + vpre[1] * sh[3 * k + 1] + vpre[2] * sh[3 * k + 2];
        dvren_splat_sh_basis_grad(v->sh_degree, n[0], n[1], n[2], wk, gn);
        nd = gn[0] * n[0] + gn[1] * n[1] + gn[2] * n[2];
        for (i = 0; i < 3; ++i) vmean[i] += (gn[i] - n[i] * nd) / dn;
    }
    /* conic Q = Sigma'^-1: dL/dSigma' = -Q G Q, G the symmetric gradient of Q */
    Q[0] = g.c / g.det;
    Q[1] = -g.b / g.det;
    Q[2] = Q[1];
    Q[3] = g.a / g.det;
    G[0] = gp[2];
    G[1] = (dvren_real)0.5 * gp[3];
    G[2] = G[1];
    G[3] = gp[4];
    H[0] = Q[0] * G[0] + Q[1] * G[2];
    H[1] = Q[0] * G[1] + Q[1] * G[3];
    H[2] = Q[2] * G[0] + Q[3] * G[2];
    H[3] = Q[2] * G[1] + Q[3] * G[3];
    G2[0] = -(H[0] * Q[0] + H[1] * Q[2]);
    G2[1] = -(H[0] * Q[1] + H[1] * Q[3]);
    G2[2] = -(H[2] * Q[0] + H[3] * Q[2]);
    G2[3] = -(H[2] * Q[1] + H[3] * Q[3]);
    /* Sigma' = J C J^T: dC = J^T G2 J, dJ = 2 G2 J C */
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            dvren_real acc = (dvren_real)0;
            int r, s;
            for (r = 0; r < 2; ++r)
                for (s = 0; s < 2; ++s) acc += g.J[3 * r + i] * G2[2 * r + s] * g.J[3 * s + j];
            vC[3 * i + j] = acc;
        }
    for (i = 0; i < 2; ++i)
        for (j = 0; j < 3; ++j) {
            dvren_real acc = (dvren_real)0;
            int s;
            for (s = 0; s < 2; ++s)
                for (m = 0; m < 3; ++m) acc += G2[2 * i + s] * g.J[3 * s + m] * g.cov_c[3 * m + j];
            vJ[3 * i + j] = (dvren_real)2 * acc;
        }
    /* J00 = fx rz, J02 = -fx lx rz, J11 = fy rz, J12 = -fy ly rz (lx = clamp(x/z)) */
    {
        dvren_real vrz = vJ[0] * (dvren_real)v->fx + vJ[4] * (dvren_real)v->fy - vJ[2] * (dvren_real)v->fx * g.lim[0] -
                         vJ[5] * (dvren_real)v->fy * g.lim[1];
        dvren_real vlx = -vJ[2] * (dvren_real)v->fx * rz, vly = -vJ[5] * (dvren_real)v->fy * rz;
        vt[2] += -vrz * rz2;
        /* lx = x rz where not clamped */
        if (!g.clamped[0]) {
            vt[0] += vlx * rz;
            vt[2] += -vlx * g.t[0] * rz2;
        }
        if (!g.clamped[1]) {
            vt[1] += vly * rz;
            vt[2] += -vly * g.t[1] * rz2;
        }
    }
    /* mean2d = (fx x rz + cx, fy y rz + cy); depth = z */
    vt[0] += gp[0] * (dvren_real)v->fx * rz;
    vt[1] += gp[1] * (dvren_real)v->fy * rz;
    vt[2] += -gp[0] * (dvren_real)v->fx * g.t[0] * rz2 - gp[1] * (dvren_real)v->fy * g.t[1] * rz2 + gp[9];
    for (i = 0; i < 3; ++i)
        vmean[i] += (dvren_real)v->W[i] * vt[0] + (dvren_real)v->W[3 + i] * vt[1] + (dvren_real)v->W[6 + i] * vt[2];
    if (g_mean)
        for (i = 0; i < 3; ++i) g_mean[i] += vmean[i];
    /* cov_c = W S W^T: dS = W^T dC W */
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) {
            dvren_real acc = (dvren_real)0;
            int r, s;
            for (r = 0; r < 3; ++r)
                for (s = 0; s < 3; ++s) acc += (dvren_real)v->W[3 * r + i] * vC[3 * r + s] * (dvren_real)v->W[3 * s + j];
            vS[3 * i + j] = acc;
        }
    /* S = M M^T, M = R diag(s): dM = 2 dS M */
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j) M[3 * i + j] = g.rq[3 * i + j] * g.s[j];
    for (i = 0; i < 3; ++i)
        for (j = 0; j < 3; ++j)
            vM[3 * i + j] = (dvren_real)2 * (vS[3 * i] * M[j] + vS[3 * i + 1] * M[3 + j] + vS[3 * i + 2] * M[6 + j]);
    if (g_log_scale)
        for (j = 0; j < 3; ++j)
            g_log_scale[j] += (vM[j] * g.rq[j] + vM[3 + j] * g.rq[3 + j] + vM[6 + j] * g.rq[6 + j]) * g.s[j];
    if (g_quat) {
        dvren_real w = quat[0] / g.qn, x = quat[1] / g.qn, y = quat[2] / g.qn, z = quat[3] / g.qn, vq[4], dot;
        for (i = 0; i < 3; ++i)
            for (j = 0; j < 3; ++j) vR[3 * i + j] = vM[3 * i + j] * g.s[j];
        vq[0] = (dvren_real)2 * (-z * vR[1] + y * vR[2] + z * vR[3] - x * vR[5] - y * vR[6] + x * vR[7]);
        vq[1] = (dvren_real)2 * (y * vR[1] + z * vR[2] + y * vR[3] - (dvren_real)2 * x * vR[4] - w * vR[5] + z * vR[6] +
                                 w * vR[7] - (dvren_real)2 * x * vR[8]);
        vq[2] = (dvren_real)2 * (-(dvren_real)2 * y * vR[0] + x * vR[1] + w * vR[2] + x * vR[3] + z * vR[5] - w * vR[6] +
                                 z * vR[7] - (dvren_real)2 * y * vR[8]);
        vq[3] = (dvren_real)2 * (-(dvren_real)2 * z * vR[0] - w * vR[1] + x * vR[2] + w * vR[3] -
                                 (dvren_real)2 * z * vR[4] + y * vR[5] + x * vR[6] + y * vR[7]);
        /* through the normalisation q / |q| */
        dot = vq[0] * w + vq[1] * x + vq[2] * y + vq[3] * z;
        g_quat[0] += (vq[0] - w * dot) / g.qn;
        g_quat[1] += (vq[1] - x * dot) / g.qn;
        g_quat[2] += (vq[2] - y * dot) / g.qn;
        g_quat[3] += (vq[3] - z * dot) / g.qn;
    }
}

/* ---- compositing ------------------------------------------------------------------- */

/* One pixel's forward state and result. last: one past the list position
 * of the last Gaussian composited (the backward pass starts there). */
typedef struct DVREN__RN(dvren__splat_px) {
    dvren_real rgb[3];
    dvren_real T;         /* transmittance (final after dvren_splat_px_end) */
    dvren_real depth_acc; /* sum z_i w_i */
    dvren_real median;    /* median depth, 0 when T never fell to 0.5 */
    uint32_t count, last;
    /* the pixel's centre and its image layer (mixed scenes) while compositing */
    dvren_real px, py, lz, la;
    uint32_t pix;
    int32_t layer;
} DVREN__RN(dvren__splat_px);
#define dvren_splat_px DVREN__RN(dvren__splat_px)
#define dvren_splat_alpha DVREN__RN(dvren__splat_alpha)
#define dvren_splat_px_begin DVREN__RN(dvren__splat_px_begin)
#define dvren_splat_px_step DVREN__RN(dvren__splat_px_step)
#define dvren_splat_px_end DVREN__RN(dvren__splat_px_end)
#define dvren_splat_pixel DVREN__RN(dvren__splat_pixel)
#define dvren__splat_layer DVREN__RN(dvren__splat_layer_)
#define dvren_splat_bwd_state DVREN__RN(dvren__splat_bwd_state)
#define dvren_splat_bwd_begin DVREN__RN(dvren__splat_bwd_begin)
#define dvren_splat_bwd_step DVREN__RN(dvren__splat_bwd_step)
#define dvren_splat_pixel_bwd DVREN__RN(dvren__splat_pixel_bwd)

/* alpha of a projected Gaussian at pixel centre (px, py); 0 when skipped
 * (sigma < 0 or alpha < 1/255). *vis = exp(-sigma) for the backward pass. */
DVREN_FN dvren_real dvren_splat_alpha(const dvren_splat_view* v, const dvren_splat_proj* p, dvren_real px, dvren_real py,
                                      dvren_real* vis)
{
    dvren_real dx = p->x - px, dy = p->y - py;
    dvren_real sigma = (dvren_real)0.5 * (p->ca * dx * dx + p->cc * dy * dy) + p->cb * dx * dy;
    dvren_real a;
    if (sigma < (dvren_real)0) return (dvren_real)0;
    *vis = dvren_exp(-sigma);
    a = dvren_min((dvren_real)v->alpha_max, p->opacity * *vis);
    return a < (dvren_real)DVREN_SPLAT_ALPHA_MIN ? (dvren_real)0 : a;
}

/* Starts pixel (x, y) of a list beginning at position start. */
DVREN_FN void dvren_splat_px_begin(const dvren_splat_view* v, uint32_t x, uint32_t y, uint32_t start, dvren_splat_px* o)
{
    o->px = (dvren_real)x + (dvren_real)0.5;
    o->py = (dvren_real)y + (dvren_real)0.5;
    o->pix = y * v->width + x;
    o->T = (dvren_real)1;
    o->rgb[0] = o->rgb[1] = o->rgb[2] = (dvren_real)0;
    o->depth_acc = (dvren_real)0;
    o->median = (dvren_real)0;
    o->count = 0u;
    o->last = start;
    o->lz = (dvren_real)0;
    o->la = (dvren_real)0;
    o->layer = 0;
    if (v->layer_rgb) {
        /* the layer's depth is a ray distance from the eye: camera z = t / |(u, v, 1)| */
        dvren_real u = (o->px - (dvren_real)v->cx) / (dvren_real)v->fx, w = (o->py - (dvren_real)v->cy) / (dvren_real)v->fy;
        o->la = (dvren_real)v->layer_alpha[o->pix];
        o->lz = (dvren_real)v->layer_depth[o->pix] / dvren_sqrt(u * u + w * w + (dvren_real)1);
        o->layer = o->la > (dvren_real)0;
    }
}

/* Composites the pixel's image layer (once). */
DVREN_FN void dvren__splat_layer(const dvren_splat_view* v, dvren_splat_px* o)
{
    o->rgb[0] += o->T * (dvren_real)v->layer_rgb[3 * o->pix];
    o->rgb[1] += o->T * (dvren_real)v->layer_rgb[3 * o->pix + 1];
    o->rgb[2] += o->T * (dvren_real)v->layer_rgb[3 * o->pix + 2];
    o->depth_acc += o->T * o->la * o->lz;
    o->T *= (dvren_real)1 - o->la;
    o->layer = 0;
}

/* Composites list entry k (projected Gaussian p) into the pixel, front to
 * back. Returns 1 when the pixel is done (it stops before T would fall to
 * min_transmittance or below; that entry is not composited), else 0. */
DVREN_FN int dvren_splat_px_step(const dvren_splat_view* v, const dvren_splat_proj* p, uint32_t k, dvren_splat_px* o)
{
    dvren_real vis, a, nT, w;
    if (o->layer && p->depth > o->lz) {
        /* the image layer lies in front of this Gaussian: composite it first */
        dvren__splat_layer(v, o);
        if (o->T <= (dvren_real)v->min_transmittance) return 1;
    }
    a = dvren_splat_alpha(v, p, o->px, o->py, &vis);
    if (a <= (dvren_real)0) return 0;
    nT = o->T * ((dvren_real)1 - a);
    if (nT <= (dvren_real)v->min_transmittance) return 1;
    w = a * o->T;
    o->rgb[0] += p->rgb[0] * w;
    o->rgb[1] += p->rgb[1] * w;
    o->rgb[2] += p->rgb[2] * w;
    o->depth_acc += p->depth * w;
    if (o->T > (dvren_real)0.5 && nT <= (dvren_real)0.5) o->median = p->depth;
    o->count++;
    o->last = k + 1u;
    o->T = nT;
    return 0;
}

/* Ends the pixel: the layer if still pending, then the background. */
DVREN_FN void dvren_splat_px_end(const dvren_splat_view* v, dvren_splat_px* o)
{
    if (o->layer) dvren__splat_layer(v, o);
    o->rgb[0] += o->T * (dvren_real)v->background[0];
    o->rgb[1] += o->T * (dvren_real)v->background[1];
    o->rgb[2] += o->T * (dvren_real)v->background[2];
}

/* Composites list entries [start, end) of the pixel's tile (gids[k]: the
 * Gaussian, P: the projected Gaussians) at pixel (x, y), front to back. */
DVREN_FN void dvren_splat_pixel(const dvren_splat_view* v, const dvren_splat_proj* P, const uint32_t* gids, uint32_t start,
                                uint32_t end, uint32_t x, uint32_t y, dvren_splat_px* out)
{
    uint32_t k;
    dvren_splat_px_begin(v, x, y, start, out);
    for (k = start; k < end; ++k)
        if (dvren_splat_px_step(v, &P[gids[k]], k, out)) break;
    dvren_splat_px_end(v, out);
}

/* One pixel's backward state, back to front. */
typedef struct DVREN__RN(dvren__splat_bwd_state) {
    dvren_real px, py;
    dvren_real T, T_final;
    dvren_real v_rgb[3], v_alpha, v_dacc;
    dvren_real Sc[3], Sz; /* behind the current entry: the later entries' colour (+ T_final background) and depth */
} DVREN__RN(dvren__splat_bwd_state);

/* Starts the backward of pixel (x, y) from its final transmittance, its
 * depth_acc and the cotangents of its rgb (3), alpha (= 1 - T) and expected
 * depth (depth_acc / alpha). */
DVREN_FN void dvren_splat_bwd_begin(const dvren_splat_view* v, uint32_t x, uint32_t y, dvren_real T_final,
                                    dvren_real depth_acc, const dvren_real* v_rgb, dvren_real v_alpha, dvren_real v_depth,
                                    dvren_splat_bwd_state* b)
{
    dvren_real A = (dvren_real)1 - T_final;
    int ch;
    b->px = (dvren_real)x + (dvren_real)0.5;
    b->py = (dvren_real)y + (dvren_real)0.5;
    b->T = T_final;
    b->T_final = T_final;
    b->v_dacc = (dvren_real)0;
    /* depth = depth_acc / A: both depend on every alpha */
    if (A > (dvren_real)0 && v_depth != (dvren_real)0) {
        b->v_dacc = v_depth / A;
        v_alpha -= v_depth * depth_acc / (A * A);
    }
    b->v_alpha = v_alpha;
    for (ch = 0; ch < 3; ++ch) {
        b->v_rgb[ch] = v_rgb[ch];
        b->Sc[ch] = T_final * (dvren_real)v->background[ch];
    }
    b->Sz = (dvren_real)0;
}

/* The gradient of one composited entry (projected Gaussian p), going back
 * to front: g[0..9] = d/d (mean2d x, y, conic a, b, c, opacity, rgb, depth).
 * Returns 0 (g untouched) for an entry the forward skipped. */
DVREN_FN int dvren_splat_bwd_step(const dvren_splat_view* v, const dvren_splat_proj* p, dvren_splat_bwd_state* b,
                                  dvren_real* g)
{
    dvren_real vis, a, Ti, w, va, ra, dx, dy, vsig;
    int ch;
    a = dvren_splat_alpha(v, p, b->px, b->py, &vis);
    if (a <= (dvren_real)0) return 0;
    ra = (dvren_real)1 / ((dvren_real)1 - a); /* one division per entry, then products */
    Ti = b->T * ra;
    w = a * Ti;
    va = b->v_alpha * b->T_final * ra + b->v_dacc * (p->depth * Ti - b->Sz * ra);
    for (ch = 0; ch < 3; ++ch) {
        va += b->v_rgb[ch] * (p->rgb[ch] * Ti - b->Sc[ch] * ra);
        g[6 + ch] = b->v_rgb[ch] * w;
        b->Sc[ch] += p->rgb[ch] * w;
    }
    g[9] = b->v_dacc * w;
    b->Sz += p->depth * w;
    b->T = Ti;
    if (p->opacity * vis > (dvren_real)v->alpha_max) {
        /* clamped: no gradient through alpha */
        g[0] = g[1] = g[2] = g[3] = g[4] = g[5] = (dvren_real)0;
        return 1;
    }
    g[5] = va * vis;
    vsig = -va * p->opacity * vis;
    dx = p->x - b->px;
    dy = p->y - b->py;
    g[0] = vsig * (p->ca * dx + p->cb * dy);
    g[1] = vsig * (p->cb * dx + p->cc * dy);
    g[2] = (dvren_real)0.5 * vsig * dx * dx;
    g[3] = vsig * dx * dy;
    g[4] = (dvren_real)0.5 * vsig * dy * dy;
    return 1;
}

/* Backward of dvren_splat_pixel (no image layer) for entries [start, last)
 * back to front: adds each composited entry k's gradient to
 * slots[(k - start) * DVREN_SPLAT_GRAD_FLOATS ...] (one thread owns them:
 * the CPU's tiles). */
DVREN_FN void dvren_splat_pixel_bwd(const dvren_splat_view* v, const dvren_splat_proj* P, const uint32_t* gids,
                                    uint32_t start, uint32_t last, uint32_t x, uint32_t y, dvren_real T_final,
                                    dvren_real depth_acc, const dvren_real* v_rgb, dvren_real v_alpha, dvren_real v_depth,
                                    dvren_real* slots)
{
    dvren_splat_bwd_state b;
    dvren_real g[DVREN_SPLAT_GRAD_FLOATS];
    uint32_t k, c;
    dvren_splat_bwd_begin(v, x, y, T_final, depth_acc, v_rgb, v_alpha, v_depth, &b);
    for (k = last; k-- > start;)
        if (dvren_splat_bwd_step(v, &P[gids[k]], &b, g)) {
            dvren_real* s = slots + (size_t)(k - start) * DVREN_SPLAT_GRAD_FLOATS;
            for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) s[c] += g[c];
        }
}

#endif /* per precision */
/* >>splat end */
#endif /* DVREN__GEN_SPLAT */
#if defined(DVREN__GEN_MC)
/* >>mc begin (generated from kernels/dvren_mc.h by ./build.sh gen: do not edit) */
/* kernels/dvren_mc.h - marching cubes of dvren (single source).
 *
 * The per-cell and per-edge arithmetic of dvren_marching_cubes (dvren.h,
 * >>meshes), compiled by the host compiler for the CPU (dvren.h, >>cpu) and
 * by NVRTC for the GPU (kernels/dvren_cuda_mc.h), under the rules of
 * kernels/dvren_device.h (no globals, no tables in memory: the cube's
 * corner and edge numbering is computed). The CPU and the GPU run these
 * same functions on the same float32 samples and give the same mesh bit for
 * bit: decisions are comparisons of exact values (the asymptotic decider in
 * float64, where the product of two floats is exact), and the arithmetic of
 * positions and normals goes through DVREN__MC_MUL / DVREN__MC_ADD, which
 * NVRTC may not fuse into FMAs (__fmul_rn, __fadd_rn).
 *
 * The grid: samples g[(z * ny + y) * nx + x], x fastest; sample (x, y, z)
 * sits at origin + spacing * (x, y, z). Cell (x, y, z) is the cube of the
 * samples (x..x+1, y..y+1, z..z+1); its corner i is sample (x + (i & 1),
 * y + ((i >> 1) & 1), z + ((i >> 2) & 1)). Its 12 edges: e = 4 * axis + k,
 * axis 0 (x), 1 (y), 2 (z), k numbering the other two coordinates' bits
 * (lower axis first): x-edges 0:(0,1) 1:(2,3) 2:(4,5) 3:(6,7); y-edges
 * 4:(0,2) 5:(1,3) 6:(4,6) 7:(5,7); z-edges 8:(0,4) 9:(1,5) 10:(2,6)
 * 11:(3,7). A grid edge is owned by its lower sample, which owns up to
 * three (+x, +y, +z): the vertex of a crossed edge is created once, by its
 * owner (docs/meshes.md, "Vertices").
 *
 * The method (docs/meshes.md, "Marching cubes"): f = s (value - level),
 * s = +1 (the inside is above the level) or -1; a corner is inside when
 * f > 0 (NaN is outside). On each of the cube's six faces the crossed edges
 * are joined by contour segments: two crossings give one segment; four (an
 * ambiguous face, the inside corners on one diagonal) give two, joining the
 * inside corners when the face's bilinear interpolant has its saddle inside
 * (asymptotic decider, Nielson and Hamann, "The asymptotic decider", IEEE
 * Visualization 1991: saddle value (a c - b d) / (a + c - b - d), with a, c
 * the inside corners' f, the denominator positive), and separating them
 * otherwise. Two cubes sharing a face see the same four values and draw the
 * same segments, so the surface has no cracks (the holes of Lorensen and
 * Cline's original table). Segments are directed (from the crossing where,
 * going round the face counter-clockwise seen from outside the cube, one
 * leaves the inside, to the next crossing where one enters it); every
 * crossed edge starts one segment and ends one, so the segments form closed
 * loops, each triangulated as a fan (dvren_mc_cell_triangles says from
 * where), oriented so that triangles are counter-clockwise seen from outside
 * the surface. A cell has at most 12 crossed edges and 12 triangles. */
#ifndef DVREN_MC_H
#define DVREN_MC_H

#if defined(__CUDACC_RTC__)
#define DVREN__MC_MUL(a, b) __fmul_rn((a), (b))
#define DVREN__MC_ADD(a, b) __fadd_rn((a), (b))
#define DVREN__MC_DMUL(a, b) __dmul_rn((a), (b))
#define DVREN__MC_DADD(a, b) __dadd_rn((a), (b))
#else
#define DVREN__MC_MUL(a, b) ((a) * (b))
#define DVREN__MC_ADD(a, b) ((a) + (b))
#define DVREN__MC_DMUL(a, b) ((a) * (b))
#define DVREN__MC_DADD(a, b) ((a) + (b))
#endif

/* most triangles one cell can give (12 crossed edges in one loop around a
 * centre vertex) */
#define DVREN_MC_MAX_CELL_TRIANGLES 12
/* vertex indices are kept below 2^29 (the GPU packs three edge bits above) */
#define DVREN_MC_MAX_VERTICES 536870912u

/* The grid and the level, as both devices pass them. */
typedef struct dvren_mc_grid {
    const float* g;
    uint32_t nx, ny, nz;
    float level;
    float sign; /* +1: inside is value > level; -1: inside is value < level */
    float origin[3], spacing[3];
} dvren_mc_grid;

DVREN_FN float dvren_mc_value(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)
{
    return G->g[((uint64_t)z * G->ny + y) * G->nx + x];
}

/* f of a sample: s (value - level); inside when > 0 */
DVREN_FN float dvren_mc_f(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)
{
    return DVREN__MC_MUL(dvren_mc_value(G, x, y, z) - G->level, G->sign);
}

/* corners (a, b) of cell edge e */
DVREN_FN uint32_t dvren_mc_edge_corner(uint32_t e, uint32_t end)
{
    uint32_t axis = e >> 2, k = e & 3u, a;
    if (axis == 0) a = ((k & 1u) << 1) | ((k >> 1) << 2);
    else if (axis == 1) a = (k & 1u) | ((k >> 1) << 2);
    else a = (k & 1u) | ((k >> 1) << 1);
    return end ? a | (1u << axis) : a;
}

/* the cell edge joining corners a and b (which differ in one bit) */
DVREN_FN uint32_t dvren_mc_edge_of(uint32_t a, uint32_t b)
{
    uint32_t d = a ^ b, lo = a < b ? a : b;
    if (d == 1u) return ((lo >> 1) & 1u) | (((lo >> 2) & 1u) << 1);
    if (d == 2u) return 4u + ((lo & 1u) | (((lo >> 2) & 1u) << 1));
    return 8u + ((lo & 1u) | (((lo >> 1) & 1u) << 1));
}

/* corner k (0..3) of face f (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z), counter-
 * clockwise seen from outside the cube (packed 3 bits per corner) */
DVREN_FN uint32_t dvren_mc_face_corner(uint32_t f, uint32_t k)
{
    uint32_t packed;
    switch (f) {
    case 0: packed = 0u | (4u << 3) | (6u << 6) | (2u << 9); break;
    case 1: packed = 1u | (3u << 3) | (7u << 6) | (5u << 9); break;
    case 2: packed = 0u | (1u << 3) | (5u << 6) | (4u << 9); break;
    case 3: packed = 2u | (6u << 3) | (7u << 6) | (3u << 9); break;
    case 4: packed = 0u | (2u << 3) | (3u << 6) | (1u << 9); break;
    default: packed = 4u | (5u << 3) | (7u << 6) | (6u << 9); break;
    }
    return (packed >> (3u * k)) & 7u;
}

/* Loads cell (x, y, z)'s eight f values (x < nx - 1, y < ny - 1, z < nz - 1)
 * and returns its inside mask (bit i: corner i inside). */
DVREN_FN uint32_t dvren_mc_cell_load(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, float* f)
{
    /* written out: constant indices keep f in registers on the GPU */
    f[0] = dvren_mc_f(G, x, y, z);
    f[1] = dvren_mc_f(G, x + 1u, y, z);
    f[2] = dvren_mc_f(G, x, y + 1u, z);
    f[3] = dvren_mc_f(G, x + 1u, y + 1u, z);
    f[4] = dvren_mc_f(G, x, y, z + 1u);
    f[5] = dvren_mc_f(G, x + 1u, y, z + 1u);
    f[6] = dvren_mc_f(G, x, y + 1u, z + 1u);
    f[7] = dvren_mc_f(G, x + 1u, y + 1u, z + 1u);
    return (uint32_t)(f[0] > 0.0f) | ((uint32_t)(f[1] > 0.0f) << 1) | ((uint32_t)(f[2] > 0.0f) << 2) |
           ((uint32_t)(f[3] > 0.0f) << 3) | ((uint32_t)(f[4] > 0.0f) << 4) | ((uint32_t)(f[5] > 0.0f) << 5) |
           ((uint32_t)(f[6] > 0.0f) << 6) | ((uint32_t)(f[7] > 0.0f) << 7);
}

/* bits f of the two cube faces (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z) that
 * hold cell edge e */
DVREN_FN uint32_t dvren_mc_edge_faces(uint32_t e)
{
    uint32_t axis = e >> 2, a = dvren_mc_edge_corner(e, 0), m = 0, b;
    for (b = 0; b < 3; ++b)
        if (b != axis) m |= 1u << (2u * b + ((a >> b) & 1u));
    return m;
}

/* union-find over a few nodes (the roots of small sets) */
DVREN_FN uint32_t dvren__mc_find(uint8_t* parent, uint32_t a)
{
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
}

DVREN_FN void dvren__mc_union(uint8_t* parent, uint32_t a, uint32_t b)
{
    a = dvren__mc_find(parent, a);
    b = dvren__mc_find(parent, b);
    if (a < b) parent[b] = (uint8_t)a;
    else if (b < a) parent[a] = (uint8_t)b;
}

/* Which of the cell's corners with s f > 0 are connected inside the cell
 * through {s F > 0}, F the trilinear interpolant of the eight f: comp[i]
 * (i = 0..7) becomes a label shared by connected corners (255 for the
 * other corners). The cube is swept along z: a slice z = t is a bilinear square
 * whose corner values p_i(t) = s (f_i + t (f_{i+4} - f_i)) are linear in t,
 * so its positive set (components holding one or two of its corners, the
 * diagonal joined by the asymptotic decider) changes only where a p_i
 * vanishes or where D(t) = p_0 p_3 - p_1 p_2 does (a quadratic). Slices at
 * t = 0, in the middle of each interval between events and at t = 1
 * stand for them; a component continues into the next interval through each of
 * its corners that stays positive there (docs/meshes.md, "Tunnels"). At
 * t = 0 and 1 the slices are the cube's faces, decided as
 * dvren_mc_cell_triangles decides them. Arithmetic in float64. */
DVREN_FN void dvren_mc_cell_components(const float* f, double s, uint8_t* comp)
{
    double ev[8], tmp;
    uint8_t parent[40];
    uint32_t nev = 0, i, j, k, ns, pos_prev = 0;
    double f0[4], g[4];
    for (i = 0; i < 4; ++i) {
        f0[i] = DVREN__MC_DMUL(s, (double)f[i]);
        g[i] = DVREN__MC_DADD(DVREN__MC_DMUL(s, (double)f[i + 4]), -f0[i]);
        if ((f0[i] > 0.0) != (DVREN__MC_DADD(f0[i], g[i]) > 0.0) && g[i] != 0.0) {
            tmp = -f0[i] / g[i];
            if (tmp > 0.0 && tmp < 1.0) ev[nev++] = tmp;
        }
    }
    {
        /* D(t) = A t^2 + B t + C */
        double A = DVREN__MC_DADD(DVREN__MC_DMUL(g[0], g[3]), -DVREN__MC_DMUL(g[1], g[2]));
        double B = DVREN__MC_DADD(DVREN__MC_DADD(DVREN__MC_DMUL(f0[0], g[3]), DVREN__MC_DMUL(f0[3], g[0])),
                                  -DVREN__MC_DADD(DVREN__MC_DMUL(f0[1], g[2]), DVREN__MC_DMUL(f0[2], g[1])));
        double C = DVREN__MC_DADD(DVREN__MC_DMUL(f0[0], f0[3]), -DVREN__MC_DMUL(f0[1], f0[2]));
        if (A != 0.0) {
            double disc = DVREN__MC_DADD(DVREN__MC_DMUL(B, B), -DVREN__MC_DMUL(4.0, DVREN__MC_DMUL(A, C)));
            if (disc > 0.0) {
                double r = sqrt(disc), t1 = (-B - r) / (2.0 * A), t2 = (-B + r) / (2.0 * A);
                if (t1 > 0.0 && t1 < 1.0) ev[nev++] = t1;
                if (t2 > 0.0 && t2 < 1.0) ev[nev++] = t2;
            }
        } else if (B != 0.0) {
            tmp = -C / B;
            if (tmp > 0.0 && tmp < 1.0) ev[nev++] = tmp;
        }
    }
    for (i = 1; i < nev; ++i) /* insertion sort */
        for (j = i; j > 0 && ev[j - 1] > ev[j]; --j) {
            tmp = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = tmp;
        }
    ns = nev + 3; /* t = 0, the middles of the nev + 1 intervals, t = 1: at most 9 slices */
    for (i = 0; i < 4 * ns; ++i) parent[i] = (uint8_t)i;
    for (k = 0; k < ns; ++k) {
        /* slice k in 1..nev+1: the middle of interval m = k - 1, [ev[m-1], ev[m]] */
        double lo = k >= 2 && k <= nev + 1 ? ev[k - 2] : 0.0, hi = k >= 1 && k <= nev ? ev[k - 1] : 1.0, q[4];
        double t = k == 0 ? 0.0 : k == ns - 1 ? 1.0 : 0.5 * (lo + hi);
        uint32_t pos = 0;
        for (i = 0; i < 4; ++i) {
            q[i] = DVREN__MC_DADD(f0[i], DVREN__MC_DMUL(t, g[i]));
            if (q[i] > 0.0) pos |= 1u << i;
        }
        /* the square's sides: 0-1, 1-3, 3-2, 2-0 (corner i at x = i & 1, y = i >> 1) */
        if ((pos & 3u) == 3u) dvren__mc_union(parent, 4 * k + 0, 4 * k + 1);
        if ((pos & 10u) == 10u) dvren__mc_union(parent, 4 * k + 1, 4 * k + 3);
        if ((pos & 12u) == 12u) dvren__mc_union(parent, 4 * k + 3, 4 * k + 2);
        if ((pos & 5u) == 5u) dvren__mc_union(parent, 4 * k + 2, 4 * k + 0);
        {
            double d = DVREN__MC_DADD(DVREN__MC_DMUL(q[0], q[3]), -DVREN__MC_DMUL(q[1], q[2]));
            if (pos == 9u && d > 0.0) dvren__mc_union(parent, 4 * k + 0, 4 * k + 3);
            if (pos == 6u && d < 0.0) dvren__mc_union(parent, 4 * k + 1, 4 * k + 2);
        }
        if (k > 0)
            for (i = 0; i < 4; ++i)
                if (((pos & pos_prev) >> i) & 1u) dvren__mc_union(parent, 4 * (k - 1) + i, 4 * k + i);
        pos_prev = pos;
        if (k == 0)
            for (i = 0; i < 4; ++i) comp[i] = (uint8_t)((pos >> i) & 1u ? 0u : 255u);
        if (k == ns - 1)
            for (i = 0; i < 4; ++i) comp[i + 4] = (uint8_t)((pos >> i) & 1u ? 0u : 255u);
    }
    for (i = 0; i < 8; ++i)
        if (comp[i] == 0u) comp[i] = (uint8_t)dvren__mc_find(parent, i < 4 ? i : 4 * (ns - 1) + (i - 4));
}

/* 1 when cell edges a and b (vertices of one cell) may be joined by a
 * triangle edge that is not a contour segment: they share no cube face, so
 * the edge runs through the cell's inside and no neighbouring cell draws it */
DVREN_FN uint32_t dvren__mc_free_pair(uint32_t a, uint32_t b)
{
    return (dvren_mc_edge_faces(a) & dvren_mc_edge_faces(b)) == 0u;
}

/* 4-bit fields of a 64-bit word: the per-cell state lives in registers
 * (arrays indexed at run time would go to the GPU's local memory) */
DVREN_FN uint32_t dvren__mc_nib(uint64_t w, uint32_t i)
{
    return (uint32_t)(w >> (4u * i)) & 15u;
}

DVREN_FN uint64_t dvren__mc_setnib(uint64_t w, uint32_t i, uint32_t v)
{
    return (w & ~((uint64_t)15u << (4u * i))) | ((uint64_t)v << (4u * i));
}

/* A tube between two loops, A (na vertices, nibbles a0 .. a0 + na - 1 of
 * lv) and B (nb, from b0), both running in contour order: a strip of
 * na + nb triangles whose rungs join vertices sharing no cube face; tried
 * from each pair of starting vertices, stepping along the loop that lags
 * (by position over length) unless its rung is not free. Returns the
 * triangle count written to tri (0: no such strip). Triangles traverse both
 * loops against their order, as the fans do. */
DVREN_FN uint32_t dvren__mc_tube(uint64_t lv, uint32_t a0, uint32_t na, uint32_t b0, uint32_t nb, uint8_t* tri)
{
    uint32_t i0, j0;
    for (i0 = 0; i0 < na; ++i0)
        for (j0 = 0; j0 < nb; ++j0) {
            uint32_t sa = 0, sb = 0, n = 0, lead_a = 0, lead_b = 0;
            uint32_t ok = dvren__mc_free_pair(dvren__mc_nib(lv, a0 + i0), dvren__mc_nib(lv, b0 + j0));
            while (ok && (sa < na || sb < nb)) {
                uint32_t a = dvren__mc_nib(lv, a0 + (i0 + na - sa) % na), b = dvren__mc_nib(lv, b0 + (j0 + sb) % nb);
                uint32_t a1 = dvren__mc_nib(lv, a0 + (i0 + 2 * na - sa - 1) % na), b1 = dvren__mc_nib(lv, b0 + (j0 + sb + 1) % nb);
                /* No rung twice: when A comes round to A[i0] the rungs (A[i0],
                 * B[j0 .. j0 + lead_b]) of the start are taken (and the other
                 * way round); the last step's rung is the first one. */
                uint32_t can_a = sa < na && (sa + 1 < na || sb > lead_b) &&
                                 (sa + 1 == na && sb == nb ? 1u : dvren__mc_free_pair(a1, b));
                uint32_t can_b = sb < nb && (sb + 1 < nb || sa > lead_a) &&
                                 (sb + 1 == nb && sa == na ? 1u : dvren__mc_free_pair(a, b1));
                uint32_t step_a = can_a && (!can_b || (uint64_t)sa * nb <= (uint64_t)sb * na);
                if (!can_a && !can_b) ok = 0;
                else if (step_a) {
                    if (tri) {
                        tri[3 * n] = (uint8_t)a;
                        tri[3 * n + 1] = (uint8_t)a1;
                        tri[3 * n + 2] = (uint8_t)b;
                    }
                    lead_a += sb == 0;
                    ++sa;
                    ++n;
                } else {
                    if (tri) {
                        tri[3 * n] = (uint8_t)b1;
                        tri[3 * n + 1] = (uint8_t)b;
                        tri[3 * n + 2] = (uint8_t)a;
                    }
                    lead_b += sa == 0;
                    ++sb;
                    ++n;
                }
            }
            if (ok) return n;
        }
    return 0;
}

/* The cell's triangles from its corner values f and inside mask: returns
 * their count and, when tri is not NULL, writes 3 local vertices per
 * triangle: a cell edge 0..11, or DVREN_MC_CENTER for the cell's centre
 * vertex. *ncenter (may be NULL) becomes 1 when the cell has one; then
 * center_loop (may be NULL) receives its loop's edges and *center_n their
 * count.
 *
 * Loops. Each loop of contour segments separates, on the cube's surface,
 * an inside region from an outside one. Two loops whose inside regions are
 * connected through the cell by the trilinear interpolant's inside, and
 * whose outside regions by its outside (dvren_mc_cell_components), bound
 * one piece of surface: a tube (MC33's tunnel cases 4.1.2, 6.1.2, 7.4.2, 10.1.2, 12.1.2,
 * 13.5.2; docs/meshes.md, "Tunnels"), a strip between them. Every other
 * loop is a disc.
 *
 * Discs. A loop of n > 3 crossings is a fan from its first vertex that has
 * no diagonal to a vertex sharing a cube face with it (except its loop
 * neighbours): two vertices on one face are joined only by that face's
 * segments, so the neighbouring cube, which sees the same face, never
 * draws the same edge (a diagonal in the face would be an edge of four
 * triangles). Loops without such an apex (8, 9 or 12 crossings) get a
 * vertex at the mean of their crossings, as the marching cubes 33 tables
 * do (Chernyaev 1995; Lewiner et al. 2003), and a fan of n triangles
 * around it. At most one loop of a cell has 8 or more crossings. */
#define DVREN_MC_CENTER 12u
DVREN_FN uint32_t dvren_mc_cell_triangles(const float* f, uint32_t in, uint8_t* tri, uint32_t* ncenter,
                                          uint8_t* center_loop, uint32_t* center_n)
{
    /* next: the segment from each crossed edge (nibble e: the edge it ends
     * on, 15 none); lv: the loops' edges one after another; lstart: where
     * each of the nl loops starts in lv (5 bits each, the last = nv) */
    uint64_t next = 0xFFFFFFFFFFFFull, lv = 0;
    uint32_t e, face, k, lstart = 0, nl = 0, nv = 0, ntri = 0, seen = 0, l, tube_a = 4, tube_b = 4;
    if (ncenter) *ncenter = 0;
    if (in == 0u || in == 255u) return 0;
    for (face = 0; face < 6; ++face) {
        uint32_t cw = 0, sw = 0, ncross = 0;
        for (k = 0; k < 4; ++k) {
            uint32_t c = dvren_mc_face_corner(face, k);
            cw |= c << (3u * k);
            sw |= ((in >> c) & 1u) << k;
        }
        for (k = 0; k < 4; ++k) ncross += ((sw >> k) & 1u) != ((sw >> ((k + 1) & 3u)) & 1u);
#define DVREN__MC_C(k) ((cw >> (3u * ((k) & 3u))) & 7u)
#define DVREN__MC_S(k) ((sw >> ((k) & 3u)) & 1u)
        if (ncross == 2) {
            /* one segment: from the edge leaving the inside to the edge entering it */
            uint32_t from = 0, to = 0;
            for (k = 0; k < 4; ++k) {
                if (DVREN__MC_S(k) && !DVREN__MC_S(k + 1)) from = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));
                if (!DVREN__MC_S(k) && DVREN__MC_S(k + 1)) to = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));
            }
            next = dvren__mc_setnib(next, from, to);
        } else if (ncross == 4) {
            /* the inside corners are c[i0] and c[i0 + 2]: joined when the
             * saddle is inside, a c > b d (exact in float64) */
            uint32_t i0 = DVREN__MC_S(0) ? 0u : 1u;
            double a = (double)f[DVREN__MC_C(i0)], cc = (double)f[DVREN__MC_C(i0 + 2)];
            double b = (double)f[DVREN__MC_C(i0 + 1)], d = (double)f[DVREN__MC_C(i0 + 3)];
            int joined = a * cc > b * d;
            for (k = i0; k < 4; k += 2) {
                /* leaving the inside on edge (c[k], c[k+1]); the segment ends on
                 * edge (c[k+1], c[k+2]) (cutting off the outside corner c[k+1]:
                 * inside joined) or on edge (c[k-1], c[k]) (cutting off c[k]) */
                uint32_t from = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));
                uint32_t to = joined ? dvren_mc_edge_of(DVREN__MC_C(k + 1), DVREN__MC_C(k + 2))
                                     : dvren_mc_edge_of(DVREN__MC_C(k + 3), DVREN__MC_C(k));
                next = dvren__mc_setnib(next, from, to);
            }
        }
#undef DVREN__MC_C
#undef DVREN__MC_S
    }
    for (e = 0; e < 12; ++e) {
        uint32_t cur = e;
        if (dvren__mc_nib(next, e) == 15u || ((seen >> e) & 1u)) continue;
        lstart |= nv << (5u * nl);
        ++nl;
        while (nv < 12 && !((seen >> cur) & 1u) && dvren__mc_nib(next, cur) != 15u) {
            seen |= 1u << cur;
            lv = dvren__mc_setnib(lv, nv++, cur);
            cur = dvren__mc_nib(next, cur);
        }
    }
    lstart |= nv << (5u * nl);
#define DVREN__MC_LS(l) ((lstart >> (5u * (l))) & 31u)
    if (nl >= 2) {
        /* tubes: loops with the same (inside component, outside component);
         * key l in bits 16 l .. 16 l + 15 */
        uint8_t cin[8], cout[8];
        uint64_t key = 0;
        dvren_mc_cell_components(f, 1.0, cin);
        dvren_mc_cell_components(f, -1.0, cout);
        for (l = 0; l < nl; ++l) {
            uint32_t e0 = dvren__mc_nib(lv, DVREN__MC_LS(l));
            uint32_t a = dvren_mc_edge_corner(e0, 0), b = dvren_mc_edge_corner(e0, 1);
            uint32_t ci = (in >> a) & 1u ? a : b, co = ci == a ? b : a;
            uint32_t kl = cin[ci] == 255u || cout[co] == 255u ? 0xFF00u + l : ((uint32_t)cin[ci] << 8) | cout[co];
            key |= (uint64_t)kl << (16u * l);
        }
        for (l = 0; l < nl && tube_a == 4; ++l)
            for (k = l + 1; k < nl; ++k)
                if (((key >> (16u * l)) & 0xFFFFu) == ((key >> (16u * k)) & 0xFFFFu)) {
                    uint32_t m, others = 0;
                    for (m = 0; m < nl; ++m)
                        others += m != l && m != k && ((key >> (16u * m)) & 0xFFFFu) == ((key >> (16u * l)) & 0xFFFFu);
                    if (!others) {
                        tube_a = l;
                        tube_b = k;
                    }
                    break;
                }
        if (tube_a < 4) {
            uint32_t n = dvren__mc_tube(lv, DVREN__MC_LS(tube_a), DVREN__MC_LS(tube_a + 1) - DVREN__MC_LS(tube_a),
                                        DVREN__MC_LS(tube_b), DVREN__MC_LS(tube_b + 1) - DVREN__MC_LS(tube_b), tri);
            if (n) ntri = n;
            else tube_a = tube_b = 4;
        }
    }
    for (l = 0; l < nl; ++l) {
        uint32_t s0 = DVREN__MC_LS(l), n = DVREN__MC_LS(l + 1) - s0, i, j, apex = 12;
        if (l == tube_a || l == tube_b) continue;
        for (i = 0; i < n && apex == 12; ++i) {
            uint32_t ok = 1, fi = dvren_mc_edge_faces(dvren__mc_nib(lv, s0 + i));
            for (j = 0; j < n && ok; ++j)
                if (j != i && j != (i + 1) % n && j != (i + n - 1) % n && (fi & dvren_mc_edge_faces(dvren__mc_nib(lv, s0 + j))))
                    ok = 0;
            if (ok) apex = i;
        }
        if (apex < 12) {
            /* a fan from the apex, reversed: the loop runs clockwise seen from outside */
            for (i = 1; i + 1 < n; ++i) {
                if (tri) {
                    tri[3 * ntri + 0] = (uint8_t)dvren__mc_nib(lv, s0 + apex);
                    tri[3 * ntri + 1] = (uint8_t)dvren__mc_nib(lv, s0 + (apex + i + 1) % n);
                    tri[3 * ntri + 2] = (uint8_t)dvren__mc_nib(lv, s0 + (apex + i) % n);
                }
                ++ntri;
            }
        } else {
            if (ncenter) *ncenter = 1;
            if (center_loop)
                for (i = 0; i < n; ++i) center_loop[i] = (uint8_t)dvren__mc_nib(lv, s0 + i);
            if (center_n) *center_n = n;
            for (i = 0; i < n; ++i) {
                if (tri) {
                    tri[3 * ntri + 0] = (uint8_t)DVREN_MC_CENTER;
                    tri[3 * ntri + 1] = (uint8_t)dvren__mc_nib(lv, s0 + (i + 1) % n);
                    tri[3 * ntri + 2] = (uint8_t)dvren__mc_nib(lv, s0 + i);
                }
                ++ntri;
            }
        }
    }
#undef DVREN__MC_LS
    return ntri;
}

/* Bits 0..2: which of sample (x, y, z)'s own edges (+x, +y, +z, those
 * inside the grid) the surface crosses. */
DVREN_FN uint32_t dvren_mc_point_edges(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)
{
    uint32_t m = 0, in0 = dvren_mc_f(G, x, y, z) > 0.0f;
    if (x + 1 < G->nx && (uint32_t)(dvren_mc_f(G, x + 1, y, z) > 0.0f) != in0) m |= 1u;
    if (y + 1 < G->ny && (uint32_t)(dvren_mc_f(G, x, y + 1, z) > 0.0f) != in0) m |= 2u;
    if (z + 1 < G->nz && (uint32_t)(dvren_mc_f(G, x, y, z + 1) > 0.0f) != in0) m |= 4u;
    return m;
}

DVREN_FN uint32_t dvren_mc_popc3(uint32_t m)
{
    return (m & 1u) + ((m >> 1) & 1u) + ((m >> 2) & 1u);
}

/* Sample (x, y, z)'s and its neighbours' values along axis a of the
 * gradient, in value units per index step: central differences, one-sided
 * at the grid's border (0 along an axis of one sample). */
DVREN_FN float dvren_mc_grad(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, uint32_t a)
{
    uint32_t n = a == 0 ? G->nx : a == 1 ? G->ny : G->nz;
    uint32_t i = a == 0 ? x : a == 1 ? y : z, lo = i > 0 ? i - 1 : i, hi = i + 1 < n ? i + 1 : i;
    float vlo, vhi;
    if (hi == lo) return 0.0f;
    vlo = dvren_mc_value(G, a == 0 ? lo : x, a == 1 ? lo : y, a == 2 ? lo : z);
    vhi = dvren_mc_value(G, a == 0 ? hi : x, a == 1 ? hi : y, a == 2 ? hi : z);
    return (vhi - vlo) / (float)(hi - lo);
}

/* The vertex on sample (x, y, z)'s edge along axis a (crossed): its world
 * position pos[3] and, when nrm is not NULL, its unit outward normal
 * (minus s times the value gradient, interpolated along the edge and
 * scaled by 1/spacing; (0, 0, 0) where it vanishes). */
DVREN_FN void dvren_mc_vertex(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, uint32_t a, float* pos,
                              float* nrm)
{
    uint32_t x1 = x + (a == 0), y1 = y + (a == 1), z1 = z + (a == 2), j;
    float f0 = dvren_mc_f(G, x, y, z), f1 = dvren_mc_f(G, x1, y1, z1);
    float t = f0 / (f0 - f1);
    float idx[3];
    if (!(t >= 0.0f && t <= 1.0f)) t = 0.5f; /* non-finite samples */
    idx[0] = (float)x;
    idx[1] = (float)y;
    idx[2] = (float)z;
    idx[a] = DVREN__MC_ADD(idx[a], t);
    for (j = 0; j < 3; ++j) pos[j] = DVREN__MC_ADD(G->origin[j], DVREN__MC_MUL(G->spacing[j], idx[j]));
    if (nrm) {
        float n[3], len2 = 0.0f;
        for (j = 0; j < 3; ++j) {
            float g0 = dvren_mc_grad(G, x, y, z, j), g1 = dvren_mc_grad(G, x1, y1, z1, j);
            float g = DVREN__MC_ADD(g0, DVREN__MC_MUL(t, g1 - g0));
            n[j] = DVREN__MC_MUL(-G->sign, g / G->spacing[j]);
            len2 = DVREN__MC_ADD(len2, DVREN__MC_MUL(n[j], n[j]));
        }
        if (len2 > 0.0f && len2 <= 3.0e38f) {
            float len = sqrtf(len2);
            for (j = 0; j < 3; ++j) nrm[j] = n[j] / len;
        } else {
            for (j = 0; j < 3; ++j) nrm[j] = 0.0f;
        }
    }
}

/* The centre vertex of a cell (dvren_mc_cell_triangles' DVREN_MC_CENTER):
 * the mean of its loop's n vertices (positions and normals, the normal
 * normalised again), summed in loop order. */
DVREN_FN void dvren_mc_center(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, const uint8_t* loop, uint32_t n,
                              float* pos, float* nrm)
{
    float p[3], q[3], sp[3] = {0.0f, 0.0f, 0.0f}, sn[3] = {0.0f, 0.0f, 0.0f}, len2 = 0.0f;
    uint32_t i, j;
    for (i = 0; i < n; ++i) {
        uint32_t e = loop[i], o = dvren_mc_edge_corner(e, 0);
        dvren_mc_vertex(G, x + (o & 1u), y + ((o >> 1) & 1u), z + ((o >> 2) & 1u), e >> 2, p, nrm ? q : NULL);
        for (j = 0; j < 3; ++j) {
            sp[j] = DVREN__MC_ADD(sp[j], p[j]);
            if (nrm) sn[j] = DVREN__MC_ADD(sn[j], q[j]);
        }
    }
    for (j = 0; j < 3; ++j) pos[j] = sp[j] / (float)n;
    if (!nrm) return;
    for (j = 0; j < 3; ++j) len2 = DVREN__MC_ADD(len2, DVREN__MC_MUL(sn[j], sn[j]));
    if (len2 > 0.0f && len2 <= 3.0e38f) {
        float len = sqrtf(len2);
        for (j = 0; j < 3; ++j) nrm[j] = sn[j] / len;
    } else {
        for (j = 0; j < 3; ++j) nrm[j] = 0.0f;
    }
}

/* The grid point owning cell edge e of cell (x, y, z), as its offset
 * (bit 0: +x, bit 1: +y, bit 2: +z) from the cell's sample, and the axis. */
DVREN_FN uint32_t dvren_mc_edge_owner(uint32_t e)
{
    return dvren_mc_edge_corner(e, 0);
}

#endif /* DVREN_MC_H */
/* >>mc end */
#endif /* DVREN__GEN_MC */
