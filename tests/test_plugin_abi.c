/* tests/test_plugin_abi.c - the plugin ABI against mock plugins
 * (tests/mock_plugins/, each .c built by tests/run.sh into $DVREN_TEST_MOCK_DIR):
 *
 *   - a current-ABI library with two plugins registers both; loading it again
 *     (by path or by name) is a no-op; it renders the analytic slab;
 *   - search paths: the context's plugin_path (searched first), then
 *     $DVREN_PLUGIN_PATH; a missing name lists the folders searched;
 *   - an older plugin (shorter structs, garbage past struct_size, partial
 *     instance info) loads, validates its parameters and renders;
 *   - refusals, each with its status and message: a plugin that declines,
 *     ABI 2.0, no entry symbol, a missing interface, a duplicate name (all
 *     or nothing), a file that is not a library, the wrong kind, a create()
 *     that fails through host->fail, a describe() with 0 channels or an
 *     empty box; after each, the context still loads and renders;
 *   - no memory leaks on any of these paths (a counting allocator), and
 *     libraries closed when refused and when their context goes (Linux);
 *   - the shipped plugins and the mocks export exactly one dynamic symbol,
 *     dvren_plugin_entry (nm -D; SKIP without nm). */
#define _POSIX_C_SOURCE 200809L /* setenv, popen, mkdir */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------ */

/* Allocator that counts live blocks and bytes: every path must give all back. */
typedef struct counter {
    long blocks;
    long long bytes;
} counter;

static void* count_alloc(size_t size, size_t align, void* user)
{
    counter* c = (counter*)user;
    void* p;
    if (align < sizeof(void*)) align = sizeof(void*);
    p = aligned_alloc(align, (size + align - 1) / align * align);
    if (p) {
        c->blocks++;
        c->bytes += (long long)size;
    }
    return p;
}

static void count_free(void* ptr, size_t size, void* user)
{
    counter* c = (counter*)user;
    c->blocks--;
    c->bytes -= (long long)size;
    free(ptr);
}

/* A context whose allocations go through c, with extra plugin folders
 * plugin_path (may be NULL). Exits on failure, like th_ctx. */
static dvren_context* new_ctx(counter* c, const char* plugin_path)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    memset(&d, 0, sizeof d);
    memset(c, 0, sizeof *c);
    d.allocator.alloc = count_alloc;
    d.allocator.free = count_free;
    d.allocator.user = c;
    d.plugin_path = plugin_path;
    if (getenv("DVREN_TEST_LOG")) d.log = dvren_log_to_file;
    if (dvren_context_create(&d, &ctx) != DVREN_OK) {
        printf("FAIL %s/%s: cannot create a context: %s\n", th_prog, th_name, dvren_last_error(NULL));
        exit(1);
    }
    return ctx;
}

/* Destroys ctx and checks that everything it allocated came back. */
#define CHECK_DESTROY(ctx, c)                                                                            \
    do {                                                                                                 \
        dvren_context_destroy(ctx);                                                                      \
        CHECK((c).blocks == 0 && (c).bytes == 0, "leak: %ld blocks, %lld bytes still allocated",        \
              (c).blocks, (c).bytes);                                                                    \
    } while (0)

static const char* mock_dir(void)
{
    const char* d = getenv("DVREN_TEST_MOCK_DIR");
    return d && *d ? d : NULL;
}

/* "<mock dir>/<name>.so" (rotating static buffers). */
static const char* mock_path(const char* name)
{
    static char buf[8][4096];
    static int k;
    char* out = buf[k++ & 7];
    snprintf(out, 4096, "%s/%s%s", mock_dir() ? mock_dir() : ".", name, DVREN__LIB_EXT);
    return out;
}

#define NEED_MOCKS()                                                                   \
    do {                                                                               \
        if (!mock_dir()) SKIP("DVREN_TEST_MOCK_DIR is not set (run through tests/run.sh)"); \
        if (!th_exists(mock_path("mock_good"))) SKIP("no %s", mock_path("mock_good"));  \
    } while (0)

/* Checks that call fails with status want and that the context's last error
 * contains every one of the strings that follow. */
#define CHECK_ERROR(ctx, call, want, ...)                                                                     \
    do {                                                                                                      \
        dvren_status s_ = (call);                                                                             \
        const char* const subs_[] = {__VA_ARGS__, NULL};                                                      \
        int k_;                                                                                               \
        CHECK(s_ == (want), "%s gave %s, expected %s: %s", #call, dvren_status_string(s_),                   \
              dvren_status_string(want), dvren_last_error(ctx));                                              \
        for (k_ = 0; subs_[k_]; ++k_)                                                                         \
            CHECK(strstr(dvren_last_error(ctx), subs_[k_]) != NULL, "the message of %s lacks '%s': \"%s\"",   \
                  #call, subs_[k_], dvren_last_error(ctx));                                                   \
    } while (0)

/* Index of the registered plugin of this kind and name, or -1. */
static int registered(const dvren_context* ctx, dvren_plugin_kind kind, const char* name)
{
    uint32_t i;
    for (i = 0; i < dvren_plugin_count(ctx); ++i) {
        const dvren_plugin_desc* d = dvren_plugin_at(ctx, i, NULL);
        if (d && d->kind == kind && strcmp(d->name, name) == 0) return (int)i;
    }
    return -1;
}

/* Renders a 4 x 4 image of field `field` (its parameter `param` set to
 * sigma) with shader mock_white (density = channel 0, white) and the uniform
 * sampler, through an orthographic camera looking down -z at [-1,1]^3: every
 * ray crosses 2 world units of constant density, so alpha = 1 - exp(-2 sigma)
 * and rgb = alpha (white light, black background). Loads mock_good.so by
 * path first (a no-op when it is loaded). NULL when all is well, else what
 * went wrong. */
static const char* render_const(dvren_context* ctx, const char* field, const char* param, double sigma)
{
    static char why[4096];
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    const double alpha = 1.0 - exp(-2.0 * sigma);
    dvren_stage *f = NULL, *s = NULL, *m = NULL;
    dvren_params* p = NULL;
    dvren_plan_desc pd;
    dvren_framebuffer* fb = NULL;
    const float *a, *rgb;
    int i;
    why[0] = 0;
    if (dvren_plugin_load(ctx, mock_path("mock_good")) != DVREN_OK) {
        snprintf(why, sizeof why, "loading mock_good: %s", dvren_last_error(ctx));
        return why;
    }
    if (dvren_params_create(ctx, &p) != DVREN_OK || dvren_params_set_number(p, param, sigma) != DVREN_OK) {
        dvren_params_destroy(p);
        snprintf(why, sizeof why, "params: %s", dvren_last_error(ctx));
        return why;
    }
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, field, p);
    if (f) s = th_stage(ctx, DVREN_PLUGIN_SHADER, "mock_white", NULL);
    if (s) m = th_stage(ctx, DVREN_PLUGIN_SAMPLER, "uniform", NULL);
    if (!m) {
        snprintf(why, sizeof why, "stages %s/mock_white/uniform: %s", field, dvren_last_error(ctx));
        goto done;
    }
    memset(&pd, 0, sizeof pd);
    pd.width = pd.height = 4;
    pd.outputs = DVREN_OUTPUT_RGB | DVREN_OUTPUT_ALPHA;
    if (dvren_camera_orthographic(eye, target, up, 1.0f, &pd.camera) != DVREN_OK) {
        snprintf(why, sizeof why, "camera: %s", dvren_last_error(NULL));
        goto done;
    }
    fb = th_render(ctx, f, s, m, &pd, 0);
    a = th_out(fb, DVREN_OUTPUT_ALPHA);
    rgb = th_out(fb, DVREN_OUTPUT_RGB);
    if (!a || !rgb) {
        snprintf(why, sizeof why, "render: %s", dvren_last_error(ctx));
        goto done;
    }
    for (i = 0; i < 16; ++i) {
        if (fabs(a[i] - alpha) > 1e-5 || fabs(rgb[3 * i] - alpha) > 1e-5 || fabs(rgb[3 * i + 2] - alpha) > 1e-5) {
            snprintf(why, sizeof why, "%s with sigma %g: pixel %d alpha %.7f rgb %.7f, expected 1 - exp(-2 sigma) = %.7f",
                     field, sigma, i, (double)a[i], (double)rgb[3 * i], alpha);
            goto done;
        }
    }
done:
    dvren_framebuffer_destroy(fb);
    dvren_stage_destroy(m);
    dvren_stage_destroy(s);
    dvren_stage_destroy(f);
    return why[0] ? why : NULL;
}

/* The context still works: mock_good loads (or is there) and renders. */
#define CHECK_USABLE(ctx)                                                        \
    do {                                                                         \
        const char* why_ = render_const((ctx), "mock_const", "value", 0.5);      \
        CHECK(why_ == NULL, "context unusable after the failure: %s", why_);     \
    } while (0)

/* ---- a current-ABI library ---------------------------------------------- */

TEST(good_library_registers_both_plugins)
{
    counter c;
    dvren_context* ctx;
    const dvren_plugin_desc *d0, *d1, *found;
    const char *lib0 = NULL, *lib1 = NULL;
    const dvren_param_desc* pd;
    const char* why;
    NEED_MOCKS();
    ctx = new_ctx(&c, NULL);
    CHECK(dvren_plugin_count(ctx) == 0, "a new context has %u plugins", dvren_plugin_count(ctx));
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK(dvren_plugin_count(ctx) == 2, "%u plugins registered, expected 2", dvren_plugin_count(ctx));
    d0 = dvren_plugin_at(ctx, 0, &lib0);
    d1 = dvren_plugin_at(ctx, 1, &lib1);
    CHECK(d0 && d1 && !dvren_plugin_at(ctx, 2, NULL), "dvren_plugin_at");
    CHECK(d0->kind == DVREN_PLUGIN_FIELD && !strcmp(d0->name, "mock_const"), "first: %s %s",
          dvren_plugin_kind_name(d0->kind), d0->name);
    CHECK(d1->kind == DVREN_PLUGIN_SHADER && !strcmp(d1->name, "mock_white"), "second: %s %s",
          dvren_plugin_kind_name(d1->kind), d1->name);
    CHECK(lib0 && lib1 && !strcmp(lib0, mock_path("mock_good")) && !strcmp(lib1, lib0), "library paths %s, %s",
          lib0 ? lib0 : "(null)", lib1 ? lib1 : "(null)");
    CHECK(d0->version == (1u << 16) && d0->param_count == 1, "version %x, %u params", d0->version, d0->param_count);
    pd = dvren_plugin_param(d0, 0);
    CHECK(pd && !strcmp(pd->name, "value") && pd->type == DVREN_PARAM_FLOAT && !dvren_plugin_param(d0, 1),
          "schema of mock_const");
    CHECK_OK(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_FIELD, "mock_const", &found));
    CHECK(found == d0, "find mock_const");
    CHECK_OK(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_SHADER, "mock_white", &found));
    CHECK(found == d1, "find mock_white");
    CHECK_OK(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_INVALID, "mock_white", &found)); /* any kind */
    CHECK(found == d1, "find mock_white of any kind");
    why = render_const(ctx, "mock_const", "value", 0.8);
    CHECK(!why, "%s", why);
    CHECK_DESTROY(ctx, c);
}

TEST(loading_twice_is_a_noop)
{
    counter c;
    dvren_context* ctx;
    const char* lib = NULL;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK(dvren_plugin_count(ctx) == 2, "%u plugins after loading the path twice", dvren_plugin_count(ctx));
    /* by name through the search path: the same library, still a no-op */
    CHECK_OK(ctx, dvren_plugin_load(ctx, "mock_good"));
    CHECK(dvren_plugin_count(ctx) == 2, "%u plugins after loading by name too", dvren_plugin_count(ctx));
    /* another library still adds its plugins */
    CHECK_OK(ctx, dvren_plugin_load(ctx, "mock_old"));
    CHECK_OK(ctx, dvren_plugin_load(ctx, "mock_old"));
    CHECK(dvren_plugin_count(ctx) == 3, "%u plugins with mock_old", dvren_plugin_count(ctx));
    CHECK(dvren_plugin_at(ctx, 2, &lib) && lib && !strcmp(lib, mock_path("mock_old")), "mock_old from %s",
          lib ? lib : "(null)");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

/* ---- search paths --------------------------------------------------------- */

TEST(search_path_from_context_desc)
{
    counter c;
    dvren_context* ctx;
    char path[4200];
    const char* lib = NULL;
    dvren_stage* st;
    NEED_MOCKS();
    /* a folder that does not exist, an empty entry, then the mocks */
    snprintf(path, sizeof path, "/nonexistent/dvren-abi-test::%s", mock_dir());
    ctx = new_ctx(&c, path);
    CHECK_OK(ctx, dvren_plugin_load(ctx, "mock_good"));
    CHECK(dvren_plugin_count(ctx) == 2, "%u plugins", dvren_plugin_count(ctx));
    CHECK(dvren_plugin_at(ctx, 0, &lib) && lib && !strcmp(lib, mock_path("mock_good")), "loaded from %s",
          lib ? lib : "(null)");
    /* dvren_stage_create loads a plugin named like its library on demand */
    st = th_stage(ctx, DVREN_PLUGIN_FIELD, "mock_old", NULL);
    CHECK(st, "mock_old by name: %s", dvren_last_error(ctx));
    dvren_stage_destroy(st);
    CHECK(registered(ctx, DVREN_PLUGIN_FIELD, "mock_old") == 2, "mock_old registered third");
    CHECK_DESTROY(ctx, c);
}

TEST(search_path_from_environment)
{
    counter c;
    dvren_context* ctx;
    char path[8300], saved[4096];
    const char* env = getenv("DVREN_PLUGIN_PATH");
    const char* lib = NULL;
    int had = env != NULL, ok;
    NEED_MOCKS();
    if (env && strlen(env) >= sizeof saved) SKIP("DVREN_PLUGIN_PATH is too long to save");
    snprintf(saved, sizeof saved, "%s", env ? env : "");
    /* the mocks, then the shipped plugins (for the uniform sampler) */
    snprintf(path, sizeof path, "/nonexistent/dvren-abi-test:%s%s%s", mock_dir(), had ? ":" : "", saved);
    CHECK(setenv("DVREN_PLUGIN_PATH", path, 1) == 0, "setenv");
    ctx = new_ctx(&c, NULL);
    ok = dvren_plugin_load(ctx, "mock_good") == DVREN_OK && dvren_plugin_count(ctx) == 2 &&
         dvren_plugin_at(ctx, 0, &lib) && lib && !strcmp(lib, mock_path("mock_good"));
    if (had) setenv("DVREN_PLUGIN_PATH", saved, 1);
    else unsetenv("DVREN_PLUGIN_PATH");
    CHECK(ok, "mock_good through $DVREN_PLUGIN_PATH: %s (library %s)", dvren_last_error(ctx), lib ? lib : "(null)");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
    /* with the variable restored, the mocks are out of reach by name */
    ctx = new_ctx(&c, NULL);
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, "mock_good"), DVREN_ERROR_NOT_FOUND, "mock_good", "DVREN_PLUGIN_PATH");
    CHECK_DESTROY(ctx, c);
}

/* Copies a file; 0 on success. */
static int copy_file(const char* from, const char* to)
{
    char buf[65536];
    size_t n;
    int bad = 0;
    FILE *in = fopen(from, "rb"), *out;
    if (!in) return -1;
    out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) bad = 1;
    fclose(in);
    return fclose(out) != 0 || bad ? -1 : 0;
}

TEST(context_path_is_searched_before_environment)
{
    counter c;
    dvren_context* ctx;
    char dir[4096], copy[4200], path[8300], saved[4096];
    const char* env = getenv("DVREN_PLUGIN_PATH");
    const char* lib = NULL;
    int had = env != NULL, ok;
    NEED_MOCKS();
    if (env && strlen(env) >= sizeof saved) SKIP("DVREN_PLUGIN_PATH is too long to save");
    snprintf(saved, sizeof saved, "%s", env ? env : "");
    /* a second mock_old.so in a folder of its own, named by the context;
     * $DVREN_PLUGIN_PATH names the mocks' folder, which has the other */
    snprintf(dir, sizeof dir, "%s", th_tmp("abi_first"));
    mkdir(dir, 0755);
    snprintf(copy, sizeof copy, "%s/mock_old%s", dir, DVREN__LIB_EXT);
    CHECK(copy_file(mock_path("mock_old"), copy) == 0, "cannot copy mock_old to %s", copy);
    snprintf(path, sizeof path, "%s%s%s", mock_dir(), had ? ":" : "", saved);
    CHECK(setenv("DVREN_PLUGIN_PATH", path, 1) == 0, "setenv");
    ctx = new_ctx(&c, dir);
    ok = dvren_plugin_load(ctx, "mock_old") == DVREN_OK;
    if (had) setenv("DVREN_PLUGIN_PATH", saved, 1);
    else unsetenv("DVREN_PLUGIN_PATH");
    CHECK(ok, "mock_old: %s", dvren_last_error(ctx));
    CHECK(dvren_plugin_at(ctx, 0, &lib) && lib && strncmp(lib, dir, strlen(dir)) == 0,
          "mock_old came from %s, not from the context's folder %s", lib ? lib : "(null)", dir);
    CHECK_DESTROY(ctx, c);
}

TEST(missing_plugin_lists_folders_searched)
{
    counter c;
    dvren_context* ctx;
    const char* env = getenv("DVREN_PLUGIN_PATH");
    dvren_stage* st = (dvren_stage*)&c;
    const dvren_plugin_desc* d = (const dvren_plugin_desc*)&c;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, "mock_missing"), DVREN_ERROR_NOT_FOUND, "mock_missing", "not found",
                mock_dir(), "DVREN_PLUGIN_PATH");
    if (env && *env && strlen(env) < 1000) {
        char first[1024];
        snprintf(first, sizeof first, "%s", env);
        first[strcspn(first, ":")] = 0;
        CHECK(strstr(dvren_last_error(ctx), first), "the folder %s of DVREN_PLUGIN_PATH is not listed: %s", first,
              dvren_last_error(ctx));
    }
    /* the same through dvren_stage_create and dvren_plugin_find */
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_missing", NULL, &st), DVREN_ERROR_NOT_FOUND,
                "mock_missing", mock_dir(), "DVREN_PLUGIN_PATH");
    CHECK(st == NULL, "*out is NULL on error");
    CHECK_ERROR(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_SHADER, "mock_missing", &d), DVREN_ERROR_NOT_FOUND,
                "mock_missing", "DVREN_PLUGIN_PATH");
    CHECK(d == NULL, "*out is NULL on error");
    /* a path that does not exist */
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, "/nonexistent/dvren-abi-test/mock_good.so"), DVREN_ERROR_NOT_FOUND,
                "/nonexistent/dvren-abi-test/mock_good.so", "does not exist");
    /* a library found by name that has no plugin of that name */
    CHECK_ERROR(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_FIELD, "mock_good", &d), DVREN_ERROR_NOT_FOUND,
                "does not contain a field plugin named 'mock_good'");
    CHECK(dvren_plugin_count(ctx) == 2, "mock_good's plugins stay registered");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

/* ---- an older plugin ------------------------------------------------------ */

TEST(old_plugin_loads_and_renders)
{
    counter c;
    dvren_context* ctx;
    const dvren_plugin_desc* d;
    const dvren_param_desc* p;
    dvren_params* params = NULL;
    dvren_instance_info info;
    dvren_stage* st;
    const float xyz[6] = {0, 0, 0, 0.9f, -0.9f, 0.5f};
    float out[2];
    const char* why;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_FIELD, "mock_old", &d));
    CHECK(d->struct_size == offsetof(dvren_plugin_desc, get_interface) + sizeof(d->get_interface),
          "descriptor struct_size %u", d->struct_size);
    p = dvren_plugin_param(d, 0);
    CHECK(p && p->struct_size == offsetof(dvren_param_desc, stride) + sizeof(p->stride) &&
              p->struct_size <= sizeof(dvren_param_desc),
          "parameter struct_size %u", p ? p->struct_size : 0u);
    CHECK(!strcmp(p->name, "density") && p->default_number == 0.75, "schema read from the old struct");
    /* the schema still validates */
    CHECK_OK(ctx, dvren_params_create(ctx, &params));
    CHECK_OK(ctx, dvren_params_set_number(params, "density", -1.0));
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_old", params, &st),
                DVREN_ERROR_INVALID_ARGUMENT, "mock_old", "density");
    dvren_params_destroy(params);
    /* defaults, the instance info it did not write, sampling */
    st = th_stage(ctx, DVREN_PLUGIN_FIELD, "mock_old", NULL);
    CHECK(st, "create mock_old: %s", dvren_last_error(ctx));
    memset(&info, 0xFF, sizeof info);
    CHECK_OK(ctx, dvren_stage_info(st, &info));
    CHECK(info.channels == 1 && info.voxel_world == 0.25f && info.bounds_min[2] == -1.0f && info.bounds_max[1] == 1.0f,
          "info it wrote: %u channels, voxel %g", info.channels, (double)info.voxel_world);
    CHECK(info.voxel_size[0] == 0.0f && info.voxel_size[1] == 0.0f && info.voxel_size[2] == 0.0f &&
              info.channels_used == 0 && info.needs_gradient == 0 && info.min_transmittance == 0.0f,
          "members newer than the plugin are not zero");
    CHECK_OK(ctx, dvren_field_sample(st, 2, xyz, out));
    CHECK(out[0] == 0.75f && out[1] == 0.75f, "sampled %g %g", (double)out[0], (double)out[1]);
    dvren_stage_destroy(st);
    /* renders: the default density, then one given */
    why = render_const(ctx, "mock_old", "density", 0.75);
    CHECK(!why, "%s", why);
    why = render_const(ctx, "mock_old", "density", 1.25);
    CHECK(!why, "%s", why);
    CHECK_DESTROY(ctx, c);
}

/* A sampler written the ABI 1.1 way and built against this dvren.h
 * (mock_own_step: its own step 0.2, its own threshold 0.5): where the plan
 * leaves the march to the defaults, it keeps its settings and renders as it
 * did; the plan's step, count and threshold win where the plan gives them.
 * A constant medium of sigma 1 along a ray of length 2 (the box [-1,1]^3). */
TEST(sampler_written_for_abi_1_1_keeps_its_settings)
{
    static const struct {
        float step;
        uint32_t count;
        float min_t;
        uint32_t want_samples;
    } cases[] = {
        {0.0f, 0, 0.0f, 4u},   /* its step 0.2 (10 segments), its threshold: exp(-0.8) < 0.5 after 4 */
        {0.0f, 0, -1.0f, 10u}, /* the plan says never: all 10 */
        {0.5f, 0, -1.0f, 4u},  /* the plan's step: 4 segments */
        {0.0f, 7, 0.3f, 5u},   /* the plan's count and threshold: T = exp(-2k/7) first falls below 0.3 at k = 5 */
    };
    const float eye[3] = {0, 0, 3}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    counter c;
    dvren_context* ctx;
    dvren_params* p = NULL;
    dvren_stage *f, *s, *m;
    size_t k;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_own_step")));
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "value", 1.0));
    f = th_stage(ctx, DVREN_PLUGIN_FIELD, "mock_const", p);
    s = th_stage(ctx, DVREN_PLUGIN_SHADER, "mock_white", NULL);
    m = th_stage(ctx, DVREN_PLUGIN_SAMPLER, "mock_own_step", NULL);
    CHECK(f && s && m, "stages: %s", dvren_last_error(ctx));
    for (k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        dvren_plan_desc pd;
        dvren_framebuffer* fb;
        const uint32_t* n;
        memset(&pd, 0, sizeof pd);
        pd.width = pd.height = 2;
        pd.outputs = DVREN_OUTPUT_SAMPLES | DVREN_OUTPUT_RGB;
        pd.step_world = cases[k].step;
        pd.samples_per_ray = cases[k].count;
        pd.min_transmittance = cases[k].min_t;
        CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 1.0f, &pd.camera));
        fb = th_render(ctx, f, s, m, &pd, 0);
        CHECK(fb, "render: %s", dvren_last_error(ctx));
        n = (const uint32_t*)th_out(fb, DVREN_OUTPUT_SAMPLES);
        CHECK(n && n[0] == cases[k].want_samples, "case %u: %u samples per ray",
              (unsigned)k, n ? n[0] : 0u);
        dvren_framebuffer_destroy(fb);
    }
    dvren_stage_destroy(f);
    dvren_stage_destroy(s);
    dvren_stage_destroy(m);
    CHECK_DESTROY(ctx, c);
}

/* ---- libraries the host must refuse --------------------------------------- */

TEST(declining_plugin_is_refused)
{
    counter c;
    dvren_context* ctx;
    dvren_stage* st = NULL;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_decline")), DVREN_ERROR_PLUGIN, "mock_decline.so",
                "declined");
    /* again (nothing cached), and by name through dvren_stage_create */
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_decline")), DVREN_ERROR_PLUGIN, "declined");
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_decline", NULL, &st), DVREN_ERROR_PLUGIN,
                "mock_decline.so", "declined");
    CHECK(dvren_plugin_count(ctx) == 0 && st == NULL, "nothing registered");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

TEST(abi2_plugin_is_refused)
{
    counter c;
    dvren_context* ctx;
    char host_abi[64];
    NEED_MOCKS();
    snprintf(host_abi, sizeof host_abi, "ABI %u.%u", (unsigned)DVREN_ABI_MAJOR, (unsigned)DVREN_ABI_MINOR);
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_abi2")), DVREN_ERROR_PLUGIN, "mock_abi2.so", "ABI 2.0",
                host_abi, "rebuild");
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, "mock_abi2"), DVREN_ERROR_PLUGIN, "ABI 2.0", "rebuild");
    CHECK(dvren_plugin_count(ctx) == 0, "nothing registered");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

TEST(library_without_entry_is_refused)
{
    counter c;
    dvren_context* ctx;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_noentry")), DVREN_ERROR_PLUGIN, "mock_noentry.so",
                "dvren_plugin_entry");
    CHECK(dvren_plugin_count(ctx) == 0, "nothing registered");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

TEST(missing_field_interface_is_refused)
{
    counter c;
    dvren_context* ctx;
    dvren_stage* st = NULL;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_badiface")), DVREN_ERROR_PLUGIN, "mock_badiface",
                "dvren.field/1");
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_badiface", NULL, &st), DVREN_ERROR_PLUGIN,
                "mock_badiface", "dvren.field/1");
    CHECK(dvren_plugin_count(ctx) == 0 && st == NULL, "nothing registered");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

TEST(duplicate_plugin_is_refused_all_or_nothing)
{
    counter c;
    dvren_context* ctx;
    dvren_stage* st = NULL;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_dup")), DVREN_ERROR_PLUGIN, "mock_const",
                "already loaded", "mock_dup.so", "mock_good.so");
    /* mock_dup_first, valid and loaded before the clash, was rolled back */
    CHECK(dvren_plugin_count(ctx) == 2 && registered(ctx, DVREN_PLUGIN_FIELD, "mock_dup_first") < 0,
          "%u plugins registered after the refusal", dvren_plugin_count(ctx));
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, "mock_dup"), DVREN_ERROR_PLUGIN, "already loaded");
    CHECK(dvren_plugin_count(ctx) == 2, "still 2 plugins");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);

    /* the other order: mock_good is the one refused, mock_white with it */
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_dup")));
    CHECK(dvren_plugin_count(ctx) == 2, "mock_dup holds 2 plugins");
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, mock_path("mock_good")), DVREN_ERROR_PLUGIN, "already loaded",
                "mock_dup.so");
    CHECK(dvren_plugin_count(ctx) == 2 && registered(ctx, DVREN_PLUGIN_SHADER, "mock_white") < 0,
          "mock_white must not be registered");
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "mock_white", NULL, &st), DVREN_ERROR_NOT_FOUND,
                "mock_white");
    st = th_stage(ctx, DVREN_PLUGIN_FIELD, "mock_dup_first", NULL);
    CHECK(st, "mock_dup_first still works: %s", dvren_last_error(ctx));
    dvren_stage_destroy(st);
    CHECK_DESTROY(ctx, c);
}

TEST(file_that_is_not_a_library_is_refused)
{
    counter c;
    dvren_context* ctx;
    const char* text = "this is a text file, not a shared library\n";
    char path[4096];
    NEED_MOCKS();
    snprintf(path, sizeof path, "%s", th_tmp("x.so"));
    CHECK(th_write_file(path, text, strlen(text)) == 0, "cannot write %s", path);
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_plugin_load(ctx, path), DVREN_ERROR_PLUGIN, "cannot load", path);
    CHECK(dvren_plugin_count(ctx) == 0, "nothing registered");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
    remove(path);
}

TEST(wrong_kind_is_an_invalid_argument)
{
    counter c;
    dvren_context* ctx;
    dvren_stage* st = NULL;
    const dvren_plugin_desc* d = NULL;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_white", NULL, &st),
                DVREN_ERROR_INVALID_ARGUMENT, "mock_white", "is a shader, not a field");
    CHECK(st == NULL, "*out is NULL on error");
    CHECK_ERROR(ctx, dvren_plugin_find(ctx, DVREN_PLUGIN_SAMPLER, "mock_const", &d), DVREN_ERROR_INVALID_ARGUMENT,
                "mock_const", "is a field, not a sampler");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

/* ---- instances that fail -------------------------------------------------- */

TEST(failed_create_reports_the_plugins_message)
{
    counter c;
    dvren_context* ctx;
    dvren_stage* st = (dvren_stage*)&c;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_failcreate", NULL, &st), DVREN_ERROR_FORMAT,
                "mock_failcreate: cannot parse x (hint: a hint)");
    CHECK(st == NULL, "*out is NULL on error");
    /* the plugin stays registered; a second attempt fails the same way */
    CHECK(registered(ctx, DVREN_PLUGIN_FIELD, "mock_failcreate") == 0, "mock_failcreate registered");
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_failcreate", NULL, &st), DVREN_ERROR_FORMAT,
                "mock_failcreate: cannot parse x (hint: a hint)");
    CHECK_USABLE(ctx);
    CHECK_DESTROY(ctx, c);
}

TEST(bad_describe_is_refused)
{
    counter c;
    dvren_context* ctx;
    dvren_stage* st = (dvren_stage*)&c;
    dvren_params* p = NULL;
    NEED_MOCKS();
    ctx = new_ctx(&c, mock_dir());
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_baddescribe", NULL, &st), DVREN_ERROR_PLUGIN,
                "mock_baddescribe", "0 channels");
    CHECK(st == NULL, "*out is NULL on error");
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "defect", "empty_bounds"));
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_baddescribe", p, &st), DVREN_ERROR_PLUGIN,
                "mock_baddescribe", "bounds");
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "defect", "silent_error"));
    CHECK_ERROR(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_baddescribe", p, &st), DVREN_ERROR_FORMAT,
                "mock_baddescribe: describe() failed with DVREN_ERROR_FORMAT");
    dvren_params_destroy(p);
    CHECK_USABLE(ctx);
    /* the counting allocator also proves the instances were destroyed */
    CHECK_DESTROY(ctx, c);
}

/* Every refusal in turn on one context, which must then still work. */
TEST(failures_leave_the_context_usable)
{
    static const char* const bad[] = {"mock_decline", "mock_abi2", "mock_noentry", "mock_badiface"};
    counter c;
    dvren_context* ctx;
    dvren_stage* st = NULL;
    const char* x = th_tmp("x.so");
    int round, i;
    NEED_MOCKS();
    if (!th_exists(x)) th_write_file(x, "not a library\n", 14);
    ctx = new_ctx(&c, mock_dir());
    for (round = 0; round < 2; ++round) {
        for (i = 0; i < 4; ++i)
            CHECK(dvren_plugin_load(ctx, mock_path(bad[i])) == DVREN_ERROR_PLUGIN, "%s: %s", bad[i],
                  dvren_last_error(ctx));
        CHECK(dvren_plugin_load(ctx, x) == DVREN_ERROR_PLUGIN, "x.so");
        CHECK(dvren_plugin_load(ctx, "mock_missing") == DVREN_ERROR_NOT_FOUND, "missing");
        CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_failcreate", NULL, &st) == DVREN_ERROR_FORMAT,
              "failcreate");
        CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_baddescribe", NULL, &st) == DVREN_ERROR_PLUGIN,
              "baddescribe");
        CHECK_USABLE(ctx);
        CHECK(dvren_plugin_load(ctx, mock_path("mock_dup")) == DVREN_ERROR_PLUGIN, "dup");
        CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "mock_white", NULL, &st) == DVREN_ERROR_INVALID_ARGUMENT,
              "wrong kind");
        CHECK_USABLE(ctx);
        /* only mock_failcreate, mock_baddescribe, mock_good's two and uniform */
        CHECK(dvren_plugin_count(ctx) == 5, "%u plugins registered", dvren_plugin_count(ctx));
    }
    CHECK_DESTROY(ctx, c);
}

/* ---- libraries are closed ------------------------------------------------- */

#if defined(__linux__) && defined(RTLD_NOLOAD)
/* 1 when the library at path is loaded in this process (dlopen's
 * RTLD_NOLOAD does not load it; the reference it takes is dropped). */
static int is_loaded(const char* path)
{
    void* h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h) dlclose(h);
    return h != NULL;
}
#endif

/* A refused library is closed at once; the others when the context goes. */
TEST(libraries_are_closed)
{
#if defined(__linux__) && defined(RTLD_NOLOAD)
    static const char* const refused[] = {"mock_decline", "mock_abi2", "mock_noentry", "mock_badiface", "mock_dup"};
    counter c;
    dvren_context* ctx;
    int i;
    NEED_MOCKS();
    /* every earlier test destroyed its contexts: none of its handles may remain */
    for (i = 0; i < 5; ++i)
        CHECK(!is_loaded(mock_path(refused[i])), "%s is still loaded after the earlier tests", refused[i]);
    CHECK(!is_loaded(mock_path("mock_good")), "mock_good is still loaded after the earlier tests");
    ctx = new_ctx(&c, mock_dir());
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
    CHECK(is_loaded(mock_path("mock_good")), "mock_good is not loaded");
    for (i = 0; i < 5; ++i) {
        CHECK(dvren_plugin_load(ctx, mock_path(refused[i])) == DVREN_ERROR_PLUGIN, "%s: %s", refused[i],
              dvren_last_error(ctx));
        CHECK(!is_loaded(mock_path(refused[i])), "%s stays loaded after its refusal", refused[i]);
    }
    CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good"))); /* the no-op must not take a reference */
    CHECK_DESTROY(ctx, c);
    CHECK(!is_loaded(mock_path("mock_good")), "mock_good stays loaded after dvren_context_destroy");
#else
    SKIP("needs dlopen's RTLD_NOLOAD");
#endif
}

/* ---- exported symbols ----------------------------------------------------- */

/* The defined dynamic symbols of a library, space-separated, through
 * `nm -D --defined-only`; -1 when nm fails. */
static int dynamic_symbols(const char* lib, char* out, size_t cap)
{
    char cmd[4300], line[1024];
    FILE* f;
    size_t n = 0;
    out[0] = 0;
    if (strchr(lib, '\'')) return -1;
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s' 2>/dev/null", lib);
    f = popen(cmd, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        char* name;
        line[strcspn(line, "\r\n")] = 0;
        name = strrchr(line, ' ');
        name = name ? name + 1 : line;
        if (!*name) continue;
        if (n + strlen(name) + 2 < cap) n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", name);
    }
    return pclose(f) == 0 ? 0 : -1;
}

TEST(plugins_export_only_the_entry)
{
    static const char* const shipped[] = {"dense_grid", "emission_absorption", "uniform"};
    counter c;
    dvren_context* ctx;
    char syms[4096];
    uint32_t i;
    if (system("nm --version >/dev/null 2>&1") != 0) SKIP("nm is not installed");
    ctx = new_ctx(&c, NULL);
    for (i = 0; i < 3; ++i) CHECK_OK(ctx, dvren_plugin_load(ctx, shipped[i]));
    if (mock_dir()) {
        CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_good")));
        CHECK_OK(ctx, dvren_plugin_load(ctx, mock_path("mock_old")));
    }
    for (i = 0; i < dvren_plugin_count(ctx); ++i) {
        const char* lib = NULL;
        const dvren_plugin_desc* d = dvren_plugin_at(ctx, i, &lib);
        CHECK(d && lib, "plugin %u has no library path", i);
        CHECK(dynamic_symbols(lib, syms, sizeof syms) == 0, "nm -D --defined-only %s failed", lib);
        CHECK(!strcmp(syms, DVREN_PLUGIN_ENTRY_NAME), "%s (plugin %s) exports \"%s\", expected only %s", lib, d->name,
              syms, DVREN_PLUGIN_ENTRY_NAME);
    }
    CHECK(dvren_plugin_count(ctx) >= 3, "%u plugins", dvren_plugin_count(ctx));
    CHECK_DESTROY(ctx, c);
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(good_library_registers_both_plugins);
    RUN(loading_twice_is_a_noop);
    RUN(search_path_from_context_desc);
    RUN(search_path_from_environment);
    RUN(context_path_is_searched_before_environment);
    RUN(missing_plugin_lists_folders_searched);
    RUN(old_plugin_loads_and_renders);
    RUN(sampler_written_for_abi_1_1_keeps_its_settings);
    RUN(declining_plugin_is_refused);
    RUN(abi2_plugin_is_refused);
    RUN(library_without_entry_is_refused);
    RUN(missing_field_interface_is_refused);
    RUN(duplicate_plugin_is_refused_all_or_nothing);
    RUN(file_that_is_not_a_library_is_refused);
    RUN(wrong_kind_is_an_invalid_argument);
    RUN(failed_create_reports_the_plugins_message);
    RUN(bad_describe_is_refused);
    RUN(failures_leave_the_context_usable);
    RUN(libraries_are_closed);
    RUN(plugins_export_only_the_entry);
    return th_done();
}
