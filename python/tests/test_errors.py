"""python/tests/test_errors.py - failing calls raise the dvren.Error subclass of
their C status, carrying the C library's message split into module, message
and hint; bad scene files name the key; no GPU means NoDeviceError (never a
CPU fallback); objects used after close() raise instead of crashing."""
import ctypes
import json

import numpy as np
import pytest

import dvren
from dvren._capi import lib

from helpers import BOX


def cuda_driver_present():
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


@pytest.fixture
def ctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


# ---------------------------------------------------------------- classes and statuses

# the C status (dvren.h), the class, and the Python builtin it also is
CLASSES = [
    (-1, "INVALID_ARGUMENT", "InvalidArgumentError", ValueError),
    (-2, "OUT_OF_MEMORY", "OutOfMemoryError", MemoryError),
    (-3, "IO", "FileError", OSError),
    (-4, "FORMAT", "FormatError", ValueError),
    (-5, "NOT_FOUND", "NotFoundError", LookupError),
    (-6, "PLUGIN", "PluginError", None),
    (-7, "UNSUPPORTED", "UnsupportedError", None),
    (-8, "NO_DEVICE", "NoDeviceError", None),
    (-9, "DEVICE", "DeviceError", None),
    (-10, "COMPILE", "CompileError", None),
    (-11, "CANCELLED", "CancelledError", None),
    (-12, "INTERNAL", "InternalError", None),
]


@pytest.mark.parametrize("code,status,clsname,builtin", CLASSES)
def test_status_classes(code, status, clsname, builtin):
    # the C library's own name for the code
    assert lib.dvren_status_string(code).decode() == "DVREN_ERROR_" + status
    cls = getattr(dvren, clsname)
    assert issubclass(cls, dvren.Error) and issubclass(dvren.Error, RuntimeError)
    if builtin is not None:
        assert issubclass(cls, builtin)
    with pytest.raises(cls) as ei:
        dvren._raise(code, "mod: what happened (hint: do this)")
    e = ei.value
    assert type(e) is cls
    assert (e.code, e.status, e.module, e.message, e.hint) == (code, status, "mod", "what happened", "do this")
    assert str(e) == "mod: what happened (hint: do this)"


def test_error_text_without_module_or_hint():
    e = dvren.Error("just text", -1)
    assert (e.module, e.message, e.hint) == ("", "just text", None)
    e = dvren.Error("m: a (b) c", -3)
    assert (e.module, e.message, e.hint, e.status) == ("m", "a (b) c", None, "IO")


def test_error_from_c_has_the_library_text(ctx):
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.shader("emission_absorption", mode="transfer_function")
    e = ei.value
    assert e.code == -1 and e.status == "INVALID_ARGUMENT"
    assert e.module == "emission_absorption"
    assert "tf_opacity" in e.message
    assert e.hint and "tf_opacity" in e.hint
    # str(e) is the C library's full line, and dvren_last_error(ctx) still holds it
    assert str(e) == lib.dvren_last_error(ctx._p).decode()
    assert str(e) == "%s: %s (hint: %s)" % (e.module, e.message, e.hint)


# ---------------------------------------------------------------- files and scene files


def test_missing_scene_file(tmp_path):
    path = tmp_path / "nowhere" / "scene.json"
    with pytest.raises(dvren.FileError) as ei:
        dvren.load_scene(path)
    e = ei.value
    assert isinstance(e, OSError)
    assert e.status == "IO" and e.code == -3
    assert str(path) in str(e)


def test_missing_volume_file(ctx, tmp_path):
    path = tmp_path / "absent.npy"
    with pytest.raises(dvren.FileError) as ei:
        ctx.field("dense_grid", file=path)
    assert ei.value.module == "dense_grid"
    assert str(path) in ei.value.message
    # and through a scene file: the message names the file and the key
    scene = {"field": {"plugin": "dense_grid", "params": {"file": str(path)}}}
    with pytest.raises(dvren.FileError) as ei:
        dvren.load_scene(scene)
    assert str(path) in str(ei.value) and "field" in str(ei.value)


def test_malformed_volume_file(ctx, tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"not a numpy file")
    with pytest.raises(dvren.FormatError) as ei:
        ctx.field("dense_grid", file=path)
    assert isinstance(ei.value, ValueError)
    assert str(path) in str(ei.value)


def test_scene_json_syntax_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"field": {"plugin": "dense_grid",\n  "params": {"generator": "constant",}}}')
    with pytest.raises(dvren.FormatError) as ei:
        dvren.load_scene(path)
    e = ei.value
    assert isinstance(e, ValueError) and e.status == "FORMAT" and e.code == -4
    assert e.module == str(path)  # "<scene>: <problem>"
    assert "line 2" in e.message


BASE = {"field": {"plugin": "dense_grid", "params": {"generator": "constant", "dims": [2, 2, 2], "fill": [1]}},
        "shader": {"params": {"tf_opacity": [0, 1]}}, "plan": {"width": 4, "height": 4}}


def _with(**blocks):
    s = json.loads(json.dumps(BASE))
    for k, v in blocks.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    return s


def test_base_scene_loads():
    sf = dvren.load_scene(BASE)  # the scene the cases below break loads as it is
    assert sf.render()["rgb"].shape == (4, 4, 3)
    sf.context.close()


@pytest.mark.parametrize("scene,key,words", [
    (_with(plan={"widht": 8}), "plan", ["'widht'", "known:", "width"]),
    (_with(bogus=1), "scene", ["'bogus'", "known:", "field"]),
    (_with(plan={"width": "8"}), "plan", ["'width'", "string"]),
    (_with(plan={"width": 0}), "plan", ["'width'", "1..32768"]),
    (_with(plan={"spp": 1.5}), "plan", ["'spp'"]),
    (_with(camera={"type": "fisheye"}), "camera", ["fisheye"]),
    (_with(shader={"preset": "x"}), "shader.preset", ["'x'", "ct_bone"]),
    (_with(sampler={"params": {"step": 0.01}}), "sampler.params.step", ["unknown parameter", "jitter"]),
    (_with(field=None), "field", []),
])
def test_scene_key_errors(scene, key, words):
    with pytest.raises((dvren.FormatError, dvren.InvalidArgumentError)) as ei:
        dvren.load_scene(scene)
    e = ei.value
    assert isinstance(e, ValueError)
    assert e.module == "<dict>", str(e)
    assert e.message.startswith(key), "the message does not start with the key %r: %s" % (key, e.message)
    for w in words:
        assert w in e.message, (w, e.message)


def test_scene_file_unknown_plugin_names_it():
    with pytest.raises(dvren.Error) as ei:
        dvren.load_scene(_with(field={"plugin": "no_such_field"}))
    assert "no_such_field" in str(ei.value) and "field" in ei.value.message
    assert ei.value.hint  # where to look for plugins


def test_scene_file_errors_keep_their_status(tmp_path):
    """The scene reader keeps the status of a failed dvren call
    (dvren_scenefile.status): an unknown plugin is NotFoundError, a missing
    volume FileError, an out-of-range parameter InvalidArgumentError, and the
    scene's own mistakes FormatError; the message names the key each time."""
    with pytest.raises(dvren.NotFoundError) as ei:
        dvren.load_scene(_with(field={"plugin": "no_such_field"}))
    assert "field" in str(ei.value) and "no_such_field" in str(ei.value)
    with pytest.raises(dvren.FileError) as ei:
        dvren.load_scene(_with(field={"plugin": "dense_grid", "params": {"file": str(tmp_path / "none.nhdr")}}))
    assert "none.nhdr" in str(ei.value)
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        dvren.load_scene(_with(field={"plugin": "dense_grid", "params": {"generator": "constant", "dims": [0, 4, 4]}}))
    assert "dims" in str(ei.value)
    with pytest.raises(dvren.FormatError) as ei:
        dvren.load_scene(_with(field={"plugin": "dense_grid", "parms": {}}))
    assert "parms" in str(ei.value)


# ---------------------------------------------------------------- plugins and parameters


def test_unknown_plugin(ctx):
    with pytest.raises(dvren.NotFoundError) as ei:
        ctx.field("no_such_field")
    e = ei.value
    assert isinstance(e, LookupError) and e.status == "NOT_FOUND" and e.code == -5
    assert "no_such_field" in e.message
    assert e.hint


def test_plugin_of_another_kind(ctx):
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.shader("dense_grid")
    assert "dense_grid" in str(ei.value) and "field" in str(ei.value)


def test_unknown_parameter_lists_known_ones(ctx):
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.field("dense_grid", generator="constant", colour=1)
    e = ei.value
    assert e.module == "dense_grid"
    assert "'colour'" in e.message
    known = e.message.split("known:")[1]
    # docs/scenes.md lists these among dense_grid's parameters
    for name in ("file", "generator", "fill", "dims", "bbox", "spacing", "max_bytes"):
        assert name in known, name


@pytest.mark.parametrize("params,words", [
    (dict(generator="bogus"), ["'generator'", "constant"]),
    (dict(generator="constant", dims=[2, 2]), ["'dims'", "3 numbers"]),
    (dict(generator="constant", fill=[1.0] * 17), ["'fill'", "16"]),
    (dict(generator="constant", dims=[1000, 1000, 1000], max_bytes=1000), ["max_bytes"]),
])
def test_bad_parameter_values(ctx, params, words):
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.field("dense_grid", **params)
    for w in words:
        assert w in str(ei.value), (w, str(ei.value))


def test_parameter_of_unsupported_python_type(ctx):
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.field("dense_grid", generator=object())
    assert "generator" in str(ei.value)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.field("dense_grid", fill=["a", "b"])


def test_tensor_parameter_checks(ctx):
    grid = np.zeros((2, 2, 2), dtype=np.float64)
    with pytest.raises(dvren.InvalidArgumentError):  # float64 is not a dvren dtype: it becomes numbers, refused
        ctx.field("dense_grid", data=grid)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.field("dense_grid", data=np.zeros((4, 4, 4), dtype=np.float32)[:, :, ::2])  # not contiguous
    f = ctx.field("dense_grid", data=np.zeros((2, 3, 4), dtype=np.float32), bbox=BOX)
    assert f.info["buffers"]["voxels"][0] == (2, 3, 4, 1)


# ---------------------------------------------------------------- devices


def test_context_cuda_without_gpu_is_no_device():
    if cuda_driver_present():
        pytest.skip("a CUDA driver is installed: Context('cuda') may succeed here")
    for dev in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(dvren.NoDeviceError) as ei:
            dvren.Context(dev)
        e = ei.value
        assert e.status == "NO_DEVICE" and e.code == -8
        assert e.module == "cuda"
        assert e.hint
    # a scene file that asks for the GPU does not fall back to the CPU either
    with pytest.raises(dvren.NoDeviceError):
        dvren.load_scene(dict(BASE, device="cuda"))
    with pytest.raises(dvren.NoDeviceError):
        dvren.load_scene(BASE, device="cuda")


@pytest.mark.parametrize("dev", ["gpu", "cpu:0", "cuda:x", "CUDA", ""])
def test_context_bad_device_name(dev):
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        dvren.Context(dev)
    assert isinstance(ei.value, ValueError)
    assert repr(dev) in str(ei.value)


def test_context_options(ctx):
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Context(log_level="loud")
    c = dvren.Context(threads=1)
    assert c.threads == 1
    assert c.device == "cpu" and c.device_str == "cpu" and c.stream is None
    c.synchronize()
    with pytest.raises(dvren.InvalidArgumentError):
        c.set_stream(0)  # a CPU context has no stream
    c.close()


def test_load_scene_device_conflicts_with_context(ctx):
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.load_scene(BASE, context=ctx, device="cuda")


def test_log_callback_receives_lines():
    lines = []
    c = dvren.Context(log=lambda level, line: lines.append((level, line)), log_level="debug")
    c.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1])
    c.close()
    assert lines and all(isinstance(l, str) for _, l in lines)
    assert any("dense_grid" in l for _, l in lines)


# ---------------------------------------------------------------- use after close


def test_use_after_close_raises():
    c = dvren.Context()
    f = c.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1])
    s = c.shader("emission_absorption", tf_opacity=[0, 1])
    m = c.sampler("uniform")
    sc = c.scene(f, s, m)
    plan = c.plan(4, 4, dvren.Camera.look_at((0, 0, 3), (0, 0, 0)))
    fb = dvren.Framebuffer(plan)
    sc.render(plan, fb)
    fb.close()
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        sc.render(plan, fb)
    assert "after close" in str(ei.value)
    f.close()
    with pytest.raises(dvren.InvalidArgumentError):
        f.info
    with pytest.raises(dvren.InvalidArgumentError):
        c.scene(f, s, m)
    c.close()
    for call in (lambda: c.threads, lambda: c.field("dense_grid", generator="constant"),
                 lambda: sc.render(plan), lambda: c.plan(4, 4, dvren.Camera.look_at((0, 0, 3), (0, 0, 0))),
                 lambda: dvren.Framebuffer(plan), lambda: s.info, lambda: sc.zero_grad()):
        with pytest.raises(dvren.InvalidArgumentError):
            call()
    c.close()  # twice is fine
    f.close()


def test_scene_of_stages_of_two_contexts(ctx):
    other = dvren.Context()
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1])
    s = ctx.shader("emission_absorption", tf_opacity=[0, 1])
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.scene(f, s, other.sampler("uniform"))
    other.close()


def test_misc_argument_errors(ctx):
    cam = dvren.Camera.look_at((0, 0, 3), (0, 0, 0))
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.plan(8, 8, cam, step=-1)
    assert "step" in str(ei.value)
    with pytest.raises(dvren.InvalidArgumentError) as ei:
        ctx.plan(8, 8)  # no camera, no rays
    assert ei.value.module == "plan" and ei.value.hint
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(0, 8, cam)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(8, 40000, cam)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.stage("mesh", "dense_grid")
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1, 1, 1, 1], bbox=BOX)
    sc = ctx.scene(f, ctx.shader("emission_absorption"), ctx.sampler("uniform"), differentiable=True)
    with pytest.raises(dvren.InvalidArgumentError):
        sc.params["field.voxels"].write(np.zeros(5))
    with pytest.raises(dvren.NotFoundError):
        sc.tv("field.nothing", 1.0)
    with pytest.raises(dvren.InvalidArgumentError):
        sc.optimizer("lbfgs")
    with pytest.raises(dvren.InvalidArgumentError):
        sc.optimizer("adam", learning_rate=0.1)
    plan = ctx.plan(4, 4, cam)
    with pytest.raises(dvren.InvalidArgumentError):
        sc.backward(plan, {"hit": np.zeros((4, 4), dtype=np.float32)})
    with pytest.raises(dvren.InvalidArgumentError):
        sc.backward_f64(plan, {"rgb": np.zeros(5)})


def test_checkpoint_errors(ctx, tmp_path):
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1, 1, 1, 1], bbox=BOX)
    sc = ctx.scene(f, ctx.shader("emission_absorption"), ctx.sampler("uniform"), differentiable=True)
    with pytest.raises(dvren.FileError) as ei:
        sc.load_checkpoint(tmp_path / "none.ckpt")
    assert str(tmp_path / "none.ckpt") in str(ei.value)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage" * 20)
    with pytest.raises(dvren.FormatError):
        sc.load_checkpoint(bad)
    # a good round trip, for contrast
    sc.params["field.voxels"].write(np.arange(32, dtype=np.float32))
    sc.save_checkpoint(tmp_path / "good.ckpt")
    sc.params["field.voxels"].write(np.zeros(32, dtype=np.float32))
    sc.load_checkpoint(tmp_path / "good.ckpt")
    np.testing.assert_array_equal(sc.params["field.voxels"].read().ravel(), np.arange(32))


def test_nerf_views_missing(tmp_path):
    with pytest.raises(dvren.FileError) as ei:
        dvren.load_nerf_views(tmp_path / "transforms.json", 8)
    assert str(tmp_path / "transforms.json") in str(ei.value)


def test_torch_context_without_gpu_is_no_device():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    import dvren.torch as dt
    with pytest.raises(dvren.NoDeviceError):
        dt.context("cuda")
