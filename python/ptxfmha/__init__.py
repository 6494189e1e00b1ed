"""ptxfmha: hand-written PTX attention kernels (libptxfmha.so) from Python.

    import torch, ptxfmha
    out = ptxfmha.attention(q, k, v, causal=True)                 # q/k/v [b, s, h, d] bf16 CUDA
    out.float().sum().backward()                                  # dq, dk, dv through ptxfmha_bwd
    out = ptxfmha.attention_varlen(q, k, v, cu_q, cu_k, max_q, max_k, causal=True)   # packed [total, h, d]
    out = ptxfmha.attention_with_kvcache(q, k_cache, v_cache, cache_seqlens=lens, block_table=bt)

Importing loads libptxfmha.so through ctypes and points it at the cubins shipped in the package
(_lib.py says where each comes from); it needs neither PyTorch nor a GPU. The torch entry points
(attention, attention_varlen, attention_with_kvcache, the flash_attn_* spellings, check_metadata,
check_kvcache_metadata; custom ops torch.ops.ptxfmha.attn / .decode_attn / .bwd) exist when
PyTorch imports; ptxfmha.hf registers
attn_implementation="ptxfmha" with transformers.
"""

from . import _lib
from ._abi import Status
from ._lib import cubin_dir, library_path, set_cubin_dir
from .errors import ArgumentError, DeviceError, PtxfmhaError

_lib.load()
__version__ = _lib.version()

_TORCH_NAMES = ("attention", "attention_varlen", "attention_with_kvcache", "check_kvcache_metadata",
                "check_metadata", "flash_attn_func", "flash_attn_varlen_func", "flash_attn_with_kvcache")

try:
    import torch as _torch  # noqa: F401
except ImportError as _e:  # no PyTorch: the C ABI layer still works
    _torch_error = _e
else:
    _torch_error = None
    from .ops import (attention, attention_varlen, attention_with_kvcache, check_kvcache_metadata,
                      check_metadata, flash_attn_func, flash_attn_varlen_func, flash_attn_with_kvcache)


def torch_available():
    """Whether the PyTorch entry points are there."""
    return _torch_error is None


def __getattr__(name):
    if name in _TORCH_NAMES and _torch_error is not None:
        raise ImportError(f"ptxfmha.{name} needs PyTorch, which did not import: {_torch_error}")
    raise AttributeError(f"module 'ptxfmha' has no attribute {name!r}")


__all__ = [
    "ArgumentError",
    "DeviceError",
    "PtxfmhaError",
    "Status",
    "cubin_dir",
    "library_path",
    "set_cubin_dir",
    "torch_available",
    *_TORCH_NAMES,
]
