"""ctypes mirror of the C ABI in host/include/ptxfmha/ptxfmha.h (the one place it is spelt in Python).

Everything the package passes to libptxfmha.so is declared here: the status codes, the parameter
structs and the prototypes of the exported functions. The CPU tests
(python/tests/test_cpu_abi.py) hold this module to the header: they parse the header's struct
members, enumerators and prototypes, compile a small C program against it with the system C
compiler and compare every struct's size, alignment and each field's offset and size with the
ctypes layout below, every enumerator's value with `Status`, and every prototype's C types
with `FUNCTIONS`.

Adding an entry point: declare its struct here with the header's field names in the header's
order, add it to `STRUCTS`, add its prototypes to `FUNCTIONS` (C type spellings as in the
header) and, for new status codes, the enumerator to `Status` and its exception class to
errors.STATUS_CLASS. The tests then check the new declarations like the old ones.

Versioned blocks (ptxfmha_attn_params, ptxfmha_decode_attn_params, ptxfmha_bwd_params) start
with struct_size and only ever grow at the end, 0 meaning "off" for every appended field. Their
mirrors here may be a prefix of the header's block: the package fills struct_size with
ctypes.sizeof of its own mirror (through the library's init function, _lib.new_params), and the
library reads that prefix and defaults the rest. So a field appended to the header is bound by
appending one (name, ctype) line to the mirror's list below and setting it where the block is
filled (as the FP8 KV cache's dtype and scales of ptxfmha_decode_attn_params are, in
_checks.decode_attn_params); until then the CPU tests report it as not bound (skipped).
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


# batch .. causal: the same in ptxfmha_fwd_params and ptxfmha_bwd_params.
_PROBLEM = [
    ("batch", c_int32),
    ("seqlen_q", c_int32),
    ("seqlen_k", c_int32),
    ("heads_q", c_int32),
    ("heads_kv", c_int32),
    ("head_dim", c_int32),
    ("softmax_scale", c_float),
    ("causal", c_int32),
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
        *_PROBLEM,
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


_I32P = ctypes.POINTER(c_int32)
_F32P = ctypes.POINTER(c_float)

# The variable-length fields, in this order in ptxfmha_attn_params and ptxfmha_bwd_params (v2).
_VARLEN_FIELDS = [
    ("cu_seqlens_q", _I32P),
    ("cu_seqlens_k", _I32P),
    ("seqused_k", _I32P),
    ("max_seqlen_q", c_int32),
    ("max_seqlen_k", c_int32),
    ("total_q", c_int32),
    ("total_k", c_int32),
]

class AttnParams(ctypes.Structure):
    """ptxfmha_attn_params (versioned: struct_size first)."""

    _fields_ = [
        ("struct_size", c_uint64),
        *FwdParams._fields_,                  # q .. stream, as ptxfmha_fwd_params
        # variable length
        *_VARLEN_FIELDS,
        # paged K / V
        ("block_table", _I32P),
        ("page_size", c_int32),
        ("max_blocks_per_seq", c_int32),
        ("num_pages", c_int32),
        # masking and score modifiers
        ("window_left", c_int32),
        ("window_right", c_int32),
        ("softcap", c_float),
        ("sink_logits", _F32P),
        ("alibi_slopes", _F32P),
    ]


class DecodeAttnParams(ctypes.Structure):
    """ptxfmha_decode_attn_params (versioned). Fields appended to the header after `reserved`
    (FP8 KV cache) are bound by appending them here."""

    _fields_ = [
        ("struct_size", c_uint64),
        *DecodeParams._fields_[:-3],          # q .. num_splits, as ptxfmha_decode_params
        ("workspace", c_void_p),
        ("workspace_bytes", c_uint64),
        ("stream", c_void_p),
        ("sink_logits", _F32P),
        ("alibi_slopes", _F32P),
        ("window_left", c_int32),
        ("window_right", c_int32),
        ("softcap", c_float),
        ("reserved", c_int32),
        ("kv_dtype", c_int32),                # version 2: the FP8 (e4m3) KV cache
        ("kv_scale_count", c_int32),
        ("k_scale", _F32P),
        ("v_scale", _F32P),
    ]


class BwdParams(ctypes.Structure):
    """ptxfmha_bwd_params (versioned)."""

    _fields_ = [
        ("struct_size", c_uint64),
        ("q", c_void_p),
        ("k", c_void_p),
        ("v", c_void_p),
        ("o", c_void_p),
        ("dout", c_void_p),
        ("lse", _F32P),
        ("dq", c_void_p),
        ("dk", c_void_p),
        ("dv", c_void_p),
        *[(f"{t}_{d}_stride", c_int64) for t in ("q", "k", "v", "o", "dout", "dq", "dk", "dv")
          for d in ("batch", "seq", "head")],
        *_PROBLEM,
        ("deterministic", c_int32),
        ("reserved0", c_int32),
        ("workspace", c_void_p),
        ("workspace_bytes", c_uint64),
        ("stream", c_void_p),
        # version 2: the serving features (varlen still refused by the library's backward)
        ("window_left", c_int32),
        ("window_right", c_int32),
        ("softcap", c_float),
        ("reserved1", c_int32),
        ("alibi_slopes", _F32P),
        ("sink_logits", _F32P),
        ("d_sink", _F32P),
        *_VARLEN_FIELDS,
    ]


# C struct name -> ctypes class. Every struct of the header that crosses the ABI is listed.
STRUCTS = {
    "ptxfmha_fwd_params": FwdParams,
    "ptxfmha_decode_params": DecodeParams,
    "ptxfmha_attn_params": AttnParams,
    "ptxfmha_decode_attn_params": DecodeAttnParams,
    "ptxfmha_bwd_params": BwdParams,
}

# Versioned blocks -> the library function that fills one with its defaults:
# (name, sized): sized = takes the caller's struct_size (ptxfmha_*_params_init_sized), else it
# writes the library's own sizeof (ptxfmha_bwd_params_init). _lib.new_params uses these.
PARAMS_INIT = {
    AttnParams: ("ptxfmha_attn_params_init_sized", True),
    DecodeAttnParams: ("ptxfmha_decode_attn_params_init_sized", True),
    BwdParams: ("ptxfmha_bwd_params_init", False),
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
    # Extensible attention API and the backward: optional, so that the package still loads
    # (and says which entry point is missing) with an older libptxfmha.so.
    *[Function(name, *_status, args, required=False) for name, args in (
        ("ptxfmha_attn", [("const ptxfmha_attn_params*", ctypes.POINTER(AttnParams))]),
        ("ptxfmha_attn_params_init_sized", [("ptxfmha_attn_params*", ctypes.POINTER(AttnParams)),
                                            ("uint64_t", c_uint64)]),
        ("ptxfmha_check_metadata", [("const ptxfmha_attn_params*", ctypes.POINTER(AttnParams))]),
        ("ptxfmha_decode_attn", [("const ptxfmha_decode_attn_params*", ctypes.POINTER(DecodeAttnParams))]),
        ("ptxfmha_decode_attn_params_init_sized",
         [("ptxfmha_decode_attn_params*", ctypes.POINTER(DecodeAttnParams)), ("uint64_t", c_uint64)]),
        ("ptxfmha_decode_attn_workspace_size",
         [("const ptxfmha_decode_attn_params*", ctypes.POINTER(DecodeAttnParams)),
          ("uint64_t*", ctypes.POINTER(c_uint64))]),
        ("ptxfmha_check_decode_metadata",
         [("const ptxfmha_decode_attn_params*", ctypes.POINTER(DecodeAttnParams))]),
        ("ptxfmha_bwd", [("const ptxfmha_bwd_params*", ctypes.POINTER(BwdParams))]),
        ("ptxfmha_bwd_workspace_size", [("const ptxfmha_bwd_params*", ctypes.POINTER(BwdParams)),
                                        ("uint64_t*", ctypes.POINTER(c_uint64))]),
        ("ptxfmha_check_bwd_metadata", [("const ptxfmha_bwd_params*", ctypes.POINTER(BwdParams))]),
    )],
    Function("ptxfmha_bwd_params_init", "void", None, [("ptxfmha_bwd_params*", ctypes.POINTER(BwdParams))],
             required=False),
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
