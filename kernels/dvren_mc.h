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
#define DVREN__MC_DMUL(a, b) __dmul_rn((a), (b))
#define DVREN__MC_DADD(a, b) __dadd_rn((a), (b))
#else
#define DVREN__MC_MUL(a, b) ((a) * (b))
#define DVREN__MC_ADD(a, b) ((a) + (b))
#define DVREN__MC_DMUL(a, b) ((a) * (b))
#define DVREN__MC_DADD(a, b) ((a) + (b))
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
    /* written out: constant indices keep f in registers on the GPU */
    f[0] = dvren_mc_f(G, x, y, z);
    f[1] = dvren_mc_f(G, x + 1u, y, z);
    f[2] = dvren_mc_f(G, x, y + 1u, z);
    f[3] = dvren_mc_f(G, x + 1u, y + 1u, z);
    f[4] = dvren_mc_f(G, x, y, z + 1u);
    f[5] = dvren_mc_f(G, x + 1u, y, z + 1u);
    f[6] = dvren_mc_f(G, x, y + 1u, z + 1u);
    f[7] = dvren_mc_f(G, x + 1u, y + 1u, z + 1u);
    return (uint32_t)(f[0] > 0.0f) | ((uint32_t)(f[1] > 0.0f) << 1) | ((uint32_t)(f[2] > 0.0f) << 2) |
           ((uint32_t)(f[3] > 0.0f) << 3) | ((uint32_t)(f[4] > 0.0f) << 4) | ((uint32_t)(f[5] > 0.0f) << 5) |
           ((uint32_t)(f[6] > 0.0f) << 6) | ((uint32_t)(f[7] > 0.0f) << 7);
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

/* union-find over a few nodes (the roots of small sets) */
DVREN_FN uint32_t dvren__mc_find(uint8_t* parent, uint32_t a)
{
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
}

DVREN_FN void dvren__mc_union(uint8_t* parent, uint32_t a, uint32_t b)
{
    a = dvren__mc_find(parent, a);
    b = dvren__mc_find(parent, b);
    if (a < b) parent[b] = (uint8_t)a;
    else if (b < a) parent[a] = (uint8_t)b;
}

/* Which of the cell's corners with s f > 0 are connected inside the cell
 * through {s F > 0}, F the trilinear interpolant of the eight f: comp[i]
 * (i = 0..7) becomes a label shared by connected corners (255 for the
 * other corners). The cube is swept along z: a slice z = t is a bilinear square
 * whose corner values p_i(t) = s (f_i + t (f_{i+4} - f_i)) are linear in t,
 * so its positive set (components holding one or two of its corners, the
 * diagonal joined by the asymptotic decider) changes only where a p_i
 * vanishes or where D(t) = p_0 p_3 - p_1 p_2 does (a quadratic). Slices at
 * t = 0, in the middle of each interval between events and at t = 1
 * stand for them; a component continues into the next interval through each of
 * its corners that stays positive there (docs/meshes.md, "Tunnels"). At
 * t = 0 and 1 the slices are the cube's faces, decided as
 * dvren_mc_cell_triangles decides them. Arithmetic in float64. */
DVREN_FN void dvren_mc_cell_components(const float* f, double s, uint8_t* comp)
{
    double ev[8], tmp;
    uint8_t parent[40];
    uint32_t nev = 0, i, j, k, ns, pos_prev = 0;
    double f0[4], g[4];
    for (i = 0; i < 4; ++i) {
        f0[i] = DVREN__MC_DMUL(s, (double)f[i]);
        g[i] = DVREN__MC_DADD(DVREN__MC_DMUL(s, (double)f[i + 4]), -f0[i]);
        if ((f0[i] > 0.0) != (DVREN__MC_DADD(f0[i], g[i]) > 0.0) && g[i] != 0.0) {
            tmp = -f0[i] / g[i];
            if (tmp > 0.0 && tmp < 1.0) ev[nev++] = tmp;
        }
    }
    {
        /* D(t) = A t^2 + B t + C */
        double A = DVREN__MC_DADD(DVREN__MC_DMUL(g[0], g[3]), -DVREN__MC_DMUL(g[1], g[2]));
        double B = DVREN__MC_DADD(DVREN__MC_DADD(DVREN__MC_DMUL(f0[0], g[3]), DVREN__MC_DMUL(f0[3], g[0])),
                                  -DVREN__MC_DADD(DVREN__MC_DMUL(f0[1], g[2]), DVREN__MC_DMUL(f0[2], g[1])));
        double C = DVREN__MC_DADD(DVREN__MC_DMUL(f0[0], f0[3]), -DVREN__MC_DMUL(f0[1], f0[2]));
        if (A != 0.0) {
            double disc = DVREN__MC_DADD(DVREN__MC_DMUL(B, B), -DVREN__MC_DMUL(4.0, DVREN__MC_DMUL(A, C)));
            if (disc > 0.0) {
                double r = sqrt(disc), t1 = (-B - r) / (2.0 * A), t2 = (-B + r) / (2.0 * A);
                if (t1 > 0.0 && t1 < 1.0) ev[nev++] = t1;
                if (t2 > 0.0 && t2 < 1.0) ev[nev++] = t2;
            }
        } else if (B != 0.0) {
            tmp = -C / B;
            if (tmp > 0.0 && tmp < 1.0) ev[nev++] = tmp;
        }
    }
    for (i = 1; i < nev; ++i) /* insertion sort */
        for (j = i; j > 0 && ev[j - 1] > ev[j]; --j) {
            tmp = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = tmp;
        }
    ns = nev + 3; /* t = 0, the middles of the nev + 1 intervals, t = 1: at most 9 slices */
    for (i = 0; i < 4 * ns; ++i) parent[i] = (uint8_t)i;
    for (k = 0; k < ns; ++k) {
        /* slice k in 1..nev+1: the middle of interval m = k - 1, [ev[m-1], ev[m]] */
        double lo = k >= 2 && k <= nev + 1 ? ev[k - 2] : 0.0, hi = k >= 1 && k <= nev ? ev[k - 1] : 1.0, q[4];
        double t = k == 0 ? 0.0 : k == ns - 1 ? 1.0 : 0.5 * (lo + hi);
        uint32_t pos = 0;
        for (i = 0; i < 4; ++i) {
            q[i] = DVREN__MC_DADD(f0[i], DVREN__MC_DMUL(t, g[i]));
            if (q[i] > 0.0) pos |= 1u << i;
        }
        /* the square's sides: 0-1, 1-3, 3-2, 2-0 (corner i at x = i & 1, y = i >> 1) */
        if ((pos & 3u) == 3u) dvren__mc_union(parent, 4 * k + 0, 4 * k + 1);
        if ((pos & 10u) == 10u) dvren__mc_union(parent, 4 * k + 1, 4 * k + 3);
        if ((pos & 12u) == 12u) dvren__mc_union(parent, 4 * k + 3, 4 * k + 2);
        if ((pos & 5u) == 5u) dvren__mc_union(parent, 4 * k + 2, 4 * k + 0);
        {
            double d = DVREN__MC_DADD(DVREN__MC_DMUL(q[0], q[3]), -DVREN__MC_DMUL(q[1], q[2]));
            if (pos == 9u && d > 0.0) dvren__mc_union(parent, 4 * k + 0, 4 * k + 3);
            if (pos == 6u && d < 0.0) dvren__mc_union(parent, 4 * k + 1, 4 * k + 2);
        }
        if (k > 0)
            for (i = 0; i < 4; ++i)
                if (((pos & pos_prev) >> i) & 1u) dvren__mc_union(parent, 4 * (k - 1) + i, 4 * k + i);
        pos_prev = pos;
        if (k == 0)
            for (i = 0; i < 4; ++i) comp[i] = (uint8_t)((pos >> i) & 1u ? 0u : 255u);
        if (k == ns - 1)
            for (i = 0; i < 4; ++i) comp[i + 4] = (uint8_t)((pos >> i) & 1u ? 0u : 255u);
    }
    for (i = 0; i < 8; ++i)
        if (comp[i] == 0u) comp[i] = (uint8_t)dvren__mc_find(parent, i < 4 ? i : 4 * (ns - 1) + (i - 4));
}

/* 1 when cell edges a and b (vertices of one cell) may be joined by a
 * triangle edge that is not a contour segment: they share no cube face, so
 * the edge runs through the cell's inside and no neighbouring cell draws it */
DVREN_FN uint32_t dvren__mc_free_pair(uint32_t a, uint32_t b)
{
    return (dvren_mc_edge_faces(a) & dvren_mc_edge_faces(b)) == 0u;
}

/* 4-bit fields of a 64-bit word: the per-cell state lives in registers
 * (arrays indexed at run time would go to the GPU's local memory) */
DVREN_FN uint32_t dvren__mc_nib(uint64_t w, uint32_t i)
{
    return (uint32_t)(w >> (4u * i)) & 15u;
}

DVREN_FN uint64_t dvren__mc_setnib(uint64_t w, uint32_t i, uint32_t v)
{
    return (w & ~((uint64_t)15u << (4u * i))) | ((uint64_t)v << (4u * i));
}

/* A tube between two loops, A (na vertices, nibbles a0 .. a0 + na - 1 of
 * lv) and B (nb, from b0), both running in contour order: a strip of
 * na + nb triangles whose rungs join vertices sharing no cube face; tried
 * from each pair of starting vertices, stepping along the loop that lags
 * (by position over length) unless its rung is not free. Returns the
 * triangle count written to tri (0: no such strip). Triangles traverse both
 * loops against their order, as the fans do. */
DVREN_FN uint32_t dvren__mc_tube(uint64_t lv, uint32_t a0, uint32_t na, uint32_t b0, uint32_t nb, uint8_t* tri)
{
    uint32_t i0, j0;
    for (i0 = 0; i0 < na; ++i0)
        for (j0 = 0; j0 < nb; ++j0) {
            uint32_t sa = 0, sb = 0, n = 0, lead_a = 0, lead_b = 0;
            uint32_t ok = dvren__mc_free_pair(dvren__mc_nib(lv, a0 + i0), dvren__mc_nib(lv, b0 + j0));
            while (ok && (sa < na || sb < nb)) {
                uint32_t a = dvren__mc_nib(lv, a0 + (i0 + na - sa) % na), b = dvren__mc_nib(lv, b0 + (j0 + sb) % nb);
                uint32_t a1 = dvren__mc_nib(lv, a0 + (i0 + 2 * na - sa - 1) % na), b1 = dvren__mc_nib(lv, b0 + (j0 + sb + 1) % nb);
                /* No rung twice: when A comes round to A[i0] the rungs (A[i0],
                 * B[j0 .. j0 + lead_b]) of the start are taken (and the other
                 * way round); the last step's rung is the first one. */
                uint32_t can_a = sa < na && (sa + 1 < na || sb > lead_b) &&
                                 (sa + 1 == na && sb == nb ? 1u : dvren__mc_free_pair(a1, b));
                uint32_t can_b = sb < nb && (sb + 1 < nb || sa > lead_a) &&
                                 (sb + 1 == nb && sa == na ? 1u : dvren__mc_free_pair(a, b1));
                uint32_t step_a = can_a && (!can_b || (uint64_t)sa * nb <= (uint64_t)sb * na);
                if (!can_a && !can_b) ok = 0;
                else if (step_a) {
                    if (tri) {
                        tri[3 * n] = (uint8_t)a;
                        tri[3 * n + 1] = (uint8_t)a1;
                        tri[3 * n + 2] = (uint8_t)b;
                    }
                    lead_a += sb == 0;
                    ++sa;
                    ++n;
                } else {
                    if (tri) {
                        tri[3 * n] = (uint8_t)b1;
                        tri[3 * n + 1] = (uint8_t)b;
                        tri[3 * n + 2] = (uint8_t)a;
                    }
                    lead_b += sa == 0;
                    ++sb;
                    ++n;
                }
            }
            if (ok) return n;
        }
    return 0;
}

/* The cell's triangles from its corner values f and inside mask: returns
 * their count and, when tri is not NULL, writes 3 local vertices per
 * triangle: a cell edge 0..11, or DVREN_MC_CENTER for the cell's centre
 * vertex. *ncenter (may be NULL) becomes 1 when the cell has one; then
 * center_loop (may be NULL) receives its loop's edges and *center_n their
 * count.
 *
 * Loops. Each loop of contour segments separates, on the cube's surface,
 * an inside region from an outside one. Two loops whose inside regions are
 * connected through the cell by the trilinear interpolant's inside, and
 * whose outside regions by its outside (dvren_mc_cell_components), bound
 * one piece of surface: a tube (MC33's tunnel cases 4.1.2, 6.1.2, 7.4.2, 10.1.2, 12.1.2,
 * 13.5.2; docs/meshes.md, "Tunnels"), a strip between them. Every other
 * loop is a disc.
 *
 * Discs. A loop of n > 3 crossings is a fan from its first vertex that has
 * no diagonal to a vertex sharing a cube face with it (except its loop
 * neighbours): two vertices on one face are joined only by that face's
 * segments, so the neighbouring cube, which sees the same face, never
 * draws the same edge (a diagonal in the face would be an edge of four
 * triangles). Loops without such an apex (8, 9 or 12 crossings) get a
 * vertex at the mean of their crossings, as the marching cubes 33 tables
 * do (Chernyaev 1995; Lewiner et al. 2003), and a fan of n triangles
 * around it. At most one loop of a cell has 8 or more crossings. */
#define DVREN_MC_CENTER 12u
DVREN_FN uint32_t dvren_mc_cell_triangles(const float* f, uint32_t in, uint8_t* tri, uint32_t* ncenter,
                                          uint8_t* center_loop, uint32_t* center_n)
{
    /* next: the segment from each crossed edge (nibble e: the edge it ends
     * on, 15 none); lv: the loops' edges one after another; lstart: where
     * each of the nl loops starts in lv (5 bits each, the last = nv) */
    uint64_t next = 0xFFFFFFFFFFFFull, lv = 0;
    uint32_t e, face, k, lstart = 0, nl = 0, nv = 0, ntri = 0, seen = 0, l, tube_a = 4, tube_b = 4;
    if (ncenter) *ncenter = 0;
    if (in == 0u || in == 255u) return 0;
    for (face = 0; face < 6; ++face) {
        uint32_t cw = 0, sw = 0, ncross = 0;
        for (k = 0; k < 4; ++k) {
            uint32_t c = dvren_mc_face_corner(face, k);
            cw |= c << (3u * k);
            sw |= ((in >> c) & 1u) << k;
        }
        for (k = 0; k < 4; ++k) ncross += ((sw >> k) & 1u) != ((sw >> ((k + 1) & 3u)) & 1u);
#define DVREN__MC_C(k) ((cw >> (3u * ((k) & 3u))) & 7u)
#define DVREN__MC_S(k) ((sw >> ((k) & 3u)) & 1u)
        if (ncross == 2) {
            /* one segment: from the edge leaving the inside to the edge entering it */
            uint32_t from = 0, to = 0;
            for (k = 0; k < 4; ++k) {
                if (DVREN__MC_S(k) && !DVREN__MC_S(k + 1)) from = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));
                if (!DVREN__MC_S(k) && DVREN__MC_S(k + 1)) to = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));
            }
            next = dvren__mc_setnib(next, from, to);
        } else if (ncross == 4) {
            /* the inside corners are c[i0] and c[i0 + 2]: joined when the
             * saddle is inside, a c > b d (exact in float64) */
            uint32_t i0 = DVREN__MC_S(0) ? 0u : 1u;
            double a = (double)f[DVREN__MC_C(i0)], cc = (double)f[DVREN__MC_C(i0 + 2)];
            double b = (double)f[DVREN__MC_C(i0 + 1)], d = (double)f[DVREN__MC_C(i0 + 3)];
            int joined = a * cc > b * d;
            for (k = i0; k < 4; k += 2) {
                /* leaving the inside on edge (c[k], c[k+1]); the segment ends on
                 * edge (c[k+1], c[k+2]) (cutting off the outside corner c[k+1]:
                 * inside joined) or on edge (c[k-1], c[k]) (cutting off c[k]) */
                uint32_t from = dvren_mc_edge_of(DVREN__MC_C(k), DVREN__MC_C(k + 1));
                uint32_t to = joined ? dvren_mc_edge_of(DVREN__MC_C(k + 1), DVREN__MC_C(k + 2))
                                     : dvren_mc_edge_of(DVREN__MC_C(k + 3), DVREN__MC_C(k));
                next = dvren__mc_setnib(next, from, to);
            }
        }
#undef DVREN__MC_C
#undef DVREN__MC_S
    }
    for (e = 0; e < 12; ++e) {
        uint32_t cur = e;
        if (dvren__mc_nib(next, e) == 15u || ((seen >> e) & 1u)) continue;
        lstart |= nv << (5u * nl);
        ++nl;
        while (nv < 12 && !((seen >> cur) & 1u) && dvren__mc_nib(next, cur) != 15u) {
            seen |= 1u << cur;
            lv = dvren__mc_setnib(lv, nv++, cur);
            cur = dvren__mc_nib(next, cur);
        }
    }
    lstart |= nv << (5u * nl);
#define DVREN__MC_LS(l) ((lstart >> (5u * (l))) & 31u)
    if (nl >= 2) {
        /* tubes: loops with the same (inside component, outside component);
         * key l in bits 16 l .. 16 l + 15 */
        uint8_t cin[8], cout[8];
        uint64_t key = 0;
        dvren_mc_cell_components(f, 1.0, cin);
        dvren_mc_cell_components(f, -1.0, cout);
        for (l = 0; l < nl; ++l) {
            uint32_t e0 = dvren__mc_nib(lv, DVREN__MC_LS(l));
            uint32_t a = dvren_mc_edge_corner(e0, 0), b = dvren_mc_edge_corner(e0, 1);
            uint32_t ci = (in >> a) & 1u ? a : b, co = ci == a ? b : a;
            uint32_t kl = cin[ci] == 255u || cout[co] == 255u ? 0xFF00u + l : ((uint32_t)cin[ci] << 8) | cout[co];
            key |= (uint64_t)kl << (16u * l);
        }
        for (l = 0; l < nl && tube_a == 4; ++l)
            for (k = l + 1; k < nl; ++k)
                if (((key >> (16u * l)) & 0xFFFFu) == ((key >> (16u * k)) & 0xFFFFu)) {
                    uint32_t m, others = 0;
                    for (m = 0; m < nl; ++m)
                        others += m != l && m != k && ((key >> (16u * m)) & 0xFFFFu) == ((key >> (16u * l)) & 0xFFFFu);
                    if (!others) {
                        tube_a = l;
                        tube_b = k;
                    }
                    break;
                }
        if (tube_a < 4) {
            uint32_t n = dvren__mc_tube(lv, DVREN__MC_LS(tube_a), DVREN__MC_LS(tube_a + 1) - DVREN__MC_LS(tube_a),
                                        DVREN__MC_LS(tube_b), DVREN__MC_LS(tube_b + 1) - DVREN__MC_LS(tube_b), tri);
            if (n) ntri = n;
            else tube_a = tube_b = 4;
        }
    }
    for (l = 0; l < nl; ++l) {
        uint32_t s0 = DVREN__MC_LS(l), n = DVREN__MC_LS(l + 1) - s0, i, j, apex = 12;
        if (l == tube_a || l == tube_b) continue;
        for (i = 0; i < n && apex == 12; ++i) {
            uint32_t ok = 1, fi = dvren_mc_edge_faces(dvren__mc_nib(lv, s0 + i));
            for (j = 0; j < n && ok; ++j)
                if (j != i && j != (i + 1) % n && j != (i + n - 1) % n && (fi & dvren_mc_edge_faces(dvren__mc_nib(lv, s0 + j))))
                    ok = 0;
            if (ok) apex = i;
        }
        if (apex < 12) {
            /* a fan from the apex, reversed: the loop runs clockwise seen from outside */
            for (i = 1; i + 1 < n; ++i) {
                if (tri) {
                    tri[3 * ntri + 0] = (uint8_t)dvren__mc_nib(lv, s0 + apex);
                    tri[3 * ntri + 1] = (uint8_t)dvren__mc_nib(lv, s0 + (apex + i + 1) % n);
                    tri[3 * ntri + 2] = (uint8_t)dvren__mc_nib(lv, s0 + (apex + i) % n);
                }
                ++ntri;
            }
        } else {
            if (ncenter) *ncenter = 1;
            if (center_loop)
                for (i = 0; i < n; ++i) center_loop[i] = (uint8_t)dvren__mc_nib(lv, s0 + i);
            if (center_n) *center_n = n;
            for (i = 0; i < n; ++i) {
                if (tri) {
                    tri[3 * ntri + 0] = (uint8_t)DVREN_MC_CENTER;
                    tri[3 * ntri + 1] = (uint8_t)dvren__mc_nib(lv, s0 + (i + 1) % n);
                    tri[3 * ntri + 2] = (uint8_t)dvren__mc_nib(lv, s0 + i);
                }
                ++ntri;
            }
        }
    }
#undef DVREN__MC_LS
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
