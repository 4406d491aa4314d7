/* plugins/spectral_residual/spectral_residual.c - the "spectral_residual"
 * saliency model: an image in, an importance map in [0, 1] out.
 *
 * The model (Xiaodi Hou and Liqing Zhang, "Saliency Detection: A Spectral
 * Residual Approach", CVPR 2007): natural images share a smooth log
 * amplitude spectrum (about 1/f); what is left after removing its local
 * average, the spectral residual, belongs to the unexpected parts of the
 * image. Transformed back with the original phase, it lights up the regions
 * that differ from their surroundings.
 *
 * This plugin computes it as OpenCV contrib does it
 * (cv::saliency::StaticSaliencySpectralResidual::computeSaliency, module
 * saliency, staticSaliencySpectralResidual.cpp, as of OpenCV 4.x: with
 * log(magnitude + 1) and INTER_LINEAR_EXACT), so that the maps agree with
 * the reference implementation people compare against
 * (tests/test_saliency_opencv.sh checks Pearson correlation >= 0.98 against
 * opencv-contrib-python-headless on real images). The steps, with the
 * function of spectral_residual_device.h that does each per element (one
 * definition each, used by the CPU loops and by the GPU kernels):
 *
 *   0. input: in->rgb is linear RGB (radiance); OpenCV's input is an 8-bit
 *      sRGB-encoded BGR image. Each channel is clamped to [0, 1] and
 *      sRGB-encoded (IEC 61966-2-1) first, so that the same PNG gives the
 *      same map through both (an 8-bit sRGB file decoded to linear and
 *      re-encoded here is the file's values again, to float rounding).
 *      NaN counts as 0, +inf as 1. HDR values above 1 saturate, as they do
 *      in the 8-bit PNG of the same image.
 *   1. gray at the working size (spectral_residual_gray): the luma
 *      Y = 255 (0.299 R' + 0.587 G' + 0.114 B') of the encoded colour
 *      (OpenCV's cvtColor(COLOR_BGR2GRAY), 0..255: the scale matters, as
 *      step 3 adds 1), resized to `width` x `height` (default 64 x 64,
 *      OpenCV's resImWidth/resImHeight) bilinearly with pixel centres
 *      aligned and edge samples clamped (OpenCV's resize with
 *      INTER_LINEAR(_EXACT): each working pixel reads the 2 x 2 nearest
 *      input pixels, also when shrinking by much; so does this).
 *   2. forward 2-D DFT of the working image as a complex image (imaginary
 *      part 0), unnormalised: FFTW 3 in float32 on the CPU, cuFFT on the
 *      GPU (OpenCV: dft in float64).
 *   3. log amplitude L = log(1 + |F|) (spectral_residual_log_amplitude).
 *      Amplitudes that are float32 rounding noise of an exact zero (up to
 *      1e-5 |F(0)| / sqrt(n), SPECTRAL_RESIDUAL_ZERO_FRACTION) count as 0.
 *   4. spectral residual R = L - M, M the mean of L over a `mean_size` x
 *      `mean_size` box (default 3: the paper's h_3 and OpenCV's
 *      blur(..., Size(3, 3)); borders reflected, BORDER_REFLECT_101); the
 *      residual spectrum exp(R) (cos phase, sin phase), the phase of F kept
 *      (phase 0 where F = 0, as OpenCV's cartToPolar)
 *      (spectral_residual_residual).
 *   5. inverse 2-D DFT, unnormalised (the scale cancels in step 8).
 *   6. magnitude of the inverse transform, smoothed by a Gaussian of
 *      `blur_size` x `blur_size` taps and standard deviation `blur_sigma`
 *      working pixels (defaults 5 and 8: OpenCV's GaussianBlur(magnitude,
 *      Size(5, 5), 8); weights exp(-d^2 / (2 sigma^2)) normalised, as
 *      getGaussianKernel; borders reflected) (spectral_residual_smooth).
 *      OpenCV smooths the magnitude and then squares it; the paper squares
 *      first. This follows OpenCV.
 *   7. the maximum of the smoothed map (spectral_residual_max).
 *   8. the saliency (smoothed / max)^2 in [0, 1] (OpenCV: magnitude^2 /
 *      max), resized bilinearly to the input's width x height as in step 1
 *      (OpenCV's final resize) (spectral_residual_upsample).
 *
 * Special images: a constant image gives a flat map (the mean term
 * dominates; the zero frequencies, all 1 after the + 1, add a blurred
 * impulse at the top-left corner of about 0.2%, as in OpenCV's map); an
 * all-black image gives 0 everywhere (OpenCV: every frequency becomes 1,
 * and its map is a blob at the top-left corner, an artefact of the + 1
 * that this does not copy).
 *
 * Differences from OpenCV, below what the comparison test can see: float32
 * instead of float64 throughout; OpenCV rounds the gray image and the
 * resized gray image to 8 bits, this keeps them in float; the zero
 * threshold of step 3; the black image.
 *
 * Parameters (schema below): width, height (the working size, 1..4096,
 * default 64 as OpenCV's; a larger one keeps finer detail), mean_size (odd,
 * 1..31, default 3), blur_size (odd, 1..31, default 5), blur_sigma (working
 * pixels, > 0, default 8).
 *
 * Input and output (dvren.saliency/1, dvren.h >>foveate): in->rgb (H, W, 3)
 * float32, row 0 at the top; map (H, W) float32 in [0, 1], both in
 * in->memory. alpha, depth and variance are not read (wants = 0). Errors
 * (through host->fail, naming the argument): INVALID_ARGUMENT for a NULL
 * input, rgb or map, a zero width or height, an image of 2^31 pixels or
 * more, or memory that is not the context's (host memory on a CUDA
 * context, device memory on the CPU); OUT_OF_MEMORY; on the GPU
 * UNSUPPORTED when cuFFT cannot be loaded (the message names the library
 * files tried) and DEVICE when a cuFFT or driver call fails. Never a CPU
 * fallback on a GPU context.
 *
 * Devices. CPU: FFTW 3, single precision, plans (FFTW_ESTIMATE: no
 * measurement, no wisdom; microseconds at 64 x 64) made under the planner
 * lock of the FFT layer the FFT plugins share (tools/dvren_fft.h; LIBS
 * links libfftw3f with -z nodelete, as that file explains). GPU (the
 * context is CUDA when the host offers "dvren.host.cuda/1"): the steps run
 * as the kernels of spectral_residual_device.h, compiled by the host with
 * NVRTC and launched on the context's stream; the two FFTs are cuFFT's,
 * loaded at run time by the same layer (no CUDA toolkit needed to build
 * the plugin). A plan is made per call (the working size is small) and the
 * call synchronises the stream before it frees its scratch memory and the
 * plan.
 *
 * Threads: compute() may run on any thread, concurrently on different
 * instances; an instance holds only its parameters. */
#include "dvren.h"
#include "spectral_residual_device.h"
#include "../../tools/dvren_fft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const dvren_param_desc spectral_residual_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "width",
                .doc = "working width: the image is resized to width x height before the FFT (OpenCV: 64)",
                .unit = "pixels", .default_number = 64, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
                .min_value = 1, .max_value = 4096),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "height", .doc = "working height (OpenCV: 64)", .unit = "pixels",
                .default_number = 64, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX, .min_value = 1,
                .max_value = 4096),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "mean_size",
                .doc = "odd size of the box whose mean of the log amplitude is subtracted (the paper and OpenCV: 3)",
                .unit = "frequencies", .default_number = 3, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
                .min_value = 1, .max_value = 2 * SPECTRAL_RESIDUAL_MAX_RADIUS + 1),
    DVREN_PARAM(.type = DVREN_PARAM_INT, .name = "blur_size",
                .doc = "odd size of the Gaussian that smooths the map at the working size (OpenCV: 5)",
                .unit = "working pixels", .default_number = 5, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX,
                .min_value = 1, .max_value = 2 * SPECTRAL_RESIDUAL_MAX_RADIUS + 1),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "blur_sigma",
                .doc = "standard deviation of that Gaussian (OpenCV: 8)", .unit = "working pixels",
                .default_number = 8, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE | DVREN_PARAM_HAS_MAX,
                .min_value = 0, .max_value = 1e4),
};

/* One instance: its parameters, resolved. */
typedef struct spectral_residual_instance {
    uint32_t ww, wh;                 /* working size */
    int32_t mean_radius;             /* (mean_size - 1) / 2 */
    spectral_residual_filter gauss;  /* the smoothing of step 6 */
} spectral_residual_instance;

static dvren_status spectral_residual_create(const dvren_host* h, const dvren_params* p, void** out)
{
    spectral_residual_instance* s;
    int mean_size = (int)h->param_number(p, "mean_size");
    int blur_size = (int)h->param_number(p, "blur_size");
    double sigma = h->param_number(p, "blur_sigma"), sum = 0.0, w[SPECTRAL_RESIDUAL_MAX_RADIUS + 1];
    int r, k;
    /* what the schema cannot say: odd sizes (a centred box) */
    if (mean_size % 2 == 0)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "use an odd size such as 3",
                       "parameter 'mean_size' = %d is even", mean_size);
    if (blur_size % 2 == 0)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "use an odd size such as 5",
                       "parameter 'blur_size' = %d is even", blur_size);
    s = (spectral_residual_instance*)h->alloc(h, sizeof *s);
    if (!s) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(s, 0, sizeof *s);
    s->ww = (uint32_t)h->param_number(p, "width");
    s->wh = (uint32_t)h->param_number(p, "height");
    s->mean_radius = (mean_size - 1) / 2;
    /* OpenCV's getGaussianKernel(blur_size, sigma): exp(-d^2 / (2 sigma^2)),
     * d = -r..r, normalised to sum 1, in double */
    r = (blur_size - 1) / 2;
    for (k = 0; k <= r; ++k) {
        w[k] = exp(-0.5 * (double)k * (double)k / (sigma * sigma));
        sum += k ? 2.0 * w[k] : w[k];
    }
    for (k = 0; k <= r; ++k) s->gauss.w[k] = (float)(w[k] / sum);
    s->gauss.radius = r;
    *out = s;
    return DVREN_OK;
}

static void spectral_residual_destroy(const dvren_host* h, void* inst)
{
    h->free(h, inst, sizeof(spectral_residual_instance));
}

static dvren_status spectral_residual_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = 0; /* a saliency model has no parameter block */
    return DVREN_OK;
}

static dvren_status spectral_residual_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    (void)block;
    return DVREN_OK;
}

/* OpenCV's resize scale (source / destination size), computed as it does:
 * the inverse of destination / source. */
static double spectral_residual_scale(uint32_t src, uint32_t dst) { return 1.0 / ((double)dst / (double)src); }

/* ==== CPU: FFTW ==================================================================== */

static dvren_status spectral_residual_cpu(const dvren_host* h, const spectral_residual_instance* s,
                                          const dvren_saliency_input* in, float* map)
{
    const uint32_t ww = s->ww, wh = s->wh, n = ww * wh, W = in->width, H = in->height;
    const double sx = spectral_residual_scale(W, ww), sy = spectral_residual_scale(H, wh);
    const double ux = spectral_residual_scale(ww, W), uy = spectral_residual_scale(wh, H);
    const size_t spec_bytes = (size_t)n * 2u * sizeof(float), real_bytes = (size_t)n * sizeof(float);
    float *spec = (float*)h->alloc(h, spec_bytes), *logA = (float*)h->alloc(h, real_bytes),
          *blur = (float*)h->alloc(h, real_bytes);
    fftwf_plan fwd = NULL, inv = NULL;
    dvren_status status = DVREN_OK;
    float max_blur = 0.0f;
    uint32_t i;
    if (!spec || !logA || !blur) {
        status = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory (working size %ux%u)", (unsigned)ww,
                         (unsigned)wh);
        goto cleanup;
    }
    /* in place, row-major (wh rows of ww); FFTW_ESTIMATE leaves the array
     * alone while planning. The host's allocations are 64-byte aligned, as
     * FFTW's SIMD code likes. */
    dvren_fft_lock();
    fwd = fftwf_plan_dft_2d((int)wh, (int)ww, (fftwf_complex*)spec, (fftwf_complex*)spec, FFTW_FORWARD,
                            FFTW_ESTIMATE);
    inv = fftwf_plan_dft_2d((int)wh, (int)ww, (fftwf_complex*)spec, (fftwf_complex*)spec, FFTW_BACKWARD,
                            FFTW_ESTIMATE);
    dvren_fft_unlock();
    if (!fwd || !inv) {
        status = h->fail(h, DVREN_ERROR_INTERNAL, NULL, "FFTW could not plan a %ux%u transform", (unsigned)ww,
                         (unsigned)wh);
        goto cleanup;
    }
    for (i = 0; i < n; ++i) spectral_residual_gray(in->rgb, W, H, ww, sx, sy, i, spec);
    fftwf_execute(fwd);
    for (i = 0; i < n; ++i) spectral_residual_log_amplitude(spec, n, i, logA);
    for (i = 0; i < n; ++i) spectral_residual_residual(spec, logA, ww, wh, s->mean_radius, i);
    fftwf_execute(inv);
    for (i = 0; i < n; ++i) spectral_residual_smooth(spec, ww, wh, &s->gauss, i, blur);
    for (i = 0; i < n; ++i) max_blur = spectral_residual_max(max_blur, blur[i]);
    for (i = 0; i < W * H; ++i) spectral_residual_upsample(blur, ww, wh, W, ux, uy, max_blur, i, map);
cleanup:
    if (fwd || inv) {
        dvren_fft_lock();
        if (fwd) fftwf_destroy_plan(fwd);
        if (inv) fftwf_destroy_plan(inv);
        dvren_fft_unlock();
    }
    if (spec) h->free(h, spec, spec_bytes);
    if (logA) h->free(h, logA, real_bytes);
    if (blur) h->free(h, blur, real_bytes);
    return status;
}

/* ==== GPU: cuFFT, loaded at run time ================================================ */

/* One 1-D launch of kernel `name` over n elements. */
static dvren_status spectral_residual_launch(const dvren_host* h, const dvren_host_cuda* cu, const char* name,
                                             uint32_t n, int one_block, void** args)
{
    void* fn = NULL;
    uint32_t grid[3] = {one_block ? 1u : (n + SPECTRAL_RESIDUAL_BLOCK - 1u) / SPECTRAL_RESIDUAL_BLOCK, 1u, 1u};
    uint32_t block[3] = {SPECTRAL_RESIDUAL_BLOCK, 1u, 1u};
    dvren_status s = cu->kernel(h, name, &fn);
    if (s != DVREN_OK) return s;
    return cu->launch(h, fn, grid, block, 0, args);
}

static dvren_status spectral_residual_gpu(const dvren_host* h, const dvren_host_cuda* cu,
                                          const spectral_residual_instance* s, const dvren_saliency_input* in,
                                          float* map)
{
    uint32_t ww = s->ww, wh = s->wh, n = ww * wh, W = in->width, H = in->height, WH = W * H;
    double sx = spectral_residual_scale(W, ww), sy = spectral_residual_scale(H, wh);
    double ux = spectral_residual_scale(ww, W), uy = spectral_residual_scale(wh, H);
    int32_t radius = s->mean_radius;
    spectral_residual_filter gauss = s->gauss;
    /* one scratch allocation: spectrum (2n floats), log amplitude (n),
     * smoothed map (n), its maximum (1) */
    size_t bytes = ((size_t)4 * n + 1u) * sizeof(float);
    void* scratch = NULL;
    float *spec, *logA, *blur, *max_blur;
    const float* rgb = in->rgb;
    const dvren_cufft_api* fft = NULL;
    dvren_cufft_handle plan = 0;
    int have_plan = 0, r;
    int (*sync)(void*) = NULL;
    dvren_status status;
    status = dvren_fft_cufft(h, &fft);
    if (status != DVREN_OK) return status;
    {
        void* p = cu->driver_proc(h, "cuStreamSynchronize");
        memcpy(&sync, &p, sizeof p < sizeof sync ? sizeof p : sizeof sync);
    }
    if (!sync) return h->fail(h, DVREN_ERROR_DEVICE, NULL, "the CUDA driver lacks cuStreamSynchronize");
    status = cu->mem_alloc(h, bytes, &scratch);
    if (status != DVREN_OK) return status;
    spec = (float*)scratch;
    logA = spec + 2u * (size_t)n;
    blur = logA + n;
    max_blur = blur + n;
    /* cuFFT's nx is the slow (row) dimension: wh rows of ww. A working
     * size of one row or column is a 1-D transform (2-D plans want both
     * sides >= 2), and 1 x 1 none at all (the DFT of one value is itself). */
    if (n > 1) {
        r = ww > 1 && wh > 1
                ? fft->cufftPlan2d(&plan, (int)wh, (int)ww, DVREN_CUFFT_C2C)
                : fft->cufftPlan1d(&plan, (int)n, DVREN_CUFFT_C2C, 1);
        if (r != 0) {
            status = dvren_fft_cufft_fail(h, r, ww > 1 && wh > 1 ? "cufftPlan2d" : "cufftPlan1d");
            goto cleanup;
        }
        have_plan = 1;
        r = fft->cufftSetStream(plan, cu->stream);
        if (r != 0) {
            status = dvren_fft_cufft_fail(h, r, "cufftSetStream");
            goto cleanup;
        }
    }
    {
        void* a[] = {(void*)&rgb, &W, &H, &ww, &wh, &sx, &sy, &spec};
        status = spectral_residual_launch(h, cu, "spectral_residual_k_gray", n, 0, a);
        if (status != DVREN_OK) goto cleanup;
    }
    r = have_plan ? fft->cufftExecC2C(plan, spec, spec, DVREN_CUFFT_FORWARD) : 0;
    if (r != 0) {
        status = dvren_fft_cufft_fail(h, r, "cufftExecC2C (forward)");
        goto cleanup;
    }
    {
        void* a[] = {&spec, &n, &logA};
        status = spectral_residual_launch(h, cu, "spectral_residual_k_log_amplitude", n, 0, a);
        if (status != DVREN_OK) goto cleanup;
    }
    {
        void* a[] = {&spec, &logA, &ww, &wh, &radius};
        status = spectral_residual_launch(h, cu, "spectral_residual_k_residual", n, 0, a);
        if (status != DVREN_OK) goto cleanup;
    }
    r = have_plan ? fft->cufftExecC2C(plan, spec, spec, DVREN_CUFFT_INVERSE) : 0;
    if (r != 0) {
        status = dvren_fft_cufft_fail(h, r, "cufftExecC2C (inverse)");
        goto cleanup;
    }
    {
        void* a[] = {&spec, &ww, &wh, &gauss, &blur};
        status = spectral_residual_launch(h, cu, "spectral_residual_k_smooth", n, 0, a);
        if (status != DVREN_OK) goto cleanup;
    }
    {
        void* a[] = {&blur, &n, &max_blur};
        status = spectral_residual_launch(h, cu, "spectral_residual_k_max", n, 1, a);
        if (status != DVREN_OK) goto cleanup;
    }
    {
        void* a[] = {&blur, &ww, &wh, &W, &H, &ux, &uy, &max_blur, &map};
        status = spectral_residual_launch(h, cu, "spectral_residual_k_upsample", WH, 0, a);
        if (status != DVREN_OK) goto cleanup;
    }
cleanup:
    /* the work is queued on the stream: let it finish before the plan's
     * work area and the scratch memory go back */
    r = sync(cu->stream);
    if (r != 0 && status == DVREN_OK)
        status = h->fail(h, r == 2 ? DVREN_ERROR_OUT_OF_MEMORY : DVREN_ERROR_DEVICE, NULL,
                         "cuStreamSynchronize failed: CUresult %d", r);
    if (have_plan) fft->cufftDestroy(plan);
    cu->mem_free(h, scratch, bytes);
    return status;
}

/* ==== dvren.saliency/1 ============================================================= */

static dvren_status spectral_residual_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in,
                                              float* map)
{
    const spectral_residual_instance* s = (const spectral_residual_instance*)inst;
    const dvren_host_cuda* cu = (const dvren_host_cuda*)h->get_interface(h, DVREN_HOST_CUDA);
    if (!in || !DVREN_HAS_FIELD(in, dvren_saliency_input, rgb))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "input: NULL or struct_size %u too small",
                       in ? (unsigned)in->struct_size : 0u);
    if (!in->rgb) return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "input: rgb is NULL");
    if (!map) return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "map is NULL");
    if (in->width == 0 || in->height == 0)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "input: image size %ux%u is empty",
                       (unsigned)in->width, (unsigned)in->height);
    if ((uint64_t)in->width * in->height >= (1ull << 31))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "input: image size %ux%u has 2^31 pixels or more",
                       (unsigned)in->width, (unsigned)in->height);
    if (cu) {
        if (!DVREN_HAS_FIELD(cu, dvren_host_cuda, launch) || !cu->driver_proc || !cu->mem_alloc || !cu->mem_free ||
            !cu->kernel || !cu->launch)
            return h->fail(h, DVREN_ERROR_UNSUPPORTED, "update dvren", "the host's dvren.host.cuda/1 is incomplete");
        if (in->memory != DVREN_MEMORY_DEVICE)
            return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL,
                           "input: memory is host memory on a CUDA context (the model runs on the GPU)");
        return spectral_residual_gpu(h, cu, s, in, map);
    }
    if (in->memory != DVREN_MEMORY_HOST)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "input: memory is device memory on a CPU context");
    return spectral_residual_cpu(h, s, in, map);
}

static const dvren_instance_iface spectral_residual_inst = {
    .struct_size = sizeof(dvren_instance_iface),
    .create = spectral_residual_create,
    .destroy = spectral_residual_destroy,
    .describe = spectral_residual_describe,
    .bind = spectral_residual_bind,
};
static const dvren_saliency_iface spectral_residual_saliency = {
    .struct_size = sizeof(dvren_saliency_iface),
    .wants = 0,
    .flags = 0,
    .compute = spectral_residual_compute,
};

DVREN_PLUGIN_INTERFACES(spectral_residual_get_interface, spectral_residual_inst, DVREN_IFACE_SALIENCY,
                        spectral_residual_saliency)

static const dvren_plugin_desc spectral_residual_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SALIENCY,
    .name = "spectral_residual",
    .version = (1u << 16) | 0u,
    .summary = "spectral residual saliency (Hou and Zhang, CVPR 2007), as OpenCV's StaticSaliencySpectralResidual",
    .params = spectral_residual_params,
    .param_count = sizeof spectral_residual_params / sizeof spectral_residual_params[0],
    .device_source_file = "spectral_residual_device.h",
    .get_interface = spectral_residual_get_interface,
};

DVREN_PLUGIN_LIBRARY(&spectral_residual_desc)
