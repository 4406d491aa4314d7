/* plugins/phase_correlation/phase_correlation_device.h - the per-element
 * steps of the "phase_correlation" registration model, in the order
 * phase_correlation.c runs them (its header comment has the algorithm).
 *
 * Single source: phase_correlation.c includes this file as C and calls the
 * step functions in loops (the CPU path); NVRTC compiles it as CUDA C++
 * after dvren's device vocabulary (DVREN_ON_GPU 1), and the GPU path
 * launches the kernels at the end, each thread calling the same step
 * functions. So the file includes nothing, every name starts with
 * phase_corr_, and the rules of docs/plugins.md ("Rules for per-sample
 * code") hold: no libc beyond the math functions, no allocation, no
 * globals.
 *
 * Arrays. A "surface" is one plane of one image: ph rows of pw plane
 * pixels. Its real form (the windowed plane, later the correlation) is
 * ph rows of rstride = 2 cw floats (cw = pw / 2 + 1), the in-place
 * real-to-complex layout of FFTW and cuFFT; its spectrum is ph rows of cw
 * complex values (interleaved re, im), the non-negative x frequencies of
 * a Hermitian spectrum. Surfaces follow each other (surface s at
 * s * ph * rstride floats); a batch of images holds image-major surfaces
 * (image b, plane k at b * planes + k). Indices within a surface are
 * uint32_t: the plugin refuses planes of 2^30 floats or more. */
#ifndef PHASE_CORRELATION_DEVICE_H
#define PHASE_CORRELATION_DEVICE_H

/* Threads per block of the 1-D kernels (a power of 2: block reductions). */
#define PHASE_CORR_BLOCK 256
/* Threads per block of the sub-pixel row sums. */
#define PHASE_CORR_ROW_BLOCK 128
/* Points per axis of a sub-pixel refinement grid (odd: one at the
 * centre). A constant, so that the per-thread sums stay in registers. */
#define PHASE_CORR_GRID 31
/* Elements per reduction chunk (one GPU block each). */
#define PHASE_CORR_CHUNK 16384

/* What every step needs to know about the images and planes (passed by
 * value to the kernels: the same layout on both sides, 4-byte members). */
typedef struct phase_corr_geom {
    uint32_t width, height, channels; /* the images (pixels) */
    uint32_t dtype;                   /* 0 uint8, 1 uint16, 2 float32 */
    uint32_t period;                  /* CFA period p (1: no mosaic) */
    uint32_t planes;                  /* planes per image */
    uint32_t grey;                    /* 1: one plane, the mean of 3 channels */
    uint32_t pw, ph;                  /* plane size */
    uint32_t cw, rstride;             /* complex width pw / 2 + 1; real row stride 2 cw (floats) */
    uint32_t window;                  /* 1: Hann window (and the 3 x 3 lowest frequencies dropped) */
    uint32_t chunks;                  /* reduction chunks per surface: ceil(ph pw / PHASE_CORR_CHUNK) */
    uint32_t kmax_y, kmax_x;          /* highest |frequency| kept per axis (the band: at most (n - 1) / 2) */
    float kept;                       /* frequencies kept, of the full spectrum: the peak's normaliser */
    float epsilon;                    /* relative regularisation of the cross-power normalisation */
} phase_corr_geom;

/* Per surface: the result of the peak search and of the sub-pixel
 * refinement (plane pixels, signed: the sign convention of dvren.h's
 * >>register), and the search's state. */
typedef struct phase_corr_peak {
    float dy, dx;   /* the shift */
    float peak;     /* correlation at the shift */
    float noise;    /* RMS of the correlation surface without the peak sample */
    float cy, cx;   /* centre of the next refinement grid (plane pixels) */
    int32_t iy, ix; /* the integer peak, signed */
} phase_corr_peak;

/* Periodic Hann window value at n of N: 0.5 - 0.5 cos(2 pi n / N) (its
 * DFT is nonzero only at the frequencies -1, 0, 1, which the cross-power
 * step drops: a constant offset of the image then leaves no trace). */
DVREN_FN float phase_corr_hann(uint32_t n, uint32_t N)
{
    return (float)(0.5 - 0.5 * cos(6.283185307179586 * (double)n / (double)N));
}

/* Plane k's value at plane pixel (y, x): a mosaic's site
 * (y p + k / p, x p + k % p); a channel (k) of an interleaved image; or the
 * mean of its 3 channels (grey). */
DVREN_FN float phase_corr_pixel(const void* img, const phase_corr_geom* g, uint32_t k, uint32_t y, uint32_t x)
{
    uint64_t at;
    uint32_t c, n = g->grey ? 3u : 1u;
    float v = 0.0f;
    if (g->period > 1)
        at = (uint64_t)(y * g->period + k / g->period) * g->width + (uint64_t)(x * g->period + k % g->period);
    else
        at = ((uint64_t)y * g->width + x) * g->channels + (g->grey ? 0u : k);
    for (c = 0; c < n; ++c) {
        if (g->dtype == 0) v += (float)((const uint8_t*)img)[at + c];
        else if (g->dtype == 1) v += (float)((const uint16_t*)img)[at + c];
        else v += ((const float*)img)[at + c];
    }
    return g->grey ? v * (1.0f / 3.0f) : v;
}

/* Step 1, per plane pixel e = y pw + x of plane k: the windowed value,
 * written into the surface (real layout); returns it (for the sums). */
DVREN_FN float phase_corr_extract(const void* img, const phase_corr_geom* g, const float* wy, const float* wx,
                                  uint32_t k, uint32_t e, float* surface)
{
    uint32_t y = e / g->pw, x = e % g->pw;
    float v = phase_corr_pixel(img, g, k, y, x);
    if (g->window) v *= wy[y] * wx[x];
    surface[(uint64_t)y * g->rstride + x] = v;
    return v;
}

/* The spectrum's RMS amplitude without the zero frequency, from a plane's
 * sum and sum of squares (Parseval: sum |F|^2 = N sum v^2, F(0) = sum v). */
DVREN_FN double phase_corr_amplitude(double sum, double sumsq, uint32_t n)
{
    double e = ((double)n * sumsq - sum * sum) / (double)(n > 1 ? n - 1 : 1);
    return e > 0.0 ? sqrt(e) : 0.0;
}

/* An index (a peak's row or column, a frequency) to a signed value, with
 * scikit-image's wrap-around: indices above n / 2 are negative. */
DVREN_FN int32_t phase_corr_signed(uint32_t i, uint32_t n) { return i > n / 2u ? (int32_t)i - (int32_t)n : (int32_t)i; }

/* Step 3, per frequency j = row cw + col of a surface: the normalised
 * cross-power R conj(M) / (|R conj(M)| + eps) / kept, where eps =
 * epsilon x (RMS amplitude of R) x (RMS amplitude of M) (so epsilon is
 * relative and the result does not depend on the images' scale);
 * frequencies whose product is far below the typical one (smooth images'
 * high frequencies, which hold only noise) get weights below 1 instead of
 * a unit phasor of random phase. The zero frequency is dropped, and with
 * the window the 3 x 3 lowest (where the window's own spectrum lies), and
 * the frequencies outside the band (|fy| > kmax_y or fx > kmax_x).
 * Writes (re, im) to out[0], out[1]. */
DVREN_FN void phase_corr_cross(const float* ref, const float* mov, const phase_corr_geom* g, float eps, uint32_t j,
                               float* out)
{
    uint32_t row = j / g->cw, col = j % g->cw;
    float rr = ref[2u * j], ri = ref[2u * j + 1u], mr = mov[2u * j], mi = mov[2u * j + 1u];
    float xr = rr * mr + ri * mi, xi = ri * mr - rr * mi;
    float scale = 1.0f / ((sqrtf(xr * xr + xi * xi) + eps) * g->kept);
    int32_t fy = phase_corr_signed(row, g->ph);
    int low = g->window ? (col <= 1u && (row <= 1u || row + 1u == g->ph)) : (row == 0u && col == 0u);
    if (low || !(scale < 3.0e38f) || col > g->kmax_x || (uint32_t)(fy < 0 ? -fy : fy) > g->kmax_y) scale = 0.0f;
    out[0] = xr * scale;
    out[1] = xi * scale;
}


/* The correlation at plane pixel (y, x) of a surface, indices wrapped. */
DVREN_FN float phase_corr_at(const float* surface, const phase_corr_geom* g, int32_t y, int32_t x)
{
    int32_t h = (int32_t)g->ph, w = (int32_t)g->pw;
    y %= h;
    x %= w;
    if (y < 0) y += h;
    if (x < 0) x += w;
    return surface[(uint64_t)y * g->rstride + (uint32_t)x];
}

/* The vertex of the parabola through (-1, a), (0, b), (1, c), clamped to
 * [-0.5, 0.5]; 0 where the three points do not bend down. */
DVREN_FN float phase_corr_parabola(float a, float b, float c)
{
    float d = a - 2.0f * b + c, o;
    if (!(d < 0.0f)) return 0.0f;
    o = 0.5f * (a - c) / d;
    return o < -0.5f ? -0.5f : (o > 0.5f ? 0.5f : o);
}

/* Step 5, per surface, after the maximum (value best at index e = y pw + x,
 * sum of squares sumsq over the surface): the integer shift, the noise
 * level, and (method 1) the parabolic refinement on each axis; the centre
 * of the first upsampling grid is the integer shift. */
DVREN_FN void phase_corr_peak_finish(const float* surface, const phase_corr_geom* g, float best, uint32_t e,
                                     double sumsq, uint32_t method, phase_corr_peak* out)
{
    uint32_t y = e / g->pw, x = e % g->pw;
    double n = (double)g->pw * (double)g->ph, rest = sumsq - (double)best * (double)best;
    out->iy = phase_corr_signed(y, g->ph);
    out->ix = phase_corr_signed(x, g->pw);
    out->peak = best;
    out->noise = (float)(rest > 0.0 && n > 1.0 ? sqrt(rest / (n - 1.0)) : 0.0);
    out->dy = (float)out->iy;
    out->dx = (float)out->ix;
    if (method == 1u) {
        out->dy += phase_corr_parabola(phase_corr_at(surface, g, (int32_t)y - 1, (int32_t)x), best,
                                       phase_corr_at(surface, g, (int32_t)y + 1, (int32_t)x));
        out->dx += phase_corr_parabola(phase_corr_at(surface, g, (int32_t)y, (int32_t)x - 1), best,
                                       phase_corr_at(surface, g, (int32_t)y, (int32_t)x + 1));
    }
    out->cy = (float)out->iy;
    out->cx = (float)out->ix;
}

/* exp(2 pi i f) for a phase f in turns, reduced to [0, 1) in double first
 * (f may be thousands of turns; float sin/cos of such arguments lose the
 * fraction). */
DVREN_FN void phase_corr_phasor(double f, float* c, float* s)
{
    float a = 6.28318530717958647692f * (float)(f - floor(f));
    *c = cosf(a);
    *s = sinf(a);
}

/* Step 6a, the upsampled DFT of Guizar-Sicairos et al. (2008) evaluated on
 * a grid, first axis: for frequency row `row` of a surface, the partial sums
 *   acc[j] += sum over col = c0, c0 + dc, ... < cw of
 *             w(col) C(row, col) exp(2 pi i col tx_j / pw),
 *   tx_j = cx + (j - (G - 1) / 2) h,  j = 0..G-1, G = PHASE_CORR_GRID,
 * with C the normalised cross-power (recomputed from the two spectra: the
 * inverse FFT overwrote it) and w = 2 for the columns that stand for a
 * pair of frequencies +-col of the full spectrum, 1 for column 0 (the
 * Nyquist column is never in the band). acc holds G complex values (re,
 * im). The phasors advance by a rotation per grid step, and from column
 * to column (recomputed exactly every 16 columns). */
DVREN_FN void phase_corr_dft_row(const float* ref, const float* mov, const phase_corr_geom* g, float eps, uint32_t row,
                                 uint32_t c0, uint32_t dc, float cx, float h, float* acc)
{
    uint32_t col, j, it;
    double x0 = (double)cx - 0.5 * (double)(PHASE_CORR_GRID - 1) * (double)h;
    int32_t fy = phase_corr_signed(row, g->ph);
    float br = 1.0f, bi = 0.0f, tr = 1.0f, ti = 0.0f, dbr, dbi, dtr, dti;
    if ((uint32_t)(fy < 0 ? -fy : fy) > g->kmax_y) return; /* outside the band: all zero */
    /* the phasors of the next column (col + dc): this column's times these */
    phase_corr_phasor((double)dc * x0 / (double)g->pw, &dbr, &dbi);
    phase_corr_phasor((double)dc * (double)h / (double)g->pw, &dtr, &dti);
    for (col = c0, it = 0; col < g->cw && col <= g->kmax_x; col += dc, ++it) {
        float C[2], pr, pi, sr, si, w = 2.0f;
        if ((it & 15u) == 0u) { /* exact every 16 columns, so that rounding does not build up */
            phase_corr_phasor((double)col * x0 / (double)g->pw, &br, &bi);
            phase_corr_phasor((double)col * (double)h / (double)g->pw, &tr, &ti);
        } else {
            float u = br * dbr - bi * dbi;
            bi = br * dbi + bi * dbr;
            br = u;
            u = tr * dtr - ti * dti;
            ti = tr * dti + ti * dtr;
            tr = u;
        }
        phase_corr_cross(ref, mov, g, eps, row * g->cw + col, C);
        if (C[0] == 0.0f && C[1] == 0.0f) continue;
        if (col == 0u) w = 1.0f;
        pr = br;
        pi = bi;
        sr = tr;
        si = ti;
        for (j = 0; j < PHASE_CORR_GRID; ++j) {
            float t;
            acc[2u * j] += w * (C[0] * pr - C[1] * pi);
            acc[2u * j + 1u] += w * (C[0] * pi + C[1] * pr);
            t = pr * sr - pi * si;
            pi = pr * si + pi * sr;
            pr = t;
        }
    }
}

/* Step 6b, second axis: the real correlation at grid point (jy, jx),
 * ty = cy + (jy - (G - 1) / 2) h (G = PHASE_CORR_GRID), from the rows' sums T (ph rows of
 * PHASE_CORR_GRID complex values):
 *   Re sum over rows of T(row, jx) exp(2 pi i fy ty / ph),
 * fy the row's signed frequency (rows outside the band are zero). */
DVREN_FN float phase_corr_dft_point(const float* T, const phase_corr_geom* g, float cy, float h, uint32_t jy,
                                    uint32_t jx)
{
    double ty = (double)cy + ((double)jy - 0.5 * (double)(PHASE_CORR_GRID - 1)) * (double)h;
    float sum = 0.0f;
    uint32_t row;
    for (row = 0; row < g->ph; ++row) {
        const float* t = T + 2u * ((uint64_t)row * PHASE_CORR_GRID + jx);
        float c, s;
        if (t[0] == 0.0f && t[1] == 0.0f) continue;
        phase_corr_phasor((double)phase_corr_signed(row, g->ph) * ty / (double)g->ph, &c, &s);
        sum += t[0] * c - t[1] * s;
    }
    return sum;
}

/* Step 6c, per surface: the refinement grid's maximum (values: G x G,
 * row-major, G = PHASE_CORR_GRID; ties: the first point) becomes the
 * shift, the peak and the next grid's centre. */
DVREN_FN void phase_corr_grid_pick(const float* values, float h, phase_corr_peak* p)
{
    const uint32_t G = PHASE_CORR_GRID;
    float v = values[0];
    uint32_t i = 0, m;
    for (m = 1; m < G * G; ++m)
        if (values[m] > v) {
            v = values[m];
            i = m;
        }
    p->cy += ((float)(i / G) - 0.5f * (float)(G - 1u)) * h;
    p->cx += ((float)(i % G) - 0.5f * (float)(G - 1u)) * h;
    p->dy = p->cy;
    p->dx = p->cx;
    p->peak = v;
}

/* ---- GPU kernels (the host launches them on the context's stream, in
 * this order, with cuFFT's transforms between steps 1 and 3 and 3 and 4). */
#if DVREN_ON_GPU

/* Step 1 for one image: grid (chunks, planes), PHASE_CORR_BLOCK threads;
 * each block writes the windowed values of its chunk and its partial sums
 * (sum, sum of squares) to part[(plane) chunks + chunk]. */
DVREN_KERNEL void phase_corr_k_extract(const void* img, phase_corr_geom g, const float* wy, const float* wx,
                                       float* surfaces, double* part)
{
    __shared__ double s1[PHASE_CORR_BLOCK], s2[PHASE_CORR_BLOCK];
    uint32_t k = blockIdx.y, chunk = blockIdx.x, t = threadIdx.x, n = g.pw * g.ph, e, m;
    uint32_t end = (chunk + 1u) * PHASE_CORR_CHUNK < n ? (chunk + 1u) * PHASE_CORR_CHUNK : n;
    float* surface = surfaces + (uint64_t)k * g.ph * g.rstride;
    double a = 0.0, b = 0.0;
    for (e = chunk * PHASE_CORR_CHUNK + t; e < end; e += PHASE_CORR_BLOCK) {
        float v = phase_corr_extract(img, &g, wy, wx, k, e, surface);
        a += (double)v;
        b += (double)v * (double)v;
    }
    s1[t] = a;
    s2[t] = b;
    __syncthreads();
    for (m = PHASE_CORR_BLOCK / 2; m > 0; m >>= 1) {
        if (t < m) {
            s1[t] += s1[t + m];
            s2[t] += s2[t + m];
        }
        __syncthreads();
    }
    if (t == 0) {
        part[2u * ((uint64_t)k * g.chunks + chunk)] = s1[0];
        part[2u * ((uint64_t)k * g.chunks + chunk) + 1u] = s2[0];
    }
}

/* Step 2: one thread per surface (n surfaces) adds its chunks' partial
 * sums in order and writes the RMS spectral amplitude. */
DVREN_KERNEL void phase_corr_k_amplitude(const double* part, phase_corr_geom g, uint32_t n, float* amp)
{
    uint32_t s = blockIdx.x * blockDim.x + threadIdx.x, c;
    double a = 0.0, b = 0.0;
    if (s >= n) return;
    for (c = 0; c < g.chunks; ++c) {
        a += part[2u * ((uint64_t)s * g.chunks + c)];
        b += part[2u * ((uint64_t)s * g.chunks + c) + 1u];
    }
    amp[s] = (float)phase_corr_amplitude(a, b, g.pw * g.ph);
}

/* Step 3 for a batch: grid (ceil(ph cw / BLOCK), surfaces); the moving
 * surface s compares with reference plane s % planes. */
DVREN_KERNEL void phase_corr_k_cross(const float* ref, const float* mov, phase_corr_geom g, const float* amp_ref,
                                     const float* amp_mov, float* cross)
{
    uint32_t s = blockIdx.y, k = s % g.planes, j = blockIdx.x * blockDim.x + threadIdx.x;
    uint64_t off = (uint64_t)g.ph * g.rstride;
    if (j >= g.ph * g.cw) return;
    phase_corr_cross(ref + k * off, mov + s * off, &g, g.epsilon * amp_ref[k] * amp_mov[s], j,
                     cross + s * off + 2u * (uint64_t)j);
}

/* Step 4: grid (chunks, surfaces): the maximum of each chunk (ties: the
 * first index) and its sum of squares, to best/index/sumsq[s chunks + c]. */
DVREN_KERNEL void phase_corr_k_max(const float* corr, phase_corr_geom g, float* best, uint32_t* index, double* sumsq)
{
    __shared__ float bv[PHASE_CORR_BLOCK];
    __shared__ uint32_t bi[PHASE_CORR_BLOCK];
    __shared__ double bs[PHASE_CORR_BLOCK];
    uint32_t s = blockIdx.y, chunk = blockIdx.x, t = threadIdx.x, n = g.pw * g.ph, e, m;
    uint32_t end = (chunk + 1u) * PHASE_CORR_CHUNK < n ? (chunk + 1u) * PHASE_CORR_CHUNK : n;
    const float* surface = corr + (uint64_t)s * g.ph * g.rstride;
    float v0 = -3.0e38f;
    uint32_t i0 = 0xFFFFFFFFu;
    double q = 0.0;
    for (e = chunk * PHASE_CORR_CHUNK + t; e < end; e += PHASE_CORR_BLOCK) {
        float v = surface[(uint64_t)(e / g.pw) * g.rstride + e % g.pw];
        q += (double)v * (double)v;
        if (v > v0) { /* e grows per thread: the first of equals stays */
            v0 = v;
            i0 = e;
        }
    }
    bv[t] = v0;
    bi[t] = i0;
    bs[t] = q;
    __syncthreads();
    for (m = PHASE_CORR_BLOCK / 2; m > 0; m >>= 1) {
        if (t < m) {
            if (bv[t + m] > bv[t] || (bv[t + m] == bv[t] && bi[t + m] < bi[t])) {
                bv[t] = bv[t + m];
                bi[t] = bi[t + m];
            }
            bs[t] += bs[t + m];
        }
        __syncthreads();
    }
    if (t == 0) {
        best[(uint64_t)s * g.chunks + chunk] = bv[0];
        index[(uint64_t)s * g.chunks + chunk] = bi[0];
        sumsq[(uint64_t)s * g.chunks + chunk] = bs[0];
    }
}

/* Step 5: one thread per surface (n of them): the chunks' maximum (ties:
 * the first index) and the peak's finish. */
DVREN_KERNEL void phase_corr_k_peak(const float* corr, phase_corr_geom g, uint32_t n, const float* best,
                                    const uint32_t* index, const double* sumsq, uint32_t method, phase_corr_peak* out)
{
    uint32_t s = blockIdx.x * blockDim.x + threadIdx.x, c, bi;
    float bv;
    double q = 0.0;
    if (s >= n) return;
    bv = best[(uint64_t)s * g.chunks];
    bi = index[(uint64_t)s * g.chunks];
    for (c = 0; c < g.chunks; ++c) {
        float v = best[(uint64_t)s * g.chunks + c];
        uint32_t i = index[(uint64_t)s * g.chunks + c];
        if (v > bv || (v == bv && i < bi)) {
            bv = v;
            bi = i;
        }
        q += sumsq[(uint64_t)s * g.chunks + c];
    }
    phase_corr_peak_finish(corr + (uint64_t)s * g.ph * g.rstride, &g, bv, bi, q, method, &out[s]);
}

/* Step 6a: grid (ph, surfaces), PHASE_CORR_ROW_BLOCK threads: row sums of
 * the refinement grid around each surface's centre, to T (per surface ph
 * rows of PHASE_CORR_GRID complex). */
DVREN_KERNEL void phase_corr_k_dft_rows(const float* ref, const float* mov, phase_corr_geom g, const float* amp_ref,
                                        const float* amp_mov, const phase_corr_peak* peaks, float h, float* T)
{
    __shared__ float red[PHASE_CORR_ROW_BLOCK / 32][2 * PHASE_CORR_GRID];
    uint32_t s = blockIdx.y, k = s % g.planes, row = blockIdx.x, t = threadIdx.x, j;
    uint64_t off = (uint64_t)g.ph * g.rstride;
    float acc[2 * PHASE_CORR_GRID];
    for (j = 0; j < 2u * PHASE_CORR_GRID; ++j) acc[j] = 0.0f;
    phase_corr_dft_row(ref + k * off, mov + s * off, &g, g.epsilon * amp_ref[k] * amp_mov[s], row, t,
                       PHASE_CORR_ROW_BLOCK, peaks[s].cx, h, acc);
    for (j = 0; j < 2u * PHASE_CORR_GRID; ++j) {
        float v = acc[j];
        v += __shfl_down_sync(0xFFFFFFFFu, v, 16);
        v += __shfl_down_sync(0xFFFFFFFFu, v, 8);
        v += __shfl_down_sync(0xFFFFFFFFu, v, 4);
        v += __shfl_down_sync(0xFFFFFFFFu, v, 2);
        v += __shfl_down_sync(0xFFFFFFFFu, v, 1);
        if ((t & 31u) == 0u) red[t >> 5][j] = v;
    }
    __syncthreads();
    if (t < 2u * PHASE_CORR_GRID) {
        float v = 0.0f;
        for (j = 0; j < PHASE_CORR_ROW_BLOCK / 32; ++j) v += red[j][t];
        T[((uint64_t)s * g.ph + row) * 2u * PHASE_CORR_GRID + t] = v;
    }
}

/* Step 6b: one block of G x G threads (G = PHASE_CORR_GRID) per surface:
 * the grid's values, then its maximum (step 6c). */
DVREN_KERNEL void phase_corr_k_dft_grid(const float* T, phase_corr_geom g, float h, phase_corr_peak* peaks)
{
    __shared__ float values[PHASE_CORR_GRID * PHASE_CORR_GRID];
    const uint32_t G = PHASE_CORR_GRID;
    uint32_t s = blockIdx.x, t = threadIdx.x;
    if (t < G * G)
        values[t] = phase_corr_dft_point(T + (uint64_t)s * g.ph * 2u * PHASE_CORR_GRID, &g, peaks[s].cy, h, t / G, t % G);
    __syncthreads();
    if (t == 0) phase_corr_grid_pick(values, h, &peaks[s]);
}
#endif /* DVREN_ON_GPU */

#endif /* PHASE_CORRELATION_DEVICE_H */
