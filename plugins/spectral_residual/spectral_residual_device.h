/* plugins/spectral_residual/spectral_residual_device.h - the per-pixel steps
 * of the "spectral_residual" saliency model (Hou and Zhang, CVPR 2007), in
 * the order spectral_residual.c runs them (its header comment has the whole
 * algorithm and what each step matches in OpenCV).
 *
 * Single source: spectral_residual.c includes this file as C and calls the
 * step functions in loops over the pixels (the CPU path); NVRTC compiles it
 * as CUDA C++ after dvren's device vocabulary (DVREN_ON_GPU 1), and the GPU
 * path launches the kernels at the end, one thread per element, each calling
 * the same step function. So the file includes nothing, every name starts
 * with spectral_residual_, and the rules of docs/plugins.md ("Rules for
 * per-sample code") hold: no libc beyond the math functions, no allocation,
 * no globals.
 *
 * Arrays (row-major, row 0 at the top):
 *   rgb   (H, W, 3) float32, linear RGB: the input image
 *   spec  (wh, ww) complex float32, interleaved (re, im): the working image,
 *         then its spectrum (fftwf_complex / cufftComplex layout)
 *   logA  (wh, ww) float32: log amplitude of the spectrum
 *   blur  (wh, ww) float32: Gaussian-smoothed |inverse transform|
 *   map   (H, W) float32 in [0, 1]: the result
 * Indices are uint32_t: the plugin refuses images of 2^31 pixels or more. */
#ifndef SPECTRAL_RESIDUAL_DEVICE_H
#define SPECTRAL_RESIDUAL_DEVICE_H

/* Largest filter radius (the Gaussian's and the log-amplitude mean's):
 * kernels up to 31 x 31. */
#define SPECTRAL_RESIDUAL_MAX_RADIUS 15
/* Spectral amplitudes up to this fraction of |F(0)| / sqrt(ww wh) count as
 * exact zeros (step 3). A float32 FFT leaves rounding noise of about
 * 1e-7 log2(n) sqrt(n) rms(x) where the exact transform is 0 (a constant
 * image, the edges of a pixel-aligned rectangle), and the residual would
 * give that noise a random phase; OpenCV's float64 transform has exact zeros
 * there, with phase 0. The threshold is some 10x above that noise and far
 * below the amplitudes of real images (about 0.1 gray levels x pixels at
 * 64 x 64, where real spectra have amplitudes of 10 to 10^6). */
#define SPECTRAL_RESIDUAL_ZERO_FRACTION 1e-5f
/* Threads per block of every kernel (the max reduction needs a power of 2). */
#define SPECTRAL_RESIDUAL_BLOCK 256

/* A symmetric separable filter: w[|d|] for d = -radius..radius, summing to
 * 1 over the 2 radius + 1 taps of one axis. Passed by value to the GPU
 * kernels (the same layout on both sides: floats and one int32). */
typedef struct spectral_residual_filter {
    float w[SPECTRAL_RESIDUAL_MAX_RADIUS + 1];
    int32_t radius;
} spectral_residual_filter;

/* OpenCV's BORDER_REFLECT_101 (its BORDER_DEFAULT, borderInterpolate):
 * ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ..., periodic with period 2 (n - 1)
 * for offsets of any size; 0 when n is 1. */
DVREN_FN int spectral_residual_reflect(int i, int n)
{
    int period;
    if (n <= 1) return 0;
    period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* Linear radiance -> sRGB-encoded value in [0, 1] (IEC 61966-2-1), clamped
 * first; NaN counts as 0. OpenCV's input is an 8-bit sRGB image. */
DVREN_FN float spectral_residual_srgb(float v)
{
    if (!(v > 0.0f)) return 0.0f;
    if (v >= 1.0f) return 1.0f;
    return v <= 0.0031308f ? 12.92f * v : 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
}

/* Gray value in [0, 255] of input pixel (x, y): ITU-R BT.601 luma of the
 * sRGB-encoded colour, as OpenCV's cvtColor(COLOR_BGR2GRAY) on 8 bits (the
 * scale matters: step 3 adds 1 to the amplitude). */
DVREN_FN float spectral_residual_luma(const float* rgb, uint32_t W, int x, int y)
{
    const float* p = rgb + 3u * ((uint32_t)y * W + (uint32_t)x);
    return 255.0f * (0.299f * spectral_residual_srgb(p[0]) + 0.587f * spectral_residual_srgb(p[1]) +
                     0.114f * spectral_residual_srgb(p[2]));
}

/* The two source taps of destination index d of a linear resize from n
 * samples with scale = source / destination size, as OpenCV's resize with
 * INTER_LINEAR places them (pixel centres aligned: s = (d + 0.5) scale -
 * 0.5, computed in double and rounded to float as OpenCV does; clamped to
 * the edge samples, with weight 0 on the second tap there). *f is the
 * second tap's weight. */
DVREN_FN void spectral_residual_taps(double scale, int d, int n, int* i0, int* i1, float* f)
{
    float s = (float)(((double)d + 0.5) * scale - 0.5);
    int k = (int)floorf(s);
    s -= (float)k;
    if (k < 0) {
        k = 0;
        s = 0.0f;
    }
    if (k >= n - 1) {
        k = n - 1;
        s = 0.0f;
    }
    *i0 = k;
    *i1 = k + 1 < n ? k + 1 : n - 1;
    *f = s;
}

/* Step 1, per working pixel i (ww x wh): the gray image resized bilinearly
 * to the working size (scale_x = W / ww, scale_y = H / wh), as the real
 * part of spec; imaginary part 0. */
DVREN_FN void spectral_residual_gray(const float* rgb, uint32_t W, uint32_t H, uint32_t ww, double scale_x,
                                     double scale_y, uint32_t i, float* spec)
{
    int x0, x1, y0, y1;
    float fx, fy, top, bottom;
    spectral_residual_taps(scale_x, (int)(i % ww), (int)W, &x0, &x1, &fx);
    spectral_residual_taps(scale_y, (int)(i / ww), (int)H, &y0, &y1, &fy);
    top = (1.0f - fx) * spectral_residual_luma(rgb, W, x0, y0) + fx * spectral_residual_luma(rgb, W, x1, y0);
    bottom = (1.0f - fx) * spectral_residual_luma(rgb, W, x0, y1) + fx * spectral_residual_luma(rgb, W, x1, y1);
    spec[2u * i] = (1.0f - fy) * top + fy * bottom;
    spec[2u * i + 1u] = 0.0f;
}

/* Step 3 (after the forward FFT), per frequency i: the log amplitude
 * L = log(1 + |F|) (OpenCV: log(magnitude + 1), which keeps it finite where
 * |F| = 0); 0 where |F| is at most SPECTRAL_RESIDUAL_ZERO_FRACTION |F(0)| /
 * sqrt(n), n = ww wh (rounding noise of an exact zero), and only there
 * (log1p of a positive float is positive). */
DVREN_FN void spectral_residual_log_amplitude(const float* spec, uint32_t n, uint32_t i, float* logA)
{
    float dc = sqrtf(spec[0] * spec[0] + spec[1] * spec[1]);
    float re = spec[2u * i], im = spec[2u * i + 1u];
    float a = sqrtf(re * re + im * im);
    logA[i] = a > SPECTRAL_RESIDUAL_ZERO_FRACTION * dc / sqrtf((float)n) ? log1pf(a) : 0.0f;
}

/* Step 4, per frequency i: the spectral residual with the phase kept.
 * With the mean M of L over a box of (2 radius + 1)^2 frequencies (borders
 * reflected, as OpenCV's blur), the residual spectrum is
 * exp(L - M) (cos phase, sin phase), written over F in place. Where L = 0
 * (F zero) the phase is 0, as OpenCV's cartToPolar gives for 0: the value
 * is (exp(-M), 0). An all-black image (F(0) = 0, so F = 0 everywhere) gives
 * a zero spectrum, and so a zero map, where OpenCV's gives a blob at the
 * top-left corner (every frequency 1). */
DVREN_FN void spectral_residual_residual(float* spec, const float* logA, uint32_t ww, uint32_t wh, int radius,
                                         uint32_t i)
{
    int x = (int)(i % ww), y = (int)(i / ww), dx, dy;
    float sum = 0.0f, m, L = logA[i];
    for (dy = -radius; dy <= radius; ++dy) {
        const float* row = logA + (uint32_t)spectral_residual_reflect(y + dy, (int)wh) * ww;
        for (dx = -radius; dx <= radius; ++dx) sum += row[spectral_residual_reflect(x + dx, (int)ww)];
    }
    m = expf(L - sum / (float)((2 * radius + 1) * (2 * radius + 1)));
    if (logA[0] == 0.0f) {
        spec[2u * i] = spec[2u * i + 1u] = 0.0f;
    } else if (L == 0.0f) {
        spec[2u * i] = m;
        spec[2u * i + 1u] = 0.0f;
    } else {
        float re = spec[2u * i], im = spec[2u * i + 1u], k = m / sqrtf(re * re + im * im);
        spec[2u * i] = re * k;
        spec[2u * i + 1u] = im * k;
    }
}

/* |z| of complex element j without overflow of re^2 + im^2. */
DVREN_FN float spectral_residual_abs(const float* spec, uint32_t j)
{
    float a = fabsf(spec[2u * j]), b = fabsf(spec[2u * j + 1u]);
    float m = a > b ? a : b, q;
    if (!(m > 0.0f)) return 0.0f;
    q = (a > b ? b : a) / m;
    return m * sqrtf(1.0f + q * q);
}

/* Step 6 (after the inverse FFT), per working pixel i: the magnitude of
 * the inverse transform smoothed by the separable filter g (OpenCV:
 * GaussianBlur(magnitude, 5 x 5, sigma 8), borders reflected). Squared in
 * step 8, after the maximum is known. */
DVREN_FN void spectral_residual_smooth(const float* spec, uint32_t ww, uint32_t wh, const spectral_residual_filter* g,
                                       uint32_t i, float* blur)
{
    int x = (int)(i % ww), y = (int)(i / ww), r = g->radius, dx, dy;
    float sum = 0.0f;
    for (dy = -r; dy <= r; ++dy) {
        uint32_t row = (uint32_t)spectral_residual_reflect(y + dy, (int)wh) * ww;
        float line = 0.0f;
        for (dx = -r; dx <= r; ++dx) {
            uint32_t j = row + (uint32_t)spectral_residual_reflect(x + dx, (int)ww);
            line += g->w[dx < 0 ? -dx : dx] * spectral_residual_abs(spec, j);
        }
        sum += g->w[dy < 0 ? -dy : dy] * line;
    }
    blur[i] = sum;
}

/* Step 7: the maximum, combined two at a time (in any order: exact). */
DVREN_FN float spectral_residual_max(float a, float b) { return a > b ? a : b; }

/* Step 8, per output pixel i (W x H): the saliency (blur / max)^2 of the
 * working map (OpenCV: magnitude^2 / max, so that values are in [0, 1]),
 * resized bilinearly to the image (scale_x = ww / W, scale_y = wh / H, as
 * OpenCV's final resize); clamped to [0, 1] against rounding. A map whose
 * maximum is 0 (a black image) is 0 everywhere. */
DVREN_FN void spectral_residual_upsample(const float* blur, uint32_t ww, uint32_t wh, uint32_t W, double scale_x,
                                         double scale_y, float max_blur, uint32_t i, float* map)
{
    int x0, x1, y0, y1;
    float fx, fy, inv = max_blur > 0.0f ? 1.0f / max_blur : 0.0f, v00, v01, v10, v11, v;
    spectral_residual_taps(scale_x, (int)(i % W), (int)ww, &x0, &x1, &fx);
    spectral_residual_taps(scale_y, (int)(i / W), (int)wh, &y0, &y1, &fy);
    v00 = blur[(uint32_t)y0 * ww + (uint32_t)x0] * inv;
    v01 = blur[(uint32_t)y0 * ww + (uint32_t)x1] * inv;
    v10 = blur[(uint32_t)y1 * ww + (uint32_t)x0] * inv;
    v11 = blur[(uint32_t)y1 * ww + (uint32_t)x1] * inv;
    v = (1.0f - fy) * ((1.0f - fx) * v00 * v00 + fx * v01 * v01) + fy * ((1.0f - fx) * v10 * v10 + fx * v11 * v11);
    map[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

/* ---- GPU kernels: one thread per element, SPECTRAL_RESIDUAL_BLOCK threads
 * per block, a 1-D grid (the host launches them on the context's stream, in
 * this order, with the two FFTs of cuFFT between steps 1 and 3 and 4 and 6). */
#if DVREN_ON_GPU
DVREN_FN uint32_t spectral_residual_thread(void) { return blockIdx.x * blockDim.x + threadIdx.x; }

DVREN_KERNEL void spectral_residual_k_gray(const float* rgb, uint32_t W, uint32_t H, uint32_t ww, uint32_t wh,
                                           double scale_x, double scale_y, float* spec)
{
    uint32_t i = spectral_residual_thread();
    if (i < ww * wh) spectral_residual_gray(rgb, W, H, ww, scale_x, scale_y, i, spec);
}

DVREN_KERNEL void spectral_residual_k_log_amplitude(const float* spec, uint32_t n, float* logA)
{
    uint32_t i = spectral_residual_thread();
    if (i < n) spectral_residual_log_amplitude(spec, n, i, logA);
}

DVREN_KERNEL void spectral_residual_k_residual(float* spec, const float* logA, uint32_t ww, uint32_t wh, int32_t radius)
{
    uint32_t i = spectral_residual_thread();
    if (i < ww * wh) spectral_residual_residual(spec, logA, ww, wh, (int)radius, i);
}

DVREN_KERNEL void spectral_residual_k_smooth(const float* spec, uint32_t ww, uint32_t wh, spectral_residual_filter g,
                                             float* blur)
{
    uint32_t i = spectral_residual_thread();
    if (i < ww * wh) spectral_residual_smooth(spec, ww, wh, &g, i, blur);
}

/* One block of SPECTRAL_RESIDUAL_BLOCK threads: *out = max of blur[0..n-1]
 * (at least 0). */
DVREN_KERNEL void spectral_residual_k_max(const float* blur, uint32_t n, float* out)
{
    __shared__ float part[SPECTRAL_RESIDUAL_BLOCK];
    uint32_t t = threadIdx.x, i, k;
    float m = 0.0f;
    for (i = t; i < n; i += SPECTRAL_RESIDUAL_BLOCK) m = spectral_residual_max(m, blur[i]);
    part[t] = m;
    __syncthreads();
    for (k = SPECTRAL_RESIDUAL_BLOCK / 2; k > 0; k >>= 1) {
        if (t < k) part[t] = spectral_residual_max(part[t], part[t + k]);
        __syncthreads();
    }
    if (t == 0) out[0] = part[0];
}

DVREN_KERNEL void spectral_residual_k_upsample(const float* blur, uint32_t ww, uint32_t wh, uint32_t W, uint32_t H,
                                               double scale_x, double scale_y, const float* max_blur, float* map)
{
    uint32_t i = spectral_residual_thread();
    if (i < W * H) spectral_residual_upsample(blur, ww, wh, W, scale_x, scale_y, max_blur[0], i, map);
}
#endif /* DVREN_ON_GPU */

#endif /* SPECTRAL_RESIDUAL_DEVICE_H */
