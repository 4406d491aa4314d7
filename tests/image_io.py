"""tests/image_io.py - the image readers that tests and benchmarks share:
binary PGM/PPM (read_pnm) and PNG (read_png), in pure Python (the standard
library only: struct, zlib; no NumPy, which the CI machine may lack).

Both return one tuple shape, (width, height, channels, maxval, samples):
  width, height  pixels (> 0)
  channels       1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
  maxval         the largest sample value: 1 .. 65535 (a PNG: 255 or 65535)
  samples        bytes, the samples as the file stores them: row-major from
                 the top row, a pixel's channels interleaved; one byte per
                 sample when maxval < 256, else two, big-endian (PNM and PNG
                 alike). So len(samples) == width * height * channels * bps,
                 bps = 1 if maxval < 256 else 2; with NumPy:
                 np.frombuffer(samples, np.uint8 if bps == 1 else ">u2").

Bad input raises ValueError naming the file, the field and the problem
("x.png: IHDR bit depth: 4, expected 8 or 16"); a file that cannot be read
raises the OSError of open(). Used by python/tests/test_register.py,
tests/test_align_cli.sh (its g.py) and bench/register_gen.py: import it
with the repository's tests/ folder on sys.path.

Sources: the Netpbm formats (netpbm.sourceforge.net/doc/pgm.html, ppm.html)
and PNG (ISO/IEC 15948:2004, W3C PNG 2nd edition: 5.2 the signature, 11.2.2
IHDR, 9 filtering with 9.4 the Paeth predictor, 10 zlib compression)."""
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type -> channels (11.2.2); 3 (palette) is not read here
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _bad(path, field, problem):
    return ValueError(f"{path}: {field}: {problem}")


def _check_maxval(path, samples, maxval, bps):
    """Every sample <= maxval (the Netpbm rule), checked when maxval leaves room above it."""
    if maxval in (255, 65535):
        return
    if bps == 1:
        top = max(samples, default=0)
    else:
        top = max(struct.unpack(">%dH" % (len(samples) // 2), samples), default=0)
    if top > maxval:
        raise _bad(path, "pixel data", f"a sample is {top}, above maxval {maxval}")


def read_pnm(path):
    """A binary PGM (P5, 1 channel) or PPM (P6, 3 channels) with maxval 1 ..
    65535 and '#' comments (to the end of the line) in the header: returns
    (width, height, channels, maxval, samples) as the module's docstring says.
    Bytes after the raster (a second image) are ignored. ValueError, naming
    the file and the field, for another magic number (ASCII P2/P3, PBM, PAM),
    a header field that is missing or not a positive decimal number, maxval
    out of range, no whitespace after maxval, too little pixel data, or a
    sample above maxval."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:2] not in (b"P5", b"P6"):
        raise _bad(path, "magic number", f"{b[:2]!r}, expected P5 (binary PGM) or P6 (binary PPM)")
    names = ("width", "height", "maxval")
    fields, p = [], 2
    while len(fields) < 3:
        while b[p:p + 1].isspace():
            p += 1
        if b[p:p + 1] == b"#":
            while p < len(b) and b[p:p + 1] not in (b"\n", b"\r"):
                p += 1
            continue
        q = p
        while q < len(b) and not b[q:q + 1].isspace() and b[q:q + 1] != b"#":
            q += 1
        name = names[len(fields)]
        if q == p:
            raise _bad(path, name, "missing (the header ends early)")
        tok = b[p:q]
        if not tok.isdigit() or int(tok) < 1:
            raise _bad(path, name, f"{tok.decode('latin-1')!r} is not a positive decimal number")
        fields.append(int(tok))
        p = q
    w, h, maxval = fields
    if maxval > 65535:
        raise _bad(path, "maxval", f"{maxval}, expected 1 .. 65535")
    if not b[p:p + 1].isspace():
        raise _bad(path, "maxval", "no whitespace between it and the pixel data")
    p += 1  # the one whitespace byte after maxval
    c = 3 if b[:2] == b"P6" else 1
    bps = 1 if maxval < 256 else 2
    n = w * h * c * bps
    if len(b) - p < n:
        raise _bad(path, "pixel data", f"{len(b) - p} bytes, expected {n} ({w} x {h} x {c} x {bps})")
    samples = b[p:p + n]
    _check_maxval(path, samples, maxval, bps)
    return w, h, c, maxval, samples


def _unfilter(path, raw, h, stride, bpp):
    """PNG's five row filters (9.2) undone: raw holds h rows of (filter type
    byte, stride bytes); bpp is the bytes per complete pixel (at least 1)."""
    out = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 0:  # None
            pass
        elif ftype == 1:  # Sub: + the byte bpp to the left
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ftype == 2:  # Up: + the byte above
            line = bytearray((a + u) & 255 for a, u in zip(line, prev))
        elif ftype == 3:  # Average: + floor((left + above) / 2)
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:  # Paeth (9.4): the one of left, above, upper left nearest left + above - upper left
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                u = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(u - c), abs(a - c), abs(a + u - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else u if pb <= pc else c)) & 255
        else:
            raise _bad(path, "IDAT", f"row {y} has filter type {ftype}, expected 0 .. 4")
        out += line
        prev = line
    return bytes(out)


def read_png(path):
    """A non-interlaced PNG of 8 or 16 bits per sample, grey, grey + alpha,
    RGB or RGBA: returns (width, height, channels, maxval, samples) as the
    module's docstring says (maxval 255 or 65535; alpha is a channel like
    the others). The signature and IHDR are checked, the chunks walked to
    IEND, the IDAT chunks' zlib stream inflated and the five row filters
    undone; CRCs are not checked, ancillary chunks (gAMA, tEXt, ...) are
    skipped. ValueError, naming the file and the field, for a missing
    signature, IHDR not first or not 13 bytes, a size of 0, a bit depth or
    colour type not read here (palette, 1/2/4 bits), Adam7 interlacing,
    an unknown compression or filter method, a truncated chunk, no IDAT or
    IEND, a zlib error, a data length that does not match the size, or an
    unknown row filter."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != PNG_SIGNATURE:
        raise _bad(path, "signature", "not a PNG file (the first 8 bytes are not \\x89PNG\\r\\n\\x1a\\n)")
    p, idat, ihdr, end = 8, [], None, False
    while p < len(b):
        if len(b) - p < 12:
            raise _bad(path, f"chunk at byte {p}", f"truncated ({len(b) - p} bytes, a chunk has at least 12)")
        n, ctype = struct.unpack(">I4s", b[p:p + 8])
        name = ctype.decode("latin-1")
        if len(b) - p - 12 < n:
            raise _bad(path, name, f"truncated: {n} data bytes declared, {max(len(b) - p - 12, 0)} present")
        data = b[p + 8:p + 8 + n]
        p += 12 + n
        if ihdr is None:
            if ctype != b"IHDR":
                raise _bad(path, "IHDR", f"the first chunk is {name!r}, expected IHDR")
            if n != 13:
                raise _bad(path, "IHDR", f"{n} bytes, expected 13")
            ihdr = struct.unpack(">IIBBBBB", data)
        elif ctype == b"IDAT":
            idat.append(data)
        elif ctype == b"IEND":
            end = True
            break
    if ihdr is None:
        raise _bad(path, "IHDR", "missing (the file ends after the signature)")
    w, h, depth, ctype, comp, filt, inter = ihdr
    if w == 0 or h == 0 or w > 2**31 - 1 or h > 2**31 - 1:
        raise _bad(path, "IHDR size", f"{w} x {h}, expected 1 .. 2^31 - 1 on each axis")
    if ctype not in _PNG_CHANNELS:
        raise _bad(path, "IHDR colour type", f"{ctype}, expected 0 (grey), 2 (RGB), 4 (grey + alpha) or 6 (RGBA)"
                   + ("; palette images are not read here" if ctype == 3 else ""))
    if depth not in (8, 16):
        raise _bad(path, "IHDR bit depth", f"{depth}, expected 8 or 16")
    if comp != 0:
        raise _bad(path, "IHDR compression method", f"{comp}, expected 0 (zlib)")
    if filt != 0:
        raise _bad(path, "IHDR filter method", f"{filt}, expected 0 (adaptive, five filter types)")
    if inter != 0:
        raise _bad(path, "IHDR interlace method", f"{inter} (Adam7), only 0 (none) is read here")
    if not idat:
        raise _bad(path, "IDAT", "missing (no image data)")
    if not end:
        raise _bad(path, "IEND", "missing (the file is truncated?)")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise _bad(path, "IDAT", f"zlib: {e}") from None
    c = _PNG_CHANNELS[ctype]
    bps = depth // 8
    stride = w * c * bps
    if len(raw) != h * (stride + 1):
        raise _bad(path, "IDAT", f"{len(raw)} bytes inflated, expected {h * (stride + 1)} "
                   f"({h} rows of 1 + {w} x {c} x {bps})")
    return w, h, c, (1 << depth) - 1, _unfilter(path, raw, h, stride, c * bps)
