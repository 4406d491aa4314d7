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
