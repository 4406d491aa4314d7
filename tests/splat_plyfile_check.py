"""tests/splat_plyfile_check.py PLY OUT.ply COUNT DEGREE - plyfile against dvren's PLY writer.

Reads PLY (written by dvren_splat_ply_save) with plyfile, as the 3DGS code
base does (scene/gaussian_model.py load_ply), checks the element, the count,
the property names in 3DGS's order and their float32 type, writes the data
back with plyfile (binary little-endian), and prints "same" when plyfile's
file has the same bytes as dvren's, else the first difference. Exit 1 on a
mismatch."""
import sys

import numpy as np
from plyfile import PlyData, PlyElement

path, out, count, degree = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ply = PlyData.read(path)
assert [e.name for e in ply.elements] == ["vertex"], [e.name for e in ply.elements]
v = ply["vertex"]
assert v.count == count, (v.count, count)
rest = 3 * ((degree + 1) ** 2 - 1)
names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + ["f_rest_%d" % i for i in range(rest)] + \
    ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
got = [p.name for p in v.properties]
assert got == names, (got[:12], names[:12])
assert all(v.data.dtype[n] == np.dtype("<f4") for n in names), v.data.dtype
assert np.isfinite(np.stack([v[n] for n in names])).all()
PlyData([PlyElement.describe(v.data, "vertex")], text=False, byte_order="<").write(out)
a, b = open(path, "rb").read(), open(out, "rb").read()
if a == b:
    print("same %d bytes" % len(a))
    sys.exit(0)
i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
print("differ at byte %d of %d / %d: dvren %r plyfile %r" % (i, len(a), len(b), a[max(0, i - 20):i + 20],
                                                               b[max(0, i - 20):i + 20]))
sys.exit(1)
