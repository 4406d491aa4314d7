#!/usr/bin/env python3
"""bench/register_peers.py - the peers of the registration benchmark (issue
13, "Targets"), on the images of bench/register_gen.py, and the table of
bench/register.sh.

  python3 bench/register_peers.py run --dir OUT/WxH [--methods cupy,opencv,skimage]
      [--xp cupy|numpy] [--reps 3] [--cpu-budget 40] [--memory-limit BYTES] [--verbose]
  python3 bench/register_peers.py report RESULTS.jsonl [RESULTS2.jsonl ...]

run prints one JSON line per method on stdout (the keys bench/register.c
prints too), and with --verbose one line per image before it. report
reads such lines (dvren's and the peers') and prints the Markdown table.

Every method gets the grey images of one size as host NumPy uint16 arrays
already in memory (file reading is not timed) and registers the 8 moving
images with the reference; a result is the shift (dy, dx) that registers
the moving image with the reference in dvren's and scikit-image's
convention, reference(y, x) ~ moving(y - dy, x - dx). The error of an
image is the Euclidean distance to the expected shift (truth.csv); RMS
over the images. Throughput: (1 + 8) x megapixels / wall seconds, the wall
time covering everything from the host arrays to the shifts on the host
(conversions, host-to-device copies from pageable memory, transforms).
Setup is not timed: the Hann window of OpenCV; CuPy's first run (kernels
compiled, FFT plans and the cuBLAS handle made) is a warm-up, then the
median of --reps runs.

Methods:
  opencv   cv2.phaseCorrelate(reference, moving, window) per image, float32
           inputs, window = cv2.createHanningWindow. OpenCV's result is the
           opposite sign, as (x, y): (dy, dx) = (-y, -x). Its sub-pixel step
           is a weighted centroid of the 5 x 5 neighbourhood of the peak.
  skimage  skimage.registration.phase_cross_correlation(reference, moving,
           upsample_factor=100, normalization='phase') per image, on the
           uint16 arrays (it computes in float64 and transforms the
           reference again for each image; no window).
  cupy     this file's batched implementation of the algorithm dvren's
           phase_correlation plugin implements (Kuglin and Hines 1975;
           Guizar-Sicairos, Thurman and Fienup, Opt. Lett. 33(2), 2008):
           Hann window (symmetric, as OpenCV's), the reference's rfft2 once,
           the moving images' rfft2 in batches (one batched cuFFT plan), the
           normalised cross-power F_ref conj(F_mov) / max(|.|, 100 eps_f32),
           irfft2, the integer peak (argmax, wrapped to -N/2 < s <= N/2), then
           the upsampled DFT of the cross-power around it (1.5 px at 1/100 px:
           150 x 150 points, as two batched matrix products over the half
           spectrum, the real part of the inverse DFT of a Hermitian
           spectrum). The batch is sized from free device memory
           (cudaMemGetInfo, x 0.8) or --memory-limit. With --xp numpy the
           same code runs on the CPU (for testing; no batched FFT plan).

The CPU methods (opencv, skimage) run once (no warm-up; they have no plans
or kernels to build): images one by one until --cpu-budget seconds have
passed (at least one image), the time of all 8 then extrapolated from the
mean per image ("images_timed" < 8 and "extrapolated": true, and a note
in the table), the RMS over the images run.

Device memory, CuPy: "peak_device_bytes" is the memory pool's total after
the runs, emptied before them (the pool keeps every block it got, so its
total is its high-water mark; cuFFT's work areas come from the pool and
the plan cache holds them), "mem_info_delta_bytes" the drop of
cudaMemGetInfo's free memory over the runs (it also sees cuBLAS's
workspace and lazily loaded library kernels). CPU methods: null.
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys
import time

import numpy as np

UPSAMPLE = 100


# ---------------------------------------------------------------- data

def load(folder, kind="grey"):
    """(reference, [moving], expected (n, 2), meta) of one size's folder."""
    with open(os.path.join(folder, "truth.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"register_peers: {folder}/truth.csv: no rows")
    expected = np.array([[float(r["expected_dy"]), float(r["expected_dx"])] for r in rows])
    ref = np.load(os.path.join(folder, f"{kind}_ref.npy"))
    movs = [np.load(os.path.join(folder, f"{kind}_mov_{r['index']}.npy")) for r in rows]
    for i, m in enumerate(movs):
        if m.shape != ref.shape or m.dtype != np.uint16 or ref.dtype != np.uint16:
            sys.exit(f"register_peers: {folder}: {kind}_mov_{i}.npy is {m.dtype} {m.shape}, "
                     f"the reference {ref.dtype} {ref.shape} (uint16 of one size expected)")
    return ref, movs, expected


def errors(shifts, expected):
    e = np.hypot(shifts[:, 0] - expected[:, 0], shifts[:, 1] - expected[:, 1])
    return float(np.sqrt(np.mean(e * e))), float(e.max()), e


def row(H, W, method, label, device, shifts, expected, seconds, reps, images_timed, n, **extra):
    rms, mx, _ = errors(shifts, expected)
    mp = W * H / 1e6
    out = {"bench": "register", "size": f"{W}x{H}", "width": W, "height": H, "megapixels": round(mp, 3),
           "kind": "grey", "method": method, "label": label, "device": device, "rms_px": rms, "max_px": mx,
           "seconds": seconds, "mp_per_s": (n + 1) * mp / seconds, "reps": reps, "images_timed": images_timed,
           "images": n, "extrapolated": images_timed < n, "peak_device_bytes": None, "mem_info_delta_bytes": None}
    out.update(extra)
    return out


def print_images(method, shifts, expected, count=None):
    _, _, e = errors(shifts, expected)
    for i in range(count if count is not None else len(shifts)):
        print(json.dumps({"image": i, "method": method, "dy": float(shifts[i, 0]), "dx": float(shifts[i, 1]),
                          "expected_dy": float(expected[i, 0]), "expected_dx": float(expected[i, 1]),
                          "error_px": float(e[i])}))


# ---------------------------------------------------------------- CPU peers

def run_cpu_peer(method, ref, movs, expected, budget, verbose):
    """opencv or skimage, image by image until budget seconds have passed."""
    H, W = ref.shape
    n = len(movs)
    if method == "opencv":
        import cv2
        window = cv2.createHanningWindow((W, H), cv2.CV_32F)  # setup: not timed
        t0 = time.perf_counter()
        ref_f = ref.astype(np.float32)
        t_setup = time.perf_counter() - t0

        def one(m):
            (x, y), _ = cv2.phaseCorrelate(ref_f, m.astype(np.float32), window)
            return -y, -x  # OpenCV: (x, y) of the opposite sign
        label = f"OpenCV {cv2.__version__} phaseCorrelate, Hann"
    else:
        import skimage
        from skimage.registration import phase_cross_correlation
        t_setup = 0.0

        def one(m):
            s, _, _ = phase_cross_correlation(ref, m, upsample_factor=UPSAMPLE, normalization="phase")
            return s[0], s[1]
        label = f"scikit-image {skimage.__version__} phase_cross_correlation, upsample {UPSAMPLE}"
    shifts, times = [], []
    start = time.perf_counter()
    for m in movs:
        t0 = time.perf_counter()
        shifts.append(one(m))
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    k = len(shifts)
    shifts = np.array(shifts, dtype=np.float64)
    seconds = t_setup + statistics.fmean(times) * n
    if verbose:
        print_images(method, shifts, expected[:k])
    r = row(H, W, method, label, "cpu", shifts, expected[:k], seconds, 1, k, n, threads=os.cpu_count())
    if k < n:
        r["note"] = f"{k} of {n} images run; time extrapolated from their mean"
    return r


# ---------------------------------------------------------------- the batched implementation (CuPy or NumPy)

def hann(xp, n):
    """Symmetric Hann window of n samples (cv2.createHanningWindow's)."""
    i = xp.arange(n, dtype=xp.float64)
    return 0.5 - 0.5 * xp.cos(2.0 * math.pi * i / (n - 1))


class Batched:
    """Phase correlation of a reference and N moving images of one size,
    batched (see the module's doc). xp: cupy or numpy."""

    def __init__(self, xp, H, W, upsample=UPSAMPLE, window=True, memory_limit=0, fused=True):
        self.xp, self.H, self.W, self.upsample = xp, H, W, upsample
        self.Wh = W // 2 + 1
        self.gpu = xp.__name__ == "cupy"
        self.window = (hann(xp, H)[:, None] * hann(xp, W)[None, :]).astype(xp.float32) if window else None
        self.eps = np.float32(100 * np.finfo(np.float32).eps)
        self.R = int(math.ceil(upsample * 1.5))  # upsampled region, samples per axis (scikit-image's choice)
        self.centre = self.R // 2
        self.fy = np.fft.fftfreq(H)  # cycles per pixel, host float64
        self.fx = np.fft.rfftfreq(W)
        wx = np.full(self.Wh, 2.0)  # half spectrum: the columns the other half mirrors count twice
        wx[0] = 1.0
        if W % 2 == 0:
            wx[-1] = 1.0
        self.wx = wx
        self.memory_limit = memory_limit
        self.fused = False
        if self.gpu and fused:
            try:
                self._window_k = xp.ElementwiseKernel(
                    "uint16 x, float32 w", "float32 y", "y = (float)x * w", "dvren_bench_window")
                self._xpower_k = xp.ElementwiseKernel(
                    "complex64 a, complex64 b, float32 eps", "complex64 out",
                    "complex<float> c = a * conj(b); float m = abs(c); out = c / (m > eps ? m : eps);",
                    "dvren_bench_xpower")
                # compile both now (a kernel compiles at its first call)
                self._window_k(xp.zeros((2, 2), xp.uint16), xp.ones((2, 2), xp.float32))
                self._xpower_k(xp.ones((2, 2), xp.complex64), xp.ones((2, 2), xp.complex64), self.eps)
                self.fused = True
            except Exception as e:  # noqa: BLE001
                print(f"register_peers: CuPy kernels unavailable ({e}); plain array operations", file=sys.stderr)
        self.batch = None

    # elementwise steps: one fused kernel each on the GPU, NumPy expressions otherwise
    def _windowed(self, u16):
        xp = self.xp
        if self.window is None:
            return u16.astype(xp.float32)
        if self.fused:
            return self._window_k(u16, self.window)
        return u16.astype(xp.float32) * self.window

    def _xpower(self, fr, fm):
        xp = self.xp
        if self.fused:
            return self._xpower_k(fr, fm, self.eps)
        c = fr * xp.conj(fm)
        return (c / xp.maximum(xp.abs(c), self.eps)).astype(xp.complex64)

    def _rfft2(self, a):
        return self.xp.fft.rfft2(a, axes=(-2, -1)).astype(self.xp.complex64, copy=False)

    def batch_size(self, n):
        """Moving images per batch: what fits in the limit (or 0.8 x free device memory)."""
        H, W, Wh = self.H, self.W, self.Wh
        px, half = H * W, H * Wh
        # per image: uint16 input, float32 windowed, spectrum and cross-power (complex64),
        # float32 correlation, cuFFT work area (taken as one more spectrum), the first
        # matrix product (H x R complex64); the reference: float32 + its spectrum
        per_image = px * (2 + 4 + 4) + half * 8 * 3 + H * self.R * 8
        reference = px * (2 + 4) + half * 8
        if self.memory_limit:
            budget = self.memory_limit
        elif self.gpu:
            budget = int(0.8 * self.xp.cuda.runtime.memGetInfo()[0])
        else:
            return n
        b = (budget - reference) // per_image
        if b < 1:
            sys.exit(f"register_peers: cupy: {budget} bytes of device memory cannot hold one "
                     f"{W}x{H} image (about {reference + per_image} bytes needed)")
        return int(min(n, b))

    def _to_device(self, dst, src):
        if self.gpu:
            dst.set(src)
        else:
            dst[...] = src

    def run(self, ref_host, movs_host):
        """(n, 2) float64 host array of (dy, dx)."""
        xp = self.xp
        H, W, R, c, ups = self.H, self.W, self.R, self.centre, self.upsample
        n = len(movs_host)
        if self.batch is None:
            self.batch = self.batch_size(n)
        B = self.batch
        ref_dev = xp.empty((H, W), dtype=xp.uint16)
        self._to_device(ref_dev, ref_host)
        fr = self._rfft2(self._windowed(ref_dev))
        del ref_dev
        buf = xp.empty((B, H, W), dtype=xp.uint16)
        out = np.zeros((n, 2))
        fy = xp.asarray(self.fy)
        fx = xp.asarray(self.fx)
        wx = xp.asarray(self.wx)
        steps = (np.arange(R) - c) / ups
        for start in range(0, n, B):
            b = min(B, n - start)
            for i in range(b):
                self._to_device(buf[i], movs_host[start + i])
            fm = self._rfft2(self._windowed(buf[:b]))
            x = self._xpower(fr, fm)
            del fm
            corr = xp.fft.irfft2(x, s=(H, W), axes=(-2, -1))
            idx = corr.reshape(b, -1).argmax(axis=1)
            del corr
            idx = idx.get() if self.gpu else idx
            s = np.stack([idx // W, idx % W], axis=1).astype(np.float64)
            s[s[:, 0] > H // 2, 0] -= H
            s[s[:, 1] > W // 2, 1] -= W
            # the upsampled DFT around s: points s + (j - c) / ups, j = 0 .. R-1, per axis
            py = xp.asarray(s[:, 0:1] + steps[None, :])  # (b, R)
            px = xp.asarray(s[:, 1:2] + steps[None, :])
            ph_y = py[:, :, None] * fy[None, None, :]  # (b, R, H) cycles
            ph_x = fx[None, :, None] * px[:, None, :]  # (b, Wh, R)
            ky = xp.exp(2j * math.pi * (ph_y - xp.rint(ph_y))).astype(xp.complex64)
            kx = (wx[None, :, None] * xp.exp(2j * math.pi * (ph_x - xp.rint(ph_x)))).astype(xp.complex64)
            up = xp.matmul(ky, xp.matmul(x, kx)).real  # (b, R, R)
            del x
            j = up.reshape(b, -1).argmax(axis=1)
            j = j.get() if self.gpu else j
            out[start:start + b, 0] = s[:, 0] + (j // R - c) / ups
            out[start:start + b, 1] = s[:, 1] + (j % R - c) / ups
        return out


def run_batched(xp, ref, movs, expected, reps, memory_limit, verbose):
    H, W = ref.shape
    n = len(movs)
    gpu = xp.__name__ == "cupy"
    pool = plans = None
    if gpu:
        pool = xp.get_default_memory_pool()
        plans = xp.fft.config.get_plan_cache()
        xp.cuda.Device().synchronize()
        plans.clear()
        pool.free_all_blocks()
        free0 = xp.cuda.runtime.memGetInfo()[0]
    eng = Batched(xp, H, W, memory_limit=memory_limit)
    shifts = eng.run(ref, movs)  # warm-up: kernels, plans, cuBLAS
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        shifts = eng.run(ref, movs)
        if gpu:
            xp.cuda.Device().synchronize()
        times.append(time.perf_counter() - t0)
    extra = {"batch": eng.batch, "batches": -(-n // eng.batch), "fused_kernels": eng.fused,
             "memory_limit": memory_limit or None}
    if gpu:
        # for reading the figures: the host-to-device copy of the 9 images alone (pageable memory)
        buf = xp.empty(ref.shape, dtype=xp.uint16)
        t0 = time.perf_counter()
        for a in [ref] + list(movs):
            buf.set(a)
        xp.cuda.Device().synchronize()
        extra["h2d_seconds"] = time.perf_counter() - t0
        extra["h2d_gb_per_s"] = (n + 1) * ref.nbytes / 1e9 / extra["h2d_seconds"]
        del buf
        extra["peak_device_bytes"] = int(pool.total_bytes())
        extra["mem_info_delta_bytes"] = int(free0 - xp.cuda.runtime.memGetInfo()[0])
        try:
            extra["fft_plan_cache_bytes"] = int(plans.get_curr_memsize())
        except Exception:  # noqa: BLE001 - older CuPy
            pass
        label = f"CuPy {xp.__version__} batched, upsampled {UPSAMPLE}, Hann"
        if memory_limit:
            label += f", memory limit {memory_limit // 1000000} MB"
    else:
        label = f"NumPy {np.__version__} (the CuPy code on the CPU), upsampled {UPSAMPLE}, Hann"
        extra["threads"] = 1
    if verbose:
        print_images("cupy", shifts, expected)
    r = row(H, W, "cupy" if gpu else "numpy_batched", label, "cuda" if gpu else "cpu", shifts, expected,
            statistics.median(times), reps, n, n, **extra)
    if gpu:
        pool.free_all_blocks()
        plans.clear()
    return r


# ---------------------------------------------------------------- report

def fmt_mb(b):
    return "n/a" if b is None else f"{b / 1e6:.0f}"


def report(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("bench") == "register":
                    rows.append(r)
    if not rows:
        print("register: no results")
        return 1
    method_order = {"cupy": 0, "numpy_batched": 0, "dvren_upsampled": 1, "dvren_parabolic": 2, "dvren_integer": 3,
                    "opencv": 6, "skimage": 7}

    def key(r):  # CuPy, dvren grey, dvren under a memory limit, dvren GRBG, OpenCV, scikit-image
        m = method_order.get(r["method"], 5)
        if r["method"].startswith("dvren") and r.get("memory_limit"):
            m = 4
        if r.get("kind") == "bayer":
            m = 5 + method_order.get(r["method"], 0) / 10
        return (m, r["label"])
    sizes = sorted({(r["width"] * r["height"], r["size"]) for r in rows})
    notes = []
    print("| size | method | RMS px | max px | MP/s | peak device MB | ratio to CuPy |")
    print("|---|---|---|---|---|---|---|")
    for _, size in sizes:
        here = [r for r in rows if r["size"] == size]
        base = next((r for r in here if r["method"] in ("cupy", "numpy_batched") and "error" not in r
                     and not r.get("memory_limit")), None)
        here.sort(key=key)
        for r in here:
            if "error" in r:
                print(f"| {size} ({r['megapixels']:.1f} MP) | {r['label']} | failed: {r['error'][:80]} | | | | |")
                continue
            mps = f"{r['mp_per_s']:.0f}" if r["mp_per_s"] >= 10 else f"{r['mp_per_s']:.2f}"
            if r.get("extrapolated"):
                mps += "*"
                notes.append(f"{size} {r['method']}: {r.get('note', 'extrapolated')}")
            mem = fmt_mb(r.get("peak_device_bytes"))
            if r.get("mem_info_delta_bytes") is not None:
                mem += f" ({fmt_mb(r['mem_info_delta_bytes'])})"
            ratio = f"{r['mp_per_s'] / base['mp_per_s']:.2f}x" if base else "n/a"
            label = r["label"] + (" [GRBG]" if r.get("kind") == "bayer" else "")
            if r.get("memory_limit") and r.get("batch"):
                label += f" (batches of {r['batch']}: {r['batches']})"
            print(f"| {size} ({r['megapixels']:.1f} MP) | {label} | {r['rms_px']:.4f} | {r['max_px']:.4f} | {mps} "
                  f"| {mem} | {ratio} |")
    print("\nRMS and max: Euclidean error of (dy, dx) against the truth over the moving images. "
          "MP/s: 9 images x megapixels / wall s (host uint16 arrays to host results, copies included). "
          "Peak device MB: the method's own high-water mark (cuMemGetInfo drop in parentheses); n/a on the CPU.")
    for n in notes:
        print(f"* {n}")
    for r in rows:
        if r.get("h2d_gb_per_s") and not r.get("memory_limit"):
            print(f"* {r['size']}: the host-to-device copy of the 9 images alone (CuPy, pageable memory): "
                  f"{r['h2d_seconds'] * 1e3:.1f} ms, {r['h2d_gb_per_s']:.1f} GB/s")
    return 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rp = sub.add_parser("run", help="run the peers on one size's folder")
    rp.add_argument("--dir", required=True)
    rp.add_argument("--methods", default="cupy,opencv,skimage")
    rp.add_argument("--xp", default="cupy", choices=["cupy", "numpy"], help="array module of the batched method")
    rp.add_argument("--reps", type=int, default=3)
    rp.add_argument("--cpu-budget", type=float, default=40.0, help="seconds per CPU method and size")
    rp.add_argument("--memory-limit", type=int, default=0, help="bytes of device memory for the batched method")
    rp.add_argument("--verbose", action="store_true", help="one JSON line per image too")
    pp = sub.add_parser("report", help="the Markdown table of JSON lines")
    pp.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.cmd == "report":
        return report(args.files)
    ref, movs, expected = load(args.dir)
    for m in args.methods.split(","):
        m = m.strip()
        try:
            if m == "cupy":
                if args.xp == "cupy":
                    import cupy as xp
                else:
                    xp = np
                r = run_batched(xp, ref, movs, expected, args.reps, args.memory_limit, args.verbose)
            elif m in ("opencv", "skimage"):
                r = run_cpu_peer(m, ref, movs, expected, args.cpu_budget, args.verbose)
            else:
                sys.exit(f"register_peers: --methods: unknown method '{m}' (cupy, opencv, skimage)")
        except ImportError as e:
            H, W = ref.shape
            r = {"bench": "register", "size": f"{W}x{H}", "width": W, "height": H, "megapixels": W * H / 1e6,
                 "method": m, "label": m, "error": f"not installed: {e}"}
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
