/* plugins/dda/dda_device.h - per-sample code of the "dda" sampler.
 * Single source: compiled as C into dda.so and by NVRTC into the fused
 * kernel (kernels/dvren_device.h comes first; nothing is included here).
 *
 * Exact traversal of the field's lattice (Amanatides and Woo, "A fast
 * voxel traversal algorithm for ray tracing", Eurographics 1987): the
 * cells a ray crosses are visited in order, each once, however thin the
 * ray's piece of it; no step size. Every cell is a surface candidate
 * (plugin ABI 1.3, dvren_sampler_iface.surface): its sample sits where the
 * ray enters the cell, with the entered face's normal, the cell's linear
 * index as id and the cell's centre as the point where the field is
 * evaluated; the march ends the ray at the first cell whose density is
 * > 0 (docs/blocks.md, "Traversal").
 *
 * The lattice is the field's box split into cells of voxel_size (the
 * budget's ABI 1.3 members): cells n_a = round((bounds_max - bounds_min) /
 * voxel_size) per axis.
 *
 * State: f[0..2] tMax (distance to the next boundary per axis), f[3..5]
 * tDelta (distance between boundaries per axis), f[6] t0 (box entry),
 * f[7] t1 (box exit); u[0..2] the cell, u[3] flags (bits 0-2: the step per
 * axis is -1; bits 4-5: the axis the ray last crossed, 3 for none; bit 8:
 * started), u[4] the steps left (a guard against NaN directions), u[5..7]
 * the cell counts X, Y, Z (for the id). */
#ifndef DDA_DEVICE_H
#define DDA_DEVICE_H

typedef struct dda_block {
    uint32_t unused; /* the sampler has no parameters: the field's lattice comes with the budget */
} dda_block;

#define DDA_NO_AXIS 3u
#define DDA_STARTED 0x100u
#define DDA_FAR 1.0e30f

#endif /* DDA_DEVICE_H */

/* cells on axis a of the budget's lattice (at least 1) */
DVREN_FN uint32_t DVREN_PNAME(dda_cells)(const dvren_march_budget* B, int a)
{
    dvren_real n = ((dvren_real)B->bounds_max[a] - (dvren_real)B->bounds_min[a]) / (dvren_real)B->voxel_size[a];
    n = dvren_floor(n + (dvren_real)0.5);
    return n < (dvren_real)1 ? 1u : (uint32_t)n;
}

DVREN_FN void DVREN_PNAME(dda_begin)(const void* P_, const dvren_march_budget* B, dvren_vec3 o, dvren_vec3 d,
                                     dvren_real t0, dvren_real t1, dvren_rng* rng, dvren_sampler_state* s)
{
    dvren_real ov[3], dv[3], te_max = (dvren_real)0;
    uint32_t flags = DDA_NO_AXIS << 4, a, entry = DDA_NO_AXIS;
    (void)P_;
    (void)rng;
    ov[0] = o.x;
    ov[1] = o.y;
    ov[2] = o.z;
    dv[0] = d.x;
    dv[1] = d.y;
    dv[2] = d.z;
    /* the axis whose slab the ray entered last is the face it came in through */
    for (a = 0; a < 3; ++a) {
        if (dv[a] != (dvren_real)0) {
            dvren_real wall = dv[a] > (dvren_real)0 ? (dvren_real)B->bounds_min[a] : (dvren_real)B->bounds_max[a];
            dvren_real te = (wall - ov[a]) / dv[a];
            if (te > te_max) {
                te_max = te;
                entry = a;
            }
        }
    }
    for (a = 0; a < 3; ++a) {
        dvren_real vs = (dvren_real)B->voxel_size[a], lo = (dvren_real)B->bounds_min[a];
        uint32_t n = DVREN_PNAME(dda_cells)(B, (int)a);
        s->u[5 + a] = n; /* the cell counts, for the id */
        dvren_real pa = ov[a] + dv[a] * t0;
        dvren_real cf = dvren_floor((pa - lo) / vs);
        int32_t c = cf < (dvren_real)0 ? 0 : (cf > (dvren_real)(n - 1) ? (int32_t)(n - 1) : (int32_t)cf);
        if (a == entry) c = dv[a] > (dvren_real)0 ? 0 : (int32_t)(n - 1); /* on the wall: the first cell inside */
        s->u[a] = (uint32_t)c;
        if (dv[a] > (dvren_real)0) {
            s->f[a] = (lo + (dvren_real)(c + 1) * vs - ov[a]) / dv[a];
            s->f[3 + a] = vs / dv[a];
        } else if (dv[a] < (dvren_real)0) {
            flags |= 1u << a;
            s->f[a] = (lo + (dvren_real)c * vs - ov[a]) / dv[a];
            s->f[3 + a] = -vs / dv[a];
        } else {
            s->f[a] = (dvren_real)DDA_FAR;
            s->f[3 + a] = (dvren_real)DDA_FAR;
        }
    }
    flags = (flags & ~(3u << 4)) | (entry << 4);
    s->f[6] = t0;
    s->f[7] = t1;
    s->u[3] = flags;
    s->u[4] = s->u[5] + s->u[6] + s->u[7] + 3u;
}

DVREN_FN int DVREN_PNAME(dda_next)(const void* P_, dvren_sampler_state* s, dvren_real* t, dvren_real* dt)
{
    uint32_t flags = s->u[3];
    dvren_real tn, tx;
    (void)P_;
    if (!(flags & DDA_STARTED)) {
        tn = s->f[6];
        flags |= DDA_STARTED;
    } else {
        /* the nearest boundary: ties go to the lowest axis (x, then y, then z). Each axis
         * spelled out: an index computed at run time would put the state in local memory
         * on the GPU */
        uint32_t a = s->f[0] <= s->f[1] ? (s->f[0] <= s->f[2] ? 0u : 2u) : (s->f[1] <= s->f[2] ? 1u : 2u);
        tn = a == 0u ? s->f[0] : (a == 1u ? s->f[1] : s->f[2]);
        if (!(tn < s->f[7]) || s->u[4] == 0u) return 0; /* left the box (or NaN) */
        s->u[4] -= 1u;
#define DDA_STEP(k)                                                                                                    \
    do {                                                                                                               \
        s->u[k] += (flags >> (k)) & 1u ? 0xFFFFFFFFu : 1u;                                                             \
        s->f[k] += s->f[3 + (k)];                                                                                      \
    } while (0)
        if (a == 0u) DDA_STEP(0);
        else if (a == 1u) DDA_STEP(1);
        else DDA_STEP(2);
#undef DDA_STEP
        flags = (flags & ~(3u << 4)) | (a << 4);
    }
    s->u[3] = flags;
    tx = dvren_min(dvren_min(s->f[0], s->f[1]), dvren_min(s->f[2], s->f[7]));
    *t = tn;
    *dt = tx > tn ? tx - tn : (dvren_real)0;
    return 1;
}

DVREN_FN int DVREN_PNAME(dda_surface)(const void* P_, const dvren_march_budget* B, const dvren_sampler_state* s,
                                      dvren_vec3 o, dvren_vec3 d, dvren_surface_hit* hit, dvren_vec3* where)
{
    uint32_t flags = s->u[3], a = (flags >> 4) & 3u, k;
    dvren_real n[3], c[3];
    (void)P_;
    (void)o;
    if (a == DDA_NO_AXIS) { /* the ray starts inside this cell: the axis nearest to it, facing it */
        dvren_real ax = dvren_abs(d.x), ay = dvren_abs(d.y), az = dvren_abs(d.z);
        a = ax >= ay ? (ax >= az ? 0u : 2u) : (ay >= az ? 1u : 2u);
        flags = (flags & ~7u) | ((a == 0 ? d.x < (dvren_real)0 : (a == 1 ? d.y < (dvren_real)0 : d.z < (dvren_real)0))
                                     ? (1u << a)
                                     : 0u);
    }
    for (k = 0; k < 3; ++k) {
        n[k] = k == a ? (((flags >> k) & 1u) ? (dvren_real)1 : (dvren_real)-1) : (dvren_real)0;
        c[k] = (dvren_real)B->bounds_min[k] + ((dvren_real)(int32_t)s->u[k] + (dvren_real)0.5) * (dvren_real)B->voxel_size[k];
    }
    hit->normal = dvren_v3(n[0], n[1], n[2]);
    hit->id = s->u[0] < s->u[5] && s->u[1] < s->u[6] && s->u[2] < s->u[7] ? s->u[0] + s->u[5] * (s->u[1] + s->u[6] * s->u[2])
                                                      : DVREN_NO_SURFACE;
    *where = dvren_v3(c[0], c[1], c[2]);
    return 1;
}
