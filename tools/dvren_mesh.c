/* tools/dvren_mesh.c - surfaces out of dvren's fields as mesh files
 * (docs/meshes.md; docs/tools.md):
 *
 *   dvren_mesh extract INPUT --level L -o out.{obj,ply,glb} [options]
 *       INPUT is a scene file (.json, docs/scenes.md: its field and shader)
 *       or a volume file dense_grid reads (.nhdr/.nrrd, .mhd, .npy, .npz,
 *       .vtk, .dat, raw: its voxel values); marching cubes
 *       (dvren_marching_cubes) at the iso-level L
 *         --channel C | --density   the field channel (default 0), or the
 *                                   shader's density sigma (DVREN_SAMPLE_DENSITY)
 *         --res X Y Z               sample grid (default: the field's voxels)
 *         --box x0 y0 z0 x1 y1 z1   sampled box (default: the field's box)
 *         --inside-below            the inside is where value < L
 *         --colors | --color R G B  vertex colours from the shader
 *                                   (dvren_mesh_shade), or one colour
 *         --device cpu|cuda         where marching cubes runs (cuda: on an
 *                                   NVIDIA GPU or an error, never the CPU)
 *         --name N                  the object's name (GLB node, OBJ "o")
 *         --y-up                    the data is Y-up already (GLB: no root
 *                                   node turning Z-up into Y-up)
 *   dvren_mesh convert in.{obj,ply,glb} out.{obj,ply,glb} [--y-up]
 *   dvren_mesh compose scene.json -o out.glb [--splats out.ply] [--device cpu|cuda]
 *       objects (iso-surfaces or mesh files) placed by transforms, one GLB
 *       node each (tools/dvren_mesh_compose.h has the format), and with
 *       --splats the objects' Gaussians moved by the same transforms and
 *       merged into one 3DGS PLY (tools/dvren_splat_compose.h, as
 *       dvren_compose does)
 *   dvren_mesh blocks world.{json,npy,vox} -o out.{obj,ply,glb} [--name N]
 *       a block world's visible faces, one quad each, coloured by each
 *       block's material (docs/blocks.md, "hard" mode; tools/dvren_blocks_mesh.h);
 *       the input may also be a scene file whose field is block_world
 *       (examples/blocks_house.json): its world, materials, label_logit,
 *       scale and origin parameters are used
 *
 * A volume file given to extract (or as a composition's "volume") is read
 * by the dense_grid plugin with "storage": "f32", so that its buffer holds
 * the file's values as float32; without --res/--box (and for a channel,
 * not --density) marching cubes runs on that buffer itself, so the values
 * are the voxels' own, in the file's spacing (world units, e.g. mm), with
 * voxel [0][0][0] at the origin (scikit-image's marching_cubes convention).
 * With --res or --box the field is sampled (dvren_scene_sample_grid, the
 * trilinear interpolant) and the box is in the same coordinates. A scene
 * file's field is always sampled, in the scene's world units; without
 * --res the sample grid is the field's own voxel grid (its box divided by
 * its voxel size), so a node-centred dense_grid is sampled at its voxels.
 * The scene file's "device" is not read: --device chooses.
 *
 * Every command prints its counts on stderr ("V vertices, T triangles, B
 * boundary edges, N non-manifold edges": an edge is a boundary edge when
 * one triangle uses it, non-manifold when more than two do) and writes its
 * outputs atomically once everything is computed and encoded: on any error
 * nothing is written (compose --splats: when the second file cannot be
 * written, the first is removed again). Exit status 0, or 1 with one line
 * "dvren_mesh: <file>: <field>: <problem>" on stderr. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_SCENE_IMPLEMENTATION
#include "dvren_scene.h"
#define DVREN_MESH_IO_IMPLEMENTATION
#include "dvren_mesh_io.h"
#define DVREN_SPLAT_NPZ_IMPLEMENTATION /* and the PLY reader (tools/dvren_splat_ply.h) */
#include "dvren_splat_npz.h"
#define DVREN_SPLAT_COMPOSE_IMPLEMENTATION
#include "dvren_splat_compose.h"
#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"
#define DVREN_BLOCKS_MESH_IMPLEMENTATION
#include "dvren_blocks_mesh.h"
#include "dvren_mesh_compose.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "dvren_mesh: [file: ][key: ]problem" on stderr; returns 1. */
static int dm_fail(const char* file, const char* key, const char* fmt, ...) DVREN_PRINTF(3, 4);
static int dm_fail(const char* file, const char* key, const char* fmt, ...)
{
    va_list ap;
    fputs("dvren_mesh: ", stderr);
    if (file && file[0]) fprintf(stderr, "%s: ", file);
    if (key && key[0]) fprintf(stderr, "%s: ", key);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* An error about one setting of a source: "--level" on the command line,
 * "<file>: objects[0] (\"skin\").level" in a composition. */
static int dm_src_fail(const dvren_mesh_source* s, const char* json_key, const char* option, const char* fmt, ...)
    DVREN_PRINTF(4, 5);
static int dm_src_fail(const dvren_mesh_source* s, const char* json_key, const char* option, const char* fmt, ...)
{
    char key[256], msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->file && s->file[0])
        snprintf(key, sizeof key, "%s%s%s", s->where, json_key ? "." : "", json_key ? json_key : "");
    else
        snprintf(key, sizeof key, "%s", option ? option : s->path);
    return dm_fail(s->file, key, "%s", msg);
}

/* ---- counts ------------------------------------------------------------------ */

static int dm_cmp_u64(const void* a, const void* b)
{
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return x < y ? -1 : x > y;
}

/* Boundary edges (used by one triangle) and non-manifold edges (by more
 * than two), edges taken without direction. Returns 0, or 1 when out of memory. */
static int dm_edges(const dvren_mesh* m, uint64_t* boundary, uint64_t* nonmanifold)
{
    size_t n = (size_t)m->triangle_count * 3, i, j;
    uint64_t* e;
    *boundary = *nonmanifold = 0;
    if (!n) return 0;
    e = (uint64_t*)malloc(n * sizeof *e);
    if (!e) return 1;
    for (i = 0; i < m->triangle_count; ++i)
        for (j = 0; j < 3; ++j) {
            uint64_t a = m->triangles[3 * i + j], b = m->triangles[3 * i + (j + 1) % 3];
            e[3 * i + j] = a < b ? (a << 32 | b) : (b << 32 | a);
        }
    qsort(e, n, sizeof *e, dm_cmp_u64);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && e[j] == e[i]; ++j) {}
        if (j - i == 1) ++*boundary;
        if (j - i > 2) ++*nonmanifold;
    }
    free(e);
    return 0;
}

/* "dvren_mesh: <label>: V vertices, T triangles, B boundary edges, N non-manifold edges" */
static void dm_report(const char* label, const dvren_mesh* m)
{
    uint64_t b, nm;
    if (dm_edges(m, &b, &nm)) {
        fprintf(stderr, "dvren_mesh: %s: %u vertices, %u triangles (no memory to count edges)\n", label,
                (unsigned)m->vertex_count, (unsigned)m->triangle_count);
        return;
    }
    fprintf(stderr, "dvren_mesh: %s: %u vertices, %u triangles, %llu boundary edges, %llu non-manifold edges\n", label,
            (unsigned)m->vertex_count, (unsigned)m->triangle_count, (unsigned long long)b, (unsigned long long)nm);
}

/* ---- the context -------------------------------------------------------------- */

/* A context on device ("cpu" or "cuda"; NULL: cpu). CUDA gives CUDA or an error. */
static int dm_context(const char* device, dvren_context** ctx)
{
    dvren_context_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.log = dvren_log_to_file;
    cd.log_level = DVREN_LOG_WARN;
    if (device && !strcmp(device, "cuda")) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
    } else if (device && strcmp(device, "cpu") != 0) {
        return dm_fail(NULL, "--device", "'%s' is not one of cpu, cuda", device);
    }
    if (dvren_context_create(&cd, ctx) != DVREN_OK)
        return dm_fail(NULL, "--device", "%s%s", dvren_last_error(NULL),
                       device && !strcmp(device, "cuda") ? " (no fallback to the CPU: use --device cpu)" : "");
    return 0;
}

/* ---- extraction ---------------------------------------------------------------- */

/* Replaces mesh's colours by one colour (allocating them when absent). */
static int dm_fill_color(dvren_context* ctx, dvren_mesh* m, const float rgb[3])
{
    uint32_t i;
    if (!m->colors && m->vertex_count) {
        dvren_mesh n;
        if (dvren_mesh_alloc(ctx, m->vertex_count, m->triangle_count,
                             DVREN_MESH_COLORS | (m->normals ? DVREN_MESH_NORMALS : 0u), &n) != DVREN_OK)
            return 1;
        memcpy(n.positions, m->positions, (size_t)m->vertex_count * 3 * sizeof(float));
        if (m->normals) memcpy(n.normals, m->normals, (size_t)m->vertex_count * 3 * sizeof(float));
        if (m->triangle_count) memcpy(n.triangles, m->triangles, (size_t)m->triangle_count * 3 * sizeof(uint32_t));
        dvren_mesh_free(ctx, m);
        *m = n;
    }
    for (i = 0; i < m->vertex_count; ++i) memcpy(m->colors + 3 * (size_t)i, rgb, 3 * sizeof(float));
    return 0;
}

/* The scene of a volume file: dense_grid with its values as float32 in
 * the file's spacing (fit "physical": centred on the origin; the caller
 * moves voxel 0 to the origin), and emission_absorption with the "auto"
 * preset (docs/scenes.md: a transfer function on channel 0's value range),
 * whose density --density and whose colours --colors take. */
static cJSON* dm_volume_scene(const char* path)
{
    cJSON* root = cJSON_CreateObject();
    cJSON* field = cJSON_AddObjectToObject(root, "field");
    cJSON *params, *shader;
    if (!field || !cJSON_AddStringToObject(field, "plugin", "dense_grid") ||
        !(params = cJSON_AddObjectToObject(field, "params")) || !cJSON_AddStringToObject(params, "file", path) ||
        !cJSON_AddStringToObject(params, "storage", "f32") || !cJSON_AddStringToObject(params, "fit", "physical") ||
        !(shader = cJSON_AddObjectToObject(root, "shader")) || !cJSON_AddStringToObject(shader, "preset", "auto")) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* The iso-surface of a source (SCENE or VOLUME) into *out (see the top of the file). */
static int dm_extract(dvren_context* ctx, const dvren_mesh_source* s, dvren_mesh* out)
{
    dvren_scenefile sf;
    cJSON* vroot = NULL;
    dvren_scene* scene = NULL;
    dvren_tensor grid, dgrid;
    dvren_instance_info info;
    dvren_mc_options opt;
    dvren_mc_stats stats;
    char name[512];
    float shift[3] = {0, 0, 0}, origin[3], spacing[3];
    int is_volume = s->kind == DVREN_MESH_SOURCE_VOLUME, direct = 0, rc = 1, a;
    int cuda = dvren_context_device(ctx) == DVREN_DEVICE_CUDA;
    const dvren_tensor* g;
    memset(&sf, 0, sizeof sf);
    memset(&grid, 0, sizeof grid);
    memset(&dgrid, 0, sizeof dgrid);
    memset(out, 0, sizeof *out);
    /* the scene reader names its file in its messages: the source's place goes first */
    if (s->file && s->file[0])
        snprintf(name, sizeof name, "%s: %s.%s", s->file, s->where, is_volume ? "volume" : "scene");
    else
        snprintf(name, sizeof name, "%s", s->path);
    if (is_volume) {
        if (!(vroot = dm_volume_scene(s->path))) return dm_fail(NULL, NULL, "out of memory");
        if (dvren_scenefile_from_json(&sf, name, vroot, s->dir && s->dir[0] ? s->dir : NULL)) {
            dm_fail(NULL, NULL, "%s", sf.error);
            goto done;
        }
    } else if (dvren_scenefile_load(&sf, s->path)) {
        if (s->file && s->file[0]) dm_fail(s->file, s->where, "scene: %s", sf.error);
        else dm_fail(NULL, NULL, "%s", sf.error);
        goto done;
    }
    if (dvren_scenefile_build(&sf, ctx)) {
        if (is_volume || !(s->file && s->file[0])) dm_fail(NULL, NULL, "%s", sf.error);
        else dm_fail(s->file, s->where, "scene: %s", sf.error);
        goto done;
    }
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (dvren_stage_info(sf.field, &info) != DVREN_OK) {
        dm_fail(NULL, name, "field: %s", dvren_last_error(ctx));
        goto done;
    }
    if (s->channel >= 0 && (uint32_t)s->channel >= info.channels) {
        dm_src_fail(s, "channel", "--channel", "%d: the field has %u channel%s (0..%u)", (int)s->channel,
                    (unsigned)info.channels, info.channels == 1 ? "" : "s", (unsigned)info.channels - 1);
        goto done;
    }
    if (is_volume)
        for (a = 0; a < 3; ++a) shift[a] = info.bounds_min[a]; /* field world = file world + shift */
    /* a volume's own voxels, unsampled */
    if (is_volume && !s->res[0] && !s->has_box && s->channel >= 0 && info.buffer_count >= 1 && info.buffers &&
        info.buffers[0].tensor.dtype == DVREN_DTYPE_F32 && info.buffers[0].tensor.memory == DVREN_MEMORY_HOST &&
        info.buffers[0].tensor.ndim == 4 && dvren_tensor_is_contiguous(&info.buffers[0].tensor) &&
        info.buffers[0].tensor.shape[3] == (int64_t)info.channels) {
        const dvren_tensor* vox = &info.buffers[0].tensor;
        int64_t shape[3] = {vox->shape[0], vox->shape[1], vox->shape[2]}, i, n = shape[0] * shape[1] * shape[2];
        uint32_t C = info.channels;
        if (shape[0] < 2 || shape[1] < 2 || shape[2] < 2) {
            dm_fail(NULL, name, "the volume is %lld x %lld x %lld voxels: marching cubes needs at least 2 along each axis",
                    (long long)shape[2], (long long)shape[1], (long long)shape[0]);
            goto done;
        }
        if (dvren_tensor_create(ctx, DVREN_DTYPE_F32, 3, shape, &grid) != DVREN_OK) {
            dm_fail(NULL, name, "%s", dvren_last_error(ctx));
            goto done;
        }
        for (i = 0; i < n; ++i) ((float*)grid.data)[i] = ((const float*)vox->data)[(size_t)i * C + (uint32_t)s->channel];
        for (a = 0; a < 3; ++a) {
            origin[a] = 0.0f;
            spacing[a] = info.voxel_size[a] > 0 ? info.voxel_size[a] : info.voxel_world;
        }
        direct = 1;
    }
    if (!direct) {
        dvren_scene_desc sd;
        dvren_grid_sample_desc gd;
        memset(&sd, 0, sizeof sd);
        sd.field = sf.field;
        sd.shader = sf.shader;
        sd.sampler = sf.sampler;
        if (dvren_scene_create(ctx, &sd, &scene) != DVREN_OK) {
            dm_fail(NULL, name, "%s", dvren_last_error(ctx));
            goto done;
        }
        memset(&gd, 0, sizeof gd);
        gd.channel = s->channel;
        for (a = 0; a < 3; ++a) {
            if (s->has_box) {
                gd.box_min[a] = s->box[a] + shift[a];
                gd.box_max[a] = s->box[a + 3] + shift[a];
            } else {
                gd.box_min[a] = info.bounds_min[a];
                gd.box_max[a] = info.bounds_max[a];
            }
            if (s->res[0]) {
                gd.res[a] = s->res[a];
            } else {
                /* the field's own voxel grid over the box */
                double vs = info.voxel_size[a] > 0 ? info.voxel_size[a] : info.voxel_world;
                double cells = vs > 0 ? ((double)gd.box_max[a] - gd.box_min[a]) / vs : 63.0;
                double r = floor(cells + 0.5) + 1.0;
                if (!(r <= 2048)) {
                    dm_src_fail(s, "res", "--res",
                                "the field's own grid has %.0f samples along axis %d (box %g, voxel %g): give a grid of "
                                "at most 2048 per axis",
                                r, a, (double)gd.box_max[a] - gd.box_min[a], vs);
                    goto done;
                }
                gd.res[a] = r < 2 ? 2u : (uint32_t)r;
            }
        }
        if (!(gd.box_max[0] > gd.box_min[0] && gd.box_max[1] > gd.box_min[1] && gd.box_max[2] > gd.box_min[2])) {
            dm_src_fail(s, "box", "--box", "the box [%g %g %g] - [%g %g %g] is empty", (double)gd.box_min[0],
                        (double)gd.box_min[1], (double)gd.box_min[2], (double)gd.box_max[0], (double)gd.box_max[1],
                        (double)gd.box_max[2]);
            goto done;
        }
        if (dvren_scene_sample_grid(scene, &gd, &grid) != DVREN_OK) {
            dm_fail(NULL, name, "sampling the field: %s", dvren_last_error(ctx));
            goto done;
        }
        for (a = 0; a < 3; ++a) {
            origin[a] = gd.box_min[a] - shift[a];
            spacing[a] = (float)(((double)gd.box_max[a] - gd.box_min[a]) / (double)(gd.res[a] - 1));
        }
    }
    {
        /* a level outside the values gives no surface: say so instead of writing an empty file */
        size_t n = (size_t)dvren_tensor_numel(&grid), i, above = 0, finite = 0;
        float lo = HUGE_VALF, hi = -HUGE_VALF;
        const float* v = (const float*)grid.data;
        for (i = 0; i < n; ++i) {
            if (!isfinite(v[i])) continue;
            ++finite;
            above += v[i] > (float)s->level;
            if (v[i] < lo) lo = v[i];
            if (v[i] > hi) hi = v[i];
        }
        if (!finite || above == 0 || above == finite) {
            dm_src_fail(s, "level", "--level", "%g gives no surface: the %s%s values lie in [%g, %g]", s->level,
                        s->channel == DVREN_SAMPLE_DENSITY ? "density" : "field's",
                        direct ? " voxel" : " sampled", (double)lo, (double)hi);
            goto done;
        }
    }
    g = &grid;
    if (cuda) {
        /* the grid goes to the GPU and marching cubes runs there */
        if (dvren_cuda_tensor_create(ctx, DVREN_DTYPE_F32, 3, grid.shape, &dgrid) != DVREN_OK ||
            dvren_cuda_copy(ctx, &dgrid, &grid) != DVREN_OK) {
            dm_fail(NULL, "--device", "cuda: uploading the grid: %s", dvren_last_error(ctx));
            goto done;
        }
        g = &dgrid;
    }
    memset(&opt, 0, sizeof opt);
    opt.level = (float)s->level;
    memcpy(opt.origin, origin, sizeof origin);
    memcpy(opt.spacing, spacing, sizeof spacing);
    opt.flags = s->inside_below ? DVREN_MC_INSIDE_BELOW : 0u;
    if (dvren_marching_cubes(ctx, g, &opt, out, &stats) != DVREN_OK) {
        dm_fail(NULL, name, "marching cubes: %s", dvren_last_error(ctx));
        goto done;
    }
    if (s->colors) {
        /* the shader sees the field's world: a volume's mesh moves there and back */
        float* keep = NULL;
        uint32_t i;
        if (!scene) {
            dvren_scene_desc sd;
            memset(&sd, 0, sizeof sd);
            sd.field = sf.field;
            sd.shader = sf.shader;
            sd.sampler = sf.sampler;
            if (dvren_scene_create(ctx, &sd, &scene) != DVREN_OK) {
                dm_fail(NULL, name, "%s", dvren_last_error(ctx));
                goto done;
            }
        }
        if (is_volume && out->vertex_count) {
            keep = (float*)malloc((size_t)out->vertex_count * 3 * sizeof(float));
            if (!keep) {
                dm_fail(NULL, name, "out of memory");
                goto done;
            }
            memcpy(keep, out->positions, (size_t)out->vertex_count * 3 * sizeof(float));
            for (i = 0; i < out->vertex_count; ++i)
                for (a = 0; a < 3; ++a) out->positions[3 * (size_t)i + (size_t)a] += shift[a];
        }
        if (dvren_mesh_shade(scene, out) != DVREN_OK) {
            free(keep);
            dm_src_fail(s, "colors", "--colors", "%s", dvren_last_error(ctx));
            goto done;
        }
        if (keep) memcpy(out->positions, keep, (size_t)out->vertex_count * 3 * sizeof(float));
        free(keep);
    }
    if (s->has_color && dm_fill_color(ctx, out, s->color)) {
        dm_fail(NULL, name, "out of memory for colours");
        goto done;
    }
    rc = 0;
done:
    if (rc) dvren_mesh_free(ctx, out);
    dvren_tensor_destroy(ctx, &dgrid);
    dvren_tensor_destroy(ctx, &grid);
    if (scene) dvren_scene_destroy(scene);
    dvren_scenefile_free(&sf);
    cJSON_Delete(vroot);
    return rc;
}

/* A mesh file (MESH source) into *out, with the source's colour when it has one. */
static int dm_load_mesh(dvren_context* ctx, const dvren_mesh_source* s, uint32_t flags, dvren_mesh* out)
{
    if (dvren_mesh_load(ctx, s->path, flags, out) != DVREN_OK)
        return dm_src_fail(s, "mesh", NULL, "%s", dvren_last_error(ctx));
    if (s->has_color && dm_fill_color(ctx, out, s->color)) {
        dvren_mesh_free(ctx, out);
        return dm_src_fail(s, "color", NULL, "out of memory for colours");
    }
    return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

/* Encodes one mesh for path (by extension) into malloc'ed bytes. */
static int dm_encode(dvren_context* ctx, const char* path, const dvren_mesh* m, const char* name, uint32_t flags,
                     unsigned char** data, size_t* size)
{
    dvren_status st;
    switch (dvren_mesh_format_of(path)) {
    case DVREN_MESH_FORMAT_OBJ: st = dvren_mesh_obj_encode(ctx, m, name, (char**)data, size); break;
    case DVREN_MESH_FORMAT_PLY: st = dvren_mesh_ply_encode(ctx, m, data, size); break;
    case DVREN_MESH_FORMAT_GLB: {
        dvren_mesh_object o;
        memset(&o, 0, sizeof o);
        o.name = name;
        o.mesh = m;
        st = dvren_mesh_glb_encode(ctx, &o, 1, flags, data, size);
        break;
    }
    default: return dm_fail(NULL, "-o", "'%s': give a file ending in .obj, .ply or .glb", path);
    }
    if (st != DVREN_OK) return dm_fail(NULL, "-o", "%s: %s", path, dvren_last_error(ctx));
    return 0;
}

static int dm_write(dvren_context* ctx, const char* path, const unsigned char* data, size_t size)
{
    if (dvren_file_write_atomic(ctx, path, data, size) != DVREN_OK)
        return dm_fail(NULL, "-o", "%s: %s", path, dvren_last_error(ctx));
    return 0;
}

/* The base name of path without its extension, for a default object name. */
static void dm_base_name(const char* path, char* out, size_t cap)
{
    const char* b = strrchr(path, '/');
    const char* dot;
    size_t n;
    b = b ? b + 1 : path;
    dot = strrchr(b, '.');
    n = dot && dot > b ? (size_t)(dot - b) : strlen(b);
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = 0;
    if (!out[0]) snprintf(out, cap, "mesh");
}

/* ---- the command line ----------------------------------------------------------- */

static void dm_usage(FILE* f)
{
    fputs("usage: dvren_mesh extract INPUT --level L -o out.{obj,ply,glb} [options]\n"
          "         INPUT: a scene file (.json) or a volume file (.nhdr .nrrd .mhd .npy .npz .vtk .dat raw)\n"
          "         --channel C | --density     field channel (default 0) or the shader's density\n"
          "         --res X Y Z                 sample grid (default: the field's voxels)\n"
          "         --box x0 y0 z0 x1 y1 z1     sampled box (default: the field's box)\n"
          "         --inside-below              the inside is where value < L\n"
          "         --colors | --color R G B    vertex colours from the shader, or one linear RGB colour\n"
          "         --device cpu|cuda           where marching cubes runs (cuda: a GPU or an error)\n"
          "         --name N                    object name (GLB node, OBJ 'o')\n"
          "         --y-up                      the data is Y-up (GLB: no Z-up-to-Y-up root node)\n"
          "       dvren_mesh convert in.{obj,ply,glb} out.{obj,ply,glb} [--y-up]\n"
          "       dvren_mesh compose scene.json -o out.glb [--splats out.ply] [--device cpu|cuda]\n"
          "       dvren_mesh blocks world.{json,npy,vox}|scene.json -o out.{obj,ply,glb} [--name N]\n"
          "see docs/meshes.md\n",
          f);
}

/* A finite number from argv[i]. */
static int dm_number(const char* opt, const char* text, double* out)
{
    char* end;
    double v;
    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !isfinite(v))
        return dm_fail(NULL, opt, "'%s' is not a finite number", text);
    *out = v;
    return 0;
}

/* n numbers following argv[*i] into out. */
static int dm_numbers(int argc, char** argv, int* i, int n, double* out)
{
    const char* opt = argv[*i];
    int k;
    if (*i + n >= argc) return dm_fail(NULL, opt, "needs %d number%s", n, n == 1 ? "" : "s");
    for (k = 0; k < n; ++k)
        if (dm_number(opt, argv[*i + 1 + k], &out[k])) return 1;
    *i += n;
    return 0;
}

static int dm_has_suffix(const char* s, const char* suf)
{
    size_t n = strlen(s), m = strlen(suf), i;
    if (n < m) return 0;
    for (i = 0; i < m; ++i)
        if ((s[n - m + i] | 0x20) != suf[i]) return 0;
    return 1;
}

static int cmd_extract(int argc, char** argv)
{
    dvren_mesh_source s;
    const char *in = NULL, *out = NULL, *device = NULL, *name = NULL;
    int i, a, density = 0, have_channel = 0, have_level = 0, y_up = 0, rc = 1;
    double v[6];
    char base[128];
    dvren_context* ctx = NULL;
    dvren_mesh m;
    unsigned char* data = NULL;
    size_t size = 0;
    memset(&s, 0, sizeof s);
    memset(&m, 0, sizeof m);
    s.file = "";
    for (i = 2; i < argc; ++i) {
        const char* o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            dm_usage(stdout);
            return 0;
        } else if (!strcmp(o, "-o") || !strcmp(o, "--device") || !strcmp(o, "--name")) {
            if (i + 1 >= argc) return dm_fail(NULL, o, "needs a value");
            if (!strcmp(o, "-o")) out = argv[++i];
            else if (!strcmp(o, "--device")) device = argv[++i];
            else name = argv[++i];
        } else if (!strcmp(o, "--level")) {
            if (dm_numbers(argc, argv, &i, 1, v)) return 1;
            s.level = v[0];
            have_level = 1;
        } else if (!strcmp(o, "--channel")) {
            if (dm_numbers(argc, argv, &i, 1, v)) return 1;
            if (v[0] != floor(v[0]) || v[0] < 0 || v[0] >= DVREN_MAX_CHANNELS)
                return dm_fail(NULL, o, "%g must be an integer in 0..%d", v[0], DVREN_MAX_CHANNELS - 1);
            s.channel = (int32_t)v[0];
            have_channel = 1;
        } else if (!strcmp(o, "--density")) {
            density = 1;
        } else if (!strcmp(o, "--res")) {
            if (dm_numbers(argc, argv, &i, 3, v)) return 1;
            for (a = 0; a < 3; ++a) {
                if (v[a] != floor(v[a]) || v[a] < 2 || v[a] > 4096)
                    return dm_fail(NULL, o, "%g must be an integer in 2..4096", v[a]);
                s.res[a] = (uint32_t)v[a];
            }
        } else if (!strcmp(o, "--box")) {
            if (dm_numbers(argc, argv, &i, 6, v)) return 1;
            for (a = 0; a < 3; ++a)
                if (!((float)v[a] < (float)v[a + 3]))
                    return dm_fail(NULL, o, "min[%d] = %g must be below max[%d] = %g", a, v[a], a, v[a + 3]);
            for (a = 0; a < 6; ++a) s.box[a] = (float)v[a];
            s.has_box = 1;
        } else if (!strcmp(o, "--inside-below")) {
            s.inside_below = 1;
        } else if (!strcmp(o, "--colors")) {
            s.colors = 1;
        } else if (!strcmp(o, "--color")) {
            if (dm_numbers(argc, argv, &i, 3, v)) return 1;
            for (a = 0; a < 3; ++a) {
                if (v[a] < 0 || v[a] > 1) return dm_fail(NULL, o, "%g is outside [0, 1] (linear RGB)", v[a]);
                s.color[a] = (float)v[a];
            }
            s.has_color = 1;
        } else if (!strcmp(o, "--y-up")) {
            y_up = 1;
        } else if (o[0] == '-' || in) {
            dm_usage(stderr);
            return dm_fail(NULL, NULL, "extract: unknown or extra argument '%s'", o);
        } else {
            in = o;
        }
    }
    if (!in) return dm_fail(NULL, NULL, "extract: no input given (a scene .json or a volume file)");
    if (!out) return dm_fail(NULL, NULL, "extract: no output given (-o out.obj|out.ply|out.glb)");
    if (!have_level) return dm_fail(NULL, "--level", "missing: give the iso-level of the surface");
    if (density && have_channel) return dm_fail(NULL, "--density", "give either --channel or --density, not both");
    if (s.colors && s.has_color) return dm_fail(NULL, "--colors", "give either --colors or --color, not both");
    if (dvren_mesh_format_of(out) == DVREN_MESH_FORMAT_UNKNOWN)
        return dm_fail(NULL, "-o", "'%s': give a file ending in .obj, .ply or .glb", out);
    if (density) s.channel = DVREN_SAMPLE_DENSITY;
    s.path = in;
    s.kind = dm_has_suffix(in, ".json") ? DVREN_MESH_SOURCE_SCENE : DVREN_MESH_SOURCE_VOLUME;
    if (!name) {
        dm_base_name(in, base, sizeof base);
        name = base;
    }
    if (dm_context(device, &ctx)) return 1;
    if (dm_extract(ctx, &s, &m)) goto done;
    dm_report(name, &m);
    if (dm_encode(ctx, out, &m, name, y_up ? 0u : DVREN_MESH_IO_Z_UP, &data, &size) || dm_write(ctx, out, data, size))
        goto done;
    fprintf(stderr, "dvren_mesh: wrote %s\n", out);
    rc = 0;
done:
    free(data);
    dvren_mesh_free(ctx, &m);
    if (ctx) dvren_context_destroy(ctx);
    return rc;
}

static int cmd_convert(int argc, char** argv)
{
    const char *in = NULL, *out = NULL;
    int i, y_up = 0, rc = 1;
    char base[128];
    dvren_context* ctx = NULL;
    dvren_mesh m;
    unsigned char* data = NULL;
    size_t size = 0;
    uint32_t flags;
    memset(&m, 0, sizeof m);
    for (i = 2; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            dm_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--y-up")) {
            y_up = 1;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc && !out) {
            out = argv[++i];
        } else if (argv[i][0] == '-' || (in && out)) {
            dm_usage(stderr);
            return dm_fail(NULL, NULL, "convert: unknown or extra argument '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            out = argv[i];
        }
    }
    if (!in || !out) return dm_fail(NULL, NULL, "convert: give an input and an output file (in.obj out.glb)");
    if (dvren_mesh_format_of(in) == DVREN_MESH_FORMAT_UNKNOWN)
        return dm_fail(NULL, in, "give a file ending in .obj, .ply or .glb");
    if (dvren_mesh_format_of(out) == DVREN_MESH_FORMAT_UNKNOWN)
        return dm_fail(NULL, out, "give a file ending in .obj, .ply or .glb");
    flags = y_up ? 0u : DVREN_MESH_IO_Z_UP;
    if (dm_context("cpu", &ctx)) return 1;
    if (dvren_mesh_load(ctx, in, flags, &m) != DVREN_OK) {
        dm_fail(NULL, NULL, "%s", dvren_last_error(ctx));
        goto done;
    }
    dm_base_name(out, base, sizeof base);
    dm_report(in, &m);
    if (dm_encode(ctx, out, &m, base, flags, &data, &size) || dm_write(ctx, out, data, size)) goto done;
    fprintf(stderr, "dvren_mesh: wrote %s\n", out);
    rc = 0;
done:
    free(data);
    dvren_mesh_free(ctx, &m);
    if (ctx) dvren_context_destroy(ctx);
    return rc;
}

/* The splats of one composition object, moved by its transform. */
static int dm_object_splats(dvren_context* ctx, const dvren_mesh_composition* c, const dvren_mesh_compose_object* ob,
                            dvren_splats* s)
{
    char key[256];
    snprintf(key, sizeof key, "%s.splats", ob->source.where);
    memset(s, 0, sizeof *s);
    if (dm_has_suffix(ob->splats, ".npz")) {
        dvren_splat_npz_options o;
        dvren_splat_npz_scene sc;
        memset(&o, 0, sizeof o);
        o.flags = DVREN_SPLAT_NPZ_NO_CROP; /* every point of the file */
        if (dvren_splat_npz_load(ctx, ob->splats, &o, &sc) != DVREN_OK)
            return dm_fail(c->file, key, "%s", dvren_last_error(ctx));
        *s = sc.splats; /* the splats move out of the scene */
        memset(&sc.splats, 0, sizeof sc.splats);
        dvren_splat_npz_scene_free(&sc);
    } else if (dvren_splat_ply_load(ctx, ob->splats, 0, s) != DVREN_OK) {
        return dm_fail(c->file, key, "%s", dvren_last_error(ctx));
    }
    if (dvren_splats_transform(ctx, s, &ob->transform) != DVREN_OK) {
        dvren_splats_free(s);
        return dm_fail(c->file, key, "%s", dvren_last_error(ctx));
    }
    return 0;
}

static int cmd_compose(int argc, char** argv)
{
    const char *in = NULL, *out = NULL, *splats_out = NULL, *device = NULL;
    int i, rc = 1;
    uint32_t k, n_splats = 0, flags;
    dvren_context* ctx = NULL;
    dvren_mesh_composition c;
    dvren_mesh* meshes = NULL;
    dvren_mesh_object* objs = NULL;
    dvren_splats* parts = NULL;
    const dvren_splats** ptrs = NULL;
    dvren_splats all;
    unsigned char *glb = NULL, *ply = NULL;
    size_t glb_size = 0, ply_size = 0;
    memset(&c, 0, sizeof c);
    memset(&all, 0, sizeof all);
    for (i = 2; i < argc; ++i) {
        const char* o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            dm_usage(stdout);
            return 0;
        } else if (!strcmp(o, "-o") || !strcmp(o, "--splats") || !strcmp(o, "--device")) {
            if (i + 1 >= argc) return dm_fail(NULL, o, "needs a value");
            if (!strcmp(o, "-o")) out = argv[++i];
            else if (!strcmp(o, "--splats")) splats_out = argv[++i];
            else device = argv[++i];
        } else if (o[0] == '-' || in) {
            dm_usage(stderr);
            return dm_fail(NULL, NULL, "compose: unknown or extra argument '%s'", o);
        } else {
            in = o;
        }
    }
    if (!in) return dm_fail(NULL, NULL, "compose: no composition file given");
    if (!out) return dm_fail(NULL, NULL, "compose: no output given (-o out.glb)");
    if (dvren_mesh_format_of(out) != DVREN_MESH_FORMAT_GLB)
        return dm_fail(NULL, "-o", "'%s': a composition is written as GLB (give a file ending in .glb)", out);
    if (splats_out && !dm_has_suffix(splats_out, ".ply"))
        return dm_fail(NULL, "--splats", "'%s': the merged splats are written as 3DGS PLY (give a file ending in .ply)",
                       splats_out);
    if (dm_context(device, &ctx)) return 1;
    if (dvren_mesh_composition_load(ctx, in, &c)) {
        dm_fail(NULL, NULL, "%s", c.error);
        goto done;
    }
    flags = c.y_up ? 0u : DVREN_MESH_IO_Z_UP;
    meshes = (dvren_mesh*)calloc(c.count, sizeof *meshes);
    objs = (dvren_mesh_object*)calloc(c.count, sizeof *objs);
    parts = (dvren_splats*)calloc(c.count, sizeof *parts);
    ptrs = (const dvren_splats**)calloc(c.count, sizeof *ptrs);
    if (!meshes || !objs || !parts || !ptrs) {
        dm_fail(in, NULL, "out of memory for %u objects", (unsigned)c.count);
        goto done;
    }
    for (k = 0; k < c.count; ++k) {
        const dvren_mesh_compose_object* ob = &c.objects[k];
        double q[4];
        char label[160];
        int a;
        if (ob->source.kind == DVREN_MESH_SOURCE_MESH ? dm_load_mesh(ctx, &ob->source, flags, &meshes[k])
                                                       : dm_extract(ctx, &ob->source, &meshes[k]))
            goto done;
        snprintf(label, sizeof label, "%s", ob->source.where);
        dm_report(label, &meshes[k]);
        if (dvren_splat_transform_check(ctx, &ob->transform, q, NULL) != DVREN_OK) {
            dm_fail(in, ob->source.where, "transform: %s", dvren_last_error(ctx));
            goto done;
        }
        objs[k].name = ob->name;
        objs[k].mesh = &meshes[k];
        for (a = 0; a < 3; ++a) {
            objs[k].translation[a] = ob->transform.translation[a];
            objs[k].scale[a] = ob->transform.scale;
            objs[k].rotation[a] = q[a + 1]; /* glTF: x y z w */
        }
        objs[k].rotation[3] = q[0];
        if (ob->splats[0] && splats_out) {
            if (dm_object_splats(ctx, &c, ob, &parts[n_splats])) goto done;
            ptrs[n_splats] = &parts[n_splats];
            ++n_splats;
        }
    }
    if (splats_out && n_splats == 0) {
        dm_fail(in, "objects", "--splats %s: no object has \"splats\"", splats_out);
        goto done;
    }
    if (!splats_out)
        for (k = 0; k < c.count; ++k)
            if (c.objects[k].splats[0]) {
                fprintf(stderr, "dvren_mesh: %s: %s has \"splats\": give --splats out.ply to write them\n", in,
                        c.objects[k].source.where);
                break;
            }
    /* everything encoded before anything is written */
    if (dvren_mesh_glb_encode(ctx, objs, c.count, flags, &glb, &glb_size) != DVREN_OK) {
        dm_fail(NULL, "-o", "%s: %s", out, dvren_last_error(ctx));
        goto done;
    }
    if (n_splats) {
        if (dvren_splats_concat(ctx, ptrs, n_splats, &all) != DVREN_OK ||
            dvren_splat_ply_encode(ctx, &all, &ply, &ply_size) != DVREN_OK) {
            dm_fail(NULL, "--splats", "%s: %s", splats_out, dvren_last_error(ctx));
            goto done;
        }
    }
    if (dm_write(ctx, out, glb, glb_size)) goto done;
    if (n_splats && dvren_file_write_atomic(ctx, splats_out, ply, ply_size) != DVREN_OK) {
        dm_fail(NULL, "--splats", "%s: %s", splats_out, dvren_last_error(ctx));
        remove(out); /* all or nothing */
        goto done;
    }
    fprintf(stderr, "dvren_mesh: wrote %s (%u node%s)", out, (unsigned)c.count, c.count == 1 ? "" : "s");
    if (n_splats)
        fprintf(stderr, " and %s (%.0f Gaussians from %u object%s)", splats_out, (double)all.count, (unsigned)n_splats,
                n_splats == 1 ? "" : "s");
    fputc('\n', stderr);
    rc = 0;
done:
    free(glb);
    free(ply);
    for (k = 0; meshes && k < c.count; ++k) dvren_mesh_free(ctx, &meshes[k]);
    for (k = 0; parts && k < n_splats; ++k) dvren_splats_free(&parts[k]);
    dvren_splats_free(&all);
    free(meshes);
    free(objs);
    free(parts);
    free(ptrs);
    dvren_mesh_composition_free(&c);
    if (ctx) dvren_context_destroy(ctx);
    return rc;
}

/* A JSON file with a "field" (a scene file, docs/scenes.md) rather than a
 * dvren.blocks/1 world. */
static int dm_is_scene_file(const char* path)
{
    size_t n = 0;
    char* text;
    cJSON* root;
    int scene = 0;
    char err[256];
    if (!dm_has_suffix(path, ".json")) return 0;
    if (!(text = dvren_io_read_file(path, DVREN_SCENEFILE_MAX_BYTES, &n, err, sizeof err))) return 0; /* the loader will say why */
    root = cJSON_ParseWithLength(text, n);
    scene = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "field") != NULL;
    cJSON_Delete(root);
    free(text);
    return scene;
}

/* The world of the blocks command: a world file (.json, .npy, .vox:
 * dvren_blocks_load), or a scene file whose field is block_world, whose
 * parameters world, materials, label_logit, scale and origin are used
 * (paths as the scene reader resolves them: ${DVREN_DATA}, relative to the
 * scene's folder); the scene's mode is not: the mesh is the hard mode's. */
static int dm_blocks_world(const char* in, dvren_blocks_world* w)
{
    dvren_scenefile sf;
    const cJSON *field, *plugin, *params, *j;
    char world[DVREN_SCENEFILE_PATH], materials[DVREN_SCENEFILE_PATH];
    dvren_blocks_load_options lo;
    int rc = 1, a;
    if (!dm_is_scene_file(in)) {
        if (dvren_blocks_load(w, in, NULL) != 0) return dm_fail(NULL, NULL, "%s", w->error);
        return 0;
    }
    memset(&sf, 0, sizeof sf);
    memset(&lo, 0, sizeof lo);
    if (dvren_scenefile_load(&sf, in)) {
        dm_fail(NULL, NULL, "%s", sf.error);
        goto done;
    }
    field = cJSON_GetObjectItemCaseSensitive(sf.root, "field");
    plugin = cJSON_GetObjectItemCaseSensitive(field, "plugin");
    params = cJSON_GetObjectItemCaseSensitive(field, "params");
    if (!cJSON_IsString(plugin) || strcmp(plugin->valuestring, "block_world") != 0) {
        dm_fail(in, "field.plugin", "is %s%s%s: the blocks command takes a block_world field (or a world file)",
                cJSON_IsString(plugin) ? "'" : dvren_json_type(plugin), cJSON_IsString(plugin) ? plugin->valuestring : "",
                cJSON_IsString(plugin) ? "'" : "");
        goto done;
    }
    j = cJSON_GetObjectItemCaseSensitive(params, "world");
    if (!cJSON_IsString(j)) {
        dm_fail(in, "field.params.world", "must be the world's file (a string), got %s", dvren_json_type(j));
        goto done;
    }
    /* the scene reader's own path rule (tools/dvren_scene.h, compiled into this file) */
    if (dvs__path(&sf, j->valuestring, "field.params.world", world, sizeof world)) {
        dm_fail(NULL, NULL, "%s", sf.error);
        goto done;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(params, "materials")) != NULL) {
        if (!cJSON_IsString(j)) {
            dm_fail(in, "field.params.materials", "must be a file (a string), got %s", dvren_json_type(j));
            goto done;
        }
        if (dvs__path(&sf, j->valuestring, "field.params.materials", materials, sizeof materials)) {
            dm_fail(NULL, NULL, "%s", sf.error);
            goto done;
        }
        lo.materials_path = materials;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(params, "label_logit")) != NULL) {
        if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || !isfinite(j->valuedouble)) {
            dm_fail(in, "field.params.label_logit", "must be a finite number > 0");
            goto done;
        }
        lo.label_logit = (float)j->valuedouble;
    }
    if (dvren_blocks_load(w, world, &lo) != 0) {
        dm_fail(in, "field.params.world", "%s", w->error);
        goto done;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(params, "scale")) != NULL) {
        if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || !isfinite((float)j->valuedouble)) {
            dm_fail(in, "field.params.scale", "must be a finite number > 0");
            goto done;
        }
        w->scale = (float)j->valuedouble;
    }
    if ((j = cJSON_GetObjectItemCaseSensitive(params, "origin")) != NULL) {
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 3) {
            dm_fail(in, "field.params.origin", "must be an array of 3 numbers, got %s", dvren_json_type(j));
            goto done;
        }
        for (a = 0; a < 3; ++a) {
            const cJSON* e = cJSON_GetArrayItem(j, a);
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
                dm_fail(in, "field.params.origin", "[%d] must be a finite number", a);
                goto done;
            }
            w->origin[a] = (float)e->valuedouble;
        }
    }
    rc = 0;
done:
    if (rc) dvren_blocks_free(w);
    dvren_scenefile_free(&sf);
    return rc;
}

static int cmd_blocks(int argc, char** argv)
{
    const char *in = NULL, *out = NULL, *name = NULL;
    int i, rc = 1;
    char base[128];
    dvren_context* ctx = NULL;
    dvren_blocks_world w;
    dvren_mesh m;
    unsigned char* data = NULL;
    size_t size = 0;
    memset(&w, 0, sizeof w);
    memset(&m, 0, sizeof m);
    for (i = 2; i < argc; ++i) {
        const char* o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            dm_usage(stdout);
            return 0;
        } else if (!strcmp(o, "-o") || !strcmp(o, "--name")) {
            if (i + 1 >= argc) return dm_fail(NULL, o, "needs a value");
            if (!strcmp(o, "-o")) out = argv[++i];
            else name = argv[++i];
        } else if (o[0] == '-' || in) {
            dm_usage(stderr);
            return dm_fail(NULL, NULL, "blocks: unknown or extra argument '%s'", o);
        } else {
            in = o;
        }
    }
    if (!in) return dm_fail(NULL, NULL, "blocks: no world file given (.json, .npy or .vox)");
    if (!out) return dm_fail(NULL, NULL, "blocks: no output given (-o out.obj|out.ply|out.glb)");
    if (dvren_mesh_format_of(out) == DVREN_MESH_FORMAT_UNKNOWN)
        return dm_fail(NULL, "-o", "'%s': give a file ending in .obj, .ply or .glb", out);
    if (!name) {
        dm_base_name(in, base, sizeof base);
        name = base;
    }
    if (dm_context("cpu", &ctx)) return 1;
    if (dm_blocks_world(in, &w)) goto done;
    if (dvren_blocks_mesh_build(ctx, &w, &m) != DVREN_OK) {
        dm_fail(in, NULL, "%s", dvren_last_error(ctx));
        goto done;
    }
    dm_report(name, &m);
    /* a block world's y is up, as glTF's */
    if (dm_encode(ctx, out, &m, name, 0u, &data, &size) || dm_write(ctx, out, data, size)) goto done;
    fprintf(stderr, "dvren_mesh: wrote %s (%u blocks)\n", out, (unsigned)w.block_count);
    rc = 0;
done:
    free(data);
    dvren_mesh_free(ctx, &m);
    dvren_blocks_free(&w);
    if (ctx) dvren_context_destroy(ctx);
    return rc;
}

int main(int argc, char** argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        dm_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!strcmp(argv[1], "extract")) return cmd_extract(argc, argv);
    if (!strcmp(argv[1], "convert")) return cmd_convert(argc, argv);
    if (!strcmp(argv[1], "compose")) return cmd_compose(argc, argv);
    if (!strcmp(argv[1], "blocks")) return cmd_blocks(argc, argv);
    dm_usage(stderr);
    return dm_fail(NULL, NULL, "unknown command '%s' (extract, convert, compose, blocks)", argv[1]);
}
