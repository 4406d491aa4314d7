/* dvren_cuda.h - the CUDA backend of dvren.   version 0.1.0
 *
 * Renders dvren scenes on NVIDIA GPUs. The plugins' single-source stage code
 * and kernels/ are composed into one fused kernel per (field, shader,
 * sampler) and compiled at run time with NVRTC for the GPU present; the
 * binary is cached on disk. No CUDA SDK is needed to build: the driver API
 * (libcuda) and NVRTC are loaded with dlopen / LoadLibrary when a context
 * asks for the GPU, and their types and prototypes are declared here (no
 * cuda.h, no nvrtc.h).
 *
 * DO THIS in the one C or C++ file that holds dvren's implementation:
 *
 *     #define DVREN_IMPLEMENTATION
 *     #include "dvren.h"
 *     #define DVREN_CUDA_IMPLEMENTATION
 *     #include "dvren_cuda.h"
 *
 * then create a GPU context:
 *
 *     dvren_context_desc cd = {0};
 *     cd.device = DVREN_DEVICE_CUDA;
 *     cd.backend = dvren_cuda_backend();
 *     cd.min_compute_capability = 86;        // optional: an RTX 3060 or newer
 *     dvren_context_create(&cd, &ctx);       // DVREN_ERROR_NO_DEVICE without a GPU
 *
 * Everything else is dvren.h's API: stages, scenes, plans and framebuffers
 * made from this context live on the GPU; dvren_render() launches the fused
 * kernel asynchronously; dvren_framebuffer_output() waits and copies back.
 * Splat renderers (dvren_splat_render) made from this context run on the
 * GPU too, through a second module built at first use (kernels/
 * dvren_cuda_splat.h; docs/splats.md, "GPU").
 *
 * CONFIGURATION
 *     DVREN_CUDA_IMPLEMENTATION  compile the implementation (after dvren.h's)
 *     DVREN_CUDA_API             declaration prefix (default: DVREN_API)
 * ENVIRONMENT
 *     DVREN_CACHE_DIR            kernel cache folder (see dvren_context_desc.kernel_cache_dir)
 *     DVREN_CUDA_DUMP            a folder: write each composed kernel source there (debugging)
 *     DVREN_NVRTC_LIBRARY        path of the NVRTC library to load instead of the default names
 *     DVREN_CUDA_BLOCK           thread block shape "WxH" in pixels (default 8x16), for tuning
 *     DVREN_CUDA_NVRTC_OPTIONS   extra NVRTC options, space-separated (e.g. --maxrregcount=64), for tuning
 * (the last two are part of the kernel cache key)
 *
 * WHAT IT DOES NOT DO: no multi-GPU context (one context drives one device;
 * make several), no CUDA graphs, no textures (trilinear interpolation is
 * done in software, in float32, so that the GPU agrees with the CPU).
 *
 * CONTENTS (search for the tag)
 *   >>cuda-api       the API
 *   >>cuda-loader    dynamic loading of the driver and NVRTC
 *   >>cuda-pool      device memory: the caching pool
 *   >>cuda-jit       composing the fused kernel, compiling it with NVRTC
 *   >>cuda-cache     the on-disk kernel cache
 *   >>cuda-backend   the hooks of dvren_backend: memory and launches
 *   >>generated      copies of kernels/ as strings (./build.sh gen)
 */
#ifndef DVREN_CUDA_H
#define DVREN_CUDA_H

#include "dvren.h"

#ifndef DVREN_CUDA_API
#define DVREN_CUDA_API DVREN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* >>cuda-api                                                               */
/* ======================================================================== */

/* The backend to put in dvren_context_desc.backend (with device
 * DVREN_DEVICE_CUDA). Context creation loads the driver and NVRTC (safe to
 * do any number of times, from any thread), picks the device (index, name,
 * compute capability: see dvren_context_desc), logs [device] lines and opens
 * the kernel cache. Errors: NO_DEVICE (no driver library, no GPU, no match),
 * UNSUPPORTED (no NVRTC library, driver older than CUDA 12), DEVICE. */
DVREN_CUDA_API const dvren_backend* dvren_cuda_backend(void);

/* Versions and the device of a CUDA context. */
typedef struct dvren_cuda_info {
    char device_name[256];
    uint32_t compute_capability; /* major*10 + minor: 86, 90 */
    uint32_t multiprocessors;
    uint64_t total_memory;       /* bytes */
    int driver_version;          /* CUDA driver API version, e.g. 13000 */
    int nvrtc_major, nvrtc_minor;
    char target[32];             /* what NVRTC compiles for: "sm_90", or "compute_89" (PTX) */
    char cache_dir[1024];        /* "" when the disk cache is off */
    void* context;               /* the CUcontext: the device's primary context (the one the CUDA runtime, */
                                 /* and so PyTorch and CuPy, use), retained by the dvren context */
    int device_ordinal;          /* the CUdevice, as cuDeviceGet numbers it (CUDA_VISIBLE_DEVICES applies) */
} dvren_cuda_info;
/* Errors: INVALID_ARGUMENT (not a CUDA context). */
DVREN_CUDA_API dvren_status dvren_cuda_get_info(const dvren_context* ctx, dvren_cuda_info* info);

/* What one fused kernel cost and uses. */
typedef struct dvren_cuda_kernel_stats {
    char target[32];   /* "sm_90" or "compute_XY" */
    int cache_hit;     /* 1: loaded from the context's memory or the disk cache */
    double compile_ms; /* NVRTC time (0 on a cache hit) */
    double load_ms;    /* composing, hashing, reading the cache, loading the module */
    int registers;     /* per thread */
    int local_bytes;   /* local memory per thread (spills): 0 is the goal */
    uint64_t binary_bytes;
} dvren_cuda_kernel_stats;
/* Stats of a scene's kernel. Errors: INVALID_ARGUMENT (not a CUDA scene). */
DVREN_CUDA_API dvren_status dvren_cuda_scene_kernel(const dvren_scene* scene, dvren_cuda_kernel_stats* stats);

/* Compiles a scene's fused kernel with NVRTC for sm_<arch> (e.g. 86, 90)
 * without a GPU: for CI and for plugin authors. The scene may come from a
 * CPU context. Loads NVRTC only. log receives NVRTC's log ("" when clean;
 * any text is a warning). Errors: UNSUPPORTED (no NVRTC, or it cannot target
 * the arch), COMPILE (the message names the plugin, file and line; the full
 * log is in log), IO (a plugin's device source is missing). A
 * DIFFERENTIABLE scene's unit holds dvren_backward too, and the training
 * module (losses, TV, optimizers) is compiled as well. */
DVREN_CUDA_API dvren_status dvren_cuda_compile_check(dvren_scene* scene, uint32_t arch, char* log, size_t log_cap);
/* The same for the device source of a plugin that launches its own kernels
 * through dvren.host.cuda/1 (saliency models): the module that
 * dvren_host_cuda.kernel() would build (kernels/dvren_device.h, then the
 * plugin's source), compiled for sm_<arch> without a GPU; ctx may be a CPU
 * context. Errors: NOT_FOUND (no such plugin loaded), UNSUPPORTED (no
 * NVRTC, or no device source), COMPILE, IO as above. */
DVREN_CUDA_API dvren_status dvren_cuda_compile_plugin_check(dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                                                            uint32_t arch, char* log, size_t log_cap);

/* Compiles the splat module (kernels/dvren_splat.h and
 * kernels/dvren_cuda_splat.h, what dvren_splat_render builds at first use
 * on a CUDA context) for sm_<arch> without a GPU: the check of
 * dvren_cuda_compile_check for the splat renderer. ctx may be any context
 * (a CPU one); the NVRTC log goes to log. Errors: COMPILE, UNSUPPORTED
 * (NVRTC missing or not knowing arch). */
DVREN_CUDA_API dvren_status dvren_cuda_compile_splat_check(dvren_context* ctx, uint32_t arch, char* log, size_t log_cap);
/* The same for any of the fixed modules that dvren builds at first use on a
 * CUDA context: module "splat" (dvren_splat_render), "mc"
 * (dvren_marching_cubes: kernels/dvren_mc.h, kernels/dvren_cuda_scan.h,
 * kernels/dvren_cuda_mc.h) or "training" (losses, TV, optimizers).
 * dvren_cuda_compile_splat_check(ctx, ...) is this with "splat". Errors:
 * INVALID_ARGUMENT (NULL, an unknown module), COMPILE, UNSUPPORTED. */
DVREN_CUDA_API dvren_status dvren_cuda_compile_module_check(dvren_context* ctx, const char* module, uint32_t arch, char* log,
                                                            size_t log_cap);

/* Device tensors (memory = DVREN_MEMORY_DEVICE; data is the device
 * address), from the context's caching pool, zero-filled, contiguous,
 * 256-byte aligned. Free with dvren_tensor_destroy. Errors: INVALID_ARGUMENT
 * (shape, dtype, not a CUDA context), OUT_OF_MEMORY. */
DVREN_CUDA_API dvren_status dvren_cuda_tensor_create(dvren_context* ctx, dvren_dtype dtype, uint32_t ndim,
                                                     const int64_t* shape, dvren_tensor* out);
/* Copies src to dst (host to device, device to host or device to device):
 * same dtype and element count, both contiguous. Waits until done.
 * Errors: INVALID_ARGUMENT, DEVICE. */
DVREN_CUDA_API dvren_status dvren_cuda_copy(dvren_context* ctx, dvren_tensor* dst, const dvren_tensor* src);

/* The caching memory pool: blocks freed by dvren are kept for reuse, so a
 * steady state of renders and tensors of the same sizes calls cuMemAlloc no
 * more. in_use is what live objects hold; it returns to its earlier value
 * when they are destroyed. */
typedef struct dvren_cuda_memory {
    uint64_t in_use;          /* bytes held by live tensors, stage buffers, framebuffers */
    uint64_t cached;          /* bytes kept for reuse */
    uint64_t peak;            /* largest in_use + cached so far */
    uint64_t driver_allocs;   /* cuMemAlloc calls so far */
    uint64_t device_free;     /* the driver's view of the whole device */
    uint64_t device_total;
    uint64_t peak_in_use;     /* largest in_use since the context began or dvren_cuda_memory_reset_peak
                                 (what torch.cuda.max_memory_allocated reports for PyTorch's allocator) */
} dvren_cuda_memory;
DVREN_CUDA_API dvren_status dvren_cuda_memory_stats(dvren_context* ctx, dvren_cuda_memory* stats);
/* Starts peak_in_use (and peak) over from the present in_use (and cached).
 * Errors: INVALID_ARGUMENT (not a CUDA context). */
DVREN_CUDA_API dvren_status dvren_cuda_memory_reset_peak(dvren_context* ctx);
/* Returns the cached blocks to the driver. */
DVREN_CUDA_API dvren_status dvren_cuda_memory_trim(dvren_context* ctx);

/* Device view of one framebuffer output (no copy; valid until the
 * framebuffer is destroyed; read it after dvren_synchronize, or on the
 * context's stream; what is written through it is what a later
 * dvren_framebuffer_output copies back). Errors as
 * dvren_framebuffer_output, INVALID_ARGUMENT for a CPU framebuffer. */
DVREN_CUDA_API dvren_status dvren_cuda_framebuffer_output(dvren_framebuffer* fb, uint32_t output, dvren_tensor* view);

/* Streams. A context queues its work (renders, copies, training kernels)
 * in order on one CUDA stream: by default its own (non-blocking, created
 * with it). dvren_cuda_set_stream makes it use the caller's stream instead,
 * e.g. PyTorch's torch.cuda.current_stream().cuda_stream, so that work
 * queued there before (a kernel writing a tensor dvren reads) runs first
 * and work queued after sees dvren's results, with no synchronisation.
 * stream is a CUstream of the context's device in its primary context
 * (dvren_cuda_info.context); NULL is CUDA's legacy default stream (PyTorch's
 * default stream). At a switch the new stream is made to wait (on the
 * device, through an event; the host does not wait) for the work queued on
 * the previous one, so the memory the pool recycles is never in use on two
 * streams at once. The caller keeps the stream alive while the context uses
 * it. dvren_cuda_own_stream goes back to the context's own stream (with the
 * same hand-off). Calls that hand results to the host (dvren_framebuffer_output,
 * a loss value, dvren_synchronize) wait for the stream in use. Errors:
 * INVALID_ARGUMENT (not a CUDA context), DEVICE. */
DVREN_CUDA_API dvren_status dvren_cuda_set_stream(dvren_context* ctx, void* stream);
DVREN_CUDA_API dvren_status dvren_cuda_own_stream(dvren_context* ctx);
/* The CUstream the context queues work on now (NULL for the legacy default
 * stream or when ctx is not a CUDA context). */
DVREN_CUDA_API void* dvren_cuda_stream(const dvren_context* ctx);

/* GPU time between two points of the context's stream, with CUDA events:
 * timer_begin records the start; timer_end records the end, waits for it
 * and gives the milliseconds between them. Errors: DEVICE. */
DVREN_CUDA_API dvren_status dvren_cuda_timer_begin(dvren_context* ctx);
DVREN_CUDA_API dvren_status dvren_cuda_timer_end(dvren_context* ctx, float* ms);

#ifdef __cplusplus
}
#endif

#endif /* DVREN_CUDA_H */

/* ------------------------------------------------------------------------
 * Stop here if you only want the API: the rest is the implementation.
 * ------------------------------------------------------------------------ */

#if defined(DVREN_CUDA_IMPLEMENTATION) && !defined(DVREN__CUDA_IMPLEMENTATION_DONE)
#define DVREN__CUDA_IMPLEMENTATION_DONE
#if !defined(DVREN__IMPLEMENTATION_DONE)
#error "dvren_cuda.h's implementation needs dvren.h's in the same file: #define DVREN_IMPLEMENTATION and include dvren.h first"
#endif

/* ======================================================================== */
/* >>cuda-loader                                                            */
/* ======================================================================== */

/* The few driver and NVRTC types dvren needs, declared here so that no CUDA
 * SDK is needed to build (the ABI is the driver's: cuda.h, CUDA 12.0). */
typedef int dvren__cu_result;
typedef int dvren__cu_device;
typedef unsigned long long dvren__cu_ptr;
typedef struct dvren__cu_context_st* dvren__cu_context;
typedef struct dvren__cu_module_st* dvren__cu_module;
typedef struct dvren__cu_function_st* dvren__cu_function;
typedef struct dvren__cu_stream_st* dvren__cu_stream;
typedef struct dvren__cu_event_st* dvren__cu_event;
typedef int dvren__nvrtc_result;
typedef struct dvren__nvrtc_program_st* dvren__nvrtc_program;

#if defined(_WIN32)
#define DVREN__CUDAAPI __stdcall
#else
#define DVREN__CUDAAPI
#endif

#define DVREN__CU_SUCCESS 0
#define DVREN__CU_ERROR_NO_DEVICE 100
#define DVREN__CU_ATTR_MULTIPROCESSOR_COUNT 16
#define DVREN__CU_ATTR_CC_MAJOR 75
#define DVREN__CU_ATTR_CC_MINOR 76
#define DVREN__CU_ATTR_MAX_SHARED_OPTIN 97 /* CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
#define DVREN__CU_FUNC_LOCAL_SIZE_BYTES 3
#define DVREN__CU_FUNC_NUM_REGS 4
#define DVREN__CU_FUNC_MAX_DYNAMIC_SHARED 8 /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
#define DVREN__CU_STREAM_NON_BLOCKING 1
#define DVREN__CU_EVENT_DISABLE_TIMING 2

/* Driver entry points: X(field, name to ask cuGetProcAddress for, versioned
 * symbol to look up when it is unavailable, parameters). */
#define DVREN__CUDA_DRIVER(X)                                                                                       \
    X(cuInit, "cuInit", "cuInit", (unsigned int flags))                                                            \
    X(cuDriverGetVersion, "cuDriverGetVersion", "cuDriverGetVersion", (int* version))                              \
    X(cuDeviceGetCount, "cuDeviceGetCount", "cuDeviceGetCount", (int* count))                                      \
    X(cuDeviceGet, "cuDeviceGet", "cuDeviceGet", (dvren__cu_device * dev, int ordinal))                            \
    X(cuDeviceGetName, "cuDeviceGetName", "cuDeviceGetName", (char* name, int len, dvren__cu_device dev))          \
    X(cuDeviceGetAttribute, "cuDeviceGetAttribute", "cuDeviceGetAttribute", (int* v, int attr, dvren__cu_device dev)) \
    X(cuDeviceTotalMem, "cuDeviceTotalMem", "cuDeviceTotalMem_v2", (size_t * bytes, dvren__cu_device dev))         \
    X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain",                            \
      (dvren__cu_context * c, dvren__cu_device dev))                                                                \
    X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2",                      \
      (dvren__cu_device dev))                                                                                       \
    X(cuCtxSetCurrent, "cuCtxSetCurrent", "cuCtxSetCurrent", (dvren__cu_context c))                                \
    X(cuMemAlloc, "cuMemAlloc", "cuMemAlloc_v2", (dvren__cu_ptr * p, size_t bytes))                                \
    X(cuMemFree, "cuMemFree", "cuMemFree_v2", (dvren__cu_ptr p))                                                   \
    X(cuMemGetInfo, "cuMemGetInfo", "cuMemGetInfo_v2", (size_t * free_bytes, size_t * total))                      \
    X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2",                                              \
      (dvren__cu_ptr dst, const void* src, size_t n, dvren__cu_stream s))                                           \
    X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync", "cuMemcpyDtoHAsync_v2",                                              \
      (void* dst, dvren__cu_ptr src, size_t n, dvren__cu_stream s))                                                 \
    X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync", "cuMemcpyDtoDAsync_v2",                                              \
      (dvren__cu_ptr dst, dvren__cu_ptr src, size_t n, dvren__cu_stream s))                                         \
    X(cuMemsetD8Async, "cuMemsetD8Async", "cuMemsetD8Async",                                                       \
      (dvren__cu_ptr p, unsigned char v, size_t n, dvren__cu_stream s))                                             \
    X(cuModuleLoadData, "cuModuleLoadData", "cuModuleLoadData", (dvren__cu_module * m, const void* image))         \
    X(cuModuleUnload, "cuModuleUnload", "cuModuleUnload", (dvren__cu_module m))                                    \
    X(cuModuleGetFunction, "cuModuleGetFunction", "cuModuleGetFunction",                                           \
      (dvren__cu_function * f, dvren__cu_module m, const char* name))                                               \
    X(cuFuncGetAttribute, "cuFuncGetAttribute", "cuFuncGetAttribute", (int* v, int attr, dvren__cu_function f))    \
    X(cuFuncSetAttribute, "cuFuncSetAttribute", "cuFuncSetAttribute", (dvren__cu_function f, int attr, int v))     \
    X(cuLaunchKernel, "cuLaunchKernel", "cuLaunchKernel",                                                          \
      (dvren__cu_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,          \
       unsigned shared, dvren__cu_stream s, void** params, void** extra))                                           \
    X(cuStreamCreate, "cuStreamCreate", "cuStreamCreate", (dvren__cu_stream * s, unsigned flags))                  \
    X(cuStreamDestroy, "cuStreamDestroy", "cuStreamDestroy_v2", (dvren__cu_stream s))                              \
    X(cuStreamSynchronize, "cuStreamSynchronize", "cuStreamSynchronize", (dvren__cu_stream s))                     \
    X(cuEventCreate, "cuEventCreate", "cuEventCreate", (dvren__cu_event * e, unsigned flags))                      \
    X(cuEventDestroy, "cuEventDestroy", "cuEventDestroy_v2", (dvren__cu_event e))                                  \
    X(cuStreamWaitEvent, "cuStreamWaitEvent", "cuStreamWaitEvent", (dvren__cu_stream s, dvren__cu_event e, unsigned flags)) \
    X(cuEventRecord, "cuEventRecord", "cuEventRecord", (dvren__cu_event e, dvren__cu_stream s))                    \
    X(cuEventSynchronize, "cuEventSynchronize", "cuEventSynchronize", (dvren__cu_event e))                         \
    X(cuEventElapsedTime, "cuEventElapsedTime", "cuEventElapsedTime", (float* ms, dvren__cu_event a, dvren__cu_event b)) \
    X(cuGetErrorName, "cuGetErrorName", "cuGetErrorName", (dvren__cu_result r, const char** s))                    \
    X(cuGetErrorString, "cuGetErrorString", "cuGetErrorString", (dvren__cu_result r, const char** s))

#define DVREN__CUDA_NVRTC(X)                                                                                        \
    X(nvrtcGetErrorString, const char*, (dvren__nvrtc_result r))                                                   \
    X(nvrtcVersion, dvren__nvrtc_result, (int* major, int* minor))                                                 \
    X(nvrtcGetNumSupportedArchs, dvren__nvrtc_result, (int* n))                                                    \
    X(nvrtcGetSupportedArchs, dvren__nvrtc_result, (int* archs))                                                   \
    X(nvrtcCreateProgram, dvren__nvrtc_result,                                                                     \
      (dvren__nvrtc_program * p, const char* src, const char* name, int nheaders, const char* const* headers,     \
       const char* const* include_names))                                                                           \
    X(nvrtcDestroyProgram, dvren__nvrtc_result, (dvren__nvrtc_program * p))                                        \
    X(nvrtcCompileProgram, dvren__nvrtc_result, (dvren__nvrtc_program p, int nopts, const char* const* opts))      \
    X(nvrtcGetProgramLogSize, dvren__nvrtc_result, (dvren__nvrtc_program p, size_t * n))                           \
    X(nvrtcGetProgramLog, dvren__nvrtc_result, (dvren__nvrtc_program p, char* log))                                \
    X(nvrtcGetCUBINSize, dvren__nvrtc_result, (dvren__nvrtc_program p, size_t * n))                                \
    X(nvrtcGetCUBIN, dvren__nvrtc_result, (dvren__nvrtc_program p, char* bin))                                     \
    X(nvrtcGetPTXSize, dvren__nvrtc_result, (dvren__nvrtc_program p, size_t * n))                                  \
    X(nvrtcGetPTX, dvren__nvrtc_result, (dvren__nvrtc_program p, char* ptx))

typedef struct dvren__cuda_api {
#define DVREN__X(field, query, sym, params) dvren__cu_result(DVREN__CUDAAPI* field) params;
    DVREN__CUDA_DRIVER(DVREN__X)
#undef DVREN__X
#define DVREN__X(field, ret, params) ret(DVREN__CUDAAPI* field) params;
    DVREN__CUDA_NVRTC(DVREN__X)
#undef DVREN__X
    void* lib_cuda;
    void* lib_nvrtc;
    void* getproc; /* cuGetProcAddress_v2, or NULL (dvren.host.cuda/1's driver_proc) */
    int driver_loaded; /* 1: ok, -1: failed (message in driver_error) */
    int nvrtc_loaded;
    int driver_version;
    int nvrtc_major, nvrtc_minor;
    int archs[64];
    int narchs;
    dvren_status driver_status, nvrtc_status;
    char driver_error[1024]; /* room for a 512-byte loader message and our text */
    char nvrtc_error[1024];
} dvren__cuda_api;

/* Process-wide: the libraries are loaded once and never unloaded (the
 * driver keeps state past any context; unloading it under a live primary
 * context is not safe). */
static dvren__cuda_api dvren__cu;

#if defined(_WIN32)
static INIT_ONCE dvren__cu_once_driver = INIT_ONCE_STATIC_INIT, dvren__cu_once_nvrtc = INIT_ONCE_STATIC_INIT;
#elif !defined(DVREN_NO_THREADS)
static pthread_once_t dvren__cu_once_driver = PTHREAD_ONCE_INIT, dvren__cu_once_nvrtc = PTHREAD_ONCE_INIT;
#else
static int dvren__cu_once_driver, dvren__cu_once_nvrtc;
#endif

/* A function pointer from a symbol, without the ISO C cast from void*. */
static void dvren__cu_sym(void* lib, const char* name, void* fn_field)
{
    void* p = lib ? dvren__lib_symbol(lib, name) : NULL;
    memcpy(fn_field, &p, sizeof p);
}

static void dvren__cu_load_driver(void)
{
    typedef dvren__cu_result(DVREN__CUDAAPI * getproc_fn)(const char*, void**, int, unsigned long long, int*);
    static const char* const names[] = {
#if defined(_WIN32)
        "nvcuda.dll", NULL
#else
        "libcuda.so.1", "libcuda.so", NULL
#endif
    };
    char err[512];
    getproc_fn getproc = NULL;
    const char* missing = NULL;
    int i, v = 0;
    dvren__cu_result r;
    err[0] = 0;
    for (i = 0; names[i] && !dvren__cu.lib_cuda; ++i) dvren__cu.lib_cuda = dvren__lib_open(names[i], err, sizeof err);
    if (!dvren__cu.lib_cuda) {
        dvren__cu.driver_status = DVREN_ERROR_NO_DEVICE;
        snprintf(dvren__cu.driver_error, sizeof dvren__cu.driver_error,
                 "no NVIDIA driver: cannot load %s%s (%s)", names[0], names[1] ? " or the unversioned name" : "", err);
        dvren__cu.driver_loaded = -1;
        return;
    }
    dvren__cu_sym(dvren__cu.lib_cuda, "cuGetProcAddress_v2", &getproc);
    dvren__cu_sym(dvren__cu.lib_cuda, "cuGetProcAddress_v2", &dvren__cu.getproc);
    /* cuGetProcAddress gives the entry point of the ABI version we were
     * written against (CUDA 12.0); older drivers: the versioned symbols */
#define DVREN__X(field, query, sym, params)                                                                    \
    {                                                                                                          \
        void* p_ = NULL;                                                                                       \
        int st_ = 0;                                                                                           \
        if (!getproc || getproc(query, &p_, 12000, 0ull, &st_) != DVREN__CU_SUCCESS || st_ != 0) p_ = NULL;    \
        if (p_) memcpy(&dvren__cu.field, &p_, sizeof p_);                                                      \
        else dvren__cu_sym(dvren__cu.lib_cuda, sym, &dvren__cu.field);                                         \
        if (!dvren__cu.field && !missing) missing = sym;                                                       \
    }
    DVREN__CUDA_DRIVER(DVREN__X)
#undef DVREN__X
    if (missing) {
        dvren__cu.driver_status = DVREN_ERROR_UNSUPPORTED;
        snprintf(dvren__cu.driver_error, sizeof dvren__cu.driver_error,
                 "the CUDA driver lacks %s: it is older than CUDA 12 (update the NVIDIA driver)", missing);
        dvren__cu.driver_loaded = -1;
        return;
    }
    r = dvren__cu.cuInit(0);
    if (r != DVREN__CU_SUCCESS) {
        const char* name = NULL;
        dvren__cu.cuGetErrorName(r, &name);
        dvren__cu.driver_status = r == DVREN__CU_ERROR_NO_DEVICE ? DVREN_ERROR_NO_DEVICE : DVREN_ERROR_DEVICE;
        snprintf(dvren__cu.driver_error, sizeof dvren__cu.driver_error, "cuInit failed: %s%s",
                 name ? name : "unknown error", r == DVREN__CU_ERROR_NO_DEVICE ? " (no CUDA-capable GPU)" : "");
        dvren__cu.driver_loaded = -1;
        return;
    }
    dvren__cu.cuDriverGetVersion(&v);
    dvren__cu.driver_version = v;
    if (v < 12000) {
        dvren__cu.driver_status = DVREN_ERROR_UNSUPPORTED;
        snprintf(dvren__cu.driver_error, sizeof dvren__cu.driver_error,
                 "the CUDA driver supports CUDA %d.%d; dvren needs 12.0 or newer (update the NVIDIA driver)",
                 v / 1000, (v % 1000) / 10);
        dvren__cu.driver_loaded = -1;
        return;
    }
    dvren__cu.driver_loaded = 1;
}

static void dvren__cu_load_nvrtc(void)
{
    static const char* const names[] = {
#if defined(_WIN32)
        "nvrtc64_130_0.dll", "nvrtc64_120_0.dll", NULL
#else
        "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so", NULL
#endif
    };
    const char* env = getenv("DVREN_NVRTC_LIBRARY");
    const char* missing = NULL;
    char err[512];
    int i;
    err[0] = 0;
    if (env && *env) dvren__cu.lib_nvrtc = dvren__lib_open(env, err, sizeof err);
    for (i = 0; names[i] && !dvren__cu.lib_nvrtc && !(env && *env); ++i)
        dvren__cu.lib_nvrtc = dvren__lib_open(names[i], err, sizeof err);
    if (!dvren__cu.lib_nvrtc) {
        dvren__cu.nvrtc_status = DVREN_ERROR_UNSUPPORTED;
        snprintf(dvren__cu.nvrtc_error, sizeof dvren__cu.nvrtc_error, "cannot load NVRTC (%s): %s",
                 env && *env ? env : "libnvrtc.so.13, .so.12", err);
        dvren__cu.nvrtc_loaded = -1;
        return;
    }
#define DVREN__X(field, ret, params)                                                  \
    dvren__cu_sym(dvren__cu.lib_nvrtc, #field, &dvren__cu.field);                      \
    if (!dvren__cu.field && !missing) missing = #field;
    DVREN__CUDA_NVRTC(DVREN__X)
#undef DVREN__X
    if (missing) {
        dvren__cu.nvrtc_status = DVREN_ERROR_UNSUPPORTED;
        snprintf(dvren__cu.nvrtc_error, sizeof dvren__cu.nvrtc_error, "the NVRTC library lacks %s (NVRTC 12+ needed)",
                 missing);
        dvren__cu.nvrtc_loaded = -1;
        return;
    }
    dvren__cu.nvrtcVersion(&dvren__cu.nvrtc_major, &dvren__cu.nvrtc_minor);
    if (dvren__cu.nvrtcGetNumSupportedArchs(&dvren__cu.narchs) != 0 || dvren__cu.narchs < 1 || dvren__cu.narchs > 64 ||
        dvren__cu.nvrtcGetSupportedArchs(dvren__cu.archs) != 0) {
        dvren__cu.nvrtc_status = DVREN_ERROR_UNSUPPORTED;
        snprintf(dvren__cu.nvrtc_error, sizeof dvren__cu.nvrtc_error, "NVRTC %d.%d cannot list its architectures",
                 dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor);
        dvren__cu.nvrtc_loaded = -1;
        return;
    }
    dvren__cu.nvrtc_loaded = 1;
}

#if defined(_WIN32)
static BOOL CALLBACK dvren__cu_once_d(PINIT_ONCE o, PVOID p, PVOID* c)
{
    (void)o; (void)p; (void)c;
    dvren__cu_load_driver();
    return TRUE;
}
static BOOL CALLBACK dvren__cu_once_n(PINIT_ONCE o, PVOID p, PVOID* c)
{
    (void)o; (void)p; (void)c;
    dvren__cu_load_nvrtc();
    return TRUE;
}
#endif

/* Loads the driver (once per process); records the failure on ctx. */
static dvren_status dvren__cu_need_driver(dvren_context* ctx)
{
#if defined(_WIN32)
    InitOnceExecuteOnce(&dvren__cu_once_driver, dvren__cu_once_d, NULL, NULL);
#elif !defined(DVREN_NO_THREADS)
    pthread_once(&dvren__cu_once_driver, dvren__cu_load_driver);
#else
    if (!dvren__cu_once_driver++) dvren__cu_load_driver();
#endif
    if (dvren__cu.driver_loaded == 1) return DVREN_OK;
    return dvren_set_error(ctx, dvren__cu.driver_status, "cuda",
                           dvren__cu.driver_status == DVREN_ERROR_NO_DEVICE
                               ? "this machine has no usable NVIDIA GPU; use the CPU device"
                               : NULL,
                           "%s", dvren__cu.driver_error);
}

static dvren_status dvren__cu_need_nvrtc(dvren_context* ctx)
{
#if defined(_WIN32)
    InitOnceExecuteOnce(&dvren__cu_once_nvrtc, dvren__cu_once_n, NULL, NULL);
#elif !defined(DVREN_NO_THREADS)
    pthread_once(&dvren__cu_once_nvrtc, dvren__cu_load_nvrtc);
#else
    if (!dvren__cu_once_nvrtc++) dvren__cu_load_nvrtc();
#endif
    if (dvren__cu.nvrtc_loaded == 1) return DVREN_OK;
    return dvren_set_error(ctx, dvren__cu.nvrtc_status, "cuda",
                           "install the CUDA toolkit's NVRTC (libnvrtc.so.13 or .12) or set DVREN_NVRTC_LIBRARY",
                           "%s", dvren__cu.nvrtc_error);
}

/* Checks a driver call; on failure records "what: CUDA_ERROR_X (text)". */
static dvren_status dvren__cu_check(dvren_context* ctx, dvren__cu_result r, const char* what)
{
    const char *name = NULL, *text = NULL;
    if (r == DVREN__CU_SUCCESS) return DVREN_OK;
    dvren__cu.cuGetErrorName(r, &name);
    dvren__cu.cuGetErrorString(r, &text);
    return dvren_set_error(ctx, r == 2 ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_DEVICE, "cuda", NULL, "%s: %s (%s)",
                           what, name ? name : "?", text ? text : "?");
}
#define DVREN__CU(ctx, call) DVREN__CHECK(dvren__cu_check((ctx), dvren__cu.call, #call))

/* ======================================================================== */
/* >>cuda-pool                                                              */
/* ======================================================================== */

/* Caching pool: freed blocks go on a free list per rounded size and are
 * reused by the next request of that size. Sizes round up to 256 bytes
 * below 1 MiB, to 1 MiB above, so a renderer that frees and allocates the
 * same sizes (framebuffers, stage buffers) stops calling the driver. */
typedef struct dvren__cu_block {
    dvren__cu_ptr ptr;
    size_t size; /* rounded */
    struct dvren__cu_block* next;
} dvren__cu_block;

typedef struct dvren__cu_kernel {
    uint64_t key[2];
    dvren__cu_module module;
    dvren__cu_function function;
    dvren__cu_function backward; /* differentiable scenes */
    dvren__cu_function rays, gather; /* per-pixel budgets: dvren_forward_rays, dvren_gather_rays */
    dvren_cuda_kernel_stats stats;
} dvren__cu_kernel;

typedef struct dvren__cu_state {
    dvren__cu_device device;
    dvren__cu_context cuctx;
    dvren__cu_stream stream;     /* where work is queued: own_stream or the caller's (dvren_cuda_set_stream) */
    dvren__cu_stream own_stream; /* created with the context */
    dvren__cu_event timer[2];
    dvren__cu_event handoff;     /* a stream switch: recorded on the old stream, waited for by the new one */
    dvren_cuda_info info;
    uint32_t arch;      /* the device's compute capability, e.g. 90 */
    uint32_t block_x, block_y; /* thread block shape in pixels */
    char extra_options[512];   /* DVREN_CUDA_NVRTC_OPTIONS */
    uint32_t target;    /* what NVRTC compiles for: arch (cubin) or the newest below it (PTX) */
    int target_ptx;
    dvren__cu_block* free_list;
    dvren__cu_block* live; /* blocks in use, to find their size at free */
    uint64_t in_use, cached, peak, driver_allocs, peak_in_use;
    dvren__cu_kernel* kernels; /* modules loaded by this context */
    uint32_t nkernels, kernel_cap;
    /* training module (losses, TV, optimizers), built at first use */
    dvren__cu_module train;
    dvren__cu_function f_loss, f_tv, f_adam, f_sgd, f_fixed, f_absmax;
    /* splat module (kernels/dvren_cuda_splat.h), built at first use: its
     * kernels, indexed by DVREN__CU_SPLAT_* (13 of them) */
    dvren__cu_module splat;
    dvren__cu_function f_splat[16];
    uint32_t splat_sort_cap; /* longest tile segment dvren_splat_sort sorts in shared memory */
    int splat_prof_on;       /* $DVREN_SPLAT_PROFILE: per-step timing (dvren__cu_splat_mark) */
    double splat_prof[8], splat_prof_t;
    /* marching-cubes module (kernels/dvren_cuda_mc.h), built at first use:
     * its kernels, indexed by DVREN__CU_MC_* */
    dvren__cu_module mc;
    dvren__cu_function f_mc[8];
    dvren__cu_ptr partial;          /* DVREN__CU_PARTIALS doubles of block sums */
    dvren__cu_ptr flag;             /* one uint32 (absmax) */
    dvren__cu_ptr scratch;          /* host targets and rays uploaded per call */
    size_t scratch_size;
    /* per-pixel budgets: one record per ray of a chunk (dvren_forward_rays) */
    dvren__cu_ptr rays;
    size_t rays_size;
    /* dvren.host.cuda/1: the service plugins get, and their kernels' modules */
    dvren_host_cuda host_cuda;
    struct dvren__cu_pmod* pmods;
    uint32_t npmods, pmod_cap;
} dvren__cu_state;

/* The module of one plugin's device source (dvren.host.cuda/1's kernel()). */
typedef struct dvren__cu_pmod {
    const dvren__plugin_rec* rec;
    dvren__cu_module module;
} dvren__cu_pmod;

static dvren__cu_state* dvren__cu_st(const dvren_context* ctx) { return (dvren__cu_state*)ctx->be_state; }

static size_t dvren__cu_round(size_t n)
{
    if (n == 0) n = 1;
    if (n < ((size_t)1 << 20)) return (n + 255) & ~(size_t)255;
    return (n + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
}

static dvren_status dvren__cu_alloc(dvren_context* ctx, size_t bytes, dvren__cu_ptr* out)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    size_t n = dvren__cu_round(bytes);
    dvren__cu_block **pp = &S->free_list, *b;
    dvren__cu_result r;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->size == n) {
            b = *pp;
            *pp = b->next;
            S->cached -= n;
            goto found;
        }
    b = (dvren__cu_block*)dvren__calloc(ctx, sizeof *b);
    if (!b) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of host memory");
    r = dvren__cu.cuMemAlloc(&b->ptr, n);
    if (r != DVREN__CU_SUCCESS && S->free_list) {
        /* give the cache back and try once more */
        dvren_cuda_memory_trim(ctx);
        r = dvren__cu.cuMemAlloc(&b->ptr, n);
    }
    if (r != DVREN__CU_SUCCESS) {
        dvren__free(ctx, b, sizeof *b);
        return dvren__cu_check(ctx, r, "cuMemAlloc");
    }
    b->size = n;
    S->driver_allocs++;
found:
    b->next = S->live;
    S->live = b;
    S->in_use += n;
    if (S->in_use + S->cached > S->peak) S->peak = S->in_use + S->cached;
    if (S->in_use > S->peak_in_use) S->peak_in_use = S->in_use;
    *out = b->ptr;
    return DVREN_OK;
}

static void dvren__cu_release(dvren_context* ctx, dvren__cu_ptr p)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu_block** pp;
    if (!p) return;
    for (pp = &S->live; *pp; pp = &(*pp)->next)
        if ((*pp)->ptr == p) {
            dvren__cu_block* b = *pp;
            *pp = b->next;
            S->in_use -= b->size;
            S->cached += b->size;
            b->next = S->free_list;
            S->free_list = b;
            return;
        }
}

DVREN_CUDA_API dvren_status dvren_cuda_memory_trim(dvren_context* ctx)
{
    dvren__cu_state* S;
    if (!ctx || !ctx->be || ctx->be->device != DVREN_DEVICE_CUDA)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    S = dvren__cu_st(ctx);
    dvren__cu.cuStreamSynchronize(S->stream);
    while (S->free_list) {
        dvren__cu_block* b = S->free_list;
        S->free_list = b->next;
        dvren__cu.cuMemFree(b->ptr);
        S->cached -= b->size;
        dvren__free(ctx, b, sizeof *b);
    }
    return DVREN_OK;
}

DVREN_CUDA_API dvren_status dvren_cuda_memory_reset_peak(dvren_context* ctx)
{
    dvren__cu_state* S;
    if (!ctx || !ctx->be || ctx->be->device != DVREN_DEVICE_CUDA)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    S = dvren__cu_st(ctx);
    S->peak_in_use = S->in_use;
    S->peak = S->in_use + S->cached;
    return DVREN_OK;
}

DVREN_CUDA_API dvren_status dvren_cuda_memory_stats(dvren_context* ctx, dvren_cuda_memory* m)
{
    dvren__cu_state* S;
    size_t fr = 0, tot = 0;
    if (!ctx || !m || !ctx->be || ctx->be->device != DVREN_DEVICE_CUDA)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    S = dvren__cu_st(ctx);
    memset(m, 0, sizeof *m);
    m->in_use = S->in_use;
    m->cached = S->cached;
    m->peak = S->peak;
    m->peak_in_use = S->peak_in_use;
    m->driver_allocs = S->driver_allocs;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    if (dvren__cu.cuMemGetInfo(&fr, &tot) == DVREN__CU_SUCCESS) {
        m->device_free = fr;
        m->device_total = tot;
    }
    return DVREN_OK;
}

static int dvren__cu_is(const dvren_context* ctx) { return ctx && ctx->be && ctx->be->device == DVREN_DEVICE_CUDA; }

DVREN_CUDA_API dvren_status dvren_cuda_tensor_create(dvren_context* ctx, dvren_dtype dtype, uint32_t ndim,
                                                     const int64_t* shape, dvren_tensor* out)
{
    size_t bytes = 0;
    dvren__cu_ptr p = 0;
    dvren_status status;
    if (!dvren__cu_is(ctx) || !out)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    status = dvren__tensor_shape(ctx, dtype, ndim, shape, out, &bytes);
    if (status != DVREN_OK) return status;
    status = dvren__cu_alloc(ctx, bytes, &p);
    if (status != DVREN_OK) return status;
    status = dvren__cu_check(ctx, dvren__cu.cuMemsetD8Async(p, 0, bytes, dvren__cu_st(ctx)->stream), "cuMemsetD8Async");
    if (status != DVREN_OK) {
        dvren__cu_release(ctx, p);
        return status;
    }
    out->data = (void*)(uintptr_t)p;
    out->memory = DVREN_MEMORY_DEVICE;
    out->flags = DVREN_TENSOR_OWNS_DATA;
    return DVREN_OK;
}

static dvren_status dvren__cu_mem_copy(dvren_context* ctx, void* dst, dvren_memory dm, const void* src, dvren_memory sm,
                                       size_t n);

DVREN_CUDA_API dvren_status dvren_cuda_copy(dvren_context* ctx, dvren_tensor* dst, const dvren_tensor* src)
{
    size_t n;
    if (!dvren__cu_is(ctx) || !dst || !src || !dst->data || !src->data)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "copy: not a CUDA context, or NULL tensor");
    if (dst->dtype != src->dtype || dvren_tensor_numel(dst) != dvren_tensor_numel(src) ||
        !dvren_tensor_is_contiguous(dst) || !dvren_tensor_is_contiguous(src))
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL,
                               "copy: tensors differ in dtype or element count, or are not contiguous");
    n = (size_t)dvren_tensor_numel(src) * dvren_dtype_size(src->dtype);
    return dvren__cu_mem_copy(ctx, dst->data, dst->memory, src->data, src->memory, n);
}

/* ======================================================================== */
/* >>cuda-jit                                                               */
/* ======================================================================== */

/* The texts NVRTC compiles: kernels/ as C string arrays, generated into the
 * >>generated section at the end of this file (./build.sh gen). */
enum {
    DVREN__SRC_DEVICE,
    DVREN__SRC_MARCH,
    DVREN__SRC_KERNEL,
    DVREN__SRC_TRAIN,
    DVREN__SRC_SPLAT,
    DVREN__SRC_SPLAT_KERNEL,
    DVREN__SRC_SCAN,
    DVREN__SRC_MC,
    DVREN__SRC_MC_KERNEL
};
static const char* const* dvren__cuda_src(int which);
#define dvren__cuda_src_device dvren__cuda_src(DVREN__SRC_DEVICE)
#define dvren__cuda_src_march dvren__cuda_src(DVREN__SRC_MARCH)
#define dvren__cuda_src_kernel dvren__cuda_src(DVREN__SRC_KERNEL)
#define dvren__cuda_src_train dvren__cuda_src(DVREN__SRC_TRAIN)
#define dvren__cuda_src_splat dvren__cuda_src(DVREN__SRC_SPLAT)
#define dvren__cuda_src_splat_kernel dvren__cuda_src(DVREN__SRC_SPLAT_KERNEL)
#define dvren__cuda_src_scan dvren__cuda_src(DVREN__SRC_SCAN)
#define dvren__cuda_src_mc dvren__cuda_src(DVREN__SRC_MC)
#define dvren__cuda_src_mc_kernel dvren__cuda_src(DVREN__SRC_MC_KERNEL)

#define DVREN__CUDA_MAX_OPTIONS 16

/* Composed sources grow in dvren.h's one byte buffer. */
typedef dvren__buf dvren__text;
#define dvren__text_add dvren__buf_add
#define dvren__text_free dvren__buf_free
static void dvren__text_str(dvren__text* t, const char* s) { dvren__buf_add(t, s, strlen(s)); }
static void dvren__text_lines(dvren__text* t, const char* const* lines)
{
    for (; *lines; ++lines) dvren__text_str(t, *lines);
}
static void dvren__text_fmt(dvren__text* t, const char* fmt, ...) DVREN_PRINTF(2, 3);
static void dvren__text_fmt(dvren__text* t, const char* fmt, ...)
{
    char buf[1024];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) dvren__text_add(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* 128-bit key: two FNV-1a 64 hashes with different offset bases. */
static void dvren__hash(const void* data, size_t n, uint64_t* h)
{
    const unsigned char* p = (const unsigned char*)data;
    size_t i;
    for (i = 0; i < n; ++i) {
        h[0] = (h[0] ^ p[i]) * 0x100000001B3ull;
        h[1] = (h[1] ^ p[i]) * 0x100000001B3ull;
        h[1] ^= h[1] >> 29;
    }
}

/* Composes the fused kernel of a scene: kernels/, the plugins' device
 * sources with their JIT constants, the binding macros, the entry point.
 * #line directives keep NVRTC's messages in the plugins' own file names. */
static dvren_status dvren__cu_compose(dvren_scene* sc, dvren__text* t, uint32_t block_sizes[3], uint32_t bx,
                                      uint32_t by)
{
    static const char* const kinds[3] = {"field", "shader", "sampler"};
    dvren_context* ctx = sc->ctx;
    const dvren_instance_info* fi = &sc->stage[0]->info;
    const dvren_instance_info* si = &sc->stage[1]->info;
    dvren_status status = DVREN_OK;
    int k;
    for (k = 0; k < 3; ++k) block_sizes[k] = (sc->stage[k]->info.block_size + 15u) & ~15u;
    dvren__text_fmt(t, "// dvren fused kernel: field %s, shader %s, sampler %s\n", sc->stage[0]->rec->desc->name,
                    sc->stage[1]->rec->desc->name, sc->stage[2]->rec->desc->name);
    dvren__text_str(t, "#define DVREN_JIT 1\n#line 1 \"dvren_device.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_device);
    {
        int lazy = (int)dvren__lazy(sc, 32);
        dvren__text_fmt(t,
                        "#line 1 \"dvren_jit\"\n#define DVREN_JIT_NEEDS_GRADIENT %uu\n#define DVREN_JIT_GRADIENT_CHANNEL %uu\n"
                        "#define DVREN_JIT_LAZY %d\n#define DVREN_JIT_DENSITY_CHANNEL %uu\n",
                        (unsigned)si->needs_gradient, (unsigned)si->gradient_channel, lazy,
                        (unsigned)si->density_channel);
    }
    for (k = 0; k < 3; ++k) {
        const dvren__plugin_rec* r = sc->stage[k]->rec;
        char* src = NULL;
        size_t len = 0;
        DVREN__CHECK(dvren__plugin_source(ctx, ctx->libs[r->library].path, r->desc, &src, &len));
        dvren__text_fmt(t, "#line 1 \"%s %s: jit_defines\"\n", kinds[k], r->desc->name);
        if (sc->stage[k]->info.jit_defines) {
            dvren__text_str(t, sc->stage[k]->info.jit_defines);
            dvren__text_str(t, "\n");
        }
        dvren__text_fmt(t, "#line 1 \"%s\"\n", r->desc->device_source_file ? r->desc->device_source_file : r->desc->name);
        dvren__text_add(t, src, len);
        dvren__text_str(t, "\n");
        dvren__free(ctx, src, len + 1);
    }
    (void)fi;
    dvren__text_fmt(t,
                    "#line 1 \"dvren_binding\"\n"
                    "typedef struct alignas(16) dvren__blocks {\n"
                    "    unsigned char field[%u];\n    unsigned char shader[%u];\n    unsigned char sampler[%u];\n"
                    "} dvren__blocks;\n"
                    "#define DVREN_STAGES_PARAM const dvren__blocks* S_,\n#define DVREN_STAGES_ARG S_,\n",
                    (unsigned)block_sizes[0], (unsigned)block_sizes[1], (unsigned)block_sizes[2]);
    dvren__text_fmt(t, "#define DVREN_FIELD_EVAL(P, p, out) %s(S_->field, p, out)\n", sc->stage[0]->rec->field.eval_name);
    if (DVREN_HAS_FIELD(&sc->stage[0]->rec->field, dvren_field_iface, eval_channel) &&
        sc->stage[0]->rec->field.eval_channel_name)
        dvren__text_fmt(t, "#define DVREN_FIELD_EVAL_CHANNEL(P, p, c) %s(S_->field, p, c)\n",
                        sc->stage[0]->rec->field.eval_channel_name);
    else
        dvren__text_str(t, "#define DVREN_FIELD_EVAL_CHANNEL(P, p, c) 0.0f\n");
    /* ABI 1.2 shaders take the segment length; older ones ignore it */
    if (sc->stage[1]->rec->shader.density_dt_name)
        dvren__text_fmt(t, "#define DVREN_SHADER_DENSITY(P, ch, dt) %s(S_->shader, ch, dt)\n",
                        sc->stage[1]->rec->shader.density_dt_name);
    else
        dvren__text_fmt(t, "#define DVREN_SHADER_DENSITY(P, ch, dt) %s(S_->shader, ch)\n",
                        sc->stage[1]->rec->shader.density_name);
    dvren__text_fmt(t, "#define DVREN_SHADER_COLOR(P, ch, g, d, rgb) %s(S_->shader, ch, g, d, rgb)\n",
                    sc->stage[1]->rec->shader.color_name);
    dvren__text_fmt(t, "#define DVREN_SAMPLER_BEGIN(P, b, o, d, t0, t1, rng, st) %s(S_->sampler, b, o, d, t0, t1, rng, st)\n",
                    sc->stage[2]->rec->sampler.begin_name);
    dvren__text_fmt(t, "#define DVREN_SAMPLER_NEXT(P, st, t, dt) %s(S_->sampler, st, t, dt)\n",
                    sc->stage[2]->rec->sampler.next_name);
    /* ABI 1.3 surfaces: a sampler without them gives none (the branch folds away); with
     * them, the kernel is compiled for 768 threads per SM (kernels/dvren_cuda_kernel.h) */
    if (sc->stage[2]->rec->sampler.surface_name)
        dvren__text_fmt(t,
                        "#define DVREN_SAMPLER_SURFACE(P, b, st, o, d, h, w) %s(S_->sampler, b, st, o, d, h, w)\n"
                        "#define DVREN_JIT_MIN_THREADS_PER_SM 768\n",
                        sc->stage[2]->rec->sampler.surface_name);
    else
        dvren__text_str(t, "#define DVREN_SAMPLER_SURFACE(P, b, st, o, d, h, w) 0\n");
    if (sc->stage[1]->rec->shader.surface_color_name)
        dvren__text_fmt(t, "#define DVREN_SHADER_SURFACE_COLOR(P, ch, h, d, rgb) %s(S_->shader, ch, h, d, rgb)\n",
                        sc->stage[1]->rec->shader.surface_color_name);
    else
        dvren__text_fmt(t,
                        "#define DVREN_SHADER_SURFACE_COLOR(P, ch, h, d, rgb) %s(S_->shader, ch, dvren_scale3((h)->normal, -1.0f), d, rgb)\n",
                        sc->stage[1]->rec->shader.color_name);
    if (sc->flags & DVREN_SCENE_DIFFERENTIABLE) {
        /* dvren__params_init checked that these exist */
        dvren__text_fmt(t, "#define DVREN_MARCH_BACKWARD 1\n#define DVREN_FIELD_EVAL_BWD(P, p, g) %s(S_->field, p, g)\n",
                        sc->stage[0]->rec->field.eval_bwd_name);
        if (sc->stage[1]->rec->shader.density_dt_bwd_name)
            dvren__text_fmt(t, "#define DVREN_SHADER_DENSITY_BWD(P, ch, dt, g, dch) %s(S_->shader, ch, dt, g, dch)\n",
                            sc->stage[1]->rec->shader.density_dt_bwd_name);
        else
            dvren__text_fmt(t, "#define DVREN_SHADER_DENSITY_BWD(P, ch, dt, g, dch) %s(S_->shader, ch, g, dch)\n",
                            sc->stage[1]->rec->shader.density_bwd_name);
        dvren__text_fmt(t,
                        "#define DVREN_SHADER_COLOR_BWD(P, ch, gr, d, g, dch, dgr) %s(S_->shader, ch, gr, d, g, dch, dgr)\n",
                        sc->stage[1]->rec->shader.color_bwd_name);
        if (sc->stage[1]->rec->shader.surface_color_bwd_name)
            dvren__text_fmt(t,
                            "#define DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, h, d, g, dch) %s(S_->shader, ch, h, d, g, dch)\n",
                            sc->stage[1]->rec->shader.surface_color_bwd_name);
        else
            dvren__text_fmt(t,
                            "#define DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, h, d, g, dch) do { dvren_vec3 dgr_; "
                            "%s(S_->shader, ch, dvren_scale3((h)->normal, -1.0f), d, g, dch, &dgr_); } while (0)\n",
                            sc->stage[1]->rec->shader.color_bwd_name);
    }
    dvren__text_str(t, "#line 1 \"dvren_march.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_march);
    dvren__text_fmt(t, "#line 1 \"dvren_binding\"\n#define DVREN_CUDA_BLOCK_X %u\n#define DVREN_CUDA_BLOCK_Y %u\n",
                    (unsigned)bx, (unsigned)by);
    /* the host and NVRTC must agree on the layout of what crosses the launch */
    dvren__text_fmt(t,
                    "static_assert(sizeof(dvren_march_args) == %u, \"dvren_march_args differs between host and NVRTC\");\n"
                    "static_assert(sizeof(dvren_camera) == %u && sizeof(dvren_fb_view) == %u && sizeof(dvren_march_budget) == %u,"
                    " \"dvren_march_args layout differs between host and NVRTC\");\n",
                    (unsigned)sizeof(dvren_march_args), (unsigned)sizeof(dvren_camera), (unsigned)sizeof(dvren_fb_view),
                    (unsigned)sizeof(dvren_march_budget));
    dvren__text_str(t, "#line 1 \"dvren_cuda_kernel.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_kernel);
    if (t->failed) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory composing the kernel");
cleanup:
    return status;
}

/* Target for a device of compute capability cc: itself when NVRTC knows it
 * (a cubin), else the newest older architecture NVRTC knows (PTX, which the
 * driver compiles for the device). 0 when none. */
static uint32_t dvren__cu_pick_target(uint32_t cc, int* ptx)
{
    int i;
    uint32_t best = 0;
    for (i = 0; i < dvren__cu.narchs; ++i) {
        uint32_t a = (uint32_t)dvren__cu.archs[i];
        if (a == cc) {
            *ptx = 0;
            return a;
        }
        if (a < cc && a > best) best = a;
    }
    *ptx = 1;
    return best;
}

/* Compiles text with NVRTC. On success *bin (host-allocated) holds the
 * cubin or PTX (NUL-terminated). The log goes to log when given. */
static dvren_status dvren__cu_nvrtc(dvren_context* ctx, dvren_scene* sc, const char* text, uint32_t target, int ptx,
                                    const char* extra, char** bin, size_t* bin_size, char* log, size_t log_cap,
                                    double* ms)
{
    char arch_opt[64], extra_buf[512];
    const char* opts[DVREN__CUDA_MAX_OPTIONS];
    int nopts = 5;
    dvren__nvrtc_program prog = NULL;
    dvren__nvrtc_result r;
    size_t logn = 0, n = 0;
    char* lg = NULL;
    double t0 = dvren__now_ms();
    dvren_status status = DVREN_OK;
    *bin = NULL;
    *bin_size = 0;
    if (log && log_cap) log[0] = 0;
    snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s_%u", ptx ? "compute" : "sm", (unsigned)target);
    opts[0] = arch_opt;
    opts[1] = "-std=c++17";
    opts[2] = "-lineinfo";
    opts[3] = "-DDVREN_JIT=1";
    /* no contraction of a*b+c into FMA: the GPU then rounds like the CPU
     * build (x86-64 has no FMA without -mfma), so CPU and GPU agree to float
     * rounding even where a scene amplifies it (steep transfer functions) */
    opts[4] = "--fmad=false";
    if (extra && *extra) {
        /* split the tuning options at spaces */
        char* p = extra_buf;
        snprintf(extra_buf, sizeof extra_buf, "%s", extra);
        while (*p && nopts < DVREN__CUDA_MAX_OPTIONS) {
            while (*p == ' ') *p++ = 0;
            if (!*p) break;
            opts[nopts++] = p;
            while (*p && *p != ' ') ++p;
        }
    }
    r = dvren__cu.nvrtcCreateProgram(&prog, text, "dvren_kernel.cu", 0, NULL, NULL);
    if (r != 0)
        return dvren_set_error(ctx, DVREN_ERROR_COMPILE, "cuda", NULL, "nvrtcCreateProgram: %s",
                               dvren__cu.nvrtcGetErrorString(r));
    r = dvren__cu.nvrtcCompileProgram(prog, nopts, opts);
    if (ms) *ms = dvren__now_ms() - t0;
    dvren__cu.nvrtcGetProgramLogSize(prog, &logn);
    if (logn > 1) {
        lg = (char*)dvren__alloc(ctx, logn + 1);
        if (lg) {
            dvren__cu.nvrtcGetProgramLog(prog, lg);
            lg[logn] = 0;
            if (log && log_cap) snprintf(log, log_cap, "%s", lg);
        }
    }
    if (r != 0) {
        /* name the plugin whose file holds the first error */
        const char* where = lg ? strstr(lg, "error") : NULL;
        const char* plugin = "dvren";
        const char* file_end = NULL;
        char loc[256] = "";
        int k;
        if (where) {
            const char* ls = where;
            while (ls > lg && ls[-1] != '\n') --ls;
            file_end = strchr(ls, '(');
            if (file_end && file_end < where) {
                snprintf(loc, sizeof loc, "%.*s", (int)(strchr(file_end, ')') ? strchr(file_end, ')') - ls + 1 : 0), ls);
                for (k = 0; sc && k < 3; ++k) {
                    const char* f = sc->stage[k]->rec->desc->device_source_file;
                    if (f && !strncmp(ls, f, (size_t)(file_end - ls)) && strlen(f) == (size_t)(file_end - ls))
                        plugin = sc->stage[k]->rec->desc->name;
                }
            }
        }
        if (lg) dvren_log(ctx, DVREN_LOG_ERROR, DVREN_TAG_ERROR, "NVRTC log:\n%s", lg);
        dvren_set_error(ctx, DVREN_ERROR_COMPILE, plugin, "the device source must compile as CUDA C++ (docs/plugins.md)",
                        "device code does not compile for %s_%u at %s: %.*s", ptx ? "compute" : "sm", (unsigned)target,
                        loc[0] ? loc : "?", where ? (int)(strchr(where, '\n') ? strchr(where, '\n') - where : 300) : 0,
                        where ? where : "");
        status = DVREN_ERROR_COMPILE;
        goto cleanup;
    }
    if (lg && lg[0]) dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_STEP, "NVRTC warnings:\n%s", lg);
    r = ptx ? dvren__cu.nvrtcGetPTXSize(prog, &n) : dvren__cu.nvrtcGetCUBINSize(prog, &n);
    if (r != 0 || n == 0) DVREN__FAIL(ctx, DVREN_ERROR_COMPILE, "cuda", NULL, "NVRTC produced no binary");
    *bin = (char*)dvren__alloc(ctx, n + 1);
    if (!*bin) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    r = ptx ? dvren__cu.nvrtcGetPTX(prog, *bin) : dvren__cu.nvrtcGetCUBIN(prog, *bin);
    if (r != 0) {
        dvren__free(ctx, *bin, n + 1);
        *bin = NULL;
        DVREN__FAIL(ctx, DVREN_ERROR_COMPILE, "cuda", NULL, "NVRTC: %s", dvren__cu.nvrtcGetErrorString(r));
    }
    (*bin)[n] = 0;
    *bin_size = n;
cleanup:
    if (lg) dvren__free(ctx, lg, logn + 1);
    dvren__cu.nvrtcDestroyProgram(&prog);
    return status;
}

static dvren_status dvren__cu_train_compose(dvren__text* t);

/* $DVREN_CUDA_DUMP set to a folder: the composed kernel source is written
 * there as `name` (for reading it, or compiling it with nvcc -Xptxas -v). */
static void dvren__cu_dump(dvren_context* ctx, const dvren__text* t, const char* name)
{
    const char* dump = getenv("DVREN_CUDA_DUMP");
    if (dump && *dump) {
        char dp[DVREN__PATH_CAP];
        snprintf(dp, sizeof dp, "%s/%s", dump, name);
        if (dvren_file_write_atomic(ctx, dp, t->s, t->n) == DVREN_OK)
            dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "kernel source written to %s", dp);
    }
}

DVREN_CUDA_API dvren_status dvren_cuda_compile_check(dvren_scene* sc, uint32_t arch, char* log, size_t log_cap)
{
    dvren__text t;
    uint32_t bs[3];
    char* bin = NULL;
    size_t n = 0;
    int i, known = 0;
    dvren_status status;
    if (!sc) return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "NULL scene");
    if (log && log_cap) log[0] = 0;
    status = dvren__cu_need_nvrtc(sc->ctx);
    if (status != DVREN_OK) return status;
    for (i = 0; i < dvren__cu.narchs; ++i) known |= (uint32_t)dvren__cu.archs[i] == arch;
    if (!known)
        return dvren_set_error(sc->ctx, DVREN_ERROR_UNSUPPORTED, "cuda", NULL, "NVRTC %d.%d cannot compile for sm_%u",
                               dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor, (unsigned)arch);
    memset(&t, 0, sizeof t);
    t.ctx = sc->ctx;
    status = dvren__cu_compose(sc, &t, bs, 8, 16);
    if (status == DVREN_OK) {
        char name[64];
        snprintf(name, sizeof name, "dvren_check_sm%u.cu", (unsigned)arch);
        dvren__cu_dump(sc->ctx, &t, name);
        status = dvren__cu_nvrtc(sc->ctx, sc, t.s, arch, 0, NULL, &bin, &n, log, log_cap, NULL);
        if (status == DVREN_OK && getenv("DVREN_CUDA_DUMP") && *getenv("DVREN_CUDA_DUMP")) {
            /* and the cubin (cuobjdump -res-usage: registers, local memory) */
            dvren__text c;
            memset(&c, 0, sizeof c);
            c.s = bin;
            c.n = n;
            snprintf(name, sizeof name, "dvren_check_sm%u.cubin", (unsigned)arch);
            dvren__cu_dump(sc->ctx, &c, name);
        }
    }
    if (bin) dvren__free(sc->ctx, bin, n + 1);
    bin = NULL;
    dvren__text_free(&t);
    if (status == DVREN_OK && (sc->flags & DVREN_SCENE_DIFFERENTIABLE)) {
        /* and the training module a fit would use */
        memset(&t, 0, sizeof t);
        t.ctx = sc->ctx;
        status = dvren__cu_train_compose(&t);
        if (status == DVREN_OK) status = dvren__cu_nvrtc(sc->ctx, NULL, t.s, arch, 0, NULL, &bin, &n, log, log_cap, NULL);
        if (bin) dvren__free(sc->ctx, bin, n + 1);
        dvren__text_free(&t);
    }
    return status;
}

/* >>cuda-cache: the disk cache ------------------------------------------------
 * One file per kernel, <dir>/<key>.<cubin|ptx>, holding a 40-byte header
 * (magic, key, size) and the binary. Written to a temporary name and
 * renamed into place, so two processes that compile the same kernel at once
 * each write a complete file and the last rename wins; a reader checks the
 * header and ignores (and later replaces) anything else. */

static int dvren__cu_mkdirs(const char* path)
{
    char buf[DVREN__PATH_CAP];
    size_t i, n = strlen(path);
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; ++i) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
#if defined(_WIN32)
            {
                wchar_t w[DVREN__PATH_CAP];
                if (MultiByteToWideChar(CP_UTF8, 0, buf, -1, w, DVREN__PATH_CAP)) CreateDirectoryW(w, NULL);
            }
#else
            mkdir(buf, 0755);
#endif
            buf[i] = c;
        }
    }
    {
#if defined(_WIN32)
        wchar_t w[DVREN__PATH_CAP];
        DWORD a;
        if (!MultiByteToWideChar(CP_UTF8, 0, path, -1, w, DVREN__PATH_CAP)) return 0;
        a = GetFileAttributesW(w);
        return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
#else
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
#endif
    }
}

static void dvren__cu_cache_path(const dvren__cu_state* S, const uint64_t* key, int ptx, char* out, size_t cap)
{
    snprintf(out, cap, "%s/%016llx%016llx.%s", S->info.cache_dir, (unsigned long long)key[0],
             (unsigned long long)key[1], ptx ? "ptx" : "cubin");
}

static char* dvren__cu_cache_read(dvren_context* ctx, const char* path, const uint64_t* key, size_t* size)
{
    FILE* f = fopen(path, "rb");
    unsigned char hdr[40];
    uint64_t k0, k1, n;
    char* bin;
    if (!f) return NULL;
    if (fread(hdr, 1, 40, f) != 40 || memcmp(hdr, "DVRENK01", 8) != 0) {
        fclose(f);
        return NULL;
    }
    memcpy(&k0, hdr + 8, 8);
    memcpy(&k1, hdr + 16, 8);
    memcpy(&n, hdr + 24, 8);
    if (k0 != key[0] || k1 != key[1] || n == 0 || n > ((uint64_t)1 << 30)) {
        fclose(f);
        return NULL;
    }
    bin = (char*)dvren__alloc(ctx, (size_t)n + 1);
    if (!bin || fread(bin, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        if (bin) dvren__free(ctx, bin, (size_t)n + 1);
        return NULL;
    }
    fclose(f);
    bin[n] = 0;
    *size = (size_t)n;
    return bin;
}

static void dvren__cu_cache_write(dvren_context* ctx, const char* path, const uint64_t* key, const char* bin, size_t n)
{
    unsigned char* buf = (unsigned char*)dvren__alloc(ctx, n + 40);
    uint64_t nn = n;
    char saved[DVREN__ERROR_CAP];
    if (!buf) return;
    memcpy(buf, "DVRENK01", 8);
    memcpy(buf + 8, &key[0], 8);
    memcpy(buf + 16, &key[1], 8);
    memcpy(buf + 24, &nn, 8);
    memset(buf + 32, 0, 8);
    memcpy(buf + 40, bin, n);
    /* a cache that cannot be written is not an error: keep the last message */
    memcpy(saved, ctx->last_error, sizeof saved);
    if (dvren_file_write_atomic(ctx, path, buf, n + 40) != DVREN_OK)
        dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_STEP, "kernel cache not written: %s", ctx->last_error);
    memcpy(ctx->last_error, saved, sizeof saved);
    dvren__free(ctx, buf, n + 40);
}

/* The cache key of a translation unit: its text and everything that
 * changes the binary (target, NVRTC version, options, dvren version). */
static void dvren__cu_key(const dvren__cu_state* S, const dvren__text* t, uint64_t key[2])
{
    char tag[768];
    key[0] = 0xcbf29ce484222325ull;
    key[1] = 0x84222325cbf29ce4ull;
    snprintf(tag, sizeof tag, "|%s_%u|nvrtc %d.%d|-std=c++17 -lineinfo --fmad=false %s|dvren %d.%d",
             S->target_ptx ? "compute" : "sm", (unsigned)S->target, dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor,
             S->extra_options, DVREN_VERSION_MAJOR, DVREN_VERSION_MINOR);
    dvren__hash(t->s, t->n, key);
    dvren__hash(tag, strlen(tag), key);
}

/* Loads the module of text t (key from dvren__cu_key): from the disk cache,
 * else compiled by NVRTC (and cached). sc names plugins in compile errors
 * (may be NULL). */
static dvren_status dvren__cu_module_build(dvren_context* ctx, dvren_scene* sc, const dvren__text* t, const uint64_t* key,
                                           dvren__cu_module* module, dvren_cuda_kernel_stats* stats)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    char path[DVREN__PATH_CAP];
    char* bin = NULL;
    size_t bin_size = 0;
    double t0 = dvren__now_ms(), compile_ms = 0.0;
    dvren_status status = DVREN_OK;
    int hit = 0;
    {
        char name[64];
        snprintf(name, sizeof name, "dvren_%016llx.cu", (unsigned long long)key[0]);
        dvren__cu_dump(ctx, t, name);
    }
    if (S->info.cache_dir[0]) {
        dvren__cu_cache_path(S, key, S->target_ptx, path, sizeof path);
        bin = dvren__cu_cache_read(ctx, path, key, &bin_size);
        hit = bin != NULL;
    }
    if (!bin) {
        DVREN__CHECK(dvren__cu_nvrtc(ctx, sc, t->s, S->target, S->target_ptx, S->extra_options, &bin, &bin_size, NULL, 0,
                                     &compile_ms));
        if (S->info.cache_dir[0]) dvren__cu_cache_write(ctx, path, key, bin, bin_size);
    }
    status = dvren__cu_check(ctx, dvren__cu.cuModuleLoadData(module, bin), "cuModuleLoadData");
    if (status != DVREN_OK && hit) {
        /* a stale or damaged cache entry: compile afresh */
        dvren__free(ctx, bin, bin_size + 1);
        bin = NULL;
        hit = 0;
        DVREN__CHECK(dvren__cu_nvrtc(ctx, sc, t->s, S->target, S->target_ptx, S->extra_options, &bin, &bin_size, NULL, 0,
                                     &compile_ms));
        dvren__cu_cache_write(ctx, path, key, bin, bin_size);
        status = dvren__cu_check(ctx, dvren__cu.cuModuleLoadData(module, bin), "cuModuleLoadData");
    }
    if (status != DVREN_OK) goto cleanup;
    memset(stats, 0, sizeof *stats);
    stats->cache_hit = hit;
    stats->compile_ms = compile_ms;
    stats->load_ms = dvren__now_ms() - t0 - compile_ms;
    stats->binary_bytes = bin_size;
    snprintf(stats->target, sizeof stats->target, "%s_%u", S->target_ptx ? "compute" : "sm", (unsigned)S->target);
cleanup:
    if (bin) dvren__free(ctx, bin, bin_size + 1);
    return status;
}

/* Finds or builds the scene's kernel: the context's memory, the disk cache,
 * NVRTC, in that order. A differentiable scene's module also holds
 * dvren_backward. */
static dvren_status dvren__cu_get_kernel(dvren_scene* sc, uint32_t block_sizes[3], dvren__cu_kernel** out)
{
    dvren_context* ctx = sc->ctx;
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__text t;
    uint64_t key[2];
    dvren__cu_kernel* K = NULL;
    dvren_status status = DVREN_OK;
    uint32_t i;
    int v;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    DVREN__CHECK(dvren__cu_compose(sc, &t, block_sizes, S->block_x, S->block_y));
    dvren__cu_key(S, &t, key);
    for (i = 0; i < S->nkernels; ++i)
        if (S->kernels[i].key[0] == key[0] && S->kernels[i].key[1] == key[1]) {
            *out = &S->kernels[i];
            goto cleanup;
        }
    if (!dvren__grow(ctx, (void**)&S->kernels, &S->kernel_cap, S->nkernels + 1, sizeof(dvren__cu_kernel)))
        DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    K = &S->kernels[S->nkernels];
    memset(K, 0, sizeof *K);
    K->key[0] = key[0];
    K->key[1] = key[1];
    DVREN__CHECK(dvren__cu_module_build(ctx, sc, &t, key, &K->module, &K->stats));
    status = dvren__cu_check(ctx, dvren__cu.cuModuleGetFunction(&K->function, K->module, "dvren_forward"),
                             "cuModuleGetFunction");
    if (status == DVREN_OK && (sc->flags & DVREN_SCENE_DIFFERENTIABLE))
        status = dvren__cu_check(ctx, dvren__cu.cuModuleGetFunction(&K->backward, K->module, "dvren_backward"),
                                 "cuModuleGetFunction(dvren_backward)");
    if (status == DVREN_OK)
        status = dvren__cu_check(ctx, dvren__cu.cuModuleGetFunction(&K->rays, K->module, "dvren_forward_rays"),
                                 "cuModuleGetFunction(dvren_forward_rays)");
    if (status == DVREN_OK)
        status = dvren__cu_check(ctx, dvren__cu.cuModuleGetFunction(&K->gather, K->module, "dvren_gather_rays"),
                                 "cuModuleGetFunction(dvren_gather_rays)");
    if (status != DVREN_OK) {
        dvren__cu.cuModuleUnload(K->module);
        goto cleanup;
    }
    S->nkernels++;
    v = 0;
    dvren__cu.cuFuncGetAttribute(&v, DVREN__CU_FUNC_NUM_REGS, K->function);
    K->stats.registers = v;
    v = 0;
    dvren__cu.cuFuncGetAttribute(&v, DVREN__CU_FUNC_LOCAL_SIZE_BYTES, K->function);
    K->stats.local_bytes = v;
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER,
              "kernel %s+%s+%s%s for %s: %s, compile %.1f ms, load %.1f ms; %d registers, %d bytes local memory",
              sc->stage[0]->rec->desc->name, sc->stage[1]->rec->desc->name, sc->stage[2]->rec->desc->name,
              K->backward ? " (forward and backward)" : "", K->stats.target,
              K->stats.cache_hit ? "disk cache hit" : "compiled", K->stats.compile_ms, K->stats.load_ms,
              K->stats.registers, K->stats.local_bytes);
    if (K->backward) {
        int r = 0, l = 0;
        dvren__cu.cuFuncGetAttribute(&r, DVREN__CU_FUNC_NUM_REGS, K->backward);
        dvren__cu.cuFuncGetAttribute(&l, DVREN__CU_FUNC_LOCAL_SIZE_BYTES, K->backward);
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER, "backward kernel: %d registers, %d bytes local memory", r, l);
    }
    *out = K;
cleanup:
    dvren__text_free(&t);
    return status;
}

/* ======================================================================== */
/* >>cuda-backend                                                           */
/* ======================================================================== */
/* The hooks of dvren_backend (dvren.h, >>status): memory in the caching
 * pool, launches of the scene's fused kernel and of the training module.
 * Everything else (arguments, gradient bindings, cotangent scaling,
 * finalisation, sums) is dvren.h's backend-neutral code. */

typedef struct dvren__cu_scene {
    uint64_t key[2];                  /* of its kernel in the context's list */
    unsigned char* blocks;            /* the three blocks of a launch, each 16-byte aligned (kernel parameter) */
    uint32_t blocks_size;
    uint32_t block_sizes[3];
} dvren__cu_scene;

static int dvren__cu_ieq(const char* a, const char* b, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}
static int dvren__cu_contains(const char* hay, const char* needle)
{
    size_t n = strlen(needle), h = strlen(hay), i;
    for (i = 0; i + n <= h; ++i)
        if (dvren__cu_ieq(hay + i, needle, n)) return 1;
    return n == 0;
}

static void dvren__cu_cache_dir(const dvren_context_desc* d, char* out, size_t cap)
{
    const char* env = getenv("DVREN_CACHE_DIR");
    const char* xdg = getenv("XDG_CACHE_HOME");
#if defined(_WIN32)
    const char* home = getenv("LOCALAPPDATA");
#else
    const char* home = getenv("HOME");
#endif
    out[0] = 0;
    if (d->kernel_cache_dir) snprintf(out, cap, "%s", d->kernel_cache_dir);
    else if (env && *env) snprintf(out, cap, "%s", env);
    else if (xdg && *xdg) snprintf(out, cap, "%s/dvren", xdg);
    else if (home && *home) snprintf(out, cap, "%s/.cache/dvren", home);
}

static void dvren__cu_shutdown(dvren_context* ctx);

static dvren_status dvren__cu_init(dvren_context* ctx, const dvren_context_desc* d)
{
    dvren__cu_state* S = NULL;
    dvren_status status = DVREN_OK;
    int count = 0, i, v;
    char name[256];
    DVREN__CHECK(dvren__cu_need_driver(ctx));
    DVREN__CHECK(dvren__cu_need_nvrtc(ctx));
    S = (dvren__cu_state*)dvren__calloc(ctx, sizeof *S);
    if (!S) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    ctx->be_state = S;
    S->device = -1;
    DVREN__CU(ctx, cuDeviceGetCount(&count));
    if (count < 1)
        DVREN__FAIL(ctx, DVREN_ERROR_NO_DEVICE, "cuda", "this machine has no usable NVIDIA GPU; use the CPU device",
                    "the driver reports no CUDA device");
    for (i = (int)d->device_index; i < count; ++i) {
        dvren__cu_device dev;
        int maj = 0, min = 0;
        DVREN__CU(ctx, cuDeviceGet(&dev, i));
        DVREN__CU(ctx, cuDeviceGetName(name, (int)sizeof name, dev));
        DVREN__CU(ctx, cuDeviceGetAttribute(&maj, DVREN__CU_ATTR_CC_MAJOR, dev));
        DVREN__CU(ctx, cuDeviceGetAttribute(&min, DVREN__CU_ATTR_CC_MINOR, dev));
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_DEVICE, "GPU %d: %s, compute capability %d.%d", i, name, maj, min);
        if (d->device_name && *d->device_name && !dvren__cu_contains(name, d->device_name)) continue;
        if ((uint32_t)(maj * 10 + min) < d->min_compute_capability) continue;
        S->device = dev;
        S->arch = (uint32_t)(maj * 10 + min);
        snprintf(S->info.device_name, sizeof S->info.device_name, "%s", name);
        break;
    }
    if (S->device < 0)
        DVREN__FAIL(ctx, DVREN_ERROR_NO_DEVICE, "cuda", "relax device_index, device_name or min_compute_capability",
                    "none of the %d CUDA device(s) matches: index >= %u%s%s%s, compute capability >= %u.%u", count,
                    (unsigned)d->device_index, d->device_name ? ", name containing '" : "",
                    d->device_name ? d->device_name : "", d->device_name ? "'" : "",
                    (unsigned)(d->min_compute_capability / 10), (unsigned)(d->min_compute_capability % 10));
    DVREN__CU(ctx, cuDevicePrimaryCtxRetain(&S->cuctx, S->device));
    DVREN__CU(ctx, cuCtxSetCurrent(S->cuctx));
    DVREN__CU(ctx, cuStreamCreate(&S->own_stream, DVREN__CU_STREAM_NON_BLOCKING));
    S->stream = S->own_stream;
    S->info.context = (void*)S->cuctx;
    S->info.device_ordinal = (int)S->device;
    DVREN__CU(ctx, cuEventCreate(&S->timer[0], 0));
    DVREN__CU(ctx, cuEventCreate(&S->timer[1], 0));
    DVREN__CU(ctx, cuEventCreate(&S->handoff, DVREN__CU_EVENT_DISABLE_TIMING));
    S->info.compute_capability = S->arch;
    v = 0;
    dvren__cu.cuDeviceGetAttribute(&v, DVREN__CU_ATTR_MULTIPROCESSOR_COUNT, S->device);
    S->info.multiprocessors = (uint32_t)v;
    {
        size_t tot = 0;
        dvren__cu.cuDeviceTotalMem(&tot, S->device);
        S->info.total_memory = tot;
    }
    S->info.driver_version = dvren__cu.driver_version;
    S->info.nvrtc_major = dvren__cu.nvrtc_major;
    S->info.nvrtc_minor = dvren__cu.nvrtc_minor;
    S->target = dvren__cu_pick_target(S->arch, &S->target_ptx);
    if (!S->target)
        DVREN__FAIL(ctx, DVREN_ERROR_UNSUPPORTED, "cuda", "use an NVRTC that supports this GPU",
                    "NVRTC %d.%d knows no architecture at or below sm_%u", dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor,
                    (unsigned)S->arch);
    snprintf(S->info.target, sizeof S->info.target, "%s_%u", S->target_ptx ? "compute" : "sm", (unsigned)S->target);
    S->block_x = 8;
    S->block_y = 16;
    {
        const char* b = getenv("DVREN_CUDA_BLOCK");
        const char* o = getenv("DVREN_CUDA_NVRTC_OPTIONS");
        unsigned bx = 0, by = 0;
        if (b && *b) {
            if (sscanf(b, "%ux%u", &bx, &by) != 2 || bx < 1 || by < 1 || bx * by > 1024 || (bx * by) % 32)
                DVREN__FAIL(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", "e.g. DVREN_CUDA_BLOCK=8x16",
                            "DVREN_CUDA_BLOCK='%s' is not WxH with W*H a multiple of 32, at most 1024", b);
            S->block_x = bx;
            S->block_y = by;
            dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_ENV, "DVREN_CUDA_BLOCK=%ux%u", bx, by);
        }
        if (o && *o) {
            snprintf(S->extra_options, sizeof S->extra_options, "%s", o);
            dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_ENV, "DVREN_CUDA_NVRTC_OPTIONS=%s", o);
        }
    }
    dvren__cu_cache_dir(d, S->info.cache_dir, sizeof S->info.cache_dir);
    if (S->info.cache_dir[0] && !dvren__cu_mkdirs(S->info.cache_dir)) {
        dvren_log(ctx, DVREN_LOG_WARN, DVREN_TAG_ENV, "kernel cache folder '%s' cannot be created: no disk cache",
                  S->info.cache_dir);
        S->info.cache_dir[0] = 0;
    }
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_DEVICE,
              "using %s: compute capability %u.%u, %u SMs, %.1f GiB; CUDA driver %d.%d; NVRTC %d.%d, target %s",
              S->info.device_name, (unsigned)(S->arch / 10), (unsigned)(S->arch % 10), (unsigned)S->info.multiprocessors,
              (double)S->info.total_memory / (1024.0 * 1024.0 * 1024.0), dvren__cu.driver_version / 1000,
              (dvren__cu.driver_version % 1000) / 10, dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor, S->info.target);
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_ENV, "kernel cache: %s", S->info.cache_dir[0] ? S->info.cache_dir : "off");
    return DVREN_OK;
cleanup:
    if (ctx->be_state) dvren__cu_shutdown(ctx);
    return status;
}

static void dvren__cu_shutdown(dvren_context* ctx)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    uint32_t i;
    if (!S) return;
    if (S->cuctx) {
        dvren__cu.cuCtxSetCurrent(S->cuctx);
        dvren__cu.cuStreamSynchronize(S->stream);
    }
    for (i = 0; i < S->nkernels; ++i) dvren__cu.cuModuleUnload(S->kernels[i].module);
    for (i = 0; i < S->npmods; ++i) dvren__cu.cuModuleUnload(S->pmods[i].module);
    dvren__free(ctx, S->pmods, (size_t)S->pmod_cap * sizeof(dvren__cu_pmod));
    if (S->train) dvren__cu.cuModuleUnload(S->train);
    if (S->splat) dvren__cu.cuModuleUnload(S->splat);
    if (S->mc) dvren__cu.cuModuleUnload(S->mc);
    dvren__free(ctx, S->kernels, (size_t)S->kernel_cap * sizeof(dvren__cu_kernel));
    while (S->live) { /* objects not destroyed by the user: give their memory back */
        dvren__cu_block* b = S->live;
        S->live = b->next;
        dvren__cu.cuMemFree(b->ptr);
        dvren__free(ctx, b, sizeof *b);
    }
    while (S->free_list) {
        dvren__cu_block* b = S->free_list;
        S->free_list = b->next;
        dvren__cu.cuMemFree(b->ptr);
        dvren__free(ctx, b, sizeof *b);
    }
    if (S->timer[0]) dvren__cu.cuEventDestroy(S->timer[0]);
    if (S->timer[1]) dvren__cu.cuEventDestroy(S->timer[1]);
    if (S->handoff) dvren__cu.cuEventDestroy(S->handoff);
    if (S->own_stream) dvren__cu.cuStreamDestroy(S->own_stream);
    if (S->cuctx) dvren__cu.cuDevicePrimaryCtxRelease(S->device);
    dvren__free(ctx, S, sizeof *S);
    ctx->be_state = NULL;
}

static dvren_status dvren__cu_synchronize(dvren_context* ctx)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    return dvren__cu_check(ctx, dvren__cu.cuStreamSynchronize(S->stream), "cuStreamSynchronize");
}

/* ---- memory ---------------------------------------------------------------- */

static dvren_status dvren__cu_mem_alloc(dvren_context* ctx, size_t bytes, void** p)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu_ptr d = 0;
    dvren_status s;
    *p = NULL;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    s = dvren__cu_alloc(ctx, bytes, &d);
    if (s != DVREN_OK) return s;
    s = dvren__cu_check(ctx, dvren__cu.cuMemsetD8Async(d, 0, bytes ? bytes : 1, S->stream), "cuMemsetD8Async");
    if (s != DVREN_OK) {
        dvren__cu_release(ctx, d);
        return s;
    }
    *p = (void*)(uintptr_t)d;
    return DVREN_OK;
}

static void dvren__cu_mem_free(dvren_context* ctx, void* p, size_t bytes)
{
    (void)bytes;
    dvren__cu_release(ctx, (dvren__cu_ptr)(uintptr_t)p);
}

static dvren_status dvren__cu_mem_copy(dvren_context* ctx, void* dst, dvren_memory dm, const void* src, dvren_memory sm,
                                       size_t n)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren_status status = DVREN_OK;
    if (!n || dst == src) return DVREN_OK;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    if (dm == DVREN_MEMORY_DEVICE && sm == DVREN_MEMORY_HOST)
        DVREN__CU(ctx, cuMemcpyHtoDAsync((dvren__cu_ptr)(uintptr_t)dst, src, n, S->stream));
    else if (dm == DVREN_MEMORY_HOST && sm == DVREN_MEMORY_DEVICE)
        DVREN__CU(ctx, cuMemcpyDtoHAsync(dst, (dvren__cu_ptr)(uintptr_t)src, n, S->stream));
    else if (dm == DVREN_MEMORY_DEVICE && sm == DVREN_MEMORY_DEVICE)
        DVREN__CU(ctx, cuMemcpyDtoDAsync((dvren__cu_ptr)(uintptr_t)dst, (dvren__cu_ptr)(uintptr_t)src, n, S->stream));
    else
        memmove(dst, src, n);
    /* the caller's host memory is read or written when this returns */
    if (dm == DVREN_MEMORY_HOST || sm == DVREN_MEMORY_HOST) DVREN__CU(ctx, cuStreamSynchronize(S->stream));
cleanup:
    return status;
}

static dvren_status dvren__cu_mem_zero(dvren_context* ctx, void* p, size_t n)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    if (!n) return DVREN_OK;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    return dvren__cu_check(ctx, dvren__cu.cuMemsetD8Async((dvren__cu_ptr)(uintptr_t)p, 0, n, S->stream), "cuMemsetD8Async");
}

/* A stage buffer or framebuffer output: a device copy, uploaded once (the
 * optimizer and dvren_scene_param_write change it in place afterwards). */
static dvren_status dvren__cu_mem_place(dvren_context* ctx, void* host, size_t bytes, void** addr)
{
    dvren__cu_ptr d = 0;
    dvren_status s;
    *addr = NULL;
    dvren__cu.cuCtxSetCurrent(dvren__cu_st(ctx)->cuctx);
    s = dvren__cu_alloc(ctx, bytes, &d);
    if (s != DVREN_OK) return s;
    s = dvren__cu_mem_copy(ctx, (void*)(uintptr_t)d, DVREN_MEMORY_DEVICE, host, DVREN_MEMORY_HOST, bytes);
    if (s != DVREN_OK) {
        dvren__cu_release(ctx, d);
        return s;
    }
    *addr = (void*)(uintptr_t)d;
    return DVREN_OK;
}

static void dvren__cu_mem_unplace(dvren_context* ctx, void* host, void* addr, size_t bytes)
{
    (void)host;
    (void)bytes;
    dvren__cu_release(ctx, (dvren__cu_ptr)(uintptr_t)addr);
}

/* Device addresses of one call's inputs: host arrays are uploaded into the
 * context's scratch buffer (in stream order), device arrays pass through. */
static dvren_status dvren__cu_mem_stage(dvren_context* ctx, uint32_t n, const dvren_tensor* const* in, const void** out)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    size_t need = 0, off = 0, b;
    dvren_status status = DVREN_OK;
    uint32_t i;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    for (i = 0; i < n; ++i) {
        out[i] = NULL;
        if (in[i] && in[i]->memory == DVREN_MEMORY_HOST) need += (dvren__tensor_bytes(in[i]) + 255) & ~(size_t)255;
    }
    if (need > S->scratch_size) {
        if (S->scratch) {
            DVREN__CU(ctx, cuStreamSynchronize(S->stream));
            dvren__cu_release(ctx, S->scratch);
            S->scratch = 0;
            S->scratch_size = 0;
        }
        DVREN__CHECK(dvren__cu_alloc(ctx, need, &S->scratch));
        S->scratch_size = need;
    }
    for (i = 0; i < n; ++i) {
        if (!in[i]) continue;
        if (in[i]->memory != DVREN_MEMORY_HOST) {
            out[i] = in[i]->data;
            continue;
        }
        b = dvren__tensor_bytes(in[i]);
        DVREN__CU(ctx, cuMemcpyHtoDAsync(S->scratch + off, in[i]->data, b, S->stream));
        out[i] = (const void*)(uintptr_t)(S->scratch + off);
        off += (b + 255) & ~(size_t)255;
    }
cleanup:
    return status;
}

static dvren_status dvren__cu_mem_available(dvren_context* ctx, uint64_t* bytes)
{
    size_t fr = 0, tot = 0;
    *bytes = 0;
    dvren__cu.cuCtxSetCurrent(dvren__cu_st(ctx)->cuctx);
    if (dvren__cu.cuMemGetInfo(&fr, &tot) == DVREN__CU_SUCCESS) *bytes = (uint64_t)fr + dvren__cu_st(ctx)->cached;
    return DVREN_OK;
}

/* ---- scenes and the march ------------------------------------------------------ */

static void dvren__cu_scene_shutdown(dvren_scene* sc)
{
    dvren__cu_scene* C = (dvren__cu_scene*)sc->be;
    if (!C) return;
    if (C->blocks) dvren__free(sc->ctx, C->blocks, C->blocks_size);
    dvren__free(sc->ctx, C, sizeof *C);
    sc->be = NULL;
}

static dvren_status dvren__cu_scene_init(dvren_scene* sc)
{
    dvren_context* ctx = sc->ctx;
    dvren__cu_scene* C;
    dvren__cu_kernel* K = NULL;
    dvren_status status = DVREN_OK;
    dvren__cu.cuCtxSetCurrent(dvren__cu_st(ctx)->cuctx);
    C = (dvren__cu_scene*)dvren__calloc(ctx, sizeof *C);
    if (!C) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    sc->be = C;
    DVREN__CHECK(dvren__cu_get_kernel(sc, C->block_sizes, &K));
    C->key[0] = K->key[0];
    C->key[1] = K->key[1];
    C->blocks_size = C->block_sizes[0] + C->block_sizes[1] + C->block_sizes[2];
    C->blocks = (unsigned char*)dvren__calloc(ctx, C->blocks_size);
    if (!C->blocks) DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    return DVREN_OK;
cleanup:
    dvren__cu_scene_shutdown(sc);
    return status;
}

static dvren__cu_kernel* dvren__cu_scene_kernel(const dvren_scene* sc)
{
    const dvren__cu_scene* C = (const dvren__cu_scene*)sc->be;
    dvren__cu_state* S = dvren__cu_st(sc->ctx);
    uint32_t i;
    for (i = 0; C && i < S->nkernels; ++i)
        if (S->kernels[i].key[0] == C->key[0] && S->kernels[i].key[1] == C->key[1]) return &S->kernels[i];
    return NULL;
}

DVREN_CUDA_API dvren_status dvren_cuda_scene_kernel(const dvren_scene* sc, dvren_cuda_kernel_stats* stats)
{
    const dvren__cu_kernel* K;
    if (!sc || !stats || !dvren__cu_is(sc->ctx) || !sc->be)
        return dvren_set_error(sc ? sc->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA scene");
    K = dvren__cu_scene_kernel(sc);
    if (!K) return dvren_set_error(sc->ctx, DVREN_ERROR_INTERNAL, "cuda", NULL, "scene kernel not found");
    *stats = K->stats;
    return DVREN_OK;
}

DVREN_CUDA_API dvren_status dvren_cuda_framebuffer_output(dvren_framebuffer* fb, uint32_t output, dvren_tensor* view)
{
    dvren_status s;
    int i = dvren__output_index(output);
    if (!fb || !view || !dvren__cu_is(fb->ctx))
        return dvren_set_error(fb ? fb->ctx : NULL, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA framebuffer");
    if (i < 0 || !fb->out[i].data) {
        s = dvren_framebuffer_output(fb, output, view); /* for its message */
        return s != DVREN_OK ? s : DVREN_ERROR_INVALID_ARGUMENT;
    }
    *view = fb->out[i];
    view->data = fb->addr[i];
    view->memory = DVREN_MEMORY_DEVICE;
    view->flags = 0;
    fb->stale |= 1u << i; /* writes through the view reach dvren_framebuffer_output */
    return DVREN_OK;
}

#define DVREN__CU_RAY_RECORD 32u          /* bytes of dvren_ray_record (kernels/dvren_cuda_kernel.h) */
#define DVREN__CU_RAYS_THREADS 128u       /* DVREN_RAYS_THREADS */
#define DVREN__CU_MAX_CHUNK (1u << 24)    /* rays per chunk: 512 MiB of records */

/* A plan with a per-pixel budget: one thread per ray (dvren_forward_rays)
 * over chunks of whole rows of the roi, each followed by the gather of its
 * pixels (kernels/dvren_cuda_kernel.h says why). starts: the plan's prefix
 * sums of rays in host memory. */
static dvren_status dvren__cu_launch_rays(dvren_context* ctx, const dvren__cu_kernel* K, const dvren_march_args* A,
                                          void* blocks, const uint32_t* starts)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    uint32_t p = A->roi_y * A->width, end = (A->roi_y + A->roi_h) * A->width;
    uint64_t most = 0;
    dvren_status status = DVREN_OK;
    /* the record buffer: the largest chunk, at most DVREN__CU_MAX_CHUNK rays (or one pixel's) */
    {
        uint64_t total = (uint64_t)starts[end] - starts[p];
        most = total < DVREN__CU_MAX_CHUNK ? total : DVREN__CU_MAX_CHUNK;
        if (most < 65536) most = total < 65536 ? total : 65536;
    }
    if (most * DVREN__CU_RAY_RECORD > S->rays_size) {
        if (S->rays) dvren__cu_release(ctx, S->rays);
        S->rays = 0;
        S->rays_size = 0;
        DVREN__CHECK(dvren__cu_alloc(ctx, (size_t)most * DVREN__CU_RAY_RECORD, &S->rays));
        S->rays_size = (size_t)most * DVREN__CU_RAY_RECORD;
    }
    while (p < end) {
        /* the last q with starts[q] - starts[p] <= most (at least one pixel) */
        uint32_t lo = p + 1, hi = end, q, r0, r1;
        dvren__cu_ptr rec = S->rays;
        void* pr[7];
        void* pg[5];
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo + 1) / 2;
            if ((uint64_t)starts[mid] - starts[p] <= most) lo = mid;
            else hi = mid - 1;
        }
        q = lo;
        r0 = starts[p];
        r1 = starts[q];
        pr[0] = (void*)A;
        pr[1] = blocks;
        pr[2] = &p;
        pr[3] = &q;
        pr[4] = &r0;
        pr[5] = &r1;
        pr[6] = &rec;
        if (r1 > r0)
            DVREN__CU(ctx, cuLaunchKernel(K->rays, (r1 - r0 + DVREN__CU_RAYS_THREADS - 1) / DVREN__CU_RAYS_THREADS, 1, 1,
                                          DVREN__CU_RAYS_THREADS, 1, 1, 0, S->stream, pr, NULL));
        pg[0] = (void*)A;
        pg[1] = &p;
        pg[2] = &q;
        pg[3] = &r0;
        pg[4] = &rec;
        DVREN__CU(ctx, cuLaunchKernel(K->gather, (q - p + DVREN__CU_RAYS_THREADS - 1) / DVREN__CU_RAYS_THREADS, 1, 1,
                                      DVREN__CU_RAYS_THREADS, 1, 1, 0, S->stream, pg, NULL));
        p = q;
    }
cleanup:
    return status;
}

/* One thread per pixel of the roi: the fused kernel's dvren_forward or
 * dvren_backward, with the plan's arguments and the three blocks passed by
 * value (__grid_constant__); per-pixel budgets: one thread per ray. */
static dvren_status dvren__cu_launch_march(dvren_scene* sc, const dvren_march_args* A_in, int backward,
                                           uint32_t threads, dvren_progress_fn progress, void* user)
{
    dvren_context* ctx = sc->ctx;
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu_scene* C = (dvren__cu_scene*)sc->be;
    dvren__cu_kernel* K = dvren__cu_scene_kernel(sc);
    dvren_march_args A = *A_in;
    void* params[2];
    int timed = ctx->log && ctx->log_level >= DVREN_LOG_INFO, k;
    uint32_t off = 0;
    dvren_status status = DVREN_OK;
    (void)threads;
    if (!K || !C || (backward && !K->backward))
        return dvren_set_error(ctx, DVREN_ERROR_INTERNAL, "cuda", NULL, "the scene has no kernel on the GPU");
    for (k = 0; k < 3; ++k) {
        const void* blk = k == 0 ? A_in->field : (k == 1 ? A_in->shader : A_in->sampler);
        memcpy(C->blocks + off, blk, sc->block_size[k]);
        off += C->block_sizes[k];
    }
    A.field = A.shader = A.sampler = NULL; /* the kernel reads its own copy of the blocks */
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    params[0] = &A;
    params[1] = C->blocks;
    if (timed) DVREN__CU(ctx, cuEventRecord(S->timer[0], S->stream));
    if (!backward && A.spp_map)
        DVREN__CHECK(dvren__cu_launch_rays(ctx, K, &A, C->blocks, A.ray_start_host));
    else
        DVREN__CU(ctx, cuLaunchKernel(backward ? K->backward : K->function, (A.roi_w + S->block_x - 1) / S->block_x,
                                      (A.roi_h + S->block_y - 1) / S->block_y, 1, S->block_x, S->block_y, 1, 0,
                                      S->stream, params, NULL));
    if (timed) {
        float ms = 0.0f;
        /* a timer line measures the work, not the launch: it waits */
        DVREN__CU(ctx, cuEventRecord(S->timer[1], S->stream));
        DVREN__CU(ctx, cuEventSynchronize(S->timer[1]));
        DVREN__CU(ctx, cuEventElapsedTime(&ms, S->timer[0], S->timer[1]));
        char spp[64];
        dvren__spp_text(&A, spp, sizeof spp);
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER, "%s %ux%u %s on %s: %.3f ms", backward ? "backward" : "render",
                  (unsigned)A.roi_w, (unsigned)A.roi_h, spp, S->info.device_name, (double)ms);
    }
    if (progress) progress(user, 1, 1);
cleanup:
    return status;
}

/* ---- the training module (kernels/dvren_cuda_kernel.h with DVREN_CUDA_TRAIN) ---- */

#define DVREN__CU_PARTIALS 1024u /* most blocks of a training kernel */
#define DVREN__CU_TRAIN_THREADS 256u

static dvren_status dvren__cu_train_compose(dvren__text* t)
{
    dvren__text_str(t, "// dvren training module\n#define DVREN_JIT 1\n#line 1 \"dvren_device.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_device);
    dvren__text_str(t, "#line 1 \"dvren_train.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_train);
    dvren__text_str(t, "#define DVREN_CUDA_TRAIN 1\n#line 1 \"dvren_cuda_kernel.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_kernel);
    if (t->failed) return dvren_set_error(t->ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    return DVREN_OK;
}

/* Builds a module of fixed kernels at first use (the training module, the
 * splat module): its text from compose, through the disk cache (else
 * NVRTC), then its count kernels looked up by name into *f[i]; logs the
 * build as "<what> for <target>: ...". On failure the module is unloaded
 * and *module left NULL. */
static dvren_status dvren__cu_fixed_module(dvren_context* ctx, const char* what, dvren_status (*compose)(dvren__text*),
                                           dvren__cu_module* module, const char* const* names, dvren__cu_function* const* f,
                                           int count)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__text t;
    uint64_t key[2];
    dvren_cuda_kernel_stats st;
    dvren_status status = DVREN_OK;
    int i;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    DVREN__CHECK(compose(&t));
    dvren__cu_key(S, &t, key);
    DVREN__CHECK(dvren__cu_module_build(ctx, NULL, &t, key, module, &st));
    for (i = 0; i < count; ++i) {
        char call[96];
        snprintf(call, sizeof call, "cuModuleGetFunction(%s)", names[i]);
        DVREN__CHECK(dvren__cu_check(ctx, dvren__cu.cuModuleGetFunction(f[i], *module, names[i]), call));
    }
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER, "%s for %s: %s, compile %.1f ms, load %.1f ms", what, st.target,
              st.cache_hit ? "disk cache hit" : "compiled", st.compile_ms, st.load_ms);
cleanup:
    if (status != DVREN_OK && *module) {
        dvren__cu.cuModuleUnload(*module);
        *module = NULL;
    }
    dvren__text_free(&t);
    return status;
}

/* Builds the context's training module at first use. */
static dvren_status dvren__cu_train_ready(dvren_context* ctx)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    static const char* const names[6] = {"dvren_loss_kernel", "dvren_sgd_kernel",     "dvren_adam_kernel",
                                         "dvren_tv_kernel",   "dvren_fixed_finalize", "dvren_absmax_kernel"};
    dvren__cu_function* f[6];
    dvren_status status = DVREN_OK;
    if (S->train) return DVREN_OK;
    f[0] = &S->f_loss;
    f[1] = &S->f_sgd;
    f[2] = &S->f_adam;
    f[3] = &S->f_tv;
    f[4] = &S->f_fixed;
    f[5] = &S->f_absmax;
    DVREN__CHECK(dvren__cu_fixed_module(ctx, "training module", dvren__cu_train_compose, &S->train, names, f, 6));
    if (!S->partial) DVREN__CHECK(dvren__cu_alloc(ctx, DVREN__CU_PARTIALS * sizeof(double), &S->partial));
    if (!S->flag) DVREN__CHECK(dvren__cu_alloc(ctx, 256, &S->flag));
cleanup:
    if (status != DVREN_OK && S->train) {
        dvren__cu.cuModuleUnload(S->train);
        S->train = NULL;
    }
    return status;
}

/* Blocks of a grid-stride training launch over n elements. */
static uint32_t dvren__cu_train_blocks(uint64_t n)
{
    uint64_t b = (n + DVREN__CU_TRAIN_THREADS - 1) / DVREN__CU_TRAIN_THREADS;
    return b < 1 ? 1u : (b > DVREN__CU_PARTIALS ? DVREN__CU_PARTIALS : (uint32_t)b);
}

static dvren_status dvren__cu_train_launch(dvren_context* ctx, dvren__cu_function f, uint32_t blocks, void** params)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    return dvren__cu_check(ctx, dvren__cu.cuLaunchKernel(f, blocks, 1, 1, DVREN__CU_TRAIN_THREADS, 1, 1, 0, S->stream, params, NULL),
                           "cuLaunchKernel(training)");
}

/* Sum, in block order, of the partials of the last `blocks`-block launch. */
static dvren_status dvren__cu_partials_sum(dvren_context* ctx, uint32_t blocks, double* sum)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    double part[DVREN__CU_PARTIALS];
    dvren_status status = DVREN_OK;
    uint32_t i;
    DVREN__CU(ctx, cuMemcpyDtoHAsync(part, S->partial, (size_t)blocks * sizeof(double), S->stream));
    DVREN__CU(ctx, cuStreamSynchronize(S->stream));
    *sum = 0.0;
    for (i = 0; i < blocks; ++i) *sum += part[i];
cleanup:
    return status;
}

/* A grid-stride training launch over n elements; a non-NULL sum reads the
 * blocks' partial sums back (in block order: deterministic). */
static dvren_status dvren__cu_train_run(dvren_context* ctx, dvren__cu_function* f, uint64_t n, void** params,
                                        double* sum)
{
    dvren_status s = dvren__cu_train_ready(ctx);
    uint32_t blocks = dvren__cu_train_blocks(n);
    if (s == DVREN_OK) s = dvren__cu_train_launch(ctx, *f, blocks, params);
    if (s == DVREN_OK && sum) s = dvren__cu_partials_sum(ctx, blocks, sum);
    return s;
}

static dvren_status dvren__cu_launch_loss(dvren_context* ctx, const float* pred, const float* target, float* grad,
                                          uint64_t n, uint32_t kind, float delta, float w, double* sum)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    void* params[8];
    params[0] = &pred;
    params[1] = &target;
    params[2] = &grad;
    params[3] = &n;
    params[4] = &kind;
    params[5] = &delta;
    params[6] = &w;
    params[7] = &S->partial;
    return dvren__cu_train_run(ctx, &S->f_loss, n, params, sum);
}

static dvren_status dvren__cu_launch_tv(dvren_context* ctx, const float* x, float* g, const uint32_t dims[4], uint32_t c0,
                                        uint32_t c1, uint32_t squared, double norm, double* sum)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    uint32_t X = dims[0], Y = dims[1], Z = dims[2], C = dims[3];
    float fnorm = (float)norm;
    void* params[11];
    params[0] = &x;
    params[1] = &g;
    params[2] = &X;
    params[3] = &Y;
    params[4] = &Z;
    params[5] = &C;
    params[6] = &c0;
    params[7] = &c1;
    params[8] = &squared;
    params[9] = &fnorm;
    params[10] = &S->partial;
    return dvren__cu_train_run(ctx, &S->f_tv, (uint64_t)X * Y * Z * (c1 - c0), params, sum);
}

static dvren_status dvren__cu_launch_adam(dvren_context* ctx, float* x, float* m, float* v, const float* g, uint64_t n,
                                          const float h[7])
{
    float lr = h[0], b1 = h[1], b2 = h[2], eps = h[3], wd = h[4], bc1 = h[5], sbc2 = h[6];
    void* params[12];
    params[0] = &x;
    params[1] = &m;
    params[2] = &v;
    params[3] = &g;
    params[4] = &n;
    params[5] = &lr;
    params[6] = &b1;
    params[7] = &b2;
    params[8] = &eps;
    params[9] = &wd;
    params[10] = &bc1;
    params[11] = &sbc2;
    return dvren__cu_train_run(ctx, &dvren__cu_st(ctx)->f_adam, n, params, NULL);
}

static dvren_status dvren__cu_launch_sgd(dvren_context* ctx, float* x, float* buf, const float* g, uint64_t n,
                                         const float h[3])
{
    float lr = h[0], mom = h[1], wd = h[2];
    void* params[7];
    params[0] = &x;
    params[1] = &buf;
    params[2] = &g;
    params[3] = &n;
    params[4] = &lr;
    params[5] = &mom;
    params[6] = &wd;
    return dvren__cu_train_run(ctx, &dvren__cu_st(ctx)->f_sgd, n, params, NULL);
}

/* Largest |a| over the arrays as float bits (non-negative floats order as
 * integers), one read-back for all of them. */
static dvren_status dvren__cu_launch_absmax(dvren_context* ctx, uint32_t count, const float* const* a, const uint64_t* n,
                                            float* out)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren_status status = DVREN_OK;
    unsigned int bits = 0;
    uint32_t k;
    DVREN__CHECK(dvren__cu_train_ready(ctx));
    DVREN__CU(ctx, cuMemsetD8Async(S->flag, 0, 4, S->stream));
    for (k = 0; k < count; ++k) {
        const float* ak = a[k];
        uint64_t nk = n[k];
        void* params[3];
        params[0] = &ak;
        params[1] = &nk;
        params[2] = &S->flag;
        DVREN__CHECK(dvren__cu_train_launch(ctx, S->f_absmax, dvren__cu_train_blocks(nk), params));
    }
    DVREN__CU(ctx, cuMemcpyDtoHAsync(&bits, S->flag, 4, S->stream));
    DVREN__CU(ctx, cuStreamSynchronize(S->stream));
    if (bits >= 0x7F800000u) *out = INFINITY;
    else memcpy(out, &bits, 4);
cleanup:
    return status;
}

static dvren_status dvren__cu_launch_fixed_finalize(dvren_context* ctx, int64_t* fixed, float* g, uint64_t n, double unit)
{
    void* params[4];
    params[0] = &fixed;
    params[1] = &g;
    params[2] = &n;
    params[3] = &unit;
    return dvren__cu_train_run(ctx, &dvren__cu_st(ctx)->f_fixed, n, params, NULL);
}

/* ---- the splat module (kernels/dvren_splat.h + kernels/dvren_cuda_splat.h) ----
 * The CUDA side of dvren.h's launch_splats hook: the CPU pipeline of >>cpu
 * (dvren__cpu_launch_splats) step by step, with the same workspace slots
 * (DVREN__SW_*), each step a kernel of kernels/dvren_cuda_splat.h whose
 * arithmetic is a call into kernels/dvren_splat.h. The forward is bitwise
 * deterministic (the pair order is fully determined, every pixel is one
 * thread's sequential loop); the backward's slot sums use float atomics
 * (docs/splats.md, "GPU"). */

enum {
    DVREN__CU_SPLAT_PROJECT,
    DVREN__CU_SPLAT_SCAN_BLOCKS,
    DVREN__CU_SPLAT_SCAN_SUMS,
    DVREN__CU_SPLAT_SCAN_ADD,
    DVREN__CU_SPLAT_RANGES,
    DVREN__CU_SPLAT_EMIT,
    DVREN__CU_SPLAT_SORT,
    DVREN__CU_SPLAT_RASTER,
    DVREN__CU_SPLAT_REPLAY,
    DVREN__CU_SPLAT_GATHER,
    DVREN__CU_SPLAT_COUNT
};
static const char* const dvren__cu_splat_names[DVREN__CU_SPLAT_COUNT] = {
    "dvren_splat_project_kernel", "dvren_scan_blocks", "dvren_scan_sums", "dvren_scan_add",
    "dvren_splat_ranges",         "dvren_splat_emit",        "dvren_splat_sort",      "dvren_splat_raster",
    "dvren_splat_replay",         "dvren_splat_gather"};
/* segments up to this many entries are sorted by the small-memory launch */
#define DVREN__CU_SPLAT_SORT_SMALL 1024u
/* launch shapes: kernels/dvren_cuda_splat.h's DVREN__SPLAT_* */
#define DVREN__CU_SPLAT_THREADS 256u
#define DVREN__CU_SPLAT_SORT_THREADS 512u

/* The splat module's text: the device vocabulary, the rasteriser in
 * float32, layout checks of what crosses the launches, the entry points. */
static dvren_status dvren__cu_splat_compose(dvren__text* t)
{
    dvren__text_str(t, "// dvren splat module\n#define DVREN_JIT 1\n#line 1 \"dvren_device.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_device);
    dvren__text_str(t, "#line 1 \"dvren_splat.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_splat);
    dvren__text_fmt(t,
                    "#line 1 \"dvren_binding\"\n"
                    "static_assert(sizeof(dvren_splat_view) == %u && sizeof(dvren__splat_proj_32) == %u && "
                    "sizeof(dvren__splat_px_32) == %u && sizeof(dvren_fb_view) == %u, "
                    "\"the splat structs differ between host and NVRTC\");\n",
                    (unsigned)sizeof(dvren_splat_view), (unsigned)sizeof(dvren__splat_proj_32),
                    (unsigned)sizeof(dvren__splat_px_32), (unsigned)sizeof(dvren_fb_view));
    dvren__text_str(t, "#line 1 \"dvren_cuda_scan.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_scan);
    dvren__text_str(t, "#line 1 \"dvren_cuda_splat.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_splat_kernel);
    if (t->failed) return dvren_set_error(t->ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    return DVREN_OK;
}

DVREN_CUDA_API dvren_status dvren_cuda_compile_splat_check(dvren_context* ctx, uint32_t arch, char* log, size_t log_cap)
{
    return dvren_cuda_compile_module_check(ctx, "splat", arch, log, log_cap);
}

/* Builds the context's splat module at first use (disk cache, else NVRTC). */
static dvren_status dvren__cu_splat_ready(dvren_context* ctx)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu_function* f[DVREN__CU_SPLAT_COUNT];
    dvren_status status = DVREN_OK;
    int i, optin = 0;
    if (S->splat) return DVREN_OK;
    for (i = 0; i < DVREN__CU_SPLAT_COUNT; ++i) f[i] = &S->f_splat[i];
    DVREN__CHECK(dvren__cu_fixed_module(ctx, "splat module", dvren__cu_splat_compose, &S->splat, dvren__cu_splat_names, f,
                                        DVREN__CU_SPLAT_COUNT));
    /* the tile sort's dynamic shared memory: up to the device's opt-in limit (96 KiB or more: 12,288 keys) */
    dvren__cu.cuDeviceGetAttribute(&optin, DVREN__CU_ATTR_MAX_SHARED_OPTIN, S->device);
    S->splat_sort_cap = optin >= 98304 ? 12288u : 6144u;
    S->splat_prof_on = getenv("DVREN_SPLAT_PROFILE") != NULL;
    DVREN__CU(ctx, cuFuncSetAttribute(S->f_splat[DVREN__CU_SPLAT_SORT], DVREN__CU_FUNC_MAX_DYNAMIC_SHARED,
                                      (int)(S->splat_sort_cap * 8u)));
cleanup:
    if (status != DVREN_OK && S->splat) {
        dvren__cu.cuModuleUnload(S->splat);
        S->splat = NULL;
    }
    return status;
}

/* One launch of kernel f (called name) of a fixed module on the context's
 * stream: a grid of gx * gy * gz blocks of (bx, by) threads; a failure
 * names the kernel. An empty grid launches nothing. */
static dvren_status dvren__cu_launch3(dvren_context* ctx, dvren__cu_function f, const char* name, uint32_t gx, uint32_t gy,
                                      uint32_t gz, uint32_t bx, uint32_t by, uint32_t shared, void** params)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    char what[128];
    dvren__cu_result r;
    if (gx == 0 || gy == 0 || gz == 0) return DVREN_OK;
    r = dvren__cu.cuLaunchKernel(f, gx, gy, gz, bx, by, 1, shared, S->stream, params, NULL);
    if (r == DVREN__CU_SUCCESS) return DVREN_OK;
    snprintf(what, sizeof what, "cuLaunchKernel(%s, %u x %u x %u blocks)", name, (unsigned)gx, (unsigned)gy, (unsigned)gz);
    return dvren__cu_check(ctx, r, what);
}

/* the same over a one-dimensional grid */
static dvren_status dvren__cu_launch_fn(dvren_context* ctx, dvren__cu_function f, const char* name, uint32_t grid,
                                        uint32_t bx, uint32_t by, uint32_t shared, void** params)
{
    return dvren__cu_launch3(ctx, f, name, grid, 1, 1, bx, by, shared, params);
}

/* Exclusive prefix sum of data[0..n) (u32, device) in place, data[n] = the
 * total, also left in *total (device u64); sums: room for ceil(n / 2048)
 * u64. f: the module's dvren_scan_blocks, _sums, _add
 * (kernels/dvren_cuda_scan.h). */
#define DVREN__CU_SCAN_BLOCK 2048u
static dvren_status dvren__cu_scan(dvren_context* ctx, dvren__cu_function const* f, dvren__cu_ptr data, uint32_t n,
                                   dvren__cu_ptr sums, dvren__cu_ptr total)
{
    uint32_t nb = (uint32_t)(((uint64_t)n + DVREN__CU_SCAN_BLOCK - 1) / DVREN__CU_SCAN_BLOCK);
    void* p[4];
    if (nb == 0) nb = 1;
    p[0] = &data;
    p[1] = &n;
    p[2] = &sums;
    DVREN__TRY(dvren__cu_launch_fn(ctx, f[0], "dvren_scan_blocks", nb, 256u, 1, 0, p));
    p[0] = &sums;
    p[1] = &nb;
    p[2] = &total;
    DVREN__TRY(dvren__cu_launch_fn(ctx, f[1], "dvren_scan_sums", 1, 1024u, 1, 0, p));
    p[0] = &data;
    p[1] = &n;
    p[2] = &sums;
    p[3] = &total;
    return dvren__cu_launch_fn(ctx, f[2], "dvren_scan_add", n ? (uint32_t)(((uint64_t)n + 255u) / 256u) : 1, 256u, 1, 0, p);
}

/* One launch of splat kernel `which`. */
static dvren_status dvren__cu_splat_launch_shared(dvren_context* ctx, int which, uint32_t grid, uint32_t bx, uint32_t by,
                                                  uint32_t shared, void** params)
{
    return dvren__cu_launch_fn(ctx, dvren__cu_st(ctx)->f_splat[which], dvren__cu_splat_names[which], grid, bx, by, shared,
                               params);
}

static dvren_status dvren__cu_splat_launch(dvren_context* ctx, int which, uint32_t grid, uint32_t bx, uint32_t by,
                                           void** params)
{
    return dvren__cu_splat_launch_shared(ctx, which, grid, bx, by, 0u, params);
}

static uint32_t dvren__cu_splat_grid(uint64_t n, uint32_t per)
{
    return (uint32_t)((n + per - 1) / per);
}

/* ---- the marching-cubes module (kernels/dvren_mc.h + kernels/dvren_cuda_mc.h) ----
 * The CUDA side of dvren.h's launch_mc hook: the CPU's two passes
 * (dvren__cpu_launch_mc) with blocks of 256 samples in place of z slices,
 * so that the mesh is the CPU's bit for bit (kernels/dvren_cuda_mc.h). */

enum {
    DVREN__CU_MC_COUNT,
    DVREN__CU_MC_VERTICES,
    DVREN__CU_MC_TRIANGLES,
    DVREN__CU_MC_SCAN_BLOCKS,
    DVREN__CU_MC_SCAN_SUMS,
    DVREN__CU_MC_SCAN_ADD,
    DVREN__CU_MC_NFUNC
};
static const char* const dvren__cu_mc_names[DVREN__CU_MC_NFUNC] = {"dvren_mc_count",  "dvren_mc_vertices",
                                                                   "dvren_mc_triangles", "dvren_scan_blocks",
                                                                   "dvren_scan_sums",  "dvren_scan_add"};
#define DVREN__CU_MC_THREADS 256u

static dvren_status dvren__cu_mc_compose(dvren__text* t)
{
    dvren__text_str(t, "// dvren marching-cubes module\n#define DVREN_JIT 1\n#line 1 \"dvren_device.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_device);
    dvren__text_str(t, "#line 1 \"dvren_mc.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_mc);
    dvren__text_fmt(t,
                    "#line 1 \"dvren_binding\"\n"
                    "static_assert(sizeof(dvren_mc_grid) == %u, \"dvren_mc_grid differs between host and NVRTC\");\n",
                    (unsigned)sizeof(dvren_mc_grid));
    dvren__text_str(t, "#line 1 \"dvren_cuda_scan.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_scan);
    dvren__text_str(t, "#line 1 \"dvren_cuda_mc.h\"\n");
    dvren__text_lines(t, dvren__cuda_src_mc_kernel);
    if (t->failed) return dvren_set_error(t->ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    return DVREN_OK;
}

/* dvren_backend.launch_mc on CUDA: G->g is a device address. The counts'
 * totals are read back (one small copy) to size the mesh; the mesh is
 * built in device memory and copied into the host mesh. */
static dvren_status dvren__cu_launch_mc(dvren_context* ctx, const dvren_mc_grid* G, int normals, dvren_mesh* out,
                                        dvren_mc_stats* stats)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren_mc_grid grid = *G;
    uint64_t n = (uint64_t)G->nx * G->ny * G->nz, back[4] = {0, 0, 0, 0}, v, t;
    /* kernels/dvren_cuda_mc.h's launch shape: rows of bx, by rows a block */
    uint32_t bx = 1, by, gx, gy, nb, ve, k;
    size_t nsum, o_cnt;
    dvren__cu_ptr counts = 0, sums = 0, totals = 0, vb = 0, pos = 0, nrm = 0, tri = 0, bv, bt, bc, active;
    dvren__cu_function* f[DVREN__CU_MC_NFUNC];
    void* p[10];
    float ms = 0.0f;
    dvren_status status = DVREN_OK;
    while (bx < G->nx && bx < DVREN__CU_MC_THREADS) bx <<= 1;
    by = DVREN__CU_MC_THREADS / bx;
    gx = (G->nx + bx - 1) / bx;
    gy = (G->ny + by - 1) / by;
    nb = gx * gy * G->nz;
    nsum = ((size_t)nb + 1 + DVREN__CU_SCAN_BLOCK - 1) / DVREN__CU_SCAN_BLOCK + 2;
    o_cnt = ((size_t)nb + 1) * 4;
    if (gy > 65535u || G->nz > 65535u)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "marching_cubes", "extract the surface in blocks",
                               "grid: %u x %u x %u samples; on the GPU at most 65535 slices and %u rows",
                               (unsigned)G->nx, (unsigned)G->ny, (unsigned)G->nz, 65535u * by);
    if (!S->mc) {
        for (k = 0; k < DVREN__CU_MC_NFUNC; ++k) f[k] = &S->f_mc[k];
        DVREN__TRY(dvren__cu_fixed_module(ctx, "marching-cubes module", dvren__cu_mc_compose, &S->mc, dvren__cu_mc_names, f,
                                          DVREN__CU_MC_NFUNC));
    }
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    /* counts: three arrays of nb + 1 u32 (vertices, triangles, centres); totals: 4 u64 */
    o_cnt = (o_cnt + 255) & ~(size_t)255;
    DVREN__CHECK(dvren__cu_alloc(ctx, 3 * o_cnt, &counts));
    DVREN__CHECK(dvren__cu_alloc(ctx, 3 * nsum * 8, &sums));
    DVREN__CHECK(dvren__cu_alloc(ctx, 64, &totals));
    DVREN__CHECK(dvren__cu_alloc(ctx, (size_t)n * 4, &vb));
    bv = counts;
    bt = counts + o_cnt;
    bc = counts + 2 * o_cnt;
    active = totals + 24;
    DVREN__CU(ctx, cuEventRecord(S->timer[0], S->stream));
    DVREN__CU(ctx, cuMemsetD8Async(totals, 0, 64, S->stream));
    p[0] = &grid;
    p[1] = &bv;
    p[2] = &bt;
    p[3] = &bc;
    p[4] = &active;
    DVREN__CHECK(dvren__cu_launch3(ctx, S->f_mc[DVREN__CU_MC_COUNT], dvren__cu_mc_names[DVREN__CU_MC_COUNT], gx, gy, G->nz,
                                   bx, by, 0, p));
    for (k = 0; k < 3; ++k)
        DVREN__CHECK(dvren__cu_scan(ctx, S->f_mc + DVREN__CU_MC_SCAN_BLOCKS, counts + k * o_cnt, nb, sums + k * nsum * 8,
                                    totals + 8 * k));
    DVREN__CU(ctx, cuMemcpyDtoHAsync(back, totals, 32, S->stream));
    DVREN__CU(ctx, cuStreamSynchronize(S->stream));
    ve = (uint32_t)back[0];
    v = back[0] + back[2];
    t = back[1];
    if (v >= DVREN_MC_MAX_VERTICES || t > 0x7FFFFFFFu)
        DVREN__FAIL(ctx, DVREN_ERROR_UNSUPPORTED, "marching_cubes", "extract the surface in blocks",
                    "%llu vertices and %llu triangles: at most 2^29 and 2^31 - 1", (unsigned long long)v,
                    (unsigned long long)t);
    if (v) {
        DVREN__CHECK(dvren__cu_alloc(ctx, (size_t)v * 12, &pos));
        if (normals) DVREN__CHECK(dvren__cu_alloc(ctx, (size_t)v * 12, &nrm));
    }
    if (t) DVREN__CHECK(dvren__cu_alloc(ctx, (size_t)t * 12, &tri));
    p[1] = &bv;
    p[2] = &vb;
    p[3] = &pos;
    p[4] = &nrm;
    DVREN__CHECK(dvren__cu_launch3(ctx, S->f_mc[DVREN__CU_MC_VERTICES], dvren__cu_mc_names[DVREN__CU_MC_VERTICES], gx, gy,
                                   G->nz, bx, by, 0, p));
    p[1] = &bt;
    p[2] = &bc;
    p[3] = &vb;
    p[4] = &ve;
    p[5] = &tri;
    p[6] = &pos;
    p[7] = &nrm;
    DVREN__CHECK(dvren__cu_launch3(ctx, S->f_mc[DVREN__CU_MC_TRIANGLES], dvren__cu_mc_names[DVREN__CU_MC_TRIANGLES], gx, gy,
                                   G->nz, bx, by, 0, p));
    DVREN__CU(ctx, cuEventRecord(S->timer[1], S->stream));
    DVREN__CHECK(dvren_mesh_alloc(ctx, (uint32_t)v, (uint32_t)t, normals ? DVREN_MESH_NORMALS : 0u, out));
    if (v) {
        DVREN__CU(ctx, cuMemcpyDtoHAsync(out->positions, pos, (size_t)v * 12, S->stream));
        if (normals) DVREN__CU(ctx, cuMemcpyDtoHAsync(out->normals, nrm, (size_t)v * 12, S->stream));
    }
    if (t) DVREN__CU(ctx, cuMemcpyDtoHAsync(out->triangles, tri, (size_t)t * 12, S->stream));
    DVREN__CU(ctx, cuMemcpyDtoHAsync(back + 3, active, 8, S->stream));
    DVREN__CU(ctx, cuStreamSynchronize(S->stream));
    DVREN__CU(ctx, cuEventElapsedTime(&ms, S->timer[0], S->timer[1]));
    stats->ms_device = ms;
    stats->active_cells = back[3];
cleanup:
    dvren__cu_release(ctx, counts);
    dvren__cu_release(ctx, sums);
    dvren__cu_release(ctx, totals);
    dvren__cu_release(ctx, vb);
    dvren__cu_release(ctx, pos);
    dvren__cu_release(ctx, nrm);
    dvren__cu_release(ctx, tri);
    return status;
}

/* dvren_backend.launch_splats on CUDA: J's pointers are device addresses
 * (mem_stage uploaded host tensors; framebuffers, cotangents and gradients
 * are in device memory). Queued on the context's stream; the forward reads
 * back the pair count (one small copy) to size the pair arrays. */
/* With $DVREN_SPLAT_PROFILE set (read when the splat module is built): the
 * stream is synchronised after each step of the pipeline and the step's
 * milliseconds are added to the context's tally (0 project, 1 scan and
 * read-back, 2 emit, 3 sort, 4 raster, 5 replay, 6 gather; 7 counts the
 * frames), logged as a [timer] line after every forward and backward. */
static void dvren__cu_splat_mark(dvren_context* ctx, int step)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    double t;
    if (!S->splat_prof_on) return;
    dvren__cu.cuStreamSynchronize(S->stream);
    t = dvren__now_ms();
    if (step >= 0) S->splat_prof[step] += t - S->splat_prof_t;
    S->splat_prof_t = t;
    if (step == 4) S->splat_prof[7] += 1.0;
    if (step == 4 || step == 6)
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER,
                  "splats (ms summed over %.0f frames): project %.3f, scan %.3f, emit %.3f, sort %.3f, raster %.3f, "
                  "replay %.3f, gather %.3f",
                  S->splat_prof[7], S->splat_prof[0], S->splat_prof[1], S->splat_prof[2], S->splat_prof[3],
                  S->splat_prof[4], S->splat_prof[5], S->splat_prof[6]);
}

static dvren_status dvren__cu_launch_splats(dvren_splat_renderer* r, const dvren__splat_job* J, int backward)
{
    dvren_context* ctx = r->ctx;
    dvren__cu_state* S = dvren__cu_st(ctx);
    const dvren_splat_view* V = &J->view;
    uint32_t n = V->count, tiles = V->tiles_x * V->tiles_y;
    size_t pixels = (size_t)V->width * V->height;
    uint64_t m;
    const float *means = J->means, *log_scales = J->log_scales, *quats = J->quats, *logits = J->logits, *sh = J->sh;
    void *proj, *ranges, *pT, *pdacc, *last, *skey, *sval, *gacc, *scratch;
    dvren__cu_ptr info, sums, tcount, cursor;
    size_t nb_max, o_sums, o_tcount, o_cursor, scratch_bytes;
    void* p[16];
    dvren_status status = DVREN_OK;
    DVREN__CHECK(dvren__cu_splat_ready(ctx));
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_PROJ, (size_t)n * sizeof(dvren__splat_proj_32), &proj));
    DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_RANGES, (size_t)tiles * 8, &ranges));
    DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_PIX_T, pixels * 4, &pT));
    DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_PIX_DACC, pixels * 4, &pdacc));
    DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_PIX_LAST, pixels * 4, &last));
    if (!backward) {
        dvren_splat_view view = *V;
        dvren_fb_view fb = J->fb;
        unsigned char back[16];
        uint64_t total = 0;
        uint32_t visible = 0, cap = S->splat_sort_cap;
        /* scratch: [0, 16) the pair total (u64) and the visible count (u32);
         * the scan's block sums (u64); the tile histogram (then the tile
         * starts, tiles + 1 u32) and the emission cursors (u32) */
        nb_max = ((size_t)tiles + 1 + DVREN__CU_SCAN_BLOCK - 1) / DVREN__CU_SCAN_BLOCK + 2;
        o_sums = 256;
        o_tcount = o_sums + ((nb_max * 8 + 255) & ~(size_t)255);
        o_cursor = o_tcount + ((((size_t)tiles + 1) * 4 + 255) & ~(size_t)255);
        scratch_bytes = o_cursor + (size_t)tiles * 4;
        DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_SCRATCH, scratch_bytes, &scratch));
        info = (dvren__cu_ptr)(uintptr_t)scratch;
        sums = info + o_sums;
        tcount = info + o_tcount;
        cursor = info + o_cursor;
        DVREN__CU(ctx, cuMemsetD8Async(info, 0, 16, S->stream));
        DVREN__CU(ctx, cuMemsetD8Async(tcount, 0, ((size_t)tiles + 1) * 4, S->stream));
        dvren__cu_splat_mark(ctx, -1);
        /* 1. project; count the pairs of each tile */
        p[0] = &view;
        p[1] = &means;
        p[2] = &log_scales;
        p[3] = &quats;
        p[4] = &logits;
        p[5] = &sh;
        p[6] = &proj;
        p[7] = &tcount;
        {
            dvren__cu_ptr vis = info + 8;
            p[8] = &vis;
            DVREN__CHECK(dvren__cu_splat_launch(ctx, DVREN__CU_SPLAT_PROJECT, dvren__cu_splat_grid(n, DVREN__CU_SPLAT_THREADS),
                                                DVREN__CU_SPLAT_THREADS, 1, p));
        }
        dvren__cu_splat_mark(ctx, 0);
        /* 2. each tile's segment; the pair count back to the host */
        DVREN__CHECK(dvren__cu_scan(ctx, S->f_splat + DVREN__CU_SPLAT_SCAN_BLOCKS, tcount, tiles, sums, info));
        DVREN__CU(ctx, cuMemcpyDtoHAsync(back, info, 16, S->stream));
        DVREN__CU(ctx, cuStreamSynchronize(S->stream));
        memcpy(&total, back, 8);
        memcpy(&visible, back + 8, 4);
        if (total > 0xFFFFFFF0ull)
            DVREN__FAIL(ctx, DVREN_ERROR_OUT_OF_MEMORY, "splats", "render smaller or fewer Gaussians",
                        "more than 2^32 (Gaussian, tile) pairs");
        m = total;
        r->intersections = m;
        r->visible = visible;
        dvren__cu_splat_mark(ctx, 1);
        DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_SKEY, (size_t)m * 4, &skey));
        DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_SVAL, (size_t)m * 4, &sval));
        p[0] = &tcount;
        p[1] = &tiles;
        p[2] = &ranges;
        p[3] = &cursor;
        DVREN__CHECK(dvren__cu_splat_launch(ctx, DVREN__CU_SPLAT_RANGES, dvren__cu_splat_grid(tiles, DVREN__CU_SPLAT_THREADS),
                                            DVREN__CU_SPLAT_THREADS, 1, p));
        /* 3. the pairs into their tiles' segments */
        p[0] = &view;
        p[1] = &proj;
        p[2] = &cursor;
        p[3] = &skey;
        p[4] = &sval;
        DVREN__CHECK(dvren__cu_splat_launch(ctx, DVREN__CU_SPLAT_EMIT, dvren__cu_splat_grid(n, DVREN__CU_SPLAT_THREADS),
                                            DVREN__CU_SPLAT_THREADS, 1, p));
        dvren__cu_splat_mark(ctx, 2);
        /* 4. sort each segment by (depth bits, Gaussian): in shared memory up
         * to splat_sort_cap entries, else in place in global memory */
        {
            uint32_t lo = 1u, small = DVREN__CU_SPLAT_SORT_SMALL, no = 0u, yes = 1u;
            p[0] = &ranges;
            p[1] = &skey;
            p[2] = &sval;
            p[3] = &lo;
            p[4] = &small;
            p[5] = &no;
            DVREN__CHECK(dvren__cu_splat_launch_shared(ctx, DVREN__CU_SPLAT_SORT, m ? tiles : 0, DVREN__CU_SPLAT_SORT_THREADS,
                                                       1, small * 8u, p));
            p[3] = &small;
            p[4] = &cap;
            p[5] = &yes;
            DVREN__CHECK(dvren__cu_splat_launch_shared(ctx, DVREN__CU_SPLAT_SORT, m ? tiles : 0, DVREN__CU_SPLAT_SORT_THREADS,
                                                       1, cap * 8u, p));
        }
        dvren__cu_splat_mark(ctx, 3);
        /* 5. composite every tile's pixels (sval: the Gaussian of each sorted entry) */
        p[0] = &view;
        p[1] = &fb;
        p[2] = &proj;
        p[3] = &sval;
        p[4] = &ranges;
        p[5] = &pT;
        p[6] = &pdacc;
        p[7] = &last;
        DVREN__CHECK(dvren__cu_splat_launch(ctx, DVREN__CU_SPLAT_RASTER, tiles, DVREN_SPLAT_TILE, DVREN_SPLAT_TILE, p));
        dvren__cu_splat_mark(ctx, 4);
        return DVREN_OK;
    }
    {
        dvren_splat_view view = *V;
        const float *cot_rgb = J->cot_rgb, *cot_alpha = J->cot_alpha, *cot_depth = J->cot_depth;
        float *g_means = J->g_means, *g_log_scales = J->g_log_scales, *g_quats = J->g_quats, *g_logits = J->g_logits,
              *g_sh = J->g_sh;
        m = r->intersections;
        DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_SVAL, (size_t)m * 4, &sval));
        /* each Gaussian's 10 sums (the CPU's per-pair slots are not needed: the warps add into them) */
        DVREN__CHECK(dvren__splat_ws(r, DVREN__SW_SLOTS, (size_t)n * 4 * DVREN_SPLAT_GRAD_FLOATS, &gacc));
        DVREN__CU(ctx, cuMemsetD8Async((dvren__cu_ptr)(uintptr_t)gacc, 0, (size_t)n * 4 * DVREN_SPLAT_GRAD_FLOATS, S->stream));
        dvren__cu_splat_mark(ctx, -1);
        p[0] = &view;
        p[1] = &proj;
        p[2] = &sval;
        p[3] = &ranges;
        p[4] = &pT;
        p[5] = &pdacc;
        p[6] = &last;
        p[7] = &cot_rgb;
        p[8] = &cot_alpha;
        p[9] = &cot_depth;
        p[10] = &gacc;
        DVREN__CHECK(dvren__cu_splat_launch(ctx, DVREN__CU_SPLAT_REPLAY, m ? tiles : 0, DVREN_SPLAT_TILE, DVREN_SPLAT_TILE, p));
        dvren__cu_splat_mark(ctx, 5);
        p[0] = &view;
        p[1] = &means;
        p[2] = &log_scales;
        p[3] = &quats;
        p[4] = &logits;
        p[5] = &sh;
        p[6] = &proj;
        p[7] = &gacc;
        p[8] = &g_means;
        p[9] = &g_log_scales;
        p[10] = &g_quats;
        p[11] = &g_logits;
        p[12] = &g_sh;
        DVREN__CHECK(dvren__cu_splat_launch(ctx, DVREN__CU_SPLAT_GATHER, dvren__cu_splat_grid(n, DVREN__CU_SPLAT_THREADS),
                                            DVREN__CU_SPLAT_THREADS, 1, p));
        dvren__cu_splat_mark(ctx, 6);
    }
cleanup:
    return status;
}

DVREN_CUDA_API dvren_status dvren_cuda_timer_begin(dvren_context* ctx)
{
    dvren__cu_state* S;
    if (!dvren__cu_is(ctx)) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    S = dvren__cu_st(ctx);
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    return dvren__cu_check(ctx, dvren__cu.cuEventRecord(S->timer[0], S->stream), "cuEventRecord");
}

DVREN_CUDA_API dvren_status dvren_cuda_timer_end(dvren_context* ctx, float* ms)
{
    dvren__cu_state* S;
    dvren_status status = DVREN_OK;
    if (!dvren__cu_is(ctx) || !ms)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    S = dvren__cu_st(ctx);
    DVREN__CU(ctx, cuEventRecord(S->timer[1], S->stream));
    DVREN__CU(ctx, cuEventSynchronize(S->timer[1]));
    DVREN__CU(ctx, cuEventElapsedTime(ms, S->timer[0], S->timer[1]));
cleanup:
    return status;
}

static dvren_status dvren__cu_switch_stream(dvren_context* ctx, dvren__cu_stream stream)
{
    dvren__cu_state* S;
    dvren_status status = DVREN_OK;
    if (!dvren__cu_is(ctx)) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    S = dvren__cu_st(ctx);
    if (stream == S->stream) return DVREN_OK;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    /* the new stream waits on the device for what the old one holds (no host wait) */
    DVREN__CU(ctx, cuEventRecord(S->handoff, S->stream));
    DVREN__CU(ctx, cuStreamWaitEvent(stream, S->handoff, 0));
    S->stream = stream;
cleanup:
    return status;
}

DVREN_CUDA_API dvren_status dvren_cuda_set_stream(dvren_context* ctx, void* stream)
{
    return dvren__cu_switch_stream(ctx, (dvren__cu_stream)stream);
}

DVREN_CUDA_API dvren_status dvren_cuda_own_stream(dvren_context* ctx)
{
    return dvren__cu_switch_stream(ctx, dvren__cu_is(ctx) ? dvren__cu_st(ctx)->own_stream : NULL);
}

DVREN_CUDA_API void* dvren_cuda_stream(const dvren_context* ctx)
{
    return dvren__cu_is(ctx) ? (void*)dvren__cu_st(ctx)->stream : NULL;
}

DVREN_CUDA_API dvren_status dvren_cuda_get_info(const dvren_context* ctx, dvren_cuda_info* info)
{
    if (!dvren__cu_is(ctx) || !info)
        return dvren_set_error(NULL, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "not a CUDA context");
    *info = dvren__cu_st(ctx)->info;
    return DVREN_OK;
}

/* ---- dvren.host.cuda/1: the GPU as plugins see it ------------------------ */

static void* dvren__cu_host_proc(const dvren_host* h, const char* name)
{
    typedef dvren__cu_result(DVREN__CUDAAPI * getproc_fn)(const char*, void**, int, unsigned long long, int*);
    getproc_fn gp;
    void* p = NULL;
    int st = 0;
    (void)h;
    if (!name) return NULL;
    memcpy(&gp, &dvren__cu.getproc, sizeof gp);
    if (!gp || gp(name, &p, 12000, 0ull, &st) != DVREN__CU_SUCCESS || st != 0) p = NULL;
    if (!p && dvren__cu.lib_cuda) p = dvren__lib_symbol(dvren__cu.lib_cuda, name);
    return p;
}

static dvren_status dvren__cu_host_alloc(const dvren_host* h, size_t bytes, void** ptr)
{
    return dvren__cu_mem_alloc(dvren__host_rec(h)->ctx, bytes, ptr);
}

static void dvren__cu_host_free(const dvren_host* h, void* ptr, size_t bytes)
{
    if (ptr) dvren__cu_mem_free(dvren__host_rec(h)->ctx, ptr, bytes);
}

/* The module text of a plugin's own kernels: the device vocabulary, then
 * its device source. */
static dvren_status dvren__cu_plugin_compose(dvren_context* ctx, const dvren__plugin_rec* r, dvren__text* t)
{
    char* src = NULL;
    size_t len = 0;
    dvren_status status = dvren__plugin_source(ctx, ctx->libs[r->library].path, r->desc, &src, &len);
    if (status != DVREN_OK) return status;
    dvren__text_fmt(t, "// dvren plugin module: %s\n#define DVREN_JIT 1\n#line 1 \"dvren_device.h\"\n", r->desc->name);
    dvren__text_lines(t, dvren__cuda_src_device);
    dvren__text_fmt(t, "#line 1 \"%s\"\n", r->desc->device_source_file ? r->desc->device_source_file : r->desc->name);
    dvren__text_add(t, src, len);
    dvren__text_str(t, "\n");
    dvren__free(ctx, src, len + 1);
    if (t->failed) return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
    return DVREN_OK;
}

/* NVRTC is there and knows sm_<arch> (the compile checks). */
static dvren_status dvren__cu_arch_check(dvren_context* ctx, uint32_t arch)
{
    int i, known = 0;
    DVREN__TRY(dvren__cu_need_nvrtc(ctx));
    for (i = 0; i < dvren__cu.narchs; ++i) known |= (uint32_t)dvren__cu.archs[i] == arch;
    if (!known)
        return dvren_set_error(ctx, DVREN_ERROR_UNSUPPORTED, "cuda", NULL, "NVRTC %d.%d cannot compile for sm_%u",
                               dvren__cu.nvrtc_major, dvren__cu.nvrtc_minor, (unsigned)arch);
    return DVREN_OK;
}

DVREN_CUDA_API dvren_status dvren_cuda_compile_module_check(dvren_context* ctx, const char* module, uint32_t arch, char* log,
                                                            size_t log_cap)
{
    dvren_status (*compose)(dvren__text*) = NULL;
    dvren__text t;
    char* bin = NULL;
    size_t n = 0;
    dvren_status status;
    if (!ctx || !module) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "NULL argument");
    if (log && log_cap) log[0] = 0;
    if (!strcmp(module, "splat")) compose = dvren__cu_splat_compose;
    else if (!strcmp(module, "mc")) compose = dvren__cu_mc_compose;
    else if (!strcmp(module, "training")) compose = dvren__cu_train_compose;
    else
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL,
                               "module '%s': expected splat, mc or training", module);
    DVREN__TRY(dvren__cu_arch_check(ctx, arch));
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    status = compose(&t);
    if (status == DVREN_OK) {
        char name[64];
        snprintf(name, sizeof name, "dvren_%s_check_sm%u.cu", module, (unsigned)arch);
        dvren__cu_dump(ctx, &t, name);
        status = dvren__cu_nvrtc(ctx, NULL, t.s, arch, 0, NULL, &bin, &n, log, log_cap, NULL);
    }
    if (bin) dvren__free(ctx, bin, n + 1);
    dvren__text_free(&t);
    return status;
}

DVREN_CUDA_API dvren_status dvren_cuda_compile_plugin_check(dvren_context* ctx, dvren_plugin_kind kind, const char* name,
                                                            uint32_t arch, char* log, size_t log_cap)
{
    const dvren__plugin_rec* r;
    dvren__text t;
    char* bin = NULL;
    size_t n = 0;
    dvren_status status;
    if (!ctx || !name) return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, "cuda", NULL, "NULL argument");
    if (log && log_cap) log[0] = 0;
    r = dvren__plugin_lookup(ctx, kind, name);
    if (!r)
        return dvren_set_error(ctx, DVREN_ERROR_NOT_FOUND, "cuda", "load it first (dvren_plugin_load)",
                               "no %s plugin '%s' is loaded", dvren_plugin_kind_name(kind), name);
    DVREN__TRY(dvren__cu_arch_check(ctx, arch));
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    status = dvren__cu_plugin_compose(ctx, r, &t);
    if (status == DVREN_OK) status = dvren__cu_nvrtc(ctx, NULL, t.s, arch, 0, NULL, &bin, &n, log, log_cap, NULL);
    if (bin) dvren__free(ctx, bin, n + 1);
    dvren__text_free(&t);
    return status;
}

/* The kernel `name` of the calling plugin's device source: its module is
 * built once per context (the device vocabulary, then the source), through
 * the disk cache like the render kernels. */
static dvren_status dvren__cu_host_kernel(const dvren_host* h, const char* name, void** function)
{
    const dvren__plugin_rec* r = dvren__host_rec(h);
    dvren_context* ctx = r->ctx;
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu_module module = NULL;
    dvren__cu_function f = NULL;
    dvren_status status = DVREN_OK;
    uint32_t i;
    if (!name || !function)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, r->desc->name, NULL, "kernel(): NULL argument");
    *function = NULL;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    for (i = 0; i < S->npmods; ++i)
        if (S->pmods[i].rec == r) module = S->pmods[i].module;
    if (!module) {
        dvren__text t;
        uint64_t key[2];
        dvren_cuda_kernel_stats st;
        memset(&t, 0, sizeof t);
        t.ctx = ctx;
        status = dvren__cu_plugin_compose(ctx, r, &t);
        if (status == DVREN_OK) {
            dvren__cu_key(S, &t, key);
            status = dvren__cu_module_build(ctx, NULL, &t, key, &module, &st);
        }
        dvren__text_free(&t);
        if (status != DVREN_OK) return status;
        if (!dvren__grow(ctx, (void**)&S->pmods, &S->pmod_cap, S->npmods + 1, sizeof(dvren__cu_pmod))) {
            dvren__cu.cuModuleUnload(module);
            return dvren_set_error(ctx, DVREN_ERROR_OUT_OF_MEMORY, "cuda", NULL, "out of memory");
        }
        S->pmods[S->npmods].rec = r;
        S->pmods[S->npmods++].module = module;
        dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_TIMER, "module of plugin %s for %s: %s, compile %.1f ms, load %.1f ms",
                  r->desc->name, st.target, st.cache_hit ? "disk cache hit" : "compiled", st.compile_ms, st.load_ms);
    }
    if (dvren__cu.cuModuleGetFunction(&f, module, name) != DVREN__CU_SUCCESS || !f)
        return dvren_set_error(ctx, DVREN_ERROR_NOT_FOUND, r->desc->name, "declare it extern \"C\" __global__",
                               "plugin '%s' has no kernel '%s' in its device source '%s'", r->desc->name, name,
                               r->desc->device_source_file ? r->desc->device_source_file : "(embedded)");
    memcpy(function, &f, sizeof f);
    return status;
}

static dvren_status dvren__cu_host_launch(const dvren_host* h, void* function, const uint32_t grid[3],
                                          const uint32_t block[3], uint32_t shared_bytes, void** args)
{
    dvren_context* ctx = dvren__host_rec(h)->ctx;
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren__cu_function f;
    dvren_status status = DVREN_OK;
    if (!function || !grid || !block)
        return dvren_set_error(ctx, DVREN_ERROR_INVALID_ARGUMENT, dvren__host_rec(h)->desc->name, NULL,
                               "launch(): NULL argument");
    memcpy(&f, &function, sizeof f);
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    DVREN__CU(ctx, cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared_bytes, S->stream,
                                  args, NULL));
cleanup:
    return status;
}

static const void* dvren__cu_host_interface(dvren_context* ctx, const char* id)
{
    dvren__cu_state* S = dvren__cu_st(ctx);
    dvren_host_cuda* H;
    if (!S || !dvren_iface_is(id, DVREN_HOST_CUDA)) return NULL;
    H = &S->host_cuda;
    memset(H, 0, sizeof *H);
    H->struct_size = sizeof *H;
    memcpy(&H->context, &S->cuctx, sizeof S->cuctx);
    memcpy(&H->stream, &S->stream, sizeof S->stream);
    H->device_ordinal = S->info.device_ordinal;
    H->arch = S->arch;
    H->driver_proc = dvren__cu_host_proc;
    H->mem_alloc = dvren__cu_host_alloc;
    H->mem_free = dvren__cu_host_free;
    H->kernel = dvren__cu_host_kernel;
    H->launch = dvren__cu_host_launch;
    dvren__cu.cuCtxSetCurrent(S->cuctx);
    return H;
}

DVREN_CUDA_API const dvren_backend* dvren_cuda_backend(void)
{
    static const dvren_backend be = {
        sizeof(dvren_backend), "cuda", DVREN_DEVICE_CUDA, DVREN_MEMORY_DEVICE,
        dvren__cu_init, dvren__cu_shutdown, dvren__cu_synchronize,
        dvren__cu_mem_alloc, dvren__cu_mem_free, dvren__cu_mem_copy, dvren__cu_mem_zero,
        dvren__cu_mem_place, dvren__cu_mem_unplace, dvren__cu_mem_stage, dvren__cu_mem_available,
        dvren__cu_scene_init, dvren__cu_scene_shutdown, dvren__cu_launch_march,
        dvren__cu_launch_loss, dvren__cu_launch_tv, dvren__cu_launch_adam, dvren__cu_launch_sgd,
        dvren__cu_launch_absmax, dvren__cu_launch_fixed_finalize, dvren__cu_host_interface,
        dvren__cu_launch_splats, dvren__cu_launch_mc};
    return &be;
}

/* ======================================================================== */
/* >>generated  copies of kernels/ (./build.sh gen writes them: do not edit) */
/* ======================================================================== */

#undef dvren__cuda_src_device
#undef dvren__cuda_src_march
#undef dvren__cuda_src_kernel
#undef dvren__cuda_src_train
#undef dvren__cuda_src_splat
#undef dvren__cuda_src_splat_kernel
#undef dvren__cuda_src_scan
#undef dvren__cuda_src_mc
#undef dvren__cuda_src_mc_kernel
/* >>cuda-src device begin (generated from kernels/dvren_device.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_device[] = {
"/* kernels/dvren_device.h - the device vocabulary of dvren (single source).\n",
" *\n",
" * This file is compiled three ways and must stay valid in all of them:\n",
" *   - as C99/C11 by the host compiler (the CPU path, and every plugin's .c),\n",
" *   - as C++17 by a host C++ compiler (dvren.h is usable from C++),\n",
" *   - as CUDA C++ by NVRTC (the GPU path; __CUDACC_RTC__ is defined).\n",
" * Rules (docs/architecture.md, \"single-source stage code\"): no libc beyond the\n",
" * math functions below, no allocation, no recursion, no function pointers, no\n",
" * globals, no compound literals, no designated initialisers, no VLAs, no\n",
" * implicit void* conversions. Under NVRTC nothing is included.\n",
" *\n",
" * dvren.h carries a generated copy of this file (between the markers\n",
" * \">>device begin/end\"); edit this file and run `./build.sh gen`. The test\n",
" * `embedded_kernels` fails when the copy is stale. */\n",
"#ifndef DVREN_DEVICE_H\n",
"#define DVREN_DEVICE_H\n",
"\n",
"/* ---- qualifiers and fixed-width types -------------------------------- */\n",
"#if defined(__CUDACC_RTC__)\n",
"typedef unsigned char uint8_t;\n",
"typedef unsigned short uint16_t;\n",
"typedef unsigned int uint32_t;\n",
"typedef int int32_t;\n",
"typedef unsigned long long uint64_t;\n",
"typedef long long int64_t;\n",
"/* not static: NVRTC warns (#177) about every unused static function, and a\n",
" * fused kernel is one translation unit anyway */\n",
"#define DVREN_FN __device__ __forceinline__\n",
"#define DVREN_KERNEL extern \"C\" __global__\n",
"#define DVREN_RESTRICT __restrict__\n",
"#define DVREN_ON_GPU 1\n",
"#else\n",
"#include <stdint.h>\n",
"#include <math.h>\n",
"#define DVREN_FN static inline\n",
"#if defined(__cplusplus)\n",
"#define DVREN_RESTRICT __restrict\n",
"#else\n",
"#define DVREN_RESTRICT restrict\n",
"#endif\n",
"#define DVREN_ON_GPU 0\n",
"#endif\n",
"\n",
"/* Largest channel count a field may produce per sample (ABI constant). */\n",
"#define DVREN_MAX_CHANNELS 16\n",
"/* Size of a sampler's per-ray state, in 32-bit words (ABI constant; 12\n",
" * before ABI 1.3. It only grows: a sampler built with fewer words uses a\n",
" * prefix of the state the host provides). */\n",
"#define DVREN_SAMPLER_STATE_WORDS 16\n",
"\n",
"/* ---- precision ---------------------------------------------------------------\n",
" * Per-sample code computes in dvren_real, a float unless DVREN_PREC_BITS is\n",
" * 64 where it is used. The renderer (CPU and GPU) is float32; the gradient\n",
" * checker runs the same single-source code in float64 for its finite\n",
" * differences. A plugin includes its per-sample file once per precision and\n",
" * names its functions with DVREN_PNAME(name): name in float32, name_f64 in\n",
" * float64 (docs/plugins.md, \"Precision\"). Generic names (dvren_vec3,\n",
" * dvren_add3, dvren_exp, ...) resolve to the precision in force where they\n",
" * are used. Storage (parameter blocks, grids) stays float32. */\n",
"#ifndef DVREN_PREC_BITS\n",
"#define DVREN_PREC_BITS 32\n",
"#endif\n",
"#define DVREN__CAT2(a, b) a##b\n",
"#define DVREN__CAT(a, b) DVREN__CAT2(a, b)\n",
"#define DVREN__PS DVREN__CAT(_, DVREN_PREC_BITS)\n",
"#define DVREN__RN(base) DVREN__CAT(base, DVREN__PS)\n",
"#define dvren__psfx_32\n",
"#define dvren__psfx_64 _f64\n",
"#define DVREN_PNAME(name) DVREN__CAT(name, DVREN__CAT(dvren__psfx_, DVREN_PREC_BITS))\n",
"typedef float dvren__real_32;\n",
"typedef double dvren__real_64;\n",
"#define dvren_real DVREN__RN(dvren__real)\n",
"\n",
"typedef struct dvren_float3 { float x, y, z; } dvren_float3;\n",
"typedef struct dvren_double3 { double x, y, z; } dvren_double3;\n",
"typedef dvren_float3 dvren__vec3_32;\n",
"typedef dvren_double3 dvren__vec3_64;\n",
"#define dvren_vec3 DVREN__RN(dvren__vec3)\n",
"\n",
"/* Scalar and vector helpers, defined once per precision: R the real type,\n",
" * V the vector type, S the name suffix, M the libm suffix (\"f\" for float). */\n",
"#define DVREN__REAL_FUNCS(R, V, S, M)                                                                                  \\\n",
"    DVREN_FN R dvren__min##S(R a, R b) { return a < b ? a : b; }                                                        \\\n",
"    DVREN_FN R dvren__max##S(R a, R b) { return a > b ? a : b; }                                                        \\\n",
"    DVREN_FN R dvren__clamp##S(R x, R lo, R hi) { return x < lo ? lo : (x > hi ? hi : x); }                             \\\n",
"    DVREN_FN R dvren__abs##S(R x) { return x < (R)0 ? -x : x; }                                                         \\\n",
"    DVREN_FN R dvren__lerp##S(R a, R b, R t) { return a + (b - a) * t; }                                               \\\n",
"    /* e^x as 2^(x log2 e): one MUFU.EX2 on the GPU instead of ten instructions; the same formula on the CPU */       \\\n",
"    DVREN_FN R dvren__exp##S(R x) { return exp2##M(x * (R)1.44269504088896341); }                                       \\\n",
"    /* exp of x clamped to [-87, 88]: never inf or NaN */                                                              \\\n",
"    DVREN_FN R dvren__safe_exp##S(R x) { return exp##M(dvren__clamp##S(x, (R)-87, (R)88)); }                            \\\n",
"    /* softplus(x) = log(1 + e^x), stable for large x; its derivative is the sigmoid */                                \\\n",
"    DVREN_FN R dvren__softplus##S(R x) { return x > (R)20 ? x : log1p##M(exp##M(x)); }                                  \\\n",
"    DVREN_FN R dvren__sigmoid##S(R x) { return (R)1 / ((R)1 + dvren__safe_exp##S(-x)); }                               \\\n",
"    DVREN_FN R dvren__log1p##S(R x) { return log1p##M(x); }                                                             \\\n",
"    DVREN_FN R dvren__sqrt##S(R x) { return sqrt##M(x); }                                                               \\\n",
"    DVREN_FN R dvren__floor##S(R x) { return floor##M(x); }                                                             \\\n",
"    DVREN_FN R dvren__ceil##S(R x) { return ceil##M(x); }                                                               \\\n",
"    DVREN_FN R dvren__pow##S(R x, R y) { return pow##M(x, y); }                                                         \\\n",
"    DVREN_FN V dvren__v3##S(R x, R y, R z)                                                                             \\\n",
"    {                                                                                                                  \\\n",
"        V r;                                                                                                           \\\n",
"        r.x = x;                                                                                                       \\\n",
"        r.y = y;                                                                                                       \\\n",
"        r.z = z;                                                                                                       \\\n",
"        return r;                                                                                                      \\\n",
"    }                                                                                                                  \\\n",
"    /* from three floats of storage (a block, a camera) */                                                            \\\n",
"    DVREN_FN V dvren__v3p##S(const float* v) { return dvren__v3##S((R)v[0], (R)v[1], (R)v[2]); }                       \\\n",
"    DVREN_FN V dvren__add3##S(V a, V b) { return dvren__v3##S(a.x + b.x, a.y + b.y, a.z + b.z); }                       \\\n",
"    DVREN_FN V dvren__sub3##S(V a, V b) { return dvren__v3##S(a.x - b.x, a.y - b.y, a.z - b.z); }                       \\\n",
"    DVREN_FN V dvren__mul3##S(V a, V b) { return dvren__v3##S(a.x * b.x, a.y * b.y, a.z * b.z); }                       \\\n",
"    DVREN_FN V dvren__scale3##S(V a, R s) { return dvren__v3##S(a.x * s, a.y * s, a.z * s); }                           \\\n",
"    /* a + b*s */                                                                                                      \\\n",
"    DVREN_FN V dvren__madd3##S(V a, V b, R s) { return dvren__v3##S(a.x + b.x * s, a.y + b.y * s, a.z + b.z * s); }     \\\n",
"    DVREN_FN R dvren__dot3##S(V a, V b) { return a.x * b.x + a.y * b.y + a.z * b.z; }                                   \\\n",
"    DVREN_FN V dvren__cross3##S(V a, V b)                                                                              \\\n",
"    {                                                                                                                  \\\n",
"        return dvren__v3##S(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);                      \\\n",
"    }                                                                                                                  \\\n",
"    DVREN_FN R dvren__length3##S(V a) { return sqrt##M(dvren__dot3##S(a, a)); }                                         \\\n",
"    /* a / |a|; the zero vector stays zero */                                                                          \\\n",
"    DVREN_FN V dvren__normalize3##S(V a)                                                                               \\\n",
"    {                                                                                                                  \\\n",
"        R l = dvren__length3##S(a);                                                                                    \\\n",
"        return l > (R)0 ? dvren__scale3##S(a, (R)1 / l) : a;                                                           \\\n",
"    }\n",
"\n",
"DVREN__REAL_FUNCS(float, dvren_float3, _32, f)\n",
"#if !DVREN_ON_GPU\n",
"DVREN__REAL_FUNCS(double, dvren_double3, _64, )\n",
"#endif\n",
"\n",
"#define dvren_min DVREN__RN(dvren__min)\n",
"#define dvren_max DVREN__RN(dvren__max)\n",
"#define dvren_clamp DVREN__RN(dvren__clamp)\n",
"#define dvren_abs DVREN__RN(dvren__abs)\n",
"#define dvren_lerp DVREN__RN(dvren__lerp)\n",
"#define dvren_exp DVREN__RN(dvren__exp)\n",
"#define dvren_safe_exp DVREN__RN(dvren__safe_exp)\n",
"#define dvren_softplus DVREN__RN(dvren__softplus)\n",
"#define dvren_sigmoid DVREN__RN(dvren__sigmoid)\n",
"#define dvren_log1p DVREN__RN(dvren__log1p)\n",
"#define dvren_sqrt DVREN__RN(dvren__sqrt)\n",
"#define dvren_floor DVREN__RN(dvren__floor)\n",
"#define dvren_ceil DVREN__RN(dvren__ceil)\n",
"#define dvren_pow DVREN__RN(dvren__pow)\n",
"#define dvren_v3 DVREN__RN(dvren__v3)\n",
"#define dvren_v3p DVREN__RN(dvren__v3p)\n",
"#define dvren_add3 DVREN__RN(dvren__add3)\n",
"#define dvren_sub3 DVREN__RN(dvren__sub3)\n",
"#define dvren_mul3 DVREN__RN(dvren__mul3)\n",
"#define dvren_scale3 DVREN__RN(dvren__scale3)\n",
"#define dvren_madd3 DVREN__RN(dvren__madd3)\n",
"#define dvren_dot3 DVREN__RN(dvren__dot3)\n",
"#define dvren_cross3 DVREN__RN(dvren__cross3)\n",
"#define dvren_length3 DVREN__RN(dvren__length3)\n",
"#define dvren_normalize3 DVREN__RN(dvren__normalize3)\n",
"\n",
"/* float32 names kept for code that is float32 by nature (storage, cameras) */\n",
"#define dvren_minf dvren__min_32\n",
"#define dvren_maxf dvren__max_32\n",
"#define dvren_clampf dvren__clamp_32\n",
"#define dvren_absf dvren__abs_32\n",
"#define dvren_f3 dvren__v3_32\n",
"#define dvren_f3v dvren__v3p_32\n",
"DVREN_FN int dvren_clampi(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }\n",
"\n",
"/* Reinterpret bits (a union: valid C, and C++ compilers and NVRTC honour it). */\n",
"DVREN_FN float dvren__bits_to_float(uint32_t u)\n",
"{\n",
"    union { uint32_t u; float f; } c;\n",
"    c.u = u;\n",
"    return c.f;\n",
"}\n",
"DVREN_FN uint32_t dvren__float_to_bits(float f)\n",
"{\n",
"    union { uint32_t u; float f; } c;\n",
"    c.f = f;\n",
"    return c.u;\n",
"}\n",
"\n",
"/* ---- wide loads ------------------------------------------------------------------\n",
" * One 16-byte load of four floats and one 8-byte load of four u16 (the\n",
" * address must be aligned to 16 and 8 bytes). On the GPU these are single\n",
" * LDG.128 / LDG.64 instructions through the read-only path. */\n",
"typedef struct dvren_float4 { float x, y, z, w; } dvren_float4;\n",
"\n",
"DVREN_FN dvren_float4 dvren_load_f32x4(const float* p)\n",
"{\n",
"    dvren_float4 r;\n",
"#if DVREN_ON_GPU\n",
"    float4 v = __ldg((const float4*)p);\n",
"    r.x = v.x;\n",
"    r.y = v.y;\n",
"    r.z = v.z;\n",
"    r.w = v.w;\n",
"#else\n",
"    r.x = p[0];\n",
"    r.y = p[1];\n",
"    r.z = p[2];\n",
"    r.w = p[3];\n",
"#endif\n",
"    return r;\n",
"}\n",
"\n",
"/* u (0 .. 65535) as float, exactly: 2^23 + u has u in its mantissa. Two\n",
" * full-rate operations instead of one quarter-rate integer conversion. */\n",
"DVREN_FN float dvren_u16_to_float(uint32_t u) { return dvren__bits_to_float(0x4B000000u | u) - 8388608.0f; }\n",
"\n",
"DVREN_FN dvren_float4 dvren_load_u16x4(const uint16_t* p)\n",
"{\n",
"    dvren_float4 r;\n",
"#if DVREN_ON_GPU\n",
"    uint2 v = __ldg((const uint2*)p);\n",
"    r.x = dvren_u16_to_float(v.x & 0xFFFFu);\n",
"    r.y = dvren_u16_to_float(v.x >> 16);\n",
"    r.z = dvren_u16_to_float(v.y & 0xFFFFu);\n",
"    r.w = dvren_u16_to_float(v.y >> 16);\n",
"#else\n",
"    r.x = dvren_u16_to_float(p[0]);\n",
"    r.y = dvren_u16_to_float(p[1]);\n",
"    r.z = dvren_u16_to_float(p[2]);\n",
"    r.w = dvren_u16_to_float(p[3]);\n",
"#endif\n",
"    return r;\n",
"}\n",
"\n",
"/* ---- counter-based RNG: Philox4x32-10 -------------------------------------\n",
" * Salmon, Moraes, Dror, Shaw, \"Parallel random numbers: as easy as 1, 2, 3\",\n",
" * SC 2011. A pure function of (counter, key): the same numbers on the CPU and\n",
" * the GPU, in any thread order. dvren keys it with the plan's 64-bit seed and\n",
" * counts with (pixel index, pixel sample, stream, draw index). */\n",
"typedef struct dvren_u32x4 { uint32_t v[4]; } dvren_u32x4;\n",
"\n",
"DVREN_FN uint32_t dvren__mulhilo(uint32_t a, uint32_t b, uint32_t* hi)\n",
"{\n",
"    uint64_t p = (uint64_t)a * (uint64_t)b;\n",
"    *hi = (uint32_t)(p >> 32);\n",
"    return (uint32_t)p;\n",
"}\n",
"\n",
"DVREN_FN dvren_u32x4 dvren_philox4x32(dvren_u32x4 c, uint32_t k0, uint32_t k1)\n",
"{\n",
"    int r;\n",
"    for (r = 0; r < 10; ++r) {\n",
"        uint32_t hi0, hi1;\n",
"        uint32_t lo0 = dvren__mulhilo(0xD2511F53u, c.v[0], &hi0);\n",
"        uint32_t lo1 = dvren__mulhilo(0xCD9E8D57u, c.v[2], &hi1);\n",
"        dvren_u32x4 n;\n",
"        n.v[0] = hi1 ^ c.v[1] ^ k0;\n",
"        n.v[1] = lo1;\n",
"        n.v[2] = hi0 ^ c.v[3] ^ k1;\n",
"        n.v[3] = lo0;\n",
"        c = n;\n",
"        k0 += 0x9E3779B9u;\n",
"        k1 += 0xBB67AE85u;\n",
"    }\n",
"    return c;\n",
"}\n",
"\n",
"/* Uniform float in [0, 1) with 24 random bits. */\n",
"DVREN_FN float dvren_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }\n",
"\n",
"/* Per-ray random stream: four numbers per Philox call, handed out in order. */\n",
"typedef struct dvren_rng {\n",
"    uint32_t key[2];     /* the plan's seed (low, high 32 bits) */\n",
"    uint32_t ctr[3];     /* pixel index, pixel sample, stream */\n",
"    uint32_t draw;       /* next Philox block */\n",
"    uint32_t used;       /* numbers taken from buf (4 = empty) */\n",
"    uint32_t buf[4];\n",
"} dvren_rng;\n",
"\n",
"/* Streams: separate sequences for separate purposes, so that adding draws to\n",
" * one stage never shifts the numbers another stage sees. */\n",
"#define DVREN_RNG_STREAM_PIXEL 0u   /* sub-pixel position */\n",
"#define DVREN_RNG_STREAM_SAMPLER 1u /* sampler jitter */\n",
"#define DVREN_RNG_STREAM_SHADER 2u\n",
"\n",
"DVREN_FN dvren_rng dvren_rng_make(uint32_t seed_lo, uint32_t seed_hi, uint32_t pixel, uint32_t sample, uint32_t stream)\n",
"{\n",
"    dvren_rng r;\n",
"    r.key[0] = seed_lo;\n",
"    r.key[1] = seed_hi;\n",
"    r.ctr[0] = pixel;\n",
"    r.ctr[1] = sample;\n",
"    r.ctr[2] = stream;\n",
"    r.draw = 0;\n",
"    r.used = 4;\n",
"    r.buf[0] = r.buf[1] = r.buf[2] = r.buf[3] = 0;\n",
"    return r;\n",
"}\n",
"\n",
"DVREN_FN uint32_t dvren_rng_u32(dvren_rng* r)\n",
"{\n",
"    if (r->used >= 4) {\n",
"        dvren_u32x4 c;\n",
"        c.v[0] = r->ctr[0];\n",
"        c.v[1] = r->ctr[1];\n",
"        c.v[2] = r->ctr[2];\n",
"        c.v[3] = r->draw++;\n",
"        c = dvren_philox4x32(c, r->key[0], r->key[1]);\n",
"        r->buf[0] = c.v[0];\n",
"        r->buf[1] = c.v[1];\n",
"        r->buf[2] = c.v[2];\n",
"        r->buf[3] = c.v[3];\n",
"        r->used = 0;\n",
"    }\n",
"    return r->buf[r->used++];\n",
"}\n",
"\n",
"/* Uniform in [0, 1). */\n",
"DVREN_FN float dvren_rng_uniform(dvren_rng* r) { return dvren_u32_to_unit(dvren_rng_u32(r)); }\n",
"\n",
"/* ---- IEEE half precision (binary16) storage -------------------------------\n",
" * Conversions by bit manipulation, identical on both paths; round to nearest\n",
" * even, with subnormals, infinities and NaN (IEEE 754-2008, 3.6). */\n",
"\n",
"DVREN_FN float dvren_half_to_float(uint16_t h)\n",
"{\n",
"    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;\n",
"    uint32_t exp = (h >> 10) & 0x1Fu;\n",
"    uint32_t man = h & 0x3FFu;\n",
"    if (exp == 0) {\n",
"        /* zero or subnormal: man * 2^-24 */\n",
"        float v = (float)man * (1.0f / 16777216.0f);\n",
"        return sign ? -v : v;\n",
"    }\n",
"    if (exp == 31) return dvren__bits_to_float(sign | 0x7F800000u | (man << 13));\n",
"    return dvren__bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));\n",
"}\n",
"\n",
"DVREN_FN uint16_t dvren_float_to_half(float f)\n",
"{\n",
"    uint32_t x = dvren__float_to_bits(f);\n",
"    uint32_t sign = (x >> 16) & 0x8000u;\n",
"    uint32_t absx = x & 0x7FFFFFFFu;\n",
"    if (absx >= 0x7F800000u) /* inf or NaN (NaN keeps a quiet bit) */\n",
"        return (uint16_t)(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0u));\n",
"    if (absx >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds to >= 65520: inf */\n",
"    if (absx < 0x38800000u) {\n",
"        /* result is subnormal or zero: value / 2^-24, rounded to nearest even */\n",
"        uint32_t man = (absx & 0x7FFFFFu) | 0x800000u;\n",
"        int e = (int)(absx >> 23);\n",
"        int shift = 126 - e; /* value = man * 2^(e-150); half units are 2^-24 */\n",
"        uint32_t q, rem, halfway;\n",
"        if (e == 0 || shift > 24) return (uint16_t)sign;\n",
"        q = man >> shift;\n",
"        rem = man & ((1u << shift) - 1u);\n",
"        halfway = 1u << (shift - 1);\n",
"        if (rem > halfway || (rem == halfway && (q & 1u))) q++;\n",
"        return (uint16_t)(sign | q);\n",
"    }\n",
"    {\n",
"        uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */\n",
"        uint32_t q = r >> 13;\n",
"        uint32_t rem = r & 0x1FFFu;\n",
"        if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;\n",
"        return (uint16_t)(sign | q);\n",
"    }\n",
"}\n",
"\n",
"/* ---- cameras -------------------------------------------------------------------\n",
" * One plain struct for every camera model, so that device code can generate\n",
" * rays without function pointers. Conventions (OpenGL): right-handed world,\n",
" * the camera looks down its -z axis with +y up; pixel (0,0) is the top-left\n",
" * corner of the image, x to the right, y down; pixel centres are at +0.5. */\n",
"#define DVREN_CAMERA_NONE 0u\n",
"#define DVREN_CAMERA_PINHOLE 1u      /* perspective from eye, basis, tan(fov_y/2) */\n",
"#define DVREN_CAMERA_ORTHOGRAPHIC 2u /* parallel rays along forward */\n",
"#define DVREN_CAMERA_MATRIX 3u       /* inverse of projection*view (OpenGL clip space) */\n",
"#define DVREN_CAMERA_INTRINSICS 4u   /* pinhole from eye, basis and fx, fy, cx, cy in pixels (OpenCV's K) */\n",
"\n",
"typedef struct dvren_camera {\n",
"    uint32_t model;          /* DVREN_CAMERA_* */\n",
"    uint32_t perspective;    /* MATRIX: 1 when the projection is perspective */\n",
"    float eye[3];            /* world position of the camera (centre of projection) */\n",
"    float forward[3];        /* unit view direction (camera -z) */\n",
"    float right[3];          /* unit camera +x */\n",
"    float up[3];             /* unit camera +y */\n",
"    float tan_half_fov_y;    /* PINHOLE: tan(vertical field of view / 2) */\n",
"    float ortho_height;      /* ORTHOGRAPHIC: world units spanned by the image height */\n",
"    float inv_view_proj[16]; /* MATRIX: inverse(P*V), column-major (OpenGL) */\n",
"    float fx, fy, cx, cy;    /* INTRINSICS: focal lengths and principal point in pixels of the plan's image */\n",
"} dvren_camera;\n",
"\n",
"/* Ray through image position (px, py) in pixels (top-left origin, y down) of a\n",
" * width x height image: its origin and unit direction. PINHOLE and\n",
" * perspective MATRIX rays start at the eye; ORTHOGRAPHIC rays start on the\n",
" * plane through the eye; orthographic MATRIX rays start on the near plane.\n",
" * Ray distances (and the depth output) are measured from that origin.\n",
" * dvren_ray_box: slab test of a ray against the box [bmin, bmax]; on a hit\n",
" * returns 1 with the entry distance *t0 (clamped to >= 0: rays may start\n",
" * inside) and the exit distance *t1 > *t0; axis-parallel rays are handled\n",
" * without 0*inf. Both in each precision (generic names below). */\n",
"#define DVREN__REAL_GEOM(R, V, S, M)                                                                                   \\\n",
"    DVREN_FN V dvren__unproject##S(const float* m, R x, R y, R z)                                                      \\\n",
"    {                                                                                                                  \\\n",
"        /* column-major: element (row r, column c) is m[c*4 + r] */                                                   \\\n",
"        R w = (R)m[3] * x + (R)m[7] * y + (R)m[11] * z + (R)m[15];                                                     \\\n",
"        R iw = (w != (R)0) ? (R)1 / w : (R)0;                                                                          \\\n",
"        return dvren__v3##S(((R)m[0] * x + (R)m[4] * y + (R)m[8] * z + (R)m[12]) * iw,                                 \\\n",
"                            ((R)m[1] * x + (R)m[5] * y + (R)m[9] * z + (R)m[13]) * iw,                                 \\\n",
"                            ((R)m[2] * x + (R)m[6] * y + (R)m[10] * z + (R)m[14]) * iw);                               \\\n",
"    }                                                                                                                  \\\n",
"    DVREN_FN void dvren__camera_ray##S(const dvren_camera* c, R px, R py, R width, R height, V* origin, V* dir)        \\\n",
"    {                                                                                                                  \\\n",
"        R nx = (R)2 * px / width - (R)1;  /* NDC x in [-1, 1], +1 at the right */                                    \\\n",
"        R ny = (R)1 - (R)2 * py / height; /* NDC y in [-1, 1], +1 at the top */                                      \\\n",
"        V e = dvren__v3p##S(c->eye), f = dvren__v3p##S(c->forward);                                                   \\\n",
"        V r = dvren__v3p##S(c->right), u = dvren__v3p##S(c->up);                                                      \\\n",
"        if (c->model == DVREN_CAMERA_ORTHOGRAPHIC) {                                                                   \\\n",
"            R hh = (R)0.5 * (R)c->ortho_height, hw = hh * width / height;                                              \\\n",
"            *origin = dvren__madd3##S(dvren__madd3##S(e, r, nx * hw), u, ny * hh);                                     \\\n",
"            *dir = f;                                                                                                  \\\n",
"        } else if (c->model == DVREN_CAMERA_INTRINSICS) {                                                              \\\n",
"            /* OpenCV's pinhole: camera x = right, y = -up (down), z = forward */                                     \\\n",
"            *origin = e;                                                                                               \\\n",
"            *dir = dvren__normalize3##S(dvren__madd3##S(dvren__madd3##S(f, r, (px - (R)c->cx) / (R)c->fx), u,          \\\n",
"                                                        -(py - (R)c->cy) / (R)c->fy));                                 \\\n",
"        } else if (c->model == DVREN_CAMERA_MATRIX) {                                                                  \\\n",
"            V pn = dvren__unproject##S(c->inv_view_proj, nx, ny, (R)-1);                                               \\\n",
"            V pf = dvren__unproject##S(c->inv_view_proj, nx, ny, (R)1);                                                \\\n",
"            *origin = c->perspective ? e : pn;                                                                         \\\n",
"            *dir = dvren__normalize3##S(dvren__sub3##S(pf, pn));                                                       \\\n",
"        } else {                                                                                                       \\\n",
"            R th = (R)c->tan_half_fov_y, tw = th * width / height;                                                     \\\n",
"            *origin = e;                                                                                               \\\n",
"            *dir = dvren__normalize3##S(dvren__madd3##S(dvren__madd3##S(f, r, nx * tw), u, ny * th));                  \\\n",
"        }                                                                                                              \\\n",
"    }                                                                                                                  \\\n",
"    DVREN_FN int dvren__ray_box##S(V o, V d, const float* bmin, const float* bmax, R* t0, R* t1)                       \\\n",
"    {                                                                                                                  \\\n",
"        R lo = (R)0, hi = (R)3.0e38;                                                                                   \\\n",
"        R oo[3], dd[3];                                                                                                \\\n",
"        int a;                                                                                                         \\\n",
"        oo[0] = o.x;                                                                                                   \\\n",
"        oo[1] = o.y;                                                                                                   \\\n",
"        oo[2] = o.z;                                                                                                   \\\n",
"        dd[0] = d.x;                                                                                                   \\\n",
"        dd[1] = d.y;                                                                                                   \\\n",
"        dd[2] = d.z;                                                                                                   \\\n",
"        for (a = 0; a < 3; ++a) {                                                                                      \\\n",
"            if (dd[a] == (R)0) {                                                                                       \\\n",
"                if (oo[a] < (R)bmin[a] || oo[a] > (R)bmax[a]) return 0;                                                \\\n",
"            } else {                                                                                                   \\\n",
"                R inv = (R)1 / dd[a];                                                                                  \\\n",
"                R ta = ((R)bmin[a] - oo[a]) * inv, tb = ((R)bmax[a] - oo[a]) * inv;                                    \\\n",
"                lo = dvren__max##S(lo, dvren__min##S(ta, tb));                                                         \\\n",
"                hi = dvren__min##S(hi, dvren__max##S(ta, tb));                                                         \\\n",
"            }                                                                                                          \\\n",
"        }                                                                                                              \\\n",
"        *t0 = lo;                                                                                                      \\\n",
"        *t1 = hi;                                                                                                      \\\n",
"        return hi > lo;                                                                                                \\\n",
"    }\n",
"\n",
"DVREN__REAL_GEOM(float, dvren_float3, _32, f)\n",
"#if !DVREN_ON_GPU\n",
"DVREN__REAL_GEOM(double, dvren_double3, _64, )\n",
"#endif\n",
"#define dvren_camera_ray DVREN__RN(dvren__camera_ray)\n",
"#define dvren_ray_box DVREN__RN(dvren__ray_box)\n",
"\n",
"/* ---- what the stages see -------------------------------------------------------- */\n",
"\n",
"/* The march budget a sampler receives, owned by the plan\n",
" * (dvren_plan_desc): samples_per_ray > 0 asks for that many samples over\n",
" * [t0, t1]; else step_world > 0 is the plan's step; else the step is\n",
" * step_default, half the field's voxel_world (the Nyquist step), computed\n",
" * once by the host. A sampler places its samples within this budget.\n",
" * step_default is new in plugin ABI 1.2, in what was padding: a sampler\n",
" * written against 1.1 reads both requests as 0 when the plan gives none,\n",
" * \"use your own settings\", as before. */\n",
"typedef struct dvren_march_budget {\n",
"    float step_world;         /* plan: step length in world units, or 0 */\n",
"    uint32_t samples_per_ray; /* plan: samples per ray, or 0 */\n",
"    float voxel_world;        /* field: smallest voxel edge in world units (> 0) */\n",
"    float step_default;       /* ABI 1.2: the step when the plan gives neither (world units, > 0) */\n",
"    /* ABI 1.3: the field's lattice, for samplers that walk its cells (dda):\n",
"     * its box and its voxel (cell) edge per axis, world units; the cells\n",
"     * number round((bounds_max - bounds_min) / voxel_size) per axis */\n",
"    float bounds_min[3], bounds_max[3];\n",
"    float voxel_size[3];\n",
"} dvren_march_budget;\n",
"\n",
"/* Per-ray sampler state, in the precision of the march; its meaning belongs\n",
" * to the sampler. */\n",
"typedef struct dvren__sstate_32 {\n",
"    float f[DVREN_SAMPLER_STATE_WORDS / 2];\n",
"    uint32_t u[DVREN_SAMPLER_STATE_WORDS / 2];\n",
"} dvren__sstate_32;\n",
"typedef struct dvren__sstate_64 {\n",
"    double f[DVREN_SAMPLER_STATE_WORDS / 2];\n",
"    uint32_t u[DVREN_SAMPLER_STATE_WORDS / 2];\n",
"} dvren__sstate_64;\n",
"typedef dvren__sstate_64 dvren_sampler_state_f64;\n",
"#define dvren_sampler_state DVREN__RN(dvren__sstate)\n",
"\n",
"/* A surface sample (ABI 1.3; docs/blocks.md, \"Surfaces in the march\"): a\n",
" * sampler's surface() fills normal and id, the march sets t. normal: unit,\n",
" * world space, pointing back at the ray (dot(normal, dir) <= 0); t: the\n",
" * distance along the unit ray direction from the ray's origin (world\n",
" * units); id: the sampler's name for the element hit (dda: the cell's\n",
" * linear index x + X (y + Y z)). Members are only ever appended. */\n",
"typedef struct dvren__surface_32 {\n",
"    dvren_float3 normal;\n",
"    float t;\n",
"    uint32_t id;\n",
"} dvren__surface_32;\n",
"typedef struct dvren__surface_64 {\n",
"    dvren_double3 normal;\n",
"    double t;\n",
"    uint32_t id;\n",
"} dvren__surface_64;\n",
"typedef dvren__surface_32 dvren_surface;\n",
"typedef dvren__surface_64 dvren_surface_f64;\n",
"#define dvren_surface_hit DVREN__RN(dvren__surface)\n",
"/* id of \"no surface\" (DVREN_OUTPUT_SURFACE_ID where a ray hit none) */\n",
"#define DVREN_NO_SURFACE 0xFFFFFFFFu\n",
"\n",
"/* ---- framebuffer ------------------------------------------------------------------ */\n",
"/* Output selection bits (dvren_plan_desc.outputs). */\n",
"#define DVREN_OUTPUT_RGB 0x01u           /* float32 (H, W, 3): composited radiance + T * background */\n",
"#define DVREN_OUTPUT_ALPHA 0x02u         /* float32 (H, W): opacity 1 - T */\n",
"#define DVREN_OUTPUT_DEPTH 0x04u         /* float32 (H, W): sum(w_i t_i) / sum(w_i), 0 where alpha = 0 */\n",
"#define DVREN_OUTPUT_TRANSMITTANCE 0x08u /* float32 (H, W): T, the light that passed through */\n",
"#define DVREN_OUTPUT_HIT 0x10u           /* uint8 (H, W): 1 where a ray entered the field's box */\n",
"#define DVREN_OUTPUT_SAMPLES 0x20u       /* uint32 (H, W): samples taken, summed over spp */\n",
"#define DVREN_OUTPUT_VARIANCE 0x40u      /* float32 (H, W): variance of the pixel's luminance estimate (below) */\n",
"#define DVREN_OUTPUT_SURFACE_ID 0x80u    /* uint32 (H, W): id of the first surface (dvren_surface) the pixel's rays hit, in ray order; else DVREN_NO_SURFACE */\n",
"#define DVREN_OUTPUT_MEDIAN_DEPTH 0x100u /* float32 (H, W): camera z of the Gaussian after which T <= 0.5, else 0 (splat renders; the ray march leaves it 0) */\n",
"#define DVREN_OUTPUT_ALL 0x1FFu\n",
"/* DVREN_OUTPUT_VARIANCE: the sample variance of the luminance Y (Rec. 709:\n",
" * 0.2126 R + 0.7152 G + 0.0722 B) of the pixel's n rays divided by n, the\n",
" * variance of the pixel's mean (0 when n = 1): where it is large more rays\n",
" * pay off (the error estimate of adaptive samplers; Pharr et al., PBRT 4th\n",
" * ed., 8.2). Luminance of the ray's radiance with its background term. */\n",
"#define DVREN_LUMA(r, g, b) ((dvren_real)0.2126 * (r) + (dvren_real)0.7152 * (g) + (dvren_real)0.0722 * (b))\n",
"\n",
"/* Raw pointers to the outputs of one framebuffer (any may be null), row-major\n",
" * (y, x), row 0 at the top of the image. */\n",
"typedef struct dvren_fb_view {\n",
"    float* rgb;\n",
"    float* alpha;\n",
"    float* depth;\n",
"    float* transmittance;\n",
"    uint8_t* hit;\n",
"    uint32_t* samples;\n",
"    uint32_t width, height;\n",
"    float* variance;\n",
"    uint32_t* surface_id;\n",
"    float* median_depth; /* splat renders only */\n",
"} dvren_fb_view;\n",
"\n",
"/* ---- gradients ------------------------------------------------------------------\n",
" * Where a per-sample backward function adds the gradient of one parameter\n",
" * buffer (the host binds it into the plugin's block with bind_gradients();\n",
" * ptr NULL: not wanted, the add is a no-op).\n",
" *   DVREN_GRAD_F32    float32 atomics: fast; the summation order varies, so the\n",
" *                     last bits vary from run to run\n",
" *   DVREN_GRAD_FIXED  int64 fixed point in units of 2^-32 (DVREN_GRAD_FIXED_SCALE)\n",
" *                     with integer atomics: sums are exact and order-free, so\n",
" *                     gradients are bitwise the same run after run; the host\n",
" *                     scales the cotangents so that they are <= 1 and turns the\n",
" *                     sums back into float32 afterwards\n",
" *   DVREN_GRAD_F64    float64, plain adds (one thread only: the gradient checker) */\n",
"#define DVREN_GRAD_F32 1u\n",
"#define DVREN_GRAD_FIXED 2u\n",
"#define DVREN_GRAD_F64 3u\n",
"#define DVREN_GRAD_FIXED_SCALE 4294967296.0\n",
"typedef struct dvren_grad_ref {\n",
"    void* ptr;\n",
"    uint32_t mode; /* DVREN_GRAD_* */\n",
"    uint32_t pad;\n",
"} dvren_grad_ref;\n",
"\n",
"/* v * 2^32 rounded to an integer, saturated far inside the int64 range */\n",
"#define DVREN__FIXED_Q(v, out)                                                                                         \\\n",
"    do {                                                                                                               \\\n",
"        double q_ = (double)(v) * DVREN_GRAD_FIXED_SCALE;                                                              \\\n",
"        q_ = q_ > 4.0e18 ? 4.0e18 : (q_ < -4.0e18 ? -4.0e18 : q_);                                                     \\\n",
"        (out) = DVREN__LLRINT(q_);                                                                                     \\\n",
"    } while (0)\n",
"\n",
"#if DVREN_ON_GPU\n",
"#define DVREN__LLRINT(q) __double2ll_rn(q)\n",
"#if defined(DVREN_JIT_GRAD_MODE)\n",
"#define DVREN__GRAD_MODE(g) DVREN_JIT_GRAD_MODE\n",
"#else\n",
"#define DVREN__GRAD_MODE(g) ((g).mode)\n",
"#endif\n",
"/* v * 2^32 rounded to an integer in float32 arithmetic: the scaling by a\n",
" * power of two is exact, so this equals DVREN__FIXED_Q of the same float\n",
" * without float64 work (slow on consumer GPUs) */\n",
"DVREN_FN long long dvren__fixed_q32(float v)\n",
"{\n",
"    float q = v * 4294967296.0f;\n",
"    q = q > 4.0e18f ? 4.0e18f : (q < -4.0e18f ? -4.0e18f : q);\n",
"    return __float2ll_rn(q);\n",
"}\n",
"\n",
"/* Deterministic mode, warp aggregation: the lanes of a warp that add to the\n",
" * same element at the same time first sum their fixed-point values among\n",
" * themselves (a tree over the lanes that share the key, found with\n",
" * __match_any_sync), then the lowest of them issues the atomics. Integer\n",
" * sums are exact in any grouping and order, so the result is the same bits\n",
" * whatever lanes happen to run together; neighbouring rays of a warp often\n",
" * hit the same voxel corners, which cuts the 64-bit atomics several-fold\n",
" * (the same grouping of the default mode's float32 values was slower than\n",
" * its plain float4 atomics on an H100: bench/RESULTS.md). Technique:\n",
" * warp-aggregated atomics with match.any (CUDA C++ Programming Guide, \"Warp\n",
" * Match Functions\"); n values per lane, n <= 4. */\n",
"DVREN_FN void dvren__fixed_add_warp(unsigned long long* dst, uint64_t i, long long* q, int n)\n",
"{\n",
"    unsigned active = __activemask(), lane, peers, rest, lt;\n",
"    int rank, k, lead;\n",
"    asm(\"mov.u32 %0, %%laneid;\" : \"=r\"(lane));\n",
"    peers = __match_any_sync(active, (unsigned long long)(dst + i)); /* the address: lanes may hold different buffers */\n",
"    lt = (1u << lane) - 1u;\n",
"    rest = peers & ~(lt | (1u << lane)); /* peers above this lane */\n",
"    rank = __popc(peers & lt);\n",
"    lead = rank == 0;\n",
"    while (__any_sync(active, rest != 0u)) {\n",
"        /* each lane takes the partial sum of its next remaining peer; the\n",
"         * lanes whose rank has the current bit set have just been taken */\n",
"        int src = rest ? __ffs(rest) - 1 : (int)lane;\n",
"        for (k = 0; k < n; ++k) {\n",
"            long long t = __shfl_sync(active, q[k], src);\n",
"            if (rest) q[k] += t;\n",
"        }\n",
"        rest &= ~__ballot_sync(active, rank & 1);\n",
"        rank >>= 1;\n",
"    }\n",
"    if (lead)\n",
"        for (k = 0; k < n; ++k)\n",
"            if (q[k]) atomicAdd(dst + i + k, (unsigned long long)q[k]); /* two's complement: the same bits */\n",
"}\n",
"\n",
"DVREN_FN void dvren__grad_add_32(dvren_grad_ref g, uint64_t i, float v)\n",
"{\n",
"    if (!g.ptr) return;\n",
"    if (DVREN__GRAD_MODE(g) == DVREN_GRAD_FIXED) {\n",
"        long long k = dvren__fixed_q32(v);\n",
"        dvren__fixed_add_warp((unsigned long long*)g.ptr, i, &k, 1);\n",
"    } else {\n",
"        if (v != 0.0f) atomicAdd((float*)g.ptr + i, v);\n",
"    }\n",
"}\n",
"/* Four consecutive elements i .. i+3 (i a multiple of 4): one vector atomic\n",
" * on sm_90 and newer, one aggregated group in the deterministic mode. */\n",
"DVREN_FN void dvren__grad_add4_32(dvren_grad_ref g, uint64_t i, float a, float b, float c, float d)\n",
"{\n",
"    if (!g.ptr) return;\n",
"    if (DVREN__GRAD_MODE(g) == DVREN_GRAD_FIXED) {\n",
"        long long k[4];\n",
"        k[0] = dvren__fixed_q32(a);\n",
"        k[1] = dvren__fixed_q32(b);\n",
"        k[2] = dvren__fixed_q32(c);\n",
"        k[3] = dvren__fixed_q32(d);\n",
"        dvren__fixed_add_warp((unsigned long long*)g.ptr, i, k, 4);\n",
"        return;\n",
"    }\n",
"#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900\n",
"    if (a != 0.0f || b != 0.0f || c != 0.0f || d != 0.0f)\n",
"        atomicAdd((float4*)((float*)g.ptr + i), make_float4(a, b, c, d));\n",
"#else\n",
"    dvren__grad_add_32(g, i, a);\n",
"    dvren__grad_add_32(g, i + 1, b);\n",
"    dvren__grad_add_32(g, i + 2, c);\n",
"    dvren__grad_add_32(g, i + 3, d);\n",
"#endif\n",
"}\n",
"#else\n",
"#if defined(_MSC_VER)\n",
"#include <intrin.h>\n",
"#endif\n",
"#define DVREN__LLRINT(q) ((int64_t)llrint(q))\n",
"/* CPU: compare-and-swap for float32, fetch-add for fixed point; both are\n",
" * safe with the renderer's worker threads */\n",
"DVREN_FN void dvren__grad_add_f32_atomic(float* p, float v)\n",
"{\n",
"    union { float f; uint32_t u; } o, n;\n",
"#if defined(_MSC_VER)\n",
"    o.f = *(volatile float*)p;\n",
"    for (;;) {\n",
"        long prev;\n",
"        n.f = o.f + v;\n",
"        prev = _InterlockedCompareExchange((volatile long*)p, (long)n.u, (long)o.u);\n",
"        if ((uint32_t)prev == o.u) return;\n",
"        o.u = (uint32_t)prev;\n",
"    }\n",
"#else\n",
"    o.u = __atomic_load_n((uint32_t*)p, __ATOMIC_RELAXED);\n",
"    do {\n",
"        n.f = o.f + v;\n",
"    } while (!__atomic_compare_exchange_n((uint32_t*)p, &o.u, n.u, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));\n",
"#endif\n",
"}\n",
"DVREN_FN void dvren__grad_add_64(dvren_grad_ref g, uint64_t i, double v)\n",
"{\n",
"    if (!g.ptr || v == 0.0) return;\n",
"    if (g.mode == DVREN_GRAD_F64) {\n",
"        ((double*)g.ptr)[i] += v;\n",
"    } else if (g.mode == DVREN_GRAD_FIXED) {\n",
"        int64_t k;\n",
"        DVREN__FIXED_Q(v, k);\n",
"#if defined(_MSC_VER)\n",
"        _InterlockedExchangeAdd64((volatile long long*)((int64_t*)g.ptr + i), k);\n",
"#else\n",
"        __atomic_fetch_add((int64_t*)g.ptr + i, k, __ATOMIC_RELAXED);\n",
"#endif\n",
"    } else {\n",
"        dvren__grad_add_f32_atomic((float*)g.ptr + i, (float)v);\n",
"    }\n",
"}\n",
"DVREN_FN void dvren__grad_add_32(dvren_grad_ref g, uint64_t i, float v) { dvren__grad_add_64(g, i, (double)v); }\n",
"DVREN_FN void dvren__grad_add4_64(dvren_grad_ref g, uint64_t i, double a, double b, double c, double d)\n",
"{\n",
"    dvren__grad_add_64(g, i, a);\n",
"    dvren__grad_add_64(g, i + 1, b);\n",
"    dvren__grad_add_64(g, i + 2, c);\n",
"    dvren__grad_add_64(g, i + 3, d);\n",
"}\n",
"DVREN_FN void dvren__grad_add4_32(dvren_grad_ref g, uint64_t i, float a, float b, float c, float d)\n",
"{\n",
"    dvren__grad_add4_64(g, i, (double)a, (double)b, (double)c, (double)d);\n",
"}\n",
"#endif\n",
"/* dvren_grad_add(g, i, v): add v to element i of the gradient g;\n",
" * dvren_grad_add4(g, i, a, b, c, d): to elements i .. i+3 (i a multiple of 4,\n",
" * the buffer 16-byte aligned) */\n",
"#define dvren_grad_add DVREN__RN(dvren__grad_add)\n",
"#define dvren_grad_add4 DVREN__RN(dvren__grad_add4)\n",
"\n",
"#endif /* DVREN_DEVICE_H */\n",
0};
/* >>cuda-src device end */
/* >>cuda-src march begin (generated from kernels/dvren_march.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_march[] = {
"/* kernels/dvren_march.h - the ray-march template of dvren (single source).\n",
" *\n",
" * Emission-absorption volume rendering, front to back, with early ray\n",
" * termination (Max, \"Optical models for direct volume rendering\", IEEE TVCG\n",
" * 1995, eq. 4-6; the quadrature of Mildenhall et al., NeRF, ECCV 2020, eq. 3):\n",
" *\n",
" *   alpha_i = 1 - exp(-sigma_i * dt_i)      T_i = prod_{j<i} (1 - alpha_j)\n",
" *   C = sum_i T_i alpha_i c_i + T_n * background\n",
" *\n",
" * and its backward pass by replay (below, \"Backward\").\n",
" *\n",
" * The template calls one field, one shader and one sampler through binding\n",
" * macros that the includer defines before including this file:\n",
" *\n",
" *   DVREN_STAGES_PARAM     extra leading parameter declaration (may be empty)\n",
" *   DVREN_STAGES_ARG       the matching argument (may be empty)\n",
" *   DVREN_FIELD_EVAL(P, p, out)                 void; out[0 .. channels-1]\n",
" *   DVREN_FIELD_EVAL_CHANNEL(P, p, c)           real; channel c alone (with lazy features)\n",
" *   DVREN_SHADER_DENSITY(P, ch, dt)             real sigma >= 0 [1/world unit]; dt: the segment length\n",
" *   DVREN_SHADER_COLOR(P, ch, grad, dir, rgb)   void; *rgb = emitted radiance\n",
" *   DVREN_SAMPLER_BEGIN(P, budget, o, d, t0, t1, rng, state)   void\n",
" *   DVREN_SAMPLER_NEXT(P, state, t, dt)         int; 0 when the ray is done\n",
" *   DVREN_SAMPLER_SURFACE(P, budget, state, o, d, hit, where)   int; 1: the sample is a surface candidate\n",
" *   DVREN_SHADER_SURFACE_COLOR(P, ch, hit, dir, rgb)            void; *rgb = the surface's radiance\n",
" * and, for the backward pass (only where DVREN_MARCH_BACKWARD is defined):\n",
" *   DVREN_FIELD_EVAL_BWD(P, p, dL_dout)         void; adds to the field's gradients\n",
" *   DVREN_SHADER_DENSITY_BWD(P, ch, dt, dL_dsigma, dL_dch)        void; dL_dch +=\n",
" *   DVREN_SHADER_COLOR_BWD(P, ch, grad, dir, dL_drgb, dL_dch, dL_dgrad)  void; dL_dch +=, *dL_dgrad =\n",
" *   DVREN_SHADER_SURFACE_COLOR_BWD(P, ch, hit, dir, dL_drgb, dL_dch)    void; dL_dch +=\n",
" *\n",
" * Surfaces (plugin ABI 1.3; docs/blocks.md, \"Surfaces in the march\"): when\n",
" * the sampler's surface() marks a sample, the field is evaluated at the\n",
" * point `where` it gives, and if the shader's density there is > 0 the\n",
" * sample is an opaque surface at distance t: weight w = T, then T = 0 and\n",
" * the ray ends; its colour comes from the shader's surface colour. The\n",
" * surface's geometry (t, normal, which samples are solid) is discrete and\n",
" * gets no gradient; its colour's cotangent w dL/dC flows to the field's\n",
" * channels at `where`. A binding without surfaces defines\n",
" * DVREN_SAMPLER_SURFACE as 0.\n",
" *\n",
" * Precision: the per-precision part of this file is compiled in the\n",
" * precision DVREN_PREC_BITS in force where it is included (dvren_real is\n",
" * float or double; kernels/dvren_device.h). The CPU path includes it twice:\n",
" * float32 for rendering, float64 for the gradient checker; NVRTC once, in\n",
" * float32. Function and type names resolve per precision (DVREN__RN).\n",
" *\n",
" * The CPU path (dvren.h) binds the macros to the plugins' C functions\n",
" * through a table of pointers; the GPU path (dvren_cuda.h) binds them to\n",
" * direct calls of the same functions compiled by NVRTC, in one fused kernel,\n",
" * and may fix values known per scene at compile time: DVREN_JIT_NEEDS_GRADIENT,\n",
" * DVREN_JIT_GRADIENT_CHANNEL, DVREN_JIT_LAZY, DVREN_JIT_DENSITY_CHANNEL (a\n",
" * run-time index into the channel array would put it in local memory on the\n",
" * GPU), DVREN_JIT_SKIP_EMPTY.\n",
" *\n",
" * Lazy features: when the shader's density reads one channel and the field\n",
" * can evaluate one channel alone, each sample evaluates that channel first\n",
" * and the whole field only where sigma > 0. Empty samples emit and absorb\n",
" * nothing, so the image is the same; they just cost less.\n",
" *\n",
" * dvren.h carries one generated copy of this file (\">>march begin/end\", in\n",
" * its >>generated section) and reads it twice, in float32 and in float64;\n",
" * edit this file and run `./build.sh gen`. */\n",
"#ifndef DVREN_MARCH_H\n",
"#define DVREN_MARCH_H\n",
"\n",
"#if defined(DVREN_JIT_NEEDS_GRADIENT)\n",
"#define DVREN__NEEDS_GRADIENT(A) DVREN_JIT_NEEDS_GRADIENT\n",
"#else\n",
"#define DVREN__NEEDS_GRADIENT(A) ((A)->needs_gradient)\n",
"#endif\n",
"#if defined(DVREN_JIT_LAZY)\n",
"#define DVREN__LAZY(A) DVREN_JIT_LAZY\n",
"#define DVREN__DENSITY_CHANNEL(A) DVREN_JIT_DENSITY_CHANNEL\n",
"#else\n",
"#define DVREN__LAZY(A) ((A)->lazy_features)\n",
"#define DVREN__DENSITY_CHANNEL(A) ((A)->density_channel)\n",
"#endif\n",
"#if defined(DVREN_JIT_GRADIENT_CHANNEL)\n",
"#define DVREN__GRADIENT_CHANNEL(A) DVREN_JIT_GRADIENT_CHANNEL\n",
"#else\n",
"#define DVREN__GRADIENT_CHANNEL(A) ((A)->gradient_channel)\n",
"#endif\n",
"#if defined(DVREN_JIT_SKIP_EMPTY)\n",
"#define DVREN__SKIP_EMPTY(A) DVREN_JIT_SKIP_EMPTY\n",
"#else\n",
"#define DVREN__SKIP_EMPTY(A) ((A)->skip_empty)\n",
"#endif\n",
"\n",
"/* Floats per ray of a ray-batch plan: origin xyz, unit direction xyz. */\n",
"#define DVREN_RAY_FLOATS 6\n",
"\n",
"/* Everything one launch (or one CPU render) needs, as plain data. */\n",
"typedef struct dvren_march_args {\n",
"    const void* field;        /* parameter blocks of the three stages */\n",
"    const void* shader;\n",
"    const void* sampler;\n",
"    float bmin[3], bmax[3];   /* field's world bounding box */\n",
"    uint32_t channels;        /* channels the field writes per sample */\n",
"    uint32_t needs_gradient;  /* shader wants the gradient of one channel */\n",
"    uint32_t gradient_channel;\n",
"    float gradient_step[3];   /* central-difference half step per axis: one voxel (world units) */\n",
"    float min_transmittance;  /* early ray termination threshold (0: off) */\n",
"    uint32_t lazy_features;   /* evaluate the density channel first (see above) */\n",
"    uint32_t density_channel;\n",
"    dvren_march_budget budget;\n",
"    dvren_camera camera;\n",
"    uint32_t width, height;   /* full image size in pixels */\n",
"    uint32_t roi_x, roi_y, roi_w, roi_h; /* pixels rendered */\n",
"    uint32_t spp;             /* samples per pixel, >= 1 */\n",
"    uint32_t seed_lo, seed_hi;\n",
"    float background[3];\n",
"    dvren_fb_view fb;         /* forward: outputs written */\n",
"    /* ray-batch plans: ray (y * width + x) is rays[6k .. 6k+5] (DVREN_RAY_FLOATS);\n",
"     * NULL: rays from the camera */\n",
"    const float* rays;\n",
"    /* backward: cotangents dL/d(output) per pixel (rgb, alpha, depth,\n",
"     * transmittance; NULL: zero), multiplied by grad_scale */\n",
"    dvren_fb_view grad;\n",
"    float grad_scale;\n",
"    /* backward: samples with sigma == 0 have zero gradient (the shader's\n",
"     * density is flat there and none of its parameters are being trained) */\n",
"    uint32_t skip_empty;\n",
"    /* backward, optional (spp == 1): the forward render's rgb (H, W, 3) and\n",
"     * transmittance (H, W) of this plan; the replay then takes each ray's\n",
"     * totals from them instead of marching it once more */\n",
"    const float* fwd_rgb;\n",
"    const float* fwd_transmittance;\n",
"    /* per-pixel budget (dvren_plan_desc.spp_map / step_map; NULL: none):\n",
"     * the rays of pixel k, spp_map[k] (1 .. 65536; replaces spp), and a\n",
"     * multiplier step_map[k] >= 1 of the march step (samples per ray divided\n",
"     * by it). ray_start[k] = sum of spp_map over pixels before k (uint32,\n",
"     * W*H + 1 entries): the GPU spreads the rays evenly over its threads */\n",
"    const uint32_t* spp_map;\n",
"    const float* step_map;\n",
"    const uint32_t* ray_start;\n",
"    const uint32_t* ray_start_host; /* the same prefix sums in host memory (a GPU splits its launch by them) */\n",
"} dvren_march_args;\n",
"\n",
"/* Rays of pixel `pix` (index y * width + x). */\n",
"DVREN_FN uint32_t dvren_pixel_spp(const dvren_march_args* A, uint32_t pix)\n",
"{\n",
"    return A->spp_map ? A->spp_map[pix] : A->spp;\n",
"}\n",
"\n",
"/* The march budget of pixel `pix`: the plan's, with the step multiplied by\n",
" * step_map[pix] (a count of samples per ray divided by it, at least 1). */\n",
"DVREN_FN dvren_march_budget dvren_pixel_budget(const dvren_march_args* A, uint32_t pix)\n",
"{\n",
"    dvren_march_budget b = A->budget;\n",
"    if (A->step_map) {\n",
"        float m = A->step_map[pix];\n",
"        b.step_world *= m;\n",
"        b.step_default *= m;\n",
"        if (b.samples_per_ray) {\n",
"            float n = (float)b.samples_per_ray / m;\n",
"            b.samples_per_ray = n < 1.0f ? 1u : (uint32_t)n;\n",
"        }\n",
"    }\n",
"    return b;\n",
"}\n",
"\n",
"#endif /* DVREN_MARCH_H */\n",
"\n",
"/* ---- per precision ---------------------------------------------------------------- */\n",
"#undef DVREN__MARCH_EMIT\n",
"#if DVREN_PREC_BITS == 64\n",
"#if !defined(DVREN__MARCH_64)\n",
"#define DVREN__MARCH_64\n",
"#define DVREN__MARCH_EMIT\n",
"#endif\n",
"#else\n",
"#if !defined(DVREN__MARCH_32)\n",
"#define DVREN__MARCH_32\n",
"#define DVREN__MARCH_EMIT\n",
"#endif\n",
"#endif\n",
"#if defined(DVREN__MARCH_EMIT)\n",
"#undef DVREN__MARCH_EMIT\n",
"\n",
"/* What one ray returns. depth_w = sum(w_i t_i) and weight = sum(w_i), the\n",
" * compositing weights w_i = T_i alpha_i; depth is depth_w / weight. */\n",
"typedef struct DVREN__RN(dvren__ray_result) {\n",
"    dvren_vec3 rgb;\n",
"    dvren_real transmittance;\n",
"    dvren_real depth_w;\n",
"    dvren_real weight;\n",
"    uint32_t hit;\n",
"    uint32_t samples;\n",
"    uint32_t id; /* the surface hit (dvren_surface.id), DVREN_NO_SURFACE when none */\n",
"} DVREN__RN(dvren__ray_result);\n",
"#define dvren_ray_result DVREN__RN(dvren__ray_result)\n",
"#define dvren_field_gradient DVREN__RN(dvren__field_gradient)\n",
"#define dvren_pixel_ray DVREN__RN(dvren__pixel_ray)\n",
"#define dvren_march_ray DVREN__RN(dvren__march_ray)\n",
"#define dvren_pixel_sum DVREN__RN(dvren__pixel_sum)\n",
"#define dvren_pixel_sum_add DVREN__RN(dvren__pixel_sum_add)\n",
"#define dvren_pixel_sum_zero DVREN__RN(dvren__pixel_sum_zero)\n",
"#define dvren_pixel_write DVREN__RN(dvren__pixel_write)\n",
"#define dvren_pixel_mean DVREN__RN(dvren__pixel_mean)\n",
"#define dvren_shade_pixel DVREN__RN(dvren__shade_pixel)\n",
"#define dvren_pixel_sample DVREN__RN(dvren__pixel_sample)\n",
"#define dvren_render_pixel DVREN__RN(dvren__render_pixel)\n",
"#define dvren_field_gradient_bwd DVREN__RN(dvren__field_gradient_bwd)\n",
"#define dvren_backward_ray DVREN__RN(dvren__backward_ray)\n",
"#define dvren_backward_pixel DVREN__RN(dvren__backward_pixel)\n",
"\n",
"/* Central-difference gradient of the gradient channel at p, with half step\n",
" * h[k] along axis k (one voxel: smaller steps see the kinks of trilinear\n",
" * interpolation and give streaky normals). */\n",
"DVREN_FN dvren_vec3 dvren_field_gradient(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 p, const float* h)\n",
"{\n",
"    dvren_real a[DVREN_MAX_CHANNELS], b[DVREN_MAX_CHANNELS];\n",
"    dvren_real g[3];\n",
"    int k;\n",
"    uint32_t c = DVREN__GRADIENT_CHANNEL(A);\n",
"    for (k = 0; k < 3; ++k) {\n",
"        dvren_vec3 e = dvren_v3(k == 0 ? (dvren_real)h[0] : (dvren_real)0, k == 1 ? (dvren_real)h[1] : (dvren_real)0,\n",
"                                k == 2 ? (dvren_real)h[2] : (dvren_real)0);\n",
"        DVREN_FIELD_EVAL(A->field, dvren_add3(p, e), a);\n",
"        DVREN_FIELD_EVAL(A->field, dvren_sub3(p, e), b);\n",
"        g[k] = (a[c] - b[c]) / ((dvren_real)2 * (dvren_real)h[k]);\n",
"    }\n",
"    return dvren_v3(g[0], g[1], g[2]);\n",
"}\n",
"\n",
"/* Ray of pixel sample s (of n) of pixel (x, y): from the plan's ray list, or\n",
" * from the camera through the pixel centre (n == 1) or a random sub-pixel\n",
" * position (stream DVREN_RNG_STREAM_PIXEL). */\n",
"DVREN_FN void dvren_pixel_ray(const dvren_march_args* A, uint32_t x, uint32_t y, uint32_t s, uint32_t n, dvren_vec3* o,\n",
"                              dvren_vec3* d)\n",
"{\n",
"    uint32_t pix = y * A->width + x;\n",
"    if (A->rays) {\n",
"        const float* r = A->rays + (uint64_t)pix * DVREN_RAY_FLOATS;\n",
"        *o = dvren_v3p(r);\n",
"        *d = dvren_v3p(r + 3);\n",
"    } else {\n",
"        dvren_real px = (dvren_real)x + (dvren_real)0.5, py = (dvren_real)y + (dvren_real)0.5;\n",
"        if (n > 1) {\n",
"            dvren_rng prng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_PIXEL);\n",
"            px = (dvren_real)x + (dvren_real)dvren_rng_uniform(&prng);\n",
"            py = (dvren_real)y + (dvren_real)dvren_rng_uniform(&prng);\n",
"        }\n",
"        dvren_camera_ray(&A->camera, px, py, (dvren_real)A->width, (dvren_real)A->height, o, d);\n",
"    }\n",
"}\n",
"\n",
"/* March one ray (o, d unit) through the field's box within budget B. */\n",
"DVREN_FN dvren_ray_result dvren_march_ray(DVREN_STAGES_PARAM const dvren_march_args* A, const dvren_march_budget* B,\n",
"                                          dvren_vec3 o, dvren_vec3 d, dvren_rng* rng)\n",
"{\n",
"    dvren_ray_result R;\n",
"    dvren_real t0, t1, t, dt;\n",
"    dvren_real ch[DVREN_MAX_CHANNELS];\n",
"    dvren_sampler_state st;\n",
"    R.rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"    R.transmittance = (dvren_real)1;\n",
"    R.depth_w = (dvren_real)0;\n",
"    R.weight = (dvren_real)0;\n",
"    R.hit = 0;\n",
"    R.samples = 0;\n",
"    R.id = DVREN_NO_SURFACE;\n",
"    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return R;\n",
"    R.hit = 1;\n",
"    DVREN_SAMPLER_BEGIN(A->sampler, B, o, d, t0, t1, rng, &st);\n",
"    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {\n",
"        dvren_vec3 p = dvren_madd3(o, d, t);\n",
"        dvren_real sigma, tr, w;\n",
"        dvren_vec3 c, grad;\n",
"        dvren_surface_hit sh;\n",
"        int surf;\n",
"        sh.id = DVREN_NO_SURFACE;\n",
"        surf = DVREN_SAMPLER_SURFACE(A->sampler, B, &st, o, d, &sh, &p);\n",
"        R.samples++;\n",
"        if (DVREN__LAZY(A)) {\n",
"            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));\n",
"            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);\n",
"            if (!(sigma > (dvren_real)0)) continue;\n",
"            DVREN_FIELD_EVAL(A->field, p, ch);\n",
"        } else {\n",
"            DVREN_FIELD_EVAL(A->field, p, ch);\n",
"            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);\n",
"            if (!(sigma > (dvren_real)0)) continue; /* empty space (and NaN) emits and absorbs nothing */\n",
"        }\n",
"        if (surf) { /* an opaque surface: opacity 1, the ray ends here */\n",
"            sh.t = t;\n",
"            DVREN_SHADER_SURFACE_COLOR(A->shader, ch, &sh, d, &c);\n",
"            w = R.transmittance;\n",
"            R.rgb = dvren_madd3(R.rgb, c, w);\n",
"            R.depth_w += w * t;\n",
"            R.weight += w;\n",
"            R.transmittance = (dvren_real)0;\n",
"            R.id = sh.id;\n",
"            break;\n",
"        }\n",
"        grad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);\n",
"        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &c);\n",
"        /* 1 - alpha_i computed as exp() directly: no cancellation in T */\n",
"        tr = dvren_exp(-sigma * dt);\n",
"        w = R.transmittance * ((dvren_real)1 - tr);\n",
"        R.rgb = dvren_madd3(R.rgb, c, w);\n",
"        R.depth_w += w * t;\n",
"        R.weight += w;\n",
"        R.transmittance *= tr;\n",
"        if (R.transmittance < (dvren_real)A->min_transmittance) break;\n",
"    }\n",
"    return R;\n",
"}\n",
"\n",
"/* Ray s (of n) of pixel (x, y) within budget B; its rgb includes the\n",
" * background term T * background. */\n",
"DVREN_FN dvren_ray_result dvren_pixel_sample(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y,\n",
"                                             uint32_t s, uint32_t n, const dvren_march_budget* B)\n",
"{\n",
"    dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, y * A->width + x, s, DVREN_RNG_STREAM_SAMPLER);\n",
"    dvren_vec3 o, d;\n",
"    dvren_ray_result R;\n",
"    dvren_pixel_ray(A, x, y, s, n, &o, &d);\n",
"    R = dvren_march_ray(DVREN_STAGES_ARG A, B, o, d, &srng);\n",
"    R.rgb = dvren_madd3(R.rgb, dvren_v3p(A->background), R.transmittance);\n",
"    return R;\n",
"}\n",
"\n",
"/* A pixel's rays summed in order s = 0 .. n-1 (the CPU's loop and the GPU's\n",
" * gather add in the same order, so both give the same bits). */\n",
"typedef struct DVREN__RN(dvren__pixel_sum) {\n",
"    dvren_vec3 rgb;\n",
"    dvren_real trans, depth_w, weight, luma, luma2;\n",
"    uint32_t hit, samples;\n",
"    uint32_t id; /* the first surface its rays hit, in order */\n",
"} DVREN__RN(dvren__pixel_sum);\n",
"\n",
"DVREN_FN void dvren_pixel_sum_zero(dvren_pixel_sum* P)\n",
"{\n",
"    P->rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"    P->trans = P->depth_w = P->weight = P->luma = P->luma2 = (dvren_real)0;\n",
"    P->hit = P->samples = 0u;\n",
"    P->id = DVREN_NO_SURFACE;\n",
"}\n",
"\n",
"DVREN_FN void dvren_pixel_sum_add(dvren_pixel_sum* P, const dvren_ray_result* R)\n",
"{\n",
"    dvren_real y = DVREN_LUMA(R->rgb.x, R->rgb.y, R->rgb.z);\n",
"    P->rgb = dvren_add3(P->rgb, R->rgb);\n",
"    P->trans += R->transmittance;\n",
"    P->depth_w += R->depth_w;\n",
"    P->weight += R->weight;\n",
"    P->luma += y;\n",
"    P->luma2 += y * y;\n",
"    P->hit |= R->hit;\n",
"    P->samples += R->samples;\n",
"    if (P->id == DVREN_NO_SURFACE) P->id = R->id;\n",
"}\n",
"\n",
"/* The averages of a pixel's n rays: out[0..2] rgb, out[3] alpha 1 - T,\n",
" * out[4] depth sum(w t) / sum(w) (0 where nothing was hit), out[5] T,\n",
" * out[6] the variance of the luminance estimate (DVREN_OUTPUT_VARIANCE; 0\n",
" * when n = 1). */\n",
"DVREN_FN void dvren_pixel_mean(const dvren_pixel_sum* P, uint32_t n, dvren_real* out)\n",
"{\n",
"    dvren_real inv = (dvren_real)1 / (dvren_real)n, v = (dvren_real)0;\n",
"    out[0] = P->rgb.x * inv;\n",
"    out[1] = P->rgb.y * inv;\n",
"    out[2] = P->rgb.z * inv;\n",
"    out[3] = (dvren_real)1 - P->trans * inv;\n",
"    out[4] = P->weight > (dvren_real)0 ? P->depth_w / P->weight : (dvren_real)0;\n",
"    out[5] = P->trans * inv;\n",
"    if (n > 1) {\n",
"        v = (P->luma2 - P->luma * inv * P->luma) / ((dvren_real)(n - 1) * (dvren_real)n);\n",
"        if (v < (dvren_real)0) v = (dvren_real)0; /* rounding */\n",
"    }\n",
"    out[6] = v;\n",
"}\n",
"\n",
"/* Sums the rays of pixel (x, y) within its budget (one through the pixel\n",
" * centre when it has one, else at random sub-pixel positions) into *P, in\n",
" * order; returns their number. */\n",
"DVREN_FN uint32_t dvren_shade_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y,\n",
"                                    dvren_pixel_sum* P)\n",
"{\n",
"    uint32_t pix = y * A->width + x, n = dvren_pixel_spp(A, pix), s;\n",
"    dvren_march_budget B = dvren_pixel_budget(A, pix);\n",
"    dvren_pixel_sum_zero(P);\n",
"    for (s = 0; s < n; ++s) {\n",
"        dvren_ray_result R = dvren_pixel_sample(DVREN_STAGES_ARG A, x, y, s, n, &B);\n",
"        dvren_pixel_sum_add(P, &R);\n",
"    }\n",
"    return n;\n",
"}\n",
"\n",
"/* Writes the averages of pixel `pix`'s n rays into every output of A->fb\n",
" * that is not null. */\n",
"DVREN_FN void dvren_pixel_write(const dvren_march_args* A, uint32_t pix, const dvren_pixel_sum* P, uint32_t n)\n",
"{\n",
"    dvren_real o[7];\n",
"    dvren_pixel_mean(P, n, o);\n",
"    if (A->fb.rgb) {\n",
"        A->fb.rgb[3 * pix + 0] = (float)o[0];\n",
"        A->fb.rgb[3 * pix + 1] = (float)o[1];\n",
"        A->fb.rgb[3 * pix + 2] = (float)o[2];\n",
"    }\n",
"    if (A->fb.alpha) A->fb.alpha[pix] = (float)o[3];\n",
"    if (A->fb.transmittance) A->fb.transmittance[pix] = (float)o[5];\n",
"    if (A->fb.depth) A->fb.depth[pix] = (float)o[4];\n",
"    if (A->fb.hit) A->fb.hit[pix] = (uint8_t)P->hit;\n",
"    if (A->fb.samples) A->fb.samples[pix] = P->samples;\n",
"    if (A->fb.variance) A->fb.variance[pix] = (float)o[6];\n",
"    if (A->fb.surface_id) A->fb.surface_id[pix] = P->id;\n",
"}\n",
"\n",
"/* Render pixel (x, y) of the plan into every output of A->fb that is not null. */\n",
"DVREN_FN void dvren_render_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)\n",
"{\n",
"    dvren_pixel_sum P;\n",
"    uint32_t n = dvren_shade_pixel(DVREN_STAGES_ARG A, x, y, &P);\n",
"    dvren_pixel_write(A, y * A->width + x, &P, n);\n",
"}\n",
"\n",
"#if defined(DVREN_MARCH_BACKWARD)\n",
"/* ---- Backward -----------------------------------------------------------------------\n",
" * By replay (as Plenoxels and nerfacc do): nothing is stored per sample, so\n",
" * memory does not grow with the number of samples. For one ray with\n",
" * tau_i = sigma_i dt_i, T_{i+1} = T_i exp(-tau_i), w_i = T_i - T_{i+1}:\n",
" *\n",
" *   dC/dc_i     = w_i\n",
" *   dC/dtau_i   = T_{i+1} c_i - (C - sum_{k<=i} w_k c_k)     (C includes T_N bg)\n",
" *   dT_N/dtau_i = -T_N\n",
" *   dDw/dtau_i  = T_{i+1} t_i - (Dw - sum_{k<=i} w_k t_k)    (Dw = sum w_k t_k)\n",
" *   dW/dtau_i   = T_{i+1} - (W - sum_{k<=i} w_k)             (W = sum w_k)\n",
" *\n",
" * so one pass that knows the ray's totals (C, T_N, Dw, W) can replay the\n",
" * samples in order and hand each its gradient. The totals come from a first\n",
" * replay (dvren_march_ray). The pixel's depth D = sum_s Dw_s / sum_s W_s\n",
" * over its spp rays needs the pixel's sums first: a pass over its rays when\n",
" * a depth cotangent is given and spp > 1. Early ray termination replays the\n",
" * same decisions (the same arithmetic), so the gradient is that of the\n",
" * truncated sum, like the image. */\n",
"\n",
"/* Backward of dvren_field_gradient: dL_dgrad is the cotangent of the\n",
" * gradient; each of the six evaluations gets +-dL_dgrad[k] / (2 h_k) on the\n",
" * gradient channel. */\n",
"DVREN_FN void dvren_field_gradient_bwd(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 p, const float* h,\n",
"                                       dvren_vec3 dL_dgrad)\n",
"{\n",
"    dvren_real g[DVREN_MAX_CHANNELS];\n",
"    dvren_real gk[3];\n",
"    int k;\n",
"    uint32_t c, n = A->channels;\n",
"    gk[0] = dL_dgrad.x;\n",
"    gk[1] = dL_dgrad.y;\n",
"    gk[2] = dL_dgrad.z;\n",
"    for (c = 0; c < n; ++c) g[c] = (dvren_real)0;\n",
"    for (k = 0; k < 3; ++k) {\n",
"        dvren_vec3 e = dvren_v3(k == 0 ? (dvren_real)h[0] : (dvren_real)0, k == 1 ? (dvren_real)h[1] : (dvren_real)0,\n",
"                                k == 2 ? (dvren_real)h[2] : (dvren_real)0);\n",
"        dvren_real v = gk[k] / ((dvren_real)2 * (dvren_real)h[k]);\n",
"        if (v == (dvren_real)0) continue;\n",
"        g[DVREN__GRADIENT_CHANNEL(A)] = v;\n",
"        DVREN_FIELD_EVAL_BWD(A->field, dvren_add3(p, e), g);\n",
"        g[DVREN__GRADIENT_CHANNEL(A)] = -v;\n",
"        DVREN_FIELD_EVAL_BWD(A->field, dvren_sub3(p, e), g);\n",
"    }\n",
"}\n",
"\n",
"/* Replays one ray with its totals R (from dvren_march_ray with the same\n",
" * rng), handing every sample its gradient. gC: dL/dC of this ray (C\n",
" * includes T_N bg); gT: dL/dT_N; gD, D, W: the pixel's depth cotangent,\n",
" * depth and weight sum (gD = 0: no depth term). */\n",
"DVREN_FN void dvren_backward_ray(DVREN_STAGES_PARAM const dvren_march_args* A, dvren_vec3 o, dvren_vec3 d, dvren_rng* rng,\n",
"                                 const dvren_ray_result* R, dvren_vec3 C, dvren_vec3 gC, dvren_real gT, dvren_real gD,\n",
"                                 dvren_real D, dvren_real W)\n",
"{\n",
"    dvren_real t0, t1, t, dt;\n",
"    dvren_real ch[DVREN_MAX_CHANNELS], dch[DVREN_MAX_CHANNELS];\n",
"    dvren_sampler_state st;\n",
"    dvren_real T = (dvren_real)1, pdw = (dvren_real)0, pw = (dvren_real)0;\n",
"    dvren_vec3 pc = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"    dvren_real gTT = -gT * R->transmittance; /* dL/dT_N * dT_N/dtau, the same for every sample */\n",
"    dvren_real gDW = W > (dvren_real)0 ? gD / W : (dvren_real)0;\n",
"    uint32_t n = A->channels, c;\n",
"    if (!dvren_ray_box(o, d, A->bmin, A->bmax, &t0, &t1)) return;\n",
"    DVREN_SAMPLER_BEGIN(A->sampler, &A->budget, o, d, t0, t1, rng, &st);\n",
"    while (DVREN_SAMPLER_NEXT(A->sampler, &st, &t, &dt)) {\n",
"        dvren_vec3 p = dvren_madd3(o, d, t);\n",
"        dvren_real sigma, tr, w, Tn, dtau;\n",
"        dvren_vec3 col, grad, dgrad;\n",
"        dvren_surface_hit sh;\n",
"        int surf;\n",
"        sh.id = DVREN_NO_SURFACE;\n",
"        surf = DVREN_SAMPLER_SURFACE(A->sampler, &A->budget, &st, o, d, &sh, &p);\n",
"        if (surf) { /* the forward's test; its geometry gets no gradient */\n",
"            if (DVREN__LAZY(A)) {\n",
"                ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));\n",
"                sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);\n",
"                if (!(sigma > (dvren_real)0)) continue;\n",
"            }\n",
"            DVREN_FIELD_EVAL(A->field, p, ch);\n",
"            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);\n",
"            if (!(sigma > (dvren_real)0)) continue;\n",
"            sh.t = t;\n",
"            for (c = 0; c < n; ++c) dch[c] = (dvren_real)0;\n",
"            DVREN_SHADER_SURFACE_COLOR_BWD(A->shader, ch, &sh, d, dvren_scale3(gC, T), dch);\n",
"            DVREN_FIELD_EVAL_BWD(A->field, p, dch);\n",
"            break;\n",
"        }\n",
"        if (DVREN__SKIP_EMPTY(A) && DVREN__LAZY(A)) {\n",
"            ch[DVREN__DENSITY_CHANNEL(A)] = DVREN_FIELD_EVAL_CHANNEL(A->field, p, DVREN__DENSITY_CHANNEL(A));\n",
"            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);\n",
"            if (!(sigma > (dvren_real)0)) continue;\n",
"            DVREN_FIELD_EVAL(A->field, p, ch);\n",
"        } else {\n",
"            DVREN_FIELD_EVAL(A->field, p, ch);\n",
"            sigma = DVREN_SHADER_DENSITY(A->shader, ch, dt);\n",
"            if (!(sigma > (dvren_real)0)) {\n",
"                /* no absorption, no emission: only a flat-density shader may skip it */\n",
"                if (DVREN__SKIP_EMPTY(A) || !(sigma == (dvren_real)0)) continue;\n",
"                sigma = (dvren_real)0;\n",
"            }\n",
"        }\n",
"        grad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"        if (DVREN__NEEDS_GRADIENT(A)) grad = dvren_field_gradient(DVREN_STAGES_ARG A, p, A->gradient_step);\n",
"        DVREN_SHADER_COLOR(A->shader, ch, grad, d, &col);\n",
"        /* the forward's arithmetic, operation for operation */\n",
"        tr = dvren_exp(-sigma * dt);\n",
"        w = T * ((dvren_real)1 - tr);\n",
"        pc = dvren_madd3(pc, col, w);\n",
"        pdw += w * t;\n",
"        pw += w;\n",
"        Tn = T * tr;\n",
"        dtau = dvren_dot3(gC, dvren_sub3(dvren_scale3(col, Tn), dvren_sub3(C, pc))) + gTT;\n",
"        if (gDW != (dvren_real)0)\n",
"            dtau += gDW * ((Tn * t - (R->depth_w - pdw)) - D * (Tn - (R->weight - pw)));\n",
"        for (c = 0; c < n; ++c) dch[c] = (dvren_real)0;\n",
"        dgrad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"        DVREN_SHADER_COLOR_BWD(A->shader, ch, grad, d, dvren_scale3(gC, w), dch, &dgrad);\n",
"        DVREN_SHADER_DENSITY_BWD(A->shader, ch, dt, dtau * dt, dch);\n",
"        DVREN_FIELD_EVAL_BWD(A->field, p, dch);\n",
"        if (DVREN__NEEDS_GRADIENT(A)) dvren_field_gradient_bwd(DVREN_STAGES_ARG A, p, A->gradient_step, dgrad);\n",
"        T = Tn;\n",
"        if (T < (dvren_real)A->min_transmittance) break;\n",
"    }\n",
"}\n",
"\n",
"/* Backward of dvren_render_pixel for pixel (x, y): reads the cotangents of\n",
" * A->grad at the pixel and adds every parameter's gradient through the\n",
" * stages' _bwd functions. */\n",
"DVREN_FN void dvren_backward_pixel(DVREN_STAGES_PARAM const dvren_march_args* A, uint32_t x, uint32_t y)\n",
"{\n",
"    uint32_t pix = y * A->width + x, s;\n",
"    dvren_real inv_spp = (dvren_real)1 / (dvren_real)A->spp, k = (dvren_real)A->grad_scale;\n",
"    dvren_vec3 gC = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"    dvren_real gT = (dvren_real)0, gD = (dvren_real)0, D = (dvren_real)0, W = (dvren_real)0;\n",
"    dvren_vec3 bg = dvren_v3p(A->background);\n",
"    if (A->grad.rgb) gC = dvren_scale3(dvren_v3p(A->grad.rgb + 3 * pix), k * inv_spp);\n",
"    if (A->grad.alpha) gT -= (dvren_real)A->grad.alpha[pix] * k * inv_spp;\n",
"    if (A->grad.transmittance) gT += (dvren_real)A->grad.transmittance[pix] * k * inv_spp;\n",
"    if (A->grad.depth) gD = (dvren_real)A->grad.depth[pix] * k;\n",
"    if (gC.x == (dvren_real)0 && gC.y == (dvren_real)0 && gC.z == (dvren_real)0 && gT == (dvren_real)0 &&\n",
"        gD == (dvren_real)0)\n",
"        return;\n",
"    if (gD != (dvren_real)0 && A->spp > 1) {\n",
"        /* the pixel's depth is a ratio of sums over its rays: those sums first */\n",
"        dvren_real dw = (dvren_real)0;\n",
"        for (s = 0; s < A->spp; ++s) {\n",
"            dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);\n",
"            dvren_vec3 o, d;\n",
"            dvren_ray_result R;\n",
"            dvren_pixel_ray(A, x, y, s, A->spp, &o, &d);\n",
"            R = dvren_march_ray(DVREN_STAGES_ARG A, &A->budget, o, d, &srng);\n",
"            dw += R.depth_w;\n",
"            W += R.weight;\n",
"        }\n",
"        D = W > (dvren_real)0 ? dw / W : (dvren_real)0;\n",
"    }\n",
"    if (A->spp == 1 && A->fwd_rgb && A->fwd_transmittance && gD == (dvren_real)0) {\n",
"        /* the forward pass's outputs are this ray's totals: C (with T_N bg)\n",
"         * and T_N, bit for bit what a replay would compute */\n",
"        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, 0u, DVREN_RNG_STREAM_SAMPLER);\n",
"        dvren_vec3 o, d;\n",
"        dvren_ray_result R;\n",
"        R.rgb = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);\n",
"        R.transmittance = (dvren_real)A->fwd_transmittance[pix];\n",
"        R.depth_w = R.weight = (dvren_real)0;\n",
"        R.hit = 1u;\n",
"        R.samples = 0u;\n",
"        R.id = DVREN_NO_SURFACE;\n",
"        dvren_pixel_ray(A, x, y, 0u, 1u, &o, &d);\n",
"        dvren_backward_ray(DVREN_STAGES_ARG A, o, d, &srng, &R, dvren_v3p(A->fwd_rgb + 3 * pix), gC, gT, gD, D, W);\n",
"        return;\n",
"    }\n",
"    for (s = 0; s < A->spp; ++s) {\n",
"        dvren_rng srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);\n",
"        dvren_vec3 o, d;\n",
"        dvren_ray_result R;\n",
"        dvren_pixel_ray(A, x, y, s, A->spp, &o, &d);\n",
"        R = dvren_march_ray(DVREN_STAGES_ARG A, &A->budget, o, d, &srng);\n",
"        if (!R.hit) continue;\n",
"        if (A->spp == 1) {\n",
"            W = R.weight;\n",
"            D = W > (dvren_real)0 ? R.depth_w / W : (dvren_real)0;\n",
"        }\n",
"        srng = dvren_rng_make(A->seed_lo, A->seed_hi, pix, s, DVREN_RNG_STREAM_SAMPLER);\n",
"        dvren_backward_ray(DVREN_STAGES_ARG A, o, d, &srng, &R, dvren_madd3(R.rgb, bg, R.transmittance), gC, gT, gD, D, W);\n",
"    }\n",
"}\n",
"#endif /* DVREN_MARCH_BACKWARD */\n",
"\n",
"#endif /* per precision */\n",
0};
/* >>cuda-src march end */
/* >>cuda-src kernel begin (generated from kernels/dvren_cuda_kernel.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_kernel[] = {
"/* kernels/dvren_cuda_kernel.h - entry point of dvren's fused GPU kernel.\n",
" *\n",
" * GPU only (not single source): dvren_cuda.h composes one translation unit\n",
" * per (field, shader, sampler) from kernels/dvren_device.h, the plugins'\n",
" * device sources, the binding macros, kernels/dvren_march.h and this file,\n",
" * and compiles it with NVRTC. The composer defines before this point:\n",
" *   dvren__blocks         the three stages' parameter blocks, 16-byte aligned\n",
" *   DVREN_CUDA_BLOCK_X/Y  the thread block's shape (pixels)\n",
" * One thread renders one pixel of the plan's region of interest; the thread\n",
" * block covers a DVREN_CUDA_BLOCK_X x DVREN_CUDA_BLOCK_Y tile, so a warp\n",
" * holds an 8 x 4 patch of neighbouring rays that read neighbouring voxels.\n",
" * Both parameters are __grid_constant__: the march reads the plan and the\n",
" * stage blocks straight from the kernel's parameter (constant) bank.\n",
" * Differentiable scenes add dvren_backward (DVREN_MARCH_BACKWARD). With\n",
" * DVREN_CUDA_TRAIN defined the file gives instead the context's training\n",
" * module: losses, total variation, optimizers and the deterministic mode's\n",
" * helpers over kernels/dvren_train.h.\n",
" *\n",
" * dvren_cuda.h carries a generated copy of this file (\">>cuda-src kernel\");\n",
" * edit this file and run `./build.sh gen`. */\n",
"#ifndef DVREN_CUDA_KERNEL_H\n",
"#define DVREN_CUDA_KERNEL_H\n",
"\n",
"/* Thread blocks per SM a march kernel is compiled for (__launch_bounds__'\n",
" * second argument). The composer sets DVREN_JIT_MIN_THREADS_PER_SM for\n",
" * scenes whose sampler gives surfaces (dda): their time goes into a tight\n",
" * traversal loop where occupancy pays, so 768 threads per SM (at most 80\n",
" * registers): the block world's march 17% faster on the H200 (96 registers\n",
" * and 31% occupancy before; bench/RESULTS.md, issue 12). Volume marches\n",
" * keep the compiler's choice: capped, a shaded dense grid spills. */\n",
"#if defined(DVREN_JIT_MIN_THREADS_PER_SM)\n",
"#define DVREN__LAUNCH_BOUNDS(threads) __launch_bounds__(threads, DVREN_JIT_MIN_THREADS_PER_SM / (threads))\n",
"#else\n",
"#define DVREN__LAUNCH_BOUNDS(threads) __launch_bounds__(threads)\n",
"#endif\n",
"\n",
"#if !defined(DVREN_CUDA_TRAIN)\n",
"extern \"C\" __global__ void DVREN__LAUNCH_BOUNDS(DVREN_CUDA_BLOCK_X * DVREN_CUDA_BLOCK_Y)\n",
"    dvren_forward(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B)\n",
"{\n",
"    uint32_t x = A.roi_x + blockIdx.x * DVREN_CUDA_BLOCK_X + threadIdx.x;\n",
"    uint32_t y = A.roi_y + blockIdx.y * DVREN_CUDA_BLOCK_Y + threadIdx.y;\n",
"    if (x >= A.roi_x + A.roi_w || y >= A.roi_y + A.roi_h) return;\n",
"    dvren_render_pixel(&B, &A, x, y);\n",
"}\n",
"\n",
"#if defined(DVREN_MARCH_BACKWARD)\n",
"/* Backward of dvren_forward (differentiable scenes): one thread replays one\n",
" * pixel's rays; B holds the blocks with the gradient buffers bound. */\n",
"extern \"C\" __global__ void DVREN__LAUNCH_BOUNDS(DVREN_CUDA_BLOCK_X * DVREN_CUDA_BLOCK_Y)\n",
"    dvren_backward(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B)\n",
"{\n",
"    uint32_t x = A.roi_x + blockIdx.x * DVREN_CUDA_BLOCK_X + threadIdx.x;\n",
"    uint32_t y = A.roi_y + blockIdx.y * DVREN_CUDA_BLOCK_Y + threadIdx.y;\n",
"    if (x >= A.roi_x + A.roi_w || y >= A.roi_y + A.roi_h) return;\n",
"    dvren_backward_pixel(&B, &A, x, y);\n",
"}\n",
"#endif\n",
"\n",
"/* ---- per-pixel budgets (plans with spp_map) ------------------------------\n",
" * One thread per pixel would make a warp wait for its largest budget: the\n",
" * 8 x 4 patch of a warp mixes pixels of 1 and 64 rays at the edge of an\n",
" * important region. So these plans run one thread per RAY: ray k of the\n",
" * image belongs to the pixel p with ray_start[p] <= k < ray_start[p + 1]\n",
" * (a binary search), and rays of neighbouring pixels stay neighbours in a\n",
" * warp. The host splits the image into chunks of pixels [p0, p1) whose rays\n",
" * [r0, r1) fit its record buffer; dvren_forward_rays writes one record per\n",
" * ray, then dvren_gather_rays sums each pixel's records in order s = 0 ..\n",
" * n-1, exactly as the CPU's dvren_shade_pixel does, so the image is the\n",
" * same and the time follows the total number of samples. */\n",
"typedef struct dvren_ray_record {\n",
"    float rgb[3]; /* with the background term */\n",
"    float transmittance, depth_w, weight;\n",
"    uint32_t samples_hit; /* samples | hit << 31 */\n",
"    uint32_t id;          /* the surface hit, DVREN_NO_SURFACE when none */\n",
"} dvren_ray_record;\n",
"static_assert(sizeof(dvren_ray_record) == 32, \"dvren_ray_record is 32 bytes (dvren_cuda.h allocates so)\");\n",
"\n",
"#define DVREN_RAYS_THREADS 128\n",
"extern \"C\" __global__ void DVREN__LAUNCH_BOUNDS(DVREN_RAYS_THREADS)\n",
"    dvren_forward_rays(const __grid_constant__ dvren_march_args A, const __grid_constant__ dvren__blocks B, uint32_t p0,\n",
"                       uint32_t p1, uint32_t r0, uint32_t r1, dvren_ray_record* rec)\n",
"{\n",
"    uint32_t k = r0 + blockIdx.x * DVREN_RAYS_THREADS + threadIdx.x, lo = p0, hi = p1 - 1, x, y, n;\n",
"    dvren_march_budget b;\n",
"    dvren_ray_result R;\n",
"    dvren_ray_record* o;\n",
"    if (k >= r1) return;\n",
"    while (lo < hi) { /* the last pixel whose first ray is <= k */\n",
"        uint32_t mid = lo + (hi - lo + 1) / 2;\n",
"        if (A.ray_start[mid] <= k) lo = mid;\n",
"        else hi = mid - 1;\n",
"    }\n",
"    x = lo % A.width;\n",
"    y = lo / A.width;\n",
"    if (x < A.roi_x || x >= A.roi_x + A.roi_w) return; /* outside the roi: gathered by nobody */\n",
"    n = A.ray_start[lo + 1] - A.ray_start[lo];\n",
"    b = dvren_pixel_budget(&A, lo);\n",
"    R = dvren_pixel_sample(&B, &A, x, y, k - A.ray_start[lo], n, &b);\n",
"    o = rec + (k - r0);\n",
"    o->rgb[0] = R.rgb.x;\n",
"    o->rgb[1] = R.rgb.y;\n",
"    o->rgb[2] = R.rgb.z;\n",
"    o->transmittance = R.transmittance;\n",
"    o->depth_w = R.depth_w;\n",
"    o->weight = R.weight;\n",
"    o->samples_hit = R.samples | (R.hit << 31);\n",
"    o->id = R.id;\n",
"}\n",
"\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN_RAYS_THREADS)\n",
"    dvren_gather_rays(const __grid_constant__ dvren_march_args A, uint32_t p0, uint32_t p1, uint32_t r0,\n",
"                      const dvren_ray_record* rec)\n",
"{\n",
"    uint32_t p = p0 + blockIdx.x * DVREN_RAYS_THREADS + threadIdx.x, x, n, s;\n",
"    dvren_pixel_sum P;\n",
"    const dvren_ray_record* q;\n",
"    if (p >= p1) return;\n",
"    x = p % A.width;\n",
"    if (x < A.roi_x || x >= A.roi_x + A.roi_w) return;\n",
"    n = A.ray_start[p + 1] - A.ray_start[p];\n",
"    q = rec + (A.ray_start[p] - r0);\n",
"    dvren_pixel_sum_zero(&P);\n",
"    for (s = 0; s < n; ++s) {\n",
"        dvren_ray_result R;\n",
"        R.rgb = dvren_v3(q[s].rgb[0], q[s].rgb[1], q[s].rgb[2]);\n",
"        R.transmittance = q[s].transmittance;\n",
"        R.depth_w = q[s].depth_w;\n",
"        R.weight = q[s].weight;\n",
"        R.hit = q[s].samples_hit >> 31;\n",
"        R.samples = q[s].samples_hit & 0x7FFFFFFFu;\n",
"        R.id = q[s].id;\n",
"        dvren_pixel_sum_add(&P, &R);\n",
"    }\n",
"    dvren_pixel_write(&A, p, &P, n);\n",
"}\n",
"\n",
"#else /* DVREN_CUDA_TRAIN: the context's training module (kernels/dvren_train.h) */\n",
"\n",
"#define DVREN__TRAIN_THREADS 256\n",
"/* Sum of one double per thread over the block into partial[blockIdx.x]; a\n",
" * fixed tree, and the host adds the partials in order: deterministic. */\n",
"__device__ void dvren__block_sum(double v, double* partial)\n",
"{\n",
"    __shared__ double s[DVREN__TRAIN_THREADS];\n",
"    uint32_t k;\n",
"    s[threadIdx.x] = v;\n",
"    __syncthreads();\n",
"    for (k = DVREN__TRAIN_THREADS / 2; k > 0; k >>= 1) {\n",
"        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];\n",
"        __syncthreads();\n",
"    }\n",
"    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];\n",
"}\n",
"\n",
"/* grad[j] = w * rho'(pred[j] - target[j]); partial: sums of rho (n elements) */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)\n",
"    dvren_loss_kernel(const float* pred, const float* target, float* grad, uint64_t n, uint32_t kind, float delta,\n",
"                      float w, double* partial)\n",
"{\n",
"    double sum = 0.0;\n",
"    uint64_t j;\n",
"    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {\n",
"        float d;\n",
"        sum += (double)dvren_loss_elem(kind, delta, pred[j] - target[j], &d);\n",
"        grad[j] = w * d;\n",
"    }\n",
"    dvren__block_sum(sum, partial);\n",
"}\n",
"\n",
"/* Total variation of channels [c0, c1) of a (Z, Y, X, C) grid: g += norm *\n",
" * dTV/dx when g is given; partial: sums of the terms. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)\n",
"    dvren_tv_kernel(const float* x, float* g, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c0, uint32_t c1,\n",
"                    uint32_t squared, float norm, double* partial)\n",
"{\n",
"    double sum = 0.0;\n",
"    uint32_t nc = c1 - c0;\n",
"    uint64_t n = (uint64_t)X * Y * Z * nc, j;\n",
"    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {\n",
"        uint32_t c = c0 + (uint32_t)(j % nc);\n",
"        uint64_t v = j / nc;\n",
"        uint32_t i = (uint32_t)(v % X), jj = (uint32_t)((v / X) % Y), k = (uint32_t)(v / ((uint64_t)X * Y));\n",
"        float gv;\n",
"        sum += (double)dvren_tv_voxel(x, X, Y, Z, C, c, i, jj, k, squared, &gv);\n",
"        if (g) g[v * C + c] += norm * gv;\n",
"    }\n",
"    dvren__block_sum(sum, partial);\n",
"}\n",
"\n",
"/* One fused Adam or SGD step over a parameter buffer of n elements. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)\n",
"    dvren_adam_kernel(float* x, float* m, float* v, const float* g, uint64_t n, float lr, float beta1, float beta2,\n",
"                      float eps, float wd, float bc1, float sbc2)\n",
"{\n",
"    uint64_t j;\n",
"    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x)\n",
"        dvren_adam_elem(x + j, m + j, v + j, g[j], lr, beta1, beta2, eps, wd, bc1, sbc2);\n",
"}\n",
"\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)\n",
"    dvren_sgd_kernel(float* x, float* buf, const float* g, uint64_t n, float lr, float momentum, float wd)\n",
"{\n",
"    uint64_t j;\n",
"    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x)\n",
"        dvren_sgd_elem(x + j, buf + j, g[j], lr, momentum, wd);\n",
"}\n",
"\n",
"/* Deterministic mode: g += fixed * unit (exact integer sums to float32),\n",
" * then fixed = 0. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)\n",
"    dvren_fixed_finalize(long long* fixed, float* g, uint64_t n, double unit)\n",
"{\n",
"    uint64_t j;\n",
"    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {\n",
"        long long q = fixed[j];\n",
"        if (q) {\n",
"            g[j] += (float)((double)q * unit);\n",
"            fixed[j] = 0;\n",
"        }\n",
"    }\n",
"}\n",
"\n",
"/* Largest |a[j]| as float bits (non-negative floats order as integers);\n",
" * 0x7F800000 or more: a value is not finite. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__TRAIN_THREADS)\n",
"    dvren_absmax_kernel(const float* a, uint64_t n, unsigned int* out)\n",
"{\n",
"    unsigned int m = 0u;\n",
"    uint64_t j;\n",
"    for (j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x) {\n",
"        unsigned int b = __float_as_uint(a[j]) & 0x7FFFFFFFu;\n",
"        m = b > m ? b : m;\n",
"    }\n",
"    if (m) atomicMax(out, m);\n",
"}\n",
"#endif /* DVREN_CUDA_TRAIN */\n",
"\n",
"#endif\n",
0};
/* >>cuda-src kernel end */
/* >>cuda-src train begin (generated from kernels/dvren_train.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_train[] = {
"/* kernels/dvren_train.h - per-element code of dvren's training operations\n",
" * (single source: compiled by the C compiler into dvren.h's CPU loops and\n",
" * by NVRTC into the GPU's training kernels). Float32 storage, float32\n",
" * arithmetic except where noted.\n",
" *\n",
" *   losses      dvren_loss_elem: value and derivative of L2, L1, Huber\n",
" *   TV          dvren_tv_voxel: a voxel's term of the total variation and\n",
" *               the gradient it gathers from every term that reads it\n",
" *   optimizers  dvren_adam_elem, dvren_sgd_elem: one parameter element\n",
" *\n",
" * dvren.h carries a generated copy (\">>train begin/end\"); edit this file\n",
" * and run `./build.sh gen`. */\n",
"#ifndef DVREN_TRAIN_H\n",
"#define DVREN_TRAIN_H\n",
"\n",
"/* Loss kinds (dvren_loss_kind). */\n",
"#define DVREN__LOSS_L2 0u\n",
"#define DVREN__LOSS_L1 1u\n",
"#define DVREN__LOSS_HUBER 2u\n",
"\n",
"/* rho(e) of one residual e = prediction - target, and d rho / d e. */\n",
"DVREN_FN float dvren_loss_elem(uint32_t kind, float delta, float e, float* d)\n",
"{\n",
"    float a = dvren_absf(e);\n",
"    if (kind == DVREN__LOSS_L1) {\n",
"        *d = e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f);\n",
"        return a;\n",
"    }\n",
"    if (kind == DVREN__LOSS_HUBER) {\n",
"        if (a < delta) {\n",
"            *d = e / delta;\n",
"            return 0.5f * e * e / delta;\n",
"        }\n",
"        *d = e > 0.0f ? 1.0f : -1.0f;\n",
"        return a - 0.5f * delta;\n",
"    }\n",
"    *d = 2.0f * e;\n",
"    return e * e;\n",
"}\n",
"\n",
"/* Total variation over a (Z, Y, X, C) grid x, channel c, voxel (i, j, k)\n",
" * (x, y, z indices). The term of voxel u is\n",
" *   s_u = sqrt(eps + dx_u^2 + dy_u^2 + dz_u^2)     (squared: dx^2 + dy^2 + dz^2)\n",
" * with dx_u = x[u + e_x] - x[u] (0 on the far face). Returns s_v and puts in\n",
" * *g the derivative of sum_u s_u with respect to x[v]: from s_v itself and\n",
" * from s_{v - e_x}, s_{v - e_y}, s_{v - e_z}, each recomputed here, so every\n",
" * voxel writes only its own gradient (no atomics). */\n",
"#define DVREN_TV_EPS 1e-8f\n",
"DVREN_FN void dvren__tv_diffs(const float* x, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c, uint32_t i,\n",
"                              uint32_t j, uint32_t k, float* dx, float* dy, float* dz)\n",
"{\n",
"    uint64_t v = (((uint64_t)k * Y + j) * X + i) * C + c;\n",
"    float xv = x[v];\n",
"    *dx = i + 1 < X ? x[v + C] - xv : 0.0f;\n",
"    *dy = j + 1 < Y ? x[v + (uint64_t)X * C] - xv : 0.0f;\n",
"    *dz = k + 1 < Z ? x[v + (uint64_t)X * Y * C] - xv : 0.0f;\n",
"}\n",
"\n",
"DVREN_FN float dvren_tv_voxel(const float* x, uint32_t X, uint32_t Y, uint32_t Z, uint32_t C, uint32_t c, uint32_t i,\n",
"                              uint32_t j, uint32_t k, uint32_t squared, float* g)\n",
"{\n",
"    float dx, dy, dz, s, q, r;\n",
"    dvren__tv_diffs(x, X, Y, Z, C, c, i, j, k, &dx, &dy, &dz);\n",
"    q = dx * dx + dy * dy + dz * dz;\n",
"    if (squared) {\n",
"        s = q;\n",
"        r = -2.0f * (dx + dy + dz);\n",
"    } else {\n",
"        s = sqrtf(DVREN_TV_EPS + q);\n",
"        r = -(dx + dy + dz) / s;\n",
"    }\n",
"    /* the terms of the three lower neighbours read x[v] as their \"+e\" value */\n",
"    if (i > 0) {\n",
"        float ax, ay, az;\n",
"        dvren__tv_diffs(x, X, Y, Z, C, c, i - 1, j, k, &ax, &ay, &az);\n",
"        r += squared ? 2.0f * ax : ax / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);\n",
"    }\n",
"    if (j > 0) {\n",
"        float ax, ay, az;\n",
"        dvren__tv_diffs(x, X, Y, Z, C, c, i, j - 1, k, &ax, &ay, &az);\n",
"        r += squared ? 2.0f * ay : ay / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);\n",
"    }\n",
"    if (k > 0) {\n",
"        float ax, ay, az;\n",
"        dvren__tv_diffs(x, X, Y, Z, C, c, i, j, k - 1, &ax, &ay, &az);\n",
"        r += squared ? 2.0f * az : az / sqrtf(DVREN_TV_EPS + ax * ax + ay * ay + az * az);\n",
"    }\n",
"    *g = r;\n",
"    return s;\n",
"}\n",
"\n",
"/* Adam (Kingma and Ba, ICLR 2015, Algorithm 1) for one element, in the\n",
" * arrangement of torch.optim.Adam: m, v the moments; bc1 = 1 - beta1^t,\n",
" * sbc2 = sqrt(1 - beta2^t) for step t >= 1; weight decay adds wd * x to g. */\n",
"DVREN_FN void dvren_adam_elem(float* x, float* m, float* v, float g, float lr, float beta1, float beta2, float eps,\n",
"                              float wd, float bc1, float sbc2)\n",
"{\n",
"    float mm, vv;\n",
"    if (wd != 0.0f) g += wd * *x;\n",
"    mm = beta1 * *m + (1.0f - beta1) * g;\n",
"    vv = beta2 * *v + (1.0f - beta2) * g * g;\n",
"    *m = mm;\n",
"    *v = vv;\n",
"    *x -= (lr / bc1) * mm / (sqrtf(vv) / sbc2 + eps);\n",
"}\n",
"\n",
"/* SGD with momentum (torch.optim.SGD: buf = momentum buf + g; x -= lr buf;\n",
" * the first step starts the buffer at g, which buf = 0 gives as well). */\n",
"DVREN_FN void dvren_sgd_elem(float* x, float* buf, float g, float lr, float momentum, float wd)\n",
"{\n",
"    float b;\n",
"    if (wd != 0.0f) g += wd * *x;\n",
"    b = momentum * *buf + g;\n",
"    *buf = b;\n",
"    *x -= lr * b;\n",
"}\n",
"\n",
"#endif /* DVREN_TRAIN_H */\n",
0};
/* >>cuda-src train end */
/* >>cuda-src splat begin (generated from kernels/dvren_splat.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_splat[] = {
"/* kernels/dvren_splat.h - the 3D Gaussian splat rasteriser of dvren\n",
" * (single source: compiled by the C compiler into dvren.h's CPU path and by\n",
" * NVRTC into the GPU's splat kernels; docs/splats.md, \"Rendering\").\n",
" *\n",
" * The image formation of 3D Gaussian Splatting (Kerbl, Kopanas, Leimkuehler,\n",
" * Drettakis, SIGGRAPH 2023) as gsplat implements it (Ye et al., \"gsplat: an\n",
" * open-source library for Gaussian splatting\", JMLR 2025):\n",
" *\n",
" *   Gaussian i: mean mu (world), covariance Sigma = M M^T with\n",
" *     M = R(q / |q|) diag(exp(log_scale)), opacity o = sigmoid(logit), colour\n",
" *     from real spherical harmonics of degree 0..3 evaluated at the unit\n",
" *     direction from the camera centre to mu, + 0.5, clamped at 0.\n",
" *   EWA projection (Zwicker, Pfister, van Baar, Gross, \"EWA splatting\", IEEE\n",
" *     TVCG 2002, eq. 31-34): camera-space mean t = W mu + w (OpenCV camera:\n",
" *     x right, y down, z forward), Sigma' = J W Sigma W^T J^T with J the\n",
" *     Jacobian of the pinhole projection at t, whose x/z and y/z are clamped\n",
" *     to 1.3 times the half field of view (as 3DGS and gsplat do), plus the\n",
" *     low-pass dilation eps2d I (0.3 pixel^2). Conic Q = Sigma'^-1.\n",
" *   Culling: z outside [near, far], det(Sigma') <= 0, o < 1/255, or the\n",
" *     screen box (radius ceil(e sqrt(Sigma'_xx)), ceil(e sqrt(Sigma'_yy)),\n",
" *     e = min(3.33, sqrt(2 ln(255 o))), Hanson et al. 2024's opacity-aware\n",
" *     bound as gsplat uses it) entirely outside the image.\n",
" *   Binning: each visible Gaussian goes to every 16 x 16 tile its box\n",
" *     overlaps; each tile's list is sorted by depth z (ties: Gaussian index).\n",
" *   Per pixel p (centre at +0.5), front to back over its tile's list:\n",
" *     sigma_i = 0.5 d^T Q d (d = mean2d - p),\n",
" *     alpha_i = min(alpha_max, o exp(-sigma_i)), skipped when sigma_i < 0 or\n",
" *     alpha_i < 1/255; the pixel stops (exclusive) when T (1 - alpha_i)\n",
" *     <= min_transmittance (1e-4);\n",
" *     C = sum_i c_i alpha_i T_i + T background,   T_i = prod_{j<i}(1 - alpha_j)\n",
" *     alpha = 1 - T, depth = sum_i z_i alpha_i T_i / alpha (0 where alpha\n",
" *     is 0), median depth = z of the first Gaussian after which T <= 0.5,\n",
" *     count = the Gaussians composited.\n",
" *\n",
" * Backward (by replay, from the stored final T and the last list entry of\n",
" * each pixel, back to front: T_i = T_{i+1} / (1 - alpha_i)): the pixel's\n",
" * cotangents of rgb, alpha and depth give each list entry's gradient with\n",
" * respect to its projected quantities (mean2d, conic, opacity, colour,\n",
" * depth) (dvren_splat_bwd_step); the CPU adds them to that entry's slot\n",
" * (one thread owns a tile's pixels) and then sums each Gaussian's entries in\n",
" * a fixed order, the GPU reduces them over each warp and adds them to the\n",
" * Gaussian's sums with float atomics (so its last bits vary from run to\n",
" * run); then\n",
" * per Gaussian, dvren_splat_project_bwd carries them to the parameters:\n",
" * means, log-scales, quaternions, opacity logits, SH coefficients.\n",
" * Non-differentiable and given no gradient: the culling, the box, the\n",
" * 1/255 skip, the stop at min_transmittance, the median depth and count.\n",
" *\n",
" * Layouts (float32 storage; the float64 copy is the gradient checker's):\n",
" *   means (N, 3), log_scales (N, 3), quats (N, 4) w x y z, opacity logits\n",
" *   (N), sh (N, K, 3) with K = (degree + 1)^2, coefficient-major, colour\n",
" *   innermost (gsplat's layout; PLY's f_dc / f_rest are reordered by the\n",
" *   host).\n",
" *\n",
" * dvren.h carries a generated copy (\">>splat begin/end\") and reads it in\n",
" * float32 and float64; dvren_cuda.h carries one as strings (\">>cuda-src\n",
" * splat\") that NVRTC compiles in float32 into the splat module with\n",
" * kernels/dvren_cuda_splat.h; edit this file and run `./build.sh gen`. */\n",
"#ifndef DVREN_SPLAT_H\n",
"#define DVREN_SPLAT_H\n",
"\n",
"#define DVREN_SPLAT_TILE 16u                 /* tile edge in pixels */\n",
"#define DVREN_SPLAT_MAX_DEGREE 3u            /* spherical harmonics up to degree 3 */\n",
"#define DVREN_SPLAT_MAX_COEFFS 16u           /* (3 + 1)^2 */\n",
"#define DVREN_SPLAT_ALPHA_MIN (1.0f / 255.0f) /* alphas below are skipped */\n",
"#define DVREN_SPLAT_EXTEND 3.33f             /* box half-size in standard deviations (at most) */\n",
"#define DVREN_SPLAT_GRAD_FLOATS 10u          /* per list entry: mean2d xy, conic abc, opacity, rgb, depth */\n",
"\n",
"\n",
"/* The camera and settings as the rasteriser sees them (host fills it from\n",
" * the plan's camera and the render options). */\n",
"typedef struct dvren_splat_view {\n",
"    float W[9];               /* world to camera rotation, row-major (camera x right, y down, z forward) */\n",
"    float w[3];               /* world to camera translation: t = W mu + w */\n",
"    float eye[3];             /* camera centre in world (-W^T w) */\n",
"    float fx, fy, cx, cy;     /* pinhole intrinsics in pixels (pixel centres at +0.5) */\n",
"    uint32_t width, height;   /* image size in pixels */\n",
"    uint32_t tiles_x, tiles_y;\n",
"    float near_z, far_z;      /* camera-z range kept (world units) */\n",
"    float eps2d;              /* low-pass dilation added to the 2-D covariance's diagonal (pixel^2) */\n",
"    float alpha_max;          /* cap of alpha (0.99 in 3DGS, 0.999 in gsplat) */\n",
"    float min_transmittance;  /* a pixel stops before T would fall to this or below */\n",
"    float background[3];      /* added as T * background */\n",
"    uint32_t sh_degree;       /* 0 .. 3 */\n",
"    uint32_t count;           /* Gaussians */\n",
"    /* mixed scenes: an image layer (a volume render) composited at its depth\n",
"     * (docs/splats.md, \"Mixed scenes\"); layer_rgb NULL when there is none */\n",
"    const float* layer_rgb;   /* (H, W, 3) premultiplied radiance */\n",
"    const float* layer_alpha; /* (H, W) */\n",
"    const float* layer_depth; /* (H, W) expected ray distance from the eye (the volume's depth output) */\n",
"} dvren_splat_view;\n",
"\n",
"/* Camera-space position of mu: t = W mu + w. */\n",
"DVREN_FN void dvren_splat_to_camera(const dvren_splat_view* v, float x, float y, float z, float* t)\n",
"{\n",
"    t[0] = v->W[0] * x + v->W[1] * y + v->W[2] * z + v->w[0];\n",
"    t[1] = v->W[3] * x + v->W[4] * y + v->W[5] * z + v->w[1];\n",
"    t[2] = v->W[6] * x + v->W[7] * y + v->W[8] * z + v->w[2];\n",
"}\n",
"\n",
"#endif /* DVREN_SPLAT_H */\n",
"\n",
"/* ---- per precision ---------------------------------------------------------------- */\n",
"#undef DVREN__SPLAT_EMIT\n",
"#if DVREN_PREC_BITS == 64\n",
"#if !defined(DVREN__SPLAT_64)\n",
"#define DVREN__SPLAT_64\n",
"#define DVREN__SPLAT_EMIT\n",
"#endif\n",
"#else\n",
"#if !defined(DVREN__SPLAT_32)\n",
"#define DVREN__SPLAT_32\n",
"#define DVREN__SPLAT_EMIT\n",
"#endif\n",
"#endif\n",
"#if defined(DVREN__SPLAT_EMIT)\n",
"#undef DVREN__SPLAT_EMIT\n",
"\n",
"/* ---- spherical harmonics ------------------------------------------------------------\n",
" * The real SH basis of 3DGS and gsplat (Sloan, \"Stupid spherical harmonics\n",
" * tricks\", GDC 2008, with the signs 3DGS uses), at a unit direction n:\n",
" *   l = 0: C0\n",
" *   l = 1: -C1 y, C1 z, -C1 x\n",
" *   l = 2: C20 xy, C21 yz, C22 (2zz - xx - yy), C23 xz, C24 (xx - yy)\n",
" *   l = 3: C30 y(3xx - yy), C31 xyz, C32 y(4zz - xx - yy),\n",
" *          C33 z(2zz - 3xx - 3yy), C34 x(4zz - xx - yy), C35 z(xx - yy),\n",
" *          C36 x(xx - 3yy)\n",
" * dvren_splat_sh_basis writes the (degree + 1)^2 values b[k]. */\n",
"#define dvren_splat_sh_basis DVREN__RN(dvren__splat_sh_basis)\n",
"#define dvren_splat_sh_basis_grad DVREN__RN(dvren__splat_sh_basis_grad)\n",
"DVREN_FN void dvren_splat_sh_basis(uint32_t degree, dvren_real x, dvren_real y, dvren_real z, dvren_real* b)\n",
"{\n",
"    const dvren_real C1 = (dvren_real)0.4886025119029199;\n",
"    dvren_real xx = x * x, yy = y * y, zz = z * z;\n",
"    b[0] = (dvren_real)0.28209479177387814;\n",
"    if (degree < 1) return;\n",
"    b[1] = -C1 * y;\n",
"    b[2] = C1 * z;\n",
"    b[3] = -C1 * x;\n",
"    if (degree < 2) return;\n",
"    b[4] = (dvren_real)1.0925484305920792 * x * y;\n",
"    b[5] = (dvren_real)-1.0925484305920792 * y * z;\n",
"    b[6] = (dvren_real)0.31539156525252005 * ((dvren_real)2 * zz - xx - yy);\n",
"    b[7] = (dvren_real)-1.0925484305920792 * x * z;\n",
"    b[8] = (dvren_real)0.5462742152960396 * (xx - yy);\n",
"    if (degree < 3) return;\n",
"    b[9] = (dvren_real)-0.5900435899266435 * y * ((dvren_real)3 * xx - yy);\n",
"    b[10] = (dvren_real)2.890611442640554 * x * y * z;\n",
"    b[11] = (dvren_real)-0.4570457994644658 * y * ((dvren_real)4 * zz - xx - yy);\n",
"    b[12] = (dvren_real)0.3731763325901154 * z * ((dvren_real)2 * zz - (dvren_real)3 * xx - (dvren_real)3 * yy);\n",
"    b[13] = (dvren_real)-0.4570457994644658 * x * ((dvren_real)4 * zz - xx - yy);\n",
"    b[14] = (dvren_real)1.445305721320277 * z * (xx - yy);\n",
"    b[15] = (dvren_real)-0.5900435899266435 * x * (xx - (dvren_real)3 * yy);\n",
"}\n",
"\n",
"/* g += sum_k w[k] d b[k] / d n (n = (x, y, z), the partial derivatives of\n",
" * the polynomials above, n not constrained to the sphere). */\n",
"DVREN_FN void dvren_splat_sh_basis_grad(uint32_t degree, dvren_real x, dvren_real y, dvren_real z, const dvren_real* w,\n",
"                                        dvren_real* g)\n",
"{\n",
"    const dvren_real C1 = (dvren_real)0.4886025119029199;\n",
"    const dvren_real C20 = (dvren_real)1.0925484305920792, C21 = (dvren_real)-1.0925484305920792;\n",
"    const dvren_real C22 = (dvren_real)0.31539156525252005, C23 = (dvren_real)-1.0925484305920792;\n",
"    const dvren_real C24 = (dvren_real)0.5462742152960396;\n",
"    const dvren_real C30 = (dvren_real)-0.5900435899266435, C31 = (dvren_real)2.890611442640554;\n",
"    const dvren_real C32 = (dvren_real)-0.4570457994644658, C33 = (dvren_real)0.3731763325901154;\n",
"    const dvren_real C34 = (dvren_real)-0.4570457994644658, C35 = (dvren_real)1.445305721320277;\n",
"    const dvren_real C36 = (dvren_real)-0.5900435899266435;\n",
"    dvren_real xx = x * x, yy = y * y, zz = z * z;\n",
"    if (degree < 1) return;\n",
"    g[0] += -C1 * w[3];\n",
"    g[1] += -C1 * w[1];\n",
"    g[2] += C1 * w[2];\n",
"    if (degree < 2) return;\n",
"    g[0] += C20 * y * w[4] - (dvren_real)2 * C22 * x * w[6] + C23 * z * w[7] + (dvren_real)2 * C24 * x * w[8];\n",
"    g[1] += C20 * x * w[4] + C21 * z * w[5] - (dvren_real)2 * C22 * y * w[6] - (dvren_real)2 * C24 * y * w[8];\n",
"    g[2] += C21 * y * w[5] + (dvren_real)4 * C22 * z * w[6] + C23 * x * w[7];\n",
"    if (degree < 3) return;\n",
"    g[0] += (dvren_real)6 * C30 * x * y * w[9] + C31 * y * z * w[10] - (dvren_real)2 * C32 * x * y * w[11] -\n",
"            (dvren_real)6 * C33 * x * z * w[12] + C34 * ((dvren_real)4 * zz - (dvren_real)3 * xx - yy) * w[13] +\n",
"            (dvren_real)2 * C35 * x * z * w[14] + C36 * ((dvren_real)3 * xx - (dvren_real)3 * yy) * w[15];\n",
"    g[1] += C30 * ((dvren_real)3 * xx - (dvren_real)3 * yy) * w[9] + C31 * x * z * w[10] +\n",
"            C32 * ((dvren_real)4 * zz - xx - (dvren_real)3 * yy) * w[11] - (dvren_real)6 * C33 * y * z * w[12] -\n",
"            (dvren_real)2 * C34 * x * y * w[13] - (dvren_real)2 * C35 * y * z * w[14] -\n",
"            (dvren_real)6 * C36 * x * y * w[15];\n",
"    g[2] += C31 * x * y * w[10] + (dvren_real)8 * C32 * y * z * w[11] +\n",
"            C33 * ((dvren_real)6 * zz - (dvren_real)3 * xx - (dvren_real)3 * yy) * w[12] +\n",
"            (dvren_real)8 * C34 * x * z * w[13] + C35 * (xx - yy) * w[14];\n",
"}\n",
"\n",
"/* ---- projection ---------------------------------------------------------------------- */\n",
"\n",
"/* One projected Gaussian. rx == 0: culled (nothing else is valid). */\n",
"typedef struct DVREN__RN(dvren__splat_proj) {\n",
"    dvren_real x, y;       /* mean in pixels */\n",
"    dvren_real ca, cb, cc; /* conic Q = [ca cb; cb cc] (1 / pixel^2) */\n",
"    dvren_real opacity;    /* sigmoid of the logit */\n",
"    dvren_real depth;      /* camera z */\n",
"    dvren_real rgb[3];     /* SH colour (+0.5, clamped at 0) */\n",
"    int32_t rx, ry;        /* box half-size in pixels */\n",
"} DVREN__RN(dvren__splat_proj);\n",
"#define dvren_splat_proj DVREN__RN(dvren__splat_proj)\n",
"#define dvren_splat_rotation DVREN__RN(dvren__splat_rotation)\n",
"#define dvren_splat_project DVREN__RN(dvren__splat_project)\n",
"#define dvren_splat_project_bwd DVREN__RN(dvren__splat_project_bwd)\n",
"#define dvren_splat_tile_rect DVREN__RN(dvren__splat_tile_rect)\n",
"\n",
"/* Rotation matrix (row-major) of the quaternion q = (w, x, y, z) / |q|;\n",
" * returns |q| (0: degenerate, r untouched). */\n",
"DVREN_FN dvren_real dvren_splat_rotation(const dvren_real* q, dvren_real* r)\n",
"{\n",
"    dvren_real n = dvren_sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);\n",
"    dvren_real w, x, y, z;\n",
"    if (!(n > (dvren_real)0)) return (dvren_real)0;\n",
"    w = q[0] / n;\n",
"    x = q[1] / n;\n",
"    y = q[2] / n;\n",
"    z = q[3] / n;\n",
"    r[0] = (dvren_real)1 - (dvren_real)2 * (y * y + z * z);\n",
"    r[1] = (dvren_real)2 * (x * y - w * z);\n",
"    r[2] = (dvren_real)2 * (x * z + w * y);\n",
"    r[3] = (dvren_real)2 * (x * y + w * z);\n",
"    r[4] = (dvren_real)1 - (dvren_real)2 * (x * x + z * z);\n",
"    r[5] = (dvren_real)2 * (y * z - w * x);\n",
"    r[6] = (dvren_real)2 * (x * z - w * y);\n",
"    r[7] = (dvren_real)2 * (y * z + w * x);\n",
"    r[8] = (dvren_real)1 - (dvren_real)2 * (x * x + y * y);\n",
"    return n;\n",
"}\n",
"\n",
"/* The pieces of the projection that forward and backward share. */\n",
"typedef struct DVREN__RN(dvren__splat_geo) {\n",
"    dvren_real t[3];       /* camera-space mean */\n",
"    dvren_real rq[9];      /* rotation of the normalised quaternion */\n",
"    dvren_real s[3];       /* scales */\n",
"    dvren_real qn;         /* |q| */\n",
"    dvren_real cov_c[9];   /* W Sigma W^T */\n",
"    dvren_real J[6];       /* 2 x 3, row-major */\n",
"    dvren_real lim[2];     /* clamped x/z, y/z used in J */\n",
"    int32_t clamped[2];    /* 1 where the clamp was active */\n",
"    dvren_real a, b, c;    /* dilated 2-D covariance */\n",
"    dvren_real det;\n",
"} DVREN__RN(dvren__splat_geo);\n",
"#define dvren__splat_geo_r DVREN__RN(dvren__splat_geo)\n",
"#define dvren__splat_geometry DVREN__RN(dvren__splat_geometry)\n",
"\n",
"/* Camera-space mean, covariance and its 2-D projection; 0 when culled by\n",
" * depth or a degenerate quaternion. */\n",
"DVREN_FN int dvren__splat_geometry(const dvren_splat_view* v, const dvren_real* mean, const dvren_real* log_scale,\n",
"                                   const dvren_real* quat, dvren__splat_geo_r* g)\n",
"{\n",
"    dvren_real M[9], S[9], WS[9];\n",
"    dvren_real tanx, tany, lxp, lxn, lyp, lyn, rz, u, vv;\n",
"    int i, j, k;\n",
"    for (i = 0; i < 3; ++i)\n",
"        g->t[i] = (dvren_real)v->W[3 * i] * mean[0] + (dvren_real)v->W[3 * i + 1] * mean[1] +\n",
"                  (dvren_real)v->W[3 * i + 2] * mean[2] + (dvren_real)v->w[i];\n",
"    if (!(g->t[2] >= (dvren_real)v->near_z) || g->t[2] > (dvren_real)v->far_z) return 0;\n",
"    g->qn = dvren_splat_rotation(quat, g->rq);\n",
"    if (!(g->qn > (dvren_real)0)) return 0;\n",
"    for (i = 0; i < 3; ++i) g->s[i] = dvren_exp(log_scale[i]);\n",
"    /* M = R diag(s); Sigma = M M^T */\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) M[3 * i + j] = g->rq[3 * i + j] * g->s[j];\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) S[3 * i + j] = M[3 * i] * M[3 * j] + M[3 * i + 1] * M[3 * j + 1] + M[3 * i + 2] * M[3 * j + 2];\n",
"    /* cov_c = W S W^T */\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) {\n",
"            dvren_real acc = (dvren_real)0;\n",
"            for (k = 0; k < 3; ++k) acc += (dvren_real)v->W[3 * i + k] * S[3 * k + j];\n",
"            WS[3 * i + j] = acc;\n",
"        }\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) {\n",
"            dvren_real acc = (dvren_real)0;\n",
"            for (k = 0; k < 3; ++k) acc += WS[3 * i + k] * (dvren_real)v->W[3 * j + k];\n",
"            g->cov_c[3 * i + j] = acc;\n",
"        }\n",
"    /* the pinhole Jacobian at t, x/z and y/z clamped to 1.3 x the half field of view */\n",
"    tanx = (dvren_real)0.5 * (dvren_real)v->width / (dvren_real)v->fx;\n",
"    tany = (dvren_real)0.5 * (dvren_real)v->height / (dvren_real)v->fy;\n",
"    lxp = ((dvren_real)v->width - (dvren_real)v->cx) / (dvren_real)v->fx + (dvren_real)0.3 * tanx;\n",
"    lxn = (dvren_real)v->cx / (dvren_real)v->fx + (dvren_real)0.3 * tanx;\n",
"    lyp = ((dvren_real)v->height - (dvren_real)v->cy) / (dvren_real)v->fy + (dvren_real)0.3 * tany;\n",
"    lyn = (dvren_real)v->cy / (dvren_real)v->fy + (dvren_real)0.3 * tany;\n",
"    rz = (dvren_real)1 / g->t[2];\n",
"    u = g->t[0] * rz;\n",
"    vv = g->t[1] * rz;\n",
"    g->clamped[0] = u > lxp || u < -lxn;\n",
"    g->clamped[1] = vv > lyp || vv < -lyn;\n",
"    g->lim[0] = dvren_min(lxp, dvren_max(-lxn, u));\n",
"    g->lim[1] = dvren_min(lyp, dvren_max(-lyn, vv));\n",
"    g->J[0] = (dvren_real)v->fx * rz;\n",
"    g->J[1] = (dvren_real)0;\n",
"    g->J[2] = -(dvren_real)v->fx * g->lim[0] * rz;\n",
"    g->J[3] = (dvren_real)0;\n",
"    g->J[4] = (dvren_real)v->fy * rz;\n",
"    g->J[5] = -(dvren_real)v->fy * g->lim[1] * rz;\n",
"    /* Sigma' = J cov_c J^T + eps2d I */\n",
"    {\n",
"        dvren_real JC[6];\n",
"        for (i = 0; i < 2; ++i)\n",
"            for (j = 0; j < 3; ++j)\n",
"                JC[3 * i + j] = g->J[3 * i] * g->cov_c[j] + g->J[3 * i + 1] * g->cov_c[3 + j] +\n",
"                                g->J[3 * i + 2] * g->cov_c[6 + j];\n",
"        g->a = JC[0] * g->J[0] + JC[1] * g->J[1] + JC[2] * g->J[2] + (dvren_real)v->eps2d;\n",
"        g->b = JC[0] * g->J[3] + JC[1] * g->J[4] + JC[2] * g->J[5];\n",
"        g->c = JC[3] * g->J[3] + JC[4] * g->J[4] + JC[5] * g->J[5] + (dvren_real)v->eps2d;\n",
"    }\n",
"    g->det = g->a * g->c - g->b * g->b;\n",
"    return 1;\n",
"}\n",
"\n",
"/* Projects Gaussian i: mean (3), log_scale (3), quat (4), logit, sh (K x 3,\n",
" * K = (view->sh_degree + 1)^2). Returns 1 when it is visible (out filled),\n",
" * else 0 with out->rx = out->ry = 0. */\n",
"DVREN_FN int dvren_splat_project(const dvren_splat_view* v, const dvren_real* mean, const dvren_real* log_scale,\n",
"                                 const dvren_real* quat, dvren_real logit, const dvren_real* sh, dvren_splat_proj* out)\n",
"{\n",
"    dvren__splat_geo_r g;\n",
"    dvren_real o, ext, rx, ry, d[3], dn, b[DVREN_SPLAT_MAX_COEFFS];\n",
"    uint32_t K = (v->sh_degree + 1u) * (v->sh_degree + 1u), k, ch;\n",
"    out->rx = 0;\n",
"    out->ry = 0;\n",
"    if (!dvren__splat_geometry(v, mean, log_scale, quat, &g)) return 0;\n",
"    if (!(g.det > (dvren_real)0)) return 0;\n",
"    o = dvren_sigmoid(logit);\n",
"    if (o < (dvren_real)DVREN_SPLAT_ALPHA_MIN) return 0;\n",
"    ext = (dvren_real)sqrtf(2.0f * logf((float)o * 255.0f));\n",
"    if (ext > (dvren_real)DVREN_SPLAT_EXTEND) ext = (dvren_real)DVREN_SPLAT_EXTEND;\n",
"    rx = dvren_ceil(ext * dvren_sqrt(g.a));\n",
"    ry = dvren_ceil(ext * dvren_sqrt(g.c));\n",
"    if (rx <= (dvren_real)0 && ry <= (dvren_real)0) return 0;\n",
"    out->x = (dvren_real)v->fx * g.t[0] / g.t[2] + (dvren_real)v->cx;\n",
"    out->y = (dvren_real)v->fy * g.t[1] / g.t[2] + (dvren_real)v->cy;\n",
"    if (out->x + rx <= (dvren_real)0 || out->x - rx >= (dvren_real)v->width || out->y + ry <= (dvren_real)0 ||\n",
"        out->y - ry >= (dvren_real)v->height)\n",
"        return 0;\n",
"    out->ca = g.c / g.det;\n",
"    out->cb = -g.b / g.det;\n",
"    out->cc = g.a / g.det;\n",
"    out->opacity = o;\n",
"    out->depth = g.t[2];\n",
"    /* colour: SH at the unit direction from the camera centre to the mean */\n",
"    d[0] = mean[0] - (dvren_real)v->eye[0];\n",
"    d[1] = mean[1] - (dvren_real)v->eye[1];\n",
"    d[2] = mean[2] - (dvren_real)v->eye[2];\n",
"    dn = dvren_sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);\n",
"    if (dn > (dvren_real)0) {\n",
"        d[0] /= dn;\n",
"        d[1] /= dn;\n",
"        d[2] /= dn;\n",
"    }\n",
"    dvren_splat_sh_basis(v->sh_degree, d[0], d[1], d[2], b);\n",
"    for (ch = 0; ch < 3; ++ch) {\n",
"        dvren_real acc = (dvren_real)0;\n",
"        for (k = 0; k < K; ++k) acc += b[k] * sh[3 * k + ch];\n",
"        acc += (dvren_real)0.5;\n",
"        out->rgb[ch] = acc > (dvren_real)0 ? acc : (dvren_real)0;\n",
"    }\n",
"    out->rx = (int32_t)rx;\n",
"    out->ry = (int32_t)ry;\n",
"    return 1;\n",
"}\n",
"\n",
"/* Tiles [x0, x1) x [y0, y1) that a visible projected Gaussian overlaps\n",
" * (gsplat's rule: floor / ceil of (mean -+ radius) / 16, clamped to the\n",
" * grid); returns their number. */\n",
"DVREN_FN uint32_t dvren_splat_tile_rect(const dvren_splat_view* v, const dvren_splat_proj* p, uint32_t* x0, uint32_t* y0,\n",
"                                        uint32_t* x1, uint32_t* y1)\n",
"{\n",
"    float ts = (float)DVREN_SPLAT_TILE;\n",
"    float tx = (float)p->x / ts, ty = (float)p->y / ts, rx = (float)p->rx / ts, ry = (float)p->ry / ts;\n",
"    float a = floorf(tx - rx), b = floorf(ty - ry), c = ceilf(tx + rx), d = ceilf(ty + ry);\n",
"    float gx = (float)v->tiles_x, gy = (float)v->tiles_y;\n",
"    a = a < 0.0f ? 0.0f : (a > gx ? gx : a);\n",
"    b = b < 0.0f ? 0.0f : (b > gy ? gy : b);\n",
"    c = c < 0.0f ? 0.0f : (c > gx ? gx : c);\n",
"    d = d < 0.0f ? 0.0f : (d > gy ? gy : d);\n",
"    *x0 = (uint32_t)a;\n",
"    *y0 = (uint32_t)b;\n",
"    *x1 = (uint32_t)c;\n",
"    *y1 = (uint32_t)d;\n",
"    if (*x1 <= *x0 || *y1 <= *y0) return 0u;\n",
"    return (*x1 - *x0) * (*y1 - *y0);\n",
"}\n",
"\n",
"/* Backward of dvren_splat_project for one visible Gaussian: from gp, the\n",
" * sums of its list entries' slots (DVREN_SPLAT_GRAD_FLOATS: d/d mean2d x, y,\n",
" * conic a, b, c, opacity, rgb 0..2, depth), adds the gradients of the\n",
" * parameters to g_mean (3), g_log_scale (3), g_quat (4), *g_logit, g_sh (K x\n",
" * 3); any of them may be NULL. */\n",
"DVREN_FN void dvren_splat_project_bwd(const dvren_splat_view* v, const dvren_real* mean, const dvren_real* log_scale,\n",
"                                      const dvren_real* quat, dvren_real logit, const dvren_real* sh, const dvren_real* gp,\n",
"                                      dvren_real* g_mean, dvren_real* g_log_scale, dvren_real* g_quat,\n",
"                                      dvren_real* g_logit, dvren_real* g_sh)\n",
"{\n",
"    dvren__splat_geo_r g;\n",
"    dvren_real vt[3] = {(dvren_real)0, (dvren_real)0, (dvren_real)0};\n",
"    dvren_real vmean[3] = {(dvren_real)0, (dvren_real)0, (dvren_real)0};\n",
"    dvren_real Q[4], G[4], H[4], G2[4], vJ[6], vC[9], vS[9], vM[9], vR[9], M[9];\n",
"    dvren_real rz, rz2, o, d[3], dn, n[3], b[DVREN_SPLAT_MAX_COEFFS], vpre[3];\n",
"    uint32_t K = (v->sh_degree + 1u) * (v->sh_degree + 1u), k, ch;\n",
"    int i, j, m;\n",
"    if (!dvren__splat_geometry(v, mean, log_scale, quat, &g)) return;\n",
"    rz = (dvren_real)1 / g.t[2];\n",
"    rz2 = rz * rz;\n",
"    /* opacity */\n",
"    o = dvren_sigmoid(logit);\n",
"    if (g_logit) *g_logit += gp[5] * o * ((dvren_real)1 - o);\n",
"    /* colour -> SH coefficients and the view direction */\n",
"    d[0] = mean[0] - (dvren_real)v->eye[0];\n",
"    d[1] = mean[1] - (dvren_real)v->eye[1];\n",
"    d[2] = mean[2] - (dvren_real)v->eye[2];\n",
"    dn = dvren_sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);\n",
"    for (i = 0; i < 3; ++i) n[i] = dn > (dvren_real)0 ? d[i] / dn : d[i];\n",
"    dvren_splat_sh_basis(v->sh_degree, n[0], n[1], n[2], b);\n",
"    for (ch = 0; ch < 3; ++ch) {\n",
"        dvren_real acc = (dvren_real)0.5;\n",
"        for (k = 0; k < K; ++k) acc += b[k] * sh[3 * k + ch];\n",
"        vpre[ch] = acc >= (dvren_real)0 ? gp[6 + ch] : (dvren_real)0; /* torch.clamp_min passes the gradient at the bound */\n",
"    }\n",
"    if (g_sh)\n",
"        for (k = 0; k < K; ++k)\n",
"            for (ch = 0; ch < 3; ++ch) g_sh[3 * k + ch] += b[k] * vpre[ch];\n",
"    if (v->sh_degree > 0 && dn > (dvren_real)0) {\n",
"        dvren_real wk[DVREN_SPLAT_MAX_COEFFS], gn[3] = {(dvren_real)0, (dvren_real)0, (dvren_real)0}, nd;\n",
"        for (k = 0; k < K; ++k) wk[k] = vpre[0] * sh[3 * k] + vpre[1] * sh[3 * k + 1] + vpre[2] * sh[3 * k + 2];\n",
"        dvren_splat_sh_basis_grad(v->sh_degree, n[0], n[1], n[2], wk, gn);\n",
"        nd = gn[0] * n[0] + gn[1] * n[1] + gn[2] * n[2];\n",
"        for (i = 0; i < 3; ++i) vmean[i] += (gn[i] - n[i] * nd) / dn;\n",
"    }\n",
"    /* conic Q = Sigma'^-1: dL/dSigma' = -Q G Q, G the symmetric gradient of Q */\n",
"    Q[0] = g.c / g.det;\n",
"    Q[1] = -g.b / g.det;\n",
"    Q[2] = Q[1];\n",
"    Q[3] = g.a / g.det;\n",
"    G[0] = gp[2];\n",
"    G[1] = (dvren_real)0.5 * gp[3];\n",
"    G[2] = G[1];\n",
"    G[3] = gp[4];\n",
"    H[0] = Q[0] * G[0] + Q[1] * G[2];\n",
"    H[1] = Q[0] * G[1] + Q[1] * G[3];\n",
"    H[2] = Q[2] * G[0] + Q[3] * G[2];\n",
"    H[3] = Q[2] * G[1] + Q[3] * G[3];\n",
"    G2[0] = -(H[0] * Q[0] + H[1] * Q[2]);\n",
"    G2[1] = -(H[0] * Q[1] + H[1] * Q[3]);\n",
"    G2[2] = -(H[2] * Q[0] + H[3] * Q[2]);\n",
"    G2[3] = -(H[2] * Q[1] + H[3] * Q[3]);\n",
"    /* Sigma' = J C J^T: dC = J^T G2 J, dJ = 2 G2 J C */\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) {\n",
"            dvren_real acc = (dvren_real)0;\n",
"            int r, s;\n",
"            for (r = 0; r < 2; ++r)\n",
"                for (s = 0; s < 2; ++s) acc += g.J[3 * r + i] * G2[2 * r + s] * g.J[3 * s + j];\n",
"            vC[3 * i + j] = acc;\n",
"        }\n",
"    for (i = 0; i < 2; ++i)\n",
"        for (j = 0; j < 3; ++j) {\n",
"            dvren_real acc = (dvren_real)0;\n",
"            int s;\n",
"            for (s = 0; s < 2; ++s)\n",
"                for (m = 0; m < 3; ++m) acc += G2[2 * i + s] * g.J[3 * s + m] * g.cov_c[3 * m + j];\n",
"            vJ[3 * i + j] = (dvren_real)2 * acc;\n",
"        }\n",
"    /* J00 = fx rz, J02 = -fx lx rz, J11 = fy rz, J12 = -fy ly rz (lx = clamp(x/z)) */\n",
"    {\n",
"        dvren_real vrz = vJ[0] * (dvren_real)v->fx + vJ[4] * (dvren_real)v->fy - vJ[2] * (dvren_real)v->fx * g.lim[0] -\n",
"                         vJ[5] * (dvren_real)v->fy * g.lim[1];\n",
"        dvren_real vlx = -vJ[2] * (dvren_real)v->fx * rz, vly = -vJ[5] * (dvren_real)v->fy * rz;\n",
"        vt[2] += -vrz * rz2;\n",
"        /* lx = x rz where not clamped */\n",
"        if (!g.clamped[0]) {\n",
"            vt[0] += vlx * rz;\n",
"            vt[2] += -vlx * g.t[0] * rz2;\n",
"        }\n",
"        if (!g.clamped[1]) {\n",
"            vt[1] += vly * rz;\n",
"            vt[2] += -vly * g.t[1] * rz2;\n",
"        }\n",
"    }\n",
"    /* mean2d = (fx x rz + cx, fy y rz + cy); depth = z */\n",
"    vt[0] += gp[0] * (dvren_real)v->fx * rz;\n",
"    vt[1] += gp[1] * (dvren_real)v->fy * rz;\n",
"    vt[2] += -gp[0] * (dvren_real)v->fx * g.t[0] * rz2 - gp[1] * (dvren_real)v->fy * g.t[1] * rz2 + gp[9];\n",
"    for (i = 0; i < 3; ++i)\n",
"        vmean[i] += (dvren_real)v->W[i] * vt[0] + (dvren_real)v->W[3 + i] * vt[1] + (dvren_real)v->W[6 + i] * vt[2];\n",
"    if (g_mean)\n",
"        for (i = 0; i < 3; ++i) g_mean[i] += vmean[i];\n",
"    /* cov_c = W S W^T: dS = W^T dC W */\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) {\n",
"            dvren_real acc = (dvren_real)0;\n",
"            int r, s;\n",
"            for (r = 0; r < 3; ++r)\n",
"                for (s = 0; s < 3; ++s) acc += (dvren_real)v->W[3 * r + i] * vC[3 * r + s] * (dvren_real)v->W[3 * s + j];\n",
"            vS[3 * i + j] = acc;\n",
"        }\n",
"    /* S = M M^T, M = R diag(s): dM = 2 dS M */\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j) M[3 * i + j] = g.rq[3 * i + j] * g.s[j];\n",
"    for (i = 0; i < 3; ++i)\n",
"        for (j = 0; j < 3; ++j)\n",
"            vM[3 * i + j] = (dvren_real)2 * (vS[3 * i] * M[j] + vS[3 * i + 1] * M[3 + j] + vS[3 * i + 2] * M[6 + j]);\n",
"    if (g_log_scale)\n",
"        for (j = 0; j < 3; ++j)\n",
"            g_log_scale[j] += (vM[j] * g.rq[j] + vM[3 + j] * g.rq[3 + j] + vM[6 + j] * g.rq[6 + j]) * g.s[j];\n",
"    if (g_quat) {\n",
"        dvren_real w = quat[0] / g.qn, x = quat[1] / g.qn, y = quat[2] / g.qn, z = quat[3] / g.qn, vq[4], dot;\n",
"        for (i = 0; i < 3; ++i)\n",
"            for (j = 0; j < 3; ++j) vR[3 * i + j] = vM[3 * i + j] * g.s[j];\n",
"        vq[0] = (dvren_real)2 * (-z * vR[1] + y * vR[2] + z * vR[3] - x * vR[5] - y * vR[6] + x * vR[7]);\n",
"        vq[1] = (dvren_real)2 * (y * vR[1] + z * vR[2] + y * vR[3] - (dvren_real)2 * x * vR[4] - w * vR[5] + z * vR[6] +\n",
"                                 w * vR[7] - (dvren_real)2 * x * vR[8]);\n",
"        vq[2] = (dvren_real)2 * (-(dvren_real)2 * y * vR[0] + x * vR[1] + w * vR[2] + x * vR[3] + z * vR[5] - w * vR[6] +\n",
"                                 z * vR[7] - (dvren_real)2 * y * vR[8]);\n",
"        vq[3] = (dvren_real)2 * (-(dvren_real)2 * z * vR[0] - w * vR[1] + x * vR[2] + w * vR[3] -\n",
"                                 (dvren_real)2 * z * vR[4] + y * vR[5] + x * vR[6] + y * vR[7]);\n",
"        /* through the normalisation q / |q| */\n",
"        dot = vq[0] * w + vq[1] * x + vq[2] * y + vq[3] * z;\n",
"        g_quat[0] += (vq[0] - w * dot) / g.qn;\n",
"        g_quat[1] += (vq[1] - x * dot) / g.qn;\n",
"        g_quat[2] += (vq[2] - y * dot) / g.qn;\n",
"        g_quat[3] += (vq[3] - z * dot) / g.qn;\n",
"    }\n",
"}\n",
"\n",
"/* ---- compositing ------------------------------------------------------------------- */\n",
"\n",
"/* One pixel's forward state and result. last: one past the list position\n",
" * of the last Gaussian composited (the backward pass starts there). */\n",
"typedef struct DVREN__RN(dvren__splat_px) {\n",
"    dvren_real rgb[3];\n",
"    dvren_real T;         /* transmittance (final after dvren_splat_px_end) */\n",
"    dvren_real depth_acc; /* sum z_i w_i */\n",
"    dvren_real median;    /* median depth, 0 when T never fell to 0.5 */\n",
"    uint32_t count, last;\n",
"    /* the pixel's centre and its image layer (mixed scenes) while compositing */\n",
"    dvren_real px, py, lz, la;\n",
"    uint32_t pix;\n",
"    int32_t layer;\n",
"} DVREN__RN(dvren__splat_px);\n",
"#define dvren_splat_px DVREN__RN(dvren__splat_px)\n",
"#define dvren_splat_alpha DVREN__RN(dvren__splat_alpha)\n",
"#define dvren_splat_px_begin DVREN__RN(dvren__splat_px_begin)\n",
"#define dvren_splat_px_step DVREN__RN(dvren__splat_px_step)\n",
"#define dvren_splat_px_end DVREN__RN(dvren__splat_px_end)\n",
"#define dvren_splat_pixel DVREN__RN(dvren__splat_pixel)\n",
"#define dvren__splat_layer DVREN__RN(dvren__splat_layer_)\n",
"#define dvren_splat_bwd_state DVREN__RN(dvren__splat_bwd_state)\n",
"#define dvren_splat_bwd_begin DVREN__RN(dvren__splat_bwd_begin)\n",
"#define dvren_splat_bwd_step DVREN__RN(dvren__splat_bwd_step)\n",
"#define dvren_splat_pixel_bwd DVREN__RN(dvren__splat_pixel_bwd)\n",
"\n",
"/* alpha of a projected Gaussian at pixel centre (px, py); 0 when skipped\n",
" * (sigma < 0 or alpha < 1/255). *vis = exp(-sigma) for the backward pass. */\n",
"DVREN_FN dvren_real dvren_splat_alpha(const dvren_splat_view* v, const dvren_splat_proj* p, dvren_real px, dvren_real py,\n",
"                                      dvren_real* vis)\n",
"{\n",
"    dvren_real dx = p->x - px, dy = p->y - py;\n",
"    dvren_real sigma = (dvren_real)0.5 * (p->ca * dx * dx + p->cc * dy * dy) + p->cb * dx * dy;\n",
"    dvren_real a;\n",
"    if (sigma < (dvren_real)0) return (dvren_real)0;\n",
"    *vis = dvren_exp(-sigma);\n",
"    a = dvren_min((dvren_real)v->alpha_max, p->opacity * *vis);\n",
"    return a < (dvren_real)DVREN_SPLAT_ALPHA_MIN ? (dvren_real)0 : a;\n",
"}\n",
"\n",
"/* Starts pixel (x, y) of a list beginning at position start. */\n",
"DVREN_FN void dvren_splat_px_begin(const dvren_splat_view* v, uint32_t x, uint32_t y, uint32_t start, dvren_splat_px* o)\n",
"{\n",
"    o->px = (dvren_real)x + (dvren_real)0.5;\n",
"    o->py = (dvren_real)y + (dvren_real)0.5;\n",
"    o->pix = y * v->width + x;\n",
"    o->T = (dvren_real)1;\n",
"    o->rgb[0] = o->rgb[1] = o->rgb[2] = (dvren_real)0;\n",
"    o->depth_acc = (dvren_real)0;\n",
"    o->median = (dvren_real)0;\n",
"    o->count = 0u;\n",
"    o->last = start;\n",
"    o->lz = (dvren_real)0;\n",
"    o->la = (dvren_real)0;\n",
"    o->layer = 0;\n",
"    if (v->layer_rgb) {\n",
"        /* the layer's depth is a ray distance from the eye: camera z = t / |(u, v, 1)| */\n",
"        dvren_real u = (o->px - (dvren_real)v->cx) / (dvren_real)v->fx, w = (o->py - (dvren_real)v->cy) / (dvren_real)v->fy;\n",
"        o->la = (dvren_real)v->layer_alpha[o->pix];\n",
"        o->lz = (dvren_real)v->layer_depth[o->pix] / dvren_sqrt(u * u + w * w + (dvren_real)1);\n",
"        o->layer = o->la > (dvren_real)0;\n",
"    }\n",
"}\n",
"\n",
"/* Composites the pixel's image layer (once). */\n",
"DVREN_FN void dvren__splat_layer(const dvren_splat_view* v, dvren_splat_px* o)\n",
"{\n",
"    o->rgb[0] += o->T * (dvren_real)v->layer_rgb[3 * o->pix];\n",
"    o->rgb[1] += o->T * (dvren_real)v->layer_rgb[3 * o->pix + 1];\n",
"    o->rgb[2] += o->T * (dvren_real)v->layer_rgb[3 * o->pix + 2];\n",
"    o->depth_acc += o->T * o->la * o->lz;\n",
"    o->T *= (dvren_real)1 - o->la;\n",
"    o->layer = 0;\n",
"}\n",
"\n",
"/* Composites list entry k (projected Gaussian p) into the pixel, front to\n",
" * back. Returns 1 when the pixel is done (it stops before T would fall to\n",
" * min_transmittance or below; that entry is not composited), else 0. */\n",
"DVREN_FN int dvren_splat_px_step(const dvren_splat_view* v, const dvren_splat_proj* p, uint32_t k, dvren_splat_px* o)\n",
"{\n",
"    dvren_real vis, a, nT, w;\n",
"    if (o->layer && p->depth > o->lz) {\n",
"        /* the image layer lies in front of this Gaussian: composite it first */\n",
"        dvren__splat_layer(v, o);\n",
"        if (o->T <= (dvren_real)v->min_transmittance) return 1;\n",
"    }\n",
"    a = dvren_splat_alpha(v, p, o->px, o->py, &vis);\n",
"    if (a <= (dvren_real)0) return 0;\n",
"    nT = o->T * ((dvren_real)1 - a);\n",
"    if (nT <= (dvren_real)v->min_transmittance) return 1;\n",
"    w = a * o->T;\n",
"    o->rgb[0] += p->rgb[0] * w;\n",
"    o->rgb[1] += p->rgb[1] * w;\n",
"    o->rgb[2] += p->rgb[2] * w;\n",
"    o->depth_acc += p->depth * w;\n",
"    if (o->T > (dvren_real)0.5 && nT <= (dvren_real)0.5) o->median = p->depth;\n",
"    o->count++;\n",
"    o->last = k + 1u;\n",
"    o->T = nT;\n",
"    return 0;\n",
"}\n",
"\n",
"/* Ends the pixel: the layer if still pending, then the background. */\n",
"DVREN_FN void dvren_splat_px_end(const dvren_splat_view* v, dvren_splat_px* o)\n",
"{\n",
"    if (o->layer) dvren__splat_layer(v, o);\n",
"    o->rgb[0] += o->T * (dvren_real)v->background[0];\n",
"    o->rgb[1] += o->T * (dvren_real)v->background[1];\n",
"    o->rgb[2] += o->T * (dvren_real)v->background[2];\n",
"}\n",
"\n",
"/* Composites list entries [start, end) of the pixel's tile (gids[k]: the\n",
" * Gaussian, P: the projected Gaussians) at pixel (x, y), front to back. */\n",
"DVREN_FN void dvren_splat_pixel(const dvren_splat_view* v, const dvren_splat_proj* P, const uint32_t* gids, uint32_t start,\n",
"                                uint32_t end, uint32_t x, uint32_t y, dvren_splat_px* out)\n",
"{\n",
"    uint32_t k;\n",
"    dvren_splat_px_begin(v, x, y, start, out);\n",
"    for (k = start; k < end; ++k)\n",
"        if (dvren_splat_px_step(v, &P[gids[k]], k, out)) break;\n",
"    dvren_splat_px_end(v, out);\n",
"}\n",
"\n",
"/* One pixel's backward state, back to front. */\n",
"typedef struct DVREN__RN(dvren__splat_bwd_state) {\n",
"    dvren_real px, py;\n",
"    dvren_real T, T_final;\n",
"    dvren_real v_rgb[3], v_alpha, v_dacc;\n",
"    dvren_real Sc[3], Sz; /* behind the current entry: the later entries' colour (+ T_final background) and depth */\n",
"} DVREN__RN(dvren__splat_bwd_state);\n",
"\n",
"/* Starts the backward of pixel (x, y) from its final transmittance, its\n",
" * depth_acc and the cotangents of its rgb (3), alpha (= 1 - T) and expected\n",
" * depth (depth_acc / alpha). */\n",
"DVREN_FN void dvren_splat_bwd_begin(const dvren_splat_view* v, uint32_t x, uint32_t y, dvren_real T_final,\n",
"                                    dvren_real depth_acc, const dvren_real* v_rgb, dvren_real v_alpha, dvren_real v_depth,\n",
"                                    dvren_splat_bwd_state* b)\n",
"{\n",
"    dvren_real A = (dvren_real)1 - T_final;\n",
"    int ch;\n",
"    b->px = (dvren_real)x + (dvren_real)0.5;\n",
"    b->py = (dvren_real)y + (dvren_real)0.5;\n",
"    b->T = T_final;\n",
"    b->T_final = T_final;\n",
"    b->v_dacc = (dvren_real)0;\n",
"    /* depth = depth_acc / A: both depend on every alpha */\n",
"    if (A > (dvren_real)0 && v_depth != (dvren_real)0) {\n",
"        b->v_dacc = v_depth / A;\n",
"        v_alpha -= v_depth * depth_acc / (A * A);\n",
"    }\n",
"    b->v_alpha = v_alpha;\n",
"    for (ch = 0; ch < 3; ++ch) {\n",
"        b->v_rgb[ch] = v_rgb[ch];\n",
"        b->Sc[ch] = T_final * (dvren_real)v->background[ch];\n",
"    }\n",
"    b->Sz = (dvren_real)0;\n",
"}\n",
"\n",
"/* The gradient of one composited entry (projected Gaussian p), going back\n",
" * to front: g[0..9] = d/d (mean2d x, y, conic a, b, c, opacity, rgb, depth).\n",
" * Returns 0 (g untouched) for an entry the forward skipped. */\n",
"DVREN_FN int dvren_splat_bwd_step(const dvren_splat_view* v, const dvren_splat_proj* p, dvren_splat_bwd_state* b,\n",
"                                  dvren_real* g)\n",
"{\n",
"    dvren_real vis, a, Ti, w, va, ra, dx, dy, vsig;\n",
"    int ch;\n",
"    a = dvren_splat_alpha(v, p, b->px, b->py, &vis);\n",
"    if (a <= (dvren_real)0) return 0;\n",
"    ra = (dvren_real)1 / ((dvren_real)1 - a); /* one division per entry, then products */\n",
"    Ti = b->T * ra;\n",
"    w = a * Ti;\n",
"    va = b->v_alpha * b->T_final * ra + b->v_dacc * (p->depth * Ti - b->Sz * ra);\n",
"    for (ch = 0; ch < 3; ++ch) {\n",
"        va += b->v_rgb[ch] * (p->rgb[ch] * Ti - b->Sc[ch] * ra);\n",
"        g[6 + ch] = b->v_rgb[ch] * w;\n",
"        b->Sc[ch] += p->rgb[ch] * w;\n",
"    }\n",
"    g[9] = b->v_dacc * w;\n",
"    b->Sz += p->depth * w;\n",
"    b->T = Ti;\n",
"    if (p->opacity * vis > (dvren_real)v->alpha_max) {\n",
"        /* clamped: no gradient through alpha */\n",
"        g[0] = g[1] = g[2] = g[3] = g[4] = g[5] = (dvren_real)0;\n",
"        return 1;\n",
"    }\n",
"    g[5] = va * vis;\n",
"    vsig = -va * p->opacity * vis;\n",
"    dx = p->x - b->px;\n",
"    dy = p->y - b->py;\n",
"    g[0] = vsig * (p->ca * dx + p->cb * dy);\n",
"    g[1] = vsig * (p->cb * dx + p->cc * dy);\n",
"    g[2] = (dvren_real)0.5 * vsig * dx * dx;\n",
"    g[3] = vsig * dx * dy;\n",
"    g[4] = (dvren_real)0.5 * vsig * dy * dy;\n",
"    return 1;\n",
"}\n",
"\n",
"/* Backward of dvren_splat_pixel (no image layer) for entries [start, last)\n",
" * back to front: adds each composited entry k's gradient to\n",
" * slots[(k - start) * DVREN_SPLAT_GRAD_FLOATS ...] (one thread owns them:\n",
" * the CPU's tiles). */\n",
"DVREN_FN void dvren_splat_pixel_bwd(const dvren_splat_view* v, const dvren_splat_proj* P, const uint32_t* gids,\n",
"                                    uint32_t start, uint32_t last, uint32_t x, uint32_t y, dvren_real T_final,\n",
"                                    dvren_real depth_acc, const dvren_real* v_rgb, dvren_real v_alpha, dvren_real v_depth,\n",
"                                    dvren_real* slots)\n",
"{\n",
"    dvren_splat_bwd_state b;\n",
"    dvren_real g[DVREN_SPLAT_GRAD_FLOATS];\n",
"    uint32_t k, c;\n",
"    dvren_splat_bwd_begin(v, x, y, T_final, depth_acc, v_rgb, v_alpha, v_depth, &b);\n",
"    for (k = last; k-- > start;)\n",
"        if (dvren_splat_bwd_step(v, &P[gids[k]], &b, g)) {\n",
"            dvren_real* s = slots + (size_t)(k - start) * DVREN_SPLAT_GRAD_FLOATS;\n",
"            for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) s[c] += g[c];\n",
"        }\n",
"}\n",
"\n",
"#endif /* per precision */\n",
0};
/* >>cuda-src splat end */
/* >>cuda-src splat-kernel begin (generated from kernels/dvren_cuda_splat.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_splat_kernel[] = {
"/* kernels/dvren_cuda_splat.h - GPU entry points of dvren's splat renderer.\n",
" *\n",
" * GPU only (not single source): dvren_cuda.h composes the context's \"splat\n",
" * module\" from kernels/dvren_device.h, kernels/dvren_splat.h (float32) and\n",
" * this file and compiles it with NVRTC at first use (docs/splats.md, \"GPU\").\n",
" * Every piece of arithmetic on the Gaussians and pixels is a call into\n",
" * kernels/dvren_splat.h, the same code the CPU runs (dvren.h, >>cpu,\n",
" * dvren__cpu_launch_splats); these kernels only spread it over threads and\n",
" * order the (Gaussian, tile) pairs. The steps, launched by\n",
" * dvren__cu_launch_splats in this order on the context's stream:\n",
" *\n",
" *   forward\n",
" *     dvren_splat_project_kernel  one thread per Gaussian: proj[i]; a histogram\n",
" *                            of the pairs per tile (atomicAdd); the visible count\n",
" *     dvren_scan_*           exclusive prefix sum of the histogram\n",
" *                            (kernels/dvren_cuda_scan.h): each tile's\n",
" *                            segment; the host reads the total back (the\n",
" *                            pair count m)\n",
" *     dvren_splat_ranges     ranges[2t], ranges[2t + 1] and the emission cursors\n",
" *     dvren_splat_emit       one thread per Gaussian: into each of its tiles'\n",
" *                            segments (atomicAdd on the cursor, so any order\n",
" *                            inside a segment) its depth bits and index\n",
" *     dvren_splat_sort       one block per tile: sorts its segment by the\n",
" *                            64-bit key (depth bits << 32 | Gaussian), a\n",
" *                            bitonic network in dynamic shared memory or in\n",
" *                            global memory. Keys are unique (a Gaussian is in\n",
" *                            a tile once), so the order is fully determined:\n",
" *                            the CPU's stable sort by (tile, depth) of the\n",
" *                            pairs in Gaussian order. Only 8 bytes per pair\n",
" *     dvren_splat_raster     one 16 x 16 block per tile, one thread per pixel,\n",
" *                            entries staged 256 at a time in shared memory:\n",
" *                            dvren_splat_px_begin / _step / _end\n",
" *   backward\n",
" *     dvren_splat_replay     one thread per pixel, back to front over shared\n",
" *                            batches, dvren_splat_bwd_step; each warp sums an\n",
" *                            entry's gradient over its pixels (shuffles) and\n",
" *                            adds it to the Gaussian's 10 sums (float atomics)\n",
" *     dvren_splat_gather     one thread per Gaussian: dvren_splat_project_bwd\n",
" *                            from its sums\n",
" *\n",
" * The sorting network is the bitonic sort whose comparators all put the\n",
" * smaller key first (each merge begins with the \"flip\" comparator i <->\n",
" * 2 h - 1 - i of a block of 2 h, then half-cleaners i <-> i + j): a segment\n",
" * of n entries is sorted as if padded to a power of two with keys larger\n",
" * than any, and a comparator that reaches past n never swaps, so it is\n",
" * skipped and no padding is stored.\n",
" *\n",
" * dvren_cuda.h carries a generated copy of this file (\">>cuda-src\n",
" * splat-kernel\"); edit this file and run `./build.sh gen`. */\n",
"#ifndef DVREN_CUDA_SPLAT_H\n",
"#define DVREN_CUDA_SPLAT_H\n",
"\n",
"#define DVREN__SPLAT_THREADS 256u     /* threads of the one-dimensional kernels */\n",
"#define DVREN__SPLAT_SORT_THREADS 512u\n",
"#define DVREN__SPLAT_SORT_SHARED 2048u /* longest segment sorted in shared memory */\n",
"\n",
"/* ---- forward --------------------------------------------------------------------- */\n",
"\n",
"/* Gaussian i: proj[i]; each tile of its rectangle counts it (tcount, zeroed\n",
" * before); *visible counts the projections with rx > 0 (one atomic per\n",
" * warp). */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)\n",
"    dvren_splat_project_kernel(const __grid_constant__ dvren_splat_view V, const float* means, const float* log_scales,\n",
"                               const float* quats, const float* logits, const float* sh, dvren__splat_proj_32* proj,\n",
"                               uint32_t* tcount, uint32_t* visible)\n",
"{\n",
"    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, K = (V.sh_degree + 1u) * (V.sh_degree + 1u);\n",
"    uint32_t x0, y0, x1, y1, x, y, seen = 0u, ballot;\n",
"    if (i < V.count) {\n",
"        dvren__splat_proj_32 P;\n",
"        if (dvren__splat_project_32(&V, means + 3 * (size_t)i, log_scales + 3 * (size_t)i, quats + 4 * (size_t)i,\n",
"                                    logits[i], sh + 3 * (size_t)K * i, &P)) {\n",
"            seen = 1u;\n",
"            if (dvren__splat_tile_rect_32(&V, &P, &x0, &y0, &x1, &y1))\n",
"                for (y = y0; y < y1; ++y)\n",
"                    for (x = x0; x < x1; ++x) atomicAdd(&tcount[y * V.tiles_x + x], 1u);\n",
"        }\n",
"        proj[i] = P;\n",
"    }\n",
"    ballot = __ballot_sync(0xFFFFFFFFu, seen);\n",
"    if ((threadIdx.x & 31u) == 0u && ballot) atomicAdd(visible, (uint32_t)__popc(ballot));\n",
"}\n",
"\n",
"/* Tile t's segment [tstart[t], tstart[t + 1]) of the sorted entries; the\n",
" * emission cursors start there. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)\n",
"    dvren_splat_ranges(const uint32_t* tstart, uint32_t tiles, uint32_t* ranges, uint32_t* cursor)\n",
"{\n",
"    uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;\n",
"    if (t >= tiles) return;\n",
"    ranges[2 * t] = tstart[t];\n",
"    ranges[2 * t + 1] = tstart[t + 1];\n",
"    cursor[t] = tstart[t];\n",
"}\n",
"\n",
"/* Gaussian i into each of its tiles' segments (any order inside a segment:\n",
" * sorted next): skey = its depth bits (depth > 0, so the bits order like\n",
" * the values), sval = i. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)\n",
"    dvren_splat_emit(const __grid_constant__ dvren_splat_view V, const dvren__splat_proj_32* proj, uint32_t* cursor,\n",
"                     uint32_t* skey, uint32_t* sval)\n",
"{\n",
"    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, x0, y0, x1, y1, x, y, bits;\n",
"    dvren__splat_proj_32 P;\n",
"    if (i >= V.count) return;\n",
"    P = proj[i];\n",
"    if (P.rx <= 0 || !dvren__splat_tile_rect_32(&V, &P, &x0, &y0, &x1, &y1)) return;\n",
"    bits = dvren__float_to_bits(P.depth);\n",
"    for (y = y0; y < y1; ++y)\n",
"        for (x = x0; x < x1; ++x) {\n",
"            uint32_t k = atomicAdd(&cursor[y * V.tiles_x + x], 1u);\n",
"            skey[k] = bits;\n",
"            sval[k] = i;\n",
"        }\n",
"}\n",
"\n",
"/* Comparator (i, l), i < l: the smaller 64-bit key (depth bits, Gaussian) first. */\n",
"__device__ __forceinline__ void dvren__splat_cmp_shared(uint64_t* s, uint32_t i, uint32_t l)\n",
"{\n",
"    uint64_t a = s[i], b = s[l];\n",
"    if (b < a) {\n",
"        s[i] = b;\n",
"        s[l] = a;\n",
"    }\n",
"}\n",
"__device__ __forceinline__ void dvren__splat_cmp_global(uint32_t* key, uint32_t* val, uint32_t i, uint32_t l)\n",
"{\n",
"    uint64_t a = ((uint64_t)key[i] << 32) | val[i], b = ((uint64_t)key[l] << 32) | val[l];\n",
"    if (b < a) {\n",
"        key[i] = (uint32_t)(b >> 32);\n",
"        val[i] = (uint32_t)b;\n",
"        key[l] = (uint32_t)(a >> 32);\n",
"        val[l] = (uint32_t)a;\n",
"    }\n",
"}\n",
"\n",
"/* The bitonic network over n entries (padded virtually to P = 2^k >= n). */\n",
"template <bool SHARED>\n",
"__device__ __forceinline__ void dvren__splat_bitonic(uint64_t* s, uint32_t* key, uint32_t* val, uint32_t n)\n",
"{\n",
"    uint32_t P = 1u, k, j, q;\n",
"    while (P < n) P <<= 1;\n",
"    for (k = 2u; k <= P; k <<= 1) {\n",
"        uint32_t h = k >> 1;\n",
"        for (q = threadIdx.x; q < P / 2u; q += blockDim.x) {\n",
"            uint32_t b = q / h, r = q % h, i = b * k + r, l = b * k + k - 1u - r;\n",
"            if (l < n) {\n",
"                if (SHARED) dvren__splat_cmp_shared(s, i, l);\n",
"                else dvren__splat_cmp_global(key, val, i, l);\n",
"            }\n",
"        }\n",
"        __syncthreads();\n",
"        for (j = k >> 2; j > 0u; j >>= 1) {\n",
"            for (q = threadIdx.x; q < P / 2u; q += blockDim.x) {\n",
"                uint32_t i = 2u * j * (q / j) + q % j, l = i + j;\n",
"                if (l < n) {\n",
"                    if (SHARED) dvren__splat_cmp_shared(s, i, l);\n",
"                    else dvren__splat_cmp_global(key, val, i, l);\n",
"                }\n",
"            }\n",
"            __syncthreads();\n",
"        }\n",
"    }\n",
"}\n",
"\n",
"/* Block t sorts tile t's segment of (skey, sval) by (depth bits, Gaussian):\n",
" * keys are unique (a Gaussian is in a tile once), so the order is fully\n",
" * determined and equals the CPU's stable sort by depth of the pairs in\n",
" * Gaussian order. One launch per size class, so that short segments get\n",
" * small shared memory and many blocks per SM: this launch sorts the\n",
" * segments of lo < n <= cap entries in the dynamic shared memory (cap\n",
" * 64-bit keys) and, with big != 0, those above cap in global memory; the\n",
" * other blocks return at once. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SPLAT_SORT_THREADS)\n",
"    dvren_splat_sort(const uint32_t* ranges, uint32_t* skey, uint32_t* sval, uint32_t lo, uint32_t cap, uint32_t big)\n",
"{\n",
"    extern __shared__ uint64_t dvren__splat_sort_s[];\n",
"    uint64_t* s = dvren__splat_sort_s;\n",
"    uint32_t start = ranges[2 * blockIdx.x], n = ranges[2 * blockIdx.x + 1] - start, i;\n",
"    uint32_t *key = skey + start, *val = sval + start;\n",
"    if (n < 2u || n <= lo || (n > cap && !big)) return;\n",
"    if (n <= cap) {\n",
"        for (i = threadIdx.x; i < n; i += blockDim.x) s[i] = ((uint64_t)key[i] << 32) | val[i];\n",
"        __syncthreads();\n",
"        dvren__splat_bitonic<true>(s, key, val, n);\n",
"        for (i = threadIdx.x; i < n; i += blockDim.x) val[i] = (uint32_t)s[i];\n",
"    } else {\n",
"        dvren__splat_bitonic<false>(s, key, val, n);\n",
"    }\n",
"}\n",
"\n",
"/* Block t: tile t's pixels, one thread each, over its entries in batches of\n",
" * 256 projected Gaussians staged in shared memory; each entry composited by\n",
" * dvren_splat_px_step, the CPU's arithmetic in the CPU's order. The block\n",
" * stops loading once all its pixels are done. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN_SPLAT_TILE * DVREN_SPLAT_TILE)\n",
"    dvren_splat_raster(const __grid_constant__ dvren_splat_view V, const __grid_constant__ dvren_fb_view fb,\n",
"                       const dvren__splat_proj_32* proj, const uint32_t* gids, const uint32_t* ranges, float* pT,\n",
"                       float* pdacc, uint32_t* last)\n",
"{\n",
"    __shared__ dvren__splat_proj_32 batch[DVREN_SPLAT_TILE * DVREN_SPLAT_TILE];\n",
"    uint32_t t = blockIdx.x, tx = t % V.tiles_x, ty = t / V.tiles_x, tr = threadIdx.y * DVREN_SPLAT_TILE + threadIdx.x;\n",
"    uint32_t x = tx * DVREN_SPLAT_TILE + threadIdx.x, y = ty * DVREN_SPLAT_TILE + threadIdx.y;\n",
"    uint32_t start = ranges[2 * t], end = ranges[2 * t + 1], b0, j;\n",
"    int inside = x < V.width && y < V.height, done = !inside;\n",
"    dvren__splat_px_32 o;\n",
"    size_t pix;\n",
"    float a;\n",
"    dvren__splat_px_begin_32(&V, inside ? x : 0u, inside ? y : 0u, start, &o);\n",
"    for (b0 = start; b0 < end; b0 += DVREN_SPLAT_TILE * DVREN_SPLAT_TILE) {\n",
"        uint32_t nb = end - b0 < DVREN_SPLAT_TILE * DVREN_SPLAT_TILE ? end - b0 : DVREN_SPLAT_TILE * DVREN_SPLAT_TILE;\n",
"        if (__syncthreads_count(done) == DVREN_SPLAT_TILE * DVREN_SPLAT_TILE) break;\n",
"        if (tr < nb) batch[tr] = proj[gids[b0 + tr]];\n",
"        __syncthreads();\n",
"        for (j = 0; j < nb && !done; ++j) done = dvren__splat_px_step_32(&V, &batch[j], b0 + j, &o);\n",
"    }\n",
"    if (!inside) return;\n",
"    dvren__splat_px_end_32(&V, &o);\n",
"    pix = (size_t)y * V.width + x;\n",
"    a = 1.0f - o.T;\n",
"    if (fb.rgb) {\n",
"        fb.rgb[3 * pix] = o.rgb[0];\n",
"        fb.rgb[3 * pix + 1] = o.rgb[1];\n",
"        fb.rgb[3 * pix + 2] = o.rgb[2];\n",
"    }\n",
"    if (fb.alpha) fb.alpha[pix] = a;\n",
"    if (fb.transmittance) fb.transmittance[pix] = o.T;\n",
"    if (fb.depth) fb.depth[pix] = a > 0.0f ? o.depth_acc / a : 0.0f;\n",
"    if (fb.median_depth) fb.median_depth[pix] = o.median;\n",
"    if (fb.samples) fb.samples[pix] = o.count;\n",
"    pT[pix] = o.T;\n",
"    pdacc[pix] = o.depth_acc;\n",
"    last[pix] = o.last;\n",
"}\n",
"\n",
"/* ---- backward -------------------------------------------------------------------- */\n",
"\n",
"/* Block t: tile t's pixels replay its entries back to front in batches\n",
" * staged in shared memory, every thread through every entry below the\n",
" * block's largest `last` (warp-uniform), each with dvren_splat_bwd_step\n",
" * where the entry is one of its own; each warp sums an entry's gradient\n",
" * over its 32 pixels and adds it to the Gaussian's 10 sums in gacc (float\n",
" * atomics: their order varies, so the last bits do). */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN_SPLAT_TILE * DVREN_SPLAT_TILE)\n",
"    dvren_splat_replay(const __grid_constant__ dvren_splat_view V, const dvren__splat_proj_32* proj,\n",
"                       const uint32_t* gids, const uint32_t* ranges, const float* pT, const float* pdacc,\n",
"                       const uint32_t* last, const float* cot_rgb, const float* cot_alpha, const float* cot_depth,\n",
"                       float* gacc)\n",
"{\n",
"    __shared__ dvren__splat_proj_32 batch[DVREN_SPLAT_TILE * DVREN_SPLAT_TILE];\n",
"    __shared__ uint32_t bid[DVREN_SPLAT_TILE * DVREN_SPLAT_TILE];\n",
"    __shared__ uint32_t top;\n",
"    uint32_t t = blockIdx.x, tx = t % V.tiles_x, ty = t / V.tiles_x, tr = threadIdx.y * DVREN_SPLAT_TILE + threadIdx.x;\n",
"    uint32_t x = tx * DVREN_SPLAT_TILE + threadIdx.x, y = ty * DVREN_SPLAT_TILE + threadIdx.y;\n",
"    uint32_t start = ranges[2 * t], mylast = start, b1, lane = tr & 31u, q;\n",
"    int inside = x < V.width && y < V.height;\n",
"    float vrgb[3] = {0.0f, 0.0f, 0.0f}, va = 0.0f, vd = 0.0f, Tf = 1.0f, dacc = 0.0f;\n",
"    dvren__splat_bwd_state_32 st;\n",
"    if (ranges[2 * t + 1] == start) return; /* the whole block: no entries */\n",
"    if (inside) {\n",
"        size_t pix = (size_t)y * V.width + x;\n",
"        if (cot_rgb) {\n",
"            vrgb[0] = cot_rgb[3 * pix];\n",
"            vrgb[1] = cot_rgb[3 * pix + 1];\n",
"            vrgb[2] = cot_rgb[3 * pix + 2];\n",
"        }\n",
"        if (cot_alpha) va = cot_alpha[pix];\n",
"        if (cot_depth) vd = cot_depth[pix];\n",
"        Tf = pT[pix];\n",
"        dacc = pdacc[pix];\n",
"        mylast = last[pix];\n",
"    }\n",
"    dvren__splat_bwd_begin_32(&V, inside ? x : 0u, inside ? y : 0u, Tf, dacc, vrgb, va, vd, &st);\n",
"    if (tr == 0) top = start;\n",
"    __syncthreads();\n",
"    atomicMax(&top, mylast);\n",
"    __syncthreads();\n",
"    for (b1 = top; b1 > start;) {\n",
"        uint32_t nb = b1 - start < DVREN_SPLAT_TILE * DVREN_SPLAT_TILE ? b1 - start : DVREN_SPLAT_TILE * DVREN_SPLAT_TILE;\n",
"        uint32_t b0 = b1 - nb;\n",
"        int j;\n",
"        __syncthreads();\n",
"        if (tr < nb) {\n",
"            uint32_t g = gids[b0 + tr];\n",
"            bid[tr] = g;\n",
"            batch[tr] = proj[g];\n",
"        }\n",
"        __syncthreads();\n",
"        for (j = (int)nb - 1; j >= 0; --j) {\n",
"            float g[DVREN_SPLAT_GRAD_FLOATS];\n",
"            int c = 0;\n",
"            if (b0 + (uint32_t)j < mylast) c = dvren__splat_bwd_step_32(&V, &batch[j], &st, g);\n",
"            if (!__any_sync(0xFFFFFFFFu, c)) continue;\n",
"            for (q = 0; q < DVREN_SPLAT_GRAD_FLOATS; ++q) {\n",
"                float v = c ? g[q] : 0.0f;\n",
"                v += __shfl_down_sync(0xFFFFFFFFu, v, 16);\n",
"                v += __shfl_down_sync(0xFFFFFFFFu, v, 8);\n",
"                v += __shfl_down_sync(0xFFFFFFFFu, v, 4);\n",
"                v += __shfl_down_sync(0xFFFFFFFFu, v, 2);\n",
"                v += __shfl_down_sync(0xFFFFFFFFu, v, 1);\n",
"                if (lane == 0u && v != 0.0f) atomicAdd(&gacc[(size_t)bid[j] * DVREN_SPLAT_GRAD_FLOATS + q], v);\n",
"            }\n",
"        }\n",
"        b1 = b0;\n",
"    }\n",
"}\n",
"\n",
"/* Gaussian i: the projection's backward from its sums gacc[i] into the\n",
" * gradients (zero for a culled Gaussian). */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SPLAT_THREADS)\n",
"    dvren_splat_gather(const __grid_constant__ dvren_splat_view V, const float* means, const float* log_scales,\n",
"                       const float* quats, const float* logits, const float* sh, const dvren__splat_proj_32* proj,\n",
"                       const float* gacc, float* g_means, float* g_log_scales, float* g_quats, float* g_logits,\n",
"                       float* g_sh)\n",
"{\n",
"    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, K = (V.sh_degree + 1u) * (V.sh_degree + 1u), c;\n",
"    float gp[DVREN_SPLAT_GRAD_FLOATS];\n",
"    if (i >= V.count) return;\n",
"    for (c = 0; c < 3u; ++c) {\n",
"        if (g_means) g_means[3 * (size_t)i + c] = 0.0f;\n",
"        if (g_log_scales) g_log_scales[3 * (size_t)i + c] = 0.0f;\n",
"    }\n",
"    for (c = 0; c < 4u; ++c)\n",
"        if (g_quats) g_quats[4 * (size_t)i + c] = 0.0f;\n",
"    if (g_logits) g_logits[i] = 0.0f;\n",
"    if (g_sh)\n",
"        for (c = 0; c < 3u * K; ++c) g_sh[3 * (size_t)K * i + c] = 0.0f;\n",
"    if (proj[i].rx <= 0) return;\n",
"    for (c = 0; c < DVREN_SPLAT_GRAD_FLOATS; ++c) gp[c] = gacc[(size_t)i * DVREN_SPLAT_GRAD_FLOATS + c];\n",
"    dvren__splat_project_bwd_32(&V, means + 3 * (size_t)i, log_scales + 3 * (size_t)i, quats + 4 * (size_t)i, logits[i],\n",
"                                sh + 3 * (size_t)K * i, gp, g_means ? g_means + 3 * (size_t)i : NULL,\n",
"                                g_log_scales ? g_log_scales + 3 * (size_t)i : NULL,\n",
"                                g_quats ? g_quats + 4 * (size_t)i : NULL, g_logits ? g_logits + i : NULL,\n",
"                                g_sh ? g_sh + 3 * (size_t)K * i : NULL);\n",
"}\n",
"\n",
"#endif /* DVREN_CUDA_SPLAT_H */\n",
0};
/* >>cuda-src splat-kernel end */
/* >>cuda-src scan begin (generated from kernels/dvren_cuda_scan.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_scan[] = {
"/* kernels/dvren_cuda_scan.h - exclusive prefix sums on the GPU.\n",
" *\n",
" * GPU only: dvren_cuda.h puts this file into every fixed module that needs\n",
" * a scan (the splat module, the marching-cubes module) and launches it\n",
" * through dvren__cu_scan: the exclusive prefix sum of n u32 counts, in\n",
" * place, with data[n] = the total, in three kernels: per-block scans\n",
" * (DVREN__SCAN_BLOCK elements each, their totals to sums[]), one block\n",
" * scanning the block sums, and the adds. Totals are summed in 64 bits; the\n",
" * caller refuses totals that do not fit in 32 before reading offsets.\n",
" * Deterministic (integer sums).\n",
" *\n",
" * dvren_cuda.h carries a generated copy of this file (\">>cuda-src scan\");\n",
" * edit this file and run `./build.sh gen`. */\n",
"#ifndef DVREN_CUDA_SCAN_H\n",
"#define DVREN_CUDA_SCAN_H\n",
"\n",
"#define DVREN__SCAN_THREADS 256u\n",
"#define DVREN__SCAN_ITEMS 8u    /* elements per thread of a per-block scan */\n",
"#define DVREN__SCAN_BLOCK 2048u /* DVREN__SCAN_THREADS * DVREN__SCAN_ITEMS */\n",
"#define DVREN__SCAN_SUM_THREADS 1024u\n",
"\n",
"/* Inclusive scan of one value per thread over the block (Hillis-Steele). */\n",
"__device__ __forceinline__ uint64_t dvren__block_scan(uint64_t v, uint64_t* s, uint32_t threads)\n",
"{\n",
"    uint32_t t = threadIdx.x, d;\n",
"    s[t] = v;\n",
"    __syncthreads();\n",
"    for (d = 1u; d < threads; d <<= 1) {\n",
"        uint64_t add = t >= d ? s[t - d] : 0ull;\n",
"        __syncthreads();\n",
"        s[t] += add;\n",
"        __syncthreads();\n",
"    }\n",
"    return s[t];\n",
"}\n",
"\n",
"/* Each block scans DVREN__SCAN_BLOCK elements (exclusive, in place,\n",
" * relative to the block) and writes its total to sums[block]. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SCAN_THREADS)\n",
"    dvren_scan_blocks(uint32_t* data, uint32_t n, unsigned long long* sums)\n",
"{\n",
"    __shared__ uint64_t s[DVREN__SCAN_THREADS];\n",
"    uint64_t base = (uint64_t)blockIdx.x * DVREN__SCAN_BLOCK + (uint64_t)threadIdx.x * DVREN__SCAN_ITEMS;\n",
"    uint32_t v[DVREN__SCAN_ITEMS], j;\n",
"    uint64_t mine = 0ull, incl, run;\n",
"    for (j = 0; j < DVREN__SCAN_ITEMS; ++j) {\n",
"        v[j] = base + j < n ? data[base + j] : 0u;\n",
"        mine += v[j];\n",
"    }\n",
"    incl = dvren__block_scan(mine, s, DVREN__SCAN_THREADS);\n",
"    run = incl - mine;\n",
"    for (j = 0; j < DVREN__SCAN_ITEMS; ++j) {\n",
"        if (base + j < n) data[base + j] = (uint32_t)run; /* the final offset fits when the total does */\n",
"        run += v[j];\n",
"    }\n",
"    if (threadIdx.x == DVREN__SCAN_THREADS - 1u) sums[blockIdx.x] = incl;\n",
"}\n",
"\n",
"/* One block: exclusive scan of the nb block sums in place; *total = their sum. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SCAN_SUM_THREADS)\n",
"    dvren_scan_sums(unsigned long long* sums, uint32_t nb, unsigned long long* total)\n",
"{\n",
"    __shared__ uint64_t s[DVREN__SCAN_SUM_THREADS];\n",
"    uint64_t carry = 0ull;\n",
"    uint32_t c;\n",
"    for (c = 0; c < nb; c += DVREN__SCAN_SUM_THREADS) {\n",
"        uint32_t i = c + threadIdx.x;\n",
"        uint64_t v = i < nb ? sums[i] : 0ull, incl = dvren__block_scan(v, s, DVREN__SCAN_SUM_THREADS);\n",
"        if (i < nb) sums[i] = carry + incl - v;\n",
"        carry += s[DVREN__SCAN_SUM_THREADS - 1u];\n",
"        __syncthreads();\n",
"    }\n",
"    if (threadIdx.x == 0) *total = carry;\n",
"}\n",
"\n",
"/* data[i] += its block's offset; data[n] = the total (saturated to u32: the\n",
" * host refuses totals above 2^32 - 16 before anything reads it). */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__SCAN_THREADS)\n",
"    dvren_scan_add(uint32_t* data, uint32_t n, const unsigned long long* sums, const unsigned long long* total)\n",
"{\n",
"    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;\n",
"    if (i < n) data[i] += (uint32_t)sums[i / DVREN__SCAN_BLOCK];\n",
"    if (i == 0) data[n] = *total > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)*total;\n",
"}\n",
"\n",
"#endif /* DVREN_CUDA_SCAN_H */\n",
0};
/* >>cuda-src scan end */
/* >>cuda-src mc begin (generated from kernels/dvren_mc.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_mc[] = {
"/* kernels/dvren_mc.h - marching cubes of dvren (single source).\n",
" *\n",
" * The per-cell and per-edge arithmetic of dvren_marching_cubes (dvren.h,\n",
" * >>meshes), compiled by the host compiler for the CPU (dvren.h, >>cpu) and\n",
" * by NVRTC for the GPU (kernels/dvren_cuda_mc.h), under the rules of\n",
" * kernels/dvren_device.h (no globals, no tables in memory: the cube's\n",
" * corner and edge numbering is computed). The CPU and the GPU run these\n",
" * same functions on the same float32 samples and give the same mesh bit for\n",
" * bit: decisions are comparisons of exact values (the asymptotic decider in\n",
" * float64, where the product of two floats is exact), and the arithmetic of\n",
" * positions and normals goes through DVREN__MC_MUL / DVREN__MC_ADD, which\n",
" * NVRTC may not fuse into FMAs (__fmul_rn, __fadd_rn).\n",
" *\n",
" * The grid: samples g[(z * ny + y) * nx + x], x fastest; sample (x, y, z)\n",
" * sits at origin + spacing * (x, y, z). Cell (x, y, z) is the cube of the\n",
" * samples (x..x+1, y..y+1, z..z+1); its corner i is sample (x + (i & 1),\n",
" * y + ((i >> 1) & 1), z + ((i >> 2) & 1)). Its 12 edges: e = 4 * axis + k,\n",
" * axis 0 (x), 1 (y), 2 (z), k numbering the other two coordinates' bits\n",
" * (lower axis first): x-edges 0:(0,1) 1:(2,3) 2:(4,5) 3:(6,7); y-edges\n",
" * 4:(0,2) 5:(1,3) 6:(4,6) 7:(5,7); z-edges 8:(0,4) 9:(1,5) 10:(2,6)\n",
" * 11:(3,7). A grid edge is owned by its lower sample, which owns up to\n",
" * three (+x, +y, +z): the vertex of a crossed edge is created once, by its\n",
" * owner (docs/meshes.md, \"Vertices\").\n",
" *\n",
" * The method (docs/meshes.md, \"Marching cubes\"): f = s (value - level),\n",
" * s = +1 (the inside is above the level) or -1; a corner is inside when\n",
" * f > 0 (NaN is outside). On each of the cube's six faces the crossed edges\n",
" * are joined by contour segments: two crossings give one segment; four (an\n",
" * ambiguous face, the inside corners on one diagonal) give two, joining the\n",
" * inside corners when the face's bilinear interpolant has its saddle inside\n",
" * (asymptotic decider, Nielson and Hamann, \"The asymptotic decider\", IEEE\n",
" * Visualization 1991: saddle value (a c - b d) / (a + c - b - d), with a, c\n",
" * the inside corners' f, the denominator positive), and separating them\n",
" * otherwise. Two cubes sharing a face see the same four values and draw the\n",
" * same segments, so the surface has no cracks (the holes of Lorensen and\n",
" * Cline's original table). Segments are directed (from the crossing where,\n",
" * going round the face counter-clockwise seen from outside the cube, one\n",
" * leaves the inside, to the next crossing where one enters it); every\n",
" * crossed edge starts one segment and ends one, so the segments form closed\n",
" * loops, each triangulated as a fan (dvren_mc_cell_triangles says from\n",
" * where), oriented so that triangles are counter-clockwise seen from outside\n",
" * the surface. A cell has at most 12 crossed edges and 12 triangles. */\n",
"#ifndef DVREN_MC_H\n",
"#define DVREN_MC_H\n",
"\n",
"#if defined(__CUDACC_RTC__)\n",
"#define DVREN__MC_MUL(a, b) __fmul_rn((a), (b))\n",
"#define DVREN__MC_ADD(a, b) __fadd_rn((a), (b))\n",
"#define DVREN__MC_DMUL(a, b) __dmul_rn((a), (b))\n",
"#define DVREN__MC_DADD(a, b) __dadd_rn((a), (b))\n",
"#else\n",
"#define DVREN__MC_MUL(a, b) ((a) * (b))\n",
"#define DVREN__MC_ADD(a, b) ((a) + (b))\n",
"#define DVREN__MC_DMUL(a, b) ((a) * (b))\n",
"#define DVREN__MC_DADD(a, b) ((a) + (b))\n",
"#endif\n",
"\n",
"/* most triangles one cell can give (12 crossed edges in one loop around a\n",
" * centre vertex) */\n",
"#define DVREN_MC_MAX_CELL_TRIANGLES 12\n",
"/* vertex indices are kept below 2^29 (the GPU packs three edge bits above) */\n",
"#define DVREN_MC_MAX_VERTICES 536870912u\n",
"\n",
"/* The grid and the level, as both devices pass them. */\n",
"typedef struct dvren_mc_grid {\n",
"    const float* g;\n",
"    uint32_t nx, ny, nz;\n",
"    float level;\n",
"    float sign; /* +1: inside is value > level; -1: inside is value < level */\n",
"    float origin[3], spacing[3];\n",
"} dvren_mc_grid;\n",
"\n",
"DVREN_FN float dvren_mc_value(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)\n",
"{\n",
"    return G->g[((uint64_t)z * G->ny + y) * G->nx + x];\n",
"}\n",
"\n",
"/* f of a sample: s (value - level); inside when > 0 */\n",
"DVREN_FN float dvren_mc_f(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)\n",
"{\n",
"    return DVREN__MC_MUL(dvren_mc_value(G, x, y, z) - G->level, G->sign);\n",
"}\n",
"\n",
"/* corners (a, b) of cell edge e */\n",
"DVREN_FN uint32_t dvren_mc_edge_corner(uint32_t e, uint32_t end)\n",
"{\n",
"    uint32_t axis = e >> 2, k = e & 3u, a;\n",
"    if (axis == 0) a = ((k & 1u) << 1) | ((k >> 1) << 2);\n",
"    else if (axis == 1) a = (k & 1u) | ((k >> 1) << 2);\n",
"    else a = (k & 1u) | ((k >> 1) << 1);\n",
"    return end ? a | (1u << axis) : a;\n",
"}\n",
"\n",
"/* the cell edge joining corners a and b (which differ in one bit) */\n",
"DVREN_FN uint32_t dvren_mc_edge_of(uint32_t a, uint32_t b)\n",
"{\n",
"    uint32_t d = a ^ b, lo = a < b ? a : b;\n",
"    if (d == 1u) return ((lo >> 1) & 1u) | (((lo >> 2) & 1u) << 1);\n",
"    if (d == 2u) return 4u + ((lo & 1u) | (((lo >> 2) & 1u) << 1));\n",
"    return 8u + ((lo & 1u) | (((lo >> 1) & 1u) << 1));\n",
"}\n",
"\n",
"/* corner k (0..3) of face f (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z), counter-\n",
" * clockwise seen from outside the cube (packed 3 bits per corner) */\n",
"DVREN_FN uint32_t dvren_mc_face_corner(uint32_t f, uint32_t k)\n",
"{\n",
"    uint32_t packed;\n",
"    switch (f) {\n",
"    case 0: packed = 0u | (4u << 3) | (6u << 6) | (2u << 9); break;\n",
"    case 1: packed = 1u | (3u << 3) | (7u << 6) | (5u << 9); break;\n",
"    case 2: packed = 0u | (1u << 3) | (5u << 6) | (4u << 9); break;\n",
"    case 3: packed = 2u | (6u << 3) | (7u << 6) | (3u << 9); break;\n",
"    case 4: packed = 0u | (2u << 3) | (3u << 6) | (1u << 9); break;\n",
"    default: packed = 4u | (5u << 3) | (7u << 6) | (6u << 9); break;\n",
"    }\n",
"    return (packed >> (3u * k)) & 7u;\n",
"}\n",
"\n",
"/* Loads cell (x, y, z)'s eight f values (x < nx - 1, y < ny - 1, z < nz - 1)\n",
" * and returns its inside mask (bit i: corner i inside). */\n",
"DVREN_FN uint32_t dvren_mc_cell_load(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, float* f)\n",
"{\n",
"    /* written out: constant indices keep f in registers on the GPU */\n",
"    f[0] = dvren_mc_f(G, x, y, z);\n",
"    f[1] = dvren_mc_f(G, x + 1u, y, z);\n",
"    f[2] = dvren_mc_f(G, x, y + 1u, z);\n",
"    f[3] = dvren_mc_f(G, x + 1u, y + 1u, z);\n",
"    f[4] = dvren_mc_f(G, x, y, z + 1u);\n",
"    f[5] = dvren_mc_f(G, x + 1u, y, z + 1u);\n",
"    f[6] = dvren_mc_f(G, x, y + 1u, z + 1u);\n",
"    f[7] = dvren_mc_f(G, x + 1u, y + 1u, z + 1u);\n",
"    return (uint32_t)(f[0] > 0.0f) | ((uint32_t)(f[1] > 0.0f) << 1) | ((uint32_t)(f[2] > 0.0f) << 2) |\n",
"           ((uint32_t)(f[3] > 0.0f) << 3) | ((uint32_t)(f[4] > 0.0f) << 4) | ((uint32_t)(f[5] > 0.0f) << 5) |\n",
"           ((uint32_t)(f[6] > 0.0f) << 6) | ((uint32_t)(f[7] > 0.0f) << 7);\n",
"}\n",
"\n",
"/* bits f of the two cube faces (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z) that\n",
" * hold cell edge e */\n",
"DVREN_FN uint32_t dvren_mc_edge_faces(uint32_t e)\n",
"{\n",
"    uint32_t axis = e >> 2, a = dvren_mc_edge_corner(e, 0), m = 0, b;\n",
"    for (b = 0; b < 3; ++b)\n",
"        if (b != axis) m |= 1u << (2u * b + ((a >> b) & 1u));\n",
"    return m;\n",
"}\n",
"\n",
"/* union-find over a few nodes (the roots of small sets) */\n",
"DVREN_FN uint32_t dvren__mc_find(uint8_t* parent, uint32_t a)\n",
"{\n",
"    while (parent[a] != a) a = parent[a] = parent[parent[a]];\n",
"    return a;\n",
"}\n",
"\n",
"DVREN_FN void dvren__mc_union(uint8_t* parent, uint32_t a, uint32_t b)\n",
"{\n",
"    a = dvren__mc_find(parent, a);\n",
"    b = dvren__mc_find(parent, b);\n",
"    if (a < b) parent[b] = (uint8_t)a;\n",
"    else if (b < a) parent[a] = (uint8_t)b;\n",
"}\n",
"\n",
"/* Which of the cell's corners with s f > 0 are connected inside the cell\n",
" * through {s F > 0}, F the trilinear interpolant of the eight f: comp[i]\n",
" * (i = 0..7) becomes a label shared by connected corners (255 for the\n",
" * other corners). The cube is swept along z: a slice z = t is a bilinear square\n",
" * whose corner values p_i(t) = s (f_i + t (f_{i+4} - f_i)) are linear in t,\n",
" * so its positive set (components holding one or two of its corners, the\n",
" * diagonal joined by the asymptotic decider) changes only where a p_i\n",
" * vanishes or where D(t) = p_0 p_3 - p_1 p_2 does (a quadratic). Slices at\n",
" * t = 0, in the middle of each interval between events and at t = 1\n",
" * stand for them; a component continues into the next interval through each of\n",
" * its corners that stays positive there (docs/meshes.md, \"Tunnels\"). At\n",
" * t = 0 and 1 the slices are the cube's faces, decided as\n",
" * dvren_mc_cell_triangles decides them. Arithmetic in float64. */\n",
"DVREN_FN void dvren_mc_cell_components(const float* f, double s, uint8_t* comp)\n",
"{\n",
"    double ev[8], tmp;\n",
"    uint8_t parent[40];\n",
"    uint32_t nev = 0, i, j, k, ns, pos_prev = 0;\n",
"    double f0[4], g[4];\n",
"    for (i = 0; i < 4; ++i) {\n",
"        f0[i] = DVREN__MC_DMUL(s, (double)f[i]);\n",
"        g[i] = DVREN__MC_DADD(DVREN__MC_DMUL(s, (double)f[i + 4]), -f0[i]);\n",
"        if ((f0[i] > 0.0) != (DVREN__MC_DADD(f0[i], g[i]) > 0.0) && g[i] != 0.0) {\n",
"            tmp = -f0[i] / g[i];\n",
"            if (tmp > 0.0 && tmp < 1.0) ev[nev++] = tmp;\n",
"        }\n",
"    }\n",
"    {\n",
"        /* D(t) = A t^2 + B t + C */\n",
"        double A = DVREN__MC_DADD(DVREN__MC_DMUL(g[0], g[3]), -DVREN__MC_DMUL(g[1], g[2]));\n",
"        double B = DVREN__MC_DADD(DVREN__MC_DADD(DVREN__MC_DMUL(f0[0], g[3]), DVREN__MC_DMUL(f0[3], g[0])),\n",
"                                  -DVREN__MC_DADD(DVREN__MC_DMUL(f0[1], g[2]), DVREN__MC_DMUL(f0[2], g[1])));\n",
"        double C = DVREN__MC_DADD(DVREN__MC_DMUL(f0[0], f0[3]), -DVREN__MC_DMUL(f0[1], f0[2]));\n",
"        if (A != 0.0) {\n",
"            double disc = DVREN__MC_DADD(DVREN__MC_DMUL(B, B), -DVREN__MC_DMUL(4.0, DVREN__MC_DMUL(A, C)));\n",
"            if (disc > 0.0) {\n",
"                double r = sqrt(disc), t1 = (-B - r) / (2.0 * A), t2 = (-B + r) / (2.0 * A);\n",
"                if (t1 > 0.0 && t1 < 1.0) ev[nev++] = t1;\n",
"                if (t2 > 0.0 && t2 < 1.0) ev[nev++] = t2;\n",
"            }\n",
"        } else if (B != 0.0) {\n",
"            tmp = -C / B;\n",
"            if (tmp > 0.0 && tmp < 1.0) ev[nev++] = tmp;\n",
"        }\n",
"    }\n",
"    for (i = 1; i < nev; ++i) /* insertion sort */\n",
"        for (j = i; j > 0 && ev[j - 1] > ev[j]; --j) {\n",
"            tmp = ev[j];\n",
"            ev[j] = ev[j - 1];\n",
"            ev[j - 1] = tmp;\n",
"        }\n",
"    ns = nev + 3; /* t = 0, the middles of the nev + 1 intervals, t = 1: at most 9 slices */\n",
"    for (i = 0; i < 4 * ns; ++i) parent[i] = (uint8_t)i;\n",
"    for (k = 0; k < ns; ++k) {\n",
"        /* slice k in 1..nev+1: the middle of interval m = k - 1, [ev[m-1], ev[m]] */\n",
"        double lo = k >= 2 && k <= nev + 1 ? ev[k - 2] : 0.0, hi = k >= 1 && k <= nev ? ev[k - 1] : 1.0, q[4];\n",
"        double t = k == 0 ? 0.0 : k == ns - 1 ? 1.0 : 0.5 * (lo + hi);\n",
"        uint32_t pos = 0;\n",
"        for (i = 0; i < 4; ++i) {\n",
"            q[i] = DVREN__MC_DADD(f0[i], DVREN__MC_DMUL(t, g[i]));\n",
"            if (q[i] > 0.0) pos |= 1u << i;\n",
"        }\n",
"        /* the square's sides: 0-1, 1-3, 3-2, 2-0 (corner i at x = i & 1, y = i >> 1) */\n",
"        if ((pos & 3u) == 3u) dvren__mc_union(parent, 4 * k + 0, 4 * k + 1);\n",
"        if ((pos & 10u) == 10u) dvren__mc_union(parent, 4 * k + 1, 4 * k + 3);\n",
"        if ((pos & 12u) == 12u) dvren__mc_union(parent, 4 * k + 3, 4 * k + 2);\n",
"        if ((pos & 5u) == 5u) dvren__mc_union(parent, 4 * k + 2, 4 * k + 0);\n",
"        {\n",
"            double d = DVREN__MC_DADD(DVREN__MC_DMUL(q[0], q[3]), -DVREN__MC_DMUL(q[1], q[2]));\n",
"            if (pos == 9u && d > 0.0) dvren__mc_union(parent, 4 * k + 0, 4 * k + 3);\n",
"            if (pos == 6u && d < 0.0) dvren__mc_union(parent, 4 * k + 1, 4 * k + 2);\n",
"        }\n",
"        if (k > 0)\n",
"            for (i = 0; i < 4; ++i)\n",
"                if (((pos & pos_prev) >> i) & 1u) dvren__mc_union(parent, 4 * (k - 1) + i, 4 * k + i);\n",
"        pos_prev = pos;\n",
"        if (k == 0)\n",
"            for (i = 0; i < 4; ++i) comp[i] = (uint8_t)((pos >> i) & 1u ? 0u : 255u);\n",
"        if (k == ns - 1)\n",
"            for (i = 0; i < 4; ++i) comp[i + 4] = (uint8_t)((pos >> i) & 1u ? 0u : 255u);\n",
"    }\n",
"    for (i = 0; i < 8; ++i)\n",
"        if (comp[i] == 0u) comp[i] = (uint8_t)dvren__mc_find(parent, i < 4 ? i : 4 * (ns - 1) + (i - 4));\n",
"}\n",
"\n",
"/* 1 when cell edges a and b (vertices of one cell) may be joined by a\n",
" * triangle edge that is not a contour segment: they share no cube face, so\n",
" * the edge runs through the cell's inside and no neighbouring cell draws it */\n",
"DVREN_FN uint32_t dvren__mc_free_pair(uint32_t a, uint32_t b)\n",
"{\n",
"    return (dvren_mc_edge_faces(a) & dvren_mc_edge_faces(b)) == 0u;\n",
"}\n",
"\n",
"/* 4-bit fields of a 64-bit word: the per-cell state lives in registers\n",
" * (arrays indexed at run time would go to the GPU's local memory) */\n",
"DVREN_FN uint32_t dvren__mc_nib(uint64_t w, uint32_t i)\n",
"{\n",
"    return (uint32_t)(w >> (4u * i)) & 15u;\n",
"}\n",
"\n",
"DVREN_FN uint64_t dvren__mc_setnib(uint64_t w, uint32_t i, uint32_t v)\n",
"{\n",
"    return (w & ~((uint64_t)15u << (4u * i))) | ((uint64_t)v << (4u * i));\n",
"}\n",
"\n",
"/* A tube between two loops, A (na vertices, nibbles a0 .. a0 + na - 1 of\n",
" * lv) and B (nb, from b0), both running in contour order: a strip of\n",
" * na + nb triangles whose rungs join vertices sharing no cube face; tried\n",
" * from each pair of starting vertices, stepping along the loop that lags\n",
" * (by position over length) unless its rung is not free. Returns the\n",
" * triangle count written to tri (0: no such strip). Triangles traverse both\n",
" * loops against their order, as the fans do. */\n",
"DVREN_FN uint32_t dvren__mc_tube(uint64_t lv, uint32_t a0, uint32_t na, uint32_t b0, uint32_t nb, uint8_t* tri)\n",
"{\n",
"    uint32_t i0, j0;\n",
"    for (i0 = 0; i0 < na; ++i0)\n",
"        for (j0 = 0; j0 < nb; ++j0) {\n",
"            uint32_t sa = 0, sb = 0, n = 0, lead_a = 0, lead_b = 0;\n",
"            uint32_t ok = dvren__mc_free_pair(dvren__mc_nib(lv, a0 + i0), dvren__mc_nib(lv, b0 + j0));\n",
"            while (ok && (sa < na || sb < nb)) {\n",
"                uint32_t a = dvren__mc_nib(lv, a0 + (i0 + na - sa) % na), b = dvren__mc_nib(lv, b0 + (j0 + sb) % nb);\n",
"                uint32_t a1 = dvren__mc_nib(lv, a0 + (i0 + 2 * na - sa - 1) % na), b1 = dvren__mc_nib(lv, b0 + (j0 + sb + 1) % nb);\n",
"                /* No rung twice: when A comes round to A[i0] the rungs (A[i0],\n",
"                 * B[j0 .. j0 + lead_b]) of the start are taken (and the other\n",
"                 * way round); the last step's rung is the first one. */\n",
"                uint32_t can_a = sa < na && (sa + 1 < na || sb > lead_b) &&\n",
"                                 (sa + 1 == na && sb == nb ? 1u : dvren__mc_free_pair(a1, b));\n",
"                uint32_t can_b = sb < nb && (sb + 1 < nb || sa > lead_a) &&\n",
"                                 (sb + 1 == nb && sa == na ? 1u : dvren__mc_free_pair(a, b1));\n",
"                uint32_t step_a = can_a && (!can_b || (uint64_t)sa * nb <= (uint64_t)sb * na);\n",
"                if (!can_a && !can_b) ok = 0;\n",
"                else if (step_a) {\n",
"                    if (tri) {\n",
"                        tri[3 * n] = (uint8_t)a;\n",
"                        tri[3 * n + 1] = (uint8_t)a1;\n",
"                        tri[3 * n + 2] = (uint8_t)b;\n",
"                    }\n",
"                    lead_a += sb == 0;\n",
"                    ++sa;\n",
"                    ++n;\n",
"                } else {\n",
"                    if (tri) {\n",
"                        tri[3 * n] = (uint8_t)b1;\n",
"                        tri[3 * n + 1] = (uint8_t)b;\n",
"                        tri[3 * n + 2] = (uint8_t)a;\n",
"                    }\n",
"                    lead_b += sa == 0;\n",
"                    ++sb;\n",
"                    ++n;\n",
"                }\n",
"            }\n",
"            if (ok) return n;\n",
"        }\n",
"    return 0;\n",
"}\n",
"\n",
"/* The cell's triangles from its corner values f and inside mask: returns\n",
" * their count and, when tri is not NULL, writes 3 local vertices per\n",
" * triangle: a cell edge 0..11, or DVREN_MC_CENTER for the cell's centre\n",
" * vertex. *ncenter (may be NULL) becomes 1 when the cell has one; then\n",
" * center_loop (may be NULL) receives its loop's edges and *center_n their\n",
" * count.\n",
" *\n",
" * Loops. Each loop of contour segments separates, on the cube's surface,\n",
" * an inside region from an outside one. Two loops whose inside regions are\n",
" * connected through the cell by the trilinear interpolant's inside, and\n",
" * whose outside regions by its outside (dvren_mc_cell_components), bound\n",
" * one piece of surface: a tube (MC33's tunnel cases 4.1.2, 6.1.2, 7.4.2, 10.1.2, 12.1.2,\n",
" * 13.5.2; docs/meshes.md, \"Tunnels\"), a strip between them. Every other\n",
" * loop is a disc.\n",
" *\n",
" * Discs. A loop of n > 3 crossings is a fan from its first vertex that has\n",
" * no diagonal to a vertex sharing a cube face with it (except its loop\n",
" * neighbours): two vertices on one face are joined only by that face's\n",
" * segments, so the neighbouring cube, which sees the same face, never\n",
" * draws the same edge (a diagonal in the face would be an edge of four\n",
" * triangles). Loops without such an apex (8, 9 or 12 crossings) get a\n",
" * vertex at the mean of their crossings, as the marching cubes 33 tables\n",
" * do (Chernyaev 1995; Lewiner et al. 2003), and a fan of n triangles\n",
" * around it. At most one loop of a cell has 8 or more crossings. */\n",
"#define DVREN_MC_CENTER 12u\n",
"DVREN_FN uint32_t dvren_mc_cell_triangles(const float* f, uint32_t in, uint8_t* tri, uint32_t* ncenter,\n",
"                                          uint8_t* center_loop, uint32_t* center_n)\n",
"{\n",
"    /* next: the segment from each crossed edge (nibble e: the edge it ends\n",
"     * on, 15 none); lv: the loops' edges one after another; lstart: where\n",
"     * each of the nl loops starts in lv (5 bits each, the last = nv) */\n",
"    uint64_t next = 0xFFFFFFFFFFFFull, lv = 0;\n",
"    uint32_t e, face, k, lstart = 0, nl = 0, nv = 0, ntri = 0, seen = 0, l, tube_a = 4, tube_b = 4;\n",
"    if (ncenter) *ncenter = 0;\n",
"    if (in == 0u || in == 255u) return 0;\n",
"    for (face = 0; face < 6; ++face) {\n",
"        uint32_t cw = 0, sw = 0, ncross = 0;\n",
"        for (k = 0; k < 4; ++k) {\n",
"            uint32_t c = dvren_mc_face_corner(face, k);\n",
"            cw |= c << (3u * k);\n",
"            sw |= ((in >> c) & 1u) << k;\n",
"        }\n",
"        for (k = 0; k < 4; ++k) ncross += ((sw >> k) & 1u) != ((sw >> ((k + 1) & 3u)) & 1u);\n",
"#define DVREN__MC_C(k) ((cw >> (3u * ((k) & 3u))) & 7u)\n",
"#define DVREN__MC_S(k) ((sw >> ((k) & 3u)) & 1u)\n",
"        if (ncross == 2) {\n",
"            /* one segment: from the edge leaving the inside to the edge entering it */\n",
"            uint32_t from = 0, to = 0;\n",
"            for (k = 0; k < 4; ++k) {\n",
"                if (DVREN__MC_S(k) && !DVREN__MC_S(k + 1)) from = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));\n",
"                if (!DVREN__MC_S(k) && DVREN__MC_S(k + 1)) to = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));\n",
"            }\n",
"            next = dvren__mc_setnib(next, from, to);\n",
"        } else if (ncross == 4) {\n",
"            /* the inside corners are c[i0] and c[i0 + 2]: joined when the\n",
"             * saddle is inside, a c > b d (exact in float64) */\n",
"            uint32_t i0 = DVREN__MC_S(0) ? 0u : 1u;\n",
"            double a = (double)f[DVREN__MC_C(i0)], cc = (double)f[DVREN__MC_C(i0 + 2)];\n",
"            double b = (double)f[DVREN__MC_C(i0 + 1)], d = (double)f[DVREN__MC_C(i0 + 3)];\n",
"            int joined = a * cc > b * d;\n",
"            for (k = i0; k < 4; k += 2) {\n",
"                /* leaving the inside on edge (c[k], c[k+1]); the segment ends on\n",
"                 * edge (c[k+1], c[k+2]) (cutting off the outside corner c[k+1]:\n",
"                 * inside joined) or on edge (c[k-1], c[k]) (cutting off c[k]) */\n",
"                uint32_t from = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));\n",
"                uint32_t to = joined ? dvren_mc_edge_of(DVREN__MC_C(k + 1), DVREN__MC_C(k + 2))\n",
"                                     : dvren_mc_edge_of(DVREN__MC_C(k + 3), DVREN__MC_C(k));\n",
"                next = dvren__mc_setnib(next, from, to);\n",
"            }\n",
"        }\n",
"#undef DVREN__MC_C\n",
"#undef DVREN__MC_S\n",
"    }\n",
"    for (e = 0; e < 12; ++e) {\n",
"        uint32_t cur = e;\n",
"        if (dvren__mc_nib(next, e) == 15u || ((seen >> e) & 1u)) continue;\n",
"        lstart |= nv << (5u * nl);\n",
"        ++nl;\n",
"        while (nv < 12 && !((seen >> cur) & 1u) && dvren__mc_nib(next, cur) != 15u) {\n",
"            seen |= 1u << cur;\n",
"            lv = dvren__mc_setnib(lv, nv++, cur);\n",
"            cur = dvren__mc_nib(next, cur);\n",
"        }\n",
"    }\n",
"    lstart |= nv << (5u * nl);\n",
"#define DVREN__MC_LS(l) ((lstart >> (5u * (l))) & 31u)\n",
"    if (nl >= 2) {\n",
"        /* tubes: loops with the same (inside component, outside component);\n",
"         * key l in bits 16 l .. 16 l + 15 */\n",
"        uint8_t cin[8], cout[8];\n",
"        uint64_t key = 0;\n",
"        dvren_mc_cell_components(f, 1.0, cin);\n",
"        dvren_mc_cell_components(f, -1.0, cout);\n",
"        for (l = 0; l < nl; ++l) {\n",
"            uint32_t e0 = dvren__mc_nib(lv, DVREN__MC_LS(l));\n",
"            uint32_t a = dvren_mc_edge_corner(e0, 0), b = dvren_mc_edge_corner(e0, 1);\n",
"            uint32_t ci = (in >> a) & 1u ? a : b, co = ci == a ? b : a;\n",
"            uint32_t kl = cin[ci] == 255u || cout[co] == 255u ? 0xFF00u + l : ((uint32_t)cin[ci] << 8) | cout[co];\n",
"            key |= (uint64_t)kl << (16u * l);\n",
"        }\n",
"        for (l = 0; l < nl && tube_a == 4; ++l)\n",
"            for (k = l + 1; k < nl; ++k)\n",
"                if (((key >> (16u * l)) & 0xFFFFu) == ((key >> (16u * k)) & 0xFFFFu)) {\n",
"                    uint32_t m, others = 0;\n",
"                    for (m = 0; m < nl; ++m)\n",
"                        others += m != l && m != k && ((key >> (16u * m)) & 0xFFFFu) == ((key >> (16u * l)) & 0xFFFFu);\n",
"                    if (!others) {\n",
"                        tube_a = l;\n",
"                        tube_b = k;\n",
"                    }\n",
"                    break;\n",
"                }\n",
"        if (tube_a < 4) {\n",
"            uint32_t n = dvren__mc_tube(lv, DVREN__MC_LS(tube_a), DVREN__MC_LS(tube_a + 1) - DVREN__MC_LS(tube_a),\n",
"                                        DVREN__MC_LS(tube_b), DVREN__MC_LS(tube_b + 1) - DVREN__MC_LS(tube_b), tri);\n",
"            if (n) ntri = n;\n",
"            else tube_a = tube_b = 4;\n",
"        }\n",
"    }\n",
"    for (l = 0; l < nl; ++l) {\n",
"        uint32_t s0 = DVREN__MC_LS(l), n = DVREN__MC_LS(l + 1) - s0, i, j, apex = 12;\n",
"        if (l == tube_a || l == tube_b) continue;\n",
"        for (i = 0; i < n && apex == 12; ++i) {\n",
"            uint32_t ok = 1, fi = dvren_mc_edge_faces(dvren__mc_nib(lv, s0 + i));\n",
"            for (j = 0; j < n && ok; ++j)\n",
"                if (j != i && j != (i + 1) % n && j != (i + n - 1) % n && (fi & dvren_mc_edge_faces(dvren__mc_nib(lv, s0 + j))))\n",
"                    ok = 0;\n",
"            if (ok) apex = i;\n",
"        }\n",
"        if (apex < 12) {\n",
"            /* a fan from the apex, reversed: the loop runs clockwise seen from outside */\n",
"            for (i = 1; i + 1 < n; ++i) {\n",
"                if (tri) {\n",
"                    tri[3 * ntri + 0] = (uint8_t)dvren__mc_nib(lv, s0 + apex);\n",
"                    tri[3 * ntri + 1] = (uint8_t)dvren__mc_nib(lv, s0 + (apex + i + 1) % n);\n",
"                    tri[3 * ntri + 2] = (uint8_t)dvren__mc_nib(lv, s0 + (apex + i) % n);\n",
"                }\n",
"                ++ntri;\n",
"            }\n",
"        } else {\n",
"            if (ncenter) *ncenter = 1;\n",
"            if (center_loop)\n",
"                for (i = 0; i < n; ++i) center_loop[i] = (uint8_t)dvren__mc_nib(lv, s0 + i);\n",
"            if (center_n) *center_n = n;\n",
"            for (i = 0; i < n; ++i) {\n",
"                if (tri) {\n",
"                    tri[3 * ntri + 0] = (uint8_t)DVREN_MC_CENTER;\n",
"                    tri[3 * ntri + 1] = (uint8_t)dvren__mc_nib(lv, s0 + (i + 1) % n);\n",
"                    tri[3 * ntri + 2] = (uint8_t)dvren__mc_nib(lv, s0 + i);\n",
"                }\n",
"                ++ntri;\n",
"            }\n",
"        }\n",
"    }\n",
"#undef DVREN__MC_LS\n",
"    return ntri;\n",
"}\n",
"\n",
"/* Bits 0..2: which of sample (x, y, z)'s own edges (+x, +y, +z, those\n",
" * inside the grid) the surface crosses. */\n",
"DVREN_FN uint32_t dvren_mc_point_edges(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)\n",
"{\n",
"    uint32_t m = 0, in0 = dvren_mc_f(G, x, y, z) > 0.0f;\n",
"    if (x + 1 < G->nx && (uint32_t)(dvren_mc_f(G, x + 1, y, z) > 0.0f) != in0) m |= 1u;\n",
"    if (y + 1 < G->ny && (uint32_t)(dvren_mc_f(G, x, y + 1, z) > 0.0f) != in0) m |= 2u;\n",
"    if (z + 1 < G->nz && (uint32_t)(dvren_mc_f(G, x, y, z + 1) > 0.0f) != in0) m |= 4u;\n",
"    return m;\n",
"}\n",
"\n",
"DVREN_FN uint32_t dvren_mc_popc3(uint32_t m)\n",
"{\n",
"    return (m & 1u) + ((m >> 1) & 1u) + ((m >> 2) & 1u);\n",
"}\n",
"\n",
"/* Sample (x, y, z)'s and its neighbours' values along axis a of the\n",
" * gradient, in value units per index step: central differences, one-sided\n",
" * at the grid's border (0 along an axis of one sample). */\n",
"DVREN_FN float dvren_mc_grad(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, uint32_t a)\n",
"{\n",
"    uint32_t n = a == 0 ? G->nx : a == 1 ? G->ny : G->nz;\n",
"    uint32_t i = a == 0 ? x : a == 1 ? y : z, lo = i > 0 ? i - 1 : i, hi = i + 1 < n ? i + 1 : i;\n",
"    float vlo, vhi;\n",
"    if (hi == lo) return 0.0f;\n",
"    vlo = dvren_mc_value(G, a == 0 ? lo : x, a == 1 ? lo : y, a == 2 ? lo : z);\n",
"    vhi = dvren_mc_value(G, a == 0 ? hi : x, a == 1 ? hi : y, a == 2 ? hi : z);\n",
"    return (vhi - vlo) / (float)(hi - lo);\n",
"}\n",
"\n",
"/* The vertex on sample (x, y, z)'s edge along axis a (crossed): its world\n",
" * position pos[3] and, when nrm is not NULL, its unit outward normal\n",
" * (minus s times the value gradient, interpolated along the edge and\n",
" * scaled by 1/spacing; (0, 0, 0) where it vanishes). */\n",
"DVREN_FN void dvren_mc_vertex(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, uint32_t a, float* pos,\n",
"                              float* nrm)\n",
"{\n",
"    uint32_t x1 = x + (a == 0), y1 = y + (a == 1), z1 = z + (a == 2), j;\n",
"    float f0 = dvren_mc_f(G, x, y, z), f1 = dvren_mc_f(G, x1, y1, z1);\n",
"    float t = f0 / (f0 - f1);\n",
"    float idx[3];\n",
"    if (!(t >= 0.0f && t <= 1.0f)) t = 0.5f; /* non-finite samples */\n",
"    idx[0] = (float)x;\n",
"    idx[1] = (float)y;\n",
"    idx[2] = (float)z;\n",
"    idx[a] = DVREN__MC_ADD(idx[a], t);\n",
"    for (j = 0; j < 3; ++j) pos[j] = DVREN__MC_ADD(G->origin[j], DVREN__MC_MUL(G->spacing[j], idx[j]));\n",
"    if (nrm) {\n",
"        float n[3], len2 = 0.0f;\n",
"        for (j = 0; j < 3; ++j) {\n",
"            float g0 = dvren_mc_grad(G, x, y, z, j), g1 = dvren_mc_grad(G, x1, y1, z1, j);\n",
"            float g = DVREN__MC_ADD(g0, DVREN__MC_MUL(t, g1 - g0));\n",
"            n[j] = DVREN__MC_MUL(-G->sign, g / G->spacing[j]);\n",
"            len2 = DVREN__MC_ADD(len2, DVREN__MC_MUL(n[j], n[j]));\n",
"        }\n",
"        if (len2 > 0.0f && len2 <= 3.0e38f) {\n",
"            float len = sqrtf(len2);\n",
"            for (j = 0; j < 3; ++j) nrm[j] = n[j] / len;\n",
"        } else {\n",
"            for (j = 0; j < 3; ++j) nrm[j] = 0.0f;\n",
"        }\n",
"    }\n",
"}\n",
"\n",
"/* The centre vertex of a cell (dvren_mc_cell_triangles' DVREN_MC_CENTER):\n",
" * the mean of its loop's n vertices (positions and normals, the normal\n",
" * normalised again), summed in loop order. */\n",
"DVREN_FN void dvren_mc_center(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, const uint8_t* loop, uint32_t n,\n",
"                              float* pos, float* nrm)\n",
"{\n",
"    float p[3], q[3], sp[3] = {0.0f, 0.0f, 0.0f}, sn[3] = {0.0f, 0.0f, 0.0f}, len2 = 0.0f;\n",
"    uint32_t i, j;\n",
"    for (i = 0; i < n; ++i) {\n",
"        uint32_t e = loop[i], o = dvren_mc_edge_corner(e, 0);\n",
"        dvren_mc_vertex(G, x + (o & 1u), y + ((o >> 1) & 1u), z + ((o >> 2) & 1u), e >> 2, p, nrm ? q : NULL);\n",
"        for (j = 0; j < 3; ++j) {\n",
"            sp[j] = DVREN__MC_ADD(sp[j], p[j]);\n",
"            if (nrm) sn[j] = DVREN__MC_ADD(sn[j], q[j]);\n",
"        }\n",
"    }\n",
"    for (j = 0; j < 3; ++j) pos[j] = sp[j] / (float)n;\n",
"    if (!nrm) return;\n",
"    for (j = 0; j < 3; ++j) len2 = DVREN__MC_ADD(len2, DVREN__MC_MUL(sn[j], sn[j]));\n",
"    if (len2 > 0.0f && len2 <= 3.0e38f) {\n",
"        float len = sqrtf(len2);\n",
"        for (j = 0; j < 3; ++j) nrm[j] = sn[j] / len;\n",
"    } else {\n",
"        for (j = 0; j < 3; ++j) nrm[j] = 0.0f;\n",
"    }\n",
"}\n",
"\n",
"/* The grid point owning cell edge e of cell (x, y, z), as its offset\n",
" * (bit 0: +x, bit 1: +y, bit 2: +z) from the cell's sample, and the axis. */\n",
"DVREN_FN uint32_t dvren_mc_edge_owner(uint32_t e)\n",
"{\n",
"    return dvren_mc_edge_corner(e, 0);\n",
"}\n",
"\n",
"#endif /* DVREN_MC_H */\n",
0};
/* >>cuda-src mc end */
/* >>cuda-src mc-kernel begin (generated from kernels/dvren_cuda_mc.h by ./build.sh gen: do not edit) */
static const char* const dvren__cuda_src_mc_kernel[] = {
"/* kernels/dvren_cuda_mc.h - GPU entry points of dvren's marching cubes.\n",
" *\n",
" * GPU only (not single source): dvren_cuda.h composes the context's\n",
" * \"marching-cubes module\" from kernels/dvren_device.h, kernels/dvren_mc.h,\n",
" * kernels/dvren_cuda_scan.h and this file, and compiles it with NVRTC at\n",
" * first use. Every decision and every number of the mesh comes from\n",
" * kernels/dvren_mc.h, the code the CPU runs (dvren.h, >>cpu,\n",
" * dvren__cpu_launch_mc); these kernels spread it over threads and number\n",
" * the results in the CPU's order: one thread per grid sample i (x fastest),\n",
" * blocks of DVREN__MC_THREADS consecutive samples, so the order of blocks,\n",
" * then of threads in a block, is the samples' order.\n",
" *\n",
" *   dvren_mc_count      per block: the vertices of its samples' own edges,\n",
" *                       the triangles and centre vertices of their cells,\n",
" *                       the active cells (one atomicAdd per block)\n",
" *   dvren_scan_*        the per-block counts to offsets (three scans), the\n",
" *                       totals read back by the host to size the mesh\n",
" *   dvren_mc_vertices   each sample: its first vertex's index (block offset\n",
" *                       plus the exclusive scan in the block) with its edge\n",
" *                       bits into vb[i] (the vertex dedup: a cell finds the\n",
" *                       vertex of each of its edges there), and the vertices\n",
" *   dvren_mc_triangles  each cell: its triangles through vb, its centre\n",
" *                       vertex after all the edges' vertices\n",
" *\n",
" * dvren_cuda.h carries a generated copy of this file (\">>cuda-src\n",
" * mc-kernel\"); edit this file and run `./build.sh gen`. */\n",
"#ifndef DVREN_CUDA_MC_H\n",
"#define DVREN_CUDA_MC_H\n",
"\n",
"#define DVREN__MC_THREADS 256u\n",
"\n",
"/* Launch shape: blocks of bx * by = 256 threads, thread (tx, ty) of block\n",
" * (bxi, byi, z) on sample (bxi * bx + tx, byi * by + ty, z); bx = 256 (and\n",
" * by = 1) when a row has 256 samples or more, else the power of two that\n",
" * holds a row, so that a block's samples are consecutive in sample order\n",
" * and blocks (x fastest, then y, then z) follow it too: the order is the\n",
" * CPU's without a division per thread. */\n",
"__device__ __forceinline__ uint32_t dvren__mc_tid(void)\n",
"{\n",
"    return threadIdx.y * blockDim.x + threadIdx.x;\n",
"}\n",
"\n",
"__device__ __forceinline__ uint32_t dvren__mc_bid(void)\n",
"{\n",
"    return (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;\n",
"}\n",
"\n",
"/* Exclusive scan of v over the block (warp shuffles, then the warps'\n",
" * totals); *total gets the block's sum. */\n",
"__device__ __forceinline__ uint32_t dvren__mc_block_exclusive(uint32_t v, uint32_t* total)\n",
"{\n",
"    __shared__ uint32_t warp_sum[DVREN__MC_THREADS / 32u];\n",
"    uint32_t t = dvren__mc_tid(), lane = t & 31u, w = t >> 5, x = v, d, i, base = 0u, all = 0u;\n",
"    for (d = 1u; d < 32u; d <<= 1) {\n",
"        uint32_t y = __shfl_up_sync(0xFFFFFFFFu, x, d);\n",
"        if (lane >= d) x += y;\n",
"    }\n",
"    if (lane == 31u) warp_sum[w] = x;\n",
"    __syncthreads();\n",
"    for (i = 0; i < DVREN__MC_THREADS / 32u; ++i) {\n",
"        if (i < w) base += warp_sum[i];\n",
"        all += warp_sum[i];\n",
"    }\n",
"    __syncthreads();\n",
"    if (total) *total = all;\n",
"    return base + x - v;\n",
"}\n",
"\n",
"/* dvren_mc_cell_triangles on a copy of the corner values: the copy, which\n",
" * that function indexes at run time, lives in local memory; f stays in\n",
" * registers for the cells the surface does not cross (most of them) */\n",
"__device__ __forceinline__ uint32_t dvren__mc_active(const float* f, uint32_t in, uint8_t* tri, uint32_t* ncenter,\n",
"                                                  uint8_t* center_loop, uint32_t* center_n)\n",
"{\n",
"    float g[8];\n",
"    g[0] = f[0];\n",
"    g[1] = f[1];\n",
"    g[2] = f[2];\n",
"    g[3] = f[3];\n",
"    g[4] = f[4];\n",
"    g[5] = f[5];\n",
"    g[6] = f[6];\n",
"    g[7] = f[7];\n",
"    return dvren_mc_cell_triangles(g, in, tri, ncenter, center_loop, center_n);\n",
"}\n",
"\n",
"/* this thread's sample; 0 when outside the grid */\n",
"__device__ __forceinline__ int dvren__mc_sample(const dvren_mc_grid& G, uint32_t* x, uint32_t* y, uint32_t* z)\n",
"{\n",
"    *x = blockIdx.x * blockDim.x + threadIdx.x;\n",
"    *y = blockIdx.y * blockDim.y + threadIdx.y;\n",
"    *z = blockIdx.z;\n",
"    return *x < G.nx && *y < G.ny;\n",
"}\n",
"\n",
"/* Per block: vertices (10 bits), triangles (12 bits) and centre vertices\n",
" * (9 bits) of its samples and cells, summed packed in one scan; the active\n",
" * cells with one atomicAdd. */\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__MC_THREADS)\n",
"    dvren_mc_count(const __grid_constant__ dvren_mc_grid G, uint32_t* bv, uint32_t* bt, uint32_t* bc,\n",
"                   unsigned long long* active)\n",
"{\n",
"    uint32_t x, y, z, v = 0u, t = 0u, c = 0u, sum, a;\n",
"    if (dvren__mc_sample(G, &x, &y, &z)) {\n",
"        v = dvren_mc_popc3(dvren_mc_point_edges(&G, x, y, z));\n",
"        if (x + 1u < G.nx && y + 1u < G.ny && z + 1u < G.nz) {\n",
"            float f[8];\n",
"            uint32_t in = dvren_mc_cell_load(&G, x, y, z, f);\n",
"            if (in != 0u && in != 255u) t = dvren__mc_active(f, in, NULL, &c, NULL, NULL);\n",
"        }\n",
"    }\n",
"    dvren__mc_block_exclusive(v | (t << 10) | (c << 22), &sum);\n",
"    a = __syncthreads_count(t > 0u);\n",
"    if (dvren__mc_tid() == 0) {\n",
"        uint32_t b = dvren__mc_bid();\n",
"        bv[b] = sum & 1023u;\n",
"        bt[b] = (sum >> 10) & 4095u;\n",
"        bc[b] = sum >> 22;\n",
"        if (a) atomicAdd(active, (unsigned long long)a);\n",
"    }\n",
"}\n",
"\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__MC_THREADS)\n",
"    dvren_mc_vertices(const __grid_constant__ dvren_mc_grid G, const uint32_t* bv, uint32_t* vb, float* pos, float* nrm)\n",
"{\n",
"    uint32_t m = 0u, x, y, z, k, a;\n",
"    int in = dvren__mc_sample(G, &x, &y, &z);\n",
"    if (in) m = dvren_mc_point_edges(&G, x, y, z);\n",
"    k = bv[dvren__mc_bid()] + dvren__mc_block_exclusive(dvren_mc_popc3(m), NULL);\n",
"    if (!in) return;\n",
"    vb[((uint64_t)z * G.ny + y) * G.nx + x] = k | (m << 29);\n",
"    for (a = 0; a < 3u; ++a)\n",
"        if ((m >> a) & 1u) {\n",
"            dvren_mc_vertex(&G, x, y, z, a, pos + 3 * (size_t)k, nrm ? nrm + 3 * (size_t)k : NULL);\n",
"            ++k;\n",
"        }\n",
"}\n",
"\n",
"extern \"C\" __global__ void __launch_bounds__(DVREN__MC_THREADS)\n",
"    dvren_mc_triangles(const __grid_constant__ dvren_mc_grid G, const uint32_t* bt, const uint32_t* bc, const uint32_t* vb,\n",
"                       uint32_t edge_vertices, uint32_t* tri, float* pos, float* nrm)\n",
"{\n",
"    uint32_t x, y, z, nt = 0u, nc = 0u, cn = 0u, b, pre, t0, c0, j;\n",
"    uint8_t local[3 * DVREN_MC_MAX_CELL_TRIANGLES], cloop[12];\n",
"    if (dvren__mc_sample(G, &x, &y, &z) && x + 1u < G.nx && y + 1u < G.ny && z + 1u < G.nz) {\n",
"        float f[8];\n",
"        uint32_t in = dvren_mc_cell_load(&G, x, y, z, f);\n",
"        if (in != 0u && in != 255u) nt = dvren__mc_active(f, in, local, &nc, cloop, &cn);\n",
"    }\n",
"    b = dvren__mc_bid();\n",
"    pre = dvren__mc_block_exclusive(nt | (nc << 16), NULL);\n",
"    t0 = bt[b] + (pre & 0xFFFFu);\n",
"    c0 = edge_vertices + bc[b] + (pre >> 16);\n",
"    if (nt == 0u) return;\n",
"    if (nc) dvren_mc_center(&G, x, y, z, cloop, cn, pos + 3 * (size_t)c0, nrm ? nrm + 3 * (size_t)c0 : NULL);\n",
"    for (j = 0; j < 3u * nt; ++j) {\n",
"        uint32_t e = local[j], o, a, w;\n",
"        if (e == DVREN_MC_CENTER) {\n",
"            tri[3 * (size_t)t0 + j] = c0;\n",
"            continue;\n",
"        }\n",
"        o = dvren_mc_edge_owner(e);\n",
"        a = e >> 2;\n",
"        w = vb[((uint64_t)(z + ((o >> 2) & 1u)) * G.ny + y + ((o >> 1) & 1u)) * G.nx + x + (o & 1u)];\n",
"        tri[3 * (size_t)t0 + j] = (w & 0x1FFFFFFFu) + dvren_mc_popc3((w >> 29) & ((1u << a) - 1u));\n",
"    }\n",
"}\n",
"\n",
"#endif /* DVREN_CUDA_MC_H */\n",
0};
/* >>cuda-src mc-kernel end */

static const char* const* dvren__cuda_src(int which)
{
    switch (which) {
    case DVREN__SRC_DEVICE: return dvren__cuda_src_device;
    case DVREN__SRC_MARCH: return dvren__cuda_src_march;
    case DVREN__SRC_KERNEL: return dvren__cuda_src_kernel;
    case DVREN__SRC_SPLAT: return dvren__cuda_src_splat;
    case DVREN__SRC_SPLAT_KERNEL: return dvren__cuda_src_splat_kernel;
    case DVREN__SRC_SCAN: return dvren__cuda_src_scan;
    case DVREN__SRC_MC: return dvren__cuda_src_mc;
    case DVREN__SRC_MC_KERNEL: return dvren__cuda_src_mc_kernel;
    default: return dvren__cuda_src_train;
    }
}

#endif /* DVREN_CUDA_IMPLEMENTATION */
