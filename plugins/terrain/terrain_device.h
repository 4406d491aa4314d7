/* plugins/terrain/terrain_device.h - per-sample code of the "terrain" shader.
 * Single source: compiled as C into terrain.so and by NVRTC into the fused
 * kernel (kernels/dvren_device.h comes first; nothing is included here).
 *
 * Shades the faces of a block world (docs/blocks.md, "Shading"; the
 * formula there is this code's specification). Channels, as the
 * block_world field writes them: 0 occupancy (1 solid, 0 air), 1..3 the
 * mixed top colour T, 4..6 the side colour S, 7..9 the bottom colour B.
 * For a surface with unit normal n at distance t:
 *
 *   face f = 2a + (n_a < 0) for the axis a of n (0 +x 1 -x 2 +y 3 -y 4 +z 5 -z)
 *   base   = T (f = 2), B (f = 3), S (otherwise)
 *   lit    = face_shade[f] * base * (ambient + sun_color * max(0, n . L))
 *   fog    = 1 - exp(-fog_density * t)
 *   rgb    = lit * (1 - fog) + fog_color * fog
 *
 * The per-face shade factors are the fixed directional shading of block
 * games; the sun term is Lambert's cosine law. Volume samplers (no surface)
 * see a medium of density solid_density * occupancy whose colour uses the
 * face of -grad(occupancy) snapped to its largest axis, without fog.
 * Gradients flow to the colour channels (to the material logits through
 * the field); occupancy is geometry and gets none from the colour. */
#ifndef TERRAIN_DEVICE_H
#define TERRAIN_DEVICE_H

#define TERRAIN_CHANNELS 10u

typedef struct terrain_block {
    float sun_dir[3];      /* unit, towards the sun */
    float sun_color[3];
    float ambient[3];
    float face_shade[6];   /* per face f = 0..5 */
    float fog_color[3];
    float fog_density;     /* 1/world unit, 0: no fog */
    float solid_density;   /* sigma of a solid cell for volume samplers, 1/world unit */
} terrain_block;

#endif /* TERRAIN_DEVICE_H */

DVREN_FN dvren_real DVREN_PNAME(terrain_density)(const void* P_, const dvren_real* ch)
{
    const terrain_block* P = (const terrain_block*)P_;
    return ch[0] > (dvren_real)0 ? (dvren_real)P->solid_density * ch[0] : (dvren_real)0;
}

DVREN_FN void DVREN_PNAME(terrain_density_bwd)(const void* P_, const dvren_real* ch, dvren_real dL_dsigma,
                                               dvren_real* dL_dch)
{
    const terrain_block* P = (const terrain_block*)P_;
    if (ch[0] > (dvren_real)0) dL_dch[0] += dL_dsigma * (dvren_real)P->solid_density;
}

/* The face index f (0..5) of an axis-aligned unit normal (the largest axis of any other). */
DVREN_FN uint32_t DVREN_PNAME(terrain_face)(dvren_vec3 n)
{
    dvren_real ax = dvren_abs(n.x), ay = dvren_abs(n.y), az = dvren_abs(n.z);
    if (ax >= ay && ax >= az) return n.x < (dvren_real)0 ? 1u : 0u;
    if (ay >= az) return n.y < (dvren_real)0 ? 3u : 2u;
    return n.z < (dvren_real)0 ? 5u : 4u;
}

/* The face's colour from the channels: top (1..3) for f = 2, bottom
 * (7..9) for f = 3, side (4..6) otherwise; constant indices (a run-time
 * index would put the march's channel array in local memory on the GPU). */
DVREN_FN dvren_vec3 DVREN_PNAME(terrain_base)(const dvren_real* ch, uint32_t f)
{
    if (f == 2u) return dvren_v3(ch[1], ch[2], ch[3]);
    if (f == 3u) return dvren_v3(ch[7], ch[8], ch[9]);
    return dvren_v3(ch[4], ch[5], ch[6]);
}

/* Adds g to the face's colour channels of dL_dch (the backward of terrain_base). */
DVREN_FN void DVREN_PNAME(terrain_base_bwd)(dvren_real* dL_dch, uint32_t f, dvren_vec3 g)
{
    if (f == 2u) {
        dL_dch[1] += g.x;
        dL_dch[2] += g.y;
        dL_dch[3] += g.z;
    } else if (f == 3u) {
        dL_dch[7] += g.x;
        dL_dch[8] += g.y;
        dL_dch[9] += g.z;
    } else {
        dL_dch[4] += g.x;
        dL_dch[5] += g.y;
        dL_dch[6] += g.z;
    }
}

/* The per-channel light factor k_c = face_shade[f] (ambient_c + sun_c
 * max(0, n.L)) of face f, so that lit_c = k_c base_c. */
DVREN_FN void DVREN_PNAME(terrain_light)(const terrain_block* P, uint32_t f, dvren_vec3* k)
{
    dvren_real nl, s = (dvren_real)P->face_shade[f];
    /* n . L for the axis-aligned normal of face f */
    nl = (dvren_real)P->sun_dir[f >> 1];
    if (f & 1u) nl = -nl;
    nl = dvren_max(nl, (dvren_real)0);
    *k = dvren_v3(s * ((dvren_real)P->ambient[0] + (dvren_real)P->sun_color[0] * nl),
                  s * ((dvren_real)P->ambient[1] + (dvren_real)P->sun_color[1] * nl),
                  s * ((dvren_real)P->ambient[2] + (dvren_real)P->sun_color[2] * nl));
}

DVREN_FN void DVREN_PNAME(terrain_surface_color)(const void* P_, const dvren_real* ch, const dvren_surface_hit* hit,
                                                 dvren_vec3 dir, dvren_vec3* rgb)
{
    const terrain_block* P = (const terrain_block*)P_;
    uint32_t f = DVREN_PNAME(terrain_face)(hit->normal);
    dvren_vec3 k, b = DVREN_PNAME(terrain_base)(ch, f);
    dvren_real fog = (dvren_real)0;
    (void)dir;
    DVREN_PNAME(terrain_light)(P, f, &k);
    if (P->fog_density > 0.0f) fog = (dvren_real)1 - dvren_exp(-(dvren_real)P->fog_density * hit->t);
    *rgb = dvren_v3(k.x * b.x * ((dvren_real)1 - fog) + (dvren_real)P->fog_color[0] * fog,
                    k.y * b.y * ((dvren_real)1 - fog) + (dvren_real)P->fog_color[1] * fog,
                    k.z * b.z * ((dvren_real)1 - fog) + (dvren_real)P->fog_color[2] * fog);
}

DVREN_FN void DVREN_PNAME(terrain_surface_color_bwd)(const void* P_, const dvren_real* ch, const dvren_surface_hit* hit,
                                                     dvren_vec3 dir, dvren_vec3 dL_drgb, dvren_real* dL_dch)
{
    const terrain_block* P = (const terrain_block*)P_;
    uint32_t f = DVREN_PNAME(terrain_face)(hit->normal);
    dvren_vec3 k;
    dvren_real keep = (dvren_real)1;
    (void)ch;
    (void)dir;
    DVREN_PNAME(terrain_light)(P, f, &k);
    if (P->fog_density > 0.0f) keep = dvren_exp(-(dvren_real)P->fog_density * hit->t);
    DVREN_PNAME(terrain_base_bwd)(dL_dch, f, dvren_v3(dL_drgb.x * k.x * keep, dL_drgb.y * k.y * keep, dL_drgb.z * k.z * keep));
}

/* volume samplers: the face of -grad(occupancy) (the ray's own axis where the gradient is zero) */
DVREN_FN uint32_t DVREN_PNAME(terrain_volume_face)(dvren_vec3 grad, dvren_vec3 dir)
{
    dvren_vec3 n = dvren_scale3(grad, (dvren_real)-1);
    if (n.x == (dvren_real)0 && n.y == (dvren_real)0 && n.z == (dvren_real)0) n = dvren_scale3(dir, (dvren_real)-1);
    return DVREN_PNAME(terrain_face)(n);
}

DVREN_FN void DVREN_PNAME(terrain_color)(const void* P_, const dvren_real* ch, dvren_vec3 grad, dvren_vec3 dir,
                                         dvren_vec3* rgb)
{
    const terrain_block* P = (const terrain_block*)P_;
    uint32_t f = DVREN_PNAME(terrain_volume_face)(grad, dir);
    dvren_vec3 k, b = DVREN_PNAME(terrain_base)(ch, f);
    DVREN_PNAME(terrain_light)(P, f, &k);
    *rgb = dvren_v3(k.x * b.x, k.y * b.y, k.z * b.z);
}

DVREN_FN void DVREN_PNAME(terrain_color_bwd)(const void* P_, const dvren_real* ch, dvren_vec3 grad, dvren_vec3 dir,
                                             dvren_vec3 dL_drgb, dvren_real* dL_dch, dvren_vec3* dL_dgrad)
{
    const terrain_block* P = (const terrain_block*)P_;
    uint32_t f = DVREN_PNAME(terrain_volume_face)(grad, dir);
    dvren_vec3 k;
    (void)ch;
    DVREN_PNAME(terrain_light)(P, f, &k);
    DVREN_PNAME(terrain_base_bwd)(dL_dch, f, dvren_v3(dL_drgb.x * k.x, dL_drgb.y * k.y, dL_drgb.z * k.z));
    /* the face is piecewise constant in the gradient */
    *dL_dgrad = dvren_v3((dvren_real)0, (dvren_real)0, (dvren_real)0);
}
