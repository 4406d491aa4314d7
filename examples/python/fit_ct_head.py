"""Fit a dense grid to views of the CT head with PyTorch: the Python twin of examples/fit_volume.c.

Ground truth: the CT head of $DVREN_DATA rendered by dvren with fit_volume's
fixed transfer function and light (Lambert, no specular: view-independent,
so an emission-absorption grid can hold it) from --views pinhole cameras on
a Fibonacci sphere and --heldout others between them; --downsample F
averages the volume over F^3 blocks first (quick runs). The rays are made
here in NumPy with fit_volume's formulas, so both programs see the same rays
and images.

Model: a 4-channel dense_grid over the volume's box (--model-scale times the
ground truth's voxels per axis), starting nearly empty (raw density -4,
colour 0), shaded by emission_absorption in channels mode (density =
10 softplus(raw), colour = sigmoid(raw)), marched with the ground truth's
voxel size as the step. Training: dvren.torch.Renderer exposes the grid as an
nn.Parameter sharing dvren's memory; each step draws --batch random training
rays (torch.randint, seeded) into a preallocated tensor that the batch plan
reads in place (zero-copy, also on the GPU), renders them, and minimises
torch's mse_loss plus --tv times the total variation of the density channel
(Plenoxels eq. 3, dvren_tv_regularize's formula) with torch.optim.Adam, the
learning rate decaying exponentially to a tenth by the last step.

Run from the repository root with dvren importable (PYTHONPATH or an
install) and $DVREN_DATA (default ../shared/data) holding ct_head/:

    python examples/python/fit_ct_head.py                    # CPU, 64 x 64 views, 3000 steps
    # GPU (one H200: 35.25 dB after 150 steps, 0.7 s of training, as fit_volume)
    python examples/python/fit_ct_head.py --device cuda --size 256 --batch 65536 --until-target
    # quick (2 CPU cores: 35.6 dB after 300 steps, 10 s of training, 14 s in all; fit_volume 9 s)
    python examples/python/fit_ct_head.py --downsample 4 --model-scale 2 --steps 600 --batch 4096 --until-target
    # tests/test_fit.sh's settings for fit_volume (2 CPU cores: 35.0 dB after 500 steps, 58 s of
    # training; fit_volume 54 s)
    python examples/python/fit_ct_head.py --downsample 2 --steps 1200 --until-target

Prints on stderr, in fit_volume's format (the same scripts read both):

    [fit] PATH: 64 training and 8 held-out views, 64 x 64; model grid 31 x 31 x 47 x 4 over [...]..[...] on cpu
    [fit] step   100  loss 7.526e-04  held-out PSNR  30.76 dB  0.12 M rays/s  (3.4 s training)
    ...
    [fit] cpu: held-out PSNR 35.61 dB after 300 steps, 9.8 s of training (9.9 s wall); reached 35.0 dB
          after 9.8 s of training                                        (one line)
    [fit] wrote out/fit_ct_head_python.png (ground truth above, fit below, 1024 x 512) and out/..._curve.csv

("loss" is the batch's mean squared error, without the TV term; the curve
goes to --csv, four held-out views, ground truth above the fit, to --png),
with a tqdm progress bar when tqdm is installed and stderr is a terminal.
Exit status: 0; 2 when a target was asked for (--target, --until-target) and
the last held-out PSNR misses it; 1 on an error (one line on stderr).
"""
import argparse
import copy
import math
import os
import sys
import time

import numpy as np
import torch

import dvren
import dvren.torch as dt

try:
    from tqdm import tqdm
except ImportError:
    tqdm = None

FOV, RADIUS = 0.75, 3.0             # fit_volume's cameras: vertical field of view (radians), sphere radius
GOLDEN_ANGLE = 2.399963229728653

# fit_volume.c's ground truth (make_ct_truth): opacity rises monotonically
# from faint skin to opaque bone; the volume's path is added as "file"
TRUTH = {
    "field": {"plugin": "dense_grid", "params": {"storage": "f32"}},
    "shader": {"plugin": "emission_absorption", "params": {
        "sigma_scale": 30, "shading": True, "specular": 0, "light_dir": [0.5, -1.0, -0.6],
        "tf_opacity": [[0, 0], [400, 0], [900, 0.03], [1300, 0.3], [2000, 0.8], [4000, 0.8]],
        "tf_color": [[400, 0.85, 0.55, 0.45], [1000, 0.95, 0.75, 0.65], [1500, 1, 0.95, 0.85]]}},
}


class Parser(argparse.ArgumentParser):
    """argparse, but a bad option exits 1 (2 means: target not reached)."""

    def error(self, message):
        self.exit(1, "%s: %s\n" % (self.prog, message))


def add_training_options(ap, name, size, heldout, tv):
    """The options both fits share (fit_volume's names and defaults)."""
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--size", type=int, default=size, help="image size in pixels (%(default)s)")
    ap.add_argument("--heldout", type=int, default=heldout, help="held-out views (%(default)s)")
    ap.add_argument("--steps", type=int, default=3000, help="Adam steps (%(default)s)")
    ap.add_argument("--batch", type=int, default=8192, help="rays per step (%(default)s)")
    ap.add_argument("--lr", type=float, default=0.3, help="learning rate, decaying to a tenth by the last step")
    ap.add_argument("--tv", type=float, default=tv, help="total variation weight on the density (%(default)s)")
    ap.add_argument("--target", type=float, help="held-out PSNR to reach (35): exit 2 when it is not reached")
    ap.add_argument("--until-target", action="store_true", help="stop once the target is reached")
    ap.add_argument("--eval-every", type=int, default=100, help="evaluate every N steps (%(default)s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--csv", default="out/fit_%s_curve.csv" % name, help="the curve (%(default)s)")
    ap.add_argument("--png", default="out/fit_%s.png" % name, help="ground truth over the fit (%(default)s)")


def check_training_options(ap, args):
    if args.batch > 8192:
        args.batch -= args.batch % 8192  # whole rows of the batch plan
    if not (8 <= args.size <= 4096 and args.heldout >= 1 and args.steps >= 1 and args.batch >= 1
            and args.eval_every >= 1 and args.lr > 0 and args.tv >= 0):
        ap.error("--size 8..4096, --heldout, --steps, --batch, --eval-every >= 1, --lr > 0, --tv >= 0")


def make_context(device):
    """A dvren context on torch's device (and, on the GPU, torch's current stream)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise dvren.NoDeviceError("cuda: torch sees no CUDA device (torch.cuda.is_available() is False)", -8)
    if device == "cpu":
        # dvren renders with its own threads; torch's small ops (gathers, the loss,
        # Adam) run on one: its OpenMP workers, spinning between ops, would take the
        # cores from dvren's (three times slower on 2 cores)
        torch.set_num_threads(1)
    return dt.context(device)


def as_torch(x):
    """A render output (NumPy on the CPU, a DLPack dvren.Tensor on the GPU) as a torch tensor, no copy."""
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else torch.from_dlpack(x)


def say(line):
    """One line on stderr, above the progress bar when there is one."""
    (tqdm.write if tqdm else print)(line, file=sys.stderr)


# ---------------------------------------------------------------- cameras (fit_volume.c, same formulas)

def sphere_eye(k, n, phase, r):
    """Camera k of n on a Fibonacci sphere of radius r (phase shifts the
    lattice: the held-out views sit between the training views)."""
    z = 1.0 - 2.0 * (k + 0.5) / n
    rho = math.sqrt(1.0 - z * z)
    a = GOLDEN_ANGLE * k + phase
    return np.array([r * rho * math.cos(a), r * rho * math.sin(a), r * z])


def _unit(v):
    return v / np.sqrt(v[..., 0:1] * v[..., 0:1] + v[..., 1:2] * v[..., 1:2] + v[..., 2:3] * v[..., 2:3])


def pinhole_rays(eye, fov, size):
    """The size x size rays (origin, unit direction), float32 (size*size, 6),
    of a pinhole camera at eye looking at the origin, vertical field of view
    fov (radians), through the pixel centres, row by row from the top."""
    f = _unit(-eye)
    up = np.array([0.0, 1.0, 0.0] if abs(f[2]) > 0.95 else [0.0, 0.0, -1.0])  # another up along the up axis
    r = _unit(np.cross(f, up))
    u = np.cross(r, f)
    t = math.tan(0.5 * fov)
    c = (np.arange(size) + 0.5) * 2.0 / size
    x = (c - 1.0) * t                    # image plane coordinates of the columns, left to right
    y = (1.0 - c) * t                    # and of the rows, top to bottom
    d = f + x[None, :, None] * r + y[:, None, None] * u
    rays = np.empty((size * size, 6), dtype=np.float32)
    rays[:, :3] = eye
    rays[:, 3:] = _unit(d).reshape(-1, 3)
    return rays


# ---------------------------------------------------------------- scenes

def block_mean(vol, f):
    """The mean of each f^3 block of vol (Z, Y, X); blocks cut by the far
    faces average the voxels they hold (fit_volume's --downsample)."""
    v = np.pad(vol.astype(np.float64), [(0, -s % f) for s in vol.shape], constant_values=np.nan)
    v = v.reshape(v.shape[0] // f, f, v.shape[1] // f, f, v.shape[2] // f, f)
    return np.nanmean(v, axis=(1, 3, 5)).astype(np.float32)


def make_truth(ctx, volume, downsample):
    """The ground truth's field and shader: TRUTH with the volume, or with
    its downsample^3 block means (a dense_grid from a data tensor, same box)."""
    spec = copy.deepcopy(TRUTH)
    spec["field"]["params"]["file"] = volume
    # differentiable only to read the voxels back (scene.params) for the block means
    sf = dvren.load_scene(spec, context=ctx, differentiable=downsample > 1)
    if downsample == 1:
        return sf.field, sf.shader
    info = sf.field.info
    small = block_mean(sf.scene.params["field.voxels"].read()[..., 0], downsample)
    return ctx.field("dense_grid", data=small, bbox=info["bounds_min"] + info["bounds_max"]), sf.shader


def make_model(ctx, sampler, dims, box):
    """fit_volume's model: a nearly empty 4-channel grid of dims (X, Y, Z)
    voxels over box, density 10 softplus(raw), colour sigmoid(raw)."""
    field = ctx.field("dense_grid", generator="constant", fill=[-4.0, 0.0, 0.0, 0.0], dims=dims, bbox=box)
    shader = ctx.shader("emission_absorption", mode="channels", activation="softplus",
                        color_activation="sigmoid", sigma_scale=10)
    return dvren.Scene(field, shader, sampler, differentiable=True)


def render_views(render, plan, view_rays, rays):
    """Renders each view of rays (V, px, 6) through plan, whose rays are
    view_rays (refilled in place); render(plan) returns rgb. (V, px, 3)."""
    out = []
    for r in rays:
        view_rays.copy_(r)
        out.append(render(plan).reshape(-1, 3))
    return torch.stack(out)


def total_variation(grid, c0, c1):
    """Plenoxels eq. 3 as dvren_tv_regularize computes it on channels
    [c0, c1) of a (Z, Y, X, C) grid: the mean over voxels and channels of
    sqrt(dx^2 + dy^2 + dz^2 + 1e-8), forward differences, 0 on the far faces."""
    g = grid[..., c0:c1]
    # torch.diff with the last slice appended: the difference across the far face is 0
    dz, dy, dx = (torch.diff(g, dim=a, append=g.narrow(a, g.shape[a] - 1, 1)) for a in range(3))
    return torch.sqrt(dx * dx + dy * dy + dz * dz + 1e-8).mean()


def psnr(a, b):
    mse = (a.double() - b.double()).pow(2).mean().item()
    return -10.0 * math.log10(mse) if mse > 0 else 99.0


# ---------------------------------------------------------------- training

def fit(args, ctx, renderer, step_world, train, held_rays, held_rgb, size, data_loss, regularizer):
    """fit_volume's training loop, in torch. train: "rays" (N, 6) and the
    targets ("rgb" (N, 3), optionally "alpha" (N, 1)) on the device; held_rays
    (V, px, 6), held_rgb (V, px, 3). data_loss(out, targets) is the loss
    reported, regularizer(voxels) is added to it for the gradient only.
    Prints, writes the curve and the side-by-side image as fit_volume does;
    returns the exit status (0, or 2 when a target was asked for and missed)."""
    dev = torch.device(ctx.device_str)
    n_train = train["rays"].shape[0]
    targets = [k for k in train if k != "rays"]
    # a batch is a width x height "image" of rays (each side at most 32768); the
    # plan borrows batch_rays, refilled in place each step. With transmittance the
    # backward pass takes each ray's totals from the forward pass instead of re-marching.
    width = min(args.batch, 8192)
    batch_rays = torch.empty((args.batch, 6), device=dev)
    batch_plan = ctx.plan(width, args.batch // width, rays=batch_rays, step=step_world,
                          outputs=("rgb", "transmittance") + tuple(k for k in targets if k != "rgb"))
    view_rays = torch.empty((size * size, 6), device=dev)
    view_plan = ctx.plan(size, size, rays=view_rays, step=step_world, outputs=("rgb",))
    opt = torch.optim.Adam(renderer.parameters(), lr=args.lr)
    # fit_volume's schedule: lr * 0.1^(t / steps) at step t = 0, 1, ...
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.1 ** (t / args.steps))
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    voxels = renderer.param("field.voxels")
    target_given = args.target is not None or args.until_target
    target = 35.0 if args.target is None else args.target
    bar = tqdm(total=args.steps, unit="step", disable=None, file=sys.stderr) if tqdm else None
    t_start, t_train, last_psnr, first_hit, fit_rgb = time.perf_counter(), 0.0, 0.0, None, None
    with open(args.csv, "w") as csv:
        csv.write("step,seconds,loss,heldout_psnr_db,rays_per_s\n")
        for step in range(1, args.steps + 1):
            t0 = time.perf_counter()
            evaluate = step % args.eval_every == 0 or step == args.steps
            idx = torch.randint(n_train, (args.batch,), device=dev, generator=gen)
            batch_rays.copy_(train["rays"][idx])
            out = renderer(batch_plan, outputs=targets)
            loss = data_loss({k: v.reshape(args.batch, -1) for k, v in out.items()},
                             {k: train[k][idx].reshape(args.batch, -1) for k in targets})
            opt.zero_grad(set_to_none=True)
            # as with dvren_tv_regularize, the TV reaches the gradient but not the reported loss
            (loss + regularizer(voxels)).backward()
            opt.step()
            schedule.step()
            if evaluate:
                loss_value = loss.item()
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
            t_train += time.perf_counter() - t0
            if bar:
                bar.update()
            if not evaluate:
                continue
            with torch.no_grad():
                fit_rgb = render_views(lambda p: renderer(p)["rgb"], view_plan, view_rays, held_rays)
            last_psnr = psnr(fit_rgb, held_rgb)
            if last_psnr >= target and first_hit is None:
                first_hit = t_train
            rate = step * args.batch / t_train
            say("[fit] step %5d  loss %.3e  held-out PSNR %6.2f dB  %.2f M rays/s  (%.1f s training)"
                % (step, loss_value, last_psnr, rate * 1e-6, t_train))
            csv.write("%d,%.3f,%.6e,%.4f,%.0f\n" % (step, t_train, loss_value, last_psnr, rate))
            csv.flush()
            if bar:
                bar.set_postfix_str("%.2f dB" % last_psnr)
            if args.until_target and last_psnr >= target:
                break
    if bar:
        bar.close()
    say("[fit] %s: held-out PSNR %.2f dB after %d steps, %.1f s of training (%.1f s wall)%s"
        % (args.device, last_psnr, step, t_train, time.perf_counter() - t_start,
           "; reached %.1f dB after %.1f s of training" % (target, first_hit) if first_hit is not None
           else "; target not reached" if target_given else ""))
    w, h = write_side_by_side(args.png, held_rgb, fit_rgb, size)
    say("[fit] wrote %s (ground truth above, fit below, %d x %d) and %s" % (args.png, w, h, args.csv))
    return 0 if last_psnr >= target or not target_given else 2


def write_side_by_side(path, truth, fit_rgb, size):
    """Ground truth (top) over the fit (bottom) for up to four views of
    (V, px, 3), each enlarged (nearest neighbour) to at least 256 pixels
    across; returns the image's width and height."""
    n = min(len(truth), 4)
    zoom = -(-256 // size)
    rows = [torch.cat(list(t[:n].reshape(n, size, size, 3)), dim=1) for t in (truth, fit_rgb)]
    img = torch.cat(rows, dim=0).cpu().numpy().repeat(zoom, axis=0).repeat(zoom, axis=1)
    dvren.write_png(path, img)
    return img.shape[1], img.shape[0]


# ---------------------------------------------------------------- main

def main():
    ap = Parser(description=__doc__.splitlines()[0])
    add_training_options(ap, "ct_head_python", size=64, heldout=8, tv=1e-4)
    ap.add_argument("--views", type=int, default=64, help="training views (%(default)s)")
    ap.add_argument("--downsample", type=int, default=1, help="ground truth averaged over F^3 voxels (1..8)")
    ap.add_argument("--model-scale", type=int, default=1, help="S times the ground truth's voxels per axis (1..4)")
    ap.add_argument("--volume", help="the CT head ($DVREN_DATA/ct_head/quarter.nhdr)")
    args = ap.parse_args()
    check_training_options(ap, args)
    if not (args.views >= 1 and 1 <= args.downsample <= 8 and 1 <= args.model_scale <= 4):
        ap.error("--views >= 1, --downsample 1..8, --model-scale 1..4")
    volume = args.volume or os.path.join(os.environ.get("DVREN_DATA", "../shared/data"), "ct_head", "quarter.nhdr")
    try:
        for p in (args.csv, args.png):
            os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
        ctx = make_context(args.device)
        dev = torch.device(ctx.device_str)
        sampler = ctx.sampler("uniform", jitter=False)  # the step is the plans'
        field, shader = make_truth(ctx, volume, args.downsample)
        truth = dvren.Scene(field, shader, sampler)
        info = field.info
        step_world = info["voxel_world"]  # one sample per ground-truth voxel, for the truth and the fit
        # model_scale - 1 more voxels between the ground truth's
        dims = [args.model_scale * round((hi - lo) / vs) + 1
                for lo, hi, vs in zip(info["bounds_min"], info["bounds_max"], info["voxel_size"])]
        box = list(info["bounds_min"] + info["bounds_max"])
        model = make_model(ctx, sampler, dims, box)

        # cameras, rays and ground-truth images (held-out views between the training views)
        eyes = [sphere_eye(k, args.views, 0.0, RADIUS) for k in range(args.views)]
        eyes += [sphere_eye(k, args.heldout, 1.0, RADIUS) for k in range(args.heldout)]
        rays = torch.from_numpy(np.stack([pinhole_rays(e, FOV, args.size) for e in eyes])).to(dev)
        px = args.size * args.size
        view_rays = torch.empty((px, 6), device=dev)
        view_plan = ctx.plan(args.size, args.size, rays=view_rays, step=step_world, outputs=("rgb",))
        rgb = render_views(lambda p: as_torch(truth.render(p)["rgb"]), view_plan, view_rays, rays)
        say("[fit] %s: %d training and %d held-out views, %d x %d; model grid %d x %d x %d x 4 over "
            "[%.3f %.3f %.3f]..[%.3f %.3f %.3f] on %s"
            % (volume, args.views, args.heldout, args.size, args.size, *dims, *box, args.device))

        def data_loss(out, tgt):
            return torch.nn.functional.mse_loss(out["rgb"], tgt["rgb"])

        def regularizer(voxels):
            return args.tv * total_variation(voxels, 0, 1) if args.tv > 0 else 0.0

        train = {"rays": rays[:args.views].reshape(-1, 6), "rgb": rgb[:args.views].reshape(-1, 3)}
        return fit(args, ctx, dt.Renderer(model), step_world, train, rays[args.views:], rgb[args.views:],
                   args.size, data_loss, regularizer)
    except (dvren.Error, OSError) as e:
        print("fit_ct_head: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
