"""python/tests/test_lifetime.py - who keeps what alive: objects collected in
any order, a context closed while views of its memory live, `with` blocks,
DLPack exports that outlive the Python objects. The orders run in
subprocesses, so that a crash (a double free, a use after free that faults)
fails the test with its output instead of killing pytest."""
import gc
import weakref

import numpy as np
import pytest

import dvren

from helpers import assert_ran, run_python

SETUP = """
import gc, sys, itertools, weakref
import numpy as np
import dvren
BOX = [-1, -1, -1, 1, 1, 1]

def build(outputs=("rgb", "alpha")):
    ctx = dvren.Context("cpu")
    f = ctx.field("dense_grid", generator="constant", dims=[3, 3, 3], fill=[0.5, 0.2, 0.4, 0.6], bbox=BOX)
    s = ctx.shader("emission_absorption", mode="channels")
    m = ctx.sampler("uniform", jitter=False)
    sc = ctx.scene(f, s, m, differentiable=True)
    cam = dvren.Camera.look_at((0, 0, 3), (0, 0, 0))
    plan = ctx.plan(8, 8, cam, outputs=outputs)
    fb = dvren.Framebuffer(plan)
    out = sc.render(plan, fb)
    objs = {"ctx": ctx, "field": f, "shader": s, "sampler": m, "scene": sc, "plan": plan, "fb": fb,
            "rgb": out["rgb"], "alpha": out["alpha"], "voxels": sc.params["field.voxels"].value,
            "grad": sc.params["field.voxels"].grad}
    return objs

# what each view must still read: the constant grid's values, and an image that is not empty
def check_views(objs):
    if "voxels" in objs:
        assert np.allclose(objs["voxels"], [0.5, 0.2, 0.4, 0.6]), objs["voxels"]
    if "alpha" in objs:
        assert 0.1 < float(objs["alpha"][4, 4]) < 1.0, objs["alpha"]
"""


def test_collection_orders_do_not_crash():
    """Every object dropped in many orders (all rotations and reversals of
    creation order, views first, context first, ...) with gc.collect() between
    each: the views stay readable while they live, nothing crashes."""
    proc = run_python(SETUP + """
names = list(build().keys())
orders = [names, names[::-1]]
for k in range(1, len(names)):
    orders.append(names[k:] + names[:k])
    orders.append((names[k:] + names[:k])[::-1])
orders.append(["ctx", "scene", "fb", "plan", "field", "shader", "sampler", "rgb", "alpha", "voxels", "grad"])
orders.append(["rgb", "ctx", "voxels", "fb", "scene", "alpha", "plan", "grad", "sampler", "shader", "field"])
import random
rnd = random.Random(5)
for _ in range(20):
    o = list(names)
    rnd.shuffle(o)
    orders.append(o)
for order in orders:
    objs = build()
    for name in order:
        del objs[name]
        gc.collect()
        check_views(objs)
print("OK", len(orders))
""")
    assert_ran(proc)


def test_close_in_any_order_then_collect():
    """close() called on each object in several orders, then everything dropped."""
    proc = run_python(SETUP + """
handles = ["fb", "plan", "scene", "sampler", "shader", "field", "ctx"]
for order in itertools.islice(itertools.permutations(handles), 0, None, 97):
    objs = build()
    for name in order:
        objs[name].close()
        # the parameter views read the field stage's voxel buffer: it must not be freed under them
        assert objs["field"]._ptr is not None, "closing %s freed the field under a parameter view" % name
        check_views(objs)
    objs.clear()
    gc.collect()
print("OK")
""")
    assert_ran(proc)


def test_exit_with_live_objects():
    """The interpreter exits with every object and view alive (module teardown order): no crash, no noise."""
    proc = run_python(SETUP + """
keep = build()
keep2 = build()
keep2["ctx"].close()
cycle = [keep]
cycle.append(cycle)
print("OK")
""")
    assert_ran(proc)


def test_context_close_keeps_viewed_memory_until_the_view_dies():
    ctx = dvren.Context("cpu")
    f = ctx.field("dense_grid", generator="constant", dims=[3, 3, 3], fill=[1.0], bbox=[-1, -1, -1, 1, 1, 1])
    s = ctx.shader("emission_absorption", tf_opacity=[0, 1], sigma_scale=0.5)
    sc = ctx.scene(f, s, ctx.sampler("uniform", jitter=False))
    cam = dvren.Camera.orthographic((0, 0, 3), (0, 0, 0), (0, 1, 0), 1.0)
    plan = ctx.plan(8, 8, cam, outputs=("alpha",))
    out = sc.render(plan)
    view = out["alpha"]
    del out
    expected = 1 - np.exp(-0.5 * 2.0)  # Beer-Lambert through the box
    np.testing.assert_allclose(view, expected, rtol=1e-5)
    ctx.close()
    gc.collect()
    # closed: no new work...
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.threads
    with pytest.raises(dvren.InvalidArgumentError):
        sc.render(plan)
    # ...but the framebuffer the view reads, and the context under it, still exist
    assert ctx._ptr is not None
    junk = [np.full(4096, 7.0) for _ in range(64)]  # reuse of freed memory would show here
    np.testing.assert_allclose(view, expected, rtol=1e-5)
    sub = view[2:4]  # a slice keeps the memory alive too
    del view
    gc.collect()
    assert ctx._ptr is not None
    np.testing.assert_allclose(sub, expected, rtol=1e-5)
    del sub, junk
    gc.collect()
    assert ctx._ptr is None, "the context was not freed after the last view died"


def test_parameter_view_keeps_scene_after_close():
    ctx = dvren.Context("cpu")
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[0.25, 0.5, 0.75, 1.0],
                  bbox=[-1, -1, -1, 1, 1, 1])
    sc = ctx.scene(f, ctx.shader("emission_absorption", mode="channels"), ctx.sampler("uniform"), differentiable=True)
    v = sc.params["field.voxels"].value
    ctx.close()
    assert sc._ptr is not None and ctx._ptr is not None
    # the values live in the field stage's voxel buffer (dense_grid's "voxels"): the stage must
    # outlive the view too, or the view reads freed memory
    assert f._ptr is not None, "ctx.close() freed the field stage whose voxels a parameter view still reads"
    junk = [np.full(1024, 7.0) for _ in range(256)]
    np.testing.assert_array_equal(v[0, 0, 0], [0.25, 0.5, 0.75, 1.0])
    del v, junk
    gc.collect()
    assert sc._ptr is None and f._ptr is None and ctx._ptr is None


def test_stage_close_waits_for_parameter_views():
    """Closing the field stage itself while a parameter view of its voxels lives."""
    ctx = dvren.Context("cpu")
    f = ctx.field("dense_grid", generator="constant", dims=[3, 3, 3], fill=[0.5, 0.2, 0.4, 0.6],
                  bbox=[-1, -1, -1, 1, 1, 1])
    sc = ctx.scene(f, ctx.shader("emission_absorption", mode="channels"), ctx.sampler("uniform"), differentiable=True)
    v = sc.params["field.voxels"].value
    f.close()
    assert f._ptr is not None, "field.close() freed the voxels a parameter view still reads"
    junk = [np.full(1024, 7.0) for _ in range(256)]
    np.testing.assert_allclose(v, np.broadcast_to([0.5, 0.2, 0.4, 0.6], v.shape))
    del v, junk
    ctx.close()


def test_with_blocks():
    with dvren.Context() as ctx:
        with ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1.0]) as f:
            assert f.info["channels"] == 1
        assert f._ptr is None
        assert ctx.threads >= 1
        s = ctx.shader("emission_absorption", tf_opacity=[0, 1])
    assert ctx._ptr is None and s._ptr is None
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.threads


def test_del_without_close_frees():
    """A dropped context with no views is freed at once (CPython refcounting), children first."""
    import weakref
    ctx = dvren.Context()
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1.0])
    rf, rc = weakref.ref(f), weakref.ref(ctx)
    del f
    gc.collect()
    assert rf() is None
    assert rc() is not None and ctx._live == 0
    del ctx
    gc.collect()
    assert rc() is None


def _param_scene(ctx):
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[0.25, 0.5, 0.75, 1.0],
                  bbox=[-1, -1, -1, 1, 1, 1])
    return f, ctx.scene(f, ctx.shader("emission_absorption", mode="channels"), ctx.sampler("uniform"),
                        differentiable=True)


def test_dlpack_export_keeps_scene_alive():
    """torch.from_dlpack of a parameter's value (CPU) shares dvren's memory and
    keeps the scene alive after the Python scene object is dropped."""
    torch = pytest.importorskip("torch")
    ctx = dvren.Context("cpu")
    f, sc = _param_scene(ctx)
    p = sc.params["field.voxels"]
    t = torch.from_dlpack(p.value)
    assert t.data_ptr() == p.value.ctypes.data
    ref = weakref.ref(sc)
    del sc, p, f
    gc.collect()
    assert ref() is not None, "the scene died while a torch tensor views its parameter"
    assert ref()._ptr is not None
    assert torch.equal(t[0, 0, 0], torch.tensor([0.25, 0.5, 0.75, 1.0]))
    t.mul_(2)  # still dvren's memory: the scene reads what torch wrote
    np.testing.assert_array_equal(ref().params["field.voxels"].read()[1, 1, 1], [0.5, 1.0, 1.5, 2.0])
    del t
    gc.collect()
    assert ref() is None, "the scene outlived the last view"
    ctx.close()
    assert ctx._ptr is None


def test_dlpack_export_survives_context_close():
    torch = pytest.importorskip("torch")
    ctx = dvren.Context("cpu")
    f, sc = _param_scene(ctx)
    t = torch.from_dlpack(sc.params["field.voxels"].value)
    ctx.close()  # closes what it can: the viewed scene, and the stage whose memory it is, stay
    gc.collect()
    assert sc._ptr is not None and ctx._ptr is not None
    assert f._ptr is not None, "ctx.close() freed the field stage whose voxels a torch tensor still views"
    junk = [torch.full((4096,), 9.0) for _ in range(64)]
    assert torch.equal(t[1, 0, 1], torch.tensor([0.25, 0.5, 0.75, 1.0])), t
    del t, junk
    gc.collect()
    assert sc._ptr is None and f._ptr is None and ctx._ptr is None


def test_dlpack_capsule_never_consumed_is_released():
    """A dvren.Tensor's capsule dropped without a consumer releases its owner
    token (the capsule's destructor runs during the capsule's deallocation),
    so that close() can free the memory; and one consumed by NumPy releases
    it when NumPy's array dies. In a subprocess: a destructor that mishandles
    the dying capsule crashes the interpreter."""
    proc = run_python("""
import ctypes, gc
import numpy as np
import dvren
from dvren import _capi
from dvren._capi import lib
ctx = dvren.Context()
f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1.0])
sc = ctx.scene(f, ctx.shader("emission_absorption", tf_opacity=[0, 1]), ctx.sampler("uniform"))
plan = ctx.plan(4, 4, dvren.Camera.look_at((0, 0, 3), (0, 0, 0)))
fb = dvren.Framebuffer(plan)
sc.render(plan, fb)
t = _capi.Tensor()
assert lib.dvren_framebuffer_output(fb._p, _capi.OUTPUTS["rgb"], ctypes.byref(t)) == 0
T = dvren.Tensor(t, fb, ctx)
assert fb._exports == 1
cap = T.__dlpack__()
del T
gc.collect()
assert fb._exports == 1, "the capsule no longer holds the memory"
print("dropping an unconsumed capsule", flush=True)
del cap
gc.collect()
assert fb._exports == 0, fb._exports
print("consumed by numpy", flush=True)
T = dvren.Tensor(t, fb, ctx)
a = np.from_dlpack(T)
assert a.ctypes.data == T.data_ptr and a.shape == (4, 4, 3)
del T
gc.collect()
assert fb._exports == 1
del a
gc.collect()
assert fb._exports == 0
ctx.close()
assert fb._ptr is None and ctx._ptr is None
print("OK")
""")
    assert_ran(proc)
