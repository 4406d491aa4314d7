"""Fit a dense grid to real photographs (the NeRF synthetic lego views) with PyTorch.

The Python twin of `fit_volume --images`: reads a transforms JSON in the
NeRF synthetic layout with dvren.load_nerf_views (images box-filtered to
--size pixels across and composited on black, one ray per pixel from the
poses), keeps --heldout views evenly spread over the list for evaluation,
carves the model's box from the training views' alpha (carve_box: the
bounds of a visual hull), and fits fit_volume's model (a 4-channel
dense_grid of --grid voxels along the box's longest side, density
10 softplus(raw), colour sigmoid(raw)) with torch.optim.Adam on random ray
batches. The loss is written in torch: --loss on RGB (Huber by default:
torch's smooth_l1_loss with beta --huber-delta; or l2, fit_volume's, or
l1), plus --alpha-weight times the L2 loss of alpha against the images'
coverage; the gradient also gets --tv times the total variation of the
density and --tv-color times that of the colour (fit_volume --images'
weights). The training loop, model and output are fit_ct_head.py's.

Run from the repository root with dvren importable (PYTHONPATH or an
install) and $DVREN_DATA (default ../shared/data) holding lego/:

    python examples/python/fit_lego.py                        # CPU, 100 x 100, grid 128, 3000 steps (slow)
    # GPU (one H200: 26.71 dB after 3000 steps, 22 s of training; fit_volume, L2 on
    # an H100, bench/RESULTS.md: 26.40 dB)
    python examples/python/fit_lego.py --device cuda --size 800 --grid 256 --batch 65536
    # tests/test_fit_images.sh's settings for fit_volume (2 CPU cores: 26.0 dB after 300
    # steps, 17 s of training, 21 s in all; with --loss l2 25.4 dB; fit_volume 25.4 dB, 14 s)
    python examples/python/fit_lego.py --grid 64 --steps 300 --batch 4096 --target 23

Prints on stderr, in fit_volume's format (see fit_ct_head.py): the split
and the model's grid, "[fit] step N  loss L  held-out PSNR X dB ..." every
--eval-every steps (loss: the data terms, without TV), a final line with
the held-out PSNR, and the files it wrote (--csv, and --png: four held-out
views above the fit). Exit status: 0; 2 when a target was asked for and
missed; 1 on an error (one line on stderr).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import dvren
import dvren.torch as dt
from fit_ct_head import (Parser, add_training_options, check_training_options, fit, make_context, make_model, say,
                         total_variation)


def carve_box(poses, alpha, focal, half, n=128):
    """fit_volume's carve_box: the box of the points of an n^3 lattice over
    the cube [-half, half]^3 that lie in front of every view (camera-to-world
    poses (V, 3, 4), OpenGL convention), inside its image, on a covered pixel
    (alpha (V, H, W) > 0), padded by two lattice cells and kept within the
    cube: the bounds of a visual hull cut to the views' common frustum.
    Returns (lo, hi), or None when no point survives."""
    H, W = alpha.shape[1:]
    cell = 2.0 * half / (n - 1)
    t = -half + np.arange(n) * cell
    p = np.stack(np.meshgrid(t, t, t, indexing="ij"), axis=-1).reshape(-1, 3)
    for m, a in zip(poses, alpha):
        q = (p - m[:, 3]) @ m[:, :3]      # camera coordinates: R^T (p - eye)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = focal * q[:, 0] / -q[:, 2] + 0.5 * W    # pixel column; the camera looks down -z
            w = -focal * q[:, 1] / -q[:, 2] + 0.5 * H   # pixel row, +y up
        seen = (q[:, 2] < 0.0) & (u >= 0.0) & (w >= 0.0) & (u < W) & (w < H)
        seen[seen] = a[w[seen].astype(int), u[seen].astype(int)] > 0.0   # alpha where it lands in the image
        p = p[seen]
    if len(p) == 0:
        return None
    return np.maximum(p.min(axis=0) - 2.0 * cell, -half), np.minimum(p.max(axis=0) + 2.0 * cell, half)


def main():
    ap = Parser(description=__doc__.splitlines()[0])
    add_training_options(ap, "lego_python", size=100, heldout=4, tv=3e-3)
    data = os.environ.get("DVREN_DATA", "../shared/data")
    ap.add_argument("--images", default=os.path.join(data, "lego", "transforms_train.json"),
                    help="transforms JSON in the NeRF synthetic layout ($DVREN_DATA/lego/transforms_train.json)")
    ap.add_argument("--grid", type=int, default=128, help="voxels along the carved box's longest side (%(default)s)")
    ap.add_argument("--tv-color", type=float, default=1e-2, help="total variation weight on the colour (%(default)s)")
    ap.add_argument("--alpha-weight", type=float, default=1.0, help="L2 on alpha against coverage (%(default)s)")
    ap.add_argument("--loss", choices=("huber", "l2", "l1"), default="huber", help="loss on RGB (%(default)s)")
    ap.add_argument("--huber-delta", type=float, default=0.1, help="Huber: the error where L2 turns L1")
    args = ap.parse_args()
    check_training_options(ap, args)
    if not (4 <= args.grid <= 1024 and args.tv_color >= 0 and args.alpha_weight >= 0 and args.huber_delta > 0):
        ap.error("--grid 4..1024, --tv-color, --alpha-weight >= 0, --huber-delta > 0")
    try:
        for p in (args.csv, args.png):
            os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
        views = dvren.load_nerf_views(args.images, args.size)
        n, H, W = views["alpha"].shape
        if views["missing"]:
            say("[fit] %s: %d of its %d frames have images; %d listed images are absent"
                % (args.images, n, views["frames"], views["missing"]))
        if W != H:
            raise dvren.InvalidArgumentError("%s: the images are %d x %d; this example takes square ones"
                                             % (args.images, W, H), -1)
        if args.heldout >= n:
            raise dvren.InvalidArgumentError("--heldout %d leaves no training view of the %d loaded"
                                             % (args.heldout, n), -1)
        held = np.zeros(n, dtype=bool)
        held[np.arange(args.heldout) * n // args.heldout] = True   # evenly spread over the list
        poses = views["poses"][~held]
        # the object lies well inside the cameras' sphere: carve within half its radius
        half = 0.5 * np.linalg.norm(poses[:, :, 3], axis=1).min()
        carved = carve_box(poses, views["alpha"][~held], views["focal"], half)
        if carved is None:
            raise dvren.InvalidArgumentError("%s: no point near the origin is seen covered (alpha > 0) in every "
                                             "training view (are the poses or the alpha channels wrong?)"
                                             % args.images, -1)
        lo, hi = carved
        vox = (hi - lo).max() / args.grid
        dims = [math.ceil(e / vox) + 1 for e in hi - lo]
        box = list(lo) + [lo[k] + (dims[k] - 1) * vox for k in range(3)]   # cubic voxels

        ctx = make_context(args.device)
        dev = torch.device(ctx.device_str)
        model = make_model(ctx, ctx.sampler("uniform", jitter=False), dims, box)   # the step is the plans'
        say("[fit] %s: %d training and %d held-out views, %d x %d; model grid %d x %d x %d x 4 over "
            "[%.3f %.3f %.3f]..[%.3f %.3f %.3f] on %s"
            % (args.images, n - args.heldout, args.heldout, W, H, *dims, *box, args.device))

        def tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

        train = {"rays": tensor(views["rays"][~held].reshape(-1, 6)),
                 "rgb": tensor(views["rgb"][~held].reshape(-1, 3)),
                 "alpha": tensor(views["alpha"][~held].reshape(-1, 1))}
        held_rays = tensor(views["rays"][held].reshape(args.heldout, -1, 6))
        held_rgb = tensor(views["rgb"][held].reshape(args.heldout, -1, 3))

        def data_loss(out, tgt):
            if args.loss == "huber":
                rgb = F.smooth_l1_loss(out["rgb"], tgt["rgb"], beta=args.huber_delta)
            else:
                rgb = (F.mse_loss if args.loss == "l2" else F.l1_loss)(out["rgb"], tgt["rgb"])
            return rgb + args.alpha_weight * F.mse_loss(out["alpha"], tgt["alpha"])

        def regularizer(voxels):
            return args.tv * total_variation(voxels, 0, 1) + args.tv_color * total_variation(voxels, 1, 4)

        return fit(args, ctx, dt.Renderer(model), vox, train, held_rays, held_rgb, W, data_loss, regularizer)
    except (dvren.Error, OSError) as e:
        print("fit_lego: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
