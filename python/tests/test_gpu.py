"""python/tests/test_gpu.py - dvren's CUDA backend with PyTorch: the same
primary context, zero-copy DLPack both ways, work queued on torch's current
stream, float32 GPU gradients against the CPU float64 path, a GPU fit, and
CPU/GPU render parity. Skipped as a whole unless torch sees a GPU and dvren
can make a CUDA context on it."""
import ctypes

import numpy as np
import pytest

import dvren

from helpers import (ROOT, adam_fit_losses, assert_ran, blob_grid, data_dir, diff_scene, oblique_camera, pinhole_rays,
                     require_data, run_python)

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("torch sees no CUDA device", allow_module_level=True)
try:
    dvren.Context("cuda").close()
except dvren.Error as _e:  # noqa: F841
    pytest.skip("dvren cannot make a CUDA context: %s" % _e, allow_module_level=True)

import dvren.torch as dt  # noqa: E402

F = torch.nn.functional
OUTS = ("rgb", "alpha", "depth")
EYE, TARGET, UP, FOV = (2.2, 1.5, 3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), 0.7


@pytest.fixture(scope="module", autouse=True)
def dlpack_export_is_safe():
    """Every GPU result reaches torch through torch.from_dlpack(dvren.Tensor):
    try that once in a subprocess, so that a crash there fails these tests
    with its output instead of ending the whole pytest run."""
    proc = run_python("""
import torch, dvren
ctx = dvren.Context("cuda")
f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1.0])
sc = ctx.scene(f, ctx.shader("emission_absorption", tf_opacity=[0, 1]), ctx.sampler("uniform"))
out = sc.render(ctx.plan(4, 4, dvren.Camera.look_at((0, 0, 3), (0, 0, 0))))
x = torch.from_dlpack(out["rgb"])
del out
torch.cuda.synchronize()
print("OK", float(x.sum()))
""", timeout=300)
    try:
        assert_ran(proc)
    except AssertionError as e:
        pytest.fail("torch.from_dlpack(dvren.Tensor) fails on the GPU: %s" % e)


@pytest.fixture(scope="module")
def gctx():
    c = dt.context("cuda")
    yield c
    torch.cuda.synchronize()
    c.close()


@pytest.fixture(scope="module")
def cctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


def rel_l2(a, b):
    a = torch.as_tensor(a).detach().double().cpu()
    b = torch.as_tensor(b).detach().double().cpu()
    return float((a - b).norm() / b.norm())


# ---------------------------------------------------------------- (a) the primary context


def test_context_is_torchs(gctx):
    torch.zeros(1, device="cuda")  # torch's CUDA is initialised
    torch.cuda.synchronize()
    cuda = ctypes.CDLL("libcuda.so.1")
    cuda.cuCtxGetCurrent.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    cuda.cuCtxGetCurrent.restype = ctypes.c_int
    cur = ctypes.c_void_p()
    assert cuda.cuCtxGetCurrent(ctypes.byref(cur)) == 0
    assert cur.value, "no current CUDA context on this thread after torch initialised CUDA"
    info = gctx.cuda_info()
    assert info["context"] == cur.value
    assert info["device_ordinal"] == torch.cuda.current_device()
    assert info["compute_capability"] == 10 * torch.cuda.get_device_capability()[0] + \
        torch.cuda.get_device_capability()[1]
    assert gctx.device == "cuda" and gctx.device_str == "cuda:%d" % torch.cuda.current_device()


def test_no_cpu_fallback_for_a_missing_gpu():
    with pytest.raises((dvren.NoDeviceError, dvren.InvalidArgumentError)):
        dvren.Context("cuda:%d" % (torch.cuda.device_count() + 7))


# ---------------------------------------------------------------- (b) zero-copy


def test_parameter_and_outputs_are_zero_copy(gctx):
    sc, vals = diff_scene(gctx, n=4, seed=1)
    p = sc.params["field.voxels"]
    v = p.value
    assert isinstance(v, dvren.Tensor) and v.device.startswith("cuda")
    t = torch.from_dlpack(v)
    assert t.is_cuda and t.data_ptr() == v.data_ptr
    assert dt.parameter_tensor(p).data_ptr() == v.data_ptr
    assert t.shape == (4, 4, 4, 4) and t.dtype == torch.float32
    torch.testing.assert_close(t.cpu(), torch.from_numpy(vals.astype(np.float32)))
    plan = gctx.plan(12, 12, oblique_camera(), outputs=("rgb", "alpha"))
    fb = dvren.Framebuffer(plan)
    out = sc.render(plan, fb)
    for name in ("rgb", "alpha"):
        assert isinstance(out[name], dvren.Tensor)
        x = torch.from_dlpack(out[name])
        assert x.is_cuda and x.data_ptr() == out[name].data_ptr
    alpha = torch.from_dlpack(out["alpha"])
    before = alpha.clone()
    assert before.max() > 0.1
    with torch.no_grad():
        t[..., 0] = -30.0  # written by a torch kernel into dvren's memory: no density
    sc.render(plan, fb)
    torch.cuda.synchronize()
    assert alpha.max() < 1e-6, "dvren did not render what torch wrote (or the view is not the framebuffer)"
    np.testing.assert_array_equal(np.asarray(out["alpha"]), alpha.cpu().numpy())


def test_torch_rays_on_the_gpu_are_borrowed(gctx):
    sc, _ = diff_scene(gctx, n=4, seed=2)
    W, H = 16, 12
    rays = torch.from_numpy(pinhole_rays(EYE, TARGET, UP, FOV, W, H)).cuda()
    plan = gctx.plan(W, H, rays=rays)
    assert plan._rays.tensor.data == rays.data_ptr()
    a = torch.from_dlpack(sc.render(plan)["rgb"]).clone()
    rays.copy_(torch.from_numpy(pinhole_rays((-2.5, 0.5, 2.0), TARGET, UP, FOV, W, H)))
    b = torch.from_dlpack(sc.render(plan)["rgb"]).clone()
    assert (a - b).abs().max() > 0.05
    with pytest.raises(dvren.InvalidArgumentError):
        gctx.plan(W, H, rays=rays.t().contiguous().t())


# ---------------------------------------------------------------- (c) streams


def test_render_follows_torchs_stream(gctx):
    sc, _ = diff_scene(gctx, n=6, seed=3)
    model = dt.Renderer(sc)
    W = H = 64
    rays_a = torch.from_numpy(pinhole_rays(EYE, TARGET, UP, FOV, W, H)).cuda()
    rays_b = torch.from_numpy(pinhole_rays((-2.5, 0.5, 2.0), TARGET, UP, FOV, W, H)).cuda()
    rays = rays_b.clone()
    plan = gctx.plan(W, H, rays=rays, outputs=("rgb",))
    with torch.no_grad():
        ref_b = model(plan)["rgb"].clone()
        torch.cuda.synchronize()
        rays.copy_(rays_a)
        ref_a = model(plan)["rgb"].clone()
        torch.cuda.synchronize()
    assert (ref_a - ref_b).abs().max() > 0.05  # the race would be visible
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s), torch.no_grad():
        # the stream is busy for a while (50M cycles, ~25 ms): work queued on any other stream runs first
        torch.cuda._sleep(50_000_000)
        # then a torch kernel writes rays_b into the borrowed rays. Nothing here may make the host wait
        # for the GPU (an allocation, a reduction with out=: torch.amax(..., out=rays) does), or the
        # race window closes and a dvren queued on another stream would pass too. Seen on an H200:
        # dvren on its own stream then renders rays_a.
        rays.copy_(rays_b)
        out = model(plan)["rgb"]
        assert gctx.stream == s.cuda_stream, "dvren does not queue on torch's current stream"
        result = out.clone()
    s.synchronize()
    torch.cuda.synchronize()
    torch.testing.assert_close(result, ref_b, atol=1e-6, rtol=0)
    # back on the default stream, dvren follows again
    with torch.no_grad():
        model(plan)
    assert gctx.stream == torch.cuda.current_stream().cuda_stream


# ---------------------------------------------------------------- (d) GPU gradients


def test_gpu_gradients_match_cpu_float64(gctx, cctx):
    sc_g, vals = diff_scene(gctx, n=4, seed=4)
    sc_c, _ = diff_scene(cctx, n=4, seed=4)
    H = W = 16
    plan_g = gctx.plan(W, H, oblique_camera(), outputs=OUTS)
    plan_c = cctx.plan(W, H, oblique_camera(), outputs=OUTS)
    gen = torch.Generator().manual_seed(5)
    cots = {"rgb": torch.randn(H, W, 3, generator=gen, dtype=torch.float64),
            "alpha": torch.randn(H, W, generator=gen, dtype=torch.float64),
            "depth": torch.randn(H, W, generator=gen, dtype=torch.float64)}
    model = dt.Renderer(sc_g)
    out = model(plan_g, outputs=OUTS)
    sum((out[k] * cots[k].float().cuda()).sum() for k in OUTS).backward()
    g_gpu = model.field_voxels.grad
    assert g_gpu.is_cuda
    x64 = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    o64 = dt.render(sc_c, plan_c, x64, outputs=OUTS)
    sum((o * cots[k]).sum() for o, k in zip(o64, OUTS)).backward()
    assert x64.grad.norm() > 0.1
    assert rel_l2(g_gpu, x64.grad) < 1e-4
    for k, o in zip(OUTS, o64):
        torch.testing.assert_close(out[k].detach().double().cpu(), o.detach(), atol=1e-4, rtol=1e-4)
    # deterministic GPU gradients are bitwise reproducible
    grads = []
    for _ in range(2):
        model.zero_grad()
        out = model(plan_g, outputs=OUTS, deterministic=True)
        sum((out[k] * cots[k].float().cuda()).sum() for k in OUTS).backward()
        grads.append(model.field_voxels.grad.clone())
    assert torch.equal(grads[0], grads[1])


def test_float64_values_are_refused_on_the_gpu(gctx):
    sc, vals = diff_scene(gctx, n=3, seed=6)
    plan = gctx.plan(4, 4, oblique_camera())
    with pytest.raises(dvren.InvalidArgumentError):
        dt.render(sc, plan, torch.tensor(vals, dtype=torch.float64, device="cuda"))
    with pytest.raises(dvren.InvalidArgumentError):
        dt.render(sc, plan, torch.tensor(vals, dtype=torch.float32))  # on the CPU, the scene on the GPU


# ---------------------------------------------------------------- (e) a GPU fit


def test_gpu_adam_fit(gctx):
    n = 8
    target_scene, _ = diff_scene(gctx, n=n, values=blob_grid(n, seed=4))
    cams = [dvren.Camera.look_at(e, (0, 0, 0), (0, 1, 0), 0.8) for e in [(2.2, 1.5, 3.0), (-3.0, 0.5, 1.5)]]
    plans = [gctx.plan(32, 32, c, outputs=("rgb", "alpha")) for c in cams]
    targets = []
    for p in plans:
        t = target_scene.render(p)
        targets.append((torch.from_dlpack(t["rgb"]).clone(), torch.from_dlpack(t["alpha"]).clone()))
    sc, _ = diff_scene(gctx, n=n, values=np.zeros((n, n, n, 4), dtype=np.float32))
    model = dt.Renderer(sc)
    assert model.field_voxels.is_cuda
    losses = adam_fit_losses(model, plans, targets)
    assert losses[0] > 1e-3
    assert losses[-1] < losses[0] / 10, "loss %g -> %g in %d steps" % (losses[0], losses[-1], len(losses))


# ---------------------------------------------------------------- (f) CPU/GPU parity


def test_ct_head_cpu_gpu_parity(monkeypatch):
    require_data("ct_head/quarter.nhdr")
    monkeypatch.setenv("DVREN_DATA", str(data_dir()))
    scene = ROOT / "examples" / "ct_head.json"
    cpu = dvren.load_scene(scene, device="cpu", width=64, height=64)
    gpu = dvren.load_scene(scene, device="cuda", width=64, height=64)
    try:
        assert gpu.context.device == "cuda"
        a = cpu.render()["rgb"]
        g = gpu.render()["rgb"]
        assert isinstance(g, dvren.Tensor)
        b = np.asarray(g)
        assert a.shape == b.shape == (64, 64, 3)
        assert a.max() > 0.1
        assert np.abs(a - b).max() < 1e-4, "max |cpu - gpu| = %g" % np.abs(a - b).max()
    finally:
        cpu.context.close()
        gpu.context.synchronize()
        gpu.context.close()


def test_views_alive_at_interpreter_exit():
    """torch tensors that view dvren's GPU memory may outlive everything, up
    to interpreter shutdown (a Renderer held in a global): their DLPack
    deleter runs then, and must neither crash (a ctypes callback cannot run
    at that point: the deleter is C) nor free dvren's memory twice."""
    proc = run_python("""
import torch, dvren, dvren.torch as dt
ctx = dt.context("cuda")
f = ctx.field("dense_grid", generator="constant", dims=[4, 4, 4], fill=[0.5, 0.1, 0.2, 0.3])
sh = ctx.shader("emission_absorption", mode="channels", activation="softplus", color_activation="sigmoid")
scene = ctx.scene(f, sh, ctx.sampler("uniform", jitter=False), differentiable=True)
MODEL = dt.Renderer(scene)
PLAN = ctx.plan(8, 8, dvren.Camera.look_at((0, 0, 3), (0, 0, 0)), outputs=("rgb", "transmittance"))
OUT = MODEL(PLAN)["rgb"]
OUT.sum().backward()
torch.cuda.synchronize()
print("OK", float(OUT.sum()))
""", timeout=300)
    assert_ran(proc)
