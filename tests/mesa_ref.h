/* tests/mesa_ref.h - a reference rasterizer: Mesa's software OpenGL through OSMesa.
 *
 * What it is: renders an indexed triangle mesh headlessly with a real OpenGL
 * implementation (Mesa's OSMesa, llvmpipe, Debian `libosmesa6-dev`, Mesa
 * 22.3), so that dvren's images of surfaces (the block world of issue 12)
 * can be checked pixel by pixel against a rasterizer that shares nothing
 * with dvren. It is test infrastructure, not part of the engine.
 *
 * Do this: compile tests/mesa_ref.c with your program, or, since
 * tests/run.sh builds one file per test, `#include "mesa_ref.c"` in exactly
 * one test file (it includes this header). No link flags beyond -ldl:
 * libOSMesa.so.8 (else libOSMesa.so) is opened with dlopen at run time and
 * the few OSMesa and GL prototypes are declared here, so neither osmesa.h
 * nor libOSMesa is needed to build; without them mesa_ref_render returns
 * MESA_REF_UNAVAILABLE and a test should SKIP. $MESA_REF_LIB, when set,
 * is the one library tried instead (a path; a missing one shows the SKIP).
 *
 * What one call does (mesa_ref_render):
 *   - an OpenGL 3.3 core context (OSMesaCreateContextAttribs with
 *     OSMESA_PROFILE = OSMESA_CORE_PROFILE, OSMESA_CONTEXT_MAJOR/MINOR_VERSION
 *     = 3/3; GLSL 330); every GL entry point through OSMesaGetProcAddress;
 *   - an off-screen framebuffer object of width x height with an RGBA32F
 *     colour buffer and a DEPTH_COMPONENT32F depth buffer. The OSMesa window
 *     buffer (8-bit RGBA) only makes the context current; nothing is drawn
 *     into it. So the output is float32 as the shader wrote it, without 8-bit
 *     quantisation and without clamping to [0, 1]: a flat colour comes back
 *     bit for bit;
 *   - clear to (clear_rgb, alpha 0), depth cleared to 1, depth test
 *     GL_LESS on (unless no_depth_test), no face culling, no blending, no
 *     multisampling: one sample per pixel at the pixel centre, OpenGL's
 *     rasterization rules (coverage = alpha when the shader writes alpha 1);
 *   - the mesh drawn once with glDrawElements(GL_TRIANGLES);
 *   - glReadPixels(GL_RGBA, GL_FLOAT), rows flipped so that row 0 is the top
 *     of the image: out[(y * width + x) * 4 + c], y down, dvren's
 *     framebuffer convention (dvren.h >>camera: pixel (0,0) is the top-left
 *     corner, pixel centres at +0.5).
 *
 * Camera: view and projection are column-major float[16] OpenGL matrices
 * (world to eye, eye to clip), exactly what dvren_camera_from_matrices
 * (DVREN_CAMERA_MATRIX, docs/scenes.md "camera", type "matrix") takes, so the
 * same two matrices give dvren and GL the same pixels: GL's pixel (x, y) of
 * the returned image is dvren_camera_ray(px = x + 0.5, py = y + 0.5)
 * (tests/test_mesa_ref.c checks this).
 *
 * Shader interface (GLSL "#version 330 core"), for vertex_shader and
 * fragment_shader given as strings (NULL: the built-in pair below):
 *   in vec3 a_position;   world position   (attribute location 0, mesh.positions)
 *   in vec3 a_normal;     world normal     (location 1, mesh.normals; (0,0,0) when NULL)
 *   in vec3 a_color;      linear RGB       (location 2, mesh.colors; (1,1,1) when NULL)
 *   uniform mat4 u_view, u_projection;     desc.view, desc.projection
 *   uniform vec2 u_viewport;               (width, height) in pixels
 *   uniform float/vec2/vec3/vec4/mat4 ...  desc.uniforms (by name)
 *   out vec4 o_color;     the fragment output (bound to colour 0)
 * Built-in vertex shader: gl_Position = u_projection * u_view *
 * vec4(a_position, 1); passes v_world (a_position), v_normal, v_color.
 * Built-in fragment shader: o_color = vec4(v_color, 1). Uniforms that the
 * program does not use (the GLSL compiler removes them) are ignored.
 *
 * Not done: textures, blending, anti-aliasing, several draws per frame.
 * Not thread-safe (one GL context per call, made current on the calling
 * thread). The library handle stays open for the process (LLVM's
 * llvmpipe does not like dlclose). */
#ifndef MESA_REF_H
#define MESA_REF_H

#include <stddef.h>
#include <stdint.h>

/* Return values of mesa_ref_render and mesa_ref_save_npy. */
#define MESA_REF_OK 0
#define MESA_REF_UNAVAILABLE 1 /* no libOSMesa, or no OpenGL 3.3 core context from it: skip */
#define MESA_REF_ERROR (-1)    /* bad input, shader compile/link error, GL error, I/O error */

/* An indexed triangle mesh, borrowed (never freed by mesa_ref). */
typedef struct mesa_ref_mesh {
    const float* positions;   /* n_vertices x 3 world positions (required) */
    const float* normals;     /* n_vertices x 3, or NULL: a_normal = (0, 0, 0) */
    const float* colors;      /* n_vertices x 3 linear RGB, or NULL: a_color = (1, 1, 1) */
    uint32_t n_vertices;      /* >= 1 */
    const uint32_t* indices;  /* n_indices vertex indices, 3 per triangle, each < n_vertices */
    uint32_t n_indices;       /* a multiple of 3, >= 3 */
} mesa_ref_mesh;

/* One named uniform: count = 1, 2, 3, 4 (float, vec2, vec3, vec4) or 16
 * (mat4, column-major). */
typedef struct mesa_ref_uniform {
    const char* name;
    int count;
    float v[16];
} mesa_ref_uniform;

/* What to render. Zero fields take the defaults written beside them. */
typedef struct mesa_ref_desc {
    int width, height;           /* pixels, 1..8192 each (required) */
    float view[16];              /* column-major world -> eye (required) */
    float projection[16];        /* column-major eye -> clip (required) */
    const char* vertex_shader;   /* GLSL 330 source, NULL: built-in */
    const char* fragment_shader; /* GLSL 330 source, NULL: built-in */
    float clear_rgb[3];          /* background colour; the background's alpha is always 0 */
    int no_depth_test;           /* 0: depth test GL_LESS (default); 1: off, later triangles win */
    const mesa_ref_uniform* uniforms; /* n_uniforms extra uniforms, or NULL */
    int n_uniforms;
    /* Timing (bench/blocks.c): repeat > 1 clears and draws the frame that
     * many more times, each ended by glFinish, after the frame read back;
     * *draw_ms (when draw_ms is not NULL) receives the median wall time of
     * one clear + draw + glFinish in milliseconds (0 when repeat <= 1): the
     * rasterizer's time, without the context, shaders, uploads and read-back. */
    int repeat;
    double* draw_ms;
} mesa_ref_desc;

/* OpenGL matrices, column-major (what desc.view / desc.projection and
 * dvren_camera_from_matrices take), computed in double: gluLookAt's view
 * matrix (world to eye; up need not be orthogonal to at - eye), and
 * gluPerspective's projection (vertical field of view fov_y in radians,
 * aspect = width / height, near_ < far_ > 0 in world units) with the
 * image shifted by (dx_ndc, dy_ndc) in normalised device coordinates
 * (0, 0: none; 2 / width is one pixel). */
void mesa_ref_look_at(const double eye[3], const double at[3], const double up[3], float m[16]);
void mesa_ref_perspective(double fov_y, double aspect, double near_, double far_, double dx_ndc, double dy_ndc,
                          float m[16]);

/* Renders mesh under desc into rgba_out (caller-allocated, width * height *
 * 4 floats, row 0 at the top; untouched unless MESA_REF_OK). err (err_size
 * bytes, may be NULL) receives a message that names the parameter and the
 * problem, with the GLSL info log for compile/link errors. Returns
 * MESA_REF_OK, MESA_REF_UNAVAILABLE (the library or a GL 3.3 core context is
 * missing) or MESA_REF_ERROR. */
int mesa_ref_render(const mesa_ref_desc* desc, const mesa_ref_mesh* mesh, float* rgba_out, char* err, size_t err_size);

/* Writes rgba (height x width x 4 float32, row 0 at the top) as a NumPy
 * .npy file (version 1.0, '<f4', shape (height, width, 4), C order) through
 * a temporary file renamed into place, so a failed write leaves no partial
 * file. Returns MESA_REF_OK or MESA_REF_ERROR (message in err). */
int mesa_ref_save_npy(const char* path, const float* rgba, int width, int height, char* err, size_t err_size);

/* "GL_RENDERER, GL_VERSION" of the last successful context (static storage),
 * or "" before the first one. */
const char* mesa_ref_renderer(void);

#endif /* MESA_REF_H */
