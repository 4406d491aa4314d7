"""python/tests/test_foveate.py - foveated rendering from Python (issue 11,
item 7): plans with per-pixel budgets (spp_map, step_map) against plans
with one spp everywhere, pixel by pixel and bit for bit; the variance output;
importance post-processing and budgets against NumPy references written here
from dvren.h's documentation (>>foveate); saliency models through the mock
plugin (tests/mock_plugins/mock_saliency.c) and the shipped ones; errors;
and the three-stage pipeline (dvren.foveate) on a small scene."""
import builtins
import json
import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import dvren

from helpers import BOX, ROOT, blob_grid, channels_shader, diff_scene, oblique_camera

W, H = 24, 16


@pytest.fixture(scope="module")
def ctx():
    with dvren.Context("cpu", threads=2) as c:
        yield c


@pytest.fixture(scope="module")
def scene(ctx):
    """A smooth blob (dense_grid from NumPy), shaded channels, a jittered
    uniform sampler: with jitter, more rays per pixel change the pixel."""
    f = ctx.field("dense_grid", data=blob_grid(12), bbox=BOX)
    return ctx.scene(f, channels_shader(ctx, sigma_scale=2.0), ctx.sampler("uniform", jitter=True))


def plan(ctx, **kw):
    kw.setdefault("samples_per_ray", 24)
    kw.setdefault("seed", 7)
    kw.setdefault("outputs", dvren.OUTPUTS)
    return ctx.plan(W, H, oblique_camera(), **kw)


def bits(a):
    """The bits of an output, for exact comparison (NaN == NaN, -0 != +0)."""
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 1: np.uint8}[a.dtype.itemsize])


def pixels(out):
    """Per output, an (H*W, k) array of bits: one row per pixel."""
    return {n: bits(v).reshape(H * W, -1) for n, v in out.items()}


# ---------------------------------------------------------------- budgets in the plan


def test_spp_map_pixels_equal_uniform_plans(ctx, scene):
    """A pixel given k rays by spp_map renders bit for bit as in a plan with spp = k (every output)."""
    levels = (1, 3, 8)
    rng = np.random.default_rng(3)
    spp = np.array(levels, dtype=np.uint32)[(np.arange(W) * 3 // W)][None, :].repeat(H, 0)
    spp[rng.random((H, W)) < 0.2] = 8  # scattered pixels of another level inside the bands
    out = pixels(scene.render(plan(ctx, spp_map=spp)))
    assert set(out) == set(dvren.OUTPUTS)
    for k in levels:
        ref = pixels(scene.render(plan(ctx, spp=k)))
        sel = (spp == k).ravel()
        assert sel.any()
        for name in out:
            bad = np.flatnonzero(sel & (out[name] != ref[name]).any(axis=1))
            assert bad.size == 0, "%s: %d pixels with %d rays differ from the spp %d plan, first (%d, %d)" % (
                name, bad.size, k, k, bad[0] % W, bad[0] // W)
    # the budget shows in the samples: 8 rays march more than 1
    samples = scene.render(plan(ctx, spp_map=spp))["samples"]
    assert samples[spp == 8].mean() > 4 * samples[spp == 1].mean()


def test_spp_map_other_integer_dtypes_and_copies(ctx, scene):
    spp = np.full((H, W), 2, dtype=np.int64)
    spp[:, : W // 2] = 5
    p = plan(ctx, spp_map=spp, outputs=("rgb",))
    got = p.spp_map
    assert got.dtype == np.uint32 and got.shape == (H, W) and (got == spp).all()
    assert p.step_map is None and plan(ctx).spp_map is None
    assert p.camera.eye == oblique_camera().eye and p.camera.forward == oblique_camera().forward
    assert ctx.plan(4, 1, rays=np.zeros((4, 6), np.float32)).camera is None
    first = scene.render(p)["rgb"].copy()
    spp[:] = 1  # the plan copied the map at creation
    assert (bits(scene.render(p)["rgb"]) == bits(first)).all()


def test_step_map(ctx, scene):
    """step_map 1 changes nothing; 2 halves the samples of each ray."""
    base = plan(ctx, spp=2, min_transmittance=-1.0)  # every ray marches its whole chord
    a = scene.render(base)
    b = scene.render(plan(ctx, spp=2, min_transmittance=-1.0, step_map=np.ones((H, W))))  # float64: converted
    c = scene.render(plan(ctx, spp=2, min_transmittance=-1.0, step_map=np.full((H, W), 2, np.float32)))
    for name in a:
        assert (bits(a[name]) == bits(b[name])).all(), name
    na, nc = int(a["samples"].sum()), int(c["samples"].sum())
    assert na > 1000
    assert abs(nc / na - 0.5) < 0.03, (nc, na)


def test_budget_plan_is_forward_only(ctx):
    sc, _ = diff_scene(ctx)
    p = ctx.plan(6, 4, oblique_camera(), spp_map=np.full((4, 6), 2, np.uint32), outputs=("rgb",))
    sc.render(p)
    with pytest.raises(dvren.UnsupportedError):
        sc.backward(p, {"rgb": np.ones((4, 6, 3), np.float32)})


# ---------------------------------------------------------------- the variance output


def test_variance_output(ctx, scene):
    """(H, W) float32; 0 with one ray; >= 0, and falling about as 1/n with n rays."""
    one = scene.render(plan(ctx, spp=1, outputs=("rgb", "variance")))
    assert set(one) == {"rgb", "variance"}
    v1 = one["variance"]
    assert v1.shape == (H, W) and v1.dtype == np.float32
    assert (v1 == 0).all()
    v16 = scene.render(plan(ctx, spp=16, outputs="variance"))["variance"].astype(np.float64)
    v64 = scene.render(plan(ctx, spp=64, outputs="variance"))["variance"].astype(np.float64)
    assert (v16 >= 0).all() and np.isfinite(v16).all()
    assert v16.sum() > 0
    assert 0.15 < v64.sum() / v16.sum() < 0.4
    fb = dvren.Framebuffer(plan(ctx, outputs=("rgb", "variance")))
    assert fb.outputs == ("rgb", "variance")
    assert fb.output("variance").shape == (H, W)


# ---------------------------------------------------------------- post-processing: NumPy reference


def max_filter(a, k, op):
    """Max (op np.max) or min over a k x k square, borders replicated."""
    r = k // 2
    p = np.pad(a, r, mode="edge")
    return op(np.lib.stride_tricks.sliding_window_view(p, (k, k)), axis=(-2, -1))


def gaussian_blur(a, k):
    """Separable Gaussian, OpenCV's sigma for a k-tap kernel, borders
    reflected without the edge pixel (BORDER_REFLECT_101 = NumPy's "reflect")."""
    r = k // 2
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-x * x / (2 * sigma * sigma))
    g /= g.sum()
    p = np.pad(a.astype(np.float64), ((0, 0), (r, r)), mode="reflect")
    a = np.lib.stride_tricks.sliding_window_view(p, k, axis=1) @ g
    p = np.pad(a, ((r, r), (0, 0)), mode="reflect")
    return np.lib.stride_tricks.sliding_window_view(p, k, axis=0) @ g


def ref_postprocess(m, lo=2.0, hi=98.0, gamma=1.0, close=5, blur=15):
    m = m.astype(np.float64)
    ql, qh = np.percentile(m, [lo, hi])
    v = np.clip((m - ql) / (qh - ql), 0, 1) if qh > ql else np.ones_like(m)
    v = v ** gamma
    if close > 1:
        v = max_filter(max_filter(v, close, np.max), close, np.min)
    if blur > 1:
        v = gaussian_blur(v, blur)
    mx = v.max()
    return np.clip(v / mx, 0, 1) if mx > 0 else v


def test_postprocess_defaults_come_from_c():
    import inspect
    sig = inspect.signature(dvren.importance_postprocess).parameters
    assert [sig[k].default for k in ("percentile_lo", "percentile_hi", "gamma", "close_size", "blur_size")] \
        == [2.0, 98.0, 1.0, 5, 15]
    sig = inspect.signature(dvren.importance_budget).parameters
    assert [sig[k].default for k in ("min_spp", "max_spp", "mean_spp", "max_step_scale", "quantile_lo",
                                     "quantile_hi", "gamma")] == [1, 64, 0.0, 2.0, 0.2, 0.8, 2.2]


def saliency_like(h, w, seed=0):
    """A smooth map with two blobs, a small hole and noise (float32)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    m = np.exp(-((x - 0.3 * w) ** 2 + (y - 0.4 * h) ** 2) / (0.02 * w * h))
    m += 0.6 * np.exp(-((x - 0.75 * w) ** 2 + (y - 0.7 * h) ** 2) / (0.01 * w * h))
    m[int(0.4 * h), int(0.3 * w)] = 0.0  # a hole the closing fills
    m += 0.05 * rng.random((h, w))
    return m.astype(np.float32)


@pytest.mark.parametrize("kw", [{}, dict(percentile_lo=10, percentile_hi=90, gamma=2.0, close_size=3, blur_size=7),
                                dict(gamma=0.5, close_size=0, blur_size=1), dict(close_size=9, blur_size=0),
                                dict(percentile_lo=0, percentile_hi=100, close_size=1, blur_size=21)])
def test_postprocess_matches_numpy(kw):
    m = saliency_like(37, 53)
    got = dvren.importance_postprocess(m, **kw)
    assert got.shape == m.shape and got.dtype == np.float32
    ref = ref_postprocess(m, *[kw.get(k, d) for k, d in (("percentile_lo", 2.0), ("percentile_hi", 98.0),
                                                         ("gamma", 1.0), ("close_size", 5), ("blur_size", 15))])
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6)
    assert got.max() == 1.0 and got.min() >= 0.0


def test_postprocess_flat_map_and_conversions(ctx):
    assert (dvren.importance_postprocess(np.full((5, 7), 0.3)) == 1).all()  # float64 in: converted; flat: all 1
    m = saliency_like(20, 30)
    a = dvren.importance_postprocess(m, ctx=ctx)
    b = dvren.importance_postprocess(m.astype(np.float64).tolist())  # nested lists too
    assert (bits(a) == bits(b)).all()
    assert (m == saliency_like(20, 30)).all()  # the input is not touched


# ---------------------------------------------------------------- budgets: NumPy reference


def bilinear(m, w, h):
    """m resampled to (h, w), pixel centres aligned, borders clamped."""
    ih, iw = m.shape
    sy = np.clip((np.arange(h) + 0.5) * ih / h - 0.5, 0, ih - 1)
    sx = np.clip((np.arange(w) + 0.5) * iw / w - 0.5, 0, iw - 1)
    y0, x0 = sy.astype(int), sx.astype(int)
    y1, x1 = np.minimum(y0 + 1, ih - 1), np.minimum(x0 + 1, iw - 1)
    fy, fx = (sy - y0)[:, None], (sx - x0)[None, :]
    m = m.astype(np.float64)
    top = (1 - fx) * m[y0][:, x0] + fx * m[y0][:, x1]
    bot = (1 - fx) * m[y1][:, x0] + fx * m[y1][:, x1]
    return ((1 - fy) * top + fy * bot).astype(np.float32)


def ref_budget(imp, w, h, min_spp=1, max_spp=64, mean_spp=0.0, max_step_scale=2.0, quantile_lo=0.2,
               quantile_hi=0.8, gamma=2.2):
    m = bilinear(imp, w, h) if imp.shape != (h, w) else imp.astype(np.float32)
    lo, hi = np.quantile(m.astype(np.float64), [quantile_lo, quantile_hi])
    u = np.clip((m - lo) / (hi - lo), 0, 1) if hi > lo else np.ones(m.shape)
    u = (u ** gamma).astype(np.float32).astype(np.float64)  # the C keeps the weight as float32
    coverage = u.mean()
    peak = float(max_spp)
    if mean_spp > 0 and coverage > 0:
        peak = min_spp + (mean_spp - min_spp) / coverage
    peak = np.floor(min(max(peak, min_spp), max_spp) + 0.5)
    spp = np.floor(min_spp + (peak - min_spp) * u + 0.5).astype(np.uint32)
    step = (1 + (max_step_scale - 1) * (1 - u)).astype(np.float32)
    return spp, step, dict(lo=lo, hi=hi, coverage=coverage, peak_spp=int(peak), rays=int(spp.sum()),
                           mean_spp=spp.mean(), effective_samples=float((spp / step.astype(np.float64)).sum()))


@pytest.mark.parametrize("size,kw", [
    ((40, 30), {}),
    ((40, 30), dict(min_spp=2, max_spp=32, mean_spp=6, max_step_scale=4, quantile_lo=0.1, quantile_hi=0.9, gamma=1)),
    ((90, 60), dict(max_spp=16, mean_spp=3, gamma=2.2)),  # the map resampled to a larger image
    ((17, 13), dict(max_step_scale=1)),                   # ... and to a smaller one
])
def test_budget_matches_numpy(size, kw):
    imp = dvren.importance_postprocess(saliency_like(30, 40, seed=1), blur_size=5)
    w, h = size
    spp, step, st = dvren.importance_budget(imp, w, h, **kw)
    assert spp.shape == step.shape == (h, w) and spp.dtype == np.uint32 and step.dtype == np.float32
    rspp, rstep, rst = ref_budget(imp, w, h, **kw)
    # rounding of a weight that sits on .5 may go either way: allow a handful of pixels off by one
    diff = spp.astype(np.int64) - rspp
    assert np.abs(diff).max() <= 1 and np.count_nonzero(diff) <= max(2, spp.size // 500), np.count_nonzero(diff)
    np.testing.assert_allclose(step, rstep, rtol=0, atol=1e-5)
    for k in ("lo", "hi", "coverage"):
        assert st[k] == pytest.approx(rst[k], abs=2e-6), k
    assert st["peak_spp"] == rst["peak_spp"]
    assert st["rays"] == int(spp.sum())
    assert st["mean_spp"] == pytest.approx(spp.mean())
    assert st["effective_samples"] == pytest.approx(float((spp / step.astype(np.float64)).sum()), rel=1e-9)
    lo, hi = kw.get("min_spp", 1), kw.get("max_spp", 64)
    assert spp.min() >= lo and spp.max() <= hi


def test_budget_flat_map_and_render(ctx, scene):
    spp, step, st = dvren.importance_budget(np.full((4, 4), 0.5, np.float32), W, H, max_spp=3)
    assert (spp == 3).all() and (step == 1).all() and st["coverage"] == 1.0
    imp = dvren.importance_postprocess(saliency_like(H, W), blur_size=3)
    spp, step, st = dvren.importance_budget(imp, W, H, max_spp=6, mean_spp=2)
    out = scene.render(plan(ctx, spp_map=spp, step_map=step, outputs=("rgb", "samples")))
    assert np.isfinite(out["rgb"]).all()
    assert st["rays"] == spp.sum() and 1 <= st["peak_spp"] <= 6


# ---------------------------------------------------------------- errors


def test_plan_map_errors(ctx):
    ok = np.ones((H, W), np.uint32)
    cases = [
        (dict(spp_map=np.ones((H, W))), ["spp_map", "float64"]),
        (dict(spp_map=ok.astype(bool)), ["spp_map", "bool"]),
        (dict(spp_map=np.ones((W, H), np.uint32)), ["spp_map", "shape (%d, %d)" % (W, H), "(%d, %d)" % (H, W)]),
        (dict(spp_map=ok.ravel()), ["spp_map", "shape"]),
        (dict(spp_map=np.full((H, W), -1, np.int32)), ["spp_map", "-1"]),
        (dict(spp_map=np.where(np.arange(W)[None, :] == 5, 0, ok).astype(np.uint32)), ["spp_map", "pixel (5, 0)"]),
        (dict(spp_map=np.full((H, W), 70000, np.uint32)), ["spp_map", "70000"]),
        (dict(step_map=np.ones((H, W), np.complex64)), ["step_map", "complex64"]),
        (dict(step_map=np.ones((H, W + 1), np.float32)), ["step_map", "shape"]),
        (dict(step_map=np.full((H, W), 0.5, np.float32)), ["step_map", "pixel (0, 0)", "0.5"]),
        (dict(spp_map="many"), ["spp_map", "str"]),
    ]
    for kw, words in cases:
        with pytest.raises(dvren.InvalidArgumentError) as e:
            plan(ctx, **kw)
        for word in words:
            assert word in str(e.value), (kw, str(e.value))


def test_postprocess_and_budget_errors():
    m = saliency_like(10, 12)
    cases = [
        (lambda: dvren.importance_postprocess(m[None]), ["map", "shape (1, 10, 12)"]),
        (lambda: dvren.importance_postprocess(m.astype(np.complex64)), ["map", "complex64"]),
        (lambda: dvren.importance_postprocess(m, blur_size=4), ["blur_size = 4"]),
        (lambda: dvren.importance_postprocess(m, close_size=2.5), ["close_size"]),
        (lambda: dvren.importance_postprocess(m, percentile_lo=60, percentile_hi=40), ["lo = 60", "hi = 40"]),
        (lambda: dvren.importance_postprocess(m, gamma=0), ["gamma"]),
        (lambda: dvren.importance_postprocess(np.where(np.arange(12) == 3, np.nan, m), ), ["not finite", "pixel (3, 0)"]),
        (lambda: dvren.importance_budget(m, 8, 6, min_spp=9, max_spp=4), ["min_spp = 9"]),
        (lambda: dvren.importance_budget(m * 2, 8, 6), ["importance at pixel", "is in [0, 1]"]),
        (lambda: dvren.importance_budget(m, 0, 6), ["width = 0"]),
        (lambda: dvren.importance_budget(m, 8, 6, mean_spp="a lot"), ["mean_spp"]),
        (lambda: dvren.importance_budget(m, 8, 6, quantile_lo=0.9, quantile_hi=0.1), ["quantiles"]),
        (lambda: dvren.importance_budget(m, 8, 6, max_step_scale=100), ["max_step_scale"]),
        (lambda: dvren.importance_budget(m, 8, 6, ctx="cpu"), ["ctx"]),
    ]
    for call, words in cases:
        with pytest.raises(dvren.InvalidArgumentError) as e:
            call()
        for word in words:
            assert word in str(e.value), str(e.value)


def test_timeout_error_class():
    assert issubclass(dvren.TimeoutError, dvren.Error)
    assert issubclass(dvren.TimeoutError, builtins.TimeoutError)
    e = dvren.TimeoutError("external: ran past 1 s", -13)
    assert e.status == "TIMEOUT" and e.module == "external"
    with pytest.raises(dvren.TimeoutError):
        dvren._raise(-13, "x: y")


def test_unknown_saliency_model(ctx):
    with pytest.raises(dvren.NotFoundError) as e:
        ctx.saliency("no_such_model")
    assert "no_such_model" in str(e.value)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.stage("saliencies", "x")
    # a field is not a saliency model
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.saliency("uniform")


# ---------------------------------------------------------------- saliency through the mock model


def mock_library():
    d = os.environ.get("DVREN_TEST_MOCK_DIR") or str(ROOT / os.environ.get("DVREN_BUILD", "build") / "tests" / "mock")
    p = Path(d) / "mock_saliency.so"
    if not p.is_file():
        pytest.skip("the mock saliency plugin %s is not built (tests/run.sh builds it)" % p)
    return p


@pytest.fixture(scope="module")
def mock_ctx():
    lib = mock_library()
    with dvren.Context("cpu", threads=2) as c:
        c.load_plugin(lib)
        yield c


def luma_ref(rgb, alpha=None):
    rgb = rgb.astype(np.float32)
    y = np.float32(0.2126) * rgb[..., 0] + np.float32(0.7152) * rgb[..., 1] + np.float32(0.0722) * rgb[..., 2]
    y = np.clip(y, 0, 1)
    return y * alpha if alpha is not None else y


def test_mock_model_compute(mock_ctx):
    rng = np.random.default_rng(5)
    rgb = rng.random((6, 9, 3)).astype(np.float32)
    alpha = rng.random((6, 9)).astype(np.float32)
    model = mock_ctx.saliency("mock_saliency")
    assert isinstance(model, dvren.SaliencyModel) and model.kind == "saliency"
    m = model.compute(rgb, alpha)
    assert m.shape == (6, 9) and m.dtype == np.float32
    np.testing.assert_allclose(m, luma_ref(rgb, alpha), rtol=1e-6, atol=1e-7)
    # depth and variance are not asked for: the host withholds them (the mock fails if it gets them)
    m2 = model.compute(rgb.astype(np.float64), alpha, depth=np.ones((6, 9)), variance=np.zeros((6, 9)))
    assert (bits(m2) == bits(m)).all()
    np.testing.assert_allclose(model.compute(rgb), luma_ref(rgb), rtol=1e-6, atol=1e-7)
    # the same model through Context.stage and a context that finds the library on its plugin path
    assert isinstance(mock_ctx.stage("saliency", "mock_saliency"), dvren.SaliencyModel)
    with dvren.Context("cpu", plugin_path=str(mock_library().parent)) as c2:
        assert (bits(c2.saliency("mock_saliency").compute(rgb, alpha)) == bits(m)).all()


def test_mock_model_on_a_framebuffer(mock_ctx):
    f = mock_ctx.field("dense_grid", data=blob_grid(10), bbox=BOX)
    sc = mock_ctx.scene(f, channels_shader(mock_ctx, sigma_scale=2.0), mock_ctx.sampler("uniform", jitter=True))
    p = mock_ctx.plan(W, H, oblique_camera(), spp=2, samples_per_ray=16, outputs=("rgb", "alpha", "variance"))
    fb = dvren.Framebuffer(p)
    out = sc.render(p, fb)
    model = mock_ctx.saliency("mock_saliency")
    m = model.compute_framebuffer(fb)
    assert m.shape == (H, W) and m.dtype == np.float32
    np.testing.assert_allclose(m, luma_ref(out["rgb"], out["alpha"]), rtol=1e-6, atol=1e-7)
    assert (bits(m) == bits(model.compute(out["rgb"], out["alpha"], variance=out["variance"]))).all()
    assert m.max() > 0
    with pytest.raises(dvren.InvalidArgumentError):
        model.compute_framebuffer(out)  # a dict of arrays, not a framebuffer
    no_rgb = dvren.Framebuffer(mock_ctx.plan(4, 4, oblique_camera(), outputs="alpha"))
    with pytest.raises(dvren.InvalidArgumentError) as e:
        model.compute_framebuffer(no_rgb)
    assert "rgb" in str(e.value)


def test_mock_model_errors(mock_ctx, tmp_path):
    rgb = np.full((4, 5, 3), 0.5, np.float32)
    model = mock_ctx.saliency("mock_saliency")
    cases = [
        (lambda: model.compute(rgb[..., 0]), ["rgb", "shape (4, 5)", "(H, W, 3)"]),
        (lambda: model.compute((rgb * 255).astype(np.uint8)), ["rgb", "uint8"]),
        (lambda: model.compute(rgb, np.ones((5, 4))), ["alpha", "shape (5, 4)", "(4, 5)"]),
        (lambda: model.compute(rgb, depth=np.ones((4, 5), np.int32)), ["depth", "int32"]),
        (lambda: model.compute(np.zeros((0, 5, 3), np.float32)), ["rgb", "shape"]),
    ]
    for call, words in cases:
        with pytest.raises(dvren.InvalidArgumentError) as e:
            call()
        for word in words:
            assert word in str(e.value), str(e.value)
    with pytest.raises(dvren.PluginError) as e:
        mock_ctx.saliency("mock_saliency", mode="bad").compute(rgb)
    assert "wrote 2 at pixel (1, 0)" in str(e.value)
    with pytest.raises(dvren.FileError) as e:
        mock_ctx.saliency("mock_saliency", mode="fail").compute(rgb)
    assert "model.bin" in e.value.message and e.value.hint == "a hint"
    with pytest.raises(dvren.InvalidArgumentError) as e:
        mock_ctx.saliency("mock_saliency", mode="sideways")
    assert "mode" in str(e.value)
    # a model that reads the image file
    fm = mock_ctx.saliency("mock_saliency_file")
    with pytest.raises(dvren.InvalidArgumentError) as e:
        fm.compute(rgb)
    assert "image_path" in str(e.value)
    png = tmp_path / "preview.png"
    dvren.write_png(png, rgb)
    assert (fm.compute(rgb, image_path=png) == 1).all()  # a PathLike
    other = tmp_path / "not_a_png.txt"
    other.write_text("hello")
    assert (fm.compute(rgb, image_path=str(other)) == 0).all()


# ---------------------------------------------------------------- the shipped models


def shipped(ctx, name, **params):
    try:
        return ctx.saliency(name, **params)
    except dvren.NotFoundError as e:
        pytest.skip("the %s plugin is not in this build: %s" % (name, e))


def square_image(h=64, w=96):
    """A bright square on a dim, slightly textured background (linear RGB)."""
    rng = np.random.default_rng(2)
    rgb = np.full((h, w, 3), 0.05, np.float32) + 0.01 * rng.random((h, w, 3), dtype=np.float32)
    rgb[20:36, 60:76] = (0.9, 0.8, 0.6)
    return rgb


def test_spectral_residual_finds_the_square(ctx):
    model = shipped(ctx, "spectral_residual")
    rgb = square_image()
    m = model.compute(rgb)
    assert m.shape == (64, 96) and m.dtype == np.float32
    assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    near = m[14:42, 54:82].mean()
    far = np.concatenate([m[:, :30].ravel(), m[50:, :].ravel()]).mean()
    assert near > 3 * far, (near, far)


def test_render_error_follows_the_variance(ctx):
    model = shipped(ctx, "render_error")
    h, w = 32, 48
    rgb = np.full((h, w, 3), 0.5, np.float32)
    var = np.full((h, w), 1e-6, np.float32)
    var[8:16, 30:40] = 1e-2  # noisy there
    m = model.compute(rgb, alpha=np.ones((h, w), np.float32), depth=np.full((h, w), 2.0, np.float32), variance=var)
    assert m.shape == (h, w) and np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    assert m[8:16, 30:40].mean() > 5 * m[20:, :20].mean()


def test_external_model(ctx, tmp_path):
    script = tmp_path / "model.py"
    script.write_text(textwrap.dedent("""\
        import sys
        import numpy as np
        image, output, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        assert open(image, "rb").read(4) == b"\\x89PNG", image
        np.save(output, np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1)))
    """))
    cmd = "%s %s {image} {output} {width} {height}" % (sys.executable, script)
    model = shipped(ctx, "external", command=cmd, timeout=60)
    rgb = square_image(8, 12)
    png = tmp_path / "preview.png"
    dvren.write_png(png, rgb)
    m = model.compute(rgb, image_path=png)
    np.testing.assert_allclose(m, np.tile(np.linspace(0, 1, 12), (8, 1)), atol=1e-6)
    with pytest.raises(dvren.InvalidArgumentError):
        model.compute(rgb)  # it needs the file
    slow = shipped(ctx, "external", command="sleep 5; true {output}", timeout=0.3)
    with pytest.raises(builtins.TimeoutError) as e:
        slow.compute(rgb, image_path=png)
    assert isinstance(e.value, dvren.TimeoutError) and e.value.status == "TIMEOUT"


# ---------------------------------------------------------------- on the GPU (skipped without one)


@pytest.fixture(scope="module")
def gpu():
    """A CUDA context and torch, or a skip saying which is missing."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    try:
        c = dvren.Context("cuda")
    except dvren.Error as e:
        pytest.skip("dvren cannot make a CUDA context: %s" % e)
    yield c, torch
    torch.cuda.synchronize()
    c.close()


def test_gpu_saliency_reads_cuda_tensors(gpu, ctx):
    """CUDA tensors are read in place (memory DEVICE) and give the map that
    host input gives on the same GPU context; the GPU model agrees with the
    CPU one to float rounding."""
    g, torch = gpu
    model = shipped(g, "render_error")
    h, w = 32, 48
    rgb = np.full((h, w, 3), 0.5, np.float32)
    rgb[4:12, 5:20] = 0.9
    alpha = np.ones((h, w), np.float32)
    alpha[:, :4] = 0
    depth = np.full((h, w), 2.0, np.float32)
    var = np.full((h, w), 1e-6, np.float32)
    var[8:16, 30:40] = 1e-2
    host = model.compute(rgb, alpha, depth, var)
    dev = [torch.from_numpy(a).cuda() for a in (rgb, alpha, depth, var)]
    m = model.compute(*dev)
    assert m.shape == (h, w) and m.dtype == np.float32
    np.testing.assert_allclose(m, host, rtol=0, atol=1e-6)  # the same kernels on the same input
    np.testing.assert_allclose(m, shipped(ctx, "render_error").compute(rgb, alpha, depth, var), atol=1e-5)
    with pytest.raises(dvren.InvalidArgumentError) as e:
        model.compute(dev[0], alpha)  # device rgb, host alpha
    assert "alpha" in str(e.value) and "memory" in str(e.value)
    with pytest.raises(dvren.InvalidArgumentError) as e:
        model.compute(dev[0].double())
    assert "float64" in str(e.value)


def test_gpu_budget_plan_and_framebuffer(gpu, ctx, scene):
    """A per-pixel budget on the GPU renders what the CPU renders (to float
    rounding; the same samples), and a GPU framebuffer feeds a model where it is."""
    g, torch = gpu
    f = g.field("dense_grid", data=blob_grid(12), bbox=BOX)
    gscene = g.scene(f, channels_shader(g, sigma_scale=2.0), g.sampler("uniform", jitter=True))
    spp = np.array((1, 3, 8), dtype=np.uint32)[(np.arange(W) * 3 // W)][None, :].repeat(H, 0)
    step = np.where(spp == 1, 2.0, 1.0).astype(np.float32)
    kw = dict(samples_per_ray=24, seed=7, spp_map=spp, step_map=step, outputs=("rgb", "alpha", "samples", "variance"))
    gp = g.plan(W, H, oblique_camera(), **kw)
    fb = dvren.Framebuffer(gp)
    out = gscene.render(gp, fb)
    assert isinstance(out["rgb"], dvren.Tensor)
    cpu = scene.render(ctx.plan(W, H, oblique_camera(), **kw))
    assert (np.asarray(out["samples"]) == cpu["samples"]).all()
    for name in ("rgb", "alpha", "variance"):
        assert np.abs(np.asarray(out[name]) - cpu[name]).max() < 1e-4, name
    model = shipped(g, "render_error")
    m = model.compute_framebuffer(fb)
    ref = model.compute(fb.host("rgb"), fb.host("alpha"), variance=fb.host("variance"))
    np.testing.assert_allclose(m, ref, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- the pipeline


def foveate_scene(tmp_path):
    """A small scene file with a volume from NumPy-free generators: the
    procedural "peer" grid, so that the test needs no data."""
    scene = {
        "device": "cpu",
        "field": {"plugin": "dense_grid", "params": {"generator": "peer", "dims": [24, 20, 18]}},
        "shader": {"plugin": "emission_absorption", "params": {"mode": "channels", "sigma_scale": 2.0}},
        "sampler": {"plugin": "uniform", "params": {"jitter": True}},
        "camera": {"type": "perspective", "eye": [1.5, 1.2, 2.2], "target": [0, 0, 0], "up": [0, 1, 0], "fov_y_deg": 50},
        "plan": {"width": 64, "height": 48, "samples_per_ray": 24, "seed": 3},
    }
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(scene))
    return path


def need_pipeline():
    if not dvren.FOVEATE_AVAILABLE:
        pytest.skip("the package was built without the pipeline (OpenEXR's C API, libopenexr-dev, was not found)")


def test_foveate_all_stages(tmp_path):
    need_pipeline()
    out = tmp_path / "out"
    r = dvren.foveate(foveate_scene(tmp_path), out, preview_size=32, preview_spp=4, max_spp=8, blur=5,
                      models=["render_error"], quiet=True)
    files = set(os.listdir(out))
    for f in ("preview.png", "preview_rgb.npy", "preview_alpha.npy", "preview_depth.npy", "preview_variance.npy",
              "user_importance.npy", "user_importance_mask.exr", "user_importance_preview.png", "final.png",
              "final_spp.png", "final_budget.json", "dvren_pipeline.log"):
        assert f in files, (f, sorted(files))
    imp = np.load(out / "user_importance.npy")
    assert imp.dtype == np.float32 and imp.ndim == 2 and imp.shape[0] % 16 == 0 and imp.shape[1] % 16 == 0
    assert imp.min() >= 0 and imp.max() <= 1
    assert set(r) >= {"out", "ms", "budget"}
    assert set(r["ms"]) == {"preview", "saliency", "final"}
    assert 1 <= r["budget"]["peak_spp"] <= 8 and r["budget"]["rays"] >= 64 * 48
    log = (out / "dvren_pipeline.log").read_text()
    for tag in ("[step]", "[env]", "[timer]", "[OK]"):
        assert tag in log, tag
    # the same budget from Python's own functions
    spp, step, st = dvren.importance_budget(imp, 64, 48, max_spp=8)
    assert st["rays"] == r["budget"]["rays"]


def test_foveate_stages_and_errors(tmp_path):
    need_pipeline()
    scene = foveate_scene(tmp_path)
    out = tmp_path / "o"
    with pytest.raises(dvren.NotFoundError) as e:  # saliency without a preview: nothing made, nothing written
        dvren.foveate(scene, out, stage="saliency", quiet=True)
    assert "preview" in str(e.value) and not out.exists()
    with pytest.raises(dvren.InvalidArgumentError) as e:
        dvren.foveate(scene, out, blur=4, quiet=True)
    assert "blur" in str(e.value) and not out.exists()
    with pytest.raises(dvren.InvalidArgumentError) as e:
        dvren.foveate(scene, out, no_such_key=1, quiet=True)
    assert "no_such_key" in str(e.value)
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.foveate(scene, out, stage="everything", quiet=True)
    with pytest.raises(dvren.NotFoundError) as e:
        dvren.foveate(scene, out, models=["no_such_model"], quiet=True)
    assert "no_such_model" in str(e.value) and not out.exists()
    r = dvren.foveate(scene, out, stage="preview", preview_size=32, quiet=True)
    assert set(r["ms"]) == {"preview"} and (out / "preview.png").exists() and not (out / "final.png").exists()
    r = dvren.foveate(scene, out, stage="saliency", preview_size=32, models=["render_error"], blur=3, quiet=True)
    assert (out / "user_importance.npy").exists() and not (out / "final.png").exists()
    r = dvren.foveate(scene, out, stage="final", max_spp=4, quiet=True, exr=True)
    assert (out / "final.png").exists() and (out / "final.exr").exists() and r["budget"]["peak_spp"] <= 4


def test_foveate_cuda_without_gpu(tmp_path):
    need_pipeline()
    try:
        dvren.Context("cuda").close()
        pytest.skip("a GPU is present: this test is for machines without one")
    except dvren.NoDeviceError:
        pass
    out = tmp_path / "g"
    with pytest.raises(dvren.NoDeviceError):
        dvren.foveate(foveate_scene(tmp_path), out, device="cuda", quiet=True)
    assert not out.exists()


def test_foveate_external_model_timeout(tmp_path):
    """An external model whose program never ends (tests/saliency/sleeper.py):
    killed after its 1 s timeout, with its child, and the run fails with
    dvren.TimeoutError (the status the job records), leaving no saliency file."""
    need_pipeline()
    sleeper = ROOT / "tests" / "saliency" / "sleeper.py"
    pidfile = tmp_path / "sleeper.pid"
    scene = json.loads(foveate_scene(tmp_path).read_text())
    scene["foveate"] = {"models": [{"name": "external", "params": {
        "command": "'%s' '%s' {output} '%s'" % (sys.executable, sleeper, pidfile), "timeout": 1}}]}
    out = tmp_path / "t"
    t0 = time.monotonic()
    with pytest.raises(builtins.TimeoutError) as e:
        dvren.foveate(scene, out, preview_size=32, quiet=True)
    assert time.monotonic() - t0 < 30
    assert isinstance(e.value, dvren.TimeoutError) and e.value.status == "TIMEOUT", e.value
    assert "external" in str(e.value) and "sleeper.py" in str(e.value), str(e.value)
    assert (out / "preview.png").exists()  # the preview stage had finished
    assert not any((out / f).exists() for f in dvren.ARTEFACTS["saliency"] + dvren.ARTEFACTS["final"])
    assert "[ERROR]" in (out / "dvren_pipeline.log").read_text()
    if pidfile.exists() and pidfile.read_text().strip():  # the sleeper's child dies with it
        pid = int(pidfile.read_text())
        for _ in range(200):
            if not process_alive(pid):
                break
            time.sleep(0.01)
        assert not process_alive(pid), "the model's child %d still runs" % pid


def process_alive(pid):
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
