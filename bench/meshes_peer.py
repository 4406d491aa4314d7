#!/usr/bin/env python3
"""bench/meshes_peer.py - the inputs and the peers of the marching-cubes
benchmark (issue 15, "Targets"; bench/meshes.sh drives it beside dvren's
build-gpu/bench_meshes, bench/meshes.c).

  python3 bench/meshes_peer.py inputs --ct-head DIR --out DIR [--sizes 256,512]
  python3 bench/meshes_peer.py warp --inputs DIR [--grids a,b] [--iters 10] [--warmup 3]
  python3 bench/meshes_peer.py skimage --inputs DIR [--grids a,b] [--iters 5] [--budget-s 60]
  python3 bench/meshes_peer.py report JSONL

== inputs: the grids, the same bytes for every side ==
Each grid is a float32 .npy of shape (Z, Y, X), C order, x fastest (dvren's
layout), named <grid>.npy, and inputs.json lists them: {"grids": [{"name",
"file", "shape": [Z, Y, X], "level", "origin": [x, y, z], "spacing": [x, y,
z], "inside": "above", "what"}]}. Inside is value > level for both kinds.
  ct<N>      the CT head (64 x 64 x 93 int16 NRRD slices quarter.1..93, x
             fastest, spacing 3.2 3.2 1.5 mm) resampled trilinearly to N^3
             samples spanning its physical box [0, 63*3.2] x [0, 63*3.2] x
             [0, 92*1.5] mm inclusive (spacing 201.6/(N-1), 201.6/(N-1),
             138/(N-1) mm; origin 0), computed in float64 as three separable
             linear interpolations (= trilinear), stored as float32. Level
             500: the skin (the histogram of the volume has air at 0-200,
             soft tissue at 900-1100 and bone above 1200, with few voxels
             between 200 and 900; 500 is VTK's own skin level for this
             volume, headsq, in its Medical1 example). The head touches the
             volume's first and last slices (the neck and the crown are cut),
             so the outermost layer of samples is set to 0 (air, the
             volume's minimum): the skin surface is then closed, and every
             boundary edge of a mesh is a hole of the extraction, not the
             grid's edge.
  gyroid<N>  min(g(p), 0.9 - |p|) on N^3 samples spanning [-1, 1]^3
             inclusive (spacing 2/(N-1), origin -1), where g(p) = sin(k x)
             cos(k y) + sin(k y) cos(k z) + sin(k z) cos(k x), k = 8 pi
             (8 periods across the box: 32 samples a period at N = 256),
             computed in float64, stored as float32. Level 0: the gyroid's
             positive side inside the ball of radius 0.9, a closed surface
             with many saddles (ambiguous faces) and a great deal of area.

== warp: warp-lang's marching cubes on the GPU ==
warp.geometry.IsoSurfaceMarchingCubes (wp.MarchingCubes before 1.18) of the
version on the path (bench/meshes.sh installs 1.19.0 from the carried
archive). Its field is indexed field[i, j, k] with i along x (its
vertices are lower + (i, j, k) * (upper - lower) / (n - 1)), so the grid is
handed over transposed to (X, Y, Z) (one host copy, before the upload):
its x, y, z are dvren's, lower = origin, upper = origin + (n - 1) spacing.
It classifies corners by value >= threshold, one vertex per crossed grid
edge (shared between cells: an indexed mesh), triangles from the classic
256-case table (Lorensen and Cline; ambiguous faces not resolved), no
normals. Timed: --warmup untimed calls (the first compiles its kernels with
NVRTC into WARP_CACHE_PATH), then --iters calls of surface(field, level),
each timed on the wall clock from before the call to after
wp.synchronize_device() ("ms"; the two counts it reads back to the host
inside the call are part of it), with CUDA events recorded on warp's
stream before and after the call ("ms_events", the GPU-side span, as
dvren's ms_device), and on the wall clock with verts and indices copied
to host NumPy arrays after it ("ms_with_copy", as dvren's ms_total: the
mesh in host memory). The field is uploaded once, outside the timing.
Median and fastest.

== skimage: scikit-image's marching cubes on the CPU ==
skimage.measure.marching_cubes(volume (Z, Y, X), level, spacing=(sz, sy,
sx), method='lewiner') (Lewiner et al. 2003, the marching-cubes-33 tables;
one thread), which also returns normals. Its vertices come in the array's
axis order (z, y, x) and are reordered to (x, y, z) before the edge checks
(the counts do not depend on it). Timed on the wall clock: one untimed call
when --warmup > 0, then up to --iters calls, stopping early when the timed
calls together pass --budget-s seconds (at least one). Median and fastest.

== The mesh checks (the same as bench/meshes.c's) ==
Degenerate triangles (two equal vertex indices) are counted and left out.
Every other triangle contributes its three edges; edges are grouped by
their unordered vertex pair: "boundary_edges" are those used by one
triangle, "nonmanifold_edges" those used by three or more,
"misoriented_edges" those used by exactly two triangles in the same
direction (a consistently oriented surface uses each shared edge once in
each direction), "edges" the distinct pairs, "euler" = V - E + F (V the
vertices, F the non-degenerate triangles). A closed, manifold, oriented
mesh has 0, 0, 0.

== Output ==
warp and skimage print ONE JSON line per grid on stdout: {"impl": "warp" |
"skimage", "device": "cuda" | "cpu", "grid", "shape", "level", "ms",
"ms_min", ("ms_with_copy", "ms_with_copy_min", "ms_events", "ms_events_min":
warp), "iters", "warmup",
"vertices", "triangles", "tri_per_s" (triangles / median ms),
"degenerate_triangles", "boundary_edges", "nonmanifold_edges",
"misoriented_edges", "edges", "euler", "version"}; a failure is a line
{"impl", "grid", "error"} and exit status 1 at the end. report reads the
JSON lines of every side (dvren's lines: bench/meshes.c's header) and
prints the Markdown table."""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

CT_SHAPE = (93, 64, 64)  # (Z, Y, X) of the slices
CT_SPACING = (3.2, 3.2, 1.5)  # x, y, z in mm
CT_LEVEL = 500.0
GYROID_PERIODS = 8


def fail_usage(msg):
    print("meshes_peer.py: " + msg, file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------- inputs


def load_ct_head(folder):
    """The 93 slices as a (Z, Y, X) float64 array; checks the NRRD header."""
    hdr = os.path.join(folder, "quarter.nhdr")
    try:
        with open(hdr) as f:
            text = f.read()
    except OSError as e:
        raise SystemExit(f"meshes_peer.py: {hdr}: {e.strerror}")
    for want in ("sizes: 64 64 93", "type: short", "endian: little", "data file: quarter.%d 1 93 1"):
        if want not in text:
            raise SystemExit(f"meshes_peer.py: {hdr}: expected '{want}' (the CT head of ../shared/data)")
    slices = []
    for i in range(1, CT_SHAPE[0] + 1):
        p = os.path.join(folder, f"quarter.{i}")
        a = np.fromfile(p, dtype="<i2")
        if a.size != CT_SHAPE[1] * CT_SHAPE[2]:
            raise SystemExit(f"meshes_peer.py: {p}: {a.size} samples, expected 64 x 64")
        slices.append(a.reshape(CT_SHAPE[1], CT_SHAPE[2]))
    return np.stack(slices).astype(np.float64)


def lerp_axis(a, axis, n):
    """Linear resampling of a along axis to n samples spanning the same
    extent (first and last samples kept)."""
    m = a.shape[axis]
    t = np.arange(n, dtype=np.float64) * ((m - 1) / (n - 1))
    i0 = np.minimum(np.floor(t).astype(np.int64), m - 2)
    w = t - i0
    shape = [1] * a.ndim
    shape[axis] = n
    w = w.reshape(shape)
    return np.take(a, i0, axis=axis) * (1.0 - w) + np.take(a, i0 + 1, axis=axis) * w


def ct_grid(vol, n):
    g = vol
    for axis in (0, 1, 2):
        g = lerp_axis(g, axis, n)
    g = g.astype(np.float32)
    for axis in (0, 1, 2):  # the outermost layer: air, so the skin is closed
        idx = [slice(None)] * 3
        idx[axis] = 0
        g[tuple(idx)] = 0.0
        idx[axis] = -1
        g[tuple(idx)] = 0.0
    sx = CT_SPACING[0] * 63 / (n - 1)
    sy = CT_SPACING[1] * 63 / (n - 1)
    sz = CT_SPACING[2] * 92 / (n - 1)
    return g, [0.0, 0.0, 0.0], [sx, sy, sz]


def gyroid_grid(n):
    k = GYROID_PERIODS * math.pi
    c = np.linspace(-1.0, 1.0, n)
    out = np.empty((n, n, n), dtype=np.float32)
    x = c[None, :]
    y = c[:, None]
    sx, cx = np.sin(k * x), np.cos(k * x)
    sy, cy = np.sin(k * y), np.cos(k * y)
    for iz in range(n):  # one z slice at a time: 512^3 in float64 would be 1 GiB a temporary
        z = c[iz]
        g = sx * cy + sy * math.cos(k * z) + math.sin(k * z) * cx
        r = np.sqrt(x * x + y * y + z * z)
        out[iz] = np.minimum(g, 0.9 - r)
    h = 2.0 / (n - 1)
    return out, [-1.0, -1.0, -1.0], [h, h, h]


def cmd_inputs(a):
    sizes = [int(s) for s in a.sizes.split(",") if s]
    if not sizes or min(sizes) < 2:
        fail_usage("--sizes: comma-separated sizes >= 2")
    os.makedirs(a.out, exist_ok=True)
    vol = load_ct_head(a.ct_head)
    grids = []
    for n in sizes:
        for kind in ("ct", "gyroid"):
            t0 = time.time()
            if kind == "ct":
                g, origin, spacing = ct_grid(vol, n)
                level, what = CT_LEVEL, "CT head resampled trilinearly over its box, border set to 0; skin"
            else:
                g, origin, spacing = gyroid_grid(n)
                level, what = 0.0, f"min(gyroid, 0.9 - |p|) on [-1, 1]^3, {GYROID_PERIODS} periods"
            name = f"{kind}{n}"
            path = os.path.join(a.out, name + ".npy")
            tmp = path + ".tmp.npy"
            np.save(tmp, np.ascontiguousarray(g, dtype="<f4"))
            os.replace(tmp, path)
            grids.append({"name": name, "file": os.path.abspath(path), "shape": list(g.shape), "level": level,
                          "origin": origin, "spacing": spacing, "inside": "above", "what": what})
            print(f"meshes_peer.py: {name}: {g.shape} in {time.time() - t0:.1f} s", file=sys.stderr)
    tmp = os.path.join(a.out, "inputs.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"grids": grids}, f, indent=1)
    os.replace(tmp, os.path.join(a.out, "inputs.json"))


# ---------------------------------------------------------------- checks


def edge_checks(vertex_count, tri):
    """The mesh checks of the module's docstring; tri is (T, 3) integer."""
    tri = np.asarray(tri, dtype=np.int64).reshape(-1, 3)
    degenerate = (tri[:, 0] == tri[:, 1]) | (tri[:, 1] == tri[:, 2]) | (tri[:, 0] == tri[:, 2])
    t = tri[~degenerate]
    a = np.concatenate([t[:, 0], t[:, 1], t[:, 2]])
    b = np.concatenate([t[:, 1], t[:, 2], t[:, 0]])
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    fwd = (a < b).astype(np.int64)
    del a, b
    key = (lo << 32) | hi  # vertex indices < 2^31
    del lo, hi
    order = np.argsort(key, kind="stable")
    key = key[order]
    fwd = fwd[order]
    del order
    if key.size:
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        counts = np.diff(np.concatenate([starts, [key.size]]))
        fsum = np.add.reduceat(fwd, starts)
    else:
        counts = fsum = np.zeros(0, dtype=np.int64)
    edges = int(counts.size)
    f = int(t.shape[0])
    return {
        "degenerate_triangles": int(degenerate.sum()),
        "boundary_edges": int((counts == 1).sum()),
        "nonmanifold_edges": int((counts > 2).sum()),
        "misoriented_edges": int(((counts == 2) & (fsum != 1)).sum()),
        "edges": edges,
        "euler": int(vertex_count) - edges + f,
    }


def load_inputs(folder, names):
    p = os.path.join(folder, "inputs.json")
    try:
        with open(p) as f:
            grids = json.load(f)["grids"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"meshes_peer.py: {p}: {e} (run the inputs step first)")
    if names:
        want = names.split(",")
        missing = [n for n in want if n not in [g["name"] for g in grids]]
        if missing:
            raise SystemExit(f"meshes_peer.py: {p}: no grid {', '.join(missing)}")
        grids = [g for g in grids if g["name"] in want]
    return grids


JSON_OUT = sys.stdout


def json_channel():
    """Keeps the JSON lines alone on stdout: they go to a copy of fd 1, and
    fd 1 becomes stderr, so that what a library prints there (warp's banner
    and module-load lines, from Python or C) lands in the log instead."""
    global JSON_OUT
    sys.stdout.flush()
    JSON_OUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)


def emit(rec):
    JSON_OUT.write(json.dumps(rec) + "\n")
    JSON_OUT.flush()


def stats(t):
    return float(np.median(t)), float(np.min(t))


# ---------------------------------------------------------------- warp


def cmd_warp(a):
    import warp as wp

    wp.config.quiet = True
    wp.init()
    dev = a.device
    if dev.startswith("cuda") and not wp.is_cuda_available():
        for g in load_inputs(a.inputs, a.grids):
            emit({"impl": "warp", "grid": g["name"], "error": "warp sees no CUDA device"})
        return 1
    try:
        from warp.geometry import IsoSurfaceMarchingCubes as mc_class
    except ImportError:  # warp-lang < 1.18
        mc_class = wp.MarchingCubes
    rc = 0
    for g in load_inputs(a.inputs, a.grids):
        try:
            vol = np.load(g["file"], mmap_mode="r")
            nz, ny, nx = vol.shape
            xyz = np.ascontiguousarray(np.transpose(vol, (2, 1, 0)), dtype=np.float32)  # field[i, j, k], i along x
            o, s = g["origin"], g["spacing"]
            lower = (o[0], o[1], o[2])
            upper = (o[0] + (nx - 1) * s[0], o[1] + (ny - 1) * s[1], o[2] + (nz - 1) * s[2])
            field = wp.array(xyz, dtype=wp.float32, device=dev)
            del xyz
            mc = mc_class(nx, ny, nz, lower, upper)
            cuda = dev.startswith("cuda")
            if cuda:
                e0 = wp.Event(dev, enable_timing=True)
                e1 = wp.Event(dev, enable_timing=True)
            wp.synchronize_device(dev)
            t, tc, te = [], [], []
            for it in range(a.warmup + a.iters):
                t0 = time.perf_counter()
                if cuda:
                    wp.get_stream(dev).record_event(e0)
                mc.surface(field, float(g["level"]))
                if cuda:
                    wp.get_stream(dev).record_event(e1)
                wp.synchronize_device(dev)
                t1 = time.perf_counter()
                verts = mc.verts.numpy()
                tris = mc.indices.numpy()
                t2 = time.perf_counter()
                if it >= a.warmup:
                    t.append((t1 - t0) * 1e3)
                    tc.append((t2 - t0) * 1e3)
                    if cuda:
                        te.append(wp.get_event_elapsed_time(e0, e1))
            ms, ms_min = stats(t)
            msc, msc_min = stats(tc)
            mse, mse_min = stats(te) if te else (None, None)
            tri = tris.reshape(-1, 3)
            rec = {"impl": "warp", "device": "cuda" if dev.startswith("cuda") else dev, "grid": g["name"], "shape": g["shape"], "level": g["level"],
                   "ms": ms, "ms_min": ms_min, "ms_with_copy": msc, "ms_with_copy_min": msc_min,
                   "ms_events": mse, "ms_events_min": mse_min,
                   "iters": a.iters, "warmup": a.warmup, "vertices": int(verts.shape[0]),
                   "triangles": int(tri.shape[0]), "tri_per_s": tri.shape[0] / (ms * 1e-3),
                   "version": wp.config.version, "class": mc_class.__name__}
            bbox_lo, bbox_hi = verts.min(axis=0).tolist(), verts.max(axis=0).tolist()
            rec["bounds"] = [bbox_lo, bbox_hi]
            rec.update(edge_checks(verts.shape[0], tri))
            emit(rec)
            del field, mc, verts, tris
        except Exception as e:  # one grid's failure does not stop the others
            emit({"impl": "warp", "grid": g["name"], "error": f"{type(e).__name__}: {e}"})
            rc = 1
    return rc


# ---------------------------------------------------------------- scikit-image


def cmd_skimage(a):
    import skimage
    from skimage.measure import marching_cubes

    rc = 0
    for g in load_inputs(a.inputs, a.grids):
        try:
            vol = np.load(g["file"])
            s = g["spacing"]
            kw = dict(level=float(g["level"]), spacing=(s[2], s[1], s[0]), method="lewiner")
            if a.warmup > 0:
                marching_cubes(vol, **kw)
            t = []
            spent = 0.0
            while len(t) < a.iters and (not t or spent < a.budget_s):
                t0 = time.perf_counter()
                verts, faces, normals, _ = marching_cubes(vol, **kw)
                dt = time.perf_counter() - t0
                t.append(dt * 1e3)
                spent += dt
            ms, ms_min = stats(t)
            o = g["origin"]
            xyz = verts[:, ::-1] + np.asarray(o, dtype=verts.dtype)  # (z, y, x) -> (x, y, z), world
            rec = {"impl": "skimage", "device": "cpu", "grid": g["name"], "shape": g["shape"], "level": g["level"],
                   "ms": ms, "ms_min": ms_min, "iters": len(t), "warmup": min(a.warmup, 1),
                   "vertices": int(verts.shape[0]), "triangles": int(faces.shape[0]),
                   "tri_per_s": faces.shape[0] / (ms * 1e-3), "version": skimage.__version__,
                   "method": "lewiner", "threads": 1,
                   "bounds": [xyz.min(axis=0).tolist(), xyz.max(axis=0).tolist()]}
            rec.update(edge_checks(verts.shape[0], faces))
            emit(rec)
            del vol, verts, faces, normals
        except Exception as e:
            emit({"impl": "skimage", "grid": g["name"], "error": f"{type(e).__name__}: {e}"})
            rc = 1
    return rc


# ---------------------------------------------------------------- report


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if v >= 100 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def ratio(peer, ours):
    if peer is None or ours is None or ours <= 0:
        return "-"
    return f"{peer / ours:.2f}x"


def cmd_report(a):
    recs = []
    with open(a.jsonl) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    by = {}
    grids = []
    for r in recs:
        if "grid" not in r or "error" in r:
            continue
        key = (r.get("impl"), r.get("device"), r.get("threads_label", ""), bool(r.get("normals", True)))
        by.setdefault(r["grid"], {})[key] = r
        if r["grid"] not in grids:
            grids.append(r["grid"])

    def get(g, impl, device, label="", normals=True):
        return by.get(g, {}).get((impl, device, label, normals))

    def be(r):
        if r is None:
            return "-"
        return f"{r['boundary_edges']}/{r['nonmanifold_edges']}"

    out = []
    out.append("| grid | dvren GPU ms (device / total) | warp ms (device / + copy) | warp / dvren (device, total) "
               "| dvren CPU ms (all cores / 1 thread) | skimage ms | skimage / dvren (all cores, 1 thread) "
               "| triangles dvren / warp / skimage | M tri/s dvren GPU / warp / dvren CPU / skimage | boundary/non-manifold edges dvren / warp / skimage "
               "| CPU = GPU |")
    out.append("| --- " * 11 + "|")
    for g in grids:
        dg = get(g, "dvren", "cuda", normals=False) or get(g, "dvren", "cuda")
        dgn = get(g, "dvren", "cuda")
        dc = get(g, "dvren", "cpu")
        dc1 = get(g, "dvren", "cpu", "1")
        w = get(g, "warp", "cuda")
        sk = get(g, "skimage", "cpu")
        ident = [r for r in recs if r.get("check") == "cpu_vs_gpu" and r.get("grid") == g]
        ident_s = "-" if not ident else ("yes" if all(r.get("identical") for r in ident) else "NO")
        gpu_ms = "-" if dg is None else f"{fmt_ms(dg['ms_device'])} / {fmt_ms(dg['ms_total'])}"
        if dgn is not None and dg is not dgn:
            gpu_ms += f" (normals: {fmt_ms(dgn['ms_device'])} / {fmt_ms(dgn['ms_total'])})"
        w_dev = None if w is None else (w.get("ms_events") or w["ms"])
        warp_ms = "-" if w is None else f"{fmt_ms(w_dev)} / {fmt_ms(w['ms_with_copy'])}"
        r1 = "-" if (w is None or dg is None) else f"{ratio(w_dev, dg['ms_device'])}, {ratio(w['ms_with_copy'], dg['ms_total'])}"
        cpu_ms = "-" if dc is None else fmt_ms(dc["ms_total"])
        cpu_ms += "" if dc1 is None else f" / {fmt_ms(dc1['ms_total'])}"
        sk_ms = "-" if sk is None else fmt_ms(sk["ms"])
        r2 = "-" if sk is None else ratio(sk["ms"], dc["ms_total"] if dc else None)
        if sk is not None and dc1 is not None:
            r2 += f", {ratio(sk['ms'], dc1['ms_total'])}"
        d_any = dgn or dg or dc
        tris = " / ".join("-" if r is None else str(r["triangles"]) for r in (d_any, w, sk))
        gtps = " / ".join("-" if r is None else f"{r['tri_per_s'] / 1e6:.1f}" for r in (dg, w, dc, sk))
        edges = " / ".join(be(r) for r in (d_any, w, sk))
        out.append(f"| {g} | {gpu_ms} | {warp_ms} | {r1} | {cpu_ms} | {sk_ms} | {r2} | {tris} | {gtps} | {edges} | {ident_s} |")
    errors = [r for r in recs if "error" in r]
    notes = ["", "dvren GPU ms without normals (warp computes none) where measured, with normals in brackets; "
             "dvren's device ms = its extraction launches incl. vertex dedup (device events), total = the call "
             "with the mesh copied to host memory; warp's device ms = CUDA events around surface() (its wall "
             "clock to wp.synchronize_device() where events are missing), + copy = the wall clock with verts and "
             "indices copied to NumPy. dvren CPU and skimage compute normals. "
             "Ratios > 1: dvren faster. Medians."]
    for g in grids:
        d_any = get(g, "dvren", "cuda") or get(g, "dvren", "cpu")
        sk = get(g, "skimage", "cpu")
        w = get(g, "warp", "cuda")
        parts = []
        for name, r in (("dvren", d_any), ("warp", w), ("skimage", sk)):
            if r is not None:
                parts.append(f"{name} V {r['vertices']} F {r['triangles']} euler {r['euler']} "
                             f"degenerate {r['degenerate_triangles']} misoriented {r['misoriented_edges']}")
        notes.append(f"- {g}: " + "; ".join(parts))
    c1 = [r for r in recs if r.get("check") == "cpu_vs_cpu1"]
    if c1:
        notes.append("- dvren CPU, all cores against one thread, bit for bit: "
                     + ", ".join(f"{r['grid']} {'identical' if r.get('identical') else 'DIFFERENT'}" for r in c1))
    for r in recs:
        if r.get("check") == "cpu_vs_gpu" and not r.get("identical"):
            notes.append(f"- dvren CPU vs GPU on {r['grid']}: counts equal {r.get('same_counts')}, positions "
                         f"{r.get('positions_equal')}, normals {r.get('normals_equal')}, triangles "
                         f"{r.get('triangles_equal')}, max position difference {r.get('max_position_diff')}")
    for r in errors:
        notes.append(f"- ERROR {r.get('impl', '?')} {r.get('device', '')} {r.get('grid', '')}: {r['error']}")
    print("\n".join(out + notes))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inputs")
    p.add_argument("--ct-head", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sizes", default="256,512")
    for name in ("warp", "skimage"):
        p = sub.add_parser(name)
        p.add_argument("--inputs", required=True)
        p.add_argument("--grids", default="")
        p.add_argument("--iters", type=int, default=10 if name == "warp" else 5)
        p.add_argument("--warmup", type=int, default=3 if name == "warp" else 1)
        p.add_argument("--budget-s", type=float, default=60.0)
        if name == "warp":  # cpu: only to test this script without a GPU (warp's CPU compiler, warp-clang.so, needed)
            p.add_argument("--device", default="cuda:0")
    p = sub.add_parser("report")
    p.add_argument("jsonl")
    a = ap.parse_args()
    if a.cmd in ("warp", "skimage") and (a.iters < 1 or a.warmup < 0):
        fail_usage("--iters >= 1, --warmup >= 0")
    if a.cmd in ("warp", "skimage"):
        json_channel()
    if a.cmd == "inputs":
        return cmd_inputs(a) or 0
    if a.cmd == "warp":
        return cmd_warp(a)
    if a.cmd == "skimage":
        return cmd_skimage(a)
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
