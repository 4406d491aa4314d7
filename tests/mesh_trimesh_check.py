"""tests/mesh_trimesh_check.py OUTDIR SUMMARY.json - trimesh and pygltflib
against dvren's mesh writers (tools/dvren_mesh_io.h).

OUTDIR holds what tests/mesh_trimesh_write.c wrote (sphere.obj, sphere.ply,
scene.glb, scene_zup.glb); SUMMARY.json its facts, computed from the meshes
in memory. Checks:
  OBJ, PLY  trimesh reads 642 vertices and 1280 faces, the bounds to 1e-6,
            a watertight, winding-consistent mesh whose volume is the
            polyhedron's (1e-7 relative: OBJ text is read in double; positive, so the faces point out)
            and within 1% under the sphere's 4/3 pi R^3; vertices on the
            sphere; the normals point outward; the colours.
  GLB       trimesh reads a scene with nodes "sphere" and "tetra", their
            transforms and the scene's bounds (the tetra turned 90 degrees
            about z, both translated; the Z-up file turned once more,
            (x, y, z) -> (x, z, -y), under a root "z_up_to_y_up");
            pygltflib loads it, its validator finds nothing, and every
            buffer view and accessor lies inside the BIN chunk, POSITION's
            min/max are the data's, indices are below the vertex count,
            NORMAL is unit length and points out of the sphere.
Prints one line per file; exits 1 (with the failed assertion) on a mismatch."""
import json
import logging
import struct
import sys
import warnings

import numpy as np
import pygltflib
import trimesh
from pygltflib.validator import validate

# trimesh logs a traceback when scipy (not needed here) is missing for its vertex-normal speed-up
logging.getLogger("trimesh").setLevel(logging.ERROR)
outdir, summary = sys.argv[1], sys.argv[2]
S = json.load(open(summary))
sp, tp = S["sphere"], S["tetra"]
center, R = np.array(sp["center"]), sp["radius"]


def check_sphere(m, what, normals=True):
    assert len(m.vertices) == sp["vertices"] and len(m.faces) == sp["triangles"], (what, len(m.vertices), len(m.faces))
    assert np.allclose(m.bounds, [sp["min"], sp["max"]], rtol=0, atol=1e-6), (what, m.bounds)
    assert m.is_watertight, what + ": not watertight"
    assert m.is_winding_consistent, what + ": winding not consistent"
    assert abs(m.volume - sp["volume"]) <= 1e-7 * sp["volume"], (what, m.volume, sp["volume"])
    ball = 4.0 / 3.0 * np.pi * R ** 3
    assert 0.99 * ball < m.volume < ball, (what, m.volume, ball)
    r = np.linalg.norm(m.vertices - center, axis=1)
    assert np.abs(r - R).max() < 1e-6, (what, np.abs(r - R).max())
    if normals:
        out = (m.vertices - center) / R
        cos = np.einsum("ij,ij->i", np.asarray(m.vertex_normals), out)
        assert cos.min() > 0.9999, (what, cos.min())
    return m.volume


def check_colours(m, what):
    c = np.asarray(m.visual.vertex_colors)[:, :3].astype(float)
    want = np.round((0.5 + 0.5 * (m.vertices - center) / R) * 255.0)
    assert np.abs(c - want).max() <= 1.0, (what, np.abs(c - want).max())


for name in ("sphere.obj", "sphere.ply"):
    path = "%s/%s" % (outdir, name)
    m = trimesh.load(path, process=False, force="mesh")
    v = check_sphere(m, name)
    check_colours(m, name)
    print("%s: %d vertices, %d faces, watertight, volume %.9g (polyhedron %.9g)" % (name, len(m.vertices), len(m.faces), v, sp["volume"]))


def quat_matrix(q):
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def expected_bounds(zup):
    sph = np.array([sp["min"], sp["max"]]) + np.array(sp["translation"])
    tet = np.asarray(tp["positions"], float) @ quat_matrix(tp["rotation_xyzw"]).T + np.array(tp["translation"])
    pts = np.vstack([sph, tet])
    if zup:
        pts = np.stack([pts[:, 0], pts[:, 2], -pts[:, 1]], axis=1)
    return np.array([pts.min(axis=0), pts.max(axis=0)])


def check_glb_bytes(path):
    data = open(path, "rb").read()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data), (magic, version, length, len(data))
    jlen, jtype = struct.unpack_from("<II", data, 12)
    assert jtype == 0x4E4F534A and jlen % 4 == 0, (hex(jtype), jlen)
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    assert btype == 0x004E4942 and blen % 4 == 0 and 28 + jlen + blen == len(data), (hex(btype), blen)


def check_gltf(path, zup):
    check_glb_bytes(path)
    g = pygltflib.GLTF2().load(path)
    assert g.asset.version == "2.0" and g.asset.generator == "dvren", g.asset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = validate(g, warning=True)
    assert not errors, errors
    blob = g.binary_blob()
    assert len(g.buffers) == 1 and g.buffers[0].uri is None and g.buffers[0].byteLength <= len(blob)
    for i, bv in enumerate(g.bufferViews):
        assert bv.buffer == 0 and (bv.byteOffset or 0) % 4 == 0 and (bv.byteOffset or 0) + bv.byteLength <= g.buffers[0].byteLength, (i, bv)
    sizes = {5121: 1, 5123: 2, 5125: 4, 5126: 4}
    comps = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}
    dtypes = {5121: "<u1", 5123: "<u2", 5125: "<u4", 5126: "<f4"}

    def read(index):
        a = g.accessors[index]
        bv = g.bufferViews[a.bufferView]
        n = comps[a.type]
        assert (a.byteOffset or 0) + a.count * n * sizes[a.componentType] <= bv.byteLength, (index, a)
        start = (bv.byteOffset or 0) + (a.byteOffset or 0)
        return np.frombuffer(blob, dtype=dtypes[a.componentType], count=a.count * n, offset=start).reshape(a.count, n), a

    names = [n.name for n in g.nodes]
    if zup:
        root = g.nodes[g.scenes[g.scene].nodes[0]]
        assert len(g.scenes[g.scene].nodes) == 1 and root.name == "z_up_to_y_up", names
        assert np.allclose(root.rotation, [-np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-15), root.rotation
        assert [names[c] for c in root.children] == ["sphere", "tetra"], names
    else:
        assert [names[c] for c in g.scenes[g.scene].nodes] == ["sphere", "tetra"], names
    for node in g.nodes:
        if node.mesh is None:
            continue
        prim = g.meshes[node.mesh].primitives[0]
        assert prim.mode == 4, prim.mode
        pos, a = read(prim.attributes.POSITION)
        assert a.componentType == 5126 and a.type == "VEC3"
        assert np.array_equal(np.asarray(a.min, np.float32), pos.min(axis=0)) and np.array_equal(np.asarray(a.max, np.float32), pos.max(axis=0)), \
            (node.name, a.min, a.max)
        idx, ia = read(prim.indices)
        assert ia.componentType == 5125 and ia.count % 3 == 0 and idx.max() < a.count, (node.name, idx.max(), a.count)
        want = sp if node.name == "sphere" else tp
        assert a.count == want["vertices"] and ia.count == 3 * want["triangles"], (node.name, a.count, ia.count)
        if prim.attributes.NORMAL is not None:
            nrm, _ = read(prim.attributes.NORMAL)
            assert np.abs(np.linalg.norm(nrm, axis=1) - 1).max() < 1e-6
            if node.name == "sphere":
                cos = np.einsum("ij,ij->i", nrm.astype(float), (pos - center) / R)
                assert cos.min() > 0.9999, ("NORMAL points inward", cos.min())
        if prim.attributes.COLOR_0 is not None:
            col, _ = read(prim.attributes.COLOR_0)
            assert col.min() >= 0 and col.max() <= 1


for name, zup in (("scene.glb", False), ("scene_zup.glb", True)):
    path = "%s/%s" % (outdir, name)
    check_gltf(path, zup)
    scene = trimesh.load(path, process=False)
    assert isinstance(scene, trimesh.Scene), type(scene)
    nodes = set(scene.graph.nodes_geometry)
    assert nodes == {"sphere", "tetra"}, nodes
    if zup:
        assert "z_up_to_y_up" in scene.graph.nodes, scene.graph.nodes
    mat, geom = scene.graph["sphere"]
    check_sphere(scene.geometry[geom], name + ":sphere", normals=False)  # NORMAL: checked in check_gltf
    world = np.asarray(sp["translation"], float)
    if zup:
        world = np.array([world[0], world[2], -world[1]])
    assert np.allclose(mat[:3, 3], world, atol=1e-12), (name, mat)
    mat, geom = scene.graph["tetra"]
    t = scene.geometry[geom]
    assert len(t.vertices) == 4 and len(t.faces) == 4 and t.is_watertight and t.volume > 0, (name, t.volume)
    assert np.allclose(scene.bounds, expected_bounds(zup), rtol=0, atol=1e-6), (name, scene.bounds, expected_bounds(zup))
    print("%s: nodes %s, bounds %s, pygltflib: valid" % (name, sorted(nodes), np.round(scene.bounds, 6).tolist()))
