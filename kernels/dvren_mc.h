/* kernels/dvren_mc.h - marching cubes of dvren (single source).
 *
 * The per-cell and per-edge arithmetic of dvren_marching_cubes (dvren.h,
 * >>meshes), compiled by the host compiler for the CPU (dvren.h, >>cpu) and
 * by NVRTC for the GPU (kernels/dvren_cuda_mc.h), under the rules of
 * kernels/dvren_device.h (no globals, no tables in memory: the cube's
 * corner and edge numbering is computed). The CPU and the GPU run these
 * same functions on the same float32 samples and give the same mesh bit for
 * bit: decisions are comparisons of exact values (the asymptotic decider in
 * float64, where the product of two floats is exact), and the arithmetic of
 * positions and normals goes through DVREN__MC_MUL / DVREN__MC_ADD, which
 * NVRTC may not fuse into FMAs (__fmul_rn, __fadd_rn).
 *
 * The grid: samples g[(z * ny + y) * nx + x], x fastest; sample (x, y, z)
 * sits at origin + spacing * (x, y, z). Cell (x, y, z) is the cube of the
 * samples (x..x+1, y..y+1, z..z+1); its corner i is sample (x + (i & 1),
 * y + ((i >> 1) & 1), z + ((i >> 2) & 1)). Its 12 edges: e = 4 * axis + k,
 * axis 0 (x), 1 (y), 2 (z), k numbering the other two coordinates' bits
 * (lower axis first): x-edges 0:(0,1) 1:(2,3) 2:(4,5) 3:(6,7); y-edges
 * 4:(0,2) 5:(1,3) 6:(4,6) 7:(5,7); z-edges 8:(0,4) 9:(1,5) 10:(2,6)
 * 11:(3,7). A grid edge is owned by its lower sample, which owns up to
 * three (+x, +y, +z): the vertex of a crossed edge is created once, by its
 * owner (docs/meshes.md, "Vertices").
 *
 * The method (docs/meshes.md, "Marching cubes"): f = s (value - level),
 * s = +1 (the inside is above the level) or -1; a corner is inside when
 * f > 0 (NaN is outside). On each of the cube's six faces the crossed edges
 * are joined by contour segments: two crossings give one segment; four (an
 * ambiguous face, the inside corners on one diagonal) give two, joining the
 * inside corners when the face's bilinear interpolant has its saddle inside
 * (asymptotic decider, Nielson and Hamann, "The asymptotic decider", IEEE
 * Visualization 1991: saddle value (a c - b d) / (a + c - b - d), with a, c
 * the inside corners' f, the denominator positive), and separating them
 * otherwise. Two cubes sharing a face see the same four values and draw the
 * same segments, so the surface has no cracks (the holes of Lorensen and
 * Cline's original table). Segments are directed (from the crossing where,
 * going round the face counter-clockwise seen from outside the cube, one
 * leaves the inside, to the next crossing where one enters it); every
 * crossed edge starts one segment and ends one, so the segments form closed
 * loops, each triangulated as a fan (dvren_mc_cell_triangles says from
 * where), oriented so that triangles are counter-clockwise seen from outside
 * the surface. A cell has at most 12 crossed edges and 12 triangles. */
#ifndef DVREN_MC_H
#define DVREN_MC_H

#if defined(__CUDACC_RTC__)
#define DVREN__MC_MUL(a, b) __fmul_rn((a), (b))
#define DVREN__MC_ADD(a, b) __fadd_rn((a), (b))
#else
#define DVREN__MC_MUL(a, b) ((a) * (b))
#define DVREN__MC_ADD(a, b) ((a) + (b))
#endif

/* most triangles one cell can give (12 crossed edges in one loop around a
 * centre vertex) */
#define DVREN_MC_MAX_CELL_TRIANGLES 12
/* vertex indices are kept below 2^29 (the GPU packs three edge bits above) */
#define DVREN_MC_MAX_VERTICES 536870912u

/* The grid and the level, as both devices pass them. */
typedef struct dvren_mc_grid {
    const float* g;
    uint32_t nx, ny, nz;
    float level;
    float sign; /* +1: inside is value > level; -1: inside is value < level */
    float origin[3], spacing[3];
} dvren_mc_grid;

DVREN_FN float dvren_mc_value(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)
{
    return G->g[((uint64_t)z * G->ny + y) * G->nx + x];
}

/* f of a sample: s (value - level); inside when > 0 */
DVREN_FN float dvren_mc_f(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)
{
    return DVREN__MC_MUL(dvren_mc_value(G, x, y, z) - G->level, G->sign);
}

/* corners (a, b) of cell edge e */
DVREN_FN uint32_t dvren_mc_edge_corner(uint32_t e, uint32_t end)
{
    uint32_t axis = e >> 2, k = e & 3u, a;
    if (axis == 0) a = ((k & 1u) << 1) | ((k >> 1) << 2);
    else if (axis == 1) a = (k & 1u) | ((k >> 1) << 2);
    else a = (k & 1u) | ((k >> 1) << 1);
    return end ? a | (1u << axis) : a;
}

/* the cell edge joining corners a and b (which differ in one bit) */
DVREN_FN uint32_t dvren_mc_edge_of(uint32_t a, uint32_t b)
{
    uint32_t d = a ^ b, lo = a < b ? a : b;
    if (d == 1u) return ((lo >> 1) & 1u) | (((lo >> 2) & 1u) << 1);
    if (d == 2u) return 4u + ((lo & 1u) | (((lo >> 2) & 1u) << 1));
    return 8u + ((lo & 1u) | (((lo >> 1) & 1u) << 1));
}

/* corner k (0..3) of face f (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z), counter-
 * clockwise seen from outside the cube (packed 3 bits per corner) */
DVREN_FN uint32_t dvren_mc_face_corner(uint32_t f, uint32_t k)
{
    uint32_t packed;
    switch (f) {
    case 0: packed = 0u | (4u << 3) | (6u << 6) | (2u << 9); break;
    case 1: packed = 1u | (3u << 3) | (7u << 6) | (5u << 9); break;
    case 2: packed = 0u | (1u << 3) | (5u << 6) | (4u << 9); break;
    case 3: packed = 2u | (6u << 3) | (7u << 6) | (3u << 9); break;
    case 4: packed = 0u | (2u << 3) | (3u << 6) | (1u << 9); break;
    default: packed = 4u | (5u << 3) | (7u << 6) | (6u << 9); break;
    }
    return (packed >> (3u * k)) & 7u;
}

/* Loads cell (x, y, z)'s eight f values (x < nx - 1, y < ny - 1, z < nz - 1)
 * and returns its inside mask (bit i: corner i inside). */
DVREN_FN uint32_t dvren_mc_cell_load(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, float* f)
{
    uint32_t i, in = 0;
    for (i = 0; i < 8; ++i) {
        f[i] = dvren_mc_f(G, x + (i & 1u), y + ((i >> 1) & 1u), z + ((i >> 2) & 1u));
        if (f[i] > 0.0f) in |= 1u << i;
    }
    return in;
}

/* bits f of the two cube faces (0 -x, 1 +x, 2 -y, 3 +y, 4 -z, 5 +z) that
 * hold cell edge e */
DVREN_FN uint32_t dvren_mc_edge_faces(uint32_t e)
{
    uint32_t axis = e >> 2, a = dvren_mc_edge_corner(e, 0), m = 0, b;
    for (b = 0; b < 3; ++b)
        if (b != axis) m |= 1u << (2u * b + ((a >> b) & 1u));
    return m;
}

/* The cell's triangles from its corner values f and inside mask: returns
 * their count and, when tri is not NULL, writes 3 local vertices per
 * triangle: a cell edge 0..11, or DVREN_MC_CENTER for the cell's centre
 * vertex. *ncenter (may be NULL) becomes 1 when the cell has one; then
 * center_loop (may be NULL) receives its loop's edges and *center_n their
 * count.
 *
 * A loop of n > 3 crossings is a fan from its first vertex that has no
 * diagonal to a vertex sharing a cube face with it (except its loop
 * neighbours): two vertices on one face are joined only by that face's
 * segments, so the neighbouring cube, which sees the same face, never
 * draws the same edge (a diagonal in the face would be an edge of four
 * triangles). Loops without such an apex (8, 9 or 12 crossings: some
 * configurations of Lorensen's cases 13 and of tunnels) get a vertex at
 * the mean of their crossings, as the marching cubes 33 tables do (Chernyaev
 * 1995; Lewiner et al. 2003), and a fan of n triangles around it. At most
 * one loop of a cell has 8 or more crossings. */
#define DVREN_MC_CENTER 12u
DVREN_FN uint32_t dvren_mc_cell_triangles(const float* f, uint32_t in, uint8_t* tri, uint32_t* ncenter,
                                          uint8_t* center_loop, uint32_t* center_n)
{
    int32_t next[12];
    uint32_t e, face, k, loop[12], ntri = 0, seen = 0;
    if (ncenter) *ncenter = 0;
    if (in == 0u || in == 255u) return 0;
    for (e = 0; e < 12; ++e) next[e] = -1;
    for (face = 0; face < 6; ++face) {
        uint32_t c[4], s[4], ncross = 0;
        for (k = 0; k < 4; ++k) {
            c[k] = dvren_mc_face_corner(face, k);
            s[k] = (in >> c[k]) & 1u;
        }
        for (k = 0; k < 4; ++k) ncross += s[k] != s[(k + 1) & 3u];
        if (ncross == 2) {
            /* one segment: from the edge leaving the inside to the edge entering it */
            int32_t from = -1, to = -1;
            for (k = 0; k < 4; ++k) {
                uint32_t k1 = (k + 1) & 3u;
                if (s[k] && !s[k1]) from = (int32_t)dvren_mc_edge_of(c[k], c[k1]);
                if (!s[k] && s[k1]) to = (int32_t)dvren_mc_edge_of(c[k], c[k1]);
            }
            next[from] = to;
        } else if (ncross == 4) {
            /* the inside corners are c[i0] and c[i0 + 2]: joined when the
             * saddle is inside, a c > b d (exact in float64) */
            uint32_t i0 = s[0] ? 0u : 1u;
            double a = (double)f[c[i0]], cc = (double)f[c[i0 + 2]];
            double b = (double)f[c[(i0 + 1) & 3u]], d = (double)f[c[(i0 + 3) & 3u]];
            int joined = a * cc > b * d;
            for (k = i0; k < 4; k += 2) {
                /* leaving the inside on edge (c[k], c[k+1]); the segment ends on
                 * edge (c[k+1], c[k+2]) (cutting off the outside corner c[k+1]:
                 * inside joined) or on edge (c[k-1], c[k]) (cutting off c[k]) */
                uint32_t k1 = (k + 1) & 3u, k2 = (k + 2) & 3u, km = (k + 3) & 3u;
                uint32_t from = dvren_mc_edge_of(c[k], c[k1]);
                next[from] = (int32_t)(joined ? dvren_mc_edge_of(c[k1], c[k2]) : dvren_mc_edge_of(c[km], c[k]));
            }
        }
    }
    for (e = 0; e < 12; ++e) {
        uint32_t n = 0, cur = e, i, j, apex = 12;
        if (next[e] < 0 || ((seen >> e) & 1u)) continue;
        while (n < 12 && !((seen >> cur) & 1u) && next[cur] >= 0) {
            seen |= 1u << cur;
            loop[n++] = cur;
            cur = (uint32_t)next[cur];
        }
        for (i = 0; i < n && apex == 12; ++i) {
            uint32_t fi = dvren_mc_edge_faces(loop[i]), ok = 1;
            for (j = 0; j < n && ok; ++j)
                if (j != i && j != (i + 1) % n && j != (i + n - 1) % n && (fi & dvren_mc_edge_faces(loop[j]))) ok = 0;
            if (ok) apex = i;
        }
        if (apex < 12) {
            /* a fan from the apex, reversed: the loop runs clockwise seen from outside */
            for (i = 1; i + 1 < n; ++i) {
                if (tri) {
                    tri[3 * ntri + 0] = (uint8_t)loop[apex];
                    tri[3 * ntri + 1] = (uint8_t)loop[(apex + i + 1) % n];
                    tri[3 * ntri + 2] = (uint8_t)loop[(apex + i) % n];
                }
                ++ntri;
            }
        } else {
            if (ncenter) *ncenter = 1;
            if (center_loop)
                for (i = 0; i < n; ++i) center_loop[i] = (uint8_t)loop[i];
            if (center_n) *center_n = n;
            for (i = 0; i < n; ++i) {
                if (tri) {
                    tri[3 * ntri + 0] = (uint8_t)DVREN_MC_CENTER;
                    tri[3 * ntri + 1] = (uint8_t)loop[(i + 1) % n];
                    tri[3 * ntri + 2] = (uint8_t)loop[i];
                }
                ++ntri;
            }
        }
    }
    return ntri;
}

/* Bits 0..2: which of sample (x, y, z)'s own edges (+x, +y, +z, those
 * inside the grid) the surface crosses. */
DVREN_FN uint32_t dvren_mc_point_edges(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z)
{
    uint32_t m = 0, in0 = dvren_mc_f(G, x, y, z) > 0.0f;
    if (x + 1 < G->nx && (uint32_t)(dvren_mc_f(G, x + 1, y, z) > 0.0f) != in0) m |= 1u;
    if (y + 1 < G->ny && (uint32_t)(dvren_mc_f(G, x, y + 1, z) > 0.0f) != in0) m |= 2u;
    if (z + 1 < G->nz && (uint32_t)(dvren_mc_f(G, x, y, z + 1) > 0.0f) != in0) m |= 4u;
    return m;
}

DVREN_FN uint32_t dvren_mc_popc3(uint32_t m)
{
    return (m & 1u) + ((m >> 1) & 1u) + ((m >> 2) & 1u);
}

/* Sample (x, y, z)'s and its neighbours' values along axis a of the
 * gradient, in value units per index step: central differences, one-sided
 * at the grid's border (0 along an axis of one sample). */
DVREN_FN float dvren_mc_grad(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, uint32_t a)
{
    uint32_t n = a == 0 ? G->nx : a == 1 ? G->ny : G->nz;
    uint32_t i = a == 0 ? x : a == 1 ? y : z, lo = i > 0 ? i - 1 : i, hi = i + 1 < n ? i + 1 : i;
    float vlo, vhi;
    if (hi == lo) return 0.0f;
    vlo = dvren_mc_value(G, a == 0 ? lo : x, a == 1 ? lo : y, a == 2 ? lo : z);
    vhi = dvren_mc_value(G, a == 0 ? hi : x, a == 1 ? hi : y, a == 2 ? hi : z);
    return (vhi - vlo) / (float)(hi - lo);
}

/* The vertex on sample (x, y, z)'s edge along axis a (crossed): its world
 * position pos[3] and, when nrm is not NULL, its unit outward normal
 * (minus s times the value gradient, interpolated along the edge and
 * scaled by 1/spacing; (0, 0, 0) where it vanishes). */
DVREN_FN void dvren_mc_vertex(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, uint32_t a, float* pos,
                              float* nrm)
{
    uint32_t x1 = x + (a == 0), y1 = y + (a == 1), z1 = z + (a == 2), j;
    float f0 = dvren_mc_f(G, x, y, z), f1 = dvren_mc_f(G, x1, y1, z1);
    float t = f0 / (f0 - f1);
    float idx[3];
    if (!(t >= 0.0f && t <= 1.0f)) t = 0.5f; /* non-finite samples */
    idx[0] = (float)x;
    idx[1] = (float)y;
    idx[2] = (float)z;
    idx[a] = DVREN__MC_ADD(idx[a], t);
    for (j = 0; j < 3; ++j) pos[j] = DVREN__MC_ADD(G->origin[j], DVREN__MC_MUL(G->spacing[j], idx[j]));
    if (nrm) {
        float n[3], len2 = 0.0f;
        for (j = 0; j < 3; ++j) {
            float g0 = dvren_mc_grad(G, x, y, z, j), g1 = dvren_mc_grad(G, x1, y1, z1, j);
            float g = DVREN__MC_ADD(g0, DVREN__MC_MUL(t, g1 - g0));
            n[j] = DVREN__MC_MUL(-G->sign, g / G->spacing[j]);
            len2 = DVREN__MC_ADD(len2, DVREN__MC_MUL(n[j], n[j]));
        }
        if (len2 > 0.0f && len2 <= 3.0e38f) {
            float len = sqrtf(len2);
            for (j = 0; j < 3; ++j) nrm[j] = n[j] / len;
        } else {
            for (j = 0; j < 3; ++j) nrm[j] = 0.0f;
        }
    }
}

/* The centre vertex of a cell (dvren_mc_cell_triangles' DVREN_MC_CENTER):
 * the mean of its loop's n vertices (positions and normals, the normal
 * normalised again), summed in loop order. */
DVREN_FN void dvren_mc_center(const dvren_mc_grid* G, uint32_t x, uint32_t y, uint32_t z, const uint8_t* loop, uint32_t n,
                              float* pos, float* nrm)
{
    float p[3], q[3], sp[3] = {0.0f, 0.0f, 0.0f}, sn[3] = {0.0f, 0.0f, 0.0f}, len2 = 0.0f;
    uint32_t i, j;
    for (i = 0; i < n; ++i) {
        uint32_t e = loop[i], o = dvren_mc_edge_corner(e, 0);
        dvren_mc_vertex(G, x + (o & 1u), y + ((o >> 1) & 1u), z + ((o >> 2) & 1u), e >> 2, p, nrm ? q : NULL);
        for (j = 0; j < 3; ++j) {
            sp[j] = DVREN__MC_ADD(sp[j], p[j]);
            if (nrm) sn[j] = DVREN__MC_ADD(sn[j], q[j]);
        }
    }
    for (j = 0; j < 3; ++j) pos[j] = sp[j] / (float)n;
    if (!nrm) return;
    for (j = 0; j < 3; ++j) len2 = DVREN__MC_ADD(len2, DVREN__MC_MUL(sn[j], sn[j]));
    if (len2 > 0.0f && len2 <= 3.0e38f) {
        float len = sqrtf(len2);
        for (j = 0; j < 3; ++j) nrm[j] = sn[j] / len;
    } else {
        for (j = 0; j < 3; ++j) nrm[j] = 0.0f;
    }
}

/* The grid point owning cell edge e of cell (x, y, z), as its offset
 * (bit 0: +x, bit 1: +y, bit 2: +z) from the cell's sample, and the axis. */
DVREN_FN uint32_t dvren_mc_edge_owner(uint32_t e)
{
    return dvren_mc_edge_corner(e, 0);
}

#endif /* DVREN_MC_H */
