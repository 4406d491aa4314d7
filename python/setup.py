"""python/setup.py - the one custom step of the package build (the rest is in
pyproject.toml): build_py also builds libdvren.so and the plugins into
<build_lib>/dvren/_lib through python/build_native.py, and the wheel is
tagged for this platform (py3-none-<platform>: the library is loaded through
ctypes, so it does not depend on the Python version)."""
import os
import sys

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.errors import CompileError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build_native  # noqa: E402  (python/build_native.py, beside this file)


class build_py_native(build_py):
    def run(self):
        super().run()
        # an editable install (pip install -e) imports python/dvren itself
        outdir = HERE if getattr(self, "editable_mode", False) else self.build_lib
        try:
            build_native.build(outdir, log=lambda msg: print(msg, file=sys.stderr))
        except build_native.BuildError as e:
            raise CompileError(str(e)) from None


class platform_distribution(Distribution):
    """Holds a native library: installed into platlib, and bdist_wheel
    tags the wheel for this platform (not pure Python)."""

    def has_ext_modules(self):
        return True


class bdist_wheel_platform(bdist_wheel):
    def get_tag(self):
        # the library is loaded through ctypes: any Python 3 of this platform
        return "py3", "none", super().get_tag()[2]


setup(distclass=platform_distribution, cmdclass={"build_py": build_py_native, "bdist_wheel": bdist_wheel_platform})
