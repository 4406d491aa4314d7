#!/usr/bin/env python3
"""tests/fuzz/seeds_raw_image.py OUT_DIR - writes the seed corpus of
fuzz_raw_image: small images in each format tools/dvren_raw.h reads, built
from the formats' descriptions (Netpbm pgm/ppm, PNG ISO/IEC 15948, NumPy
NEP 1), so that no binary file lives in the repository. The first byte of
each seed picks the file's extension in the target (0 .png, 1 .npy,
2 .pgm, 3 .ppm, 4 .nef). tests/test_fuzz.sh runs it into its working copy
of the corpus.

  pgm16_comments   P5, 3 x 2, maxval 65535, comments in the header
  ppm8             P6, 2 x 2, maxval 255
  pgm_maxval1023   P5, 2 x 1, maxval 1023
  png_grey16       16-bit grey PNG, 3 x 2
  png_rgba8        8-bit RGBA PNG, 2 x 2 (alpha dropped)
  png_palette      palette PNG, 2 x 1
  npy_u16_rgb      '<u2' (2, 2, 3)
  npy_f8           '<f8' (2, 3)
  text_nef         text under a .nef name
Standard library only."""
import os
import struct
import sys
import zlib


def png(w, h, depth, ctype, rows, extra=b""):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)) + extra +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def npy(descr, shape, payload):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = (64 - (10 + len(d) + 1) % 64) % 64
    h = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "pgm16_comments": b"\2" + b"P5 # grey\n#another\n 3\t# width\n2\r\n65535\n" + struct.pack(">6H", 0, 258, 65535, 4660, 32768, 7),
        "ppm8": b"\3" + b"P6\n# c\n2 2\n255\n" + bytes([1, 2, 3, 4, 5, 6, 250, 251, 252, 0, 128, 255]),
        "pgm_maxval1023": b"\2" + b"P5\n2 1\n1023\n" + struct.pack(">2H", 1023, 1),
        "png_grey16": b"\0" + png(3, 2, 16, 0, [struct.pack(">3H", 0, 258, 65535), struct.pack(">3H", 4660, 32768, 7)]),
        "png_rgba8": b"\0" + png(2, 2, 8, 6, [bytes([10, 20, 30, 0, 40, 50, 60, 255]), bytes([1, 2, 3, 4, 5, 6, 7, 8])]),
        "png_palette": b"\0" + png(2, 1, 8, 3, [bytes([0, 1])],
                                   struct.pack(">I", 6) + b"PLTE" + bytes([255, 0, 0, 0, 0, 255]) +
                                   struct.pack(">I", zlib.crc32(b"PLTE" + bytes([255, 0, 0, 0, 0, 255])) & 0xFFFFFFFF)),
        "npy_u16_rgb": b"\1" + npy("<u2", "(2, 2, 3)", struct.pack("<12H", *range(0, 12000, 1000))),
        "npy_f8": b"\1" + npy("<f8", "(2, 3)", struct.pack("<6d", 0.5, -2.0, 1e-3, 3.0, 65504.25, 0.1)),
        "text_nef": b"\4" + b"This is a text file, not a Nikon raw.\n" * 4,
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
