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
