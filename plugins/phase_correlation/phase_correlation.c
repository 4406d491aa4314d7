/* plugins/phase_correlation/phase_correlation.c - the "phase_correlation"
 * registration model: a reference and N moving images in, the translation
 * of every colour plane of every moving image out (dvren.h, >>register).
 *
 * The method: phase correlation (C. D. Kuglin and D. C. Hines, "The phase
 * correlation image alignment method", Proc. IEEE Int. Conf. on
 * Cybernetics and Society, 1975): the inverse transform of the normalised
 * cross-power spectrum F_ref conj(F_mov) / |F_ref conj(F_mov)| of two
 * translated images is an impulse at their shift. Per plane (a CFA
 * sub-lattice, a channel or the grey mean: dvren_register_layout), with the
 * function of phase_correlation_device.h that does each step per element
 * (one definition each, used by the CPU loops and by the GPU kernels):
 *
 *   1. the plane, times a periodic Hann window (window "hann", the default:
 *      it removes the edges' discontinuity, which the periodic DFT would
 *      otherwise see as structure that does not move) (phase_corr_extract);
 *   2. its sum and sum of squares: the RMS amplitude of its spectrum
 *      without the zero frequency (phase_corr_amplitude);
 *   3. forward real-to-complex 2-D FFT (FFTW 3 on the CPU, cuFFT on the
 *      GPU: tools/dvren_fft.h); the reference's planes once per call, the
 *      moving images' planes in batches (one batched plan);
 *   4. the normalised cross-power R conj(M) / (|R conj(M)| + eps), eps =
 *      epsilon x RMS|R| x RMS|M| (parameter epsilon, relative, default
 *      0.02): frequencies where both spectra are far below their typical
 *      amplitude (the high frequencies of smooth images, where only noise
 *      is left) weigh less than the unit phasor of plain phase correlation,
 *      which would give their noise full weight. The zero frequency is
 *      dropped, and with the window the 3 x 3 lowest frequencies, where the
 *      window's own spectrum lies (phase_corr_cross);
 *   5. inverse complex-to-real FFT: the correlation surface, normalised so
 *      that identical planes give 1 at the peak;
 *   6. the integer peak: the largest value (signed: a negative correlation
 *      elsewhere never wins, unlike a search for the largest magnitude),
 *      ties to the first index, with scikit-image's wrap-around (indices
 *      above n / 2 are negative shifts); the surface's RMS without the peak
 *      sample ("noise", for the confidence) (phase_corr_peak_finish);
 *   7. sub-pixel refinement, the parameter method:
 *      - integer: none (on a mosaic, whole mosaic pixels: 1 / p plane
 *        pixels, found on a grid of that step as below, then rounded);
 *      - parabolic: the vertex of the parabola through the peak and its two
 *        neighbours on each axis, clamped to +-0.5 (cheap; biased towards
 *        the plane's integers by up to about 1/8 plane pixel for the sharp
 *        peaks of phase correlation: p / 8 mosaic pixels);
 *      - upsampled (default): the matrix-multiply DFT of Guizar-Sicairos,
 *        Thurman and Fienup ("Efficient subpixel image registration
 *        algorithms", Opt. Lett. 33(2), 156-158, 2008): the correlation
 *        evaluated exactly (the band-limited interpolation of the samples,
 *        from the cross-power spectrum) on a 31 x 31 grid around the peak,
 *        first at a step of 0.1 plane pixels (+-1.5 px) from the lowest
 *        half of the band per axis (enough to place the peak; 1/4 of the
 *        work), then at steps up to 10 times finer around the best
 *        point from the whole band, down to 1 / (upsample x period) plane
 *        pixels: 1 / upsample mosaic pixels (upsample 100: 1/100 px).
 *        scikit-image evaluates one 1.5 px window at the final step; this
 *        coarse-to-fine search reaches the same grid point wherever the
 *        peak is unimodal within 0.1 px, at a cost of about 31 x the
 *        spectrum's size per full stage instead of 150 x
 *        (phase_corr_stage_geom, phase_corr_dft_row, phase_corr_dft_point,
 *        phase_corr_grid_pick).
 *
 * Parameters: method (integer|parabolic|upsampled), upsample (1..1000,
 * default 100: the final step is 1 / upsample mosaic pixels), window
 * (hann|none), epsilon (0..1, default 0.02; 0: plain phase correlation),
 * threads (FFTW's threads on the CPU, 0: one per processor).
 *
 * Memory and batches. Per call, the reference's spectra (planes x ph x
 * (pw + 2) floats) stay for the whole call; the moving images go through
 * in batches of b images, each holding their spectra, their cross-power
 * spectra (the inverse FFT overwrites these; the sub-pixel step recomputes
 * the cross-power from the two spectra) and the refinement's row sums,
 * plus cuFFT's work area (allocated by this plugin from the context's pool
 * so that it is counted; cufftEstimateMany sizes it before planning). b is
 * the largest count whose total fits what is available: the input's
 * memory_limit when set (a simulated small device), else 90% of the
 * device's free memory (cuMemGetInfo); on the CPU the limit, else half the
 * physical memory. When not even one image fits: OUT_OF_MEMORY with the
 * bytes one image needs. The report gives b, the batches and the most
 * memory held.
 *
 * Devices. CPU: FFTW 3 (float) with threads (-lfftw3f_threads), plans made
 * under the FFT layer's lock with FFTW_ESTIMATE; the per-element steps in
 * plain loops on the calling thread. GPU (the context is CUDA when the host
 * offers "dvren.host.cuda/1"): the kernels of phase_correlation_device.h,
 * compiled by the host with NVRTC, on the context's stream; cuFFT loaded at
 * run time (tools/dvren_fft.h), plans made per call with batch = b x planes.
 * Images in host memory are copied to the device one at a time into one
 * staging buffer; images already in device memory are read in place. A GPU
 * context never computes on the CPU: without cuFFT the call fails
 * (UNSUPPORTED).
 *
 * Errors (through host->fail): INVALID_ARGUMENT for planes of 2^30 floats
 * or more; OUT_OF_MEMORY (above; and allocation failures); UNSUPPORTED
 * without cuFFT; DEVICE for a failed driver or cuFFT call; INTERNAL when
 * FFTW cannot plan. Threads: align() may run on any thread, concurrently
 * on different instances; an instance holds only its parameters. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */
#endif
#include "dvren.h"
#include "phase_correlation_device.h"
#define DVREN_FFT_THREADS
#include "../../tools/dvren_fft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#endif

static const dvren_param_desc phase_corr_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "method", .enum_values = "integer|parabolic|upsampled",
                .default_string = "upsampled",
                .doc = "sub-pixel refinement: none, a parabola through the peak's neighbours, or the upsampled DFT of "
                       "Guizar-Sicairos et al. 2008",
                .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "upsample",
                .doc = "upsampled method: the final step is 1/upsample mosaic pixels (scikit-image's upsample_factor)",
                .unit = "", .default_number = 100, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .min_value = 1,
                .max_value = 1000),
    DVREN_PARAM(.type = DVREN_PARAM_ENUM, .name = "window", .enum_values = "hann|none", .default_string = "hann",
                .doc = "window applied to every plane before its FFT", .unit = ""),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "epsilon",
                .doc = "regularisation of the cross-power normalisation, relative to the spectra's RMS amplitudes "
                       "(0: plain phase correlation)",
                .unit = "", .default_number = 0.02, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
                .min_value = 0, .max_value = 1),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "band",
                .doc = "fraction of each plane's Nyquist frequency the cross-power keeps (0: all; about 0.4 for "
                       "mosaics whose planes alias strongly: no optical low-pass)",
                .unit = "", .default_number = 0, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .min_value = 0,
                .max_value = 1),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "threads", .doc = "FFTW threads on the CPU (0: one per processor)",
                .unit = "", .default_number = 0, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .min_value = 0,
                .max_value = 1024),
};

/* One instance: its parameters, resolved, and on a GPU the page-locked
 * host buffers through which images in host memory reach the device (kept
 * from call to call: allocating page-locked memory costs as much as the
 * copies it speeds up). */
typedef struct phase_corr_instance {
    uint32_t method;   /* 0 integer, 1 parabolic, 2 upsampled */
    uint32_t upsample; /* 1..1000 */
    uint32_t window;   /* 1 hann */
    uint32_t threads;  /* 0: one per processor */
    float epsilon;
    float band;        /* 0: auto */
    void* pinned[2];   /* two page-locked buffers of pinned_bytes (cuMemAllocHost), or NULL */
    size_t pinned_bytes;
    void* event[2];    /* CUevent: the copy out of pinned[i] is done */
    /* cuFFT plans kept from call to call (making one costs milliseconds):
     * reference R2C, batch R2C, batch C2R, each for the key (ph, pw,
     * transforms) it was made for, and the work area it needs */
    int plan[3];
    int have_plan[3];
    uint32_t plan_key[3][3];
    size_t plan_work[3];
} phase_corr_instance;

static dvren_status phase_corr_create(const dvren_host* h, const dvren_params* p, void** out)
{
    phase_corr_instance* s = (phase_corr_instance*)h->alloc(h, sizeof *s);
    const char* m = h->param_string(p, "method");
    const char* w = h->param_string(p, "window");
    if (!s) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(s, 0, sizeof *s);
    s->method = strcmp(m, "integer") == 0 ? 0u : strcmp(m, "parabolic") == 0 ? 1u : 2u;
    s->window = strcmp(w, "hann") == 0;
    s->upsample = (uint32_t)h->param_number(p, "upsample");
    s->threads = (uint32_t)h->param_number(p, "threads");
    s->epsilon = (float)h->param_number(p, "epsilon");
    s->band = (float)h->param_number(p, "band");
    *out = s;
    return DVREN_OK;
}

static void phase_corr_release_pinned(const dvren_host* h, phase_corr_instance* s);

static void phase_corr_destroy(const dvren_host* h, void* inst)
{
    phase_corr_instance* s = (phase_corr_instance*)inst;
    int i;
    for (i = 0; i < 3; ++i) /* a plan exists only where cuFFT was loaded */
        if (s->have_plan[i]) dvren_fft_cufft_table.cufftDestroy(s->plan[i]);
    phase_corr_release_pinned(h, s);
    h->free(h, inst, sizeof(phase_corr_instance));
}

static dvren_status phase_corr_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = 0; /* a registration model has no parameter block */
    return DVREN_OK;
}

static dvren_status phase_corr_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    (void)block;
    return DVREN_OK;
}

/* ==== shared by both devices ======================================================== */

/* The band (parameter band). A CFA plane samples its colour every p
 * pixels without a low-pass filter, so the scene's frequencies above the
 * plane's Nyquist fold into its band, and that folded part does not move
 * with the shift (its phase turns by another multiple of pi t); it is
 * strongest near the plane's own Nyquist. On 1/f noise mosaicked without
 * any optical blur (the worst case), Hann window and upsampled DFT, the
 * error of the planes' mean shift falls from 0.39 px RMS (the whole band)
 * to 0.10 px (band 0.4) and 0.04 px (band 0.2). On images behind a lens
 * (and on real photographs) the whole band is better: fewer frequencies
 * leave the window's edge effects more weight (docs/registration.md,
 * "Mosaics"). Default: the whole band. */

/* The geometry of a call. */
static dvren_status phase_corr_geometry(const dvren_host* h, const phase_corr_instance* s,
                                        const dvren_register_input* in, phase_corr_geom* g)
{
    const dvren_register_layout* L = &in->layout;
    memset(g, 0, sizeof *g);
    g->width = in->width;
    g->height = in->height;
    g->channels = in->channels;
    g->dtype = in->dtype == DVREN_DTYPE_U8 ? 0u : in->dtype == DVREN_DTYPE_U16 ? 1u : 2u;
    g->period = L->period;
    g->planes = L->plane_count;
    g->grey = in->cfa == DVREN_CFA_NONE && in->channels == 3 && L->plane_count == 1;
    g->pw = L->plane_width;
    g->ph = L->plane_height;
    g->cw = g->pw / 2u + 1u;
    g->rstride = 2u * g->cw;
    g->window = s->window;
    g->chunks = (uint32_t)(((uint64_t)g->pw * g->ph + PHASE_CORR_CHUNK - 1u) / PHASE_CORR_CHUNK);
    g->epsilon = s->epsilon;
    {
        double band = s->band > 0.0f ? (double)s->band : 1.0;
        /* never the Nyquist row or column of an even side: its one bin stands for +-N/2, whose
         * shifts differ, and a real image keeps only its cosine part */
        g->kmax_y = (uint32_t)floor(band * (double)((g->ph - 1u) / 2u) + 1e-9);
        g->kmax_x = (uint32_t)floor(band * (double)((g->pw - 1u) / 2u) + 1e-9);
        if (g->kmax_y < 2u) g->kmax_y = 2u; /* the window drops |f| <= 1 */
        if (g->kmax_x < 2u) g->kmax_x = 2u;
        /* the inverse FFT sums the kept frequencies: dividing by their number makes identical planes
         * peak at 1 (without regularisation) */
        g->kept = (float)((2.0 * g->kmax_y + 1.0) * (2.0 * g->kmax_x + 1.0) - (g->window ? 9.0 : 1.0));
    }
    if ((uint64_t)g->ph * g->rstride >= (1ull << 30))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "split the image",
                       "planes of %u x %u pixels are too large (2^30 floats or more)", (unsigned)g->pw,
                       (unsigned)g->ph);
    return DVREN_OK;
}

/* Steps of the upsampled refinement, plane pixels (at most 8): 0.1 (or
 * 1 / up when coarser), then each 10 times finer down to 1 / up (a grid
 * of 31 points then covers +-1.5 steps of the one before). */
static uint32_t phase_corr_steps(uint32_t up, float* step)
{
    double last = 1.0 / (double)up, h = up >= 10u ? 0.1 : last;
    uint32_t n = 0;
    step[n++] = (float)h;
    while (h > last * (1.0 + 1e-9) && n < 8u) {
        h = h / 10.0 > last ? h / 10.0 : last;
        step[n++] = (float)h;
    }
    return n;
}

/* The geometry of refinement stage `st` of n: the first of several looks
 * only at the lower half of the band per axis (1/4 of the work): it only
 * has to place the peak within the next stage's grid (+-1.5 of its own
 * steps), which the low frequencies do; the others use them all. */
static phase_corr_geom phase_corr_stage_geom(const phase_corr_geom* g, uint32_t st, uint32_t n)
{
    phase_corr_geom s = *g;
    if (n > 1u && st == 0u) {
        s.kmax_y = g->kmax_y / 2u > 2u ? g->kmax_y / 2u : (g->kmax_y < 2u ? g->kmax_y : 2u);
        s.kmax_x = g->kmax_x / 2u > 2u ? g->kmax_x / 2u : (g->kmax_x < 2u ? g->kmax_x : 2u);
    }
    return s;
}

/* The upsampling factor of the refinement, in plane pixels: upsample x
 * period for the upsampled method; the period for the integer method on a
 * mosaic (whole mosaic pixels are 1 / period plane pixels, which the
 * plane's integer peak cannot resolve: the refinement finds them and the
 * output rounds); 0 (none) otherwise. */
static uint32_t phase_corr_refine_factor(const phase_corr_instance* s, const phase_corr_geom* g)
{
    if (s->method == 2u) return s->upsample * g->period;
    return s->method == 0u && g->period > 1u ? g->period : 0u;
}

/* Bytes a call holds with batches of b images (besides FFT work areas). */
typedef struct phase_corr_sizes {
    size_t surface;   /* one surface, bytes (ph x rstride floats) */
    size_t fixed;     /* reference spectra, staging, window, its sums */
    size_t per_image; /* spectra, cross-power, row sums, partial results */
} phase_corr_sizes;

static phase_corr_sizes phase_corr_memory(const phase_corr_geom* g, size_t staging)
{
    phase_corr_sizes z;
    size_t P = g->planes, chunks = g->chunks;
    z.surface = (size_t)g->ph * g->rstride * sizeof(float);
    z.fixed = P * z.surface + staging + ((size_t)g->ph + g->pw) * sizeof(float) + P * chunks * 2u * sizeof(double) +
              P * sizeof(float);
    z.per_image = 2u * P * z.surface + P * (size_t)g->ph * 2u * PHASE_CORR_GRID * sizeof(float) +
                  P * chunks * (sizeof(float) + sizeof(uint32_t) + sizeof(double)) + P * sizeof(float) +
                  P * sizeof(phase_corr_peak);
    return z;
}

static dvren_status phase_corr_too_big(const dvren_host* h, const char* where, size_t need, size_t avail,
                                       uint64_t limit)
{
    return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, "set a larger memory_limit, or free memory",
                   "one moving image needs %llu bytes (%.1f MB) of %s memory with the reference's, %llu bytes are "
                   "available (%s)",
                   (unsigned long long)need, (double)need / 1e6, where, (unsigned long long)avail,
                   limit ? "the input's memory_limit" : "free memory");
}

/* Copies plane results into the output (image-major), in mosaic pixels;
 * the integer method's as whole numbers. */
static void phase_corr_output(const phase_corr_instance* s, const phase_corr_geom* g, const phase_corr_peak* peaks,
                              uint32_t n, dvren_register_plane* out)
{
    uint32_t i;
    for (i = 0; i < n; ++i) {
        double dy = (double)peaks[i].dy * g->period, dx = (double)peaks[i].dx * g->period;
        out[i].dy = (float)(s->method == 0u ? floor(dy + 0.5) : dy);
        out[i].dx = (float)(s->method == 0u ? floor(dx + 0.5) : dx);
        out[i].peak = peaks[i].peak;
        out[i].noise = peaks[i].noise;
    }
}

static size_t phase_corr_dtype_size(const phase_corr_geom* g) { return g->dtype == 0 ? 1u : g->dtype == 1 ? 2u : 4u; }

/* ==== CPU: FFTW ==================================================================== */

static size_t phase_corr_host_memory(void)
{
#if defined(_WIN32)
    return (size_t)4 << 30;
#else
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t)pages * (size_t)size / 2u : (size_t)4 << 30;
#endif
}

static int phase_corr_cpu_threads(uint32_t want)
{
#if defined(_WIN32)
    return want ? (int)want : 1;
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return want ? (int)want : (n > 0 ? (int)n : 1);
#endif
}

/* Steps 1-2 for one image's planes into `surf`, amplitudes into amp. */
static void phase_corr_cpu_extract(const void* img, const phase_corr_geom* g, const float* wy, const float* wx,
                                   float* surf, float* amp)
{
    uint32_t k, e, n = g->pw * g->ph;
    for (k = 0; k < g->planes; ++k) {
        float* s = surf + (size_t)k * g->ph * g->rstride;
        double a = 0.0, b = 0.0;
        for (e = 0; e < n; ++e) {
            float v = phase_corr_extract(img, g, wy, wx, k, e, s);
            a += (double)v;
            b += (double)v * (double)v;
        }
        amp[k] = (float)phase_corr_amplitude(a, b, n);
    }
}

static fftwf_plan phase_corr_fftw_plan(const phase_corr_geom* g, uint32_t howmany, float* buf, int inverse,
                                       int threads)
{
    int n[2] = {(int)g->ph, (int)g->pw}, rnembed[2] = {(int)g->ph, (int)g->rstride}, cnembed[2] = {(int)g->ph, (int)g->cw};
    int rdist = (int)(g->ph * g->rstride), cdist = (int)(g->ph * g->cw);
    fftwf_plan p;
    dvren_fft_lock();
    dvren_fft_plan_threads(threads);
    if (inverse)
        p = fftwf_plan_many_dft_c2r(2, n, (int)howmany, (fftwf_complex*)buf, cnembed, 1, cdist, buf, rnembed, 1, rdist,
                                    FFTW_ESTIMATE);
    else
        p = fftwf_plan_many_dft_r2c(2, n, (int)howmany, buf, rnembed, 1, rdist, (fftwf_complex*)buf, cnembed, 1, cdist,
                                    FFTW_ESTIMATE);
    dvren_fft_unlock();
    return p;
}

static void phase_corr_fftw_destroy(fftwf_plan* p)
{
    if (!*p) return;
    dvren_fft_lock();
    fftwf_destroy_plan(*p);
    dvren_fft_unlock();
    *p = NULL;
}

/* Steps 6-7 on the CPU for n surfaces of a batch (see the kernels). */
static void phase_corr_cpu_refine(const phase_corr_instance* s, const phase_corr_geom* g, const float* ref,
                                  const float* mov, const float* corr, const float* amp_ref, const float* amp_mov,
                                  uint32_t n, float* T, phase_corr_peak* peaks)
{
    const size_t off = (size_t)g->ph * g->rstride;
    float steps[8], acc[2 * PHASE_CORR_GRID], values[PHASE_CORR_GRID * PHASE_CORR_GRID];
    uint32_t nsteps = phase_corr_steps(phase_corr_refine_factor(s, g), steps), i, e, k, row, j, st,
             count = g->pw * g->ph;
    for (i = 0; i < n; ++i) {
        const float* c = corr + i * off;
        float best = c[0];
        uint32_t at = 0;
        double q = 0.0;
        for (e = 0; e < count; ++e) {
            float v = c[(size_t)(e / g->pw) * g->rstride + e % g->pw];
            q += (double)v * (double)v;
            if (v > best) {
                best = v;
                at = e;
            }
        }
        phase_corr_peak_finish(c, g, best, at, q, s->method, &peaks[i]);
        if (!phase_corr_refine_factor(s, g)) continue;
        k = i % g->planes;
        for (st = 0; st < nsteps; ++st) {
            float eps = g->epsilon * amp_ref[k] * amp_mov[i];
            phase_corr_geom gs = phase_corr_stage_geom(g, st, nsteps);
            for (row = 0; row < g->ph; ++row) {
                memset(acc, 0, sizeof acc);
                phase_corr_dft_row(ref + k * off, mov + i * off, &gs, eps, row, 0, 1, peaks[i].cx, steps[st], acc);
                memcpy(T + (size_t)row * 2u * PHASE_CORR_GRID, acc, sizeof acc);
            }
            for (j = 0; j < PHASE_CORR_GRID * PHASE_CORR_GRID; ++j)
                values[j] = phase_corr_dft_point(T, &gs, peaks[i].cy, steps[st], j / PHASE_CORR_GRID, j % PHASE_CORR_GRID);
            phase_corr_grid_pick(values, steps[st], &peaks[i]);
        }
    }
}

static dvren_status phase_corr_cpu(const dvren_host* h, const phase_corr_instance* s, const dvren_register_input* in,
                                   dvren_register_plane* out, dvren_register_report* rep)
{
    phase_corr_geom g;
    phase_corr_sizes z;
    size_t avail, held = 0, P, bytes_ref = 0, bytes_batch = 0, bytes_win = 0, bytes_T, bytes_peaks, bytes_amp;
    float *ref = NULL, *mov = NULL, *cross = NULL, *win = NULL, *T = NULL, *amp_ref = NULL, *amp_mov = NULL;
    phase_corr_peak* peaks = NULL;
    fftwf_plan fref = NULL, fmov = NULL, finv = NULL;
    uint32_t b, first, nb = 0, i, threads = (uint32_t)phase_corr_cpu_threads(s->threads);
    dvren_status status = phase_corr_geometry(h, s, in, &g);
    if (status != DVREN_OK) return status;
    if (!dvren_fft_threads_init()) threads = 1;
    P = g.planes;
    z = phase_corr_memory(&g, 0);
    avail = in->memory_limit ? (size_t)in->memory_limit : phase_corr_host_memory();
    if (z.fixed + z.per_image > avail) return phase_corr_too_big(h, "host", z.fixed + z.per_image, avail, in->memory_limit);
    b = (uint32_t)((avail - z.fixed) / z.per_image);
    if (b > in->count) b = in->count;
    bytes_ref = P * z.surface;
    bytes_batch = (size_t)b * P * z.surface;
    bytes_win = ((size_t)g.ph + g.pw) * sizeof(float);
    bytes_T = (size_t)g.ph * 2u * PHASE_CORR_GRID * sizeof(float);
    bytes_peaks = (size_t)b * P * sizeof(phase_corr_peak);
    bytes_amp = (P + (size_t)b * P) * sizeof(float);
    ref = (float*)h->alloc(h, bytes_ref);
    mov = (float*)h->alloc(h, bytes_batch);
    cross = (float*)h->alloc(h, bytes_batch);
    win = (float*)h->alloc(h, bytes_win);
    T = (float*)h->alloc(h, bytes_T);
    peaks = (phase_corr_peak*)h->alloc(h, bytes_peaks);
    amp_ref = (float*)h->alloc(h, bytes_amp);
    if (!ref || !mov || !cross || !win || !T || !peaks || !amp_ref) {
        status = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory (%u images of %ux%u)", (unsigned)b,
                         (unsigned)in->width, (unsigned)in->height);
        goto cleanup;
    }
    held = bytes_ref + 2u * bytes_batch + bytes_win + bytes_T + bytes_peaks + bytes_amp;
    amp_mov = amp_ref + P;
    for (i = 0; i < g.ph; ++i) win[i] = phase_corr_hann(i, g.ph);
    for (i = 0; i < g.pw; ++i) win[g.ph + i] = phase_corr_hann(i, g.pw);
    fref = phase_corr_fftw_plan(&g, (uint32_t)P, ref, 0, (int)threads);
    if (!fref) {
        status = h->fail(h, DVREN_ERROR_INTERNAL, NULL, "FFTW could not plan %u transforms of %ux%u", (unsigned)P,
                         (unsigned)g.pw, (unsigned)g.ph);
        goto cleanup;
    }
    phase_corr_cpu_extract(in->reference, &g, win, win + g.ph, ref, amp_ref);
    fftwf_execute(fref);
    for (first = 0; first < in->count; first += nb) {
        uint32_t count_now = in->count - first < b ? in->count - first : b, n;
        if (count_now != nb) { /* plans for this batch size */
            phase_corr_fftw_destroy(&fmov);
            phase_corr_fftw_destroy(&finv);
            fmov = phase_corr_fftw_plan(&g, count_now * (uint32_t)P, mov, 0, (int)threads);
            finv = phase_corr_fftw_plan(&g, count_now * (uint32_t)P, cross, 1, (int)threads);
            if (!fmov || !finv) {
                status = h->fail(h, DVREN_ERROR_INTERNAL, NULL, "FFTW could not plan %u transforms of %ux%u",
                                 (unsigned)(count_now * P), (unsigned)g.pw, (unsigned)g.ph);
                goto cleanup;
            }
        }
        nb = count_now;
        n = nb * (uint32_t)P;
        for (i = 0; i < nb; ++i)
            phase_corr_cpu_extract(in->moving[first + i], &g, win, win + g.ph, mov + (size_t)i * P * g.ph * g.rstride,
                                   amp_mov + (size_t)i * P);
        fftwf_execute(fmov);
        for (i = 0; i < n; ++i) {
            const size_t off = (size_t)g.ph * g.rstride;
            uint32_t j, k = i % (uint32_t)P;
            float eps = g.epsilon * amp_ref[k] * amp_mov[i];
            for (j = 0; j < g.ph * g.cw; ++j)
                phase_corr_cross(ref + k * off, mov + i * off, &g, eps, j, cross + i * off + 2u * (size_t)j);
        }
        fftwf_execute(finv);
        phase_corr_cpu_refine(s, &g, ref, mov, cross, amp_ref, amp_mov, n, T, peaks);
        phase_corr_output(s, &g, peaks, n, out + (size_t)first * P);
        rep->batches++;
    }
    rep->batch_size = b;
    rep->peak_bytes = held;
    rep->limit_bytes = avail;
cleanup:
    phase_corr_fftw_destroy(&fref);
    phase_corr_fftw_destroy(&fmov);
    phase_corr_fftw_destroy(&finv);
    if (ref) h->free(h, ref, bytes_ref);
    if (mov) h->free(h, mov, bytes_batch);
    if (cross) h->free(h, cross, bytes_batch);
    if (win) h->free(h, win, bytes_win);
    if (T) h->free(h, T, bytes_T);
    if (peaks) h->free(h, peaks, bytes_peaks);
    if (amp_ref) h->free(h, amp_ref, bytes_amp);
    return status;
}

/* ==== GPU: the kernels and cuFFT ==================================================== */

/* What a GPU call holds: device buffers (each freed with its size), plans,
 * the driver entry points. */
typedef struct phase_corr_gpu {
    const dvren_host* h;
    const dvren_host_cuda* cu;
    const dvren_cufft_api* fft;
    int (*memcpy_htod)(void* dst, const void* src, size_t bytes, void* stream);
    int (*memcpy_dtoh)(void* dst, const void* src, size_t bytes, void* stream);
    int (*sync)(void* stream);
    int (*mem_info)(size_t* free_bytes, size_t* total_bytes);
    int (*event_record)(void* event, void* stream);
    int (*event_sync)(void* event);
    int recorded[2];    /* event[i] of the instance was recorded in this call */
    uint32_t uploads;   /* images copied so far (alternating the two slots) */
    int copy_threads;   /* threads of the copies into page-locked memory */
    int profile;        /* $DVREN_PHASE_CORR_PROFILE: synchronise and time each step */
    double prof[7], t_mark;
    void* buf[16];
    size_t size[16];
    uint32_t nbuf;
    size_t held, peak;
    phase_corr_instance* inst; /* its plans */
} phase_corr_gpu;

/* ---- copies of images in host memory ---- */

/* A part of a parallel memcpy. */
typedef struct phase_corr_copy_job {
    char* dst;
    const char* src;
    size_t n;
} phase_corr_copy_job;

#if !defined(_WIN32)
static void* phase_corr_copy_part(void* p)
{
    phase_corr_copy_job* j = (phase_corr_copy_job*)p;
    memcpy(j->dst, j->src, j->n);
    return NULL;
}
#endif

/* memcpy on up to `threads` threads (one memcpy stream is limited to a few
 * GB/s: the copy into page-locked memory runs at the memory's speed only
 * with several). */
static void phase_corr_parallel_copy(void* dst, const void* src, size_t n, int threads)
{
#if !defined(_WIN32)
    phase_corr_copy_job job[16];
    pthread_t tid[16];
    int started[16], k;
    size_t part;
    if (threads > 16) threads = 16;
    if (threads <= 1 || n < ((size_t)4 << 20)) {
        memcpy(dst, src, n);
        return;
    }
    part = (n / (size_t)threads + 63u) & ~(size_t)63u;
    for (k = 0; k < threads; ++k) {
        size_t at = (size_t)k * part, len = at >= n ? 0 : (n - at < part ? n - at : part);
        job[k].dst = (char*)dst + at;
        job[k].src = (const char*)src + at;
        job[k].n = len;
        started[k] = k > 0 && len > 0 && pthread_create(&tid[k], NULL, phase_corr_copy_part, &job[k]) == 0;
    }
    for (k = 0; k < threads; ++k)
        if (!started[k] && job[k].n) memcpy(job[k].dst, job[k].src, job[k].n); /* this thread's part, or a failed start */
    for (k = 1; k < threads; ++k)
        if (started[k]) pthread_join(tid[k], NULL);
#else
    (void)threads;
    memcpy(dst, src, n);
#endif
}

/* The driver's calls for page-locked memory and events, by name. */
static void phase_corr_gpu_proc(const dvren_host* h, const dvren_host_cuda* cu, const char* name, void* fn, size_t sz);

static void phase_corr_release_pinned(const dvren_host* h, phase_corr_instance* s)
{
    const dvren_host_cuda* cu = (const dvren_host_cuda*)h->get_interface(h, DVREN_HOST_CUDA);
    int (*free_host)(void*) = NULL;
    int (*event_destroy)(void*) = NULL;
    int i;
    if (!cu) return;
    phase_corr_gpu_proc(h, cu, "cuMemFreeHost", &free_host, sizeof free_host);
    phase_corr_gpu_proc(h, cu, "cuEventDestroy", &event_destroy, sizeof event_destroy);
    for (i = 0; i < 2; ++i) {
        if (s->event[i] && event_destroy) event_destroy(s->event[i]);
        if (s->pinned[i] && free_host) free_host(s->pinned[i]);
        s->event[i] = s->pinned[i] = NULL;
    }
    s->pinned_bytes = 0;
}

/* Two page-locked buffers of at least `bytes` (kept by the instance); when
 * the driver cannot give them, none (the copies then read the caller's
 * memory directly, more slowly; a log line says so). */
static void phase_corr_need_pinned(const dvren_host* h, const dvren_host_cuda* cu, phase_corr_instance* s, size_t bytes)
{
    int (*alloc_host)(void**, size_t) = NULL;
    int (*event_create)(void**, unsigned) = NULL;
    int i, ok = 1;
    if (s->pinned[0] && s->pinned_bytes >= bytes) return;
    phase_corr_release_pinned(h, s);
    phase_corr_gpu_proc(h, cu, "cuMemAllocHost", &alloc_host, sizeof alloc_host);
    phase_corr_gpu_proc(h, cu, "cuEventCreate", &event_create, sizeof event_create);
    for (i = 0; i < 2 && ok; ++i)
        ok = alloc_host && event_create && alloc_host(&s->pinned[i], bytes) == 0 &&
             event_create(&s->event[i], 2u /* CU_EVENT_DISABLE_TIMING */) == 0;
    if (!ok) {
        phase_corr_release_pinned(h, s);
        h->log(h, DVREN_LOG_INFO, "[step]", "no page-locked memory of %.1f MB: images are copied from pageable memory",
               (double)bytes / 1e6);
        return;
    }
    s->pinned_bytes = bytes;
}

static double phase_corr_now_ms(void)
{
#if !defined(_WIN32)
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
#else
    return 0.0;
#endif
}

/* With $DVREN_PHASE_CORR_PROFILE set: waits for the stream and adds the
 * time since the last mark to step k. */
static void phase_corr_mark(phase_corr_gpu* G, int k)
{
    double t;
    if (!G->profile) return;
    G->sync(G->cu->stream);
    t = phase_corr_now_ms();
    if (k >= 0) G->prof[k] += t - G->t_mark;
    G->t_mark = t;
}

static dvren_status phase_corr_gpu_alloc(phase_corr_gpu* G, size_t bytes, void** ptr)
{
    dvren_status s;
    *ptr = NULL;
    if (bytes == 0) return DVREN_OK;
    s = G->cu->mem_alloc(G->h, bytes, ptr);
    if (s != DVREN_OK) return s;
    G->buf[G->nbuf] = *ptr;
    G->size[G->nbuf++] = bytes;
    G->held += bytes;
    if (G->held > G->peak) G->peak = G->held;
    return DVREN_OK;
}

static void phase_corr_gpu_proc(const dvren_host* h, const dvren_host_cuda* cu, const char* name, void* fn, size_t sz)
{
    void* p = cu->driver_proc(h, name);
    memset(fn, 0, sz);
    memcpy(fn, &p, sizeof p < sz ? sizeof p : sz);
}

static dvren_status phase_corr_launch(phase_corr_gpu* G, const char* name, uint32_t gx, uint32_t gy, uint32_t threads,
                                      void** args)
{
    void* fn = NULL;
    uint32_t grid[3] = {gx, gy, 1u}, block[3] = {threads, 1u, 1u};
    dvren_status s = G->cu->kernel(G->h, name, &fn);
    if (s != DVREN_OK) return s;
    return G->cu->launch(G->h, fn, grid, block, 0, args);
}

/* cuFFT plan `which` (0 reference R2C, 1 batch R2C, 2 batch C2R; the
 * direction follows) for `howmany` surfaces, no work area of its own: the
 * instance's when it was made for the same sizes, else a new one; *work:
 * the size it needs. */
static dvren_status phase_corr_gpu_plan(phase_corr_gpu* G, const phase_corr_geom* g, int which, uint32_t howmany,
                                        size_t* work)
{
    int n[2] = {(int)g->ph, (int)g->pw}, rn[2] = {(int)g->ph, (int)g->rstride}, cn[2] = {(int)g->ph, (int)g->cw};
    int rdist = (int)(g->ph * g->rstride), cdist = (int)(g->ph * g->cw), r;
    phase_corr_instance* s = G->inst;
    uint32_t key[3] = {g->ph, g->pw, howmany};
    if (s->have_plan[which] && !memcmp(s->plan_key[which], key, sizeof key)) {
        *work = s->plan_work[which];
    } else {
        if (s->have_plan[which]) {
            G->fft->cufftDestroy(s->plan[which]);
            s->have_plan[which] = 0;
        }
        r = G->fft->cufftCreate(&s->plan[which]);
        if (r != 0) return dvren_fft_cufft_fail(G->h, r, "cufftCreate");
        s->have_plan[which] = 1;
        memset(s->plan_key[which], 0, sizeof key); /* not usable until made */
        r = G->fft->cufftSetAutoAllocation(s->plan[which], 0);
        if (r != 0) return dvren_fft_cufft_fail(G->h, r, "cufftSetAutoAllocation");
        r = which == 2 ? G->fft->cufftMakePlanMany(s->plan[which], 2, n, cn, 1, cdist, rn, 1, rdist, DVREN_CUFFT_C2R,
                                                   (int)howmany, work)
                       : G->fft->cufftMakePlanMany(s->plan[which], 2, n, rn, 1, rdist, cn, 1, cdist, DVREN_CUFFT_R2C,
                                                   (int)howmany, work);
        if (r != 0) return dvren_fft_cufft_fail(G->h, r, "cufftMakePlanMany");
        memcpy(s->plan_key[which], key, sizeof key);
        s->plan_work[which] = *work;
    }
    r = G->fft->cufftSetStream(s->plan[which], G->cu->stream);
    if (r != 0) return dvren_fft_cufft_fail(G->h, r, "cufftSetStream");
    return DVREN_OK;
}

/* cuFFT's estimate of the work area for `howmany` surfaces (both
 * directions); 0 when it cannot say. */
static size_t phase_corr_gpu_estimate(const phase_corr_gpu* G, const phase_corr_geom* g, uint32_t howmany)
{
    int n[2] = {(int)g->ph, (int)g->pw}, rn[2] = {(int)g->ph, (int)g->rstride}, cn[2] = {(int)g->ph, (int)g->cw};
    int rdist = (int)(g->ph * g->rstride), cdist = (int)(g->ph * g->cw);
    size_t a = 0, b = 0;
    if (G->fft->cufftEstimateMany(2, n, rn, 1, rdist, cn, 1, cdist, DVREN_CUFFT_R2C, (int)howmany, &a) != 0) a = 0;
    if (G->fft->cufftEstimateMany(2, n, cn, 1, cdist, rn, 1, rdist, DVREN_CUFFT_C2R, (int)howmany, &b) != 0) b = 0;
    return a > b ? a : b;
}

#define PHASE_CORR_TRY(call)            \
    do {                                \
        status = (call);                \
        if (status != DVREN_OK) goto cleanup; \
    } while (0)
#define PHASE_CORR_CU(call, what)                                                                            \
    do {                                                                                                     \
        int r_ = (call);                                                                                     \
        if (r_ != 0) {                                                                                       \
            status = h->fail(h, r_ == 2 ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_DEVICE, NULL,              \
                             "%s failed: CUresult %d", what, r_);                                            \
            goto cleanup;                                                                                    \
        }                                                                                                    \
    } while (0)
#define PHASE_CORR_FFT(call, what)                             \
    do {                                                       \
        int r_ = (call);                                       \
        if (r_ != 0) {                                         \
            status = dvren_fft_cufft_fail(h, r_, what);        \
            goto cleanup;                                      \
        }                                                      \
    } while (0)

/* Puts image `src` (host memory, `bytes`) into one of the two device
 * staging slots (dev: 2 x bytes), through the instance's page-locked
 * buffers when it has them: the copy into page-locked memory (on several
 * threads) of one image overlaps the device's copy and work of the one
 * before. *img: the slot. */
static dvren_status phase_corr_upload(phase_corr_gpu* G, phase_corr_instance* s, const void* src, size_t bytes,
                                      char* dev, const void** img)
{
    const dvren_host* h = G->h;
    uint32_t slot = G->uploads++ & 1u;
    char* dst = dev + slot * bytes;
    int r;
    if (s->pinned[0]) {
        if (G->recorded[slot] && (r = G->event_sync(s->event[slot])) != 0)
            return h->fail(h, DVREN_ERROR_DEVICE, NULL, "cuEventSynchronize failed: CUresult %d", r);
        phase_corr_parallel_copy(s->pinned[slot], src, bytes, G->copy_threads);
        r = G->memcpy_htod(dst, s->pinned[slot], bytes, G->cu->stream);
        if (r == 0) r = G->event_record(s->event[slot], G->cu->stream);
        G->recorded[slot] = r == 0;
    } else
        r = G->memcpy_htod(dst, src, bytes, G->cu->stream);
    if (r != 0)
        return h->fail(h, r == 2 ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_DEVICE, NULL,
                       "copying an image to the device failed: CUresult %d", r);
    *img = dst;
    return DVREN_OK;
}

static dvren_status phase_corr_gpu_run(const dvren_host* h, const dvren_host_cuda* cu, phase_corr_instance* s,
                                       const dvren_register_input* in, dvren_register_plane* out,
                                       dvren_register_report* rep)
{
    phase_corr_gpu G;
    phase_corr_geom g;
    phase_corr_sizes z;
    size_t free_b = 0, total_b = 0, avail, staging, work = 0, w, P;
    float *ref, *mov, *cross, *win, *T, *amp_ref, *amp_mov, *best, steps[8];
    double* part;
    double* sumsq;
    uint32_t* index;
    phase_corr_peak* peaks;
    phase_corr_peak* host_peaks = NULL;
    size_t host_peaks_bytes = 0;
    void* stage = NULL;
    uint32_t b, first, nb = 0, i, nsteps, method = s->method;
    float* wh = NULL;
    void* area = NULL;
    size_t wh_bytes = 0;
    dvren_status status;
    memset(&G, 0, sizeof G);
    G.h = h;
    G.cu = cu;
    G.inst = s;
    status = phase_corr_geometry(h, s, in, &g);
    if (status != DVREN_OK) return status;
    status = dvren_fft_cufft(h, &G.fft);
    if (status != DVREN_OK) return status;
    phase_corr_gpu_proc(h, cu, "cuMemcpyHtoDAsync", &G.memcpy_htod, sizeof G.memcpy_htod);
    phase_corr_gpu_proc(h, cu, "cuMemcpyDtoHAsync", &G.memcpy_dtoh, sizeof G.memcpy_dtoh);
    phase_corr_gpu_proc(h, cu, "cuStreamSynchronize", &G.sync, sizeof G.sync);
    phase_corr_gpu_proc(h, cu, "cuMemGetInfo", &G.mem_info, sizeof G.mem_info);
    phase_corr_gpu_proc(h, cu, "cuEventRecord", &G.event_record, sizeof G.event_record);
    phase_corr_gpu_proc(h, cu, "cuEventSynchronize", &G.event_sync, sizeof G.event_sync);
    if (!G.memcpy_htod || !G.memcpy_dtoh || !G.sync || !G.mem_info || !G.event_record || !G.event_sync)
        return h->fail(h, DVREN_ERROR_DEVICE, NULL,
                       "the CUDA driver lacks cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuStreamSynchronize, cuMemGetInfo, "
                       "cuEventRecord or cuEventSynchronize");
    G.copy_threads = phase_corr_cpu_threads(0) < 16 ? phase_corr_cpu_threads(0) : 16;
    G.profile = getenv("DVREN_PHASE_CORR_PROFILE") != NULL;
    P = g.planes;
    staging = in->memory == DVREN_MEMORY_HOST
                  ? (size_t)in->width * in->height * in->channels * phase_corr_dtype_size(&g)
                  : 0u;
    z = phase_corr_memory(&g, 2u * staging); /* two staging slots */
    if (G.mem_info(&free_b, &total_b) != 0)
        return h->fail(h, DVREN_ERROR_DEVICE, NULL, "cuMemGetInfo failed");
    avail = free_b / 10u * 9u;
    if (in->memory_limit && in->memory_limit < avail) avail = (size_t)in->memory_limit;
    /* the largest batch that fits, its FFT work area included */
    b = in->count;
    if (z.fixed + z.per_image < avail) {
        size_t fit = (avail - z.fixed) / z.per_image;
        if (fit < b) b = (uint32_t)fit;
    } else
        b = 0;
    if (b * P > 65535u) b = (uint32_t)(65535u / P);
    while (b > 0) {
        size_t est_ref = phase_corr_gpu_estimate(&G, &g, (uint32_t)P);
        work = phase_corr_gpu_estimate(&G, &g, b * (uint32_t)P);
        if (est_ref > work) work = est_ref;
        if (z.fixed + (size_t)b * z.per_image + work <= avail) break;
        --b;
    }
    if (b == 0) {
        size_t one = phase_corr_gpu_estimate(&G, &g, (uint32_t)P);
        return phase_corr_too_big(h, "device", z.fixed + z.per_image + one, avail, in->memory_limit);
    }
    nsteps = phase_corr_refine_factor(s, &g) ? phase_corr_steps(phase_corr_refine_factor(s, &g), steps) : 0u;
    /* buffers */
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, P * z.surface, (void**)&ref));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * z.surface, (void**)&mov));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * z.surface, (void**)&cross));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, ((size_t)g.ph + g.pw) * sizeof(float), (void**)&win));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * g.ph * 2u * PHASE_CORR_GRID * sizeof(float), (void**)&T));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (P + (size_t)b * P) * sizeof(float), (void**)&amp_ref));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, P * g.chunks * 2u * sizeof(double), (void**)&part));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * g.chunks * sizeof(float), (void**)&best));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * g.chunks * sizeof(uint32_t), (void**)&index));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * g.chunks * sizeof(double), (void**)&sumsq));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, (size_t)b * P * sizeof(phase_corr_peak), (void**)&peaks));
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, 2u * staging, &stage));
    if (staging) phase_corr_need_pinned(h, cu, s, staging);
    phase_corr_mark(&G, -1);
    amp_mov = amp_ref + P;
    /* plans and their shared work area (they run one after another on the stream) */
    PHASE_CORR_TRY(phase_corr_gpu_plan(&G, &g, 0, (uint32_t)P, &w));
    work = w;
    PHASE_CORR_TRY(phase_corr_gpu_plan(&G, &g, 1, b * (uint32_t)P, &w));
    if (w > work) work = w;
    PHASE_CORR_TRY(phase_corr_gpu_plan(&G, &g, 2, b * (uint32_t)P, &w));
    if (w > work) work = w;
    PHASE_CORR_TRY(phase_corr_gpu_alloc(&G, work, &area));
    for (i = 0; i < 3; ++i) PHASE_CORR_FFT(G.fft->cufftSetWorkArea(s->plan[i], area), "cufftSetWorkArea");
    /* the window */
    wh_bytes = ((size_t)g.ph + g.pw) * sizeof(float);
    host_peaks_bytes = (size_t)b * P * sizeof(phase_corr_peak);
    wh = (float*)h->alloc(h, wh_bytes);
    host_peaks = (phase_corr_peak*)h->alloc(h, host_peaks_bytes);
    if (!wh || !host_peaks) {
        status = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < g.ph; ++i) wh[i] = phase_corr_hann(i, g.ph);
    for (i = 0; i < g.pw; ++i) wh[g.ph + i] = phase_corr_hann(i, g.pw);
    PHASE_CORR_CU(G.memcpy_htod(win, wh, wh_bytes, cu->stream), "cuMemcpyHtoDAsync");
    /* the reference */
    {
        const void* img = in->reference;
        float* wx = win + g.ph;
        uint32_t np = (uint32_t)P;
        if (stage) PHASE_CORR_TRY(phase_corr_upload(&G, s, in->reference, staging, (char*)stage, &img));
        {
            void* a[] = {(void*)&img, &g, &win, &wx, &ref, &part};
            PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_extract", g.chunks, np, PHASE_CORR_BLOCK, a));
        }
        {
            void* a[] = {&part, &g, &np, &amp_ref};
            PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_amplitude", 1, 1, 64, a));
        }
        PHASE_CORR_FFT(G.fft->cufftExecR2C(s->plan[0], ref, ref), "cufftExecR2C (reference)");
        phase_corr_mark(&G, 0);
    }
    for (first = 0; first < in->count; first += nb) {
        uint32_t count_now = in->count - first < b ? in->count - first : b, n, np = (uint32_t)P, st;
        if (count_now != b && count_now != nb) { /* the last, smaller batch */
            PHASE_CORR_TRY(phase_corr_gpu_plan(&G, &g, 1, count_now * np, &w));
            PHASE_CORR_TRY(phase_corr_gpu_plan(&G, &g, 2, count_now * np, &w));
            if (w > work) {
                status = h->fail(h, DVREN_ERROR_INTERNAL, NULL, "cuFFT wants a larger work area for fewer transforms");
                goto cleanup;
            }
            for (i = 1; i < 3; ++i) PHASE_CORR_FFT(G.fft->cufftSetWorkArea(s->plan[i], area), "cufftSetWorkArea");
        }
        nb = count_now;
        n = nb * np;
        for (i = 0; i < nb; ++i) {
            const void* img = in->moving[first + i];
            float* wx = win + g.ph;
            float* dst = mov + (size_t)i * P * g.ph * g.rstride;
            float* amp = amp_mov + (size_t)i * P;
            if (stage) PHASE_CORR_TRY(phase_corr_upload(&G, s, img, staging, (char*)stage, &img));
            {
                void* a[] = {(void*)&img, &g, &win, &wx, &dst, &part};
                PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_extract", g.chunks, np, PHASE_CORR_BLOCK, a));
            }
            {
                void* a[] = {&part, &g, &np, &amp};
                PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_amplitude", 1, 1, 64, a));
            }
        }
        phase_corr_mark(&G, 1);
        PHASE_CORR_FFT(G.fft->cufftExecR2C(s->plan[1], mov, mov), "cufftExecR2C (moving)");
        phase_corr_mark(&G, 2);
        {
            void* a[] = {&ref, &mov, &g, &amp_ref, &amp_mov, &cross};
            PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_cross", (g.ph * g.cw + PHASE_CORR_BLOCK - 1u) / PHASE_CORR_BLOCK,
                                             n, PHASE_CORR_BLOCK, a));
        }
        PHASE_CORR_FFT(G.fft->cufftExecC2R(s->plan[2], cross, cross), "cufftExecC2R");
        phase_corr_mark(&G, 3);
        {
            void* a[] = {&cross, &g, &best, &index, &sumsq};
            PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_max", g.chunks, n, PHASE_CORR_BLOCK, a));
        }
        {
            void* a[] = {&cross, &g, &n, &best, &index, &sumsq, &method, &peaks};
            PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_peak", (n + 63u) / 64u, 1, 64, a));
        }
        phase_corr_mark(&G, 4);
        for (st = 0; st < nsteps; ++st) {
            float hs = steps[st];
            phase_corr_geom gs = phase_corr_stage_geom(&g, st, nsteps);
            {
                void* a[] = {&ref, &mov, &gs, &amp_ref, &amp_mov, &peaks, &hs, &T};
                PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_dft_rows", g.ph, n, PHASE_CORR_ROW_BLOCK, a));
            }
            {
                void* a[] = {&T, &gs, &hs, &peaks};
                PHASE_CORR_TRY(phase_corr_launch(&G, "phase_corr_k_dft_grid", n, 1,
                                                 ((PHASE_CORR_GRID * PHASE_CORR_GRID + 31u) / 32u) * 32u, a));
            }
        }
        phase_corr_mark(&G, 5);
        PHASE_CORR_CU(G.memcpy_dtoh(host_peaks, peaks, (size_t)n * sizeof(phase_corr_peak), cu->stream),
                      "cuMemcpyDtoHAsync");
        PHASE_CORR_CU(G.sync(cu->stream), "cuStreamSynchronize");
        phase_corr_output(s, &g, host_peaks, n, out + (size_t)first * P);
        rep->batches++;
    }
    rep->batch_size = b;
    rep->peak_bytes = G.peak;
    rep->limit_bytes = avail;
    phase_corr_mark(&G, 6);
    if (G.profile)
        h->log(h, DVREN_LOG_INFO, "[timer]",
               "reference %.2f ms, uploads+extract %.2f, forward FFT %.2f, cross-power+inverse FFT %.2f, peak %.2f, "
               "upsampled DFT %.2f, results %.2f (%s copies)",
               G.prof[0], G.prof[1], G.prof[2], G.prof[3], G.prof[4], G.prof[5], G.prof[6],
               s->pinned[0] ? "page-locked" : "pageable");
cleanup:
    /* the work is queued on the stream: let it finish before the plans and
     * the memory go back */
    if (G.sync) {
        int r = G.sync(cu->stream);
        if (r != 0 && status == DVREN_OK)
            status = h->fail(h, r == 2 ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_DEVICE, NULL,
                             "cuStreamSynchronize failed: CUresult %d", r);
    }
    for (i = 0; i < G.nbuf; ++i) cu->mem_free(h, G.buf[i], G.size[i]);
    if (wh) h->free(h, wh, wh_bytes);
    if (host_peaks) h->free(h, host_peaks, host_peaks_bytes);
    return status;
}

/* ==== dvren.registration/1 ========================================================== */

static dvren_status phase_corr_align(const dvren_host* h, void* inst, const dvren_register_input* in,
                                     dvren_register_plane* planes, dvren_register_report* report)
{
    phase_corr_instance* s = (phase_corr_instance*)inst;
    const dvren_host_cuda* cu = (const dvren_host_cuda*)h->get_interface(h, DVREN_HOST_CUDA);
    if (!in || !planes || !report) return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "NULL argument");
    if (cu) {
        if (!DVREN_HAS_FIELD(cu, dvren_host_cuda, launch) || !cu->driver_proc || !cu->mem_alloc || !cu->mem_free ||
            !cu->kernel || !cu->launch)
            return h->fail(h, DVREN_ERROR_UNSUPPORTED, "update dvren", "the host's dvren.host.cuda/1 is incomplete");
        return phase_corr_gpu_run(h, cu, s, in, planes, report);
    }
    if (in->memory != DVREN_MEMORY_HOST)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "input: memory is device memory on a CPU context");
    return phase_corr_cpu(h, s, in, planes, report);
}

static const dvren_instance_iface phase_corr_inst = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = phase_corr_create,
    .destroy = phase_corr_destroy,
    .describe = phase_corr_describe,
    .bind = phase_corr_bind,
};
static const dvren_registration_iface phase_corr_registration = {
    .struct_size = sizeof(dvren_registration_iface),
    .align = phase_corr_align,
};

DVREN_PLUGIN_INTERFACES(phase_corr_get_interface, phase_corr_inst, DVREN_IFACE_REGISTRATION, phase_corr_registration)

static const dvren_plugin_desc phase_corr_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_REGISTRATION,
    .name = "phase_correlation",
    .version = (1u << 16) | 0u,
    .summary = "FFT phase correlation on CFA planes, sub-pixel by the upsampled DFT (Guizar-Sicairos et al. 2008)",
    .params = phase_corr_params,
    .param_count = sizeof phase_corr_params / sizeof phase_corr_params[0],
    .device_source_file = "phase_correlation_device.h",
    .get_interface = phase_corr_get_interface,
};

DVREN_PLUGIN_LIBRARY(&phase_corr_desc)
