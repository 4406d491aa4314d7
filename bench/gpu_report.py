#!/usr/bin/env python3
"""bench/gpu_report.py OUTDIR - the short table that ends bench/gpu.sh.

Reads what bench/gpu.sh wrote (gpu.txt, commit.txt, test_cuda.txt,
parity.jsonl, peer_fwd.json, dvren.jsonl) and prints markdown: tests,
parity, speed against the peer, JIT. Needs only the standard library."""
import json, os, sys

r = sys.argv[1]


def lines(name):
    p = os.path.join(r, name)
    return open(p).read().splitlines() if os.path.exists(p) else []


def jsonl(name):
    out = []
    for l in lines(name):
        l = l.strip()
        if l.startswith("{"):
            try:
                out.append(json.loads(l))
            except ValueError:
                pass
    return out


gpu = lines("gpu.txt")
print("## bench/gpu.sh, commit", (lines("commit.txt") or ["?"])[0])
print("GPU:", gpu[1] if len(gpu) > 1 else "?")
t = lines("test_cuda.txt")
print(f"\ntests/test_cuda: {sum(l.startswith('PASS') for l in t)} passed, {sum(l.startswith('FAIL') for l in t)} failed, "
      f"{sum(l.startswith('SKIP') for l in t)} skipped")
for l in t:
    if l.startswith("FAIL") or l.startswith("#"):
        print("   ", l[:200])
t = lines("test_autodiff_gpu.txt")
print(f"tests/test_autodiff on the GPU: {sum(l.startswith('PASS') for l in t)} passed, "
      f"{sum(l.startswith('FAIL') for l in t)} failed")
for l in t:
    if l.startswith("FAIL") or (l.startswith("#") and ("checked" in l or "fast vs" in l or "seed" in l)):
        print("   ", l[:200])

print("\n| parity (256x256, CPU vs CUDA) | max rel rgb | alpha | depth | T | 99.9% rgb | hit diff | ERT flips (max abs) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for p in jsonl("parity.jsonl"):
    if "error" in p:
        print(f"| {p['scene']} | error: {p['error'][:60]} | | | | | | |")
        continue
    print(f"| {p['scene']} | {p['rgb']:.2e} | {p['alpha']:.2e} | {p['depth']:.2e} | {p['transmittance']:.2e} | "
          f"{p['rgb_p999']:.2e} | {p['hit_diff']} | {p.get('ert_flips', 0)} ({p.get('ert_abs', 0):.1e}) |")

peer = {}
extra = {}
for j in jsonl("peer_fwd.json"):
    if "peer" in j:
        peer = j
    else:
        extra.update(j)
runs = {j["label"]: j["result"] for j in jsonl("dvren.jsonl")}
pm = peer.get("ms_median")
print("\n| workload (256^3 x4, 800x800, 256 samples unless noted) | ms/frame | G samples/s | x peer | image mean | memory GiB |")
print("| --- | --- | --- | --- | --- | --- |")
if peer:
    print(f"| PyTorch peer ({peer.get('torch')}) | {pm:.3f} | {peer['gsamples_per_s']:.1f} | 1.0 | {peer['image_mean']:.7f} | "
          f"{peer['peak_mem_gib']:.3f} (max allocated) |")
for k, v in runs.items():
    if k.startswith("jit") or v.get("mode") == "fwdbwd":
        continue
    ratio = f"{pm / v['ms_median']:.1f}" if pm and v["width"] == 800 and v["res"] == 256 and v["samples"] == 256 else "-"
    note = f"{k}: {v['width']}x{v['height']}" + (f", ERT {v['ert']:g}" if v["ert"] else "") + f", {v['storage']}"
    if v["res"] != 256 or v["samples"] != 256:
        note += f", {v['res']}^3, {v['samples']} samples"
    print(f"| {note} | {v['ms_median']:.3f} | {v['gsamples_per_s']:.1f} | {ratio} | {v['image_mean']:.7f} | "
          f"{v['pool_peak_gib']:.3f} (pool) |")
if "peer_vs_dvren_full" in extra:
    e = extra["peer_vs_dvren_full"]
    print(f"\nper pixel, dvren f32 vs peer (float64 of the peer's float32 image): max abs {e['max_abs']:.2e}, "
          f"max rel {e['max_rel']:.2e}; means {e['dvren_mean']:.7f} vs {e['peer_mean']:.7f}")
if "f32" in runs:
    k = runs["f32"]
    print(f"\nkernel: {k['target']}, {k['registers']} registers, {k['local_bytes']} B local memory")
if "jit_cold" in runs and "jit_warm" in runs:
    c, w = runs["jit_cold"], runs["jit_warm"]
    print(f"JIT: cold compile {c['compile_ms']:.0f} ms (+{c['load_ms']:.1f} ms load), warm cache load {w['load_ms']:.2f} ms "
          f"(hit={w['cache_hit']}); scene setup incl. grid generation + upload {w['scene_setup_ms']:.0f} ms")

pb = {}
for j in jsonl("peer_fwdbwd.json"):
    pb = j
pbm = pb.get("ms_median")
print("\n| fwdbwd: render + L = mean(C^2) + backward to the grid | ms/frame | x peer | grad L2 | rel. to peer | memory GiB | bitwise repeat |")
print("| --- | --- | --- | --- | --- | --- | --- |")
if pb:
    print(f"| PyTorch peer ({pb.get('torch')}) | {pbm:.3f} | 1.0 | {pb['grad_l2']:.9g} | - | {pb['peak_mem_gib']:.3f} (max allocated) | - |")
for k, v in runs.items():
    if v.get("mode") != "fwdbwd":
        continue
    full = v["width"] == 800 and v["res"] == 256 and v["samples"] == 256
    ratio = f"{pbm / v['ms_median']:.1f}" if pbm and full else "-"
    rel = f"{abs(v['grad_l2'] - pb['grad_l2']) / pb['grad_l2']:.2e}" if pb and full else "-"
    note = f"{k}" + (" (deterministic)" if v.get("deterministic") else "")
    if not full:
        note += f": {v['res']}^3, {v['width']}x{v['height']}, {v['samples']} samples"
    print(f"| {note} | {v['ms_median']:.3f} | {ratio} | {v['grad_l2']:.9g} | {rel} | {v['pool_peak_gib']:.3f} (pool) | "
          f"{v.get('grad_bitwise_repeat')} |")
if "fwdbwd" in runs and "fwdbwd_det" in runs:
    print(f"\ndeterministic / default: {runs['fwdbwd_det']['ms_median'] / runs['fwdbwd']['ms_median']:.2f}x")
f = [l for l in lines("fit_gpu.log") if l.startswith("[fit]") or "exit" in l]
if f:
    print("\nfit_volume on the GPU:")
    for l in f[:1] + f[-4:]:
        print("   ", l[:200])
g = [l for l in lines("lego_fit.log") if l.startswith("[fit]") or "exit" in l]
if g:
    print("\nfit_volume --images on the lego scene (real views with poses), on the GPU:")
    for l in [x for x in g if "training and" in x][:1] + g[-3:]:
        print("   ", l[:200])
