/* tests/test_register_cuda.c - image registration on the GPU
 * (plugins/phase_correlation through dvren.host.cuda/1 and cuFFT): the
 * same images give the same shifts on the GPU as on the CPU (every plane
 * layout, every method, uint8/uint16/float32 images); batches chosen under
 * a memory limit give bitwise the results of one batch; a limit too small
 * for one image is OUT_OF_MEMORY with the bytes needed; images already in
 * device memory give bitwise the results of host images. Skips without a
 * GPU (CI has none; bench/register.sh runs it on the GPU machine).
 *
 * The images: a smooth random texture (sums of seeded Gaussian blobs, plus
 * a little white noise), the moving ones its circular shifts by integers
 * (the CPU-GPU comparison does not need a known sub-pixel truth, but the
 * integers are checked too). */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#include "harness.h"

#define W 384
#define H 288
#define N_MOVING 5

static const int shifts[N_MOVING][2] = {{3, -5}, {-8, 11}, {0, 1}, {17, -2}, {-1, -9}};

static float* make_texture(uint32_t channels, unsigned seed)
{
    float* img = (float*)calloc((size_t)W * H * channels, sizeof(float));
    unsigned s = seed;
    int b, y, x;
    uint32_t c;
    for (b = 0; b < 120; ++b) {
        float cy, cx, r, a[3];
        s = s * 1664525u + 1013904223u;
        cy = (float)(s >> 8) / 16777216.0f * H;
        s = s * 1664525u + 1013904223u;
        cx = (float)(s >> 8) / 16777216.0f * W;
        s = s * 1664525u + 1013904223u;
        r = 2.0f + 10.0f * (float)(s >> 8) / 16777216.0f;
        for (c = 0; c < 3; ++c) {
            s = s * 1664525u + 1013904223u;
            a[c] = (float)(s >> 8) / 16777216.0f;
        }
        for (y = 0; y < H; ++y)
            for (x = 0; x < W; ++x) {
                float dy = (float)y - cy, dx = (float)x - cx, g;
                dy -= H * floorf(dy / H + 0.5f); /* periodic */
                dx -= W * floorf(dx / W + 0.5f);
                g = expf(-(dy * dy + dx * dx) / (2.0f * r * r));
                for (c = 0; c < channels; ++c) img[((size_t)y * W + x) * channels + c] += 40.0f * a[c] * g;
            }
    }
    for (y = 0; y < W * H * (int)channels; ++y) {
        s = s * 1664525u + 1013904223u;
        img[y] += (float)(s >> 8) / 16777216.0f;
    }
    return img;
}

/* The image in dtype (0 u8, 1 u16, 2 f32), circularly shifted by (ty, tx):
 * out(y, x) = src(y - ty, x - tx). */
static void* shifted(const float* src, uint32_t channels, int dtype, int ty, int tx)
{
    size_t n = (size_t)W * H * channels, i;
    void* out = malloc(n * (dtype == 0 ? 1u : dtype == 1 ? 2u : 4u));
    int y, x;
    uint32_t c;
    for (y = 0; y < H; ++y)
        for (x = 0; x < W; ++x)
            for (c = 0; c < channels; ++c) {
                float v = src[(((size_t)((y - ty + 10 * H) % H)) * W + (size_t)((x - tx + 10 * W) % W)) * channels + c];
                i = ((size_t)y * W + x) * channels + c;
                if (dtype == 0) ((uint8_t*)out)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                else if (dtype == 1) ((uint16_t*)out)[i] = (uint16_t)(v * 100.0f);
                else ((float*)out)[i] = v;
            }
    return out;
}

static dvren_context* cuda_ctx(void)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    d.backend = dvren_cuda_backend();
    if (dvren_context_create(&d, &ctx) != DVREN_OK) return NULL;
    return ctx;
}

static dvren_stage* model(dvren_context* ctx, const char* method)
{
    dvren_params* p = NULL;
    dvren_stage* st = NULL;
    if (dvren_params_create(ctx, &p) != DVREN_OK) return NULL;
    dvren_params_set_string(p, "method", method);
    dvren_stage_create(ctx, DVREN_PLUGIN_REGISTRATION, "phase_correlation", p, &st);
    dvren_params_destroy(p);
    return st;
}

typedef struct layout_case {
    const char* name;
    uint32_t channels;
    int dtype;
    dvren_cfa cfa;
    uint32_t grey;
    int period;
} layout_case;

static const layout_case layouts[] = {
    {"grey f32", 1, 2, DVREN_CFA_NONE, 0, 1},  {"rgb u8", 3, 0, DVREN_CFA_NONE, 0, 1},
    {"rgb as grey u8", 3, 0, DVREN_CFA_NONE, 1, 1}, {"GRBG u16", 1, 1, DVREN_CFA_GRBG, 0, 2},
    {"RGGB f32", 1, 2, DVREN_CFA_RGGB, 0, 2},  {"X-Trans u16", 1, 1, DVREN_CFA_XTRANS, 0, 6},
};

/* One layout's images: ref and N_MOVING shifted copies (freed by free_set). */
typedef struct image_set {
    void* ref;
    void* mov[N_MOVING];
    dvren_register_input in;
} image_set;

static void make_set(const layout_case* L, image_set* s)
{
    float* tex = make_texture(L->channels, 7u);
    int i;
    s->ref = shifted(tex, L->channels, L->dtype, 0, 0);
    for (i = 0; i < N_MOVING; ++i) s->mov[i] = shifted(tex, L->channels, L->dtype, shifts[i][0], shifts[i][1]);
    free(tex);
    memset(&s->in, 0, sizeof s->in);
    s->in.struct_size = sizeof s->in;
    s->in.width = W;
    s->in.height = H;
    s->in.channels = L->channels;
    s->in.dtype = L->dtype == 0 ? DVREN_DTYPE_U8 : L->dtype == 1 ? DVREN_DTYPE_U16 : DVREN_DTYPE_F32;
    s->in.memory = DVREN_MEMORY_HOST;
    s->in.reference = s->ref;
    s->in.moving = (const void* const*)s->mov;
    s->in.count = N_MOVING;
    s->in.cfa = L->cfa;
    s->in.grey = L->grey;
}

static void free_set(image_set* s)
{
    int i;
    free(s->ref);
    for (i = 0; i < N_MOVING; ++i) free(s->mov[i]);
}

TEST(gpu_matches_cpu)
{
    static const char* methods[] = {"integer", "parabolic", "upsampled"};
    dvren_context *gpu = cuda_ctx(), *cpu = NULL;
    size_t l, m;
    int i;
    if (!gpu) SKIP("no CUDA context: %s", dvren_last_error(NULL));
    CHECK_OK(NULL, dvren_context_create(NULL, &cpu));
    for (l = 0; l < sizeof layouts / sizeof layouts[0]; ++l)
        for (m = 0; m < 3; ++m) {
            image_set set;
            dvren_register_result rc[N_MOVING], rg[N_MOVING];
            dvren_stage *mc = model(cpu, methods[m]), *mg = model(gpu, methods[m]);
            dvren_status a, b;
            CHECK(mc && mg, "models: %s", dvren_last_error(gpu));
            make_set(&layouts[l], &set);
            a = dvren_register(mc, &set.in, rc, NULL);
            b = dvren_register(mg, &set.in, rg, NULL);
            free_set(&set);
            dvren_stage_destroy(mc);
            dvren_stage_destroy(mg);
            CHECK(a == DVREN_OK, "%s %s on the CPU: %s", layouts[l].name, methods[m], dvren_last_error(cpu));
            CHECK(b == DVREN_OK, "%s %s on the GPU: %s", layouts[l].name, methods[m], dvren_last_error(gpu));
            for (i = 0; i < N_MOVING; ++i) {
                /* the upsampled grid's step is 1/100 px: float rounding may pick the neighbouring point */
                double tol = m == 0 ? 0.0 : m == 1 ? 2e-3 : 0.0101;
                printf("  %-14s %-9s image %d: cpu (%8.4f, %8.4f) gpu (%8.4f, %8.4f) peak %.4f / %.4f\n",
                       layouts[l].name, methods[m], i, rc[i].dy, rc[i].dx, rg[i].dy, rg[i].dx, rc[i].peak, rg[i].peak);
                CHECK(fabs(rc[i].dy - rg[i].dy) <= tol && fabs(rc[i].dx - rg[i].dx) <= tol,
                      "%s %s image %d: CPU (%g, %g), GPU (%g, %g)", layouts[l].name, methods[m], i, rc[i].dy,
                      rc[i].dx, rg[i].dy, rg[i].dx);
                CHECK(fabs(rc[i].peak - rg[i].peak) <= 2e-3, "%s %s image %d: peak %g vs %g", layouts[l].name,
                      methods[m], i, rc[i].peak, rg[i].peak);
                /* integer shifts: exact for grey/RGB to the upsampled grid's step; on mosaics the planes of this
                 * texture alias (the test's blobs are small), which moves the estimate by a few hundredths; the
                 * parabola's vertex is biased towards the planes' integers by up to 1/8 plane pixel */
                double tol_truth = layouts[l].period > 1 ? (m == 1 ? 0.125 * layouts[l].period : 0.05)
                                                         : (m == 1 ? 0.15 : 0.0101);
                if (layouts[l].period <= 2 ||
                    (shifts[i][0] % layouts[l].period == 0 && shifts[i][1] % layouts[l].period == 0))
                    CHECK(fabs(rg[i].dy + shifts[i][0]) <= tol_truth && fabs(rg[i].dx + shifts[i][1]) <= tol_truth,
                          "%s %s image %d: GPU (%g, %g), truth (%d, %d)", layouts[l].name, methods[m], i, rg[i].dy,
                          rg[i].dx, -shifts[i][0], -shifts[i][1]);
            }
        }
    dvren_context_destroy(cpu);
    dvren_context_destroy(gpu);
}

TEST(gpu_batches_under_a_memory_limit)
{
    dvren_context* gpu = cuda_ctx();
    image_set set;
    dvren_register_result whole[N_MOVING], parts[N_MOVING];
    dvren_register_report r1, r2, r3;
    dvren_stage* m;
    dvren_status s;
    if (!gpu) SKIP("no CUDA context: %s", dvren_last_error(NULL));
    m = model(gpu, "upsampled");
    CHECK(m, "model: %s", dvren_last_error(gpu));
    make_set(&layouts[3], &set);
    memset(&r1, 0, sizeof r1);
    r1.struct_size = sizeof r1;
    r2 = r1;
    r3 = r1;
    CHECK_OK(gpu, dvren_register(m, &set.in, whole, &r1));
    CHECK(r1.batches == 1 && r1.batch_size == N_MOVING, "unlimited: %u batches of %u", (unsigned)r1.batches,
          (unsigned)r1.batch_size);
    /* room for the reference and about two images */
    set.in.memory_limit = r1.peak_bytes / 2;
    CHECK_OK(gpu, dvren_register(m, &set.in, parts, &r2));
    printf("  unlimited: %u x %u, %.2f MB; limit %.2f MB: %u batches of %u, %.2f MB\n", (unsigned)r1.batches,
           (unsigned)r1.batch_size, r1.peak_bytes / 1e6, set.in.memory_limit / 1e6, (unsigned)r2.batches,
           (unsigned)r2.batch_size, r2.peak_bytes / 1e6);
    CHECK(r2.batches > 1 && r2.peak_bytes <= set.in.memory_limit, "limited: %u batches, %llu bytes held",
          (unsigned)r2.batches, (unsigned long long)r2.peak_bytes);
    CHECK(!memcmp(whole, parts, sizeof whole), "batched results differ from one batch");
    set.in.memory_limit = 100000;
    s = dvren_register(m, &set.in, parts, &r3);
    CHECK(s == DVREN_ERROR_OUT_OF_MEMORY && strstr(dvren_last_error(gpu), "needs"), "tiny limit: %s: %s",
          dvren_status_string(s), dvren_last_error(gpu));
    free_set(&set);
    dvren_stage_destroy(m);
    dvren_context_destroy(gpu);
}

TEST(gpu_device_memory_input)
{
    dvren_context* gpu = cuda_ctx();
    image_set set;
    dvren_register_result host[N_MOVING], dev[N_MOVING];
    dvren_tensor t[N_MOVING + 1];
    const void* ptr[N_MOVING];
    dvren_stage* m;
    int64_t shape[2] = {H, W};
    int i;
    if (!gpu) SKIP("no CUDA context: %s", dvren_last_error(NULL));
    m = model(gpu, "upsampled");
    CHECK(m, "model: %s", dvren_last_error(gpu));
    make_set(&layouts[3], &set);
    CHECK_OK(gpu, dvren_register(m, &set.in, host, NULL));
    for (i = 0; i <= N_MOVING; ++i) {
        dvren_tensor src;
        CHECK_OK(gpu, dvren_cuda_tensor_create(gpu, DVREN_DTYPE_U16, 2, shape, &t[i]));
        CHECK_OK(gpu, dvren_tensor_wrap(i == 0 ? set.ref : set.mov[i - 1], DVREN_DTYPE_U16, 2, shape, NULL, &src));
        CHECK_OK(gpu, dvren_cuda_copy(gpu, &t[i], &src));
        if (i) ptr[i - 1] = t[i].data;
    }
    set.in.memory = DVREN_MEMORY_DEVICE;
    set.in.reference = t[0].data;
    set.in.moving = ptr;
    CHECK_OK(gpu, dvren_register(m, &set.in, dev, NULL));
    CHECK(!memcmp(host, dev, sizeof host), "device-memory input gives other results than host input");
    for (i = 0; i <= N_MOVING; ++i) dvren_tensor_destroy(gpu, &t[i]);
    free_set(&set);
    dvren_stage_destroy(m);
    dvren_context_destroy(gpu);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(gpu_matches_cpu);
    RUN(gpu_batches_under_a_memory_limit);
    RUN(gpu_device_memory_input);
    return th_done();
}
