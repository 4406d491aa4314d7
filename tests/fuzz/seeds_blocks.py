#!/usr/bin/env python3
"""tests/fuzz/seeds_blocks.py OUT_DIR - writes the seed corpus of fuzz_blocks
(tools/dvren_blocks.h's loaders): dvren.blocks/1 JSON worlds (logit rows, id
rows, a material table), .npy label volumes and block lists (NEP 1,
versions 1.0 and 2.0) and a small MagicaVoxel .vox, so that no binary file
lives in the repository. tests/test_fuzz.sh runs it into its working copy
of the corpus. Standard library only."""
import json
import os
import struct
import sys


def npy(descr, shape, raw, major=1):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    pre = 10 if major == 1 else 12
    hdr += " " * ((64 - (pre + len(hdr) + 1) % 64) % 64) + "\n"
    n = struct.pack("<H", len(hdr)) if major == 1 else struct.pack("<I", len(hdr))
    return b"\x93NUMPY" + bytes([major, 0]) + n + hdr.encode() + raw


def chunk(cid, content):
    return cid + struct.pack("<ii", len(content), 0) + content


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {}
    seeds["world.json"] = json.dumps({
        "format": "dvren.blocks/1", "size": [4, 3, 2], "scale": 0.5, "origin": [1, -2, 3.25],
        "materials": [{"name": "red", "top": [1, 0, 0], "side": [0.5, 0, 0], "bottom": [0.25, 0, 0]},
                      {"name": "blue", "top": [0, 0, 1], "side": [0, 0, 0.5], "bottom": [0, 0, 0.125]}],
        "blocks": [[0, 0, 0, 1.5, -2], [3, 2, 1, 2], [1, 0, 1, 1]]}).encode()
    seeds["ids.json"] = json.dumps({"format": "dvren.blocks/1", "size": [3, 3, 3],
                                    "blocks": [[0, 0, 0, 3], [1, 0, 0, 8], [2, 2, 2, 1]]}).encode()
    v = bytearray(24)
    for (x, y, z, l) in [(2, 0, 0, 3), (0, 1, 0, 1), (1, 0, 3, 8)]:
        v[(x * 2 + y) * 4 + z] = l
    seeds["labels.npy"] = npy("|u1", (3, 2, 4), bytes(v))
    rows = [2, 0, 1, 0, 0, 0, 0, 0.25, -7.25, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    seeds["list_f4.npy"] = npy("<f4", (2, 11), struct.pack("<22f", *rows))
    seeds["list_f8.npy"] = npy("<f8", (2, 11), struct.pack("<22d", *rows), major=2)
    vox = [(0, 0, 0, 5), (2, 1, 3, 9), (1, 0, 2, 5)]
    kids = chunk(b"SIZE", struct.pack("<3i", 3, 2, 4)) + chunk(b"XYZI", struct.pack("<i", len(vox)) + b"".join(bytes(q) for q in vox))
    seeds["model.vox"] = b"VOX " + struct.pack("<i", 150) + b"MAIN" + struct.pack("<ii", 0, len(kids)) + kids
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
