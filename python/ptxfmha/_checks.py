"""Argument checks and C parameter blocks, shared by every entry point; no torch import.

Tensors are used through a small duck-typed surface - `dtype` (str() is "torch.bfloat16"),
`device.type` / `device.index`, `dim()`, `shape`, `stride()`, `is_contiguous()`,
`data_ptr()` - so the CPU tests drive this layer with stand-ins and the torch layer (ops.py)
with real and fake tensors alike (the fake, meta-only implementations run the same shape
checks, so torch.compile reports a bad shape while tracing).

What Python checks (the C library cannot see it): dtype, device, number of dims, that the
last dim (head_dim) is contiguous, that the shapes of q, k, v (or the cache, cu_seqlens,
seqused_k, cache_seqlens, block_table, sinks, ALiBi slopes) agree, the types of window_size /
softcap, and the FlashAttention arguments that have no C counterpart. What the C library
checks and reports by status (errors.STATUS_CLASS): NULL / misaligned pointers, sizes, GQA
ratio, strides (multiples of 8 elements, non-overlapping rows), aliasing, the scale, window /
softcap values, variable-length bounds, head_dim against this device's kernels, page tables,
decode limits, features without a kernel (UNSUPPORTED_FEATURE).

The parameter blocks are built here from the checked sizes: attn_params (ptxfmha_attn: fixed,
packed or paged), decode_attn_params (ptxfmha_decode_attn) and bwd_params (ptxfmha_bwd), each
starting from the library's defaults (_lib.new_params) and filled by C field name (fill).
"""

from __future__ import annotations

import ctypes
import math

from . import _abi, _lib
from .errors import ArgumentError

ACCEPTED_DTYPES = ("bfloat16",)
INDEX_DTYPE = "int32"
# Per-head vectors (sinks, ALiBi slopes) cross the ABI as fp32.
VECTOR_DTYPE = "float32"
# The device types whose tensors reach the kernels. The CPU tests widen it to run the torch
# layer against stand-in kernels registered for "cpu" (tests/cpu_kernels.py); nothing else does.
ACCEPTED_DEVICES = ("cuda",)
# ptxfmha_decode takes 1..8 query tokens per sequence (host/src/decode.h kDecodeMaxSeqlenQ);
# attention_with_kvcache sends longer queries to ptxfmha_attn (fixed Q against the contiguous
# or paged cache, seqused_k = cache_seqlens) instead. The C library keeps its own check
# (test_cpu_errors ties the two).
DECODE_MAX_SEQLEN_Q = 8


_DTYPE_NAMES = {}  # dtype object -> its name without "torch." (str() of a dtype once per dtype)


def dtype_name(t):
    d = t.dtype
    try:
        return _DTYPE_NAMES[d]
    except (KeyError, TypeError):
        s = str(d)
        s = s[len("torch."):] if s.startswith("torch.") else s
        try:
            _DTYPE_NAMES[d] = s
        except TypeError:  # an unhashable stand-in
            pass
        return s


def _fail(fn, text, argument):
    return ArgumentError(f"{fn}: {text}", function=fn, argument=argument)


def check_tensor(fn, name, t, ndim, dtypes=None, what="[batch, seqlen, heads, head_dim]", empty_dim0=False):
    """A CUDA tensor of `ndim` dims and one of `dtypes` (default ACCEPTED_DTYPES); no empty dim
    (but the first one when empty_dim0: a packed tensor of no rows)."""
    dtypes = dtypes or ACCEPTED_DTYPES
    if t is None or not hasattr(t, "data_ptr") or not hasattr(t, "dtype"):
        raise _fail(fn, f"{name} must be a CUDA tensor {what}, got {type(t).__name__}", name)
    dev = t.device
    if getattr(dev, "type", None) not in ACCEPTED_DEVICES:
        raise _fail(
            fn, f"{name} is on device {dev}; ptxfmha runs on CUDA tensors only (move it with {name}.cuda())", name
        )
    shape = tuple(t.shape)
    if len(shape) != ndim:
        raise _fail(fn, f"{name} has {len(shape)} dims {shape}; expected {ndim} dims {what}", name)
    if 0 in (shape[1:] if empty_dim0 else shape):
        raise _fail(fn, f"{name} has an empty dim {shape}; every size must be >= 1", name)
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


def check_flash_extras(fn, dropout_p=0.0, return_attn_probs=False):
    """FlashAttention arguments without a C counterpart: only their neutral values pass."""
    if dropout_p not in (0, 0.0, None):
        refuse(fn, "dropout_p", dropout_p, "0.0")
    if return_attn_probs:
        refuse(fn, "return_attn_probs", return_attn_probs, "False; use return_lse=True for the log-sum-exp")


def check_int(fn, name, value, minimum=None):
    """A Python int (not bool), >= minimum when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(fn, f"{name} must be an int, got {type(value).__name__}", name)
    if minimum is not None and value < minimum:
        raise _fail(fn, f"{name} = {value} must be >= {minimum}", name)
    return int(value)


def resolve_window(fn, window_size):
    """window_size (left, right) as FlashAttention spells it: keys i - left .. i + right of the
    diagonal, -1 = unbounded; None = (-1, -1). Returns two ints; the C library checks the values
    (>= -1, right against causal)."""
    if window_size is None:
        return -1, -1
    try:
        left, right = window_size
    except (TypeError, ValueError):
        raise _fail(fn, f"window_size must be a pair (left, right), got {window_size!r}", "window_size") from None
    for x in (left, right):
        if isinstance(x, bool) or not isinstance(x, int):
            raise _fail(fn, f"window_size must be a pair of ints (-1 = unbounded), got {window_size!r}",
                        "window_size")
    return int(left), int(right)


def resolve_softcap(fn, softcap):
    """softcap as a float (None or 0 = off); the C library rejects negative / non-finite ones."""
    if softcap is None:
        return 0.0
    if isinstance(softcap, bool) or not isinstance(softcap, (int, float)):
        raise _fail(fn, f"softcap must be a float (0 = off), got {type(softcap).__name__}", "softcap")
    return float(softcap)


def check_head_vector(fn, name, t, heads_q, like):
    """sinks / alibi_slopes: fp32 [heads_q], contiguous, on q's device (None passes)."""
    if t is None:
        return
    what = f"[heads_q] = [{heads_q}] float32"
    check_tensor(fn, name, t, 1, (VECTOR_DTYPE,), what=what)
    if t.shape[0] != heads_q:
        hint = " (one slope per query head; per-batch slopes [batch, heads] are not supported)" \
            if name == "alibi_slopes" else ""
        raise _fail(fn, f"{name} has shape {tuple(t.shape)}; expected {what}{hint}", name)
    if not t.is_contiguous():
        raise _fail(fn, f"{name} must be contiguous (call {name}.contiguous())", name)
    check_same_device(fn, [("q", like), (name, t)])


# ---- shared -------------------------------------------------------------------------------

def _ptr(t):
    return None if t is None else int(t.data_ptr())


_FIELDS = {}  # block class -> {field name: its typed pointer class, c_void_p, or None}, once per class


def fill(p, fields):
    """Sets fields of a ctypes parameter block by name from the dict `fields`; integer
    addresses (or None) go into pointer fields, whatever their pointer type. An unknown name
    raises KeyError. (Runs on every call: the field kinds are computed once per block class.)"""
    kinds = _FIELDS.get(type(p))
    if kinds is None:
        kinds = _FIELDS[type(p)] = {
            name: t if t is ctypes.c_void_p or (isinstance(t, type) and issubclass(t, ctypes._Pointer)) else None
            for name, t in type(p)._fields_}
    for name, value in fields.items():
        t = kinds[name]
        if t is not None and t is not ctypes.c_void_p:
            value = ctypes.cast(value, t) if value else None
        setattr(p, name, value)
    return p


_STRIDE_NAMES = {}  # C tensor name -> its three stride field names


def _set_strides(fields, c_name, t, packed=False):
    """{batch, seq, head} element strides into `fields`: a [b, s, h, d] tensor's first three,
    or (0, row, head) for a packed [total, h, d] one."""
    names = _STRIDE_NAMES.get(c_name)
    if names is None:
        names = _STRIDE_NAMES[c_name] = (f"{c_name}_batch_stride", f"{c_name}_seq_stride", f"{c_name}_head_stride")
    st = t.stride()
    if packed:
        fields[names[0]], fields[names[1]], fields[names[2]] = 0, int(st[0]), int(st[1])
    else:
        fields[names[0]], fields[names[1]], fields[names[2]] = int(st[0]), int(st[1]), int(st[2])


# ---- ptxfmha_attn -----------------------------------------------------------------------

class AttnProblem:
    """Sizes of a checked ptxfmha_attn call. Q is fixed [b, sq, hq, d] or packed [total_q, hq, d]
    (cu_seqlens_q); K/V fixed [b, sk, hkv, d], packed [total_k, hkv, d] (cu_seqlens_k) or paged
    [num_pages, page_size, hkv, d] (block_table)."""

    def __init__(self, **kw):
        self.batch = self.seqlen_q = self.seqlen_k = self.heads_q = self.heads_kv = self.head_dim = 0
        self.varlen_q = self.varlen_k = self.paged = False
        self.total_q = self.total_k = self.max_seqlen_q = self.max_seqlen_k = 0
        self.page_size = self.num_pages = self.max_blocks_per_seq = 0
        self.__dict__.update(kw)

    @property
    def query_rows(self):
        return self.total_q if self.varlen_q else self.batch * self.seqlen_q

    def out_shapes(self, return_lse):
        """O like q (contiguous); LSE [b, hq, sq] (fixed Q) or [hq, total_q] (varlen Q), fp32,
        or an empty one when not asked for."""
        if self.varlen_q:
            o = (self.total_q, self.heads_q, self.head_dim)
            lse = (self.heads_q, self.total_q)
        else:
            o = (self.batch, self.seqlen_q, self.heads_q, self.head_dim)
            lse = (self.batch, self.heads_q, self.seqlen_q)
        return o, (lse if return_lse else (0,))


def _check_kv_pair(fn, k, v, ndim, what, k_name="k", v_name="v", empty_dim0=False, dtypes=None):
    check_tensor(fn, k_name, k, ndim, dtypes, what=what, empty_dim0=empty_dim0)
    check_tensor(fn, v_name, v, ndim, dtypes, what=what, empty_dim0=empty_dim0)
    if tuple(k.shape) != tuple(v.shape):
        raise _fail(fn, f"{k_name} {tuple(k.shape)} and {v_name} {tuple(v.shape)} must have the same shape", v_name)


def attn_problem(fn, q, k, v, cu_seqlens_q=None, cu_seqlens_k=None, seqused_k=None, block_table=None,
                 max_seqlen_q=0, max_seqlen_k=0, sinks=None, alibi_slopes=None):
    """Checks a ptxfmha_attn call's tensors and sizes (everything Python can see; the C library
    checks the rest) and returns its AttnProblem. max_seqlen_q / max_seqlen_k: the bounds of the
    packed sides (host ints); with block_table, max_seqlen_k > 0 bounds the keys of a sequence
    (the C seqlen_k), 0 = max_blocks_per_seq * page_size."""
    pr = AttnProblem()
    if cu_seqlens_q is not None:
        check_tensor(fn, "q", q, 3, what="[total_q, heads_q, head_dim] (packed, with cu_seqlens_q)", empty_dim0=True)
        check_index_tensor(fn, "cu_seqlens_q", cu_seqlens_q, (None,), q)
        if cu_seqlens_q.shape[0] < 2:
            raise _fail(fn, f"cu_seqlens_q has {cu_seqlens_q.shape[0]} entries; expected batch + 1 >= 2", "cu_seqlens_q")
        pr.varlen_q, pr.batch = True, cu_seqlens_q.shape[0] - 1
        pr.total_q, pr.heads_q, pr.head_dim = (int(x) for x in q.shape)
        pr.max_seqlen_q = check_int(fn, "max_seqlen_q", max_seqlen_q, 0)
    else:
        check_tensor(fn, "q", q, 4)
        pr.batch, pr.seqlen_q, pr.heads_q, pr.head_dim = (int(x) for x in q.shape)
    tensors = [("q", q)]
    if block_table is not None:
        if cu_seqlens_k is not None:
            raise _fail(fn, "cu_seqlens_k and block_table are both given: paged K/V takes its lengths from "
                            "seqused_k (flash_attn_varlen_func converts cu_seqlens_k to seqused_k)", "cu_seqlens_k")
        _check_kv_pair(fn, k, v, 4, "[num_pages, page_size, heads_kv, head_dim] (paged, with block_table)")
        check_index_tensor(fn, "block_table", block_table, (pr.batch, None), q)
        pr.paged = True
        pr.num_pages, pr.page_size, pr.heads_kv, kd = (int(x) for x in k.shape)
        pr.max_blocks_per_seq = int(block_table.shape[1])
        cap = check_int(fn, "max_seqlen_k", max_seqlen_k, 0)
        pr.seqlen_k = cap if cap > 0 else pr.max_blocks_per_seq * pr.page_size
    elif cu_seqlens_k is not None:
        _check_kv_pair(fn, k, v, 3, "[total_k, heads_kv, head_dim] (packed, with cu_seqlens_k)")
        check_index_tensor(fn, "cu_seqlens_k", cu_seqlens_k, (pr.batch + 1,), q)
        pr.varlen_k = True
        pr.total_k, pr.heads_kv, kd = (int(x) for x in k.shape)
        pr.max_seqlen_k = check_int(fn, "max_seqlen_k", max_seqlen_k, 0)
    else:
        _check_kv_pair(fn, k, v, 4, "[batch, seqlen_k, heads_kv, head_dim]")
        kb, pr.seqlen_k, pr.heads_kv, kd = (int(x) for x in k.shape)
        if kb != pr.batch:
            raise _fail(fn, f"k has batch {kb} but q has batch {pr.batch}"
                        + (" (cu_seqlens_q has batch + 1 entries)" if pr.varlen_q else ""), "k")
    if kd != pr.head_dim:
        raise _fail(fn, f"k has head_dim {kd} but q has head_dim {pr.head_dim} (separate value head dims are "
                        "not supported)", "k")
    tensors += [("k", k), ("v", v)]
    check_same_device(fn, tensors)
    for name, t in tensors:
        check_head_dim_contiguous(fn, name, t)
    if seqused_k is not None:
        check_index_tensor(fn, "seqused_k", seqused_k, (pr.batch,), q)
    check_head_vector(fn, "sinks", sinks, pr.heads_q, q)
    check_head_vector(fn, "alibi_slopes", alibi_slopes, pr.heads_q, q)
    return pr


def attn_pointers(q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, sinks, alibi_slopes,
                  stream):
    """Every address field of ptxfmha_attn_params, by C name (None = NULL): with a block of the
    same sizes, these are all that differ between two calls (ops.py's plan cache sets them)."""
    return dict(q=_ptr(q), k=_ptr(k), v=_ptr(v), o=_ptr(out), lse=_ptr(lse), stream=stream,
                cu_seqlens_q=_ptr(cu_seqlens_q), cu_seqlens_k=_ptr(cu_seqlens_k), seqused_k=_ptr(seqused_k),
                block_table=_ptr(block_table), sink_logits=_ptr(sinks), alibi_slopes=_ptr(alibi_slopes))


def attn_params(pr, q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, causal,
                softmax_scale, window_left, window_right, softcap, sinks, alibi_slopes, stream):
    """The ptxfmha_attn_params block (library defaults from its init function) for a checked
    AttnProblem; lse None = not written."""
    f = dict(batch=pr.batch, seqlen_q=pr.seqlen_q, seqlen_k=pr.seqlen_k, heads_q=pr.heads_q,
             heads_kv=pr.heads_kv, head_dim=pr.head_dim, softmax_scale=softmax_scale,
             causal=1 if causal else 0,
             max_seqlen_q=pr.max_seqlen_q, max_seqlen_k=pr.max_seqlen_k, total_q=pr.total_q, total_k=pr.total_k,
             page_size=pr.page_size, max_blocks_per_seq=pr.max_blocks_per_seq,
             num_pages=pr.num_pages, window_left=int(window_left), window_right=int(window_right),
             softcap=float(softcap))
    f.update(attn_pointers(q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, seqused_k, block_table, sinks,
                           alibi_slopes, stream))
    _set_strides(f, "q", q, pr.varlen_q)
    _set_strides(f, "o", out, pr.varlen_q)
    _set_strides(f, "k", k, pr.varlen_k)
    _set_strides(f, "v", v, pr.varlen_k)
    return fill(_lib.new_params(_abi.AttnParams), f)


def effective_window(causal, window_left, window_right, len_q, len_k):
    """(left, right) after causal (right = 0) and with a bound that covers the whole sequence
    dropped (-1), as the C library's canonical_window (host/src/attn.cpp) reads it; len_q /
    len_k are the longest query / key sequences. (-1, -1) is full attention, (-1, 0) causal."""
    left, right = int(window_left), (0 if causal else int(window_right))
    if left >= 0 and left >= len_k - 1:
        left = -1
    if right >= 1 and right >= len_q - 1:
        right = -1
    return left, right


# ---- ptxfmha_decode_attn ----------------------------------------------------------------

# The FP8 KV cache (ptxfmha_decode_attn_params version 2): e4m3 bytes (torch.float8_e4m3fn,
# the OCP E4M3 encoding the kernels decode) with fp32 dequantisation scales, K = k_scale[s] *
# k_e4m3, s = 0 (one scale) or the KV head (heads_kv scales). Its constants in the C header:
KV_DTYPE_BF16, KV_DTYPE_E4M3 = 0, 1  # PTXFMHA_KV_BF16, PTXFMHA_KV_E4M3
FP8_DTYPE = "float8_e4m3fn"
SCALE_DTYPE = "float32"


class DecodeProblem:
    """Sizes of a checked decode call (paged when block_table is given); kv_dtype /
    kv_scale_count as the C block takes them (bf16: 0 / 0; e4m3: 1 / 1 or heads_kv)."""

    def __init__(self, batch, seqlen_q, heads_q, heads_kv, head_dim, max_seqlen_k,
                 paged, page_size=0, num_pages=0, max_blocks_per_seq=0, kv_dtype=KV_DTYPE_BF16, kv_scale_count=0):
        self.batch, self.seqlen_q, self.heads_q = batch, seqlen_q, heads_q
        self.heads_kv, self.head_dim, self.max_seqlen_k = heads_kv, head_dim, max_seqlen_k
        self.paged, self.page_size, self.num_pages = paged, page_size, num_pages
        self.max_blocks_per_seq = max_blocks_per_seq
        self.kv_dtype, self.kv_scale_count = kv_dtype, kv_scale_count

    def out_shapes(self, return_lse):
        o = (self.batch, self.seqlen_q, self.heads_q, self.head_dim)
        return o, ((self.batch, self.heads_q, self.seqlen_q) if return_lse else (0,))


def check_kv_scale(fn, name, t, heads_kv, like):
    """k_scale / v_scale of an e4m3 cache: an fp32 tensor on q's device of shape [] or [1] (one
    scale) or [heads_kv] (one per KV head), contiguous. Returns its count (1 or heads_kv). The
    values are read on the GPU (finite and > 0 required, not checked: no host sync)."""
    what = f"float32 of shape [], [1] or [heads_kv] = [{heads_kv}]"
    if t is None:
        raise _fail(fn, f"{name} is required with a {FP8_DTYPE} cache (the dequantisation scale: "
                        f"K = k_scale * k_cache, V = v_scale * v_cache); give a float or a tensor {what}", name)
    if not hasattr(t, "data_ptr") or not hasattr(t, "dtype"):
        raise _fail(fn, f"{name} must be a float or a CUDA tensor {what}, got {type(t).__name__}", name)
    if getattr(t.device, "type", None) not in ACCEPTED_DEVICES:
        raise _fail(fn, f"{name} is on device {t.device}; the scales are read on the GPU: give a CUDA tensor "
                        f"{what} on q's device (or a Python float)", name)
    if dtype_name(t) != SCALE_DTYPE:
        raise _fail(fn, f"{name} has dtype {dtype_name(t)}; accepted: {what} (convert with "
                        f"{name}.to(torch.float32))", name)
    count = 1 if t.dim() == 0 else (int(t.shape[0]) if t.dim() == 1 else -1)
    if count not in (1, heads_kv):
        raise _fail(fn, f"{name} has shape {tuple(t.shape)}; expected {what} (per-tensor or per-KV-head)", name)
    if t.dim() == 1 and count > 1 and t.stride(0) != 1:
        raise _fail(fn, f"{name} must be contiguous (call {name}.contiguous())", name)
    check_same_device(fn, [("q", like), (name, t)])
    return count


def _decode_kv_dtype(fn, q, k_cache, v_cache, k_scale, v_scale, heads_kv):
    """(kv_dtype, kv_scale_count) of a decode call whose caches passed check_tensor: both caches
    bf16 without scales, or both float8_e4m3fn with k_scale and v_scale of one count."""
    kt, vt = dtype_name(k_cache), dtype_name(v_cache)
    if kt != vt:
        raise _fail(fn, f"k_cache has dtype {kt} but v_cache has dtype {vt}; both must be bfloat16 or both "
                        f"{FP8_DTYPE}", "v_cache")
    if kt != FP8_DTYPE:
        for name, t in (("k_scale", k_scale), ("v_scale", v_scale)):
            if t is not None:
                raise _fail(fn, f"{name} is given but the cache has dtype {kt}; the scales are for a "
                                f"{FP8_DTYPE} cache", name)
        return KV_DTYPE_BF16, 0
    if dtype_name(q) != "bfloat16":
        raise _fail(fn, f"q has dtype {dtype_name(q)}; with a {FP8_DTYPE} cache q (and the output) are bfloat16",
                    "q")
    nk = check_kv_scale(fn, "k_scale", k_scale, heads_kv, q)
    nv = check_kv_scale(fn, "v_scale", v_scale, heads_kv, q)
    if nk != nv:
        raise _fail(fn, f"k_scale has {nk} entries but v_scale has {nv}; the C ABI takes one count for both "
                        "(1 per tensor or heads_kv per KV head)", "v_scale")
    return KV_DTYPE_E4M3, nk


def decode_problem(fn, q, k_cache, v_cache, cache_seqlens=None, block_table=None, sinks=None, alibi_slopes=None,
                   k_scale=None, v_scale=None):
    """Checks q [b, sq, hq, d] against a contiguous cache [b, max_seqlen_k, hkv, d] or a paged
    one [num_pages, page_size, hkv, d] with block_table int32 [b, max_blocks_per_seq];
    cache_seqlens int32 [b] (keys of each sequence; None = all). The cache is bf16 or
    float8_e4m3fn (then k_scale / v_scale: check_kv_scale)."""
    what_cache = "[batch, seqlen_cache, heads_kv, head_dim] or paged [num_pages, page_size, heads_kv, head_dim]"
    check_tensor(fn, "q", q, 4)
    _check_kv_pair(fn, k_cache, v_cache, 4, what_cache, "k_cache", "v_cache", dtypes=ACCEPTED_DTYPES + (FP8_DTYPE,))
    check_same_device(fn, [("q", q), ("k_cache", k_cache), ("v_cache", v_cache)])
    b, sq, hq, d = tuple(q.shape)
    n0, n1, hkv, kd = tuple(k_cache.shape)
    kv_dtype, kv_scale_count = _decode_kv_dtype(fn, q, k_cache, v_cache, k_scale, v_scale, hkv)
    if kd != d:
        raise _fail(fn, f"k_cache has head_dim {kd} but q has head_dim {d}", "k_cache")
    for name, t in (("q", q), ("k_cache", k_cache), ("v_cache", v_cache)):
        check_head_dim_contiguous(fn, name, t)
    if block_table is not None:
        check_index_tensor(fn, "block_table", block_table, (b, None), q)
        max_blocks = block_table.shape[1]
        prob = DecodeProblem(b, sq, hq, hkv, d, max_blocks * n1, True, page_size=n1, num_pages=n0,
                             max_blocks_per_seq=max_blocks, kv_dtype=kv_dtype, kv_scale_count=kv_scale_count)
    else:
        if n0 != b:
            raise _fail(fn, f"k_cache has batch {n0} but q has batch {b} (a paged cache needs block_table)", "k_cache")
        prob = DecodeProblem(b, sq, hq, hkv, d, n1, False, kv_dtype=kv_dtype, kv_scale_count=kv_scale_count)
    if cache_seqlens is not None:
        check_index_tensor(fn, "cache_seqlens", cache_seqlens, (b,), q)
    check_head_vector(fn, "sinks", sinks, hq, q)
    check_head_vector(fn, "alibi_slopes", alibi_slopes, hq, q)
    return prob


def decode_pointers(q, k_cache, v_cache, out, lse, cache_seqlens, block_table, sinks, alibi_slopes, stream,
                    k_scale=None, v_scale=None):
    """Every address field of ptxfmha_decode_attn_params but the workspace, by C name (as
    attn_pointers)."""
    return dict(q=_ptr(q), k_cache=_ptr(k_cache), v_cache=_ptr(v_cache), o=_ptr(out), lse=_ptr(lse),
                seqlens_k=_ptr(cache_seqlens), block_table=_ptr(block_table), stream=stream,
                sink_logits=_ptr(sinks), alibi_slopes=_ptr(alibi_slopes), k_scale=_ptr(k_scale), v_scale=_ptr(v_scale))


def decode_attn_params(prob, q, k_cache, v_cache, out, lse, cache_seqlens, block_table, causal,
                       softmax_scale, window_left, window_right, softcap, sinks, alibi_slopes, num_splits,
                       workspace_ptr, workspace_bytes, stream, k_scale=None, v_scale=None, **extra):
    """The ptxfmha_decode_attn_params block for a checked DecodeProblem (its kv_dtype and
    kv_scale_count; k_scale / v_scale the checked scale tensors of an e4m3 cache, else None).
    `extra`: fields appended to the block after these, by their C names."""
    f = dict(batch=prob.batch, seqlen_q=prob.seqlen_q, max_seqlen_k=prob.max_seqlen_k, heads_q=prob.heads_q,
             heads_kv=prob.heads_kv, head_dim=prob.head_dim, page_size=prob.page_size,
             max_blocks_per_seq=prob.max_blocks_per_seq, num_pages=prob.num_pages,
             softmax_scale=softmax_scale, causal=1 if causal else 0, num_splits=int(num_splits),
             workspace=workspace_ptr, workspace_bytes=int(workspace_bytes),
             window_left=int(window_left), window_right=int(window_right), softcap=float(softcap),
             kv_dtype=prob.kv_dtype, kv_scale_count=prob.kv_scale_count, **extra)
    f.update(decode_pointers(q, k_cache, v_cache, out, lse, cache_seqlens, block_table, sinks, alibi_slopes, stream,
                             k_scale, v_scale))
    for c_name, t in (("q", q), ("k", k_cache), ("v", v_cache), ("o", out)):
        _set_strides(f, c_name, t)
    return fill(_lib.new_params(_abi.DecodeAttnParams), f)


# ---- ptxfmha_bwd ------------------------------------------------------------------------

def bwd_problem(fn, dout, q, k, v, out, lse, sinks=None, alibi_slopes=None, cu_seqlens_q=None, cu_seqlens_k=None,
                seqused_k=None, max_seqlen_q=0, max_seqlen_k=0):
    """Checks the backward's tensors and returns the forward's AttnProblem (attn_problem: q, k,
    v fixed or packed as the forward's, cu_seqlens_q / cu_seqlens_k / seqused_k /
    max_seqlen_q / max_seqlen_k as its, no paged K/V); out and dout shaped like q, lse fp32
    contiguous of the forward's LSE shape ([b, hq, sq], or [hq, total_q] for packed Q)."""
    pr = attn_problem(fn, q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_k, None, max_seqlen_q, max_seqlen_k,
                      sinks, alibi_slopes)
    ndim = 3 if pr.varlen_q else 4
    for name, t in (("out", out), ("dout", dout)):
        check_tensor(fn, name, t, ndim, empty_dim0=pr.varlen_q)
    check_same_device(fn, [("q", q), ("out", out), ("dout", dout), ("lse", lse)])
    for name, t in (("out", out), ("dout", dout)):
        if tuple(t.shape) != tuple(q.shape):
            raise _fail(fn, f"{name} has shape {tuple(t.shape)}; expected q's {tuple(q.shape)}", name)
        check_head_dim_contiguous(fn, name, t)
    want = pr.out_shapes(True)[1]
    dims = ("heads_q, total_q" if pr.varlen_q else "batch, heads_q, seqlen_q")
    what = f"[{dims}] = {list(want)} float32 (the forward's LSE)"
    if pr.query_rows:  # (packed Q of no rows: lse [heads_q, 0])
        check_tensor(fn, "lse", lse, len(want), ("float32",), what=what)
    if tuple(lse.shape) != want or not lse.is_contiguous():
        raise _fail(fn, f"lse has shape {tuple(lse.shape)}; expected contiguous {what}", "lse")
    return pr


def bwd_pointers(dout, q, k, v, out, lse, dq, dk, dv, sinks, alibi_slopes, d_sink, cu_seqlens_q, cu_seqlens_k,
                 seqused_k, stream):
    """Every address field of ptxfmha_bwd_params but the workspace, by C name (as attn_pointers)."""
    return dict(q=_ptr(q), k=_ptr(k), v=_ptr(v), o=_ptr(out), dout=_ptr(dout), lse=_ptr(lse), dq=_ptr(dq),
                dk=_ptr(dk), dv=_ptr(dv), stream=stream, alibi_slopes=_ptr(alibi_slopes), sink_logits=_ptr(sinks),
                d_sink=_ptr(d_sink), cu_seqlens_q=_ptr(cu_seqlens_q), cu_seqlens_k=_ptr(cu_seqlens_k),
                seqused_k=_ptr(seqused_k))


def bwd_params(dout, q, k, v, out, lse, dq, dk, dv, causal, softmax_scale, deterministic,
               workspace_ptr, workspace_bytes, stream, window_left=-1, window_right=-1, softcap=0.0,
               sinks=None, alibi_slopes=None, d_sink=None, pr=None, cu_seqlens_q=None, cu_seqlens_k=None,
               seqused_k=None):
    """The ptxfmha_bwd_params block (library defaults from ptxfmha_bwd_params_init); version 2's
    window / softcap / ALiBi / sinks as ptxfmha_attn's, d_sink (fp32 [hq] output) only with
    sinks; `pr` the checked AttnProblem of bwd_problem (None: fixed lengths from q's and k's
    shapes) with its variable-length fields and cu_seqlens_q / cu_seqlens_k / seqused_k."""
    if pr is None:
        b, sq, hq, d = (int(x) for x in q.shape)
        pr = AttnProblem(batch=b, seqlen_q=sq, seqlen_k=int(k.shape[1]), heads_q=hq, heads_kv=int(k.shape[2]),
                         head_dim=d)
    f = dict(batch=pr.batch, seqlen_q=pr.seqlen_q, seqlen_k=pr.seqlen_k,
             heads_q=pr.heads_q, heads_kv=pr.heads_kv, head_dim=pr.head_dim, softmax_scale=softmax_scale,
             causal=1 if causal else 0, deterministic=1 if deterministic else 0,
             workspace=workspace_ptr, workspace_bytes=int(workspace_bytes),
             window_left=int(window_left), window_right=int(window_right), softcap=float(softcap),
             max_seqlen_q=pr.max_seqlen_q, max_seqlen_k=pr.max_seqlen_k, total_q=pr.total_q, total_k=pr.total_k)
    f.update(bwd_pointers(dout, q, k, v, out, lse, dq, dk, dv, sinks, alibi_slopes, d_sink, cu_seqlens_q,
                          cu_seqlens_k, seqused_k, stream))
    for c_name, t in (("q", q), ("o", out), ("dout", dout), ("dq", dq)):
        _set_strides(f, c_name, t, pr.varlen_q)
    for c_name, t in (("k", k), ("v", v), ("dk", dk), ("dv", dv)):
        _set_strides(f, c_name, t, pr.varlen_k)
    return fill(_lib.new_params(_abi.BwdParams), f)
