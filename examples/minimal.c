/* examples/minimal.c - the smallest complete dvren program: load the three
 * plugins, render the CT head of ../shared/data and write a PNG.
 *   cc -std=c11 -O2 -I. examples/minimal.c tools/stb_impl.c -ldl -lm -lpthread -o minimal
 *   ./minimal [volume.nhdr] [out.png]    (default: $DVREN_DATA/ct_head/quarter.nhdr, out/minimal.png)
 * Plugins are found beside the program, in its plugins/ folder, or on $DVREN_PLUGIN_PATH. */
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#include <stb/stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(call) do { if ((call) != DVREN_OK) { fprintf(stderr, "error: %s\n", dvren_last_error(ctx)); return 1; } } while (0)

int main(int argc, char** argv)
{
    const char* data = getenv("DVREN_DATA") ? getenv("DVREN_DATA") : "../shared/data";
    char path[1024];
    const char* out = argc > 2 ? argv[2] : "out/minimal.png";
    dvren_context* ctx = NULL;
    dvren_context_desc cd = {0};
    dvren_params *fp, *sp;
    dvren_stage *field, *shader, *sampler;
    dvren_scene* scene;
    dvren_scene_desc sd = {0};
    dvren_plan_desc pd = {0};
    dvren_plan* plan;
    dvren_framebuffer* fb;
    dvren_tensor rgb;
    static unsigned char px[512 * 512 * 3];
    const float eye[3] = {2.0f, -3.0f, -0.5f}, target[3] = {0, 0, 0}, up[3] = {0, 0, -1}; /* the scan's +z is the neck */
    const double tf_opacity[] = {0, 0, 500, 0, 700, 0.1, 1100, 0.1, 1200, 0, 1400, 1, 4000, 1}; /* skin, then bone */
    const double tf_color[] = {500, 0.9, 0.6, 0.5, 1100, 0.95, 0.75, 0.65, 1200, 1, 0.95, 0.85};
    int i, lit = 0;

    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: minimal [volume.nhdr] [out.png]\n"
               "  renders the volume (default $DVREN_DATA/ct_head/quarter.nhdr) to a 512 x 512 PNG (default out/minimal.png)\n"
               "  with a fixed skin-and-bone transfer function; plugins beside the program, in its plugins/ folder,\n"
               "  or on $DVREN_PLUGIN_PATH. The smallest complete dvren program: read examples/minimal.c.\n");
        return 0;
    }
    snprintf(path, sizeof path, "%s/ct_head/quarter.nhdr", data);
    cd.log = dvren_log_to_file; /* [step] ... lines on stderr */
    if (dvren_context_create(&cd, &ctx) != DVREN_OK) { fprintf(stderr, "%s\n", dvren_last_error(NULL)); return 1; }
    TRY(dvren_params_create(ctx, &fp));
    TRY(dvren_params_set_string(fp, "file", argc > 1 ? argv[1] : path));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_FIELD, "dense_grid", fp, &field));
    TRY(dvren_params_create(ctx, &sp));
    TRY(dvren_params_set_numbers(sp, "tf_opacity", tf_opacity, 14));
    TRY(dvren_params_set_numbers(sp, "tf_color", tf_color, 12));
    TRY(dvren_params_set_number(sp, "sigma_scale", 40));
    TRY(dvren_params_set_bool(sp, "shading", 1));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SHADER, "emission_absorption", sp, &shader));
    TRY(dvren_stage_create(ctx, DVREN_PLUGIN_SAMPLER, "uniform", NULL, &sampler));
    sd.field = field; sd.shader = shader; sd.sampler = sampler;
    TRY(dvren_scene_create(ctx, &sd, &scene));
    pd.width = pd.height = 512;
    TRY(dvren_camera_look_at(eye, target, up, 0.6f, &pd.camera));
    TRY(dvren_plan_create(ctx, &pd, &plan));
    TRY(dvren_framebuffer_create(ctx, plan, &fb));
    TRY(dvren_render(scene, plan, fb, NULL));
    TRY(dvren_framebuffer_output(fb, DVREN_OUTPUT_RGB, &rgb)); /* (512, 512, 3) float32 */
    for (i = 0; i < 512 * 512 * 3; ++i) {
        float v = ((const float*)rgb.data)[i];
        px[i] = (unsigned char)(255.0f * (v < 0 ? 0 : v > 1 ? 1 : v) + 0.5f);
        lit += (i % 3 == 0) && px[i] > 0;
    }
    if (!stbi_write_png(out, 512, 512, 3, px, 512 * 3)) { fprintf(stderr, "error: cannot write %s\n", out); return 1; }
    printf("wrote %s: %.1f%% of the pixels lit\n", out, 100.0 * lit / (512 * 512));
    dvren_framebuffer_destroy(fb); dvren_plan_destroy(plan); dvren_scene_destroy(scene);
    dvren_stage_destroy(field); dvren_stage_destroy(shader); dvren_stage_destroy(sampler);
    dvren_params_destroy(fp); dvren_params_destroy(sp); dvren_context_destroy(ctx);
    return 0;
}
