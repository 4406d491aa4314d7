"""python/tests/test_register.py - image registration from Python (issue
13, item 7): Context.registration / RegistrationModel.register and
dvren.register over dvren_register (dvren.h >>register) and the
"phase_correlation" plugin, on NumPy arrays.

Expected shifts come from how the test images are made, never from dvren:
np.roll moves the content by whole pixels (a roll by (sy, sx) registers as
(dy, dx) = (-sy, -sx): reference(y, x) ~ moving(y - dy, x - dx)), a
Fourier phase ramp by a fraction of a pixel. The real images (the PPM
frames, the 16-bit PNG mosaic) are decoded by tests/image_io.py, pure
Python, and the frame pair's shift is the data README's fact. Also: the table's fields and
report, every input dtype and layout, smaller batches under a memory
limit, and the errors."""
import math
import sys

import numpy as np
import pytest

import dvren

from helpers import ROOT, require_data

sys.path.insert(0, str(ROOT / "tests"))
from image_io import read_png, read_pnm  # noqa: E402  (tests/image_io.py: the shared pure-Python readers)

# Fujifilm's X-Trans cell as dvren.h documents dvren_cfa_xtrans_default: colour of (y % 6, x % 6), 0 R 1 G 2 B
XTRANS = np.array([["RGB".index(c) for c in row] for row in
                   ("GBGGRG", "RGRBGB", "GBGGRG", "GRGGBG", "BGBRGR", "GRGGBG")], dtype=np.uint8)


def read_ppm(path):
    """A binary PPM (P6, maxval < 256; '#' comments in the header) as (H, W, 3) uint8."""
    w, h, c, maxval, samples = read_pnm(path)
    assert c == 3 and maxval < 256
    return np.frombuffer(samples, np.uint8).reshape(h, w, 3)


def read_png16(path):
    """A non-interlaced 16-bit grey PNG as (H, W) uint16."""
    w, h, c, maxval, samples = read_png(path)
    assert (c, maxval) == (1, 65535)
    return np.frombuffer(samples, ">u2").reshape(h, w).astype(np.uint16)


def fourier_shift(img, sy, sx):
    """img (H, W) moved by (sy, sx) pixels (down, right) as a band-limited
    periodic signal: the phase ramp exp(-2 pi i (fy sy + fx sx))."""
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.fftfreq(img.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(img) * np.exp(-2j * np.pi * (fy * sy + fx * sx)))).astype(np.float32)


@pytest.fixture(scope="module")
def ctx():
    with dvren.Context("cpu", threads=2) as c:
        yield c


@pytest.fixture(scope="module")
def frame10():
    return read_ppm(require_data("registration/frame10.ppm"))


@pytest.fixture(scope="module")
def bayer():
    return read_png16(require_data("registration/bayer_small.png"))


ROLLS = [(5, -7), (-12, 3), (0, 20), (1, 1)]


def test_model_and_table(ctx, frame10):
    model = ctx.registration(method="integer")
    assert isinstance(model, dvren.RegistrationModel) and model.kind == "registration"
    assert isinstance(ctx.stage("registration", "phase_correlation"), dvren.RegistrationModel)
    t = model.register(frame10, [np.roll(frame10, s, (0, 1)) for s in ROLLS])
    assert isinstance(t, dvren.RegistrationTable) and t.shape == (len(ROLLS),)
    assert t.dtype.names == ("dy", "dx", "peak", "confidence", "dy_r", "dx_r", "dy_g", "dx_g", "dy_b", "dx_b",
                             "peak_r", "peak_g", "peak_b", "cfa_dy", "cfa_dx", "cfa_aligned")
    want = -np.array(ROLLS, dtype=np.float64)
    np.testing.assert_array_equal(t["dy"], want[:, 0])
    np.testing.assert_array_equal(t["dx"], want[:, 1])
    for c in "rgb":  # RGB: one plane per channel, each rolled alike
        np.testing.assert_array_equal(t["dy_" + c], want[:, 0])
        np.testing.assert_array_equal(t["dx_" + c], want[:, 1])
        assert np.all(t["peak_" + c] > 0.3)
    np.testing.assert_array_equal(t["cfa_dy"], want[:, 0])
    assert t["cfa_aligned"].all()
    assert np.all((t["confidence"] > 0.5) & (t["confidence"] <= 1))
    r = t.report
    assert r["batch_size"] == len(ROLLS) and r["batches"] == 1
    assert r["peak_bytes"] > 0 and r["limit_bytes"] >= r["peak_bytes"] and r["milliseconds"] > 0
    assert (r["cfa"], r["period"], r["planes"], r["plane_width"], r["plane_height"]) == ("none", 1, 3, 640, 480)
    rows = t.rows()
    assert rows[0]["dy"] == -5.0 and rows[0]["dx"] == 7.0 and rows[0]["cfa_aligned"] is True
    assert t[1:].report == r  # slices keep the report


def test_exact_without_window(ctx, frame10):
    """A circular roll is an exact delta of height 1 in the correlation
    (without a window, and with epsilon 0 in the normalisation): the
    upsampled refinement lands on the integer."""
    grey = frame10.mean(axis=2).astype(np.float32)
    t = ctx.registration(window="none", epsilon=0).register(grey, np.stack([np.roll(grey, s, (0, 1)) for s in ROLLS]))
    np.testing.assert_allclose(t["dy"], [-s[0] for s in ROLLS], atol=1e-6)
    np.testing.assert_allclose(t["dx"], [-s[1] for s in ROLLS], atol=1e-6)
    np.testing.assert_allclose(t["peak"], 1, atol=1e-3)
    assert np.isnan(t["dy_r"]).all() and t.rows()[0]["dy_g"] is None  # grey: no colours


@pytest.mark.parametrize("method", ["integer", "parabolic", "upsampled"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_dtypes_and_methods(ctx, frame10, method, dtype):
    grey = frame10.mean(axis=2)
    img = (grey * 257).astype(np.uint16) if dtype == "uint16" else grey.astype(dtype)
    t = ctx.registration(method=method).register(img, [np.roll(img, s, (0, 1)) for s in ROLLS[:2]])
    tol = 0 if method == "integer" else 0.02
    np.testing.assert_allclose(t["dy"], [-5, 12], atol=tol)
    np.testing.assert_allclose(t["dx"], [7, -3], atol=tol)


def test_grey_flag(ctx, frame10):
    t = ctx.registration(method="integer").register(frame10, np.roll(frame10, (3, -2), (0, 1)), grey=True)
    assert (t["dy"][0], t["dx"][0]) == (-3, 2)
    assert t.report["planes"] == 1 and np.isnan(t["dy_g"][0])


def test_frame_pair(ctx, frame10):
    """../shared/data/README.md: on grey the integer peak is (3, 1), and (-3, -1) swapped."""
    f11 = read_ppm(require_data("registration/frame11.ppm"))
    m = ctx.registration(method="integer", window="none", epsilon=0)  # as the README computes it
    t = m.register(frame10, [f11], grey=True)
    assert (t["dy"][0], t["dx"][0]) == (3, 1)
    assert abs(t["peak"][0] - 0.086) < 0.01  # "only about 0.086"
    t = m.register(f11, frame10, grey=True)
    assert (t["dy"][0], t["dx"][0]) == (-3, -1)
    t = ctx.registration(method="integer", window="none").register(frame10, f11, grey=True)  # the default epsilon
    assert (t["dy"][0], t["dx"][0]) == (3, 1)
    # The motion is not a pure shift: under the Hann window (the default) the frame's centre
    # dominates and the integer peak is (0, -2), height about 0.158 without epsilon (NumPy:
    # np.hanning(480) x np.hanning(640) on both grey frames, the same normalised cross-power)
    t = ctx.registration(method="integer", epsilon=0).register(frame10, f11, grey=True)
    assert (t["dy"][0], t["dx"][0]) == (0, -2)
    assert abs(t["peak"][0] - 0.158) < 0.01


def test_subpixel(ctx, frame10):
    grey = frame10.mean(axis=2).astype(np.float64)
    shifts = [(0.37, -1.62), (-2.25, 0.5), (4.9, 3.01)]
    t = dvren.register(grey.astype(np.float32), [fourier_shift(grey, *s) for s in shifts], window="none")
    np.testing.assert_allclose(t["dy"], [-s[0] for s in shifts], atol=0.02)
    np.testing.assert_allclose(t["dx"], [-s[1] for s in shifts], atol=0.02)


def test_bayer_grbg(ctx, bayer):
    assert bayer.shape == (344, 256) and bayer.max() == 1053  # the data README's facts
    rolls = [(4, -6), (-10, 8), (3, 1), (0, -5)]
    t = ctx.registration().register(bayer, [np.roll(bayer, s, (0, 1)) for s in rolls], cfa="GRBG")
    assert t.report["cfa"] == "grbg" and t.report["period"] == 2 and t.report["planes"] == 4
    assert (t.report["plane_width"], t.report["plane_height"]) == (128, 172)
    # even: every plane rolls by whole plane pixels, the pattern stays aligned
    np.testing.assert_allclose(t["dy"][:2], [-4, 10], atol=0.02)
    np.testing.assert_allclose(t["dx"][:2], [6, -8], atol=0.02)
    np.testing.assert_array_equal(t["cfa_dy"][:2], [-4, 10])
    np.testing.assert_array_equal(t["cfa_dx"][:2], [6, -8])
    assert t["cfa_aligned"][:2].all()
    for c in "rgb":
        np.testing.assert_allclose(t["dy_" + c][:2], [-4, 10], atol=0.05)
    # odd: half a plane pixel; the pattern is not aligned
    np.testing.assert_allclose(t["dy"][2:], [-3, 0], atol=0.25)
    np.testing.assert_allclose(t["dx"][2:], [-1, 5], atol=0.25)
    assert not t["cfa_aligned"][2:].any()
    # the integer method is exact on the even rolls; cfa names in any case
    t = ctx.registration(method="integer").register(bayer, [np.roll(bayer, s, (0, 1)) for s in rolls[:2]], cfa="grbg")
    np.testing.assert_array_equal(t["dy"], [-4, 10])
    np.testing.assert_array_equal(t["dx"], [6, -8])


def test_xtrans(ctx, frame10):
    """An X-Trans mosaic made from the RGB frame: each pixel keeps the colour its site filters."""
    h, w = frame10.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    mosaic = np.take_along_axis(frame10, XTRANS[yy % 6, xx % 6][..., None], axis=2)[..., 0].astype(np.float32)
    moving = [np.roll(mosaic, s, (0, 1)) for s in [(6, -12), (-18, 6)]]
    model = ctx.registration(method="integer")
    t = model.register(mosaic, moving, cfa="xtrans")
    assert t.report["period"] == 6 and t.report["planes"] == 36
    np.testing.assert_array_equal(t["dy"], [-6, 18])
    np.testing.assert_array_equal(t["dx"], [12, -6])
    assert t["cfa_aligned"].all()
    t2 = model.register(mosaic, moving, cfa="xtrans", xtrans=XTRANS)  # the default layout given explicitly
    np.testing.assert_array_equal(t2["dy"], t["dy"])
    np.testing.assert_array_equal(t2["dy_r"], t["dy_r"])


def test_memory_limit_batches(ctx, frame10):
    grey = frame10.mean(axis=2).astype(np.float32)
    moving = [np.roll(grey, s, (0, 1)) for s in ROLLS]
    m = ctx.registration()
    full = m.register(grey, moving)
    assert full.report["batch_size"] == 4
    limit = full.report["peak_bytes"] * 3 // 4
    part = m.register(grey, moving, memory_limit=limit)
    assert part.report["batch_size"] < 4 and part.report["batches"] > 1
    assert part.report["limit_bytes"] == limit and part.report["peak_bytes"] <= limit
    np.testing.assert_array_equal(np.asarray(part)[["dy", "dx", "peak"]], np.asarray(full)[["dy", "dx", "peak"]])
    with pytest.raises(dvren.OutOfMemoryError):
        m.register(grey, moving, memory_limit=1024)


def test_convenience_register(frame10):
    t = dvren.register(frame10, [np.roll(frame10, (2, 9), (0, 1))], method="integer", grey=True)
    assert (t["dy"][0], t["dx"][0]) == (-2, -9)
    t = dvren.register(frame10[..., 1], np.roll(frame10[..., 1], (-3, 4), (0, 1)), threads=1, band=0.5)
    np.testing.assert_allclose([t["dy"][0], t["dx"][0]], [3, -4], atol=0.02)


def test_cuda_never_falls_back(frame10):
    try:
        ctx = dvren.Context("cuda")
    except (dvren.NoDeviceError, dvren.UnsupportedError, dvren.DeviceError):
        with pytest.raises((dvren.NoDeviceError, dvren.UnsupportedError, dvren.DeviceError)):
            dvren.register(frame10, [frame10], device="cuda")
        return
    ctx.close()
    t = dvren.register(frame10, [np.roll(frame10, (2, 9), (0, 1))], device="cuda", method="integer")
    assert (t["dy"][0], t["dx"][0]) == (-2, -9)


def test_errors(ctx, frame10):
    m = ctx.registration()
    grey = frame10.mean(axis=2).astype(np.float32)
    with pytest.raises(dvren.InvalidArgumentError, match=r"moving\[1\]: shape \(240, 640\), but the reference is"):
        m.register(grey, [grey, grey[:240]])
    with pytest.raises(dvren.InvalidArgumentError, match=r"moving\[0\]: dtype uint8, but the reference is float32"):
        m.register(grey, [frame10[..., 0]])
    with pytest.raises(dvren.InvalidArgumentError, match="dtype int32, expected uint8, uint16 or float32"):
        m.register(grey.astype(np.int32), [grey.astype(np.int32)])
    with pytest.raises(dvren.InvalidArgumentError, match=r"reference: shape \(480, 640, 4\)"):
        m.register(np.zeros((480, 640, 4), np.float32), [np.zeros((480, 640, 4), np.float32)])
    with pytest.raises(dvren.InvalidArgumentError, match="no images"):
        m.register(grey, [])
    with pytest.raises(dvren.InvalidArgumentError, match="rgbg"):
        m.register(grey, [grey], cfa="rgbg")
    with pytest.raises(dvren.InvalidArgumentError):
        m.register(frame10, [frame10], cfa="rggb")  # a CFA needs one channel (dvren_register's check)
    with pytest.raises(dvren.InvalidArgumentError, match="xtrans is given but cfa is NONE"):
        m.register(grey, [grey], xtrans=XTRANS)
    with pytest.raises(dvren.InvalidArgumentError, match="xtrans: expected a"):
        m.register(grey, [grey], cfa="xtrans", xtrans=np.full((6, 6), 3))
    with pytest.raises(dvren.InvalidArgumentError, match="memory_limit"):
        m.register(grey, [grey], memory_limit=-1)
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.registration(method="cubic")
    with pytest.raises(dvren.InvalidArgumentError):
        ctx.registration(upsample=0)
    with pytest.raises(dvren.NotFoundError):
        ctx.registration("no_such_model")
    tiny = np.zeros((3, 3), np.float32)
    with pytest.raises(dvren.InvalidArgumentError):
        m.register(tiny, [tiny], cfa="rggb")  # a plane side under 2
    assert not math.isnan(m.register(grey, grey)["dy"][0])  # still usable after the errors
