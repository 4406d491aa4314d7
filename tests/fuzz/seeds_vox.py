#!/usr/bin/env python3
"""tests/fuzz/seeds_vox.py OUT_DIR - writes the seed corpus of fuzz_vox:
three small MagicaVoxel .vox files built from the format's description
(ephtracy/voxel-model, MagicaVoxel-file-format-vox.txt and
-vox-extension.txt), so that no binary file lives in the repository.
tests/test_fuzz.sh runs it into its working copy of the corpus.

  cube_rgba.vox            one 2 x 2 x 2 model with an RGBA palette
  one_default_palette.vox  one voxel, no palette (the default one), and
                           MATL / LAYR chunks the reader must skip
  scene_graph.vox          two models placed by nTRN / nGRP / nSHP nodes with
                           translations (_t) and rotations (_r)
Standard library only."""
import os
import struct
import sys


def chunk(cid, content=b"", children=b""):
    return cid + struct.pack("<ii", len(content), len(children)) + content + children


def string(s):
    b = s.encode()
    return struct.pack("<i", len(b)) + b


def dict_(pairs):
    return struct.pack("<i", len(pairs)) + b"".join(string(k) + string(v) for k, v in pairs)


def vox(*children):
    return b"VOX " + struct.pack("<i", 150) + chunk(b"MAIN", b"", b"".join(children))


def model(sx, sy, sz, voxels):
    return (chunk(b"SIZE", struct.pack("<iii", sx, sy, sz)) +
            chunk(b"XYZI", struct.pack("<i", len(voxels)) + b"".join(bytes(v) for v in voxels)))


def ntrn(node, child, frame):
    return chunk(b"nTRN", struct.pack("<i", node) + dict_([]) + struct.pack("<iiii", child, -1, 0, 1) + dict_(frame))


def seeds():
    cube = [(x, y, z, 1 + x + 2 * y + 4 * z) for z in range(2) for y in range(2) for x in range(2)]
    palette = b"".join(bytes((i, 255 - i, (7 * i) & 255, 255)) for i in range(256))
    yield "cube_rgba.vox", vox(model(2, 2, 2, cube), chunk(b"RGBA", palette))
    yield "one_default_palette.vox", vox(
        chunk(b"MATL", struct.pack("<i", 1) + dict_([("_type", "_diffuse")])),
        model(1, 1, 1, [(0, 0, 0, 42)]),
        chunk(b"LAYR", struct.pack("<i", 0) + dict_([("_name", "a")]) + struct.pack("<i", -1)))
    graph = [
        model(3, 2, 1, [(0, 0, 0, 1), (2, 1, 0, 2)]),
        model(1, 1, 1, [(0, 0, 0, 7)]),
        ntrn(0, 1, [("_t", "1 2 3")]),
        chunk(b"nGRP", struct.pack("<i", 1) + dict_([("_name", "g")]) + struct.pack("<iiii", 3, 2, 4, 6)),
        ntrn(2, 3, [("_r", "17"), ("_t", "10 20 30")]),
        chunk(b"nSHP", struct.pack("<i", 3) + dict_([]) + struct.pack("<ii", 1, 0) + dict_([])),
        ntrn(4, 5, []),
        chunk(b"nSHP", struct.pack("<i", 5) + dict_([]) + struct.pack("<ii", 1, 1) + dict_([])),
        ntrn(6, 3, [("_r", "52"), ("_t", "-5 0 0")]),
    ]
    yield "scene_graph.vox", vox(*graph)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: seeds_vox.py OUT_DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)
