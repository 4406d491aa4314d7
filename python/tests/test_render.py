"""python/tests/test_render.py - rendering through the Python binding, checked
against the C tool's own output (bitwise), Beer-Lambert (analytic), cameras
and rays rebuilt in NumPy from dvren.h's conventions, and the plan's options
(outputs, roi, spp, seed)."""
import json
import math
import os
import subprocess

import numpy as np
import pytest

import dvren

from helpers import (BOX, ROOT, blob_grid, channels_shader, look_at_matrix, ortho_matrix, perspective_matrix,
                     pinhole_rays, require_data, scene_env)

DVREN_RENDER = ROOT / "build" / "dvren_render"


@pytest.fixture(scope="module")
def ctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


@pytest.fixture(scope="module")
def blob(ctx):
    """A smooth scene (a soft ball, smooth colours), no jitter."""
    f = ctx.field("dense_grid", data=blob_grid(12), bbox=BOX)
    return ctx.scene(f, channels_shader(ctx), ctx.sampler("uniform", jitter=False))


# ---------------------------------------------------------------- (a) parity with dvren_render


def test_ct_head_bitwise_equal_to_dvren_render(tmp_path, monkeypatch):
    require_data("ct_head/quarter.nhdr")
    if not os.access(DVREN_RENDER, os.X_OK):
        pytest.skip("build/dvren_render is missing: run ./build.sh")
    prefix = tmp_path / "ct"
    r = subprocess.run([str(DVREN_RENDER), str(ROOT / "examples" / "ct_head.json"), "--width", "48", "--height", "48",
                        "--npy", str(prefix), "-o", str(tmp_path / "ct.png"), "-q"],
                       cwd=str(ROOT), env=scene_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ref = np.load(str(prefix) + "_rgb.npy")
    ref_alpha = np.load(str(prefix) + "_alpha.npy")
    assert ref.shape == (48, 48, 3) and ref.dtype == np.float32
    monkeypatch.setenv("DVREN_DATA", scene_env()["DVREN_DATA"])
    sf = dvren.load_scene(ROOT / "examples" / "ct_head.json", width=48, height=48)
    try:
        out = sf.render()
        assert sf.plan.width == 48 and sf.plan.height == 48
        assert out["rgb"].shape == (48, 48, 3)
        assert ref.max() > 0.1, "the reference image is empty: the comparison would prove nothing"
        assert np.array_equal(out["rgb"], ref), "max |diff| %g" % np.abs(out["rgb"] - ref).max()
        assert np.array_equal(out["alpha"], ref_alpha)
    finally:
        sf.context.close()


# ---------------------------------------------------------------- (b) Beer-Lambert


@pytest.mark.parametrize("step", [0.0, 0.013, 0.25])
def test_constant_density_beer_lambert(ctx, step):
    """A constant field value v = 0.75 through tf_opacity [(0, 0), (1, 1)]
    (transfer-function mode, opacity "density") and sigma_scale 2 is a
    density sigma = 1.5 / world unit over the box [-1, 1]^3; orthographic
    rays along -z cross L = 2, so T = exp(-sigma L) and alpha = 1 - T;
    with white colour rgb = alpha (black background); the expected depth of
    the weights sigma e^{-sigma (t - t0)} is t0 + 1/sigma - L T / (1 - T).
    A constant medium composites each segment exactly (1 - e^{-sigma dt}),
    so the step does not matter: the only error is float32 rounding over
    the product of at most a few hundred factors (relative 1e-5 of T);
    1e-4 relative leaves room and still fails for any other sigma or L."""
    sigma, L, t0 = 1.5, 2.0, 2.0
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[0.75], bbox=BOX)
    s = ctx.shader("emission_absorption", mode="transfer_function", tf_opacity=[0, 0, 1, 1], sigma_scale=2.0)
    m = ctx.sampler("uniform", jitter=False)
    sc = ctx.scene(f, s, m)
    cam = dvren.Camera.orthographic((0, 0, 3), (0, 0, 0), (0, 1, 0), 1.0)
    plan = ctx.plan(8, 8, cam, outputs=dvren.OUTPUTS, step=step)
    out = sc.render(plan)
    T = math.exp(-sigma * L)
    np.testing.assert_allclose(out["transmittance"], T, rtol=1e-4)
    np.testing.assert_allclose(out["alpha"], 1 - T, rtol=1e-4)
    np.testing.assert_allclose(out["rgb"], np.broadcast_to((1 - T), (8, 8, 3)), rtol=1e-4)
    assert (out["hit"] == 1).all()
    if step and step < 0.02:
        # the depth is a quadrature over the samples: its error shrinks with the step (O(step)),
        # so it is checked on fine steps only (0.013 / 2.6 = 0.5 % of the depth at most)
        depth = t0 + 1 / sigma - L * T / (1 - T)
        np.testing.assert_allclose(out["depth"], depth, rtol=5e-3)


def test_constant_density_depth_fine_step(ctx):
    """The expected depth of Beer-Lambert weights, t0 + 1/sigma - L T / (1 - T),
    on a step of 0.001 (2000 samples): within 1e-3 relative, as tests/test_render.c asks."""
    sigma, L, t0 = 1.5, 2.0, 2.0
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[0.75], bbox=BOX)
    s = ctx.shader("emission_absorption", mode="transfer_function", tf_opacity=[0, 0, 1, 1], sigma_scale=2.0)
    sc = ctx.scene(f, s, ctx.sampler("uniform", jitter=False))
    cam = dvren.Camera.orthographic((0, 0, 3), (0, 0, 0), (0, 1, 0), 1.0)
    out = sc.render(ctx.plan(4, 4, cam, outputs=("depth", "samples"), step=0.001))
    T = math.exp(-sigma * L)
    np.testing.assert_allclose(out["depth"], t0 + 1 / sigma - L * T / (1 - T), rtol=1e-3)
    assert (out["samples"] == 2000).all()  # L / step


def test_constant_density_misses_outside_the_box(ctx):
    """An orthographic view 3 units wide of a box 2 units wide: the columns
    outside |x| > 1 see nothing (alpha 0, hit 0), those inside see 1 - e^{-sigma L}."""
    f = ctx.field("dense_grid", generator="constant", dims=[2, 2, 2], fill=[1.0], bbox=BOX)
    s = ctx.shader("emission_absorption", mode="transfer_function", tf_opacity=[0, 1], sigma_scale=0.5)
    sc = ctx.scene(f, s, ctx.sampler("uniform", jitter=False))
    cam = dvren.Camera.orthographic((0, 0, 3), (0, 0, 0), (0, 1, 0), 3.0)
    out = sc.render(ctx.plan(12, 12, cam, outputs=("alpha", "hit")))
    # pixel centres at x = (i + 0.5) / 12 * 3 - 1.5: inside the box for i = 2..9
    xs = (np.arange(12) + 0.5) / 12 * 3 - 1.5
    inside = np.abs(xs) < 1
    mask = inside[None, :] & inside[:, None]
    np.testing.assert_allclose(out["alpha"][mask], 1 - math.exp(-0.5 * 2.0), rtol=1e-4)
    assert (out["alpha"][~mask] == 0).all()
    assert (out["hit"][~mask] == 0).all() and (out["hit"][mask] == 1).all()


# ---------------------------------------------------------------- (c) dict vs file


def test_load_scene_dict_equals_file(tmp_path):
    scene = {
        "field": {"plugin": "dense_grid", "params": {"generator": "marschner_lobb", "dims": [24, 24, 24]}},
        "shader": {"plugin": "emission_absorption",
                   "params": {"tf_opacity": [[0.2, 0], [0.6, 0.8], [1, 1]], "sigma_scale": 6,
                              "tf_color": [[0, 0.2, 0.4, 1], [1, 1, 0.8, 0.3]]}},
        "sampler": {"plugin": "uniform", "params": {"jitter": True}},
        "camera": {"type": "perspective", "eye": [2.5, 1.0, 2.0], "target": [0, 0, 0], "fov_y_deg": 40},
        "plan": {"width": 20, "height": 16, "spp": 2, "seed": 7, "outputs": ["rgb", "alpha", "depth"]},
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scene))
    a = dvren.load_scene(path)
    b = dvren.load_scene(scene)
    try:
        ra, rb = a.render(), b.render()
        assert set(ra) == set(rb) == {"rgb", "alpha", "depth"}
        assert ra["rgb"].shape == (16, 20, 3)
        assert ra["alpha"].max() > 0.1
        for k in ra:
            assert np.array_equal(ra[k], rb[k]), k
        # and overrides apply to both alike
        c = dvren.load_scene(scene, width=8, height=6, spp=1, seed=3)
        assert (c.plan.width, c.plan.height) == (8, 6)
        assert c.plan.desc.spp == 1 and c.plan.desc.seed == 3
        c.context.close()
    finally:
        a.context.close()
        b.context.close()


def test_load_scene_into_given_context(ctx):
    scene = {"field": {"plugin": "dense_grid", "params": {"generator": "marschner_lobb", "dims": [16, 16, 16]}},
             "shader": {"params": {"tf_opacity": [[0, 0], [1, 4]]}},
             "plan": {"width": 8, "height": 8}}
    sf = dvren.load_scene(scene, context=ctx)
    assert sf.context is ctx
    assert sf.field.name == "dense_grid" and sf.shader.name == "emission_absorption" and sf.sampler.name == "uniform"
    out = sf.render()
    assert out["rgb"].shape == (8, 8, 3)


# ---------------------------------------------------------------- (d) cameras


EYE, TARGET, UP, FOV = (2.2, 1.5, 3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), 0.7


@pytest.mark.parametrize("size", [(24, 16), (16, 16)])
def test_look_at_equals_from_matrices(ctx, blob, size):
    """gluLookAt and gluPerspective matrices (built here in NumPy) give the
    image look_at gives: same rays up to float rounding."""
    W, H = size
    a = blob.render(ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV)))
    cam = dvren.Camera.from_matrices(look_at_matrix(EYE, TARGET, UP), perspective_matrix(FOV, W / H, 0.1, 100.0))
    b = blob.render(ctx.plan(W, H, cam))
    assert a["alpha"].max() > 0.3 and a["alpha"].min() < a["alpha"].max() - 0.2  # not flat: a flip would show
    np.testing.assert_allclose(b["rgb"], a["rgb"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(b["alpha"], a["alpha"], atol=1e-4, rtol=0)


def test_from_matrices_transposed_differs(ctx, blob):
    """The matrices are taken as printed ([row, column]): the transposed view is another camera."""
    W = H = 16
    a = blob.render(ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV)))["rgb"]
    view, proj = look_at_matrix(EYE, TARGET, UP), perspective_matrix(FOV, 1.0, 0.1, 100.0)
    try:
        cam = dvren.Camera.from_matrices(view.T, proj.T)
    except dvren.InvalidArgumentError:
        return  # refused outright is fine too
    b = blob.render(ctx.plan(W, H, cam))["rgb"]
    assert np.abs(a - b).max() > 1e-2


def test_orthographic_camera(ctx, blob):
    """orthographic() equals a glOrtho projection with the same view; its
    rays are parallel: the image of the centred ball is symmetric under a
    left-right flip when looking along an axis."""
    W, H = 20, 20
    eye = (0.0, 0.0, 3.0)
    a = blob.render(ctx.plan(W, H, dvren.Camera.orthographic(eye, (0, 0, 0), (0, 1, 0), 2.4)))
    cam = dvren.Camera.from_matrices(look_at_matrix(eye, (0, 0, 0), (0, 1, 0)),
                                     ortho_matrix(-1.2, 1.2, -1.2, 1.2, 0.0, 10.0))
    b = blob.render(ctx.plan(W, H, cam))
    assert a["alpha"].max() > 0.3
    np.testing.assert_allclose(b["alpha"], a["alpha"], atol=1e-4, rtol=0)
    # the ball's density (channel 0) is symmetric about x = 0: alpha is too
    np.testing.assert_allclose(a["alpha"], a["alpha"][:, ::-1], atol=1e-5)
    cam = dvren.Camera.orthographic(eye, (0, 0, 0), (0, 1, 0), 2.4)
    assert cam.eye == pytest.approx(eye) and cam.forward == pytest.approx((0, 0, -1))


def test_camera_errors():
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.look_at((0, 0, 3), (0, 0, 3))
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.look_at((0, 0, 3), (0, 0, 0), up=(0, 0, 1))  # parallel to the view
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.look_at((0, 0, 3), (0, 0, 0), fov_y=math.pi)
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.orthographic((0, 0, 3), (0, 0, 0), height=0.0)
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.from_matrices(np.zeros((4, 4)), np.eye(4))
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.from_matrices(np.eye(3), np.eye(4))
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.Camera.look_at((0, 0), (0, 0, 0))


# ---------------------------------------------------------------- (e) rays


def test_rays_plan_matches_camera(ctx, blob):
    W, H = 24, 16
    a = blob.render(ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV)))
    rays = pinhole_rays(EYE, TARGET, UP, FOV, W, H)
    plan = ctx.plan(W, H, rays=rays)
    b = blob.render(plan)
    np.testing.assert_allclose(b["rgb"], a["rgb"], atol=1e-5, rtol=0)
    # (H, W, 6) is the same batch
    c = blob.render(ctx.plan(W, H, rays=rays.reshape(H, W, 6)))
    assert np.array_equal(c["rgb"], b["rgb"])


def test_rays_are_borrowed_and_refilled_in_place(ctx, blob):
    """The plan reads the caller's array at each render: refilling it moves the camera."""
    W, H = 16, 12
    rays = pinhole_rays(EYE, TARGET, UP, FOV, W, H)
    plan = ctx.plan(W, H, rays=rays)
    assert plan.rays is rays
    first = blob.render(plan)["rgb"].copy()
    eye2 = (-2.5, 0.5, 2.0)
    rays[...] = pinhole_rays(eye2, TARGET, UP, FOV, W, H)  # in place: same memory
    second = blob.render(plan)["rgb"]
    assert np.abs(second - first).max() > 0.05, "the render did not see the new rays"
    ref = blob.render(ctx.plan(W, H, dvren.Camera.look_at(eye2, TARGET, UP, FOV)))["rgb"]
    np.testing.assert_allclose(second, ref, atol=1e-5, rtol=0)


def test_rays_bad_inputs(ctx):
    W, H = 4, 4
    good = pinhole_rays(EYE, TARGET, UP, FOV, W, H)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, rays=good.astype(np.float64))
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, rays=np.asfortranarray(good))
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, rays=good[:-1])  # one ray short of W * H
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, rays=good.reshape(-1)[: W * H * 5].reshape(W * H, 5))


# ---------------------------------------------------------------- (f) outputs, roi, spp, seed


def test_output_dtypes_and_shapes(ctx, blob):
    W, H = 10, 6
    plan = ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs=dvren.OUTPUTS)
    assert plan.outputs == dvren.OUTPUTS
    out = blob.render(plan)
    want = {"rgb": ((H, W, 3), np.float32), "alpha": ((H, W), np.float32), "depth": ((H, W), np.float32),
            "transmittance": ((H, W), np.float32), "hit": ((H, W), np.uint8), "samples": ((H, W), np.uint32),
            "variance": ((H, W), np.float32), "surface_id": ((H, W), np.uint32),
            "median_depth": ((H, W), np.float32)}
    assert set(out) == set(want)
    assert np.all(out["surface_id"] == dvren.NO_SURFACE)  # a volume has no surfaces (docs/blocks.md)
    assert np.all(out["median_depth"] == 0)  # made by splat renders only (docs/splats.md)
    for name, (shape, dtype) in want.items():
        assert isinstance(out[name], np.ndarray), name
        assert out[name].shape == shape and out[name].dtype == dtype, (name, out[name].shape, out[name].dtype)
        assert out[name].flags.c_contiguous
    # consistency between outputs (black background): alpha = 1 - T; a ray that hits took samples
    np.testing.assert_allclose(out["alpha"], 1 - out["transmittance"], atol=1e-6)
    assert ((out["hit"] == 1) == (out["samples"] > 0)).all()
    assert (out["hit"] == 1).any()
    # a single output, by name
    one = blob.render(ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs="depth"))
    assert set(one) == {"depth"}
    np.testing.assert_array_equal(one["depth"], out["depth"])
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs=("rgb", "normals"))


def test_framebuffer_output_not_in_plan(ctx, blob):
    plan = ctx.plan(4, 4, dvren.Camera.look_at(EYE, TARGET, UP, FOV), outputs=("rgb",))
    fb = dvren.Framebuffer(plan)
    blob.render(plan, fb)
    with pytest.raises(dvren.NotFoundError):
        fb.output("depth")


def test_roi_leaves_other_pixels_zero(ctx, blob):
    W, H = 16, 12
    cam = dvren.Camera.look_at(EYE, TARGET, UP, FOV)
    full = blob.render(ctx.plan(W, H, cam, outputs=dvren.OUTPUTS))
    x, y, w, h = 3, 2, 7, 5
    part = blob.render(ctx.plan(W, H, cam, outputs=dvren.OUTPUTS, roi=(x, y, w, h)))
    inside = np.zeros((H, W), dtype=bool)
    inside[y:y + h, x:x + w] = True
    for name in dvren.OUTPUTS:
        a, b = full[name], part[name]
        assert b.shape == a.shape
        assert (b[~inside] == 0).all(), name
        np.testing.assert_array_equal(b[inside], a[inside], err_msg=name)
    assert part["alpha"][inside].max() > 0.1  # the roi holds part of the ball
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, cam, roi=(10, 0, 10, 4))  # past the right edge


def test_background(ctx, blob):
    W, H = 12, 12
    cam = dvren.Camera.look_at(EYE, TARGET, UP, FOV)
    black = blob.render(ctx.plan(W, H, cam, outputs=("rgb", "transmittance")))
    bg = np.array([0.25, 0.5, 1.0], dtype=np.float32)
    lit = blob.render(ctx.plan(W, H, cam, outputs=("rgb", "transmittance"), background=bg))
    np.testing.assert_allclose(lit["rgb"], black["rgb"] + black["transmittance"][..., None] * bg, atol=1e-6)


def test_spp_and_seed_determinism(ctx):
    f = ctx.field("dense_grid", data=blob_grid(12), bbox=BOX)
    sc = ctx.scene(f, channels_shader(ctx), ctx.sampler("uniform", jitter=True))
    cam = dvren.Camera.look_at(EYE, TARGET, UP, FOV)
    W, H = 16, 16
    a = sc.render(ctx.plan(W, H, cam, spp=4, seed=11))["rgb"]
    b = sc.render(ctx.plan(W, H, cam, spp=4, seed=11))["rgb"]
    c = sc.render(ctx.plan(W, H, cam, spp=4, seed=12))["rgb"]
    assert np.array_equal(a, b), "same seed, different image"
    assert not np.array_equal(a, c), "a different seed gave the same image"
    # spp 4 averages sub-pixel rays: close to, but not the same as, one ray through each centre
    one = sc.render(ctx.plan(W, H, cam, spp=1, seed=11))["rgb"]
    assert not np.array_equal(a, one)
    assert np.abs(a - one).mean() < 0.05
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.plan(W, H, cam, spp=65537)


def test_threads_do_not_change_the_image(ctx, blob):
    cam = dvren.Camera.look_at(EYE, TARGET, UP, FOV)
    plan = ctx.plan(16, 16, cam)
    a = blob.render(plan)["rgb"].copy()
    b = blob.render(plan, threads=1)["rgb"]
    assert np.array_equal(a, b)


def test_progress_and_cancel(ctx, blob):
    plan = ctx.plan(16, 16, dvren.Camera.look_at(EYE, TARGET, UP, FOV))
    seen = []
    blob.render(plan, progress=lambda done, total: seen.append((done, total)) and False)
    assert seen and seen[-1][0] == seen[-1][1] > 0
    with pytest.raises(dvren.CancelledError):
        blob.render(plan, progress=lambda done, total: True)


def test_framebuffer_reuse_updates_views(ctx, blob):
    """Views handed out by a framebuffer see the next render into it (no copies)."""
    cam = dvren.Camera.look_at(EYE, TARGET, UP, FOV)
    plan = ctx.plan(8, 8, cam)
    fb = dvren.Framebuffer(plan)
    out1 = blob.render(plan, fb)
    ref = out1["rgb"].copy()
    assert ref.max() > 0
    fb.write("rgb", np.zeros((8, 8, 3), dtype=np.float32))
    assert (out1["rgb"] == 0).all()
    blob.render(plan, fb)
    assert np.array_equal(out1["rgb"], ref)


def test_field_sample_constant(ctx):
    f = ctx.field("dense_grid", generator="constant", dims=[3, 3, 3], fill=[0.5, -2.0], bbox=BOX)
    v = f.sample([[0, 0, 0], [0.3, -0.7, 0.9]])
    assert v.shape == (2, 2) and v.dtype == np.float32
    np.testing.assert_array_equal(v, [[0.5, -2.0], [0.5, -2.0]])
    info = f.info
    assert info["channels"] == 2
    assert info["bounds_min"] == (-1, -1, -1) and info["bounds_max"] == (1, 1, 1)
    assert info["buffers"]["voxels"][0] == (3, 3, 3, 2)


def test_write_png_roundtrip(tmp_path, ctx, blob):
    out = blob.render(ctx.plan(8, 6, dvren.Camera.look_at(EYE, TARGET, UP, FOV)))
    p = tmp_path / "a.png"
    dvren.write_png(p, out["rgb"], out["alpha"])
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # IHDR: width, height, bit depth 8, colour type 6 (RGBA)
    assert int.from_bytes(data[16:20], "big") == 8 and int.from_bytes(data[20:24], "big") == 6
    assert data[24] == 8 and data[25] == 6
    with pytest.raises(dvren.InvalidArgumentError):
        dvren.write_png(tmp_path / "b.png", out["alpha"])
    with pytest.raises(dvren.FileError):
        dvren.write_png(tmp_path / "no" / "such" / "c.png", out["rgb"])
