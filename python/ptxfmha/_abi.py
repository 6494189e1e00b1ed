"""ctypes mirror of the C ABI in host/include/ptxfmha/ptxfmha.h (the one place it is spelt in Python).

Everything the package passes to libptxfmha.so is declared here: the status codes, the parameter
structs and the prototypes of the exported functions. The CPU tests
(python/tests/test_cpu_abi.py) hold this module to the header: they parse the header's struct
members, enumerators and prototypes, compile a small C program against it with the system C
compiler and compare every struct's size, alignment and each field's offset and size with the
ctypes layout below, every enumerator's value with `Status`, and every prototype's C types
with `FUNCTIONS`.

Adding an entry point (e.g. ptxfmha_attn_params / ptxfmha_bwd when they land in the header):
declare its struct here with the header's field names in the header's order, add it to
`STRUCTS`, add its prototypes to `FUNCTIONS` (C type spellings as in the header) and, for new
status codes, the enumerator to `Status` and its exception class to errors.STATUS_CLASS. The
tests then check the new declarations like the old ones.
"""

from __future__ import annotations

import ctypes
import enum

c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_uint64 = ctypes.c_uint64
c_float = ctypes.c_float
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p


class Status(enum.IntEnum):
    """ptxfmha_status (the header's enumerators without the PTXFMHA_ prefix)."""

    OK = 0
    ERR_NULL_POINTER = 1
    ERR_MISALIGNED_POINTER = 2
    ERR_UNSUPPORTED_HEAD_DIM = 3
    ERR_INVALID_SIZE = 4
    ERR_SIZE_OVERFLOW = 5
    ERR_GQA_RATIO = 6
    ERR_INVALID_STRIDE = 7
    ERR_ALIASING = 8
    ERR_INVALID_SCALE = 9
    ERR_NO_DRIVER = 10
    ERR_NO_DEVICE = 11
    ERR_UNSUPPORTED_ARCH = 12
    ERR_CUBIN_MISSING = 13
    ERR_CUBIN_WRONG_ARCH = 14
    ERR_CUBIN_INVALID = 15
    ERR_CUDA = 16
    ERR_INVALID_PAGE_TABLE = 17
    ERR_INVALID_ARGUMENT = 18
    ERR_UNSUPPORTED_FEATURE = 19
    ERR_INVALID_METADATA = 20


# Tensor pointers are plain addresses (c_void_p); the float LSE and int32 metadata pointers are
# typed as in the header, but every pointer is filled from an integer address (data_ptr()).
_STRIDES = [
    (f"{t}_{d}_stride", c_int64) for t in ("q", "k", "v", "o") for d in ("batch", "seq", "head")
]


class FwdParams(ctypes.Structure):
    """ptxfmha_fwd_params."""

    _fields_ = [
        ("q", c_void_p),
        ("k", c_void_p),
        ("v", c_void_p),
        ("o", c_void_p),
        ("lse", ctypes.POINTER(c_float)),
        *_STRIDES,
        ("batch", c_int32),
        ("seqlen_q", c_int32),
        ("seqlen_k", c_int32),
        ("heads_q", c_int32),
        ("heads_kv", c_int32),
        ("head_dim", c_int32),
        ("softmax_scale", c_float),
        ("causal", c_int32),
        ("stream", c_void_p),
    ]


class DecodeParams(ctypes.Structure):
    """ptxfmha_decode_params."""

    _fields_ = [
        ("q", c_void_p),
        ("k_cache", c_void_p),
        ("v_cache", c_void_p),
        ("o", c_void_p),
        ("lse", ctypes.POINTER(c_float)),
        ("seqlens_k", ctypes.POINTER(c_int32)),
        ("block_table", ctypes.POINTER(c_int32)),
        *_STRIDES,
        ("batch", c_int32),
        ("seqlen_q", c_int32),
        ("max_seqlen_k", c_int32),
        ("heads_q", c_int32),
        ("heads_kv", c_int32),
        ("head_dim", c_int32),
        ("page_size", c_int32),
        ("max_blocks_per_seq", c_int32),
        ("num_pages", c_int32),
        ("softmax_scale", c_float),
        ("causal", c_int32),
        ("num_splits", c_int32),
        ("workspace", c_void_p),
        ("workspace_bytes", c_uint64),
        ("stream", c_void_p),
    ]


# C struct name -> ctypes class. Every struct of the header that crosses the ABI is listed.
STRUCTS = {
    "ptxfmha_fwd_params": FwdParams,
    "ptxfmha_decode_params": DecodeParams,
}


class Function:
    """One exported C function: its name, C return/argument types (header spelling, for the
    tests) and the ctypes types used to call it."""

    def __init__(self, name, c_restype, restype, args, required=True):
        self.name = name
        self.c_restype = c_restype
        self.restype = restype
        self.c_argtypes = [c for c, _ in args]
        self.argtypes = [t for _, t in args]
        # required=False: an entry point newer than some builds of the library; the package
        # loads without it and says which entry point is missing when it is needed.
        self.required = required


_status = ("ptxfmha_status", c_int32)

FUNCTIONS = [
    Function("ptxfmha_fwd", *_status, [("const ptxfmha_fwd_params*", ctypes.POINTER(FwdParams))]),
    Function(
        "ptxfmha_decode", *_status, [("const ptxfmha_decode_params*", ctypes.POINTER(DecodeParams))]
    ),
    Function(
        "ptxfmha_decode_workspace_size",
        *_status,
        [
            ("const ptxfmha_decode_params*", ctypes.POINTER(DecodeParams)),
            ("uint64_t*", ctypes.POINTER(c_uint64)),
        ],
    ),
    Function("ptxfmha_status_string", "const char*", c_char_p, [("ptxfmha_status", c_int32)]),
    Function("ptxfmha_last_error", "const char*", c_char_p, [("void", None)]),
    Function("ptxfmha_set_cubin_dir", *_status, [("const char*", c_char_p)]),
    Function("ptxfmha_get_cubin_dir", "const char*", c_char_p, [("void", None)]),
    Function("ptxfmha_version", "const char*", c_char_p, [("void", None)]),
]


def declare(lib):
    """Sets restype/argtypes of every FUNCTIONS entry on a loaded ctypes.CDLL. Returns the
    names of optional entry points the library lacks; raises AttributeError for a missing
    required one."""
    missing = []
    for f in FUNCTIONS:
        try:
            fn = getattr(lib, f.name)
        except AttributeError:
            if f.required:
                raise
            missing.append(f.name)
            continue
        fn.restype = f.restype
        fn.argtypes = [t for t in f.argtypes if t is not None]
    return missing
