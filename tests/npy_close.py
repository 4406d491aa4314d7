#!/usr/bin/env python3
"""tests/npy_close.py A.npy B.npy MAX_ABS - whether two float32 .npy arrays
of the same shape agree: prints "max_abs E psnr P dB (N values)" and exits 0
when the largest absolute difference is at most MAX_ABS, 1 when it is not,
2 when a file is not a little-endian float32 .npy (version 1 to 3) or the
shapes differ. Standard library only (the CI machine has no NumPy); PSNR is
10 log10(1 / mean squared difference), 99 for identical arrays. Used by
tests/test_fit.sh and tests/test_fit_images.sh (fit_volume --save)."""
import array
import ast
import math
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:6] != b"\x93NUMPY" or b[6] not in (1, 2, 3):
        raise ValueError(f"{path}: not a .npy file")
    if b[6] == 1:
        hlen, start = struct.unpack("<H", b[8:10])[0], 10
    else:
        hlen, start = struct.unpack("<I", b[8:12])[0], 12
    hdr = ast.literal_eval(b[start:start + hlen].decode("latin1"))
    if hdr.get("descr") != "<f4" or hdr.get("fortran_order"):
        raise ValueError(f"{path}: {hdr.get('descr')} (fortran_order {hdr.get('fortran_order')}), expected <f4 in C order")
    a = array.array("f")
    a.frombytes(b[start + hlen:])
    if sys.byteorder != "little":
        a.byteswap()
    n = 1
    for d in hdr["shape"]:
        n *= d
    if len(a) != n:
        raise ValueError(f"{path}: {len(a)} values for shape {hdr['shape']}")
    return tuple(hdr["shape"]), a


def main():
    if len(sys.argv) != 4:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    try:
        (sa, a), (sb, b) = load(sys.argv[1]), load(sys.argv[2])
        tol = float(sys.argv[3])
    except (OSError, ValueError, SyntaxError) as e:
        print(f"npy_close: {e}", file=sys.stderr)
        return 2
    if sa != sb:
        print(f"npy_close: shapes differ: {sa} and {sb}", file=sys.stderr)
        return 2
    se, mx = 0.0, 0.0
    for x, y in zip(a, b):
        d = abs(x - y)
        if d != d:  # a NaN on either side never agrees
            d = math.inf
        se += d * d
        mx = d if d > mx else mx
    mse = se / max(len(a), 1)
    print("max_abs %.3g psnr %.2f dB (%d values)" % (mx, -10.0 * math.log10(mse) if mse > 0 else 99.0, len(a)))
    return 0 if mx <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
