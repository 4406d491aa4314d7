/* plugins/render_error/render_error.c - host side of the "render_error"
 * saliency model (kind DVREN_PLUGIN_SALIENCY, interface "dvren.saliency/1").
 *
 * Importance from the renderer's own evidence, the way adaptive samplers in
 * production renderers decide where more samples pay off: where the
 * preview's estimate is noisy relative to its brightness, and where the
 * image has structure that few samples resolve badly (silhouettes and depth
 * discontinuities). Inputs (wants = VARIANCE | ALPHA | DEPTH; the host
 * passes NULL for what the framebuffer lacks):
 *   - rgb (always): linear radiance, for the luminance;
 *   - variance (DVREN_OUTPUT_VARIANCE): the variance of the pixel's mean
 *     luminance over its rays (kernels/dvren_march.h, dvren_pixel_mean:
 *     sample variance / n; 0 at 1 spp);
 *   - alpha: opacity 1 - T; depth: expected ray distance, 0 off the object.
 *
 * The map is a weighted sum of four terms, each scaled to [0, 1] by a high
 * percentile of its non-zero values and clamped, then divided by its
 * maximum (the passes, and why a histogram percentile, are in
 * render_error_device.h):
 *   error (weight_error, default 1): the relative error
 *       sqrt(variance) / (luminance + epsilon),
 *     the pixel's standard error relative to its value: the quantity
 *     adaptive samplers compare with a noise threshold. Pharr, Jakob and
 *     Humphreys, PBRT 4th ed. (2023), estimate per-pixel variance with
 *     Welford's algorithm and expose the relative variance Var/mean
 *     (VarianceEstimator::RelativeVariance in pbrt-v4's util/math.h);
 *     Blender Cycles' adaptive sampling follows Dammertz et al., "A
 *     Hierarchical Automatic Stopping Condition for Monte Carlo Global
 *     Illumination" (WSCG 2010), whose error is divided by the square root
 *     of the pixel's intensity. Dividing by the luminance (plus epsilon, so
 *     that near-black pixels do not dominate) follows the eye's roughly
 *     constant contrast threshold (Weber's law): the same absolute noise is
 *     far more visible on a dark pixel than on a bright one.
 *   alpha edges (weight_alpha_edges, default 0.5): Sobel magnitude of alpha:
 *     silhouettes, which few samples alias.
 *   depth edges (weight_depth_edges, default 0.5): Sobel magnitude of the
 *     depth divided by the depth range of the object, only where
 *     alpha > alpha_threshold (a neighbour off the object counts as the
 *     centre's depth, so the silhouette is not counted twice): folds and
 *     overlapping structures inside the silhouette.
 *   luma edges (weight_luma_edges, default 0): Sobel magnitude of the
 *     luminance: image structure, for previews without variance or alpha.
 * Without variance (NULL, or a 1-spp preview whose variance is 0) the map
 * comes from the edge terms alone; with no usable term at all it is 0
 * everywhere (a [WARN] line says so), which dvren_importance_budget treats
 * as a flat map.
 *
 * CPU and GPU: the per-pixel code is written once (render_error_device.h,
 * DVREN_FN). On a CPU context (in->memory HOST) render_error.c runs it in
 * loops; on a CUDA context (in->memory DEVICE) it fetches the kernels of the
 * same file through the host service "dvren.host.cuda/1" (kernel(),
 * launch(), mem_alloc/mem_free, driver_proc) and the map never leaves the
 * GPU. Both take the same passes with the same integer statistics, so they
 * agree to float rounding. Device input without the CUDA service, or host
 * input on a GPU context, is an error: no silent fallback to the CPU.
 *
 * Scratch memory: one float plane per computed term (W*H*4 bytes each) and
 * 16 KiB of statistics, freed before compute() returns. Cost on the CPU:
 * one thread, about 0.1 us per pixel and term (a 1920x1080 map with three
 * terms in 0.23 s on the 2-core CI machine; a 448-pixel preview in ~25 ms).
 * On the GPU: seven small kernels on the context's stream, then one stream
 * synchronisation before the scratch is freed.
 *
 * The map is sparse by nature (edges and noisy pixels); the pipeline's
 * post-processing (dvren_importance_postprocess: closing, blur) spreads it
 * into regions. Threads: compute() runs on the calling (context's) thread. */
#include "dvren.h"
#include "render_error_device.h"

#include <string.h>

static const dvren_param_desc render_error_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "weight_error",
                .doc = "weight of the relative error sqrt(variance) / (luminance + epsilon) (needs the variance output)",
                .unit = "", .default_number = 1.0, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "weight_alpha_edges",
                .doc = "weight of the Sobel magnitude of alpha (silhouettes)", .unit = "", .default_number = 0.5,
                .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "weight_depth_edges",
                .doc = "weight of the Sobel magnitude of depth / depth range, on the object only", .unit = "",
                .default_number = 0.5, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "weight_luma_edges",
                .doc = "weight of the Sobel magnitude of the luminance (image structure; for previews without variance)",
                .unit = "", .default_number = 0.0, .flags = DVREN_PARAM_HAS_MIN, .min_value = 0.0),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "epsilon",
                .doc = "added to the luminance in the relative error, so that near-black pixels do not dominate",
                .unit = "radiance", .default_number = 0.01,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE, .min_value = 0.0),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "percentile",
                .doc = "percentile of each term's non-zero values that maps to 1 (above: clamped)", .unit = "%",
                .default_number = 99.0, .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE | DVREN_PARAM_HAS_MAX,
                .min_value = 0.0, .max_value = 100.0),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "alpha_threshold",
                .doc = "depth edges count only where alpha is above this", .unit = "", .default_number = 0.05,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_HAS_MAX | DVREN_PARAM_MAX_EXCLUSIVE, .min_value = 0.0,
                .max_value = 1.0),
};

/* One instance: the parameters (the block's weights and constants). */
typedef struct render_error_instance {
    render_error_block params; /* width, height, terms, alpha_mask filled per call */
} render_error_instance;

static dvren_status render_error_create(const dvren_host* h, const dvren_params* p, void** out)
{
    static const char* const wname[RENDER_ERROR_TERMS] = {"weight_error", "weight_alpha_edges", "weight_depth_edges",
                                                         "weight_luma_edges"};
    render_error_instance* s;
    double total = 0.0;
    int k;
    for (k = 0; k < RENDER_ERROR_TERMS; ++k) total += h->param_number(p, wname[k]);
    if (!(total > 0.0))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "give at least one of the weights a value > 0",
                       "parameters 'weight_error', 'weight_alpha_edges', 'weight_depth_edges' and "
                       "'weight_luma_edges' are all 0: the map would be empty");
    s = (render_error_instance*)h->alloc(h, sizeof *s);
    if (!s) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(s, 0, sizeof *s);
    for (k = 0; k < RENDER_ERROR_TERMS; ++k) s->params.weight[k] = (float)h->param_number(p, wname[k]);
    s->params.epsilon = (float)h->param_number(p, "epsilon");
    s->params.percentile = (float)h->param_number(p, "percentile");
    s->params.alpha_threshold = (float)h->param_number(p, "alpha_threshold");
    *out = s;
    return DVREN_OK;
}

static void render_error_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(render_error_instance)); }

static dvren_status render_error_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = 0; /* saliency models have no per-sample block */
    return DVREN_OK;
}

static dvren_status render_error_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    (void)block;
    return DVREN_OK; /* never called for saliency models */
}

/* ---- CPU: the passes of render_error_device.h as loops ---- */

static void render_error_max_key(uint32_t* dst, uint32_t key)
{
    if (key > *dst) *dst = key;
}

static void render_error_cpu(const render_error_block* B, const dvren_saliency_input* in, float* terms,
                             render_error_stats* S, float* map)
{
    uint32_t N = B->width * B->height, i, x, y, k, slot;
    float t[RENDER_ERROR_TERMS];
    if (B->terms & (1u << RENDER_ERROR_T_DEPTH))
        for (i = 0; i < N; ++i) {
            uint32_t hi, lo_inv;
            if (render_error_range_pixel(B, in->alpha, in->depth, i, &hi, &lo_inv)) {
                render_error_max_key(&S->depth_hi, hi);
                render_error_max_key(&S->depth_lo_inv, lo_inv);
            }
        }
    for (y = 0; y < B->height; ++y)
        for (x = 0; x < B->width; ++x) {
            i = y * B->width + x;
            render_error_terms_pixel(B, in->rgb, in->alpha, in->depth, in->variance, S, x, y, t);
            for (k = 0, slot = 0; k < RENDER_ERROR_TERMS; ++k) {
                if (!(B->terms & (1u << k))) continue;
                terms[(size_t)slot * N + i] = t[k];
                render_error_max_key(&S->term_max[k], render_error_key(t[k]));
                ++slot;
            }
        }
    for (k = 0, slot = 0; k < RENDER_ERROR_TERMS; ++k) {
        float vmax;
        if (!(B->terms & (1u << k))) continue;
        vmax = S->term_max[k] ? render_error_unkey(S->term_max[k]) : 0.0f;
        if (vmax > 0.0f) {
            const float* p = terms + (size_t)slot * N;
            for (i = 0; i < N; ++i)
                if (p[i] > 0.0f) S->hist[k * RENDER_ERROR_BINS + render_error_bin(p[i], vmax)]++;
            S->scale[k] = render_error_scale(S->hist + k * RENDER_ERROR_BINS, vmax, B->percentile);
        }
        ++slot;
    }
    for (i = 0; i < N; ++i) {
        map[i] = render_error_combine_pixel(B, terms, S, i);
        render_error_max_key(&S->map_max, render_error_key(map[i]));
    }
    for (i = 0; i < N; ++i) map[i] = render_error_normalize(S, map[i]);
}

/* ---- GPU: the same passes as kernels on the context's stream ---- */

typedef int (*render_error_cu_sync_fn)(void* stream); /* cuStreamSynchronize */

static dvren_status render_error_gpu(const dvren_host* h, const dvren_host_cuda* cu, const render_error_block* Bp,
                                     const dvren_saliency_input* in, uint32_t nterms, float* map)
{
    static const char* const names[7] = {"render_error_clear_kernel",   "render_error_range_kernel",
                                         "render_error_terms_kernel",   "render_error_hist_kernel",
                                         "render_error_scale_kernel",   "render_error_combine_kernel",
                                         "render_error_normalize_kernel"};
    render_error_block B = *Bp;
    void* fn[7];
    void* terms = NULL;
    void* stats = NULL;
    size_t terms_bytes = (size_t)nterms * B.width * B.height * sizeof(float);
    uint32_t N = B.width * B.height, words = (uint32_t)(sizeof(render_error_stats) / 4u);
    uint32_t one[3] = {1u, 1u, 1u}, blk[3] = {RENDER_ERROR_THREADS, 1u, 1u}, grid[3] = {1u, 1u, 1u};
    uint32_t pix_blocks = (N + RENDER_ERROR_THREADS - 1u) / RENDER_ERROR_THREADS;
    const float *rgb = in->rgb, *alpha = in->alpha, *depth = in->depth, *variance = in->variance;
    render_error_cu_sync_fn sync = (render_error_cu_sync_fn)(uintptr_t)cu->driver_proc(h, "cuStreamSynchronize");
    dvren_status st = DVREN_OK;
    int k, rc;
    if (!sync) return h->fail(h, DVREN_ERROR_DEVICE, NULL, "the CUDA driver has no cuStreamSynchronize");
    for (k = 0; k < 7; ++k)
        if ((st = cu->kernel(h, names[k], &fn[k])) != DVREN_OK) return st;
    if ((st = cu->mem_alloc(h, sizeof(render_error_stats), &stats)) != DVREN_OK) return st;
    if (terms_bytes && (st = cu->mem_alloc(h, terms_bytes, &terms)) != DVREN_OK) goto cleanup;
    {
        void* args[] = {&stats, &words};
        grid[0] = (words + RENDER_ERROR_THREADS - 1u) / RENDER_ERROR_THREADS;
        if ((st = cu->launch(h, fn[0], grid, blk, 0, args)) != DVREN_OK) goto cleanup;
    }
    grid[0] = pix_blocks;
    if (B.terms & (1u << RENDER_ERROR_T_DEPTH)) {
        void* args[] = {&B, &alpha, &depth, &stats};
        if ((st = cu->launch(h, fn[1], grid, blk, 0, args)) != DVREN_OK) goto cleanup;
    }
    {
        void* args[] = {&B, &rgb, &alpha, &depth, &variance, &terms, &stats};
        if ((st = cu->launch(h, fn[2], grid, blk, 0, args)) != DVREN_OK) goto cleanup;
    }
    {
        /* a grid-stride loop: enough blocks to fill the GPU, few enough
         * that flushing each block's shared histogram stays cheap */
        void* args[] = {&B, &terms, &stats};
        grid[0] = pix_blocks < 1024u ? pix_blocks : 1024u;
        if ((st = cu->launch(h, fn[3], grid, blk, 0, args)) != DVREN_OK) goto cleanup;
    }
    {
        void* args[] = {&B, &stats};
        uint32_t b4[3] = {RENDER_ERROR_TERMS, 1u, 1u};
        if ((st = cu->launch(h, fn[4], one, b4, 0, args)) != DVREN_OK) goto cleanup;
    }
    grid[0] = pix_blocks;
    {
        void* args[] = {&B, &terms, &stats, &map};
        if ((st = cu->launch(h, fn[5], grid, blk, 0, args)) != DVREN_OK) goto cleanup;
    }
    {
        void* args[] = {&B, &stats, &map};
        if ((st = cu->launch(h, fn[6], grid, blk, 0, args)) != DVREN_OK) goto cleanup;
    }
cleanup:
    /* the scratch is freed only once the kernels that read it are done,
     * whatever the pool does with freed memory */
    rc = sync(cu->stream);
    if (rc != 0 && st == DVREN_OK)
        st = h->fail(h, DVREN_ERROR_DEVICE, NULL, "cuStreamSynchronize failed with CUDA error %d", rc);
    if (terms) cu->mem_free(h, terms, terms_bytes);
    if (stats) cu->mem_free(h, stats, sizeof(render_error_stats));
    return st;
}

static dvren_status render_error_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in, float* map)
{
    const render_error_instance* s = (const render_error_instance*)inst;
    const dvren_host_cuda* cu = (const dvren_host_cuda*)h->get_interface(h, DVREN_HOST_CUDA);
    render_error_block B = s->params;
    uint32_t k, nterms = 0;
    size_t N;
    if (!in || !map || !in->rgb || in->width == 0 || in->height == 0)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "compute() needs rgb, a size and a map");
    if (in->memory == DVREN_MEMORY_DEVICE && !cu)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL,
                       "the input is in device memory but the host offers no '%s' service", DVREN_HOST_CUDA);
    if (in->memory != DVREN_MEMORY_DEVICE && cu)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "pass device arrays on a GPU context",
                       "the input is in host memory on a GPU context (the model does not fall back to the CPU)");
    B.width = in->width;
    B.height = in->height;
    B.alpha_mask = in->alpha != NULL;
    B.terms = 0;
    if (B.weight[RENDER_ERROR_T_ERROR] > 0.0f && in->variance) B.terms |= 1u << RENDER_ERROR_T_ERROR;
    if (B.weight[RENDER_ERROR_T_ALPHA] > 0.0f && in->alpha) B.terms |= 1u << RENDER_ERROR_T_ALPHA;
    if (B.weight[RENDER_ERROR_T_DEPTH] > 0.0f && in->depth) B.terms |= 1u << RENDER_ERROR_T_DEPTH;
    if (B.weight[RENDER_ERROR_T_LUMA] > 0.0f) B.terms |= 1u << RENDER_ERROR_T_LUMA;
    for (k = 0; k < RENDER_ERROR_TERMS; ++k) nterms += (B.terms >> k) & 1u;
    if (nterms == 0)
        h->log(h, DVREN_LOG_WARN, DVREN_TAG_STEP,
               "no term can be computed (no variance, alpha or depth for the weights given, and weight_luma_edges "
               "is 0): the map is 0 everywhere");
    N = (size_t)in->width * in->height;
    if (N > 0x40000000u)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL, "image of %ux%u pixels is larger than 2^30 pixels",
                       (unsigned)in->width, (unsigned)in->height);
    if (in->memory == DVREN_MEMORY_DEVICE) return render_error_gpu(h, cu, &B, in, nterms, map);
    {
        render_error_stats* S = (render_error_stats*)h->alloc(h, sizeof *S);
        float* terms = nterms ? (float*)h->alloc(h, (size_t)nterms * N * sizeof(float)) : NULL;
        if (!S || (nterms && !terms)) {
            if (S) h->free(h, S, sizeof *S);
            if (terms) h->free(h, terms, (size_t)nterms * N * sizeof(float));
            return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory for %u term planes of %ux%u pixels",
                           (unsigned)nterms, (unsigned)in->width, (unsigned)in->height);
        }
        memset(S, 0, sizeof *S);
        render_error_cpu(&B, in, terms, S, map);
        if (terms) h->free(h, terms, (size_t)nterms * N * sizeof(float));
        h->free(h, S, sizeof *S);
    }
    return DVREN_OK;
}

static const dvren_instance_iface render_error_inst = {
    .struct_size = sizeof(dvren_instance_iface), .create = render_error_create, .destroy = render_error_destroy,
    .describe = render_error_describe, .bind = render_error_bind};
static const dvren_saliency_iface render_error_saliency = {
    .struct_size = sizeof(dvren_saliency_iface),
    .wants = DVREN_OUTPUT_VARIANCE | DVREN_OUTPUT_ALPHA | DVREN_OUTPUT_DEPTH,
    .flags = 0,
    .compute = render_error_compute};

DVREN_PLUGIN_INTERFACES(render_error_get_interface, render_error_inst, DVREN_IFACE_SALIENCY, render_error_saliency)

static const dvren_plugin_desc render_error_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SALIENCY,
    .name = "render_error",
    .version = (1u << 16) | 0u,
    .summary = "importance from the preview's relative error sqrt(variance)/luminance and its alpha/depth edges",
    .params = render_error_params,
    .param_count = sizeof render_error_params / sizeof render_error_params[0],
    .device_source_file = "render_error_device.h",
    .get_interface = render_error_get_interface,
};

DVREN_PLUGIN_LIBRARY(&render_error_desc)
