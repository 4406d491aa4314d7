#!/usr/bin/env python3
"""tests/fuzz/seeds_splat_npz.py OUT_DIR - writes the seed corpus of
fuzz_splat_npz: small gsplat-style .npz scenes (a zip of stored .npy
members, as numpy.savez writes it), so that no binary file lives in the
repository. tests/test_fuzz.sh runs it into its working copy of the
corpus. Each file starts with one byte the target reads as flags (bit 0:
no crop, bit 1: grid 3).

  scene.npz       4 points (one outside the crop), 2 cameras
  scene_grid.npz  the same with the no-crop and grid-3 flags
  bad_crc.npz     Ks's CRC-32 off by one
  no_colors.npz   the colors member left out
Standard library only (zipfile writes the archive: ZIP_STORED)."""
import io
import os
import struct
import sys
import zipfile


def npy(descr, shape, data):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data


def members():
    means = [0.5, -1.0, 2.0, -2.0, 0.0, 1.5, 1.0, 1.0, -0.25, 3.0, 0.0, 0.0]
    colors = bytes([0, 128, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3])
    view, ks = [], []
    for c in range(2):
        v = [1.0 if k % 5 == 0 else 0.0 for k in range(16)]
        v[11] = 3.0 + c
        view += v
        ks += [50.0, 0.0, 32.0, 0.0, 51.0, 24.0, 0.0, 0.0, 1.0]
    return {
        "means3d.npy": npy("<f4", "(4, 3)", struct.pack("<12f", *means)),
        "colors.npy": npy("|u1", "(4, 3)", colors),
        "viewmats.npy": npy("<f4", "(2, 4, 4)", struct.pack("<32f", *view)),
        "Ks.npy": npy("<f4", "(2, 3, 3)", struct.pack("<18f", *ks)),
        "width.npy": npy("<i8", "()", struct.pack("<q", 64)),
        "height.npy": npy("<i8", "()", struct.pack("<q", 48)),
    }


def archive(m, drop=None):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in m.items():
            if name != drop:
                z.writestr(name, data)
    return b.getvalue()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    m = members()
    good = archive(m)
    bad = bytearray(good)
    # the central directory record of Ks.npy: its CRC-32 sits 16 bytes after the signature
    i = bad.find(b"PK\x01\x02", bad.find(b"PK\x01\x02") + 1)
    while i >= 0 and bad[i + 46:i + 52] != b"Ks.npy":
        i = bad.find(b"PK\x01\x02", i + 1)
    if i >= 0:
        bad[i + 16] ^= 1
    files = {"scene.npz": b"\x00" + good, "scene_grid.npz": b"\x03" + good, "bad_crc.npz": b"\x00" + bytes(bad),
             "no_colors.npz": b"\x00" + archive(m, "colors.npy")}
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
