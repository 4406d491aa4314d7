#!/usr/bin/env python3
"""bench/splats_compare.py - the agreement and the table of the splat
benchmark (issue 14, "Targets"; bench/splats.sh). NumPy only.

  python3 bench/splats_compare.py report RESULTS.jsonl [MORE.jsonl ...]
  python3 bench/splats_compare.py psnr DVREN_DIR GSPLAT_DIR [--cameras C]

report reads the JSON lines of dvren's bench_splats ("renderer": "dvren")
and of bench/splats_peer.py ("renderer": "gsplat"), one per renderer and
workload (the last one wins), and prints a Markdown table: per workload the
forward and forward+backward ms per frame of both, the speed-up (gsplat's
ms / dvren's ms: above 1 means dvren is faster), the peak device memory of
both, and the agreement of the images. Lines it uses, besides "renderer"
and "workload": "images" (the folder of rgb_<c>.npy, alpha_<c>.npy and
optionally grad_<param>.npy), "cameras", "n_gaussians", "width", "height",
"fwd_ms", "fwdbwd_ms", "peak_fwd_bytes", "peak_fwdbwd_bytes",
"resident_fwd_bytes", "resident_fwdbwd_bytes" (the last two optional), and
"error" (the line of a failed run: listed under the table). A line with
"stage": "compile" and "seconds" (bench/splats.sh: gsplat's JIT compile)
is reported under the table.

Agreement, over the cameras c = 0..C-1 of the workload:
  PSNR_c = 10 log10(1 / MSE_c), MSE_c the mean over the H x W x 3 values of
  (dvren rgb_c - gsplat rgb_c)^2 in float64, peak value 1 (colours are in
  [0, 1] and the background is black); "inf" when equal. The table gives the
  smallest PSNR_c; the target is >= 50 dB.
  alpha: the largest |dvren alpha_c - gsplat alpha_c| over all pixels.
  gradients (when both folders hold grad_<p>.npy for p in means, log_scales,
  quats, opacity_logits, colors): ||g_dvren - g_gsplat||_2 / ||g_gsplat||_2
  per parameter; the table gives the largest and its parameter.
psnr prints the same figures for two folders, one line per camera.

Exit status: 0 when the table was made (whatever the figures), 1 when an
input could not be read (a JSON line that is not JSON, a missing image
named by a line: said under the table, and the status is 1), 2 on usage
errors.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

GRADS = ("means", "log_scales", "quats", "opacity_logits", "colors")
PSNR_TARGET = 50.0


class CompareError(Exception):
    """An image or gradient file that is missing or does not match."""


def load(path):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CompareError(f"{path}: missing")
    except Exception as e:  # noqa: BLE001 - any reader error names the file
        raise CompareError(f"{path}: cannot read ({e})")


def psnr(a, b):
    """PSNR in dB of two images with values in [0, 1] (peak 1); inf when equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def count_cameras(d):
    c = 0
    while os.path.exists(os.path.join(d, f"rgb_{c}.npy")):
        c += 1
    return c


def agreement(dvren_dir, gsplat_dir, cameras=None):
    """{"psnr": [per camera], "alpha_max_abs": float, "grad_rel": {p: err}}."""
    if cameras is None:
        cameras = count_cameras(gsplat_dir)
        if cameras == 0:
            raise CompareError(f"{gsplat_dir}: no rgb_0.npy")
    out = {"psnr": [], "alpha_max_abs": 0.0, "grad_rel": {}}
    for c in range(cameras):
        a = load(os.path.join(dvren_dir, f"rgb_{c}.npy"))
        b = load(os.path.join(gsplat_dir, f"rgb_{c}.npy"))
        if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
            raise CompareError(f"rgb_{c}.npy: shapes {a.shape} (dvren) and {b.shape} (gsplat), expected equal (H, W, 3)")
        if not np.isfinite(a).all():
            raise CompareError(f"{os.path.join(dvren_dir, f'rgb_{c}.npy')}: values that are not finite")
        out["psnr"].append(psnr(a, b))
        pa, pb = os.path.join(dvren_dir, f"alpha_{c}.npy"), os.path.join(gsplat_dir, f"alpha_{c}.npy")
        if os.path.exists(pa) and os.path.exists(pb):
            a, b = load(pa), load(pb)
            if a.shape != b.shape:
                raise CompareError(f"alpha_{c}.npy: shapes {a.shape} (dvren) and {b.shape} (gsplat)")
            if out["alpha_max_abs"] is not None:
                out["alpha_max_abs"] = max(out["alpha_max_abs"], float(np.abs(a.astype(np.float64) - b).max()))
        else:
            out["alpha_max_abs"] = None  # a folder without alpha_<c>.npy: not compared
    for p in GRADS:
        pa, pb = os.path.join(dvren_dir, f"grad_{p}.npy"), os.path.join(gsplat_dir, f"grad_{p}.npy")
        if os.path.exists(pa) and os.path.exists(pb):
            a, b = load(pa).astype(np.float64), load(pb).astype(np.float64)
            if a.shape != b.shape:
                raise CompareError(f"grad_{p}.npy: shapes {a.shape} (dvren) and {b.shape} (gsplat)")
            den = float(np.linalg.norm(b))
            num = float(np.linalg.norm(a - b))
            out["grad_rel"][p] = (num / den) if den > 0 else (0.0 if num == 0 else math.inf)
    return out


def fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.{digits}f}"


def mib(v):
    return None if v is None else v / 2**20


def ratio(g, d):
    return None if g is None or d is None or d <= 0 else g / d


def read_lines(paths):
    rows, notes, bad = {}, [], False
    for path in paths:
        try:
            f = open(path)
        except OSError as e:
            notes.append(f"{path}: cannot read ({e.strerror})")
            bad = True
            continue
        with f:
            for i, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    notes.append(f"{path}:{i}: not JSON ({e.msg})")
                    bad = True
                    continue
                if not isinstance(r, dict):
                    continue
                if r.get("stage") == "compile":
                    notes.append(f"{r.get('renderer', '?')} compile (JIT, once per machine): {r.get('seconds')} s"
                                 + (f" ({r['detail']})" if r.get("detail") else ""))
                    continue
                if "renderer" not in r or "workload" not in r:
                    continue
                if "error" in r:
                    notes.append(f"{r['renderer']} on {r['workload']} failed: {r['error']}")
                    continue
                rows.setdefault(r["workload"], {})[r["renderer"]] = r
    return rows, notes, bad


def report(paths):
    rows, notes, bad = read_lines(paths)
    head = ["workload", "Gaussians", "frames", "size",
            "fwd ms dvren", "fwd ms gsplat", "fwd speed-up",
            "fwd+bwd ms dvren", "fwd+bwd ms gsplat", "fwd+bwd speed-up",
            "peak MiB fwd dvren / gsplat", "peak MiB fwd+bwd dvren / gsplat",
            "PSNR dB (min)", "alpha max diff", "grad rel. err (max)", "targets"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    mem = []
    for w, by in rows.items():
        d, g = by.get("dvren"), by.get("gsplat")
        ref = g or d
        get = lambda r, k: None if r is None else r.get(k)  # noqa: E731
        agree = None
        if d is not None and g is not None:
            try:
                agree = agreement(d["images"], g["images"], g.get("cameras"))
            except (CompareError, KeyError) as e:
                notes.append(f"{w}: no comparison: {e}")
                bad = True
        pmin = min(agree["psnr"]) if agree else None
        grad = "—"
        if agree and agree["grad_rel"]:
            p = max(agree["grad_rel"], key=agree["grad_rel"].get)
            grad = f"{agree['grad_rel'][p]:.2e} ({p})"
        sf = ratio(get(g, "fwd_ms"), get(d, "fwd_ms"))
        sb = ratio(get(g, "fwdbwd_ms"), get(d, "fwdbwd_ms"))
        targets = "—"
        if agree and sf is not None and sb is not None:
            less = all(get(d, k) is not None and get(g, k) is not None and get(d, k) < get(g, k)
                       for k in ("peak_fwd_bytes", "peak_fwdbwd_bytes"))
            met = [f"PSNR {'yes' if pmin >= PSNR_TARGET else 'NO'}",
                   f"faster {'yes' if sf > 1 and sb > 1 else 'NO'}",
                   f"less memory {'yes' if less else 'NO'}"]
            targets = ", ".join(met)
        out.append("| " + " | ".join([
            w, f"{get(ref, 'n_gaussians'):,}" if get(ref, "n_gaussians") else "—",
            str(get(ref, "cameras") or "—"), f"{get(ref, 'width')} x {get(ref, 'height')}",
            fmt(get(d, "fwd_ms")), fmt(get(g, "fwd_ms")), fmt(sf, 2) + ("x" if sf else ""),
            fmt(get(d, "fwdbwd_ms")), fmt(get(g, "fwdbwd_ms")), fmt(sb, 2) + ("x" if sb else ""),
            f"{fmt(mib(get(d, 'peak_fwd_bytes')), 1)} / {fmt(mib(get(g, 'peak_fwd_bytes')), 1)}",
            f"{fmt(mib(get(d, 'peak_fwdbwd_bytes')), 1)} / {fmt(mib(get(g, 'peak_fwdbwd_bytes')), 1)}",
            fmt(pmin, 2), fmt(agree["alpha_max_abs"], 6) if agree else "—", grad, targets]) + " |")
        for name, r in (("dvren", d), ("gsplat", g)):
            if r is None:
                continue
            extra = [None if r.get(f"peak_{k}_bytes") is None or r.get(f"resident_{k}_bytes") is None
                     else r[f"peak_{k}_bytes"] - r[f"resident_{k}_bytes"] for k in ("fwd", "fwdbwd")]
            mem.append("| " + " | ".join([
                w, name, fmt(mib(r.get("resident_fwd_bytes")), 1), fmt(mib(r.get("peak_fwd_bytes")), 1),
                fmt(mib(extra[0]), 1), fmt(mib(r.get("resident_fwdbwd_bytes")), 1),
                fmt(mib(r.get("peak_fwdbwd_bytes")), 1), fmt(mib(extra[1]), 1),
                fmt(r.get("fwd_ms_min")), fmt(r.get("fwdbwd_ms_min"))]) + " |")
    print("\n".join(out))
    print("\nms per frame: median of the timed iterations (CUDA events), one frame = one camera's image; "
          "speed-up = gsplat ms / dvren ms (above 1: dvren faster); peak = the most device memory allocated "
          "during the timed iterations, inputs included (MiB = 2^20 bytes).")
    if mem:
        print("\n| workload | renderer | resident MiB fwd | peak MiB fwd | peak - resident fwd "
              "| resident MiB fwd+bwd | peak MiB fwd+bwd | peak - resident fwd+bwd | fwd ms min | fwd+bwd ms min |")
        print("|" + "---|" * 10)
        print("\n".join(mem))
        print("\nresident: allocated before the timed iterations (parameters, cameras; for fwd+bwd also the "
              "cotangent); peak - resident is what gsplat's profiler reports as 'Mem'.")
    if notes:
        print("\n" + "\n".join(f"- {n}" for n in notes))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report", help="the Markdown table of JSON-lines files")
    r.add_argument("jsonl", nargs="+")
    p = sub.add_parser("psnr", help="PSNR etc. of two image folders")
    p.add_argument("dvren_dir")
    p.add_argument("gsplat_dir")
    p.add_argument("--cameras", type=int, help="how many rgb_<c>.npy (default: all gsplat_dir has)")
    args = ap.parse_args()
    if args.cmd == "report":
        return report(args.jsonl)
    try:
        a = agreement(args.dvren_dir, args.gsplat_dir, args.cameras)
    except CompareError as e:
        print(f"splats_compare: {e}", file=sys.stderr)
        return 1
    for c, v in enumerate(a["psnr"]):
        print(f"camera {c}: PSNR {fmt(v, 2)} dB")
    print(f"alpha max |diff|: {fmt(a['alpha_max_abs'], 6)}")
    for k, v in a["grad_rel"].items():
        print(f"grad {k}: relative L2 error {v:.3e}")
    print(f"min PSNR {fmt(min(a['psnr']), 2)} dB: {'meets' if min(a['psnr']) >= PSNR_TARGET else 'MISSES'} the {PSNR_TARGET:g} dB target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
