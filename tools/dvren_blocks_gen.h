/* tools/dvren_blocks_gen.h - procedural block worlds (header-only, static
 * functions; needs dvren_blocks.h's declarations and, in one translation
 * unit of the program, its implementation).
 *
 *   dvren_blocks_world w;
 *   int32_t size[3] = {64, 48, 64};
 *   if (dvren_blocks_terrain(&w, size, 1, 10.0f) != 0) { fprintf(stderr, "%s\n", w.error); ... }
 *
 * dvren_blocks_terrain builds a height-field landscape with the default
 * material table (docs/blocks.md): per column (x, z) a height
 *   h = Y (0.42 + 0.16 sin(2 pi (x/X f1 + p1)) sin(2 pi (z/Z f2 + p2)) + 0.08 sin(2 pi ((x + z)/X f3 + p3)))
 * (frequencies f and phases p drawn from the seed), clamped to 2 .. Y - 8;
 * stone below h - 3, dirt up to h - 2, the top grass (sand at or below the
 * sea level 0.36 Y + 1, snow at or above 0.6 Y), water filling columns up
 * to the sea level; trees (a wood trunk of 4 and a leaf crown of 3 x 3 x 2
 * plus 1) on about 1 grass column in 60, away from the edges. Each block
 * gets the one-hot logits of its material (`logit` for it, 0 for the
 * others). The same seed gives the same world on every machine (integer
 * hashing; sin() in double, its result quantised to 1/4096 before
 * rounding the height). The benchmark's world is size 64 x 48 x 64, seed 1:
 * about 10^4 visible blocks. Returns 0, or -1 with w->error set. */
#ifndef DVREN_BLOCKS_GEN_H
#define DVREN_BLOCKS_GEN_H

#include <math.h>
#include <string.h>

#include "dvren_blocks.h"

/* a 32-bit integer hash (a bijective mixer in the manner of MurmurHash3's finaliser) */
static uint32_t dvren_blocks__hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* a number in [0, 1) from (seed, k) */
static double dvren_blocks__u01(uint32_t seed, uint32_t k)
{
    return (double)(dvren_blocks__hash(seed * 0x9E3779B9u ^ dvren_blocks__hash(k)) >> 8) / 16777216.0;
}

static int dvren_blocks_terrain(dvren_blocks_world* w, const int32_t size[3], uint32_t seed, float logit)
{
    const double pi2 = 6.283185307179586;
    double f1 = 1.0 + dvren_blocks__u01(seed, 1), f2 = 1.0 + dvren_blocks__u01(seed, 2), f3 = 2.0 + 2.0 * dvren_blocks__u01(seed, 3);
    double p1 = dvren_blocks__u01(seed, 4), p2 = dvren_blocks__u01(seed, 5), p3 = dvren_blocks__u01(seed, 6);
    int32_t X = size[0], Y = size[1], Z = size[2], x, y, z, sea = (int32_t)(0.36 * Y) + 1, snow = (int32_t)(0.6 * Y);
    if (dvren_blocks_init(w, size, NULL, 0) != 0) return -1;
    if (Y < 12 || X < 8 || Z < 8) {
        snprintf(w->error, sizeof w->error, "terrain: size %d x %d x %d is too small (at least 8 x 12 x 8)", X, Y, Z);
        return -1;
    }
#define DVREN_BLOCKS__PUT(px, py, pz, m)                                                                               \
    do {                                                                                                               \
        if (dvren_blocks_place_material(w, (px), (py), (pz), (m), logit) != 0) return -1;                              \
    } while (0)
    for (z = 0; z < Z; ++z)
        for (x = 0; x < X; ++x) {
            double s = 0.42 + 0.16 * sin(pi2 * ((double)x / X * f1 + p1)) * sin(pi2 * ((double)z / Z * f2 + p2)) +
                       0.08 * sin(pi2 * ((double)(x + z) / X * f3 + p3));
            int32_t h = (int32_t)floor(Y * (floor(s * 4096.0 + 0.5) / 4096.0));
            uint32_t top = h <= sea ? 4u : (h >= snow ? 8u : 1u);
            if (h < 2) h = 2;
            if (h > Y - 8) h = Y - 8;
            for (y = 0; y < h; ++y) DVREN_BLOCKS__PUT(x, y, z, y < h - 3 ? 3u : 2u);
            DVREN_BLOCKS__PUT(x, h, z, top);
            for (y = h + 1; y <= sea && y < Y; ++y) DVREN_BLOCKS__PUT(x, y, z, 7u);
            if (top == 1u && x >= 2 && z >= 2 && x < X - 2 && z < Z - 2 && h + 6 < Y &&
                dvren_blocks__hash(seed ^ dvren_blocks__hash((uint32_t)(x + X * z) + 0x51ED27u)) % 60u == 0u) {
                int32_t dx, dz, t;
                for (t = 1; t <= 4; ++t) DVREN_BLOCKS__PUT(x, h + t, z, 5u);
                for (dz = -1; dz <= 1; ++dz)
                    for (dx = -1; dx <= 1; ++dx)
                        for (t = 3; t <= 4; ++t)
                            if ((dx || dz) && dvren_blocks_at(w, x + dx, h + t, z + dz) < 0)
                                DVREN_BLOCKS__PUT(x + dx, h + t, z + dz, 6u);
                DVREN_BLOCKS__PUT(x, h + 5, z, 6u);
            }
        }
#undef DVREN_BLOCKS__PUT
    return 0;
}

#endif /* DVREN_BLOCKS_GEN_H */
