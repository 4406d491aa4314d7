"""python/tests/test_dlpack.py - zero-copy exchange with PyTorch and NumPy on
the CPU: both directions are checked by data pointers against the C
library's own (dvren_scene_param_get, dvren_framebuffer_output), and by
writes on one side that the other side sees."""
import ctypes

import numpy as np
import pytest

import dvren
from dvren import _capi
from dvren._capi import lib

from helpers import BOX, assert_ran, blob_grid, channels_shader, pinhole_rays, run_python

torch = pytest.importorskip("torch")
import dvren.torch as dt  # noqa: E402

EYE, TARGET, UP, FOV = (2.2, 1.5, 3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), 0.7


@pytest.fixture
def ctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


def make_scene(ctx):
    f = ctx.field("dense_grid", data=blob_grid(8), bbox=BOX)
    return ctx.scene(f, channels_shader(ctx), ctx.sampler("uniform", jitter=False), differentiable=True)


def c_param_pointers(scene, index):
    sp = _capi.SceneParam()
    assert lib.dvren_scene_param_get(scene._p, index, ctypes.byref(sp)) == 0
    return sp.value.data, sp.grad.data


def c_output_pointer(fb, name):
    t = _capi.Tensor()
    assert lib.dvren_framebuffer_output(fb._p, _capi.OUTPUTS[name], ctypes.byref(t)) == 0
    return t.data


# ---------------------------------------------------------------- dvren -> torch


def test_parameter_value_shares_memory(ctx):
    sc = make_scene(ctx)
    p = sc.params["field.voxels"]
    c_value, c_grad = c_param_pointers(sc, p.index)
    v = p.value
    assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == p.shape == (8, 8, 8, 4)
    assert v.ctypes.data == c_value
    assert p.grad.ctypes.data == c_grad
    a = torch.from_numpy(p.value)
    b = torch.from_dlpack(p.value)
    c = dt.parameter_tensor(p)
    g = dt.parameter_tensor(p, "grad")
    assert a.data_ptr() == b.data_ptr() == c.data_ptr() == c_value
    assert g.data_ptr() == c_grad


def test_writing_through_torch_changes_the_render(ctx):
    sc = make_scene(ctx)
    plan = ctx.plan(12, 12, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs=("rgb", "alpha"))
    before = sc.render(plan)["alpha"].copy()
    assert before.max() > 0.3
    t = torch.from_dlpack(sc.params["field.voxels"].value)
    with torch.no_grad():
        t[..., 0] = -30.0  # softplus(-30) ~ 1e-13: no density anywhere
    assert sc.params["field.voxels"].read()[3, 4, 5, 0] == -30.0  # dvren's copy-out sees it
    after = sc.render(plan)["alpha"]
    assert after.max() < 1e-9
    t[..., 0] = torch.from_numpy(blob_grid(8)[..., 0])
    np.testing.assert_array_equal(sc.render(plan)["alpha"], before)


def test_render_outputs_share_memory(ctx):
    sc = make_scene(ctx)
    plan = ctx.plan(10, 8, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs=dvren.OUTPUTS)
    fb = dvren.Framebuffer(plan)
    out = sc.render(plan, fb)
    for name in dvren.OUTPUTS:
        assert out[name].ctypes.data == c_output_pointer(fb, name), name
        assert torch.from_numpy(out[name]).data_ptr() == out[name].ctypes.data
        assert torch.from_dlpack(out[name]).data_ptr() == out[name].ctypes.data
    rgb = torch.from_dlpack(out["rgb"])
    first = rgb.clone()
    sc.params["field.voxels"].write(np.zeros((8, 8, 8, 4), dtype=np.float32))  # softplus(0) = ln 2: a fog
    sc.render(plan, fb)
    assert not torch.equal(rgb, first), "the torch view did not see the second render"
    # and torch sees the values dvren computed: alpha = 1 - T in the same framebuffer
    torch.testing.assert_close(torch.from_numpy(out["alpha"]), 1 - torch.from_numpy(out["transmittance"]),
                               atol=1e-6, rtol=0)


def test_torch_render_outputs_are_views_of_dvren_memory(ctx):
    """dvren.torch.render on the CPU returns the framebuffer's memory (float32 path) as torch tensors."""
    sc = make_scene(ctx)
    plan = ctx.plan(6, 6, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs=("rgb", "alpha", "hit"))
    v = dt.parameter_tensor(sc.params["field.voxels"])
    rgb, alpha, hit = dt.render(sc, plan, v, outputs=("rgb", "alpha", "hit"))
    assert rgb.dtype == torch.float32 and rgb.shape == (6, 6, 3)
    assert hit.dtype == torch.uint8 and not hit.requires_grad
    ref = sc.render(plan)
    np.testing.assert_array_equal(rgb.detach().numpy(), ref["rgb"])
    np.testing.assert_array_equal(alpha.detach().numpy(), ref["alpha"])


# ---------------------------------------------------------------- torch -> dvren


def test_from_dlpack_reads_torch_memory(ctx):
    t = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    b = dvren.from_dlpack(t, ctx)
    assert b.tensor.data == t.data_ptr()
    assert b.device == "cpu"
    assert b.tensor.dtype == _capi.DTYPE_F32 and b.tensor.ndim == 3
    assert tuple(b.tensor.shape[:3]) == (2, 3, 4) and tuple(b.tensor.strides[:3]) == (12, 4, 1)
    u = dvren.from_dlpack(torch.zeros(5, dtype=torch.uint8), ctx)
    assert u.tensor.dtype == _capi.DTYPE_U8
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.from_dlpack(torch.zeros(3, dtype=torch.float64), ctx)
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.from_dlpack(torch.zeros(3, dtype=torch.int64), ctx)


def test_torch_rays_are_read_in_place(ctx):
    sc = make_scene(ctx)
    W, H = 12, 10
    rays = torch.from_numpy(pinhole_rays(EYE, TARGET, UP, FOV, W, H)).clone()  # torch's own memory
    plan = ctx.plan(W, H, rays=rays)
    assert plan.rays is rays
    assert plan._rays.tensor.data == rays.data_ptr(), "the plan copied the rays"
    first = sc.render(plan)["rgb"].copy()
    ref = sc.render(ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV)))["rgb"]
    np.testing.assert_allclose(first, ref, atol=1e-5, rtol=0)
    eye2 = (-2.5, 0.5, 2.0)
    rays.copy_(torch.from_numpy(pinhole_rays(eye2, TARGET, UP, FOV, W, H)))  # a torch kernel writes them
    second = sc.render(plan)["rgb"]
    assert np.abs(second - first).max() > 0.05, "the render did not see torch's write"
    ref2 = sc.render(ctx.plan(W, H, dvren.Camera.look_at(eye2, TARGET, UP, FOV)))["rgb"]
    np.testing.assert_allclose(second, ref2, atol=1e-5, rtol=0)


def test_torch_rays_bad(ctx):
    W, H = 4, 4
    good = torch.from_numpy(pinhole_rays(EYE, TARGET, UP, FOV, W, H))
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.plan(W, H, rays=good.t().contiguous().t())  # (W*H, 6) with column-major strides
    assert "contiguous" in str(ei.value)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, rays=torch.cat([good, good], dim=1)[:, ::2])  # every other column
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.plan(W, H, rays=good.double())
    assert "float64" in str(ei.value)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, rays=good.half())
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W + 1, H, rays=good)  # W * H rays are needed


def test_torch_tensor_as_framebuffer_write(ctx):
    plan = ctx.plan(5, 4, dvren.Camera.look_at(EYE, TARGET, UP, FOV))
    fb = dvren.Framebuffer(plan)
    src = torch.linspace(0, 1, 60).reshape(4, 5, 3)
    fb.write("rgb", src)
    np.testing.assert_array_equal(fb.output("rgb"), src.numpy())
    with pytest.raises(dvren.InvalidArgumentError):
        fb.write("rgb", torch.zeros(4, 5, 3, dtype=torch.float64))
    with pytest.raises(dvren.InvalidArgumentError):
        fb.write("rgb", torch.zeros(4, 5, 2))


def test_stage_tensor_parameter_from_numpy_is_copied(ctx):
    """dense_grid's data is copied (its schema says so): changing the array later does not change the field."""
    g = blob_grid(6)
    f = ctx.field("dense_grid", data=g, bbox=BOX)
    before = f.sample([[0, 0, 0]])
    g[...] = 0
    np.testing.assert_array_equal(f.sample([[0, 0, 0]]), before)


# ---------------------------------------------------------------- dvren.Tensor -> consumers (subprocess: a crash fails the test)

TENSOR_SETUP = """
import ctypes, gc
import numpy as np
import dvren
from dvren import _capi
from dvren._capi import lib
ctx = dvren.Context()
f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1.0])
sc = ctx.scene(f, ctx.shader("emission_absorption", tf_opacity=[0, 1]), ctx.sampler("uniform", jitter=False))
plan = ctx.plan(4, 3, dvren.Camera.orthographic((0, 0, 3), (0, 0, 0), (0, 1, 0), 1.0), outputs=("rgb", "alpha"))
fb = dvren.Framebuffer(plan)
sc.render(plan, fb)
t = _capi.Tensor()
assert lib.dvren_framebuffer_output(fb._p, _capi.OUTPUTS["alpha"], ctypes.byref(t)) == 0
T = dvren.Tensor(t, fb, ctx)   # what the GPU path hands out, over host memory here
assert T.device == "cpu" and T.shape == (3, 4) and T.dtype == "float32"
assert T.__dlpack_device__() == (1, 0)
expected = 1 - np.exp(-2.0)
"""


def test_numpy_from_dlpack_of_dvren_tensor():
    proc = run_python(TENSOR_SETUP + """
a = np.from_dlpack(T)
assert a.ctypes.data == T.data_ptr, "numpy copied"
assert a.shape == (3, 4) and a.dtype == np.float32
assert np.allclose(a, expected, rtol=1e-5), a
del a
gc.collect()
print("OK")
""")
    assert_ran(proc)


def test_torch_from_dlpack_of_dvren_tensor():
    proc = run_python(TENSOR_SETUP + """
import torch
x = torch.from_dlpack(T)
assert x.data_ptr() == T.data_ptr, "torch copied"
assert x.shape == (3, 4) and x.dtype == torch.float32
assert torch.allclose(x, torch.full((3, 4), float(expected)), rtol=1e-5), x
del T
gc.collect()
ctx.close()                       # the torch tensor holds the framebuffer
assert fb._ptr is not None and ctx._ptr is not None
assert torch.allclose(x, torch.full((3, 4), float(expected)), rtol=1e-5)
del x
gc.collect()
assert fb._ptr is None and ctx._ptr is None
print("OK")
""")
    assert_ran(proc)
