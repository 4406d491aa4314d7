/* bench/peer_scene.h - the scene of the benchmarks (bench/cpu_render.c,
 * bench/gpu_bench.c): the workload of ../shared/peers/torch_dense_grid.py,
 * as bench/peer_scene.json has it, with the sizes as printf arguments:
 * grid resolution (three times), storage ("f32", "u16"), samples per ray,
 * early-termination transmittance (negative: none, as the peer), image
 * width and height. Read it with
 * tools/dvren_scene.h (dvren_scenefile_parse). */
#ifndef DVREN_BENCH_PEER_SCENE_H
#define DVREN_BENCH_PEER_SCENE_H

static const char dvren_bench_peer_scene[] =
    "{\n"
    "  \"field\":   {\"plugin\": \"dense_grid\", \"params\": {\"generator\": \"peer\", \"dims\": [%d, %d, %d], \"storage\": \"%s\"}},\n"
    "  \"shader\":  {\"plugin\": \"emission_absorption\", \"params\": {\"mode\": \"channels\"}},\n"
    "  \"sampler\": {\"plugin\": \"uniform\", \"params\": {\"jitter\": false}},\n"
    "  \"camera\":  {\"type\": \"perspective\", \"eye\": [0, 0, 3], \"target\": [0, 0, 0], \"up\": [0, 1, 0], \"fov_y_deg\": 45},\n"
    "  \"plan\":    {\"samples_per_ray\": %d, \"min_transmittance\": %.17g, \"width\": %d, \"height\": %d}\n"
    "}\n";

#endif
