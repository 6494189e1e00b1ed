"""Loads libptxfmha.so (ctypes) and points it at the cubins shipped with the package.

Where the library comes from, first match wins:
  1. $PTXFMHA_LIBRARY (a path to libptxfmha.so; for working on the library itself),
  2. <package>/_lib/libptxfmha.so (the wheel, or the staged package of `make python`).
Where the kernels come from: $PTXFMHA_CUBIN_DIR when set (the library reads it), else
<package>/cubin (every architecture's cubins, <arch>/<kernel>.cubin) when it exists, else the
build directory compiled into the library.

Nothing here imports torch or touches a GPU: libptxfmha.so loads libcuda only on the first
kernel call.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from . import _abi
from .errors import status_error

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_LIBRARY = PACKAGE_DIR / "_lib" / "libptxfmha.so"
PACKAGED_CUBIN_DIR = PACKAGE_DIR / "cubin"

_lib = None
_lib_path = None
_missing_functions = []


def _locate():
    env = os.environ.get("PTXFMHA_LIBRARY")
    if env:
        return Path(env), "$PTXFMHA_LIBRARY"
    return PACKAGED_LIBRARY, "the package"


def load():
    """Loads the library once (idempotent) and returns the ctypes.CDLL."""
    global _lib, _lib_path, _missing_functions
    if _lib is not None:
        return _lib
    path, origin = _locate()
    if not path.is_file():
        raise ImportError(
            f"ptxfmha: libptxfmha.so not found at {path} ({origin}). Install the wheel "
            "(`make python`, then `pip install build/python/ptxfmha-*.whl`), use the staged "
            "package (PYTHONPATH=build/python/pkg) or set PTXFMHA_LIBRARY to a built "
            "build/lib/libptxfmha.so."
        )
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise ImportError(f"ptxfmha: cannot load {path} ({origin}): {e}") from e
    try:
        missing = _abi.declare(lib)
    except AttributeError as e:
        raise ImportError(f"ptxfmha: {path} lacks a required C entry point: {e}") from e
    if not os.environ.get("PTXFMHA_CUBIN_DIR") and PACKAGED_CUBIN_DIR.is_dir():
        status = lib.ptxfmha_set_cubin_dir(str(PACKAGED_CUBIN_DIR).encode())
        if status != 0:
            raise ImportError(
                f"ptxfmha: ptxfmha_set_cubin_dir({PACKAGED_CUBIN_DIR}) failed: "
                f"{lib.ptxfmha_last_error().decode(errors='replace')}"
            )
    _lib, _lib_path, _missing_functions = lib, path, missing
    return lib


def library_path():
    """Path of the loaded libptxfmha.so."""
    load()
    return _lib_path


def has_function(name):
    """Whether the loaded library exports the C entry point `name`."""
    load()
    return name not in _missing_functions and hasattr(_lib, name)


def version():
    """ptxfmha_version() of the loaded library."""
    return load().ptxfmha_version().decode()


def cubin_dir():
    """The directory the library loads cubins from (ptxfmha_get_cubin_dir)."""
    return load().ptxfmha_get_cubin_dir().decode()


def set_cubin_dir(path):
    """ptxfmha_set_cubin_dir: None restores the library's default. Takes effect for CUDA
    contexts whose kernels are not loaded yet."""
    lib = load()
    check("ptxfmha_set_cubin_dir", lib.ptxfmha_set_cubin_dir(None if path is None else str(path).encode()))


def last_error():
    """ptxfmha_last_error() of this thread."""
    return load().ptxfmha_last_error().decode(errors="replace")


def check(function, status):
    """Raises the mapped exception (errors.status_error) unless `status` is PTXFMHA_OK."""
    if status != 0:
        raise status_error(status, function, last_error())


# Versioned parameter blocks: the defaults the library wrote once per class (see new_params).
_templates = {}
# ptxfmha_bwd_params_init writes the library's own sizeof(ptxfmha_bwd_params) bytes; the
# library never accepts a block larger than this (its struct_size limit), so a buffer of this
# size cannot be overrun whatever library is loaded.
_MAX_STRUCT_BYTES = 65536


def _template(cls):
    name, sized = _abi.PARAMS_INIT[cls]
    lib = load()
    if not has_function(name):
        raise NotImplementedError(f"ptxfmha: {_lib_path} has no C entry point {name} (a newer libptxfmha.so has it)")
    size = ctypes.sizeof(cls)
    if sized:
        p = cls()
        check(name, getattr(lib, name)(ctypes.byref(p), ctypes.c_uint64(size)))
        return bytes(p)
    buf = ctypes.create_string_buffer(_MAX_STRUCT_BYTES)
    getattr(lib, name)(ctypes.cast(buf, ctypes.POINTER(cls)))
    written = ctypes.c_uint64.from_buffer(buf).value
    if not size <= written <= _MAX_STRUCT_BYTES:
        # The library's block is smaller than this package's mirror: the fields past its end
        # stay 0, which the library accepts ("off"); a garbage size is a broken library.
        if not 8 <= written < size:
            raise ImportError(f"ptxfmha: {name} wrote struct_size = {written}; {_lib_path} is not a "
                              f"libptxfmha.so this package can use")
    p = cls.from_buffer_copy(buf.raw[:size])
    p.struct_size = size  # the library refuses a block smaller than its own (a newer library)
    return bytes(p)


def new_params(cls):
    """A versioned parameter block (_abi.PARAMS_INIT) holding the library's defaults, filled by
    its init function, with struct_size = sizeof of this package's mirror."""
    t = _templates.get(cls)
    if t is None:
        t = _templates[cls] = _template(cls)
    return cls.from_buffer_copy(t)


_entry_points = {}  # name -> the loaded library's function (looked up once)


def call(function, *args):
    """Calls the C entry point `function` and checks its status."""
    f = _entry_points.get(function)
    if f is None:
        lib = load()
        if not has_function(function):
            raise NotImplementedError(
                f"ptxfmha: {_lib_path} has no C entry point {function} (a newer libptxfmha.so has it)"
            )
        f = _entry_points[function] = getattr(lib, function)
    status = f(*args)
    if status != 0:
        raise status_error(status, function, last_error())
