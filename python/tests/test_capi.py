"""python/tests/test_capi.py - the ctypes mirror (python/dvren/_capi.py)
against the C compiler's view of dvren.h: struct sizes (through the library's
dvpy_sizeof), field offsets (through a small C program compiled here, when a
compiler is found), and one version everywhere."""
import ctypes
import re
import shutil
import subprocess

import pytest

import dvren
from dvren import _capi
from dvren._capi import lib

from helpers import ROOT


def header_version():
    text = (ROOT / "dvren.h").read_text()
    return ".".join(re.search(r"#define DVREN_VERSION_%s (\d+)" % k, text).group(1)
                    for k in ("MAJOR", "MINOR", "PATCH"))


@pytest.mark.parametrize("name", sorted(_capi.STRUCTS))
def test_struct_size_matches_c(name):
    c_size = lib.dvpy_sizeof(name.encode())
    assert c_size != 0, "dvpy_sizeof does not know %s" % name
    assert ctypes.sizeof(_capi.STRUCTS[name]) == c_size, \
        "%s: ctypes %d bytes, C %d bytes" % (name, ctypes.sizeof(_capi.STRUCTS[name]), c_size)


def test_sizeof_unknown_name_is_zero():
    # the guard above relies on 0 meaning "unknown": a typo must not pass as size 0
    assert lib.dvpy_sizeof(b"dvren_no_such_struct") == 0


def test_field_offsets_match_c(tmp_path):
    """Every mirrored field sits where the C compiler puts it (a swap of two
    fields of one size keeps the struct's size but not the offsets)."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to read the offsets")
    lines = ['#include "dvren.h"', '#include "dvren_cuda.h"', '#include "tools/dvren_nerf.h"',
             '#include "tools/dvren_blocks.h"', '#include "tools/dvren_mesh_io.h"', "#include <stddef.h>",
             "#include <stdio.h>", "int main(void) {"]
    expect = []
    for cname, st in sorted(_capi.STRUCTS.items()):
        for fname, _ftype in st._fields_:
            lines.append('    printf("%%s.%%s %%zu\\n", "%s", "%s", offsetof(%s, %s));' % (cname, fname, cname, fname))
            expect.append("%s.%s %d" % (cname, fname, getattr(st, fname).offset))
    lines += ["    return 0;", "}"]
    src = tmp_path / "offsets.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "offsets"
    r = subprocess.run([cc, "-std=c11", "-I", str(ROOT), "-o", str(exe), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, "a mirrored field is not in dvren.h (or the header does not compile):\n" + r.stderr[-3000:]
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    bad = [(e, g) for e, g in zip(expect, got) if e != g]
    assert not bad, "field offsets differ (ctypes vs C): %s" % bad[:10]
    assert len(got) - 1 == len(expect)


def test_version_is_the_header_version():
    v = header_version()
    assert dvren.__version__ == v
    assert lib.dvpy_version().decode() == v


def test_every_prototype_is_exported():
    # _Lib binds every name at import; this checks the mapping the package advertises
    for name in _capi._PROTOTYPES:
        assert callable(getattr(lib, name))


def test_constants_match_header():
    """Status codes, output bits and dtypes are read from dvren.h's text, not from the library."""
    text = (ROOT / "dvren.h").read_text()

    def define(name):
        m = re.search(r"\b%s\s*=\s*(-?(?:0x)?[0-9A-Fa-f]+)" % name, text) or \
            re.search(r"#define %s \(?(-?(?:0x)?[0-9A-Fa-f]+)u?\)?" % name, text)
        assert m, name
        return int(m.group(1).rstrip("u"), 0)

    for code, name in _capi.STATUS_NAMES.items():
        assert define("DVREN_ERROR_" + name) == code
    for name, bit in _capi.OUTPUTS.items():
        assert define("DVREN_OUTPUT_" + name.upper()) == bit
    for name, val in (("F32", _capi.DTYPE_F32), ("F16", _capi.DTYPE_F16), ("U8", _capi.DTYPE_U8),
                      ("U16", _capi.DTYPE_U16), ("U32", _capi.DTYPE_U32)):
        assert define("DVREN_DTYPE_" + name) == val
    assert dvren.OUTPUTS == ("rgb", "alpha", "depth", "transmittance", "hit", "samples", "variance", "surface_id",
                             "median_depth")
