"""python/tests/helpers.py - what several test files of the Python binding share.

Imported as ``helpers`` (pytest puts python/tests on sys.path: the folder has
no __init__.py). Nothing here computes an expected value with the code under
test: cameras and rays are rebuilt in NumPy from the formulas dvren.h
documents (OpenGL conventions, pixel centres at +0.5), in float64.
"""
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BOX = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]


def data_dir() -> Path:
    """$DVREN_DATA, else ../shared/data from the repository root (docs/scenes.md)."""
    env = os.environ.get("DVREN_DATA")
    return Path(env) if env else (ROOT.parent / "shared" / "data")


def require_data(rel: str) -> Path:
    """The data file rel under data_dir(), or skip the test saying which file is missing."""
    p = data_dir() / rel
    if not p.exists():
        pytest.skip("real data %s is absent (set DVREN_DATA; see shared/data/README.md)" % p)
    return p


def scene_env() -> dict:
    """The environment for scene files that say ${DVREN_DATA}."""
    env = dict(os.environ)
    env["DVREN_DATA"] = str(data_dir())
    return env


# ---------------------------------------------------------------- cameras in NumPy


def _normalize(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def camera_basis(eye, target, up):
    """forward, right, up of a look-at camera (gluLookAt): f = target - eye, r = f x up, u = r x f."""
    f = _normalize(np.subtract(target, eye))
    r = _normalize(np.cross(f, up))
    u = np.cross(r, f)
    return f, r, u


def look_at_matrix(eye, target, up):
    """gluLookAt's world-to-eye matrix, indexed [row, column]."""
    f, r, u = camera_basis(eye, target, up)
    e = np.asarray(eye, dtype=np.float64)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = r, u, -f
    m[0, 3], m[1, 3], m[2, 3] = -r @ e, -u @ e, f @ e
    return m


def perspective_matrix(fov_y, aspect, near, far):
    """gluPerspective's eye-to-clip matrix, indexed [row, column] (fov_y in radians)."""
    t = 1.0 / math.tan(fov_y / 2.0)
    m = np.zeros((4, 4))
    m[0, 0] = t / aspect
    m[1, 1] = t
    m[2, 2] = (far + near) / (near - far)
    m[2, 3] = 2.0 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


def ortho_matrix(left, right, bottom, top, near, far):
    """glOrtho's eye-to-clip matrix, indexed [row, column]."""
    m = np.eye(4)
    m[0, 0] = 2.0 / (right - left)
    m[1, 1] = 2.0 / (top - bottom)
    m[2, 2] = -2.0 / (far - near)
    m[0, 3] = -(right + left) / (right - left)
    m[1, 3] = -(top + bottom) / (top - bottom)
    m[2, 3] = -(far + near) / (far - near)
    return m


def pinhole_rays(eye, target, up, fov_y, width, height):
    """(height*width, 6) float32 rays of a pinhole camera through the pixel
    centres: ray k is pixel (k % width, k // width), pixel (0, 0) top-left,
    NDC x = 2 (x + 0.5) / W - 1, NDC y = 1 - 2 (y + 0.5) / H, direction
    normalize(f + r x tan(fov/2) aspect + u y tan(fov/2))."""
    f, r, u = camera_basis(eye, target, up)
    th = math.tan(fov_y / 2.0)
    tw = th * width / height
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    nx = 2.0 * (xs + 0.5) / width - 1.0
    ny = 1.0 - 2.0 * (ys + 0.5) / height
    d = f[None, None, :] + r[None, None, :] * (nx * tw)[..., None] + u[None, None, :] * (ny * th)[..., None]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = np.broadcast_to(np.asarray(eye, dtype=np.float64), d.shape)
    return np.ascontiguousarray(np.concatenate([o, d], axis=-1).reshape(-1, 6).astype(np.float32))


# ---------------------------------------------------------------- scenes


def quantised(rng, shape, lo=-1.0, hi=1.0):
    """Random values that are multiples of 2**-10: exact in float32, and
    still exact after a perturbation of 2**-16 (gradcheck's eps)."""
    return np.round(rng.uniform(lo, hi, shape) * 1024.0) / 1024.0


def blob_grid(n=12, channels=4, seed=0):
    """A smooth (n, n, n, channels) float32 grid: a soft ball of density in
    channel 0 and smooth colours in the others (no hard edges: small ray
    differences give small image differences)."""
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n)] * 3, indexing="ij")
    r2 = x * x + y * y + z * z
    g = np.empty((n, n, n, channels), dtype=np.float32)
    g[..., 0] = 3.0 * np.exp(-2.5 * r2)
    rng = np.random.default_rng(seed)
    for c in range(1, channels):
        a, b, k = rng.uniform(-1, 1, 3)
        g[..., c] = 0.5 + 0.4 * np.sin(2.0 * a * x + 1.7 * b * y + 1.3 * k * z + c)
    return g


def channels_shader(ctx, **kw):
    """emission_absorption in channels mode (density channel 0, colour 1..3)."""
    params = dict(mode="channels", activation="softplus", color_activation="sigmoid", sigma_scale=1.0)
    params.update(kw)
    return ctx.shader("emission_absorption", **params)


def diff_scene(ctx, n=3, seed=0, values=None, tf=False, samples=12):
    """A small differentiable scene: dense_grid "constant" of n^3 voxels over
    [-1, 1]^3 whose values are then set to quantised random numbers, an
    emission_absorption shader (4 channels: softplus density, sigmoid colour;
    or with tf=True one channel through a transfer function whose opacities
    are a parameter), a uniform sampler without jitter. Returns (scene, values)."""
    rng = np.random.default_rng(seed)
    if tf:
        f = ctx.field("dense_grid", generator="constant", dims=[n, n, n], fill=[0.0], bbox=BOX)
        s = ctx.shader("emission_absorption", mode="transfer_function", sigma_scale=1.0,
                       tf_opacity=[-0.5, 0.25, 0.5, 1.5, 1.5, 0.5])
        vals = quantised(rng, (n, n, n, 1), 0.0, 1.0) if values is None else values
    else:
        f = ctx.field("dense_grid", generator="constant", dims=[n, n, n], fill=[0.0, 0.0, 0.0, 0.0], bbox=BOX)
        s = channels_shader(ctx)
        vals = quantised(rng, (n, n, n, 4)) if values is None else values
    m = ctx.sampler("uniform", jitter=False)
    sc = ctx.scene(f, s, m, differentiable=True)
    sc.params["field.voxels"].write(vals)
    return sc, vals


def oblique_camera(fov=0.7):
    import dvren
    return dvren.Camera.look_at((2.2, 1.5, 3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), fov)


# ---------------------------------------------------------------- subprocesses


def run_python(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter that imports the same dvren package as
    this one; a crash (a signal, an abort) shows as a non-zero return code
    with its output."""
    import dvren
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(dvren.__file__)))  # not resolved: the package may be a tree of links
    env = scene_env()
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, str(Path(__file__).resolve().parent)]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONFAULTHANDLER"] = "1"
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=timeout)


def assert_ran(proc: subprocess.CompletedProcess, expect: str = "OK") -> None:
    out = "--- stdout\n%s\n--- stderr\n%s" % (proc.stdout[-4000:], proc.stderr[-4000:])
    assert proc.returncode == 0, "subprocess exited with %d\n%s" % (proc.returncode, out)
    assert expect in proc.stdout, "subprocess did not finish\n%s" % out
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, out


def adam_fit_losses(model, plans, targets, steps=100, lr=0.1):
    """A plain PyTorch loop: torch.optim.Adam on a dvren.torch.Renderer,
    mse_loss on rgb and alpha against targets (one (rgb, alpha) pair per
    plan), until the loss falls to a tenth or steps run out; the losses."""
    import torch
    F = torch.nn.functional
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = 0.0
        for p, (rgb, alpha) in zip(plans, targets):
            o = model(p, outputs=("rgb", "alpha"))
            loss = loss + F.mse_loss(o["rgb"], rgb) + F.mse_loss(o["alpha"], alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if losses[-1] < losses[0] / 10:
            break
    return losses

