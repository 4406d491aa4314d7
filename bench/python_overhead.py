"""bench/python_overhead.py - what a render costs from Python above the C call.

The same scene and plan (a 64 x 64 image by default: a small constant
grid with a few samples per ray, so that the render itself is short and the
overhead stands out of its noise; --scene FILE for a scene file) rendered, in
interleaved rounds, three ways:
  C        lib.dvren_render(scene, plan, fb, NULL) through ctypes into one
           framebuffer (the C call plus ctypes' own ~1 us, which counts
           against Python here);
  reuse    scene.render(plan, out=fb): the Python API into that framebuffer,
           returning zero-copy views of its outputs;
  fresh    scene.render(plan): the Python API with a new framebuffer each
           call (what a plain call does).
The three run call by call (C, reuse, fresh, C, ...) --rounds x --reps
times; per way the median time, and the overhead is the median of the
per-call differences Python - C (pairs cancel the machine's drift). On a GPU context (--device cuda)
every call is followed by a synchronize (included in all three).

    PYTHONPATH=build/python python3 bench/python_overhead.py [--device cpu] [--size 64]
        [--scene FILE] [--reps 300] [--rounds 7] [--threads 0]

Prints one line per way and a last line
    overhead: reuse +X us, fresh +Y us per call (C call Z us)   [target: < 50 us]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import dvren
from dvren._capi import lib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--scene", default=None, help="a scene file (default: a small synthetic scene)")
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    ctx = dvren.Context(a.device, threads=a.threads)
    source = a.scene or {
        "field": {"plugin": "dense_grid", "params": {"generator": "constant", "fill": [0.5], "dims": [8, 8, 8]}},
        "shader": {"plugin": "emission_absorption", "params": {"tf_opacity": [[0, 0], [1, 1]]}},
        "sampler": {"plugin": "uniform", "params": {"jitter": False}},
        "camera": {"type": "perspective", "eye": [0, 0, 3], "target": [0, 0, 0], "up": [0, 1, 0], "fov_y_deg": 40},
        "plan": {"samples_per_ray": 4}}
    sf = dvren.load_scene(source, context=ctx, width=a.size, height=a.size, spp=1)
    scene, plan = sf.scene, sf.plan
    fb = dvren.Framebuffer(plan)
    gpu = ctx.device == "cuda"

    def c_call():
        if lib.dvren_render(scene._ptr, plan._ptr, fb._ptr, None):
            raise RuntimeError(lib.dvren_last_error(ctx._ptr).decode())
        if gpu:
            lib.dvren_synchronize(ctx._ptr)

    def reuse():
        scene.render(plan, out=fb)
        if gpu:
            ctx.synchronize()

    def fresh():
        scene.render(plan)
        if gpu:
            ctx.synchronize()

    ways = {"C": c_call, "reuse": reuse, "fresh": fresh}
    for f in ways.values():  # warm-up (JIT on a GPU, caches, threads)
        for _ in range(20):
            f()
    # the three ways call by call, so that the machine's drift cancels in the
    # per-call differences; per way the median time, per difference the median
    times = {k: [] for k in ways}
    for _ in range(a.rounds * a.reps):
        for k, f in ways.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    diff = {k: statistics.median([x - c for x, c in zip(times[k], times["C"])]) for k in ("reuse", "fresh")}
    for k in ways:
        print("%-6s %9.1f us per call (median of %d)" % (k, med[k] * 1e6, a.rounds * a.reps))
    print("overhead: reuse +%.1f us, fresh +%.1f us per call (median of per-call differences; C call %.1f us; "
          "%s, %dx%d, %d threads)   [target: < 50 us]" % (diff["reuse"] * 1e6, diff["fresh"] * 1e6, med["C"] * 1e6,
                                                         ctx.device_str, a.size, a.size, ctx.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
