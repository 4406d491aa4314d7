"""dvren: differentiable volume rendering, from Python.

A thin, typed layer over dvren's C API (dvren.h, dvren_cuda.h) through
ctypes: every call goes to the same C function a C program would use, so the
Python package renders exactly what the C library and ``dvren_render``
render. docs/python.md is the guide; the short version::

    import dvren
    with dvren.Context("cpu") as ctx:
        sf = dvren.load_scene("examples/ct_head.json", context=ctx, width=256, height=256)
        out = sf.scene.render(sf.plan)          # {"rgb": (H, W, 3) float32, "alpha": (H, W) float32}
        dvren.write_png("head.png", out["rgb"])

Objects and who owns what
    Context -> stages (Field, Shader, Sampler) -> Scene; Context -> Plan ->
    Framebuffer. Every object keeps the objects it was made from alive, so
    they may be garbage-collected in any order. ``close()`` (or a ``with``
    block) frees one early; closing a Context closes everything made from it.
    Memory handed out without a copy (NumPy views on the CPU, DLPack
    tensors on the GPU, parameter views) keeps its owner alive: an object
    closed while such views live is freed when the last view dies.

Errors
    Every failing C call raises :class:`Error` (a subclass per status, e.g.
    :class:`InvalidArgumentError`, also a ``ValueError``) carrying the C
    library's message, module and hint.

Units and conventions are dvren.h's: world units for positions and steps,
radians for angles, OpenGL camera conventions (right-handed, the camera
looks down -z, pixel (0, 0) is the top-left), images (H, W, C) in C order.
"""
from __future__ import annotations

import builtins
import ctypes as C
import json
import logging
import math
import os
import weakref
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _capi, _dlpack
from ._capi import lib
from ._version import __version__

__all__ = [
    "__version__", "Error", "InvalidArgumentError", "OutOfMemoryError", "FileError", "FormatError",
    "NotFoundError", "PluginError", "UnsupportedError", "NoDeviceError", "DeviceError", "CompileError",
    "CancelledError", "InternalError", "TimeoutError", "Context", "Stage", "SaliencyModel", "Scene", "Parameter",
    "Camera", "Plan", "Framebuffer", "Tensor", "Optimizer", "SceneFile", "load_scene", "write_png",
    "load_nerf_views", "from_dlpack", "importance_postprocess", "importance_budget", "foveate", "OUTPUTS",
    "FOVEATE_AVAILABLE", "ARTEFACTS", "BlockWorld", "NO_SURFACE", "RegistrationModel", "RegistrationTable",
    "register", "CFA_PATTERNS", "SplatRenderer", "sh_rotation", "load_splats", "SPLAT_TENSORS", "Mesh",
    "marching_cubes", "load_mesh", "save_glb", "load_glb",
]

OUTPUTS = tuple(_capi.OUTPUTS)  # ("rgb", "alpha", "depth", "transmittance", "hit", "samples", "variance", "surface_id")
NO_SURFACE = _capi.NO_SURFACE  # the "surface_id" of a pixel that sees no surface (DVREN_NO_SURFACE, 0xFFFFFFFF)
_log = logging.getLogger("dvren")

# ---------------------------------------------------------------- errors


class Error(RuntimeError):
    """A dvren call failed. ``status`` is the C status name (``"IO"``),
    ``code`` its value (-3), ``module`` the part of dvren that failed
    (``"dense_grid"``), ``message`` the text and ``hint`` what to do (may be
    None); ``str(e)`` is the C library's full line."""

    def __init__(self, text: str, code: int = -12):
        super().__init__(text)
        self.code = code
        self.status = _capi.STATUS_NAMES.get(code, "UNKNOWN")
        self.text = text
        module, _, rest = text.partition(": ")
        if not rest:
            module, rest = "", text
        hint = None
        if rest.endswith(")") and " (hint: " in rest:
            rest, _, hint = rest.rpartition(" (hint: ")
            hint = hint[:-1]
        self.module, self.message, self.hint = module, rest, hint


class InvalidArgumentError(Error, ValueError):
    """DVREN_ERROR_INVALID_ARGUMENT: a value is out of range or inconsistent."""


class OutOfMemoryError(Error, MemoryError):
    """DVREN_ERROR_OUT_OF_MEMORY."""


class FileError(Error, OSError):
    """DVREN_ERROR_IO: a file could not be opened, read or written."""


class FormatError(Error, ValueError):
    """DVREN_ERROR_FORMAT: a file's content is malformed or unsupported."""


class NotFoundError(Error, LookupError):
    """DVREN_ERROR_NOT_FOUND: a plugin, parameter or output does not exist."""


class PluginError(Error):
    """DVREN_ERROR_PLUGIN: a plugin library is not usable."""


class UnsupportedError(Error):
    """DVREN_ERROR_UNSUPPORTED: a valid request this build or device cannot do."""


class NoDeviceError(Error):
    """DVREN_ERROR_NO_DEVICE: the requested device (GPU, driver) is absent."""


class DeviceError(Error):
    """DVREN_ERROR_DEVICE: the device failed during a call."""


class CompileError(Error):
    """DVREN_ERROR_COMPILE: device source failed to compile (NVRTC)."""


class CancelledError(Error):
    """DVREN_ERROR_CANCELLED: a progress callback asked to stop."""


class InternalError(Error):
    """DVREN_ERROR_INTERNAL: a bug in dvren."""


class TimeoutError(Error, builtins.TimeoutError):
    """DVREN_ERROR_TIMEOUT: a program or a wait ran past its time limit (the
    ``external`` saliency model's program). Also a builtins.TimeoutError."""


_ERRORS = {-1: InvalidArgumentError, -2: OutOfMemoryError, -3: FileError, -4: FormatError, -5: NotFoundError,
           -6: PluginError, -7: UnsupportedError, -8: NoDeviceError, -9: DeviceError, -10: CompileError,
           -11: CancelledError, -12: InternalError, -13: TimeoutError}


def _raise(code: int, text: str):
    raise _ERRORS.get(code, Error)(text, code)


def _check(status: int, ctx: Optional["Context"] = None) -> None:
    if status != 0:
        raw = lib.dvren_last_error(ctx._ptr if ctx is not None and ctx._ptr else None)
        _raise(status, raw.decode("utf-8", "replace") if raw else lib.dvren_status_string(status).decode())


def _b(s: Optional[Union[str, os.PathLike]]) -> Optional[bytes]:
    return None if s is None else os.fsencode(s) if isinstance(s, os.PathLike) else s.encode("utf-8")


# ---------------------------------------------------------------- ownership


class _Handle:
    """One C object: destroyed by close(), by garbage collection, or by its
    Context's close(); never while views of its memory (exports) live, nor
    while objects made from it (users: a scene of a stage, a framebuffer of
    a plan) still exist. A closed object whose memory is still needed is
    unusable from Python and freed when the last view or user goes."""

    _kind = "object"

    def __init__(self, ctx: Optional["Context"], ptr: int, destroy, deps: Tuple = ()):
        self._ptr = ptr
        self._destroy_fn = destroy
        self._ctx = ctx
        self._exports = 0
        self._users = 0
        self._closing = False
        # objects this one was made from (kept alive, and not freed before this one)
        self._deps = tuple(d for d in deps if isinstance(d, _Handle) and not isinstance(d, Context))
        for d in self._deps:
            d._users += 1
        if ctx is not None:
            ctx._adopt(self)

    @property
    def _p(self) -> int:
        if not self._ptr or self._closing:
            raise InvalidArgumentError("%s: used after close()" % self._kind, -1)
        return self._ptr

    def _idle(self) -> bool:
        return self._exports == 0 and self._users == 0

    def _export_token(self) -> "_ExportToken":
        self._exports += 1
        return _ExportToken(self)

    def _unexport(self) -> None:
        self._exports -= 1
        if self._closing and self._idle():
            self._free()

    def close(self) -> None:
        """Frees the C object now (or, while views of its memory or objects
        made from it live, when the last of them goes)."""
        self._closing = True
        if self._idle():
            self._free()

    def _free(self) -> None:
        if self._ptr:
            ptr, self._ptr = self._ptr, None
            self._destroy_fn(ptr)
            for d in self._deps:
                d._users -= 1
                if d._closing and d._idle():
                    d._free()
            if self._ctx is not None:
                self._ctx._child_freed()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if self._ptr:
                if self._idle():
                    self._free()
                else:
                    self._closing = True
        except Exception:
            pass


class _ExportToken:
    """Held by every view of a handle's memory (NumPy base, DLPack owner)."""

    __slots__ = ("handle", "__weakref__")

    def __init__(self, handle: _Handle):
        self.handle = handle

    def __del__(self):
        try:
            self.handle._unexport()
        except Exception:
            pass


# ---------------------------------------------------------------- tensors

_DT_NP = {_capi.DTYPE_F32: np.float32, _capi.DTYPE_F16: np.float16, _capi.DTYPE_U8: np.uint8,
          _capi.DTYPE_U16: np.uint16, _capi.DTYPE_U32: np.uint32}
_NP_DT = {np.dtype(v): k for k, v in _DT_NP.items()}
_DT_NAME = {k: np.dtype(v).name for k, v in _DT_NP.items()}
_NAME_DT = {v: k for k, v in _DT_NAME.items()}


class _HostBuffer:
    """The base of a NumPy view of dvren's host memory: describes it through
    the array interface (faster to wrap than a ctypes buffer) and holds the
    export token that keeps the memory alive."""

    __slots__ = ("__array_interface__", "token")

    def __init__(self, interface: Dict[str, Any], token: Any):
        self.__array_interface__ = interface
        self.token = token


def _host_view(t: _capi.Tensor, token: Any) -> np.ndarray:
    """Zero-copy NumPy array over a host dvren_tensor; token keeps the memory alive."""
    dt = np.dtype(_DT_NP[t.dtype])
    n = t.ndim
    iface = {"version": 3, "typestr": dt.str, "data": (t.data, False), "shape": tuple(t.shape[:n]),
             "strides": tuple(s * dt.itemsize for s in t.strides[:n])}
    return np.asarray(_HostBuffer(iface, token))


class Tensor:
    """A view of dvren memory without a copy, for the GPU (CPU results are
    NumPy arrays). Exports through DLPack (``torch.from_dlpack(t)``,
    ``cupy.from_dlpack(t)``) and keeps dvren's memory alive for as long as
    any consumer's tensor lives.

    Attributes: ``shape`` (tuple, C order), ``dtype`` (NumPy name, e.g.
    ``"float32"``), ``device`` (``"cpu"`` or ``"cuda:N"``), ``data_ptr``
    (the address, int)."""

    def __init__(self, t: _capi.Tensor, owner: _Handle, ctx: "Context"):
        self._t = _capi.Tensor()
        C.pointer(self._t)[0] = t
        self._owner = owner
        self._ctx = ctx
        self._token = owner._export_token()
        self.shape = tuple(int(t.shape[i]) for i in range(t.ndim))
        self.dtype = _DT_NAME[t.dtype]
        self.data_ptr = int(t.data or 0)
        on_gpu = t.memory == _capi.MEMORY_DEVICE
        self.device = ("cuda:%d" % ctx.device_index) if on_gpu else "cpu"

    @property
    def strides(self) -> Tuple[int, ...]:
        return tuple(int(self._t.strides[i]) for i in range(self._t.ndim))

    def __dlpack_device__(self) -> Tuple[int, int]:
        if self.device == "cpu":
            return (_dlpack.CPU, 0)
        return (_dlpack.CUDA, self._ctx.device_index)

    def __dlpack__(self, stream: Optional[int] = None, max_version=None, dl_device=None, copy=None):
        """DLPack capsule (protocol of the Python array API). On the GPU, a
        consumer stream other than the one dvren queues on is served by
        waiting for dvren's stream first."""
        if self.device != "cpu" and stream is not None and stream != -1:
            want = None if stream in (0, 1) else stream  # 1: the legacy default stream
            if want != self._ctx._stream_value():
                self._ctx.synchronize()
        return _dlpack.export(self._token, self.data_ptr, self.shape, self.strides, self.dtype,
                              *self.__dlpack_device__())

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array: zero-copy on the CPU, a copy from the GPU."""
        if self.device == "cpu":
            return _host_view(self._t, self._token)
        out = np.empty(self.shape, dtype=self.dtype)
        dst = _capi.Tensor()
        _fill_tensor(dst, out.ctypes.data, self._t.dtype, self.shape, _capi.MEMORY_HOST)
        src = _capi.Tensor()
        C.pointer(src)[0] = self._t
        _check(lib.dvren_cuda_copy(self._ctx._p, C.byref(dst), C.byref(src)), self._ctx)
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return "dvren.Tensor(shape=%s, dtype=%s, device=%s)" % (self.shape, self.dtype, self.device)


def _fill_tensor(t: _capi.Tensor, data: int, dtype: int, shape: Sequence[int], memory: int,
                 strides: Optional[Sequence[int]] = None) -> None:
    n = len(shape)
    if not 1 <= n <= _capi.MAX_DIMS:
        raise InvalidArgumentError("tensor: %d dimensions (dvren takes 1 to 4)" % n, -1)
    t.data = data
    t.dtype = dtype
    t.ndim = n
    if strides is None:
        acc, st = 1, []
        for d in reversed(shape):
            st.append(acc)
            acc *= d
        strides = tuple(reversed(st))
    for i in range(_capi.MAX_DIMS):
        t.shape[i] = shape[i] if i < n else 0
        t.strides[i] = strides[i] if i < n else 0
    t.memory = memory
    t.flags = 0


class _Borrowed:
    """A dvren_tensor over someone else's memory (a NumPy array, or a
    DLPack import such as a torch tensor), with what keeps it alive."""

    def __init__(self, ctx: "Context", obj: Any, *, name: str, dtypes=("float32",), writable: bool = False,
                 contiguous: bool = True):
        self.keep: Any = obj
        self.tensor = _capi.Tensor()
        if isinstance(obj, np.ndarray) or not hasattr(obj, "__dlpack__"):
            arr = np.asarray(obj)
            if arr.dtype.name not in dtypes:
                raise InvalidArgumentError("%s: dtype %s, expected %s" % (name, arr.dtype.name, " or ".join(dtypes)),
                                           -1)
            if contiguous and not arr.flags.c_contiguous:
                raise InvalidArgumentError("%s: the array must be C-contiguous (np.ascontiguousarray)" % name, -1)
            if writable and not arr.flags.writeable:
                raise InvalidArgumentError("%s: the array is read-only" % name, -1)
            self.keep = arr
            self.device = "cpu"
            _fill_tensor(self.tensor, arr.ctypes.data, _NAME_DT[arr.dtype.name], arr.shape, _capi.MEMORY_HOST,
                         tuple(s // arr.itemsize for s in arr.strides))
            return
        # the consumer's stream, as the DLPack protocol numbers it (1: the legacy default stream)
        imp = _dlpack.import_(obj, stream=(ctx._stream_value() or 1) if ctx.device == "cuda" else None)
        self.keep = (obj, imp)
        if imp.dtype not in dtypes:
            raise InvalidArgumentError("%s: dtype %s, expected %s" % (name, imp.dtype, " or ".join(dtypes)), -1)
        if imp.device_type in (_dlpack.CPU, _dlpack.CUDA_HOST):
            mem, self.device = _capi.MEMORY_HOST, "cpu"
        elif imp.device_type == _dlpack.CUDA:
            if ctx.device != "cuda" or imp.device_id != ctx.device_index:
                raise InvalidArgumentError("%s: a tensor on cuda:%d, the context renders on %s"
                                           % (name, imp.device_id, ctx.device_str), -1)
            mem, self.device = _capi.MEMORY_DEVICE, ctx.device_str
        else:
            raise InvalidArgumentError("%s: DLPack device type %d is not supported" % (name, imp.device_type), -1)
        acc, ok = 1, True
        for d, s in zip(reversed(imp.shape), reversed(imp.strides)):
            ok &= d == 1 or s == acc
            acc *= d
        if contiguous and not ok:
            raise InvalidArgumentError("%s: the tensor must be contiguous (.contiguous())" % name, -1)
        _fill_tensor(self.tensor, imp.data, _NAME_DT[imp.dtype], imp.shape, mem, imp.strides)


def from_dlpack(obj: Any, context: "Context") -> "_Borrowed":
    """Borrows obj's memory (anything with ``__dlpack__`` or a NumPy array)
    for dvren without a copy: what the package does with torch tensors
    passed as rays, targets or cotangents. Returns the borrowed view; keep
    it (and obj) alive while dvren reads it."""
    return _Borrowed(context, obj, name="tensor", dtypes=("float32", "float16", "uint8", "uint16", "uint32"))


# ---------------------------------------------------------------- context


def _default_log(level: int, line: str) -> None:
    if level == 0:
        return  # errors reach Python as exceptions (with the same text)
    _log.log({0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(level, logging.DEBUG), "%s", line)


class Context(_Handle):
    """Where dvren renders: ``"cpu"``, or ``"cuda"`` / ``"cuda:N"`` (an NVIDIA
    GPU through dvren_cuda.h: the device's primary CUDA context, the one
    PyTorch and CuPy use). A GPU context never falls back to the CPU: without
    a usable GPU the constructor raises :class:`NoDeviceError`.

    threads: CPU worker threads (0: $DVREN_THREADS, else all cores; <= 1024).
    log: a callable (level, line) receiving dvren's log lines (default: the
    ``logging`` logger "dvren"); log_level: "error", "warn" (default),
    "info", "debug"; log_json: structured JSON lines. plugin_path: extra
    plugin folders searched before the package's own (str or list).
    device_name / min_compute_capability: GPU choice as dvren_context_desc.
    kernel_cache_dir: NVRTC binary cache ("" disables it).
    Errors: InvalidArgumentError, NoDeviceError, UnsupportedError, DeviceError."""

    _kind = "context"

    def __init__(self, device: str = "cpu", *, threads: int = 0, log: Optional[Callable[[int, str], None]] = None,
                 log_level: str = "warn", log_json: bool = False,
                 plugin_path: Optional[Union[str, Sequence[str]]] = None, device_name: Optional[str] = None,
                 min_compute_capability: int = 0, kernel_cache_dir: Optional[str] = None):
        kind, _, index = device.partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
            raise InvalidArgumentError("context: device %r: expected 'cpu', 'cuda' or 'cuda:N'" % device, -1)
        if log_level not in _capi.LOG_LEVELS:
            raise InvalidArgumentError("context: log_level %r: one of %s" % (log_level, ", ".join(_capi.LOG_LEVELS)),
                                       -1)
        self._children: list = []
        self._live = 0
        self.device = kind
        self.device_index = int(index or 0)
        sink = log or _default_log

        def _sink(user, level, line):
            try:
                sink(int(level), line.decode("utf-8", "replace"))
            except Exception:  # never let a Python error cross into C
                pass

        self._log_cb = _capi.LOG_FN(_sink)
        d = _capi.ContextDesc()
        d.log = self._log_cb
        d.log_level = _capi.LOG_LEVELS[log_level]
        d.threads = threads
        paths = [plugin_path] if isinstance(plugin_path, str) else list(plugin_path or [])
        self._plugin_path = os.pathsep.join([os.fspath(p) for p in paths] + [_capi.PLUGIN_DIR]).encode()
        d.plugin_path = self._plugin_path
        d.flags = _capi.CONTEXT_LOG_JSON if log_json else 0
        self._strings = []
        if kind == "cuda":
            d.device = _capi.DEVICE_CUDA
            d.backend = lib.dvren_cuda_backend()
            d.device_index = self.device_index
            if device_name:
                self._strings.append(_b(device_name))
                d.device_name = self._strings[-1]
            d.min_compute_capability = min_compute_capability
        if kernel_cache_dir is not None:
            self._strings.append(_b(kernel_cache_dir))
            d.kernel_cache_dir = self._strings[-1]
        out = C.c_void_p()
        status = lib.dvren_context_create(C.byref(d), C.byref(out))
        if status != 0:
            _raise(status, lib.dvren_last_error(None).decode("utf-8", "replace"))
        super().__init__(None, out.value, self._destroy_context)
        self._external_stream = False

    # children: freed before the context, in reverse order of creation
    def _adopt(self, child: _Handle) -> None:
        self._children.append(weakref.ref(child))
        self._live += 1

    def _child_freed(self) -> None:
        self._live -= 1
        if self._closing and self._live == 0:
            self._free()

    def _destroy_context(self, ptr: int) -> None:
        lib.dvren_context_destroy(ptr)

    def close(self) -> None:
        """Closes every object made from this context, then the context
        (objects whose memory is still viewed are freed when the views die,
        and the context after them)."""
        if self._closing:
            return
        for ref in reversed(self._children):
            child = ref()
            if child is not None:
                child.close()
        self._children = []
        self._closing = True
        if self._live == 0:
            self._free()

    def _free(self) -> None:
        if self._ptr and self._live == 0:
            ptr, self._ptr = self._ptr, None
            lib.dvren_context_destroy(ptr)

    def __del__(self):
        try:
            if self._ptr and self._live == 0:
                self._free()
        except Exception:
            pass

    @property
    def device_str(self) -> str:
        """"cpu" or "cuda:N"."""
        return "cpu" if self.device == "cpu" else "cuda:%d" % self.device_index

    @property
    def threads(self) -> int:
        """CPU worker threads the renderer uses."""
        return int(lib.dvren_context_threads(self._p))

    def synchronize(self) -> None:
        """Waits for the work queued on the device (no-op on the CPU). Errors: DeviceError."""
        _check(lib.dvren_synchronize(self._p), self)

    def cuda_info(self) -> Dict[str, Any]:
        """GPU, driver and compiler of a CUDA context: device_name, compute_capability,
        multiprocessors, total_memory (bytes), driver_version, nvrtc (major, minor), target,
        cache_dir, context (the CUcontext address: the primary context), device_ordinal."""
        i = _capi.CudaInfo()
        _check(lib.dvren_cuda_get_info(self._p, C.byref(i)), self)
        return {"device_name": i.device_name.decode(), "compute_capability": i.compute_capability,
                "multiprocessors": i.multiprocessors, "total_memory": i.total_memory,
                "driver_version": i.driver_version, "nvrtc": (i.nvrtc_major, i.nvrtc_minor),
                "target": i.target.decode(), "cache_dir": i.cache_dir.decode(), "context": i.context or 0,
                "device_ordinal": i.device_ordinal}

    def set_stream(self, stream: Optional[int]) -> None:
        """Queue dvren's GPU work on this CUstream (an int handle, e.g.
        ``torch.cuda.current_stream().cuda_stream``; 0 is the legacy default
        stream), or on the context's own stream when stream is None. The new
        stream waits, on the device, for the work queued on the previous one
        (dvren_cuda_set_stream; the host does not wait).
        Errors: InvalidArgumentError on a CPU context, DeviceError."""
        if stream is None:
            _check(lib.dvren_cuda_own_stream(self._p), self)
            self._external_stream = False
        else:
            _check(lib.dvren_cuda_set_stream(self._p, stream or None), self)
            self._external_stream = True

    @property
    def stream(self) -> Optional[int]:
        """The CUstream dvren queues on (0: the legacy default stream); None on the CPU."""
        return None if self.device == "cpu" else (lib.dvren_cuda_stream(self._p) or 0)

    def _stream_value(self) -> Optional[int]:
        s = lib.dvren_cuda_stream(self._p)
        return s or None

    def memory_stats(self) -> Dict[str, int]:
        """The CUDA memory pool's counters (dvren_cuda_memory): in_use, cached, peak, driver_allocs,
        device_free, device_total, all bytes but driver_allocs."""
        m = _capi.CudaMemory()
        _check(lib.dvren_cuda_memory_stats(self._p, C.byref(m)), self)
        return {k: int(getattr(m, k)) for k, _ in _capi.CudaMemory._fields_}

    # ---- plugins and stages
    def plugins(self) -> list:
        """Every plugin the context can find, loading all libraries on the search path:
        a list of dicts (kind, name, version, summary, library, params: name -> summary line)."""
        failed = C.c_uint32()
        _check(lib.dvren_plugin_load_all(self._p, C.byref(failed)), self)
        out = []
        for i in range(lib.dvren_plugin_count(self._p)):
            libname = C.c_char_p()
            d = lib.dvren_plugin_at(self._p, i, C.byref(libname))
            out.append(_plugin_dict(d, libname.value))
        return out

    def field(self, name: str, **params: Any) -> "Stage":
        """A field stage of plugin ``name`` (e.g. "dense_grid") with parameters as keyword arguments
        (see :meth:`stage`)."""
        return Stage(self, "field", name, params)

    def shader(self, name: str, **params: Any) -> "Stage":
        """A shader stage (e.g. "emission_absorption"); see :meth:`stage`."""
        return Stage(self, "shader", name, params)

    def sampler(self, name: str, **params: Any) -> "Stage":
        """A sampler stage (e.g. "uniform"); see :meth:`stage`."""
        return Stage(self, "sampler", name, params)

    def saliency(self, name: str, **params: Any) -> "SaliencyModel":
        """A saliency model (a stage of kind "saliency", e.g.
        "spectral_residual", "render_error", "external"): see
        :class:`SaliencyModel` and :meth:`stage` for the parameters."""
        return SaliencyModel(self, "saliency", name, params)

    def registration(self, name: str = "phase_correlation", **params: Any) -> "RegistrationModel":
        """A registration model (a stage of kind "registration", dvren.h
        >>register), e.g. ``ctx.registration(method="parabolic")``. The
        "phase_correlation" plugin's parameters: method ("integer",
        "parabolic", "upsampled"; default "upsampled"), upsample (default
        100), window ("hann", "none"; default "hann"), epsilon (default
        0.02), band (default 0: all frequencies), threads (FFTW's). See
        :class:`RegistrationModel` and :meth:`stage`."""
        return RegistrationModel(self, "registration", name, params)

    def load_plugin(self, name_or_path: Union[str, os.PathLike]) -> None:
        """Loads a plugin library by path, or by name from the search path
        (dvren_plugin_load), and registers every plugin in it; loading one
        twice is a no-op. Stages find plugins by name without this: it is for
        a library outside the search path. Errors: NotFoundError (the message
        lists the folders searched), PluginError (not a dvren plugin library,
        another ABI, a plugin of the same kind and name already loaded)."""
        _check(lib.dvren_plugin_load(self._p, _b(name_or_path)), self)

    def stage(self, kind: str, name: str, **params: Any) -> "Stage":
        """A stage of plugin ``name`` of kind "field", "shader", "sampler",
        "saliency" (then a :class:`SaliencyModel`) or "registration" (then a
        :class:`RegistrationModel`).
        Parameters map to the plugin's schema (``dvren_render --list-plugins``):
        bool -> bool, int/float -> number, str/PathLike -> string/enum/path,
        a sequence of numbers -> floats, a NumPy array (float32, float16,
        uint8, uint16, uint32; C-contiguous) -> tensor. Errors: NotFoundError
        (no such plugin), InvalidArgumentError (naming the parameter and
        what is wrong), FileError / FormatError (naming the file)."""
        cls = {"saliency": SaliencyModel, "registration": RegistrationModel}.get(kind, Stage)
        return cls(self, kind, name, params)

    def scene(self, field: "Stage", shader: "Stage", sampler: "Stage", *, differentiable: bool = False) -> "Scene":
        """See :class:`Scene`."""
        return Scene(field, shader, sampler, differentiable=differentiable)

    def splat_renderer(self, near: float = 0.01, far: float = 1e10, eps2d: float = 0.3,
                       alpha_max: float = 0.99) -> "SplatRenderer":
        """A 3D Gaussian splat renderer on this context: see :class:`SplatRenderer`."""
        return SplatRenderer(self, near=near, far=far, eps2d=eps2d, alpha_max=alpha_max)

    def plan(self, width: int, height: int, camera: Optional["Camera"] = None, **kw: Any) -> "Plan":
        """See :class:`Plan`."""
        return Plan(self, width, height, camera, **kw)


def _plugin_dict(d, libname: Optional[bytes]) -> Dict[str, Any]:
    pd = d.contents
    params = {}
    buf = C.create_string_buffer(512)
    for k in range(pd.param_count):
        p = lib.dvren_plugin_param(d, k)
        lib.dvren_param_summary(p, buf, 512)
        params[p.contents.name.decode()] = buf.value.decode()
    return {"kind": lib.dvren_plugin_kind_name(pd.kind).decode(), "name": pd.name.decode(),
            "version": "%d.%d" % (pd.version >> 16, pd.version & 0xFFFF),
            "summary": (pd.summary or b"").decode(), "library": (libname or b"").decode(), "params": params}


# ---------------------------------------------------------------- stages

_KINDS = {"field": _capi.PLUGIN_FIELD, "shader": _capi.PLUGIN_SHADER, "sampler": _capi.PLUGIN_SAMPLER,
          "saliency": _capi.PLUGIN_SALIENCY, "registration": _capi.PLUGIN_REGISTRATION}


def _params(ctx: Context, params: Mapping[str, Any]):
    """A dvren_params from keyword arguments; returns (pointer, what must stay alive)."""
    p = C.c_void_p()
    _check(lib.dvren_params_create(ctx._p, C.byref(p)), ctx)
    keep = []
    try:
        for key, v in params.items():
            k = key.encode()
            if isinstance(v, bool):
                s = lib.dvren_params_set_bool(p, k, int(v))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                s = lib.dvren_params_set_number(p, k, float(v))
            elif isinstance(v, (str, os.PathLike)):
                s = lib.dvren_params_set_string(p, k, _b(v))
            elif isinstance(v, np.ndarray) and v.ndim >= 1 and v.dtype.name in _NAME_DT and v.ndim <= 4:
                b = _Borrowed(ctx, v, name="parameter '%s'" % key, dtypes=tuple(_NAME_DT))
                keep.append(b)
                s = lib.dvren_params_set_tensor(p, k, C.byref(b.tensor))
            elif isinstance(v, (list, tuple, np.ndarray)):
                vals = np.asarray(v, dtype=np.float64).ravel()
                keep.append(vals)
                s = lib.dvren_params_set_numbers(p, k, vals.ctypes.data_as(C.POINTER(C.c_double)), len(vals))
            else:
                lib.dvren_params_destroy(p)
                raise InvalidArgumentError("parameter '%s': a %s is not a parameter value (bool, number, str, "
                                           "sequence of numbers, NumPy array)" % (key, type(v).__name__), -1)
            if s != 0:
                lib.dvren_params_destroy(p)
                _check(s, ctx)
    except (TypeError, ValueError) as e:
        if not isinstance(e, Error):
            lib.dvren_params_destroy(p)
            raise InvalidArgumentError("parameter: %s" % e, -1) from None
        raise
    return p, keep


class Stage(_Handle):
    """An instance of a field, shader, sampler or saliency plugin
    (dvren_stage). Make one with :meth:`Context.field` / ``shader`` /
    ``sampler`` / ``saliency``.

    ``kind`` ("field", ...), ``name`` (the plugin), ``info`` (a dict: channels,
    bounds_min/max (world units), voxel_world, voxel_size, buffers: name ->
    (shape, dtype, differentiable))."""

    _kind = "stage"

    def __init__(self, ctx: Context, kind: str, name: str, params: Mapping[str, Any], _ptr: Optional[int] = None):
        if kind not in _KINDS:
            raise InvalidArgumentError("stage: kind %r: one of %s" % (kind, ", ".join(_KINDS)), -1)
        self.kind = kind
        self.name = name
        if _ptr is None:
            p, keep = _params(ctx, params)
            out = C.c_void_p()
            try:
                status = lib.dvren_stage_create(ctx._p, _KINDS[kind], name.encode(), p, C.byref(out))
            finally:
                lib.dvren_params_destroy(p)
            _check(status, ctx)
            _ptr = out.value
        super().__init__(ctx, _ptr, lib.dvren_stage_destroy, (ctx,))

    @property
    def info(self) -> Dict[str, Any]:
        i = _capi.InstanceInfo()
        i.struct_size = C.sizeof(i)
        _check(lib.dvren_stage_info(self._p, C.byref(i)), self._ctx)
        bufs = {}
        for k in range(i.buffer_count):
            b = C.cast(C.addressof(i.buffers.contents) + k * i.buffers[0].struct_size,
                       C.POINTER(_capi.BufferDesc)).contents
            t = b.tensor
            bufs[(b.name or b"buffer").decode()] = (tuple(int(t.shape[j]) for j in range(t.ndim)),
                                                   _DT_NAME.get(t.dtype, "invalid"), bool(b.flags & 1))
        return {"channels": i.channels, "bounds_min": tuple(i.bounds_min), "bounds_max": tuple(i.bounds_max),
                "voxel_world": i.voxel_world, "voxel_size": tuple(i.voxel_size), "buffers": bufs}

    def update(self, **params: Any) -> None:
        """Changes live parameters of the stage after its creation
        (dvren_stage_update), e.g. ``field.update(temperature=0.5,
        mode="gumbel", seed=3)`` on a ``block_world`` field. Only the names
        given change; scenes holding the stage render with the new values
        from their next render or backward pass (buffers, trained values
        and compiled kernels stay). Values as in :meth:`Context.stage`.
        Errors (nothing changes): InvalidArgumentError (an unknown
        parameter, one that is not live, a value the schema refuses,
        naming the plugin and the parameter), UnsupportedError (the plugin
        has no live parameters)."""
        ctx = self._ctx
        p, keep = _params(ctx, params)
        try:
            status = lib.dvren_stage_update(self._p, p)
        finally:
            lib.dvren_params_destroy(p)
        del keep
        _check(status, ctx)

    def sample(self, xyz: Any) -> np.ndarray:
        """Evaluates a field at world points xyz (n, 3) on the CPU: (n, channels) float32."""
        pts = np.ascontiguousarray(np.asarray(xyz, dtype=np.float32).reshape(-1, 3))
        out = np.empty((len(pts), self.info["channels"]), dtype=np.float32)
        _check(lib.dvren_field_sample(self._p, len(pts), pts.ctypes.data, out.ctypes.data), self._ctx)
        return out

    def __repr__(self) -> str:
        return "dvren.Stage(%s %r)" % (self.kind, self.name)


def _image_array(ctx: Context, name: str, v: Any, shape: Optional[Tuple[int, ...]], channels: int):
    """One image input of a saliency model: returns (pointer, memory,
    shape, what keeps it alive). Host arrays of any floating dtype are
    converted to contiguous float32; DLPack tensors (torch) are read in
    place and must be float32 and contiguous already."""
    what = "saliency: %s" % name
    if isinstance(v, np.ndarray) or not hasattr(v, "__dlpack__"):
        try:
            a = np.asarray(v)
        except Exception as e:  # an object NumPy cannot read
            raise InvalidArgumentError("%s: not an array (%s)" % (what, e), -1) from None
        if a.dtype.kind != "f":
            raise InvalidArgumentError("%s: dtype %s, expected float32 (linear values as floats; an 8-bit image "
                                       "must be converted and linearised first)" % (what, a.dtype.name), -1)
        a = np.ascontiguousarray(a, dtype=np.float32)
        keep, ptr, mem, got = a, a.ctypes.data, _capi.MEMORY_HOST, a.shape
    else:
        b = _Borrowed(ctx, v, name=what, dtypes=("float32",))
        t = b.tensor
        keep, ptr, mem, got = b, t.data, t.memory, tuple(int(t.shape[i]) for i in range(t.ndim))
    want = "(H, W, 3)" if channels == 3 else "(H, W)"
    ok = len(got) == (3 if channels == 3 else 2) and (channels != 3 or got[2] == 3) and all(d > 0 for d in got)
    if ok and shape is not None:
        ok = got[:2] == shape[:2]
        want = "%s = %s, as rgb" % (want, ((shape[0], shape[1], 3) if channels == 3 else (shape[0], shape[1])))
    if not ok:
        raise InvalidArgumentError("%s: shape %s, expected %s" % (what, got, want), -1)
    return ptr, mem, got, keep


class SaliencyModel(Stage):
    """A saliency model: a stage of kind "saliency" (a plugin of ABI
    "dvren.saliency/1", dvren.h >>foveate) that turns an image into an
    importance map, (H, W) float32 in [0, 1] (1: most important). Make one
    with :meth:`Context.saliency`, e.g. ``ctx.saliency("spectral_residual")``.
    It runs on its context's device: on a CUDA context the model runs on the
    GPU (host input is uploaded first) and never falls back to the CPU."""

    def compute(self, rgb: Any, alpha: Any = None, depth: Any = None, variance: Any = None,
                image_path: Optional[Union[str, os.PathLike]] = None) -> np.ndarray:
        """The importance map of an image (dvren_saliency_compute).

        rgb: (H, W, 3) linear RGB (radiance, not sRGB-encoded), row 0 at the
        top; alpha: (H, W) opacity; depth: (H, W) ray distance (world units,
        0 where nothing was hit); variance: (H, W) variance of the pixel's
        luminance estimate (the "variance" render output). The model reads
        what it wants of alpha, depth and variance; None passes nothing.
        Host arrays (NumPy, any floating dtype: converted to float32) or,
        on a CUDA context, float32 contiguous DLPack tensors (torch CUDA
        tensors) on the context's GPU, read in place; all inputs in one kind
        of memory. image_path: the same image as an 8-bit sRGB PNG on disk,
        for models that read a file (``external``).

        Returns a new (H, W) float32 NumPy array with values in [0, 1].
        Errors: InvalidArgumentError (a dtype, shape or device, naming the
        input; no image_path for a model that needs the file), the model's
        own (FileError, FormatError, TimeoutError, as its message says),
        PluginError (the model wrote a value outside [0, 1], naming the
        pixel), OutOfMemoryError, DeviceError."""
        ctx = self._ctx
        ptr, mem, shape, keep = _image_array(ctx, "rgb", rgb, None, 3)
        d = _capi.SaliencyInput()
        d.struct_size = C.sizeof(d)
        d.height, d.width = shape[0], shape[1]
        d.memory = mem
        d.rgb = ptr
        keeps = [keep]
        for name, v in (("alpha", alpha), ("depth", depth), ("variance", variance)):
            if v is None:
                continue
            p, m, _, k = _image_array(ctx, name, v, shape, 1)
            if m != mem:
                where = {_capi.MEMORY_HOST: "host", _capi.MEMORY_DEVICE: "device"}
                raise InvalidArgumentError("saliency: rgb is in %s memory and %s in %s memory: give every input "
                                           "on one device" % (where[mem], name, where[m]), -1)
            setattr(d, name, p)
            keeps.append(k)
        path = _b(image_path)
        d.image_path = path
        out = np.empty((shape[0], shape[1]), dtype=np.float32)
        _check(lib.dvren_saliency_compute(self._p, C.byref(d), out.ctypes.data), ctx)
        del keeps
        return out

    def compute_framebuffer(self, fb: "Framebuffer", image_path: Optional[Union[str, os.PathLike]] = None
                            ) -> np.ndarray:
        """The importance map of a render (dvren_saliency_framebuffer): the
        framebuffer's rgb (required), and its alpha, depth and variance when
        it has them, where they live (on the GPU for a CUDA context; no copy
        to the host). image_path: the render written as an 8-bit PNG, for
        models that read a file (:func:`write_png`). Returns (H, W) float32
        in [0, 1]. Errors: InvalidArgumentError (no rgb output, another
        context's framebuffer), and those of :meth:`compute`."""
        if not isinstance(fb, Framebuffer):
            raise InvalidArgumentError("saliency: compute_framebuffer takes a dvren.Framebuffer, got a %s"
                                       % type(fb).__name__, -1)
        out = np.empty((fb.plan.height, fb.plan.width), dtype=np.float32)
        path = _b(image_path)
        _check(lib.dvren_saliency_framebuffer(self._p, fb._p, path, out.ctypes.data), self._ctx)
        return out

    def __repr__(self) -> str:
        return "dvren.SaliencyModel(%r)" % self.name


# ---------------------------------------------------------------- registration

CFA_PATTERNS = ("none", "rggb", "bggr", "grbg", "gbrg", "xtrans")
"""The colour-filter-array layouts :meth:`RegistrationModel.register` takes (dvren_cfa)."""

# one row of RegistrationTable: dvren_register_result without the planes (NaN: no such colour)
_REGISTER_DTYPE = np.dtype([("dy", "f8"), ("dx", "f8"), ("peak", "f8"), ("confidence", "f8"),
                            ("dy_r", "f8"), ("dx_r", "f8"), ("dy_g", "f8"), ("dx_g", "f8"),
                            ("dy_b", "f8"), ("dx_b", "f8"), ("peak_r", "f8"), ("peak_g", "f8"), ("peak_b", "f8"),
                            ("cfa_dy", "i4"), ("cfa_dx", "i4"), ("cfa_aligned", "?")])


class RegistrationTable(np.ndarray):
    """The result of :meth:`RegistrationModel.register`: a structured NumPy
    array, one record per moving image (in the order given), with fields
    (shifts in pixels of the input image, the sign convention of dvren.h
    >>register: ``reference(y, x) ~ moving(y - dy, x - dx)``, so content
    that moved down by 3 rows gives dy = -3):

    - ``dy``, ``dx`` (float64): the combined shift;
    - ``peak``: the normalised cross-power at the peak (1 for identical
      images, about 0 for unrelated ones); ``confidence`` in [0, 1];
    - ``dy_r``, ``dx_r``, ``dy_g``, ``dx_g``, ``dy_b``, ``dx_b`` and
      ``peak_r``, ``peak_g``, ``peak_b``: per colour (NaN when the images
      have no colour planes: grey, one channel, ``grey=True``);
    - ``cfa_dy``, ``cfa_dx`` (int32): the nearest shift that keeps the CFA
      aligned (multiples of its period), ``cfa_aligned`` (bool): the shift
      is within 0.05 px of it.

    ``table.report`` is a dict: batch_size, batches, peak_bytes, limit_bytes
    (bytes of working memory: device memory on a GPU), milliseconds, and the
    layout (period, planes, plane_width, plane_height).
    ``table.rows()`` gives the records as a list of dicts."""

    report: Dict[str, Any]

    def __array_finalize__(self, obj: Any) -> None:
        self.report = getattr(obj, "report", {})

    def rows(self) -> list:
        """The records as dicts (Python numbers; None for the absent colours)."""
        out = []
        for rec in np.atleast_1d(np.asarray(self)):
            d = {}
            for k in _REGISTER_DTYPE.names:
                v = rec[k].item()
                d[k] = None if isinstance(v, float) and math.isnan(v) else v
            out.append(d)
        return out


_REGISTER_DTYPES = ("uint8", "uint16", "float32")


def _register_image(ctx: Context, what: str, v: Any):
    """One image of a registration: (shape, dtype name, pointer, memory, keep)."""
    if isinstance(v, np.ndarray) or not hasattr(v, "__dlpack__"):
        try:
            a = np.asarray(v)
        except Exception as e:  # an object NumPy cannot read
            raise InvalidArgumentError("register: %s: not an array (%s)" % (what, e), -1) from None
        if a.dtype.kind == "f" and a.dtype != np.float32:
            a = a.astype(np.float32)  # float64 and float16: as float32 (the model computes in float32)
        if a.dtype.name not in _REGISTER_DTYPES:
            raise InvalidArgumentError("register: %s: dtype %s, expected uint8, uint16 or float32"
                                       % (what, a.dtype.name), -1)
        a = np.ascontiguousarray(a)
        return a.shape, a.dtype.name, a.ctypes.data, _capi.MEMORY_HOST, a
    b = _Borrowed(ctx, v, name="register: %s" % what, dtypes=_REGISTER_DTYPES)
    t = b.tensor
    return tuple(int(t.shape[i]) for i in range(t.ndim)), _DT_NAME[t.dtype], t.data, t.memory, b


def _cfa_value(ctx: Context, cfa: Any) -> int:
    if isinstance(cfa, (int, np.integer)) and not isinstance(cfa, bool):
        if not _capi.CFA_NONE <= int(cfa) <= _capi.CFA_XTRANS:
            raise InvalidArgumentError("register: cfa %d: one of %s" % (cfa, ", ".join(CFA_PATTERNS)), -1)
        return int(cfa)
    if not isinstance(cfa, str):
        raise InvalidArgumentError("register: cfa must be a pattern name (%s), got a %s"
                                   % (", ".join(CFA_PATTERNS), type(cfa).__name__), -1)
    out = C.c_int()
    _check(lib.dvren_cfa_parse(ctx._p, cfa.encode("utf-8", "replace"), C.byref(out)), ctx)
    return out.value


class RegistrationModel(Stage):
    """A registration model: a stage of kind "registration" (a plugin of
    ABI "dvren.registration/1", dvren.h >>register), e.g.
    ``ctx.registration("phase_correlation", method="upsampled")``: the
    translation between a reference image and moving images of one size,
    measured per colour plane of a CFA mosaic (no demosaicing) and combined
    by the peak-weighted median (dvren_register). It runs on its context's
    device: on a CUDA context the reference is transformed once and the
    moving images go through batched FFTs, never on the CPU."""

    def register(self, reference: Any, moving: Any, cfa: Union[str, int] = "none", grey: bool = False,
                 memory_limit: int = 0, xtrans: Any = None) -> RegistrationTable:
        """Registers each moving image against reference (dvren_register).

        reference: (H, W) (grey or a CFA mosaic) or (H, W, 3) (RGB) array,
        uint8, uint16 or float32 (other float dtypes are converted to
        float32), row 0 at the top. moving: a list of arrays like reference,
        one such array, or a stacked (N, H, W[, 3]) array. On a CUDA context
        the images may be contiguous DLPack tensors (torch) on its GPU,
        read in place (all images in one kind of memory).
        cfa: the mosaic's layout, one of :data:`CFA_PATTERNS` (case does
        not matter; "none": each channel is a plane); a CFA needs (H, W)
        images. xtrans: for cfa "xtrans", the colour (0 R, 1 G, 2 B) of
        pixel (y % 6, x % 6) as a (6, 6) array (None: Fujifilm's layout,
        dvren_cfa_xtrans_default). grey: RGB images as one plane (the mean
        of the channels). memory_limit: working memory allowed in bytes
        (device memory on a GPU; 0: what is free); the moving images are
        batched to fit.

        Returns a :class:`RegistrationTable` (one record per moving image,
        ``.report``). Errors: InvalidArgumentError (a shape, dtype,
        pattern, device or size that does not fit, naming the image),
        OutOfMemoryError (memory_limit too small for one image; the
        message says what one needs), UnsupportedError / DeviceError (the
        GPU's)."""
        ctx = self._ctx
        rshape, rdt, rptr, rmem, rkeep = _register_image(ctx, "reference", reference)
        if len(rshape) not in (2, 3) or (len(rshape) == 3 and rshape[2] != 3):
            raise InvalidArgumentError("register: reference: shape %s, expected (H, W) or (H, W, 3)" % (rshape,), -1)
        if isinstance(moving, (list, tuple)):
            items = list(moving)
        elif isinstance(moving, np.ndarray) and moving.ndim == len(rshape) + 1:
            items = list(moving)
        else:
            items = [moving]
        if not items:
            raise InvalidArgumentError("register: moving: no images (at least one)", -1)
        keeps = [rkeep]
        ptrs = (C.c_void_p * len(items))()
        for i, m in enumerate(items):
            what = "moving[%d]" % i
            shape, dt, ptr, mem, keep = _register_image(ctx, what, m)
            if shape != rshape:
                raise InvalidArgumentError("register: %s: shape %s, but the reference is %s" % (what, shape, rshape), -1)
            if dt != rdt:
                raise InvalidArgumentError("register: %s: dtype %s, but the reference is %s" % (what, dt, rdt), -1)
            if mem != rmem:
                where = {_capi.MEMORY_HOST: "host", _capi.MEMORY_DEVICE: "device"}
                raise InvalidArgumentError("register: the reference is in %s memory and %s in %s memory: give every "
                                           "image on one device" % (where[rmem], what, where[mem]), -1)
            ptrs[i] = ptr
            keeps.append(keep)
        if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer)) or memory_limit < 0:
            raise InvalidArgumentError("register: memory_limit = %r: bytes, an int >= 0 (0: what is free)"
                                       % (memory_limit,), -1)
        d = _capi.RegisterInput()
        d.struct_size = C.sizeof(d)
        d.height, d.width = rshape[0], rshape[1]
        d.channels = rshape[2] if len(rshape) == 3 else 1
        d.dtype = _NAME_DT[rdt]
        d.memory = rmem
        d.reference = rptr
        d.moving = ptrs
        d.count = len(items)
        d.cfa = _cfa_value(ctx, cfa)
        if xtrans is not None:
            if d.cfa != _capi.CFA_XTRANS:
                raise InvalidArgumentError("register: xtrans is given but cfa is %s" % lib.dvren_cfa_name(d.cfa).decode(),
                                           -1)
            x = np.asarray(xtrans)
            if x.shape != (6, 6) or x.dtype.kind not in "iu" or x.min() < 0 or x.max() > 2:
                raise InvalidArgumentError("register: xtrans: expected a (6, 6) array of 0 (R), 1 (G), 2 (B), got %s %s"
                                           % (x.dtype.name, x.shape), -1)
            for k, v in enumerate(x.ravel().tolist()):
                d.xtrans[k] = v
        d.grey = 1 if grey else 0
        d.memory_limit = int(memory_limit)
        lay = _capi.RegisterLayout()  # the planes (dvren_register fills its own copy of the input's)
        _check(lib.dvren_register_layout_of(ctx._p, C.byref(d), C.byref(lay)), ctx)
        res = (_capi.RegisterResult * len(items))()
        for r in res:
            r.struct_size = C.sizeof(r)
        rep = _capi.RegisterReport()
        rep.struct_size = C.sizeof(rep)
        status = lib.dvren_register(self._p, C.byref(d), res, C.byref(rep))
        del keeps
        _check(status, ctx)
        out = np.zeros(len(items), dtype=_REGISTER_DTYPE)
        for i, r in enumerate(res):
            rec = out[i]
            rec["dy"], rec["dx"], rec["peak"], rec["confidence"] = r.dy, r.dx, r.peak, r.confidence
            for c, n in enumerate("rgb"):
                have = r.channel_count == 3
                rec["dy_" + n] = r.channel_dy[c] if have else math.nan
                rec["dx_" + n] = r.channel_dx[c] if have else math.nan
                rec["peak_" + n] = r.channel_peak[c] if have else math.nan
            rec["cfa_dy"], rec["cfa_dx"], rec["cfa_aligned"] = r.cfa_dy, r.cfa_dx, bool(r.cfa_aligned)
        table = out.view(RegistrationTable)
        table.report = {"batch_size": int(rep.batch_size), "batches": int(rep.batches),
                        "peak_bytes": int(rep.peak_bytes), "limit_bytes": int(rep.limit_bytes),
                        "milliseconds": float(rep.milliseconds), "cfa": lib.dvren_cfa_name(d.cfa).decode().lower(),
                        "period": int(lay.period), "planes": int(lay.plane_count),
                        "plane_width": int(lay.plane_width), "plane_height": int(lay.plane_height)}
        return table

    def __repr__(self) -> str:
        return "dvren.RegistrationModel(%r)" % self.name


# ---------------------------------------------------------------- cameras


class Camera:
    """A camera (dvren_camera: plain data). Build one with :meth:`look_at`,
    :meth:`orthographic` or :meth:`from_matrices`. OpenGL conventions:
    right-handed world, the camera looks down -z with +y up."""

    def __init__(self, c: _capi.Camera):
        self._c = c

    @staticmethod
    def _v3(v, what: str):
        a = [float(x) for x in v]
        if len(a) != 3:
            raise InvalidArgumentError("camera: %s needs 3 numbers, got %d" % (what, len(a)), -1)
        return (C.c_float * 3)(*a)

    @classmethod
    def look_at(cls, eye: Sequence[float], target: Sequence[float], up: Sequence[float] = (0.0, 1.0, 0.0),
                fov_y: float = math.radians(40.0)) -> "Camera":
        """Pinhole camera at eye (world units) looking at target; fov_y is the
        vertical field of view in radians, in (0, pi). Errors: InvalidArgumentError
        (eye == target, up parallel to the view, fov out of range)."""
        c = _capi.Camera()
        _check(lib.dvren_camera_look_at(cls._v3(eye, "eye"), cls._v3(target, "target"), cls._v3(up, "up"),
                                        float(fov_y), C.byref(c)))
        return cls(c)

    @classmethod
    def orthographic(cls, eye: Sequence[float], target: Sequence[float], up: Sequence[float] = (0.0, 1.0, 0.0),
                     height: float = 1.0) -> "Camera":
        """Parallel rays along target - eye from the plane through eye; the
        image height spans ``height`` world units (> 0)."""
        c = _capi.Camera()
        _check(lib.dvren_camera_orthographic(cls._v3(eye, "eye"), cls._v3(target, "target"), cls._v3(up, "up"),
                                             float(height), C.byref(c)))
        return cls(c)

    @classmethod
    def from_matrices(cls, view: Any, projection: Any) -> "Camera":
        """From 4x4 view (world to eye) and projection (eye to clip, OpenGL
        NDC) matrices, given as arrays indexed [row, column] as printed (NumPy's
        and glm's printed form; e.g. the projection's [3, 2] is -1 for a
        perspective). Errors: InvalidArgumentError (singular, non-finite)."""
        v = np.asarray(view, dtype=np.float32)
        p = np.asarray(projection, dtype=np.float32)
        if v.shape != (4, 4) or p.shape != (4, 4):
            raise InvalidArgumentError("camera: view and projection must be 4x4, got %s and %s"
                                       % (v.shape, p.shape), -1)
        c = _capi.Camera()
        # column-major, as OpenGL stores them
        _check(lib.dvren_camera_from_matrices((C.c_float * 16)(*v.T.ravel()), (C.c_float * 16)(*p.T.ravel()),
                                              C.byref(c)))
        return cls(c)

    @classmethod
    def from_opencv(cls, viewmat: Any, K: Any) -> "Camera":
        """From OpenCV's (COLMAP's, 3DGS's, gsplat's) conventions
        (dvren_camera_from_opencv): viewmat the 4x4 world-to-camera matrix
        [R t; 0 0 0 1] (camera x right, y down, z forward), K the 3x3
        intrinsics [fx 0 cx; 0 fy cy; 0 0 1] in pixels of the plan's image
        (x = fx X / Z + cx, pixel centres at +0.5); both indexed [row,
        column]. Splat renders project with it; volume renders cast the
        matching rays. Errors: InvalidArgumentError (shapes, non-finite
        values, R not a rotation, fx or fy <= 0, skew, bad last rows)."""
        v = np.asarray(viewmat, dtype=np.float32)
        k = np.asarray(K, dtype=np.float32)
        if v.shape != (4, 4) or k.shape != (3, 3):
            raise InvalidArgumentError("camera: viewmat must be 4x4 and K 3x3, got %s and %s" % (v.shape, k.shape), -1)
        c = _capi.Camera()
        _check(lib.dvren_camera_from_opencv((C.c_float * 16)(*v.ravel()), (C.c_float * 9)(*k.ravel()), C.byref(c)))
        return cls(c)

    @property
    def eye(self) -> Tuple[float, float, float]:
        return tuple(self._c.eye)

    @property
    def forward(self) -> Tuple[float, float, float]:
        return tuple(self._c.forward)

    def __repr__(self) -> str:
        return "dvren.Camera(model=%d, eye=%s, forward=%s)" % (self._c.model, self.eye, self.forward)


# ---------------------------------------------------------------- plans


def _output_bits(outputs: Union[str, Iterable[str], None]) -> int:
    if outputs is None:
        return 0
    if isinstance(outputs, str):
        outputs = (outputs,)
    bits = 0
    for o in outputs:
        if o not in _capi.OUTPUTS:
            raise InvalidArgumentError("outputs: %r is not one of %s" % (o, ", ".join(_capi.OUTPUTS)), -1)
        bits |= _capi.OUTPUTS[o]
    return bits


def _output_names(bits: int) -> Tuple[str, ...]:
    return tuple(n for n, b in _capi.OUTPUTS.items() if bits & b)


class Plan(_Handle):
    """What to render (dvren_plan, immutable): an image of width x height
    pixels (1..32768) seen by ``camera``, or a batch of rays.

    camera: a :class:`Camera` (not needed with rays). rays: float32
    (height, width, 6) or (height*width, 6), origin xyz then unit direction
    xyz per ray (world units), ray k is pixel (k % width, k // width); a
    NumPy array or any DLPack tensor (a CUDA torch tensor is read in place
    on the GPU). The plan borrows it: refill it in place between renders.
    step: march step in world units (0: half the field's voxel);
    samples_per_ray (wins over step); spp: rays per pixel (1..65536); seed:
    the RNG key; outputs: names from :data:`OUTPUTS` (default rgb, alpha);
    background: RGB behind the volume; roi: (x, y, w, h) pixels to render;
    min_transmittance: early ray termination threshold in [0, 1) (0: the
    default 1e-4; negative: never).

    Per-pixel budgets (foveated rendering; :func:`importance_budget` makes
    both from an importance map): spp_map, (height, width) rays per pixel,
    1..65536 each (replaces spp; uint32, or another integer dtype whose
    values fit); step_map, (height, width) multipliers in [1, 64] of the
    march step (float32, or another real dtype, converted). Host arrays
    (NumPy, or a CPU tensor NumPy can read); the plan copies them. A pixel
    given k rays renders bitwise as in a plan with spp = k. Such a plan is
    forward only (Scene.backward raises UnsupportedError). Errors:
    InvalidArgumentError naming the field (for the maps: a wrong dtype or
    shape, or the first pixel out of range)."""

    _kind = "plan"

    def __init__(self, ctx: Context, width: int, height: int, camera: Optional[Camera] = None, *,
                 rays: Any = None, step: float = 0.0, samples_per_ray: int = 0, spp: int = 1, seed: int = 0,
                 outputs: Union[str, Iterable[str]] = ("rgb", "alpha"), background: Sequence[float] = (0, 0, 0),
                 roi: Optional[Sequence[int]] = None, min_transmittance: float = 0.0,
                 spp_map: Any = None, step_map: Any = None, _desc: Optional[_capi.PlanDesc] = None):
        d = _desc if _desc is not None else _capi.PlanDesc()
        self._rays = None
        self._scratch: Dict[Any, Any] = {}  # framebuffers reused across calls (cotangents, dvren.torch's outputs)
        if _desc is None:
            d.width, d.height = int(width), int(height)
            if camera is not None:
                d.camera = camera._c
            d.step_world = float(step)
            d.samples_per_ray = int(samples_per_ray)
            d.spp = int(spp)
            d.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
            d.outputs = _output_bits(outputs)
            d.background = (C.c_float * 3)(*[float(x) for x in background])
            if roi is not None:
                d.roi = _capi.Rect(*[int(x) for x in roi])
            d.min_transmittance = float(min_transmittance)
        if rays is not None:
            self._rays = _Borrowed(ctx, rays, name="plan: rays")
            d.rays = C.pointer(self._rays.tensor)
        maps = []  # alive until dvren_plan_create copied them
        for key, v in (("spp_map", spp_map), ("step_map", step_map)):
            if v is not None:
                a = _budget_map(key, v, int(d.height), int(d.width))
                t = _capi.Tensor()
                _fill_tensor(t, a.ctypes.data, _NP_DT[a.dtype], a.shape, _capi.MEMORY_HOST)
                maps.append((a, t))
                setattr(d, key, C.pointer(t))
        out = C.c_void_p()
        _check(lib.dvren_plan_create(ctx._p, C.byref(d), C.byref(out)), ctx)
        super().__init__(ctx, out.value, lib.dvren_plan_destroy, (ctx,))
        self.desc = _capi.PlanDesc()
        C.pointer(self.desc)[0] = lib.dvren_plan_get_desc(self._ptr).contents
        self.width, self.height = int(self.desc.width), int(self.desc.height)
        self.outputs = _output_names(self.desc.outputs)
        del maps

    def close(self) -> None:
        """Closes the framebuffers the plan keeps for reuse, then the plan."""
        for v in list(self._scratch.values()):
            for fb in (v if isinstance(v, list) else [v]):
                fb.close()
        self._scratch.clear()
        super().close()

    @property
    def camera(self) -> Optional[Camera]:
        """The plan's camera (a copy), or None for a ray-batch plan without one."""
        if self.desc.camera.model == _capi.CAMERA_NONE:
            return None
        c = _capi.Camera()
        C.pointer(c)[0] = self.desc.camera
        return Camera(c)

    @property
    def spp_map(self) -> Optional[np.ndarray]:
        """A copy of the plan's rays per pixel, (height, width) uint32, or None (the same spp everywhere)."""
        return self._map_copy(self.desc.spp_map)

    @property
    def step_map(self) -> Optional[np.ndarray]:
        """A copy of the plan's step multipliers, (height, width) float32, or None (the plan's step everywhere)."""
        return self._map_copy(self.desc.step_map)

    def _map_copy(self, p) -> Optional[np.ndarray]:
        if not p:
            return None
        self._p  # noqa: B018 (raises after close: the copy lives in the plan)
        return _host_view(p.contents, None).copy()

    @property
    def rays(self) -> Any:
        """The rays object the plan borrows (None for a camera plan)."""
        return None if self._rays is None else self._rays.keep if not isinstance(self._rays.keep, tuple) \
            else self._rays.keep[0]

    def __repr__(self) -> str:
        return "dvren.Plan(%dx%d, outputs=%s%s)" % (self.width, self.height, self.outputs,
                                                    ", rays" if self._rays is not None else "")


def _budget_map(key: str, v: Any, height: int, width: int) -> np.ndarray:
    """A plan's spp_map (uint32) or step_map (float32) as a contiguous host
    array of shape (height, width), converted from other integer (spp_map)
    or real (step_map) dtypes; InvalidArgumentError naming what is wrong."""
    what = "plan: %s" % key
    if not isinstance(v, np.ndarray) and hasattr(v, "__dlpack__"):
        try:
            v = np.from_dlpack(v)
        except Exception:
            raise InvalidArgumentError("%s: needs a host array (a device tensor: copy it to the host, "
                                       "e.g. .cpu())" % what, -1) from None
    try:
        a = np.asarray(v)
    except Exception as e:
        raise InvalidArgumentError("%s: not an array (%s)" % (what, e), -1) from None
    if key == "spp_map":
        if a.dtype.kind not in "ui":
            raise InvalidArgumentError("%s: dtype %s, expected uint32 (or another integer dtype): rays per pixel "
                                       "are whole numbers, 1..65536" % (what, a.dtype.name), -1)
        if a.dtype != np.uint32 and a.size and (int(a.min()) < 0 or int(a.max()) > 0xFFFFFFFF):
            raise InvalidArgumentError("%s: values from %d to %d do not fit uint32 (rays per pixel are 1..65536)"
                                       % (what, int(a.min()), int(a.max())), -1)
        dt = np.uint32
    else:
        if a.dtype.kind not in "fui":
            raise InvalidArgumentError("%s: dtype %s, expected float32 (step multipliers in [1, 64])"
                                       % (what, a.dtype.name), -1)
        dt = np.float32
    if a.shape != (height, width):
        raise InvalidArgumentError("%s: shape %s, expected (height, width) = (%d, %d)"
                                   % (what, a.shape, height, width), -1)
    return np.ascontiguousarray(a, dtype=dt)


class Framebuffer(_Handle):
    """Outputs of renders of one plan (dvren_framebuffer), zero at creation.
    ``outputs``: names (default: the plan's). Reuse one across renders to
    avoid allocation; the views it hands out then see the next render."""

    _kind = "framebuffer"

    def __init__(self, plan: Plan, outputs: Union[str, Iterable[str], None] = None):
        ctx = plan._ctx
        out = C.c_void_p()
        bits = _output_bits(outputs)
        _check(lib.dvren_framebuffer_create_outputs(ctx._p, plan._p, bits, C.byref(out)), ctx)
        super().__init__(ctx, out.value, lib.dvren_framebuffer_destroy, (ctx, plan))
        self.plan = plan
        self.outputs = _output_names(bits) if bits else plan.outputs

    def output(self, name: str) -> Union[np.ndarray, Tensor]:
        """One output without a copy: a NumPy array on the CPU, a
        :class:`Tensor` (DLPack, device memory) on the GPU. Shapes: rgb (H, W,
        3) float32; alpha, depth, transmittance (H, W) float32; hit (H, W)
        uint8; samples (H, W) uint32; variance (H, W) float32, the variance
        of the pixel's mean luminance (Rec. 709 Y) over its rays (0 with one
        ray); surface_id (H, W) uint32, the id of the first surface the
        pixel's rays hit (for a block world the cell index x + X (y + Y z),
        docs/blocks.md), :data:`NO_SURFACE` where none. Errors: NotFoundError."""
        t = _capi.Tensor()
        bit = _output_bits(name)
        if self._ctx.device == "cuda":
            _check(lib.dvren_cuda_framebuffer_output(self._p, bit, C.byref(t)), self._ctx)
            return Tensor(t, self, self._ctx)
        _check(lib.dvren_framebuffer_output(self._p, bit, C.byref(t)), self._ctx)
        return _host_view(t, self._export_token())

    def host(self, name: str) -> np.ndarray:
        """One output as a NumPy array: the framebuffer's host copy (zero-copy
        on the CPU; on the GPU the first call after a render waits and copies
        back)."""
        t = _capi.Tensor()
        _check(lib.dvren_framebuffer_output(self._p, _output_bits(name), C.byref(t)), self._ctx)
        return _host_view(t, self._export_token())

    def write(self, name: str, values: Any) -> None:
        """Copies values (same element count, the output's dtype, contiguous;
        a NumPy array or a DLPack tensor, on the GPU also device memory) into
        one output: cotangents and targets. Errors: InvalidArgumentError, NotFoundError."""
        b = _Borrowed(self._ctx, values, name="framebuffer '%s'" % name, dtypes=("float32", "uint8", "uint32"))
        _check(lib.dvren_framebuffer_write(self._p, _output_bits(name), C.byref(b.tensor)), self._ctx)

    def __repr__(self) -> str:
        return "dvren.Framebuffer(%dx%d, %s)" % (self.plan.width, self.plan.height, self.outputs)


# ---------------------------------------------------------------- scenes


class Parameter:
    """One differentiable parameter of a scene ("field.voxels",
    "shader.tf_opacity", ...): float32 values and gradient where the
    renderer reads and accumulates them (host memory on the CPU, device
    memory on the GPU), without copies.

    ``value`` / ``grad``: NumPy arrays (CPU) or :class:`Tensor` (GPU, DLPack:
    ``torch.from_dlpack(p.value)`` shares the memory). ``shape``, ``numel``,
    ``trainable`` (settable: a frozen parameter gets no gradient)."""

    def __init__(self, scene: "Scene", index: int):
        self._scene = scene
        self.index = index
        sp = _capi.SceneParam()
        _check(lib.dvren_scene_param_get(scene._p, index, C.byref(sp)), scene._ctx)
        self.name = sp.name.decode()
        self.numel = int(sp.numel)
        self.shape = tuple(int(sp.value.shape[i]) for i in range(sp.value.ndim))
        self._sp = sp
        self._trainable = True

    def _view(self, t: _capi.Tensor):
        sc = self._scene
        if t.memory == _capi.MEMORY_DEVICE:
            return Tensor(t, sc, sc._ctx)
        return _host_view(t, sc._export_token())

    @property
    def value(self) -> Union[np.ndarray, Tensor]:
        return self._view(self._sp.value)

    @property
    def grad(self) -> Union[np.ndarray, Tensor]:
        return self._view(self._sp.grad)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, on: bool) -> None:
        _check(lib.dvren_scene_param_set_trainable(self._scene._p, self.index, int(bool(on))), self._scene._ctx)
        self._trainable = bool(on)

    def read(self, which: str = "value") -> np.ndarray:
        """A host copy of the values ("value") or the gradient ("grad")."""
        out = np.empty(self.shape, dtype=np.float32)
        t = _capi.Tensor()
        _fill_tensor(t, out.ctypes.data, _capi.DTYPE_F32, self.shape, _capi.MEMORY_HOST)
        w = {"value": _capi.PARAM_VALUE, "grad": _capi.PARAM_GRAD}[which]
        _check(lib.dvren_scene_param_read(self._scene._p, self.index, w, C.byref(t)), self._scene._ctx)
        return out

    def write(self, values: Any) -> None:
        """Sets the values from a host array of numel float32 elements (any shape)."""
        a = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
        if a.size != self.numel:
            raise InvalidArgumentError("parameter '%s': %d values, expected %d" % (self.name, a.size, self.numel), -1)
        t = _capi.Tensor()
        _fill_tensor(t, a.ctypes.data, _capi.DTYPE_F32, (a.size,), _capi.MEMORY_HOST)
        _check(lib.dvren_scene_param_write(self._scene._p, self.index, C.byref(t)), self._scene._ctx)

    def __repr__(self) -> str:
        return "dvren.Parameter(%r, shape=%s)" % (self.name, self.shape)


class Scene(_Handle):
    """A field, a shader and a sampler bound for rendering (dvren_scene).
    With ``differentiable=True`` the scene exposes its stages'
    differentiable buffers as :attr:`params` with gradients. The stages
    must be of the same context and stay alive (the scene keeps them).
    Errors: InvalidArgumentError, UnsupportedError (a stage without backward)."""

    _kind = "scene"

    def __init__(self, field: Stage, shader: Stage, sampler: Stage, *, differentiable: bool = False):
        ctx = field._ctx
        if shader._ctx is not ctx or sampler._ctx is not ctx:
            raise InvalidArgumentError("scene: the stages were made by different contexts", -1)
        d = _capi.SceneDesc(field._p, shader._p, sampler._p, _capi.SCENE_DIFFERENTIABLE if differentiable else 0)
        out = C.c_void_p()
        _check(lib.dvren_scene_create(ctx._p, C.byref(d), C.byref(out)), ctx)
        super().__init__(ctx, out.value, lib.dvren_scene_destroy, (ctx, field, shader, sampler))
        self.field, self.shader, self.sampler = field, shader, sampler
        self.differentiable = differentiable
        self.params: Dict[str, Parameter] = {}
        for i in range(lib.dvren_scene_param_count(self._ptr)):
            p = Parameter(self, i)
            self.params[p.name] = p

    @property
    def context(self) -> Context:
        return self._ctx

    def render(self, plan: Plan, out: Optional[Framebuffer] = None, *, threads: int = 0,
               progress: Optional[Callable[[int, int], bool]] = None) -> Dict[str, Union[np.ndarray, Tensor]]:
        """Renders plan (dvren_render: emission-absorption, front to back,
        early ray termination) and returns its outputs by name: NumPy arrays
        on the CPU, :class:`Tensor` (DLPack) on the GPU, views of ``out`` (a
        new framebuffer when None) without copies. GPU renders are
        asynchronous on the context's stream. progress(done, total) may
        return True to cancel (CancelledError). Errors: InvalidArgumentError,
        CancelledError, OutOfMemoryError, DeviceError, CompileError."""
        fb = out if out is not None else Framebuffer(plan)
        opts = None
        if threads or progress:
            opts = _capi.RenderOptions()
            opts.threads = threads
            if progress:
                opts.progress = _capi.PROGRESS_FN(lambda u, done, total: 1 if progress(done, total) else 0)
        _check(lib.dvren_render(self._p, plan._p, fb._p, C.byref(opts) if opts is not None else None), self._ctx)
        return {n: fb.output(n) for n in fb.outputs}

    def backward(self, plan: Plan, cotangents: Mapping[str, Any], *, forward: Optional[Framebuffer] = None,
                 deterministic: bool = False, zero_grad: bool = False) -> None:
        """Adds dL/dparams to the parameters' gradients given dL/d(outputs)
        (dvren_render_backward): cotangents maps "rgb" (H, W, 3), "alpha",
        "depth", "transmittance" (H, W) to float32 arrays or DLPack tensors
        (device tensors are copied on the device). forward: the framebuffer
        of the forward render (saves a pass with spp 1); deterministic:
        fixed-point accumulation, bitwise reproducible; zero_grad: zero the
        gradients first. Errors: InvalidArgumentError, DeviceError."""
        names = tuple(n for n in ("rgb", "alpha", "depth", "transmittance") if cotangents.get(n) is not None)
        for n in cotangents:
            if n not in ("rgb", "alpha", "depth", "transmittance"):
                raise InvalidArgumentError("backward: no gradient flows through %r" % n, -1)
        if zero_grad:
            self.zero_grad()
        if not names:
            return  # all cotangents zero: nothing to add
        # the cotangent framebuffer is the plan's scratch, one per set of outputs (every output written each call)
        g = plan._scratch.get(names)
        if g is None or g._ptr is None:
            g = plan._scratch[names] = Framebuffer(plan, names)
        for n in names:
            g.write(n, cotangents[n])
        o = _capi.BackwardOptions()
        o.flags = _capi.BACKWARD_DETERMINISTIC if deterministic else 0
        o.forward = forward._p if forward is not None else None
        _check(lib.dvren_render_backward(self._p, plan._p, g._p, C.byref(o)), self._ctx)

    def zero_grad(self) -> None:
        """Sets every gradient to zero."""
        _check(lib.dvren_scene_zero_grad(self._p), self._ctx)

    def render_f64(self, plan: Plan, outputs: Iterable[str] = ("rgb", "alpha", "depth", "transmittance")
                   ) -> Dict[str, np.ndarray]:
        """The float64 reference render (dvren_render_f64), on the host:
        float64 arrays rgb (H, W, 3) and the others (H, W). Parameters are
        read as their float32 values. Errors: UnsupportedError (a plugin
        without float64 functions), InvalidArgumentError (device rays)."""
        H, W = plan.height, plan.width
        res = {n: np.zeros((H, W, 3) if n == "rgb" else (H, W)) for n in outputs}
        img = _capi.ImageF64(*[res[n].ctypes.data if n in res else None
                               for n in ("rgb", "alpha", "depth", "transmittance")])
        _check(lib.dvren_render_f64(self._p, plan._p, C.byref(img)), self._ctx)
        return res

    def backward_f64(self, plan: Plan, cotangents: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        """The float64 vector-Jacobian product (dvren_render_backward_f64):
        returns name -> float64 gradient array of each parameter's shape (the
        scene's own gradients are not touched)."""
        cots = {}
        for n, v in cotangents.items():
            if v is None:
                continue
            if n not in ("rgb", "alpha", "depth", "transmittance"):
                raise InvalidArgumentError("backward_f64: no gradient flows through %r" % n, -1)
            want = (plan.height, plan.width, 3) if n == "rgb" else (plan.height, plan.width)
            a = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
            if a.size != int(np.prod(want)):
                raise InvalidArgumentError("backward_f64: cotangent %r has %d values, expected %s"
                                           % (n, a.size, want), -1)
            cots[n] = a
        img = _capi.ImageF64(*[cots[n].ctypes.data if n in cots else None
                               for n in ("rgb", "alpha", "depth", "transmittance")])
        grads = {n: np.zeros(p.shape) for n, p in self.params.items()}
        ptrs = (C.c_void_p * max(1, len(grads)))(*[g.ctypes.data for g in grads.values()])
        _check(lib.dvren_render_backward_f64(self._p, plan._p, C.byref(img), ptrs), self._ctx)
        return grads

    def gradcheck(self, plan: Plan, *, seed: int = 0, elements: int = 24,
                  outputs: Iterable[str] = ("rgb", "alpha", "depth"), deterministic: bool = False) -> Dict[str, Any]:
        """dvren_gradcheck: float64 analytic gradients against central finite
        differences, and the float32 backward against float64. Returns checked,
        skipped, fd_error, f32_error, grad_norm, worst."""
        d = _capi.GradcheckDesc(seed, elements, _output_bits(outputs),
                                _capi.BACKWARD_DETERMINISTIC if deterministic else 0)
        r = _capi.GradcheckResult()
        _check(lib.dvren_gradcheck(self._p, plan._p, C.byref(d), C.byref(r)), self._ctx)
        return {"checked": r.checked, "skipped": r.skipped, "fd_error": r.fd_error, "f32_error": r.f32_error,
                "grad_norm": r.grad_norm, "worst": r.worst.decode()}

    def optimizer(self, kind: str = "adam", **settings: float) -> "Optimizer":
        """dvren's own fused optimizer over every parameter (see :class:`Optimizer`)."""
        return Optimizer(self, kind, **settings)

    def tv(self, param: str, weight: float, channels: Tuple[int, int] = (0, 0), squared: bool = False) -> float:
        """Adds the total variation (Plenoxels eq. 3) of a 4-D grid parameter
        over channels [c0, c1) (c1 = 0: all) times weight to its gradient;
        returns its value."""
        v = C.c_double()
        d = _capi.TVDesc(self._index(param), float(weight), channels[0], channels[1],
                         _capi.TV_SQUARED if squared else 0)
        _check(lib.dvren_tv_regularize(self._p, C.byref(d), C.byref(v)), self._ctx)
        return v.value

    def _index(self, name: str) -> int:
        if name not in self.params:
            raise NotFoundError("scene: no parameter %r (parameters: %s)" % (name, ", ".join(self.params) or "none"),
                                -5)
        return self.params[name].index

    def save_checkpoint(self, path: Union[str, os.PathLike], optimizer: Optional["Optimizer"] = None) -> None:
        """dvren_checkpoint_save: parameters (and the optimizer's state), atomically."""
        _check(lib.dvren_checkpoint_save(self._p, optimizer._p if optimizer else None, _b(path), None, 0), self._ctx)

    def load_checkpoint(self, path: Union[str, os.PathLike], optimizer: Optional["Optimizer"] = None) -> None:
        """dvren_checkpoint_load. Errors: FileError, FormatError (naming the entry)."""
        _check(lib.dvren_checkpoint_load(self._p, optimizer._p if optimizer else None, _b(path), None, 0, None),
               self._ctx)

    # ---- meshes (dvren.h >>meshes)
    def sample_grid(self, res: Union[int, Sequence[int]], box_min: Optional[Sequence[float]] = None,
                    box_max: Optional[Sequence[float]] = None, *, channel: Union[int, str] = "density"
                    ) -> np.ndarray:
        """The scene's field sampled on a regular grid (dvren_scene_sample_grid):
        res (x, y, z) points, >= 2 each (an int: the same on every axis),
        spanning box_min..box_max inclusive (world units; None for both: the
        field's bounds, ``field.info["bounds_min"/"bounds_max"]``). channel:
        a field channel (an int >= 0), or "density": the shader's density
        sigma (1/world unit). Returns a new float32 array (Z, Y, X) (res
        reversed) for :func:`marching_cubes` with origin=box_min and
        spacing=(box_max - box_min) / (res - 1); :meth:`extract_mesh` does
        both. Runs on the host with the plugins' CPU code (a GPU scene's
        trained values are read back first). Errors: InvalidArgumentError
        (res, box, channel; the C library's message)."""
        what = "sample_grid"
        r = (res,) * 3 if isinstance(res, (int, np.integer)) and not isinstance(res, bool) else res
        try:
            r = tuple(r)
        except TypeError:
            r = ()
        if len(r) != 3:
            raise InvalidArgumentError("%s: res = %r: an int or three (x, y, z)" % (what, res), -1)
        r = tuple(_setting(what, "res", v, True, "whole numbers >= 2 (x, y, z)") for v in r)
        if (box_min is None) != (box_max is None):
            raise InvalidArgumentError("%s: give both box_min and box_max, or neither (the field's bounds)" % what,
                                       -1)
        d = _capi.GridSampleDesc()
        d.res[:] = r
        if box_min is not None:
            d.box_min[:] = _vec3(what + ": box_min", box_min)
            d.box_max[:] = _vec3(what + ": box_max", box_max)
        if isinstance(channel, str):
            if channel != "density":
                raise InvalidArgumentError("%s: channel = %r: a field channel (int >= 0) or 'density'"
                                           % (what, channel), -1)
            d.channel = _capi.SAMPLE_DENSITY
        else:
            d.channel = _setting(what, "channel", channel, True, "a field channel (int >= 0) or 'density'")
        ctx = self._ctx
        t = _capi.Tensor()
        _check(lib.dvren_scene_sample_grid(self._p, C.byref(d), C.byref(t)), ctx)
        try:
            shape = tuple(int(t.shape[i]) for i in range(t.ndim))
            out = np.empty(shape, np.float32)
            C.memmove(out.ctypes.data, t.data, out.nbytes)
        finally:
            lib.dvren_tensor_destroy(ctx._p, C.byref(t))
        return out.reshape(shape[:3])

    def extract_mesh(self, level: float, res: Union[int, Sequence[int]], box_min: Optional[Sequence[float]] = None,
                     box_max: Optional[Sequence[float]] = None, *, channel: Union[int, str] = "density",
                     colors: bool = False, inside_below: bool = False, normals: bool = True) -> "Mesh":
        """The iso-surface of the scene's field: :meth:`sample_grid` (res,
        box, channel) then :func:`marching_cubes` at level with the grid's
        origin and spacing, on the scene's context (a host grid: the CPU
        path), and with colors=True :meth:`shade_mesh`. Returns a :class:`Mesh`."""
        grid = self.sample_grid(res, box_min, box_max, channel=channel)
        if box_min is None:
            info = self.field.info
            box_min, box_max = info["bounds_min"], info["bounds_max"]
        lo = np.asarray(_vec3("extract_mesh: box_min", box_min), np.float64)
        hi = np.asarray(_vec3("extract_mesh: box_max", box_max), np.float64)
        n = np.asarray(grid.shape[::-1], np.float64)
        mesh = _mc_run(self._ctx, grid, level, tuple((hi - lo) / (n - 1)), tuple(lo), inside_below, normals)
        if colors:
            self.shade_mesh(mesh)
        return mesh

    def shade_mesh(self, mesh: "Mesh") -> np.ndarray:
        """Colours a mesh from the scene's shader (dvren_mesh_shade): at each
        vertex the field's channels are evaluated and the shader's colour
        is taken with the vertex normal as the gradient direction, seen
        head-on, clamped to [0, 1]. Sets and returns ``mesh.colors``, a new
        (V, 3) float32 array (linear RGB). Errors: InvalidArgumentError."""
        if not isinstance(mesh, Mesh):
            raise InvalidArgumentError("shade_mesh: a dvren.Mesh, got a %s" % type(mesh).__name__, -1)
        colors = np.zeros((len(mesh.vertices), 3), np.float32)
        old = mesh.colors
        mesh.colors = colors  # C writes into it (it allocates only when colors is NULL)
        try:
            m = mesh._c()
            _check(lib.dvren_mesh_shade(self._p, C.byref(m)), self._ctx)
        except BaseException:
            mesh.colors = old
            raise
        return colors

    def __repr__(self) -> str:
        return "dvren.Scene(%s, %s, %s%s)" % (self.field.name, self.shader.name, self.sampler.name,
                                              ", differentiable" if self.differentiable else "")


class Optimizer(_Handle):
    """dvren's fused optimizer (dvren_optimizer: Adam, Kingma and Ba 2015,
    or SGD with momentum) over every parameter of a differentiable scene.
    settings: lr, beta1, beta2, eps, momentum, weight_decay, lr_decay,
    decay_steps (dvren_optimizer_desc; the rest keep dvren's defaults)."""

    _kind = "optimizer"

    def __init__(self, scene: Scene, kind: str = "adam", **settings: float):
        kinds = {"adam": 0, "sgd": 1}
        if kind not in kinds:
            raise InvalidArgumentError("optimizer: kind %r: adam or sgd" % kind, -1)
        d = lib.dvren_optimizer_defaults(kinds[kind])
        for k, v in settings.items():
            if k not in dict(_capi.OptimizerDesc._fields_) or k == "kind":
                raise InvalidArgumentError("optimizer: unknown setting %r" % k, -1)
            setattr(d, k, v)
        out = C.c_void_p()
        _check(lib.dvren_optimizer_create(scene._p, C.byref(d), C.byref(out)), scene._ctx)
        super().__init__(scene._ctx, out.value, lib.dvren_optimizer_destroy, (scene,))

    def step(self) -> None:
        """One update from the current gradients (which it leaves as they are)."""
        _check(lib.dvren_optimizer_step(self._p), self._ctx)

    @property
    def steps(self) -> int:
        return int(lib.dvren_optimizer_steps(self._p))

    @property
    def lr(self) -> float:
        return float(lib.dvren_optimizer_lr(self._p))


# ---------------------------------------------------------------- 3D Gaussian splats

SPLAT_TENSORS = _capi.SPLAT_TENSORS  # ("means", "log_scales", "quats", "opacity_logits", "sh")
_SPLAT_DIFF = ("rgb", "alpha", "depth", "transmittance")  # outputs a gradient flows through
_SH_K = {1: 0, 4: 1, 9: 2, 16: 3}  # coefficients per colour -> SH degree


def _splat_degree(what: str, shape: Tuple[int, ...]) -> int:
    """The SH degree of an sh tensor of shape (N, K, 3), K = (degree + 1)^2."""
    if len(shape) != 3 or shape[2] != 3 or shape[1] not in _SH_K:
        raise InvalidArgumentError("%s: sh has shape %s, expected (N, K, 3) with K = (degree + 1)^2 = 1, 4, 9 or 16 "
                                   "(colour innermost, gsplat's layout)" % (what, tuple(shape)), -1)
    return _SH_K[shape[1]]


def _splat_set(ctx: Context, what: str, tensors: Sequence[Any], writable: bool = False
               ) -> Tuple[_capi.SplatParams, list]:
    """A dvren_splat_params over the five tensors (NumPy arrays or DLPack
    tensors, borrowed without a copy; None: data NULL) and what keeps them alive."""
    p = _capi.SplatParams()
    keep = []
    for name, v in zip(SPLAT_TENSORS, tensors):
        if v is None:
            continue
        b = _Borrowed(ctx, v, name="%s: %s" % (what, name), writable=writable)
        keep.append(b)
        setattr(p, name, b.tensor)
    return p, keep


class SplatRenderer(_Handle):
    """The 3D Gaussian splat renderer (dvren_splat_renderer, dvren.h
    >>splats; docs/splats.md): depth-sorted, EWA-projected Gaussians
    composited front to back as 3D Gaussian Splatting (Kerbl et al. 2023)
    and gsplat do, with an exact backward pass. Make one with
    :meth:`Context.splat_renderer`.

    Settings: near / far (world units): Gaussians whose camera z is outside
    are culled; eps2d (pixel^2): the low-pass dilation added to every
    projected 2-D covariance (<= 0: none); alpha_max in (0, 1): the cap of
    one Gaussian's alpha (3DGS's 0.99; gsplat uses 0.999).

    The parameters of N Gaussians, raw (before the activations), float32,
    C-contiguous, NumPy arrays or DLPack tensors (on a CUDA context, device
    tensors are read in place): means (N, 3) world positions; log_scales
    (N, 3) log standard deviations; quats (N, 4) w x y z (any non-zero
    norm); opacity_logits (N) (sigmoid gives the opacity); sh (N, K, 3)
    real SH coefficients, K = (degree + 1)^2 with degree 0..3. The renderer
    keeps the state of its last render (projected Gaussians, tile lists),
    which :meth:`backward` replays. Errors: InvalidArgumentError (a setting
    out of range, naming it; a tensor of the wrong dtype, shape or device,
    naming it), UnsupportedError (a camera splats cannot use; a GPU backend
    without splats), OutOfMemoryError, DeviceError."""

    _kind = "splat renderer"

    def __init__(self, ctx: Context, *, near: float = 0.01, far: float = 1e10, eps2d: float = 0.3,
                 alpha_max: float = 0.99):
        o = _capi.SplatOptions()
        for key, v in (("near", near), ("far", far), ("eps2d", eps2d), ("alpha_max", alpha_max)):
            _setting("splat_renderer", key, v, False, "a number")
        o.near_z, o.far_z = float(near), float(far)
        o.eps2d = float(eps2d) if eps2d > 0 else -1.0  # C's 0 means the default; Python's 0 means none
        o.alpha_max = float(alpha_max)
        if not (o.near_z > 0):
            raise InvalidArgumentError("splat_renderer: near = %r: the cull distance must be > 0 (world units)"
                                       % near, -1)
        if not (0 < o.alpha_max < 1):
            raise InvalidArgumentError("splat_renderer: alpha_max = %r: must be in (0, 1)" % alpha_max, -1)
        out = C.c_void_p()
        _check(lib.dvren_splat_renderer_create(ctx._p, C.byref(o), C.byref(out)), ctx)
        super().__init__(ctx, out.value, lib.dvren_splat_renderer_destroy, (ctx,))
        self.near, self.far, self.eps2d, self.alpha_max = float(near), float(far), float(eps2d), float(alpha_max)
        self._last: Optional[Dict[str, Any]] = None  # the last render: plan, parameters (kept alive), sizes
        self.renders = 0  # renders done: a caller tells whether the state is still that of its render

    @property
    def context(self) -> Context:
        return self._ctx

    def render(self, means: Any, log_scales: Any, quats: Any, opacity_logits: Any, sh: Any, plan: Plan, *,
               outputs: Union[str, Iterable[str], None] = None, out: Optional[Framebuffer] = None,
               layer: Optional[Framebuffer] = None) -> Dict[str, Union[np.ndarray, Tensor]]:
        """Renders the Gaussians with plan's camera (dvren_splat_render):
        a camera from :meth:`Camera.from_opencv` or :meth:`Camera.look_at`;
        the whole image, spp 1, no rays or budget maps. Returns the outputs
        named in ``outputs`` (default: the plan's) as NumPy arrays on the
        CPU, :class:`Tensor` (DLPack) on the GPU, views of ``out`` (a new
        framebuffer of the plan when None): rgb (H, W, 3) (+ T times the
        plan's background), alpha (H, W) (1 - T), transmittance T, depth
        (the expected camera z, sum z_i w_i / alpha; 0 where alpha = 0),
        median_depth, samples (uint32: the Gaussians composited). The plan
        may select no other outputs. layer: a framebuffer with rgb, alpha
        and depth of a volume render of the same plan, composited among the
        splats at its depth (such a render has no backward). Forward
        bitwise deterministic on a device."""
        ctx = self._ctx
        what = "splat_render"
        names = plan.outputs if outputs is None else _output_names(_output_bits(outputs))
        missing = [n for n in names if n not in plan.outputs]
        if missing:
            raise InvalidArgumentError("%s: the plan does not select %s (it has %s)"
                                       % (what, ", ".join(missing), ", ".join(plan.outputs)), -1)
        if plan._ctx is not ctx:
            raise InvalidArgumentError("%s: the plan was made by another context" % what, -1)
        ts = (means, log_scales, quats, opacity_logits, sh)
        p, keep = _splat_set(ctx, what, ts)
        for n, b in zip(SPLAT_TENSORS, keep):
            if b.tensor.ndim < 1:
                raise InvalidArgumentError("%s: %s is a scalar, expected (N, ...)" % (what, n), -1)
        p.count = int(keep[0].tensor.shape[0])
        p.sh_degree = _splat_degree(what, tuple(keep[4].tensor.shape[:keep[4].tensor.ndim]))
        fb = out if out is not None else Framebuffer(plan)
        self._last = None
        self.renders += 1
        _check(lib.dvren_splat_render(self._p, C.byref(p), plan._p, fb._p, layer._p if layer is not None else None),
               ctx)
        self._last = {"plan": plan, "params": p, "keep": keep, "count": int(p.count), "degree": int(p.sh_degree)}
        return {n: fb.output(n) for n in names}

    def backward(self, cotangents: Mapping[str, Any], *, grads: Optional[Mapping[str, Any]] = None,
                 wants: Iterable[str] = SPLAT_TENSORS) -> Dict[str, Any]:
        """Gradients of a scalar loss L with respect to the parameters of
        the last render (dvren_splat_backward), given cotangents dL/d(output):
        "rgb" (H, W, 3), "alpha", "depth", "transmittance" (H, W) (float32
        NumPy arrays or DLPack tensors; a transmittance cotangent enters as
        minus one on alpha, T = 1 - alpha; absent outputs count as zero).
        Returns {name: gradient} for the names in ``wants`` (of
        :data:`SPLAT_TENSORS`), each of its parameter's shape: new float32
        NumPy arrays, or the writable arrays/tensors given in ``grads``
        (overwritten; on a CUDA context device tensors are written in
        place). Culled Gaussians get zero. The sum over pixels runs in a
        fixed order: bitwise reproducible on a device. Errors:
        InvalidArgumentError (no render before, a cotangent of another
        output or shape), UnsupportedError (the render had a layer)."""
        ctx = self._ctx
        what = "splat_backward"
        last = self._last
        if last is None:
            raise InvalidArgumentError("%s: no render to differentiate (call render() first; a failed render "
                                       "leaves none)" % what, -1)
        plan = last["plan"]
        wants = tuple(wants)
        for n in wants:
            if n not in SPLAT_TENSORS:
                raise InvalidArgumentError("%s: no parameter %r (the parameters: %s)"
                                           % (what, n, ", ".join(SPLAT_TENSORS)), -1)
        cot = {}
        for n, v in cotangents.items():
            if n not in _SPLAT_DIFF:
                raise InvalidArgumentError("%s: no gradient flows through %r (only %s)"
                                           % (what, n, ", ".join(_SPLAT_DIFF)), -1)
            if v is not None:
                cot[n] = v
        if "transmittance" in cot:  # T = 1 - alpha
            t = cot.pop("transmittance")
            cot["alpha"] = -t if cot.get("alpha") is None else cot["alpha"] - t
        shapes = {"means": (last["count"], 3), "log_scales": (last["count"], 3), "quats": (last["count"], 4),
                  "opacity_logits": (last["count"],), "sh": (last["count"], (last["degree"] + 1) ** 2, 3)}
        result: Dict[str, Any] = {}
        for n in wants:
            if grads is not None and grads.get(n) is not None:
                result[n] = grads[n]
            else:
                result[n] = np.zeros(shapes[n], dtype=np.float32)
        if not cot or not result:
            for n, g in result.items():  # a loss that does not see the render: zero gradients
                if not isinstance(g, np.ndarray):
                    g[...] = 0  # a given tensor (torch, CuPy) is zeroed in place
            return result
        names = tuple(n for n in ("rgb", "alpha", "depth") if n in cot)
        key = ("splat_cotangents",) + names
        g = plan._scratch.get(key)
        if g is None or g._ptr is None:
            g = plan._scratch[key] = Framebuffer(plan, names)
        for n in names:
            g.write(n, cot[n])
        gp, keep = _splat_set(ctx, what + ": grads", [result.get(n) for n in SPLAT_TENSORS], writable=True)
        gp.count, gp.sh_degree = last["count"], last["degree"]
        _check(lib.dvren_splat_backward(self._p, C.byref(last["params"]), g._p, C.byref(gp)), ctx)
        del keep
        return result

    @property
    def stats(self) -> Dict[str, int]:
        """Counts of the last render (dvren_splat_stats): visible (Gaussians
        that survived culling), intersections ((Gaussian, tile) pairs
        sorted), workspace_bytes (the renderer's buffers)."""
        st = _capi.SplatStats()
        _check(lib.dvren_splat_stats_get(self._p, C.byref(st)), self._ctx)
        return {"visible": int(st.visible), "intersections": int(st.intersections),
                "workspace_bytes": int(st.workspace_bytes)}

    def __repr__(self) -> str:
        return "dvren.SplatRenderer(near=%g, far=%g, eps2d=%g, alpha_max=%g)" % (self.near, self.far, self.eps2d,
                                                                                self.alpha_max)


def sh_rotation(R: Any, degree: int) -> np.ndarray:
    """The (2l+1, 2l+1) float64 matrix D that rotates the real SH
    coefficients of band l = degree (1..3) of a Gaussian rotated by R
    (dvren_sh_rotation): sum_m D[k, m] b_l,m(n) = b_l,k(R^T n), so the
    coefficients f (sh[i, l*l:(l+1)*(l+1), c]) become f' = D^T f, i.e.
    ``sh[i, l*l:(l+1)**2] = D.T @ sh[i, l*l:(l+1)**2]``. R: 3x3 rotation
    (det 1), indexed [row, column]. Errors: InvalidArgumentError (degree,
    R not a rotation to 1e-5)."""
    r = np.ascontiguousarray(np.asarray(R, dtype=np.float64))
    if r.shape != (3, 3):
        raise InvalidArgumentError("sh_rotation: R must be 3x3, got %s" % (r.shape,), -1)
    d = _setting("sh_rotation", "degree", degree, True, "the SH band, 1..3")
    if not 1 <= d <= 3:
        raise InvalidArgumentError("sh_rotation: degree = %d: the SH band, 1..3" % d, -1)
    out = np.zeros((2 * d + 1, 2 * d + 1))
    c = _host_context(None)
    _check(lib.dvren_sh_rotation(r.ctypes.data_as(C.POINTER(C.c_double)), d,
                                 out.ctypes.data_as(C.POINTER(C.c_double))), c)
    return out


def load_splats(path: Union[str, os.PathLike], *, lenient: bool = False, ctx: Optional[Context] = None
                ) -> Dict[str, Any]:
    """Reads a 3D Gaussian Splatting PLY file (tools/dvren_splat_ply.h;
    docs/splats.md, "PLY files") into the renderer's layout: a dict of
    float32 NumPy arrays means (N, 3), log_scales (N, 3), quats (N, 4) w x y
    z, opacity_logits (N), sh (N, K, 3) (sh[:, 0] the file's f_dc, sh[:, 1:]
    its channel-major f_rest transposed), and sh_degree (int); pass them to
    :meth:`SplatRenderer.render` as ``**{k: d[k] for k in SPLAT_TENSORS}``.
    lenient: accept bytes after the last vertex (a warning instead of an
    error). Errors: FileError (the path), FormatError / UnsupportedError
    (the file's content, naming the header line, property or vertex)."""
    c = _host_context(ctx)
    h, n, deg = C.c_void_p(), C.c_uint64(), C.c_uint32()
    _check(lib.dvpy_splats_load(c._p, _b(path), _capi.SPLAT_PLY_LENIENT if lenient else 0, C.byref(h), C.byref(n),
                                C.byref(deg)), c)
    try:
        N, K = int(n.value), (int(deg.value) + 1) ** 2
        res = {"means": np.empty((N, 3), np.float32), "log_scales": np.empty((N, 3), np.float32),
               "quats": np.empty((N, 4), np.float32), "opacity_logits": np.empty((N,), np.float32),
               "sh": np.empty((N, K, 3), np.float32)}
        _check(lib.dvpy_splats_copy(c._p, h, *[res[k].ctypes.data for k in SPLAT_TENSORS]), c)
    finally:
        lib.dvpy_splats_free(h)
    res["sh_degree"] = int(deg.value)
    return res


# ---------------------------------------------------------------- meshes (dvren.h >>meshes)


def _rows(what: str, v: Any, dtype: Any, kinds: str) -> np.ndarray:
    """v as a C-contiguous (N, 3) array of dtype; InvalidArgumentError naming what."""
    try:
        a = np.asarray(v)
    except Exception as e:
        raise InvalidArgumentError("%s: not an array (%s)" % (what, e), -1) from None
    if a.dtype.kind not in kinds:
        raise InvalidArgumentError("%s: dtype %s, expected %s" % (what, a.dtype.name, np.dtype(dtype).name), -1)
    if a.ndim != 2 or a.shape[1] != 3:
        raise InvalidArgumentError("%s: shape %s, expected (N, 3)" % (what, a.shape), -1)
    return np.ascontiguousarray(a, dtype=dtype)


class Mesh:
    """An indexed triangle mesh in NumPy memory (dvren.h's dvren_mesh):

    - ``vertices`` (V, 3) float32: x y z in world units;
    - ``faces`` (T, 3) uint32 (the C type; scikit-image gives int32, and
      NumPy indexes with either: ``vertices[faces]`` is (T, 3, 3)): vertex
      indices, counter-clockwise seen from outside, as glTF 2.0 wants;
    - ``normals`` (V, 3) float32 unit vectors pointing out of the surface
      (towards lower field values), or None;
    - ``colors`` (V, 3) float32 linear RGB in [0, 1], or None;
    - ``stats``: what made it; :func:`marching_cubes` gives ``ms_device``,
      ``ms_total`` (milliseconds) and ``active_cells``; {} otherwise.

    The arrays are the mesh's own (copies of the C library's, which is
    freed before the call returns). ``Mesh(vertices, faces, normals=None,
    colors=None)`` makes one from arrays of any real dtype (converted;
    faces must index the vertices), e.g. to colour it with
    :meth:`Scene.shade_mesh`. Errors: InvalidArgumentError naming the array."""

    def __init__(self, vertices: Any, faces: Any, normals: Any = None, colors: Any = None):
        v = _rows("Mesh: vertices", vertices, np.float32, "fiu")
        f = _rows("Mesh: faces", faces, np.int64, "iu")
        if len(v) > 0x7FFFFFFF or len(f) > 0x7FFFFFFF:
            raise InvalidArgumentError("Mesh: %d vertices, %d faces: at most 2^31 - 1 each" % (len(v), len(f)), -1)
        if f.size and (f.min() < 0 or f.max() >= len(v)):
            bad = int(np.flatnonzero((f < 0).any(axis=1) | (f >= len(v)).any(axis=1))[0])
            raise InvalidArgumentError("Mesh: faces[%d] = %s: indices must be in 0..%d (the vertices)"
                                       % (bad, f[bad].tolist(), len(v) - 1), -1)
        self.vertices = v
        self.faces = f.astype(np.uint32)
        self.normals = None if normals is None else _rows("Mesh: normals", normals, np.float32, "fiu")
        self.colors = None if colors is None else _rows("Mesh: colors", colors, np.float32, "fiu")
        for name in ("normals", "colors"):
            a = getattr(self, name)
            if a is not None and len(a) != len(v):
                raise InvalidArgumentError("Mesh: %s has %d rows, the vertices %d" % (name, len(a), len(v)), -1)
        self.stats: Dict[str, Any] = {}

    @classmethod
    def _from_c(cls, m: _capi.Mesh, stats: Dict[str, Any]) -> "Mesh":
        """Copies a C mesh into NumPy arrays (the caller frees m)."""
        V, T = int(m.vertex_count), int(m.triangle_count)

        def copy(ptr, rows: int, dtype) -> Optional[np.ndarray]:
            if not ptr:
                return None
            if rows == 0:
                return np.zeros((0, 3), dtype)
            return np.ctypeslib.as_array(ptr, shape=(rows, 3)).copy()

        self = cls.__new__(cls)
        self.vertices = copy(m.positions, V, np.float32)
        if self.vertices is None:
            self.vertices = np.zeros((0, 3), np.float32)
        self.faces = copy(m.triangles, T, np.uint32)
        if self.faces is None:
            self.faces = np.zeros((0, 3), np.uint32)
        self.normals = copy(m.normals, V, np.float32)
        self.colors = copy(m.colors, V, np.float32)
        self.stats = stats
        return self

    def _c(self) -> _capi.Mesh:
        """A dvren_mesh over this mesh's arrays (borrowed: keep self alive while C reads it)."""
        for name in ("vertices", "faces", "normals", "colors"):
            a = getattr(self, name)
            want = np.uint32 if name == "faces" else np.float32
            if a is not None and (not isinstance(a, np.ndarray) or a.dtype != want or a.ndim != 2
                                  or a.shape[1] != 3 or not a.flags.c_contiguous):
                raise InvalidArgumentError("Mesh: %s was replaced by something else than a C-contiguous (N, 3) %s "
                                           "array" % (name, np.dtype(want).name), -1)
        m = _capi.Mesh()
        m.vertex_count, m.triangle_count = len(self.vertices), len(self.faces)
        fp = C.POINTER(C.c_float)
        if len(self.vertices):
            m.positions = self.vertices.ctypes.data_as(fp)
            if self.normals is not None:
                m.normals = self.normals.ctypes.data_as(fp)
            if self.colors is not None:
                m.colors = self.colors.ctypes.data_as(fp)
        if len(self.faces):
            m.triangles = self.faces.ctypes.data_as(C.POINTER(C.c_uint32))
        return m

    @property
    def vertex_count(self) -> int:
        return len(self.vertices)

    @property
    def face_count(self) -> int:
        return len(self.faces)

    def save(self, path: Union[str, os.PathLike], *, z_up: bool = True, ctx: Optional[Context] = None) -> None:
        """Writes the mesh to path in the format of its extension
        (tools/dvren_mesh_io.h's dvren_mesh_save): ``.obj`` (Wavefront OBJ,
        with normals and vertex colours, every float exact), ``.ply``
        (binary PLY: normals, colours as 8-bit) or ``.glb`` (glTF 2.0
        binary, one node named after the file). z_up (GLB only): the mesh
        is Z-up, as dvren's volumes are (z the slice axis), and the file
        gets a root node turning it to glTF's +Y up (the vertex data stays
        as it is); False writes it as given. Written atomically: a failed
        write leaves no file. Errors: InvalidArgumentError (an unknown
        extension, a non-finite value or bad index, naming it), FileError."""
        c = _host_context(ctx)
        m = self._c()
        _check(lib.dvren_mesh_save(c._p, _b(path), C.byref(m), _capi.MESH_IO_Z_UP if z_up else 0), c)

    def __repr__(self) -> str:
        extra = "".join(", " + n for n in ("normals", "colors") if getattr(self, n) is not None)
        return "dvren.Mesh(%d vertices, %d faces%s)" % (len(self.vertices), len(self.faces), extra)


def load_mesh(path: Union[str, os.PathLike], *, z_up: bool = True, ctx: Optional[Context] = None) -> Mesh:
    """Reads an OBJ, PLY or GLB file by its extension (tools/dvren_mesh_io.h's
    dvren_mesh_load) into a :class:`Mesh` (polygons split into triangles;
    normals and colours when the file has them for every vertex). A GLB
    gives the union of its objects, each moved by its node transforms;
    z_up: return dvren's Z-up frame (the file's +Y up turned back, see
    :meth:`Mesh.save`). Errors: FileError (the path), FormatError (the
    content, naming the line, element or accessor), UnsupportedError."""
    c = _host_context(ctx)
    m = _capi.Mesh()
    status = lib.dvren_mesh_load(c._p, _b(path), _capi.MESH_IO_Z_UP if z_up else 0, C.byref(m))
    try:
        _check(status, c)
        return Mesh._from_c(m, {})
    finally:
        lib.dvren_mesh_free(c._p, C.byref(m))


def save_glb(path: Union[str, os.PathLike], objects: Union[Mapping[str, Mesh], Sequence[Any]], *, z_up: bool = True,
             ctx: Optional[Context] = None) -> None:
    """Writes several meshes as one GLB (glTF 2.0 binary; tools/dvren_mesh_io.h's
    dvren_mesh_glb_save), one node per object: objects is {name: Mesh}, or
    a sequence of Mesh or of dicts with ``mesh`` and optional ``name``,
    ``translation`` (x, y, z, world units), ``rotation`` (a unit quaternion
    x y z w) and ``scale`` (x, y, z): the node's transform T * R * S.
    z_up: as in :meth:`Mesh.save` (one root node over the objects).
    Atomic. Errors: InvalidArgumentError (naming the object or value), FileError."""
    what = "save_glb"
    items = list(objects.items()) if isinstance(objects, Mapping) else list(enumerate(objects))
    if not items:
        raise InvalidArgumentError("%s: no objects to write" % what, -1)
    arr = (_capi.MeshObject * len(items))()
    keep = []
    for i, (key, o) in enumerate(items):
        spec = {"mesh": o} if isinstance(o, Mesh) else dict(o) if isinstance(o, Mapping) else None
        if spec is None or not isinstance(spec.get("mesh"), Mesh):
            raise InvalidArgumentError("%s: objects[%r]: a dvren.Mesh or a dict with 'mesh', got a %s"
                                       % (what, key, type(o).__name__), -1)
        unknown = set(spec) - {"mesh", "name", "translation", "rotation", "scale"}
        if unknown:
            raise InvalidArgumentError("%s: objects[%r]: unknown key(s) %s (mesh, name, translation, rotation, scale)"
                                       % (what, key, ", ".join(sorted(map(repr, unknown)))), -1)
        name = spec.get("name", key if isinstance(key, str) else None)
        cm = spec["mesh"]._c()
        keep += [spec["mesh"], cm]
        arr[i].mesh = C.pointer(cm)
        if name is not None:
            keep.append(_b(str(name)))
            arr[i].name = keep[-1]
        for field, n in (("translation", 3), ("rotation", 4), ("scale", 3)):
            if spec.get(field) is not None:
                try:
                    vals = [float(x) for x in spec[field]]
                except Exception:
                    vals = []
                if len(vals) != n:
                    raise InvalidArgumentError("%s: objects[%r]: %s = %r: expected %d numbers"
                                               % (what, key, field, spec[field], n), -1)
                getattr(arr[i], field)[:] = vals
    c = _host_context(ctx)
    _check(lib.dvren_mesh_glb_save(c._p, _b(path), arr, len(items), _capi.MESH_IO_Z_UP if z_up else 0), c)
    del keep


def load_glb(path: Union[str, os.PathLike], *, z_up: bool = True, ctx: Optional[Context] = None) -> list:
    """The objects of a GLB file (tools/dvren_mesh_io.h's dvren_mesh_glb_load),
    in the scene's depth-first order: a list of dicts with ``name``,
    ``mesh`` (a :class:`Mesh` in the node's own frame), ``translation``,
    ``rotation`` (x y z w), ``scale``, ``has_matrix`` (the node gave a
    matrix instead), ``local`` and ``world`` (4x4 float64 arrays indexed
    [row, column]: the node's transform and its product with its
    ancestors'; with z_up, dvren's Z-up world). Errors: FileError,
    FormatError, UnsupportedError (naming the part of the file)."""
    c = _host_context(ctx)
    g = _capi.MeshGlb()
    status = lib.dvren_mesh_glb_load(c._p, _b(path), _capi.MESH_IO_Z_UP if z_up else 0, C.byref(g))
    try:
        _check(status, c)
        out = []
        for i in range(g.count):
            o = g.objects[i]
            out.append({"name": (o.name or b"").decode("utf-8", "replace"), "mesh": Mesh._from_c(o.mesh, {}),
                        "translation": tuple(o.translation), "rotation": tuple(o.rotation), "scale": tuple(o.scale),
                        "has_matrix": bool(o.has_matrix),
                        "local": np.array(o.local[:], np.float64).reshape(4, 4).T.copy(),
                        "world": np.array(o.world[:], np.float64).reshape(4, 4).T.copy()})
        return out
    finally:
        lib.dvren_mesh_glb_free(c._p, C.byref(g))


def _mc_volume(ctx: Context, what: str, volume: Any) -> "_Borrowed":
    """The volume of marching_cubes as a dvren tensor: host arrays of any
    real dtype become contiguous float32 (a copy only when needed); a
    DLPack tensor in device memory is read in place (float32, contiguous,
    on ctx's GPU)."""
    if not isinstance(volume, np.ndarray) and hasattr(volume, "__dlpack__") and hasattr(volume, "__dlpack_device__"):
        if int(volume.__dlpack_device__()[0]) not in (_dlpack.CPU, _dlpack.CUDA_HOST):
            b = _Borrowed(ctx, volume, name=what)
            n = b.tensor.ndim
            if n not in (3, 4):
                raise InvalidArgumentError("%s: shape %s, expected (Z, Y, X) or (Z, Y, X, 1)"
                                           % (what, tuple(b.tensor.shape[:n])), -1)
            return b
        volume = np.from_dlpack(volume)
    try:
        a = np.asarray(volume)
    except Exception as e:
        raise InvalidArgumentError("%s: not an array (%s)" % (what, e), -1) from None
    if a.dtype.kind not in "fiu":
        raise InvalidArgumentError("%s: dtype %s, expected float32 (or a real dtype, converted to float32)"
                                   % (what, a.dtype.name), -1)
    if a.ndim not in (3, 4):
        raise InvalidArgumentError("%s: shape %s, expected (Z, Y, X) or (Z, Y, X, 1)" % (what, a.shape), -1)
    return _Borrowed(ctx, np.ascontiguousarray(a, dtype=np.float32), name=what)


def _vec3(what: str, v: Any) -> Tuple[float, float, float]:
    """Three real numbers (world units) as float32-representable floats."""
    try:
        t = tuple(float(x) for x in v)
        ok = len(t) == 3 and all(not isinstance(x, (bool, np.bool_)) for x in v)
    except Exception:
        ok = False
    if not ok:
        raise InvalidArgumentError("%s = %r: expected three numbers (x, y, z)" % (what, v), -1)
    return t


def _mc_run(ctx: Context, volume: Any, level: Any, spacing: Any, origin: Any, inside_below: bool,
            normals: bool) -> Mesh:
    what = "marching_cubes"
    lev = _setting(what, "level", level, False, "a number (the iso-level, in the volume's units)")
    if math.isfinite(lev) and abs(lev) > float(np.finfo(np.float32).max):
        raise InvalidArgumentError("%s: level = %r: outside float32's range" % (what, level), -1)
    o = _capi.McOptions()
    o.level = lev
    o.origin[:] = _vec3(what + ": origin", origin)
    o.spacing[:] = _vec3(what + ": spacing", spacing)
    o.flags = (_capi.MC_INSIDE_BELOW if inside_below else 0) | (0 if normals else _capi.MC_NO_NORMALS)
    b = _mc_volume(ctx, what + ": volume", volume)
    m, st = _capi.Mesh(), _capi.McStats()
    p = ctx._p
    status = lib.dvren_marching_cubes(p, C.byref(b.tensor), C.byref(o), C.byref(m), C.byref(st))
    try:
        _check(status, ctx)
        return Mesh._from_c(m, {"ms_device": float(st.ms_device), "ms_total": float(st.ms_total),
                                "active_cells": int(st.active_cells)})
    finally:
        lib.dvren_mesh_free(p, C.byref(m))  # the arrays are copied: no C memory outlives the call


def marching_cubes(volume: Any, level: float, *, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                   origin: Sequence[float] = (0.0, 0.0, 0.0), inside_below: bool = False, normals: bool = True,
                   ctx: Optional[Context] = None, device: Optional[str] = None) -> Mesh:
    """The iso-surface of a sampled field at ``level`` (dvren_marching_cubes,
    dvren.h >>meshes; docs/meshes.md): marching cubes with each cube face's
    ambiguity resolved by the asymptotic decider, so the mesh is manifold
    and closed wherever the surface is. Returns a :class:`Mesh`.

    volume: (Z, Y, X) or (Z, Y, X, 1) samples, x fastest, each side >= 2:
    a NumPy array or anything convertible, of any real dtype (converted to
    float32: a float64 field is rounded), or on a CUDA context a float32
    contiguous DLPack tensor on its GPU (torch, CuPy), read in place. On a
    CUDA context the extraction runs on the GPU (a host array is copied
    there first). Non-finite samples count as outside. level: the iso-level in the volume's units (finite).
    spacing (> 0), origin: world distance between neighbouring samples and
    world position of sample [0, 0, 0], both (x, y, z). inside_below: the
    solid is where value < level (default: value > level, a density).
    normals: compute the normals (minus the field's gradient). The context:
    ``ctx``, else a new one on ``device`` (default "cpu"; "cuda" runs on the
    GPU or raises, never on the CPU), closed after the call.

    Vertices are (x, y, z) world positions, one per grid edge the surface
    crosses (no duplicates), in edge order; faces are uint32, in cell
    order; the CPU and the GPU give identical meshes. ``mesh.stats``:
    ms_device, ms_total, active_cells. Errors: InvalidArgumentError naming
    the argument (a dtype or shape, spacing <= 0, a level that is not
    finite; the C library's message for what it checks),
    UnsupportedError (more than 2^31 vertices or triangles),
    OutOfMemoryError, DeviceError, NoDeviceError (device)."""
    if ctx is not None:
        if not isinstance(ctx, Context):
            raise InvalidArgumentError("marching_cubes: ctx: a dvren.Context, got a %s" % type(ctx).__name__, -1)
        if device is not None:
            kind, _, index = str(device).partition(":")
            want = "cpu" if kind == "cpu" else "cuda:%s" % (index or "0")
            if want != ctx.device_str:
                raise InvalidArgumentError("marching_cubes: device %r, but ctx is on %s (give one of them)"
                                           % (device, ctx.device_str), -1)
        return _mc_run(ctx, volume, level, spacing, origin, inside_below, normals)
    with Context(device or "cpu") as c:
        return _mc_run(c, volume, level, spacing, origin, inside_below, normals)


# ---------------------------------------------------------------- block worlds


def _blocks_raise(w: _capi.BlocksWorld, default: type) -> None:
    """Raises the error that tools/dvren_blocks.h left in w.error
    ("<file>: <field>: <problem>"): FileError for a file that cannot be
    opened, read or written, OutOfMemoryError, else ``default``."""
    text = w.error.decode("utf-8", "replace") or "dvren_blocks: failed"
    if "out of memory" in text or "do not fit in memory" in text:
        cls = OutOfMemoryError
    elif ": file: " in text:
        cls = FileError
    else:
        cls = default
    codes = {FileError: -3, OutOfMemoryError: -2, FormatError: -4, InvalidArgumentError: -1}
    raise cls(text, codes[cls])


def _color3(v: Any, what: str) -> Tuple[float, float, float]:
    try:
        a = [float(x) for x in v]
    except (TypeError, ValueError):
        raise InvalidArgumentError("BlockWorld: %s: expected three numbers, got %r" % (what, v), -1) from None
    if len(a) != 3:
        raise InvalidArgumentError("BlockWorld: %s: expected three numbers, got %d" % (what, len(a)), -1)
    return a[0], a[1], a[2]


class BlockWorld:
    """A block world in host memory (docs/blocks.md): a grid of X x Y x Z
    cells (y up), each air or one block, block k with M material logits,
    and the material table. The model, its loaders and its writer are
    tools/dvren_blocks.h's, compiled into the package's library: the same
    code the ``block_world`` field plugin and the ``dvren_blocks`` tool run.

    ``BlockWorld(size=(64, 48, 64), materials=None)`` makes an empty world
    (materials: a list of dicts as :attr:`materials` gives them; None: the
    default table of 8); :meth:`load` reads a file. Render it with
    ``ctx.field("block_world", **world.to_params())``.

    Properties: ``size`` (X, Y, Z), ``scale`` (world units per cell edge),
    ``origin`` (world position of cell (0, 0, 0)'s low corner),
    ``materials`` (list of dicts: name, top, side, bottom, each colour
    linear RGB in [0, 1]), ``positions`` ((N, 3) int32, block k's cell),
    ``logits`` ((N, M) float32; assign a new (N, M) array to change
    them: the arrays handed out are read-only copies), ``len(world)`` = N.
    Block indices follow the file's order; :meth:`remove` moves the last
    block into the removed one's index.

    Errors: FileError (a file that cannot be read or written, naming it),
    FormatError (a malformed file: "<file>: <field>: <problem>"),
    InvalidArgumentError (a position outside the grid, air where a block
    is expected, a material id out of range, logits of the wrong shape or
    not finite, a bad size or material table), OutOfMemoryError."""

    def __init__(self, size: Sequence[int] = (64, 48, 64), materials: Optional[Sequence[Mapping[str, Any]]] = None):
        self._w = _capi.BlocksWorld()
        try:
            sz = [int(v) for v in size]
            if len(sz) != 3 or any(v != float(x) for v, x in zip(sz, size)):
                raise ValueError
        except (TypeError, ValueError):
            raise InvalidArgumentError("BlockWorld: size: expected three whole numbers (X, Y, Z), got %r"
                                       % (size,), -1) from None
        if any(not 1 <= v <= 4096 for v in sz):
            # the header checks this too; int32 must not wrap before it does
            raise InvalidArgumentError("BlockWorld: size: %r: each edge in 1..4096" % (tuple(sz),), -1)
        table, count = None, 0
        if materials is not None:
            mats = list(materials)
            count = len(mats)
            if count == 0:
                raise InvalidArgumentError("BlockWorld: materials: an empty table (1..256 materials)", -1)
            table = (_capi.BlocksMaterial * count)()
            for i, m in enumerate(mats):
                try:
                    name = m["name"].encode("utf-8")
                    top, side, bottom = (_color3(m[k], "materials[%d].%s" % (i, k)) for k in ("top", "side", "bottom"))
                except (KeyError, TypeError, AttributeError):
                    raise InvalidArgumentError("BlockWorld: materials[%d]: expected a dict with name (str), top, "
                                               "side, bottom (three numbers each)" % i, -1) from None
                # at most 32 bytes: the header reports a longer or otherwise bad name itself
                C.memmove(C.addressof(table[i]) + _capi.BlocksMaterial.name.offset, name, min(len(name), 32))
                table[i].top, table[i].side, table[i].bottom = top, side, bottom
        if lib.dvren_blocks_init(C.byref(self._w), (C.c_int32 * 3)(*sz), table, count) != 0:
            _blocks_raise(self._w, InvalidArgumentError)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], *, label_logit: Optional[float] = None,
             materials: Optional[Union[str, os.PathLike]] = None) -> "BlockWorld":
        """Reads a world file by its extension (dvren_blocks_load): .json
        (dvren.blocks/1), .npy (a uint8 (X, Y, Z) label volume or a float
        (N, 3 + M) block list), .vox (MagicaVoxel, z up in the file, y up
        here). label_logit: the logit of a label's material (default 10);
        materials: a JSON file {"materials": [...]} replacing the default
        table of a file that brings none. Errors: FileError, FormatError."""
        self = cls.__new__(cls)
        self._w = _capi.BlocksWorld()
        opt = _capi.BlocksLoadOptions()
        if label_logit is not None:
            if not (math.isfinite(float(label_logit)) and float(label_logit) > 0):
                raise InvalidArgumentError("BlockWorld.load: label_logit %r: finite and > 0" % (label_logit,), -1)
            opt.label_logit = float(label_logit)
        opt.materials_path = _b(materials)
        if lib.dvren_blocks_load(C.byref(self._w), _b(path), C.byref(opt)) != 0:
            _blocks_raise(self._w, FormatError)
        return self

    def __del__(self):
        w = getattr(self, "_w", None)
        if w is not None:
            lib.dvren_blocks_free(C.byref(w))

    def _fail(self, default: type = InvalidArgumentError) -> None:
        _blocks_raise(self._w, default)

    # ---- what it holds

    @property
    def size(self) -> Tuple[int, int, int]:
        return tuple(int(v) for v in self._w.size)

    @property
    def scale(self) -> float:
        return float(self._w.scale)

    @property
    def origin(self) -> Tuple[float, float, float]:
        return tuple(float(v) for v in self._w.origin)

    @property
    def material_count(self) -> int:
        return int(self._w.material_count)

    def __len__(self) -> int:
        return int(self._w.block_count)

    @property
    def materials(self) -> list:
        out = []
        for i in range(self._w.material_count):
            m = self._w.materials[i]
            out.append({"name": m.name.decode("ascii", "replace"), "top": tuple(float(v) for v in m.top),
                        "side": tuple(float(v) for v in m.side), "bottom": tuple(float(v) for v in m.bottom)})
        return out

    def _array(self, ptr, dtype, cols: int) -> np.ndarray:
        n = int(self._w.block_count)
        if n == 0:
            a = np.zeros((0, cols), dtype=dtype)
        else:
            a = np.ctypeslib.as_array(ptr, shape=(n, cols)).astype(dtype, copy=True)
        a.flags.writeable = False
        return a

    @property
    def positions(self) -> np.ndarray:
        """(N, 3) int32: block k's cell (x, y, z) (a read-only copy)."""
        return self._array(self._w.pos, np.int32, 3)

    @property
    def logits(self) -> np.ndarray:
        """(N, M) float32: block k's material logits (a read-only copy; assign an (N, M) array to change them)."""
        return self._array(self._w.logits, np.float32, int(self._w.material_count))

    @logits.setter
    def logits(self, values: Any) -> None:
        n, m = int(self._w.block_count), int(self._w.material_count)
        try:
            a = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError("BlockWorld.logits: not an array of numbers (%s)" % e, -1) from None
        if a.shape != (n, m):
            raise InvalidArgumentError("BlockWorld.logits: shape %s, expected (N, M) = (%d, %d)" % (a.shape, n, m), -1)
        bad = np.flatnonzero(~np.isfinite(a.ravel()))
        if bad.size:
            raise InvalidArgumentError("BlockWorld.logits: block %d, logit %d is %r (logits are finite)"
                                       % (bad[0] // m, bad[0] % m, float(a.ravel()[bad[0]])), -1)
        if n:
            C.memmove(self._w.logits, a.ctypes.data, a.nbytes)

    # ---- editing

    def _xyz(self, x: int, y: int, z: int, fn: str) -> Tuple[int, int, int]:
        try:
            v = tuple(int(c) for c in (x, y, z))
            if any(a != b for a, b in zip(v, (x, y, z))):
                raise ValueError
        except (TypeError, ValueError):
            raise InvalidArgumentError("BlockWorld.%s: position (%r, %r, %r): whole numbers" % (fn, x, y, z), -1) \
                from None
        if any(not -2 ** 31 <= c < 2 ** 31 for c in v):
            raise InvalidArgumentError("BlockWorld.%s: position %r is outside the %d x %d x %d grid"
                                       % ((fn, v) + self.size), -1)
        return v

    def at(self, x: int, y: int, z: int) -> Optional[int]:
        """Index k of the block at cell (x, y, z); None for air or outside the grid."""
        k = lib.dvren_blocks_at(C.byref(self._w), *self._xyz(x, y, z, "at"))
        return None if k < 0 else int(k)

    def place(self, x: int, y: int, z: int, material: Optional[Union[int, str]] = None, logits: Any = None, *,
              logit: float = 10.0) -> int:
        """Places a block at cell (x, y, z), replacing the logits of a block
        already there (a new block gets index N); returns its index. Give
        either material (an id 1..M or a material's name: logit ``logit``
        for it, 0 for the others; dvren_blocks_place_material) or logits
        (M numbers; dvren_blocks_place). Errors: InvalidArgumentError
        (outside the grid, an unknown material, logits of the wrong length
        or not finite)."""
        xyz = self._xyz(x, y, z, "place")
        if (material is None) == (logits is None):
            raise InvalidArgumentError("BlockWorld.place: give either material (an id 1..M or a name) or logits "
                                       "(M numbers)", -1)
        if logits is not None:
            m = int(self._w.material_count)
            try:
                a = np.ascontiguousarray(np.asarray(logits, dtype=np.float32).ravel())
            except (TypeError, ValueError) as e:
                raise InvalidArgumentError("BlockWorld.place: logits: %s" % e, -1) from None
            if a.size != m:
                raise InvalidArgumentError("BlockWorld.place: %d logits, expected M = %d" % (a.size, m), -1)
            status = lib.dvren_blocks_place(C.byref(self._w), *xyz, a.ctypes.data_as(C.POINTER(C.c_float)))
        else:
            if isinstance(material, str):
                names = [d["name"] for d in self.materials]
                if material not in names:
                    raise InvalidArgumentError("BlockWorld.place: no material named %r (materials: %s)"
                                               % (material, ", ".join(names)), -1)
                mid = names.index(material) + 1
            elif isinstance(material, (int, np.integer)) and not isinstance(material, bool) and 0 <= material < 2 ** 32:
                mid = int(material)
            else:
                raise InvalidArgumentError("BlockWorld.place: material %r: an id 1..%d or a name"
                                           % (material, self._w.material_count), -1)
            status = lib.dvren_blocks_place_material(C.byref(self._w), *xyz, mid, float(logit))
        if status != 0:
            self._fail()
        return int(lib.dvren_blocks_at(C.byref(self._w), *xyz))

    def remove(self, x: int, y: int, z: int) -> None:
        """Removes the block at (x, y, z); the last block takes its index.
        Errors: InvalidArgumentError (outside the grid, air there)."""
        if lib.dvren_blocks_remove(C.byref(self._w), *self._xyz(x, y, z, "remove")) != 0:
            self._fail()

    # ---- derived

    def argmax(self) -> np.ndarray:
        """(N,) uint32: each block's material id 1..M, the argmax of its
        logits (the lowest on ties; dvren_blocks_argmax)."""
        out = np.zeros(len(self), dtype=np.uint32)
        if out.size:
            lib.dvpy_blocks_argmax(C.byref(self._w), out.ctypes.data_as(C.POINTER(C.c_uint32)))
        return out

    def visible_faces(self) -> Tuple[np.ndarray, np.ndarray]:
        """The faces next to air or the grid's edge: (k, f), block indices
        (uint32) and faces (uint8: 0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z), in
        order of k, then f."""
        n = int(lib.dvren_blocks_visible_faces(C.byref(self._w), None, None, 0))
        k = np.zeros(n, dtype=np.uint32)
        f = np.zeros(n, dtype=np.uint8)
        if n:
            lib.dvren_blocks_visible_faces(C.byref(self._w), k.ctypes.data_as(C.POINTER(C.c_uint32)),
                                           f.ctypes.data_as(C.POINTER(C.c_uint8)), n)
        return k, f

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes a dvren.blocks/1 JSON file atomically (dvren_blocks_save):
        every float32 reads back bit for bit. Errors: FileError (nothing is
        left behind)."""
        if lib.dvren_blocks_save(C.byref(self._w), _b(path)) != 0:
            self._fail(FileError)

    def save_labels(self, path: Union[str, os.PathLike]) -> None:
        """Writes the argmax label volume, uint8 (X, Y, Z), as a .npy
        (dvren_blocks_save_labels). Errors: FileError, InvalidArgumentError
        (a material id over 255)."""
        if lib.dvren_blocks_save_labels(C.byref(self._w), _b(path)) != 0:
            self._fail(InvalidArgumentError)

    def to_params(self) -> Dict[str, Any]:
        """The ``block_world`` field's parameters for this world, as tensors:
        blocks ((N, 3 + M) float32: x, y, z, then the logits; left out for
        an empty world), material_table ((M, 9) float32: top, side, bottom
        RGB), size, scale, origin. ``ctx.field("block_world",
        **world.to_params(), mode="hard")`` renders it; the field's
        parameter "field.logits" is then (N, M) in this world's block order."""
        m = int(self._w.material_count)
        table = np.zeros((m, 9), dtype=np.float32)
        for i in range(m):
            mat = self._w.materials[i]
            table[i, 0:3], table[i, 3:6], table[i, 6:9] = mat.top, mat.side, mat.bottom
        p: Dict[str, Any] = {"material_table": table, "size": list(self.size), "scale": self.scale,
                             "origin": list(self.origin)}
        if len(self):
            p["blocks"] = np.ascontiguousarray(np.concatenate([self.positions.astype(np.float32), self.logits], axis=1))
        return p

    def __repr__(self) -> str:
        return "dvren.BlockWorld(size=%s, blocks=%d, materials=%d)" % (self.size, len(self), self.material_count)


# ---------------------------------------------------------------- scene files


class SceneFile:
    """A scene file (docs/scenes.md, the schema of ``dvren_render``) built
    on a context: ``field``, ``shader``, ``sampler``, ``scene``, ``plan``,
    ``context``, and ``output`` (the file's "output" settings: png, npy,
    png_bits, png_alpha). Make one with :func:`load_scene`."""

    def __init__(self, context: Context, field: Stage, shader: Stage, sampler: Stage, plan: Plan,
                 output: Dict[str, Any], differentiable: bool):
        self.context, self.field, self.shader, self.sampler, self.plan = context, field, shader, sampler, plan
        self.scene = Scene(field, shader, sampler, differentiable=differentiable)
        self.output = output

    def render(self) -> Dict[str, Union[np.ndarray, Tensor]]:
        """Renders the file's plan: see :meth:`Scene.render`."""
        return self.scene.render(self.plan)


def load_scene(source: Union[str, os.PathLike, Mapping[str, Any]], *, context: Optional[Context] = None,
               device: Optional[str] = None, width: int = 0, height: int = 0, spp: int = 0,
               seed: Optional[int] = None, differentiable: bool = False, base_dir: Optional[str] = None,
               **context_options: Any) -> SceneFile:
    """Reads a scene: a JSON file path, or a dict with the same schema
    (relative paths then start at base_dir, default the working folder).
    Without ``context`` a new one is made from the file's "device", "gpu"
    and "threads" (``device`` overrides the file's; context_options go to
    :class:`Context`). width/height/spp/seed override the file's plan.
    Errors: the class of the failure's status, the message always
    "<scene>: <key>: <problem>": FormatError (the scene's own mistakes:
    syntax, unknown keys, wrong types), FileError (the scene file or a file
    it names cannot be read), NotFoundError (an unknown plugin), and the
    plugins' own (InvalidArgumentError for a parameter out of range, ...)."""
    sf = lib.dvpy_scenefile_new()
    if not sf:
        raise OutOfMemoryError("scene file: out of memory", -2)
    try:
        if isinstance(source, Mapping):
            text = json.dumps(source).encode()
            rc = lib.dvpy_scenefile_parse(sf, b"<dict>", text, len(text), _b(base_dir) if base_dir else None)
        else:
            path = _b(source)  # the scene file keeps the pointer (its name in messages): alive until freed below
            rc = lib.dvpy_scenefile_load(sf, path)
        if rc:
            _scene_error(sf)
        if context is None:
            idx, name, cc, thr = C.c_uint32(), C.c_char_p(), C.c_uint32(), C.c_int()
            lib.dvpy_scenefile_gpu(sf, C.byref(idx), C.byref(name), C.byref(cc), C.byref(thr))
            dev = device or lib.dvpy_scenefile_device(sf).decode()
            if dev == "cuda":
                dev = "cuda:%d" % idx.value
            opts = dict(context_options)
            if dev.startswith("cuda"):
                opts.setdefault("device_name", name.value.decode() if name.value else None)
                opts.setdefault("min_compute_capability", cc.value)
            if thr.value >= 0:
                opts.setdefault("threads", thr.value)
            context = Context(dev, **opts)
        elif device is not None and device.split(":")[0] != context.device:
            raise InvalidArgumentError("load_scene: device %r but the context given renders on %s"
                                       % (device, context.device_str), -1)
        lib.dvpy_scenefile_override(sf, width, height, spp, int(seed is not None), int(seed or 0))
        if lib.dvpy_scenefile_build(sf, context._p):
            _scene_error(sf)
        f, sh, sa = C.c_void_p(), C.c_void_p(), C.c_void_p()
        pd = _capi.PlanDesc()
        lib.dvpy_scenefile_take(sf, C.byref(f), C.byref(sh), C.byref(sa), C.byref(pd))
        stages = [Stage(context, k, "", {}, _ptr=p.value) for k, p in
                  (("field", f), ("shader", sh), ("sampler", sa))]
        for s in stages:
            s.name = lib.dvren_stage_plugin(s._p).contents.name.decode()
        png, npy, bits, alpha = C.c_char_p(), C.c_char_p(), C.c_int(), C.c_int()
        lib.dvpy_scenefile_output(sf, C.byref(png), C.byref(npy), C.byref(bits), C.byref(alpha))
        output = {"png": png.value.decode() if png.value else None, "npy": npy.value.decode() if npy.value else None,
                  "png_bits": bits.value, "png_alpha": bool(alpha.value)}
        plan = Plan(context, 0, 0, _desc=pd)
        return SceneFile(context, stages[0], stages[1], stages[2], plan, output, differentiable)
    finally:
        lib.dvpy_scenefile_free(sf)


def _scene_error(sf) -> None:
    """Raises the scene file's error as the class of its status (the
    library's for a failed dvren call: NotFoundError for an unknown plugin,
    FileError for a missing volume; FormatError for the scene's own mistakes)."""
    _raise(lib.dvpy_scenefile_status(sf) or -4, lib.dvpy_scenefile_error(sf).decode("utf-8", "replace"))


# ---------------------------------------------------------------- images and data


def write_png(path: Union[str, os.PathLike], rgb: Any, alpha: Any = None, *, bits: int = 8) -> None:
    """Writes rgb (H, W, 3) float32 in [0, 1] (clamped; and alpha (H, W) for
    RGBA) as an 8- or 16-bit PNG, atomically (a failure leaves no file).
    Accepts NumPy arrays and anything ``np.asarray`` takes (a dvren
    :class:`Tensor` is copied to the host). Errors: InvalidArgumentError, FileError."""
    a = np.ascontiguousarray(np.asarray(rgb, dtype=np.float32))
    if a.ndim != 3 or a.shape[2] != 3:
        raise InvalidArgumentError("write_png: rgb must be (H, W, 3), got %s" % (a.shape,), -1)
    al = None
    if alpha is not None:
        al = np.ascontiguousarray(np.asarray(alpha, dtype=np.float32))
        if al.shape != a.shape[:2]:
            raise InvalidArgumentError("write_png: alpha must be (H, W) = %s, got %s" % (a.shape[:2], al.shape), -1)
    _check(lib.dvpy_write_png(None, _b(path), a.ctypes.data, al.ctypes.data if al is not None else None,
                              a.shape[1], a.shape[0], bits))


def load_nerf_views(json_path: Union[str, os.PathLike], size: int) -> Dict[str, Any]:
    """Views of a transforms JSON in the NeRF synthetic layout (Mildenhall
    et al. 2020), box-filtered to ``size`` pixels across (tools/dvren_nerf.h,
    as fit_volume --images reads them): rays (N, H, W, 6) float32, rgb (N,
    H, W, 3) composited on black, alpha (N, H, W), poses (N, 3, 4)
    camera-to-world, focal (pixels), frames (listed), missing (listed but
    absent). Errors: FormatError / FileError naming the file and the field."""
    vs, rep = _capi.NerfViews(), _capi.NerfReport()
    err = C.create_string_buffer(4096)
    if lib.dvren_nerf_load(_b(json_path), int(size), C.byref(vs), C.byref(rep), err, 4096):
        text = err.value.decode("utf-8", "replace")
        raise (FileError if "cannot" in text.lower() else FormatError)(text, -3 if "cannot" in text.lower() else -4)
    try:
        n, w, h = vs.count, vs.width, vs.height
        take = lambda p, count: np.ctypeslib.as_array(p, shape=(count,)).copy()  # noqa: E731
        return {"rays": take(vs.rays, n * h * w * 6).reshape(n, h, w, 6),
                "rgb": take(vs.rgb, n * h * w * 3).reshape(n, h, w, 3),
                "alpha": take(vs.alpha, n * h * w).reshape(n, h, w),
                "poses": take(vs.pose, n * 12).reshape(n, 3, 4), "focal": vs.focal,
                "frames": rep.frames, "missing": rep.missing}
    finally:
        lib.dvren_nerf_views_free(C.byref(vs))


# ---------------------------------------------------------------- foveated rendering (dvren.h >>foveate)

_HOST_CTX: Optional[Context] = None


def _host_context(ctx: Optional[Context]) -> Context:
    """ctx, or the package's own CPU context for host-only calls (made once, one thread)."""
    global _HOST_CTX
    if ctx is not None:
        if not isinstance(ctx, Context):
            raise InvalidArgumentError("ctx: a dvren.Context, got a %s" % type(ctx).__name__, -1)
        return ctx
    if _HOST_CTX is None or _HOST_CTX._ptr is None:
        _HOST_CTX = Context("cpu", threads=1)
    return _HOST_CTX


def _host_map(name: str, v: Any) -> np.ndarray:
    """A 2-D map (h, w) as contiguous float32 on the host; InvalidArgumentError naming name."""
    if not isinstance(v, np.ndarray) and hasattr(v, "__dlpack__"):
        try:
            v = np.from_dlpack(v)
        except Exception:
            raise InvalidArgumentError("%s: needs a host array (a device tensor: copy it to the host, e.g. .cpu())"
                                       % name, -1) from None
    try:
        a = np.asarray(v)
    except Exception as e:
        raise InvalidArgumentError("%s: not an array (%s)" % (name, e), -1) from None
    if a.dtype.kind not in "fui":
        raise InvalidArgumentError("%s: dtype %s, expected float32 (a real-valued map)" % (name, a.dtype.name), -1)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InvalidArgumentError("%s: shape %s, expected (H, W) with H, W >= 1" % (name, a.shape), -1)
    return np.ascontiguousarray(a, dtype=np.float32)


def _setting(fn: str, key: str, v: Any, whole: bool, what: str) -> Union[int, float]:
    """A number argument: an int (whole) or a float; InvalidArgumentError naming fn and key."""
    ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
    if ok and whole:
        ok = float(v).is_integer() and 0 <= v <= 0xFFFFFFFF
    if not ok:
        raise InvalidArgumentError("%s: %s = %r: %s" % (fn, key, v, what), -1)
    return int(v) if whole else float(v)


def _f32(x: float) -> float:
    """The shortest decimal of a float32 (0.2f reads 0.2, not 0.20000000298...)."""
    return float(str(np.float32(x)))


def importance_postprocess(map: Any, percentile_lo: Optional[float] = None,  # noqa: A002
                           percentile_hi: Optional[float] = None, gamma: Optional[float] = None,
                           close_size: Optional[int] = None, blur_size: Optional[int] = None,
                           ctx: Optional[Context] = None) -> np.ndarray:
    """Shapes an importance map as the reference pipeline does
    (dvren_importance_postprocess), in this order:

    1. percentile stretch: the values at percentiles percentile_lo and
       percentile_hi (0..100, lo < hi; linear interpolation, NumPy's
       default) map to 0 and 1, clamped (a flat map becomes all 1);
    2. gamma: v ** gamma (> 0);
    3. morphological closing (dilation, then erosion) with a square of
       close_size pixels (odd, <= 255; 0 or 1: none), borders replicated;
    4. Gaussian blur with a blur_size kernel (odd, <= 255; 0 or 1: none),
       sigma = 0.3 ((k - 1) / 2 - 1) + 0.8 as OpenCV's getGaussianKernel,
       borders reflected (OpenCV's BORDER_REFLECT_101);
    5. divided by its maximum (when > 0).

    map: (H, W) real-valued host array (converted to float32), finite.
    The defaults are dvren_importance_params_default()'s (see the
    signature); None takes the default too. ctx: the context whose allocator
    is used (default: a CPU context of the package's own). Returns a new
    (H, W) float32 array in [0, 1]. Errors: InvalidArgumentError (a dtype or
    shape; a parameter out of range, naming it; a value not finite, naming
    the pixel)."""
    a = _host_map("importance_postprocess: map", map)
    p = lib.dvren_importance_params_default()
    for key, v in (("percentile_lo", percentile_lo), ("percentile_hi", percentile_hi), ("gamma", gamma),
                   ("close_size", close_size), ("blur_size", blur_size)):
        if v is None:
            continue
        whole = key.endswith("_size")
        setattr(p, key, _setting("importance_postprocess", key, v, whole,
                                 "an odd whole number of pixels (0 or 1: none)" if whole else "a number"))
    c = _host_context(ctx)
    out = np.empty_like(a)
    _check(lib.dvren_importance_postprocess(c._p, a.ctypes.data, a.shape[1], a.shape[0], C.byref(p),
                                            out.ctypes.data), c)
    return out


def importance_budget(importance: Any, width: int, height: int, min_spp: Optional[int] = None,
                      max_spp: Optional[int] = None, mean_spp: Optional[float] = None,
                      max_step_scale: Optional[float] = None, quantile_lo: Optional[float] = None,
                      quantile_hi: Optional[float] = None, gamma: Optional[float] = None, ctx: Optional[Context] = None
                      ) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    """A per-pixel render budget from an importance map
    (dvren_importance_budget), for :class:`Plan`'s spp_map and step_map.

    The map, (ih, iw) in [0, 1] (any size: resampled bilinearly to width x
    height, pixel centres aligned), gives thresholds lo, hi (its
    quantile_lo and quantile_hi quantiles, 0 <= lo <= hi <= 1) and per
    pixel u = clamp((m - lo) / (hi - lo), 0, 1) ** gamma (u = 1 everywhere
    when hi == lo); coverage = mean(u). The peak budget (rays where u = 1)
    is max_spp, or with mean_spp > 0 (>= min_spp)
    min_spp + (mean_spp - min_spp) / coverage bounded by [min_spp, max_spp]
    and rounded. Then spp = round(min_spp + (peak - min_spp) u) and
    step = 1 + (max_step_scale - 1) (1 - u), max_step_scale in [1, 64].
    1 <= min_spp <= max_spp <= 65536; gamma > 0.

    The defaults are dvren_budget_params_default()'s (see the signature);
    None takes the default too. Returns (spp_map (height, width) uint32,
    step_map (height, width) float32, stats): stats has lo, hi, coverage,
    peak_spp, rays (sum of spp), mean_spp, effective_samples (sum of
    spp / step: the march's cost in rays at the plan's step). Errors:
    InvalidArgumentError (a dtype or shape; a parameter out of range,
    naming it; a value of the map outside [0, 1], naming the pixel)."""
    a = _host_map("importance_budget: importance", importance)
    p = lib.dvren_budget_params_default()
    for key, v in (("min_spp", min_spp), ("max_spp", max_spp), ("mean_spp", mean_spp),
                   ("max_step_scale", max_step_scale), ("quantile_lo", quantile_lo), ("quantile_hi", quantile_hi),
                   ("gamma", gamma)):
        if v is None:
            continue
        whole = key in ("min_spp", "max_spp")
        setattr(p, key, _setting("importance_budget", key, v, whole,
                                 "a whole number of rays, 1..65536" if whole else "a number"))
    width = _setting("importance_budget", "width", width, True, "the final image's width in pixels, 1..32768")
    height = _setting("importance_budget", "height", height, True, "the final image's height in pixels, 1..32768")
    for key, v in (("width", width), ("height", height)):
        if not 1 <= v <= 32768:
            raise InvalidArgumentError("importance_budget: %s = %d: the final image's size in pixels, 1..32768"
                                       % (key, v), -1)
    c = _host_context(ctx)
    spp = np.empty((height, width), dtype=np.uint32)
    step = np.empty((height, width), dtype=np.float32)
    st = _capi.BudgetStats()
    _check(lib.dvren_importance_budget(c._p, a.ctypes.data, a.shape[1], a.shape[0], width, height, C.byref(p),
                                       spp.ctypes.data, step.ctypes.data, C.byref(st)), c)
    stats = {"lo": float(st.lo), "hi": float(st.hi), "coverage": float(st.coverage), "peak_spp": int(st.peak_spp),
             "rays": int(st.rays), "mean_spp": float(st.mean_spp), "effective_samples": float(st.effective_samples)}
    return spp, step, stats


def _c_defaults() -> None:
    """The keyword defaults of importance_postprocess and importance_budget,
    read from the C library (dvren_*_params_default): one source of truth,
    shown by help() and inspect.signature."""
    ip = lib.dvren_importance_params_default()
    importance_postprocess.__defaults__ = (_f32(ip.percentile_lo), _f32(ip.percentile_hi), _f32(ip.gamma),
                                           int(ip.close_size), int(ip.blur_size), None)
    bp = lib.dvren_budget_params_default()
    importance_budget.__defaults__ = (int(bp.min_spp), int(bp.max_spp), _f32(bp.mean_spp), _f32(bp.max_step_scale),
                                      _f32(bp.quantile_lo), _f32(bp.quantile_hi), _f32(bp.gamma), None)


_c_defaults()


FOVEATE_AVAILABLE = bool(lib.dvpy_foveate_available())
"""True when this build holds the pipeline of :func:`foveate` (built with OpenEXR's C API)."""

_STAGES = {"preview": 0x1, "saliency": 0x2, "final": 0x4, "all": 0x7}
_STAGE_NAMES = ("preview", "saliency", "final")
# stage -> the files it writes in the output folder (tools/dvren_foveate.h, dvren_foveate_artefacts)
ARTEFACTS = {
    "preview": ("preview.png", "preview_rgb.npy", "preview_alpha.npy", "preview_depth.npy", "preview_variance.npy"),
    "saliency": ("user_importance.npy", "user_importance_mask.exr", "user_importance_preview.png"),
    "final": ("final.png", "final.exr", "final_spp.png", "final_budget.json"),
}


def _json_value(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError("a %s is not a setting (numbers, strings, booleans, lists, dicts)" % type(o).__name__)


def foveate(scene: Union[str, os.PathLike, Mapping[str, Any]], out: Union[str, os.PathLike],
            stage: Union[str, Iterable[str]] = "all", device: Optional[str] = None, *, width: int = 0,
            height: int = 0, seed: Optional[int] = None, threads: Optional[int] = None,
            gpu_name: Optional[str] = None, min_compute_capability: int = 0,
            plugin_path: Optional[Union[str, Sequence[str]]] = None, clean: bool = False, quiet: bool = False,
            base_dir: Optional[str] = None, **config: Any) -> Dict[str, Any]:
    """Saliency-driven foveated rendering of a scene (tools/dvren_foveate.h,
    the library of the ``dvren_foveate`` command; docs/foveation.md): a
    cheap preview, an importance map from saliency models, and one final
    render whose rays per pixel follow the map, with files between the
    stages in the folder ``out``:

    - preview: preview.png, preview_rgb.npy (H, W, 3), preview_alpha.npy,
      preview_depth.npy, preview_variance.npy (float32, linear);
    - saliency: user_importance.npy (H, W) float32 in [0, 1],
      user_importance_mask.exr, user_importance_preview.png;
    - final: final.png (16-bit), final.exr (with exr=True), final_spp.png,
      final_budget.json.

    scene: a scene file (docs/scenes.md; its optional "foveate" object
    configures the pipeline) or a dict of the same schema (relative paths
    from base_dir). stage: "all" (default), "preview", "saliency", "final",
    or a list of them; a stage whose input file is missing refuses to start
    (NotFoundError naming the file and the stage that makes it). device: "cpu",
    "cuda" or "cuda:N" (None: the scene's "device", else cpu); a GPU asked
    for and absent is a NoDeviceError, never a fallback. width, height,
    seed, threads, gpu_name, min_compute_capability override the scene's.
    plugin_path: plugin folders searched before the package's own.
    clean: remove the files of the stages about to run first (default:
    keep, overwritten as stages write theirs). quiet: only [ERROR] lines on
    stderr; <out>/dvren_pipeline.log gets every line either way.

    config: the keys of the scene's "foveate" object, over it: preview_size
    (448), preview_spp (4), preview_seed (1), models (names, or dicts
    {"name", "weight", "params"}; default ["spectral_residual"]), combine
    ("product" or "sum"), lo, hi, gamma, close, blur (post-processing, see
    :func:`importance_postprocess`), overlay, min_spp, max_spp, mean_spp,
    max_step_scale, quantile_lo, quantile_hi, budget_gamma (the budget, see
    :func:`importance_budget`), exr, srgb.

    Returns a dict: out (the folder), stages (the names run), ms (stage ->
    wall milliseconds, the device synchronised), budget (when the final
    stage ran: lo, hi, coverage, peak_spp, rays, mean_spp,
    effective_samples), files (the artefacts now in out). Nothing is
    created before the scene, the settings, the device and the models are
    ready; a failed stage leaves none of its files. Errors (the status of
    tools/dvren_foveate.h's dvren_foveate_result): FormatError (the scene's
    mistakes), InvalidArgumentError (a setting, naming its key), NotFoundError
    (a stage's input file, a model's plugin), FileError (the scene file or
    the output folder), NoDeviceError, TimeoutError (an ``external`` model's
    program ran past its timeout), the models' and the renderer's own
    classes. UnsupportedError when the package was built without OpenEXR."""
    if isinstance(stage, str):
        names = _STAGE_NAMES if stage == "all" else (stage,)
    else:
        names = tuple(stage)
    bits = 0
    for n in names:
        if n not in _STAGES or n == "all" and len(names) > 1:
            raise InvalidArgumentError("foveate: stage %r: one of %s, or a list of the three names"
                                       % (n, ", ".join(_STAGES)), -1)
        bits |= _STAGES[n]
    if not bits:
        raise InvalidArgumentError("foveate: no stage given", -1)
    gpu_index = -1
    if device is not None:
        kind, _, index = device.partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
            raise InvalidArgumentError("foveate: device %r: expected 'cpu', 'cuda' or 'cuda:N'" % device, -1)
        device, gpu_index = kind, int(index) if index else -1
    try:
        settings = json.dumps(config, default=_json_value, allow_nan=False).encode() if config else None
        text = json.dumps(scene, default=_json_value).encode() if isinstance(scene, Mapping) else None
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError("foveate: %s" % e, -1) from None
    for key, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= 32768:
            raise InvalidArgumentError("foveate: %s = %r: pixels, 1..32768 (0: the scene's)" % (key, v), -1)
    paths = [plugin_path] if isinstance(plugin_path, (str, os.PathLike)) else list(plugin_path or [])
    search = os.pathsep.join([os.fspath(p) for p in paths] + [_capi.PLUGIN_DIR]).encode()
    name = b"<dict>" if text is not None else _b(scene)
    outb = _b(out)
    err = C.create_string_buffer(4096)
    ms = (C.c_double * 3)()
    st = _capi.BudgetStats()
    status = lib.dvpy_foveate(name, text, len(text) if text else 0, _b(base_dir) if base_dir else None, settings,
                              outb, bits, _b(device), gpu_index, _b(gpu_name), int(min_compute_capability),
                              -1 if threads is None else int(threads), int(width), int(height),
                              int(seed is not None), int(seed or 0) & 0xFFFFFFFFFFFFFFFF, search, int(bool(clean)),
                              int(bool(quiet)), err, len(err), ms, C.byref(st))
    if status != 0:  # a dvren_status: the class that fits the failure
        _raise(status, err.value.decode("utf-8", "replace") or "foveate: failed")
    ran = tuple(n for n in _STAGE_NAMES if bits & _STAGES[n])
    res: Dict[str, Any] = {"out": os.fspath(out), "stages": ran,
                           "ms": {n: float(ms[i]) for i, n in enumerate(_STAGE_NAMES) if n in ran}}
    if "final" in ran:
        res["budget"] = {"lo": float(st.lo), "hi": float(st.hi), "coverage": float(st.coverage),
                         "peak_spp": int(st.peak_spp), "rays": int(st.rays), "mean_spp": float(st.mean_spp),
                         "effective_samples": float(st.effective_samples)}
    res["files"] = sorted(f for fs in ARTEFACTS.values() for f in fs if os.path.exists(os.path.join(out, f)))
    return res


def register(reference: Any, moving: Any, device: str = "cpu", *, cfa: Union[str, int] = "none", grey: bool = False,
             memory_limit: int = 0, xtrans: Any = None, threads: int = 0, model: str = "phase_correlation",
             **params: Any) -> RegistrationTable:
    """Registers moving images against a reference in one call: a
    :class:`Context` on ``device`` ("cpu", "cuda", "cuda:N"; a GPU never
    falls back to the CPU), the registration model ``model`` with
    ``params`` (method, upsample, window, epsilon, band, threads), then
    :meth:`RegistrationModel.register` (reference, moving, cfa, grey,
    memory_limit, xtrans), and everything closed again. threads: the
    context's CPU threads and, unless params give them, the model's FFTW
    threads (0: one per processor). For many calls,
    keep a context and a model instead. Example::

        t = dvren.register(ref, [m1, m2], cfa="grbg", method="upsampled")
        t["dy"], t["dx"], t["cfa_aligned"], t.report["milliseconds"]
    """
    if threads:
        params.setdefault("threads", threads)  # the plugin's FFTW threads too
    with Context(device, threads=threads) as ctx:
        return ctx.registration(model, **params).register(reference, moving, cfa=cfa, grey=grey,
                                                          memory_limit=memory_limit, xtrans=xtrans)
