/* tools/dvren_fft.h - the FFT layer the FFT-based plugins share
 * (spectral_residual, phase_correlation): FFTW 3 on the CPU, cuFFT on the
 * GPU, loaded at run time.
 *
 * Header-only, every name static: a plugin includes it
 * ("../../tools/dvren_fft.h") and gets its own copy of the small state
 * below (a lock, a table of cuFFT entry points). dvren.h itself never
 * includes it, so the engine and its users need neither FFTW nor cuFFT.
 *
 * CPU (FFTW 3, single precision, libfftw3f; the including plugin links
 * -lfftw3f, and -lfftw3f_threads when it defines DVREN_FFT_THREADS before
 * the include). FFTW's planner is not thread-safe: plans are made and
 * destroyed between dvren_fft_lock() and dvren_fft_unlock() (executing
 * them is thread-safe). With DVREN_FFT_THREADS, dvren_fft_threads_init()
 * also makes FFTW's own planner thread-safe
 * (fftwf_make_planner_thread_safe, FFTW >= 3.3.5), which covers the other
 * plugins' planners of the same process too, and dvren_fft_plan_threads(n)
 * (under the lock) chooses how many threads the next plans use. A plugin
 * that links FFTW should also link with -z nodelete: FFTW keeps its
 * planner's memory for the life of the process, and unloading it with a
 * context would leak that once per context.
 *
 * GPU (cuFFT). The library is opened with dlopen / LoadLibrary once per
 * process (libcufft.so.12, .so.11, .so.13, then libcufft.so; or the file
 * named by $DVREN_CUFFT_LIBRARY), so building a plugin needs no CUDA
 * toolkit; dvren_fft_cufft(host) returns the table of entry points or
 * fails with UNSUPPORTED naming the files tried. The declarations are
 * cufft.h's (CUDA 11-13; these calls' ABI has not changed): a plan is an
 * int, results are ints (0 success, 2 CUFFT_ALLOC_FAILED), cufftComplex is
 * two floats, cudaStream_t is the driver's CUstream. cuFFT works in the
 * CUDA context current on the calling thread, which the host makes dvren's
 * (the device's primary context).
 *
 * Needs dvren.h (dvren_host, dvren_status) before it. */
#ifndef DVREN_FFT_H
#define DVREN_FFT_H

#include <fftw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#include <pthread.h>
#endif

/* ==== CPU: FFTW ==================================================================== */

#if defined(_WIN32)
static SRWLOCK dvren_fft_fftw_lock = SRWLOCK_INIT;
static void dvren_fft_lock(void) { AcquireSRWLockExclusive(&dvren_fft_fftw_lock); }
static void dvren_fft_unlock(void) { ReleaseSRWLockExclusive(&dvren_fft_fftw_lock); }
#else
static pthread_mutex_t dvren_fft_fftw_lock = PTHREAD_MUTEX_INITIALIZER;
static void dvren_fft_lock(void) { pthread_mutex_lock(&dvren_fft_fftw_lock); }
static void dvren_fft_unlock(void) { pthread_mutex_unlock(&dvren_fft_fftw_lock); }
#endif

#if defined(DVREN_FFT_THREADS) && !defined(_WIN32)
static int dvren_fft_threads_ok;
static pthread_once_t dvren_fft_threads_once = PTHREAD_ONCE_INIT;
static void dvren_fft_threads_init_once(void)
{
    dvren_fft_threads_ok = fftwf_init_threads() != 0;
    fftwf_make_planner_thread_safe();
}
/* Starts FFTW's threads once per process; 0 when FFTW cannot. */
static int dvren_fft_threads_init(void)
{
    pthread_once(&dvren_fft_threads_once, dvren_fft_threads_init_once);
    return dvren_fft_threads_ok;
}
/* Threads of the plans made next (>= 1); call between lock and unlock. */
static void dvren_fft_plan_threads(int n)
{
    if (dvren_fft_threads_ok) fftwf_plan_with_nthreads(n < 1 ? 1 : n);
}
#endif

/* ==== GPU: cuFFT, loaded at run time ================================================ */

typedef int dvren_cufft_handle;
#define DVREN_CUFFT_R2C 0x2a
#define DVREN_CUFFT_C2R 0x2c
#define DVREN_CUFFT_C2C 0x29
#define DVREN_CUFFT_FORWARD (-1)
#define DVREN_CUFFT_INVERSE 1

/* The entry points (cufft.h), NULL until loaded. */
typedef struct dvren_cufft_api {
    int loaded;       /* 1 loaded, -1 failed */
    char error[1024]; /* why loading failed */
    void* lib;
    int (*cufftCreate)(dvren_cufft_handle* plan);
    int (*cufftPlan1d)(dvren_cufft_handle* plan, int nx, int type, int batch);
    int (*cufftPlan2d)(dvren_cufft_handle* plan, int nx, int ny, int type);
    int (*cufftSetAutoAllocation)(dvren_cufft_handle plan, int auto_allocate);
    int (*cufftMakePlanMany)(dvren_cufft_handle plan, int rank, int* n, int* inembed, int istride, int idist,
                             int* onembed, int ostride, int odist, int type, int batch, size_t* work_size);
    int (*cufftEstimateMany)(int rank, int* n, int* inembed, int istride, int idist, int* onembed, int ostride,
                             int odist, int type, int batch, size_t* work_size);
    int (*cufftSetWorkArea)(dvren_cufft_handle plan, void* work_area);
    int (*cufftExecC2C)(dvren_cufft_handle plan, void* idata, void* odata, int direction);
    int (*cufftExecR2C)(dvren_cufft_handle plan, void* idata, void* odata);
    int (*cufftExecC2R)(dvren_cufft_handle plan, void* idata, void* odata);
    int (*cufftSetStream)(dvren_cufft_handle plan, void* stream);
    int (*cufftDestroy)(dvren_cufft_handle plan);
} dvren_cufft_api;

static dvren_cufft_api dvren_fft_cufft_table;

/* dlsym into a function pointer (through a union: ISO C has no cast
 * between object and function pointers). */
static void dvren_fft_sym(void* lib, const char* name, void* fn_ptr)
{
    union {
        void* p;
        void (*f)(void);
    } u;
#if defined(_WIN32)
    u.f = (void (*)(void))GetProcAddress((HMODULE)lib, name);
#else
    u.p = dlsym(lib, name);
#endif
    memcpy(fn_ptr, &u.f, sizeof u.f);
}

static void dvren_fft_load_cufft(void)
{
    static const char* const names[] = {
#if defined(_WIN32)
        "cufft64_12.dll", "cufft64_11.dll", "cufft64_13.dll",
#else
        "libcufft.so.12", "libcufft.so.11", "libcufft.so.13", "libcufft.so",
#endif
    };
    dvren_cufft_api* t = &dvren_fft_cufft_table;
    const char* env = getenv("DVREN_CUFFT_LIBRARY");
    const char* const* list = names;
    size_t count = sizeof names / sizeof names[0], k;
    char tried[512] = "", last[512] = "";
    if (env && *env) { /* the user's file alone */
        list = &env;
        count = 1;
    }
    for (k = 0; k < count && !t->lib; ++k) {
#if defined(_WIN32)
        t->lib = (void*)LoadLibraryA(list[k]);
        if (!t->lib) snprintf(last, sizeof last, "LoadLibrary error %lu", (unsigned long)GetLastError());
#else
        t->lib = dlopen(list[k], RTLD_NOW | RTLD_LOCAL);
        if (!t->lib) snprintf(last, sizeof last, "%s", dlerror());
#endif
        snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", tried[0] ? ", " : "", list[k]);
    }
    if (!t->lib) {
        snprintf(t->error, sizeof t->error, "cannot load cuFFT (tried %.400s): %.500s", tried, last);
        t->loaded = -1;
        return;
    }
    dvren_fft_sym(t->lib, "cufftCreate", &t->cufftCreate);
    dvren_fft_sym(t->lib, "cufftPlan1d", &t->cufftPlan1d);
    dvren_fft_sym(t->lib, "cufftPlan2d", &t->cufftPlan2d);
    dvren_fft_sym(t->lib, "cufftSetAutoAllocation", &t->cufftSetAutoAllocation);
    dvren_fft_sym(t->lib, "cufftMakePlanMany", &t->cufftMakePlanMany);
    dvren_fft_sym(t->lib, "cufftEstimateMany", &t->cufftEstimateMany);
    dvren_fft_sym(t->lib, "cufftSetWorkArea", &t->cufftSetWorkArea);
    dvren_fft_sym(t->lib, "cufftExecC2C", &t->cufftExecC2C);
    dvren_fft_sym(t->lib, "cufftExecR2C", &t->cufftExecR2C);
    dvren_fft_sym(t->lib, "cufftExecC2R", &t->cufftExecC2R);
    dvren_fft_sym(t->lib, "cufftSetStream", &t->cufftSetStream);
    dvren_fft_sym(t->lib, "cufftDestroy", &t->cufftDestroy);
    if (!t->cufftCreate || !t->cufftPlan1d || !t->cufftPlan2d || !t->cufftSetAutoAllocation ||
        !t->cufftMakePlanMany || !t->cufftEstimateMany || !t->cufftSetWorkArea || !t->cufftExecC2C ||
        !t->cufftExecR2C || !t->cufftExecC2R || !t->cufftSetStream || !t->cufftDestroy) {
        snprintf(t->error, sizeof t->error,
                 "the cuFFT library %s lacks one of cufftCreate, cufftPlan1d, cufftPlan2d, cufftSetAutoAllocation, "
                 "cufftMakePlanMany, cufftEstimateMany, cufftSetWorkArea, cufftExecC2C, cufftExecR2C, cufftExecC2R, "
                 "cufftSetStream, cufftDestroy",
                 tried);
        t->loaded = -1;
        return;
    }
    t->loaded = 1;
}

#if defined(_WIN32)
static INIT_ONCE dvren_fft_cufft_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK dvren_fft_cufft_once_fn(PINIT_ONCE o, PVOID p, PVOID* c)
{
    (void)o;
    (void)p;
    (void)c;
    dvren_fft_load_cufft();
    return TRUE;
}
#else
static pthread_once_t dvren_fft_cufft_once = PTHREAD_ONCE_INIT;
#endif

/* cuFFT's entry points, loaded once per process: *api on success;
 * UNSUPPORTED (through host->fail) with the files tried when it is
 * missing. */
static dvren_status dvren_fft_cufft(const dvren_host* h, const dvren_cufft_api** api)
{
#if defined(_WIN32)
    InitOnceExecuteOnce(&dvren_fft_cufft_once, dvren_fft_cufft_once_fn, NULL, NULL);
#else
    pthread_once(&dvren_fft_cufft_once, dvren_fft_load_cufft);
#endif
    if (dvren_fft_cufft_table.loaded == 1) {
        *api = &dvren_fft_cufft_table;
        return DVREN_OK;
    }
    return h->fail(h, DVREN_ERROR_UNSUPPORTED,
                   "install the CUDA toolkit's cuFFT or set DVREN_CUFFT_LIBRARY to its file; or use a CPU context",
                   "%s", dvren_fft_cufft_table.error);
}

/* A failed cuFFT call: OUT_OF_MEMORY for CUFFT_ALLOC_FAILED (2), else
 * DEVICE, naming the call. */
static dvren_status dvren_fft_cufft_fail(const dvren_host* h, int r, const char* what)
{
    return h->fail(h, r == 2 ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_DEVICE, NULL, "%s failed: cufftResult %d", what,
                   r);
}

#endif /* DVREN_FFT_H */
