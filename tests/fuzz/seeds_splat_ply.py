#!/usr/bin/env python3
"""tests/fuzz/seeds_splat_ply.py OUT_DIR - writes the seed corpus of
fuzz_splat_ply: small 3DGS PLY files (Kerbl et al. 2023's layout on Greg
Turk's PLY format), so that no binary file lives in the repository.
tests/test_fuzz.sh runs it into its working copy of the corpus. Each file
starts with one byte the target reads as flags (bit 0: lenient).

  deg0_binary.ply     2 vertices, SH degree 0, binary little-endian
  deg1_ascii.ply      2 vertices, SH degree 1 (9 f_rest), ASCII
  shuffled_extra.ply  shuffled properties, no normals, a uchar extra
  trailing.ply        degree 0 with 5 bytes after the last vertex (lenient)
Standard library only."""
import os
import struct
import sys

STD = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
TAIL = ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]


def names(rest):
    return STD + ["f_rest_%d" % k for k in range(rest)] + TAIL


def ply(props, n, ascii_, tail=b""):
    head = "ply\nformat %s 1.0\nelement vertex %d\n" % ("ascii" if ascii_ else "binary_little_endian", n)
    head += "".join("property %s %s\n" % (t, p) for t, p in props) + "end_header\n"
    body = b""
    for i in range(n):
        vals = [0.25 * (i + j) - 1.0 for j in range(len(props))]
        if ascii_:
            body += (" ".join("%d" % int(v) if t == "uchar" else "%g" % v for (t, _), v in zip(props, vals)) + "\n").encode()
        else:
            body += b"".join(struct.pack("<B", int(abs(v))) if t == "uchar" else struct.pack("<f", v)
                             for (t, _), v in zip(props, vals))
    return head.encode() + body + tail


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "deg0_binary.ply": b"\0" + ply([("float", p) for p in names(0)], 2, False),
        "deg1_ascii.ply": b"\0" + ply([("float", p) for p in names(9)], 2, True),
        "shuffled_extra.ply": b"\0" + ply([("float", p) for p in reversed(names(0)[:3] + names(0)[6:])] +
                                          [("uchar", "label")], 2, False),
        "trailing.ply": b"\1" + ply([("float", p) for p in names(0)], 1, False, b"extra"),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
