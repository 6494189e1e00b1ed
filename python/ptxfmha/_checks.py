"""Argument checks and C parameter blocks, shared by every entry point; no torch import.

Tensors are used through a small duck-typed surface - `dtype` (str() is "torch.bfloat16"),
`device.type` / `device.index`, `dim()`, `shape`, `stride()`, `is_contiguous()`,
`data_ptr()` - so the CPU tests drive this layer with stand-ins and the torch layer (ops.py)
with real and fake tensors alike (the fake, meta-only implementations run the same shape
checks, so torch.compile reports a bad shape while tracing).

What Python checks (the C library cannot see it): dtype, device, number of dims, that the
last dim (head_dim) is contiguous, that the shapes of q, k, v (or the cache, cache_seqlens,
block_table) agree, and the FlashAttention arguments that have no C counterpart yet. What the
C library checks and reports by status (errors.STATUS_CLASS): NULL / misaligned pointers,
sizes, GQA ratio, strides (multiples of 8 elements, non-overlapping rows), aliasing, the scale,
head_dim against this device's kernels, page tables, decode limits.
"""

from __future__ import annotations

import ctypes
import math

from . import _abi
from .errors import ArgumentError

ACCEPTED_DTYPES = ("bfloat16",)
INDEX_DTYPE = "int32"
# ptxfmha_decode takes 1..8 query tokens per sequence (host/src/decode.h kDecodeMaxSeqlenQ);
# attention_with_kvcache sends longer queries on a plain cache to ptxfmha_fwd instead. The C
# library keeps its own check (test_cpu_errors ties the two).
DECODE_MAX_SEQLEN_Q = 8


def dtype_name(t):
    s = str(t.dtype)
    return s[len("torch."):] if s.startswith("torch.") else s


def _fail(fn, text, argument):
    return ArgumentError(f"{fn}: {text}", function=fn, argument=argument)


def check_tensor(fn, name, t, ndim, dtypes=ACCEPTED_DTYPES, what="[batch, seqlen, heads, head_dim]"):
    """A CUDA tensor of `ndim` dims and one of `dtypes`."""
    if t is None or not hasattr(t, "data_ptr") or not hasattr(t, "dtype"):
        raise _fail(fn, f"{name} must be a CUDA tensor {what}, got {type(t).__name__}", name)
    dev = t.device
    if getattr(dev, "type", None) != "cuda":
        raise _fail(
            fn, f"{name} is on device {dev}; ptxfmha runs on CUDA tensors only (move it with {name}.cuda())", name
        )
    if t.dim() != ndim:
        raise _fail(fn, f"{name} has {t.dim()} dims {tuple(t.shape)}; expected {ndim} dims {what}", name)
    if any(n == 0 for n in t.shape):
        raise _fail(fn, f"{name} has an empty dim {tuple(t.shape)}; every size must be >= 1", name)
    dt = dtype_name(t)
    if dt not in dtypes:
        hint = f" (convert with {name}.to(torch.{dtypes[0]}))" if len(dtypes) == 1 else ""
        raise _fail(fn, f"{name} has dtype {dt}; accepted: {', '.join(dtypes)}{hint}", name)


def check_head_dim_contiguous(fn, name, t):
    if t.shape[-1] > 1 and t.stride(-1) != 1:
        raise _fail(
            fn,
            f"{name} has stride {t.stride(-1)} in its last dim (head_dim); ptxfmha needs head_dim "
            f"contiguous (stride 1); other dims may have any stride that is a multiple of 8 elements "
            f"(call {name}.contiguous() if unsure)",
            name,
        )


def check_same_device(fn, named):
    first_name, first = named[0]
    for name, t in named[1:]:
        if t is not None and (t.device.type, t.device.index) != (first.device.type, first.device.index):
            raise _fail(fn, f"{name} is on {t.device} but {first_name} is on {first.device}", name)


def check_index_tensor(fn, name, t, shape, like):
    """An int32 CUDA tensor of exactly `shape` (ints; None = any), contiguous, on `like`'s
    device."""
    check_tensor(fn, name, t, len(shape), (INDEX_DTYPE,), what=str(list(shape)))
    for i, n in enumerate(shape):
        if n is not None and t.shape[i] != n:
            raise _fail(fn, f"{name} has shape {tuple(t.shape)}; expected {tuple(shape)}", name)
    if not t.is_contiguous():
        raise _fail(fn, f"{name} must be contiguous (call {name}.contiguous())", name)
    check_same_device(fn, [("q", like), (name, t)])


def resolve_scale(fn, softmax_scale, head_dim):
    """softmax_scale, defaulting to 1/sqrt(head_dim) like FlashAttention and SDPA; the C library
    rejects NaN/inf/<= 0 (INVALID_SCALE)."""
    if softmax_scale is None:
        return 1.0 / math.sqrt(head_dim)
    if isinstance(softmax_scale, bool) or not isinstance(softmax_scale, (int, float)):
        raise _fail(fn, f"softmax_scale must be a float or None, got {type(softmax_scale).__name__}", "softmax_scale")
    return float(softmax_scale)


def refuse(fn, name, value, supported):
    """Raised for a FlashAttention argument whose value the C ABI cannot do (yet)."""
    raise _fail(fn, f"{name}={value!r} is not supported by this build of ptxfmha (supported: {supported})", name)


def check_flash_extras(fn, dropout_p=0.0, window_size=(-1, -1), softcap=0.0, alibi_slopes=None,
                       return_attn_probs=False):
    """FlashAttention arguments without a C counterpart yet: only their neutral values pass."""
    if dropout_p not in (0, 0.0, None):
        refuse(fn, "dropout_p", dropout_p, "0.0")
    if window_size is not None and tuple(window_size) != (-1, -1):
        refuse(fn, "window_size", window_size, "(-1, -1), no sliding window")
    if softcap not in (0, 0.0, None):
        refuse(fn, "softcap", softcap, "0.0")
    if alibi_slopes is not None:
        refuse(fn, "alibi_slopes", "<tensor>", "None")
    if return_attn_probs:
        refuse(fn, "return_attn_probs", return_attn_probs, "False; use return_lse=True for the log-sum-exp")


# ---- ptxfmha_fwd ------------------------------------------------------------------------

def fwd_problem(fn, q, k, v):
    """Checks q [b, sq, hq, d], k/v [b, sk, hkv, d]; returns (batch, seqlen_q, seqlen_k,
    heads_q, heads_kv, head_dim)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(fn, name, t, 4)
    check_same_device(fn, [("q", q), ("k", k), ("v", v)])
    if tuple(k.shape) != tuple(v.shape):
        raise _fail(fn, f"k {tuple(k.shape)} and v {tuple(v.shape)} must have the same shape", "v")
    b, sq, hq, d = tuple(q.shape)
    kb, sk, hkv, kd = tuple(k.shape)
    if kb != b:
        raise _fail(fn, f"k has batch {kb} but q has batch {b}", "k")
    if kd != d:
        raise _fail(fn, f"k has head_dim {kd} but q has head_dim {d} (separate value head dims are not supported)", "k")
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_head_dim_contiguous(fn, name, t)
    return b, sq, sk, hq, hkv, d


def out_shapes(batch, seqlen_q, heads_q, head_dim, return_lse):
    """Shapes of the outputs every entry point allocates: O [b, sq, hq, d] (contiguous, the
    flash_attn layout) and LSE [b, hq, sq] fp32, or an empty LSE when not asked for."""
    return (batch, seqlen_q, heads_q, head_dim), ((batch, heads_q, seqlen_q) if return_lse else (0,))


def _ptr(t):
    return None if t is None else int(t.data_ptr())


def _strides(t):
    return tuple(int(s) for s in t.stride()[:3])


def fwd_params(q, k, v, out, lse, causal, softmax_scale, stream):
    """The ptxfmha_fwd_params block for checked tensors (lse None = not written)."""
    p = _abi.FwdParams()
    p.q, p.k, p.v, p.o = _ptr(q), _ptr(k), _ptr(v), _ptr(out)
    p.lse = ctypes.cast(_ptr(lse) or 0, ctypes.POINTER(ctypes.c_float))
    (p.q_batch_stride, p.q_seq_stride, p.q_head_stride) = _strides(q)
    (p.k_batch_stride, p.k_seq_stride, p.k_head_stride) = _strides(k)
    (p.v_batch_stride, p.v_seq_stride, p.v_head_stride) = _strides(v)
    (p.o_batch_stride, p.o_seq_stride, p.o_head_stride) = _strides(out)
    p.batch, p.seqlen_q, p.heads_q, p.head_dim = (int(x) for x in q.shape)
    p.seqlen_k, p.heads_kv = int(k.shape[1]), int(k.shape[2])
    p.softmax_scale = softmax_scale
    p.causal = 1 if causal else 0
    p.stream = stream or None
    return p


# ---- ptxfmha_decode ---------------------------------------------------------------------

class DecodeProblem:
    """Sizes of a checked decode call (paged when block_table is given)."""

    def __init__(self, batch, seqlen_q, heads_q, heads_kv, head_dim, max_seqlen_k,
                 paged, page_size=0, num_pages=0, max_blocks_per_seq=0):
        self.batch, self.seqlen_q, self.heads_q = batch, seqlen_q, heads_q
        self.heads_kv, self.head_dim, self.max_seqlen_k = heads_kv, head_dim, max_seqlen_k
        self.paged, self.page_size, self.num_pages = paged, page_size, num_pages
        self.max_blocks_per_seq = max_blocks_per_seq


def decode_problem(fn, q, k_cache, v_cache, cache_seqlens=None, block_table=None):
    """Checks q [b, sq, hq, d] against a contiguous cache [b, max_seqlen_k, hkv, d] or a paged
    one [num_pages, page_size, hkv, d] with block_table int32 [b, max_blocks_per_seq];
    cache_seqlens int32 [b] (keys of each sequence; None = all)."""
    what_cache = "[batch, seqlen_cache, heads_kv, head_dim] or paged [num_pages, page_size, heads_kv, head_dim]"
    check_tensor(fn, "q", q, 4)
    check_tensor(fn, "k_cache", k_cache, 4, what=what_cache)
    check_tensor(fn, "v_cache", v_cache, 4, what=what_cache)
    check_same_device(fn, [("q", q), ("k_cache", k_cache), ("v_cache", v_cache)])
    if tuple(k_cache.shape) != tuple(v_cache.shape):
        raise _fail(fn, f"k_cache {tuple(k_cache.shape)} and v_cache {tuple(v_cache.shape)} must have the same shape", "v_cache")
    b, sq, hq, d = tuple(q.shape)
    n0, n1, hkv, kd = tuple(k_cache.shape)
    if kd != d:
        raise _fail(fn, f"k_cache has head_dim {kd} but q has head_dim {d}", "k_cache")
    for name, t in (("q", q), ("k_cache", k_cache), ("v_cache", v_cache)):
        check_head_dim_contiguous(fn, name, t)
    if block_table is not None:
        check_index_tensor(fn, "block_table", block_table, (b, None), q)
        max_blocks = block_table.shape[1]
        prob = DecodeProblem(b, sq, hq, hkv, d, max_blocks * n1, True, page_size=n1, num_pages=n0,
                             max_blocks_per_seq=max_blocks)
    else:
        if n0 != b:
            raise _fail(fn, f"k_cache has batch {n0} but q has batch {b} (a paged cache needs block_table)", "k_cache")
        prob = DecodeProblem(b, sq, hq, hkv, d, n1, False)
    if cache_seqlens is not None:
        check_index_tensor(fn, "cache_seqlens", cache_seqlens, (b,), q)
    return prob


def decode_params(prob, q, k_cache, v_cache, out, lse, cache_seqlens, block_table, causal,
                  softmax_scale, num_splits, workspace_ptr, workspace_bytes, stream):
    """The ptxfmha_decode_params block for a checked DecodeProblem."""
    p = _abi.DecodeParams()
    p.q, p.k_cache, p.v_cache, p.o = _ptr(q), _ptr(k_cache), _ptr(v_cache), _ptr(out)
    p.lse = ctypes.cast(_ptr(lse) or 0, ctypes.POINTER(ctypes.c_float))
    p.seqlens_k = ctypes.cast(_ptr(cache_seqlens) or 0, ctypes.POINTER(ctypes.c_int32))
    p.block_table = ctypes.cast(_ptr(block_table) or 0, ctypes.POINTER(ctypes.c_int32))
    (p.q_batch_stride, p.q_seq_stride, p.q_head_stride) = _strides(q)
    (p.k_batch_stride, p.k_seq_stride, p.k_head_stride) = _strides(k_cache)
    (p.v_batch_stride, p.v_seq_stride, p.v_head_stride) = _strides(v_cache)
    (p.o_batch_stride, p.o_seq_stride, p.o_head_stride) = _strides(out)
    p.batch, p.seqlen_q, p.max_seqlen_k = prob.batch, prob.seqlen_q, prob.max_seqlen_k
    p.heads_q, p.heads_kv, p.head_dim = prob.heads_q, prob.heads_kv, prob.head_dim
    p.page_size = prob.page_size
    p.max_blocks_per_seq = prob.max_blocks_per_seq
    p.num_pages = prob.num_pages
    p.softmax_scale = softmax_scale
    p.causal = 1 if causal else 0
    p.num_splits = int(num_splits)
    p.workspace = workspace_ptr or None
    p.workspace_bytes = int(workspace_bytes)
    p.stream = stream or None
    return p
