#!/usr/bin/env python3
"""bench/splats_peer.py - the peer of the splat benchmark (issue 14,
"Targets"): gsplat 1.5.3's rasterization on the parameters dvren's side
wrote, timed in the same run as dvren (bench/splats.sh drives both).

  python3 bench/splats_peer.py --params DIR --out DIR [--workload NAME]
      [--iters 50] [--warmup 10] [--batch] [--save-grads] [--seed 0] [--check]
  python3 bench/splats_peer.py --make-params WORKLOAD --data test_garden.npz
      --params DIR [--seed 0]

The first form renders every camera of the parameter folder with gsplat,
saves the images, times forward and forward+backward and prints ONE JSON
line on stdout (errors: a JSON line with "error", exit status 1; usage
errors: exit status 2). --check renders and saves only (no timing, no
gradients), and still prints a JSON line. The second form is a NumPy
stand-in for dvren's parameter writer (bench_splats), used by
bench/splats.sh while bench_splats does not exist, so that gsplat's side
can be run alone; it follows the workload definitions below exactly, with
its own random numbers (dvren's writer uses its own generator: only the
distributions are shared, and each run renders the one parameter set that
was written).

== The parameter folder (written by dvren's bench_splats, read here) ==
All arrays NumPy .npy, little-endian float32 (float64 accepted), C order:
  means.npy           (N, 3)  world positions
  log_scales.npy      (N, 3)  log standard deviations (gsplat gets exp(.))
  quats.npy           (N, 4)  rotation quaternion w x y z, any norm > 0
                              (gsplat normalises, and so differentiates the
                              normalisation)
  opacity_logits.npy  (N,)    logits (gsplat gets sigmoid(.))
  colors.npy          (N, 3)  post-activation RGB (no SH: sh_degree=None)
  viewmats.npy        (C, 4, 4) world-to-camera, OpenCV convention (+z
                              forward, +y down), last row 0 0 0 1
  Ks.npy              (C, 3, 3) pinhole intrinsics in pixels (fx 0 cx;
                              0 fy cy; 0 0 1), pixel centres at +0.5
  width.npy, height.npy       image size in pixels, 0-d or shape (1,), any
                              numeric dtype (an integer value)
  optional, each 0-d or (1,), default = gsplat.rasterization's default:
  near_plane.npy (0.01), far_plane.npy (1e10), radius_clip.npy (0.0),
  eps2d.npy (0.3)
  optional: cotangent.npy (C, H, W, 3) the fixed cotangent of the
            forward+backward timing (dLoss/dImage); when absent, this script
            draws a standard normal one from --seed and saves it in --out
Instead of the camera .npy files, a cameras.npz holding the same keys
(viewmats, Ks, width, height and the optional ones) is accepted; when both
exist the .npz wins.

== The output folder ==
  rgb_<c>.npy    (H, W, 3) float32, camera c = 0..C-1 (no padding), the
                 first (untimed) forward render, background black
  alpha_<c>.npy  (H, W) float32 accumulated opacity
  with --save-grads: grad_means.npy (N,3), grad_log_scales.npy (N,3),
  grad_quats.npy (N,4), grad_opacity_logits.npy (N,), grad_colors.npy (N,3):
  the gradient of sum_c sum(rgb_c * cotangent[c]) (all cameras of one
  iteration, accumulated), float32
  cotangent.npy  only when the parameter folder had none (see above)
dvren's bench_splats writes the same names into its own output folder, so
bench/splats_compare.py compares them file by file.

== What is rendered and timed ==
gsplat.rasterization(means, quats, exp(log_scales), sigmoid(opacity_logits),
colors, viewmats[c:c+1], Ks[c:c+1], width, height, near_plane, far_plane,
radius_clip, eps2d, sh_degree=None, packed=False, tile_size=16,
backgrounds=None (black), render_mode="RGB", rasterize_mode="classic"),
one call per camera (batch 1, as gsplat's profiler); --batch makes it one
call for all C cameras (gsplat's batched path), reported per frame too.
The activations (exp, sigmoid) are inside the timed region, as dvren takes
the raw parameters. A frame is one camera's image; ms/frame is the time of
one iteration over all C cameras divided by C.
  forward:          under torch.no_grad() (inference: no autograd state kept)
  forward+backward: leaves means, log_scales, quats, opacity_logits, colors
                    (requires_grad); per camera loss = sum(rgb * cotangent[c]),
                    loss.backward(); the gradients are set to None before
                    each iteration (outside the timed region)
Each: --warmup untimed iterations, then --iters iterations, each timed with
CUDA events (torch.cuda.Event) around the iteration and synchronised after
it; "fwd_ms" / "fwdbwd_ms" are the median per frame, "_min" the fastest.
Peak memory: torch.cuda.reset_peak_memory_stats() just before the timed
iterations, torch.cuda.max_memory_allocated() after them: "peak_*_bytes"
include what was resident before (the parameters and cameras; for
forward+backward also the cotangent) and what the render allocated (for
forward+backward also the gradients), "resident_*_bytes" is that resident
part (torch.cuda.memory_allocated() before the iterations), so
peak - resident is gsplat's profiler's "Mem" ("excluding the input data").
The CUDA context and the caching allocator's reserve are not counted.

== Workloads (--make-params; dvren's bench_splats implements the same) ==
Source: ../shared/data/gaussians/test_garden.npz (gsplat's assets/
test_garden.npz): means3d (138766,3) float32, colors (138766,3) uint8,
viewmats (3,4,4), Ks (3,3,3), width 648, height 420. As gsplat 1.5.3's
gsplat/_helper.py load_test_data: colours / 255; keep the points with all
three coordinates in [-2, 2] (inclusive; 111,785 points), edges = (4,4,4);
with scene_grid = G (odd), copy the cropped points to the G x G offsets
(i * 4, j * 4, 0), i (outer) and j (inner) in -(G//2)..G//2, tile after tile,
the colours repeated in the same order. Random attributes, float32, from a
generator seeded with --seed (default 0):
  scales  uniform in [1e-4, 0.02) per axis, stored as log(scale)
          (1.5.3 draws rand * 0.02, gsplat's later _helper [1e-4, 0.02]:
          the later one, so that the log is finite)
  quats   4 standard normals, normalised (w x y z)
  opacity uniform in [1e-4, 1 - 1e-4), stored as log(o / (1 - o))
          (gsplat draws torch.rand in [0, 1): clamped so the logit is finite)
  cotangent (C, H, W, 3) standard normals
  garden           G = 1: 111,785 Gaussians, the 3 cameras as stored, 648 x
                   420, near 0.01, far 1e10, radius_clip 0, eps2d 0.3
  garden5x5_1080p  G = 5: 2,794,625 Gaussians, camera 0 only, 1920 x 1080,
                   its K's row 0 (fx, skew, cx) times 1920/648 and row 1
                   (fy, cy) times 1080/420, as gsplat's profiler scales them
                   (anisotropic: fx 1424.04, fy 1238.26, cx 960.56,
                   cy 540.16), near 0.01, far 1e10, radius_clip 0, eps2d 0.3
  garden5x5_1080p_clip  the same with gsplat's profiler's far_plane 100 and
                   radius_clip 3.0 (gsplat skips every Gaussian whose
                   projected radius is <= 3 px); only if dvren implements
                   radius_clip (not part of issue 14's renderer)

What gsplat's profiler does (profiling/main.py at v1.5.3; its documented
runs, docs/source/tests/profile.rst: `--batch_size 1 --scene_grid 5
--channels 3`, reso "1080p"): load_test_data(scene_grid=5) (crop, 5 x 5
tiling, random attributes as above but scales rand * 0.02 and opacities
rand, already activated); viewmats[:1] and Ks[:1] repeated batch_size
times (camera 0); colours colors[:, :1].repeat(1, 3) (the red channel as
grey); Ks row 0 *= 1920 / 648, row 1 *= 1080 / 420; rasterization(...,
packed=True/True/False, sparse_grad=True/False/False, near_plane=0.01,
far_plane=100.0, radius_clip=3.0), sh_degree None; time = wall clock of
`repeats` (default 10) calls after 5 warm-up calls with synchronisation,
forward WITH autograd state (inputs require grad); backward timed alone as
loss.backward(retain_graph=True) on one forward's graph, loss =
render_colors.sum(); memory = max_memory_allocated() after
reset_peak_memory_stats() minus the value at the reset, over forward and
backward. What we copy: the scene (crop, 5 x 5 tiling, camera 0, the
1080p intrinsics), batch 1, the parameter distributions, packed=False
(its fastest row), black background. What we change, and why: full RGB
colours (colour does not change the work; a grey image tests agreement
less); gsplat's rasterization defaults far 1e10 and radius_clip 0 in
garden5x5_1080p (radius_clip is a gsplat shortcut that changes the image;
garden5x5_1080p_clip keeps it); CUDA-event medians of more iterations
instead of one wall-clock mean; forward without autograd state, and
forward+backward as one step with a random cotangent (a training step's
work) instead of backward alone on a retained graph; peak memory reported
with the inputs, and without them as the profiler does.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

PARAM_FILES = {  # name: (trailing shape, description)
    "means": ((3,), "world positions"),
    "log_scales": ((3,), "log standard deviations"),
    "quats": ((4,), "quaternions w x y z"),
    "opacity_logits": ((), "opacity logits"),
    "colors": ((3,), "post-activation RGB"),
}
OPTIONAL = {"near_plane": 0.01, "far_plane": 1e10, "radius_clip": 0.0, "eps2d": 0.3}
WORKLOADS = {
    # name: (scene_grid, cameras (None: all), (width, height) or None, near, far, radius_clip)
    "garden": (1, None, None, 0.01, 1e10, 0.0),
    "garden5x5_1080p": (5, [0], (1920, 1080), 0.01, 1e10, 0.0),
    "garden5x5_1080p_clip": (5, [0], (1920, 1080), 0.01, 100.0, 3.0),
}


class InputError(Exception):
    """A parameter file that is missing or not what PARAM_FILES says."""


def load_array(path, name):
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: missing ({name})")
    except Exception as e:  # noqa: BLE001 - any reader error names the file
        raise InputError(f"{path}: cannot read as .npy ({e})")
    if not np.issubdtype(a.dtype, np.number):
        raise InputError(f"{path}: dtype {a.dtype} is not numeric")
    return a


def scalar(a, path, integer=False):
    if a.shape not in ((), (1,)):
        raise InputError(f"{path}: shape {a.shape}, expected a scalar (0-d or (1,))")
    v = a.reshape(())[()]
    if not np.isfinite(v):
        raise InputError(f"{path}: not finite ({v})")
    if integer:
        if float(v) != int(v) or int(v) <= 0 or int(v) > 65536:
            raise InputError(f"{path}: {v} is not an integer in 1..65536")
        return int(v)
    return float(v)


def load_params(d):
    """The parameter folder as float32 NumPy arrays and the camera settings;
    InputError naming the file and the problem otherwise."""
    if not os.path.isdir(d):
        raise InputError(f"{d}: not a folder")
    p = {}
    n = None
    for name, (tail, what) in PARAM_FILES.items():
        path = os.path.join(d, name + ".npy")
        a = load_array(path, what)
        if a.ndim != 1 + len(tail) or a.shape[1:] != tail:
            raise InputError(f"{path}: shape {a.shape}, expected (N{''.join(', %d' % t for t in tail)})")
        if n is None:
            n = a.shape[0]
            if n == 0:
                raise InputError(f"{path}: no Gaussians (N = 0)")
        elif a.shape[0] != n:
            raise InputError(f"{path}: {a.shape[0]} rows, means.npy has {n}")
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise InputError(f"{path}: {int((~np.isfinite(a)).sum())} values are not finite")
        p[name] = a
    if (np.linalg.norm(p["quats"], axis=1) == 0).any():
        raise InputError(f"{os.path.join(d, 'quats.npy')}: a quaternion of norm 0")

    npz = os.path.join(d, "cameras.npz")
    cams = {}
    if os.path.exists(npz):
        try:
            z = np.load(npz, allow_pickle=False)
            cams = {k: (z[k], f"{npz}:{k}") for k in z.files}
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{npz}: cannot read ({e})")
        for k in ("viewmats", "Ks", "width", "height"):
            if k not in cams:
                raise InputError(f"{npz}: no member {k}")
    else:
        for k in ["viewmats", "Ks", "width", "height"] + list(OPTIONAL):
            path = os.path.join(d, k + ".npy")
            if k in OPTIONAL and not os.path.exists(path):
                continue
            cams[k] = (load_array(path, k), path)
    vm, vpath = cams["viewmats"]
    ks, kpath = cams["Ks"]
    if vm.ndim != 3 or vm.shape[1:] != (4, 4) or vm.shape[0] == 0:
        raise InputError(f"{vpath}: shape {vm.shape}, expected (C, 4, 4), C >= 1")
    if ks.shape != (vm.shape[0], 3, 3):
        raise InputError(f"{kpath}: shape {ks.shape}, expected ({vm.shape[0]}, 3, 3) (one per viewmat)")
    vm = vm.astype(np.float32)
    ks = ks.astype(np.float32)
    for a, path in ((vm, vpath), (ks, kpath)):
        if not np.isfinite(a).all():
            raise InputError(f"{path}: values that are not finite")
    if np.abs(vm[:, 3, :] - np.array([0, 0, 0, 1], np.float32)).max() > 1e-6:
        raise InputError(f"{vpath}: last row of a viewmat is not 0 0 0 1")
    if (ks[:, 0, 0] <= 0).any() or (ks[:, 1, 1] <= 0).any():
        raise InputError(f"{kpath}: fx or fy <= 0")
    cam = {"viewmats": vm, "Ks": ks,
           "width": scalar(*cams["width"], integer=True),
           "height": scalar(*cams["height"], integer=True)}
    for k, default in OPTIONAL.items():
        cam[k] = scalar(*cams[k]) if k in cams else default
    if not 0 < cam["near_plane"] < cam["far_plane"]:
        raise InputError(f"{d}: near_plane {cam['near_plane']} and far_plane {cam['far_plane']}: need 0 < near < far")
    C, H, W = vm.shape[0], cam["height"], cam["width"]
    cpath = os.path.join(d, "cotangent.npy")
    cam["cotangent"] = None
    if os.path.exists(cpath):
        ct = load_array(cpath, "cotangent")
        if ct.shape != (C, H, W, 3):
            raise InputError(f"{cpath}: shape {ct.shape}, expected ({C}, {H}, {W}, 3)")
        cam["cotangent"] = ct.astype(np.float32)
    return p, cam


def make_params(workload, data, out, seed):
    """Writes the parameter folder of WORKLOADS[workload] (see the header)."""
    if workload not in WORKLOADS:
        raise InputError(f"--make-params: unknown workload {workload!r} (known: {', '.join(WORKLOADS)})")
    grid, cams, size, near, far, clip = WORKLOADS[workload]
    z = np.load(data, allow_pickle=False)
    means = z["means3d"].astype(np.float32)
    colors = (z["colors"] / 255.0).astype(np.float32)
    width, height = int(z["width"]), int(z["height"])
    viewmats = z["viewmats"].astype(np.float32)
    Ks = z["Ks"].astype(np.float32)
    lo = np.array([-2, -2, -2], np.float32)
    hi = np.array([2, 2, 2], np.float32)
    sel = ((means >= lo) & (means <= hi)).all(axis=1)
    means, colors = means[sel], colors[sel]
    edges = hi - lo
    r = np.arange(-(grid // 2), grid // 2 + 1)
    offsets = np.array([(i, j, 0) for i in r for j in r], np.float32) * edges
    means = (means[None, :, :] + offsets[:, None, :]).reshape(-1, 3).astype(np.float32)
    colors = np.tile(colors, (grid * grid, 1))
    n = len(means)
    rng = np.random.default_rng(seed)
    scales = rng.uniform(1e-4, 0.02, size=(n, 3))
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    o = rng.uniform(1e-4, 1 - 1e-4, size=n)
    if cams is not None:
        viewmats, Ks = viewmats[cams], Ks[cams]
    if size is not None:
        Ks = Ks.copy()
        Ks[:, 0, :] *= size[0] / width
        Ks[:, 1, :] *= size[1] / height
        width, height = size
    os.makedirs(out, exist_ok=True)
    arrays = {
        "means": means, "log_scales": np.log(scales), "quats": q,
        "opacity_logits": np.log(o / (1 - o)), "colors": colors,
        "viewmats": viewmats, "Ks": Ks,
        "cotangent": rng.standard_normal((len(viewmats), height, width, 3)),
    }
    for k, a in arrays.items():
        np.save(os.path.join(out, k + ".npy"), np.ascontiguousarray(a, dtype=np.float32))
    for k, v in (("width", width), ("height", height)):
        np.save(os.path.join(out, k + ".npy"), np.array(v, np.int32))
    for k, v in (("near_plane", near), ("far_plane", far), ("radius_clip", clip), ("eps2d", 0.3)):
        np.save(os.path.join(out, k + ".npy"), np.array(v, np.float64))
    return {"workload": workload, "params": out, "n_gaussians": n, "cameras": len(viewmats),
            "width": width, "height": height, "seed": seed}


def run(args):
    import torch
    import gsplat
    from gsplat import rasterization

    p, cam = load_params(args.params)
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device (gsplat's rasterization needs one)")
    dev = torch.device("cuda")
    os.makedirs(args.out, exist_ok=True)
    C, H, W = cam["viewmats"].shape[0], cam["height"], cam["width"]
    t = {k: torch.from_numpy(v).to(dev) for k, v in p.items()}
    viewmats = torch.from_numpy(cam["viewmats"]).to(dev)
    Ks = torch.from_numpy(cam["Ks"]).to(dev)
    opts = dict(near_plane=cam["near_plane"], far_plane=cam["far_plane"], radius_clip=cam["radius_clip"],
                eps2d=cam["eps2d"], sh_degree=None, packed=False, tile_size=16, backgrounds=None,
                render_mode="RGB", rasterize_mode="classic")
    views = [slice(0, C)] if args.batch else [slice(c, c + 1) for c in range(C)]

    def render(v):
        colors, alphas, _ = rasterization(
            t["means"], t["quats"], torch.exp(t["log_scales"]), torch.sigmoid(t["opacity_logits"]),
            t["colors"], viewmats[v], Ks[v], W, H, **opts)
        return colors, alphas

    result = {"renderer": "gsplat", "version": gsplat.__version__, "workload": args.workload,
              "images": os.path.abspath(args.out), "n_gaussians": int(p["means"].shape[0]),
              "cameras": C, "width": W, "height": H, "batch": bool(args.batch), "packed": False,
              "near_plane": cam["near_plane"], "far_plane": cam["far_plane"],
              "radius_clip": cam["radius_clip"], "eps2d": cam["eps2d"],
              "torch": torch.__version__, "device": torch.cuda.get_device_name(dev)}

    # the images: the first forward, untimed (it also loads gsplat's kernels)
    t0 = time.time()
    with torch.no_grad():
        for v in views:
            colors, alphas = render(v)
            for i, c in enumerate(range(C)[v]):
                np.save(os.path.join(args.out, f"rgb_{c}.npy"), colors[i].float().cpu().numpy())
                np.save(os.path.join(args.out, f"alpha_{c}.npy"), alphas[i, ..., 0].float().cpu().numpy())
    torch.cuda.synchronize()
    result["first_render_s"] = round(time.time() - t0, 3)
    if args.check:
        result["check"] = True
        return result

    def timed(step, before=None):
        for _ in range(args.warmup):
            if before:
                before()
            step()
        if before:
            before()  # the warm-up's gradients are not resident
        torch.cuda.synchronize()
        resident = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        times = []
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(args.iters):
            if before:
                before()
            e0.record()
            step()
            e1.record()
            e1.synchronize()
            times.append(e0.elapsed_time(e1) / C)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated(dev)
        return float(np.median(times)), float(np.min(times)), peak, resident

    def forward():
        with torch.no_grad():
            for v in views:
                render(v)

    fwd = timed(forward)
    result.update(fwd_ms=round(fwd[0], 4), fwd_ms_min=round(fwd[1], 4),
                  peak_fwd_bytes=fwd[2], resident_fwd_bytes=fwd[3])

    if cam["cotangent"] is None:
        ct = np.random.default_rng(args.seed).standard_normal((C, H, W, 3)).astype(np.float32)
        np.save(os.path.join(args.out, "cotangent.npy"), ct)
        result["cotangent"] = "generated"
    else:
        ct = cam["cotangent"]
        result["cotangent"] = "params"
    cot = torch.from_numpy(ct).to(dev)
    del ct
    for x in t.values():
        x.requires_grad_(True)

    def clear():
        for x in t.values():
            x.grad = None

    def forward_backward():
        for v in views:
            colors, _ = render(v)
            (colors * cot[v]).sum().backward()

    fb = timed(forward_backward, clear)
    result.update(fwdbwd_ms=round(fb[0], 4), fwdbwd_ms_min=round(fb[1], 4),
                  peak_fwdbwd_bytes=fb[2], resident_fwdbwd_bytes=fb[3])
    if args.save_grads:
        clear()
        forward_backward()
        for k, x in t.items():
            np.save(os.path.join(args.out, f"grad_{k}.npy"), x.grad.float().cpu().numpy())
        result["grads"] = True
    result.update(iters=args.iters, warmup=args.warmup)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", required=True, help="the parameter folder (read; with --make-params, written)")
    ap.add_argument("--out", help="the output folder (images, gradients)")
    ap.add_argument("--workload", help="name in the JSON line (default: the parameter folder's name)")
    ap.add_argument("--iters", type=int, default=50, help="timed iterations (default 50)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed iterations first (default 10)")
    ap.add_argument("--batch", action="store_true", help="all cameras in one rasterization call")
    ap.add_argument("--save-grads", action="store_true", help="write grad_<param>.npy")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generated parameters / cotangent")
    ap.add_argument("--check", action="store_true", help="render and save only (no timing)")
    ap.add_argument("--make-params", metavar="WORKLOAD", help=f"write WORKLOAD's parameters ({', '.join(WORKLOADS)})")
    ap.add_argument("--data", help="test_garden.npz, for --make-params")
    args = ap.parse_args()
    if args.make_params:
        if not args.data:
            ap.error("--make-params needs --data test_garden.npz")
        try:
            print(json.dumps(make_params(args.make_params, args.data, args.params, args.seed)))
        except (InputError, OSError, KeyError, ValueError) as e:
            print(f"splats_peer: {e}", file=sys.stderr)
            return 1
        return 0
    if not args.out:
        ap.error("--out is required")
    if args.iters < 1 or args.warmup < 0:
        ap.error("--iters must be >= 1 and --warmup >= 0")
    args.workload = args.workload or os.path.basename(os.path.normpath(args.params))
    try:
        result = run(args)
    except Exception as e:  # noqa: BLE001 - one JSON line says what failed
        print(json.dumps({"renderer": "gsplat", "workload": args.workload, "error": f"{type(e).__name__}: {e}"}))
        print(f"splats_peer: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
