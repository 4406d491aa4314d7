/* tests/register_synth.h - test images for image registration whose shift
 * is known exactly: real images moved by a sub-pixel translation in the
 * Fourier domain, mosaicked to a colour filter array (Bayer 2 x 2, X-Trans
 * 6 x 6), with seeded Gaussian noise, quantised to uint8/uint16 or kept as
 * float32. The test's own code, written from the definitions below and
 * independent of dvren's registration (it uses FFTW 3 in double precision:
 * link -lfftw3 -lm).
 *
 * Sign convention: rs_shift(img, ty, tx) moves the content by (ty, tx),
 *     out(y, x) = img(y - ty, x - tx)      (periodically, band-limited),
 * so a registration in scikit-image's convention (dvren.h >>register:
 * reference(y, x) ~ moving(y - dy, x - dx)) of reference img and moving out
 * returns (dy, dx) = (-ty, -tx).
 *
 * The shift (Fourier shift theorem): with F = DFT(img) and signed
 * frequencies ky in (-H/2, H/2), kx in (-W/2, W/2),
 *     out = IDFT( F(ky, kx) exp(-2 pi i (ky ty / H + kx tx / W)) ),
 * the band-limited (trigonometric) interpolation of the periodic image
 * sampled at the shifted grid: a true translation of one continuous
 * periodic image, so the cross-power spectrum of rs_shift(img, 0, 0) and
 * out is exactly exp(2 pi i (ky ty / H + kx tx / W)) at every frequency.
 * The Nyquist bins of even sizes (ky = H/2 or kx = W/2) are set to zero,
 * in the output of every rs_shift (also rs_shift(img, 0, 0), the
 * band-limited reference: rs_bandlimit): a component at exactly half the
 * sampling rate has no observable phase (its samples are A cos(pi n + phi),
 * only A cos(phi) is seen), so its sub-pixel shift is undefined; keeping it
 * (taking the real part, i.e. scaling it by cos(pi t)) leaves one row and
 * one column of the cross-power spectrum with a real, wrong phase, which
 * biases any phase-correlation estimate by about 3 / (pi N) px x their
 * share (measured: 0.01 plane px on 80 x 60 X-Trans planes). With the bins
 * zeroed the output is real (the rest of the spectrum pairs k with -k) and
 * the shift is exact. Integer shifts of real images that keep their
 * Nyquist content: rs_roll (a plain circular shift, exact for any image).
 *
 * Non-periodic shifts (a camera moved across a larger scene): shift a
 * larger image circularly, then crop the same interior window from both
 * (rs_crop): the window holds a true translation of the continuous image
 * with content entering and leaving at the borders, as in a real pair.
 *
 * Mosaics. A CFA of period p assigns a colour (0 R, 1 G, 2 B) to each site
 * (y % p, x % p): colour[(y % p) * p + x % p]. rs_bayer_colours reads the
 * pattern's name ("RGGB" lists the colours of the 2 x 2 cell row by row);
 * X-Trans uses the 6 x 6 table the caller gives (dvren_cfa_xtrans_default).
 *   - rs_mosaic (direct): out(y, x) = rgb(y, x, colour(y, x)): what a camera
 *     records. A shift of the RGB image by a multiple of p moves every plane
 *     (the pixels of one site, dvren.h's "planes") by an integer number of
 *     plane pixels: exact. Any other shift moves the planes by a fraction of
 *     a plane pixel of an image that was subsampled without a low-pass
 *     filter: the planes alias, and the fraction is not exactly measurable.
 *   - rs_mosaic_from_source (consistent sub-period shifts): src is an RGB
 *     image at plane resolution (H / p, W / p); every site of the mosaic
 *     takes the colour it needs from the source pixel of its cell,
 *         out(p i + a, p j + b) = src(i, j, colour(a, b)),
 *     (cells beyond the source, the last partial row or column of cells,
 *     wrap around: the registration leaves them out). Shifting the source by
 *     (ty / p, tx / p) in the Fourier domain then moves every plane by
 *     exactly ty / p plane pixels = ty mosaic pixels: the mosaic of a scene
 *     that moved by ty mosaic pixels, for any ty, odd or sub-pixel, with no
 *     aliasing. The sources: rs_downsample (p x p box mean per channel of an
 *     RGB image) and, for a real Bayer mosaic, rs_source_from_bayer (each
 *     2 x 2 cell gives R, (G1 + G2) / 2, B: the real camera's own samples).
 *
 * Noise: rs_noise adds N(0, sigma^2) per pixel from a seeded generator
 * (SplitMix64 + Box-Muller), so runs are repeatable.
 *
 * Files: rs_read_image, through tools/dvren_raw.h when it was included
 * first (PPM, 16-bit PNG, ...; link -lraw_r -lstb).
 *
 * Every function returns 0 on success, -1 on failure (allocation, a bad
 * file); images own their pixels (rs_free). */
#ifndef DVREN_REGISTER_SYNTH_H
#define DVREN_REGISTER_SYNTH_H

#include <fftw3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS_PI 3.14159265358979323846

/* An image: h rows of w pixels of c channels, row-major, channels
 * interleaved: v[(y * w + x) * c + k]; row 0 at the top. */
typedef struct rs_image {
    int h, w, c;
    double* v;
} rs_image;

static inline int rs_alloc(rs_image* im, int h, int w, int c)
{
    im->h = h;
    im->w = w;
    im->c = c;
    im->v = (h > 0 && w > 0 && c > 0) ? (double*)calloc((size_t)h * w * c, sizeof(double)) : NULL;
    return im->v ? 0 : -1;
}
static inline void rs_free(rs_image* im)
{
    free(im->v);
    memset(im, 0, sizeof *im);
}
static inline int rs_copy(rs_image* out, const rs_image* in)
{
    if (rs_alloc(out, in->h, in->w, in->c)) return -1;
    memcpy(out->v, in->v, sizeof(double) * (size_t)in->h * in->w * in->c);
    return 0;
}

/* ---- random numbers: SplitMix64 (Steele, Lea, Flood 2014), Box-Muller ---- */
typedef struct rs_rng {
    uint64_t s;
    int has_spare;
    double spare;
} rs_rng;
static inline rs_rng rs_rng_seed(uint64_t seed)
{
    rs_rng r;
    r.s = seed;
    r.has_spare = 0;
    r.spare = 0.0;
    return r;
}
static inline uint64_t rs_next(rs_rng* r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in (0, 1) */
static inline double rs_uniform(rs_rng* r) { return ((double)(rs_next(r) >> 11) + 0.5) / 9007199254740992.0; }
/* uniform in [a, b) */
static inline double rs_range(rs_rng* r, double a, double b) { return a + (b - a) * rs_uniform(r); }
static inline double rs_gauss(rs_rng* r)
{
    double u, v, m;
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    u = rs_uniform(r);
    v = rs_uniform(r);
    m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2.0 * RS_PI * v);
    r->has_spare = 1;
    return m * cos(2.0 * RS_PI * v);
}

/* Adds N(0, sigma^2) to every sample. */
static inline void rs_noise(rs_image* im, double sigma, uint64_t seed)
{
    rs_rng r = rs_rng_seed(seed);
    size_t i, n = (size_t)im->h * im->w * im->c;
    for (i = 0; i < n; ++i) im->v[i] += sigma * rs_gauss(&r);
}

/* ---- Fourier-domain filters (FFTW 3, double, complex-to-complex) ---------- */

/* Signed frequency of bin k of n: k for k <= n / 2, k - n above. For even
 * n the Nyquist bin n / 2 counts as +n / 2; the real part taken at the end
 * makes its treatment symmetric (the header comment). */
static inline double rs_freq(int k, int n) { return k <= n / 2 ? (double)k : (double)(k - n); }

/* Multiplies the spectrum of each channel by filter(ky, kx, user) (complex:
 * re, im) and keeps the real part of the result. */
typedef void (*rs_filter_fn)(double ky, double kx, int h, int w, const void* user, double* re, double* im);
static inline int rs_filter(rs_image* img, rs_filter_fn fn, const void* user)
{
    int h = img->h, w = img->w, c = img->c, k, y, x;
    size_t n = (size_t)h * w, i;
    fftw_complex* buf = (fftw_complex*)fftw_malloc(sizeof(fftw_complex) * n);
    fftw_plan fwd, inv;
    if (!buf) return -1;
    fwd = fftw_plan_dft_2d(h, w, buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
    inv = fftw_plan_dft_2d(h, w, buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
    if (!fwd || !inv) {
        if (fwd) fftw_destroy_plan(fwd);
        if (inv) fftw_destroy_plan(inv);
        fftw_free(buf);
        return -1;
    }
    for (k = 0; k < c; ++k) {
        for (i = 0; i < n; ++i) {
            buf[i][0] = img->v[i * c + k];
            buf[i][1] = 0.0;
        }
        fftw_execute(fwd);
        for (y = 0; y < h; ++y)
            for (x = 0; x < w; ++x) {
                double fr, fi, a, b;
                size_t j = (size_t)y * w + x;
                fn(rs_freq(y, h), rs_freq(x, w), h, w, user, &fr, &fi);
                a = buf[j][0];
                b = buf[j][1];
                buf[j][0] = a * fr - b * fi;
                buf[j][1] = a * fi + b * fr;
            }
        fftw_execute(inv);
        for (i = 0; i < n; ++i) img->v[i * c + k] = buf[i][0] / (double)n; /* FFTW's inverse is unnormalised */
    }
    fftw_destroy_plan(fwd);
    fftw_destroy_plan(inv);
    fftw_free(buf);
    return 0;
}

static inline void rs__shift_fn(double ky, double kx, int h, int w, const void* user, double* re, double* im)
{
    const double* t = (const double*)user;
    double ph = -2.0 * RS_PI * (ky * t[0] / h + kx * t[1] / w);
    if ((h % 2 == 0 && ky == h / 2) || (w % 2 == 0 && kx == w / 2)) {
        *re = *im = 0.0; /* Nyquist: no observable phase (header comment) */
        return;
    }
    *re = cos(ph);
    *im = sin(ph);
}
/* Moves the content by (ty, tx) pixels (any real values):
 * out(y, x) = img(y - ty, x - tx), periodic and band-limited (the Nyquist
 * bins of even sizes removed). */
static inline int rs_shift(rs_image* img, double ty, double tx)
{
    double t[2];
    t[0] = ty;
    t[1] = tx;
    return rs_filter(img, rs__shift_fn, t);
}
/* The band-limited image: rs_shift by (0, 0) (Nyquist bins removed). */
static inline int rs_bandlimit(rs_image* img) { return rs_shift(img, 0.0, 0.0); }

/* Circular shift by whole pixels (any image, exactly):
 * out(y, x) = img((y - ty) mod h, (x - tx) mod w). */
static inline int rs_roll(rs_image* img, int ty, int tx)
{
    rs_image o;
    int y, x, h = img->h, w = img->w, c = img->c;
    if (rs_alloc(&o, h, w, c)) return -1;
    for (y = 0; y < h; ++y)
        for (x = 0; x < w; ++x) {
            int sy = ((y - ty) % h + h) % h, sx = ((x - tx) % w + w) % w;
            memcpy(o.v + ((size_t)y * w + x) * c, img->v + ((size_t)sy * w + sx) * c, sizeof(double) * (size_t)c);
        }
    free(img->v);
    img->v = o.v;
    return 0;
}

static inline void rs__blur_fn(double ky, double kx, int h, int w, const void* user, double* re, double* im)
{
    double s = *(const double*)user, fy = ky / h, fx = kx / w;
    /* the continuous Gaussian's transform exp(-2 pi^2 s^2 f^2), f in cycles per pixel */
    *re = exp(-2.0 * RS_PI * RS_PI * s * s * (fy * fy + fx * fx));
    *im = 0.0;
}
/* Gaussian blur of standard deviation sigma pixels (periodic). */
static inline int rs_blur(rs_image* img, double sigma) { return rs_filter(img, rs__blur_fn, &sigma); }

/* ---- geometry and colour --------------------------------------------------- */

/* out = in's window of h x w pixels from (y0, x0); -1 if it does not fit. */
static inline int rs_crop(rs_image* out, const rs_image* in, int y0, int x0, int h, int w)
{
    int y;
    if (y0 < 0 || x0 < 0 || y0 + h > in->h || x0 + w > in->w || rs_alloc(out, h, w, in->c)) return -1;
    for (y = 0; y < h; ++y)
        memcpy(out->v + (size_t)y * w * in->c, in->v + ((size_t)(y0 + y) * in->w + x0) * in->c,
               sizeof(double) * (size_t)w * in->c);
    return 0;
}

/* Grey: the mean of the channels (one channel). */
static inline int rs_grey(rs_image* out, const rs_image* in)
{
    size_t i, n = (size_t)in->h * in->w;
    int k;
    if (rs_alloc(out, in->h, in->w, 1)) return -1;
    for (i = 0; i < n; ++i) {
        double s = 0.0;
        for (k = 0; k < in->c; ++k) s += in->v[i * in->c + k];
        out->v[i] = s / in->c;
    }
    return 0;
}

/* v -> a * v + b for every sample (negating, inverting: max - v). */
static inline void rs_affine(rs_image* im, double a, double b)
{
    size_t i, n = (size_t)im->h * im->w * im->c;
    for (i = 0; i < n; ++i) im->v[i] = a * im->v[i] + b;
}

/* out = a + s * b, pixel by pixel (same sizes). */
static inline int rs_mix(rs_image* out, const rs_image* a, double s, const rs_image* b)
{
    size_t i, n = (size_t)a->h * a->w * a->c;
    if (b->h != a->h || b->w != a->w || b->c != a->c || rs_alloc(out, a->h, a->w, a->c)) return -1;
    for (i = 0; i < n; ++i) out->v[i] = a->v[i] + s * b->v[i];
    return 0;
}

/* Colours of a Bayer pattern's 2 x 2 cell from its name ("RGGB", "BGGR",
 * "GRBG", "GBRG"; the colours row by row): col[(y % 2) * 2 + x % 2]. */
static inline int rs_bayer_colours(const char* name, uint8_t col[4])
{
    int i;
    if (strlen(name) != 4) return -1;
    for (i = 0; i < 4; ++i) {
        char ch = name[i];
        col[i] = ch == 'R' ? 0 : ch == 'G' ? 1 : ch == 'B' ? 2 : 255;
        if (col[i] == 255) return -1;
    }
    return 0;
}

/* Direct mosaic of an RGB image: out(y, x) = rgb(y, x, colour[(y % p) * p + x % p]). */
static inline int rs_mosaic(rs_image* out, const rs_image* rgb, int p, const uint8_t* colour)
{
    int y, x;
    if (rgb->c != 3 || rs_alloc(out, rgb->h, rgb->w, 1)) return -1;
    for (y = 0; y < rgb->h; ++y)
        for (x = 0; x < rgb->w; ++x)
            out->v[(size_t)y * rgb->w + x] = rgb->v[((size_t)y * rgb->w + x) * 3 + colour[(y % p) * p + x % p]];
    return 0;
}

/* Mosaic of h x w from a plane-resolution RGB source (header comment):
 * out(p i + a, p j + b) = src(i mod src.h, j mod src.w, colour[a * p + b]). */
static inline int rs_mosaic_from_source(rs_image* out, const rs_image* src, int p, const uint8_t* colour, int h, int w)
{
    int y, x;
    if (src->c != 3 || rs_alloc(out, h, w, 1)) return -1;
    for (y = 0; y < h; ++y)
        for (x = 0; x < w; ++x) {
            int i = (y / p) % src->h, j = (x / p) % src->w;
            out->v[(size_t)y * w + x] = src->v[((size_t)i * src->w + j) * 3 + colour[(y % p) * p + x % p]];
        }
    return 0;
}

/* p x p box mean of every channel: (h / p, w / p, c) (a last partial cell is
 * left out). */
static inline int rs_downsample(rs_image* out, const rs_image* in, int p)
{
    int y, x, a, b, k, c = in->c;
    if (rs_alloc(out, in->h / p, in->w / p, c)) return -1;
    for (y = 0; y < out->h; ++y)
        for (x = 0; x < out->w; ++x)
            for (k = 0; k < c; ++k) {
                double s = 0.0;
                for (a = 0; a < p; ++a)
                    for (b = 0; b < p; ++b) s += in->v[((size_t)(p * y + a) * in->w + p * x + b) * c + k];
                out->v[((size_t)y * out->w + x) * c + k] = s / (p * p);
            }
    return 0;
}

/* The RGB source of a real Bayer mosaic at half resolution: each 2 x 2 cell
 * gives R, the mean of its two greens, and B (col: rs_bayer_colours). */
static inline int rs_source_from_bayer(rs_image* out, const rs_image* mosaic, const uint8_t col[4])
{
    int y, x, a, b;
    if (mosaic->c != 1 || rs_alloc(out, mosaic->h / 2, mosaic->w / 2, 3)) return -1;
    for (y = 0; y < out->h; ++y)
        for (x = 0; x < out->w; ++x) {
            double s[3] = {0.0, 0.0, 0.0};
            int n[3] = {0, 0, 0};
            for (a = 0; a < 2; ++a)
                for (b = 0; b < 2; ++b) {
                    int k = col[a * 2 + b];
                    s[k] += mosaic->v[(size_t)(2 * y + a) * mosaic->w + 2 * x + b];
                    n[k]++;
                }
            for (a = 0; a < 3; ++a) out->v[((size_t)y * out->w + x) * 3 + a] = n[a] ? s[a] / n[a] : 0.0;
        }
    return 0;
}

/* ---- storage types --------------------------------------------------------- */

static inline double rs__clamp_round(double v, double hi)
{
    v = floor(v + 0.5);
    return v < 0.0 ? 0.0 : v > hi ? hi : v;
}
/* Rounded to the nearest integer, clamped to [0, 65535] / [0, 255]. */
static inline uint16_t* rs_to_u16(const rs_image* im)
{
    size_t i, n = (size_t)im->h * im->w * im->c;
    uint16_t* o = (uint16_t*)malloc(sizeof(uint16_t) * (n ? n : 1));
    if (o)
        for (i = 0; i < n; ++i) o[i] = (uint16_t)rs__clamp_round(im->v[i], 65535.0);
    return o;
}
static inline uint8_t* rs_to_u8(const rs_image* im)
{
    size_t i, n = (size_t)im->h * im->w * im->c;
    uint8_t* o = (uint8_t*)malloc(n ? n : 1);
    if (o)
        for (i = 0; i < n; ++i) o[i] = (uint8_t)rs__clamp_round(im->v[i], 255.0);
    return o;
}
static inline float* rs_to_f32(const rs_image* im)
{
    size_t i, n = (size_t)im->h * im->w * im->c;
    float* o = (float*)malloc(sizeof(float) * (n ? n : 1));
    if (o)
        for (i = 0; i < n; ++i) o[i] = (float)im->v[i];
    return o;
}

/* ---- files ----------------------------------------------------------------- */

#ifdef DVREN_RAW_H
/* Any image tools/dvren_raw.h reads (PPM/PGM, PNG, .npy, camera RAW), values
 * as stored (0..maxval, counts), through dvren's own loader: its reading is
 * tested on its own (tests/test_raw.c), the synthesis here starts from what
 * it returns. */
static inline int rs_read_image(const char* path, rs_image* out)
{
    dvren_raw_image img;
    float* f = NULL;
    size_t n, i;
    int st = -1;
    memset(out, 0, sizeof *out);
    if (dvren_raw_load(NULL, path, &img) != DVREN_OK) return -1;
    n = (size_t)img.width * img.height * img.channels;
    f = (float*)malloc(n * sizeof *f);
    if (f && dvren_raw_to_float(&img, f) == n && rs_alloc(out, (int)img.height, (int)img.width, (int)img.channels) == 0) {
        for (i = 0; i < n; ++i) out->v[i] = (double)f[i];
        st = 0;
    }
    free(f);
    dvren_raw_free(&img);
    return st;
}
#endif


#endif
