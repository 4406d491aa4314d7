"""Writes a broken or unusual .npy map, for the external plugin's format tests.

Usage: python3 tests/saliency/malformed_npy.py MODE {output}
MODE: fortran (fortran_order True), int32 (dtype '<i4'), 3d (shape (1, H, W)),
truncated (data shorter than the shape), nan (a NaN at row 1, column 2),
badmagic (not a .npy), range (values up to 2, for normalize false),
unit (values in [0, 1], for normalize false), bigendian ('>f4', valid),
none (writes nothing, exits 0).
"""
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import npy_util  # noqa: E402

mode, out = sys.argv[1], sys.argv[2]
H, W = 4, 6
ramp = [(y * W + x) / float(H * W - 1) for y in range(H) for x in range(W)]
if mode == "fortran":
    npy_util.write(out, ramp, (H, W), "<f8", fortran_order=True)
elif mode == "int32":
    npy_util.write(out, list(range(H * W)), (H, W), "<i4")
elif mode == "3d":
    npy_util.write(out, ramp, (1, H, W), "<f8")
elif mode == "truncated":
    with open(out, "wb") as f:
        f.write(npy_util.header("<f8", (H, W)) + struct.pack("<%dd" % (H * W - 1), *ramp[:-1]))
elif mode == "nan":
    v = list(ramp)
    v[1 * W + 2] = float("nan")
    npy_util.write(out, v, (H, W), "<f8")
elif mode == "badmagic":
    with open(out, "wb") as f:
        f.write(b"not a numpy file at all\n")
elif mode == "range":
    npy_util.write(out, [2.0 * v for v in ramp], (H, W), "<f8")
elif mode == "unit":
    npy_util.write(out, ramp, (H, W), "<f8")
elif mode == "bigendian":
    npy_util.write(out, ramp, (H, W), ">f4")
elif mode == "none":
    pass
else:
    sys.exit("unknown mode " + mode)
