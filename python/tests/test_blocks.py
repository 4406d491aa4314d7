"""python/tests/test_blocks.py - block worlds from Python (docs/blocks.md):
dvren.BlockWorld over tools/dvren_blocks.h, the block_world / dda / terrain
plugins through ctx.field(..., **world.to_params()), the surface_id output,
Stage.update (dvren_stage_update) and the gradient to the material logits.

Expected colours are recomputed here in float64 from the formulas and the
tables docs/blocks.md gives (the default materials, the terrain shader's
defaults), not from the code under test; ids from the documented cell
index x + X (y + Y z)."""
import json
import math

import numpy as np
import pytest

import dvren

from helpers import require_data

# docs/blocks.md, "Materials": top, side, bottom of ids 1..8
DOC_TABLE = np.array([
    [0.35, 0.62, 0.24, 0.45, 0.36, 0.22, 0.47, 0.33, 0.20],
    [0.47, 0.33, 0.20, 0.47, 0.33, 0.20, 0.47, 0.33, 0.20],
    [0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50],
    [0.86, 0.80, 0.56, 0.86, 0.80, 0.56, 0.86, 0.80, 0.56],
    [0.62, 0.50, 0.30, 0.40, 0.29, 0.16, 0.62, 0.50, 0.30],
    [0.20, 0.45, 0.15, 0.20, 0.45, 0.15, 0.20, 0.45, 0.15],
    [0.20, 0.35, 0.80, 0.20, 0.35, 0.80, 0.20, 0.35, 0.80],
    [0.95, 0.97, 1.00, 0.80, 0.82, 0.86, 0.47, 0.33, 0.20]])
DOC_NAMES = ["grass", "dirt", "stone", "sand", "wood", "leaves", "water", "snow"]
# docs/blocks.md, "Shading": the defaults; the top face (f = 2, n = +y)
SUN = np.array([0.4, 1.0, 0.3])
TOP_LIGHT = 1.0 * (0.4 + 0.6 * max(0.0, SUN[1] / np.linalg.norm(SUN)))
BACKGROUND = (0.1, 0.2, 0.3)


@pytest.fixture(scope="module")
def ctx():
    c = dvren.Context("cpu")
    yield c
    c.close()


def top_plan(ctx, world, n=64, outputs=("rgb", "alpha", "depth", "surface_id")):
    """An orthographic view straight down -y over the world's x-z square
    (n pixels across its X cells): column i sees x = (i + 0.5) X / n, row j
    z = (j + 0.5) Z / n (image up is -z)."""
    X, Y, Z = world.size
    cam = dvren.Camera.orthographic((X / 2, Y + 10.0, Z / 2), (X / 2, 0.0, Z / 2), (0, 0, -1), height=float(Z))
    return ctx.plan(n, n * Z // X, cam, outputs=outputs, background=BACKGROUND)


def blocks_scene(ctx, world, differentiable=False, **field):
    f = ctx.field("block_world", **world.to_params(), **field)
    return ctx.scene(f, ctx.shader("terrain"), ctx.sampler("dda"), differentiable=differentiable)


def softmax(l, tau):
    z = np.asarray(l, dtype=np.float64) / tau
    e = np.exp(z - z.max())
    return e / e.sum()


# ---------------------------------------------------------------- one block, exact


def test_one_block_top_face_is_the_documented_colour(ctx):
    w = dvren.BlockWorld((4, 4, 4))
    assert w.place(1, 2, 3, material="grass") == 0
    sc = blocks_scene(ctx, w, mode="hard")
    out = sc.render(top_plan(ctx, w))
    rgb, alpha, depth, sid = out["rgb"], out["alpha"], out["depth"], out["surface_id"]
    # 16 pixels per cell: the block's x in [1, 2] is columns 16..31, its z in [3, 4] rows 48..63
    inside = np.zeros((64, 64), dtype=bool)
    inside[48:64, 16:32] = True
    want = TOP_LIGHT * DOC_TABLE[0, 0:3]
    assert np.abs(rgb[inside] - want).max() < 1e-6, (rgb[inside][0], want)
    assert np.all(alpha[inside] == 1.0) and np.abs(depth[inside] - (14.0 - 3.0)).max() < 1e-5
    assert np.all(rgb[~inside] == np.float32(BACKGROUND)) and np.all(alpha[~inside] == 0.0)
    # surface_id: uint32 (H, W), the cell index x + X (y + Y z) of the block, NO_SURFACE elsewhere
    assert sid.dtype == np.uint32 and sid.shape == (64, 64)
    assert np.all(sid[inside] == 1 + 4 * (2 + 4 * 3))
    assert np.all(sid[~inside] == dvren.NO_SURFACE) and dvren.NO_SURFACE == 0xFFFFFFFF


def test_update_temperature_changes_the_image_as_the_formula_says(ctx):
    l = np.array([1.0, 2.0, 0.5, -1.0, 0.0, 0.25, -0.5, 1.5], dtype=np.float32)
    w = dvren.BlockWorld((1, 1, 1))
    w.place(0, 0, 0, logits=l)
    sc = blocks_scene(ctx, w, mode="softmax", temperature=1.0)
    plan = top_plan(ctx, w, n=8)

    def centre():
        return sc.render(plan)["rgb"][4, 4].astype(np.float64)

    for tau in (1.0, 0.25, 3.0):
        if tau != 1.0:
            sc.field.update(temperature=tau)
        want = TOP_LIGHT * softmax(l, tau) @ DOC_TABLE[:, 0:3]
        got = centre()
        assert np.abs(got - want).max() < 2e-6, (tau, got, want)
    sc.field.update(mode="hard")  # the argmax, material 2 (dirt)
    assert np.abs(centre() - TOP_LIGHT * DOC_TABLE[1, 0:3]).max() < 1e-6
    # Gumbel noise depends on the seed: two seeds, two colours; one seed, one colour
    sc.field.update(mode="gumbel", temperature=0.7, seed=3)
    a = centre()
    sc.field.update(seed=4)
    b = centre()
    sc.field.update(seed=3)
    assert not np.array_equal(a, b) and np.array_equal(centre(), a)


def test_update_errors_change_nothing(ctx):
    w = dvren.BlockWorld((1, 1, 1))
    w.place(0, 0, 0, logits=np.linspace(-1, 1, 8))
    sc = blocks_scene(ctx, w, mode="softmax", temperature=0.5)
    plan = top_plan(ctx, w, n=8)
    before = sc.render(plan)["rgb"].copy()
    with pytest.raises(dvren.InvalidArgumentError, match="'scale'") as e:
        sc.field.update(scale=2.0)  # not live
    assert e.value.module == "block_world" and e.value.status == "INVALID_ARGUMENT"
    with pytest.raises(dvren.InvalidArgumentError, match="temperature"):
        sc.field.update(temperature=-1.0)
    with pytest.raises(dvren.InvalidArgumentError, match="mode"):
        sc.field.update(mode="argmax")
    with pytest.raises(dvren.InvalidArgumentError, match="no_such_param"):
        sc.field.update(no_such_param=1)
    with pytest.raises(dvren.InvalidArgumentError):
        sc.field.update(temperature="hot")
    with pytest.raises(dvren.UnsupportedError, match="dda"):
        sc.sampler.update(step=1.0)
    assert np.array_equal(sc.render(plan)["rgb"], before)


# ---------------------------------------------------------------- optimisation


def test_adam_on_the_logits_recovers_a_two_material_world(ctx):
    """A 4 x 1 x 4 checkerboard of two materials (red, blue), seen from
    above in hard mode, recovered from random logits through softmax."""
    mats = [{"name": "red", "top": (0.8, 0.1, 0.1), "side": (0.6, 0.1, 0.1), "bottom": (0.4, 0.1, 0.1)},
            {"name": "blue", "top": (0.1, 0.2, 0.9), "side": (0.1, 0.2, 0.7), "bottom": (0.1, 0.1, 0.5)}]
    w = dvren.BlockWorld((4, 1, 4), materials=mats)
    for x in range(4):
        for z in range(4):
            w.place(x, 0, z, material=1 + (x + z) % 2)
    truth = w.argmax()
    assert sorted(np.bincount(truth)[1:]) == [8, 8]
    target = blocks_scene(ctx, w, mode="hard").render(top_plan(ctx, w, n=32, outputs="rgb"))["rgb"].copy()

    rng = np.random.default_rng(5)
    w.logits = rng.normal(0.0, 0.1, size=(16, 2)).astype(np.float32)
    assert (w.argmax() != truth).any(), "the start already is the answer: the test would prove nothing"
    sc = blocks_scene(ctx, w, differentiable=True, mode="softmax", temperature=1.0)
    p = sc.params["field.logits"]
    assert p.shape == (16, 2)
    plan = top_plan(ctx, w, n=32, outputs="rgb")
    opt = sc.optimizer("adam", lr=0.1)
    losses = []
    for step in range(40):
        sc.field.update(temperature=1.0 * 0.25 ** (step / 39))
        rgb = sc.render(plan)["rgb"]
        e = rgb.astype(np.float64) - target
        losses.append(float(np.mean(e * e)))
        sc.backward(plan, {"rgb": (2.0 * e / e.size).astype(np.float32)}, zero_grad=True)
        opt.step()
    w.logits = p.read()
    assert np.array_equal(w.argmax(), truth), (w.argmax(), truth)
    assert losses[-1] < 1e-3 * losses[0], losses[::8]


# ---------------------------------------------------------------- BlockWorld


def test_save_load_round_trip_is_exact(tmp_path):
    mats = [{"name": "a", "top": (0.1, 0.2, 0.3), "side": (1.0, 0.0, 0.5), "bottom": (0.333, 0.666, 0.999)},
            {"name": "b_2", "top": (0.0, 0.0, 0.0), "side": (0.7, 0.7, 0.7), "bottom": (1.0, 1.0, 1.0)},
            {"name": "c-3", "top": (0.25, 0.5, 0.75), "side": (0.01, 0.02, 0.03), "bottom": (0.9, 0.8, 0.7)}]
    w = dvren.BlockWorld((5, 3, 4), materials=mats)
    rng = np.random.default_rng(1)
    cells = rng.permutation(5 * 3 * 4)[:25]
    for c in cells:
        w.place(int(c % 5), int(c // 5 % 3), int(c // 15), logits=rng.normal(0, 3, 3))
    # extreme float32 values: the smallest subnormal, the largest finite, -0, a value that needs 9 digits
    w.logits = np.concatenate([w.logits[:-2], np.array([[1e-45, -3.4028235e38, -0.0], [0.1, 1 / 3, 16777217.0]],
                                                       dtype=np.float32)])
    path = tmp_path / "w.json"
    w.save(path)
    r = dvren.BlockWorld.load(path)
    assert r.size == (5, 3, 4) and r.scale == 1.0 and r.origin == (0.0, 0.0, 0.0) and len(r) == 25
    assert np.array_equal(r.positions, w.positions)
    assert np.array_equal(r.logits.view(np.uint32), w.logits.view(np.uint32))
    assert r.materials == w.materials and [m["name"] for m in r.materials] == ["a", "b_2", "c-3"]
    assert r.materials[0]["bottom"] == tuple(float(np.float32(v)) for v in (0.333, 0.666, 0.999))
    r.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()
    doc = json.loads(path.read_text())
    assert doc["format"] == "dvren.blocks/1" and doc["size"] == [5, 3, 4] and len(doc["blocks"]) == 25


def test_place_remove_at_and_argmax():
    w = dvren.BlockWorld((3, 2, 3))
    assert [m["name"] for m in w.materials] == DOC_NAMES
    assert np.allclose([m["top"] + m["side"] + m["bottom"] for m in w.materials], DOC_TABLE, atol=1e-7)
    assert w.place(0, 0, 0, material=3) == 0
    assert w.place(1, 0, 0, material="snow", logit=2.5) == 1
    assert w.place(2, 1, 2, logits=[0, 0, 0, 0, 0, 1, 1, 0]) == 2  # a tie: the lowest id wins
    assert w.logits[1, 7] == 2.5 and np.all(np.delete(w.logits[1], 7) == 0)
    assert list(w.argmax()) == [3, 8, 6]
    assert w.place(0, 0, 0, material=1) == 0  # replaces the logits, keeps the index
    assert list(w.argmax()) == [1, 8, 6] and len(w) == 3
    w.remove(0, 0, 0)  # the last block takes index 0
    assert len(w) == 2 and w.at(2, 1, 2) == 0 and w.at(1, 0, 0) == 1 and w.at(0, 0, 0) is None
    assert w.at(5, 0, 0) is None
    assert w.positions.tolist() == [[2, 1, 2], [1, 0, 0]] and w.positions.dtype == np.int32
    assert w.logits.dtype == np.float32 and w.logits.shape == (2, 8)
    with pytest.raises(ValueError):
        w.logits[0, 0] = 1.0  # a read-only copy: assign the whole array instead
    k, f = w.visible_faces()
    assert list(k) == [0] * 6 + [1] * 6 and list(f) == list(range(6)) * 2


def test_to_params_renders_like_the_file(ctx, tmp_path):
    """The tensors of to_params() and the plugin's own loading of the same
    file give the same field: bit-identical images and ids."""
    w = dvren.BlockWorld((6, 4, 5))
    rng = np.random.default_rng(2)
    for c in rng.permutation(120)[:50]:
        w.place(int(c % 6), int(c // 6 % 4), int(c // 24), logits=rng.normal(0, 1, 8))
    w.save(tmp_path / "w.json")
    cam = dvren.Camera.look_at((12, 9, 14), (3, 2, 2.5), (0, 1, 0), 0.8)
    plan = ctx.plan(48, 40, cam, outputs=("rgb", "surface_id"))
    p = w.to_params()
    assert p["blocks"].shape == (50, 11) and p["blocks"].dtype == np.float32
    assert p["material_table"].shape == (8, 9) and p["size"] == [6, 4, 5]
    a = blocks_scene(ctx, w, mode="softmax", temperature=0.6).render(plan)
    f = ctx.field("block_world", world=str(tmp_path / "w.json"), mode="softmax", temperature=0.6)
    b = ctx.scene(f, ctx.shader("terrain"), ctx.sampler("dda")).render(plan)
    assert (a["surface_id"] != dvren.NO_SURFACE).sum() > 200
    assert np.array_equal(a["rgb"], b["rgb"]) and np.array_equal(a["surface_id"], b["surface_id"])
    # every id is a solid cell of the world
    ids = a["surface_id"][a["surface_id"] != dvren.NO_SURFACE]
    solid = {int(x) + 6 * (int(y) + 4 * int(z)) for x, y, z in w.positions}
    assert set(int(i) for i in np.unique(ids)) <= solid
    # an empty world: no "blocks" tensor, nothing to see
    e = dvren.BlockWorld((2, 2, 2))
    assert "blocks" not in e.to_params()
    assert np.all(blocks_scene(ctx, e).render(plan)["surface_id"] == dvren.NO_SURFACE)


def test_real_vox_model():
    path = require_data("voxels/chr_cop1.vox")
    w = dvren.BlockWorld.load(path)
    # the model's facts (tests/test_vox.c, `dvren_blocks info`)
    assert w.size == (8, 11, 6) and len(w) == 267 and w.material_count == 10
    assert w.materials[0]["name"] == "vox9" and np.bincount(w.argmax()).tolist() == [0, 116, 60, 44, 2, 5, 18, 14, 2,
                                                                                    3, 3]
    assert float(w.logits.max()) == 10.0
    assert float(dvren.BlockWorld.load(path, label_logit=3.5).logits.max()) == 3.5


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_with_the_c_message(ctx, tmp_path):
    with pytest.raises(dvren.FileError, match="missing.json") as e:
        dvren.BlockWorld.load(tmp_path / "missing.json")
    assert isinstance(e.value, OSError)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "dvren.blocks/1", "size": [4, 4, 4], "blocks": [[9, 0, 0, 1]]}')
    with pytest.raises(dvren.FormatError, match=r"bad\.json: blocks\[0\].*outside"):
        dvren.BlockWorld.load(bad)
    bad.write_text('{"format": "dvren.blocks/1", "size": [4, 4, 4], "colour": 1}')
    with pytest.raises(dvren.FormatError, match="colour"):
        dvren.BlockWorld.load(bad)
    with pytest.raises(dvren.InvalidArgumentError, match="label_logit"):
        dvren.BlockWorld.load(bad, label_logit=0)

    w = dvren.BlockWorld((4, 4, 4))
    with pytest.raises(dvren.InvalidArgumentError, match=r"\(4, 0, 0\) is outside the 4 x 4 x 4 grid"):
        w.place(4, 0, 0, material=1)
    with pytest.raises(dvren.InvalidArgumentError, match="is air"):
        w.remove(1, 1, 1)
    with pytest.raises(dvren.InvalidArgumentError, match="outside 1..8"):
        w.place(0, 0, 0, material=9)
    with pytest.raises(dvren.InvalidArgumentError, match="no material named"):
        w.place(0, 0, 0, material="lava")
    with pytest.raises(dvren.InvalidArgumentError, match="3 logits, expected M = 8"):
        w.place(0, 0, 0, logits=[1, 2, 3])
    with pytest.raises(dvren.InvalidArgumentError, match="not finite"):
        w.place(0, 0, 0, logits=[0, 0, 0, math.nan, 0, 0, 0, 0])
    with pytest.raises(dvren.InvalidArgumentError, match="either material"):
        w.place(0, 0, 0)
    with pytest.raises(dvren.InvalidArgumentError, match="whole numbers"):
        w.place(0.5, 0, 0, material=1)
    assert len(w) == 0, "a failed edit changed the world"
    w.place(0, 0, 0, material=1)
    with pytest.raises(dvren.InvalidArgumentError, match=r"shape \(2, 8\), expected \(N, M\) = \(1, 8\)"):
        w.logits = np.zeros((2, 8), dtype=np.float32)
    with pytest.raises(dvren.InvalidArgumentError, match="block 0, logit 2"):
        w.logits = np.array([[0, 0, np.inf, 0, 0, 0, 0, 0]])
    assert w.logits[0, 0] == 10.0
    with pytest.raises(dvren.FileError, match="no/such/dir"):
        w.save(tmp_path / "no" / "such" / "dir" / "w.json")
    assert not (tmp_path / "no").exists()

    with pytest.raises(dvren.InvalidArgumentError, match="size"):
        dvren.BlockWorld((0, 4, 4))
    with pytest.raises(dvren.InvalidArgumentError, match="size"):
        dvren.BlockWorld((4, 4))
    with pytest.raises(dvren.InvalidArgumentError, match=r"materials\[0\]\.top.*outside \[0, 1\]"):
        dvren.BlockWorld((2, 2, 2), materials=[{"name": "hot", "top": (1.5, 0, 0), "side": (0, 0, 0),
                                                "bottom": (0, 0, 0)}])
    with pytest.raises(dvren.InvalidArgumentError, match=r"materials\[1\]\.name"):
        dvren.BlockWorld((2, 2, 2), materials=[{"name": "ok", "top": (0, 0, 0), "side": (0, 0, 0), "bottom": (0, 0, 0)},
                                               {"name": "two words", "top": (0, 0, 0), "side": (0, 0, 0),
                                                "bottom": (0, 0, 0)}])
    with pytest.raises(dvren.InvalidArgumentError, match=r"materials\[0\]"):
        dvren.BlockWorld((2, 2, 2), materials=[{"name": "no_colours"}])

    # the plugin refuses a block tensor of the wrong width, naming it
    p = w.to_params()
    p["blocks"] = np.zeros((1, 7), dtype=np.float32)
    with pytest.raises(dvren.InvalidArgumentError, match="'blocks'"):
        ctx.field("block_world", **p)
