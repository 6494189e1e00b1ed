"""PyTorch entry points: one torch.library custom op per C entry point, and the
FlashAttention-shaped Python functions over them.

  ptxfmha::fwd     -> ptxfmha_fwd     (prefill; attention(), flash_attn_func())
  ptxfmha::decode  -> ptxfmha_decode  (KV cache; attention_with_kvcache(),
                                       flash_attn_with_kvcache())

Each op has a fake (meta) implementation that runs the same shape checks (_checks.py) and
returns empty tensors of the output shapes, so torch.compile(fullgraph=True) traces through
it; the real implementation allocates its outputs (and the decode workspace) with PyTorch's
allocator and launches on the caller's current CUDA stream, which is what CUDA-graph capture
records. Autograd is registered: backward raises NotImplementedError naming the missing C
entry point (ptxfmha_bwd) until the library has one.

Adding an entry point: a params builder in _checks.py, a custom op here (impl + fake +
autograd), a public function, and a row in errors.C_TO_PYTHON_NAMES for its C names.
"""

import ctypes
from typing import Optional

import torch

from . import _checks, _lib
from ._cuda import device_context
from .errors import ArgumentError

__all__ = [
    "attention",
    "attention_with_kvcache",
    "flash_attn_func",
    "flash_attn_with_kvcache",
]


def _ordinal(device):
    return device.index if device.index is not None else torch.cuda.current_device()


def _stream(device):
    return torch.cuda.current_stream(device).cuda_stream


def _empty_outputs(q, batch, seqlen_q, heads_q, head_dim, return_lse):
    o_shape, lse_shape = _checks.out_shapes(batch, seqlen_q, heads_q, head_dim, return_lse)
    return q.new_empty(o_shape, dtype=q.dtype), q.new_empty(lse_shape, dtype=torch.float32)


# ---- ptxfmha::fwd -----------------------------------------------------------------------

@torch.library.custom_op("ptxfmha::fwd", mutates_args=())
def fwd(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    softmax_scale: float,
    return_lse: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ptxfmha_fwd: out [b, sq, hq, d] bf16 and lse [b, hq, sq] fp32 (empty unless return_lse)."""
    fn = "ptxfmha::fwd"
    b, sq, _, hq, _, d = _checks.fwd_problem(fn, q, k, v)
    out, lse = _empty_outputs(q, b, sq, hq, d, return_lse)
    with device_context(_ordinal(q.device)):
        params = _checks.fwd_params(q, k, v, out, lse if return_lse else None, causal, softmax_scale,
                                    _stream(q.device))
        _lib.call("ptxfmha_fwd", ctypes.byref(params))
    return out, lse


@fwd.register_fake
def _fwd_fake(q, k, v, causal, softmax_scale, return_lse):
    b, sq, _, hq, _, d = _checks.fwd_problem("ptxfmha::fwd", q, k, v)
    return _empty_outputs(q, b, sq, hq, d, return_lse)


# ---- ptxfmha::decode --------------------------------------------------------------------

@torch.library.custom_op("ptxfmha::decode", mutates_args=())
def decode(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    cache_seqlens: Optional[torch.Tensor],
    block_table: Optional[torch.Tensor],
    causal: bool,
    softmax_scale: float,
    num_splits: int,
    return_lse: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ptxfmha_decode: 1..8 query tokens per sequence against a contiguous or paged KV cache."""
    fn = "ptxfmha::decode"
    prob = _checks.decode_problem(fn, q, k_cache, v_cache, cache_seqlens, block_table)
    out, lse = _empty_outputs(q, prob.batch, prob.seqlen_q, prob.heads_q, prob.head_dim, return_lse)
    with device_context(_ordinal(q.device)):
        params = _checks.decode_params(prob, q, k_cache, v_cache, out, lse if return_lse else None,
                                       cache_seqlens, block_table, causal, softmax_scale, num_splits,
                                       0, 0, _stream(q.device))
        nbytes = ctypes.c_uint64(0)
        _lib.call("ptxfmha_decode_workspace_size", ctypes.byref(params), ctypes.byref(nbytes))
        workspace = None
        if nbytes.value:
            # Freed when this returns: the block is stream-ordered on the current stream, the
            # one the kernels run on, so PyTorch reuses it only for work queued after them.
            workspace = torch.empty(nbytes.value, dtype=torch.uint8, device=q.device)
            params.workspace = workspace.data_ptr()
            params.workspace_bytes = nbytes.value
        _lib.call("ptxfmha_decode", ctypes.byref(params))
    return out, lse


@decode.register_fake
def _decode_fake(q, k_cache, v_cache, cache_seqlens, block_table, causal, softmax_scale, num_splits,
                 return_lse):
    prob = _checks.decode_problem("ptxfmha::decode", q, k_cache, v_cache, cache_seqlens, block_table)
    return _empty_outputs(q, prob.batch, prob.seqlen_q, prob.heads_q, prob.head_dim, return_lse)


# ---- autograd -----------------------------------------------------------------------------

BACKWARD_ENTRY_POINT = "ptxfmha_bwd"


def _no_saved_state(ctx, inputs, output):
    pass


def _fwd_backward(ctx, grad_out, grad_lse):
    have = _lib.has_function(BACKWARD_ENTRY_POINT)
    raise NotImplementedError(
        "ptxfmha.attention: backward needs the C entry point "
        f"{BACKWARD_ENTRY_POINT}, which "
        + ("the Python package does not use yet" if have else f"{_lib.library_path()} does not export")
        + "; use torch.no_grad()/inference_mode() for inference, or another attention for training"
    )


def _decode_backward(ctx, grad_out, grad_lse):
    raise NotImplementedError(
        "ptxfmha.attention_with_kvcache (ptxfmha_decode) has no backward: the KV-cache path is for "
        "inference, as flash_attn_with_kvcache"
    )


fwd.register_autograd(_fwd_backward, setup_context=_no_saved_state)
decode.register_autograd(_decode_backward, setup_context=_no_saved_state)


# ---- public functions -------------------------------------------------------------------

def _check_q(fn, q):
    """q checked before its shape is used for defaults. Skipped while torch.compile traces
    (the op's fake implementation runs the full checks then, outside Dynamo's bytecode
    analysis)."""
    if not torch.compiler.is_compiling():
        _checks.check_tensor(fn, "q", q, 4)


def attention(q, k, v, causal=False, softmax_scale=None, return_lse=False, *, dropout_p=0.0,
              window_size=(-1, -1), softcap=0.0, alibi_slopes=None, deterministic=False):
    """Attention over [batch, seqlen, heads, head_dim] bf16 CUDA tensors (flash_attn_func's layout).

    q [b, sq, hq, d], k and v [b, sk, hkv, d] with hq % hkv == 0 (GQA/MQA); any strides whose
    batch/seq/head steps are multiples of 8 elements, head_dim contiguous. `causal` is bottom-right
    aligned: query i sees keys j <= i + sk - sq (a row that sees no key gets 0 and lse -inf).
    softmax_scale defaults to 1/sqrt(d). Returns out [b, sq, hq, d] bf16, and with
    return_lse=True also lse [b, hq, sq] fp32 (natural log). `deterministic` is accepted and
    ignored (the kernels are deterministic); dropout, windows, softcap and ALiBi are refused
    until the C library has them. Raises ArgumentError (ValueError) for bad arguments and
    DeviceError (RuntimeError) for driver/device/cubin problems.
    """
    fn = "ptxfmha.attention"
    _checks.check_flash_extras(fn, dropout_p, window_size, softcap, alibi_slopes)
    _check_q(fn, q)
    scale = _checks.resolve_scale(fn, softmax_scale, q.shape[-1])
    out, lse = torch.ops.ptxfmha.fwd(q, k, v, bool(causal), scale, bool(return_lse))
    return (out, lse) if return_lse else out


def attention_with_kvcache(q, k_cache, v_cache, cache_seqlens=None, block_table=None, causal=False,
                           softmax_scale=None, return_lse=False, num_splits=0, *, k=None, v=None,
                           rotary_cos=None, rotary_sin=None, cache_batch_idx=None, cache_leftpad=None,
                           window_size=(-1, -1), softcap=0.0, alibi_slopes=None):
    """Attention of new query tokens against a KV cache (flash_attn_with_kvcache's core).

    q [b, sq, hq, d]; the cache is either contiguous, k_cache/v_cache [b, seqlen_cache, hkv, d],
    or paged, [num_pages, page_size, hkv, d] with block_table int32 [b, max_blocks_per_seq]
    (page_size a power of two in 16..256); cache_seqlens int32 [b] (or an int) is the number of
    keys of each sequence (None: all of seqlen_cache, or max_blocks_per_seq * page_size).
    causal is bottom-right: new query i of sequence b sees keys j <= i + cache_seqlens[b] - sq.
    1..8 query tokens run ptxfmha_decode (split-KV); more tokens on a contiguous cache without
    cache_seqlens run ptxfmha_fwd, which has the same semantics. Appending k/v to the cache,
    rotary, cache_batch_idx, cache_leftpad, windows, softcap and ALiBi are refused (update the
    cache first, then call this). Returns out [b, sq, hq, d] (and lse [b, hq, sq] with
    return_lse=True).
    """
    fn = "ptxfmha.attention_with_kvcache"
    for name, value in (("k", k), ("v", v), ("rotary_cos", rotary_cos), ("rotary_sin", rotary_sin),
                        ("cache_batch_idx", cache_batch_idx), ("cache_leftpad", cache_leftpad)):
        if value is not None:
            _checks.refuse(fn, name, "<tensor>", "None (append new keys/values to the cache before the call)")
    _checks.check_flash_extras(fn, 0.0, window_size, softcap, alibi_slopes)
    _check_q(fn, q)
    if isinstance(cache_seqlens, int) and not isinstance(cache_seqlens, bool):
        cache_seqlens = torch.full((q.shape[0],), cache_seqlens, dtype=torch.int32, device=q.device)
    if isinstance(num_splits, bool) or not isinstance(num_splits, int):
        raise ArgumentError(f"{fn}: num_splits must be an int (0 = chosen by the library)",
                            function=fn, argument="num_splits")
    scale = _checks.resolve_scale(fn, softmax_scale, q.shape[-1])
    if q.shape[1] > _checks.DECODE_MAX_SEQLEN_Q:
        if block_table is not None or cache_seqlens is not None:
            raise ArgumentError(
                f"{fn}: q has {q.shape[1]} tokens per sequence; with cache_seqlens or block_table "
                f"the KV-cache kernel takes 1..{_checks.DECODE_MAX_SEQLEN_Q} (longer queries against "
                "a ragged or paged cache need the variable-length entry point, not in this build)",
                function=fn, argument="q")
        out, lse = torch.ops.ptxfmha.fwd(q, k_cache, v_cache, bool(causal), scale, bool(return_lse))
    else:
        out, lse = torch.ops.ptxfmha.decode(q, k_cache, v_cache, cache_seqlens, block_table, bool(causal),
                                            scale, num_splits, bool(return_lse))
    return (out, lse) if return_lse else out


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                    softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False):
    """flash_attn.flash_attn_func's signature over attention() (return_attn_probs refused)."""
    _checks.check_flash_extras("ptxfmha.flash_attn_func", return_attn_probs=return_attn_probs)
    return attention(q, k, v, causal=causal, softmax_scale=softmax_scale, dropout_p=dropout_p,
                     window_size=window_size, softcap=softcap, alibi_slopes=alibi_slopes,
                     deterministic=deterministic)


def flash_attn_with_kvcache(q, k_cache, v_cache, k=None, v=None, rotary_cos=None, rotary_sin=None,
                            cache_seqlens=None, cache_batch_idx=None, cache_leftpad=None, block_table=None,
                            softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0,
                            rotary_interleaved=True, alibi_slopes=None, num_splits=0,
                            return_softmax_lse=False):
    """flash_attn.flash_attn_with_kvcache's signature over attention_with_kvcache()."""
    return attention_with_kvcache(q, k_cache, v_cache, cache_seqlens=cache_seqlens, block_table=block_table,
                                  causal=causal, softmax_scale=softmax_scale, return_lse=return_softmax_lse,
                                  num_splits=num_splits, k=k, v=v, rotary_cos=rotary_cos,
                                  rotary_sin=rotary_sin, cache_batch_idx=cache_batch_idx,
                                  cache_leftpad=cache_leftpad, window_size=window_size, softcap=softcap,
                                  alibi_slopes=alibi_slopes)
