#!/usr/bin/env python3
"""bench/register_gen.py - the images of the registration benchmark (issue 13,
"Targets"; bench/register.sh runs it on the GPU machine with CuPy, and it
runs here with NumPy at small sizes).

For each size W x H it writes, into OUT/<W>x<H>/:
  grey_ref.npy, grey_mov_0.npy .. grey_mov_<n-1>.npy    (H, W) uint16, grey
  bayer_ref.npy, bayer_mov_0.npy .. bayer_mov_<n-1>.npy (H, W) uint16, GRBG mosaic
  truth.csv   index, true_y, true_x, expected_dy, expected_dx (pixels)
  truth.json  the same, with the generation's settings

The scene. An RGB canvas of (H + 2M) x (W + 2M) pixels (M = 96, the margin)
holds the real frame (../shared/data/registration/frame10.ppm, 640 x 480
RGB, bilinearly resized to the canvas, stretched where the aspect ratio
differs; --no-frame leaves it out) plus 1/f noise (an amplitude spectrum
falling as 1/|f|, the statistics of natural images; the same field in the
three channels), in [0, 1]-ish units: 0.6 frame + 0.08 noise. The frame's
part is faded to its mean over the canvas's outer 48 pixels (a raised
cosine), so that the canvas is smooth across its periodic wrap and its
Fourier interpolation does not ring. Every image is the centre H x W crop
of the canvas, the moving ones after shifting the canvas by t = (t_y, t_x)
(uniform in [-32, 32] pixels per axis, seeded) in the Fourier domain: the
spectrum times exp(-2 pi i (f_y t_y + f_x t_x)), the Nyquist row and column
set to zero in the reference and the moving images alike. This is an exact
band-limited sub-pixel shift, yet not a circular one: content enters and
leaves at the borders as in real photographs (the crop never sees the
wrap: |t| <= 32 < M - 48). A moving image is the reference's content moved
by t, moving(y, x) = reference(y - t_y, x - t_x), so the shift that
registers it (dvren's and scikit-image's convention) is expected = -t.

--blur SIGMA multiplies the canvas's spectrum by a Gaussian MTF (an
optical blur of SIGMA pixels; default 0, none): the 1/f content then
falls off towards Nyquist as behind a real lens.

Grey images: the mean of the three channels. Bayer images: the GRBG mosaic
of the RGB images (G at (0, 0) and (1, 1), R at (0, 1), B at (1, 0)), one
channel per site; the shift in mosaic pixels is the same t. Each colour
plane of a mosaic samples its channel every 2 pixels, so the content
above 1/4 cycle per pixel aliases, and that part of the plane does not
move by t / 2 with the rest (its phase turns by pi t more): phase
correlation, which weighs every frequency alike, is biased by it on the
planes (Hann + upsampled DFT on the two G planes of these images at
2400 x 1600, averaged: 0.42 px RMS without --blur; the cross-power cut to
0.15 cycle per plane pixel: 0.05 px). The truth is exact; the bias is
the method's. Then each
image is scaled so that the clean grey reference spans 4000 .. 61000
counts, gets its own Gaussian noise (--noise, default 0.02: a standard
deviation of 2 percent of that span, 1140 counts) and is rounded and
clipped to uint16.

Random numbers: the shifts come from NumPy's default_rng(seed, H, W) (the
same on every machine); the noise fields from the array module's own
generator, seeded alike (CuPy and NumPy make different fields from one
seed: the images and the truth written together are what count).

  python3 bench/register_gen.py --out DIR [--sizes 4000x3000,6000x4000,9504x6336]
      [--count 8] [--seed 13] [--noise 0.02] [--blur 0] [--frame PATH | --no-frame] [--xp cupy|numpy]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

# the PPM reader the tests share (tests/image_io.py, pure Python): the whole
# repository travels to the GPU machine, so it is found next door
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
from image_io import read_pnm  # noqa: E402

MARGIN = 96        # canvas margin, pixels
TAPER = 48         # the frame fades to its mean over the canvas's outer TAPER pixels
MAX_SHIFT = 32.0   # |t| per axis
LOW, HIGH = 4000.0, 61000.0  # the clean grey reference's minimum and maximum, in uint16 counts


def array_module(name):
    """cupy or numpy; 'auto': cupy when it imports and sees a GPU."""
    if name in ("auto", "cupy"):
        try:
            import cupy
            cupy.cuda.runtime.getDeviceCount()
            return cupy
        except Exception as e:  # noqa: BLE001 - any failure means no GPU here
            if name == "cupy":
                sys.exit(f"register_gen: --xp cupy: {e}")
    return np


def read_ppm(path):
    """A binary PPM (P6, maxval 255): (h, w, 3) float64 in [0, 1]."""
    try:
        w, h, c, maxval, samples = read_pnm(path)
    except ValueError as e:
        sys.exit(f"register_gen: {e}")
    if c != 3 or maxval != 255:
        sys.exit(f"register_gen: {path}: not a binary 8-bit PPM (P6, maxval 255)")
    return np.frombuffer(samples, np.uint8).reshape(h, w, 3).astype(np.float64) / 255.0


def resize_bilinear(xp, img, H, W):
    """(h, w, c) -> (H, W, c), bilinear, pixel centres aligned (like OpenCV's INTER_LINEAR)."""
    h, w = img.shape[:2]
    src = xp.asarray(img)
    y = (xp.arange(H, dtype=xp.float64) + 0.5) * (h / H) - 0.5
    x = (xp.arange(W, dtype=xp.float64) + 0.5) * (w / W) - 0.5
    y = xp.clip(y, 0, h - 1)
    x = xp.clip(x, 0, w - 1)
    y0 = xp.minimum(xp.floor(y).astype(xp.int64), h - 2)
    x0 = xp.minimum(xp.floor(x).astype(xp.int64), w - 2)
    fy = (y - y0)[:, None, None]
    fx = (x - x0)[None, :, None]
    top = src[y0][:, x0] * (1 - fx) + src[y0][:, x0 + 1] * fx
    bot = src[y0 + 1][:, x0] * (1 - fx) + src[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def taper(xp, n):
    """1 inside, a raised cosine from 0 to 1 over the outer TAPER samples of each end."""
    t = xp.ones(n, dtype=xp.float64)
    ramp = 0.5 - 0.5 * xp.cos(np.pi * (xp.arange(TAPER, dtype=xp.float64) + 0.5) / TAPER)
    t[:TAPER] = ramp
    t[n - TAPER:] = ramp[::-1]
    return t


def pink_noise(xp, rng, Hc, Wc):
    """Periodic noise whose amplitude spectrum falls as 1/|f| (f in cycles per pixel), std 1."""
    white = rng.standard_normal((Hc, Wc), dtype=xp.float64)
    spec = xp.fft.rfft2(white)
    fy = xp.fft.fftfreq(Hc)[:, None]
    fx = xp.fft.rfftfreq(Wc)[None, :]
    f = xp.sqrt(fy * fy + fx * fx)
    f[0, 0] = 1.0
    spec /= f
    spec[0, 0] = 0.0
    out = xp.fft.irfft2(spec, s=(Hc, Wc))
    return out / out.std()


def make_size(xp, W, H, args, frame, out_dir):
    Hc, Wc = H + 2 * MARGIN, W + 2 * MARGIN
    shift_rng = np.random.default_rng([args.seed, H, W])
    shifts = shift_rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=(args.count, 2))
    if hasattr(xp.random, "default_rng"):
        rng = xp.random.default_rng(args.seed * 1000003 + H * 65537 + W)
    else:  # older CuPy: the legacy generator
        rng = xp.random.RandomState(args.seed * 1000003 + H * 65537 + W)

    # the canvas, per channel, and its spectrum (Nyquist row and column zeroed)
    noise = 0.08 * pink_noise(xp, rng, Hc, Wc)
    if frame is not None:
        fr = resize_bilinear(xp, frame, Hc, Wc)
        mean = fr.mean(axis=(0, 1))
        win = taper(xp, Hc)[:, None, None] * taper(xp, Wc)[None, :, None]
        fr = 0.6 * (mean + (fr - mean) * win)
        del win
    else:
        fr = xp.full((Hc, Wc, 3), 0.3)
    fy = xp.fft.fftfreq(Hc)[:, None]
    fx = xp.fft.rfftfreq(Wc)[None, :]
    mtf = xp.exp(-2.0 * np.pi ** 2 * args.blur ** 2 * (fy * fy + fx * fx)) if args.blur > 0 else None
    spectra = []
    for c in range(3):
        s = xp.fft.rfft2(fr[:, :, c] + noise)
        if mtf is not None:
            s *= mtf
        s[Hc // 2, :] = 0.0
        s[:, Wc // 2] = 0.0
        spectra.append(s)
    del fr, noise, mtf

    def rgb_crop(t):
        """The canvas moved by t = (t_y, t_x), cropped: (H, W, 3) float64."""
        if t is None:
            ramp = None
        else:
            ramp = xp.exp(-2j * np.pi * (fy * t[0] + fx * t[1]))
        chans = []
        for s in spectra:
            img = xp.fft.irfft2(s if ramp is None else s * ramp, s=(Hc, Wc))
            chans.append(img[MARGIN:MARGIN + H, MARGIN:MARGIN + W])
        return chans

    scale = offset = None

    def quantise(img):
        img = (img - offset) * scale + LOW + args.noise * (HIGH - LOW) * rng.standard_normal((H, W), dtype=xp.float64)
        q = xp.clip(xp.rint(img), 0, 65535).astype(xp.uint16)
        return q.get() if hasattr(q, "get") else q

    def bayer(chans):
        """GRBG: G at (even, even) and (odd, odd), R at (even, odd), B at (odd, even)."""
        m = chans[1].copy()
        m[0::2, 1::2] = chans[0][0::2, 1::2]
        m[1::2, 0::2] = chans[2][1::2, 0::2]
        return m

    os.makedirs(out_dir, exist_ok=True)
    clipped = 0
    for i, t in enumerate([None] + [tuple(v) for v in shifts]):
        name = "ref" if i == 0 else f"mov_{i - 1}"
        chans = rgb_crop(t)
        if i == 0:
            g = (chans[0] + chans[1] + chans[2]) / 3.0
            offset = float(g.min())
            scale = (HIGH - LOW) / (float(g.max()) - offset)
            del g
        grey = quantise((chans[0] + chans[1] + chans[2]) / 3.0)
        mosaic = quantise(bayer(chans))
        clipped += int((grey == 0).sum() + (grey == 65535).sum())
        np.save(os.path.join(out_dir, f"grey_{name}.npy"), grey)
        np.save(os.path.join(out_dir, f"bayer_{name}.npy"), mosaic)
    expected = -shifts
    with open(os.path.join(out_dir, "truth.csv"), "w") as f:
        f.write("index,true_y,true_x,expected_dy,expected_dx\n")
        for i in range(args.count):
            f.write(f"{i},{shifts[i, 0]:.9f},{shifts[i, 1]:.9f},{expected[i, 0]:.9f},{expected[i, 1]:.9f}\n")
    meta = {
        "width": W, "height": H, "count": args.count, "seed": args.seed, "noise": args.noise,
        "low": LOW, "high": HIGH, "blur": args.blur, "margin": MARGIN, "taper": TAPER, "max_shift": MAX_SHIFT,
        "frame": args.frame if frame is not None else None, "cfa": "GRBG", "array_module": xp.__name__,
        "clipped_grey_pixels": clipped,
        "convention": "moving(y, x) = reference(y - true_y, x - true_x); expected = -true (dvren, scikit-image)",
        "true": shifts.tolist(), "expected": expected.tolist(),
    }
    with open(os.path.join(out_dir, "truth.json"), "w") as f:
        json.dump(meta, f, indent=1)
    if clipped:
        print(f"register_gen: {W}x{H}: {clipped} grey pixels clipped", file=sys.stderr)


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        w, _, h = item.strip().partition("x")
        try:
            w, h = int(w), int(h)
        except ValueError:
            sys.exit(f"register_gen: --sizes: '{item}' is not WxH")
        if w < 2 * TAPER or h < 2 * TAPER or w % 2 or h % 2:
            sys.exit(f"register_gen: --sizes: {w}x{h}: sides must be even and at least {2 * TAPER}")
        sizes.append((w, h))
    return sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder; one subfolder WxH per size")
    ap.add_argument("--sizes", default="4000x3000,6000x4000,9504x6336")
    ap.add_argument("--count", type=int, default=8, help="moving images per size")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--noise", type=float, default=0.02, help="Gaussian noise, fraction of the scale")
    ap.add_argument("--blur", type=float, default=0.0, help="optical blur: Gaussian sigma, pixels (0: none)")
    ap.add_argument("--frame", default=os.path.join(os.environ.get("DVREN_DATA", "../shared/data"),
                                                    "registration", "frame10.ppm"))
    ap.add_argument("--no-frame", action="store_true", help="1/f noise only")
    ap.add_argument("--xp", default="auto", choices=["auto", "cupy", "numpy"])
    args = ap.parse_args()
    if args.count < 1:
        sys.exit("register_gen: --count must be >= 1")
    xp = array_module(args.xp)
    frame = None
    if not args.no_frame:
        if not os.path.exists(args.frame):
            sys.exit(f"register_gen: --frame {args.frame}: no such file (--no-frame for 1/f noise only)")
        frame = read_ppm(args.frame)
    for W, H in parse_sizes(args.sizes):
        t0 = time.time()
        make_size(xp, W, H, args, frame, os.path.join(args.out, f"{W}x{H}"))
        if xp is not np:
            xp.get_default_memory_pool().free_all_blocks()
        print(f"register_gen: {W}x{H}: {args.count + 1} grey and {args.count + 1} GRBG images in "
              f"{time.time() - t0:.1f} s ({xp.__name__})", file=sys.stderr)


if __name__ == "__main__":
    main()
