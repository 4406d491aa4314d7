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
/* Size of a sampler's per-ray state, in 32-bit words (ABI constant). */
#define DVREN_SAMPLER_STATE_WORDS 12

/* ---- scalar math ------------------------------------------------------- */
DVREN_FN float dvren_minf(float a, float b) { return a < b ? a : b; }
DVREN_FN float dvren_maxf(float a, float b) { return a > b ? a : b; }
DVREN_FN float dvren_clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
DVREN_FN float dvren_absf(float x) { return x < 0.0f ? -x : x; }
DVREN_FN float dvren_lerpf(float a, float b, float t) { return a + (b - a) * t; }
DVREN_FN int dvren_clampi(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }
/* e^x as 2^(x log2 e): the same formula on both paths, so the CPU and the GPU
 * agree; on the GPU it is one MUFU.EX2 (relative error about 2^-22) instead of
 * expf's ten instructions. For the compositing weights exp(-sigma dt). */
DVREN_FN float dvren_exp(float x) { return exp2f(x * 1.44269504088896341f); }
/* exp of a value clamped to [-87, 88] so it never overflows to inf or NaN. */
DVREN_FN float dvren_safe_expf(float x) { return expf(dvren_clampf(x, -87.0f, 88.0f)); }
/* softplus(x) = log(1 + e^x), stable for large |x|. */
DVREN_FN float dvren_softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
DVREN_FN float dvren_sigmoidf(float x) { return 1.0f / (1.0f + dvren_safe_expf(-x)); }

/* ---- 3-vectors -------------------------------------------------------------- */
typedef struct dvren_float3 { float x, y, z; } dvren_float3;

DVREN_FN dvren_float3 dvren_f3(float x, float y, float z) { dvren_float3 r; r.x = x; r.y = y; r.z = z; return r; }
DVREN_FN dvren_float3 dvren_f3v(const float* v) { return dvren_f3(v[0], v[1], v[2]); }
DVREN_FN dvren_float3 dvren_add3(dvren_float3 a, dvren_float3 b) { return dvren_f3(a.x + b.x, a.y + b.y, a.z + b.z); }
DVREN_FN dvren_float3 dvren_sub3(dvren_float3 a, dvren_float3 b) { return dvren_f3(a.x - b.x, a.y - b.y, a.z - b.z); }
DVREN_FN dvren_float3 dvren_mul3(dvren_float3 a, dvren_float3 b) { return dvren_f3(a.x * b.x, a.y * b.y, a.z * b.z); }
DVREN_FN dvren_float3 dvren_scale3(dvren_float3 a, float s) { return dvren_f3(a.x * s, a.y * s, a.z * s); }
/* a + b*s */
DVREN_FN dvren_float3 dvren_madd3(dvren_float3 a, dvren_float3 b, float s) { return dvren_f3(a.x + b.x * s, a.y + b.y * s, a.z + b.z * s); }
DVREN_FN float dvren_dot3(dvren_float3 a, dvren_float3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
DVREN_FN dvren_float3 dvren_cross3(dvren_float3 a, dvren_float3 b)
{
    return dvren_f3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
DVREN_FN float dvren_length3(dvren_float3 a) { return sqrtf(dvren_dot3(a, a)); }
/* a / |a|; the zero vector stays zero. */
DVREN_FN dvren_float3 dvren_normalize3(dvren_float3 a)
{
    float l = dvren_length3(a);
    return l > 0.0f ? dvren_scale3(a, 1.0f / l) : a;
}

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
} dvren_camera;

DVREN_FN dvren_float3 dvren__mat4_unproject(const float* m, float x, float y, float z)
{
    /* column-major: element (row r, column c) is m[c*4 + r] */
    float w = m[3] * x + m[7] * y + m[11] * z + m[15];
    float iw = (w != 0.0f) ? 1.0f / w : 0.0f;
    return dvren_f3((m[0] * x + m[4] * y + m[8] * z + m[12]) * iw,
                    (m[1] * x + m[5] * y + m[9] * z + m[13]) * iw,
                    (m[2] * x + m[6] * y + m[10] * z + m[14]) * iw);
}

/* Ray through image position (px, py) in pixels (top-left origin, y down) of a
 * width x height image. Returns the origin and the unit direction. PINHOLE and
 * perspective MATRIX rays start at the eye; ORTHOGRAPHIC rays start on the
 * plane through the eye; orthographic MATRIX rays start on the near plane.
 * Ray distances (and the depth output) are measured from that origin. */
DVREN_FN void dvren_camera_ray(const dvren_camera* c, float px, float py, float width, float height,
                               dvren_float3* origin, dvren_float3* dir)
{
    float nx = 2.0f * px / width - 1.0f;  /* NDC x in [-1, 1], +1 at the right */
    float ny = 1.0f - 2.0f * py / height; /* NDC y in [-1, 1], +1 at the top */
    dvren_float3 e = dvren_f3v(c->eye), f = dvren_f3v(c->forward);
    dvren_float3 r = dvren_f3v(c->right), u = dvren_f3v(c->up);
    if (c->model == DVREN_CAMERA_ORTHOGRAPHIC) {
        float hh = 0.5f * c->ortho_height, hw = hh * width / height;
        *origin = dvren_madd3(dvren_madd3(e, r, nx * hw), u, ny * hh);
        *dir = f;
    } else if (c->model == DVREN_CAMERA_MATRIX) {
        dvren_float3 pn = dvren__mat4_unproject(c->inv_view_proj, nx, ny, -1.0f);
        dvren_float3 pf = dvren__mat4_unproject(c->inv_view_proj, nx, ny, 1.0f);
        *origin = c->perspective ? e : pn;
        *dir = dvren_normalize3(dvren_sub3(pf, pn));
    } else {
        float th = c->tan_half_fov_y, tw = th * width / height;
        *origin = e;
        *dir = dvren_normalize3(dvren_madd3(dvren_madd3(f, r, nx * tw), u, ny * th));
    }
}

/* Slab test of a ray against the box [bmin, bmax]. On a hit returns 1 with the
 * entry distance *t0 (clamped to >= 0: rays may start inside) and the exit
 * distance *t1 > *t0. Axis-parallel rays are handled without 0*inf. */
DVREN_FN int dvren_ray_box(dvren_float3 o, dvren_float3 d, const float* bmin, const float* bmax, float* t0, float* t1)
{
    float lo = 0.0f, hi = 3.0e38f;
    float oo[3], dd[3];
    int a;
    oo[0] = o.x; oo[1] = o.y; oo[2] = o.z;
    dd[0] = d.x; dd[1] = d.y; dd[2] = d.z;
    for (a = 0; a < 3; ++a) {
        if (dd[a] == 0.0f) {
            if (oo[a] < bmin[a] || oo[a] > bmax[a]) return 0;
        } else {
            float inv = 1.0f / dd[a];
            float ta = (bmin[a] - oo[a]) * inv, tb = (bmax[a] - oo[a]) * inv;
            lo = dvren_maxf(lo, dvren_minf(ta, tb));
            hi = dvren_minf(hi, dvren_maxf(ta, tb));
        }
    }
    *t0 = lo;
    *t1 = hi;
    return hi > lo;
}

/* ---- what the stages see -------------------------------------------------------- */

/* The march budget a sampler receives: the plan's request and the field's
 * resolution. A zero means "not requested": the sampler uses its own
 * parameters, and failing those half a voxel (the Nyquist step). */
typedef struct dvren_march_budget {
    float step_world;         /* plan: step length in world units, or 0 */
    uint32_t samples_per_ray; /* plan: samples per ray, or 0 */
    float voxel_world;        /* field: smallest voxel edge in world units (> 0) */
    uint32_t pad;
} dvren_march_budget;

/* Per-ray sampler state; its meaning belongs to the sampler. */
typedef struct dvren_sampler_state {
    float f[DVREN_SAMPLER_STATE_WORDS / 2];
    uint32_t u[DVREN_SAMPLER_STATE_WORDS / 2];
} dvren_sampler_state;

/* ---- framebuffer ------------------------------------------------------------------ */
/* Output selection bits (dvren_plan_desc.outputs). */
#define DVREN_OUTPUT_RGB 0x01u           /* float32 (H, W, 3): composited radiance + T * background */
#define DVREN_OUTPUT_ALPHA 0x02u         /* float32 (H, W): opacity 1 - T */
#define DVREN_OUTPUT_DEPTH 0x04u         /* float32 (H, W): sum(w_i t_i) / sum(w_i), 0 where alpha = 0 */
#define DVREN_OUTPUT_TRANSMITTANCE 0x08u /* float32 (H, W): T, the light that passed through */
#define DVREN_OUTPUT_HIT 0x10u           /* uint8 (H, W): 1 where a ray entered the field's box */
#define DVREN_OUTPUT_SAMPLES 0x20u       /* uint32 (H, W): samples taken, summed over spp */
#define DVREN_OUTPUT_ALL 0x3Fu

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
} dvren_fb_view;

#endif /* DVREN_DEVICE_H */
