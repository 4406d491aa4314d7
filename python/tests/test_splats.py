"""python/tests/test_splats.py - the 3D Gaussian splat renderer from Python
(dvren.SplatRenderer, dvren.torch.render_splats) on the CPU: one Gaussian's
alpha, colour and depth against an independent NumPy EWA reference, the
autograd gradients against central finite differences of the C forward,
bad inputs naming the tensor, a torch.optim.Adam fit, and the helpers
(Camera.from_opencv, sh_rotation, load_splats). The torch tests skip
without torch; the NumPy ones run anyway."""
import math
import struct

import numpy as np
import pytest

import dvren

try:
    import torch
    import dvren.torch as dt
except ImportError:  # the NumPy tests still run
    torch = dt = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

C0 = 0.28209479177387814  # the degree-0 real SH constant, 1 / (2 sqrt(pi))
C1 = 0.4886025119029199  # the degree-1 constant, sqrt(3 / (4 pi))


@pytest.fixture
def ctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


def opencv_camera(fx, fy, cx, cy):
    """The identity pose (camera at the origin looking down +z, y down) with K."""
    return dvren.Camera.from_opencv(np.eye(4), [[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


# ---------------------------------------------------------------- (b) closed form, NumPy


def ewa_alpha(mean, sigma, opacity, fx, fy, cx, cy, width, height, eps2d=0.3, alpha_max=0.99):
    """One isotropic Gaussian's alpha at the pixel centres (x + 0.5, y + 0.5),
    float64: the perspective Jacobian J of (fx X / Z + cx, fy Y / Z + cy) at
    the mean, Sigma = sigma^2 J J^T + eps2d I (the low-pass dilation),
    alpha = min(alpha_max, o exp(-d^T Sigma^-1 d / 2)), 0 below 1/255."""
    X, Y, Z = mean
    J = np.array([[fx / Z, 0.0, -fx * X / Z ** 2], [0.0, fy / Z, -fy * Y / Z ** 2]])
    S = sigma ** 2 * J @ J.T + eps2d * np.eye(2)
    Si = np.linalg.inv(S)
    u = np.array([fx * X / Z + cx, fy * Y / Z + cy])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    d = np.stack([xs + 0.5 - u[0], ys + 0.5 - u[1]], axis=-1)
    q = np.einsum("hwi,ij,hwj->hw", d, Si, d)
    a = np.minimum(alpha_max, opacity * np.exp(-0.5 * q))
    return np.where(a < 1.0 / 255.0, 0.0, a)


def one_gaussian(mean, sigma, logit, dc):
    return (np.array([mean], np.float32), np.full((1, 3), math.log(sigma), np.float32),
            np.array([[1.0, 0.0, 0.0, 0.0]], np.float32), np.array([logit], np.float32),
            np.array(dc, np.float32).reshape(1, 1, 3))


@pytest.mark.parametrize("mean,sigma,logit", [((0.1, -0.05, 2.0), 0.12, 0.4), ((-0.3, 0.2, 3.5), 0.3, 2.0),
                                              ((0.0, 0.0, 1.5), 0.02, 8.0)])
def test_one_gaussian_matches_ewa_closed_form(ctx, mean, sigma, logit):
    W, H, fx, fy, cx, cy = 40, 30, 36.0, 33.0, 19.0, 16.5
    plan = ctx.plan(W, H, opencv_camera(fx, fy, cx, cy), outputs=("rgb", "alpha", "depth", "transmittance"))
    dc = (0.3, -0.2, 1.1)
    r = ctx.splat_renderer()
    out = r.render(*one_gaussian(mean, sigma, logit, dc), plan)
    o = 1.0 / (1.0 + math.exp(-logit))
    ref = ewa_alpha(mean, sigma, o, fx, fy, cx, cy, W, H)
    assert ref.max() > 0.05 and (ref == 0).any()  # a visible Gaussian with an edge inside the image
    np.testing.assert_allclose(out["alpha"], ref, atol=2e-6, rtol=1e-4)
    np.testing.assert_allclose(out["transmittance"], 1.0 - ref, atol=2e-6, rtol=1e-4)
    colour = np.maximum(0.5 + C0 * np.array(dc), 0.0)  # 3DGS's clamp of negative colours
    np.testing.assert_allclose(out["rgb"], ref[..., None] * colour, atol=2e-6, rtol=1e-4)
    # expected camera z: the mean's z where the Gaussian is seen, 0 elsewhere
    np.testing.assert_allclose(out["depth"], np.where(ref > 0, mean[2], 0.0), rtol=1e-5, atol=1e-6)
    assert r.stats["visible"] == 1 and r.stats["intersections"] >= 1


def test_pinhole_camera_matches_intrinsics(ctx):
    """look_at's pinhole (fx = fy = H / (2 tan(fov / 2)), centred) renders as
    the OpenCV camera of the same pose (look_at's y up is OpenCV's y down)."""
    W, H, fov = 32, 24, 0.8
    f = H / (2.0 * math.tan(fov / 2.0))
    a = ctx.plan(W, H, dvren.Camera.look_at((0, 0, 0), (0, 0, -1), (0, 1, 0), fov), outputs=("alpha",))
    view = np.diag([1.0, -1.0, -1.0, 1.0])  # world (y up, -z forward) to OpenCV camera (y down, z forward)
    b = ctx.plan(W, H, dvren.Camera.from_opencv(view, [[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]]), outputs=("alpha",))
    g = one_gaussian((0.3, 0.2, -3.0), 0.25, 0.5, (0, 0, 0))
    r = ctx.splat_renderer()
    ia = r.render(*g, a)["alpha"].copy()
    ib = r.render(*g, b)["alpha"]
    assert ia.max() > 0.1
    np.testing.assert_allclose(ia, ib, atol=1e-5)
    # the Gaussian sits right (+x) and up (+y, so the top rows: pixel row 0 is the top)
    ys, xs = np.nonzero(ia == ia.max())
    assert xs[0] > W / 2 and ys[0] < H / 2


# ---------------------------------------------------------------- scenes for the gradients


def smooth_scene(seed=0, n=3, degree=1):
    """A few large Gaussians in front of a 16 x 12 camera: each covers the
    whole image well inside its 1/255 contour and below the 0.99 cap, at
    distinct depths (no change of order under small perturbations), with
    transmittance far above the stop threshold: the render is a smooth
    function of every parameter."""
    rng = np.random.default_rng(seed)
    means = np.stack([rng.uniform(-0.15, 0.15, n), rng.uniform(-0.1, 0.1, n), 3.0 + 0.7 * np.arange(n)], 1)
    log_scales = np.log(rng.uniform(1.8, 2.6, (n, 3)))
    quats = rng.normal(size=(n, 4))
    quats[:, 0] += 2.0
    logits = rng.uniform(-0.8, 0.2, n)
    sh = rng.normal(scale=0.4, size=(n, (degree + 1) ** 2, 3))
    sh[:, 0] += 0.8  # colours well above 0 (the clamp)
    return [a.astype(np.float32) for a in (means, log_scales, quats, logits, sh)]


SMALL = dict(width=16, height=12)


def small_camera():
    return opencv_camera(12.0, 12.0, 8.0, 6.0)


# ---------------------------------------------------------------- (a) gradients against finite differences


@needs_torch
def test_autograd_matches_central_differences(ctx):
    vals = smooth_scene(seed=1)
    W, H = SMALL["width"], SMALL["height"]
    cam = small_camera()
    r = ctx.splat_renderer()
    rng = np.random.default_rng(7)
    w_rgb, w_a, w_d = rng.normal(size=(H, W, 3)), rng.normal(size=(H, W)), rng.normal(size=(H, W))

    def loss64(arrays):
        """The loss of the C forward (float32 images), summed in float64."""
        o = dt.render_splats(*[torch.from_numpy(a) for a in arrays], cam, W, H, outputs=("rgb", "alpha", "depth"),
                             renderer=r)
        return float((o["rgb"].double().numpy() * w_rgb).sum() + (o["alpha"].double().numpy() * w_a).sum()
                     + (o["depth"].double().numpy() * w_d).sum())

    xs = [torch.tensor(v, requires_grad=True) for v in vals]
    o = dt.render_splats(*xs, cam, W, H, outputs=("rgb", "alpha", "depth"), renderer=r)
    a = o["alpha"].detach()
    assert float(a.min()) > 0.1 and float(a.max()) < 0.98  # smooth everywhere, not saturated
    loss = (o["rgb"].double() * torch.from_numpy(w_rgb)).sum() + (o["alpha"].double() * torch.from_numpy(w_a)).sum() \
        + (o["depth"].double() * torch.from_numpy(w_d)).sum()
    loss.backward()
    # steps well above the float32 noise of the loss (relative 1e-7 of ~1e2, over 2 h) and small
    # against the curvature; quaternions, of norm ~2 and weak influence, take a larger one
    for k, name in enumerate(dvren.SPLAT_TENSORS):
        h = 1e-2 if name == "quats" else 4e-3
        g = xs[k].grad.double().numpy().ravel()
        fd = np.zeros_like(g)
        base = vals[k].astype(np.float64).ravel()
        for j in range(base.size):
            arrays = list(vals)
            plus, minus = base.copy(), base.copy()
            plus[j] += h
            minus[j] -= h
            arrays[k] = plus.astype(np.float32).reshape(vals[k].shape)
            lp = loss64(arrays)
            arrays[k] = minus.astype(np.float32).reshape(vals[k].shape)
            lm = loss64(arrays)
            # the step actually taken after rounding to float32
            step = float(np.float32(plus[j])) - float(np.float32(minus[j]))
            fd[j] = (lp - lm) / step
        assert np.linalg.norm(fd) > 1e-2, name  # the check has something to compare
        err = np.linalg.norm(g - fd) / np.linalg.norm(fd)
        assert err < 1e-2, "%s: relative error %.3g\nautograd %s\nfinite differences %s" % (name, err, g, fd)


@needs_torch
def test_torch_gradients_equal_numpy_backward_and_transmittance(ctx):
    """dvren.torch's gradients are SplatRenderer.backward's; a cotangent on
    transmittance acts as minus one on alpha; float64 inputs get float64
    gradients through torch's cast; frozen inputs get none."""
    vals = smooth_scene(seed=2, degree=2)
    W, H = SMALL["width"], SMALL["height"]
    cam = small_camera()
    r = ctx.splat_renderer()
    rng = np.random.default_rng(3)
    c_rgb = rng.normal(size=(H, W, 3)).astype(np.float32)
    c_t = rng.normal(size=(H, W)).astype(np.float32)
    plan = ctx.plan(W, H, cam, outputs=("rgb", "alpha"))
    r.render(*vals, plan)
    ref = r.backward({"rgb": c_rgb, "alpha": -c_t})

    xs = [torch.tensor(v, dtype=torch.float64, requires_grad=(n != "quats"))
          for n, v in zip(dvren.SPLAT_TENSORS, vals)]
    o = dt.render_splats(*xs, cam, W, H, outputs=("rgb", "transmittance"), renderer=r)
    ((o["rgb"] * torch.from_numpy(c_rgb)).sum() + (o["transmittance"] * torch.from_numpy(c_t)).sum()).backward()
    for n, x in zip(dvren.SPLAT_TENSORS, xs):
        if n == "quats":
            assert x.grad is None
            continue
        assert x.grad.dtype == torch.float64 and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.numpy(), ref[n], rtol=1e-5, atol=1e-6, err_msg=n)
        assert np.abs(ref[n]).max() > 1e-3, n


@needs_torch
def test_backward_replays_after_another_render(ctx):
    """Two renders through one renderer, then one backward of both: each
    gradient is that of its own render (the renderer's state is replayed)."""
    a, b = smooth_scene(seed=4), smooth_scene(seed=5)
    W, H = SMALL["width"], SMALL["height"]
    cam = small_camera()
    r = ctx.splat_renderer()
    xa = [torch.tensor(v, requires_grad=True) for v in a]
    xb = [torch.tensor(v, requires_grad=True) for v in b]
    la = dt.render_splats(*xa, cam, W, H, outputs=("rgb",), renderer=r)["rgb"].square().sum()
    lb = dt.render_splats(*xb, cam, W, H, outputs=("rgb",), renderer=r)["rgb"].sum()
    (la + lb).backward()
    for x, vals, lossfn in ((xa, a, lambda o: o.square().sum()), (xb, b, lambda o: o.sum())):
        ys = [torch.tensor(v, requires_grad=True) for v in vals]
        lossfn(dt.render_splats(*ys, cam, W, H, outputs=("rgb",))["rgb"]).backward()  # a fresh default renderer
        for u, v in zip(x, ys):
            torch.testing.assert_close(u.grad, v.grad, rtol=0, atol=0)  # bitwise: deterministic


# ---------------------------------------------------------------- (c) bad inputs


def test_numpy_bad_inputs_name_the_tensor(ctx):
    vals = smooth_scene()
    plan = ctx.plan(16, 12, small_camera(), outputs=("rgb", "alpha"))
    r = ctx.splat_renderer()
    with pytest.raises(dvren.InvalidArgumentError, match="no render to differentiate"):
        r.backward({"rgb": np.zeros((12, 16, 3), np.float32)})

    def bad(k, v, pattern):
        args = list(vals)
        args[k] = v
        with pytest.raises(dvren.InvalidArgumentError, match=pattern):
            r.render(*args, plan)

    bad(0, vals[0].astype(np.float64), r"means: dtype float64, expected float32")
    bad(1, vals[1][:2].copy(), r"log_scales")
    bad(2, vals[2][:, :3].copy(), r"quats must be a contiguous float32 tensor of shape \(N, 4\)")
    bad(3, np.array([0.0, np.nan, 0.0], np.float32), r"opacity_logits of Gaussian 1 is not finite")
    bad(4, np.zeros((3, 5, 3), np.float32), r"sh has shape \(3, 5, 3\)")
    bad(4, np.asfortranarray(np.zeros((3, 4, 3), np.float32)), r"sh: the array must be C-contiguous")
    with pytest.raises(dvren.InvalidArgumentError, match="does not select depth"):
        r.render(*vals, plan, outputs=("depth",))
    with pytest.raises(dvren.InvalidArgumentError, match="splat renders make"):
        r.render(*vals, ctx.plan(16, 12, small_camera(), outputs=("rgb", "hit")))
    with pytest.raises(dvren.InvalidArgumentError, match="alpha_max"):
        ctx.splat_renderer(alpha_max=1.5)
    r.render(*vals, plan)
    with pytest.raises(dvren.InvalidArgumentError, match="no gradient flows through 'samples'"):
        r.backward({"samples": np.zeros((12, 16), np.float32)})
    with pytest.raises(dvren.InvalidArgumentError, match="no parameter 'colours'"):
        r.backward({"rgb": np.zeros((12, 16, 3), np.float32)}, wants=("colours",))
    with pytest.raises(dvren.UnsupportedError):
        r.render(*vals, ctx.plan(16, 12, dvren.Camera.orthographic((0, 0, 0), (0, 0, 1)), outputs=("rgb",)))
    with pytest.raises(dvren.InvalidArgumentError, match="viewmat must be 4x4"):
        dvren.Camera.from_opencv(np.eye(3), np.eye(3))
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.from_opencv(np.diag([1.0, 2.0, 1.0, 1.0]), [[10, 0, 5], [0, 10, 5], [0, 0, 1]])  # not a rotation


@needs_torch
def test_torch_bad_inputs_name_the_tensor(ctx):
    xs = [torch.from_numpy(v) for v in smooth_scene()]
    cam = small_camera()
    r = ctx.splat_renderer()

    def bad(k, v, pattern, cls=dvren.InvalidArgumentError):
        args = list(xs)
        args[k] = v
        with pytest.raises(cls, match=pattern):
            dt.render_splats(*args, cam, 16, 12, renderer=r)

    bad(0, xs[0].long(), r"means has dtype torch.int64")
    bad(3, xs[3].reshape(3, 1)[:2], r"opacity_logits")
    bad(2, xs[2][:, :3], r"quats must be a contiguous float32 tensor of shape \(N, 4\)")
    bad(4, xs[4][:, :3], r"sh has shape \(3, 3, 3\)")
    bad(1, xs[1].numpy(), r"log_scales is a ndarray, expected a torch.Tensor")
    bad(1, torch.full_like(xs[1], float("inf")), r"log_scales of Gaussian 0 is not finite")
    with pytest.raises(dvren.InvalidArgumentError, match="output 'hit'"):
        dt.render_splats(*xs, cam, 16, 12, outputs=("hit",), renderer=r)
    with pytest.raises(dvren.InvalidArgumentError, match="camera is a tuple"):
        dt.render_splats(*xs, (0, 0, 0), 16, 12, renderer=r)
    with pytest.raises(dvren.InvalidArgumentError, match="settings eps2d go to the default renderer"):
        dt.render_splats(*xs, cam, 16, 12, renderer=r, eps2d=0.1)


# ---------------------------------------------------------------- (d) a torch.optim fit


@needs_torch
def test_adam_fit_reduces_l2_loss(ctx):
    W, H = 24, 18
    cam = opencv_camera(18.0, 18.0, 12.0, 9.0)
    truth = smooth_scene(seed=11, n=4)
    truth[1] -= 0.6  # smaller Gaussians: an image with structure
    r = ctx.splat_renderer()
    target = dt.render_splats(*[torch.from_numpy(v) for v in truth], cam, W, H, renderer=r)
    rng = np.random.default_rng(12)
    start = [v + rng.normal(scale=0.15, size=v.shape).astype(np.float32) for v in truth]
    params = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in start]
    opt = torch.optim.Adam(params, lr=0.02)
    losses = []
    for _ in range(30):
        o = dt.render_splats(*params, cam, W, H, renderer=r)
        loss = torch.nn.functional.mse_loss(o["rgb"], target["rgb"]) + \
            torch.nn.functional.mse_loss(o["alpha"], target["alpha"])
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1e-4
    assert losses[-1] < 0.3 * losses[0], losses
    assert sum(b <= a for a, b in zip(losses, losses[1:])) >= 20, losses  # mostly downhill


# ---------------------------------------------------------------- helpers: SH rotation, PLY files


def sh1(n):
    """Band 1 of the real SH basis in 3DGS's order (-C1 y, C1 z, -C1 x)."""
    x, y, z = n
    return np.array([-C1 * y, C1 * z, -C1 * x])


def test_sh_rotation_band1_identity_and_bad_input():
    np.testing.assert_allclose(dvren.sh_rotation(np.eye(3), 2), np.eye(5), atol=1e-12)
    a = 0.7
    R = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    D = dvren.sh_rotation(R, 1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        n = rng.normal(size=3)
        n /= np.linalg.norm(n)
        np.testing.assert_allclose(D @ sh1(n), sh1(R.T @ n), atol=1e-9)  # sum_m D[k, m] b_m(n) = b_k(R^T n)
    with pytest.raises(dvren.InvalidArgumentError, match="degree"):
        dvren.sh_rotation(R, 4)
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.sh_rotation(2.0 * R, 1)


def write_ply(path, rows, rest):
    """A binary little-endian 3DGS PLY: x y z f_dc_0..2 f_rest_0..3K-1 opacity scale_0..2 rot_0..3."""
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"] + ["f_rest_%d" % i for i in range(3 * rest)] + \
        ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    head = "ply\nformat binary_little_endian 1.0\nelement vertex %d\n" % len(rows)
    head += "".join("property float %s\n" % n for n in names) + "end_header\n"
    body = b"".join(struct.pack("<%df" % len(names), *r) for r in rows)
    path.write_bytes(head.encode() + body)
    return names


def test_load_splats_maps_the_ply_layout(tmp_path):
    rest = 3  # SH degree 1: K = 4 coefficients per colour
    rows = []
    for i in range(2):
        rows.append([float(v) for v in [i, 2 * i, 3 * i, 0.1 + i, 0.2 + i, 0.3 + i]
                     + [100 * i + j for j in range(3 * rest)] + [-0.5 * i, -1, -2, -3, 1, 0.1 * i, 0.2, 0.3]])
    p = tmp_path / "two.ply"
    write_ply(p, rows, rest)
    d = dvren.load_splats(p)
    assert d["sh_degree"] == 1
    assert d["sh"].shape == (2, 4, 3) and d["means"].shape == (2, 3) and d["opacity_logits"].shape == (2,)
    for i in range(2):
        np.testing.assert_array_equal(d["means"][i], np.float32([i, 2 * i, 3 * i]))
        np.testing.assert_array_equal(d["sh"][i, 0], np.float32([0.1 + i, 0.2 + i, 0.3 + i]))
        for c in range(3):
            for k in range(rest):  # f_rest channel-major: f_rest_(c K' + k) -> sh[i, 1 + k, c]
                assert d["sh"][i, 1 + k, c] == 100 * i + c * rest + k
        np.testing.assert_array_equal(d["log_scales"][i], np.float32([-1, -2, -3]))
        np.testing.assert_array_equal(d["quats"][i], np.float32([1, 0.1 * i, 0.2, 0.3]))
        assert d["opacity_logits"][i] == np.float32(-0.5 * i)
    # the loaded arrays render as they are
    with dvren.Context("cpu") as c:
        out = c.splat_renderer().render(*[d[k] for k in dvren.SPLAT_TENSORS],
                                        c.plan(8, 8, opencv_camera(8, 8, 4, 4), outputs=("rgb",)))
        assert out["rgb"].shape == (8, 8, 3)
    # trailing bytes: FormatError naming the file, accepted with lenient=True
    p.write_bytes(p.read_bytes() + b"\0" * 7)
    with pytest.raises(dvren.FormatError, match="two.ply.*7 bytes after the last vertex"):
        dvren.load_splats(p)
    assert dvren.load_splats(p, lenient=True)["means"].shape == (2, 3)
    with pytest.raises(dvren.FileError, match="missing.ply"):
        dvren.load_splats(tmp_path / "missing.ply")
