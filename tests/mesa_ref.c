/* tests/mesa_ref.c - implementation of tests/mesa_ref.h (read that first):
 * OSMesa loaded with dlopen, an OpenGL 3.3 core context, an RGBA32F
 * framebuffer object, one glDrawElements, glReadPixels flipped to row 0 at
 * the top. Compile it with the program or #include it once. */
#if defined(__linux__) && !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "mesa_ref.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the OpenGL and OSMesa vocabulary we use (values from the GL registry's gl.xml and GL/osmesa.h) */
typedef unsigned int mesa_ref__GLenum;
typedef unsigned int mesa_ref__GLuint;
typedef int mesa_ref__GLint;
typedef int mesa_ref__GLsizei;
typedef unsigned char mesa_ref__GLboolean;
typedef float mesa_ref__GLfloat;
typedef ptrdiff_t mesa_ref__GLsizeiptr;
typedef char mesa_ref__GLchar;
typedef void* mesa_ref__OSMesaContext;

#define MESA_REF__GL_TRIANGLES 0x0004u
#define MESA_REF__GL_LESS 0x0201u
#define MESA_REF__GL_DEPTH_TEST 0x0B71u
#define MESA_REF__GL_CULL_FACE 0x0B44u
#define MESA_REF__GL_BLEND 0x0BE2u
#define MESA_REF__GL_DITHER 0x0BD0u
#define MESA_REF__GL_MULTISAMPLE 0x809Du
#define MESA_REF__GL_PACK_ALIGNMENT 0x0D05u
#define MESA_REF__GL_UNSIGNED_BYTE 0x1401u
#define MESA_REF__GL_UNSIGNED_INT 0x1405u
#define MESA_REF__GL_FLOAT 0x1406u
#define MESA_REF__GL_RGBA 0x1908u
#define MESA_REF__GL_RENDERER 0x1F01u
#define MESA_REF__GL_VERSION 0x1F02u
#define MESA_REF__GL_DEPTH_BUFFER_BIT 0x0100u
#define MESA_REF__GL_COLOR_BUFFER_BIT 0x4000u
#define MESA_REF__GL_ARRAY_BUFFER 0x8892u
#define MESA_REF__GL_ELEMENT_ARRAY_BUFFER 0x8893u
#define MESA_REF__GL_STATIC_DRAW 0x88E4u
#define MESA_REF__GL_FRAGMENT_SHADER 0x8B30u
#define MESA_REF__GL_VERTEX_SHADER 0x8B31u
#define MESA_REF__GL_COMPILE_STATUS 0x8B81u
#define MESA_REF__GL_LINK_STATUS 0x8B82u
#define MESA_REF__GL_RGBA32F 0x8814u
#define MESA_REF__GL_DEPTH_COMPONENT32F 0x8CACu
#define MESA_REF__GL_FRAMEBUFFER_COMPLETE 0x8CD5u
#define MESA_REF__GL_COLOR_ATTACHMENT0 0x8CE0u
#define MESA_REF__GL_DEPTH_ATTACHMENT 0x8D00u
#define MESA_REF__GL_FRAMEBUFFER 0x8D40u
#define MESA_REF__GL_RENDERBUFFER 0x8D41u
#define MESA_REF__OSMESA_RGBA 0x1908
#define MESA_REF__OSMESA_FORMAT 0x22
#define MESA_REF__OSMESA_DEPTH_BITS 0x30
#define MESA_REF__OSMESA_PROFILE 0x33
#define MESA_REF__OSMESA_CORE_PROFILE 0x34
#define MESA_REF__OSMESA_CONTEXT_MAJOR_VERSION 0x36
#define MESA_REF__OSMESA_CONTEXT_MINOR_VERSION 0x37

/* Every GL function we call: X(return type, name, parameters). All come
 * from OSMesaGetProcAddress (GL 1.1 ones too; dlsym as a fallback). */
#define MESA_REF__GL_FUNCS(X)                                                                                     \
    X(const unsigned char*, glGetString, (mesa_ref__GLenum))                                                      \
    X(mesa_ref__GLenum, glGetError, (void))                                                                       \
    X(void, glViewport, (mesa_ref__GLint, mesa_ref__GLint, mesa_ref__GLsizei, mesa_ref__GLsizei))                 \
    X(void, glClearColor, (float, float, float, float))                                                           \
    X(void, glClearDepth, (double))                                                                               \
    X(void, glClear, (unsigned int))                                                                              \
    X(void, glEnable, (mesa_ref__GLenum))                                                                         \
    X(void, glDisable, (mesa_ref__GLenum))                                                                        \
    X(void, glDepthFunc, (mesa_ref__GLenum))                                                                      \
    X(void, glPixelStorei, (mesa_ref__GLenum, mesa_ref__GLint))                                                   \
    X(void, glReadPixels, (mesa_ref__GLint, mesa_ref__GLint, mesa_ref__GLsizei, mesa_ref__GLsizei,                \
                           mesa_ref__GLenum, mesa_ref__GLenum, void*))                                            \
    X(void, glFinish, (void))                                                                                     \
    X(void, glDrawElements, (mesa_ref__GLenum, mesa_ref__GLsizei, mesa_ref__GLenum, const void*))                 \
    X(void, glGenVertexArrays, (mesa_ref__GLsizei, mesa_ref__GLuint*))                                            \
    X(void, glBindVertexArray, (mesa_ref__GLuint))                                                                \
    X(void, glDeleteVertexArrays, (mesa_ref__GLsizei, const mesa_ref__GLuint*))                                   \
    X(void, glGenBuffers, (mesa_ref__GLsizei, mesa_ref__GLuint*))                                                 \
    X(void, glBindBuffer, (mesa_ref__GLenum, mesa_ref__GLuint))                                                   \
    X(void, glBufferData, (mesa_ref__GLenum, mesa_ref__GLsizeiptr, const void*, mesa_ref__GLenum))                \
    X(void, glDeleteBuffers, (mesa_ref__GLsizei, const mesa_ref__GLuint*))                                        \
    X(void, glVertexAttribPointer, (mesa_ref__GLuint, mesa_ref__GLint, mesa_ref__GLenum, mesa_ref__GLboolean,     \
                                    mesa_ref__GLsizei, const void*))                                              \
    X(void, glEnableVertexAttribArray, (mesa_ref__GLuint))                                                        \
    X(void, glVertexAttrib3f, (mesa_ref__GLuint, float, float, float))                                            \
    X(mesa_ref__GLuint, glCreateShader, (mesa_ref__GLenum))                                                       \
    X(void, glShaderSource, (mesa_ref__GLuint, mesa_ref__GLsizei, const mesa_ref__GLchar* const*,                 \
                             const mesa_ref__GLint*))                                                             \
    X(void, glCompileShader, (mesa_ref__GLuint))                                                                  \
    X(void, glGetShaderiv, (mesa_ref__GLuint, mesa_ref__GLenum, mesa_ref__GLint*))                                \
    X(void, glGetShaderInfoLog, (mesa_ref__GLuint, mesa_ref__GLsizei, mesa_ref__GLsizei*, mesa_ref__GLchar*))     \
    X(void, glDeleteShader, (mesa_ref__GLuint))                                                                   \
    X(mesa_ref__GLuint, glCreateProgram, (void))                                                                  \
    X(void, glAttachShader, (mesa_ref__GLuint, mesa_ref__GLuint))                                                 \
    X(void, glBindAttribLocation, (mesa_ref__GLuint, mesa_ref__GLuint, const mesa_ref__GLchar*))                  \
    X(void, glBindFragDataLocation, (mesa_ref__GLuint, mesa_ref__GLuint, const mesa_ref__GLchar*))                \
    X(void, glLinkProgram, (mesa_ref__GLuint))                                                                    \
    X(void, glGetProgramiv, (mesa_ref__GLuint, mesa_ref__GLenum, mesa_ref__GLint*))                               \
    X(void, glGetProgramInfoLog, (mesa_ref__GLuint, mesa_ref__GLsizei, mesa_ref__GLsizei*, mesa_ref__GLchar*))    \
    X(void, glUseProgram, (mesa_ref__GLuint))                                                                     \
    X(void, glDeleteProgram, (mesa_ref__GLuint))                                                                  \
    X(mesa_ref__GLint, glGetUniformLocation, (mesa_ref__GLuint, const mesa_ref__GLchar*))                         \
    X(void, glUniform1fv, (mesa_ref__GLint, mesa_ref__GLsizei, const float*))                                     \
    X(void, glUniform2fv, (mesa_ref__GLint, mesa_ref__GLsizei, const float*))                                     \
    X(void, glUniform3fv, (mesa_ref__GLint, mesa_ref__GLsizei, const float*))                                     \
    X(void, glUniform4fv, (mesa_ref__GLint, mesa_ref__GLsizei, const float*))                                     \
    X(void, glUniformMatrix4fv, (mesa_ref__GLint, mesa_ref__GLsizei, mesa_ref__GLboolean, const float*))          \
    X(void, glGenFramebuffers, (mesa_ref__GLsizei, mesa_ref__GLuint*))                                            \
    X(void, glBindFramebuffer, (mesa_ref__GLenum, mesa_ref__GLuint))                                              \
    X(void, glDeleteFramebuffers, (mesa_ref__GLsizei, const mesa_ref__GLuint*))                                   \
    X(mesa_ref__GLenum, glCheckFramebufferStatus, (mesa_ref__GLenum))                                             \
    X(void, glGenRenderbuffers, (mesa_ref__GLsizei, mesa_ref__GLuint*))                                           \
    X(void, glBindRenderbuffer, (mesa_ref__GLenum, mesa_ref__GLuint))                                             \
    X(void, glRenderbufferStorage, (mesa_ref__GLenum, mesa_ref__GLenum, mesa_ref__GLsizei, mesa_ref__GLsizei))    \
    X(void, glDeleteRenderbuffers, (mesa_ref__GLsizei, const mesa_ref__GLuint*))                                  \
    X(void, glFramebufferRenderbuffer, (mesa_ref__GLenum, mesa_ref__GLenum, mesa_ref__GLenum, mesa_ref__GLuint))

#define MESA_REF__DECL(ret, name, args) ret(*name) args;
typedef struct mesa_ref__gl {
    MESA_REF__GL_FUNCS(MESA_REF__DECL)
} mesa_ref__gl;
#undef MESA_REF__DECL

typedef void (*mesa_ref__proc)(void);
static struct {
    int tried;   /* dlopen attempted */
    void* lib;   /* libOSMesa handle, kept open for the process */
    char why[512]; /* why it is unavailable */
    mesa_ref__OSMesaContext (*CreateContextAttribs)(const int*, mesa_ref__OSMesaContext);
    void (*DestroyContext)(mesa_ref__OSMesaContext);
    mesa_ref__GLboolean (*MakeCurrent)(mesa_ref__OSMesaContext, void*, mesa_ref__GLenum, mesa_ref__GLsizei,
                                       mesa_ref__GLsizei);
    mesa_ref__proc (*GetProcAddress)(const char*);
} mesa_ref__osm;
static char mesa_ref__renderer_name[256];

static void mesa_ref__err(char* err, size_t n, const char* fmt, ...)
{
    va_list ap;
    if (!err || !n) return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

const char* mesa_ref_renderer(void) { return mesa_ref__renderer_name; }

/* Under AddressSanitizer: Mesa 22.3's OSMesa keeps a record of each buffer
 * given to OSMesaMakeCurrent on a global list that it never frees (about
 * 200 bytes a call); LeakSanitizer's documented hook suppresses reports
 * from inside libOSMesa only, so leaks of the program's own code are still
 * reported. */
#if defined(__SANITIZE_ADDRESS__)
#define MESA_REF__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MESA_REF__ASAN 1
#endif
#endif
#ifdef MESA_REF__ASAN
const char* __lsan_default_suppressions(void);
const char* __lsan_default_suppressions(void) { return "leak:libOSMesa.so\n"; }
#endif

/* Opens libOSMesa once; 0 on success, else mesa_ref__osm.why says why. */
static int mesa_ref__load(void)
{
    static const char* const names[] = {"libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"};
    const char* only = getenv("MESA_REF_LIB"); /* a library path instead of the names above */
    size_t i;
    if (mesa_ref__osm.tried) return mesa_ref__osm.lib ? 0 : -1;
    mesa_ref__osm.tried = 1;
    if (only && *only) mesa_ref__osm.lib = dlopen(only, RTLD_NOW | RTLD_LOCAL);
    for (i = 0; i < sizeof names / sizeof names[0] && !mesa_ref__osm.lib && !(only && *only); ++i)
        mesa_ref__osm.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!mesa_ref__osm.lib) {
        const char* e = dlerror();
        snprintf(mesa_ref__osm.why, sizeof mesa_ref__osm.why,
                 "cannot load libOSMesa (%s): install Debian's libosmesa6-dev (Mesa's software OpenGL)",
                 e ? e : "dlopen failed");
        return -1;
    }
    /* ISO C has no object-to-function pointer conversion; POSIX guarantees dlsym's does */
    mesa_ref__osm.CreateContextAttribs =
        (mesa_ref__OSMesaContext(*)(const int*, mesa_ref__OSMesaContext))dlsym(mesa_ref__osm.lib, "OSMesaCreateContextAttribs");
    mesa_ref__osm.DestroyContext = (void (*)(mesa_ref__OSMesaContext))dlsym(mesa_ref__osm.lib, "OSMesaDestroyContext");
    mesa_ref__osm.MakeCurrent = (mesa_ref__GLboolean(*)(mesa_ref__OSMesaContext, void*, mesa_ref__GLenum, mesa_ref__GLsizei,
                                                        mesa_ref__GLsizei))dlsym(mesa_ref__osm.lib, "OSMesaMakeCurrent");
    mesa_ref__osm.GetProcAddress = (mesa_ref__proc(*)(const char*))dlsym(mesa_ref__osm.lib, "OSMesaGetProcAddress");
    if (!mesa_ref__osm.CreateContextAttribs || !mesa_ref__osm.DestroyContext || !mesa_ref__osm.MakeCurrent ||
        !mesa_ref__osm.GetProcAddress) {
        snprintf(mesa_ref__osm.why, sizeof mesa_ref__osm.why,
                 "libOSMesa lacks OSMesaCreateContextAttribs/OSMesaMakeCurrent/OSMesaGetProcAddress (Mesa < 10?)");
        mesa_ref__osm.lib = NULL; /* leave it loaded: harmless, and dlclose of LLVM is not */
        return -1;
    }
    return 0;
}

static int mesa_ref__load_gl(mesa_ref__gl* gl, char* err, size_t n)
{
    mesa_ref__proc p;
#define MESA_REF__LOAD(ret, name, args)                                                                \
    p = mesa_ref__osm.GetProcAddress(#name);                                                           \
    if (!p) p = (mesa_ref__proc)dlsym(mesa_ref__osm.lib, #name);                                       \
    if (!p) {                                                                                          \
        mesa_ref__err(err, n, "mesa_ref: OpenGL function %s not found in libOSMesa", #name);           \
        return -1;                                                                                     \
    }                                                                                                  \
    gl->name = (ret(*) args)p;
    MESA_REF__GL_FUNCS(MESA_REF__LOAD)
#undef MESA_REF__LOAD
    return 0;
}

static const char mesa_ref__default_vs[] =
    "#version 330 core\n"
    "uniform mat4 u_view, u_projection;\n"
    "in vec3 a_position;\n"
    "in vec3 a_normal;\n"
    "in vec3 a_color;\n"
    "out vec3 v_world;\n"
    "out vec3 v_normal;\n"
    "out vec3 v_color;\n"
    "void main() {\n"
    "    v_world = a_position;\n"
    "    v_normal = a_normal;\n"
    "    v_color = a_color;\n"
    "    gl_Position = u_projection * u_view * vec4(a_position, 1.0);\n"
    "}\n";
static const char mesa_ref__default_fs[] =
    "#version 330 core\n"
    "in vec3 v_color;\n"
    "out vec4 o_color;\n"
    "void main() { o_color = vec4(v_color, 1.0); }\n";

/* Compiles one shader; 0 on failure with the info log in err. */
static mesa_ref__GLuint mesa_ref__shader(const mesa_ref__gl* gl, mesa_ref__GLenum kind, const char* src, char* err,
                                         size_t n)
{
    mesa_ref__GLuint s = gl->glCreateShader(kind);
    mesa_ref__GLint ok = 0;
    if (!s) {
        mesa_ref__err(err, n, "mesa_ref: glCreateShader failed");
        return 0;
    }
    gl->glShaderSource(s, 1, &src, NULL);
    gl->glCompileShader(s);
    gl->glGetShaderiv(s, MESA_REF__GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char log[1024] = "";
        gl->glGetShaderInfoLog(s, (mesa_ref__GLsizei)sizeof log, NULL, log);
        mesa_ref__err(err, n, "mesa_ref: desc.%s does not compile: %s",
                      kind == MESA_REF__GL_VERTEX_SHADER ? "vertex_shader" : "fragment_shader", log);
        gl->glDeleteShader(s);
        return 0;
    }
    return s;
}

static int mesa_ref__finite(const float* v, int n)
{
    int i;
    for (i = 0; i < n; ++i)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* Checks desc and mesh before any GL work; 0 when good. */
static int mesa_ref__check(const mesa_ref_desc* d, const mesa_ref_mesh* m, const float* out, char* err, size_t n)
{
    uint32_t i;
    int k;
    if (!d || !m || !out) return mesa_ref__err(err, n, "mesa_ref_render: desc, mesh or rgba_out is NULL"), -1;
    if (d->width < 1 || d->width > 8192 || d->height < 1 || d->height > 8192)
        return mesa_ref__err(err, n, "mesa_ref_render: desc.width x height = %d x %d is outside 1..8192", d->width,
                             d->height), -1;
    if (!mesa_ref__finite(d->view, 16) || !mesa_ref__finite(d->projection, 16) || !mesa_ref__finite(d->clear_rgb, 3))
        return mesa_ref__err(err, n, "mesa_ref_render: desc.view, projection or clear_rgb has a non-finite value"), -1;
    if (!m->positions || m->n_vertices < 1)
        return mesa_ref__err(err, n, "mesa_ref_render: mesh.positions is NULL or mesh.n_vertices is 0"), -1;
    if (!m->indices || m->n_indices < 3 || m->n_indices % 3 != 0 || m->n_indices > 0x7FFFFFFFu)
        return mesa_ref__err(err, n, "mesa_ref_render: mesh.n_indices = %u must be a positive multiple of 3 (indices %s)",
                             m->n_indices, m->indices ? "given" : "NULL"), -1;
    if ((uint64_t)m->n_vertices * 12u > 0x7FFFFFFFu)
        return mesa_ref__err(err, n, "mesa_ref_render: mesh.n_vertices = %u is too large", m->n_vertices), -1;
    for (i = 0; i < m->n_indices; ++i)
        if (m->indices[i] >= m->n_vertices)
            return mesa_ref__err(err, n, "mesa_ref_render: mesh.indices[%u] = %u is not < n_vertices = %u", i,
                                 m->indices[i], m->n_vertices), -1;
    if (d->n_uniforms < 0 || (d->n_uniforms > 0 && !d->uniforms))
        return mesa_ref__err(err, n, "mesa_ref_render: desc.n_uniforms = %d without desc.uniforms", d->n_uniforms), -1;
    for (k = 0; k < d->n_uniforms; ++k) {
        const mesa_ref_uniform* u = &d->uniforms[k];
        if (!u->name || !*u->name || !((u->count >= 1 && u->count <= 4) || u->count == 16))
            return mesa_ref__err(err, n, "mesa_ref_render: desc.uniforms[%d] ('%s'): count = %d must be 1..4 or 16 and "
                                 "the name non-empty", k, u->name ? u->name : "(null)", u->count), -1;
    }
    return 0;
}

void mesa_ref_look_at(const double eye[3], const double at[3], const double up[3], float m[16])
{
    double f[3], s[3], u[3], l;
    int i;
    for (i = 0; i < 3; ++i) f[i] = at[i] - eye[i];
    l = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    for (i = 0; i < 3; ++i) f[i] /= l;
    s[0] = f[1] * up[2] - f[2] * up[1];
    s[1] = f[2] * up[0] - f[0] * up[2];
    s[2] = f[0] * up[1] - f[1] * up[0];
    l = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
    for (i = 0; i < 3; ++i) s[i] /= l;
    u[0] = s[1] * f[2] - s[2] * f[1];
    u[1] = s[2] * f[0] - s[0] * f[2];
    u[2] = s[0] * f[1] - s[1] * f[0];
    memset(m, 0, 16 * sizeof(float));
    for (i = 0; i < 3; ++i) {
        m[4 * i + 0] = (float)s[i];
        m[4 * i + 1] = (float)u[i];
        m[4 * i + 2] = (float)-f[i];
    }
    m[12] = (float)-(s[0] * eye[0] + s[1] * eye[1] + s[2] * eye[2]);
    m[13] = (float)-(u[0] * eye[0] + u[1] * eye[1] + u[2] * eye[2]);
    m[14] = (float)(f[0] * eye[0] + f[1] * eye[1] + f[2] * eye[2]);
    m[15] = 1.0f;
}

void mesa_ref_perspective(double fov_y, double aspect, double near_, double far_, double dx_ndc, double dy_ndc,
                             float m[16])
{
    double t = 1.0 / tan(0.5 * fov_y);
    memset(m, 0, 16 * sizeof(float));
    m[0] = (float)(t / aspect);
    m[5] = (float)t;
    m[8] = (float)-dx_ndc; /* x_ndc += dx (clip x += dx w, w = -z_eye) */
    m[9] = (float)-dy_ndc;
    m[10] = (float)((far_ + near_) / (near_ - far_));
    m[11] = -1.0f;
    m[14] = (float)(2.0 * far_ * near_ / (near_ - far_));
}

int mesa_ref_render(const mesa_ref_desc* desc, const mesa_ref_mesh* mesh, float* rgba_out, char* err, size_t err_size)
{
    static const int attribs[] = {MESA_REF__OSMESA_FORMAT, MESA_REF__OSMESA_RGBA,
                                  MESA_REF__OSMESA_DEPTH_BITS, 24,
                                  MESA_REF__OSMESA_PROFILE, MESA_REF__OSMESA_CORE_PROFILE,
                                  MESA_REF__OSMESA_CONTEXT_MAJOR_VERSION, 3,
                                  MESA_REF__OSMESA_CONTEXT_MINOR_VERSION, 3,
                                  0};
    mesa_ref__gl gl;
    mesa_ref__OSMesaContext ctx = NULL;
    unsigned char* window = NULL;
    float* pixels = NULL;
    mesa_ref__GLuint vs = 0, fs = 0, prog = 0, vao = 0, bufs[4] = {0, 0, 0, 0}, fbo = 0, rbs[2] = {0, 0};
    mesa_ref__GLint ok = 0, loc;
    mesa_ref__GLenum e;
    int rc = MESA_REF_ERROR, w, h, y, k;
    size_t row;

    if (err && err_size) err[0] = 0;
    if (mesa_ref__check(desc, mesh, rgba_out, err, err_size)) return MESA_REF_ERROR;
    if (mesa_ref__load()) {
        mesa_ref__err(err, err_size, "mesa_ref: %s", mesa_ref__osm.why);
        return MESA_REF_UNAVAILABLE;
    }
    w = desc->width;
    h = desc->height;
    row = (size_t)w * 4;
    ctx = mesa_ref__osm.CreateContextAttribs(attribs, NULL);
    if (!ctx) {
        mesa_ref__err(err, err_size, "mesa_ref: OSMesaCreateContextAttribs gave no OpenGL 3.3 core context");
        return MESA_REF_UNAVAILABLE;
    }
    window = (unsigned char*)calloc((size_t)w * (size_t)h, 4);
    pixels = (float*)malloc(row * (size_t)h * sizeof(float));
    if (!window || !pixels) {
        mesa_ref__err(err, err_size, "mesa_ref: out of memory for %d x %d pixels", w, h);
        goto cleanup;
    }
    if (!mesa_ref__osm.MakeCurrent(ctx, window, MESA_REF__GL_UNSIGNED_BYTE, w, h)) {
        mesa_ref__err(err, err_size, "mesa_ref: OSMesaMakeCurrent failed for %d x %d", w, h);
        goto cleanup;
    }
    if (mesa_ref__load_gl(&gl, err, err_size)) goto cleanup;
    {
        const char* r = (const char*)gl.glGetString(MESA_REF__GL_RENDERER);
        const char* v = (const char*)gl.glGetString(MESA_REF__GL_VERSION);
        snprintf(mesa_ref__renderer_name, sizeof mesa_ref__renderer_name, "%s, %s", r ? r : "?", v ? v : "?");
    }

    /* the float framebuffer object */
    gl.glGenFramebuffers(1, &fbo);
    gl.glBindFramebuffer(MESA_REF__GL_FRAMEBUFFER, fbo);
    gl.glGenRenderbuffers(2, rbs);
    gl.glBindRenderbuffer(MESA_REF__GL_RENDERBUFFER, rbs[0]);
    gl.glRenderbufferStorage(MESA_REF__GL_RENDERBUFFER, MESA_REF__GL_RGBA32F, w, h);
    gl.glFramebufferRenderbuffer(MESA_REF__GL_FRAMEBUFFER, MESA_REF__GL_COLOR_ATTACHMENT0, MESA_REF__GL_RENDERBUFFER,
                                 rbs[0]);
    gl.glBindRenderbuffer(MESA_REF__GL_RENDERBUFFER, rbs[1]);
    gl.glRenderbufferStorage(MESA_REF__GL_RENDERBUFFER, MESA_REF__GL_DEPTH_COMPONENT32F, w, h);
    gl.glFramebufferRenderbuffer(MESA_REF__GL_FRAMEBUFFER, MESA_REF__GL_DEPTH_ATTACHMENT, MESA_REF__GL_RENDERBUFFER,
                                 rbs[1]);
    if ((e = gl.glCheckFramebufferStatus(MESA_REF__GL_FRAMEBUFFER)) != MESA_REF__GL_FRAMEBUFFER_COMPLETE) {
        mesa_ref__err(err, err_size, "mesa_ref: the RGBA32F + DEPTH32F framebuffer of %d x %d is incomplete (0x%x)", w,
                      h, e);
        goto cleanup;
    }

    /* the program */
    vs = mesa_ref__shader(&gl, MESA_REF__GL_VERTEX_SHADER, desc->vertex_shader ? desc->vertex_shader : mesa_ref__default_vs,
                          err, err_size);
    if (!vs) goto cleanup;
    fs = mesa_ref__shader(&gl, MESA_REF__GL_FRAGMENT_SHADER,
                          desc->fragment_shader ? desc->fragment_shader : mesa_ref__default_fs, err, err_size);
    if (!fs) goto cleanup;
    prog = gl.glCreateProgram();
    gl.glAttachShader(prog, vs);
    gl.glAttachShader(prog, fs);
    gl.glBindAttribLocation(prog, 0, "a_position");
    gl.glBindAttribLocation(prog, 1, "a_normal");
    gl.glBindAttribLocation(prog, 2, "a_color");
    gl.glBindFragDataLocation(prog, 0, "o_color");
    gl.glLinkProgram(prog);
    gl.glGetProgramiv(prog, MESA_REF__GL_LINK_STATUS, &ok);
    if (!ok) {
        char log[1024] = "";
        gl.glGetProgramInfoLog(prog, (mesa_ref__GLsizei)sizeof log, NULL, log);
        mesa_ref__err(err, err_size, "mesa_ref: the shaders do not link: %s", log);
        goto cleanup;
    }
    gl.glUseProgram(prog);
    if ((loc = gl.glGetUniformLocation(prog, "u_view")) >= 0) gl.glUniformMatrix4fv(loc, 1, 0, desc->view);
    if ((loc = gl.glGetUniformLocation(prog, "u_projection")) >= 0) gl.glUniformMatrix4fv(loc, 1, 0, desc->projection);
    if ((loc = gl.glGetUniformLocation(prog, "u_viewport")) >= 0) {
        float vp[2];
        vp[0] = (float)w;
        vp[1] = (float)h;
        gl.glUniform2fv(loc, 1, vp);
    }
    for (k = 0; k < desc->n_uniforms; ++k) {
        const mesa_ref_uniform* u = &desc->uniforms[k];
        if ((loc = gl.glGetUniformLocation(prog, u->name)) < 0) continue;
        switch (u->count) {
        case 1: gl.glUniform1fv(loc, 1, u->v); break;
        case 2: gl.glUniform2fv(loc, 1, u->v); break;
        case 3: gl.glUniform3fv(loc, 1, u->v); break;
        case 4: gl.glUniform4fv(loc, 1, u->v); break;
        default: gl.glUniformMatrix4fv(loc, 1, 0, u->v); break;
        }
    }
    if ((e = gl.glGetError()) != 0) {
        mesa_ref__err(err, err_size, "mesa_ref: GL error 0x%x setting the uniforms (a desc.uniforms count that does "
                      "not match the GLSL type?)", e);
        goto cleanup;
    }

    /* the mesh */
    gl.glGenVertexArrays(1, &vao);
    gl.glBindVertexArray(vao);
    gl.glGenBuffers(4, bufs);
    gl.glBindBuffer(MESA_REF__GL_ARRAY_BUFFER, bufs[0]);
    gl.glBufferData(MESA_REF__GL_ARRAY_BUFFER, (mesa_ref__GLsizeiptr)mesh->n_vertices * 12, mesh->positions,
                    MESA_REF__GL_STATIC_DRAW);
    gl.glVertexAttribPointer(0, 3, MESA_REF__GL_FLOAT, 0, 12, NULL);
    gl.glEnableVertexAttribArray(0);
    if (mesh->normals) {
        gl.glBindBuffer(MESA_REF__GL_ARRAY_BUFFER, bufs[1]);
        gl.glBufferData(MESA_REF__GL_ARRAY_BUFFER, (mesa_ref__GLsizeiptr)mesh->n_vertices * 12, mesh->normals,
                        MESA_REF__GL_STATIC_DRAW);
        gl.glVertexAttribPointer(1, 3, MESA_REF__GL_FLOAT, 0, 12, NULL);
        gl.glEnableVertexAttribArray(1);
    } else {
        gl.glVertexAttrib3f(1, 0.0f, 0.0f, 0.0f);
    }
    if (mesh->colors) {
        gl.glBindBuffer(MESA_REF__GL_ARRAY_BUFFER, bufs[2]);
        gl.glBufferData(MESA_REF__GL_ARRAY_BUFFER, (mesa_ref__GLsizeiptr)mesh->n_vertices * 12, mesh->colors,
                        MESA_REF__GL_STATIC_DRAW);
        gl.glVertexAttribPointer(2, 3, MESA_REF__GL_FLOAT, 0, 12, NULL);
        gl.glEnableVertexAttribArray(2);
    } else {
        gl.glVertexAttrib3f(2, 1.0f, 1.0f, 1.0f);
    }
    gl.glBindBuffer(MESA_REF__GL_ELEMENT_ARRAY_BUFFER, bufs[3]);
    gl.glBufferData(MESA_REF__GL_ELEMENT_ARRAY_BUFFER, (mesa_ref__GLsizeiptr)mesh->n_indices * 4, mesh->indices,
                    MESA_REF__GL_STATIC_DRAW);

    /* draw */
    gl.glViewport(0, 0, w, h);
    gl.glDisable(MESA_REF__GL_CULL_FACE);
    gl.glDisable(MESA_REF__GL_BLEND);
    gl.glDisable(MESA_REF__GL_DITHER);
    gl.glDisable(MESA_REF__GL_MULTISAMPLE);
    if (desc->no_depth_test) {
        gl.glDisable(MESA_REF__GL_DEPTH_TEST);
    } else {
        gl.glEnable(MESA_REF__GL_DEPTH_TEST);
        gl.glDepthFunc(MESA_REF__GL_LESS);
    }
    gl.glClearColor(desc->clear_rgb[0], desc->clear_rgb[1], desc->clear_rgb[2], 0.0f);
    gl.glClearDepth(1.0);
    gl.glClear(MESA_REF__GL_COLOR_BUFFER_BIT | MESA_REF__GL_DEPTH_BUFFER_BIT);
    gl.glDrawElements(MESA_REF__GL_TRIANGLES, (mesa_ref__GLsizei)mesh->n_indices, MESA_REF__GL_UNSIGNED_INT, NULL);
    gl.glPixelStorei(MESA_REF__GL_PACK_ALIGNMENT, 1);
    gl.glReadPixels(0, 0, w, h, MESA_REF__GL_RGBA, MESA_REF__GL_FLOAT, pixels);
    gl.glFinish();
    if (desc->draw_ms) *desc->draw_ms = 0.0;
    if (desc->repeat > 1) { /* the rasterizer's time alone: clear + draw + finish, median of repeat */
        double* ms = (double*)malloc(sizeof(double) * (size_t)desc->repeat);
        int r, i2, j2;
        for (r = 0; ms && r < desc->repeat; ++r) {
            struct timespec a, b; /* C11's timespec_get: no POSIX feature macro needed by the includer */
            timespec_get(&a, TIME_UTC);
            gl.glClear(MESA_REF__GL_COLOR_BUFFER_BIT | MESA_REF__GL_DEPTH_BUFFER_BIT);
            gl.glDrawElements(MESA_REF__GL_TRIANGLES, (mesa_ref__GLsizei)mesh->n_indices, MESA_REF__GL_UNSIGNED_INT, NULL);
            gl.glFinish();
            timespec_get(&b, TIME_UTC);
            ms[r] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) * 1e-6;
        }
        for (i2 = 1; ms && i2 < desc->repeat; ++i2) /* insertion sort: a handful of values */
            for (j2 = i2; j2 > 0 && ms[j2 - 1] > ms[j2]; --j2) {
                double t = ms[j2];
                ms[j2] = ms[j2 - 1];
                ms[j2 - 1] = t;
            }
        if (ms && desc->draw_ms) *desc->draw_ms = ms[desc->repeat / 2];
        free(ms);
    }
    if ((e = gl.glGetError()) != 0) {
        mesa_ref__err(err, err_size, "mesa_ref: GL error 0x%x while drawing or reading back", e);
        goto cleanup;
    }
    /* GL's row 0 is the bottom; dvren's is the top */
    for (y = 0; y < h; ++y)
        memcpy(rgba_out + (size_t)y * row, pixels + (size_t)(h - 1 - y) * row, row * sizeof(float));
    rc = MESA_REF_OK;

cleanup:
    if (ctx) {
        /* the GL objects go with the context (nothing is shared) */
        mesa_ref__osm.MakeCurrent(NULL, NULL, 0, 0, 0);
        mesa_ref__osm.DestroyContext(ctx);
    }
    free(window);
    free(pixels);
    return rc;
}

int mesa_ref_save_npy(const char* path, const float* rgba, int width, int height, char* err, size_t err_size)
{
    char header[128], tmp[4096];
    int hl, pad;
    size_t count;
    FILE* f;
    if (err && err_size) err[0] = 0;
    if (!path || !*path || !rgba || width < 1 || height < 1)
        return mesa_ref__err(err, err_size, "mesa_ref_save_npy: path or rgba is NULL, or %d x %d is empty", width,
                             height), MESA_REF_ERROR;
    /* magic (6) + version (2) + header length (2) + dict padded with spaces and '\n' to a multiple of 64 */
    hl = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, 4), }", height,
                  width);
    pad = 64 - (10 + hl + 1) % 64;
    if (pad == 64) pad = 0;
    if (hl + pad + 1 >= (int)sizeof header)
        return mesa_ref__err(err, err_size, "mesa_ref_save_npy: header too long"), MESA_REF_ERROR;
    memset(header + hl, ' ', (size_t)pad);
    header[hl + pad] = '\n';
    hl += pad + 1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return mesa_ref__err(err, err_size, "mesa_ref_save_npy: path '%s' is too long", path), MESA_REF_ERROR;
    f = fopen(tmp, "wb");
    if (!f) return mesa_ref__err(err, err_size, "mesa_ref_save_npy: cannot create '%s'", tmp), MESA_REF_ERROR;
    count = (size_t)width * (size_t)height * 4;
    {
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
        int bad;
        pre[8] = (unsigned char)(hl & 0xFF);
        pre[9] = (unsigned char)(hl >> 8);
        /* .npy '<f4' is little-endian IEEE float: the hosts we run on store floats that way */
        bad = fwrite(pre, 1, 10, f) != 10 || fwrite(header, 1, (size_t)hl, f) != (size_t)hl ||
              fwrite(rgba, sizeof(float), count, f) != count;
        if (fclose(f) != 0) bad = 1;
        if (bad || rename(tmp, path) != 0) {
            remove(tmp);
            return mesa_ref__err(err, err_size, "mesa_ref_save_npy: cannot write '%s'", path), MESA_REF_ERROR;
        }
    }
    return MESA_REF_OK;
}
