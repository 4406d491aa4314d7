"""bench/python_overhead.py - what a render costs from Python above the C call.

The same scene and plan (a 64 x 64 image by default) rendered, in
interleaved rounds, three ways:
  C        lib.dvren_render(scene, plan, fb, NULL) through ctypes into one
           framebuffer (the C call plus ctypes' own ~1 us, which counts
           against Python here);
  reuse    scene.render(plan, out=fb): the Python API into that framebuffer,
           returning zero-copy views of its outputs;
  fresh    scene.render(plan): the Python API with a new framebuffer each
           call (what a plain call does).
Per way: the median time per call over --reps calls per round, the best
round of --rounds; overhead = Python - C. On a GPU context (--device cuda)
every call is followed by a synchronize (included in all three).

    PYTHONPATH=build/python python3 bench/python_overhead.py [--device cpu] [--size 64]
        [--scene examples/ct_head.json] [--reps 300] [--rounds 7] [--threads 0]

Prints one line per way and a last line
    overhead: reuse +X us, fresh +Y us per call (C call Z us)   [target: < 50 us]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time

import dvren
from dvren._capi import lib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--scene", default=os.path.join(os.path.dirname(__file__), "..", "examples", "ct_head.json"))
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    ctx = dvren.Context(a.device, threads=a.threads)
    sf = dvren.load_scene(a.scene, context=ctx, width=a.size, height=a.size, spp=1)
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
    best = {k: float("inf") for k in ways}
    for _ in range(a.rounds):
        for k, f in ways.items():
            times = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                f()
                times.append(time.perf_counter() - t0)
            best[k] = min(best[k], statistics.median(times))
    for k in ways:
        print("%-6s %9.1f us per call (median, best of %d rounds of %d)" % (k, best[k] * 1e6, a.rounds, a.reps))
    print("overhead: reuse +%.1f us, fresh +%.1f us per call (C call %.1f us; %s, %dx%d, %d threads)   "
          "[target: < 50 us]" % ((best["reuse"] - best["C"]) * 1e6, (best["fresh"] - best["C"]) * 1e6,
                                 best["C"] * 1e6, ctx.device_str, a.size, a.size, ctx.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
