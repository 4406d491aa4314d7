"""python/tests/test_build.py - the built package's files: libdvren.so and the
plugins where the package looks for them (dvren/_lib/), loadable, and one
version everywhere (dvren.h, python/dvren/_version.py, the library).

Run against a built package (tests/test_python.sh does this):

    python3 python/build_native.py build/python --with-python
    PYTHONPATH=build/python python -m pytest python/tests
"""
import ctypes
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def header_version():
    text = (ROOT / "dvren.h").read_text()
    parts = [re.search(rf"#define DVREN_VERSION_{k} (\d+)", text).group(1) for k in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


def file_version(path):
    return re.search(r'^__version__ = "([^"]+)"', path.read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def pkg():
    """The folder of the package dvren found on sys.path (not imported)."""
    spec = importlib.util.find_spec("dvren")
    assert spec is not None, "dvren is not on sys.path: set PYTHONPATH to a folder built by python/build_native.py"
    path = Path(list(spec.submodule_search_locations)[0]).resolve()
    assert path != (ROOT / "python" / "dvren").resolve(), (
        "PYTHONPATH finds the source folder python/dvren, which has no native library: "
        "point it at a folder built by python/build_native.py --with-python")
    return path


def plugin_names():
    return sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / f"{p.name}.c").is_file())


def test_version_matches_header():
    assert file_version(ROOT / "python" / "dvren" / "_version.py") == header_version()


def test_library_loads(pkg):
    lib = ctypes.CDLL(str(pkg / "_lib" / "libdvren.so"))  # RTLD_NOW: no undefined symbols
    lib.dvpy_version.restype = ctypes.c_char_p
    assert lib.dvpy_version().decode() == header_version()
    assert hasattr(lib, "dvren_status_string")  # the C API is exported


@pytest.mark.parametrize("name", plugin_names())
def test_plugin_built(pkg, name):
    d = pkg / "_lib" / "plugins"
    if (ROOT / "plugins" / name / f"{name}_device.h").is_file():  # a plugin that runs a program has no device code
        assert (d / f"{name}_device.h").is_file(), f"{name}_device.h is not beside {name}.so"
    lib = ctypes.CDLL(str(d / f"{name}.so"))
    assert hasattr(lib, "dvren_plugin_entry")


def test_python_files_copied(pkg):
    src = ROOT / "python" / "dvren"
    for f in src.glob("*.py"):
        assert (pkg / f.name).read_bytes() == f.read_bytes(), f"{f.name} differs from python/dvren/{f.name}"


def test_import(pkg):
    import dvren

    assert Path(dvren.__file__).resolve().parent == pkg
    assert dvren.__version__ == header_version()
