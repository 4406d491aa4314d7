#!/usr/bin/env python3
"""tests/fuzz/seeds_mesh_io.py OUT_DIR - writes the seed corpus of
fuzz_mesh_io (tools/dvren_mesh_io.h's readers), so that no binary file
lives in the repository. tests/test_fuzz.sh runs it into its working copy
of the corpus. Each file starts with the byte the target reads as the
reader to use (value % 3: 0 OBJ, 1 PLY, 2 GLB; bit 2: GLB read as Z-up).

  forms.obj       v with colours, vt, vn, f in the forms v, v/vt, v//vn, v/vt/vn, negative indices, a quad
  ascii.ply       4 vertices with normals and uchar colours, a quad, an edge element
  le.ply, be.ply  binary little- and big-endian: float xyz, a triangle (uchar count, uint indices)
  two.glb         glTF 2.0 binary: two nodes (one a child), POSITION/NORMAL/COLOR_0/indices
  zup.glb         the same read with the Z-up flag
Standard library only."""
import json
import os
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def write(name, first, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([first]) + body)


write("forms.obj", 0, b"# seed\no a\nv 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0 0 0 1\nv 0 1 0 1 1 1\n"
      b"vt 0 0\nvt 1 1\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\n"
      b"f 1/1/1 2/2/2 3/1/3 4/2/4\nf -4//-4 -3//-3 -2//-2\nf 1 2 3\nf 1/1 2/2 4/1\n")
write("ascii.ply", 1, b"ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
      b"property float nx\nproperty float ny\nproperty float nz\nproperty uchar red\nproperty uchar green\nproperty uchar blue\n"
      b"element face 1\nproperty list uchar int vertex_indices\nelement edge 1\nproperty int vertex1\nproperty int vertex2\n"
      b"end_header\n0 0 0 0 0 1 255 0 0\n1 0 0 0 0 1 0 255 0\n1 1 0 0 0 1 0 0 255\n0 1 0 0 0 1 9 9 9\n4 0 1 2 3\n0 1\n")
for name, fmt, order in (("le.ply", "binary_little_endian", "<"), ("be.ply", "binary_big_endian", ">")):
    head = ("ply\nformat %s 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
            "element face 1\nproperty list uchar uint vertex_indices\nend_header\n" % fmt).encode()
    body = struct.pack(order + "9f", 0, 0, 0, 1, 0, 0, 0, 1, 0) + struct.pack(order + "B3I", 3, 0, 1, 2)
    write(name, 1, head + body)


def glb():
    pos = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    nrm = [0, 0, 1] * 4
    col = [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 9, 9, 9, 255]
    idx = [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3]
    b = struct.pack("<12f", *pos) + struct.pack("<12f", *nrm) + bytes(col) + struct.pack("<12H", *idx)
    doc = {
        "asset": {"version": "2.0", "generator": "seed"},
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "a", "mesh": 0, "translation": [1, 2, 3], "children": [1]},
                  {"name": "b", "mesh": 0, "matrix": [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1, "COLOR_0": 2}, "indices": 3, "mode": 4}]}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 1]},
            {"bufferView": 1, "componentType": 5126, "count": 4, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5121, "normalized": True, "count": 4, "type": "VEC4"},
            {"bufferView": 3, "componentType": 5123, "count": 12, "type": "SCALAR"}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 48}, {"buffer": 0, "byteOffset": 48, "byteLength": 48},
                        {"buffer": 0, "byteOffset": 96, "byteLength": 16}, {"buffer": 0, "byteOffset": 112, "byteLength": 24}],
        "buffers": [{"byteLength": len(b)}],
    }
    j = json.dumps(doc, separators=(",", ":")).encode()
    j += b" " * (-len(j) % 4)
    b += b"\0" * (-len(b) % 4)
    total = 12 + 8 + len(j) + 8 + len(b)
    return struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(j), 0x4E4F534A) + j + struct.pack("<II", len(b), 0x004E4942) + b


write("two.glb", 2, glb())
write("zup.glb", 5, glb())  # 5 % 3 == 2, bit 2 (4) set
