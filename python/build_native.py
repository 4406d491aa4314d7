#!/usr/bin/env python3
"""python/build_native.py - builds the native half of the Python package.

    python3 python/build_native.py OUTDIR [--with-python]

writes

    OUTDIR/dvren/_lib/libdvren.so               python/dvren/_native.c + tools/stb_impl.c
                                                (+ -lOpenEXRCore: the foveation pipeline)
    OUTDIR/dvren/_lib/plugins/<name>.so         one per plugins/<name>/ folder
    OUTDIR/dvren/_lib/plugins/<name>_device.h   read beside the .so by the GPU backend

and with --with-python also copies the package's Python files
(python/dvren/**/*.py, py.typed) into OUTDIR/dvren/, so that
PYTHONPATH=OUTDIR imports the package (tests/test_python.sh does this).

The repository root is the parent of python/; the build needs the C sources
there (dvren.h, ...), so it cannot run from an sdist. setup.py calls build()
for `pip install ./python`. Honours $CC (default cc) and $CFLAGS (appended to
dvren's own units, as ./build.sh does) and $DVREN_CJSON_SOURCE (the path of
cJSON.c, compiled in instead of linking -lcjson, for machines without
libcjson-dev such as the GPU machine: bench/gpu.sh). The foveation pipeline
(tools/dvren_foveate.h, dvren.foveate()) writes EXR through OpenEXR's C API
(Debian libopenexr-dev, linked -lOpenEXRCore): where its header is missing
the library is built without the pipeline (a log line says so, and
dvren.foveate() raises UnsupportedError naming the package);
$DVREN_PY_FOVEATE=1 makes that a build error instead, =0 leaves it out. Every file is compiled in a temporary
folder first and moved into place only when all of them built, each with an
atomic rename: an interrupted or failed build never leaves a half-written
library behind. Standard library only.
"""
import argparse
import concurrent.futures
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent



def plugin_libs(name, root=ROOT):
    """Libraries plugin `name` links: plugins/<name>/LIBS when present (as
    build.sh and tests/run.sh read it), else libm."""
    f = root / "plugins" / name / "LIBS"
    return f.read_text().split() if f.is_file() else ["-lm"]


STD = ["-std=c11", "-O2"]
WARN = ["-Wall", "-Wextra", "-Werror"]
LIB_LIBS = ["-lcjson", "-lz", "-ldl", "-lm", "-lpthread"]
PLUGIN_FLAGS = ["-shared", "-fPIC", "-fvisibility=hidden", "-Wl,--no-undefined"]

# What the build reads from the repository (the first one missing is named).
REQUIRED = ["dvren.h", "dvren_cuda.h", "python/dvren/_native.c", "tools/stb_impl.c",
            "tools/dvren_scene.h", "tools/dvren_nerf.h", "tools/dvren_image.h", "tools/dvren_foveate.h",
            "tools/dvren_exr.h", "tools/dvren_blocks.h", "tools/dvren_splat_ply.h", "tools/dvren_json.h", "tools/dvren_mesh_io.h",
            "plugins"]
# Debian packages whose headers the build includes (OpenEXR's: the pipeline, optional).
PACKAGES = "libcjson-dev libstb-dev zlib1g-dev libopenexr-dev"
# the foveation pipeline's EXR writer: OpenEXR's C API (tools/dvren_exr.h)
EXR_HEADER = "OpenEXR/openexr.h"
EXR_LIBS = ["-lOpenEXRCore"]


class BuildError(Exception):
    """A build step failed; the message says which, and why."""


def check_sources(root=ROOT):
    for rel in REQUIRED:
        if not (root / rel).exists():
            raise BuildError(
                f"build_native: {root / rel} is missing: the native library is built from the dvren "
                f"repository's C sources, expected in {root} (the parent of python/); "
                "build from a checkout of the repository (pip install ./python), not from an sdist")


def plugins(root=ROOT):
    """Names of the plugins: every folder plugins/<name>/ holding <name>.c."""
    return sorted(p.name for p in (root / "plugins").iterdir() if (p / f"{p.name}.c").is_file())


def has_header(cc, header, extra=()):
    """True when the compiler cc (a list) finds #include <header>."""
    try:
        proc = subprocess.run([*cc, *extra, "-E", "-x", "c", "-", "-o", os.devnull],
                              input="#include <%s>\n" % header, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, universal_newlines=True)
    except OSError:
        return False
    return proc.returncode == 0


def foveate_flags(cc, extra, log):
    """Link flags of the foveation pipeline, or the define that leaves it
    out when OpenEXR's C API is missing ($DVREN_PY_FOVEATE: 1 requires it,
    0 leaves it out)."""
    want = os.environ.get("DVREN_PY_FOVEATE", "")
    if want == "0":
        log("build_native: DVREN_PY_FOVEATE=0: built without the foveation pipeline (dvren.foveate)")
        return ["-DDVPY_NO_FOVEATE"], []
    if has_header(cc, EXR_HEADER, extra):
        return [], list(EXR_LIBS)
    if want == "1":
        raise BuildError(f"build_native: <{EXR_HEADER}> is missing (Debian libopenexr-dev) and "
                         "DVREN_PY_FOVEATE=1 requires the foveation pipeline")
    log(f"build_native: <{EXR_HEADER}> not found (Debian libopenexr-dev): libdvren.so is built without the "
        "foveation pipeline; dvren.foveate() will raise UnsupportedError")
    return ["-DDVPY_NO_FOVEATE"], []


def _run(cmd, cwd):
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
    except OSError as e:
        raise BuildError(f"build_native: cannot run the compiler {cmd[0]!r} ({e.strerror}); "
                         "set $CC to a C compiler") from None
    if proc.returncode != 0:
        hint = ""
        if "No such file or directory" in proc.stdout and ("#include" in proc.stdout or "fatal error" in proc.stdout):
            hint = f"\n(a header is missing? the build needs the Debian packages {PACKAGES})"
        raise BuildError(f"build_native: the compiler failed (exit status {proc.returncode}):\n  "
                         f"{shlex.join(cmd)}\n{proc.stdout.rstrip()}{hint}")


def _install(src, dst):
    """Copies src to dst through a temporary name beside dst and one rename."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()


def copy_python(outdir, root=ROOT):
    """Copies python/dvren's .py files (and py.typed) into OUTDIR/dvren/ and
    removes .py files there that the source no longer has."""
    src, dst = root / "python" / "dvren", Path(outdir) / "dvren"
    wanted = {p.relative_to(src) for p in src.rglob("*.py") if "__pycache__" not in p.parts and "_lib" not in p.parts}
    if (src / "py.typed").is_file():
        wanted.add(Path("py.typed"))
    if dst.is_dir():
        for p in dst.rglob("*.py"):
            rel = p.relative_to(dst)
            if rel.parts[0] != "_lib" and rel not in wanted:
                p.unlink()
    for rel in sorted(wanted):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        _install(src / rel, dst / rel)
    return [dst / rel for rel in sorted(wanted)]


def build(outdir, with_python=False, cc=None, cflags=None, root=ROOT, log=None):
    """Builds OUTDIR/dvren/_lib (see the module's doc); returns the paths
    written. cc and cflags default to $CC and $CFLAGS. Raises BuildError."""
    root = Path(root)
    check_sources(root)
    # split on white space, as the shell splits build.sh's unquoted $CC and $CFLAGS
    cc = (cc if cc is not None else os.environ.get("CC") or "cc").split()
    extra = (cflags if cflags is not None else os.environ.get("CFLAGS", "")).split()
    inc = [f"-I{root}", f"-I{root / 'tools'}"]
    names = plugins(root)
    lib = Path(outdir) / "dvren" / "_lib"
    log = log or (lambda msg: None)

    with tempfile.TemporaryDirectory(prefix="dvren-native-") as tmp:
        tmp = Path(tmp)
        (tmp / "plugins").mkdir()
        # third-party code, compiled without dvren's warning set (as build.sh does)
        stb = [*cc, *STD, *extra, "-fPIC", "-c", str(root / "tools" / "stb_impl.c"), "-o", str(tmp / "stb_impl.o")]
        objs, libs = [str(tmp / "stb_impl.o")], list(LIB_LIBS)
        cjson = os.environ.get("DVREN_CJSON_SOURCE")
        if cjson:  # machines without libcjson-dev (the GPU machine): cJSON's own source, compiled in
            objs.append(str(tmp / "cjson.o"))
            libs.remove("-lcjson")
        fov_defs, fov_libs = foveate_flags(cc, extra, log)
        libdvren = [*cc, *STD, *WARN, *inc, *extra, *fov_defs, "-fPIC", "-shared", "-Wl,--no-undefined",
                    str(root / "python" / "dvren" / "_native.c"), *objs,
                    "-o", str(tmp / "libdvren.so"), *libs, *fov_libs]
        plugin_cmds = [[*cc, *STD, *WARN, *inc, *extra, *PLUGIN_FLAGS,
                        *sorted(str(c) for c in (root / "plugins" / p).glob("*.c")),
                        "-o", str(tmp / "plugins" / f"{p}.so"), *plugin_libs(p, root)]
                       for p in names]
        log(f"build_native: compiling libdvren.so and {len(names)} plugins ({', '.join(names)})")
        # stb_impl.o -> libdvren.so is the long chain; the plugins build beside it
        first = [stb]
        if cjson:
            first.append([*cc, *STD, *extra, "-fPIC", "-c", cjson, "-o", str(tmp / "cjson.o")])
        jobs = [first + [libdvren]] + [[c] for c in plugin_cmds]
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            futures = [pool.submit(lambda chain: [_run(c, tmp) for c in chain], j) for j in jobs]
            for f in futures:
                f.result()  # the first failure, in a stable order

        # everything built: move it into place
        (lib / "plugins").mkdir(parents=True, exist_ok=True)
        written = [lib / "libdvren.so"]
        _install(tmp / "libdvren.so", lib / "libdvren.so")
        for p in names:
            for f in (f"{p}.so", f"{p}_device.h"):
                if f.endswith(".h") and not (root / "plugins" / p / f).is_file():
                    continue  # a plugin without device code (one that runs a program)
                src = tmp / "plugins" / f if f.endswith(".so") else root / "plugins" / p / f
                _install(src, lib / "plugins" / f)
                written.append(lib / "plugins" / f)
        # a plugin whose folder is gone must not be found by the package
        for old in (lib / "plugins").iterdir():
            if old not in written:
                old.unlink()
    if with_python:
        written += copy_python(outdir, root)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description="Builds the native half of dvren's Python package "
                                             "(libdvren.so and the plugins) into OUTDIR/dvren/_lib.")
    ap.add_argument("outdir", help="folder that receives dvren/_lib (and dvren/*.py with --with-python)")
    ap.add_argument("--with-python", action="store_true",
                    help="also copy python/dvren's .py files, making OUTDIR an importable package")
    args = ap.parse_args(argv)
    try:
        build(args.outdir, with_python=args.with_python, log=lambda m: print(m, file=sys.stderr))
    except BuildError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"build_native: built {Path(args.outdir) / 'dvren'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
