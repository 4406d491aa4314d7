"""Writes NumPy .npy files with the Python standard library only (no NumPy),
for the tests of the "external" saliency model (tests/test_saliency_plugins.c).

Format: numpy.lib.format, version 1.0: the magic b"\\x93NUMPY", the version
bytes 1 0, a little-endian uint16 header length, then an ASCII dict literal
{'descr': ..., 'fortran_order': ..., 'shape': ...} padded with spaces and
ended by a newline so that the data starts at a multiple of 64 bytes, then
the raw elements in the given order.
"""
import struct

_CODES = {"<f4": "<%df", "<f8": "<%dd", ">f4": ">%df", ">f8": ">%dd", "<i4": "<%di"}


def header(descr, shape, fortran_order=False):
    """The magic, version, length and padded dict of a .npy file."""
    dims = "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0]
    text = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran_order else "False", dims.rstrip(", ") if len(shape) > 1 else dims)
    total = 10 + len(text) + 1
    text += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("ascii")


def write(path, values, shape, descr="<f8", fortran_order=False):
    """Writes values (a flat list, row-major) as a .npy array of this shape."""
    data = struct.pack(_CODES[descr] % len(values), *values)
    with open(path, "wb") as f:
        f.write(header(descr, shape, fortran_order) + data)


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; raises ValueError otherwise."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError("%s is not a PNG file" % path)
    return struct.unpack(">II", head[16:24])
