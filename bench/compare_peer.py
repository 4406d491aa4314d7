#!/usr/bin/env python3
"""Per-pixel comparison of dvren with the PyTorch peer (../shared/peers/torch_dense_grid.py).

    build/dvren_render bench/peer_scene.json          # writes out/peer_rgb.npy
    python3 bench/compare_peer.py [--peer PATH] [--device cpu|cuda] [--res 128 --width 256 --height 256 --samples 128]

Runs the peer's own make_grid/make_rays/render (float32, and float64 as the
reference) and prints the image means and the max abs / relative error of
dvren's rgb against both. Needs numpy and torch (CPU is fine)."""
import argparse, importlib.util, json, os
import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--peer", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers", "torch_dense_grid.py"))
ap.add_argument("--dvren", default="out/peer_rgb.npy")
ap.add_argument("--device", default="cpu")
ap.add_argument("--res", type=int, default=128)
ap.add_argument("--width", type=int, default=256)
ap.add_argument("--height", type=int, default=256)
ap.add_argument("--samples", type=int, default=128)
a = ap.parse_args()
spec = importlib.util.spec_from_file_location("peer", a.peer)
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)
ours = np.load(a.dvren).astype(np.float64).reshape(-1, 3)
res = {}
for name, dt in (("float32", torch.float32), ("float64", torch.float64)):
    g = peer.make_grid(a.res, a.device).to(dt)
    o, d, t0, t1, hit = peer.make_rays(a.width, a.height, a.device)
    img = peer.render(g, o.to(dt), d.to(dt), t0.to(dt), t1.to(dt), hit, a.samples).double().cpu().numpy()
    err = np.abs(ours - img)
    res["peer_" + name] = {"image_mean": float(img.mean()), "max_abs_err": float(err.max()),
                           "max_rel_err": float((err / np.maximum(np.abs(img), 1e-3)).max())}
res["dvren_image_mean"] = float(ours.mean())
print(json.dumps(res, indent=1))
