"""python/tests/test_torch.py - dvren.torch on the CPU: torch.autograd.gradcheck
in float64 (central finite differences against dvren's float64 backward),
float32 gradients against the float64 path, a torch.optim fit, gradients
through a torch computation, frozen parameters, bad inputs, deterministic
gradients."""
import numpy as np
import pytest

import dvren

from helpers import BOX, adam_fit_losses, blob_grid, diff_scene, oblique_camera, quantised

torch = pytest.importorskip("torch")
import dvren.torch as dt  # noqa: E402

F = torch.nn.functional
OUTS = ("rgb", "alpha", "depth")


@pytest.fixture
def ctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


def rel_l2(a, b):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).norm() / b.norm())


def random_cotangents(H, W, seed=0, outputs=OUTS):
    g = torch.Generator().manual_seed(seed)
    shapes = {"rgb": (H, W, 3), "alpha": (H, W), "depth": (H, W), "transmittance": (H, W)}
    return {k: torch.randn(shapes[k], generator=g, dtype=torch.float64) for k in outputs}


# ---------------------------------------------------------------- (a) gradcheck, float64


def test_gradcheck_channels_scene(ctx):
    """4 channels (softplus density, sigmoid colour), values on a 2**-10 grid
    so that +-2**-16 stays exact in dvren's float32 storage; no jitter."""
    sc, vals = diff_scene(ctx, n=3, seed=0)
    plan = ctx.plan(6, 6, oblique_camera(), outputs=OUTS, samples_per_ray=12)
    x = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    out = dt.render(sc, plan, x, outputs=OUTS)
    assert [o.dtype for o in out] == [torch.float64] * 3
    assert out[1].max() > 0.3 and out[1].min() < 0.9  # a scene with something to differentiate
    assert torch.autograd.gradcheck(lambda v: dt.render(sc, plan, v, outputs=OUTS), (x,), eps=2 ** -16,
                                    atol=1e-5, rtol=1e-4)


def test_gradcheck_transfer_function_two_inputs(ctx):
    """Transfer-function mode: the voxels and the TF's opacities
    ("shader.tf_opacity", differentiable in emission_absorption) both checked."""
    sc, vals = diff_scene(ctx, n=3, seed=2, tf=True)
    assert list(sc.params) == ["field.voxels", "shader.tf_opacity"]
    plan = ctx.plan(6, 6, oblique_camera(), outputs=OUTS, samples_per_ray=12)
    x = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    tf = torch.tensor([0.25, 1.5, 0.5], dtype=torch.float64, requires_grad=True)
    np.testing.assert_array_equal(sc.params["shader.tf_opacity"].read(), tf.detach().numpy())
    assert torch.autograd.gradcheck(lambda a, b: dt.render(sc, plan, a, b, outputs=OUTS), (x, tf), eps=2 ** -16,
                                    atol=1e-5, rtol=1e-4)
    # the opacity gradient is not trivially zero
    o = dt.render(sc, plan, x, tf, outputs=("alpha",))[0]
    (g,) = torch.autograd.grad(o.sum(), tf)
    assert (g.abs() > 1e-3).any()


def test_float64_forward_matches_float32(ctx):
    sc, vals = diff_scene(ctx, n=4, seed=1)
    plan = ctx.plan(8, 8, oblique_camera(), outputs=OUTS)
    x64 = torch.tensor(vals, dtype=torch.float64)
    x32 = torch.tensor(vals, dtype=torch.float32)
    o64 = dt.render(sc, plan, x64, outputs=OUTS)
    o32 = dt.render(sc, plan, x32, outputs=OUTS)
    for a, b in zip(o32, o64):
        assert a.dtype == torch.float32 and b.dtype == torch.float64
        torch.testing.assert_close(a.double(), b, atol=2e-5, rtol=1e-5)


# ---------------------------------------------------------------- (b) float32 gradients


def test_renderer_float32_gradients_match_float64(ctx):
    sc, vals = diff_scene(ctx, n=4, seed=1)
    H = W = 12
    plan = ctx.plan(W, H, oblique_camera(), outputs=("rgb", "alpha", "depth", "transmittance"))
    model = dt.Renderer(sc)
    assert [n for n, _ in model.named_parameters()] == ["field_voxels"]
    assert model.param("field.voxels") is model.param("field_voxels") is model.field_voxels
    cots = random_cotangents(H, W, seed=3)
    out = model(plan, outputs=OUTS)
    loss = sum((out[k] * cots[k].float()).sum() for k in OUTS)
    loss.backward()
    g32 = model.field_voxels.grad.clone()
    assert g32.dtype == torch.float32 and g32.shape == (4, 4, 4, 4)

    x64 = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    o64 = dt.render(sc, plan, x64, outputs=OUTS)
    sum((o * cots[k]).sum() for o, k in zip(o64, OUTS)).backward()
    assert x64.grad.norm() > 0.1
    assert rel_l2(g32, x64.grad) < 1e-4

    # and the float64 VJP equals Scene.backward_f64 called directly
    g = sc.backward_f64(plan, {k: v.numpy() for k, v in cots.items()})["field.voxels"]
    np.testing.assert_allclose(g, x64.grad.numpy(), rtol=1e-12, atol=1e-14)

    # dvren's own checker agrees: finite differences and the float32 backward
    r = sc.gradcheck(plan, elements=16, seed=5)
    assert r["checked"] > 0 and r["grad_norm"] > 0
    assert r["fd_error"] < 1e-4, r
    assert r["f32_error"] < 1e-4, r


def test_tf_float32_gradients_match_float64(ctx):
    sc, vals = diff_scene(ctx, n=4, seed=4, tf=True)
    H = W = 10
    plan = ctx.plan(W, H, oblique_camera(), outputs=OUTS)
    model = dt.Renderer(sc)
    cots = random_cotangents(H, W, seed=4)
    out = model(plan, outputs=OUTS)
    sum((out[k] * cots[k].float()).sum() for k in OUTS).backward()
    xs = [torch.tensor(p.read(), dtype=torch.float64, requires_grad=True) for p in sc.params.values()]
    o64 = dt.render(sc, plan, *xs, outputs=OUTS)
    sum((o * cots[k]).sum() for o, k in zip(o64, OUTS)).backward()
    for (name, p), x in zip(model.named_parameters(), xs):
        assert rel_l2(p.grad, x.grad) < 1e-4, name


# ---------------------------------------------------------------- (c) a torch.optim fit


def test_adam_fit_reduces_loss_tenfold(ctx):
    n = 6
    target_scene, _ = diff_scene(ctx, n=n, values=blob_grid(n, seed=4))
    cams = [dvren.Camera.look_at(e, (0, 0, 0), (0, 1, 0), 0.8) for e in [(2.2, 1.5, 3.0), (-3.0, 0.5, 1.5)]]
    plans = [ctx.plan(16, 16, c, outputs=("rgb", "alpha")) for c in cams]
    targets = []
    for p in plans:
        t = target_scene.render(p)
        targets.append((torch.from_numpy(t["rgb"].copy()), torch.from_numpy(t["alpha"].copy())))
    sc, _ = diff_scene(ctx, n=n, values=np.zeros((n, n, n, 4), dtype=np.float32))
    model = dt.Renderer(sc)
    losses = adam_fit_losses(model, plans, targets)
    assert losses[0] > 1e-3
    assert losses[-1] < losses[0] / 10, "loss %g -> %g in %d steps" % (losses[0], losses[-1], len(losses))
    # the optimizer moved dvren's own memory (the nn.Parameter shares it): a plain render sees the fit
    plain = sc.render(plans[0])["rgb"]
    assert F.mse_loss(torch.from_numpy(plain), targets[0][0]) < losses[0] / 10


# ---------------------------------------------------------------- (d) values computed by torch


def test_gradients_flow_to_a_torch_computation(ctx):
    sc, vals = diff_scene(ctx, n=4, seed=6)
    H = W = 10
    plan = ctx.plan(W, H, oblique_camera(), outputs=OUTS)
    base = torch.tensor(vals, dtype=torch.float32, requires_grad=True)
    scale = torch.tensor(0.75, requires_grad=True)
    grid = base * scale + 0.125  # not dvren's memory: copied into the scene before the render
    assert grid.data_ptr() != dt.parameter_tensor(sc.params["field.voxels"]).data_ptr()
    cots = random_cotangents(H, W, seed=7)
    out = dt.render(sc, plan, grid, outputs=OUTS)
    # the render used the computed values
    np.testing.assert_array_equal(sc.params["field.voxels"].read(), grid.detach().numpy())
    loss = sum((o * cots[k].float()).sum() for o, k in zip(out, OUTS))
    loss.backward()
    assert base.grad is not None and scale.grad is not None

    # reference: d loss / d grid from the float64 path, then the chain rule by hand
    g64 = torch.tensor(grid.detach().numpy(), dtype=torch.float64, requires_grad=True)
    o64 = dt.render(sc, plan, g64, outputs=OUTS)
    sum((o * cots[k]).sum() for o, k in zip(o64, OUTS)).backward()
    assert rel_l2(base.grad, 0.75 * g64.grad) < 1e-4
    d_scale = float((g64.grad * torch.tensor(vals, dtype=torch.float64)).sum())
    assert abs(float(scale.grad) - d_scale) <= 1e-4 * abs(d_scale)

    # and d loss / d scale by central differences of the float64 render
    def loss64(s):
        v = torch.tensor((vals * s + 0.125).astype(np.float32), dtype=torch.float64)
        o = dt.render(sc, plan, v, outputs=OUTS)
        return float(sum((oo * cots[k]).sum() for oo, k in zip(o, OUTS)))

    h = 2 ** -8
    fd = (loss64(0.75 + h) - loss64(0.75 - h)) / (2 * h)
    assert abs(float(scale.grad) - fd) <= 2e-3 * abs(fd) + 1e-4, (float(scale.grad), fd)


# ---------------------------------------------------------------- (e) frozen parameters, bad inputs


def test_frozen_parameter_gets_no_gradient(ctx):
    sc, _ = diff_scene(ctx, n=3, seed=8, tf=True)
    plan = ctx.plan(8, 8, oblique_camera(), outputs=("rgb", "alpha"))
    model = dt.Renderer(sc, trainable=["field.voxels"])
    assert model.field_voxels.requires_grad and not model.shader_tf_opacity.requires_grad
    out = model(plan, outputs=("rgb", "alpha"))
    (out["rgb"].sum() + out["alpha"].sum()).backward()
    assert model.field_voxels.grad is not None and model.field_voxels.grad.abs().sum() > 0
    assert model.shader_tf_opacity.grad is None
    assert sc.params["shader.tf_opacity"].trainable is False
    # dvren itself accumulated nothing for the frozen parameter
    assert (sc.params["shader.tf_opacity"].read("grad") == 0).all()
    # unfreezing gives it a gradient again
    model.shader_tf_opacity.requires_grad_(True)
    out = model(plan, outputs=("alpha",))
    out["alpha"].sum().backward()
    assert model.shader_tf_opacity.grad is not None and model.shader_tf_opacity.grad.abs().sum() > 0
    assert sc.params["shader.tf_opacity"].trainable is True


def test_render_bad_inputs(ctx):
    sc, vals = diff_scene(ctx, n=3, seed=9)
    plan = ctx.plan(4, 4, oblique_camera(), outputs=("rgb",))
    good = torch.tensor(vals, dtype=torch.float32)
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        dt.render(sc, plan, good[:2])
    assert "field.voxels" in str(ei.value)
    with pytest.raises(dvren.InvalidArgumentError):
        dt.render(sc, plan, torch.zeros(3, 3, 3, 4, device="meta"))
    with pytest.raises(dvren.InvalidArgumentError):
        dt.render(sc, plan)  # one value per parameter
    with pytest.raises(dvren.InvalidArgumentError):
        dt.render(sc, plan, good, good)
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        dt.render(sc, plan, good, outputs=("depth",))  # the plan does not compute depth
    assert "depth" in str(ei.value)
    plain = ctx.scene(sc.field, sc.shader, sc.sampler)  # not differentiable
    with pytest.raises(dvren.InvalidArgumentError):
        dt.render(plain, plan)
    with pytest.raises(dvren.InvalidArgumentError):
        dt.Renderer(plain)
    with pytest.raises(dvren.NotFoundError):
        dt.Renderer(sc).param("shader.nothing")
    # any shape with the right element count is accepted
    (rgb,) = dt.render(sc, plan, good.reshape(-1))
    assert rgb.shape == (4, 4, 3)
    with pytest.raises(dvren.InvalidArgumentError):
        dt.context("meta")


def test_torch_context_cpu():
    c = dt.context("cpu")
    assert c.device == "cpu"
    c.close()


# ---------------------------------------------------------------- (f) deterministic gradients


def test_deterministic_gradients_are_bitwise_reproducible(ctx):
    n = 8
    f = ctx.field("dense_grid", generator="constant", dims=[n, n, n], fill=[0.0] * 4, bbox=BOX)
    sc = ctx.scene(f, ctx.shader("emission_absorption", mode="channels", activation="softplus",
                                 color_activation="sigmoid", sigma_scale=2.0),
                   ctx.sampler("uniform", jitter=True), differentiable=True)
    sc.params["field.voxels"].write(quantised(np.random.default_rng(10), (n, n, n, 4)))
    H = W = 32
    plan = ctx.plan(W, H, oblique_camera(), outputs=("rgb", "alpha"), spp=2, seed=3)
    model = dt.Renderer(sc)
    cots = random_cotangents(H, W, seed=11, outputs=("rgb", "alpha"))

    def grads(deterministic):
        model.zero_grad()
        out = model(plan, outputs=("rgb", "alpha"), deterministic=deterministic)
        (out["rgb"] * cots["rgb"].float()).sum().add((out["alpha"] * cots["alpha"].float()).sum()).backward()
        return model.field_voxels.grad.clone()

    a, b = grads(True), grads(True)
    assert a.abs().sum() > 0
    assert torch.equal(a, b), "deterministic gradients differ between two runs"
    c = grads(False)
    assert rel_l2(c, a) < 1e-5  # the same gradient, up to the order of float additions
