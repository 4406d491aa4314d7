"""Render a dvren scene file to a PNG from Python.

Reads a scene file (docs/scenes.md; default examples/ct_head.json, the CT
head of $DVREN_DATA, whose relative paths resolve against the scene file's
folder), renders it with dvren and writes the image:

    python examples/python/render_png.py                              # CPU, the file's 512 x 512
    python examples/python/render_png.py --size 256 --out head.png
    python examples/python/render_png.py examples/mr_head.json --device cuda

Needs the dvren package on PYTHONPATH (or installed) and $DVREN_DATA (default
../shared/data from the working folder). Prints "wrote PATH (W x H, DEVICE)";
on an error, one line on stderr and exit status 1.
"""
import argparse
import os
import sys

import dvren

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scene", nargs="?", default=os.path.join(HERE, "..", "ct_head.json"), help="scene file (JSON)")
    ap.add_argument("--out", default="out/ct_head_python.png", help="PNG to write (its folder is created)")
    ap.add_argument("--size", type=int, default=0, help="width and height in pixels (0: the scene file's)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args()
    try:
        with dvren.Context(args.device) as ctx:
            sf = dvren.load_scene(args.scene, context=ctx, width=args.size, height=args.size)
            out = sf.scene.render(sf.plan)  # rgb (H, W, 3): NumPy on the CPU, a DLPack tensor on the GPU
            os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
            dvren.write_png(args.out, out["rgb"])
            print("wrote %s (%d x %d, %s)" % (args.out, sf.plan.width, sf.plan.height, ctx.device_str))
    except dvren.Error as e:
        print("render_png: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
