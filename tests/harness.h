/* tests/harness.h - dvren's small test harness.
 *
 * A test program defines test functions and runs them from main():
 *
 *     #include "harness.h"
 *     TEST(slab_transmittance) { CHECK(fabs(t - exp(-1.0)) < 1e-4, "T = %g", t); }
 *     int main(void) { RUN(slab_transmittance); return th_done(); }
 *
 * Each test prints one line: "PASS prog/name", "FAIL prog/name: file:line:
 * message" or "SKIP prog/name: reason"; tests/run.sh counts them. CHECK
 * stops the test at its first failure. The program's exit status is 1 when
 * a test failed, so a crash is also seen as a failure by the runner.
 *
 * Helpers: th_ctx() makes a context (plugins from $DVREN_PLUGIN_PATH,
 * which run.sh points at build/plugins), th_data() finds real data under
 * $DVREN_DATA, th_tmp() a scratch file path, th_render() renders a scene. */
#ifndef DVREN_TEST_HARNESS_H
#define DVREN_TEST_HARNESS_H

#include "dvren.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* th_prog = "test";
static const char* th_name = "";
static int th_failed, th_passed, th_skipped, th_current_failed, th_current_skipped;

static inline void th_fail_at(const char* file, int line, const char* cond, const char* fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("FAIL %s/%s: %s:%d: %s (%s)\n", th_prog, th_name, file, line, msg, cond);
    fflush(stdout);
    th_current_failed = 1;
}

#define TEST(name) static void test_##name(void)
#define CHECK(cond, ...)                                            \
    do {                                                            \
        if (!(cond)) {                                              \
            th_fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
            return;                                                 \
        }                                                           \
    } while (0)
/* Checks that a dvren call succeeded; the message is the library's error. */
#define CHECK_OK(ctx, call)                                                                              \
    do {                                                                                                 \
        dvren_status th_s_ = (call);                                                                     \
        if (th_s_ != DVREN_OK) {                                                                         \
            th_fail_at(__FILE__, __LINE__, #call, "%s: %s", dvren_status_string(th_s_), dvren_last_error(ctx)); \
            return;                                                                                      \
        }                                                                                                \
    } while (0)
#define SKIP(...)                                                   \
    do {                                                            \
        printf("SKIP %s/%s: ", th_prog, th_name);                   \
        printf(__VA_ARGS__);                                        \
        printf("\n");                                               \
        fflush(stdout);                                             \
        th_current_skipped = 1;                                     \
        return;                                                     \
    } while (0)
#define RUN(name)                                                            \
    do {                                                                     \
        th_name = #name;                                                     \
        th_current_failed = th_current_skipped = 0;                          \
        test_##name();                                                       \
        if (th_current_failed) th_failed++;                                  \
        else if (th_current_skipped) th_skipped++;                           \
        else {                                                               \
            th_passed++;                                                     \
            printf("PASS %s/%s\n", th_prog, th_name);                        \
            fflush(stdout);                                                  \
        }                                                                    \
    } while (0)

static inline int th_done(void) { return th_failed ? 1 : 0; }

/* The test program's name from argv[0] (for the PASS/FAIL lines). */
static inline void th_init(int argc, char** argv)
{
    const char* s;
    (void)argc;
    th_prog = argv[0];
    s = strrchr(th_prog, '/');
    if (s) th_prog = s + 1;
    /* the sanitizer build runs as "<name>.san"; run.sh labels those lines */
    {
        static char name[256];
        size_t n = strlen(th_prog);
        snprintf(name, sizeof name, "%s", th_prog);
        if (n > 4 && n < sizeof name && !strcmp(name + n - 4, ".san")) name[n - 4] = 0;
        th_prog = name;
    }
}

/* A context with log lines suppressed unless DVREN_TEST_LOG is set. */
static inline dvren_context* th_ctx_threads(uint32_t threads)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    memset(&d, 0, sizeof d);
    d.threads = threads;
    if (getenv("DVREN_TEST_LOG")) d.log = dvren_log_to_file;
    if (dvren_context_create(&d, &ctx) != DVREN_OK) {
        printf("FAIL %s/%s: cannot create a context: %s\n", th_prog, th_name, dvren_last_error(NULL));
        exit(1);
    }
    return ctx;
}
static inline dvren_context* th_ctx(void) { return th_ctx_threads(0); }

/* Path of a file of the real data, or NULL when $DVREN_DATA (default
 * ../shared/data) does not hold it. */
static inline const char* th_data(const char* rel)
{
    static char buf[4][4096];
    static int k;
    const char* d = getenv("DVREN_DATA");
    FILE* f;
    char* out = buf[k++ & 3];
    snprintf(out, 4096, "%s/%s", d && *d ? d : "../shared/data", rel);
    f = fopen(out, "rb");
    if (!f) return NULL;
    fclose(f);
    return out;
}

/* A scratch path in $DVREN_TEST_TMP (run.sh makes one per run), else /tmp. */
static inline const char* th_tmp(const char* name)
{
    static char buf[8][4096];
    static int k;
    const char* d = getenv("DVREN_TEST_TMP");
    char* out = buf[k++ & 7];
    snprintf(out, 4096, "%s/%s", d && *d ? d : "/tmp", name);
    return out;
}

/* Writes bytes to a file; returns 0 on success. */
static inline int th_write_file(const char* path, const void* data, size_t n)
{
    FILE* f = fopen(path, "wb");
    if (!f) return -1;
    if (n && fwrite(data, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

static inline int th_exists(const char* path)
{
    FILE* f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Creates a stage; params may be NULL and are destroyed here. NULL on error
 * (the message is in dvren_last_error(ctx)). */
static inline dvren_stage* th_stage(dvren_context* ctx, dvren_plugin_kind kind, const char* name, dvren_params* p)
{
    dvren_stage* s = NULL;
    if (dvren_stage_create(ctx, kind, name, p, &s) != DVREN_OK) s = NULL;
    dvren_params_destroy(p);
    return s;
}

/* CRC-32 (ISO-HDLC / zip / zlib's, reflected polynomial 0xEDB88320), bit
 * by bit: the tests' own, independent of the code under test. */
static inline uint32_t th_crc32(const unsigned char* p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; ++i) {
        c ^= p[i];
        for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* The whole file at path (malloc'ed, *size bytes), or NULL. */
static inline unsigned char* th_read_file(const char* path, long* size)
{
    FILE* f = fopen(path, "rb");
    unsigned char* bytes = NULL;
    *size = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (*size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        bytes = (unsigned char*)malloc((size_t)*size);
        if (bytes && fread(bytes, 1, (size_t)*size, f) != (size_t)*size) {
            free(bytes);
            bytes = NULL;
        }
    }
    fclose(f);
    return bytes;
}

/* The uniform sampler, jitter on or off. */
static inline dvren_stage* th_uniform_sampler(dvren_context* ctx, int jitter)
{
    dvren_params* p = NULL;
    dvren_params_create(ctx, &p);
    dvren_params_set_bool(p, "jitter", jitter);
    return th_stage(ctx, DVREN_PLUGIN_SAMPLER, "uniform", p);
}

/* The march settings, which the plan owns: samples per ray (0: by step),
 * step in world units (0: half the field's voxel), early ray termination
 * below min_t transmittance (0: off here; the plan's 0 means its default). */
static inline void th_march(dvren_plan_desc* pd, int samples, double step, double min_t)
{
    pd->samples_per_ray = (uint32_t)samples;
    pd->step_world = (float)step;
    pd->min_transmittance = min_t > 0.0 ? (float)min_t : -1.0f;
}

/* Renders field/shader/sampler with the plan into a new framebuffer (NULL
 * on error). threads 0: the context's. */
static inline dvren_framebuffer* th_render(dvren_context* ctx, dvren_stage* field, dvren_stage* shader, dvren_stage* sampler,
                                    const dvren_plan_desc* pd, uint32_t threads)
{
    dvren_scene_desc sd;
    dvren_scene* scene = NULL;
    dvren_plan* plan = NULL;
    dvren_framebuffer* fb = NULL;
    dvren_render_options ro;
    memset(&sd, 0, sizeof sd);
    memset(&ro, 0, sizeof ro);
    sd.field = field;
    sd.shader = shader;
    sd.sampler = sampler;
    ro.threads = threads;
    if (dvren_scene_create(ctx, &sd, &scene) != DVREN_OK || dvren_plan_create(ctx, pd, &plan) != DVREN_OK ||
        dvren_framebuffer_create(ctx, plan, &fb) != DVREN_OK || dvren_render(scene, plan, fb, &ro) != DVREN_OK) {
        dvren_framebuffer_destroy(fb);
        fb = NULL;
    }
    dvren_plan_destroy(plan);
    dvren_scene_destroy(scene);
    return fb;
}

/* Pointer to one float output of a framebuffer (NULL if absent). */
static inline const float* th_out(const dvren_framebuffer* fb, uint32_t bit)
{
    dvren_tensor t;
    if (!fb || dvren_framebuffer_output(fb, bit, &t) != DVREN_OK) return NULL;
    return (const float*)t.data;
}


#endif
