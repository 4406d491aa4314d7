"""DLPack, both directions, with ctypes (no compiler, no C++).

Export: ``export(owner_token, data, shape, strides, dtype, device)`` returns a
PyCapsule named "dltensor" holding a DLManagedTensor (DLPack 0.8 ABI,
https://dmlc.github.io/dlpack/latest/c_api.html) that points at dvren's
memory; the consumer (``torch.from_dlpack``, ``numpy.from_dlpack``, CuPy)
calls its deleter when its tensor dies, which releases the owner token and
so keeps dvren's memory alive exactly as long as the consumer's tensor. The
struct, its deleter and the capsule's destructor live in C (_native.c).

Import: ``import_(obj, stream)`` calls ``obj.__dlpack__`` and returns a
:class:`Imported` holding the DLManagedTensor (renamed "used_dltensor", as
the protocol asks) until it is released; its deleter runs then.
"""
from __future__ import annotations

import ctypes as C
from typing import Tuple

from ._capi import lib

# DLDeviceType
CPU, CUDA, CUDA_HOST = 1, 2, 3
# DLDataTypeCode
INT, UINT, FLOAT = 0, 1, 2


class DLDevice(C.Structure):
    _fields_ = [("device_type", C.c_int32), ("device_id", C.c_int32)]


class DLDataType(C.Structure):
    _fields_ = [("code", C.c_uint8), ("bits", C.c_uint8), ("lanes", C.c_uint16)]


class DLTensor(C.Structure):
    _fields_ = [("data", C.c_void_p), ("device", DLDevice), ("ndim", C.c_int32), ("dtype", DLDataType),
                ("shape", C.POINTER(C.c_int64)), ("strides", C.POINTER(C.c_int64)), ("byte_offset", C.c_uint64)]


class DLManagedTensor(C.Structure):
    pass


_DELETER = C.CFUNCTYPE(None, C.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", C.c_void_p), ("deleter", _DELETER)]

_api = C.pythonapi
_api.PyCapsule_New.restype = C.py_object
_api.PyCapsule_New.argtypes = [C.c_void_p, C.c_void_p, C.c_void_p]
_api.PyCapsule_IsValid.restype = C.c_int
_api.PyCapsule_IsValid.argtypes = [C.py_object, C.c_void_p]
_api.PyCapsule_GetPointer.restype = C.c_void_p
_api.PyCapsule_GetPointer.argtypes = [C.py_object, C.c_void_p]
_api.PyCapsule_SetName.restype = C.c_int
_api.PyCapsule_SetName.argtypes = [C.py_object, C.c_void_p]
_api.Py_IncRef.argtypes = [C.py_object]
_api.Py_IncRef.restype = None

# The exported tensors' deleter and the capsules' destructor are C functions
# of libdvren (python/dvren/_native.c): a consumer may free its tensor during
# interpreter shutdown, when a ctypes callback can no longer run. They reach
# CPython through these addresses.
_addr = lambda f: C.cast(f, C.c_void_p).value  # noqa: E731
lib.dvpy_dlpack_init(_addr(_api.Py_DecRef), _addr(_api.PyGILState_Ensure), _addr(_api.PyGILState_Release),
                     _addr(_api.Py_IsInitialized), _addr(_api.PyCapsule_IsValid), _addr(_api.PyCapsule_GetPointer))
_NAME = lib.dvpy_dlpack_name(0)   # static C strings: a capsule keeps the pointer
_USED = lib.dvpy_dlpack_name(1)
_DESTRUCTOR = _addr(lib.dvpy_dlpack_capsule_destructor)


def dtype_of(name: str) -> Tuple[int, int]:
    """(DLDataTypeCode, bits) of a NumPy dtype name."""
    return {"float32": (FLOAT, 32), "float64": (FLOAT, 64), "float16": (FLOAT, 16), "uint8": (UINT, 8),
            "uint16": (UINT, 16), "uint32": (UINT, 32), "int64": (INT, 64), "int32": (INT, 32)}[name]


def dtype_name(t: DLDataType) -> str:
    kind = {FLOAT: "float", UINT: "uint", INT: "int"}.get(t.code, "code%d_" % t.code)
    return "%s%d" % (kind, t.bits) + ("x%d" % t.lanes if t.lanes != 1 else "")


def export(owner, data: int, shape, strides, dtype: str, device_type: int, device_id: int):
    """A "dltensor" capsule over data (shape and strides in elements) that
    keeps ``owner`` alive until the consumer's deleter runs."""
    n = len(shape)
    code, bits = dtype_of(dtype)
    shp = (C.c_int64 * max(n, 1))(*shape)
    std = (C.c_int64 * max(n, 1))(*strides)
    _api.Py_IncRef(owner)  # the tensor's reference, dropped by its C deleter
    m = lib.dvpy_dlpack_new(data, n, shp, std, code, bits, device_type, device_id, id(owner))
    if not m:
        _api.Py_DecRef(C.py_object(owner))
        raise MemoryError("dlpack: out of memory")
    return _api.PyCapsule_New(m, _NAME, _DESTRUCTOR)


class Imported:
    """A tensor received through DLPack: its data pointer, shape, strides (in
    elements), dtype name and device, valid until :meth:`release` (or until
    this object is collected)."""

    def __init__(self, capsule):
        if not _api.PyCapsule_IsValid(capsule, _NAME):
            raise ValueError("not a live DLPack capsule (already consumed?)")
        self._addr = _api.PyCapsule_GetPointer(capsule, _NAME)
        _api.PyCapsule_SetName(capsule, _USED)  # we own it now: its deleter is ours to call
        m = DLManagedTensor.from_address(self._addr)
        t = m.dl_tensor
        self.ndim = int(t.ndim)
        self.shape = tuple(int(t.shape[i]) for i in range(self.ndim))
        if t.strides:
            self.strides = tuple(int(t.strides[i]) for i in range(self.ndim))
        else:  # NULL strides: compact C order
            s, acc = [], 1
            for d in reversed(self.shape):
                s.append(acc)
                acc *= d
            self.strides = tuple(reversed(s))
        self.dtype = dtype_name(t.dtype)
        self.device_type = int(t.device.device_type)
        self.device_id = int(t.device.device_id)
        self.data = (t.data or 0) + int(t.byte_offset)

    def release(self) -> None:
        if self._addr:
            m = DLManagedTensor.from_address(self._addr)
            self._addr = 0
            if m.deleter:
                m.deleter(C.pointer(m))

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass


def import_(obj, stream=None) -> Imported:
    """DLPack-import obj (anything with ``__dlpack__``); stream as the protocol defines it."""
    if not hasattr(obj, "__dlpack__"):
        raise TypeError("expected an object with __dlpack__ (a torch.Tensor, a numpy array, ...), got %s"
                        % type(obj).__name__)
    try:
        cap = obj.__dlpack__() if stream is None else obj.__dlpack__(stream=stream)
    except TypeError:
        cap = obj.__dlpack__()
    return Imported(cap)
