/* tests/test_core.c - units of dvren.h that need no rendering: statuses,
 * the RNG against Random123's known answers, half floats, cameras against
 * analytic rays and OpenGL matrices, parameter validation, tensors, .npy. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include "harness.h"

TEST(status_names)
{
    CHECK(!strcmp(dvren_status_string(DVREN_OK), "DVREN_OK"), "OK");
    CHECK(!strcmp(dvren_status_string(DVREN_ERROR_FORMAT), "DVREN_ERROR_FORMAT"), "FORMAT");
    CHECK(!strcmp(dvren_status_string((dvren_status)-999), "DVREN_UNKNOWN_STATUS"), "unknown");
    CHECK(sizeof(dvren_status) == 4 && sizeof(dvren_dtype) == 4 && sizeof(dvren_plugin_kind) == 4, "enums are 32-bit");
}

/* Known-answer vectors of Philox4x32-10 from Random123's kat_vectors file
 * (counter words, key words -> output words). */
TEST(philox_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
         0xa20bc7c6u, 0x6d5451fdu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
         0x5001e420u, 0x24126ea1u}};
    int k, i;
    for (k = 0; k < 3; ++k) {
        dvren_u32x4 c, r;
        for (i = 0; i < 4; ++i) c.v[i] = kat[k][i];
        r = dvren_philox4x32(c, kat[k][4], kat[k][5]);
        for (i = 0; i < 4; ++i) CHECK(r.v[i] == kat[k][6 + i], "vector %d word %d: %08x != %08x", k, i, r.v[i], kat[k][6 + i]);
    }
}

TEST(rng_uniform_range_and_mean)
{
    dvren_rng r = dvren_rng_make(12345u, 678u, 9u, 3u, DVREN_RNG_STREAM_SAMPLER);
    double sum = 0.0;
    int i;
    for (i = 0; i < 100000; ++i) {
        float u = dvren_rng_uniform(&r);
        CHECK(u >= 0.0f && u < 1.0f, "draw %d = %g outside [0,1)", i, (double)u);
        sum += u;
    }
    /* mean of 1e5 uniforms: standard error 0.0009 */
    CHECK(fabs(sum / 100000.0 - 0.5) < 0.005, "mean %g", sum / 100000.0);
}

/* Every finite half converts to float and back unchanged; floats round to
 * the nearest half (ties to even) as a double-precision reference says. */
TEST(half_round_trip)
{
    uint32_t h;
    int i;
    for (h = 0; h < 65536; ++h) {
        float f = dvren_half_to_float((uint16_t)h);
        uint16_t back;
        if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu)) { /* NaN stays NaN */
            CHECK(f != f, "0x%04x is NaN", h);
            continue;
        }
        back = dvren_float_to_half(f);
        CHECK(back == h, "half 0x%04x -> %g -> 0x%04x", h, (double)f, back);
    }
    CHECK(dvren_float_to_half(65520.0f) == 0x7C00u, "65520 rounds to inf");
    CHECK(dvren_float_to_half(65519.0f) == 0x7BFFu, "65519 rounds to max half");
    CHECK(dvren_half_to_float(0x0001u) == ldexpf(1.0f, -24), "smallest subnormal");
    for (i = 0; i < 100000; ++i) {
        /* random floats in the half range: the result must be the nearest half */
        dvren_rng r = dvren_rng_make(7u, 0u, (uint32_t)i, 0u, 0u);
        float x = (dvren_rng_uniform(&r) - 0.5f) * 2.0f * ldexpf(1.0f, (int)(dvren_rng_u32(&r) % 30u) - 24);
        uint16_t q = dvren_float_to_half(x);
        double e = fabs((double)dvren_half_to_float(q) - x);
        double e_up = fabs((double)dvren_half_to_float((uint16_t)(q + 1)) - x);
        double e_dn = (q & 0x7FFFu) ? fabs((double)dvren_half_to_float((uint16_t)(q - 1)) - x) : 1e30;
        CHECK(e <= e_up && e <= e_dn, "%.9g -> 0x%04x is not the nearest half", (double)x, q);
    }
}

TEST(pinhole_rays)
{
    const float eye[3] = {1, 2, 3}, target[3] = {1, 2, -1}, up[3] = {0, 1, 0};
    dvren_camera c;
    dvren_float3 o, d;
    double th = tan(0.5 * 0.8);
    CHECK_OK(NULL, dvren_camera_look_at(eye, target, up, 0.8f, &c));
    /* centre of a 100 x 50 image looks straight at the target */
    dvren_camera_ray(&c, 50.0f, 25.0f, 100.0f, 50.0f, &o, &d);
    CHECK(o.x == 1 && o.y == 2 && o.z == 3, "origin");
    CHECK(fabs(d.x) < 1e-6 && fabs(d.y) < 1e-6 && fabs(d.z + 1) < 1e-6, "centre dir (%g %g %g)", d.x, d.y, d.z);
    /* top edge centre: direction (0, tan(fov/2), -1) normalised; right edge: aspect 2 */
    dvren_camera_ray(&c, 50.0f, 0.0f, 100.0f, 50.0f, &o, &d);
    CHECK(fabs(d.y / -d.z - th) < 1e-5 && fabs(d.x) < 1e-6, "top edge (%g %g %g)", d.x, d.y, d.z);
    dvren_camera_ray(&c, 100.0f, 25.0f, 100.0f, 50.0f, &o, &d);
    CHECK(fabs(d.x / -d.z - 2.0 * th) < 1e-5, "right edge (%g %g %g)", d.x, d.y, d.z);
    CHECK(fabs(dvren_length3(d) - 1.0f) < 1e-6, "unit length");
}

TEST(orthographic_rays)
{
    const float eye[3] = {0, 0, 5}, target[3] = {0, 0, 0}, up[3] = {0, 1, 0};
    dvren_camera c;
    dvren_float3 o, d;
    CHECK_OK(NULL, dvren_camera_orthographic(eye, target, up, 4.0f, &c));
    dvren_camera_ray(&c, 0.0f, 0.0f, 200.0f, 100.0f, &o, &d); /* top-left corner */
    CHECK(fabs(o.x + 4) < 1e-5 && fabs(o.y - 2) < 1e-5 && o.z == 5, "corner origin (%g %g %g)", o.x, o.y, o.z);
    CHECK(d.x == 0 && d.y == 0 && d.z == -1, "parallel rays");
}

/* gluLookAt + gluPerspective matrices (column-major) give the same rays as
 * dvren_camera_look_at with the same eye, target, up and fov. */
TEST(matrix_camera_matches_look_at)
{
    const float eye[3] = {0.5f, -1.0f, 2.0f}, target[3] = {0.1f, 0.2f, -0.3f}, up[3] = {0, 1, 0};
    float view[16], proj[16];
    double f[3], s[3], u[3], n, fov = 0.7, aspect = 1.5, zn = 0.1, zf = 100.0, ct;
    dvren_camera a, b;
    int i, k;
    for (i = 0; i < 3; ++i) f[i] = target[i] - eye[i];
    n = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (i = 0; i < 3; ++i) f[i] /= n;
    s[0] = f[1] * up[2] - f[2] * up[1];
    s[1] = f[2] * up[0] - f[0] * up[2];
    s[2] = f[0] * up[1] - f[1] * up[0];
    n = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
    for (i = 0; i < 3; ++i) s[i] /= n;
    u[0] = s[1] * f[2] - s[2] * f[1];
    u[1] = s[2] * f[0] - s[0] * f[2];
    u[2] = s[0] * f[1] - s[1] * f[0];
    memset(view, 0, sizeof view);
    memset(proj, 0, sizeof proj);
    for (i = 0; i < 3; ++i) {
        view[i * 4 + 0] = (float)s[i];
        view[i * 4 + 1] = (float)u[i];
        view[i * 4 + 2] = (float)-f[i];
    }
    view[12] = (float)-(s[0] * eye[0] + s[1] * eye[1] + s[2] * eye[2]);
    view[13] = (float)-(u[0] * eye[0] + u[1] * eye[1] + u[2] * eye[2]);
    view[14] = (float)(f[0] * eye[0] + f[1] * eye[1] + f[2] * eye[2]);
    view[15] = 1;
    ct = 1.0 / tan(fov / 2);
    proj[0] = (float)(ct / aspect);
    proj[5] = (float)ct;
    proj[10] = (float)((zf + zn) / (zn - zf));
    proj[11] = -1;
    proj[14] = (float)(2 * zf * zn / (zn - zf));
    CHECK_OK(NULL, dvren_camera_from_matrices(view, proj, &b));
    CHECK_OK(NULL, dvren_camera_look_at(eye, target, up, (float)fov, &a));
    CHECK(b.perspective == 1, "perspective detected");
    for (k = 0; k < 9; ++k) {
        dvren_float3 oa, da, ob, db;
        float px = 150.0f * (float)(k % 3) / 2.0f, py = 100.0f * (float)(k / 3) / 2.0f;
        dvren_camera_ray(&a, px, py, 150.0f, 100.0f, &oa, &da);
        dvren_camera_ray(&b, px, py, 150.0f, 100.0f, &ob, &db);
        CHECK(dvren_length3(dvren_sub3(oa, ob)) < 1e-5, "origin %d", k);
        CHECK(dvren_length3(dvren_sub3(da, db)) < 1e-5, "dir %d: (%g %g %g) vs (%g %g %g)", k, da.x, da.y, da.z, db.x,
              db.y, db.z);
    }
}

TEST(camera_errors)
{
    const float eye[3] = {0, 0, 1}, up[3] = {0, 0, 1}, target[3] = {0, 0, 0}, up_ok[3] = {0, 1, 0};
    float sing[16];
    dvren_camera c;
    CHECK(dvren_camera_look_at(eye, eye, up_ok, 0.5f, &c) == DVREN_ERROR_INVALID_ARGUMENT, "eye == target");
    CHECK(strstr(dvren_last_error(NULL), "eye equals target"), "message: %s", dvren_last_error(NULL));
    CHECK(dvren_camera_look_at(eye, target, up, 0.5f, &c) == DVREN_ERROR_INVALID_ARGUMENT, "up parallel");
    CHECK(strstr(dvren_last_error(NULL), "parallel"), "message: %s", dvren_last_error(NULL));
    CHECK(dvren_camera_look_at(eye, target, up_ok, 4.0f, &c) == DVREN_ERROR_INVALID_ARGUMENT, "fov > pi");
    memset(sing, 0, sizeof sing);
    CHECK(dvren_camera_from_matrices(sing, sing, &c) == DVREN_ERROR_INVALID_ARGUMENT, "singular");
}

/* The host validates values against a plugin's schema before the plugin sees them. */
TEST(params_validation)
{
    dvren_context* ctx = th_ctx();
    dvren_params* p;
    dvren_stage* s;
    double two[2] = {1, 2};
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "jiter", 1));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", p, &s) == DVREN_ERROR_INVALID_ARGUMENT, "unknown");
    CHECK(strstr(dvren_last_error(ctx), "uniform: unknown parameter 'jiter'") && strstr(dvren_last_error(ctx), "jitter"),
          "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "sigma_scale", "high"));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s) == DVREN_ERROR_INVALID_ARGUMENT,
          "type");
    CHECK(strstr(dvren_last_error(ctx), "'sigma_scale' (float) must be a number, got a string"), "message: %s",
          dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "max_samples", 2.5));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", p, &s) == DVREN_ERROR_INVALID_ARGUMENT, "int");
    CHECK(strstr(dvren_last_error(ctx), "must be an integer"), "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "sigma_scale", -1));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s) == DVREN_ERROR_INVALID_ARGUMENT,
          "range");
    CHECK(strstr(dvren_last_error(ctx), "outside its range"), "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    /* finite, but beyond what the plugin's float32 / 32-bit integer can hold */
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "sigma_scale", 1e300));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s) == DVREN_ERROR_INVALID_ARGUMENT,
          "float range");
    CHECK(strstr(dvren_last_error(ctx), "'sigma_scale' = 1e+300 is beyond float range"), "message: %s",
          dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_numbers(p, "light_dir", (const double[3]){1, 1e39, 0}, 3));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s) == DVREN_ERROR_INVALID_ARGUMENT,
          "floats range");
    CHECK(strstr(dvren_last_error(ctx), "'light_dir'[1]"), "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_number(p, "header_bytes", 5e9));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", p, &s) == DVREN_ERROR_INVALID_ARGUMENT, "int range");
    CHECK(strstr(dvren_last_error(ctx), "'header_bytes' must be an integer in [-2147483648, 4294967295]"),
          "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_string(p, "activation", "tanh"));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s) == DVREN_ERROR_INVALID_ARGUMENT,
          "enum");
    CHECK(strstr(dvren_last_error(ctx), "'tanh' is not one of relu|softplus|exp"), "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_numbers(p, "light_dir", two, 2));
    CHECK(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s) == DVREN_ERROR_INVALID_ARGUMENT,
          "count");
    CHECK(strstr(dvren_last_error(ctx), "'light_dir' has 2 numbers"), "message: %s", dvren_last_error(ctx));
    dvren_params_destroy(p);
    CHECK_OK(ctx, dvren_params_create(ctx, &p));
    CHECK_OK(ctx, dvren_params_set_numbers(p, "tf_opacity", two, 2));
    CHECK_OK(ctx, dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", p, &s));
    dvren_stage_destroy(s);
    dvren_params_destroy(p);
    dvren_context_destroy(ctx);
}

TEST(tensors)
{
    dvren_context* ctx = th_ctx();
    dvren_tensor t, w;
    int64_t shape[3] = {2, 3, 4}, strides[3] = {1, 2, 6};
    float buf[24];
    CHECK_OK(ctx, dvren_tensor_create(ctx, DVREN_DTYPE_U16, 3, shape, &t));
    CHECK(dvren_tensor_numel(&t) == 24 && dvren_tensor_is_contiguous(&t), "contiguous");
    CHECK(t.strides[0] == 12 && t.strides[1] == 4 && t.strides[2] == 1, "strides");
    CHECK(((uint16_t*)t.data)[23] == 0 && ((uintptr_t)t.data % 64) == 0, "zeroed, aligned");
    dvren_tensor_destroy(ctx, &t);
    CHECK(t.data == NULL, "destroyed");
    CHECK_OK(NULL, dvren_tensor_wrap(buf, DVREN_DTYPE_F32, 3, shape, strides, &w));
    CHECK(!dvren_tensor_is_contiguous(&w), "strided view");
    shape[1] = 0;
    CHECK(dvren_tensor_create(ctx, DVREN_DTYPE_F32, 3, shape, &t) == DVREN_ERROR_INVALID_ARGUMENT, "zero dim");
    CHECK(dvren_tensor_create(ctx, (dvren_dtype)99, 1, shape, &t) == DVREN_ERROR_INVALID_ARGUMENT, "bad dtype");
    dvren_context_destroy(ctx);
}

/* .npy written by dvren: header fields, 64-byte alignment, strided gather. */
TEST(npy_writer)
{
    dvren_context* ctx = th_ctx();
    const char* path = th_tmp("w.npy");
    float data[6] = {0, 1, 2, 3, 4, 5};
    int64_t shape[2] = {2, 3}, tshape[2] = {3, 2}, tstrides[2] = {1, 3};
    dvren_tensor t;
    unsigned char buf[256];
    FILE* f;
    size_t n;
    float got[6];
    CHECK_OK(NULL, dvren_tensor_wrap(data, DVREN_DTYPE_F32, 2, shape, NULL, &t));
    CHECK_OK(ctx, dvren_tensor_save_npy(ctx, &t, path));
    f = fopen(path, "rb");
    CHECK(f != NULL, "written");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* 10-byte preamble + 60-byte dict + padding + '\n' = 128 (a multiple of 64) */
    CHECK(n == 128 + 24, "size %zu", n);
    CHECK(!memcmp(buf, "\x93NUMPY\x01\x00", 8) && buf[8] + 10 == 128 && buf[9] == 0 && buf[127] == '\n', "preamble");
    CHECK(strstr((const char*)buf + 10, "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), "header");
    /* the transposed view (3, 2) is gathered in C order */
    CHECK_OK(NULL, dvren_tensor_wrap(data, DVREN_DTYPE_F32, 2, tshape, tstrides, &t));
    CHECK_OK(ctx, dvren_tensor_save_npy(ctx, &t, path));
    f = fopen(path, "rb");
    CHECK(f && fseek(f, 128, SEEK_SET) == 0 && fread(got, 4, 6, f) == 6, "read back");
    fclose(f);
    CHECK(got[0] == 0 && got[1] == 3 && got[2] == 1 && got[3] == 4 && got[4] == 2 && got[5] == 5, "transpose");
    /* a missing folder is an IO error naming it, and nothing is written */
    CHECK(dvren_tensor_save_npy(ctx, &t, th_tmp("no/such/dir/x.npy")) == DVREN_ERROR_IO, "missing folder");
    CHECK(strstr(dvren_last_error(ctx), "does not exist"), "message: %s", dvren_last_error(ctx));
    dvren_context_destroy(ctx);
}

/* DVREN_CONTEXT_LOG_JSON: every line is one JSON object with the time,
 * level, tag and the message as an escaped string. */
typedef struct json_lines {
    char line[8][1024];
    int n;
} json_lines;
static void json_sink(void* user, dvren_log_level level, const char* line)
{
    json_lines* j = (json_lines*)user;
    (void)level;
    if (j->n < 8) snprintf(j->line[j->n++], sizeof j->line[0], "%s", line);
}

TEST(log_json_lines)
{
    dvren_context_desc cd;
    dvren_context* ctx = NULL;
    json_lines j;
    int i, found_err = 0, found_quote = 0;
    memset(&cd, 0, sizeof cd);
    memset(&j, 0, sizeof j);
    cd.log = json_sink;
    cd.log_user = &j;
    cd.flags = DVREN_CONTEXT_LOG_JSON;
    CHECK_OK(NULL, dvren_context_create(&cd, &ctx));
    dvren_log(ctx, DVREN_LOG_INFO, DVREN_TAG_STEP, "say \"hi\"\\\n");
    dvren_set_error(ctx, DVREN_ERROR_IO, "files", NULL, "cannot open '%s'", "x.raw");
    CHECK(j.n >= 3, "%d lines", j.n);
    for (i = 0; i < j.n; ++i) {
        const char* l = j.line[i];
        size_t n = strlen(l);
        CHECK(!strncmp(l, "{\"time_ms\": ", 12) && n > 2 && l[n - 1] == '}' && strstr(l, "\"level\": \"") &&
                  strstr(l, "\"tag\": \"") && strstr(l, "\"message\": \""),
              "not a JSON log line: %s", l);
        if (strstr(l, "\"level\": \"error\", \"tag\": \"error\", \"message\": \"files: cannot open 'x.raw'\"")) found_err = 1;
        if (strstr(l, "\"tag\": \"step\", \"message\": \"say \\\"hi\\\"\\\\\\u000a\"")) found_quote = 1;
    }
    CHECK(found_err, "no error line: %s", j.line[j.n - 1]);
    CHECK(found_quote, "quote, backslash and newline are not escaped: %s", j.line[j.n - 2]);
    dvren_context_destroy(ctx);
    cd.flags = 0x80;
    CHECK(dvren_context_create(&cd, &ctx) == DVREN_ERROR_INVALID_ARGUMENT, "unknown flags accepted");
}

TEST(context_errors)
{
    dvren_context_desc d;
    dvren_context* ctx = NULL;
    memset(&d, 0, sizeof d);
    d.device = DVREN_DEVICE_CUDA;
    CHECK(dvren_context_create(&d, &ctx) == DVREN_ERROR_UNSUPPORTED && ctx == NULL, "CUDA without dvren_cuda.h");
    CHECK(strstr(dvren_last_error(NULL), "CUDA"), "message: %s", dvren_last_error(NULL));
    memset(&d, 0, sizeof d);
    d.allocator.user = &d;
    d.allocator.alloc = dvren__default_alloc;
    CHECK(dvren_context_create(&d, &ctx) == DVREN_ERROR_INVALID_ARGUMENT, "one hook");
}

int main(int argc, char** argv)
{
    th_init(argc, argv);
    RUN(status_names);
    RUN(philox_known_answers);
    RUN(rng_uniform_range_and_mean);
    RUN(half_round_trip);
    RUN(pinhole_rays);
    RUN(orthographic_rays);
    RUN(matrix_camera_matches_look_at);
    RUN(camera_errors);
    RUN(params_validation);
    RUN(tensors);
    RUN(npy_writer);
    RUN(context_errors);
    RUN(log_json_lines);
    return th_done();
}
