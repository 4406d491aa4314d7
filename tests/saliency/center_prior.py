"""A saliency "model" for the tests of the external plugin: a Gaussian
centre prior, written as .npy with the standard library only.

Usage (the plugin's `command` parameter):
    python3 tests/saliency/center_prior.py {image} {output} {width} {height} [--grid N]

It checks that {image} is a PNG of {width} x {height} pixels (so the test
sees that the plugin passed the right file, quoted safely), then writes
exp(-((x - cx)^2 / (2 sx^2) + (y - cy)^2 / (2 sy^2))) with sx = W/4,
sy = H/4 as float64 of shape (H, W), or with --grid N as float32 of shape
(ceil(H/N), ceil(W/N)) (a patch grid, which the plugin resizes).
"""
import math
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import npy_util  # noqa: E402


def main(argv):
    if len(argv) not in (5, 7) or (len(argv) == 7 and argv[5] != "--grid"):
        sys.stderr.write(__doc__)
        return 2
    image, output, width, height = argv[1], argv[2], int(argv[3]), int(argv[4])
    grid = int(argv[6]) if len(argv) == 7 else 1
    size = npy_util.png_size(image)
    if size != (width, height):
        sys.stderr.write("center_prior.py: %s is %dx%d, not %dx%d\n" % (image, size[0], size[1], width, height))
        return 3
    w, h = -(-width // grid), -(-height // grid)
    sx, sy = w / 4.0, h / 4.0
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    values = [math.exp(-((x - cx) ** 2 / (2 * sx * sx) + (y - cy) ** 2 / (2 * sy * sy)))
              for y in range(h) for x in range(w)]
    npy_util.write(output, values, (h, w), "<f8" if grid == 1 else "<f4")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
