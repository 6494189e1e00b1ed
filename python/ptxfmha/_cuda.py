"""Makes the CUDA context of a tensor's device current around a library call.

libptxfmha.so launches into the calling thread's current CUDA context (or device 0's primary
context when none is current). PyTorch works in each device's primary context but does not
promise that it is current on every thread at every moment (a fresh thread, a tensor on
cuda:1 while the thread's current device is cuda:0). So each call makes the primary context of
the tensors' device current through the driver API (cuCtxSetCurrent: no stream work, legal
while a stream is being captured into a CUDA graph) and restores the previous one after.
When the right context is already current, which is the common case, this is two cheap driver
queries.
"""

from __future__ import annotations

import ctypes
import threading

from .errors import DeviceError

_lock = threading.Lock()
_drv = None
_handles = {}    # device ordinal -> CUdevice
_primary = {}    # device ordinal -> retained primary CUcontext (kept for the process lifetime)


def _driver():
    global _drv
    if _drv is None:
        with _lock:
            if _drv is None:
                try:
                    lib = ctypes.CDLL("libcuda.so.1")
                except OSError as e:
                    raise DeviceError(f"ptxfmha: cannot load libcuda.so.1: {e}") from e
                P, I = ctypes.POINTER, ctypes.c_int
                for name, args in (
                    ("cuCtxGetCurrent", [P(ctypes.c_void_p)]),
                    ("cuCtxSetCurrent", [ctypes.c_void_p]),
                    ("cuCtxGetDevice", [P(I)]),
                    ("cuDeviceGet", [P(I), I]),
                    ("cuDevicePrimaryCtxRetain", [P(ctypes.c_void_p), I]),
                ):
                    fn = getattr(lib, name)
                    fn.restype, fn.argtypes = I, args
                _drv = lib
    return _drv


def _check(r, what):
    if r != 0:
        raise DeviceError(f"ptxfmha: {what} failed: CUresult {r}")


def _device_handle(drv, ordinal):
    h = _handles.get(ordinal)
    if h is None:
        d = ctypes.c_int()
        _check(drv.cuDeviceGet(ctypes.byref(d), ordinal), f"cuDeviceGet({ordinal})")
        h = _handles[ordinal] = d.value
    return h


class device_context:
    """`with device_context(ordinal):` the primary context of device `ordinal` is current."""

    __slots__ = ("ordinal", "previous", "switched")

    def __init__(self, ordinal):
        self.ordinal = ordinal
        self.previous = None
        self.switched = False

    def __enter__(self):
        drv = _driver()
        cur = ctypes.c_void_p()
        _check(drv.cuCtxGetCurrent(ctypes.byref(cur)), "cuCtxGetCurrent")
        want = _device_handle(drv, self.ordinal)
        if cur.value:
            dev = ctypes.c_int()
            _check(drv.cuCtxGetDevice(ctypes.byref(dev)), "cuCtxGetDevice")
            if dev.value == want:
                return self
        ctx = _primary.get(self.ordinal)
        if ctx is None:
            c = ctypes.c_void_p()
            _check(drv.cuDevicePrimaryCtxRetain(ctypes.byref(c), want), f"cuDevicePrimaryCtxRetain({self.ordinal})")
            ctx = _primary.setdefault(self.ordinal, c.value)
        _check(drv.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
        self.previous, self.switched = cur.value, True
        return self

    def __exit__(self, *exc):
        if self.switched:
            _check(_driver().cuCtxSetCurrent(self.previous), "cuCtxSetCurrent (restore)")
        return False
