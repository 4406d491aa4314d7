/* tests/test_realdata.c - renders the real CT head and checks a fact the
 * renderer cannot fake: the alpha mask of an orthographic view along each
 * axis matches the silhouette of the thresholded volume projected along that
 * axis by this test itself (IoU > 0.95). The test reads the 93 raw slices on
 * its own (int16 little-endian, 64 x 64, x fastest: ../shared/data/README.md),
 * not through dense_grid's NRRD loader. Also checks the stent's facts
 * through the .npz loader. Skips when the data is absent. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

enum { NX = 64, NY = 64, NZ = 93 };

static int16_t* ct_read_slices(void)
{
    int16_t* v = (int16_t*)malloc(sizeof(int16_t) * NX * NY * NZ);
    int z;
    if (!v) return NULL;
    for (z = 0; z < NZ; ++z) {
        char rel[64];
        const char* path;
        FILE* f;
        unsigned char b[NX * NY * 2];
        int i;
        snprintf(rel, sizeof rel, "ct_head/quarter.%d", z + 1);
        path = th_data(rel);
        f = path ? fopen(path, "rb") : NULL;
        if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
            if (f) fclose(f);
            free(v);
            return NULL;
        }
        fclose(f);
        for (i = 0; i < NX * NY; ++i) v[z * NX * NY + i] = (int16_t)(b[2 * i] | (b[2 * i + 1] << 8));
    }
    return v;
}

/* Nearest voxel index of world coordinate w on an axis of n node-centred
 * voxels spanning [-e/2, e/2]. */
static int nearest(double w, double e, int n)
{
    int i = (int)floor((w + e / 2) / e * (n - 1) + 0.5);
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

TEST(ct_head_silhouettes)
{
    /* world box of dense_grid's default fit: centred, longest side 2 */
    const double ext[3] = {2.0, 2.0, 2.0 * (92 * 1.5) / (63 * 3.2)};
    const int dims[3] = {NX, NY, NZ};
    static const double thresholds[2] = {500.0, 1150.0}; /* skin, bone (VTK's headsq examples) */
    const char* found = th_data("ct_head/quarter.nhdr");
    char nhdr[4096];
    int16_t* vol;
    dvren_context* ctx;
    dvren_params* p;
    dvren_stage* field;
    int axis, k;
    if (!found) SKIP("no CT head in $DVREN_DATA (%s)", getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "unset");
    snprintf(nhdr, sizeof nhdr, "%s", found); /* th_data's buffers are reused below */
    vol = ct_read_slices();
    CHECK(vol, "cannot read the slices quarter.1 .. quarter.93");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "file", nhdr));
    field = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    CHECK(field, "load: %s", dvren_last_error(ctx));
    for (k = 0; k < 2; ++k)
        for (axis = 0; axis < 3; ++axis) {
            /* view along +axis: image u, v are the other two axes */
            int ua = axis == 0 ? 1 : 0, va = axis == 2 ? 1 : 2;
            double thr = thresholds[k], px = 2.0 / 126; /* pixel: half the x/y voxel */
            int W = (int)ceil(ext[ua] / px), H = (int)ceil(ext[va] / px), x, y, inter = 0, uni = 0;
            double tfo[8];
            float eye[3] = {0, 0, 0}, target[3] = {0, 0, 0}, up[3] = {0, 0, 0};
            dvren_stage *shader, *sampler;
            dvren_plan_desc pd;
            dvren_framebuffer* fb;
            const float* al;
            tfo[0] = 0; tfo[1] = 0; tfo[2] = thr; tfo[3] = 0; tfo[4] = thr; tfo[5] = 1; tfo[6] = 4000; tfo[7] = 1;
            CHECK_OK(ctx, dvren_params_create(ctx, &p));
            dvren_params_set_numbers(p, "tf_opacity", tfo, 8);
            dvren_params_set_number(p, "sigma_scale", 2000.0);
            shader = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
            sampler = th_uniform_sampler(ctx, 0);
            CHECK(shader && sampler, "stages: %s", dvren_last_error(ctx));
            /* camera on the -axis side looking along +axis, image right = +u, image up = +v */
            eye[axis] = -4.0f;
            up[va] = 1.0f;
            memset(&pd, 0, sizeof pd);
            pd.width = (uint32_t)W;
            pd.height = (uint32_t)H;
            pd.outputs = DVREN_OUTPUT_ALPHA;
            th_march(&pd, 0, 0.25 * (1.5 * 2.0 / 201.6), 1e-4); /* the uniform sampler's old default threshold */
            CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, (float)(H * px), &pd.camera));
            fb = th_render(ctx, field, shader, sampler, &pd, 0);
            CHECK(fb, "render: %s", dvren_last_error(ctx));
            al = th_out(fb, DVREN_OUTPUT_ALPHA);
            for (y = 0; y < H; ++y)
                for (x = 0; x < W; ++x) {
                    /* the pixel's world position on the image plane */
                    dvren_float3 o, d;
                    double w[3];
                    int idx[3], t, hit = 0;
                    dvren_camera_ray(&pd.camera, x + 0.5f, y + 0.5f, (float)W, (float)H, &o, &d);
                    w[0] = o.x;
                    w[1] = o.y;
                    w[2] = o.z;
                    idx[ua] = nearest(w[ua], ext[ua], dims[ua]);
                    idx[va] = nearest(w[va], ext[va], dims[va]);
                    if (fabs(w[ua]) <= ext[ua] / 2 && fabs(w[va]) <= ext[va] / 2)
                        for (t = 0; t < dims[axis] && !hit; ++t) {
                            idx[axis] = t;
                            hit = vol[(idx[2] * NY + idx[1]) * NX + idx[0]] > thr;
                        }
                    inter += hit && al[y * W + x] > 0.5f;
                    uni += hit || al[y * W + x] > 0.5f;
                }
            CHECK(uni > 1000, "threshold %g axis %d: silhouette too small (%d px)", thr, axis, uni);
            printf("# threshold %g, view along axis %d: IoU %.4f (%d / %d px)\n", thr, axis, (double)inter / uni, inter, uni);
            CHECK((double)inter / uni > 0.95, "threshold %g axis %d: IoU %.4f", thr, axis, (double)inter / uni);
            dvren_framebuffer_destroy(fb);
            dvren_stage_destroy(shader);
            dvren_stage_destroy(sampler);
        }
    dvren_stage_destroy(field);
    dvren_context_destroy(ctx);
    free(vol);
}

/* The MR head (MetaImage) loads and renders: non-empty, inside its box. */
TEST(mr_head_renders)
{
    const char* mhd = th_data("mr_head/HeadMRVolume.mhd");
    const float eye[3] = {0, -3.5f, 0}, target[3] = {0, 0, 0}, up[3] = {0, 0, 1};
    double tfo[6] = {0, 0, 40, 0, 80, 1};
    dvren_context* ctx;
    dvren_params* p;
    dvren_stage *f, *s, *m;
    dvren_plan_desc pd;
    dvren_framebuffer* fb;
    const float* al;
    int i, n = 0;
    if (!mhd) SKIP("no MR head in $DVREN_DATA");
    ctx = th_ctx();
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    dvren_params_set_string(p, "file", mhd);
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    dvren_params_set_numbers(p, "tf_opacity", tfo, 6);
    dvren_params_set_number(p, "sigma_scale", 50);
    s = th_stage(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p);
    m = th_stage(ctx, DVREN_PLUGIN_SAMPLER, "uniform", NULL);
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 64;
    CHECK_OK(NULL, dvren_camera_look_at(eye, target, up, 0.7f, &pd.camera));
    fb = th_render(ctx, f, s, m, &pd, 0);
    CHECK(fb, "render: %s", dvren_last_error(ctx));
    al = th_out(fb, DVREN_OUTPUT_ALPHA);
    for (i = 0; i < 64 * 64; ++i) n += al[i] > 0.5f;
    CHECK(n > 600 && n < 3000, "opaque pixels: %d", n);
    CHECK(al[0] == 0.0f && al[63] == 0.0f, "corners are empty");
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    dvren_context_destroy(ctx);
}

/* The stent data set (stent/stent.npz, ../shared/data/README.md): one
 * deflated member arr_0.npy, int16 (Z, Y, X) = (256, 128, 128), values 0 to
 * 2000, mean 35.3982, read through dense_grid's .npz loader. */
TEST(stent_npz)
{
    const char* path = th_data("stent/stent.npz");
    dvren_context* ctx;
    dvren_params* p;
    dvren_stage* s = NULL;
    dvren_instance_info info;
    const dvren_tensor* t;
    double lo = HUGE_VAL, hi = -HUGE_VAL, sum = 0.0;
    size_t i, n;
    if (!path) SKIP("no stent/stent.npz in $DVREN_DATA");
    ctx = th_ctx();
    CHECK(dvren_params_create(ctx, &p) == DVREN_OK, "params");
    dvren_params_set_string(p, "file", path);
    dvren_params_set_string(p, "storage", "auto");
    CHECK_OK(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p, &s));
    dvren_params_destroy(p);
    memset(&info, 0, sizeof info);
    CHECK_OK(ctx, dvren_stage_info(s, &info));
    CHECK(info.buffer_count == 1, "one buffer");
    t = &info.buffers[0].tensor;
    /* int16 is kept exactly: u16 storage, offset -32768 (like NRRD's short) */
    CHECK(t->dtype == DVREN_DTYPE_U16 && t->ndim == 4, "stored as %s", dvren_dtype_name(t->dtype));
    CHECK(t->shape[0] == 256 && t->shape[1] == 128 && t->shape[2] == 128 && t->shape[3] == 1,
          "shape %lld %lld %lld %lld", (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2],
          (long long)t->shape[3]);
    n = (size_t)dvren_tensor_numel(t);
    for (i = 0; i < n; ++i) {
        double x = (double)((const uint16_t*)t->data)[i] - 32768.0;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        sum += x;
    }
    CHECK(lo == 0 && hi == 2000, "min %g max %g, expected 0 2000", lo, hi);
    CHECK(fabs(sum / (double)n - 35.3982) < 1e-4, "mean %.6f, expected 35.3982", sum / (double)n);
    dvren_stage_destroy(s);
    dvren_context_destroy(ctx);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(ct_head_silhouettes);
    RUN(mr_head_renders);
    RUN(stent_npz);
    return th_done();
}
